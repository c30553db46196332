/*
 * unix_extra.c - what only unix:// channels do: peer credentials (SO_PEERCRED) and passing
 * file descriptors with a message (SCM_RIGHTS), including too few fd slots (EMSGSIZE,
 * nothing lost) and plain recv closing fds it cannot hand over.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS 30000

static bool abstract_mode; /* run every test on unix:@name too */

static void
make_url(char *buf, size_t cap)
{
	if (abstract_mode) {
		snprintf(buf, cap, "unix:@ipcx-test-%d-%u", (int)getpid(), tu_next());
	} else {
		char p[512];
		tu_path(p, sizeof p, "s");
		snprintf(buf, cap, "unix://%s", p);
	}
}

typedef int (*peer_fn)(ipcx_chan *c, void *arg);

/* Listen, fork a child that dials and runs fn, accept: *cp is the server side. */
static pid_t
spawn(ipcx_listener **lp, ipcx_chan **cp, peer_fn fn, void *arg)
{
	char url[600];
	pid_t pid;

	make_url(url, sizeof url);
	assert_rv(ipcx_listen(lp, url, NULL), 0);
	pid = tu_fork();
	if (pid == 0) {
		ipcx_chan *c = NULL;
		int rv = ipcx_dial(&c, url, NULL, WAIT_MS), st;
		if (rv != 0) {
			fprintf(stderr, "dial: %s\n", ipcx_err_name(rv));
			tu_child_exit(1);
		}
		st = fn(c, arg);
		ipcx_close(c);
		tu_child_exit(st);
	}
	assert_rv(ipcx_accept(*lp, cp, WAIT_MS), 0);
	return pid;
}

/* ---- credentials --------------------------------------------------------------------- */

static int
peer_cred_check(ipcx_chan *c, void *arg)
{
	pid_t pid = 0;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	char b[4];
	size_t len;

	(void)arg;
	TRY_RV(ipcx_peer_cred(c, &pid, &uid, &gid), 0);
	TRY(pid == getppid() && uid == getuid() && gid == getgid(),
	    "dialer sees pid %d uid %d gid %d", (int)pid, (int)uid, (int)gid);
	TRY_RV(ipcx_send(c, "x", 1, WAIT_MS), 0);
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	return 0;
}

static void
test_peer_cred_gives_each_side_the_other_process(void **state)
{
	ipcx_listener *l;
	ipcx_chan *c;
	pid_t pid, ppid = 0;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	char b[4];
	size_t len;

	(void)state;
	pid = spawn(&l, &c, peer_cred_check, NULL);
	assert_rv(ipcx_peer_cred(c, &ppid, &uid, &gid), 0);
	assert_int_equal(ppid, pid);
	assert_int_equal(uid, getuid());
	assert_int_equal(gid, getgid());
	/* any output may be NULL */
	assert_rv(ipcx_peer_cred(c, NULL, NULL, NULL), 0);
	ppid = 0;
	assert_rv(ipcx_peer_cred(c, &ppid, NULL, NULL), 0);
	assert_int_equal(ppid, pid);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_rv(ipcx_send(c, "y", 1, WAIT_MS), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
}

static void
test_peer_cred_and_fds_are_enotsup_on_other_schemes(void **state)
{
	ipcx_chan *a, *b;
	pid_t pid;
	size_t len = 0, nfds = 1;
	int fd = 0;
	char buf[4];

	(void)state;
	assert_rv(ipcx_pair(&a, &b, NULL), 0);
	assert_rv(ipcx_peer_cred(a, &pid, NULL, NULL), IPCX_ENOTSUP);
	assert_rv(ipcx_send_fds(a, "x", 1, &fd, 1, 0), IPCX_ENOTSUP);
	assert_rv(ipcx_recv_fds(b, buf, sizeof buf, &len, &fd, &nfds, 0), IPCX_ENOTSUP);
	ipcx_close(a);
	ipcx_close(b);
}

/* ---- fd passing ---------------------------------------------------------------------- */

static int
peer_write_through_received_fd(ipcx_chan *c, void *arg)
{
	char b[16];
	size_t len = 0, nfds = 4;
	int fds[4] = {-1, -1, -1, -1}, fl;

	(void)arg;
	TRY_RV(ipcx_recv_fds(c, b, sizeof b, &len, fds, &nfds, WAIT_MS), 0);
	TRY(len == 5 && memcmp(b, "wfd:1", 5) == 0, "message of %zu bytes", len);
	TRY(nfds == 1 && fds[0] >= 0, "%zu fds", nfds);
	fl = fcntl(fds[0], F_GETFD);
	TRY(fl >= 0 && (fl & FD_CLOEXEC), "received fd is not CLOEXEC");
	TRY(write(fds[0], "through the passed fd", 21) == 21, "write: %s", strerror(errno));
	close(fds[0]);
	TRY_RV(ipcx_send(c, "done", 4, WAIT_MS), 0);
	return 0;
}

static void
test_send_fds_passes_a_pipe_write_end_that_works(void **state)
{
	ipcx_listener *l;
	ipcx_chan *c;
	pid_t pid;
	int p[2];
	char b[64];
	size_t len = 0;

	(void)state;
	pid = spawn(&l, &c, peer_write_through_received_fd, NULL);
	tu_pipe(p);
	assert_rv(ipcx_send_fds(c, "wfd:1", 5, &p[1], 1, WAIT_MS), 0);
	close(p[1]); /* the fd stayed ours; the child holds its own duplicate */
	assert_int_equal(tu_get(p[0], b, 21, WAIT_MS), 0);
	assert_memory_equal(b, "through the passed fd", 21);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 4);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	/* every copy of the write end is gone now: EOF */
	assert_int_equal(read(p[0], b, 1), 0);
	close(p[0]);
	ipcx_close(c);
	ipcx_listener_close(l);
}

/* The child sends three fds (files it opened) with their identities in the message. */
#define NPASS 3

typedef struct ident {
	dev_t dev;
	ino_t ino;
} ident;

static int
peer_send_three_fds(ipcx_chan *c, void *arg)
{
	ident id[NPASS];
	int fds[NPASS];
	char b[4];
	size_t len;

	(void)arg;
	for (int i = 0; i < NPASS; i++) {
		struct stat st;
		int p[2];
		TRY(pipe2(p, O_CLOEXEC) == 0, "pipe2");
		fds[i] = p[i % 2];
		close(p[1 - i % 2]);
		TRY(fstat(fds[i], &st) == 0, "fstat");
		id[i].dev = st.st_dev;
		id[i].ino = st.st_ino;
	}
	TRY_RV(ipcx_send_fds(c, id, sizeof id, fds, NPASS, WAIT_MS), 0);
	/* then a plain message with fds, to be received by plain recv, ten times */
	for (int r = 0; r < 10; r++) {
		TRY_RV(ipcx_send_fds(c, "plain", 5, fds, NPASS, WAIT_MS), 0);
	}
	TRY_RV(ipcx_send(c, "last", 4, WAIT_MS), 0);
	for (int i = 0; i < NPASS; i++) {
		close(fds[i]);
	}
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	return 0;
}

static void
test_too_few_fd_slots_is_emsgsize_and_nothing_lost(void **state)
{
	ipcx_listener *l;
	ipcx_chan *c;
	ident id[NPASS];
	int fds[NPASS + 1], before;
	size_t len, nfds;
	char b[64];
	pid_t pid;

	(void)state;
	pid = spawn(&l, &c, peer_send_three_fds, NULL);
	before = tu_fd_count();

	/* one slot for three fds */
	len = 0;
	nfds = 1;
	fds[0] = -1;
	assert_rv(ipcx_recv_fds(c, id, sizeof id, &len, fds, &nfds, WAIT_MS), IPCX_EMSGSIZE);
	assert_int_equal(nfds, NPASS);
	assert_int_equal(len, sizeof id);
	/* too small a buffer, enough slots: also kept */
	nfds = NPASS;
	assert_rv(ipcx_recv_fds(c, id, 4, &len, fds, &nfds, WAIT_MS), IPCX_EMSGSIZE);
	assert_int_equal(len, sizeof id);
	/* nothing handed out on failure (the channel may hold the fds until they fit) */
	assert_true(tu_fd_count() <= before + NPASS);
	/* now it fits: the same message, the same three files */
	nfds = NPASS + 1;
	assert_rv(ipcx_recv_fds(c, id, sizeof id, &len, fds, &nfds, WAIT_MS), 0);
	assert_int_equal(len, sizeof id);
	assert_int_equal(nfds, NPASS);
	for (int i = 0; i < NPASS; i++) {
		struct stat st;
		assert_int_equal(fstat(fds[i], &st), 0);
		assert_int_equal(st.st_dev, id[i].dev);
		assert_int_equal(st.st_ino, id[i].ino);
		assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
		close(fds[i]);
	}
	assert_int_equal(tu_fd_count(), before);

	/* plain ipcx_recv of messages that carry fds closes them: no fd growth */
	for (int r = 0; r < 10; r++) {
		assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
		assert_int_equal(len, 5);
		assert_memory_equal(b, "plain", 5);
	}
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 4);
	assert_int_equal(tu_fd_count(), before);
	assert_rv(ipcx_send(c, "bye", 3, WAIT_MS), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
}

static int
peer_recv_fds_of_plain_message(ipcx_chan *c, void *arg)
{
	char b[16];
	size_t len = 0, nfds = 4;
	int fds[4];

	(void)arg;
	/* a message without fds through recv_fds: zero fds */
	TRY_RV(ipcx_recv_fds(c, b, sizeof b, &len, fds, &nfds, WAIT_MS), 0);
	TRY(len == 2 && nfds == 0, "len %zu, nfds %zu", len, nfds);
	/* zero-length message with an fd */
	nfds = 4;
	TRY_RV(ipcx_recv_fds(c, NULL, 0, &len, fds, &nfds, WAIT_MS), 0);
	TRY(len == 0 && nfds == 1, "len %zu, nfds %zu", len, nfds);
	close(fds[0]);
	TRY_RV(ipcx_send(c, "ok", 2, WAIT_MS), 0);
	return 0;
}

static void
test_recv_fds_of_plain_and_empty_messages(void **state)
{
	ipcx_listener *l;
	ipcx_chan *c;
	char b[8];
	size_t len = 0;
	pid_t pid;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	pid = spawn(&l, &c, peer_recv_fds_of_plain_message, NULL);
	assert_rv(ipcx_send(c, "no", 2, WAIT_MS), 0);
	assert_rv(ipcx_send_fds(c, NULL, 0, &fd, 1, WAIT_MS), 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	close(fd);
	ipcx_close(c);
	ipcx_listener_close(l);
}

static void
test_send_fds_over_the_limit_is_emsgsize(void **state)
{
	ipcx_listener *l;
	ipcx_chan *c;
	int fds[IPCX_MAX_FDS + 1];
	pid_t pid;

	(void)state;
	pid = spawn(&l, &c, peer_recv_fds_of_plain_message, NULL);
	for (int i = 0; i <= IPCX_MAX_FDS; i++) {
		fds[i] = 0;
	}
	assert_rv(ipcx_send_fds(c, "x", 1, fds, IPCX_MAX_FDS + 1, WAIT_MS), IPCX_EMSGSIZE);
	assert_rv(ipcx_send_fds(c, "x", 1, NULL, 1, WAIT_MS), IPCX_EINVAL);
	/* the child's checks still pass: nothing was sent by the refused calls */
	assert_rv(ipcx_send(c, "no", 2, WAIT_MS), 0);
	assert_rv(ipcx_send_fds(c, NULL, 0, fds, 1, WAIT_MS), 0);
	{
		char b[8];
		size_t len = 0;
		assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	}
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int
main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
	        T(test_peer_cred_gives_each_side_the_other_process),
	        T(test_peer_cred_and_fds_are_enotsup_on_other_schemes),
	        T(test_send_fds_passes_a_pipe_write_end_that_works),
	        T(test_too_few_fd_slots_is_emsgsize_and_nothing_lost),
	        T(test_recv_fds_of_plain_and_empty_messages),
	        T(test_send_fds_over_the_limit_is_emsgsize),
	};
	int rv;

	rv = tu_run("unix_extra_path", tests, sizeof tests / sizeof tests[0],
	            argc > 1 ? argv[1] : NULL);
	abstract_mode = true;
	return rv | tu_run("unix_extra_abstract", tests, sizeof tests / sizeof tests[0],
	                   argc > 1 ? argv[1] : NULL);
}
