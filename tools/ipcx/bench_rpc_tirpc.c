/*
 * bench_rpc_tirpc.c - the libtirpc side of `ipcx bench --rpc`: a svcunix/svctcp server
 * answering NULL calls and a clntunix/clnttcp client making them, built with libtirpc-dev.
 */
#include "bench_rpc.h"

#ifdef IPCX_BENCH_TIRPC

#include <rpc/rpc.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

const char *const bench_tirpc_missing = NULL;

/* Procedure 0 only: what an rpcgen server does for NULL. */
static void
tirpc_dispatch(struct svc_req *rq, SVCXPRT *xprt)
{
	if (rq->rq_proc == 0) {
		svc_sendreply(xprt, (xdrproc_t)(void (*)(void))xdr_void, NULL);
	} else {
		svcerr_noproc(xprt);
	}
}

int
bench_tirpc_serve(int net, char *addr, size_t cap, void (*ready)(int rv, const char *why))
{
	SVCXPRT *xprt = NULL;
	char why[256];

	if (net == BENCH_RPC_UNIX) {
		xprt = svcunix_create(RPC_ANYSOCK, 0, 0, addr);
	} else {
		/* svctcp_create(RPC_ANYSOCK) binds every address: bind loopback ourselves */
		struct sockaddr_in sin;
		socklen_t len = sizeof sin;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
		    listen(fd, SOMAXCONN) != 0 ||
		    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
			snprintf(why, sizeof why, "tirpc: socket on 127.0.0.1: %s",
			         strerror(errno));
			if (fd >= 0) {
				close(fd);
			}
			ready(-1, why);
			return -1;
		}
		snprintf(addr, cap, "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
		xprt = svctcp_create(fd, 0, 0);
	}
	if (xprt == NULL) {
		ready(-1, net == BENCH_RPC_UNIX ? "svcunix_create failed" : "svctcp_create failed");
		return -1;
	}
	/* protocol 0: not registered with rpcbind, the client is told the address */
	if (!svc_register(xprt, BENCH_RPC_PROG, BENCH_RPC_VERS, tirpc_dispatch, 0)) {
		svc_destroy(xprt);
		ready(-1, "svc_register failed");
		return -1;
	}
	ready(0, NULL);
	svc_run(); /* until SIGTERM */
	return 0;
}

void *
bench_tirpc_open(int net, const char *addr, char *err, size_t cap)
{
	CLIENT *c = NULL;
	int sock = RPC_ANYSOCK;

	if (net == BENCH_RPC_UNIX) {
		struct sockaddr_un sun;
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		if (strlen(addr) >= sizeof sun.sun_path) {
			snprintf(err, cap, "tirpc: path too long");
			return NULL;
		}
		memcpy(sun.sun_path, addr, strlen(addr) + 1);
		c = clntunix_create(&sun, BENCH_RPC_PROG, BENCH_RPC_VERS, &sock, 0, 0);
	} else {
		struct sockaddr_in sin;
		unsigned port = 0;
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (sscanf(addr, "127.0.0.1:%u", &port) != 1 || port == 0 || port > 65535) {
			snprintf(err, cap, "tirpc: bad address %s", addr);
			return NULL;
		}
		sin.sin_port = htons((unsigned short)port);
		c = clnttcp_create(&sin, BENCH_RPC_PROG, BENCH_RPC_VERS, &sock, 0, 0);
	}
	if (c == NULL) {
		snprintf(err, cap, "tirpc: %s", clnt_spcreateerror(addr));
		return NULL;
	}
	return c;
}

int
bench_tirpc_null(void *h, int timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	return clnt_call((CLIENT *)h, 0, (xdrproc_t)(void (*)(void))xdr_void, NULL,
	                 (xdrproc_t)(void (*)(void))xdr_void, NULL, tv) == RPC_SUCCESS
	               ? 0
	               : -1;
}

void
bench_tirpc_close(void *h)
{
	if (h != NULL) {
		clnt_destroy((CLIENT *)h);
	}
}

#else /* !IPCX_BENCH_TIRPC */

#include <stdio.h>

const char *const bench_tirpc_missing = "ipcx was built without libtirpc (Debian: libtirpc-dev)";

int
bench_tirpc_serve(int net, char *addr, size_t cap, void (*ready)(int rv, const char *why))
{
	(void)net;
	(void)addr;
	(void)cap;
	ready(-1, bench_tirpc_missing);
	return -1;
}

void *
bench_tirpc_open(int net, const char *addr, char *err, size_t cap)
{
	(void)net;
	(void)addr;
	snprintf(err, cap, "%s", bench_tirpc_missing);
	return NULL;
}

int
bench_tirpc_null(void *h, int timeout_ms)
{
	(void)h;
	(void)timeout_ms;
	return -1;
}

void
bench_tirpc_close(void *h)
{
	(void)h;
}

#endif
