/*
 * bench_worker.c - the two forked processes of one `ipcx bench` pair: worker B times
 * ping-pong round trips and a one-way stream, worker A echoes and counts; both obey the parent.
 */
#include "bench_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* How often a lossy stream end is resent while waiting for the receiver's count. */
#define WORKER_END_RESEND_MS 20

typedef struct worker {
	int role;
	bench_ep ep;
	int rep_fd;
	bool lossy;
	unsigned char *sbuf, *rbuf; /* message buffers, grown only, touched once */
	size_t bufsz;
	uint64_t *samples;
	size_t nsamples_cap;
	uint64_t seq;
	int64_t cpu0; /* CPU time of this process when the command came */
} worker;

/* User + system time of the whole process (every thread), in ns. */
static int64_t
worker_cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1) {
		return 0;
	}
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
	       ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static void
worker_report(worker *w, bench_rep *rep)
{
	ssize_t n;

	rep->cpu_ns = worker_cpu_ns() - w->cpu0;
	do {
		n = write(w->rep_fd, rep, sizeof *rep); /* < PIPE_BUF: one atomic write */
	} while (n == -1 && errno == EINTR);
}

static void
worker_fail(worker *w, int status, const char *fmt, ...)
{
	bench_rep rep;
	va_list ap;
	int k;

	memset(&rep, 0, sizeof rep);
	rep.status = status != 0 ? status : IPCX_EUNKNOWN;
	va_start(ap, fmt);
	k = vsnprintf(rep.err, sizeof rep.err, fmt, ap);
	va_end(ap);
	if (status != 0 && k >= 0 && (size_t)k < sizeof rep.err) {
		snprintf(rep.err + k, sizeof rep.err - (size_t)k, ": %s", bench_strerror(status));
	}
	worker_report(w, &rep);
	_exit(1);
}

static int
worker_bufs(worker *w, size_t size)
{
	size_t need = (size < 64 ? 64 : size) + 64;

	if (need <= w->bufsz) {
		return 0;
	}
	free(w->sbuf);
	free(w->rbuf);
	w->sbuf = malloc(need);
	w->rbuf = malloc(need);
	if (w->sbuf == NULL || w->rbuf == NULL) {
		return IPCX_ENOMEM;
	}
	/* Fault the pages in now, not inside a timed loop. */
	memset(w->sbuf, 'x', need);
	memset(w->rbuf, 0, need);
	w->bufsz = need;
	return 0;
}

static size_t
worker_end_len(size_t size)
{
	return size == 0 ? 1 : 0; /* any length but the data size marks the end */
}

static void
worker_put_seq(unsigned char *buf, size_t size, uint64_t seq)
{
	if (size >= sizeof seq) {
		memcpy(buf, &seq, sizeof seq);
	}
}

static uint64_t
worker_get_seq(const unsigned char *buf, size_t size)
{
	uint64_t seq = 0;

	if (size >= sizeof seq) {
		memcpy(&seq, buf, sizeof seq);
	}
	return seq;
}

static int
worker_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
static double
worker_pct(const uint64_t *s, size_t n, double p)
{
	size_t k;

	if (n == 0) {
		return 0;
	}
	k = (size_t)(p * (double)n + 0.999999);
	k = k == 0 ? 0 : k - 1;
	return (double)s[k < n ? k : n - 1];
}

/* ---- messages: sent from a buffer or built in place, received into one or seen in place */

/* Does a message of size bytes go through the endpoint's loan (else its send)? */
static bool
worker_zc(const worker *w, size_t size)
{
	return w->ep.ops->loan != NULL && size <= w->ep.loan_max;
}

/* Send size bytes whose first 8 are seq: built in place where the endpoint lends its buffer
 * (every byte written once, as a producer that generates its message there: no source is
 * read), else sent from the send buffer (which the transport copies). */
static int
worker_send_msg(worker *w, size_t size, uint64_t seq)
{
	void *ptr;
	int rv;

	if (!worker_zc(w, size)) {
		worker_put_seq(w->sbuf, size, seq);
		return w->ep.ops->send(&w->ep, w->sbuf, size);
	}
	if ((rv = w->ep.ops->loan(&w->ep, size, &ptr)) != 0) {
		return rv;
	}
	memset(ptr, 'x', size);
	worker_put_seq(ptr, size, seq);
	return w->ep.ops->commit(&w->ep, ptr, size);
}

/* Receive the next message, its length and sequence number: into w->rbuf through the
 * endpoint's recv, or in place through its view (the payload is not copied out). */
static int
worker_recv_msg(worker *w, size_t *len, uint64_t *seq, int timeout_ms)
{
	const void *ptr;
	int rv;

	if (w->ep.ops->view == NULL) {
		rv = w->ep.ops->recv(&w->ep, w->rbuf, w->bufsz, len, timeout_ms);
		*seq = rv == 0 ? worker_get_seq(w->rbuf, *len) : 0;
		return rv;
	}
	if ((rv = w->ep.ops->view(&w->ep, &ptr, len, timeout_ms)) != 0) {
		return rv;
	}
	*seq = worker_get_seq(ptr, *len);
	return w->ep.ops->release(&w->ep);
}

/* ---- worker A: the echoing, counting side ------------------------------------------- */

static void
worker_a_ping(worker *w, const bench_cmd *cmd)
{
	bench_rep rep;
	size_t len;
	int rv;

	for (;;) {
		if (w->ep.ops->view != NULL) {
			/* in place both ways: the reply carries the sequence number back */
			uint64_t seq;
			if ((rv = worker_recv_msg(w, &len, &seq, w->ep.timeout_ms)) != 0) {
				worker_fail(w, rv, "ping-pong: echo side: view");
			}
			if ((rv = worker_send_msg(w, len, seq)) != 0) {
				worker_fail(w, rv, "ping-pong: echo side: loan");
			}
		} else {
			if ((rv = w->ep.ops->recv(&w->ep, w->rbuf, w->bufsz, &len,
			                          w->ep.timeout_ms)) != 0) {
				worker_fail(w, rv, "ping-pong: echo side: recv");
			}
			if ((rv = w->ep.ops->send(&w->ep, w->rbuf, len)) != 0) {
				worker_fail(w, rv, "ping-pong: echo side: send");
			}
		}
		if (len != cmd->size) {
			break;
		}
	}
	memset(&rep, 0, sizeof rep);
	worker_report(w, &rep);
}

static void
worker_a_stream(worker *w, const bench_cmd *cmd)
{
	uint64_t count = 0, last = 0;
	bench_rep rep;
	size_t len;
	int rv;

	for (;;) {
		uint64_t seq;
		if ((rv = worker_recv_msg(w, &len, &seq, w->ep.timeout_ms)) != 0) {
			worker_fail(w, rv, "stream: receiver: recv after %llu messages",
			            (unsigned long long)count);
		}
		if (len != cmd->size) {
			break;
		}
		if (cmd->size >= sizeof(uint64_t)) {
			if (w->lossy ? seq <= last : seq != last + 1) {
				worker_fail(w, 0,
				            "stream: receiver: message %llu arrived after %llu",
				            (unsigned long long)seq, (unsigned long long)last);
			}
			last = seq;
		}
		count++;
	}
	if ((rv = worker_send_msg(w, sizeof count, count)) != 0) { /* count as the sequence */
		worker_fail(w, rv, "stream: receiver: send count");
	}
	memset(&rep, 0, sizeof rep);
	rep.recvd = count;
	worker_report(w, &rep);
}

static void
worker_a_drain(worker *w)
{
	bench_rep rep;
	size_t len;
	int rv;

	while ((rv = w->ep.ops->recv(&w->ep, w->rbuf, w->bufsz, &len, 0)) == 0) {
	}
	memset(&rep, 0, sizeof rep);
	if (rv != IPCX_ETIMEDOUT && rv != -EAGAIN) {
		worker_fail(w, rv, "drain: recv");
	}
	worker_report(w, &rep);
}

/* ---- worker B: the timing side ------------------------------------------------------ */

static void
worker_b_ping(worker *w, const bench_cmd *cmd)
{
	size_t size = (size_t)cmd->size, len, n = 0, cap = (size_t)cmd->max_samples;
	uint64_t rseq;
	int64_t start, t0, t1;
	bench_rep rep;
	int rv;

	if (cap > w->nsamples_cap) {
		free(w->samples);
		if ((w->samples = malloc(cap * sizeof *w->samples)) == NULL) {
			worker_fail(w, IPCX_ENOMEM, "ping-pong: samples");
		}
		memset(w->samples, 0, cap * sizeof *w->samples);
		w->nsamples_cap = cap;
	}
	start = t1 = bench_now();
	while (n < cap) {
		uint64_t seq = ++w->seq;
		t0 = t1;
		if ((rv = worker_send_msg(w, size, seq)) != 0) {
			worker_fail(w, rv, "ping-pong: send #%zu", n);
		}
		if ((rv = worker_recv_msg(w, &len, &rseq, w->ep.timeout_ms)) != 0) {
			worker_fail(w, rv, "ping-pong: recv #%zu", n);
		}
		t1 = bench_now();
		if (len != size || (size >= sizeof seq && rseq != seq)) {
			worker_fail(w, 0, "ping-pong: reply #%zu is not the message sent (%zu B)",
			            n, len);
		}
		w->samples[n++] = (uint64_t)(t1 - t0);
		if ((t1 - start >= cmd->min_ns && n >= cmd->min_iters) ||
		    t1 - start >= cmd->max_ns) {
			break;
		}
		t1 = bench_now(); /* the bookkeeping above is not part of the next round trip */
	}
	if ((rv = worker_send_msg(w, worker_end_len(size), 0)) != 0) {
		worker_fail(w, rv, "ping-pong: send end");
	}
	if ((rv = worker_recv_msg(w, &len, &rseq, w->ep.timeout_ms)) != 0) {
		worker_fail(w, rv, "ping-pong: recv end");
	}
	qsort(w->samples, n, sizeof *w->samples, worker_cmp_u64);
	memset(&rep, 0, sizeof rep);
	rep.count = n;
	rep.elapsed_ns = t1 - start;
	rep.p50_ns = worker_pct(w->samples, n, 0.50);
	rep.p99_ns = worker_pct(w->samples, n, 0.99);
	rep.p999_ns = worker_pct(w->samples, n, 0.999);
	worker_report(w, &rep);
}

/* Send the end marker and wait for the receiver's count; a lossy channel may drop the
 * marker (the receiver's queue overflows at the end of a burst), so it is resent. */
static uint64_t
worker_b_stream_end(worker *w, size_t size)
{
	int64_t give_up =
	        bench_now() + (int64_t)(w->ep.timeout_ms < 0 ? 60000 : w->ep.timeout_ms) * 1000000;
	uint64_t count;
	size_t len;
	int rv;

	for (;;) {
		int wait = w->lossy ? WORKER_END_RESEND_MS : w->ep.timeout_ms;
		if ((rv = worker_send_msg(w, worker_end_len(size), 0)) != 0) {
			worker_fail(w, rv, "stream: send end");
		}
		rv = worker_recv_msg(w, &len, &count, wait); /* the count is its sequence number */
		if (rv == 0 && len == sizeof count) {
			return count;
		}
		if (rv == 0) {
			worker_fail(w, 0, "stream: the receiver's count has %zu bytes", len);
		}
		if (!w->lossy || (rv != IPCX_ETIMEDOUT && rv != -EAGAIN) || bench_now() > give_up) {
			worker_fail(w, rv, "stream: recv count");
		}
	}
}

static void
worker_b_stream(worker *w, const bench_cmd *cmd)
{
	size_t size = (size_t)cmd->size;
	uint64_t sent = 0, seq = 0;
	int64_t start, now;
	bench_rep rep;
	int rv;

	start = bench_now();
	for (;;) {
		if ((rv = worker_send_msg(w, size, ++seq)) != 0) {
			worker_fail(w, rv, "stream: send #%llu", (unsigned long long)sent);
		}
		sent++;
		if ((sent & 7) == 0) {
			now = bench_now();
			if ((now - start >= cmd->min_ns && sent >= cmd->min_iters) ||
			    now - start >= cmd->max_ns) {
				break;
			}
		}
	}
	memset(&rep, 0, sizeof rep);
	rep.recvd = worker_b_stream_end(w, size);
	rep.elapsed_ns = bench_now() - start;
	rep.count = sent;
	if (rep.recvd > sent || (!w->lossy && rep.recvd != sent)) {
		worker_fail(w, 0, "stream: sent %llu messages, the receiver counted %llu",
		            (unsigned long long)sent, (unsigned long long)rep.recvd);
	}
	worker_report(w, &rep);
}

/* ---- setup ---------------------------------------------------------------------------- */

static void
worker_setup_process(worker *w, int cpu, pid_t parent)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN; /* as any careful server does; equal for ipcx and raw */
	sigaction(SIGPIPE, &sa, NULL);
	{
		/* A peer library's log lines must not land in the table, CSV or JSON. */
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			close(fd);
		}
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) {
		_exit(1);
	}
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) == -1) {
			worker_fail(w, -errno, "pin to CPU %d", cpu);
		}
	}
}

/* B greets, A answers: both directions work before anything is timed. For udp the greeting
 * is also what tells the listening side where its peer is. */
static void
worker_handshake(worker *w)
{
	size_t len;
	int rv;

	if (w->role == BENCH_ROLE_B) {
		if ((rv = w->ep.ops->send(&w->ep, "h", 1)) != 0) {
			worker_fail(w, rv, "handshake: send");
		}
	}
	if ((rv = w->ep.ops->recv(&w->ep, w->rbuf, w->bufsz, &len, w->ep.timeout_ms)) != 0) {
		worker_fail(w, rv, "handshake: recv");
	}
	if (w->role == BENCH_ROLE_A) {
		if ((rv = w->ep.ops->send(&w->ep, "H", 1)) != 0) {
			worker_fail(w, rv, "handshake: send");
		}
	}
}

_Noreturn void
bench_worker(int role, bench_ctx *cx, int cmd_fd, int rep_fd, int cpu)
{
	char err[BENCH_ERR_MAX] = "";
	worker w;
	bench_rep rep;
	bench_cmd cmd;
	int rv;

	memset(&w, 0, sizeof w);
	w.role = role;
	w.rep_fd = rep_fd;
	w.lossy = (cx->impl->flags & BENCH_LOSSY) != 0;
	w.ep.rfd = w.ep.wfd = w.ep.ino = w.ep.qid = -1;
	w.ep.timeout_ms = cx->timeout_ms;
	worker_setup_process(&w, cpu, cx->owner);
	{
		/* Whatever ipcx records about the names it creates stays in the private
		 * directory too, so a worker killed on error leaves nothing elsewhere. */
		char reg[BENCH_ADDR_MAX];
		if ((size_t)snprintf(reg, sizeof reg, "%s/registry", cx->tmpdir) < sizeof reg) {
			setenv("IPCX_REGISTRY_DIR", reg, 1);
		}
	}
	if ((rv = worker_bufs(&w, 64)) != 0) {
		worker_fail(&w, rv, "buffers");
	}
	if (role == BENCH_ROLE_A) {
		if (cx->impl->serve != NULL && (rv = cx->impl->serve(cx, err)) != 0) {
			worker_fail(&w, rv, "%s", err);
		}
		memset(&rep, 0, sizeof rep);
		snprintf(rep.addr, sizeof rep.addr, "%s", cx->addr);
		worker_report(&w, &rep);
		if ((rv = cx->impl->accept(cx, &w.ep, err)) != 0) {
			worker_fail(&w, rv, "%s", err);
		}
	} else if ((rv = cx->impl->dial(cx, &w.ep, err)) != 0) {
		worker_fail(&w, rv, "%s", err);
	}
	worker_handshake(&w);
	memset(&rep, 0, sizeof rep);
	rep.loan_max = w.ep.ops->loan != NULL ? w.ep.loan_max : 0;
	worker_report(&w, &rep);

	for (;;) {
		ssize_t n = read(cmd_fd, &cmd, sizeof cmd);
		if (n == -1 && errno == EINTR) {
			continue;
		}
		if (n != (ssize_t)sizeof cmd || cmd.op == BENCH_OP_QUIT) {
			break;
		}
		if ((rv = worker_bufs(&w, (size_t)cmd.size)) != 0) {
			worker_fail(&w, rv, "buffers");
		}
		w.cpu0 = worker_cpu_ns();
		switch (cmd.op) {
		case BENCH_OP_PING:
			(role == BENCH_ROLE_A ? worker_a_ping : worker_b_ping)(&w, &cmd);
			break;
		case BENCH_OP_STREAM:
			(role == BENCH_ROLE_A ? worker_a_stream : worker_b_stream)(&w, &cmd);
			break;
		case BENCH_OP_DRAIN:
			worker_a_drain(&w);
			break;
		default:
			worker_fail(&w, IPCX_EINVAL, "unknown command %d", cmd.op);
		}
	}
	w.ep.ops->close(&w.ep);
	_exit(0);
}
