/*
 * calc_client.c - the client of calc.x on any ipcx URL, or through rpcbind with
 * rpc://HOST/PROG/VERS[?proto=tcp|udp]: each OP A B is one call, its answer one line.
 *
 *   usage: calc_client URL [OP A B]...     OP: add sub mul div
 *
 * Without operations it does "add 7 5 sub 7 5 mul 7 5 div 7 5 div 7 0". A division by zero
 * is an answer (the CALC_DIV_BY_ZERO arm of div_result), not an error; the exit status is 1
 * only when a call fails.
 */
#define _POSIX_C_SOURCE 200809L

#include "calc.h"

#include <ipcx.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_MS 5000 /* each call, retransmissions on udp included */

static const struct {
	const char *name;
	uint32_t proc;
	const char *sym;
} ops[] = {
        {"add", CALC_ADD, "+"},
        {"sub", CALC_SUB, "-"},
        {"mul", CALC_MUL, "*"},
        {"div", CALC_DIV, "/"},
};

static int
parse_int(const char *s, int32_t *v)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || n < INT32_MIN || n > INT32_MAX) {
		return -1;
	}
	*v = (int32_t)n;
	return 0;
}

/* One operation: the call and its line. 0, or -1 after printing why. */
static int
calc(ipcx_rpc_client *c, const char *op, const char *sa, const char *sb)
{
	struct operands o;
	size_t i;
	int rv;

	for (i = 0; i < sizeof ops / sizeof ops[0] && strcmp(ops[i].name, op) != 0; i++) {
	}
	if (i == sizeof ops / sizeof ops[0] || parse_int(sa, &o.a) != 0 ||
	    parse_int(sb, &o.b) != 0) {
		fprintf(stderr, "calc_client: bad operation '%s %s %s'\n", op, sa, sb);
		return -1;
	}
	if (ops[i].proc == CALC_DIV) {
		struct div_result r;
		rv = ipcx_rpc_call(c, CALC_DIV, xdr_operands, &o, xdr_div_result, &r, CALL_MS);
		if (rv == 0 && r.status == CALC_DIV_BY_ZERO) {
			printf("%d / %d: division by zero\n", o.a, o.b);
			return 0;
		}
		if (rv == 0) {
			printf("%d / %d = %d\n", o.a, o.b, r.quotient);
			return 0;
		}
	} else {
		int32_t r;
		rv = ipcx_rpc_call(c, ops[i].proc, xdr_operands, &o, xdr_int32, &r, CALL_MS);
		if (rv == 0) {
			printf("%d %s %d = %d\n", o.a, ops[i].sym, o.b, r);
			return 0;
		}
	}
	fprintf(stderr, "calc_client: %s: %s (%s)\n", op, ipcx_strerror(rv), ipcx_err_name(rv));
	return -1;
}

int
main(int argc, char **argv)
{
	static char *dflt[] = {"add", "7",   "5", "sub", "7",   "5", "mul", "7",
	                       "5",   "div", "7", "5",   "div", "7", "0"};
	char **args = argv + 2;
	int nargs = argc - 2, rv, ret = EXIT_SUCCESS;
	ipcx_rpc_client *c;

	if (argc < 2 || argv[1][0] == '-' || nargs % 3 != 0) {
		fprintf(stderr, "usage: calc_client URL [OP A B]...   (OP: add sub mul div)\n"
		                "  URL: any ipcx URL of a calc_server, or rpc://HOST/0x20000099/1\n"
		                "  [?proto=tcp|udp] to ask HOST's rpcbind where it is\n");
		return 2;
	}
	if (nargs == 0) {
		args = dflt;
		nargs = (int)(sizeof dflt / sizeof dflt[0]);
	}
	if ((rv = ipcx_rpc_client_new(&c, argv[1], CALC_PROG, CALC_VERS, NULL)) != 0) {
		fprintf(stderr, "calc_client: %s: %s (%s)\n", argv[1], ipcx_strerror(rv),
		        ipcx_err_name(rv));
		return EXIT_FAILURE;
	}
	for (int i = 0; i < nargs; i += 3) {
		if (calc(c, args[i], args[i + 1], args[i + 2]) != 0) {
			ret = EXIT_FAILURE;
		}
	}
	ipcx_rpc_client_close(c);
	return ret;
}
