/*
 * fifo_server.c - the lecture's FIFO client/server on ipcx: a well-known FIFO is the
 * rendezvous, every client gets its own channel, and each message comes back upper-cased.
 *
 * One process serves all clients with one poll(2) loop (ex_serve.c, shared by the example
 * servers). The FIFO is removed on exit by ipcx_listener_close().
 *
 *   usage: fifo_server [--count N] PATH      (PATH or fifo://PATH)
 */
#define _POSIX_C_SOURCE 200809L

#include "ex_serve.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_MSG 65536 /* what this server accepts; longer messages are refused */
#define SEND_MS 1000  /* a client that does not read its replies is dropped */

/* "/tmp/x" -> "fifo:///tmp/x"; a URL is taken as it is. '%' and '?' would be read as URL
 * syntax, so they are percent-encoded. */
static int
make_url(char *url, size_t cap, const char *arg)
{
	size_t o;

	if (strncmp(arg, "fifo:", 5) == 0) {
		return snprintf(url, cap, "%s", arg) < (int)cap ? 0 : -1;
	}
	o = (size_t)snprintf(url, cap, "fifo://");
	for (; *arg != '\0'; arg++) {
		int n = (*arg == '%' || *arg == '?') ? snprintf(url + o, cap - o, "%%%02X", *arg)
		                                     : snprintf(url + o, cap - o, "%c", *arg);
		if (n < 0 || (size_t)n >= cap - o) {
			return -1;
		}
		o += (size_t)n;
	}
	return 0;
}

/* Serve one message from a readable client. Returns 0 to keep the client, -1 to drop it. */
static int
serve(struct ex_client *cl)
{
	static char buf[MAX_MSG];
	size_t len;
	int rv;

	rv = ipcx_recv(cl->chan, buf, MAX_MSG, &len, 0);
	if (rv == IPCX_ETIMEDOUT) {
		return 0; /* a spurious wake-up, or only part of a message so far */
	}
	if (rv == IPCX_ECLOSED) {
		printf("client %d: gone\n", cl->id);
		return -1;
	}
	if (rv != 0) {
		/* IPCX_EMSGSIZE (len says how big) or a broken channel: this client is done. */
		fprintf(stderr, "fifo_server: client %d: recv: %s\n", cl->id, ipcx_strerror(rv));
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		buf[i] = (char)toupper((unsigned char)buf[i]);
	}
	if ((rv = ipcx_send(cl->chan, buf, len, SEND_MS)) != 0) {
		fprintf(stderr, "fifo_server: client %d: send: %s\n", cl->id, ipcx_strerror(rv));
		return -1;
	}
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: fifo_server [--count N] PATH\n"
	                "  serve clients on the FIFO PATH, replying to each message in upper "
	                "case;\n  --count N: exit after N clients have come and gone\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const struct ex_server sv = {.prog = "fifo_server", .serve = serve};
	char url[4200];
	ipcx_opts opts;
	ipcx_listener *l;
	const char *path;
	long count;
	int rv;

	if (ex_args(argc, argv, &count, &path) != 0) {
		return usage();
	}
	if (make_url(url, sizeof url, path) != 0) {
		fprintf(stderr, "fifo_server: %s: %s\n", path, ipcx_strerror(IPCX_ENAMETOOLONG));
		return EXIT_FAILURE;
	}
	if (ex_signals() != 0) {
		fprintf(stderr, "fifo_server: signals: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	ipcx_opts_init(&opts);
	opts.max_msg = MAX_MSG;
	if ((rv = ipcx_listen(&l, url, &opts)) != 0) {
		fprintf(stderr, "fifo_server: %s: %s\n", url, ipcx_strerror(rv));
		return EXIT_FAILURE;
	}
	printf("listening on %s\n", url);
	return ex_serve(&sv, l, count);
}
