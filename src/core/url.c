/*
 * url.c - parsing of channel URLs (scheme:[//]path[?k=v&...]) and the options that a URL
 * query may carry; names are never truncated: too long is IPCX_ENAMETOOLONG.
 */
#include "ipcx_int.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int
url_hexval(int ch)
{
	if (ch >= '0' && ch <= '9') {
		return ch - '0';
	}
	if (ch >= 'a' && ch <= 'f') {
		return ch - 'a' + 10;
	}
	if (ch >= 'A' && ch <= 'F') {
		return ch - 'A' + 10;
	}
	return -1;
}

/* Percent-decode src[0, n) into dst (cap bytes, NUL-terminated). */
static int
url_decode(char *dst, size_t cap, const char *src, size_t n, int toolong)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int ch = (unsigned char)src[i];
		if (ch == '%') {
			int hi, lo;
			if (i + 2 >= n) {
				return IPCX_EBADURL;
			}
			hi = url_hexval((unsigned char)src[i + 1]);
			lo = url_hexval((unsigned char)src[i + 2]);
			if (hi < 0 || lo < 0) {
				return IPCX_EBADURL;
			}
			ch = hi * 16 + lo;
			if (ch == 0) {
				return IPCX_EBADURL;
			}
			i += 2;
		}
		if (o + 1 >= cap) {
			return toolong;
		}
		dst[o++] = (char)ch;
	}
	dst[o] = '\0';
	return 0;
}

int
ipcx__url_parse(ipcx__url *u, const char *url)
{
	const char *colon, *rest, *q, *end;
	size_t n;
	int rv;

	memset(u, 0, sizeof *u);
	if (url == NULL) {
		return IPCX_EINVAL;
	}
	colon = strchr(url, ':');
	if (colon == NULL || colon == url) {
		return IPCX_EBADURL;
	}
	n = (size_t)(colon - url);
	if (n >= sizeof u->scheme) {
		return IPCX_ESCHEME;
	}
	for (size_t i = 0; i < n; i++) {
		int ch = (unsigned char)url[i];
		if (!(isalnum(ch) || ch == '+' || ch == '-' || ch == '.')) {
			return IPCX_EBADURL;
		}
		u->scheme[i] = (char)tolower(ch);
	}
	rest = colon + 1;
	if (rest[0] == '/' && rest[1] == '/') {
		rest += 2;
	}
	if (rest[0] == '@') {
		u->abstract = true;
		rest++;
	}
	end = rest + strlen(rest);
	q = strchr(rest, '?');
	if (q == NULL) {
		q = end;
	}
	if ((rv = url_decode(u->path, sizeof u->path, rest, (size_t)(q - rest),
	                     IPCX_ENAMETOOLONG)) != 0) {
		return rv;
	}
	if (*q == '?') {
		const char *p = q + 1;
		while (*p != '\0') {
			const char *amp = strchr(p, '&');
			const char *eq;
			size_t klen;
			if (amp == NULL) {
				amp = end;
			}
			if (amp == p) {
				p = *amp ? amp + 1 : amp;
				continue;
			}
			if (u->nquery == IPCX__QUERY_MAX) {
				return IPCX_EBADURL;
			}
			eq = memchr(p, '=', (size_t)(amp - p));
			klen = (size_t)((eq ? eq : amp) - p);
			if ((rv = url_decode(u->query[u->nquery].key, sizeof u->query[0].key, p,
			                     klen, IPCX_EBADURL)) != 0) {
				return rv;
			}
			if (eq != NULL &&
			    (rv = url_decode(u->query[u->nquery].val, sizeof u->query[0].val,
			                     eq + 1, (size_t)(amp - eq - 1), IPCX_EBADURL)) != 0) {
				return rv;
			}
			for (int i = 0; i < u->nquery; i++) {
				if (strcmp(u->query[i].key, u->query[u->nquery].key) == 0) {
					return IPCX_EBADURL; /* a key given twice is ambiguous */
				}
			}
			u->nquery++;
			p = *amp ? amp + 1 : amp;
		}
	}
	return 0;
}

int
ipcx__url_hostport(ipcx__url *u)
{
	const char *p = u->path, *colon;
	size_t hl;

	if (u->abstract) {
		return IPCX_EBADURL;
	}
	if (p[0] == '[') {
		const char *rb = strchr(p, ']');
		if (rb == NULL || rb[1] != ':') {
			return IPCX_EBADURL;
		}
		hl = (size_t)(rb - p - 1);
		if (hl == 0 || hl >= sizeof u->host) {
			return IPCX_EBADURL;
		}
		memcpy(u->host, p + 1, hl);
		u->host[hl] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(p, ':');
		if (colon == NULL || memchr(p, ':', (size_t)(colon - p)) != NULL) {
			return IPCX_EBADURL; /* bare IPv6 must be bracketed */
		}
		hl = (size_t)(colon - p);
		if (hl >= sizeof u->host) {
			return IPCX_ENAMETOOLONG;
		}
		memcpy(u->host, p, hl);
		u->host[hl] = '\0';
		if (strcmp(u->host, "*") == 0) {
			u->host[0] = '\0';
		}
	}
	colon++;
	if (*colon == '\0' || strlen(colon) >= sizeof u->port) {
		return IPCX_EBADURL;
	}
	for (const char *c = colon; *c; c++) {
		if (!isdigit((unsigned char)*c)) {
			return IPCX_EBADURL;
		}
	}
	if (strtol(colon, NULL, 10) > 65535) {
		return IPCX_EBADURL;
	}
	strcpy(u->port, colon);
	return 0;
}

const char *
ipcx__url_query(ipcx__url *u, const char *key)
{
	for (int i = 0; i < u->nquery; i++) {
		if (strcmp(u->query[i].key, key) == 0) {
			u->query[i].used = true;
			return u->query[i].val;
		}
	}
	return NULL;
}

int
ipcx__url_query_num(ipcx__url *u, const char *key, int base, unsigned long long lo,
                    unsigned long long hi, unsigned long long *out, bool *found)
{
	const char *v = ipcx__url_query(u, key);
	char *endp;
	unsigned long long x;

	*found = false;
	if (v == NULL) {
		return 0;
	}
	if (*v == '\0' || *v == '-' || isspace((unsigned char)*v)) {
		return IPCX_EBADURL;
	}
	errno = 0;
	x = strtoull(v, &endp, base);
	if (errno != 0 || *endp != '\0' || x < lo || x > hi) {
		return IPCX_EBADURL;
	}
	*out = x;
	*found = true;
	return 0;
}

int
ipcx__opts_resolve(ipcx__opts *o, const ipcx_opts *user, ipcx__url *u)
{
	unsigned long long x;
	bool found;
	int rv;

	o->max_msg = IPCX_DEFAULT_MAX_MSG;
	o->mode = 0600;
	o->keep = false;
	o->raw = false;
	o->wait = IPCX__WAIT_BLOCK;
	if (user != NULL) {
		if (user->size < offsetof(ipcx_opts, raw) + sizeof user->raw) {
			return IPCX_EINVAL; /* not set up by ipcx_opts_init */
		}
		if (user->max_msg != 0) {
			o->max_msg = user->max_msg;
		}
		if (user->mode != 0) {
			if (user->mode & ~07777u) {
				return IPCX_EINVAL;
			}
			o->mode = user->mode;
		}
		o->keep = user->keep != 0;
		o->raw = user->raw != 0;
	}
	if (u == NULL) {
		return 0;
	}
	if ((rv = ipcx__url_query_num(u, "maxmsg", 0, 0, SIZE_MAX / 2, &x, &found)) != 0) {
		return rv;
	}
	if (found) {
		o->max_msg = x == 0 ? IPCX_DEFAULT_MAX_MSG : (size_t)x;
	}
	if ((rv = ipcx__url_query_num(u, "mode", 8, 0, 07777, &x, &found)) != 0) {
		return rv;
	}
	if (found && x != 0) {
		o->mode = (unsigned)x;
	}
	if ((rv = ipcx__url_query_num(u, "keep", 10, 0, 1, &x, &found)) != 0) {
		return rv;
	}
	if (found) {
		o->keep = x != 0;
	}
	if ((rv = ipcx__url_query_num(u, "raw", 10, 0, 1, &x, &found)) != 0) {
		return rv;
	}
	if (found) {
		o->raw = x != 0;
	}
	/* only schemes that list "wait" among their keys get here with one */
	return ipcx__url_wait(u, &o->wait);
}

int
ipcx__url_wait(ipcx__url *u, int *mode)
{
	const char *v = ipcx__url_query(u, "wait");

	*mode = IPCX__WAIT_BLOCK;
	if (v == NULL || strcmp(v, "block") == 0) {
		return 0;
	}
	if (strcmp(v, "adaptive") == 0) {
		*mode = IPCX__WAIT_ADAPTIVE;
	} else if (strcmp(v, "spin") == 0) {
		*mode = IPCX__WAIT_SPIN;
	} else {
		return IPCX_EBADURL;
	}
	return 0;
}

int
ipcx__url_format(char *buf, size_t cap, const char *prefix, const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o;

	if (ipcx__strlcpy(buf, prefix, cap) != 0) {
		return IPCX_ENAMETOOLONG;
	}
	o = strlen(prefix);
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		bool esc = *p == '%' || *p == '?' || *p == '&' || *p <= ' ' || *p >= 0x7f;
		if (o + (esc ? 3 : 1) >= cap) {
			return IPCX_ENAMETOOLONG;
		}
		if (esc) {
			buf[o++] = '%';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 15];
		} else {
			buf[o++] = (char)*p;
		}
	}
	buf[o] = '\0';
	return 0;
}
