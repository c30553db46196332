/*
 * rpcbind.h - the library's rpcbind client (RFC 1833: RPCBPROG 100000 versions 4 and 3,
 * falling back to the portmapper, version 2): register, unregister, look up and list.
 */
#ifndef IPCX_RPCBIND_H
#define IPCX_RPCBIND_H

#include "rpc_int.h"

#define IPCX__RPCB_PROG 100000u
#define IPCX__RPCB_PORT 111

/* Register (prog, vers) on netid "tcp" or "udp" at port with the local rpcbind (on
 * 127.0.0.1:111 over TCP): RPCBPROC_SET version 4, else 3, else PMAPPROC_SET version 2.
 * IPCX_EEXIST if rpcbind already has it for another address where a server answers (a
 * stale entry, whose port refuses, is replaced when rpcbind speaks version 3 or 4);
 * IPCX_ECONNREFUSED when no rpcbind runs. */
int ipcx__rpcb_set(uint32_t prog, uint32_t vers, const char *netid, unsigned port, int timeout_ms);

/* Remove the registration of (prog, vers) on netid "tcp" or "udp", or on every transport
 * when netid is NULL (RPCBPROC_UNSET; the portmapper's PMAPPROC_UNSET always removes
 * every transport). Nothing registered is not an error. */
int ipcx__rpcb_unset(uint32_t prog, uint32_t vers, const char *netid, int timeout_ms);

/* Where HOST's rpcbind says (prog, vers) is on netid: "host:port" in hostport (cap bytes).
 * IPCX_ERPCPROG when it is not registered. */
int ipcx__rpcb_getaddr(const char *host, uint32_t prog, uint32_t vers, const char *netid,
                       char *hostport, size_t cap, int timeout_ms);

/* Everything HOST's rpcbind knows (RPCBPROC_DUMP, else PMAPPROC_DUMP): *list is malloc'd. */
typedef struct ipcx__rpcb_entry {
	uint32_t prog, vers;
	char netid[32]; /* "tcp", "udp", "tcp6", "local", ... */
	char addr[128]; /* universal address as rpcbind gives it ("0.0.0.0.0.111") */
	char owner[64]; /* "" for portmapper answers */
	unsigned port;  /* from addr, 0 if none (local) */
} ipcx__rpcb_entry;

int ipcx__rpcb_dump(const char *host, ipcx__rpcb_entry **list, size_t *n, int timeout_ms);

#endif
