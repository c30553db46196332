/*
 * fuzz_tcp_frames.c - libFuzzer target for the tcp:// receive path: the SP header check and
 * the length-prefixed frame decoder, fed arbitrary bytes through a real socket.
 */
#include "core/ipcx_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_MAX_MSG 4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char buf[FUZZ_MAX_MSG];
	ipcx__opts o = {.max_msg = FUZZ_MAX_MSG, .mode = 0600};
	ipcx_chan *c;
	size_t cap, len;
	int sv[2], rv;

	if (size < 1 || size > 65536) {
		return 0;
	}
	cap = (size_t)data[0] * 17; /* vary the receiver's buffer to exercise EMSGSIZE */
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		abort();
	}
	{
		int sz = 1 << 20;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	}
	if (size > 0 && write(sv[0], data, size) != (ssize_t)size) {
		abort();
	}
	close(sv[0]);
	if (ipcx__tcp_chan_from_fd(&c, sv[1], &o) != 0) {
		abort();
	}
	for (int i = 0; i < 10000; i++) {
		rv = ipcx_recv(c, buf, cap, &len, 0);
		if (rv == IPCX_EMSGSIZE) {
			if (len <= cap || len > FUZZ_MAX_MSG) {
				abort(); /* EMSGSIZE must report a size that does not fit, within
				            max */
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
