/*
 * echo_server.c - an echo server for any ipcx URL (fifo, unix, tcp, udp, shm): every message a
 * client sends comes back to it unchanged, whatever its size (up to the channel maximum).
 *
 * One thread serves all clients with one poll(2) loop over a self-pipe (for SIGINT and
 * SIGTERM), ipcx_listener_fd() and each client's ipcx_chan_fd(). The first line printed is
 * "listening on URL" with the real URL (the port chosen for tcp://host:0).
 *
 *   usage: echo_server [--count N] URL
 *
 * --count N stops accepting after N clients and exits when they have all gone. udp has no
 * connection, so a udp client never goes: stop a udp server with SIGINT or SIGTERM.
 */
#define _POSIX_C_SOURCE 200809L

#include <ipcx.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_CLIENTS 256
#define SEND_MS     5000 /* a client that does not read its replies is dropped */

struct client {
	ipcx_chan *chan;
	int id;
};

/* One receive buffer for all clients; it grows when a message does not fit. */
static char *buf;
static size_t bufcap = 64 * 1024;

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

/* Serve one message from a readable client. Returns 0 to keep the client, -1 to drop it. */
static int
serve(struct client *cl)
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
announce(const struct client *cl)
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
	struct client clients[MAX_CLIENTS];
	struct pollfd pfd[2 + MAX_CLIENTS];
	char url[4200];
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
		} else if (argv[i][0] == '-' || arg != NULL) {
			return usage();
		} else {
			arg = argv[i];
		}
	}
	if (arg == NULL) {
		return usage();
	}
	if (setup_signals() != 0) {
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
			fprintf(stderr, "echo_server: poll: %s\n", strerror(errno));
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
				continue; /* woken for a client that failed its handshake */
			}
			if (rv != 0) {
				fprintf(stderr, "echo_server: accept: %s\n", ipcx_strerror(rv));
				ret = EXIT_FAILURE;
				break;
			}
			if ((rv = ipcx_chan_fd(c)) < 0) {
				fprintf(stderr, "echo_server: ipcx_chan_fd: %s\n",
				        ipcx_strerror(rv));
				ipcx_close(c);
				continue;
			}
			clients[nclients] = (struct client){.chan = c, .id = next_id++};
			announce(&clients[nclients++]);
			if (count > 0 && --count == 0) {
				/* no more clients: the name goes away now */
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
	free(buf);
	return ret;
}
