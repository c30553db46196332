/*
 * bench_impl_raw.c - the raw-syscall baselines of `ipcx bench`: what a careful programmer
 * writes by hand for the same job (blocking I/O, one writev per message, buffered reads).
 */
#include "bench_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RAW_RBUF 65536 /* read buffer of the length-prefixed streams */

static int
raw_err(void)
{
	/* SO_RCVTIMEO / SO_SNDTIMEO expiry shows as EAGAIN on a blocking socket. */
	return (errno == EAGAIN || errno == EWOULDBLOCK) ? IPCX_ETIMEDOUT : -errno;
}

/* A wait shorter than the endpoint's normal bound (drains, lossy stream ends) on fd. */
static int
raw_wait_short_fd(int fd, int ep_timeout_ms, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int n;

	if (timeout_ms < 0 || (ep_timeout_ms >= 0 && timeout_ms >= ep_timeout_ms)) {
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

static int
raw_wait_short(bench_ep *ep, int timeout_ms)
{
	return raw_wait_short_fd(ep->rfd, ep->timeout_ms, timeout_ms);
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
	if (ep->ino >= 0) {
		close(ep->ino);
	}
	ep->rfd = ep->wfd = ep->ino = -1;
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

/* ---- raw POSIX message queues: one queue per direction ------------------------------ */

static long
raw_sysctl(const char *path, long dflt)
{
	char buf[32];
	ssize_t n;
	long v;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1) {
		return dflt;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) {
		return dflt;
	}
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 ? v : dflt;
}

void
bench_mq_shape(long *depth, long *msgsize)
{
	long def = raw_sysctl("/proc/sys/fs/mqueue/msg_default", 10);
	long max = raw_sysctl("/proc/sys/fs/mqueue/msg_max", 10);

	*depth = def < max ? def : max;
	*msgsize = raw_sysctl("/proc/sys/fs/mqueue/msgsize_max", 8192);
}

/* The absolute CLOCK_REALTIME deadline mq_timed{send,receive} take; NULL: wait forever.
 * (A vDSO clock read: free beside the system call.) */
static const struct timespec *
raw_abs_deadline(struct timespec *ts, int timeout_ms)
{
	if (timeout_ms < 0) {
		return NULL;
	}
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
	return ts;
}

/* Blocking queues; the bound on each wait is the queue's own timed call, as SO_RCVTIMEO is
 * for a socket. */
static int
raw_mq_send(bench_ep *ep, const void *buf, size_t len)
{
	struct timespec ts;
	const struct timespec *abs = raw_abs_deadline(&ts, ep->timeout_ms);

	for (;;) {
		int r = abs != NULL ? mq_timedsend(ep->wfd, buf, len, 0, abs)
		                    : mq_send(ep->wfd, buf, len, 0);
		if (r == 0) {
			return 0;
		}
		if (errno != EINTR) {
			return errno == ETIMEDOUT ? IPCX_ETIMEDOUT : -errno;
		}
	}
}

static int
raw_mq_recv(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	/* mq_receive wants room for mq_msgsize bytes: the caller's buffer when it has that,
	 * else ours and one copy (the same as mq:// does) */
	bool direct = cap >= ep->rcap;
	char *dst = direct ? buf : (char *)ep->rbuf;
	struct timespec ts;
	const struct timespec *abs;
	ssize_t n;

	if (ep->timeout_ms >= 0 && (timeout_ms < 0 || timeout_ms > ep->timeout_ms)) {
		timeout_ms = ep->timeout_ms;
	}
	abs = raw_abs_deadline(&ts, timeout_ms);
	for (;;) {
		n = abs != NULL ? mq_timedreceive(ep->rfd, dst, direct ? cap : ep->rcap, NULL, abs)
		                : mq_receive(ep->rfd, dst, direct ? cap : ep->rcap, NULL);
		if (n >= 0) {
			break;
		}
		if (errno != EINTR) {
			return errno == ETIMEDOUT ? IPCX_ETIMEDOUT : -errno;
		}
	}
	if ((size_t)n > cap) {
		return IPCX_EMSGSIZE;
	}
	if (!direct && n > 0) {
		memcpy(buf, dst, (size_t)n);
	}
	*len = (size_t)n;
	return 0;
}

static const struct bench_ep_ops raw_mq_ops = {
        .send = raw_mq_send,
        .recv = raw_mq_recv,
        .close = raw_close,
};

static int
raw_mq_names(const bench_ctx *cx, char *c2s, char *s2c, size_t cap)
{
	char base[BENCH_ADDR_MAX];
	int rv = bench_expand(base, sizeof base, cx->impl->arg, cx);

	if (rv != 0 || (size_t)snprintf(c2s, cap, "%s.c2s", base) >= cap ||
	    (size_t)snprintf(s2c, cap, "%s.s2c", base) >= cap) {
		return IPCX_ENAMETOOLONG;
	}
	return 0;
}

static int
raw_mq_ep(bench_ep *ep, mqd_t rq, mqd_t wq)
{
	struct mq_attr a;

	ep->ops = &raw_mq_ops;
	ep->rfd = rq;
	ep->wfd = wq;
	if (mq_getattr(rq, &a) == -1) {
		return -errno;
	}
	ep->rcap = (size_t)a.mq_msgsize;
	if ((ep->rbuf = malloc(ep->rcap)) == NULL) {
		return IPCX_ENOMEM;
	}
	return 0;
}

/* Worker A makes both queues, with the shape mq:// gives its queues by default. (Linux
 * makes every queue descriptor close-on-exec.) */
static int
raw_mq_serve(bench_ctx *cx, char *err)
{
	char c2s[BENCH_ADDR_MAX], s2c[BENCH_ADDR_MAX];
	struct mq_attr a = {0};
	int rv;

	if ((rv = raw_mq_names(cx, c2s, s2c, sizeof c2s)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "queue name");
		return rv;
	}
	bench_mq_shape(&a.mq_maxmsg, &a.mq_msgsize);
	if ((cx->fds[0] = mq_open(c2s, O_RDONLY | O_CREAT | O_EXCL, 0600, &a)) == -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "mq_open %s (depth %ld, msgsize %ld)", c2s,
		         a.mq_maxmsg, a.mq_msgsize);
		return rv;
	}
	if ((cx->fds[1] = mq_open(s2c, O_WRONLY | O_CREAT | O_EXCL, 0600, &a)) == -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "mq_open %s (depth %ld, msgsize %ld)", s2c,
		         a.mq_maxmsg, a.mq_msgsize);
		mq_close(cx->fds[0]);
		mq_unlink(c2s);
		cx->fds[0] = -1;
		return rv;
	}
	snprintf(cx->addr, sizeof cx->addr, "%s", c2s);
	return 0;
}

static int
raw_mq_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	int rv = raw_mq_ep(ep, cx->fds[0], cx->fds[1]);

	if (rv != 0) {
		snprintf(err, BENCH_ERR_MAX, "mq_getattr");
	}
	return rv;
}

/* Worker B opens both, then removes the names: the queues live on while either side holds
 * them, so nothing is left in /dev/mqueue whatever happens to the workers later. */
static int
raw_mq_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	char c2s[BENCH_ADDR_MAX + 8], s2c[BENCH_ADDR_MAX + 8];
	mqd_t wq, rq;
	int rv;

	if ((rv = raw_mq_names(cx, c2s, s2c, sizeof c2s)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "queue name");
		return rv;
	}
	if ((wq = mq_open(c2s, O_WRONLY)) == -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "mq_open %s", c2s);
		return rv;
	}
	if ((rq = mq_open(s2c, O_RDONLY)) == -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "mq_open %s", s2c);
		mq_close(wq);
		return rv;
	}
	mq_unlink(c2s);
	mq_unlink(s2c);
	if ((rv = raw_mq_ep(ep, rq, wq)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "mq_getattr");
	}
	return rv;
}

static void
raw_mq_cleanup(bench_ctx *cx)
{
	char c2s[BENCH_ADDR_MAX + 8], s2c[BENCH_ADDR_MAX + 8];

	if (raw_mq_names(cx, c2s, s2c, sizeof c2s) == 0) {
		mq_unlink(c2s); /* names unique to this run and pair: nobody else's */
		mq_unlink(s2c);
	}
}

const bench_impl bench_raw_mq = {
        .name = "raw mq",
        .arg = "/ipcx.bench-raw.%P.%N",
        .serve = raw_mq_serve,
        .accept = raw_mq_accept,
        .dial = raw_mq_dial,
        .cleanup = raw_mq_cleanup,
};

/* ---- raw System V message queue: one queue, mtype 1 B -> A, mtype 2 A -> B ------------ */

size_t
bench_sysv_msgmax(void)
{
	long max = raw_sysctl("/proc/sys/kernel/msgmax", 8192);
	long mnb = raw_sysctl("/proc/sys/kernel/msgmnb", 16384);

	return (size_t)(max < mnb ? max : mnb);
}

key_t
bench_sysv_key(const char *file, unsigned n)
{
	key_t k;
	int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd == -1) {
		return IPC_PRIVATE;
	}
	close(fd);
	errno = 0;
	k = ftok(file, (int)(n + 1));
	return k == (key_t)-1 && errno != 0 ? IPC_PRIVATE : k;
}

struct raw_msgbuf {
	long mtype;
	unsigned char body[];
};

static int
raw_sysv_send(bench_ep *ep, const void *buf, size_t len)
{
	struct raw_msgbuf *m = ep->mbuf;

	if (len > ep->mcap) {
		return IPCX_EMSGSIZE;
	}
	/* the one copy: msgsnd wants the mtype in front of the payload */
	m->mtype = ep->ttype;
	if (len > 0) {
		memcpy(m->body, buf, len);
	}
	while (msgsnd(ep->qid, m, len, 0) == -1) {
		if (errno != EINTR) {
			return errno == EIDRM || errno == EINVAL ? IPCX_ECLOSED : -errno;
		}
	}
	return 0;
}

/* Blocking msgrcv: System V has no timed receive, so the parent's watchdog bounds it, as it
 * does raw pipes. A shorter wait (only asked for by lossy implementations) polls. */
static int
raw_sysv_recv(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	struct raw_msgbuf *m = ep->mbuf;
	bool short_wait = timeout_ms >= 0 && (ep->timeout_ms < 0 || timeout_ms < ep->timeout_ms);
	ssize_t n;

	for (;;) {
		n = msgrcv(ep->qid, m, ep->mcap, ep->rtype, short_wait ? IPC_NOWAIT : 0);
		if (n >= 0) {
			break;
		}
		if (errno == ENOMSG && timeout_ms > 0) {
			struct timespec ms = {0, 1000000};
			nanosleep(&ms, NULL);
			timeout_ms--;
			continue;
		}
		if (errno == ENOMSG) {
			return IPCX_ETIMEDOUT;
		}
		if (errno != EINTR) {
			return errno == EIDRM || errno == EINVAL ? IPCX_ECLOSED : -errno;
		}
	}
	if ((size_t)n > cap) {
		return IPCX_EMSGSIZE;
	}
	if (n > 0) {
		memcpy(buf, m->body, (size_t)n);
	}
	*len = (size_t)n;
	return 0;
}

static void
raw_sysv_close(bench_ep *ep)
{
	if (ep->rmid) {
		msgctl(ep->qid, IPC_RMID, NULL);
	}
	free(ep->mbuf);
	ep->mbuf = NULL;
}

static const struct bench_ep_ops raw_sysv_ops = {
        .send = raw_sysv_send,
        .recv = raw_sysv_recv,
        .close = raw_sysv_close,
};

static int
raw_sysv_ep(bench_ep *ep, int qid, long rtype, long ttype, bool rmid)
{
	ep->ops = &raw_sysv_ops;
	ep->qid = qid;
	ep->rtype = rtype;
	ep->ttype = ttype;
	ep->rmid = rmid;
	ep->mcap = bench_sysv_msgmax();
	if ((ep->mbuf = malloc(sizeof(struct raw_msgbuf) + ep->mcap)) == NULL) {
		return IPCX_ENOMEM;
	}
	memset(ep->mbuf, 0, sizeof(struct raw_msgbuf) + ep->mcap);
	return 0;
}

/* Worker A makes the queue, keyed by ftok of a file in the private directory; a key that
 * some other program's queue has already is passed over for the next proj. */
static int
raw_sysv_serve(bench_ctx *cx, char *err)
{
	char file[BENCH_ADDR_MAX];
	int rv;

	if ((rv = bench_expand(file, sizeof file, cx->impl->arg, cx)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "key file name");
		return rv;
	}
	for (unsigned n = 0; n < BENCH_SYSV_TRIES; n++) {
		key_t key = bench_sysv_key(file, n);
		int qid;
		if (key == IPC_PRIVATE) {
			rv = errno != 0 ? -errno : IPCX_EINVAL;
			snprintf(err, BENCH_ERR_MAX, "ftok %s", file);
			return rv;
		}
		if ((qid = msgget(key, IPC_CREAT | IPC_EXCL | 0600)) >= 0) {
			cx->lfd = qid;
			snprintf(cx->addr, sizeof cx->addr, "0x%08x", (unsigned)key);
			return 0;
		}
		if (errno != EEXIST) {
			rv = -errno;
			snprintf(err, BENCH_ERR_MAX, "msgget 0x%08x", (unsigned)key);
			return rv;
		}
	}
	snprintf(err, BENCH_ERR_MAX, "msgget: the keys of %s proj 1..%d are all taken", file,
	         BENCH_SYSV_TRIES);
	return IPCX_EADDRINUSE;
}

static int
raw_sysv_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	int rv = raw_sysv_ep(ep, cx->lfd, 1, 2, true);

	if (rv != 0) {
		msgctl(cx->lfd, IPC_RMID, NULL);
		snprintf(err, BENCH_ERR_MAX, "message buffer");
	}
	cx->lfd = -1;
	return rv;
}

static int
raw_sysv_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	key_t key = (key_t)(unsigned)strtoul(cx->addr, NULL, 16);
	int qid = msgget(key, 0), rv;

	if (qid == -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "msgget %s", cx->addr);
		return rv;
	}
	if ((rv = raw_sysv_ep(ep, qid, 2, 1, false)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "message buffer");
	}
	return rv;
}

/* A queue of one of this pair's keys is removed only if it is this user's, was made since
 * the pair started and nobody but the pair's workers used it: a key another program's queue
 * had is passed over by serve(), and must be left alone here too. */
static void
raw_sysv_cleanup(bench_ctx *cx)
{
	char file[BENCH_ADDR_MAX];
	struct stat st;

	if (bench_expand(file, sizeof file, cx->impl->arg, cx) != 0 || stat(file, &st) == -1) {
		return; /* no key file: no queue was ever made */
	}
	for (unsigned n = 0; n < BENCH_SYSV_TRIES; n++) {
		struct msqid_ds ds;
		key_t key;
		int qid;
		errno = 0;
		key = ftok(file, (int)(n + 1));
		if ((key == (key_t)-1 && errno != 0) || (qid = msgget(key, 0)) == -1 ||
		    msgctl(qid, IPC_STAT, &ds) == -1) {
			continue;
		}
		if (ds.msg_perm.cuid != geteuid() || (int64_t)ds.msg_ctime < cx->started - 1 ||
		    (ds.msg_lspid != 0 && ds.msg_lspid != cx->pid[0] &&
		     ds.msg_lspid != cx->pid[1]) ||
		    (ds.msg_lrpid != 0 && ds.msg_lrpid != cx->pid[0] &&
		     ds.msg_lrpid != cx->pid[1])) {
			continue;
		}
		msgctl(qid, IPC_RMID, NULL);
	}
}

const bench_impl bench_raw_sysvmq = {
        .name = "raw msgsnd",
        .arg = "%D/rawsysv-%N",
        .serve = raw_sysv_serve,
        .accept = raw_sysv_accept,
        .dial = raw_sysv_dial,
        .cleanup = raw_sysv_cleanup,
};

/* ---- raw files: one append-only file per direction, read by a waiting reader --------- */

/* Each side's file has one writer, which appends [4-byte length][payload] with one writev
 * on an O_APPEND descriptor; no lock, no checksum. The reader keeps its own offset, reads
 * through a 64 KiB buffer (large bodies straight into the caller's buffer), and when the
 * next record is not all there blocks in read(2) on an inotify watch (IN_MODIFY) made
 * before the first byte was written, so no append is missed: an append that finished
 * before the look was seen by it, a later one queues an event. Consumed space is given
 * back with FALLOC_FL_PUNCH_HOLE in 1 MiB steps up to the last record taken, as file://
 * does, so a long stream does not fill the disk. */
#define RAW_PUNCH_STEP ((uint64_t)1 << 20)

static int
raw_file_send(bench_ep *ep, const void *buf, size_t len)
{
	int rv = raw_stream_send(ep, buf, len);

	if (rv == 0 && ep->sync && fdatasync(ep->wfd) == -1) {
		rv = -errno;
	}
	return rv;
}

/* Wait for the file to grow: block on the watch (the parent's watchdog bounds it, as for
 * raw pipes), or poll it for a shorter wait. The events read are only a wake-up. */
static int
raw_file_wait(bench_ep *ep, int timeout_ms)
{
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int rv = raw_wait_short_fd(ep->ino, ep->timeout_ms, timeout_ms);

	if (rv != 0) {
		return rv;
	}
	while (read(ep->ino, ev, sizeof ev) == -1) {
		if (errno != EINTR) {
			return -errno;
		}
	}
	return 0;
}

/* Read more of the file into rbuf after what it holds; 0 bytes: nothing new yet. */
static ssize_t
raw_file_fill(bench_ep *ep)
{
	ssize_t n;

	if (ep->rhead > 0) {
		memmove(ep->rbuf, ep->rbuf + ep->rhead, ep->rtail - ep->rhead);
		ep->rtail -= ep->rhead;
		ep->rhead = 0;
	}
	do {
		n = pread(ep->rfd, ep->rbuf + ep->rtail, RAW_RBUF - ep->rtail, (off_t)ep->roff);
	} while (n == -1 && errno == EINTR);
	if (n > 0) {
		ep->rtail += (size_t)n;
		ep->roff += (uint64_t)n;
	}
	return n < 0 ? -errno : n;
}

/* Give back the space before the record just taken (at `last`), as file:// does: punching
 * the pages of the record just read, still dirty and next to where the writer appends,
 * costs milliseconds on ext4 here (a 1 MiB ping-pong took 4.6 ms instead of 0.75). */
static void
raw_file_punch(bench_ep *ep, uint64_t last)
{
	uint64_t to = last & ~(uint64_t)4095;

	if (to >= ep->punched + RAW_PUNCH_STEP &&
	    fallocate(ep->rfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)ep->punched,
	              (off_t)(to - ep->punched)) == 0) {
		ep->punched = to;
	}
}

static int
raw_file_recv(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	unsigned char *out = buf;
	size_t got, need, take;
	uint64_t last;
	uint32_t hdr;
	ssize_t n;
	int rv;

	while (ep->rtail - ep->rhead < sizeof hdr) {
		if ((n = raw_file_fill(ep)) < 0) {
			return (int)n;
		}
		if (ep->rtail - ep->rhead < sizeof hdr &&
		    (rv = raw_file_wait(ep, timeout_ms)) != 0) {
			return rv;
		}
	}
	last = ep->roff - (ep->rtail - ep->rhead);
	memcpy(&hdr, ep->rbuf + ep->rhead, sizeof hdr);
	need = hdr;
	if (need > cap) {
		return IPCX_EMSGSIZE;
	}
	ep->rhead += sizeof hdr;
	take = ep->rtail - ep->rhead < need ? ep->rtail - ep->rhead : need;
	memcpy(out, ep->rbuf + ep->rhead, take);
	ep->rhead += take;
	got = take;
	while (got < need) {
		size_t rem = need - got;
		if (rem >= RAW_RBUF / 2) { /* large bodies go straight to the caller */
			do {
				n = pread(ep->rfd, out + got, rem, (off_t)ep->roff);
			} while (n == -1 && errno == EINTR);
			if (n < 0) {
				return -errno;
			}
			got += (size_t)n;
			ep->roff += (uint64_t)n;
		} else {
			ep->rhead = ep->rtail = 0;
			if ((n = raw_file_fill(ep)) < 0) {
				return (int)n;
			}
			take = (size_t)n < rem ? (size_t)n : rem;
			memcpy(out + got, ep->rbuf, take);
			ep->rhead = take;
			got += take;
		}
		/* the writer is still appending this record: wait for the event its end
		 * queues rather than chase it page by page (which slows the writer down) */
		if (got < need && (rv = raw_file_wait(ep, -1)) != 0) {
			return rv;
		}
	}
	if (ep->rhead == ep->rtail) {
		ep->rhead = ep->rtail = 0;
	}
	raw_file_punch(ep, last);
	*len = need;
	return 0;
}

static const struct bench_ep_ops raw_file_ops = {
        .send = raw_file_send,
        .recv = raw_file_recv,
        .close = raw_close,
};

static int
raw_file_names(const bench_ctx *cx, char *c2s, char *s2c, size_t cap)
{
	char base[BENCH_ADDR_MAX];
	int rv = bench_expand(base, sizeof base, cx->impl->arg, cx);

	if (rv != 0 || (size_t)snprintf(c2s, cap, "%s.c2s", base) >= cap ||
	    (size_t)snprintf(s2c, cap, "%s.s2c", base) >= cap) {
		return IPCX_ENAMETOOLONG;
	}
	return 0;
}

/* An inotify instance watching path for appends. */
static int
raw_file_watch(const char *path)
{
	int fd = inotify_init1(IN_CLOEXEC), e;

	if (fd == -1) {
		return -errno;
	}
	if (inotify_add_watch(fd, path, IN_MODIFY) == -1) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int
raw_file_ep(bench_ctx *cx, bench_ep *ep, int rfd, int wfd, int ino)
{
	ep->ops = &raw_file_ops;
	ep->rfd = rfd;
	ep->wfd = wfd;
	ep->ino = ino;
	ep->rhead = ep->rtail = 0;
	ep->roff = ep->punched = 0;
	ep->sync = (cx->impl->flags & BENCH_SYNC) != 0;
	if ((ep->rbuf = malloc(RAW_RBUF)) == NULL) {
		return IPCX_ENOMEM;
	}
	return 0;
}

/* Worker A makes both files and watches the one it reads before anyone can write it. The
 * reader's descriptor is read-write: punching a hole needs a writable one. */
static int
raw_file_serve(bench_ctx *cx, char *err)
{
	char c2s[BENCH_ADDR_MAX], s2c[BENCH_ADDR_MAX];
	int rv;

	if ((rv = raw_file_names(cx, c2s, s2c, sizeof c2s)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "file name");
		return rv;
	}
	/* the files themselves go with the private directory, whatever happens here */
	if ((cx->fds[0] = open(c2s, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "open %s", c2s);
		goto fail;
	}
	if ((cx->fds[1] = open(s2c, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "open %s", s2c);
		goto fail_r;
	}
	if ((cx->fds[2] = raw_file_watch(c2s)) < 0) {
		rv = cx->fds[2];
		snprintf(err, BENCH_ERR_MAX, "inotify %s", c2s);
		goto fail_w;
	}
	snprintf(cx->addr, sizeof cx->addr, "%s", c2s);
	return 0;
fail_w:
	close(cx->fds[1]);
fail_r:
	close(cx->fds[0]);
fail:
	cx->fds[0] = cx->fds[1] = cx->fds[2] = -1;
	return rv;
}

static int
raw_file_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	int rv = raw_file_ep(cx, ep, cx->fds[0], cx->fds[1], cx->fds[2]);

	if (rv != 0) {
		snprintf(err, BENCH_ERR_MAX, "read buffer");
	}
	return rv;
}

/* Worker B opens both and watches its own before greeting A, then removes the names. */
static int
raw_file_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	char c2s[BENCH_ADDR_MAX + 8], s2c[BENCH_ADDR_MAX + 8];
	int wfd, rfd, ino, rv;

	if ((rv = raw_file_names(cx, c2s, s2c, sizeof c2s)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "file name");
		return rv;
	}
	if ((wfd = open(c2s, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "open %s", c2s);
		return rv;
	}
	if ((rfd = open(s2c, O_RDWR | O_CLOEXEC)) == -1) {
		rv = -errno;
		snprintf(err, BENCH_ERR_MAX, "open %s", s2c);
		close(wfd);
		return rv;
	}
	if ((ino = raw_file_watch(s2c)) < 0) {
		snprintf(err, BENCH_ERR_MAX, "inotify %s", s2c);
		close(wfd);
		close(rfd);
		return ino;
	}
	unlink(c2s);
	unlink(s2c);
	if ((rv = raw_file_ep(cx, ep, rfd, wfd, ino)) != 0) {
		snprintf(err, BENCH_ERR_MAX, "read buffer");
	}
	return rv;
}

static void
raw_file_cleanup(bench_ctx *cx)
{
	char c2s[BENCH_ADDR_MAX + 8], s2c[BENCH_ADDR_MAX + 8];

	/* they would go with the private directory; a killed pair's may be large */
	if (raw_file_names(cx, c2s, s2c, sizeof c2s) == 0) {
		unlink(c2s);
		unlink(s2c);
	}
}

const bench_impl bench_raw_file = {
        .name = "raw file",
        .arg = "%D/rawfile-%N",
        .serve = raw_file_serve,
        .accept = raw_file_accept,
        .dial = raw_file_dial,
        .cleanup = raw_file_cleanup,
};

const bench_impl bench_raw_file_sync = {
        .name = "raw file+fdatasync",
        .arg = "%D/rawfilesync-%N",
        .flags = BENCH_SYNC,
        .serve = raw_file_serve,
        .accept = raw_file_accept,
        .dial = raw_file_dial,
        .cleanup = raw_file_cleanup,
};
