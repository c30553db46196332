/*
 * conformance.c - the one conformance suite: the same test bodies run on every scheme, each
 * scheme described by a fixture that makes a connected pair of channels across processes.
 *
 * Usage: conformance SCHEME [TEST-GLOB]; SCHEME is one of pipe fifo unix unix_abstract tcp
 * tcp6 udp mq. Exit 77 (CTest SKIP_RETURN_CODE) when the scheme cannot run here (no IPv6).
 *
 * The parent process is always the server side (the accepted channel, or the parent's end
 * of ipcx_pair); the forked child is the dialer. udp may lose or reorder datagrams: there
 * the tests accept loss but never corruption or duplication, and the peer-close and
 * peer-death cases do not apply (no connection to lose: those tests are skipped).
 */
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB         ((size_t)1 << 20)
#define UDP_MAX     ((size_t)65507) /* the documented IPv4 udp limit */
#define MAX_CLIENTS 32
#define MSG_WAIT_MS 30000 /* bound on any single wait for a message that must come */
#define HELLO       "HELLO"
#define HELLO_LEN   5

/* ---- schemes ------------------------------------------------------------------------- */

typedef struct scheme {
	const char *name;
	/* listen URL (dir = the test's private directory); NULL for pipe */
	void (*listen_url)(char *buf, size_t cap);
	bool reliable;     /* false: datagrams may be lost or reordered (udp) */
	size_t max;        /* largest message the mechanism carries with default options */
	const char *query; /* appended to the listen and the dial URL (?wait=), or NULL */
} scheme;

static void
url_abstract(char *buf, size_t cap)
{
	snprintf(buf, cap, "unix:@ipcx-test-%d-%u", (int)getpid(), tu_next());
}

/* mq: a queue name; the defaults are read from /proc/sys/fs/mqueue in main() */
static void
url_mq(char *buf, size_t cap)
{
	snprintf(buf, cap, "mq:///test-%d-%u", (int)getpid(), tu_next());
}

#define MQ_MAX ((size_t)8192) /* fs.mqueue.msgsize_max, the default message size */

#define SYSVMQ_MAX ((size_t)8191) /* kernel.msgmax (8192) minus ipcx's 1-byte header */

/* shm: an abstract socket name, unique per test process */
static void
url_shm(char *buf, size_t cap)
{
	snprintf(buf, cap, "shm://t-%d-%u", (int)getpid(), tu_next());
}

static const scheme schemes[] = {
        {"pipe", NULL, true, IPCX_DEFAULT_MAX_MSG, NULL},
        {"fifo", tu_url_fifo, true, IPCX_DEFAULT_MAX_MSG, NULL},
        {"unix", tu_url_unix, true, IPCX_DEFAULT_MAX_MSG, NULL},
        {"unix_abstract", url_abstract, true, IPCX_DEFAULT_MAX_MSG, NULL},
        {"tcp", tu_url_tcp, true, IPCX_DEFAULT_MAX_MSG, NULL},
        {"tcp6", tu_url_tcp6, true, IPCX_DEFAULT_MAX_MSG, NULL},
        /* unix and tcp in their other wait modes (the default is block) */
        {"unix_spin", tu_url_unix, true, IPCX_DEFAULT_MAX_MSG, "?wait=spin"},
        {"unix_adaptive", tu_url_unix, true, IPCX_DEFAULT_MAX_MSG, "?wait=adaptive"},
        {"tcp_spin", tu_url_tcp, true, IPCX_DEFAULT_MAX_MSG, "?wait=spin"},
        {"tcp_adaptive", tu_url_tcp, true, IPCX_DEFAULT_MAX_MSG, "?wait=adaptive"},
        {"udp", tu_url_udp, false, UDP_MAX, NULL},
        {"mq", url_mq, true, MQ_MAX, NULL},
        {"sysvmq", tu_url_sysvmq, true, SYSVMQ_MAX, NULL},
        {"file", tu_url_file, true, IPCX_DEFAULT_MAX_MSG, NULL},
        {"shm", url_shm, true, IPCX_DEFAULT_MAX_MSG, NULL},
};

static const scheme *S; /* the scheme under test */
/* messages a sender can queue before the receiver reads (mq: the queue depth); 0: many */
static unsigned S_depth;

static bool
is_pipe(void)
{
	return S->listen_url == NULL;
}

static bool
is_udp(void)
{
	return !S->reliable;
}

#define SKIP_IF(cond, why)                                                    \
	do {                                                                  \
		if (cond) {                                                   \
			print_message("[ SKIP     ] %s: %s\n", S->name, why); \
			skip();                                               \
		}                                                             \
	} while (0)

/* ---- the fixture: a connected pair across processes ---------------------------------- */

typedef struct fx {
	ipcx_listener *l;
	char url[1024];  /* the dial URL (ipcx_listener_url) */
	ipcx_opts popts; /* pipe: options for ipcx_pair */
	bool has_popts;
	ipcx_chan *pa[MAX_CLIENTS]; /* pipe: the parent's ends */
	ipcx_chan *pb[MAX_CLIENTS]; /* pipe: the children's ends */
	const ipcx_opts *copts;     /* dialer options */
	bool no_hello;              /* udp: dialers send at once, unannounced */
} fx;

/* A peer body returns 0 or the failing line; PEER_CLOSED_IT: success, and the body has
 * closed the channel itself. */
typedef int (*peer_fn)(ipcx_chan *c, void *arg);
#define PEER_CLOSED_IT (-1)

/* udp has no connection: a dialer announces itself with HELLO and waits for WELCOME, sent
 * once the listener has accepted it. (Datagrams sent before the accept are dropped by the
 * listener; that is udp loss, reported separately, and not what these tests are about.) */
#define WELCOME     "WELCOME"
#define WELCOME_LEN 7

static int
udp_hello(ipcx_chan *c)
{
	char b[16];
	size_t len = 0;
	int rv;

	if ((rv = ipcx_send(c, HELLO, HELLO_LEN, MSG_WAIT_MS)) != 0) {
		return rv;
	}
	if ((rv = ipcx_recv(c, b, sizeof b, &len, MSG_WAIT_MS)) != 0) {
		return rv;
	}
	return len == WELCOME_LEN && memcmp(b, WELCOME, WELCOME_LEN) == 0 ? 0 : IPCX_EPROTO;
}

/* Listener side of udp_hello (cmocka context). */
static void
udp_welcome(ipcx_chan *c)
{
	char b[16];
	size_t len = 0;

	assert_rv(ipcx_recv(c, b, sizeof b, &len, MSG_WAIT_MS), 0);
	assert_int_equal(len, HELLO_LEN);
	assert_memory_equal(b, HELLO, HELLO_LEN);
	assert_rv(ipcx_send(c, WELCOME, WELCOME_LEN, MSG_WAIT_MS), 0);
}

/* Parent: the listener (or nothing for pipe). sopts are the server's options. */
static void
fx_listen(fx *f, const ipcx_opts *sopts)
{
	char url[1024];

	memset(f, 0, sizeof *f);
	if (is_pipe()) {
		if (sopts != NULL) {
			f->popts = *sopts;
			f->has_popts = true;
		}
		return;
	}
	S->listen_url(url, sizeof url);
	if (S->query != NULL) {
		char q[1024 + 32];
		snprintf(q, sizeof q, "%s%s", url, S->query);
		assert_rv(ipcx_listen(&f->l, q, sopts), 0);
	} else {
		assert_rv(ipcx_listen(&f->l, url, sopts), 0);
	}
	assert_rv(ipcx_listener_url(f->l, f->url, sizeof f->url), 0);
	if (strstr(url, ":0") == NULL) {
		assert_string_equal(f->url, url);
	} else {
		assert_null(strstr(f->url, ":0"));
	}
	if (S->query != NULL) {
		strncat(f->url, S->query, sizeof f->url - strlen(f->url) - 1);
	}
}

/* Fork peer k running fn on its end (the dialer). udp dialers first send HELLO so that the
 * listener sees them. */
static pid_t
fx_spawn(fx *f, int k, peer_fn fn, void *arg)
{
	pid_t pid;

	if (is_pipe()) {
		assert_rv(ipcx_pair(&f->pa[k], &f->pb[k], f->has_popts ? &f->popts : NULL), 0);
	}
	pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ipcx_chan *c = NULL;
		int st, rv;
		if (is_pipe()) {
			for (int j = 0; j < MAX_CLIENTS; j++) {
				ipcx_close(f->pa[j]); /* inherited parent ends: would hide EOF */
				if (j != k) {
					ipcx_close(f->pb[j]);
				}
			}
			c = f->pb[k];
		} else {
			rv = ipcx_dial(&c, f->url, f->copts, MSG_WAIT_MS);
			if (rv != 0) {
				fprintf(stderr, "child: dial %s: %s\n", f->url, ipcx_err_name(rv));
				tu_child_exit(1);
			}
			if (is_udp() && !f->no_hello && (rv = udp_hello(c)) != 0) {
				fprintf(stderr, "child: hello: %s\n", ipcx_err_name(rv));
				tu_child_exit(1);
			}
		}
		st = fn(c, arg);
		if (st == PEER_CLOSED_IT) {
			tu_child_exit(0);
		}
		ipcx_close(c);
		tu_child_exit(st);
	}
	if (is_pipe()) {
		ipcx_close(f->pb[k]);
		f->pb[k] = NULL;
	}
	return pid;
}

/* Parent: the channel of peer k (pipe) or the next accepted client (udp: greeted). */
static ipcx_chan *
fx_accept(fx *f, int k)
{
	ipcx_chan *c = NULL;

	if (is_pipe()) {
		c = f->pa[k];
		f->pa[k] = NULL;
		return c;
	}
	assert_rv(ipcx_accept(f->l, &c, MSG_WAIT_MS), 0);
	assert_non_null(c);
	if (is_udp()) {
		udp_welcome(c);
	}
	return c;
}

static void
fx_done(fx *f)
{
	for (int j = 0; j < MAX_CLIENTS; j++) {
		ipcx_close(f->pa[j]);
		f->pa[j] = NULL;
	}
	ipcx_listener_close(f->l);
	f->l = NULL;
}

/* Control pipes between the parent and one child: down (parent -> child), up. */
typedef struct link {
	int down[2], up[2];
} link_t;

static void
link_open(link_t *k)
{
	tu_pipe(k->down);
	tu_pipe(k->up);
}

static void
link_child(link_t *k)
{
	tu_close(k->down[1]);
	tu_close(k->up[0]);
	k->down[1] = k->up[0] = -1;
}

static void
link_parent(link_t *k)
{
	tu_close(k->down[0]);
	tu_close(k->up[1]);
	k->down[0] = k->up[1] = -1;
}

static void
link_close(link_t *k)
{
	tu_close(k->down[0]);
	tu_close(k->down[1]);
	tu_close(k->up[0]);
	tu_close(k->up[1]);
}

/* ---- payload streams ----------------------------------------------------------------- */

/* Size of message k of a mixed stream: mostly small, some around the pipe and page sizes,
 * a few large; the first ones hit the boundaries exactly. udp: within [8, 65507]. */
static size_t
stream_size(uint32_t k)
{
	static const size_t first[] = {
	        0,        1,    7,    8,    9,     PIPE_BUF - 9, PIPE_BUF - 8, PIPE_BUF - 7,
	        PIPE_BUF, 4095, 4096, 4097, 65535, 65536,        65537,        131072};
	uint32_t h = tu_hash(k ^ 0x5bd1e995U), r = h % 100, v = tu_hash(h);
	size_t s;

	if (k < sizeof first / sizeof first[0]) {
		s = first[k];
	} else if (r < 55) {
		s = v % 64;
	} else if (r < 80) {
		s = 64 + v % 4200;
	} else if (r < 97) {
		s = 4264 + v % 70000;
	} else {
		s = 74264 + v % 400000;
	}
	if (!S->reliable && s < 8) {
		s = 8;
	}
	return s > S->max ? S->max : s;
}

#define STREAM_BUF (480 * 1024)

/* Send messages 0..n-1 of the mixed stream; then one byte on ctl (if >= 0). */
static int
stream_send(ipcx_chan *c, uint32_t n, int ctl)
{
	unsigned char *buf = tu_xmalloc(STREAM_BUF);

	for (uint32_t k = 0; k < n; k++) {
		size_t s = stream_size(k);
		int rv;
		tu_fill(buf, s, k);
		rv = ipcx_send(c, buf, s, MSG_WAIT_MS);
		if (rv != 0) {
			free(buf);
			TRY_RV(rv, 0);
		}
	}
	free(buf);
	if (ctl >= 0) {
		TRY(tu_put(ctl, "d", 1) == 0, "ctl");
	}
	return 0;
}

/* udp: receive until the sender said (on ctl) that it is done and nothing more is queued;
 * every datagram must be one of 0..n-1, intact, and not seen before. Returns the count in
 * *got. */
static int
udp_collect(ipcx_chan *c, uint32_t n, int ctl, size_t (*size_of)(uint32_t), uint32_t *got)
{
	unsigned char *buf = tu_xmalloc(UDP_MAX + 1);
	unsigned char *seen = calloc(n, 1);
	int cfd = ipcx_chan_fd(c);
	bool done = false;
	int st = 0;

	*got = 0;
	if (cfd < 0 || seen == NULL) {
		tu_report(__FILE__, __LINE__, "ipcx_chan_fd", "%s", ipcx_err_name(cfd));
		st = __LINE__;
		goto out;
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = cfd, .events = POLLIN}, {.fd = ctl, .events = POLLIN}};
		int k = poll(p, done ? 1 : 2, done ? 200 : MSG_WAIT_MS);
		if (k == 0) {
			if (done) {
				break;
			}
			tu_report(__FILE__, __LINE__, "poll", "nothing for %d ms", MSG_WAIT_MS);
			st = __LINE__;
			goto out;
		}
		if (!done && (p[1].revents & (POLLIN | POLLHUP))) {
			char b;
			if (tu_get(ctl, &b, 1, 0) != 0) {
				st = __LINE__;
				goto out;
			}
			done = true;
		}
		if (!(p[0].revents & POLLIN)) {
			continue;
		}
		for (;;) {
			size_t len = 0;
			int64_t id;
			int rv = ipcx_recv(c, buf, UDP_MAX + 1, &len, 0);
			if (rv == IPCX_ETIMEDOUT) {
				break;
			}
			if (rv != 0) {
				tu_report(__FILE__, __LINE__, "ipcx_recv", "%s", ipcx_err_name(rv));
				st = __LINE__;
				goto out;
			}
			if (len == HELLO_LEN && memcmp(buf, HELLO, HELLO_LEN) == 0) {
				continue;
			}
			id = tu_ident(buf, len);
			if (id < 0 || id >= n || len != size_of((uint32_t)id) ||
			    !tu_check(buf, len, (uint32_t)id)) {
				tu_report(__FILE__, __LINE__, "datagram",
				          "corrupt: %zu bytes, id %lld", len, (long long)id);
				st = __LINE__;
				goto out;
			}
			if (seen[id]) {
				tu_report(__FILE__, __LINE__, "datagram", "duplicate %lld",
				          (long long)id);
				st = __LINE__;
				goto out;
			}
			seen[id] = 1;
			(*got)++;
		}
	}
out:
	free(seen);
	free(buf);
	return st;
}

/* Receive messages 0..n-1 of the mixed stream and check each byte for byte. udp: what
 * arrives must be intact and unique, and something must arrive. */
static int
stream_recv(ipcx_chan *c, uint32_t n, int ctl)
{
	unsigned char *buf;

	if (!S->reliable) {
		uint32_t got;
		TRY_OK(udp_collect(c, n, ctl, stream_size, &got));
		TRY(got > 0, "no datagram of %u arrived", n);
		return 0;
	}
	buf = tu_xmalloc(STREAM_BUF);
	for (uint32_t k = 0; k < n; k++) {
		size_t len = 0, want = stream_size(k);
		int rv = ipcx_recv(c, buf, STREAM_BUF, &len, MSG_WAIT_MS);
		if (rv != 0 || len != want || !tu_check(buf, len, k)) {
			tu_report(__FILE__, __LINE__, "stream_recv",
			          "message %u: rv %s, len %zu (want %zu), content %s", k,
			          ipcx_err_name(rv), len, want,
			          rv == 0 && tu_check(buf, len, k) ? "ok" : "wrong");
			free(buf);
			return __LINE__;
		}
	}
	free(buf);
	return 0;
}

/* ---- order and boundaries ------------------------------------------------------------ */

#define ORDER_N 2000

static int
peer_order(ipcx_chan *c, void *arg)
{
	link_t *k = arg;

	link_child(k);
	TRY_OK(stream_recv(c, ORDER_N, k->down[0]));
	TRY_OK(stream_send(c, ORDER_N, k->up[1]));
	return 0;
}

static void
test_order_and_boundaries_kept_both_ways(void **state)
{
	fx f;
	link_t k;
	ipcx_chan *c;
	pid_t pid;

	(void)state;
	link_open(&k);
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_order, &k);
	link_parent(&k);
	c = fx_accept(&f, 0);
	assert_int_equal(stream_send(c, ORDER_N, k.down[1]), 0);
	assert_int_equal(stream_recv(c, ORDER_N, k.up[0]), 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
	link_close(&k);
}

/* ---- sizes --------------------------------------------------------------------------- */

static const size_t all_sizes[] = {0,
                                   1,
                                   2,
                                   7,
                                   8,
                                   9,
                                   255,
                                   256,
                                   PIPE_BUF - 8,
                                   PIPE_BUF - 7,
                                   PIPE_BUF,
                                   4097,
                                   65507,
                                   65535,
                                   65536,
                                   65537,
                                   (size_t)1 << 20,
                                   ((size_t)4 << 20) + 3,
                                   IPCX_DEFAULT_MAX_MSG - 1,
                                   IPCX_DEFAULT_MAX_MSG};
#define NSIZES (sizeof all_sizes / sizeof all_sizes[0])

static int
peer_sizes(ipcx_chan *c, void *arg)
{
	unsigned char *buf = tu_xmalloc(S->max + 2), *in = tu_xmalloc(S->max + 2);
	size_t len;

	(void)arg;
	for (uint32_t i = 0; i < NSIZES; i++) {
		size_t s = all_sizes[i];
		if (s > S->max) {
			continue;
		}
		tu_fill(buf, s, i);
		TRY_RV(ipcx_send(c, buf, s, MSG_WAIT_MS), 0);
		len = 0;
		TRY_RV(ipcx_recv(c, in, S->max + 2, &len, MSG_WAIT_MS), 0);
		TRY(len == s && tu_check(in, len, i), "echo of %zu bytes came back as %zu", s, len);
	}
	/* One byte over the limit: refused locally, nothing sent, channel still good. */
	TRY_RV(ipcx_send(c, buf, S->max + 1, MSG_WAIT_MS), IPCX_EMSGSIZE);
	tu_fill(buf, 100, 777);
	TRY_RV(ipcx_send(c, buf, 100, MSG_WAIT_MS), 0);
	len = 0;
	TRY_RV(ipcx_recv(c, in, S->max + 2, &len, MSG_WAIT_MS), 0);
	TRY(len == 100 && tu_check(in, len, 778), "after the refused send: %zu bytes", len);
	free(buf);
	free(in);
	return 0;
}

static void
test_sizes_from_zero_to_limit_and_one_over_is_emsgsize(void **state)
{
	unsigned char *buf = tu_xmalloc(S->max + 2);
	size_t len;
	fx f;
	ipcx_chan *c;
	pid_t pid;

	(void)state;
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_sizes, NULL);
	c = fx_accept(&f, 0);
	for (uint32_t i = 0; i < NSIZES; i++) {
		size_t s = all_sizes[i];
		if (s > S->max) {
			continue;
		}
		len = 0;
		assert_rv(ipcx_recv(c, buf, S->max + 2, &len, MSG_WAIT_MS), 0);
		assert_int_equal(len, s);
		assert_true(tu_check(buf, len, i));
		assert_rv(ipcx_send(c, buf, len, MSG_WAIT_MS), 0);
	}
	len = 0;
	assert_rv(ipcx_recv(c, buf, S->max + 2, &len, MSG_WAIT_MS), 0);
	assert_int_equal(len, 100); /* the oversize message never arrived */
	assert_true(tu_check(buf, len, 777));
	assert_rv(ipcx_send(c, buf, S->max + 1, MSG_WAIT_MS), IPCX_EMSGSIZE);
	tu_fill(buf, 100, 778);
	assert_rv(ipcx_send(c, buf, 100, MSG_WAIT_MS), 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
	free(buf);
}

/* ---- too small a buffer -------------------------------------------------------------- */

static const size_t small_sizes[] = {1000, 5, 300000};

static int
peer_send_small_sizes(ipcx_chan *c, void *arg)
{
	unsigned char *buf = tu_xmalloc(300000);
	size_t len = 0;

	(void)arg;
	for (uint32_t i = 0; i < 3; i++) {
		size_t s = small_sizes[i] > S->max ? S->max : small_sizes[i];
		tu_fill(buf, s, i);
		TRY_RV(ipcx_send(c, buf, s, MSG_WAIT_MS), 0);
	}
	TRY_RV(ipcx_recv(c, buf, 16, &len, MSG_WAIT_MS), 0); /* bye */
	free(buf);
	return 0;
}

static void
test_recv_too_small_keeps_message(void **state)
{
	unsigned char *buf = tu_xmalloc(300000);
	size_t len, big = small_sizes[2] > S->max ? S->max : small_sizes[2];
	struct pollfd p;
	fx f;
	ipcx_chan *c;
	pid_t pid;

	(void)state;
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_send_small_sizes, NULL);
	c = fx_accept(&f, 0);

	len = 0;
	assert_rv(ipcx_recv(c, buf, 10, &len, MSG_WAIT_MS), IPCX_EMSGSIZE);
	assert_int_equal(len, 1000);
	/* The kept message still makes the channel fd readable. */
	p = (struct pollfd){.fd = ipcx_chan_fd(c), .events = POLLIN};
	assert_true(p.fd >= 0);
	assert_int_equal(poll(&p, 1, MSG_WAIT_MS), 1);
	len = 0;
	assert_rv(ipcx_recv(c, NULL, 0, &len, 0), IPCX_EMSGSIZE);
	assert_int_equal(len, 1000);
	len = 0;
	assert_rv(ipcx_recv(c, buf, 999, &len, 0), IPCX_EMSGSIZE);
	assert_int_equal(len, 1000);
	len = 0;
	assert_rv(ipcx_recv(c, buf, 1000, &len, MSG_WAIT_MS), 0);
	assert_int_equal(len, 1000);
	assert_true(tu_check(buf, 1000, 0));

	len = 0;
	assert_rv(ipcx_recv(c, buf, 4, &len, MSG_WAIT_MS), IPCX_EMSGSIZE);
	assert_int_equal(len, 5);
	assert_rv(ipcx_recv(c, buf, 5, &len, MSG_WAIT_MS), 0);
	assert_int_equal(len, 5);
	assert_true(tu_check(buf, 5, 1));

	len = 0;
	assert_rv(ipcx_recv(c, buf, 1, &len, MSG_WAIT_MS), IPCX_EMSGSIZE);
	assert_int_equal(len, big);
	len = 0;
	assert_rv(ipcx_recv(c, buf, big - 1, &len, MSG_WAIT_MS), IPCX_EMSGSIZE);
	assert_int_equal(len, big);
	assert_rv(ipcx_recv(c, buf, 300000, &len, MSG_WAIT_MS), 0);
	assert_int_equal(len, big);
	assert_true(tu_check(buf, big, 2));

	assert_rv(ipcx_send(c, "bye", 3, MSG_WAIT_MS), 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
	free(buf);
}

/* ---- timeouts ------------------------------------------------------------------------ */

static int
peer_timeouts(ipcx_chan *c, void *arg)
{
	link_t *k = arg;
	char buf[16];
	size_t len = 0;

	link_child(k);
	TRY_RV(ipcx_recv(c, buf, sizeof buf, &len, 0), IPCX_ETIMEDOUT);
	TRY_RV(ipcx_recv(c, buf, sizeof buf, &len, 50), IPCX_ETIMEDOUT);
	TRY(tu_put(k->up[1], "r", 1) == 0, "ctl");
	TRY_RV(ipcx_recv(c, buf, sizeof buf, &len, MSG_WAIT_MS), 0);
	TRY(len == 2 && memcmp(buf, "go", 2) == 0, "got %zu bytes", len);
	TRY_RV(ipcx_send(c, "ok", 2, MSG_WAIT_MS), 0);
	return 0;
}

static void
test_timeouts_on_empty_channel_then_channel_still_works(void **state)
{
	char buf[16];
	size_t len = 0;
	ipcx_chan *c, *none = NULL;
	link_t k;
	fx f;
	pid_t pid;

	(void)state;
	link_open(&k);
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_timeouts, &k);
	link_parent(&k);
	c = fx_accept(&f, 0);
	assert_rv(ipcx_recv(c, buf, sizeof buf, &len, 0), IPCX_ETIMEDOUT);
	assert_rv(ipcx_recv(c, buf, sizeof buf, &len, 50), IPCX_ETIMEDOUT);
	if (f.l != NULL) {
		assert_rv(ipcx_accept(f.l, &none, 0), IPCX_ETIMEDOUT);
		assert_rv(ipcx_accept(f.l, &none, 50), IPCX_ETIMEDOUT);
		assert_null(none);
	}
	assert_int_equal(tu_get(k.up[0], buf, 1, MSG_WAIT_MS), 0);
	assert_rv(ipcx_send(c, "go", 2, MSG_WAIT_MS), 0);
	assert_rv(ipcx_recv(c, buf, sizeof buf, &len, MSG_WAIT_MS), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(buf, "ok", 2);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
	link_close(&k);
}

#define FLOOD_SIZE 4000
#define FLOOD_END  0xfffffff0U

/* The receiver of the flood: waits for the count of messages whose send returned 0, takes
 * exactly those, then the end marker (or, if the sender reported a broken channel, an
 * error instead of any further message). */
static size_t
flood_size(uint32_t k)
{
	return k == FLOOD_END ? 16 : FLOOD_SIZE;
}

static int
peer_flood_recv(ipcx_chan *c, void *arg)
{
	link_t *k = arg;
	unsigned char *buf = tu_xmalloc(FLOOD_SIZE + 1);
	uint32_t count;
	int32_t end_rv;
	size_t len;
	int rv;

	link_child(k);
	TRY(tu_get(k->down[0], &count, sizeof count, MSG_WAIT_MS) == 0, "count");
	if (!S->reliable) {
		uint32_t got;
		/* udp: anything that arrived is intact and unique (the end marker included). */
		TRY_OK(udp_collect(c, UINT32_MAX, k->down[0], flood_size, &got));
		free(buf);
		return 0;
	}
	for (uint32_t i = 0; i < count; i++) {
		len = 0;
		rv = ipcx_recv(c, buf, FLOOD_SIZE + 1, &len, MSG_WAIT_MS);
		TRY(rv == 0 && len == FLOOD_SIZE && tu_check(buf, len, i),
		    "message %u of %u: %s, %zu bytes", i, count, ipcx_err_name(rv), len);
	}
	TRY(tu_get(k->down[0], &end_rv, sizeof end_rv, MSG_WAIT_MS) == 0, "end rv");
	len = 0;
	rv = ipcx_recv(c, buf, FLOOD_SIZE + 1, &len, MSG_WAIT_MS);
	if (end_rv == 0) {
		TRY(rv == 0 && len == 16 && tu_check(buf, len, FLOOD_END),
		    "end marker: %s, %zu bytes", ipcx_err_name(rv), len);
	} else {
		/* The sender broke the channel (part of a frame written): no more messages. */
		TRY(rv != 0 && rv != IPCX_ETIMEDOUT, "after a broken send: %s, %zu bytes",
		    ipcx_err_name(rv), len);
	}
	free(buf);
	return 0;
}

static void
test_send_timeout_zero_on_full_channel_loses_nothing(void **state)
{
	unsigned char *buf;
	uint32_t count = 0, bound = S->reliable ? (256 * MIB) / FLOOD_SIZE : 3000;
	int32_t end_rv;
	int rv = 0;
	link_t k;
	fx f;
	ipcx_chan *c;
	pid_t pid;

	(void)state;
	SKIP_IF(strcmp(S->name, "file") == 0, "a log never fills: a send never waits for a reader");
	buf = tu_xmalloc(FLOOD_SIZE);
	link_open(&k);
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_flood_recv, &k);
	link_parent(&k);
	c = fx_accept(&f, 0);
	/* The peer is not reading: sooner or later a send with timeout 0 must time out. */
	while (count < bound) {
		tu_fill(buf, FLOOD_SIZE, count);
		rv = ipcx_send(c, buf, FLOOD_SIZE, 0);
		if (rv != 0) {
			break;
		}
		count++;
	}
	if (S->reliable) {
		assert_rv(rv, IPCX_ETIMEDOUT);
	} else {
		assert_true(rv == 0 || rv == IPCX_ETIMEDOUT);
	}
	assert_int_equal(tu_put(k.down[1], &count, sizeof count), 0);
	tu_fill(buf, 16, FLOOD_END);
	end_rv = ipcx_send(c, buf, 16, MSG_WAIT_MS);
	if (end_rv != 0) {
		/* Only a stream that had part of a frame out may refuse further sends (and the
		 * peer then sees its stream end after the complete messages). */
		assert_rv(end_rv, IPCX_EPIPE);
	}
	if (S->reliable) {
		assert_int_equal(tu_put(k.down[1], &end_rv, sizeof end_rv), 0);
	} else {
		assert_int_equal(tu_put(k.down[1], "d", 1), 0);
	}
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
	link_close(&k);
	free(buf);
}

/* The sender floods with timeout 0 until the channel is full, closes it and exits before
 * the receiver has read anything: every message whose send returned 0 must still arrive
 * intact, then the end of the channel. */
typedef struct flood_report {
	uint32_t count;
	int32_t broken; /* the send after the flood said EPIPE: a frame was cut short */
} flood_report;

/* Fill the channel without waiting (timeout 0) until it takes no more, then probe once:
 * *r counts the sends that returned 0 and says whether the probe found a frame cut short. */
static int
flood_until_full(ipcx_chan *c, flood_report *r)
{
	unsigned char buf[FLOOD_SIZE];
	int rv = 0;

	*r = (flood_report){0, 0};
	while (r->count < (256 * MIB) / FLOOD_SIZE) {
		tu_fill(buf, FLOOD_SIZE, r->count);
		if ((rv = ipcx_send(c, buf, FLOOD_SIZE, 0)) != 0) {
			break;
		}
		r->count++;
	}
	TRY_RV(rv, IPCX_ETIMEDOUT);
	rv = ipcx_send(c, buf, FLOOD_SIZE, 0);
	TRY(rv == IPCX_ETIMEDOUT || rv == IPCX_EPIPE, "after the flood: %s", ipcx_err_name(rv));
	r->broken = rv == IPCX_EPIPE;
	return 0;
}

static int
peer_flood_then_close(ipcx_chan *c, void *arg)
{
	link_t *k = arg;
	flood_report r;

	link_child(k);
	TRY_OK(flood_until_full(c, &r));
	ipcx_close(c); /* before anybody read a byte */
	TRY(tu_put(k->up[1], &r, sizeof r) == 0, "ctl");
	return PEER_CLOSED_IT;
}

/* The same, but the report goes to the test before the close, so that the test can accept
 * only once the close has waited a while. */
static int
peer_flood_then_close_unaccepted(ipcx_chan *c, void *arg)
{
	link_t *k = arg;
	flood_report r;

	link_child(k);
	TRY_OK(flood_until_full(c, &r));
	TRY(tu_put(k->up[1], &r, sizeof r) == 0, "ctl");
	ipcx_close(c);
	return PEER_CLOSED_IT;
}

/* Receive the r.count messages of a flood intact and in order, then the end of the channel
 * (a cut frame, when the flood's probe reported one, may read as IPCX_EPROTO). */
static void
expect_flood_then_end(ipcx_chan *c, const flood_report *r)
{
	unsigned char *buf = tu_xmalloc(FLOOD_SIZE + 1);
	size_t len;
	int rv;

	assert_true(r->count > 0);
	for (uint32_t i = 0; i < r->count; i++) {
		len = 0;
		rv = ipcx_recv(c, buf, FLOOD_SIZE + 1, &len, MSG_WAIT_MS);
		if (rv != 0 || len != FLOOD_SIZE || !tu_check(buf, len, i)) {
			fail_msg("message %u of %u sent before close: %s, %zu bytes", i, r->count,
			         ipcx_err_name(rv), len);
		}
	}
	rv = ipcx_recv(c, buf, FLOOD_SIZE + 1, &len, MSG_WAIT_MS);
	if (r->broken) {
		assert_true(rv == IPCX_EPROTO || rv == IPCX_ECLOSED);
	} else {
		assert_rv(rv, IPCX_ECLOSED);
	}
	free(buf);
}

static void
test_messages_sent_before_close_arrive_though_nobody_read_yet(void **state)
{
	flood_report r;
	link_t k;
	fx f;
	ipcx_chan *c;
	pid_t pid;

	(void)state;
	SKIP_IF(!S->reliable, "udp may lose datagrams");
	SKIP_IF(strcmp(S->name, "file") == 0, "a log never fills: a send never waits for a reader");
	link_open(&k);
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_flood_then_close, &k);
	link_parent(&k);
	c = fx_accept(&f, 0);
	assert_int_equal(tu_get(k.up[0], &r, sizeof r, MSG_WAIT_MS), 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0); /* gone: only the kernel holds the data */
	expect_flood_then_end(c, &r);
	ipcx_close(c);
	fx_done(&f);
	link_close(&k);
}

/* tcp://: a client that fills the connection and closes while the server has not accepted
 * it yet (a loaded server) loses nothing when the server accepts later than the close's
 * usual 1 s linger: the server's SP header, sent at accept, must not find the client's
 * socket closed (its RST would drop the messages still queued at the client). */
static void
test_messages_sent_and_closed_before_a_late_accept_all_arrive(void **state)
{
	flood_report r;
	link_t k;
	fx f;
	ipcx_chan *c;
	pid_t pid;

	(void)state;
	SKIP_IF(strncmp(S->name, "tcp", 3) != 0, "the SP header at accept is tcp://'s");
	link_open(&k);
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_flood_then_close_unaccepted, &k);
	link_parent(&k);
	assert_int_equal(tu_get(k.up[0], &r, sizeof r, MSG_WAIT_MS), 0);
	/* the situation under test, not a synchronisation: a server slower than the linger */
	usleep(1500 * 1000);
	c = fx_accept(&f, 0);
	expect_flood_then_end(c, &r);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
	link_close(&k);
}

/* ---- peer close, peer death ---------------------------------------------------------- */

#define CLOSE_N 60

static int
peer_send_then_close(ipcx_chan *c, void *arg)
{
	(void)arg;
	return stream_send(c, CLOSE_N, -1); /* fx_spawn closes the channel on return */
}

static void
test_peer_close_gives_closed_after_all_messages(void **state)
{
	char b[4];
	size_t len;
	fx f;
	ipcx_chan *c;
	pid_t pid;

	(void)state;
	SKIP_IF(!S->reliable, "udp has no connection: a closed peer cannot be seen");
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_send_then_close, NULL);
	c = fx_accept(&f, 0);
	assert_int_equal(stream_recv(c, CLOSE_N, -1), 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, MSG_WAIT_MS), IPCX_ECLOSED);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, 0), IPCX_ECLOSED); /* and it stays so */
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
}

static int
peer_recv_then_expect_closed(ipcx_chan *c, void *arg)
{
	char b[4];
	size_t len;

	(void)arg;
	TRY_OK(stream_recv(c, CLOSE_N, -1));
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, MSG_WAIT_MS), IPCX_ECLOSED);
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, 0), IPCX_ECLOSED);
	return 0;
}

static void
test_server_close_gives_closed_to_dialer_after_all_messages(void **state)
{
	fx f;
	ipcx_chan *c;
	pid_t pid;

	(void)state;
	SKIP_IF(!S->reliable, "udp has no connection: a closed peer cannot be seen");
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_recv_then_expect_closed, NULL);
	c = fx_accept(&f, 0);
	assert_int_equal(stream_send(c, CLOSE_N, -1), 0);
	ipcx_close(c);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	fx_done(&f);
}

static int
peer_close_at_once(ipcx_chan *c, void *arg)
{
	(void)c;
	(void)arg;
	return 0;
}

static void
test_send_to_closed_peer_fails_without_sigpipe(void **state)
{
	unsigned char buf[1024];
	int rv = 0;
	fx f;
	ipcx_chan *c;
	pid_t pid;

	(void)state;
	SKIP_IF(!S->reliable, "udp has no connection: a closed peer cannot be seen");
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_close_at_once, NULL);
	c = fx_accept(&f, 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	tu_fill(buf, sizeof buf, 1);
	/* A dead reader must show up as an error (not SIGPIPE, which would kill this test). */
	for (int i = 0; i < 1000 && rv == 0; i++) {
		rv = ipcx_send(c, buf, sizeof buf, MSG_WAIT_MS);
	}
	if (rv != IPCX_ECLOSED && rv != IPCX_EPIPE && rv != IPCX_ECONNRESET) {
		fail_msg("send to a closed peer: %s", ipcx_err_name(rv));
	}
	ipcx_close(c);
	fx_done(&f);
}

/* The large messages of the killed peer: 64 KiB, or the scheme's maximum if smaller. */
static size_t
killed_size(void)
{
	return S->max < 65536 ? S->max : 65536;
}

static int
peer_stream_until_killed(ipcx_chan *c, void *arg)
{
	unsigned char *buf = tu_xmalloc(65536);

	(void)arg;
	for (uint32_t k = 0;; k++) {
		size_t s = k < 5 ? 100 : killed_size();
		tu_fill(buf, s, k);
		TRY_RV(ipcx_send(c, buf, s, -1), 0);
	}
}

static void
test_peer_killed_midstream_gives_error_not_hang(void **state)
{
	unsigned char *buf;
	size_t len;
	int rv = 0;
	uint32_t k;
	fx f;
	ipcx_chan *c;
	pid_t pid;

	(void)state;
	SKIP_IF(!S->reliable, "udp has no connection: a dead peer cannot be seen");
	buf = tu_xmalloc(65536 + 1);
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_stream_until_killed, NULL);
	c = fx_accept(&f, 0);
	for (k = 0; k < 5; k++) {
		assert_rv(ipcx_recv(c, buf, 65537, &len, MSG_WAIT_MS), 0);
		assert_int_equal(len, 100);
		assert_true(tu_check(buf, len, k));
	}
	tu_kill(pid); /* the peer is blocked in the middle of sending */
	/* What was fully sent may still arrive intact; then an error, each wait bounded by
	 * the 1 s (the end of stream is already there once the peer is reaped). */
	for (int i = 0; i < 100000; i++, k++) {
		len = 0;
		rv = ipcx_recv(c, buf, 65537, &len, 1000);
		if (rv != 0) {
			break;
		}
		assert_int_equal(len, killed_size());
		assert_true(tu_check(buf, len, k));
	}
	if (rv == 0 || rv == IPCX_ETIMEDOUT) {
		fail_msg("recv after the peer was killed: %s", ipcx_err_name(rv));
	}
	ipcx_close(c);
	fx_done(&f);
	free(buf);
}

/* ---- many clients -------------------------------------------------------------------- */

#define MANY_N   10000
#define MANY_LEN 16

typedef struct many_arg {
	uint32_t id;
	int done_fd;
} many_arg;

static void
many_put(unsigned char *b, uint32_t id, uint32_t seq)
{
	uint32_t w[4] = {id, seq, ~seq, id ^ 0x5a5a5a5aU};
	memcpy(b, w, sizeof w);
}

static int
peer_many(ipcx_chan *c, void *arg)
{
	many_arg *a = arg;
	unsigned char b[MANY_LEN];

	for (uint32_t seq = 0; seq < MANY_N; seq++) {
		many_put(b, a->id, seq);
		TRY_RV(ipcx_send(c, b, sizeof b, MSG_WAIT_MS), 0);
	}
	tu_close(a->done_fd);
	return 0;
}

typedef struct many_chan {
	ipcx_chan *c;
	int fd;
	int64_t id; /* -1 until the first message */
	uint32_t next, count;
	bool closed;
} many_chan;

static int
many_take(many_chan *m, unsigned char (*seen)[MANY_N / 8], int *owner, int slot)
{
	unsigned char b[MANY_LEN + 1];
	uint32_t w[4];

	for (int i = 0; i < 4096; i++) {
		size_t len = 0;
		int rv = ipcx_recv(m->c, b, sizeof b, &len, 0);
		if (rv == IPCX_ETIMEDOUT) {
			return 0;
		}
		if (rv == IPCX_ECLOSED && S->reliable) {
			TRY(m->count == MANY_N, "client %lld closed after %u messages",
			    (long long)m->id, m->count);
			m->closed = true;
			return 0;
		}
		TRY_RV(rv, 0);
		if (!S->reliable && len == HELLO_LEN && memcmp(b, HELLO, HELLO_LEN) == 0) {
			continue;
		}
		TRY(len == MANY_LEN, "message of %zu bytes", len);
		memcpy(w, b, sizeof w);
		TRY(w[0] < MAX_CLIENTS && w[2] == ~w[1] && w[3] == (w[0] ^ 0x5a5a5a5aU) &&
		            w[1] < MANY_N,
		    "corrupt message");
		if (m->id < 0) {
			TRY(owner[w[0]] < 0, "client %u arrived on two channels", w[0]);
			owner[w[0]] = slot;
			m->id = w[0];
		}
		TRY(m->id == w[0], "client %u's message on client %lld's channel", w[0],
		    (long long)m->id);
		if (S->reliable) {
			TRY(w[1] == m->next, "client %u: seq %u, want %u", w[0], w[1], m->next);
			m->next++;
		} else {
			TRY(!(seen[w[0]][w[1] / 8] & (1u << (w[1] % 8))), "client %u: dup %u", w[0],
			    w[1]);
			seen[w[0]][w[1] / 8] |= (unsigned char)(1u << (w[1] % 8));
		}
		m->count++;
	}
	return 0;
}

static int
many_serve(fx *f, int done_rd, uint64_t *total)
{
	static unsigned char seen[MAX_CLIENTS][MANY_N / 8];
	many_chan m[MAX_CLIENTS];
	int owner[MAX_CLIENTS];
	int nacc = 0, nclosed = 0, lfd = -1;
	bool kids_done = false;

	memset(seen, 0, sizeof seen);
	memset(m, 0, sizeof m);
	for (int i = 0; i < MAX_CLIENTS; i++) {
		owner[i] = -1;
		m[i].id = -1;
	}
	if (is_pipe()) {
		for (; nacc < MAX_CLIENTS; nacc++) {
			m[nacc].c = f->pa[nacc];
			f->pa[nacc] = NULL;
			m[nacc].fd = ipcx_chan_fd(m[nacc].c);
			TRY(m[nacc].fd >= 0, "chan fd");
		}
	} else {
		lfd = ipcx_listener_fd(f->l);
		TRY(lfd >= 0, "listener fd: %s", ipcx_err_name(lfd));
	}
	for (;;) {
		struct pollfd p[MAX_CLIENTS + 2];
		int map[MAX_CLIENTS + 2], np = 0, n;

		if (S->reliable ? nclosed == MAX_CLIENTS : kids_done) {
			break;
		}
		if (nacc < MAX_CLIENTS && lfd >= 0) {
			map[np] = -1;
			p[np++] = (struct pollfd){.fd = lfd, .events = POLLIN};
		}
		if (!S->reliable && !kids_done) {
			map[np] = -2;
			p[np++] = (struct pollfd){.fd = done_rd, .events = POLLIN};
		}
		for (int i = 0; i < nacc; i++) {
			if (!m[i].closed) {
				map[np] = i;
				p[np++] = (struct pollfd){.fd = m[i].fd, .events = POLLIN};
			}
		}
		n = poll(p, (nfds_t)np, MSG_WAIT_MS);
		TRY(n > 0, "nothing happened for %d ms (%d accepted, %d closed)", MSG_WAIT_MS, nacc,
		    nclosed);
		for (int j = 0; j < np; j++) {
			if (p[j].revents == 0) {
				continue;
			}
			if (map[j] == -1) {
				ipcx_chan *c = NULL;
				int rv = ipcx_accept(f->l, &c, 0);
				if (rv == IPCX_ETIMEDOUT) {
					continue;
				}
				TRY_RV(rv, 0);
				m[nacc].c = c;
				m[nacc].fd = ipcx_chan_fd(c);
				TRY(m[nacc].fd >= 0, "chan fd");
				nacc++;
			} else if (map[j] == -2) {
				char b;
				/* EOF: every client has exited. Take what is queued, then stop. */
				if (read(done_rd, &b, 1) == 0) {
					kids_done = true;
				}
			} else {
				many_chan *mc = &m[map[j]];
				TRY_OK(many_take(mc, seen, owner, map[j]));
				if (mc->closed) {
					nclosed++;
				}
			}
		}
	}
	/* udp: the clients are gone; drain what is still queued. */
	for (int round = 0; !S->reliable && round < 2; round++) {
		struct pollfd p[MAX_CLIENTS];
		for (int i = 0; i < nacc; i++) {
			p[i] = (struct pollfd){.fd = m[i].fd, .events = POLLIN};
		}
		while (poll(p, (nfds_t)nacc, 200) > 0) {
			for (int i = 0; i < nacc; i++) {
				if (p[i].revents) {
					TRY_OK(many_take(&m[i], seen, owner, i));
				}
			}
		}
	}
	*total = 0;
	for (int i = 0; i < nacc; i++) {
		*total += m[i].count;
		ipcx_close(m[i].c);
	}
	if (S->reliable) {
		TRY(nacc == MAX_CLIENTS, "%d clients accepted", nacc);
		TRY(*total == (uint64_t)MAX_CLIENTS * MANY_N, "%llu messages",
		    (unsigned long long)*total);
	}
	return 0;
}

static void
test_32_clients_10000_messages_each_none_lost_duplicated_or_reordered(void **state)
{
	pid_t pids[MAX_CLIENTS];
	int done[2];
	uint64_t total = 0;
	ipcx_opts co;
	fx f;

	(void)state;
	SKIP_IF(S->query != NULL && strcmp(S->query, "?wait=spin") == 0,
	        "33 processes spinning on a few CPUs starve each other (spin is for a pair)");
	tu_pipe(done);
	fx_listen(&f, NULL);
	/* udp clients just send, as udp clients do: the listener meets each one by its first
	 * datagram while the others keep sending. */
	f.no_hello = true;
	/* The clients say that their messages are small: mq then makes small queues (every
	 * queue's depth x message size counts against the user's RLIMIT_MSGQUEUE). */
	ipcx_opts_init(&co);
	co.max_msg = 64;
	f.copts = &co;
	for (uint32_t i = 0; i < MAX_CLIENTS; i++) {
		many_arg a = {.id = i, .done_fd = done[1]};
		pids[i] = fx_spawn(&f, (int)i, peer_many, &a);
	}
	tu_close(done[1]);
	assert_int_equal(many_serve(&f, done[0], &total), 0);
	for (int i = 0; i < MAX_CLIENTS; i++) {
		assert_int_equal(tu_wait(pids[i], TU_WAIT_MS), 0);
	}
	if (!S->reliable) {
		print_message("[ INFO     ] udp: %llu of %u datagrams arrived\n",
		              (unsigned long long)total, MAX_CLIENTS * MANY_N);
		assert_true(total > 0);
	}
	fx_done(&f);
	tu_close(done[0]);
}

/* ---- the pollable fd ----------------------------------------------------------------- */

/* As many as the sender can queue before the receiver reads: 100, or the queue's depth. */
#define POLL_N (S_depth != 0 && S_depth < 100 ? S_depth : 100u)

static int
peer_send_burst(ipcx_chan *c, void *arg)
{
	link_t *k = arg;
	unsigned char b[20];
	char x;

	link_child(k);
	for (uint32_t i = 0; i < POLL_N; i++) {
		tu_fill(b, sizeof b, i);
		TRY_RV(ipcx_send(c, b, sizeof b, MSG_WAIT_MS), 0);
	}
	TRY(tu_put(k->up[1], "s", 1) == 0, "ctl");
	TRY(tu_get(k->down[0], &x, 1, MSG_WAIT_MS) == 0, "bye");
	return 0;
}

static void
test_chan_fd_readable_while_buffered_messages_remain(void **state)
{
	unsigned char b[64];
	uint32_t got = 0, spurious = 0;
	size_t len;
	link_t k;
	fx f;
	ipcx_chan *c;
	pid_t pid;
	int fd;

	(void)state;
	link_open(&k);
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_send_burst, &k);
	link_parent(&k);
	c = fx_accept(&f, 0);
	fd = ipcx_chan_fd(c);
	assert_true(fd >= 0);
	assert_int_equal(ipcx_chan_fd(c), fd); /* stable */
	assert_int_equal(tu_get(k.up[0], b, 1, MSG_WAIT_MS), 0);
	/* All 100 are sent (a stream may hand them over in one read): every one must be
	 * announced by the fd and taken by a recv that does not wait. */
	while (got < POLL_N) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int rv;
		if (poll(&p, 1, MSG_WAIT_MS) != 1) {
			fail_msg("fd not readable with %u of %u messages still to come",
			         POLL_N - got, POLL_N);
		}
		len = 0;
		rv = ipcx_recv(c, b, sizeof b, &len, 0);
		if (rv == IPCX_ETIMEDOUT) {
			assert_true(++spurious < 1000);
			continue;
		}
		assert_rv(rv, 0);
		assert_int_equal(len, 20);
		if (S->reliable) {
			assert_true(tu_check(b, len, got));
		} else {
			assert_true(tu_ident(b, len) >= 0 &&
			            tu_check(b, len, (uint32_t)tu_ident(b, len)));
		}
		got++;
	}
	len = 0;
	assert_rv(ipcx_recv(c, b, sizeof b, &len, 0), IPCX_ETIMEDOUT);
	assert_int_equal(tu_put(k.down[1], "b", 1), 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
	link_close(&k);
}

/* ---- zero-length messages ------------------------------------------------------------ */

static const size_t zero_lens[] = {0, 1, 0, 0, 3, 0};
#define NZEROLENS (sizeof zero_lens / sizeof zero_lens[0])

static int
peer_zero(ipcx_chan *c, void *arg)
{
	unsigned char b[8];
	size_t len = 99;

	(void)arg;
	for (uint32_t i = 0; i < NZEROLENS; i++) {
		tu_fill(b, zero_lens[i], i);
		TRY_RV(ipcx_send(c, zero_lens[i] ? b : NULL, zero_lens[i], MSG_WAIT_MS), 0);
	}
	TRY_RV(ipcx_recv(c, NULL, 0, &len, MSG_WAIT_MS), 0);
	TRY(len == 0, "echo is %zu bytes", len);
	return 0;
}

static void
test_zero_length_messages_are_delivered_as_messages(void **state)
{
	unsigned char b[16];
	size_t len;
	fx f;
	ipcx_chan *c;
	pid_t pid;
	int fd;

	(void)state;
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_zero, NULL);
	c = fx_accept(&f, 0);
	fd = ipcx_chan_fd(c);
	assert_true(fd >= 0);
	for (uint32_t i = 0; i < NZEROLENS; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		assert_int_equal(poll(&p, 1, MSG_WAIT_MS), 1);
		len = 99;
		if (zero_lens[i] == 0) {
			assert_rv(ipcx_recv(c, NULL, 0, &len, MSG_WAIT_MS), 0);
			assert_int_equal(len, 0);
		} else {
			assert_rv(ipcx_recv(c, NULL, 0, &len, MSG_WAIT_MS), IPCX_EMSGSIZE);
			assert_int_equal(len, zero_lens[i]);
			assert_rv(ipcx_recv(c, b, sizeof b, &len, MSG_WAIT_MS), 0);
			assert_int_equal(len, zero_lens[i]);
			assert_true(tu_check(b, len, i));
		}
	}
	assert_rv(ipcx_send(c, NULL, 0, MSG_WAIT_MS), 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
}

/* ---- one sending and one receiving thread -------------------------------------------- */

#define THR_LEN 32
#define THR_END 0xfffffffeU

static uint32_t
thr_n(void)
{
	return S->reliable ? 20000 : 2000;
}

static int
peer_echo(ipcx_chan *c, void *arg)
{
	unsigned char b[THR_LEN + 1];

	(void)arg;
	for (;;) {
		size_t len = 0;
		int rv = ipcx_recv(c, b, sizeof b, &len, S->reliable ? MSG_WAIT_MS : 3000);
		if (rv == IPCX_ETIMEDOUT && !S->reliable) {
			return 0; /* the end marker was lost */
		}
		TRY_RV(rv, 0);
		if (len == HELLO_LEN) {
			continue;
		}
		TRY_RV(ipcx_send(c, b, len, MSG_WAIT_MS), 0);
		if (tu_ident(b, len) == THR_END) {
			return 0;
		}
	}
}

typedef struct thr {
	ipcx_chan *c;
	atomic_bool sent_all;
	int st_send, st_recv;
	uint32_t got;
} thr;

static int
thr_send_body(thr *t)
{
	unsigned char b[THR_LEN];

	for (uint32_t k = 0; k < thr_n(); k++) {
		tu_fill(b, sizeof b, k);
		TRY_RV(ipcx_send(t->c, b, sizeof b, MSG_WAIT_MS), 0);
	}
	tu_fill(b, sizeof b, THR_END);
	TRY_RV(ipcx_send(t->c, b, sizeof b, MSG_WAIT_MS), 0);
	atomic_store(&t->sent_all, true);
	return 0;
}

static void *
thr_send(void *arg)
{
	thr *t = arg;

	t->st_send = thr_send_body(t);
	atomic_store(&t->sent_all, true);
	return NULL;
}

static int
thr_recv_body(thr *t)
{
	unsigned char b[THR_LEN + 1];
	unsigned char *seen = calloc(thr_n(), 1);

	TRY(seen != NULL, "calloc");
	for (;;) {
		size_t len = 0;
		int64_t id;
		int rv = ipcx_recv(t->c, b, sizeof b, &len, S->reliable ? MSG_WAIT_MS : 3000);
		if (rv == IPCX_ETIMEDOUT && !S->reliable && atomic_load(&t->sent_all)) {
			break; /* udp: the rest was lost */
		}
		if (rv == IPCX_ETIMEDOUT && !S->reliable) {
			continue;
		}
		if (rv != 0) {
			free(seen);
		}
		TRY_RV(rv, 0);
		id = tu_ident(b, len);
		TRY(len == THR_LEN && id >= 0 && tu_check(b, len, (uint32_t)id), "corrupt echo");
		if (id == THR_END) {
			break;
		}
		TRY(id < thr_n(), "id %lld", (long long)id);
		if (S->reliable) {
			TRY(id == t->got, "echo %lld, want %u", (long long)id, t->got);
		} else {
			TRY(!seen[id], "duplicate echo %lld", (long long)id);
			seen[id] = 1;
		}
		t->got++;
	}
	free(seen);
	if (S->reliable) {
		TRY(t->got == thr_n(), "%u echoes", t->got);
	}
	return 0;
}

static void *
thr_recv(void *arg)
{
	thr *t = arg;

	t->st_recv = thr_recv_body(t);
	return NULL;
}

static void
test_one_sender_and_one_receiver_thread_at_once(void **state)
{
	pthread_t ts, tr;
	thr t = {0};
	fx f;
	pid_t pid;

	(void)state;
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_echo, NULL);
	t.c = fx_accept(&f, 0);
	atomic_init(&t.sent_all, false);
	assert_int_equal(pthread_create(&tr, NULL, thr_recv, &t), 0);
	assert_int_equal(pthread_create(&ts, NULL, thr_send, &t), 0);
	assert_int_equal(pthread_join(ts, NULL), 0);
	assert_int_equal(pthread_join(tr, NULL), 0);
	assert_int_equal(t.st_send, 0);
	assert_int_equal(t.st_recv, 0);
	if (!S->reliable) {
		print_message("[ INFO     ] udp: %u of %u echoes arrived\n", t.got, thr_n());
		assert_true(t.got > 0);
	}
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(t.c);
	fx_done(&f);
}

/* ---- the max_msg option -------------------------------------------------------------- */

#define SMALL_MAX 4096

static int
peer_small_max(ipcx_chan *c, void *arg)
{
	unsigned char b[SMALL_MAX + 1];
	size_t len = 0;

	(void)arg;
	tu_fill(b, sizeof b, 1);
	TRY_RV(ipcx_send(c, b, SMALL_MAX + 1, MSG_WAIT_MS), IPCX_EMSGSIZE);
	tu_fill(b, SMALL_MAX, 2);
	TRY_RV(ipcx_send(c, b, SMALL_MAX, MSG_WAIT_MS), 0);
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, MSG_WAIT_MS), 0);
	TRY(len == SMALL_MAX && tu_check(b, len, 3), "got %zu bytes", len);
	return 0;
}

static void
test_max_msg_option_refuses_larger_sends_locally(void **state)
{
	unsigned char b[SMALL_MAX + 1];
	ipcx_opts o;
	size_t len = 0;
	fx f;
	ipcx_chan *c;
	pid_t pid;

	(void)state;
	/* The server sets max_msg in the options struct, the dialer in the URL query. */
	ipcx_opts_init(&o);
	o.max_msg = SMALL_MAX;
	fx_listen(&f, &o);
	if (!is_pipe()) {
		strncat(f.url, strchr(f.url, '?') ? "&maxmsg=4096" : "?maxmsg=4096",
		        sizeof f.url - strlen(f.url) - 1);
	}
	pid = fx_spawn(&f, 0, peer_small_max, NULL);
	c = fx_accept(&f, 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, MSG_WAIT_MS), 0);
	assert_int_equal(len, SMALL_MAX); /* the refused one never arrived */
	assert_true(tu_check(b, len, 2));
	assert_rv(ipcx_send(c, b, SMALL_MAX + 1, MSG_WAIT_MS), IPCX_EMSGSIZE);
	tu_fill(b, SMALL_MAX, 3);
	assert_rv(ipcx_send(c, b, SMALL_MAX, MSG_WAIT_MS), 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
}

/* ---- listeners ----------------------------------------------------------------------- */

static int
peer_hi_bye(ipcx_chan *c, void *arg)
{
	char b[16];
	size_t len = 0;

	(void)arg;
	TRY_RV(ipcx_send(c, "hi", 2, MSG_WAIT_MS), 0);
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, MSG_WAIT_MS), 0);
	TRY(len == 3 && memcmp(b, "bye", 3) == 0, "got %zu bytes", len);
	return 0;
}

/* Parent side of peer_hi_bye: "hi" (after the udp HELLO), then "bye". */
static void
expect_hi_send_bye(ipcx_chan *c)
{
	char b[16];
	size_t len = 0;

	assert_rv(ipcx_recv(c, b, sizeof b, &len, MSG_WAIT_MS), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(b, "hi", 2);
	assert_rv(ipcx_send(c, "bye", 3, MSG_WAIT_MS), 0);
}

static void
test_listener_fd_readable_when_a_client_waits(void **state)
{
	struct pollfd p;
	ipcx_chan *c = NULL;
	fx f;
	pid_t pid;

	(void)state;
	SKIP_IF(is_pipe(), "pipe has no listener");
	fx_listen(&f, NULL);
	p = (struct pollfd){.fd = ipcx_listener_fd(f.l), .events = POLLIN};
	assert_true(p.fd >= 0);
	pid = fx_spawn(&f, 0, peer_hi_bye, NULL);
	assert_int_equal(poll(&p, 1, MSG_WAIT_MS), 1);
	assert_rv(ipcx_accept(f.l, &c, 0), 0);
	if (is_udp()) {
		udp_welcome(c);
	}
	expect_hi_send_bye(c);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
}

static void
test_accepted_channel_outlives_listener_close(void **state)
{
	ipcx_chan *c;
	fx f;
	pid_t pid;

	(void)state;
	SKIP_IF(is_pipe(), "pipe has no listener");
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_hi_bye, NULL);
	c = fx_accept(&f, 0);
	ipcx_listener_close(f.l);
	f.l = NULL;
	expect_hi_send_bye(c);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
}

static void
test_dial_to_closed_listener_fails(void **state)
{
	ipcx_chan *c = NULL;
	int rv;
	fx f;

	(void)state;
	SKIP_IF(is_pipe(), "pipe has no listener");
	SKIP_IF(strncmp(S->name, "tcp", 3) == 0 || is_udp(),
	        "a freed port may be reused by a parallel test at once");
	SKIP_IF(strcmp(S->name, "file") == 0,
	        "a dial where nobody listens makes a plain log: a log needs no listener");
	fx_listen(&f, NULL);
	ipcx_listener_close(f.l);
	f.l = NULL;
	rv = ipcx_dial(&c, f.url, NULL, 1000);
	if (rv == 0 || rv == IPCX_ETIMEDOUT) {
		fail_msg("dial to a closed listener: %s", ipcx_err_name(rv));
	}
	assert_null(c);
	fx_done(&f);
}

static void
test_fifo_dial_times_out_when_not_accepted_then_listener_serves_next(void **state)
{
	ipcx_chan *c = NULL;
	fx f;
	pid_t pid;

	(void)state;
	SKIP_IF(strcmp(S->name, "fifo") != 0 && strcmp(S->name, "mq") != 0 &&
	                strcmp(S->name, "sysvmq") != 0 && strcmp(S->name, "file") != 0,
	        "only fifo, mq, sysvmq and file dials wait for accept");
	fx_listen(&f, NULL);
	/* Nobody accepts: the dial gives up, and removes the FIFOs (queues) it made. */
	assert_rv(ipcx_dial(&c, f.url, NULL, 50), IPCX_ETIMEDOUT);
	assert_null(c);
	/* Its hello is still queued on the listener; the next real client must be served. */
	pid = fx_spawn(&f, 0, peer_hi_bye, NULL);
	c = fx_accept(&f, 0);
	expect_hi_send_bye(c);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
}

static void
test_chan_scheme_names_the_scheme(void **state)
{
	ipcx_chan *c;
	fx f;
	pid_t pid;
	const char *want = is_pipe()                          ? "pipe"
	                   : strncmp(S->name, "unix", 4) == 0 ? "unix"
	                   : strncmp(S->name, "tcp", 3) == 0  ? "tcp"
	                                                      : S->name;

	(void)state;
	fx_listen(&f, NULL);
	pid = fx_spawn(&f, 0, peer_hi_bye, NULL);
	c = fx_accept(&f, 0);
	assert_string_equal(ipcx_chan_scheme(c), want);
	expect_hi_send_bye(c);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_close(c);
	fx_done(&f);
}

/* ---- main ---------------------------------------------------------------------------- */

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int
main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
	        T(test_order_and_boundaries_kept_both_ways),
	        T(test_sizes_from_zero_to_limit_and_one_over_is_emsgsize),
	        T(test_recv_too_small_keeps_message),
	        T(test_timeouts_on_empty_channel_then_channel_still_works),
	        T(test_send_timeout_zero_on_full_channel_loses_nothing),
	        T(test_messages_sent_before_close_arrive_though_nobody_read_yet),
	        T(test_messages_sent_and_closed_before_a_late_accept_all_arrive),
	        T(test_peer_close_gives_closed_after_all_messages),
	        T(test_server_close_gives_closed_to_dialer_after_all_messages),
	        T(test_send_to_closed_peer_fails_without_sigpipe),
	        T(test_peer_killed_midstream_gives_error_not_hang),
	        T(test_32_clients_10000_messages_each_none_lost_duplicated_or_reordered),
	        T(test_chan_fd_readable_while_buffered_messages_remain),
	        T(test_zero_length_messages_are_delivered_as_messages),
	        T(test_one_sender_and_one_receiver_thread_at_once),
	        T(test_max_msg_option_refuses_larger_sends_locally),
	        T(test_listener_fd_readable_when_a_client_waits),
	        T(test_accepted_channel_outlives_listener_close),
	        T(test_dial_to_closed_listener_fails),
	        T(test_fifo_dial_times_out_when_not_accepted_then_listener_serves_next),
	        T(test_chan_scheme_names_the_scheme),
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
	if (strcmp(S->name, "mq") == 0) {
		/* the defaults of this machine (fs.mqueue, else 8192 and 10), and room for queues:
		 * the bytes of all queues of a user count against each of its processes'
		 * RLIMIT_MSGQUEUE, so tests running in parallel would fail each other's dials */
		static scheme mq;
		struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
		FILE *fp;
		long v;
		mq = *S;
		S_depth = 10;
		if ((fp = fopen("/proc/sys/fs/mqueue/msgsize_max", "r")) != NULL) {
			if (fscanf(fp, "%ld", &v) == 1 && v > 0) {
				mq.max = (size_t)v;
			}
			fclose(fp);
		}
		if ((fp = fopen("/proc/sys/fs/mqueue/msg_default", "r")) != NULL) {
			if (fscanf(fp, "%ld", &v) == 1 && v > 0) {
				S_depth = (unsigned)v;
			}
			fclose(fp);
		}
		S = &mq;
		if (setrlimit(RLIMIT_MSGQUEUE, &rl) == -1 && getrlimit(RLIMIT_MSGQUEUE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_MSGQUEUE, &rl);
		}
	}
	if (strcmp(S->name, "sysvmq") == 0) {
		/* this machine's limit: min(kernel.msgmax, kernel.msgmnb) minus the header */
		static scheme sv;
		sv = *S;
		sv.max = tu_sysvmq_max();
		S = &sv;
	}
	if (strcmp(S->name, "tcp6") == 0 && !tu_have_ipv6()) {
		printf("SKIP: no IPv6 loopback here\n");
		return 77;
	}
	snprintf(group, sizeof group, "conformance_%s", S->name);
	return tu_run(group, tests, sizeof tests / sizeof tests[0], argc > 2 ? argv[2] : NULL);
}
