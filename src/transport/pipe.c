/*
 * pipe.c - the pipe: scheme: a duplex channel over two pipe(2)s made by ipcx_pair() for a
 * parent and its child. Frames of at most PIPE_BUF bytes (header included) are written
 * with one write and are therefore atomic even with several writers on one pipe.
 */
#include "../core/ipcx_int.h"

#include <stdlib.h>

typedef struct pipe_chan {
	ipcx_chan base;
	ipcx__framer rx; /* reads the read fd */
	ipcx__framer tx; /* writes the write fd */
} pipe_chan;

int
ipcx__pipe_chan_from_fds(ipcx_chan **cp, int rfd, int wfd, const ipcx__opts *o)
{
	pipe_chan *p;
	int rv;

	if ((p = calloc(1, sizeof *p)) == NULL) {
		return IPCX_ENOMEM;
	}
	ipcx__chan_init(&p->base, &ipcx__pipe, o->max_msg);
	/* The read fd stays blocking (one read(2) per message when waiting forever); the write
	 * fd is non-blocking so that a send can honour its timeout. */
	if ((rv = ipcx__set_nonblock(rfd, false)) != 0 ||
	    (rv = ipcx__set_nonblock(wfd, true)) != 0) {
		goto fail_free;
	}
	if ((rv = ipcx__framer_init(&p->rx, rfd, false, o->raw, o->max_msg)) != 0) {
		goto fail_free;
	}
	ipcx__framer_init_tx(&p->tx, wfd, false, o->raw, o->max_msg);
	*cp = &p->base;
	return 0;
fail_free:
	free(p);
	return rv;
}

static int
pipe_persistence(const ipcx__url *u)
{
	IPCX__UNUSED(u);
	return IPCX_PERSIST_PROCESS;
}

static int
pipe_send(ipcx_chan *c, const void *buf, size_t len, int64_t deadline)
{
	pipe_chan *p = (pipe_chan *)c;

	return ipcx__framer_send(&p->tx, buf, len, deadline);
}

static int
pipe_recv(ipcx_chan *c, void *buf, size_t cap, size_t *len, int64_t deadline)
{
	pipe_chan *p = (pipe_chan *)c;

	return ipcx__framer_recv(&p->rx, buf, cap, len, deadline);
}

static int
pipe_fd(ipcx_chan *c)
{
	return ((pipe_chan *)c)->rx.fd;
}

static bool
pipe_pending(ipcx_chan *c)
{
	return ipcx__framer_pending(&((pipe_chan *)c)->rx);
}

static void
pipe_close(ipcx_chan *c)
{
	pipe_chan *p = (pipe_chan *)c;

	ipcx__close_fd(p->rx.fd);
	ipcx__close_fd(p->tx.fd);
	ipcx__framer_fini(&p->rx);
	free(p);
}

const struct ipcx__transport ipcx__pipe = {
        .version = IPCX__TRANSPORT_VERSION,
        .scheme = "pipe",
        .persistence = pipe_persistence,
        .send = pipe_send,
        .recv = pipe_recv,
        .fd = pipe_fd,
        .pending = pipe_pending,
        .close = pipe_close,
};
