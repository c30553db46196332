/*
 * bench_impl_shm.c - what `ipcx bench` holds shm:// to: one cache line bounced between two
 * processes (the floor), a raw futex ping-pong, a naive SPSC ring, and one thread's memcpy.
 */
#include "bench_int.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SHM_RING_MIN   ((size_t)4 << 20) /* shm://'s default ring, per direction */
#define SHM_RING_HDR   4096              /* a ring's two indices, a page before its data */
#define SHM_SPIN_CHECK 1024              /* spins between looks at the clock */
#define SHM_WRAP       UINT32_MAX        /* ring: "the rest up to the end is padding" */

static inline void
shm_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* The bound of one wait in ms: a timeout_ms below the endpoint's own shortens it; -1: none. */
static int
shm_wait_ms(const bench_ep *ep, int timeout_ms)
{
	if (timeout_ms >= 0 && (ep->timeout_ms < 0 || timeout_ms < ep->timeout_ms)) {
		return timeout_ms;
	}
	return ep->timeout_ms;
}

/* A busy wait's look at the clock, every SHM_SPIN_CHECK spins: true once it is over. The
 * deadline is taken at the first look, so a wait that ends quickly never reads the clock. */
static bool
shm_spun_out(const bench_ep *ep, int timeout_ms, unsigned *spins, int64_t *deadline)
{
	int ms;

	if (++*spins % SHM_SPIN_CHECK != 0) {
		return false;
	}
	ms = shm_wait_ms(ep, timeout_ms);
	if (ms < 0) {
		return false;
	}
	if (*deadline == 0) {
		*deadline = bench_now() + (int64_t)ms * 1000000;
	}
	return bench_now() >= *deadline;
}

/* ---- the mapping: made by the parent before the fork, inherited by both workers ------ */

static int
shm_map(bench_ctx *cx, size_t len, char *err)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		int e = errno;
		snprintf(err, BENCH_ERR_MAX, "mmap of %zu bytes, MAP_SHARED | MAP_ANONYMOUS", len);
		return -e;
	}
	cx->map = p;
	cx->maplen = len;
	return 0;
}

/* The parent's view goes once both workers have theirs: nothing has a name, so nothing
 * outlives the two processes. */
static void
shm_release(bench_ctx *cx)
{
	if (cx->map != NULL) {
		munmap(cx->map, cx->maplen);
		cx->map = NULL;
	}
}

static void
shm_close(bench_ep *ep)
{
	if (ep->map != NULL) {
		munmap(ep->map, ep->maplen);
		ep->map = NULL;
	}
	free(ep->priv);
	ep->priv = NULL;
}

/* ---- one cache line: a turn counter, the length and the first 8 bytes ------------------ */

/* Whoever sends bumps turn (release); the other side waits until it moves (acquire). The
 * round trip is strictly alternating, so each side knows the value it last saw (ep->head).
 * Only the length and the sequence number travel: this is the floor under any message. */
struct shm_line {
	_Atomic uint32_t turn;
	uint32_t len;
	unsigned char data[8];
};

static void
line_put(bench_ep *ep, const void *buf, size_t len)
{
	struct shm_line *l = ep->map;

	l->len = (uint32_t)len;
	memcpy(l->data, buf, len < sizeof l->data ? len : sizeof l->data);
	atomic_store_explicit(&l->turn, (uint32_t)++ep->head, memory_order_release);
}

static int
line_get(bench_ep *ep, uint32_t turn, void *buf, size_t cap, size_t *len)
{
	struct shm_line *l = ep->map;
	size_t n = l->len, take = n < sizeof l->data ? n : sizeof l->data;

	ep->head = turn;
	if (take > cap) {
		return IPCX_EMSGSIZE;
	}
	memcpy(buf, l->data, take);
	*len = n;
	return 0;
}

static int
floor_send(bench_ep *ep, const void *buf, size_t len)
{
	line_put(ep, buf, len);
	return 0;
}

static int
floor_recv(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	struct shm_line *l = ep->map;
	uint32_t seen = (uint32_t)ep->head, v;
	unsigned spins = 0;
	int64_t deadline = 0;

	while ((v = atomic_load_explicit(&l->turn, memory_order_acquire)) == seen) {
		if (timeout_ms == 0 || shm_spun_out(ep, timeout_ms, &spins, &deadline)) {
			return IPCX_ETIMEDOUT;
		}
		shm_relax();
	}
	return line_get(ep, v, buf, cap, len);
}

static const struct bench_ep_ops floor_ops = {
        .send = floor_send,
        .recv = floor_recv,
        .close = shm_close,
};

/* The futex ping-pong: the same line, but the receiver sleeps in FUTEX_WAIT at once (no
 * spinning) and the sender always calls FUTEX_WAKE. Shared futexes: two processes. */
static int
futex_send(bench_ep *ep, const void *buf, size_t len)
{
	struct shm_line *l = ep->map;

	line_put(ep, buf, len);
	if (syscall(SYS_futex, (void *)&l->turn, FUTEX_WAKE, 1, NULL, NULL, 0) == -1) {
		return -errno;
	}
	return 0;
}

static int
futex_recv(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	struct shm_line *l = ep->map;
	uint32_t seen = (uint32_t)ep->head, v;
	int ms = shm_wait_ms(ep, timeout_ms);
	int64_t deadline = ms < 0 ? 0 : bench_now() + (int64_t)ms * 1000000;

	while ((v = atomic_load_explicit(&l->turn, memory_order_acquire)) == seen) {
		struct timespec ts, *tsp = NULL;
		if (ms >= 0) {
			int64_t left = deadline - bench_now();
			if (left <= 0) {
				return IPCX_ETIMEDOUT;
			}
			ts.tv_sec = (time_t)(left / 1000000000);
			ts.tv_nsec = (long)(left % 1000000000);
			tsp = &ts;
		}
		if (syscall(SYS_futex, (void *)&l->turn, FUTEX_WAIT, seen, tsp, NULL, 0) == -1 &&
		    errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT) {
			return -errno;
		}
	}
	return line_get(ep, v, buf, cap, len);
}

static const struct bench_ep_ops futex_ops = {
        .send = futex_send,
        .recv = futex_recv,
        .close = shm_close,
};

static int
line_prepare(bench_ctx *cx, char *err)
{
	return shm_map(cx, (size_t)sysconf(_SC_PAGESIZE), err);
}

static int
line_take(bench_ctx *cx, bench_ep *ep, char *err)
{
	(void)err;
	ep->ops = cx->impl == &bench_base_futex ? &futex_ops : &floor_ops;
	ep->map = cx->map;
	ep->maplen = cx->maplen;
	cx->map = NULL;
	ep->head = 0;
	return 0;
}

const bench_impl bench_base_floor = {
        .name = "cache-line ping-pong",
        .flags = BENCH_NO_STREAM,
        .prepare = line_prepare,
        .accept = line_take,
        .dial = line_take,
        .release = shm_release,
};

const bench_impl bench_base_futex = {
        .name = "futex ping-pong",
        .flags = BENCH_NO_STREAM,
        .prepare = line_prepare,
        .accept = line_take,
        .dial = line_take,
        .release = shm_release,
};

/* ---- a naive SPSC ring: what a first try at a shared-memory queue looks like ---------- */

/* One ring per direction. Records are an 8-byte header (length) and the payload rounded up
 * to 8 bytes; a record that does not fit before the end is preceded by a wrap marker. The
 * producer reads the consumer's index before every message and publishes its own after
 * every message; the consumer does the same with the producer's: no cached copies, no
 * batching (what shm:// does better). Both spin while they wait. */
struct shm_ring {
	_Alignas(64) _Atomic uint64_t head; /* bytes ever produced */
	_Alignas(64) _Atomic uint64_t tail; /* bytes ever consumed */
};

struct ring_ep {
	struct shm_ring *tx, *rx;
	unsigned char *txd, *rxd;
	size_t size; /* bytes of data per ring, a power of two */
	uint64_t head, tail;
};

static size_t
ring_size(size_t msg)
{
	size_t size = SHM_RING_MIN;

	while (size < 2 * (msg + 16)) {
		size <<= 1;
	}
	return size;
}

static int
ring_prepare(bench_ctx *cx, char *err)
{
	return shm_map(cx, 2 * (SHM_RING_HDR + ring_size(cx->msg_size)), err);
}

static int
ring_send(bench_ep *ep, const void *buf, size_t len)
{
	struct ring_ep *r = ep->priv;
	size_t need = 8 + ((len + 7) & ~(size_t)7), pos = r->head & (r->size - 1);
	size_t to_end = r->size - pos, total = need <= to_end ? need : to_end + need;
	uint32_t hdr[2] = {(uint32_t)len, 0};
	unsigned spins = 0;
	int64_t deadline = 0;

	if (need > r->size / 2) {
		return IPCX_EMSGSIZE;
	}
	while (r->size - (r->head - atomic_load_explicit(&r->tx->tail, memory_order_acquire)) <
	       total) {
		if (shm_spun_out(ep, -1, &spins, &deadline)) {
			return IPCX_ETIMEDOUT;
		}
		shm_relax();
	}
	if (need > to_end) {
		uint32_t wrap[2] = {SHM_WRAP, 0};
		memcpy(r->txd + pos, wrap, sizeof wrap);
		r->head += to_end;
		pos = 0;
	}
	memcpy(r->txd + pos, hdr, sizeof hdr);
	memcpy(r->txd + pos + 8, buf, len);
	r->head += need;
	atomic_store_explicit(&r->tx->head, r->head, memory_order_release);
	return 0;
}

static int
ring_recv(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	struct ring_ep *r = ep->priv;
	unsigned spins = 0;
	int64_t deadline = 0;
	uint32_t hdr[2];
	size_t pos, need;

	for (;;) {
		while (atomic_load_explicit(&r->rx->head, memory_order_acquire) == r->tail) {
			if (timeout_ms == 0 || shm_spun_out(ep, timeout_ms, &spins, &deadline)) {
				return IPCX_ETIMEDOUT;
			}
			shm_relax();
		}
		pos = r->tail & (r->size - 1);
		memcpy(hdr, r->rxd + pos, sizeof hdr);
		if (hdr[0] != SHM_WRAP) {
			break;
		}
		r->tail += r->size - pos; /* the record follows at the start */
	}
	if (hdr[0] > cap) {
		return IPCX_EMSGSIZE;
	}
	memcpy(buf, r->rxd + pos + 8, hdr[0]);
	need = 8 + (((size_t)hdr[0] + 7) & ~(size_t)7);
	r->tail += need;
	atomic_store_explicit(&r->rx->tail, r->tail, memory_order_release);
	*len = hdr[0];
	return 0;
}

static const struct bench_ep_ops ring_ops = {
        .send = ring_send,
        .recv = ring_recv,
        .close = shm_close,
};

/* Ring 0 carries B -> A, ring 1 A -> B. */
static int
ring_take(bench_ctx *cx, bench_ep *ep, int role)
{
	size_t size = cx->maplen / 2 - SHM_RING_HDR;
	unsigned char *base = cx->map;
	struct ring_ep *r = calloc(1, sizeof *r);

	if (r == NULL) {
		return IPCX_ENOMEM;
	}
	r->size = size;
	r->rx = (struct shm_ring *)(base + (role == BENCH_ROLE_A ? 0 : SHM_RING_HDR + size));
	r->tx = (struct shm_ring *)(base + (role == BENCH_ROLE_A ? SHM_RING_HDR + size : 0));
	r->rxd = (unsigned char *)r->rx + SHM_RING_HDR;
	r->txd = (unsigned char *)r->tx + SHM_RING_HDR;
	ep->ops = &ring_ops;
	ep->priv = r;
	ep->map = cx->map;
	ep->maplen = cx->maplen;
	cx->map = NULL;
	return 0;
}

static int
ring_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	(void)err;
	return ring_take(cx, ep, BENCH_ROLE_A);
}

static int
ring_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	(void)err;
	return ring_take(cx, ep, BENCH_ROLE_B);
}

const bench_impl bench_base_ring = {
        .name = "naive SPSC ring",
        .prepare = ring_prepare,
        .accept = ring_accept,
        .dial = ring_dial,
        .release = shm_release,
};

/* ---- one thread's memcpy: the bandwidth a copying transport cannot beat --------------- */

/* Worker B copies each message into a destination the size of shm://'s ring (or twice the
 * message), moving along it as a producer moves along its ring; worker A only answers.
 * A stream's end marker is what B's endpoint counts up to: its "receive" returns the
 * messages copied since it was last asked, which is what the stream compares. */
struct copy_ep {
	unsigned char *dst;
	size_t dstlen, off, msg;
	uint64_t count;
	bool sink; /* worker B: copies; worker A: answers every receive with an end marker */
};

static int
copy_send(bench_ep *ep, const void *buf, size_t len)
{
	struct copy_ep *c = ep->priv;

	if (!c->sink || len != c->msg) {
		return 0; /* end markers, handshakes and A's answers go nowhere */
	}
	memcpy(c->dst + c->off, buf, len);
	c->off += (len + 63) & ~(size_t)63;
	if (c->off + len > c->dstlen) {
		c->off = 0;
	}
	c->count++;
	return 0;
}

static int
copy_recv(bench_ep *ep, void *buf, size_t cap, size_t *len, int timeout_ms)
{
	struct copy_ep *c = ep->priv;

	(void)timeout_ms;
	if (!c->sink) {
		*len = c->msg == 0 ? 1 : 0; /* the worker's end marker: any length but the data's */
		return 0;
	}
	if (cap < sizeof c->count) {
		return IPCX_EMSGSIZE;
	}
	memcpy(buf, &c->count, sizeof c->count);
	*len = sizeof c->count;
	c->count = 0;
	return 0;
}

static void
copy_close(bench_ep *ep)
{
	struct copy_ep *c = ep->priv;

	if (c != NULL) {
		free(c->dst);
	}
	shm_close(ep);
}

static const struct bench_ep_ops copy_ops = {
        .send = copy_send,
        .recv = copy_recv,
        .close = copy_close,
};

static int
copy_take(bench_ctx *cx, bench_ep *ep, bool sink, char *err)
{
	struct copy_ep *c = calloc(1, sizeof *c);

	if (c == NULL) {
		return IPCX_ENOMEM;
	}
	c->msg = cx->msg_size;
	c->sink = sink;
	if (sink) {
		c->dstlen = ring_size(cx->msg_size);
		if ((c->dst = malloc(c->dstlen)) == NULL) {
			snprintf(err, BENCH_ERR_MAX, "memcpy destination of %zu bytes", c->dstlen);
			free(c);
			return IPCX_ENOMEM;
		}
		memset(c->dst, 0, c->dstlen); /* faulted in now, not while timed */
	}
	ep->ops = &copy_ops;
	ep->priv = c;
	return 0;
}

static int
copy_accept(bench_ctx *cx, bench_ep *ep, char *err)
{
	return copy_take(cx, ep, false, err);
}

static int
copy_dial(bench_ctx *cx, bench_ep *ep, char *err)
{
	return copy_take(cx, ep, true, err);
}

const bench_impl bench_base_memcpy = {
        .name = "memcpy, one thread",
        .flags = BENCH_NO_PING,
        .accept = copy_accept,
        .dial = copy_dial,
};
