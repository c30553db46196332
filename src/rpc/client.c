/*
 * client.c - the ONC RPC client (RFC 5531): calls to one program and version over any
 * scheme, xid matching, udp retransmission with backoff, and rpc://HOST/PROG/VERS lookups.
 */
#include "../core/ipcx_int.h"
#include "rpc_srv.h"
#include "rpcbind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define CLI_CHUNK    65536
#define CLI_RETRY_MS 250
#define CLI_RPCB_MS  5000
#define CLI_DIAL_MS  10000
#define CLI_UDP_MAX  65507

enum cli_kind {
	CLI_MSG, /* one marked record per ipcx message */
	CLI_RAW, /* tcp://: the raw byte stream */
	CLI_UDP, /* one message per datagram, no marks */
};

struct ipcx_rpc_client {
	ipcx_rpc_opts opts;
	size_t max_msg;
	enum cli_kind kind;
	ipcx_chan *c;
	uint32_t prog, vers, xid;
	bool mismatch;
	uint32_t low, high;
	ipcx__rpc_auth cred;
	unsigned char credbuf[IPCX__RPC_AUTH_MAX];
	unsigned char *tx; /* 4 bytes of record mark, then the call */
	unsigned char *rx;
	size_t rxcap;
	/* raw: the decoder and bytes read but not yet fed (a stale reply's neighbours) */
	ipcx__rm_dec dec;
	size_t pend_off, pend_len;
};

/* rpc://HOST/PROG/VERS[?proto=tcp|udp] -> the address HOST's rpcbind gives for it. */
static int
cli_resolve(char *out, size_t cap, const char *url, uint32_t *prog, uint32_t *vers)
{
	char host[256], proto[8] = "tcp", hostport[300];
	const char *p = url + strlen("rpc://"), *slash = strchr(p, '/'), *q;
	unsigned long long pv, vv;
	char *end;
	int rv;

	if (slash == NULL || slash == p || (size_t)(slash - p) >= sizeof host) {
		return IPCX_EBADURL;
	}
	memcpy(host, p, (size_t)(slash - p));
	host[slash - p] = '\0';
	errno = 0;
	pv = strtoull(slash + 1, &end, 0);
	if (errno != 0 || end == slash + 1 || *end != '/' || pv > UINT32_MAX) {
		return IPCX_EBADURL;
	}
	q = end + 1;
	vv = strtoull(q, &end, 0);
	if (errno != 0 || end == q || (*end != '\0' && *end != '?') || vv > UINT32_MAX) {
		return IPCX_EBADURL;
	}
	if (*end == '?') {
		if (strcmp(end, "?proto=tcp") == 0 || strcmp(end, "?proto=udp") == 0) {
			memcpy(proto, end + strlen("?proto="), 4);
		} else {
			return IPCX_EBADURL;
		}
	}
	if ((*prog != 0 && *prog != pv) || (*vers != 0 && *vers != vv)) {
		return IPCX_EINVAL;
	}
	*prog = (uint32_t)pv;
	*vers = (uint32_t)vv;
	rv = ipcx__rpcb_getaddr(host, *prog, *vers, proto, hostport, sizeof hostport, CLI_RPCB_MS);
	if (rv != 0) {
		return rv;
	}
	if (snprintf(out, cap, "%s://%s", proto, hostport) >= (int)cap) {
		return IPCX_ENAMETOOLONG;
	}
	return 0;
}

/* AUTH_SYS credentials of this process (at most 16 groups, as the wire allows). */
static int
cli_authsys(ipcx_rpc_client *c)
{
	ipcx__rpc_authsys a;
	gid_t g[64];
	int n;

	memset(&a, 0, sizeof a);
	a.stamp = (uint32_t)time(NULL);
	if (gethostname(a.machine, sizeof a.machine - 1) != 0) {
		a.machine[0] = '\0';
	}
	a.machine[sizeof a.machine - 1] = '\0';
	a.uid = getuid();
	a.gid = getgid();
	n = getgroups(64, g);
	for (int i = 0; i < n && a.ngids < IPCX__RPC_AUTH_GIDS; i++) {
		a.gids[a.ngids++] = g[i];
	}
	return ipcx__rpc_authsys_cred(&c->cred, c->credbuf, &a);
}

int
ipcx_rpc_client_new(ipcx_rpc_client **cp, const char *url, uint32_t prog, uint32_t vers,
                    const ipcx_rpc_opts *opts)
{
	ipcx_rpc_client *c;
	char real[512];
	ipcx_opts lo;
	int rv;

	if (cp == NULL || url == NULL) {
		return IPCX_EINVAL;
	}
	*cp = NULL;
	if ((c = calloc(1, sizeof *c)) == NULL) {
		return IPCX_ENOMEM;
	}
	if ((rv = ipcx__rpc_opts_fill(&c->opts, &c->max_msg, opts)) != 0) {
		goto fail_free;
	}
	if (strncmp(url, "rpc://", 6) == 0) {
		if ((rv = cli_resolve(real, sizeof real, url, &prog, &vers)) != 0) {
			goto fail_free;
		}
		url = real;
	}
	c->prog = prog;
	c->vers = vers;
	if (getrandom(&c->xid, sizeof c->xid, GRND_NONBLOCK) != sizeof c->xid) {
		c->xid = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16) ^ (uint32_t)(uintptr_t)c;
	}
	c->cred.flavor = IPCX__RPC_AUTH_NONE;
	if (c->opts.auth_sys && (rv = cli_authsys(c)) != 0) {
		goto fail_free;
	}
	ipcx_opts_init(&lo);
	if (strncmp(url, "udp:", 4) == 0) {
		c->kind = CLI_UDP;
		c->rxcap = CLI_UDP_MAX + 1;
	} else if (strncmp(url, "tcp:", 4) == 0) {
		c->kind = CLI_RAW;
		lo.raw = 1;
		c->rxcap = CLI_CHUNK;
	} else {
		c->kind = CLI_MSG;
		c->rxcap = 4096;
	}
	ipcx__rm_dec_init(&c->dec, (uint32_t)c->max_msg, 0);
	if ((c->tx = malloc(c->max_msg + 4)) == NULL || (c->rx = malloc(c->rxcap)) == NULL) {
		rv = IPCX_ENOMEM;
		goto fail_bufs;
	}
	if ((rv = ipcx_dial(&c->c, url, &lo, CLI_DIAL_MS)) != 0) {
		goto fail_bufs;
	}
	*cp = c;
	return 0;
fail_bufs:
	free(c->rx);
	free(c->tx);
fail_free:
	free(c);
	return rv;
}

static int
cli_left(int64_t deadline)
{
	return deadline == IPCX__FOREVER ? -1 : ipcx__poll_ms(deadline);
}

/* The next record from the peer, within the deadline: *rec points into the client's
 * buffers until the next receive. */
static int
cli_recv(ipcx_rpc_client *c, const unsigned char **rec, size_t *len, int timeout_ms)
{
	size_t n, used;
	unsigned char *r;
	int rv;

	if (c->kind == CLI_UDP) {
		rv = ipcx_recv(c->c, c->rx, c->rxcap, &n, timeout_ms);
		if (rv == IPCX_EMSGSIZE) {
			return IPCX_EAGAIN; /* nothing we could have sent asks for that: skip it */
		}
		*rec = c->rx;
		*len = n;
		return rv;
	}
	if (c->kind == CLI_MSG) {
		for (;;) {
			rv = ipcx_recv(c->c, c->rx, c->rxcap, &n, timeout_ms);
			if (rv == IPCX_EMSGSIZE && n <= c->max_msg + 64) {
				unsigned char *b = realloc(c->rx, n);
				if (b == NULL) {
					return IPCX_ENOMEM;
				}
				c->rx = b;
				c->rxcap = n;
				continue;
			}
			if (rv == IPCX_EMSGSIZE) {
				return IPCX_EPROTO; /* a reply over max_msg: it will never fit */
			}
			if (rv != 0) {
				return rv;
			}
			if (ipcx__rm_unwrap(c->rx, n, (uint32_t)c->max_msg, 0, &r, len) != 0) {
				return IPCX_EPROTO;
			}
			*rec = r;
			return 0;
		}
	}
	for (;;) {
		if (c->pend_len == 0) {
			if ((rv = ipcx_recv(c->c, c->rx, c->rxcap, &n, timeout_ms)) != 0) {
				return rv;
			}
			c->pend_off = 0;
			c->pend_len = n;
		}
		rv = ipcx__rm_dec_feed(&c->dec, c->rx + c->pend_off, c->pend_len, &used);
		c->pend_off += used;
		c->pend_len -= used;
		if (rv < 0) {
			return IPCX_EPROTO;
		}
		if (rv == 1) {
			*rec = c->dec.rec;
			*len = c->dec.rec_len;
			return 0;
		}
	}
}

/* Decode a reply to the current call: IPCX_EAGAIN if it is someone else's. */
static int
cli_reply(ipcx_rpc_client *c, const unsigned char *rec, size_t len, ipcx_xdr_fn dec, void *res)
{
	ipcx__rpc_reply r;
	ipcx_xdr x;
	uint32_t xid, type;

	if (ipcx__rpc_peek(rec, len, &xid, &type) != 0 || type != IPCX__RPC_REPLY ||
	    xid != c->xid) {
		return IPCX_EAGAIN;
	}
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, (void *)rec, len);
	if (ipcx__rpc_reply_decode(&x, &r) != 0) {
		return IPCX_EPROTO;
	}
	if (r.stat == IPCX__RPC_MSG_DENIED) {
		if (r.reject == IPCX__RPC_RPC_MISMATCH) {
			c->mismatch = true;
			c->low = r.low;
			c->high = r.high;
			return IPCX_ERPCMISMATCH;
		}
		return IPCX_ERPCAUTH;
	}
	switch (r.accept) {
	case IPCX__RPC_SUCCESS:
		break;
	case IPCX__RPC_PROG_UNAVAIL:
		return IPCX_ERPCPROG;
	case IPCX__RPC_PROG_MISMATCH:
		c->mismatch = true;
		c->low = r.low;
		c->high = r.high;
		return IPCX_ERPCVERS;
	case IPCX__RPC_PROC_UNAVAIL:
		return IPCX_ERPCPROC;
	case IPCX__RPC_GARBAGE_ARGS:
		return IPCX_ERPCARGS;
	case IPCX__RPC_SYSTEM_ERR:
		return IPCX_ERPCSYSTEM;
	default:
		return IPCX_EPROTO;
	}
	if (dec != NULL) {
		x.alloc =
		        1; /* the reply buffer is reused: variable-length results need their own */
		if (dec(&x, res) != 0) {
			return x.err == IPCX_EBADMSG ? IPCX_EPROTO : x.err;
		}
	}
	return 0;
}

int
ipcx_rpc_call(ipcx_rpc_client *c, uint32_t proc, ipcx_xdr_fn enc, const void *args, ipcx_xdr_fn dec,
              void *res, int timeout_ms)
{
	ipcx__rpc_call call;
	ipcx_xdr x;
	int64_t deadline = ipcx__deadline(timeout_ms), next = IPCX__FOREVER;
	unsigned char *msg;
	size_t msglen, wire, len;
	/* set whenever cli_recv returns 0; GCC -O2 cannot see that (maybe-uninitialized) */
	const unsigned char *rec = NULL;
	int rv, retry;

	if (c == NULL) {
		return IPCX_EINVAL;
	}
	memset(&call, 0, sizeof call);
	call.xid = ++c->xid;
	call.rpcvers = IPCX__RPC_VERS;
	call.prog = c->prog;
	call.vers = c->vers;
	call.proc = proc;
	call.cred = c->cred;
	call.verf.flavor = IPCX__RPC_AUTH_NONE;
	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, c->tx + 4,
	              c->kind == CLI_UDP && c->max_msg > CLI_UDP_MAX ? CLI_UDP_MAX : c->max_msg);
	if (ipcx__rpc_call_encode(&x, &call) != 0 || (enc != NULL && enc(&x, (void *)args) != 0)) {
		return x.err != 0 ? x.err : IPCX_EINVAL;
	}
	msglen = x.pos;
	if (c->kind == CLI_UDP) {
		msg = c->tx + 4;
		wire = msglen;
	} else {
		ipcx__rm_mark(c->tx, (uint32_t)msglen, true);
		msg = c->tx;
		wire = msglen + 4;
	}
	retry = c->opts.retry_ms > 0 ? c->opts.retry_ms : CLI_RETRY_MS;
	if ((rv = ipcx_send(c->c, msg, wire, timeout_ms)) != 0) {
		return rv;
	}
	if (c->kind == CLI_UDP) {
		next = ipcx__deadline(retry);
	}
	for (;;) {
		int64_t until = next < deadline ? next : deadline;
		rv = cli_recv(c, &rec, &len, cli_left(until));
		if (rv == IPCX_ETIMEDOUT && until == next && ipcx__now_ns() < deadline) {
			/* udp: the call or its reply was lost; the same xid lets the server answer
			 * from its reply cache instead of running the call twice */
			if ((rv = ipcx_send(c->c, msg, wire, 0)) != 0 && rv != IPCX_ETIMEDOUT) {
				return rv;
			}
			retry = retry > INT32_MAX / 2 ? INT32_MAX : retry * 2;
			next = ipcx__deadline(retry);
			continue;
		}
		if (rv == IPCX_EAGAIN ||
		    (c->kind == CLI_UDP && rv == IPCX_ECONNREFUSED && ipcx__now_ns() < deadline)) {
			continue; /* a datagram we could not use; or an ICMP error: retry on time */
		}
		if (rv != 0) {
			return rv;
		}
		rv = cli_reply(c, rec, len, dec, res);
		if (rv != IPCX_EAGAIN) {
			return rv;
		}
	}
}

int
ipcx_rpc_client_mismatch(ipcx_rpc_client *c, uint32_t *low, uint32_t *high)
{
	if (c == NULL || !c->mismatch) {
		return IPCX_EINVAL;
	}
	if (low != NULL) {
		*low = c->low;
	}
	if (high != NULL) {
		*high = c->high;
	}
	return 0;
}

void
ipcx_rpc_client_close(ipcx_rpc_client *c)
{
	if (c == NULL) {
		return;
	}
	ipcx_close(c->c);
	ipcx__rm_dec_fini(&c->dec);
	free(c->rx);
	free(c->tx);
	free(c);
}
