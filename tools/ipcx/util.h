/*
 * util.h - helpers shared by the subcommands of the ipcx command: the one-line error
 * messages, usage errors, and parsers for the numeric option values (timeouts, counts, sizes).
 */
#ifndef IPCX_TOOL_UTIL_H
#define IPCX_TOOL_UTIL_H

#include <stddef.h>

#define CLI_PROG "ipcx"

/* Print the one runtime error line: "ipcx: URL: WHAT: text (IPCX_ENAME)". url and what may
 * be NULL (then left out); err is a negative IPCX_E* code. */
void cli_error(const char *url, const char *what, int err);

/* Print "ipcx: " + the formatted message + a newline on stderr. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "ipcx CMD: " + the message, then a hint to run "ipcx CMD --help", on stderr.
 * Returns IPCX_EXIT_USAGE so a caller can write `return cli_usage_error(...);`. cmd may be
 * NULL for the top level. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Report what getopt_long() returned for a bad option (c is '?' or ':'; getopt must run
 * with opterr = 0 and an optstring starting with ':'). Returns IPCX_EXIT_USAGE. */
int cli_getopt_error(const char *cmd, int c, char **argv);

/* Reset getopt for a fresh parse of a subcommand's argv (glibc: optind = 0). */
void cli_getopt_reset(void);

/* A timeout in milliseconds: -1 (forever) up to INT_MAX. 0 or -1 (bad syntax/range). */
int cli_parse_timeout(const char *s, int *ms);

/* A non-negative count up to LLONG_MAX. 0 or -1. */
int cli_parse_count(const char *s, long long *n);

/* A size in bytes with an optional suffix k, M or G (powers of 1024; "KiB", "MiB", "GiB"
 * and a trailing "B" are accepted too). 0 or -1 (bad syntax or overflow). */
int cli_parse_size(const char *s, size_t *bytes);

#endif /* IPCX_TOOL_UTIL_H */
