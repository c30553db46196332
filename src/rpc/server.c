/*
 * server.c - the ONC RPC server (RFC 5531): a pool of threads on one epoll set over the
 * listener and every connection (shm://: a spinning thread per connection; udp: one thread).
 */
#include "../core/ipcx_int.h"
#include "rpc_srv.h"
#include "rpcbind.h"

#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define SRV_DEFAULT_MAX  ((size_t)1 << 20)
#define SRV_SEND_MS      10000 /* a client that does not read its replies for this long is dropped */
#define SRV_IDLE_SPIN_MS 1     /* shm://: a blocking receive this long before sleeping in poll */
#define SRV_CHUNK        65536 /* raw tcp reads, and udp datagrams */
#define SRV_UDP_MAX      65507 /* the largest IPv4 UDP payload */
#define SRV_CACHE        256   /* udp replies remembered for retransmitted calls */
#define SRV_BUCKETS      512   /* their hash chains (a power of two) */
#define SRV_RPCB_MS      3000
#define SRV_BATCH        16  /* calls served from one connection before the others get a turn */
#define SRV_ACCEPTS      32  /* clients accepted per wake-up of the listener */
#define SRV_GROW_MS      10  /* threads == 0: every pool thread held this long adds one */
#define SRV_MIN_POOL     4   /* threads == 0: pool threads at least */
#define SRV_BACKOFF_MS   100 /* accept failed (out of fds or memory): let clients leave */

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

/* A connection. In the pool it belongs to whichever thread took its event (EPOLLONESHOT:
 * one at a time); with a thread of its own (shm://), to that thread. */
typedef struct srv_conn {
	struct srv_conn *prev, *next; /* s->conns, under s->mu */
	ipcx_rpc_server *s;
	ipcx_chan *c;
	int fd; /* ipcx_chan_fd, in s->epfd */
	ipcx__rpc_peer peer;
	ipcx__rm_dec dec; /* tcp://: the record being gathered between wake-ups */
	pthread_t tid;    /* shm:// */
	atomic_bool done;
	/* held by the pool thread serving the connection. EPOLLONESHOT already makes that
	 * thread the only one; the lock, never contended, says so to the reader and to
	 * ThreadSanitizer, which does not see the hand-over through epoll_ctl/epoll_wait */
	pthread_mutex_t own;
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
	bool used;
	uint32_t hash;
	int16_t chain; /* next entry in its bucket, -1: none */
	size_t len;
	size_t cap; /* reply's size: an evicted entry's buffer is reused when large enough */
	unsigned char *reply;
} srv_cached;

struct ipcx_rpc_server {
	ipcx_rpc_opts opts;
	size_t max_msg;
	enum srv_kind kind;
	bool spin; /* shm://: a thread per connection, spinning on the ring */
	char url[IPCX__URL_MAX];
	ipcx_listener *l;
	int ufd;         /* udp */
	int evfd;        /* readable once stopped (never read: it stays readable) */
	srv_proc *procs; /* sorted by (prog, vers, proc) */
	size_t nprocs, cap;
	bool running, started;
	bool ready;       /* under mu: the runner's first threads are up (start waits for it) */
	unsigned booting; /* under mu: threads created that have not reached their loop */
	pthread_t runner;
	int run_rv;
	/* connections (pool and shm://) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	srv_conn *conns;
	size_t nconns;
	/* the pool: epfd holds evfd (level-triggered: wakes every thread at a stop), the
	 * listener and the connections (both EPOLLONESHOT) */
	int epfd;
	unsigned core;        /* threads started: opts.threads, or srv_pool_size() */
	bool grow;            /* opts.threads == 0: add threads while all are held */
	unsigned live;        /* pool threads running, under mu */
	atomic_uint idle;     /* pool threads waiting for work */
	atomic_uint progress; /* items finished, for the grower: held or just busy? */
	atomic_bool armed;    /* the grower watches (idle reached 0) */
	int armfd;            /* eventfd: wakes the grower */
	/* shm:// (opts.threads: calls in progress) */
	unsigned busy;
	/* udp */
	srv_cached cache[SRV_CACHE];
	int16_t bucket[SRV_BUCKETS]; /* first entry of each chain, -1: none */
	unsigned cache_next;         /* the oldest entry: replaced next */
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
	    (rv = ipcx__inet_resolve(&res, &u, SOCK_DGRAM, true, IPCX__FOREVER)) != 0) {
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
	s->epfd = -1;
	s->armfd = -1;
	memset(s->bucket, -1, sizeof s->bucket);
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
		s->spin = strncmp(url, "shm:", 4) == 0;
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

/* The table is kept sorted by (prog, vers, proc), so that a call finds its handler, or
 * which of PROG_UNAVAIL, PROG_MISMATCH (and the versions) or PROC_UNAVAIL to answer, with
 * binary searches. Compare p with a key on its first depth fields (1: prog, 2: and vers,
 * 3: and proc). */
static int
srv_cmp(const srv_proc *p, uint32_t prog, uint32_t vers, uint32_t proc, int depth)
{
	if (p->prog != prog) {
		return p->prog < prog ? -1 : 1;
	}
	if (depth > 1 && p->vers != vers) {
		return p->vers < vers ? -1 : 1;
	}
	if (depth > 2 && p->proc != proc) {
		return p->proc < proc ? -1 : 1;
	}
	return 0;
}

/* The first entry not below the key (on depth fields): nprocs if none. */
static size_t
srv_find(const ipcx_rpc_server *s, uint32_t prog, uint32_t vers, uint32_t proc, int depth)
{
	size_t lo = 0, hi = s->nprocs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (srv_cmp(&s->procs[mid], prog, vers, proc, depth) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

int
ipcx_rpc_register(ipcx_rpc_server *s, uint32_t prog, uint32_t vers, uint32_t proc,
                  ipcx_rpc_handler fn, void *arg)
{
	size_t at;

	if (s == NULL || fn == NULL) {
		return IPCX_EINVAL;
	}
	if (s->running) {
		return IPCX_EBUSY; /* handler threads read the table without a lock */
	}
	at = srv_find(s, prog, vers, proc, 3);
	if (at < s->nprocs && srv_cmp(&s->procs[at], prog, vers, proc, 3) == 0) {
		return IPCX_EEXIST;
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
	memmove(&s->procs[at + 1], &s->procs[at], (s->nprocs - at) * sizeof *s->procs);
	s->procs[at] = (srv_proc){prog, vers, proc, fn, arg};
	s->nprocs++;
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

/* shm://'s threads of their own share opts.threads slots; in the pool the threads are the
 * bound. */
static void
srv_slot_take(ipcx_rpc_server *s)
{
	if (s->opts.threads == 0 || !s->spin) {
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
	if (s->opts.threads == 0 || !s->spin) {
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
	const srv_proc *hit;
	size_t at, end, v;
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
	at = srv_find(s, c.prog, c.vers, c.proc, 3);
	hit = at < s->nprocs && srv_cmp(&s->procs[at], c.prog, c.vers, c.proc, 3) == 0
	              ? &s->procs[at]
	              : NULL;
	if (hit == NULL && (at = srv_find(s, c.prog, 0, 0, 1)) < s->nprocs &&
	    s->procs[at].prog == c.prog) {
		/* the program is known: is the version? (its entries run from at to end - 1) */
		end = c.prog == UINT32_MAX ? s->nprocs : srv_find(s, c.prog + 1, 0, 0, 1);
		v = srv_find(s, c.prog, c.vers, 0, 2);
		if (v == end || s->procs[v].vers != c.vers) {
			ipcx__rpc_reply r = {.xid = c.xid,
			                     .stat = IPCX__RPC_MSG_ACCEPTED,
			                     .accept = IPCX__RPC_PROG_MISMATCH,
			                     .low = s->procs[at].vers,
			                     .high = s->procs[end - 1].vers};
			return srv_reply(&r, out, cap, outlen);
		}
	} else if (hit == NULL) {
		return srv_accepted(c.xid, IPCX__RPC_PROG_UNAVAIL, out, cap, outlen);
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

/* What one pool thread owns: the reply buffer and the receive buffer, shared by every
 * connection it serves (nothing stays in them between wake-ups). */
typedef struct srv_bufs {
	unsigned char *tx; /* max_msg + 4: a reply with its record mark */
	unsigned char *rx;
	size_t rxcap;
} srv_bufs;

static int
srv_bufs_init(ipcx_rpc_server *s, srv_bufs *b)
{
	b->tx = malloc(s->max_msg + 4);
	b->rxcap = SRV_CHUNK;
	b->rx = malloc(b->rxcap);
	if (b->tx == NULL || b->rx == NULL) {
		free(b->tx);
		free(b->rx);
		return IPCX_ENOMEM;
	}
	return 0;
}

static void
srv_bufs_fini(srv_bufs *b)
{
	free(b->tx);
	free(b->rx);
}

/* Serve one call record and send its reply. Nonzero: drop the connection. */
static int
srv_call(srv_conn *k, const unsigned char *rec, size_t len, unsigned char *tx)
{
	ipcx_rpc_server *s = k->s;
	size_t outlen;
	int rv;

	if ((rv = ipcx__rpc_serve_one(s, rec, len, &k->peer, tx + 4, s->max_msg, &outlen)) != 0) {
		return rv;
	}
	ipcx__rm_mark(tx, (uint32_t)outlen, true);
	return ipcx_send(k->c, tx, outlen + 4, SRV_SEND_MS);
}

/* One marked record per message: the messages that can be read without waiting, up to a
 * batch. timeout_ms 0 in the pool (a message cut short stays inside the channel until the
 * rest comes), SRV_IDLE_SPIN_MS on a thread of its own. 1: served some, 0: nothing came
 * (wait on the fd); negative: drop the connection. */
static int
srv_msg_serve(srv_conn *k, srv_bufs *b, int timeout_ms)
{
	ipcx_rpc_server *s = k->s;
	size_t n, maxwire = s->max_msg + 64;
	unsigned char *rec;
	int rv;

	for (int i = 0; i < SRV_BATCH;) {
		rv = ipcx_recv(k->c, b->rx, b->rxcap, &n, timeout_ms);
		if (rv == IPCX_ETIMEDOUT) {
			return i > 0;
		}
		if (rv == IPCX_EMSGSIZE && n <= maxwire) {
			unsigned char *g = realloc(b->rx, n);
			if (g == NULL) {
				return IPCX_ENOMEM;
			}
			b->rx = g;
			b->rxcap = n;
			continue;
		}
		if (rv != 0) {
			return rv; /* closed, broken, or a message over max_msg */
		}
		if ((rv = ipcx__rm_unwrap(b->rx, n, (uint32_t)s->max_msg, 0, &rec, &n)) != 0 ||
		    (rv = srv_call(k, rec, n, b->tx)) != 0) {
			return rv;
		}
		i++;
		if (timeout_ms == 0 && (k->c->tp->pending == NULL || !k->c->tp->pending(k->c))) {
			break; /* the fd says when the next one comes */
		}
	}
	return 1;
}

/* tcp://: the raw stream through the incremental record decoder: every record of what one
 * read brought is served (the decoder keeps a record cut short, never a pointer into rx). */
static int
srv_raw_serve(srv_conn *k, srv_bufs *b)
{
	size_t n, off, used;
	int rv;

	for (int i = 0; i < SRV_BATCH; i++) {
		rv = ipcx_recv(k->c, b->rx, SRV_CHUNK, &n, 0);
		if (rv == IPCX_ETIMEDOUT) {
			return 0;
		}
		if (rv != 0) {
			return rv;
		}
		for (off = 0; off < n; off += used) {
			rv = ipcx__rm_dec_feed(&k->dec, b->rx + off, n - off, &used);
			if (rv < 0) {
				return rv;
			}
			if (rv == 1 && (rv = srv_call(k, k->dec.rec, k->dec.rec_len, b->tx)) != 0) {
				return rv;
			}
		}
		if (n < SRV_CHUNK) {
			return 0; /* the socket is empty: wait on the fd */
		}
	}
	return 0;
}

static int
srv_conn_new(ipcx_rpc_server *s, ipcx_chan *c, srv_conn **kp)
{
	srv_conn *k;

	if ((k = calloc(1, sizeof *k)) == NULL) {
		return IPCX_ENOMEM;
	}
	k->s = s;
	k->c = c;
	pthread_mutex_init(&k->own, NULL);
	k->peer.known = ipcx_peer_cred(c, &k->peer.pid, &k->peer.uid, &k->peer.gid) == 0;
	ipcx__rm_dec_init(&k->dec, (uint32_t)s->max_msg, 0);
	pthread_mutex_lock(&s->mu);
	k->next = s->conns;
	if (s->conns != NULL) {
		s->conns->prev = k;
	}
	s->conns = k;
	s->nconns++;
	pthread_mutex_unlock(&s->mu);
	*kp = k;
	return 0;
}

/* Close a connection (its fd must be out of the pool's set) and forget it. */
static void
srv_conn_free(srv_conn *k)
{
	ipcx_rpc_server *s = k->s;

	pthread_mutex_lock(&s->mu);
	if (k->prev != NULL) {
		k->prev->next = k->next;
	} else {
		s->conns = k->next;
	}
	if (k->next != NULL) {
		k->next->prev = k->prev;
	}
	s->nconns--;
	pthread_mutex_unlock(&s->mu);
	ipcx_close(k->c);
	ipcx__rm_dec_fini(&k->dec);
	pthread_mutex_destroy(&k->own);
	free(k);
}

/* ---- shm://: a thread per connection ----------------------------------------------------
 * Its receive spins on the ring for an adaptive budget before it sleeps: a call answered
 * by a thread that is already spinning costs no syscall at all, which a poll set over the
 * ring's eventfds (a write by every client per call, and the wake-up) would throw away. */

/* The server's threads report that their start-up is over, and whoever created one waits
 * for it: a fork(2) by the application right after ipcx_rpc_server_start() (or while a
 * client is accepted) must not catch a thread inside its start-up, where a sanitizer
 * runtime allocates under its allocator's lock without guarding fork (GCC 12's ASan), and
 * the child, inheriting the lock taken, would deadlock at its first thread or allocation. */
static void
srv_booted(ipcx_rpc_server *s)
{
	pthread_mutex_lock(&s->mu);
	s->booting--;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Under s->mu: wait until every thread created has reported. */
static void
srv_wait_booted(ipcx_rpc_server *s)
{
	while (s->booting > 0) {
		pthread_cond_wait(&s->cv, &s->mu);
	}
}

/* The runner has what it starts with: ipcx_rpc_server_start() may return. */
static void
srv_set_ready(ipcx_rpc_server *s)
{
	pthread_mutex_lock(&s->mu);
	s->ready = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void *
srv_conn_main(void *arg)
{
	srv_conn *k = arg;
	srv_bufs b;
	int fd = ipcx_chan_fd(k->c);
	bool ok = fd >= 0 && srv_bufs_init(k->s, &b) == 0;

	srv_booted(k->s);
	if (ok) {
		int rv;
		/* straight back to the spinning receive after a call; poll only once idle */
		while ((rv = srv_msg_serve(k, &b, SRV_IDLE_SPIN_MS)) > 0 ||
		       (rv == 0 && srv_wait(k->s, fd))) {
		}
		srv_bufs_fini(&b);
	}
	atomic_store(&k->done, true);
	return NULL;
}

/* Join the connections that ended (all of them with all set, after a stop). */
static void
srv_reap(ipcx_rpc_server *s, bool all)
{
	for (;;) {
		srv_conn *k;
		pthread_mutex_lock(&s->mu);
		for (k = s->conns; k != NULL && !all && !atomic_load(&k->done); k = k->next) {
		}
		pthread_mutex_unlock(&s->mu);
		if (k == NULL) {
			return;
		}
		pthread_join(k->tid, NULL);
		srv_conn_free(k);
	}
}

static int
srv_run_spin(ipcx_rpc_server *s)
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
			poll(&p, 1, SRV_BACKOFF_MS);
			continue;
		}
		if (srv_conn_new(s, c, &k) != 0) {
			ipcx_close(c);
			continue;
		}
		pthread_mutex_lock(&s->mu);
		s->booting++;
		if (pthread_create(&k->tid, NULL, srv_conn_main, k) != 0) {
			s->booting--;
			pthread_mutex_unlock(&s->mu);
			srv_conn_free(k);
			continue;
		}
		srv_wait_booted(s);
		pthread_mutex_unlock(&s->mu);
	}
	srv_reap(s, true);
	return 0;
}

/* ---- the pool ----------------------------------------------------------------------------
 * Every pool thread waits in epoll_wait on one set; a connection is in it with EPOLLONESHOT,
 * so the thread that takes its event owns it alone: it reads without waiting, runs the
 * handler, sends the reply, serves what is already buffered, and re-arms the connection.
 * No hand-off between threads per call, and while every thread is busy, ready connections
 * wait in the set and the next thread that comes back takes one without sleeping: under
 * load a wake-up serves many calls, as libtirpc's single poll loop does. A peer that stops
 * mid-record holds no thread (its bytes wait in the channel or the record decoder). */

/* Markers for the two fds of the set that are not connections. */
#define SRV_EV_STOP   ((void *)&srv_ev_marks[0])
#define SRV_EV_LISTEN ((void *)&srv_ev_marks[1])
static const char srv_ev_marks[2];

static int
srv_arm(ipcx_rpc_server *s, int op, int fd, void *ptr)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = ptr};

	return epoll_ctl(s->epfd, op, fd, &ev) == 0 ? 0 : ipcx__err(errno);
}

/* The listener's turn: take the clients that are there, into the set. */
static void
srv_accept_some(ipcx_rpc_server *s)
{
	for (int i = 0; i < SRV_ACCEPTS; i++) {
		ipcx_chan *c;
		srv_conn *k;
		int rv = ipcx_accept(s->l, &c, 0);

		if (rv == IPCX_ETIMEDOUT) {
			break;
		}
		if (rv != 0) {
			/* out of fds or memory: let clients leave before trying again */
			struct pollfd p = {.fd = s->evfd, .events = POLLIN};
			poll(&p, 1, SRV_BACKOFF_MS);
			break;
		}
		if (srv_conn_new(s, c, &k) != 0) {
			ipcx_close(c);
			continue;
		}
		/* once in the set another thread may serve it (and free it): k is not ours; it
		 * goes in under its lock, as srv_serve hands it over */
		pthread_mutex_lock(&k->own);
		if ((k->fd = ipcx_chan_fd(c)) < 0 || srv_arm(s, EPOLL_CTL_ADD, k->fd, k) != 0) {
			pthread_mutex_unlock(&k->own);
			srv_conn_free(k);
			continue;
		}
		pthread_mutex_unlock(&k->own);
	}
	srv_arm(s, EPOLL_CTL_MOD, ipcx_listener_fd(s->l), SRV_EV_LISTEN);
}

/* A connection's turn. */
static void
srv_serve(srv_conn *k, srv_bufs *b)
{
	ipcx_rpc_server *s = k->s;
	int rv;

	pthread_mutex_lock(&k->own);
	rv = s->kind == SRV_RAW ? srv_raw_serve(k, b) : srv_msg_serve(k, b, 0);
	/* re-armed under the lock: the next thread to take it waits here for the hand-over */
	if (rv >= 0 && srv_arm(s, EPOLL_CTL_MOD, k->fd, k) == 0) {
		pthread_mutex_unlock(&k->own);
		return;
	}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, k->fd, NULL);
	pthread_mutex_unlock(&k->own);
	srv_conn_free(k);
}

/* threads == 0: a thread going back to the set while enough others wait there leaves. */
static bool
srv_retire(ipcx_rpc_server *s)
{
	bool leave = false;

	if (!s->grow || atomic_load(&s->idle) < s->core) {
		return false;
	}
	pthread_mutex_lock(&s->mu);
	if (s->live > s->core && atomic_load(&s->idle) >= s->core) {
		s->live--;
		pthread_cond_broadcast(&s->cv);
		leave = true;
	}
	pthread_mutex_unlock(&s->mu);
	return leave;
}

/* Pool threads are detached: the last thing one does is to count itself out, under mu. */
static void *
srv_worker(void *arg)
{
	ipcx_rpc_server *s = arg;
	srv_bufs b;
	bool ok = srv_bufs_init(s, &b) == 0;

	srv_booted(s);
	while (ok) {
		struct epoll_event ev;
		int n = epoll_wait(s->epfd, &ev, 1, -1);
		if (n < 0 && errno != EINTR) {
			break;
		}
		if (n <= 0) {
			continue;
		}
		if (ev.data.ptr == SRV_EV_STOP) {
			break; /* level-triggered: every other thread sees it too */
		}
		/* the last waiting thread taken: the grower watches whether any comes back */
		if (atomic_fetch_sub(&s->idle, 1) == 1 && s->grow &&
		    !atomic_exchange(&s->armed, true)) {
			uint64_t one = 1;
			ssize_t w = write(s->armfd, &one, sizeof one);
			(void)w;
		}
		if (ev.data.ptr == SRV_EV_LISTEN) {
			srv_accept_some(s);
		} else {
			srv_serve(ev.data.ptr, &b);
		}
		if (s->grow) {
			atomic_fetch_add(&s->progress, 1);
			if (srv_retire(s)) {
				srv_bufs_fini(&b);
				return NULL;
			}
		}
		atomic_fetch_add(&s->idle, 1);
	}
	if (ok) {
		srv_bufs_fini(&b);
	} else {
		atomic_fetch_sub(&s->idle, 1);
	}
	pthread_mutex_lock(&s->mu);
	s->live--;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* One more pool thread (counted as waiting before it runs, so that the grower does not
 * add two for one shortage). */
static int
srv_spawn(ipcx_rpc_server *s)
{
	pthread_attr_t a;
	pthread_t t;
	int rv;

	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&s->mu);
	s->live++;
	s->booting++;
	atomic_fetch_add(&s->idle, 1);
	if ((rv = pthread_create(&t, &a, srv_worker, s)) != 0) {
		s->live--;
		s->booting--;
		atomic_fetch_sub(&s->idle, 1);
	} else {
		srv_wait_booted(s);
	}
	pthread_mutex_unlock(&s->mu);
	pthread_attr_destroy(&a);
	return rv == 0 ? 0 : ipcx__err(rv);
}

/* The pool's size when opts.threads is 0: the CPUs this process may run on, and at least
 * SRV_MIN_POOL, so that a few handlers that block do not hold up every other client until
 * the grower steps in (and on a shared machine the scheduler gives a server a share of a
 * CPU per runnable thread: one thread alone falls behind a thread per client there). */
static unsigned
srv_pool_size(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof set, &set) != 0 || (n = CPU_COUNT(&set)) < 1) {
		n = 1;
	}
	return (unsigned)n > SRV_MIN_POOL ? (unsigned)n : SRV_MIN_POOL;
}

/* threads == 0: while no pool thread waits in the set (the last one out armed us), look
 * every SRV_GROW_MS whether any finished something; if none did, all are held (handlers
 * that block, clients slow to read their replies): add a thread, as a thread per
 * connection would have had one. Returns at a stop. */
static void
srv_grower(ipcx_rpc_server *s)
{
	struct pollfd p[2] = {{.fd = s->evfd, .events = POLLIN},
	                      {.fd = s->armfd, .events = POLLIN}};

	for (;;) {
		uint64_t v;
		ssize_t r;
		int n = poll(p, 2, -1);
		if (n < 0 && errno != EINTR) {
			return;
		}
		if (p[0].revents != 0) {
			return;
		}
		if (n <= 0 || p[1].revents == 0) {
			continue;
		}
		r = read(s->armfd, &v, sizeof v);
		(void)r;
		for (;;) {
			unsigned before = atomic_load(&s->progress);
			if (poll(p, 1, SRV_GROW_MS) != 0 && p[0].revents != 0) {
				return;
			}
			if (atomic_load(&s->idle) > 0) {
				atomic_store(&s->armed, false);
				if (atomic_load(&s->idle) > 0 || atomic_exchange(&s->armed, true)) {
					break; /* a thread waits, or one armed us again */
				}
				continue;
			}
			pthread_mutex_lock(&s->mu);
			bool room = s->live < s->core + s->nconns + 1;
			pthread_mutex_unlock(&s->mu);
			if (atomic_load(&s->progress) == before && room) {
				srv_spawn(s);
			}
		}
	}
}

static int
srv_run_pool(ipcx_rpc_server *s)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = SRV_EV_STOP};
	int rv = 0;

	s->core = s->opts.threads != 0 ? s->opts.threads : srv_pool_size();
	s->grow = s->opts.threads == 0;
	atomic_store(&s->idle, 0);
	atomic_store(&s->armed, false);
	if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		return ipcx__err(errno);
	}
	if ((s->armfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &ev) != 0) {
		rv = ipcx__err(errno);
		goto out;
	}
	if ((rv = srv_arm(s, EPOLL_CTL_ADD, ipcx_listener_fd(s->l), SRV_EV_LISTEN)) != 0) {
		goto out;
	}
	for (unsigned i = 0; i < s->core; i++) {
		if ((rv = srv_spawn(s)) != 0 && i == 0) {
			goto out; /* not one thread: nothing could serve */
		}
	}
	rv = 0;
	srv_set_ready(s);
	if (s->grow) {
		srv_grower(s);
	} else {
		struct pollfd p = {.fd = s->evfd, .events = POLLIN};
		while (poll(&p, 1, -1) <= 0) {
		}
	}
out:
	/* a stop (evfd stays readable) ends every pool thread once its call is done */
	if (rv != 0) {
		ipcx_rpc_server_stop(s);
	}
	pthread_mutex_lock(&s->mu);
	while (s->live > 0) {
		pthread_cond_wait(&s->cv, &s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	while (s->conns != NULL) {
		srv_conn_free(s->conns);
	}
	ipcx__close_fd(s->armfd);
	ipcx__close_fd(s->epfd);
	s->armfd = s->epfd = -1;
	return rv;
}

static int
srv_run_streams(ipcx_rpc_server *s)
{
	return s->spin ? srv_run_spin(s) : srv_run_pool(s);
}

/* ---- udp -------------------------------------------------------------------------------- */

/* The cache is a hash table (chains of indices) over a ring of SRV_CACHE entries: a
 * lookup hashes the key and the sender and walks one short chain; a new reply replaces the
 * oldest entry (a retransmission comes within seconds, long before 256 other calls). */
static uint32_t
srv_cache_hash(const unsigned char *key, size_t kl, const struct sockaddr_storage *from,
               socklen_t fl)
{
	const unsigned char *f = (const unsigned char *)from;
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < kl; i++) {
		h = (h ^ key[i]) * 16777619u;
	}
	for (size_t i = 0; i < fl; i++) {
		h = (h ^ f[i]) * 16777619u;
	}
	return h;
}

static srv_cached *
srv_cache_find(ipcx_rpc_server *s, const unsigned char *call, size_t n,
               const struct sockaddr_storage *from, socklen_t fl, uint32_t h)
{
	size_t kl = n < SRV_KEY ? n : SRV_KEY;

	for (int i = s->bucket[h & (SRV_BUCKETS - 1)]; i >= 0; i = s->cache[i].chain) {
		srv_cached *e = &s->cache[i];
		if (e->hash == h && e->keylen == kl && memcmp(e->key, call, kl) == 0 &&
		    e->fromlen == fl && memcmp(&e->from, from, fl) == 0) {
			return e;
		}
	}
	return NULL;
}

static void
srv_cache_put(ipcx_rpc_server *s, const unsigned char *call, size_t n,
              const struct sockaddr_storage *from, socklen_t fl, uint32_t h,
              const unsigned char *reply, size_t len)
{
	int idx = (int)(s->cache_next % SRV_CACHE);
	srv_cached *e = &s->cache[idx];
	int16_t *pp;

	if (len > e->cap) {
		/* no allocation per call once the cache is warm: most replies fit the old buffer */
		unsigned char *b = realloc(e->reply, len);
		if (b == NULL) {
			return; /* a retransmission runs the call again: better than no reply */
		}
		e->reply = b;
		e->cap = len;
	}
	if (e->used) {
		/* unlink the oldest from its chain */
		for (pp = &s->bucket[e->hash & (SRV_BUCKETS - 1)]; *pp != idx;
		     pp = &s->cache[*pp].chain) {
		}
		*pp = e->chain;
	}
	s->cache_next++;
	memcpy(e->reply, reply, len);
	e->len = len;
	e->keylen = n < SRV_KEY ? n : SRV_KEY;
	memcpy(e->key, call, e->keylen);
	memcpy(&e->from, from, fl);
	e->fromlen = fl;
	e->hash = h;
	e->used = true;
	e->chain = s->bucket[h & (SRV_BUCKETS - 1)];
	s->bucket[h & (SRV_BUCKETS - 1)] = (int16_t)idx;
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
		uint32_t xid, type, h;
		size_t outlen;
		srv_cached *e;

		if (n < 0 || (size_t)n > SRV_CHUNK) {
			continue; /* nothing after all, or truncated: a call we could not read */
		}
		if (ipcx__rpc_peek(rx, (size_t)n, &xid, &type) != 0 || type != IPCX__RPC_CALL) {
			continue;
		}
		h = srv_cache_hash(rx, (size_t)n < SRV_KEY ? (size_t)n : SRV_KEY, &from, fl);
		if ((e = srv_cache_find(s, rx, (size_t)n, &from, fl, h)) != NULL) {
			sendto(s->ufd, e->reply, e->len, MSG_DONTWAIT, (struct sockaddr *)&from,
			       fl);
			continue;
		}
		if (ipcx__rpc_serve_one(s, rx, (size_t)n, NULL, tx, cap, &outlen) != 0) {
			continue;
		}
		srv_cache_put(s, rx, (size_t)n, &from, fl, h, tx, outlen);
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
		/* this transport only: a server of the same program on the other one (another
		 * process, or another ipcx_rpc_server) keeps its registration */
		ipcx__rpcb_unset(s->rpcb[i][0], s->rpcb[i][1], s->kind == SRV_UDP ? "udp" : "tcp",
		                 SRV_RPCB_MS);
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
	/* the pool says when its threads are up; the other loops need no more threads */
	if (s->kind == SRV_UDP || s->spin) {
		srv_set_ready(s);
	}
	s->run_rv = srv_loop(s);
	srv_set_ready(s); /* a loop that ended early */
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
	pthread_mutex_lock(&s->mu);
	while (!s->ready) {
		pthread_cond_wait(&s->cv, &s->mu);
	}
	pthread_mutex_unlock(&s->mu);
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
