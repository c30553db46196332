/*
 * rpc_testvec.h - shared by the XDR and RPC tests: the libtirpc reference vectors (run the
 * rpc_tirpc_vectors helper, parse its "name hex" lines) and an allocation counter.
 */
#ifndef IPCX_RPC_TESTVEC_H
#define IPCX_RPC_TESTVEC_H

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- allocations made by the library (the test links with --wrap=malloc,calloc,realloc) */

static size_t tv_allocs;    /* calls since tv_alloc_reset() */
static size_t tv_alloc_max; /* largest size asked for since then */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);

static void
tv_note(size_t n)
{
	tv_allocs++;
	if (n > tv_alloc_max) {
		tv_alloc_max = n;
	}
}

void *
__wrap_malloc(size_t n)
{
	tv_note(n);
	return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
	tv_note(m != 0 && n > SIZE_MAX / m ? SIZE_MAX : n * m);
	return __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
	tv_note(n);
	return __real_realloc(p, n);
}

static void
tv_alloc_reset(void)
{
	tv_allocs = 0;
	tv_alloc_max = 0;
}

/* ---- libtirpc reference vectors --------------------------------------------------------- */

#define TV_MAX 64

typedef struct tv_vec {
	char name[64];
	unsigned char *bytes; /* NULL for a "name value" line that is not hex */
	size_t len;
	char text[64];
} tv_vec;

static tv_vec tv_table[TV_MAX];
static size_t tv_count;

static int
tv_nibble(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Run the helper once per test process and keep its lines. Skips the test when the build
 * had no libtirpc (the helper was not built). */
static void
tv_load(void)
{
#ifndef TIRPC_VECTORS
	skip();
#else
	static char line[8192];
	FILE *f;

	if (tv_count > 0) {
		return;
	}
	f = popen(TIRPC_VECTORS, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f) != NULL && tv_count < TV_MAX) {
		tv_vec *v = &tv_table[tv_count];
		char *sp = strchr(line, ' ');
		size_t hl;
		bool ishex = true;

		assert_non_null(sp);
		*sp++ = '\0';
		sp[strcspn(sp, "\n")] = '\0';
		snprintf(v->name, sizeof v->name, "%.63s", line);
		snprintf(v->text, sizeof v->text, "%.63s", sp);
		hl = strlen(sp);
		for (size_t i = 0; i < hl; i++) {
			ishex = ishex && tv_nibble(sp[i]) >= 0;
		}
		if (strcmp(sp, "-") == 0) {
			v->bytes = tu_xmalloc(1);
			v->len = 0;
		} else if (ishex && hl % 2 == 0 && strchr(v->name, '.') != strrchr(v->name, '.')) {
			v->bytes = NULL; /* a.b.field: a value, not bytes */
		} else if (ishex && hl % 2 == 0) {
			v->len = hl / 2;
			v->bytes = tu_xmalloc(v->len + 1);
			for (size_t i = 0; i < v->len; i++) {
				v->bytes[i] = (unsigned char)(tv_nibble(sp[2 * i]) << 4 |
				                              tv_nibble(sp[2 * i + 1]));
			}
		}
		tv_count++;
	}
	assert_int_equal(pclose(f), 0);
	assert_true(tv_count > 10);
#endif
}

static const tv_vec *
tv_get(const char *name)
{
	tv_load();
	for (size_t i = 0; i < tv_count; i++) {
		if (strcmp(tv_table[i].name, name) == 0) {
			return &tv_table[i];
		}
	}
	fail_msg("libtirpc vector %s missing", name);
	return NULL;
}

/* Assert that got[0, n) is want[0, wn), showing the first difference. */
static void
tv_assert_bytes_eq(const char *name, const void *got, size_t n, const void *want, size_t wn)
{
	const unsigned char *g = got, *w = want;

	if (n != wn || memcmp(g, w, n) != 0) {
		size_t i = 0;

		while (i < n && i < wn && g[i] == w[i]) {
			i++;
		}
		fail_msg("%s: ipcx %zu bytes, libtirpc %zu; first difference at %zu", name, n, wn,
		         i);
	}
}

/* Assert that got[0, n) is byte for byte the libtirpc vector name. */
static void
tv_assert_bytes(const char *name, const void *got, size_t n)
{
	const tv_vec *v = tv_get(name);

	assert_non_null(v->bytes);
	tv_assert_bytes_eq(name, got, n, v->bytes, v->len);
}

#endif /* IPCX_RPC_TESTVEC_H */
