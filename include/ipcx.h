/*
 * ipcx.h - the whole public API of ipcx: every classic Unix IPC mechanism behind one
 * message channel named by a URL. This is the only installed header.
 */
#ifndef IPCX_H
#define IPCX_H

#include <stddef.h>
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

/* Create a listener on url (fifo, unix, tcp, udp). Names it creates are mode 0600 unless
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

/* The URL the listener is bound to, with an actual port for tcp://host:0. Writes a
 * NUL-terminated string; IPCX_ENAMETOOLONG if cap is too small. */
IPCX_API int ipcx_listener_url(ipcx_listener *l, char *buf, size_t cap);

/* Connect to a listener. fifo:// waits (up to timeout_ms) for the server to accept; unix,
 * tcp and udp return once the kernel connection exists. On success *cp owns the channel. */
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

#ifdef __cplusplus
}
#endif

#endif /* IPCX_H */
