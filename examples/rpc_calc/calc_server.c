/*
 * calc_server.c - the calculator of calc.x as an ipcx RPC server on one or more URLs of any
 * scheme (tcp://, udp:// and unix:// speak to rpcgen/libtirpc clients too).
 *
 * Prints "listening on URL" for each URL (the real port of tcp://host:0), then serves every
 * client concurrently until SIGINT or SIGTERM. With --rpcbind, tcp:// and udp:// servers
 * are registered with the local rpcbind (rpcinfo -p lists them; clients find them with
 * rpc://HOST/0x20000099/1) and unregistered on exit.
 *
 *   usage: calc_server [--rpcbind] URL...
 */
#define _POSIX_C_SOURCE 200809L

#include "calc.h"

#include <ipcx.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_URLS 8

/* Arithmetic on int as the wire has it: two's complement, wrapping (C's signed overflow
 * is undefined, and a client may well send INT_MAX + 1). */
static int32_t
wrap(uint32_t v)
{
	return (int32_t)v;
}

/* The handlers: decode the operands, encode the result. Arguments that do not decode are
 * GARBAGE_ARGS, which the client sees as IPCX_ERPCARGS. */
static int
calc_binop(ipcx_rpc_req *req, void *arg)
{
	uintptr_t proc = (uintptr_t)arg;
	struct operands o;
	int32_t r;

	if (xdr_operands(req->args, &o) != 0) {
		return IPCX_RPC_GARBAGE_ARGS;
	}
	switch (proc) {
	case CALC_ADD:
		r = wrap((uint32_t)o.a + (uint32_t)o.b);
		break;
	case CALC_SUB:
		r = wrap((uint32_t)o.a - (uint32_t)o.b);
		break;
	default:
		r = wrap((uint32_t)o.a * (uint32_t)o.b);
		break;
	}
	return xdr_int32(req->res, &r) == 0 ? IPCX_RPC_SUCCESS : IPCX_RPC_SYSTEM_ERR;
}

static int
calc_div(ipcx_rpc_req *req, void *arg)
{
	struct operands o;
	struct div_result r = {.status = CALC_OK};
	(void)arg;

	if (xdr_operands(req->args, &o) != 0) {
		return IPCX_RPC_GARBAGE_ARGS;
	}
	if (o.b == 0) {
		r.status = CALC_DIV_BY_ZERO; /* an answer, not a failure: the union's other arm */
	} else if (o.a == INT32_MIN && o.b == -1) {
		r.quotient = INT32_MIN; /* wraps, like the others (and no SIGFPE) */
	} else {
		r.quotient = o.a / o.b;
	}
	return xdr_div_result(req->res, &r) == 0 ? IPCX_RPC_SUCCESS : IPCX_RPC_SYSTEM_ERR;
}

static int
usage(void)
{
	fprintf(stderr,
	        "usage: calc_server [--rpcbind] URL...\n"
	        "  serve calc.x (program 0x20000099 version 1) on each URL (tcp://host:port,\n"
	        "  udp://host:port, unix:///path, shm://name, ...); --rpcbind: register the\n"
	        "  tcp:// and udp:// ones with the local rpcbind\n");
	return 2;
}

int
main(int argc, char **argv)
{
	ipcx_rpc_server *srv[MAX_URLS];
	const char *urls[MAX_URLS];
	ipcx_rpc_opts opts;
	sigset_t sigs;
	int n = 0, rv, sig, ret = EXIT_FAILURE, started = 0;

	ipcx_rpc_opts_init(&opts);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--rpcbind") == 0) {
			opts.rpcbind = 1;
		} else if (argv[i][0] == '-' || n == MAX_URLS) {
			return usage();
		} else {
			urls[n++] = argv[i];
		}
	}
	if (n == 0) {
		return usage();
	}
	/* SIGINT and SIGTERM are taken by sigwait below: blocked before any server thread
	 * starts, so that every thread inherits the mask and none of them is killed */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) != 0) {
		perror("calc_server: sigprocmask");
		return EXIT_FAILURE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (; started < n; started++) {
		const char *url = urls[started];
		ipcx_rpc_server *s;
		char real[512];
		if ((rv = ipcx_rpc_server_new(&s, url, &opts)) != 0) {
			fprintf(stderr, "calc_server: %s: %s\n", url, ipcx_strerror(rv));
			goto out;
		}
		srv[started] = s;
		if ((rv = ipcx_rpc_register(s, CALC_PROG, CALC_VERS, CALC_ADD, calc_binop,
		                            (void *)(uintptr_t)CALC_ADD)) != 0 ||
		    (rv = ipcx_rpc_register(s, CALC_PROG, CALC_VERS, CALC_SUB, calc_binop,
		                            (void *)(uintptr_t)CALC_SUB)) != 0 ||
		    (rv = ipcx_rpc_register(s, CALC_PROG, CALC_VERS, CALC_MUL, calc_binop,
		                            (void *)(uintptr_t)CALC_MUL)) != 0 ||
		    (rv = ipcx_rpc_register(s, CALC_PROG, CALC_VERS, CALC_DIV, calc_div, NULL)) !=
		            0) {
			fprintf(stderr, "calc_server: %s: register: %s\n", url, ipcx_strerror(rv));
			ipcx_rpc_server_close(s);
			goto out;
		}
		/* start registers with rpcbind (if asked) before it returns */
		if ((rv = ipcx_rpc_server_start(s)) != 0) {
			fprintf(stderr, "calc_server: %s: start: %s%s\n", url, ipcx_strerror(rv),
			        opts.rpcbind ? " (is rpcbind running?)" : "");
			ipcx_rpc_server_close(s);
			goto out;
		}
		if ((rv = ipcx_rpc_server_url(s, real, sizeof real)) != 0) {
			fprintf(stderr, "calc_server: %s: url: %s\n", url, ipcx_strerror(rv));
			ipcx_rpc_server_close(s);
			goto out;
		}
		printf("listening on %s%s\n", real,
		       opts.rpcbind ? " (registered with rpcbind)" : "");
	}

	if (sigwait(&sigs, &sig) != 0) {
		perror("calc_server: sigwait");
		goto out;
	}
	printf("signal: shutting down\n");
	ret = EXIT_SUCCESS;
out:
	/* close unregisters from rpcbind and waits for the calls in progress */
	while (started > 0) {
		ipcx_rpc_server_close(srv[--started]);
	}
	return ret;
}
