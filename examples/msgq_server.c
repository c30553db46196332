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
 * One process serves all clients with one poll(2) loop over a self-pipe (for SIGINT and
 * SIGTERM), ipcx_listener_fd() and each client's ipcx_chan_fd().
 *
 *   usage: msgq_server [--count N] KEYFILE     (the queue's key is ftok(KEYFILE, 1))
 *          msgq_server [--count N] URL         (sysvmq:0x1234abcd, sysvmq:///path?proj=N)
 */
#define _GNU_SOURCE

#include <ipcx.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define REQ_MAX     PATH_MAX
/* A System V message holds at most kernel.msgmax bytes (8192 by default), one of which is
 * ipcx's: file contents go in chunks well inside that. */
#define CHUNK   4096
#define SEND_MS 5000 /* a client that does not read its replies is dropped */

struct client {
	ipcx_chan *chan;
	int id;
};

static int sig_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	ssize_t n = write(sig_pipe[1], &b, 1); /* the poll loop wakes up and stops */

	(void)n;
	errno = saved;
}

static int
setup_signals(void)
{
	struct sigaction sa;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) == -1 || sigaction(SIGTERM, &sa, NULL) == -1) {
		return -1;
	}
	return 0;
}

/* Send the file at path, or why not: "ok" then its contents in chunks, or "error TEXT";
 * then an empty message. Returns 0, or -1 to drop the client. */
static int
send_file(struct client *cl, const char *path)
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
serve(struct client *cl)
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
	struct client clients[MAX_CLIENTS];
	struct pollfd pfd[2 + MAX_CLIENTS];
	char url[PATH_MAX + 64];
	ipcx_listener *l;
	long count = -1; /* clients to accept before exiting; -1: no limit */
	int nclients = 0, next_id = 1, rv, ret = EXIT_SUCCESS;
	const char *arg = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			char *end;
			count = strtol(argv[++i], &end, 10);
			if (*end != '\0' || count <= 0) {
				return usage();
			}
		} else if ((argv[i][0] == '-' && argv[i][1] != '\0') || arg != NULL) {
			return usage();
		} else {
			arg = argv[i];
		}
	}
	if (arg == NULL) {
		return usage();
	}
	if (make_url(url, sizeof url, arg) != 0) {
		fprintf(stderr, "msgq_server: %s: %s\n", arg, strerror(errno));
		return EXIT_FAILURE;
	}
	if (setup_signals() != 0) {
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

	for (;;) {
		int nfds = 0, lidx = -1, cbase;

		if (l == NULL && nclients == 0) {
			break; /* --count clients came and went */
		}
		pfd[nfds++] = (struct pollfd){.fd = sig_pipe[0], .events = POLLIN};
		if (l != NULL && nclients < MAX_CLIENTS) {
			lidx = nfds;
			pfd[nfds++] = (struct pollfd){.fd = ipcx_listener_fd(l), .events = POLLIN};
		}
		cbase = nfds;
		for (int i = 0; i < nclients; i++) {
			pfd[nfds++] = (struct pollfd){.fd = ipcx_chan_fd(clients[i].chan),
			                              .events = POLLIN};
		}
		if (poll(pfd, (nfds_t)nfds, -1) == -1) {
			if (errno == EINTR) {
				continue;
			}
			fprintf(stderr, "msgq_server: poll: %s\n", strerror(errno));
			ret = EXIT_FAILURE;
			break;
		}
		if (pfd[0].revents != 0) {
			printf("signal: shutting down\n");
			break;
		}
		/* Clients first, from the end: a dropped client's slot takes the last one, which
		 * has been served already. Then the listener may append a new client. */
		for (int i = nclients - 1; i >= 0; i--) {
			if (pfd[cbase + i].revents != 0 && serve(&clients[i]) != 0) {
				ipcx_close(clients[i].chan);
				clients[i] = clients[--nclients];
			}
		}
		if (lidx >= 0 && pfd[lidx].revents != 0) {
			ipcx_chan *c;
			rv = ipcx_accept(l, &c, 0);
			if (rv == IPCX_ETIMEDOUT) {
				continue; /* woken for a client that gave up */
			}
			if (rv != 0) {
				fprintf(stderr, "msgq_server: accept: %s\n", ipcx_strerror(rv));
				ret = EXIT_FAILURE;
				break;
			}
			if ((rv = ipcx_chan_fd(c)) < 0) {
				fprintf(stderr, "msgq_server: ipcx_chan_fd: %s\n",
				        ipcx_strerror(rv));
				ipcx_close(c);
				continue;
			}
			clients[nclients++] = (struct client){.chan = c, .id = next_id};
			printf("client %d: connected\n", next_id++);
			if (count > 0 && --count == 0) {
				/* no more clients; the queue goes once the last one is served */
				ipcx_listener_close(l);
				l = NULL;
			}
		}
	}

	for (int i = 0; i < nclients; i++) {
		ipcx_close(clients[i].chan);
	}
	ipcx_listener_close(l);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	return ret;
}
