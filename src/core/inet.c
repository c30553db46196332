/*
 * inet.c - name resolution and address formatting shared by the tcp and udp transports,
 * and the one non-truncating string copy every transport uses for names.
 */
#include "ipcx_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int
ipcx__inet_resolve(struct addrinfo **res, const ipcx__url *u, int socktype, bool passive)
{
	struct addrinfo hints;
	int rv;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : AI_ADDRCONFIG);
	rv = getaddrinfo(u->host[0] != '\0' ? u->host : NULL, u->port, &hints, res);
	switch (rv) {
	case 0:
		return 0;
	case EAI_MEMORY:
		return IPCX_ENOMEM;
	case EAI_SYSTEM:
		return ipcx__err(errno);
	case EAI_FAMILY:
		return IPCX_EAFNOSUPPORT;
	default:
		return IPCX_ENOTFOUND;
	}
}

int
ipcx__inet_format(char *buf, size_t cap, const char *scheme, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;
	int n;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		port = ntohs(in->sin_port);
		n = snprintf(buf, cap, "%s://%s:%u", scheme, host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		port = ntohs(in6->sin6_port);
		n = snprintf(buf, cap, "%s://[%s]:%u", scheme, host, port);
	} else {
		return IPCX_EAFNOSUPPORT;
	}
	if (n < 0 || (size_t)n >= cap) {
		return IPCX_ENAMETOOLONG;
	}
	return 0;
}

int
ipcx__strlcpy(char *buf, const char *s, size_t cap)
{
	size_t n = strlen(s);

	if (n >= cap) {
		return IPCX_ENAMETOOLONG;
	}
	memcpy(buf, s, n + 1);
	return 0;
}
