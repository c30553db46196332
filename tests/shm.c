/*
 * shm.c - ipcx_shm segments, POSIX and System V, across real processes: create, open and
 * exclusive create, sizes, exact modes, the creator header, removal on close and keep,
 * foreign or half-made segments refused, object names (posix:, sysv:0xKEY, sysv:/path).
 */
#include "testutil.h"

#include "core/ipcx_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS TU_WAIT_MS

static void
posix_name(char *buf, size_t cap)
{
	snprintf(buf, cap, "t-shm-%d-%u", (int)getpid(), tu_next());
}

/* A System V key unique among live test processes: pid and a counter. */
static void
sysv_name(char *buf, size_t cap)
{
	unsigned key = 0x80000000u | ((unsigned)getpid() << 8) | (tu_next() & 0xffu);

	snprintf(buf, cap, "sysv:0x%08x", key);
}

static void
any_name(char *buf, size_t cap, bool sysv)
{
	if (sysv) {
		sysv_name(buf, cap);
	} else {
		posix_name(buf, cap);
	}
}

static key_t
key_of(const char *name)
{
	return (key_t)strtoul(name + 5, NULL, 16);
}

/* Does the kernel object exist (by name, not through ipcx)? */
static bool
exists(const char *name)
{
	char path[600];

	if (strncmp(name, "sysv:", 5) == 0) {
		return shmget(key_of(name), 0, 0) >= 0;
	}
	snprintf(path, sizeof path, "/dev/shm/ipcx.%s", name);
	return access(path, F_OK) == 0;
}

/* ---- create, open, exclusive, sizes ------------------------------------------------------ */

static void
run_create_open(bool sysv)
{
	char name[64];
	ipcx_shm *s, *t;

	any_name(name, sizeof name, sysv);
	assert_rv(ipcx_shm_open(&s, name, 0, 0, 0), IPCX_ENOENT);
	assert_null(s);
	assert_rv(ipcx_shm_open(&s, name, 100, IPCX_EXCL, 0), IPCX_EINVAL);
	assert_rv(ipcx_shm_open(&s, name, 0, IPCX_CREATE, 0), IPCX_EINVAL);
	assert_rv(ipcx_shm_open(&s, name, 100, 0x100, 0), IPCX_EINVAL);
	assert_rv(ipcx_shm_open(&s, name, 100, IPCX_CREATE, 01600), IPCX_EINVAL);
	assert_false(exists(name));

	assert_rv(ipcx_shm_open(&s, name, 100, IPCX_CREATE | IPCX_EXCL, 0), 0);
	assert_int_equal(ipcx_shm_size(s), 100);
	assert_int_equal((uintptr_t)ipcx_shm_ptr(s) % 64, 0);
	memset(ipcx_shm_ptr(s), 0xa5, 100);
	assert_rv(ipcx_shm_open(&t, name, 100, IPCX_CREATE | IPCX_EXCL, 0), IPCX_EEXIST);
	assert_null(t);

	/* create-or-open finds it: its size, not the one asked for */
	assert_rv(ipcx_shm_open(&t, name, 50, IPCX_CREATE, 0), 0);
	assert_int_equal(ipcx_shm_size(t), 100);
	assert_int_equal(((unsigned char *)ipcx_shm_ptr(t))[99], 0xa5);
	ipcx_shm_close(t);
	/* size 0: whatever it has */
	assert_rv(ipcx_shm_open(&t, name, 0, 0, 0), 0);
	assert_int_equal(ipcx_shm_size(t), 100);
	ipcx_shm_close(t);
	/* more than it has: refused, with the sizes in the detail */
	assert_rv(ipcx_shm_open(&t, name, 101, 0, 0), IPCX_EINVAL);
	assert_non_null(strstr(ipcx_errdetail(), "100 usable bytes"));
	ipcx_shm_close(s);
	assert_false(exists(name));
	assert_rv(ipcx_shm_open(&t, name, 0, 0, 0), IPCX_ENOENT);
}

static void
test_posix_create_open_exclusive(void **state)
{
	run_create_open(false);
}

static void
test_sysv_create_open_exclusive(void **state)
{
	run_create_open(true);
}

/* ---- modes --------------------------------------------------------------------------------- */

static unsigned
mode_of(const char *name)
{
	struct stat st;
	char path[600];

	if (strncmp(name, "sysv:", 5) == 0) {
		struct shmid_ds ds;
		int id = shmget(key_of(name), 0, 0);
		if (id < 0 || shmctl(id, IPC_STAT, &ds) != 0) {
			return 07777;
		}
		return ds.shm_perm.mode & 0777;
	}
	snprintf(path, sizeof path, "/dev/shm/ipcx.%s", name);
	if (stat(path, &st) != 0) {
		return 07777;
	}
	return st.st_mode & 0777;
}

static void
run_modes(bool sysv)
{
	static const mode_t masks[] = {0, 022, 077};
	char name[64];
	ipcx_shm *s;
	mode_t old;

	for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
		for (int k = 0; k < 2; k++) {
			unsigned want = k == 0 ? 0600 : 0640;
			any_name(name, sizeof name, sysv);
			old = umask(masks[i]);
			assert_rv(ipcx_shm_open(&s, name, 64, IPCX_CREATE | IPCX_EXCL,
			                        k == 0 ? 0 : want),
			          0);
			umask(old);
			if (mode_of(name) != want) {
				ipcx_shm_close(s);
				fail_msg("%s under umask %03o: mode %03o, want %03o", name,
				         (unsigned)masks[i], mode_of(name), want);
			}
			ipcx_shm_close(s);
		}
	}
}

static void
test_posix_mode_exact(void **state)
{
	run_modes(false);
}

static void
test_sysv_mode_exact(void **state)
{
	run_modes(true);
}

/* ---- the header ---------------------------------------------------------------------------- */

static void
check_header(const struct ipcx__shm_hdr *h, uint64_t objsize, size_t size)
{
	unsigned long long st;

	/* what `ipcx ls` relies on, read straight from the object */
	assert_memory_equal(h, "IPCX", 4);
	assert_int_equal(h->version, 1);
	assert_int_equal(h->hdr_size, 64);
	assert_int_equal(h->creator_pid, getpid());
	assert_rv(ipcx__self_starttime(&st), 0);
	assert_true(h->creator_start == st);
	assert_int_equal(h->size, size);
	assert_rv(ipcx__shm_hdr_check(h, objsize), 0);
}

static void
test_posix_header_records_creator(void **state)
{
	struct ipcx__shm_hdr h;
	char name[64], path[600];
	struct stat st;
	ipcx_shm *s;
	int fd;

	posix_name(name, sizeof name);
	assert_rv(ipcx_shm_open(&s, name, 1000, IPCX_CREATE | IPCX_EXCL, 0), 0);
	snprintf(path, sizeof path, "/dev/shm/ipcx.%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 1064);
	assert_int_equal(read(fd, &h, sizeof h), sizeof h);
	close(fd);
	check_header(&h, (uint64_t)st.st_size, 1000);
	ipcx_shm_close(s);
}

static void
test_sysv_header_records_creator(void **state)
{
	struct shmid_ds ds;
	char name[64];
	ipcx_shm *s;
	void *p;
	int id;

	sysv_name(name, sizeof name);
	assert_rv(ipcx_shm_open(&s, name, 1000, IPCX_CREATE | IPCX_EXCL, 0), 0);
	id = shmget(key_of(name), 0, 0);
	assert_true(id >= 0);
	assert_int_equal(shmctl(id, IPC_STAT, &ds), 0);
	assert_int_equal(ds.shm_segsz, 1064);
	p = shmat(id, NULL, SHM_RDONLY);
	assert_true(p != (void *)-1);
	check_header(p, ds.shm_segsz, 1000);
	shmdt(p);
	ipcx_shm_close(s);
}

/* ---- across processes ---------------------------------------------------------------------- */

#define XSIZE 65536

static void
run_across_processes(bool sysv)
{
	char name[64];
	ipcx_shm *s;
	pid_t pid;

	any_name(name, sizeof name, sysv);
	assert_rv(ipcx_shm_open(&s, name, XSIZE, IPCX_CREATE | IPCX_EXCL, 0), 0);
	tu_fill(ipcx_shm_ptr(s), XSIZE / 2, 1);
	pid = tu_fork();
	if (pid == 0) {
		/* a fresh mapping by name, not the one inherited */
		ipcx_shm *t;
		int st = 0;
		if (ipcx_shm_open(&t, name, 0, 0, 0) != 0) {
			tu_child_exit(1);
		}
		if (ipcx_shm_size(t) != XSIZE || ipcx_shm_ptr(t) == ipcx_shm_ptr(s) ||
		    !tu_check(ipcx_shm_ptr(t), XSIZE / 2, 1)) {
			st = 1;
		}
		tu_fill((char *)ipcx_shm_ptr(t) + XSIZE / 2, XSIZE / 2, 2);
		ipcx_shm_close(t);
		tu_child_exit(st);
	}
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	assert_true(tu_check((char *)ipcx_shm_ptr(s) + XSIZE / 2, XSIZE / 2, 2));
	/* the child's close (an opener's) left it */
	assert_true(exists(name));
	ipcx_shm_close(s);
	assert_false(exists(name));
}

static void
test_posix_data_visible_across_processes(void **state)
{
	run_across_processes(false);
}

static void
test_sysv_data_visible_across_processes(void **state)
{
	run_across_processes(true);
}

/* ---- removal --------------------------------------------------------------------------------- */

static void
run_keep(bool sysv)
{
	char name[64];
	ipcx_shm *s;

	any_name(name, sizeof name, sysv);
	assert_rv(ipcx_shm_open(&s, name, 256, IPCX_CREATE | IPCX_EXCL | IPCX_KEEP, 0), 0);
	memcpy(ipcx_shm_ptr(s), "kept", 5);
	ipcx_shm_close(s);
	assert_true(exists(name));
	assert_rv(ipcx_shm_open(&s, name, 0, 0, 0), 0);
	assert_string_equal(ipcx_shm_ptr(s), "kept");
	ipcx_shm_close(s);
	assert_rv(ipcx_shm_unlink(name), 0);
	assert_false(exists(name));
	assert_rv(ipcx_shm_unlink(name), IPCX_ENOENT);
}

static void
test_posix_keep_survives_close(void **state)
{
	run_keep(false);
}

static void
test_sysv_keep_survives_close(void **state)
{
	run_keep(true);
}

/* Removing the name leaves the processes that have it mapped working. */
static void
run_unlink_while_mapped(bool sysv)
{
	char name[64];
	ipcx_shm *s, *t;

	any_name(name, sizeof name, sysv);
	assert_rv(ipcx_shm_open(&s, name, 4096, IPCX_CREATE | IPCX_EXCL, 0), 0);
	assert_rv(ipcx_shm_open(&t, name, 0, 0, 0), 0);
	assert_rv(ipcx_shm_unlink(name), 0);
	assert_false(exists(name));
	memcpy(ipcx_shm_ptr(s), "still shared", 13);
	assert_string_equal(ipcx_shm_ptr(t), "still shared");
	ipcx_shm_close(t);
	ipcx_shm_close(s);
}

static void
test_posix_unlink_while_mapped(void **state)
{
	run_unlink_while_mapped(false);
}

static void
test_sysv_unlink_while_mapped(void **state)
{
	run_unlink_while_mapped(true);
}

static void
test_forked_child_close_keeps_segment(void **state)
{
	char pname[64], sname[64];
	ipcx_shm *p, *s;
	pid_t pid;

	posix_name(pname, sizeof pname);
	sysv_name(sname, sizeof sname);
	assert_rv(ipcx_shm_open(&p, pname, 64, IPCX_CREATE | IPCX_EXCL, 0), 0);
	assert_rv(ipcx_shm_open(&s, sname, 64, IPCX_CREATE | IPCX_EXCL, 0), 0);
	pid = tu_fork();
	if (pid == 0) {
		ipcx_shm_close(p);
		ipcx_shm_close(s);
		tu_child_exit(0);
	}
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	assert_true(exists(pname));
	assert_true(exists(sname));
	ipcx_shm_close(p);
	ipcx_shm_close(s);
	assert_false(exists(pname));
	assert_false(exists(sname));
}

/* The creator's close removes what it created, not a successor under the same name. */
static void
run_close_spares_successor(bool sysv)
{
	char name[64];
	ipcx_shm *a, *b;

	any_name(name, sizeof name, sysv);
	assert_rv(ipcx_shm_open(&a, name, 64, IPCX_CREATE | IPCX_EXCL, 0), 0);
	assert_rv(ipcx_shm_unlink(name), 0);
	assert_rv(ipcx_shm_open(&b, name, 128, IPCX_CREATE | IPCX_EXCL, 0), 0);
	ipcx_shm_close(a);
	assert_true(exists(name));
	ipcx_shm_close(b);
	assert_false(exists(name));
}

static void
test_posix_close_spares_successor(void **state)
{
	run_close_spares_successor(false);
}

static void
test_sysv_close_spares_successor(void **state)
{
	run_close_spares_successor(true);
}

/* ---- many processes creating one segment at once --------------------------------------------- */

#define NRACE 8

/* Start NRACE children at once (they wait for the start pipe to close); each runs fn and
 * writes a report of rsize bytes, then stays until the done pipe closes, so that no
 * creator removes the object while others still open it. */
static void
race(int (*fn)(const char *name, void *report), void (*fin)(void), const char *name, void *reports,
     size_t rsize)
{
	int start[2], done[2], rep[2];
	pid_t kids[NRACE];
	char b;

	tu_pipe(start);
	tu_pipe(done);
	tu_pipe(rep);
	for (int i = 0; i < NRACE; i++) {
		kids[i] = tu_fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			char r[64] = {0};
			int st;
			close(start[1]);
			close(done[1]);
			tu_get(start[0], &b, 1, WAIT_MS); /* EOF: go */
			st = fn(name, r);
			tu_put(rep[1], r, rsize);
			tu_get(done[0], &b, 1, WAIT_MS); /* EOF: everyone has reported */
			fin();
			tu_child_exit(st);
		}
	}
	close(start[0]);
	close(done[0]);
	close(rep[1]);
	close(start[1]);
	for (int i = 0; i < NRACE; i++) {
		assert_int_equal(
		        tu_get(rep[0], (char *)reports + (size_t)i * rsize, rsize, WAIT_MS), 0);
	}
	close(done[1]);
	for (int i = 0; i < NRACE; i++) {
		assert_int_equal(tu_wait(kids[i], WAIT_MS), 0);
	}
	close(rep[0]);
}

struct race_report {
	int32_t rv;
	int32_t creator; /* from the header */
	int32_t me;
	uint32_t size;
};

static ipcx_shm *race_shm;

static int
race_open(const char *name, void *report)
{
	struct race_report *r = report;

	r->me = (int32_t)getpid();
	r->rv = ipcx_shm_open(&race_shm, name, 4096, IPCX_CREATE, 0);
	if (r->rv != 0) {
		return 1;
	}
	r->creator =
	        ((const struct ipcx__shm_hdr *)((char *)ipcx_shm_ptr(race_shm) - 64))->creator_pid;
	r->size = (uint32_t)ipcx_shm_size(race_shm);
	return 0;
}

/* after everyone reported: the creator's close removes it, the others' only unmap */
static void
race_close(void)
{
	ipcx_shm_close(race_shm);
}

static void
run_create_race(bool sysv)
{
	struct race_report r[NRACE];
	char name[64];
	int creators = 0;

	any_name(name, sizeof name, sysv);
	race(race_open, race_close, name, r, sizeof r[0]);
	for (int i = 0; i < NRACE; i++) {
		if (r[i].rv != 0) {
			fail_msg("child %d: %s", (int)r[i].me, ipcx_err_name(r[i].rv));
		}
		assert_int_equal(r[i].size, 4096);
		/* everyone saw a complete header, naming the same creator */
		assert_int_equal(r[i].creator, r[0].creator);
		creators += r[i].creator == r[i].me;
	}
	assert_int_equal(creators, 1);
	assert_false(exists(name));
}

static void
test_posix_create_race_one_creator(void **state)
{
	run_create_race(false);
}

static void
test_sysv_create_race_one_creator(void **state)
{
	run_create_race(true);
}

/* ---- segments ipcx did not make, or did not finish ------------------------------------------ */

static int
raw_posix(const char *name, const void *bytes, size_t n, size_t size)
{
	char kname[128];
	int fd;

	snprintf(kname, sizeof kname, "/ipcx.%s", name);
	fd = shm_open(kname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0 ||
	    (n > 0 && write(fd, bytes, n) != (ssize_t)n)) {
		return -1;
	}
	close(fd);
	return 0;
}

static void
test_posix_foreign_segment_refused(void **state)
{
	struct ipcx__shm_hdr h = {0};
	char name[64], junk[256];
	ipcx_shm *s;

	/* someone else's data: refused at once */
	posix_name(name, sizeof name);
	memset(junk, 'j', sizeof junk);
	assert_int_equal(raw_posix(name, junk, sizeof junk, 4096), 0);
	assert_rv(ipcx_shm_open(&s, name, 0, 0, 0), IPCX_EPROTO);
	assert_rv(ipcx_shm_open(&s, name, 100, IPCX_CREATE, 0), IPCX_EPROTO);
	assert_true(exists(name)); /* not ours to remove */
	assert_rv(ipcx_shm_unlink(name), 0);

	/* too small for a header */
	posix_name(name, sizeof name);
	assert_int_equal(raw_posix(name, NULL, 0, 10), 0);
	assert_rv(ipcx_shm_open(&s, name, 0, 0, 0), IPCX_EPROTO);
	assert_rv(ipcx_shm_unlink(name), 0);

	/* a header whose size runs past the object: never trusted */
	posix_name(name, sizeof name);
	memcpy(&h.magic, "IPCX", 4);
	h.version = 1;
	h.hdr_size = 64;
	h.size = 4096;
	assert_int_equal(raw_posix(name, &h, sizeof h, 1024), 0);
	assert_rv(ipcx_shm_open(&s, name, 0, 0, 0), IPCX_EPROTO);
	assert_rv(ipcx_shm_unlink(name), 0);

	/* an unknown header version */
	posix_name(name, sizeof name);
	h.size = 100;
	h.version = 2;
	assert_int_equal(raw_posix(name, &h, sizeof h, 1024), 0);
	assert_rv(ipcx_shm_open(&s, name, 0, 0, 0), IPCX_EPROTO);
	assert_rv(ipcx_shm_unlink(name), 0);

	/* a well-formed header made by hand is accepted, at its recorded size */
	posix_name(name, sizeof name);
	h.version = 1;
	assert_int_equal(raw_posix(name, &h, sizeof h, 1024), 0);
	assert_rv(ipcx_shm_open(&s, name, 0, 0, 0), 0);
	assert_int_equal(ipcx_shm_size(s), 100);
	ipcx_shm_close(s);
	assert_rv(ipcx_shm_unlink(name), 0);
}

/* Zero bytes where the magic goes, or no size yet, is what an opener sees while a creator
 * is still at work: it waits (bounded), then gives up with IPCX_EAGAIN. */
static void
test_unfinished_segment_is_eagain(void **state)
{
	char name[64];
	ipcx_shm *s;
	int id;

	posix_name(name, sizeof name);
	assert_int_equal(raw_posix(name, NULL, 0, 0), 0);
	assert_rv(ipcx_shm_open(&s, name, 0, 0, 0), IPCX_EAGAIN);
	assert_non_null(strstr(ipcx_errdetail(), "did not finish"));
	assert_rv(ipcx_shm_unlink(name), 0);

	posix_name(name, sizeof name);
	assert_int_equal(raw_posix(name, NULL, 0, 4096), 0);
	assert_rv(ipcx_shm_open(&s, name, 0, 0, 0), IPCX_EAGAIN);
	assert_rv(ipcx_shm_unlink(name), 0);

	sysv_name(name, sizeof name);
	id = shmget(key_of(name), 4096, IPC_CREAT | IPC_EXCL | 0600);
	assert_true(id >= 0);
	assert_rv(ipcx_shm_open(&s, name, 0, 0, 0), IPCX_EAGAIN);
	assert_int_equal(shmctl(id, IPC_RMID, NULL), 0);
}

/* A creator that is not done yet: the opener waits for the magic and then sees it all. */
static void
test_opener_waits_for_creator(void **state)
{
	struct ipcx__shm_hdr *h;
	char name[64], kname[128];
	int go[2], fd;
	ipcx_shm *s;
	char b = 0;
	pid_t pid;
	void *p;

	posix_name(name, sizeof name);
	snprintf(kname, sizeof kname, "/ipcx.%s", name);
	fd = shm_open(kname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 64 + 128), 0);
	p = mmap(NULL, 64 + 128, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	close(fd);
	h = p;
	h->version = 1;
	h->hdr_size = 64;
	h->size = 128;
	tu_pipe(go);
	pid = tu_fork();
	if (pid == 0) {
		int st = 0;
		tu_put(go[1], &b, 1);
		if (ipcx_shm_open(&s, name, 0, 0, 0) != 0 || ipcx_shm_size(s) != 128) {
			st = 1;
		} else {
			ipcx_shm_close(s);
		}
		tu_child_exit(st);
	}
	/* the child is (about to be) polling for the magic; publish it */
	assert_int_equal(tu_get(go[0], &b, 1, WAIT_MS), 0);
	__atomic_store_n(&h->magic, IPCX__SHM_MAGIC, __ATOMIC_RELEASE);
	assert_int_equal(tu_wait(pid, WAIT_MS), 0);
	munmap(p, 64 + 128);
	assert_int_equal(shm_unlink(kname), 0);
	tu_close(go[0]);
	tu_close(go[1]);
}

/* ---- limits -----------------------------------------------------------------------------------
 */

static void
test_posix_no_room_named_and_cleaned(void **state)
{
	char name[64];
	ipcx_shm *s;
	int rv;

	posix_name(name, sizeof name);
	rv = ipcx_shm_open(&s, name, (size_t)1 << 50, IPCX_CREATE | IPCX_EXCL, 0);
	if (rv != IPCX_ENOSPC && rv != IPCX_EFBIG && rv != IPCX_ENOMEM) {
		if (rv == 0) {
			ipcx_shm_close(s);
		}
		fail_msg("a 1 PiB segment: %s", ipcx_err_name(rv));
	}
	if (rv != IPCX_ENOMEM) {
		assert_non_null(strstr(ipcx_errdetail(), "/dev/shm"));
	}
	/* the half-made object went with the error */
	assert_false(exists(name));
	assert_rv(ipcx_shm_open(&s, name, (size_t)INT64_MAX, IPCX_CREATE, 0), IPCX_EFBIG);
}

/* ---- names --------------------------------------------------------------------------------------
 */

static void
test_names_parse(void **state)
{
	char path[600], name[700], big[300];
	ipcx__objname n;
	key_t k;
	int fd;

	assert_rv(ipcx__objname_parse(&n, "foo"), 0);
	assert_int_equal(n.ns, IPCX__NS_POSIX);
	assert_string_equal(n.id, "/ipcx.foo");
	assert_rv(ipcx__objname_parse(&n, "posix:a.b:c"), 0);
	assert_string_equal(n.id, "/ipcx.a.b:c");
	assert_rv(ipcx__objname_parse(&n, "sysv:0x1234"), 0);
	assert_int_equal(n.ns, IPCX__NS_SYSV);
	assert_int_equal(n.key, 0x1234);
	assert_string_equal(n.id, "0x00001234");
	assert_rv(ipcx__objname_parse(&n, "sysv:4660"), 0);
	assert_int_equal(n.key, 0x1234);
	assert_rv(ipcx__objname_parse(&n, "sysv:0xffffffff"), 0);
	assert_string_equal(n.id, "0xffffffff");

	assert_rv(ipcx__objname_parse(&n, ""), IPCX_EINVAL);
	assert_rv(ipcx__objname_parse(&n, "posix:"), IPCX_EINVAL);
	assert_rv(ipcx__objname_parse(&n, "a/b"), IPCX_EINVAL);
	assert_rv(ipcx__objname_parse(&n, "sysv:"), IPCX_EINVAL);
	assert_rv(ipcx__objname_parse(&n, "sysv:0"), IPCX_EINVAL);
	assert_rv(ipcx__objname_parse(&n, "sysv:0x100000000"), IPCX_EINVAL);
	assert_rv(ipcx__objname_parse(&n, "sysv:0x12zz"), IPCX_EINVAL);
	assert_rv(ipcx__objname_parse(&n, NULL), IPCX_EINVAL);

	/* POSIX names are one file name: 250 bytes after "ipcx." at most, never truncated */
	memset(big, 'x', sizeof big);
	big[250] = '\0';
	assert_rv(ipcx__objname_parse(&n, big), 0);
	assert_int_equal(strlen(n.id), 256);
	big[250] = 'x';
	big[251] = '\0';
	assert_rv(ipcx__objname_parse(&n, big), IPCX_ENAMETOOLONG);

	/* sysv:PATH?proj=N is ftok(PATH, N), proj 1 by default */
	tu_path(path, sizeof path, "key");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(name, sizeof name, "sysv:%s?proj=7", path);
	assert_rv(ipcx__objname_parse(&n, name), 0);
	assert_rv(ipcx__sysv_ftok(&k, path, 7), 0);
	assert_int_equal(n.key, ftok(path, 7));
	snprintf(name, sizeof name, "sysv:%s", path);
	assert_rv(ipcx__objname_parse(&n, name), 0);
	assert_int_equal(n.key, ftok(path, 1));
	snprintf(name, sizeof name, "sysv:%s?proj=0", path);
	assert_rv(ipcx__objname_parse(&n, name), IPCX_EINVAL);
	snprintf(name, sizeof name, "sysv:%s?proj=256", path);
	assert_rv(ipcx__objname_parse(&n, name), IPCX_EINVAL);
	snprintf(name, sizeof name, "sysv:%s?proj=1x", path);
	assert_rv(ipcx__objname_parse(&n, name), IPCX_EINVAL);
	snprintf(name, sizeof name, "sysv:%s?mode=1", path);
	assert_rv(ipcx__objname_parse(&n, name), IPCX_EINVAL);
	snprintf(name, sizeof name, "sysv:%s.missing", path);
	assert_rv(ipcx__objname_parse(&n, name), IPCX_ENOENT);
	assert_int_equal(unlink(path), 0);
}

/* The same segment by its path name and by its key. */
static void
test_sysv_path_name(void **state)
{
	char path[600], name[700], kname[64];
	ipcx_shm *s, *t;
	int fd;

	tu_path(path, sizeof path, "key");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(name, sizeof name, "sysv:%s?proj=%u", path, 1 + (unsigned)getpid() % 255);
	assert_rv(ipcx_shm_open(&s, name, 64, IPCX_CREATE | IPCX_EXCL, 0), 0);
	snprintf(kname, sizeof kname, "sysv:0x%08x",
	         (unsigned)ftok(path, 1 + (int)((unsigned)getpid() % 255)));
	assert_rv(ipcx_shm_open(&t, kname, 0, 0, 0), 0);
	memcpy(ipcx_shm_ptr(s), "by path", 8);
	assert_string_equal(ipcx_shm_ptr(t), "by path");
	ipcx_shm_close(t);
	ipcx_shm_close(s);
	assert_false(exists(kname));
	assert_int_equal(unlink(path), 0);
}

static void
run_registry(bool sysv)
{
	unsigned long long st;
	char name[64], id[80];
	ipcx_shm *s;
	pid_t pid;

	any_name(name, sizeof name, sysv);
	if (sysv) {
		snprintf(id, sizeof id, "%s", name + 5);
	} else {
		snprintf(id, sizeof id, "/ipcx.%s", name);
	}
	assert_rv(ipcx_shm_open(&s, name, 64, IPCX_CREATE | IPCX_EXCL, 0), 0);
	assert_rv(ipcx__registry_lookup(sysv ? "sysv-shm" : "posix-shm", id, &pid, &st), 0);
	assert_int_equal(pid, getpid());
	ipcx_shm_close(s);
	assert_rv(ipcx__registry_lookup(sysv ? "sysv-shm" : "posix-shm", id, &pid, &st),
	          IPCX_ENOENT);
}

static void
test_posix_registry_records_creator(void **state)
{
	run_registry(false);
}

static void
test_sysv_registry_records_creator(void **state)
{
	run_registry(true);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tu_setup, tu_teardown)

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        T(test_posix_create_open_exclusive),
	        T(test_sysv_create_open_exclusive),
	        T(test_posix_mode_exact),
	        T(test_sysv_mode_exact),
	        T(test_posix_header_records_creator),
	        T(test_sysv_header_records_creator),
	        T(test_posix_data_visible_across_processes),
	        T(test_sysv_data_visible_across_processes),
	        T(test_posix_keep_survives_close),
	        T(test_sysv_keep_survives_close),
	        T(test_posix_unlink_while_mapped),
	        T(test_sysv_unlink_while_mapped),
	        T(test_forked_child_close_keeps_segment),
	        T(test_posix_close_spares_successor),
	        T(test_sysv_close_spares_successor),
	        T(test_posix_create_race_one_creator),
	        T(test_sysv_create_race_one_creator),
	        T(test_posix_foreign_segment_refused),
	        T(test_unfinished_segment_is_eagain),
	        T(test_opener_waits_for_creator),
	        T(test_posix_no_room_named_and_cleaned),
	        T(test_names_parse),
	        T(test_sysv_path_name),
	        T(test_posix_registry_records_creator),
	        T(test_sysv_registry_records_creator),
	};

	return tu_run("shm", tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
