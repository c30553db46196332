/*
 * fuzz_file_log.c - libFuzzer target for the file:// log: arbitrary bytes after a valid file
 * header are read as records (no crash, no hang, no record delivered that does not fit),
 * then one append must repair whatever end the bytes left and be read back, last.
 *
 * A custom mutator gives headers and footers their checksums now and then, so that the
 * fuzzer reaches whole records, overlapping ones and lengths that lie, not just garbage.
 */
#include "core/ipcx_int.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_MAX_MSG 65536
#define MARKER       "ipcx-fuzz-marker"
#define MARKER_LEN   16

static char fz_dir[256];
static char fz_path[300], fz_url[320], fz_rurl[360];
static unsigned char fz_hdr[64];
static unsigned char fz_buf[FUZZ_MAX_MSG + 1];

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static int
fz_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void
fz_cleanup(void)
{
	nftw(fz_dir, fz_rm, 8, FTW_DEPTH | FTW_PHYS);
}

static void
fz_init(void)
{
	char reg[300];
	ipcx_chan *c;
	int fd;

	if (fz_path[0] != '\0') {
		return;
	}
	/* under $TMPDIR: libFuzzer may end by _exit, skipping the atexit cleanup, so the
	 * runner points TMPDIR into a directory of its own that it removes */
	{
		const char *tmp = getenv("TMPDIR");
		int n = snprintf(fz_dir, sizeof fz_dir, "%s/ipcx-fuzz-file-XXXXXX",
		                 tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
		if (n < 0 || (size_t)n >= sizeof fz_dir || mkdtemp(fz_dir) == NULL) {
			abort();
		}
	}
	atexit(fz_cleanup);
	snprintf(reg, sizeof reg, "%s/registry", fz_dir);
	setenv("IPCX_REGISTRY_DIR", reg, 1);
	snprintf(fz_path, sizeof fz_path, "%s/log", fz_dir);
	snprintf(fz_url, sizeof fz_url, "file://%s", fz_path);
	snprintf(fz_rurl, sizeof fz_rurl, "%s?maxmsg=%d", fz_url, FUZZ_MAX_MSG);
	/* a real header, made by ipcx */
	if (ipcx_dial(&c, fz_url, NULL, 0) != 0) {
		abort();
	}
	ipcx_close(c);
	if ((fd = open(fz_path, O_RDONLY | O_CLOEXEC)) < 0 || pread(fd, fz_hdr, 64, 0) != 64) {
		abort();
	}
	close(fd);
}

static void
fz_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

/* Input byte i lands at file offset 63 + i (byte 0 picks the receive buffer size). Give
 * some 8-aligned headers their own offset and checksums, and a footer where their length
 * says. */
size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	size = LLVMFuzzerMutate(data, size, max_size);
	srand(seed);
	for (size_t i = 1; i + 32 <= size; i += 8) {
		uint64_t at = 63 + i;
		uint8_t *h = data + i;
		uint32_t len;
		uint64_t total; /* 64-bit: a length near 2^32 must not wrap it small */
		if (rand() % 4 != 0) {
			continue;
		}
		if (rand() % 2 == 0) {
			len = (uint32_t)(rand() % 200);
			fz_put32(h + 4, len);
		}
		len = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 |
		      (uint32_t)h[7] << 24;
		fz_put32(h, 0x72435049u);
		for (int k = 0; k < 8; k++) {
			h[8 + k] = (uint8_t)(at >> (8 * k));
		}
		if (len < size && i + 32 + len <= size) {
			fz_put32(h + 20, ipcx__crc32c(0, h + 32, len));
		}
		fz_put32(h + 28, ipcx__crc32c(0, h, 28));
		total = 32 + (((uint64_t)len + 7) & ~(uint64_t)7) + 8;
		if (rand() % 4 != 0 && (uint64_t)i + total <= size) {
			fz_put32(h + total - 8, (uint32_t)total);
			memcpy(h + total - 4, h + 28, 4);
		}
	}
	return size;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ipcx_chan *r, *w;
	size_t cap, len = 0;
	bool marker = false;
	int fd, rv;

	if (size < 1 || size > FUZZ_MAX_MSG) {
		return 0;
	}
	fz_init();
	cap = (size_t)data[0] * 257;
	if ((fd = open(fz_path, O_WRONLY | O_TRUNC | O_CLOEXEC)) < 0 ||
	    write(fd, fz_hdr, 64) != 64 ||
	    (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1))) {
		abort();
	}
	close(fd);
	if (ipcx_dial(&r, fz_rurl, NULL, 0) != 0 || ipcx_dial(&w, fz_url, NULL, 0) != 0) {
		abort();
	}
	for (int i = 0;; i++) {
		if (i == 100000) {
			abort(); /* more records than the bytes could hold: a loop */
		}
		rv = ipcx_recv(r, fz_buf, cap, &len, 0);
		if (rv == IPCX_ETIMEDOUT) {
			break;
		}
		if (rv == IPCX_EMSGSIZE) {
			if (len <= cap) {
				abort(); /* EMSGSIZE must report a size that does not fit */
			}
			if (len <= FUZZ_MAX_MSG) {
				cap = len; /* kept: the next call gets it */
			}
			continue;
		}
		if (rv != 0 || len > cap) {
			abort();
		}
	}
	/* whatever the bytes left at the end, an append is read back after them */
	if (ipcx_send(w, MARKER, MARKER_LEN, 0) != 0) {
		abort();
	}
	for (int i = 0;; i++) {
		if (i == 100000) {
			abort();
		}
		rv = ipcx_recv(r, fz_buf, sizeof fz_buf, &len, 0);
		if (rv == IPCX_ETIMEDOUT) {
			break;
		}
		if (rv == IPCX_EMSGSIZE && len > FUZZ_MAX_MSG) {
			continue;
		}
		if (rv != 0) {
			abort();
		}
		marker = len == MARKER_LEN && memcmp(fz_buf, MARKER, MARKER_LEN) == 0;
	}
	if (!marker) {
		abort();
	}
	ipcx_close(r);
	ipcx_close(w);
	return 0;
}
