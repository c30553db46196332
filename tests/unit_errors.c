/*
 * unit_errors.c - the error codes: every IPCX_E* has a name and a static text, codes that
 * mirror errno are exactly -errno, library codes live below -3000 and never collide.
 */
#include "testutil.h"

#include <errno.h>
#include <string.h>

typedef struct code {
	int val;
	const char *name;
	const char *text;
} code;

static const code codes[] = {
#define XX(name, val, text) {IPCX_##name, "IPCX_" #name, text},
        IPCX_ERRNO_MAP(XX)
#undef XX
};
#define NCODES (sizeof codes / sizeof codes[0])

static void
test_every_code_has_its_name_and_static_text(void **state)
{
	(void)state;
	assert_true(NCODES >= 40);
	for (size_t i = 0; i < NCODES; i++) {
		const char *t = ipcx_strerror(codes[i].val);
		assert_true(codes[i].val < 0);
		assert_string_equal(ipcx_err_name(codes[i].val), codes[i].name);
		assert_non_null(t);
		assert_string_equal(t, codes[i].text);
		assert_true(strlen(t) > 0);
		/* static text: the same pointer every time */
		assert_ptr_equal(ipcx_strerror(codes[i].val), t);
		if (codes[i].val != IPCX_EUNKNOWN) {
			assert_string_not_equal(t, "unknown error");
		}
	}
}

static void
test_codes_are_distinct(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCODES; i++) {
		for (size_t j = i + 1; j < NCODES; j++) {
			if (codes[i].val == codes[j].val) {
				fail_msg("%s and %s share %d", codes[i].name, codes[j].name,
				         codes[i].val);
			}
			assert_string_not_equal(codes[i].name, codes[j].name);
		}
	}
}

static void
test_errno_codes_equal_minus_errno(void **state)
{
	static const struct {
		int ipcx, err;
	} m[] = {
	        {IPCX_E2BIG, E2BIG},
	        {IPCX_EACCES, EACCES},
	        {IPCX_EADDRINUSE, EADDRINUSE},
	        {IPCX_EADDRNOTAVAIL, EADDRNOTAVAIL},
	        {IPCX_EAFNOSUPPORT, EAFNOSUPPORT},
	        {IPCX_EAGAIN, EAGAIN},
	        {IPCX_EBADF, EBADF},
	        {IPCX_EBUSY, EBUSY},
	        {IPCX_ECONNABORTED, ECONNABORTED},
	        {IPCX_ECONNREFUSED, ECONNREFUSED},
	        {IPCX_ECONNRESET, ECONNRESET},
	        {IPCX_EEXIST, EEXIST},
	        {IPCX_EFAULT, EFAULT},
	        {IPCX_EHOSTUNREACH, EHOSTUNREACH},
	        {IPCX_EINTR, EINTR},
	        {IPCX_EINVAL, EINVAL},
	        {IPCX_EIO, EIO},
	        {IPCX_EISDIR, EISDIR},
	        {IPCX_ELOOP, ELOOP},
	        {IPCX_EMFILE, EMFILE},
	        {IPCX_EMSGSIZE, EMSGSIZE},
	        {IPCX_ENAMETOOLONG, ENAMETOOLONG},
	        {IPCX_ENETUNREACH, ENETUNREACH},
	        {IPCX_ENFILE, ENFILE},
	        {IPCX_ENOBUFS, ENOBUFS},
	        {IPCX_ENODEV, ENODEV},
	        {IPCX_ENOENT, ENOENT},
	        {IPCX_ENOMEM, ENOMEM},
	        {IPCX_ENOSPC, ENOSPC},
	        {IPCX_ENOSYS, ENOSYS},
	        {IPCX_ENOTCONN, ENOTCONN},
	        {IPCX_ENOTDIR, ENOTDIR},
	        {IPCX_ENOTSOCK, ENOTSOCK},
	        {IPCX_ENOTSUP, ENOTSUP},
	        {IPCX_ENXIO, ENXIO},
	        {IPCX_EOVERFLOW, EOVERFLOW},
	        {IPCX_EPERM, EPERM},
	        {IPCX_EPIPE, EPIPE},
	        {IPCX_EPROTO, EPROTO},
	        {IPCX_ERANGE, ERANGE},
	        {IPCX_EROFS, EROFS},
	        {IPCX_ETIMEDOUT, ETIMEDOUT},
	};
	size_t nerrno = 0;

	(void)state;
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
		assert_int_equal(m[i].ipcx, -m[i].err);
	}
	/* Every code above -3000 mirrors the errno of the same name (the C library knows
	 * the names, so codes added to the list later are checked too). */
	for (size_t i = 0; i < NCODES; i++) {
		if (codes[i].val > -3000) {
			const char *want = codes[i].name + 5; /* without "IPCX_" */
			nerrno++;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
			const char *got = strerrorname_np(-codes[i].val);
			if (got == NULL || strcmp(got, want) != 0) {
				/* aliases (EWOULDBLOCK, EDEADLOCK, ENOTSUP) name their twin */
				bool alias = got != NULL && ((strcmp(want, "ENOTSUP") == 0 &&
				                              strcmp(got, "EOPNOTSUPP") == 0) ||
				                             (strcmp(want, "EWOULDBLOCK") == 0 &&
				                              strcmp(got, "EAGAIN") == 0) ||
				                             (strcmp(want, "EDEADLOCK") == 0 &&
				                              strcmp(got, "EDEADLK") == 0));
				if (!alias) {
					fail_msg("%s is %d, but errno %d is %s", codes[i].name,
					         codes[i].val, -codes[i].val,
					         got ? got : "unnamed");
				}
			}
#else
			(void)want;
#endif
		}
	}
	assert_true(nerrno >= sizeof m / sizeof m[0]);
}

static void
test_library_codes_live_below_minus_3000(void **state)
{
	static const int lib[] = {IPCX_ECLOSED, IPCX_EBADURL, IPCX_ESCHEME, IPCX_ENOTFOUND,
	                          IPCX_EUNKNOWN};

	(void)state;
	for (size_t i = 0; i < sizeof lib / sizeof lib[0]; i++) {
		assert_true(lib[i] <= -3000);
		assert_true(lib[i] > -4096); /* still distinct from any pointer-sized errno use */
	}
	assert_string_equal(ipcx_err_name(IPCX_ECLOSED), "IPCX_ECLOSED");
	assert_string_equal(ipcx_strerror(IPCX_ECLOSED), "channel closed by peer");
}

static void
test_unknown_codes_and_zero_still_give_text(void **state)
{
	static const int odd[] = {-12345, 12345, 1,          -3500,
	                          -4000,  -133,  2147483647, -2147483647 - 1};

	(void)state;
	assert_string_equal(ipcx_strerror(0), "success");
	assert_non_null(ipcx_err_name(0));
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		assert_non_null(ipcx_strerror(odd[i]));
		assert_true(strlen(ipcx_strerror(odd[i])) > 0);
		assert_string_equal(ipcx_err_name(odd[i]), "IPCX_EUNKNOWN");
	}
}

static void
test_persistence_names(void **state)
{
	(void)state;
	assert_string_equal(ipcx_persistence_name(IPCX_PERSIST_PROCESS), "process");
	assert_string_equal(ipcx_persistence_name(IPCX_PERSIST_KERNEL), "kernel");
	assert_string_equal(ipcx_persistence_name(IPCX_PERSIST_FILESYSTEM), "filesystem");
	assert_string_equal(ipcx_persistence_name(0), "?");
	assert_string_equal(ipcx_persistence_name(IPCX_EBADURL), "?");
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_code_has_its_name_and_static_text),
	        cmocka_unit_test(test_codes_are_distinct),
	        cmocka_unit_test(test_errno_codes_equal_minus_errno),
	        cmocka_unit_test(test_library_codes_live_below_minus_3000),
	        cmocka_unit_test(test_unknown_codes_and_zero_still_give_text),
	        cmocka_unit_test(test_persistence_names),
	};

	return cmocka_run_group_tests_name("unit_errors", tests, NULL, NULL);
}
