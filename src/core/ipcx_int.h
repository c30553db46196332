/*
 * ipcx_int.h - what the core shares with transports: the transport table, the channel and
 * listener bases, URLs, deadlines, the I/O helpers and the length-prefixed stream framer.
 */
#ifndef IPCX_INT_H
#define IPCX_INT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "ipcx.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

#define IPCX__UNUSED(x) ((void)(x))

struct addrinfo;
struct sockaddr;

/* memcpy that takes (NULL, 0): a zero-length message may live in a NULL buffer. */
static inline void
ipcx__copy(void *dst, const void *src, size_t n)
{
	if (n > 0) {
		memcpy(dst, src, n);
	}
}

/* errno -> IPCX_E*, once, at the syscall. */
static inline int
ipcx__err(int e)
{
	return e > 0 ? -e : IPCX_EUNKNOWN;
}

/* ---- URLs ---------------------------------------------------------------------------- */

#define IPCX__URL_MAX   4096
#define IPCX__QUERY_MAX 16

typedef struct ipcx__url {
	char scheme[16];
	char path[IPCX__URL_MAX]; /* percent-decoded; fifo/unix path, tcp/udp "host:port" */
	char host[256];           /* tcp/udp: host without brackets ("" = any) */
	char port[16];            /* tcp/udp */
	bool abstract;            /* unix:@name */
	int nquery;
	struct {
		char key[32];
		char val[256];
		bool used;
	} query[IPCX__QUERY_MAX];
} ipcx__url;

int ipcx__url_parse(ipcx__url *u, const char *url);
/* Split u->path as host:port ([v6]:port allowed) into u->host, u->port. */
int ipcx__url_hostport(ipcx__url *u);
/* Look a query key up and mark it used; NULL if absent. */
const char *ipcx__url_query(ipcx__url *u, const char *key);
/* Parse a query value as an unsigned number in base (0: 0x and 0 prefixes honoured)
 * within [lo, hi]; *found tells whether the key was present. */
int ipcx__url_query_num(ipcx__url *u, const char *key, int base, unsigned long long lo,
                        unsigned long long hi, unsigned long long *out, bool *found);

/* prefix + path with '%', '?', '&', spaces and control bytes percent-encoded, so that the
 * result parses back to the same path. */
int ipcx__url_format(char *buf, size_t cap, const char *prefix, const char *path);

/* Effective options: opts (or defaults) overlaid with the URL query. */
typedef struct ipcx__opts {
	size_t max_msg;
	unsigned mode;
	bool keep;
	bool raw;
	int wait; /* ?wait= of the fd schemes that read it (unix, tcp): IPCX__WAIT_* */
} ipcx__opts;

int ipcx__opts_resolve(ipcx__opts *o, const ipcx_opts *user, ipcx__url *u);

/* ---- Time ---------------------------------------------------------------------------- */

/* Deadlines are absolute CLOCK_MONOTONIC nanoseconds; IPCX__FOREVER never expires. */
#define IPCX__FOREVER INT64_MAX
int64_t ipcx__now_ns(void);
int64_t ipcx__deadline(int timeout_ms);
/* A lazy deadline: timeout_ms counted from the first moment a wait needs it, so that a call
 * that never waits never reads the clock (~30 ns in a VM, as much as a whole shm:// send).
 * Encoded as a negative number; only transports with lazy_deadline get them. */
static inline int64_t
ipcx__deadline_lazy(int timeout_ms)
{
	return timeout_ms < 0 ? IPCX__FOREVER : -(int64_t)timeout_ms - 2;
}

/* Fix a lazy deadline at now (in place) and return the absolute one. */
static inline int64_t
ipcx__deadline_fix(int64_t *d, int64_t now)
{
	if (*d < 0) {
		*d = now + (-*d - 2) * 1000000;
	}
	return *d;
}

/* Milliseconds left for poll(): -1 forever, 0 expired, rounded up otherwise. */
int ipcx__poll_ms(int64_t deadline);

/* ---- I/O helpers --------------------------------------------------------------------- */

/*
 * How a socket channel waits for its fd (?wait=): block in poll (the zero value and the
 * default; what pipe and fifo always do), spin on non-blocking attempts until the
 * deadline, or adaptive: retry non-blockingly for a budget that follows the real length of
 * the waits, then block. A cross-CPU wake-up of a sleeping vCPU costs tens of
 * microseconds; while messages keep flowing, a retrying receiver is on-CPU when they
 * arrive. Not the default: with more busy threads than CPUs (32 RPC clients and their
 * server threads on 2 CPUs), retrying took the CPU the peers needed (2.4x slower).
 */
#define IPCX__WAIT_BLOCK    0
#define IPCX__WAIT_ADAPTIVE 1
#define IPCX__WAIT_SPIN     2

typedef struct ipcx__spin {
	int mode;          /* IPCX__WAIT_* */
	int64_t budget_ns; /* adaptive: how long to retry before blocking (0: never) */
	int64_t start;     /* when the current wait began; 0 while not waiting */
	int64_t end;       /* when its retrying stops */
	int64_t last;      /* the latest attempt */
	bool preempted;    /* the thread lost its CPU while retrying */
} ipcx__spin;

/* Parse ?wait=spin|block|adaptive (absent: block) into *mode; IPCX_EBADURL otherwise. */
int ipcx__url_wait(ipcx__url *u, int *mode);
void ipcx__spin_init(ipcx__spin *s, int mode);
/* True when attempts should not block: retrying is on (spin, or a budget left). */
static inline bool
ipcx__spin_on(const ipcx__spin *s)
{
	return s != NULL && (s->mode == IPCX__WAIT_SPIN || s->budget_ns > 0);
}
/* A non-blocking attempt found nothing: true to try again at once, false to block (the
 * budget or the deadline is used up). The first call of a wait starts its clock. */
bool ipcx__spin_again(ipcx__spin *s, int64_t deadline);
/* The wait (if any) ended, however: adapt the budget to how long it took. */
void ipcx__spin_end(ipcx__spin *s);
static inline void
ipcx__spin_done(ipcx__spin *s)
{
	if (s != NULL && s->start != 0) {
		ipcx__spin_end(s);
	}
}

/* Wait until fd has any of events (POLLIN/POLLOUT) or the deadline passes. Returns the
 * revents (> 0), or IPCX_ETIMEDOUT. EINTR is retried against the same deadline. */
int ipcx__wait_fd(int fd, short events, int64_t deadline);
int ipcx__set_nonblock(int fd, bool on);
void ipcx__close_fd(int fd);
/* Write all of iov to fd (a pipe, FIFO or stream socket), waiting up to the deadline.
 * *done counts bytes written, so a caller can tell "nothing written" from "part written".
 * Sockets use send flags MSG_NOSIGNAL; pipes block SIGPIPE around the write instead. */
#define IPCX__IO_SOCKET    0x1 /* fd is a socket: sendmsg with MSG_NOSIGNAL */
#define IPCX__IO_NOSIGPIPE 0x2 /* pipe/FIFO and SIGPIPE is ignored: no mask dance */
/* True if this process ignores SIGPIPE (checked when a pipe channel is made). */
bool ipcx__sigpipe_ignored(void);
int ipcx__writev_all(int fd, unsigned ioflags, struct iovec *iov, int iovcnt, int64_t deadline,
                     size_t *done);
/* The same, waiting on a full buffer as sp says (NULL: block). */
int ipcx__writev_all_sp(int fd, unsigned ioflags, struct iovec *iov, int iovcnt, int64_t deadline,
                        size_t *done, ipcx__spin *sp);
/* One read(2)/recv(2) of at most cap bytes, waiting up to the deadline. Returns the count
 * (> 0), IPCX_ECLOSED at end of stream, IPCX_ETIMEDOUT, or another error. */
ssize_t ipcx__read_some(int fd, bool is_socket, void *buf, size_t cap, int64_t deadline,
                        bool *wait_first);
/* The same, waiting for input as sp says (NULL: block). */
ssize_t ipcx__read_some_sp(int fd, bool is_socket, void *buf, size_t cap, int64_t deadline,
                           bool *wait_first, ipcx__spin *sp);
/* accept4(CLOEXEC) on a non-blocking listening socket, waiting up to the deadline; errors
 * that belong to one aborted client are skipped. Returns the fd or an error. */
int ipcx__accept_fd(int lfd, int64_t deadline);
/* A pollable set for a channel or listener that may hold data in user space: an epoll fd
 * (*epfd) watching fd and a new eventfd (*evfd), both CLOEXEC; nothing is left open on
 * failure. ipcx__ev_set makes the eventfd readable (on) or not while such data waits. */
int ipcx__pollset_new(int fd, int *epfd, int *evfd);
void ipcx__ev_set(int evfd, bool on);
/* connect() bounded by the deadline; the socket is left blocking. */
int ipcx__connect_fd(int fd, const struct sockaddr *sa, unsigned len, int64_t deadline);

/* ---- The stream framer: [8-byte big-endian length][payload] over a byte stream ------- */

#define IPCX__FRAME_HDR 8
#define IPCX__RBUF_SIZE (64 * 1024)

typedef struct ipcx__framer {
	int fd;
	bool is_socket;
	bool raw; /* no framing: each recv returns the bytes available */
	/* poll before reading until the first byte arrives: a FIFO whose writer has not opened
	 * it yet reads as end-of-file, but polls as "nothing yet" */
	bool poll_first;
	/* while poll_first: our write end towards the peer (or -1); POLLERR on it means the
	 * peer is gone before it ever wrote, which the read side alone cannot see */
	int peer_fd;
	bool wait_first;  /* adaptive: poll before reading (ping-pong) or read first (stream) */
	bool sigpipe_ign; /* send side of a pipe/FIFO: SIGPIPE was ignored at creation */
	ipcx__spin rspin; /* how to wait for input; blocking unless the transport says */
	ipcx__spin sspin; /* how to wait for room to send */
	size_t max_msg;   /* lengths above this from the peer are a protocol error */
	/* receive side */
	unsigned char *rbuf;  /* IPCX__RBUF_SIZE bytes, allocated with the channel */
	size_t rhead, rtail;  /* unread bytes are rbuf[rhead, rtail) */
	bool have_len;        /* the current frame's length has been read */
	uint64_t need;        /* its length */
	unsigned char *stash; /* body bytes kept across a timeout (rare path) */
	size_t stashed;
	int rerr; /* sticky receive error (EPROTO, ECLOSED) */
	/* send side */
	int serr; /* sticky send error (a frame was cut short) */
	/* hooks for transports that put something before the first frame (the SP header) */
	int (*on_first_recv)(struct ipcx__framer *fr, int64_t deadline);
	bool first_done;
} ipcx__framer;

int ipcx__framer_init(ipcx__framer *fr, int fd, bool is_socket, bool raw, size_t max_msg);
/* A send-only framer (no receive buffer); nothing to free. */
void ipcx__framer_init_tx(ipcx__framer *fr, int fd, bool is_socket, bool raw, size_t max_msg);
void ipcx__framer_fini(ipcx__framer *fr);
/* How the framer waits (IPCX__WAIT_*); a new framer blocks. */
void ipcx__framer_set_wait(ipcx__framer *fr, int mode);
int ipcx__framer_send(ipcx__framer *fr, const void *buf, size_t len, int64_t deadline);
int ipcx__framer_recv(ipcx__framer *fr, void *buf, size_t cap, size_t *len, int64_t deadline);
/* Read exactly n bytes through the buffer (used for handshakes). */
int ipcx__framer_read_exact(ipcx__framer *fr, void *buf, size_t n, int64_t deadline);
/* True when bytes are buffered in user space (so the fd may not poll readable). */
bool ipcx__framer_pending(const ipcx__framer *fr);

/* ---- Channels, listeners, transports ------------------------------------------------- */

struct ipcx__transport;

struct ipcx_chan {
	const struct ipcx__transport *tp;
	size_t max_msg;
	/* ipcx_chan_fd: an epoll set of the transport fd and an eventfd that is kept readable
	 * while the transport holds a buffered message. Created on first use. */
	int pollfd;
	int evfd;
	bool ev_set;
	/* zero-copy calls on schemes without their own (core/loan.c): a channel buffer */
	unsigned char *lbuf; /* the loan's buffer */
	size_t lcap, lsize;  /* its capacity, the size loaned */
	int ltimeout;        /* the loan's timeout, used by ipcx_commit's send */
	bool loaned;
	unsigned char *vbuf; /* the view's buffer */
	size_t vcap;
	bool viewing;
};

struct ipcx_listener {
	const struct ipcx__transport *tp;
	ipcx__opts opts;
};

/*
 * One mechanism = one transport table. Ops that a scheme lacks are NULL and the core
 * answers IPCX_ENOTSUP for them. Every op returns 0 or a negative IPCX_E* code, except
 * where noted. Deadlines come from ipcx__deadline().
 */
#define IPCX__TRANSPORT_VERSION 1

struct ipcx__transport {
	int version; /* IPCX__TRANSPORT_VERSION */
	const char *scheme;
	/* send, recv, loan and recv_view get lazy deadlines (ipcx__deadline_lazy) */
	bool lazy_deadline;
	/* persistence of the named object; may look at the URL (unix abstract) */
	int (*persistence)(const ipcx__url *u);
	/* query keys of this scheme beyond the core's (NULL-terminated), or NULL */
	const char *const *query_keys;

	/* Create a listener. Must fill (*lp)->tp. */
	int (*listen)(ipcx_listener **lp, ipcx__url *u, const ipcx__opts *o);
	/* Next client's channel; a client failing its handshake is skipped. */
	int (*accept)(ipcx_listener *l, ipcx_chan **cp, int64_t deadline);
	/* Free the listener and remove created names (unless keep). */
	void (*listener_close)(ipcx_listener *l);
	int (*listener_fd)(ipcx_listener *l);
	int (*listener_url)(ipcx_listener *l, char *buf, size_t cap);

	/* Connect. Must fill (*cp)->tp via ipcx__chan_init. */
	int (*dial)(ipcx_chan **cp, ipcx__url *u, const ipcx__opts *o, int64_t deadline);
	/* len <= c->max_msg has been checked by the core. */
	int (*send)(ipcx_chan *c, const void *buf, size_t len, int64_t deadline);
	/* Contract of ipcx_recv. */
	int (*recv)(ipcx_chan *c, void *buf, size_t cap, size_t *len, int64_t deadline);
	/* The fd that polls readable when data arrives (>= 0), or an error. */
	int (*fd)(ipcx_chan *c);
	/* True when a message (or part of one) is buffered in user space. NULL: never. */
	bool (*pending)(ipcx_chan *c);
	/* Free the channel (the core has released its own fds). */
	void (*close)(ipcx_chan *c);

	/* Optional. */
	int (*send_prio)(ipcx_chan *c, const void *buf, size_t len, unsigned prio,
	                 int64_t deadline);
	int (*peer_cred)(ipcx_chan *c, pid_t *pid, uid_t *uid, gid_t *gid);
	int (*send_fds)(ipcx_chan *c, const void *buf, size_t len, const int *fds, size_t nfds,
	                int64_t deadline);
	int (*recv_fds)(ipcx_chan *c, void *buf, size_t cap, size_t *len, int *fds, size_t *nfds,
	                int64_t deadline);
	/* Zero-copy (shm). All or none; without them the core lends a channel buffer. A
	 * scheme whose messages are smaller than max_msg gives loan_max alone. */
	int (*loan)(ipcx_chan *c, size_t size, void **ptr, int64_t deadline);
	int (*commit)(ipcx_chan *c, void *ptr, size_t len);
	int (*loan_cancel)(ipcx_chan *c);
	size_t (*loan_max)(ipcx_chan *c);
	int (*recv_view)(ipcx_chan *c, const void **ptr, size_t *len, int64_t deadline);
	int (*release)(ipcx_chan *c);
};

void ipcx__chan_init(ipcx_chan *c, const struct ipcx__transport *tp, size_t max_msg);
/* The deadline of a send/receive call on c: lazy where the transport takes it so. */
static inline int64_t
ipcx__chan_deadline(const ipcx_chan *c, int timeout_ms)
{
	return c->tp->lazy_deadline ? ipcx__deadline_lazy(timeout_ms) : ipcx__deadline(timeout_ms);
}
/* Keep ipcx_chan_fd's eventfd readable exactly while the transport holds buffered data. */
void ipcx__chan_sync_ev(ipcx_chan *c);

extern const struct ipcx__transport ipcx__pipe;
extern const struct ipcx__transport ipcx__fifo;
extern const struct ipcx__transport ipcx__unix;
extern const struct ipcx__transport ipcx__tcp;
extern const struct ipcx__transport ipcx__udp;
extern const struct ipcx__transport ipcx__mq;
extern const struct ipcx__transport ipcx__sysvmq;
extern const struct ipcx__transport ipcx__file;
extern const struct ipcx__transport ipcx__shm;

const struct ipcx__transport *ipcx__transport_find(const char *scheme);

/* Internal constructors used by tests and fuzz targets to put a transport on given fds. */
int ipcx__pipe_chan_from_fds(ipcx_chan **cp, int rfd, int wfd, const ipcx__opts *o);
/* An shm channel over memory laid out as a segment (4096 + 2 x ring_size bytes), without a
 * socket or peer: for fuzz targets that play a hostile producer or consumer. txi is the
 * ring this side produces into (0 as the accepter, 1 as the dialer). */
int ipcx__shm_chan_from_mem(ipcx_chan **cp, void *seg, uint64_t ring_size, int txi, size_t max_msg);
int ipcx__tcp_chan_from_fd(ipcx_chan **cp, int fd, const ipcx__opts *o);
int ipcx__unix_chan_from_fd(ipcx_chan **cp, int fd, const ipcx__opts *o);

/* ---- Internet addresses (tcp, udp) ----------------------------------------------------- */

/* getaddrinfo for u->host/u->port (after ipcx__url_hostport); host "" with passive binds
 * every address. Errors: IPCX_ENOTFOUND for names that do not resolve; IPCX_ETIMEDOUT for a
 * name lookup still running at the deadline (a DNS server that does not answer), which is
 * left to finish on its own thread (IPCX__FOREVER: no bound). */
int ipcx__inet_resolve(struct addrinfo **res, const ipcx__url *u, int socktype, bool passive,
                       int64_t deadline);
/* getaddrinfo() bounded by deadline (addresses are never looked up, so never wait), its
 * errors as IPCX_E* codes (IPCX_ENOTFOUND for an unknown name). */
int ipcx__getaddrinfo(const char *host, const char *port, const struct addrinfo *hints,
                      struct addrinfo **res, int64_t deadline);
/* "scheme://127.0.0.1:5555" or "scheme://[::1]:5555". */
int ipcx__inet_format(char *buf, size_t cap, const char *scheme, const struct sockaddr *sa);
/* Copy s into buf (cap bytes) or fail with IPCX_ENAMETOOLONG; never truncates. */
int ipcx__strlcpy(char *buf, const char *s, size_t cap);
/* ---- Creators and the registry (src/obj/registry.c) ----------------------------------- */

/* Set (printf-style) or clear the thread's ipcx_errdetail() text. */
void ipcx__errdetail_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ipcx__errdetail_clear(void);
/* Start time of a process (clock ticks since boot, /proc/PID/stat field 22). */
int ipcx__proc_starttime(pid_t pid, unsigned long long *st);
int ipcx__self_starttime(unsigned long long *st);
/* IPCX_OBJ_ALIVE if pid runs and started at starttime (0: not known), IPCX_OBJ_DEAD if it
 * is gone or its pid now belongs to another process, IPCX_OBJ_UNKNOWN otherwise. */
int ipcx__creator_state(pid_t pid, unsigned long long starttime);
/* The registry directory ($IPCX_REGISTRY_DIR, $XDG_RUNTIME_DIR/ipcx, /tmp/ipcx-$UID),
 * created 0700 if missing and refused unless it is a private directory of this user. */
int ipcx__registry_dir(char *buf, size_t cap);
/* Record this process as the creator of object name of the given kind ("posix-mq",
 * "sysv-msg", "fifo", ...); forget it; look it up. */
int ipcx__registry_add(const char *kind, const char *name);
int ipcx__registry_remove(const char *kind, const char *name);
int ipcx__registry_lookup(const char *kind, const char *name, pid_t *pid,
                          unsigned long long *starttime);
/* Forget name only if the entry records this very process: a successor that took the name
 * over keeps its entry. An empty name is ignored. */
int ipcx__registry_forget(const char *kind, const char *name);
/* Call fn for every entry (kind, decoded name, creator) until it returns nonzero, which is
 * then returned. fn may remove the entry it is given. */
typedef int (*ipcx__registry_fn)(void *arg, const char *kind, const char *name, pid_t pid,
                                 unsigned long long starttime);
int ipcx__registry_each(ipcx__registry_fn fn, void *arg);
/* The absolute form of a file system path for a registry name: a relative path is taken
 * against the cwd (leading "./" dropped). IPCX_ENAMETOOLONG if it does not fit. */
int ipcx__abs_path(char *buf, size_t cap, const char *path);

/* ---- Raw object names (src/obj/names.c) ----------------------------------------------- */

/* The names of ipcx_shm / ipcx_sem objects (see ipcx.h):
 *   "NAME", "posix:NAME"   POSIX name "/ipcx.NAME"; NAME is not empty and has no '/'
 *   "sysv:0x1234", "sysv:4660"           System V key (1 .. 0xffffffff; 0 is IPC_PRIVATE)
 *   "sysv:/path?proj=N", "sysv:rel/path"  key ftok(path, N), N 1..255, 1 if omitted; the
 *                                         file must exist. A path can hold no '?'.
 * Too long a POSIX name is IPCX_ENAMETOOLONG, never truncated; a bad one IPCX_EINVAL. */
#define IPCX__NS_POSIX   1
#define IPCX__NS_SYSV    2
#define IPCX__OBJ_ID_MAX 257 /* "/" + NAME_MAX (255) + NUL */

typedef struct ipcx__objname {
	int ns;    /* IPCX__NS_POSIX or IPCX__NS_SYSV */
	key_t key; /* IPCX__NS_SYSV */
	/* The name the registry and `ipcx ls` use: the POSIX kernel name with its slash
	 * ("/ipcx.foo") or the key as "0x%08x". */
	char id[IPCX__OBJ_ID_MAX];
} ipcx__objname;

int ipcx__objname_parse(ipcx__objname *n, const char *name);
/* ftok(path, proj) with proj 1..255, telling the valid key (key_t)-1 from an error. */
int ipcx__sysv_ftok(key_t *key, const char *path, unsigned proj);

/* ---- The header of ipcx shared-memory segments (src/obj/shm.c) ------------------------- */

/* 64 bytes at offset 0 of every segment ipcx_shm_open creates, in native byte order (a
 * segment never leaves its machine); ipcx_shm_ptr points just past it. The creator writes
 * every field, then the magic last with release order: whoever reads the magic with
 * acquire order (__atomic_load_n) sees the whole header. `ipcx ls` reads it too. */
#define IPCX__SHM_MAGIC   0x58435049u /* the bytes "IPCX" on little-endian machines */
#define IPCX__SHM_VERSION 1
#define IPCX__SHM_HDR     64

struct ipcx__shm_hdr {
	uint32_t magic;
	uint16_t version;  /* IPCX__SHM_VERSION */
	uint16_t hdr_size; /* IPCX__SHM_HDR */
	int32_t creator_pid;
	uint32_t reserved0;     /* 0 */
	uint64_t creator_start; /* the creator's start time, /proc/PID/stat field 22 */
	uint64_t size;          /* usable bytes after the header */
	unsigned char reserved[32];
};
_Static_assert(sizeof(struct ipcx__shm_hdr) == IPCX__SHM_HDR, "shm header is 64 bytes");

/* Check the header at the start of an object of objsize (>= IPCX__SHM_HDR) bytes.
 * IPCX_EAGAIN: the magic is still 0, as while a creator is writing the header;
 * IPCX_EPROTO: another magic (not an ipcx segment), an unknown version or header size, or
 * a usable size the object cannot hold. */
int ipcx__shm_hdr_check(const struct ipcx__shm_hdr *h, uint64_t objsize);

/* Sleep the next step of a bounded backoff (*step_ns, doubled each call up to 5 ms) but not
 * past the deadline; IPCX_ETIMEDOUT once the deadline has passed. Used to poll for what
 * the kernel cannot wait for: a contended OFD lock with a timeout, a header still being
 * written. Start *step_ns at IPCX__BACKOFF_MIN_NS. (src/obj/lock.c) */
#define IPCX__BACKOFF_MIN_NS 50000
int ipcx__backoff(int64_t *step_ns, int64_t deadline);

/* ---- file:// logs (src/core/crc32c.c, src/transport/file.c) -------------------------- */

/* CRC-32C (Castagnoli) of buf, continuing from crc (0 to start): the SSE4.2 instruction
 * where the CPU has it, else slice-by-8 tables; _sw always the tables (for tests). */
uint32_t ipcx__crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t ipcx__crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* The header of a file:// log: its flags (0x1 a listener's log, removed by its creator on
 * close; 0x2 one direction of a client's private pair; neither: a durable log of data),
 * creator pid and start time, and whether it was created since the last boot (before
 * that, the pid names nobody). IPCX_EPROTO if path is no log. */
int ipcx__file_header(const char *path, unsigned *flags, pid_t *creator, unsigned long long *start,
                      bool *this_boot);

/* ---- Shared by several transports (src/core/shared.c) --------------------------------- */

/* A positive number read from a /proc/sys file, or dflt if it cannot be read. */
long long ipcx__sysctl(const char *path, long long dflt);
/* A rendezvous token names a client's private objects next to a listener's: 1..max
 * characters of [0-9a-z.], not starting with '.', so it can never leave that place. */
bool ipcx__token_ok(const char *t, size_t n, size_t max);
/* "<base>.<token>.up" and "<base>.<token>.dn", or IPCX_ENAMETOOLONG if one exceeds cap. */
int ipcx__pair_names(char *up, char *dn, size_t cap, const char *base, const char *token);

#endif /* IPCX_INT_H */
