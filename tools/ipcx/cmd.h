/*
 * cmd.h - the subcommands of the ipcx command; each lives in its own file and uses only
 * the public API. Each returns the process exit status: 0 ok, 1 runtime error, 2 usage.
 */
#ifndef IPCX_CMD_H
#define IPCX_CMD_H

#define IPCX_EXIT_OK 0
#define IPCX_EXIT_RUNTIME 1
#define IPCX_EXIT_USAGE 2

int ipcx_cmd_cat(int argc, char **argv);
int ipcx_cmd_bench(int argc, char **argv);

#endif
