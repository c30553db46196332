/*
 * shm_chan.c - what only shm:// does, beyond the conformance and loan suites: ring
 * wrap-around with millions of random-sized records, uid checks both ways, peer death seen
 * by every kind of waiter in every wait mode, writers killed mid-record, nothing in
 * /dev/shm, the pollable fd, URL checks, and hostile servers and clients on the socket.
 *
 * Usage: shm_chan [TEST-GLOB]. SHM_WRAP_RECORDS overrides the number of records of the
 * wrap-around test (10 million; 1 million in sanitizer builds, which run ~10x slower).
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS    30000 /* bound on any wait for something that must happen */
#define NOBODY     65534 /* the uid (and gid) of the refused peer */
#define DEATH_MAX  2000  /* ms: the bound asserted for noticing a dead peer (spec: 100) */
#define RING_SMALL "size=64K"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WRAP_RECORDS_DEFAULT 1000000ULL
#else
#define WRAP_RECORDS_DEFAULT 10000000ULL
#endif

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the fixture: a listener here, a dialer in a forked child ------------------------ */

typedef struct fx fx;
typedef int (*peer_fn)(ipcx_chan *c, fx *f);

struct fx {
	char base[200]; /* shm://NAME, unique per test */
	ipcx_listener *l;
	ipcx_chan *c; /* the accepted channel */
	pid_t pid;
	int down[2], up[2]; /* control pipes: parent -> child, child -> parent */
	void *arg;
};

static void
url_join(char *buf, size_t cap, const char *base, const char *query)
{
	snprintf(buf, cap, "%s%s%s", base, query != NULL && *query ? "?" : "",
	         query != NULL ? query : "");
}

/* Listen on a fresh name with the given query (NULL: none). */
static void
fx_listen(fx *f, const char *lquery)
{
	char url[400];

	memset(f, 0, sizeof *f);
	f->down[0] = f->down[1] = f->up[0] = f->up[1] = -1;
	snprintf(f->base, sizeof f->base, "shm://sc-%d-%u", (int)getpid(), tu_next());
	url_join(url, sizeof url, f->base, lquery);
	assert_rv(ipcx_listen(&f->l, url, NULL), 0);
}

/* Fork a child that dials (with dquery) and runs fn on its channel. */
static void
fx_spawn(fx *f, const char *dquery, peer_fn fn)
{
	char url[400];

	tu_pipe(f->down);
	tu_pipe(f->up);
	url_join(url, sizeof url, f->base, dquery);
	f->pid = tu_fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		ipcx_chan *c = NULL;
		int rv, st;
		tu_close(f->down[1]);
		tu_close(f->up[0]);
		if ((rv = ipcx_dial(&c, url, NULL, WAIT_MS)) != 0) {
			fprintf(stderr, "child: dial %s: %s\n", url, ipcx_err_name(rv));
			tu_child_exit(1);
		}
		st = fn(c, f);
		ipcx_close(c);
		tu_child_exit(st);
	}
	tu_close(f->down[0]);
	tu_close(f->up[1]);
	f->down[0] = f->up[1] = -1;
}

static void
fx_accept(fx *f)
{
	assert_rv(ipcx_accept(f->l, &f->c, WAIT_MS), 0);
}

static void
fx_start(fx *f, const char *lquery, const char *dquery, peer_fn fn)
{
	fx_listen(f, lquery);
	fx_spawn(f, dquery, fn);
	fx_accept(f);
}

/* The child must have succeeded (unless it was killed and reaped: pid 0). */
static void
fx_end(fx *f)
{
	if (f->pid > 0) {
		assert_int_equal(tu_wait(f->pid, TU_WAIT_MS), 0);
	}
	ipcx_close(f->c);
	ipcx_listener_close(f->l);
	tu_close(f->down[1]);
	tu_close(f->up[0]);
}

/* Child side: tell the parent something happened, or wait for its word (or its end). */
static int
child_say(fx *f, char what)
{
	return tu_put(f->up[1], &what, 1) == 0 ? 0 : __LINE__;
}

static void
child_block(fx *f)
{
	char x;

	(void)tu_get(f->down[0], &x, 1, TU_CHILD_ALARM_S * 1000);
}

static void
parent_hear(fx *f, char what)
{
	char x = 0;

	assert_int_equal(tu_get(f->up[0], &x, 1, WAIT_MS), 0);
	assert_int_equal(x, what);
}

/* ---- patterns: content from a seed and the message number ---------------------------- */

static uint64_t
mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#define PAT_SEED 0x1f2e3d4c5b6a7988ULL

/* Word i of message k is s + i * odd, s a hash of k: a shift, a stale byte or a byte of
 * another message shows, and the receiver needs no copy of what was sent. */
static void
pat_fill(void *buf, size_t len, uint64_t k)
{
	unsigned char *p = buf;
	uint64_t s = mix64(PAT_SEED ^ k), w = s;
	size_t i = 0;

	for (; i + 8 <= len; i += 8, w += 0x2545f4914f6cdd1dULL) {
		memcpy(p + i, &w, 8);
	}
	if (i < len) {
		memcpy(p + i, &w, len - i);
	}
}

static bool
pat_check(const void *buf, size_t len, uint64_t k)
{
	const unsigned char *p = buf;
	uint64_t s = mix64(PAT_SEED ^ k), w = s, v;
	size_t i = 0;

	for (; i + 8 <= len; i += 8, w += 0x2545f4914f6cdd1dULL) {
		memcpy(&v, p + i, 8);
		if (v != w) {
			return false;
		}
	}
	return i == len || memcmp(p + i, &w, len - i) == 0;
}

/* ---- (a) wrap-around: millions of records of random sizes ---------------------------- */

static uint64_t wrap_n = WRAP_RECORDS_DEFAULT;

/* Mostly tiny; some up to a few KiB; a few up to a quarter ring (one record) and beyond,
 * up to a little over the loan maximum (several pieces, skips at the ring's end). */
static size_t
wrap_size(uint64_t k, size_t lmax)
{
	uint64_t h = mix64(k ^ 0x51ce5eedULL);
	unsigned r = (unsigned)(h % 1000);

	h >>= 10;
	if (r < 950) {
		return (size_t)(h % 64);
	}
	if (r < 995) {
		return 64 + (size_t)(h % 1000);
	}
	if (r < 999) {
		return (size_t)(h % 16400);
	}
	return (size_t)(h % (lmax + 200));
}

/* 0..7: which path message k takes on one side (salt 1: sender, 2: receiver) */
static unsigned
wrap_how(uint64_t k, uint64_t salt)
{
	return (unsigned)(mix64(k * 0x9e3779b97f4a7c15ULL + salt) >> 61);
}

typedef struct wrap_stats {
	uint64_t bytes, tx_timeouts, rx_timeouts;
} wrap_stats;

/* Send message k: by copy or by loan, with a long timeout or first with none (a send or a
 * loan that times out delivers nothing, so it is simply tried again). */
static int
wrap_put(ipcx_chan *c, unsigned char *buf, uint64_t k, size_t lmax, wrap_stats *st)
{
	size_t len = wrap_size(k, lmax);
	unsigned how = wrap_how(k, 1);
	bool loan = (how == 4 || how == 5 || how == 7) && len <= lmax;
	int rv;

	for (int tmo = how >= 6 ? 0 : WAIT_MS;; tmo = WAIT_MS) {
		if (loan) {
			void *p = NULL;
			rv = ipcx_loan(c, len, &p, tmo);
			if (rv == 0) {
				pat_fill(p, len, k);
				TRY_RV(ipcx_commit(c, p, len), 0);
			}
		} else {
			pat_fill(buf, len, k);
			rv = ipcx_send(c, buf, len, tmo);
		}
		if (rv != IPCX_ETIMEDOUT || tmo != 0) {
			break;
		}
		st->tx_timeouts++;
	}
	TRY(rv == 0, "message %llu (%zu bytes): %s", (unsigned long long)k, len, ipcx_err_name(rv));
	st->bytes += len;
	return 0;
}

/* Receive message k and compare it: by copy (sometimes first into too small a buffer,
 * which must keep it) or in place, waiting long or polling with timeout 0. */
static int
wrap_get(ipcx_chan *c, unsigned char *buf, size_t cap, uint64_t k, size_t lmax, wrap_stats *st)
{
	size_t want = wrap_size(k, lmax), len = 0;
	unsigned how = wrap_how(k, 2);
	bool view = how == 4 || how == 5 || how == 7;
	const void *p = NULL;
	int rv;

	if (how == 3 && want > 0) {
		TRY_RV(ipcx_recv(c, buf, want - 1, &len, WAIT_MS), IPCX_EMSGSIZE);
		TRY(len == want, "message %llu: EMSGSIZE says %zu, want %zu", (unsigned long long)k,
		    len, want);
	}
	/* how 6, 7: first a poll that must not wait (often nothing is there yet, or only the
	 * first pieces of a long message: kept for the next call), then a wait */
	for (int tmo = how >= 6 ? 0 : WAIT_MS;; tmo = WAIT_MS) {
		if (view) {
			rv = ipcx_recv_view(c, &p, &len, tmo);
		} else {
			rv = ipcx_recv(c, buf, cap, &len, tmo);
			p = buf;
		}
		if (rv != IPCX_ETIMEDOUT || tmo != 0) {
			break;
		}
		st->rx_timeouts++;
	}
	TRY(rv == 0, "message %llu: %s", (unsigned long long)k, ipcx_err_name(rv));
	if (len != want || !pat_check(p, len, k)) {
		tu_report(__FILE__, __LINE__, "wrap_get", "message %llu: %zu bytes (want %zu), %s",
		          (unsigned long long)k, len, want,
		          len == want ? "content differs" : "length differs");
		return __LINE__;
	}
	if (view) {
		TRY_RV(ipcx_release(c), 0);
	}
	return 0;
}

static int
peer_wrap_send(ipcx_chan *c, fx *f)
{
	size_t lmax = ipcx_loan_max(c);
	unsigned char *buf = tu_xmalloc(lmax + 256);
	wrap_stats st = {0, 0, 0};
	int rv = 0;

	(void)f;
	for (uint64_t k = 0; k < wrap_n && rv == 0; k++) {
		rv = wrap_put(c, buf, k, lmax, &st);
	}
	free(buf);
	if (rv == 0) {
		TRY(tu_put(f->up[1], &st, sizeof st) == 0, "stats");
	}
	return rv;
}

static void
test_ring_wraps_millions_of_random_records_compared_byte_for_byte(void **state)
{
	wrap_stats rx = {0, 0, 0}, tx;
	unsigned char *buf;
	size_t lmax, len;
	int64_t t0, t1;
	char b[1];
	fx f;

	(void)state;
	t0 = now_ns();
	fx_start(&f, RING_SMALL, RING_SMALL, peer_wrap_send);
	lmax = ipcx_loan_max(f.c);
	assert_true(lmax > 16400 && lmax < 32768);
	buf = tu_xmalloc(lmax + 256);
	for (uint64_t k = 0; k < wrap_n; k++) {
		if (wrap_get(f.c, buf, lmax + 256, k, lmax, &rx) != 0) {
			fail_msg("record %llu of %llu", (unsigned long long)k,
			         (unsigned long long)wrap_n);
		}
	}
	assert_int_equal(tu_get(f.up[0], &tx, sizeof tx, WAIT_MS), 0);
	/* the sender is done and closes: nothing more, then the end */
	assert_rv(ipcx_recv(f.c, b, sizeof b, &len, WAIT_MS), IPCX_ECLOSED);
	t1 = now_ns();
	print_message("[ INFO     ] %llu records, %.1f MB, %.2f s (%.2f M records/s); "
	              "timed-out sends retried %llu, empty polls %llu\n",
	              (unsigned long long)wrap_n, (double)tx.bytes / 1e6, (double)(t1 - t0) / 1e9,
	              (double)wrap_n / ((double)(t1 - t0) / 1e3),
	              (unsigned long long)tx.tx_timeouts, (unsigned long long)rx.rx_timeouts);
	free(buf);
	fx_end(&f);
}

/* ---- (b) peers of another uid -------------------------------------------------------- */

static bool
drop_to_nobody(void)
{
	return setgroups(0, NULL) == 0 && setgid(NOBODY) == 0 && setuid(NOBODY) == 0 &&
	       geteuid() == NOBODY;
}

#define SKIP_UNLESS_ROOT()                                                              \
	do {                                                                            \
		if (geteuid() != 0) {                                                   \
			print_message("[ SKIP     ] needs root (setuid in a child)\n"); \
			skip();                                                         \
		}                                                                       \
	} while (0)

static int
peer_hi(ipcx_chan *c, fx *f)
{
	char b[8];
	size_t len = 0;
	uid_t uid = getuid();

	(void)f;
	TRY_RV(ipcx_send(c, &uid, sizeof uid, WAIT_MS), 0);
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	TRY(len == 3 && memcmp(b, "bye", 3) == 0, "%zu bytes", len);
	return 0;
}

/* Parent side of peer_hi: the uid it reports, then "bye". */
static uid_t
expect_hi(ipcx_chan *c)
{
	uid_t uid = (uid_t)-1;
	size_t len = 0;

	assert_rv(ipcx_recv(c, &uid, sizeof uid, &len, WAIT_MS), 0);
	assert_int_equal(len, sizeof uid);
	assert_rv(ipcx_send(c, "bye", 3, WAIT_MS), 0);
	return uid;
}

static void
test_peer_of_another_uid_is_refused_and_the_listener_serves_on(void **state)
{
	char url[400];
	int gate[2];
	uid_t uid = 0;
	pid_t bad, pid = 0;
	fx f;

	(void)state;
	SKIP_UNLESS_ROOT();
	fx_listen(&f, NULL);
	url_join(url, sizeof url, f.base, NULL);
	tu_pipe(gate);
	bad = tu_fork();
	if (bad == 0) {
		ipcx_chan *c = (ipcx_chan *)&c;
		int rv;
		tu_close(gate[0]);
		if (!drop_to_nobody()) {
			perror("setuid");
			tu_child_exit(1);
		}
		rv = ipcx_dial(&c, url, NULL, WAIT_MS);
		if (rv != IPCX_EACCES || c != NULL) {
			fprintf(stderr, "dial as uid %d: %s\n", NOBODY, ipcx_err_name(rv));
			tu_child_exit(1);
		}
		tu_child_exit(tu_put(gate[1], "d", 1));
	}
	tu_close(gate[1]);
	/* the good client dials once the bad one has been refused */
	f.pid = tu_fork();
	if (f.pid == 0) {
		ipcx_chan *c = NULL;
		char x;
		int st;
		if (tu_get(gate[0], &x, 1, WAIT_MS) != 0 ||
		    ipcx_dial(&c, url, NULL, WAIT_MS) != 0) {
			tu_child_exit(1);
		}
		st = peer_hi(c, NULL);
		ipcx_close(c);
		tu_child_exit(st);
	}
	tu_close(gate[0]);
	fx_accept(&f);
	assert_rv(ipcx_peer_cred(f.c, &pid, &uid, NULL), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(pid, f.pid);
	assert_int_equal(expect_hi(f.c), 0);
	assert_int_equal(tu_wait(bad, TU_WAIT_MS), 0);
	fx_end(&f);
}

static int
peer_nobody_hi(ipcx_chan *c, fx *f)
{
	return peer_hi(c, f);
}

static void
test_listener_allow_list_admits_another_uid(void **state)
{
	char url[400];
	uid_t uid = 0;
	fx f;

	(void)state;
	SKIP_UNLESS_ROOT();
	fx_listen(&f, "allow=1234,65534");
	url_join(url, sizeof url, f.base, NULL);
	f.pid = tu_fork();
	if (f.pid == 0) {
		ipcx_chan *c = NULL;
		int rv;
		if (!drop_to_nobody()) {
			tu_child_exit(1);
		}
		if ((rv = ipcx_dial(&c, url, NULL, WAIT_MS)) != 0) {
			fprintf(stderr, "dial as uid %d: %s\n", NOBODY, ipcx_err_name(rv));
			tu_child_exit(1);
		}
		rv = peer_nobody_hi(c, &f);
		ipcx_close(c);
		tu_child_exit(rv);
	}
	fx_accept(&f);
	assert_rv(ipcx_peer_cred(f.c, NULL, &uid, NULL), 0);
	assert_int_equal(uid, NOBODY);
	assert_int_equal(expect_hi(f.c), NOBODY);
	fx_end(&f);
}

/* Anyone may bind an abstract name: a dialer accepts a server of its own uid or root, and
 * others only when it lists them. */
static void
test_dialer_refuses_a_server_of_another_uid_unless_allowed(void **state)
{
	char base[200], url[400];
	ipcx_chan *c = (ipcx_chan *)&c;
	int ready[2];
	pid_t pid;

	(void)state;
	SKIP_UNLESS_ROOT();
	snprintf(base, sizeof base, "shm://sc-%d-%u", (int)getpid(), tu_next());
	tu_pipe(ready);
	pid = tu_fork();
	if (pid == 0) {
		ipcx_listener *l = NULL;
		ipcx_chan *s = NULL;
		int st;
		tu_close(ready[0]);
		url_join(url, sizeof url, base, "allow=0");
		if (!drop_to_nobody() || ipcx_listen(&l, url, NULL) != 0 ||
		    tu_put(ready[1], "r", 1) != 0 || ipcx_accept(l, &s, WAIT_MS) != 0) {
			tu_child_exit(1);
		}
		st = peer_hi(s, NULL);
		ipcx_close(s);
		ipcx_listener_close(l);
		tu_child_exit(st);
	}
	tu_close(ready[1]);
	{
		char x;
		assert_int_equal(tu_get(ready[0], &x, 1, WAIT_MS), 0);
	}
	url_join(url, sizeof url, base, NULL);
	assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), IPCX_EACCES);
	assert_null(c);
	url_join(url, sizeof url, base, "allow=65534");
	assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
	assert_int_equal(expect_hi(c), NOBODY);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	tu_close(ready[0]);
}

/* ---- (c) a dead peer wakes every kind of waiter -------------------------------------- */

/* Kills the peer after a delay (which only decides where in its wait the other side is:
 * spinning, in a futex sleep, or deep asleep) and then watches: a waiter still blocked
 * well past the bound ends the test rather than hanging it. */
typedef struct killer {
	pid_t pid;
	int delay_ms;
	int64_t t_kill;
	int done[2];
} killer;

static void *
killer_main(void *arg)
{
	killer *k = arg;
	struct pollfd p;

	poll(NULL, 0, k->delay_ms);
	k->t_kill = now_ns();
	kill(k->pid, SIGKILL);
	p = (struct pollfd){.fd = k->done[0], .events = POLLIN};
	if (poll(&p, 1, 10 * DEATH_MAX) == 0) {
		fprintf(stderr, "still blocked %d ms after the peer was killed\n", 10 * DEATH_MAX);
		_exit(1);
	}
	return NULL;
}

static void
killer_start(killer *k, pthread_t *t, pid_t pid, int delay_ms)
{
	k->pid = pid;
	k->delay_ms = delay_ms;
	k->t_kill = 0;
	tu_pipe(k->done);
	assert_int_equal(pthread_create(t, NULL, killer_main, k), 0);
}

/* The waiter has returned: latency in ms since the kill. */
static double
killer_stop(killer *k, pthread_t t, fx *f)
{
	int64_t t1 = now_ns();

	assert_int_equal(tu_put(k->done[1], "x", 1), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	tu_close(k->done[0]);
	tu_close(k->done[1]);
	tu_kill(f->pid); /* reap it */
	f->pid = 0;
	return (double)(t1 - k->t_kill) / 1e6;
}

/* Peers that the parent kills: idle; holding a loan half written; cut in the middle of a
 * message sent in pieces; waiting for room in a full ring. */
static int
peer_idle(ipcx_chan *c, fx *f)
{
	TRY_RV(ipcx_send(c, "x", 1, WAIT_MS), 0);
	TRY_OK(child_say(f, 'r'));
	child_block(f);
	return 0;
}

static int
peer_holds_loan(ipcx_chan *c, fx *f)
{
	void *p = NULL;

	TRY_RV(ipcx_send(c, "x", 1, WAIT_MS), 0);
	TRY_RV(ipcx_loan(c, 5000, &p, WAIT_MS), 0);
	pat_fill(p, 2500, 7); /* half written, never committed */
	TRY_OK(child_say(f, 'r'));
	child_block(f);
	return 0;
}

static int
peer_cut_in_pieces(ipcx_chan *c, fx *f)
{
	size_t big = (size_t)1 << 20; /* 64 ring quarters: the ring holds a few of them */
	unsigned char *b = tu_xmalloc(big);

	TRY_RV(ipcx_send(c, "x", 1, WAIT_MS), 0);
	pat_fill(b, big, 9);
	/* nobody reads yet: the first pieces go, then the send times out (ABORT owed) */
	TRY_RV(ipcx_send(c, b, big, 50), IPCX_ETIMEDOUT);
	free(b);
	TRY_OK(child_say(f, 'r'));
	child_block(f);
	return 0;
}

enum { W_RECV, W_VIEW, W_SEND, W_LOAN };
static const char *const wname[] = {"recv", "recv_view", "send", "loan"};

/* One case: the peer is started, the parent blocks in `what` with timeout -1, the killer
 * thread kills the peer; the parent must come back with the error at once. */
static double
death_case(const char *mode, int what, peer_fn peer, int delay_ms)
{
	char q[64], b[64];
	unsigned char *big = NULL;
	size_t len = 0;
	const void *v = NULL;
	void *p = NULL;
	killer k;
	pthread_t t;
	double ms;
	int rv;
	fx f;

	snprintf(q, sizeof q, "%s&wait=%s", RING_SMALL, mode);
	fx_start(&f, q, q, peer);
	parent_hear(&f, 'r');
	assert_rv(ipcx_recv(f.c, b, sizeof b, &len, WAIT_MS), 0); /* the peer's "x" */
	assert_int_equal(len, 1);
	if (what == W_SEND || what == W_LOAN) {
		/* fill the ring (the peer never reads) */
		big = tu_xmalloc(4000);
		while ((rv = ipcx_send(f.c, big, 4000, 0)) == 0) {
		}
		assert_rv(rv, IPCX_ETIMEDOUT);
	}
	killer_start(&k, &t, f.pid, delay_ms);
	switch (what) {
	case W_RECV:
		rv = ipcx_recv(f.c, b, sizeof b, &len, -1);
		break;
	case W_VIEW:
		rv = ipcx_recv_view(f.c, &v, &len, -1);
		break;
	case W_SEND:
		rv = ipcx_send(f.c, big, 4000, -1);
		break;
	default:
		rv = ipcx_loan(f.c, 4000, &p, -1);
		break;
	}
	ms = killer_stop(&k, t, &f);
	if (what == W_RECV || what == W_VIEW) {
		/* the half-written loan and the cut message never show: only the end */
		assert_rv(rv, IPCX_ECLOSED);
		assert_rv(ipcx_recv(f.c, b, sizeof b, &len, 0), IPCX_ECLOSED);
	} else {
		assert_rv(rv, IPCX_EPIPE);
		assert_rv(ipcx_send(f.c, "y", 1, 0), IPCX_EPIPE);
	}
	assert_null(p);
	free(big);
	fx_end(&f);
	if (ms >= DEATH_MAX) {
		fail_msg("%s, %s blocked in %s: the death took %.1f ms to show", mode,
		         peer == peer_idle         ? "idle peer"
		         : peer == peer_holds_loan ? "peer holding a loan"
		                                   : "peer cut mid-message",
		         wname[what], ms);
	}
	return ms;
}

static void
death_matrix(const char *mode)
{
	static const int delays[] = {1, 10, 80};
	double worst = 0, sum = 0;
	int n = 0;
	char line[512];
	size_t o = 0;

	o += (size_t)snprintf(line + o, sizeof line - o,
	                      "[ INFO     ] wait=%s: ms from SIGKILL "
	                      "to the error:",
	                      mode);
	for (size_t d = 0; d < sizeof delays / sizeof delays[0]; d++) {
		double ms[6];
		ms[0] = death_case(mode, W_RECV, peer_idle, delays[d]);
		ms[1] = death_case(mode, W_RECV, peer_holds_loan, delays[d]);
		ms[2] = death_case(mode, W_VIEW, peer_cut_in_pieces, delays[d]);
		ms[3] = death_case(mode, W_VIEW, peer_holds_loan, delays[d]);
		ms[4] = death_case(mode, W_SEND, peer_idle, delays[d]);
		ms[5] = death_case(mode, W_LOAN, peer_idle, delays[d]);
		for (int i = 0; i < 6; i++) {
			worst = ms[i] > worst ? ms[i] : worst;
			sum += ms[i];
			n++;
		}
	}
	snprintf(line + o, sizeof line - o, " mean %.2f, worst %.2f (of %d cases)\n", sum / n,
	         worst, n);
	print_message("%s", line);
}

static void
test_peer_death_wakes_every_waiter_spin(void **state)
{
	(void)state;
	death_matrix("spin");
}

static void
test_peer_death_wakes_every_waiter_block(void **state)
{
	(void)state;
	death_matrix("block");
}

static void
test_peer_death_wakes_every_waiter_adaptive(void **state)
{
	(void)state;
	death_matrix("adaptive");
}

/* ---- (d) a writer killed mid-record -------------------------------------------------- */

#define DONE_N 40

/* DONE_N whole messages of mixed sizes and paths (some in pieces), then an unfinished one
 * (how: 0 a loan half written, 1 a message in pieces cut by its timeout, so that its ABORT
 * is still owed, 2 a message in pieces blocked for room), then wait to be killed. */
static size_t
done_size(uint32_t k)
{
	static const size_t s[] = {0, 1, 8, 100, 4096, 16000, 16392, 20000, 32000, 40000};
	return s[k % 10];
}

static int
peer_dies_mid_record(ipcx_chan *c, fx *f)
{
	unsigned char *b = tu_xmalloc((size_t)1 << 20);
	int how = *(int *)f->arg, rv;
	void *p = NULL;

	for (uint32_t k = 0; k < DONE_N; k++) {
		size_t s = done_size(k);
		if (k % 2 && s <= ipcx_loan_max(c)) {
			TRY_RV(ipcx_loan(c, s, &p, WAIT_MS), 0);
			pat_fill(p, s, k);
			TRY_RV(ipcx_commit(c, p, s), 0);
		} else {
			pat_fill(b, s, k);
			TRY_RV(ipcx_send(c, b, s, WAIT_MS), 0);
		}
		/* the parent reads as we go, so that the ring has room for what follows */
	}
	TRY_OK(child_say(f, 's'));
	child_block(f); /* the parent has read all DONE_N */
	pat_fill(b, (size_t)1 << 20, 99);
	if (how == 0) {
		TRY_RV(ipcx_loan(c, 30000, &p, WAIT_MS), 0);
		memcpy(p, b, 15000);
	} else if (how == 1) {
		rv = ipcx_send(c, b, (size_t)1 << 20, 100);
		TRY_RV(rv, IPCX_ETIMEDOUT);
	} else {
		TRY_OK(child_say(f, 'b'));
		TRY_RV(ipcx_send(c, b, (size_t)1 << 20, -1), 0); /* blocks: nobody reads */
	}
	TRY_OK(child_say(f, 'k'));
	child_block(f);
	free(b);
	return 0;
}

static void
mid_record_case(int how)
{
	unsigned char *b = tu_xmalloc((size_t)1 << 20);
	size_t len = 0;
	fx f;
	int a = how;

	fx_listen(&f, RING_SMALL);
	f.arg = &a;
	fx_spawn(&f, RING_SMALL, peer_dies_mid_record);
	fx_accept(&f);
	for (uint32_t k = 0; k < DONE_N; k++) {
		len = 0;
		if (k % 3 == 0) {
			const void *v;
			assert_rv(ipcx_recv_view(f.c, &v, &len, WAIT_MS), 0);
			assert_int_equal(len, done_size(k));
			assert_true(pat_check(v, len, k));
			assert_rv(ipcx_release(f.c), 0);
		} else {
			assert_rv(ipcx_recv(f.c, b, (size_t)1 << 20, &len, WAIT_MS), 0);
			assert_int_equal(len, done_size(k));
			assert_true(pat_check(b, len, k));
		}
	}
	parent_hear(&f, 's');
	assert_int_equal(tu_put(f.down[1], "g", 1), 0);
	if (how == 2) {
		parent_hear(&f, 'b');
	} else {
		parent_hear(&f, 'k');
	}
	tu_kill(f.pid);
	f.pid = 0;
	/* the peer is gone: only the end remains, whatever it had half done */
	assert_rv(ipcx_recv(f.c, b, (size_t)1 << 20, &len, WAIT_MS), IPCX_ECLOSED);
	assert_rv(ipcx_recv(f.c, b, (size_t)1 << 20, &len, 0), IPCX_ECLOSED);
	free(b);
	fx_end(&f);
}

static void
test_writer_killed_mid_loan_exposes_no_partial_record(void **state)
{
	(void)state;
	mid_record_case(0);
}

static void
test_writer_killed_after_a_cut_message_exposes_no_piece(void **state)
{
	(void)state;
	mid_record_case(1);
}

static void
test_writer_killed_blocked_in_pieces_exposes_no_piece(void **state)
{
	(void)state;
	mid_record_case(2);
}

/* The same with the parent reading while the writer dies: everything complete that was
 * published arrives, then the end; never a piece of the unfinished message. */
static int
peer_streams_until_killed(ipcx_chan *c, fx *f)
{
	unsigned char *b = tu_xmalloc(70000);

	TRY_OK(child_say(f, 'r'));
	for (uint32_t k = 0;; k++) {
		size_t s = (size_t)(mix64(k) % 70000);
		void *p;
		if (k % 2 && s <= ipcx_loan_max(c)) {
			TRY_RV(ipcx_loan(c, s, &p, WAIT_MS), 0);
			pat_fill(p, s, k);
			TRY_RV(ipcx_commit(c, p, s), 0);
		} else {
			pat_fill(b, s, k);
			TRY_RV(ipcx_send(c, b, s, WAIT_MS), 0);
		}
	}
}

static void
test_writer_killed_while_streaming_gives_whole_messages_then_closed(void **state)
{
	unsigned char *b = tu_xmalloc(70001);
	size_t len;
	uint32_t k;
	int rv = 0;
	fx f;

	(void)state;
	fx_start(&f, RING_SMALL, RING_SMALL, peer_streams_until_killed);
	parent_hear(&f, 'r');
	for (k = 0; k < 300; k++) {
		assert_rv(ipcx_recv(f.c, b, 70001, &len, WAIT_MS), 0);
		assert_int_equal(len, mix64(k) % 70000);
		assert_true(pat_check(b, len, k));
	}
	tu_kill(f.pid);
	f.pid = 0;
	for (;; k++) {
		len = 0;
		if ((rv = ipcx_recv(f.c, b, 70001, &len, WAIT_MS)) != 0) {
			break;
		}
		assert_int_equal(len, mix64(k) % 70000);
		assert_true(pat_check(b, len, k));
	}
	assert_rv(rv, IPCX_ECLOSED);
	free(b);
	fx_end(&f);
}

/* ---- (e) nothing in /dev/shm, nothing left after close ------------------------------- */

/* Entries of /dev/shm, as one string "name\n...". */
static char *
devshm_list(void)
{
	size_t cap = 1 << 16, n = 0;
	char *s = tu_xmalloc(cap);
	DIR *d = opendir("/dev/shm");
	struct dirent *e;

	s[0] = '\0';
	while (d != NULL && (e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || n + l + 2 > cap) {
			continue;
		}
		memcpy(s + n, e->d_name, l);
		s[n + l] = '\n';
		n += l + 1;
		s[n] = '\0';
	}
	if (d != NULL) {
		closedir(d);
	}
	return s;
}

/* Root: a private mount namespace with an empty tmpfs on /dev/shm, which only this test
 * process and the peers it forks see, so that the listings below are exact. */
static bool
devshm_private(void)
{
	return unshare(CLONE_NEWNS) == 0 &&
	       mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	       mount("ipcx-test", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") == 0;
}

static bool devshm_exact; /* the listings are of a private /dev/shm */

/* Entries in now that were not in before: in a private /dev/shm any at all; in the shared
 * one, those that are not what other tests running at the same time make (ipcx_shm_open,
 * ipcx_sem_open: "ipcx.*", "sem.ipcx.*"), and any that carries our channel's name. 0 if
 * none. */
static int
devshm_new(const char *before, const char *now, const char *name)
{
	int bad = 0;

	if (devshm_exact && *now != '\0') {
		fprintf(stderr, "in the private /dev/shm: %s\n", now);
		return 1;
	}

	for (const char *p = now; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		char ent[300], pat[304];
		size_t l = (size_t)(nl - p);
		snprintf(ent, sizeof ent, "%.*s", (int)l, p);
		snprintf(pat, sizeof pat, "\n%s\n", ent);
		if (strstr(name, ent) != NULL || strstr(ent, name) != NULL ||
		    (strncmp(ent, "ipcx.", 5) != 0 && strncmp(ent, "sem.ipcx.", 9) != 0 &&
		     strncmp(before, pat + 1, l + 1) != 0 && strstr(before, pat) == NULL)) {
			fprintf(stderr, "new in /dev/shm: %s\n", ent);
			bad++;
		}
		p = nl + 1;
	}
	return bad;
}

/* What this process holds of shm:// segments: fds and mappings naming a memfd, and
 * anything under /dev/shm. */
typedef struct held {
	int memfd_fds, memfd_maps, devshm;
} held;

static held
held_now(void)
{
	held h = {0, 0, 0};
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char line[4400];
	FILE *fp;

	while (d != NULL && (e = readdir(d)) != NULL) {
		char p[300], link[4200];
		ssize_t n;
		snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
		if ((n = readlink(p, link, sizeof link - 1)) <= 0) {
			continue;
		}
		link[n] = '\0';
		h.memfd_fds += strncmp(link, "/memfd:", 7) == 0;
		h.devshm += strncmp(link, "/dev/shm/", 9) == 0;
	}
	if (d != NULL) {
		closedir(d);
	}
	if ((fp = fopen("/proc/self/maps", "r")) != NULL) {
		while (fgets(line, sizeof line, fp) != NULL) {
			h.memfd_maps += strstr(line, "/memfd:ipcx") != NULL;
			h.devshm += strstr(line, " /dev/shm/") != NULL;
		}
		fclose(fp);
	}
	return h;
}

static int
peer_check_held(ipcx_chan *c, fx *f)
{
	held h = held_now();
	char b[4];
	size_t len;

	TRY(h.devshm == 0, "%d /dev/shm files or mappings in the dialer", h.devshm);
	TRY(h.memfd_maps == 1, "%d memfd mappings in the dialer", h.memfd_maps);
	TRY(h.memfd_fds == 0, "the dialer keeps %d memfd fds open", h.memfd_fds);
	TRY_RV(ipcx_send(c, "ok", 2, WAIT_MS), 0);
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), IPCX_ECLOSED);
	ipcx_close(c);
	h = held_now();
	TRY(h.memfd_maps == 0 && h.memfd_fds == 0, "after close: %d maps, %d fds", h.memfd_maps,
	    h.memfd_fds);
	(void)f;
	tu_child_exit(0);
}

static void
test_nothing_named_in_dev_shm_and_nothing_held_after_close(void **state)
{
	char *before, *during, *after, b[4];
	int fds0 = tu_fd_count();
	size_t len;
	held h;
	fx f;

	(void)state;
	devshm_exact = devshm_private();
	if (!devshm_exact) {
		print_message(
		        "[ INFO     ] no private mount namespace: /dev/shm compared filtered\n");
	}
	before = devshm_list();
	fx_start(&f, NULL, NULL, peer_check_held);
	assert_rv(ipcx_recv(f.c, b, sizeof b, &len, WAIT_MS), 0);
	h = held_now();
	assert_int_equal(h.devshm, 0);
	assert_int_equal(h.memfd_maps, 1); /* one mapping of the memfd, ... */
	assert_int_equal(h.memfd_fds, 0);  /* ... whose fd was closed at once */
	during = devshm_list();
	assert_int_equal(devshm_new(before, during, f.base + 6), 0);
	ipcx_close(f.c);
	f.c = NULL;
	assert_int_equal(tu_wait(f.pid, TU_WAIT_MS), 0);
	f.pid = 0;
	ipcx_listener_close(f.l);
	f.l = NULL;
	h = held_now();
	assert_int_equal(h.memfd_maps, 0);
	assert_int_equal(h.memfd_fds, 0);
	after = devshm_list();
	assert_int_equal(devshm_new(before, after, f.base + 6), 0);
	fx_end(&f);
	assert_int_equal(tu_fd_count(), fds0);
	free(before);
	free(during);
	free(after);
}

/* A process that is both ends maps the segment once, and closing both unmaps it. */
typedef struct self_dial {
	const char *url;
	ipcx_chan *c;
	int rv;
} self_dial;

static void *
self_dial_main(void *arg)
{
	self_dial *d = arg;

	d->rv = ipcx_dial(&d->c, d->url, NULL, WAIT_MS);
	return NULL;
}

static void
test_both_ends_in_one_process_share_one_mapping(void **state)
{
	char url[400];
	self_dial d = {url, NULL, -1};
	const void *v;
	pthread_t t;
	size_t len;
	void *p;
	fx f;

	(void)state;
	fx_listen(&f, NULL);
	url_join(url, sizeof url, f.base, NULL);
	assert_int_equal(pthread_create(&t, NULL, self_dial_main, &d), 0);
	fx_accept(&f);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_rv(d.rv, 0);
	assert_int_equal(held_now().memfd_maps, 1);
	assert_rv(ipcx_loan(d.c, 10, &p, WAIT_MS), 0);
	memcpy(p, "0123456789", 10);
	assert_rv(ipcx_commit(d.c, p, 10), 0);
	assert_rv(ipcx_recv_view(f.c, &v, &len, WAIT_MS), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(v, "0123456789", 10);
	assert_rv(ipcx_release(f.c), 0);
	ipcx_close(d.c);
	assert_rv(ipcx_recv(f.c, NULL, 0, &len, WAIT_MS), IPCX_ECLOSED);
	assert_int_equal(held_now().memfd_maps, 1); /* still ours */
	fx_end(&f);
	assert_int_equal(held_now().memfd_maps, 0);
}

/* ---- (f) the pollable fd ------------------------------------------------------------- */

#define POLL_N 200

static int
peer_send_on_cue(ipcx_chan *c, fx *f)
{
	char x;

	for (uint32_t k = 0; k < POLL_N; k++) {
		unsigned char b[64];
		TRY(tu_get(f->down[0], &x, 1, WAIT_MS) == 0, "cue %u", k);
		pat_fill(b, k % 64, k);
		TRY_RV(ipcx_send(c, b, k % 64, WAIT_MS), 0);
	}
	TRY(tu_get(f->down[0], &x, 1, WAIT_MS) == 0, "last cue");
	if (x == 'k') {
		child_block(f); /* to be killed */
	}
	return 0; /* closes */
}

static void
chan_fd_case(const char *mode, bool kill_it)
{
	char q[64];
	unsigned char b[64];
	size_t len;
	int fd, spurious = 0;
	fx f;

	snprintf(q, sizeof q, "wait=%s", mode);
	fx_start(&f, q, q, peer_send_on_cue);
	fd = ipcx_chan_fd(f.c);
	assert_true(fd >= 0);
	for (uint32_t k = 0; k < POLL_N; k++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int rv;
		assert_int_equal(tu_put(f.down[1], "s", 1), 0);
		for (;;) {
			if (poll(&p, 1, WAIT_MS) != 1) {
				fail_msg("%s: message %u sent but the fd stays quiet", mode, k);
			}
			len = 0;
			rv = ipcx_recv(f.c, b, sizeof b, &len, 0);
			if (rv != IPCX_ETIMEDOUT) {
				break;
			}
			assert_true(++spurious < 10000);
		}
		assert_rv(rv, 0);
		assert_int_equal(len, k % 64);
		assert_true(pat_check(b, len, k));
	}
	assert_int_equal(tu_put(f.down[1], kill_it ? "k" : "c", 1), 0);
	if (kill_it) {
		tu_kill(f.pid);
		f.pid = 0;
	}
	/* closed or killed: the fd says so, and recv without waiting reports the end */
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int rv;
		assert_int_equal(poll(&p, 1, WAIT_MS), 1);
		rv = ipcx_recv(f.c, b, sizeof b, &len, 0);
		if (rv == IPCX_ECLOSED) {
			break;
		}
		assert_rv(rv, IPCX_ETIMEDOUT);
		assert_true(++spurious < 10000);
	}
	if (spurious > 0) {
		print_message("[ INFO     ] %s: %d spurious wake-ups of the fd\n", mode, spurious);
	}
	fx_end(&f);
}

static void
test_chan_fd_readable_on_message_and_on_peer_close(void **state)
{
	(void)state;
	chan_fd_case("adaptive", false);
	chan_fd_case("spin", false);
	chan_fd_case("block", false);
}

static void
test_chan_fd_readable_on_peer_death(void **state)
{
	(void)state;
	chan_fd_case("adaptive", true);
	chan_fd_case("block", true);
}

/* ---- (g) the three wait modes carry a ping-pong -------------------------------------- */

#define PP_N 10000

static int
peer_pong(ipcx_chan *c, fx *f)
{
	unsigned char b[256];

	(void)f;
	for (uint32_t k = 0; k < PP_N; k++) {
		size_t len = 0;
		TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
		TRY(len == k % 200 && pat_check(b, len, k), "ping %u", k);
		pat_fill(b, len, k + PP_N);
		TRY_RV(ipcx_send(c, b, len, WAIT_MS), 0);
	}
	return 0;
}

static void
ping_pong(const char *lmode, const char *dmode)
{
	char lq[64], dq[64];
	unsigned char b[256];
	int64_t t0;
	size_t len;
	fx f;

	snprintf(lq, sizeof lq, "wait=%s", lmode);
	snprintf(dq, sizeof dq, "wait=%s", dmode);
	fx_start(&f, lq, dq, peer_pong);
	t0 = now_ns();
	for (uint32_t k = 0; k < PP_N; k++) {
		pat_fill(b, k % 200, k);
		assert_rv(ipcx_send(f.c, b, k % 200, WAIT_MS), 0);
		len = 0;
		assert_rv(ipcx_recv(f.c, b, sizeof b, &len, WAIT_MS), 0);
		assert_int_equal(len, k % 200);
		assert_true(pat_check(b, len, k + PP_N));
	}
	print_message("[ INFO     ] ping-pong %s/%s: %u round trips, %.1f us each\n", lmode, dmode,
	              PP_N, (double)(now_ns() - t0) / 1e3 / PP_N);
	fx_end(&f);
}

static void
test_wait_modes_carry_a_ping_pong(void **state)
{
	(void)state;
	ping_pong("spin", "spin");
	ping_pong("block", "block");
	ping_pong("adaptive", "adaptive");
	ping_pong("spin", "block");
	ping_pong("block", "adaptive");
}

/* ---- large payloads are placed in their line as the sender's buffer is ---------------- */

#define AL_N 3000 /* messages: several laps of the 64 KiB ring, so skips and pads meet */

/* Message k's length: small ones (left packed), from 1 KiB up to a quarter ring (placed). */
static size_t
al_len(uint32_t k)
{
	static const size_t lens[] = {1024, 1025, 4096, 4100, 5003, 16384, 100, 1023, 8, 2047};

	return lens[k % (sizeof lens / sizeof lens[0])];
}

/* Where in its line message k's source buffer starts (a loan: -1). */
static int
al_off(uint32_t k)
{
	return k % 3 == 0 ? -1 : (int)(k % 11) * 4; /* 0, 4, ..., 40: some not a multiple of 8 */
}

/* Sends AL_N messages from buffers at every place in a line, every third one through a
 * loan (some committed shorter than lent). */
static int
peer_al_send(ipcx_chan *c, fx *f)
{
	static _Alignas(64) unsigned char b[16384 + 64];
	int rv;

	(void)f;
	for (uint32_t k = 0; k < AL_N; k++) {
		size_t len = al_len(k);
		void *p;

		if (al_off(k) >= 0) {
			pat_fill(b + al_off(k), len, k);
			if ((rv = ipcx_send(c, b + al_off(k), len, WAIT_MS)) != 0) {
				return __LINE__;
			}
			continue;
		}
		if ((rv = ipcx_loan(c, k % 2 == 0 ? 16384 : len, &p, WAIT_MS)) != 0) {
			return __LINE__;
		}
		pat_fill(p, len, k);
		if ((rv = ipcx_commit(c, p, len)) != 0) {
			return __LINE__;
		}
	}
	return 0;
}

/* A payload of 1 KiB or more (up to a quarter ring) sits in its cache line where the
 * sender's buffer sits in its own (to 8 bytes), a loan's on a line: the copies in and out
 * then run at full speed, and a view of a loaned message is line-aligned. Smaller records
 * stay packed (a round trip moves as few lines as it can). */
static void
test_large_payloads_are_placed_as_the_senders_buffer(void **state)
{
	static unsigned char b[16384];
	fx f;

	(void)state;
	fx_start(&f, RING_SMALL, RING_SMALL, peer_al_send);
	for (uint32_t k = 0; k < AL_N; k++) {
		size_t len = 0, want = al_len(k);
		int off = al_off(k);
		const void *p;

		if (k % 2 == 0) {
			assert_rv(ipcx_recv_view(f.c, &p, &len, WAIT_MS), 0);
			assert_int_equal(len, want);
			assert_true(pat_check(p, len, k));
			if (len >= 1024) {
				assert_int_equal((uintptr_t)p % 64, off < 0 ? 0 : off & ~7);
			}
			assert_rv(ipcx_release(f.c), 0);
		} else {
			assert_rv(ipcx_recv(f.c, b, sizeof b, &len, WAIT_MS), 0);
			assert_int_equal(len, want);
			assert_true(pat_check(b, len, k));
		}
	}
	fx_end(&f);
}

/* ---- (h) URLs ------------------------------------------------------------------------ */

static void
test_bad_urls_are_refused(void **state)
{
	static const struct {
		const char *url;
		int rv;
	} bad[] = {
	        {"shm://", IPCX_EBADURL},
	        {"shm://a/b", IPCX_EBADURL},
	        {"shm://a%20b", IPCX_EBADURL},
	        {"shm://a:b", IPCX_EBADURL},
	        {"shm://caf%C3%A9", IPCX_EBADURL},
	        {"shm://x?size=32K", IPCX_EBADURL},
	        {"shm://x?size=0", IPCX_EBADURL},
	        {"shm://x?size=2G", IPCX_EBADURL},
	        {"shm://x?size=99999999999999999999999", IPCX_EBADURL},
	        {"shm://x?size=4Q", IPCX_EBADURL},
	        {"shm://x?size=", IPCX_EBADURL},
	        {"shm://x?size=-1", IPCX_EBADURL},
	        {"shm://x?wait=fast", IPCX_EBADURL},
	        {"shm://x?wait=", IPCX_EBADURL},
	        {"shm://x?allow=bob", IPCX_EBADURL},
	        {"shm://x?path=rel/sock", IPCX_EBADURL},
	        {"shm://x?colour=red", IPCX_EBADURL},
	};
	char longname[200];
	ipcx_listener *l = NULL;
	ipcx_chan *c = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rv = ipcx_listen(&l, bad[i].url, NULL);
		if (rv != bad[i].rv) {
			fail_msg("listen %s: %s, want %s", bad[i].url, ipcx_err_name(rv),
			         ipcx_err_name(bad[i].rv));
		}
		rv = ipcx_dial(&c, bad[i].url, NULL, 100);
		if (rv != bad[i].rv) {
			fail_msg("dial %s: %s, want %s", bad[i].url, ipcx_err_name(rv),
			         ipcx_err_name(bad[i].rv));
		}
		assert_null(l);
		assert_null(c);
	}
	/* a name of 98 bytes is fine (@ipcx.shm.NAME fills an abstract address), 99 is too
	 * long (never truncated) */
	memset(longname, 0, sizeof longname);
	memcpy(longname, "shm://", 6);
	memset(longname + 6, 'n', 98);
	assert_rv(ipcx_listen(&l, longname, NULL), 0);
	ipcx_listener_close(l);
	l = NULL;
	longname[6 + 98] = 'n';
	assert_rv(ipcx_listen(&l, longname, NULL), IPCX_ENAMETOOLONG);
	assert_rv(ipcx_dial(&c, longname, NULL, 100), IPCX_ENAMETOOLONG);
	/* good ones parse; nobody listens there */
	assert_rv(ipcx_dial(&c, "shm://A-z_0.9?size=1M&wait=spin&allow=1,2", NULL, 100),
	          IPCX_ECONNREFUSED);
	assert_int_equal(ipcx_persistence("shm://x"), IPCX_PERSIST_PROCESS);
}

static int
peer_report_loan_max(ipcx_chan *c, fx *f)
{
	size_t m = ipcx_loan_max(c);

	(void)f;
	TRY_RV(ipcx_send(c, &m, sizeof m, WAIT_MS), 0);
	return 0;
}

/* The ring size: rounded up to a power of two, and the dialer's wins. */
static size_t
ring_case(const char *lq, const char *dq)
{
	size_t m = 0, mine, len;
	fx f;

	fx_start(&f, lq, dq, peer_report_loan_max);
	assert_rv(ipcx_recv(f.c, &m, sizeof m, &len, WAIT_MS), 0);
	mine = ipcx_loan_max(f.c);
	assert_int_equal(m, mine); /* both sides agree */
	fx_end(&f);
	return mine;
}

static void
test_ring_size_rounds_up_and_the_dialers_size_wins(void **state)
{
	size_t m;

	(void)state;
	m = ring_case("size=100K", NULL); /* 128 KiB */
	assert_true(m <= 64 * 1024 - 8 && m >= 64 * 1024 - 64);
	m = ring_case("size=64K", "size=1M");
	assert_true(m <= 512 * 1024 - 8 && m >= 512 * 1024 - 64);
	m = ring_case("size=1M", "size=65537"); /* 128 KiB */
	assert_true(m <= 64 * 1024 - 8 && m >= 64 * 1024 - 64);
	m = ring_case(NULL, NULL); /* 4 MiB */
	assert_true(m <= 2048 * 1024 - 8 && m >= 2048 * 1024 - 64);
}

/* A listener on a socket file: the file has the mode asked for and is gone after close. */
static int
peer_hi_bye(ipcx_chan *c, fx *f)
{
	return peer_hi(c, f);
}

static void
test_path_listener_makes_a_socket_file_and_removes_it(void **state)
{
	char sock[512], lq[600], dq[600];
	struct stat st;
	fx f;

	(void)state;
	tu_path(sock, sizeof sock, "shm.sock");
	snprintf(lq, sizeof lq, "path=%s&mode=0660", sock);
	snprintf(dq, sizeof dq, "path=%s", sock);
	fx_start(&f, lq, dq, peer_hi_bye);
	assert_int_equal(stat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(ipcx_persistence("shm://x?path=/tmp/x.sock"), IPCX_PERSIST_FILESYSTEM);
	assert_int_equal(expect_hi(f.c), getuid());
	fx_end(&f);
	assert_int_equal(stat(sock, &st), -1); /* removed (teardown checks the directory too) */
}

/* ---- (i) hostile servers and clients ------------------------------------------------- */

/* The handshake records of docs/PROTOCOLS.md (shm://, Connection). */
struct hello {
	char magic[8];
	uint32_t version, reserved;
	uint64_t ring_size;
};

struct reply {
	char magic[8];
	uint32_t version;
	int32_t status;
	uint64_t ring_size, seg_size;
};

#define RS ((uint64_t)64 << 10)

enum {
	FAKE_VALID,        /* all as it should be: the dial succeeds (the control case) */
	FAKE_GARBAGE,      /* random bytes in a well-framed record */
	FAKE_SHORT,        /* a reply of 3 bytes */
	FAKE_MAGIC,        /* wrong magic */
	FAKE_PIPE_AS_MEM,  /* a pipe where the memfd belongs */
	FAKE_SMALL_MEMFD,  /* sealed, but smaller than announced */
	FAKE_UNSEALED,     /* the right size, not sealed */
	FAKE_GROW_ONLY,    /* sealed against growing only: it could shrink under us */
	FAKE_BAD_HEADER,   /* sealed and sized, but the segment's header is wrong */
	FAKE_PIPE_AS_EV,   /* a pipe where the eventfd belongs */
	FAKE_ONE_FD,       /* only the memfd */
	FAKE_NOT_POW2,     /* a ring size that is no power of two */
	FAKE_HUGE_RING,    /* a ring size over 1 GiB */
	FAKE_SEG_MISMATCH, /* seg_size is not 4096 + 2 x ring */
	FAKE_REFUSE,       /* status EACCES */
	FAKE_CLOSE,        /* hang up without a word */
	FAKE_RAW_GARBAGE,  /* a raw SEQPACKET record of bytes that are not even unix framing */
	FAKE_N
};

static const char *const fake_name[FAKE_N] = {
        "a valid reply",   "garbage",         "short",    "magic",
        "pipe as memfd",   "small memfd",     "unsealed", "grow seal only",
        "bad header",      "pipe as eventfd", "one fd",   "ring not a power of two",
        "ring over 1 GiB", "segment size",    "refusal",  "hang-up",
        "raw garbage"};

/* A sealed memfd of size bytes holding a valid segment header for ring rs (or a bad one). */
static int
fake_memfd(uint64_t size, uint64_t rs, int seals, bool good_header)
{
	int fd = memfd_create("fake", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	unsigned char hdr[64];
	uint64_t v;

	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		return -1;
	}
	memset(hdr, 0, sizeof hdr);
	memcpy(hdr, good_header ? "IPCXSHM1" : "IPCXSHM9", 8);
	v = 1;
	memcpy(hdr + 8, &v, 4);
	memcpy(hdr + 16, &rs, 8);
	v = 4096 + 2 * rs;
	memcpy(hdr + 24, &v, 8);
	for (int i = 0; i < 2; i++) {
		uint64_t ctl = 64 + (uint64_t)i * 320, data = 4096 + (uint64_t)i * rs;
		memcpy(hdr + 32 + 8 * i, &ctl, 8);
		memcpy(hdr + 48 + 8 * i, &data, 8);
	}
	if (pwrite(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr ||
	    (seals != 0 && fcntl(fd, F_ADD_SEALS, seals) != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The fake server: a child on @ipcx.shm.NAME that answers one dialer as told. */
static int
fake_server_body(const char *name, int how, int ready)
{
	char url[300];
	ipcx_listener *l = NULL;
	ipcx_chan *c = NULL;
	struct hello hi;
	struct reply rp;
	size_t len = 0, nfds = 4;
	int fds[4], out[2], nout = 2, p[2];
	const int all = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

	if (how == FAKE_RAW_GARBAGE) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), a;
		unsigned char junk[100];
		socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		                           (size_t)snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1,
		                                            "ipcx.shm.%s", name));
		TRY(s >= 0 && bind(s, (struct sockaddr *)&sa, sl) == 0 && listen(s, 4) == 0,
		    "bind");
		TRY(tu_put(ready, "r", 1) == 0, "ready");
		TRY((a = accept4(s, NULL, NULL, SOCK_CLOEXEC)) >= 0, "accept");
		pat_fill(junk, sizeof junk, 5);
		memset(junk, 0xff, 8); /* a "length" of 2^64 - 1 */
		TRY(send(a, junk, sizeof junk, MSG_NOSIGNAL) == (ssize_t)sizeof junk, "send");
		{
			/* until the dialer hangs up */
			char sink[256];
			while (recv(a, sink, sizeof sink, 0) > 0) {
			}
		}
		close(a);
		close(s);
		return 0;
	}
	snprintf(url, sizeof url, "unix:@ipcx.shm.%s", name);
	TRY_RV(ipcx_listen(&l, url, NULL), 0);
	TRY(tu_put(ready, "r", 1) == 0, "ready");
	TRY_RV(ipcx_accept(l, &c, WAIT_MS), 0);
	TRY_RV(ipcx_recv_fds(c, &hi, sizeof hi, &len, fds, &nfds, WAIT_MS), 0);
	TRY(len == sizeof hi && nfds == 1 && memcmp(hi.magic, "IPCXSHM1", 8) == 0,
	    "hello of %zu bytes, %zu fds", len, nfds);
	memset(&rp, 0, sizeof rp);
	memcpy(rp.magic, "IPCXSHM1", 8);
	rp.version = 1;
	rp.ring_size = RS;
	rp.seg_size = 4096 + 2 * RS;
	out[0] = fake_memfd(rp.seg_size, RS, all, true);
	out[1] = eventfd(0, EFD_CLOEXEC);
	TRY(out[0] >= 0 && out[1] >= 0 && pipe2(p, O_CLOEXEC) == 0, "fds");
	switch (how) {
	case FAKE_VALID:
		break;
	case FAKE_GARBAGE:
		pat_fill(&rp, sizeof rp, 3);
		break;
	case FAKE_SHORT:
		TRY_RV(ipcx_send_fds(c, "IPC", 3, out, 2, WAIT_MS), 0);
		nout = -1;
		break;
	case FAKE_MAGIC:
		rp.magic[7] = '2';
		break;
	case FAKE_PIPE_AS_MEM:
		out[0] = p[0];
		break;
	case FAKE_SMALL_MEMFD:
		out[0] = fake_memfd(4096 + RS, RS, all, true);
		break;
	case FAKE_UNSEALED:
		out[0] = fake_memfd(rp.seg_size, RS, 0, true);
		break;
	case FAKE_GROW_ONLY:
		out[0] = fake_memfd(rp.seg_size, RS, F_SEAL_GROW, true);
		break;
	case FAKE_BAD_HEADER:
		out[0] = fake_memfd(rp.seg_size, RS, all, false);
		break;
	case FAKE_PIPE_AS_EV:
		out[1] = p[1];
		break;
	case FAKE_ONE_FD:
		nout = 1;
		break;
	case FAKE_NOT_POW2:
		rp.ring_size = RS + 4096;
		rp.seg_size = 4096 + 2 * rp.ring_size;
		out[0] = fake_memfd(rp.seg_size, rp.ring_size, all, true);
		break;
	case FAKE_HUGE_RING:
		rp.ring_size = (uint64_t)2 << 30;
		rp.seg_size = 4096 + 2 * rp.ring_size;
		break;
	case FAKE_SEG_MISMATCH:
		rp.seg_size += 4096;
		break;
	case FAKE_REFUSE:
		rp.status = IPCX_EACCES;
		nout = 0;
		break;
	case FAKE_CLOSE:
		nout = -1;
		break;
	}
	if (nout >= 0) {
		TRY(out[0] >= 0, "fd");
		TRY_RV(ipcx_send_fds(c, &rp, sizeof rp, out, (size_t)nout, WAIT_MS), 0);
	}
	ipcx_close(c); /* the dialer may have hung up already */
	ipcx_listener_close(l);
	return 0;
}

static void
test_hostile_servers_make_dial_fail_cleanly(void **state)
{
	(void)state;
	for (int how = 0; how < FAKE_N; how++) {
		char name[100], url[200];
		ipcx_chan *c = (ipcx_chan *)&c;
		int ready[2], fds0, rv;
		pid_t pid;
		char x;

		snprintf(name, sizeof name, "fake-%d-%u", (int)getpid(), tu_next());
		snprintf(url, sizeof url, "shm://%s", name);
		tu_pipe(ready);
		pid = tu_fork();
		if (pid == 0) {
			tu_close(ready[0]);
			tu_child_exit(fake_server_body(name, how, ready[1]));
		}
		tu_close(ready[1]);
		assert_int_equal(tu_get(ready[0], &x, 1, WAIT_MS), 0);
		fds0 = tu_fd_count();
		rv = ipcx_dial(&c, url, NULL, 3000);
		if (how == FAKE_VALID) {
			/* the fake speaks the protocol: each case below differs in one thing */
			assert_rv(rv, 0);
			ipcx_close(c);
			c = NULL;
		} else if (rv == 0 || rv == IPCX_ETIMEDOUT) {
			fail_msg("a server sending %s: dial %s", fake_name[how], ipcx_err_name(rv));
		}
		if (how == FAKE_REFUSE) {
			assert_rv(rv, IPCX_EACCES);
		} else if (how != FAKE_CLOSE && how != FAKE_VALID && rv != IPCX_EPROTO) {
			fail_msg("a server sending %s: dial %s, want IPCX_EPROTO", fake_name[how],
			         ipcx_err_name(rv));
		}
		assert_null(c);
		assert_int_equal(tu_fd_count(), fds0); /* nothing of it kept */
		assert_int_equal(held_now().memfd_maps, 0);
		tu_close(ready[0]); /* ends the raw server's wait */
		assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	}
}

/* Bad clients, then a good one: the listener drops each bad one and serves the good one. */
static void
test_hostile_clients_are_skipped_and_the_listener_serves_on(void **state)
{
	char sname[300];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	ipcx_chan *bad[6] = {NULL};
	int raw[2] = {-1, -1}, p[2], nb = 0;
	struct hello hi;
	socklen_t sl;
	int64_t t0;
	fx f;

	(void)state;
	fx_listen(&f, NULL);
	snprintf(sname, sizeof sname, "unix:@ipcx.shm.%s", f.base + 6);
	/* raw: bytes that are not unix framing at all, and a client that hangs up at once */
	sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	                 (size_t)snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "ipcx.shm.%s",
	                                  f.base + 6));
	for (int i = 0; i < 2; i++) {
		raw[i] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(raw[i], (struct sockaddr *)&sa, sl), 0);
	}
	assert_int_equal(send(raw[0], "\xff\xff\xff\xff\xff\xff\xff\xffjunk", 12, MSG_NOSIGNAL),
	                 12);
	tu_close(raw[1]);
	raw[1] = -1;
	/* framed: garbage, a hello without its eventfd, with a pipe as the eventfd, with a
	 * ring over 1 GiB, with a ring no power of two, and a hello after a wrong magic */
	tu_pipe(p);
	memset(&hi, 0, sizeof hi);
	memcpy(hi.magic, "IPCXSHM1", 8);
	hi.version = 1;
	for (int i = 0; i < 6; i++) {
		int ev = eventfd(0, EFD_CLOEXEC);
		struct hello h = hi;
		assert_rv(ipcx_dial(&bad[i], sname, NULL, WAIT_MS), 0);
		nb++;
		switch (i) {
		case 0:
			assert_rv(ipcx_send(bad[i], "garbage!", 8, WAIT_MS), 0);
			break;
		case 1:
			assert_rv(ipcx_send(bad[i], &h, sizeof h, WAIT_MS), 0);
			break;
		case 2:
			assert_rv(ipcx_send_fds(bad[i], &h, sizeof h, &p[1], 1, WAIT_MS), 0);
			break;
		case 3:
			h.ring_size = (uint64_t)4 << 30;
			assert_rv(ipcx_send_fds(bad[i], &h, sizeof h, &ev, 1, WAIT_MS), 0);
			break;
		case 4:
			h.ring_size = RS + 8;
			assert_rv(ipcx_send_fds(bad[i], &h, sizeof h, &ev, 1, WAIT_MS), 0);
			break;
		default:
			h.magic[0] = 'X';
			assert_rv(ipcx_send_fds(bad[i], &h, sizeof h, &ev, 1, WAIT_MS), 0);
			break;
		}
		close(ev);
	}
	/* and one that connects and says nothing (dropped after the handshake bound) */
	{
		int quiet = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(quiet, (struct sockaddr *)&sa, sl), 0);
		raw[1] = quiet;
	}
	fx_spawn(&f, NULL, peer_hi);
	t0 = now_ns();
	fx_accept(&f);
	print_message("[ INFO     ] %d bad clients skipped in %.0f ms\n", nb + 3,
	              (double)(now_ns() - t0) / 1e6);
	assert_int_equal(expect_hi(f.c), getuid());
	for (int i = 0; i < nb; i++) {
		char b[64];
		size_t len;
		/* each bad client was hung up on */
		int rv = ipcx_recv(bad[i], b, sizeof b, &len, WAIT_MS);
		if (rv != IPCX_ECLOSED && rv != IPCX_ECONNRESET && rv != IPCX_EPROTO) {
			fail_msg("bad client %d: %s", i, ipcx_err_name(rv));
		}
		ipcx_close(bad[i]);
	}
	tu_close(raw[0]);
	tu_close(raw[1]);
	tu_close(p[0]);
	tu_close(p[1]);
	fx_end(&f);
}

/* ---- peer credentials ---------------------------------------------------------------- */

static int
peer_cred_back(ipcx_chan *c, fx *f)
{
	pid_t pid = 0;
	uid_t uid = 1;
	gid_t gid = 1;

	(void)f;
	TRY_RV(ipcx_peer_cred(c, &pid, &uid, &gid), 0);
	TRY(pid == getppid() && uid == getuid() && gid == getgid(), "pid %d uid %d gid %d",
	    (int)pid, (int)uid, (int)gid);
	TRY_RV(ipcx_send(c, "k", 1, WAIT_MS), 0);
	return 0;
}

static void
test_peer_cred_names_the_other_process(void **state)
{
	pid_t pid = 0;
	uid_t uid = 1;
	char b[4];
	size_t len;
	fx f;

	(void)state;
	fx_start(&f, NULL, NULL, peer_cred_back);
	assert_rv(ipcx_peer_cred(f.c, &pid, &uid, NULL), 0);
	assert_int_equal(pid, f.pid);
	assert_int_equal(uid, getuid());
	assert_rv(ipcx_recv(f.c, b, sizeof b, &len, WAIT_MS), 0);
	fx_end(&f);
}

/* ---- main ---------------------------------------------------------------------------- */

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int
main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
	        T(test_ring_wraps_millions_of_random_records_compared_byte_for_byte),
	        T(test_peer_of_another_uid_is_refused_and_the_listener_serves_on),
	        T(test_listener_allow_list_admits_another_uid),
	        T(test_dialer_refuses_a_server_of_another_uid_unless_allowed),
	        T(test_peer_death_wakes_every_waiter_spin),
	        T(test_peer_death_wakes_every_waiter_block),
	        T(test_peer_death_wakes_every_waiter_adaptive),
	        T(test_writer_killed_mid_loan_exposes_no_partial_record),
	        T(test_writer_killed_after_a_cut_message_exposes_no_piece),
	        T(test_writer_killed_blocked_in_pieces_exposes_no_piece),
	        T(test_writer_killed_while_streaming_gives_whole_messages_then_closed),
	        T(test_nothing_named_in_dev_shm_and_nothing_held_after_close),
	        T(test_both_ends_in_one_process_share_one_mapping),
	        T(test_chan_fd_readable_on_message_and_on_peer_close),
	        T(test_chan_fd_readable_on_peer_death),
	        T(test_wait_modes_carry_a_ping_pong),
	        T(test_large_payloads_are_placed_as_the_senders_buffer),
	        T(test_bad_urls_are_refused),
	        T(test_ring_size_rounds_up_and_the_dialers_size_wins),
	        T(test_path_listener_makes_a_socket_file_and_removes_it),
	        T(test_hostile_servers_make_dial_fail_cleanly),
	        T(test_hostile_clients_are_skipped_and_the_listener_serves_on),
	        T(test_peer_cred_names_the_other_process),
	};
	const char *n = getenv("SHM_WRAP_RECORDS");

	if (n != NULL && *n != '\0') {
		wrap_n = strtoull(n, NULL, 10);
	}
	return tu_run("shm_chan", tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
