/*
 * udp.c - the udp:// scheme: one message per datagram. A listener "accepts" a new sender
 * by giving it a socket of its own, bound to the listener's address and connected to the
 * sender, so that its later datagrams arrive there. Loss and reordering are possible.
 */
#include "../core/ipcx_int.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_MAX_V4 65507 /* 65535 - 20 (IPv4) - 8 (UDP) */
#define UDP_MAX_V6 65527 /* 65535 - 8 (UDP); no jumbograms */
#define UDP_BUF    65536

/* The senders a listener has handed a channel to, shared with those channels. */
typedef struct udp_peer {
	struct sockaddr_storage ss;
	socklen_t len;
} udp_peer;

typedef struct udp_peers {
	pthread_mutex_t mu;
	int refs;
	size_t n, cap;
	udp_peer *v;
} udp_peers;

/* A datagram read by the listener before its sender had a channel. */
typedef struct udp_dgram {
	struct udp_dgram *next;
	udp_peer from;
	size_t len;
	unsigned char data[];
} udp_dgram;

#define UDP_PEND_MAX 1024 /* datagrams of not-yet-accepted senders kept by a listener */

typedef struct udp_chan {
	ipcx_chan base;
	int fd;
	unsigned char *ovf; /* UDP_BUF bytes: the part of a datagram beyond the caller's buffer */
	bool pm_active;     /* a datagram is kept in ovf */
	bool wait_first;    /* see udp_recv */
	unsigned probe;
	size_t pm_len;
	udp_peers *peers; /* accepted channels: the listener's table, to leave on close */
	udp_peer peer;
	udp_dgram *q_head; /* what the sender sent before it was accepted, in order */
	udp_dgram **q_tail;
} udp_chan;

typedef struct udp_listener {
	ipcx_listener base;
	int fd;
	struct sockaddr_storage local;
	socklen_t local_len;
	udp_peers *peers;
	/* datagrams of senders not accepted yet, read while draining for another sender;
	 * evfd is readable while there are any, and epfd (socket + evfd) is the listener fd */
	udp_dgram *pend_head, **pend_tail;
	size_t npend;
	int evfd, epfd;
	unsigned char buf[UDP_BUF];
} udp_listener;

static int
udp_persistence(const ipcx__url *u)
{
	IPCX__UNUSED(u);
	return IPCX_PERSIST_PROCESS;
}

static bool
udp_peer_eq(const udp_peer *p, const struct sockaddr_storage *ss, socklen_t len)
{
	return p->len == len && memcmp(&p->ss, ss, len) == 0;
}

static bool
udp_peers_has(udp_peers *ps, const struct sockaddr_storage *ss, socklen_t len)
{
	bool found = false;

	pthread_mutex_lock(&ps->mu);
	for (size_t i = 0; i < ps->n && !found; i++) {
		found = udp_peer_eq(&ps->v[i], ss, len);
	}
	pthread_mutex_unlock(&ps->mu);
	return found;
}

static int
udp_peers_add(udp_peers *ps, const udp_peer *p)
{
	int rv = 0;

	pthread_mutex_lock(&ps->mu);
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 16;
		udp_peer *v = realloc(ps->v, cap * sizeof *v);
		if (v == NULL) {
			rv = IPCX_ENOMEM;
			goto out;
		}
		ps->v = v;
		ps->cap = cap;
	}
	ps->v[ps->n++] = *p;
	ps->refs++;
out:
	pthread_mutex_unlock(&ps->mu);
	return rv;
}

/* Drop one reference; with p, also forget that peer. */
static void
udp_peers_release(udp_peers *ps, const udp_peer *p)
{
	bool last;

	pthread_mutex_lock(&ps->mu);
	for (size_t i = 0; p != NULL && i < ps->n; i++) {
		if (udp_peer_eq(&ps->v[i], &p->ss, p->len)) {
			ps->v[i] = ps->v[--ps->n];
			break;
		}
	}
	last = --ps->refs == 0;
	pthread_mutex_unlock(&ps->mu);
	if (last) {
		pthread_mutex_destroy(&ps->mu);
		free(ps->v);
		free(ps);
	}
}

static int
udp_chan_new(ipcx_chan **cp, int fd, int family, const ipcx__opts *o)
{
	size_t lim = family == AF_INET6 ? UDP_MAX_V6 : UDP_MAX_V4;
	udp_chan *d;

	if ((d = calloc(1, sizeof *d)) == NULL) {
		return IPCX_ENOMEM;
	}
	if ((d->ovf = malloc(UDP_BUF)) == NULL) {
		free(d);
		return IPCX_ENOMEM;
	}
	ipcx__chan_init(&d->base, &ipcx__udp, o->max_msg < lim ? o->max_msg : lim);
	d->fd = fd;
	d->q_tail = &d->q_head;
	*cp = &d->base;
	return 0;
}

/* 0 if nobody is bound to ai's address (or it asks for any port), else an error. */
static int
udp_port_free(const struct addrinfo *ai)
{
	const struct sockaddr *sa = ai->ai_addr;
	bool any_port =
	        (sa->sa_family == AF_INET && ((const struct sockaddr_in *)sa)->sin_port == 0) ||
	        (sa->sa_family == AF_INET6 && ((const struct sockaddr_in6 *)sa)->sin6_port == 0);
	int probe, rv = 0;

	if (any_port) {
		return 0;
	}
	if ((probe = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		return ipcx__err(errno);
	}
	if (bind(probe, sa, ai->ai_addrlen) == -1) {
		rv = ipcx__err(errno);
	}
	close(probe);
	return rv;
}

static int
udp_listen(ipcx_listener **lp, ipcx__url *u, const ipcx__opts *o)
{
	struct addrinfo *res, *ai;
	udp_listener *l;
	int fd = -1, rv, one = 1;

	if (o->raw) {
		return IPCX_ENOTSUP;
	}
	if ((rv = ipcx__url_hostport(u)) != 0) {
		return rv;
	}
	if ((rv = ipcx__inet_resolve(&res, u, SOCK_DGRAM, true, IPCX__FOREVER)) != 0) {
		return rv;
	}
	rv = IPCX_EADDRNOTAVAIL;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd == -1) {
			rv = ipcx__err(errno);
			continue;
		}
		/* SO_REUSEPORT (below) would let a second listener share the port and split the
		 * clients: first make sure nobody has it, with a plain bind */
		if ((rv = udp_port_free(ai)) != 0) {
			close(fd);
			fd = -1;
			break;
		}
		/* accepted channels bind the same address: they join this reuseport group */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			rv = 0;
			break;
		}
		rv = ipcx__err(errno);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (rv != 0) {
		return rv;
	}
	if ((l = calloc(1, sizeof *l)) == NULL ||
	    (l->peers = calloc(1, sizeof *l->peers)) == NULL) {
		rv = IPCX_ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&l->peers->mu, NULL);
	l->peers->refs = 1;
	l->evfd = l->epfd = -1;
	l->pend_tail = &l->pend_head;
	l->local_len = sizeof l->local;
	if (getsockname(fd, (struct sockaddr *)&l->local, &l->local_len) == -1) {
		rv = ipcx__err(errno);
		goto fail_mu;
	}
	if ((rv = ipcx__pollset_new(fd, &l->epfd, &l->evfd)) != 0) {
		goto fail_mu;
	}
	l->base.tp = &ipcx__udp;
	l->base.opts = *o;
	l->fd = fd;
	*lp = &l->base;
	return 0;
fail_mu:
	pthread_mutex_destroy(&l->peers->mu);
fail:
	if (l != NULL) {
		free(l->peers);
	}
	free(l);
	close(fd);
	return rv;
}

static int
udp_peer_socket(udp_listener *l, const udp_peer *p)
{
	int one = 1, fd;

	fd = socket(l->local.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		return ipcx__err(errno);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == -1 ||
	    bind(fd, (struct sockaddr *)&l->local, l->local_len) == -1 ||
	    connect(fd, (const struct sockaddr *)&p->ss, p->len) == -1) {
		int rv = ipcx__err(errno);
		close(fd);
		return rv;
	}
	return fd;
}

static udp_dgram *
udp_dgram_new(const udp_peer *from, const void *data, size_t len)
{
	udp_dgram *g = malloc(sizeof *g + len);

	if (g != NULL) {
		g->next = NULL;
		g->from = *from;
		g->len = len;
		ipcx__copy(g->data, data, len);
	}
	return g;
}

static void
udp_dgrams_free(udp_dgram *g)
{
	while (g != NULL) {
		udp_dgram *next = g->next;
		free(g);
		g = next;
	}
}

/* Keep the listener's fd readable exactly while datagrams of unaccepted senders wait. */
static void
udp_listener_sync_ev(udp_listener *l)
{
	ipcx__ev_set(l->evfd, l->npend > 0);
}

/* Take the oldest kept datagram of a sender that has no channel yet; drop those of
 * senders that have one now (they raced its connect; udp may lose them). */
static udp_dgram *
udp_pend_take_new(udp_listener *l)
{
	udp_dgram **pp = &l->pend_head, *g;

	while ((g = *pp) != NULL) {
		*pp = g->next;
		l->npend--;
		if (!udp_peers_has(l->peers, &g->from.ss, g->from.len)) {
			break;
		}
		free(g);
	}
	for (pp = &l->pend_head; *pp != NULL; pp = &(*pp)->next) {
	}
	l->pend_tail = pp; /* it may have pointed into a node taken out */
	return g;
}

/* Give the new channel every datagram its sender sent before now: those kept by the
 * listener, then those still queued on the listener socket (other senders' go to the
 * listener's list). */
static void
udp_hand_over(udp_listener *l, udp_chan *d)
{
	udp_dgram **pp = &l->pend_head, *g;

	while ((g = *pp) != NULL) {
		if (udp_peer_eq(&d->peer, &g->from.ss, g->from.len)) {
			*pp = g->next;
			l->npend--;
			g->next = NULL;
			*d->q_tail = g;
			d->q_tail = &g->next;
		} else {
			pp = &g->next;
		}
	}
	l->pend_tail = pp;
	for (;;) {
		udp_peer p;
		ssize_t n;
		p.len = sizeof p.ss;
		n = recvfrom(l->fd, l->buf, sizeof l->buf, MSG_DONTWAIT, (struct sockaddr *)&p.ss,
		             &p.len);
		if (n < 0) {
			if (errno == EINTR || errno == ECONNREFUSED) {
				continue;
			}
			break;
		}
		if (udp_peer_eq(&d->peer, &p.ss, p.len)) {
			if ((g = udp_dgram_new(&p, l->buf, (size_t)n)) != NULL) {
				*d->q_tail = g;
				d->q_tail = &g->next;
			}
		} else if (!udp_peers_has(l->peers, &p.ss, p.len) && l->npend < UDP_PEND_MAX &&
		           (g = udp_dgram_new(&p, l->buf, (size_t)n)) != NULL) {
			*l->pend_tail = g;
			l->pend_tail = &g->next;
			l->npend++;
		}
	}
}

static int
udp_accept(ipcx_listener *lb, ipcx_chan **cp, int64_t deadline)
{
	udp_listener *l = (udp_listener *)lb;

	for (;;) {
		udp_dgram *first = udp_pend_take_new(l);
		udp_peer p;
		const unsigned char *data;
		size_t len;
		udp_chan *d;
		int fd, rv;
		if (first != NULL) {
			p = first->from;
			data = first->data;
			len = first->len;
		} else {
			ssize_t n;
			p.len = sizeof p.ss;
			n = recvfrom(l->fd, l->buf, sizeof l->buf, MSG_DONTWAIT,
			             (struct sockaddr *)&p.ss, &p.len);
			if (n < 0) {
				if (errno == EAGAIN) {
					if ((rv = ipcx__wait_fd(l->fd, POLLIN, deadline)) < 0) {
						udp_listener_sync_ev(l);
						return rv;
					}
				} else if (errno != EINTR && errno != ECONNREFUSED) {
					return ipcx__err(errno);
				}
				continue;
			}
			/* a known sender's datagram that raced its channel's connect(): dropped,
			 * which udp allows */
			if (udp_peers_has(l->peers, &p.ss, p.len)) {
				continue;
			}
			data = l->buf;
			len = (size_t)n;
		}
		if ((fd = udp_peer_socket(l, &p)) < 0) {
			free(first);
			return fd;
		}
		if ((rv = udp_chan_new(cp, fd, l->local.ss_family, &l->base.opts)) != 0) {
			close(fd);
			free(first);
			return rv;
		}
		d = (udp_chan *)*cp;
		if ((rv = udp_peers_add(l->peers, &p)) != 0) {
			ipcx_close(*cp);
			*cp = NULL;
			free(first);
			return rv;
		}
		d->peers = l->peers;
		d->peer = p;
		/* the datagram that announced the sender is its first message */
		memcpy(d->ovf, data, len);
		d->pm_len = len;
		d->pm_active = true;
		free(first);
		udp_hand_over(l, d);
		udp_listener_sync_ev(l);
		return 0;
	}
}

static void
udp_listener_close(ipcx_listener *lb)
{
	udp_listener *l = (udp_listener *)lb;

	close(l->epfd);
	close(l->evfd);
	close(l->fd);
	udp_dgrams_free(l->pend_head);
	udp_peers_release(l->peers, NULL);
	free(l);
}

static int
udp_listener_fd(ipcx_listener *lb)
{
	return ((udp_listener *)lb)->epfd;
}

static int
udp_listener_url(ipcx_listener *lb, char *buf, size_t cap)
{
	udp_listener *l = (udp_listener *)lb;

	return ipcx__inet_format(buf, cap, "udp", (struct sockaddr *)&l->local);
}

static int
udp_dial(ipcx_chan **cp, ipcx__url *u, const ipcx__opts *o, int64_t deadline)
{
	struct addrinfo *res, *ai;
	int fd = -1, rv, family = AF_INET;

	if (o->raw) {
		return IPCX_ENOTSUP;
	}
	if ((rv = ipcx__url_hostport(u)) != 0) {
		return rv;
	}
	if (u->host[0] == '\0') {
		return IPCX_EBADURL;
	}
	/* the lookup is the only wait: a udp connect only records the address */
	if ((rv = ipcx__inet_resolve(&res, u, SOCK_DGRAM, false, deadline)) != 0) {
		return rv;
	}
	rv = IPCX_EADDRNOTAVAIL;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			rv = ipcx__err(errno);
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			family = ai->ai_family;
			rv = 0;
			break;
		}
		rv = ipcx__err(errno);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (rv != 0) {
		return rv;
	}
	if ((rv = udp_chan_new(cp, fd, family, o)) != 0) {
		close(fd);
	}
	return rv;
}

static int
udp_send(ipcx_chan *c, const void *buf, size_t len, int64_t deadline)
{
	udp_chan *d = (udp_chan *)c;
	int flags = MSG_NOSIGNAL | (deadline == IPCX__FOREVER ? 0 : MSG_DONTWAIT);

	for (;;) {
		int rv;
		if (send(d->fd, buf, len, flags) >= 0) {
			return 0;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno != EAGAIN) {
			return ipcx__err(errno);
		}
		if ((rv = ipcx__wait_fd(d->fd, POLLOUT, deadline)) < 0) {
			return rv;
		}
	}
}

static int
udp_recv(ipcx_chan *c, void *buf, size_t cap, size_t *len, int64_t deadline)
{
	udp_chan *d = (udp_chan *)c;
	int flags = deadline == IPCX__FOREVER ? 0 : MSG_DONTWAIT;
	bool wait;

	if (d->pm_active) {
		*len = d->pm_len;
		if (d->pm_len > cap) {
			return IPCX_EMSGSIZE;
		}
		ipcx__copy(buf, d->ovf, d->pm_len);
		d->pm_active = false;
		return 0;
	}
	if (d->q_head != NULL) {
		/* sent before the listener accepted its sender: in order, ahead of the socket */
		udp_dgram *g = d->q_head;
		*len = g->len;
		if (g->len > cap) {
			memcpy(d->ovf, g->data, g->len); /* keep it whole, like any datagram */
			d->pm_len = g->len;
			d->pm_active = true;
		} else {
			ipcx__copy(buf, g->data, g->len);
		}
		if ((d->q_head = g->next) == NULL) {
			d->q_tail = &d->q_head;
		}
		free(g);
		return d->pm_active ? IPCX_EMSGSIZE : 0;
	}
	/* as in unix.c: after a futile try, wait first; probe now and then */
	wait = deadline != IPCX__FOREVER && d->wait_first && (++d->probe & 15) != 0;
	for (;;) {
		struct iovec iov[2] = {{buf, cap}, {d->ovf, UDP_BUF}};
		struct sockaddr_storage src;
		struct msghdr mh = {.msg_name = &src,
		                    .msg_namelen = sizeof src,
		                    .msg_iov = iov,
		                    .msg_iovlen = 2};
		ssize_t n;
		int rv;
		if (wait && (rv = ipcx__wait_fd(d->fd, POLLIN, deadline)) < 0) {
			return rv;
		}
		n = recvmsg(d->fd, &mh, flags);
		if (n >= 0 && !wait) {
			d->wait_first = false;
		}
		if (n >= 0 && d->peers != NULL && !udp_peer_eq(&d->peer, &src, mh.msg_namelen)) {
			/* An accepted socket is briefly bound but not yet connected, and may then
			 * be handed another sender's datagram: drop it, never misdeliver it. */
			wait = false;
			continue;
		}
		if (n >= 0) {
			*len = (size_t)n;
			if ((size_t)n <= cap) {
				return 0;
			}
			/* keep the datagram whole in ovf for the next call */
			memmove(d->ovf + cap, d->ovf, (size_t)n - cap);
			ipcx__copy(d->ovf, buf, cap);
			d->pm_len = (size_t)n;
			d->pm_active = true;
			return IPCX_EMSGSIZE;
		}
		wait = errno != EINTR;
		if (errno == EINTR) {
			continue;
		}
		if (errno != EAGAIN) {
			return ipcx__err(errno); /* e.g. ECONNREFUSED: nobody listens there */
		}
		d->wait_first = true;
	}
}

static int
udp_fd(ipcx_chan *c)
{
	return ((udp_chan *)c)->fd;
}

static bool
udp_pending(ipcx_chan *c)
{
	udp_chan *d = (udp_chan *)c;

	return d->pm_active || d->q_head != NULL;
}

static void
udp_close(ipcx_chan *c)
{
	udp_chan *d = (udp_chan *)c;

	close(d->fd);
	if (d->peers != NULL) {
		udp_peers_release(d->peers, &d->peer);
	}
	udp_dgrams_free(d->q_head);
	free(d->ovf);
	free(d);
}

const struct ipcx__transport ipcx__udp = {
        .version = IPCX__TRANSPORT_VERSION,
        .scheme = "udp",
        .persistence = udp_persistence,
        .listen = udp_listen,
        .accept = udp_accept,
        .listener_close = udp_listener_close,
        .listener_fd = udp_listener_fd,
        .listener_url = udp_listener_url,
        .dial = udp_dial,
        .send = udp_send,
        .recv = udp_recv,
        .fd = udp_fd,
        .pending = udp_pending,
        .close = udp_close,
};
