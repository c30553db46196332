/*
 * main.c - the ipcx command: global options (--help, --version) and dispatch to the
 * subcommands listed in cmd.h, each of which parses its own options.
 */
#include "cmd.h"
#include "util.h"

#include "ipcx.h"

#include <stdio.h>
#include <string.h>

struct cli_cmd {
	const char *name;
	const char *summary;
	int (*fn)(int argc, char **argv);
};

static const struct cli_cmd cli_cmds[] = {
#define CLI_CMD_ROW(name, summary) {#name, summary, ipcx_cmd_##name},
        CLI_COMMANDS(CLI_CMD_ROW)
#undef CLI_CMD_ROW
};

#define CLI_NCMDS (sizeof cli_cmds / sizeof cli_cmds[0])

static void
main_usage(FILE *out)
{
	fprintf(out,
	        "Usage: %s [--help] [--version] COMMAND [ARGS...]\n"
	        "\n"
	        "Every Unix IPC mechanism behind one message channel named by a URL:\n"
	        "  pipe:  fifo:///path  unix:///path  unix:@name  tcp://host:port  "
	        "udp://host:port\n"
	        "\n"
	        "Commands:\n",
	        CLI_PROG);
	for (size_t i = 0; i < CLI_NCMDS; i++) {
		fprintf(out, "  %-8s %s\n", cli_cmds[i].name, cli_cmds[i].summary);
	}
	fprintf(out,
	        "\n"
	        "Options:\n"
	        "  -h, --help     show this help and exit\n"
	        "  -V, --version  show the version and exit\n"
	        "\n"
	        "Run '%s COMMAND --help' (or '%s help COMMAND') for the options of a command.\n"
	        "Exit status: 0 success, 1 runtime error, 2 usage error.\n",
	        CLI_PROG, CLI_PROG);
}

static const struct cli_cmd *
main_find(const char *name)
{
	for (size_t i = 0; i < CLI_NCMDS; i++) {
		if (strcmp(cli_cmds[i].name, name) == 0) {
			return &cli_cmds[i];
		}
	}
	return NULL;
}

/* Flush stdout and turn a failed write (a closed pipe, a full disk) into exit status 1. */
static int
main_finish(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		return status == IPCX_EXIT_OK ? IPCX_EXIT_RUNTIME : status;
	}
	return status;
}

int
main(int argc, char **argv)
{
	const struct cli_cmd *cmd;
	const char *a;

	if (argc < 2) {
		main_usage(stderr);
		return IPCX_EXIT_USAGE;
	}
	a = argv[1];
	if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
		main_usage(stdout);
		return main_finish(IPCX_EXIT_OK);
	}
	if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
		printf("%s %d.%d.%d\n", CLI_PROG, IPCX_VERSION_MAJOR, IPCX_VERSION_MINOR,
		       IPCX_VERSION_PATCH);
		return main_finish(IPCX_EXIT_OK);
	}
	if (strcmp(a, "help") == 0) {
		/* "ipcx help CMD" is "ipcx CMD --help" */
		char *hargv[3];
		if (argc < 3) {
			main_usage(stdout);
			return main_finish(IPCX_EXIT_OK);
		}
		if (argc > 3) {
			return cli_usage_error(NULL, "help takes at most one command name");
		}
		if ((cmd = main_find(argv[2])) == NULL) {
			return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
		}
		hargv[0] = argv[2];
		hargv[1] = "--help";
		hargv[2] = NULL;
		cli_getopt_reset();
		return main_finish(cmd->fn(2, hargv));
	}
	if (a[0] == '-') {
		return cli_usage_error(NULL, "unknown option '%s'", a);
	}
	if ((cmd = main_find(a)) == NULL) {
		return cli_usage_error(NULL, "unknown command '%s'", a);
	}
	cli_getopt_reset();
	return main_finish(cmd->fn(argc - 1, argv + 1));
}
