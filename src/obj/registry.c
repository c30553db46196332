/*
 * registry.c - who made what: the creator (pid and process start time) of every object
 * ipcx creates, kept in the object where it has room and otherwise in a registry
 * directory ($XDG_RUNTIME_DIR/ipcx or /tmp/ipcx-$UID), so `ipcx ls` can tell live from dead.
 */
#include "../core/ipcx_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static _Thread_local char errdetail[512];

void
ipcx__errdetail_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errdetail, sizeof errdetail, fmt, ap);
	va_end(ap);
}

void
ipcx__errdetail_clear(void)
{
	errdetail[0] = '\0';
}

IPCX_API const char *
ipcx_errdetail(void)
{
	return errdetail;
}

int
ipcx__proc_starttime(pid_t pid, unsigned long long *st)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		return ipcx__err(errno);
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) {
		return IPCX_EIO;
	}
	buf[n] = '\0';
	/* the command name is in parentheses and may hold anything: fields start after ") " */
	if ((p = strrchr(buf, ')')) == NULL) {
		return IPCX_EIO;
	}
	/* field 3 (state) is the first after ')'; starttime is field 22 */
	p++;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (p == NULL) {
			return IPCX_EIO;
		}
	}
	*st = strtoull(p + 1, NULL, 10);
	return 0;
}

int
ipcx__creator_state(pid_t pid, unsigned long long starttime)
{
	unsigned long long now;
	int rv;

	if (pid <= 0) {
		return IPCX_OBJ_UNKNOWN;
	}
	rv = ipcx__proc_starttime(pid, &now);
	if (rv == IPCX_ENOENT || rv == IPCX_ESRCH) {
		return IPCX_OBJ_DEAD;
	}
	if (rv != 0) {
		return IPCX_OBJ_UNKNOWN;
	}
	/* same pid, another process: the creator is dead and its pid was reused */
	return starttime == 0 || now == starttime ? IPCX_OBJ_ALIVE : IPCX_OBJ_DEAD;
}

int
ipcx__self_starttime(unsigned long long *st)
{
	static unsigned long long cached;
	static pid_t cached_pid;
	pid_t me = getpid();
	int rv;

	if (cached_pid == me) {
		*st = cached;
		return 0;
	}
	if ((rv = ipcx__proc_starttime(me, st)) != 0) {
		return rv;
	}
	cached = *st;
	cached_pid = me;
	return 0;
}

int
ipcx__registry_dir(char *buf, size_t cap)
{
	const char *xdg = getenv("IPCX_REGISTRY_DIR");
	struct stat st;
	int n;

	if (xdg != NULL && xdg[0] == '/') {
		n = snprintf(buf, cap, "%s", xdg);
	} else if ((xdg = getenv("XDG_RUNTIME_DIR")) != NULL && xdg[0] == '/' &&
	           stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid()) {
		n = snprintf(buf, cap, "%s/ipcx", xdg);
	} else {
		n = snprintf(buf, cap, "/tmp/ipcx-%lu", (unsigned long)getuid());
	}
	if (n < 0 || (size_t)n >= cap) {
		return IPCX_ENAMETOOLONG;
	}
	if (mkdir(buf, 0700) == -1 && errno != EEXIST) {
		return ipcx__err(errno);
	}
	/* /tmp is shared: only a directory that is ours and private will do */
	if (lstat(buf, &st) == -1) {
		return ipcx__err(errno);
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077) != 0) {
		ipcx__errdetail_set("registry directory %s is not a private directory of this user",
		                    buf);
		return IPCX_EACCES;
	}
	return 0;
}

/* "<dir>/<kind>:<name with '/' and '%' percent-encoded>" */
static int
registry_path(char *buf, size_t cap, const char *kind, const char *name)
{
	size_t o;
	int rv;

	if ((rv = ipcx__registry_dir(buf, cap)) != 0) {
		return rv;
	}
	o = strlen(buf);
	rv = snprintf(buf + o, cap - o, "/%s:", kind);
	if (rv < 0 || (size_t)rv >= cap - o) {
		return IPCX_ENAMETOOLONG;
	}
	o += (size_t)rv;
	for (const char *p = name; *p; p++) {
		bool esc = *p == '/' || *p == '%';
		if (o + (esc ? 3 : 1) >= cap) {
			return IPCX_ENAMETOOLONG;
		}
		if (esc) {
			o += (size_t)snprintf(buf + o, cap - o, "%%%02X", (unsigned char)*p);
		} else {
			buf[o++] = *p;
		}
	}
	buf[o] = '\0';
	return 0;
}

int
ipcx__registry_add(const char *kind, const char *name)
{
	char path[PATH_MAX], tmp[PATH_MAX + 32], line[64];
	const char *base;
	unsigned long long st;
	int fd, rv, n;

	if ((rv = registry_path(path, sizeof path, kind, name)) != 0) {
		return rv;
	}
	if ((rv = ipcx__self_starttime(&st)) != 0) {
		return rv;
	}
	n = snprintf(line, sizeof line, "%ld %llu\n", (long)getpid(), st);
	/* write aside and rename: a reader never sees half an entry. The temporary name starts
	 * with '.', which no kind does, so that ipcx__registry_each never takes it for one. */
	base = strrchr(path, '/') + 1;
	snprintf(tmp, sizeof tmp, "%.*s.%s.%ld.tmp", (int)(base - path), path, base,
	         (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		return ipcx__err(errno);
	}
	if (write(fd, line, (size_t)n) != n) {
		rv = IPCX_EIO;
	}
	close(fd);
	if (rv == 0 && rename(tmp, path) == -1) {
		rv = ipcx__err(errno);
	}
	if (rv != 0) {
		unlink(tmp);
	}
	return rv;
}

int
ipcx__registry_remove(const char *kind, const char *name)
{
	char path[PATH_MAX];
	int rv;

	if ((rv = registry_path(path, sizeof path, kind, name)) != 0) {
		return rv;
	}
	return unlink(path) == 0 || errno == ENOENT ? 0 : ipcx__err(errno);
}

int
ipcx__registry_lookup(const char *kind, const char *name, pid_t *pid, unsigned long long *starttime)
{
	char path[PATH_MAX], line[64];
	long p;
	ssize_t n;
	int fd, rv;

	if ((rv = registry_path(path, sizeof path, kind, name)) != 0) {
		return rv;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		return ipcx__err(errno);
	}
	n = read(fd, line, sizeof line - 1);
	close(fd);
	if (n <= 0) {
		return IPCX_EIO;
	}
	line[n] = '\0';
	if (sscanf(line, "%ld %llu", &p, starttime) != 2) {
		return IPCX_EIO;
	}
	*pid = (pid_t)p;
	return 0;
}

int
ipcx__registry_forget(const char *kind, const char *name)
{
	unsigned long long st, mine;
	pid_t pid;
	int rv;

	if (name == NULL || name[0] == '\0') {
		return 0;
	}
	if ((rv = ipcx__registry_lookup(kind, name, &pid, &st)) != 0) {
		return rv == IPCX_ENOENT ? 0 : rv;
	}
	/* a successor that took the name over owns the entry now */
	if (pid != getpid() || ipcx__self_starttime(&mine) != 0 || st != mine) {
		return 0;
	}
	return ipcx__registry_remove(kind, name);
}

/* Undo registry_path's encoding of one entry's file name: "kind:name". */
static int
registry_decode(const char *file, char *kind, size_t kcap, char *name, size_t ncap)
{
	const char *colon = strchr(file, ':');
	size_t o = 0;

	if (colon == NULL || colon == file || (size_t)(colon - file) >= kcap) {
		return IPCX_EINVAL;
	}
	memcpy(kind, file, (size_t)(colon - file));
	kind[colon - file] = '\0';
	for (const char *p = colon + 1; *p; p++) {
		unsigned ch = (unsigned char)*p;
		if (ch == '%') {
			if (sscanf(p + 1, "%2x", &ch) != 1 || ch == 0) {
				return IPCX_EINVAL;
			}
			p += 2;
		}
		if (o + 1 >= ncap) {
			return IPCX_ENAMETOOLONG;
		}
		name[o++] = (char)ch;
	}
	name[o] = '\0';
	return o > 0 ? 0 : IPCX_EINVAL;
}

int
ipcx__registry_each(ipcx__registry_fn fn, void *arg)
{
	char dir[PATH_MAX], kind[32], name[PATH_MAX];
	unsigned long long st;
	struct dirent *e;
	pid_t pid;
	DIR *d;
	int rv;

	if ((rv = ipcx__registry_dir(dir, sizeof dir)) != 0) {
		return rv;
	}
	if ((d = opendir(dir)) == NULL) {
		return ipcx__err(errno);
	}
	while ((e = readdir(d)) != NULL) {
		/* '.' starts ".", ".." and entries being written (ipcx__registry_add) */
		if (e->d_name[0] == '.' ||
		    registry_decode(e->d_name, kind, sizeof kind, name, sizeof name) != 0) {
			continue;
		}
		/* an entry removed since readdir saw it is simply gone */
		if (ipcx__registry_lookup(kind, name, &pid, &st) != 0) {
			continue;
		}
		if ((rv = fn(arg, kind, name, pid, st)) != 0) {
			break;
		}
	}
	closedir(d);
	return rv;
}

int
ipcx__abs_path(char *buf, size_t cap, const char *path)
{
	size_t n;

	if (path[0] == '/') {
		return ipcx__strlcpy(buf, path, cap);
	}
	if (getcwd(buf, cap) == NULL) {
		return errno == ERANGE ? IPCX_ENAMETOOLONG : ipcx__err(errno);
	}
	while (path[0] == '.' && path[1] == '/') {
		path += 2;
		while (path[0] == '/') {
			path++;
		}
	}
	n = strlen(buf);
	if (n > 1) {
		buf[n++] = '/'; /* the cwd "/" already ends in one */
	}
	return ipcx__strlcpy(buf + n, path, cap - n);
}
