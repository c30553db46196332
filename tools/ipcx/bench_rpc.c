/*
 * bench_rpc.c - `ipcx bench --rpc`: ONC RPC NULL-call round trips and calls/s of ipcx's
 * client and server over unix://, tcp:// and shm:// beside libtirpc's over AF_UNIX and TCP.
 */
#include "bench_rpc.h"
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RPC_NCLIENTS BENCH_RPC_CLIENTS

/* A row: who serves and who calls, over what. */
typedef struct rpc_impl {
	const char *name;
	const char *transport;
	bool tirpc_srv;   /* the server is libtirpc's, else ipcx's */
	bool tirpc;       /* the client is libtirpc's, else ipcx's */
	int net;          /* tirpc: enum bench_rpc_net */
	const char *tmpl; /* ipcx: the server's URL; %D the private directory, %P pid */
} rpc_impl;

static const rpc_impl rpc_impls[] = {
        {"rpc-unix", "unix://", false, false, 0, "unix://%D/rpc.sock"},
        {"rpc-tcp", "tcp://", false, false, 0, "tcp://127.0.0.1:0"},
        {"rpc-shm", "shm://", false, false, 0, "shm://ipcx-bench-rpc-%P"},
        {"tirpc-unix", "AF_UNIX", true, true, BENCH_RPC_UNIX, "%D/tirpc.sock"},
        {"tirpc-tcp", "TCP", true, true, BENCH_RPC_TCP, NULL},
        /* the two mixed pairs on TCP: which side a difference between the rows above
         * comes from */
        {"ipcx>tirpc", "TCP", true, false, BENCH_RPC_TCP, NULL},
        {"tirpc>ipcx", "TCP", false, true, BENCH_RPC_TCP, "tcp://127.0.0.1:0"},
};
#define RPC_NIMPLS ((int)(sizeof rpc_impls / sizeof rpc_impls[0]))

/* What a worker process tells the parent through its pipe. */
typedef struct rpc_rep {
	int status; /* 0 or -1 */
	char err[256];
	char addr[BENCH_ADDR_MAX]; /* the server's address */
	uint64_t calls;
	int64_t elapsed_ns;
	double p50_ns, p99_ns;
	double cps; /* rpc_run: calls/s of all its clients */
} rpc_rep;

typedef struct rpc_result {
	bool failed, skipped;
	char err[256];
	bench_series p50, p99, cps, cpsn; /* us, us, calls/s, calls/s of RPC_NCLIENTS */
} rpc_result;

static void
rpc_pin(int cpu)
{
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		(void)sched_setaffinity(0, sizeof set, &set);
	}
}

static void
rpc_write_rep(int fd, const rpc_rep *r)
{
	ssize_t n = write(fd, r, sizeof *r); /* < PIPE_BUF: atomic */
	(void)n;
}

/* Read a whole report within timeout_ms. 0, or -1 (worker died or took too long). */
static int
rpc_read_rep(int fd, rpc_rep *r, int timeout_ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	int rv;

	do {
		rv = poll(&p, 1, timeout_ms);
	} while (rv < 0 && errno == EINTR);
	if (rv <= 0) {
		return -1;
	}
	return read(fd, r, sizeof *r) == (ssize_t)sizeof *r ? 0 : -1;
}

/* Wait for pid up to ms, then SIGKILL it and reap. */
static void
rpc_reap(pid_t pid, int ms)
{
	int64_t end = bench_now() + (int64_t)ms * 1000000;

	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (bench_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL); /* polling a child's exit, not synchronising on it */
	}
}

/* ---- the server process -------------------------------------------------------------- */

static ipcx_rpc_server *volatile rpc_srv;
static int rpc_srv_fd = -1;
static char rpc_srv_addr[BENCH_ADDR_MAX];

static void
rpc_on_term(int sig)
{
	(void)sig;
	if (rpc_srv != NULL) {
		ipcx_rpc_server_stop(rpc_srv); /* async-signal-safe */
	}
}

static void
rpc_srv_ready(int rv, const char *why)
{
	rpc_rep r;
	memset(&r, 0, sizeof r);
	r.status = rv;
	snprintf(r.err, sizeof r.err, "%s", why != NULL ? why : "");
	snprintf(r.addr, sizeof r.addr, "%s", rpc_srv_addr);
	rpc_write_rep(rpc_srv_fd, &r);
}

/* A procedure 1 makes the (program, version) known; NULL is answered by the server. */
static int
rpc_nop(ipcx_rpc_req *req, void *arg)
{
	(void)req;
	(void)arg;
	return IPCX_RPC_SUCCESS;
}

_Noreturn static void
rpc_server_main(const rpc_impl *im, const char *addr, int fd, int cpu)
{
	struct sigaction sa;
	ipcx_rpc_server *s = NULL;
	int rv;

	rpc_pin(cpu);
	rpc_srv_fd = fd;
	snprintf(rpc_srv_addr, sizeof rpc_srv_addr, "%s", addr);
	if (im->tirpc_srv) {
		signal(SIGTERM, SIG_DFL);
		bench_tirpc_serve(im->net, rpc_srv_addr, sizeof rpc_srv_addr, rpc_srv_ready);
		_exit(1);
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = rpc_on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	if ((rv = ipcx_rpc_server_new(&s, addr, NULL)) != 0 ||
	    (rv = ipcx_rpc_register(s, BENCH_RPC_PROG, BENCH_RPC_VERS, 1, rpc_nop, NULL)) != 0 ||
	    (rv = ipcx_rpc_server_url(s, rpc_srv_addr, sizeof rpc_srv_addr)) != 0) {
		char why[200];
		snprintf(why, sizeof why, "server %s: %s", addr, ipcx_strerror(rv));
		ipcx_rpc_server_close(s);
		rpc_srv_ready(-1, why);
		_exit(1);
	}
	rpc_srv = s;
	rpc_srv_ready(0, NULL);
	rv = ipcx_rpc_server_run(s);
	rpc_srv = NULL;
	ipcx_rpc_server_close(s);
	_exit(rv == 0 ? 0 : 1);
}

/* ---- the client processes ------------------------------------------------------------ */

static int
rpc_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Connect, warm up, tell the parent (status only), wait for go (EOF on gofd), then make
 * sequential NULL calls for the measuring time and report. */
_Noreturn static void
rpc_client_main(const rpc_impl *im, const char *addr, const bench_config *cfg, int fd, int gofd,
                int cpu)
{
	ipcx_rpc_client *c = NULL;
	void *t = NULL;
	rpc_rep r;
	int64_t *smp = NULL, t0, end, min_end;
	uint64_t cap = cfg->ping.max_samples, n = 0;
	char go;

	rpc_pin(cpu);
	memset(&r, 0, sizeof r);
	if (im->tirpc) {
		t = bench_tirpc_open(im->net, addr, r.err, sizeof r.err);
		r.status = t == NULL ? -1 : 0;
	} else {
		int rv = ipcx_rpc_client_new(&c, addr, BENCH_RPC_PROG, BENCH_RPC_VERS, NULL);
		if (rv != 0) {
			snprintf(r.err, sizeof r.err, "client %s: %s", addr, ipcx_strerror(rv));
			r.status = -1;
		}
	}
	if (r.status == 0 && (smp = malloc(cap * sizeof *smp)) == NULL) {
		snprintf(r.err, sizeof r.err, "out of memory");
		r.status = -1;
	}
	/* warm-up: the connection's thread, caches, the CPUs' clocks */
	end = bench_now() + cfg->warm_ping.min_ns;
	for (uint64_t i = 0; r.status == 0 && (i < cfg->warm_ping.min_iters || bench_now() < end);
	     i++) {
		int rv = im->tirpc ? bench_tirpc_null(t, cfg->timeout_ms)
		                   : ipcx_rpc_call(c, 0, NULL, NULL, NULL, NULL, cfg->timeout_ms);
		if (rv != 0) {
			snprintf(r.err, sizeof r.err, "warm-up call: %s",
			         im->tirpc ? "clnt_call failed" : ipcx_strerror(rv));
			r.status = -1;
		}
	}
	rpc_write_rep(fd, &r);
	if (r.status != 0 || read(gofd, &go, 1) != 0) {
		goto out;
	}
	t0 = bench_now();
	min_end = t0 + cfg->ping.min_ns;
	end = t0 + cfg->ping.max_ns;
	for (;;) {
		int64_t a = bench_now(), b;
		int rv = im->tirpc ? bench_tirpc_null(t, cfg->timeout_ms)
		                   : ipcx_rpc_call(c, 0, NULL, NULL, NULL, NULL, cfg->timeout_ms);
		b = bench_now();
		if (rv != 0) {
			snprintf(r.err, sizeof r.err, "call: %s",
			         im->tirpc ? "clnt_call failed" : ipcx_strerror(rv));
			r.status = -1;
			break;
		}
		if (n < cap) {
			smp[n] = b - a;
		}
		n++;
		if ((b >= min_end && n >= cfg->ping.min_iters) || b >= end) {
			r.elapsed_ns = b - t0;
			break;
		}
	}
	if (r.status == 0) {
		uint64_t k = n < cap ? n : cap;
		qsort(smp, k, sizeof *smp, rpc_cmp);
		r.calls = n;
		r.p50_ns = (double)smp[k / 2];
		r.p99_ns = (double)smp[(k * 99) / 100 < k ? (k * 99) / 100 : k - 1];
	}
	rpc_write_rep(fd, &r);
out:
	free(smp);
	if (im->tirpc) {
		bench_tirpc_close(t);
	} else {
		ipcx_rpc_client_close(c);
	}
	_exit(r.status == 0 ? 0 : 1);
}

/* One run of nclients at once against the server at addr: their summed calls/s, and the
 * first client's percentiles. 0, or -1 with err. */
static int
rpc_run(const rpc_impl *im, const char *addr, const bench_config *cfg, int nclients, rpc_rep *sum,
        char *err, size_t cap)
{
	pid_t pid[RPC_NCLIENTS];
	int rep[RPC_NCLIENTS], gop[2], rv = -1, started = 0;
	int wait_ms = (int)((cfg->warm_ping.max_ns + cfg->ping.max_ns) / 1000000) +
	              (cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000) + 5000;

	memset(sum, 0, sizeof *sum);
	if (pipe2(gop, O_CLOEXEC) != 0) {
		snprintf(err, cap, "pipe: %s", strerror(errno));
		return -1;
	}
	for (; started < nclients; started++) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) != 0) {
			snprintf(err, cap, "pipe: %s", strerror(errno));
			goto out;
		}
		fflush(NULL);
		pid[started] = fork();
		if (pid[started] == 0) {
			close(p[0]);
			close(gop[1]);
			rpc_client_main(im, addr, cfg, p[1], gop[0], cfg->cpu[1]);
		}
		close(p[1]);
		if (pid[started] < 0) {
			close(p[0]);
			snprintf(err, cap, "fork: %s", strerror(errno));
			goto out;
		}
		rep[started] = p[0];
	}
	for (int i = 0; i < nclients; i++) {
		rpc_rep r;
		memset(&r, 0, sizeof r);
		if (rpc_read_rep(rep[i], &r, wait_ms) != 0 || r.status != 0) {
			snprintf(err, cap, "%s",
			         r.err[0] != '\0' ? r.err : "a client did not connect in time");
			goto out;
		}
	}
	close(gop[1]); /* go: every client reads EOF */
	gop[1] = -1;
	for (int i = 0; i < nclients; i++) {
		rpc_rep r;
		memset(&r, 0, sizeof r);
		if (rpc_read_rep(rep[i], &r, wait_ms) != 0 || r.status != 0) {
			snprintf(err, cap, "%s",
			         r.err[0] != '\0' ? r.err : "a client died or hung");
			goto out;
		}
		if (i == 0) { /* percentiles: the first client's (the only one when sequential) */
			sum->p50_ns = r.p50_ns;
			sum->p99_ns = r.p99_ns;
		}
		/* calls/s summed over the clients, each over its own measuring time */
		sum->calls += r.calls;
		sum->cps += (double)r.calls * 1e9 / (double)r.elapsed_ns;
	}
	rv = 0;
out:
	if (gop[1] >= 0) {
		close(gop[1]);
	}
	close(gop[0]);
	for (int i = 0; i < started; i++) {
		close(rep[i]);
		if (rv != 0) {
			kill(pid[i], SIGKILL);
		}
		rpc_reap(pid[i], 2000);
	}
	return rv;
}

/* ---- rows ---------------------------------------------------------------------------- */

/* Expand %D (the private directory) and %P (our pid) in a template. */
static void
rpc_expand(char *out, size_t cap, const char *tmpl, const char *dir)
{
	size_t n = 0;

	out[0] = '\0';
	for (const char *p = tmpl; *p != '\0' && n + 1 < cap; p++) {
		int k;
		if (p[0] == '%' && p[1] == 'D') {
			k = snprintf(out + n, cap - n, "%s", dir);
			p++;
		} else if (p[0] == '%' && p[1] == 'P') {
			k = snprintf(out + n, cap - n, "%d", (int)getpid());
			p++;
		} else {
			out[n] = *p;
			out[n + 1] = '\0';
			k = 1;
		}
		n = k < 0 || (size_t)k >= cap - n ? cap - 1 : n + (size_t)k;
	}
}

static void
rpc_row(const rpc_impl *im, const bench_config *cfg, const char *dir, rpc_result *res)
{
	char addr[BENCH_ADDR_MAX] = "";
	rpc_rep r;
	int p[2];
	pid_t srv;

	memset(res, 0, sizeof *res);
	if ((im->tirpc || im->tirpc_srv) && bench_tirpc_missing != NULL) {
		res->skipped = true;
		snprintf(res->err, sizeof res->err, "%s", bench_tirpc_missing);
		return;
	}
	if (im->tmpl != NULL) {
		rpc_expand(addr, sizeof addr, im->tmpl, dir);
	}
	if (pipe2(p, O_CLOEXEC) != 0) {
		res->failed = true;
		snprintf(res->err, sizeof res->err, "pipe: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	srv = fork();
	if (srv == 0) {
		close(p[0]);
		rpc_server_main(im, addr, p[1], cfg->cpu[0]);
	}
	close(p[1]);
	if (srv < 0) {
		close(p[0]);
		res->failed = true;
		snprintf(res->err, sizeof res->err, "fork: %s", strerror(errno));
		return;
	}
	memset(&r, 0, sizeof r);
	if (rpc_read_rep(p[0], &r, 10000) != 0 || r.status != 0) {
		res->failed = true;
		snprintf(res->err, sizeof res->err, "%s",
		         r.err[0] != '\0' ? r.err : "the server did not start in time");
		goto out;
	}
	/* libtirpc's side says 127.0.0.1:PORT, ipcx's tcp://127.0.0.1:PORT */
	if (im->tirpc_srv && !im->tirpc && im->net == BENCH_RPC_TCP) {
		snprintf(addr, sizeof addr, "tcp://%.*s", (int)sizeof addr - 7, r.addr);
	} else if (!im->tirpc_srv && im->tirpc && strncmp(r.addr, "tcp://", 6) == 0) {
		snprintf(addr, sizeof addr, "%.*s", (int)sizeof addr - 1, r.addr + 6);
	} else {
		snprintf(addr, sizeof addr, "%s", r.addr);
	}
	for (int run = 0; run < cfg->runs; run++) {
		rpc_rep one, many;
		if (rpc_run(im, addr, cfg, 1, &one, res->err, sizeof res->err) != 0 ||
		    rpc_run(im, addr, cfg, RPC_NCLIENTS, &many, res->err, sizeof res->err) != 0) {
			res->failed = true;
			goto out;
		}
		res->p50.v[res->p50.n++] = one.p50_ns / 1000.0;
		res->p99.v[res->p99.n++] = one.p99_ns / 1000.0;
		res->cps.v[res->cps.n++] = one.cps;
		res->cpsn.v[res->cpsn.n++] = many.cps;
	}
out:
	close(p[0]);
	kill(srv, SIGTERM);
	rpc_reap(srv, 3000);
}

/* ---- output -------------------------------------------------------------------------- */

static void
rpc_cell(char *buf, size_t cap, const bench_series *s, const char *fmt)
{
	bench_summary m = bench_summarize(s);
	char a[32], b[32], c[32];

	if (!m.valid) {
		snprintf(buf, cap, "-");
		return;
	}
	snprintf(a, sizeof a, fmt, m.med);
	snprintf(b, sizeof b, fmt, m.min);
	snprintf(c, sizeof c, fmt, m.max);
	snprintf(buf, cap, "%s [%s-%s]", a, b, c);
}

static double
rpc_med(const rpc_result *r, const bench_series *s)
{
	bench_summary m = bench_summarize(s);
	return r->failed || r->skipped || !m.valid ? NAN : m.med;
}

/* The targets: what one of them says of this run. */
typedef struct rpc_target {
	const char *what;
	int a, b;   /* rows: a's calls/s over b's */
	double min; /* the ratio wanted */
} rpc_target;

static const rpc_target rpc_targets[] = {
        {"ipcx tcp:// vs libtirpc TCP (calls/s)", 1, 4, 1.0},
        {"ipcx unix:// vs libtirpc AF_UNIX (calls/s)", 0, 3, 1.0},
        {"ipcx shm:// vs libtirpc TCP (calls/s)", 2, 4, 10.0},
};

int
bench_rpc_main(const bench_config *cfg, const bench_machine *m, const char *note)
{
	rpc_result res[RPC_NIMPLS];
	char dir[PATH_MAX], path[PATH_MAX + 32];
	const char *tmp = getenv("TMPDIR");
	struct sigaction sa, old_pipe;
	int nfailed = 0;

	snprintf(dir, sizeof dir, "%s/ipcx-bench-rpc.XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "ipcx bench: cannot make a private directory: %s\n",
		        strerror(errno));
		return IPCX_EXIT_RUNTIME;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN; /* a dead worker must not kill us through its pipe */
	sigaction(SIGPIPE, &sa, &old_pipe);
	if (cfg->format == BENCH_TABLE) {
		printf("ipcx bench --rpc: ONC RPC NULL calls (procedure 0: no arguments, no "
		       "results)\n"
		       "machine: %s, %ld CPUs (%ld allowed), %s; load %s\n"
		       "server on CPU %d, client(s) on CPU %d; %s: median of %d runs [min-max]; "
		       "p50/p99 and calls/s: one client calling sequentially; calls/s x%d: %d "
		       "client processes at once\n",
		       m->cpu_model, m->cpus_online, m->cpus_allowed, m->kernel, m->load,
		       cfg->cpu[0], cfg->cpu[1], cfg->quick ? "quick" : "full", cfg->runs,
		       RPC_NCLIENTS, RPC_NCLIENTS);
		if (note != NULL && note[0] != '\0') {
			printf("note: %s\n", note);
		}
		printf("\n%-11s %-8s %-22s %-22s %-26s %-26s\n", "row", "wire", "p50 us", "p99 us",
		       "calls/s", "calls/s x4");
		fflush(stdout);
	} else if (cfg->format == BENCH_CSV) {
		printf("row,wire,p50_us,p50_min,p50_max,p99_us,p99_min,p99_max,calls_s,calls_s_min,"
		       "calls_s_max,calls_s_x%d,status\n",
		       RPC_NCLIENTS);
	} else {
		printf("{\"rpc\": {\"runs\": %d, \"quick\": %s, \"clients\": %d, \"rows\": [",
		       cfg->runs, cfg->quick ? "true" : "false", RPC_NCLIENTS);
	}
	for (int i = 0; i < RPC_NIMPLS; i++) {
		const rpc_impl *im = &rpc_impls[i];
		bench_summary p50, p99, cps, cpsn;

		rpc_row(im, cfg, dir, &res[i]);
		nfailed += res[i].failed;
		p50 = bench_summarize(&res[i].p50);
		p99 = bench_summarize(&res[i].p99);
		cps = bench_summarize(&res[i].cps);
		cpsn = bench_summarize(&res[i].cpsn);
		if (cfg->format == BENCH_TABLE) {
			char a[128], b[128], c[128], d[128];
			if (res[i].failed || res[i].skipped) {
				printf("%-11s %-8s %s: %s\n", im->name, im->transport,
				       res[i].failed ? "FAILED" : "skipped", res[i].err);
			} else {
				rpc_cell(a, sizeof a, &res[i].p50, "%.1f");
				rpc_cell(b, sizeof b, &res[i].p99, "%.1f");
				rpc_cell(c, sizeof c, &res[i].cps, "%.0f");
				rpc_cell(d, sizeof d, &res[i].cpsn, "%.0f");
				printf("%-11s %-8s %-22s %-22s %-26s %-26s\n", im->name,
				       im->transport, a, b, c, d);
			}
			fflush(stdout);
		} else if (cfg->format == BENCH_CSV) {
			if (res[i].failed || res[i].skipped) {
				printf("%s,%s,,,,,,,,,,,%s\n", im->name, im->transport,
				       res[i].failed ? "failed" : "skipped");
			} else {
				printf("%s,%s,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.0f,%.0f,%.0f,%.0f,"
				       "ok\n",
				       im->name, im->transport, p50.med, p50.min, p50.max, p99.med,
				       p99.min, p99.max, cps.med, cps.min, cps.max, cpsn.med);
			}
		} else {
			printf("%s\n  {\"row\": \"%s\", \"wire\": \"%s\", \"status\": \"%s\"",
			       i ? "," : "", im->name, im->transport,
			       res[i].failed    ? "failed"
			       : res[i].skipped ? "skipped"
			                        : "ok");
			if (!res[i].failed && !res[i].skipped) {
				printf(", \"p50_us\": [%.2f, %.2f, %.2f], \"p99_us\": [%.2f, %.2f, "
				       "%.2f], "
				       "\"calls_s\": [%.0f, %.0f, %.0f], \"calls_s_x%d\": [%.0f, "
				       "%.0f, "
				       "%.0f]",
				       p50.med, p50.min, p50.max, p99.med, p99.min, p99.max,
				       cps.med, cps.min, cps.max, RPC_NCLIENTS, cpsn.med, cpsn.min,
				       cpsn.max);
			}
			printf("}");
		}
	}
	if (cfg->format == BENCH_JSON) {
		printf("\n], \"targets\": [");
	} else if (cfg->format == BENCH_TABLE) {
		printf("\ntargets:\n");
	}
	for (size_t t = 0; t < sizeof rpc_targets / sizeof rpc_targets[0]; t++) {
		const rpc_target *tg = &rpc_targets[t];
		double a = rpc_med(&res[tg->a], &res[tg->a].cps);
		double b = rpc_med(&res[tg->b], &res[tg->b].cps);
		double x = a / b;
		const char *st = isnan(x) ? "not measured" : x >= tg->min ? "met" : "NOT met";
		if (cfg->format == BENCH_TABLE) {
			printf("  %-44s >= %4.1fx: ", tg->what, tg->min);
			if (isnan(x)) {
				printf("not measured (%s)\n",
				       res[tg->a].err[0] ? res[tg->a].err : res[tg->b].err);
			} else {
				printf("%.2fx (%.0f vs %.0f calls/s), %s\n", x, a, b, st);
			}
		} else if (cfg->format == BENCH_CSV) {
			printf("target,\"%s\",%.1f,%.3f,%s\n", tg->what, tg->min,
			       isnan(x) ? 0.0 : x, st);
		} else {
			char ratio[32];
			snprintf(ratio, sizeof ratio, isnan(x) ? "null" : "%.3f", x);
			printf("%s\n  {\"target\": \"%s\", \"min\": %.1f, \"ratio\": %s, "
			       "\"status\": \"%s\"}",
			       t ? "," : "", tg->what, tg->min, ratio, st);
		}
	}
	if (cfg->format == BENCH_JSON) {
		printf("\n]}}\n");
	}
	fflush(stdout);
	for (int i = 0; i < RPC_NIMPLS; i++) {
		if (rpc_impls[i].tmpl != NULL && strncmp(rpc_impls[i].tmpl, "%D", 2) == 0) {
			rpc_expand(path, sizeof path, rpc_impls[i].tmpl, dir);
			unlink(path);
		} else if (rpc_impls[i].tmpl != NULL &&
		           strncmp(rpc_impls[i].tmpl, "unix://", 7) == 0) {
			rpc_expand(path, sizeof path, rpc_impls[i].tmpl + 7, dir);
			unlink(path);
		}
	}
	rmdir(dir);
	sigaction(SIGPIPE, &old_pipe, NULL);
	return nfailed > 0 ? IPCX_EXIT_RUNTIME : IPCX_EXIT_OK;
}
