/*
 * tcp.c - the tcp:// scheme: TCP with the SP (nanomsg/nng) TCP mapping and the pair0
 * protocol, so nng pair0 peers interoperate: each side sends an 8-byte header, then every
 * message is a 64-bit big-endian length and the bytes. TCP_NODELAY is on.
 */
#include "../core/ipcx_int.h"

#include <netdb.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* 0x00 'S' 'P' version 0, protocol pair v0 (0x0010) big-endian, reserved 0x0000 */
static const unsigned char tcp_sp_header[8] = {0x00, 0x53, 0x50, 0x00, 0x00, 0x10, 0x00, 0x00};

/* ?wait=spin|block|adaptive (src/core/io.c) */
static const char *const tcp_keys[] = {"wait", NULL};

typedef struct tcp_chan {
	ipcx_chan base;
	ipcx__framer fr;
} tcp_chan;

typedef struct tcp_listener {
	ipcx_listener base;
	int fd;
} tcp_listener;

static int
tcp_persistence(const ipcx__url *u)
{
	IPCX__UNUSED(u);
	return IPCX_PERSIST_PROCESS;
}

/* The peer's header is checked lazily, before its first message, so that neither accept
 * nor dial waits on a slow or silent peer. */
static int
tcp_check_header(ipcx__framer *fr, int64_t deadline)
{
	unsigned char hdr[sizeof tcp_sp_header];
	int rv = ipcx__framer_read_exact(fr, hdr, sizeof hdr, deadline);

	if (rv != 0) {
		return rv;
	}
	return memcmp(hdr, tcp_sp_header, sizeof hdr) == 0 ? 0 : IPCX_EPROTO;
}

static int
tcp_chan_new(ipcx_chan **cp, int fd, const ipcx__opts *o, bool send_header)
{
	tcp_chan *t;
	int one = 1, rv;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if ((t = calloc(1, sizeof *t)) == NULL) {
		return IPCX_ENOMEM;
	}
	ipcx__chan_init(&t->base, &ipcx__tcp, o->max_msg);
	if ((rv = ipcx__framer_init(&t->fr, fd, true, o->raw, o->max_msg)) != 0) {
		goto fail_free;
	}
	ipcx__framer_set_wait(&t->fr, o->wait);
	if (!o->raw) {
		t->fr.on_first_recv = tcp_check_header;
		if (send_header) {
			/* 8 bytes into a fresh socket's empty send buffer: never blocks */
			struct iovec iov = {(void *)tcp_sp_header, sizeof tcp_sp_header};
			size_t done;
			rv = ipcx__writev_all(fd, IPCX__IO_SOCKET, &iov, 1, ipcx__deadline(1000),
			                      &done);
			if (rv != 0) {
				goto fail_fini;
			}
		}
	}
	*cp = &t->base;
	return 0;
fail_fini:
	ipcx__framer_fini(&t->fr);
fail_free:
	free(t);
	return rv;
}

int
ipcx__tcp_chan_from_fd(ipcx_chan **cp, int fd, const ipcx__opts *o)
{
	return tcp_chan_new(cp, fd, o, false);
}

static int
tcp_listen(ipcx_listener **lp, ipcx__url *u, const ipcx__opts *o)
{
	struct addrinfo *res, *ai;
	tcp_listener *l;
	int fd = -1, rv, one = 1;

	if ((rv = ipcx__url_hostport(u)) != 0) {
		return rv;
	}
	if ((rv = ipcx__inet_resolve(&res, u, SOCK_STREAM, true, IPCX__FOREVER)) != 0) {
		return rv;
	}
	rv = IPCX_EADDRNOTAVAIL;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd == -1) {
			rv = ipcx__err(errno);
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) {
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
	if ((l = calloc(1, sizeof *l)) == NULL) {
		close(fd);
		return IPCX_ENOMEM;
	}
	l->base.tp = &ipcx__tcp;
	l->base.opts = *o;
	l->fd = fd;
	*lp = &l->base;
	return 0;
}

static int
tcp_accept(ipcx_listener *lb, ipcx_chan **cp, int64_t deadline)
{
	tcp_listener *l = (tcp_listener *)lb;
	int fd, rv;

	if ((fd = ipcx__accept_fd(l->fd, deadline)) < 0) {
		return fd;
	}
	if ((rv = tcp_chan_new(cp, fd, &l->base.opts, true)) != 0) {
		close(fd);
	}
	return rv;
}

static void
tcp_listener_close(ipcx_listener *lb)
{
	tcp_listener *l = (tcp_listener *)lb;

	close(l->fd);
	free(l);
}

static int
tcp_listener_fd(ipcx_listener *lb)
{
	return ((tcp_listener *)lb)->fd;
}

static int
tcp_listener_url(ipcx_listener *lb, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(((tcp_listener *)lb)->fd, (struct sockaddr *)&ss, &len) == -1) {
		return ipcx__err(errno);
	}
	return ipcx__inet_format(buf, cap, "tcp", (struct sockaddr *)&ss);
}

static int
tcp_dial(ipcx_chan **cp, ipcx__url *u, const ipcx__opts *o, int64_t deadline)
{
	struct addrinfo *res, *ai;
	int fd = -1, rv;

	if ((rv = ipcx__url_hostport(u)) != 0) {
		return rv;
	}
	if (u->host[0] == '\0') {
		return IPCX_EBADURL;
	}
	if ((rv = ipcx__inet_resolve(&res, u, SOCK_STREAM, false, deadline)) != 0) {
		return rv;
	}
	rv = IPCX_ECONNREFUSED;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			rv = ipcx__err(errno);
			continue;
		}
		if ((rv = ipcx__connect_fd(fd, ai->ai_addr, ai->ai_addrlen, deadline)) == 0) {
			break;
		}
		close(fd);
		fd = -1;
		if (rv == IPCX_ETIMEDOUT) {
			break;
		}
	}
	freeaddrinfo(res);
	if (rv != 0) {
		return rv;
	}
	if ((rv = tcp_chan_new(cp, fd, o, true)) != 0) {
		close(fd);
	}
	return rv;
}

static int
tcp_send(ipcx_chan *c, const void *buf, size_t len, int64_t deadline)
{
	return ipcx__framer_send(&((tcp_chan *)c)->fr, buf, len, deadline);
}

static int
tcp_recv(ipcx_chan *c, void *buf, size_t cap, size_t *len, int64_t deadline)
{
	return ipcx__framer_recv(&((tcp_chan *)c)->fr, buf, cap, len, deadline);
}

static int
tcp_fd(ipcx_chan *c)
{
	return ((tcp_chan *)c)->fr.fd;
}

static bool
tcp_pending(ipcx_chan *c)
{
	return ipcx__framer_pending(&((tcp_chan *)c)->fr);
}

#define TCP_LINGER_MS 1000
#define TCP_ACCEPT_MS 10000 /* how long a close waits for a peer that has not accepted yet */

/* Closing a TCP socket while input is unread (or arrives later) makes the kernel answer
 * with RST and drop what is still queued for sending: messages the caller was told were
 * sent. So send FIN after them, and until the peer has acknowledged them all (or hung up,
 * or a bounded linger passed) read and discard its input. A peer that has not accepted the
 * connection yet (a loaded server) sends its SP header only when it does: after a close
 * that gave up at TCP_LINGER_MS, and the RST it draws drops the rest of our messages. So
 * while `header_due` bytes of that header are still to come and messages are unacknowledged,
 * wait longer (TCP_ACCEPT_MS: a listener that is alive but never accepts). */
static void
tcp_linger(int fd, size_t header_due)
{
	int64_t deadline = ipcx__deadline(TCP_LINGER_MS);
	int64_t accept_deadline = header_due > 0 ? ipcx__deadline(TCP_ACCEPT_MS) : deadline;
	char sink[4096];

	shutdown(fd, SHUT_WR);
	for (;;) {
		int unacked = 0;
		int64_t end, step;
		ssize_t n;
		while ((n = recv(fd, sink, sizeof sink, MSG_DONTWAIT)) > 0) {
			header_due = (size_t)n >= header_due ? 0 : header_due - (size_t)n;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			return; /* the peer closed too, or the connection is gone */
		}
		if (ioctl(fd, SIOCOUTQ, &unacked) == -1 || unacked == 0) {
			return; /* all in the peer's kernel: readable there even after an RST */
		}
		end = header_due > 0 ? accept_deadline : deadline;
		step = ipcx__now_ns() + 10 * 1000000; /* SIOCOUTQ has no wake-up: look again */
		if (ipcx__wait_fd(fd, POLLIN, step < end ? step : end) == IPCX_ETIMEDOUT &&
		    ipcx__poll_ms(end) == 0) {
			return;
		}
	}
}

static void
tcp_close(ipcx_chan *c)
{
	tcp_chan *t = (tcp_chan *)c;
	size_t have = t->fr.rtail - t->fr.rhead;

	/* raw streams have no header; the framer has read it, or holds part of it unread */
	tcp_linger(t->fr.fd, t->fr.raw || t->fr.first_done || have >= sizeof tcp_sp_header
	                             ? 0
	                             : sizeof tcp_sp_header - have);
	close(t->fr.fd);
	ipcx__framer_fini(&t->fr);
	free(t);
}

const struct ipcx__transport ipcx__tcp = {
        .version = IPCX__TRANSPORT_VERSION,
        .scheme = "tcp",
        .persistence = tcp_persistence,
        .query_keys = tcp_keys,
        .listen = tcp_listen,
        .accept = tcp_accept,
        .listener_close = tcp_listener_close,
        .listener_fd = tcp_listener_fd,
        .listener_url = tcp_listener_url,
        .dial = tcp_dial,
        .send = tcp_send,
        .recv = tcp_recv,
        .fd = tcp_fd,
        .pending = tcp_pending,
        .close = tcp_close,
};
