/*
 * testutil.h - what every ipcx test shares: a private temporary directory per test that must
 * be empty at the end, unique names, forked peers with bounded waits, control pipes, checks
 * for code that runs outside cmocka (children, threads) and byte patterns for payloads.
 */
#ifndef IPCX_TESTUTIL_H
#define IPCX_TESTUTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <cmocka.h>

#include "ipcx.h"

/* Upper bounds. A test that hangs is killed by its alarm and fails; nothing waits forever. */
#define TU_TEST_ALARM_S  240 /* whole test process (re-armed by each test's setup) */
#define TU_CHILD_ALARM_S 200 /* every forked peer */
#define TU_WAIT_MS       60000

/* ---- failures outside cmocka (forked children, threads) ------------------------------ */

/* Every worker returns 0 or the line that failed, after printing why on stderr. Usable from
 * children, threads and the cmocka test body alike. */
#define TRY(cond, ...)                                                     \
	do {                                                               \
		if (!(cond)) {                                             \
			tu_report(__FILE__, __LINE__, #cond, __VA_ARGS__); \
			return __LINE__;                                   \
		}                                                          \
	} while (0)

/* TRY that an ipcx call returned want (prints both error names otherwise). */
#define TRY_RV(expr, want)                                                      \
	do {                                                                    \
		int try_rv_ = (expr);                                           \
		if (try_rv_ != (want)) {                                        \
			tu_report(__FILE__, __LINE__, #expr, "got %s, want %s", \
			          ipcx_err_name(try_rv_), ipcx_err_name(want)); \
			return __LINE__;                                        \
		}                                                               \
	} while (0)

/* Propagate a nonzero worker status. */
#define TRY_OK(expr)                                                                        \
	do {                                                                                \
		int try_st_ = (expr);                                                       \
		if (try_st_ != 0) {                                                         \
			tu_report(__FILE__, __LINE__, #expr, "failed at line %d", try_st_); \
			return try_st_;                                                     \
		}                                                                           \
	} while (0)

/* cmocka-side: assert that an ipcx call returned want, naming both codes on failure. */
#define assert_rv(expr, want)                                                             \
	do {                                                                              \
		int assert_rv_ = (expr);                                                  \
		if (assert_rv_ != (want)) {                                               \
			fail_msg("%s: got %s, want %s", #expr, ipcx_err_name(assert_rv_), \
			         ipcx_err_name(want));                                    \
		}                                                                         \
	} while (0)

void tu_report(const char *file, int line, const char *expr, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* ---- the private directory ----------------------------------------------------------- */

/* cmocka setup/teardown: a fresh mkdtemp directory ($TMPDIR or /tmp, named
 * ipcx-t-<IPCX_TEST_TAG>-<pid>-XXXXXX) and a re-armed alarm; teardown kills and reaps any
 * child still alive, fails if the directory is not empty (listing and removing what was
 * left), and removes it. */
int tu_setup(void **state);
int tu_teardown(void **state);
/* The current test's directory. */
const char *tu_dir(void);
/* A unique path <dir>/<stem>-<pid>-<n>. */
void tu_path(char *buf, size_t cap, const char *stem);
/* A process-unique counter. */
unsigned tu_next(void);

/* ---- listen URLs --------------------------------------------------------------------- */

/* Listen URLs for the schemes whose address is the same in every suite, each unique per call
 * where the scheme needs it: fifo, unix and file paths in the test's directory (tu_path),
 * tcp/udp port 0 on loopback, sysvmq ftok of the test's directory with a proj that varies
 * per call. (Names in a namespace - unix abstract, mq, shm - carry each suite's own tag and
 * stay in the suite.) */
void tu_url_fifo(char *buf, size_t cap);
void tu_url_unix(char *buf, size_t cap);
void tu_url_tcp(char *buf, size_t cap);
void tu_url_tcp6(char *buf, size_t cap);
void tu_url_udp(char *buf, size_t cap);
void tu_url_sysvmq(char *buf, size_t cap);
void tu_url_file(char *buf, size_t cap);
/* The largest sysvmq:// message on this machine: min(kernel.msgmax, kernel.msgmnb) less
 * ipcx's 1-byte header (8192 and 16384 where /proc cannot be read). */
size_t tu_sysvmq_max(void);

/* ---- processes ----------------------------------------------------------------------- */

/* fork(2); in the child the cmocka signal handlers are reset and an alarm is armed. The
 * parent remembers the pid so that teardown can reap it after a failed assertion. */
pid_t tu_fork(void);
/* Wait up to timeout_ms for pid: its exit status (0..255), 128 + signal if it was killed,
 * or -1 if it did not end in time (it is then killed and reaped). */
int tu_wait(pid_t pid, int timeout_ms);
/* SIGKILL pid and reap it (bounded). */
void tu_kill(pid_t pid);
/* End a child: flush stdio and _exit (never returns into cmocka). */
_Noreturn void tu_child_exit(int status);

/* ---- control pipes ------------------------------------------------------------------- */

void tu_pipe(int p[2]);
/* Write n bytes; 0 or -1. */
int tu_put(int fd, const void *buf, size_t n);
/* Read exactly n bytes within timeout_ms; 0, or -1 on timeout, EOF or error. */
int tu_get(int fd, void *buf, size_t n, int timeout_ms);
void tu_close(int fd);

/* ---- payloads ------------------------------------------------------------------------ */

/* Deterministic content for message k of len bytes; the first 8 bytes carry k and ~k when
 * len >= 8 so that a receiver can identify a message it did not expect (udp). */
void tu_fill(void *buf, size_t len, uint32_t k);
/* True if buf[0, len) is exactly tu_fill(k, len). */
bool tu_check(const void *buf, size_t len, uint32_t k);
/* The k encoded by tu_fill in a message of at least 8 bytes, or -1. */
int64_t tu_ident(const void *buf, size_t len);
/* A 32-bit mix of k (sizes, seeds). */
uint32_t tu_hash(uint32_t k);

/* ---- running ------------------------------------------------------------------------- */

/* Run each test (those matching glob, if not NULL) in a process of its own, so that a crash
 * (a sanitizer abort, a signal) fails that test only and the others still run. Prints a
 * summary; returns 0 if all passed (or were skipped). */
int tu_run(const char *group, const struct CMUnitTest *tests, size_t n, const char *glob);

/* ---- misc ---------------------------------------------------------------------------- */

/* Number of open fds of this process (/proc/self/fd). */
int tu_fd_count(void);
/* True if IPv6 loopback can be bound. */
bool tu_have_ipv6(void);
/* malloc that never returns NULL (aborts). */
void *tu_xmalloc(size_t n);

#endif /* IPCX_TESTUTIL_H */
