/*
 * fifo_server.c - the lecture's FIFO client/server on ipcx: a well-known FIFO is the
 * rendezvous, every client gets its own channel, and each message comes back upper-cased.
 *
 * One process serves all clients with one poll(2) loop over a self-pipe (for SIGINT and
 * SIGTERM), ipcx_listener_fd() and each client's ipcx_chan_fd(). The FIFO is removed on
 * exit by ipcx_listener_close().
 *
 *   usage: fifo_server [--count N] PATH      (PATH or fifo://PATH)
 */
#define _POSIX_C_SOURCE 200809L

#include <ipcx.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define MAX_MSG     65536 /* what this server accepts; longer messages are refused */
#define SEND_MS     1000  /* a client that does not read its replies is dropped */

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

	if (pipe(sig_pipe) == -1) {
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		if (fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC) == -1 ||
		    fcntl(sig_pipe[i], F_SETFL, O_NONBLOCK) == -1) {
			return -1;
		}
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) == -1 || sigaction(SIGTERM, &sa, NULL) == -1) {
		return -1;
	}
	return 0;
}

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
serve(struct client *cl, char *buf)
{
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
	static char buf[MAX_MSG];
	struct client clients[MAX_CLIENTS];
	struct pollfd pfd[2 + MAX_CLIENTS];
	char url[4200];
	ipcx_opts opts;
	ipcx_listener *l;
	long count = -1; /* clients to accept before exiting; -1: no limit */
	int nclients = 0, next_id = 1, rv, ret = EXIT_SUCCESS;
	const char *path = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			char *end;
			count = strtol(argv[++i], &end, 10);
			if (*end != '\0' || count <= 0) {
				return usage();
			}
		} else if (argv[i][0] == '-' || path != NULL) {
			return usage();
		} else {
			path = argv[i];
		}
	}
	if (path == NULL) {
		return usage();
	}
	if (make_url(url, sizeof url, path) != 0) {
		fprintf(stderr, "fifo_server: %s: %s\n", path, ipcx_strerror(IPCX_ENAMETOOLONG));
		return EXIT_FAILURE;
	}
	if (setup_signals() != 0) {
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
			fprintf(stderr, "fifo_server: poll: %s\n", strerror(errno));
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
			if (pfd[cbase + i].revents != 0 && serve(&clients[i], buf) != 0) {
				ipcx_close(clients[i].chan);
				clients[i] = clients[--nclients];
			}
		}
		if (lidx >= 0 && pfd[lidx].revents != 0) {
			ipcx_chan *c;
			rv = ipcx_accept(l, &c, 0);
			if (rv == IPCX_ETIMEDOUT) {
				continue; /* woken for a client that failed its handshake */
			}
			if (rv != 0) {
				fprintf(stderr, "fifo_server: accept: %s\n", ipcx_strerror(rv));
				ret = EXIT_FAILURE;
				break;
			}
			if ((rv = ipcx_chan_fd(c)) < 0) {
				fprintf(stderr, "fifo_server: ipcx_chan_fd: %s\n",
				        ipcx_strerror(rv));
				ipcx_close(c);
				continue;
			}
			clients[nclients++] = (struct client){.chan = c, .id = next_id};
			printf("client %d: connected\n", next_id++);
			if (count > 0 && --count == 0) {
				/* no more clients: the FIFO goes away now */
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
