/*
 * shared.c - small pieces more than one transport needs: reading a kernel limit from
 * /proc/sys, and the private names and tokens of a rendezvous (fifo, mq and file pairs).
 */
#include "ipcx_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

long long
ipcx__sysctl(const char *path, long long dflt)
{
	char buf[32], *end;
	long long v;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		return dflt;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) {
		return dflt;
	}
	buf[n] = '\0';
	v = strtoll(buf, &end, 10);
	return end == buf || v <= 0 ? dflt : v;
}

bool
ipcx__token_ok(const char *t, size_t n, size_t max)
{
	if (n == 0 || n > max || t[0] == '.') {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = t[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || ch == '.')) {
			return false;
		}
	}
	return true;
}

int
ipcx__pair_names(char *up, char *dn, size_t cap, const char *base, const char *token)
{
	int a = snprintf(up, cap, "%s.%s.up", base, token);
	int b = snprintf(dn, cap, "%s.%s.dn", base, token);

	return a < 0 || b < 0 || (size_t)a >= cap || (size_t)b >= cap ? IPCX_ENAMETOOLONG : 0;
}
