/*
 * shm.c - named shared-memory segments (POSIX shm_open, System V shmget), mapped read-write,
 * with a 64-byte header that records the creator and the usable size (ipcx_shm_*).
 */
#include "../core/ipcx_int.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long an opener waits for a creator to finish writing the header. Creation takes
 * microseconds; only a creator stopped or killed half-way makes an opener wait this long. */
#define SHM_OPEN_WAIT_MS 1000
/* Bounded retries of "create failed: it exists" / "open failed: it is gone" when another
 * process creates and removes the same name in between. */
#define SHM_RACE_TRIES 100

struct ipcx_shm {
	unsigned char *base; /* the mapping; the header is at base */
	size_t maplen;
	size_t size; /* usable bytes at base + IPCX__SHM_HDR */
	int ns;      /* IPCX__NS_POSIX or IPCX__NS_SYSV */
	int shmid;   /* System V */
	bool created;
	bool keep;
	pid_t creator; /* only the creating process removes it: not a forked child */
	dev_t dev;     /* POSIX: the object this handle created, so that close never */
	ino_t ino;     /* removes a successor that took the name over */
	char id[IPCX__OBJ_ID_MAX];
};

int
ipcx__shm_hdr_check(const struct ipcx__shm_hdr *h, uint64_t objsize)
{
	uint32_t magic = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);

	if (magic == 0) {
		return IPCX_EAGAIN;
	}
	if (magic != IPCX__SHM_MAGIC || h->version != IPCX__SHM_VERSION ||
	    h->hdr_size != IPCX__SHM_HDR) {
		return IPCX_EPROTO;
	}
	/* the header is data anyone with write access could have changed: its size is
	 * believed only as far as the object really reaches */
	if (objsize < IPCX__SHM_HDR || h->size > objsize - IPCX__SHM_HDR) {
		return IPCX_EPROTO;
	}
	return 0;
}

static unsigned long long
shm_sysctl(const char *path)
{
	unsigned long long v = 0;
	FILE *f = fopen(path, "re");

	if (f != NULL) {
		if (fscanf(f, "%llu", &v) != 1) {
			v = 0;
		}
		fclose(f);
	}
	return v;
}

/* errno of a failed shmget(IPC_CREAT) -> IPCX_E*, naming the limit it hit. */
static int
shm_sysv_create_err(int e, size_t total)
{
	if (e == EINVAL) {
		ipcx__errdetail_set("kernel.shmmax is %llu and SHMMIN is 1; a System V segment of "
		                    "%zu bytes (%zu usable + %d header) was asked for",
		                    shm_sysctl("/proc/sys/kernel/shmmax"), total,
		                    total - IPCX__SHM_HDR, IPCX__SHM_HDR);
	} else if (e == ENOSPC) {
		ipcx__errdetail_set("kernel.shmmni (%llu segments) or kernel.shmall (%llu pages) "
		                    "is exhausted; a segment of %zu bytes was asked for",
		                    shm_sysctl("/proc/sys/kernel/shmmni"),
		                    shm_sysctl("/proc/sys/kernel/shmall"), total);
	}
	return ipcx__err(e);
}

static int
shm_posix_space_err(int e, size_t total)
{
	if (e == ENOSPC || e == EFBIG) {
		ipcx__errdetail_set(
		        "/dev/shm (a tmpfs, sized by its size= mount option) has no room "
		        "for a segment of %zu bytes",
		        total);
	}
	return ipcx__err(e);
}

/* The creator's part: everything but the magic, then the magic (release), so that an
 * opener that sees the magic sees a complete header. */
static void
shm_write_header(ipcx_shm *s)
{
	struct ipcx__shm_hdr *h = (struct ipcx__shm_hdr *)s->base;
	unsigned long long st = 0;

	(void)ipcx__self_starttime(&st); /* 0: unknown, ls then shows the creator as such */
	memset(h, 0, sizeof *h);
	h->version = IPCX__SHM_VERSION;
	h->hdr_size = IPCX__SHM_HDR;
	h->creator_pid = (int32_t)getpid();
	h->creator_start = st;
	h->size = s->size;
	__atomic_store_n(&h->magic, IPCX__SHM_MAGIC, __ATOMIC_RELEASE);
}

/* The opener's part: the header of a segment that exists, mapped at s->base. */
static int
shm_check_size(ipcx_shm *s, size_t want)
{
	const struct ipcx__shm_hdr *h = (const struct ipcx__shm_hdr *)s->base;

	if (h->size > SIZE_MAX) {
		return IPCX_EPROTO;
	}
	s->size = (size_t)h->size;
	if (want > s->size) {
		ipcx__errdetail_set("segment %s has %zu usable bytes; %zu were asked for", s->id,
		                    s->size, want);
		return IPCX_EINVAL;
	}
	return 0;
}

/* Reserve the pages now: a tmpfs segment that outgrows /dev/shm would otherwise fail later
 * with SIGBUS on first touch instead of an error here. */
static int
shm_reserve(int fd, size_t total)
{
	int rv;

	do {
		rv = fallocate(fd, 0, 0, (off_t)total);
	} while (rv == -1 && errno == EINTR);
	if (rv == -1 && errno != EOPNOTSUPP && errno != ENOSYS) {
		return shm_posix_space_err(errno, total);
	}
	return 0;
}

static int
shm_posix_create(ipcx_shm *s, int fd, size_t size, unsigned mode)
{
	size_t total = IPCX__SHM_HDR + size;
	struct stat st;
	void *p;
	int rv;

	/* exactly the requested bits, whatever the umask took away */
	if (fchmod(fd, mode) == -1 || fstat(fd, &st) == -1) {
		return ipcx__err(errno);
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	if (ftruncate(fd, (off_t)total) == -1) {
		return shm_posix_space_err(errno, total);
	}
	if ((rv = shm_reserve(fd, total)) != 0) {
		return rv;
	}
	p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		return ipcx__err(errno);
	}
	s->base = p;
	s->maplen = total;
	s->size = size;
	shm_write_header(s);
	return 0;
}

static int
shm_posix_attach(ipcx_shm *s, int fd, size_t want)
{
	int64_t deadline = ipcx__deadline(SHM_OPEN_WAIT_MS);
	int64_t step = IPCX__BACKOFF_MIN_NS;
	struct stat st;
	void *p;
	int rv;

	/* size 0: the creator has not sized it yet */
	for (;;) {
		if (fstat(fd, &st) == -1) {
			return ipcx__err(errno);
		}
		if (st.st_size != 0) {
			break;
		}
		if (ipcx__backoff(&step, deadline) != 0) {
			ipcx__errdetail_set(
			        "segment %s stayed empty for %d ms: its creator did not "
			        "finish creating it",
			        s->id, SHM_OPEN_WAIT_MS);
			return IPCX_EAGAIN;
		}
	}
	if (st.st_size < IPCX__SHM_HDR || (uint64_t)st.st_size > SIZE_MAX) {
		ipcx__errdetail_set("%s is not an ipcx segment (%lld bytes, no header)", s->id,
		                    (long long)st.st_size);
		return IPCX_EPROTO;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		return ipcx__err(errno);
	}
	s->base = p;
	s->maplen = (size_t)st.st_size;
	/* the size is written before the magic: wait for the magic */
	while ((rv = ipcx__shm_hdr_check((const struct ipcx__shm_hdr *)p, (uint64_t)st.st_size)) ==
	       IPCX_EAGAIN) {
		if (ipcx__backoff(&step, deadline) != 0) {
			break;
		}
	}
	if (rv == 0) {
		rv = shm_check_size(s, want);
	} else if (rv == IPCX_EAGAIN) {
		ipcx__errdetail_set(
		        "segment %s has no ipcx header after %d ms: its creator did not "
		        "finish creating it, or it is not an ipcx segment",
		        s->id, SHM_OPEN_WAIT_MS);
	} else {
		ipcx__errdetail_set("%s is not an ipcx segment, or its header is damaged", s->id);
	}
	if (rv != 0) {
		munmap(p, s->maplen);
		s->base = NULL;
	}
	return rv;
}

static int
shm_posix_open(ipcx_shm *s, size_t size, int flags, unsigned mode)
{
	int fd = -1, rv;

	for (int tries = 0;; tries++) {
		if (flags & IPCX_CREATE) {
			fd = shm_open(s->id, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			              mode);
			if (fd >= 0) {
				s->created = true;
				break;
			}
			if (errno != EEXIST || (flags & IPCX_EXCL)) {
				return shm_posix_space_err(errno, IPCX__SHM_HDR + size);
			}
		}
		fd = shm_open(s->id, O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
		if (fd >= 0) {
			break;
		}
		/* removed between our create and open: create it after all */
		if (errno != ENOENT || !(flags & IPCX_CREATE) || tries >= SHM_RACE_TRIES) {
			return ipcx__err(errno);
		}
	}
	if (s->created) {
		if ((rv = shm_posix_create(s, fd, size, mode)) != 0) {
			goto fail_unlink;
		}
	} else if ((rv = shm_posix_attach(s, fd, size)) != 0) {
		goto fail_close;
	}
	close(fd); /* the mapping keeps the object */
	return 0;

fail_unlink:
	shm_unlink(s->id);
fail_close:
	close(fd);
	return rv;
}

static int
shm_sysv_attach(ipcx_shm *s, size_t want)
{
	int64_t deadline = ipcx__deadline(SHM_OPEN_WAIT_MS);
	int64_t step = IPCX__BACKOFF_MIN_NS;
	struct shmid_ds ds;
	void *p;
	int rv;

	if (shmctl(s->shmid, IPC_STAT, &ds) == -1) {
		return ipcx__err(errno);
	}
	if (ds.shm_segsz < IPCX__SHM_HDR) {
		ipcx__errdetail_set("System V segment %s is not an ipcx segment (%zu bytes, no "
		                    "header)",
		                    s->id, (size_t)ds.shm_segsz);
		return IPCX_EPROTO;
	}
	if ((p = shmat(s->shmid, NULL, 0)) == (void *)-1) {
		return ipcx__err(errno);
	}
	s->base = p;
	s->maplen = ds.shm_segsz;
	/* a System V segment is born at full size, zero-filled: wait for the magic */
	while ((rv = ipcx__shm_hdr_check((const struct ipcx__shm_hdr *)p, ds.shm_segsz)) ==
	       IPCX_EAGAIN) {
		if (ipcx__backoff(&step, deadline) != 0) {
			break;
		}
	}
	if (rv == 0) {
		rv = shm_check_size(s, want);
	} else if (rv == IPCX_EAGAIN) {
		ipcx__errdetail_set("System V segment %s has no ipcx header after %d ms: its "
		                    "creator did not finish creating it, or it is not an ipcx "
		                    "segment",
		                    s->id, SHM_OPEN_WAIT_MS);
	} else {
		ipcx__errdetail_set("System V segment %s is not an ipcx segment, or its header is "
		                    "damaged",
		                    s->id);
	}
	if (rv != 0) {
		shmdt(p);
		s->base = NULL;
	}
	return rv;
}

static int
shm_sysv_open(ipcx_shm *s, key_t key, size_t size, int flags, unsigned mode)
{
	size_t total = IPCX__SHM_HDR + size;
	void *p;
	int rv;

	for (int tries = 0;; tries++) {
		if (flags & IPCX_CREATE) {
			/* shmget's mode is not filtered by the umask */
			s->shmid = shmget(key, total, IPC_CREAT | IPC_EXCL | (int)mode);
			if (s->shmid >= 0) {
				s->created = true;
				break;
			}
			if (errno != EEXIST || (flags & IPCX_EXCL)) {
				return shm_sysv_create_err(errno, total);
			}
		}
		s->shmid = shmget(key, 0, 0);
		if (s->shmid >= 0) {
			break;
		}
		if (errno != ENOENT || !(flags & IPCX_CREATE) || tries >= SHM_RACE_TRIES) {
			return ipcx__err(errno);
		}
	}
	if (!s->created) {
		return shm_sysv_attach(s, size);
	}
	if ((p = shmat(s->shmid, NULL, 0)) == (void *)-1) {
		rv = ipcx__err(errno);
		goto fail_rmid;
	}
	s->base = p;
	s->maplen = total;
	s->size = size;
	shm_write_header(s);
	return 0;

fail_rmid:
	shmctl(s->shmid, IPC_RMID, NULL);
	return rv;
}

IPCX_API int
ipcx_shm_open(ipcx_shm **sp, const char *name, size_t size, int flags, unsigned mode)
{
	ipcx__objname n;
	ipcx_shm *s;
	int rv;

	if (sp == NULL) {
		return IPCX_EINVAL;
	}
	*sp = NULL;
	ipcx__errdetail_clear();
	if ((flags & ~(IPCX_CREATE | IPCX_EXCL | IPCX_KEEP)) != 0 ||
	    ((flags & IPCX_EXCL) && !(flags & IPCX_CREATE)) || (mode & ~0777u) != 0 ||
	    ((flags & IPCX_CREATE) && size == 0)) {
		return IPCX_EINVAL;
	}
	/* header + size must fit in an off_t and a size_t */
	if (size > (size_t)INT64_MAX - IPCX__SHM_HDR) {
		return IPCX_EFBIG;
	}
	if ((rv = ipcx__objname_parse(&n, name)) != 0) {
		return rv;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		return IPCX_ENOMEM;
	}
	s->ns = n.ns;
	s->shmid = -1;
	s->keep = (flags & IPCX_KEEP) != 0;
	s->creator = getpid();
	memcpy(s->id, n.id, sizeof s->id);
	if (mode == 0) {
		mode = 0600;
	}
	if (n.ns == IPCX__NS_POSIX) {
		rv = shm_posix_open(s, size, flags, mode);
	} else {
		rv = shm_sysv_open(s, n.key, size, flags, mode);
	}
	if (rv != 0) {
		free(s);
		return rv;
	}
	if (s->created) {
		/* the header names the creator already; the registry entry makes segments
		 * listable like every other kind. Best effort: a registry that cannot be
		 * written must not stop IPC. */
		(void)ipcx__registry_add(n.ns == IPCX__NS_POSIX ? "posix-shm" : "sysv-shm", s->id);
	}
	*sp = s;
	return 0;
}

IPCX_API void *
ipcx_shm_ptr(const ipcx_shm *s)
{
	return s != NULL ? s->base + IPCX__SHM_HDR : NULL;
}

IPCX_API size_t
ipcx_shm_size(const ipcx_shm *s)
{
	return s != NULL ? s->size : 0;
}

/* Remove the POSIX object this handle created, unless the name now names another. */
static void
shm_posix_remove_own(const ipcx_shm *s)
{
	char path[sizeof "/dev/shm" + IPCX__OBJ_ID_MAX];
	struct stat st;
	int fd = shm_open(s->id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0), rv;

	if (fd >= 0) {
		rv = fstat(fd, &st);
		close(fd);
	} else if (errno == EACCES) {
		/* a mode without read permission for us: look at glibc's file instead */
		snprintf(path, sizeof path, "/dev/shm%s", s->id);
		rv = lstat(path, &st);
	} else {
		return; /* removed already (ipcx_shm_unlink, ipcx rm) */
	}
	if (rv == 0 && (st.st_dev != s->dev || st.st_ino != s->ino)) {
		return;
	}
	shm_unlink(s->id);
}

IPCX_API void
ipcx_shm_close(ipcx_shm *s)
{
	bool remove;

	if (s == NULL) {
		return;
	}
	remove = s->created && !s->keep && s->creator == getpid();
	if (s->ns == IPCX__NS_POSIX) {
		munmap(s->base, s->maplen);
		if (remove) {
			shm_posix_remove_own(s);
			(void)ipcx__registry_forget("posix-shm", s->id);
		}
	} else {
		shmdt(s->base);
		/* by id: a segment created later under the same key is another id */
		if (remove) {
			shmctl(s->shmid, IPC_RMID, NULL);
			(void)ipcx__registry_forget("sysv-shm", s->id);
		}
	}
	free(s);
}

IPCX_API int
ipcx_shm_unlink(const char *name)
{
	ipcx__objname n;
	int rv, id;

	ipcx__errdetail_clear();
	if ((rv = ipcx__objname_parse(&n, name)) != 0) {
		return rv;
	}
	if (n.ns == IPCX__NS_POSIX) {
		if (shm_unlink(n.id) == -1) {
			return ipcx__err(errno);
		}
		(void)ipcx__registry_remove("posix-shm", n.id);
		return 0;
	}
	if ((id = shmget(n.key, 0, 0)) == -1 || shmctl(id, IPC_RMID, NULL) == -1) {
		return ipcx__err(errno);
	}
	(void)ipcx__registry_remove("sysv-shm", n.id);
	return 0;
}
