/*
 * rpc_rm.c - RFC 5531 record marking (encoder, one-record-per-message unwrap, the stream
 * decoder fed byte by byte and in random chunks, limits enforced before allocation) and the
 * RPC call/reply header codec, checked against real libtirpc bytes and live libtirpc peers.
 */
#include "testutil.h"

#include "rpc/rpc_int.h"
#include "rpc_testvec.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The test program served and called over a stream; see rpc_tirpc_vectors.c. */
#define T_PROG         0x20000099u
#define T_VERS         1u
#define T_PROC_REVERSE 1u
#define T_PROC_WHOAMI  2u

static uint64_t rng_state;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static void
put_hdr(unsigned char *p, uint32_t len, bool last)
{
	p[0] = (unsigned char)((len >> 24) | (last ? 0x80 : 0));
	p[1] = (unsigned char)(len >> 16);
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
}

/* ---- encoding -------------------------------------------------------------------------- */

static void
test_rm_encode_exact_bytes(void **state)
{
	static const unsigned char want[] = {0x00, 0x00, 0x00, 0x04, 'a', 'b', 'c', 'd',
	                                     0x00, 0x00, 0x00, 0x04, 'e', 'f', 'g', 'h',
	                                     0x80, 0x00, 0x00, 0x02, 'i', 'j'};
	unsigned char out[64], hdrs[16], cat[64];
	struct iovec iov[8];
	size_t wire, cnt, o = 0;
	(void)state;

	assert_int_equal(ipcx__rm_nfrags(10, 4), 3);
	assert_int_equal(ipcx__rm_nfrags(8, 4), 2);
	assert_int_equal(ipcx__rm_nfrags(0, 4), 1);
	assert_int_equal(ipcx__rm_nfrags(10, 0), 1);
	assert_int_equal(ipcx__rm_wire_size(10, 4), 22);
	assert_rv(ipcx__rm_encode_buf(out, sizeof out, &wire, "abcdefghij", 10, 4), 0);
	assert_int_equal(wire, sizeof want);
	assert_memory_equal(out, want, sizeof want);
	assert_rv(ipcx__rm_encode_buf(out, sizeof want - 1, &wire, "abcdefghij", 10, 4),
	          IPCX_EMSGSIZE);

	/* the iovec form describes the same bytes */
	assert_rv(ipcx__rm_encode_iov(iov, 8, &cnt, hdrs, "abcdefghij", 10, 4), 0);
	assert_int_equal(cnt, 6);
	for (size_t i = 0; i < cnt; i++) {
		memcpy(cat + o, iov[i].iov_base, iov[i].iov_len);
		o += iov[i].iov_len;
	}
	assert_int_equal(o, sizeof want);
	assert_memory_equal(cat, want, sizeof want);
	assert_rv(ipcx__rm_encode_iov(iov, 5, &cnt, hdrs, "abcdefghij", 10, 4), IPCX_EMSGSIZE);

	/* one fragment: 0x80000005; an empty record: one empty last fragment */
	assert_rv(ipcx__rm_encode_buf(out, sizeof out, &wire, "hello", 5, 0), 0);
	assert_int_equal(wire, 9);
	assert_memory_equal(out, "\x80\x00\x00\x05hello", 9);
	assert_rv(ipcx__rm_encode_buf(out, sizeof out, &wire, NULL, 0, 0), 0);
	assert_int_equal(wire, 4);
	assert_memory_equal(out, "\x80\x00\x00\x00", 4);
	assert_rv(ipcx__rm_encode_iov(iov, 1, &cnt, hdrs, NULL, 0, 0), 0);
	assert_int_equal(cnt, 1);
	assert_rv(ipcx__rm_encode_iov(iov, 0, &cnt, hdrs, NULL, 0, 0), IPCX_EMSGSIZE);
	ipcx__rm_mark(out, IPCX__RM_FRAG_MAX, false);
	assert_memory_equal(out, "\x7f\xff\xff\xff", 4);
}

/* ---- the stream decoder -------------------------------------------------------------- */

#define NREC 48

typedef struct stream {
	unsigned char *bytes;
	size_t len;
	unsigned char *rec[NREC];
	size_t rec_len[NREC];
	int n;
} stream;

/* Records of many sizes cut in many ways, with empty fragments in the middle and empty
 * records. */
static void
stream_build(stream *s)
{
	static const size_t sizes[] = {0, 1, 3, 4, 5, 100, 4096, 4097, 70000, 9};
	static const uint32_t cuts[] = {0, 1, 7, 4096};
	size_t cap = 1 << 20, w;

	memset(s, 0, sizeof *s);
	s->bytes = tu_xmalloc(cap);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		for (size_t j = 0; j < sizeof cuts / sizeof cuts[0]; j++) {
			size_t n = sizes[i];
			unsigned char *r = tu_xmalloc(n + 1);

			tu_fill(r, n, (uint32_t)(i * 10 + j));
			assert_rv(ipcx__rm_encode_buf(s->bytes + s->len, cap - s->len, &w, r, n,
			                              cuts[j]),
			          0);
			s->len += w;
			s->rec[s->n] = r;
			s->rec_len[s->n++] = n;
		}
	}
	/* empty fragments before, between and as the end of a record: "abc" + "de" */
	{
		unsigned char *p = s->bytes + s->len, *r = tu_xmalloc(6);

		put_hdr(p, 0, false);
		put_hdr(p + 4, 3, false);
		memcpy(p + 8, "abc", 3);
		put_hdr(p + 11, 0, false);
		put_hdr(p + 15, 2, false);
		memcpy(p + 19, "de", 2);
		put_hdr(p + 21, 0, true);
		s->len += 25;
		memcpy(r, "abcde", 5);
		s->rec[s->n] = r;
		s->rec_len[s->n++] = 5;
	}
	assert_true(s->n <= NREC);
}

static void
stream_free(stream *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->rec[i]);
	}
	free(s->bytes);
}

/* Feed the stream in chunks of 1 .. maxchunk bytes (1: one byte at a time) and check that
 * every record comes out whole and in order. */
static void
stream_check(stream *s, size_t maxchunk)
{
	ipcx__rm_dec d;
	size_t off = 0, used;
	int got = 0, rv;

	ipcx__rm_dec_init(&d, 0, 100000); /* 70000 one-byte fragments are in the stream */
	while (off < s->len) {
		size_t chunk = maxchunk == 1 ? 1 : 1 + rng() % maxchunk;
		size_t c_off = 0;

		if (chunk > s->len - off) {
			chunk = s->len - off;
		}
		while (c_off < chunk) {
			rv = ipcx__rm_dec_feed(&d, s->bytes + off + c_off, chunk - c_off, &used);
			assert_true(rv == 0 || rv == 1);
			assert_true(used <= chunk - c_off);
			c_off += used;
			if (rv == 1) {
				assert_true(got < s->n);
				if (d.rec_len != s->rec_len[got] ||
				    memcmp(d.rec, s->rec[got], d.rec_len) != 0) {
					fail_msg("record %d (%zu bytes) differs (got %zu bytes)",
					         got, s->rec_len[got], d.rec_len);
				}
				got++;
				assert_rv(ipcx__rm_dec_eof(&d), 0);
			} else {
				assert_int_equal(c_off, chunk); /* no record: all consumed */
			}
		}
		off += chunk;
	}
	assert_int_equal(got, s->n);
	assert_rv(ipcx__rm_dec_eof(&d), 0);
	ipcx__rm_dec_fini(&d);
}

static void
test_rm_decoder_one_byte_at_a_time(void **state)
{
	stream s;
	(void)state;

	stream_build(&s);
	stream_check(&s, 1);
	stream_free(&s);
}

static void
test_rm_decoder_random_chunks(void **state)
{
	static const size_t maxchunks[] = {2, 3, 5, 8, 64, 1000, 5000, 100000, 1 << 20};
	stream s;
	(void)state;

	stream_build(&s);
	for (uint64_t seed = 1; seed <= 4; seed++) {
		for (size_t k = 0; k < sizeof maxchunks / sizeof maxchunks[0]; k++) {
			rng_state = seed * 0x9e3779b97f4a7c15ull + k;
			stream_check(&s, maxchunks[k]);
		}
	}
	stream_free(&s);
}

/* A whole one-fragment record inside one chunk is handed out in place: no copy, no
 * allocation. take() then copies it out; a gathered record is handed over instead. */
static void
test_rm_decoder_in_place_and_take(void **state)
{
	unsigned char in[64], *buf;
	ipcx__rm_dec d;
	size_t used, len;
	(void)state;

	put_hdr(in, 5, true);
	memcpy(in + 4, "hello", 5);
	put_hdr(in + 9, 2, true);
	memcpy(in + 13, "hi", 2);
	ipcx__rm_dec_init(&d, 0, 0);
	tv_alloc_reset();
	assert_int_equal(ipcx__rm_dec_feed(&d, in, 15, &used), 1);
	assert_int_equal(used, 9);
	assert_ptr_equal(d.rec, in + 4);
	assert_int_equal(d.rec_len, 5);
	assert_int_equal(ipcx__rm_dec_feed(&d, in + 9, 6, &used), 1);
	assert_ptr_equal(d.rec, in + 13);
	assert_int_equal(tv_allocs, 0);
	assert_rv(ipcx__rm_dec_take(&d, &buf, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(buf, "hi", 2);
	assert_ptr_not_equal(buf, in + 13);
	free(buf);
	assert_rv(ipcx__rm_dec_take(&d, &buf, &len), IPCX_EINVAL);

	/* split across two feeds: gathered, and take hands the decoder's buffer over */
	assert_int_equal(ipcx__rm_dec_feed(&d, in, 6, &used), 0);
	assert_int_equal(used, 6);
	assert_int_equal(ipcx__rm_dec_eof(&d), IPCX_EBADMSG); /* cut mid-record */
	assert_int_equal(ipcx__rm_dec_feed(&d, in + 6, 3, &used), 1);
	assert_int_equal(d.rec_len, 5);
	assert_memory_equal(d.rec, "hello", 5);
	assert_ptr_equal(d.rec, d.buf);
	{
		const unsigned char *was = d.rec;

		assert_rv(ipcx__rm_dec_take(&d, &buf, &len), 0);
		assert_ptr_equal(buf, was);
		assert_null(d.buf);
		free(buf);
	}
	/* an empty record gives a valid pointer and length 0 */
	put_hdr(in, 0, true);
	assert_int_equal(ipcx__rm_dec_feed(&d, in, 4, &used), 1);
	assert_int_equal(d.rec_len, 0);
	assert_non_null(d.rec);
	ipcx__rm_dec_fini(&d);
}

/* A fragment or record over the maximum is refused at its header: nothing allocated. */
static void
test_rm_oversize_refused_before_allocation(void **state)
{
	unsigned char in[64];
	ipcx__rm_dec d;
	size_t used;
	(void)state;

	/* one fragment one byte over */
	put_hdr(in, 1001, true);
	ipcx__rm_dec_init(&d, 1000, 0);
	tv_alloc_reset();
	assert_rv(ipcx__rm_dec_feed(&d, in, 4, &used), IPCX_EMSGSIZE);
	assert_int_equal(tv_allocs, 0);
	/* sticky: the stream cannot be resynchronised */
	assert_rv(ipcx__rm_dec_feed(&d, in, 4, &used), IPCX_EMSGSIZE);
	assert_int_equal(used, 0);
	assert_rv(ipcx__rm_dec_eof(&d), IPCX_EMSGSIZE);
	ipcx__rm_dec_fini(&d);

	/* exactly the maximum is fine */
	ipcx__rm_dec_init(&d, 1000, 0);
	put_hdr(in, 1000, true);
	assert_int_equal(ipcx__rm_dec_feed(&d, in, 4, &used), 0);
	ipcx__rm_dec_fini(&d);

	/* the sum of fragments over: refused at the second header, before its bytes */
	ipcx__rm_dec_init(&d, 1000, 0);
	put_hdr(in, 600, false);
	assert_int_equal(ipcx__rm_dec_feed(&d, in, 4, &used), 0);
	for (int i = 0; i < 600; i++) {
		assert_int_equal(ipcx__rm_dec_feed(&d, "z", 1, &used), 0);
	}
	put_hdr(in, 401, true);
	tv_alloc_reset();
	assert_rv(ipcx__rm_dec_feed(&d, in, 4, &used), IPCX_EMSGSIZE);
	assert_int_equal(tv_allocs, 0);
	ipcx__rm_dec_fini(&d);

	/* a header announcing 16 MiB (the default maximum) costs nothing until bytes come */
	ipcx__rm_dec_init(&d, 0, 0);
	put_hdr(in, 16u << 20, true);
	memset(in + 4, 'q', 10);
	tv_alloc_reset();
	assert_int_equal(ipcx__rm_dec_feed(&d, in, 14, &used), 0);
	assert_true(tv_alloc_max <= 4096);
	put_hdr(in, (16u << 20) + 1, true);
	ipcx__rm_dec_fini(&d);
	ipcx__rm_dec_init(&d, 0, 0);
	assert_rv(ipcx__rm_dec_feed(&d, in, 4, &used), IPCX_EMSGSIZE);
	ipcx__rm_dec_fini(&d);
}

/* A peer that never sets the last-fragment bit cannot hold a record open forever: empty
 * fragments are bounded by max_frags, others by max_record. */
static void
test_rm_last_bit_never_set_is_bounded(void **state)
{
	unsigned char in[4 * 40];
	ipcx__rm_dec d;
	size_t used, off = 0;
	int rv = 0;
	(void)state;

	for (int i = 0; i < 40; i++) {
		put_hdr(in + 4 * i, 0, false);
	}
	ipcx__rm_dec_init(&d, 0, 16);
	while (off < sizeof in && (rv = ipcx__rm_dec_feed(&d, in + off, 4, &used)) == 0) {
		off += used;
	}
	assert_rv(rv, IPCX_EBADMSG);
	assert_int_equal(off, 16 * 4); /* the 17th header is the one refused */
	ipcx__rm_dec_fini(&d);

	/* exactly max_frags fragments make a record */
	ipcx__rm_dec_init(&d, 0, 16);
	put_hdr(in + 15 * 4, 0, true);
	assert_int_equal(ipcx__rm_dec_feed(&d, in, 16 * 4, &used), 1);
	assert_int_equal(d.rec_len, 0);
	ipcx__rm_dec_fini(&d);

	/* non-empty fragments that never end: max_record */
	rv = 0;
	ipcx__rm_dec_init(&d, 100, 0);
	for (int i = 0; i < 40 && rv >= 0; i++) {
		unsigned char f[14];

		put_hdr(f, 10, false);
		memset(f + 4, 'x', 10);
		rv = ipcx__rm_dec_feed(&d, f, sizeof f, &used);
		assert_true(i < 10 || rv < 0);
	}
	assert_rv(rv, IPCX_EMSGSIZE);
	ipcx__rm_dec_fini(&d);
}

/* A decoder lets go of a large buffer once its record is consumed. */
static void
test_rm_large_buffer_released_after_use(void **state)
{
	size_t n = 1 << 20, used, wire;
	unsigned char *r = tu_xmalloc(n), *w = tu_xmalloc(n + 64);
	ipcx__rm_dec d;
	(void)state;

	tu_fill(r, n, 1);
	assert_rv(ipcx__rm_encode_buf(w, n + 64, &wire, r, n, 100000), 0);
	ipcx__rm_dec_init(&d, 0, 0);
	assert_int_equal(ipcx__rm_dec_feed(&d, w, wire, &used), 1);
	assert_true(d.cap >= n);
	assert_true(tu_check(d.rec, d.rec_len, 1));
	assert_int_equal(ipcx__rm_dec_feed(&d, w, 2, &used), 0);
	assert_null(d.buf);
	ipcx__rm_dec_fini(&d);
	free(r);
	free(w);
}

/* One record per message: returned in place, or compacted in place; anything that is not
 * exactly one record is refused and the message left as it was. */
static void
test_rm_unwrap_one_record_per_message(void **state)
{
	unsigned char msg[64], copy[64], *rec;
	size_t len, wire;
	(void)state;

	assert_rv(ipcx__rm_encode_buf(msg, sizeof msg, &wire, "hello", 5, 0), 0);
	assert_rv(ipcx__rm_unwrap(msg, wire, 0, 0, &rec, &len), 0);
	assert_ptr_equal(rec, msg + 4);
	assert_int_equal(len, 5);

	assert_rv(ipcx__rm_encode_buf(msg, sizeof msg, &wire, "abcdefghijk", 11, 3), 0);
	assert_rv(ipcx__rm_unwrap(msg, wire, 0, 0, &rec, &len), 0);
	assert_ptr_equal(rec, msg + 4);
	assert_int_equal(len, 11);
	assert_memory_equal(rec, "abcdefghijk", 11);

	assert_rv(ipcx__rm_encode_buf(msg, sizeof msg, &wire, "abcdefghijk", 11, 3), 0);
	memcpy(copy, msg, wire);
	assert_rv(ipcx__rm_unwrap(msg, wire + 1, 0, 0, &rec, &len), IPCX_EBADMSG); /* trailing */
	assert_rv(ipcx__rm_unwrap(msg, wire - 1, 0, 0, &rec, &len), IPCX_EBADMSG); /* cut */
	assert_rv(ipcx__rm_unwrap(msg, wire, 10, 0, &rec, &len), IPCX_EMSGSIZE);
	assert_rv(ipcx__rm_unwrap(msg, wire, 11, 3, &rec, &len), IPCX_EBADMSG); /* 4 frags */
	assert_rv(ipcx__rm_unwrap(msg, 0, 0, 0, &rec, &len), IPCX_EBADMSG);
	assert_memory_equal(msg, copy, wire);
	assert_rv(ipcx__rm_unwrap(msg, wire, 11, 4, &rec, &len), 0);

	/* no last bit anywhere */
	put_hdr(msg, 1, false);
	msg[4] = 'a';
	assert_rv(ipcx__rm_unwrap(msg, 5, 0, 0, &rec, &len), IPCX_EBADMSG);
}

/* ---- the RPC header -------------------------------------------------------------------- */

static ipcx__rpc_authsys
sample_authsys(void)
{
	ipcx__rpc_authsys a = {.stamp = 0x6b083e86, .uid = 1000, .gid = 100, .ngids = 3};

	strcpy(a.machine, "machine.example");
	a.gids[0] = 100;
	a.gids[1] = 27;
	a.gids[2] = 4;
	return a;
}

static void
test_call_round_trip_and_truncation(void **state)
{
	unsigned char buf[1024], credbuf[IPCX__RPC_AUTH_MAX];
	ipcx__rpc_authsys a = sample_authsys(), a2;
	ipcx__rpc_call c = {.xid = 0xcafef00d, .rpcvers = 2, .prog = T_PROG, .vers = 1, .proc = 2},
	               d;
	uint32_t xid, type;
	ipcx_xdr x;
	size_t n;
	(void)state;

	assert_rv(ipcx__rpc_authsys_cred(&c.cred, credbuf, &a), 0);
	assert_int_equal(c.cred.flavor, IPCX__RPC_AUTH_SYS);
	/* stamp, "machine.example" (15 + pad), uid, gid, 3 gids */
	assert_int_equal(c.cred.len, 4 + 4 + 16 + 4 + 4 + 4 + 12);
	c.verf.flavor = IPCX__RPC_AUTH_NONE;
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, sizeof buf);
	assert_rv(ipcx__rpc_call_encode(&x, &c), 0);
	n = x.pos;
	assert_int_equal(n, 6 * 4 + 8 + c.cred.len + 8);
	assert_rv(ipcx__rpc_peek(buf, n, &xid, &type), 0);
	assert_int_equal(xid, 0xcafef00d);
	assert_int_equal(type, IPCX__RPC_CALL);

	memset(&d, 0, sizeof d);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, n);
	assert_rv(ipcx__rpc_call_decode(&x, &d), 0);
	assert_int_equal(x.pos, n);
	assert_int_equal(d.xid, c.xid);
	assert_int_equal(d.rpcvers, 2);
	assert_int_equal(d.prog, T_PROG);
	assert_int_equal(d.vers, 1);
	assert_int_equal(d.proc, 2);
	assert_int_equal(d.verf.flavor, 0);
	assert_int_equal(d.verf.len, 0);
	assert_int_equal(d.cred.len, c.cred.len);
	assert_ptr_equal(d.cred.body, buf + 8 * 4); /* zero copy */
	assert_rv(ipcx__rpc_authsys_parse(&a2, &d.cred), 0);
	assert_int_equal(a2.stamp, a.stamp);
	assert_string_equal(a2.machine, "machine.example");
	assert_int_equal(a2.uid, 1000);
	assert_int_equal(a2.gid, 100);
	assert_int_equal(a2.ngids, 3);
	assert_int_equal(a2.gids[1], 27);

	for (size_t cut = 0; cut < n; cut++) {
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, cut);
		if (ipcx__rpc_call_decode(&x, &d) != IPCX_EBADMSG) {
			fail_msg("call cut at %zu: %s", cut, ipcx_err_name(x.err));
		}
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf + 512, cut);
		assert_rv(ipcx__rpc_call_encode(&x, &c), IPCX_EMSGSIZE);
	}
	assert_rv(ipcx__rpc_peek(buf, 7, &xid, &type), IPCX_EBADMSG);
}

static void
test_call_malformed_headers(void **state)
{
	unsigned char buf[1024], big[401];
	ipcx__rpc_call c = {.xid = 77, .rpcvers = 3, .prog = 1, .vers = 1, .proc = 0}, d;
	ipcx_xdr x;
	size_t n;
	(void)state;

	/* another RPC version: EPROTONOSUPPORT with the xid, for the RPC_MISMATCH reply */
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, sizeof buf);
	assert_rv(ipcx__rpc_call_encode(&x, &c), 0);
	n = x.pos;
	memset(&d, 0, sizeof d);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, 12);
	assert_rv(ipcx__rpc_call_decode(&x, &d), IPCX_EPROTONOSUPPORT);
	assert_int_equal(d.xid, 77);
	assert_int_equal(d.rpcvers, 3);
	assert_int_equal(x.pos, 12);

	/* a reply where a call was expected, and the other way round */
	c.rpcvers = 2;
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, sizeof buf);
	assert_rv(ipcx__rpc_call_encode(&x, &c), 0);
	n = x.pos;
	{
		ipcx__rpc_reply r;

		ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, n);
		assert_rv(ipcx__rpc_reply_decode(&x, &r), IPCX_EBADMSG);
		assert_int_equal(r.xid, 77);
	}
	ipcx__be32_put(buf + 4, 1);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, n);
	assert_rv(ipcx__rpc_call_decode(&x, &d), IPCX_EBADMSG);
	ipcx__be32_put(buf + 4, 2);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, n);
	assert_rv(ipcx__rpc_call_decode(&x, &d), IPCX_EBADMSG);
	ipcx__be32_put(buf + 4, 0);

	/* credential bodies: 400 bytes pass, 401 are refused both ways */
	memset(big, 0x42, sizeof big);
	c.cred.flavor = 3;
	c.cred.body = big;
	c.cred.len = 400;
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, sizeof buf);
	assert_rv(ipcx__rpc_call_encode(&x, &c), 0);
	n = x.pos;
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, n);
	assert_rv(ipcx__rpc_call_decode(&x, &d), 0);
	assert_int_equal(d.cred.len, 400);
	c.cred.len = 401;
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, sizeof buf);
	assert_rv(ipcx__rpc_call_encode(&x, &c), IPCX_EMSGSIZE);
	ipcx__be32_put(buf + 28, 401); /* the cred length on the wire */
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, sizeof buf);
	assert_rv(ipcx__rpc_call_decode(&x, &d), IPCX_EBADMSG);
	ipcx__be32_put(buf + 28, 0xffffffffu);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, sizeof buf);
	assert_rv(ipcx__rpc_call_decode(&x, &d), IPCX_EBADMSG);

	/* an odd-length verifier: ipcx pads with zeros, and accepts other padding (libtirpc
	 * leaves garbage there: test_calls_match_libtirpc) */
	c.cred.len = 0;
	c.verf.flavor = 0;
	c.verf.body = big;
	c.verf.len = 3;
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, sizeof buf);
	assert_rv(ipcx__rpc_call_encode(&x, &c), 0);
	n = x.pos;
	assert_int_equal(buf[n - 1], 0);
	buf[n - 1] = 1;
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, n);
	assert_rv(ipcx__rpc_call_decode(&x, &d), 0);
	assert_int_equal(d.verf.len, 3);
	assert_int_equal(x.pos, n);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, n - 1); /* but the padding must be there */
	assert_rv(ipcx__rpc_call_decode(&x, &d), IPCX_EBADMSG);
	/* a NULL body with a length */
	c.verf.body = NULL;
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, sizeof buf);
	assert_rv(ipcx__rpc_call_encode(&x, &c), IPCX_EINVAL);
	/* the codec refuses a stream in the wrong direction */
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, sizeof buf);
	assert_rv(ipcx__rpc_call_encode(&x, &c), IPCX_EINVAL);
}

/* Each reply kind survives a round trip, and each is refused when cut anywhere. */
static void
test_reply_every_kind_round_trip_and_truncation(void **state)
{
	static const ipcx__rpc_reply kinds[] = {
	        {.xid = 1, .stat = 0, .accept = IPCX__RPC_SUCCESS},
	        {.xid = 2, .stat = 0, .accept = IPCX__RPC_PROG_UNAVAIL},
	        {.xid = 3, .stat = 0, .accept = IPCX__RPC_PROG_MISMATCH, .low = 2, .high = 4},
	        {.xid = 4, .stat = 0, .accept = IPCX__RPC_PROC_UNAVAIL},
	        {.xid = 5, .stat = 0, .accept = IPCX__RPC_GARBAGE_ARGS},
	        {.xid = 6, .stat = 0, .accept = IPCX__RPC_SYSTEM_ERR},
	        {.xid = 7, .stat = 1, .reject = IPCX__RPC_RPC_MISMATCH, .low = 2, .high = 2},
	        {.xid = 8, .stat = 1, .reject = IPCX__RPC_AUTH_ERROR, .auth = 5},
	        {.xid = 9, .stat = 0, .accept = 77}, /* unknown accept_stat: default arm */
	};
	static const size_t sizes[] = {24, 24, 32, 24, 24, 24, 24, 20, 24};
	unsigned char buf[256];
	ipcx_xdr x;
	(void)state;

	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		ipcx__rpc_reply r = kinds[k], d;
		size_t n;

		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, sizeof buf);
		assert_rv(ipcx__rpc_reply_encode(&x, &r), 0);
		n = x.pos;
		assert_int_equal(n, sizes[k]);
		memset(&d, 0xee, sizeof d);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, n);
		assert_rv(ipcx__rpc_reply_decode(&x, &d), 0);
		assert_int_equal(x.pos, n);
		assert_int_equal(d.xid, r.xid);
		assert_int_equal(d.stat, r.stat);
		if (r.stat == 0) {
			assert_int_equal(d.accept, r.accept);
			assert_int_equal(d.verf.len, 0);
		} else {
			assert_int_equal(d.reject, r.reject);
		}
		if ((r.stat == 0 && r.accept == 2) || (r.stat == 1 && r.reject == 0)) {
			assert_int_equal(d.low, r.low);
			assert_int_equal(d.high, r.high);
		}
		if (r.stat == 1 && r.reject == 1) {
			assert_int_equal(d.auth, r.auth);
		}
		for (size_t cut = 0; cut < n; cut++) {
			ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, cut);
			if (ipcx__rpc_reply_decode(&x, &d) != IPCX_EBADMSG) {
				fail_msg("reply %zu cut at %zu: %s", k, cut, ipcx_err_name(x.err));
			}
		}
	}
}

static void
test_reply_unknown_arms_are_refused(void **state)
{
	unsigned char buf[64];
	ipcx__rpc_reply r = {.xid = 1, .stat = 2}, d;
	ipcx_xdr x;
	(void)state;

	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, sizeof buf);
	assert_rv(ipcx__rpc_reply_encode(&x, &r), IPCX_EINVAL);
	assert_int_equal(x.pos, 0);
	r.stat = 1;
	r.reject = 2;
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, sizeof buf);
	assert_rv(ipcx__rpc_reply_encode(&x, &r), IPCX_EINVAL);

	/* the same on the wire */
	ipcx__be32_put(buf, 1);
	ipcx__be32_put(buf + 4, 1);
	ipcx__be32_put(buf + 8, 2); /* reply_stat 2 */
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, 24);
	assert_rv(ipcx__rpc_reply_decode(&x, &d), IPCX_EBADMSG);
	ipcx__be32_put(buf + 8, 1);
	ipcx__be32_put(buf + 12, 2); /* reject_stat 2 */
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, buf, 24);
	assert_rv(ipcx__rpc_reply_decode(&x, &d), IPCX_EBADMSG);
}

/* An authsys_parms body written by hand: a namelen-byte name and ngids gids. */
static uint32_t
authsys_raw(unsigned char *p, uint32_t namelen, uint32_t ngids)
{
	uint32_t o = 0;

	ipcx__be32_put(p, 1);
	ipcx__be32_put(p + 4, namelen);
	o = 8;
	memset(p + o, 'm', namelen);
	o += namelen;
	while (o % 4 != 0) {
		p[o++] = 0;
	}
	ipcx__be32_put(p + o, 1000);
	ipcx__be32_put(p + o + 4, 100);
	ipcx__be32_put(p + o + 8, ngids);
	o += 12;
	for (uint32_t i = 0; i < ngids; i++, o += 4) {
		ipcx__be32_put(p + o, i);
	}
	return o;
}

/* RFC 5531's bounds: machinename<255>, gids<16>, and nothing after the parms. */
static void
test_authsys_bounds(void **state)
{
	unsigned char buf[IPCX__RPC_AUTH_MAX], raw[512];
	ipcx__rpc_authsys a = sample_authsys(), b;
	ipcx__rpc_auth cred = {.flavor = IPCX__RPC_AUTH_SYS, .body = raw};
	(void)state;

	/* the largest credential round-trips */
	memset(a.machine, 'm', 255);
	a.machine[255] = '\0';
	a.ngids = 16;
	for (int i = 0; i < 16; i++) {
		a.gids[i] = (uint32_t)i * 1000;
	}
	assert_rv(ipcx__rpc_authsys_cred(&cred, buf, &a), 0);
	assert_int_equal(cred.len, 4 + 4 + 256 + 4 + 4 + 4 + 64);
	assert_rv(ipcx__rpc_authsys_parse(&b, &cred), 0);
	assert_int_equal(strlen(b.machine), 255);
	assert_int_equal(b.ngids, 16);
	assert_int_equal(b.gids[15], 15000);
	a.ngids = 17;
	assert_rv(ipcx__rpc_authsys_cred(&cred, buf, &a), IPCX_EMSGSIZE);

	cred.body = raw;
	cred.len = authsys_raw(raw, 255, 16);
	assert_rv(ipcx__rpc_authsys_parse(&b, &cred), 0);
	cred.len = authsys_raw(raw, 256, 16);
	assert_rv(ipcx__rpc_authsys_parse(&b, &cred), IPCX_EBADMSG);
	cred.len = authsys_raw(raw, 255, 17);
	assert_rv(ipcx__rpc_authsys_parse(&b, &cred), IPCX_EBADMSG);
	cred.len = authsys_raw(raw, 3, 2) + 4; /* a trailing word */
	assert_rv(ipcx__rpc_authsys_parse(&b, &cred), IPCX_EBADMSG);
	for (uint32_t cut = 0; cut < cred.len - 4; cut++) {
		cred.len = cut;
		assert_rv(ipcx__rpc_authsys_parse(&b, &cred), IPCX_EBADMSG);
		cred.len = authsys_raw(raw, 3, 2) + 4;
	}
	cred.len -= 4;
	assert_rv(ipcx__rpc_authsys_parse(&b, &cred), 0);
	assert_string_equal(b.machine, "mmm");
	cred.flavor = IPCX__RPC_AUTH_NONE;
	assert_rv(ipcx__rpc_authsys_parse(&b, &cred), IPCX_EINVAL);
}

/* ---- byte-exact against libtirpc ------------------------------------------------------ */

static void
check_call_vector(const char *name, const ipcx__rpc_call *want)
{
	const tv_vec *v = tv_get(name);
	unsigned char buf[2048];
	ipcx__rpc_call d;
	ipcx_xdr x;

	/* libtirpc's bytes decode to the fields... */
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, v->bytes, v->len);
	assert_rv(ipcx__rpc_call_decode(&x, &d), 0);
	assert_int_equal(x.pos, v->len);
	assert_int_equal(d.xid, want->xid);
	assert_int_equal(d.rpcvers, 2);
	assert_int_equal(d.prog, want->prog);
	assert_int_equal(d.vers, want->vers);
	assert_int_equal(d.proc, want->proc);
	assert_int_equal(d.cred.flavor, want->cred.flavor);
	assert_int_equal(d.cred.len, want->cred.len);
	assert_int_equal(d.verf.flavor, want->verf.flavor);
	assert_int_equal(d.verf.len, want->verf.len);
	if (want->cred.body != NULL) {
		assert_memory_equal(d.cred.body, want->cred.body, d.cred.len);
	}
	/* ...and the fields encode to libtirpc's bytes, but for the padding of odd-length auth
	 * bodies: libtirpc's xdr_callmsg skips it without writing (the helper pre-fills its
	 * buffer with a5, which shows through), ipcx writes zeros as RFC 4506 says */
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, sizeof buf);
	assert_rv(ipcx__rpc_call_encode(&x, want), 0);
	{
		unsigned char norm[2048];
		size_t cred_pad = 32 + want->cred.len,
		       verf_len_at = 32 + ipcx__xdr_rnd(want->cred.len) + 4;
		size_t verf_pad = verf_len_at + 4 + want->verf.len;

		assert_true(v->len <= sizeof norm);
		memcpy(norm, v->bytes, v->len);
		for (size_t i = cred_pad; i % 4 != 0; i++) {
			norm[i] = 0;
		}
		for (size_t i = verf_pad; i % 4 != 0; i++) {
			norm[i] = 0;
		}
		tv_assert_bytes_eq(name, buf, x.pos, norm, v->len);
	}
}

static void
test_calls_match_libtirpc(void **state)
{
	unsigned char big[400], credbuf[IPCX__RPC_AUTH_MAX];
	ipcx__rpc_call c = {.xid = 0x12345678, .rpcvers = 2, .prog = 100003, .vers = 3, .proc = 1};
	ipcx__rpc_authsys a = sample_authsys(), got;
	const tv_vec *v;
	ipcx__rpc_call d;
	ipcx_xdr x;
	(void)state;

	check_call_vector("call.none", &c);

	for (int i = 0; i < 400; i++) {
		big[i] = (unsigned char)(i * 7 + 1);
	}
	c.xid = 1;
	c.prog = 0xffffffffu;
	c.vers = 0;
	c.proc = 0x80000000u;
	c.cred = (ipcx__rpc_auth){3, 400, big};
	c.verf = (ipcx__rpc_auth){6, 397, big + 1};
	check_call_vector("call.big", &c);
	c.cred.len = 5;
	c.verf = (ipcx__rpc_auth){6, 0, NULL};
	check_call_vector("call.odd", &c);

	/* AUTH_SYS made by libtirpc's authunix_create: parsed by ipcx, and rebuilt by ipcx
	 * byte for byte (the stamp is the time libtirpc took, which it printed) */
	v = tv_get("call.sys");
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, v->bytes, v->len);
	assert_rv(ipcx__rpc_call_decode(&x, &d), 0);
	assert_rv(ipcx__rpc_authsys_parse(&got, &d.cred), 0);
	assert_string_equal(got.machine, "machine.example");
	assert_int_equal(got.uid, 1000);
	assert_int_equal(got.gid, 100);
	assert_int_equal(got.ngids, 3);
	assert_int_equal(got.gids[0], 100);
	assert_int_equal(got.gids[1], 27);
	assert_int_equal(got.gids[2], 4);
	a.stamp = (uint32_t)strtoul(tv_get("call.sys.stamp")->text, NULL, 10);
	assert_int_equal(got.stamp, a.stamp);
	c = (ipcx__rpc_call){.xid = 0xcafef00d,
	                     .rpcvers = 2,
	                     .prog = T_PROG,
	                     .vers = T_VERS,
	                     .proc = T_PROC_WHOAMI};
	assert_rv(ipcx__rpc_authsys_cred(&c.cred, credbuf, &a), 0);
	check_call_vector("call.sys", &c);
}

static void
test_replies_match_libtirpc(void **state)
{
	static const struct {
		const char *name;
		ipcx__rpc_reply r;
		size_t results; /* bytes after the header */
	} kinds[] = {
	        {"reply.success", {.stat = 0, .accept = 0}, 4},
	        {"reply.success_verf",
	         {.stat = 0, .accept = 0, .verf = {2, 3, (const unsigned char *)"\x09\x08\x07"}},
	         4},
	        {"reply.prog_unavail", {.stat = 0, .accept = 1}, 0},
	        {"reply.prog_mismatch", {.stat = 0, .accept = 2, .low = 2, .high = 4}, 0},
	        {"reply.proc_unavail", {.stat = 0, .accept = 3}, 0},
	        {"reply.garbage_args", {.stat = 0, .accept = 4}, 0},
	        {"reply.system_err", {.stat = 0, .accept = 5}, 0},
	        {"reply.rpc_mismatch", {.stat = 1, .reject = 0, .low = 2, .high = 2}, 0},
	        {"reply.auth_badcred", {.stat = 1, .reject = 1, .auth = 1}, 0},
	        {"reply.auth_tooweak", {.stat = 1, .reject = 1, .auth = 5}, 0},
	};
	unsigned char buf[256];
	ipcx_xdr x;
	(void)state;

	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		const tv_vec *v = tv_get(kinds[k].name);
		ipcx__rpc_reply r = kinds[k].r, d;
		int32_t res = 0;

		r.xid = 0x0badcafe;
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, sizeof buf);
		assert_rv(ipcx__rpc_reply_encode(&x, &r), 0);
		if (kinds[k].results > 0) {
			res = 42;
			assert_rv(ipcx_xdr_int(&x, &res), 0);
		}
		tv_assert_bytes(kinds[k].name, buf, x.pos);

		memset(&d, 0, sizeof d);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, v->bytes, v->len);
		assert_rv(ipcx__rpc_reply_decode(&x, &d), 0);
		assert_int_equal(d.xid, 0x0badcafe);
		assert_int_equal(d.stat, r.stat);
		assert_int_equal(v->len - x.pos, kinds[k].results);
		if (r.stat == 0) {
			assert_int_equal(d.accept, r.accept);
			assert_int_equal(d.verf.flavor, r.verf.flavor);
			assert_int_equal(d.verf.len, r.verf.len);
		} else {
			assert_int_equal(d.reject, r.reject);
			assert_int_equal(d.auth, r.auth);
		}
		assert_int_equal(d.low, r.low);
		assert_int_equal(d.high, r.high);
		if (kinds[k].results > 0) {
			assert_rv(ipcx_xdr_int(&x, &res), 0);
			assert_int_equal(res, 42);
		}
	}
}

/* ---- live libtirpc peers on a byte stream -------------------------------------------- */

/* Start the helper as a libtirpc client or server on one end of a stream socketpair; the
 * other end is returned. */
static pid_t
start_peer(const char *mode, unsigned sendsz, int *myfd)
{
#ifndef TIRPC_VECTORS
	(void)mode;
	(void)sendsz;
	(void)myfd;
	skip();
	return -1;
#else
	int sv[2];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char fdtext[16], sztext[16];
		int fd = fcntl(sv[1], F_DUPFD, 10); /* without CLOEXEC: the helper's fd */

		snprintf(fdtext, sizeof fdtext, "%d", fd);
		snprintf(sztext, sizeof sztext, "%u", sendsz);
		execl(TIRPC_VECTORS, TIRPC_VECTORS, mode, fdtext, sztext, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	*myfd = sv[0];
	return pid;
#endif
}

static int
write_iov(int fd, struct iovec *iov, size_t cnt)
{
	for (size_t i = 0; i < cnt; i++) {
		const unsigned char *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left > 0) {
			ssize_t w = write(fd, p, left);

			if (w <= 0) {
				return -1;
			}
			p += w;
			left -= (size_t)w;
		}
	}
	return 0;
}

/* Send one record cut into fragments of frag_max bytes. */
static void
send_record(int fd, const void *rec, size_t len, uint32_t frag_max)
{
	size_t nf = ipcx__rm_nfrags(len, frag_max), cnt;
	unsigned char *hdrs = tu_xmalloc(4 * nf);
	struct iovec *iov = tu_xmalloc(sizeof *iov * 2 * nf);

	assert_rv(ipcx__rm_encode_iov(iov, 2 * nf, &cnt, hdrs, rec, len, frag_max), 0);
	assert_int_equal(write_iov(fd, iov, cnt), 0);
	free(iov);
	free(hdrs);
}

/* Read from fd through the decoder until a record is ready (1) or the stream ends (0).
 * Bytes after the record stay in the reader for the next call. */
typedef struct reader {
	ipcx__rm_dec d;
	unsigned char buf[65536];
	size_t head, tail;
} reader;

static int
read_record(int fd, reader *r)
{
	for (;;) {
		size_t used;
		int rv;

		if (r->head < r->tail) {
			rv = ipcx__rm_dec_feed(&r->d, r->buf + r->head, r->tail - r->head, &used);
			r->head += used;
			assert_true(rv >= 0);
			if (rv == 1) {
				return 1;
			}
		}
		{
			struct pollfd p = {fd, POLLIN, 0};
			ssize_t n;

			assert_int_equal(poll(&p, 1, TU_WAIT_MS), 1);
			/* the record handed out may point into buf: it was consumed above, so
			 * the whole buffer is free again */
			n = read(fd, r->buf, sizeof r->buf);
			assert_true(n >= 0);
			if (n == 0) {
				assert_rv(ipcx__rm_dec_eof(&r->d), 0);
				return 0;
			}
			r->head = 0;
			r->tail = (size_t)n;
		}
	}
}

/* A libtirpc client (sending in small fragments) calls ipcx, which answers in even smaller
 * fragments of varying size: both sides reassemble records of up to 300 KB. */
static void
test_libtirpc_client_calls_ipcx_over_a_stream(void **state)
{
	static reader r;
	unsigned char *out = tu_xmalloc(400000), *rev = tu_xmalloc(400000);
	uint32_t frag = 5;
	int fd, calls = 0;
	pid_t pid;
	(void)state;

	pid = start_peer("client", 128, &fd);
	ipcx__rm_dec_init(&r.d, 0, 0);
	r.head = r.tail = 0;
	while (read_record(fd, &r) == 1) {
		ipcx__rpc_call c;
		ipcx__rpc_authsys a;
		ipcx__rpc_reply rep = {.stat = IPCX__RPC_MSG_ACCEPTED, .accept = IPCX__RPC_SUCCESS};
		ipcx_xdr x, y;

		ipcx_xdr_init(&x, IPCX_XDR_DECODE, (void *)r.d.rec, r.d.rec_len);
		assert_rv(ipcx__rpc_call_decode(&x, &c), 0);
		assert_int_equal(c.prog, T_PROG);
		assert_int_equal(c.vers, T_VERS);
		assert_rv(ipcx__rpc_authsys_parse(&a, &c.cred), 0);
		assert_string_equal(a.machine, "tirpc-client");
		assert_int_equal(a.uid, 1234);
		assert_int_equal(a.gid, 5678);
		assert_int_equal(a.ngids, 2);
		assert_int_equal(a.gids[1], 6);
		rep.xid = c.xid;
		ipcx_xdr_init(&y, IPCX_XDR_ENCODE, out, 400000);
		assert_rv(ipcx__rpc_reply_encode(&y, &rep), 0);
		if (c.proc == T_PROC_REVERSE) {
			void *arg = NULL;
			uint32_t n = 0;

			assert_rv(ipcx_xdr_bytes(&x, &arg, &n, 0), 0); /* zero copy */
			assert_int_equal(x.pos, x.len);
			for (uint32_t i = 0; i < n; i++) {
				rev[i] = ((unsigned char *)arg)[n - 1 - i];
			}
			arg = rev;
			assert_rv(ipcx_xdr_bytes(&y, &arg, &n, 0), 0);
		} else {
			assert_int_equal(c.proc, 0);
			assert_int_equal(x.pos, x.len);
		}
		send_record(fd, out, y.pos, frag);
		frag = frag * 3 % 9001 + 1;
		calls++;
	}
	assert_int_equal(calls, 10); /* NULL + 9 sizes */
	close(fd);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx__rm_dec_fini(&r.d);
	free(out);
	free(rev);
}

/* Encode a call (header and optional opaque argument) into buf. */
static size_t
make_call(unsigned char *buf, size_t cap, const ipcx__rpc_call *c, const void *arg, uint32_t n)
{
	ipcx_xdr x;

	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, cap);
	assert_rv(ipcx__rpc_call_encode(&x, c), 0);
	if (arg != NULL) {
		void *a = (void *)arg;

		assert_rv(ipcx_xdr_bytes(&x, &a, &n, 0), 0);
	}
	return x.pos;
}

static void
expect_reply(int fd, reader *r, uint32_t xid, ipcx__rpc_reply *d, ipcx_xdr *x)
{
	assert_int_equal(read_record(fd, r), 1);
	ipcx_xdr_init(x, IPCX_XDR_DECODE, (void *)r->d.rec, r->d.rec_len);
	assert_rv(ipcx__rpc_reply_decode(x, d), 0);
	assert_int_equal(d->xid, xid);
}

/* ipcx calls a libtirpc server (svc_fd_create) with records in odd fragment sizes: the
 * server reassembles them, understands ipcx's AUTH_SYS, and its replies (and its error
 * replies) decode. */
static void
test_ipcx_calls_a_libtirpc_server_over_a_stream(void **state)
{
	static const size_t sizes[] = {0, 1, 5, 1000, 70001, 300000};
	static reader r;
	unsigned char *buf = tu_xmalloc(400000), *arg = tu_xmalloc(300000), credbuf[400];
	ipcx__rpc_authsys a = sample_authsys();
	ipcx__rpc_call c = {.rpcvers = 2, .prog = T_PROG, .vers = T_VERS};
	ipcx__rpc_reply d;
	ipcx_xdr x;
	uint32_t xid = 100;
	size_t n;
	int fd;
	pid_t pid;
	(void)state;

	pid = start_peer("server", 256, &fd);
	ipcx__rm_dec_init(&r.d, 0, 0);
	r.head = r.tail = 0;
	assert_rv(ipcx__rpc_authsys_cred(&c.cred, credbuf, &a), 0);

	/* NULL call, one fragment */
	c.xid = ++xid;
	c.proc = 0;
	n = make_call(buf, 400000, &c, NULL, 0);
	send_record(fd, buf, n, 0);
	expect_reply(fd, &r, xid, &d, &x);
	assert_int_equal(d.stat, IPCX__RPC_MSG_ACCEPTED);
	assert_int_equal(d.accept, IPCX__RPC_SUCCESS);
	assert_int_equal(x.pos, x.len);

	/* reverse: arguments in fragments from 3 bytes up */
	tu_fill(arg, 300000, 9);
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		void *res = NULL;
		uint32_t rn = 0;

		c.xid = ++xid;
		c.proc = T_PROC_REVERSE;
		n = make_call(buf, 400000, &c, arg, (uint32_t)sizes[k]);
		send_record(fd, buf, n, (uint32_t)(3 + k * 997));
		expect_reply(fd, &r, xid, &d, &x);
		assert_int_equal(d.accept, IPCX__RPC_SUCCESS);
		assert_rv(ipcx_xdr_bytes(&x, &res, &rn, 0), 0);
		assert_int_equal(rn, sizes[k]);
		for (uint32_t i = 0; i < rn; i++) {
			if (((unsigned char *)res)[i] != arg[rn - 1 - i]) {
				fail_msg("reverse of %u bytes: byte %u differs", rn, i);
			}
		}
	}

	/* what libtirpc read from ipcx's AUTH_SYS credential */
	{
		char *who = NULL;

		c.xid = ++xid;
		c.proc = T_PROC_WHOAMI;
		n = make_call(buf, 400000, &c, NULL, 0);
		send_record(fd, buf, n, 7);
		expect_reply(fd, &r, xid, &d, &x);
		assert_int_equal(d.accept, IPCX__RPC_SUCCESS);
		x.alloc = 1;
		assert_rv(ipcx_xdr_string(&x, &who, 0), 0);
		assert_string_equal(who, "1795702406 machine.example 1000 100 3 100 27 4");
		free(who);
	}

	/* libtirpc's error replies */
	c.xid = ++xid;
	c.proc = 99;
	n = make_call(buf, 400000, &c, NULL, 0);
	send_record(fd, buf, n, 0);
	expect_reply(fd, &r, xid, &d, &x);
	assert_int_equal(d.stat, IPCX__RPC_MSG_ACCEPTED);
	assert_int_equal(d.accept, IPCX__RPC_PROC_UNAVAIL);

	c.xid = ++xid;
	c.proc = 0;
	c.vers = 9;
	n = make_call(buf, 400000, &c, NULL, 0);
	send_record(fd, buf, n, 0);
	expect_reply(fd, &r, xid, &d, &x);
	assert_int_equal(d.accept, IPCX__RPC_PROG_MISMATCH);
	assert_int_equal(d.low, 1);
	assert_int_equal(d.high, 1);

	c.xid = ++xid;
	c.prog = T_PROG + 1;
	c.vers = T_VERS;
	n = make_call(buf, 400000, &c, NULL, 0);
	send_record(fd, buf, n, 0);
	expect_reply(fd, &r, xid, &d, &x);
	assert_int_equal(d.accept, IPCX__RPC_PROG_UNAVAIL);

	close(fd);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx__rm_dec_fini(&r.d);
	free(buf);
	free(arg);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	        T(test_rm_encode_exact_bytes),
	        T(test_rm_decoder_one_byte_at_a_time),
	        T(test_rm_decoder_random_chunks),
	        T(test_rm_decoder_in_place_and_take),
	        T(test_rm_oversize_refused_before_allocation),
	        T(test_rm_last_bit_never_set_is_bounded),
	        T(test_rm_large_buffer_released_after_use),
	        T(test_rm_unwrap_one_record_per_message),
	        T(test_call_round_trip_and_truncation),
	        T(test_call_malformed_headers),
	        T(test_reply_every_kind_round_trip_and_truncation),
	        T(test_reply_unknown_arms_are_refused),
	        T(test_authsys_bounds),
	        T(test_calls_match_libtirpc),
	        T(test_replies_match_libtirpc),
	        T(test_libtirpc_client_calls_ipcx_over_a_stream),
	        T(test_ipcx_calls_a_libtirpc_server_over_a_stream),
	};

	return tu_run("rpc_rm", tests, sizeof tests / sizeof tests[0], getenv("RPC_RM_TEST"));
}
