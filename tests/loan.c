/*
 * loan.c - the zero-copy calls (ipcx_loan/commit/loan_cancel, ipcx_recv_view/release) on
 * every scheme: through the core's channel buffer where a scheme has no in-place path, and
 * in place in the ring on shm://. The same test bodies run on each scheme.
 *
 * Usage: loan SCHEME [TEST-GLOB]; SCHEME is one of pipe fifo unix tcp udp mq sysvmq file
 * shm shm_small (shm:// with a 64 KiB ring, so that messages above ipcx_loan_max travel in
 * pieces). The parent is the accepting side; the forked child dials and runs a peer body.
 * udp may lose datagrams: the few tests that need many messages in flight skip it, the
 * others keep a handful of small datagrams in flight at a time.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS   30000 /* bound on any single wait for something that must happen */
#define LARGE     (((size_t)4 << 20) + 3)
#define ECHO_CAP  (IPCX_DEFAULT_MAX_MSG + 16)
#define HELLO     "HELLO"
#define HELLO_LEN 5
#define END       "\001ipcx-loan-end" /* ends an echo peer (echoed back first) */
#define END_LEN   14

/* ---- schemes ------------------------------------------------------------------------- */

typedef struct scheme {
	const char *name;
	void (*url)(char *buf, size_t cap); /* NULL: ipcx_pair */
	bool reliable;                      /* false: datagrams may be lost (udp) */
	bool fills;                         /* a sender that nobody reads from fills it */
	bool inplace;                       /* the transport lends ring space (shm) */
} scheme;

static void
url_mq(char *buf, size_t cap)
{
	snprintf(buf, cap, "mq:///loan-%d-%u", (int)getpid(), tu_next());
}

static void
url_shm(char *buf, size_t cap)
{
	snprintf(buf, cap, "shm://loan-%d-%u", (int)getpid(), tu_next());
}

static void
url_shm_small(char *buf, size_t cap)
{
	snprintf(buf, cap, "shm://loan-%d-%u?size=64K", (int)getpid(), tu_next());
}

static const scheme schemes[] = {
        {"pipe", NULL, true, true, false},         {"fifo", tu_url_fifo, true, true, false},
        {"unix", tu_url_unix, true, true, false},     {"tcp", tu_url_tcp, true, true, false},
        {"udp", tu_url_udp, false, false, false},     {"mq", url_mq, true, true, false},
        {"sysvmq", tu_url_sysvmq, true, true, false}, {"file", tu_url_file, true, false, false},
        {"shm", url_shm, true, true, true},        {"shm_small", url_shm_small, true, true, true},
};

static const scheme *S;
/* sysvmq: the largest message this machine's kernel.msgmax/msgmnb allow (set in main); a
 * sysvmq channel's loan maximum must be exactly that (it once reported 16 MiB, so that a
 * loan succeeded whose commit could only fail). */
static size_t sysvmq_max;

#define SKIP_IF(cond, why)                                                    \
	do {                                                                  \
		if (cond) {                                                   \
			print_message("[ SKIP     ] %s: %s\n", S->name, why); \
			skip();                                               \
		}                                                             \
	} while (0)

/* The largest message c carries: on shm:// ipcx_send cuts what exceeds the loan maximum
 * into pieces (up to the default max_msg); elsewhere the loan maximum is the channel's. */
static size_t
msg_max(ipcx_chan *c)
{
	if (sysvmq_max != 0) {
		assert_int_equal(ipcx_loan_max(c), sysvmq_max);
		return sysvmq_max;
	}
	return S->inplace ? IPCX_DEFAULT_MAX_MSG : ipcx_loan_max(c);
}

static size_t
min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ---- the fixture: a connected pair across processes ---------------------------------- */

typedef int (*peer_fn)(ipcx_chan *c, void *arg);

typedef struct fx {
	ipcx_listener *l;
	ipcx_chan *c; /* the parent's channel */
	pid_t pid;
	int down[2], up[2]; /* control pipes: parent -> child, child -> parent */
} fx;

/* udp knows no connection: the dialer announces itself and waits for the answer. */
static int
udp_hello(ipcx_chan *c)
{
	char b[16];
	size_t len = 0;

	TRY_RV(ipcx_send(c, HELLO, HELLO_LEN, WAIT_MS), 0);
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	TRY(len == 2 && memcmp(b, "OK", 2) == 0, "welcome of %zu bytes", len);
	return 0;
}

/* Listen (query appended to the URL if not NULL), fork the dialer running fn, accept. */
static void
fx_start(fx *f, peer_fn fn, const char *query)
{
	char url[1100], durl[1200];
	ipcx_chan *pb = NULL;

	memset(f, 0, sizeof *f);
	tu_pipe(f->down);
	tu_pipe(f->up);
	if (S->url == NULL) {
		assert_rv(ipcx_pair(&f->c, &pb, NULL), 0);
	} else {
		S->url(url, sizeof url);
		if (query != NULL) {
			strcat(url, strchr(url, '?') ? "&" : "?");
			strcat(url, query);
		}
		assert_rv(ipcx_listen(&f->l, url, NULL), 0);
		assert_rv(ipcx_listener_url(f->l, durl, 1100), 0);
		if (query != NULL) {
			/* both sides agree on the options (mq: a dialer's queues fit the server's)
			 */
			strcat(durl, strchr(durl, '?') ? "&" : "?");
			strcat(durl, query);
		}
	}
	f->pid = tu_fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		ipcx_chan *c = pb;
		int st, rv;
		tu_close(f->down[1]);
		tu_close(f->up[0]);
		if (S->url == NULL) {
			ipcx_close(f->c);
		} else {
			/* the listener stays unclosed here: closing would remove its names */
			if ((rv = ipcx_dial(&c, durl, NULL, WAIT_MS)) != 0) {
				fprintf(stderr, "child: dial %s: %s\n", durl, ipcx_err_name(rv));
				tu_child_exit(1);
			}
			if (!S->reliable && udp_hello(c) != 0) {
				tu_child_exit(1);
			}
		}
		st = fn(c, f);
		ipcx_close(c);
		tu_child_exit(st);
	}
	tu_close(f->down[0]);
	tu_close(f->up[1]);
	f->down[0] = f->up[1] = -1;
	if (S->url == NULL) {
		ipcx_close(pb);
		return;
	}
	assert_rv(ipcx_accept(f->l, &f->c, WAIT_MS), 0);
	if (!S->reliable) {
		char b[16];
		size_t len = 0;
		assert_rv(ipcx_recv(f->c, b, sizeof b, &len, WAIT_MS), 0);
		assert_int_equal(len, HELLO_LEN);
		assert_rv(ipcx_send(f->c, "OK", 2, WAIT_MS), 0);
	}
}

/* Wait for the child to succeed, close everything. */
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

/* ---- sending and receiving by either path -------------------------------------------- */

enum { BY_COPY = 0, BY_LOAN = 1 };

/* Send message k of len bytes: BY_LOAN fills a loan in place and commits it (ipcx_send
 * when len exceeds the loan maximum), BY_COPY fills a buffer and sends it. */
static int
put_msg(ipcx_chan *c, int how, size_t len, uint32_t k, int timeout_ms)
{
	unsigned char *b;
	void *p = NULL;
	int rv;

	if (how == BY_LOAN && len <= ipcx_loan_max(c)) {
		if ((rv = ipcx_loan(c, len, &p, timeout_ms)) != 0) {
			return rv;
		}
		tu_fill(p, len, k);
		return ipcx_commit(c, p, len);
	}
	b = tu_xmalloc(len);
	tu_fill(b, len, k);
	rv = ipcx_send(c, b, len, timeout_ms);
	free(b);
	return rv;
}

/* Receive the next message and check that it is message k of want bytes: BY_LOAN through
 * ipcx_recv_view (checked in place, then released), BY_COPY through ipcx_recv. */
static int
get_msg(ipcx_chan *c, int how, size_t want, uint32_t k, int timeout_ms)
{
	const void *p = NULL;
	unsigned char *b = NULL;
	size_t len = 0;
	int rv;

	if (how == BY_LOAN) {
		TRY_RV(ipcx_recv_view(c, &p, &len, timeout_ms), 0);
		TRY(p != NULL || len == 0, "a view of %zu bytes at NULL", len);
	} else {
		b = tu_xmalloc(want + 1);
		rv = ipcx_recv(c, b, want + 1, &len, timeout_ms);
		if (rv != 0) {
			free(b);
		}
		TRY_RV(rv, 0);
		p = b;
	}
	rv = len == want && tu_check(p, len, k);
	if (!rv) {
		tu_report(__FILE__, __LINE__, "get_msg", "message %u: %zu bytes (want %zu), %s", k,
		          len, want, len == want ? "content differs" : "length differs");
	}
	free(b);
	if (how == BY_LOAN) {
		TRY_RV(ipcx_release(c), 0);
	}
	return rv ? 0 : __LINE__;
}

/* ---- the echo peer ------------------------------------------------------------------- */

/* Echo every message back until END (echoed too) or the end of the channel. The way in
 * and the way out rotate through recv+send, view+send from the view, recv+loan, and
 * view+loan, so that every test also runs each path on the peer's side. */
static int
peer_echo(ipcx_chan *c, void *arg)
{
	unsigned char *buf = tu_xmalloc(ECHO_CAP);

	(void)arg;
	for (uint32_t i = 0;; i++) {
		const void *in = NULL;
		size_t len = 0;
		void *out = NULL;
		bool view = i % 2 == 1, loan = i % 4 >= 2, end;
		int rv;

		if (view) {
			rv = ipcx_recv_view(c, &in, &len, WAIT_MS);
		} else {
			rv = ipcx_recv(c, buf, ECHO_CAP, &len, WAIT_MS);
			in = buf;
		}
		if (rv == IPCX_ECLOSED) {
			break;
		}
		if (rv != 0) {
			free(buf);
		}
		TRY_RV(rv, 0);
		end = len == END_LEN && memcmp(in, END, END_LEN) == 0;
		if (loan && len <= ipcx_loan_max(c)) {
			rv = ipcx_loan(c, len, &out, WAIT_MS);
			if (rv == 0) {
				if (len > 0) {
					memcpy(out, in, len);
				}
				rv = ipcx_commit(c, out, len);
			}
		} else {
			rv = ipcx_send(c, in, len, WAIT_MS); /* from the view itself, if one */
		}
		if (rv == 0 && view) {
			rv = ipcx_release(c);
		}
		if (rv != 0) {
			free(buf);
		}
		TRY_RV(rv, 0);
		if (end) {
			break;
		}
	}
	free(buf);
	return 0;
}

/* Parent side: end the echo peer and take END back. */
static void
echo_end(fx *f)
{
	char b[END_LEN + 1];
	size_t len = 0;

	assert_rv(ipcx_send(f->c, END, END_LEN, WAIT_MS), 0);
	assert_rv(ipcx_recv(f->c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, END_LEN);
	fx_end(f);
}

/* ---- loan and commit ----------------------------------------------------------------- */

static void
test_loan_commit_round_trip_at_every_size(void **state)
{
	static const size_t sizes[] = {0,    1,     7,     8,     100,    4095,    4096,
	                               4097, 32767, 65536, 65537, 200000, 1 << 20, LARGE};
	uint32_t k = 0;
	fx f;

	(void)state;
	fx_start(&f, peer_echo, NULL);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t s = min_sz(sizes[i], S->reliable ? msg_max(f.c) : 1000);
		/* both ways out, both ways in: with the peer's four paths, every pairing */
		for (int j = 0; j < 4; j++, k++) {
			assert_int_equal(put_msg(f.c, j % 2 ? BY_LOAN : BY_COPY, s, k, WAIT_MS), 0);
			assert_int_equal(get_msg(f.c, j / 2 ? BY_LOAN : BY_COPY, s, k, WAIT_MS), 0);
		}
	}
	/* the largest loan there is, every byte of it written */
	{
		size_t m = min_sz(ipcx_loan_max(f.c), S->reliable ? LARGE : 1000);
		assert_int_equal(put_msg(f.c, BY_LOAN, m, k, WAIT_MS), 0);
		assert_int_equal(get_msg(f.c, BY_LOAN, m, k, WAIT_MS), 0);
	}
	echo_end(&f);
}

static void
test_commit_shorter_than_the_loan_sends_only_len_bytes(void **state)
{
	void *p = NULL;
	size_t s;
	fx f;

	(void)state;
	fx_start(&f, peer_echo, NULL);
	s = min_sz(5000, ipcx_loan_max(f.c));
	assert_rv(ipcx_loan(f.c, s, &p, WAIT_MS), 0);
	assert_non_null(p);
	tu_fill(p, 10, 1);
	/* more than was loaned: refused, and the loan is still out */
	assert_rv(ipcx_commit(f.c, p, s + 1), IPCX_EINVAL);
	assert_rv(ipcx_commit(f.c, p, 10), 0);
	assert_int_equal(get_msg(f.c, BY_COPY, 10, 1, WAIT_MS), 0);
	/* an empty commit is an empty message */
	assert_rv(ipcx_loan(f.c, s, &p, WAIT_MS), 0);
	assert_rv(ipcx_commit(f.c, p, 0), 0);
	assert_int_equal(get_msg(f.c, BY_LOAN, 0, 2, WAIT_MS), 0);
	/* a commit of a pointer that is not the loan's is refused, the loan stays out */
	assert_rv(ipcx_loan(f.c, s, &p, WAIT_MS), 0);
	tu_fill(p, 9, 3);
	assert_rv(ipcx_commit(f.c, (unsigned char *)p + 1, 8), IPCX_EINVAL);
	assert_rv(ipcx_commit(f.c, p, 9), 0);
	assert_int_equal(get_msg(f.c, BY_COPY, 9, 3, WAIT_MS), 0);
	echo_end(&f);
}

static void
test_loan_cancel_sends_nothing(void **state)
{
	void *p = NULL;
	fx f;

	(void)state;
	fx_start(&f, peer_echo, NULL);
	assert_rv(ipcx_loan_cancel(f.c), IPCX_EINVAL); /* no loan out */
	assert_rv(ipcx_commit(f.c, p, 0), IPCX_EINVAL);
	assert_rv(ipcx_loan(f.c, 300, &p, WAIT_MS), 0);
	tu_fill(p, 300, 1);
	assert_rv(ipcx_loan_cancel(f.c), 0);
	assert_rv(ipcx_loan_cancel(f.c), IPCX_EINVAL);
	assert_rv(ipcx_commit(f.c, p, 300), IPCX_EINVAL); /* the loan is over */
	/* the next message is the first one anybody sees */
	assert_int_equal(put_msg(f.c, BY_LOAN, 200, 2, WAIT_MS), 0);
	assert_int_equal(put_msg(f.c, BY_COPY, 100, 3, WAIT_MS), 0);
	assert_int_equal(get_msg(f.c, BY_COPY, 200, 2, WAIT_MS), 0);
	assert_int_equal(get_msg(f.c, BY_LOAN, 100, 3, WAIT_MS), 0);
	echo_end(&f);
}

static void
test_loan_over_the_maximum_is_emsgsize(void **state)
{
	void *p = (void *)&p;
	size_t m;
	fx f;

	(void)state;
	assert_int_equal(ipcx_loan_max(NULL), 0);
	assert_rv(ipcx_loan(NULL, 1, &p, 0), IPCX_EINVAL);
	fx_start(&f, peer_echo, NULL);
	m = ipcx_loan_max(f.c);
	assert_true(m > 0);
	if (S->inplace) {
		/* half the ring less a record header: 4 MiB ring by default, 64 KiB here */
		size_t half = strcmp(S->name, "shm") == 0 ? (size_t)2 << 20 : (size_t)32 << 10;
		assert_true(m <= half - 8 && m >= half - 64);
	}
	assert_rv(ipcx_loan(f.c, m + 1, &p, WAIT_MS), IPCX_EMSGSIZE);
	assert_null(p);
	assert_rv(ipcx_loan_cancel(f.c), IPCX_EINVAL); /* nothing is out */
	assert_rv(ipcx_loan(f.c, m, &p, WAIT_MS), 0);  /* exactly the maximum is fine */
	assert_non_null(p);
	assert_rv(ipcx_loan_cancel(f.c), 0);
	if (S->reliable) {
		/* and it goes through: the loan maximum is a size the channel carries */
		assert_int_equal(put_msg(f.c, BY_LOAN, m, 3, WAIT_MS), 0);
		assert_int_equal(get_msg(f.c, BY_LOAN, m, 3, WAIT_MS), 0);
	}
	if (S->reliable && m + 1 <= msg_max(f.c)) {
		/* shm: a message over the loan maximum still goes by ipcx_send, in pieces */
		assert_int_equal(put_msg(f.c, BY_COPY, m + 1, 1, WAIT_MS), 0);
		assert_int_equal(get_msg(f.c, BY_LOAN, m + 1, 1, WAIT_MS), 0);
	} else {
		/* elsewhere the loan maximum is the channel's maximum message */
		unsigned char *b = tu_xmalloc(m + 1);
		assert_rv(ipcx_send(f.c, b, m + 1, WAIT_MS), IPCX_EMSGSIZE);
		free(b);
	}
	assert_int_equal(put_msg(f.c, BY_LOAN, 10, 2, WAIT_MS), 0);
	assert_int_equal(get_msg(f.c, BY_COPY, 10, 2, WAIT_MS), 0);
	echo_end(&f);
}

static void
test_maxmsg_option_bounds_the_loan_on_copying_schemes(void **state)
{
	void *p = NULL;
	fx f;

	(void)state;
	SKIP_IF(S->inplace, "shm:// lends half its ring whatever max_msg says");
	SKIP_IF(S->url == NULL, "ipcx_pair takes no URL (the option struct is the same path)");
	fx_start(&f, peer_echo, "maxmsg=4096");
	assert_int_equal(ipcx_loan_max(f.c), 4096);
	assert_rv(ipcx_loan(f.c, 4097, &p, WAIT_MS), IPCX_EMSGSIZE);
	assert_int_equal(put_msg(f.c, BY_LOAN, 4096, 1, WAIT_MS), 0);
	assert_int_equal(get_msg(f.c, BY_LOAN, 4096, 1, WAIT_MS), 0);
	echo_end(&f);
}

static void
test_second_loan_and_send_during_a_loan_are_ebusy(void **state)
{
	void *p = NULL, *q = (void *)&q;
	int rv;
	fx f;

	(void)state;
	fx_start(&f, peer_echo, NULL);
	assert_rv(ipcx_loan(f.c, 100, &p, WAIT_MS), 0);
	tu_fill(p, 100, 1);
	assert_rv(ipcx_loan(f.c, 10, &q, WAIT_MS), IPCX_EBUSY);
	assert_null(q);
	assert_rv(ipcx_send(f.c, "x", 1, WAIT_MS), IPCX_EBUSY);
	rv = ipcx_send_prio(f.c, "x", 1, 1, WAIT_MS); /* mq, sysvmq: busy; else none */
	if (rv != IPCX_EBUSY && rv != IPCX_ENOTSUP) {
		fail_msg("send_prio during a loan: %s", ipcx_err_name(rv));
	}
	assert_rv(ipcx_commit(f.c, p, 100), 0);
	assert_int_equal(put_msg(f.c, BY_COPY, 50, 2, WAIT_MS), 0);
	/* the loaned message went first */
	assert_int_equal(get_msg(f.c, BY_LOAN, 100, 1, WAIT_MS), 0);
	assert_int_equal(get_msg(f.c, BY_COPY, 50, 2, WAIT_MS), 0);
	echo_end(&f);
}

/* While a loan is out, the same channel still receives (the loan holds the send side). */
static void
test_loan_out_does_not_block_receiving(void **state)
{
	void *p = NULL;
	fx f;

	(void)state;
	fx_start(&f, peer_echo, NULL);
	assert_int_equal(put_msg(f.c, BY_COPY, 64, 1, WAIT_MS), 0);
	assert_rv(ipcx_loan(f.c, 64, &p, WAIT_MS), 0);
	tu_fill(p, 64, 2);
	assert_int_equal(get_msg(f.c, BY_COPY, 64, 1, WAIT_MS), 0);
	assert_rv(ipcx_commit(f.c, p, 64), 0);
	assert_int_equal(get_msg(f.c, BY_LOAN, 64, 2, WAIT_MS), 0);
	echo_end(&f);
}

/* ---- views --------------------------------------------------------------------------- */

static void
test_view_recv_during_a_view_is_ebusy_release_ends_it(void **state)
{
	const void *v = NULL, *w = (void *)&w;
	unsigned char b[64];
	size_t len = 0, wl = 7;
	fx f;

	(void)state;
	fx_start(&f, peer_echo, NULL);
	assert_rv(ipcx_release(f.c), IPCX_EINVAL); /* no view held */
	/* nothing there: a timed-out view holds nothing */
	assert_rv(ipcx_recv_view(f.c, &v, &len, 0), IPCX_ETIMEDOUT);
	assert_rv(ipcx_recv_view(f.c, &v, &len, 20), IPCX_ETIMEDOUT);
	assert_null(v);
	assert_rv(ipcx_release(f.c), IPCX_EINVAL);

	assert_int_equal(put_msg(f.c, BY_COPY, 40, 1, WAIT_MS), 0);
	assert_int_equal(put_msg(f.c, BY_COPY, 30, 2, WAIT_MS), 0);
	assert_rv(ipcx_recv_view(f.c, &v, &len, WAIT_MS), 0);
	assert_int_equal(len, 40);
	assert_true(tu_check(v, len, 1));
	assert_rv(ipcx_recv(f.c, b, sizeof b, &len, WAIT_MS), IPCX_EBUSY);
	assert_rv(ipcx_recv_view(f.c, &w, &wl, WAIT_MS), IPCX_EBUSY);
	assert_null(w);
	/* sending (and loaning) while a view is held is fine */
	assert_int_equal(put_msg(f.c, BY_LOAN, 20, 3, WAIT_MS), 0);
	assert_int_equal(put_msg(f.c, BY_COPY, 10, 4, WAIT_MS), 0);
	assert_true(tu_check(v, 40, 1)); /* still the same bytes */
	assert_rv(ipcx_release(f.c), 0);
	assert_rv(ipcx_release(f.c), IPCX_EINVAL);
	/* the message after the view is the next one, whole */
	assert_int_equal(get_msg(f.c, BY_COPY, 30, 2, WAIT_MS), 0);
	assert_int_equal(get_msg(f.c, BY_LOAN, 20, 3, WAIT_MS), 0);
	assert_int_equal(get_msg(f.c, BY_LOAN, 10, 4, WAIT_MS), 0);
	echo_end(&f);
}

static void
test_view_of_messages_larger_than_64k(void **state)
{
	static const size_t sizes[] = {65535, 65536, 65537, 300000, 1 << 20, LARGE, 5, 70000};
	fx f;
	uint32_t k = 0;

	(void)state;
	SKIP_IF(!S->reliable, "udp datagrams end at 65507 bytes");
	fx_start(&f, peer_echo, NULL);
	if (msg_max(f.c) < 65536) {
		echo_end(&f);
		SKIP_IF(true, "the scheme's messages are smaller");
	}
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++, k++) {
		size_t s = min_sz(sizes[i], msg_max(f.c));
		assert_int_equal(put_msg(f.c, BY_COPY, s, k, WAIT_MS), 0);
		assert_int_equal(get_msg(f.c, BY_LOAN, s, k, WAIT_MS), 0);
	}
	echo_end(&f);
}

static int
peer_close_after_two(ipcx_chan *c, void *arg)
{
	(void)arg;
	TRY_RV(put_msg(c, BY_LOAN, 10, 1, WAIT_MS), 0);
	TRY_RV(put_msg(c, BY_COPY, 0, 2, WAIT_MS), 0);
	return 0;
}

static void
test_view_after_peer_close_is_eclosed_after_all_messages(void **state)
{
	const void *v = NULL;
	size_t len = 0;
	fx f;

	(void)state;
	SKIP_IF(!S->reliable, "udp has no connection to close");
	fx_start(&f, peer_close_after_two, NULL);
	assert_int_equal(tu_wait(f.pid, TU_WAIT_MS), 0); /* gone before we read */
	f.pid = 0;
	assert_int_equal(get_msg(f.c, BY_LOAN, 10, 1, WAIT_MS), 0);
	assert_int_equal(get_msg(f.c, BY_LOAN, 0, 2, WAIT_MS), 0);
	assert_rv(ipcx_recv_view(f.c, &v, &len, WAIT_MS), IPCX_ECLOSED);
	assert_rv(ipcx_recv_view(f.c, &v, &len, 0), IPCX_ECLOSED);
	assert_rv(ipcx_release(f.c), IPCX_EINVAL);
	fx_end(&f);
}

static int
peer_two_then_wait(ipcx_chan *c, void *arg)
{
	fx *f = arg;
	char x;

	TRY_OK(peer_close_after_two(c, arg));
	TRY(tu_put(f->up[1], "s", 1) == 0, "sent");
	(void)tu_get(f->down[0], &x, 1, WAIT_MS); /* until the parent says so, or closes */
	return 0;
}

/* A loan and a view end with their channel: no leak, no release needed (ASan/LSan). */
static void
test_close_with_a_loan_and_a_view_out(void **state)
{
	const void *v = NULL;
	void *p = NULL;
	size_t len = 0;
	char x;
	fx f;

	(void)state;
	fx_start(&f, peer_two_then_wait, NULL);
	assert_int_equal(tu_get(f.up[0], &x, 1, WAIT_MS), 0); /* both sent */
	assert_rv(ipcx_recv_view(f.c, &v, &len, WAIT_MS), 0);
	assert_rv(ipcx_loan(f.c, 1000, &p, WAIT_MS), 0);
	memset(p, 0xa5, 1000);
	ipcx_close(f.c);
	f.c = NULL;
	assert_int_equal(tu_put(f.down[1], "x", 1), 0);
	fx_end(&f);
}

/* ---- order across both paths --------------------------------------------------------- */

#define MIX_N 3000

/* Sizes: mostly small, some larger, a few over the loan maximum of a small ring. */
static size_t
mix_size(ipcx_chan *c, uint32_t k)
{
	uint32_t h = tu_hash(k ^ 0x2545f491U), r = h % 100, v = tu_hash(h);
	size_t s = r < 60 ? v % 80 : r < 90 ? 80 + v % 5000 : r < 98 ? v % 40000 : v % 300000;

	return min_sz(s, msg_max(c));
}

/* How message k travels: send or loan on the way out, recv or view on the way in. The
 * choice is a hash, so that runs of one path meet runs of the other. */
static int
mix_how(uint32_t k, int salt)
{
	return (int)(tu_hash(k * 2654435761U + (uint32_t)salt) >> 7) & 1;
}

static int
mix_send(ipcx_chan *c)
{
	for (uint32_t k = 0; k < MIX_N; k++) {
		TRY_RV(put_msg(c, mix_how(k, 1), mix_size(c, k), k, WAIT_MS), 0);
	}
	return 0;
}

static int
mix_recv(ipcx_chan *c)
{
	for (uint32_t k = 0; k < MIX_N; k++) {
		TRY_OK(get_msg(c, mix_how(k, 2), mix_size(c, k), k, WAIT_MS));
	}
	return 0;
}

static int
peer_mix(ipcx_chan *c, void *arg)
{
	(void)arg;
	TRY_OK(mix_recv(c));
	TRY_OK(mix_send(c));
	return 0;
}

static void
test_send_loan_recv_and_view_interleaved_keep_order(void **state)
{
	fx f;

	(void)state;
	SKIP_IF(!S->reliable, "udp may lose or reorder datagrams");
	fx_start(&f, peer_mix, NULL);
	assert_int_equal(mix_send(f.c), 0);
	assert_int_equal(mix_recv(f.c), 0);
	fx_end(&f);
}

/* ---- full channels ------------------------------------------------------------------- */

#define FILL_SIZE 1000

/* Count the messages queued while the peer was not reading, then take them all: every
 * message whose send or commit returned 0, and nothing else, in order, then the marker. */
static int
peer_drain_count(ipcx_chan *c, void *arg)
{
	fx *f = arg;
	uint32_t n;

	TRY(tu_get(f->down[0], &n, sizeof n, WAIT_MS) == 0, "count");
	for (uint32_t k = 0; k < n; k++) {
		TRY_OK(get_msg(c, k % 2 ? BY_LOAN : BY_COPY, FILL_SIZE, k, WAIT_MS));
	}
	/* said before the marker, which a stream broken by a timed-out send never brings */
	TRY(tu_put(f->up[1], "d", 1) == 0, "drained");
	TRY_OK(get_msg(c, BY_COPY, 16, 0xfeedU, WAIT_MS));
	return 0;
}

static void
test_loan_on_a_full_channel_times_out_and_sends_nothing(void **state)
{
	uint32_t n = 0;
	void *p = NULL;
	int rv = 0;
	char x;
	fx f;

	(void)state;
	SKIP_IF(!S->fills, "this scheme never fills (or may drop instead)");
	fx_start(&f, peer_drain_count, NULL);
	/* small messages, so a pipe or FIFO writes each at once or not at all */
	while (n < 1000000 &&
	       (rv = put_msg(f.c, n % 2 ? BY_LOAN : BY_COPY, FILL_SIZE, n, 0)) == 0) {
		n++;
	}
	assert_rv(rv, IPCX_ETIMEDOUT);
	assert_true(n > 0);
	rv = ipcx_loan(f.c, FILL_SIZE, &p, 0);
	if (S->inplace) {
		/* the room is taken when the loan is made: no room, no loan */
		assert_rv(rv, IPCX_ETIMEDOUT);
		assert_null(p);
		assert_rv(ipcx_loan(f.c, FILL_SIZE, &p, 50), IPCX_ETIMEDOUT);
	} else {
		/* the channel's buffer is lent at once; its send times out on commit */
		assert_rv(rv, 0);
		tu_fill(p, FILL_SIZE, 0xbadU);
		rv = ipcx_commit(f.c, p, FILL_SIZE);
		assert_true(rv == IPCX_ETIMEDOUT || rv == IPCX_EPIPE);
	}
	assert_rv(ipcx_loan_cancel(f.c), IPCX_EINVAL); /* the loan ended either way */
	assert_int_equal(tu_put(f.down[1], &n, sizeof n), 0);
	rv = put_msg(f.c, BY_LOAN, 16, 0xfeedU, WAIT_MS);
	if (rv == IPCX_EPIPE) {
		/* a stream whose frame was cut short by the timeout is broken for good; the
		 * peer then sees an error where the marker would be (accepted as such) */
		print_message("[ INFO     ] %s: the timed-out commit broke the stream\n", S->name);
		/* still, the n messages sent before it arrived whole and in order */
		assert_int_equal(tu_get(f.up[0], &x, 1, WAIT_MS), 0);
		tu_kill(f.pid);
		f.pid = 0;
		ipcx_close(f.c);
		ipcx_listener_close(f.l);
		tu_close(f.down[1]);
		tu_close(f.up[0]);
		return;
	}
	assert_rv(rv, 0);
	fx_end(&f);
}

/* The peer fills the channel while the parent holds a view: the viewed bytes never
 * change, and (shm://) releasing the view gives its room back to the sender at once. */
static int
peer_fill_around_view(ipcx_chan *c, void *arg)
{
	fx *f = arg;
	uint32_t n = 1;
	char x;
	int rv;

	TRY_RV(put_msg(c, BY_LOAN, 3000, 0, WAIT_MS), 0);
	TRY(tu_get(f->down[0], &x, 1, WAIT_MS) == 0, "go");
	while (n < 1000000 && (rv = put_msg(c, n % 2 ? BY_LOAN : BY_COPY, FILL_SIZE, n, 0)) == 0) {
		n++;
	}
	TRY_RV(rv, IPCX_ETIMEDOUT);
	TRY(tu_put(f->up[1], &n, sizeof n) == 0, "count");
	TRY(tu_get(f->down[0], &x, 1, WAIT_MS) == 0, "released");
	if (S->inplace) {
		/* the parent reads nothing until this send is through */
		TRY_RV(put_msg(c, BY_LOAN, FILL_SIZE, n, WAIT_MS), 0);
		TRY(tu_put(f->up[1], "s", 1) == 0, "sent");
	}
	return 0;
}

static void
test_view_stays_intact_while_the_peer_fills_the_channel(void **state)
{
	const void *v = NULL;
	size_t len = 0;
	uint32_t n = 0;
	char x;
	fx f;

	(void)state;
	SKIP_IF(!S->fills, "this scheme never fills (or may drop instead)");
	fx_start(&f, peer_fill_around_view, NULL);
	assert_rv(ipcx_recv_view(f.c, &v, &len, WAIT_MS), 0);
	assert_int_equal(len, 3000);
	assert_int_equal(tu_put(f.down[1], "g", 1), 0);
	assert_int_equal(tu_get(f.up[0], &n, sizeof n, WAIT_MS), 0);
	assert_true(n > 1);
	assert_true(tu_check(v, len, 0));
	assert_rv(ipcx_release(f.c), 0);
	assert_int_equal(tu_put(f.down[1], "r", 1), 0);
	if (S->inplace) {
		assert_int_equal(tu_get(f.up[0], &x, 1, WAIT_MS), 0);
		n++;
	}
	/* messages 1 .. n-1 were sent whole (a stream may have part of one more: unread) */
	for (uint32_t k = 1; k < n; k++) {
		assert_int_equal(get_msg(f.c, k % 3 ? BY_LOAN : BY_COPY, FILL_SIZE, k, WAIT_MS), 0);
	}
	fx_end(&f);
}

/* ---- threads ------------------------------------------------------------------------- */

/* One thread loans while another views on the same channel (the documented sharing:
 * one sender, one receiver). */
typedef struct duo {
	ipcx_chan *c;
	int st;
} duo;

static void *
duo_send(void *arg)
{
	duo *d = arg;

	d->st = mix_send(d->c);
	return NULL;
}

static void
test_loaning_thread_and_viewing_thread_at_once(void **state)
{
	pthread_t t;
	duo d;
	fx f;

	(void)state;
	SKIP_IF(!S->reliable, "udp may lose or reorder datagrams");
	fx_start(&f, peer_echo, NULL);
	d.c = f.c;
	d.st = -1;
	assert_int_equal(pthread_create(&t, NULL, duo_send, &d), 0);
	assert_int_equal(mix_recv(f.c), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(d.st, 0);
	echo_end(&f);
}

/* ---- main ---------------------------------------------------------------------------- */

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int
main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
	        T(test_loan_commit_round_trip_at_every_size),
	        T(test_commit_shorter_than_the_loan_sends_only_len_bytes),
	        T(test_loan_cancel_sends_nothing),
	        T(test_loan_over_the_maximum_is_emsgsize),
	        T(test_maxmsg_option_bounds_the_loan_on_copying_schemes),
	        T(test_second_loan_and_send_during_a_loan_are_ebusy),
	        T(test_loan_out_does_not_block_receiving),
	        T(test_view_recv_during_a_view_is_ebusy_release_ends_it),
	        T(test_view_of_messages_larger_than_64k),
	        T(test_view_after_peer_close_is_eclosed_after_all_messages),
	        T(test_close_with_a_loan_and_a_view_out),
	        T(test_send_loan_recv_and_view_interleaved_keep_order),
	        T(test_loan_on_a_full_channel_times_out_and_sends_nothing),
	        T(test_view_stays_intact_while_the_peer_fills_the_channel),
	        T(test_loaning_thread_and_viewing_thread_at_once),
	};
	char group[64];

	if (argc < 2) {
		fprintf(stderr, "usage: %s SCHEME [TEST-GLOB]\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		if (strcmp(schemes[i].name, argv[1]) == 0) {
			S = &schemes[i];
		}
	}
	if (S == NULL) {
		fprintf(stderr, "unknown scheme %s\n", argv[1]);
		return 2;
	}
	if (strcmp(S->name, "sysvmq") == 0) {
		sysvmq_max = tu_sysvmq_max();
	}
	snprintf(group, sizeof group, "loan_%s", S->name);
	return tu_run(group, tests, sizeof tests / sizeof tests[0], argc > 2 ? argv[2] : NULL);
}
