/*
 * framer.c - whole messages over a byte stream (pipe, FIFO, TCP): an 8-byte big-endian
 * length, then the payload. Reads are buffered so small messages cost one syscall; large
 * bodies go straight into the caller's buffer. A message that does not fit is kept.
 */
#include "ipcx_int.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void
ipcx__framer_init_tx(ipcx__framer *fr, int fd, bool is_socket, bool raw, size_t max_msg)
{
	memset(fr, 0, sizeof *fr);
	fr->fd = fd;
	fr->peer_fd = -1;
	fr->is_socket = is_socket;
	fr->raw = raw;
	fr->max_msg = max_msg;
	fr->sigpipe_ign = !is_socket && ipcx__sigpipe_ignored();
}

int
ipcx__framer_init(ipcx__framer *fr, int fd, bool is_socket, bool raw, size_t max_msg)
{
	ipcx__framer_init_tx(fr, fd, is_socket, raw, max_msg);
	fr->rbuf = malloc(IPCX__RBUF_SIZE);
	return fr->rbuf != NULL ? 0 : IPCX_ENOMEM;
}

void
ipcx__framer_set_wait(ipcx__framer *fr, int mode)
{
	ipcx__spin_init(&fr->rspin, mode);
	ipcx__spin_init(&fr->sspin, mode);
}

void
ipcx__framer_fini(ipcx__framer *fr)
{
	free(fr->rbuf);
	free(fr->stash);
	fr->rbuf = NULL;
	fr->stash = NULL;
}

static void
framer_put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t
framer_get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++) {
		v = (v << 8) | p[i];
	}
	return v;
}

int
ipcx__framer_send(ipcx__framer *fr, const void *buf, size_t len, int64_t deadline)
{
	unsigned char hdr[IPCX__FRAME_HDR];
	struct iovec iov[2];
	int n = 0, rv;
	size_t done;

	if (fr->serr != 0) {
		return fr->serr;
	}
	if (!fr->raw) {
		framer_put_be64(hdr, len);
		iov[n].iov_base = hdr;
		iov[n++].iov_len = sizeof hdr;
	} else if (len == 0) {
		return 0; /* an empty write carries nothing on a byte stream */
	}
	iov[n].iov_base = (void *)buf;
	iov[n++].iov_len = len;
	rv = ipcx__writev_all_sp(fr->fd,
	                         (fr->is_socket ? IPCX__IO_SOCKET : 0) |
	                                 (fr->sigpipe_ign ? IPCX__IO_NOSIGPIPE : 0),
	                         iov, n, deadline, &done, &fr->sspin);
	if (rv != 0 && done > 0 && !fr->raw) {
		/* Part of a frame is on the wire: the peer can never find the next boundary. */
		fr->serr = IPCX_EPIPE;
		if (fr->is_socket) {
			shutdown(fr->fd, SHUT_WR);
		}
	}
	return rv;
}

/* Wait for the first bytes: readable fd, or the peer gone (POLLERR on peer_fd). */
static int
framer_wait_first(ipcx__framer *fr, int64_t deadline)
{
	struct pollfd pfd[2] = {{.fd = fr->fd, .events = POLLIN}, {.fd = fr->peer_fd}};

	if (fr->peer_fd < 0) {
		return ipcx__wait_fd(fr->fd, POLLIN, deadline);
	}
	for (;;) {
		int ms = ipcx__poll_ms(deadline);
		int n = poll(pfd, 2, ms);
		if (n > 0) {
			if (pfd[0].revents != 0) {
				return pfd[0].revents;
			}
			if (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
				return IPCX_ECLOSED;
			}
			continue;
		}
		if (n == 0 && ms == 0) {
			return IPCX_ETIMEDOUT;
		}
		if (n == -1 && errno != EINTR) {
			return ipcx__err(errno);
		}
	}
}

/* One read through the framer's fd, honouring poll_first. */
static ssize_t
framer_read(ipcx__framer *fr, void *buf, size_t cap, int64_t deadline)
{
	ssize_t n;

	if (fr->poll_first) {
		int rv = framer_wait_first(fr, deadline);
		if (rv < 0) {
			return rv;
		}
	}
	n = ipcx__read_some_sp(fr->fd, fr->is_socket, buf, cap, deadline, &fr->wait_first,
	                       &fr->rspin);
	if (n > 0) {
		fr->poll_first = false;
	}
	return n;
}

/* Make sure at least n (<= IPCX__RBUF_SIZE) bytes are buffered. */
static int
framer_fill(ipcx__framer *fr, size_t n, int64_t deadline)
{
	while (fr->rtail - fr->rhead < n) {
		ssize_t got;
		if (fr->rhead > 0 && fr->rhead + n > IPCX__RBUF_SIZE) {
			memmove(fr->rbuf, fr->rbuf + fr->rhead, fr->rtail - fr->rhead);
			fr->rtail -= fr->rhead;
			fr->rhead = 0;
		}
		got = framer_read(fr, fr->rbuf + fr->rtail, IPCX__RBUF_SIZE - fr->rtail, deadline);
		if (got < 0) {
			return (int)got;
		}
		fr->rtail += (size_t)got;
	}
	return 0;
}

int
ipcx__framer_read_exact(ipcx__framer *fr, void *buf, size_t n, int64_t deadline)
{
	int rv = framer_fill(fr, n, deadline);

	if (rv != 0) {
		return rv;
	}
	memcpy(buf, fr->rbuf + fr->rhead, n);
	fr->rhead += n;
	return 0;
}

static int
framer_fail(ipcx__framer *fr, int err)
{
	fr->rerr = err;
	if (fr->is_socket && err == IPCX_EPROTO) {
		shutdown(fr->fd, SHUT_RDWR); /* tell the peer at once */
	}
	return err;
}

static int
framer_recv_raw(ipcx__framer *fr, void *buf, size_t cap, size_t *len, int64_t deadline)
{
	size_t avail = fr->rtail - fr->rhead;
	ssize_t n;

	if (cap == 0) {
		*len = 1;
		return IPCX_EMSGSIZE;
	}
	if (avail > 0) {
		size_t take = avail < cap ? avail : cap;
		memcpy(buf, fr->rbuf + fr->rhead, take);
		fr->rhead += take;
		*len = take;
		return 0;
	}
	n = framer_read(fr, buf, cap, deadline);
	if (n < 0) {
		if (n == IPCX_ECLOSED) {
			fr->rerr = IPCX_ECLOSED;
		}
		return (int)n;
	}
	*len = (size_t)n;
	return 0;
}

/* Fill dst[*got, need) with the current frame's body: buffered bytes first, then reads,
 * straight into dst when much is left. Returns 0, IPCX_ETIMEDOUT (with *got advanced) or
 * a channel-breaking error. */
static int
framer_body(ipcx__framer *fr, unsigned char *dst, size_t *got, int64_t deadline)
{
	size_t avail = fr->rtail - fr->rhead, take = (size_t)fr->need - *got;

	if (take > avail) {
		take = avail;
	}
	ipcx__copy(dst + *got, fr->rbuf + fr->rhead, take);
	fr->rhead += take;
	*got += take;
	while (*got < fr->need) {
		size_t rem = (size_t)fr->need - *got;
		ssize_t n;
		if (rem >= IPCX__RBUF_SIZE / 2) {
			n = framer_read(fr, dst + *got, rem, deadline);
			if (n > 0) {
				*got += (size_t)n;
			}
		} else {
			fr->rhead = fr->rtail = 0;
			n = framer_read(fr, fr->rbuf, IPCX__RBUF_SIZE, deadline);
			if (n > 0) {
				take = (size_t)n < rem ? (size_t)n : rem;
				fr->rtail = (size_t)n;
				memcpy(dst + *got, fr->rbuf, take);
				fr->rhead = take;
				*got += take;
			}
		}
		if (n == IPCX_ETIMEDOUT) {
			return IPCX_ETIMEDOUT;
		}
		if (n < 0) {
			return framer_fail(fr, n == IPCX_ECLOSED ? IPCX_EPROTO : (int)n);
		}
	}
	return 0;
}

int
ipcx__framer_recv(ipcx__framer *fr, void *buf, size_t cap, size_t *len, int64_t deadline)
{
	unsigned char *out = buf;
	size_t got = 0;
	int rv;

	if (fr->rerr != 0) {
		return fr->rerr;
	}
	if (fr->on_first_recv != NULL && !fr->first_done) {
		rv = fr->on_first_recv(fr, deadline);
		if (rv == IPCX_ETIMEDOUT) {
			return rv;
		}
		if (rv != 0) {
			return framer_fail(fr, rv == IPCX_ECLOSED ? IPCX_EPROTO : rv);
		}
		fr->first_done = true;
	}
	if (fr->raw) {
		return framer_recv_raw(fr, buf, cap, len, deadline);
	}
	if (!fr->have_len) {
		rv = framer_fill(fr, IPCX__FRAME_HDR, deadline);
		if (rv != 0) {
			if (rv == IPCX_ECLOSED && fr->rtail != fr->rhead) {
				rv = IPCX_EPROTO; /* the stream ended inside a header */
			}
			return rv == IPCX_ETIMEDOUT ? rv : framer_fail(fr, rv);
		}
		fr->need = framer_get_be64(fr->rbuf + fr->rhead);
		if (fr->need > fr->max_msg) {
			return framer_fail(fr, IPCX_EPROTO);
		}
		fr->rhead += IPCX__FRAME_HDR;
		fr->have_len = true;
	}
	if (fr->need > cap) {
		*len = (size_t)fr->need;
		return IPCX_EMSGSIZE;
	}
	if (fr->stash != NULL) {
		/* a body cut short by a timeout: keep filling the stash, copy it out once */
		if ((rv = framer_body(fr, fr->stash, &fr->stashed, deadline)) != 0) {
			return rv;
		}
		ipcx__copy(out, fr->stash, (size_t)fr->need);
		free(fr->stash);
		fr->stash = NULL;
		fr->stashed = 0;
	} else if ((rv = framer_body(fr, out, &got, deadline)) != 0) {
		if (rv == IPCX_ETIMEDOUT && got > 0) {
			/* the caller's buffer is theirs again: keep what arrived (need <= max_msg)
			 */
			if ((fr->stash = malloc((size_t)fr->need)) == NULL) {
				return framer_fail(fr, IPCX_ENOMEM);
			}
			memcpy(fr->stash, out, got);
			fr->stashed = got;
		}
		return rv;
	}
	if (fr->rhead == fr->rtail) {
		fr->rhead = fr->rtail = 0;
	}
	fr->have_len = false;
	*len = (size_t)fr->need;
	return 0;
}

bool
ipcx__framer_pending(const ipcx__framer *fr)
{
	size_t avail = fr->rtail - fr->rhead;

	/* true only when recv would return at once: an error to report or a whole message
	 * in the buffer; a partial frame must not keep a poll loop spinning */
	if (fr->rerr != 0 || (fr->raw && avail > 0)) {
		return true;
	}
	if (fr->raw) {
		return false;
	}
	if (fr->have_len) {
		return fr->stashed + avail >= fr->need;
	}
	return avail >= IPCX__FRAME_HDR &&
	       avail - IPCX__FRAME_HDR >= framer_get_be64(fr->rbuf + fr->rhead);
}
