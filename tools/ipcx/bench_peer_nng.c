/*
 * bench_peer_nng.c - nng for `ipcx bench --peers`: one pair0 socket per side, over ipc:// (a
 * socket file in the bench's private directory) or tcp:// on 127.0.0.1, default settings.
 */
#include "bench_int.h"

#ifdef IPCX_BENCH_NNG

#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct nn_side {
	nng_socket s;
	nng_listener l;
} nn_side;

/* nng's codes as the IPCX_E* the worker reports. */
static int
nn_code(int rv)
{
	switch (rv) {
	case 0:
		return 0;
	case NNG_ETIMEDOUT:
		return IPCX_ETIMEDOUT;
	case NNG_ECLOSED:
	case NNG_ECONNSHUT:
		return IPCX_ECLOSED;
	case NNG_EMSGSIZE:
		return IPCX_EMSGSIZE;
	case NNG_ENOMEM:
		return IPCX_ENOMEM;
	case NNG_ECONNREFUSED:
		return IPCX_ECONNREFUSED;
	case NNG_EADDRINUSE:
		return IPCX_EADDRINUSE;
	default:
		return (rv & NNG_ESYSERR) ? -(rv & ~NNG_ESYSERR) : IPCX_EPROTO;
	}
}

static int
nn_send(bench_ep *ep, const void *buf, size_t len)
{
	nn_side *n = ep->priv;

	return nn_code(nng_send(n->s, (void *)buf, len, 0));
}

/* The per-call shorter wait is not needed: nng is not lossy, so nothing drains. */
static int
nn_recv(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	nn_side *n = ep->priv;
	size_t sz = cap;
	int rv;

	(void)timeout_ms;
	if ((rv = nng_recv(n->s, buf, &sz, 0)) != 0) {
		return nn_code(rv);
	}
	*len = sz;
	return 0;
}

static void
nn_close(bench_ep *ep)
{
	nn_side *n = ep->priv;

	if (n != NULL) {
		nng_close(n->s);
		free(n);
	}
	ep->priv = NULL;
}

static const struct bench_ep_ops nn_ops = {
        .send = nn_send,
        .recv = nn_recv,
        .close = nn_close,
};

/* A pair0 socket with the bench's timeouts and no receive size limit (nng's default of
 * 1 MiB would refuse the largest messages). */
static int
nn_open(bench_ctx *cx, nn_side **out, char *err)
{
	nn_side *n = calloc(1, sizeof *n);
	int rv;

	if (n == NULL) {
		return IPCX_ENOMEM;
	}
	if ((rv = nng_pair0_open(&n->s)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "nng_pair0_open: %s", nng_strerror(rv));
		free(n);
		return nn_code(rv);
	}
	if ((rv = nng_socket_set_ms(n->s, NNG_OPT_RECVTIMEO, cx->timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(n->s, NNG_OPT_SENDTIMEO, cx->timeout_ms)) != 0 ||
	    (rv = nng_socket_set_size(n->s, NNG_OPT_RECVMAXSZ, 0)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "nng_socket_set: %s", nng_strerror(rv));
		nng_close(n->s);
		free(n);
		return nn_code(rv);
	}
	*out = n;
	return 0;
}

static int
nn_serve(bench_ctx *cx, char *err)
{
	char url[BENCH_ADDR_MAX];
	nn_side *n;
	int rv, port;

	if ((rv = bench_expand(url, sizeof url, cx->impl->arg, cx)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "url for %s", cx->impl->arg);
		return rv;
	}
	if ((rv = nn_open(cx, &n, err)) != 0) {
		return rv;
	}
	if ((rv = nng_listen(n->s, url, &n->l, 0)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "nng_listen %s: %s", url, nng_strerror(rv));
		nng_close(n->s);
		free(n);
		return nn_code(rv);
	}
	snprintf(cx->addr, sizeof cx->addr, "%s", url);
	if (strncmp(url, "tcp://", 6) == 0) { /* port 0: the one the kernel gave */
		if ((rv = nng_listener_get_int(n->l, NNG_OPT_TCP_BOUND_PORT, &port)) != 0) {
			snprintf(err, BENCH_ERR_MAX, "nng bound port: %s", nng_strerror(rv));
			nng_close(n->s);
			free(n);
			return nn_code(rv);
		}
		snprintf(cx->addr, sizeof cx->addr, "tcp://127.0.0.1:%d", port);
	}
	cx->lst = n;
	return 0;
}

/* pair0 takes its one peer by itself; the handshake's receive waits for it. */
static int
nn_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	(void)err;
	ep->priv = cx->lst;
	ep->ops = &nn_ops;
	cx->lst = NULL;
	return 0;
}

static int
nn_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	nn_side *n;
	int rv;

	if ((rv = nn_open(cx, &n, err)) != 0) {
		return rv;
	}
	if ((rv = nng_dial(n->s, cx->addr, NULL, 0)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "nng_dial %s: %s", cx->addr, nng_strerror(rv));
		nng_close(n->s);
		free(n);
		return nn_code(rv);
	}
	ep->priv = n;
	ep->ops = &nn_ops;
	return 0;
}

#define NN_IMPL(var, label, tmpl)    \
	const bench_impl var = {     \
	        .name = label,       \
	        .arg = tmpl,         \
	        .serve = nn_serve,   \
	        .accept = nn_accept, \
	        .dial = nn_dial,     \
	}

#else /* !IPCX_BENCH_NNG */

#define NN_IMPL(var, label, tmpl)                                                        \
	const bench_impl var = {                                                         \
	        .name = label,                                                           \
	        .arg = tmpl,                                                             \
	        .missing = "nng was not found when ipcx was built (Debian: libnng-dev; " \
	                   "scripts/deps --bench, then rebuild)",                        \
	}

#endif

NN_IMPL(bench_peer_nng_ipc, "nng pair0 ipc://", "ipc://%D/nng-%N.ipc");
NN_IMPL(bench_peer_nng_tcp, "nng pair0 tcp://", "tcp://127.0.0.1:0");
