/*
 * fuzz_rpc_msg.c - libFuzzer target for the RPC call and reply header decoders, AUTH_SYS
 * credentials and XDR decodes of composite types (zero copy, caller storage, alloc + FREE)
 * from arbitrary bytes: nothing read out of bounds, nothing leaked, and whatever decodes
 * encodes back to the same bytes.
 */
#include "rpc/rpc_int.h"

#include <stdlib.h>
#include <string.h>

static void
check(int cond)
{
	if (!cond) {
		abort();
	}
}

/* ---- a composite type with every kind of item --------------------------------------- */

typedef struct item {
	int32_t id;
	char *name;
	void *blob;
	uint32_t blob_len;
	double d;
} item;

typedef struct rec {
	uint32_t flags;
	char *title;
	item *items;
	uint32_t nitems;
	int64_t big;
	int ok;
	float f;
	uint32_t fixed[2];
	unsigned char tag[3];
	uint64_t *hs;
	uint32_t nhs;
	struct rec *next;
} rec;

static int
xdr_item(ipcx_xdr *x, void *obj)
{
	item *it = obj;

	ipcx_xdr_int(x, &it->id);
	ipcx_xdr_string(x, &it->name, 40);
	ipcx_xdr_bytes(x, &it->blob, &it->blob_len, 100);
	ipcx_xdr_double(x, &it->d);
	return x->err;
}

static int
xdr_rec(ipcx_xdr *x, void *obj)
{
	rec *r = obj;

	ipcx_xdr_uint(x, &r->flags);
	ipcx_xdr_string(x, &r->title, 0);
	ipcx_xdr_array(x, (void **)&r->items, &r->nitems, 50, sizeof(item), xdr_item);
	ipcx_xdr_hyper(x, &r->big);
	ipcx_xdr_bool(x, &r->ok);
	ipcx_xdr_float(x, &r->f);
	ipcx_xdr_vector(x, r->fixed, 2, sizeof(uint32_t), (ipcx_xdr_fn)ipcx_xdr_uint);
	ipcx_xdr_opaque(x, r->tag, 3);
	ipcx_xdr_array(x, (void **)&r->hs, &r->nhs, 0, sizeof(uint64_t),
	               (ipcx_xdr_fn)ipcx_xdr_uhyper);
	ipcx_xdr_optional(x, (void **)&r->next, sizeof(rec), xdr_rec);
	return x->err;
}

/* A flat type for caller storage and zero copy (no alloc at all). */
typedef struct flat {
	char name[33];
	void *blob; /* zero copy */
	uint32_t blob_len;
	int32_t vals[8];
	uint32_t nvals;
	int present;
	int32_t opt, *optp;
} flat;

static int
xdr_int_fn(ipcx_xdr *x, void *p)
{
	return ipcx_xdr_int(x, p);
}

static int
xdr_flat(ipcx_xdr *x, flat *f)
{
	char *name = f->name;
	void *vals = f->vals;

	ipcx_xdr_string(x, &name, 32);
	ipcx_xdr_bytes(x, &f->blob, &f->blob_len, 0);
	ipcx_xdr_array(x, &vals, &f->nvals, 8, sizeof(int32_t), xdr_int_fn);
	ipcx_xdr_optional(x, (void **)&f->optp, sizeof(int32_t), xdr_int_fn);
	return x->err;
}

static unsigned char out[1 << 17];

/* Whatever decodes re-encodes to exactly the bytes it came from: XDR with strict padding
 * and strict bools has one encoding per value. */
static void
fuzz_composite(const uint8_t *data, size_t size, uint32_t max_len)
{
	ipcx_xdr x;
	rec r;
	size_t used;

	memset(&r, 0, sizeof r);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, (void *)data, size);
	x.alloc = 1;
	x.max_len = max_len;
	if (xdr_rec(&x, &r) == 0) {
		used = x.pos;
		check(used <= size);
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, out, sizeof out);
		check(xdr_rec(&x, &r) == 0 && x.pos == used && memcmp(out, data, used) == 0);
	} else {
		check(x.err == IPCX_EBADMSG || x.err == IPCX_ENOMEM);
	}
	/* also after a failure, FREE releases everything (LeakSanitizer checks) */
	ipcx_xdr_init(&x, IPCX_XDR_FREE, NULL, 0);
	check(xdr_rec(&x, &r) == 0);
	check(r.title == NULL && r.items == NULL && r.next == NULL && r.hs == NULL);
}

static void
fuzz_flat(const uint8_t *data, size_t size, uint32_t max_len)
{
	flat f;
	ipcx_xdr x;

	memset(&f, 0, sizeof f);
	f.optp = &f.opt;
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, (void *)data, size);
	x.max_len = max_len;
	if (xdr_flat(&x, &f) == 0) {
		size_t used = x.pos;

		check(strlen(f.name) <= 32 && f.nvals <= 8);
		check(f.blob_len == 0 || ((const uint8_t *)f.blob >= data &&
		                          (const uint8_t *)f.blob + f.blob_len <= data + size));
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, out, sizeof out);
		check(xdr_flat(&x, &f) == 0 && x.pos == used && memcmp(out, data, used) == 0);
	}
}

/* ---- RPC headers ----------------------------------------------------------------------- */

static void
fuzz_call(const uint8_t *data, size_t size)
{
	ipcx__rpc_call c, c2;
	ipcx_xdr x;
	int rv;

	memset(&c, 0, sizeof c);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, (void *)data, size);
	rv = ipcx__rpc_call_decode(&x, &c);
	if (rv == IPCX_EPROTONOSUPPORT) {
		check(c.rpcvers != 2 && x.pos == 12);
		return;
	}
	if (rv != 0) {
		check(rv == IPCX_EBADMSG);
		return;
	}
	check(c.cred.len <= 400 && c.verf.len <= 400);
	check(c.cred.body >= data && c.cred.body + c.cred.len <= data + size);
	check(c.verf.body >= data && c.verf.body + c.verf.len <= data + size);
	/* re-encoded: the same length, and the same fields when decoded again (the padding of
	 * auth bodies is the one place where the input may differ: see msg.c) */
	{
		size_t used = x.pos;

		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, out, sizeof out);
		check(ipcx__rpc_call_encode(&x, &c) == 0 && x.pos == used);
		ipcx_xdr_init(&x, IPCX_XDR_DECODE, out, used);
		check(ipcx__rpc_call_decode(&x, &c2) == 0 && x.pos == used);
		check(c2.xid == c.xid && c2.prog == c.prog && c2.vers == c.vers &&
		      c2.proc == c.proc && c2.cred.flavor == c.cred.flavor &&
		      c2.cred.len == c.cred.len && c2.verf.len == c.verf.len &&
		      memcmp(c2.cred.body, c.cred.body, c.cred.len) == 0);
	}
	/* the credential as AUTH_SYS, whatever its flavor said */
	{
		ipcx__rpc_auth cred = c.cred;
		ipcx__rpc_authsys a;
		ipcx__rpc_auth again;
		unsigned char buf[IPCX__RPC_AUTH_MAX];

		cred.flavor = IPCX__RPC_AUTH_SYS;
		if (ipcx__rpc_authsys_parse(&a, &cred) == 0) {
			check(strlen(a.machine) <= 255 && a.ngids <= 16);
			check(ipcx__rpc_authsys_cred(&again, buf, &a) == 0);
			check(again.len == cred.len && memcmp(buf, cred.body, cred.len) == 0);
		}
	}
}

static void
fuzz_reply(const uint8_t *data, size_t size)
{
	ipcx__rpc_reply r, r2;
	ipcx_xdr x;
	size_t used;

	memset(&r, 0, sizeof r);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, (void *)data, size);
	if (ipcx__rpc_reply_decode(&x, &r) != 0) {
		check(x.err == IPCX_EBADMSG);
		return;
	}
	used = x.pos;
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, out, sizeof out);
	check(ipcx__rpc_reply_encode(&x, &r) == 0 && x.pos == used);
	memset(&r2, 0, sizeof r2);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, out, used);
	check(ipcx__rpc_reply_decode(&x, &r2) == 0 && x.pos == used);
	check(r2.xid == r.xid && r2.stat == r.stat && r2.accept == r.accept &&
	      r2.reject == r.reject && r2.low == r.low && r2.high == r.high && r2.auth == r.auth);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t max_len;
	uint8_t mode;

	if (size < 2 || size > 65536) {
		return 0;
	}
	mode = data[0];
	max_len = data[1] < 128 ? 0 : (uint32_t)(data[1] - 127);
	data += 2;
	size -= 2;
	switch (mode % 4) {
	case 0:
		fuzz_call(data, size);
		break;
	case 1:
		fuzz_reply(data, size);
		break;
	case 2:
		fuzz_composite(data, size, max_len);
		break;
	default:
		fuzz_flat(data, size, max_len);
		break;
	}
	return 0;
}
