/*
 * msgq_client.c - the client of msgq_server: for each PATH, ask the server for the file
 * over the System V message queue and write its contents to stdout. Replies larger than
 * the buffer are not lost: IPCX_EMSGSIZE says how big they are, and the buffer grows.
 *
 *   usage: msgq_client KEYFILE|URL PATH...     (exit 1 if a file could not be sent)
 */
#define _GNU_SOURCE

#include <ipcx.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 5000 /* to connect, and for each reply */

/* Receive one message into *buf, growing it when the message does not fit. */
static int
recv_grow(ipcx_chan *c, char **buf, size_t *cap, size_t *len)
{
	int rv;

	while ((rv = ipcx_recv(c, *buf, *cap, len, TIMEOUT_MS)) == IPCX_EMSGSIZE) {
		char *nb = realloc(*buf, *len + 1);
		if (nb == NULL) {
			return IPCX_ENOMEM;
		}
		*buf = nb;
		*cap = *len + 1;
	}
	return rv;
}

/* One request: the path, then "ok" and the chunks, or "error TEXT"; an empty message ends
 * it. Returns 0 (file written), 1 (the server could not send it), -1 (channel broken). */
static int
fetch(ipcx_chan *c, const char *path, char **buf, size_t *cap)
{
	size_t len;
	int rv, status = 0;

	if ((rv = ipcx_send(c, path, strlen(path), TIMEOUT_MS)) != 0) {
		fprintf(stderr, "msgq_client: send: %s\n", ipcx_strerror(rv));
		return -1;
	}
	for (bool first = true;; first = false) {
		if ((rv = recv_grow(c, buf, cap, &len)) != 0) {
			fprintf(stderr, "msgq_client: recv: %s\n", ipcx_strerror(rv));
			return -1;
		}
		if (len == 0) {
			return status;
		}
		if (first && len == 2 && memcmp(*buf, "ok", 2) == 0) {
			continue;
		}
		if (first && len >= 6 && memcmp(*buf, "error ", 6) == 0) {
			fprintf(stderr, "msgq_client: %s: %.*s\n", path, (int)(len - 6), *buf + 6);
			status = 1;
			continue;
		}
		if (first) {
			fprintf(stderr, "msgq_client: %s: unexpected reply\n", path);
			return -1;
		}
		if (fwrite(*buf, 1, len, stdout) != len) {
			perror("msgq_client: stdout");
			return -1;
		}
	}
}

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
	if (strpbrk(abs, "%?&") != NULL) {
		errno = EINVAL;
		return -1;
	}
	return snprintf(url, cap, "sysvmq://%s?proj=1", abs) < (int)cap ? 0 : -1;
}

int
main(int argc, char **argv)
{
	char url[PATH_MAX + 64];
	size_t cap = 8192;
	char *buf;
	ipcx_chan *c;
	int rv, ret = EXIT_SUCCESS;

	if (argc < 3) {
		fprintf(stderr, "usage: msgq_client KEYFILE|URL PATH...\n"
		                "  write each PATH, as msgq_server sends it, to stdout\n");
		return 2;
	}
	if (make_url(url, sizeof url, argv[1]) != 0) {
		fprintf(stderr, "msgq_client: %s: %s\n", argv[1], strerror(errno));
		return EXIT_FAILURE;
	}
	if ((buf = malloc(cap)) == NULL) {
		return EXIT_FAILURE;
	}
	if ((rv = ipcx_dial(&c, url, NULL, TIMEOUT_MS)) != 0) {
		fprintf(stderr, "msgq_client: %s: %s%s%s\n", url, ipcx_strerror(rv),
		        *ipcx_errdetail() ? ": " : "", ipcx_errdetail());
		free(buf);
		return EXIT_FAILURE;
	}
	for (int i = 2; i < argc; i++) {
		rv = fetch(c, argv[i], &buf, &cap);
		if (rv != 0) {
			ret = EXIT_FAILURE;
		}
		if (rv < 0) {
			break;
		}
	}
	fflush(stdout);
	ipcx_close(c);
	free(buf);
	return ret;
}
