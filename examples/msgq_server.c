/*
 * msgq_server.c - the lecture's System V message-queue client/server on ipcx: one queue,
 * named by a key (ftok of a file, or a number), serves every client. A client asks for a
 * file by its path; the server answers with a status message, the file's contents in
 * messages of at most CHUNK bytes, and an empty message at the end.
 *
 * The classic program multiplexes by hand: requests go on mtype 1 carrying the client's
 * pid, replies on mtype pid. sysvmq:// does the same underneath (each client gets mtypes
 * of its own, see docs/PROTOCOLS.md) and adds what the classic one lacks: a reply larger
 * than the caller's buffer is kept, a dead client is noticed, a full queue is waited for
 * with a timeout, and the queue is removed when the server exits.
 *
 * One process serves all clients with one poll(2) loop (ex_serve.c, shared by the example
 * servers).
 *
 *   usage: msgq_server [--count N] KEYFILE     (the queue's key is ftok(KEYFILE, 1))
 *          msgq_server [--count N] URL         (sysvmq:0x1234abcd, sysvmq:///path?proj=N)
 */
#define _GNU_SOURCE

#include "ex_serve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REQ_MAX PATH_MAX
/* A System V message holds at most kernel.msgmax bytes (8192 by default), one of which is
 * ipcx's: file contents go in chunks well inside that. */
#define CHUNK   4096
#define SEND_MS 5000 /* a client that does not read its replies is dropped */

/* Send the file at path, or why not: "ok" then its contents in chunks, or "error TEXT";
 * then an empty message. Returns 0, or -1 to drop the client. */
static int
send_file(struct ex_client *cl, const char *path)
{
	static char buf[CHUNK];
	long long total = 0;
	int fd, rv, nmsg = 0;
	ssize_t n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		int e = errno;
		n = snprintf(buf, sizeof buf, "error %s", strerror(e));
		printf("client %d: %s: %s\n", cl->id, path, strerror(e));
		if ((rv = ipcx_send(cl->chan, buf, (size_t)n, SEND_MS)) != 0 ||
		    (rv = ipcx_send(cl->chan, NULL, 0, SEND_MS)) != 0) {
			fprintf(stderr, "msgq_server: client %d: send: %s\n", cl->id,
			        ipcx_strerror(rv));
			return -1;
		}
		return 0;
	}
	if ((rv = ipcx_send(cl->chan, "ok", 2, SEND_MS)) != 0) {
		goto fail;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		/* a full queue (its msgmnb bytes) makes this wait, up to SEND_MS */
		if ((rv = ipcx_send(cl->chan, buf, (size_t)n, SEND_MS)) != 0) {
			goto fail;
		}
		total += n;
		nmsg++;
	}
	if (n < 0) {
		/* the client has part of the file: closing its channel tells it that it is cut */
		fprintf(stderr, "msgq_server: client %d: %s: %s\n", cl->id, path, strerror(errno));
		close(fd);
		return -1;
	}
	if ((rv = ipcx_send(cl->chan, NULL, 0, SEND_MS)) != 0) {
		goto fail;
	}
	close(fd);
	printf("client %d: %s (%lld bytes in %d message%s)\n", cl->id, path, total, nmsg,
	       nmsg == 1 ? "" : "s");
	return 0;
fail:
	fprintf(stderr, "msgq_server: client %d: send: %s%s%s\n", cl->id, ipcx_strerror(rv),
	        *ipcx_errdetail() ? ": " : "", ipcx_errdetail());
	close(fd);
	return -1;
}

/* Serve one request from a readable client. Returns 0 to keep the client, -1 to drop it. */
static int
serve(struct ex_client *cl)
{
	char path[REQ_MAX + 1];
	size_t len;
	int rv;

	rv = ipcx_recv(cl->chan, path, REQ_MAX, &len, 0);
	if (rv == IPCX_ETIMEDOUT) {
		return 0; /* a spurious wake-up */
	}
	if (rv == IPCX_ECLOSED) {
		printf("client %d: gone\n", cl->id);
		return -1;
	}
	if (rv != 0) {
		fprintf(stderr, "msgq_server: client %d: recv: %s\n", cl->id, ipcx_strerror(rv));
		return -1;
	}
	path[len] = '\0';
	return send_file(cl, path);
}

/* A path becomes sysvmq://ABSPATH?proj=1 (the file must exist: its inode makes the key). */
static int
make_url(char *url, size_t cap, const char *arg)
{
	char abs[PATH_MAX];

	if (strncmp(arg, "sysvmq:", 7) == 0) {
		return snprintf(url, cap, "%s", arg) < (int)cap ? 0 : -1;
	}
	if (realpath(arg, abs) == NULL) {
		return -1;
	}
	/* '%' and '?' would be read as URL syntax */
	if (strpbrk(abs, "%?&") != NULL) {
		errno = EINVAL;
		return -1;
	}
	return snprintf(url, cap, "sysvmq://%s?proj=1", abs) < (int)cap ? 0 : -1;
}

static int
usage(void)
{
	fprintf(stderr, "usage: msgq_server [--count N] KEYFILE|URL\n"
	                "  serve files to msgq_client over the System V message queue with key\n"
	                "  ftok(KEYFILE, 1) (or the sysvmq: URL); --count N: exit after N\n"
	                "  clients have come and gone\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const struct ex_server sv = {.prog = "msgq_server", .serve = serve};
	char url[PATH_MAX + 64];
	ipcx_listener *l;
	const char *arg;
	long count;
	int rv;

	if (ex_args(argc, argv, &count, &arg) != 0) {
		return usage();
	}
	if (make_url(url, sizeof url, arg) != 0) {
		fprintf(stderr, "msgq_server: %s: %s\n", arg, strerror(errno));
		return EXIT_FAILURE;
	}
	if (ex_signals() != 0) {
		fprintf(stderr, "msgq_server: signals: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* the queue is made 0600 (only this user's clients), and removed when we close it */
	if ((rv = ipcx_listen(&l, url, NULL)) != 0) {
		fprintf(stderr, "msgq_server: %s: %s%s%s\n", url, ipcx_strerror(rv),
		        *ipcx_errdetail() ? ": " : "", ipcx_errdetail());
		return EXIT_FAILURE;
	}
	printf("listening on %s\n", url);
	return ex_serve(&sv, l, count);
}
