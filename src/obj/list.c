/*
 * list.c - the IPC objects on this machine, for `ipcx ls` and `ipcx rm`: POSIX queues,
 * segments and semaphores, System V objects, and the FIFOs, sockets and logs ipcx recorded.
 *
 * Where each kind is found, and how its creator is known:
 *   posix-mq    /dev/mqueue (QSIZE from the file, messages from mq_getattr); registry
 *   posix-shm   /dev/shm files not named sem.*; the ipcx header inside, else the registry
 *   posix-sem   /dev/shm/sem.NAME (value from sem_getvalue); registry
 *   sysv-*      /proc/sysvipc/{msg,shm,sem}; the header inside a segment, else the registry
 *   fifo, socket, file   the registry only (they may live anywhere in the file system)
 * An object is ipcx's own if it carries the header, has a registry entry or a POSIX name
 * starting with "ipcx.". A registry entry whose object is gone is not listed; it is deleted
 * once its creator is dead (nobody else would), and left alone while the creator runs (it
 * may be between recording a name and creating it, and forgets it on close).
 */
#include "../core/ipcx_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define LIST_MQ_DIR       "/dev/mqueue"
#define LIST_SHM_DIR      "/dev/shm"
#define LIST_SYSV         "/proc/sysvipc/"
#define LIST_MQUEUE_MAGIC 0x19800202 /* statfs f_type of mqueue, linux/magic.h */

static const char *const list_kinds[] = {
        [IPCX_OBJ_POSIX_MQ] = "posix-mq",   [IPCX_OBJ_POSIX_SHM] = "posix-shm",
        [IPCX_OBJ_POSIX_SEM] = "posix-sem", [IPCX_OBJ_SYSV_MSG] = "sysv-msg",
        [IPCX_OBJ_SYSV_SHM] = "sysv-shm",   [IPCX_OBJ_SYSV_SEM] = "sysv-sem",
        [IPCX_OBJ_FIFO] = "fifo",           [IPCX_OBJ_SOCKET] = "socket",
        [IPCX_OBJ_FILE] = "file",
};
#define LIST_NKINDS ((int)(sizeof list_kinds / sizeof list_kinds[0]))

IPCX_API const char *
ipcx_obj_kind_name(int kind)
{
	return kind > 0 && kind < LIST_NKINDS ? list_kinds[kind] : "?";
}

/* The kind named by s[0, n), or 0. */
static int
list_kind_find(const char *s, size_t n)
{
	for (int k = 1; k < LIST_NKINDS; k++) {
		if (strlen(list_kinds[k]) == n && memcmp(list_kinds[k], s, n) == 0) {
			return k;
		}
	}
	return 0;
}

static int
list_persistence(int kind)
{
	return kind >= IPCX_OBJ_FIFO ? IPCX_PERSIST_FILESYSTEM : IPCX_PERSIST_KERNEL;
}

/* ---- the creator header of segments and logs ------------------------------------------ */

/* The creator recorded in the header at the start of a segment of objsize bytes, if it is
 * an ipcx segment. h is a copy (pread) or a read-only mapping. */
static bool
list_header(const struct ipcx__shm_hdr *h, uint64_t objsize, pid_t *pid, unsigned long long *st)
{
	struct ipcx__shm_hdr copy;

	/* the creator writes the magic last: read it first, with acquire order */
	copy.magic = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);
	memcpy((char *)&copy + sizeof copy.magic, (const char *)h + sizeof copy.magic,
	       sizeof copy - sizeof copy.magic);
	if (ipcx__shm_hdr_check(&copy, objsize) != 0) {
		return false;
	}
	*pid = (pid_t)copy.creator_pid;
	*st = copy.creator_start;
	return true;
}

/* ---- the result being built ----------------------------------------------------------- */

typedef struct list_reg {
	int kind;
	char *name;
	pid_t pid;
	unsigned long long st;
	bool seen; /* its object was found by a scan */
} list_reg;

typedef struct list_ctx {
	ipcx_obj_info *v;
	size_t n, cap;
	int flags;
	list_reg *reg;
	size_t nreg, capreg;
	char note[512]; /* what could not be looked at, for ipcx_errdetail */
} list_ctx;

static void
list_note(list_ctx *c, const char *what)
{
	size_t o = strlen(c->note);

	snprintf(c->note + o, sizeof c->note - o, "%s%s", o > 0 ? "; " : "", what);
}

static int
list_reg_collect(void *arg, const char *kind, const char *name, pid_t pid, unsigned long long st)
{
	list_ctx *c = arg;
	list_reg *r;
	int k = list_kind_find(kind, strlen(kind));

	if (k == 0) {
		return 0; /* a kind this version does not know: leave it be */
	}
	if (c->nreg == c->capreg) {
		size_t cap = c->capreg ? c->capreg * 2 : 16;
		if ((r = realloc(c->reg, cap * sizeof *r)) == NULL) {
			return IPCX_ENOMEM;
		}
		c->reg = r;
		c->capreg = cap;
	}
	r = &c->reg[c->nreg];
	if ((r->name = strdup(name)) == NULL) {
		return IPCX_ENOMEM;
	}
	r->kind = k;
	r->pid = pid;
	r->st = st;
	r->seen = false;
	c->nreg++;
	return 0;
}

static list_reg *
list_reg_find(list_ctx *c, int kind, const char *name)
{
	for (size_t i = 0; i < c->nreg; i++) {
		if (c->reg[i].kind == kind && strcmp(c->reg[i].name, name) == 0) {
			return &c->reg[i];
		}
	}
	return NULL;
}

/* Add an object. name is the kind's own name ("/ipcx.x", "0x0000abcd", "/run/x"); ours
 * tells whether something besides the registry (a header, the name) marks it as ipcx's;
 * pid/st are the creator from a header (pid 0: none). Returns the slot to fill in, or NULL
 * if the object is not to be listed (errors in *rv). */
static ipcx_obj_info *
list_add(list_ctx *c, int kind, const char *name, bool ours, pid_t pid, unsigned long long st,
         int *rv)
{
	list_reg *r = list_reg_find(c, kind, name);
	ipcx_obj_info *o;
	int n;

	*rv = 0;
	if (r != NULL) {
		r->seen = true;
		ours = true;
		if (pid == 0) {
			pid = r->pid;
			st = r->st;
		}
	}
	if (!ours && !(c->flags & IPCX_LIST_ALL)) {
		return NULL;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		if ((o = realloc(c->v, cap * sizeof *o)) == NULL) {
			*rv = IPCX_ENOMEM;
			return NULL;
		}
		c->v = o;
		c->cap = cap;
	}
	o = &c->v[c->n];
	memset(o, 0, sizeof *o);
	n = snprintf(o->name, sizeof o->name, "%s:%s", list_kinds[kind], name);
	if (n < 0 || (size_t)n >= sizeof o->name) {
		return NULL; /* cannot happen for names the kernel accepts; never truncate */
	}
	c->n++;
	o->kind = kind;
	o->persistence = list_persistence(kind);
	o->owner = (uid_t)-1;
	o->size = -1;
	o->count = -1;
	o->creator = pid;
	o->state = pid > 0 ? ipcx__creator_state(pid, st) : IPCX_OBJ_UNKNOWN;
	o->ours = ours;
	return o;
}

static bool
list_prefixed(const char *name)
{
	return strncmp(name, "ipcx.", 5) == 0;
}

/* ---- POSIX message queues ------------------------------------------------------------ */

/* Messages queued, or -1 if the queue cannot be opened (no permission; *gone if it does
 * not exist). */
static long long
list_mq_count(const char *kname, bool *gone)
{
	struct mq_attr a;
	mqd_t q;

	/* either direction will do for mq_getattr; opening changes nothing */
	if ((q = mq_open(kname, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == (mqd_t)-1 &&
	    (errno == ENOENT ||
	     (q = mq_open(kname, O_WRONLY | O_CLOEXEC | O_NONBLOCK)) == (mqd_t)-1)) {
		*gone = errno == ENOENT;
		return -1;
	}
	*gone = false;
	if (mq_getattr(q, &a) == -1) {
		a.mq_curmsgs = -1;
	}
	mq_close(q);
	return a.mq_curmsgs;
}

/* Whether /dev/mqueue is the mqueue file system (and not the empty directory left where
 * it is not mounted). */
static bool
list_have_mqueue(void)
{
	struct statfs sf;

	return statfs(LIST_MQ_DIR, &sf) == 0 && sf.f_type == LIST_MQUEUE_MAGIC;
}

static int
list_posix_mq(list_ctx *c)
{
	char kname[NAME_MAX + 2], buf[256];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int rv = 0;

	if (!list_have_mqueue()) {
		list_note(c, "/dev/mqueue is not mounted: POSIX queues are listed from the "
		             "registry only");
		return 0;
	}
	if ((d = opendir(LIST_MQ_DIR)) == NULL) {
		return 0; /* unmounted since: the same as above, said once is enough */
	}
	while ((e = readdir(d)) != NULL) {
		ipcx_obj_info *o;
		bool gone;
		ssize_t n;
		int fd;
		if (e->d_name[0] == '.' ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode)) {
			continue;
		}
		snprintf(kname, sizeof kname, "/%s", e->d_name); /* d_name has <= NAME_MAX bytes */
		if ((o = list_add(c, IPCX_OBJ_POSIX_MQ, kname, list_prefixed(e->d_name), 0, 0,
		                  &rv)) == NULL) {
			if (rv != 0) {
				break;
			}
			continue;
		}
		o->owner = st.st_uid;
		o->mode = st.st_mode & 07777;
		/* "QSIZE:129        NOTIFY:0 ...": bytes of all messages queued */
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, buf, sizeof buf - 1);
			close(fd);
			if (n > 0) {
				buf[n] = '\0';
				if (sscanf(buf, "QSIZE:%lld", &o->size) != 1) {
					o->size = -1;
				}
			}
		}
		o->count = list_mq_count(kname, &gone);
	}
	closedir(d);
	return rv;
}

/* Without /dev/mqueue a queue is only known by a registry entry: probe it by name. */
static int
list_posix_mq_registry(list_ctx *c)
{
	int rv = 0;

	for (size_t i = 0; i < c->nreg && rv == 0; i++) {
		list_reg *r = &c->reg[i];
		ipcx_obj_info *o;
		long long count;
		bool gone;
		if (r->kind != IPCX_OBJ_POSIX_MQ || r->seen) {
			continue;
		}
		count = list_mq_count(r->name, &gone);
		if (gone) {
			continue;
		}
		if ((o = list_add(c, IPCX_OBJ_POSIX_MQ, r->name, true, 0, 0, &rv)) != NULL) {
			o->count = count;
		}
	}
	return rv;
}

/* ---- POSIX shared memory and named semaphores (/dev/shm) ------------------------------- */

/* Value of a named semaphore, or -1. The file is checked to hold a whole sem_t first: a
 * short file named sem.* (anybody may make one) would fault when mapped. */
static long long
list_sem_value(const char *kname, const struct stat *st)
{
	sem_t *s;
	int v;

	if (st->st_size < (off_t)sizeof(sem_t)) {
		return -1;
	}
	if ((s = sem_open(kname, 0)) == SEM_FAILED) {
		return -1;
	}
	if (sem_getvalue(s, &v) == -1) {
		v = -1;
	}
	sem_close(s);
	return v;
}

static int
list_posix_shm(list_ctx *c)
{
	char kname[NAME_MAX + 2];
	struct ipcx__shm_hdr hdr;
	struct dirent *e;
	struct stat st;
	DIR *d;
	int rv = 0;

	if ((d = opendir(LIST_SHM_DIR)) == NULL) {
		list_note(c,
		          "/dev/shm cannot be read: POSIX segments and semaphores are not listed");
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		bool sem = strncmp(e->d_name, "sem.", 4) == 0 && e->d_name[4] != '\0';
		const char *base = sem ? e->d_name + 4 : e->d_name;
		unsigned long long cst = 0;
		ipcx_obj_info *o;
		pid_t pid = 0;
		bool ours = list_prefixed(base);
		if (e->d_name[0] == '.' ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode)) {
			continue;
		}
		snprintf(kname, sizeof kname, "/%s", base);
		if (!sem && st.st_size >= (off_t)sizeof hdr) {
			int fd = openat(dirfd(d), e->d_name,
			                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
			if (fd >= 0) {
				if (pread(fd, &hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr &&
				    list_header(&hdr, (uint64_t)st.st_size, &pid, &cst)) {
					ours = true;
				}
				close(fd);
			}
		}
		o = list_add(c, sem ? IPCX_OBJ_POSIX_SEM : IPCX_OBJ_POSIX_SHM, kname, ours, pid,
		             cst, &rv);
		if (o == NULL) {
			if (rv != 0) {
				break;
			}
			continue;
		}
		o->owner = st.st_uid;
		o->mode = st.st_mode & 07777;
		if (sem) {
			o->count = list_sem_value(kname, &st);
		} else {
			o->size = st.st_size;
		}
	}
	closedir(d);
	return rv;
}

/* ---- System V (/proc/sysvipc) -------------------------------------------------------- */

enum { SV_KEY, SV_ID, SV_PERMS, SV_UID, SV_SIZE, SV_COUNT, SV_NFIELDS };

/* The columns each file names for the fields above (its first line is a header). */
static const char *const list_sysv_cols[][SV_NFIELDS] = {
        [IPCX_OBJ_SYSV_MSG] = {"key", "msqid", "perms", "uid", "cbytes", "qnum"},
        [IPCX_OBJ_SYSV_SHM] = {"key", "shmid", "perms", "uid", "size", "nattch"},
        [IPCX_OBJ_SYSV_SEM] = {"key", "semid", "perms", "uid", NULL, "nsems"},
};

/* The creator in the header of segment id, attached read-only for a moment. */
static bool
list_sysv_shm_header(int id, long long size, pid_t *pid, unsigned long long *st)
{
	void *p;
	bool ok;

	if (size < IPCX__SHM_HDR) {
		return false;
	}
	if ((p = shmat(id, NULL, SHM_RDONLY)) == (void *)-1) {
		return false;
	}
	ok = list_header(p, (uint64_t)size, pid, st);
	shmdt(p);
	return ok;
}

/* The value of the one semaphore of a set ipcx-style, or -1 (a set of several, or no
 * permission to read it). */
static long long
list_sysv_sem_value(int id, long long nsems)
{
	int v;

	if (nsems != 1 || (v = semctl(id, 0, GETVAL)) == -1) {
		return -1;
	}
	return v;
}

/* Split a line into at most max whitespace-separated fields. */
static int
list_split(char *line, char **f, int max)
{
	char *save = NULL;
	int n = 0;

	for (char *tok = strtok_r(line, " \t\n", &save); tok != NULL && n < max;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		f[n++] = tok;
	}
	return n;
}

static int
list_sysv(list_ctx *c, int kind, const char *file)
{
	char path[64], line[512], *f[32], name[32];
	int col[SV_NFIELDS];
	int nf, rv = 0;
	FILE *fp;

	snprintf(path, sizeof path, LIST_SYSV "%s", file);
	if ((fp = fopen(path, "re")) == NULL) {
		char note[160];
		snprintf(note, sizeof note, "%s cannot be read: System V %s objects are not listed",
		         path, file);
		list_note(c, note);
		return 0;
	}
	if (fgets(line, sizeof line, fp) == NULL) {
		fclose(fp);
		return 0;
	}
	nf = list_split(line, f, 32);
	for (int k = 0; k < SV_NFIELDS; k++) {
		col[k] = -1;
		for (int i = 0; i < nf && list_sysv_cols[kind][k] != NULL; i++) {
			if (strcmp(f[i], list_sysv_cols[kind][k]) == 0) {
				col[k] = i;
			}
		}
		if (col[k] < 0 && list_sysv_cols[kind][k] != NULL) {
			fclose(fp);
			list_note(c, "unexpected layout of /proc/sysvipc");
			return 0;
		}
	}
	while (rv == 0 && fgets(line, sizeof line, fp) != NULL) {
		long long v[SV_NFIELDS] = {0};
		unsigned long long cst = 0;
		ipcx_obj_info *o;
		unsigned key;
		pid_t pid = 0;
		bool ours;
		int id;
		if (list_split(line, f, 32) != nf) {
			continue;
		}
		for (int k = 0; k < SV_NFIELDS; k++) {
			/* perms are octal; the key is printed as a signed int */
			v[k] = col[k] < 0 ? -1 : strtoll(f[col[k]], NULL, k == SV_PERMS ? 8 : 10);
		}
		key = (unsigned)(int)v[SV_KEY];
		id = (int)v[SV_ID];
		/* IPC_PRIVATE objects share key 0: only their id tells them apart */
		if (key == IPC_PRIVATE) {
			snprintf(name, sizeof name, "id:%d", id);
		} else {
			snprintf(name, sizeof name, "0x%08x", key);
		}
		/* attaching updates the segment's last-attach time and pid: only when the
		 * registry does not know it already */
		ours = kind == IPCX_OBJ_SYSV_SHM && list_reg_find(c, kind, name) == NULL &&
		       list_sysv_shm_header(id, v[SV_SIZE], &pid, &cst);
		if ((o = list_add(c, kind, name, ours, pid, cst, &rv)) == NULL) {
			continue;
		}
		o->owner = (uid_t)v[SV_UID];
		o->mode = (unsigned)v[SV_PERMS] & 0777; /* higher bits: SHM_DEST, SHM_LOCKED */
		o->size = v[SV_SIZE];
		o->count = kind == IPCX_OBJ_SYSV_SEM ? list_sysv_sem_value(id, v[SV_COUNT])
		                                     : v[SV_COUNT];
	}
	fclose(fp);
	return rv;
}

/* ---- FIFOs, sockets and logs: the registry ------------------------------------------- */

/* ipcx__file_header flags of the logs that exist only for a conversation: a listener's
 * rendezvous log (0x1) and the two of a client's private pair (0x2). */
#define LIST_FLOG_TRANSIENT 0x3u

/* Fill in a file:// log from its header; false if the file is not a log (any more). A data
 * log is meant to outlive whoever wrote it, so its creator's death does not make it stale:
 * its state is unknown (and `ipcx rm --stale` leaves it). A log made before the last boot
 * has a dead creator, whatever process its pid names now. */
static bool
list_file_log(const char *path, pid_t *pid, unsigned long long *st, int *state)
{
	unsigned flags;
	bool this_boot;

	if (ipcx__file_header(path, &flags, pid, st, &this_boot) != 0) {
		return false;
	}
	*state = !(flags & LIST_FLOG_TRANSIENT) ? IPCX_OBJ_UNKNOWN
	         : !this_boot                   ? IPCX_OBJ_DEAD
	                                        : -1; /* as its pid and start time say */
	return true;
}

static int
list_files(list_ctx *c)
{
	int rv = 0;

	for (size_t i = 0; i < c->nreg && rv == 0; i++) {
		list_reg *r = &c->reg[i];
		unsigned long long cst = 0;
		int state = -1;
		ipcx_obj_info *o;
		struct stat st;
		pid_t pid = 0;
		bool fits;
		if (r->kind < IPCX_OBJ_FIFO || r->seen || lstat(r->name, &st) == -1) {
			continue;
		}
		switch (r->kind) {
		case IPCX_OBJ_FIFO:
			fits = S_ISFIFO(st.st_mode);
			break;
		case IPCX_OBJ_SOCKET:
			fits = S_ISSOCK(st.st_mode);
			break;
		default:
			fits = S_ISREG(st.st_mode) && list_file_log(r->name, &pid, &cst, &state);
			break;
		}
		if (!fits || (o = list_add(c, r->kind, r->name, true, pid, cst, &rv)) == NULL) {
			continue; /* another file took the name: not ours any more */
		}
		o->owner = st.st_uid;
		o->mode = st.st_mode & 07777;
		if (r->kind == IPCX_OBJ_FILE) {
			o->size = st.st_size;
		}
		if (state >= 0) {
			o->state = state;
		}
	}
	return rv;
}

/* Entries whose object no longer exists: delete those of dead creators. */
static void
list_prune(list_ctx *c)
{
	for (size_t i = 0; i < c->nreg; i++) {
		list_reg *r = &c->reg[i];
		if (!r->seen && ipcx__creator_state(r->pid, r->st) == IPCX_OBJ_DEAD) {
			ipcx__registry_remove(list_kinds[r->kind], r->name);
		}
	}
}

static int
list_cmp(const void *a, const void *b)
{
	const ipcx_obj_info *x = a, *y = b;

	return x->kind != y->kind ? x->kind - y->kind : strcmp(x->name, y->name);
}

IPCX_API int
ipcx_obj_list(ipcx_obj_info **list, size_t *n, int flags)
{
	list_ctx c;
	bool have_mq;
	int rv;

	if (list == NULL || n == NULL || (flags & ~IPCX_LIST_ALL) != 0) {
		return IPCX_EINVAL;
	}
	ipcx__errdetail_clear();
	memset(&c, 0, sizeof c);
	c.flags = flags;
	rv = ipcx__registry_each(list_reg_collect, &c);
	if (rv == IPCX_ENOMEM) {
		goto fail;
	}
	if (rv != 0) {
		list_note(&c, "the creator registry cannot be read: ipcx's FIFOs, sockets and logs "
		              "are not listed");
	}
	have_mq = list_have_mqueue();
	if ((rv = list_posix_mq(&c)) != 0 || (!have_mq && (rv = list_posix_mq_registry(&c)) != 0) ||
	    (rv = list_posix_shm(&c)) != 0 || (rv = list_sysv(&c, IPCX_OBJ_SYSV_MSG, "msg")) != 0 ||
	    (rv = list_sysv(&c, IPCX_OBJ_SYSV_SHM, "shm")) != 0 ||
	    (rv = list_sysv(&c, IPCX_OBJ_SYSV_SEM, "sem")) != 0 || (rv = list_files(&c)) != 0) {
		goto fail;
	}
	list_prune(&c);
	if (c.n > 1) {
		qsort(c.v, c.n, sizeof *c.v, list_cmp);
	}
	for (size_t i = 0; i < c.nreg; i++) {
		free(c.reg[i].name);
	}
	free(c.reg);
	if (c.note[0] != '\0') {
		ipcx__errdetail_set("%s", c.note);
	}
	*list = c.v;
	*n = c.n;
	return 0;
fail:
	for (size_t i = 0; i < c.nreg; i++) {
		free(c.reg[i].name);
	}
	free(c.reg);
	free(c.v);
	return rv;
}

/* ---- removal ------------------------------------------------------------------------- */

/* What ipcx_obj_remove was asked to remove: a kind and that kind's own name. */
typedef struct list_target {
	int kind;
	char name[PATH_MAX]; /* POSIX kernel name, "0x%08x" key, or absolute path */
	key_t key;
	int id; /* System V "id:N" names (IPC_PRIVATE objects); -1 otherwise */
} list_target;

static int
list_target_posix(list_target *t, const char *name)
{
	if (name[0] != '/' || name[1] == '\0' || strchr(name + 1, '/') != NULL) {
		ipcx__errdetail_set("a POSIX object name is one '/' and a name without '/'");
		return IPCX_EINVAL;
	}
	if (strlen(name + 1) > NAME_MAX) {
		return IPCX_ENAMETOOLONG;
	}
	return ipcx__strlcpy(t->name, name, sizeof t->name);
}

static int
list_target_sysv(list_target *t, const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (strncmp(s, "id:", 3) == 0) {
		v = strtoull(s + 3, &end, 10);
		if (s[3] < '0' || s[3] > '9' || *end != '\0' || errno != 0 || v > INT_MAX) {
			return IPCX_EINVAL;
		}
		t->id = (int)v;
		return 0;
	}
	v = strtoull(s, &end, 0);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v == 0 || v > 0xffffffffULL) {
		ipcx__errdetail_set("a System V object is named by its key (0x1234) or id (id:N)");
		return IPCX_EINVAL;
	}
	t->key = (key_t)(unsigned)v;
	snprintf(t->name, sizeof t->name, "0x%08x", (unsigned)v);
	return 0;
}

static int
list_target_url(list_target *t, const char *s)
{
	unsigned long long proj;
	ipcx__url *u;
	bool found;
	int rv;

	if ((u = malloc(sizeof *u)) == NULL) {
		return IPCX_ENOMEM;
	}
	if ((rv = ipcx__url_parse(u, s)) != 0) {
		goto out;
	}
	if (strcmp(u->scheme, "mq") == 0) {
		/* mq:///NAME is the queue /ipcx.NAME */
		const char *p = u->path[0] == '/' ? u->path + 1 : u->path;
		char kname[NAME_MAX + 8];
		t->kind = IPCX_OBJ_POSIX_MQ;
		if ((size_t)snprintf(kname, sizeof kname, "/ipcx.%s", p) >= sizeof kname) {
			rv = IPCX_ENAMETOOLONG;
			goto out;
		}
		rv = list_target_posix(t, kname);
	} else if (strcmp(u->scheme, "sysvmq") == 0) {
		/* as the sysvmq scheme reads it: sysvmq:0xKEY or sysvmq:///path?proj=N */
		t->kind = IPCX_OBJ_SYSV_MSG;
		if ((rv = ipcx__url_query_num(u, "proj", 10, 1, 255, &proj, &found)) != 0) {
			goto out;
		}
		if (u->path[0] == '0' && (u->path[1] == 'x' || u->path[1] == 'X') && !found) {
			rv = list_target_sysv(t, u->path);
		} else if (u->path[0] == '/') {
			rv = ipcx__sysv_ftok(&t->key, u->path, found ? (unsigned)proj : 1);
			snprintf(t->name, sizeof t->name, "0x%08x", (unsigned)t->key);
		} else {
			rv = IPCX_EBADURL;
		}
	} else if (strcmp(u->scheme, "fifo") == 0 || strcmp(u->scheme, "file") == 0 ||
	           (strcmp(u->scheme, "unix") == 0 && !u->abstract)) {
		t->kind = strcmp(u->scheme, "fifo") == 0   ? IPCX_OBJ_FIFO
		          : strcmp(u->scheme, "file") == 0 ? IPCX_OBJ_FILE
		                                           : IPCX_OBJ_SOCKET;
		rv = u->path[0] == '\0' ? IPCX_EINVAL
		                        : ipcx__abs_path(t->name, sizeof t->name, u->path);
	} else {
		ipcx__errdetail_set("%s: names no object that outlives its process", u->scheme);
		rv = IPCX_EINVAL;
	}
out:
	free(u);
	return rv;
}

static int
list_target_parse(list_target *t, const char *s)
{
	const char *colon = strchr(s, ':');

	memset(t, 0, sizeof *t);
	t->id = -1;
	/* "fifo" and "file" are kinds and schemes: fifo:///path is the URL (percent-encoded),
	 * fifo:/path the name as listed (raw bytes) */
	if (colon != NULL && (t->kind = list_kind_find(s, (size_t)(colon - s))) != 0 &&
	    !(t->kind >= IPCX_OBJ_FIFO && colon[1] == '/' && colon[2] == '/')) {
		const char *rest = colon + 1;
		switch (t->kind) {
		case IPCX_OBJ_POSIX_MQ:
		case IPCX_OBJ_POSIX_SHM:
		case IPCX_OBJ_POSIX_SEM:
			return list_target_posix(t, rest);
		case IPCX_OBJ_SYSV_MSG:
		case IPCX_OBJ_SYSV_SHM:
		case IPCX_OBJ_SYSV_SEM:
			return list_target_sysv(t, rest);
		default:
			return rest[0] == '\0' ? IPCX_EINVAL
			                       : ipcx__abs_path(t->name, sizeof t->name, rest);
		}
	}
	return list_target_url(t, s);
}

/* IPC_RMID a System V object by key or id; t->name gets the key of an object removed by
 * id, so that its registry entry goes too. */
static int
list_remove_sysv(list_target *t)
{
	struct ipc_perm *perm;
	struct msqid_ds mds;
	struct shmid_ds sds;
	struct semid_ds xds;
	int id = t->id, rv;

	switch (t->kind) {
	case IPCX_OBJ_SYSV_MSG:
		if (id < 0 && (id = msgget(t->key, 0)) == -1) {
			return ipcx__err(errno);
		}
		perm = msgctl(id, IPC_STAT, &mds) == 0 ? &mds.msg_perm : NULL;
		rv = msgctl(id, IPC_RMID, NULL);
		break;
	case IPCX_OBJ_SYSV_SHM:
		if (id < 0 && (id = shmget(t->key, 0, 0)) == -1) {
			return ipcx__err(errno);
		}
		perm = shmctl(id, IPC_STAT, &sds) == 0 ? &sds.shm_perm : NULL;
		rv = shmctl(id, IPC_RMID, NULL);
		break;
	default:
		if (id < 0 && (id = semget(t->key, 0, 0)) == -1) {
			return ipcx__err(errno);
		}
		perm = semctl(id, 0, IPC_STAT, &xds) == 0 ? &xds.sem_perm : NULL;
		rv = semctl(id, 0, IPC_RMID);
		break;
	}
	if (rv == -1) {
		/* an "id:N" that names no object is EINVAL from the kernel: say "no such" */
		return errno == EINVAL && t->id >= 0 ? IPCX_ENOENT : ipcx__err(errno);
	}
	if (t->id >= 0 && perm != NULL && perm->__key != IPC_PRIVATE) {
		snprintf(t->name, sizeof t->name, "0x%08x", (unsigned)perm->__key);
	}
	return 0;
}

/* Unlink a FIFO, socket or log, only if the name is one: a regular file is never removed
 * by a fifo: or socket: name. */
static int
list_remove_file(const list_target *t)
{
	static const char *const what[] = {[IPCX_OBJ_FIFO] = "a FIFO",
	                                   [IPCX_OBJ_SOCKET] = "a socket",
	                                   [IPCX_OBJ_FILE] = "a regular file"};
	struct stat st;
	bool fits;

	if (lstat(t->name, &st) == -1) {
		return ipcx__err(errno);
	}
	fits = t->kind == IPCX_OBJ_FIFO     ? S_ISFIFO(st.st_mode)
	       : t->kind == IPCX_OBJ_SOCKET ? S_ISSOCK(st.st_mode)
	                                    : S_ISREG(st.st_mode);
	if (!fits) {
		ipcx__errdetail_set("%s is not %s; not removed", t->name, what[t->kind]);
		return IPCX_EINVAL;
	}
	/* a file: name removes a log, never some other file that happens to be there */
	if (t->kind == IPCX_OBJ_FILE &&
	    !list_file_log(t->name, &(pid_t){0}, &(unsigned long long){0}, &(int){0})) {
		ipcx__errdetail_set("%s is not a file:// log; not removed", t->name);
		return IPCX_EINVAL;
	}
	return unlink(t->name) == 0 ? 0 : ipcx__err(errno);
}

IPCX_API int
ipcx_obj_remove(const char *name)
{
	list_target t;
	int rv;

	ipcx__errdetail_clear();
	if (name == NULL) {
		return IPCX_EINVAL;
	}
	if ((rv = list_target_parse(&t, name)) != 0) {
		return rv;
	}
	switch (t.kind) {
	case IPCX_OBJ_POSIX_MQ:
		rv = mq_unlink(t.name) == 0 ? 0 : ipcx__err(errno);
		break;
	case IPCX_OBJ_POSIX_SHM:
		rv = shm_unlink(t.name) == 0 ? 0 : ipcx__err(errno);
		break;
	case IPCX_OBJ_POSIX_SEM:
		rv = sem_unlink(t.name) == 0 ? 0 : ipcx__err(errno);
		break;
	case IPCX_OBJ_SYSV_MSG:
	case IPCX_OBJ_SYSV_SHM:
	case IPCX_OBJ_SYSV_SEM:
		rv = list_remove_sysv(&t);
		break;
	default:
		rv = list_remove_file(&t);
		break;
	}
	/* the record goes with the object, and with an object already gone */
	if ((rv == 0 || rv == IPCX_ENOENT) && t.name[0] != '\0') {
		ipcx__registry_remove(list_kinds[t.kind], t.name);
	}
	return rv;
}
