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

/* opaque_auth is flavor, then body<400>. The header codec writes and reads it in place, with
 * one room check per auth, rather than through the general XDR calls: a header is on the
 * path of every call and every reply.
 *
 * Unlike every other XDR item, the padding of an auth body is not checked on decode:
 * libtirpc's xdr_callmsg copies an odd-length credential or verifier into its send buffer
 * and skips the padding without zeroing it, so a real libtirpc client sends whatever its
 * buffer held there (tests/rpc_rm.c shows it with libtirpc's own bytes). Refusing those
 * calls would break interoperability with RPCSEC_GSS verifiers of odd length. We still
 * write zeros. */

/* Wire size of an auth, or 0 (never a valid size) if it cannot be encoded. */
static uint64_t
rpc_auth_size(const ipcx__rpc_auth *a)
{
	if (a->len > IPCX__RPC_AUTH_MAX || (a->len > 0 && a->body == NULL)) {
		return 0;
	}
	return 8 + ipcx__xdr_rnd(a->len);
}

static unsigned char *
rpc_auth_put(unsigned char *p, const ipcx__rpc_auth *a)
{
	size_t pad = (size_t)ipcx__xdr_rnd(a->len) - a->len;

	ipcx__be32_put(p, a->flavor);
	ipcx__be32_put(p + 4, a->len);
	ipcx__copy(p + 8, a->body, a->len);
	memset(p + 8 + a->len, 0, pad);
	return p + 8 + a->len + pad;
}

static int
rpc_auth_get(ipcx_xdr *x, ipcx__rpc_auth *a)
{
	size_t room = ipcx__xdr_room(x);
	const unsigned char *p = x->buf + x->pos;
	uint32_t len;

	if (x->err != 0) {
		return x->err;
	}
	if (room < 8) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	len = ipcx__be32_get(p + 4);
	if (len > IPCX__RPC_AUTH_MAX || ipcx__xdr_rnd(len) > room - 8) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	a->flavor = ipcx__be32_get(p);
	a->len = len;
	a->body = p + 8;
	x->pos += 8 + (size_t)ipcx__xdr_rnd(len);
	return 0;
}

/* Room check and error for an encode of need bytes (0: a bad auth). */
static int
rpc_encode_room(ipcx_xdr *x, uint64_t need, bool bad_auth_len, bool null_body)
{
	if (x->err != 0) {
		return x->err;
	}
	if (x->op != IPCX_XDR_ENCODE || null_body) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	if (bad_auth_len || need > ipcx__xdr_room(x)) {
		return ipcx__xdr_fail(x, IPCX_EMSGSIZE);
	}
	return 0;
}

int
ipcx__rpc_call_encode(ipcx_xdr *x, const ipcx__rpc_call *c)
{
	uint64_t cs = rpc_auth_size(&c->cred), vs = rpc_auth_size(&c->verf);
	bool bad_len = c->cred.len > IPCX__RPC_AUTH_MAX || c->verf.len > IPCX__RPC_AUTH_MAX;
	unsigned char *p;

	if (rpc_encode_room(x, 24 + cs + vs, bad_len, !bad_len && (cs == 0 || vs == 0)) != 0) {
		return x->err;
	}
	p = x->buf + x->pos;
	ipcx__be32_put(p, c->xid);
	ipcx__be32_put(p + 4, IPCX__RPC_CALL);
	ipcx__be32_put(p + 8, c->rpcvers);
	ipcx__be32_put(p + 12, c->prog);
	ipcx__be32_put(p + 16, c->vers);
	ipcx__be32_put(p + 20, c->proc);
	p = rpc_auth_put(p + 24, &c->cred);
	rpc_auth_put(p, &c->verf);
	x->pos += (size_t)(24 + cs + vs);
	return 0;
}

int
ipcx__rpc_call_decode(ipcx_xdr *x, ipcx__rpc_call *c)
{
	const unsigned char *p = x->buf + x->pos;
	size_t room = ipcx__xdr_room(x);

	if (x->err != 0) {
		return x->err;
	}
	if (x->op != IPCX_XDR_DECODE) {
		return ipcx__xdr_fail(x, IPCX_EINVAL);
	}
	if (room >= 4) {
		c->xid = ipcx__be32_get(p); /* for an error reply, whatever follows */
	}
	if (room < 12 || ipcx__be32_get(p + 4) != IPCX__RPC_CALL) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	c->rpcvers = ipcx__be32_get(p + 8);
	x->pos += 12;
	/* RFC 5531 section 9: a server answers another version with RPC_MISMATCH; the rest of
	 * such a message need not look like ours at all, so it is not read */
	if (c->rpcvers != IPCX__RPC_VERS) {
		return ipcx__xdr_fail(x, IPCX_EPROTONOSUPPORT);
	}
	if (room < 24) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	c->prog = ipcx__be32_get(p + 12);
	c->vers = ipcx__be32_get(p + 16);
	c->proc = ipcx__be32_get(p + 20);
	x->pos += 12;
	rpc_auth_get(x, &c->cred);
	rpc_auth_get(x, &c->verf);
	return x->err;
}

int
ipcx__rpc_reply_encode(ipcx_xdr *x, const ipcx__rpc_reply *r)
{
	bool acc = r->stat == IPCX__RPC_MSG_ACCEPTED;
	uint64_t vs = acc ? rpc_auth_size(&r->verf) : 0;
	bool bad_len = acc && r->verf.len > IPCX__RPC_AUTH_MAX;
	uint32_t v[3];
	unsigned char *p;
	int nv = 0;

	/* an unknown arm would put bytes on the wire that no peer can parse */
	if (acc) {
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
	if (rpc_encode_room(x, 12 + vs + 4 * (uint64_t)nv, bad_len, acc && !bad_len && vs == 0) !=
	    0) {
		return x->err;
	}
	p = x->buf + x->pos;
	ipcx__be32_put(p, r->xid);
	ipcx__be32_put(p + 4, IPCX__RPC_REPLY);
	ipcx__be32_put(p + 8, r->stat);
	p += 12;
	if (acc) {
		p = rpc_auth_put(p, &r->verf);
	}
	for (int i = 0; i < nv; i++, p += 4) {
		ipcx__be32_put(p, v[i]);
	}
	x->pos += (size_t)(12 + vs + 4 * (uint64_t)nv);
	return 0;
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
		if (rpc_auth_get(x, &r->verf) != 0 || ipcx__xdr_u32(x, &r->accept) != 0) {
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
