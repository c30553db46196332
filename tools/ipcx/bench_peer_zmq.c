/*
 * bench_peer_zmq.c - ZeroMQ for `ipcx bench --peers`: one PAIR socket per side, over ipc:// (a
 * socket file in the bench's private directory) or tcp:// on 127.0.0.1, default settings.
 */
#include "bench_int.h"

#ifdef IPCX_BENCH_ZMQ

#include <zmq.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct zq_side {
	void *ctx, *s;
} zq_side;

static int
zq_code(int e)
{
	return e == EAGAIN ? IPCX_ETIMEDOUT : e == ETERM ? IPCX_ECLOSED : -e;
}

static int
zq_send(bench_ep *ep, const void *buf, size_t len)
{
	zq_side *z = ep->priv;

	while (zmq_send(z->s, buf, len, 0) < 0) {
		if (errno != EINTR) {
			return zq_code(errno);
		}
	}
	return 0;
}

/* The per-call shorter wait is not needed: PAIR is not lossy, so nothing drains. */
static int
zq_recv(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	zq_side *z = ep->priv;
	int n;

	(void)timeout_ms;
	while ((n = zmq_recv(z->s, buf, cap, 0)) < 0) {
		if (errno != EINTR) {
			return zq_code(errno);
		}
	}
	if ((size_t)n > cap) {
		return IPCX_EMSGSIZE; /* zmq_recv truncated it */
	}
	*len = (size_t)n;
	return 0;
}

static void
zq_free(zq_side *z)
{
	if (z->s != NULL) {
		zmq_close(z->s);
	}
	if (z->ctx != NULL) {
		zmq_ctx_term(z->ctx);
	}
	free(z);
}

static void
zq_close(bench_ep *ep)
{
	if (ep->priv != NULL) {
		zq_free(ep->priv);
	}
	ep->priv = NULL;
}

static const struct bench_ep_ops zq_ops = {
        .send = zq_send,
        .recv = zq_recv,
        .close = zq_close,
};

/* A context and a PAIR socket with the bench's timeouts; linger 0, so that closing never
 * waits (every message that counts was answered before). */
static int
zq_open(bench_ctx *cx, zq_side **out, char *err)
{
	zq_side *z = calloc(1, sizeof *z);
	int t = cx->timeout_ms, zero = 0;

	if (z == NULL) {
		return IPCX_ENOMEM;
	}
	if ((z->ctx = zmq_ctx_new()) == NULL || (z->s = zmq_socket(z->ctx, ZMQ_PAIR)) == NULL) {
		int e = errno;
		snprintf(err, BENCH_ERR_MAX, "zmq_socket: %s", zmq_strerror(e));
		zq_free(z);
		return -e;
	}
	if (zmq_setsockopt(z->s, ZMQ_RCVTIMEO, &t, sizeof t) != 0 ||
	    zmq_setsockopt(z->s, ZMQ_SNDTIMEO, &t, sizeof t) != 0 ||
	    zmq_setsockopt(z->s, ZMQ_LINGER, &zero, sizeof zero) != 0) {
		int e = errno;
		snprintf(err, BENCH_ERR_MAX, "zmq_setsockopt: %s", zmq_strerror(e));
		zq_free(z);
		return -e;
	}
	*out = z;
	return 0;
}

static int
zq_serve(bench_ctx *cx, char *err)
{
	char url[BENCH_ADDR_MAX];
	size_t n = sizeof cx->addr;
	zq_side *z;
	int rv;

	if ((rv = bench_expand(url, sizeof url, cx->impl->arg, cx)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "url for %s", cx->impl->arg);
		return rv;
	}
	if ((rv = zq_open(cx, &z, err)) != 0) {
		return rv;
	}
	if (zmq_bind(z->s, url) != 0 ||
	    zmq_getsockopt(z->s, ZMQ_LAST_ENDPOINT, cx->addr, &n) != 0) {
		int e = errno;
		snprintf(err, BENCH_ERR_MAX, "zmq_bind %s: %s", url, zmq_strerror(e));
		zq_free(z);
		return -e;
	}
	cx->lst = z;
	return 0;
}

/* PAIR takes its one peer by itself; the handshake's receive waits for it. */
static int
zq_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	(void)err;
	ep->priv = cx->lst;
	ep->ops = &zq_ops;
	cx->lst = NULL;
	return 0;
}

static int
zq_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	zq_side *z;
	int rv;

	if ((rv = zq_open(cx, &z, err)) != 0) {
		return rv;
	}
	if (zmq_connect(z->s, cx->addr) != 0) {
		int e = errno;
		snprintf(err, BENCH_ERR_MAX, "zmq_connect %s: %s", cx->addr, zmq_strerror(e));
		zq_free(z);
		return -e;
	}
	ep->priv = z;
	ep->ops = &zq_ops;
	return 0;
}

#define ZQ_IMPL(var, label, tmpl)    \
	const bench_impl var = {     \
	        .name = label,       \
	        .arg = tmpl,         \
	        .serve = zq_serve,   \
	        .accept = zq_accept, \
	        .dial = zq_dial,     \
	}

#else /* !IPCX_BENCH_ZMQ */

#define ZQ_IMPL(var, label, tmpl)                                                            \
	const bench_impl var = {                                                             \
	        .name = label,                                                               \
	        .arg = tmpl,                                                                 \
	        .missing = "libzmq was not found when ipcx was built (Debian: libzmq3-dev; " \
	                   "scripts/deps --bench, then rebuild)",                            \
	}

#endif

ZQ_IMPL(bench_peer_zmq_ipc, "ZeroMQ PAIR ipc://", "ipc://%D/zmq-%N.ipc");
ZQ_IMPL(bench_peer_zmq_tcp, "ZeroMQ PAIR tcp://", "tcp://127.0.0.1:*");
