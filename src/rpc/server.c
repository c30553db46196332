/*
 * server.c - the ONC RPC server (RFC 5531): a listener on any scheme with a thread per
 * connection (udp: one thread on a socket of its own), call dispatch and every error reply.
 */
#include "../core/ipcx_int.h"
#include "rpc_srv.h"
#include "rpcbind.h"

#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define SRV_DEFAULT_MAX  ((size_t)1 << 20)
#define SRV_SEND_MS      10000 /* a client that does not read its replies for this long is dropped */
#define SRV_IDLE_SPIN_MS 1     /* a blocking receive this long before sleeping in poll */
#define SRV_CHUNK        65536 /* raw tcp reads, and udp datagrams */
#define SRV_UDP_MAX      65507 /* the largest IPv4 UDP payload */
#define SRV_CACHE        256   /* udp replies remembered for retransmitted calls */
#define SRV_RPCB_MS      3000

enum srv_kind {
	SRV_MSG, /* one marked record per ipcx message */
	SRV_RAW, /* tcp://: the raw byte stream with record marks */
	SRV_UDP, /* one call per datagram, on a socket of the server's own */
};

typedef struct srv_proc {
	uint32_t prog, vers, proc;
	ipcx_rpc_handler fn;
	void *arg;
} srv_proc;

typedef struct srv_conn {
	struct srv_conn *next;
	ipcx_rpc_server *s;
	ipcx_chan *c;
	pthread_t tid;
	atomic_bool done;
} srv_conn;

/* A udp reply kept for a retransmission of its call: the same sender and the same first
 * words (xid, msg_type, rpcvers, prog, vers, proc, as libtirpc's cache keys them): a client
 * that reuses an xid for another procedure does not get a stale answer. */
#define SRV_KEY 24
typedef struct srv_cached {
	unsigned char key[SRV_KEY];
	size_t keylen;
	struct sockaddr_storage from;
	socklen_t fromlen;
	uint64_t used; /* LRU clock; 0: empty */
	size_t len;
	size_t cap; /* reply's size: an evicted entry's buffer is reused when large enough */
	unsigned char *reply;
} srv_cached;

struct ipcx_rpc_server {
	ipcx_rpc_opts opts;
	size_t max_msg;
	enum srv_kind kind;
	char url[IPCX__URL_MAX];
	ipcx_listener *l;
	int ufd;  /* udp */
	int evfd; /* readable once stopped (never read: it stays readable) */
	srv_proc *procs;
	size_t nprocs, cap;
	bool running, started;
	pthread_t runner;
	int run_rv;
	srv_conn *conns;
	/* opts.threads: calls in progress */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned busy;
	/* udp */
	srv_cached cache[SRV_CACHE];
	uint64_t clock;
	/* rpcbind: (prog, vers) registered, to unregister on close */
	uint32_t (*rpcb)[2];
	size_t nrpcb;
};

void
ipcx_rpc_opts_init(ipcx_rpc_opts *opts)
{
	if (opts != NULL) {
		memset(opts, 0, sizeof *opts);
		opts->size = sizeof *opts;
	}
}

/* The caller's options, from a struct that may be older (shorter) than ours. */
static void
srv_opts_copy(ipcx_rpc_opts *dst, const ipcx_rpc_opts *src)
{
	ipcx_rpc_opts_init(dst);
	if (src != NULL && src->size >= sizeof(size_t)) {
		memcpy(dst, src, src->size < sizeof *dst ? src->size : sizeof *dst);
		dst->size = sizeof *dst;
	}
}

int
ipcx__rpc_opts_fill(ipcx_rpc_opts *dst, size_t *max_msg, const ipcx_rpc_opts *src)
{
	srv_opts_copy(dst, src);
	*max_msg = dst->max_msg != 0 ? dst->max_msg : SRV_DEFAULT_MAX;
	if (*max_msg < 64 || *max_msg > IPCX__RM_FRAG_MAX - 64) {
		return IPCX_EINVAL;
	}
	return 0;
}

static int
srv_udp_open(ipcx_rpc_server *s, const char *url)
{
	ipcx__url u;
	struct addrinfo *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int rv, fd = -1;

	if ((rv = ipcx__url_parse(&u, url)) != 0 || (rv = ipcx__url_hostport(&u)) != 0 ||
	    (rv = ipcx__inet_resolve(&res, &u, SOCK_DGRAM, true)) != 0) {
		return rv;
	}
	if ((fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		rv = ipcx__err(errno);
		goto fail;
	}
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		rv = ipcx__err(errno);
		goto fail_close;
	}
	if ((rv = ipcx__inet_format(s->url, sizeof s->url, "udp", (struct sockaddr *)&ss)) != 0) {
		goto fail_close;
	}
	freeaddrinfo(res);
	s->ufd = fd;
	return 0;
fail_close:
	close(fd);
fail:
	freeaddrinfo(res);
	return rv;
}

int
ipcx_rpc_server_new(ipcx_rpc_server **sp, const char *url, const ipcx_rpc_opts *opts)
{
	ipcx_rpc_server *s;
	ipcx_opts lo;
	int rv;

	if (sp == NULL || url == NULL) {
		return IPCX_EINVAL;
	}
	*sp = NULL;
	if (strncmp(url, "pipe:", 5) == 0) {
		return IPCX_ENOTSUP; /* a pipe has no listener: nobody could dial it */
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		return IPCX_ENOMEM;
	}
	s->ufd = -1;
	if ((rv = ipcx__rpc_opts_fill(&s->opts, &s->max_msg, opts)) != 0) {
		goto fail_free;
	}
	if ((s->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rv = ipcx__err(errno);
		goto fail_free;
	}
	ipcx_opts_init(&lo);
	if (strncmp(url, "udp:", 4) == 0) {
		s->kind = SRV_UDP;
		rv = srv_udp_open(s, url);
	} else {
		/* tcp:// is the ONC RPC wire itself (libtirpc peers): the socket's raw bytes */
		s->kind = strncmp(url, "tcp:", 4) == 0 ? SRV_RAW : SRV_MSG;
		lo.raw = s->kind == SRV_RAW;
		if ((rv = ipcx_listen(&s->l, url, &lo)) == 0 &&
		    (rv = ipcx_listener_url(s->l, s->url, sizeof s->url)) != 0) {
			ipcx_listener_close(s->l);
		}
	}
	if (rv != 0) {
		goto fail_ev;
	}
	if (s->opts.rpcbind && s->kind == SRV_MSG) {
		rv = IPCX_ENOTSUP; /* rpcbind knows tcp and udp ports only */
		goto fail_listen;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	*sp = s;
	return 0;
fail_listen:
	ipcx_listener_close(s->l);
	if (s->ufd >= 0) {
		close(s->ufd);
	}
fail_ev:
	close(s->evfd);
fail_free:
	free(s);
	return rv;
}

int
ipcx_rpc_register(ipcx_rpc_server *s, uint32_t prog, uint32_t vers, uint32_t proc,
                  ipcx_rpc_handler fn, void *arg)
{
	if (s == NULL || fn == NULL) {
		return IPCX_EINVAL;
	}
	if (s->running) {
		return IPCX_EBUSY; /* handler threads read the table without a lock */
	}
	for (size_t i = 0; i < s->nprocs; i++) {
		srv_proc *p = &s->procs[i];
		if (p->prog == prog && p->vers == vers && p->proc == proc) {
			return IPCX_EEXIST;
		}
	}
	if (s->nprocs == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		srv_proc *v = realloc(s->procs, cap * sizeof *v);
		if (v == NULL) {
			return IPCX_ENOMEM;
		}
		s->procs = v;
		s->cap = cap;
	}
	s->procs[s->nprocs++] = (srv_proc){prog, vers, proc, fn, arg};
	return 0;
}

int
ipcx_rpc_server_url(ipcx_rpc_server *s, char *buf, size_t cap)
{
	if (s == NULL || buf == NULL) {
		return IPCX_EINVAL;
	}
	return ipcx__strlcpy(buf, s->url, cap);
}

/* ---- dispatch ------------------------------------------------------------------------ */

static int
srv_reply(const ipcx__rpc_reply *r, unsigned char *out, size_t cap, size_t *outlen)
{
	ipcx_xdr x;

	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, out, cap);
	if (ipcx__rpc_reply_encode(&x, r) != 0) {
		return x.err;
	}
	*outlen = x.pos;
	return 0;
}

static int
srv_accepted(uint32_t xid, uint32_t stat, unsigned char *out, size_t cap, size_t *outlen)
{
	ipcx__rpc_reply r = {.xid = xid, .stat = IPCX__RPC_MSG_ACCEPTED, .accept = stat};
	return srv_reply(&r, out, cap, outlen);
}

static void
srv_slot_take(ipcx_rpc_server *s)
{
	if (s->opts.threads == 0) {
		return;
	}
	pthread_mutex_lock(&s->mu);
	while (s->busy >= s->opts.threads) {
		pthread_cond_wait(&s->cv, &s->mu);
	}
	s->busy++;
	pthread_mutex_unlock(&s->mu);
}

static void
srv_slot_give(ipcx_rpc_server *s)
{
	if (s->opts.threads == 0) {
		return;
	}
	pthread_mutex_lock(&s->mu);
	s->busy--;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int
ipcx__rpc_serve_one(ipcx_rpc_server *s, const unsigned char *rec, size_t len,
                    const ipcx__rpc_peer *peer, unsigned char *out, size_t cap, size_t *outlen)
{
	ipcx_xdr x, res;
	ipcx__rpc_call c;
	ipcx_rpc_authsys sys;
	ipcx_rpc_req req;
	const srv_proc *hit = NULL;
	bool prog_known = false, vers_known = false;
	uint32_t low = UINT32_MAX, high = 0;
	int rv, st;

	*outlen = 0;
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, (void *)rec, len);
	rv = ipcx__rpc_call_decode(&x, &c);
	if (rv == IPCX_EPROTONOSUPPORT) {
		ipcx__rpc_reply r = {.xid = c.xid,
		                     .stat = IPCX__RPC_MSG_DENIED,
		                     .reject = IPCX__RPC_RPC_MISMATCH,
		                     .low = IPCX__RPC_VERS,
		                     .high = IPCX__RPC_VERS};
		return srv_reply(&r, out, cap, outlen);
	}
	if (rv != 0) {
		return IPCX_EBADMSG;
	}
	memset(&req, 0, sizeof req);
	if (c.cred.flavor == IPCX__RPC_AUTH_SYS) {
		if (ipcx__rpc_authsys_parse(&sys, &c.cred) != 0) {
			ipcx__rpc_reply r = {.xid = c.xid,
			                     .stat = IPCX__RPC_MSG_DENIED,
			                     .reject = IPCX__RPC_AUTH_ERROR,
			                     .auth = IPCX__RPC_AUTH_BADCRED};
			return srv_reply(&r, out, cap, outlen);
		}
		req.sys = &sys;
	} else if (c.cred.flavor != IPCX__RPC_AUTH_NONE) {
		/* what libtirpc answers for a flavor it has no handler for: the client may try
		 * another one */
		ipcx__rpc_reply r = {.xid = c.xid,
		                     .stat = IPCX__RPC_MSG_DENIED,
		                     .reject = IPCX__RPC_AUTH_ERROR,
		                     .auth = IPCX__RPC_AUTH_REJECTEDCRED};
		return srv_reply(&r, out, cap, outlen);
	}
	for (size_t i = 0; i < s->nprocs; i++) {
		const srv_proc *p = &s->procs[i];
		if (p->prog != c.prog) {
			continue;
		}
		prog_known = true;
		low = p->vers < low ? p->vers : low;
		high = p->vers > high ? p->vers : high;
		if (p->vers == c.vers) {
			vers_known = true;
			if (p->proc == c.proc) {
				hit = p;
			}
		}
	}
	if (!prog_known) {
		return srv_accepted(c.xid, IPCX__RPC_PROG_UNAVAIL, out, cap, outlen);
	}
	if (!vers_known) {
		ipcx__rpc_reply r = {.xid = c.xid,
		                     .stat = IPCX__RPC_MSG_ACCEPTED,
		                     .accept = IPCX__RPC_PROG_MISMATCH,
		                     .low = low,
		                     .high = high};
		return srv_reply(&r, out, cap, outlen);
	}
	if (hit == NULL) {
		/* procedure 0 answers for every registered version unless a handler took it */
		return srv_accepted(c.xid, c.proc == 0 ? IPCX__RPC_SUCCESS : IPCX__RPC_PROC_UNAVAIL,
		                    out, cap, outlen);
	}
	ipcx_xdr_init(&res, IPCX_XDR_ENCODE, out + IPCX__RPC_REPLY_HDR, cap - IPCX__RPC_REPLY_HDR);
	req.xid = c.xid;
	req.prog = c.prog;
	req.vers = c.vers;
	req.proc = c.proc;
	req.flavor = c.cred.flavor;
	if (peer != NULL && peer->known) {
		req.peer_known = 1;
		req.peer_pid = peer->pid;
		req.peer_uid = peer->uid;
		req.peer_gid = peer->gid;
	}
	req.args = &x;
	req.res = &res;
	req.server_data = s;
	srv_slot_take(s);
	st = hit->fn(&req, hit->arg);
	srv_slot_give(s);
	if (st == IPCX_RPC_SUCCESS && res.err != 0) {
		st = IPCX_RPC_SYSTEM_ERR; /* the results did not fit in max_msg */
	}
	if (st != IPCX_RPC_SUCCESS && st != IPCX_RPC_PROC_UNAVAIL && st != IPCX_RPC_GARBAGE_ARGS &&
	    st != IPCX_RPC_SYSTEM_ERR) {
		st = IPCX_RPC_SYSTEM_ERR;
	}
	if ((rv = srv_accepted(c.xid, (uint32_t)st, out, cap, outlen)) != 0) {
		return rv;
	}
	if (st == IPCX_RPC_SUCCESS) {
		*outlen = IPCX__RPC_REPLY_HDR + res.pos;
	}
	return 0;
}

/* ---- connections ---------------------------------------------------------------------- */

/* Wait until fd is readable or the server stops; false on stop. */
static bool
srv_wait(ipcx_rpc_server *s, int fd)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->evfd, .events = POLLIN}};

	for (;;) {
		int n = poll(p, 2, -1);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 || (p[1].revents & POLLIN) != 0) {
			return false;
		}
		return true;
	}
}

/* One marked record per message. */
static void
srv_conn_msg(srv_conn *k, const ipcx__rpc_peer *peer, unsigned char *tx)
{
	ipcx_rpc_server *s = k->s;
	size_t cap = 4096, n, outlen, maxwire = s->max_msg + 64;
	unsigned char *rx = malloc(cap), *rec;
	int fd = ipcx_chan_fd(k->c), rv;

	while (rx != NULL) {
		rv = ipcx_recv(k->c, rx, cap, &n, SRV_IDLE_SPIN_MS);
		if (rv == IPCX_ETIMEDOUT) {
			if (fd < 0 || !srv_wait(s, fd)) {
				break;
			}
			continue;
		}
		if (rv == IPCX_EMSGSIZE && n <= maxwire) {
			unsigned char *b = realloc(rx, n);
			if (b == NULL) {
				break;
			}
			rx = b;
			cap = n;
			continue;
		}
		if (rv != 0) {
			break; /* closed, broken, or a message over max_msg: drop this client */
		}
		if (ipcx__rm_unwrap(rx, n, (uint32_t)s->max_msg, 0, &rec, &n) != 0 ||
		    ipcx__rpc_serve_one(s, rec, n, peer, tx + 4, s->max_msg, &outlen) != 0) {
			break;
		}
		ipcx__rm_mark(tx, (uint32_t)outlen, true);
		if (ipcx_send(k->c, tx, outlen + 4, SRV_SEND_MS) != 0) {
			break;
		}
	}
	free(rx);
}

/* tcp://: the raw stream through the incremental record decoder. */
static void
srv_conn_raw(srv_conn *k, const ipcx__rpc_peer *peer, unsigned char *tx)
{
	ipcx_rpc_server *s = k->s;
	ipcx__rm_dec d;
	unsigned char *rx = malloc(SRV_CHUNK);
	int fd = ipcx_chan_fd(k->c), rv;
	size_t n, off, used, outlen;

	ipcx__rm_dec_init(&d, (uint32_t)s->max_msg, 0);
	while (rx != NULL) {
		rv = ipcx_recv(k->c, rx, SRV_CHUNK, &n, SRV_IDLE_SPIN_MS);
		if (rv == IPCX_ETIMEDOUT) {
			if (fd < 0 || !srv_wait(s, fd)) {
				break;
			}
			continue;
		}
		if (rv != 0) {
			break;
		}
		for (off = 0; off < n; off += used) {
			rv = ipcx__rm_dec_feed(&d, rx + off, n - off, &used);
			if (rv < 0) {
				goto out;
			}
			if (rv == 1) {
				if (ipcx__rpc_serve_one(s, d.rec, d.rec_len, peer, tx + 4,
				                        s->max_msg, &outlen) != 0) {
					goto out;
				}
				ipcx__rm_mark(tx, (uint32_t)outlen, true);
				if (ipcx_send(k->c, tx, outlen + 4, SRV_SEND_MS) != 0) {
					goto out;
				}
			}
		}
	}
out:
	ipcx__rm_dec_fini(&d);
	free(rx);
}

static void *
srv_conn_main(void *arg)
{
	srv_conn *k = arg;
	ipcx__rpc_peer peer = {0};
	unsigned char *tx = malloc(k->s->max_msg + 4);

	peer.known = ipcx_peer_cred(k->c, &peer.pid, &peer.uid, &peer.gid) == 0;
	if (tx != NULL) {
		if (k->s->kind == SRV_RAW) {
			srv_conn_raw(k, &peer, tx);
		} else {
			srv_conn_msg(k, &peer, tx);
		}
	}
	free(tx);
	ipcx_close(k->c);
	k->c = NULL;
	atomic_store(&k->done, true);
	return NULL;
}

/* Join the connections that ended (all of them with all set, after a stop). */
static void
srv_reap(ipcx_rpc_server *s, bool all)
{
	srv_conn **pp = &s->conns;

	while (*pp != NULL) {
		srv_conn *k = *pp;
		if (all || atomic_load(&k->done)) {
			pthread_join(k->tid, NULL);
			*pp = k->next;
			free(k);
		} else {
			pp = &k->next;
		}
	}
}

static int
srv_run_streams(ipcx_rpc_server *s)
{
	int lfd = ipcx_listener_fd(s->l);

	while (srv_wait(s, lfd)) {
		ipcx_chan *c;
		srv_conn *k;
		int rv = ipcx_accept(s->l, &c, 0);

		srv_reap(s, false);
		if (rv == IPCX_ETIMEDOUT) {
			continue;
		}
		if (rv != 0) {
			/* out of fds or memory: let clients leave before trying again */
			struct pollfd p = {.fd = s->evfd, .events = POLLIN};
			poll(&p, 1, 100);
			continue;
		}
		if ((k = calloc(1, sizeof *k)) == NULL) {
			ipcx_close(c);
			continue;
		}
		k->s = s;
		k->c = c;
		if (pthread_create(&k->tid, NULL, srv_conn_main, k) != 0) {
			ipcx_close(c);
			free(k);
			continue;
		}
		k->next = s->conns;
		s->conns = k;
	}
	srv_reap(s, true);
	return 0;
}

/* ---- udp -------------------------------------------------------------------------------- */

static srv_cached *
srv_cache_find(ipcx_rpc_server *s, const unsigned char *call, size_t n,
               const struct sockaddr_storage *from, socklen_t fl)
{
	size_t kl = n < SRV_KEY ? n : SRV_KEY;

	for (size_t i = 0; i < SRV_CACHE; i++) {
		srv_cached *e = &s->cache[i];
		if (e->used != 0 && e->keylen == kl && memcmp(e->key, call, kl) == 0 &&
		    e->fromlen == fl && memcmp(&e->from, from, fl) == 0) {
			e->used = ++s->clock;
			return e;
		}
	}
	return NULL;
}

static void
srv_cache_put(ipcx_rpc_server *s, const unsigned char *call, size_t n,
              const struct sockaddr_storage *from, socklen_t fl, const unsigned char *reply,
              size_t len)
{
	srv_cached *e = &s->cache[0];

	for (size_t i = 1; i < SRV_CACHE && e->used != 0; i++) {
		if (s->cache[i].used < e->used) {
			e = &s->cache[i];
		}
	}
	if (len > e->cap) {
		/* no allocation per call once the cache is warm: most replies fit the old buffer */
		unsigned char *b = realloc(e->reply, len);
		if (b == NULL) {
			return; /* a retransmission runs the call again: better than no reply */
		}
		e->reply = b;
		e->cap = len;
	}
	memcpy(e->reply, reply, len);
	e->len = len;
	e->keylen = n < SRV_KEY ? n : SRV_KEY;
	memcpy(e->key, call, e->keylen);
	memcpy(&e->from, from, fl);
	e->fromlen = fl;
	e->used = ++s->clock;
}

static int
srv_run_udp(ipcx_rpc_server *s)
{
	size_t cap = s->max_msg < SRV_UDP_MAX ? s->max_msg : SRV_UDP_MAX;
	unsigned char *rx = malloc(SRV_CHUNK), *tx = malloc(cap); /* no reply is larger */

	while (rx != NULL && tx != NULL && srv_wait(s, s->ufd)) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(s->ufd, rx, SRV_CHUNK, MSG_DONTWAIT | MSG_TRUNC,
		                     (struct sockaddr *)&from, &fl);
		uint32_t xid, type;
		size_t outlen;
		srv_cached *e;

		if (n < 0 || (size_t)n > SRV_CHUNK) {
			continue; /* nothing after all, or truncated: a call we could not read */
		}
		if (ipcx__rpc_peek(rx, (size_t)n, &xid, &type) != 0 || type != IPCX__RPC_CALL) {
			continue;
		}
		if ((e = srv_cache_find(s, rx, (size_t)n, &from, fl)) != NULL) {
			sendto(s->ufd, e->reply, e->len, MSG_DONTWAIT, (struct sockaddr *)&from,
			       fl);
			continue;
		}
		if (ipcx__rpc_serve_one(s, rx, (size_t)n, NULL, tx, cap, &outlen) != 0) {
			continue;
		}
		srv_cache_put(s, rx, (size_t)n, &from, fl, tx, outlen);
		sendto(s->ufd, tx, outlen, MSG_DONTWAIT, (struct sockaddr *)&from, fl);
	}
	free(rx);
	free(tx);
	return rx == NULL || tx == NULL ? IPCX_ENOMEM : 0;
}

/* ---- life cycle ------------------------------------------------------------------------ */

static int
srv_port(const char *url, unsigned *port)
{
	ipcx__url u;
	int rv;

	if ((rv = ipcx__url_parse(&u, url)) != 0 || (rv = ipcx__url_hostport(&u)) != 0) {
		return rv;
	}
	*port = (unsigned)strtoul(u.port, NULL, 10);
	return 0;
}

static void
srv_rpcb_unset(ipcx_rpc_server *s)
{
	for (size_t i = 0; i < s->nrpcb; i++) {
		ipcx__rpcb_unset(s->rpcb[i][0], s->rpcb[i][1], SRV_RPCB_MS);
	}
	free(s->rpcb);
	s->rpcb = NULL;
	s->nrpcb = 0;
}

/* Register every (prog, vers) once with the local rpcbind. */
static int
srv_rpcb_set(ipcx_rpc_server *s)
{
	unsigned port;
	int rv;

	if ((rv = srv_port(s->url, &port)) != 0) {
		return rv;
	}
	if ((s->rpcb = calloc(s->nprocs + 1, sizeof *s->rpcb)) == NULL) {
		return IPCX_ENOMEM;
	}
	for (size_t i = 0; i < s->nprocs; i++) {
		bool seen = false;
		for (size_t j = 0; j < s->nrpcb; j++) {
			seen |= s->rpcb[j][0] == s->procs[i].prog &&
			        s->rpcb[j][1] == s->procs[i].vers;
		}
		if (seen) {
			continue;
		}
		rv = ipcx__rpcb_set(s->procs[i].prog, s->procs[i].vers,
		                    s->kind == SRV_UDP ? "udp" : "tcp", port, SRV_RPCB_MS);
		if (rv != 0) {
			srv_rpcb_unset(s);
			return rv;
		}
		s->rpcb[s->nrpcb][0] = s->procs[i].prog;
		s->rpcb[s->nrpcb][1] = s->procs[i].vers;
		s->nrpcb++;
	}
	return 0;
}

static int
srv_begin(ipcx_rpc_server *s)
{
	int rv;

	if (s == NULL) {
		return IPCX_EINVAL;
	}
	if (s->running) {
		return IPCX_EBUSY;
	}
	if (s->opts.rpcbind && s->rpcb == NULL && (rv = srv_rpcb_set(s)) != 0) {
		return rv;
	}
	s->running = true;
	return 0;
}

static int
srv_loop(ipcx_rpc_server *s)
{
	return s->kind == SRV_UDP ? srv_run_udp(s) : srv_run_streams(s);
}

int
ipcx_rpc_server_run(ipcx_rpc_server *s)
{
	int rv;

	if ((rv = srv_begin(s)) != 0) {
		return rv;
	}
	return srv_loop(s);
}

static void *
srv_runner(void *arg)
{
	ipcx_rpc_server *s = arg;
	s->run_rv = srv_loop(s);
	return NULL;
}

int
ipcx_rpc_server_start(ipcx_rpc_server *s)
{
	int rv;

	if ((rv = srv_begin(s)) != 0) {
		return rv;
	}
	if ((rv = pthread_create(&s->runner, NULL, srv_runner, s)) != 0) {
		s->running = false;
		return ipcx__err(rv);
	}
	s->started = true;
	return 0;
}

void
ipcx_rpc_server_stop(ipcx_rpc_server *s)
{
	uint64_t one = 1;
	ssize_t n;

	if (s != NULL) {
		/* write(2) is async-signal-safe; the eventfd stays readable for every waiter */
		n = write(s->evfd, &one, sizeof one);
		(void)n;
	}
}

void
ipcx_rpc_server_close(ipcx_rpc_server *s)
{
	if (s == NULL) {
		return;
	}
	ipcx_rpc_server_stop(s);
	if (s->started) {
		pthread_join(s->runner, NULL);
	}
	srv_reap(s, true); /* a run() still going on another thread is the caller's bug */
	if (s->rpcb != NULL) {
		srv_rpcb_unset(s);
	}
	for (size_t i = 0; i < SRV_CACHE; i++) {
		free(s->cache[i].reply);
	}
	ipcx_listener_close(s->l);
	if (s->ufd >= 0) {
		close(s->ufd);
	}
	close(s->evfd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->procs);
	free(s);
}
