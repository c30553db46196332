/*
 * main.c - ipcx-bench: `ipcx bench` as a program of its own, built from the same sources
 * (tools/ipcx/bench*.c), for profiling with perf or strace without the rest of the command.
 */
#include "cmd.h"

#include <string.h>

int
main(int argc, char **argv)
{
	static char name[] = "bench";

	/* `ipcx-bench bench ARGS` works too, so scripts can take either program. */
	if (argc > 1 && strcmp(argv[1], "bench") == 0) {
		argc--;
		argv++;
	}
	argv[0] = name; /* the subcommand contract: argv[0] is the command's name */
	return ipcx_cmd_bench(argc, argv);
}
