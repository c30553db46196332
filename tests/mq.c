/*
 * mq.c - tests of what only the mq:// scheme has: queue shape options, priorities, full
 * queues, the close marker, peer death, system limits named in ipcx_errdetail(), stale
 * well-known queues, and nothing left in /dev/mqueue. The conformance suite covers the rest.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS 30000
#define SKIPPED 77 /* a child's exit status: this part cannot run here */

/* ---- helpers ------------------------------------------------------------------------- */

/* A fresh queue name "t-PID-N" and its URL "mq:///t-PID-N" + query. */
static void
mq_name(char *name, size_t cap)
{
	snprintf(name, cap, "t-%d-%u", (int)getpid(), tu_next());
}

static void
mq_url(char *url, size_t cap, const char *name, const char *query)
{
	snprintf(url, cap, "mq:///%s%s", name, query);
}

/* Entries of /dev/mqueue that belong to name: the well-known queue "ipcx.NAME" and the
 * private ones "ipcx.NAME.*". -1 if /dev/mqueue is not there. */
static int
count_queues(const char *name, int *private_only)
{
	char wk[300];
	size_t n;
	DIR *d = opendir("/dev/mqueue");
	struct dirent *e;
	int total = 0, priv = 0;

	if (d == NULL) {
		return -1;
	}
	n = (size_t)snprintf(wk, sizeof wk, "ipcx.%s", name);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, wk, n) == 0) {
			if (e->d_name[n] == '\0') {
				total++;
			} else if (e->d_name[n] == '.') {
				total++;
				priv++;
			}
		}
	}
	closedir(d);
	if (private_only != NULL) {
		*private_only = priv;
	}
	return total;
}

static bool
have_dev_mqueue(void)
{
	struct stat st;

	return stat("/dev/mqueue", &st) == 0 && S_ISDIR(st.st_mode);
}

#define NEED_DEV_MQUEUE()                                                                      \
	do {                                                                                   \
		if (!have_dev_mqueue()) {                                                      \
			print_message("[ SKIP     ] /dev/mqueue is not mounted (scripts/deps " \
			              "mounts it)\n");                                         \
			skip();                                                                \
		}                                                                              \
	} while (0)

/* A child that dials url and runs fn on the channel (fn closes nothing); exit status is
 * fn's (0 or the failing line). */
typedef int (*peer_fn)(ipcx_chan *c, void *arg);

static pid_t
spawn_dialer(const char *url, peer_fn fn, void *arg)
{
	pid_t pid = tu_fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		ipcx_chan *c = NULL;
		int rv = ipcx_dial(&c, url, NULL, WAIT_MS), st;
		if (rv != 0) {
			fprintf(stderr, "child: dial %s: %s (%s)\n", url, ipcx_err_name(rv),
			        ipcx_errdetail());
			tu_child_exit(1);
		}
		st = fn(c, arg);
		ipcx_close(c);
		tu_child_exit(st);
	}
	return pid;
}

typedef struct ctl {
	int down[2], up[2]; /* parent -> child, child -> parent */
} ctl_t;

static void
ctl_open(ctl_t *k)
{
	tu_pipe(k->down);
	tu_pipe(k->up);
}

static void
ctl_close(ctl_t *k)
{
	tu_close(k->down[0]);
	tu_close(k->down[1]);
	tu_close(k->up[0]);
	tu_close(k->up[1]);
}

static void
listen_ok(ipcx_listener **l, const char *url)
{
	int rv = ipcx_listen(l, url, NULL);

	if (rv != 0) {
		fail_msg("listen %s: %s (%s)", url, ipcx_err_name(rv), ipcx_errdetail());
	}
}

static ipcx_chan *
accept_ok(ipcx_listener *l)
{
	ipcx_chan *c = NULL;

	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	assert_non_null(c);
	return c;
}

/* ---- queue shape: depth= and msgsize= ------------------------------------------------ */

static int
peer_shape(ipcx_chan *c, void *arg)
{
	ctl_t *k = arg;
	unsigned char b[101];
	uint32_t n = 0;
	int rv;

	memset(b, 'x', sizeof b);
	TRY_RV(ipcx_send(c, b, 101, WAIT_MS), IPCX_EMSGSIZE); /* msgsize=100 */
	TRY_RV(ipcx_send(c, b, 100, WAIT_MS), 0);
	n = 1;
	/* depth=3: the fourth message finds the queue full (nobody reads yet) */
	while ((rv = ipcx_send(c, b, 10, 0)) == 0 && n < 100) {
		n++;
	}
	TRY_RV(rv, IPCX_ETIMEDOUT);
	TRY(tu_put(k->up[1], &n, sizeof n) == 0, "ctl");
	TRY(tu_get(k->down[0], b, 1, WAIT_MS) == 0, "bye");
	return 0;
}

static void
test_depth_and_msgsize_options_shape_the_queues(void **state)
{
	char name[64], url[256], lurl[256];
	unsigned char b[200];
	ipcx_listener *l;
	ipcx_chan *c;
	uint32_t n = 0;
	size_t len;
	ctl_t k;
	pid_t pid;

	(void)state;
	ctl_open(&k);
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "?depth=3&msgsize=100");
	listen_ok(&l, url);
	/* the listener hands its queue shape to whoever dials its URL */
	assert_rv(ipcx_listener_url(l, lurl, sizeof lurl), 0);
	assert_string_equal(lurl, url);
	pid = spawn_dialer(lurl, peer_shape, &k);
	c = accept_ok(l);
	assert_int_equal(tu_get(k.up[0], &n, sizeof n, WAIT_MS), 0);
	assert_int_equal(n, 3);
	/* the server's sends are bounded by the client's queue too */
	memset(b, 'y', sizeof b);
	assert_rv(ipcx_send(c, b, 101, WAIT_MS), IPCX_EMSGSIZE);
	assert_rv(ipcx_send(c, b, 100, WAIT_MS), 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 100);
	for (int i = 0; i < 2; i++) {
		assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
		assert_int_equal(len, 10);
	}
	assert_rv(ipcx_recv(c, b, sizeof b, &len, 0), IPCX_ETIMEDOUT);
	assert_int_equal(tu_put(k.down[1], "b", 1), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
	ctl_close(&k);
}

static void
test_listener_refuses_queues_larger_than_its_max_msg(void **state)
{
	char name[64], url[256];
	ipcx_listener *l;
	ipcx_chan *c = NULL;
	ipcx_opts o;
	pid_t pid;

	(void)state;
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "");
	ipcx_opts_init(&o);
	o.max_msg = 1000;
	assert_rv(ipcx_listen(&l, url, &o), 0);
	pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char u2[300];
		int st = 0;
		/* default msgsize (fs.mqueue.msgsize_max) is larger than the server takes */
		int rv = ipcx_dial(&c, url, NULL, WAIT_MS);
		if (rv != IPCX_EMSGSIZE) {
			fprintf(stderr, "dial with large queues: %s\n", ipcx_err_name(rv));
			st = 1;
		}
		snprintf(u2, sizeof u2, "%s?msgsize=1000", url);
		if (st == 0 && (rv = ipcx_dial(&c, u2, NULL, WAIT_MS)) != 0) {
			fprintf(stderr, "dial with msgsize=1000: %s\n", ipcx_err_name(rv));
			st = 1;
		}
		ipcx_close(c);
		tu_child_exit(st);
	}
	/* the first client is refused (and not returned), the second accepted */
	c = accept_ok(l);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
	if (have_dev_mqueue()) {
		assert_int_equal(count_queues(name, NULL), 0);
	}
}

/* ---- priorities ---------------------------------------------------------------------- */

static const struct {
	unsigned prio;
	char text;
} prio_msgs[] = {{1, 'a'}, {5, 'b'}, {3, 'c'}, {0, 'd'}, {32766, 'e'}, {5, 'f'}};
static const char prio_order[] = "ebfcad"; /* highest first; equal ones in sending order */

static int
peer_prio(ipcx_chan *c, void *arg)
{
	ctl_t *k = arg;
	char b;

	TRY_RV(ipcx_send_prio(c, "x", 1, 32767, WAIT_MS), IPCX_EINVAL); /* reserved */
	TRY_RV(ipcx_send_prio(c, "x", 1, 40000, WAIT_MS), IPCX_EINVAL);
	for (size_t i = 0; i < sizeof prio_msgs / sizeof prio_msgs[0]; i++) {
		TRY_RV(ipcx_send_prio(c, &prio_msgs[i].text, 1, prio_msgs[i].prio, WAIT_MS), 0);
	}
	TRY(tu_put(k->up[1], "s", 1) == 0, "ctl");
	TRY(tu_get(k->down[0], &b, 1, WAIT_MS) == 0, "bye");
	return 0;
}

static void
test_send_prio_delivers_highest_first_and_reserves_the_top_priority(void **state)
{
	char name[64], url[256], b[16];
	ipcx_listener *l;
	ipcx_chan *c, *pa, *pb;
	size_t len;
	ctl_t k;
	pid_t pid;

	(void)state;
	ctl_open(&k);
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "");
	listen_ok(&l, url);
	pid = spawn_dialer(url, peer_prio, &k);
	c = accept_ok(l);
	assert_int_equal(tu_get(k.up[0], b, 1, WAIT_MS), 0);
	for (size_t i = 0; i < sizeof prio_order - 1; i++) {
		assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
		assert_int_equal(len, 1);
		assert_int_equal(b[0], prio_order[i]);
	}
	assert_int_equal(tu_put(k.down[1], "b", 1), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
	ctl_close(&k);
	/* schemes without priorities say so */
	assert_rv(ipcx_pair(&pa, &pb, NULL), 0);
	assert_rv(ipcx_send_prio(pa, "x", 1, 1, 0), IPCX_ENOTSUP);
	ipcx_close(pa);
	ipcx_close(pb);
}

/* ---- a full queue -------------------------------------------------------------------- */

static int
peer_slow_reader(ipcx_chan *c, void *arg)
{
	ctl_t *k = arg;
	uint32_t want[] = {0, 1, 3}; /* 2 timed out: never sent */
	unsigned char b[64];
	size_t len;

	/* dialled: the acknowledgement no longer takes a slot of our queue */
	TRY(tu_put(k->up[1], "d", 1) == 0, "ctl");
	TRY(tu_get(k->down[0], b, 1, WAIT_MS) == 0, "go");
	for (size_t i = 0; i < 3; i++) {
		TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
		TRY(len == 32 && tu_check(b, len, want[i]), "message %zu: %zu bytes", i, len);
	}
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, 0), IPCX_ETIMEDOUT);
	return 0;
}

static void
test_full_queue_send_honours_its_timeout_and_loses_nothing(void **state)
{
	char name[64], url[256];
	unsigned char b[32];
	ipcx_listener *l;
	ipcx_chan *c;
	ctl_t k;
	pid_t pid;

	(void)state;
	ctl_open(&k);
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "?depth=2");
	listen_ok(&l, url);
	pid = spawn_dialer(url, peer_slow_reader, &k);
	c = accept_ok(l);
	assert_int_equal(tu_get(k.up[0], b, 1, WAIT_MS), 0);
	for (uint32_t i = 0; i < 2; i++) {
		tu_fill(b, sizeof b, i);
		assert_rv(ipcx_send(c, b, sizeof b, 0), 0);
	}
	tu_fill(b, sizeof b, 2);
	assert_rv(ipcx_send(c, b, sizeof b, 0), IPCX_ETIMEDOUT);
	assert_rv(ipcx_send(c, b, sizeof b, 20), IPCX_ETIMEDOUT);
	/* now the reader starts: a send that waits (forever, if need be) gets through */
	assert_int_equal(tu_put(k.down[1], "g", 1), 0);
	tu_fill(b, sizeof b, 3);
	assert_rv(ipcx_send(c, b, sizeof b, -1), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
	ctl_close(&k);
}

/* ---- close and death ----------------------------------------------------------------- */

static const unsigned close_prios[] = {0, 0, 7, 0, 3};

static int
peer_send_close_stay(ipcx_chan *c, void *arg)
{
	ctl_t *k = arg;
	unsigned char b[16];
	char x;

	for (uint32_t i = 0; i < 5; i++) {
		tu_fill(b, sizeof b, i);
		TRY_RV(ipcx_send_prio(c, b, sizeof b, close_prios[i], WAIT_MS), 0);
	}
	ipcx_close(c); /* the marker overtakes the five (top priority) */
	TRY(tu_put(k->up[1], "c", 1) == 0, "ctl");
	TRY(tu_get(k->down[0], &x, 1, WAIT_MS) == 0, "bye"); /* alive: no pidfd news */
	return 0;
}

static int
peer_closed_it(ipcx_chan *c, void *arg)
{
	tu_child_exit(peer_send_close_stay(c, arg)); /* it closed the channel itself */
}

static void
test_close_marker_overtakes_but_closed_comes_after_the_queued_messages(void **state)
{
	static const uint32_t order[] = {2, 4, 0, 1, 3}; /* prio 7, 3, then the 0s in order */
	char name[64], url[256];
	unsigned char b[64];
	ipcx_listener *l;
	ipcx_chan *c;
	struct pollfd p;
	size_t len;
	ctl_t k;
	pid_t pid;

	(void)state;
	ctl_open(&k);
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "");
	listen_ok(&l, url);
	pid = spawn_dialer(url, peer_closed_it, &k);
	c = accept_ok(l);
	assert_int_equal(tu_get(k.up[0], b, 1, WAIT_MS), 0);
	for (size_t i = 0; i < 5; i++) {
		assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
		assert_int_equal(len, 16);
		assert_true(tu_check(b, len, order[i]));
	}
	assert_rv(ipcx_recv(c, b, sizeof b, &len, -1), IPCX_ECLOSED);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, 0), IPCX_ECLOSED);
	/* a poll loop learns it too: the channel fd stays readable, like end-of-file */
	p = (struct pollfd){.fd = ipcx_chan_fd(c), .events = POLLIN};
	assert_true(p.fd >= 0);
	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	assert_rv(ipcx_send(c, "x", 1, WAIT_MS), IPCX_ECLOSED);
	assert_int_equal(tu_put(k.down[1], "b", 1), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
	ctl_close(&k);
}

static int
peer_send_then_die(ipcx_chan *c, void *arg)
{
	ctl_t *k = arg;
	char x;

	TRY_RV(ipcx_send(c, "one", 3, WAIT_MS), 0);
	TRY_RV(ipcx_send(c, "two", 3, WAIT_MS), 0);
	TRY(tu_put(k->up[1], "s", 1) == 0, "ctl");
	TRY(tu_get(k->down[0], &x, 1, WAIT_MS) == 0, "die");
	raise(SIGKILL);
	return __LINE__;
}

static void
test_sigkilled_sender_gives_its_messages_then_closed_never_a_hang(void **state)
{
	char name[64], url[256], b[16];
	ipcx_listener *l;
	ipcx_chan *c;
	struct pollfd p;
	size_t len;
	ctl_t k;
	pid_t pid;

	(void)state;
	ctl_open(&k);
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "");
	listen_ok(&l, url);
	pid = spawn_dialer(url, peer_send_then_die, &k);
	c = accept_ok(l);
	assert_int_equal(tu_get(k.up[0], b, 1, WAIT_MS), 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(b, "one", 3);
	/* it dies while we wait on an empty queue or before: either way the wait ends */
	assert_int_equal(tu_put(k.down[1], "d", 1), 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, -1), 0);
	assert_memory_equal(b, "two", 3);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, -1), IPCX_ECLOSED);
	assert_int_equal(tu_wait(pid, WAIT_MS), 128 + SIGKILL);
	p = (struct pollfd){.fd = ipcx_chan_fd(c), .events = POLLIN};
	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	ipcx_close(c);
	ipcx_listener_close(l);
	ctl_close(&k);
}

static int
peer_wait_then_die(ipcx_chan *c, void *arg)
{
	ctl_t *k = arg;
	char x;

	(void)c;
	TRY(tu_put(k->up[1], "r", 1) == 0, "ctl");
	TRY(tu_get(k->down[0], &x, 1, WAIT_MS) == 0, "die");
	raise(SIGKILL);
	return __LINE__;
}

static void
test_sigkilled_reader_fails_a_blocked_send_and_wakes_the_channel_fd(void **state)
{
	char name[64], url[256], b[16];
	ipcx_listener *l;
	ipcx_chan *c;
	struct pollfd p;
	size_t len;
	ctl_t k;
	pid_t pid;

	(void)state;
	ctl_open(&k);
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "?depth=1");
	listen_ok(&l, url);
	pid = spawn_dialer(url, peer_wait_then_die, &k);
	c = accept_ok(l);
	assert_int_equal(tu_get(k.up[0], b, 1, WAIT_MS), 0);
	p = (struct pollfd){.fd = ipcx_chan_fd(c), .events = POLLIN};
	assert_true(p.fd >= 0);
	assert_int_equal(poll(&p, 1, 0), 0); /* nothing yet */
	assert_rv(ipcx_send(c, "full", 4, 0), 0);
	assert_int_equal(tu_put(k.down[1], "d", 1), 0);
	/* the queue is full and its reader dies: an error, not a wait forever */
	assert_rv(ipcx_send(c, "more", 4, -1), IPCX_ECLOSED);
	/* and a poll loop that only watches the channel fd wakes up */
	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, 0), IPCX_ECLOSED);
	assert_int_equal(tu_wait(pid, WAIT_MS), 128 + SIGKILL);
	ipcx_close(c);
	ipcx_listener_close(l);
	ctl_close(&k);
}

static int
peer_expect_message(ipcx_chan *c, void *arg)
{
	ctl_t *k = arg;
	char b[16];
	size_t len;

	TRY(tu_put(k->up[1], "r", 1) == 0, "ctl");
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	TRY(len == 5 && memcmp(b, "after", 5) == 0, "%zu bytes", len);
	return 0;
}

static void
test_close_in_a_forked_copy_leaves_the_channel_open(void **state)
{
	char name[64], url[256], b[4];
	ipcx_listener *l;
	ipcx_chan *c;
	ctl_t k;
	pid_t pid, copy;

	(void)state;
	ctl_open(&k);
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "");
	listen_ok(&l, url);
	pid = spawn_dialer(url, peer_expect_message, &k);
	c = accept_ok(l);
	assert_int_equal(tu_get(k.up[0], b, 1, WAIT_MS), 0);
	/* the channel belongs to the process that opened it: a child's close is no hang-up */
	copy = tu_fork();
	assert_true(copy >= 0);
	if (copy == 0) {
		ipcx_close(c);
		ipcx_listener_close(l);
		tu_child_exit(0);
	}
	assert_int_equal(tu_wait(copy, WAIT_MS), 0);
	assert_rv(ipcx_send(c, "after", 5, WAIT_MS), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
	ctl_close(&k);
}

/* ---- limits -------------------------------------------------------------------------- */

static void
expect_detail(const char *what, const char *a, const char *b)
{
	const char *d = ipcx_errdetail();

	if (strstr(d, a) == NULL || (b != NULL && strstr(d, b) == NULL)) {
		fail_msg("%s: errdetail \"%s\" does not name %s%s%s", what, d, a, b ? " and " : "",
		         b ? b : "");
	}
}

static void
test_depth_or_msgsize_beyond_the_kernel_limits_is_an_error_naming_the_limit(void **state)
{
	char name[64], url[256], durl[300];
	ipcx_listener *l;
	ipcx_chan *c = NULL;

	(void)state;
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "");
	listen_ok(&l, url);
	/* above HARD_MSGMAX (65536): refused even to root */
	snprintf(durl, sizeof durl, "%s?depth=65537", url);
	assert_rv(ipcx_dial(&c, durl, NULL, WAIT_MS), IPCX_EINVAL);
	expect_detail("depth=65537", "msg_max", "65537");
	snprintf(durl, sizeof durl, "%s?msgsize=16777217&maxmsg=33554432", url);
	assert_rv(ipcx_dial(&c, durl, NULL, WAIT_MS), IPCX_EMSGSIZE);
	expect_detail("msgsize=16777217", "msgsize_max", "16777217");
	assert_null(c);
	ipcx_listener_close(l);
	if (have_dev_mqueue()) {
		assert_int_equal(count_queues(name, NULL), 0);
	}
}

static int
child_small_rlimit(const char *url, const char *url2)
{
	struct rlimit rl = {1000, 1000};
	ipcx_listener *l2 = NULL;
	ipcx_chan *c = NULL;

	TRY(setrlimit(RLIMIT_MSGQUEUE, &rl) == 0, "setrlimit: %s", strerror(errno));
	TRY_RV(ipcx_dial(&c, url, NULL, WAIT_MS), IPCX_ENOSPC);
	TRY(strstr(ipcx_errdetail(), "RLIMIT_MSGQUEUE") != NULL, "detail: %s", ipcx_errdetail());
	TRY_RV(ipcx_listen(&l2, url2, NULL), IPCX_ENOSPC);
	TRY(strstr(ipcx_errdetail(), "RLIMIT_MSGQUEUE") != NULL, "detail: %s", ipcx_errdetail());
	return 0;
}

static void
test_rlimit_msgqueue_is_an_error_naming_the_limit(void **state)
{
	char name[64], name2[64], url[256], url2[256];
	ipcx_listener *l;
	pid_t pid;

	(void)state;
	mq_name(name, sizeof name);
	mq_name(name2, sizeof name2);
	mq_url(url, sizeof url, name, "");
	mq_url(url2, sizeof url2, name2, "");
	listen_ok(&l, url);
	pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		tu_child_exit(child_small_rlimit(url, url2));
	}
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_listener_close(l);
	if (have_dev_mqueue()) {
		assert_int_equal(count_queues(name, NULL), 0);
		assert_int_equal(count_queues(name2, NULL), 0);
	}
}

static int
write_sysctl(const char *name, const char *val)
{
	char path[128];
	int fd, ok;

	snprintf(path, sizeof path, "/proc/sys/fs/mqueue/%s", name);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1) {
		return -1;
	}
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

/* In an IPC namespace of its own (its queues die with it), with fs.mqueue.msg_max 5 and
 * queues_max 2, as an unprivileged user (root may exceed both). */
static int
child_namespace_limits(const char *url)
{
	char durl[300];
	ipcx_listener *l = NULL;
	ipcx_chan *c = NULL;

	if (getuid() != 0 || unshare(CLONE_NEWIPC) == -1) {
		fprintf(stderr, "no IPC namespace of our own here: %s\n", strerror(errno));
		return SKIPPED;
	}
	TRY(write_sysctl("msg_max", "5") == 0 && write_sysctl("queues_max", "2") == 0, "sysctl: %s",
	    strerror(errno));
	TRY(setgid(65534) == 0 && setuid(65534) == 0, "setuid: %s", strerror(errno));
	TRY_RV(ipcx_listen(&l, url, NULL), 0); /* queue 1 of 2 */
	snprintf(durl, sizeof durl, "%s?depth=6", url);
	TRY_RV(ipcx_dial(&c, durl, NULL, WAIT_MS), IPCX_EINVAL);
	TRY(strstr(ipcx_errdetail(), "fs.mqueue.msg_max is 5") != NULL, "detail: %s",
	    ipcx_errdetail());
	snprintf(durl, sizeof durl, "%s?depth=2&msgsize=64", url);
	TRY_RV(ipcx_dial(&c, durl, NULL, WAIT_MS), IPCX_ENOSPC); /* its second queue: 3 of 2 */
	TRY(strstr(ipcx_errdetail(), "fs.mqueue.queues_max is 2") != NULL, "detail: %s",
	    ipcx_errdetail());
	ipcx_listener_close(l);
	return 0;
}

static void
test_msg_max_and_queues_max_are_errors_naming_the_limit(void **state)
{
	char name[64], url[256];
	pid_t pid;
	int st;

	(void)state;
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "");
	pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rv = child_namespace_limits(url);
		fflush(stderr);
		_exit(rv == SKIPPED ? SKIPPED : rv == 0 ? 0 : 1);
	}
	st = tu_wait(pid, WAIT_MS);
	if (st == SKIPPED) {
		print_message("[ SKIP     ] needs root and unshare(CLONE_NEWIPC)\n");
		skip();
	}
	assert_int_equal(st, 0);
}

/* ---- the well-known queue ------------------------------------------------------------ */

static void
test_stale_well_known_queue_is_replaced_and_a_live_one_is_in_use(void **state)
{
	char name[64], url[256], x;
	ipcx_listener *l, *l2 = NULL;
	ipcx_chan *c = NULL;
	ctl_t k;
	pid_t pid;
	mqd_t q;

	(void)state;
	NEED_DEV_MQUEUE();
	ctl_open(&k);
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "");
	pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ipcx_listener *cl;
		if (ipcx_listen(&cl, url, NULL) != 0 || tu_put(k.up[1], "l", 1) != 0) {
			tu_child_exit(1);
		}
		tu_get(k.down[0], &x, 1, WAIT_MS); /* until killed */
		tu_child_exit(1);
	}
	assert_int_equal(tu_get(k.up[0], &x, 1, WAIT_MS), 0);
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_EADDRINUSE); /* it lives */
	tu_kill(pid);
	assert_int_equal(count_queues(name, NULL), 1); /* what the dead listener left */
	/* a client of the dead listener is refused at once rather than left waiting */
	assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), IPCX_ECONNREFUSED);
	assert_int_equal(count_queues(name, NULL), 1);
	listen_ok(&l, url); /* replaces it */
	assert_int_equal(count_queues(name, NULL), 1);
	assert_rv(ipcx_listen(&l2, url, NULL), IPCX_EADDRINUSE); /* ours, live */
	ipcx_listener_close(l);
	assert_int_equal(count_queues(name, NULL), 0);

	/* a queue of that name whose maker is unknown is not ours to take */
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "");
	{
		char qn[300];
		snprintf(qn, sizeof qn, "/ipcx.%s", name);
		q = mq_open(qn, O_RDONLY | O_CREAT | O_EXCL, 0600, NULL);
		assert_true(q != (mqd_t)-1);
		assert_rv(ipcx_listen(&l2, url, NULL), IPCX_EADDRINUSE);
		assert_int_equal(count_queues(name, NULL), 1);
		mq_close(q);
		mq_unlink(qn);
	}
	ctl_close(&k);
}

static void
test_keep_leaves_the_well_known_queue(void **state)
{
	char name[64], url[256], qn[300], reg[700];
	ipcx_listener *l;
	const char *dir = getenv("IPCX_REGISTRY_DIR");

	(void)state;
	NEED_DEV_MQUEUE();
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "?keep=1");
	listen_ok(&l, url);
	ipcx_listener_close(l);
	assert_int_equal(count_queues(name, NULL), 1);
	snprintf(qn, sizeof qn, "/ipcx.%s", name);
	assert_int_equal(mq_unlink(qn), 0);
	/* its creator stays on record (for ipcx ls) with the queue */
	assert_non_null(dir);
	snprintf(reg, sizeof reg, "%s/posix-mq:%%2Fipcx.%s", dir, name);
	assert_int_equal(unlink(reg), 0);
}

static mode_t
queue_mode(const char *entry)
{
	char path[400];
	struct stat st;

	snprintf(path, sizeof path, "/dev/mqueue/%s", entry);
	return stat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static int
peer_nothing(ipcx_chan *c, void *arg)
{
	(void)c;
	(void)arg;
	return 0;
}

static void
test_queues_get_exactly_the_mode_asked_for_whatever_the_umask(void **state)
{
	static const struct {
		mode_t umask;
		const char *query;
		mode_t want;
	} cases[] = {
	        {0, "", 0600}, {022, "", 0600}, {077, "?mode=0640", 0640}, {0, "?mode=0620", 0620}};
	char name[64], url[256], entry[300];
	ipcx_listener *l;
	ipcx_chan *c;
	mode_t old;

	(void)state;
	NEED_DEV_MQUEUE();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pollfd p;
		DIR *d;
		struct dirent *e;
		int priv = 0;
		pid_t pid;
		old = umask(cases[i].umask);
		mq_name(name, sizeof name);
		mq_url(url, sizeof url, name, cases[i].query);
		listen_ok(&l, url);
		snprintf(entry, sizeof entry, "ipcx.%s", name);
		assert_int_equal(queue_mode(entry), cases[i].want);
		/* a client's private queues, seen while its hello waits: the dialer's mode */
		pid = spawn_dialer(url, peer_nothing, NULL);
		p = (struct pollfd){.fd = ipcx_listener_fd(l), .events = POLLIN};
		assert_int_equal(poll(&p, 1, WAIT_MS), 1);
		assert_non_null(d = opendir("/dev/mqueue"));
		while ((e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, entry, strlen(entry)) == 0 &&
			    e->d_name[strlen(entry)] == '.') {
				assert_int_equal(queue_mode(e->d_name), cases[i].want);
				priv++;
			}
		}
		closedir(d);
		assert_int_equal(priv, 2);
		c = accept_ok(l);
		assert_int_equal(tu_wait(pid, WAIT_MS), 0);
		ipcx_close(c);
		ipcx_listener_close(l);
		umask(old);
	}
}

static void
test_bad_names_and_options_are_refused(void **state)
{
	char url[600], name[300];
	ipcx_listener *l = NULL;
	ipcx_chan *c = NULL;

	(void)state;
	assert_rv(ipcx_listen(&l, "mq:///", NULL), IPCX_EBADURL);
	assert_rv(ipcx_listen(&l, "mq:///a/b", NULL), IPCX_EBADURL);
	assert_rv(ipcx_listen(&l, "mq:@x", NULL), IPCX_EBADURL);
	memset(name, 'n', 250);
	name[250] = '\0';
	snprintf(url, sizeof url, "mq:///%s", name);
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_ENAMETOOLONG);
	assert_rv(ipcx_dial(&c, url, NULL, 0), IPCX_ENAMETOOLONG);
	mq_name(name, sizeof name);
	snprintf(url, sizeof url, "mq:///%s?raw=1", name);
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_ENOTSUP);
	snprintf(url, sizeof url, "mq:///%s?depth=0", name);
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_EBADURL);
	snprintf(url, sizeof url, "mq:///%s?msgsize=big", name);
	assert_rv(ipcx_dial(&c, url, NULL, 0), IPCX_EBADURL);
	snprintf(url, sizeof url, "mq:///%s?maxmsgs=3", name);
	assert_rv(ipcx_dial(&c, url, NULL, 0), IPCX_EBADURL);
	/* nobody listens */
	snprintf(url, sizeof url, "mq:///%s", name);
	assert_rv(ipcx_dial(&c, url, NULL, 0), IPCX_ENOENT);
	assert_null(l);
	assert_null(c);
	assert_int_equal(ipcx_persistence("mq:///x"), IPCX_PERSIST_KERNEL);
}

static void
test_garbage_hellos_are_skipped_and_the_listener_serves_the_next(void **state)
{
	static const char *const junk[] = {
	        "",
	        "hello",
	        "IPCX-MQ/1 ",
	        "IPCX-MQ/1 ../../etc 1 0",
	        "IPCX-MQ/1 tok",
	        "IPCX-MQ/1 tok -5 3",
	        "IPCX-MQ/1 tok 99999999999 3",
	        "IPCX-MQ/1 tok 1 2 extra",
	        "IPCX-MQ/1 Tok 1 2",
	        "IPCX-MQ/1 nosuchqueue 1 0", /* well formed; no such queues */
	};
	char name[64], url[256], qn[300], big[128];
	ipcx_listener *l;
	ipcx_chan *c = NULL;
	pid_t pid;
	mqd_t q;

	(void)state;
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "");
	listen_ok(&l, url);
	snprintf(qn, sizeof qn, "/ipcx.%s", name);
	q = mq_open(qn, O_WRONLY | O_NONBLOCK);
	assert_true(q != (mqd_t)-1);
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
		assert_int_equal(mq_send(q, junk[i], strlen(junk[i]), 0), 0);
		assert_rv(ipcx_accept(l, &c, 0), IPCX_ETIMEDOUT);
	}
	memset(big, 'x', sizeof big);
	assert_int_equal(mq_send(q, big, sizeof big, 0), 0);
	mq_close(q);
	pid = spawn_dialer(url, peer_nothing, NULL);
	c = accept_ok(l);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
}

/* ---- nothing left behind ------------------------------------------------------------- */

static void
test_nothing_is_left_in_dev_mqueue_even_after_sigkill(void **state)
{
	char name[64], url[256], x;
	ipcx_listener *l;
	ipcx_chan *c = NULL;
	struct pollfd p;
	int priv = -1;
	ctl_t k;
	pid_t pid;

	(void)state;
	NEED_DEV_MQUEUE();
	ctl_open(&k);
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "");
	listen_ok(&l, url);
	assert_int_equal(count_queues(name, &priv), 1);

	/* a connected pair: the private names are gone, only the listener's remains */
	pid = spawn_dialer(url, peer_wait_then_die, &k);
	c = accept_ok(l);
	assert_int_equal(tu_get(k.up[0], &x, 1, WAIT_MS), 0);
	assert_int_equal(count_queues(name, &priv), 1);
	assert_int_equal(priv, 0);
	assert_int_equal(tu_put(k.down[1], "d", 1), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 128 + SIGKILL);
	assert_int_equal(count_queues(name, NULL), 1);
	ipcx_close(c);

	/* a client killed while it waits for accept: the server removes what it left */
	pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ipcx_dial(&c, url, NULL, WAIT_MS);
		tu_child_exit(1);
	}
	p = (struct pollfd){.fd = ipcx_listener_fd(l), .events = POLLIN};
	assert_int_equal(poll(&p, 1, WAIT_MS), 1); /* its hello is queued */
	assert_int_equal(count_queues(name, &priv), 3);
	tu_kill(pid);
	c = NULL;
	assert_rv(ipcx_accept(l, &c, 0), IPCX_ETIMEDOUT);
	assert_null(c);
	assert_int_equal(count_queues(name, &priv), 1);

	/* a client whose dial times out removes its own */
	assert_rv(ipcx_dial(&c, url, NULL, 20), IPCX_ETIMEDOUT);
	assert_int_equal(count_queues(name, NULL), 1);
	assert_rv(ipcx_accept(l, &c, 0), IPCX_ETIMEDOUT); /* its stale hello is skipped */

	ipcx_listener_close(l);
	assert_int_equal(count_queues(name, NULL), 0);
	ctl_close(&k);
}

static void
test_listener_close_refuses_the_clients_still_waiting(void **state)
{
	char name[64], url[256];
	ipcx_listener *l;
	struct pollfd p;
	pid_t pid;

	(void)state;
	mq_name(name, sizeof name);
	mq_url(url, sizeof url, name, "");
	listen_ok(&l, url);
	pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ipcx_chan *c = NULL;
		int rv = ipcx_dial(&c, url, NULL, WAIT_MS);
		tu_child_exit(rv == IPCX_ECONNREFUSED ? 0 : 1);
	}
	p = (struct pollfd){.fd = ipcx_listener_fd(l), .events = POLLIN};
	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	ipcx_listener_close(l);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	if (have_dev_mqueue()) {
		assert_int_equal(count_queues(name, NULL), 0);
	}
}

/* ---- main ---------------------------------------------------------------------------- */

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int
main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
	        T(test_depth_and_msgsize_options_shape_the_queues),
	        T(test_listener_refuses_queues_larger_than_its_max_msg),
	        T(test_send_prio_delivers_highest_first_and_reserves_the_top_priority),
	        T(test_full_queue_send_honours_its_timeout_and_loses_nothing),
	        T(test_close_marker_overtakes_but_closed_comes_after_the_queued_messages),
	        T(test_sigkilled_sender_gives_its_messages_then_closed_never_a_hang),
	        T(test_sigkilled_reader_fails_a_blocked_send_and_wakes_the_channel_fd),
	        T(test_close_in_a_forked_copy_leaves_the_channel_open),
	        T(test_depth_or_msgsize_beyond_the_kernel_limits_is_an_error_naming_the_limit),
	        T(test_rlimit_msgqueue_is_an_error_naming_the_limit),
	        T(test_msg_max_and_queues_max_are_errors_naming_the_limit),
	        T(test_stale_well_known_queue_is_replaced_and_a_live_one_is_in_use),
	        T(test_keep_leaves_the_well_known_queue),
	        T(test_queues_get_exactly_the_mode_asked_for_whatever_the_umask),
	        T(test_bad_names_and_options_are_refused),
	        T(test_garbage_hellos_are_skipped_and_the_listener_serves_the_next),
	        T(test_nothing_is_left_in_dev_mqueue_even_after_sigkill),
	        T(test_listener_close_refuses_the_clients_still_waiting),
	};
	/* (tu_run raises RLIMIT_MSGQUEUE: queues of tests running in parallel) */
	return tu_run("mq", tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
