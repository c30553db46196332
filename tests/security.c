/*
 * security.c - what ipcx creates on the file system: FIFOs and socket files are 0600 by
 * default whatever the umask, the mode option is honoured, names are never truncated
 * (ENAMETOOLONG), stale sockets are replaced but live ones and foreign files are never
 * removed, and names go away on close unless keep is asked for.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define WAIT_MS 30000

static mode_t
perm(const char *path, mode_t type)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		fail_msg("%s: %s", path, strerror(errno));
	}
	if ((st.st_mode & S_IFMT) != type) {
		fail_msg("%s: file type %o, want %o", path, (unsigned)(st.st_mode & S_IFMT),
		         (unsigned)type);
	}
	return st.st_mode & 07777;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Every FIFO in the test directory has mode want (the listener's and any a client made). */
static int
all_fifos_have_mode(mode_t want, int *nfifo)
{
	char cmd[600];
	FILE *p;
	char line[1024];

	*nfifo = 0;
	snprintf(cmd, sizeof cmd, "find '%s' -type p -printf '%%m %%p\\n'", tu_dir());
	p = popen(cmd, "r");
	TRY(p != NULL, "popen");
	while (fgets(line, sizeof line, p) != NULL) {
		unsigned m = (unsigned)strtoul(line, NULL, 8);
		(*nfifo)++;
		if (m != want) {
			pclose(p);
			TRY(m == want, "%s has mode %o, want %o", line, m, (unsigned)want);
		}
	}
	pclose(p);
	return 0;
}

/* ---- modes --------------------------------------------------------------------------- */

static int
peer_dial_wait(const char *url, int ctl_up, int ctl_down)
{
	ipcx_chan *c = NULL;
	char x;

	TRY_RV(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
	TRY(tu_put(ctl_up, "d", 1) == 0, "ctl");
	TRY(tu_get(ctl_down, &x, 1, WAIT_MS) == 0, "ctl");
	ipcx_close(c);
	return 0;
}

static void
test_fifos_are_0600_by_default_whatever_the_umask(void **state)
{
	static const mode_t masks[] = {022, 0, 077};

	(void)state;
	for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
		char path[512], url[600], x;
		mode_t old = umask(masks[i]);
		ipcx_listener *l;
		ipcx_chan *c = NULL;
		int up[2], down[2], n = 0;
		pid_t pid;

		tu_path(path, sizeof path, "srv");
		snprintf(url, sizeof url, "fifo://%s", path);
		assert_rv(ipcx_listen(&l, url, NULL), 0);
		assert_int_equal(perm(path, S_IFIFO), 0600);
		/* with a client connected: its FIFOs too */
		tu_pipe(up);
		tu_pipe(down);
		pid = tu_fork();
		if (pid == 0) {
			tu_child_exit(peer_dial_wait(url, up[1], down[0]));
		}
		assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
		assert_int_equal(tu_get(up[0], &x, 1, WAIT_MS), 0);
		assert_int_equal(all_fifos_have_mode(0600, &n), 0);
		assert_true(n >= 1);
		assert_int_equal(tu_put(down[1], "x", 1), 0);
		assert_int_equal(tu_wait(pid, WAIT_MS), 0);
		ipcx_close(c);
		ipcx_listener_close(l);
		umask(old);
		close(up[0]);
		close(up[1]);
		close(down[0]);
		close(down[1]);
	}
}

static void
test_unix_socket_file_is_0600_by_default_whatever_the_umask(void **state)
{
	static const mode_t masks[] = {022, 0, 077};

	(void)state;
	for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
		char path[512], url[600];
		mode_t old = umask(masks[i]);
		ipcx_listener *l;

		tu_path(path, sizeof path, "s");
		snprintf(url, sizeof url, "unix://%s", path);
		assert_rv(ipcx_listen(&l, url, NULL), 0);
		assert_int_equal(perm(path, S_IFSOCK), 0600);
		ipcx_listener_close(l);
		umask(old);
	}
}

static void
test_mode_option_is_respected(void **state)
{
	static const struct {
		const char *fmt;
		mode_t type;
		unsigned opt_mode;
		const char *query;
		mode_t want;
	} cases[] = {
	        {"fifo://%s", S_IFIFO, 0640, "", 0640},
	        {"fifo://%s", S_IFIFO, 0, "?mode=0660", 0660},
	        {"fifo://%s", S_IFIFO, 0644, "?mode=0620", 0620}, /* the URL wins */
	        {"unix://%s", S_IFSOCK, 0660, "", 0660},
	        {"unix://%s", S_IFSOCK, 0, "?mode=0666", 0666},
	        {"unix://%s", S_IFSOCK, 0600, "?mode=0640", 0640},
	};
	static const mode_t masks[] = {0, 077, 022};

	(void)state;
	/* the bits asked for, exactly, whatever the umask */
	for (size_t m = 0; m < sizeof masks / sizeof masks[0]; m++) {
		mode_t old = umask(masks[m]);
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			char path[512], url[700], fmt[64];
			ipcx_listener *l;
			ipcx_opts o;
			ipcx_opts_init(&o);
			o.mode = cases[i].opt_mode;
			tu_path(path, sizeof path, "m");
			snprintf(fmt, sizeof fmt, "%s%%s", cases[i].fmt);
			snprintf(url, sizeof url, fmt, path, cases[i].query);
			assert_rv(ipcx_listen(&l, url, &o), 0);
			if (perm(path, cases[i].type) != cases[i].want) {
				fail_msg("%s with umask %03o: mode %o, want %o", url,
				         (unsigned)masks[m], (unsigned)perm(path, cases[i].type),
				         (unsigned)cases[i].want);
			}
			ipcx_listener_close(l);
		}
		umask(old);
	}
}

/* ---- names too long ------------------------------------------------------------------ */

/* A path in the test directory of exactly n characters. */
static void
path_of_len(char *buf, size_t n)
{
	size_t d = strlen(tu_dir());

	assert_true(n > d + 2 && n < 255 + d);
	memcpy(buf, tu_dir(), d);
	buf[d] = '/';
	memset(buf + d + 1, 'n', n - d - 1);
	buf[n] = '\0';
}

static void
test_unix_path_over_107_bytes_is_nametoolong(void **state)
{
	char path[200], url[300];
	ipcx_listener *l = NULL;
	ipcx_chan *c = NULL;

	(void)state;
	path_of_len(path, 108);
	snprintf(url, sizeof url, "unix://%s", path);
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_ENAMETOOLONG);
	assert_rv(ipcx_dial(&c, url, NULL, 0), IPCX_ENAMETOOLONG);
	assert_false(exists(path));
	/* 107 is the longest that fits sun_path, and it is not cut short */
	path[107] = '\0';
	snprintf(url, sizeof url, "unix://%s", path);
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	assert_true(exists(path));
	ipcx_listener_close(l);
	assert_false(exists(path));
}

static void
test_unix_abstract_name_over_107_bytes_is_nametoolong(void **state)
{
	char url[300];
	ipcx_listener *l = NULL;
	ipcx_chan *c = NULL;
	int n = snprintf(url, sizeof url, "unix:@ipcx-test-%d-", (int)getpid());

	(void)state;
	memset(url + n, 'a', 108 - (size_t)(n - 6));
	url[6 + 108] = '\0'; /* 108 name bytes after "unix:@" */
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_ENAMETOOLONG);
	assert_rv(ipcx_dial(&c, url, NULL, 0), IPCX_ENAMETOOLONG);
	url[6 + 107] = '\0';
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	ipcx_listener_close(l);
}

static void
test_fifo_path_over_path_max_is_nametoolong(void **state)
{
	size_t n = PATH_MAX + 100;
	char *url = tu_xmalloc(n + 16), comp[300];
	ipcx_listener *l = NULL;
	ipcx_chan *c = NULL;

	(void)state;
	strcpy(url, "fifo://");
	for (size_t i = 7; i < 7 + n; i++) {
		url[i] = (i - 7) % 100 == 0 ? '/' : 'p';
	}
	url[7 + n] = '\0';
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_ENAMETOOLONG);
	assert_rv(ipcx_dial(&c, url, NULL, 0), IPCX_ENAMETOOLONG);
	/* exactly PATH_MAX characters (no room for the NUL) */
	url[7 + PATH_MAX] = '\0';
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_ENAMETOOLONG);
	/* a component longer than NAME_MAX */
	memset(comp, 'c', NAME_MAX + 1);
	comp[NAME_MAX + 1] = '\0';
	snprintf(url, n, "fifo://%s/%s", tu_dir(), comp);
	assert_rv(ipcx_listen(&l, url, NULL), IPCX_ENAMETOOLONG);
	free(url);
}

static void
test_tcp_host_name_over_255_bytes_is_nametoolong(void **state)
{
	char url[400];
	ipcx_chan *c = NULL;

	(void)state;
	strcpy(url, "tcp://");
	memset(url + 6, 'h', 300);
	strcpy(url + 306, ":80");
	assert_rv(ipcx_dial(&c, url, NULL, 0), IPCX_ENAMETOOLONG);
}

/* ---- stale and live names ------------------------------------------------------------ */

static int
peer_listen_and_hang(const char *url, int up)
{
	ipcx_listener *l;
	char x;

	TRY_RV(ipcx_listen(&l, url, NULL), 0);
	TRY(tu_put(up, "r", 1) == 0, "ctl");
	/* wait here until killed */
	tu_get(up, &x, 1, TU_CHILD_ALARM_S * 1000);
	return 1;
}

static void
test_stale_unix_socket_of_a_dead_process_is_replaced(void **state)
{
	char path[512], url[600], x, b[8];
	ipcx_listener *l;
	ipcx_chan *c = NULL, *d = NULL;
	size_t len = 0;
	int up[2];
	pid_t pid;

	(void)state;
	tu_path(path, sizeof path, "s");
	snprintf(url, sizeof url, "unix://%s", path);
	tu_pipe(up);
	pid = tu_fork();
	if (pid == 0) {
		tu_child_exit(peer_listen_and_hang(url, up[1]));
	}
	assert_int_equal(tu_get(up[0], &x, 1, WAIT_MS), 0);
	tu_kill(pid);
	assert_int_equal(perm(path, S_IFSOCK), 0600); /* left behind by the dead listener */
	assert_rv(ipcx_listen(&l, url, NULL), 0);
	assert_rv(ipcx_dial(&d, url, NULL, WAIT_MS), 0);
	assert_rv(ipcx_send(d, "hi", 2, WAIT_MS), 0);
	assert_rv(ipcx_accept(l, &c, WAIT_MS), 0);
	assert_rv(ipcx_recv(c, b, sizeof b, &len, WAIT_MS), 0);
	assert_int_equal(len, 2);
	ipcx_close(c);
	ipcx_close(d);
	ipcx_listener_close(l);
	assert_false(exists(path));
	close(up[0]);
	close(up[1]);
}

static int
peer_live_listener(const char *url, int up, int down)
{
	ipcx_listener *l;
	ipcx_chan *c = NULL;
	char b[8], x;
	size_t len = 0;

	TRY_RV(ipcx_listen(&l, url, NULL), 0);
	TRY(tu_put(up, "r", 1) == 0, "ctl");
	/* The second listener may probe this one with a connection that it closes at once
	 * (the stale-socket check): skip such clients. */
	for (int i = 0;; i++) {
		int rv;
		TRY(i < 8, "no client said hi");
		TRY_RV(ipcx_accept(l, &c, WAIT_MS), 0);
		rv = ipcx_recv(c, b, sizeof b, &len, WAIT_MS);
		if (rv == 0) {
			break;
		}
		TRY_RV(rv, IPCX_ECLOSED);
		ipcx_close(c);
	}
	TRY(len == 2 && memcmp(b, "hi", 2) == 0, "got %zu bytes", len);
	TRY(tu_put(up, "g", 1) == 0, "ctl");
	TRY(tu_get(down, &x, 1, WAIT_MS) == 0, "ctl");
	ipcx_close(c);
	ipcx_listener_close(l);
	return 0;
}

static void
live_listener_is_not_taken_over(const char *fmt, bool dial_connects_at_once)
{
	char path[512], url[600], x;
	struct stat before, after;
	ipcx_listener *l2 = NULL;
	ipcx_chan *c = NULL;
	int up[2], down[2], rv;
	pid_t pid;

	tu_path(path, sizeof path, "live");
	snprintf(url, sizeof url, fmt, path);
	tu_pipe(up);
	tu_pipe(down);
	pid = tu_fork();
	if (pid == 0) {
		tu_child_exit(peer_live_listener(url, up[1], down[0]));
	}
	assert_int_equal(tu_get(up[0], &x, 1, WAIT_MS), 0);
	assert_int_equal(lstat(path, &before), 0);
	rv = ipcx_listen(&l2, url, NULL);
	if (rv != IPCX_EADDRINUSE && rv != IPCX_EEXIST) {
		ipcx_listener_close(l2);
		fail_msg("second listen on a live %s: %s", url, ipcx_err_name(rv));
	}
	assert_null(l2);
	assert_int_equal(lstat(path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino); /* not removed and re-created */
	/* and the first listener still serves */
	if (dial_connects_at_once) {
		assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), 0);
		assert_rv(ipcx_send(c, "hi", 2, WAIT_MS), 0);
	} else {
		assert_rv(ipcx_dial(&c, url, NULL, WAIT_MS), 0); /* fifo: waits for accept */
		assert_rv(ipcx_send(c, "hi", 2, WAIT_MS), 0);
	}
	assert_int_equal(tu_get(up[0], &x, 1, WAIT_MS), 0);
	assert_int_equal(x, 'g');
	assert_int_equal(tu_put(down[1], "x", 1), 0);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	ipcx_close(c);
	assert_false(exists(path));
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

static void
test_live_unix_listener_socket_is_not_removed_by_second_listen(void **state)
{
	(void)state;
	live_listener_is_not_taken_over("unix://%s", true);
}

static void
test_live_fifo_listener_is_not_removed_by_second_listen(void **state)
{
	(void)state;
	live_listener_is_not_taken_over("fifo://%s", false);
}

static void
test_live_abstract_listener_gives_addrinuse(void **state)
{
	char url[128];
	ipcx_listener *a = NULL, *b = NULL;

	(void)state;
	snprintf(url, sizeof url, "unix:@ipcx-test-%d-%u", (int)getpid(), tu_next());
	assert_rv(ipcx_listen(&a, url, NULL), 0);
	assert_rv(ipcx_listen(&b, url, NULL), IPCX_EADDRINUSE);
	assert_null(b);
	ipcx_listener_close(a);
}

/* A file that ipcx did not create is never removed or changed by listen. */
static void
foreign_file_is_untouched(const char *fmt, bool symlink_to_it)
{
	static const char content[] = "precious data\n";
	char path[512], victim[512], url[600], b[64];
	ipcx_listener *l = NULL;
	int fd, rv;

	tu_path(victim, sizeof victim, "victim");
	fd = open(victim, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, sizeof content - 1), (ssize_t)sizeof content - 1);
	close(fd);
	if (symlink_to_it) {
		tu_path(path, sizeof path, "link");
		assert_int_equal(symlink(victim, path), 0);
	} else {
		strcpy(path, victim);
	}
	snprintf(url, sizeof url, fmt, path);
	rv = ipcx_listen(&l, url, NULL);
	if (rv == 0) {
		ipcx_listener_close(l);
		fail_msg("listen on a foreign file %s succeeded", path);
	}
	fd = open(victim, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, b, sizeof b), (ssize_t)sizeof content - 1);
	assert_memory_equal(b, content, sizeof content - 1);
	close(fd);
	assert_true(exists(path));
	if (symlink_to_it) {
		struct stat st;
		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISLNK(st.st_mode));
		unlink(path);
	}
	unlink(victim);
}

static void
test_listen_never_removes_a_regular_file_in_the_way(void **state)
{
	(void)state;
	foreign_file_is_untouched("unix://%s", false);
	foreign_file_is_untouched("fifo://%s", false);
}

static void
test_listen_does_not_follow_a_symlink(void **state)
{
	(void)state;
	foreign_file_is_untouched("unix://%s", true);
	foreign_file_is_untouched("fifo://%s", true);
}

/* ---- names removed on close, or kept -------------------------------------------------- */

static void
test_listener_close_removes_its_names(void **state)
{
	static const char *const fmts[] = {"fifo://%s", "unix://%s"};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char path[512], url[600];
		ipcx_listener *l;
		tu_path(path, sizeof path, "n");
		snprintf(url, sizeof url, fmts[i], path);
		assert_rv(ipcx_listen(&l, url, NULL), 0);
		assert_true(exists(path));
		ipcx_listener_close(l);
		assert_false(exists(path));
	}
}

/* A listener on a relative path removes its name on close even after the process moved
 * to another directory. */
static void
test_listener_on_relative_path_removes_its_name_after_chdir(void **state)
{
	static const char *const urls[] = {"fifo://rel", "unix://rel"};
	char old[4096], path[512];

	(void)state;
	assert_non_null(getcwd(old, sizeof old));
	for (size_t i = 0; i < 2; i++) {
		ipcx_listener *l;
		assert_int_equal(chdir(tu_dir()), 0);
		assert_rv(ipcx_listen(&l, urls[i], NULL), 0);
		assert_int_equal(chdir("/"), 0);
		ipcx_listener_close(l);
		snprintf(path, sizeof path, "%s/rel", tu_dir());
		assert_false(exists(path));
	}
	assert_int_equal(chdir(old), 0);
}

static void
test_keep_option_leaves_names_and_relisten_works(void **state)
{
	static const struct {
		const char *fmt, *query;
		bool opt_keep;
		mode_t type;
	} cases[] = {
	        {"fifo://%s%s", "", true, S_IFIFO},
	        {"fifo://%s%s", "?keep=1", false, S_IFIFO},
	        {"unix://%s%s", "", true, S_IFSOCK},
	        {"unix://%s%s", "?keep=1", false, S_IFSOCK},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[512], url[600], url2[600];
		ipcx_listener *l;
		ipcx_opts o;
		ipcx_opts_init(&o);
		o.keep = cases[i].opt_keep;
		tu_path(path, sizeof path, "k");
		snprintf(url, sizeof url, cases[i].fmt, path, cases[i].query);
		assert_rv(ipcx_listen(&l, url, &o), 0);
		ipcx_listener_close(l);
		assert_int_equal(perm(path, cases[i].type), 0600);
		/* a kept name nobody listens on is taken over by the next listener */
		snprintf(url2, sizeof url2, cases[i].fmt, path, "");
		assert_rv(ipcx_listen(&l, url2, NULL), 0);
		ipcx_listener_close(l);
		assert_false(exists(path));
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int
main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
	        T(test_fifos_are_0600_by_default_whatever_the_umask),
	        T(test_unix_socket_file_is_0600_by_default_whatever_the_umask),
	        T(test_mode_option_is_respected),
	        T(test_unix_path_over_107_bytes_is_nametoolong),
	        T(test_unix_abstract_name_over_107_bytes_is_nametoolong),
	        T(test_fifo_path_over_path_max_is_nametoolong),
	        T(test_tcp_host_name_over_255_bytes_is_nametoolong),
	        T(test_stale_unix_socket_of_a_dead_process_is_replaced),
	        T(test_live_unix_listener_socket_is_not_removed_by_second_listen),
	        T(test_live_fifo_listener_is_not_removed_by_second_listen),
	        T(test_live_abstract_listener_gives_addrinuse),
	        T(test_listen_never_removes_a_regular_file_in_the_way),
	        T(test_listen_does_not_follow_a_symlink),
	        T(test_listener_close_removes_its_names),
	        T(test_listener_on_relative_path_removes_its_name_after_chdir),
	        T(test_keep_option_leaves_names_and_relisten_works),
	};

	return tu_run("security", tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
