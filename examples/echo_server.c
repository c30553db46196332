/*
 * echo_server.c - an echo server for any ipcx URL (fifo, unix, tcp, udp, shm): every message a
 * client sends comes back to it unchanged, whatever its size (up to the channel maximum).
 *
 * One thread serves all clients with one poll(2) loop (ex_serve.c, shared by the example
 * servers). The first line printed is "listening on URL" with the real URL (the port chosen
 * for tcp://host:0).
 *
 *   usage: echo_server [--count N] URL
 *
 * --count N stops accepting after N clients and exits when they have all gone. udp has no
 * connection, so a udp client never goes: stop a udp server with SIGINT or SIGTERM.
 */
#define _POSIX_C_SOURCE 200809L

#include "ex_serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define SEND_MS 5000 /* a client that does not read its replies is dropped */

/* One receive buffer for all clients; it grows when a message does not fit. */
static char *buf;
static size_t bufcap = 64 * 1024;

/* Serve one message from a readable client. Returns 0 to keep the client, -1 to drop it. */
static int
serve(struct ex_client *cl)
{
	size_t len;
	int rv;

	for (;;) {
		rv = ipcx_recv(cl->chan, buf, bufcap, &len, 0);
		if (rv != IPCX_EMSGSIZE) {
			break;
		}
		/* The message is kept; len is the room it needs. Grow and receive it again. */
		char *nb = realloc(buf, len);
		if (nb == NULL) {
			fprintf(stderr, "echo_server: client %d: no memory for %zu bytes\n", cl->id,
			        len);
			return -1;
		}
		buf = nb;
		bufcap = len;
	}
	if (rv == IPCX_ETIMEDOUT) {
		return 0; /* a spurious wake-up, or only part of a message so far */
	}
	if (rv == IPCX_ECLOSED) {
		printf("client %d: gone\n", cl->id);
		return -1;
	}
	if (rv != 0) {
		fprintf(stderr, "echo_server: client %d: recv: %s\n", cl->id, ipcx_strerror(rv));
		return -1;
	}
	if ((rv = ipcx_send(cl->chan, buf, len, SEND_MS)) != 0) {
		fprintf(stderr, "echo_server: client %d: send: %s\n", cl->id, ipcx_strerror(rv));
		return -1;
	}
	return 0;
}

static void
announce(const struct ex_client *cl)
{
	pid_t pid;
	uid_t uid;
	gid_t gid;

	/* unix:// channels know who is on the other end; other schemes say IPCX_ENOTSUP. */
	if (ipcx_peer_cred(cl->chan, &pid, &uid, &gid) == 0) {
		printf("client %d: connected (%s, pid %ld, uid %ld)\n", cl->id,
		       ipcx_chan_scheme(cl->chan), (long)pid, (long)uid);
	} else {
		printf("client %d: connected (%s)\n", cl->id, ipcx_chan_scheme(cl->chan));
	}
}

static int
usage(void)
{
	fprintf(stderr, "usage: echo_server [--count N] URL\n"
	                "  echo every message of every client on URL (fifo:///path, "
	                "unix:///path, unix:@name,\n  tcp://host:port, udp://host:port);"
	                " --count N: exit after N clients have come and gone\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const struct ex_server sv = {.prog = "echo_server", .serve = serve, .hello = announce};
	char url[4200];
	ipcx_listener *l;
	const char *arg;
	long count;
	int rv, ret;

	if (ex_args(argc, argv, &count, &arg) != 0) {
		return usage();
	}
	if (ex_signals() != 0) {
		fprintf(stderr, "echo_server: signals: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	if ((buf = malloc(bufcap)) == NULL) {
		fprintf(stderr, "echo_server: out of memory\n");
		return EXIT_FAILURE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	if ((rv = ipcx_listen(&l, arg, NULL)) != 0) {
		fprintf(stderr, "echo_server: %s: %s\n", arg, ipcx_strerror(rv));
		free(buf);
		return EXIT_FAILURE;
	}
	if ((rv = ipcx_listener_url(l, url, sizeof url)) != 0) {
		fprintf(stderr, "echo_server: %s: listener url: %s\n", arg, ipcx_strerror(rv));
		ipcx_listener_close(l);
		free(buf);
		return EXIT_FAILURE;
	}
	printf("listening on %s (%s persistence)\n", url,
	       ipcx_persistence_name(ipcx_persistence(url)));
	ret = ex_serve(&sv, l, count);
	free(buf);
	return ret;
}
