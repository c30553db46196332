/*
 * file.c - tests of what only the file:// scheme has: a shared durable log with many writers
 * and readers, writers SIGKILLed mid-append, torn and corrupt bytes, inotify wake-ups, sync
 * modes, the byte format, modes, listeners that own their log, and nothing left behind.
 * The conformance suite covers the listener/dial pairs like every other scheme.
 */
#include "testutil.h"

#include "core/ipcx_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 30000
#define HDR     64 /* the file header */

/* ---- helpers ------------------------------------------------------------------------- */

static void
log_url(char *url, size_t cap, const char *path, const char *query)
{
	snprintf(url, cap, "file://%s%s", path, query);
}

/* A fresh log path in the test directory and its URL. */
static void
new_log(char *path, size_t pcap, char *url, size_t ucap, const char *query)
{
	tu_path(path, pcap, "log");
	log_url(url, ucap, path, query);
}

/* The bytes a record of len payload bytes takes: header, payload padded to 8, footer. */
static uint64_t
rec_total(size_t len)
{
	return 32 + ((len + 7) & ~(size_t)7) + 8;
}

static long long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int
send_k(ipcx_chan *c, uint32_t k, size_t n)
{
	unsigned char *b = tu_xmalloc(n);
	int rv;

	tu_fill(b, n, k);
	rv = ipcx_send(c, b, n, WAIT_MS);
	free(b);
	return rv;
}

/* Receive one record and check that it is message k of n bytes. */
static int
expect_k(ipcx_chan *c, uint32_t k, size_t n, int timeout_ms)
{
	unsigned char *b = tu_xmalloc(n + 1);
	size_t len = 0;
	int rv = ipcx_recv(c, b, n + 1, &len, timeout_ms);

	if (rv == 0 && (len != n || !tu_check(b, len, k))) {
		tu_report(__FILE__, __LINE__, "expect_k", "record %u: %zu bytes (want %zu), %s", k,
		          len, n, tu_check(b, len, k) ? "intact" : "corrupt");
		rv = IPCX_EPROTO;
	}
	free(b);
	return rv;
}

/* Overwrite bytes of a file in place. */
static void
poke(const char *path, uint64_t at, const void *buf, size_t n)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, n, (off_t)at), (ssize_t)n);
	close(fd);
}

/* Flip every bit of the byte at `at` (a corruption that changes it whatever it held). */
static void
flip(const char *path, uint64_t at)
{
	unsigned char b;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)at), 1);
	b = (unsigned char)~b;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)at), 1);
	close(fd);
}

static void
put32le(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (unsigned char)(v >> (8 * i));
	}
}

static void
put64le(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (unsigned char)(v >> (8 * i));
	}
}

static uint32_t
get32le(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A record as docs/PROTOCOLS.md describes it, built by hand (rec: rec_total(len) bytes). */
static void
make_record(unsigned char *rec, uint64_t at, unsigned type, const void *payload, size_t len)
{
	uint64_t total = rec_total(len);

	memset(rec, 0, total);
	put32le(rec, 0x72435049u);
	put32le(rec + 4, (uint32_t)len);
	put64le(rec + 8, at);
	rec[16] = (unsigned char)type;
	put32le(rec + 20, ipcx__crc32c(0, payload, len));
	put32le(rec + 28, ipcx__crc32c(0, rec, 28));
	memcpy(rec + 32, payload, len);
	put32le(rec + total - 8, (uint32_t)total);
	put32le(rec + total - 4, get32le(rec + 28));
}

/* Names in the test directory other than the registry. */
static int
dir_entries(void)
{
	DIR *d = opendir(tu_dir());
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    strcmp(e->d_name, "registry") != 0) {
			n++;
		}
	}
	closedir(d);
	return n;
}

/* Remove a log the way a user does (`ipcx rm file:///path`): file and registry entry. */
static void
rm_log(const char *url)
{
	assert_rv(ipcx_obj_remove(url), 0);
}

/* ---- CRC-32C ------------------------------------------------------------------------- */

static void
test_crc32c_known_values_and_both_implementations_agree(void **state)
{
	unsigned char *b = tu_xmalloc(5000);

	(void)state;
	/* the check value of CRC-32C (RFC 3720, and every CRC catalogue) */
	assert_int_equal(ipcx__crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(ipcx__crc32c_sw(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(ipcx__crc32c(0, "", 0), 0);
	memset(b, 0, 32);
	assert_int_equal(ipcx__crc32c(0, b, 32), 0x8a9136aau); /* RFC 3720 B.4: 32 zeros */
	memset(b, 0xff, 32);
	assert_int_equal(ipcx__crc32c(0, b, 32), 0x62a8ab43u); /* 32 bytes of 0xff */
	tu_fill(b, 5000, 7);
	for (size_t off = 0; off < 9; off++) {
		for (size_t n = 0; n < 200; n += 1 + n / 4) {
			uint32_t whole = ipcx__crc32c(0, b + off, n);
			assert_int_equal(whole, ipcx__crc32c_sw(0, b + off, n));
			/* continuing from a partial CRC gives the CRC of the whole */
			assert_int_equal(whole, ipcx__crc32c(ipcx__crc32c(0, b + off, n / 3),
			                                     b + off + n / 3, n - n / 3));
		}
	}
	assert_int_equal(ipcx__crc32c(0, b, 5000), ipcx__crc32c_sw(0, b, 5000));
	free(b);
}

/* ---- the byte format ----------------------------------------------------------------- */

static void
test_byte_format_is_the_documented_one(void **state)
{
	char path[512], url[600];
	unsigned char h[HDR], want[rec_total(5)], got[sizeof want];
	unsigned flags;
	pid_t creator;
	unsigned long long start, mine;
	bool this_boot;
	ipcx_chan *c;
	int fd;

	(void)state;
	new_log(path, sizeof path, url, sizeof url, "");
	assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
	assert_rv(ipcx_send(c, "hello", 5, WAIT_MS), 0);
	assert_int_equal(file_size(path), HDR + (long long)rec_total(5));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, h, HDR, 0), HDR);
	assert_int_equal(pread(fd, got, sizeof got, HDR), (ssize_t)sizeof got);
	close(fd);
	/* the file header */
	assert_memory_equal(h, "IPCXLOG\0", 8);
	assert_int_equal(h[8] | h[9] << 8, 1);    /* version */
	assert_int_equal(h[10] | h[11] << 8, 64); /* header size */
	assert_int_equal(get32le(h + 12), 0);     /* flags: a plain log */
	assert_int_equal(get32le(h + 16), (uint32_t)getpid());
	assert_rv(ipcx__self_starttime(&mine), 0);
	assert_int_equal(get32le(h + 24) | (uint64_t)get32le(h + 28) << 32, mine);
	assert_int_equal(get32le(h + 60), ipcx__crc32c(0, h, 60));
	assert_rv(ipcx__file_header(path, &flags, &creator, &start, &this_boot), 0);
	assert_int_equal(flags, 0);
	assert_int_equal(creator, getpid());
	assert_int_equal(start, mine);
	assert_true(this_boot);
	/* the record, byte for byte (bytes 24..27 name the writer's pid) */
	make_record(want, HDR, 0, "hello", 5);
	put32le(want + 24, (uint32_t)getpid());
	put32le(want + 28, ipcx__crc32c(0, want, 28));
	put32le(want + sizeof want - 4, get32le(want + 28));
	assert_memory_equal(got, want, sizeof want);
	ipcx_close(c);
	rm_log(url);
}

/* A record of a type a later version might add is passed over, not delivered. */
static void
test_records_of_unknown_types_are_passed_over(void **state)
{
	char path[512], url[600];
	unsigned char rec[rec_total(3)];
	ipcx_chan *c;

	(void)state;
	new_log(path, sizeof path, url, sizeof url, "");
	assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
	make_record(rec, HDR, 9, "new", 3);
	poke(path, HDR, rec, sizeof rec);
	assert_int_equal(send_k(c, 1, 20), 0);
	assert_rv(expect_k(c, 1, 20, WAIT_MS), 0);
	ipcx_close(c);
	rm_log(url);
}

/* ---- many writers, many readers ------------------------------------------------------ */

#define MW_WRITERS 8
#define MW_READERS 3
#define MW_EACH    2000

static size_t
mw_size(uint32_t k)
{
	return 8 + tu_hash(k) % 600;
}

static int
mw_write(const char *url, uint32_t id)
{
	unsigned char b[700];
	ipcx_chan *c;

	TRY_RV(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
	for (uint32_t seq = 0; seq < MW_EACH; seq++) {
		uint32_t k = id << 16 | seq;
		tu_fill(b, mw_size(k), k);
		TRY_RV(ipcx_send(c, b, mw_size(k), WAIT_MS), 0);
	}
	ipcx_close(c);
	return 0;
}

/* Every record of every writer exactly once, intact, each writer's in the order sent. */
static int
mw_read(const char *url)
{
	uint32_t next[MW_WRITERS] = {0};
	unsigned char b[700];
	ipcx_chan *c;
	size_t len;

	TRY_RV(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
	for (uint32_t got = 0; got < MW_WRITERS * MW_EACH; got++) {
		int64_t k;
		uint32_t w;
		TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
		k = tu_ident(b, len);
		TRY(k >= 0, "record %u: no identity (%zu bytes)", got, len);
		w = (uint32_t)k >> 16;
		TRY(w < MW_WRITERS && ((uint32_t)k & 0xffff) == next[w],
		    "record %u: writer %u seq %u", got, w, (uint32_t)k & 0xffff);
		TRY(len == mw_size((uint32_t)k) && tu_check(b, len, (uint32_t)k),
		    "record %u corrupt", got);
		next[w]++;
	}
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, 0), IPCX_ETIMEDOUT); /* and no more */
	ipcx_close(c);
	return 0;
}

static void
test_8_writers_and_3_readers_every_record_once_intact_and_in_order(void **state)
{
	char path[512], url[600];
	pid_t pids[MW_WRITERS + MW_READERS];
	ipcx_chan *c;

	(void)state;
	new_log(path, sizeof path, url, sizeof url, "");
	assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), 0); /* makes the log */
	for (int i = 0; i < MW_READERS + MW_WRITERS; i++) {
		pids[i] = tu_fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			ipcx_close(c);
			tu_child_exit(i < MW_READERS ? mw_read(url)
			                             : mw_write(url, (uint32_t)(i - MW_READERS)));
		}
	}
	for (int i = 0; i < MW_READERS + MW_WRITERS; i++) {
		assert_int_equal(tu_wait(pids[i], 120000), 0);
	}
	/* this channel, made before any record, sees them all as well */
	assert_int_equal(mw_read(url), 0);
	ipcx_close(c);
	rm_log(url);
}

/* ---- writers killed mid-append ------------------------------------------------------- */

#define KILL_ROUNDS    200
#define KILL_PER_LOG   20
#define KILL_MAX_RECS  100
#define KILL_BIG       (256 * 1024)
#define KILL_MAX_DELAY 1500 /* microseconds */

/* Mostly small records, every 8th a large one, so that a kill often lands inside a
 * write. */
static size_t
kill_size(uint32_t k)
{
	uint32_t h = tu_hash(k);

	return (k & 7) == 7 ? 65536 + h % (KILL_BIG - 65536) : 8 + h % 2048;
}

/* Append records until killed, reporting each acknowledged one (send returned 0) on ack. */
static _Noreturn void
kill_writer(const char *url, uint32_t round, int ack)
{
	unsigned char *b = tu_xmalloc(KILL_BIG);
	ipcx_chan *c;
	char x;

	if (ipcx_dial(&c, url, NULL, WAIT_MS) != 0) {
		tu_child_exit(1);
	}
	for (uint32_t seq = 0; seq < KILL_MAX_RECS; seq++) {
		uint32_t k = round << 16 | seq;
		tu_fill(b, kill_size(k), k);
		if (ipcx_send(c, b, kill_size(k), WAIT_MS) != 0 ||
		    tu_put(ack, &seq, sizeof seq) != 0) {
			tu_child_exit(1);
		}
	}
	/* all written: wait to be killed (the parent's read of ack never ends otherwise) */
	while (read(STDIN_FILENO, &x, 0) == 0 && pause() == -1) {
	}
	tu_child_exit(0);
}

typedef struct kill_log {
	char path[512], url[600];
	ipcx_chan *r;    /* reads everything as it comes */
	uint64_t whole;  /* bytes of the whole records read so far, with the header */
	uint32_t rounds; /* first round of this log */
} kill_log;

/* Read what round wrote: records 0, 1, 2 ... of that round, each intact, at least the
 * acknowledged ones. Then nothing whole is left (a torn end reads as "not yet"). */
static int
kill_drain(kill_log *kl, uint32_t round, uint32_t acked, unsigned char *b, uint32_t *count,
           bool *torn)
{
	uint32_t seq = 0;

	for (;;) {
		size_t len = 0;
		int64_t k;
		int rv = ipcx_recv(kl->r, b, KILL_BIG, &len, 0);
		if (rv == IPCX_ETIMEDOUT) {
			break;
		}
		TRY_RV(rv, 0);
		k = tu_ident(b, len);
		TRY(k == (int64_t)(round << 16 | seq), "round %u: record %lld, want seq %u", round,
		    (long long)k, seq);
		TRY(len == kill_size((uint32_t)k) && tu_check(b, len, (uint32_t)k),
		    "round %u seq %u: delivered corrupt", round, seq);
		kl->whole += rec_total(len);
		seq++;
	}
	TRY(seq >= acked, "round %u: %u acknowledged records, %u readable", round, acked, seq);
	*count = seq;
	*torn = (uint64_t)file_size(kl->path) > kl->whole;
	return 0;
}

static void
kill_open(kill_log *kl, uint32_t round)
{
	new_log(kl->path, sizeof kl->path, kl->url, sizeof kl->url, "");
	assert_rv(ipcx_dial(&kl->r, kl->url, NULL, WAIT_MS), 0);
	kl->whole = HDR;
	kl->rounds = round;
}

/* A reader from the start sees all rounds' readable records again, whole and in order. */
static void
kill_close(kill_log *kl, uint32_t end_round, const uint32_t *count, unsigned char *b)
{
	ipcx_chan *c;
	size_t len;

	assert_rv(ipcx_dial(&c, kl->url, NULL, WAIT_MS), 0);
	for (uint32_t r = kl->rounds; r < end_round; r++) {
		for (uint32_t seq = 0; seq < count[r]; seq++) {
			uint32_t k = r << 16 | seq;
			assert_rv(ipcx_recv(c, b, KILL_BIG, &len, WAIT_MS), 0);
			assert_int_equal(tu_ident(b, len), k);
			assert_true(len == kill_size(k) && tu_check(b, len, k));
		}
	}
	assert_rv(ipcx_recv(c, b, KILL_BIG, &len, 0), IPCX_ETIMEDOUT);
	ipcx_close(c);
	ipcx_close(kl->r);
	rm_log(kl->url);
}

static void
test_writer_sigkilled_200_times_only_whole_records_and_every_acked_one(void **state)
{
	unsigned char *b = tu_xmalloc(KILL_BIG);
	uint32_t count[KILL_ROUNDS] = {0};
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid() << 8;
	unsigned torn_seen = 0;
	kill_log kl;

	(void)state;
	print_message("[ INFO     ] kill delays from seed %u\n", seed);
	for (uint32_t round = 0; round < KILL_ROUNDS; round++) {
		struct timespec ts = {0, 0};
		uint32_t acked = 0, v;
		bool torn = false;
		int ack[2];
		pid_t pid;
		if (round % KILL_PER_LOG == 0) {
			if (round > 0) {
				kill_close(&kl, round, count, b);
			}
			kill_open(&kl, round);
		}
		tu_pipe(ack);
		pid = tu_fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			tu_close(ack[0]);
			ipcx_close(kl.r);
			kill_writer(kl.url, round, ack[1]);
		}
		tu_close(ack[1]);
		/* the point of the test: a kill at a random moment, before, between or inside
		 * appends */
		ts.tv_nsec = (long)(rand_r(&seed) % KILL_MAX_DELAY) * 1000;
		nanosleep(&ts, NULL);
		tu_kill(pid);
		while (tu_get(ack[0], &v, sizeof v, WAIT_MS) == 0) {
			assert_int_equal(v, acked); /* in order */
			acked++;
		}
		tu_close(ack[0]);
		assert_int_equal(kill_drain(&kl, round, acked, b, &count[round], &torn), 0);
		torn_seen += torn;
	}
	kill_close(&kl, KILL_ROUNDS, count, b);
	print_message("[ INFO     ] %u of %d kills left a torn record for the next writer\n",
	              torn_seen, KILL_ROUNDS);
	free(b);
}

/* ---- torn ends and corrupt bytes ----------------------------------------------------- */

static void
test_torn_end_is_not_yet_then_cut_off_by_the_next_writer(void **state)
{
	char path[512], url[600];
	ipcx_chan *w, *w2, *r;
	uint64_t a = HDR, b = a + rec_total(100), end;
	size_t len;
	char x[8];

	(void)state;
	new_log(path, sizeof path, url, sizeof url, "");
	assert_rv(ipcx_dial(&w, url, NULL, WAIT_MS), 0);
	assert_rv(ipcx_dial(&r, url, NULL, WAIT_MS), 0);
	assert_int_equal(send_k(w, 1, 100), 0);
	assert_int_equal(send_k(w, 2, 1000), 0);
	assert_int_equal(file_size(path), (long long)(b + rec_total(1000)));
	/* a writer killed inside its append: half of record 2 is there */
	assert_int_equal(truncate(path, (off_t)(b + 500)), 0);
	assert_rv(expect_k(r, 1, 100, WAIT_MS), 0);
	assert_rv(ipcx_recv(r, x, sizeof x, &len, 0), IPCX_ETIMEDOUT);
	assert_rv(ipcx_recv(r, x, sizeof x, &len, 50), IPCX_ETIMEDOUT);
	/* the next writer (another channel) cuts it off and appends where it began */
	assert_rv(ipcx_dial(&w2, url, NULL, WAIT_MS), 0);
	assert_int_equal(send_k(w2, 3, 50), 0);
	end = b + rec_total(50);
	assert_int_equal(file_size(path), (long long)end);
	assert_rv(expect_k(r, 3, 50, WAIT_MS), 0);
	/* only 10 bytes of a header: the same */
	poke(path, end, "IPCr\0\0\0\0\0\0", 10);
	assert_rv(ipcx_recv(r, x, sizeof x, &len, 0), IPCX_ETIMEDOUT);
	/* the first writer, whose idea of the end is stale, checks the end too */
	assert_int_equal(send_k(w, 4, 7), 0);
	assert_int_equal(file_size(path), (long long)(end + rec_total(7)));
	assert_rv(expect_k(r, 4, 7, WAIT_MS), 0);
	assert_rv(ipcx_recv(r, x, sizeof x, &len, 0), IPCX_ETIMEDOUT);
	/* the last record whole in length but with a bad footer: no record, and the next
	 * writer cuts it off, so the reader must wait at its start rather than step over it */
	end += rec_total(7);
	assert_int_equal(send_k(w, 5, 40), 0);
	flip(path, end + rec_total(40) - 3); /* a byte of the header CRC, which has the pid in */
	assert_rv(ipcx_recv(r, x, sizeof x, &len, 0), IPCX_ETIMEDOUT);
	assert_int_equal(send_k(w2, 6, 9), 0);
	assert_int_equal(file_size(path), (long long)(end + rec_total(9)));
	assert_rv(expect_k(r, 6, 9, WAIT_MS), 0);
	assert_rv(ipcx_recv(r, x, sizeof x, &len, 0), IPCX_ETIMEDOUT);
	ipcx_close(w);
	ipcx_close(w2);
	ipcx_close(r);
	rm_log(url);
}

#define CORRUPT_N 60

static size_t
corrupt_size(uint32_t i)
{
	return (i * 37) % 900;
}

static bool
corrupt_hit(uint32_t i)
{
	return i == 10 || i == 20 || i == 30 || i == 40 || i == 41 || i == 50;
}

static void
test_corrupt_bytes_in_the_middle_are_never_delivered(void **state)
{
	char path[512], url[600];
	uint64_t at[CORRUPT_N + 1];
	unsigned char junk[2048], forged[40];
	ipcx_chan *w, *r;
	size_t len;
	uint32_t v;

	(void)state;
	new_log(path, sizeof path, url, sizeof url, "");
	assert_rv(ipcx_dial(&w, url, NULL, WAIT_MS), 0);
	at[0] = HDR;
	for (uint32_t i = 0; i < CORRUPT_N; i++) {
		assert_int_equal(send_k(w, i, corrupt_size(i)), 0);
		at[i + 1] = at[i] + rec_total(corrupt_size(i));
	}
	assert_int_equal(file_size(path), (long long)at[CORRUPT_N]);
	/* 10: a payload byte flipped (its checksum fails) */
	flip(path, at[10] + 32 + 3);
	/* 20: its length field garbled (its header checksum fails) */
	v = 0xffffffffu;
	poke(path, at[20] + 4, &v, 4);
	/* 30: its footer garbled */
	poke(path, at[30 + 1] - 6, "\x55\x55", 2);
	/* 40 and 41: overwritten by garbage from the middle of 40's header on */
	tu_fill(junk, sizeof junk, 99);
	assert_true(at[42] - at[40] - 16 <= sizeof junk);
	poke(path, at[40] + 16, junk, (size_t)(at[42] - at[40] - 16));
	/* 50: a forged header, checksum and all, that claims a gigabyte the file lacks */
	make_record(forged, at[50], 0, "", 0);
	put32le(forged + 4, 1u << 30);
	put32le(forged + 28, ipcx__crc32c(0, forged, 28));
	poke(path, at[50], forged, 32);

	assert_rv(ipcx_dial(&r, url, NULL, WAIT_MS), 0);
	for (uint32_t i = 0; i < CORRUPT_N; i++) {
		if (!corrupt_hit(i)) {
			assert_rv(expect_k(r, i, corrupt_size(i), WAIT_MS), 0);
		}
	}
	assert_rv(ipcx_recv(r, junk, sizeof junk, &len, 0), IPCX_ETIMEDOUT);
	/* garbage at the end: "not yet", until a writer cuts it off */
	poke(path, at[CORRUPT_N], junk, 100);
	assert_rv(ipcx_recv(r, junk, sizeof junk, &len, 0), IPCX_ETIMEDOUT);
	assert_int_equal(send_k(w, 1000, 33), 0);
	assert_int_equal(file_size(path), (long long)(at[CORRUPT_N] + rec_total(33)));
	assert_rv(expect_k(r, 1000, 33, WAIT_MS), 0);
	ipcx_close(w);
	ipcx_close(r);
	rm_log(url);
}

/* ---- waiting ------------------------------------------------------------------------- */

/* State letter of a process ('S': sleeping), or 0. */
static char
proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		return 0;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) {
		return 0;
	}
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : 0;
}

/* Once the parent sleeps (in its recv), append record k. */
static int
wake_child(const char *url, int go, uint32_t k)
{
	pid_t parent = getppid();
	ipcx_chan *c;
	char x;

	TRY_RV(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
	TRY(tu_get(go, &x, 1, WAIT_MS) == 0, "go");
	/* a bound, not a synchronisation: the recv must return the record either way */
	for (int i = 0; i < 2000 && proc_state(parent) != 'S'; i++) {
		poll(NULL, 0, 1);
	}
	TRY_OK(send_k(c, k, 64));
	ipcx_close(c);
	return 0;
}

static void
test_recv_sleeps_on_inotify_and_wakes_for_an_append_timeouts_honoured(void **state)
{
	char path[512], url[600], b[16];
	struct pollfd p;
	ipcx_chan *r;
	size_t len;
	int go[2];
	pid_t pid;

	(void)state;
	new_log(path, sizeof path, url, sizeof url, "");
	assert_rv(ipcx_dial(&r, url, NULL, WAIT_MS), 0);
	assert_rv(ipcx_recv(r, b, sizeof b, &len, 0), IPCX_ETIMEDOUT);
	assert_rv(ipcx_recv(r, b, sizeof b, &len, 100), IPCX_ETIMEDOUT);
	tu_pipe(go);
	pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ipcx_close(r);
		tu_close(go[1]);
		tu_child_exit(wake_child(url, go[0], 5));
	}
	assert_int_equal(tu_put(go[1], "g", 1), 0);
	assert_rv(expect_k(r, 5, 64, WAIT_MS), 0); /* asleep in here when the record comes */
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);

	/* the pollable fd: quiet on an empty log, readable once a record is appended */
	p = (struct pollfd){.fd = ipcx_chan_fd(r), .events = POLLIN};
	assert_true(p.fd >= 0);
	assert_rv(ipcx_recv(r, b, sizeof b, &len, 0), IPCX_ETIMEDOUT);
	assert_int_equal(poll(&p, 1, 0), 0);
	pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ipcx_close(r);
		tu_close(go[1]);
		tu_child_exit(wake_child(url, go[0], 6));
	}
	assert_int_equal(tu_put(go[1], "g", 1), 0);
	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	assert_rv(expect_k(r, 6, 64, 0), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	tu_close(go[0]);
	tu_close(go[1]);
	ipcx_close(r);
	rm_log(url);
}

static void
test_chan_fd_stays_readable_while_records_remain(void **state)
{
	char path[512], url[600];
	unsigned char b[64];
	ipcx_chan *w, *r;
	uint32_t got = 0, spurious = 0;
	size_t len;
	int fd;

	(void)state;
	new_log(path, sizeof path, url, sizeof url, "");
	assert_rv(ipcx_dial(&w, url, NULL, WAIT_MS), 0);
	assert_rv(ipcx_dial(&r, url, NULL, WAIT_MS), 0);
	fd = ipcx_chan_fd(r);
	assert_true(fd >= 0);
	for (uint32_t i = 0; i < 3000; i++) {
		assert_int_equal(send_k(w, i, 20), 0);
	}
	while (got < 3000) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int rv;
		assert_int_equal(poll(&p, 1, WAIT_MS), 1);
		rv = ipcx_recv(r, b, sizeof b, &len, 0);
		if (rv == IPCX_ETIMEDOUT) {
			assert_true(++spurious < 100);
			continue;
		}
		assert_rv(rv, 0);
		assert_true(len == 20 && tu_check(b, len, got));
		got++;
	}
	assert_rv(ipcx_recv(r, b, sizeof b, &len, 0), IPCX_ETIMEDOUT);
	ipcx_close(w);
	ipcx_close(r);
	rm_log(url);
}

/* ---- sizes --------------------------------------------------------------------------- */

static void
test_emsgsize_keeps_the_offset_and_longer_than_maxmsg_is_skipped(void **state)
{
	char path[512], url[600], small_url[700];
	unsigned char *b = tu_xmalloc(300000);
	ipcx_chan *w, *r, *s;
	struct pollfd p;
	size_t len;

	(void)state;
	new_log(path, sizeof path, url, sizeof url, "");
	assert_rv(ipcx_dial(&w, url, NULL, WAIT_MS), 0);
	assert_int_equal(send_k(w, 0, 1000), 0);
	assert_int_equal(send_k(w, 1, 300000), 0); /* larger than the read buffer */
	assert_rv(ipcx_send(w, NULL, 0, WAIT_MS), 0);
	assert_int_equal(send_k(w, 3, 10000), 0);
	assert_int_equal(send_k(w, 4, 10), 0);

	assert_rv(ipcx_dial(&r, url, NULL, WAIT_MS), 0);
	assert_rv(ipcx_recv(r, b, 10, &len, WAIT_MS), IPCX_EMSGSIZE);
	assert_int_equal(len, 1000);
	p = (struct pollfd){.fd = ipcx_chan_fd(r), .events = POLLIN};
	assert_int_equal(poll(&p, 1, WAIT_MS), 1); /* the kept record keeps the fd readable */
	assert_rv(ipcx_recv(r, NULL, 0, &len, 0), IPCX_EMSGSIZE);
	assert_int_equal(len, 1000);
	assert_rv(ipcx_recv(r, b, 999, &len, 0), IPCX_EMSGSIZE);
	assert_rv(expect_k(r, 0, 1000, 0), 0);
	assert_rv(ipcx_recv(r, b, 1, &len, 0), IPCX_EMSGSIZE);
	assert_int_equal(len, 300000);
	assert_rv(ipcx_recv(r, b, 299999, &len, 0), IPCX_EMSGSIZE);
	assert_int_equal(len, 300000);
	assert_rv(expect_k(r, 1, 300000, 0), 0);
	len = 99;
	assert_rv(ipcx_recv(r, NULL, 0, &len, 0), 0); /* zero bytes: a record all the same */
	assert_int_equal(len, 0);
	assert_rv(expect_k(r, 3, 10000, 0), 0);
	assert_rv(expect_k(r, 4, 10, 0), 0);

	/* a reader with a smaller maxmsg: a longer record is reported once and passed */
	snprintf(small_url, sizeof small_url, "%s?maxmsg=4096", url);
	assert_rv(ipcx_dial(&s, small_url, NULL, WAIT_MS), 0);
	assert_rv(expect_k(s, 0, 1000, 0), 0);
	assert_rv(ipcx_recv(s, b, 300000, &len, 0), IPCX_EMSGSIZE);
	assert_int_equal(len, 300000);
	assert_rv(ipcx_recv(s, b, 300000, &len, 0), 0);
	assert_int_equal(len, 0);
	assert_rv(ipcx_recv(s, b, 300000, &len, 0), IPCX_EMSGSIZE);
	assert_int_equal(len, 10000);
	assert_rv(expect_k(s, 4, 10, 0), 0);
	assert_int_equal(send_k(s, 5, 4097), IPCX_EMSGSIZE); /* and it sends no more either */
	ipcx_close(w);
	ipcx_close(r);
	ipcx_close(s);
	rm_log(url);
	free(b);
}

/* ---- durability, offsets ------------------------------------------------------------- */

static int
durable_writer(const char *url)
{
	ipcx_chan *c;

	TRY_RV(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
	for (uint32_t i = 0; i < 10; i++) {
		TRY_OK(send_k(c, i, 100 + i));
	}
	ipcx_close(c);
	return 0;
}

static void
test_records_outlive_their_writer_and_each_reader_keeps_its_offset(void **state)
{
	char path[512], url[600], end_url[700];
	ipcx_chan *r1, *r2, *r3, *w;
	size_t len;
	char b[8];
	pid_t pid;

	(void)state;
	new_log(path, sizeof path, url, sizeof url, "");
	pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		tu_child_exit(durable_writer(url)); /* makes the log, writes, exits */
	}
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	assert_true(file_size(path) > HDR); /* still there: dial made it, close keeps it */
	assert_rv(ipcx_dial(&r1, url, NULL, WAIT_MS), 0);
	assert_rv(ipcx_dial(&r2, url, NULL, WAIT_MS), 0);
	snprintf(end_url, sizeof end_url, "%s?start=end", url);
	assert_rv(ipcx_dial(&r3, end_url, NULL, WAIT_MS), 0);
	for (uint32_t i = 0; i < 3; i++) {
		assert_rv(expect_k(r1, i, 100 + i, 0), 0);
	}
	for (uint32_t i = 0; i < 10; i++) {
		assert_rv(expect_k(r2, i, 100 + i, 0), 0);
	}
	for (uint32_t i = 3; i < 10; i++) {
		assert_rv(expect_k(r1, i, 100 + i, 0), 0);
	}
	assert_rv(ipcx_recv(r3, b, sizeof b, &len, 0), IPCX_ETIMEDOUT);
	/* a writer is a reader of the whole log too, its own records included */
	assert_rv(ipcx_dial(&w, url, NULL, WAIT_MS), 0);
	assert_int_equal(send_k(w, 10, 5), 0);
	for (uint32_t i = 0; i < 11; i++) {
		assert_rv(expect_k(w, i, i < 10 ? 100 + i : 5, 0), 0);
	}
	assert_rv(expect_k(r1, 10, 5, WAIT_MS), 0);
	assert_rv(expect_k(r2, 10, 5, WAIT_MS), 0);
	assert_rv(expect_k(r3, 10, 5, WAIT_MS), 0);
	ipcx_close(r1);
	ipcx_close(r2);
	ipcx_close(r3);
	ipcx_close(w);
	rm_log(url);
}

/* ---- sync modes ---------------------------------------------------------------------- */

static int
sync_writer(const char *url)
{
	ipcx_chan *c;

	TRY_RV(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
	for (uint32_t i = 0; i < 50; i++) {
		TRY_OK(send_k(c, i, 1 + i * 13));
	}
	ipcx_close(c);
	return 0;
}

static void
test_sync_modes_always_batch_none_deliver_and_bad_values_are_refused(void **state)
{
	static const char *const modes[] = {"", "?sync=none", "?sync=batch", "?sync=always",
	                                    "?sync=batch&syncms=1"};
	static const char *const bad[] = {"?sync=sometimes", "?sync=",        "?syncms=0",
	                                  "?syncms=3600001", "?start=middle", "?bogus=1",
	                                  "?raw=1"};
	char path[512], url[600];
	ipcx_listener *l;
	ipcx_chan *c;

	(void)state;
	for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
		ipcx_chan *r;
		pid_t pid;
		new_log(path, sizeof path, url, sizeof url, modes[m]);
		pid = tu_fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			tu_child_exit(sync_writer(url));
		}
		assert_int_equal(tu_wait(pid, WAIT_MS), 0);
		log_url(url, sizeof url, path, "");
		assert_rv(ipcx_dial(&r, url, NULL, WAIT_MS), 0);
		for (uint32_t i = 0; i < 50; i++) {
			assert_rv(expect_k(r, i, 1 + i * 13, 0), 0);
		}
		ipcx_close(r);
		rm_log(url);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int want = strcmp(bad[i], "?raw=1") == 0 ? IPCX_ENOTSUP : IPCX_EBADURL;
		new_log(path, sizeof path, url, sizeof url, bad[i]);
		assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), want);
		assert_rv(ipcx_listen(&l, url, NULL), want);
		assert_int_equal(file_size(path), -1); /* nothing made */
	}
}

/* ---- modes and the creator ----------------------------------------------------------- */

static void
test_logs_get_exactly_the_mode_asked_for_whatever_the_umask(void **state)
{
	static const mode_t masks[] = {0, 022, 077};
	char path[512], url[600], abs[PATH_MAX];
	struct stat st;
	ipcx_listener *l;
	ipcx_chan *c;
	pid_t pid;
	unsigned long long start;

	(void)state;
	for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
		mode_t old = umask(masks[i]);
		new_log(path, sizeof path, url, sizeof url, "");
		assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		/* the creator is on record for `ipcx ls` */
		assert_rv(ipcx__abs_path(abs, sizeof abs, path), 0);
		assert_rv(ipcx__registry_lookup("file", abs, &pid, &start), 0);
		assert_int_equal(pid, getpid());
		ipcx_close(c);
		rm_log(url);
		assert_rv(ipcx__registry_lookup("file", abs, &pid, &start), IPCX_ENOENT);

		new_log(path, sizeof path, url, sizeof url, "?mode=0640");
		assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0640);
		ipcx_close(c);
		rm_log(url);

		new_log(path, sizeof path, url, sizeof url, "?mode=0604");
		assert_rv(ipcx_listen(&l, url, NULL), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0604);
		ipcx_listener_close(l);
		umask(old);
	}
}

static void
test_read_only_log_reads_and_refuses_sends(void **state)
{
	char path[512], url[600];
	ipcx_chan *w, *r;

	(void)state;
	new_log(path, sizeof path, url, sizeof url, "?mode=0444");
	assert_rv(ipcx_dial(&w, url, NULL, WAIT_MS), 0); /* the creator has it open already */
	assert_int_equal(send_k(w, 1, 10), 0);
	log_url(url, sizeof url, path, "");
	if (geteuid() == 0) {
		ipcx_close(w);
		rm_log(url);
		print_message("[ SKIP     ] root may write any file\n");
		skip();
	}
	assert_rv(ipcx_dial(&r, url, NULL, WAIT_MS), 0);
	assert_rv(expect_k(r, 1, 10, 0), 0);
	assert_int_equal(send_k(r, 2, 10), IPCX_EACCES);
	ipcx_close(r);
	ipcx_close(w);
	rm_log(url);
}

static void
test_a_path_that_is_no_log_is_refused_untouched(void **state)
{
	char path[512], url[600], link_path[512], b[16];
	ipcx_chan *c = NULL;
	ipcx_listener *l = NULL;
	int fd;

	(void)state;
	new_log(path, sizeof path, url, sizeof url, "");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "plain text\n", 11), 11);
	close(fd);
	assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), IPCX_EPROTO);
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_EEXIST);
	assert_int_equal(file_size(path), 11);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(read(fd, b, sizeof b), 11);
	close(fd);
	assert_memory_equal(b, "plain text\n", 11);
	/* a symbolic link is not followed */
	tu_path(link_path, sizeof link_path, "link");
	assert_int_equal(symlink(path, link_path), 0);
	log_url(url, sizeof url, link_path, "");
	assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), IPCX_ELOOP);
	assert_null(c);
	unlink(link_path);
	unlink(path);
}

/* ---- listeners ----------------------------------------------------------------------- */

static int
hi_client(const char *url)
{
	ipcx_chan *c;
	size_t len;
	char b[8];

	TRY_RV(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
	TRY_RV(ipcx_send(c, "hi", 2, WAIT_MS), 0);
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	TRY(len == 3 && memcmp(b, "bye", 3) == 0, "reply");
	ipcx_close(c);
	return 0;
}

static void
serve_hi(ipcx_listener *l, const char *url)
{
	ipcx_chan *c;
	size_t len;
	char b[8];
	pid_t pid = tu_fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		tu_child_exit(hi_client(url));
	}
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_true(len == 2 && memcmp(b, "hi", 2) == 0);
	assert_rv(ipcx_send(c, "bye", 3, WAIT_MS), 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), IPCX_ECLOSED);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
}

static void
test_listener_owns_its_log_and_pairs_leave_no_names(void **state)
{
	char path[512], url[600], keep_url[700];
	unsigned flags;
	pid_t creator;
	unsigned long long start;
	bool this_boot;
	ipcx_listener *l, *l2 = NULL;
	ipcx_chan *c = NULL;

	(void)state;
	new_log(path, sizeof path, url, sizeof url, "");
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	assert_rv(ipcx__file_header(path, &flags, &creator, &start, &this_boot), 0);
	assert_int_equal(flags, 1); /* a listener's log */
	assert_int_equal(creator, getpid());
	serve_hi(l, url);
	serve_hi(l, url);
	assert_int_equal(dir_entries(), 1); /* the listener's log only: no pair names */
	/* a second listener on a live one */
	assert_rv(ipcx_listen(&l2, url, NULL), IPCX_EADDRINUSE);
	ipcx_listener_close(l);
	assert_int_equal(dir_entries(), 0);

	/* keep: the log stays, nobody listens: a dial is refused, a new listener takes it */
	snprintf(keep_url, sizeof keep_url, "%s?keep=1", url);
	assert_rv(ipcx_listen(&l, keep_url, NULL), 0);
	ipcx_listener_close(l);
	assert_true(file_size(path) >= HDR);
	assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), IPCX_ECONNREFUSED);
	assert_null(c);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	serve_hi(l, url);
	ipcx_listener_close(l);
	assert_int_equal(dir_entries(), 0);

	/* a log of data is never taken over by a listener */
	assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
	assert_int_equal(send_k(c, 1, 10), 0);
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_EEXIST);
	assert_rv(expect_k(c, 1, 10, 0), 0);
	ipcx_close(c);
	rm_log(url);
}

static int
listen_and_hang(const char *url, int up)
{
	ipcx_listener *l;
	char x;

	TRY_RV(ipcx_listen(&l, url, NULL), 0);
	TRY(tu_put(up, "l", 1) == 0, "ctl");
	while (read(STDIN_FILENO, &x, 0) == 0 && pause() == -1) {
	}
	return 0;
}

static void
test_log_of_a_sigkilled_listener_is_refused_then_replaced_and_no_fd_leaks(void **state)
{
	char path[512], url[600], b[4];
	ipcx_listener *l;
	ipcx_chan *c = NULL, *w;
	size_t len;
	int up[2], fds;
	pid_t pid;

	(void)state;
	fds = tu_fd_count();
	new_log(path, sizeof path, url, sizeof url, "");
	tu_pipe(up);
	pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		tu_close(up[0]);
		tu_child_exit(listen_and_hang(url, up[1]));
	}
	tu_close(up[1]);
	assert_int_equal(tu_get(up[0], b, 1, WAIT_MS), 0);
	tu_close(up[0]);
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_EADDRINUSE);
	tu_kill(pid);
	/* its log stays, with nobody behind it */
	assert_true(file_size(path) >= HDR);
	assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), IPCX_ECONNREFUSED);
	assert_null(c);
	assert_rv(ipcx_listen(&l, url, NULL), 0); /* replaced, and recorded as ours */
	serve_hi(l, url);
	ipcx_listener_close(l);
	assert_int_equal(dir_entries(), 0);

	/* every descriptor (inotify, epoll, eventfd, the logs) goes with its channel */
	new_log(path, sizeof path, url, sizeof url, "");
	assert_rv(ipcx_dial(&w, url, NULL, WAIT_MS), 0);
	assert_true(ipcx_chan_fd(w) >= 0);
	assert_rv(ipcx_recv(w, b, sizeof b, &len, 0), IPCX_ETIMEDOUT);
	ipcx_close(w);
	rm_log(url);
	assert_int_equal(tu_fd_count(), fds);
}

static int
dial_and_hang(const char *url)
{
	ipcx_chan *c;

	/* nobody accepts: killed while waiting */
	return ipcx_dial(&c, url, NULL, WAIT_MS) == 0 ? 0 : 1;
}

static void
test_client_sigkilled_in_its_dial_leaves_nothing(void **state)
{
	char path[512], url[600];
	ipcx_listener *l;
	ipcx_chan *c = NULL;
	struct pollfd p;
	pid_t pid;

	(void)state;
	for (int close_first = 0; close_first < 2; close_first++) {
		new_log(path, sizeof path, url, sizeof url, "");
		assert_rv(ipcx_listen(&l, url, NULL), 0);
		pid = tu_fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			tu_child_exit(dial_and_hang(url));
		}
		/* its hello is there: it made its pair and waits for the acknowledgement */
		p = (struct pollfd){.fd = ipcx_listener_fd(l), .events = POLLIN};
		assert_int_equal(poll(&p, 1, WAIT_MS), 1);
		tu_kill(pid);
		assert_int_equal(dir_entries(), 3);
		if (!close_first) {
			/* the listener finds the client dead, removes its pair, serves the next */
			assert_rv(ipcx_accept(l, &c, 0), IPCX_ETIMEDOUT);
			assert_null(c);
			assert_int_equal(dir_entries(), 1);
			serve_hi(l, url);
		}
		ipcx_listener_close(l); /* (or its close does) */
		assert_int_equal(dir_entries(), 0);
	}
}

/* ---- main ---------------------------------------------------------------------------- */

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int
main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
	        T(test_crc32c_known_values_and_both_implementations_agree),
	        T(test_byte_format_is_the_documented_one),
	        T(test_records_of_unknown_types_are_passed_over),
	        T(test_8_writers_and_3_readers_every_record_once_intact_and_in_order),
	        T(test_writer_sigkilled_200_times_only_whole_records_and_every_acked_one),
	        T(test_torn_end_is_not_yet_then_cut_off_by_the_next_writer),
	        T(test_corrupt_bytes_in_the_middle_are_never_delivered),
	        T(test_recv_sleeps_on_inotify_and_wakes_for_an_append_timeouts_honoured),
	        T(test_chan_fd_stays_readable_while_records_remain),
	        T(test_emsgsize_keeps_the_offset_and_longer_than_maxmsg_is_skipped),
	        T(test_records_outlive_their_writer_and_each_reader_keeps_its_offset),
	        T(test_sync_modes_always_batch_none_deliver_and_bad_values_are_refused),
	        T(test_logs_get_exactly_the_mode_asked_for_whatever_the_umask),
	        T(test_read_only_log_reads_and_refuses_sends),
	        T(test_a_path_that_is_no_log_is_refused_untouched),
	        T(test_listener_owns_its_log_and_pairs_leave_no_names),
	        T(test_client_sigkilled_in_its_dial_leaves_nothing),
	        T(test_log_of_a_sigkilled_listener_is_refused_then_replaced_and_no_fd_leaks),
	};

	return tu_run("file", tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
