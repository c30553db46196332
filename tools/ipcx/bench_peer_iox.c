/*
 * bench_peer_iox.c - iceoryx 2 for `ipcx bench --peers`: a zero-copy publisher/subscriber pair
 * per direction, busy polling; and the RouDi daemon the bench starts, stops and cleans up after.
 */
#include "bench_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef IPCX_BENCH_IOX

#include <iceoryx_binding_c/chunk.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>

/* iceoryx 2.0 names its sockets and locks in /tmp (not $TMPDIR) and its shared memory in
 * /dev/shm: a management segment and one segment named after the user's group. */
#define IOX_TMP       "/tmp/"
#define IOX_LOCK      "/tmp/iox-unique-roudi.lock"
#define IOX_SERVICE   "ipcx-bench"
#define IOX_QUEUE_MAX 256                 /* the largest subscriber queue iceoryx 2.0 has */
#define IOX_POOL_MAX  ((size_t)256 << 20) /* virtual bytes of one memory pool */
#define IOX_SPIN      1024                /* busy polls between looks at the clock */
#define IOX_POOLS     24                  /* memory pools at most: one per size, one small */

/* The memory pool RouDi keeps for one message size: chunks with room for iceoryx's chunk
 * header and our 8-byte user header, enough for two full subscriber queues (fewer for
 * large messages, with a shorter queue to match). */
static void
iox_pool(size_t size, size_t *chunk, size_t *count)
{
	size_t c = (size + 128 + 63) & ~(size_t)63, n = IOX_POOL_MAX / c;

	if (n > 2 * (IOX_QUEUE_MAX + 8)) {
		n = 2 * (IOX_QUEUE_MAX + 8);
	}
	*chunk = c;
	*count = n < 32 ? 32 : n;
}

static uint64_t
iox_queue(size_t size)
{
	size_t chunk, count;

	iox_pool(size, &chunk, &count);
	return count / 2 - 8 < IOX_QUEUE_MAX ? count / 2 - 8 : IOX_QUEUE_MAX;
}

/* ---- one side: a publisher to the peer, a subscriber from it ------------------------ */

typedef struct iox_side {
	iox_pub_storage_t ps;
	iox_sub_storage_t ss;
	iox_pub_t pub;
	iox_sub_t sub;
	const void *held; /* the chunk a view points at */
} iox_side;

static void
iox_runtime_name(const bench_ctx *cx, int role, char *buf, size_t cap)
{
	snprintf(buf, cap, "ipcx-bench-%ld-%u-%c", (long)cx->owner, cx->serial, 'A' + role);
}

static int
iox_loan(bench_ep *ep, size_t len, void **ptr)
{
	iox_side *x = ep->priv;
	int64_t deadline = 0;
	unsigned spins = 0;

	for (;;) {
		enum iox_AllocationResult r = iox_pub_loan_aligned_chunk_with_user_header(
		        x->pub, ptr, (uint32_t)(len > 0 ? len : 1), 8, sizeof(uint64_t), 8);
		if (r == AllocationResult_SUCCESS) {
			return 0;
		}
		if (r != AllocationResult_RUNNING_OUT_OF_CHUNKS) {
			return IPCX_ENOBUFS;
		}
		/* every chunk is queued at the subscriber: wait, as a busy publisher would */
		if (++spins % IOX_SPIN == 0 && ep->timeout_ms >= 0) {
			if (deadline == 0) {
				deadline = bench_now() + (int64_t)ep->timeout_ms * 1000000;
			} else if (bench_now() >= deadline) {
				return IPCX_ETIMEDOUT;
			}
		}
	}
}

static int
iox_commit(bench_ep *ep, void *ptr, size_t len)
{
	iox_side *x = ep->priv;
	uint64_t *hdr = iox_chunk_header_to_user_header(iox_chunk_header_from_user_payload(ptr));

	*hdr = len;
	iox_pub_publish_chunk(x->pub, ptr); /* waits while the subscriber's queue is full */
	return 0;
}

static int
iox_view(bench_ep *ep, const void **ptr, size_t *len, int timeout_ms)
{
	iox_side *x = ep->priv;
	int t = timeout_ms >= 0 && (ep->timeout_ms < 0 || timeout_ms < ep->timeout_ms)
	                ? timeout_ms
	                : ep->timeout_ms;
	int64_t deadline = 0;
	unsigned spins = 0;
	const void *p;

	while (iox_sub_take_chunk(x->sub, &p) != ChunkReceiveResult_SUCCESS) {
		if (t == 0) {
			return IPCX_ETIMEDOUT;
		}
		if (++spins % IOX_SPIN == 0 && t > 0) {
			if (deadline == 0) {
				deadline = bench_now() + (int64_t)t * 1000000;
			} else if (bench_now() >= deadline) {
				return IPCX_ETIMEDOUT;
			}
		}
	}
	*len = *(const uint64_t *)iox_chunk_header_to_user_header_const(
	        iox_chunk_header_from_user_payload_const(p));
	*ptr = p;
	x->held = p;
	return 0;
}

static int
iox_release(bench_ep *ep)
{
	iox_side *x = ep->priv;

	iox_sub_release_chunk(x->sub, x->held);
	x->held = NULL;
	return 0;
}

/* The copying calls (the handshake) on top of the zero-copy ones. */
static int
iox_send(bench_ep *ep, const void *buf, size_t len)
{
	void *p;
	int rv = iox_loan(ep, len, &p);

	if (rv == 0) {
		memcpy(p, buf, len);
		rv = iox_commit(ep, p, len);
	}
	return rv;
}

static int
iox_recv(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	const void *p;
	int rv = iox_view(ep, &p, len, timeout_ms);

	if (rv != 0) {
		return rv;
	}
	if (*len <= cap) {
		memcpy(buf, p, *len);
	}
	iox_release(ep);
	return *len <= cap ? 0 : IPCX_EMSGSIZE;
}

static void
iox_free(iox_side *x)
{
	if (x->held != NULL) {
		iox_sub_release_chunk(x->sub, x->held);
	}
	iox_sub_deinit(x->sub);
	iox_pub_deinit(x->pub);
	free(x);
	iox_runtime_shutdown();
}

static void
iox_close(bench_ep *ep)
{
	if (ep->priv != NULL) {
		iox_free(ep->priv);
	}
	ep->priv = NULL;
}

static const struct bench_ep_ops iox_ops = {
        .send = iox_send,
        .recv = iox_recv,
        .close = iox_close,
        .loan = iox_loan,
        .commit = iox_commit,
        .view = iox_view,
        .release = iox_release,
};

/* Register with RouDi and offer/subscribe the two directions (A publishes "a2b"). The
 * subscriber blocks the publisher when its queue is full: nothing is lost. */
static int
iox_open(bench_ctx *cx, int role, iox_side **out, char *err)
{
	char name[BENCH_ADDR_MAX], inst[64];
	iox_pub_options_t po;
	iox_sub_options_t so;
	iox_side *x = calloc(1, sizeof *x);

	if (x == NULL) {
		return IPCX_ENOMEM;
	}
	iox_set_loglevel(Iceoryx_LogLevel_Error);
	iox_runtime_name(cx, role, name, sizeof name);
	snprintf(inst, sizeof inst, "%ld-%u", (long)cx->owner, cx->serial);
	iox_runtime_init(name); /* a missing RouDi: waits, and the parent's watchdog ends it */
	iox_pub_options_init(&po);
	po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
	iox_sub_options_init(&so);
	so.queueCapacity = iox_queue(cx->msg_size);
	so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
	x->pub = iox_pub_init(&x->ps, IOX_SERVICE, inst, role == BENCH_ROLE_A ? "a2b" : "b2a", &po);
	x->sub = iox_sub_init(&x->ss, IOX_SERVICE, inst, role == BENCH_ROLE_A ? "b2a" : "a2b", &so);
	if (x->pub == NULL || x->sub == NULL) {
		snprintf(err, BENCH_ERR_MAX, "iceoryx publisher/subscriber for %s", inst);
		free(x);
		iox_runtime_shutdown();
		return IPCX_ENOMEM;
	}
	snprintf(cx->addr, sizeof cx->addr, "iceoryx %s/%s", IOX_SERVICE, inst);
	*out = x;
	return 0;
}

/* Both directions connected (RouDi matches them in its discovery loop, ~100 ms). */
static int
iox_wait_connected(bench_ctx *cx, iox_side *x, bench_ep *ep, char *err)
{
	int64_t deadline =
	        bench_now() + (int64_t)(cx->timeout_ms < 0 ? 30000 : cx->timeout_ms) * 1000000;

	while (iox_sub_get_subscription_state(x->sub) != SubscribeState_SUBSCRIBED ||
	       !iox_pub_has_subscribers(x->pub)) {
		struct timespec ms = {0, 1000000};
		if (bench_now() >= deadline) {
			snprintf(err, BENCH_ERR_MAX, "iceoryx: the peer did not connect");
			iox_free(x);
			return IPCX_ETIMEDOUT;
		}
		nanosleep(&ms, NULL);
	}
	ep->priv = x;
	ep->ops = &iox_ops;
	ep->loan_max = cx->msg_size > 64 ? cx->msg_size : 64;
	return 0;
}

static int
iox_serve(bench_ctx *cx, char *err)
{
	iox_side *x;
	int rv = iox_open(cx, BENCH_ROLE_A, &x, err);

	if (rv == 0) {
		cx->lst = x;
	}
	return rv;
}

static int
iox_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	iox_side *x = cx->lst;

	cx->lst = NULL;
	return iox_wait_connected(cx, x, ep, err);
}

static int
iox_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	iox_side *x;
	int rv = iox_open(cx, BENCH_ROLE_B, &x, err);

	return rv != 0 ? rv : iox_wait_connected(cx, x, ep, err);
}

/* A killed worker leaves its socket and lock in /tmp; RouDi drops it from its books. */
static void
iox_cleanup(bench_ctx *cx)
{
	for (int role = 0; role < 2; role++) {
		char name[BENCH_ADDR_MAX], path[BENCH_ADDR_MAX + 16];
		iox_runtime_name(cx, role, name, sizeof name);
		snprintf(path, sizeof path, IOX_TMP "%s", name);
		unlink(path);
		snprintf(path, sizeof path, IOX_TMP "%s.lock", name);
		unlink(path);
	}
}

const bench_impl bench_peer_iox = {
        .name = "iceoryx pub/sub",
        .serve = iox_serve,
        .accept = iox_accept,
        .dial = iox_dial,
        .cleanup = iox_cleanup,
};

/* ---- RouDi ------------------------------------------------------------------------------ */

/* What a RouDi that did not shut down leaves; removed only while no RouDi holds the lock
 * (then none runs, and these are a dead one's). */
static void
iox_remove_leftovers(void)
{
	static const char *const files[] = {"/tmp/roudi", "/tmp/roudi.lock",
	                                    "/dev/shm/iceoryx_mgmt", IOX_LOCK};
	int fd = open(IOX_LOCK, O_RDONLY | O_CLOEXEC);
	struct group *g = getgrgid(getegid());
	char seg[300];

	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		return;
	}
	if (g != NULL &&
	    (size_t)snprintf(seg, sizeof seg, "/dev/shm/%s", g->gr_name) < sizeof seg) {
		unlink(seg);
	}
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		unlink(files[i]);
	}
	if (fd >= 0) {
		close(fd);
	}
}

static bool
iox_find_roudi(char *buf, size_t cap)
{
	const char *path = getenv("PATH");

#ifdef IPCX_IOX_ROUDI
	if (access(IPCX_IOX_ROUDI, X_OK) == 0) {
		snprintf(buf, cap, "%s", IPCX_IOX_ROUDI);
		return true;
	}
#endif
	for (const char *p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0';) {
		size_t n = strcspn(p, ":");
		if (n > 0 && (size_t)snprintf(buf, cap, "%.*s/iox-roudi", (int)n, p) < cap &&
		    access(buf, X_OK) == 0) {
			return true;
		}
		p += n + (p[n] == ':');
	}
	return false;
}

static int
iox_write_config(const char *file, const size_t *sizes, int nsizes, char *err, size_t cap)
{
	size_t chunk[IOX_POOLS], count[IOX_POOLS];
	int n = 0;
	FILE *f;

	/* a small pool for handshakes, stream ends and counts, then one per size, ascending */
	iox_pool(64, &chunk[n], &count[n]);
	n++;
	for (int i = 0; i < nsizes && n < IOX_POOLS; i++) {
		iox_pool(sizes[i], &chunk[n], &count[n]);
		n++;
	}
	for (int i = 1; i < n; i++) { /* insertion sort; equal chunk sizes merged below */
		for (int k = i; k > 0 && chunk[k] < chunk[k - 1]; k--) {
			size_t c = chunk[k], m = count[k];
			chunk[k] = chunk[k - 1];
			count[k] = count[k - 1];
			chunk[k - 1] = c;
			count[k - 1] = m;
		}
	}
	if ((f = fopen(file, "we")) == NULL) {
		int e = errno;
		snprintf(err, cap, "cannot write %s: %s", file, strerror(e));
		return -e;
	}
	fprintf(f, "# RouDi's memory pools for this ipcx bench run\n[general]\nversion = 1\n\n"
	           "[[segment]]\n");
	for (int i = 0; i < n; i++) {
		if (i > 0 && chunk[i] == chunk[i - 1]) {
			continue;
		}
		fprintf(f, "\n[[segment.mempool]]\nsize = %zu\ncount = %zu\n", chunk[i], count[i]);
	}
	if (fclose(f) != 0) {
		int e = errno;
		snprintf(err, cap, "cannot write %s: %s", file, strerror(e));
		return -e;
	}
	return 0;
}

/* The last line RouDi logged, for an error message. */
static void
iox_last_log_line(const char *log, char *buf, size_t cap)
{
	char line[512];
	FILE *f = fopen(log, "re");

	snprintf(buf, cap, "(nothing logged)");
	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '\0') {
			snprintf(buf, cap, "%.200s", line); /* one line of an error message */
		}
	}
	if (f != NULL) {
		fclose(f);
	}
}

static bool
iox_log_says_ready(const char *log)
{
	char line[512];
	bool ready = false;
	FILE *f = fopen(log, "re");

	while (f != NULL && !ready && fgets(line, sizeof line, f) != NULL) {
		ready = strstr(line, "RouDi is ready for clients") != NULL;
	}
	if (f != NULL) {
		fclose(f);
	}
	return ready;
}

int
bench_iox_start(bench_iox_daemon *d, const char *tmpdir, const size_t *sizes, int nsizes,
                int timeout_ms, char *err, size_t cap)
{
	char roudi[BENCH_ADDR_MAX], cfg[BENCH_ADDR_MAX], last[256];
	int64_t deadline;
	pid_t parent = getpid();
	int fd, rv, st;

	d->pid = 0;
	if (!iox_find_roudi(roudi, sizeof roudi)) {
		snprintf(err, cap,
		         "iox-roudi not found (Debian package iceoryx; scripts/deps --bench)");
		return IPCX_ENOENT;
	}
	if ((fd = open(IOX_LOCK, O_RDONLY | O_CLOEXEC)) >= 0) {
		bool busy = flock(fd, LOCK_EX | LOCK_NB) == -1;
		close(fd);
		if (busy) {
			snprintf(err, cap,
			         "an iox-roudi this bench did not start runs on this machine "
			         "(iceoryx 2 allows one per machine): not measured");
			return IPCX_EBUSY;
		}
		iox_remove_leftovers(); /* a dead RouDi's */
	}
	snprintf(cfg, sizeof cfg, "%s/roudi.toml", tmpdir);
	snprintf(d->log, sizeof d->log, "%s/roudi.log", tmpdir);
	if ((rv = iox_write_config(cfg, sizes, nsizes, err, cap)) != 0) {
		return rv;
	}
	fflush(stdout);
	fflush(stderr);
	if ((d->pid = fork()) == -1) {
		int e = errno;
		d->pid = 0;
		snprintf(err, cap, "fork: %s", strerror(e));
		return -e;
	}
	if (d->pid == 0) {
		/* RouDi goes with the bench: SIGTERM lets it remove its files itself. */
		int log = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent || log < 0 || null < 0) {
			_exit(127);
		}
		dup2(null, STDIN_FILENO);
		dup2(log, STDOUT_FILENO);
		dup2(log, STDERR_FILENO);
		execl(roudi, "iox-roudi", "-c", cfg, "-l", "warning", "-k", "1", (char *)NULL);
		_exit(127);
	}
	deadline = bench_now() + (int64_t)(timeout_ms < 10000 ? 10000 : timeout_ms) * 1000000;
	while (!iox_log_says_ready(d->log)) {
		struct timespec ms = {0, 10000000};
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			iox_last_log_line(d->log, last, sizeof last);
			snprintf(err, cap, "iox-roudi exited (%s %d): %s",
			         WIFEXITED(st) ? "status" : "signal",
			         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), last);
			iox_remove_leftovers();
			return IPCX_ECHILD;
		}
		if (bench_now() >= deadline) {
			iox_last_log_line(d->log, last, sizeof last);
			snprintf(err, cap, "iox-roudi not ready in time: %s", last);
			bench_iox_stop(d);
			return IPCX_ETIMEDOUT;
		}
		nanosleep(&ms, NULL);
	}
	return 0;
}

void
bench_iox_stop(bench_iox_daemon *d)
{
	int64_t deadline = bench_now() + 5000000000LL;

	if (d->pid <= 0) {
		return;
	}
	kill(d->pid, SIGTERM);
	for (;;) {
		struct timespec ms = {0, 10000000};
		pid_t w = waitpid(d->pid, NULL, WNOHANG);
		if (w == d->pid || (w == -1 && errno != EINTR)) {
			break;
		}
		if (bench_now() >= deadline) {
			kill(d->pid, SIGKILL);
			while (waitpid(d->pid, NULL, 0) == -1 && errno == EINTR) {
			}
			break;
		}
		nanosleep(&ms, NULL);
	}
	d->pid = 0;
	iox_remove_leftovers();
}

/* The janitor, after the bench died: RouDi got SIGTERM with it; one still there is killed. */
static void
iox_roudi_cleanup(bench_ctx *cx)
{
	pid_t pid = cx->pid[0];
	int fd = -1;

	if (pid <= 0) {
		return;
	}
#ifdef SYS_pidfd_open
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	if (fd >= 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		char comm[64] = "", path[64];
		FILE *f;
		snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
		if ((f = fopen(path, "re")) != NULL) {
			if (fgets(comm, sizeof comm, f) == NULL) {
				comm[0] = '\0';
			}
			fclose(f);
		}
		if (poll(&pfd, 1, 0) == 0 && strncmp(comm, "iox-roudi", 9) == 0) {
			kill(pid, SIGKILL);
			poll(&pfd, 1, 2000);
		}
		close(fd);
	}
	iox_remove_leftovers();
}

const bench_impl bench_iox_roudi = {
        .name = "iox-roudi",
        .cleanup = iox_roudi_cleanup,
};

#else /* !IPCX_BENCH_IOX */

const bench_impl bench_peer_iox = {
        .name = "iceoryx pub/sub",
        .missing = "iceoryx was not found when ipcx was built (Debian: "
                   "libiceoryx-binding-c-dev and iceoryx; scripts/deps --bench, then rebuild)",
};

const bench_impl bench_iox_roudi = {
        .name = "iox-roudi",
};

int
bench_iox_start(bench_iox_daemon *d, const char *tmpdir, const size_t *sizes, int nsizes,
                int timeout_ms, char *err, size_t cap)
{
	(void)tmpdir;
	(void)sizes;
	(void)nsizes;
	(void)timeout_ms;
	d->pid = 0;
	snprintf(err, cap, "%s", bench_peer_iox.missing);
	return IPCX_ENOTSUP;
}

void
bench_iox_stop(bench_iox_daemon *d)
{
	d->pid = 0;
}

#endif
