/*
 * shm_threads.c - shm:// with both ends in one process, on threads: one listens and
 * accepts, one dials, and each channel has a sender and a receiver thread at once, in every
 * wait mode, with loans and views. A process maps a segment once, so both ends' accesses
 * land at the same addresses: built with -DIPCX_SANITIZE=thread (make test-tsan), this is
 * how ThreadSanitizer checks the ring's memory ordering. Runs in every build.
 *
 * Usage: shm_threads [TEST-GLOB].
 */
#include "testutil.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 30000

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define STREAM_N 20000 /* per direction; a sanitizer makes each message ~10x dearer */
#else
#define STREAM_N 200000
#endif

static uint64_t
mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Content of message k of direction dir (0 or 1); word-wise, so checks are cheap. */
static void
pat_fill(void *buf, size_t len, uint64_t k, int dir)
{
	unsigned char *p = buf;
	uint64_t w = mix64(k * 2 + (uint64_t)dir);
	size_t i = 0;

	for (; i + 8 <= len; i += 8, w += 0x2545f4914f6cdd1dULL) {
		memcpy(p + i, &w, 8);
	}
	if (i < len) {
		memcpy(p + i, &w, len - i);
	}
}

static bool
pat_check(const void *buf, size_t len, uint64_t k, int dir)
{
	const unsigned char *p = buf;
	uint64_t w = mix64(k * 2 + (uint64_t)dir), v;
	size_t i = 0;

	for (; i + 8 <= len; i += 8, w += 0x2545f4914f6cdd1dULL) {
		memcpy(&v, p + i, 8);
		if (v != w) {
			return false;
		}
	}
	return i == len || memcmp(p + i, &w, len - i) == 0;
}

/* Mostly small, some to a few KiB, a few beyond the loan maximum of a 64 KiB ring. */
static size_t
msg_size(uint64_t k, int dir)
{
	uint64_t h = mix64(k ^ ((uint64_t)dir << 40) ^ 0x7a11ULL);
	unsigned r = (unsigned)(h % 100);

	h >>= 8;
	return r < 80 ? (size_t)(h % 100) : r < 98 ? (size_t)(h % 5000) : (size_t)(h % 40000);
}

/* ---- a pair in this process ---------------------------------------------------------- */

typedef struct pair {
	ipcx_listener *l;
	ipcx_chan *a, *b; /* a: accepted, b: dialed */
	char url[300];
	int rv;
} pair;

static void *
pair_accept(void *arg)
{
	pair *p = arg;

	p->rv = ipcx_accept(p->l, &p->a, WAIT_MS);
	return NULL;
}

/* One thread listens and accepts while this one dials. */
static void
pair_open(pair *p, const char *query)
{
	pthread_t t;

	memset(p, 0, sizeof *p);
	snprintf(p->url, sizeof p->url, "shm://th-%d-%u%s%s", (int)getpid(), tu_next(),
	         *query ? "?" : "", query);
	assert_rv(ipcx_listen(&p->l, p->url, NULL), 0);
	assert_int_equal(pthread_create(&t, NULL, pair_accept, p), 0);
	assert_rv(ipcx_dial(&p->b, p->url, NULL, WAIT_MS), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_rv(p->rv, 0);
}

static void
pair_close(pair *p)
{
	ipcx_close(p->a);
	ipcx_close(p->b);
	ipcx_listener_close(p->l);
}

/* ---- four threads: a sender and a receiver on each end ------------------------------- */

typedef struct flow {
	ipcx_chan *c;
	int dir; /* the direction this thread sends (or receives) */
	uint32_t n;
	int st;
} flow;

static int
flow_send_body(flow *f)
{
	unsigned char *buf = tu_xmalloc(40000);
	size_t lmax = ipcx_loan_max(f->c);

	for (uint32_t k = 0; k < f->n; k++) {
		size_t len = msg_size(k, f->dir);
		unsigned how = (unsigned)(mix64(k + 11) % 4);
		int rv;
		if (how >= 2 && len <= lmax) {
			void *p = NULL;
			rv = ipcx_loan(f->c, len, &p, how == 3 ? 0 : WAIT_MS);
			if (rv == IPCX_ETIMEDOUT) {
				rv = ipcx_loan(f->c, len, &p, WAIT_MS);
			}
			if (rv == 0) {
				pat_fill(p, len, k, f->dir);
				rv = ipcx_commit(f->c, p, len);
			}
		} else {
			pat_fill(buf, len, k, f->dir);
			rv = ipcx_send(f->c, buf, len, how == 1 ? 0 : WAIT_MS);
			if (rv == IPCX_ETIMEDOUT && how == 1) {
				rv = ipcx_send(f->c, buf, len, WAIT_MS);
			}
		}
		if (rv != 0) {
			free(buf);
		}
		TRY(rv == 0, "dir %d message %u: %s", f->dir, k, ipcx_err_name(rv));
	}
	free(buf);
	return 0;
}

static int
flow_recv_body(flow *f)
{
	unsigned char *buf = tu_xmalloc(40000);

	for (uint32_t k = 0; k < f->n; k++) {
		size_t want = msg_size(k, f->dir), len = 0;
		const void *p = buf;
		bool view = (mix64(k + 23) & 1) != 0;
		int rv;
		if (view) {
			rv = ipcx_recv_view(f->c, &p, &len, WAIT_MS);
		} else {
			rv = ipcx_recv(f->c, buf, 40000, &len, WAIT_MS);
		}
		if (rv == 0 && (len != want || !pat_check(p, len, k, f->dir))) {
			tu_report(__FILE__, __LINE__, "recv",
			          "dir %d message %u: %zu bytes (want %zu)", f->dir, k, len, want);
			rv = IPCX_EBADMSG;
		}
		if (rv == 0 && view) {
			rv = ipcx_release(f->c);
		}
		if (rv != 0) {
			free(buf);
		}
		TRY(rv == 0, "dir %d message %u: %s", f->dir, k, ipcx_err_name(rv));
	}
	free(buf);
	return 0;
}

static void *
flow_send(void *arg)
{
	flow *f = arg;

	f->st = flow_send_body(f);
	return NULL;
}

static void *
flow_recv(void *arg)
{
	flow *f = arg;

	f->st = flow_recv_body(f);
	return NULL;
}

static void
four_threads(const char *query, uint32_t n)
{
	pair p;
	flow fl[4];
	pthread_t t[4];

	pair_open(&p, query);
	fl[0] = (flow){p.a, 0, n, -1}; /* a sends dir 0 */
	fl[1] = (flow){p.b, 0, n, -1}; /* b receives dir 0 */
	fl[2] = (flow){p.b, 1, n, -1}; /* b sends dir 1 */
	fl[3] = (flow){p.a, 1, n, -1}; /* a receives dir 1 */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_create(&t[i], NULL, i % 2 ? flow_recv : flow_send, &fl[i]),
		                 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(fl[i].st, 0);
	}
	pair_close(&p);
}

static void
test_four_threads_two_ends_spin(void **state)
{
	(void)state;
	/* four threads that spin without end on two CPUs shared with other tests: each wait
	 * can last a scheduler slice, so fewer messages */
	four_threads("size=64K&wait=spin", STREAM_N / 20);
}

static void
test_four_threads_two_ends_block(void **state)
{
	(void)state;
	four_threads("size=64K&wait=block", STREAM_N);
}

static void
test_four_threads_two_ends_adaptive(void **state)
{
	(void)state;
	four_threads("size=64K", STREAM_N);
}

static void
test_four_threads_default_ring(void **state)
{
	(void)state;
	four_threads("", STREAM_N);
}

/* ---- close seen by a thread blocked on the other end --------------------------------- */

typedef struct blocked {
	ipcx_chan *c;
	bool view;
	int rv;
	atomic_int started;
} blocked;

static void *
blocked_recv(void *arg)
{
	blocked *b = arg;
	unsigned char buf[16];
	const void *p;
	size_t len = 0;

	/* the one message first, then the end */
	b->rv = b->view ? ipcx_recv_view(b->c, &p, &len, WAIT_MS)
	                : ipcx_recv(b->c, buf, sizeof buf, &len, WAIT_MS);
	if (b->rv == 0 && b->view) {
		b->rv = len == 3 && memcmp(p, "end", 3) == 0 ? ipcx_release(b->c) : IPCX_EBADMSG;
	}
	atomic_store(&b->started, 1);
	if (b->rv == 0) {
		b->rv = b->view ? ipcx_recv_view(b->c, &p, &len, -1)
		                : ipcx_recv(b->c, buf, sizeof buf, &len, -1);
	}
	return NULL;
}

static void
close_case(const char *query, bool view)
{
	blocked b;
	pthread_t t;
	pair p;

	pair_open(&p, query);
	b.c = p.a;
	b.view = view;
	b.rv = 1;
	atomic_init(&b.started, 0);
	assert_int_equal(pthread_create(&t, NULL, blocked_recv, &b), 0);
	assert_rv(ipcx_send(p.b, "end", 3, WAIT_MS), 0);
	ipcx_close(p.b); /* whether the thread waits already or not: the end, after "end" */
	p.b = NULL;
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(atomic_load(&b.started), 1);
	assert_rv(b.rv, IPCX_ECLOSED);
	pair_close(&p);
}

static void
test_close_wakes_a_thread_blocked_on_the_other_end(void **state)
{
	(void)state;
	close_case("wait=spin", false);
	close_case("wait=block", true);
	close_case("wait=adaptive", false);
	close_case("wait=adaptive", true);
}

/* ---- a poll loop thread against a sending thread ------------------------------------- */

typedef struct poller {
	ipcx_chan *c;
	uint32_t n;
	int st;
} poller;

static int
poller_body(poller *pl)
{
	int fd = ipcx_chan_fd(pl->c);
	unsigned char buf[40000];

	TRY(fd >= 0, "chan fd: %s", ipcx_err_name(fd));
	for (uint32_t k = 0; k < pl->n;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		TRY(poll(&p, 1, WAIT_MS) == 1, "message %u: fd quiet", k);
		for (;;) {
			size_t len = 0;
			int rv = ipcx_recv(pl->c, buf, sizeof buf, &len, 0);
			if (rv == IPCX_ETIMEDOUT) {
				break;
			}
			TRY_RV(rv, 0);
			TRY(len == msg_size(k, 0) && pat_check(buf, len, k, 0), "message %u", k);
			k++;
		}
	}
	return 0;
}

static void *
poller_main(void *arg)
{
	poller *pl = arg;

	pl->st = poller_body(pl);
	return NULL;
}

static void
test_poll_loop_thread_against_a_sending_thread(void **state)
{
	const char *modes[] = {"size=64K&wait=adaptive", "size=64K&wait=block"};

	(void)state;
	for (int i = 0; i < 2; i++) {
		poller pl;
		flow fs;
		pthread_t t[2];
		pair p;
		pair_open(&p, modes[i]);
		pl = (poller){p.b, STREAM_N / 4, -1};
		fs = (flow){p.a, 0, STREAM_N / 4, -1};
		assert_int_equal(pthread_create(&t[0], NULL, poller_main, &pl), 0);
		assert_int_equal(pthread_create(&t[1], NULL, flow_send, &fs), 0);
		assert_int_equal(pthread_join(t[0], NULL), 0);
		assert_int_equal(pthread_join(t[1], NULL), 0);
		assert_int_equal(pl.st, 0);
		assert_int_equal(fs.st, 0);
		pair_close(&p);
	}
}

/* ---- main ---------------------------------------------------------------------------- */

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int
main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
	        T(test_four_threads_two_ends_spin),
	        T(test_four_threads_two_ends_block),
	        T(test_four_threads_two_ends_adaptive),
	        T(test_four_threads_default_ring),
	        T(test_close_wakes_a_thread_blocked_on_the_other_end),
	        T(test_poll_loop_thread_against_a_sending_thread),
	};

	return tu_run("shm_threads", tests, sizeof tests / sizeof tests[0],
	              argc > 1 ? argv[1] : NULL);
}
