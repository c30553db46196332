/*
 * bench_impl_ipcx.c - the ipcx side of `ipcx bench`: each scheme reached through the public
 * API only (ipcx_pair for pipe:, listen/accept/dial for the rest), as a user would.
 */
#include "bench_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>

static int
ix_send(bench_ep *ep, const void *buf, size_t len)
{
	return ipcx_send(ep->chan, buf, len, ep->timeout_ms);
}

static int
ix_recv(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	return ipcx_recv(ep->chan, buf, cap, len, timeout_ms);
}

static void
ix_close(bench_ep *ep)
{
	ipcx_close(ep->chan);
	ep->chan = NULL;
}

static const struct bench_ep_ops ix_ops = {
        .send = ix_send,
        .recv = ix_recv,
        .close = ix_close,
};

/* The zero-copy calls: on shm:// a loan is room in the ring and a view points into it. */
static int
ix_loan(bench_ep *ep, size_t len, void **ptr)
{
	return ipcx_loan(ep->chan, len, ptr, ep->timeout_ms);
}

static int
ix_commit(bench_ep *ep, void *ptr, size_t len)
{
	return ipcx_commit(ep->chan, ptr, len);
}

static int
ix_view(bench_ep *ep, const void **ptr, size_t *len, int timeout_ms)
{
	return ipcx_recv_view(ep->chan, ptr, len, timeout_ms);
}

static int
ix_release(bench_ep *ep)
{
	return ipcx_release(ep->chan);
}

static const struct bench_ep_ops ix_zc_ops = {
        .send = ix_send,
        .recv = ix_recv,
        .close = ix_close,
        .loan = ix_loan,
        .commit = ix_commit,
        .view = ix_view,
        .release = ix_release,
};

/* ---- pipe: ipcx_pair before the fork ---------------------------------------------------- */

static int
ix_pair_prepare(bench_ctx *cx, char *err)
{
	int rv = ipcx_pair(&cx->pair[0], &cx->pair[1], NULL);

	if (rv != 0) {
		snprintf(err, BENCH_ERR_MAX, "ipcx_pair");
	}
	return rv;
}

static int
ix_pair_take(bench_ctx *cx, bench_ep *ep, int mine)
{
	ipcx_close(cx->pair[!mine]);
	cx->pair[!mine] = NULL;
	ep->chan = cx->pair[mine];
	ep->ops = &ix_ops;
	return 0;
}

static int
ix_pair_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	(void)err;
	return ix_pair_take(cx, ep, 0);
}

static int
ix_pair_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	(void)err;
	return ix_pair_take(cx, ep, 1);
}

static void
ix_pair_release(bench_ctx *cx)
{
	ipcx_close(cx->pair[0]);
	ipcx_close(cx->pair[1]);
	cx->pair[0] = cx->pair[1] = NULL;
}

const bench_impl bench_ipcx_pipe = {
        .name = "pipe:",
        .arg = "pipe:",
        .prepare = ix_pair_prepare,
        .accept = ix_pair_accept,
        .dial = ix_pair_dial,
        .release = ix_pair_release,
};

/* ---- listen / accept / dial --------------------------------------------------------- */

static int
ix_serve_url(bench_ctx *cx, const char *url, char *err)
{
	ipcx_listener *l;
	int rv;

	if ((rv = ipcx_listen(&l, url, NULL)) != 0) {
		const char *d = ipcx_errdetail();
		snprintf(err, BENCH_ERR_MAX, "ipcx_listen %s%s%s", url, d[0] ? ": " : "", d);
		return rv;
	}
	if ((rv = ipcx_listener_url(l, cx->addr, sizeof cx->addr)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "ipcx_listener_url %s", url);
		ipcx_listener_close(l);
		return rv;
	}
	cx->lst = l;
	return 0;
}

static int
ix_serve(bench_ctx *cx, char *err)
{
	char url[BENCH_ADDR_MAX];
	int rv;

	if ((rv = bench_expand(url, sizeof url, cx->impl->arg, cx)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "url for %s", cx->impl->arg);
		return rv;
	}
	return ix_serve_url(cx, url, err);
}

/* sysvmq:///path?proj=N, the key ftok's of a file in the private directory. A key that
 * some other program's queue has already (IPCX_EADDRINUSE) is passed over for the next
 * proj, as the raw baseline does. */
static int
ix_sysvmq_serve(bench_ctx *cx, char *err)
{
	char file[BENCH_ADDR_MAX], url[BENCH_ADDR_MAX + 32];
	int rv = IPCX_EADDRINUSE;

	if (bench_expand(file, sizeof file, cx->impl->arg, cx) != 0 ||
	    (size_t)snprintf(url, sizeof url, "sysvmq://%s?proj=1", file) >= sizeof url) {
		snprintf(err, BENCH_ERR_MAX, "url for %s", cx->impl->arg);
		return IPCX_ENAMETOOLONG;
	}
	for (unsigned n = 0; n < BENCH_SYSV_TRIES && rv == IPCX_EADDRINUSE; n++) {
		if (bench_sysv_key(file, n) == IPC_PRIVATE) { /* makes the file ftok needs */
			snprintf(err, BENCH_ERR_MAX, "ftok %s", file);
			return IPCX_EINVAL;
		}
		snprintf(url, sizeof url, "sysvmq://%s?proj=%u", file, n + 1);
		rv = ix_serve_url(cx, url, err);
	}
	return rv;
}

static int
ix_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	ipcx_listener *l = cx->lst;
	int rv = ipcx_accept(l, &ep->chan, cx->timeout_ms);

	if (rv != 0) {
		snprintf(err, BENCH_ERR_MAX, "ipcx_accept %s", cx->addr);
	}
	/* One client is all a pair needs; closing now removes the names the listener made. */
	ipcx_listener_close(l);
	cx->lst = NULL;
	ep->ops = &ix_ops;
	return rv;
}

static int
ix_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	char url[BENCH_ADDR_MAX + 64];
	int len = (int)strcspn(cx->addr, "?");
	int rv;

	/* Options each side sets for itself (file://'s sync, shm://'s wait) replace whatever
	 * query the listener's URL reports. */
	if (cx->impl->dial_query == NULL) {
		len = (int)strlen(cx->addr);
	}
	if ((size_t)snprintf(url, sizeof url, "%.*s%s", len, cx->addr,
	                     cx->impl->dial_query != NULL ? cx->impl->dial_query : "") >=
	    sizeof url) {
		snprintf(err, BENCH_ERR_MAX, "url for %s", cx->addr);
		return IPCX_ENAMETOOLONG;
	}
	ep->ops = &ix_ops;
	if ((rv = ipcx_dial(&ep->chan, url, NULL, cx->timeout_ms)) != 0) {
		const char *d = ipcx_errdetail();
		snprintf(err, BENCH_ERR_MAX, "ipcx_dial %s%s%s", url, d[0] ? ": " : "", d);
	}
	return rv;
}

#define IX_LISTENER(var, label, tmpl, fl) \
	const bench_impl var = {          \
	        .name = label,            \
	        .arg = tmpl,              \
	        .flags = fl,              \
	        .serve = ix_serve,        \
	        .accept = ix_accept,      \
	        .dial = ix_dial,          \
	}

IX_LISTENER(bench_ipcx_fifo, "fifo://", "fifo://%D/fifo-%N", 0);
IX_LISTENER(bench_ipcx_unix, "unix://", "unix://%D/unix-%N.sock", 0);
IX_LISTENER(bench_ipcx_unix_abs, "unix:@", "unix:@ipcx-bench.%P.%N", 0);
IX_LISTENER(bench_ipcx_tcp, "tcp://", "tcp://127.0.0.1:0", 0);

/* unix:// and tcp:// retrying before they poll (?wait=adaptive), each side asking for it:
 * held to the same blocking raw baselines, so x shows what the wait mode saves. */
const bench_impl bench_ipcx_unix_adaptive = {
        .name = "unix://?wait=adaptive",
        .arg = "unix://%D/unixa-%N.sock?wait=adaptive",
        .dial_query = "?wait=adaptive",
        .serve = ix_serve,
        .accept = ix_accept,
        .dial = ix_dial,
};

const bench_impl bench_ipcx_tcp_adaptive = {
        .name = "tcp://?wait=adaptive",
        .arg = "tcp://127.0.0.1:0?wait=adaptive",
        .dial_query = "?wait=adaptive",
        .serve = ix_serve,
        .accept = ix_accept,
        .dial = ix_dial,
};
IX_LISTENER(bench_ipcx_udp, "udp://", "udp://127.0.0.1:0", BENCH_LOSSY);

/* mq:///NAME is the queue /ipcx.NAME; the client's private pair is named after it. */
IX_LISTENER(bench_ipcx_mq, "mq://", "mq:///bench.%P.%N", 0);
/* The default durability (sync=none), as the raw baseline's plain writes. */
IX_LISTENER(bench_ipcx_file, "file://", "file://%D/file-%N", 0);

/* fdatasync after every record, on both sides of the pair: the listener's URL gives it to
 * the accepted channel, the dialler asks for it itself. */
const bench_impl bench_ipcx_file_sync = {
        .name = "file://?sync=always",
        .arg = "file://%D/filesync-%N?sync=always",
        .dial_query = "?sync=always",
        .serve = ix_serve,
        .accept = ix_accept,
        .dial = ix_dial,
};

/* shm://: the abstract socket @ipcx.shm.NAME is the only name, and it goes with the
 * listener; the memfd has none. Each side asks for its own wait mode. */
IX_LISTENER(bench_ipcx_shm, "shm://", "shm://ipcx-bench-%P-%N", 0);

const bench_impl bench_ipcx_shm_spin = {
        .name = "shm://?wait=spin",
        .arg = "shm://ipcx-bench-%P-%N?wait=spin",
        .dial_query = "?wait=spin",
        .serve = ix_serve,
        .accept = ix_accept,
        .dial = ix_dial,
};

const bench_impl bench_ipcx_shm_block = {
        .name = "shm://?wait=block",
        .arg = "shm://ipcx-bench-%P-%N?wait=block",
        .dial_query = "?wait=block",
        .serve = ix_serve,
        .accept = ix_accept,
        .dial = ix_dial,
};

/* The same channel, written with ipcx_loan/ipcx_commit and read with ipcx_recv_view/
 * ipcx_release; a message above ipcx_loan_max() goes through ipcx_send. */
static int
ix_zc_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	int rv = ix_accept(cx, ep, err);

	ep->ops = &ix_zc_ops;
	ep->loan_max = rv == 0 ? ipcx_loan_max(ep->chan) : 0;
	return rv;
}

static int
ix_zc_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	int rv = ix_dial(cx, ep, err);

	ep->ops = &ix_zc_ops;
	ep->loan_max = rv == 0 ? ipcx_loan_max(ep->chan) : 0;
	return rv;
}

const bench_impl bench_ipcx_shm_loan = {
        .name = "shm:// loan/view",
        .arg = "shm://ipcx-bench-%P-%N",
        .serve = ix_serve,
        .accept = ix_zc_accept,
        .dial = ix_zc_dial,
};

const bench_impl bench_ipcx_sysvmq = {
        .name = "sysvmq://",
        .arg = "%D/sysvmq-%N",
        .serve = ix_sysvmq_serve,
        .accept = ix_accept,
        .dial = ix_dial,
};
