/*
 * fuzz_unix_records.c - libFuzzer target for the unix:// receive path: SOCK_SEQPACKET
 * records (first record with its length header, continuations) from a hostile peer.
 */
#include "core/ipcx_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_MAX_MSG (256 * 1024)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char buf[FUZZ_MAX_MSG];
	ipcx_chan *c;
	size_t cap, len, off;
	int sv[2], rv;

	if (size < 1 || size > 65536) {
		return 0;
	}
	cap = (size_t)data[0] * 1031;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		abort();
	}
	/* records are separated by the byte sequence "|R|" in the input */
	for (off = 1; off <= size;) {
		const uint8_t *end = off < size ? memmem(data + off, size - off, "|R|", 3) : NULL;
		size_t n = end != NULL ? (size_t)(end - (data + off)) : size - off;
		if (send(sv[0], data + off, n, MSG_DONTWAIT) == -1) {
			break;
		}
		off += n + 3;
	}
	close(sv[0]);
	{
		ipcx__opts o = {.max_msg = FUZZ_MAX_MSG, .mode = 0600};
		if (ipcx__unix_chan_from_fd(&c, sv[1], &o) != 0) {
			abort();
		}
	}
	for (int i = 0; i < 10000; i++) {
		rv = ipcx_recv(c, buf, cap, &len, 0);
		if (rv == IPCX_EMSGSIZE) {
			if (len <= cap || len > FUZZ_MAX_MSG) {
				abort();
			}
			cap = len;
			continue;
		}
		if (rv != 0) {
			break;
		}
		if (len > cap) {
			abort();
		}
	}
	ipcx_close(c);
	return 0;
}
