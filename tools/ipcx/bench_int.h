/*
 * bench_int.h - internals of `ipcx bench` shared by its files: the pluggable implementations
 * (ipcx schemes and the raw-syscall baselines), the worker protocol and the result rows.
 */
#ifndef IPCX_BENCH_INT_H
#define IPCX_BENCH_INT_H

#include "ipcx.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds: every clock of the bench (timings, deadlines). */
static inline int64_t
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define BENCH_ADDR_MAX 512  /* an address handed from worker A to worker B */
#define BENCH_ERR_MAX  1024 /* one error line */
#define BENCH_MAX_RUNS 32
#define BENCH_MAX_SIZE ((size_t)16 << 20) /* IPCX_DEFAULT_MAX_MSG */
#define BENCH_UDP_MAX  ((size_t)65507)    /* IPv4 UDP payload limit */

/* ---- Endpoints: one connected side of a channel, inside a worker process ------------ */

typedef struct bench_ep bench_ep;

struct bench_ep_ops {
	/* Send one whole message. 0 or a negative IPCX_E* / -errno code. */
	int (*send)(bench_ep *ep, const void *buf, size_t len);
	/* Receive one whole message into buf (cap bytes). timeout_ms below ep->timeout_ms asks
	 * for a shorter wait (0: poll); otherwise the endpoint's normal bound applies. */
	int (*recv)(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms);
	void (*close)(bench_ep *ep);
	/* Zero-copy endpoints only (shm+loan, iceoryx), else NULL: borrow room for a message
	 * of up to len bytes (len <= ep->loan_max) and publish it in place; look at the next
	 * message in place and give it back. The worker writes every byte of the loan once (a
	 * producer generating its message in place) and reads only the sequence number. */
	int (*loan)(bench_ep *ep, size_t len, void **ptr);
	int (*commit)(bench_ep *ep, void *ptr, size_t len);
	int (*view)(bench_ep *ep, const void **ptr, size_t *len, int timeout_ms);
	int (*release)(bench_ep *ep);
};

struct bench_ep {
	const struct bench_ep_ops *ops;
	int timeout_ms;  /* the bound on every normal wait (-1: none, the parent's watchdog) */
	ipcx_chan *chan; /* ipcx implementations */
	int rfd, wfd;    /* raw implementations: rfd == wfd on sockets */
	bool is_socket;
	unsigned char *rbuf; /* raw byte streams and files: buffered reads, as a careful
	                        hand-written program does; raw mq: a buffer of mq_msgsize */
	size_t rhead, rtail;
	size_t rcap; /* raw mq: mq_msgsize of the receive queue */
	/* raw System V queue: one queue, an mtype per direction, and the msgbuf that msgsnd
	 * and msgrcv want (the mtype, then the payload) */
	int qid;
	long rtype, ttype;
	void *mbuf;
	size_t mcap;
	/* raw files: an inotify watch on the file read, the offset of rbuf[rtail] in it, how
	 * far its consumed space was given back; fdatasync after each append */
	int ino;
	uint64_t roff, punched;
	bool sync;
	bool rmid;       /* raw System V: this side made the queue and removes it at close */
	size_t loan_max; /* zero-copy endpoints: the largest loan; larger messages are sent */
	/* shared-memory baselines: the MAP_SHARED mapping made before the fork, and what the
	 * endpoint knows of it (see bench_impl_shm.c); peers: their library's handles */
	void *map;
	size_t maplen;
	void *priv;
	uint64_t head, tail, count;
	bool ended;
};

/* ---- Implementations: how a pair of workers gets connected --------------------------- */

/* The rendezvous of one pair of workers. The parent fills it, fork copies it into both. */
typedef struct bench_ctx {
	const struct bench_impl *impl;
	const char *tmpdir; /* private directory for names, removed by the parent at the end */
	pid_t owner;        /* the parent's pid, for unique names */
	unsigned serial;    /* unique per pair within the run */
	int timeout_ms;
	size_t msg_size;           /* the message size this pair will carry */
	char addr[BENCH_ADDR_MAX]; /* set by serve() in worker A, read by dial() in worker B */
	int fds[4];                /* made by prepare() before the fork (raw pipe) */
	ipcx_chan *pair[2];        /* made by prepare() before the fork (ipcx_pair) */
	void *map;                 /* made by prepare() before the fork (shared memory) */
	size_t maplen;
	void *lst;       /* worker A between serve() and accept() */
	int lfd;         /* worker A between serve() and accept() */
	pid_t pid[2];    /* the parent: the pair's workers, for cleanup() */
	int64_t started; /* the parent: CLOCK_REALTIME seconds when the pair began */
} bench_ctx;

#define BENCH_LOSSY      1u /* datagrams: messages may be lost; stream ends are resent */
#define BENCH_SYNC       2u /* raw files: fdatasync after every append */
#define BENCH_NO_STREAM  4u /* a round-trip floor only (cache line, futex): no stream */
#define BENCH_NO_PING    8u /* a one-sided copy (memcpy): no round trip */
#define BENCH_SYSV_TRIES 8  /* System V keys a pair tries (ftok proj 1..8) */

typedef struct bench_impl {
	const char *name;       /* label in the output ("pipe:", "raw pipe") */
	const char *arg;        /* address template: %D tmpdir, %P owner pid, %N serial */
	const char *dial_query; /* ipcx: appended to the listener's URL to dial it, or NULL */
	unsigned flags;
	size_t max_msg; /* largest message it can carry, 0: BENCH_MAX_SIZE */
	/* peers: NULL when built in, else why not (the package that was missing) */
	const char *missing;
	/* Parent, before forking the pair; optional. */
	int (*prepare)(bench_ctx *cx, char *err);
	/* Worker A: start serving and fill cx->addr for worker B; optional. */
	int (*serve)(bench_ctx *cx, char *err);
	/* Worker A: wait (bounded) for worker B and fill ep. */
	int (*accept)(bench_ctx *cx, bench_ep *ep, char *err);
	/* Worker B: connect to cx->addr and fill ep. */
	int (*dial)(bench_ctx *cx, bench_ep *ep, char *err);
	/* Parent, after forking both workers: drop what prepare() made; optional. */
	void (*release)(bench_ctx *cx);
	/* Parent, once both workers are gone (quit, failed or killed): remove any kernel
	 * object the pair may have left, by the names it derives from cx (cx->addr is what
	 * worker A reported, or empty). Files in cx->tmpdir go with the directory; ipcx's
	 * own objects are found through its creator registry. Optional; must be idempotent. */
	void (*cleanup)(bench_ctx *cx);
} bench_impl;

extern const bench_impl bench_ipcx_pipe, bench_ipcx_fifo, bench_ipcx_unix, bench_ipcx_unix_abs,
        bench_ipcx_tcp, bench_ipcx_unix_adaptive, bench_ipcx_tcp_adaptive, bench_ipcx_udp,
        bench_ipcx_mq, bench_ipcx_sysvmq, bench_ipcx_file, bench_ipcx_file_sync;
extern const bench_impl bench_raw_pipe, bench_raw_fifo, bench_raw_seqpacket,
        bench_raw_seqpacket_abs, bench_raw_tcp, bench_raw_udp, bench_raw_mq, bench_raw_sysvmq,
        bench_raw_file, bench_raw_file_sync;
/* shared memory: ipcx's shm:// in its wait modes and zero-copy, and what it is held to */
extern const bench_impl bench_ipcx_shm, bench_ipcx_shm_spin, bench_ipcx_shm_block,
        bench_ipcx_shm_loan;
extern const bench_impl bench_base_floor, bench_base_futex, bench_base_ring, bench_base_memcpy;
/* --peers: other messaging libraries doing the same job */
extern const bench_impl bench_peer_nng_ipc, bench_peer_nng_tcp, bench_peer_zmq_ipc,
        bench_peer_zmq_tcp, bench_peer_iox;

/* iceoryx needs its daemon, RouDi, for the whole time its pairs run: the bench starts one
 * (configured with memory pools for the sizes measured) and stops it. */
typedef struct bench_iox_daemon {
	pid_t pid;
	char log[BENCH_ADDR_MAX];
} bench_iox_daemon;
/* Start iox-roudi, wait until it is ready. 0, or an error with the reason in err. */
int bench_iox_start(bench_iox_daemon *d, const char *tmpdir, const size_t *sizes, int nsizes,
                    int timeout_ms, char *err, size_t cap);
/* Stop it (SIGTERM, bounded, then SIGKILL) and remove what a killed RouDi leaves. */
void bench_iox_stop(bench_iox_daemon *d);
/* The janitor's way to stop a RouDi whose bench died: the implementation whose cleanup()
 * kills cx->pid[0] if it still runs and removes iceoryx's files. */
extern const bench_impl bench_iox_roudi;

/* The shape of the queues mq:// makes by default, which the raw baseline copies: depth
 * min(fs.mqueue.msg_default, msg_max), message size fs.mqueue.msgsize_max. */
void bench_mq_shape(long *depth, long *msgsize);
/* A System V message's largest payload: min(kernel.msgmax, kernel.msgmnb). */
size_t bench_sysv_msgmax(void);
/* The n-th System V key a pair may use (n = 0, 1, ...): ftok of a file in the private
 * directory, made if missing. 0 (IPC_PRIVATE) on failure. */
key_t bench_sysv_key(const char *file, unsigned n);

/* Expand an address template (see bench_impl.arg). IPCX_ENAMETOOLONG if it does not fit. */
int bench_expand(char *out, size_t cap, const char *tmpl, const bench_ctx *cx);
/* Text for an IPCX_E* or -errno code. */
const char *bench_strerror(int err);

/* ---- The worker protocol: parent -> worker commands, worker -> parent reports -------- */

enum bench_op {
	BENCH_OP_PING = 1, /* ping-pong round trips */
	BENCH_OP_STREAM,   /* one-way stream B -> A, acknowledged at the end */
	BENCH_OP_DRAIN,    /* A only: discard stale datagrams (lossy implementations) */
	BENCH_OP_QUIT,
};

typedef struct bench_cmd {
	int op;
	uint64_t size;        /* message size */
	int64_t min_ns;       /* measure at least this long ... */
	uint64_t min_iters;   /* ... and at least this many messages ... */
	int64_t max_ns;       /* ... but never longer than this */
	uint64_t max_samples; /* ping-pong: size of the sample array */
} bench_cmd;

typedef struct bench_rep {
	int status; /* 0 or a negative code */
	char err[BENCH_ERR_MAX];
	char addr[BENCH_ADDR_MAX]; /* worker A's first report */
	uint64_t loan_max;         /* the connected report of a zero-copy endpoint */
	uint64_t count;            /* ping-pong: round trips; stream: messages sent */
	uint64_t recvd;            /* stream: messages the receiver counted */
	int64_t elapsed_ns;
	double p50_ns, p99_ns, p999_ns;
	int64_t cpu_ns; /* CPU time (user + system, all its threads) the worker spent on the
	                   command; the parent adds A's to B's */
} bench_rep;

enum bench_role { BENCH_ROLE_A = 0, BENCH_ROLE_B = 1 };

/* The body of a worker process; never returns. cpu < 0: not pinned. */
_Noreturn void bench_worker(int role, bench_ctx *cx, int cmd_fd, int rep_fd, int cpu);

/* ---- Results ------------------------------------------------------------------------- */

typedef struct bench_series {
	double v[BENCH_MAX_RUNS];
	int n;
} bench_series;

typedef struct bench_summary {
	double med, min, max;
	bool valid;
} bench_summary;

bench_summary bench_summarize(const bench_series *s);

enum bench_kind { BENCH_KIND_IPCX, BENCH_KIND_BASE, BENCH_KIND_PEER };

typedef struct bench_result {
	const bench_impl *impl;
	const char *label; /* the line's name in a group row ("shm@spin", "floor") */
	int kind;          /* enum bench_kind */
	/* what its x is against: indices into the row's res[], -1 none */
	int ref_rtt, ref_mps;
	bool want_ping, want_stream; /* the phases this row measures of it */
	bool skipped;                /* too large a message for it: err says why */
	uint64_t loan_max;           /* zero-copy: the largest loan (0: not zero-copy) */
	bool failed;
	char err[2 * BENCH_ERR_MAX];
	bench_series p50, p99, p999; /* round trip, microseconds */
	bench_series mps, mbps;      /* stream: messages/s, MB/s (10^6 bytes) */
	bench_series loss;           /* stream: percent of messages lost */
	/* CPU time of both workers over the phase, in percent of one CPU (0..200): what a
	 * figure cost, which shows a side that waits busily */
	bench_series cpu_ping, cpu_stream;
	uint64_t samples; /* round trips measured over all runs */
} bench_result;

#define BENCH_IMPLS 12 /* results in one row: a scheme and its baseline, or a group */

/* A row: one scheme at one size, ipcx (res[0]) beside its raw baseline (res[1]); or a group
 * (shared memory, peers) at one size, one table line per member, each with its own x. */
typedef struct bench_row {
	const char *scheme; /* the scheme, or the group's name */
	const char *url;    /* an example URL of the scheme */
	size_t size;
	bool skipped;
	bool group;
	char note[160];
	int nres;
	bench_result res[BENCH_IMPLS];
} bench_row;

typedef enum bench_format { BENCH_TABLE, BENCH_CSV, BENCH_JSON } bench_format;

typedef struct bench_config {
	bool quick;
	bool peers; /* --peers given */
	int runs;
	int timeout_ms;
	bench_cmd warm_ping, warm_stream, ping, stream; /* op and size filled per use */
	int cpu[2];                                     /* A's and B's CPU, -1: not pinned */
	bench_format format;
} bench_config;

typedef struct bench_machine {
	char cpu_model[128];
	long cpus_online;
	long cpus_allowed;
	char kernel[200];
	long mem_mib;
	char compiler[64];
	char load[64]; /* /proc/loadavg's first three fields when the run started */
} bench_machine;

void bench_machine_probe(bench_machine *m);
/* The 1, 5 and 15 minute load averages ("0.12 0.30 0.25"), or "?". */
void bench_loadavg(char *buf, size_t cap);
void bench_out_begin(const bench_config *cfg, const bench_machine *m, const char *note);
void bench_out_row(const bench_config *cfg, const bench_row *row);
/* The performance targets from the rows measured (table, JSON), then the end. */
void bench_out_end(const bench_config *cfg, const bench_row *rows, int nrows, int nfailed,
                   double elapsed_s);
/* Write gnuplot's data and script into dir and draw FILE.png. 0 or an error in err. */
int bench_plot(const char *dir, const char *png, const bench_row *rows, int nrows, char *err,
               size_t cap);
/* "64 B", "4 KiB", "1 MiB", or the byte count. */
void bench_fmt_size(char *buf, size_t cap, size_t size);

#endif
