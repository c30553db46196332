/*
 * xdr.c - XDR (RFC 4506), the data representation of ONC RPC: one routine per type that
 * encodes, decodes (bounds-checked before any copy or allocation) or frees, as x->op says.
 */
#include "rpc_int.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(float) == 4, "XDR float is IEEE 754 single precision");
_Static_assert(sizeof(double) == 8, "XDR double is IEEE 754 double precision");

void
ipcx_xdr_init(ipcx_xdr *x, ipcx_xdr_op op, void *buf, size_t len)
{
	x->op = op;
	x->buf = buf;
	x->len = buf != NULL ? len : 0;
	x->pos = 0;
	x->max_len = 0;
	x->alloc = 0;
	x->err = 0;
	x->max_depth = 0;
	x->depth = 0;
}

/* ---- scalars ------------------------------------------------------------------------- */

int
ipcx_xdr_uint(ipcx_xdr *x, uint32_t *v)
{
	return ipcx__xdr_u32(x, v);
}

int
ipcx_xdr_int(ipcx_xdr *x, int32_t *v)
{
	uint32_t u = x->op == IPCX_XDR_ENCODE ? (uint32_t)*v : 0;
	int rv;

	/* two's complement both ways: the conversion back is implementation-defined in C11 but
	 * is the identity on every compiler ipcx builds with; memcpy keeps it well-defined */
	if ((rv = ipcx__xdr_u32(x, &u)) == 0 && x->op == IPCX_XDR_DECODE) {
		memcpy(v, &u, sizeof u);
	}
	return rv;
}

int
ipcx_xdr_enum(ipcx_xdr *x, int32_t *v)
{
	return ipcx_xdr_int(x, v);
}

int
ipcx_xdr_uhyper(ipcx_xdr *x, uint64_t *v)
{
	return ipcx__xdr_u64(x, v);
}

int
ipcx_xdr_hyper(ipcx_xdr *x, int64_t *v)
{
	uint64_t u = x->op == IPCX_XDR_ENCODE ? (uint64_t)*v : 0;
	int rv;

	if ((rv = ipcx__xdr_u64(x, &u)) == 0 && x->op == IPCX_XDR_DECODE) {
		memcpy(v, &u, sizeof u);
	}
	return rv;
}

int
ipcx_xdr_bool(ipcx_xdr *x, int *v)
{
	/* any true value goes out as 1, as with rpcgen's xdr_bool */
	uint32_t u = x->op == IPCX_XDR_ENCODE && *v != 0;
	int rv;

	if ((rv = ipcx__xdr_u32(x, &u)) != 0 || x->op != IPCX_XDR_DECODE) {
		return rv;
	}
	if (u > 1) {
		/* the position moved past the word: harmless, the error sticks */
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	*v = (int)u;
	return 0;
}

int
ipcx_xdr_float(ipcx_xdr *x, float *v)
{
	uint32_t u = 0;
	int rv;

	/* the IEEE bits travel as they are: NaN payloads and -0 survive a round trip */
	if (x->op == IPCX_XDR_ENCODE) {
		memcpy(&u, v, sizeof u);
	}
	if ((rv = ipcx__xdr_u32(x, &u)) == 0 && x->op == IPCX_XDR_DECODE) {
		memcpy(v, &u, sizeof u);
	}
	return rv;
}

int
ipcx_xdr_double(ipcx_xdr *x, double *v)
{
	uint64_t u = 0;
	int rv;

	if (x->op == IPCX_XDR_ENCODE) {
		memcpy(&u, v, sizeof u);
	}
	if ((rv = ipcx__xdr_u64(x, &u)) == 0 && x->op == IPCX_XDR_DECODE) {
		memcpy(v, &u, sizeof u);
	}
	return rv;
}

/* ---- opaque data and strings ----------------------------------------------------------- */

/* RFC 4506 says the residual bytes "are zero"; it does not say a decoder must check. We do:
 * an encoding then has exactly one form (a decode followed by an encode gives back the same
 * bytes), and nonzero padding is a sign of a broken or hostile peer worth refusing. */
static bool
xdr_pad_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != 0) {
			return false;
		}
	}
	return true;
}

/* Claim n bytes plus padding at the current position, for an encode or a decode: a pointer
 * to them, or NULL with the error set. A decode's padding must be zero; an encode's is
 * zeroed here, so the caller writes only the n bytes. */
static unsigned char *
xdr_claim(ipcx_xdr *x, uint64_t n)
{
	uint64_t tot = ipcx__xdr_rnd(n);
	unsigned char *p;

	if (tot > ipcx__xdr_room(x)) {
		ipcx__xdr_short(x);
		return NULL;
	}
	p = x->buf + x->pos;
	if (x->op == IPCX_XDR_ENCODE) {
		memset(p + n, 0, (size_t)(tot - n));
	} else if (!xdr_pad_zero(p + n, (size_t)(tot - n))) {
		ipcx__xdr_fail(x, IPCX_EBADMSG);
		return NULL;
	}
	x->pos += (size_t)tot;
	return p;
}

/* A decoded length or count against the call's bound and the stream's. */
static int
xdr_len_ok(const ipcx_xdr *x, uint32_t n, uint32_t max)
{
	return (max == 0 || n <= max) && (x->max_len == 0 || n <= x->max_len);
}

int
ipcx_xdr_opaque(ipcx_xdr *x, void *p, size_t n)
{
	unsigned char *w;

	if (x->err != 0 || x->op == IPCX_XDR_FREE) {
		return x->err;
	}
	if (n > 0 && p == NULL) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	if ((w = xdr_claim(x, n)) == NULL) {
		return x->err;
	}
	if (x->op == IPCX_XDR_ENCODE) {
		ipcx__copy(w, p, n);
	} else {
		ipcx__copy(p, w, n);
	}
	return 0;
}

int
ipcx__xdr_opaque_ref(ipcx_xdr *x, const unsigned char **p, uint32_t *n, uint32_t max)
{
	unsigned char *w;
	uint32_t len;

	if (x->err != 0 || x->op == IPCX_XDR_FREE) {
		return x->err;
	}
	if (x->op == IPCX_XDR_ENCODE) {
		len = *n;
		if (max != 0 && len > max) {
			return ipcx__xdr_fail(x, IPCX_EMSGSIZE);
		}
		if (len > 0 && *p == NULL) {
			return ipcx__xdr_fail(x, IPCX_EINVAL);
		}
		/* length and bytes are checked for room together: nothing half-written */
		if (4 + ipcx__xdr_rnd(len) > ipcx__xdr_room(x)) {
			return ipcx__xdr_fail(x, IPCX_EMSGSIZE);
		}
		ipcx__xdr_u32(x, &len);
		w = xdr_claim(x, len);
		ipcx__copy(w, *p, len);
		return 0;
	}
	if (ipcx__xdr_room(x) < 4) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	len = ipcx__be32_get(x->buf + x->pos);
	if (!xdr_len_ok(x, len, max) || 4 + ipcx__xdr_rnd(len) > ipcx__xdr_room(x)) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	x->pos += 4;
	if ((w = xdr_claim(x, len)) == NULL) {
		return x->err;
	}
	*p = w;
	*n = len;
	return 0;
}

int
ipcx_xdr_bytes(ipcx_xdr *x, void **p, uint32_t *n, uint32_t max)
{
	const unsigned char *src;
	uint32_t len = 0; /* set by opaque_ref; GCC -O3 cannot see it (Release -Werror) */
	void *dst;

	if (x->err != 0) {
		return x->err;
	}
	switch (x->op) {
	case IPCX_XDR_ENCODE:
		src = *p;
		return ipcx__xdr_opaque_ref(x, &src, n, max);
	case IPCX_XDR_FREE:
		free(*p);
		*p = NULL;
		*n = 0;
		return 0;
	case IPCX_XDR_DECODE:
		break;
	default:
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	if (*p != NULL && max == 0) {
		return ipcx__xdr_fail(x, IPCX_EINVAL); /* caller storage of unknown size */
	}
	/* length, bounds and padding are all checked before a byte is copied or allocated */
	if (ipcx__xdr_opaque_ref(x, &src, &len, max) != 0) {
		return x->err;
	}
	if (*p != NULL) {
		ipcx__copy(*p, src, len);
	} else if (x->alloc) {
		if ((dst = malloc(len > 0 ? len : 1)) == NULL) {
			return ipcx__xdr_fail(x, IPCX_ENOMEM);
		}
		ipcx__copy(dst, src, len);
		*p = dst;
	} else {
		*p = (void *)src; /* zero copy: valid as long as the input buffer is */
	}
	*n = len;
	return 0;
}

int
ipcx_xdr_string(ipcx_xdr *x, char **s, uint32_t max)
{
	const unsigned char *src;
	size_t slen;
	uint32_t len;
	char *dst;

	if (x->err != 0) {
		return x->err;
	}
	switch (x->op) {
	case IPCX_XDR_ENCODE:
		if (*s == NULL) {
			return ipcx__xdr_fail(x, IPCX_EINVAL);
		}
		slen = strlen(*s);
		if (slen > UINT32_MAX) {
			return ipcx__xdr_fail(x, IPCX_EMSGSIZE);
		}
		len = (uint32_t)slen;
		src = (const unsigned char *)*s;
		return ipcx__xdr_opaque_ref(x, &src, &len, max);
	case IPCX_XDR_FREE:
		free(*s);
		*s = NULL;
		return 0;
	case IPCX_XDR_DECODE:
		break;
	default:
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	/* a string needs room for its NUL, so it can never point into the input */
	if ((*s != NULL && max == 0) || (*s == NULL && !x->alloc)) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	if (ipcx__xdr_opaque_ref(x, &src, &len, max) != 0) {
		return x->err;
	}
	/* a NUL inside would make the C string shorter than what the peer sent: a name checked
	 * by the application would not be the name that was sent */
	if (len > 0 && memchr(src, 0, len) != NULL) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	if ((dst = *s) == NULL && (dst = malloc((size_t)len + 1)) == NULL) {
		return ipcx__xdr_fail(x, IPCX_ENOMEM);
	}
	ipcx__copy(dst, src, len);
	dst[len] = '\0';
	*s = dst;
	return 0;
}

/* ---- arrays and optional data -------------------------------------------------------- */

/* Arrays of the scalar routines are coded in one loop without calling fn per element. The
 * routines are recognised by address (a comparison of converted function pointers is
 * well-defined); none of them is ever called through the converted pointer. XK_NONE
 * means "call fn"; *bad is set for a scalar routine given with the wrong element size
 * (calling it would be wrong as well). */
enum xdr_kind { XK_NONE, XK_U32, XK_U64, XK_BOOL };

static enum xdr_kind
xdr_scalar_kind(ipcx_xdr_fn fn, size_t elsize, int *bad)
{
	enum xdr_kind k = XK_NONE;
	size_t want = 0;

	*bad = 0;
	if (fn == (ipcx_xdr_fn)ipcx_xdr_int || fn == (ipcx_xdr_fn)ipcx_xdr_uint ||
	    fn == (ipcx_xdr_fn)ipcx_xdr_enum || fn == (ipcx_xdr_fn)ipcx_xdr_float) {
		k = XK_U32;
		want = 4;
	} else if (fn == (ipcx_xdr_fn)ipcx_xdr_hyper || fn == (ipcx_xdr_fn)ipcx_xdr_uhyper ||
	           fn == (ipcx_xdr_fn)ipcx_xdr_double) {
		k = XK_U64;
		want = 8;
	} else if (fn == (ipcx_xdr_fn)ipcx_xdr_bool) {
		k = XK_BOOL;
		want = sizeof(int);
	}
	if (k != XK_NONE && elsize != want) {
		*bad = 1;
	}
	return k;
}

/* n elements of a scalar kind at arr, encode or decode, room checked once for all. */
static int
xdr_scalars(ipcx_xdr *x, unsigned char *arr, uint32_t n, enum xdr_kind k)
{
	size_t wsize = k == XK_U64 ? 8 : 4;
	bool enc = x->op == IPCX_XDR_ENCODE;
	unsigned char *w;

	if (x->op == IPCX_XDR_FREE) {
		return 0;
	}
	if ((uint64_t)n * wsize > ipcx__xdr_room(x)) {
		return ipcx__xdr_short(x);
	}
	w = x->buf + x->pos;
	/* one plain loop per kind and direction, so that the compiler can vectorise the byte
	 * swaps (a branch per element costs more than the swap itself) */
	switch (k) {
	case XK_U32:
		if (enc) {
			for (size_t i = 0; i < n; i++) {
				uint32_t v;

				memcpy(&v, arr + 4 * i, 4);
				ipcx__be32_put(w + 4 * i, v);
			}
		} else {
			for (size_t i = 0; i < n; i++) {
				uint32_t v = ipcx__be32_get(w + 4 * i);

				memcpy(arr + 4 * i, &v, 4);
			}
		}
		break;
	case XK_U64:
		if (enc) {
			for (size_t i = 0; i < n; i++) {
				uint64_t v;

				memcpy(&v, arr + 8 * i, 8);
				ipcx__be64_put(w + 8 * i, v);
			}
		} else {
			for (size_t i = 0; i < n; i++) {
				uint64_t v = ipcx__be64_get(w + 8 * i);

				memcpy(arr + 8 * i, &v, 8);
			}
		}
		break;
	case XK_BOOL:
		if (!enc) {
			/* validate first: a bad bool leaves the caller's array untouched */
			for (size_t i = 0; i < n; i++) {
				if (ipcx__be32_get(w + 4 * i) > 1) {
					return ipcx__xdr_fail(x, IPCX_EBADMSG);
				}
			}
		}
		for (size_t i = 0; i < n; i++) {
			int b;

			if (enc) {
				memcpy(&b, arr + sizeof b * i, sizeof b);
				ipcx__be32_put(w + 4 * i, b != 0);
			} else {
				b = (int)ipcx__be32_get(w + 4 * i);
				memcpy(arr + sizeof b * i, &b, sizeof b);
			}
		}
		break; /* bool arrays are rare: one loop for both ways */
	default:
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	x->pos += (size_t)n * wsize;
	return 0;
}

/* n elements through fn (or the scalar loop). A routine's own error is made sticky too, so a
 * caller-written fn that returns without setting x->err still stops the stream. */
static int
xdr_elements(ipcx_xdr *x, unsigned char *arr, uint32_t n, size_t elsize, ipcx_xdr_fn fn,
             enum xdr_kind k)
{
	int rv;

	if (k != XK_NONE) {
		return xdr_scalars(x, arr, n, k);
	}
	for (uint32_t i = 0; i < n; i++) {
		if ((rv = fn(x, arr + (size_t)i * elsize)) != 0) {
			return ipcx__xdr_fail(x, rv);
		}
		if (x->err != 0) {
			return x->err;
		}
	}
	return 0;
}

int
ipcx_xdr_vector(ipcx_xdr *x, void *arr, uint32_t n, size_t elsize, ipcx_xdr_fn fn)
{
	enum xdr_kind k;
	int bad;

	if (x->err != 0) {
		return x->err;
	}
	if (n == 0) {
		return 0;
	}
	if (arr == NULL || fn == NULL || elsize == 0) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	k = xdr_scalar_kind(fn, elsize, &bad);
	if (bad || (uint64_t)n * elsize > SIZE_MAX) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	return xdr_elements(x, arr, n, elsize, fn, k);
}

int
ipcx_xdr_array(ipcx_xdr *x, void **arr, uint32_t *n, uint32_t max, size_t elsize, ipcx_xdr_fn fn)
{
	enum xdr_kind k;
	uint32_t count;
	void *mem;
	int bad;

	if (x->err != 0) {
		return x->err;
	}
	if (fn == NULL || elsize == 0) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	k = xdr_scalar_kind(fn, elsize, &bad);
	if (bad) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	switch (x->op) {
	case IPCX_XDR_ENCODE:
		count = *n;
		if (max != 0 && count > max) {
			return ipcx__xdr_fail(x, IPCX_EMSGSIZE);
		}
		if (count > 0 && *arr == NULL) {
			return ipcx__xdr_fail(x, IPCX_EINVAL);
		}
		if (ipcx__xdr_u32(x, &count) != 0) {
			return x->err;
		}
		return xdr_elements(x, *arr, count, elsize, fn, k);
	case IPCX_XDR_FREE:
		if (*arr != NULL) {
			xdr_elements(x, *arr, *n, elsize, fn, k);
			free(*arr);
		}
		*arr = NULL;
		*n = 0;
		return x->err;
	case IPCX_XDR_DECODE:
		break;
	default:
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	if ((*arr != NULL && max == 0) || (*arr == NULL && !x->alloc)) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	if (ipcx__xdr_room(x) < 4) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	count = ipcx__be32_get(x->buf + x->pos);
	/* Every XDR item is at least 4 bytes, so a count above (bytes left) / 4 cannot be
	 * honest: refusing it here keeps a 12-byte message from making us calloc 2^32
	 * elements (the classic XDR array denial of service). */
	if (!xdr_len_ok(x, count, max) || count > (ipcx__xdr_room(x) - 4) / 4 ||
	    (uint64_t)count * elsize > SIZE_MAX) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	x->pos += 4;
	if (*arr == NULL) {
		/* zeroed: elements a failed decode never reached hold NULL pointers, so that
		 * IPCX_XDR_FREE of the whole object is still right */
		if ((mem = calloc(count > 0 ? count : 1, elsize)) == NULL) {
			return ipcx__xdr_fail(x, IPCX_ENOMEM);
		}
		*arr = mem;
	}
	*n = count; /* before the elements: a FREE after a failure walks all of them */
	return xdr_elements(x, *arr, count, elsize, fn, k);
}

/* One more level of optional data would nest deeper than x allows. */
static bool
xdr_too_deep(const ipcx_xdr *x)
{
	return x->depth >= (x->max_depth != 0 ? x->max_depth : IPCX_XDR_DEPTH_MAX);
}

int
ipcx_xdr_optional(ipcx_xdr *x, void **p, size_t size, ipcx_xdr_fn fn)
{
	uint32_t more;
	void *mem;
	int rv;

	if (x->err != 0) {
		return x->err;
	}
	if (fn == NULL) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	switch (x->op) {
	case IPCX_XDR_ENCODE:
		more = *p != NULL;
		if (ipcx__xdr_u32(x, &more) != 0 || !more) {
			return x->err;
		}
		if (xdr_too_deep(x)) {
			return ipcx__xdr_fail(x, IPCX_EMSGSIZE);
		}
		break;
	case IPCX_XDR_FREE:
		/* as deep as the decode that made it went (or the caller built): no bound here */
		if (*p != NULL) {
			fn(x, *p);
			free(*p);
			*p = NULL;
		}
		return x->err;
	case IPCX_XDR_DECODE:
		if (ipcx__xdr_u32(x, &more) != 0) {
			return x->err;
		}
		if (more > 1) {
			return ipcx__xdr_fail(x, IPCX_EBADMSG);
		}
		if (!more) {
			*p = NULL;
			return 0;
		}
		if (xdr_too_deep(x)) {
			return ipcx__xdr_fail(x, IPCX_EBADMSG);
		}
		if (*p == NULL) {
			if (!x->alloc) {
				return ipcx__xdr_fail(x, IPCX_EINVAL);
			}
			if ((mem = calloc(1, size > 0 ? size : 1)) == NULL) {
				return ipcx__xdr_fail(x, IPCX_ENOMEM);
			}
			*p = mem;
		}
		break;
	default:
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	x->depth++;
	rv = fn(x, *p);
	x->depth--;
	if (rv != 0) {
		return ipcx__xdr_fail(x, rv);
	}
	return x->err;
}

void *
ipcx_xdr_inline(ipcx_xdr *x, size_t n)
{
	if (x->err != 0) {
		return NULL;
	}
	if (x->op != IPCX_XDR_ENCODE && x->op != IPCX_XDR_DECODE) {
		ipcx__xdr_fail(x, IPCX_EINVAL);
		return NULL;
	}
	return xdr_claim(x, n);
}
