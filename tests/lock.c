/*
 * lock.c - ipcx_lock / ipcx_unlock on a shared file between real processes: exclusive and
 * shared, byte ranges, timeouts, waiting for a release, and the open-file-description
 * semantics (two opens in one process conflict; closing another fd keeps the lock).
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS TU_WAIT_MS

static char lock_path[600];

static int
open_file(void)
{
	int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		fail_msg("open %s: %s", lock_path, strerror(errno));
	}
	return fd;
}

static int
setup(void **state)
{
	if (tu_setup(state) != 0) {
		return -1;
	}
	tu_path(lock_path, sizeof lock_path, "lockfile");
	return 0;
}

static int
teardown(void **state)
{
	unlink(lock_path);
	return tu_teardown(state);
}

/* In a child: open the file afresh and try a lock; exit 0 if the result was want. */
static pid_t
try_in_child(int type, off_t start, off_t len, int timeout_ms, int want)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		int fd = open(lock_path, O_RDWR | O_CLOEXEC);
		int rv = fd < 0 ? IPCX_EBADF : ipcx_lock(fd, type, start, len, timeout_ms);
		if (rv != want) {
			fprintf(stderr, "child lock: got %s, want %s\n", ipcx_err_name(rv),
			        ipcx_err_name(want));
		}
		tu_child_exit(rv == want ? 0 : 1);
	}
	return pid;
}

static void
child_expects(int type, off_t start, off_t len, int timeout_ms, int want)
{
	assert_int_equal(tu_wait(try_in_child(type, start, len, timeout_ms, want), WAIT_MS), 0);
}

static void
test_exclusive_excludes_other_process(void **state)
{
	int fd = open_file();

	assert_rv(ipcx_lock(fd, IPCX_LOCK_EX, 0, 0, 0), 0);
	child_expects(IPCX_LOCK_EX, 0, 0, 0, IPCX_ETIMEDOUT);
	child_expects(IPCX_LOCK_SH, 0, 0, 0, IPCX_ETIMEDOUT);
	assert_rv(ipcx_unlock(fd, 0, 0), 0);
	child_expects(IPCX_LOCK_EX, 0, 0, 0, 0);
	close(fd);
}

static void
test_shared_locks_coexist(void **state)
{
	int fd = open_file();

	assert_rv(ipcx_lock(fd, IPCX_LOCK_SH, 0, 0, 0), 0);
	child_expects(IPCX_LOCK_SH, 0, 0, 0, 0);
	child_expects(IPCX_LOCK_EX, 0, 0, 0, IPCX_ETIMEDOUT);
	close(fd);
}

static void
test_timed_lock_times_out(void **state)
{
	int fd = open_file();

	assert_rv(ipcx_lock(fd, IPCX_LOCK_EX, 0, 0, 0), 0);
	child_expects(IPCX_LOCK_EX, 0, 0, 40, IPCX_ETIMEDOUT);
	child_expects(IPCX_LOCK_SH, 0, 0, 40, IPCX_ETIMEDOUT);
	close(fd);
}

/* The child announces that it is about to wait; the parent then unlocks. Whether the
 * release comes before or during the wait, the lock must be had (timed and forever). */
static void
run_wait_for_release(int timeout_ms)
{
	int fd = open_file(), go[2];
	char b = 0;
	pid_t pid;

	assert_rv(ipcx_lock(fd, IPCX_LOCK_EX, 0, 0, 0), 0);
	tu_pipe(go);
	pid = tu_fork();
	if (pid == 0) {
		int cfd = open(lock_path, O_RDWR | O_CLOEXEC);
		int st = cfd >= 0 ? 0 : 1;
		tu_put(go[1], &b, 1);
		if (st == 0 && ipcx_lock(cfd, IPCX_LOCK_EX, 0, 0, timeout_ms) != 0) {
			st = 1;
		}
		tu_child_exit(st);
	}
	assert_int_equal(tu_get(go[0], &b, 1, WAIT_MS), 0);
	assert_rv(ipcx_unlock(fd, 0, 0), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	tu_close(go[0]);
	tu_close(go[1]);
	close(fd);
}

static void
test_timed_lock_gets_released_lock(void **state)
{
	run_wait_for_release(WAIT_MS);
}

static void
test_blocking_lock_gets_released_lock(void **state)
{
	run_wait_for_release(-1);
}

static void
test_byte_ranges_independent(void **state)
{
	int fd = open_file();

	assert_rv(ipcx_lock(fd, IPCX_LOCK_EX, 0, 10, 0), 0);
	child_expects(IPCX_LOCK_EX, 10, 10, 0, 0);
	child_expects(IPCX_LOCK_EX, 5, 10, 0, IPCX_ETIMEDOUT);
	child_expects(IPCX_LOCK_EX, 9, 1, 0, IPCX_ETIMEDOUT);
	/* unlocking part of a range keeps the rest */
	assert_rv(ipcx_unlock(fd, 0, 5), 0);
	child_expects(IPCX_LOCK_EX, 0, 5, 0, 0);
	child_expects(IPCX_LOCK_EX, 5, 1, 0, IPCX_ETIMEDOUT);
	close(fd);
}

/* len 0 reaches to the end of the file however far it grows. */
static void
test_zero_length_reaches_any_offset(void **state)
{
	int fd = open_file();

	assert_rv(ipcx_lock(fd, IPCX_LOCK_EX, 100, 0, 0), 0);
	child_expects(IPCX_LOCK_EX, 99, 1, 0, 0);
	child_expects(IPCX_LOCK_EX, (off_t)1 << 40, 1, 0, IPCX_ETIMEDOUT);
	close(fd);
}

/* Open file description locks: two opens of one file conflict in one process (classic
 * POSIX locks would not), and closing another fd of the file keeps the lock (classic ones
 * would be dropped). */
static void
test_ofd_two_opens_conflict_in_one_process(void **state)
{
	int a = open_file(), b = open_file(), c;

	assert_rv(ipcx_lock(a, IPCX_LOCK_EX, 0, 0, 0), 0);
	assert_rv(ipcx_lock(b, IPCX_LOCK_EX, 0, 0, 0), IPCX_ETIMEDOUT);
	assert_rv(ipcx_lock(b, IPCX_LOCK_SH, 0, 0, 20), IPCX_ETIMEDOUT);
	/* a dup shares the open file description, and so the lock */
	c = dup(a);
	assert_true(c >= 0);
	assert_rv(ipcx_lock(c, IPCX_LOCK_EX, 0, 0, 0), 0);
	close(c);
	close(b);
	child_expects(IPCX_LOCK_EX, 0, 0, 0, IPCX_ETIMEDOUT);
	assert_rv(ipcx_unlock(a, 0, 0), 0);
	close(a);
}

static void
test_lock_released_on_last_close(void **state)
{
	int fd = open_file();

	assert_rv(ipcx_lock(fd, IPCX_LOCK_EX, 0, 0, 0), 0);
	close(fd);
	child_expects(IPCX_LOCK_EX, 0, 0, 0, 0);
}

static void
test_bad_arguments(void **state)
{
	int fd = open_file(), ro;

	assert_rv(ipcx_lock(fd, 3, 0, 0, 0), IPCX_EINVAL);
	assert_rv(ipcx_lock(fd, 0, 0, 0, 0), IPCX_EINVAL);
	assert_rv(ipcx_lock(fd, IPCX_LOCK_EX, -1, 0, 0), IPCX_EINVAL);
	assert_rv(ipcx_lock(fd, IPCX_LOCK_EX, 0, -5, 0), IPCX_EINVAL);
	assert_rv(ipcx_unlock(fd, -1, 0), IPCX_EINVAL);
	assert_rv(ipcx_lock(-1, IPCX_LOCK_EX, 0, 0, 0), IPCX_EBADF);
	assert_rv(ipcx_lock(-1, IPCX_LOCK_EX, 0, 0, -1), IPCX_EBADF);
	/* an exclusive lock needs a writable fd */
	ro = open(lock_path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	assert_rv(ipcx_lock(ro, IPCX_LOCK_EX, 0, 0, 0), IPCX_EBADF);
	assert_rv(ipcx_lock(ro, IPCX_LOCK_SH, 0, 0, 0), 0);
	close(ro);
	close(fd);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        T(test_exclusive_excludes_other_process),
	        T(test_shared_locks_coexist),
	        T(test_timed_lock_times_out),
	        T(test_timed_lock_gets_released_lock),
	        T(test_blocking_lock_gets_released_lock),
	        T(test_byte_ranges_independent),
	        T(test_zero_length_reaches_any_offset),
	        T(test_ofd_two_opens_conflict_in_one_process),
	        T(test_lock_released_on_last_close),
	        T(test_bad_arguments),
	};

	return tu_run("lock", tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
