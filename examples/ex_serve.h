/*
 * ex_serve.h - what the example servers share: their --count option and one poll(2) loop
 * that accepts clients on an ipcx listener and serves each client whose channel is readable.
 *
 * The loop waits on a self-pipe (SIGINT and SIGTERM write to it), ipcx_listener_fd() and each
 * client's ipcx_chan_fd(); it stops on a signal, or once --count clients have come and gone.
 */
#ifndef EX_SERVE_H
#define EX_SERVE_H

#include <ipcx.h>

struct ex_client {
	ipcx_chan *chan;
	int id; /* 1, 2, ... in the order the clients came */
};

struct ex_server {
	const char *prog; /* for messages: "prog: ..." */
	/* Serve one message of a readable client: 0 keeps it, -1 drops it (its channel is
	 * closed). Woken without a whole message, ipcx_recv(..., 0) says IPCX_ETIMEDOUT:
	 * return 0. */
	int (*serve)(struct ex_client *cl);
	/* Say that a client came (NULL: "client N: connected"). */
	void (*hello)(const struct ex_client *cl);
};

/* argv: [--count N] ARG. Sets *count (-1 when not given) and *arg; -1 on bad usage. */
int ex_args(int argc, char **argv, long *count, const char **arg);

/* Catch SIGINT and SIGTERM for ex_serve (before the listener exists, so that a signal
 * that comes early still removes it). -1 with errno on failure. */
int ex_signals(void);

/* Serve clients of l until a signal comes or, with count > 0, until count clients have come
 * and gone. Closes l and every client. EXIT_SUCCESS or EXIT_FAILURE. */
int ex_serve(const struct ex_server *sv, ipcx_listener *l, long count);

#endif
