/*
 * rpc_int.h - what the ONC RPC code shares inside the library: XDR fast paths, RFC 5531
 * record marking (encoder, in-message unwrap, incremental stream decoder) and the codec of
 * the RPC call and reply headers (RFC 5531 sections 9, 10 and 14).
 */
#ifndef IPCX_RPC_INT_H
#define IPCX_RPC_INT_H

#include "../core/ipcx_int.h"

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

/* ---- XDR fast paths ------------------------------------------------------------------
 * The public ipcx_xdr_* calls are built on these; the RPC header codec uses them directly so
 * that a header costs a few inlined loads and byte swaps, not a call per field. */

#define IPCX__XDR_UNIT 4

/* n rounded up to the XDR unit, in 64 bits so that a 32-bit length near 2^32 cannot wrap. */
static inline uint64_t
ipcx__xdr_rnd(uint64_t n)
{
	return (n + 3) & ~(uint64_t)3;
}

/* Unaligned big-endian loads and stores: buf + pos has no alignment guarantee, and memcpy of
 * a fixed 4 or 8 bytes compiles to one move (plus bswap) on every target we care about. */
static inline uint32_t
ipcx__be32_get(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return be32toh(v);
}

static inline void
ipcx__be32_put(unsigned char *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof v);
}

static inline uint64_t
ipcx__be64_get(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return be64toh(v);
}

static inline void
ipcx__be64_put(unsigned char *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof v);
}

/* Record the stream's first error (later ones are consequences) and return it. */
static inline int
ipcx__xdr_fail(ipcx_xdr *x, int err)
{
	if (x->err == 0) {
		x->err = err;
	}
	return x->err;
}

/* Bytes left in the stream; 0 if a caller moved pos beyond len. */
static inline size_t
ipcx__xdr_room(const ipcx_xdr *x)
{
	return x->pos <= x->len ? x->len - x->pos : 0;
}

/* The error for "not enough bytes": the caller's buffer is too small when encoding, the peer's
 * input is truncated when decoding. */
static inline int
ipcx__xdr_short(ipcx_xdr *x)
{
	return ipcx__xdr_fail(x, x->op == IPCX_XDR_ENCODE ? IPCX_EMSGSIZE : IPCX_EBADMSG);
}

static inline int
ipcx__xdr_u32(ipcx_xdr *x, uint32_t *v)
{
	if (x->err != 0) {
		return x->err;
	}
	if (x->op == IPCX_XDR_FREE) {
		return 0;
	}
	if (ipcx__xdr_room(x) < 4) {
		return ipcx__xdr_short(x);
	}
	if (x->op == IPCX_XDR_ENCODE) {
		ipcx__be32_put(x->buf + x->pos, *v);
	} else {
		*v = ipcx__be32_get(x->buf + x->pos);
	}
	x->pos += 4;
	return 0;
}

static inline int
ipcx__xdr_u64(ipcx_xdr *x, uint64_t *v)
{
	if (x->err != 0) {
		return x->err;
	}
	if (x->op == IPCX_XDR_FREE) {
		return 0;
	}
	if (ipcx__xdr_room(x) < 8) {
		return ipcx__xdr_short(x);
	}
	if (x->op == IPCX_XDR_ENCODE) {
		ipcx__be64_put(x->buf + x->pos, *v);
	} else {
		*v = ipcx__be64_get(x->buf + x->pos);
	}
	x->pos += 8;
	return 0;
}

/* Variable-length opaque<max> that never copies and never allocates, whatever x->alloc says:
 * a decode points *p into the input (valid while it is); an encode reads *p. For the RPC
 * header's credentials and for callers that hand record bytes on without owning them. */
int ipcx__xdr_opaque_ref(ipcx_xdr *x, const unsigned char **p, uint32_t *n, uint32_t max);

/* ---- Record marking (RFC 5531 section 11) ---------------------------------------------
 * On a byte stream an RPC message is a record: one or more fragments, each a 4-byte
 * big-endian header (bit 31: last fragment of the record; bits 0-30: the fragment's length)
 * and that many bytes. ipcx message channels carry one record per message with its marks
 * kept, so that tcp:// looks like the standard wire to a libtirpc peer; raw byte streams go
 * through the incremental decoder below. */

#define IPCX__RM_HDR      4
#define IPCX__RM_LAST     0x80000000u
#define IPCX__RM_FRAG_MAX 0x7fffffffu /* largest length a fragment header can carry */
/* Defaults for a limit of 0: records as large as a channel message, and enough fragments for
 * a maximal record cut into the 4 KiB fragments of the smallest real senders; the bound
 * exists so that a peer cannot keep a record open forever with empty fragments. */
#define IPCX__RM_MAX_RECORD_DEFAULT ((uint32_t)IPCX_DEFAULT_MAX_MSG)
#define IPCX__RM_MAX_FRAGS_DEFAULT  8192u
/* A decoder frees a gathering buffer larger than this once its record is consumed, so that
 * one large call does not pin megabytes on an idle connection. */
#define IPCX__RM_KEEP_BUF (256u * 1024)

/* Write one fragment header: len (<= IPCX__RM_FRAG_MAX) and the last-fragment bit. The hot
 * path: encode a record at buf + IPCX__RM_HDR, then mark buf with its length. */
static inline void
ipcx__rm_mark(unsigned char *hdr, uint32_t len, bool last)
{
	ipcx__be32_put(hdr, (len & IPCX__RM_FRAG_MAX) | (last ? IPCX__RM_LAST : 0));
}

/* How many fragments a record of len bytes needs when cut at frag_max bytes (0 or above
 * IPCX__RM_FRAG_MAX: IPCX__RM_FRAG_MAX). An empty record is one empty fragment. */
size_t ipcx__rm_nfrags(size_t len, uint32_t frag_max);

/* Bytes on the wire for a record of len bytes cut at frag_max: len + 4 per fragment. */
size_t ipcx__rm_wire_size(size_t len, uint32_t frag_max);

/* Describe a record as fragments for writev: for each fragment one iovec over its header
 * (4 bytes in hdrs, which holds 4 * ipcx__rm_nfrags() bytes and must live until the write)
 * and one over its bytes inside rec (omitted for an empty record). iov holds iovcap entries;
 * *iovcnt is set to the number used. IPCX_EMSGSIZE if iovcap is too small (2 per fragment, 1
 * for an empty record). rec stays the caller's; nothing is copied. */
int ipcx__rm_encode_iov(struct iovec *iov, size_t iovcap, size_t *iovcnt, unsigned char *hdrs,
                        const void *rec, size_t len, uint32_t frag_max);

/* The same record copied into dst (cap bytes) with its fragment headers: *wire is the total.
 * IPCX_EMSGSIZE if it does not fit (dst untouched). dst and rec must not overlap. */
int ipcx__rm_encode_buf(void *dst, size_t cap, size_t *wire, const void *rec, size_t len,
                        uint32_t frag_max);

/* One whole record in one message (ipcx-to-ipcx RPC over a message channel): check that
 * msg[0, len) is exactly one record (every fragment complete, the last one marked, nothing
 * after it) within max_record bytes (0: default) and max_frags fragments (0: default), and
 * return its bytes in *rec, *rec_len. A one-fragment record is returned in place (msg + 4,
 * no copy); the fragments of a longer one are moved together in place, so msg is modified.
 * IPCX_EMSGSIZE over max_record; IPCX_EBADMSG for anything else malformed. */
int ipcx__rm_unwrap(unsigned char *msg, size_t len, uint32_t max_record, uint32_t max_frags,
                    unsigned char **rec, size_t *rec_len);

/* The incremental decoder, for byte streams read in chunks of any size (a plain TCP socket
 * with a libtirpc peer, unix://?raw=1, a pipe). Feed it whatever read() returned; it yields
 * whole records. Limits are checked on every fragment header, before anything is allocated,
 * and the gathering buffer grows only as bytes arrive (to at most twice what was received,
 * or 4 KiB), so a header that announces 16 MiB costs nothing until the bytes come. Not
 * thread-safe: one decoder per connection, used by one thread at a time. */
typedef struct ipcx__rm_dec {
	uint32_t max_record; /* largest record accepted (sum of its fragments) */
	uint32_t max_frags;  /* most fragments in one record */
	/* where the decoder stands */
	unsigned char hdr[IPCX__RM_HDR]; /* a fragment header gathered across feeds */
	unsigned hdr_have;               /* its bytes so far (0-3) */
	bool in_frag;                    /* inside a fragment's bytes */
	bool last;                       /* the current fragment ends the record */
	uint32_t frag_left;              /* bytes still to come in the current fragment */
	uint32_t nfrags;                 /* fragments of the current record so far */
	/* the record being gathered (when it cannot be handed out in place) */
	unsigned char *buf;
	size_t cap;
	size_t have;
	/* the record ready for the caller: in buf, or in place inside the last fed chunk */
	bool ready;
	const unsigned char *rec;
	size_t rec_len;
	int err; /* sticky: a stream that broke its framing cannot be resynchronised */
} ipcx__rm_dec;

/* Set up a decoder (no allocation). max_record and max_frags: 0 for the defaults. */
void ipcx__rm_dec_init(ipcx__rm_dec *d, uint32_t max_record, uint32_t max_frags);
/* Free the gathering buffer; the decoder may be initialised again. */
void ipcx__rm_dec_fini(ipcx__rm_dec *d);

/* Consume bytes from data[0, len) (owned by the caller) until a record is complete or the
 * bytes run out; *used is how many were consumed. Returns:
 *   1  a record is ready: d->rec, d->rec_len, valid until the next feed, take or fini. It
 *      may point into data itself (a whole one-fragment record inside one chunk is never
 *      copied), so the caller keeps data unchanged while it uses the record. Feed the rest,
 *      data + *used, next.
 *   0  all len bytes consumed, no record yet.
 *   IPCX_EMSGSIZE  a record over max_record was announced (before any of it was stored);
 *   IPCX_EBADMSG   more than max_frags fragments in one record.
 * Errors are sticky: every later feed returns them, and the connection should be closed.
 * Feeding releases a record returned by the previous call. */
int ipcx__rm_dec_feed(ipcx__rm_dec *d, const void *data, size_t len, size_t *used);

/* Take the ready record as a malloc'd buffer the caller frees (*buf non-NULL even for an
 * empty record): a record gathered in the decoder's buffer is handed over without a copy,
 * one in place in the caller's chunk is copied. IPCX_EINVAL if no record is ready,
 * IPCX_ENOMEM. The record is no longer ready afterwards. */
int ipcx__rm_dec_take(ipcx__rm_dec *d, unsigned char **buf, size_t *len);

/* At end of stream: 0 if the decoder stands between records, IPCX_EBADMSG if a record was
 * cut short (the peer closed mid-record), or the sticky error. */
int ipcx__rm_dec_eof(const ipcx__rm_dec *d);

/* ---- The RPC message header (RFC 5531 sections 9, 10 and 14) --------------------------
 * Encoders and decoders run on an ipcx_xdr stream, so a call's arguments or a reply's
 * results follow in the same buffer: encode the header, then the body; decode the header,
 * then hand the stream (positioned at the body) to the procedure's routine. Decoders never
 * copy or allocate: credentials and verifiers point into the input. */

#define IPCX__RPC_VERS 2u

enum {
	IPCX__RPC_CALL = 0,
	IPCX__RPC_REPLY = 1,
};

/* reply_stat */
enum {
	IPCX__RPC_MSG_ACCEPTED = 0,
	IPCX__RPC_MSG_DENIED = 1,
};

/* accept_stat */
enum {
	IPCX__RPC_SUCCESS = 0,
	IPCX__RPC_PROG_UNAVAIL = 1,
	IPCX__RPC_PROG_MISMATCH = 2,
	IPCX__RPC_PROC_UNAVAIL = 3,
	IPCX__RPC_GARBAGE_ARGS = 4,
	IPCX__RPC_SYSTEM_ERR = 5,
};

/* reject_stat */
enum {
	IPCX__RPC_RPC_MISMATCH = 0,
	IPCX__RPC_AUTH_ERROR = 1,
};

/* auth_stat (the RPCSEC_GSS values 13 and 14 pass through as numbers) */
enum {
	IPCX__RPC_AUTH_OK = 0,
	IPCX__RPC_AUTH_BADCRED = 1,
	IPCX__RPC_AUTH_REJECTEDCRED = 2,
	IPCX__RPC_AUTH_BADVERF = 3,
	IPCX__RPC_AUTH_REJECTEDVERF = 4,
	IPCX__RPC_AUTH_TOOWEAK = 5,
	IPCX__RPC_AUTH_INVALIDRESP = 6,
	IPCX__RPC_AUTH_FAILED = 7,
};

/* auth_flavor */
enum {
	IPCX__RPC_AUTH_NONE = 0,
	IPCX__RPC_AUTH_SYS = 1,
	IPCX__RPC_AUTH_SHORT = 2,
	IPCX__RPC_AUTH_DH = 3,
	IPCX__RPC_RPCSEC_GSS = 6,
};

#define IPCX__RPC_AUTH_MAX    400 /* opaque_auth body<400> */
#define IPCX__RPC_MACHINE_MAX 255 /* authsys_parms machinename<255> */
#define IPCX__RPC_AUTH_GIDS   16  /* authsys_parms gids<16> */
/* The largest call header: xid, type, rpcvers, prog, vers, proc and two full opaque_auths. */
#define IPCX__RPC_CALL_HDR_MAX (6 * 4 + 2 * (8 + IPCX__RPC_AUTH_MAX))

/* opaque_auth: a flavor and up to 400 bytes. body is never owned: an encode reads len bytes
 * from it, a decode points it into the input. */
typedef struct ipcx__rpc_auth {
	uint32_t flavor;
	uint32_t len;
	const unsigned char *body;
} ipcx__rpc_auth;

/* The call header, up to and including the verifier. */
typedef struct ipcx__rpc_call {
	uint32_t xid;
	uint32_t rpcvers; /* IPCX__RPC_VERS; encoded as given, so a test can send another */
	uint32_t prog;
	uint32_t vers;
	uint32_t proc;
	ipcx__rpc_auth cred;
	ipcx__rpc_auth verf;
} ipcx__rpc_call;

/* The reply header. stat selects the arm: MSG_ACCEPTED uses verf and accept (and low/high
 * for PROG_MISMATCH; for SUCCESS the results follow in the stream); MSG_DENIED uses reject
 * (and low/high for RPC_MISMATCH, auth for AUTH_ERROR). Other fields are ignored when
 * encoding and left as they were when decoding. */
typedef struct ipcx__rpc_reply {
	uint32_t xid;
	uint32_t stat;
	ipcx__rpc_auth verf;
	uint32_t accept;
	uint32_t reject;
	uint32_t low;
	uint32_t high;
	uint32_t auth;
} ipcx__rpc_reply;

/* authsys_parms, the body of an AUTH_SYS credential: the public struct itself, so that a
 * server decodes a credential straight into what its handler sees. */
typedef ipcx_rpc_authsys ipcx__rpc_authsys;
_Static_assert(sizeof(((ipcx__rpc_authsys *)0)->machine) == IPCX__RPC_MACHINE_MAX + 1,
               "machinename<255> and its NUL");
_Static_assert(sizeof(((ipcx__rpc_authsys *)0)->gids) == IPCX__RPC_AUTH_GIDS * sizeof(uint32_t),
               "gids<16>");

/* The xid and msg_type of a message without decoding it (a client matching replies, a
 * server telling calls from strays). IPCX_EBADMSG if len < 8. */
int ipcx__rpc_peek(const void *msg, size_t len, uint32_t *xid, uint32_t *type);

/* Encode a call header into x (IPCX_XDR_ENCODE). IPCX_EMSGSIZE if x has no room or an auth
 * body is over 400 bytes; IPCX_EINVAL for a NULL body with a nonzero length. */
int ipcx__rpc_call_encode(ipcx_xdr *x, const ipcx__rpc_call *c);

/* Decode a call header from x (IPCX_XDR_DECODE); x is left at the arguments.
 *   IPCX_EPROTONOSUPPORT  rpcvers is not 2: c->xid and c->rpcvers are set (enough for the
 *                         RPC_MISMATCH reply RFC 5531 asks for), nothing after them is read;
 *   IPCX_EBADMSG          truncated, not a CALL, or an auth body over 400 bytes (c->xid
 *                         is set if at least 4 bytes were there).
 * The padding of auth bodies is not checked (libtirpc leaves garbage there; see msg.c).
 * Errors stick in x->err, as for every XDR call. */
int ipcx__rpc_call_decode(ipcx_xdr *x, ipcx__rpc_call *c);

/* Encode a reply header (for SUCCESS the results follow). IPCX_EINVAL for an unknown stat or
 * reject value; IPCX_EMSGSIZE as for calls. accept and auth are encoded as given. */
int ipcx__rpc_reply_encode(ipcx_xdr *x, const ipcx__rpc_reply *r);

/* Decode a reply header; for SUCCESS x is left at the results. IPCX_EBADMSG if truncated, not
 * a REPLY, or stat or reject is not one of RFC 5531's values. Any accept_stat and auth_stat
 * number is accepted (accepted_reply's union has a default arm; the caller decides what an
 * unknown status means). The verifier's padding is not checked, as for calls. */
int ipcx__rpc_reply_decode(ipcx_xdr *x, ipcx__rpc_reply *r);

/* authsys_parms on a stream, both directions (x->op). A decode fills a's own storage and never
 * allocates; machinename over 255 bytes or with a NUL, or more than 16 gids, is IPCX_EBADMSG
 * (IPCX_EMSGSIZE when encoding). */
int ipcx__rpc_authsys_xdr(ipcx_xdr *x, ipcx__rpc_authsys *a);

/* Build an AUTH_SYS credential: a encoded into buf (IPCX__RPC_AUTH_MAX bytes, which must live
 * as long as cred is used) and cred pointed at it. */
int ipcx__rpc_authsys_cred(ipcx__rpc_auth *cred, unsigned char *buf, const ipcx__rpc_authsys *a);

/* Parse an AUTH_SYS credential. IPCX_EINVAL if its flavor is not AUTH_SYS; IPCX_EBADMSG if the
 * body is malformed or does not end exactly where the authsys_parms do (a server answers
 * AUTH_ERROR / AUTH_BADCRED). */
int ipcx__rpc_authsys_parse(ipcx__rpc_authsys *a, const ipcx__rpc_auth *cred);

#endif /* IPCX_RPC_INT_H */
