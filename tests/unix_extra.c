/*
 * unix_extra.c - what only unix:// channels do: peer credentials (SO_PEERCRED) and passing
 * file descriptors with a message (SCM_RIGHTS), including too few fd slots (EMSGSIZE,
 * nothing lost) and plain recv closing fds it cannot hand over; and the ?wait= option of
 * unix:// and tcp:// (parsed, refused when bad; a spinning waiter keeps its deadline and
 * sees the peer's death).
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

/* ---- ?wait=spin|block|adaptive on unix:// and tcp:// ----------------------------------- */

/* The listen URL of scheme ("unix" as make_url says, or "tcp") with query appended. */
static void
make_url_q(char *buf, size_t cap, const char *scheme, const char *query)
{
	char base[600];

	if (strcmp(scheme, "tcp") == 0) {
		snprintf(base, sizeof base, "tcp://127.0.0.1:0");
	} else {
		make_url(base, sizeof base);
	}
	snprintf(buf, cap, "%s%s", base, query);
}

static void
test_wait_option_parsed_and_bad_values_refused(void **state)
{
	static const char *const good[] = {"?wait=spin", "?wait=block", "?wait=adaptive",
	                                   "?wait=spin&maxmsg=4096"};
	static const char *const bad[] = {"?wait=", "?wait=SPIN", "?wait=spinning", "?wait=1"};
	static const char *const schemes[] = {"unix", "tcp"};
	char url[700], durl[800];
	ipcx_listener *l;
	ipcx_chan *c;

	(void)state;
	for (size_t s = 0; s < 2; s++) {
		for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
			make_url_q(url, sizeof url, schemes[s], good[i]);
			assert_rv(ipcx_listen(&l, url, NULL), 0);
			ipcx_listener_close(l);
		}
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			make_url_q(url, sizeof url, schemes[s], bad[i]);
			assert_rv(ipcx_listen(&l, url, NULL), IPCX_EBADURL);
			/* the dialer checks its own URL before it connects */
			make_url_q(url, sizeof url, schemes[s], "");
			assert_rv(ipcx_listen(&l, url, NULL), 0);
			assert_rv(ipcx_listener_url(l, url, sizeof url), 0);
			snprintf(durl, sizeof durl, "%s%s", url, bad[i]);
			assert_rv(ipcx_dial(&c, durl, NULL, WAIT_MS), IPCX_EBADURL);
			ipcx_listener_close(l);
		}
	}
	/* schemes without the option refuse the key */
	tu_url_fifo(url, sizeof url);
	strncat(url, "?wait=spin", sizeof url - strlen(url) - 1);
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_EBADURL);
}

/* Listen on scheme with query, fork a dialer with the same query that runs fn, accept. */
static pid_t
spawn_q(ipcx_listener **lp, ipcx_chan **cp, const char *scheme, const char *query, peer_fn fn,
        void *arg)
{
	char url[700], durl[800];
	pid_t pid;

	make_url_q(url, sizeof url, scheme, query);
	assert_rv(ipcx_listen(lp, url, NULL), 0);
	assert_rv(ipcx_listener_url(*lp, url, sizeof url), 0);
	snprintf(durl, sizeof durl, "%s%s", url, query);
	pid = tu_fork();
	if (pid == 0) {
		ipcx_chan *c = NULL;
		int rv = ipcx_dial(&c, durl, NULL, WAIT_MS), st;
		if (rv != 0) {
			fprintf(stderr, "dial %s: %s\n", durl, ipcx_err_name(rv));
			tu_child_exit(1);
		}
		st = fn(c, arg);
		ipcx_close(c);
		tu_child_exit(st);
	}
	assert_rv(ipcx_accept(*lp, cp, WAIT_MS), 0);
	return pid;
}

/* The peer's go-ahead pipe: [0] the peer reads, [1] the test writes. */
static int go_pipe[2];

/* Say hello, wait for the go, send "late", wait for the test's end (reading nothing). */
static int
peer_late(ipcx_chan *c, void *arg)
{
	char b;

	(void)arg;
	TRY_RV(ipcx_send(c, "hi", 2, WAIT_MS), 0);
	TRY(tu_get(go_pipe[0], &b, 1, WAIT_MS) == 0, "no go");
	TRY_RV(ipcx_send(c, "late", 4, WAIT_MS), 0);
	TRY(tu_get(go_pipe[0], &b, 1, WAIT_MS) == 0, "no end");
	return 0;
}

/* Say hello, wait for the go, die at once (no close, no flush). */
static int
peer_die_on_go(ipcx_chan *c, void *arg)
{
	char b;

	(void)arg;
	TRY_RV(ipcx_send(c, "hi", 2, WAIT_MS), 0);
	TRY(tu_get(go_pipe[0], &b, 1, WAIT_MS) == 0, "no go");
	raise(SIGKILL);
	return 1;
}

/* More than the socket buffers of a pair hold (TCP's may grow to many MiB): the spinning
 * waits below use a maxmsg this large. */
#define BIG   ((size_t)64 << 20)
#define SPINQ "?wait=spin&maxmsg=67108864"

static void
spin_deadline_case(const char *scheme)
{
	ipcx_listener *l;
	ipcx_chan *c;
	char b[8];
	size_t len;
	unsigned char *big = tu_xmalloc(BIG);
	pid_t pid;

	tu_pipe(go_pipe);
	pid = spawn_q(&l, &c, scheme, SPINQ, peer_late, NULL);
	tu_close(go_pipe[0]);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	/* nothing comes: a spinning receiver still ends at its deadline */
	assert_rv(ipcx_recv(c, b, sizeof b, &len, 100), IPCX_ETIMEDOUT);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, 0), IPCX_ETIMEDOUT);
	/* and the channel still works */
	assert_int_equal(tu_put(go_pipe[1], "g", 1), 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(b, "late", 4);
	/* a spinning sender on a full buffer ends at its deadline too (the peer reads only
	 * after it); the message was cut short, so the channel is broken for sending */
	memset(big, 0x5a, BIG);
	assert_rv(ipcx_send(c, big, BIG, 100), IPCX_ETIMEDOUT);
	assert_int_equal(tu_put(go_pipe[1], "e", 1), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	tu_close(go_pipe[1]);
	ipcx_listener_close(l);
	free(big);
}

static void
test_spin_waiter_keeps_its_deadline_unix(void **state)
{
	(void)state;
	spin_deadline_case("unix");
}

static void
test_spin_waiter_keeps_its_deadline_tcp(void **state)
{
	(void)state;
	spin_deadline_case("tcp");
}

/* A receiver (send_side false) or a sender on a full buffer (true), spinning without a
 * deadline of its own, learns of the peer's death as IPCX_ECLOSED. */
static void
spin_death_case(const char *scheme, bool send_side)
{
	ipcx_listener *l;
	ipcx_chan *c;
	char b[8];
	size_t len;
	unsigned char *big = tu_xmalloc(BIG);
	pid_t pid;

	tu_pipe(go_pipe);
	pid = spawn_q(&l, &c, scheme, SPINQ, peer_die_on_go, NULL);
	tu_close(go_pipe[0]);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	/* the peer dies while (or just before) this side waits */
	assert_int_equal(tu_put(go_pipe[1], "g", 1), 0);
	if (send_side) {
		memset(big, 0x5a, BIG);
		assert_rv(ipcx_send(c, big, BIG, -1), IPCX_ECLOSED);
	} else {
		assert_rv(ipcx_recv(c, b, sizeof b, &len, -1), IPCX_ECLOSED);
	}
	assert_int_equal(tu_wait(pid, WAIT_MS), 128 + SIGKILL);
	ipcx_close(c);
	tu_close(go_pipe[1]);
	ipcx_listener_close(l);
	free(big);
}

static void
test_spin_receiver_sees_peer_death_as_closed_unix(void **state)
{
	(void)state;
	spin_death_case("unix", false);
}

static void
test_spin_receiver_sees_peer_death_as_closed_tcp(void **state)
{
	(void)state;
	spin_death_case("tcp", false);
}

static void
test_spin_sender_sees_peer_death_as_closed_unix(void **state)
{
	(void)state;
	spin_death_case("unix", true);
}

static void
test_spin_sender_sees_peer_death_as_closed_tcp(void **state)
{
	(void)state;
	spin_death_case("tcp", true);
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
	        T(test_wait_option_parsed_and_bad_values_refused),
	        T(test_spin_waiter_keeps_its_deadline_unix),
	        T(test_spin_waiter_keeps_its_deadline_tcp),
	        T(test_spin_receiver_sees_peer_death_as_closed_unix),
	        T(test_spin_receiver_sees_peer_death_as_closed_tcp),
	        T(test_spin_sender_sees_peer_death_as_closed_unix),
	        T(test_spin_sender_sees_peer_death_as_closed_tcp),
	};
	int rv;

	rv = tu_run("unix_extra_path", tests, sizeof tests / sizeof tests[0],
	            argc > 1 ? argv[1] : NULL);
	abstract_mode = true;
	return rv | tu_run("unix_extra_abstract", tests, sizeof tests / sizeof tests[0],
	                   argc > 1 ? argv[1] : NULL);
}
