/*
 * ipcx.h - the whole public API of ipcx: every classic Unix IPC mechanism behind one
 * message channel named by a URL. This is the only installed header.
 */
#ifndef IPCX_H
#define IPCX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(IPCX_BUILDING) && defined(__GNUC__)
#define IPCX_API __attribute__((visibility("default")))
#else
#define IPCX_API
#endif

#define IPCX_VERSION_MAJOR 0
#define IPCX_VERSION_MINOR 1
#define IPCX_VERSION_PATCH 0

/* ---------------------------------------------------------------------------------------
 * Errors. Every fallible call returns 0 or a negative IPCX_E* code. Codes that mirror an
 * errno value are exactly -errno on Linux (IPCX_ENOENT == -ENOENT); codes that only the
 * library produces live in their own range below -3000 and never collide with errno.
 * ------------------------------------------------------------------------------------- */
#define IPCX_ERRNO_MAP(XX)                                                   \
	XX(E2BIG, -7, "argument list too long")                              \
	XX(EACCES, -13, "permission denied")                                 \
	XX(EADDRINUSE, -98, "address already in use")                        \
	XX(EADDRNOTAVAIL, -99, "address not available")                      \
	XX(EAFNOSUPPORT, -97, "address family not supported")                \
	XX(EAGAIN, -11, "resource temporarily unavailable")                  \
	XX(EALREADY, -114, "operation already in progress")                  \
	XX(EBADF, -9, "bad file descriptor")                                 \
	XX(EBADMSG, -74, "bad message")                                      \
	XX(EBUSY, -16, "resource busy")                                      \
	XX(ECANCELED, -125, "operation canceled")                            \
	XX(ECHILD, -10, "no child processes")                                \
	XX(ECOMM, -70, "communication error on send")                        \
	XX(ECONNABORTED, -103, "connection aborted")                         \
	XX(ECONNREFUSED, -111, "connection refused")                         \
	XX(ECONNRESET, -104, "connection reset by peer")                     \
	XX(EDEADLK, -35, "resource deadlock would occur")                    \
	XX(EDESTADDRREQ, -89, "destination address required")                \
	XX(EDOM, -33, "numerical argument out of domain")                    \
	XX(EDQUOT, -122, "disk quota exceeded")                              \
	XX(EEXIST, -17, "file exists")                                       \
	XX(EFAULT, -14, "bad address")                                       \
	XX(EFBIG, -27, "file too large")                                     \
	XX(EHOSTDOWN, -112, "host is down")                                  \
	XX(EHOSTUNREACH, -113, "host is unreachable")                        \
	XX(EIDRM, -43, "identifier removed")                                 \
	XX(EILSEQ, -84, "invalid or incomplete multibyte or wide character") \
	XX(EINPROGRESS, -115, "operation now in progress")                   \
	XX(EINTR, -4, "interrupted system call")                             \
	XX(EINVAL, -22, "invalid argument")                                  \
	XX(EIO, -5, "i/o error")                                             \
	XX(EISCONN, -106, "socket is already connected")                     \
	XX(EISDIR, -21, "is a directory")                                    \
	XX(EKEYEXPIRED, -127, "key has expired")                             \
	XX(ELOOP, -40, "too many symbolic links")                            \
	XX(EMFILE, -24, "too many open files")                               \
	XX(EMLINK, -31, "too many links")                                    \
	XX(EMSGSIZE, -90, "message too long")                                \
	XX(ENAMETOOLONG, -36, "name too long")                               \
	XX(ENETDOWN, -100, "network is down")                                \
	XX(ENETRESET, -102, "connection reset by network")                   \
	XX(ENETUNREACH, -101, "network is unreachable")                      \
	XX(ENFILE, -23, "file table overflow")                               \
	XX(ENOBUFS, -105, "no buffer space available")                       \
	XX(ENODATA, -61, "no data available")                                \
	XX(ENODEV, -19, "no such device")                                    \
	XX(ENOENT, -2, "no such file or directory")                          \
	XX(ENOLCK, -37, "no locks available")                                \
	XX(ENOLINK, -67, "link has been severed")                            \
	XX(ENOMEDIUM, -123, "no medium found")                               \
	XX(ENOMEM, -12, "not enough memory")                                 \
	XX(ENOMSG, -42, "no message of desired type")                        \
	XX(ENOPROTOOPT, -92, "protocol not available")                       \
	XX(ENOSPC, -28, "no space left on device")                           \
	XX(ENOSR, -63, "out of streams resources")                           \
	XX(ENOSYS, -38, "function not implemented")                          \
	XX(ENOTBLK, -15, "block device required")                            \
	XX(ENOTCONN, -107, "socket is not connected")                        \
	XX(ENOTDIR, -20, "not a directory")                                  \
	XX(ENOTEMPTY, -39, "directory not empty")                            \
	XX(ENOTRECOVERABLE, -131, "state not recoverable")                   \
	XX(ENOTSOCK, -88, "socket operation on non-socket")                  \
	XX(ENOTSUP, -95, "operation not supported")                          \
	XX(ENOTTY, -25, "inappropriate ioctl for device")                    \
	XX(ENXIO, -6, "no such device or address")                           \
	XX(EOVERFLOW, -75, "value too large for defined data type")          \
	XX(EOWNERDEAD, -130, "owner died")                                   \
	XX(EPERM, -1, "operation not permitted")                             \
	XX(EPFNOSUPPORT, -96, "protocol family not supported")               \
	XX(EPIPE, -32, "broken pipe")                                        \
	XX(EPROTO, -71, "protocol error")                                    \
	XX(EPROTONOSUPPORT, -93, "protocol not supported")                   \
	XX(EPROTOTYPE, -91, "protocol wrong type for socket")                \
	XX(ERANGE, -34, "result too large")                                  \
	XX(EREMOTEIO, -121, "remote i/o error")                              \
	XX(EROFS, -30, "read-only file system")                              \
	XX(ESHUTDOWN, -108, "cannot send after transport endpoint shutdown") \
	XX(ESOCKTNOSUPPORT, -94, "socket type not supported")                \
	XX(ESPIPE, -29, "illegal seek")                                      \
	XX(ESRCH, -3, "no such process")                                     \
	XX(ESTALE, -116, "stale file handle")                                \
	XX(ETIMEDOUT, -110, "timed out")                                     \
	XX(ETXTBSY, -26, "text file busy")                                   \
	XX(EUSERS, -87, "too many users")                                    \
	XX(EXDEV, -18, "cross-device link")                                  \
	XX(ECLOSED, -3001, "channel closed by peer")                         \
	XX(EBADURL, -3002, "malformed URL")                                  \
	XX(ESCHEME, -3003, "unknown URL scheme")                             \
	XX(ENOTFOUND, -3004, "host name not found")                          \
	XX(ERPCPROG, -3010, "RPC program unavailable")                       \
	XX(ERPCVERS, -3011, "RPC program version unavailable")               \
	XX(ERPCPROC, -3012, "RPC procedure unavailable")                     \
	XX(ERPCARGS, -3013, "RPC server could not decode the arguments")     \
	XX(ERPCSYSTEM, -3014, "RPC server system error")                     \
	XX(ERPCMISMATCH, -3015, "RPC protocol version mismatch")             \
	XX(ERPCAUTH, -3016, "RPC authentication error")                      \
	XX(EUNKNOWN, -3999, "unknown error")

enum ipcx_errno {
#define IPCX__XX(name, val, text) IPCX_##name = (val),
	IPCX_ERRNO_MAP(IPCX__XX)
#undef IPCX__XX
};

/* Static text for an error code ("timed out"); never NULL, also for unknown codes. */
IPCX_API const char *ipcx_strerror(int err);
/* The symbolic name of an error code ("IPCX_ETIMEDOUT"); never NULL. */
IPCX_API const char *ipcx_err_name(int err);

/* ---------------------------------------------------------------------------------------
 * Options. Initialise with ipcx_opts_init() (or IPCX_OPTS_INIT), then set what you need.
 * A NULL options pointer means all defaults. The same keys can be given in the URL query
 * (unix:///run/x.sock?mode=0660&maxmsg=1048576); a key in the URL wins over the struct.
 * ------------------------------------------------------------------------------------- */
#define IPCX_DEFAULT_MAX_MSG ((size_t)16 << 20) /* 16 MiB */

typedef struct ipcx_opts {
	size_t size;    /* sizeof(ipcx_opts), set by ipcx_opts_init(): lets fields be appended */
	size_t max_msg; /* largest message sent or accepted; 0: IPCX_DEFAULT_MAX_MSG. URL: maxmsg */
	unsigned mode;  /* permission bits of names this side creates; 0: 0600. URL: mode */
	int keep;       /* nonzero: leave created names in place on close. URL: keep=1 */
	int raw;        /* nonzero: plain byte stream, no framing (fifo, unix, tcp). URL: raw=1 */
} ipcx_opts;

#define IPCX_OPTS_INIT                        \
	{                                     \
		sizeof(ipcx_opts), 0, 0, 0, 0 \
	}

IPCX_API void ipcx_opts_init(ipcx_opts *opts);

/* ---------------------------------------------------------------------------------------
 * Persistence (the lecture's three classes): how long a scheme's named object lives.
 * ------------------------------------------------------------------------------------- */
enum ipcx_persistence {
	IPCX_PERSIST_PROCESS = 1,    /* gone when the last process using it closes it */
	IPCX_PERSIST_KERNEL = 2,     /* lives until deleted or reboot */
	IPCX_PERSIST_FILESYSTEM = 3, /* lives until deleted, survives reboot */
};

/* Persistence class of the object a URL names: one of IPCX_PERSIST_*, or a negative
 * IPCX_E* code for a malformed URL or unknown scheme. unix:///path is filesystem,
 * unix:@name (abstract) is process. */
IPCX_API int ipcx_persistence(const char *url);
/* Static name of a persistence class: "process", "kernel", "filesystem", or "?". */
IPCX_API const char *ipcx_persistence_name(int persistence);

/* ---------------------------------------------------------------------------------------
 * Channels. Timeouts are in milliseconds: -1 waits forever, 0 polls once; an expired
 * timeout returns IPCX_ETIMEDOUT. Messages are delivered whole and in order (udp: whole,
 * but may be lost or reordered). One thread may send while another receives on the same
 * channel; two threads must not send (or receive) on one channel at once, and close must
 * not race with either.
 * ------------------------------------------------------------------------------------- */
typedef struct ipcx_chan ipcx_chan;
typedef struct ipcx_listener ipcx_listener;

/* Create a listener on url (fifo, unix, tcp, udp, mq). Names it creates are mode 0600 unless
 * opts say otherwise and are removed by ipcx_listener_close() unless opts->keep.
 * On success *lp owns the listener. */
IPCX_API int ipcx_listen(ipcx_listener **lp, const char *url, const ipcx_opts *opts);

/* Wait up to timeout_ms for the next client and return its channel in *cp (owned by the
 * caller, close with ipcx_close). A client that fails its handshake is dropped and the
 * wait goes on: one bad client never stops the listener. */
IPCX_API int ipcx_accept(ipcx_listener *l, ipcx_chan **cp, int timeout_ms);

/* Close a listener and remove the names it created (unless keep). Channels already
 * accepted stay open. NULL is ignored. */
IPCX_API void ipcx_listener_close(ipcx_listener *l);

/* A pollable fd that is readable when ipcx_accept may return without waiting. Owned by the
 * listener; do not close it. */
IPCX_API int ipcx_listener_fd(ipcx_listener *l);

/* The URL the listener is bound to, with an actual port for tcp://host:0 (mq:// keeps the
 * depth= and msgsize= it was given, for its clients). Writes a NUL-terminated string;
 * IPCX_ENAMETOOLONG if cap is too small. */
IPCX_API int ipcx_listener_url(ipcx_listener *l, char *buf, size_t cap);

/* Connect to a listener. fifo:// and mq:// wait (up to timeout_ms) for the server to
 * accept; unix, tcp and udp return once the kernel connection exists. On success *cp owns
 * the channel (mq://: the process that dialled owns it; a forked child must not use it). */
IPCX_API int ipcx_dial(ipcx_chan **cp, const char *url, const ipcx_opts *opts, int timeout_ms);

/* A connected duplex pair over two pipe(2)s, for a parent and the child it forks: after
 * fork the parent closes one end and the child the other (ipcx_close in each). */
IPCX_API int ipcx_pair(ipcx_chan **ap, ipcx_chan **bp, const ipcx_opts *opts);

/* Send one message of len bytes (0 allowed). buf stays the caller's; it is not referenced
 * after return. IPCX_EMSGSIZE if len exceeds the channel's maximum (nothing sent).
 * IPCX_ETIMEDOUT means nothing of the message was sent, except on a stream scheme when
 * part of a large message was already written: the channel is then broken (later calls
 * return IPCX_EPIPE) because a peer could never resynchronise. */
IPCX_API int ipcx_send(ipcx_chan *c, const void *buf, size_t len, int timeout_ms);

/* Receive one message into buf (cap bytes, owned by the caller). On success *len is the
 * message length. If the message is longer than cap, returns IPCX_EMSGSIZE with *len set
 * to the size needed and the message kept: the next recv with a big enough buffer gets
 * it. IPCX_ECLOSED when the peer closed (or died) and nothing is left to receive;
 * IPCX_EPROTO when the peer broke the framing (the channel is then closed). */
IPCX_API int ipcx_recv(ipcx_chan *c, void *buf, size_t cap, size_t *len, int timeout_ms);

/* Close a channel and free it. NULL is ignored. */
IPCX_API void ipcx_close(ipcx_chan *c);

/* A pollable fd (owned by the channel) that is readable when ipcx_recv may return a
 * message without waiting. Spurious wake-ups are possible (recv with timeout 0 then
 * returns IPCX_ETIMEDOUT); a message already buffered inside the channel keeps it
 * readable. Negative IPCX_E* on error. */
IPCX_API int ipcx_chan_fd(ipcx_chan *c);

/* The scheme of a channel ("tcp"), static text. */
IPCX_API const char *ipcx_chan_scheme(ipcx_chan *c);

/* Peer credentials of a unix:// channel (SO_PEERCRED at connect time). Any output pointer
 * may be NULL. IPCX_ENOTSUP on schemes without credentials. */
IPCX_API int ipcx_peer_cred(ipcx_chan *c, pid_t *pid, uid_t *uid, gid_t *gid);

/* unix:// only: send a message with up to IPCX_MAX_FDS file descriptors (SCM_RIGHTS).
 * The fds stay the caller's (the receiver gets duplicates). */
#define IPCX_MAX_FDS 64
IPCX_API int ipcx_send_fds(ipcx_chan *c, const void *buf, size_t len, const int *fds, size_t nfds,
                           int timeout_ms);

/* unix:// only: receive a message and the fds sent with it. *nfds is the capacity of fds
 * on entry and the number received on return; received fds are CLOEXEC and owned by the
 * caller. If the message or its fds do not fit, IPCX_EMSGSIZE with *len and *nfds set to
 * what is needed, and nothing is lost. Plain ipcx_recv closes fds that arrive with a
 * message. */
IPCX_API int ipcx_recv_fds(ipcx_chan *c, void *buf, size_t cap, size_t *len, int *fds, size_t *nfds,
                           int timeout_ms);

/* Send with a priority (mq://: 0 .. 32766, higher first; 32767, the highest of
 * sysconf(_SC_MQ_PRIO_MAX), is reserved for the close marker: IPCX_EINVAL; sysvmq://:
 * ignored beyond ordering by mtype). ipcx_send is priority 0. IPCX_ENOTSUP on schemes
 * without priorities. */
IPCX_API int ipcx_send_prio(ipcx_chan *c, const void *buf, size_t len, unsigned prio,
                            int timeout_ms);

/* ---------------------------------------------------------------------------------------
 * Zero-copy messages. On shm:// a loan is space inside the shared ring: the message is
 * written in place and ipcx_commit publishes it without a copy; ipcx_recv_view points at
 * the next message inside the ring and ipcx_release gives its space back. Every other
 * scheme offers the same calls through a buffer owned by the channel (one copy each side,
 * as with ipcx_send/ipcx_recv), so code written against them runs on any URL.
 * One loan and one view at a time per channel; while one is held, ipcx_send (for a loan)
 * or ipcx_recv (for a view) on that channel returns IPCX_EBUSY.
 * ------------------------------------------------------------------------------------- */

/* Borrow space for one message of up to size bytes, waiting up to timeout_ms for room.
 * *ptr is writable until ipcx_commit or ipcx_loan_cancel. IPCX_EMSGSIZE if size exceeds
 * ipcx_loan_max(); IPCX_EBUSY if a loan is already out. */
IPCX_API int ipcx_loan(ipcx_chan *c, size_t size, void **ptr, int timeout_ms);

/* Send the first len bytes (len <= the loaned size) of the loan at ptr as one message.
 * shm:// never waits here (the room was reserved by the loan); other schemes send the
 * buffer with the loan's timeout. The loan ends whatever the result. */
IPCX_API int ipcx_commit(ipcx_chan *c, void *ptr, size_t len);

/* Give a loan back unsent. IPCX_EINVAL if no loan is out. */
IPCX_API int ipcx_loan_cancel(ipcx_chan *c);

/* Largest size ipcx_loan accepts: on shm:// half the ring less 16 bytes (larger
 * messages go through ipcx_send, which cuts them into pieces), elsewhere the channel's
 * maximum message size. 0 if c is NULL. */
IPCX_API size_t ipcx_loan_max(ipcx_chan *c);

/* Receive the next message without copying it out: *ptr and *len describe it until
 * ipcx_release (or ipcx_close). A shm:// message larger than ipcx_loan_max() was sent in
 * pieces and is gathered into a buffer of the channel first. Errors as ipcx_recv;
 * IPCX_EBUSY if a view is already held. */
IPCX_API int ipcx_recv_view(ipcx_chan *c, const void **ptr, size_t *len, int timeout_ms);

/* End the view of ipcx_recv_view and hand its space back to the sender. IPCX_EINVAL if no
 * view is held. */
IPCX_API int ipcx_release(ipcx_chan *c);

/* ---------------------------------------------------------------------------------------
 * Error detail. Some errors come from a system limit (a POSIX queue deeper than
 * /proc/sys/fs/mqueue/msg_max, say) and the code alone cannot say which. The call that
 * failed then leaves a one-line explanation naming the limit, thread-local.
 * ------------------------------------------------------------------------------------- */

/* The detail of this thread's last ipcx error that had one ("fs.mqueue.msg_max is 10; a
 * queue of 64 messages was asked for"), or "". Valid until the next ipcx call here. */
IPCX_API const char *ipcx_errdetail(void);

/* ---------------------------------------------------------------------------------------
 * XDR (RFC 4506), the data representation of ONC RPC. As with rpcgen's routines, one
 * function per type both encodes and decodes: the stream's op says which, so one function
 * describes a structure for both directions (and for IPCX_XDR_FREE, which releases what a
 * decode allocated). Every item is a multiple of 4 bytes, big-endian, padded with zeros.
 *
 * A decode is bounds-checked against the bytes left and, for variable-length items,
 * against the caller's maximum (and x->max_len when set) before anything is copied or
 * allocated. Nothing is allocated unless x->alloc is set. Variable-length decodes use the
 * pointer they are given: non-NULL is the caller's storage (for max items; a string needs
 * max + 1 bytes for its NUL); NULL means: allocate (x->alloc), or for opaque bytes only,
 * point into the input buffer itself (valid while it is); strings, arrays and optional
 * data without storage or alloc are IPCX_EINVAL. So reset such pointers to NULL before
 * decoding into an object again, unless they are meant as storage. A max of 0 means no
 * bound beyond x->max_len and the input; caller storage needs a nonzero max (its size).
 *
 * IPCX_XDR_FREE, as rpcgen's xdr_free: it frees every non-NULL pointer of variable-length
 * data it meets (bytes, strings, arrays and their elements, optional data) and sets it to
 * NULL. Use it on an object whose pointers were all NULL before a decode with x->alloc, to
 * release what the decode allocated, also after a failed decode (a decode never leaves a
 * pointer it did not fill non-NULL, and allocated arrays start zeroed). Never use it on an
 * object holding caller storage or zero-copy pointers into an input buffer.
 *
 * Errors: IPCX_EMSGSIZE when an encode runs out of room or a length or count is over its
 * maximum; IPCX_EBADMSG when a decode runs out of input or meets an impossible value (a
 * bool of 2, a length over its maximum, nonzero padding, an array count larger than the
 * bytes left / 4: every element takes at least 4 bytes); IPCX_EINVAL for missing storage
 * or routines; IPCX_ENOMEM. The first error sticks in x->err: every later call returns
 * it, so a routine may check once at the end.
 * ------------------------------------------------------------------------------------- */
typedef enum ipcx_xdr_op {
	IPCX_XDR_ENCODE = 0,
	IPCX_XDR_DECODE = 1,
	IPCX_XDR_FREE = 2, /* walk an object and free() what a decode with alloc made */
} ipcx_xdr_op;

typedef struct ipcx_xdr {
	ipcx_xdr_op op;
	unsigned char *buf; /* encode: where bytes go; decode: the input (never written) */
	size_t len;         /* encode: capacity of buf; decode: bytes in buf */
	size_t pos;         /* bytes encoded or decoded so far */
	uint32_t max_len;   /* decode: a bound on every variable length and array count (0:
	                       none beyond each call's max and the input's size) */
	int alloc;          /* decode: allocate variable-length data given a NULL pointer */
	int err;            /* the first error, or 0 */
	uint32_t max_depth; /* how deep optional data may nest (0: IPCX_XDR_DEPTH_MAX) */
	uint32_t depth;     /* internal: the optional data being coded now */
} ipcx_xdr;

/* Optional data nests (a linked list: one level an element) at most this deep by default:
 * each level is a call of the type's routine, and a peer's list must not exhaust the stack
 * of whoever decodes it. Deeper is IPCX_EBADMSG on decode, IPCX_EMSGSIZE on encode. */
#define IPCX_XDR_DEPTH_MAX 10000u

/* A routine for one type, for arrays, optional data and RPC arguments and results. The
 * scalar routines below may be given too, converted to ipcx_xdr_fn: ipcx_xdr_int, _uint,
 * _enum, _float (4-byte elements), _hyper, _uhyper, _double (8) and _bool (int). Arrays of
 * them are coded in one loop without a call per element (and never through the converted
 * pointer); another element size with them is IPCX_EINVAL. */
typedef int (*ipcx_xdr_fn)(ipcx_xdr *x, void *obj);

/* Start a stream over buf (len bytes). For IPCX_XDR_FREE, buf may be NULL. */
IPCX_API void ipcx_xdr_init(ipcx_xdr *x, ipcx_xdr_op op, void *buf, size_t len);

IPCX_API int ipcx_xdr_int(ipcx_xdr *x, int32_t *v);
IPCX_API int ipcx_xdr_uint(ipcx_xdr *x, uint32_t *v);
IPCX_API int ipcx_xdr_hyper(ipcx_xdr *x, int64_t *v);
IPCX_API int ipcx_xdr_uhyper(ipcx_xdr *x, uint64_t *v);
/* XDR bool: 0 or 1 on the wire (a decode of anything else is IPCX_EBADMSG). */
IPCX_API int ipcx_xdr_bool(ipcx_xdr *x, int *v);
IPCX_API int ipcx_xdr_enum(ipcx_xdr *x, int32_t *v);
/* IEEE 754 single and double precision, big-endian. */
IPCX_API int ipcx_xdr_float(ipcx_xdr *x, float *v);
IPCX_API int ipcx_xdr_double(ipcx_xdr *x, double *v);
/* Fixed-length opaque[n]: n bytes and zero padding to a multiple of 4. */
IPCX_API int ipcx_xdr_opaque(ipcx_xdr *x, void *p, size_t n);
/* Variable-length opaque<max>: a u32 length, the bytes, padding. *n is the length. */
IPCX_API int ipcx_xdr_bytes(ipcx_xdr *x, void **p, uint32_t *n, uint32_t max);
/* string<max>: as opaque, NUL-terminated in memory (an embedded NUL decodes as
 * IPCX_EBADMSG). Never zero-copy (the NUL needs room): storage or alloc. An encode of a
 * NULL string is IPCX_EINVAL. */
IPCX_API int ipcx_xdr_string(ipcx_xdr *x, char **s, uint32_t max);
/* Fixed-length array type[n] of elsize-byte elements, each through fn. */
IPCX_API int ipcx_xdr_vector(ipcx_xdr *x, void *arr, uint32_t n, size_t elsize, ipcx_xdr_fn fn);
/* Variable-length array type<max>: a u32 count, then the elements. *n is the count. */
IPCX_API int ipcx_xdr_array(ipcx_xdr *x, void **arr, uint32_t *n, uint32_t max, size_t elsize,
                            ipcx_xdr_fn fn);
/* Optional data type *p: a bool, then the object if present (*p NULL: absent). A decode
 * of an absent object sets *p to NULL; of a present one uses *p's storage (size bytes) or
 * allocates. Nesting is bounded by x->max_depth (IPCX_XDR_DEPTH_MAX when 0). */
IPCX_API int ipcx_xdr_optional(ipcx_xdr *x, void **p, size_t size, ipcx_xdr_fn fn);
/* The next n bytes (rounded up to 4) in place, for fast paths: a pointer into buf, or
 * NULL (and x->err set) if they are not there. */
IPCX_API void *ipcx_xdr_inline(ipcx_xdr *x, size_t n);

/* ---------------------------------------------------------------------------------------
 * ONC RPC v2 (RFC 5531) on every scheme. The wire is the standard one: on stream schemes
 * each call and reply is a record with RFC 5531 record marks (an ipcx message carries one
 * record, so tcp:// is what libtirpc and rpcbind speak), on udp:// one datagram. A server
 * is a listener URL plus handlers registered by (program, version, procedure); a client is
 * a channel to one program and version. Arguments and results are XDR through
 * ipcx_xdr_fn routines, as rpcgen writes them.
 * ------------------------------------------------------------------------------------- */
typedef struct ipcx_rpc_server ipcx_rpc_server;
typedef struct ipcx_rpc_client ipcx_rpc_client;

/* accept_stat (RFC 5531): what a handler returns. */
enum ipcx_rpc_stat {
	IPCX_RPC_SUCCESS = 0,      /* the results are in req->res */
	IPCX_RPC_PROC_UNAVAIL = 3, /* no such procedure (the server answers this itself too) */
	IPCX_RPC_GARBAGE_ARGS = 4, /* the arguments did not decode */
	IPCX_RPC_SYSTEM_ERR = 5,   /* the handler failed (memory, ...) */
};

#define IPCX_RPC_AUTH_NONE 0
#define IPCX_RPC_AUTH_SYS  1

/* AUTH_SYS credentials (RFC 5531 appendix A), as the client sent them: claims, not proof. */
typedef struct ipcx_rpc_authsys {
	uint32_t stamp;
	char machine[256]; /* NUL-terminated */
	uint32_t uid, gid;
	uint32_t ngids;
	uint32_t gids[16];
} ipcx_rpc_authsys;

/* One call, as a handler sees it. */
typedef struct ipcx_rpc_req {
	uint32_t xid, prog, vers, proc;
	uint32_t flavor;             /* IPCX_RPC_AUTH_NONE or IPCX_RPC_AUTH_SYS */
	const ipcx_rpc_authsys *sys; /* AUTH_SYS credentials, or NULL */
	int peer_known;              /* the scheme knows the peer (unix, shm): then */
	pid_t peer_pid;              /* the kernel's word on it (SO_PEERCRED) */
	uid_t peer_uid;
	gid_t peer_gid;
	ipcx_xdr *args;    /* decoding, at the arguments */
	ipcx_xdr *res;     /* encoding, where the results go */
	void *server_data; /* internal */
} ipcx_rpc_req;

/* A procedure. Decode the arguments from req->args, encode the results into req->res,
 * return IPCX_RPC_SUCCESS; or return another enum ipcx_rpc_stat and nothing is sent but
 * that status. Handlers of one server may run on several threads at once. */
typedef int (*ipcx_rpc_handler)(ipcx_rpc_req *req, void *arg);

typedef struct ipcx_rpc_opts {
	size_t size;      /* sizeof(ipcx_rpc_opts), set by ipcx_rpc_opts_init() */
	int rpcbind;      /* server (tcp://, udp://): register every (program, version) with the
	                     local rpcbind (RPCBPROC_SET v4/v3, else PMAPPROC_SET v2) and
	                     unregister on close */
	size_t max_msg;   /* largest call or reply; 0: 1 MiB */
	int auth_sys;     /* client: send AUTH_SYS credentials of this process */
	int retry_ms;     /* client, udp: first retransmission after this long (doubling up to
	                     the call's timeout); 0: 250 ms */
	unsigned threads; /* server: the threads that serve every connection (each runs the
	                     handlers of the calls it reads), so also the most handlers running
	                     at once; 0: the CPUs we may use (at least 4), and one more each
	                     time all are held for 10 ms (no bound). shm://: a thread per
	                     connection, threads bounds handlers only. udp: one thread */
} ipcx_rpc_opts;

IPCX_API void ipcx_rpc_opts_init(ipcx_rpc_opts *opts);

/* A server listening on url (any ipcx scheme but pipe:, IPCX_ENOTSUP). Register handlers,
 * then run it. tcp:// carries the plain ONC RPC record stream (not ipcx's framing), so
 * libtirpc clients call it; udp:// serves every sender from one socket and answers a
 * retransmitted call (same xid, same sender) from a cache of the last 256 replies instead of
 * running it again. opts->rpcbind on other schemes: IPCX_ENOTSUP. A connection that sends
 * what is not a call header, or a broken record, is closed; a datagram dropped. */
IPCX_API int ipcx_rpc_server_new(ipcx_rpc_server **sp, const char *url, const ipcx_rpc_opts *opts);
/* Register a handler for (prog, vers, proc). Procedure 0 (NULL) is answered for every
 * registered (prog, vers) without a handler. Call before the server runs. */
IPCX_API int ipcx_rpc_register(ipcx_rpc_server *s, uint32_t prog, uint32_t vers, uint32_t proc,
                               ipcx_rpc_handler fn, void *arg);
/* The URL the server listens on (the real port of tcp://host:0). */
IPCX_API int ipcx_rpc_server_url(ipcx_rpc_server *s, char *buf, size_t cap);
/* Serve until ipcx_rpc_server_stop(): every client concurrently. 0 after a stop. */
IPCX_API int ipcx_rpc_server_run(ipcx_rpc_server *s);
/* The same in a thread of the server's own. */
IPCX_API int ipcx_rpc_server_start(ipcx_rpc_server *s);
/* Make run return (from any thread, or a signal handler: async-signal-safe). */
IPCX_API void ipcx_rpc_server_stop(ipcx_rpc_server *s);
/* Stop, wait for the threads, unregister from rpcbind, free. NULL is ignored. */
IPCX_API void ipcx_rpc_server_close(ipcx_rpc_server *s);

/* A client of (prog, vers) at url: any ipcx scheme, or rpc://HOST/PROG/VERS[?proto=tcp|udp]
 * to ask HOST's rpcbind where the program is (prog and vers must then match the URL's or
 * be 0). */
IPCX_API int ipcx_rpc_client_new(ipcx_rpc_client **cp, const char *url, uint32_t prog,
                                 uint32_t vers, const ipcx_rpc_opts *opts);
/* Call proc: enc encodes args, dec decodes the results into res (NULL for void). Waits up
 * to timeout_ms; on udp, retransmits with the same xid meanwhile. The server's refusals are
 * IPCX_ERPC*: ipcx_rpc_client_mismatch() then gives the versions it offered. One call at a
 * time per client. dec runs with x->alloc set (the reply buffer is reused): variable-length
 * results given NULL pointers are malloc'd, release them with IPCX_XDR_FREE. A reply that
 * does not decode is IPCX_EPROTO; replies to other xids (a call that timed out) are
 * skipped. */
IPCX_API int ipcx_rpc_call(ipcx_rpc_client *c, uint32_t proc, ipcx_xdr_fn enc, const void *args,
                           ipcx_xdr_fn dec, void *res, int timeout_ms);
/* After IPCX_ERPCVERS or IPCX_ERPCMISMATCH: the lowest and highest versions the server
 * supports. */
IPCX_API int ipcx_rpc_client_mismatch(ipcx_rpc_client *c, uint32_t *low, uint32_t *high);
IPCX_API void ipcx_rpc_client_close(ipcx_rpc_client *c);

/* ---------------------------------------------------------------------------------------
 * Raw objects, usable without channels. Object names:
 *   "NAME" or "posix:NAME"       POSIX object /ipcx.NAME (shm_open, sem_open)
 *   "sysv:0x1234"                System V object with that key
 *   "sysv:/path/to/file?proj=N"  System V object with key ftok(path, N) (N 1..255)
 * Flags: IPCX_CREATE creates the object if it is missing (mode 0600 unless mode says
 * otherwise); IPCX_EXCL with it fails with IPCX_EEXIST if it exists; IPCX_KEEP leaves an
 * object that this handle created in place on close (by default its creator removes it).
 * ------------------------------------------------------------------------------------- */
#define IPCX_CREATE 0x1
#define IPCX_EXCL   0x2
#define IPCX_KEEP   0x4

/* Shared-memory segments (POSIX shm_open or System V shmget). A 64-byte header at the
 * start of every segment ipcx creates records its creator (pid, start time) and size;
 * ipcx_shm_ptr points past it, 64-byte aligned. */
typedef struct ipcx_shm ipcx_shm;

/* Open (or, with IPCX_CREATE, create) a segment of size usable bytes and map it
 * read-write; size 0 opens an existing segment at its size. *sp owns the mapping. */
IPCX_API int ipcx_shm_open(ipcx_shm **sp, const char *name, size_t size, int flags, unsigned mode);
IPCX_API void *ipcx_shm_ptr(const ipcx_shm *s);
IPCX_API size_t ipcx_shm_size(const ipcx_shm *s);
/* Unmap; remove the segment if this handle created it without IPCX_KEEP. NULL ignored. */
IPCX_API void ipcx_shm_close(ipcx_shm *s);
/* Remove a segment by name; processes that have it mapped keep their mapping. */
IPCX_API int ipcx_shm_unlink(const char *name);

/* Semaphores: POSIX named (sem_open), POSIX unnamed and process-shared (inside a segment),
 * and System V (one semaphore per set, operations with SEM_UNDO so that a holder killed by
 * SIGKILL gives its count back). IPCX_SEM_BINARY makes post saturate at 1. */
typedef struct ipcx_sem ipcx_sem;
#define IPCX_SEM_BINARY 0x100

IPCX_API int ipcx_sem_open(ipcx_sem **sp, const char *name, unsigned value, int flags,
                           unsigned mode);
/* An unnamed process-shared semaphore at offset (a multiple of 64) in segment s; with
 * IPCX_CREATE it is initialised to value, else it must already be initialised. */
IPCX_API int ipcx_sem_init_shm(ipcx_sem **sp, ipcx_shm *s, size_t offset, unsigned value,
                               int flags);
/* Decrement, waiting up to timeout_ms (0: try once; -1: forever) while the value is 0. */
IPCX_API int ipcx_sem_wait(ipcx_sem *s, int timeout_ms);
IPCX_API int ipcx_sem_post(ipcx_sem *s);
IPCX_API int ipcx_sem_value(ipcx_sem *s, unsigned *value);
/* Close the handle; remove a named semaphore this handle created (unless IPCX_KEEP). */
IPCX_API void ipcx_sem_close(ipcx_sem *s);
IPCX_API int ipcx_sem_unlink(const char *name);

/* Locks on bytes [start, start + len) of an open file (len 0: to the end, however far it
 * grows): open file description locks (F_OFD_SETLK), so they belong to the open file, not
 * the process, and work between threads too. Shared or exclusive, waiting up to
 * timeout_ms; IPCX_ETIMEDOUT if the lock stayed taken. */
#define IPCX_LOCK_SH 1
#define IPCX_LOCK_EX 2
IPCX_API int ipcx_lock(int fd, int type, off_t start, off_t len, int timeout_ms);
IPCX_API int ipcx_unlock(int fd, off_t start, off_t len);

/* ---------------------------------------------------------------------------------------
 * The IPC objects on this machine: what `ipcx ls` shows and `ipcx rm` removes.
 * ------------------------------------------------------------------------------------- */
enum ipcx_obj_kind {
	IPCX_OBJ_POSIX_MQ = 1, /* "posix-mq" */
	IPCX_OBJ_POSIX_SHM,    /* "posix-shm" */
	IPCX_OBJ_POSIX_SEM,    /* "posix-sem" */
	IPCX_OBJ_SYSV_MSG,     /* "sysv-msg" */
	IPCX_OBJ_SYSV_SHM,     /* "sysv-shm" */
	IPCX_OBJ_SYSV_SEM,     /* "sysv-sem" */
	IPCX_OBJ_FIFO,         /* "fifo" */
	IPCX_OBJ_SOCKET,       /* "socket" */
	IPCX_OBJ_FILE,         /* "file" (a file:// record log) */
};
enum ipcx_obj_state {
	IPCX_OBJ_UNKNOWN = 0, /* creator not recorded or not checkable */
	IPCX_OBJ_ALIVE = 1,   /* creator runs */
	IPCX_OBJ_DEAD = 2,    /* creator gone, or its pid now names another process */
};

typedef struct ipcx_obj_info {
	int kind;        /* enum ipcx_obj_kind */
	char name[4200]; /* "KIND:NAME", what ipcx_obj_remove takes: "posix-mq:/ipcx.x",
	                  * "sysv-shm:0x0000abcd", "fifo:/run/x", ... */
	int persistence; /* IPCX_PERSIST_* */
	uid_t owner;
	unsigned mode;   /* permission bits */
	long long size;  /* bytes (queue bytes, segment size, file size), -1 unknown */
	long long count; /* messages queued, semaphore value, records; -1 unknown */
	pid_t creator;   /* 0 unknown */
	int state;       /* enum ipcx_obj_state */
	int ours;        /* nonzero: made by ipcx */
} ipcx_obj_info;

/* Static name of a kind ("posix-mq"), or "?". */
IPCX_API const char *ipcx_obj_kind_name(int kind);

#define IPCX_LIST_ALL 0x1 /* every object the caller can see, not only ipcx's */
/* List objects. *list is malloc'd (free() it), *n its length. */
IPCX_API int ipcx_obj_list(ipcx_obj_info **list, size_t *n, int flags);
/* Remove one object, named "KIND:NAME" (as in ipcx_obj_info.name) or by a channel URL
 * (mq:///x, sysvmq:0x1234, fifo:///path, unix:///path, file:///path). */
IPCX_API int ipcx_obj_remove(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* IPCX_H */
