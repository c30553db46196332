/*
 * fuzz_rpc_rm.c - libFuzzer target for RFC 5531 record marking: arbitrary bytes fed to the
 * stream decoder in one piece and in arbitrary chunks must give the same records and the
 * same error, within the limits; records re-encoded in any fragment size decode back.
 */
#include "rpc/rpc_int.h"

#include <stdlib.h>
#include <string.h>

/* What one run of the decoder produced. */
typedef struct result {
	unsigned char *bytes; /* the records, back to back */
	size_t len;
	size_t lens[16384];
	size_t n;
	int err; /* the sticky error, or 0 */
	int eof; /* ipcx__rm_dec_eof at the end */
} result;

static result one, chunked;

static uint32_t
next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
check(int cond)
{
	if (!cond) {
		abort();
	}
}

/* Feed data in chunks (maxchunk 0: all at once), collecting records into r. */
static void
run(result *r, const unsigned char *data, size_t size, uint32_t max_record, uint32_t max_frags,
    uint32_t seed, size_t maxchunk)
{
	ipcx__rm_dec d;
	size_t off = 0;

	r->len = 0;
	r->n = 0;
	r->err = 0;
	ipcx__rm_dec_init(&d, max_record, max_frags);
	while (off < size && r->err == 0) {
		size_t chunk = maxchunk == 0 ? size - off : 1 + next(&seed) % maxchunk;
		size_t c = 0;

		if (chunk > size - off) {
			chunk = size - off;
		}
		while (c < chunk) {
			size_t used = 0;
			int rv = ipcx__rm_dec_feed(&d, data + off + c, chunk - c, &used);

			check(used <= chunk - c);
			c += used;
			if (rv < 0) {
				r->err = rv;
				break;
			}
			if (rv == 0) {
				check(c == chunk);
				break;
			}
			check(d.rec_len <= d.max_record && r->n < 16384);
			memcpy(r->bytes + r->len, d.rec, d.rec_len);
			r->len += d.rec_len;
			r->lens[r->n++] = d.rec_len;
			/* sometimes take the record over, as a server handing it to a worker */
			if (next(&seed) % 4 == 0) {
				unsigned char *t;
				size_t tl;

				check(ipcx__rm_dec_take(&d, &t, &tl) == 0);
				check(tl == r->lens[r->n - 1] &&
				      memcmp(t, r->bytes + r->len - tl, tl) == 0);
				free(t);
			}
		}
		off += chunk;
	}
	r->eof = ipcx__rm_dec_eof(&d);
	ipcx__rm_dec_fini(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t max_record, max_frags, seed;

	if (size < 3 || size > 65536) {
		return 0;
	}
	/* small limits make the limit paths reachable; 0 picks the defaults */
	max_record = data[0] == 0 ? 0 : (uint32_t)data[0] * 97;
	max_frags = data[1] % 32;
	seed = (uint32_t)data[2] * 2654435761u + 1;
	data += 3;
	size -= 3;
	if (one.bytes == NULL) {
		one.bytes = malloc(65536);
		chunked.bytes = malloc(65536);
		check(one.bytes != NULL && chunked.bytes != NULL);
	}

	run(&one, data, size, max_record, max_frags, seed, 0);
	for (size_t maxchunk = 1; maxchunk <= 4096; maxchunk *= 8) {
		run(&chunked, data, size, max_record, max_frags, seed + (uint32_t)maxchunk,
		    maxchunk);
		check(chunked.n == one.n && chunked.len == one.len && chunked.err == one.err &&
		      chunked.eof == one.eof);
		check(memcmp(chunked.lens, one.lens, one.n * sizeof one.lens[0]) == 0);
		check(memcmp(chunked.bytes, one.bytes, one.len) == 0);
	}

	/* a message that unwraps is exactly one record to the stream decoder */
	{
		unsigned char *copy = malloc(size + 1), *rec;
		size_t rl;

		check(copy != NULL);
		memcpy(copy, data, size);
		if (ipcx__rm_unwrap(copy, size, max_record, max_frags, &rec, &rl) == 0) {
			check(one.n == 1 && one.err == 0 && one.eof == 0 && one.lens[0] == rl);
			check(memcmp(rec, one.bytes, rl) == 0);
		}
		free(copy);
	}

	/* every record re-encoded in some fragment size decodes to itself */
	{
		size_t off = 0;

		for (size_t i = 0; i < one.n && i < 8; i++) {
			uint32_t fm = 1 + next(&seed) % 300;
			size_t wl = ipcx__rm_wire_size(one.lens[i], fm), used;
			unsigned char *w = malloc(wl);
			ipcx__rm_dec d;

			check(w != NULL);
			check(ipcx__rm_encode_buf(w, wl, &wl, one.bytes + off, one.lens[i], fm) ==
			      0);
			ipcx__rm_dec_init(&d, 0, 1u << 20);
			check(ipcx__rm_dec_feed(&d, w, wl, &used) == 1 && used == wl);
			check(d.rec_len == one.lens[i] &&
			      memcmp(d.rec, one.bytes + off, d.rec_len) == 0);
			ipcx__rm_dec_fini(&d);
			free(w);
			off += one.lens[i];
		}
	}
	return 0;
}
