/*
 * rpc.c - `ipcx rpc`: call procedure 0 of a program on any URL and time it (ping), and list
 * what a host's rpcbind knows (info, like `rpcinfo -p`, through the library's own client).
 */
#include "cmd.h"
#include "util.h"

#include "ipcx.h"
#include "rpc/rpcbind.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RPC_CMD        "rpc"
#define RPC_TIMEOUT_MS 5000

static void
rpc_help(void)
{
	printf("Usage: %s rpc ping [-c COUNT] [-i MS] [-t MS] URL PROG VERS\n"
	       "       %s rpc info [-a] [-t MS] [HOST]\n"
	       "\n"
	       "ONC RPC (RFC 5531) tools.\n"
	       "  ping URL PROG VERS  call procedure 0 (NULL) of program PROG version VERS on URL\n"
	       "                (any ipcx URL, or rpc://HOST/PROG/VERS[?proto=tcp|udp] through\n"
	       "                HOST's rpcbind) and print each round-trip time, then a summary;\n"
	       "                PROG is a number (0x... for hex) or a name from /etc/rpc\n"
	       "  info [HOST]   list the programs HOST's rpcbind (default 127.0.0.1) has\n"
	       "                registered, like `rpcinfo -p`: program, version, protocol,\n"
	       "                port and the name /etc/rpc gives the program\n"
	       "\n"
	       "Options:\n"
	       "  -c, --count N     ping: N calls (default 1)\n"
	       "  -i, --interval MS ping: wait MS milliseconds between calls (default 1000)\n"
	       "  -a, --all         info: every transport rpcbind lists (tcp6, udp6, local,\n"
	       "                    ...) with its universal address and owner\n"
	       "  -t, --timeout MS  give up on a call (or rpcbind) after MS milliseconds\n"
	       "                    (default %d)\n"
	       "  -h, --help        show this help and exit\n"
	       "\n"
	       "Exit status: 0 on success (ping: every call answered), 1 on a runtime error (no\n"
	       "rpcbind, no answer, a refusal such as IPCX_ERPCPROG), 2 on a usage error.\n",
	       CLI_PROG, CLI_PROG, RPC_TIMEOUT_MS);
}

/* Look a program up in /etc/rpc (lines "name number aliases...", '#' comments): by name or
 * alias when name is not NULL, else by the number in *prog. 0 with *prog and the entry's
 * name (in out, when not NULL) set, or -1. Read here rather than with getrpcbyname() and
 * getrpcbynumber(), which glibc no longer declares. */
static int
rpc_db(const char *name, uint32_t *prog, char *out, size_t cap)
{
	char line[512];
	int rv = -1;
	FILE *f = fopen("/etc/rpc", "re");

	if (f == NULL) {
		return -1;
	}
	while (rv != 0 && fgets(line, sizeof line, f) != NULL) {
		char *save = NULL, *first, *num, *alias, *end;
		char *hash = strchr(line, '#');
		unsigned long long v;
		bool match;

		if (hash != NULL) {
			*hash = '\0';
		}
		if ((first = strtok_r(line, " \t\n", &save)) == NULL ||
		    (num = strtok_r(NULL, " \t\n", &save)) == NULL) {
			continue;
		}
		v = strtoull(num, &end, 10);
		if (*end != '\0' || num[0] == '-' || v > UINT32_MAX) {
			continue;
		}
		match = name != NULL ? strcmp(first, name) == 0 : v == *prog;
		while (!match && name != NULL && (alias = strtok_r(NULL, " \t\n", &save)) != NULL) {
			match = strcmp(alias, name) == 0;
		}
		if (match) {
			*prog = (uint32_t)v;
			if (out != NULL) {
				snprintf(out, cap, "%s", first);
			}
			rv = 0;
		}
	}
	fclose(f);
	return rv;
}

/* The name /etc/rpc gives prog ("" if none). */
static void
rpc_name(uint32_t prog, char *name, size_t cap)
{
	if (rpc_db(NULL, &prog, name, cap) != 0) {
		name[0] = '\0';
	}
}

/* PROG as a number (decimal, 0x hex) or a name or alias from /etc/rpc. 0 or -1. */
static int
rpc_prog_parse(const char *s, uint32_t *prog)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (end != s && *end == '\0' && s[0] != '-') {
		if (v > UINT32_MAX) {
			return -1;
		}
		*prog = (uint32_t)v;
		return 0;
	}
	return rpc_db(s, prog, NULL, 0);
}

static double
rpc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
rpc_ping(const char *url, uint32_t prog, uint32_t vers, long long count, int interval_ms,
         int timeout_ms)
{
	double min = 0, max = 0, sum = 0;
	long long answered = 0;
	ipcx_rpc_client *c;
	int rv;

	if ((rv = ipcx_rpc_client_new(&c, url, prog, vers, NULL)) != 0) {
		cli_error(url, "connect", rv);
		return IPCX_EXIT_RUNTIME;
	}
	printf("RPC ping %s: program %lu version %lu, procedure 0\n", url, (unsigned long)prog,
	       (unsigned long)vers);
	for (long long i = 1; i <= count; i++) {
		double t0 = rpc_now_ms(), dt;
		if (i > 1 && interval_ms > 0) {
			usleep((useconds_t)interval_ms * 1000);
			t0 = rpc_now_ms();
		}
		rv = ipcx_rpc_call(c, 0, NULL, NULL, NULL, NULL, timeout_ms);
		dt = rpc_now_ms() - t0;
		if (rv != 0) {
			uint32_t lo, hi;
			if ((rv == IPCX_ERPCVERS || rv == IPCX_ERPCMISMATCH) &&
			    ipcx_rpc_client_mismatch(c, &lo, &hi) == 0) {
				cli_errorf(
				        "%s: seq=%lld: %s (%s): the server has versions %lu to %lu",
				        url, i, ipcx_strerror(rv), ipcx_err_name(rv),
				        (unsigned long)lo, (unsigned long)hi);
			} else {
				cli_errorf("%s: seq=%lld: %s (%s)", url, i, ipcx_strerror(rv),
				           ipcx_err_name(rv));
			}
			continue;
		}
		printf("reply from %s: seq=%lld time=%.3f ms\n", url, i, dt);
		min = answered == 0 || dt < min ? dt : min;
		max = dt > max ? dt : max;
		sum += dt;
		answered++;
	}
	ipcx_rpc_client_close(c);
	printf("--- %s RPC ping statistics ---\n"
	       "%lld calls, %lld answered, %lld%% failed",
	       url, count, answered, (count - answered) * 100 / count);
	if (answered > 0) {
		printf(", time min/avg/max = %.3f/%.3f/%.3f ms", min, sum / (double)answered, max);
	}
	printf("\n");
	return answered == count ? IPCX_EXIT_OK : IPCX_EXIT_RUNTIME;
}

static int
rpc_info(const char *host, bool all, int timeout_ms)
{
	ipcx__rpcb_entry *v;
	size_t n;
	int rv;

	if ((rv = ipcx__rpcb_dump(host, &v, &n, timeout_ms)) != 0) {
		cli_error(host, "rpcbind", rv);
		return IPCX_EXIT_RUNTIME;
	}
	if (all) {
		printf("   program version netid     address                 service    owner\n");
	} else {
		printf("   program vers proto   port  service\n");
	}
	for (size_t i = 0; i < n; i++) {
		const ipcx__rpcb_entry *e = &v[i];
		char name[128];
		rpc_name(e->prog, name, sizeof name);
		if (all) {
			printf("%10lu %7lu %-9s %-23s %-10s %s\n", (unsigned long)e->prog,
			       (unsigned long)e->vers, e->netid, e->addr, name[0] ? name : "-",
			       e->owner[0] ? e->owner : "-");
		} else if (strcmp(e->netid, "tcp") == 0 || strcmp(e->netid, "udp") == 0) {
			printf("%10lu %4lu %5s %6u  %s\n", (unsigned long)e->prog,
			       (unsigned long)e->vers, e->netid, e->port, name);
		}
	}
	free(v);
	return IPCX_EXIT_OK;
}

static const struct option rpc_longopts[] = {
        {"all", no_argument, NULL, 'a'},
        {"count", required_argument, NULL, 'c'},
        {"interval", required_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
};

/* Options before the subcommand (optstring "+...": stop at it) and after it. -1 when the
 * parse went through, else the exit status. */
typedef struct rpc_args {
	bool all;
	int timeout_ms;
	int interval_ms;
	long long count;
} rpc_args;

static int
rpc_opts(int argc, char **argv, const char *optstring, rpc_args *a)
{
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, optstring, rpc_longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			a->all = true;
			break;
		case 'c':
			if (cli_parse_count(optarg, &a->count) != 0 || a->count == 0) {
				return cli_usage_error(RPC_CMD, "bad count '%s'", optarg);
			}
			break;
		case 'i':
			if (cli_parse_timeout(optarg, &a->interval_ms) != 0 || a->interval_ms < 0) {
				return cli_usage_error(RPC_CMD, "bad interval '%s'", optarg);
			}
			break;
		case 't':
			if (cli_parse_timeout(optarg, &a->timeout_ms) != 0) {
				return cli_usage_error(RPC_CMD, "bad timeout '%s'", optarg);
			}
			break;
		case 'h':
			rpc_help();
			return IPCX_EXIT_OK;
		default:
			return cli_getopt_error(RPC_CMD, c, argv);
		}
	}
	return -1;
}

int
ipcx_cmd_rpc(int argc, char **argv)
{
	rpc_args a = {.timeout_ms = RPC_TIMEOUT_MS, .interval_ms = 1000, .count = 1};
	const char *sub;
	int st;

	if ((st = rpc_opts(argc, argv, "+:ac:i:t:h", &a)) >= 0) {
		return st;
	}
	if (optind >= argc) {
		return cli_usage_error(RPC_CMD, "a subcommand is needed (ping, info)");
	}
	sub = argv[optind];
	argc -= optind;
	argv += optind; /* argv[0] is the subcommand now, as getopt expects */
	if ((st = rpc_opts(argc, argv, ":ac:i:t:h", &a)) >= 0) {
		return st;
	}
	if (strcmp(sub, "info") == 0) {
		if (argc - optind > 1) {
			return cli_usage_error(RPC_CMD, "info takes at most one HOST");
		}
		return rpc_info(optind < argc ? argv[optind] : "127.0.0.1", a.all, a.timeout_ms);
	}
	if (strcmp(sub, "ping") == 0) {
		uint32_t prog, vers;
		char *end;
		unsigned long long v;
		if (argc - optind != 3) {
			return cli_usage_error(RPC_CMD, "ping takes URL PROG VERS");
		}
		if (rpc_prog_parse(argv[optind + 1], &prog) != 0) {
			return cli_usage_error(RPC_CMD, "unknown program '%s'", argv[optind + 1]);
		}
		v = strtoull(argv[optind + 2], &end, 0);
		if (end == argv[optind + 2] || *end != '\0' || argv[optind + 2][0] == '-' ||
		    v > UINT32_MAX) {
			return cli_usage_error(RPC_CMD, "bad version '%s'", argv[optind + 2]);
		}
		vers = (uint32_t)v;
		return rpc_ping(argv[optind], prog, vers, a.count, a.interval_ms, a.timeout_ms);
	}
	return cli_usage_error(RPC_CMD, "unknown subcommand '%s' (ping, info)", sub);
}
