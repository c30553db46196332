/*
 * objlist.c - tests of ipcx_obj_list / ipcx_obj_remove and of `ipcx ls` / `ipcx rm`: real
 * objects of every kind, made with plain syscalls and with ipcx, crashed creators, pid reuse.
 */
#include "testutil.h"

#include "core/ipcx_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef IPCX_BIN
#error "IPCX_BIN must name the ipcx command"
#endif

#define WAIT_MS TU_WAIT_MS

/* ---- helpers --------------------------------------------------------------------------- */

/* A unique object name stem "t-ol-<stem>-<pid>-<n>". */
static void
uniq(char *buf, size_t cap, const char *stem)
{
	snprintf(buf, cap, "t-ol-%s-%d-%u", stem, (int)getpid(), tu_next());
}

/* The listing (flags) and the entry named name in it, or NULL. The list is kept in a static
 * so that a test can look several names up; list_free releases it. */
static ipcx_obj_info *L;
static size_t LN;

static void
list_free(void)
{
	free(L);
	L = NULL;
	LN = 0;
}

static void
list_now(int flags)
{
	list_free();
	assert_rv(ipcx_obj_list(&L, &LN, flags), 0);
}

static const ipcx_obj_info *
find(const char *name)
{
	for (size_t i = 0; i < LN; i++) {
		if (strcmp(L[i].name, name) == 0) {
			return &L[i];
		}
	}
	return NULL;
}

static const ipcx_obj_info *
must_find(const char *name)
{
	const ipcx_obj_info *o = find(name);

	if (o == NULL) {
		fail_msg("%s is not listed", name);
	}
	return o;
}

/* A fresh System V key: a hash of pid and counter, the next one if it is taken. */
static key_t
next_key(void)
{
	return (key_t)(0x0c000000u | (tu_hash((uint32_t)getpid() * 4099u + tu_next()) & 0xffffffu));
}

static int
sysv_msg_new(key_t *key, int mode)
{
	for (int i = 0; i < 100; i++) {
		int id;
		*key = next_key();
		if ((id = msgget(*key, IPC_CREAT | IPC_EXCL | mode)) >= 0 || errno != EEXIST) {
			return id;
		}
	}
	return -1;
}

static int
sysv_shm_new(key_t *key, size_t size, int mode)
{
	for (int i = 0; i < 100; i++) {
		int id;
		*key = next_key();
		if ((id = shmget(*key, size, IPC_CREAT | IPC_EXCL | mode)) >= 0 ||
		    errno != EEXIST) {
			return id;
		}
	}
	return -1;
}

static int
sysv_sem_new(key_t *key, int mode)
{
	for (int i = 0; i < 100; i++) {
		int id;
		*key = next_key();
		if ((id = semget(*key, 1, IPC_CREAT | IPC_EXCL | mode)) >= 0 || errno != EEXIST) {
			return id;
		}
	}
	return -1;
}

/* Field col (0-based) of the /proc/sysvipc/<file> row whose second column is id. */
static long long
proc_sysv(const char *file, int id, int col, int base)
{
	char path[64], line[512];
	long long v = -2;
	FILE *fp;

	snprintf(path, sizeof path, "/proc/sysvipc/%s", file);
	assert_non_null(fp = fopen(path, "re"));
	while (fgets(line, sizeof line, fp) != NULL) {
		char *f[32], *save = NULL;
		int n = 0;
		for (char *t = strtok_r(line, " \n", &save); t && n < 32;
		     t = strtok_r(NULL, " \n", &save)) {
			f[n++] = t;
		}
		if (n > col && strcmp(f[1], "msqid") != 0 && strcmp(f[1], "shmid") != 0 &&
		    strcmp(f[1], "semid") != 0 && atoi(f[1]) == id) {
			v = strtoll(f[col], NULL, base);
		}
	}
	fclose(fp);
	if (v == -2) {
		fail_msg("id %d not in %s", id, path);
	}
	return v;
}

/* QSIZE of a POSIX queue from /dev/mqueue. */
static long long
mq_qsize(const char *kname)
{
	char path[PATH_MAX], buf[256];
	long long q = -1;
	FILE *fp;

	snprintf(path, sizeof path, "/dev/mqueue%s", kname);
	assert_non_null(fp = fopen(path, "re"));
	assert_non_null(fgets(buf, sizeof buf, fp));
	fclose(fp);
	assert_int_equal(sscanf(buf, "QSIZE:%lld", &q), 1);
	return q;
}

static mqd_t
mq_new(const char *kname, unsigned mode)
{
	struct mq_attr a = {.mq_maxmsg = 4, .mq_msgsize = 64};
	mode_t old = umask(0);
	mqd_t q = mq_open(kname, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NONBLOCK, mode, &a);

	umask(old);
	if (q == (mqd_t)-1) {
		fail_msg("mq_open %s: %s", kname, strerror(errno));
	}
	return q;
}

static bool
mq_exists(const char *kname)
{
	mqd_t q = mq_open(kname, O_RDONLY | O_CLOEXEC);

	if (q == (mqd_t)-1) {
		return errno != ENOENT;
	}
	mq_close(q);
	return true;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int
lines(const char *s)
{
	int n = 0;

	for (; *s; s++) {
		n += *s == '\n';
	}
	return n;
}

static int
count_entry(void *arg, const char *kind, const char *name, pid_t pid, unsigned long long st)
{
	(void)kind;
	(void)name;
	(void)pid;
	(void)st;
	++*(int *)arg;
	return 0;
}

/* Number of entries in this test's registry. */
static int
registry_entries(void)
{
	int n = 0;

	assert_rv(ipcx__registry_each(count_entry, &n), 0);
	return n;
}

/* Write a registry entry by hand: creator pid with start time st. */
static void
registry_fake(const char *kind, const char *name, pid_t pid, unsigned long long st)
{
	char dir[PATH_MAX], path[PATH_MAX * 2], *o;
	FILE *fp;

	assert_rv(ipcx__registry_dir(dir, sizeof dir), 0);
	o = path + snprintf(path, sizeof path, "%s/%s:", dir, kind);
	for (const char *p = name; *p; p++) {
		o += *p == '/' || *p == '%' ? sprintf(o, "%%%02X", (unsigned char)*p)
		                            : sprintf(o, "%c", *p);
	}
	assert_non_null(fp = fopen(path, "we"));
	fprintf(fp, "%ld %llu\n", (long)pid, st);
	assert_int_equal(fclose(fp), 0);
}

/* Run the ipcx command with args (NULL-terminated); its stdout and stderr are read into a
 * malloc'd *out (NUL-terminated). Returns the exit status. */
static int
run_ipcx(char **out, ...)
{
	char *argv[16], *buf = tu_xmalloc(1 << 16);
	size_t n = 0, cap = 1 << 16;
	int p[2], argc = 0;
	va_list ap;
	pid_t pid;

	argv[argc++] = (char *)IPCX_BIN;
	va_start(ap, out);
	for (char *a; argc < 15 && (a = va_arg(ap, char *)) != NULL;) {
		argv[argc++] = a;
	}
	va_end(ap);
	argv[argc] = NULL;
	tu_pipe(p);
	if ((pid = tu_fork()) == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(IPCX_BIN, argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		ssize_t r;
		if (poll(&pf, 1, WAIT_MS) <= 0) {
			break;
		}
		if (n + 1 == cap) {
			buf = realloc(buf, cap *= 2);
			assert_non_null(buf);
		}
		if ((r = read(p[0], buf + n, cap - n - 1)) <= 0) {
			break;
		}
		n += (size_t)r;
	}
	close(p[0]);
	buf[n] = '\0';
	*out = buf;
	return tu_wait(pid, WAIT_MS);
}

/* ---- a small strict JSON parser: the test does not trust the printer it checks -------- */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
	int type;
	bool b;
	double num;
	char *str;      /* J_STR: decoded UTF-8 */
	size_t n;       /* J_ARR, J_OBJ */
	struct jv *kid; /* n values */
	char **key;     /* J_OBJ: n keys */
} jv;

static const char *jp;

static void
j_ws(void)
{
	while (*jp == ' ' || *jp == '\t' || *jp == '\n' || *jp == '\r') {
		jp++;
	}
}

static int j_value(jv *v);

static void
j_put_utf8(char **o, unsigned cp)
{
	unsigned char *u = (unsigned char *)*o;

	if (cp < 0x80) {
		*u++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*u++ = (unsigned char)(0xc0 | cp >> 6);
		*u++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*u++ = (unsigned char)(0xe0 | cp >> 12);
		*u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*u++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*u++ = (unsigned char)(0xf0 | cp >> 18);
		*u++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		*u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*u++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*o = (char *)u;
}

static int
j_hex4(unsigned *cp)
{
	*cp = 0;
	for (int i = 0; i < 4; i++) {
		char c = *jp++;
		*cp <<= 4;
		if (c >= '0' && c <= '9') {
			*cp |= (unsigned)(c - '0');
		} else if (c >= 'a' && c <= 'f') {
			*cp |= (unsigned)(c - 'a' + 10);
		} else if (c >= 'A' && c <= 'F') {
			*cp |= (unsigned)(c - 'A' + 10);
		} else {
			return -1;
		}
	}
	return 0;
}

static int
j_string(char **out)
{
	char *o;

	if (*jp++ != '"') {
		return -1;
	}
	*out = o = tu_xmalloc(strlen(jp) * 4 + 1);
	for (;;) {
		unsigned char c = (unsigned char)*jp;
		if (c == '"') {
			jp++;
			*o = '\0';
			return 0;
		}
		if (c < 0x20) {
			return -1; /* also the end of the text */
		}
		if (c == '\\') {
			unsigned cp;
			jp++;
			switch (*jp++) {
			case '"':
				*o++ = '"';
				break;
			case '\\':
				*o++ = '\\';
				break;
			case '/':
				*o++ = '/';
				break;
			case 'b':
				*o++ = '\b';
				break;
			case 'f':
				*o++ = '\f';
				break;
			case 'n':
				*o++ = '\n';
				break;
			case 'r':
				*o++ = '\r';
				break;
			case 't':
				*o++ = '\t';
				break;
			case 'u':
				if (j_hex4(&cp) != 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
					return -1; /* ls never needs surrogates: it writes UTF-8 */
				}
				j_put_utf8(&o, cp);
				break;
			default:
				return -1;
			}
			continue;
		}
		if (c >= 0x80) {
			/* raw bytes must be valid UTF-8 */
			int n = c >= 0xf0 && c <= 0xf4   ? 4
			        : c >= 0xe0              ? 3
			        : c >= 0xc2 && c <= 0xdf ? 2
			                                 : 0;
			if (n == 0 || c > 0xf4) {
				return -1;
			}
			for (int i = 1; i < n; i++) {
				if (((unsigned char)jp[i] & 0xc0) != 0x80) {
					return -1;
				}
			}
			memcpy(o, jp, (size_t)n);
			o += n;
			jp += n;
			continue;
		}
		*o++ = (char)c;
		jp++;
	}
}

static int
j_number(jv *v)
{
	const char *s = jp;
	char *end;

	if (*jp == '-') {
		jp++;
	}
	if (*jp == '0') {
		jp++;
	} else if (*jp >= '1' && *jp <= '9') {
		while (*jp >= '0' && *jp <= '9') {
			jp++;
		}
	} else {
		return -1;
	}
	if (*jp == '.') {
		jp++;
		if (!(*jp >= '0' && *jp <= '9')) {
			return -1;
		}
		while (*jp >= '0' && *jp <= '9') {
			jp++;
		}
	}
	if (*jp == 'e' || *jp == 'E') {
		jp++;
		if (*jp == '+' || *jp == '-') {
			jp++;
		}
		if (!(*jp >= '0' && *jp <= '9')) {
			return -1;
		}
		while (*jp >= '0' && *jp <= '9') {
			jp++;
		}
	}
	v->type = J_NUM;
	v->num = strtod(s, &end);
	return end == jp ? 0 : -1;
}

static int
j_list(jv *v, bool obj)
{
	char close = obj ? '}' : ']';

	jp++;
	v->type = obj ? J_OBJ : J_ARR;
	j_ws();
	if (*jp == close) {
		jp++;
		return 0;
	}
	for (;;) {
		v->kid = realloc(v->kid, (v->n + 1) * sizeof *v->kid);
		v->key = realloc(v->key, (v->n + 1) * sizeof *v->key);
		assert_non_null(v->kid);
		assert_non_null(v->key);
		memset(&v->kid[v->n], 0, sizeof v->kid[0]);
		v->key[v->n] = NULL;
		v->n++;
		j_ws();
		if (obj) {
			if (j_string(&v->key[v->n - 1]) != 0) {
				return -1;
			}
			j_ws();
			if (*jp++ != ':') {
				return -1;
			}
		}
		if (j_value(&v->kid[v->n - 1]) != 0) {
			return -1;
		}
		j_ws();
		if (*jp == ',') {
			jp++;
			continue;
		}
		if (*jp++ == close) {
			return 0;
		}
		return -1;
	}
}

static int
j_value(jv *v)
{
	j_ws();
	switch (*jp) {
	case '{':
		return j_list(v, true);
	case '[':
		return j_list(v, false);
	case '"':
		v->type = J_STR;
		return j_string(&v->str);
	case 't':
	case 'f':
	case 'n': {
		static const char *const words[] = {"true", "false", "null"};
		for (int i = 0; i < 3; i++) {
			size_t n = strlen(words[i]);
			if (strncmp(jp, words[i], n) == 0) {
				jp += n;
				v->type = i == 2 ? J_NULL : J_BOOL;
				v->b = i == 0;
				return 0;
			}
		}
		return -1;
	}
	default:
		return j_number(v);
	}
}

/* Parse a whole document (nothing but white space after it). */
static int
j_parse(jv *v, const char *text)
{
	memset(v, 0, sizeof *v);
	jp = text;
	if (j_value(v) != 0) {
		return -1;
	}
	j_ws();
	return *jp == '\0' ? 0 : -1;
}

static void
j_free(jv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		j_free(&v->kid[i]);
		free(v->key[i]);
	}
	free(v->kid);
	free(v->key);
	free(v->str);
}

static const jv *
j_get(const jv *o, const char *key)
{
	for (size_t i = 0; o->type == J_OBJ && i < o->n; i++) {
		if (strcmp(o->key[i], key) == 0) {
			return &o->kid[i];
		}
	}
	return NULL;
}

/* The object of the "objects" array whose name is name, or NULL. */
static const jv *
j_object_named(const jv *doc, const char *name)
{
	const jv *arr = j_get(doc, "objects");

	assert_non_null(arr);
	assert_int_equal(arr->type, J_ARR);
	for (size_t i = 0; i < arr->n; i++) {
		const jv *nm = j_get(&arr->kid[i], "name");
		assert_non_null(nm);
		assert_int_equal(nm->type, J_STR);
		if (strcmp(nm->str, name) == 0) {
			return &arr->kid[i];
		}
	}
	return NULL;
}

static long long
j_num(const jv *o, const char *key)
{
	const jv *v = j_get(o, key);

	assert_non_null(v);
	if (v->type == J_NULL) {
		return -1;
	}
	assert_int_equal(v->type, J_NUM);
	return (long long)v->num;
}

static const char *
j_str(const jv *o, const char *key)
{
	const jv *v = j_get(o, key);

	assert_non_null(v);
	assert_int_equal(v->type, J_STR);
	return v->str;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void
test_kind_names_and_bad_arguments(void **state)
{
	static const char *const names[] = {"?",        "posix-mq", "posix-shm", "posix-sem",
	                                    "sysv-msg", "sysv-shm", "sysv-sem",  "fifo",
	                                    "socket",   "file"};
	static const char *const bad[] = {
	        "",
	        "nope:x",
	        "tcp://127.0.0.1:1",
	        "pipe:",
	        "unix:@abs",
	        "posix-mq:x",
	        "posix-mq:/",
	        "posix-shm:/a/b",
	        "sysv-msg:0",
	        "sysv-msg:zz",
	        "sysv-shm:id:",
	        "sysv-sem:id:x",
	        "fifo:",
	        "sysv-msg:0x1g",
	        "mq:///a/b",
	        "sysvmq:1234",
	        "sysvmq:rel/path",
	        "sysvmq:0x12?proj=2",
	};
	ipcx_obj_info *v;
	size_t n;

	(void)state;
	for (int k = 0; k < 10; k++) {
		assert_string_equal(ipcx_obj_kind_name(k), names[k]);
	}
	assert_string_equal(ipcx_obj_kind_name(10), "?");
	assert_string_equal(ipcx_obj_kind_name(-1), "?");
	assert_rv(ipcx_obj_list(NULL, &n, 0), IPCX_EINVAL);
	assert_rv(ipcx_obj_list(&v, NULL, 0), IPCX_EINVAL);
	assert_rv(ipcx_obj_list(&v, &n, 0x100), IPCX_EINVAL);
	assert_rv(ipcx_obj_remove(NULL), IPCX_EINVAL);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rv = ipcx_obj_remove(bad[i]);
		if (rv != IPCX_EINVAL && rv != IPCX_EBADURL) {
			fail_msg("ipcx_obj_remove(\"%s\"): %s", bad[i], ipcx_err_name(rv));
		}
	}
}

static void
test_posix_mq_is_listed_with_size_count_owner_mode(void **state)
{
	char stem[64], kname[80], obj[100], url[100];
	const ipcx_obj_info *o;
	unsigned long long st;
	char msg[20] = {0};
	mqd_t q;

	(void)state;
	uniq(stem, sizeof stem, "mq");
	snprintf(kname, sizeof kname, "/ipcx.%s", stem);
	snprintf(obj, sizeof obj, "posix-mq:%s", kname);
	snprintf(url, sizeof url, "mq:///%s", stem);
	q = mq_new(kname, 0640);
	assert_int_equal(mq_send(q, "hello", 5, 0), 0);
	assert_int_equal(mq_send(q, msg, sizeof msg, 0), 0);

	/* an ipcx. name is ipcx's even without a record of its creator */
	list_now(0);
	o = must_find(obj);
	assert_int_equal(o->kind, IPCX_OBJ_POSIX_MQ);
	assert_int_equal(o->persistence, IPCX_PERSIST_KERNEL);
	assert_int_equal(o->owner, getuid());
	assert_int_equal(o->mode, 0640);
	assert_int_equal(o->count, 2);
	assert_int_equal(o->size, mq_qsize(kname));
	assert_true(o->size >= 25);
	assert_true(o->ours);
	assert_int_equal(o->creator, 0);
	assert_int_equal(o->state, IPCX_OBJ_UNKNOWN);

	/* with a registry entry: this process, alive */
	assert_rv(ipcx__registry_add("posix-mq", kname), 0);
	list_now(0);
	o = must_find(obj);
	assert_int_equal(o->creator, getpid());
	assert_int_equal(o->state, IPCX_OBJ_ALIVE);

	/* removed by its channel URL, with its record */
	mq_close(q);
	assert_rv(ipcx_obj_remove(url), 0);
	assert_false(mq_exists(kname));
	assert_rv(ipcx__registry_lookup("posix-mq", kname, &(pid_t){0}, &st), IPCX_ENOENT);
	list_now(IPCX_LIST_ALL);
	assert_null(find(obj));
	assert_rv(ipcx_obj_remove(obj), IPCX_ENOENT);
	list_free();
}

static void
test_foreign_objects_are_listed_only_with_all(void **state)
{
	char stem[64], mqname[80], shmname[80], mqobj[100], shmobj[100];
	const ipcx_obj_info *o;
	mqd_t q;
	int fd;

	(void)state;
	uniq(stem, sizeof stem, "foreign");
	snprintf(mqname, sizeof mqname, "/%s", stem);
	snprintf(shmname, sizeof shmname, "/%s", stem);
	snprintf(mqobj, sizeof mqobj, "posix-mq:%s", mqname);
	snprintf(shmobj, sizeof shmobj, "posix-shm:%s", shmname);
	q = mq_new(mqname, 0600);
	mq_close(q);
	assert_true((fd = shm_open(shmname, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600)) >= 0);
	assert_int_equal(ftruncate(fd, 3000), 0);
	close(fd);

	list_now(0);
	assert_null(find(mqobj));
	assert_null(find(shmobj));
	list_now(IPCX_LIST_ALL);
	o = must_find(mqobj);
	assert_false(o->ours);
	assert_int_equal(o->count, 0);
	o = must_find(shmobj);
	assert_false(o->ours);
	assert_int_equal(o->size, 3000);
	assert_int_equal(o->count, -1);
	assert_int_equal(o->state, IPCX_OBJ_UNKNOWN);
	list_free();
	assert_rv(ipcx_obj_remove(mqobj), 0);
	assert_rv(ipcx_obj_remove(shmobj), 0);
	assert_false(mq_exists(mqname));
	assert_true(shm_open(shmname, O_RDONLY | O_CLOEXEC, 0) == -1 && errno == ENOENT);
}

static void
test_sysv_objects_are_listed_and_agree_with_proc(void **state)
{
	char msgobj[64], shmobj[64], semobj[64], privobj[64], url[64];
	struct {
		long mtype;
		char text[8];
	} m = {1, "1234567"};
	key_t kmsg, kshm, ksem;
	int msg, shm, sem, priv;
	const ipcx_obj_info *o;
	unsigned long long st;

	(void)state;
	assert_true((msg = sysv_msg_new(&kmsg, 0640)) >= 0);
	assert_true((shm = sysv_shm_new(&kshm, 8192, 0600)) >= 0);
	assert_true((sem = sysv_sem_new(&ksem, 0604)) >= 0);
	assert_true((priv = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600)) >= 0);
	assert_int_equal(msgsnd(msg, &m, 5, 0), 0);
	assert_int_equal(msgsnd(msg, &m, 7, 0), 0);
	assert_int_equal(semctl(sem, 0, SETVAL, 3), 0);
	snprintf(msgobj, sizeof msgobj, "sysv-msg:0x%08x", (unsigned)kmsg);
	snprintf(shmobj, sizeof shmobj, "sysv-shm:0x%08x", (unsigned)kshm);
	snprintf(semobj, sizeof semobj, "sysv-sem:0x%08x", (unsigned)ksem);
	snprintf(privobj, sizeof privobj, "sysv-shm:id:%d", priv);

	/* made with plain syscalls and not recorded: not ipcx's */
	list_now(0);
	assert_null(find(msgobj));
	assert_null(find(shmobj));
	assert_null(find(semobj));
	assert_null(find(privobj));

	list_now(IPCX_LIST_ALL);
	o = must_find(msgobj);
	assert_int_equal(o->kind, IPCX_OBJ_SYSV_MSG);
	assert_int_equal(o->persistence, IPCX_PERSIST_KERNEL);
	assert_false(o->ours);
	assert_int_equal(o->mode, 0640);
	assert_int_equal(o->owner, proc_sysv("msg", msg, 7, 10));
	assert_int_equal(o->size, 12);
	assert_int_equal(o->size, proc_sysv("msg", msg, 3, 10));
	assert_int_equal(o->count, 2);
	assert_int_equal(o->count, proc_sysv("msg", msg, 4, 10));
	o = must_find(shmobj);
	assert_int_equal(o->kind, IPCX_OBJ_SYSV_SHM);
	assert_int_equal(o->mode, 0600);
	assert_int_equal(o->mode, proc_sysv("shm", shm, 2, 8) & 0777);
	assert_int_equal(o->size, 8192);
	assert_int_equal(o->count, 0); /* attached processes */
	assert_false(o->ours);
	o = must_find(semobj);
	assert_int_equal(o->kind, IPCX_OBJ_SYSV_SEM);
	assert_int_equal(o->mode, 0604);
	assert_int_equal(o->count, 3); /* the value */
	assert_int_equal(o->size, -1);
	o = must_find(privobj);
	assert_int_equal(o->size, 4096);

	/* recorded in the registry: ipcx's, created by this process */
	snprintf(url, sizeof url, "0x%08x", (unsigned)kmsg);
	assert_rv(ipcx__registry_add("sysv-msg", url), 0);
	list_now(0);
	o = must_find(msgobj);
	assert_true(o->ours);
	assert_int_equal(o->creator, getpid());
	assert_int_equal(o->state, IPCX_OBJ_ALIVE);
	list_free();

	/* removed by URL, by KIND:KEY and by id; the record goes too */
	snprintf(url, sizeof url, "sysvmq:0x%08x", (unsigned)kmsg);
	assert_rv(ipcx_obj_remove(url), 0);
	assert_true(msgget(kmsg, 0) == -1 && errno == ENOENT);
	snprintf(url, sizeof url, "0x%08x", (unsigned)kmsg);
	assert_rv(ipcx__registry_lookup("sysv-msg", url, &(pid_t){0}, &st), IPCX_ENOENT);
	assert_rv(ipcx_obj_remove(shmobj), 0);
	assert_true(shmget(kshm, 0, 0) == -1 && errno == ENOENT);
	assert_rv(ipcx_obj_remove(semobj), 0);
	assert_true(semget(ksem, 0, 0) == -1 && errno == ENOENT);
	assert_rv(ipcx_obj_remove(privobj), 0);
	assert_true(shmctl(priv, IPC_STAT, &(struct shmid_ds){0}) == -1);
	assert_rv(ipcx_obj_remove(msgobj), IPCX_ENOENT);
	assert_rv(ipcx_obj_remove(privobj), IPCX_ENOENT);
}

static void
test_sysvmq_url_with_ftok_path_is_removed(void **state)
{
	char path[512], url[600], obj[64];
	key_t key = -1;
	int id = -1, fd;

	(void)state;
	tu_path(path, sizeof path, "ftok");
	assert_true((fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600)) >= 0);
	close(fd);
	for (int proj = 1; proj < 256 && id < 0; proj++) {
		key = ftok(path, proj);
		id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
		snprintf(url, sizeof url, "sysvmq://%s?proj=%d", path, proj);
	}
	assert_true(id >= 0);
	snprintf(obj, sizeof obj, "sysv-msg:0x%08x", (unsigned)key);
	list_now(IPCX_LIST_ALL);
	must_find(obj);
	list_free();
	assert_rv(ipcx_obj_remove(url), 0);
	assert_true(msgget(key, 0) == -1 && errno == ENOENT);
	unlink(path);
}

static void
test_posix_shm_and_semaphores_are_listed(void **state)
{
	char s1[64], s2[64], s3[64], s4[64], o1[100], o2[100], o3[100], o4[100], k2[80], k3[80];
	char sysvname[40], o5[64], reg[16];
	const ipcx_obj_info *o;
	ipcx_shm *seg, *sv;
	ipcx_sem *isem;
	key_t key;
	sem_t *rs;
	int fd, id;

	(void)state;
	uniq(s1, sizeof s1, "seg");
	uniq(s2, sizeof s2, "rawseg");
	uniq(s3, sizeof s3, "rawsem");
	uniq(s4, sizeof s4, "sem");
	snprintf(o1, sizeof o1, "posix-shm:/ipcx.%s", s1);
	snprintf(k2, sizeof k2, "/ipcx.%s", s2);
	snprintf(o2, sizeof o2, "posix-shm:%s", k2);
	snprintf(k3, sizeof k3, "/ipcx.%s", s3);
	snprintf(o3, sizeof o3, "posix-sem:%s", k3);
	snprintf(o4, sizeof o4, "posix-sem:/ipcx.%s", s4);

	/* an ipcx segment: the header inside names the creator, registry or not */
	assert_rv(ipcx_shm_open(&seg, s1, 1000, IPCX_CREATE | IPCX_EXCL, 0), 0);
	snprintf(k2, sizeof k2, "/ipcx.%s", s1);
	assert_rv(ipcx__registry_remove("posix-shm", k2), 0);
	snprintf(k2, sizeof k2, "/ipcx.%s", s2);
	/* raw ones with ipcx. names */
	assert_true((fd = shm_open(k2, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600)) >= 0);
	assert_int_equal(fchmod(fd, 0640), 0);
	assert_int_equal(ftruncate(fd, 1000), 0);
	close(fd);
	assert_true((rs = sem_open(k3, O_CREAT | O_EXCL, 0600, 5)) != SEM_FAILED);
	assert_rv(ipcx_sem_open(&isem, s4, 2, IPCX_CREATE | IPCX_EXCL, 0), 0);
	/* a System V segment made by ipcx, known by its header only */
	for (int i = 0;; i++) {
		key = next_key();
		snprintf(sysvname, sizeof sysvname, "sysv:0x%08x", (unsigned)key);
		int rv = ipcx_shm_open(&sv, sysvname, 100, IPCX_CREATE | IPCX_EXCL, 0);
		if (rv == 0) {
			break;
		}
		assert_true(rv == IPCX_EEXIST && i < 100);
	}
	snprintf(reg, sizeof reg, "0x%08x", (unsigned)key);
	assert_rv(ipcx__registry_remove("sysv-shm", reg), 0);
	snprintf(o5, sizeof o5, "sysv-shm:0x%08x", (unsigned)key);

	list_now(0);
	o = must_find(o1);
	assert_int_equal(o->kind, IPCX_OBJ_POSIX_SHM);
	assert_true(o->ours);
	assert_int_equal(o->creator, getpid());
	assert_int_equal(o->state, IPCX_OBJ_ALIVE);
	assert_true(o->size >= 1000 + 64);
	assert_int_equal(o->mode, 0600);
	o = must_find(o2);
	assert_true(o->ours);
	assert_int_equal(o->size, 1000);
	assert_int_equal(o->mode, 0640);
	assert_int_equal(o->creator, 0);
	assert_int_equal(o->state, IPCX_OBJ_UNKNOWN);
	o = must_find(o3);
	assert_int_equal(o->kind, IPCX_OBJ_POSIX_SEM);
	assert_int_equal(o->count, 5);
	assert_int_equal(o->owner, getuid());
	o = must_find(o4);
	assert_int_equal(o->count, 2);
	assert_int_equal(o->creator, getpid());
	assert_int_equal(o->state, IPCX_OBJ_ALIVE);
	o = must_find(o5);
	assert_true(o->ours);
	assert_int_equal(o->creator, getpid());
	assert_int_equal(o->state, IPCX_OBJ_ALIVE);
	assert_true(o->size >= 100 + 64);
	list_free();

	/* removal by KIND:NAME */
	sem_close(rs);
	assert_rv(ipcx_obj_remove(o2), 0);
	assert_rv(ipcx_obj_remove(o3), 0);
	assert_true(sem_open(k3, 0) == SEM_FAILED && errno == ENOENT);
	id = shmget(key, 0, 0);
	assert_true(id >= 0);
	ipcx_sem_close(isem);
	ipcx_shm_close(seg);
	ipcx_shm_close(sv);
	list_now(IPCX_LIST_ALL);
	assert_null(find(o1));
	assert_null(find(o2));
	assert_null(find(o3));
	assert_null(find(o4));
	assert_null(find(o5));
	list_free();
}

static void
test_fifo_and_socket_listeners_are_recorded_by_absolute_path(void **state)
{
	char cwd[PATH_MAX], rf[64], rs[64], fobj[PATH_MAX + 16], sobj[PATH_MAX + 16], url[600];
	char path[512];
	const ipcx_obj_info *o;
	ipcx_listener *lf, *ls, *la;
	ipcx_opts keep;

	(void)state;
	/* relative URLs, resolved against the cwd for the registry */
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(tu_dir()), 0);
	snprintf(rf, sizeof rf, "f-%d-%u", (int)getpid(), tu_next());
	snprintf(rs, sizeof rs, "s-%d-%u", (int)getpid(), tu_next());
	snprintf(url, sizeof url, "fifo://%s", rf);
	assert_rv(ipcx_listen(&lf, url, NULL), 0);
	snprintf(url, sizeof url, "unix://./%s", rs);
	assert_rv(ipcx_listen(&ls, url, NULL), 0);
	snprintf(url, sizeof url, "unix:@ipcx-t-ol-%d-%u", (int)getpid(), tu_next());
	assert_rv(ipcx_listen(&la, url, NULL), 0);
	snprintf(fobj, sizeof fobj, "fifo:%s/%s", tu_dir(), rf);
	snprintf(sobj, sizeof sobj, "socket:%s/%s", tu_dir(), rs);
	assert_int_equal(registry_entries(), 2); /* an abstract socket leaves no name */

	list_now(0);
	o = must_find(fobj);
	assert_int_equal(o->kind, IPCX_OBJ_FIFO);
	assert_int_equal(o->persistence, IPCX_PERSIST_FILESYSTEM);
	assert_int_equal(o->mode, 0600);
	assert_int_equal(o->owner, getuid());
	assert_int_equal(o->creator, getpid());
	assert_int_equal(o->state, IPCX_OBJ_ALIVE);
	assert_true(o->ours);
	o = must_find(sobj);
	assert_int_equal(o->kind, IPCX_OBJ_SOCKET);
	assert_int_equal(o->state, IPCX_OBJ_ALIVE);

	/* (closed from the directory they were opened in: a relative name is that) */
	assert_int_equal(chdir(tu_dir()), 0);
	ipcx_listener_close(lf);
	ipcx_listener_close(ls);
	ipcx_listener_close(la);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(registry_entries(), 0);
	list_now(0);
	assert_null(find(fobj));
	assert_null(find(sobj));

	/* a kept name keeps its record until it is removed */
	tu_path(path, sizeof path, "kept");
	ipcx_opts_init(&keep);
	keep.keep = 1;
	snprintf(url, sizeof url, "fifo://%s", path);
	assert_rv(ipcx_listen(&lf, url, &keep), 0);
	ipcx_listener_close(lf);
	snprintf(fobj, sizeof fobj, "fifo:%s", path);
	list_now(0);
	must_find(fobj);
	list_free();
	assert_rv(ipcx_obj_remove(url), 0);
	assert_false(exists(path));
	assert_int_equal(registry_entries(), 0);
}

static int
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		return -1;
	}
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Enter new namespaces (flags: CLONE_NEWIPC, CLONE_NEWNS): directly as root, otherwise
 * inside a new user namespace that maps our own uid and gid. False if neither is allowed. */
static bool
enter_ns(int flags)
{
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (unshare(flags) == 0) {
		return true;
	}
	if (unshare(CLONE_NEWUSER | flags) != 0) {
		return false;
	}
	snprintf(map, sizeof map, "%lu %lu 1", (unsigned long)uid, (unsigned long)uid);
	if (write_file("/proc/self/setgroups", "deny") != 0 ||
	    write_file("/proc/self/uid_map", map) != 0) {
		return false;
	}
	snprintf(map, sizeof map, "%lu %lu 1", (unsigned long)gid, (unsigned long)gid);
	return write_file("/proc/self/gid_map", map) == 0;
}

/*
 * `ipcx rm --stale` removes every dead ipcx object on the machine, so a test of it must
 * have the machine to itself: it would otherwise remove what another test's killed child
 * made while that test still uses it. A private IPC namespace (System V objects, POSIX
 * queues) with fresh /dev/shm and /dev/mqueue mounts gives it one, until this test
 * process ends (each test runs in its own).
 */
static void
isolate(void)
{
	if (!enter_ns(CLONE_NEWIPC | CLONE_NEWNS)) {
		print_message("no private IPC namespace (%s): running on the shared one\n",
		              strerror(errno));
		return;
	}
	assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	assert_int_equal(mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"), 0);
	assert_int_equal(mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV, NULL), 0);
}

/* A child that makes a POSIX named semaphore, a POSIX queue and a FIFO listener (all
 * recorded as its own), says so, then waits to be killed. */
static void
crash_child(int ready, const char *sem, const char *mqk, const char *fifo_url)
{
	struct mq_attr a = {.mq_maxmsg = 4, .mq_msgsize = 64};
	ipcx_listener *l;
	ipcx_sem *s;

	/* no cmocka here: a failed check must end this process, not unwind into the runner */
	if (ipcx_sem_open(&s, sem, 1, IPCX_CREATE | IPCX_EXCL, 0) != 0 ||
	    ipcx_listen(&l, fifo_url, NULL) != 0 ||
	    mq_open(mqk, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &a) == (mqd_t)-1 ||
	    ipcx__registry_add("posix-mq", mqk) != 0 || tu_put(ready, "R", 1) != 0) {
		tu_child_exit(1);
	}
	for (;;) {
		pause();
	}
}

static void
test_killed_creator_is_dead_and_rm_stale_removes_it(void **state)
{
	char sem[64], stem[64], mqk[80], semobj[100], mqobj[100], fifo[512], fifo_url[600];
	char fobj[600], semfile[128], *out;
	const ipcx_obj_info *o;
	const jv *jo;
	int p[2];
	pid_t pid;
	jv doc;

	(void)state;
	uniq(sem, sizeof sem, "crash-sem");
	uniq(stem, sizeof stem, "crash-mq");
	snprintf(mqk, sizeof mqk, "/ipcx.%s", stem);
	tu_path(fifo, sizeof fifo, "crash-fifo");
	snprintf(fifo_url, sizeof fifo_url, "fifo://%s", fifo);
	snprintf(semobj, sizeof semobj, "posix-sem:/ipcx.%s", sem);
	snprintf(semfile, sizeof semfile, "/dev/shm/sem.ipcx.%s", sem);
	snprintf(mqobj, sizeof mqobj, "posix-mq:%s", mqk);
	snprintf(fobj, sizeof fobj, "fifo:%s", fifo);
	isolate();
	tu_pipe(p);
	if ((pid = tu_fork()) == 0) {
		close(p[0]);
		crash_child(p[1], sem, mqk, fifo_url);
	}
	close(p[1]);
	assert_int_equal(tu_get(p[0], (char[1]){0}, 1, WAIT_MS), 0);
	close(p[0]);
	list_now(0);
	o = must_find(semobj);
	assert_int_equal(o->creator, pid);
	assert_int_equal(o->state, IPCX_OBJ_ALIVE);
	tu_kill(pid);

	list_now(0);
	for (int i = 0; i < 3; i++) {
		o = must_find(i == 0 ? semobj : i == 1 ? mqobj : fobj);
		assert_int_equal(o->creator, pid);
		assert_int_equal(o->state, IPCX_OBJ_DEAD);
		assert_true(o->ours);
	}
	list_free();

	/* `ipcx ls` says so, in the table and in JSON */
	assert_int_equal(run_ipcx(&out, "ls", NULL), 0);
	assert_non_null(strstr(out, "dead"));
	assert_non_null(strstr(out, sem));
	free(out);
	assert_int_equal(run_ipcx(&out, "ls", "--json", NULL), 0);
	assert_int_equal(j_parse(&doc, out), 0);
	assert_non_null(jo = j_object_named(&doc, semobj));
	assert_string_equal(j_str(jo, "state"), "dead");
	assert_int_equal(j_num(jo, "creator"), pid);
	assert_non_null(jo = j_object_named(&doc, mqobj));
	assert_string_equal(j_str(jo, "state"), "dead");
	j_free(&doc);
	free(out);

	/* --dry-run names them all and removes nothing */
	assert_int_equal(run_ipcx(&out, "rm", "--stale", "--dry-run", NULL), 0);
	assert_non_null(strstr(out, semobj));
	assert_non_null(strstr(out, mqobj));
	assert_non_null(strstr(out, fobj));
	free(out);
	assert_true(exists(semfile));
	assert_true(mq_exists(mqk));
	assert_true(exists(fifo));
	assert_int_equal(registry_entries(), 3);

	assert_int_equal(run_ipcx(&out, "rm", "--stale", NULL), 0);
	assert_non_null(strstr(out, semobj));
	assert_non_null(strstr(out, mqobj));
	assert_non_null(strstr(out, fobj));
	free(out);
	assert_false(exists(semfile));
	assert_false(mq_exists(mqk));
	assert_false(exists(fifo));
	assert_int_equal(registry_entries(), 0);
}

/* A child that writes to a file:// data log and listens on another log, then waits to be
 * killed. */
static void
log_child(int ready, const char *data_url, const char *lsn_url)
{
	ipcx_listener *l;
	ipcx_chan *c;

	if (ipcx_dial(&c, data_url, NULL, WAIT_MS) != 0 ||
	    ipcx_send(c, "record", 6, WAIT_MS) != 0 || ipcx_listen(&l, lsn_url, NULL) != 0 ||
	    tu_put(ready, "R", 1) != 0) {
		tu_child_exit(1);
	}
	for (;;) {
		pause();
	}
}

static void
test_file_logs_are_listed_and_data_logs_are_never_stale(void **state)
{
	char data[512], lsn[512], regular[512], data_url[600], lsn_url[600], dobj[600], lobj[600];
	char name[600], *out;
	const ipcx_obj_info *o;
	int p[2], fd;
	pid_t pid;

	(void)state;
	tu_path(data, sizeof data, "data.log");
	tu_path(lsn, sizeof lsn, "lsn.log");
	tu_path(regular, sizeof regular, "regular");
	snprintf(data_url, sizeof data_url, "file://%s", data);
	snprintf(lsn_url, sizeof lsn_url, "file://%s", lsn);
	snprintf(dobj, sizeof dobj, "file:%s", data);
	snprintf(lobj, sizeof lobj, "file:%s", lsn);
	isolate();
	tu_pipe(p);
	if ((pid = tu_fork()) == 0) {
		close(p[0]);
		log_child(p[1], data_url, lsn_url);
	}
	close(p[1]);
	assert_int_equal(tu_get(p[0], (char[1]){0}, 1, WAIT_MS), 0);
	close(p[0]);
	tu_kill(pid);

	list_now(0);
	o = must_find(dobj);
	assert_int_equal(o->kind, IPCX_OBJ_FILE);
	assert_int_equal(o->persistence, IPCX_PERSIST_FILESYSTEM);
	assert_int_equal(o->creator, pid);
	assert_true(o->size > 6);
	assert_int_equal(o->mode, 0600);
	/* a data log outlives its writer by design: not stale */
	assert_int_equal(o->state, IPCX_OBJ_UNKNOWN);
	o = must_find(lobj);
	assert_int_equal(o->creator, pid);
	assert_int_equal(o->state, IPCX_OBJ_DEAD);
	list_free();

	assert_int_equal(run_ipcx(&out, "rm", "--stale", NULL), 0);
	assert_non_null(strstr(out, lobj));
	assert_null(strstr(out, dobj));
	free(out);
	assert_false(exists(lsn));
	assert_true(exists(data));

	/* a file: name removes a log, and only a log */
	assert_true((fd = open(regular, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600)) >= 0);
	close(fd);
	snprintf(name, sizeof name, "file://%s", regular);
	assert_rv(ipcx_obj_remove(name), IPCX_EINVAL);
	assert_non_null(strstr(ipcx_errdetail(), "not a file:// log"));
	assert_true(exists(regular));
	unlink(regular);
	assert_rv(ipcx_obj_remove(data_url), 0);
	assert_false(exists(data));
	assert_int_equal(registry_entries(), 0);
}

static void
test_reused_pid_counts_as_dead(void **state)
{
	char stem[64], kname[80], obj[100], *out;
	unsigned long long st;
	const ipcx_obj_info *o;

	(void)state;
	uniq(stem, sizeof stem, "reuse");
	snprintf(kname, sizeof kname, "/ipcx.%s", stem);
	snprintf(obj, sizeof obj, "posix-mq:%s", kname);
	isolate();
	mq_close(mq_new(kname, 0600));
	assert_rv(ipcx__self_starttime(&st), 0);

	/* a live pid, but the process that has it started at another time */
	registry_fake("posix-mq", kname, getpid(), st + 1);
	list_now(0);
	o = must_find(obj);
	assert_int_equal(o->creator, getpid());
	assert_int_equal(o->state, IPCX_OBJ_DEAD);
	registry_fake("posix-mq", kname, getpid(), st);
	list_now(0);
	assert_int_equal(must_find(obj)->state, IPCX_OBJ_ALIVE);
	list_free();

	/* the live creator's object stays; the reused pid's goes */
	assert_int_equal(run_ipcx(&out, "rm", "--stale", NULL), 0);
	free(out);
	assert_true(mq_exists(kname));
	registry_fake("posix-mq", kname, getpid(), st + 1);
	assert_int_equal(run_ipcx(&out, "rm", "--stale", NULL), 0);
	assert_non_null(strstr(out, obj));
	free(out);
	assert_false(mq_exists(kname));
	assert_int_equal(registry_entries(), 0);
}

static void
test_rm_never_unlinks_a_regular_file_as_fifo_or_socket(void **state)
{
	char file[512], fifo[512], name[600], *out;
	int fd;

	(void)state;
	tu_path(file, sizeof file, "regular");
	tu_path(fifo, sizeof fifo, "fifo");
	assert_true((fd = open(file, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600)) >= 0);
	close(fd);
	assert_int_equal(mkfifo(fifo, 0600), 0);

	snprintf(name, sizeof name, "fifo://%s", file);
	assert_rv(ipcx_obj_remove(name), IPCX_EINVAL);
	assert_non_null(strstr(ipcx_errdetail(), "not a FIFO"));
	snprintf(name, sizeof name, "fifo:%s", file);
	assert_rv(ipcx_obj_remove(name), IPCX_EINVAL);
	snprintf(name, sizeof name, "socket:%s", file);
	assert_rv(ipcx_obj_remove(name), IPCX_EINVAL);
	snprintf(name, sizeof name, "unix://%s", file);
	assert_rv(ipcx_obj_remove(name), IPCX_EINVAL);
	snprintf(name, sizeof name, "unix://%s", fifo);
	assert_rv(ipcx_obj_remove(name), IPCX_EINVAL);
	assert_true(exists(file));
	assert_true(exists(fifo));

	/* the command: exit 1, one line naming the refusal, the file stays */
	snprintf(name, sizeof name, "fifo://%s", file);
	assert_int_equal(run_ipcx(&out, "rm", name, NULL), 1);
	assert_non_null(strstr(out, "not a FIFO"));
	assert_int_equal(lines(out), 1);
	free(out);
	assert_true(exists(file));

	snprintf(name, sizeof name, "fifo://%s", fifo);
	assert_rv(ipcx_obj_remove(name), 0);
	assert_false(exists(fifo));
	assert_rv(ipcx_obj_remove(name), IPCX_ENOENT);
	unlink(file);
}

static void
test_record_of_a_gone_object_is_pruned_once_its_creator_is_dead(void **state)
{
	char stem[64], kname[80], path[512];
	unsigned long long st, got;
	pid_t pid;

	(void)state;
	uniq(stem, sizeof stem, "gone");
	snprintf(kname, sizeof kname, "/ipcx.%s", stem);
	tu_path(path, sizeof path, "gone");
	assert_rv(ipcx__self_starttime(&st), 0);

	/* a live creator may be about to make the object: its records stay, unlisted */
	registry_fake("posix-mq", kname, getpid(), st);
	registry_fake("fifo", path, getpid(), st);
	list_now(IPCX_LIST_ALL);
	assert_int_equal(registry_entries(), 2);
	for (size_t i = 0; i < LN; i++) {
		assert_null(strstr(L[i].name, stem));
		assert_null(strstr(L[i].name, path));
	}
	/* a dead one never will */
	registry_fake("posix-mq", kname, getpid(), st + 1);
	registry_fake("fifo", path, getpid(), st + 1);
	list_now(0);
	list_free();
	assert_int_equal(registry_entries(), 0);
	assert_rv(ipcx__registry_lookup("fifo", path, &pid, &got), IPCX_ENOENT);
}

static void
test_ls_json_is_valid_and_agrees_with_the_kernel(void **state)
{
	char stem[64], kname[80], mqobj[100], msgobj[64], weird[512], wobj[600], *out;
	struct mq_attr a;
	const jv *o;
	key_t key;
	mqd_t q;
	int msg;
	jv doc;
	struct {
		long mtype;
		char text[16];
	} m = {7, "0123456789abcde"};

	(void)state;
	uniq(stem, sizeof stem, "json");
	snprintf(kname, sizeof kname, "/ipcx.%s", stem);
	snprintf(mqobj, sizeof mqobj, "posix-mq:%s", kname);
	q = mq_new(kname, 0600);
	assert_int_equal(mq_send(q, "abc", 3, 1), 0);
	assert_true((msg = sysv_msg_new(&key, 0600)) >= 0);
	assert_int_equal(msgsnd(msg, &m, 15, 0), 0);
	snprintf(msgobj, sizeof msgobj, "sysv-msg:0x%08x", (unsigned)key);
	/* a name that needs every kind of escape: quote, backslash, control bytes, UTF-8 */
	snprintf(weird, sizeof weird, "%s/we\"ird\\na\nme\t\x01\xc3\xa9-%d", tu_dir(),
	         (int)getpid());
	assert_int_equal(mkfifo(weird, 0600), 0);
	assert_rv(ipcx__registry_add("fifo", weird), 0);
	snprintf(wobj, sizeof wobj, "fifo:%s", weird);

	assert_int_equal(run_ipcx(&out, "ls", "--all", "--json", NULL), 0);
	if (j_parse(&doc, out) != 0) {
		fail_msg("not one valid JSON document near byte %td:\n%s", jp - out, out);
	}
	assert_int_equal(doc.type, J_OBJ);

	/* every object has every key, of the right type */
	o = j_get(&doc, "objects");
	for (size_t i = 0; i < o->n; i++) {
		static const char *const keys[] = {"kind",    "name",  "persistence", "owner",
		                                   "user",    "mode",  "size",        "count",
		                                   "creator", "state", "ours"};
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
			assert_non_null(j_get(&o->kid[i], keys[k]));
		}
		assert_int_equal(j_get(&o->kid[i], "ours")->type, J_BOOL);
	}

	/* the queue agrees with /dev/mqueue and mq_getattr */
	assert_non_null(o = j_object_named(&doc, mqobj));
	assert_string_equal(j_str(o, "kind"), "posix-mq");
	assert_string_equal(j_str(o, "persistence"), "kernel");
	assert_string_equal(j_str(o, "mode"), "0600");
	assert_int_equal(j_num(o, "owner"), getuid());
	assert_int_equal(j_num(o, "size"), mq_qsize(kname));
	assert_int_equal(mq_getattr(q, &a), 0);
	assert_int_equal(j_num(o, "count"), a.mq_curmsgs);
	assert_int_equal(j_get(o, "ours")->b, true);
	/* the System V queue with /proc/sysvipc/msg */
	assert_non_null(o = j_object_named(&doc, msgobj));
	assert_int_equal(j_num(o, "size"), proc_sysv("msg", msg, 3, 10));
	assert_int_equal(j_num(o, "count"), proc_sysv("msg", msg, 4, 10));
	assert_int_equal(j_num(o, "owner"), proc_sysv("msg", msg, 7, 10));
	assert_int_equal(strtol(j_str(o, "mode"), NULL, 8), proc_sysv("msg", msg, 2, 8) & 0777);
	assert_int_equal(j_num(o, "creator"), -1); /* null: not recorded */
	assert_string_equal(j_str(o, "state"), "unknown");
	assert_int_equal(j_get(o, "ours")->b, false);
	/* the weird name comes back byte for byte */
	assert_non_null(o = j_object_named(&doc, wobj));
	assert_string_equal(j_str(o, "state"), "alive");
	j_free(&doc);
	free(out);

	/* the table keeps one line per object whatever the names hold: each starts with a
	 * kind (or is the heading) */
	assert_int_equal(run_ipcx(&out, "ls", NULL), 0);
	for (char *line = out; *line != '\0'; line = strchr(line, '\n') + 1) {
		size_t k = strcspn(line, " ");
		bool known = strncmp(line, "KIND ", 5) == 0;
		for (int kind = 1; kind <= IPCX_OBJ_FILE; kind++) {
			known |= k == strlen(ipcx_obj_kind_name(kind)) &&
			         strncmp(line, ipcx_obj_kind_name(kind), k) == 0;
		}
		if (!known) {
			fail_msg("a table line that is not a row: %.*s", (int)strcspn(line, "\n"),
			         line);
		}
	}
	assert_non_null(strstr(out, "we\"ird\\x5cna\\x0ame\\x09\\x01\xc3\xa9-"));
	free(out);

	mq_close(q);
	assert_rv(ipcx_obj_remove(mqobj), 0);
	assert_rv(ipcx_obj_remove(msgobj), 0);
	assert_rv(ipcx_obj_remove(wobj), 0);
	assert_false(exists(weird));
	assert_int_equal(registry_entries(), 0);
}

/* Without /dev/mqueue (unmounted in a private mount namespace), queues come from the
 * registry and the listing says what it could not see. */
static int
no_mqueue_child(const char *kname, const char *obj)
{
	ipcx_obj_info *v;
	size_t n;
	bool seen = false;

	/* covered, as a mount inherited into a user namespace cannot be unmounted */
	TRY(mount("tmpfs", "/dev/mqueue", "tmpfs", MS_NOSUID | MS_NODEV, NULL) == 0, "mount: %s",
	    strerror(errno));
	TRY_RV(ipcx_obj_list(&v, &n, 0), 0);
	TRY(strstr(ipcx_errdetail(), "/dev/mqueue") != NULL, "detail '%s'", ipcx_errdetail());
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, obj) == 0) {
			seen = true;
			TRY(v[i].count == 1, "count %lld", v[i].count);
			TRY(v[i].state == IPCX_OBJ_ALIVE, "state %d", v[i].state);
		}
	}
	free(v);
	TRY(seen, "%s not listed", obj);
	(void)kname;
	return 0;
}

static void
test_without_dev_mqueue_queues_come_from_the_registry(void **state)
{
	char stem[64], kname[80], obj[100];
	pid_t pid;
	mqd_t q;
	int st;

	(void)state;
	uniq(stem, sizeof stem, "nomnt");
	snprintf(kname, sizeof kname, "/ipcx.%s", stem);
	snprintf(obj, sizeof obj, "posix-mq:%s", kname);
	q = mq_new(kname, 0600);
	assert_int_equal(mq_send(q, "x", 1, 0), 0);
	assert_rv(ipcx__registry_add("posix-mq", kname), 0);
	if ((pid = tu_fork()) == 0) {
		if (!enter_ns(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
			_exit(77);
		}
		_exit(no_mqueue_child(kname, obj) == 0 ? 0 : 1);
	}
	st = tu_wait(pid, WAIT_MS);
	mq_close(q);
	assert_rv(ipcx_obj_remove(obj), 0);
	if (st == 77) {
		skip(); /* no private mount namespace allowed here */
	}
	assert_int_equal(st, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int
main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
	        T(test_kind_names_and_bad_arguments),
	        T(test_posix_mq_is_listed_with_size_count_owner_mode),
	        T(test_foreign_objects_are_listed_only_with_all),
	        T(test_sysv_objects_are_listed_and_agree_with_proc),
	        T(test_sysvmq_url_with_ftok_path_is_removed),
	        T(test_posix_shm_and_semaphores_are_listed),
	        T(test_fifo_and_socket_listeners_are_recorded_by_absolute_path),
	        T(test_killed_creator_is_dead_and_rm_stale_removes_it),
	        T(test_file_logs_are_listed_and_data_logs_are_never_stale),
	        T(test_reused_pid_counts_as_dead),
	        T(test_rm_never_unlinks_a_regular_file_as_fifo_or_socket),
	        T(test_record_of_a_gone_object_is_pruned_once_its_creator_is_dead),
	        T(test_ls_json_is_valid_and_agrees_with_the_kernel),
	        T(test_without_dev_mqueue_queues_come_from_the_registry),
	};

	return tu_run("objlist", tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
