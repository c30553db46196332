/*
 * sysvmq.c - the sysvmq:// scheme: one System V message queue (msgget/msgsnd/msgrcv) that
 * serves many clients by mtype, the classic way: hellos on mtype 1, then each client id N
 * talks on mtypes of its own, 8N to 8N + 5 (data each way, and the credits of flow
 * control). Wire format and the rules that follow from it: docs/PROTOCOLS.md, "sysvmq://".
 *
 * Both directions of every channel share one queue of msg_qbytes bytes, so a channel that
 * filled it one way could never get an answer back (the classic deadlock of one queue per
 * server): each direction may have at most half the queue unread. The receiver gives
 * credit back as it reads, one zero-byte message per message read (or per 16), on mtypes
 * of their own; zero-byte messages always fit a queue, however full.
 *
 * System V queues have no file descriptor. A waiter thread per channel (started on the
 * first wait, or by ipcx_chan_fd) blocks in msgrcv(2) with a zero-byte buffer: every
 * message of ours is at least one byte long, so the kernel wakes it with E2BIG and leaves
 * the message queued. The thread then makes an eventfd readable; receives wait on that
 * eventfd and on a pidfd of the peer, and ipcx_chan_fd is an epoll set of the two. Room in
 * a full queue cannot be waited for at all: sends retry with a short bounded backoff, and
 * meanwhile read ahead what waits for this process, so that a queue full of messages for
 * processes that wait to send cannot stay full.
 */
#include "../core/ipcx_int.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SMQ_HELLO_TYPE 1L /* mtype of hellos; a client id N uses 8N to 8N + 5 */
#define SMQ_KIND_DATA  'D'
#define SMQ_KIND_HELLO 'H'
#define SMQ_KIND_ACK   'A'
#define SMQ_HDR        1 /* the kind byte before a data message's payload */
#define SMQ_MAGIC      0x58435049u
#define SMQ_VERSION    1

#define SMQ_BACKOFF_MIN_NS 50000LL   /* a full queue: first retry after 50 us ... */
#define SMQ_BACKOFF_MAX_NS 2000000LL /* ... doubling up to 2 ms */
#define SMQ_LINGER_MS      1000      /* removal waits this long for clients to read */
#define SMQ_DEAD_POLL_MS   100       /* no pidfd: how often a wait looks for a dead peer */
#define SMQ_SPIN_NS        50000LL   /* a wait yields the CPU this long before it sleeps */
#define SMQ_STALE_POLL_MS  500       /* dial: how often to look for a dead listener */
#define SMQ_DRAIN_MAX      65536     /* bound on one drain loop */
#define SMQ_LINGER_MAX     4096      /* closed channels tracked per queue */
#define SMQ_WAITER_STACK   (256 * 1024)
#define SMQ_RING           1024 /* messages one direction may have unread */
#define SMQ_BATCH          16   /* messages one batch credit stands for */
#define SMQ_TAKE_EVERY     32   /* a sender collects its credit at least every 32 sends */

/* The body of a hello (mtype 1, client -> listener) and of its ack (the client's reply
 * mtype, server -> client). Native byte order: a queue never leaves its machine. */
typedef struct smq_hello {
	unsigned char kind;    /* SMQ_KIND_HELLO or SMQ_KIND_ACK */
	unsigned char version; /* SMQ_VERSION */
	unsigned char zero[2];
	uint32_t magic;     /* SMQ_MAGIC */
	int64_t id;         /* the client's id */
	uint64_t starttime; /* the sender's start time (/proc/PID/stat field 22) */
	int32_t pid;        /* the sender */
	uint32_t reserved;
} smq_hello;
_Static_assert(sizeof(smq_hello) == 32, "hello is 32 bytes");

typedef struct smq_hmsg {
	long mtype;
	smq_hello h;
} smq_hmsg;

/* msgsnd/msgrcv buffer: the mtype, then [kind][payload]. */
typedef struct smq_buf {
	long mtype;
	unsigned char body[];
} smq_buf;

/* A zero-byte msgrcv only writes the mtype. */
typedef struct smq_scratch {
	long mtype;
	unsigned char none[1];
} smq_scratch;

/* ---- the waiter thread ----------------------------------------------------------------- */

typedef struct smq_waiter {
	int qid;
	long mtype;
	int evfd; /* readable: a message of mtype may be queued, or something else changed */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	pid_t owner; /* the process the thread runs in: after fork(2) the child has none */
	bool started, armed, stop; /* under mu */
	bool running;              /* under mu: the thread has entered smq_waiter_main */
	/* a zero-byte message of mtype was taken (by the thread, a receive or a probe): on a
	 * channel the peer's close marker, which is always its last message */
	atomic_bool zero;
	/* the thread's msgrcv buffer, here rather than on its stack: a cancelled thread's
	 * frame is never unwound by the sanitizers, and must hold nothing they watch */
	smq_scratch scratch;
} smq_waiter;

/* ---- the queue, shared by a listener and the channels it accepted ----------------------- */

/* A server channel closed while its client still had messages to read or had not closed:
 * removal of the queue waits for it (bounded), and what the client sends later is
 * drained. */
typedef struct smq_linger {
	long base; /* 8N: the client's mtypes start here */
	int pidfd;
	pid_t pid;
	unsigned long long st;
} smq_linger;

typedef struct smq_queue {
	pthread_mutex_t mu;
	int refs; /* the listener and each accepted channel */
	int qid;
	bool keep;
	bool registered;
	char name[16]; /* registry name, "0x%08x" */
	smq_linger *lg;
	size_t nlg, caplg;
} smq_queue;

/* Limits of one queue: the payload of one message, and why it is what it is. */
typedef struct smq_limits {
	size_t msgmax; /* kernel.msgmax when the channel was made */
	size_t qbytes; /* the queue's msg_qbytes (kernel.msgmnb when it was created) */
	size_t payload_max;
	uint64_t window; /* bytes one direction may have unread: half the queue */
} smq_limits;

typedef struct smq_chan {
	ipcx_chan base;
	smq_queue *sq; /* server side: a reference; NULL for a dialled channel */
	int qid;
	key_t key;
	long rx, tx; /* data mtypes */
	/* where we give credit for what we read, one message (1) or SMQ_BATCH (k) each, and
	 * where credit for what we sent comes back */
	long rx_cred1, rx_credk, tx_cred1, tx_credk;
	smq_limits lim;
	/* the peer */
	pid_t peer_pid;
	unsigned long long peer_st;
	int pidfd; /* -1 without pidfd_open */
	atomic_bool peer_dead;
	smq_waiter w; /* on rx */
	int pollfd;   /* ipcx_chan_fd: epoll of w.evfd and pidfd, made on first use */
	/* receive side */
	pthread_mutex_t rmu; /* the receive side: held by recv, or by a read-ahead */
	smq_buf *rbuf;       /* mtype + SMQ_HDR + payload_max */
	bool stashed;        /* rbuf holds a message not yet delivered (IPCX_EMSGSIZE) */
	size_t stash_len;
	int rerr; /* sticky IPCX_EPROTO */
	/* read ahead: messages that a send of this process, waiting for room in the queue,
	 * took off it for us (records [uint32 size][size bytes] in a ring; made on first use);
	 * delivered before the queue's. No credit is given for them until they are read, so
	 * the peer's window bounds them. */
	unsigned char *ahead;
	size_t ahead_cap, ahead_head, ahead_len;
	smq_buf *ahead_buf;
	struct smq_chan *next, *prev; /* the channels of this process (smq_all) */
	_Atomic uint64_t consumed;    /* messages read (the receiving thread) */
	_Atomic uint64_t credited;    /* of those, given back as credit (under cmu) */
	pthread_mutex_t cmu;          /* credit is given by the receiver or a waiting sender */
	/* send side: the sizes of the messages the peer has not read (no credit yet) */
	smq_buf *tbuf;
	uint32_t ring[SMQ_RING];
	unsigned ring_head, ring_n;
	uint64_t unread; /* bytes in the ring */
	unsigned sends;  /* since credit was last collected */
} smq_chan;

typedef struct smq_listener {
	ipcx_listener base;
	smq_queue *sq;
	smq_waiter w; /* on mtype 1 */
	smq_limits lim;
	key_t key;
	bool has_pending; /* a hello whose ack found the queue full: served first next time */
	smq_hello pending;
	char url[IPCX__URL_MAX + 32];
} smq_listener;

static const char *const smq_keys[] = {"proj", NULL};

/* Every channel of this process, for the read-ahead of a send that waits for room. */
static pthread_mutex_t smq_all_mu = PTHREAD_MUTEX_INITIALIZER;
static struct smq_chan *smq_all;

static atomic_uint smq_seq;

static int
smq_persistence(const ipcx__url *u)
{
	IPCX__UNUSED(u);
	return IPCX_PERSIST_KERNEL;
}

/* ---- small helpers --------------------------------------------------------------------- */

static size_t
smq_sysctl(const char *name, size_t dflt)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
	return (size_t)ipcx__sysctl(path, (long long)dflt);
}

static void
smq_sleep_ns(int64_t ns, int pidfd)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000),
	                      .tv_nsec = (long)(ns % 1000000000)};
	struct pollfd p = {.fd = pidfd, .events = POLLIN};

	/* sleeping on the peer's pidfd: a peer that dies ends the sleep at once */
	ppoll(pidfd >= 0 ? &p : NULL, pidfd >= 0 ? 1 : 0, &ts, NULL);
}

/* The key a URL names: sysvmq:///path?proj=N (ftok, N 1..255, default 1) or sysvmq:0xKEY. */
static int
smq_key(key_t *key, ipcx__url *u, unsigned *projp)
{
	unsigned long long proj = 1;
	bool found;
	int rv;

	if ((rv = ipcx__url_query_num(u, "proj", 10, 1, 255, &proj, &found)) != 0) {
		return rv;
	}
	if (u->abstract) {
		return IPCX_EBADURL;
	}
	if (u->path[0] == '/') {
		key_t k;
		errno = 0;
		k = ftok(u->path, (int)proj);
		/* (key_t)-1 is also a valid key (0xffffffff): only errno tells */
		if (k == (key_t)-1 && errno != 0) {
			return ipcx__err(errno);
		}
		*key = k;
		*projp = (unsigned)proj;
		return 0;
	}
	if ((u->path[0] == '0' && (u->path[1] == 'x' || u->path[1] == 'X')) && !found) {
		const char *p = u->path + 2;
		unsigned long long x = 0;
		if (*p == '\0' || strlen(p) > 8) {
			return IPCX_EBADURL;
		}
		for (; *p; p++) {
			int d = (*p >= '0' && *p <= '9')   ? *p - '0'
			        : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
			        : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
			                                   : -1;
			if (d < 0) {
				return IPCX_EBADURL;
			}
			x = x * 16 + (unsigned)d;
		}
		if (x == 0) {
			return IPCX_EBADURL; /* IPC_PRIVATE: nobody else could find it */
		}
		*key = (key_t)(uint32_t)x;
		*projp = 0;
		return 0;
	}
	return IPCX_EBADURL;
}

static void
smq_keyname(char *buf, size_t cap, key_t key)
{
	snprintf(buf, cap, "0x%08x", (unsigned)key);
}

/* What one message of a queue can carry: min(kernel.msgmax, msg_qbytes) minus our kind
 * byte. */
static int
smq_limits_get(smq_limits *lim, int qid)
{
	struct msqid_ds ds;
	size_t unit;

	if (msgctl(qid, IPC_STAT, &ds) == -1) {
		return ipcx__err(errno);
	}
	lim->msgmax = smq_sysctl("msgmax", 8192);
	lim->qbytes = (size_t)ds.msg_qbytes;
	unit = lim->msgmax < lim->qbytes ? lim->msgmax : lim->qbytes;
	if (unit < sizeof(smq_hello)) {
		ipcx__errdetail_set("kernel.msgmax is %zu and the queue holds %zu bytes: a "
		                    "sysvmq:// hello of %zu bytes does not fit",
		                    lim->msgmax, lim->qbytes, sizeof(smq_hello));
		return IPCX_EMSGSIZE;
	}
	lim->payload_max = unit - SMQ_HDR;
	/* both directions full fill the queue, and no more: neither can block the other */
	lim->window = lim->qbytes / 2 > 0 ? lim->qbytes / 2 : 1;
	return 0;
}

static void
smq_detail_size(const smq_limits *lim, size_t len)
{
	if (lim->msgmax <= lim->qbytes) {
		ipcx__errdetail_set("kernel.msgmax is %zu: a sysvmq:// message carries at most %zu "
		                    "bytes; %zu were asked for",
		                    lim->msgmax, lim->payload_max, len);
	} else {
		ipcx__errdetail_set(
		        "the queue holds %zu bytes (msg_qbytes, from kernel.msgmnb): a "
		        "sysvmq:// message carries at most %zu bytes; %zu were asked for",
		        lim->qbytes, lim->payload_max, len);
	}
}

/* Take zero-byte messages and leave longer ones. Returns 1 if the first message of type
 * was a zero-byte one (taken), 2 if a longer one is first (left queued), 0 if there is
 * none, IPCX_ECLOSED if the queue is gone. */
#define SMQ_NONE 0
#define SMQ_ZERO 1
#define SMQ_DATA 2
static int
smq_probe(int qid, long type)
{
	smq_scratch m;

	for (;;) {
		if (msgrcv(qid, &m, 0, type, IPC_NOWAIT) >= 0) {
			return SMQ_ZERO;
		}
		switch (errno) {
		case EINTR:
			continue;
		case E2BIG:
			return SMQ_DATA;
		case ENOMSG:
			return SMQ_NONE;
		default:
			return IPCX_ECLOSED;
		}
	}
}

/* Remove every message of type (they are for a channel that is gone). Returns true if one
 * of them was a zero-byte close marker. */
static bool
smq_drain(int qid, long type)
{
	bool zero = false;

	for (int i = 0; i < SMQ_DRAIN_MAX; i++) {
		int r = smq_probe(qid, type);
		smq_scratch m;
		if (r == SMQ_ZERO) {
			zero = true;
		} else if (r == SMQ_DATA) {
			if (msgrcv(qid, &m, 0, type, IPC_NOWAIT | MSG_NOERROR) == -1 &&
			    errno != EINTR) {
				break;
			}
		} else {
			break;
		}
	}
	return zero;
}

/* The types of the client whose id is base / 8. */
static void
smq_drain_client(int qid, long base)
{
	for (long t = 0; t < 6; t++) {
		smq_drain(qid, base + t);
	}
}

static void
smq_send_zero(int qid, long type)
{
	smq_scratch m = {.mtype = type};

	/* zero bytes always fit a queue's byte limit: a close marker never waits */
	while (msgsnd(qid, &m, 0, IPC_NOWAIT) == -1 && errno == EINTR) {
	}
}

/* A client id: unique among live processes (the pid), and within this process (a counter
 * salted with our start time, so that a later process with the same pid differs). */
static long
smq_new_id(void)
{
	unsigned long long st = 0;
	uint32_t salt, n;

	ipcx__self_starttime(&st);
	salt = (uint32_t)(st * 2654435761u);
	n = atomic_fetch_add(&smq_seq, 1);
	return ((long)getpid() << 20) | (long)((n + salt) & 0xfffff);
}

static bool
smq_id_ok(int64_t id)
{
	return id >= 1 && id <= (LONG_MAX - 7) / 8;
}

/* Open a pidfd on pid and make sure it is the process that started at st. 0: alive (with
 * *pidfd -1 if pidfds are not available), IPCX_ESRCH: gone. */
static int
smq_peer_open(pid_t pid, unsigned long long st, int *pidfd)
{
	unsigned long long now;
	int fd, rv;

	*pidfd = -1;
	if (pid <= 0) {
		return IPCX_ESRCH;
	}
	fd = (int)syscall(SYS_pidfd_open, pid, 0); /* pidfds are always close-on-exec */
	if (fd < 0 && errno == ESRCH) {
		return IPCX_ESRCH;
	}
	/* checked after the pidfd exists: it then names the process we verified */
	rv = ipcx__proc_starttime(pid, &now);
	if ((rv == 0 && now != st) ||
	    (rv != 0 && fd < 0 && (rv == IPCX_ENOENT || rv == IPCX_ESRCH))) {
		if (fd >= 0) {
			close(fd);
		}
		return IPCX_ESRCH; /* gone, or its pid now names another process */
	}
	/* a /proc that hides other users' processes cannot tell: the pidfd says it runs */
	*pidfd = fd;
	return 0;
}

static bool
smq_pid_dead(int pidfd, pid_t pid, unsigned long long st)
{
	if (pidfd >= 0) {
		struct pollfd p = {.fd = pidfd, .events = POLLIN};
		return poll(&p, 1, 0) == 1;
	}
	return pid > 0 && ipcx__creator_state(pid, st) == IPCX_OBJ_DEAD;
}

/* ---- the waiter ------------------------------------------------------------------------ */

static int
smq_waiter_init(smq_waiter *w, int qid, long mtype)
{
	w->qid = qid;
	w->mtype = mtype;
	w->started = w->armed = w->stop = false;
	atomic_init(&w->zero, false);
	if ((w->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		return ipcx__err(errno);
	}
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		close(w->evfd);
		return IPCX_ENOMEM;
	}
	if (pthread_cond_init(&w->cv, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		close(w->evfd);
		return IPCX_ENOMEM;
	}
	return 0;
}

static void
smq_kick_locked(smq_waiter *w)
{
	uint64_t one = 1;
	ssize_t n = write(w->evfd, &one, sizeof one);

	IPCX__UNUSED(n); /* only fails when the counter is huge: it is readable then */
}

static void
smq_kick(smq_waiter *w)
{
	pthread_mutex_lock(&w->mu);
	smq_kick_locked(w);
	pthread_mutex_unlock(&w->mu);
}

static void *
smq_waiter_main(void *arg)
{
	smq_waiter *w = arg;

	/* cancellation (by smq_waiter_fini) is only let in while blocked in msgrcv, where no
	 * lock is held and nothing is consumed but a zero-byte marker */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&w->mu);
	w->running = true;
	pthread_cond_broadcast(&w->cv); /* smq_waiter_arm waits for this */
	for (;;) {
		ssize_t n;
		int e;
		while (!w->armed && !w->stop) {
			pthread_cond_wait(&w->cv, &w->mu);
		}
		if (w->stop) {
			break;
		}
		pthread_mutex_unlock(&w->mu);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		/* a zero-byte buffer: a message of ours fails with E2BIG and stays queued */
		n = msgrcv(w->qid, &w->scratch, 0, w->mtype, 0);
		e = errno;
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		pthread_mutex_lock(&w->mu);
		if (n < 0 && e == EINTR) {
			continue;
		}
		if (n >= 0) {
			atomic_store(&w->zero, true);
		}
		/* E2BIG (a message waits), a marker, or the queue is gone: wake the owner, who
		 * re-arms once it has found nothing more to take */
		w->armed = false;
		smq_kick_locked(w);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Make sure the thread watches the queue. keep: something is deliverable already, so the
 * eventfd is made readable rather than cleared. */
static int
smq_waiter_arm(smq_waiter *w, bool keep)
{
	int rv = 0;

	pthread_mutex_lock(&w->mu);
	if (w->started && w->owner != getpid()) {
		/* a forked child: its own thread, then */
		w->started = w->armed = w->running = false;
	}
	if (keep) {
		smq_kick_locked(w);
	} else {
		uint64_t v;
		ssize_t n = read(w->evfd, &v, sizeof v);
		IPCX__UNUSED(n);
	}
	if (!w->started) {
		pthread_attr_t attr;
		sigset_t all, old;
		int e;
		if (pthread_attr_init(&attr) != 0) {
			rv = IPCX_ENOMEM;
			goto out;
		}
		pthread_attr_setstacksize(&attr, SMQ_WAITER_STACK);
		/* the thread never takes the application's signals */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		e = pthread_create(&w->th, &attr, smq_waiter_main, w);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
		if (e != 0) {
			rv = ipcx__err(e);
			goto out;
		}
		w->started = true;
		w->owner = getpid();
		/* Return only once the thread runs: a fork(2) right after this call must not
		 * catch it inside its start-up, where a sanitizer runtime allocates under its
		 * allocator's lock (GCC 12's ASan does not take that lock around fork), and the
		 * child, which inherits the lock taken, deadlocks at its first thread or
		 * allocation of that size. */
		while (!w->running) {
			pthread_cond_wait(&w->cv, &w->mu);
		}
	}
	if (!w->armed) {
		w->armed = true;
		pthread_cond_broadcast(&w->cv);
	}
out:
	pthread_mutex_unlock(&w->mu);
	return rv;
}

static bool
smq_waiter_started(smq_waiter *w)
{
	bool s;

	pthread_mutex_lock(&w->mu);
	s = w->started;
	pthread_mutex_unlock(&w->mu);
	return s;
}

static void
smq_waiter_fini(smq_waiter *w)
{
	bool started;

	pthread_mutex_lock(&w->mu);
	started = w->started && w->owner == getpid();
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (started) {
		pthread_cancel(w->th);
		pthread_join(w->th, NULL);
	}
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	close(w->evfd);
}

/* Wait (up to the deadline, and at most cap_ms if >= 0) until the waiter or pidfd says
 * something changed. Returns 0 or an error; the caller looks again. */
static int
smq_waiter_wait(smq_waiter *w, int pidfd, int64_t deadline, int cap_ms, atomic_bool *dead)
{
	struct pollfd p[2] = {{.fd = w->evfd, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
	int ms, n, rv;

	if ((rv = smq_waiter_arm(w, false)) != 0) {
		return rv;
	}
	ms = ipcx__poll_ms(deadline);
	if (cap_ms >= 0 && (ms < 0 || ms > cap_ms)) {
		ms = cap_ms;
	}
	n = poll(p, pidfd >= 0 ? 2 : 1, ms);
	if (n < 0 && errno != EINTR) {
		return ipcx__err(errno);
	}
	if (n > 0 && pidfd >= 0 && p[1].revents != 0 && dead != NULL) {
		atomic_store(dead, true);
	}
	return 0;
}

/* ---- the shared queue ------------------------------------------------------------------ */

static void
smq_queue_ref(smq_queue *sq)
{
	pthread_mutex_lock(&sq->mu);
	sq->refs++;
	pthread_mutex_unlock(&sq->mu);
}

static void
smq_linger_drop(smq_queue *sq, size_t i)
{
	if (sq->lg[i].pidfd >= 0) {
		close(sq->lg[i].pidfd);
	}
	sq->lg[i] = sq->lg[--sq->nlg];
}

/* Look at the closed channels: forget those whose client closed (its marker arrived) or
 * died, draining what is left of them. At removal, also those whose client has read
 * everything (probing our own marker away is fine then: the queue is about to go). */
static void
smq_queue_sweep(smq_queue *sq, bool removal)
{
	pthread_mutex_lock(&sq->mu);
	for (size_t i = sq->nlg; i-- > 0;) {
		smq_linger *e = &sq->lg[i];
		bool done = smq_pid_dead(e->pidfd, e->pid, e->st);
		if (!done) {
			/* the client's marker, or data it sent after we closed, on our old type */
			int r = smq_probe(sq->qid, e->base);
			for (int k = 0; r == SMQ_DATA && k < SMQ_DRAIN_MAX; k++) {
				smq_scratch m;
				msgrcv(sq->qid, &m, 0, e->base, IPC_NOWAIT | MSG_NOERROR);
				r = smq_probe(sq->qid, e->base);
			}
			done = r == SMQ_ZERO || r < 0;
		}
		if (!done && removal) {
			done = smq_probe(sq->qid, e->base + 1) != SMQ_DATA;
		}
		if (done) {
			smq_drain_client(sq->qid, e->base);
			smq_linger_drop(sq, i);
		}
	}
	pthread_mutex_unlock(&sq->mu);
}

static void
smq_queue_release(smq_queue *sq)
{
	bool last;

	pthread_mutex_lock(&sq->mu);
	last = --sq->refs == 0;
	pthread_mutex_unlock(&sq->mu);
	if (!last) {
		return;
	}
	if (!sq->keep) {
		/* Removing the queue destroys what is in it: give clients (bounded) time to read
		 * what was sent to them before their channel closed, as a tcp close lingers. */
		int64_t end = ipcx__now_ns() + (int64_t)SMQ_LINGER_MS * 1000000;
		int64_t step = SMQ_BACKOFF_MIN_NS;
		for (;;) {
			int64_t now;
			smq_queue_sweep(sq, true);
			now = ipcx__now_ns();
			if (sq->nlg == 0 || now >= end) {
				break;
			}
			smq_sleep_ns(step < end - now ? step : end - now, -1);
			step = step * 2 > SMQ_BACKOFF_MAX_NS ? SMQ_BACKOFF_MAX_NS : step * 2;
		}
		msgctl(sq->qid, IPC_RMID, NULL);
		if (sq->registered) {
			ipcx__registry_forget("sysv-msg", sq->name);
		}
	}
	while (sq->nlg > 0) {
		smq_linger_drop(sq, sq->nlg - 1);
	}
	free(sq->lg);
	pthread_mutex_destroy(&sq->mu);
	free(sq);
}

/* ---- channels -------------------------------------------------------------------------- */

/* A channel of client id base / 8: the server's side if sq is given, else the client's.
 * base: data client -> server; + 1: data server -> client; + 2 (one) and + 4 (a batch):
 * credit for what the server read; + 3 and + 5: credit for what the client read. */
static int
smq_chan_new(smq_chan **cp, int qid, key_t key, long base, const smq_limits *lim,
             const ipcx__opts *o, smq_queue *sq)
{
	size_t bufsize = sizeof(smq_buf) + SMQ_HDR + lim->payload_max;
	smq_chan *c;
	int rv;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		return IPCX_ENOMEM;
	}
	ipcx__chan_init(&c->base, &ipcx__sysvmq, o->max_msg);
	c->qid = qid;
	c->key = key;
	c->rx = sq != NULL ? base : base + 1;
	c->tx = sq != NULL ? base + 1 : base;
	c->rx_cred1 = sq != NULL ? base + 2 : base + 3;
	c->rx_credk = c->rx_cred1 + 2;
	c->tx_cred1 = sq != NULL ? base + 3 : base + 2;
	c->tx_credk = c->tx_cred1 + 2;
	c->lim = *lim;
	atomic_init(&c->consumed, 0);
	atomic_init(&c->credited, 0);
	c->pidfd = -1;
	c->pollfd = -1;
	atomic_init(&c->peer_dead, false);
	/* both buffers once, here: the hot path never allocates */
	if ((c->rbuf = malloc(bufsize)) == NULL || (c->tbuf = malloc(bufsize)) == NULL) {
		rv = IPCX_ENOMEM;
		goto fail_bufs;
	}
	if (pthread_mutex_init(&c->cmu, NULL) != 0) {
		rv = IPCX_ENOMEM;
		goto fail_bufs;
	}
	if (pthread_mutex_init(&c->rmu, NULL) != 0) {
		rv = IPCX_ENOMEM;
		goto fail_cmu;
	}
	if ((rv = smq_waiter_init(&c->w, qid, c->rx)) != 0) {
		goto fail_rmu;
	}
	if (sq != NULL) {
		smq_queue_ref(sq);
		c->sq = sq;
	}
	pthread_mutex_lock(&smq_all_mu);
	c->next = smq_all;
	if (smq_all != NULL) {
		smq_all->prev = c;
	}
	smq_all = c;
	pthread_mutex_unlock(&smq_all_mu);
	*cp = c;
	return 0;
fail_rmu:
	pthread_mutex_destroy(&c->rmu);
fail_cmu:
	pthread_mutex_destroy(&c->cmu);
fail_bufs:
	free(c->tbuf);
	free(c->rbuf);
	free(c);
	return rv;
}

static void
smq_chan_unlink(smq_chan *c)
{
	pthread_mutex_lock(&smq_all_mu);
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		smq_all = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	pthread_mutex_unlock(&smq_all_mu);
}

/* The memory of a channel (its fds, threads and protocol are done with). */
static void
smq_chan_free(smq_chan *c)
{
	ipcx__close_fd(c->pollfd);
	ipcx__close_fd(c->pidfd);
	if (c->sq != NULL) {
		smq_queue_release(c->sq);
	}
	pthread_mutex_destroy(&c->rmu);
	pthread_mutex_destroy(&c->cmu);
	free(c->ahead_buf);
	free(c->ahead);
	free(c->tbuf);
	free(c->rbuf);
	free(c);
}

/* Free a channel without any protocol (no marker): for a handshake that failed. */
static void
smq_chan_destroy(smq_chan *c)
{
	smq_chan_unlink(c);
	smq_waiter_fini(&c->w);
	smq_chan_free(c);
}

static bool
smq_peer_gone(smq_chan *c)
{
	if (atomic_load(&c->peer_dead)) {
		return true;
	}
	if (c->peer_pid > 0 && smq_pid_dead(c->pidfd, c->peer_pid, c->peer_st)) {
		atomic_store(&c->peer_dead, true);
		return true;
	}
	return false;
}

/* ---- read-ahead ------------------------------------------------------------------------ */

static void
smq_ahead_copy_in(smq_chan *c, const void *p, size_t n)
{
	size_t at = (c->ahead_head + c->ahead_len) % c->ahead_cap;
	size_t first = n < c->ahead_cap - at ? n : c->ahead_cap - at;

	memcpy(c->ahead + at, p, first);
	memcpy(c->ahead, (const unsigned char *)p + first, n - first);
	c->ahead_len += n;
}

static void
smq_ahead_copy_out(smq_chan *c, void *p, size_t n)
{
	size_t first = n < c->ahead_cap - c->ahead_head ? n : c->ahead_cap - c->ahead_head;

	memcpy(p, c->ahead + c->ahead_head, first);
	memcpy((unsigned char *)p + first, c->ahead, n - first);
	c->ahead_head = (c->ahead_head + n) % c->ahead_cap;
	c->ahead_len -= n;
}

/* Take what waits for c off the queue into its read-ahead, unless its receiver is busy (it
 * then takes the messages itself). Called with smq_all_mu held. */
static void
smq_read_ahead(smq_chan *c)
{
	size_t unit = SMQ_HDR + c->lim.payload_max;
	bool took = false;

	if (pthread_mutex_trylock(&c->rmu) != 0) {
		return;
	}
	if (c->ahead == NULL) {
		/* what the peer may have unread (its window, or one larger message), in records */
		size_t cap = (size_t)c->lim.window + unit + 4 * (SMQ_RING + 1);
		c->ahead = malloc(cap);
		c->ahead_buf = malloc(sizeof(smq_buf) + unit);
		if (c->ahead == NULL || c->ahead_buf == NULL) {
			free(c->ahead);
			free(c->ahead_buf);
			c->ahead = NULL;
			c->ahead_buf = NULL;
			goto out;
		}
		c->ahead_cap = cap;
	}
	while (c->ahead_cap - c->ahead_len >= sizeof(uint32_t) + unit && !atomic_load(&c->w.zero)) {
		uint32_t n32;
		ssize_t n = msgrcv(c->qid, c->ahead_buf, unit, c->rx, IPC_NOWAIT);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			break;
		}
		took = true;
		if (n == 0) {
			atomic_store(&c->w.zero, true); /* the marker: nothing follows it */
			break;
		}
		n32 = (uint32_t)n;
		smq_ahead_copy_in(c, &n32, sizeof n32);
		smq_ahead_copy_in(c, c->ahead_buf->body, (size_t)n);
	}
out:
	pthread_mutex_unlock(&c->rmu);
	if (took) {
		smq_kick(&c->w); /* readable now */
	}
}

/* A send waits for room in queue qid: take what waits for this process's channels on it off
 * the queue. Whoever else waits for room then gets it: when every process that waits reads
 * ahead, a queue full of messages for waiting processes cannot stay full (the deadlock of
 * one queue for every client, Stevens' UNP2 6.8). */
static void
smq_read_ahead_all(int qid)
{
	pthread_mutex_lock(&smq_all_mu);
	for (smq_chan *c = smq_all; c != NULL; c = c->next) {
		if (c->qid == qid) {
			smq_read_ahead(c);
		}
	}
	pthread_mutex_unlock(&smq_all_mu);
}

/* ---- flow control ---------------------------------------------------------------------- */

/* Give the peer credit for the messages we have read: one zero-byte message per SMQ_BATCH
 * of them, and with all, one per message for the rest (when we have read everything, or a
 * send of ours waits: two senders must never wait for each other's credit). Zero bytes
 * always fit the queue; only its message count (msg_qbytes messages) could refuse, and the
 * credit then stays owed for the next try. Returns false then. */
static bool
smq_credit_give(smq_chan *c, bool all)
{
	uint64_t owed;

	pthread_mutex_lock(&c->cmu);
	owed = atomic_load(&c->consumed) - atomic_load(&c->credited);
	while (owed >= (all ? 1 : SMQ_BATCH)) {
		bool batch = owed >= SMQ_BATCH;
		smq_scratch m = {.mtype = batch ? c->rx_credk : c->rx_cred1};
		if (msgsnd(c->qid, &m, 0, IPC_NOWAIT) == -1) {
			if (errno == EINTR) {
				continue;
			}
			break;
		}
		owed -= batch ? SMQ_BATCH : 1;
		atomic_fetch_add(&c->credited, batch ? SMQ_BATCH : 1);
	}
	pthread_mutex_unlock(&c->cmu);
	return owed < (all ? 1 : SMQ_BATCH);
}

static void
smq_credit_pop(smq_chan *c, unsigned k)
{
	/* a peer can only give back what we sent: more is ignored */
	for (; k > 0 && c->ring_n > 0; k--) {
		c->unread -= c->ring[c->ring_head];
		c->ring_head = (c->ring_head + 1) % SMQ_RING;
		c->ring_n--;
	}
}

/* Collect the credit the peer gave for what we sent. */
static void
smq_credit_take(smq_chan *c)
{
	static const unsigned per[2] = {SMQ_BATCH, 1};
	long types[2] = {c->tx_credk, c->tx_cred1};

	c->sends = 0;
	for (int t = 0; t < 2; t++) {
		for (int i = 0; i < SMQ_RING && c->ring_n > 0;) {
			smq_scratch m;
			if (msgrcv(c->qid, &m, 0, types[t], IPC_NOWAIT | MSG_NOERROR) == -1) {
				if (errno == EINTR) {
					continue;
				}
				break;
			}
			smq_credit_pop(c, per[t]);
			i++;
		}
	}
}

/* May a message of size bytes go now? A message larger than the window goes alone. */
static bool
smq_window_ok(const smq_chan *c, size_t size)
{
	return c->ring_n == 0 || (c->ring_n < SMQ_RING && c->unread + size <= c->lim.window);
}

/* msgsnd that honours the deadline. Neither room in the queue nor credit can be waited
 * for (System V queues have no fd), so a send that cannot go is retried, yielding the CPU
 * for up to 50 us, then sleeping 50 us doubling to 2 ms; a full queue also makes it read
 * ahead for this process's channels. With a channel (c), its window is kept, and each
 * round also gives the peer the credit we owe it, looks for the peer's close marker and
 * for its death. */
static int
smq_put(smq_chan *c, int qid, void *msg, size_t size, const smq_limits *lim, int64_t deadline)
{
	int64_t step = SMQ_BACKOFF_MIN_NS, spin_until = 0;
	bool window = false;

	for (;;) {
		int64_t now;
		if (c != NULL) {
			if (!smq_window_ok(c, size) || ++c->sends >= SMQ_TAKE_EVERY) {
				smq_credit_take(c);
			}
			window = !smq_window_ok(c, size);
		}
		if (!window) {
			if (msgsnd(qid, msg, size, IPC_NOWAIT) == 0) {
				if (c != NULL) {
					c->ring[(c->ring_head + c->ring_n) % SMQ_RING] =
					        (uint32_t)size;
					c->ring_n++;
					c->unread += size;
				}
				return 0;
			}
			if (errno == EINTR) {
				continue;
			}
			if (errno == EIDRM) {
				return IPCX_ECLOSED;
			}
			if (errno == EINVAL) {
				struct msqid_ds ds;
				smq_limits now_lim = *lim;
				if (msgctl(qid, IPC_STAT, &ds) == -1) {
					return IPCX_ECLOSED; /* the queue was removed */
				}
				/* kernel.msgmax was lowered since the channel was made */
				now_lim.msgmax = smq_sysctl("msgmax", 8192);
				smq_detail_size(&now_lim, size - SMQ_HDR);
				return IPCX_EMSGSIZE;
			}
			if (errno != EAGAIN) {
				return ipcx__err(errno);
			}
			smq_read_ahead_all(qid);
		}
		if (c != NULL) {
			int r;
			if (atomic_load(&c->consumed) != atomic_load(&c->credited)) {
				smq_credit_give(c, true);
			}
			if ((r = smq_probe(qid, c->rx)) == SMQ_ZERO) {
				atomic_store(&c->w.zero, true);
				smq_kick(&c->w); /* a receiver waiting now has ECLOSED to return */
			}
			if (r < 0 || atomic_load(&c->w.zero) || smq_peer_gone(c)) {
				return IPCX_ECLOSED;
			}
		}
		now = ipcx__now_ns();
		if (now >= deadline) {
			if (window) {
				ipcx__errdetail_set(
				        "the peer has not read %u messages (%llu bytes): one "
				        "direction may hold half of the queue's %zu bytes "
				        "(msg_qbytes, from kernel.msgmnb)",
				        c->ring_n, (unsigned long long)c->unread, lim->qbytes);
			} else {
				ipcx__errdetail_set(
				        "kernel.msgmnb: the System V queue holds at most %zu "
				        "bytes (msg_qbytes) and stayed full",
				        lim->qbytes);
			}
			return IPCX_ETIMEDOUT;
		}
		/* room or credit often comes within microseconds: yield for a short while,
		 * then sleep, 50 us doubling to 2 ms */
		if (spin_until == 0) {
			spin_until = now + SMQ_SPIN_NS;
		}
		if (now < spin_until) {
			sched_yield();
			continue;
		}
		smq_sleep_ns(step < deadline - now ? step : deadline - now,
		             c != NULL ? c->pidfd : -1);
		step = step * 2 > SMQ_BACKOFF_MAX_NS ? SMQ_BACKOFF_MAX_NS : step * 2;
	}
}

/* ---- send / recv ----------------------------------------------------------------------- */

static int
smq_send(ipcx_chan *cb, const void *buf, size_t len, int64_t deadline)
{
	smq_chan *c = (smq_chan *)cb;

	if (len > c->lim.payload_max) {
		smq_detail_size(&c->lim, len);
		return IPCX_EMSGSIZE;
	}
	if (atomic_load(&c->w.zero) || atomic_load(&c->peer_dead)) {
		return IPCX_ECLOSED;
	}
	/* the one copy of this side: into the msgbuf that msgsnd needs (mtype first) */
	c->tbuf->mtype = c->tx;
	c->tbuf->body[0] = SMQ_KIND_DATA;
	if (len > 0) {
		memcpy(c->tbuf->body + SMQ_HDR, buf, len);
	}
	return smq_put(c, c->qid, c->tbuf, SMQ_HDR + len, &c->lim, deadline);
}

static int
smq_send_prio(ipcx_chan *c, const void *buf, size_t len, unsigned prio, int64_t deadline)
{
	IPCX__UNUSED(prio); /* one mtype per direction: order is the queue's, FIFO */
	return smq_send(c, buf, len, deadline);
}

/* Deliver the message in rbuf (stash_len bytes) if it fits. */
static int
smq_deliver(smq_chan *c, void *buf, size_t cap, size_t *len)
{
	*len = c->stash_len;
	if (c->stash_len > cap) {
		/* kept: ipcx_chan_fd stays readable for it */
		smq_kick(&c->w);
		return IPCX_EMSGSIZE;
	}
	if (c->stash_len > 0) {
		memcpy(buf, c->rbuf->body + SMQ_HDR, c->stash_len);
	}
	c->stashed = false;
	return 0;
}

/* Take one message of ours without waiting: the one kept, the read-ahead, the queue.
 * IPCX_EAGAIN: none. */
static int
smq_take_locked(smq_chan *c, void *buf, size_t cap, size_t *len)
{
	ssize_t n;

	if (c->stashed) {
		return smq_deliver(c, buf, cap, len);
	}
	if (c->ahead_len > 0) {
		uint32_t n32;
		smq_ahead_copy_out(c, &n32, sizeof n32);
		smq_ahead_copy_out(c, c->rbuf->body, n32);
		n = (ssize_t)n32;
		goto got;
	}
	for (;;) {
		/* into our own buffer of the largest size, never the caller's: a message too
		 * long for the caller is kept here instead of being lost or left queued */
		n = msgrcv(c->qid, c->rbuf, SMQ_HDR + c->lim.payload_max, c->rx, IPC_NOWAIT);
		if (n >= 0) {
			break;
		}
		switch (errno) {
		case EINTR:
			continue;
		case ENOMSG:
			return IPCX_EAGAIN;
		case EIDRM:
		case EINVAL:
			return IPCX_ECLOSED; /* the queue was removed: the server side is gone */
		case E2BIG:
			/* longer than any message a peer of ours can send */
			smq_drain(c->qid, c->rx);
			c->rerr = IPCX_EPROTO;
			return IPCX_EPROTO;
		default:
			return ipcx__err(errno);
		}
	}
got:
	if (n == 0) {
		atomic_store(&c->w.zero, true); /* the peer's close marker: its last message */
		return IPCX_ECLOSED;
	}
	if (c->rbuf->body[0] != SMQ_KIND_DATA || (size_t)n - SMQ_HDR > c->base.max_msg) {
		c->rerr = IPCX_EPROTO;
		return IPCX_EPROTO;
	}
	/* it left the queue: the peer may send one more */
	if (atomic_fetch_add(&c->consumed, 1) + 1 - atomic_load(&c->credited) >= SMQ_BATCH) {
		smq_credit_give(c, false);
	}
	c->stashed = true;
	c->stash_len = (size_t)n - SMQ_HDR;
	return smq_deliver(c, buf, cap, len);
}

static int
smq_take(smq_chan *c, void *buf, size_t cap, size_t *len)
{
	int rv;

	pthread_mutex_lock(&c->rmu);
	rv = smq_take_locked(c, buf, cap, len);
	pthread_mutex_unlock(&c->rmu);
	return rv;
}

static int
smq_recv(ipcx_chan *cb, void *buf, size_t cap, size_t *len, int64_t deadline)
{
	smq_chan *c = (smq_chan *)cb;
	bool last_look = false, spun = false, owed;

	if (c->rerr != 0) {
		return c->rerr;
	}
	for (;;) {
		int rv = smq_take(c, buf, cap, len);
		if (rv != IPCX_EAGAIN) {
			return rv;
		}
		/* a marker is only ever taken when it is first in line: nothing precedes it */
		if (atomic_load(&c->w.zero) || last_look) {
			return IPCX_ECLOSED;
		}
		if (smq_peer_gone(c)) {
			/* what it sent before it died is queued: look once more */
			last_look = true;
			continue;
		}
		/* everything is read: whatever credit is still owed goes back now (and if the
		 * queue's message count refused it, the wait below is short, to try again) */
		owed = atomic_load(&c->consumed) != atomic_load(&c->credited) &&
		       !smq_credit_give(c, true);
		if (ipcx__now_ns() >= deadline) {
			/* an ipcx_chan_fd user must hear of the next message */
			if (smq_waiter_started(&c->w) && (rv = smq_waiter_arm(&c->w, false)) != 0) {
				return rv;
			}
			return IPCX_ETIMEDOUT;
		}
		/* A reply often comes within microseconds: look again, yielding the CPU, for a
		 * short while before handing the wait to the waiter thread (two thread
		 * wake-ups). */
		if (!spun) {
			int64_t until = ipcx__now_ns() + SMQ_SPIN_NS;
			spun = true;
			while ((rv = smq_take(c, buf, cap, len)) == IPCX_EAGAIN &&
			       ipcx__now_ns() < until && ipcx__now_ns() < deadline) {
				sched_yield();
			}
			if (rv != IPCX_EAGAIN) {
				return rv;
			}
			continue;
		}
		rv = smq_waiter_wait(&c->w, c->pidfd, deadline,
		                     owed           ? 2
		                     : c->pidfd < 0 ? SMQ_DEAD_POLL_MS
		                                    : -1,
		                     &c->peer_dead);
		if (rv != 0) {
			return rv;
		}
	}
}

static int
smq_fd(ipcx_chan *cb)
{
	smq_chan *c = (smq_chan *)cb;
	struct epoll_event ev = {.events = EPOLLIN};
	int ep, rv;

	if (c->pollfd >= 0) {
		return c->pollfd;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		return ipcx__err(errno);
	}
	ev.data.fd = c->w.evfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->w.evfd, &ev) == -1) {
		rv = ipcx__err(errno);
		goto fail_ep;
	}
	/* the peer's death makes the fd readable too (recv then says IPCX_ECLOSED) */
	ev.data.fd = c->pidfd;
	if (c->pidfd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, c->pidfd, &ev) == -1) {
		rv = ipcx__err(errno);
		goto fail_ep;
	}
	pthread_mutex_lock(&c->rmu);
	rv = smq_waiter_arm(&c->w, c->stashed || c->ahead_len > 0 || c->rerr != 0 ||
	                                   atomic_load(&c->w.zero));
	pthread_mutex_unlock(&c->rmu);
	if (rv != 0) {
		goto fail_ep;
	}
	c->pollfd = ep;
	return ep;
fail_ep:
	close(ep);
	return rv;
}

/* Remember a server channel whose client may still be reading, for the sweep and the
 * removal of the queue (the pidfd goes with the entry). */
static void
smq_linger_add(smq_chan *c)
{
	smq_queue *sq = c->sq;

	pthread_mutex_lock(&sq->mu);
	if (sq->nlg == sq->caplg && sq->caplg < SMQ_LINGER_MAX) {
		size_t ncap = sq->caplg ? sq->caplg * 2 : 16;
		smq_linger *nlg = realloc(sq->lg, ncap * sizeof *nlg);
		if (nlg != NULL) {
			sq->lg = nlg;
			sq->caplg = ncap;
		}
	}
	if (sq->nlg < sq->caplg) {
		sq->lg[sq->nlg++] = (smq_linger){
		        .base = c->rx, .pidfd = c->pidfd, .pid = c->peer_pid, .st = c->peer_st};
		c->pidfd = -1;
	}
	pthread_mutex_unlock(&sq->mu);
}

/* Closing ends the channel for the peer with a zero-byte marker after everything we sent,
 * and removes what was sent to us. The client's types belong to the pair: when both sides
 * are done, whoever learns it last drains all four. */
static void
smq_close(ipcx_chan *cb)
{
	smq_chan *c = (smq_chan *)cb;
	bool gone, their_marker;

	smq_chan_unlink(c);
	smq_waiter_fini(&c->w);
	gone = smq_peer_gone(c);
	/* A client sends its marker even when the server closed first: the server's sweep
	 * waits for it. A server does not answer a client that closed. */
	if (!gone && !(c->sq != NULL && atomic_load(&c->w.zero))) {
		smq_send_zero(c->qid, c->tx);
	}
	their_marker = smq_drain(c->qid, c->rx) || atomic_load(&c->w.zero);
	if (c->sq != NULL) {
		if (gone || their_marker) {
			smq_drain_client(c->qid, c->rx);
		} else {
			smq_drain(c->qid, c->tx_cred1);
			smq_drain(c->qid, c->tx_credk);
			smq_linger_add(c);
		}
	} else {
		/* our credit types; the server's data type keeps our marker for it */
		smq_drain(c->qid, c->rx_cred1);
		smq_drain(c->qid, c->rx_credk);
		smq_drain(c->qid, c->tx_cred1);
		smq_drain(c->qid, c->tx_credk);
	}
	smq_chan_free(c);
}

/* ---- listen / accept ------------------------------------------------------------------- */

/* Create the queue; a queue left by a creator that the registry knows to be dead is
 * removed and made again, any other existing one is IPCX_EADDRINUSE. */
static int
smq_create(int *qidp, key_t key, unsigned mode, const char *name)
{
	for (int tries = 0; tries < 3; tries++) {
		unsigned long long st;
		pid_t pid;
		int qid = msgget(key, IPC_CREAT | IPC_EXCL | (int)(mode & 0777));
		if (qid >= 0) {
			*qidp = qid;
			return 0;
		}
		if (errno == ENOSPC) {
			ipcx__errdetail_set("kernel.msgmni is %zu: no more System V message queues "
			                    "can be made",
			                    smq_sysctl("msgmni", 32000));
			return IPCX_ENOSPC;
		}
		if (errno != EEXIST) {
			return ipcx__err(errno);
		}
		if (ipcx__registry_lookup("sysv-msg", name, &pid, &st) != 0) {
			ipcx__errdetail_set("a System V message queue with key %s exists and no "
			                    "ipcx process of this user is recorded as its creator",
			                    name);
			return IPCX_EADDRINUSE;
		}
		if (ipcx__creator_state(pid, st) != IPCX_OBJ_DEAD) {
			ipcx__errdetail_set("the System V message queue %s is in use: its creator, "
			                    "pid %ld, is alive",
			                    name, (long)pid);
			return IPCX_EADDRINUSE;
		}
		/* stale: its creator died without removing it */
		if ((qid = msgget(key, 0)) >= 0 && msgctl(qid, IPC_RMID, NULL) == -1 &&
		    errno != EIDRM && errno != EINVAL) {
			return ipcx__err(errno);
		}
		ipcx__registry_remove("sysv-msg", name);
	}
	return IPCX_EADDRINUSE;
}

static int
smq_listen(ipcx_listener **lp, ipcx__url *u, const ipcx__opts *o)
{
	smq_listener *l;
	smq_queue *sq;
	unsigned proj;
	key_t key;
	int rv;

	if (o->raw) {
		return IPCX_ENOTSUP;
	}
	if ((rv = smq_key(&key, u, &proj)) != 0) {
		return rv;
	}
	if ((l = calloc(1, sizeof *l)) == NULL) {
		return IPCX_ENOMEM;
	}
	if (proj != 0) {
		size_t n;
		if ((rv = ipcx__url_format(l->url, sizeof l->url - 32, "sysvmq://", u->path)) !=
		    0) {
			goto fail_l;
		}
		n = strlen(l->url);
		snprintf(l->url + n, sizeof l->url - n, "?proj=%u", proj);
	} else {
		snprintf(l->url, sizeof l->url, "sysvmq:0x%08x", (unsigned)key);
	}
	if ((sq = calloc(1, sizeof *sq)) == NULL) {
		rv = IPCX_ENOMEM;
		goto fail_l;
	}
	if (pthread_mutex_init(&sq->mu, NULL) != 0) {
		rv = IPCX_ENOMEM;
		goto fail_sq;
	}
	sq->refs = 1;
	sq->keep = o->keep;
	smq_keyname(sq->name, sizeof sq->name, key);
	if ((rv = smq_create(&sq->qid, key, o->mode, sq->name)) != 0) {
		goto fail_mu;
	}
	if ((rv = smq_limits_get(&l->lim, sq->qid)) != 0) {
		goto fail_rmid;
	}
	if ((rv = smq_waiter_init(&l->w, sq->qid, SMQ_HELLO_TYPE)) != 0) {
		goto fail_rmid;
	}
	/* the registry is a record for `ipcx ls` / `ipcx rm --stale`, not a condition */
	sq->registered = ipcx__registry_add("sysv-msg", sq->name) == 0;
	l->sq = sq;
	l->key = key;
	l->base.tp = &ipcx__sysvmq;
	l->base.opts = *o;
	*lp = &l->base;
	return 0;
fail_rmid:
	msgctl(sq->qid, IPC_RMID, NULL);
fail_mu:
	pthread_mutex_destroy(&sq->mu);
fail_sq:
	free(sq);
fail_l:
	free(l);
	return rv;
}

static bool
smq_hello_ok(const smq_hello *h, unsigned char kind)
{
	return h->kind == kind && h->version == SMQ_VERSION && h->magic == SMQ_MAGIC &&
	       smq_id_ok(h->id) && h->pid > 0;
}

/* The next well-formed hello on mtype 1, without waiting. IPCX_EAGAIN: none. Anything
 * malformed (only a writer with access to the queue can put it there) is dropped. */
static int
smq_next_hello(int qid, smq_hello *h)
{
	struct {
		long mtype;
		unsigned char body[sizeof(smq_hello) + 1];
	} m;

	for (;;) {
		/* MSG_NOERROR: an oversized message is taken (truncated) and dropped, never
		 * left to block the queue's mtype 1 */
		ssize_t n =
		        msgrcv(qid, &m, sizeof m.body, SMQ_HELLO_TYPE, IPC_NOWAIT | MSG_NOERROR);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			if (errno == ENOMSG) {
				return IPCX_EAGAIN;
			}
			return errno == EINVAL ? IPCX_EIDRM : ipcx__err(errno);
		}
		if ((size_t)n == sizeof *h) {
			memcpy(h, m.body, sizeof *h);
			if (smq_hello_ok(h, SMQ_KIND_HELLO)) {
				return 0;
			}
		}
	}
}

/* Set up the channel of one client and acknowledge. Returns 0, 1 to skip a client that
 * gave up or died, IPCX_ETIMEDOUT if the ack did not fit the queue in time, or an error. */
static int
smq_accept_hello(smq_listener *l, const smq_hello *h, ipcx_chan **cp, int64_t deadline)
{
	long base = 8 * (long)h->id;
	smq_hmsg ack = {.mtype = base + 1};
	unsigned long long st;
	smq_chan *c;
	int pidfd, rv;

	/* a client whose dial timed out left a zero-byte marker on its type */
	if ((rv = smq_probe(l->sq->qid, base)) == SMQ_ZERO) {
		smq_drain_client(l->sq->qid, base);
		return 1;
	}
	if (rv < 0) {
		return IPCX_EIDRM;
	}
	if (smq_peer_open(h->pid, h->starttime, &pidfd) != 0) {
		smq_drain_client(l->sq->qid, base);
		return 1;
	}
	if ((rv = ipcx__self_starttime(&st)) != 0) {
		goto fail_pidfd;
	}
	rv = smq_chan_new(&c, l->sq->qid, l->key, base, &l->lim, &l->base.opts, l->sq);
	if (rv != 0) {
		goto fail_pidfd;
	}
	c->pidfd = pidfd;
	c->peer_pid = h->pid;
	c->peer_st = h->starttime;
	ack.h = (smq_hello){.kind = SMQ_KIND_ACK,
	                    .version = SMQ_VERSION,
	                    .magic = SMQ_MAGIC,
	                    .id = h->id,
	                    .starttime = st,
	                    .pid = (int32_t)getpid()};
	rv = smq_put(c, l->sq->qid, &ack, sizeof ack.h, &l->lim, deadline);
	if (rv != 0) {
		smq_chan_destroy(c);
		if (rv == IPCX_ECLOSED) {
			/* it gave up or died while we waited for room */
			smq_drain_client(l->sq->qid, base);
			return 1;
		}
		return rv;
	}
	/* the ack is not data: the client gives no credit for it */
	c->ring_n = 0;
	c->unread = 0;
	*cp = &c->base;
	return 0;
fail_pidfd:
	ipcx__close_fd(pidfd);
	return rv;
}

static int
smq_accept(ipcx_listener *lb, ipcx_chan **cp, int64_t deadline)
{
	smq_listener *l = (smq_listener *)lb;

	smq_queue_sweep(l->sq, false);
	for (;;) {
		smq_hello h;
		int rv;
		if (l->has_pending) {
			h = l->pending;
			l->has_pending = false;
		} else if ((rv = smq_next_hello(l->sq->qid, &h)) == IPCX_EAGAIN) {
			if (ipcx__now_ns() >= deadline) {
				if (smq_waiter_started(&l->w) &&
				    (rv = smq_waiter_arm(&l->w, false)) != 0) {
					return rv;
				}
				return IPCX_ETIMEDOUT;
			}
			if ((rv = smq_waiter_wait(&l->w, -1, deadline, -1, NULL)) != 0) {
				return rv;
			}
			continue;
		} else if (rv != 0) {
			return rv;
		}
		rv = smq_accept_hello(l, &h, cp, deadline);
		if (rv == 0) {
			return 0;
		}
		if (rv == IPCX_ETIMEDOUT) {
			/* the queue is full: keep the client for the next accept, and keep the
			 * listener fd readable for it */
			l->pending = h;
			l->has_pending = true;
			smq_kick(&l->w);
			return rv;
		}
		if (rv < 0) {
			return rv;
		}
	}
}

static void
smq_listener_close(ipcx_listener *lb)
{
	smq_listener *l = (smq_listener *)lb;
	int qid = l->sq->qid;
	smq_hello h;

	smq_waiter_fini(&l->w);
	/* Refuse the clients still waiting (a zero-byte message where they wait for the
	 * ack), so that their dials fail at once; one that gave up already left a marker. */
	while (l->has_pending || smq_next_hello(qid, &h) == 0) {
		long base;
		if (l->has_pending) {
			h = l->pending;
			l->has_pending = false;
		}
		base = 8 * (long)h.id;
		if (smq_probe(qid, base) == SMQ_ZERO) {
			smq_drain_client(qid, base);
		} else {
			smq_send_zero(qid, base + 1);
		}
	}
	smq_queue_release(l->sq);
	free(l);
}

static int
smq_listener_fd(ipcx_listener *lb)
{
	smq_listener *l = (smq_listener *)lb;
	int rv;

	/* started once; afterwards accept re-arms it whenever it finds no client */
	if (!smq_waiter_started(&l->w) && (rv = smq_waiter_arm(&l->w, l->has_pending)) != 0) {
		return rv;
	}
	return l->w.evfd;
}

static int
smq_listener_url(ipcx_listener *lb, char *buf, size_t cap)
{
	return ipcx__strlcpy(buf, ((smq_listener *)lb)->url, cap);
}

/* ---- dial ------------------------------------------------------------------------------ */

/* The registry of this user knows the queue's creator, and it is dead: nobody listens. */
static bool
smq_stale(key_t key)
{
	char name[16];
	unsigned long long st;
	pid_t pid;

	smq_keyname(name, sizeof name, key);
	return ipcx__registry_lookup("sysv-msg", name, &pid, &st) == 0 &&
	       ipcx__creator_state(pid, st) == IPCX_OBJ_DEAD;
}

/* Wait for the ack of our hello on c->rx. */
static int
smq_dial_wait_ack(smq_chan *c, long id, int64_t deadline)
{
	int64_t next_stale = ipcx__now_ns() + (int64_t)SMQ_STALE_POLL_MS * 1000000;

	for (;;) {
		smq_hello h;
		ssize_t n =
		        msgrcv(c->qid, c->rbuf, SMQ_HDR + c->lim.payload_max, c->rx, IPC_NOWAIT);
		int rv;
		if (n == 0) {
			return IPCX_ECONNREFUSED; /* the listener closed with our hello queued */
		}
		if (n > 0) {
			if ((size_t)n != sizeof h) {
				return IPCX_EPROTO;
			}
			memcpy(&h, c->rbuf->body, sizeof h);
			if (!smq_hello_ok(&h, SMQ_KIND_ACK) || h.id != id) {
				return IPCX_EPROTO;
			}
			c->peer_pid = h.pid;
			c->peer_st = h.starttime;
			return 0;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno == EIDRM || errno == EINVAL) {
			return IPCX_ECONNREFUSED;
		}
		if (errno != ENOMSG && errno != E2BIG) {
			return ipcx__err(errno);
		}
		if (errno == E2BIG) {
			return IPCX_EPROTO;
		}
		if (atomic_load(&c->w.zero)) {
			return IPCX_ECONNREFUSED; /* the waiter took the refusal */
		}
		if (ipcx__now_ns() >= deadline) {
			return IPCX_ETIMEDOUT;
		}
		if (ipcx__now_ns() >= next_stale) {
			if (smq_stale(c->key)) {
				return IPCX_ECONNREFUSED; /* the listener died */
			}
			next_stale = ipcx__now_ns() + (int64_t)SMQ_STALE_POLL_MS * 1000000;
		}
		if ((rv = smq_waiter_wait(&c->w, -1, deadline, SMQ_STALE_POLL_MS, NULL)) != 0) {
			return rv;
		}
	}
}

static int
smq_dial(ipcx_chan **cp, ipcx__url *u, const ipcx__opts *o, int64_t deadline)
{
	smq_hmsg hello = {.mtype = SMQ_HELLO_TYPE};
	unsigned long long st;
	smq_limits lim;
	smq_chan *c;
	unsigned proj;
	key_t key;
	long id;
	int qid, rv;

	if (o->raw) {
		return IPCX_ENOTSUP;
	}
	if ((rv = smq_key(&key, u, &proj)) != 0) {
		return rv;
	}
	if ((qid = msgget(key, 0)) == -1) {
		return errno == ENOENT ? IPCX_ECONNREFUSED : ipcx__err(errno);
	}
	if (smq_stale(key)) {
		char name[16];
		smq_keyname(name, sizeof name, key);
		ipcx__errdetail_set("the System V message queue %s is stale: its creator is gone "
		                    "(ipcx rm --stale removes it)",
		                    name);
		return IPCX_ECONNREFUSED;
	}
	if ((rv = smq_limits_get(&lim, qid)) != 0) {
		return rv;
	}
	if ((rv = ipcx__self_starttime(&st)) != 0) {
		return rv;
	}
	id = smq_new_id();
	if ((rv = smq_chan_new(&c, qid, key, 8 * id, &lim, o, NULL)) != 0) {
		return rv;
	}
	/* a dead process that had our id may have left messages on our types */
	smq_drain_client(qid, 8 * id);
	hello.h = (smq_hello){.kind = SMQ_KIND_HELLO,
	                      .version = SMQ_VERSION,
	                      .magic = SMQ_MAGIC,
	                      .id = id,
	                      .starttime = st,
	                      .pid = (int32_t)getpid()};
	if ((rv = smq_put(NULL, qid, &hello, sizeof hello.h, &lim, deadline)) != 0) {
		rv = rv == IPCX_ECLOSED ? IPCX_ECONNREFUSED : rv;
		goto fail_chan;
	}
	if ((rv = smq_dial_wait_ack(c, id, deadline)) != 0) {
		goto fail_hello;
	}
	if (smq_peer_open(c->peer_pid, c->peer_st, &c->pidfd) != 0) {
		rv = IPCX_ECONNREFUSED; /* the server died right after its ack */
		goto fail_chan;
	}
	*cp = &c->base;
	return 0;
fail_hello:
	if (rv != IPCX_ECONNREFUSED) {
		/* our hello may still be read: tell the listener that we gave up, so that it
		 * skips us, and take back an ack that may arrive */
		smq_send_zero(qid, c->tx);
		smq_drain(qid, c->rx);
		smq_drain(qid, c->rx_cred1);
		smq_drain(qid, c->rx_credk);
		smq_drain(qid, c->tx_cred1);
		smq_drain(qid, c->tx_credk);
	}
fail_chan:
	smq_chan_destroy(c);
	return rv;
}

/* The largest message a loan may hold: what one System V message carries (a larger send is
 * EMSGSIZE from smq_send, with the limit named in ipcx_errdetail). */
static size_t
smq_loan_max(ipcx_chan *cb)
{
	smq_chan *c = (smq_chan *)cb;

	return c->lim.payload_max < cb->max_msg ? c->lim.payload_max : cb->max_msg;
}

const struct ipcx__transport ipcx__sysvmq = {
        .version = IPCX__TRANSPORT_VERSION,
        .scheme = "sysvmq",
        .persistence = smq_persistence,
        .query_keys = smq_keys,
        .listen = smq_listen,
        .accept = smq_accept,
        .listener_close = smq_listener_close,
        .listener_fd = smq_listener_fd,
        .listener_url = smq_listener_url,
        .dial = smq_dial,
        .send = smq_send,
        .recv = smq_recv,
        .fd = smq_fd,
        .close = smq_close,
        .send_prio = smq_send_prio,
        .loan_max = smq_loan_max,
};
