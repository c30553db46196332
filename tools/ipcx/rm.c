/*
 * rm.c - `ipcx rm`: remove IPC objects named by URL or KIND:NAME, or (--stale) every object
 * ipcx made whose creator is dead, which is what a crashed process leaves behind.
 */
#include "cmd.h"
#include "util.h"

#include "ipcx.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RM_CMD "rm"

static void
rm_help(void)
{
	printf("Usage: %s rm NAME...\n"
	       "       %s rm --stale [--dry-run]\n"
	       "\n"
	       "Remove IPC objects. A NAME is a channel URL or KIND:NAME as '%s ls' shows it:\n"
	       "  mq:///NAME                  POSIX queue /ipcx.NAME   (posix-mq:/NAME)\n"
	       "  sysvmq:0xKEY                System V queue by key    (sysv-msg:0xKEY)\n"
	       "  sysvmq:///path?proj=N       System V queue, key ftok(path, N)\n"
	       "  fifo:///path  unix:///path  a FIFO, a socket file    (fifo:/path, socket:/path)\n"
	       "  file:///path                a file:// log            (file:/path)\n"
	       "  posix-shm:/NAME  posix-sem:/NAME  sysv-shm:0xKEY  sysv-sem:0xKEY  sysv-*:id:N\n"
	       "A fifo: or socket: name is removed only if it is a FIFO or a socket: never a\n"
	       "regular file. Its creator record goes with the object.\n"
	       "\n"
	       "Options:\n"
	       "  -s, --stale    remove every object ipcx made whose creator is dead (the process\n"
	       "                 is gone, or its pid now belongs to another process), printing\n"
	       "                 each one\n"
	       "  -n, --dry-run  with --stale: print what would be removed, remove nothing\n"
	       "  -h, --help     show this help and exit\n"
	       "\n"
	       "Exit status: 0 if everything was removed, 1 if something could not be (one line\n"
	       "on stderr each; the others are still removed), 2 on a usage error.\n",
	       CLI_PROG, CLI_PROG, CLI_PROG);
}

/* The one error line, with the detail that names a limit or a refusal. */
static void
rm_error(const char *name, int err)
{
	const char *detail = ipcx_errdetail();

	cli_errorf("%s: remove: %s (%s)%s%s", name, ipcx_strerror(err), ipcx_err_name(err),
	           detail[0] != '\0' ? ": " : "", detail);
}

static int
rm_stale(bool dry_run)
{
	ipcx_obj_info *v;
	size_t n;
	int rv, status = IPCX_EXIT_OK;

	if ((rv = ipcx_obj_list(&v, &n, 0)) != 0) {
		cli_error(NULL, "list objects", rv);
		return IPCX_EXIT_RUNTIME;
	}
	for (size_t i = 0; i < n; i++) {
		const ipcx_obj_info *o = &v[i];
		if (!o->ours || o->state != IPCX_OBJ_DEAD) {
			continue;
		}
		if (dry_run) {
			printf("would remove %s (creator %ld is dead)\n", o->name,
			       (long)o->creator);
			continue;
		}
		rv = ipcx_obj_remove(o->name);
		if (rv == 0 || rv == IPCX_ENOENT) { /* gone meanwhile is just as good */
			printf("removed %s (creator %ld is dead)\n", o->name, (long)o->creator);
		} else {
			rm_error(o->name, rv);
			status = IPCX_EXIT_RUNTIME;
		}
	}
	free(v);
	return status;
}

int
ipcx_cmd_rm(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"stale", no_argument, NULL, 's'},
	        {"dry-run", no_argument, NULL, 'n'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	bool stale = false, dry_run = false;
	int ch, rv, status = IPCX_EXIT_OK;

	while ((ch = getopt_long(argc, argv, ":snh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			stale = true;
			break;
		case 'n':
			dry_run = true;
			break;
		case 'h':
			rm_help();
			return IPCX_EXIT_OK;
		default:
			return cli_getopt_error(RM_CMD, ch, argv);
		}
	}
	if (dry_run && !stale) {
		return cli_usage_error(RM_CMD, "--dry-run goes with --stale");
	}
	if (stale) {
		if (optind < argc) {
			return cli_usage_error(RM_CMD, "--stale takes no names ('%s')",
			                       argv[optind]);
		}
		return rm_stale(dry_run);
	}
	if (optind == argc) {
		return cli_usage_error(RM_CMD, "give the names to remove, or --stale");
	}
	for (int i = optind; i < argc; i++) {
		if ((rv = ipcx_obj_remove(argv[i])) != 0) {
			rm_error(argv[i], rv);
			status = IPCX_EXIT_RUNTIME;
		}
	}
	return status;
}
