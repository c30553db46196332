/*
 * shm.c - shm://: two single-producer single-consumer rings in one sealed memfd, set up over
 * a unix socket that stays open for the channel's life, so a dead peer is a hang-up.
 *
 * The hot path takes no lock and makes no syscall while the peer keeps up: a producer
 * writes a record in place and publishes its head index with a release store; a consumer
 * reads the head only when its cached copy is used up, and the producer reads the tail only
 * when its cached free space runs out. Each index lives on its own cache line. A side that
 * must wait spins for an adaptive budget, then sleeps on a futex word in the segment after
 * announcing it there; the other side issues FUTEX_WAKE only when it sees the announcement.
 * A receiver that sleeps longer than a slice moves to a poll of its eventfd and the socket,
 * which costs nothing while idle and sees the peer's death at once. Everything read from
 * the segment is checked before use: the peer may write anything there at any time.
 * The wire (handshake, segment layout, records) is in docs/PROTOCOLS.md.
 */
#include "../core/ipcx_int.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free in shared memory");

#define SHM_MAGIC        "IPCXSHM1"
#define SHM_VERSION      1u
#define SHM_PAGE         4096u
#define SHM_RING_MIN     ((uint64_t)64 << 10)
#define SHM_RING_MAX     ((uint64_t)1 << 30)
#define SHM_RING_DEFAULT ((uint64_t)4 << 20)
#define SHM_HDR          8u    /* record header: u32 length, u32 kind */
#define SHM_LINE         64u   /* payloads from SHM_ALIGN_MIN bytes are placed within a line */
#define SHM_ALIGN_MIN    1024u /* below: packed, a small message moves as few lines as it can */
#define SHM_NAME_MAX     98u   /* "@ipcx.shm." + NAME fills an abstract sun_path (107) */
#define SHM_ALLOW_MAX    16
#define SHM_HANDSHAKE_MS 2000 /* a client that connects and says nothing is dropped */
#define SHM_INNER_MAX    256  /* handshake records on the socket */

#define SHM_SLICE_NS     ((int64_t)25 * 1000 * 1000) /* futex sleep before the deep sleep */
#define SHM_HUP_NS       ((int64_t)10 * 1000 * 1000) /* spin mode: look for a hang-up */
#define SHM_SPIN_MIN_NS  ((int64_t)1000)
#define SHM_SPIN_INIT_NS ((int64_t)20 * 1000)
#define SHM_SPIN_MAX_NS  ((int64_t)200 * 1000)

/* record kinds */
enum {
	K_MSG = 1, /* a whole message */
	K_FIRST,   /* first piece: u64 total length, then data */
	K_MORE,    /* a middle piece */
	K_LAST,    /* the last piece */
	K_ABORT,   /* drop the pieces received so far (the send timed out) */
	K_SKIP,    /* padding to the end of the ring */
};
#define K_PAD_SHIFT 8
#define K_PAD_MASK  (7u << K_PAD_SHIFT) /* kind bits: padding / 8 between header and payload */

enum { W_ADAPTIVE, W_SPIN, W_BLOCK };

/* ring control words */
#define RX_FUTEX 1u /* rx_wait: the consumer sleeps on the futex */
#define RX_EVENT 2u /* rx_wait: the consumer wants its eventfd written */
#define TX_FUTEX 1u /* tx_wait: the producer sleeps on the futex until tail >= tx_need */
#define CL_PROD  1u /* closed: the producer has gone */
#define CL_CONS  2u /* closed: the consumer has gone */

struct shm_ctl {
	_Alignas(64) uint64_t reserved;        /* 0 (records carry their own commit word) */
	_Alignas(64) _Atomic uint64_t tail;    /* consumer: bytes released */
	_Alignas(64) _Atomic uint32_t rx_wait; /* consumer's announcements */
	_Alignas(64) _Atomic uint32_t tx_wait; /* producer's announcements */
	_Atomic uint64_t tx_need;              /* with TX_FUTEX: wake me at this tail */
	_Alignas(64) _Atomic uint32_t closed;
};

/* Segment: this header at 0, ctl[0] at 64, ctl[1] at 384, ring 0 data at 4096, ring 1 data
 * at 4096 + ring_size. Ring 0 carries accepter -> dialer, ring 1 dialer -> accepter. */
struct shm_seg {
	char magic[8];
	uint32_t version;
	uint32_t reserved;
	uint64_t ring_size;
	uint64_t seg_size;
	uint64_t ctl_off[2];
	uint64_t data_off[2];
};

_Static_assert(sizeof(struct shm_seg) == 64, "segment header is one cache line");
_Static_assert(sizeof(struct shm_ctl) == 320, "five cache lines per ring");

#define SHM_CTL_OFF(i)      ((uint64_t)64 + (uint64_t)(i) * sizeof(struct shm_ctl))
#define SHM_DATA_OFF(i, rs) ((uint64_t)SHM_PAGE + (uint64_t)(i) * (rs))

/* Handshake records (host byte order: both ends are on this machine). */
struct shm_hello {
	char magic[8];
	uint32_t version;
	uint32_t reserved;  /* 0 */
	uint64_t ring_size; /* 0: the listener's */
};

struct shm_reply {
	char magic[8];
	uint32_t version;
	int32_t status; /* 0, or the IPCX_E* code that refused the client */
	uint64_t ring_size;
	uint64_t seg_size;
};

typedef struct shm_tx {
	struct shm_ctl *ctl;
	unsigned char *data;
	uint64_t size, mask;
	uint64_t head;       /* next record position (published unless a loan is out) */
	uint64_t tail_cache; /* the consumer's tail as last read */
	uint64_t skip;       /* padding before the reserved record */
	uint64_t pad;        /* bytes between its header and its payload (0..56) */
	unsigned char *loan; /* the loaned payload, or NULL */
	bool abort_due;      /* a message cut by a timeout: an ABORT record is owed */
	int64_t spin_ns;
} shm_tx;

typedef struct shm_rx {
	struct shm_ctl *ctl;
	unsigned char *data;
	uint64_t size, mask;
	uint64_t tail, pub_tail;
	uint64_t pad;   /* bytes between the header and the payload of the record at tail */
	bool in_pieces; /* between a FIRST and its LAST */
	uint64_t total, got;
	unsigned char *stash; /* pieces kept across a timeout, or gathered for a view */
	size_t stash_cap;
	bool stashed;      /* stash holds the got bytes */
	uint64_t view_end; /* tail after the viewed record */
	bool view_in_ring;
	int64_t spin_ns;
	int err; /* sticky: EPROTO */
} shm_rx;

typedef struct shm_chan {
	ipcx_chan base;
	ipcx_chan *sock; /* the unix channel: the life line, peer credentials */
	int sfd;
	unsigned char *map;
	bool map_foreign; /* ipcx__shm_chan_from_mem: the caller's memory, not a mapping */
	int own_ev;       /* written by the peer when we sleep deeply or poll */
	int peer_ev;      /* ours to write */
	int epfd;         /* ipcx_chan_fd: own_ev + sfd */
	int wait;
	bool fd_mode;
	bool solo;             /* one CPU online: never spin */
	atomic_bool peer_gone; /* seen by the sender and the receiver thread */
	int serr;
	shm_tx tx;
	shm_rx rx;
} shm_chan;

typedef struct shm_listener {
	ipcx_listener base;
	ipcx_listener *sock;
	char url[IPCX__URL_MAX + 16];
	uint64_t ring_size;
	int wait;
	uid_t allow[SHM_ALLOW_MAX];
	int nallow;
	size_t max_msg;
} shm_listener;

/* Options of one URL. */
typedef struct shm_params {
	char name[SHM_NAME_MAX + 1];
	const char *path;   /* ?path= (in the URL) or NULL */
	uint64_t ring_size; /* 0: not given */
	int wait;
	uid_t allow[SHM_ALLOW_MAX];
	int nallow;
} shm_params;

static const char *const shm_keys[] = {"size", "wait", "allow", "path", NULL};

/* ---- small helpers ------------------------------------------------------------------- */

static inline void
shm_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* A full barrier between a store and a later load (the waker's side of the announcement
 * protocol). On x86 a locked add to the stack is cheaper than mfence and orders the same. */
static inline void
shm_fence(void)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	__asm__ __volatile__("lock; orl $0, (%%rsp)" ::: "memory", "cc");
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}

static inline uint64_t
shm_align(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

static inline uint64_t
shm_rec(uint64_t len)
{
	return SHM_HDR + shm_align(len);
}

/* Padding after a header at ring offset off so that the payload sits at want (a multiple
 * of 8) within its cache line: where the sender's source buffer sits in its line, or 0 for
 * a loan. A copy between buffers at the same place in their lines is the fast one: a payload
 * on a line streamed 4 KiB 1.3-1.6x faster than one 8 bytes in when the application's
 * buffers were on a line too, and 1 MiB 8 % slower when they were 16 bytes in (BENCHMARKS.md). */
static inline uint64_t
shm_pad(uint64_t off, uint64_t want)
{
	return (want - (off + SHM_HDR)) & (SHM_LINE - 1);
}

/* Where in its line a payload copied from src should start. */
static inline uint64_t
shm_want(uintptr_t src)
{
	return (uint64_t)src & (SHM_LINE - 1) & ~(uint64_t)7;
}

/* A record's header is one 64-bit word, u32 length then u32 kind in memory (little
 * endian): stored last with release order, it commits the record. Kind 0 is "nothing yet":
 * the producer zeroes the next header slot before it commits a record, so a consumer never
 * mistakes old bytes for a record. */
static inline uint64_t
shm_hdr_load(const unsigned char *slot)
{
	return atomic_load_explicit((_Atomic uint64_t *)(uintptr_t)slot, memory_order_acquire);
}

static inline void
shm_hdr_store(unsigned char *slot, uint32_t len, uint32_t kind)
{
	atomic_store_explicit((_Atomic uint64_t *)(uintptr_t)slot,
	                      (uint64_t)len | (uint64_t)kind << 32, memory_order_release);
}

static void
shm_futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Sleep while *w == val, until woken or the absolute CLOCK_MONOTONIC deadline. */
static void
shm_futex_wait(_Atomic uint32_t *w, uint32_t val, int64_t deadline)
{
	struct timespec ts, *tp = NULL;

	if (deadline != IPCX__FOREVER) {
		ts.tv_sec = (time_t)(deadline / 1000000000);
		ts.tv_nsec = (long)(deadline % 1000000000);
		tp = &ts;
	}
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_BITSET, val, tp, NULL, FUTEX_BITSET_MATCH_ANY);
}

static void
shm_ev_write(int fd)
{
	uint64_t one = 1;

	/* non-blocking; a full counter already wakes the reader */
	if (write(fd, &one, sizeof one) == -1) {
		return;
	}
}

static void
shm_ev_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof v) == -1) {
		return; /* EAGAIN: nothing to drain */
	}
}

/* ---- one mapping per segment per process --------------------------------------------- */

/* A process that both accepts and dials (threads of one program, a test under TSan) maps a
 * segment once: both ends then touch the same addresses, and the mapping count stays low. */
typedef struct shm_map {
	struct shm_map *next;
	dev_t dev;
	ino_t ino;
	unsigned char *addr;
	size_t size;
	unsigned refs;
} shm_map;

static pthread_mutex_t shm_maps_lock = PTHREAD_MUTEX_INITIALIZER;
static shm_map *shm_maps;

static int
shm_map_get(int fd, size_t size, unsigned char **addr)
{
	struct stat st;
	shm_map *m;
	void *p;
	int rv = 0;

	if (fstat(fd, &st) == -1) {
		return ipcx__err(errno);
	}
	pthread_mutex_lock(&shm_maps_lock);
	for (m = shm_maps; m != NULL; m = m->next) {
		if (m->dev == st.st_dev && m->ino == st.st_ino && m->size == size) {
			m->refs++;
			*addr = m->addr;
			goto out;
		}
	}
	if ((m = malloc(sizeof *m)) == NULL) {
		rv = IPCX_ENOMEM;
		goto out;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		rv = ipcx__err(errno);
		free(m);
		goto out;
	}
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	m->addr = p;
	m->size = size;
	m->refs = 1;
	m->next = shm_maps;
	shm_maps = m;
	*addr = p;
out:
	pthread_mutex_unlock(&shm_maps_lock);
	return rv;
}

static void
shm_map_put(unsigned char *addr)
{
	shm_map **pp, *m;

	pthread_mutex_lock(&shm_maps_lock);
	for (pp = &shm_maps; (m = *pp) != NULL; pp = &m->next) {
		if (m->addr == addr) {
			if (--m->refs == 0) {
				*pp = m->next;
				munmap(m->addr, m->size);
				free(m);
			}
			break;
		}
	}
	pthread_mutex_unlock(&shm_maps_lock);
}

/* ---- URL ----------------------------------------------------------------------------- */

/* "4M", "65536", "1G" -> bytes. */
static int
shm_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9') {
		return IPCX_EBADURL;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0) {
		return IPCX_EBADURL;
	}
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	default:
		return IPCX_EBADURL;
	}
	if (*end != '\0' || v > (SHM_RING_MAX >> shift)) {
		return IPCX_EBADURL;
	}
	v <<= shift;
	if (v < SHM_RING_MIN || v > SHM_RING_MAX) {
		return IPCX_EBADURL;
	}
	/* a power of two: positions map to offsets with a mask */
	uint64_t p = SHM_RING_MIN;
	while (p < v) {
		p <<= 1;
	}
	*out = p;
	return 0;
}

static int
shm_parse_allow(const char *s, uid_t *allow, int *n)
{
	*n = 0;
	while (*s != '\0') {
		char *end;
		unsigned long v;

		if (*s < '0' || *s > '9' || *n == SHM_ALLOW_MAX) {
			return IPCX_EBADURL;
		}
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno != 0 || v > (unsigned long)UINT32_MAX - 1 ||
		    (*end != ',' && *end != '\0')) {
			return IPCX_EBADURL;
		}
		allow[(*n)++] = (uid_t)v;
		s = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static int
shm_params_get(shm_params *p, ipcx__url *u, const ipcx__opts *o)
{
	const char *name = u->path, *v;
	size_t n;
	int rv;

	memset(p, 0, sizeof *p);
	if (o->raw) {
		return IPCX_ENOTSUP; /* a ring carries records, not a byte stream */
	}
	if (u->abstract) {
		return IPCX_EBADURL;
	}
	while (*name == '/') {
		name++;
	}
	n = strlen(name);
	if (n == 0) {
		return IPCX_EBADURL;
	}
	if (n > SHM_NAME_MAX) {
		return IPCX_ENAMETOOLONG;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')) {
			return IPCX_EBADURL;
		}
	}
	memcpy(p->name, name, n + 1);
	if ((v = ipcx__url_query(u, "size")) != NULL &&
	    (rv = shm_parse_size(v, &p->ring_size)) != 0) {
		return rv;
	}
	p->wait = W_ADAPTIVE;
	if ((v = ipcx__url_query(u, "wait")) != NULL) {
		if (strcmp(v, "spin") == 0) {
			p->wait = W_SPIN;
		} else if (strcmp(v, "block") == 0) {
			p->wait = W_BLOCK;
		} else if (strcmp(v, "adaptive") != 0) {
			return IPCX_EBADURL;
		}
	}
	if ((v = ipcx__url_query(u, "allow")) != NULL &&
	    (rv = shm_parse_allow(v, p->allow, &p->nallow)) != 0) {
		return rv;
	}
	if ((v = ipcx__url_query(u, "path")) != NULL) {
		if (v[0] != '/') {
			return IPCX_EBADURL;
		}
		p->path = v;
	}
	return 0;
}

/* The unix URL of the life-line socket. */
static int
shm_sock_url(char *buf, size_t cap, const shm_params *p)
{
	int n;

	if (p->path != NULL) {
		return ipcx__url_format(buf, cap, "unix://", p->path);
	}
	n = snprintf(buf, cap, "unix:@ipcx.shm.%s", p->name);
	return n < 0 || (size_t)n >= cap ? IPCX_ENAMETOOLONG : 0;
}

static void
shm_sock_opts(ipcx_opts *so, const ipcx__opts *o)
{
	ipcx_opts_init(so);
	so->max_msg = SHM_INNER_MAX;
	so->mode = o->mode;
	so->keep = o->keep;
}

static int
shm_persistence(const ipcx__url *u)
{
	for (int i = 0; i < u->nquery; i++) {
		if (strcmp(u->query[i].key, "path") == 0) {
			return IPCX_PERSIST_FILESYSTEM; /* the socket's name; the rings are process
			                                 */
		}
	}
	return IPCX_PERSIST_PROCESS;
}

static bool
shm_uid_ok(uid_t uid, bool root_ok, const uid_t *allow, int nallow)
{
	if (uid == geteuid() || (root_ok && uid == 0)) {
		return true;
	}
	for (int i = 0; i < nallow; i++) {
		if (allow[i] == uid) {
			return true;
		}
	}
	return false;
}

/* ---- the channel --------------------------------------------------------------------- */

/* Set up both directions on the mapping; tx is ring txi, rx the other. ring_size is our
 * own checked copy, never re-read from the segment. */
static void
shm_chan_rings(shm_chan *s, uint64_t ring_size, int txi)
{
	int rxi = 1 - txi;

	s->tx.ctl = (struct shm_ctl *)(s->map + SHM_CTL_OFF(txi));
	s->tx.data = s->map + SHM_DATA_OFF(txi, ring_size);
	s->tx.size = ring_size;
	s->tx.mask = ring_size - 1;
	s->tx.head = s->tx.tail_cache = 0;
	s->tx.spin_ns = SHM_SPIN_INIT_NS;
	s->rx.ctl = (struct shm_ctl *)(s->map + SHM_CTL_OFF(rxi));
	s->rx.data = s->map + SHM_DATA_OFF(rxi, ring_size);
	s->rx.size = ring_size;
	s->rx.mask = ring_size - 1;
	s->rx.tail = s->rx.pub_tail = 0;
	s->rx.spin_ns = SHM_SPIN_INIT_NS;
	if (sysconf(_SC_NPROCESSORS_ONLN) == 1) {
		s->tx.spin_ns = s->rx.spin_ns = 0; /* the peer needs our CPU to make progress */
		s->solo = true;
	}
}

static bool
shm_peer_gone(shm_chan *s)
{
	struct pollfd p = {s->sfd, POLLIN | POLLRDHUP, 0};

	/* the peer never writes to the socket after the handshake: any event is its end */
	if (!s->peer_gone && poll(&p, 1, 0) > 0 && p.revents != 0) {
		s->peer_gone = true;
	}
	return s->peer_gone;
}

static int
shm_rx_fail(shm_chan *s, int err)
{
	s->rx.err = err;
	return err;
}

/* Publish the consumer's tail and wake a producer that asked for room. */
static void
shm_rx_publish(shm_chan *s)
{
	shm_rx *r = &s->rx;

	atomic_store_explicit(&r->ctl->tail, r->tail, memory_order_release);
	r->pub_tail = r->tail;
	shm_fence(); /* the store above before the load below: a sleeper is never missed */
	if (atomic_load_explicit(&r->ctl->tx_wait, memory_order_acquire) != 0 &&
	    r->tail >= atomic_load_explicit(&r->ctl->tx_need, memory_order_relaxed)) {
		uint32_t old = atomic_exchange(&r->ctl->tx_wait, 0);
		if (old & TX_FUTEX) {
			shm_futex_wake(&r->ctl->tx_wait);
		}
	}
}

/* Is a record committed at the consumer's tail? */
static inline bool
shm_rx_has(const shm_rx *r)
{
	return (shm_hdr_load(r->data + (r->tail & r->mask)) >> 32) != 0;
}

/* Can the receiver go on: data, or an end to report? */
static bool
shm_rx_ready(shm_chan *s)
{
	shm_rx *r = &s->rx;

	return shm_rx_has(r) ||
	       (atomic_load_explicit(&r->ctl->closed, memory_order_relaxed) & CL_PROD) != 0 ||
	       s->peer_gone;
}

static bool
shm_tx_ready(shm_chan *s, uint64_t need)
{
	shm_tx *t = &s->tx;

	return t->head + need - atomic_load_explicit(&t->ctl->tail, memory_order_relaxed) <=
	               t->size ||
	       (atomic_load_explicit(&t->ctl->closed, memory_order_relaxed) & CL_CONS) != 0 ||
	       s->peer_gone;
}

static bool
shm_ready(shm_chan *s, bool rx, uint64_t need)
{
	return rx ? shm_rx_ready(s) : shm_tx_ready(s, need);
}

/* Make the producer write our eventfd when data comes: for ipcx_chan_fd and deep sleeps. */
static void
shm_rx_arm(shm_chan *s)
{
	shm_ev_drain(s->own_ev);
	atomic_fetch_or(&s->rx.ctl->rx_wait, RX_EVENT);
	shm_fence();
}

/* The receiver has slept a slice: sleep in poll on the eventfd and the socket instead,
 * which the peer's death ends at once and which costs nothing while idle. */
static void
shm_rx_deep_sleep(shm_chan *s, int64_t deadline)
{
	struct pollfd p[2] = {{s->own_ev, POLLIN, 0}, {s->sfd, POLLIN | POLLRDHUP, 0}};
	int n;

	shm_rx_arm(s);
	if (shm_rx_ready(s)) {
		return;
	}
	do {
		n = poll(p, 2, ipcx__poll_ms(deadline));
	} while (n == -1 && errno == EINTR);
	if (n > 0 && p[1].revents != 0) {
		s->peer_gone = true;
	}
}

/*
 * Adaptive spinning: after each wait, look at how long it really took. A wait that ended
 * within the longest budget would have been caught by spinning that long, so the budget
 * grows to twice it; a longer one would not, so the budget halves. (Growing only when the
 * spin itself succeeded would trap a pair in futex ping-pong once the budget had shrunk:
 * every wait then ends in a sleep, however short it was.)
 */
static void
shm_adapt(shm_chan *s, int64_t *budget, int64_t waited)
{
	if (s->wait != W_ADAPTIVE || s->solo) {
		return;
	}
	if (waited <= SHM_SPIN_MAX_NS) {
		int64_t b = *budget > 2 * waited ? *budget : 2 * waited;

		*budget = b < SHM_SPIN_MIN_NS   ? SHM_SPIN_MIN_NS
		          : b > SHM_SPIN_MAX_NS ? SHM_SPIN_MAX_NS
		                                : b;
	} else if (*budget / 2 >= SHM_SPIN_MIN_NS) {
		*budget /= 2;
	}
}

/* The deadline passed. A peer that died shows only on the socket: look there before
 * saying "nothing yet", so that a poll loop woken by the hang-up gets its end. */
static int
shm_timed_out(shm_chan *s)
{
	return shm_peer_gone(s) ? 0 : IPCX_ETIMEDOUT;
}

/*
 * Wait until the ring has data (rx) or need bytes of room (tx), the peer ends, or the
 * deadline passes. 0 means "look again"; IPCX_ETIMEDOUT.
 */
static int
shm_wait(shm_chan *s, bool rx, uint64_t need, int64_t *dlp)
{
	int64_t deadline;
	_Atomic uint32_t *word = rx ? &s->rx.ctl->rx_wait : &s->tx.ctl->tx_wait;
	int64_t *budget = rx ? &s->rx.spin_ns : &s->tx.spin_ns;
	uint32_t bit = rx ? RX_FUTEX : TX_FUTEX;
	int64_t now, start, slice_end;

	if (rx && s->rx.tail != s->rx.pub_tail) {
		shm_rx_publish(s); /* all the room we can give before we wait */
	}
	if (shm_ready(s, rx, need)) {
		return 0;
	}
	start = now = ipcx__now_ns();
	deadline = ipcx__deadline_fix(dlp, now);
	if (now >= deadline) {
		return shm_timed_out(s);
	}
	if (s->wait != W_BLOCK && (*budget > 0 || s->wait == W_SPIN)) {
		int64_t spin_end = s->wait == W_SPIN ? deadline : now + *budget;
		int64_t next_hup = now + SHM_HUP_NS;

		if (spin_end > deadline) {
			spin_end = deadline;
		}
		for (unsigned i = 1;; i++) {
			shm_relax();
			if (shm_ready(s, rx, need)) {
				return 0; /* within the budget: it stays (no clock read here) */
			}
			if ((i & 63) == 0) {
				now = ipcx__now_ns();
				if (now >= spin_end) {
					break;
				}
				if (now >= next_hup) {
					if (shm_peer_gone(s)) {
						return 0;
					}
					next_hup = now + SHM_HUP_NS;
				}
			}
		}
		if (s->wait == W_SPIN) {
			return shm_timed_out(s);
		}
	}
	slice_end = now + SHM_SLICE_NS;
	for (;;) {
		uint32_t v;

		if (!rx) {
			/* wake me once my record fits: room given back by a consumer that then
			 * waits elsewhere must not stay hidden from a sleeping producer */
			shm_tx *t = &s->tx;

			atomic_store_explicit(&t->ctl->tx_need, t->head + need - t->size,
			                      memory_order_relaxed);
		}
		v = atomic_fetch_or(word, bit) | bit;
		shm_fence();
		if (shm_ready(s, rx, need)) {
			atomic_fetch_and(word, ~bit);
			shm_adapt(s, budget, now - start);
			return 0;
		}
		if (now >= deadline) {
			atomic_fetch_and(word, ~bit);
			return shm_timed_out(s);
		}
		if (now >= slice_end) {
			/* a slice passed without a wake-up: the peer may have died */
			atomic_fetch_and(word, ~bit);
			if (shm_peer_gone(s)) {
				return 0;
			}
			if (rx) {
				shm_rx_deep_sleep(s, deadline);
				return 0;
			}
			slice_end = now + SHM_SLICE_NS;
			continue;
		}
		shm_futex_wait(word, v, slice_end < deadline ? slice_end : deadline);
		now = ipcx__now_ns();
	}
}

/*
 * The record at the consumer's tail: 0 with its length and kind, or IPCX_ETIMEDOUT,
 * IPCX_ECLOSED (the producer closed or died and everything it committed was read),
 * IPCX_EPROTO. Skip records are consumed here.
 */
static int
shm_rx_peek(shm_chan *s, uint32_t *lenp, uint32_t *kindp, int64_t *deadline)
{
	shm_rx *r = &s->rx;
	int rv;

	for (;;) {
		uint64_t off = r->tail & r->mask, contig = r->size - off, rec;
		uint64_t h = shm_hdr_load(r->data + off); /* read once: the peer may change it */
		uint32_t len = (uint32_t)h, kind = (uint32_t)(h >> 32), pad8 = kind & K_PAD_MASK;

		if (kind == 0) {
			if ((atomic_load(&r->ctl->closed) & CL_PROD) != 0 || s->peer_gone) {
				/* what it committed before the end is still delivered */
				if (shm_rx_has(r)) {
					continue;
				}
				return IPCX_ECLOSED;
			}
			if ((rv = shm_wait(s, true, 0, deadline)) != 0) {
				return rv;
			}
			continue;
		}
		if (kind == K_SKIP) {
			if (off == 0) {
				return shm_rx_fail(s, IPCX_EPROTO); /* a skip never starts a lap */
			}
			r->tail += contig;
			continue;
		}
		kind &= ~K_PAD_MASK; /* any other bit makes it unknown below */
		r->pad = (uint64_t)(pad8 >> K_PAD_SHIFT) * 8;
		rec = shm_rec(len) + r->pad;
		if (kind == 0 || kind > K_ABORT || rec > contig) {
			return shm_rx_fail(s, IPCX_EPROTO);
		}
		*lenp = len;
		*kindp = kind;
		return 0;
	}
}

static inline unsigned char *
shm_rx_payload(shm_rx *r)
{
	return r->data + (r->tail & r->mask) + SHM_HDR + r->pad;
}

/* The size of the record at tail (after shm_rx_peek), its padding included. */
static inline uint64_t
shm_rx_rec(const shm_rx *r, uint64_t len)
{
	return shm_rec(len) + r->pad;
}

/* After a receive: hand the room back, and keep ipcx_chan_fd truthful. */
static void
shm_rx_done(shm_chan *s)
{
	shm_rx *r = &s->rx;

	/* Room goes back at once: a consumer may go on to wait somewhere else, and a producer
	 * blocked on room it already gave back would never wake. The store stays in this
	 * side's cache until the producer runs out of the room it knew of. */
	if (r->tail != r->pub_tail) {
		shm_rx_publish(s);
	}
	if (s->fd_mode && !shm_rx_has(r) &&
	    (atomic_load_explicit(&r->ctl->rx_wait, memory_order_relaxed) & RX_EVENT) == 0) {
		shm_rx_arm(s); /* the core then asks shm_pending, which closes the race */
	}
}

static int
shm_stash_grow(shm_rx *r, size_t need)
{
	unsigned char *p;

	if (r->stash_cap >= need && r->stash != NULL) {
		return 0;
	}
	if ((p = realloc(r->stash, need > 0 ? need : 1)) == NULL) {
		return IPCX_ENOMEM;
	}
	r->stash = p;
	r->stash_cap = need;
	return 0;
}

#define SHM_AGAIN 1 /* an aborted message was dropped: receive the next one */

/*
 * A message in pieces, into buf (cap bytes). Called with the FIRST record at the tail
 * (len, kind from shm_rx_peek), or with r->in_pieces set when an earlier call was cut
 * short. Returns 0 with *len, SHM_AGAIN after an ABORT, or an error; a timeout keeps the
 * bytes so far in the stash.
 */
static int
shm_rx_pieces(shm_chan *s, unsigned char *buf, size_t cap, size_t *len, uint32_t l, uint32_t k,
              int64_t *deadline)
{
	shm_rx *r = &s->rx;
	int rv;

	if (!r->in_pieces) {
		uint64_t total;

		if (k != K_FIRST || l < 8) {
			return shm_rx_fail(s, IPCX_EPROTO);
		}
		memcpy(&total, shm_rx_payload(r), 8);
		if (total > s->base.max_msg || total < (uint64_t)l - 8) {
			return shm_rx_fail(s, IPCX_EPROTO);
		}
		if (total > cap) {
			*len = (size_t)total; /* kept: nothing consumed */
			return IPCX_EMSGSIZE;
		}
		if (*deadline != IPCX__FOREVER && buf != r->stash &&
		    (rv = shm_stash_grow(r, (size_t)total)) != 0) {
			return rv; /* before anything is consumed */
		}
		ipcx__copy(buf, shm_rx_payload(r) + 8, l - 8);
		r->in_pieces = true;
		r->total = total;
		r->got = l - 8;
		r->stashed = false;
		r->tail += shm_rx_rec(r, l);
	} else {
		if (r->total > cap) {
			*len = (size_t)r->total;
			return IPCX_EMSGSIZE;
		}
		if (r->stashed && buf != r->stash) {
			ipcx__copy(buf, r->stash, (size_t)r->got);
		}
		r->stashed = false;
	}
	for (;;) {
		if ((rv = shm_rx_peek(s, &l, &k, deadline)) != 0) {
			if (rv == IPCX_ETIMEDOUT) {
				if (buf != r->stash) {
					ipcx__copy(r->stash, buf, (size_t)r->got);
				}
				r->stashed = true;
			} else {
				r->in_pieces = false; /* the peer ended mid-message: drop it */
			}
			return rv;
		}
		if (k == K_ABORT) {
			r->in_pieces = false;
			r->tail += shm_rx_rec(r, l);
			return SHM_AGAIN;
		}
		/* every piece carries data: a run of empty ones could circle the ring forever */
		if ((k != K_MORE && k != K_LAST) || l == 0 || l > r->total - r->got ||
		    (k == K_LAST && l != r->total - r->got)) {
			r->in_pieces = false;
			return shm_rx_fail(s, IPCX_EPROTO);
		}
		ipcx__copy(buf + r->got, shm_rx_payload(r), l);
		r->got += l;
		r->tail += shm_rx_rec(r, l);
		if (k == K_LAST) {
			r->in_pieces = false;
			*len = (size_t)r->total;
			return 0;
		}
	}
}

/* An aborted message was dropped: go on to the next one while time is left (a hostile
 * peer could write aborted messages without end). */
static int
shm_rx_after_abort(int64_t *deadline)
{
	int64_t now = ipcx__now_ns();

	return now >= ipcx__deadline_fix(deadline, now) ? IPCX_ETIMEDOUT : 0;
}

static int
shm_recv(ipcx_chan *c, void *buf, size_t cap, size_t *len, int64_t deadline)
{
	shm_chan *s = (shm_chan *)c;
	shm_rx *r = &s->rx;
	uint32_t l = 0, k = 0;
	int rv;

	if (r->err != 0) {
		return r->err;
	}
	for (;;) {
		if (!r->in_pieces) {
			if ((rv = shm_rx_peek(s, &l, &k, &deadline)) != 0) {
				break;
			}
			if (k == K_MSG) {
				if (l > cap) {
					*len = l;
					rv = IPCX_EMSGSIZE;
					break;
				}
				ipcx__copy(buf, shm_rx_payload(r), l);
				*len = l;
				r->tail += shm_rx_rec(r, l);
				rv = 0;
				break;
			}
		}
		rv = shm_rx_pieces(s, buf, cap, len, l, k, &deadline);
		if (rv != SHM_AGAIN) {
			break;
		}
		if ((rv = shm_rx_after_abort(&deadline)) != 0) {
			break;
		}
	}
	shm_rx_done(s);
	return rv;
}

static int
shm_recv_view(ipcx_chan *c, const void **ptr, size_t *len, int64_t deadline)
{
	shm_chan *s = (shm_chan *)c;
	shm_rx *r = &s->rx;
	uint32_t l = 0, k = 0;
	int rv;

	if (r->err != 0) {
		return r->err;
	}
	for (;;) {
		if (!r->in_pieces) {
			if ((rv = shm_rx_peek(s, &l, &k, &deadline)) != 0) {
				break;
			}
			if (k == K_MSG) {
				*ptr = shm_rx_payload(r);
				*len = l;
				r->view_end = r->tail + shm_rx_rec(r, l);
				r->view_in_ring = true;
				return 0; /* the room is given back by release */
			}
			if (k == K_FIRST && l >= 8) {
				uint64_t total;

				memcpy(&total, shm_rx_payload(r), 8);
				if (total <= s->base.max_msg &&
				    (rv = shm_stash_grow(r, (size_t)total)) != 0) {
					break;
				}
			}
		} else if ((rv = shm_stash_grow(r, (size_t)r->total)) != 0) {
			break;
		}
		/* a message in pieces is gathered in the stash */
		rv = shm_rx_pieces(s, r->stash, r->stash_cap, len, l, k, &deadline);
		if (rv == 0) {
			*ptr = r->stash;
			r->view_in_ring = false;
			break;
		}
		if (rv != SHM_AGAIN) {
			break;
		}
		if ((rv = shm_rx_after_abort(&deadline)) != 0) {
			break;
		}
	}
	shm_rx_done(s);
	return rv;
}

static int
shm_release(ipcx_chan *c)
{
	shm_chan *s = (shm_chan *)c;

	if (s->rx.view_in_ring) {
		s->rx.tail = s->rx.view_end;
		s->rx.view_in_ring = false;
	}
	shm_rx_done(s);
	return 0;
}

static bool
shm_pending(ipcx_chan *c)
{
	shm_chan *s = (shm_chan *)c;

	return shm_rx_has(&s->rx);
}

/* ---- sending ------------------------------------------------------------------------- */

static bool
shm_tx_peer_closed(shm_chan *s)
{
	return (atomic_load_explicit(&s->tx.ctl->closed, memory_order_relaxed) & CL_CONS) != 0 ||
	       s->peer_gone;
}

/* Reserve a record for len payload bytes: *p points at its payload. Nothing is visible to
 * the consumer until shm_tx_publish. */
static int
shm_tx_reserve(shm_chan *s, uint64_t len, uint64_t want, unsigned char **p, int64_t *deadline)
{
	shm_tx *t = &s->tx;
	uint64_t off = t->head & t->mask, contig = t->size - off, need;
	/* large payloads are placed in their line; loans above a quarter ring keep
	 * loan_max's promise */
	bool place = len >= SHM_ALIGN_MIN && len <= t->size / 4;
	int rv;

	if (shm_tx_peer_closed(s)) {
		return IPCX_EPIPE;
	}
	t->pad = place ? shm_pad(off, want) : 0;
	need = shm_rec(len) + t->pad;
	t->skip = 0;
	if (need > contig) { /* a record never wraps: pad to the end */
		t->skip = contig;
		t->pad = place ? shm_pad(0, want) : 0;
		need = shm_rec(len) + t->pad;
	}
	need += t->skip + SHM_HDR; /* and the next header slot, zeroed */
	while (t->head + need - t->tail_cache > t->size) {
		uint64_t tl = atomic_load_explicit(&t->ctl->tail, memory_order_acquire);

		if (t->head - tl > t->size) {
			s->serr =
			        IPCX_EPROTO; /* the consumer claims to have read unwritten bytes */
			return s->serr;
		}
		t->tail_cache = tl;
		if (t->head + need - tl <= t->size) {
			break;
		}
		if (shm_tx_peer_closed(s)) {
			return IPCX_EPIPE;
		}
		if ((rv = shm_wait(s, false, need, deadline)) != 0) {
			return rv;
		}
	}
	*p = t->data + ((t->head + t->skip) & t->mask) + SHM_HDR + t->pad;
	return 0;
}

/* Commit the reserved record and wake a consumer that announced it sleeps. */
static void
shm_tx_publish(shm_chan *s, uint32_t kind, uint64_t len)
{
	shm_tx *t = &s->tx;
	uint64_t pos = t->head + t->skip, rec = shm_rec(len) + t->pad;

	/* the slot after the record reads "nothing yet" before the record is committed */
	memset(t->data + ((pos + rec) & t->mask), 0, SHM_HDR);
	shm_hdr_store(t->data + (pos & t->mask), (uint32_t)len,
	              kind | (uint32_t)(t->pad / 8) << K_PAD_SHIFT);
	if (t->skip != 0) {
		/* committed last: the consumer reads the record at the lap's start only after */
		shm_hdr_store(t->data + (t->head & t->mask), 0, K_SKIP);
		t->skip = 0;
	}
	t->head = pos + rec;
	shm_fence(); /* the store above before the load below: a sleeper is never missed */
	if (atomic_load_explicit(&t->ctl->rx_wait, memory_order_relaxed) != 0) {
		uint32_t old = atomic_exchange(&t->ctl->rx_wait, 0);

		if (old & RX_FUTEX) {
			shm_futex_wake(&t->ctl->rx_wait);
		}
		if (old & RX_EVENT) {
			shm_ev_write(s->peer_ev);
		}
	}
}

static size_t
shm_loan_max(ipcx_chan *c)
{
	/* a record of half the ring, with its padding and the next header slot, always fits
	 * an empty ring */
	size_t m = (size_t)(((shm_chan *)c)->tx.size / 2 - 2 * SHM_HDR);

	return m < c->max_msg ? m : c->max_msg;
}

/* An ABORT record for a message cut short by an earlier timeout. */
static int
shm_tx_abort(shm_chan *s, int64_t *deadline)
{
	unsigned char *p;
	int rv;

	if ((rv = shm_tx_reserve(s, 0, 0, &p, deadline)) != 0) {
		return rv;
	}
	shm_tx_publish(s, K_ABORT, 0);
	s->tx.abort_due = false;
	return 0;
}

static int
shm_send_pieces(shm_chan *s, const unsigned char *buf, size_t len, int64_t *deadline)
{
	size_t piece = (size_t)(s->tx.size / 4), done = 0;
	uint64_t total = len;
	unsigned char *p;
	int rv;

	/* first piece: the total, then data */
	/* the data follows the 8-byte total: place it as buf is placed */
	if ((rv = shm_tx_reserve(s, piece, shm_want((uintptr_t)buf - 8), &p, deadline)) != 0) {
		return rv; /* nothing sent */
	}
	memcpy(p, &total, 8);
	memcpy(p + 8, buf, piece - 8);
	shm_tx_publish(s, K_FIRST, piece);
	done = piece - 8;
	while (done < len) {
		size_t n = len - done < piece ? len - done : piece;

		if ((rv = shm_tx_reserve(s, n, shm_want((uintptr_t)(buf + done)), &p, deadline)) !=
		    0) {
			if (rv == IPCX_ETIMEDOUT) {
				s->tx.abort_due = true; /* the receiver drops what it has */
			}
			return rv;
		}
		memcpy(p, buf + done, n);
		done += n;
		shm_tx_publish(s, done == len ? K_LAST : K_MORE, n);
	}
	return 0;
}

static int
shm_send(ipcx_chan *c, const void *buf, size_t len, int64_t deadline)
{
	shm_chan *s = (shm_chan *)c;
	unsigned char *p;
	int rv;

	if (s->serr != 0) {
		return s->serr;
	}
	if (s->tx.abort_due && (rv = shm_tx_abort(s, &deadline)) != 0) {
		return rv;
	}
	if (len > s->tx.size / 4) {
		return shm_send_pieces(s, buf, len, &deadline);
	}
	if ((rv = shm_tx_reserve(s, len, shm_want((uintptr_t)buf), &p, &deadline)) != 0) {
		return rv;
	}
	ipcx__copy(p, buf, len);
	shm_tx_publish(s, K_MSG, len);
	return 0;
}

static int
shm_loan(ipcx_chan *c, size_t size, void **ptr, int64_t deadline)
{
	shm_chan *s = (shm_chan *)c;
	unsigned char *p;
	int rv;

	if (s->serr != 0) {
		return s->serr;
	}
	if (s->tx.abort_due && (rv = shm_tx_abort(s, &deadline)) != 0) {
		return rv;
	}
	if ((rv = shm_tx_reserve(s, size, 0, &p, &deadline)) != 0) {
		return rv;
	}
	s->tx.loan = p;
	*ptr = p;
	return 0;
}

static int
shm_commit(ipcx_chan *c, void *ptr, size_t len)
{
	shm_chan *s = (shm_chan *)c;

	if (ptr != s->tx.loan) {
		return IPCX_EINVAL;
	}
	s->tx.loan = NULL;
	if (shm_tx_peer_closed(s)) {
		s->tx.skip = 0;
		return IPCX_EPIPE;
	}
	/* a shorter record fits where the longer one was reserved (same start, no new skip) */
	shm_tx_publish(s, K_MSG, len);
	return 0;
}

static int
shm_loan_cancel(ipcx_chan *c)
{
	shm_chan *s = (shm_chan *)c;

	s->tx.loan = NULL;
	s->tx.skip = 0;
	return 0;
}

/* ---- pollable fd, credentials, close ------------------------------------------------- */

static int
shm_fd(ipcx_chan *c)
{
	shm_chan *s = (shm_chan *)c;
	struct epoll_event ev = {0};

	if (s->epfd >= 0) {
		return s->epfd;
	}
	if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		return ipcx__err(errno);
	}
	ev.events = EPOLLIN;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->own_ev, &ev) == -1) {
		goto fail;
	}
	ev.events = EPOLLIN | EPOLLRDHUP;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sfd, &ev) == -1) {
		goto fail;
	}
	s->fd_mode = true;
	shm_rx_arm(s);
	return s->epfd;
fail:;
	int rv = ipcx__err(errno);
	close(s->epfd);
	s->epfd = -1;
	return rv;
}

static int
shm_peer_cred(ipcx_chan *c, pid_t *pid, uid_t *uid, gid_t *gid)
{
	return ipcx_peer_cred(((shm_chan *)c)->sock, pid, uid, gid);
}

static void
shm_close(ipcx_chan *c)
{
	shm_chan *s = (shm_chan *)c;

	if (s->map != NULL) {
		struct shm_ctl *tc = s->tx.ctl, *rc = s->rx.ctl;
		uint32_t old;

		/* the peer's receiver ends after what we published; its sender gets EPIPE */
		atomic_fetch_or(&tc->closed, CL_PROD);
		old = atomic_exchange(&tc->rx_wait, 0);
		if (old & RX_FUTEX) {
			shm_futex_wake(&tc->rx_wait);
		}
		if (old & RX_EVENT) {
			shm_ev_write(s->peer_ev);
		}
		atomic_fetch_or(&rc->closed, CL_CONS);
		if (atomic_exchange(&rc->tx_wait, 0) & TX_FUTEX) {
			shm_futex_wake(&rc->tx_wait);
		}
		if (!s->map_foreign) {
			shm_map_put(s->map);
		}
	}
	ipcx_close(s->sock);
	ipcx__close_fd(s->own_ev);
	ipcx__close_fd(s->peer_ev);
	ipcx__close_fd(s->epfd);
	free(s->rx.stash);
	free(s);
}

/* ---- setup --------------------------------------------------------------------------- */

/* An fd from the peer that we will write to must be an eventfd (a pipe could block us). */
static int
shm_check_eventfd(int fd)
{
	char p[64], link[64];
	ssize_t n;
	int fl;

	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	n = readlink(p, link, sizeof link - 1);
	if (n < 0) {
		return ipcx__err(errno);
	}
	link[n] = '\0';
	if (strcmp(link, "anon_inode:[eventfd]") != 0) {
		return IPCX_EPROTO;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1) {
		return ipcx__err(errno);
	}
	if ((fl & O_NONBLOCK) == 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		return ipcx__err(errno);
	}
	return 0;
}

static int
shm_chan_new(shm_chan **sp, ipcx_chan *sock, size_t max_msg, int wait)
{
	shm_chan *s = calloc(1, sizeof *s);
	int fd;

	if (s == NULL) {
		return IPCX_ENOMEM;
	}
	ipcx__chan_init(&s->base, &ipcx__shm, max_msg);
	s->sock = sock;
	s->own_ev = s->peer_ev = s->epfd = -1;
	s->wait = wait;
	s->sfd = -1;
	if (sock != NULL && (fd = sock->tp->fd(sock)) < 0) {
		free(s);
		return fd;
	}
	if (sock != NULL) {
		s->sfd = fd;
	}
	if ((s->own_ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		int rv = ipcx__err(errno);
		free(s);
		return rv;
	}
	*sp = s;
	return 0;
}

static uint64_t
shm_seg_size(uint64_t ring_size)
{
	return SHM_PAGE + 2 * ring_size;
}

/* Accepting side: make the sealed segment and lay it out. Returns the memfd. */
static int
shm_seg_create(shm_chan *s, uint64_t ring_size)
{
	uint64_t seg = shm_seg_size(ring_size);
	struct shm_seg *h;
	int fd, rv;

	if ((fd = memfd_create("ipcx-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1) {
		return ipcx__err(errno);
	}
	if (ftruncate(fd, (off_t)seg) == -1 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == -1) {
		rv = ipcx__err(errno);
		goto fail;
	}
	if ((rv = shm_map_get(fd, (size_t)seg, &s->map)) != 0) {
		goto fail;
	}
	h = (struct shm_seg *)s->map;
	memcpy(h->magic, SHM_MAGIC, 8);
	h->version = SHM_VERSION;
	h->ring_size = ring_size;
	h->seg_size = seg;
	for (int i = 0; i < 2; i++) {
		h->ctl_off[i] = SHM_CTL_OFF(i);
		h->data_off[i] = SHM_DATA_OFF(i, ring_size);
	}
	shm_chan_rings(s, ring_size, 0);
	return fd;
fail:
	close(fd);
	return rv;
}

/* Dialing side: check the accepter's segment before touching it. */
static int
shm_seg_attach(shm_chan *s, int fd, const struct shm_reply *rp)
{
	uint64_t rs = rp->ring_size, seg = shm_seg_size(rs);
	struct shm_seg *h;
	struct stat st;
	int seals;

	if (rs < SHM_RING_MIN || rs > SHM_RING_MAX || (rs & (rs - 1)) != 0 || rp->seg_size != seg) {
		return IPCX_EPROTO;
	}
	/* sealed against shrinking, so no access can ever fault with SIGBUS */
	if ((seals = fcntl(fd, F_GET_SEALS)) == -1 ||
	    (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
		return IPCX_EPROTO;
	}
	if (fstat(fd, &st) == -1) {
		return ipcx__err(errno);
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != seg) {
		return IPCX_EPROTO;
	}
	if (shm_map_get(fd, (size_t)seg, &s->map) != 0) {
		return IPCX_EPROTO;
	}
	h = (struct shm_seg *)s->map;
	if (memcmp(h->magic, SHM_MAGIC, 8) != 0 || h->version != SHM_VERSION ||
	    h->ring_size != rs) {
		shm_map_put(s->map);
		s->map = NULL;
		return IPCX_EPROTO;
	}
	shm_chan_rings(s, rs, 1);
	return 0;
}

static void
shm_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ipcx__close_fd(fds[i]);
	}
}

/* The accepting side of the handshake on a fresh socket channel. */
static int
shm_serve(shm_listener *l, ipcx_chan *sock, ipcx_chan **cp, int64_t deadline)
{
	struct shm_hello hi;
	struct shm_reply rp;
	shm_chan *s = NULL;
	uid_t uid;
	size_t n, nfds = 1;
	int fds[2], memfd, rv, ms;
	uint64_t rs;

	memset(&rp, 0, sizeof rp);
	memcpy(rp.magic, SHM_MAGIC, 8);
	rp.version = SHM_VERSION;
	if ((rv = ipcx_peer_cred(sock, NULL, &uid, NULL)) != 0) {
		goto fail_sock;
	}
	/* the hello is read even from a client about to be refused: a socket closed with
	 * unread data resets the connection, and the refusal would be lost with it */
	ms = ipcx__poll_ms(deadline);
	if ((rv = ipcx_recv_fds(sock, &hi, sizeof hi, &n, fds, &nfds, ms)) != 0) {
		goto fail_sock;
	}
	if (!shm_uid_ok(uid, false, l->allow, l->nallow)) {
		shm_close_fds(fds, nfds);
		rp.status = IPCX_EACCES; /* told, so the client can say why */
		ipcx_send(sock, &rp, sizeof rp, 0);
		rv = IPCX_EACCES;
		goto fail_sock;
	}
	if (n != sizeof hi || nfds != 1 || memcmp(hi.magic, SHM_MAGIC, 8) != 0 ||
	    hi.version != SHM_VERSION) {
		shm_close_fds(fds, nfds);
		rv = IPCX_EPROTO;
		goto fail_sock;
	}
	rs = hi.ring_size != 0 ? hi.ring_size : l->ring_size;
	if (rs < SHM_RING_MIN || rs > SHM_RING_MAX || (rs & (rs - 1)) != 0 ||
	    (rv = shm_check_eventfd(fds[0])) != 0) {
		close(fds[0]);
		rv = IPCX_EPROTO;
		goto fail_sock;
	}
	if ((rv = shm_chan_new(&s, sock, l->max_msg, l->wait)) != 0) {
		close(fds[0]);
		goto fail_sock;
	}
	s->peer_ev = fds[0];
	if ((memfd = shm_seg_create(s, rs)) < 0) {
		rv = memfd;
		goto fail_chan;
	}
	rp.ring_size = rs;
	rp.seg_size = shm_seg_size(rs);
	fds[0] = memfd;
	fds[1] = s->own_ev;
	rv = ipcx_send_fds(sock, &rp, sizeof rp, fds, 2, ipcx__poll_ms(deadline));
	close(memfd); /* the mapping keeps the memory */
	if (rv != 0) {
		goto fail_chan;
	}
	*cp = &s->base;
	return 0;
fail_chan:
	shm_close(&s->base); /* closes sock too */
	return rv;
fail_sock:
	ipcx_close(sock);
	return rv;
}

static int
shm_listen(ipcx_listener **lp, ipcx__url *u, const ipcx__opts *o)
{
	char surl[IPCX__URL_MAX + 32];
	shm_params p;
	shm_listener *l;
	ipcx_opts so;
	int rv;

	if ((rv = shm_params_get(&p, u, o)) != 0) {
		return rv;
	}
	if ((rv = shm_sock_url(surl, sizeof surl, &p)) != 0) {
		return rv;
	}
	if ((l = calloc(1, sizeof *l)) == NULL) {
		return IPCX_ENOMEM;
	}
	l->base.tp = &ipcx__shm;
	l->base.opts = *o;
	l->ring_size = p.ring_size != 0 ? p.ring_size : SHM_RING_DEFAULT;
	l->wait = p.wait;
	memcpy(l->allow, p.allow, sizeof p.allow);
	l->nallow = p.nallow;
	l->max_msg = o->max_msg;
	if (p.path != NULL) {
		char pu[IPCX__URL_MAX + 16];

		if ((rv = ipcx__url_format(pu, sizeof pu, "", p.path)) != 0 ||
		    (size_t)snprintf(l->url, sizeof l->url, "shm://%s?path=%s", p.name, pu) >=
		            sizeof l->url) {
			rv = rv != 0 ? rv : IPCX_ENAMETOOLONG;
			goto fail;
		}
	} else {
		snprintf(l->url, sizeof l->url, "shm://%s", p.name);
	}
	shm_sock_opts(&so, o);
	if ((rv = ipcx_listen(&l->sock, surl, &so)) != 0) {
		goto fail;
	}
	*lp = &l->base;
	return 0;
fail:
	free(l);
	return rv;
}

static int
shm_accept(ipcx_listener *lb, ipcx_chan **cp, int64_t deadline)
{
	shm_listener *l = (shm_listener *)lb;

	for (;;) {
		ipcx_chan *sock;
		int64_t hs;
		int rv;

		if ((rv = ipcx_accept(l->sock, &sock, ipcx__poll_ms(deadline))) != 0) {
			return rv;
		}
		/* one slow client must not hold the others up for long, but a client that has
		 * connected gets its handshake even from an accept that only polls */
		hs = ipcx__deadline(SHM_HANDSHAKE_MS);
		if ((rv = shm_serve(l, sock, cp, hs)) == 0) {
			return 0;
		}
		if (rv == IPCX_ENOMEM || rv == IPCX_EMFILE || rv == IPCX_ENFILE) {
			return rv; /* ours, not the client's */
		}
	}
}

static void
shm_listener_close(ipcx_listener *lb)
{
	shm_listener *l = (shm_listener *)lb;

	ipcx_listener_close(l->sock);
	free(l);
}

static int
shm_listener_fd(ipcx_listener *lb)
{
	return ipcx_listener_fd(((shm_listener *)lb)->sock);
}

static int
shm_listener_url(ipcx_listener *lb, char *buf, size_t cap)
{
	shm_listener *l = (shm_listener *)lb;
	size_t n = strlen(l->url);

	if (n >= cap) {
		return IPCX_ENAMETOOLONG;
	}
	memcpy(buf, l->url, n + 1);
	return 0;
}

static int
shm_dial(ipcx_chan **cp, ipcx__url *u, const ipcx__opts *o, int64_t deadline)
{
	char surl[IPCX__URL_MAX + 32];
	struct shm_hello hi;
	struct shm_reply rp;
	shm_params p;
	ipcx_chan *sock;
	shm_chan *s;
	ipcx_opts so;
	uid_t uid;
	size_t n, nfds = 2;
	int fds[2], rv;

	if ((rv = shm_params_get(&p, u, o)) != 0) {
		return rv;
	}
	if ((rv = shm_sock_url(surl, sizeof surl, &p)) != 0) {
		return rv;
	}
	shm_sock_opts(&so, o);
	if ((rv = ipcx_dial(&sock, surl, &so, ipcx__poll_ms(deadline))) != 0) {
		return rv;
	}
	/* anyone may bind an abstract name: the server must be us, root or allowed */
	if ((rv = ipcx_peer_cred(sock, NULL, &uid, NULL)) != 0) {
		ipcx_close(sock);
		return rv;
	}
	if (!shm_uid_ok(uid, true, p.allow, p.nallow)) {
		ipcx_close(sock);
		return IPCX_EACCES;
	}
	if ((rv = shm_chan_new(&s, sock, o->max_msg, p.wait)) != 0) {
		ipcx_close(sock);
		return rv;
	}
	memset(&hi, 0, sizeof hi);
	memcpy(hi.magic, SHM_MAGIC, 8);
	hi.version = SHM_VERSION;
	hi.ring_size = p.ring_size;
	if ((rv = ipcx_send_fds(sock, &hi, sizeof hi, &s->own_ev, 1, ipcx__poll_ms(deadline))) !=
	    0) {
		goto fail;
	}
	rv = ipcx_recv_fds(sock, &rp, sizeof rp, &n, fds, &nfds, ipcx__poll_ms(deadline));
	if (rv == IPCX_EMSGSIZE) {
		rv = IPCX_EPROTO;
	}
	if (rv != 0) {
		goto fail;
	}
	if (n != sizeof rp || memcmp(rp.magic, SHM_MAGIC, 8) != 0 || rp.version != SHM_VERSION) {
		shm_close_fds(fds, nfds);
		rv = IPCX_EPROTO;
		goto fail;
	}
	if (rp.status != 0) {
		shm_close_fds(fds, nfds);
		rv = rp.status == IPCX_EACCES ? IPCX_EACCES : IPCX_EPROTO;
		goto fail;
	}
	if (nfds != 2 || (rv = shm_check_eventfd(fds[1])) != 0) {
		shm_close_fds(fds, nfds);
		rv = IPCX_EPROTO;
		goto fail;
	}
	s->peer_ev = fds[1];
	rv = shm_seg_attach(s, fds[0], &rp);
	close(fds[0]);
	if (rv != 0) {
		goto fail;
	}
	*cp = &s->base;
	return 0;
fail:
	shm_close(&s->base);
	return rv;
}

int
ipcx__shm_chan_from_mem(ipcx_chan **cp, void *seg, uint64_t ring_size, int txi, size_t max_msg)
{
	shm_chan *s;
	int rv;

	if (ring_size < SHM_RING_MIN || (ring_size & (ring_size - 1)) != 0 ||
	    (txi != 0 && txi != 1)) {
		return IPCX_EINVAL;
	}
	if ((rv = shm_chan_new(&s, NULL, max_msg, W_BLOCK)) != 0) {
		return rv;
	}
	s->map = seg;
	s->map_foreign = true;
	shm_chan_rings(s, ring_size, txi);
	*cp = &s->base;
	return 0;
}

const struct ipcx__transport ipcx__shm = {
        .version = IPCX__TRANSPORT_VERSION,
        .scheme = "shm",
        .lazy_deadline = true,
        .persistence = shm_persistence,
        .query_keys = shm_keys,
        .listen = shm_listen,
        .accept = shm_accept,
        .listener_close = shm_listener_close,
        .listener_fd = shm_listener_fd,
        .listener_url = shm_listener_url,
        .dial = shm_dial,
        .send = shm_send,
        .recv = shm_recv,
        .fd = shm_fd,
        .pending = shm_pending,
        .close = shm_close,
        .peer_cred = shm_peer_cred,
        .loan = shm_loan,
        .commit = shm_commit,
        .loan_cancel = shm_loan_cancel,
        .loan_max = shm_loan_max,
        .recv_view = shm_recv_view,
        .release = shm_release,
};
