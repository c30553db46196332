/*
 * hello_pipe.c - the lecture's hello_pipe on ipcx: a parent and the child it forks talk over
 * ipcx_pair(); parent -> child messages as on the slide, then a reply back to show duplex.
 */
#define _POSIX_C_SOURCE 200809L

#include <ipcx.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Nothing here should ever take long; a timeout turns a bug into an error, not a hang. */
#define TIMEOUT_MS 5000

static const char *const messages[] = {
        "hello world", "a pipe carries bytes; ipcx carries whole messages",
        "", /* zero-length messages work too: this one ends the conversation */
};

static int
fail(const char *who, const char *what, int err)
{
	fprintf(stderr, "hello_pipe: %s: %s: %s\n", who, what, ipcx_strerror(err));
	return EXIT_FAILURE;
}

/* The child: print every message until the empty one, answer, then see the parent go. */
static int
child_main(ipcx_chan *c)
{
	char buf[256], reply[300];
	size_t len;
	int n = 0, rv;

	for (;;) {
		if ((rv = ipcx_recv(c, buf, sizeof buf, &len, TIMEOUT_MS)) != 0) {
			return fail("child", "recv", rv);
		}
		if (len == 0) {
			break;
		}
		n++;
		printf("child: received \"%.*s\" (%zu bytes)\n", (int)len, buf, len);
		fflush(stdout);
	}
	snprintf(reply, sizeof reply, "child %ld got %d messages", (long)getpid(), n);
	if ((rv = ipcx_send(c, reply, strlen(reply), TIMEOUT_MS)) != 0) {
		return fail("child", "send", rv);
	}
	/* The parent closes its end after reading the reply: we see it as IPCX_ECLOSED. */
	rv = ipcx_recv(c, buf, sizeof buf, &len, TIMEOUT_MS);
	if (rv != IPCX_ECLOSED) {
		return fail("child", "waiting for the parent to close", rv == 0 ? IPCX_EPROTO : rv);
	}
	printf("child: parent closed the channel, exiting\n");
	return EXIT_SUCCESS;
}

static int
parent_main(ipcx_chan *c)
{
	char buf[256];
	size_t len;
	int rv;

	for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
		if ((rv = ipcx_send(c, messages[i], strlen(messages[i]), TIMEOUT_MS)) != 0) {
			return fail("parent", "send", rv);
		}
	}
	if ((rv = ipcx_recv(c, buf, sizeof buf, &len, TIMEOUT_MS)) != 0) {
		return fail("parent", "recv", rv);
	}
	printf("parent: reply \"%.*s\"\n", (int)len, buf);
	fflush(stdout);
	return EXIT_SUCCESS;
}

int
main(void)
{
	ipcx_chan *parent_end, *child_end;
	pid_t pid;
	int rv, status, ret;

	if ((rv = ipcx_pair(&parent_end, &child_end, NULL)) != 0) {
		return fail("parent", "ipcx_pair", rv);
	}
	fflush(stdout); /* or the child would print our buffered output again */
	if ((pid = fork()) == -1) {
		fprintf(stderr, "hello_pipe: fork: %s\n", strerror(errno));
		ipcx_close(parent_end);
		ipcx_close(child_end);
		return EXIT_FAILURE;
	}
	if (pid == 0) {
		/* As on the slide, each side closes the end it does not use. */
		ipcx_close(parent_end);
		ret = child_main(child_end);
		ipcx_close(child_end);
		return ret;
	}
	ipcx_close(child_end);
	ret = parent_main(parent_end);
	ipcx_close(parent_end); /* the child's last recv now returns IPCX_ECLOSED */
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			fprintf(stderr, "hello_pipe: waitpid: %s\n", strerror(errno));
			return EXIT_FAILURE;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "hello_pipe: child failed (status 0x%x)\n", (unsigned)status);
		return EXIT_FAILURE;
	}
	printf("parent: child %ld exited 0\n", (long)pid);
	return ret;
}
