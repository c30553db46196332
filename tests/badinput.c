/*
 * badinput.c - bytes from a peer are untrusted: garbage, truncated frames, huge lengths and
 * wrong SP headers sent from raw sockets and pipes give IPCX_EPROTO on that channel only
 * (decided from the length alone, before any allocation), close it, and leave the listener
 * serving good clients.
 */
#include "testutil.h"

#include "core/ipcx_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define WAIT_MS 30000

static const unsigned char sp_hdr[8] = {0x00, 0x53, 0x50, 0x00, 0x00, 0x10, 0x00, 0x00};

static void
put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

/* Read exactly n bytes from a raw fd within WAIT_MS. */
static void
raw_read(int fd, void *buf, size_t n)
{
	assert_int_equal(tu_get(fd, buf, n, WAIT_MS), 0);
}

static void
raw_write(int fd, const void *buf, size_t n)
{
	assert_int_equal(tu_put(fd, buf, n), 0);
}

/* The raw peer must see its connection closed (EOF or reset) after the server gave up on
 * it; whatever the server had sent before (its SP header) is skipped. */
static void
raw_expect_closed(int fd)
{
	for (int i = 0; i < 64; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char b[64];
		ssize_t n;
		if (poll(&p, 1, WAIT_MS) != 1) {
			fail_msg("the server did not close the bad connection");
		}
		n = recv(fd, b, sizeof b, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			return;
		}
		assert_true(n > 0 || errno == EAGAIN);
	}
	fail_msg("the server kept sending on the bad connection");
}

/* ---- tcp ----------------------------------------------------------------------------- */

static int
tcp_listen(ipcx_listener **l, const char *query, struct sockaddr_in *sa)
{
	char url[256], got[256];
	const char *colon;

	snprintf(url, sizeof url, "tcp://127.0.0.1:0%s", query);
	assert_rv(ipcx_listen(l, url, NULL), 0);
	assert_rv(ipcx_listener_url(*l, got, sizeof got), 0);
	colon = strrchr(got, ':');
	assert_non_null(colon);
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(ntohs(sa->sin_port) != 0);
	return 0;
}

static int
raw_connect(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (const struct sockaddr *)sa, sizeof *sa), 0);
	return fd;
}

static void
good_dial(ipcx_chan **c, const struct sockaddr_in *sa)
{
	char url[64];

	snprintf(url, sizeof url, "tcp://127.0.0.1:%u", ntohs(sa->sin_port));
	assert_rv(ipcx_dial(c, url, NULL, WAIT_MS), 0);
	assert_rv(ipcx_send(*c, "good", 4, WAIT_MS), 0);
}

enum stage {
	HANDSHAKE, /* a bad header: accept may drop the client or recv gives EPROTO */
	FRAMES,    /* after a good header: the accepted channel's recv gives EPROTO */
};

/* One bad client (bytes, then close or stay open) followed by a good one: the bad one's
 * channel fails with EPROTO (sticky) and is closed; the good one is served. */
static void
tcp_bad_client(const char *query, const void *bytes, size_t n, bool close_after, enum stage stage)
{
	struct sockaddr_in sa;
	ipcx_listener *l;
	ipcx_chan *good = NULL, *c = NULL;
	char b[4096];
	size_t len = 0;
	int raw, rv;

	tcp_listen(&l, query, &sa);
	raw = raw_connect(&sa);
	raw_write(raw, bytes, n);
	if (close_after) {
		shutdown(raw, SHUT_WR);
	}
	good_dial(&good, &sa);

	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	rv = ipcx_recv(c, b, sizeof b, &len, WAIT_MS);
	if (rv == 0 && stage == HANDSHAKE) {
		/* accept itself dropped the bad client: this is the good one */
		assert_int_equal(len, 4);
		assert_memory_equal(b, "good", 4);
	} else {
		assert_rv(rv, IPCX_EPROTO);
		assert_rv(ipcx_recv(c, b, sizeof b, &len, 0), IPCX_EPROTO); /* sticky */
		ipcx_close(c);
		c = NULL;
		assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
		assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
		assert_int_equal(len, 4);
		assert_memory_equal(b, "good", 4);
	}
	raw_expect_closed(raw);
	/* and the good client gets an answer */
	assert_rv(ipcx_send(c, "ack", 3, WAIT_MS), 0);
	assert_rv(ipcx_recv(good, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 3);
	ipcx_close(c);
	ipcx_close(good);
	close(raw);
	ipcx_listener_close(l);
}

static void
test_tcp_speaks_sp_pair0_on_the_wire(void **state)
{
	struct sockaddr_in sa;
	ipcx_listener *l;
	ipcx_chan *c = NULL;
	unsigned char b[64], frame[8 + 5];
	size_t len = 0;
	int raw;

	(void)state;
	tcp_listen(&l, "", &sa);
	raw = raw_connect(&sa);
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	/* The server's header comes without waiting for ours (nng peers wait for it). */
	raw_read(raw, b, 8);
	assert_memory_equal(b, sp_hdr, 8);
	raw_write(raw, sp_hdr, 8);
	put_be64(frame, 5);
	memcpy(frame + 8, "hello", 5);
	raw_write(raw, frame, sizeof frame);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(b, "hello", 5);
	assert_rv(ipcx_send(c, "world!", 6, WAIT_MS), 0);
	raw_read(raw, b, 8 + 6);
	put_be64(frame, 6);
	assert_memory_equal(b, frame, 8);
	assert_memory_equal(b + 8, "world!", 6);
	/* zero-length message: just a zero length */
	assert_rv(ipcx_send(c, NULL, 0, WAIT_MS), 0);
	raw_read(raw, b, 8);
	put_be64(frame, 0);
	assert_memory_equal(b, frame, 8);
	ipcx_close(c);
	close(raw);
	ipcx_listener_close(l);
}

static void
test_tcp_garbage_instead_of_header_gives_eproto_and_listener_serves_next(void **state)
{
	static const char http[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";

	(void)state;
	tcp_bad_client("", http, sizeof http - 1, false, HANDSHAKE);
	tcp_bad_client("", http, sizeof http - 1, true, HANDSHAKE);
}

static void
test_tcp_wrong_sp_header_gives_eproto_and_listener_serves_next(void **state)
{
	static const unsigned char bad[][8] = {
	        {0x00, 0x53, 0x50, 0x00, 0x00, 0x11, 0x00, 0x00}, /* pair1 */
	        {0x00, 0x53, 0x50, 0x00, 0x00, 0x30, 0x00, 0x00}, /* req0 */
	        {0x00, 0x53, 0x50, 0x01, 0x00, 0x10, 0x00, 0x00}, /* version */
	        {0x01, 0x53, 0x50, 0x00, 0x00, 0x10, 0x00, 0x00}, /* magic */
	        {0x00, 0x53, 0x51, 0x00, 0x00, 0x10, 0x00, 0x00}, /* magic */
	        {0x00, 0x53, 0x50, 0x00, 0x00, 0x10, 0x00, 0x01}, /* reserved */
	        {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05}, /* a bare length frame */
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned char msg[8 + 8 + 1];
		memcpy(msg, bad[i], 8);
		put_be64(msg + 8, 1);
		msg[16] = 'x';
		tcp_bad_client("", msg, sizeof msg, false, HANDSHAKE);
	}
}

static void
test_tcp_truncated_header_then_close_gives_eproto(void **state)
{
	(void)state;
	tcp_bad_client("", sp_hdr, 4, true, HANDSHAKE);
}

static void
test_tcp_truncated_frames_then_close_give_eproto(void **state)
{
	unsigned char m[8 + 8 + 10];

	(void)state;
	/* the length field cut short */
	memcpy(m, sp_hdr, 8);
	put_be64(m + 8, 100);
	tcp_bad_client("", m, 8 + 3, true, FRAMES);
	/* the body cut short: 10 of 100 bytes */
	memset(m + 16, 'z', 10);
	tcp_bad_client("", m, sizeof m, true, FRAMES);
}

static void
test_tcp_huge_lengths_give_eproto_without_waiting_for_the_body(void **state)
{
	static const uint64_t huge[] = {(uint64_t)1 << 63, UINT64_MAX, (uint64_t)1 << 32,
	                                IPCX_DEFAULT_MAX_MSG + 1};
	unsigned char m[16];

	(void)state;
	/* The raw client stays open and sends no body: only the length can decide. */
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		memcpy(m, sp_hdr, 8);
		put_be64(m + 8, huge[i]);
		tcp_bad_client("", m, sizeof m, false, FRAMES);
	}
}

static void
test_tcp_length_just_above_max_msg_gives_eproto_before_the_body(void **state)
{
	unsigned char m[16];

	(void)state;
	memcpy(m, sp_hdr, 8);
	put_be64(m + 8, 1025);
	tcp_bad_client("?maxmsg=1024", m, sizeof m, false, FRAMES);
}

static void
test_tcp_length_at_max_msg_is_delivered(void **state)
{
	struct sockaddr_in sa;
	ipcx_listener *l;
	ipcx_chan *c = NULL;
	unsigned char *m = tu_xmalloc(16 + 1024), b[1100];
	size_t len = 0;
	int raw;

	(void)state;
	tcp_listen(&l, "?maxmsg=1024", &sa);
	raw = raw_connect(&sa);
	memcpy(m, sp_hdr, 8);
	put_be64(m + 8, 1024);
	tu_fill(m + 16, 1024, 9);
	raw_write(raw, m, 16 + 1024);
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 1024);
	assert_true(tu_check(b, len, 9));
	ipcx_close(c);
	close(raw);
	ipcx_listener_close(l);
	free(m);
}

static void
test_tcp_good_frame_then_huge_length_delivers_first_then_eproto(void **state)
{
	struct sockaddr_in sa;
	ipcx_listener *l;
	ipcx_chan *c = NULL;
	unsigned char m[8 + 9 + 8], b[64];
	size_t len = 0;
	int raw;

	(void)state;
	tcp_listen(&l, "", &sa);
	raw = raw_connect(&sa);
	memcpy(m, sp_hdr, 8);
	put_be64(m + 8, 1);
	m[16] = 'x';
	put_be64(m + 17, (uint64_t)1 << 63);
	raw_write(raw, m, sizeof m);
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 1);
	assert_int_equal(b[0], 'x');
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), IPCX_EPROTO);
	raw_expect_closed(raw);
	ipcx_close(c);
	close(raw);
	ipcx_listener_close(l);
}

static void
test_tcp_silent_client_does_not_stop_the_listener(void **state)
{
	struct sockaddr_in sa;
	ipcx_listener *l;
	ipcx_chan *good = NULL, *c = NULL, *c2 = NULL;
	char b[16];
	size_t len = 0;
	int raw;

	(void)state;
	tcp_listen(&l, "", &sa);
	raw = raw_connect(&sa);
	raw_write(raw, sp_hdr, 3); /* half a header, then nothing */
	good_dial(&good, &sa);
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	if (ipcx_recv(c, b, sizeof b, &len, 0) == 0) {
		/* accept skipped the silent client already */
		assert_int_equal(len, 4);
	} else {
		assert_rv(ipcx_accept(l, &c2, WAIT_MS), 0);
		assert_rv(ipcx_recv(c2, b, sizeof b, &len, WAIT_MS), 0);
		assert_int_equal(len, 4);
		assert_memory_equal(b, "good", 4);
	}
	ipcx_close(c2);
	ipcx_close(c);
	ipcx_close(good);
	close(raw);
	ipcx_listener_close(l);
}

/* The dialing side is as strict as the listening side. */
static void
test_tcp_dialer_rejects_wrong_header_and_huge_length(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof sa;
	unsigned char b[64], m[16];
	size_t len;
	int lfd;

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	for (int round = 0; round < 2; round++) {
		char url[64];
		ipcx_chan *c = NULL;
		int fd;
		snprintf(url, sizeof url, "tcp://127.0.0.1:%u", ntohs(sa.sin_port));
		assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		assert_true(fd >= 0);
		raw_read(fd, b, 8);
		assert_memory_equal(b, sp_hdr, 8);
		if (round == 0) {
			static const unsigned char wrong[8] = {0, 'S', 'P', 0, 0, 0x11, 0, 0};
			raw_write(fd, wrong, 8);
		} else {
			memcpy(m, sp_hdr, 8);
			put_be64(m + 8, (uint64_t)1 << 63);
			raw_write(fd, m, 16);
		}
		len = 0;
		assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), IPCX_EPROTO);
		assert_rv(ipcx_recv(c, b, sizeof b, &len, 0), IPCX_EPROTO);
		raw_expect_closed(fd);
		ipcx_close(c);
		close(fd);
	}
	close(lfd);
}

/* ---- pipe (a framed channel over raw pipe fds) --------------------------------------- */

typedef struct rawpipe {
	ipcx_chan *c;
	int in; /* we write here; the channel reads */
} rawpipe;

static void
rawpipe_open(rawpipe *rp, size_t max_msg)
{
	ipcx__opts o = {.max_msg = max_msg, .mode = 0600};
	int a[2], b[2];

	tu_pipe(a);
	tu_pipe(b);
	assert_rv(ipcx__pipe_chan_from_fds(&rp->c, a[0], b[1], &o), 0);
	rp->in = a[1];
	close(b[0]); /* nothing is sent in these tests */
}

static void
rawpipe_close(rawpipe *rp)
{
	ipcx_close(rp->c);
	tu_close(rp->in);
}

static void
test_pipe_huge_or_over_max_length_gives_eproto_without_body(void **state)
{
	static const uint64_t bad[] = {(uint64_t)1 << 63, UINT64_MAX, 1025};
	unsigned char m[8], b[16];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rawpipe rp;
		rawpipe_open(&rp, 1024);
		put_be64(m, bad[i]);
		raw_write(rp.in, m, 8); /* the write end stays open: no EOF to lean on */
		len = 0;
		assert_rv(ipcx_recv(rp.c, b, sizeof b, &len, WAIT_MS), IPCX_EPROTO);
		assert_rv(ipcx_recv(rp.c, b, sizeof b, &len, 0), IPCX_EPROTO);
		rawpipe_close(&rp);
	}
}

static void
test_pipe_stream_ending_inside_a_frame_gives_eproto(void **state)
{
	unsigned char m[8 + 10], b[128];
	size_t len, cuts[] = {3, 8, 8 + 4};

	(void)state;
	put_be64(m, 100);
	memset(m + 8, 'q', 10);
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		rawpipe rp;
		rawpipe_open(&rp, 1024);
		raw_write(rp.in, m, cuts[i]);
		close(rp.in);
		rp.in = -1;
		len = 0;
		assert_rv(ipcx_recv(rp.c, b, sizeof b, &len, WAIT_MS), IPCX_EPROTO);
		rawpipe_close(&rp);
	}
}

static void
test_pipe_stream_ending_between_frames_gives_closed(void **state)
{
	unsigned char m[8 + 2], b[16];
	size_t len = 0;
	rawpipe rp;

	(void)state;
	rawpipe_open(&rp, 1024);
	put_be64(m, 2);
	m[8] = 'o';
	m[9] = 'k';
	raw_write(rp.in, m, sizeof m);
	close(rp.in);
	rp.in = -1;
	assert_rv(ipcx_recv(rp.c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 2);
	assert_rv(ipcx_recv(rp.c, b, sizeof b, &len, WAIT_MS), IPCX_ECLOSED);
	rawpipe_close(&rp);
}

/* A frame that arrives in pieces across recv timeouts is kept, not lost or misframed,
 * both for a small body (buffered) and a large one (read straight into the caller's). */
static void
test_pipe_frame_split_across_timeouts_is_kept_whole(void **state)
{
	static const size_t sizes[] = {10, 100000};
	unsigned char *m = tu_xmalloc(8 + 100000), *b = tu_xmalloc(100000);

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		size_t n = sizes[i], half = n / 2, len = 0;
		rawpipe rp;
		rawpipe_open(&rp, 1 << 20);
		put_be64(m, n);
		tu_fill(m + 8, n, (uint32_t)i);
		raw_write(rp.in, m, 8 + half);
		assert_rv(ipcx_recv(rp.c, b, n, &len, 50), IPCX_ETIMEDOUT);
		/* too small a buffer mid-frame: the size is already known */
		assert_rv(ipcx_recv(rp.c, b, n - 1, &len, 0), IPCX_EMSGSIZE);
		assert_int_equal(len, n);
		raw_write(rp.in, m + 8 + half, n - half);
		assert_rv(ipcx_recv(rp.c, b, n, &len, WAIT_MS), 0);
		assert_int_equal(len, n);
		assert_true(tu_check(b, n, (uint32_t)i));
		rawpipe_close(&rp);
	}
	free(m);
	free(b);
}

static void
test_pipe_good_frames_then_garbage_length(void **state)
{
	unsigned char m[8 + 3 + 8 + 8], b[16];
	size_t len = 0;
	rawpipe rp;

	(void)state;
	rawpipe_open(&rp, 1024);
	put_be64(m, 3);
	memcpy(m + 8, "abc", 3);
	put_be64(m + 11, 0);
	memset(m + 19, 0xff, 8);
	raw_write(rp.in, m, sizeof m);
	assert_rv(ipcx_recv(rp.c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 3);
	assert_rv(ipcx_recv(rp.c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 0);
	assert_rv(ipcx_recv(rp.c, b, sizeof b, &len, WAIT_MS), IPCX_EPROTO);
	rawpipe_close(&rp);
}

/* ---- unix and fifo listeners --------------------------------------------------------- */

static int
peer_dial_hi(const char *url)
{
	ipcx_chan *c = NULL;
	char b[8];
	size_t len = 0;

	TRY_RV(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
	TRY_RV(ipcx_send(c, "hi", 2, WAIT_MS), 0);
	TRY_RV(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	ipcx_close(c);
	return 0;
}

/* Garbage lines written into the well-known FIFO (where hellos go) are skipped: bad
 * tokens, path tricks, an overlong line, a token naming a regular file. The next real
 * client is served, and no file is touched on the garbage's behalf. */
static void
test_fifo_garbage_hellos_are_skipped_and_listener_serves_next(void **state)
{
	static const char *const lines[] = {
	        "\n",
	        "garbage\n",
	        "IPCX-FIFO/1 \n",
	        "IPCX-FIFO/1 ../../../../tmp/x\n",
	        "IPCX-FIFO/1 a/b\n",
	        "IPCX-FIFO/1 .hidden\n",
	        "IPCX-FIFO/1 UPPER\n",
	        "IPCX-FIFO/2 abc\n",
	        "IPCX-FIFO/1 nonexistent.token\n",
	        "IPCX-FIFO/1 victim\n",
	};
	char path[512], url[600], b[8], victim[700];
	unsigned char junk[300];
	char *longline = tu_xmalloc(3 * PIPE_BUF);
	ipcx_listener *l;
	ipcx_chan *c = NULL;
	size_t len = 0;
	struct stat st;
	pid_t pid;
	int fd, vfd;

	(void)state;
	tu_path(path, sizeof path, "srv");
	snprintf(url, sizeof url, "fifo://%s", path);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	/* regular files where a client's private FIFOs would be */
	snprintf(victim, sizeof victim, "%s.victim.dn", path);
	vfd = open(victim, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(vfd >= 0);
	close(vfd);
	snprintf(victim, sizeof victim, "%s.victim.up", path);
	vfd = open(victim, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(vfd >= 0);
	close(vfd);

	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(fd >= 0);
	tu_fill(junk, sizeof junk, 1);
	for (size_t i = 0; i < sizeof junk; i++) {
		junk[i] = junk[i] == '\n' ? 'x' : junk[i];
	}
	raw_write(fd, junk, sizeof junk);
	raw_write(fd, "\n\0\0\0\n", 5);
	memset(junk, 0xff, sizeof junk);
	raw_write(fd, junk, sizeof junk);
	raw_write(fd, "\n", 1);
	memset(longline, 'a', 3 * PIPE_BUF - 1);
	memcpy(longline, "IPCX-FIFO/1 ", 12);
	longline[3 * PIPE_BUF - 1] = '\n';
	raw_write(fd, longline, 3 * PIPE_BUF);
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		raw_write(fd, lines[i], strlen(lines[i]));
	}
	close(fd);
	pid = tu_fork();
	if (pid == 0) {
		tu_child_exit(peer_dial_hi(url));
	}
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 2);
	assert_rv(ipcx_send(c, "ok", 2, WAIT_MS), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
	/* the regular files are untouched (not removed, not written) */
	assert_int_equal(lstat(victim, &st), 0);
	assert_true(S_ISREG(st.st_mode) && st.st_size == 0);
	unlink(victim);
	snprintf(victim, sizeof victim, "%s.victim.dn", path);
	assert_int_equal(lstat(victim, &st), 0);
	assert_true(S_ISREG(st.st_mode) && st.st_size == 0);
	unlink(victim);
	free(longline);
}

/* A raw SOCK_SEQPACKET client sending more than the listener's max_msg must not get a
 * message through; the listener serves the next client. */
static void
test_unix_message_over_max_is_refused_and_listener_serves_next(void **state)
{
	char path[512], url[600], b[4096];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	ipcx_listener *l;
	ipcx_chan *c = NULL;
	size_t len = 0;
	pid_t pid;
	int raw, rv;

	(void)state;
	tu_path(path, sizeof path, "s");
	snprintf(url, sizeof url, "unix://%s?maxmsg=1024", path);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	raw = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(raw >= 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(raw, (struct sockaddr *)&sa, sizeof sa), 0);
	memset(b, 'x', sizeof b);
	assert_int_equal(send(raw, b, 2000, MSG_NOSIGNAL), 2000);
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	rv = ipcx_recv(c, b, sizeof b, &len, WAIT_MS);
	if (rv == 0) {
		fail_msg("a %zu-byte message passed a 1024-byte max_msg", len);
	}
	if (rv != IPCX_EPROTO && rv != IPCX_EMSGSIZE) {
		fail_msg("over max_msg: %s", ipcx_err_name(rv));
	}
	ipcx_close(c);
	c = NULL;
	close(raw);
	pid = tu_fork();
	if (pid == 0) {
		char u[600];
		snprintf(u, sizeof u, "unix://%s", path);
		tu_child_exit(peer_dial_hi(u));
	}
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 2);
	assert_rv(ipcx_send(c, "ok", 2, WAIT_MS), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	ipcx_listener_close(l);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int
main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
	        T(test_tcp_speaks_sp_pair0_on_the_wire),
	        T(test_tcp_garbage_instead_of_header_gives_eproto_and_listener_serves_next),
	        T(test_tcp_wrong_sp_header_gives_eproto_and_listener_serves_next),
	        T(test_tcp_truncated_header_then_close_gives_eproto),
	        T(test_tcp_truncated_frames_then_close_give_eproto),
	        T(test_tcp_huge_lengths_give_eproto_without_waiting_for_the_body),
	        T(test_tcp_length_just_above_max_msg_gives_eproto_before_the_body),
	        T(test_tcp_length_at_max_msg_is_delivered),
	        T(test_tcp_good_frame_then_huge_length_delivers_first_then_eproto),
	        T(test_tcp_silent_client_does_not_stop_the_listener),
	        T(test_tcp_dialer_rejects_wrong_header_and_huge_length),
	        T(test_pipe_huge_or_over_max_length_gives_eproto_without_body),
	        T(test_pipe_stream_ending_inside_a_frame_gives_eproto),
	        T(test_pipe_stream_ending_between_frames_gives_closed),
	        T(test_pipe_frame_split_across_timeouts_is_kept_whole),
	        T(test_pipe_good_frames_then_garbage_length),
	        T(test_fifo_garbage_hellos_are_skipped_and_listener_serves_next),
	        T(test_unix_message_over_max_is_refused_and_listener_serves_next),
	};

	return tu_run("badinput", tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
