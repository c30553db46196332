/*
 * bench_impl_raw.c - the raw-syscall baselines of `ipcx bench`: what a careful programmer
 * writes by hand for the same job (blocking I/O, one writev per message, buffered reads).
 */
#include "bench_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define RAW_RBUF 65536 /* read buffer of the length-prefixed streams */

static int
raw_err(void)
{
	/* SO_RCVTIMEO / SO_SNDTIMEO expiry shows as EAGAIN on a blocking socket. */
	return (errno == EAGAIN || errno == EWOULDBLOCK) ? IPCX_ETIMEDOUT : -errno;
}

/* A wait shorter than the endpoint's normal bound (drains, lossy stream ends). */
static int
raw_wait_short(bench_ep *ep, int timeout_ms)
{
	struct pollfd pfd = {.fd = ep->rfd, .events = POLLIN};
	int n;

	if (timeout_ms < 0 || (ep->timeout_ms >= 0 && timeout_ms >= ep->timeout_ms)) {
		return 0;
	}
	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n == -1 && errno == EINTR);
	if (n == 0) {
		return IPCX_ETIMEDOUT;
	}
	return n < 0 ? -errno : 0;
}

static void
raw_close(bench_ep *ep)
{
	if (ep->rfd >= 0) {
		close(ep->rfd);
	}
	if (ep->wfd >= 0 && ep->wfd != ep->rfd) {
		close(ep->wfd);
	}
	ep->rfd = ep->wfd = -1;
	free(ep->rbuf);
	ep->rbuf = NULL;
}

/* ---- length-prefixed byte streams: pipe, FIFO, TCP ---------------------------------- */

static int
raw_stream_send(bench_ep *ep, const void *buf, size_t len)
{
	uint32_t hdr = (uint32_t)len; /* both ends are on this host: native byte order */
	struct iovec iov[2] = {{&hdr, sizeof hdr}, {(void *)buf, len}}, *v = iov;
	int cnt = 2;

	while (cnt > 0) {
		ssize_t n = writev(ep->wfd, v, cnt);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return raw_err();
		}
		while (cnt > 0 && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			cnt--;
		}
		if (cnt > 0) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static ssize_t
raw_read(bench_ep *ep, void *buf, size_t cap)
{
	for (;;) {
		ssize_t n = read(ep->rfd, buf, cap);
		if (n > 0) {
			return n;
		}
		if (n == 0) {
			return IPCX_ECLOSED;
		}
		if (errno != EINTR) {
			return raw_err();
		}
	}
}

static int
raw_stream_recv(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	unsigned char *out = buf;
	size_t got, need, take;
	uint32_t hdr;
	ssize_t n;
	int rv;

	if (ep->rtail - ep->rhead < sizeof hdr) {
		if ((rv = raw_wait_short(ep, timeout_ms)) != 0) {
			return rv;
		}
		memmove(ep->rbuf, ep->rbuf + ep->rhead, ep->rtail - ep->rhead);
		ep->rtail -= ep->rhead;
		ep->rhead = 0;
		while (ep->rtail < sizeof hdr) {
			if ((n = raw_read(ep, ep->rbuf + ep->rtail, RAW_RBUF - ep->rtail)) < 0) {
				return (int)n;
			}
			ep->rtail += (size_t)n;
		}
	}
	memcpy(&hdr, ep->rbuf + ep->rhead, sizeof hdr);
	ep->rhead += sizeof hdr;
	need = hdr;
	if (need > cap) {
		return IPCX_EMSGSIZE;
	}
	take = ep->rtail - ep->rhead < need ? ep->rtail - ep->rhead : need;
	memcpy(out, ep->rbuf + ep->rhead, take);
	ep->rhead += take;
	got = take;
	while (got < need) {
		size_t rem = need - got;
		if (rem >= RAW_RBUF / 2) { /* large bodies go straight to the caller */
			if ((n = raw_read(ep, out + got, rem)) < 0) {
				return (int)n;
			}
			got += (size_t)n;
		} else {
			if ((n = raw_read(ep, ep->rbuf, RAW_RBUF)) < 0) {
				return (int)n;
			}
			take = (size_t)n < rem ? (size_t)n : rem;
			memcpy(out + got, ep->rbuf, take);
			ep->rhead = take;
			ep->rtail = (size_t)n;
			got += take;
		}
	}
	if (ep->rhead == ep->rtail) {
		ep->rhead = ep->rtail = 0;
	}
	*len = need;
	return 0;
}

static const struct bench_ep_ops raw_stream_ops = {
        .send = raw_stream_send,
        .recv = raw_stream_recv,
        .close = raw_close,
};

static int
raw_stream_ep(bench_ep *ep, int rfd, int wfd, bool is_socket)
{
	ep->ops = &raw_stream_ops;
	ep->rfd = rfd;
	ep->wfd = wfd;
	ep->is_socket = is_socket;
	ep->rhead = ep->rtail = 0;
	if ((ep->rbuf = malloc(RAW_RBUF)) == NULL) {
		return IPCX_ENOMEM;
	}
	return 0;
}

/* ---- message sockets: AF_UNIX SOCK_SEQPACKET, UDP ----------------------------------- */

static int
raw_msg_send(bench_ep *ep, const void *buf, size_t len)
{
	for (;;) {
		if (send(ep->wfd, buf, len, MSG_NOSIGNAL) >= 0) {
			return 0;
		}
		if (errno != EINTR) {
			return raw_err();
		}
	}
}

static int
raw_msg_recv(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	int rv = raw_wait_short(ep, timeout_ms);

	if (rv != 0) {
		return rv;
	}
	for (;;) {
		/* A zero-length record is a message here; a peer's close shows up on the next
		 * send (EPIPE) or as the receive timeout. */
		ssize_t n = recv(ep->rfd, buf, cap, MSG_TRUNC);
		if (n >= 0) {
			if ((size_t)n > cap) {
				return IPCX_EMSGSIZE;
			}
			*len = (size_t)n;
			return 0;
		}
		if (errno != EINTR) {
			return raw_err();
		}
	}
}

static const struct bench_ep_ops raw_msg_ops = {
        .send = raw_msg_send,
        .recv = raw_msg_recv,
        .close = raw_close,
};

/* Bounded waits on a blocking socket cost nothing per call: SO_RCVTIMEO / SO_SNDTIMEO. */
static int
raw_sock_timeouts(int fd, int timeout_ms)
{
	struct timeval tv;

	if (timeout_ms < 0) {
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == -1) {
		return -errno;
	}
	return 0;
}

/* Wait for a listening (or datagram) socket to become readable within the timeout. */
static int
raw_wait_listen(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int n;

	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n == -1 && errno == EINTR);
	if (n == 0) {
		return IPCX_ETIMEDOUT;
	}
	return n < 0 ? -errno : 0;
}

/* ---- raw pipe: two pipe(2)s made before the fork ------------------------------------ */

static int
raw_pipe_prepare(bench_ctx *cx, char *err)
{
	if (pipe2(cx->fds, O_CLOEXEC) == -1) { /* B -> A */
		snprintf(err, BENCH_ERR_MAX, "pipe2");
		return -errno;
	}
	if (pipe2(cx->fds + 2, O_CLOEXEC) == -1) { /* A -> B */
		int e = errno;
		close(cx->fds[0]);
		close(cx->fds[1]);
		cx->fds[0] = cx->fds[1] = -1;
		snprintf(err, BENCH_ERR_MAX, "pipe2");
		return -e;
	}
	return 0;
}

static int
raw_pipe_take(bench_ctx *cx, bench_ep *ep, int r, int w)
{
	for (int i = 0; i < 4; i++) {
		if (i != r && i != w) {
			close(cx->fds[i]);
		}
	}
	return raw_stream_ep(ep, cx->fds[r], cx->fds[w], false);
}

static int
raw_pipe_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	(void)err;
	return raw_pipe_take(cx, ep, 0, 3);
}

static int
raw_pipe_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	(void)err;
	return raw_pipe_take(cx, ep, 2, 1);
}

static void
raw_pipe_release(bench_ctx *cx)
{
	for (int i = 0; i < 4; i++) {
		if (cx->fds[i] >= 0) {
			close(cx->fds[i]);
			cx->fds[i] = -1;
		}
	}
}

const bench_impl bench_raw_pipe = {
        .name = "raw pipe",
        .arg = "pipe",
        .prepare = raw_pipe_prepare,
        .accept = raw_pipe_accept,
        .dial = raw_pipe_dial,
        .release = raw_pipe_release,
};

/* ---- raw FIFO: two mkfifo(3)s, one per direction ------------------------------------ */

static int
raw_fifo_names(const bench_ctx *cx, char *c2s, char *s2c, size_t cap)
{
	if ((size_t)snprintf(c2s, cap, "%s.c2s", cx->addr) >= cap ||
	    (size_t)snprintf(s2c, cap, "%s.s2c", cx->addr) >= cap) {
		return IPCX_ENAMETOOLONG;
	}
	return 0;
}

static int
raw_fifo_serve(bench_ctx *cx, char *err)
{
	char c2s[BENCH_ADDR_MAX + 8], s2c[BENCH_ADDR_MAX + 8];
	int rv;

	if ((rv = bench_expand(cx->addr, sizeof cx->addr, cx->impl->arg, cx)) != 0 ||
	    (rv = raw_fifo_names(cx, c2s, s2c, sizeof c2s)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "fifo name");
		return rv;
	}
	if (mkfifo(c2s, 0600) == -1) {
		snprintf(err, BENCH_ERR_MAX, "mkfifo %s", c2s);
		return -errno;
	}
	if (mkfifo(s2c, 0600) == -1) {
		rv = -errno;
		unlink(c2s);
		snprintf(err, BENCH_ERR_MAX, "mkfifo %s", s2c);
		return rv;
	}
	return 0;
}

/* open(2) of a FIFO blocks until the other end opens; the parent's watchdog bounds it. */
static int
raw_fifo_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	char c2s[BENCH_ADDR_MAX + 8], s2c[BENCH_ADDR_MAX + 8];
	int rfd, wfd, rv;

	raw_fifo_names(cx, c2s, s2c, sizeof c2s);
	if ((rfd = open(c2s, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, BENCH_ERR_MAX, "open %s", c2s);
		rv = -errno;
		goto out;
	}
	if ((wfd = open(s2c, O_WRONLY | O_CLOEXEC)) == -1) {
		snprintf(err, BENCH_ERR_MAX, "open %s", s2c);
		rv = -errno;
		close(rfd);
		goto out;
	}
	rv = raw_stream_ep(ep, rfd, wfd, false);
out:
	unlink(c2s); /* both ends are open (or failed): the names are no longer needed */
	unlink(s2c);
	return rv;
}

static int
raw_fifo_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	char c2s[BENCH_ADDR_MAX + 8], s2c[BENCH_ADDR_MAX + 8];
	int rfd, wfd;

	raw_fifo_names(cx, c2s, s2c, sizeof c2s);
	if ((wfd = open(c2s, O_WRONLY | O_CLOEXEC)) == -1) {
		snprintf(err, BENCH_ERR_MAX, "open %s", c2s);
		return -errno;
	}
	if ((rfd = open(s2c, O_RDONLY | O_CLOEXEC)) == -1) {
		int e = errno;
		snprintf(err, BENCH_ERR_MAX, "open %s", s2c);
		close(wfd);
		return -e;
	}
	return raw_stream_ep(ep, rfd, wfd, false);
}

const bench_impl bench_raw_fifo = {
        .name = "raw FIFO",
        .arg = "%D/rawfifo-%N",
        .serve = raw_fifo_serve,
        .accept = raw_fifo_accept,
        .dial = raw_fifo_dial,
};

/* ---- raw AF_UNIX SOCK_SEQPACKET (path or abstract) ---------------------------------- */

static int
raw_unix_addr(const bench_ctx *cx, struct sockaddr_un *sa, socklen_t *salen)
{
	size_t n = strlen(cx->addr);

	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (n >= sizeof sa->sun_path) {
		return IPCX_ENAMETOOLONG;
	}
	memcpy(sa->sun_path, cx->addr, n);
	if (cx->addr[0] == '@') {
		sa->sun_path[0] = '\0'; /* abstract: no NUL terminator, the length says it */
		*salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*salen = (socklen_t)sizeof *sa;
	}
	return 0;
}

/* A record must fit the sender's socket buffer: size it for the message, as a careful
 * programmer would (SO_SNDBUFFORCE where privileged, else up to wmem_max). */
static int
raw_unix_sndbuf(int fd, size_t msg)
{
	int want, have = 0;
	socklen_t sl = sizeof have;

	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &have, &sl) == 0 && (size_t)have >= msg + 4096) {
		return 0;
	}
	want = msg > (size_t)1 << 29 ? 1 << 30 : (int)(msg + 65536);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) == 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want) == 0) {
		return 0;
	}
	return -errno;
}

static int
raw_unix_serve(bench_ctx *cx, char *err)
{
	struct sockaddr_un sa;
	socklen_t salen;
	int fd, rv;

	if ((rv = bench_expand(cx->addr, sizeof cx->addr, cx->impl->arg, cx)) != 0 ||
	    (rv = raw_unix_addr(cx, &sa, &salen)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "socket name");
		return rv;
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, BENCH_ERR_MAX, "socket(AF_UNIX, SOCK_SEQPACKET)");
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&sa, salen) == -1 || listen(fd, 1) == -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "bind/listen %s", cx->addr);
		close(fd);
		return rv;
	}
	cx->lfd = fd;
	return 0;
}

static int
raw_unix_setup(bench_ctx *cx, bench_ep *ep, int fd, char *err)
{
	int rv;

	if ((rv = raw_sock_timeouts(fd, cx->timeout_ms)) != 0 ||
	    (rv = raw_unix_sndbuf(fd, cx->msg_size)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "setsockopt");
		close(fd);
		return rv;
	}
	ep->ops = &raw_msg_ops;
	ep->rfd = ep->wfd = fd;
	ep->is_socket = true;
	return 0;
}

static int
raw_unix_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	int fd = -1, rv = raw_wait_listen(cx->lfd, cx->timeout_ms);

	if (rv == 0 && (fd = accept4(cx->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		rv = -errno;
	}
	close(cx->lfd);
	cx->lfd = -1;
	if (cx->addr[0] != '@') {
		unlink(cx->addr);
	}
	if (rv != 0) {
		snprintf(err, BENCH_ERR_MAX, "accept %s", cx->addr);
		return rv;
	}
	return raw_unix_setup(cx, ep, fd, err);
}

static int
raw_unix_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	struct sockaddr_un sa;
	socklen_t salen;
	int fd, rv;

	if ((rv = raw_unix_addr(cx, &sa, &salen)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "socket name");
		return rv;
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, BENCH_ERR_MAX, "socket(AF_UNIX, SOCK_SEQPACKET)");
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sa, salen) == -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "connect %s", cx->addr);
		close(fd);
		return rv;
	}
	return raw_unix_setup(cx, ep, fd, err);
}

const bench_impl bench_raw_seqpacket = {
        .name = "raw seqpacket",
        .arg = "%D/rawunix-%N.sock",
        .serve = raw_unix_serve,
        .accept = raw_unix_accept,
        .dial = raw_unix_dial,
};

const bench_impl bench_raw_seqpacket_abs = {
        .name = "raw seqpacket@",
        .arg = "@ipcx-bench-raw.%P.%N",
        .serve = raw_unix_serve,
        .accept = raw_unix_accept,
        .dial = raw_unix_dial,
};

/* ---- raw TCP and UDP on 127.0.0.1 --------------------------------------------------- */

static int
raw_inet_serve(bench_ctx *cx, char *err, int type)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	int fd, rv, one = 1;

	if ((fd = socket(AF_INET, type | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, BENCH_ERR_MAX, "socket(AF_INET)");
		return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
	    (type == SOCK_STREAM && listen(fd, 1) == -1) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "bind/listen 127.0.0.1:0");
		close(fd);
		return rv;
	}
	snprintf(cx->addr, sizeof cx->addr, "%u", (unsigned)ntohs(sa.sin_port));
	cx->lfd = fd;
	return 0;
}

static int
raw_inet_dial(bench_ctx *cx, char *err, int type)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd, rv;

	sa.sin_port = htons((uint16_t)atoi(cx->addr));
	if ((fd = socket(AF_INET, type | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, BENCH_ERR_MAX, "socket(AF_INET)");
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "connect 127.0.0.1:%s", cx->addr);
		close(fd);
		return rv;
	}
	return fd;
}

static int
raw_tcp_serve(bench_ctx *cx, char *err)
{
	return raw_inet_serve(cx, err, SOCK_STREAM);
}

static int
raw_tcp_setup(bench_ctx *cx, bench_ep *ep, int fd, char *err)
{
	int one = 1, rv;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "TCP_NODELAY");
		close(fd);
		return rv;
	}
	if ((rv = raw_sock_timeouts(fd, cx->timeout_ms)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "setsockopt");
		close(fd);
		return rv;
	}
	return raw_stream_ep(ep, fd, fd, true);
}

static int
raw_tcp_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	int fd = -1, rv = raw_wait_listen(cx->lfd, cx->timeout_ms);

	if (rv == 0 && (fd = accept4(cx->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		rv = -errno;
	}
	close(cx->lfd);
	cx->lfd = -1;
	if (rv != 0) {
		snprintf(err, BENCH_ERR_MAX, "accept 127.0.0.1:%s", cx->addr);
		return rv;
	}
	return raw_tcp_setup(cx, ep, fd, err);
}

static int
raw_tcp_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	int fd = raw_inet_dial(cx, err, SOCK_STREAM);

	return fd < 0 ? fd : raw_tcp_setup(cx, ep, fd, err);
}

const bench_impl bench_raw_tcp = {
        .name = "raw TCP",
        .arg = "127.0.0.1:0",
        .serve = raw_tcp_serve,
        .accept = raw_tcp_accept,
        .dial = raw_tcp_dial,
};

static int
raw_udp_serve(bench_ctx *cx, char *err)
{
	return raw_inet_serve(cx, err, SOCK_DGRAM);
}

/* The peer's first datagram names it: peek at its source and connect there, leaving the
 * datagram queued for the first recv (as the worker's handshake expects). */
static int
raw_udp_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	struct sockaddr_in peer;
	socklen_t sl = sizeof peer;
	char c;
	int fd = cx->lfd, rv = raw_wait_listen(fd, cx->timeout_ms);

	cx->lfd = -1;
	if (rv == 0 && recvfrom(fd, &c, 1, MSG_PEEK, (struct sockaddr *)&peer, &sl) == -1) {
		rv = -errno;
	}
	if (rv == 0 && connect(fd, (struct sockaddr *)&peer, sl) == -1) {
		rv = -errno;
	}
	if (rv == 0) {
		rv = raw_sock_timeouts(fd, cx->timeout_ms);
	}
	if (rv != 0) {
		snprintf(err, BENCH_ERR_MAX, "udp accept on 127.0.0.1:%s", cx->addr);
		close(fd);
		return rv;
	}
	ep->ops = &raw_msg_ops;
	ep->rfd = ep->wfd = fd;
	ep->is_socket = true;
	return 0;
}

static int
raw_udp_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	int rv, fd = raw_inet_dial(cx, err, SOCK_DGRAM);

	if (fd < 0) {
		return fd;
	}
	if ((rv = raw_sock_timeouts(fd, cx->timeout_ms)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "setsockopt");
		close(fd);
		return rv;
	}
	ep->ops = &raw_msg_ops;
	ep->rfd = ep->wfd = fd;
	ep->is_socket = true;
	return 0;
}

const bench_impl bench_raw_udp = {
        .name = "raw UDP",
        .arg = "127.0.0.1:0",
        .flags = BENCH_LOSSY,
        .max_msg = BENCH_UDP_MAX,
        .serve = raw_udp_serve,
        .accept = raw_udp_accept,
        .dial = raw_udp_dial,
};
