/*
 * util.c - helpers shared by the subcommands of the ipcx command: error lines in one
 * format, usage errors with a hint, and strict parsers for numeric option values.
 */
#include "util.h"

#include "cmd.h"
#include "ipcx.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cli_error(const char *url, const char *what, int err)
{
	/* One fprintf, so the line is written whole even when stderr is unbuffered. */
	fprintf(stderr, "%s: %s%s%s%s%s (%s)\n", CLI_PROG, url != NULL ? url : "",
	        url != NULL ? ": " : "", what != NULL ? what : "", what != NULL ? ": " : "",
	        ipcx_strerror(err), ipcx_err_name(err));
}

void
cli_errorf(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", CLI_PROG, msg);
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (cmd != NULL) {
		fprintf(stderr, "%s %s: %s\nTry '%s %s --help' for more information.\n", CLI_PROG,
		        cmd, msg, CLI_PROG, cmd);
	} else {
		fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", CLI_PROG, msg,
		        CLI_PROG);
	}
	return IPCX_EXIT_USAGE;
}

int
cli_getopt_error(const char *cmd, int c, char **argv)
{
	/* After an error getopt_long() has advanced optind past the offending element. */
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':') {
		return cli_usage_error(cmd, "option '%s' requires an argument", arg);
	}
	if (optopt != 0 && strncmp(arg, "--", 2) != 0) {
		/* a short option, possibly inside a cluster such as -xq */
		return cli_usage_error(cmd, "unknown option '-%c'", optopt);
	}
	if (optopt != 0) {
		return cli_usage_error(cmd, "option '%s' does not take an argument", arg);
	}
	return cli_usage_error(cmd, "unknown option '%s'", arg);
}

void
cli_getopt_reset(void)
{
	optind = 0; /* glibc: 0 also resets the scanner inside short-option clusters */
	opterr = 0;
	optopt = 0;
}

/* Strict decimal parse of a whole string into [lo, hi]. */
static int
cli_parse_ll(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s)) {
		return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi) {
		return -1;
	}
	*out = v;
	return 0;
}

int
cli_parse_timeout(const char *s, int *ms)
{
	long long v;

	if (cli_parse_ll(s, -1, INT_MAX, &v) != 0) {
		return -1;
	}
	*ms = (int)v;
	return 0;
}

int
cli_parse_count(const char *s, long long *n)
{
	return cli_parse_ll(s, 0, LLONG_MAX, n);
}

int
cli_parse_size(const char *s, size_t *bytes)
{
	char *end;
	unsigned long long v, mul = 1;

	if (s == NULL || !isdigit((unsigned char)*s)) {
		return -1; /* also refuses the "-1" that strtoull would wrap */
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s) {
		return -1;
	}
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mul = 1ULL << 10;
		end++;
		break;
	case 'm':
	case 'M':
		mul = 1ULL << 20;
		end++;
		break;
	case 'g':
	case 'G':
		mul = 1ULL << 30;
		end++;
		break;
	default:
		break;
	}
	if (mul > 1 && *end == 'i') {
		end++;
		if (*end != 'B') {
			return -1;
		}
	}
	if (*end == 'B') {
		end++;
	}
	if (*end != '\0' || v > SIZE_MAX / mul) {
		return -1;
	}
	*bytes = (size_t)(v * mul);
	return 0;
}
