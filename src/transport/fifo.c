/*
 * fifo.c - the fifo:// scheme, the lecture's client/server rendezvous: the listener owns a
 * well-known FIFO; a client makes a private FIFO pair next to it and announces it with one
 * atomic (<= PIPE_BUF) line; the server opens the pair and acknowledges. Names are removed
 * as soon as both ends are open, and a dead client's pair is removed by the server.
 */
#include "../core/ipcx_int.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIFO_HELLO     "IPCX-FIFO/1 "
#define FIFO_ACK       "IPCX"
#define FIFO_TOKEN_MAX 48
/* ".<token>.up": what a client's private names add to the listener's name */
#define FIFO_SUFFIX_MAX (1 + FIFO_TOKEN_MAX + 3)
/* a hello is exactly this long: "IPCX-FIFO/1 <token>", spaces, "\n" */
#define FIFO_HELLO_SIZE 64
_Static_assert(sizeof FIFO_HELLO - 1 + FIFO_TOKEN_MAX + 1 <= FIFO_HELLO_SIZE, "hello fits");
_Static_assert(FIFO_HELLO_SIZE <= PIPE_BUF, "hello is written atomically");

typedef struct fifo_chan {
	ipcx_chan base;
	ipcx__framer rx; /* fd -1 until opened (raw dial opens lazily) */
	ipcx__framer tx;
	char *raw_path; /* raw dial: the FIFO itself, opened per direction on first use */
} fifo_chan;

typedef struct fifo_listener {
	ipcx_listener base;
	int rfd;    /* the well-known FIFO, read side, non-blocking; -1 when raw */
	int keepfd; /* our own write side, so reads never see end-of-file between clients */
	dev_t dev;
	ino_t ino;
	size_t ncarry; /* bytes of the next hello record read so far (only after garbage) */
	char carry[FIFO_HELLO_SIZE];
	char path[PATH_MAX];
	char regname[PATH_MAX]; /* absolute path in the creator registry, "" if not recorded */
} fifo_listener;

static atomic_uint fifo_counter;

static int
fifo_persistence(const ipcx__url *u)
{
	IPCX__UNUSED(u);
	return IPCX_PERSIST_FILESYSTEM;
}

/* A listener name leaves room for the private names derived from it. */
static int
fifo_check_name(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n = strlen(path);

	base = base != NULL ? base + 1 : path;
	if (n == 0 || *base == '\0') {
		return IPCX_EBADURL;
	}
	if (n + FIFO_SUFFIX_MAX >= PATH_MAX || strlen(base) + FIFO_SUFFIX_MAX > NAME_MAX) {
		return IPCX_ENAMETOOLONG;
	}
	return 0;
}

/* The private FIFO names of a client; fifo_check_name and FIFO_TOKEN_MAX keep them short
 * enough, and the check below keeps that promise honest. */
static int
fifo_private_names(char *up, char *dn, const char *path, const char *token)
{
	return ipcx__pair_names(up, dn, PATH_MAX, path, token);
}

static bool
fifo_token_ok(const char *t, size_t n)
{
	return ipcx__token_ok(t, n, FIFO_TOKEN_MAX);
}

/* Remove a name only if it is a FIFO: a peer's word is never enough to unlink a file. */
static void
fifo_unlink_fifo(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISFIFO(st.st_mode)) {
		unlink(path);
	}
}

static int
fifo_open_fifo(const char *path, int flags)
{
	struct stat st;
	int fd = open(path, flags | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);

	if (fd == -1) {
		return ipcx__err(errno);
	}
	if (fstat(fd, &st) == -1 || !S_ISFIFO(st.st_mode)) {
		close(fd);
		return IPCX_ENOTSUP;
	}
	return fd;
}

static int
fifo_chan_new(ipcx_chan **cp, int rfd, int wfd, const ipcx__opts *o, const char *raw_path)
{
	fifo_chan *f;
	int rv;

	if ((f = calloc(1, sizeof *f)) == NULL) {
		return IPCX_ENOMEM;
	}
	ipcx__chan_init(&f->base, &ipcx__fifo, o->max_msg);
	if ((rv = ipcx__framer_init(&f->rx, rfd, false, o->raw, o->max_msg)) != 0) {
		goto fail_free;
	}
	f->rx.poll_first = true;
	ipcx__framer_init_tx(&f->tx, wfd, false, o->raw, o->max_msg);
	if (raw_path != NULL && (f->raw_path = strdup(raw_path)) == NULL) {
		rv = IPCX_ENOMEM;
		goto fail_fini;
	}
	*cp = &f->base;
	return 0;
fail_fini:
	ipcx__framer_fini(&f->rx);
fail_free:
	free(f);
	return rv;
}

/* ---- listen / accept ----------------------------------------------------------------- */

/* mkfifo that replaces a stale FIFO (no reader: its server died) but never a live one or
 * a file that is not a FIFO. */
static int
fifo_make(const char *path, unsigned mode)
{
	for (int tries = 0; tries < 3; tries++) {
		struct stat st;
		int probe;
		if (mkfifo(path, mode) == 0) {
			return 0;
		}
		if (errno != EEXIST) {
			return ipcx__err(errno);
		}
		if (lstat(path, &st) == -1) {
			if (errno == ENOENT) {
				continue;
			}
			return ipcx__err(errno);
		}
		if (!S_ISFIFO(st.st_mode)) {
			return IPCX_EEXIST;
		}
		probe = open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
		if (probe >= 0) {
			close(probe);
			return IPCX_EADDRINUSE; /* a server reads it */
		}
		if (errno != ENXIO) {
			return ipcx__err(errno);
		}
		if (unlink(path) == -1 && errno != ENOENT) {
			return ipcx__err(errno);
		}
	}
	return IPCX_EADDRINUSE;
}

static int
fifo_listen(ipcx_listener **lp, ipcx__url *u, const ipcx__opts *o)
{
	fifo_listener *l;
	struct stat st;
	int rv;

	if ((l = calloc(1, sizeof *l)) == NULL) {
		return IPCX_ENOMEM;
	}
	l->rfd = l->keepfd = -1;
	/* absolute, so that close removes the right name after the process changes directory */
	if ((rv = ipcx__abs_path(l->path, sizeof l->path, u->path)) != 0 ||
	    (rv = fifo_check_name(l->path)) != 0) {
		goto fail_free;
	}
	if ((rv = fifo_make(l->path, o->mode)) != 0) {
		goto fail_free;
	}
	if (lstat(l->path, &st) == -1) {
		rv = ipcx__err(errno);
		goto fail_unlink;
	}
	/* mkfifo applied the umask; give the name exactly the requested bits */
	if ((st.st_mode & 07777) != o->mode && chmod(l->path, o->mode) == -1) {
		rv = ipcx__err(errno);
		goto fail_unlink;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	if (!o->raw) {
		if ((l->rfd = fifo_open_fifo(l->path, O_RDONLY)) < 0) {
			rv = l->rfd;
			goto fail_unlink;
		}
		if ((l->keepfd = fifo_open_fifo(l->path, O_WRONLY)) < 0) {
			rv = l->keepfd;
			goto fail_close;
		}
	}
	l->base.tp = &ipcx__fifo;
	l->base.opts = *o;
	/* the registry is a record for `ipcx ls`, not a condition to listen */
	if (ipcx__abs_path(l->regname, sizeof l->regname, l->path) != 0 ||
	    ipcx__registry_add("fifo", l->regname) != 0) {
		l->regname[0] = '\0';
	}
	*lp = &l->base;
	return 0;
fail_close:
	close(l->rfd);
fail_unlink:
	unlink(l->path);
fail_free:
	free(l);
	return rv;
}

/* Open a client's private pair and acknowledge. Returns 1 to skip a client that is gone
 * or whose names are not FIFOs. */
static int
fifo_accept_token(fifo_listener *l, ipcx_chan **cp, const char *token)
{
	char up[PATH_MAX], dn[PATH_MAX];
	struct iovec iov = {(void *)FIFO_ACK, sizeof FIFO_ACK - 1};
	size_t done;
	int upfd, dnfd, rv;

	if (fifo_private_names(up, dn, l->path, token) != 0 ||
	    (upfd = fifo_open_fifo(up, O_RDONLY)) < 0) {
		return 1; /* it gave up and removed its names, or never made them */
	}
	if ((dnfd = fifo_open_fifo(dn, O_WRONLY)) < 0) {
		if (dnfd == IPCX_ENXIO) {
			/* nobody reads its reply FIFO: the client died; remove what it left */
			fifo_unlink_fifo(up);
			fifo_unlink_fifo(dn);
		}
		close(upfd);
		return 1;
	}
	rv = ipcx__writev_all(dnfd, 0, &iov, 1, ipcx__deadline(0), &done);
	if (rv == 0) {
		rv = ipcx__set_nonblock(upfd, false);
	}
	if (rv == 0) {
		rv = fifo_chan_new(cp, upfd, dnfd, &l->base.opts, NULL);
	}
	if (rv == 0) {
		/* until the client opens its writing FIFO, only our reply FIFO can tell that it
		 * died or gave up (it closes the read end: POLLERR here) */
		((fifo_chan *)*cp)->rx.peer_fd = dnfd;
	}
	if (rv != 0) {
		close(upfd);
		close(dnfd);
		return rv == IPCX_ENOMEM ? rv : 1;
	}
	return 0;
}

/* Read the next hello record without blocking and copy its token out (NUL-terminated).
 * Every client writes exactly FIFO_HELLO_SIZE bytes atomically, so a read of that size
 * takes exactly one record and leaves the FIFO readable while more wait, which keeps
 * ipcx_listener_fd truthful. A malformed record (only a writer with access to the FIFO can
 * make one) is skipped up to its first newline; the bytes after it start the next record.
 * Returns 0, IPCX_EAGAIN (no whole record waiting), or an error. */
static int
fifo_next_token(fifo_listener *l, char *token)
{
	for (;;) {
		char *rec = l->carry;
		const char *nl;
		ssize_t n = read(l->rfd, rec + l->ncarry, FIFO_HELLO_SIZE - l->ncarry);
		if (n == -1) {
			if (errno == EINTR) {
				continue;
			}
			return errno == EAGAIN ? IPCX_EAGAIN : ipcx__err(errno);
		}
		if (n == 0) {
			return IPCX_EAGAIN; /* not while keepfd is open; be safe anyway */
		}
		l->ncarry += (size_t)n;
		if (l->ncarry < FIFO_HELLO_SIZE) {
			continue; /* only after garbage: the rest of this record is on its way */
		}
		l->ncarry = 0;
		if (rec[FIFO_HELLO_SIZE - 1] == '\n' &&
		    memcmp(rec, FIFO_HELLO, sizeof FIFO_HELLO - 1) == 0) {
			const char *t = rec + sizeof FIFO_HELLO - 1;
			size_t tlen = strcspn(t, " \n");
			if (fifo_token_ok(t, tlen)) {
				memcpy(token, t, tlen);
				token[tlen] = '\0';
				return 0;
			}
			continue;
		}
		/* misaligned: what follows the first newline starts the next record */
		if ((nl = memchr(rec, '\n', FIFO_HELLO_SIZE)) != NULL) {
			l->ncarry = (size_t)(rec + FIFO_HELLO_SIZE - (nl + 1));
			memmove(rec, nl + 1, l->ncarry);
		}
	}
}

static int
fifo_accept(ipcx_listener *lb, ipcx_chan **cp, int64_t deadline)
{
	fifo_listener *l = (fifo_listener *)lb;

	if (l->rfd < 0) {
		/* raw: a channel reading the FIFO itself, whoever writes it */
		int fd = fifo_open_fifo(l->path, O_RDONLY), rv;
		if (fd < 0) {
			return fd;
		}
		if ((rv = fifo_chan_new(cp, fd, -1, &l->base.opts, NULL)) != 0) {
			close(fd);
		}
		return rv;
	}
	for (;;) {
		char token[FIFO_TOKEN_MAX + 1];
		int rv = fifo_next_token(l, token);
		if (rv == 0) {
			if ((rv = fifo_accept_token(l, cp, token)) <= 0) {
				return rv;
			}
		} else if (rv == IPCX_EAGAIN) {
			if ((rv = ipcx__wait_fd(l->rfd, POLLIN, deadline)) < 0) {
				return rv;
			}
		} else {
			return rv;
		}
	}
}

static void
fifo_listener_close(ipcx_listener *lb)
{
	fifo_listener *l = (fifo_listener *)lb;
	struct stat st;

	if (l->rfd >= 0) {
		/* Refuse the clients still waiting: open and close each one's reply FIFO so its
		 * dial sees end-of-file at once instead of waiting for its timeout. */
		char token[FIFO_TOKEN_MAX + 1], up[PATH_MAX], dn[PATH_MAX];
		while (fifo_next_token(l, token) == 0) {
			int fd;
			if (fifo_private_names(up, dn, l->path, token) == 0 &&
			    (fd = fifo_open_fifo(dn, O_WRONLY)) >= 0) {
				close(fd);
			}
		}
		close(l->rfd);
		close(l->keepfd);
	}
	if (!l->base.opts.keep && lstat(l->path, &st) == 0 && st.st_dev == l->dev &&
	    st.st_ino == l->ino) {
		unlink(l->path);
	}
	if (!l->base.opts.keep) {
		ipcx__registry_forget("fifo", l->regname);
	}
	free(l);
}

static int
fifo_listener_fd(ipcx_listener *lb)
{
	fifo_listener *l = (fifo_listener *)lb;

	return l->rfd >= 0 ? l->rfd : IPCX_ENOTSUP;
}

static int
fifo_listener_url(ipcx_listener *lb, char *buf, size_t cap)
{
	return ipcx__url_format(buf, cap, "fifo://", ((fifo_listener *)lb)->path);
}

/* ---- dial ---------------------------------------------------------------------------- */

static int
fifo_dial_raw(ipcx_chan **cp, ipcx__url *u, const ipcx__opts *o)
{
	struct stat st;

	if (stat(u->path, &st) == -1) {
		return ipcx__err(errno);
	}
	if (!S_ISFIFO(st.st_mode)) {
		return IPCX_ENOTSUP;
	}
	return fifo_chan_new(cp, -1, -1, o, u->path);
}

static int
fifo_dial(ipcx_chan **cp, ipcx__url *u, const ipcx__opts *o, int64_t deadline)
{
	char token[FIFO_TOKEN_MAX + 1], up[PATH_MAX], dn[PATH_MAX], hello[FIFO_HELLO_SIZE + 1];
	char ack[sizeof FIFO_ACK - 1];
	struct iovec iov;
	fifo_chan *f;
	int dnfd, wk, upfd, rv, n;
	size_t done;

	if ((rv = fifo_check_name(u->path)) != 0) {
		return rv;
	}
	if (o->raw) {
		return fifo_dial_raw(cp, u, o);
	}
	for (int tries = 0;; tries++) {
		snprintf(token, sizeof token, "%ld.%u.%lx", (long)getpid(),
		         atomic_fetch_add(&fifo_counter, 1),
		         (unsigned long)(ipcx__now_ns() & 0xffffff));
		if ((rv = fifo_private_names(up, dn, u->path, token)) != 0) {
			return rv;
		}
		if (mkfifo(up, o->mode) == 0) {
			if (mkfifo(dn, o->mode) == 0) {
				break;
			}
			rv = ipcx__err(errno);
			unlink(up);
		} else {
			rv = ipcx__err(errno);
		}
		if (rv != IPCX_EEXIST || tries == 8) {
			return rv;
		}
	}
	/* our reply FIFO must have a reader before we announce it: the server takes a reply
	 * FIFO without one for a dead client's */
	if ((dnfd = fifo_open_fifo(dn, O_RDONLY)) < 0) {
		rv = dnfd;
		goto fail_unlink;
	}
	if ((wk = fifo_open_fifo(u->path, O_WRONLY)) < 0) {
		rv = wk == IPCX_ENXIO ? IPCX_ECONNREFUSED : wk; /* nobody listens */
		goto fail_dn;
	}
	n = snprintf(hello, sizeof hello, FIFO_HELLO "%-*s\n",
	             (int)(FIFO_HELLO_SIZE - sizeof FIFO_HELLO), token);
	if (n != FIFO_HELLO_SIZE) {
		rv = IPCX_EINVAL;
		goto fail_dn;
	}
	iov.iov_base = hello;
	iov.iov_len = FIFO_HELLO_SIZE;
	/* one write of at most PIPE_BUF bytes: atomic, never interleaved with other clients */
	rv = ipcx__writev_all(wk, 0, &iov, 1, deadline, &done);
	close(wk);
	if (rv != 0) {
		rv = rv == IPCX_ECLOSED ? IPCX_ECONNREFUSED : rv;
		goto fail_dn;
	}
	if ((rv = fifo_chan_new(cp, dnfd, -1, o, NULL)) != 0) {
		goto fail_dn;
	}
	f = (fifo_chan *)*cp;
	if ((rv = ipcx__set_nonblock(dnfd, false)) != 0) {
		goto fail_chan;
	}
	rv = ipcx__framer_read_exact(&f->rx, ack, sizeof ack, deadline);
	if (rv == 0 && memcmp(ack, FIFO_ACK, sizeof ack) != 0) {
		rv = IPCX_EPROTO;
	}
	if (rv != 0) {
		rv = rv == IPCX_ECLOSED ? IPCX_ECONNREFUSED : rv; /* the listener closed */
		goto fail_chan;
	}
	if ((upfd = fifo_open_fifo(up, O_WRONLY)) < 0) {
		rv = upfd == IPCX_ENXIO ? IPCX_ECONNREFUSED : upfd;
		goto fail_chan;
	}
	f->tx.fd = upfd;
	/* both ends are open: the names have done their job */
	unlink(up);
	unlink(dn);
	return 0;
fail_chan:
	ipcx_close(*cp);
	*cp = NULL;
	dnfd = -1;
fail_dn:
	ipcx__close_fd(dnfd);
fail_unlink:
	unlink(up);
	unlink(dn);
	return rv;
}

/* ---- send / recv --------------------------------------------------------------------- */

/* Raw dial: open the FIFO for writing, waiting (polling, there is nothing to wait on) for
 * a reader until the deadline. */
static int
fifo_raw_open_tx(fifo_chan *f, int64_t deadline)
{
	int backoff_ms = 1;

	for (;;) {
		int fd = fifo_open_fifo(f->raw_path, O_WRONLY);
		if (fd >= 0) {
			f->tx.fd = fd;
			return 0;
		}
		if (fd != IPCX_ENXIO) {
			return fd;
		}
		if (ipcx__poll_ms(deadline) == 0) {
			return IPCX_ETIMEDOUT;
		}
		poll(NULL, 0, backoff_ms);
		backoff_ms = backoff_ms < 32 ? backoff_ms * 2 : backoff_ms;
	}
}

static int
fifo_send(ipcx_chan *c, const void *buf, size_t len, int64_t deadline)
{
	fifo_chan *f = (fifo_chan *)c;
	int rv;

	if (f->tx.fd < 0) {
		if (f->raw_path == NULL) {
			return IPCX_ENOTSUP; /* a raw listener's channel only reads */
		}
		if ((rv = fifo_raw_open_tx(f, deadline)) != 0) {
			return rv;
		}
	}
	return ipcx__framer_send(&f->tx, buf, len, deadline);
}

static int
fifo_raw_open_rx(fifo_chan *f)
{
	int fd;

	if (f->rx.fd >= 0) {
		return 0;
	}
	if (f->raw_path == NULL) {
		return IPCX_EBADF;
	}
	if ((fd = fifo_open_fifo(f->raw_path, O_RDONLY)) < 0) {
		return fd;
	}
	f->rx.fd = fd; /* stays non-blocking; poll_first waits for the first writer */
	return 0;
}

static int
fifo_recv(ipcx_chan *c, void *buf, size_t cap, size_t *len, int64_t deadline)
{
	fifo_chan *f = (fifo_chan *)c;
	int rv;

	if ((rv = fifo_raw_open_rx(f)) != 0) {
		return rv;
	}
	return ipcx__framer_recv(&f->rx, buf, cap, len, deadline);
}

static int
fifo_fd(ipcx_chan *c)
{
	fifo_chan *f = (fifo_chan *)c;
	int rv = fifo_raw_open_rx(f);

	return rv != 0 ? rv : f->rx.fd;
}

static bool
fifo_pending(ipcx_chan *c)
{
	return ipcx__framer_pending(&((fifo_chan *)c)->rx);
}

static void
fifo_close(ipcx_chan *c)
{
	fifo_chan *f = (fifo_chan *)c;

	ipcx__close_fd(f->rx.fd);
	ipcx__close_fd(f->tx.fd);
	ipcx__framer_fini(&f->rx);
	free(f->raw_path);
	free(f);
}

const struct ipcx__transport ipcx__fifo = {
        .version = IPCX__TRANSPORT_VERSION,
        .scheme = "fifo",
        .persistence = fifo_persistence,
        .listen = fifo_listen,
        .accept = fifo_accept,
        .listener_close = fifo_listener_close,
        .listener_fd = fifo_listener_fd,
        .listener_url = fifo_listener_url,
        .dial = fifo_dial,
        .send = fifo_send,
        .recv = fifo_recv,
        .fd = fifo_fd,
        .pending = fifo_pending,
        .close = fifo_close,
};
