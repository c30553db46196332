/*
 * echo_client.c - the client for echo_server, for any ipcx URL: send each argument (or each
 * stdin line) as one message and print the reply; --size N sends N bytes and checks them.
 *
 *   usage: echo_client URL [TEXT...]
 *          echo_client --size N URL
 */
#define _POSIX_C_SOURCE 200809L

#include <ipcx.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 5000 /* to connect, and for each reply (udp: a lost datagram) */

/* Send one message and receive the reply into *buf, growing it when the reply does not fit
 * (IPCX_EMSGSIZE keeps the message and says how big it is). */
static int
roundtrip(ipcx_chan *c, const char *msg, size_t len, char **buf, size_t *cap, size_t *got)
{
	int rv;

	if ((rv = ipcx_send(c, msg, len, TIMEOUT_MS)) != 0) {
		fprintf(stderr, "echo_client: send: %s\n", ipcx_strerror(rv));
		return -1;
	}
	while ((rv = ipcx_recv(c, *buf, *cap, got, TIMEOUT_MS)) == IPCX_EMSGSIZE) {
		char *nb = realloc(*buf, *got);
		if (nb == NULL) {
			fprintf(stderr, "echo_client: no memory for %zu bytes\n", *got);
			return -1;
		}
		*buf = nb;
		*cap = *got;
	}
	if (rv != 0) {
		fprintf(stderr, "echo_client: recv: %s\n", ipcx_strerror(rv));
		return -1;
	}
	return 0;
}

/* --size N: one message of N patterned bytes, which must come back unchanged. */
static int
check_size(ipcx_chan *c, size_t n, char **buf, size_t *cap)
{
	char *msg = malloc(n > 0 ? n : 1);
	size_t got;
	int ret = -1;

	if (msg == NULL) {
		fprintf(stderr, "echo_client: no memory for %zu bytes\n", n);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		msg[i] = (char)('a' + (i * 7 + i / 251) % 26);
	}
	if (roundtrip(c, msg, n, buf, cap, &got) == 0) {
		if (got == n && memcmp(msg, *buf, n) == 0) {
			printf("%zu bytes echoed\n", n);
			ret = 0;
		} else {
			fprintf(stderr,
			        "echo_client: sent %zu bytes, got back %zu different ones\n", n,
			        got);
		}
	}
	free(msg);
	return ret;
}

static int
usage(void)
{
	fprintf(stderr, "usage: echo_client URL [TEXT...]\n"
	                "       echo_client --size N URL\n"
	                "  send each TEXT (or each line of stdin) to the echo_server on URL and "
	                "print the replies;\n  --size N: send one N-byte message and check the "
	                "echo\n");
	return 2;
}

int
main(int argc, char **argv)
{
	char *buf, *line = NULL, *end;
	size_t cap = 256, linecap = 0, got;
	long long size = -1;
	ipcx_chan *c;
	int rv, first = 1, ret = EXIT_SUCCESS;

	if (argc > 1 && strcmp(argv[1], "--size") == 0) {
		if (argc != 4) {
			return usage();
		}
		size = strtoll(argv[2], &end, 10);
		if (*end != '\0' || size < 0) {
			return usage();
		}
		first = 3;
	}
	if (first >= argc || argv[first][0] == '-') {
		return usage();
	}
	if ((buf = malloc(cap)) == NULL) {
		fprintf(stderr, "echo_client: out of memory\n");
		return EXIT_FAILURE;
	}
	if ((rv = ipcx_dial(&c, argv[first], NULL, TIMEOUT_MS)) != 0) {
		fprintf(stderr, "echo_client: %s: %s\n", argv[first], ipcx_strerror(rv));
		free(buf);
		return EXIT_FAILURE;
	}
	if (size >= 0) {
		if (check_size(c, (size_t)size, &buf, &cap) != 0) {
			ret = EXIT_FAILURE;
		}
	} else if (argc > first + 1) {
		for (int i = first + 1; i < argc && ret == EXIT_SUCCESS; i++) {
			if (roundtrip(c, argv[i], strlen(argv[i]), &buf, &cap, &got) != 0) {
				ret = EXIT_FAILURE;
			} else {
				printf("%.*s\n", (int)got, buf);
			}
		}
	} else {
		ssize_t n;
		while (ret == EXIT_SUCCESS && (n = getline(&line, &linecap, stdin)) != -1) {
			if (n > 0 && line[n - 1] == '\n') {
				n--;
			}
			if (roundtrip(c, line, (size_t)n, &buf, &cap, &got) != 0) {
				ret = EXIT_FAILURE;
			} else {
				printf("%.*s\n", (int)got, buf);
				fflush(stdout);
			}
		}
		free(line);
	}
	ipcx_close(c);
	free(buf);
	return ret;
}
