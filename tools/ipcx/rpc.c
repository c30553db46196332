/*
 * rpc.c - `ipcx rpc`: what a host's rpcbind knows (info, like `rpcinfo -p`), through the
 * library's own rpcbind client rather than libtirpc.
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

#define RPC_CMD        "rpc"
#define RPC_TIMEOUT_MS 5000

static void
rpc_help(void)
{
	printf("Usage: %s rpc info [-a] [-t MS] [HOST]\n"
	       "\n"
	       "ONC RPC (RFC 5531) tools.\n"
	       "  info [HOST]   list the programs HOST's rpcbind (default 127.0.0.1) has\n"
	       "                registered, like `rpcinfo -p`: program, version, protocol,\n"
	       "                port and the name /etc/rpc gives the program\n"
	       "\n"
	       "Options:\n"
	       "  -a, --all       info: every transport rpcbind lists (tcp6, udp6, local, ...)\n"
	       "                  with its universal address and owner, not only tcp and udp\n"
	       "  -t, --timeout MS  give up after MS milliseconds (default %d)\n"
	       "  -h, --help      show this help and exit\n"
	       "\n"
	       "Exit status: 0 on success, 1 on a runtime error (no rpcbind, no answer), 2 on a\n"
	       "usage error.\n",
	       CLI_PROG, RPC_TIMEOUT_MS);
}

/* The name /etc/rpc gives prog ("" if none): lines of "name number aliases...". Read here
 * rather than with getrpcbynumber(), which glibc no longer declares. */
static void
rpc_name(uint32_t prog, char *name, size_t cap)
{
	char line[512];
	FILE *f = fopen("/etc/rpc", "re");

	name[0] = '\0';
	if (f == NULL) {
		return;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char n[128];
		unsigned long num;
		char *hash = strchr(line, '#');
		if (hash != NULL) {
			*hash = '\0';
		}
		if (sscanf(line, "%127s %lu", n, &num) == 2 && num == prog) {
			snprintf(name, cap, "%s", n);
			break;
		}
	}
	fclose(f);
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
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
};

/* Options before the subcommand (optstring "+...": stop at it) and after it. -1 when the
 * parse went through, else the exit status. */
static int
rpc_opts(int argc, char **argv, const char *optstring, bool *all, int *timeout_ms)
{
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, optstring, rpc_longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			*all = true;
			break;
		case 't':
			if (cli_parse_timeout(optarg, timeout_ms) != 0) {
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
	int timeout_ms = RPC_TIMEOUT_MS, st;
	bool all = false;
	const char *sub;

	if ((st = rpc_opts(argc, argv, "+:at:h", &all, &timeout_ms)) >= 0) {
		return st;
	}
	if (optind >= argc) {
		return cli_usage_error(RPC_CMD, "a subcommand is needed (info)");
	}
	sub = argv[optind];
	argc -= optind;
	argv += optind; /* argv[0] is the subcommand now, as getopt expects */
	if ((st = rpc_opts(argc, argv, ":at:h", &all, &timeout_ms)) >= 0) {
		return st;
	}
	if (strcmp(sub, "info") == 0) {
		if (argc - optind > 1) {
			return cli_usage_error(RPC_CMD, "info takes at most one HOST");
		}
		return rpc_info(optind < argc ? argv[optind] : "127.0.0.1", all, timeout_ms);
	}
	return cli_usage_error(RPC_CMD, "unknown subcommand '%s' (info)", sub);
}
