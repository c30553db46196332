/*
 * lock.c - byte-range locks on a shared file (ipcx_lock, ipcx_unlock): open file description
 * locks, shared or exclusive, with a timeout the kernel's blocking lock call does not have.
 */
#include "../core/ipcx_int.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MAX_NS 5000000 /* 5 ms: the longest a waiter oversleeps a released lock */

int
ipcx__backoff(int64_t *step_ns, int64_t deadline)
{
	int64_t d = *step_ns;
	struct timespec ts;

	if (deadline != IPCX__FOREVER) {
		int64_t left = deadline - ipcx__now_ns();
		if (left <= 0) {
			return IPCX_ETIMEDOUT;
		}
		if (d > left) {
			d = left;
		}
	}
	ts.tv_sec = (time_t)(d / 1000000000);
	ts.tv_nsec = (long)(d % 1000000000);
	/* a signal cuts the sleep short: sleep the rest (the deadline bounds it anyway) */
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR) {
	}
	*step_ns = *step_ns >= BACKOFF_MAX_NS / 2 ? BACKOFF_MAX_NS : *step_ns * 2;
	return 0;
}

/*
 * Open file description locks (Linux 3.15) belong to the open file: two open()s of one
 * file conflict even in one process, closing another fd of the file keeps them, and a
 * forked child shares them. Where they are missing we fall back to classic
 * process-associated POSIX locks, which differ: locks of one process never conflict with
 * each other, and closing ANY fd of the file drops all of the process's locks on it.
 * Decided once per process, by the first fd locked.
 */
enum { LOCK_UNKNOWN, LOCK_OFD, LOCK_CLASSIC };
static atomic_int lock_kind;

static int
lock_probe(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int kind = atomic_load_explicit(&lock_kind, memory_order_relaxed);

	if (kind != LOCK_UNKNOWN) {
		return kind;
	}
	/* EINVAL from F_OFD_GETLK on an fd that F_GETLK accepts: the kernel lacks OFD locks.
	 * Any other outcome says nothing about the kernel and is left to the lock call. */
	if (fcntl(fd, F_OFD_GETLK, &fl) == 0) {
		kind = LOCK_OFD;
	} else if (errno == EINVAL) {
		struct flock fl2 = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		if (fcntl(fd, F_GETLK, &fl2) != 0) {
			return LOCK_OFD;
		}
		kind = LOCK_CLASSIC;
	} else {
		return LOCK_OFD;
	}
	atomic_store_explicit(&lock_kind, kind, memory_order_relaxed);
	return kind;
}

/* One fcntl; EINTR retried for the blocking form. Returns 0 or -1 with errno. */
static int
lock_fcntl(int fd, bool wait, struct flock *fl)
{
	bool classic = lock_probe(fd) == LOCK_CLASSIC;
	int cmd = classic ? (wait ? F_SETLKW : F_SETLK) : (wait ? F_OFD_SETLKW : F_OFD_SETLK);
	int rv;

	do {
		fl->l_pid = 0; /* OFD locks require 0 */
		rv = fcntl(fd, cmd, fl);
	} while (rv == -1 && errno == EINTR);
	return rv;
}

static int
lock_range(struct flock *fl, short type, off_t start, off_t len)
{
	/* negative lengths (a range before start) are legal for fcntl but not part of the
	 * contract; a range past the largest offset is EOVERFLOW from the kernel */
	if (start < 0 || len < 0) {
		return IPCX_EINVAL;
	}
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = start;
	fl->l_len = len;
	fl->l_pid = 0;
	return 0;
}

IPCX_API int
ipcx_lock(int fd, int type, off_t start, off_t len, int timeout_ms)
{
	int64_t deadline, step = IPCX__BACKOFF_MIN_NS;
	struct flock fl = {0};
	int rv;

	if (type != IPCX_LOCK_SH && type != IPCX_LOCK_EX) {
		return IPCX_EINVAL;
	}
	if ((rv = lock_range(&fl, type == IPCX_LOCK_SH ? F_RDLCK : F_WRLCK, start, len)) != 0) {
		return rv;
	}
	if (timeout_ms < 0) {
		/* forever: the kernel's own wait queue, woken the moment the lock is free */
		return lock_fcntl(fd, true, &fl) == 0 ? 0 : ipcx__err(errno);
	}
	/* F_OFD_SETLKW cannot time out: try, then poll with a bounded backoff. A polling
	 * waiter is not queued, so under steady contention blocking waiters may get the lock
	 * first. */
	deadline = ipcx__deadline(timeout_ms);
	for (;;) {
		if (lock_fcntl(fd, false, &fl) == 0) {
			return 0;
		}
		if (errno != EAGAIN && errno != EACCES) {
			return ipcx__err(errno);
		}
		if (ipcx__backoff(&step, deadline) != 0) {
			return IPCX_ETIMEDOUT;
		}
	}
}

IPCX_API int
ipcx_unlock(int fd, off_t start, off_t len)
{
	struct flock fl = {0};
	int rv;

	if ((rv = lock_range(&fl, F_UNLCK, start, len)) != 0) {
		return rv;
	}
	return lock_fcntl(fd, false, &fl) == 0 ? 0 : ipcx__err(errno);
}
