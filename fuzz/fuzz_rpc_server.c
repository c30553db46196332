/*
 * fuzz_rpc_server.c - libFuzzer target for the server's call path from a peer's bytes: a
 * record (unwrap, or the stream decoder fed in chunks), then dispatch, credentials, handler
 * argument decoding and the reply: every reply decodes and answers the call's xid.
 */
#include "rpc/rpc_srv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define F_PROG 0x20000099u

static ipcx_rpc_server *srv;

/* What is registered, in no particular order (the server keeps its table sorted): the
 * replies are checked against a plain scan of this list. UINT32_MAX is the edge of the
 * server's search for a program's last entry. */
static const uint32_t f_regs[][3] = {
        {F_PROG, 3, 2},     {F_PROG, 1, 1},     {F_PROG, 3, 1},
        {F_PROG, 1, 3},     {F_PROG, 1, 2},     {F_PROG, 3, 3},
        {F_PROG - 1, 7, 1}, {UINT32_MAX, 9, 1}, {UINT32_MAX, UINT32_MAX, 2},
};
#define F_NREGS (sizeof f_regs / sizeof f_regs[0])

#define check(cond) check_at((cond), __LINE__)

static void
check_at(int cond, int line)
{
	if (!cond) {
		fprintf(stderr, "fuzz_rpc_server.c:%d: check failed\n", line);
		abort();
	}
}

/* ADD-like: two ints -> int; 2: a string<64> allocated and freed -> its length; 3: fails. */
static int
f_handler(ipcx_rpc_req *req, void *arg)
{
	int32_t a = 0, b = 0;
	char *s = NULL;
	uint32_t n;
	ipcx_xdr fr;

	(void)arg;
	switch (req->proc) {
	case 1:
		if (ipcx_xdr_int(req->args, &a) != 0 || ipcx_xdr_int(req->args, &b) != 0) {
			return IPCX_RPC_GARBAGE_ARGS;
		}
		a = (int32_t)((uint32_t)a + (uint32_t)b);
		return ipcx_xdr_int(req->res, &a) == 0 ? IPCX_RPC_SUCCESS : IPCX_RPC_SYSTEM_ERR;
	case 2:
		req->args->alloc = 1;
		if (ipcx_xdr_string(req->args, &s, 64) != 0) {
			ipcx_xdr_init(&fr, IPCX_XDR_FREE, NULL, 0);
			ipcx_xdr_string(&fr, &s, 64);
			return IPCX_RPC_GARBAGE_ARGS;
		}
		n = (uint32_t)strlen(s);
		free(s);
		return ipcx_xdr_uint(req->res, &n) == 0 ? IPCX_RPC_SUCCESS : IPCX_RPC_SYSTEM_ERR;
	default:
		return IPCX_RPC_SYSTEM_ERR;
	}
}

static void
f_setup(void)
{
	char url[64];

	snprintf(url, sizeof url, "unix:@ipcx-fuzz-rpc-server-%d", (int)getpid());
	check(ipcx_rpc_server_new(&srv, url, NULL) == 0);
	for (size_t i = 0; i < F_NREGS; i++) {
		check(ipcx_rpc_register(srv, f_regs[i][0], f_regs[i][1], f_regs[i][2], f_handler,
		                        NULL) == 0);
	}
}

/* An accepted reply's status against a scan of f_regs: which of PROG_UNAVAIL, PROG_MISMATCH
 * (with the lowest and highest version), PROC_UNAVAIL, NULL's empty success, or a handler's
 * own status the call should have drawn. */
static void
f_check_dispatch(const unsigned char *rec, size_t len, const ipcx__rpc_reply *r)
{
	ipcx__rpc_call c;
	ipcx_xdr x;
	bool prog = false, vers = false, hit = false;
	uint32_t low = UINT32_MAX, high = 0;

	ipcx_xdr_init(&x, IPCX_XDR_DECODE, (void *)rec, len);
	check(ipcx__rpc_call_decode(&x, &c) == 0);
	for (size_t i = 0; i < F_NREGS; i++) {
		if (f_regs[i][0] != c.prog) {
			continue;
		}
		prog = true;
		low = f_regs[i][1] < low ? f_regs[i][1] : low;
		high = f_regs[i][1] > high ? f_regs[i][1] : high;
		vers |= f_regs[i][1] == c.vers;
		hit |= f_regs[i][1] == c.vers && f_regs[i][2] == c.proc;
	}
	if (!prog) {
		check(r->accept == IPCX__RPC_PROG_UNAVAIL);
	} else if (!vers) {
		check(r->accept == IPCX__RPC_PROG_MISMATCH && r->low == low && r->high == high);
	} else if (!hit) {
		check(r->accept == (c.proc == 0 ? IPCX__RPC_SUCCESS : IPCX__RPC_PROC_UNAVAIL));
	} else {
		check(r->accept == IPCX__RPC_SUCCESS || r->accept == IPCX__RPC_GARBAGE_ARGS ||
		      r->accept == IPCX__RPC_SYSTEM_ERR);
	}
}

/* Serve one record and check the reply against the call. */
static void
f_serve(const unsigned char *rec, size_t len, size_t cap)
{
	static unsigned char out[4096];
	ipcx__rpc_peer peer = {true, 1, 2, 3};
	ipcx__rpc_reply r;
	ipcx_xdr x;
	size_t outlen = 0;
	uint32_t xid, type;
	int rv = ipcx__rpc_serve_one(srv, rec, len, &peer, out, cap, &outlen);

	if (rv != 0) {
		check(rv == IPCX_EBADMSG && outlen == 0);
		return;
	}
	check(outlen >= 20 && outlen <= cap); /* AUTH_ERROR, the shortest: 5 words */
	check(ipcx__rpc_peek(rec, len, &xid, &type) == 0 && type == IPCX__RPC_CALL);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, out, outlen);
	check(ipcx__rpc_reply_decode(&x, &r) == 0);
	check(r.xid == xid);
	if (r.stat == IPCX__RPC_MSG_ACCEPTED && r.accept != IPCX__RPC_SUCCESS) {
		check(x.pos == outlen); /* an error reply carries nothing after its header */
	}
	if (r.stat == IPCX__RPC_MSG_ACCEPTED) {
		f_check_dispatch(rec, len, &r);
	}
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	unsigned char *copy;
	unsigned char *rec;
	size_t cap, len, off, used;
	ipcx__rm_dec d;

	if (srv == NULL) {
		f_setup();
	}
	if (size < 2) {
		return 0;
	}
	/* byte 0: how the record arrives; byte 1: the reply room (tiny ones hit SYSTEM_ERR) */
	cap = 32 + (size_t)data[1] * 16;
	if ((copy = malloc(size - 2 + 1)) == NULL) {
		return 0;
	}
	memcpy(copy, data + 2, size - 2);
	switch (data[0] % 3) {
	case 0: /* one record per message, as on unix:// */
		if (ipcx__rm_unwrap(copy, size - 2, 4096, 0, &rec, &len) == 0) {
			f_serve(rec, len, cap);
		}
		break;
	case 1: /* a udp datagram */
		f_serve(copy, size - 2, cap);
		break;
	default: /* a tcp stream in chunks of 1 + data[0] / 3 bytes */
		ipcx__rm_dec_init(&d, 4096, 64);
		for (off = 0; off < size - 2; off += used) {
			size_t chunk = 1 + data[0] / 3;
			int rv;
			if (chunk > size - 2 - off) {
				chunk = size - 2 - off;
			}
			rv = ipcx__rm_dec_feed(&d, copy + off, chunk, &used);
			if (rv < 0) {
				break;
			}
			if (rv == 1) {
				f_serve(d.rec, d.rec_len, cap);
			}
		}
		ipcx__rm_dec_fini(&d);
		break;
	}
	free(copy);
	return 0;
}
