/*
 * names.c - the names of raw objects (ipcx_shm, ipcx_sem): "NAME" and "posix:NAME" become the
 * POSIX name "/ipcx.NAME", "sysv:0xKEY" and "sysv:/path?proj=N" a System V key.
 */
#include "../core/ipcx_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>

#define POSIX_PREFIX "/ipcx."

int
ipcx__sysv_ftok(key_t *key, const char *path, unsigned proj)
{
	key_t k;

	if (proj < 1 || proj > 255) {
		return IPCX_EINVAL;
	}
	/* (key_t)-1 is a key ftok can produce (proj 255, device and inode bits all ones): only
	 * errno tells it from a failure */
	errno = 0;
	k = ftok(path, (int)proj);
	if (k == (key_t)-1 && errno != 0) {
		return ipcx__err(errno);
	}
	*key = k;
	return 0;
}

static int
names_posix(ipcx__objname *n, const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || strchr(s, '/') != NULL) {
		return IPCX_EINVAL;
	}
	/* the kernel name is one file name under /dev/shm (or /dev/mqueue): NAME_MAX bytes */
	if (len > NAME_MAX - (sizeof POSIX_PREFIX - 2)) {
		return IPCX_ENAMETOOLONG;
	}
	n->ns = IPCX__NS_POSIX;
	n->key = 0;
	snprintf(n->id, sizeof n->id, "%s%s", POSIX_PREFIX, s);
	return 0;
}

static int
names_sysv(ipcx__objname *n, const char *s)
{
	char path[PATH_MAX];
	unsigned long long v;
	unsigned proj = 1;
	const char *q;
	char *end;
	size_t plen;
	key_t key;
	int rv;

	if (*s >= '0' && *s <= '9') {
		errno = 0;
		v = strtoull(s, &end, 0);
		/* 0 is IPC_PRIVATE: a new object on every call, which no one could open again */
		if (errno != 0 || *end != '\0' || v == 0 || v > 0xffffffffULL) {
			return IPCX_EINVAL;
		}
		key = (key_t)(uint32_t)v;
	} else {
		if (*s == '\0') {
			return IPCX_EINVAL;
		}
		q = strchr(s, '?');
		plen = q != NULL ? (size_t)(q - s) : strlen(s);
		if (plen == 0) {
			return IPCX_EINVAL;
		}
		if (plen >= sizeof path) {
			return IPCX_ENAMETOOLONG;
		}
		memcpy(path, s, plen);
		path[plen] = '\0';
		if (q != NULL) {
			if (strncmp(q + 1, "proj=", 5) != 0 || q[6] < '0' || q[6] > '9') {
				return IPCX_EINVAL;
			}
			errno = 0;
			v = strtoull(q + 6, &end, 10);
			if (errno != 0 || *end != '\0' || v < 1 || v > 255) {
				return IPCX_EINVAL;
			}
			proj = (unsigned)v;
		}
		if ((rv = ipcx__sysv_ftok(&key, path, proj)) != 0) {
			return rv;
		}
	}
	n->ns = IPCX__NS_SYSV;
	n->key = key;
	snprintf(n->id, sizeof n->id, "0x%08x", (unsigned)key);
	return 0;
}

int
ipcx__objname_parse(ipcx__objname *n, const char *name)
{
	if (n == NULL || name == NULL) {
		return IPCX_EINVAL;
	}
	if (strncmp(name, "sysv:", 5) == 0) {
		return names_sysv(n, name + 5);
	}
	if (strncmp(name, "posix:", 6) == 0) {
		return names_posix(n, name + 6);
	}
	return names_posix(n, name);
}
