/*
 * unit_url.c - the URL parser (scheme, path, abstract names, host:port, percent-decoding,
 * query keys), options resolution (struct, then URL query on top), and through the public
 * API: bad URLs, unknown schemes and unknown query keys, and ipcx_persistence per scheme.
 */
#include "testutil.h"

#include "core/ipcx_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static ipcx__url U; /* 4 KiB+; keep it off the stack */

static void
test_parse_paths_and_schemes(void **state)
{
	(void)state;
	assert_rv(ipcx__url_parse(&U, "unix:///run/x.sock"), 0);
	assert_string_equal(U.scheme, "unix");
	assert_string_equal(U.path, "/run/x.sock");
	assert_false(U.abstract);
	assert_int_equal(U.nquery, 0);

	assert_rv(ipcx__url_parse(&U, "unix:@echo"), 0);
	assert_string_equal(U.scheme, "unix");
	assert_string_equal(U.path, "echo");
	assert_true(U.abstract);

	assert_rv(ipcx__url_parse(&U, "unix://@echo"), 0);
	assert_true(U.abstract);
	assert_string_equal(U.path, "echo");

	assert_rv(ipcx__url_parse(&U, "fifo:///tmp/srv"), 0);
	assert_string_equal(U.scheme, "fifo");
	assert_string_equal(U.path, "/tmp/srv");

	assert_rv(ipcx__url_parse(&U, "pipe:"), 0);
	assert_string_equal(U.scheme, "pipe");
	assert_string_equal(U.path, "");

	/* scheme is case-insensitive and normalised to lower case */
	assert_rv(ipcx__url_parse(&U, "TCP://127.0.0.1:80"), 0);
	assert_string_equal(U.scheme, "tcp");
	assert_string_equal(U.path, "127.0.0.1:80");

	assert_rv(ipcx__url_parse(&U, "a+b-c.d:x"), 0);
	assert_string_equal(U.scheme, "a+b-c.d");
}

static void
test_parse_percent_decoding(void **state)
{
	(void)state;
	assert_rv(ipcx__url_parse(&U, "fifo:///tmp/a%20b%2fc%3F"), 0);
	assert_string_equal(U.path, "/tmp/a b/c?");
	assert_rv(ipcx__url_parse(&U, "fifo:///tmp/%41%61"), 0);
	assert_string_equal(U.path, "/tmp/Aa");
	assert_rv(ipcx__url_parse(&U, "fifo:///tmp/%zz"), IPCX_EBADURL);
	assert_rv(ipcx__url_parse(&U, "fifo:///tmp/%2"), IPCX_EBADURL);
	assert_rv(ipcx__url_parse(&U, "fifo:///tmp/%"), IPCX_EBADURL);
	assert_rv(ipcx__url_parse(&U, "fifo:///tmp/a%00b"), IPCX_EBADURL); /* no NUL smuggling */
	assert_rv(ipcx__url_parse(&U, "fifo:///tmp/x?k=%00"), IPCX_EBADURL);
}

static void
test_parse_rejects_malformed(void **state)
{
	static const char *const bad[] = {"",           ":",          ":x",
	                                  "nocolon",    "/tmp/x",     "sch eme:x",
	                                  "tcp;://x:1", "tc/p://x:1", "\x01:x"};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rv = ipcx__url_parse(&U, bad[i]);
		if (rv != IPCX_EBADURL) {
			fail_msg("\"%s\": %s, want IPCX_EBADURL", bad[i], ipcx_err_name(rv));
		}
	}
	assert_rv(ipcx__url_parse(&U, NULL), IPCX_EINVAL);
	/* a scheme longer than any known one */
	assert_rv(ipcx__url_parse(&U, "averyveryverylongscheme://x"), IPCX_ESCHEME);
}

static void
test_parse_never_truncates_a_long_path(void **state)
{
	size_t n = IPCX__URL_MAX + 16;
	char *url = tu_xmalloc(n + 16);

	(void)state;
	strcpy(url, "fifo://");
	memset(url + 7, 'a', n);
	url[7] = '/';
	url[7 + n] = '\0';
	assert_rv(ipcx__url_parse(&U, url), IPCX_ENAMETOOLONG);
	/* exactly the largest that fits (IPCX__URL_MAX - 1 characters) */
	url[7 + IPCX__URL_MAX - 1] = '\0';
	assert_rv(ipcx__url_parse(&U, url), 0);
	assert_int_equal(strlen(U.path), IPCX__URL_MAX - 1);
	url[7 + IPCX__URL_MAX - 1] = 'a';
	url[7 + IPCX__URL_MAX] = '\0';
	assert_rv(ipcx__url_parse(&U, url), IPCX_ENAMETOOLONG);
	free(url);
}

static void
test_hostport(void **state)
{
	static const struct {
		const char *url, *host, *port;
	} good[] = {
	        {"tcp://127.0.0.1:5555", "127.0.0.1", "5555"},
	        {"tcp://[::1]:80", "::1", "80"},
	        {"tcp://[fe80::1%25lo]:80", "fe80::1%lo", "80"},
	        {"tcp://localhost:0", "localhost", "0"},
	        {"tcp://*:65535", "", "65535"},
	        {"udp://:9", "", "9"},
	};
	static const char *const bad[] = {"tcp://::1:80",
	                                  "tcp://host",
	                                  "tcp://host:",
	                                  "tcp://host:8a",
	                                  "tcp://host:65536",
	                                  "tcp://host:-1",
	                                  "tcp://[::1]80",
	                                  "tcp://[]:80",
	                                  "tcp://[::1:80",
	                                  "tcp://@abs:1",
	                                  "tcp://h:99999999999999999999"};

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		assert_rv(ipcx__url_parse(&U, good[i].url), 0);
		assert_rv(ipcx__url_hostport(&U), 0);
		assert_string_equal(U.host, good[i].host);
		assert_string_equal(U.port, good[i].port);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rv = ipcx__url_parse(&U, bad[i]);
		if (rv == 0) {
			rv = ipcx__url_hostport(&U);
		}
		if (rv != IPCX_EBADURL) {
			fail_msg("\"%s\": %s, want IPCX_EBADURL", bad[i], ipcx_err_name(rv));
		}
	}
}

static void
test_hostport_long_host_is_nametoolong(void **state)
{
	char url[600];

	(void)state;
	strcpy(url, "tcp://");
	memset(url + 6, 'h', 300);
	strcpy(url + 306, ":80");
	assert_rv(ipcx__url_parse(&U, url), 0);
	assert_rv(ipcx__url_hostport(&U), IPCX_ENAMETOOLONG);
}

static void
test_query_keys(void **state)
{
	(void)state;
	assert_rv(ipcx__url_parse(&U, "unix:///x?mode=0660&maxmsg=1048576&&keep"), 0);
	assert_string_equal(U.path, "/x");
	assert_int_equal(U.nquery, 3);
	assert_string_equal(ipcx__url_query(&U, "mode"), "0660");
	assert_string_equal(ipcx__url_query(&U, "maxmsg"), "1048576");
	assert_string_equal(ipcx__url_query(&U, "keep"), "");
	assert_null(ipcx__url_query(&U, "raw"));
	assert_true(U.query[0].used && U.query[1].used && U.query[2].used);

	assert_rv(ipcx__url_parse(&U, "unix:///x?a%3Db=c%26d"), 0);
	assert_string_equal(ipcx__url_query(&U, "a=b"), "c&d");

	/* a key given twice is ambiguous */
	assert_rv(ipcx__url_parse(&U, "unix:///x?mode=0600&mode=0666"), IPCX_EBADURL);
	/* too long key or value */
	{
		char url[700];
		snprintf(url, sizeof url, "unix:///x?%040d=1", 0);
		assert_rv(ipcx__url_parse(&U, url), IPCX_EBADURL);
		snprintf(url, sizeof url, "unix:///x?k=%0300d", 0);
		assert_rv(ipcx__url_parse(&U, url), IPCX_EBADURL);
	}
	/* more keys than the parser keeps */
	{
		char url[1024] = "unix:///x?";
		for (int i = 0; i <= IPCX__QUERY_MAX; i++) {
			char kv[16];
			snprintf(kv, sizeof kv, "k%d=1&", i);
			strcat(url, kv);
		}
		assert_rv(ipcx__url_parse(&U, url), IPCX_EBADURL);
	}
}

static void
test_query_numbers(void **state)
{
	unsigned long long x = 0;
	bool found = true;

	(void)state;
	assert_rv(ipcx__url_parse(&U, "tcp://h:1?n=0x10&o=017&d=99&e=&neg=-1&sp=%201&big=1e3"), 0);
	assert_rv(ipcx__url_query_num(&U, "n", 0, 0, 100, &x, &found), 0);
	assert_true(found);
	assert_int_equal(x, 16);
	assert_rv(ipcx__url_query_num(&U, "o", 8, 0, 07777, &x, &found), 0);
	assert_int_equal(x, 017);
	assert_rv(ipcx__url_query_num(&U, "d", 10, 0, 98, &x, &found), IPCX_EBADURL);
	assert_rv(ipcx__url_query_num(&U, "d", 10, 100, 200, &x, &found), IPCX_EBADURL);
	assert_rv(ipcx__url_query_num(&U, "e", 10, 0, 10, &x, &found), IPCX_EBADURL);
	assert_rv(ipcx__url_query_num(&U, "neg", 10, 0, 10, &x, &found), IPCX_EBADURL);
	assert_rv(ipcx__url_query_num(&U, "sp", 10, 0, 10, &x, &found), IPCX_EBADURL);
	assert_rv(ipcx__url_query_num(&U, "big", 10, 0, 10000, &x, &found), IPCX_EBADURL);
	found = true;
	assert_rv(ipcx__url_query_num(&U, "absent", 10, 0, 10, &x, &found), 0);
	assert_false(found);
}

static void
test_opts_defaults_struct_and_url_override(void **state)
{
	ipcx__opts o;
	ipcx_opts user, init = IPCX_OPTS_INIT;

	(void)state;
	/* defaults */
	assert_rv(ipcx__opts_resolve(&o, NULL, NULL), 0);
	assert_int_equal(o.max_msg, IPCX_DEFAULT_MAX_MSG);
	assert_int_equal(o.mode, 0600);
	assert_false(o.keep);
	assert_false(o.raw);

	/* ipcx_opts_init and IPCX_OPTS_INIT agree */
	memset(&user, 0xa5, sizeof user);
	ipcx_opts_init(&user);
	assert_int_equal(user.size, init.size);
	assert_int_equal(user.max_msg, init.max_msg);
	assert_int_equal(user.mode, init.mode);
	assert_int_equal(user.keep, init.keep);
	assert_int_equal(user.raw, init.raw);
	assert_int_equal(user.size, sizeof(ipcx_opts));

	/* the struct */
	user.max_msg = 1000;
	user.mode = 0640;
	user.keep = 7;
	user.raw = 1;
	assert_rv(ipcx__opts_resolve(&o, &user, NULL), 0);
	assert_int_equal(o.max_msg, 1000);
	assert_int_equal(o.mode, 0640);
	assert_true(o.keep);
	assert_true(o.raw);

	/* the URL wins over the struct */
	assert_rv(ipcx__url_parse(&U, "unix:///x?maxmsg=0x100&mode=0660&keep=0&raw=0"), 0);
	assert_rv(ipcx__opts_resolve(&o, &user, &U), 0);
	assert_int_equal(o.max_msg, 256);
	assert_int_equal(o.mode, 0660);
	assert_false(o.keep);
	assert_false(o.raw);

	/* maxmsg=0 means the default */
	assert_rv(ipcx__url_parse(&U, "unix:///x?maxmsg=0&keep=1"), 0);
	assert_rv(ipcx__opts_resolve(&o, &user, &U), 0);
	assert_int_equal(o.max_msg, IPCX_DEFAULT_MAX_MSG);
	assert_true(o.keep);
	assert_int_equal(o.mode, 0640);
}

static void
test_opts_bad_values(void **state)
{
	static const char *const bad[] = {
	        "unix:///x?mode=0888", "unix:///x?mode=010000",
	        "unix:///x?mode=",     "unix:///x?keep=2",
	        "unix:///x?raw=yes",   "unix:///x?maxmsg=-1",
	        "unix:///x?maxmsg=1k", "unix:///x?maxmsg=99999999999999999999"};
	ipcx__opts o;
	ipcx_opts user;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rv;
		assert_rv(ipcx__url_parse(&U, bad[i]), 0);
		rv = ipcx__opts_resolve(&o, NULL, &U);
		if (rv != IPCX_EBADURL) {
			fail_msg("\"%s\": %s, want IPCX_EBADURL", bad[i], ipcx_err_name(rv));
		}
	}
	ipcx_opts_init(&user);
	user.mode = 010000; /* not permission bits */
	assert_rv(ipcx__opts_resolve(&o, &user, NULL), IPCX_EINVAL);
	ipcx_opts_init(&user);
	user.size = 8; /* not set up by ipcx_opts_init */
	assert_rv(ipcx__opts_resolve(&o, &user, NULL), IPCX_EINVAL);
}

/* ---- through the public API ---------------------------------------------------------- */

static void
test_public_api_rejects_bad_urls_schemes_and_keys(void **state)
{
	ipcx_listener *l = (ipcx_listener *)&l;
	ipcx_chan *c = (ipcx_chan *)&c;

	(void)state;
	assert_rv(ipcx_dial(&c, "gopher://x:70", NULL, 0), IPCX_ESCHEME);
	assert_null(c);
	assert_rv(ipcx_listen(&l, "gopher://x:70", NULL), IPCX_ESCHEME);
	assert_null(l);
	assert_rv(ipcx_dial(&c, "no-colon-here", NULL, 0), IPCX_EBADURL);
	assert_rv(ipcx_listen(&l, "", NULL), IPCX_EBADURL);
	assert_rv(ipcx_dial(&c, "tcp://[::1:80", NULL, 0), IPCX_EBADURL);
	assert_rv(ipcx_dial(&c, "tcp://127.0.0.1", NULL, 0), IPCX_EBADURL);
	assert_rv(ipcx_listen(&l, "udp://127.0.0.1:port", NULL), IPCX_EBADURL);
	/* a query key nobody reads is an error, not silently ignored */
	assert_rv(ipcx_dial(&c, "tcp://127.0.0.1:1?bogus=1", NULL, 0), IPCX_EBADURL);
	assert_rv(ipcx_listen(&l, "unix:///nonexistent/x?mdoe=0600", NULL), IPCX_EBADURL);
	assert_rv(ipcx_listen(&l, "fifo:///nonexistent/x?keep=1&frob", NULL), IPCX_EBADURL);
	assert_rv(ipcx_dial(&c, "udp://127.0.0.1:1?maxmsg=big", NULL, 0), IPCX_EBADURL);
	assert_null(c);
	assert_null(l);
	assert_rv(ipcx_dial(NULL, "tcp://127.0.0.1:1", NULL, 0), IPCX_EINVAL);
	assert_rv(ipcx_listen(NULL, "tcp://127.0.0.1:1", NULL), IPCX_EINVAL);
	assert_rv(ipcx_dial(&c, NULL, NULL, 0), IPCX_EINVAL);
}

static void
test_persistence_per_scheme(void **state)
{
	(void)state;
	assert_int_equal(ipcx_persistence("pipe:"), IPCX_PERSIST_PROCESS);
	assert_int_equal(ipcx_persistence("fifo:///tmp/x"), IPCX_PERSIST_FILESYSTEM);
	assert_int_equal(ipcx_persistence("unix:///tmp/x.sock"), IPCX_PERSIST_FILESYSTEM);
	assert_int_equal(ipcx_persistence("unix:@name"), IPCX_PERSIST_PROCESS);
	assert_int_equal(ipcx_persistence("tcp://127.0.0.1:80"), IPCX_PERSIST_PROCESS);
	assert_int_equal(ipcx_persistence("tcp://[::1]:80"), IPCX_PERSIST_PROCESS);
	assert_int_equal(ipcx_persistence("udp://127.0.0.1:53"), IPCX_PERSIST_PROCESS);
	assert_int_equal(ipcx_persistence("gopher://x"), IPCX_ESCHEME);
	assert_int_equal(ipcx_persistence(""), IPCX_EBADURL);
	assert_int_equal(ipcx_persistence("fifo:///tmp/%zz"), IPCX_EBADURL);
}

static void
test_opts_with_wrong_size_are_refused_by_the_api(void **state)
{
	ipcx_chan *a = NULL, *b = NULL;
	ipcx_opts o;

	(void)state;
	ipcx_opts_init(&o);
	o.size = 0;
	assert_rv(ipcx_pair(&a, &b, &o), IPCX_EINVAL);
	assert_null(a);
	assert_null(b);
	ipcx_opts_init(&o);
	o.mode = 0100000;
	assert_rv(ipcx_pair(&a, &b, &o), IPCX_EINVAL);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_paths_and_schemes),
	        cmocka_unit_test(test_parse_percent_decoding),
	        cmocka_unit_test(test_parse_rejects_malformed),
	        cmocka_unit_test(test_parse_never_truncates_a_long_path),
	        cmocka_unit_test(test_hostport),
	        cmocka_unit_test(test_hostport_long_host_is_nametoolong),
	        cmocka_unit_test(test_query_keys),
	        cmocka_unit_test(test_query_numbers),
	        cmocka_unit_test(test_opts_defaults_struct_and_url_override),
	        cmocka_unit_test(test_opts_bad_values),
	        cmocka_unit_test(test_public_api_rejects_bad_urls_schemes_and_keys),
	        cmocka_unit_test(test_persistence_per_scheme),
	        cmocka_unit_test(test_opts_with_wrong_size_are_refused_by_the_api),
	};

	return cmocka_run_group_tests_name("unit_url", tests, NULL, NULL);
}
