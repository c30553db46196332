/*
 * fifo_client.c - the client half of the lecture's FIFO client/server on ipcx: dial the
 * server's well-known FIFO, send each argument (or each stdin line), print each reply.
 *
 *   usage: fifo_client PATH [TEXT...]       (PATH or fifo://PATH)
 */
#define _POSIX_C_SOURCE 200809L

#include <ipcx.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 5000 /* for the server to accept us, and for each reply */

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

/* Send one request and print the reply; the reply is as long as the request. */
static int
roundtrip(ipcx_chan *c, const char *msg, size_t len, char **buf, size_t *cap)
{
	size_t got;
	int rv;

	if ((rv = ipcx_send(c, msg, len, TIMEOUT_MS)) != 0) {
		fprintf(stderr, "fifo_client: send: %s\n", ipcx_strerror(rv));
		return -1;
	}
	for (;;) {
		rv = ipcx_recv(c, *buf, *cap, &got, TIMEOUT_MS);
		if (rv != IPCX_EMSGSIZE) {
			break;
		}
		/* Too long for buf: nothing is lost, got says how much room the reply needs. */
		char *nb = realloc(*buf, got);
		if (nb == NULL) {
			fprintf(stderr, "fifo_client: out of memory\n");
			return -1;
		}
		*buf = nb;
		*cap = got;
	}
	if (rv != 0) {
		fprintf(stderr, "fifo_client: recv: %s\n", ipcx_strerror(rv));
		return -1;
	}
	printf("%.*s\n", (int)got, *buf);
	fflush(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	char url[4200];
	char *buf, *line = NULL;
	size_t cap = 256, linecap = 0;
	ipcx_chan *c;
	int rv, ret = EXIT_SUCCESS;

	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr,
		        "usage: fifo_client PATH [TEXT...]\n"
		        "  send each TEXT (or each line of stdin) to the fifo_server on PATH"
		        " and print the replies\n");
		return 2;
	}
	if (make_url(url, sizeof url, argv[1]) != 0) {
		fprintf(stderr, "fifo_client: %s: %s\n", argv[1], ipcx_strerror(IPCX_ENAMETOOLONG));
		return EXIT_FAILURE;
	}
	if ((buf = malloc(cap)) == NULL) {
		fprintf(stderr, "fifo_client: out of memory\n");
		return EXIT_FAILURE;
	}
	if ((rv = ipcx_dial(&c, url, NULL, TIMEOUT_MS)) != 0) {
		fprintf(stderr, "fifo_client: %s: %s\n", url, ipcx_strerror(rv));
		free(buf);
		return EXIT_FAILURE;
	}
	if (argc > 2) {
		for (int i = 2; i < argc && ret == EXIT_SUCCESS; i++) {
			if (roundtrip(c, argv[i], strlen(argv[i]), &buf, &cap) != 0) {
				ret = EXIT_FAILURE;
			}
		}
	} else {
		ssize_t n;
		while (ret == EXIT_SUCCESS && (n = getline(&line, &linecap, stdin)) != -1) {
			if (n > 0 && line[n - 1] == '\n') {
				n--;
			}
			if (roundtrip(c, line, (size_t)n, &buf, &cap) != 0) {
				ret = EXIT_FAILURE;
			}
		}
		free(line);
	}
	ipcx_close(c); /* the server sees IPCX_ECLOSED; our private FIFOs go away */
	free(buf);
	return ret;
}
