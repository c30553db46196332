/*
 * xdr.c - the XDR routines (RFC 4506): exact wire bytes (RFC and hand-computed vectors, and
 * libtirpc's own), round trips, bounds at max and max + 1, truncation at every byte,
 * padding, zero copy, caller storage, allocation and IPCX_XDR_FREE, sticky errors.
 */
#include "testutil.h"

#include "rpc/rpc_int.h"
#include "rpc_testvec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static unsigned char B[4096];

/* Build expected bytes by hand, independently of the code under test. */
typedef struct wire {
	unsigned char b[1024];
	size_t n;
} wire;

static void
w32(wire *w, uint32_t v)
{
	w->b[w->n++] = (unsigned char)(v >> 24);
	w->b[w->n++] = (unsigned char)(v >> 16);
	w->b[w->n++] = (unsigned char)(v >> 8);
	w->b[w->n++] = (unsigned char)v;
}

static void
wbytes(wire *w, const void *p, size_t n)
{
	memcpy(w->b + w->n, p, n);
	w->n += n;
	while (w->n % 4 != 0) {
		w->b[w->n++] = 0;
	}
}

static void
assert_wire(const void *got, size_t n, const wire *want)
{
	assert_int_equal(n, want->n);
	assert_memory_equal(got, want->b, n);
}

/* ---- scalars ------------------------------------------------------------------------- */

static void
test_scalars_encode_to_exact_bytes_and_round_trip(void **state)
{
	ipcx_xdr x;
	int32_t i = -1, i2 = INT32_MIN, i_out = 0, i2_out = 0;
	uint32_t u = 0x01020304u, u_out = 0;
	int64_t h = -2, h_out = 0;
	uint64_t uh = 0x0102030405060708ull, uh_out = 0;
	int t = 1, f0 = 0, t_out = 5, f_out = 5, seven = 7;
	int32_t e = 7, e_out = 0;
	float fl = 1.5f, fl_out = 0;
	double d = -2.25, d_out = 0;
	static const unsigned char want[] = {
	        0xff, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0xff, 0xff,
	        0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	        0x00, 0x07, 0x3f, 0xc0, 0x00, 0x00, 0xc0, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	(void)state;

	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, sizeof B);
	assert_rv(ipcx_xdr_int(&x, &i), 0);
	assert_rv(ipcx_xdr_int(&x, &i2), 0);
	assert_rv(ipcx_xdr_uint(&x, &u), 0);
	assert_rv(ipcx_xdr_hyper(&x, &h), 0);
	assert_rv(ipcx_xdr_uhyper(&x, &uh), 0);
	assert_rv(ipcx_xdr_bool(&x, &t), 0);
	assert_rv(ipcx_xdr_bool(&x, &f0), 0);
	assert_rv(ipcx_xdr_bool(&x, &seven), 0); /* any true value is 1 on the wire */
	assert_rv(ipcx_xdr_enum(&x, &e), 0);
	assert_rv(ipcx_xdr_float(&x, &fl), 0);
	assert_rv(ipcx_xdr_double(&x, &d), 0);
	assert_int_equal(x.pos, sizeof want);
	assert_memory_equal(B, want, sizeof want);

	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, x.pos);
	assert_rv(ipcx_xdr_int(&x, &i_out), 0);
	assert_rv(ipcx_xdr_int(&x, &i2_out), 0);
	assert_rv(ipcx_xdr_uint(&x, &u_out), 0);
	assert_rv(ipcx_xdr_hyper(&x, &h_out), 0);
	assert_rv(ipcx_xdr_uhyper(&x, &uh_out), 0);
	assert_rv(ipcx_xdr_bool(&x, &t_out), 0);
	assert_rv(ipcx_xdr_bool(&x, &f_out), 0);
	assert_rv(ipcx_xdr_bool(&x, &seven), 0);
	assert_rv(ipcx_xdr_enum(&x, &e_out), 0);
	assert_rv(ipcx_xdr_float(&x, &fl_out), 0);
	assert_rv(ipcx_xdr_double(&x, &d_out), 0);
	assert_int_equal(x.pos, x.len);
	assert_int_equal(i_out, -1);
	assert_int_equal(i2_out, INT32_MIN);
	assert_int_equal(u_out, u);
	assert_true(h_out == -2);
	assert_true(uh_out == uh);
	assert_int_equal(t_out, 1);
	assert_int_equal(f_out, 0);
	assert_int_equal(seven, 1);
	assert_int_equal(e_out, 7);
	assert_true(fl_out == 1.5f);
	assert_true(d_out == -2.25);
}

/* The IEEE bits travel unchanged: -0, infinities and NaN payloads survive. */
static void
test_float_and_double_keep_their_ieee_bits(void **state)
{
	static const uint32_t fbits[] = {0x80000000u, 0x7f800000u, 0xff800000u,
	                                 0x7fc00001u, 0x00000001u, 0x3f800000u};
	static const uint64_t dbits[] = {0x8000000000000000ull, 0x7ff0000000000000ull,
	                                 0x7ff8000000000123ull, 0x0000000000000001ull,
	                                 0x3ff0000000000000ull};
	ipcx_xdr x;
	(void)state;

	for (size_t k = 0; k < sizeof fbits / sizeof fbits[0]; k++) {
		float f, g;
		uint32_t gb;

		memcpy(&f, &fbits[k], 4);
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, 4);
		assert_rv(ipcx_xdr_float(&x, &f), 0);
		assert_int_equal(ipcx__be32_get(B), fbits[k]);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 4);
		assert_rv(ipcx_xdr_float(&x, &g), 0);
		memcpy(&gb, &g, 4);
		assert_int_equal(gb, fbits[k]);
	}
	for (size_t k = 0; k < sizeof dbits / sizeof dbits[0]; k++) {
		double d, g;
		uint64_t gb;

		memcpy(&d, &dbits[k], 8);
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, 8);
		assert_rv(ipcx_xdr_double(&x, &d), 0);
		assert_true(ipcx__be64_get(B) == dbits[k]);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 8);
		assert_rv(ipcx_xdr_double(&x, &g), 0);
		memcpy(&gb, &g, 8);
		assert_true(gb == dbits[k]);
	}
	{
		double one = 1.0;

		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, 8);
		assert_rv(ipcx_xdr_double(&x, &one), 0);
		assert_true(ipcx__be64_get(B) == 0x3ff0000000000000ull);
		assert_true(isfinite(one));
	}
}

/* A scalar with fewer bytes left than it needs: EMSGSIZE encoding, EBADMSG decoding, at
 * every short length, and the value is not written. */
static void
test_scalars_short_buffer_fail_without_writing(void **state)
{
	ipcx_xdr x;
	(void)state;

	memset(B, 0x11, 8);
	for (size_t room = 0; room < 8; room++) {
		int64_t h = 77;
		uint64_t uh = 77;
		double d = 77;
		int32_t i = 77;
		float f = 77;
		int b = 77;

		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, room);
		assert_rv(ipcx_xdr_hyper(&x, &h), IPCX_EBADMSG);
		assert_true(h == 77);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, room);
		assert_rv(ipcx_xdr_uhyper(&x, &uh), IPCX_EBADMSG);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, room);
		assert_rv(ipcx_xdr_double(&x, &d), IPCX_EBADMSG);
		assert_true(d == 77);
		assert_int_equal(x.pos, 0);
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, room);
		assert_rv(ipcx_xdr_hyper(&x, &h), IPCX_EMSGSIZE);
		assert_int_equal(x.pos, 0);
		if (room < 4) {
			ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, room);
			assert_rv(ipcx_xdr_int(&x, &i), IPCX_EBADMSG);
			assert_int_equal(i, 77);
			ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, room);
			assert_rv(ipcx_xdr_float(&x, &f), IPCX_EBADMSG);
			ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, room);
			assert_rv(ipcx_xdr_bool(&x, &b), IPCX_EBADMSG);
			ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, room);
			assert_rv(ipcx_xdr_int(&x, &i), IPCX_EMSGSIZE);
			assert_int_equal(x.pos, 0);
		}
	}
	/* a NULL buffer is a stream with no room */
	{
		int32_t i = 1;

		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, NULL, 100);
		assert_int_equal(x.len, 0);
		assert_rv(ipcx_xdr_int(&x, &i), IPCX_EMSGSIZE);
	}
}

static void
test_bool_other_than_0_or_1_is_ebadmsg(void **state)
{
	static const uint32_t bad[] = {2, 0x80000000u, 0xffffffffu, 0x100};
	ipcx_xdr x;
	(void)state;

	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		int b = 9;

		ipcx__be32_put(B, bad[k]);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 4);
		assert_rv(ipcx_xdr_bool(&x, &b), IPCX_EBADMSG);
		assert_int_equal(b, 9);
		assert_int_equal(x.err, IPCX_EBADMSG);
	}
}

/* ---- opaque and strings -------------------------------------------------------------- */

/* opaque[n] for n = 0 .. 9: n bytes, then zeros to a multiple of 4. */
static void
test_fixed_opaque_is_padded_with_zeros(void **state)
{
	unsigned char in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, out[9];
	ipcx_xdr x;
	(void)state;

	for (size_t n = 0; n <= 9; n++) {
		wire w = {.n = 0};

		wbytes(&w, in, n);
		memset(B, 0xee, 16);
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, sizeof B);
		assert_rv(ipcx_xdr_opaque(&x, in, n), 0);
		assert_wire(B, x.pos, &w);

		memset(out, 0, sizeof out);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, w.n);
		assert_rv(ipcx_xdr_opaque(&x, out, n), 0);
		assert_int_equal(x.pos, w.n);
		assert_memory_equal(out, in, n);

		/* room for the bytes but not for their padding */
		if (n % 4 != 0) {
			ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, w.n - 1);
			assert_rv(ipcx_xdr_opaque(&x, in, n), IPCX_EMSGSIZE);
			ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, w.n - 1);
			assert_rv(ipcx_xdr_opaque(&x, out, n), IPCX_EBADMSG);
		}
	}
}

/* RFC 4506 section 4.11's string "sillyprog" and hand-computed neighbours. */
static void
test_string_sillyprog_exact_bytes(void **state)
{
	static const unsigned char want[] = {0x00, 0x00, 0x00, 0x09, 0x73, 0x69, 0x6c, 0x6c,
	                                     0x79, 0x70, 0x72, 0x6f, 0x67, 0x00, 0x00, 0x00};
	char *s = "sillyprog", *got = NULL, store[10];
	ipcx_xdr x;
	(void)state;

	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, sizeof B);
	assert_rv(ipcx_xdr_string(&x, &s, 9), 0);
	assert_int_equal(x.pos, 16);
	assert_memory_equal(B, want, 16);

	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 16);
	x.alloc = 1;
	assert_rv(ipcx_xdr_string(&x, &got, 9), 0);
	assert_string_equal(got, "sillyprog");
	ipcx_xdr_init(&x, IPCX_XDR_FREE, NULL, 0);
	assert_rv(ipcx_xdr_string(&x, &got, 9), 0);
	assert_null(got);

	/* caller storage of max + 1 bytes */
	got = store;
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 16);
	assert_rv(ipcx_xdr_string(&x, &got, 9), 0);
	assert_ptr_equal(got, store);
	assert_string_equal(store, "sillyprog");

	/* one over the maximum, both ways */
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, sizeof B);
	assert_rv(ipcx_xdr_string(&x, &s, 8), IPCX_EMSGSIZE);
	assert_int_equal(x.pos, 0);
	got = store;
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 16);
	assert_rv(ipcx_xdr_string(&x, &got, 8), IPCX_EBADMSG);

	/* the empty string is a zero length and nothing else */
	s = "";
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, sizeof B);
	assert_rv(ipcx_xdr_string(&x, &s, 0), 0);
	assert_int_equal(x.pos, 4);
	assert_int_equal(ipcx__be32_get(B), 0);
	got = NULL;
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 4);
	x.alloc = 1;
	assert_rv(ipcx_xdr_string(&x, &got, 0), 0);
	assert_string_equal(got, "");
	free(got);
}

static void
test_bytes_zero_copy_points_into_the_input(void **state)
{
	wire w = {.n = 0};
	void *p = NULL;
	uint32_t n = 99;
	ipcx_xdr x;
	(void)state;

	w32(&w, 5);
	wbytes(&w, "hello", 5);
	w32(&w, 0);
	tv_alloc_reset();
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, w.b, w.n);
	assert_rv(ipcx_xdr_bytes(&x, &p, &n, 5), 0);
	assert_ptr_equal(p, w.b + 4);
	assert_int_equal(n, 5);
	assert_int_equal(x.pos, 12);
	p = NULL;
	assert_rv(ipcx_xdr_bytes(&x, &p, &n, 0), 0); /* an empty one points into it too */
	assert_int_equal(n, 0);
	assert_ptr_equal(p, w.b + 16);
	assert_int_equal(tv_allocs, 0);
}

/* Lengths exactly at the maximum pass; one more fails, encoding and decoding, for the
 * call's max and for x->max_len. */
static void
test_bytes_max_exactly_and_max_plus_one(void **state)
{
	unsigned char data[64], store[64];
	void *p;
	uint32_t n;
	ipcx_xdr x;
	size_t wl;
	(void)state;

	tu_fill(data, sizeof data, 3);
	for (uint32_t max = 1; max <= 9; max++) {
		/* encode max bytes: fine; max + 1: EMSGSIZE and nothing written */
		p = data;
		n = max;
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, sizeof B);
		assert_rv(ipcx_xdr_bytes(&x, &p, &n, max), 0);
		wl = x.pos;
		assert_int_equal(wl, 4 + ipcx__xdr_rnd(max));
		n = max + 1;
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B + 100, sizeof B - 100);
		assert_rv(ipcx_xdr_bytes(&x, &p, &n, max), IPCX_EMSGSIZE);
		assert_int_equal(x.pos, 0);

		/* decode the max-byte item with max, and with max - 1 */
		p = store;
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, wl);
		assert_rv(ipcx_xdr_bytes(&x, &p, &n, max), 0);
		assert_int_equal(n, max);
		assert_memory_equal(store, data, max);
		if (max > 1) {
			p = store;
			ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, wl);
			assert_rv(ipcx_xdr_bytes(&x, &p, &n, max - 1), IPCX_EBADMSG);
			assert_int_equal(x.pos, 0);
			/* the stream's bound acts the same way */
			p = NULL;
			ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, wl);
			x.max_len = max - 1;
			assert_rv(ipcx_xdr_bytes(&x, &p, &n, 0), IPCX_EBADMSG);
		}
		p = NULL;
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, wl);
		x.max_len = max;
		assert_rv(ipcx_xdr_bytes(&x, &p, &n, 0), 0);
		assert_int_equal(n, max);

		/* the item cut anywhere is EBADMSG */
		for (size_t cut = 0; cut < wl; cut++) {
			p = NULL;
			ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, cut);
			assert_rv(ipcx_xdr_bytes(&x, &p, &n, 0), IPCX_EBADMSG);
			assert_null(p);
		}
		/* and an encode into any shorter buffer is EMSGSIZE */
		for (size_t cut = 0; cut < wl; cut++) {
			p = data;
			n = max;
			ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B + 200, cut);
			assert_rv(ipcx_xdr_bytes(&x, &p, &n, 0), IPCX_EMSGSIZE);
			assert_int_equal(x.pos, 0);
		}
	}
}

/* Lengths and counts near 2^32 with a tiny input: refused before anything is allocated
 * (a 32-bit length + padding would wrap to a small number). */
static void
test_huge_lengths_are_refused_before_allocating(void **state)
{
	static const uint32_t lens[] = {0xffffffffu, 0xfffffffdu, 0xfffffffcu,
	                                0x80000000u, 0x40000000u, 13};
	ipcx_xdr x;
	(void)state;

	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		void *p = NULL, *arr = NULL;
		char *s = NULL;
		uint32_t n = 0;

		memset(B, 0, 16);
		ipcx__be32_put(B, lens[k]);
		tv_alloc_reset();
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 16);
		x.alloc = 1;
		assert_rv(ipcx_xdr_bytes(&x, &p, &n, 0), IPCX_EBADMSG);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 16);
		x.alloc = 1;
		assert_rv(ipcx_xdr_string(&x, &s, 0), IPCX_EBADMSG);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 16);
		x.alloc = 1;
		assert_rv(ipcx_xdr_array(&x, &arr, &n, 0, 8, (ipcx_xdr_fn)ipcx_xdr_hyper),
		          IPCX_EBADMSG);
		assert_int_equal(tv_allocs, 0);
		assert_null(p);
		assert_null(s);
		assert_null(arr);
	}
	/* a count that fits the bytes left / 4 but not the element's wire size: allocated
	 * (bounded by the input), then refused, and FREE releases it */
	{
		void *arr = NULL;
		uint32_t n = 0;

		memset(B, 0, 16);
		ipcx__be32_put(B, 3); /* 3 hypers need 24 bytes; 12 are there */
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 16);
		x.alloc = 1;
		assert_rv(ipcx_xdr_array(&x, &arr, &n, 0, 8, (ipcx_xdr_fn)ipcx_xdr_hyper),
		          IPCX_EBADMSG);
		ipcx_xdr_init(&x, IPCX_XDR_FREE, NULL, 0);
		assert_rv(ipcx_xdr_array(&x, &arr, &n, 0, 8, (ipcx_xdr_fn)ipcx_xdr_hyper), 0);
		assert_null(arr);
	}
}

/* RFC 4506 says padding bytes are zero; ipcx refuses anything else (one encoding per
 * value), for opaque, bytes, strings and inline. */
static void
test_nonzero_padding_is_ebadmsg(void **state)
{
	unsigned char out[8];
	char sbuf[8], *s;
	void *p;
	uint32_t n;
	ipcx_xdr x;
	(void)state;

	for (int at = 1; at <= 3; at++) {
		wire w = {.n = 0};

		w32(&w, 1);
		wbytes(&w, "A", 1);
		w.b[4 + at] = 0x01;
		p = NULL;
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, w.b, w.n);
		assert_rv(ipcx_xdr_bytes(&x, &p, &n, 0), IPCX_EBADMSG);
		assert_null(p);
		s = sbuf;
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, w.b, w.n);
		assert_rv(ipcx_xdr_string(&x, &s, 7), IPCX_EBADMSG);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, w.b + 4, 4);
		assert_rv(ipcx_xdr_opaque(&x, out, 1), IPCX_EBADMSG);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, w.b + 4, 4);
		assert_null(ipcx_xdr_inline(&x, 1));
		assert_int_equal(x.err, IPCX_EBADMSG);
	}
}

/* A NUL inside a string would make the C string differ from what the peer sent. */
static void
test_string_with_embedded_nul_is_ebadmsg(void **state)
{
	wire w = {.n = 0};
	char *s = NULL;
	ipcx_xdr x;
	(void)state;

	w32(&w, 5);
	wbytes(&w, "ab\0cd", 5);
	tv_alloc_reset();
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, w.b, w.n);
	x.alloc = 1;
	assert_rv(ipcx_xdr_string(&x, &s, 0), IPCX_EBADMSG);
	assert_null(s);
	assert_int_equal(tv_allocs, 0);
}

/* Strings, arrays and optional data need storage or alloc; storage needs a max. */
static void
test_decode_without_storage_or_alloc_is_einval(void **state)
{
	char *s = NULL, sbuf[8];
	void *arr = NULL, *opt = NULL, *p;
	uint32_t n;
	ipcx_xdr x;
	(void)state;

	memset(B, 0, 16);
	ipcx__be32_put(B, 1);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 16);
	assert_rv(ipcx_xdr_string(&x, &s, 5), IPCX_EINVAL);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 16);
	assert_rv(ipcx_xdr_array(&x, &arr, &n, 5, 4, (ipcx_xdr_fn)ipcx_xdr_int), IPCX_EINVAL);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 16);
	assert_rv(ipcx_xdr_optional(&x, &opt, 4, (ipcx_xdr_fn)ipcx_xdr_int), IPCX_EINVAL);
	/* storage of unknown size */
	s = sbuf;
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 16);
	assert_rv(ipcx_xdr_string(&x, &s, 0), IPCX_EINVAL);
	p = sbuf;
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 16);
	assert_rv(ipcx_xdr_bytes(&x, &p, &n, 0), IPCX_EINVAL);
	/* encoding nothing from nowhere */
	s = NULL;
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, 16);
	assert_rv(ipcx_xdr_string(&x, &s, 0), IPCX_EINVAL);
	p = NULL;
	n = 3;
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, 16);
	assert_rv(ipcx_xdr_bytes(&x, &p, &n, 0), IPCX_EINVAL);
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, 16);
	assert_rv(ipcx_xdr_opaque(&x, NULL, 3), IPCX_EINVAL);
	/* a scalar routine with the wrong element size would be called with the wrong type */
	{
		int32_t v[2] = {1, 2};

		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, 16);
		assert_rv(ipcx_xdr_vector(&x, v, 2, 8, (ipcx_xdr_fn)ipcx_xdr_int), IPCX_EINVAL);
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, 16);
		assert_rv(ipcx_xdr_vector(&x, v, 1, 4, (ipcx_xdr_fn)ipcx_xdr_double), IPCX_EINVAL);
	}
}

/* The first error sticks: later calls return it and move nothing. */
static void
test_first_error_sticks(void **state)
{
	int32_t i = 1;
	uint64_t h = 2;
	char *s = "x";
	ipcx_xdr x;
	(void)state;

	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, 6);
	assert_rv(ipcx_xdr_int(&x, &i), 0);
	assert_rv(ipcx_xdr_uhyper(&x, &h), IPCX_EMSGSIZE);
	assert_int_equal(x.pos, 4);
	/* this one would fit, but the stream is already broken */
	assert_rv(ipcx_xdr_opaque(&x, "ab", 0), IPCX_EMSGSIZE);
	assert_rv(ipcx_xdr_int(&x, &i), IPCX_EMSGSIZE);
	assert_rv(ipcx_xdr_string(&x, &s, 0), IPCX_EMSGSIZE);
	assert_null(ipcx_xdr_inline(&x, 0));
	assert_int_equal(x.pos, 4);
	assert_int_equal(x.err, IPCX_EMSGSIZE);

	/* decode: a bad bool stops a routine that checks only at the end */
	ipcx__be32_put(B, 2);
	ipcx__be32_put(B + 4, 7);
	{
		int b = 0;
		int32_t after = 0;

		ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 8);
		ipcx_xdr_bool(&x, &b);
		ipcx_xdr_int(&x, &after);
		assert_int_equal(x.err, IPCX_EBADMSG);
		assert_int_equal(after, 0);
	}
}

static void
test_inline_gives_the_bytes_in_place(void **state)
{
	unsigned char *p;
	ipcx_xdr x;
	(void)state;

	memset(B, 0xaa, 16);
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, 16);
	p = ipcx_xdr_inline(&x, 5);
	assert_ptr_equal(p, B);
	memcpy(p, "abcde", 5);
	assert_int_equal(x.pos, 8);
	assert_memory_equal(B, "abcde\0\0\0", 8); /* padding zeroed for the caller */
	assert_null(ipcx_xdr_inline(&x, 9));
	assert_int_equal(x.err, IPCX_EMSGSIZE);

	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 8);
	assert_ptr_equal(ipcx_xdr_inline(&x, 5), B);
	assert_null(ipcx_xdr_inline(&x, 1));
	assert_int_equal(x.err, IPCX_EBADMSG);

	ipcx_xdr_init(&x, IPCX_XDR_FREE, NULL, 0);
	assert_null(ipcx_xdr_inline(&x, 4));
	assert_int_equal(x.err, IPCX_EINVAL);
}

/* ---- arrays, the scalar fast path, optional data ------------------------------------- */

static int
int_by_hand(ipcx_xdr *x, void *p)
{
	return ipcx_xdr_int(x, p);
}

static int
hyper_by_hand(ipcx_xdr *x, void *p)
{
	return ipcx_xdr_hyper(x, p);
}

static int
bool_by_hand(ipcx_xdr *x, void *p)
{
	return ipcx_xdr_bool(x, p);
}

/* Arrays coded through the scalar routines' one loop give the same bytes as a routine
 * called per element, and decode the same. */
static void
test_scalar_arrays_fast_path_equals_per_element(void **state)
{
	int32_t iv[5] = {1, -2, 3, INT32_MAX, INT32_MIN}, iout[5];
	int64_t hv[3] = {1, -1, INT64_MAX}, hout[3];
	int bv[4] = {0, 1, 5, 0}, bout[4];
	unsigned char fast[256], slow[256];
	void *arr;
	uint32_t n;
	ipcx_xdr x, y;
	(void)state;

	arr = iv;
	n = 5;
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, fast, sizeof fast);
	ipcx_xdr_init(&y, IPCX_XDR_ENCODE, slow, sizeof slow);
	assert_rv(ipcx_xdr_array(&x, &arr, &n, 5, 4, (ipcx_xdr_fn)ipcx_xdr_int), 0);
	assert_rv(ipcx_xdr_array(&y, &arr, &n, 5, 4, int_by_hand), 0);
	assert_rv(ipcx_xdr_vector(&x, hv, 3, 8, (ipcx_xdr_fn)ipcx_xdr_hyper), 0);
	assert_rv(ipcx_xdr_vector(&y, hv, 3, 8, hyper_by_hand), 0);
	assert_rv(ipcx_xdr_vector(&x, bv, 4, sizeof(int), (ipcx_xdr_fn)ipcx_xdr_bool), 0);
	assert_rv(ipcx_xdr_vector(&y, bv, 4, sizeof(int), bool_by_hand), 0);
	assert_int_equal(x.pos, y.pos);
	assert_int_equal(x.pos, 4 + 20 + 24 + 16);
	assert_memory_equal(fast, slow, x.pos);
	assert_int_equal(ipcx__be32_get(fast + 4 + 20 + 24 + 8), 1); /* 5 went out as 1 */

	arr = iout;
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, fast, y.pos);
	assert_rv(ipcx_xdr_array(&x, &arr, &n, 5, 4, (ipcx_xdr_fn)ipcx_xdr_int), 0);
	assert_rv(ipcx_xdr_vector(&x, hout, 3, 8, (ipcx_xdr_fn)ipcx_xdr_hyper), 0);
	assert_rv(ipcx_xdr_vector(&x, bout, 4, sizeof(int), (ipcx_xdr_fn)ipcx_xdr_bool), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(iout, iv, sizeof iv);
	assert_memory_equal(hout, hv, sizeof hv);
	assert_int_equal(bout[2], 1);

	/* a bad bool anywhere in a bool array: EBADMSG and the array untouched */
	ipcx__be32_put(fast + 4 + 20 + 24 + 12, 2);
	memset(bout, 0x5a, sizeof bout);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, fast + 4 + 20 + 24, 16);
	assert_rv(ipcx_xdr_vector(&x, bout, 4, sizeof(int), (ipcx_xdr_fn)ipcx_xdr_bool),
	          IPCX_EBADMSG);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(bout[i], 0x5a5a5a5a);
	}

	/* caller storage for a variable array: max items, count over max refused */
	arr = iout;
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, fast, y.pos);
	assert_rv(ipcx_xdr_array(&x, &arr, &n, 4, 4, (ipcx_xdr_fn)ipcx_xdr_int), IPCX_EBADMSG);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, fast, y.pos);
	x.max_len = 4;
	assert_rv(ipcx_xdr_array(&x, &arr, &n, 5, 4, (ipcx_xdr_fn)ipcx_xdr_int), IPCX_EBADMSG);
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, fast, sizeof fast);
	arr = iv;
	n = 5;
	assert_rv(ipcx_xdr_array(&x, &arr, &n, 4, 4, (ipcx_xdr_fn)ipcx_xdr_int), IPCX_EMSGSIZE);
	assert_int_equal(x.pos, 0);
}

/* xdr_pointer-style optional data: absent is a FALSE, present a TRUE and the object. */
static void
test_optional_absent_and_present(void **state)
{
	int32_t v = 42, *p = &v, store = 0, *q;
	ipcx_xdr x;
	(void)state;

	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, sizeof B);
	assert_rv(ipcx_xdr_optional(&x, (void **)&p, sizeof v, int_by_hand), 0);
	p = NULL;
	assert_rv(ipcx_xdr_optional(&x, (void **)&p, sizeof v, int_by_hand), 0);
	assert_int_equal(x.pos, 12);
	assert_int_equal(ipcx__be32_get(B), 1);
	assert_int_equal(ipcx__be32_get(B + 4), 42);
	assert_int_equal(ipcx__be32_get(B + 8), 0);

	q = &store; /* caller storage */
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 12);
	assert_rv(ipcx_xdr_optional(&x, (void **)&q, sizeof v, int_by_hand), 0);
	assert_ptr_equal(q, &store);
	assert_int_equal(store, 42);
	assert_rv(ipcx_xdr_optional(&x, (void **)&q, sizeof v, int_by_hand), 0);
	assert_null(q); /* absent */

	q = NULL; /* allocated */
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 12);
	x.alloc = 1;
	assert_rv(ipcx_xdr_optional(&x, (void **)&q, sizeof v, int_by_hand), 0);
	assert_non_null(q);
	assert_int_equal(*q, 42);
	ipcx_xdr_init(&x, IPCX_XDR_FREE, NULL, 0);
	assert_rv(ipcx_xdr_optional(&x, (void **)&q, sizeof v, int_by_hand), 0);
	assert_null(q);

	/* a presence flag of 2 */
	ipcx__be32_put(B, 2);
	q = &store;
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, B, 12);
	assert_rv(ipcx_xdr_optional(&x, (void **)&q, sizeof v, int_by_hand), IPCX_EBADMSG);
}

/* A linked list, as rpcgen writes one: an element's routine codes the next as optional. */
typedef struct node {
	int32_t v;
	struct node *next;
} node;

static int
xdr_node(ipcx_xdr *x, void *obj)
{
	node *n = obj;

	ipcx_xdr_int(x, &n->v);
	return ipcx_xdr_optional(x, (void **)&n->next, sizeof *n, xdr_node);
}

/* Decode a list of n elements from its wire form (present flags and values) with alloc;
 * free what was made, and return the decode's result. */
static int
decode_list(uint32_t n, uint32_t max_depth)
{
	size_t len = (size_t)n * 8 + 8;
	unsigned char *buf = tu_xmalloc(len);
	node head = {0, NULL};
	ipcx_xdr x;
	int rv;

	for (uint32_t i = 0; i <= n; i++) {
		ipcx__be32_put(buf + 8 * (size_t)i, i);                 /* the value */
		ipcx__be32_put(buf + 8 * (size_t)i + 4, i < n ? 1 : 0); /* another follows? */
	}
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, len);
	x.alloc = 1;
	x.max_depth = max_depth;
	rv = xdr_node(&x, &head);
	if (rv == 0) {
		uint32_t i = 0;
		for (node *e = &head; e != NULL; e = e->next, i++) {
			assert_int_equal(e->v, i);
		}
		assert_int_equal(i, n + 1);
		assert_int_equal(x.pos, len);
	}
	assert_int_equal(x.depth, 0);
	ipcx_xdr_init(&x, IPCX_XDR_FREE, NULL, 0);
	assert_rv(xdr_node(&x, &head), 0);
	assert_null(head.next);
	free(buf);
	return rv;
}

/* A peer's list must not exhaust the decoder's stack: nesting is bounded (one level an
 * element), by IPCX_XDR_DEPTH_MAX or x->max_depth; what a failed decode made is freed. */
static void
test_optional_nesting_is_bounded(void **state)
{
	node *nodes = tu_xmalloc(sizeof *nodes * (IPCX_XDR_DEPTH_MAX + 2));
	size_t cap = 8 * (size_t)(IPCX_XDR_DEPTH_MAX + 2);
	unsigned char *buf = tu_xmalloc(cap);
	ipcx_xdr x;
	(void)state;

	assert_rv(decode_list(IPCX_XDR_DEPTH_MAX, 0), 0);
	assert_rv(decode_list(IPCX_XDR_DEPTH_MAX + 1, 0), IPCX_EBADMSG);
	assert_rv(decode_list(3, 3), 0);
	assert_rv(decode_list(4, 3), IPCX_EBADMSG);
	assert_rv(decode_list(1000000, 0), IPCX_EBADMSG); /* deep enough to crash unbounded */

	/* encode: the same bound, so that nothing is sent that an ipcx peer refuses */
	for (uint32_t i = 0; i <= IPCX_XDR_DEPTH_MAX + 1; i++) {
		nodes[i] = (node){(int32_t)i, i <= IPCX_XDR_DEPTH_MAX ? &nodes[i + 1] : NULL};
	}
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, cap);
	assert_rv(xdr_node(&x, &nodes[0]), IPCX_EMSGSIZE);
	nodes[IPCX_XDR_DEPTH_MAX].next = NULL;
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, cap);
	assert_rv(xdr_node(&x, &nodes[0]), 0);
	assert_int_equal(x.pos, 8 * (size_t)(IPCX_XDR_DEPTH_MAX + 1));
	free(buf);
	free(nodes);
}

/* ---- a composite type: every kind of item, nested and recursive ---------------------- */

typedef struct item {
	int32_t id;
	char *name; /* string<16> */
	void *blob; /* opaque<32> */
	uint32_t blob_len;
} item;

typedef struct rec {
	uint32_t flags;
	char *title; /* string<64> */
	item *items; /* item<8> */
	uint32_t nitems;
	int64_t big;
	double ratio;
	int32_t fixed[3];
	int ok;
	unsigned char tag[3]; /* opaque[3] */
	struct rec *next;     /* rec * */
} rec;

static int
xdr_item(ipcx_xdr *x, void *obj)
{
	item *it = obj;

	ipcx_xdr_int(x, &it->id);
	ipcx_xdr_string(x, &it->name, 16);
	ipcx_xdr_bytes(x, &it->blob, &it->blob_len, 32);
	return x->err;
}

static int
xdr_rec(ipcx_xdr *x, void *obj)
{
	rec *r = obj;

	ipcx_xdr_uint(x, &r->flags);
	ipcx_xdr_string(x, &r->title, 64);
	ipcx_xdr_array(x, (void **)&r->items, &r->nitems, 8, sizeof(item), xdr_item);
	ipcx_xdr_hyper(x, &r->big);
	ipcx_xdr_double(x, &r->ratio);
	ipcx_xdr_vector(x, r->fixed, 3, sizeof(int32_t), (ipcx_xdr_fn)ipcx_xdr_int);
	ipcx_xdr_bool(x, &r->ok);
	ipcx_xdr_opaque(x, r->tag, 3);
	ipcx_xdr_optional(x, (void **)&r->next, sizeof(rec), xdr_rec);
	return x->err;
}

static item sample_items[2] = {
        {7, "seven", "\x01\x02\x03", 3},
        {-1, "", NULL, 0},
};
static rec sample_tail = {
        .flags = 2, .title = "tail", .big = 1, .ratio = 0.5, .fixed = {4, 5, 6}, .tag = "xyz"};
static rec sample = {.flags = 0xdeadbeef,
                     .title = "head",
                     .items = sample_items,
                     .nitems = 2,
                     .big = -5,
                     .ratio = 1.0,
                     .fixed = {1, 2, 3},
                     .ok = 1,
                     .tag = {9, 8, 7},
                     .next = &sample_tail};

/* The same object written out field by field. */
static void
sample_wire(wire *w)
{
	w->n = 0;
	w32(w, 0xdeadbeef);
	w32(w, 4);
	wbytes(w, "head", 4);
	w32(w, 2); /* items */
	w32(w, 7);
	w32(w, 5);
	wbytes(w, "seven", 5);
	w32(w, 3);
	wbytes(w, "\x01\x02\x03", 3);
	w32(w, 0xffffffff);
	w32(w, 0);          /* "" */
	w32(w, 0);          /* no blob */
	w32(w, 0xffffffff); /* big = -5 */
	w32(w, 0xfffffffb);
	w32(w, 0x3ff00000); /* 1.0 */
	w32(w, 0);
	w32(w, 1);
	w32(w, 2);
	w32(w, 3);
	w32(w, 1); /* ok */
	wbytes(w, "\x09\x08\x07", 3);
	w32(w, 1); /* next present */
	w32(w, 2);
	w32(w, 4);
	wbytes(w, "tail", 4);
	w32(w, 0); /* no items */
	w32(w, 0);
	w32(w, 1);
	w32(w, 0x3fe00000); /* 0.5 */
	w32(w, 0);
	w32(w, 4);
	w32(w, 5);
	w32(w, 6);
	w32(w, 0);
	wbytes(w, "xyz", 3);
	w32(w, 0); /* end of list */
}

static void
assert_sample(const rec *r)
{
	assert_int_equal(r->flags, 0xdeadbeef);
	assert_string_equal(r->title, "head");
	assert_int_equal(r->nitems, 2);
	assert_int_equal(r->items[0].id, 7);
	assert_string_equal(r->items[0].name, "seven");
	assert_int_equal(r->items[0].blob_len, 3);
	assert_memory_equal(r->items[0].blob, "\x01\x02\x03", 3);
	assert_int_equal(r->items[1].id, -1);
	assert_string_equal(r->items[1].name, "");
	assert_int_equal(r->items[1].blob_len, 0);
	assert_true(r->big == -5);
	assert_true(r->ratio == 1.0);
	assert_int_equal(r->fixed[2], 3);
	assert_int_equal(r->ok, 1);
	assert_memory_equal(r->tag, "\x09\x08\x07", 3);
	assert_non_null(r->next);
	assert_string_equal(r->next->title, "tail");
	assert_int_equal(r->next->nitems, 0);
	assert_int_equal(r->next->fixed[1], 5);
	assert_memory_equal(r->next->tag, "xyz", 3);
	assert_null(r->next->next);
}

static void
test_composite_exact_bytes_round_trip_and_free(void **state)
{
	wire w;
	rec out;
	ipcx_xdr x;
	(void)state;

	sample_wire(&w);
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, sizeof B);
	assert_rv(xdr_rec(&x, &sample), 0);
	assert_wire(B, x.pos, &w);

	/* every shorter buffer: EMSGSIZE */
	for (size_t cut = 0; cut < w.n; cut++) {
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B + 2048, cut);
		assert_rv(xdr_rec(&x, &sample), IPCX_EMSGSIZE);
	}

	memset(&out, 0, sizeof out);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, w.b, w.n);
	x.alloc = 1;
	assert_rv(xdr_rec(&x, &out), 0);
	assert_int_equal(x.pos, w.n);
	assert_sample(&out);
	/* FREE releases every allocation (ASan's leak check fails the test otherwise) and
	 * leaves NULL pointers behind */
	ipcx_xdr_init(&x, IPCX_XDR_FREE, NULL, 0);
	assert_rv(xdr_rec(&x, &out), 0);
	assert_null(out.title);
	assert_null(out.items);
	assert_null(out.next);
	assert_int_equal(out.nitems, 0);
	/* FREE of an already freed object is a no-op */
	assert_rv(xdr_rec(&x, &out), 0);
}

/* The composite cut at every byte: always EBADMSG, and FREE afterwards releases whatever
 * the failed decode allocated. */
static void
test_composite_truncated_at_every_byte(void **state)
{
	wire w;
	ipcx_xdr x;
	(void)state;

	sample_wire(&w);
	for (size_t cut = 0; cut < w.n; cut++) {
		rec out;

		memset(&out, 0, sizeof out);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, w.b, cut);
		x.alloc = 1;
		if (xdr_rec(&x, &out) != IPCX_EBADMSG) {
			fail_msg("cut at %zu: %s", cut, ipcx_err_name(x.err));
		}
		ipcx_xdr_init(&x, IPCX_XDR_FREE, NULL, 0);
		assert_rv(xdr_rec(&x, &out), 0);
	}
}

/* Decoding into caller storage and zero-copy pointers allocates nothing. */
static void
test_caller_storage_and_zero_copy_allocate_nothing(void **state)
{
	char title[65], name0[17], name1[17];
	item items[8];
	rec out, tail;
	wire w;
	ipcx_xdr x;
	(void)state;

	sample_wire(&w);
	memset(&out, 0, sizeof out);
	memset(&tail, 0, sizeof tail);
	memset(items, 0, sizeof items);
	out.title = title;
	out.items = items;
	items[0].name = name0;
	items[1].name = name1;
	tail.title = title; /* overwritten by the tail's title: fine for this test */
	tail.items = items + 4;
	out.next = &tail;
	tv_alloc_reset();
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, w.b, w.n);
	assert_rv(xdr_rec(&x, &out), 0);
	assert_int_equal(tv_allocs, 0);
	assert_ptr_equal(out.items, items);
	assert_ptr_equal(out.next, &tail);
	assert_string_equal(name0, "seven");
	/* the blob was decoded zero-copy: it points into the wire bytes */
	assert_true((unsigned char *)items[0].blob > w.b &&
	            (unsigned char *)items[0].blob < w.b + w.n);
	assert_memory_equal(items[0].blob, "\x01\x02\x03", 3);
	assert_string_equal(title, "tail");
}

/* ---- libtirpc ------------------------------------------------------------------------ */

static int
str100(ipcx_xdr *x, void *p)
{
	return ipcx_xdr_string(x, p, 100);
}

/* ipcx encodes every type byte for byte as libtirpc does, and decodes libtirpc's bytes. */
static void
test_encodings_match_libtirpc(void **state)
{
	int32_t i = -1, e = 7, arr[3] = {1, 2, 3}, v42 = 42, *p42 = &v42, *pnull = NULL;
	uint32_t u = 0x01020304u, n3 = 3, nb = 6;
	int64_t h = -2, h3[3] = {1, -1, INT64_MAX};
	uint64_t uh = 0x0102030405060708ull;
	int t = 1;
	float f = 1.5f;
	double d = -2.25;
	unsigned char op5[5] = {1, 2, 3, 4, 5};
	char *s = "sillyprog", *empty = "";
	void *bytes = "abcdef", *ap = arr;
	ipcx_xdr x;
	(void)state;

#define ENC(name, call)                                          \
	do {                                                     \
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, B, sizeof B); \
		assert_rv(call, 0);                              \
		tv_assert_bytes(name, B, x.pos);                 \
	} while (0)
	ENC("xdr.int", ipcx_xdr_int(&x, &i));
	ENC("xdr.uint", ipcx_xdr_uint(&x, &u));
	ENC("xdr.hyper", ipcx_xdr_hyper(&x, &h));
	ENC("xdr.uhyper", ipcx_xdr_uhyper(&x, &uh));
	ENC("xdr.bool", ipcx_xdr_bool(&x, &t));
	ENC("xdr.enum", ipcx_xdr_enum(&x, &e));
	ENC("xdr.float", ipcx_xdr_float(&x, &f));
	ENC("xdr.double", ipcx_xdr_double(&x, &d));
	ENC("xdr.opaque5", ipcx_xdr_opaque(&x, op5, 5));
	ENC("xdr.bytes", ipcx_xdr_bytes(&x, &bytes, &nb, 100));
	ENC("xdr.string", str100(&x, &s));
	ENC("xdr.string_empty", str100(&x, &empty));
	ENC("xdr.array", ipcx_xdr_array(&x, &ap, &n3, 100, 4, (ipcx_xdr_fn)ipcx_xdr_int));
	ENC("xdr.vector", ipcx_xdr_vector(&x, h3, 3, 8, (ipcx_xdr_fn)ipcx_xdr_hyper));
	ENC("xdr.pointer", ipcx_xdr_optional(&x, (void **)&p42, 4, int_by_hand));
	ENC("xdr.pointer_null", ipcx_xdr_optional(&x, (void **)&pnull, 4, int_by_hand));
#undef ENC

	/* and libtirpc's bytes decode to the values */
	{
		const tv_vec *v = tv_get("xdr.vector");
		int64_t got[3];

		ipcx_xdr_init(&x, IPCX_XDR_DECODE, v->bytes, v->len);
		assert_rv(ipcx_xdr_vector(&x, got, 3, 8, (ipcx_xdr_fn)ipcx_xdr_hyper), 0);
		assert_memory_equal(got, h3, sizeof got);
		v = tv_get("xdr.string");
		s = NULL;
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, v->bytes, v->len);
		x.alloc = 1;
		assert_rv(ipcx_xdr_string(&x, &s, 100), 0);
		assert_string_equal(s, "sillyprog");
		free(s);
		v = tv_get("xdr.double");
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, v->bytes, v->len);
		assert_rv(ipcx_xdr_double(&x, &d), 0);
		assert_true(d == -2.25);
	}
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_scalars_encode_to_exact_bytes_and_round_trip),
	        cmocka_unit_test(test_float_and_double_keep_their_ieee_bits),
	        cmocka_unit_test(test_scalars_short_buffer_fail_without_writing),
	        cmocka_unit_test(test_bool_other_than_0_or_1_is_ebadmsg),
	        cmocka_unit_test(test_fixed_opaque_is_padded_with_zeros),
	        cmocka_unit_test(test_string_sillyprog_exact_bytes),
	        cmocka_unit_test(test_bytes_zero_copy_points_into_the_input),
	        cmocka_unit_test(test_bytes_max_exactly_and_max_plus_one),
	        cmocka_unit_test(test_huge_lengths_are_refused_before_allocating),
	        cmocka_unit_test(test_nonzero_padding_is_ebadmsg),
	        cmocka_unit_test(test_string_with_embedded_nul_is_ebadmsg),
	        cmocka_unit_test(test_decode_without_storage_or_alloc_is_einval),
	        cmocka_unit_test(test_first_error_sticks),
	        cmocka_unit_test(test_inline_gives_the_bytes_in_place),
	        cmocka_unit_test(test_scalar_arrays_fast_path_equals_per_element),
	        cmocka_unit_test(test_optional_absent_and_present),
	        cmocka_unit_test(test_optional_nesting_is_bounded),
	        cmocka_unit_test(test_composite_exact_bytes_round_trip_and_free),
	        cmocka_unit_test(test_composite_truncated_at_every_byte),
	        cmocka_unit_test(test_caller_storage_and_zero_copy_allocate_nothing),
	        cmocka_unit_test(test_encodings_match_libtirpc),
	};

	return tu_run("xdr", tests, sizeof tests / sizeof tests[0], getenv("XDR_TEST"));
}
