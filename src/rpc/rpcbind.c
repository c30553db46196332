/*
 * rpcbind.c - the library's rpcbind client (RFC 1833): register, unregister, look up and
 * list programs over TCP to HOST:111, versions 4 and 3 first, the portmapper (2) after.
 */
#include "rpcbind.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* Procedure numbers: RPCBPROC_* (versions 3 and 4) and PMAPPROC_* (version 2) share them. */
enum {
	RPCB_SET = 1,
	RPCB_UNSET = 2,
	RPCB_GETADDR = 3, /* PMAPPROC_GETPORT in version 2 */
	RPCB_DUMP = 4,
};

#define RPCB_STR_MAX  1024 /* netid, address and owner strings from rpcbind */
#define RPCB_DUMP_MAX 4096 /* entries in one dump: rpcbind is trusted little more than a peer */
#define RPCB_MAX_REC  (4u * 1024 * 1024)
#define RPCB_CALL_MAX (IPCX__RPC_CALL_HDR_MAX + 4 * RPCB_STR_MAX)
#define RPCB_PROBE_MS 500 /* how long a registered udp service has to answer a NULL call */

/* One TCP connection to an rpcbind, kept for the version fallbacks of one operation. */
typedef struct rpcb_conn {
	int fd;
	uint32_t xid;
	int64_t deadline;
	uint32_t top; /* the newest version this rpcbind may speak: 4, lowered by refusals */
	ipcx__rm_dec dec;
	unsigned char *rec; /* the last reply record (malloc'd) */
	size_t rec_len;
} rpcb_conn;

/* The rpcb structure of RFC 1833 (versions 3 and 4). */
typedef struct rpcb_map {
	uint32_t prog, vers;
	const char *netid, *addr, *owner;
} rpcb_map;

static int
rpcb_connect(rpcb_conn *c, const char *host, int timeout_ms)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rv, fd = -1;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->top = 4;
	c->deadline = ipcx__deadline(timeout_ms);
	/* xids only need to differ between the calls of one connection */
	c->xid = (uint32_t)ipcx__now_ns() ^ ((uint32_t)getpid() << 16);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rv = ipcx__getaddrinfo(host != NULL && host[0] != '\0' ? host : "127.0.0.1", "111", &hints,
	                       &res, c->deadline);
	if (rv != 0) {
		return rv;
	}
	rv = IPCX_ECONNREFUSED;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			rv = ipcx__err(errno);
			continue;
		}
		rv = ipcx__connect_fd(fd, ai->ai_addr, ai->ai_addrlen, c->deadline);
		if (rv == 0) {
			break;
		}
		ipcx__close_fd(fd);
		fd = -1;
		if (rv == IPCX_ETIMEDOUT) {
			break; /* the whole operation shares one deadline */
		}
	}
	freeaddrinfo(res);
	if (fd == -1) {
		return rv;
	}
	c->fd = fd;
	ipcx__rm_dec_init(&c->dec, RPCB_MAX_REC, 0);
	return 0;
}

static void
rpcb_close(rpcb_conn *c)
{
	if (c->fd != -1) {
		ipcx__rm_dec_fini(&c->dec);
		ipcx__close_fd(c->fd);
		c->fd = -1;
	}
	free(c->rec);
	c->rec = NULL;
}

/* Read the reply record to xid (a stray reply to an older xid is skipped). */
static int
rpcb_read_reply(rpcb_conn *c, uint32_t xid)
{
	unsigned char chunk[4096];
	size_t off = 0, have = 0;
	bool wait_first = true;

	for (;;) {
		size_t used = 0;
		int rv;
		uint32_t rxid, type;
		if (off == have) {
			ssize_t n = ipcx__read_some(c->fd, true, chunk, sizeof chunk, c->deadline,
			                            &wait_first);
			if (n < 0) {
				return (int)n;
			}
			off = 0;
			have = (size_t)n;
		}
		rv = ipcx__rm_dec_feed(&c->dec, chunk + off, have - off, &used);
		off += used;
		if (rv < 0) {
			return rv;
		}
		if (rv == 0) {
			continue;
		}
		free(c->rec);
		c->rec = NULL;
		if ((rv = ipcx__rm_dec_take(&c->dec, &c->rec, &c->rec_len)) != 0) {
			return rv;
		}
		if (ipcx__rpc_peek(c->rec, c->rec_len, &rxid, &type) == 0 && rxid == xid &&
		    type == IPCX__RPC_REPLY) {
			/* rpcbind answers one call at a time: nothing of value follows in chunk */
			return off == have ? 0 : IPCX_EBADMSG;
		}
	}
}

/* rpcb_call's answer when this rpcbind does not speak the version asked: try an older one. */
#define RPCB_OLDER 1

/* Call (prog 100000, vers, proc) with args encoded by enc; on success *x is a decode stream
 * positioned at the results (valid until the next call on c). RPCB_OLDER for PROG_MISMATCH
 * and PROG_UNAVAIL (a portmapper answers either for versions 3 and 4); rpcbind's other
 * refusals map to IPCX_ERPC*. */
static int
rpcb_call(rpcb_conn *c, uint32_t vers, uint32_t proc, int (*enc)(ipcx_xdr *, const void *),
          const void *args, ipcx_xdr *x)
{
	unsigned char buf[IPCX__RM_HDR + RPCB_CALL_MAX];
	ipcx__rpc_call call = {.rpcvers = IPCX__RPC_VERS, .prog = IPCX__RPCB_PROG};
	ipcx__rpc_reply rep;
	ipcx_xdr e;
	struct iovec iov;
	size_t done;
	int rv;

	call.xid = ++c->xid;
	call.vers = vers;
	call.proc = proc;
	ipcx_xdr_init(&e, IPCX_XDR_ENCODE, buf + IPCX__RM_HDR, sizeof buf - IPCX__RM_HDR);
	if ((rv = ipcx__rpc_call_encode(&e, &call)) != 0) {
		return rv;
	}
	if (enc != NULL && (rv = enc(&e, args)) != 0) {
		return rv;
	}
	ipcx__rm_mark(buf, (uint32_t)e.pos, true);
	iov.iov_base = buf;
	iov.iov_len = IPCX__RM_HDR + e.pos;
	if ((rv = ipcx__writev_all(c->fd, IPCX__IO_SOCKET, &iov, 1, c->deadline, &done)) != 0) {
		return rv;
	}
	if ((rv = rpcb_read_reply(c, call.xid)) != 0) {
		return rv;
	}
	ipcx_xdr_init(x, IPCX_XDR_DECODE, c->rec, c->rec_len);
	x->max_len = RPCB_STR_MAX;
	memset(&rep, 0, sizeof rep);
	if ((rv = ipcx__rpc_reply_decode(x, &rep)) != 0) {
		return rv;
	}
	if (rep.stat == IPCX__RPC_MSG_DENIED) {
		return rep.reject == IPCX__RPC_RPC_MISMATCH ? IPCX_ERPCMISMATCH : IPCX_ERPCAUTH;
	}
	switch (rep.accept) {
	case IPCX__RPC_SUCCESS:
		return 0;
	case IPCX__RPC_PROG_UNAVAIL:
	case IPCX__RPC_PROG_MISMATCH:
		if (vers <= c->top) {
			c->top = vers - 1; /* the next operation on c starts below */
		}
		return RPCB_OLDER;
	case IPCX__RPC_PROC_UNAVAIL:
		return IPCX_ERPCPROC;
	case IPCX__RPC_GARBAGE_ARGS:
		return IPCX_ERPCARGS;
	default:
		return IPCX_ERPCSYSTEM;
	}
}

/* Decode a string<RPCB_STR_MAX> into buf (cap bytes); longer than cap is IPCX_EBADMSG. */
static int
rpcb_str_dec(ipcx_xdr *x, char *buf, size_t cap)
{
	const unsigned char *p;
	uint32_t n;
	int rv;

	if ((rv = ipcx__xdr_opaque_ref(x, &p, &n, RPCB_STR_MAX)) != 0) {
		return rv;
	}
	if (n >= cap || memchr(p, '\0', n) != NULL) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 0;
}

static int
rpcb_str_enc(ipcx_xdr *x, const char *s)
{
	char *p = (char *)s; /* an encode only reads it */

	return ipcx_xdr_string(x, &p, RPCB_STR_MAX);
}

static int
rpcb_map_enc(ipcx_xdr *x, const void *arg)
{
	const rpcb_map *m = arg;
	uint32_t prog = m->prog, vers = m->vers;

	ipcx__xdr_u32(x, &prog);
	ipcx__xdr_u32(x, &vers);
	rpcb_str_enc(x, m->netid);
	rpcb_str_enc(x, m->addr);
	return rpcb_str_enc(x, m->owner);
}

/* The portmapper's mapping {prog, vers, prot, port}: arg points at four uint32_t. */
static int
pmap_map_enc(ipcx_xdr *x, const void *arg)
{
	uint32_t v[4];

	memcpy(v, arg, sizeof v);
	for (int i = 0; i < 4; i++) {
		ipcx__xdr_u32(x, &v[i]);
	}
	return x->err;
}

static int
rpcb_bool_dec(ipcx_xdr *x, bool *b)
{
	uint32_t v = 0;
	int rv;

	if ((rv = ipcx__xdr_u32(x, &v)) != 0) {
		return rv;
	}
	if (v > 1) {
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
	*b = v == 1;
	return 0;
}

static uint32_t
netid_prot(const char *netid)
{
	return strcmp(netid, "udp") == 0 ? IPPROTO_UDP : IPPROTO_TCP;
}

/* A universal address ("h1.h2.h3.h4.p1.p2", or an IPv6 one with the same two port parts)
 * split into its host part (in host, cap bytes) and port. IPCX_EBADMSG if it is not one. */
static int
uaddr_split(const char *ua, char *host, size_t cap, unsigned *port)
{
	const char *p2 = strrchr(ua, '.'), *p1;
	unsigned long hi, lo;
	char *end;

	if (p2 == NULL || p2 == ua) {
		return IPCX_EBADMSG;
	}
	for (p1 = p2 - 1; p1 > ua && *p1 != '.'; p1--) {
	}
	if (*p1 != '.') {
		return IPCX_EBADMSG;
	}
	hi = strtoul(p1 + 1, &end, 10);
	if (end != p2 || p1[1] == '\0' || hi > 255) {
		return IPCX_EBADMSG;
	}
	lo = strtoul(p2 + 1, &end, 10);
	if (*end != '\0' || p2[1] == '\0' || lo > 255) {
		return IPCX_EBADMSG;
	}
	{
		/* the host part must be an address, not merely something with dots in it */
		char h[INET6_ADDRSTRLEN];
		unsigned char bin[sizeof(struct in6_addr)];
		size_t n = (size_t)(p1 - ua);
		if (n >= sizeof h) {
			return IPCX_EBADMSG;
		}
		memcpy(h, ua, n);
		h[n] = '\0';
		if (inet_pton(strchr(h, ':') != NULL ? AF_INET6 : AF_INET, h, bin) != 1) {
			return IPCX_EBADMSG;
		}
		if (host != NULL) {
			if (n >= cap) {
				return IPCX_ENAMETOOLONG;
			}
			memcpy(host, h, n + 1);
		}
	}
	*port = (unsigned)(hi << 8 | lo);
	return 0;
}

/* The owner string libtirpc sends: the effective uid in decimal. rpcbind records its own
 * idea of the owner (from the unix socket's credentials, else "unknown"), but a SET must
 * carry one. */
static void
rpcb_owner(char *buf, size_t cap)
{
	snprintf(buf, cap, "%u", (unsigned)geteuid());
}

/* One entry of a dump into e: an rpcb (versions 3, 4) or a mapping (2). */
static int
rpcb_entry_dec(ipcx_xdr *x, uint32_t vers, ipcx__rpcb_entry *e)
{
	memset(e, 0, sizeof *e);
	if (vers >= 3) {
		ipcx__xdr_u32(x, &e->prog);
		ipcx__xdr_u32(x, &e->vers);
		rpcb_str_dec(x, e->netid, sizeof e->netid);
		rpcb_str_dec(x, e->addr, sizeof e->addr);
		rpcb_str_dec(x, e->owner, sizeof e->owner);
		if (x->err == 0 &&
		    (strncmp(e->netid, "tcp", 3) == 0 || strncmp(e->netid, "udp", 3) == 0) &&
		    uaddr_split(e->addr, NULL, 0, &e->port) != 0) {
			e->port = 0; /* not an inet address after all: listed, without a port */
		}
	} else {
		uint32_t prot = 0, port = 0;
		ipcx__xdr_u32(x, &e->prog);
		ipcx__xdr_u32(x, &e->vers);
		ipcx__xdr_u32(x, &prot);
		ipcx__xdr_u32(x, &port);
		if (x->err == 0) {
			if (port > 65535) {
				return ipcx__xdr_fail(x, IPCX_EBADMSG);
			}
			e->port = port;
			snprintf(e->netid, sizeof e->netid, "%s",
			         prot == IPPROTO_TCP   ? "tcp"
			         : prot == IPPROTO_UDP ? "udp"
			                               : "unknown");
			snprintf(e->addr, sizeof e->addr, "0.0.0.0.%u.%u", port >> 8, port & 0xff);
		}
	}
	return x->err;
}

/* The whole list (RPCBPROC_DUMP version 4, else 3, else PMAPPROC_DUMP) on an open
 * connection. */
static int
rpcb_dump_conn(rpcb_conn *c, ipcx__rpcb_entry **list, size_t *n)
{
	ipcx__rpcb_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	ipcx_xdr x;
	uint32_t vers;
	int rv = RPCB_OLDER;

	*list = NULL;
	*n = 0;
	for (vers = c->top; vers >= 2 && rv == RPCB_OLDER; vers--) {
		rv = rpcb_call(c, vers, RPCB_DUMP, NULL, NULL, &x);
	}
	vers++;
	if (rv == RPCB_OLDER) {
		rv = IPCX_ERPCVERS;
	}
	/* a linked list on the wire: "more follows" before every entry */
	while (rv == 0) {
		bool more = false;
		if ((rv = rpcb_bool_dec(&x, &more)) != 0 || !more) {
			break;
		}
		if (cnt == cap) {
			ipcx__rpcb_entry *nv;
			if (cap == RPCB_DUMP_MAX) {
				rv = IPCX_EBADMSG; /* no rpcbind knows that much: a hostile one */
				break;
			}
			cap = cap == 0 ? 32 : cap * 2;
			if ((nv = realloc(v, cap * sizeof *v)) == NULL) {
				rv = IPCX_ENOMEM;
				break;
			}
			v = nv;
		}
		if ((rv = rpcb_entry_dec(&x, vers, &v[cnt])) == 0) {
			cnt++;
		}
	}
	if (rv != 0) {
		free(v);
		return rv;
	}
	*list = v;
	*n = cnt;
	return 0;
}

/* Where (prog, vers) is registered on netid: its entry copied to *e, or IPCX_ERPCPROG.
 * Looked up in the dump rather than with GETADDR: rpcbind answers GETADDR for the netid of
 * the transport the question came on (RFC 1833), so over TCP it cannot say where a udp
 * service is, and it answers with another version of the program when the one asked is
 * missing. */
static int
rpcb_find(rpcb_conn *c, uint32_t prog, uint32_t vers, const char *netid, ipcx__rpcb_entry *e)
{
	ipcx__rpcb_entry *v;
	size_t n;
	int rv;

	if ((rv = rpcb_dump_conn(c, &v, &n)) != 0) {
		return rv;
	}
	rv = IPCX_ERPCPROG;
	for (size_t i = 0; i < n; i++) {
		if (v[i].prog == prog && v[i].vers == vers && strcmp(v[i].netid, netid) == 0) {
			*e = v[i];
			rv = e->port != 0 ? 0 : IPCX_EBADMSG;
			break;
		}
	}
	free(v);
	return rv;
}

/* SET or UNSET of m: RPCBPROC_* version 4, else 3, else PMAPPROC_* (whose mapping carries
 * prot and port instead of netid and address); *ok is rpcbind's boolean answer. */
static int
rpcb_map_call(rpcb_conn *c, uint32_t proc, const rpcb_map *m, uint32_t prot, unsigned port,
              bool *ok)
{
	ipcx_xdr x;
	int rv = RPCB_OLDER;

	for (uint32_t v = c->top; v >= 2 && rv == RPCB_OLDER; v--) {
		if (v >= 3) {
			rv = rpcb_call(c, v, proc, rpcb_map_enc, m, &x);
		} else {
			uint32_t pm[4] = {m->prog, m->vers, prot, port};
			rv = rpcb_call(c, v, proc, pmap_map_enc, pm, &x);
		}
	}
	if (rv == 0) {
		rv = rpcb_bool_dec(&x, ok);
	}
	return rv == RPCB_OLDER ? IPCX_ERPCVERS : rv;
}

/* Whether a server still answers at e's address (a tcp or udp registration; the wildcard
 * host is probed on loopback). A server killed before it unregistered leaves its entry
 * behind, and a restarted one could never register again: an entry whose port refuses us
 * (tcp: connection refused; udp: a NULL call draws ICMP port unreachable) is stale. Anything
 * else (an answer, silence, another error) counts as alive: a live server's registration is
 * never taken. */
static bool
rpcb_entry_alive(const ipcx__rpcb_entry *e, int64_t deadline)
{
	bool udp = strcmp(e->netid, "udp") == 0;
	int64_t probe_end = ipcx__deadline(RPCB_PROBE_MS);
	struct addrinfo hints = {.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM,
	                         .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai;
	char host[INET6_ADDRSTRLEN], port_s[16];
	unsigned port;
	int fd, rv;

	if ((!udp && strcmp(e->netid, "tcp") != 0) ||
	    uaddr_split(e->addr, host, sizeof host, &port) != 0 || port == 0) {
		return true;
	}
	/* the wildcard host: the server is on this one */
	snprintf(port_s, sizeof port_s, "%u", port);
	if (ipcx__getaddrinfo(strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1"
	                      : strcmp(host, "::") == 0    ? "::1"
	                                                   : host,
	                      port_s, &hints, &ai, probe_end) != 0) {
		return true;
	}
	if (deadline < probe_end) {
		probe_end = deadline;
	}
	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0)) == -1) {
		freeaddrinfo(ai);
		return true;
	}
	rv = ipcx__connect_fd(fd, ai->ai_addr, ai->ai_addrlen, probe_end);
	freeaddrinfo(ai);
	if (rv == 0 && udp) {
		unsigned char buf[IPCX__RPC_CALL_HDR_MAX], ans[64];
		ipcx__rpc_call call = {.rpcvers = IPCX__RPC_VERS, .prog = e->prog, .vers = e->vers};
		ipcx_xdr x;

		call.xid = (uint32_t)ipcx__now_ns();
		ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, sizeof buf);
		if ((rv = ipcx__rpc_call_encode(&x, &call)) == 0 &&
		    send(fd, buf, x.pos, MSG_NOSIGNAL) == -1) {
			rv = ipcx__err(errno);
		}
		/* the refusal comes back as an error on the connected socket */
		if (rv == 0 && (rv = ipcx__wait_fd(fd, POLLIN, probe_end)) >= 0 &&
		    recv(fd, ans, sizeof ans, MSG_DONTWAIT) == -1) {
			rv = ipcx__err(errno);
		}
	}
	ipcx__close_fd(fd);
	return rv != IPCX_ECONNREFUSED;
}

/* RPCBPROC_UNSET (PMAPPROC_UNSET) of (prog, vers) on netid, "" for every transport (the
 * portmapper always removes every transport). */
static int
rpcb_unset_conn(rpcb_conn *c, uint32_t prog, uint32_t vers, const char *netid)
{
	char owner[16];
	rpcb_map m = {.prog = prog, .vers = vers, .netid = netid, .addr = "", .owner = owner};
	bool ok = false;

	rpcb_owner(owner, sizeof owner);
	/* FALSE: nothing was registered (or nothing this caller may remove); either way nothing
	 * of ours is left. The portmapper ignores prot and port. */
	return rpcb_map_call(c, RPCB_UNSET, &m, netid_prot(netid), 0, &ok);
}

int
ipcx__rpcb_set(uint32_t prog, uint32_t vers, const char *netid, unsigned port, int timeout_ms)
{
	char owner[16], ua[32];
	rpcb_map m = {.prog = prog, .vers = vers, .netid = netid, .addr = ua, .owner = owner};
	rpcb_conn c;
	bool ok = false;
	int rv;

	if (netid == NULL || (strcmp(netid, "tcp") != 0 && strcmp(netid, "udp") != 0) ||
	    port == 0 || port > 65535) {
		return IPCX_EINVAL;
	}
	/* the wildcard host: the server listens wherever the caller bound it, and a client
	 * that looks it up substitutes the host it asked */
	snprintf(ua, sizeof ua, "0.0.0.0.%u.%u", port >> 8, port & 0xff);
	rpcb_owner(owner, sizeof owner);
	if ((rv = rpcb_connect(&c, NULL, timeout_ms)) != 0) {
		return rv;
	}
	rv = rpcb_map_call(&c, RPCB_SET, &m, netid_prot(netid), port, &ok);
	if (rv == 0 && !ok) {
		/* taken: by this very server (restarted, or set twice), by another, or by a dead
		 * one. A stale entry is replaced where the unset can name the transport (versions
		 * 3 and 4: the portmapper's would drop this program's other transports too). */
		ipcx__rpcb_entry e;
		rv = rpcb_find(&c, prog, vers, netid, &e);
		if (rv == 0 && e.port != port && c.top >= 3 && !rpcb_entry_alive(&e, c.deadline) &&
		    (rv = rpcb_unset_conn(&c, prog, vers, netid)) == 0 &&
		    (rv = rpcb_map_call(&c, RPCB_SET, &m, netid_prot(netid), port, &ok)) == 0 &&
		    !ok) {
			rv = rpcb_find(&c, prog, vers, netid, &e); /* someone else was quicker */
		}
		if (rv == 0 && !ok && e.port != port) {
			rv = IPCX_EEXIST;
		} else if (rv == IPCX_ERPCPROG) {
			rv = IPCX_EACCES; /* refused, and nobody has it: not ours to set */
		}
	}
	rpcb_close(&c);
	return rv;
}

int
ipcx__rpcb_unset(uint32_t prog, uint32_t vers, const char *netid, int timeout_ms)
{
	rpcb_conn c;
	int rv;

	if (netid != NULL && strcmp(netid, "tcp") != 0 && strcmp(netid, "udp") != 0) {
		return IPCX_EINVAL;
	}
	if ((rv = rpcb_connect(&c, NULL, timeout_ms)) != 0) {
		return rv;
	}
	rv = rpcb_unset_conn(&c, prog, vers, netid != NULL ? netid : ""); /* "": every one */
	rpcb_close(&c);
	return rv;
}

/* host:port for a client, with the wildcard address replaced by the host that was asked. */
static int
hostport_fmt(char *buf, size_t cap, const char *asked, const char *uhost, unsigned port)
{
	const char *h = uhost;
	int n;

	if (uhost[0] == '\0' || strcmp(uhost, "0.0.0.0") == 0 || strcmp(uhost, "::") == 0) {
		h = asked != NULL && asked[0] != '\0' ? asked : "127.0.0.1";
	}
	n = snprintf(buf, cap, strchr(h, ':') != NULL ? "[%s]:%u" : "%s:%u", h, port);
	return n < 0 || (size_t)n >= cap ? IPCX_ENAMETOOLONG : 0;
}

int
ipcx__rpcb_getaddr(const char *host, uint32_t prog, uint32_t vers, const char *netid,
                   char *hostport, size_t cap, int timeout_ms)
{
	char uhost[sizeof((ipcx__rpcb_entry *)0)->addr];
	ipcx__rpcb_entry e;
	rpcb_conn c;
	unsigned port;
	int rv;

	if (netid == NULL || (strcmp(netid, "tcp") != 0 && strcmp(netid, "udp") != 0)) {
		return IPCX_EINVAL;
	}
	if ((rv = rpcb_connect(&c, host, timeout_ms)) != 0) {
		return rv;
	}
	rv = rpcb_find(&c, prog, vers, netid, &e);
	rpcb_close(&c);
	if (rv != 0) {
		return rv;
	}
	if ((rv = uaddr_split(e.addr, uhost, sizeof uhost, &port)) != 0) {
		return rv;
	}
	return hostport_fmt(hostport, cap, host, uhost, port);
}

int
ipcx__rpcb_dump(const char *host, ipcx__rpcb_entry **list, size_t *n, int timeout_ms)
{
	rpcb_conn c;
	int rv;

	*list = NULL;
	*n = 0;
	if ((rv = rpcb_connect(&c, host, timeout_ms)) != 0) {
		return rv;
	}
	rv = rpcb_dump_conn(&c, list, n);
	rpcb_close(&c);
	return rv;
}
