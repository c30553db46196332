/*
 * sysvmq.c - sysvmq:// beyond the conformance suite: clients isolated by mtype, a message
 * too large for the buffer kept, full queue and window with timeouts, limits named in
 * ipcx_errdetail (in a private IPC namespace), stale and foreign queues, URL forms, keep
 * and mode, malformed hellos, a dead server, and nothing left in /proc/sysvipc/msg.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#define WAIT_MS 30000 /* bound on any wait for something that must happen */

/* ---- helpers ------------------------------------------------------------------------- */

/* A queue key of this test's own: ftok of its private directory. */
static key_t
test_key(unsigned proj)
{
	key_t k = ftok(tu_dir(), (int)proj);

	if (k == (key_t)-1) {
		fail_msg("ftok %s: %s", tu_dir(), strerror(errno));
	}
	return k;
}

static void
url_of(char *buf, size_t cap, unsigned proj)
{
	snprintf(buf, cap, "sysvmq://%s?proj=%u", tu_dir(), proj);
}

static void
url_key(char *buf, size_t cap, key_t key)
{
	snprintf(buf, cap, "sysvmq:0x%08x", (unsigned)key);
}

/* The queue with key: its id, or -1 if there is none. */
static int
queue_id(key_t key)
{
	return msgget(key, 0);
}

/* Messages queued in the queue with key (-1: no queue). */
static long
queue_qnum(key_t key)
{
	struct msqid_ds ds;
	int id = queue_id(key);

	if (id < 0 || msgctl(id, IPC_STAT, &ds) == -1) {
		return -1;
	}
	return (long)ds.msg_qnum;
}

static size_t
sysctl_kernel(const char *name, size_t dflt)
{
	char path[64];
	FILE *fp;
	long v = 0;

	snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
	if ((fp = fopen(path, "r")) == NULL) {
		return dflt;
	}
	if (fscanf(fp, "%ld", &v) != 1 || v <= 0) {
		v = (long)dflt;
	}
	fclose(fp);
	return (size_t)v;
}

/* The largest payload of this machine's queues. */
static size_t
payload_max(void)
{
	return tu_sysvmq_max();
}

/* A dial from a forked child: runs fn on the channel, exits with its status. fn returns 0,
 * the failing line, or PEER_CLOSED_IT (success, and it closed the channel itself). */
typedef int (*peer_fn)(ipcx_chan *c, void *arg);
#define PEER_CLOSED_IT (-1)

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
		if (st != PEER_CLOSED_IT) {
			ipcx_close(c);
		}
		tu_child_exit(st == PEER_CLOSED_IT ? 0 : st);
	}
	return pid;
}

/* accept in a thread, so that one process can dial its own listener */
typedef struct acceptor {
	pthread_t th;
	ipcx_listener *l;
	ipcx_chan *c;
	int rv;
} acceptor;

static void *
acceptor_main(void *arg)
{
	acceptor *a = arg;

	a->rv = ipcx_accept(a->l, &a->c, WAIT_MS);
	return NULL;
}

static int
acceptor_start(acceptor *a, ipcx_listener *l)
{
	memset(a, 0, sizeof *a);
	a->l = l;
	return pthread_create(&a->th, NULL, acceptor_main, a);
}

static int
acceptor_join(acceptor *a)
{
	pthread_join(a->th, NULL);
	return a->rv;
}

/* ---- clients are isolated by mtype --------------------------------------------------- */

#define ISO_CLIENTS 4
#define ISO_N       3000

typedef struct iso_arg {
	uint32_t tag;
} iso_arg;

/* Send ISO_N messages carrying our tag, read as many replies: each must carry our tag and
 * come in order (the server echoes). */
static int
peer_iso(ipcx_chan *c, void *arg)
{
	iso_arg *a = arg;
	uint32_t m[2], r[3];
	uint32_t next = 0;

	for (uint32_t i = 0; i < ISO_N; i++) {
		size_t len = 0;
		m[0] = a->tag;
		m[1] = i;
		TRY_RV(ipcx_send(c, m, sizeof m, WAIT_MS), 0);
		/* replies interleave with our sends; take what is there */
		while (ipcx_recv(c, r, sizeof r, &len, 0) == 0) {
			TRY(len == sizeof m && r[0] == a->tag && r[1] == next,
			    "client %u got tag %u seq %u (want %u)", a->tag, r[0], r[1], next);
			next++;
		}
	}
	while (next < ISO_N) {
		size_t len = 0;
		TRY_RV(ipcx_recv(c, r, sizeof r, &len, WAIT_MS), 0);
		TRY(len == sizeof m && r[0] == a->tag && r[1] == next,
		    "client %u got tag %u seq %u (want %u)", a->tag, r[0], r[1], next);
		next++;
	}
	return 0;
}

typedef struct iso_server {
	pthread_t th;
	ipcx_chan *c;
	int st;
} iso_server;

/* One thread per channel, each blocking in its own recv: a channel only ever takes its
 * own client's messages. */
static int
iso_serve(ipcx_chan *c)
{
	uint32_t m[3];
	int64_t tag = -1;

	for (uint32_t i = 0;; i++) {
		size_t len = 0;
		int rv = ipcx_recv(c, m, sizeof m, &len, WAIT_MS);
		if (rv == IPCX_ECLOSED) {
			TRY(i == ISO_N, "client %lld closed after %u", (long long)tag, i);
			return 0;
		}
		TRY_RV(rv, 0);
		TRY(len == 8, "message of %zu bytes", len);
		if (tag < 0) {
			tag = m[0];
		}
		TRY(m[0] == tag && m[1] == i, "channel of client %lld got tag %u seq %u",
		    (long long)tag, m[0], m[1]);
		TRY_RV(ipcx_send(c, m, len, WAIT_MS), 0);
	}
}

static void *
iso_main(void *arg)
{
	iso_server *s = arg;

	s->st = iso_serve(s->c);
	return NULL;
}

static void
test_clients_are_isolated_by_mtype_one_thread_per_channel(void **state)
{
	iso_server srv[ISO_CLIENTS];
	iso_arg args[ISO_CLIENTS];
	pid_t pids[ISO_CLIENTS];
	ipcx_listener *l;
	char url[600];

	(void)state;
	url_of(url, sizeof url, 3);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	for (int i = 0; i < ISO_CLIENTS; i++) {
		args[i].tag = 100 + (uint32_t)i;
		pids[i] = spawn_dialer(url, peer_iso, &args[i]);
	}
	for (int i = 0; i < ISO_CLIENTS; i++) {
		assert_rv(ipcx_accept(l, &srv[i].c, WAIT_MS), 0);
		assert_int_equal(pthread_create(&srv[i].th, NULL, iso_main, &srv[i]), 0);
	}
	for (int i = 0; i < ISO_CLIENTS; i++) {
		assert_int_equal(tu_wait(pids[i], TU_WAIT_MS), 0);
	}
	for (int i = 0; i < ISO_CLIENTS; i++) {
		pthread_join(srv[i].th, NULL);
		assert_int_equal(srv[i].st, 0);
		ipcx_close(srv[i].c);
	}
	ipcx_listener_close(l);
	assert_int_equal(queue_id(test_key(3)), -1);
}

/* ---- sizes ---------------------------------------------------------------------------- */

static int
peer_send_big_then_small(ipcx_chan *c, void *arg)
{
	unsigned char *b = tu_xmalloc(payload_max() + 1);
	char bye[8];
	size_t len = 0;

	(void)arg;
	tu_fill(b, payload_max(), 1);
	TRY_RV(ipcx_send(c, b, payload_max(), WAIT_MS), 0);
	tu_fill(b, 10, 2);
	TRY_RV(ipcx_send(c, b, 10, WAIT_MS), 0);
	/* one byte more than a queue message can carry: refused here, the limit named */
	TRY_RV(ipcx_send(c, b, payload_max() + 1, WAIT_MS), IPCX_EMSGSIZE);
	TRY(strstr(ipcx_errdetail(), "kernel.msgmax") != NULL ||
	            strstr(ipcx_errdetail(), "kernel.msgmnb") != NULL,
	    "errdetail: %s", ipcx_errdetail());
	TRY_RV(ipcx_recv(c, bye, sizeof bye, &len, WAIT_MS), 0);
	free(b);
	return 0;
}

static void
test_emsgsize_keeps_the_message_and_its_order(void **state)
{
	size_t big = payload_max(), len;
	unsigned char *b = tu_xmalloc(big + 1);
	ipcx_listener *l;
	ipcx_chan *c;
	char url[600];
	pid_t pid;

	(void)state;
	url_of(url, sizeof url, 4);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	pid = spawn_dialer(url, peer_send_big_then_small, NULL);
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	for (size_t cap = 0; cap < big; cap += big / 3) {
		len = 0;
		assert_rv(ipcx_recv(c, b, cap, &len, WAIT_MS), IPCX_EMSGSIZE);
		assert_int_equal(len, big);
	}
	assert_rv(ipcx_recv(c, b, big, &len, WAIT_MS), 0);
	assert_int_equal(len, big);
	assert_true(tu_check(b, big, 1));
	assert_rv(ipcx_recv(c, b, big, &len, WAIT_MS), 0);
	assert_int_equal(len, 10);
	assert_true(tu_check(b, 10, 2));
	assert_rv(ipcx_send(c, "bye", 3, WAIT_MS), 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
	free(b);
}

/* ---- a full queue and a full window --------------------------------------------------- */

#define FLOOD_LEN 511 /* + 1 header byte: 16 fill a window of 8192 bytes exactly */

typedef struct flood_arg {
	int up, down; /* control pipes: child -> parent, parent -> child */
	bool sender;  /* the third client: sends into the full queue */
} flood_arg;

/* Clients A and B do not read until told; then each takes everything the server sent.
 * Client C sends into the full queue. */
static int
peer_flood(ipcx_chan *c, void *arg)
{
	flood_arg *a = arg;
	unsigned char b[FLOOD_LEN + 1];
	uint32_t n;
	size_t len = 0;
	char x;
	int rv;

	TRY(tu_put(a->up, "r", 1) == 0, "ctl");
	if (a->sender) {
		TRY(tu_get(a->down, &x, 1, WAIT_MS) == 0, "ctl");
		/* nothing in the full queue is ours to read: the send times out, and says why */
		rv = ipcx_send(c, "x", 1, 50);
		TRY_RV(rv, IPCX_ETIMEDOUT);
		TRY(strstr(ipcx_errdetail(), "kernel.msgmnb") != NULL, "errdetail: %s",
		    ipcx_errdetail());
		TRY(tu_put(a->up, "t", 1) == 0, "ctl");
		TRY(tu_get(a->down, &x, 1, WAIT_MS) == 0, "ctl");
		TRY_RV(ipcx_send(c, "x", 1, WAIT_MS), 0);
		return 0;
	}
	TRY(tu_get(a->down, &n, sizeof n, WAIT_MS) == 0, "ctl");
	for (uint32_t k = 0; k < n; k++) {
		TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
		TRY(len == FLOOD_LEN && tu_check(b, len, k), "message %u: %zu bytes", k, len);
	}
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, 0), IPCX_ETIMEDOUT);
	return 0;
}

static void
test_full_window_and_full_queue_time_out_and_lose_nothing(void **state)
{
	int up[3][2], down[3][2];
	unsigned char b[FLOOD_LEN];
	uint32_t n[2] = {0, 0};
	flood_arg fa[3];
	ipcx_listener *l;
	ipcx_chan *c[3];
	char url[600], x;
	pid_t pid[3];
	size_t len;
	int rv;

	(void)state;
	if (sysctl_kernel("msgmnb", 16384) != 16384 || sysctl_kernel("msgmax", 8192) < 8192) {
		print_message("[ SKIP     ] the arithmetic here is for msgmnb 16384\n");
		skip();
	}
	url_of(url, sizeof url, 5);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	for (int i = 0; i < 3; i++) {
		tu_pipe(up[i]);
		tu_pipe(down[i]);
		fa[i] = (flood_arg){.up = up[i][1], .down = down[i][0], .sender = i == 2};
		pid[i] = spawn_dialer(url, peer_flood, &fa[i]);
		tu_close(up[i][1]);
		tu_close(down[i][0]);
		assert_rv(ipcx_accept(l, &c[i], WAIT_MS), 0);
		assert_int_equal(tu_get(up[i][0], &x, 1, WAIT_MS), 0);
	}
	/* A and B do not read: each window (half the queue) fills, and a send then times
	 * out, saying why; together they fill the queue */
	for (int i = 0; i < 2; i++) {
		for (;;) {
			tu_fill(b, sizeof b, n[i]);
			if ((rv = ipcx_send(c[i], b, sizeof b, n[i] < 16 ? WAIT_MS : 50)) != 0) {
				break;
			}
			n[i]++;
		}
		assert_rv(rv, IPCX_ETIMEDOUT);
		assert_int_equal(n[i], 16);
		assert_non_null(strstr(ipcx_errdetail(), "has not read"));
	}
	assert_int_equal(tu_put(down[2][1], "g", 1), 0);
	assert_int_equal(tu_get(up[2][0], &x, 1, WAIT_MS), 0);
	/* every message whose send returned 0 arrives, intact and in order; then C's send
	 * finds room */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(tu_put(down[i][1], &n[i], sizeof n[i]), 0);
		assert_int_equal(tu_wait(pid[i], TU_WAIT_MS), 0);
	}
	assert_int_equal(tu_put(down[2][1], "g", 1), 0);
	assert_rv(ipcx_recv(c[2], b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 1);
	assert_int_equal(tu_wait(pid[2], TU_WAIT_MS), 0);
	for (int i = 0; i < 3; i++) {
		ipcx_close(c[i]);
		tu_close(up[i][0]);
		tu_close(down[i][1]);
	}
	ipcx_listener_close(l);
}

/* ---- the classic deadlock of one queue ---------------------------------------------------- */

/* An echo peer: one thread that reads a message, then sends it back. */
static int
peer_echo(ipcx_chan *c, void *arg)
{
	size_t max = payload_max(), len;
	unsigned char *b = tu_xmalloc(max);

	(void)arg;
	for (;;) {
		int rv = ipcx_recv(c, b, max, &len, WAIT_MS);
		if (rv == IPCX_ECLOSED) {
			break;
		}
		TRY_RV(rv, 0);
		TRY_RV(ipcx_send(c, b, len, WAIT_MS), 0);
	}
	free(b);
	return 0;
}

#define BIG_N 300

typedef struct big_sender {
	pthread_t th;
	ipcx_chan *c;
	int st;
} big_sender;

static int
big_send_body(big_sender *s)
{
	size_t max = payload_max();
	unsigned char *b = tu_xmalloc(max);

	for (uint32_t k = 0; k < BIG_N; k++) {
		tu_fill(b, max, k);
		TRY_RV(ipcx_send(s->c, b, max, WAIT_MS), 0);
	}
	free(b);
	return 0;
}

static void *
big_send_main(void *arg)
{
	big_sender *s = arg;

	s->st = big_send_body(s);
	return NULL;
}

/* One queue carries both directions. The largest messages flood one way while the peer
 * sends each back: without flow control the queue fills with ours and the echo can never
 * be sent (the classic deadlock of one queue per server). */
static void
test_largest_messages_echoed_while_flooding_never_deadlock(void **state)
{
	size_t max = payload_max(), len;
	unsigned char *b = tu_xmalloc(max);
	big_sender s;
	ipcx_listener *l;
	char url[600];
	pid_t pid;

	(void)state;
	url_of(url, sizeof url, 6);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	pid = spawn_dialer(url, peer_echo, NULL);
	memset(&s, 0, sizeof s);
	assert_rv(ipcx_accept(l, &s.c, WAIT_MS), 0);
	assert_int_equal(pthread_create(&s.th, NULL, big_send_main, &s), 0);
	for (uint32_t k = 0; k < BIG_N; k++) {
		len = 0;
		assert_rv(ipcx_recv(s.c, b, max, &len, WAIT_MS), 0);
		assert_int_equal(len, max);
		assert_true(tu_check(b, len, k));
	}
	pthread_join(s.th, NULL);
	assert_int_equal(s.st, 0);
	ipcx_close(s.c);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_listener_close(l);
	free(b);
}

/* ---- limits named, in a private IPC namespace ----------------------------------------- */

static int
write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		return -1;
	}
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* Enter a private IPC namespace whose limits this process may set (as root, or as root of
 * a new user namespace). 0, or -1 if the system does not allow it. */
static int
private_ipc_ns(void)
{
	uid_t uid = getuid();
	char map[64];

	if (uid == 0 && unshare(CLONE_NEWIPC) == 0) {
		return 0;
	}
	if (unshare(CLONE_NEWUSER | CLONE_NEWIPC) != 0) {
		return -1;
	}
	snprintf(map, sizeof map, "0 %lu 1", (unsigned long)uid);
	write_file("/proc/self/setgroups", "deny");
	return write_file("/proc/self/uid_map", map);
}

static int
limits_body(const char *dir)
{
	unsigned char b[2048];
	ipcx_listener *l, *l2 = NULL;
	ipcx_chan *d = NULL;
	char url[600];
	acceptor a;
	int rv;

	/* queues made from now on hold 4096 bytes; a message is at most 1024 bytes; one
	 * queue in all */
	TRY(write_file("/proc/sys/kernel/msgmnb", "4096") == 0, "msgmnb");
	TRY(write_file("/proc/sys/kernel/msgmax", "1024") == 0, "msgmax");
	TRY(write_file("/proc/sys/kernel/msgmni", "1") == 0, "msgmni");
	snprintf(url, sizeof url, "sysvmq://%s?proj=9", dir);
	TRY_RV(ipcx_listen(&l, url, NULL), 0);

	snprintf(url, sizeof url, "sysvmq://%s?proj=10", dir);
	TRY_RV(ipcx_listen(&l2, url, NULL), IPCX_ENOSPC);
	TRY(strstr(ipcx_errdetail(), "kernel.msgmni is 1") != NULL, "errdetail: %s",
	    ipcx_errdetail());

	snprintf(url, sizeof url, "sysvmq://%s?proj=9", dir);
	TRY(acceptor_start(&a, l) == 0, "thread");
	rv = ipcx_dial(&d, url, NULL, WAIT_MS);
	TRY_RV(acceptor_join(&a), 0);
	TRY_RV(rv, 0);

	/* 1023 bytes of payload (one byte is ipcx's); 1024 is refused, the limit named */
	memset(b, 7, sizeof b);
	TRY_RV(ipcx_send(d, b, 1023, WAIT_MS), 0);
	TRY_RV(ipcx_send(d, b, 1024, WAIT_MS), IPCX_EMSGSIZE);
	TRY(strstr(ipcx_errdetail(), "kernel.msgmax is 1024") != NULL, "errdetail: %s",
	    ipcx_errdetail());

	/* half of the queue's 4096 bytes may wait unread in one direction */
	do {
		rv = ipcx_send(d, b, 1000, 20);
	} while (rv == 0);
	TRY_RV(rv, IPCX_ETIMEDOUT);
	TRY(strstr(ipcx_errdetail(), "4096 bytes") != NULL &&
	            strstr(ipcx_errdetail(), "kernel.msgmnb") != NULL,
	    "errdetail: %s", ipcx_errdetail());
	ipcx_close(d);
	ipcx_close(a.c);
	ipcx_listener_close(l);
	return 0;
}

static void
test_limits_msgmax_msgmnb_msgmni_are_named_in_errdetail(void **state)
{
	int ok[2];
	char dir[512], yes = 0;
	pid_t pid;

	(void)state;
	snprintf(dir, sizeof dir, "%s", tu_dir());
	tu_pipe(ok);
	pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		tu_close(ok[0]);
		if (private_ipc_ns() != 0) {
			tu_child_exit(0); /* says nothing on the pipe: the parent skips */
		}
		tu_put(ok[1], "y", 1);
		tu_child_exit(limits_body(dir));
	}
	tu_close(ok[1]);
	if (tu_get(ok[0], &yes, 1, WAIT_MS) != 0) {
		tu_close(ok[0]);
		assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
		print_message("[ SKIP     ] no private IPC namespace here (unshare refused): the "
		              "limits cannot be lowered to test\n");
		skip();
	}
	tu_close(ok[0]);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
}

/* ---- stale, foreign and live queues ----------------------------------------------------- */

static int
peer_wait_for_closed(ipcx_chan *c, void *arg)
{
	int *up = arg;
	char b[8];
	size_t len = 0;

	TRY(tu_put(*up, "r", 1) == 0, "ctl");
	/* the server is killed while we wait: not a hang, not a timeout */
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), IPCX_ECLOSED);
	return 0;
}

static void
test_dead_server_gives_closed_and_its_queue_is_replaced(void **state)
{
	ipcx_listener *l;
	ipcx_chan *c = NULL;
	int up[2], ready[2], old_id;
	char url[600], x;
	pid_t srv, cli;
	key_t key = test_key(11);

	(void)state;
	url_of(url, sizeof url, 11);
	tu_pipe(ready);
	srv = tu_fork();
	assert_true(srv >= 0);
	if (srv == 0) {
		ipcx_listener *sl;
		ipcx_chan *sc;
		if (ipcx_listen(&sl, url, NULL) != 0 || tu_put(ready[1], "l", 1) != 0 ||
		    ipcx_accept(sl, &sc, WAIT_MS) != 0) {
			tu_child_exit(1);
		}
		pause(); /* until SIGKILL */
		tu_child_exit(1);
	}
	tu_close(ready[1]);
	assert_int_equal(tu_get(ready[0], &x, 1, WAIT_MS), 0);
	tu_close(ready[0]);
	tu_pipe(up);
	cli = spawn_dialer(url, peer_wait_for_closed, &up[1]);
	tu_close(up[1]);
	assert_int_equal(tu_get(up[0], &x, 1, WAIT_MS), 0);
	tu_close(up[0]);
	old_id = queue_id(key);
	assert_true(old_id >= 0);
	tu_kill(srv);
	assert_int_equal(tu_wait(cli, TU_WAIT_MS), 0);
	/* the queue outlives its creator (kernel persistence); a dial sees at once that
	 * nobody listens */
	assert_int_equal(queue_id(key), old_id);
	assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), IPCX_ECONNREFUSED);
	assert_null(c);
	assert_non_null(strstr(ipcx_errdetail(), "stale"));
	/* the registry knows that its creator is dead: a new listener replaces it */
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	assert_true(queue_id(key) >= 0);
	assert_true(queue_id(key) != old_id);
	ipcx_listener_close(l);
	assert_int_equal(queue_id(key), -1);
}

static void
test_live_or_foreign_queue_is_eaddrinuse_and_left_alone(void **state)
{
	ipcx_listener *l, *l2 = NULL;
	char url[600];
	key_t key = test_key(12);
	int id;

	(void)state;
	url_of(url, sizeof url, 12);
	/* a live listener's queue */
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	assert_rv(ipcx_listen(&l2, url, NULL), IPCX_EADDRINUSE);
	assert_null(l2);
	assert_non_null(strstr(ipcx_errdetail(), "alive"));
	ipcx_listener_close(l);
	/* a queue that ipcx did not make (no creator recorded) */
	id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
	assert_true(id >= 0);
	assert_rv(ipcx_listen(&l2, url, NULL), IPCX_EADDRINUSE);
	assert_int_equal(queue_id(key), id);
	msgctl(id, IPC_RMID, NULL);
}

/* ---- URLs ----------------------------------------------------------------------------- */

static void
test_url_forms_ftok_and_key(void **state)
{
	static const char *const bad[] = {
	        "sysvmq:0x0",           /* IPC_PRIVATE */
	        "sysvmq:0x123456789",   /* wider than a key */
	        "sysvmq:0x12g4",        /* not hex */
	        "sysvmq:0x",            /* no digits */
	        "sysvmq:relative/path", /* neither a path nor a key */
	        "sysvmq:0x1234?proj=2", /* proj only with a path */
	        "sysvmq:@abstract",
	};
	char url[600], got[700];
	ipcx_listener *l;
	ipcx_chan *c = NULL;
	key_t key;

	(void)state;
	/* ftok form: the key is ftok(path, proj), and the listener gives the URL back */
	url_of(url, sizeof url, 7);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	assert_true(queue_id(test_key(7)) >= 0);
	assert_rv(ipcx_listener_url(l, got, sizeof got), 0);
	assert_string_equal(got, url);
	assert_int_equal(ipcx_persistence(url), IPCX_PERSIST_KERNEL);
	ipcx_listener_close(l);
	assert_int_equal(queue_id(test_key(7)), -1);
	/* proj defaults to 1 */
	snprintf(url, sizeof url, "sysvmq://%s", tu_dir());
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	assert_true(queue_id(test_key(1)) >= 0);
	assert_rv(ipcx_listener_url(l, got, sizeof got), 0);
	snprintf(url, sizeof url, "sysvmq://%s?proj=1", tu_dir());
	assert_string_equal(got, url);
	ipcx_listener_close(l);
	/* key form, the same queue as the ftok form names */
	key = test_key(8);
	url_key(url, sizeof url, key);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	assert_true(queue_id(key) >= 0);
	assert_rv(ipcx_listener_url(l, got, sizeof got), 0);
	assert_string_equal(got, url);
	assert_int_equal(ipcx_persistence(url), IPCX_PERSIST_KERNEL);
	ipcx_listener_close(l);
	/* the path must exist; proj is 1..255 */
	snprintf(url, sizeof url, "sysvmq://%s/none?proj=1", tu_dir());
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_ENOENT);
	assert_rv(ipcx_dial(&c, url, NULL, 0), IPCX_ENOENT);
	snprintf(url, sizeof url, "sysvmq://%s?proj=0", tu_dir());
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_EBADURL);
	snprintf(url, sizeof url, "sysvmq://%s?proj=256", tu_dir());
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_EBADURL);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rv = ipcx_listen(&l, bad[i], NULL);
		if (rv != IPCX_EBADURL) {
			fail_msg("%s: %s", bad[i], ipcx_err_name(rv));
		}
		assert_rv(ipcx_dial(&c, bad[i], NULL, 0), IPCX_EBADURL);
	}
	/* no raw mode: every message carries ipcx's kind byte */
	snprintf(url, sizeof url, "sysvmq://%s?proj=2&raw=1", tu_dir());
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_ENOTSUP);
	/* nobody listens */
	url_of(url, sizeof url, 13);
	assert_rv(ipcx_dial(&c, url, NULL, 1000), IPCX_ECONNREFUSED);
	assert_null(c);
}

/* ---- keep and mode -------------------------------------------------------------------- */

static void
test_keep_leaves_the_queue_and_mode_sets_its_bits(void **state)
{
	struct msqid_ds ds;
	ipcx_listener *l;
	char url[600], name[64];
	key_t key = test_key(14);
	int id;

	(void)state;
	snprintf(url, sizeof url, "sysvmq://%s?proj=14&keep=1&mode=0640", tu_dir());
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	ipcx_listener_close(l);
	id = queue_id(key);
	assert_true(id >= 0);
	assert_int_equal(msgctl(id, IPC_STAT, &ds), 0);
	assert_int_equal(ds.msg_perm.mode & 0777, 0640);
	/* the creator is recorded, so that `ipcx ls` / `ipcx rm` find it */
	snprintf(name, sizeof name, "sysvmq:0x%08x", (unsigned)key);
	assert_rv(ipcx_obj_remove(name), 0);
	assert_int_equal(queue_id(key), -1);
	/* the default is 0600 */
	url_of(url, sizeof url, 15);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	assert_int_equal(msgctl(queue_id(test_key(15)), IPC_STAT, &ds), 0);
	assert_int_equal(ds.msg_perm.mode & 0777, 0600);
	ipcx_listener_close(l);
}

/* ---- untrusted hellos ------------------------------------------------------------------ */

static int
peer_hi(ipcx_chan *c, void *arg)
{
	char b[8];
	size_t len = 0;

	(void)arg;
	TRY_RV(ipcx_send(c, "hi", 2, WAIT_MS), 0);
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	TRY(len == 3 && memcmp(b, "bye", 3) == 0, "got %zu bytes", len);
	return 0;
}

static void
expect_hi_bye(ipcx_chan *c)
{
	char b[8];
	size_t len = 0;

	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(b, "hi", 2);
	assert_rv(ipcx_send(c, "bye", 3, WAIT_MS), 0);
}

static void
test_malformed_hellos_are_dropped_and_the_listener_serves_on(void **state)
{
	struct {
		long mtype;
		unsigned char b[100];
	} m = {.mtype = 1};
	static const size_t sizes[] = {0, 5, 32, 100};
	ipcx_listener *l;
	ipcx_chan *c;
	char url[600];
	key_t key = test_key(16);
	pid_t pid;

	(void)state;
	url_of(url, sizeof url, 16);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	/* anyone who may write the queue can put anything on mtype 1 */
	memset(m.b, 0x5a, sizeof m.b);
	m.b[0] = 'H';
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		assert_int_equal(msgsnd(queue_id(key), &m, sizes[i], IPC_NOWAIT), 0);
	}
	assert_rv(ipcx_accept(l, &c, 0), IPCX_ETIMEDOUT);
	pid = spawn_dialer(url, peer_hi, NULL);
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	expect_hi_bye(c);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
}

/* ---- nothing left behind ---------------------------------------------------------------- */

static int
peer_close_first(ipcx_chan *c, void *arg)
{
	int *up = arg;

	TRY_OK(peer_hi(c, NULL));
	ipcx_close(c);
	TRY(tu_put(*up, "c", 1) == 0, "ctl");
	return PEER_CLOSED_IT;
}

typedef struct later_arg {
	int up, down;
} later_arg;

/* The server closes first; we see it, then close. */
static int
peer_close_after_server(ipcx_chan *c, void *arg)
{
	later_arg *a = arg;
	char b[8], x;
	size_t len = 0;

	TRY_OK(peer_hi(c, NULL));
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), IPCX_ECLOSED);
	TRY(tu_get(a->down, &x, 1, WAIT_MS) == 0, "ctl");
	return 0; /* spawn_dialer closes */
}

static int
peer_hang(ipcx_chan *c, void *arg)
{
	int *up = arg;

	TRY_OK(peer_hi(c, NULL));
	TRY(tu_put(*up, "h", 1) == 0, "ctl");
	pause(); /* until SIGKILL */
	return 1;
}

/* Every way a channel can end, and a dial that gave up: once all are closed, the queue
 * holds no message (no marker, no credit, no data), and after the listener, no queue. */
static void
test_nothing_is_left_in_the_queue_or_in_proc_sysvipc(void **state)
{
	int up[2], down[2];
	later_arg la;
	ipcx_listener *l;
	ipcx_chan *c = NULL;
	char url[600], x;
	key_t key = test_key(17);
	pid_t pid;

	(void)state;
	url_of(url, sizeof url, 17);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	tu_pipe(up);
	tu_pipe(down);

	/* a dial that gives up before anybody accepts */
	assert_rv(ipcx_dial(&c, url, NULL, 50), IPCX_ETIMEDOUT);

	/* the client closes first */
	pid = spawn_dialer(url, peer_close_first, &up[1]);
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	expect_hi_bye(c);
	assert_int_equal(tu_get(up[0], &x, 1, WAIT_MS), 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	assert_rv(ipcx_recv(c, &x, 1, &(size_t){0}, WAIT_MS), IPCX_ECLOSED);
	ipcx_close(c);

	/* the server closes first */
	la = (later_arg){.up = up[1], .down = down[0]};
	pid = spawn_dialer(url, peer_close_after_server, &la);
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	expect_hi_bye(c);
	ipcx_close(c);
	assert_int_equal(tu_put(down[1], "g", 1), 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);

	/* the client is killed */
	pid = spawn_dialer(url, peer_hang, &up[1]);
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	expect_hi_bye(c);
	assert_int_equal(tu_get(up[0], &x, 1, WAIT_MS), 0);
	tu_kill(pid);
	ipcx_close(c);

	/* what a closed channel's client sent later is swept up by the next accept */
	assert_rv(ipcx_accept(l, &c, 0), IPCX_ETIMEDOUT);
	assert_int_equal(queue_qnum(key), 0);
	ipcx_listener_close(l);
	assert_int_equal(queue_id(key), -1);
	tu_close(up[0]);
	tu_close(up[1]);
	tu_close(down[0]);
	tu_close(down[1]);
}

/* ---- priorities ----------------------------------------------------------------------- */

static int
peer_prio(ipcx_chan *c, void *arg)
{
	(void)arg;
	/* accepted; one mtype per direction keeps the order of sending */
	TRY_RV(ipcx_send_prio(c, "a", 1, 9, WAIT_MS), 0);
	TRY_RV(ipcx_send_prio(c, "b", 1, 1, WAIT_MS), 0);
	TRY_RV(ipcx_send_prio(c, "c", 1, 30000, WAIT_MS), 0);
	return 0;
}

static void
test_send_prio_is_accepted_and_order_is_kept(void **state)
{
	ipcx_listener *l;
	ipcx_chan *c;
	char url[600], b[4];
	size_t len;
	pid_t pid;

	(void)state;
	url_of(url, sizeof url, 18);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	pid = spawn_dialer(url, peer_prio, NULL);
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	for (int i = 0; i < 3; i++) {
		assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
		assert_int_equal(len, 1);
		assert_int_equal(b[0], "abc"[i]);
	}
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
}

/* ---- main ----------------------------------------------------------------------------- */

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int
main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
	        T(test_clients_are_isolated_by_mtype_one_thread_per_channel),
	        T(test_emsgsize_keeps_the_message_and_its_order),
	        T(test_full_window_and_full_queue_time_out_and_lose_nothing),
	        T(test_largest_messages_echoed_while_flooding_never_deadlock),
	        T(test_limits_msgmax_msgmnb_msgmni_are_named_in_errdetail),
	        T(test_dead_server_gives_closed_and_its_queue_is_replaced),
	        T(test_live_or_foreign_queue_is_eaddrinuse_and_left_alone),
	        T(test_url_forms_ftok_and_key),
	        T(test_keep_leaves_the_queue_and_mode_sets_its_bits),
	        T(test_malformed_hellos_are_dropped_and_the_listener_serves_on),
	        T(test_nothing_is_left_in_the_queue_or_in_proc_sysvipc),
	        T(test_send_prio_is_accepted_and_order_is_kept),
	};

	return tu_run("sysvmq", tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
