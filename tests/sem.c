/*
 * sem.c - ipcx_sem across real processes: POSIX named, POSIX unnamed in a segment and
 * System V; exact counts under a binary semaphore, counting bounds, timed waits, SEM_UNDO
 * after SIGKILL, creation flags, modes, limits named in the error detail, the registry.
 */
#include "testutil.h"

#include "core/ipcx_int.h"

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS   TU_WAIT_MS
#define NPROC     8
#define NINCR     100000
#define SHM_BYTES 4096

/* The semaphore variants every behaviour is checked on. */
enum { V_NAMED, V_UNNAMED, V_SYSV };

static void
posix_name(char *buf, size_t cap)
{
	snprintf(buf, cap, "t-sem-%d-%u", (int)getpid(), tu_next());
}

/* A System V key unique among live test processes: pid and a counter. */
static void
sysv_name(char *buf, size_t cap)
{
	unsigned key = 0x80000000u | ((unsigned)getpid() << 8) | (tu_next() & 0xffu);

	snprintf(buf, cap, "sysv:0x%08x", key);
}

/* One semaphore of a variant with its segment (the unnamed one's home, and the shared
 * counter of the increment test). */
typedef struct sem_fix {
	int variant;
	char sem_name[64];
	char shm_name[64];
	ipcx_shm *shm;
	ipcx_sem *sem;
} sem_fix;

static int
fix_create(sem_fix *f, int variant, unsigned value, int flags)
{
	memset(f, 0, sizeof *f);
	f->variant = variant;
	posix_name(f->shm_name, sizeof f->shm_name);
	TRY_RV(ipcx_shm_open(&f->shm, f->shm_name, SHM_BYTES, IPCX_CREATE | IPCX_EXCL, 0), 0);
	memset(ipcx_shm_ptr(f->shm), 0, SHM_BYTES);
	switch (variant) {
	case V_NAMED:
		posix_name(f->sem_name, sizeof f->sem_name);
		TRY_RV(ipcx_sem_open(&f->sem, f->sem_name, value, flags | IPCX_CREATE | IPCX_EXCL,
		                     0),
		       0);
		break;
	case V_SYSV:
		sysv_name(f->sem_name, sizeof f->sem_name);
		TRY_RV(ipcx_sem_open(&f->sem, f->sem_name, value, flags | IPCX_CREATE | IPCX_EXCL,
		                     0),
		       0);
		break;
	default:
		TRY_RV(ipcx_sem_init_shm(&f->sem, f->shm, 64, value, flags | IPCX_CREATE), 0);
		break;
	}
	return 0;
}

/* In another process: open the same semaphore (and segment) by name. */
static int
fix_open(sem_fix *f, const sem_fix *of, int flags)
{
	memset(f, 0, sizeof *f);
	f->variant = of->variant;
	memcpy(f->shm_name, of->shm_name, sizeof f->shm_name);
	memcpy(f->sem_name, of->sem_name, sizeof f->sem_name);
	TRY_RV(ipcx_shm_open(&f->shm, f->shm_name, 0, 0, 0), 0);
	if (f->variant == V_UNNAMED) {
		TRY_RV(ipcx_sem_init_shm(&f->sem, f->shm, 64, 0, flags), 0);
	} else {
		TRY_RV(ipcx_sem_open(&f->sem, f->sem_name, 0, flags, 0), 0);
	}
	return 0;
}

static void
fix_close(sem_fix *f)
{
	ipcx_sem_close(f->sem);
	ipcx_shm_close(f->shm);
	f->sem = NULL;
	f->shm = NULL;
}

/* ---- exact totals under a binary semaphore -------------------------------------------- */

static int
increment_worker(const sem_fix *of, int n)
{
	volatile uint64_t *ctr;
	sem_fix f;

	TRY_OK(fix_open(&f, of, IPCX_SEM_BINARY));
	ctr = (volatile uint64_t *)((unsigned char *)ipcx_shm_ptr(f.shm) + 2048);
	for (int i = 0; i < n; i++) {
		TRY_RV(ipcx_sem_wait(f.sem, WAIT_MS), 0);
		/* a plain read-modify-write: only mutual exclusion makes the total exact */
		*ctr = *ctr + 1;
		TRY_RV(ipcx_sem_post(f.sem), 0);
	}
	fix_close(&f);
	return 0;
}

static void
run_increments(int variant)
{
	pid_t kids[NPROC];
	uint64_t total;
	unsigned v;
	sem_fix f;

	assert_int_equal(fix_create(&f, variant, 1, IPCX_SEM_BINARY), 0);
	for (int i = 0; i < NPROC; i++) {
		kids[i] = tu_fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			tu_child_exit(increment_worker(&f, NINCR));
		}
	}
	for (int i = 0; i < NPROC; i++) {
		assert_int_equal(tu_wait(kids[i], 180000), 0);
	}
	total = *(volatile uint64_t *)((unsigned char *)ipcx_shm_ptr(f.shm) + 2048);
	assert_int_equal(total, (uint64_t)NPROC * NINCR);
	assert_rv(ipcx_sem_value(f.sem, &v), 0);
	assert_int_equal(v, 1);
	fix_close(&f);
}

static void
test_named_binary_exact_total(void **state)
{
	run_increments(V_NAMED);
}

static void
test_unnamed_binary_exact_total(void **state)
{
	run_increments(V_UNNAMED);
}

static void
test_sysv_binary_exact_total(void **state)
{
	run_increments(V_SYSV);
}

/* ---- counting semaphores ---------------------------------------------------------------- */

/* A child posts k times and stays alive until told to go: a System V poster that exits
 * takes its posts back (SEM_UNDO), which a test of its own pins. */
static int
post_worker(const sem_fix *of, int k, int ready_fd, int go_fd)
{
	char b = 0;
	sem_fix f;

	TRY_OK(fix_open(&f, of, 0));
	for (int i = 0; i < k; i++) {
		TRY_RV(ipcx_sem_post(f.sem), 0);
	}
	TRY(tu_put(ready_fd, &b, 1) == 0, "ready");
	TRY(tu_get(go_fd, &b, 1, WAIT_MS) == 0, "go");
	fix_close(&f);
	return 0;
}

static void
run_counting_bounds(int variant)
{
	int ready[2], go[2];
	unsigned v;
	char b = 0;
	sem_fix f;
	pid_t pid;

	assert_int_equal(fix_create(&f, variant, 0, 0), 0);
	tu_pipe(ready);
	tu_pipe(go);
	pid = tu_fork();
	if (pid == 0) {
		tu_child_exit(post_worker(&f, 5, ready[1], go[0]));
	}
	assert_int_equal(tu_get(ready[0], &b, 1, WAIT_MS), 0);
	assert_rv(ipcx_sem_value(f.sem, &v), 0);
	assert_int_equal(v, 5);
	for (int i = 0; i < 5; i++) {
		assert_rv(ipcx_sem_wait(f.sem, 0), 0);
		assert_rv(ipcx_sem_value(f.sem, &v), 0);
		assert_int_equal(v, 4 - i);
	}
	/* five posted, five taken: the sixth try fails at once */
	assert_rv(ipcx_sem_wait(f.sem, 0), IPCX_ETIMEDOUT);
	assert_rv(ipcx_sem_value(f.sem, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(tu_put(go[1], &b, 1), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	tu_close(ready[0]);
	tu_close(ready[1]);
	tu_close(go[0]);
	tu_close(go[1]);
	fix_close(&f);
}

static void
test_named_counting_bounds(void **state)
{
	run_counting_bounds(V_NAMED);
}

static void
test_unnamed_counting_bounds(void **state)
{
	run_counting_bounds(V_UNNAMED);
}

static void
test_sysv_counting_bounds(void **state)
{
	run_counting_bounds(V_SYSV);
}

static void
run_initial_value(int variant)
{
	unsigned v;
	sem_fix f;

	assert_int_equal(fix_create(&f, variant, 3, 0), 0);
	assert_rv(ipcx_sem_value(f.sem, &v), 0);
	assert_int_equal(v, 3);
	for (int i = 0; i < 3; i++) {
		assert_rv(ipcx_sem_wait(f.sem, 0), 0);
	}
	assert_rv(ipcx_sem_wait(f.sem, 0), IPCX_ETIMEDOUT);
	fix_close(&f);
}

static void
test_named_initial_value(void **state)
{
	run_initial_value(V_NAMED);
}

static void
test_unnamed_initial_value(void **state)
{
	run_initial_value(V_UNNAMED);
}

static void
test_sysv_initial_value(void **state)
{
	run_initial_value(V_SYSV);
}

/* ---- binary semaphores ------------------------------------------------------------------ */

static void
run_binary_saturates(int variant)
{
	unsigned v;
	sem_fix f;

	assert_int_equal(fix_create(&f, variant, 0, IPCX_SEM_BINARY), 0);
	assert_rv(ipcx_sem_post(f.sem), 0);
	assert_rv(ipcx_sem_post(f.sem), 0);
	assert_rv(ipcx_sem_post(f.sem), 0);
	assert_rv(ipcx_sem_value(f.sem, &v), 0);
	assert_int_equal(v, 1);
	assert_rv(ipcx_sem_wait(f.sem, 0), 0);
	assert_rv(ipcx_sem_wait(f.sem, 0), IPCX_ETIMEDOUT);
	fix_close(&f);
}

static void
test_named_binary_saturates(void **state)
{
	run_binary_saturates(V_NAMED);
}

static void
test_unnamed_binary_saturates(void **state)
{
	run_binary_saturates(V_UNNAMED);
}

static void
test_sysv_binary_saturates(void **state)
{
	run_binary_saturates(V_SYSV);
}

static void
test_binary_value_above_one_rejected(void **state)
{
	char name[64], sname[64];
	ipcx_shm *shm;
	ipcx_sem *s;

	posix_name(name, sizeof name);
	assert_rv(ipcx_sem_open(&s, name, 2, IPCX_CREATE | IPCX_SEM_BINARY, 0), IPCX_EINVAL);
	assert_null(s);
	sysv_name(sname, sizeof sname);
	assert_rv(ipcx_sem_open(&s, sname, 2, IPCX_CREATE | IPCX_SEM_BINARY, 0), IPCX_EINVAL);
	posix_name(name, sizeof name);
	assert_rv(ipcx_shm_open(&shm, name, SHM_BYTES, IPCX_CREATE | IPCX_EXCL, 0), 0);
	assert_rv(ipcx_sem_init_shm(&s, shm, 0, 2, IPCX_CREATE | IPCX_SEM_BINARY), IPCX_EINVAL);
	ipcx_shm_close(shm);
}

/* ---- timed waits ------------------------------------------------------------------------ */

static void
run_timed_wait_times_out(int variant)
{
	unsigned v;
	sem_fix f;

	assert_int_equal(fix_create(&f, variant, 0, 0), 0);
	assert_rv(ipcx_sem_wait(f.sem, 30), IPCX_ETIMEDOUT);
	assert_rv(ipcx_sem_wait(f.sem, 0), IPCX_ETIMEDOUT);
	assert_rv(ipcx_sem_value(f.sem, &v), 0);
	assert_int_equal(v, 0);
	fix_close(&f);
}

static void
test_named_timed_wait_times_out(void **state)
{
	run_timed_wait_times_out(V_NAMED);
}

static void
test_unnamed_timed_wait_times_out(void **state)
{
	run_timed_wait_times_out(V_UNNAMED);
}

static void
test_sysv_timed_wait_times_out(void **state)
{
	run_timed_wait_times_out(V_SYSV);
}

/* The parent announces that it is about to wait; the child posts. Whether the post comes
 * before or during the wait, the wait must succeed (with a timeout, and forever). */
static void
run_wait_posted_by_other(int variant, int timeout_ms)
{
	int ready[2], go[2];
	char b = 0;
	sem_fix f;
	pid_t pid;

	assert_int_equal(fix_create(&f, variant, 0, 0), 0);
	tu_pipe(ready);
	tu_pipe(go);
	pid = tu_fork();
	if (pid == 0) {
		sem_fix g;
		int st = fix_open(&g, &f, 0);
		if (st == 0 && tu_get(go[0], &b, 1, WAIT_MS) != 0) {
			st = __LINE__;
		}
		if (st == 0 && ipcx_sem_post(g.sem) != 0) {
			st = __LINE__;
		}
		/* stay until the parent has its count: see post_worker */
		if (st == 0 && tu_get(go[0], &b, 1, WAIT_MS) != 0) {
			st = __LINE__;
		}
		fix_close(&g);
		tu_child_exit(st);
	}
	assert_int_equal(tu_put(go[1], &b, 1), 0);
	assert_rv(ipcx_sem_wait(f.sem, timeout_ms), 0);
	assert_int_equal(tu_put(go[1], &b, 1), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	tu_close(ready[0]);
	tu_close(ready[1]);
	tu_close(go[0]);
	tu_close(go[1]);
	fix_close(&f);
}

static void
test_named_timed_wait_posted_by_other(void **state)
{
	run_wait_posted_by_other(V_NAMED, WAIT_MS);
	run_wait_posted_by_other(V_NAMED, -1);
}

static void
test_unnamed_timed_wait_posted_by_other(void **state)
{
	run_wait_posted_by_other(V_UNNAMED, WAIT_MS);
	run_wait_posted_by_other(V_UNNAMED, -1);
}

static void
test_sysv_timed_wait_posted_by_other(void **state)
{
	run_wait_posted_by_other(V_SYSV, WAIT_MS);
	run_wait_posted_by_other(V_SYSV, -1);
}

/* ---- System V: SEM_UNDO, initialisation, removal ---------------------------------------- */

static void
test_sysv_holder_killed_gives_count_back(void **state)
{
	int held[2];
	unsigned v;
	char b = 0;
	sem_fix f;
	pid_t pid;

	assert_int_equal(fix_create(&f, V_SYSV, 1, IPCX_SEM_BINARY), 0);
	tu_pipe(held);
	pid = tu_fork();
	if (pid == 0) {
		sem_fix g;
		if (fix_open(&g, &f, IPCX_SEM_BINARY) != 0 || ipcx_sem_wait(g.sem, WAIT_MS) != 0) {
			tu_child_exit(1);
		}
		tu_put(held[1], &b, 1);
		for (;;) {
			pause(); /* holding it until SIGKILL */
		}
	}
	assert_int_equal(tu_get(held[0], &b, 1, WAIT_MS), 0);
	assert_rv(ipcx_sem_value(f.sem, &v), 0);
	assert_int_equal(v, 0);
	assert_rv(ipcx_sem_wait(f.sem, 0), IPCX_ETIMEDOUT);
	tu_kill(pid);
	/* the kernel undid the dead holder's wait */
	assert_rv(ipcx_sem_value(f.sem, &v), 0);
	assert_int_equal(v, 1);
	assert_rv(ipcx_sem_wait(f.sem, WAIT_MS), 0);
	tu_close(held[0]);
	tu_close(held[1]);
	fix_close(&f);
}

/* The documented other side of SEM_UNDO: a process's exit undoes its posts as well. */
static void
test_sysv_poster_exit_takes_posts_back(void **state)
{
	unsigned v;
	sem_fix f;
	pid_t pid;

	assert_int_equal(fix_create(&f, V_SYSV, 0, 0), 0);
	pid = tu_fork();
	if (pid == 0) {
		sem_fix g;
		int st = fix_open(&g, &f, 0);
		for (int i = 0; st == 0 && i < 3; i++) {
			st = ipcx_sem_post(g.sem) == 0 ? 0 : __LINE__;
		}
		fix_close(&g);
		tu_child_exit(st);
	}
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	assert_rv(ipcx_sem_value(f.sem, &v), 0);
	assert_int_equal(v, 0);
	fix_close(&f);
}

/* A set that exists but was never operated on (its creator has not set the value yet, or
 * died first) is not used: the open waits, bounded, then says so. */
static void
test_sysv_open_waits_for_initialisation(void **state)
{
	struct sembuf op = {.sem_num = 0, .sem_op = 2, .sem_flg = 0};
	char name[64];
	unsigned key, v;
	ipcx_sem *s;
	int id;

	sysv_name(name, sizeof name);
	key = (unsigned)strtoul(name + 5, NULL, 16);
	id = semget((key_t)key, 1, IPC_CREAT | IPC_EXCL | 0600);
	assert_true(id >= 0);
	assert_rv(ipcx_sem_open(&s, name, 0, 0, 0), IPCX_EAGAIN);
	assert_non_null(strstr(ipcx_errdetail(), "initialised"));
	assert_rv(ipcx_sem_open(&s, name, 7, IPCX_CREATE, 0), IPCX_EAGAIN);
	/* initialised the classic way: a semop sets sem_otime */
	assert_int_equal(semop(id, &op, 1), 0);
	assert_rv(ipcx_sem_open(&s, name, 0, 0, 0), 0);
	assert_rv(ipcx_sem_value(s, &v), 0);
	assert_int_equal(v, 2);
	ipcx_sem_close(s); /* not its creator: the set stays */
	assert_int_equal(semctl(id, 0, GETVAL), 2);
	assert_int_equal(semctl(id, 0, IPC_RMID), 0);
}

static void
test_sysv_removed_while_waiting_fails_the_wait(void **state)
{
	int go[2];
	char b = 0;
	sem_fix f;
	pid_t pid;
	int rv;

	assert_int_equal(fix_create(&f, V_SYSV, 0, IPCX_KEEP), 0);
	tu_pipe(go);
	pid = tu_fork();
	if (pid == 0) {
		if (tu_get(go[0], &b, 1, WAIT_MS) != 0) {
			tu_child_exit(1);
		}
		tu_child_exit(ipcx_sem_unlink(f.sem_name) == 0 ? 0 : 1);
	}
	assert_int_equal(tu_put(go[1], &b, 1), 0);
	rv = ipcx_sem_wait(f.sem, WAIT_MS);
	/* removed during the wait (EIDRM) or before it began (the id is gone: EINVAL) */
	if (rv != IPCX_EIDRM && rv != IPCX_EINVAL) {
		fail_msg("wait on a removed set: %s", ipcx_err_name(rv));
	}
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	tu_close(go[0]);
	tu_close(go[1]);
	fix_close(&f);
}

/* Eight processes create-or-open one semaphore of value 3 at once and each tries to take
 * it: none fails, exactly one creates and initialises it (a second initialisation would
 * let more than three through). That no opener uses a System V set before its creator
 * sets the value is pinned, deterministically, by test_sysv_open_waits_for_initialisation. */
static void
run_create_race(bool sysv)
{
	enum { N = 8 };
	int start[2], done[2], rep[2], taken = 0;
	pid_t kids[N];
	char name[64], b;
	unsigned v;
	ipcx_sem *s;

	if (sysv) {
		sysv_name(name, sizeof name);
	} else {
		posix_name(name, sizeof name);
	}
	tu_pipe(start);
	tu_pipe(done);
	tu_pipe(rep);
	for (int i = 0; i < N; i++) {
		kids[i] = tu_fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			ipcx_sem *t = NULL;
			char r;
			int rv;
			close(start[1]);
			close(done[1]);
			tu_get(start[0], &b, 1, WAIT_MS); /* EOF: go */
			rv = ipcx_sem_open(&t, name, 3, IPCX_CREATE, 0);
			if (rv == 0) {
				rv = ipcx_sem_wait(t, 0);
			}
			r = rv == 0 ? 'y' : rv == IPCX_ETIMEDOUT ? 'n' : 'e';
			if (r == 'e') {
				fprintf(stderr, "child: %s\n", ipcx_err_name(rv));
			}
			tu_put(rep[1], &r, 1);
			/* the creator's close removes it: only once everyone has tried */
			tu_get(done[0], &b, 1, WAIT_MS);
			ipcx_sem_close(t);
			tu_child_exit(r == 'e');
		}
	}
	close(start[0]);
	close(done[0]);
	close(rep[1]);
	close(start[1]);
	for (int i = 0; i < N; i++) {
		char r = 0;
		assert_int_equal(tu_get(rep[0], &r, 1, WAIT_MS), 0);
		assert_true(r == 'y' || r == 'n');
		taken += r == 'y';
	}
	assert_int_equal(taken, 3);
	/* still there (its creator waits for done): the value is what is left */
	assert_rv(ipcx_sem_open(&s, name, 0, 0, 0), 0);
	assert_rv(ipcx_sem_value(s, &v), 0);
	assert_int_equal(v, 0);
	ipcx_sem_close(s);
	close(done[1]);
	for (int i = 0; i < N; i++) {
		assert_int_equal(tu_wait(kids[i], WAIT_MS), 0);
	}
	close(rep[0]);
	assert_rv(ipcx_sem_open(&s, name, 0, 0, 0), IPCX_ENOENT);
}

static void
test_posix_create_race_initialises_once(void **state)
{
	run_create_race(false);
}

static void
test_sysv_create_race_initialises_once(void **state)
{
	run_create_race(true);
}

/* ---- creation, removal, modes ------------------------------------------------------------ */

static void
run_create_flags(bool sysv)
{
	char name[64];
	ipcx_sem *s, *t;
	unsigned v;

	if (sysv) {
		sysv_name(name, sizeof name);
	} else {
		posix_name(name, sizeof name);
	}
	assert_rv(ipcx_sem_open(&s, name, 0, 0, 0), IPCX_ENOENT);
	assert_null(s);
	assert_rv(ipcx_sem_open(&s, name, 0, IPCX_EXCL, 0), IPCX_EINVAL);
	assert_rv(ipcx_sem_open(&s, name, 0, 0x8000, 0), IPCX_EINVAL);
	assert_rv(ipcx_sem_open(&s, name, 0, IPCX_CREATE, 01600), IPCX_EINVAL);
	assert_rv(ipcx_sem_open(&s, name, 2, IPCX_CREATE | IPCX_EXCL, 0), 0);
	assert_rv(ipcx_sem_open(&t, name, 0, IPCX_CREATE | IPCX_EXCL, 0), IPCX_EEXIST);
	assert_null(t);
	/* create-or-open finds it and leaves its value alone */
	assert_rv(ipcx_sem_open(&t, name, 5, IPCX_CREATE, 0), 0);
	assert_rv(ipcx_sem_value(t, &v), 0);
	assert_int_equal(v, 2);
	/* an opener's close leaves it; the creator's removes it */
	ipcx_sem_close(t);
	assert_rv(ipcx_sem_open(&t, name, 0, 0, 0), 0);
	ipcx_sem_close(t);
	ipcx_sem_close(s);
	assert_rv(ipcx_sem_open(&t, name, 0, 0, 0), IPCX_ENOENT);
	assert_rv(ipcx_sem_unlink(name), IPCX_ENOENT);
}

static void
test_posix_create_flags(void **state)
{
	run_create_flags(false);
}

static void
test_sysv_create_flags(void **state)
{
	run_create_flags(true);
}

static void
run_keep(bool sysv)
{
	char name[64];
	ipcx_sem *s;
	unsigned v;

	if (sysv) {
		sysv_name(name, sizeof name);
	} else {
		posix_name(name, sizeof name);
	}
	assert_rv(ipcx_sem_open(&s, name, 4, IPCX_CREATE | IPCX_EXCL | IPCX_KEEP, 0), 0);
	ipcx_sem_close(s);
	assert_rv(ipcx_sem_open(&s, name, 0, 0, 0), 0);
	assert_rv(ipcx_sem_value(s, &v), 0);
	assert_int_equal(v, 4);
	ipcx_sem_close(s);
	assert_rv(ipcx_sem_unlink(name), 0);
	assert_rv(ipcx_sem_open(&s, name, 0, 0, 0), IPCX_ENOENT);
}

static void
test_posix_keep_survives_close(void **state)
{
	run_keep(false);
}

static void
test_sysv_keep_survives_close(void **state)
{
	run_keep(true);
}

/* A forked child that closes the handle it inherited only closes it: the creator is the
 * process that created it, not every process that got a copy. */
static void
test_forked_child_close_keeps_semaphore(void **state)
{
	char pname[64], sname[64];
	ipcx_sem *p, *s, *t;
	pid_t pid;

	posix_name(pname, sizeof pname);
	sysv_name(sname, sizeof sname);
	assert_rv(ipcx_sem_open(&p, pname, 1, IPCX_CREATE | IPCX_EXCL, 0), 0);
	assert_rv(ipcx_sem_open(&s, sname, 1, IPCX_CREATE | IPCX_EXCL, 0), 0);
	pid = tu_fork();
	if (pid == 0) {
		ipcx_sem_close(p);
		ipcx_sem_close(s);
		tu_child_exit(0);
	}
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	assert_rv(ipcx_sem_open(&t, pname, 0, 0, 0), 0);
	ipcx_sem_close(t);
	assert_rv(ipcx_sem_open(&t, sname, 0, 0, 0), 0);
	ipcx_sem_close(t);
	ipcx_sem_close(p);
	ipcx_sem_close(s);
}

static unsigned
sem_mode_of(const char *name)
{
	struct stat st;
	char path[600];

	if (strncmp(name, "sysv:", 5) == 0) {
		struct semid_ds ds;
		union {
			int val;
			struct semid_ds *buf;
		} arg = {.buf = &ds};
		int id = semget((key_t)strtoul(name + 5, NULL, 16), 0, 0);
		if (id < 0 || semctl(id, 0, IPC_STAT, arg) != 0) {
			return 07777;
		}
		return ds.sem_perm.mode & 0777;
	}
	snprintf(path, sizeof path, "/dev/shm/sem.ipcx.%s", name);
	if (stat(path, &st) != 0) {
		return 07777;
	}
	return st.st_mode & 0777;
}

static void
run_modes(bool sysv)
{
	static const mode_t masks[] = {0, 022, 077};
	char name[64];
	ipcx_sem *s;
	mode_t old;

	for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
		old = umask(masks[i]);
		for (int k = 0; k < 2; k++) {
			unsigned want = k == 0 ? 0600 : 0660;
			if (sysv) {
				sysv_name(name, sizeof name);
			} else {
				posix_name(name, sizeof name);
			}
			assert_rv(ipcx_sem_open(&s, name, 0, IPCX_CREATE | IPCX_EXCL,
			                        k == 0 ? 0 : want),
			          0);
			umask(old);
			if (sem_mode_of(name) != want) {
				ipcx_sem_close(s);
				fail_msg("%s under umask %03o: mode %03o, want %03o", name,
				         (unsigned)masks[i], sem_mode_of(name), want);
			}
			ipcx_sem_close(s);
			umask(masks[i]);
		}
		umask(old);
	}
}

static void
test_posix_mode_exact(void **state)
{
	run_modes(false);
}

static void
test_sysv_mode_exact(void **state)
{
	run_modes(true);
}

/* ---- limits ------------------------------------------------------------------------------ */

static void
test_limits_named_in_detail(void **state)
{
	char name[64];
	ipcx_sem *s;
	unsigned v;

	sysv_name(name, sizeof name);
	assert_rv(ipcx_sem_open(&s, name, 40000, IPCX_CREATE, 0), IPCX_ERANGE);
	assert_non_null(strstr(ipcx_errdetail(), "SEMVMX is 32767"));
	posix_name(name, sizeof name);
	assert_rv(ipcx_sem_open(&s, name, 0x80000000u, IPCX_CREATE, 0), IPCX_EINVAL);
	assert_non_null(strstr(ipcx_errdetail(), "SEM_VALUE_MAX"));
	/* a System V semaphore at its largest value cannot be posted */
	sysv_name(name, sizeof name);
	assert_rv(ipcx_sem_open(&s, name, 32767, IPCX_CREATE | IPCX_EXCL, 0), 0);
	assert_rv(ipcx_sem_post(s), IPCX_ERANGE);
	assert_non_null(strstr(ipcx_errdetail(), "largest value"));
	assert_rv(ipcx_sem_value(s, &v), 0);
	assert_int_equal(v, 32767);
	ipcx_sem_close(s);
}

/* SEM_UNDO keeps a per-process adjustment that the kernel holds within -32768..32767
 * (SEMAEM): a process that posted 32768 times more than it waited can post no more, one
 * that waited 32767 times more than it posted can wait no more. */
static void
test_sysv_undo_adjustment_limit(void **state)
{
	int done[2], go[2];
	char b = 0;
	sem_fix f;
	pid_t pid;

	assert_int_equal(fix_create(&f, V_SYSV, 0, 0), 0);
	tu_pipe(done);
	tu_pipe(go);
	pid = tu_fork();
	if (pid == 0) {
		sem_fix g;
		int st = fix_open(&g, &f, 0);
		for (int i = 0; st == 0 && i < 32767; i++) {
			st = ipcx_sem_wait(g.sem, WAIT_MS) == 0 ? 0 : __LINE__;
		}
		if (st == 0) {
			tu_put(done[1], &b, 1);
			st = tu_get(go[0], &b, 1, WAIT_MS) == 0 ? 0 : __LINE__;
		}
		/* the value is 1 now, but this process may take no more */
		if (st == 0 && ipcx_sem_wait(g.sem, 0) != IPCX_ERANGE) {
			st = __LINE__;
		}
		if (st == 0 && strstr(ipcx_errdetail(), "SEM_UNDO adjustment") == NULL) {
			st = __LINE__;
		}
		fix_close(&g);
		tu_child_exit(st);
	}
	for (int i = 0; i < 32768; i++) {
		assert_rv(ipcx_sem_post(f.sem), 0);
	}
	assert_int_equal(tu_get(done[0], &b, 1, WAIT_MS), 0);
	assert_rv(ipcx_sem_post(f.sem), IPCX_ERANGE);
	assert_non_null(strstr(ipcx_errdetail(), "SEM_UNDO adjustment"));
	assert_int_equal(tu_put(go[1], &b, 1), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	tu_close(done[0]);
	tu_close(done[1]);
	tu_close(go[0]);
	tu_close(go[1]);
	fix_close(&f);
}

/* ---- unnamed: placement in the segment ---------------------------------------------------- */

static void
test_unnamed_offset_checked(void **state)
{
	char name[64];
	ipcx_shm *shm;
	ipcx_sem *s;

	posix_name(name, sizeof name);
	assert_rv(ipcx_shm_open(&shm, name, SHM_BYTES, IPCX_CREATE | IPCX_EXCL, 0), 0);
	assert_rv(ipcx_sem_init_shm(&s, shm, 32, 0, IPCX_CREATE), IPCX_EINVAL);
	assert_null(s);
	assert_rv(ipcx_sem_init_shm(&s, shm, SHM_BYTES, 0, IPCX_CREATE), IPCX_EINVAL);
	assert_rv(ipcx_sem_init_shm(&s, shm, (size_t)-64, 0, IPCX_CREATE), IPCX_EINVAL);
	assert_rv(ipcx_sem_init_shm(&s, shm, 0, 0, IPCX_CREATE | IPCX_EXCL), IPCX_EINVAL);
	assert_rv(ipcx_sem_init_shm(&s, NULL, 0, 0, IPCX_CREATE), IPCX_EINVAL);
	/* the last 64-byte slot holds one */
	assert_rv(ipcx_sem_init_shm(&s, shm, SHM_BYTES - 64, 1, IPCX_CREATE), 0);
	assert_rv(ipcx_sem_wait(s, 0), 0);
	ipcx_sem_close(s);
	ipcx_shm_close(shm);
}

/* ---- names and the registry --------------------------------------------------------------- */

static void
test_named_name_length(void **state)
{
	char name[300];
	ipcx_sem *s;

	/* glibc keeps it as /dev/shm/sem.ipcx.NAME: 246 bytes of NAME fit in NAME_MAX */
	memset(name, 'n', sizeof name);
	snprintf(name + 200, 20, "%d-", (int)getpid());
	name[strlen(name)] = 'n';
	name[246] = '\0';
	assert_rv(ipcx_sem_open(&s, name, 0, IPCX_CREATE | IPCX_EXCL, 0), 0);
	ipcx_sem_close(s);
	name[246] = 'n';
	name[247] = '\0';
	assert_rv(ipcx_sem_open(&s, name, 0, IPCX_CREATE | IPCX_EXCL, 0), IPCX_ENAMETOOLONG);
	assert_rv(ipcx_sem_open(&s, "a/b", 0, IPCX_CREATE, 0), IPCX_EINVAL);
	assert_rv(ipcx_sem_open(&s, "", 0, IPCX_CREATE, 0), IPCX_EINVAL);
	assert_rv(ipcx_sem_open(&s, "sysv:0x0", 0, IPCX_CREATE, 0), IPCX_EINVAL);
}

static void
run_registry(bool sysv)
{
	unsigned long long st, mine;
	char name[64], id[80];
	ipcx_sem *s;
	pid_t pid;

	if (sysv) {
		sysv_name(name, sizeof name);
		snprintf(id, sizeof id, "%s", name + 5);
	} else {
		posix_name(name, sizeof name);
		snprintf(id, sizeof id, "/ipcx.%s", name);
	}
	assert_rv(ipcx_sem_open(&s, name, 0, IPCX_CREATE | IPCX_EXCL, 0), 0);
	assert_rv(ipcx__registry_lookup(sysv ? "sysv-sem" : "posix-sem", id, &pid, &st), 0);
	assert_int_equal(pid, getpid());
	assert_rv(ipcx__self_starttime(&mine), 0);
	assert_true(st == mine);
	ipcx_sem_close(s);
	assert_rv(ipcx__registry_lookup(sysv ? "sysv-sem" : "posix-sem", id, &pid, &st),
	          IPCX_ENOENT);
}

static void
test_posix_registry_records_creator(void **state)
{
	run_registry(false);
}

static void
test_sysv_registry_records_creator(void **state)
{
	run_registry(true);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        T(test_named_binary_exact_total),
	        T(test_unnamed_binary_exact_total),
	        T(test_sysv_binary_exact_total),
	        T(test_named_counting_bounds),
	        T(test_unnamed_counting_bounds),
	        T(test_sysv_counting_bounds),
	        T(test_named_initial_value),
	        T(test_unnamed_initial_value),
	        T(test_sysv_initial_value),
	        T(test_named_binary_saturates),
	        T(test_unnamed_binary_saturates),
	        T(test_sysv_binary_saturates),
	        T(test_binary_value_above_one_rejected),
	        T(test_named_timed_wait_times_out),
	        T(test_unnamed_timed_wait_times_out),
	        T(test_sysv_timed_wait_times_out),
	        T(test_named_timed_wait_posted_by_other),
	        T(test_unnamed_timed_wait_posted_by_other),
	        T(test_sysv_timed_wait_posted_by_other),
	        T(test_sysv_holder_killed_gives_count_back),
	        T(test_sysv_poster_exit_takes_posts_back),
	        T(test_sysv_open_waits_for_initialisation),
	        T(test_sysv_removed_while_waiting_fails_the_wait),
	        T(test_posix_create_race_initialises_once),
	        T(test_sysv_create_race_initialises_once),
	        T(test_posix_create_flags),
	        T(test_sysv_create_flags),
	        T(test_posix_keep_survives_close),
	        T(test_sysv_keep_survives_close),
	        T(test_forked_child_close_keeps_semaphore),
	        T(test_posix_mode_exact),
	        T(test_sysv_mode_exact),
	        T(test_limits_named_in_detail),
	        T(test_sysv_undo_adjustment_limit),
	        T(test_unnamed_offset_checked),
	        T(test_named_name_length),
	        T(test_posix_registry_records_creator),
	        T(test_sysv_registry_records_creator),
	};

	return tu_run("sem", tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
