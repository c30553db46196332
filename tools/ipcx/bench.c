/*
 * bench.c - `ipcx bench`: for each scheme and size, ping-pong latency and one-way throughput
 * between two pinned processes, beside the raw-syscall baseline of the same job in the same run.
 */
#include "bench_int.h"
#include "bench_rpc.h"
#include "cmd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Where a scheme's figures go: a row of its own (ipcx beside its raw baseline), or one row
 * per size shared by a group, whose members are measured back to back. */
enum bench_group { BENCH_OWN, BENCH_GROUP_SHM, BENCH_GROUP_PEERS, BENCH_NGROUPS };

static const char *const bench_group_names[BENCH_NGROUPS] = {"", "shared memory", "peers"};

/* Round trips of this size and up carry a payload worth copying: they are held to the naive
 * ring (which copies it too), smaller ones to the floor of a wake-up. Streams from BENCH_BIG
 * up are held to memcpy, smaller ones to the naive ring: there copying is the whole cost. */
#define BENCH_RTT_BIG ((size_t)1024)
#define BENCH_BIG     ((size_t)1 << 20)

/* The schemes, in output order. A new scheme is one line here plus its implementations. */
typedef struct bench_scheme {
	const char *name;  /* --scheme name and row label */
	const char *alias; /* another accepted --scheme name, or NULL */
	const char *url;   /* the URL form, for the output */
	/* own rows: both; group members: ipcx (shm://, a peer) or base (a baseline) */
	const bench_impl *ipcx, *base;
	size_t max_msg;    /* 0: BENCH_MAX_SIZE */
	const char *limit; /* why larger messages are skipped */
	/* or, where the limit is the system's: the largest message and why (optional) */
	size_t (*max_fn)(char *why, size_t cap);
	int group; /* enum bench_group */
	/* group members: the members their x is against, by name (NULL: none): round trips
	 * below and from BENCH_RTT_BIG, streams below and from BENCH_BIG */
	const char *ref_rtt, *ref_rtt_big, *ref_mps, *ref_big;
} bench_scheme;

static size_t
bench_mq_max(char *why, size_t cap)
{
	long depth, msgsize;

	bench_mq_shape(&depth, &msgsize);
	snprintf(why, cap,
	         "an mq message holds at most fs.mqueue.msgsize_max = %ld B, the msgsize of "
	         "mq://'s queues",
	         msgsize);
	return (size_t)msgsize;
}

static size_t
bench_sysvmq_max(char *why, size_t cap)
{
	size_t max = bench_sysv_msgmax();

	snprintf(why, cap,
	         "a System V message holds at most min(kernel.msgmax, msgmnb) = %zu B, "
	         "less sysvmq://'s 1-byte header",
	         max);
	return max > 0 ? max - 1 : 0;
}

/* A scheme with a row of its own, beside its raw baseline. */
#define BENCH_ROW(n, al, u, impl, raw, max, lim, fn)                                         \
	{                                                                                    \
		.name = n, .alias = al, .url = u, .ipcx = impl, .base = raw, .max_msg = max, \
		.limit = lim, .max_fn = fn, .group = BENCH_OWN                               \
	}
/* Group members: shm:// held to a wake-up floor (small round trips), the naive ring (larger
 * round trips, smaller streams) and memcpy (streams from BENCH_BIG); the baselines; peers.
 * A sleeping round trip (wait=block) has no baseline once it carries a payload. */
#define BENCH_SHM(n, al, u, impl, floor, floor_big)                                                \
	{                                                                                          \
		.name = n, .alias = al, .url = u, .ipcx = impl, .group = BENCH_GROUP_SHM,          \
		.ref_rtt = floor, .ref_rtt_big = floor_big, .ref_mps = "ring", .ref_big = "memcpy" \
	}
#define BENCH_BASE(n, u, impl)                                              \
	{                                                                   \
		.name = n, .url = u, .base = impl, .group = BENCH_GROUP_SHM \
	}
#define BENCH_PEER(n, u, impl)                                                \
	{                                                                     \
		.name = n, .url = u, .ipcx = impl, .group = BENCH_GROUP_PEERS \
	}

static const bench_scheme bench_schemes[] = {
        BENCH_ROW("pipe", NULL, "pipe: (ipcx_pair)", &bench_ipcx_pipe, &bench_raw_pipe, 0, NULL,
                  NULL),
        BENCH_ROW("fifo", NULL, "fifo:///path", &bench_ipcx_fifo, &bench_raw_fifo, 0, NULL, NULL),
        BENCH_ROW("unix", NULL, "unix:///path", &bench_ipcx_unix, &bench_raw_seqpacket, 0, NULL,
                  NULL),
        BENCH_ROW("unix@", "unix-abstract", "unix:@name", &bench_ipcx_unix_abs,
                  &bench_raw_seqpacket_abs, 0, NULL, NULL),
        BENCH_ROW("tcp", NULL, "tcp://127.0.0.1:port", &bench_ipcx_tcp, &bench_raw_tcp, 0, NULL,
                  NULL),
        /* the same, retrying before they poll, against the same blocking baselines */
        BENCH_ROW("unix@adaptive", "unix-adaptive", "unix:///path?wait=adaptive",
                  &bench_ipcx_unix_adaptive, &bench_raw_seqpacket, 0, NULL, NULL),
        BENCH_ROW("tcp@adaptive", "tcp-adaptive", "tcp://127.0.0.1:port?wait=adaptive",
                  &bench_ipcx_tcp_adaptive, &bench_raw_tcp, 0, NULL, NULL),
        BENCH_ROW("udp", NULL, "udp://127.0.0.1:port", &bench_ipcx_udp, &bench_raw_udp,
                  BENCH_UDP_MAX, "a UDP datagram carries at most 65507 B", NULL),
        BENCH_ROW("mq", NULL, "mq:///name", &bench_ipcx_mq, &bench_raw_mq, 0, NULL, bench_mq_max),
        BENCH_ROW("sysvmq", NULL, "sysvmq:///path?proj=N", &bench_ipcx_sysvmq, &bench_raw_sysvmq, 0,
                  NULL, bench_sysvmq_max),
        BENCH_ROW("file", NULL, "file:///path", &bench_ipcx_file, &bench_raw_file, 0, NULL, NULL),
        BENCH_ROW("file+sync", "filesync", "file:///path?sync=always", &bench_ipcx_file_sync,
                  &bench_raw_file_sync, 0, NULL, NULL),
        /* shm:// in each wait mode and zero-copy, then what it is held to */
        BENCH_SHM("shm", NULL, "shm://name", &bench_ipcx_shm, "floor", "ring"),
        BENCH_SHM("shm@spin", NULL, "shm://name?wait=spin", &bench_ipcx_shm_spin, "floor", "ring"),
        BENCH_SHM("shm@block", NULL, "shm://name?wait=block", &bench_ipcx_shm_block, "futex", NULL),
        BENCH_SHM("shm+loan", "shm-loan", "shm://name, ipcx_loan/ipcx_recv_view",
                  &bench_ipcx_shm_loan, "floor", "ring"),
        BENCH_BASE("floor", "one cache line in MAP_SHARED, spinning", &bench_base_floor),
        BENCH_BASE("futex", "FUTEX_WAIT/FUTEX_WAKE on a shared word", &bench_base_futex),
        BENCH_BASE("ring", "naive SPSC ring in MAP_SHARED", &bench_base_ring),
        BENCH_BASE("memcpy", "memcpy in one thread", &bench_base_memcpy),
        /* --peers */
        BENCH_PEER("nng-ipc", "nng pair0 ipc://", &bench_peer_nng_ipc),
        BENCH_PEER("nng-tcp", "nng pair0 tcp://127.0.0.1", &bench_peer_nng_tcp),
        BENCH_PEER("zmq-ipc", "ZeroMQ PAIR ipc://", &bench_peer_zmq_ipc),
        BENCH_PEER("zmq-tcp", "ZeroMQ PAIR tcp://127.0.0.1", &bench_peer_zmq_tcp),
        BENCH_PEER("iceoryx", "iceoryx 2 pub/sub, zero-copy, busy polling", &bench_peer_iox),
};
#define BENCH_NSCHEMES  (sizeof bench_schemes / sizeof bench_schemes[0])
#define BENCH_MAX_SIZES 16

static const size_t bench_default_sizes[] = {64, 4096, (size_t)1 << 20};

/* One pair of workers as the parent sees it. */
typedef struct bench_pair {
	bench_ctx cx;
	pid_t pid[2];
	int cmd[2]; /* parent's write ends */
	int rep[2]; /* parent's read ends */
	bool up;
	bool clean;   /* both workers quit by themselves, with status 0 */
	bool cleaned; /* pair_cleanup ran */
} bench_pair;

typedef struct bench_run {
	const bench_config *cfg;
	char tmpdir[PATH_MAX];
	unsigned serial;
	bool tty;
	bench_pair pairs[BENCH_IMPLS]; /* the pairs alive at one time */
	bench_iox_daemon iox;          /* iceoryx's RouDi while the peers run */
	int iox_rv;                    /* why iceoryx cannot run: 0, or a code ... */
	char iox_err[BENCH_ERR_MAX];   /* ... and the reason */
	int row, nrows;
	char label[64]; /* "pipe 64 B" */
	int jfd;        /* write end of the janitor's pipe, or -1 */
	pid_t janitor;
	pid_t self; /* this process: the owner in every pair's names */
} bench_run;

/* What the janitor is told of each worker as it is forked (a pipe write of this size is
 * atomic). The janitor is a fork of this process: the implementation pointer is valid there.
 * serial 0 says the run ended and cleaned up after itself. */
typedef struct bench_jrec {
	unsigned serial;
	const bench_impl *impl;
	pid_t pid[2];
	int64_t started;
} bench_jrec;

static volatile sig_atomic_t bench_interrupted;

static void
bench_on_signal(int sig)
{
	(void)sig;
	bench_interrupted = 1;
}

const char *
bench_strerror(int err)
{
	const char *s = ipcx_strerror(err);

	/* The library's text where it knows the code, else the C library's. */
	if (err <= -3000 || err >= 0 || strcmp(s, ipcx_strerror(IPCX_EUNKNOWN)) != 0) {
		return s;
	}
	return strerror(-err);
}

int
bench_expand(char *out, size_t cap, const char *tmpl, const bench_ctx *cx)
{
	size_t n = 0;

	for (const char *p = tmpl; *p != '\0'; p++) {
		char tmp[64];
		const char *ins = tmp;
		int k;
		if (p[0] == '%' && p[1] == 'D') {
			ins = cx->tmpdir;
		} else if (p[0] == '%' && p[1] == 'P') {
			snprintf(tmp, sizeof tmp, "%ld", (long)cx->owner);
		} else if (p[0] == '%' && p[1] == 'N') {
			snprintf(tmp, sizeof tmp, "%u", cx->serial);
		} else {
			tmp[0] = *p;
			tmp[1] = '\0';
			p--;
		}
		p++;
		k = snprintf(out + n, cap - n, "%s", ins);
		if (k < 0 || (size_t)k >= cap - n) {
			return IPCX_ENAMETOOLONG;
		}
		n += (size_t)k;
	}
	return 0;
}

static void
bench_progress(bench_run *br, const char *fmt, ...)
{
	va_list ap;

	if (!br->tty) {
		return;
	}
	fprintf(stderr, "\r\033[K[%d/%d] %s | ", br->row, br->nrows, br->label);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
}

static void
bench_progress_clear(bench_run *br)
{
	if (br->tty) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
}

/* ---- worker pairs ------------------------------------------------------------------- */

static void
pair_close_fds(bench_pair *p)
{
	for (int r = 0; r < 2; r++) {
		if (p->cmd[r] >= 0) {
			close(p->cmd[r]);
		}
		if (p->rep[r] >= 0) {
			close(p->rep[r]);
		}
		p->cmd[r] = p->rep[r] = -1;
	}
}

/* Is an object ipcx listed one this pair may have made? Only kinds whose creator ipcx
 * knows from its registry alone (the private one of this run: nobody else writes it) are
 * matched by creator pid; files of any kind only inside the private directory. */
static bool
pair_owns(const bench_pair *p, const ipcx_obj_info *o)
{
	const char *colon = strchr(o->name, ':');
	size_t n = strlen(p->cx.tmpdir);

	switch (o->kind) {
	case IPCX_OBJ_POSIX_MQ:
	case IPCX_OBJ_POSIX_SEM:
	case IPCX_OBJ_SYSV_MSG:
	case IPCX_OBJ_SYSV_SEM:
		return o->creator > 0 && (o->creator == p->cx.pid[0] || o->creator == p->cx.pid[1]);
	default:
		return colon != NULL && strncmp(colon + 1, p->cx.tmpdir, n) == 0 &&
		       colon[1 + n] == '/';
	}
}

/* Once both workers are gone: remove what the pair may have left behind — the names its
 * implementation derives (raw baselines), and whatever ipcx recorded in the run's private
 * registry as made by one of its workers. Something left by workers that closed normally
 * would be a leak of the library: say so. */
static void
pair_cleanup(bench_pair *p)
{
	ipcx_obj_info *v = NULL;
	size_t n = 0;

	if (p->cx.impl == NULL || p->cleaned) {
		return;
	}
	p->cleaned = true;
	if (p->cx.impl->cleanup != NULL) {
		p->cx.impl->cleanup(&p->cx);
	}
	if ((p->cx.pid[0] <= 0 && p->cx.pid[1] <= 0) || ipcx_obj_list(&v, &n, 0) != 0) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int rv;
		if (!pair_owns(p, &v[i])) {
			continue;
		}
		rv = ipcx_obj_remove(v[i].name);
		if (p->clean) {
			fprintf(stderr,
			        "ipcx bench: note: %s left %s behind although its workers closed "
			        "normally (%s)\n",
			        p->cx.impl->name, v[i].name,
			        rv == 0 ? "removed" : bench_strerror(rv));
		}
	}
	free(v);
}

static void
pair_kill(bench_pair *p)
{
	for (int r = 0; r < 2; r++) {
		if (p->pid[r] > 0) {
			kill(p->pid[r], SIGKILL);
		}
	}
	for (int r = 0; r < 2; r++) {
		if (p->pid[r] > 0) {
			while (waitpid(p->pid[r], NULL, 0) == -1 && errno == EINTR) {
			}
			p->pid[r] = 0;
		}
	}
	pair_close_fds(p);
	p->up = false;
	pair_cleanup(p);
}

/* Ask both workers to quit and reap them; whoever lingers is killed. */
static void
pair_quit(bench_pair *p)
{
	bench_cmd cmd = {.op = BENCH_OP_QUIT};
	int64_t deadline = bench_now() + 2000000000;
	int clean = 0;

	for (int r = 0; r < 2; r++) {
		if (p->cmd[r] >= 0 && write(p->cmd[r], &cmd, sizeof cmd) != (ssize_t)sizeof cmd) {
			continue; /* gone already; reaped below */
		}
	}
	for (int r = 0; r < 2; r++) {
		while (p->pid[r] > 0 && bench_now() < deadline) {
			int st;
			pid_t w = waitpid(p->pid[r], &st, WNOHANG);
			if (w == p->pid[r] || (w == -1 && errno != EINTR)) {
				clean += w == p->pid[r] && WIFEXITED(st) && WEXITSTATUS(st) == 0;
				p->pid[r] = 0;
				break;
			}
			struct timespec ms = {0, 1000000};
			nanosleep(&ms, NULL);
		}
	}
	p->clean = clean == 2;
	pair_kill(p); /* kills and reaps only what is still there; closes the fds, cleans up */
}

/* How a worker that stopped talking ended, for the error line. */
static void
pair_describe_death(bench_pair *p, int role, char *err, size_t cap)
{
	int st;
	pid_t w;

	do {
		w = waitpid(p->pid[role], &st, 0);
	} while (w == -1 && errno == EINTR);
	if (w != p->pid[role]) {
		snprintf(err, cap, "worker %c vanished", 'A' + role);
		return;
	}
	p->pid[role] = 0;
	if (WIFSIGNALED(st)) {
		snprintf(err, cap, "worker %c killed by signal %d (%s)", 'A' + role, WTERMSIG(st),
		         strsignal(WTERMSIG(st)));
	} else {
		snprintf(err, cap, "worker %c exited with status %d", 'A' + role, WEXITSTATUS(st));
	}
}

/* Wait until each worker in mask has reported, or the deadline passes. A report with an
 * error, a worker's death or the deadline fail the wait with a message in err. */
static int
pair_wait(bench_pair *p, unsigned mask, bench_rep rep[2], int64_t deadline, char *err, size_t cap)
{
	unsigned got = 0;

	while ((got & mask) != mask) {
		struct pollfd pfd[2];
		int map[2], n = 0, k;
		int64_t left = deadline - bench_now();

		if (bench_interrupted) {
			snprintf(err, cap, "interrupted");
			return IPCX_EINTR;
		}
		for (int r = 0; r < 2; r++) {
			if ((mask & (1u << r)) && !(got & (1u << r))) {
				pfd[n].fd = p->rep[r];
				pfd[n].events = POLLIN;
				map[n++] = r;
			}
		}
		if (left <= 0) {
			snprintf(err, cap, "no answer from worker %c before the deadline (killed)",
			         'A' + map[0]);
			return IPCX_ETIMEDOUT;
		}
		k = poll(pfd, (nfds_t)n, (int)((left + 999999) / 1000000));
		if (k < 0) {
			if (errno == EINTR) {
				continue;
			}
			snprintf(err, cap, "poll: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			int r = map[i];
			ssize_t m;
			if (pfd[i].revents == 0) {
				continue;
			}
			do {
				m = read(p->rep[r], &rep[r], sizeof rep[r]);
			} while (m == -1 && errno == EINTR);
			if (m != (ssize_t)sizeof rep[r]) {
				pair_describe_death(p, r, err, cap);
				return IPCX_ECLOSED;
			}
			if (rep[r].status != 0) {
				snprintf(err, cap, "%s", rep[r].err);
				return rep[r].status;
			}
			got |= 1u << r;
		}
	}
	return 0;
}

static int64_t
pair_grace_ns(const bench_config *cfg)
{
	/* A worker's own waits are bounded by the timeout; allow for two of them and slack.
	 * Without a timeout the parent is the only watchdog. */
	int64_t t = cfg->timeout_ms < 0 ? 30000 : 2 * (int64_t)cfg->timeout_ms;

	return (t + 3000) * 1000000;
}

static int
pair_spawn(bench_run *br, bench_pair *p, int role, char *err, size_t cap)
{
	int cmdp[2], repp[2];
	pid_t pid;

	if (pipe2(cmdp, O_CLOEXEC) == -1) {
		snprintf(err, cap, "pipe2: %s", strerror(errno));
		return -errno;
	}
	if (pipe2(repp, O_CLOEXEC) == -1) {
		int e = errno;
		close(cmdp[0]);
		close(cmdp[1]);
		snprintf(err, cap, "pipe2: %s", strerror(e));
		return -e;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		int e = errno;
		close(cmdp[0]);
		close(cmdp[1]);
		close(repp[0]);
		close(repp[1]);
		snprintf(err, cap, "fork: %s", strerror(e));
		return -e;
	}
	if (pid == 0) {
		/* Only this worker's own ends stay open, so that a dead worker reads as EOF. */
		for (int i = 0; i < BENCH_IMPLS; i++) {
			pair_close_fds(&br->pairs[i]);
		}
		if (br->jfd >= 0) {
			close(br->jfd);
		}
		close(cmdp[1]);
		close(repp[0]);
		bench_worker(role, &p->cx, cmdp[0], repp[1], br->cfg->cpu[role]);
	}
	close(cmdp[0]);
	close(repp[1]);
	p->pid[role] = pid;
	p->cx.pid[role] = pid;
	if (br->jfd >= 0) {
		bench_jrec j = {
		        p->cx.serial, p->cx.impl, {p->cx.pid[0], p->cx.pid[1]}, p->cx.started};
		ssize_t n = write(br->jfd, &j, sizeof j);
		(void)n; /* a janitor that is gone cannot help; the run goes on without it */
	}
	p->cmd[role] = cmdp[1];
	p->rep[role] = repp[0];
	return 0;
}

/* Fork worker A, learn its address, fork worker B, wait until both are connected. */
static int
pair_start(bench_run *br, bench_pair *p, const bench_impl *impl, size_t size, bench_rep *conn,
           char *err, size_t cap)
{
	char why[BENCH_ERR_MAX] = "";
	bench_rep rep[2];
	int rv;

	memset(p, 0, sizeof *p);
	for (int r = 0; r < 2; r++) {
		p->cmd[r] = p->rep[r] = -1;
	}
	p->cx.impl = impl;
	p->cx.tmpdir = br->tmpdir;
	p->cx.owner = getpid();
	p->cx.serial = ++br->serial;
	p->cx.timeout_ms = br->cfg->timeout_ms;
	p->cx.msg_size = size;
	p->cx.started = (int64_t)time(NULL);
	p->cx.lfd = -1;
	for (int i = 0; i < 4; i++) {
		p->cx.fds[i] = -1;
	}
	if (impl->prepare != NULL && (rv = impl->prepare(&p->cx, why)) != 0) {
		snprintf(err, cap, "setup: %s: %s", why, bench_strerror(rv));
		return rv;
	}
	rv = pair_spawn(br, p, BENCH_ROLE_A, err, cap);
	if (rv == 0) {
		rv = pair_wait(p, 1u << BENCH_ROLE_A, rep, bench_now() + pair_grace_ns(br->cfg),
		               err, cap);
	}
	if (rv == 0) {
		snprintf(p->cx.addr, sizeof p->cx.addr, "%s", rep[BENCH_ROLE_A].addr);
		rv = pair_spawn(br, p, BENCH_ROLE_B, err, cap);
	}
	if (impl->release != NULL) {
		impl->release(&p->cx);
	}
	if (rv == 0) {
		rv = pair_wait(p, 3u, rep, bench_now() + pair_grace_ns(br->cfg), err, cap);
	}
	if (rv != 0) {
		pair_kill(p);
		return rv;
	}
	*conn = rep[BENCH_ROLE_B];
	p->up = true;
	return 0;
}

/* Run one command on both workers of a pair; B's report carries the measurement. */
static int
pair_phase(bench_run *br, bench_pair *p, const bench_cmd *cmd, bench_rep *out, char *err,
           size_t cap)
{
	bench_rep rep[2];
	int64_t a_cpu;
	int rv;

	for (int r = 0; r < 2; r++) {
		if (write(p->cmd[r], cmd, sizeof *cmd) != (ssize_t)sizeof *cmd) {
			pair_describe_death(p, r, err, cap);
			return IPCX_ECLOSED;
		}
	}
	rv = pair_wait(p, 3u, rep, bench_now() + cmd->max_ns + pair_grace_ns(br->cfg), err, cap);
	a_cpu = rep[BENCH_ROLE_A].cpu_ns;
	if (rv == 0 && (p->cx.impl->flags & BENCH_LOSSY)) {
		/* B is done sending; on loopback every datagram it sent is queued by now. */
		bench_cmd drain = {.op = BENCH_OP_DRAIN, .size = cmd->size};
		if (write(p->cmd[BENCH_ROLE_A], &drain, sizeof drain) != (ssize_t)sizeof drain) {
			pair_describe_death(p, BENCH_ROLE_A, err, cap);
			return IPCX_ECLOSED;
		}
		rv = pair_wait(p, 1u << BENCH_ROLE_A, rep, bench_now() + pair_grace_ns(br->cfg),
		               err, cap);
	}
	*out = rep[BENCH_ROLE_B];
	out->cpu_ns += a_cpu;
	return rv;
}

/* ---- one row: a scheme at one size, ipcx and its baseline interleaved ------------------ */

static void
bench_fail(bench_pair *p, bench_result *res, const char *what, const char *why)
{
	if (!res->failed) {
		res->failed = true;
		snprintf(res->err, sizeof res->err, "%s: %s", what, why);
	}
	if (p != NULL) {
		pair_kill(p);
	}
}

static void
bench_record(bench_result *res, const bench_rep *rep, int op, size_t size)
{
	double cpu =
	        rep->elapsed_ns > 0 ? 100.0 * (double)rep->cpu_ns / (double)rep->elapsed_ns : 0;

	if (op == BENCH_OP_PING) {
		res->cpu_ping.v[res->cpu_ping.n++] = cpu;
		res->p50.v[res->p50.n++] = rep->p50_ns / 1e3;
		res->p99.v[res->p99.n++] = rep->p99_ns / 1e3;
		res->p999.v[res->p999.n++] = rep->p999_ns / 1e3;
		res->samples += rep->count;
	} else {
		double secs = (double)rep->elapsed_ns / 1e9;
		res->cpu_stream.v[res->cpu_stream.n++] = cpu;
		res->mps.v[res->mps.n++] = (double)rep->recvd / secs;
		res->mbps.v[res->mbps.n++] = (double)rep->recvd * (double)size / secs / 1e6;
		res->loss.v[res->loss.n++] =
		        rep->count ? 100.0 * (double)(rep->count - rep->recvd) / (double)rep->count
		                   : 0;
	}
}

static void
bench_one_phase(bench_run *br, int k, const bench_cmd *tmpl, int op, size_t size, bool record,
                bench_row *row, const char *what)
{
	bench_pair *p = &br->pairs[k];
	bench_result *res = &row->res[k];
	char err[BENCH_ERR_MAX + 64];
	bench_cmd cmd = *tmpl;
	bench_rep rep;
	int rv;

	if (!p->up || !(op == BENCH_OP_PING ? res->want_ping : res->want_stream)) {
		return;
	}
	cmd.op = op;
	cmd.size = size;
	bench_progress(br, "%s | %s", res->impl->name, what);
	if ((rv = pair_phase(br, p, &cmd, &rep, err, sizeof err)) != 0) {
		bench_fail(p, res, what, err);
		return;
	}
	if (record) {
		bench_record(res, &rep, op, size);
	}
}

/* Measure every result of a row (its impl, label, kind and wanted phases are set). */
static void
bench_measure(bench_run *br, size_t size, bench_row *row)
{
	const bench_config *cfg = br->cfg;
	int n = row->nres;
	char what[64];

	for (int k = 0; k < n; k++) {
		char err[BENCH_ERR_MAX + 64];
		bench_result *res = &row->res[k];
		bench_rep rep;
		if (res->skipped || res->failed) {
			continue;
		}
		bench_progress(br, "%s | connecting", res->impl->name);
		if (pair_start(br, &br->pairs[k], res->impl, size, &rep, err, sizeof err) != 0) {
			bench_fail(NULL, res, "setup", err);
		} else {
			res->loan_max = rep.loan_max;
		}
	}
	for (int k = 0; k < n; k++) {
		bench_one_phase(br, k, &cfg->warm_ping, BENCH_OP_PING, size, false, row,
		                "warm-up ping-pong");
		bench_one_phase(br, k, &cfg->warm_stream, BENCH_OP_STREAM, size, false, row,
		                "warm-up stream");
	}
	/* Interleave the implementations, alternating the order, so that drift on a shared
	 * machine hits them alike. */
	for (int r = 0; r < cfg->runs && !bench_interrupted; r++) {
		for (int j = 0; j < n; j++) {
			int k = r % 2 ? n - 1 - j : j;
			snprintf(what, sizeof what, "run %d/%d ping-pong", r + 1, cfg->runs);
			bench_one_phase(br, k, &cfg->ping, BENCH_OP_PING, size, true, row, what);
		}
		for (int j = 0; j < n; j++) {
			int k = r % 2 ? n - 1 - j : j;
			snprintf(what, sizeof what, "run %d/%d stream", r + 1, cfg->runs);
			bench_one_phase(br, k, &cfg->stream, BENCH_OP_STREAM, size, true, row,
			                what);
		}
	}
	for (int k = 0; k < n; k++) {
		if (br->pairs[k].up) {
			pair_quit(&br->pairs[k]);
		}
	}
}

/* A scheme's own row: ipcx beside its raw baseline, both phases. */
static void
bench_own_row(const bench_scheme *sc, bench_row *row)
{
	row->nres = 2;
	for (int k = 0; k < 2; k++) {
		bench_result *r = &row->res[k];
		r->impl = k == 0 ? sc->ipcx : sc->base;
		r->label = sc->name;
		r->kind = k == 0 ? BENCH_KIND_IPCX : BENCH_KIND_BASE;
		r->ref_rtt = r->ref_mps = k == 0 ? 1 : -1;
		r->want_ping = r->want_stream = true;
	}
}

static int
bench_scheme_find(const char *name)
{
	for (size_t i = 0; name != NULL && i < BENCH_NSCHEMES; i++) {
		if (strcmp(bench_schemes[i].name, name) == 0) {
			return (int)i;
		}
	}
	return -1;
}

/* The largest message a scheme carries, and why (for the "skipped" line). */
static size_t
bench_scheme_max(const bench_scheme *sc, char *why, size_t cap)
{
	const bench_impl *impl = sc->ipcx != NULL ? sc->ipcx : sc->base;
	size_t max = sc->max_msg ? sc->max_msg : impl->max_msg ? impl->max_msg : BENCH_MAX_SIZE;

	snprintf(why, cap, "%s", sc->limit != NULL ? sc->limit : "");
	if (sc->max_fn != NULL) {
		max = sc->max_fn(why, cap);
	}
	return max;
}

/* A group's row at one size: the members selected, and the members they are held to at
 * this size (measured only in the phase that needs them). Peers that were not built are
 * left out (said once at the start). 0 members: no row. */
static int
bench_group_row(const bool *sel, int group, size_t size, bench_row *row)
{
	bool use[BENCH_NSCHEMES] = {false}, ping[BENCH_NSCHEMES] = {false},
	     stream[BENCH_NSCHEMES] = {false};
	int at[BENCH_NSCHEMES];

	for (size_t i = 0; i < BENCH_NSCHEMES; i++) {
		const bench_scheme *sc = &bench_schemes[i];
		const bench_impl *impl = sc->ipcx != NULL ? sc->ipcx : sc->base;
		int r;
		if (sc->group != group || !sel[i] || impl->missing != NULL) {
			continue;
		}
		use[i] = true;
		ping[i] = !(impl->flags & BENCH_NO_PING);
		stream[i] = !(impl->flags & BENCH_NO_STREAM);
		if ((r = bench_scheme_find(size >= BENCH_RTT_BIG ? sc->ref_rtt_big
		                                                 : sc->ref_rtt)) >= 0) {
			use[r] = ping[r] = true;
		}
		if ((r = bench_scheme_find(size >= BENCH_BIG ? sc->ref_big : sc->ref_mps)) >= 0) {
			use[r] = stream[r] = true;
		}
	}
	row->nres = 0;
	row->group = true;
	row->scheme = bench_group_names[group];
	row->url = "";
	row->size = size;
	for (size_t i = 0; i < BENCH_NSCHEMES && row->nres < BENCH_IMPLS; i++) {
		const bench_scheme *sc = &bench_schemes[i];
		bench_result *r = &row->res[row->nres];
		char why[160];
		at[i] = -1;
		if (!use[i]) {
			continue;
		}
		at[i] = row->nres++;
		r->impl = sc->ipcx != NULL ? sc->ipcx : sc->base;
		r->label = sc->name;
		r->kind = group == BENCH_GROUP_PEERS ? BENCH_KIND_PEER
		          : sc->ipcx != NULL         ? BENCH_KIND_IPCX
		                                     : BENCH_KIND_BASE;
		r->want_ping = ping[i] && !(r->impl->flags & BENCH_NO_PING);
		r->want_stream = stream[i] && !(r->impl->flags & BENCH_NO_STREAM);
		if (size > bench_scheme_max(sc, why, sizeof why)) {
			r->skipped = true;
			snprintf(r->err, sizeof r->err, "%s", why);
		}
	}
	for (size_t i = 0; i < BENCH_NSCHEMES; i++) {
		const bench_scheme *sc = &bench_schemes[i];
		int a, b;
		if (at[i] < 0) {
			continue;
		}
		a = bench_scheme_find(size >= BENCH_RTT_BIG ? sc->ref_rtt_big : sc->ref_rtt);
		b = bench_scheme_find(size >= BENCH_BIG ? sc->ref_big : sc->ref_mps);
		row->res[at[i]].ref_rtt = a >= 0 ? at[a] : -1;
		row->res[at[i]].ref_mps = b >= 0 ? at[b] : -1;
	}
	return row->nres;
}

/* ---- the private directory for names ------------------------------------------------ */

static int
bench_tmpdir_make(bench_run *br)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || base[0] == '\0') {
		base = "/tmp";
	}
	if ((size_t)snprintf(br->tmpdir, sizeof br->tmpdir, "%s/ipcx-bench.XXXXXX", base) >=
	    sizeof br->tmpdir) {
		return IPCX_ENAMETOOLONG;
	}
	if (mkdtemp(br->tmpdir) == NULL) {
		return -errno;
	}
	return 0;
}

/* Empty a directory we made (files, and the registry directory ipcx may make in it). */
static void
bench_rm_contents(int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;

	if (d == NULL) {
		close(dfd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		if (unlinkat(dirfd(d), e->d_name, 0) == -1 && errno == EISDIR && depth < 4) {
			int sub = openat(dirfd(d), e->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				bench_rm_contents(sub, depth + 1);
			}
			unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
		}
	}
	closedir(d);
}

/* Remove whatever a killed worker left behind, then the directory. */
static void
bench_tmpdir_remove(bench_run *br)
{
	int dfd = open(br->tmpdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd >= 0) {
		bench_rm_contents(dfd, 0);
	}
	if (rmdir(br->tmpdir) == -1) {
		fprintf(stderr, "ipcx bench: cannot remove %s: %s\n", br->tmpdir, strerror(errno));
	}
}

/* ---- the janitor: cleanup when this process dies without doing it ------------------------ */

/* Wait (bounded) until each worker told of has exited: they die of PR_SET_PDEATHSIG with
 * the parent, but not at the same instant. A pidfd is readable once its process has exited
 * (a zombie's objects are what they will be); without pidfds, kill(pid, 0) is asked. */
static void
janitor_wait_workers(const bench_jrec *j, size_t n)
{
	int64_t deadline = bench_now() + 3000000000LL;

	for (size_t i = 0; i < n; i++) {
		for (int r = 0; r < 2; r++) {
			pid_t pid = j[i].pid[r];
			int fd = -1;
			if (pid <= 0) {
				continue;
			}
#ifdef SYS_pidfd_open
			fd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
			while (bench_now() < deadline) {
				if (fd >= 0) {
					struct pollfd pfd = {.fd = fd, .events = POLLIN};
					int left = (int)((deadline - bench_now()) / 1000000) + 1;
					if (poll(&pfd, 1, left) != -1 || errno != EINTR) {
						break;
					}
				} else {
					struct timespec ms = {0, 2000000};
					if (kill(pid, 0) == -1) {
						break;
					}
					nanosleep(&ms, NULL);
				}
			}
			if (fd >= 0) {
				close(fd);
			}
		}
	}
}

/* The janitor's life: collect what the parent tells of its workers; at end-of-file without
 * the parent's "done" (it was killed, by SIGKILL too), remove what the pairs may have left
 * and the private directory. It has its own process group, so that a signal to the bench's
 * (Ctrl-C, kill -9 -PGID) does not reach it, and it ignores the others. */
static _Noreturn void
janitor_main(bench_run *br, int rfd)
{
	bench_jrec *j = NULL, rec;
	size_t n = 0, cap = 0;
	bool done = false;
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	setpgid(0, 0);
	for (;;) {
		ssize_t k = read(rfd, &rec, sizeof rec);
		if (k == -1 && errno == EINTR) {
			continue;
		}
		if (k != (ssize_t)sizeof rec) {
			break; /* end of file: the parent is gone */
		}
		if (rec.serial == 0) {
			done = true;
			continue;
		}
		if (rec.serial == UINT_MAX) { /* a daemon (RouDi): the latest word on it counts */
			size_t kept = 0;
			for (size_t i = 0; i < n; i++) {
				if (j[i].serial != UINT_MAX) {
					j[kept++] = j[i];
				}
			}
			n = kept;
			if (rec.pid[0] <= 0) {
				continue; /* stopped by the bench itself */
			}
		}
		if (n == cap) {
			bench_jrec *g = realloc(j, (cap ? 2 * cap : 64) * sizeof *j);
			if (g == NULL) {
				continue; /* that pair's names still go with the directory */
			}
			j = g;
			cap = cap ? 2 * cap : 64;
		}
		j[n++] = rec;
	}
	if (!done) {
		janitor_wait_workers(j, n);
		for (size_t i = 0; i < n; i++) {
			bench_pair p;
			memset(&p, 0, sizeof p);
			p.cx.impl = j[i].impl;
			p.cx.tmpdir = br->tmpdir;
			p.cx.owner = br->self;
			p.cx.serial = j[i].serial;
			p.cx.pid[0] = j[i].pid[0];
			p.cx.pid[1] = j[i].pid[1];
			p.cx.started = j[i].started;
			pair_cleanup(&p);
		}
		if (access(br->tmpdir, F_OK) == 0) {
			bench_tmpdir_remove(br);
		}
	}
	free(j);
	_exit(0);
}

/* Fork the janitor; without one (fork failed) the run goes on, cleaning up only itself. */
static void
janitor_start(bench_run *br)
{
	int fds[2];
	pid_t pid;

	br->jfd = -1;
	if (pipe2(fds, O_CLOEXEC) == -1) {
		return;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		close(fds[1]);
		janitor_main(br, fds[0]);
	}
	close(fds[0]);
	br->jfd = fds[1];
	br->janitor = pid;
}

/* The run cleaned up after itself: tell the janitor, and reap it. */
static void
janitor_stop(bench_run *br)
{
	bench_jrec done;

	if (br->jfd < 0) {
		return;
	}
	memset(&done, 0, sizeof done);
	if (write(br->jfd, &done, sizeof done) != (ssize_t)sizeof done) {
		/* gone: nothing to tell */
	}
	close(br->jfd);
	br->jfd = -1;
	while (waitpid(br->janitor, NULL, 0) == -1 && errno == EINTR) {
	}
}

/* Tell the janitor of a process whose leftovers it must clear if this process dies. */
static void
janitor_tell(bench_run *br, unsigned serial, const bench_impl *impl, pid_t a, pid_t b)
{
	bench_jrec j = {serial, impl, {a, b}, (int64_t)time(NULL)};

	if (br->jfd >= 0 && write(br->jfd, &j, sizeof j) != (ssize_t)sizeof j) {
		/* a janitor that is gone cannot help; the run goes on without it */
	}
}

/* ---- the run: warm-up, rows, groups ----------------------------------------------------- */

/* Both CPUs busy for a moment before anything is measured: frequency up, out of deep idle
 * states, the page cache and the code paths warm. */
static void
bench_warm_cpus(bench_run *br)
{
	const bench_config *cfg = br->cfg;
	int64_t ms = cfg->quick ? 200 : 1000;
	int n = cfg->cpu[0] >= 0 && cfg->cpu[0] == cfg->cpu[1] ? 1 : 2;
	pid_t pid[2] = {0, 0};

	snprintf(br->label, sizeof br->label, "warm-up");
	bench_progress(br, "both CPUs busy for %lld ms", (long long)ms);
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		if ((pid[i] = fork()) == 0) {
			int64_t end = bench_now() + ms * 1000000;
			volatile uint64_t x = 0;
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (cfg->cpu[i] >= 0) {
				cpu_set_t set;
				CPU_ZERO(&set);
				CPU_SET(cfg->cpu[i], &set);
				sched_setaffinity(0, sizeof set, &set);
			}
			while (bench_now() < end) {
				for (int k = 0; k < 4096; k++) {
					x = x * 6364136223846793005u + 1;
				}
			}
			_exit(0);
		}
	}
	for (int i = 0; i < n; i++) {
		while (pid[i] > 0 && waitpid(pid[i], NULL, 0) == -1 && errno == EINTR) {
			if (bench_interrupted) {
				kill(pid[i], SIGKILL);
			}
		}
	}
	bench_progress_clear(br);
}

static bool
bench_have_program(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	for (const char *p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0';) {
		size_t n = strcspn(p, ":");
		if (n > 0 &&
		    (size_t)snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, name) < sizeof buf &&
		    access(buf, X_OK) == 0) {
			return true;
		}
		p += n + (p[n] == ':');
	}
	return false;
}

/* The selected peers that were not built in, and why (one reason, its peers named once):
 * false if none. */
static bool
bench_peers_missing(const bool *sel, char *buf, size_t cap)
{
	bool done[BENCH_NSCHEMES] = {false};
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < BENCH_NSCHEMES; i++) {
		const char *why =
		        bench_schemes[i].ipcx != NULL ? bench_schemes[i].ipcx->missing : NULL;
		int k;
		if (!sel[i] || bench_schemes[i].group != BENCH_GROUP_PEERS || why == NULL ||
		    done[i]) {
			continue;
		}
		k = snprintf(buf + n, cap - n, "%s--peers: ", n > 0 ? "; " : "");
		for (size_t j = i, first = 1; j < BENCH_NSCHEMES && k >= 0 && (size_t)k < cap - n;
		     j++) {
			const bench_impl *o = bench_schemes[j].ipcx;
			if (sel[j] && bench_schemes[j].group == BENCH_GROUP_PEERS &&
			    o->missing != NULL && strcmp(o->missing, why) == 0) {
				done[j] = true;
				k += snprintf(buf + n + (size_t)k, cap - n - (size_t)k, "%s%s",
				              first ? "" : ", ", bench_schemes[j].name);
				first = 0;
			}
		}
		if (k >= 0 && (size_t)k < cap - n) {
			k += snprintf(buf + n + (size_t)k, cap - n - (size_t)k, " not measured: %s",
			              why);
		}
		if (k < 0 || (size_t)k >= cap - n) {
			break;
		}
		n += (size_t)k;
	}
	return n > 0;
}

/* The rows printed so far, for the targets and the plot at the end. */
typedef struct bench_rows {
	bench_row *v;
	int n, cap;
} bench_rows;

static void
bench_emit(bench_run *br, bench_row *row, bench_rows *kept, int *nfailed)
{
	const bench_config *cfg = br->cfg;
	char sz[32];
	bool counted = false;

	bench_fmt_size(sz, sizeof sz, row->size);
	for (int k = 0; k < row->nres; k++) {
		if (!row->res[k].failed) {
			continue;
		}
		*nfailed += !counted;
		counted = true;
		if (cfg->format != BENCH_TABLE) {
			fprintf(stderr, "ipcx bench: %s %s: %s failed: %s\n", row->res[k].label, sz,
			        row->res[k].impl->name, row->res[k].err);
		}
	}
	bench_out_row(cfg, row);
	if (kept->n == kept->cap) {
		int cap = kept->cap ? 2 * kept->cap : 32;
		bench_row *v = realloc(kept->v, (size_t)cap * sizeof *v);
		if (v == NULL) {
			return; /* the targets and the plot will miss it; the table has it */
		}
		kept->v = v;
		kept->cap = cap;
	}
	kept->v[kept->n++] = *row;
}

/* iceoryx's pairs need RouDi: start it once before the peers' rows. A RouDi that is not
 * ours (one per machine) skips the iceoryx lines; any other failure fails them. */
static void
bench_iox_begin(bench_run *br, const size_t *sizes, int nsizes, const bool *sel)
{
	int i = bench_scheme_find("iceoryx");

	br->iox.pid = 0;
	br->iox_err[0] = '\0';
	br->iox_rv = 0;
	if (i < 0 || !sel[i] || bench_schemes[i].ipcx->missing != NULL) {
		return;
	}
	snprintf(br->label, sizeof br->label, "peers");
	bench_progress(br, "starting iox-roudi");
	br->iox_rv = bench_iox_start(&br->iox, br->tmpdir, sizes, nsizes, br->cfg->timeout_ms,
	                             br->iox_err, sizeof br->iox_err);
	if (br->iox.pid > 0) {
		janitor_tell(br, UINT_MAX, &bench_iox_roudi, br->iox.pid, 0);
	}
	bench_progress_clear(br);
}

static void
bench_run_rows(bench_run *br, const bool *sel, const size_t *sizes, int nsizes, bench_rows *kept,
               int *nfailed)
{
	bench_row *row = malloc(sizeof *row);

	if (row == NULL) {
		fprintf(stderr, "ipcx bench: out of memory\n");
		(*nfailed)++;
		return;
	}
	for (size_t i = 0; i < BENCH_NSCHEMES && !bench_interrupted; i++) {
		const bench_scheme *sc = &bench_schemes[i];
		char why[160];
		size_t max;
		if (!sel[i] || sc->group != BENCH_OWN) {
			continue;
		}
		max = bench_scheme_max(sc, why, sizeof why);
		for (int z = 0; z < nsizes && !bench_interrupted; z++) {
			char sz[32];
			memset(row, 0, sizeof *row);
			row->scheme = sc->name;
			row->url = sc->url;
			row->size = sizes[z];
			br->row++;
			bench_fmt_size(sz, sizeof sz, sizes[z]);
			snprintf(br->label, sizeof br->label, "%s %s", sc->name, sz);
			bench_own_row(sc, row);
			if (sizes[z] > max) {
				row->skipped = true;
				snprintf(row->note, sizeof row->note, "%s", why);
			} else {
				bench_measure(br, sizes[z], row);
			}
			bench_progress_clear(br);
			if (!bench_interrupted) {
				bench_emit(br, row, kept, nfailed);
			}
		}
	}
	for (int g = BENCH_GROUP_SHM; g < BENCH_NGROUPS && !bench_interrupted; g++) {
		memset(row, 0, sizeof *row);
		if (bench_group_row(sel, g, sizes[0], row) == 0) {
			continue;
		}
		if (g == BENCH_GROUP_PEERS) {
			bench_iox_begin(br, sizes, nsizes, sel);
		}
		for (int z = 0; z < nsizes && !bench_interrupted; z++) {
			char sz[32];
			memset(row, 0, sizeof *row);
			bench_group_row(sel, g, sizes[z], row);
			br->row++;
			bench_fmt_size(sz, sizeof sz, sizes[z]);
			snprintf(br->label, sizeof br->label, "%s %s", bench_group_names[g], sz);
			for (int k = 0; k < row->nres; k++) {
				bench_result *r = &row->res[k];
				if (r->impl == &bench_peer_iox && br->iox_rv != 0 && !r->skipped) {
					r->skipped = br->iox_rv == IPCX_EBUSY;
					r->failed = !r->skipped;
					snprintf(r->err, sizeof r->err, "%s", br->iox_err);
				}
			}
			bench_measure(br, sizes[z], row);
			bench_progress_clear(br);
			if (!bench_interrupted) {
				bench_emit(br, row, kept, nfailed);
			}
		}
		if (g == BENCH_GROUP_PEERS && br->iox.pid > 0) {
			bench_progress(br, "stopping iox-roudi");
			bench_iox_stop(&br->iox);
			bench_progress_clear(br);
			janitor_tell(br, UINT_MAX, &bench_iox_roudi, 0, 0);
		}
	}
	free(row);
}

/* ---- command line -------------------------------------------------------------------- */

static void
bench_usage(FILE *f)
{
	fprintf(f,
	        "usage: ipcx bench [--scheme S[,S...]] [--size BYTES[,...]] [--quick] [--runs N]\n"
	        "                  [--timeout MS] [--cpus A,B] [--peers] [--csv | --json]\n"
	        "                  [--plot FILE.png] [--rpc] [--help]\n"
	        "\n"
	        "For each scheme and size, two processes pinned to different CPUs measure the\n"
	        "ping-pong round trip (p50, p99; p99.9 in full mode) and one-way streaming\n"
	        "throughput, beside a raw-syscall baseline doing the same job in the same run.\n"
	        "shm:// is held to shared-memory baselines: one cache line bounced between the\n"
	        "two processes (the floor of any round trip), a raw futex ping-pong, a naive SPSC\n"
	        "ring and one thread's memcpy. Both CPUs are kept busy for a moment first; each\n"
	        "figure is the median of several runs; the spread is reported. The table ends\n"
	        "with the performance targets of shm:// and where this run puts them.\n"
	        "\n"
	        "  --scheme LIST   pipe, fifo, unix, unix@ (abstract), tcp, unix@adaptive,\n"
	        "                  tcp@adaptive (retry before poll: ?wait=adaptive), udp, mq,\n"
	        "                  sysvmq, file, file+sync (fdatasync per record), shm (adaptive "
	        "wait),\n"
	        "                  shm@spin, shm@block, shm+loan (zero-copy loan/view), the\n"
	        "                  baselines floor, futex, ring, memcpy (an shm scheme brings\n"
	        "                  the ones it is held to), shm-all, or all (default: all but\n"
	        "                  the peers); peers: nng-ipc, nng-tcp, zmq-ipc, zmq-tcp, iceoryx\n"
	        "  --size LIST     message sizes: 64, 4k, 1m, ... up to 16m (default 64,4k,1m)\n"
	        "  --quick         3 short runs per figure (the `make run` job); default: 5 runs\n"
	        "  --runs N        runs per figure (1..%d)\n"
	        "  --timeout MS    bound on every wait inside a run (default 5000; -1: none,\n"
	        "                  as a blocking hand-written program; the parent still watches)\n"
	        "  --cpus A,B      pin the receiving/echoing worker to CPU A, the sending/timing\n"
	        "                  one to B (default: the first two allowed; A == B measures the\n"
	        "                  software path without cross-CPU wake-ups)\n"
	        "  --peers         also measure nng (pair0, ipc:// and tcp://), ZeroMQ (PAIR, "
	        "ipc://\n"
	        "                  and tcp://) and iceoryx (zero-copy pub/sub, busy polling; the\n"
	        "                  bench runs its own iox-roudi), where ipcx was built with them\n"
	        "                  (Debian: scripts/deps --bench)\n"
	        "  --csv           one CSV line per implementation instead of the table\n"
	        "  --json          one JSON document instead of the table\n"
	        "  --plot FILE.png draw round-trip p50 and msgs/s per scheme and size (gnuplot)\n"
	        "  --rpc           instead: ONC RPC NULL calls (p50, p99, calls/s; %d clients\n"
	        "                  at once) of ipcx over unix://, tcp://, shm:// beside libtirpc\n"
	        "                  over AF_UNIX and TCP (where built with libtirpc-dev), and\n"
	        "                  the RPC targets\n"
	        "  --help          this text\n"
	        "\n"
	        "Zero-copy rows (shm+loan, iceoryx) write every byte of a message into the loaned\n"
	        "buffer once (a producer generating it in place; no source is read) and read it\n"
	        "in place without copying it out; the other rows send from a buffer, copied.\n"
	        "\n"
	        "Exit status: 0 all measured, 1 a scheme failed (the rest still run), 2 usage.\n",
	        BENCH_MAX_RUNS, BENCH_RPC_CLIENTS);
}

static int
bench_parse_sizes(const char *arg, size_t *sizes, int *n)
{
	char buf[512], *save = NULL;

	if (snprintf(buf, sizeof buf, "%s", arg) >= (int)sizeof buf) {
		return -1;
	}
	*n = 0;
	for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long long v;
		errno = 0;
		v = strtoull(tok, &end, 10);
		if (end == tok || errno != 0 || tok[0] == '-') {
			return -1;
		}
		if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kib") == 0) {
			v <<= 10;
		} else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mib") == 0) {
			v <<= 20;
		} else if (strcasecmp(end, "") != 0 && strcasecmp(end, "b") != 0) {
			return -1;
		}
		if (v > BENCH_MAX_SIZE || *n >= BENCH_MAX_SIZES) {
			return -1;
		}
		sizes[(*n)++] = (size_t)v;
	}
	return *n > 0 ? 0 : -1;
}

/* Select schemes by name: "all" is every scheme but the peers (--peers adds those),
 * "shm-all" the shared-memory group, "peers" the peers. */
static int
bench_parse_schemes(const char *arg, bool *sel)
{
	char buf[512], *save = NULL;
	bool any = false;

	if (snprintf(buf, sizeof buf, "%s", arg) >= (int)sizeof buf) {
		return -1;
	}
	for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		bool found = false;
		for (size_t i = 0; i < BENCH_NSCHEMES; i++) {
			const bench_scheme *s = &bench_schemes[i];
			if ((strcmp(tok, "all") == 0 && s->group != BENCH_GROUP_PEERS) ||
			    (strcmp(tok, "shm-all") == 0 && s->group == BENCH_GROUP_SHM) ||
			    (strcmp(tok, "peers") == 0 && s->group == BENCH_GROUP_PEERS) ||
			    strcmp(tok, s->name) == 0 ||
			    (s->alias != NULL && strcmp(tok, s->alias) == 0)) {
				sel[i] = true;
				found = true;
			}
		}
		if (!found) {
			fprintf(stderr, "ipcx bench: unknown scheme '%s' (known:", tok);
			for (size_t i = 0; i < BENCH_NSCHEMES; i++) {
				fprintf(stderr, " %s", bench_schemes[i].name);
			}
			fprintf(stderr, ", shm-all, peers, all)\n");
			return -1;
		}
		any = true;
	}
	return any ? 0 : -1;
}

static void
bench_phases(bench_config *cfg)
{
	const int64_t ms = 1000000;

	if (cfg->quick) {
		cfg->warm_ping = (bench_cmd){0, 0, 30 * ms, 20, 100 * ms, (uint64_t)1 << 19};
		cfg->warm_stream = (bench_cmd){0, 0, 30 * ms, 8, 100 * ms, 0};
		cfg->ping = (bench_cmd){0, 0, 40 * ms, 100, 250 * ms, (uint64_t)1 << 19};
		cfg->stream = (bench_cmd){0, 0, 60 * ms, 32, 400 * ms, 0};
	} else {
		cfg->warm_ping = (bench_cmd){0, 0, 150 * ms, 100, 500 * ms, (uint64_t)1 << 20};
		cfg->warm_stream = (bench_cmd){0, 0, 150 * ms, 32, 500 * ms, 0};
		cfg->ping = (bench_cmd){0, 0, 250 * ms, 1000, 1000 * ms, (uint64_t)1 << 20};
		cfg->stream = (bench_cmd){0, 0, 300 * ms, 200, 1000 * ms, 0};
	}
}

/* Pick two allowed CPUs for the two workers of a pair. */
static void
bench_pick_cpus(bench_config *cfg, char *note, size_t cap)
{
	cpu_set_t set;
	int found = 0;

	cfg->cpu[0] = cfg->cpu[1] = -1;
	if (sched_getaffinity(0, sizeof set, &set) == -1) {
		snprintf(note, cap, "cannot read the CPU affinity (%s): workers not pinned",
		         strerror(errno));
		return;
	}
	for (int c = 0; c < CPU_SETSIZE && found < 2; c++) {
		if (CPU_ISSET(c, &set)) {
			cfg->cpu[found++] = c;
		}
	}
	if (found == 1) {
		cfg->cpu[1] = cfg->cpu[0];
		snprintf(note, cap,
		         "only 1 CPU available: both workers share CPU %d, so every message "
		         "costs a context switch",
		         cfg->cpu[0]);
	}
}

int
ipcx_cmd_bench(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"scheme", required_argument, NULL, 's'},
	        {"size", required_argument, NULL, 'S'},
	        {"quick", no_argument, NULL, 'q'},
	        {"runs", required_argument, NULL, 'r'},
	        {"timeout", required_argument, NULL, 't'},
	        {"cpus", required_argument, NULL, 'p'},
	        {"csv", no_argument, NULL, 'c'},
	        {"json", no_argument, NULL, 'j'},
	        {"peers", no_argument, NULL, 'P'},
	        {"plot", required_argument, NULL, 'g'},
	        {"help", no_argument, NULL, 'h'},
	        {"rpc", no_argument, NULL, 'R'},
	        {NULL, 0, NULL, 0},
	};
	bool sel[BENCH_NSCHEMES] = {false};
	int cpus[2] = {-1, -1};
	char junk;
	size_t sizes[BENCH_MAX_SIZES];
	int nsizes = 0, runs = 0, opt, nfailed = 0;
	bool any_sel = false, plot_failed = false, rpc = false;
	char note[1024] = "", *end;
	const char *plot = NULL;
	bench_rows kept = {NULL, 0, 0};
	struct sigaction sa, old_int, old_term, old_hup, old_pipe;
	char reg[PATH_MAX + 16], *old_reg = NULL;
	bench_config cfg;
	bench_machine mach;
	bench_run br;
	int64_t t0;
	long v;

	memset(&cfg, 0, sizeof cfg);
	cfg.timeout_ms = 5000;
	cfg.format = BENCH_TABLE;
	optind = 1;
	opterr = 0; /* our own message below */
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (bench_parse_schemes(optarg, sel) != 0) {
				bench_usage(stderr);
				return IPCX_EXIT_USAGE;
			}
			any_sel = true;
			break;
		case 'S':
			if (bench_parse_sizes(optarg, sizes, &nsizes) != 0) {
				fprintf(stderr,
				        "ipcx bench: bad --size '%s' (a list of at most %d sizes, "
				        "each 0..16m, suffix k or m)\n",
				        optarg, BENCH_MAX_SIZES);
				return IPCX_EXIT_USAGE;
			}
			break;
		case 'q':
			cfg.quick = true;
			break;
		case 'r':
			v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < 1 || v > BENCH_MAX_RUNS) {
				fprintf(stderr, "ipcx bench: bad --runs '%s' (1..%d)\n", optarg,
				        BENCH_MAX_RUNS);
				return IPCX_EXIT_USAGE;
			}
			runs = (int)v;
			break;
		case 't':
			v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < -1 || v == 0 || v > 3600000) {
				fprintf(stderr,
				        "ipcx bench: bad --timeout '%s' (1..3600000 ms, or -1 for "
				        "none)\n",
				        optarg);
				return IPCX_EXIT_USAGE;
			}
			cfg.timeout_ms = (int)v;
			break;
		case 'p':
			if (sscanf(optarg, "%d,%d%c", &cpus[0], &cpus[1], &junk) != 2 ||
			    cpus[0] < 0 || cpus[1] < 0 || cpus[0] >= CPU_SETSIZE ||
			    cpus[1] >= CPU_SETSIZE) {
				fprintf(stderr,
				        "ipcx bench: bad --cpus '%s' (two CPU numbers: A,B)\n",
				        optarg);
				return IPCX_EXIT_USAGE;
			}
			break;
		case 'c':
		case 'j':
			if (cfg.format != BENCH_TABLE) {
				fprintf(stderr,
				        "ipcx bench: --csv and --json exclude each other\n");
				return IPCX_EXIT_USAGE;
			}
			cfg.format = opt == 'c' ? BENCH_CSV : BENCH_JSON;
			break;
		case 'P':
			cfg.peers = true;
			break;
		case 'g':
			if (strpbrk(optarg, "\"\n\\") != NULL || optarg[0] == '\0') {
				fprintf(stderr, "ipcx bench: --plot: a file name without quotes, "
				                "backslashes or newlines, please\n");
				return IPCX_EXIT_USAGE;
			}
			plot = optarg;
			break;
		case 'R':
			rpc = true;
			break;
		case 'h':
			bench_usage(stdout);
			return IPCX_EXIT_OK;
		default:
			fprintf(stderr, "ipcx bench: bad option '%s'\n", argv[optind - 1]);
			bench_usage(stderr);
			return IPCX_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipcx bench: unexpected argument '%s'\n", argv[optind]);
		bench_usage(stderr);
		return IPCX_EXIT_USAGE;
	}
	if (rpc && (any_sel || nsizes > 0 || cfg.peers || plot != NULL)) {
		fprintf(stderr, "ipcx bench: --rpc measures its own rows: no --scheme, --size, "
		                "--peers or --plot with it\n");
		return IPCX_EXIT_USAGE;
	}
	for (size_t i = 0; i < BENCH_NSCHEMES; i++) {
		bool peer = bench_schemes[i].group == BENCH_GROUP_PEERS;
		sel[i] = sel[i] || (!any_sel && !peer) || (cfg.peers && peer);
		cfg.peers = cfg.peers || (sel[i] && peer);
	}
	if (plot != NULL && !bench_have_program("gnuplot")) {
		fprintf(stderr,
		        "ipcx bench: --plot needs gnuplot, which is not on the PATH (Debian: "
		        "apt-get install gnuplot-nox, or scripts/deps --bench)\n");
		return IPCX_EXIT_USAGE;
	}
	if (nsizes == 0) {
		for (size_t i = 0; i < sizeof bench_default_sizes / sizeof bench_default_sizes[0];
		     i++) {
			sizes[nsizes++] = bench_default_sizes[i];
		}
	}
	cfg.runs = runs > 0 ? runs : cfg.quick ? 3 : 5;
	bench_phases(&cfg);
	if (cpus[0] >= 0) {
		cpu_set_t allowed;
		if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
			for (int r = 0; r < 2; r++) {
				if (!CPU_ISSET(cpus[r], &allowed)) {
					fprintf(stderr,
					        "ipcx bench: --cpus: CPU %d is not one this "
					        "process may "
					        "use\n",
					        cpus[r]);
					return IPCX_EXIT_USAGE;
				}
			}
		}
		cfg.cpu[0] = cpus[0];
		cfg.cpu[1] = cpus[1];
		if (cpus[0] == cpus[1]) {
			snprintf(note, sizeof note,
			         "--cpus: both workers on CPU %d, so wake-ups cost a context "
			         "switch, "
			         "not a cross-CPU interrupt",
			         cpus[0]);
		}
	} else {
		bench_pick_cpus(&cfg, note, sizeof note);
	}
	if (note[0] != '\0') {
		fprintf(stderr, "ipcx bench: note: %s\n", note);
	}
	if (cfg.peers) {
		char missing[768];
		if (bench_peers_missing(sel, missing, sizeof missing)) {
			fprintf(stderr, "ipcx bench: note: %s\n", missing);
			snprintf(note + strlen(note), sizeof note - strlen(note), "%s%s",
			         note[0] != '\0' ? "\nnote: " : "", missing);
		}
	}
	bench_machine_probe(&mach);
	if (rpc) {
		return bench_rpc_main(&cfg, &mach, note);
	}

	memset(&br, 0, sizeof br);
	br.cfg = &cfg;
	br.tty = isatty(STDERR_FILENO) == 1;
	br.jfd = -1;
	for (int k = 0; k < BENCH_IMPLS; k++) {
		for (int r = 0; r < 2; r++) {
			br.pairs[k].cmd[r] = br.pairs[k].rep[r] = -1;
		}
	}
	for (size_t i = 0; i < BENCH_NSCHEMES; i++) {
		br.nrows += sel[i] && bench_schemes[i].group == BENCH_OWN ? nsizes : 0;
	}
	for (int g = BENCH_GROUP_SHM; g < BENCH_NGROUPS; g++) {
		bench_row probe;
		memset(&probe, 0, sizeof probe);
		br.nrows += bench_group_row(sel, g, sizes[0], &probe) > 0 ? nsizes : 0;
	}
	{
		int rv = bench_tmpdir_make(&br);
		if (rv != 0) {
			fprintf(stderr, "ipcx bench: cannot make a private directory in %s: %s\n",
			        getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", bench_strerror(rv));
			return IPCX_EXIT_RUNTIME;
		}
	}
	/* ipcx's creator records go to the private directory too: the workers' (so that a
	 * killed worker's objects are found by pair_cleanup, never in the user's registry)
	 * and this process's, which looks them up there. */
	if (getenv("IPCX_REGISTRY_DIR") != NULL &&
	    (old_reg = strdup(getenv("IPCX_REGISTRY_DIR"))) == NULL) {
		bench_tmpdir_remove(&br);
		fprintf(stderr, "ipcx bench: out of memory\n");
		return IPCX_EXIT_RUNTIME;
	}
	snprintf(reg, sizeof reg, "%s/registry", br.tmpdir);
	setenv("IPCX_REGISTRY_DIR", reg, 1);
	br.self = getpid();
	janitor_start(&br);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = bench_on_signal; /* no SA_RESTART: waits see EINTR and stop */
	sigemptyset(&sa.sa_mask);
	bench_interrupted = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	sa.sa_handler = SIG_IGN; /* a dead worker must not kill us through its command pipe */
	sigaction(SIGPIPE, &sa, &old_pipe);

	t0 = bench_now();
	bench_out_begin(&cfg, &mach, note);
	bench_warm_cpus(&br);
	bench_run_rows(&br, sel, sizes, nsizes, &kept, &nfailed);
	for (int k = 0; k < BENCH_IMPLS; k++) {
		if (br.pairs[k].up || br.pairs[k].pid[0] > 0 || br.pairs[k].pid[1] > 0) {
			pair_kill(&br.pairs[k]);
		}
	}
	if (br.iox.pid > 0) {
		bench_iox_stop(&br.iox);
		janitor_tell(&br, UINT_MAX, &bench_iox_roudi, 0, 0);
	}
	bench_progress_clear(&br);
	bench_out_end(&cfg, kept.v, kept.n, nfailed, (double)(bench_now() - t0) / 1e9);
	if (plot != NULL && !bench_interrupted) {
		char err[BENCH_ERR_MAX];
		if (bench_plot(br.tmpdir, plot, kept.v, kept.n, err, sizeof err) != 0) {
			fprintf(stderr, "ipcx bench: --plot %s: %s\n", plot, err);
			plot_failed = true;
		}
	}
	free(kept.v);
	bench_tmpdir_remove(&br);
	janitor_stop(&br);
	if (old_reg != NULL) {
		setenv("IPCX_REGISTRY_DIR", old_reg, 1);
		free(old_reg);
	} else {
		unsetenv("IPCX_REGISTRY_DIR");
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	if (bench_interrupted) {
		fprintf(stderr, "ipcx bench: interrupted\n");
		return IPCX_EXIT_RUNTIME;
	}
	return nfailed > 0 || plot_failed ? IPCX_EXIT_RUNTIME : IPCX_EXIT_OK;
}
