/*
 * cat.c - `ipcx cat`: listen for one client or dial a URL, then send (--send TEXT, or each
 * line of stdin from a second thread) and print what arrives, both directions at once.
 */
#include "cmd.h"
#include "util.h"

#include "ipcx.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CAT_CMD         "cat"
#define CAT_BUF_INITIAL ((size_t)64 * 1024)
#define CAT_DRAIN_MAX   64   /* messages per wake-up before stdin gets a turn */
#define CAT_SLICE_MS    250  /* longest wait inside the library, so signals are seen */
#define CAT_SPIN_MS     10   /* recv wait used when the channel fd keeps waking us idly */
#define CAT_GRACE_MS    1000 /* a stopping sender may go this long without progress */
#define CAT_FINISH_MAX  1024 /* stdin chunks still sent after --count is reached */
#define CAT_REPORTED    (-1) /* an error already reported on stderr (not an IPCX_E* code) */
#define CAT_DONE        1    /* --count reached or the peer closed: a normal end */

enum cat_fmt { CAT_FMT_LINE, CAT_FMT_RAW, CAT_FMT_HEX, CAT_FMT_QUOTED };

typedef struct cat {
	/* options */
	const char *url;
	bool listen;
	const char *send;
	long long count; /* -1: no limit */
	enum cat_fmt fmt;
	int timeout; /* ms, -1 forever */
	bool print_url;
	bool no_stdin;
	ipcx_opts opts;
	/* channel */
	ipcx_listener *l;
	ipcx_chan *c;
	/* receive side */
	unsigned char *rbuf; /* one message (framed) or one chunk of the stream (raw) */
	size_t rcap;
	unsigned char *lbuf; /* raw mode: the partial line carried across chunks */
	size_t llen, lcap;
	long long got; /* messages (raw mode: lines) printed */
	bool peer_closed;
	int idle_wakes;
	bool recv_on;
	/* stdin side: a thread of its own, so that a send waiting for a peer that is itself
	 * waiting for us to read never stops us reading (two cats would deadlock otherwise) */
	unsigned char *ibuf; /* bytes read from stdin that are not sent yet (thread's) */
	size_t ilen, icap;
	bool in_open;  /* thread's: stdin not at its end */
	int in_status; /* thread's result; read after the join */
	pthread_t in_tid;
	bool in_started;               /* the thread exists and is not joined or detached */
	bool chan_stuck;               /* the thread did not stop: the channel must not be closed */
	int in_wake[2];                /* main -> thread: stop */
	int in_done[2];                /* thread -> main: finished (its last act) */
	_Atomic int_least64_t last_ns; /* last progress either way; waits time out from it */
} cat;

static volatile sig_atomic_t cat_signal;
static atomic_flag cat_failed = ATOMIC_FLAG_INIT;

/* Both threads may hit an error as a channel dies (send: broken pipe, recv: connection
 * reset); the user gets the first one only: one line. */
static void
cat_error(const cat *k, const char *what, int err)
{
	if (!atomic_flag_test_and_set(&cat_failed)) {
		cli_error(k->url, what, err);
	}
}

static void __attribute__((format(printf, 1, 2))) cat_errorf(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!atomic_flag_test_and_set(&cat_failed)) {
		cli_errorf("%s", msg);
	}
}

static void
cat_on_signal(int sig)
{
	/* Only here (all three signals are masked while it runs): no race on it. */
	static int64_t first_ns;
	struct timespec ts;
	int64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	if (cat_signal == 0) {
		cat_signal = sig;
		first_ns = now;
	} else if (now - first_ns > (int64_t)CAT_GRACE_MS * 1000000) {
		/* Asked again, a while later: stuck in a send to a peer that does not read.
		 * (Not at once: timeout(1) and process groups deliver one request twice.) */
		signal(sig, SIG_DFL);
		raise(sig);
	}
}

static void
cat_catch_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = cat_on_signal; /* no SA_RESTART: poll() must return EINTR */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		sigaddset(&sa.sa_mask, sigs[i]);
	}
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		sigaction(sigs[i], &sa, NULL);
	}
}

static void
cat_help(void)
{
	printf("Usage: %s cat (--listen|--dial) URL [OPTIONS]\n"
	       "\n"
	       "Connect to URL (--dial) or wait for one client on it (--listen), then send and\n"
	       "receive messages. Received messages go to stdout, one per line by default.\n"
	       "\n"
	       "What is sent:\n"
	       "  with --send TEXT  TEXT as one message, once; then, only if --count N is given,\n"
	       "                    N messages are received. stdin is not read.\n"
	       "  otherwise         each line of stdin (without its newline) as one message,\n"
	       "                    while received messages are printed at the same time. At\n"
	       "                    end of stdin sending stops and receiving goes on until\n"
	       "                    --count is reached, the peer closes or --timeout expires.\n"
	       "\n"
	       "Options:\n"
	       "  -l, --listen URL       listen on URL, serve the first client, then close\n"
	       "  -d, --dial URL         connect to URL\n"
	       "  -s, --send TEXT        send TEXT as one message instead of reading stdin\n"
	       "  -c, --count N          stop after N received messages (0: receive nothing)\n"
	       "  -f, --format FMT       how received messages are printed:\n"
	       "                           line    the bytes, then a newline (default)\n"
	       "                           raw     the bytes as they are\n"
	       "                           hex     lowercase hex digits, one message per line\n"
	       "                           quoted  a C string in double quotes, one per line\n"
	       "                                   (\\n \\r \\t \\\" \\\\, other bytes \\xHH)\n"
	       "  -t, --timeout MS       bound every wait (dial, accept, send, each receive) to\n"
	       "                         MS milliseconds; -1 (default) waits forever. A wait\n"
	       "                         that expires is an error (exit 1)\n"
	       "  -r, --raw              plain byte stream without framing (fifo, unix, tcp), to\n"
	       "                         talk with cat, yes, socat...: stdin is sent as it is\n"
	       "                         read, --send TEXT sends TEXT and a newline, and what\n"
	       "                         arrives is cut into lines: a message is a line and\n"
	       "                         --count counts lines\n"
	       "  -m, --max-msg BYTES    largest message sent or accepted (suffix k, M, G);\n"
	       "                         default 16M\n"
	       "  -n, --no-stdin         do not read stdin (only receive)\n"
	       "  -p, --print-url        with --listen: print the bound URL (with the actual\n"
	       "                         port for tcp://host:0) as the first line on stderr\n"
	       "  -h, --help             show this help and exit\n"
	       "\n"
	       "URLs: fifo:///path  unix:///path  unix:@name  tcp://host:port  udp://host:port\n"
	       "(pipe: has no name to dial; it is for a parent and the child it forks).\n"
	       "\n"
	       "Exit status: 0 when --count is reached, input is done or the peer closed;\n"
	       "1 on a runtime error (one line on stderr naming the URL); 2 on a usage error.\n"
	       "\n"
	       "Examples:\n"
	       "  %s cat --listen unix:///tmp/s.sock --count 1\n"
	       "  %s cat --dial unix:///tmp/s.sock --send hello\n"
	       "  mkfifo f; yes hello > f &  %s cat --raw --dial fifo://$PWD/f --count 5\n",
	       CLI_PROG, CLI_PROG, CLI_PROG, CLI_PROG);
}

/* ---- time ----------------------------------------------------------------------------- */

static int64_t
cat_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Start a new bounded wait: any progress (a message, a line of input) starts the next. */
static void
cat_rearm(cat *k)
{
	atomic_store(&k->last_ns, cat_now_ns());
}

/* Milliseconds left of the current wait: -1 forever, 0 expired. */
static int
cat_left_ms(cat *k)
{
	int64_t left;

	if (k->timeout < 0) {
		return -1;
	}
	left = atomic_load(&k->last_ns) + (int64_t)k->timeout * 1000000 - cat_now_ns();
	if (left <= 0) {
		return 0;
	}
	left = (left + 999999) / 1000000;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* Shorten a wait to at most cap ms (cap >= 0). */
static int
cat_cap_ms(int ms, int cap)
{
	return ms < 0 || ms > cap ? cap : ms;
}

/* ---- output --------------------------------------------------------------------------- */

/* A failed write on stdout: a reader that went away (EPIPE) ends quietly, anything else
 * gets its line. */
static int
cat_out_error(void)
{
	if (errno != EPIPE) {
		cat_errorf("stdout: %s", strerror(errno));
	} else {
		atomic_flag_test_and_set(&cat_failed);
	}
	return CAT_REPORTED;
}

static int
cat_flush(void)
{
	return fflush(stdout) == 0 ? 0 : cat_out_error();
}

static void
cat_put_quoted(const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = p[i];
		switch (ch) {
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		default:
			if (ch >= 0x20 && ch < 0x7f) {
				putchar(ch);
			} else {
				putchar('\\');
				putchar('x');
				putchar(hex[ch >> 4]);
				putchar(hex[ch & 15]);
			}
		}
	}
	putchar('"');
	putchar('\n');
}

static void
cat_put_hex(const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		putchar(hex[p[i] >> 4]);
		putchar(hex[p[i] & 15]);
	}
	putchar('\n');
}

/* Print one message in the chosen format and count it. CAT_DONE when --count is reached. */
static int
cat_emit(cat *k, const unsigned char *p, size_t n)
{
	switch (k->fmt) {
	case CAT_FMT_LINE:
		fwrite(p, 1, n, stdout);
		putchar('\n');
		break;
	case CAT_FMT_RAW:
		fwrite(p, 1, n, stdout);
		break;
	case CAT_FMT_HEX:
		cat_put_hex(p, n);
		break;
	case CAT_FMT_QUOTED:
		cat_put_quoted(p, n);
		break;
	}
	if (ferror(stdout)) {
		return cat_out_error();
	}
	k->got++;
	return k->count >= 0 && k->got >= k->count ? CAT_DONE : 0;
}

/* Raw mode: the bytes of the stream are cut into lines and each line is a message.
 * --format raw copies the bytes through unchanged, stopping after the --count'th newline. */
static int
cat_emit_stream(cat *k, const unsigned char *p, size_t n)
{
	if (k->fmt == CAT_FMT_RAW) {
		size_t take = n;
		int rv = 0;
		if (k->count >= 0) {
			for (size_t i = 0; i < n; i++) {
				if (p[i] == '\n' && ++k->got >= k->count) {
					take = i + 1;
					rv = CAT_DONE;
					break;
				}
			}
		}
		if (fwrite(p, 1, take, stdout) != take) {
			return cat_out_error();
		}
		return rv;
	}
	while (n > 0) {
		const unsigned char *nl = memchr(p, '\n', n);
		size_t seg = nl != NULL ? (size_t)(nl - p) : n;
		int rv;
		if (nl == NULL || k->llen > 0) {
			/* carry the piece over (or complete the carried line) in lbuf */
			if (k->llen + seg > k->lcap) {
				size_t cap = k->lcap == 0 ? CAT_BUF_INITIAL : k->lcap;
				unsigned char *nb;
				while (cap < k->llen + seg) {
					cap *= 2;
				}
				if ((nb = realloc(k->lbuf, cap)) == NULL) {
					cat_errorf("out of memory");
					return CAT_REPORTED;
				}
				k->lbuf = nb;
				k->lcap = cap;
			}
			memcpy(k->lbuf + k->llen, p, seg);
			k->llen += seg;
			if (nl == NULL) {
				return 0;
			}
			rv = cat_emit(k, k->lbuf, k->llen);
			k->llen = 0;
		} else {
			rv = cat_emit(k, p, seg);
		}
		if (rv != 0) {
			return rv;
		}
		p += seg + 1;
		n -= seg + 1;
	}
	return 0;
}

/* The peer closed: in raw mode an unterminated last line is still a line. */
static int
cat_emit_tail(cat *k)
{
	int rv = 0;

	if (k->opts.raw && k->fmt != CAT_FMT_RAW && k->llen > 0) {
		rv = cat_emit(k, k->lbuf, k->llen);
		k->llen = 0;
	}
	return rv < 0 ? rv : 0;
}

/* ---- receive -------------------------------------------------------------------------- */

/* Receive one message (raw: one chunk) waiting up to ms and print it. Returns 0 (printed),
 * CAT_DONE, IPCX_ETIMEDOUT, IPCX_ECLOSED, CAT_REPORTED or another IPCX_E* code. */
static int
cat_recv_one(cat *k, int ms)
{
	size_t len = 0;
	int rv;

	for (;;) {
		rv = ipcx_recv(k->c, k->rbuf, k->rcap, &len, ms);
		if (rv != IPCX_EMSGSIZE || len <= k->rcap) {
			break;
		}
		/* The message is kept by the channel; len (<= max_msg, checked by the library)
		 * says how much room it needs. */
		{
			unsigned char *nb = realloc(k->rbuf, len);
			if (nb == NULL) {
				cat_errorf("out of memory for a message of %zu bytes", len);
				return CAT_REPORTED;
			}
			k->rbuf = nb;
			k->rcap = len;
		}
	}
	if (rv != 0) {
		return rv;
	}
	return k->opts.raw ? cat_emit_stream(k, k->rbuf, len) : cat_emit(k, k->rbuf, len);
}

/* Receive what is there: the first recv waits up to first_ms, the rest only take what has
 * already arrived. Returns 0 (nothing more now), CAT_DONE, or an error; *progress tells
 * whether anything was printed. */
static int
cat_drain(cat *k, int first_ms, bool *progress)
{
	int rv = 0, ms = first_ms;

	*progress = false;
	for (int i = 0; i < CAT_DRAIN_MAX; i++) {
		rv = cat_recv_one(k, ms);
		if (rv == IPCX_ETIMEDOUT) {
			rv = 0;
			break;
		}
		if (rv == IPCX_ECLOSED) {
			k->peer_closed = true;
			rv = cat_emit_tail(k);
			return rv != 0 ? rv : CAT_DONE;
		}
		if (rv < 0) {
			return rv;
		}
		*progress = true;
		if (rv == CAT_DONE) {
			break;
		}
		ms = 0;
	}
	if (*progress) {
		int frv = cat_flush();
		if (frv != 0) {
			return frv;
		}
	}
	return rv;
}

/* ---- send ----------------------------------------------------------------------------- */

static int
cat_send(cat *k, const void *p, size_t n)
{
	int rv = ipcx_send(k->c, p, n, k->timeout);

	if (rv != 0) {
		cat_error(k, "send", rv);
		return CAT_REPORTED;
	}
	cat_rearm(k);
	return 0;
}

static size_t
cat_max_msg(const cat *k)
{
	return k->opts.max_msg != 0 ? k->opts.max_msg : IPCX_DEFAULT_MAX_MSG;
}

/* stdin is readable: read once and send what is complete. Framed: each line is a message,
 * the last one may lack its newline. Raw: the bytes go out as they came. */
static int
cat_pump_stdin(cat *k)
{
	ssize_t n;
	size_t start = 0;
	int rv;

	if (k->ilen == k->icap) {
		/* a line longer than the buffer: grow, up to one message of max_msg bytes */
		size_t limit = cat_max_msg(k), cap = k->icap * 2;
		unsigned char *nb;
		if (k->ilen > limit) {
			cat_error(k, "send", IPCX_EMSGSIZE);
			return CAT_REPORTED;
		}
		if (cap > limit + 1) {
			cap = limit + 1;
		}
		if ((nb = realloc(k->ibuf, cap)) == NULL) {
			cat_errorf("out of memory");
			return CAT_REPORTED;
		}
		k->ibuf = nb;
		k->icap = cap;
	}
	n = read(STDIN_FILENO, k->ibuf + k->ilen, k->icap - k->ilen);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN) {
			return 0;
		}
		if (errno != EBADF) { /* a closed stdin is an empty one */
			cat_errorf("stdin: %s", strerror(errno));
			return CAT_REPORTED;
		}
		n = 0;
	}
	if (n == 0) {
		k->in_open = false;
		if (k->ilen > 0 && (rv = cat_send(k, k->ibuf, k->ilen)) != 0) {
			return rv;
		}
		k->ilen = 0;
		return 0;
	}
	k->ilen += (size_t)n;
	if (k->opts.raw) {
		rv = cat_send(k, k->ibuf, k->ilen);
		k->ilen = 0;
		return rv;
	}
	for (;;) {
		unsigned char *nl = memchr(k->ibuf + start, '\n', k->ilen - start);
		if (nl == NULL) {
			break;
		}
		if ((rv = cat_send(k, k->ibuf + start, (size_t)(nl - (k->ibuf + start)))) != 0) {
			return rv;
		}
		start = (size_t)(nl - k->ibuf) + 1;
	}
	if (start > 0) {
		memmove(k->ibuf, k->ibuf + start, k->ilen - start);
		k->ilen -= start;
	}
	return 0;
}

/* Before closing a tcp channel, take in what has arrived (at least the peer's SP header
 * when we never received): closing a TCP socket with unread input resets the connection
 * and drops whatever we sent that is still in the kernel's send buffer. */
static void
cat_discard_input(cat *k)
{
	size_t len;

	if (k->c == NULL || k->rbuf == NULL || strcmp(ipcx_chan_scheme(k->c), "tcp") != 0) {
		return;
	}
	for (int i = 0; i < 1024; i++) {
		if (ipcx_recv(k->c, k->rbuf, k->rcap, &len, 0) != 0) {
			break;
		}
	}
}

/* ---- the stdin thread ----------------------------------------------------------------- */

/* The stdin thread: send what stdin gives until its end or until told on in_wake: 's' stops
 * it, 'f' (finish) makes it send what stdin holds right now and then stop. */
static void *
cat_in_main(void *arg)
{
	cat *k = arg;
	bool finishing = false;
	int chunks = 0, rv = 0;
	ssize_t n;

	while (k->in_open) {
		struct pollfd pfd[2] = {
		        {.fd = STDIN_FILENO, .events = POLLIN},
		        {.fd = k->in_wake[0], .events = POLLIN},
		};
		int pr = poll(pfd, 2, finishing ? 0 : -1);
		if (pr < 0) {
			if (errno == EINTR) {
				continue;
			}
			cat_errorf("poll: %s", strerror(errno));
			rv = CAT_REPORTED;
			break;
		}
		if (pfd[1].revents != 0) {
			char cmd = 's';
			n = read(k->in_wake[0], &cmd, 1);
			if (n != 1 || cmd != 'f') {
				break;
			}
			finishing = true;
			continue;
		}
		if (pr == 0 || (finishing && ++chunks > CAT_FINISH_MAX)) {
			break; /* finishing, and nothing more at hand */
		}
		if ((rv = cat_pump_stdin(k)) != 0) {
			break;
		}
		cat_rearm(k);
	}
	k->in_status = rv;
	n = write(k->in_done[1], "", 1);
	(void)n; /* a pipe with room for it: cannot fail */
	return NULL;
}

static int
cat_in_start(cat *k)
{
	sigset_t all, old;
	int rv;

	if (pipe2(k->in_wake, O_CLOEXEC) != 0 || pipe2(k->in_done, O_CLOEXEC) != 0) {
		cat_errorf("pipe: %s", strerror(errno));
		return CAT_REPORTED;
	}
	/* signals go to the main thread, whose poll() they interrupt */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rv = pthread_create(&k->in_tid, NULL, cat_in_main, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rv != 0) {
		cat_errorf("pthread_create: %s", strerror(rv));
		return CAT_REPORTED;
	}
	k->in_started = true;
	return 0;
}

/* Stop the stdin thread (finish: after sending what stdin holds now) and join it; returns
 * its status. A thread that makes no progress for --timeout plus a grace period (a send to
 * a peer that does not read) is left behind, and its channel is not closed under it. */
static int
cat_in_stop(cat *k, bool finish)
{
	struct pollfd pfd = {.fd = k->in_done[0], .events = POLLIN};
	int64_t grace = ((k->timeout < 0 ? 0 : (int64_t)k->timeout) + CAT_GRACE_MS) * 1000000;
	char cmd = finish && cat_signal == 0 ? 'f' : 's';
	ssize_t n;

	if (!k->in_started) {
		return 0;
	}
	k->in_started = false;
	cat_rearm(k);
	n = write(k->in_wake[1], &cmd, 1);
	for (;;) {
		int pr = poll(&pfd, 1, 100);
		if (pr > 0) {
			break;
		}
		if (pr < 0 && errno == EINTR && cat_signal != 0 && cmd == 'f') {
			cmd = 's'; /* ^C while finishing: stop now */
			n = write(k->in_wake[1], &cmd, 1);
		}
		if (cat_now_ns() - atomic_load(&k->last_ns) > grace) {
			pthread_detach(k->in_tid);
			k->chan_stuck = true;
			return 0; /* we stop because of something else, which says what */
		}
	}
	(void)n;
	pthread_join(k->in_tid, NULL);
	return k->in_status;
}

/* ---- the loop ------------------------------------------------------------------------- */

/* Report a receive-side error; CAT_DONE and 0 pass through. */
static int
cat_recv_error(cat *k, int rv)
{
	if (rv < 0 && rv != CAT_REPORTED) {
		cat_error(k, "recv", rv);
		return CAT_REPORTED;
	}
	return rv;
}

/* Print received messages while the stdin thread sends, until the receiving is done
 * (--count, peer closed) and the thread has finished, or an error. 0 or CAT_REPORTED. */
static int
cat_loop(cat *k)
{
	int cfd = k->recv_on ? ipcx_chan_fd(k->c) : -1, rv;
	bool sending = k->in_started;

	cat_rearm(k);
	while (sending || k->recv_on) {
		struct pollfd pfd[2];
		nfds_t nfds = 0;
		int ms = cat_left_ms(k);
		bool done_ready = false, chan_ready = false, progress = false;
		/* A channel fd that keeps saying "readable" while recv finds no whole message
		 * (part of one has arrived) would make poll spin: then wait inside recv for a
		 * moment instead. Without a channel fd, receive inside the library in slices. */
		bool poll_chan = k->recv_on && cfd >= 0 && k->idle_wakes < 2;
		bool lib_recv = k->recv_on && !poll_chan;

		if (cat_signal != 0) {
			return CAT_REPORTED;
		}
		if (sending) {
			pfd[nfds].fd = k->in_done[0];
			pfd[nfds++].events = POLLIN;
		}
		if (poll_chan) {
			pfd[nfds].fd = cfd;
			pfd[nfds++].events = POLLIN;
		}
		if (nfds > 0) {
			int pr = poll(pfd, nfds, lib_recv ? 0 : ms);
			if (pr < 0) {
				if (errno == EINTR) {
					continue;
				}
				cat_errorf("poll: %s", strerror(errno));
				return CAT_REPORTED;
			}
			done_ready = sending && pfd[0].revents != 0;
			chan_ready = poll_chan && pfd[nfds - 1].revents != 0;
		}
		if (chan_ready || lib_recv) {
			int wait = chan_ready ? 0
			                      : cat_cap_ms(ms, k->idle_wakes >= 2 ? CAT_SPIN_MS
			                                                          : CAT_SLICE_MS);
			rv = cat_drain(k, wait, &progress);
			if (rv == CAT_DONE) {
				return 0;
			}
			if (rv != 0) {
				return cat_recv_error(k, rv);
			}
			if (progress) {
				k->idle_wakes = 0;
				cat_rearm(k);
			} else if (chan_ready) {
				k->idle_wakes++;
			} else if (k->idle_wakes >= 2) {
				k->idle_wakes = 0; /* one slow wait done: let poll judge again */
			}
		}
		if (done_ready) {
			/* stdin is done (or its sending failed, already reported) */
			sending = false;
			if ((rv = cat_in_stop(k, false)) != 0) {
				return rv;
			}
			cat_rearm(k);
		} else if (!progress && cat_left_ms(k) == 0) {
			cat_error(k, k->recv_on ? "recv" : "stdin", IPCX_ETIMEDOUT);
			return CAT_REPORTED;
		}
	}
	return 0;
}

/* ---- setup ---------------------------------------------------------------------------- */

/* Wait for the one client: poll the listener fd ourselves so that ^C is seen. */
static int
cat_accept(cat *k)
{
	int lfd = ipcx_listener_fd(k->l);

	cat_rearm(k);
	for (;;) {
		int ms = cat_left_ms(k), rv;
		if (cat_signal != 0) {
			return CAT_REPORTED;
		}
		if (lfd >= 0) {
			struct pollfd pfd = {.fd = lfd, .events = POLLIN};
			int pr = poll(&pfd, 1, ms);
			if (pr < 0 && errno != EINTR) {
				cat_errorf("poll: %s", strerror(errno));
				return CAT_REPORTED;
			}
			if (pr <= 0) {
				if (pr == 0 && cat_left_ms(k) == 0) {
					cat_error(k, "accept", IPCX_ETIMEDOUT);
					return CAT_REPORTED;
				}
				continue;
			}
		}
		/* A client is knocking; its handshake gets a bounded wait of its own. */
		rv = ipcx_accept(k->l, &k->c, cat_cap_ms(ms, 1000));
		if (rv == 0) {
			return 0;
		}
		if (rv != IPCX_ETIMEDOUT || cat_left_ms(k) == 0) {
			cat_error(k, "accept", rv);
			return CAT_REPORTED;
		}
	}
}

static int
cat_open(cat *k)
{
	int rv;

	if (!k->listen) {
		if ((rv = ipcx_dial(&k->c, k->url, &k->opts, k->timeout)) != 0) {
			cat_error(k, "dial", rv);
			return CAT_REPORTED;
		}
		cat_catch_signals();
		return 0;
	}
	if ((rv = ipcx_listen(&k->l, k->url, &k->opts)) != 0) {
		cat_error(k, "listen", rv);
		return CAT_REPORTED;
	}
	/* From here a name may exist on disk: leave through the cleanup, also on ^C. */
	cat_catch_signals();
	if (k->print_url) {
		char buf[4096 + 64];
		if ((rv = ipcx_listener_url(k->l, buf, sizeof buf)) != 0) {
			cat_error(k, "listener url", rv);
			return CAT_REPORTED;
		}
		fprintf(stderr, "%s\n", buf);
		fflush(stderr);
	}
	return cat_accept(k);
}

static int
cat_run(cat *k)
{
	int rv;

	k->rcap = CAT_BUF_INITIAL;
	k->icap = CAT_BUF_INITIAL;
	if ((k->rbuf = malloc(k->rcap)) == NULL || (k->ibuf = malloc(k->icap)) == NULL) {
		cat_errorf("out of memory");
		return CAT_REPORTED;
	}
	if ((rv = cat_open(k)) != 0) {
		return rv;
	}
	if (k->send != NULL) {
		size_t n = strlen(k->send);
		if (k->opts.raw) {
			/* a line for the line-oriented tools on the other end */
			unsigned char *line = malloc(n + 1);
			if (line == NULL) {
				cat_errorf("out of memory");
				return CAT_REPORTED;
			}
			memcpy(line, k->send, n);
			line[n] = '\n';
			rv = cat_send(k, line, n + 1);
			free(line);
		} else {
			rv = cat_send(k, k->send, n);
		}
		if (rv != 0) {
			return rv;
		}
	}
	k->in_open = k->send == NULL && !k->no_stdin;
	k->recv_on = k->send != NULL ? k->count > 0 : k->count != 0;
	if (k->in_open && (rv = cat_in_start(k)) != 0) {
		return rv;
	}
	return cat_loop(k);
}

static int
cat_parse(cat *k, int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"listen", required_argument, NULL, 'l'}, {"dial", required_argument, NULL, 'd'},
	        {"send", required_argument, NULL, 's'},   {"count", required_argument, NULL, 'c'},
	        {"format", required_argument, NULL, 'f'}, {"timeout", required_argument, NULL, 't'},
	        {"raw", no_argument, NULL, 'r'},          {"max-msg", required_argument, NULL, 'm'},
	        {"no-stdin", no_argument, NULL, 'n'},     {"print-url", no_argument, NULL, 'p'},
	        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	int ch;
	bool have_url = false;

	while ((ch = getopt_long(argc, argv, ":l:d:s:c:f:t:rm:nph", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
		case 'd':
			if (have_url) {
				return cli_usage_error(CAT_CMD,
				                       "give one of --listen or --dial, once");
			}
			have_url = true;
			k->listen = ch == 'l';
			k->url = optarg;
			break;
		case 's':
			k->send = optarg;
			break;
		case 'c':
			if (cli_parse_count(optarg, &k->count) != 0) {
				return cli_usage_error(CAT_CMD, "bad --count '%s' (want 0 or more)",
				                       optarg);
			}
			break;
		case 'f':
			if (strcmp(optarg, "line") == 0) {
				k->fmt = CAT_FMT_LINE;
			} else if (strcmp(optarg, "raw") == 0) {
				k->fmt = CAT_FMT_RAW;
			} else if (strcmp(optarg, "hex") == 0) {
				k->fmt = CAT_FMT_HEX;
			} else if (strcmp(optarg, "quoted") == 0) {
				k->fmt = CAT_FMT_QUOTED;
			} else {
				return cli_usage_error(
				        CAT_CMD,
				        "bad --format '%s' (want line, raw, hex or quoted)",
				        optarg);
			}
			break;
		case 't':
			if (cli_parse_timeout(optarg, &k->timeout) != 0) {
				return cli_usage_error(
				        CAT_CMD, "bad --timeout '%s' (want milliseconds, or -1)",
				        optarg);
			}
			break;
		case 'r':
			k->opts.raw = 1;
			break;
		case 'm':
			if (cli_parse_size(optarg, &k->opts.max_msg) != 0 || k->opts.max_msg == 0) {
				return cli_usage_error(
				        CAT_CMD, "bad --max-msg '%s' (want bytes > 0)", optarg);
			}
			break;
		case 'n':
			k->no_stdin = true;
			break;
		case 'p':
			k->print_url = true;
			break;
		case 'h':
			cat_help();
			return IPCX_EXIT_OK;
		default:
			return cli_getopt_error(CAT_CMD, ch, argv);
		}
	}
	if (optind < argc) {
		return cli_usage_error(CAT_CMD, "unexpected argument '%s'", argv[optind]);
	}
	if (!have_url) {
		return cli_usage_error(CAT_CMD, "give --listen URL or --dial URL");
	}
	if (k->print_url && !k->listen) {
		return cli_usage_error(CAT_CMD, "--print-url needs --listen");
	}
	return -1; /* go on */
}

int
ipcx_cmd_cat(int argc, char **argv)
{
	cat k;
	int rv, status;

	memset(&k, 0, sizeof k);
	k.in_wake[0] = k.in_wake[1] = k.in_done[0] = k.in_done[1] = -1;
	k.count = -1;
	k.timeout = -1;
	k.fmt = CAT_FMT_LINE;
	ipcx_opts_init(&k.opts);
	if ((status = cat_parse(&k, argc, argv)) >= 0) {
		return status;
	}
	/* Write errors on stdout come back as EPIPE instead of killing us before cleanup. */
	signal(SIGPIPE, SIG_IGN);
	rv = cat_run(&k);
	if (rv == 0 && fflush(stdout) != 0) {
		rv = cat_out_error();
	}
	/* --count reached: what stdin holds already is still sent (a request piped in must not
	 * lose the race with the peer's greeting). Peer gone, error, signal: stop now. */
	status = cat_in_stop(&k, rv == 0 && !k.peer_closed);
	if (rv == 0) {
		rv = status;
	}
	if (!k.chan_stuck) {
		cat_discard_input(&k);
		ipcx_close(k.c);
		free(k.ibuf);
	}
	ipcx_listener_close(k.l);
	free(k.rbuf);
	free(k.lbuf);
	for (int i = 0; i < 2 && !k.chan_stuck; i++) {
		if (k.in_wake[i] >= 0) {
			close(k.in_wake[i]);
		}
		if (k.in_done[i] >= 0) {
			close(k.in_done[i]);
		}
	}
	if (cat_signal != 0) {
		/* die of the signal, as the shell expects, now that the names are gone */
		signal(cat_signal, SIG_DFL);
		raise(cat_signal);
		return 128 + cat_signal;
	}
	return rv == 0 ? IPCX_EXIT_OK : IPCX_EXIT_RUNTIME;
}
