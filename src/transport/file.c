/*
 * file.c - the file:// scheme, the lecture's "shared files" as a durable record log: records
 * appended under an OFD lock, each checked by CRC-32C so that no reader ever delivers a torn
 * or corrupt one; readers keep their own offsets and wait with inotify. A listener owns a
 * rendezvous log; each client gets a private pair of logs (one per direction) through it.
 *
 * The byte layout and the rules every reader and writer follows are in docs/PROTOCOLS.md
 * ("file://"). In short:
 *   - a log is a 64-byte header then records; a record is a 32-byte header (magic, length,
 *     its own offset, type, payload CRC, header CRC), the payload padded to 8 bytes and an
 *     8-byte footer (total length, header CRC) that lets a writer find the last whole record
 *     from the end of the file;
 *   - writers append under an exclusive lock on byte LOCK_APPEND; the lock holder first cuts
 *     off a torn record left by a writer that died holding the lock, so a torn record can
 *     only ever be the last thing in the file;
 *   - readers take no lock to read: an incomplete record at the end is "not yet" (it is
 *     being written, or torn and about to be cut off and rewritten). Only bytes that can
 *     never become a record (a bad header, a bad checksum) make a reader look again under a
 *     shared lock, where no writer moves anything, and skip to the next whole record;
 *   - a pair's log has one writer, which takes no lock: its appends are sequential, so a
 *     whole record after the reader's offset proves the one at the offset finished.
 */
#include "../core/ipcx_int.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

/* ---- the format ---------------------------------------------------------------------- */

#define FLOG_MAGIC      "IPCXLOG" /* 8 bytes with its NUL */
#define FLOG_VERSION    1
#define FLOG_HDR        64
#define FLOG_F_LISTENER 0x1u /* a listener's rendezvous log: hellos only; owned by its creator */
#define FLOG_F_CONV     0x2u /* one direction of a client's private pair: one writer, one reader */

#define REC_MAGIC   0x72435049u /* the bytes "IPCr" */
#define REC_HDR     32
#define REC_FTR     8
#define REC_LEN_MAX 0xffffff00u /* a record's total length still fits the footer's 32 bits */

enum { REC_DATA = 0, REC_HELLO = 1, REC_ACK = 2, REC_FIN = 3 };

/* Lock bytes far past any data: appends (exclusive; readers take it shared to see a still
 * file), and presence (held shared by a listener on its log and by each end of a pair on
 * the log it writes: no lock there means nobody is there). */
#define LOCK_APPEND   ((off_t)1 << 62)
#define LOCK_PRESENCE (LOCK_APPEND + 1)

#define RBUF_SIZE    (64 * 1024)
#define TAIL_BUF     4096
#define PUNCH_STEP   ((uint64_t)1 << 20)
#define PAGE_MASK    ((uint64_t)4095)
#define TOKEN_MAX    48
#define SUFFIX_MAX   (1 + TOKEN_MAX + 3) /* ".<token>.up" */
#define SEND_PROBE   16                  /* a pair's send looks for its peer every N sends */
#define LOCK_SPINS   64
#define BATCH_MS_DEF 100
#define RX_SPIN_NS   50000 /* a receive looks again this long before it sleeps */

enum { SYNC_NONE, SYNC_BATCH, SYNC_ALWAYS };

/* rx_step results besides 0 and errors */
#define RX_WAIT 1 /* nothing whole at the offset yet */
#define RX_ODD  2 /* bytes that are no record: decide under the lock */
#define RX_SKIP 3 /* skipped bytes that can never be a record: look again */
/* a valid header whose record is not all there: being written, torn, or (rarely) no
 * record at all; looked at under the lock before a wait */
#define RX_PART 4

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (unsigned char)(v >> (8 * i));
	}
}

static void
put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (unsigned char)(v >> (8 * i));
	}
}

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint64_t
rec_total(uint64_t len)
{
	return REC_HDR + ((len + 7) & ~(uint64_t)7) + REC_FTR;
}

typedef struct rec_info {
	uint32_t len;
	unsigned type;
	uint32_t pcrc; /* payload CRC */
	uint32_t hcrc; /* header CRC */
} rec_info;

/* A record header is valid when its magic and CRC hold and it names its own offset (so
 * that a copy of a record elsewhere, or a stale one, is no record). */
static bool
rec_hdr_parse(const unsigned char *h, uint64_t at, rec_info *ri)
{
	if (get32(h) != REC_MAGIC || get64(h + 8) != at ||
	    get32(h + 28) != ipcx__crc32c(0, h, 28)) {
		return false;
	}
	ri->len = get32(h + 4);
	ri->type = h[16];
	ri->pcrc = get32(h + 20);
	ri->hcrc = get32(h + 28);
	return ri->len <= REC_LEN_MAX;
}

/* The footer of a record whose header is ri (ftr: its 8 bytes) matches. */
static bool
rec_ftr_ok(const unsigned char *ftr, const rec_info *ri)
{
	return get32(ftr) == rec_total(ri->len) && get32(ftr + 4) == ri->hcrc;
}

static void
rec_build(unsigned char *h, unsigned char *ftr, uint64_t at, unsigned type, size_t len,
          uint32_t pcrc)
{
	memset(h, 0, REC_HDR);
	put32(h, REC_MAGIC);
	put32(h + 4, (uint32_t)len);
	put64(h + 8, at);
	h[16] = (unsigned char)type;
	put32(h + 20, pcrc);
	put32(h + 24, (uint32_t)getpid()); /* the writer, for whoever reads a dump */
	put32(h + 28, ipcx__crc32c(0, h, 28));
	put32(ftr, (uint32_t)rec_total(len));
	put32(ftr + 4, get32(h + 28));
}

/* ---- the file header ----------------------------------------------------------------- */

/* /proc/sys/kernel/random/boot_id as 16 bytes (zeros if unknown): a pid and start time from
 * before a reboot name nobody, however alike they look. */
static void
flog_boot_id(unsigned char id[16])
{
	char s[64];
	ssize_t n;
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);

	memset(id, 0, 16);
	if (fd < 0) {
		return;
	}
	n = read(fd, s, sizeof s - 1);
	close(fd);
	if (n <= 0) {
		return;
	}
	s[n] = '\0';
	for (size_t i = 0, k = 0; s[i] != '\0' && k < 32; i++) {
		int v = s[i] >= '0' && s[i] <= '9'   ? s[i] - '0'
		        : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
		                                     : -1;
		if (v >= 0) {
			id[k / 2] |= (unsigned char)(k % 2 == 0 ? v << 4 : v);
			k++;
		}
	}
}

static void
flog_hdr_build(unsigned char *h, unsigned flags)
{
	unsigned long long st = 0;
	struct timespec ts;

	memset(h, 0, FLOG_HDR);
	memcpy(h, FLOG_MAGIC, 8);
	put16(h + 8, FLOG_VERSION);
	put16(h + 10, FLOG_HDR);
	put32(h + 12, flags);
	put32(h + 16, (uint32_t)getpid());
	if (ipcx__self_starttime(&st) != 0) {
		st = 0;
	}
	put64(h + 24, st);
	clock_gettime(CLOCK_REALTIME, &ts);
	put64(h + 32, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
	flog_boot_id(h + 40);
	put32(h + 60, ipcx__crc32c(0, h, 60));
}

static int
flog_hdr_check(const unsigned char *h, unsigned *flags)
{
	if (memcmp(h, FLOG_MAGIC, 8) != 0 || get16(h + 8) != FLOG_VERSION ||
	    get16(h + 10) != FLOG_HDR || get32(h + 60) != ipcx__crc32c(0, h, 60)) {
		return IPCX_EPROTO;
	}
	*flags = get32(h + 12);
	return 0;
}

static int
pread_all(int fd, void *buf, size_t n, uint64_t at, size_t *got)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(at + done));
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			return ipcx__err(errno);
		}
		if (r == 0) {
			break;
		}
		done += (size_t)r;
	}
	*got = done;
	return 0;
}

/* Read and check the header of an open log. */
static int
flog_read_hdr(int fd, unsigned *flags)
{
	unsigned char h[FLOG_HDR];
	struct stat st;
	size_t got;
	int rv;

	if (fstat(fd, &st) == -1) {
		return ipcx__err(errno);
	}
	if (!S_ISREG(st.st_mode)) {
		return IPCX_ENOTSUP;
	}
	if ((rv = pread_all(fd, h, sizeof h, 0, &got)) != 0) {
		return rv;
	}
	if (got < sizeof h || flog_hdr_check(h, flags) != 0) {
		ipcx__errdetail_set("not an ipcx record log (no valid file:// header)");
		return IPCX_EPROTO;
	}
	return 0;
}

/* ---- locks --------------------------------------------------------------------------- */

/* Take a one-byte OFD lock by the deadline. A writer holds the append lock for one write,
 * a few microseconds: spin (yielding) a little before the timed wait, whose polling would
 * oversleep most releases. */
static int
flog_lock(int fd, int type, off_t at, int64_t deadline)
{
	int rv;

	for (int i = 0; i < LOCK_SPINS; i++) {
		if ((rv = ipcx_lock(fd, type, at, 1, 0)) != IPCX_ETIMEDOUT) {
			return rv;
		}
		if (deadline != IPCX__FOREVER && ipcx__now_ns() >= deadline) {
			return IPCX_ETIMEDOUT;
		}
		sched_yield();
	}
	return ipcx_lock(fd, type, at, 1, ipcx__poll_ms(deadline));
}

/* 1 if another open file holds a lock on byte at, 0 if none does, or an error. */
static int
flog_held(int fd, off_t at)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = at, .l_len = 1};

	if (fcntl(fd, F_OFD_GETLK, &fl) == -1) {
		return ipcx__err(errno);
	}
	return fl.l_type != F_UNLCK;
}

/* ---- creating and opening logs ------------------------------------------------------- */

static atomic_uint file_counter;

/*
 * Create a log holding only its header at path, atomically: the header goes into an unnamed
 * file (O_TMPFILE; a named temporary where the file system lacks it) that is then linked
 * to path, so that nobody ever opens a half-made log and a crash leaves nothing. The mode
 * is set exactly (fchmod, not the umask). With presence, the presence lock is taken before
 * the link. Returns the fd (O_RDWR), IPCX_EEXIST, or an error.
 */
static int
flog_create(const char *path, unsigned mode, unsigned flags, bool presence)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 48], proc[48];
	unsigned char h[FLOG_HDR];
	const char *slash = strrchr(path, '/');
	bool named = false;
	ssize_t w;
	int fd, rv = 0;

	if (slash == NULL) {
		strcpy(dir, ".");
	} else if (slash == path) {
		strcpy(dir, "/");
	} else if ((size_t)(slash - path) >= sizeof dir) {
		return IPCX_ENAMETOOLONG;
	} else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd == -1) {
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
			return ipcx__err(errno);
		}
		if ((size_t)snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", path, (long)getpid(),
		                     atomic_fetch_add(&file_counter, 1)) >= sizeof tmp) {
			return IPCX_ENAMETOOLONG;
		}
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd == -1) {
			return ipcx__err(errno);
		}
		named = true;
	}
	flog_hdr_build(h, flags);
	do {
		w = pwrite(fd, h, sizeof h, 0);
	} while (w == -1 && errno == EINTR);
	if (w != (ssize_t)sizeof h) {
		rv = w == -1 ? ipcx__err(errno) : IPCX_EIO;
		goto fail;
	}
	if (fchmod(fd, mode) == -1) {
		rv = ipcx__err(errno);
		goto fail;
	}
	if (presence && (rv = ipcx_lock(fd, IPCX_LOCK_SH, LOCK_PRESENCE, 1, 0)) != 0) {
		goto fail;
	}
	if (named) {
		rv = link(tmp, path) == 0 ? 0 : ipcx__err(errno);
		unlink(tmp);
	} else {
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		rv = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0
		             ? 0
		             : ipcx__err(errno);
	}
	if (rv != 0) {
		goto fail_close;
	}
	return fd;
fail:
	if (named) {
		unlink(tmp);
	}
fail_close:
	close(fd);
	return rv;
}

/* Open an existing log read-write (read-only where the mode allows no more: *ro). */
static int
flog_open(const char *path, bool *ro)
{
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	*ro = false;
	if (fd == -1 && errno == EACCES) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		*ro = true;
	}
	return fd == -1 ? ipcx__err(errno) : fd;
}

/* A second open file description of fd's file: a reader's shared lock taken on the first
 * would otherwise turn a writer's exclusive lock on the same description into a shared
 * one (locks of one description replace each other). */
static int
flog_reopen(int fd, bool ro)
{
	char proc[48];
	int nfd;

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	nfd = open(proc, (ro ? O_RDONLY : O_RDWR) | O_NONBLOCK | O_CLOEXEC);
	return nfd == -1 ? ipcx__err(errno) : nfd;
}

/* ---- writing ------------------------------------------------------------------------- */

typedef struct flog_tx {
	int fd;
	bool shared;  /* other writers may append: take the lock and check the tail */
	uint64_t end; /* end of the file after our last append; 0: not known */
	int sync;     /* SYNC_* */
	int64_t sync_ns, last_sync;
	bool dirty; /* batch: appended since the last fdatasync */
	unsigned sends;
} flog_tx;

/* Could a record end at e (8 bytes of its footer at ftr)? If so, read its header (from
 * hbuf if the caller has it there) and say whether the two agree. */
static int
flog_end_ok(int fd, uint64_t e, const unsigned char *ftr, const unsigned char *hbuf, uint64_t hbase,
            size_t hlen, bool *ok)
{
	uint32_t t = get32(ftr);
	unsigned char h[REC_HDR];
	const unsigned char *hp;
	rec_info ri;
	size_t got;
	int rv;

	*ok = false;
	if (t < REC_HDR + REC_FTR || t % 8 != 0 || t > e - FLOG_HDR) {
		return 0;
	}
	if (e - t >= hbase && e - t + REC_HDR <= hbase + hlen) {
		hp = hbuf + (e - t - hbase);
	} else {
		if ((rv = pread_all(fd, h, sizeof h, e - t, &got)) != 0) {
			return rv;
		}
		if (got < sizeof h) {
			return 0;
		}
		hp = h;
	}
	*ok = rec_hdr_parse(hp, e - t, &ri) && rec_ftr_ok(ftr, &ri);
	return 0;
}

/*
 * The end of the last whole record in the first size bytes (FLOG_HDR if there is none).
 * Whatever follows it is an append whose writer died holding the lock. Record ends are
 * multiples of 8, so only those are tried, from the end backwards; normally the first try
 * succeeds, and a torn append is at most one record long.
 */
static int
flog_valid_end(int fd, uint64_t size, uint64_t *end)
{
	unsigned char b[TAIL_BUF];
	uint64_t hi = size & ~(uint64_t)7;
	int rv;

	while (hi > FLOG_HDR) {
		uint64_t lo = hi - FLOG_HDR > sizeof b ? hi - sizeof b : FLOG_HDR;
		size_t got;
		if ((rv = pread_all(fd, b, (size_t)(hi - lo), lo, &got)) != 0) {
			return rv;
		}
		if (got < hi - lo) {
			hi = lo + (got & ~(size_t)7); /* the file shrank meanwhile: look lower */
			if (got < 8) {
				break;
			}
			continue;
		}
		for (uint64_t e = hi; e >= lo + REC_FTR; e -= 8) {
			bool ok;
			if ((rv = flog_end_ok(fd, e, b + (e - REC_FTR - lo), b, lo,
			                      (size_t)(hi - lo), &ok)) != 0) {
				return rv;
			}
			if (ok) {
				*end = e;
				return 0;
			}
		}
		hi = lo;
	}
	*end = FLOG_HDR;
	return 0;
}

/* Where the next record goes, holding the append lock: the end of the file, after cutting
 * off a torn append. */
static int
flog_tail(flog_tx *t, uint64_t *at)
{
	struct stat st;
	uint64_t size, end;
	int rv;

	if (!t->shared && t->end != 0) {
		*at = t->end; /* the only writer: the end is where we left it */
		return 0;
	}
	if (fstat(t->fd, &st) == -1) {
		return ipcx__err(errno);
	}
	size = (uint64_t)st.st_size;
	if (size < FLOG_HDR) {
		ipcx__errdetail_set("the log is shorter than its header: truncated by hand?");
		return IPCX_EPROTO;
	}
	/* nobody appended since our own (whole) record: nothing to check */
	if (size == t->end || size == FLOG_HDR) {
		*at = size;
		return 0;
	}
	if ((rv = flog_valid_end(t->fd, size, &end)) != 0) {
		return rv;
	}
	if (end != size && ftruncate(t->fd, (off_t)end) == -1) {
		return ipcx__err(errno);
	}
	*at = end;
	return 0;
}

static int
pwritev_all(int fd, struct iovec *iov, int n, uint64_t at)
{
	while (n > 0) {
		ssize_t w = pwritev(fd, iov, n, (off_t)at);
		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			return ipcx__err(errno);
		}
		if (w == 0) {
			return IPCX_EIO;
		}
		at += (uint64_t)w;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int
flog_sync(flog_tx *t)
{
	int64_t now;

	switch (t->sync) {
	case SYNC_ALWAYS:
		return fdatasync(t->fd) == 0 ? 0 : ipcx__err(errno);
	case SYNC_BATCH:
		now = ipcx__now_ns();
		if (now - t->last_sync < t->sync_ns) {
			t->dirty = true;
			return 0;
		}
		t->last_sync = now;
		t->dirty = false;
		return fdatasync(t->fd) == 0 ? 0 : ipcx__err(errno);
	default:
		return 0;
	}
}

/* Append one record: header, payload, padding and footer in one pwritev at the end found
 * under the lock. A failed or short write is cut off again before the lock goes, so a live
 * writer never leaves a torn record. */
static int
flog_append(flog_tx *t, unsigned type, const void *buf, size_t len, int64_t deadline)
{
	static const unsigned char zeros[8];
	unsigned char h[REC_HDR], ftr[REC_FTR];
	uint32_t pcrc = ipcx__crc32c(0, buf, len); /* before the lock: keep its hold short */
	struct iovec iov[4];
	uint64_t at;
	size_t pad = ((len + 7) & ~(size_t)7) - len;
	int n = 0, rv;

	if (t->shared && (rv = flog_lock(t->fd, IPCX_LOCK_EX, LOCK_APPEND, deadline)) != 0) {
		return rv;
	}
	if ((rv = flog_tail(t, &at)) != 0) {
		goto out;
	}
	rec_build(h, ftr, at, type, len, pcrc);
	iov[n++] = (struct iovec){h, REC_HDR};
	if (len > 0) {
		iov[n++] = (struct iovec){(void *)buf, len};
	}
	if (pad > 0) {
		iov[n++] = (struct iovec){(void *)zeros, pad};
	}
	iov[n++] = (struct iovec){ftr, REC_FTR};
	if ((rv = pwritev_all(t->fd, iov, n, at)) != 0) {
		if (ftruncate(t->fd, (off_t)at) == -1) {
			t->end = 0; /* whoever comes next repairs it */
		}
		goto out;
	}
	t->end = at + rec_total(len);
out:
	if (t->shared) {
		ipcx_unlock(t->fd, LOCK_APPEND, 1);
	}
	return rv != 0 ? rv : flog_sync(t);
}

/* ---- reading ------------------------------------------------------------------------- */

typedef struct flog_rx {
	int fd;
	int ino;         /* inotify instance watching the file; -1 until a wait needs it */
	bool ino_failed; /* none to be had: waits poll with a backoff */
	uint32_t mask;
	unsigned want;  /* the record type delivered (REC_DATA, or REC_HELLO for listeners) */
	size_t max_msg; /* longer records are skipped */
	uint64_t pos;   /* the next record */
	uint64_t last;  /* start of the last record taken */
	unsigned char *buf;
	uint64_t base; /* buf holds the file's bytes [base, base + len) */
	size_t len;
	bool eof;   /* the read that filled buf reached the end of the file */
	bool fresh; /* buf was filled during this attempt */
	bool more;  /* bytes past pos may be waiting: keep ipcx_chan_fd readable */
	bool punch; /* the only reader: give consumed space back */
	bool pair;  /* a pair's log: its one writer takes no lock */
	uint64_t punched;
} flog_rx;

static void
rx_init(flog_rx *x, int fd, unsigned want, size_t max_msg, uint32_t mask, bool punch)
{
	memset(x, 0, sizeof *x);
	x->fd = fd;
	x->ino = -1;
	x->want = want;
	x->max_msg = max_msg;
	x->mask = mask;
	x->pos = x->last = FLOG_HDR;
	x->punch = punch;
	x->punched = PAGE_MASK + 1;
}

static void
rx_fini(flog_rx *x)
{
	ipcx__close_fd(x->ino);
	free(x->buf);
}

static int
rx_fill(flog_rx *x, uint64_t at)
{
	size_t got;
	int rv;

	if (x->buf == NULL && (x->buf = malloc(RBUF_SIZE)) == NULL) {
		return IPCX_ENOMEM;
	}
	x->len = 0;
	if ((rv = pread_all(x->fd, x->buf, RBUF_SIZE, at, &got)) != 0) {
		return rv;
	}
	x->base = at;
	x->len = got;
	x->eof = got < RBUF_SIZE;
	x->fresh = true;
	return 0;
}

/* The file's bytes [at, at + n) from the buffer, read if they are not all there: *p points
 * at them and *avail says how many the file had (less than n at its end). */
static int
rx_view(flog_rx *x, uint64_t at, size_t n, const unsigned char **p, size_t *avail)
{
	int rv;

	if (!(at >= x->base && at + n <= x->base + x->len)) {
		if (!(x->fresh && at == x->base) && (rv = rx_fill(x, at)) != 0) {
			return rv;
		}
	}
	*p = x->buf + (at - x->base);
	*avail = x->base + x->len - at < n ? (size_t)(x->base + x->len - at) : n;
	return 0;
}

/* Forget the buffer: the next look reads the file. */
static void
rx_drop(flog_rx *x)
{
	x->len = 0;
	x->fresh = false;
}

/* The footer of the record at `at` (header ri) read from the file: RX_WAIT until it is
 * written, 0 if it matches, RX_ODD if not. */
static int
rx_ftr_at(flog_rx *x, uint64_t at, const rec_info *ri)
{
	unsigned char ftr[REC_FTR];
	size_t got;
	int rv;

	if ((rv = pread_all(x->fd, ftr, sizeof ftr, at + rec_total(ri->len) - REC_FTR, &got)) !=
	    0) {
		return rv;
	}
	if (got < sizeof ftr) {
		return RX_WAIT;
	}
	return rec_ftr_ok(ftr, ri) ? 0 : RX_ODD;
}

/* Is there a record whole in structure (header and footer agree) at `at` now? Read afresh. */
static int
rx_whole_at(flog_rx *x, uint64_t at, bool *whole)
{
	rec_info ri;
	int rv;

	*whole = false;
	if ((rv = rx_fill(x, at)) != 0) {
		return rv;
	}
	if (x->len < REC_HDR || !rec_hdr_parse(x->buf, at, &ri)) {
		return 0;
	}
	if ((rv = rx_ftr_at(x, at, &ri)) < 0) {
		return rv;
	}
	*whole = rv == 0;
	return 0;
}

/* Under the lock, with bytes at pos that are no whole record (a bad header, or a header
 * whose record the file does not hold): find the next whole record and go there, or wait
 * if none follows (a torn or garbage end is cut off by the next writer). The lock stops
 * the writers of a shared log but not the one writer of a pair's log, which takes none:
 * there, a record found after pos may mean that the one at pos has been completed
 * meanwhile (writes are sequential), so pos is looked at again before it is skipped. */
static int
rx_resync(flog_rx *x)
{
	uint64_t at = x->pos + 8;
	int rv;

	/* No memo of an earlier fruitless search: a writer may cut a torn end and append a
	 * record of the same length, leaving the size as it was (found by fuzz_file_log). */
	for (;;) {
		size_t n;
		if ((rv = rx_fill(x, at)) != 0) {
			return rv;
		}
		if (x->len < REC_HDR) {
			break;
		}
		n = x->len - REC_HDR;
		for (size_t off = 0; off <= n; off += 8) {
			const unsigned char *h = x->buf + off;
			uint64_t y = at + off, total;
			rec_info ri;
			if (get32(h) != REC_MAGIC || !rec_hdr_parse(h, y, &ri)) {
				continue;
			}
			total = rec_total(ri.len);
			if (off + total <= x->len) {
				rv = rec_ftr_ok(h + total - REC_FTR, &ri) ? 0 : RX_ODD;
			} else if ((rv = rx_ftr_at(x, y, &ri)) < 0) {
				return rv;
			}
			if (rv == 0) {
				bool whole;
				if ((rv = rx_whole_at(x, x->pos, &whole)) != 0) {
					return rv;
				}
				if (!whole) {
					x->pos = y;
				}
				rx_drop(x);
				return RX_SKIP; /* look again: at y, or at pos now whole */
			}
		}
		if (x->eof) {
			break;
		}
		at += (n & ~(size_t)7) + 8;
	}
	return RX_WAIT;
}

/*
 * One look at the record at pos. Returns 0 with *type and *len (a record of the wanted type
 * copied to buf, or another type consumed), IPCX_EMSGSIZE with *len (kept if cap is too
 * small; skipped if longer than max_msg), RX_WAIT, RX_PART, RX_ODD (only unlocked), RX_SKIP
 * (only locked) or an error. Unlocked, bytes that are no record are only reported (RX_ODD):
 * a decision to skip them is taken under the lock, where no writer moves them.
 *
 * A reader steps over a record by its length only if the record is whole in structure
 * (header and footer agree), which is exactly what a writer repairing the end looks for:
 * so a reader never stands past the point where the next writer cuts the file and appends.
 * Anything else is searched past (rx_resync).
 */
static int
rx_step(flog_rx *x, void *buf, size_t cap, size_t *len, unsigned *type, bool locked)
{
	const unsigned char *p;
	const unsigned char *payload = NULL; /* in our buffer, when the record fits it */
	bool mine;
	uint64_t total;
	size_t avail, got;
	rec_info ri;
	int rv;

	if ((rv = rx_view(x, x->pos, REC_HDR, &p, &avail)) != 0) {
		return rv;
	}
	if (avail < REC_HDR) {
		return RX_WAIT; /* a header being written, or torn */
	}
	if (!rec_hdr_parse(p, x->pos, &ri)) {
		return locked ? rx_resync(x) : RX_ODD;
	}
	total = rec_total(ri.len);
	*type = ri.type;
	*len = ri.len;
	/* is it all there, and does its footer agree? */
	if (total <= RBUF_SIZE) {
		if ((rv = rx_view(x, x->pos, (size_t)total, &p, &avail)) != 0) {
			return rv;
		}
		rv = avail < total ? RX_WAIT : rec_ftr_ok(p + total - REC_FTR, &ri) ? 0 : RX_ODD;
		payload = p + REC_HDR;
	} else if ((rv = rx_ftr_at(x, x->pos, &ri)) < 0) {
		return rv;
	}
	if (rv == RX_WAIT) {
		return locked ? rx_resync(x) : RX_PART;
	}
	if (rv == RX_ODD) {
		return locked ? rx_resync(x) : RX_ODD;
	}
	/* whole in structure: from here on, bad bytes are stepped over by its length */
	mine = ri.type == x->want && ri.len <= x->max_msg;
	if (ri.len > x->max_msg) {
		x->pos += total; /* this channel can never take it: report it once, pass it */
		return IPCX_EMSGSIZE;
	}
	if (mine && cap < ri.len) {
		return IPCX_EMSGSIZE; /* kept: the offset stays */
	}
	if (payload == NULL && mine) {
		/* straight into the caller's buffer: no copy through ours */
		if ((rv = pread_all(x->fd, buf, ri.len, x->pos + REC_HDR, &got)) != 0) {
			return rv;
		}
		rv = got == ri.len && ipcx__crc32c(0, buf, ri.len) == ri.pcrc ? 0 : RX_ODD;
		x->eof = false; /* what lies past it is not known */
	} else if (payload == NULL) {
		rv = 0; /* a long record of another type: passed over unread */
	} else {
		rv = ipcx__crc32c(0, payload, ri.len) == ri.pcrc ? 0 : RX_ODD;
	}
	if (rv == RX_ODD) {
		if (!locked) {
			return RX_ODD;
		}
		x->pos += total; /* a bad payload in a whole record: never delivered */
		return RX_SKIP;
	}
	if (mine && payload != NULL && ri.len > 0) {
		memcpy(buf, payload, ri.len);
	}
	x->last = x->pos;
	x->pos += total;
	return 0;
}

/* Give back the space of records taken (a pair's or a listener's log has one reader). The
 * last record taken stays: a writer checking the end of the file reads it. */
static void
rx_punch(flog_rx *x)
{
	uint64_t to = x->last & ~PAGE_MASK;

	if (!x->punch || to < x->punched + PUNCH_STEP) {
		return;
	}
	if (fallocate(x->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)x->punched,
	              (off_t)(to - x->punched)) == -1) {
		x->punch = false; /* not on this file system: the space comes back on close */
		return;
	}
	x->punched = to;
}

/* Under the shared lock, where no writer moves anything: look until something other than
 * skipped bytes is found. */
static int
rx_locked(flog_rx *x, void *buf, size_t cap, size_t *len, unsigned *type)
{
	int rv;

	do {
		rx_drop(x);
		rv = rx_step(x, buf, cap, len, type, true);
	} while (rv == RX_SKIP);
	return rv;
}

static void
rx_done(flog_rx *x, int rv)
{
	if (rv == 0) {
		rx_punch(x);
	}
	if (rv == 0 || rv == IPCX_EMSGSIZE) {
		x->more = !(x->eof && x->base + x->len <= x->pos);
	}
}

/* rx_step from the buffer, again from the file if that was stale, and under the shared
 * lock (waiting for it until the deadline) when the bytes are odd. */
static int
rx_try(flog_rx *x, void *buf, size_t cap, size_t *len, unsigned *type, int64_t deadline)
{
	int rv;

	x->fresh = false;
	rv = rx_step(x, buf, cap, len, type, false);
	if ((rv == RX_WAIT || rv == RX_PART || rv == RX_ODD) && !x->fresh) {
		rx_drop(x);
		rv = rx_step(x, buf, cap, len, type, false);
	}
	if (rv == RX_ODD) {
		if ((rv = flog_lock(x->fd, IPCX_LOCK_SH, LOCK_APPEND, deadline)) != 0) {
			return rv == IPCX_ETIMEDOUT ? RX_WAIT : rv;
		}
		rv = rx_locked(x, buf, cap, len, type);
		ipcx_unlock(x->fd, LOCK_APPEND, 1);
	}
	rx_done(x, rv);
	return rv;
}

/* Watch the file: inotify on the open file itself (through /proc, so a log already
 * unlinked, or a name taken over since, makes no difference). */
static int
rx_ino_open(flog_rx *x)
{
	char proc[48];
	int fd;

	if (x->ino >= 0) {
		return 0;
	}
	if (x->ino_failed) {
		return IPCX_EMFILE;
	}
	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		int e = errno;
		if (e == EMFILE) {
			ipcx__errdetail_set(
			        "no inotify instance for a file:// log "
			        "(fs.inotify.max_user_instances, or the open-file limit)");
		}
		x->ino_failed = true;
		return ipcx__err(e);
	}
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", x->fd);
	if (inotify_add_watch(fd, proc, x->mask) == -1) {
		int e = errno;
		if (e == ENOSPC) {
			ipcx__errdetail_set("no inotify watch for a file:// log "
			                    "(fs.inotify.max_user_watches)");
		}
		close(fd);
		x->ino_failed = true;
		return ipcx__err(e);
	}
	x->ino = fd;
	return 0;
}

static void
rx_drain(flog_rx *x)
{
	char b[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (x->ino >= 0 && read(x->ino, b, sizeof b) > 0) {
	}
}

/* Returns 0 while the other side is there, an error once it is gone. */
typedef int (*rx_gone_fn)(void *arg);

/*
 * Next record, waiting until the deadline. inotify events are drained only when nothing
 * was found, and the file is looked at again after each drain, so that the watch stays
 * readable while records wait and a record appended meanwhile is never missed. gone (if
 * not NULL) is asked whenever nothing is there: what the other side wrote before it went
 * is still delivered, then its error.
 */
static int
rx_recv(flog_rx *x, void *buf, size_t cap, size_t *len, unsigned *type, int64_t deadline,
        rx_gone_fn gone, void *arg)
{
	int64_t step = IPCX__BACKOFF_MIN_NS;
	bool armed = false, spun = false;

	for (;;) {
		int rv = rx_try(x, buf, cap, len, type, deadline);
		if (rv == RX_PART && armed && !x->pair &&
		    ipcx_lock(x->fd, IPCX_LOCK_SH, LOCK_APPEND, 1, 0) == 0) {
			/* about to sleep on a record that is not all there although no writer
			 * is appending: torn (the next writer cuts it off: wait), or bytes that
			 * only look like a header, with whole records after them (skip) */
			rv = rx_locked(x, buf, cap, len, type);
			ipcx_unlock(x->fd, LOCK_APPEND, 1);
			rx_done(x, rv);
		}
		if (rv != RX_WAIT && rv != RX_PART) {
			return rv;
		}
		x->more = false;
		if (gone != NULL && (rv = gone(arg)) != 0) {
			int rv2 = rx_try(x, buf, cap, len, type, deadline);
			return rv2 != RX_WAIT && rv2 != RX_PART ? rv2 : rv;
		}
		if (!spun) {
			/* a reply often comes within microseconds: look again, yielding the CPU,
			 * for a short while before sleeping (an inotify wake-up costs more) */
			int64_t now = ipcx__now_ns(), until = now + RX_SPIN_NS;
			spun = true;
			while (now < until && now < deadline) {
				sched_yield();
				rv = rx_try(x, buf, cap, len, type, deadline);
				if (rv != RX_WAIT && rv != RX_PART) {
					return rv;
				}
				now = ipcx__now_ns();
			}
		}
		if (!armed) {
			if (rx_ino_open(x) == 0) {
				rx_drain(x);
			}
			armed = true;
			continue;
		}
		if (x->ino >= 0) {
			if ((rv = ipcx__wait_fd(x->ino, POLLIN, deadline)) < 0) {
				return rv;
			}
			armed = false;
		} else if ((rv = ipcx__backoff(&step, deadline)) != 0) {
			return rv;
		}
	}
}

/* ---- options and names --------------------------------------------------------------- */

static const char *const file_keys[] = {"sync", "syncms", "start", NULL};

typedef struct file_opts {
	int sync;
	int64_t sync_ns;
	bool start_end;
} file_opts;

static int
file_opts_parse(file_opts *fo, ipcx__url *u)
{
	unsigned long long ms;
	const char *v;
	bool found;
	int rv;

	fo->sync = SYNC_NONE;
	fo->sync_ns = (int64_t)BATCH_MS_DEF * 1000000;
	fo->start_end = false;
	if ((v = ipcx__url_query(u, "sync")) != NULL) {
		if (strcmp(v, "none") == 0) {
			fo->sync = SYNC_NONE;
		} else if (strcmp(v, "batch") == 0) {
			fo->sync = SYNC_BATCH;
		} else if (strcmp(v, "always") == 0) {
			fo->sync = SYNC_ALWAYS;
		} else {
			return IPCX_EBADURL;
		}
	}
	if ((rv = ipcx__url_query_num(u, "syncms", 10, 1, 3600000, &ms, &found)) != 0) {
		return rv;
	}
	if (found) {
		fo->sync_ns = (int64_t)ms * 1000000;
	}
	if ((v = ipcx__url_query(u, "start")) != NULL) {
		if (strcmp(v, "end") == 0) {
			fo->start_end = true;
		} else if (strcmp(v, "begin") != 0) {
			return IPCX_EBADURL;
		}
	}
	return 0;
}

/* A listener's name leaves room for the private names derived from it. */
static int
file_check_name(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n = strlen(path);

	base = base != NULL ? base + 1 : path;
	if (n == 0 || *base == '\0') {
		return IPCX_EBADURL;
	}
	if (n + SUFFIX_MAX >= PATH_MAX || strlen(base) + SUFFIX_MAX > NAME_MAX) {
		return IPCX_ENAMETOOLONG;
	}
	return 0;
}

static int
file_pair_names(char *up, char *dn, const char *path, const char *token)
{
	return ipcx__pair_names(up, dn, PATH_MAX, path, token);
}

static bool
file_token_ok(const char *t, size_t n)
{
	return ipcx__token_ok(t, n, TOKEN_MAX);
}

enum { REG_ADD, REG_FORGET, REG_REMOVE };

/* Registry bookkeeping for `ipcx ls`: best effort, never a reason to fail. FORGET drops
 * only our own entry (a successor that took the name keeps its own); REMOVE drops the
 * entry of a dead client whose names we remove. */
static void
file_registry(const char *path, int op)
{
	char abs[PATH_MAX];

	if (ipcx__abs_path(abs, sizeof abs, path) != 0) {
		return;
	}
	if (op == REG_ADD) {
		ipcx__registry_add("file", abs);
	} else if (op == REG_FORGET) {
		ipcx__registry_forget("file", abs);
	} else {
		ipcx__registry_remove("file", abs);
	}
}

/* Remove a name only if it is a regular file: a peer's word is never enough to unlink
 * anything else. */
static void
file_unlink_log(const char *path, int op)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) == 0) {
		file_registry(path, op);
	}
}

/* ---- channels ------------------------------------------------------------------------ */

typedef struct file_chan {
	ipcx_chan base;
	bool conv; /* one end of a private pair: a peer that can close or die */
	flog_rx rx;
	flog_tx tx;
	int rerr; /* sticky receive error: IPCX_ECLOSED */
	int serr; /* sticky send error */
} file_chan;

static int
file_persistence(const ipcx__url *u)
{
	IPCX__UNUSED(u);
	return IPCX_PERSIST_FILESYSTEM;
}

static file_chan *
file_chan_new(const ipcx__opts *o, const file_opts *fo)
{
	file_chan *f = calloc(1, sizeof *f);
	size_t max = o->max_msg < REC_LEN_MAX ? o->max_msg : REC_LEN_MAX;

	if (f == NULL) {
		return NULL;
	}
	ipcx__chan_init(&f->base, &ipcx__file, max);
	rx_init(&f->rx, -1, REC_DATA, max, IN_MODIFY, false);
	f->tx.fd = -1;
	f->tx.sync = fo->sync;
	f->tx.sync_ns = fo->sync_ns;
	f->tx.last_sync = ipcx__now_ns();
	return f;
}

static void
file_chan_free(file_chan *f)
{
	if (f->tx.fd >= 0 && f->tx.fd != f->rx.fd) {
		close(f->tx.fd);
	}
	ipcx__close_fd(f->rx.fd);
	rx_fini(&f->rx);
	free(f);
}

/* The peer of a pair is gone when nobody holds the presence lock on the log it writes. */
static int
file_peer_gone(void *arg)
{
	file_chan *f = arg;
	int rv = flog_held(f->rx.fd, LOCK_PRESENCE);

	return rv < 0 ? rv : rv == 0 ? IPCX_ECLOSED : 0;
}

/* ?start=end: the end of the last whole record, read under the shared lock so that no
 * append is half there. */
static int
file_seek_end(file_chan *f, int64_t deadline)
{
	struct stat st;
	int rv;

	if ((rv = flog_lock(f->rx.fd, IPCX_LOCK_SH, LOCK_APPEND, deadline)) != 0) {
		return rv;
	}
	if (fstat(f->rx.fd, &st) == -1) {
		rv = ipcx__err(errno);
	} else {
		rv = flog_valid_end(f->rx.fd, (uint64_t)st.st_size, &f->rx.pos);
	}
	ipcx_unlock(f->rx.fd, LOCK_APPEND, 1);
	return rv;
}

static int file_dial_pair(ipcx_chan **cp, const char *path, int lfd, const ipcx__opts *o,
                          const file_opts *fo, int64_t deadline);

static int
file_dial(ipcx_chan **cp, ipcx__url *u, const ipcx__opts *o, int64_t deadline)
{
	file_opts fo;
	file_chan *f;
	unsigned flags;
	bool ro = false, created = false;
	int fd = -1, rv;

	if ((rv = file_opts_parse(&fo, u)) != 0) {
		return rv;
	}
	if (o->raw) {
		return IPCX_ENOTSUP;
	}
	if (u->path[0] == '\0') {
		return IPCX_EBADURL;
	}
	/* open the log, or make it (someone else may make it at the same moment) */
	for (int tries = 0; fd < 0; tries++) {
		if ((fd = flog_open(u->path, &ro)) >= 0 || fd != IPCX_ENOENT || tries == 8) {
			break;
		}
		if ((fd = flog_create(u->path, o->mode, 0, false)) >= 0) {
			created = true;
			file_registry(u->path, REG_ADD);
		} else if (fd != IPCX_EEXIST) {
			break;
		}
	}
	if (fd < 0) {
		return fd;
	}
	if ((rv = flog_read_hdr(fd, &flags)) != 0) {
		goto fail_fd;
	}
	if (flags & FLOG_F_LISTENER) {
		return file_dial_pair(cp, u->path, fd, o, &fo, deadline); /* takes fd */
	}
	if ((f = file_chan_new(o, &fo)) == NULL) {
		rv = IPCX_ENOMEM;
		goto fail_fd;
	}
	f->rx.fd = fd;
	if (ro) {
		f->serr = IPCX_EACCES; /* we may read this log, not write it */
	} else if ((f->tx.fd = flog_reopen(fd, false)) < 0) {
		rv = f->tx.fd;
		goto fail_chan;
	}
	f->tx.shared = true;
	if (fo.start_end && (rv = file_seek_end(f, deadline)) != 0) {
		goto fail_chan;
	}
	*cp = &f->base;
	return 0;
fail_chan:
	file_chan_free(f);
	fd = -1;
fail_fd:
	ipcx__close_fd(fd);
	if (created) {
		file_unlink_log(u->path, REG_FORGET);
	}
	return rv;
}

/* While a dial waits for its acknowledgement: the listener is gone when nobody holds the
 * presence lock on its log. */
static int
file_listener_gone(void *arg)
{
	int rv = flog_held(*(int *)arg, LOCK_PRESENCE);

	return rv < 0 ? rv : rv == 0 ? IPCX_ECONNREFUSED : 0;
}

/*
 * Dial a listener (lfd: its log, taken over): make a private pair of logs next to it, up
 * (ours to write) and dn (the server's), announce them with a hello record on the
 * listener's log and wait for the server's acknowledgement on dn. Then both sides hold
 * both logs and the names go.
 */
static int
file_dial_pair(ipcx_chan **cp, const char *path, int lfd, const ipcx__opts *o, const file_opts *fo,
               int64_t deadline)
{
	char token[TOKEN_MAX + 1], up[PATH_MAX], dn[PATH_MAX], proc[48];
	int upfd = -1, dnfd = -1, lwd = -1, rv;
	flog_tx hello = {.fd = lfd, .shared = true, .sync = SYNC_NONE};
	file_chan *f;
	size_t len;
	unsigned type;

	if ((rv = file_check_name(path)) != 0) {
		goto fail_lfd;
	}
	if ((rv = flog_held(lfd, LOCK_PRESENCE)) <= 0) {
		rv = rv == 0 ? IPCX_ECONNREFUSED : rv; /* its listener died */
		goto fail_lfd;
	}
	for (int tries = 0;; tries++) {
		snprintf(token, sizeof token, "%ld.%u.%lx", (long)getpid(),
		         atomic_fetch_add(&file_counter, 1),
		         (unsigned long)(ipcx__now_ns() & 0xffffff));
		if ((rv = file_pair_names(up, dn, path, token)) != 0) {
			goto fail_lfd;
		}
		if ((upfd = flog_create(up, o->mode, FLOG_F_CONV, true)) >= 0) {
			if ((dnfd = flog_create(dn, o->mode, FLOG_F_CONV, false)) >= 0) {
				break;
			}
			rv = dnfd;
			close(upfd);
			unlink(up);
		} else {
			rv = upfd;
		}
		if (rv != IPCX_EEXIST || tries == 8) {
			goto fail_lfd;
		}
	}
	file_registry(up, REG_ADD);
	file_registry(dn, REG_ADD);
	if ((f = file_chan_new(o, fo)) == NULL) {
		rv = IPCX_ENOMEM;
		close(upfd);
		close(dnfd);
		goto fail_names;
	}
	f->conv = true;
	f->tx.fd = upfd;
	f->tx.end = FLOG_HDR;
	f->rx.fd = dnfd;
	f->rx.mask = IN_MODIFY | IN_CLOSE_WRITE;
	f->rx.punch = true;
	f->rx.pair = true;
	if ((rv = flog_append(&hello, REC_HELLO, token, strlen(token), deadline)) != 0) {
		goto fail_chan;
	}
	/* the wait also wakes when the listener closes its log (or dies) */
	if (rx_ino_open(&f->rx) == 0) {
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", lfd);
		lwd = inotify_add_watch(f->rx.ino, proc,
		                        IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF);
	}
	for (;;) {
		rv = rx_recv(&f->rx, NULL, 0, &len, &type, deadline, file_listener_gone, &lfd);
		if (rv != 0) {
			rv = rv == IPCX_EMSGSIZE ? IPCX_EPROTO : rv;
			goto fail_chan;
		}
		if (type == REC_ACK) {
			break;
		}
		if (type == REC_FIN) {
			rv = IPCX_ECONNREFUSED;
			goto fail_chan;
		}
	}
	if (lwd >= 0) {
		inotify_rm_watch(f->rx.ino, lwd);
	}
	/* both sides hold both logs: the names have done their job */
	file_unlink_log(up, REG_FORGET);
	file_unlink_log(dn, REG_FORGET);
	close(lfd);
	*cp = &f->base;
	return 0;
fail_chan:
	file_chan_free(f);
fail_names:
	file_unlink_log(up, REG_FORGET);
	file_unlink_log(dn, REG_FORGET);
fail_lfd:
	close(lfd);
	return rv;
}

static int
file_send(ipcx_chan *c, const void *buf, size_t len, int64_t deadline)
{
	file_chan *f = (file_chan *)c;

	if (f->serr != 0) {
		return f->serr;
	}
	if (f->conv && f->tx.sends++ % SEND_PROBE == 0 && file_peer_gone(f) == IPCX_ECLOSED) {
		f->serr = IPCX_ECLOSED; /* nobody will ever read it */
		return f->serr;
	}
	return flog_append(&f->tx, REC_DATA, buf, len, deadline);
}

static int
file_recv(ipcx_chan *c, void *buf, size_t cap, size_t *len, int64_t deadline)
{
	file_chan *f = (file_chan *)c;

	for (;;) {
		unsigned type = REC_DATA;
		size_t n = 0;
		int rv;
		if (f->rerr != 0) {
			return f->rerr;
		}
		rv = rx_recv(&f->rx, buf, cap, &n, &type, deadline, f->conv ? file_peer_gone : NULL,
		             f);
		if (rv == 0 && type != REC_DATA) {
			if (type == REC_FIN && f->conv) {
				f->rerr = IPCX_ECLOSED;
			}
			continue; /* acknowledgements and records of later versions: not messages */
		}
		if (rv == IPCX_ECLOSED) {
			f->rerr = rv;
		}
		if (rv == 0 || rv == IPCX_EMSGSIZE) {
			*len = n;
		}
		return rv;
	}
}

static int
file_fd(ipcx_chan *c)
{
	file_chan *f = (file_chan *)c;
	int rv;

	if (f->rx.ino >= 0) {
		return f->rx.ino;
	}
	if ((rv = rx_ino_open(&f->rx)) != 0) {
		return rv;
	}
	/* records appended before the watch existed raised no event: look once */
	f->rx.more = true;
	return f->rx.ino;
}

static bool
file_pending(ipcx_chan *c)
{
	file_chan *f = (file_chan *)c;

	return f->rx.more || f->rerr != 0;
}

static void
file_close(ipcx_chan *c)
{
	file_chan *f = (file_chan *)c;

	if (f->conv && f->tx.fd >= 0 && f->serr == 0) {
		/* the close marker: the peer reads it after everything sent before it */
		flog_append(&f->tx, REC_FIN, NULL, 0, ipcx__deadline(0));
	}
	if (f->tx.dirty) {
		fdatasync(f->tx.fd);
	}
	file_chan_free(f);
}

/* ---- listeners ----------------------------------------------------------------------- */

typedef struct file_listener {
	ipcx_listener base;
	flog_rx rx;     /* the hellos */
	int evfd, epfd; /* listener_fd: the watch, plus an eventfd set while hellos wait */
	bool ev_set;
	file_opts fo;
	dev_t dev;
	ino_t ino;
	char path[PATH_MAX];
} file_listener;

/* A log is in the way of a new listener: replace it only if it is a listener's log whose
 * listener is gone. */
static int
file_replace_stale(const char *path)
{
	struct stat st, st2;
	unsigned flags;
	bool ro;
	int fd, rv;

	if ((fd = flog_open(path, &ro)) < 0) {
		return fd == IPCX_ENOENT ? 0 : fd;
	}
	if (flog_read_hdr(fd, &flags) != 0 || !(flags & FLOG_F_LISTENER)) {
		ipcx__errdetail_set("%s exists and is not a file:// listener's log: not replaced",
		                    path);
		rv = IPCX_EEXIST;
	} else if ((rv = flog_held(fd, LOCK_PRESENCE)) != 0) {
		rv = rv == 1 ? IPCX_EADDRINUSE : rv;
	} else if (fstat(fd, &st) == 0 && lstat(path, &st2) == 0 && st.st_dev == st2.st_dev &&
	           st.st_ino == st2.st_ino && unlink(path) == -1 && errno != ENOENT) {
		rv = ipcx__err(errno);
	}
	close(fd);
	return rv;
}

static int
file_listen(ipcx_listener **lp, ipcx__url *u, const ipcx__opts *o)
{
	file_listener *l;
	struct stat st;
	int fd = -1, rv;

	if ((l = calloc(1, sizeof *l)) == NULL) {
		return IPCX_ENOMEM;
	}
	l->evfd = l->epfd = -1;
	if ((rv = file_opts_parse(&l->fo, u)) != 0 || (rv = file_check_name(u->path)) != 0) {
		goto fail_free;
	}
	if (o->raw) {
		rv = IPCX_ENOTSUP;
		goto fail_free;
	}
	strcpy(l->path, u->path); /* length checked by file_check_name */
	for (int tries = 0; fd < 0; tries++) {
		if ((fd = flog_create(l->path, o->mode, FLOG_F_LISTENER, true)) >= 0) {
			break;
		}
		if (fd != IPCX_EEXIST || tries == 3) {
			rv = fd == IPCX_EEXIST ? IPCX_EADDRINUSE : fd;
			goto fail_free;
		}
		if ((rv = file_replace_stale(l->path)) != 0) {
			goto fail_free;
		}
	}
	if (fstat(fd, &st) == -1) {
		rv = ipcx__err(errno);
		goto fail_unlink;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	rx_init(&l->rx, fd, REC_HELLO, TOKEN_MAX, IN_MODIFY, true);
	if ((rv = rx_ino_open(&l->rx)) != 0) {
		goto fail_unlink;
	}
	if ((rv = ipcx__pollset_new(l->rx.ino, &l->epfd, &l->evfd)) != 0) {
		goto fail_unlink;
	}
	file_registry(l->path, REG_ADD);
	l->base.tp = &ipcx__file;
	l->base.opts = *o;
	*lp = &l->base;
	return 0;
fail_unlink:
	ipcx__close_fd(l->epfd);
	ipcx__close_fd(l->evfd);
	rx_fini(&l->rx);
	unlink(l->path);
	close(fd);
fail_free:
	free(l);
	return rv;
}

/* Keep the eventfd readable exactly while hellos may wait past what the watch says. */
static void
file_listener_sync(file_listener *l)
{
	if (l->rx.more != l->ev_set) {
		ipcx__ev_set(l->evfd, l->rx.more);
		l->ev_set = l->rx.more;
	}
}

/* Take the pair a hello names. Returns 0 with *cp, 1 to skip a client that is gone or whose
 * names are no pair of logs, or an error. */
static int
file_accept_token(file_listener *l, ipcx_chan **cp, const char *token)
{
	char up[PATH_MAX], dn[PATH_MAX];
	unsigned flags;
	file_chan *f;
	bool ro;
	int upfd, dnfd, rv;

	if (file_pair_names(up, dn, l->path, token) != 0) {
		return 1;
	}
	if ((upfd = flog_open(up, &ro)) < 0) {
		return 1; /* it gave up and removed its names */
	}
	if (ro || flog_read_hdr(upfd, &flags) != 0 || !(flags & FLOG_F_CONV)) {
		close(upfd);
		return 1;
	}
	if ((rv = flog_held(upfd, LOCK_PRESENCE)) != 1) {
		/* nobody writes it: the client died before we came; remove what it left */
		close(upfd);
		file_unlink_log(up, REG_REMOVE);
		file_unlink_log(dn, REG_REMOVE);
		return rv < 0 ? rv : 1;
	}
	if ((dnfd = flog_open(dn, &ro)) < 0) {
		close(upfd);
		return 1;
	}
	if (ro || flog_read_hdr(dnfd, &flags) != 0 || !(flags & FLOG_F_CONV) ||
	    ipcx_lock(dnfd, IPCX_LOCK_SH, LOCK_PRESENCE, 1, 0) != 0) {
		close(upfd);
		close(dnfd);
		return 1;
	}
	if ((f = file_chan_new(&l->base.opts, &l->fo)) == NULL) {
		close(upfd);
		close(dnfd);
		return IPCX_ENOMEM;
	}
	f->conv = true;
	f->tx.fd = dnfd;
	f->rx.fd = upfd;
	f->rx.mask = IN_MODIFY | IN_CLOSE_WRITE;
	f->rx.punch = true;
	f->rx.pair = true;
	if (flog_append(&f->tx, REC_ACK, NULL, 0, ipcx__deadline(0)) != 0) {
		file_chan_free(f);
		return 1;
	}
	*cp = &f->base;
	return 0;
}

static int
file_accept(ipcx_listener *lb, ipcx_chan **cp, int64_t deadline)
{
	file_listener *l = (file_listener *)lb;

	for (;;) {
		char token[TOKEN_MAX + 1];
		unsigned type = 0;
		size_t len = 0;
		int rv = rx_recv(&l->rx, token, TOKEN_MAX, &len, &type, deadline, NULL, NULL);
		file_listener_sync(l);
		if (rv == IPCX_EMSGSIZE) {
			continue; /* too long for a hello: not one */
		}
		if (rv != 0) {
			return rv;
		}
		if (type != REC_HELLO || !file_token_ok(token, len)) {
			continue;
		}
		token[len] = '\0';
		if ((rv = file_accept_token(l, cp, token)) <= 0) {
			return rv;
		}
	}
}

static void
file_listener_close(ipcx_listener *lb)
{
	file_listener *l = (file_listener *)lb;
	struct stat st;

	/* Clients that died after their hello left a pair nobody else would remove; live ones
	 * see the listener go (its presence lock) and remove their own. */
	for (;;) {
		char token[TOKEN_MAX + 1], up[PATH_MAX], dn[PATH_MAX];
		unsigned type = 0;
		size_t len = 0;
		int fd, rv = rx_try(&l->rx, token, TOKEN_MAX, &len, &type, ipcx__deadline(0));
		if (rv == IPCX_EMSGSIZE) {
			continue;
		}
		if (rv != 0) {
			break;
		}
		if (type != REC_HELLO || !file_token_ok(token, len)) {
			continue;
		}
		token[len] = '\0';
		if (file_pair_names(up, dn, l->path, token) == 0 &&
		    (fd = open(up, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) >= 0) {
			if (flog_held(fd, LOCK_PRESENCE) == 0) {
				file_unlink_log(up, REG_REMOVE);
				file_unlink_log(dn, REG_REMOVE);
			}
			close(fd);
		}
	}
	if (!l->base.opts.keep && lstat(l->path, &st) == 0 && st.st_dev == l->dev &&
	    st.st_ino == l->ino && unlink(l->path) == 0) {
		file_registry(l->path, REG_FORGET);
	}
	close(l->epfd);
	close(l->evfd);
	close(l->rx.fd); /* drops the presence lock: waiting dialers give up */
	rx_fini(&l->rx);
	free(l);
}

static int
file_listener_fd(ipcx_listener *lb)
{
	return ((file_listener *)lb)->epfd;
}

static int
file_listener_url(ipcx_listener *lb, char *buf, size_t cap)
{
	return ipcx__url_format(buf, cap, "file://", ((file_listener *)lb)->path);
}

/* ---- for `ipcx ls` and tests ---------------------------------------------------------- */

int
ipcx__file_header(const char *path, unsigned *flags, pid_t *creator, unsigned long long *start,
                  bool *this_boot)
{
	unsigned char h[FLOG_HDR], boot[16];
	size_t got;
	int fd, rv;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1) {
		return ipcx__err(errno);
	}
	rv = pread_all(fd, h, sizeof h, 0, &got);
	close(fd);
	if (rv != 0) {
		return rv;
	}
	if (got < sizeof h || flog_hdr_check(h, flags) != 0) {
		return IPCX_EPROTO;
	}
	*creator = (pid_t)get32(h + 16);
	*start = get64(h + 24);
	flog_boot_id(boot);
	*this_boot = memcmp(boot, h + 40, 16) == 0;
	return 0;
}

const struct ipcx__transport ipcx__file = {
        .version = IPCX__TRANSPORT_VERSION,
        .scheme = "file",
        .persistence = file_persistence,
        .query_keys = file_keys,
        .listen = file_listen,
        .accept = file_accept,
        .listener_close = file_listener_close,
        .listener_fd = file_listener_fd,
        .listener_url = file_listener_url,
        .dial = file_dial,
        .send = file_send,
        .recv = file_recv,
        .fd = file_fd,
        .pending = file_pending,
        .close = file_close,
};
