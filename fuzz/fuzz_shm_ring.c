/*
 * fuzz_shm_ring.c - libFuzzer target for the shm:// ring as a hostile peer leaves it: any
 * bytes in the ring (committed or not, any kind and flag bits), any tail for our sends.
 */
#include "core/ipcx_int.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_RING    ((uint64_t)64 << 10)
#define FUZZ_SEG     (4096 + 2 * FUZZ_RING)
#define FUZZ_MAX_MSG ((size_t)256 << 10)
#define FUZZ_CTL(i)  (64 + (i)*320) /* control blocks, docs/PROTOCOLS.md */

/* The input: u64 start (where the bytes go), u64 tail of the ring we send on, a byte of
 * receive-buffer size, then the ring's bytes from offset start. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char seg[FUZZ_SEG] __attribute__((aligned(4096)));
	static unsigned char buf[FUZZ_MAX_MSG];
	_Atomic uint64_t *ptail;
	_Atomic uint32_t *closed;
	uint64_t start, pt;
	ipcx_chan *c;
	size_t cap, len;
	int rv;

	if (size < 17 || size > 17 + FUZZ_RING) {
		return 0;
	}
	memcpy(&start, data, 8);
	memcpy(&pt, data + 8, 8);
	cap = (size_t)data[16] * 1031;
	memset(seg, 0, sizeof seg);
	if (ipcx__shm_chan_from_mem(&c, seg, FUZZ_RING, 1, FUZZ_MAX_MSG) != 0) {
		abort();
	}
	/* we receive on ring 0, whose records start at offset 0; the producer has closed, so
	 * every read ends with ECLOSED or an error instead of a wait */
	start &= ~(uint64_t)7;
	for (size_t i = 0; i < size - 17; i++) {
		seg[4096 + ((start + i) & (FUZZ_RING - 1))] = data[17 + i];
	}
	closed = (_Atomic uint32_t *)(seg + FUZZ_CTL(0) + 256);
	ptail = (_Atomic uint64_t *)(seg + FUZZ_CTL(1) + 64);
	atomic_store(closed, 1);
	for (int i = 0; i < 1000; i++) {
		const void *p;

		if (i & 1) {
			rv = ipcx_recv_view(c, &p, &len, 0);
			if (rv == 0) {
				const unsigned char *v = p, *ring = seg + 4096;

				/* a view into the ring (not the stash) lies inside ring 0, whatever
				 * the header's length and padding claim */
				if (v >= seg && v < seg + FUZZ_SEG &&
				    (v < ring || len > FUZZ_RING || v + len > ring + FUZZ_RING)) {
					abort();
				}
				if (len > 0) {
					memcpy(buf, p, len < sizeof buf ? len : sizeof buf);
				}
				ipcx_release(c);
				continue;
			}
		} else {
			rv = ipcx_recv(c, buf, cap, &len, 0);
		}
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
		if (len > cap && (i & 1) == 0) {
			abort();
		}
	}
	/* our sends read the consumer's tail of ring 1: any value must be refused or used
	 * safely, never trusted */
	atomic_store(ptail, pt);
	for (int i = 0; i < 4; i++) {
		void *p;

		rv = ipcx_send(c, buf, (size_t)data[16] * 257, 0);
		if (rv != 0 && rv != IPCX_ETIMEDOUT && rv != IPCX_EPROTO) {
			abort();
		}
		if (ipcx_loan(c, 100, &p, 0) == 0) {
			memset(p, 0xa5, 100);
			ipcx_commit(c, p, 50);
		}
	}
	ipcx_close(c);
	return 0;
}
