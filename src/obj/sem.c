/*
 * sem.c - semaphores (ipcx_sem_*): POSIX named (sem_open), POSIX unnamed process-shared in
 * an ipcx_shm segment (sem_init), and System V (semget, every operation with SEM_UNDO).
 */
#include "../core/ipcx_int.h"

#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long an opener of a System V set waits for its creator to initialise it. */
#define SEM_OPEN_WAIT_MS 1000
#define SEM_RACE_TRIES   100
/* SEMVMX, the largest value of a System V semaphore, and SEMAEM, the largest undo
 * adjustment (the kernel allows -(SEMAEM + 1) .. SEMAEM): both 32767, fixed in the kernel,
 * not sysctls. */
#define SEM_SYSV_VMX 32767

enum { SEM_NAMED = 1, SEM_UNNAMED, SEM_SYSV };

struct ipcx_sem {
	int type;
	sem_t *sem; /* named: from sem_open; unnamed: inside the segment */
	int semid;  /* System V */
	bool binary;
	bool created;
	bool keep;
	pid_t creator; /* only the creating process removes it: not a forked child */
	dev_t dev;     /* named: the file glibc made for it (/dev/shm/sem.ipcx.NAME), */
	ino_t ino;     /* so that close never removes a successor that took the name */
	char id[IPCX__OBJ_ID_MAX];
};

/* Linux's semctl wants the caller to define it. */
union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static void
sem_read_sysctl_sem(unsigned long long v[4])
{
	FILE *f = fopen("/proc/sys/kernel/sem", "re");

	v[0] = v[1] = v[2] = v[3] = 0;
	if (f != NULL) {
		if (fscanf(f, "%llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3]) != 4) {
			v[0] = v[1] = v[2] = v[3] = 0;
		}
		fclose(f);
	}
}

/* ---- POSIX named ---------------------------------------------------------------------- */

/* glibc keeps a named semaphore as /dev/shm/sem.NAME. Opened to set the exact mode (sem_open
 * filters it through the umask) and to remember which file we created. Best effort: a
 * C library that keeps it elsewhere just gets umask-filtered bits. */
static void
sem_named_fixup(ipcx_sem *s, unsigned mode)
{
	char path[sizeof "/dev/shm/sem." + IPCX__OBJ_ID_MAX];
	struct stat st;
	int fd;

	snprintf(path, sizeof path, "/dev/shm/sem.%s", s->id + 1);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		return;
	}
	/* /dev/shm is sticky: only its owner can have replaced the file since sem_open */
	if (fstat(fd, &st) == 0 && st.st_uid == geteuid()) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
		(void)fchmod(fd, mode);
	}
	close(fd);
}

static int
sem_named_open(ipcx_sem *s, unsigned value, int flags, unsigned mode)
{
	sem_t *p;

	if (value > SEM_VALUE_MAX) {
		ipcx__errdetail_set(
		        "SEM_VALUE_MAX is %d; a POSIX semaphore of value %u was asked for",
		        SEM_VALUE_MAX, value);
		return IPCX_EINVAL;
	}
	for (int tries = 0;; tries++) {
		if (flags & IPCX_CREATE) {
			/* glibc builds the semaphore in a temporary file and links it into place:
			 * no one ever opens a half-initialised one */
			p = sem_open(s->id, O_CREAT | O_EXCL, (mode_t)mode, value);
			if (p != SEM_FAILED) {
				s->created = true;
				break;
			}
			if (errno != EEXIST || (flags & IPCX_EXCL)) {
				return ipcx__err(errno);
			}
		}
		p = sem_open(s->id, 0);
		if (p != SEM_FAILED) {
			break;
		}
		if (errno != ENOENT || !(flags & IPCX_CREATE) || tries >= SEM_RACE_TRIES) {
			return ipcx__err(errno);
		}
	}
	s->sem = p;
	if (s->created) {
		sem_named_fixup(s, mode);
	}
	return 0;
}

/* Remove the named semaphore this handle created, unless the name now names another. */
static void
sem_named_remove_own(const ipcx_sem *s)
{
	char path[sizeof "/dev/shm/sem." + IPCX__OBJ_ID_MAX];
	struct stat st;

	snprintf(path, sizeof path, "/dev/shm/sem.%s", s->id + 1);
	if (s->ino != 0 && (lstat(path, &st) != 0 || st.st_dev != s->dev || st.st_ino != s->ino)) {
		return;
	}
	sem_unlink(s->id);
}

/* ---- System V ------------------------------------------------------------------------- */

static int
sem_sysv_err(int e)
{
	unsigned long long v[4];

	if (e == ENOSPC) {
		sem_read_sysctl_sem(v);
		ipcx__errdetail_set("kernel.sem: SEMMNI (%llu sets) or SEMMNS (%llu semaphores) is "
		                    "exhausted",
		                    v[3], v[1]);
	}
	return ipcx__err(e);
}

/*
 * semget creates a set with value 0 and sem_otime 0; the creator then gives it its value
 * with a semop (not SETVAL, which leaves sem_otime 0). An opener waits (bounded) until
 * sem_otime is nonzero, so it never uses a set whose creator has not set the value yet.
 * This is the classic protocol (Stevens, UNP vol. 2, 11.2).
 */
static int
sem_sysv_init(int semid, unsigned value)
{
	struct sembuf op = {.sem_num = 0, .sem_op = (short)value, .sem_flg = 0};

	if (value == 0) {
		/* wait-for-zero on 0 succeeds at once and, like any semop, sets sem_otime */
		op.sem_flg = IPC_NOWAIT;
	}
	/* no SEM_UNDO: the initial value must outlive the creator */
	return semop(semid, &op, 1) == 0 ? 0 : ipcx__err(errno);
}

static int
sem_sysv_wait_ready(ipcx_sem *s)
{
	int64_t deadline = ipcx__deadline(SEM_OPEN_WAIT_MS);
	int64_t step = IPCX__BACKOFF_MIN_NS;
	struct semid_ds ds;
	union semun arg = {.buf = &ds};

	for (;;) {
		if (semctl(s->semid, 0, IPC_STAT, arg) == -1) {
			return ipcx__err(errno);
		}
		if (ds.sem_otime != 0) {
			return 0;
		}
		if (ipcx__backoff(&step, deadline) != 0) {
			ipcx__errdetail_set(
			        "System V semaphore %s was not initialised within %d ms "
			        "(no semop on it yet): its creator did not finish "
			        "creating it",
			        s->id, SEM_OPEN_WAIT_MS);
			return IPCX_EAGAIN;
		}
	}
}

static int
sem_sysv_open(ipcx_sem *s, key_t key, unsigned value, int flags, unsigned mode)
{
	int rv;

	if (value > SEM_SYSV_VMX) {
		ipcx__errdetail_set("SEMVMX is %d; a System V semaphore of value %u was asked for",
		                    SEM_SYSV_VMX, value);
		return IPCX_ERANGE;
	}
	for (int tries = 0;; tries++) {
		if (flags & IPCX_CREATE) {
			/* semget's mode is not filtered by the umask */
			s->semid = semget(key, 1, IPC_CREAT | IPC_EXCL | (int)mode);
			if (s->semid >= 0) {
				s->created = true;
				break;
			}
			if (errno != EEXIST || (flags & IPCX_EXCL)) {
				return sem_sysv_err(errno);
			}
		}
		s->semid = semget(key, 0, 0);
		if (s->semid >= 0) {
			break;
		}
		if (errno != ENOENT || !(flags & IPCX_CREATE) || tries >= SEM_RACE_TRIES) {
			return ipcx__err(errno);
		}
	}
	if (!s->created) {
		return sem_sysv_wait_ready(s);
	}
	if ((rv = sem_sysv_init(s->semid, value)) != 0) {
		semctl(s->semid, 0, IPC_RMID);
		return rv;
	}
	return 0;
}

/* Why a SEM_UNDO operation failed with ERANGE: the value (a post), or this process's
 * adjustment (either). */
static int
sem_sysv_range_err(ipcx_sem *s, bool post)
{
	if (post && semctl(s->semid, 0, GETVAL) >= SEM_SYSV_VMX) {
		ipcx__errdetail_set("SEMVMX is %d: System V semaphore %s is at its largest value",
		                    SEM_SYSV_VMX, s->id);
	} else {
		/* the kernel keeps the adjustment within -(SEMAEM + 1) .. SEMAEM */
		ipcx__errdetail_set("SEMAEM is %d: this process's SEM_UNDO adjustment of %s would "
		                    "leave -%d..%d (it posted %d more times than it waited, or "
		                    "waited %d more times than it posted)",
		                    SEM_SYSV_VMX, s->id, SEM_SYSV_VMX + 1, SEM_SYSV_VMX,
		                    SEM_SYSV_VMX + 1, SEM_SYSV_VMX);
	}
	return IPCX_ERANGE;
}

static int
sem_sysv_wait(ipcx_sem *s, int timeout_ms)
{
	struct sembuf op = {.sem_num = 0, .sem_op = -1, .sem_flg = SEM_UNDO};
	int64_t deadline = ipcx__deadline(timeout_ms);
	struct timespec ts, *tsp = NULL;

	if (timeout_ms == 0) {
		op.sem_flg |= IPC_NOWAIT;
	}
	for (;;) {
		if (timeout_ms > 0) {
			int64_t left = deadline - ipcx__now_ns();
			if (left <= 0) {
				/* the time is up, but one more try costs nothing and never waits */
				op.sem_flg |= IPC_NOWAIT;
				left = 0;
			}
			ts.tv_sec = (time_t)(left / 1000000000);
			ts.tv_nsec = (long)(left % 1000000000);
			tsp = &ts;
		}
		if (semtimedop(s->semid, &op, 1, tsp) == 0) {
			return 0;
		}
		if (errno == EINTR) {
			continue; /* with the time that is left */
		}
		if (errno == EAGAIN) {
			return IPCX_ETIMEDOUT;
		}
		if (errno == ERANGE) {
			return sem_sysv_range_err(s, false);
		}
		return ipcx__err(errno);
	}
}

static int
sem_sysv_post(ipcx_sem *s)
{
	/* binary: "if the value is 0, add 1" as one atomic semop (all operations of one call
	 * succeed or none does); EAGAIN then means it was 1 already */
	struct sembuf ops[2] = {
	        {.sem_num = 0, .sem_op = 0, .sem_flg = IPC_NOWAIT},
	        {.sem_num = 0, .sem_op = 1, .sem_flg = SEM_UNDO},
	};
	struct sembuf *op = s->binary ? ops : ops + 1;
	size_t n = s->binary ? 2 : 1;

	for (;;) {
		if (semop(s->semid, op, n) == 0) {
			return 0;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno == EAGAIN && s->binary) {
			return 0;
		}
		if (errno == ERANGE) {
			return sem_sysv_range_err(s, true);
		}
		return ipcx__err(errno);
	}
}

/* ---- POSIX (named and unnamed) -------------------------------------------------------- */

static int
sem_posix_wait(ipcx_sem *s, int timeout_ms)
{
	struct timespec ts;
	int64_t deadline;
	int rv;

	if (timeout_ms == 0) {
		do {
			rv = sem_trywait(s->sem);
		} while (rv == -1 && errno == EINTR);
		if (rv == -1) {
			return errno == EAGAIN ? IPCX_ETIMEDOUT : ipcx__err(errno);
		}
		return 0;
	}
	if (timeout_ms < 0) {
		do {
			rv = sem_wait(s->sem);
		} while (rv == -1 && errno == EINTR);
		return rv == 0 ? 0 : ipcx__err(errno);
	}
	/* an absolute CLOCK_MONOTONIC deadline: a wall-clock jump neither shortens nor
	 * stretches the wait, and an EINTR retry waits only for the time left */
	deadline = ipcx__deadline(timeout_ms);
	ts.tv_sec = (time_t)(deadline / 1000000000);
	ts.tv_nsec = (long)(deadline % 1000000000);
	do {
		rv = sem_clockwait(s->sem, CLOCK_MONOTONIC, &ts);
	} while (rv == -1 && errno == EINTR);
	if (rv == -1) {
		return errno == ETIMEDOUT ? IPCX_ETIMEDOUT : ipcx__err(errno);
	}
	return 0;
}

static int
sem_posix_post(ipcx_sem *s)
{
	int v;

	/* binary: post only when the value is 0. Without a compare-and-swap on glibc's sem_t
	 * this is check-then-post: two posts that race through the check both add 1. */
	if (s->binary && sem_getvalue(s->sem, &v) == 0 && v > 0) {
		return 0;
	}
	if (sem_post(s->sem) == -1) {
		if (errno == EOVERFLOW) {
			ipcx__errdetail_set("SEM_VALUE_MAX is %d: semaphore %s is at its largest "
			                    "value",
			                    SEM_VALUE_MAX, s->id);
		}
		return ipcx__err(errno);
	}
	return 0;
}

/* ---- public --------------------------------------------------------------------------- */

static int
sem_alloc(ipcx_sem **sp, int type, int flags)
{
	ipcx_sem *s = calloc(1, sizeof *s);

	if (s == NULL) {
		return IPCX_ENOMEM;
	}
	s->type = type;
	s->semid = -1;
	s->binary = (flags & IPCX_SEM_BINARY) != 0;
	s->keep = (flags & IPCX_KEEP) != 0;
	s->creator = getpid();
	*sp = s;
	return 0;
}

IPCX_API int
ipcx_sem_open(ipcx_sem **sp, const char *name, unsigned value, int flags, unsigned mode)
{
	ipcx__objname n;
	ipcx_sem *s;
	int rv;

	if (sp == NULL) {
		return IPCX_EINVAL;
	}
	*sp = NULL;
	ipcx__errdetail_clear();
	if ((flags & ~(IPCX_CREATE | IPCX_EXCL | IPCX_KEEP | IPCX_SEM_BINARY)) != 0 ||
	    ((flags & IPCX_EXCL) && !(flags & IPCX_CREATE)) || (mode & ~0777u) != 0) {
		return IPCX_EINVAL;
	}
	if ((flags & IPCX_CREATE) && (flags & IPCX_SEM_BINARY) && value > 1) {
		return IPCX_EINVAL;
	}
	if (!(flags & IPCX_CREATE)) {
		value = 0; /* only a creator sets the value */
	}
	if ((rv = ipcx__objname_parse(&n, name)) != 0) {
		return rv;
	}
	if ((rv = sem_alloc(&s, n.ns == IPCX__NS_POSIX ? SEM_NAMED : SEM_SYSV, flags)) != 0) {
		return rv;
	}
	memcpy(s->id, n.id, sizeof s->id);
	if (mode == 0) {
		mode = 0600;
	}
	if (n.ns == IPCX__NS_POSIX) {
		rv = sem_named_open(s, value, flags, mode);
	} else {
		rv = sem_sysv_open(s, n.key, value, flags, mode);
	}
	if (rv != 0) {
		free(s);
		return rv;
	}
	if (s->created) {
		/* no room for a header in a semaphore: the registry records the creator. Best
		 * effort: a registry that cannot be written must not stop IPC. */
		(void)ipcx__registry_add(s->type == SEM_NAMED ? "posix-sem" : "sysv-sem", s->id);
	}
	*sp = s;
	return 0;
}

IPCX_API int
ipcx_sem_init_shm(ipcx_sem **sp, ipcx_shm *shm, size_t offset, unsigned value, int flags)
{
	ipcx_sem *s;
	size_t size;
	int rv;

	if (sp == NULL) {
		return IPCX_EINVAL;
	}
	*sp = NULL;
	ipcx__errdetail_clear();
	if (shm == NULL || (flags & ~(IPCX_CREATE | IPCX_SEM_BINARY)) != 0 || offset % 64 != 0) {
		return IPCX_EINVAL;
	}
	size = ipcx_shm_size(shm);
	if (offset > size || size - offset < sizeof(sem_t)) {
		ipcx__errdetail_set(
		        "a semaphore at offset %zu needs %zu bytes; the segment has %zu", offset,
		        sizeof(sem_t), size);
		return IPCX_EINVAL;
	}
	if ((flags & IPCX_CREATE) &&
	    (value > SEM_VALUE_MAX || ((flags & IPCX_SEM_BINARY) && value > 1))) {
		if (value > SEM_VALUE_MAX) {
			ipcx__errdetail_set(
			        "SEM_VALUE_MAX is %d; a semaphore of value %u was asked "
			        "for",
			        SEM_VALUE_MAX, value);
		}
		return IPCX_EINVAL;
	}
	if ((rv = sem_alloc(&s, SEM_UNNAMED, flags)) != 0) {
		return rv;
	}
	s->sem = (sem_t *)((unsigned char *)ipcx_shm_ptr(shm) + offset);
	snprintf(s->id, sizeof s->id, "(offset %zu of a segment)", offset);
	if ((flags & IPCX_CREATE) && sem_init(s->sem, 1, value) == -1) {
		rv = ipcx__err(errno);
		free(s);
		return rv;
	}
	*sp = s;
	return 0;
}

IPCX_API int
ipcx_sem_wait(ipcx_sem *s, int timeout_ms)
{
	if (s == NULL) {
		return IPCX_EINVAL;
	}
	return s->type == SEM_SYSV ? sem_sysv_wait(s, timeout_ms) : sem_posix_wait(s, timeout_ms);
}

IPCX_API int
ipcx_sem_post(ipcx_sem *s)
{
	if (s == NULL) {
		return IPCX_EINVAL;
	}
	return s->type == SEM_SYSV ? sem_sysv_post(s) : sem_posix_post(s);
}

IPCX_API int
ipcx_sem_value(ipcx_sem *s, unsigned *value)
{
	int v;

	if (s == NULL || value == NULL) {
		return IPCX_EINVAL;
	}
	if (s->type == SEM_SYSV) {
		if ((v = semctl(s->semid, 0, GETVAL)) == -1) {
			return ipcx__err(errno);
		}
	} else if (sem_getvalue(s->sem, &v) == -1) {
		return ipcx__err(errno);
	}
	/* glibc reports 0, never the negative count of waiters POSIX allows */
	*value = v < 0 ? 0 : (unsigned)v;
	return 0;
}

IPCX_API void
ipcx_sem_close(ipcx_sem *s)
{
	bool remove;

	if (s == NULL) {
		return;
	}
	remove = s->created && !s->keep && s->creator == getpid();
	switch (s->type) {
	case SEM_NAMED:
		sem_close(s->sem);
		if (remove) {
			sem_named_remove_own(s);
			(void)ipcx__registry_forget("posix-sem", s->id);
		}
		break;
	case SEM_SYSV:
		/* by id: a set created later under the same key is another id */
		if (remove) {
			semctl(s->semid, 0, IPC_RMID);
			(void)ipcx__registry_forget("sysv-sem", s->id);
		}
		break;
	default:
		/* unnamed: it lives and dies with its segment; sem_destroy would break the
		 * other processes that still use it */
		break;
	}
	free(s);
}

IPCX_API int
ipcx_sem_unlink(const char *name)
{
	ipcx__objname n;
	int rv, id;

	ipcx__errdetail_clear();
	if ((rv = ipcx__objname_parse(&n, name)) != 0) {
		return rv;
	}
	if (n.ns == IPCX__NS_POSIX) {
		if (sem_unlink(n.id) == -1) {
			return ipcx__err(errno);
		}
		(void)ipcx__registry_remove("posix-sem", n.id);
		return 0;
	}
	if ((id = semget(n.key, 0, 0)) == -1 || semctl(id, 0, IPC_RMID) == -1) {
		return ipcx__err(errno);
	}
	(void)ipcx__registry_remove("sysv-sem", n.id);
	return 0;
}
