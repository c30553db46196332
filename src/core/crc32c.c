/*
 * crc32c.c - CRC-32C (Castagnoli, the iSCSI/ext4/btrfs polynomial): slice-by-8 tables, and
 * the SSE4.2 crc32 instruction where the CPU has it. Used to check file:// log records.
 */
#include "ipcx_int.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define CRC_HAVE_SSE42 1
#endif

#define CRC_POLY 0x82f63b78u /* 0x1edc6f41 bit-reversed */

static uint32_t crc_table[8][256];
static bool crc_hw;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++) {
			c = (c >> 1) ^ (CRC_POLY & (0u - (c & 1)));
		}
		crc_table[0][i] = c;
	}
	/* table k advances a byte through k more zero bytes: eight bytes per step */
	for (uint32_t i = 0; i < 256; i++) {
		for (int k = 1; k < 8; k++) {
			uint32_t c = crc_table[k - 1][i];
			crc_table[k][i] = (c >> 8) ^ crc_table[0][c & 0xff];
		}
	}
#ifdef CRC_HAVE_SSE42
	__builtin_cpu_init();
	crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t
crc_sw(uint32_t c, const unsigned char *p, size_t n)
{
	while (n > 0 && ((uintptr_t)p & 7) != 0) {
		c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
		n--;
	}
	while (n >= 8) {
		uint32_t lo, hi;
		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		lo = __builtin_bswap32(lo);
		hi = __builtin_bswap32(hi);
#endif
		lo ^= c;
		c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		    crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		    crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		    crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n-- > 0) {
		c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
	}
	return c;
}

#ifdef CRC_HAVE_SSE42
__attribute__((target("sse4.2"))) static uint32_t
crc_hw42(uint32_t c, const unsigned char *p, size_t n)
{
	uint64_t c64;

	while (n > 0 && ((uintptr_t)p & 7) != 0) {
		c = _mm_crc32_u8(c, *p++);
		n--;
	}
	c64 = c;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c64 = _mm_crc32_u64(c64, w);
		p += 8;
		n -= 8;
	}
	c = (uint32_t)c64;
	while (n-- > 0) {
		c = _mm_crc32_u8(c, *p++);
	}
	return c;
}
#endif

uint32_t
ipcx__crc32c(uint32_t crc, const void *buf, size_t len)
{
	uint32_t c = ~crc;

	pthread_once(&crc_once, crc_init);
#ifdef CRC_HAVE_SSE42
	if (crc_hw) {
		return ~crc_hw42(c, buf, len);
	}
#endif
	return ~crc_sw(c, buf, len);
}

uint32_t
ipcx__crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	return ~crc_sw(~crc, buf, len);
}
