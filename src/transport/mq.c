/*
 * mq.c - the mq:// scheme over POSIX message queues: a listener owns the well-known queue
 * /ipcx.NAME (hellos only); each client makes a private queue pair, announces it there and
 * waits for the server's acknowledgement on its private reply queue. The names are unlinked
 * as soon as both sides hold both queues, so nothing is left in /dev/mqueue, even after
 * SIGKILL. POSIX queues have no hang-up: a close marker at a reserved priority says
 * "closed", and a pidfd on the peer process says "died".
 */
#include "../core/ipcx_int.h"

#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MQ_KIND   "posix-mq"
#define MQ_PREFIX "/ipcx."
#define MQ_HELLO  "IPCX-MQ/1 "
/* the well-known queue carries only hellos: small messages, a few at a time */
#define MQ_HELLO_SIZE 128
#define MQ_WK_DEPTH   10
#define MQ_TOKEN_MAX  40
/* ".<token>.up": what a client's private names add to the listener's name */
#define MQ_SUFFIX_MAX (1 + MQ_TOKEN_MAX + 3)
#define MQ_NAME_CAP   (NAME_MAX + 2) /* "/" + a name of at most NAME_MAX + NUL */
/* control messages (at the reserved priority): 'C' close; 'A' + pid + start time;
 * 'N' + error code. A private queue's messages are at least this big so that they fit. */
#define MQ_CTL_MIN   16
#define MQ_CTL_CLOSE 'C'
#define MQ_CTL_ACK   'A'
#define MQ_CTL_NAK   'N'
#define MQ_ACK_LEN   (1 + 4 + 8)
#define MQ_NAK_LEN   (1 + 4)
/* close waits at most this long for room for its close marker in a full queue */
#define MQ_LINGER_MS 1000
/* without pidfds, a wait looks at the peer's /proc entry this often */
#define MQ_PID_POLL_MS 250
/* the kernel's limits for a process with CAP_SYS_RESOURCE (ipc/mqueue.c) */
#define MQ_HARD_MSGMAX     65536L
#define MQ_HARD_MSGSIZEMAX (16L * 1024 * 1024)

_Static_assert(sizeof MQ_HELLO - 1 + MQ_TOKEN_MAX + 1 + 10 + 1 + 20 <= MQ_HELLO_SIZE, "hello fits");
_Static_assert(MQ_ACK_LEN <= MQ_CTL_MIN && MQ_NAK_LEN <= MQ_CTL_MIN, "control fits");
/* Linux: an mqd_t is a file descriptor (pollable, always close-on-exec) */
_Static_assert(sizeof(mqd_t) == sizeof(int), "mqd_t is an fd");

typedef struct mq_chan {
	ipcx_chan base;
	mqd_t rq, sq;   /* receive queue, send queue; both non-blocking */
	size_t rsize;   /* mq_msgsize of rq */
	unsigned ctl;   /* the reserved priority of control messages */
	pid_t owner;    /* the process that opened the channel */
	pid_t peer_pid; /* 0 while unknown */
	unsigned long long peer_start;
	int pidfd;           /* readable when the peer exits; -1 without pidfds */
	int epfd;            /* ipcx_chan_fd: rq and pidfd; -1 until asked for */
	unsigned char *rbuf; /* rsize bytes: a message for a buffer smaller than rsize */
	bool stashed;        /* rbuf holds a message too large for the last recv */
	size_t stash_len;
	bool eof;                /* the peer is gone and rq is empty: ECLOSED from now on */
	atomic_bool peer_closed; /* its close marker arrived */
	atomic_bool peer_dead;   /* its process exited */
} mq_chan;

typedef struct mq_listener {
	ipcx_listener base;
	mqd_t wk;
	pid_t owner;
	dev_t dev;
	ino_t ino;
	char name[MQ_NAME_CAP]; /* "/ipcx.NAME" */
	char user[MQ_NAME_CAP]; /* "/NAME", for the URL */
	long depth, msgsize;    /* 0: not given; kept for ipcx_listener_url */
} mq_listener;

typedef struct mq_hello {
	char token[MQ_TOKEN_MAX + 1];
	pid_t pid;
	unsigned long long start;
} mq_hello;

static atomic_uint mq_counter;

static int
mq_persistence(const ipcx__url *u)
{
	IPCX__UNUSED(u);
	return IPCX_PERSIST_KERNEL;
}

/* ---- names, options, limits ---------------------------------------------------------- */

/* "mq:///NAME" (or "mq://NAME"): NAME has no '/' and leaves room for the private names. */
static int
mq_check_url(const ipcx__url *u, char *wk, char *user)
{
	const char *p = u->path[0] == '/' ? u->path + 1 : u->path;
	size_t n = strlen(p);

	if (u->abstract || n == 0 || strchr(p, '/') != NULL) {
		return IPCX_EBADURL;
	}
	if (sizeof MQ_PREFIX - 2 + n + MQ_SUFFIX_MAX > NAME_MAX) {
		return IPCX_ENAMETOOLONG;
	}
	memcpy(wk, MQ_PREFIX, sizeof MQ_PREFIX - 1);
	memcpy(wk + sizeof MQ_PREFIX - 1, p, n + 1);
	user[0] = '/';
	memcpy(user + 1, p, n + 1);
	return 0;
}

static int
mq_private_names(char *up, char *dn, const char *wk, const char *token)
{
	return ipcx__pair_names(up, dn, MQ_NAME_CAP, wk, token);
}

static bool
mq_token_ok(const char *t, size_t n)
{
	return ipcx__token_ok(t, n, MQ_TOKEN_MAX);
}

/* A value of /proc/sys/fs/mqueue, or dflt if it cannot be read. */
static long
mq_sysctl(const char *name, long dflt)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/sys/fs/mqueue/%s", name);
	return (long)ipcx__sysctl(path, dflt);
}

/* The reserved priority: the highest the system has. User priorities stay below it. */
static unsigned
mq_ctl_prio(void)
{
	long max = sysconf(_SC_MQ_PRIO_MAX);

	return max > 1 && max <= 0x10000 ? (unsigned)(max - 1) : 32767;
}

/* The queue shape from the URL (depth=, msgsize=); 0 where not given. */
static int
mq_shape_parse(ipcx__url *u, long *depth, long *msgsize)
{
	unsigned long long x;
	bool found;
	int rv;

	*depth = *msgsize = 0;
	if ((rv = ipcx__url_query_num(u, "depth", 10, 1, INT_MAX, &x, &found)) != 0) {
		return rv;
	}
	if (found) {
		*depth = (long)x;
	}
	if ((rv = ipcx__url_query_num(u, "msgsize", 10, 1, INT_MAX, &x, &found)) != 0) {
		return rv;
	}
	if (found) {
		*msgsize = (long)x;
	}
	return 0;
}

/* Explain why creating a queue of depth x msgsize failed with errno e, naming the limit,
 * and return the code. */
static int
mq_create_err(int e, long depth, long msgsize)
{
	long msg_max = mq_sysctl("msg_max", 10), msgsize_max = mq_sysctl("msgsize_max", 8192);
	struct rlimit rl;
	int probe;

	switch (e) {
	case EINVAL:
		if (depth > MQ_HARD_MSGMAX) {
			ipcx__errdetail_set(
			        "a queue of %ld messages was asked for; the kernel allows "
			        "at most %ld (HARD_MSGMAX), and fs.mqueue.msg_max (%ld) "
			        "without CAP_SYS_RESOURCE",
			        depth, MQ_HARD_MSGMAX, msg_max);
			return IPCX_EINVAL;
		}
		if (msgsize > MQ_HARD_MSGSIZEMAX) {
			ipcx__errdetail_set(
			        "messages of %ld bytes were asked for; the kernel allows "
			        "at most %ld (HARD_MSGSIZEMAX), and fs.mqueue.msgsize_max "
			        "(%ld) without CAP_SYS_RESOURCE",
			        msgsize, MQ_HARD_MSGSIZEMAX, msgsize_max);
			return IPCX_EMSGSIZE;
		}
		if (depth > msg_max) {
			ipcx__errdetail_set("fs.mqueue.msg_max is %ld; a queue of %ld messages was "
			                    "asked for",
			                    msg_max, depth);
			return IPCX_EINVAL;
		}
		if (msgsize > msgsize_max) {
			ipcx__errdetail_set("fs.mqueue.msgsize_max is %ld; messages of %ld bytes "
			                    "were asked for",
			                    msgsize_max, msgsize);
			return IPCX_EMSGSIZE;
		}
		return IPCX_EINVAL;
	case EMFILE:
		/* the kernel says EMFILE both for the descriptor limit and for the byte
		 * budget of all of this user's queues: a free descriptor tells them apart */
		if ((probe = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
			getrlimit(RLIMIT_NOFILE, &rl);
			ipcx__errdetail_set("RLIMIT_NOFILE is %llu descriptors, all in use",
			                    (unsigned long long)rl.rlim_cur);
			return IPCX_EMFILE;
		}
		close(probe);
		getrlimit(RLIMIT_MSGQUEUE, &rl);
		ipcx__errdetail_set("RLIMIT_MSGQUEUE (ulimit -q) is %llu bytes for all queues of "
		                    "this user; a queue of %ld messages of %ld bytes takes about "
		                    "%lld more",
		                    (unsigned long long)rl.rlim_cur, depth, msgsize,
		                    (long long)depth * (msgsize + 96));
		return IPCX_ENOSPC;
	case ENOSPC:
		ipcx__errdetail_set("fs.mqueue.queues_max is %ld, and that many queues exist",
		                    mq_sysctl("queues_max", 256));
		return IPCX_ENOSPC;
	default:
		return ipcx__err(e);
	}
}

/* Create a new queue (never open an old one) with exactly the mode bits asked for. */
static int
mq_create(mqd_t *qp, const char *name, int oflag, unsigned mode, long depth, long msgsize)
{
	struct mq_attr a = {.mq_maxmsg = depth, .mq_msgsize = msgsize};
	mqd_t q = mq_open(name, oflag | O_CREAT | O_EXCL | O_NONBLOCK, (mode_t)(mode & 0777), &a);

	if (q == (mqd_t)-1) {
		return errno == EEXIST ? IPCX_EEXIST : mq_create_err(errno, depth, msgsize);
	}
	/* mq_open applied the umask */
	if (fchmod(q, mode & 0777) == -1) {
		int rv = ipcx__err(errno);
		mq_close(q);
		mq_unlink(name);
		return rv;
	}
	*qp = q;
	return 0;
}

static void
mq_remove(const char *name)
{
	mq_unlink(name);
	ipcx__registry_remove(MQ_KIND, name);
}

/* ---- peers: alive or gone ------------------------------------------------------------ */

/* A pidfd that becomes readable when process pid (started at start) exits; -1 where pidfds
 * do not exist; IPCX_ECLOSED if it is already gone (or its pid names a newer process). */
static int
mq_watch(pid_t pid, unsigned long long start)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0); /* always close-on-exec */

	if (fd == -1) {
		return errno == ESRCH ? IPCX_ECLOSED : -1;
	}
	/* opened after the pid was told to us: it may have been reused meanwhile */
	if (ipcx__creator_state(pid, start) == IPCX_OBJ_DEAD) {
		close(fd);
		return IPCX_ECLOSED;
	}
	return fd;
#else
	return ipcx__creator_state(pid, start) == IPCX_OBJ_DEAD ? IPCX_ECLOSED : -1;
#endif
}

/* Wait until q has ev (POLLIN/POLLOUT) or the watched process (pidfd, or pid looked up
 * every MQ_PID_POLL_MS where there is no pidfd; pid 0: none) is gone. Returns 0 (q ready),
 * IPCX_ECLOSED (gone), IPCX_ETIMEDOUT, or an error. */
static int
mq_wait(mqd_t q, short ev, int pidfd, pid_t pid, unsigned long long start, int64_t deadline)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = q, .events = ev}, {.fd = pidfd, .events = POLLIN}};
		int ms = ipcx__poll_ms(deadline), n;
		bool slice = pidfd < 0 && pid > 0 && (ms < 0 || ms > MQ_PID_POLL_MS);

		n = poll(p, pidfd >= 0 ? 2 : 1, slice ? MQ_PID_POLL_MS : ms);
		if (n == -1) {
			if (errno == EINTR) {
				continue;
			}
			return ipcx__err(errno);
		}
		if (pidfd >= 0 && p[1].revents != 0) {
			return IPCX_ECLOSED;
		}
		if (p[0].revents != 0) {
			return 0;
		}
		if (pidfd < 0 && pid > 0 && ipcx__creator_state(pid, start) == IPCX_OBJ_DEAD) {
			return IPCX_ECLOSED;
		}
		if (ipcx__poll_ms(deadline) == 0) {
			return IPCX_ETIMEDOUT;
		}
	}
}

/* ---- channels ------------------------------------------------------------------------ */

static int
mq_chan_new(mq_chan **mp, mqd_t rq, mqd_t sq, size_t max_msg)
{
	struct mq_attr ra, sa;
	mq_chan *m;

	if (mq_getattr(rq, &ra) == -1 || mq_getattr(sq, &sa) == -1) {
		return ipcx__err(errno);
	}
	if (ra.mq_msgsize < MQ_CTL_MIN || sa.mq_msgsize < MQ_CTL_MIN) {
		return IPCX_EPROTO; /* control messages would not fit */
	}
	if ((m = calloc(1, sizeof *m)) == NULL) {
		return IPCX_ENOMEM;
	}
	m->rsize = (size_t)ra.mq_msgsize;
	/* allocated now, so that a small receive buffer costs no allocation later; pages
	 * that are never used are never touched */
	if ((m->rbuf = malloc(m->rsize)) == NULL) {
		free(m);
		return IPCX_ENOMEM;
	}
	ipcx__chan_init(&m->base, &ipcx__mq,
	                max_msg < (size_t)sa.mq_msgsize ? max_msg : (size_t)sa.mq_msgsize);
	m->rq = rq;
	m->sq = sq;
	m->ctl = mq_ctl_prio();
	m->owner = getpid();
	m->pidfd = -1;
	m->epfd = -1;
	atomic_init(&m->peer_closed, false);
	atomic_init(&m->peer_dead, false);
	*mp = m;
	return 0;
}

/* Start watching the peer (pid and start time from its hello or acknowledgement). */
static void
mq_chan_watch(mq_chan *m, pid_t pid, unsigned long long start)
{
	int fd = mq_watch(pid, start);

	m->peer_pid = pid;
	m->peer_start = start;
	if (fd == IPCX_ECLOSED) {
		atomic_store(&m->peer_dead, true);
	} else {
		m->pidfd = fd;
	}
}

/* Free a channel; the queues go with their last descriptor (their names are gone). */
static void
mq_chan_free(mq_chan *m)
{
	ipcx__close_fd(m->epfd);
	ipcx__close_fd(m->pidfd);
	mq_close(m->rq);
	mq_close(m->sq);
	free(m->rbuf);
	free(m);
}

static int
mq_chan_wait(mq_chan *m, mqd_t q, short ev, int64_t deadline)
{
	int rv = mq_wait(q, ev, m->pidfd, m->peer_pid, m->peer_start, deadline);

	if (rv == IPCX_ECLOSED) {
		atomic_store(&m->peer_dead, true);
	}
	return rv;
}

/* Send a control message at the reserved priority, waiting up to the deadline for room. */
static int
mq_send_ctl(mq_chan *m, const void *msg, size_t len, int64_t deadline)
{
	for (;;) {
		int rv;
		if (mq_send(m->sq, msg, len, m->ctl) == 0) {
			return 0;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno != EAGAIN) {
			return ipcx__err(errno);
		}
		if ((rv = mq_chan_wait(m, m->sq, POLLOUT, deadline)) != 0) {
			return rv;
		}
	}
}

static int
mq_send_prio(ipcx_chan *c, const void *buf, size_t len, unsigned prio, int64_t deadline)
{
	mq_chan *m = (mq_chan *)c;

	if (prio >= m->ctl) {
		return IPCX_EINVAL; /* reserved for the close marker */
	}
	if (atomic_load_explicit(&m->peer_closed, memory_order_relaxed)) {
		return IPCX_ECLOSED;
	}
	if (buf == NULL) {
		buf = ""; /* an empty message: mq_send wants a pointer all the same */
	}
	for (;;) {
		int rv;
		if (mq_send(m->sq, buf, len, prio) == 0) {
			return 0;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno != EAGAIN) {
			return ipcx__err(errno);
		}
		/* full: a dead reader will never make room */
		if (atomic_load_explicit(&m->peer_dead, memory_order_relaxed)) {
			return IPCX_ECLOSED;
		}
		if ((rv = mq_chan_wait(m, m->sq, POLLOUT, deadline)) != 0) {
			return rv;
		}
	}
}

static int
mq_chan_send(ipcx_chan *c, const void *buf, size_t len, int64_t deadline)
{
	return mq_send_prio(c, buf, len, 0, deadline);
}

static int
mq_recv(ipcx_chan *c, void *buf, size_t cap, size_t *len, int64_t deadline)
{
	mq_chan *m = (mq_chan *)c;

	if (m->stashed) {
		*len = m->stash_len;
		if (cap < m->stash_len) {
			return IPCX_EMSGSIZE;
		}
		if (m->stash_len > 0) {
			memcpy(buf, m->rbuf, m->stash_len);
		}
		m->stashed = false;
		return 0;
	}
	if (m->eof) {
		return IPCX_ECLOSED;
	}
	for (;;) {
		/* mq_receive wants room for the largest message the queue takes: the caller's
		 * buffer when it has that, else ours (one copy) */
		bool direct = cap >= m->rsize;
		unsigned char *dst = direct ? buf : m->rbuf;
		unsigned prio = 0;
		ssize_t n = mq_receive(m->rq, (char *)dst, direct ? cap : m->rsize, &prio);
		int rv;

		if (n >= 0) {
			if (prio == m->ctl) {
				/* The close marker overtakes what was queued before it (it has
				 * the top priority): note it and go on delivering the rest. Any
				 * other control message (a repeated acknowledgement) is void. */
				if (n == 1 && dst[0] == MQ_CTL_CLOSE) {
					atomic_store(&m->peer_closed, true);
				}
				continue;
			}
			*len = (size_t)n;
			if (!direct) {
				if ((size_t)n > cap) {
					m->stashed = true;
					m->stash_len = (size_t)n;
					return IPCX_EMSGSIZE;
				}
				if (n > 0) {
					memcpy(buf, m->rbuf, (size_t)n);
				}
			}
			return 0;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno != EAGAIN) {
			return ipcx__err(errno);
		}
		/* empty; messages sent before a close or a death have all been taken */
		if (atomic_load(&m->peer_closed) || atomic_load(&m->peer_dead)) {
			m->eof = true;
			return IPCX_ECLOSED;
		}
		rv = mq_chan_wait(m, m->rq, POLLIN, deadline);
		if (rv != 0 && rv != IPCX_ECLOSED) {
			return rv;
		}
	}
}

/* The queue, or (with a pidfd) an epoll set of the queue and the pidfd, so that a poll loop
 * also wakes up when the peer dies. */
static int
mq_fd(ipcx_chan *c)
{
	mq_chan *m = (mq_chan *)c;
	struct epoll_event ev = {.events = EPOLLIN};
	int rv;

	if (m->pidfd < 0) {
		return m->rq;
	}
	if (m->epfd >= 0) {
		return m->epfd;
	}
	if ((m->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		return ipcx__err(errno);
	}
	ev.data.fd = m->rq;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->rq, &ev) == -1) {
		goto fail;
	}
	ev.data.fd = m->pidfd;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->pidfd, &ev) == -1) {
		goto fail;
	}
	return m->epfd;
fail:
	rv = ipcx__err(errno);
	close(m->epfd);
	m->epfd = -1;
	return rv;
}

/* A kept message, or the end of the channel (recv returns ECLOSED without waiting). */
static bool
mq_pending(ipcx_chan *c)
{
	mq_chan *m = (mq_chan *)c;

	return m->stashed || m->eof || atomic_load(&m->peer_closed) || atomic_load(&m->peer_dead);
}

static void
mq_chan_close(ipcx_chan *c)
{
	mq_chan *m = (mq_chan *)c;
	static const unsigned char marker = MQ_CTL_CLOSE;

	/* Tell the peer, unless it is gone or this is a forked copy of the channel (the
	 * channel belongs to the process that opened it). In a full queue, wait a little
	 * for room: the marker is the only hang-up a POSIX queue has. */
	if (getpid() == m->owner && !atomic_load(&m->peer_closed) && !atomic_load(&m->peer_dead)) {
		mq_send_ctl(m, &marker, 1, ipcx__deadline(MQ_LINGER_MS));
	}
	mq_chan_free(m);
}

/* ---- listen / accept ----------------------------------------------------------------- */

/* True if the queue called name was made by a process that is gone. */
static bool
mq_stale(const char *name)
{
	unsigned long long start;
	pid_t pid;

	return ipcx__registry_lookup(MQ_KIND, name, &pid, &start) == 0 &&
	       ipcx__creator_state(pid, start) == IPCX_OBJ_DEAD;
}

static int
mq_listen(ipcx_listener **lp, ipcx__url *u, const ipcx__opts *o)
{
	long depth = mq_sysctl("msg_max", MQ_WK_DEPTH);
	mq_listener *l;
	struct stat st;
	int rv;

	if ((l = calloc(1, sizeof *l)) == NULL) {
		return IPCX_ENOMEM;
	}
	if ((rv = mq_check_url(u, l->name, l->user)) != 0 ||
	    (rv = mq_shape_parse(u, &l->depth, &l->msgsize)) != 0) {
		goto fail_free;
	}
	if (o->raw) {
		rv = IPCX_ENOTSUP;
		goto fail_free;
	}
	depth = depth < MQ_WK_DEPTH ? depth : MQ_WK_DEPTH;
	for (int tries = 0;; tries++) {
		rv = mq_create(&l->wk, l->name, O_RDONLY, o->mode, depth, MQ_HELLO_SIZE);
		if (rv != IPCX_EEXIST) {
			break;
		}
		/* replace a queue whose listener died; never a live one, nor one whose maker
		 * is unknown */
		if (tries == 2 || !mq_stale(l->name)) {
			rv = IPCX_EADDRINUSE;
			break;
		}
		mq_unlink(l->name);
	}
	if (rv != 0) {
		goto fail_free;
	}
	if (fstat(l->wk, &st) == -1) {
		rv = ipcx__err(errno);
		goto fail_close;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	/* bookkeeping for `ipcx ls`: a registry that cannot be written must not stop a
	 * listener */
	ipcx__registry_add(MQ_KIND, l->name);
	l->owner = getpid();
	l->base.tp = &ipcx__mq;
	l->base.opts = *o;
	*lp = &l->base;
	return 0;
fail_close:
	mq_close(l->wk);
	mq_unlink(l->name);
fail_free:
	free(l);
	return rv;
}

/* Parse "IPCX-MQ/1 TOKEN PID START". */
static bool
mq_hello_parse(mq_hello *h, const char *msg, size_t n)
{
	char buf[MQ_HELLO_SIZE + 1], *t, *sp, *end;
	long pid;
	size_t tlen;

	if (n > MQ_HELLO_SIZE || n < sizeof MQ_HELLO - 1 ||
	    memcmp(msg, MQ_HELLO, sizeof MQ_HELLO - 1) != 0 || memchr(msg, '\0', n) != NULL) {
		return false;
	}
	memcpy(buf, msg, n);
	buf[n] = '\0';
	t = buf + sizeof MQ_HELLO - 1;
	if ((sp = strchr(t, ' ')) == NULL) {
		return false;
	}
	tlen = (size_t)(sp - t);
	if (!mq_token_ok(t, tlen) || sp[1] < '0' || sp[1] > '9') {
		return false;
	}
	memcpy(h->token, t, tlen);
	h->token[tlen] = '\0';
	errno = 0;
	pid = strtol(sp + 1, &end, 10);
	if (errno != 0 || *end != ' ' || pid <= 0 || pid > INT_MAX || end[1] < '0' ||
	    end[1] > '9') {
		return false;
	}
	h->pid = (pid_t)pid;
	h->start = strtoull(end + 1, &end, 10);
	return errno == 0 && *end == '\0';
}

/* The next hello on the well-known queue without waiting: 0, IPCX_EAGAIN, or an error. A
 * malformed one (only a process allowed to write the queue can send it) is skipped. */
static int
mq_next_hello(mq_listener *l, mq_hello *h)
{
	for (;;) {
		char msg[MQ_HELLO_SIZE];
		ssize_t n = mq_receive(l->wk, msg, sizeof msg, NULL);
		if (n == -1) {
			if (errno == EINTR) {
				continue;
			}
			return errno == EAGAIN ? IPCX_EAGAIN : ipcx__err(errno);
		}
		if (mq_hello_parse(h, msg, (size_t)n)) {
			return 0;
		}
	}
}

/* Tell a client it is refused (NAK with code) on its reply queue, without waiting. */
static void
mq_refuse(const char *dnname, int code)
{
	unsigned char nak[MQ_NAK_LEN] = {MQ_CTL_NAK};
	int32_t v = code;
	mqd_t dn = mq_open(dnname, O_WRONLY | O_NONBLOCK);

	if (dn == (mqd_t)-1) {
		return;
	}
	memcpy(nak + 1, &v, sizeof v);
	mq_send(dn, (const char *)nak, sizeof nak, mq_ctl_prio());
	mq_close(dn);
}

/* Open a client's private pair and acknowledge. Returns 1 to skip a client that is gone,
 * gave up or cannot be served. */
static int
mq_accept_hello(mq_listener *l, ipcx_chan **cp, const mq_hello *h)
{
	char up[MQ_NAME_CAP], dn[MQ_NAME_CAP];
	unsigned char ack[MQ_ACK_LEN] = {MQ_CTL_ACK};
	unsigned long long me;
	struct mq_attr a;
	int32_t pid32 = (int32_t)getpid();
	mqd_t upq, dnq;
	mq_chan *m;
	int rv;

	if (mq_private_names(up, dn, l->name, h->token) != 0) {
		return 1;
	}
	if (ipcx__creator_state(h->pid, h->start) == IPCX_OBJ_DEAD) {
		/* it died waiting: nobody else will remove what it left */
		mq_remove(up);
		mq_remove(dn);
		return 1;
	}
	if ((upq = mq_open(up, O_RDONLY | O_NONBLOCK)) == (mqd_t)-1) {
		return 1; /* it gave up and removed its names */
	}
	if ((dnq = mq_open(dn, O_WRONLY | O_NONBLOCK)) == (mqd_t)-1) {
		mq_close(upq);
		return 1;
	}
	/* both sides hold both queues: the names have done their job */
	mq_remove(up);
	mq_remove(dn);
	rv = mq_getattr(upq, &a) == -1 ? IPCX_EPROTO : 0;
	if (rv == 0 && (size_t)a.mq_msgsize > l->base.opts.max_msg &&
	    (size_t)a.mq_msgsize > MQ_CTL_MIN) {
		/* larger than this listener accepts: say so, so that the dial fails at once */
		unsigned char nak[MQ_NAK_LEN] = {MQ_CTL_NAK};
		int32_t v = IPCX_EMSGSIZE;
		memcpy(nak + 1, &v, sizeof v);
		mq_send(dnq, (const char *)nak, sizeof nak, mq_ctl_prio());
		rv = IPCX_EMSGSIZE;
	}
	if (rv == 0) {
		rv = mq_chan_new(&m, upq, dnq, l->base.opts.max_msg);
	}
	if (rv != 0) {
		mq_close(upq);
		mq_close(dnq);
		return rv == IPCX_ENOMEM ? rv : 1;
	}
	mq_chan_watch(m, h->pid, h->start);
	if (ipcx__self_starttime(&me) != 0) {
		me = 0;
	}
	memcpy(ack + 1, &pid32, sizeof pid32);
	memcpy(ack + 5, &me, sizeof me);
	/* a fresh reply queue has room; one that a hostile client filled is its loss */
	if (mq_send(m->sq, (const char *)ack, sizeof ack, m->ctl) == -1) {
		mq_chan_free(m);
		return 1;
	}
	*cp = &m->base;
	return 0;
}

static int
mq_accept(ipcx_listener *lb, ipcx_chan **cp, int64_t deadline)
{
	mq_listener *l = (mq_listener *)lb;

	for (;;) {
		mq_hello h;
		int rv = mq_next_hello(l, &h);
		if (rv == 0) {
			if ((rv = mq_accept_hello(l, cp, &h)) <= 0) {
				return rv;
			}
		} else if (rv == IPCX_EAGAIN) {
			if ((rv = ipcx__wait_fd(l->wk, POLLIN, deadline)) < 0) {
				return rv;
			}
		} else {
			return rv;
		}
	}
}

static void
mq_listener_close(ipcx_listener *lb)
{
	mq_listener *l = (mq_listener *)lb;
	char path[sizeof "/dev/mqueue/" + MQ_NAME_CAP];
	struct stat st;
	mq_hello h;

	if (getpid() != l->owner) {
		mq_close(l->wk); /* a forked copy: the listener is its parent's */
		free(l);
		return;
	}
	/* Refuse the clients still waiting, so that their dials end at once. */
	while (mq_next_hello(l, &h) == 0) {
		char up[MQ_NAME_CAP], dn[MQ_NAME_CAP];
		if (mq_private_names(up, dn, l->name, h.token) != 0) {
			continue;
		}
		if (ipcx__creator_state(h.pid, h.start) == IPCX_OBJ_DEAD) {
			mq_remove(up);
			mq_remove(dn);
		} else {
			mq_refuse(dn, IPCX_ECONNREFUSED);
		}
	}
	mq_close(l->wk);
	if (!l->base.opts.keep) {
		/* only our own queue: where /dev/mqueue shows it, check it is still ours */
		snprintf(path, sizeof path, "/dev/mqueue%s", l->name);
		if (stat(path, &st) == -1 || st.st_dev != l->dev || st.st_ino == l->ino) {
			mq_remove(l->name);
		}
	}
	free(l);
}

static int
mq_listener_fd(ipcx_listener *lb)
{
	return ((mq_listener *)lb)->wk;
}

/* The URL to dial, with the queue shape the listener was given (clients make the queues). */
static int
mq_listener_url(ipcx_listener *lb, char *buf, size_t cap)
{
	mq_listener *l = (mq_listener *)lb;
	size_t n;
	int rv, k = 0;

	if ((rv = ipcx__url_format(buf, cap, "mq://", l->user)) != 0) {
		return rv;
	}
	n = strlen(buf);
	if (l->depth > 0 && l->msgsize > 0) {
		k = snprintf(buf + n, cap - n, "?depth=%ld&msgsize=%ld", l->depth, l->msgsize);
	} else if (l->depth > 0) {
		k = snprintf(buf + n, cap - n, "?depth=%ld", l->depth);
	} else if (l->msgsize > 0) {
		k = snprintf(buf + n, cap - n, "?msgsize=%ld", l->msgsize);
	}
	return k < 0 || (size_t)k >= cap - n ? IPCX_ENAMETOOLONG : 0;
}

/* ---- dial ---------------------------------------------------------------------------- */

/* Wait for the server's answer on the reply queue: 0 (acknowledged: *pid, *start), the
 * refusal's code, IPCX_ECONNREFUSED if the listener died, IPCX_ETIMEDOUT, IPCX_EPROTO. */
static int
mq_dial_answer(mq_chan *m, int lfd, pid_t lpid, unsigned long long lstart, int64_t deadline,
               pid_t *pid, unsigned long long *start)
{
	for (;;) {
		unsigned prio = 0;
		ssize_t n = mq_receive(m->rq, (char *)m->rbuf, m->rsize, &prio);
		int rv;

		if (n >= 0) {
			int32_t v;
			if (prio != m->ctl) {
				return IPCX_EPROTO;
			}
			if (n == MQ_ACK_LEN && m->rbuf[0] == MQ_CTL_ACK) {
				memcpy(&v, m->rbuf + 1, sizeof v);
				memcpy(start, m->rbuf + 5, sizeof *start);
				if (v <= 0) {
					return IPCX_EPROTO;
				}
				*pid = (pid_t)v;
				return 0;
			}
			if (n == MQ_NAK_LEN && m->rbuf[0] == MQ_CTL_NAK) {
				memcpy(&v, m->rbuf + 1, sizeof v);
				return v == IPCX_ECONNREFUSED || v == IPCX_EMSGSIZE ? v
				                                                    : IPCX_EPROTO;
			}
			return IPCX_EPROTO;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno != EAGAIN) {
			return ipcx__err(errno);
		}
		rv = mq_wait(m->rq, POLLIN, lfd, lpid, lstart, deadline);
		if (rv != 0) {
			return rv == IPCX_ECLOSED ? IPCX_ECONNREFUSED : rv;
		}
	}
}

static int
mq_dial(ipcx_chan **cp, ipcx__url *u, const ipcx__opts *o, int64_t deadline)
{
	char wk[MQ_NAME_CAP], user[MQ_NAME_CAP], up[MQ_NAME_CAP], dn[MQ_NAME_CAP];
	char token[MQ_TOKEN_MAX + 1], hello[MQ_HELLO_SIZE + 1];
	unsigned long long me = 0, lstart = 0, pstart = 0;
	long depth, msgsize;
	size_t max_msg;
	pid_t lpid = 0, ppid = 0;
	mqd_t wkq, upq, dnq;
	mq_chan *m;
	int lfd = -1, rv, n;

	if ((rv = mq_check_url(u, wk, user)) != 0 ||
	    (rv = mq_shape_parse(u, &depth, &msgsize)) != 0) {
		return rv;
	}
	if (o->raw) {
		return IPCX_ENOTSUP;
	}
	/* Defaults: as deep as fs.mqueue.msg_default allows, messages as large as an
	 * unprivileged process may make them (fs.mqueue.msgsize_max); never larger than
	 * max_msg, never too small for a control message. */
	if (depth == 0) {
		long d = mq_sysctl("msg_default", 10), mx = mq_sysctl("msg_max", 10);
		depth = d < mx ? d : mx;
	}
	if (msgsize == 0) {
		msgsize = mq_sysctl("msgsize_max", 8192);
	}
	max_msg = (size_t)msgsize < o->max_msg ? (size_t)msgsize : o->max_msg;
	msgsize = max_msg < MQ_CTL_MIN ? MQ_CTL_MIN : (long)max_msg;
	ipcx__self_starttime(&me);

	/* A listener known to be dead refuses at once; a live one is watched while we wait. */
	if (ipcx__registry_lookup(MQ_KIND, wk, &lpid, &lstart) == 0) {
		lfd = mq_watch(lpid, lstart);
		if (lfd == IPCX_ECLOSED) {
			return IPCX_ECONNREFUSED;
		}
	} else {
		lpid = 0;
	}
	if ((wkq = mq_open(wk, O_WRONLY | O_NONBLOCK)) == (mqd_t)-1) {
		rv = ipcx__err(errno);
		goto fail_lfd;
	}
	for (int tries = 0;; tries++) {
		snprintf(token, sizeof token, "%ld.%u.%lx", (long)getpid(),
		         atomic_fetch_add(&mq_counter, 1),
		         (unsigned long)(ipcx__now_ns() & 0xffffff));
		if ((rv = mq_private_names(up, dn, wk, token)) != 0) {
			goto fail_wk;
		}
		if ((rv = mq_create(&upq, up, O_WRONLY, o->mode, depth, msgsize)) == 0) {
			if ((rv = mq_create(&dnq, dn, O_RDONLY, o->mode, depth, msgsize)) == 0) {
				break;
			}
			mq_close(upq);
			mq_unlink(up);
		}
		if (rv != IPCX_EEXIST || tries == 8) {
			goto fail_wk;
		}
	}
	ipcx__registry_add(MQ_KIND, up);
	ipcx__registry_add(MQ_KIND, dn);
	if ((rv = mq_chan_new(&m, dnq, upq, max_msg)) != 0) {
		mq_close(upq);
		mq_close(dnq);
		goto fail_names;
	}
	n = snprintf(hello, sizeof hello, MQ_HELLO "%s %ld %llu", token, (long)getpid(), me);
	if (n < 0 || n > MQ_HELLO_SIZE) {
		rv = IPCX_EINVAL;
		goto fail_chan;
	}
	for (;;) {
		if (mq_send(wkq, hello, (size_t)n, 0) == 0) {
			break;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno != EAGAIN) {
			rv = ipcx__err(errno);
			goto fail_chan;
		}
		/* other clients' hellos fill the queue: wait for the server to take some */
		if ((rv = mq_wait(wkq, POLLOUT, lfd, lpid, lstart, deadline)) != 0) {
			rv = rv == IPCX_ECLOSED ? IPCX_ECONNREFUSED : rv;
			goto fail_chan;
		}
	}
	mq_close(wkq);
	wkq = (mqd_t)-1;
	if ((rv = mq_dial_answer(m, lfd, lpid, lstart, deadline, &ppid, &pstart)) != 0) {
		/* The server may yet open our queues (or already has): the close marker
		 * ends the channel it would make. */
		static const unsigned char marker = MQ_CTL_CLOSE;
		mq_send(m->sq, (const char *)&marker, 1, m->ctl);
		goto fail_chan;
	}
	mq_remove(up);
	mq_remove(dn);
	ipcx__close_fd(lfd);
	mq_chan_watch(m, ppid, pstart);
	*cp = &m->base;
	return 0;
fail_chan:
	mq_chan_free(m);
fail_names:
	mq_remove(up);
	mq_remove(dn);
fail_wk:
	if (wkq != (mqd_t)-1) {
		mq_close(wkq);
	}
fail_lfd:
	ipcx__close_fd(lfd);
	return rv;
}

static const char *const mq_keys[] = {"depth", "msgsize", NULL};

const struct ipcx__transport ipcx__mq = {
        .version = IPCX__TRANSPORT_VERSION,
        .scheme = "mq",
        .persistence = mq_persistence,
        .query_keys = mq_keys,
        .listen = mq_listen,
        .accept = mq_accept,
        .listener_close = mq_listener_close,
        .listener_fd = mq_listener_fd,
        .listener_url = mq_listener_url,
        .dial = mq_dial,
        .send = mq_chan_send,
        .recv = mq_recv,
        .fd = mq_fd,
        .pending = mq_pending,
        .close = mq_chan_close,
        .send_prio = mq_send_prio,
};
