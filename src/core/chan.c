/*
 * chan.c - the public channel API: URL -> transport dispatch, argument checks, deadlines,
 * and the pollable fd (ipcx_chan_fd) that stays truthful when a transport buffers data.
 */
#include "ipcx_int.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static const struct ipcx__transport *const transports[] = {
        &ipcx__pipe, &ipcx__fifo, &ipcx__unix,   &ipcx__tcp,
        &ipcx__udp,  &ipcx__mq,   &ipcx__sysvmq, &ipcx__file, &ipcx__shm,
};

static const char *const core_keys[] = {"maxmsg", "mode", "keep", "raw", NULL};

const struct ipcx__transport *
ipcx__transport_find(const char *scheme)
{
	for (size_t i = 0; i < sizeof transports / sizeof transports[0]; i++) {
		if (strcmp(transports[i]->scheme, scheme) == 0) {
			return transports[i];
		}
	}
	return NULL;
}

static bool
chan_key_in(const char *const *keys, const char *key)
{
	for (; keys != NULL && *keys != NULL; keys++) {
		if (strcmp(*keys, key) == 0) {
			return true;
		}
	}
	return false;
}

/* Parse url, find its transport, check that every query key is one somebody reads, and
 * resolve the options. */
static int
chan_prepare(ipcx__url *u, const struct ipcx__transport **tpp, ipcx__opts *o, const char *url,
             const ipcx_opts *opts)
{
	const struct ipcx__transport *tp;
	int rv;

	if ((rv = ipcx__url_parse(u, url)) != 0) {
		return rv;
	}
	if ((tp = ipcx__transport_find(u->scheme)) == NULL) {
		return IPCX_ESCHEME;
	}
	for (int i = 0; i < u->nquery; i++) {
		if (!chan_key_in(core_keys, u->query[i].key) &&
		    !chan_key_in(tp->query_keys, u->query[i].key)) {
			return IPCX_EBADURL;
		}
	}
	if ((rv = ipcx__opts_resolve(o, opts, u)) != 0) {
		return rv;
	}
	*tpp = tp;
	return 0;
}

IPCX_API void
ipcx_opts_init(ipcx_opts *opts)
{
	memset(opts, 0, sizeof *opts);
	opts->size = sizeof *opts;
}

IPCX_API int
ipcx_persistence(const char *url)
{
	ipcx__url u;
	const struct ipcx__transport *tp;
	int rv;

	if ((rv = ipcx__url_parse(&u, url)) != 0) {
		return rv;
	}
	if ((tp = ipcx__transport_find(u.scheme)) == NULL) {
		return IPCX_ESCHEME;
	}
	return tp->persistence(&u);
}

IPCX_API const char *
ipcx_persistence_name(int persistence)
{
	switch (persistence) {
	case IPCX_PERSIST_PROCESS:
		return "process";
	case IPCX_PERSIST_KERNEL:
		return "kernel";
	case IPCX_PERSIST_FILESYSTEM:
		return "filesystem";
	default:
		return "?";
	}
}

void
ipcx__chan_init(ipcx_chan *c, const struct ipcx__transport *tp, size_t max_msg)
{
	c->tp = tp;
	c->max_msg = max_msg;
	c->pollfd = -1;
	c->evfd = -1;
	c->ev_set = false;
	c->lbuf = c->vbuf = NULL;
	c->lcap = c->lsize = c->vcap = 0;
	c->ltimeout = 0;
	c->loaned = c->viewing = false;
}

IPCX_API int
ipcx_listen(ipcx_listener **lp, const char *url, const ipcx_opts *opts)
{
	ipcx__url u;
	ipcx__opts o;
	const struct ipcx__transport *tp;
	int rv;

	if (lp == NULL) {
		return IPCX_EINVAL;
	}
	*lp = NULL;
	if ((rv = chan_prepare(&u, &tp, &o, url, opts)) != 0) {
		return rv;
	}
	if (tp->listen == NULL) {
		return IPCX_ENOTSUP;
	}
	return tp->listen(lp, &u, &o);
}

IPCX_API int
ipcx_accept(ipcx_listener *l, ipcx_chan **cp, int timeout_ms)
{
	if (l == NULL || cp == NULL) {
		return IPCX_EINVAL;
	}
	*cp = NULL;
	return l->tp->accept(l, cp, ipcx__deadline(timeout_ms));
}

IPCX_API void
ipcx_listener_close(ipcx_listener *l)
{
	if (l != NULL) {
		l->tp->listener_close(l);
	}
}

IPCX_API int
ipcx_listener_fd(ipcx_listener *l)
{
	if (l == NULL) {
		return IPCX_EINVAL;
	}
	return l->tp->listener_fd(l);
}

IPCX_API int
ipcx_listener_url(ipcx_listener *l, char *buf, size_t cap)
{
	if (l == NULL || buf == NULL) {
		return IPCX_EINVAL;
	}
	return l->tp->listener_url(l, buf, cap);
}

IPCX_API int
ipcx_dial(ipcx_chan **cp, const char *url, const ipcx_opts *opts, int timeout_ms)
{
	ipcx__url u;
	ipcx__opts o;
	const struct ipcx__transport *tp;
	int64_t deadline = ipcx__deadline(timeout_ms);
	int rv;

	if (cp == NULL) {
		return IPCX_EINVAL;
	}
	*cp = NULL;
	if ((rv = chan_prepare(&u, &tp, &o, url, opts)) != 0) {
		return rv;
	}
	if (tp->dial == NULL) {
		return IPCX_ENOTSUP;
	}
	return tp->dial(cp, &u, &o, deadline);
}

IPCX_API int
ipcx_pair(ipcx_chan **ap, ipcx_chan **bp, const ipcx_opts *opts)
{
	ipcx__opts o;
	int p1[2], p2[2], rv;

	if (ap == NULL || bp == NULL) {
		return IPCX_EINVAL;
	}
	*ap = *bp = NULL;
	if ((rv = ipcx__opts_resolve(&o, opts, NULL)) != 0) {
		return rv;
	}
	if (pipe2(p1, O_CLOEXEC) == -1) {
		return ipcx__err(errno);
	}
	if (pipe2(p2, O_CLOEXEC) == -1) {
		rv = ipcx__err(errno);
		goto fail_p1;
	}
	/* a reads p1 and writes p2; b reads p2 and writes p1 */
	if ((rv = ipcx__pipe_chan_from_fds(ap, p1[0], p2[1], &o)) != 0) {
		goto fail_p2;
	}
	if ((rv = ipcx__pipe_chan_from_fds(bp, p2[0], p1[1], &o)) != 0) {
		goto fail_a;
	}
	return 0;
fail_a:
	ipcx_close(*ap); /* closes p1[0] and p2[1] */
	*ap = NULL;
	ipcx__close_fd(p2[0]);
	ipcx__close_fd(p1[1]);
	return rv;
fail_p2:
	ipcx__close_fd(p2[0]);
	ipcx__close_fd(p2[1]);
fail_p1:
	ipcx__close_fd(p1[0]);
	ipcx__close_fd(p1[1]);
	return rv;
}

/* Keep the eventfd in ipcx_chan_fd's epoll set readable exactly while the transport holds
 * buffered data, so a poll loop never sleeps on a message already received. */
void
ipcx__chan_sync_ev(ipcx_chan *c)
{
	bool pend;

	if (c->evfd < 0) {
		return;
	}
	pend = c->tp->pending(c);
	if (pend != c->ev_set) {
		ipcx__ev_set(c->evfd, pend);
		c->ev_set = pend;
	}
}

IPCX_API int
ipcx_send(ipcx_chan *c, const void *buf, size_t len, int timeout_ms)
{
	if (c == NULL || (buf == NULL && len > 0)) {
		return IPCX_EINVAL;
	}
	if (len > c->max_msg) {
		return IPCX_EMSGSIZE;
	}
	if (c->loaned) {
		return IPCX_EBUSY;
	}
	return c->tp->send(c, buf, len, ipcx__chan_deadline(c, timeout_ms));
}

IPCX_API int
ipcx_send_prio(ipcx_chan *c, const void *buf, size_t len, unsigned prio, int timeout_ms)
{
	if (c == NULL || (buf == NULL && len > 0)) {
		return IPCX_EINVAL;
	}
	if (c->tp->send_prio == NULL) {
		return IPCX_ENOTSUP;
	}
	if (c->loaned) {
		return IPCX_EBUSY;
	}
	if (len > c->max_msg) {
		return IPCX_EMSGSIZE;
	}
	return c->tp->send_prio(c, buf, len, prio, ipcx__deadline(timeout_ms));
}

IPCX_API int
ipcx_recv(ipcx_chan *c, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	int rv;

	if (c == NULL || len == NULL || (buf == NULL && cap > 0)) {
		return IPCX_EINVAL;
	}
	if (c->viewing) {
		return IPCX_EBUSY;
	}
	rv = c->tp->recv(c, buf, cap, len, ipcx__chan_deadline(c, timeout_ms));
	ipcx__chan_sync_ev(c);
	return rv;
}

IPCX_API int
ipcx_send_fds(ipcx_chan *c, const void *buf, size_t len, const int *fds, size_t nfds,
              int timeout_ms)
{
	if (c == NULL || (buf == NULL && len > 0) || (fds == NULL && nfds > 0)) {
		return IPCX_EINVAL;
	}
	if (c->tp->send_fds == NULL) {
		return IPCX_ENOTSUP;
	}
	if (c->loaned) {
		return IPCX_EBUSY;
	}
	if (len > c->max_msg || nfds > IPCX_MAX_FDS) {
		return IPCX_EMSGSIZE;
	}
	return c->tp->send_fds(c, buf, len, fds, nfds, ipcx__deadline(timeout_ms));
}

IPCX_API int
ipcx_recv_fds(ipcx_chan *c, void *buf, size_t cap, size_t *len, int *fds, size_t *nfds,
              int timeout_ms)
{
	int rv;

	if (c == NULL || len == NULL || nfds == NULL || (buf == NULL && cap > 0) ||
	    (fds == NULL && *nfds > 0)) {
		return IPCX_EINVAL;
	}
	if (c->tp->recv_fds == NULL) {
		return IPCX_ENOTSUP;
	}
	if (c->viewing) {
		return IPCX_EBUSY;
	}
	rv = c->tp->recv_fds(c, buf, cap, len, fds, nfds, ipcx__deadline(timeout_ms));
	ipcx__chan_sync_ev(c);
	return rv;
}

IPCX_API int
ipcx_chan_fd(ipcx_chan *c)
{
	int tfd, rv;

	if (c == NULL) {
		return IPCX_EINVAL;
	}
	if (c->pollfd >= 0) {
		return c->pollfd;
	}
	tfd = c->tp->fd(c);
	if (tfd < 0 || c->tp->pending == NULL) {
		return tfd;
	}
	if ((rv = ipcx__pollset_new(tfd, &c->pollfd, &c->evfd)) != 0) {
		return rv;
	}
	c->ev_set = false;
	ipcx__chan_sync_ev(c);
	return c->pollfd;
}

IPCX_API const char *
ipcx_chan_scheme(ipcx_chan *c)
{
	return c == NULL ? "?" : c->tp->scheme;
}

IPCX_API int
ipcx_peer_cred(ipcx_chan *c, pid_t *pid, uid_t *uid, gid_t *gid)
{
	if (c == NULL) {
		return IPCX_EINVAL;
	}
	if (c->tp->peer_cred == NULL) {
		return IPCX_ENOTSUP;
	}
	return c->tp->peer_cred(c, pid, uid, gid);
}

IPCX_API void
ipcx_close(ipcx_chan *c)
{
	if (c == NULL) {
		return;
	}
	ipcx__close_fd(c->pollfd);
	ipcx__close_fd(c->evfd);
	free(c->lbuf);
	free(c->vbuf);
	c->tp->close(c);
}
