/*
 * msg.c - the ONC RPC v2 message header (RFC 5531 sections 9, 10 and 14): call and reply
 * headers and AUTH_SYS credentials, encoded and decoded on an XDR stream, zero-copy.
 */
#include "rpc_int.h"

int
ipcx__rpc_peek(const void *msg, size_t len, uint32_t *xid, uint32_t *type)
{
	const unsigned char *p = msg;

	if (len < 8) {
		return IPCX_EBADMSG;
	}
	*xid = ipcx__be32_get(p);
	*type = ipcx__be32_get(p + 4);
	return 0;
}

/* opaque_auth: flavor, then body<400> (pointing into the input when decoding).
 *
 * Unlike every other XDR item, the padding of an auth body is not checked on decode:
 * libtirpc's xdr_callmsg copies an odd-length credential or verifier into its send buffer
 * and skips the padding without zeroing it, so a real libtirpc client sends whatever its
 * buffer held there (tests/rpc_rm.c shows it with libtirpc's own bytes). Refusing those
 * calls would break interoperability with RPCSEC_GSS verifiers of odd length. We still
 * write zeros. */
static int
rpc_auth(ipcx_xdr *x, ipcx__rpc_auth *a)
{
	uint32_t len = 0;

	if (ipcx__xdr_u32(x, &a->flavor) != 0) {
		return x->err;
	}
	if (x->op == IPCX_XDR_ENCODE) {
		return ipcx__xdr_opaque_ref(x, &a->body, &a->len, IPCX__RPC_AUTH_MAX);
	}
	if (ipcx__xdr_u32(x, &len) != 0) {
		return x->err;
	}
	if (len > IPCX__RPC_AUTH_MAX || ipcx__xdr_rnd(len) > ipcx__xdr_room(x)) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	a->len = len;
	a->body = x->buf + x->pos;
	x->pos += (size_t)ipcx__xdr_rnd(len);
	return 0;
}

int
ipcx__rpc_call_encode(ipcx_xdr *x, const ipcx__rpc_call *c)
{
	uint32_t w[6] = {c->xid, IPCX__RPC_CALL, c->rpcvers, c->prog, c->vers, c->proc};
	ipcx__rpc_auth cred = c->cred, verf = c->verf;

	if (x->op != IPCX_XDR_ENCODE) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	for (int i = 0; i < 6; i++) {
		ipcx__xdr_u32(x, &w[i]);
	}
	rpc_auth(x, &cred);
	rpc_auth(x, &verf);
	return x->err;
}

int
ipcx__rpc_call_decode(ipcx_xdr *x, ipcx__rpc_call *c)
{
	uint32_t type = 0;

	if (x->op != IPCX_XDR_DECODE) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	if (ipcx__xdr_u32(x, &c->xid) != 0 || ipcx__xdr_u32(x, &type) != 0) {
		return x->err;
	}
	if (type != IPCX__RPC_CALL) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	if (ipcx__xdr_u32(x, &c->rpcvers) != 0) {
		return x->err;
	}
	/* RFC 5531 section 9: a server answers another version with RPC_MISMATCH; the rest of
	 * such a message need not look like ours at all, so it is not read */
	if (c->rpcvers != IPCX__RPC_VERS) {
		return ipcx__xdr_fail(x, IPCX_EPROTONOSUPPORT);
	}
	ipcx__xdr_u32(x, &c->prog);
	ipcx__xdr_u32(x, &c->vers);
	ipcx__xdr_u32(x, &c->proc);
	rpc_auth(x, &c->cred);
	rpc_auth(x, &c->verf);
	return x->err;
}

int
ipcx__rpc_reply_encode(ipcx_xdr *x, const ipcx__rpc_reply *r)
{
	uint32_t w[3] = {r->xid, IPCX__RPC_REPLY, r->stat};
	ipcx__rpc_auth verf = r->verf;
	uint32_t v[3];
	int nv = 0;

	if (x->op != IPCX_XDR_ENCODE) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	/* an unknown arm would put bytes on the wire that no peer can parse */
	if (r->stat == IPCX__RPC_MSG_ACCEPTED) {
		v[nv++] = r->accept;
		if (r->accept == IPCX__RPC_PROG_MISMATCH) {
			v[nv++] = r->low;
			v[nv++] = r->high;
		}
	} else if (r->stat == IPCX__RPC_MSG_DENIED && r->reject == IPCX__RPC_RPC_MISMATCH) {
		v[nv++] = r->reject;
		v[nv++] = r->low;
		v[nv++] = r->high;
	} else if (r->stat == IPCX__RPC_MSG_DENIED && r->reject == IPCX__RPC_AUTH_ERROR) {
		v[nv++] = r->reject;
		v[nv++] = r->auth;
	} else {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	for (int i = 0; i < 3; i++) {
		ipcx__xdr_u32(x, &w[i]);
	}
	if (r->stat == IPCX__RPC_MSG_ACCEPTED) {
		rpc_auth(x, &verf);
	}
	for (int i = 0; i < nv; i++) {
		ipcx__xdr_u32(x, &v[i]);
	}
	return x->err;
}

int
ipcx__rpc_reply_decode(ipcx_xdr *x, ipcx__rpc_reply *r)
{
	uint32_t type = 0;

	if (x->op != IPCX_XDR_DECODE) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	if (ipcx__xdr_u32(x, &r->xid) != 0 || ipcx__xdr_u32(x, &type) != 0) {
		return x->err;
	}
	if (type != IPCX__RPC_REPLY) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	if (ipcx__xdr_u32(x, &r->stat) != 0) {
		return x->err;
	}
	switch (r->stat) {
	case IPCX__RPC_MSG_ACCEPTED:
		if (rpc_auth(x, &r->verf) != 0 || ipcx__xdr_u32(x, &r->accept) != 0) {
			return x->err;
		}
		if (r->accept == IPCX__RPC_PROG_MISMATCH) {
			ipcx__xdr_u32(x, &r->low);
			ipcx__xdr_u32(x, &r->high);
		}
		return x->err;
	case IPCX__RPC_MSG_DENIED:
		if (ipcx__xdr_u32(x, &r->reject) != 0) {
			return x->err;
		}
		/* rejected_reply's union has no default arm: anything else is not RPC v2 */
		if (r->reject == IPCX__RPC_RPC_MISMATCH) {
			ipcx__xdr_u32(x, &r->low);
			ipcx__xdr_u32(x, &r->high);
		} else if (r->reject == IPCX__RPC_AUTH_ERROR) {
			ipcx__xdr_u32(x, &r->auth);
		} else {
			return ipcx__xdr_fail(x, IPCX_EBADMSG);
		}
		return x->err;
	default:
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
}

int
ipcx__rpc_authsys_xdr(ipcx_xdr *x, ipcx__rpc_authsys *a)
{
	char *machine = a->machine;
	void *gids = a->gids;

	if (x->op == IPCX_XDR_FREE) {
		return x->err; /* all storage is a's own */
	}
	ipcx__xdr_u32(x, &a->stamp);
	/* the name and the gids decode into a's arrays (caller storage: never allocated, never
	 * zero-copy), bounded by RFC 5531's 255 bytes and 16 groups */
	ipcx_xdr_string(x, &machine, IPCX__RPC_MACHINE_MAX);
	ipcx__xdr_u32(x, &a->uid);
	ipcx__xdr_u32(x, &a->gid);
	ipcx_xdr_array(x, &gids, &a->ngids, IPCX__RPC_AUTH_GIDS, sizeof a->gids[0],
	               (ipcx_xdr_fn)ipcx_xdr_uint);
	return x->err;
}

int
ipcx__rpc_authsys_cred(ipcx__rpc_auth *cred, unsigned char *buf, const ipcx__rpc_authsys *a)
{
	ipcx__rpc_authsys tmp = *a; /* the xdr routine takes a mutable object for both ways */
	ipcx_xdr x;

	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, IPCX__RPC_AUTH_MAX);
	if (ipcx__rpc_authsys_xdr(&x, &tmp) != 0) {
		return x.err;
	}
	cred->flavor = IPCX__RPC_AUTH_SYS;
	cred->len = (uint32_t)x.pos;
	cred->body = buf;
	return 0;
}

int
ipcx__rpc_authsys_parse(ipcx__rpc_authsys *a, const ipcx__rpc_auth *cred)
{
	ipcx_xdr x;

	if (cred->flavor != IPCX__RPC_AUTH_SYS) {
		return IPCX_EINVAL;
	}
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, (void *)cred->body, cred->len);
	if (ipcx__rpc_authsys_xdr(&x, a) != 0) {
		return x.err;
	}
	/* trailing bytes would be a credential that says more than the fields we show the
	 * handler: refuse rather than guess */
	return x.pos == cred->len ? 0 : IPCX_EBADMSG;
}
