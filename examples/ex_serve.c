/*
 * ex_serve.c - the poll(2) loop and signal handling the example servers share (see
 * ex_serve.h): one thread serves every client, the listener and a self-pipe for signals.
 */
#define _POSIX_C_SOURCE 200809L

#include "ex_serve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CLIENTS 256 /* more wait until one goes */

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

int
ex_signals(void)
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

int
ex_args(int argc, char **argv, long *count, const char **arg)
{
	*count = -1;
	*arg = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			char *end;
			*count = strtol(argv[++i], &end, 10);
			if (*end != '\0' || *count <= 0) {
				return -1;
			}
		} else if ((argv[i][0] == '-' && argv[i][1] != '\0') || *arg != NULL) {
			return -1;
		} else {
			*arg = argv[i];
		}
	}
	return *arg != NULL ? 0 : -1;
}

/* Accept one client of l into *cl: 0, 1 when there was none after all (or it failed its
 * handshake), -1 when the listener is broken. */
static int
take_client(const struct ex_server *sv, ipcx_listener *l, struct ex_client *cl, int id)
{
	ipcx_chan *c;
	int rv = ipcx_accept(l, &c, 0);

	if (rv == IPCX_ETIMEDOUT) {
		return 1; /* woken for a client that failed its handshake or gave up */
	}
	if (rv != 0) {
		fprintf(stderr, "%s: accept: %s\n", sv->prog, ipcx_strerror(rv));
		return -1;
	}
	if ((rv = ipcx_chan_fd(c)) < 0) {
		fprintf(stderr, "%s: ipcx_chan_fd: %s\n", sv->prog, ipcx_strerror(rv));
		ipcx_close(c);
		return 1;
	}
	*cl = (struct ex_client){.chan = c, .id = id};
	if (sv->hello != NULL) {
		sv->hello(cl);
	} else {
		printf("client %d: connected\n", id);
	}
	return 0;
}

int
ex_serve(const struct ex_server *sv, ipcx_listener *l, long count)
{
	struct ex_client clients[MAX_CLIENTS];
	struct pollfd pfd[2 + MAX_CLIENTS];
	int nclients = 0, next_id = 1, ret = EXIT_SUCCESS;

	for (;;) {
		int nfds = 0, lidx = -1, cbase, rv;

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
			fprintf(stderr, "%s: poll: %s\n", sv->prog, strerror(errno));
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
			if (pfd[cbase + i].revents != 0 && sv->serve(&clients[i]) != 0) {
				ipcx_close(clients[i].chan);
				clients[i] = clients[--nclients];
			}
		}
		if (lidx < 0 || pfd[lidx].revents == 0) {
			continue;
		}
		if ((rv = take_client(sv, l, &clients[nclients], next_id)) < 0) {
			ret = EXIT_FAILURE;
			break;
		}
		if (rv == 0) {
			nclients++;
			next_id++;
			if (count > 0 && --count == 0) {
				ipcx_listener_close(
				        l); /* no more clients: the name goes away now */
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
