/*
 * cmd.h - the subcommands of the ipcx command; each lives in its own file and uses only
 * the public API. Each returns the process exit status: 0 ok, 1 runtime error, 2 usage.
 */
#ifndef IPCX_CMD_H
#define IPCX_CMD_H

#define IPCX_EXIT_OK      0
#define IPCX_EXIT_RUNTIME 1
#define IPCX_EXIT_USAGE   2

/*
 * The command table: XX(name, one-line summary). Adding a subcommand is one line here and
 * one file tools/ipcx/<name>.c defining `int ipcx_cmd_<name>(int argc, char **argv)`.
 * The function gets argv[0] == "<name>" and must answer --help on stdout with exit 0.
 */
#define CLI_COMMANDS(XX)                                  \
	XX(cat, "send and receive messages on a channel") \
	XX(ls, "list IPC objects and their creators")     \
	XX(rm, "remove IPC objects, or the stale ones")   \
	XX(rpc, "ONC RPC: ping a program, list rpcbind")  \
	XX(bench, "measure latency and throughput of every scheme")

#define CLI_CMD_DECL(name, summary) int ipcx_cmd_##name(int argc, char **argv);
CLI_COMMANDS(CLI_CMD_DECL)
#undef CLI_CMD_DECL

#endif
