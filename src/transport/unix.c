/*
 * unix.c - the unix:// scheme: AF_UNIX SOCK_SEQPACKET on a path (unix:///run/x.sock) or a
 * Linux abstract name (unix:@name); peer credentials and fd passing. Messages larger than
 * one record are sent as a first record [8-byte length][up to 64 KiB] plus continuations.
 */
#include "../core/ipcx_int.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define UNIX_CHUNK  (64 * 1024) /* largest payload of one record */
#define UNIX_HDR    8
#define UNIX_SNDBUF (1024 * 1024) /* asked for; Linux doubles it for bookkeeping */

/* ?wait=spin|block|adaptive (src/core/io.c) */
static const char *const unix_keys[] = {"wait", NULL};

typedef union unix_ctl {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * IPCX_MAX_FDS)];
} unix_ctl;

typedef struct unix_chan {
	ipcx_chan base;
	int fd;
	bool raw;
	ipcx__framer fr; /* raw mode only: a SOCK_STREAM byte stream */
	int serr;        /* sticky send error: a message was cut short */
	int rerr;        /* sticky receive error */
	bool wait_first; /* see unix_recvmsg */
	unsigned probe;
	ipcx__spin rspin; /* ?wait=: how to wait for a record ... */
	ipcx__spin sspin; /* ... and for room to send one */
	/* A message kept across IPCX_EMSGSIZE or a timeout: pm_got bytes of pm_total, in ovf
	 * (first record only) or pm_heap, with the fds that came with it. */
	unsigned char *ovf; /* UNIX_CHUNK bytes */
	bool pm_active;
	size_t pm_total, pm_got;
	unsigned char *pm_heap;
	int pm_fds[IPCX_MAX_FDS];
	size_t pm_nfds;
} unix_chan;

typedef struct unix_listener {
	ipcx_listener base;
	int fd;
	bool abstract;
	dev_t dev;
	ino_t ino;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	char abspath[PATH_MAX];
	char regname[PATH_MAX]; /* absolute path in the creator registry, "" if not recorded */
} unix_listener;

static int
unix_persistence(const ipcx__url *u)
{
	return u->abstract ? IPCX_PERSIST_PROCESS : IPCX_PERSIST_FILESYSTEM;
}

static int
unix_addr(struct sockaddr_un *sa, socklen_t *len, const ipcx__url *u)
{
	size_t n = strlen(u->path);

	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (n == 0) {
		return IPCX_EBADURL;
	}
	if (u->abstract) {
		if (n + 1 > sizeof sa->sun_path) {
			return IPCX_ENAMETOOLONG;
		}
		memcpy(sa->sun_path + 1, u->path, n);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	} else {
		if (n >= sizeof sa->sun_path) {
			return IPCX_ENAMETOOLONG;
		}
		memcpy(sa->sun_path, u->path, n + 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

static void
unix_close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ipcx__close_fd(fds[i]);
	}
}

static int
unix_chan_new(ipcx_chan **cp, int fd, const ipcx__opts *o)
{
	unix_chan *u;
	int rv;

	if ((u = calloc(1, sizeof *u)) == NULL) {
		return IPCX_ENOMEM;
	}
	ipcx__chan_init(&u->base, &ipcx__unix, o->max_msg);
	u->fd = fd;
	/* A record may not exceed the send buffer, and a large message is many records: a
	 * bigger buffer (kernel-capped by net.core.wmem_max) means fewer waits. Best effort. */
	if (!o->raw) {
		int sz = UNIX_SNDBUF;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	}
	u->raw = o->raw;
	ipcx__spin_init(&u->rspin, o->wait);
	ipcx__spin_init(&u->sspin, o->wait);
	if (u->raw) {
		rv = ipcx__framer_init(&u->fr, fd, true, true, o->max_msg);
		ipcx__framer_set_wait(&u->fr, o->wait);
	} else {
		rv = (u->ovf = malloc(UNIX_CHUNK)) != NULL ? 0 : IPCX_ENOMEM;
	}
	if (rv != 0) {
		free(u);
		return rv;
	}
	*cp = &u->base;
	return 0;
}

int
ipcx__unix_chan_from_fd(ipcx_chan **cp, int fd, const ipcx__opts *o)
{
	return unix_chan_new(cp, fd, o);
}

/* ---- listen / accept / dial ---------------------------------------------------------- */

/* bind() that replaces a stale socket file (its listener died) but never a live one or a
 * file that is not a socket: only after EADDRINUSE, probe with connect, unlink only on
 * ECONNREFUSED. */
static int
unix_bind(int fd, const struct sockaddr_un *sa, socklen_t len, const ipcx__url *u, int type)
{
	for (int tries = 0; tries < 3; tries++) {
		struct stat st;
		int probe, e;
		if (bind(fd, (const struct sockaddr *)sa, len) == 0) {
			return 0;
		}
		if (errno != EADDRINUSE || u->abstract) {
			return ipcx__err(errno);
		}
		if (lstat(u->path, &st) == -1) {
			if (errno == ENOENT) {
				continue;
			}
			return ipcx__err(errno);
		}
		if (!S_ISSOCK(st.st_mode)) {
			return IPCX_EADDRINUSE;
		}
		if ((probe = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
			return ipcx__err(errno);
		}
		e = connect(probe, (const struct sockaddr *)sa, len) == 0 ? 0 : errno;
		close(probe);
		if (e != ECONNREFUSED) {
			return IPCX_EADDRINUSE; /* somebody listens there (or is about to) */
		}
		if (unlink(u->path) == -1 && errno != ENOENT) {
			return ipcx__err(errno);
		}
	}
	return IPCX_EADDRINUSE;
}

static int
unix_listen(ipcx_listener **lp, ipcx__url *u, const ipcx__opts *o)
{
	struct sockaddr_un sa;
	socklen_t len;
	unix_listener *l;
	int type = o->raw ? SOCK_STREAM : SOCK_SEQPACKET;
	int fd, rv;

	if ((rv = unix_addr(&sa, &len, u)) != 0) {
		return rv;
	}
	if ((l = calloc(1, sizeof *l)) == NULL) {
		return IPCX_ENOMEM;
	}
	if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		rv = ipcx__err(errno);
		goto fail_free;
	}
	/* Linux creates the socket file with the socket inode's mode less the umask, so the
	 * name is never visible with more than the requested bits. */
	if (!u->abstract && fchmod(fd, o->mode) == -1) {
		rv = ipcx__err(errno);
		goto fail_close;
	}
	if ((rv = unix_bind(fd, &sa, len, u, type)) != 0) {
		goto fail_close;
	}
	if (!u->abstract) {
		struct stat st;
		if (stat(u->path, &st) == -1) {
			rv = ipcx__err(errno);
			goto fail_close;
		}
		if ((st.st_mode & 07777) != o->mode && chmod(u->path, o->mode) == -1) {
			rv = ipcx__err(errno);
			goto fail_unlink;
		}
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	}
	if (listen(fd, SOMAXCONN) == -1) {
		rv = ipcx__err(errno);
		goto fail_unlink;
	}
	l->base.tp = &ipcx__unix;
	l->base.opts = *o;
	l->fd = fd;
	l->abstract = u->abstract;
	strcpy(l->path, u->path); /* length checked by unix_addr */
	/* close must remove this name even after the process changes directory */
	if (l->abstract || ipcx__abs_path(l->abspath, sizeof l->abspath, l->path) != 0) {
		strcpy(l->abspath, l->path);
	}
	/* the registry is a record for `ipcx ls`, not a condition to listen */
	if (l->abstract || ipcx__abs_path(l->regname, sizeof l->regname, l->path) != 0 ||
	    ipcx__registry_add("socket", l->regname) != 0) {
		l->regname[0] = '\0';
	}
	*lp = &l->base;
	return 0;
fail_unlink:
	if (!u->abstract) {
		unlink(u->path);
	}
fail_close:
	close(fd);
fail_free:
	free(l);
	return rv;
}

static int
unix_accept(ipcx_listener *lb, ipcx_chan **cp, int64_t deadline)
{
	unix_listener *l = (unix_listener *)lb;
	int fd, rv;

	if ((fd = ipcx__accept_fd(l->fd, deadline)) < 0) {
		return fd;
	}
	if ((rv = unix_chan_new(cp, fd, &l->base.opts)) != 0) {
		close(fd);
	}
	return rv;
}

static void
unix_listener_close(ipcx_listener *lb)
{
	unix_listener *l = (unix_listener *)lb;
	struct stat st;

	close(l->fd);
	/* remove the name only while it is still ours, not a successor's */
	if (!l->abstract && !l->base.opts.keep && lstat(l->abspath, &st) == 0 &&
	    st.st_dev == l->dev && st.st_ino == l->ino) {
		unlink(l->abspath);
	}
	if (!l->base.opts.keep) {
		ipcx__registry_forget("socket", l->regname);
	}
	free(l);
}

static int
unix_listener_fd(ipcx_listener *lb)
{
	return ((unix_listener *)lb)->fd;
}

static int
unix_listener_url(ipcx_listener *lb, char *buf, size_t cap)
{
	unix_listener *l = (unix_listener *)lb;

	return ipcx__url_format(buf, cap, l->abstract ? "unix:@" : "unix://", l->path);
}

static int
unix_dial(ipcx_chan **cp, ipcx__url *u, const ipcx__opts *o, int64_t deadline)
{
	struct sockaddr_un sa;
	socklen_t len;
	int type = o->raw ? SOCK_STREAM : SOCK_SEQPACKET;
	int fd, rv, backoff_ms = 1;

	if ((rv = unix_addr(&sa, &len, u)) != 0) {
		return rv;
	}
	if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		return ipcx__err(errno);
	}
	/* A full backlog makes a non-blocking AF_UNIX connect fail with EAGAIN; there is no
	 * in-progress state to poll, so retry with a short backoff until the deadline. */
	while (connect(fd, (struct sockaddr *)&sa, len) == -1) {
		if (errno == EINTR) {
			continue;
		}
		if (errno != EAGAIN || ipcx__poll_ms(deadline) == 0) {
			rv = errno == EAGAIN ? IPCX_ETIMEDOUT : ipcx__err(errno);
			goto fail_close;
		}
		poll(NULL, 0, backoff_ms);
		backoff_ms = backoff_ms < 16 ? backoff_ms * 2 : backoff_ms;
	}
	if ((rv = ipcx__set_nonblock(fd, false)) != 0 || (rv = unix_chan_new(cp, fd, o)) != 0) {
		goto fail_close;
	}
	return 0;
fail_close:
	close(fd);
	return rv;
}

/* ---- send ---------------------------------------------------------------------------- */

/* One record; records are atomic, so EAGAIN means nothing was sent. On a full buffer,
 * retry as sp says, then poll (or, without a deadline, block in sendmsg). */
static int
unix_sendmsg(int fd, struct msghdr *mh, int64_t deadline, ipcx__spin *sp)
{
	bool nowait = deadline != IPCX__FOREVER || ipcx__spin_on(sp);
	int rv;

	for (;;) {
		if (sendmsg(fd, mh, MSG_NOSIGNAL | (nowait ? MSG_DONTWAIT : 0)) >= 0) {
			rv = 0;
			break;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET) {
			rv = IPCX_ECLOSED;
			break;
		}
		if (errno != EAGAIN) {
			rv = ipcx__err(errno);
			break;
		}
		if (ipcx__spin_again(sp, deadline)) {
			continue;
		}
		if (deadline == IPCX__FOREVER && nowait) {
			nowait = false;
			continue;
		}
		if ((rv = ipcx__wait_fd(fd, POLLOUT, deadline)) < 0) {
			break;
		}
		if ((rv & (POLLHUP | POLLERR)) && !(rv & POLLOUT)) {
			rv = IPCX_ECLOSED;
			break;
		}
	}
	ipcx__spin_done(sp);
	return rv;
}

static int
unix_send_msg(unix_chan *u, const void *buf, size_t len, const int *fds, size_t nfds,
              int64_t deadline)
{
	uint64_t hdr = len;
	size_t first = len < UNIX_CHUNK ? len : UNIX_CHUNK;
	struct iovec iov[2] = {{&hdr, UNIX_HDR}, {(void *)buf, first}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	unix_ctl ctl;
	int rv;

	if (u->serr != 0) {
		return u->serr;
	}
	if (nfds > 0) {
		struct cmsghdr *cm;
		memset(&ctl, 0, sizeof ctl);
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	if ((rv = unix_sendmsg(u->fd, &mh, deadline, &u->sspin)) != 0) {
		return rv;
	}
	for (size_t off = first; off < len;) {
		size_t n = len - off < UNIX_CHUNK ? len - off : UNIX_CHUNK;
		struct iovec ci = {(char *)buf + off, n};
		struct msghdr cmh = {.msg_iov = &ci, .msg_iovlen = 1};
		if ((rv = unix_sendmsg(u->fd, &cmh, deadline, &u->sspin)) != 0) {
			/* the peer holds the start of a message it can never complete */
			u->serr = IPCX_EPIPE;
			shutdown(u->fd, SHUT_WR);
			return rv;
		}
		off += n;
	}
	return 0;
}

static int
unix_send(ipcx_chan *c, const void *buf, size_t len, int64_t deadline)
{
	unix_chan *u = (unix_chan *)c;

	if (u->raw) {
		return ipcx__framer_send(&u->fr, buf, len, deadline);
	}
	return unix_send_msg(u, buf, len, NULL, 0, deadline);
}

static int
unix_send_fds(ipcx_chan *c, const void *buf, size_t len, const int *fds, size_t nfds,
              int64_t deadline)
{
	unix_chan *u = (unix_chan *)c;

	if (u->raw) {
		return IPCX_ENOTSUP;
	}
	return unix_send_msg(u, buf, len, fds, nfds, deadline);
}

/* ---- receive ------------------------------------------------------------------------- */

/* One record. While retrying (?wait=), every attempt is non-blocking and none polls
 * first. Otherwise, with a deadline, a ping-pong peer makes the first non-blocking try
 * futile (EAGAIN, poll, retry: three syscalls), so after an EAGAIN wait first; every 16th
 * receive reads first again, to notice a stream that keeps records queued. */
static int
unix_recvmsg(unix_chan *u, struct msghdr *mh, int64_t deadline, size_t *n)
{
	bool spin = ipcx__spin_on(&u->rspin);
	bool nowait = deadline != IPCX__FOREVER || spin;
	bool wait = !spin && deadline != IPCX__FOREVER && u->wait_first && (++u->probe & 15) != 0;
	int rv;

	for (;;) {
		ssize_t got;
		if (wait && (rv = ipcx__wait_fd(u->fd, POLLIN, deadline)) < 0) {
			break;
		}
		got = recvmsg(u->fd, mh, MSG_CMSG_CLOEXEC | (nowait ? MSG_DONTWAIT : 0));
		if (got >= 0) {
			if (!wait) {
				u->wait_first = false;
			}
			*n = (size_t)got;
			rv = 0;
			break;
		}
		if (errno == EINTR) {
			wait = false;
			continue;
		}
		if (errno == ECONNRESET) {
			rv = IPCX_ECLOSED;
			break;
		}
		if (errno != EAGAIN) {
			rv = ipcx__err(errno);
			break;
		}
		u->wait_first = true;
		if (ipcx__spin_again(&u->rspin, deadline)) {
			wait = false;
		} else if (deadline == IPCX__FOREVER && nowait) {
			nowait = false; /* done retrying: block in recvmsg */
			wait = false;
		} else {
			wait = true;
		}
	}
	ipcx__spin_done(&u->rspin);
	return rv;
}

/* Take the fds out of a received control message. */
static int
unix_take_fds(struct msghdr *mh, int *fds, size_t *nfds)
{
	*nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (*nfds + n > IPCX_MAX_FDS) {
				n = IPCX_MAX_FDS -
				    *nfds; /* cannot happen: ctl holds at most that */
			}
			memcpy(fds + *nfds, CMSG_DATA(cm), n * sizeof(int));
			*nfds += n;
		}
	}
	if (mh->msg_flags & MSG_CTRUNC) {
		unix_close_fds(fds, *nfds);
		*nfds = 0;
		return IPCX_EPROTO;
	}
	return 0;
}

static int
unix_fail(unix_chan *u, int err)
{
	u->rerr = err;
	if (err == IPCX_EPROTO) {
		shutdown(u->fd, SHUT_RDWR);
	}
	return err;
}

/* Receive the first record of a message. Returns its total length in *total and the
 * payload bytes (in buf if they fit, else split between buf and ovf) in *payload. */
static int
unix_recv_first(unix_chan *u, void *buf, size_t inbuf, uint64_t *total, size_t *payload, int *fds,
                size_t *nfds, int64_t deadline)
{
	struct iovec iov[3] = {{total, UNIX_HDR}, {buf, inbuf}, {u->ovf, UNIX_CHUNK}};
	unix_ctl ctl;
	struct msghdr mh = {.msg_iov = iov,
	                    .msg_iovlen = 3,
	                    .msg_control = ctl.buf,
	                    .msg_controllen = sizeof ctl.buf};
	size_t n;
	int rv;

	if ((rv = unix_recvmsg(u, &mh, deadline, &n)) != 0) {
		return rv == IPCX_ETIMEDOUT ? rv : unix_fail(u, rv);
	}
	if ((rv = unix_take_fds(&mh, fds, nfds)) != 0) {
		return unix_fail(u, rv);
	}
	if (n == 0) {
		unix_close_fds(fds, *nfds);
		return unix_fail(u, IPCX_ECLOSED); /* records are never empty: end of stream */
	}
	*payload = n - UNIX_HDR;
	if (n < UNIX_HDR || (mh.msg_flags & MSG_TRUNC) || *total > u->base.max_msg ||
	    *payload > UNIX_CHUNK || *payload > *total || (*payload == 0 && *total > 0)) {
		unix_close_fds(fds, *nfds);
		return unix_fail(u, IPCX_EPROTO);
	}
	return 0;
}

static int
unix_recv_msg(unix_chan *u, void *buf, size_t cap, size_t *len, int *fds, size_t fdcap,
              size_t *nfds, int64_t deadline)
{
	unsigned char *out = buf, *dst = buf;
	int rfds[IPCX_MAX_FDS];
	size_t rn = 0, got, total;
	int rv;

	if (u->rerr != 0) {
		return u->rerr;
	}
	if (!u->pm_active) {
		size_t inbuf = cap < UNIX_CHUNK ? cap : UNIX_CHUNK, payload;
		uint64_t t64;
		rv = unix_recv_first(u, buf, inbuf, &t64, &payload, rfds, &rn, deadline);
		if (rv != 0) {
			return rv;
		}
		total = (size_t)t64;
		if (total > cap || rn > fdcap) {
			/* keep the message: gather the first record's payload in ovf */
			size_t inb = payload < inbuf ? payload : inbuf;
			memmove(u->ovf + inb, u->ovf, payload - inb);
			ipcx__copy(u->ovf, buf, inb);
			u->pm_active = true;
			u->pm_total = total;
			u->pm_got = payload;
			memcpy(u->pm_fds, rfds, rn * sizeof(int));
			u->pm_nfds = rn;
			*len = total;
			*nfds = rn;
			return IPCX_EMSGSIZE;
		}
		got = payload;
	} else {
		total = u->pm_total;
		if (total > cap || u->pm_nfds > fdcap) {
			*len = total;
			*nfds = u->pm_nfds;
			return IPCX_EMSGSIZE;
		}
		got = u->pm_got;
		if (u->pm_heap != NULL) {
			dst = u->pm_heap; /* go on filling it; copied out once, below */
		} else {
			ipcx__copy(out, u->ovf, got);
		}
		rn = u->pm_nfds;
		memcpy(rfds, u->pm_fds, rn * sizeof(int));
		u->pm_active = false;
	}
	while (got < total) {
		size_t want = total - got < UNIX_CHUNK ? total - got : UNIX_CHUNK, n, xn;
		struct iovec iov = {dst + got, want};
		unix_ctl ctl;
		struct msghdr mh = {.msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = ctl.buf,
		                    .msg_controllen = sizeof ctl.buf};
		int xfds[IPCX_MAX_FDS];
		rv = unix_recvmsg(u, &mh, deadline, &n);
		if (rv == IPCX_ETIMEDOUT) {
			/* keep what arrived so far for the next call, in a buffer the rest of
			 * the message will fill (total <= max_msg, checked on arrival) */
			if (dst == out) {
				if ((u->pm_heap = malloc(total)) == NULL) {
					unix_close_fds(rfds, rn);
					return unix_fail(u, IPCX_ENOMEM);
				}
				memcpy(u->pm_heap, out, got);
			}
			u->pm_active = true;
			u->pm_total = total;
			u->pm_got = got;
			memcpy(u->pm_fds, rfds, rn * sizeof(int));
			u->pm_nfds = rn;
			return rv;
		}
		if (rv == 0) {
			rv = unix_take_fds(&mh, xfds, &xn);
			if (rv == 0 && xn > 0) {
				unix_close_fds(xfds, xn);
				rv = IPCX_EPROTO; /* fds belong on the first record only */
			}
			if (rv == 0 && (n == 0 || (mh.msg_flags & MSG_TRUNC))) {
				rv = IPCX_EPROTO; /* the stream ended inside a message, or overran
				                     it */
			}
		}
		if (rv != 0) {
			unix_close_fds(rfds, rn);
			return unix_fail(u, rv == IPCX_ECLOSED ? IPCX_EPROTO : rv);
		}
		got += n;
	}
	if (dst != out) {
		ipcx__copy(out, dst, total);
		free(u->pm_heap);
		u->pm_heap = NULL;
	}
	if (fds != NULL) {
		memcpy(fds, rfds, rn * sizeof(int));
	} else {
		unix_close_fds(rfds, rn);
	}
	*nfds = fds != NULL ? rn : 0;
	*len = total;
	return 0;
}

static int
unix_recv(ipcx_chan *c, void *buf, size_t cap, size_t *len, int64_t deadline)
{
	unix_chan *u = (unix_chan *)c;
	size_t nfds;

	if (u->raw) {
		return ipcx__framer_recv(&u->fr, buf, cap, len, deadline);
	}
	return unix_recv_msg(u, buf, cap, len, NULL, SIZE_MAX, &nfds, deadline);
}

static int
unix_recv_fds(ipcx_chan *c, void *buf, size_t cap, size_t *len, int *fds, size_t *nfds,
              int64_t deadline)
{
	unix_chan *u = (unix_chan *)c;
	size_t fdcap = *nfds;

	if (u->raw) {
		return IPCX_ENOTSUP;
	}
	return unix_recv_msg(u, buf, cap, len, fds, fdcap, nfds, deadline);
}

/* ---- the rest ------------------------------------------------------------------------ */

static int
unix_fd(ipcx_chan *c)
{
	return ((unix_chan *)c)->fd;
}

static bool
unix_pending(ipcx_chan *c)
{
	unix_chan *u = (unix_chan *)c;

	return u->raw ? ipcx__framer_pending(&u->fr) : u->pm_active;
}

static int
unix_peer_cred(ipcx_chan *c, pid_t *pid, uid_t *uid, gid_t *gid)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	if (getsockopt(((unix_chan *)c)->fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1) {
		return ipcx__err(errno);
	}
	if (pid != NULL) {
		*pid = cr.pid;
	}
	if (uid != NULL) {
		*uid = cr.uid;
	}
	if (gid != NULL) {
		*gid = cr.gid;
	}
	return 0;
}

static void
unix_close(ipcx_chan *c)
{
	unix_chan *u = (unix_chan *)c;

	close(u->fd);
	if (u->pm_active) {
		unix_close_fds(u->pm_fds, u->pm_nfds);
	}
	if (u->raw) {
		ipcx__framer_fini(&u->fr);
	}
	free(u->pm_heap);
	free(u->ovf);
	free(u);
}

const struct ipcx__transport ipcx__unix = {
        .version = IPCX__TRANSPORT_VERSION,
        .scheme = "unix",
        .persistence = unix_persistence,
        .query_keys = unix_keys,
        .listen = unix_listen,
        .accept = unix_accept,
        .listener_close = unix_listener_close,
        .listener_fd = unix_listener_fd,
        .listener_url = unix_listener_url,
        .dial = unix_dial,
        .send = unix_send,
        .recv = unix_recv,
        .fd = unix_fd,
        .pending = unix_pending,
        .close = unix_close,
        .peer_cred = unix_peer_cred,
        .send_fds = unix_send_fds,
        .recv_fds = unix_recv_fds,
};
