/*
 * testutil.c - the shared test scaffolding declared in testutil.h: private directories that
 * must end empty, bounded waits for forked peers, control pipes and payload patterns.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <glob.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define TU_MAX_KIDS 128

static char tu_dirbuf[512];
static char tu_regbuf[600];
static unsigned tu_counter;
static pid_t tu_kids[TU_MAX_KIDS];

void
tu_report(const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[%d] %s:%d: check failed: %s: ", (int)getpid(), file, line, expr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

unsigned
tu_next(void)
{
	return ++tu_counter;
}

const char *
tu_dir(void)
{
	return tu_dirbuf;
}

void
tu_path(char *buf, size_t cap, const char *stem)
{
	int n = snprintf(buf, cap, "%s/%s-%d-%u", tu_dirbuf, stem, (int)getpid(), tu_next());

	if (n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "tu_path: buffer too small\n");
		abort();
	}
}

void
tu_url_fifo(char *buf, size_t cap)
{
	char p[512];

	tu_path(p, sizeof p, "srv");
	snprintf(buf, cap, "fifo://%s", p);
}

void
tu_url_unix(char *buf, size_t cap)
{
	char p[512];

	tu_path(p, sizeof p, "sock");
	snprintf(buf, cap, "unix://%s", p);
}

void
tu_url_tcp(char *buf, size_t cap)
{
	snprintf(buf, cap, "tcp://127.0.0.1:0");
}

void
tu_url_tcp6(char *buf, size_t cap)
{
	snprintf(buf, cap, "tcp://[::1]:0");
}

void
tu_url_udp(char *buf, size_t cap)
{
	snprintf(buf, cap, "udp://127.0.0.1:0");
}

void
tu_url_sysvmq(char *buf, size_t cap)
{
	snprintf(buf, cap, "sysvmq://%s?proj=%u", tu_dir(),
	         ((unsigned)getpid() + tu_next()) % 255 + 1);
}

void
tu_url_file(char *buf, size_t cap)
{
	char p[512];

	tu_path(p, sizeof p, "log");
	snprintf(buf, cap, "file://%s", p);
}

size_t
tu_sysvmq_max(void)
{
	size_t lim[2] = {8192, 16384};
	const char *files[2] = {"/proc/sys/kernel/msgmax", "/proc/sys/kernel/msgmnb"};

	for (int i = 0; i < 2; i++) {
		FILE *fp = fopen(files[i], "r");
		long v;
		if (fp != NULL) {
			if (fscanf(fp, "%ld", &v) == 1 && v > 1) {
				lim[i] = (size_t)v;
			}
			fclose(fp);
		}
	}
	return (lim[0] < lim[1] ? lim[0] : lim[1]) - 1;
}

int
tu_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	const char *tag = getenv("IPCX_TEST_TAG");

	(void)state;
	if (tmp == NULL || *tmp == '\0') {
		tmp = "/tmp";
	}
	if (tag == NULL || *tag == '\0') {
		tag = "manual";
	}
	snprintf(tu_dirbuf, sizeof tu_dirbuf, "%s/ipcx-t-%s-%d-XXXXXX", tmp, tag, (int)getpid());
	if (mkdtemp(tu_dirbuf) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	/* the test's own creator registry: never the user's, and it must end empty */
	snprintf(tu_regbuf, sizeof tu_regbuf, "%s/registry", tu_dirbuf);
	setenv("IPCX_REGISTRY_DIR", tu_regbuf, 1);
	alarm(TU_TEST_ALARM_S);
	return 0;
}

static int
tu_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP) {
		return rmdir(path);
	}
	return unlink(path);
}

int
tu_teardown(void **state)
{
	DIR *d;
	struct dirent *e;
	int left = 0;

	(void)state;
	for (int i = 0; i < TU_MAX_KIDS; i++) {
		if (tu_kids[i] > 0) {
			fprintf(stderr, "teardown: killing leftover child %d\n", (int)tu_kids[i]);
			tu_kill(tu_kids[i]);
		}
	}
	rmdir(tu_regbuf); /* if entries are left, it stays and is reported below */
	if ((d = opendir(tu_dirbuf)) == NULL) {
		perror(tu_dirbuf);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			fprintf(stderr, "teardown: left behind in the test directory: %s\n",
			        e->d_name);
			left++;
		}
	}
	closedir(d);
	if (left > 0) {
		nftw(tu_dirbuf, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		return -1;
	}
	if (rmdir(tu_dirbuf) == -1) {
		perror(tu_dirbuf);
		return -1;
	}
	return 0;
}

static void
tu_kid_forget(pid_t pid)
{
	for (int i = 0; i < TU_MAX_KIDS; i++) {
		if (tu_kids[i] == pid) {
			tu_kids[i] = 0;
		}
	}
}

pid_t
tu_fork(void)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		/* cmocka catches these to longjmp back into its runner: a child must just die. */
		static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGABRT};
		for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
			signal(sigs[i], SIG_DFL);
		}
		memset(tu_kids, 0, sizeof tu_kids);
		alarm(TU_CHILD_ALARM_S);
		return 0;
	}
	if (pid > 0) {
		for (int i = 0; i < TU_MAX_KIDS; i++) {
			if (tu_kids[i] == 0) {
				tu_kids[i] = pid;
				break;
			}
		}
	}
	return pid;
}

static int
tu_status(int st)
{
	if (WIFEXITED(st)) {
		return WEXITSTATUS(st);
	}
	if (WIFSIGNALED(st)) {
		return 128 + WTERMSIG(st);
	}
	return 255;
}

int
tu_wait(pid_t pid, int timeout_ms)
{
	int st, pfd;
	pid_t r;

	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int n;
		do {
			n = poll(&p, 1, timeout_ms);
		} while (n == -1 && errno == EINTR);
		close(pfd);
		if (n == 0) {
			fprintf(stderr, "child %d did not end within %d ms: killing it\n", (int)pid,
			        timeout_ms);
			tu_kill(pid);
			return -1;
		}
	} else {
		/* No pidfd: poll the child's state (a bound, not a synchronisation). */
		for (int waited = 0;; waited += 5) {
			r = waitpid(pid, &st, WNOHANG);
			if (r == pid) {
				tu_kid_forget(pid);
				return tu_status(st);
			}
			if (waited >= timeout_ms) {
				tu_kill(pid);
				return -1;
			}
			poll(NULL, 0, 5);
		}
	}
	do {
		r = waitpid(pid, &st, 0);
	} while (r == -1 && errno == EINTR);
	tu_kid_forget(pid);
	if (r != pid) {
		return -1;
	}
	if (tu_status(st) != 0) {
		fprintf(stderr, "child %d ended with status %d\n", (int)pid, tu_status(st));
	}
	return tu_status(st);
}

void
tu_kill(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR) {
	}
	tu_kid_forget(pid);
}

_Noreturn void
tu_child_exit(int status)
{
	fflush(stdout);
	fflush(stderr);
	_exit(status == 0 ? 0 : 1);
}

void
tu_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) == -1) {
		perror("pipe2");
		abort();
	}
}

int
tu_put(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
tu_get(int fd, void *buf, size_t n, int timeout_ms)
{
	char *p = buf;

	while (n > 0) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		ssize_t r;
		int k = poll(&pf, 1, timeout_ms);
		if (k == -1 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			fprintf(stderr, "[%d] tu_get: nothing within %d ms\n", (int)getpid(),
			        timeout_ms);
			return -1;
		}
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

void
tu_close(int fd)
{
	if (fd >= 0) {
		close(fd);
	}
}

uint32_t
tu_hash(uint32_t k)
{
	k ^= k >> 16;
	k *= 0x7feb352dU;
	k ^= k >> 15;
	k *= 0x846ca68bU;
	k ^= k >> 16;
	return k;
}

static inline unsigned char
tu_byte(size_t i, uint32_t seed)
{
	/* Depends on the position in a way that a shift by any small amount breaks. */
	return (unsigned char)((uint32_t)i * 0x9dU + seed + (uint32_t)(i >> 8) * 0x3bU +
	                       (uint32_t)(i >> 16) * 0x17U);
}

static void
tu_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t
tu_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void
tu_fill(void *buf, size_t len, uint32_t k)
{
	unsigned char *p = buf;
	uint32_t seed = tu_hash(k);

	for (size_t i = 0; i < len; i++) {
		p[i] = tu_byte(i, seed);
	}
	if (len >= 8) {
		tu_put32(p, k);
		tu_put32(p + 4, ~k);
	}
}

bool
tu_check(const void *buf, size_t len, uint32_t k)
{
	const unsigned char *p = buf;
	uint32_t seed = tu_hash(k);
	size_t i = 0;

	if (len >= 8) {
		if (tu_get32(p) != k || tu_get32(p + 4) != ~k) {
			return false;
		}
		i = 8;
	}
	for (; i < len; i++) {
		if (p[i] != tu_byte(i, seed)) {
			return false;
		}
	}
	return true;
}

int64_t
tu_ident(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (len < 8 || tu_get32(p) != ~tu_get32(p + 4)) {
		return -1;
	}
	return tu_get32(p);
}

int
tu_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL) {
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.') {
			n++;
		}
	}
	closedir(d);
	return n - 1; /* the directory's own fd */
}

bool
tu_have_ipv6(void)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0) {
		return false;
	}
	ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

void *
tu_xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL) {
		fprintf(stderr, "out of memory (%zu bytes)\n", n);
		abort();
	}
	return p;
}

/* A test process that crashed could not remove its private directory: do it for it. */
static void
tu_remove_dirs_of(pid_t pid)
{
	const char *tmp = getenv("TMPDIR");
	const char *tag = getenv("IPCX_TEST_TAG");
	char pat[600];
	glob_t g;

	snprintf(pat, sizeof pat, "%s/ipcx-t-%s-%d-*", tmp && *tmp ? tmp : "/tmp",
	         tag && *tag ? tag : "manual", (int)pid);
	if (glob(pat, 0, NULL, &g) != 0) {
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		fprintf(stderr, "removing %s, left by the failed test\n", g.gl_pathv[i]);
		nftw(g.gl_pathv[i], tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	globfree(&g);
}

/*
 * The bytes of all POSIX queues of a user count against the RLIMIT_MSGQUEUE of whichever of
 * its processes makes the next queue: 800 KiB by default, about 9 queues of ipcx's default
 * shape (10 x 8192), for every process of the user on the machine. Raise it as far as the
 * hard limit allows (with CAP_SYS_RESOURCE: no limit; a test of the limit lowers it).
 */
static void
tu_raise_msgqueue(void)
{
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};

	if (setrlimit(RLIMIT_MSGQUEUE, &rl) == -1 && getrlimit(RLIMIT_MSGQUEUE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_MSGQUEUE, &rl);
	}
}

static void
tu_on_alarm(int sig)
{
	(void)sig; /* interrupts flock() */
}

/*
 * Without CAP_SYS_RESOURCE (a container) that budget stays 800 KiB, shared by every run on
 * the machine: suites making POSIX queues at once failed each other's (loan_mq and mq with
 * IPCX_ENOSPC while conformance_mq of another tree ran). tests/CMakeLists.txt names such a
 * suite's lock file in IPCX_TEST_LOCK (RESOURCE_LOCK serialises them within one ctest
 * run; this flock, held until the suite exits, across runs). The wait is bounded: after
 * 120 s the suite runs anyway, as it would without the lock.
 */
static void
tu_machine_lock(void)
{
	const char *path = getenv("IPCX_TEST_LOCK");
	struct sigaction sa = {.sa_handler = tu_on_alarm}, old;
	unsigned left;
	int fd;

	if (path == NULL || *path == '\0' || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		return;
	}
	sigaction(SIGALRM, &sa, &old); /* no SA_RESTART: the alarm ends the wait */
	left = alarm(120);
	if (flock(fd, LOCK_EX) == -1) {
		fprintf(stderr, "%s still locked by another run after 120 s: running anyway\n",
		        path);
		close(fd);
	} /* else fd stays open: the lock lasts as long as this process */
	alarm(left);
	sigaction(SIGALRM, &old, NULL);
}

int
tu_run(const char *group, const struct CMUnitTest *tests, size_t n, const char *glob)
{
	size_t run = 0, failed = 0;
	char names[4096] = "";

	setvbuf(stdout, NULL, _IOLBF, 0); /* children and parent interleave whole lines */
	tu_raise_msgqueue();
	tu_machine_lock();
	for (size_t i = 0; i < n; i++) {
		pid_t pid;
		int st;
		if (glob != NULL && fnmatch(glob, tests[i].name, 0) != 0) {
			continue;
		}
		run++;
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid == -1) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			int rv;
			setpgid(0, 0); /* its peers join this group: one kill ends them all */
			rv = _cmocka_run_group_tests(group, &tests[i], 1, NULL, NULL);
			fflush(stdout);
			fflush(stderr);
			exit(rv == 0 ? 0 : 1); /* exit, not _exit: LeakSanitizer checks here */
		}
		setpgid(pid, pid); /* also here: no race with the child's own call */
		{
			siginfo_t si;
			while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == -1 &&
			       errno == EINTR) {
			}
		}
		/* Peers of a test that crashed are still waiting for it: end them now rather
		 * than at their alarm (they hold the output pipe that CTest waits on). The
		 * unreaped test process keeps its pid, so the group cannot be anybody else's. */
		kill(-pid, SIGKILL);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR) {
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			tu_remove_dirs_of(pid);
			failed++;
			if (WIFSIGNALED(st)) {
				printf("[  CRASHED ] %s: killed by signal %d\n", tests[i].name,
				       WTERMSIG(st));
			}
			if (strlen(names) + strlen(tests[i].name) + 3 < sizeof names) {
				strcat(names, " ");
				strcat(names, tests[i].name);
			}
		}
	}
	printf("[ SUMMARY  ] %s: %zu run, %zu failed%s%s\n", group, run, failed, failed ? ":" : "",
	       names);
	return failed == 0 && run > 0 ? 0 : 1;
}
