/*
 * rm.c - RFC 5531 record marking: records cut into marked fragments for a byte stream, one
 * record unwrapped from one message, and the incremental decoder for raw byte streams.
 */
#include "rpc_int.h"

#include <stdlib.h>

static uint32_t
rm_frag_max(uint32_t frag_max)
{
	return frag_max == 0 || frag_max > IPCX__RM_FRAG_MAX ? IPCX__RM_FRAG_MAX : frag_max;
}

size_t
ipcx__rm_nfrags(size_t len, uint32_t frag_max)
{
	uint32_t fm = rm_frag_max(frag_max);

	return len == 0 ? 1 : (len - 1) / fm + 1;
}

size_t
ipcx__rm_wire_size(size_t len, uint32_t frag_max)
{
	size_t nf = ipcx__rm_nfrags(len, frag_max);

	/* saturate: a size that does not fit in size_t fits in no buffer either */
	if (nf > (SIZE_MAX - len) / IPCX__RM_HDR) {
		return SIZE_MAX;
	}
	return len + nf * IPCX__RM_HDR;
}

int
ipcx__rm_encode_iov(struct iovec *iov, size_t iovcap, size_t *iovcnt, unsigned char *hdrs,
                    const void *rec, size_t len, uint32_t frag_max)
{
	uint32_t fm = rm_frag_max(frag_max);
	size_t nf = ipcx__rm_nfrags(len, frag_max);
	const unsigned char *src = rec;
	size_t k = 0, off = 0;

	/* a header and a body per fragment; an empty record is a lone header */
	if (len == 0 ? iovcap < 1 : nf > iovcap / 2) {
		return IPCX_EMSGSIZE;
	}
	for (size_t f = 0; f < nf; f++) {
		size_t flen = len - off < fm ? len - off : fm;

		ipcx__rm_mark(hdrs + f * IPCX__RM_HDR, (uint32_t)flen, f + 1 == nf);
		iov[k].iov_base = hdrs + f * IPCX__RM_HDR;
		iov[k++].iov_len = IPCX__RM_HDR;
		if (flen > 0) {
			iov[k].iov_base = (void *)(src + off);
			iov[k++].iov_len = flen;
		}
		off += flen;
	}
	*iovcnt = k;
	return 0;
}

int
ipcx__rm_encode_buf(void *dst, size_t cap, size_t *wire, const void *rec, size_t len,
                    uint32_t frag_max)
{
	uint32_t fm = rm_frag_max(frag_max);
	size_t nf = ipcx__rm_nfrags(len, frag_max);
	size_t need = ipcx__rm_wire_size(len, frag_max);
	const unsigned char *src = rec;
	unsigned char *w = dst;
	size_t off = 0;

	if (need > cap) {
		return IPCX_EMSGSIZE;
	}
	for (size_t f = 0; f < nf; f++) {
		size_t flen = len - off < fm ? len - off : fm;

		ipcx__rm_mark(w, (uint32_t)flen, f + 1 == nf);
		ipcx__copy(w + IPCX__RM_HDR, src + off, flen);
		w += IPCX__RM_HDR + flen;
		off += flen;
	}
	*wire = need;
	return 0;
}

int
ipcx__rm_unwrap(unsigned char *msg, size_t len, uint32_t max_record, uint32_t max_frags,
                unsigned char **rec, size_t *rec_len)
{
	uint32_t mr = max_record != 0 ? max_record : IPCX__RM_MAX_RECORD_DEFAULT;
	uint32_t mf = max_frags != 0 ? max_frags : IPCX__RM_MAX_FRAGS_DEFAULT;
	uint64_t total = 0;
	size_t in = 0, nf = 0;
	uint32_t h, flen;

	/* check the whole message before moving a byte, so that a refused one is left as it came */
	do {
		if (len - in < IPCX__RM_HDR || ++nf > mf) {
			return IPCX_EBADMSG;
		}
		h = ipcx__be32_get(msg + in);
		flen = h & IPCX__RM_FRAG_MAX;
		if (total + flen > mr) {
			return IPCX_EMSGSIZE;
		}
		if (flen > len - in - IPCX__RM_HDR) {
			return IPCX_EBADMSG;
		}
		total += flen;
		in += IPCX__RM_HDR + flen;
	} while (!(h & IPCX__RM_LAST));
	if (in != len) {
		return IPCX_EBADMSG; /* bytes after the record: not one record per message */
	}
	if (nf > 1) {
		/* close the gaps the later headers leave: each body moves down over them */
		size_t out = IPCX__RM_HDR + (ipcx__be32_get(msg) & IPCX__RM_FRAG_MAX);

		for (in = out; in < len; in += IPCX__RM_HDR + flen) {
			flen = ipcx__be32_get(msg + in) & IPCX__RM_FRAG_MAX;
			memmove(msg + out, msg + in + IPCX__RM_HDR, flen);
			out += flen;
		}
	}
	*rec = msg + IPCX__RM_HDR;
	*rec_len = (size_t)total;
	return 0;
}

/* ---- the incremental decoder --------------------------------------------------------- */

void
ipcx__rm_dec_init(ipcx__rm_dec *d, uint32_t max_record, uint32_t max_frags)
{
	memset(d, 0, sizeof *d);
	d->max_record = max_record != 0 ? max_record : IPCX__RM_MAX_RECORD_DEFAULT;
	d->max_frags = max_frags != 0 ? max_frags : IPCX__RM_MAX_FRAGS_DEFAULT;
}

void
ipcx__rm_dec_fini(ipcx__rm_dec *d)
{
	free(d->buf);
	d->buf = NULL;
	d->cap = 0;
	d->have = 0;
	d->ready = false;
}

static int
rm_dec_fail(ipcx__rm_dec *d, int err)
{
	if (d->err == 0) {
		d->err = err;
	}
	return d->err;
}

/* The caller is done with the record returned last. */
static void
rm_dec_release(ipcx__rm_dec *d)
{
	d->ready = false;
	d->rec = NULL;
	d->rec_len = 0;
	d->have = 0;
	if (d->cap > IPCX__RM_KEEP_BUF) {
		free(d->buf);
		d->buf = NULL;
		d->cap = 0;
	}
}

/* Room for need bytes of record (need <= max_record, checked by the caller). Growth follows
 * the bytes that have arrived, never what a header announced. */
static int
rm_dec_reserve(ipcx__rm_dec *d, size_t need)
{
	size_t ncap;
	void *nbuf;

	if (need <= d->cap) {
		return 0;
	}
	ncap = d->cap < 4096 ? 4096 : d->cap * 2;
	if (ncap > d->max_record) {
		ncap = d->max_record;
	}
	if (ncap < need) {
		ncap = need;
	}
	if ((nbuf = realloc(d->buf, ncap)) == NULL) {
		return IPCX_ENOMEM;
	}
	d->buf = nbuf;
	d->cap = ncap;
	return 0;
}

/* A whole record gathered: hand it out. */
static int
rm_dec_done(ipcx__rm_dec *d, const unsigned char *rec, size_t len)
{
	d->ready = true;
	d->rec = rec;
	d->rec_len = len;
	d->nfrags = 0;
	return 1;
}

int
ipcx__rm_dec_feed(ipcx__rm_dec *d, const void *data, size_t len, size_t *used)
{
	const unsigned char *p = data;
	size_t off = 0, k;
	uint32_t h, flen;
	int rv;

	*used = 0;
	if (d->err != 0) {
		return d->err;
	}
	if (d->ready) {
		rm_dec_release(d);
	}
	while (off < len) {
		if (!d->in_frag) {
			/* The common case on a stream that is not starved: a one-fragment record
			 * wholly inside this chunk. It is handed out in place, without a copy. */
			if (d->hdr_have == 0 && d->nfrags == 0 && len - off >= IPCX__RM_HDR) {
				h = ipcx__be32_get(p + off);
				flen = h & IPCX__RM_FRAG_MAX;
				if ((h & IPCX__RM_LAST) && flen <= d->max_record &&
				    flen <= len - off - IPCX__RM_HDR) {
					*used = off + IPCX__RM_HDR + flen;
					return rm_dec_done(d, p + off + IPCX__RM_HDR, flen);
				}
			}
			k = IPCX__RM_HDR - d->hdr_have;
			if (k > len - off) {
				k = len - off;
			}
			memcpy(d->hdr + d->hdr_have, p + off, k);
			d->hdr_have += (unsigned)k;
			off += k;
			if (d->hdr_have < IPCX__RM_HDR) {
				break;
			}
			d->hdr_have = 0;
			h = ipcx__be32_get(d->hdr);
			flen = h & IPCX__RM_FRAG_MAX;
			/* both limits before a byte of the fragment is stored */
			if (d->nfrags >= d->max_frags) {
				*used = off;
				return rm_dec_fail(d, IPCX_EBADMSG);
			}
			if ((uint64_t)d->have + flen > d->max_record) {
				*used = off;
				return rm_dec_fail(d, IPCX_EMSGSIZE);
			}
			d->nfrags++;
			d->last = (h & IPCX__RM_LAST) != 0;
			d->frag_left = flen;
			d->in_frag = true;
		}
		k = d->frag_left;
		if (k > len - off) {
			k = len - off;
		}
		if (k > 0) {
			if ((rv = rm_dec_reserve(d, d->have + k)) != 0) {
				*used = off;
				return rm_dec_fail(d, rv);
			}
			memcpy(d->buf + d->have, p + off, k);
			d->have += k;
			off += k;
			d->frag_left -= (uint32_t)k;
		}
		if (d->frag_left == 0) {
			d->in_frag = false;
			if (d->last) {
				*used = off;
				/* an empty record has no buffer: point at something valid anyway */
				return rm_dec_done(d, d->buf != NULL ? d->buf : d->hdr, d->have);
			}
		}
	}
	*used = off;
	return 0;
}

int
ipcx__rm_dec_take(ipcx__rm_dec *d, unsigned char **buf, size_t *len)
{
	unsigned char *out;

	if (!d->ready) {
		return IPCX_EINVAL;
	}
	if (d->buf != NULL && d->rec == d->buf) {
		out = d->buf; /* gathered here: hand the buffer over */
		d->buf = NULL;
		d->cap = 0;
	} else {
		if ((out = malloc(d->rec_len > 0 ? d->rec_len : 1)) == NULL) {
			return IPCX_ENOMEM;
		}
		ipcx__copy(out, d->rec, d->rec_len);
	}
	*buf = out;
	*len = d->rec_len;
	rm_dec_release(d);
	return 0;
}

int
ipcx__rm_dec_eof(const ipcx__rm_dec *d)
{
	if (d->err != 0) {
		return d->err;
	}
	return d->hdr_have != 0 || d->in_frag || d->nfrags != 0 ? IPCX_EBADMSG : 0;
}
