/*
 * bench_rpc.h - `ipcx bench --rpc` shared between bench.c (the option), bench_rpc.c (the
 * runner and table) and bench_rpc_tirpc.c (the libtirpc client and server, when built).
 */
#ifndef IPCX_BENCH_RPC_H
#define IPCX_BENCH_RPC_H

#include "bench_int.h"

#include <stddef.h>

/* The program both sides speak: any number outside the assigned ranges will do. */
#define BENCH_RPC_PROG 0x20000b5cu
#define BENCH_RPC_VERS 1u
/* The calls/s xN column: this many client processes calling at once. */
#define BENCH_RPC_CLIENTS 4

enum bench_rpc_net { BENCH_RPC_UNIX, BENCH_RPC_TCP };

/* NULL when built with libtirpc, else why its rows are missing. */
extern const char *const bench_tirpc_missing;
/* Server process: listen (net UNIX: on the AF_UNIX path addr; TCP: 127.0.0.1, an ephemeral
 * port, written back into addr as "127.0.0.1:PORT"), then call ready(0, ...) and serve until
 * killed; on failure ready(err, why) and return. */
int bench_tirpc_serve(int net, char *addr, size_t cap, void (*ready)(int rv, const char *why));
/* Client process: connect to addr (as bench_tirpc_serve wrote it). NULL + err on failure. */
void *bench_tirpc_open(int net, const char *addr, char *err, size_t cap);
/* One NULL call (procedure 0, void arguments and results). 0 or -1. */
int bench_tirpc_null(void *h, int timeout_ms);
void bench_tirpc_close(void *h);

/* `ipcx bench --rpc`: the RPC rows, the targets, an exit status (IPCX_EXIT_*). */
int bench_rpc_main(const bench_config *cfg, const bench_machine *m, const char *note);

#endif
