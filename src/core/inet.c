/*
 * inet.c - name resolution (bounded by the caller's deadline) and address formatting shared
 * by the tcp and udp transports and RPC, and the one non-truncating string copy every
 * transport uses for names.
 */
#include "ipcx_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A name lookup on its own thread, so that a caller's deadline bounds it: getaddrinfo()
 * itself cannot be interrupted (a DNS server that never answers holds it for the
 * resolver's timeout times its attempts). Whoever of the caller and the thread is last
 * frees it; a caller that gave up leaves the result to the thread to free. */
typedef struct lookup {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool done;
	int rv; /* getaddrinfo()'s */
	struct addrinfo hints, *res;
	char host[256], port[32];
} lookup;

static void
lookup_unref(lookup *l)
{
	int refs;

	pthread_mutex_lock(&l->mu);
	refs = --l->refs;
	pthread_mutex_unlock(&l->mu);
	if (refs == 0) {
		if (l->res != NULL) {
			freeaddrinfo(l->res);
		}
		pthread_cond_destroy(&l->cv);
		pthread_mutex_destroy(&l->mu);
		free(l);
	}
}

static void *
lookup_main(void *arg)
{
	lookup *l = arg;
	struct addrinfo *res = NULL;
	int rv = getaddrinfo(l->host, l->port[0] != '\0' ? l->port : NULL, &l->hints, &res);

	pthread_mutex_lock(&l->mu);
	l->rv = rv;
	l->res = res;
	l->done = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	lookup_unref(l);
	return NULL;
}

static int
gai_err(int rv)
{
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
ipcx__getaddrinfo(const char *host, const char *port, const struct addrinfo *hints,
                  struct addrinfo **res, int64_t deadline)
{
	struct addrinfo numeric = *hints;
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t tid;
	lookup *l;
	int rv;

	*res = NULL;
	/* an address (the common case), the wildcard, or no deadline: no thread needed */
	numeric.ai_flags |= AI_NUMERICHOST;
	rv = getaddrinfo(host, port, &numeric, res);
	if (rv != EAI_NONAME || host == NULL || deadline == IPCX__FOREVER) {
		if (rv == EAI_NONAME && host != NULL) {
			rv = getaddrinfo(host, port, hints, res);
		}
		return gai_err(rv);
	}
	if ((l = calloc(1, sizeof *l)) == NULL) {
		return IPCX_ENOMEM;
	}
	if (ipcx__strlcpy(l->host, host, sizeof l->host) != 0 ||
	    ipcx__strlcpy(l->port, port != NULL ? port : "", sizeof l->port) != 0) {
		free(l);
		return IPCX_ENAMETOOLONG;
	}
	l->hints = *hints;
	l->hints.ai_next = NULL;
	l->refs = 2;
	if (pthread_condattr_init(&ca) != 0) {
		free(l);
		return IPCX_ENOMEM;
	}
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rv = pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rv != 0) {
		free(l);
		return IPCX_ENOMEM;
	}
	pthread_mutex_init(&l->mu, NULL);
	if ((rv = pthread_attr_init(&ta)) == 0) {
		sigset_t all, old;
		/* the caller's signal handlers never run on the library's thread */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
		rv = pthread_create(&tid, &ta, lookup_main, l);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&ta);
	}
	if (rv != 0) {
		l->refs = 1;
		lookup_unref(l);
		return ipcx__err(rv);
	}
	pthread_mutex_lock(&l->mu);
	while (!l->done) {
		struct timespec ts = {.tv_sec = deadline / 1000000000,
		                      .tv_nsec = deadline % 1000000000};
		if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) == ETIMEDOUT) {
			break;
		}
	}
	if (l->done) {
		rv = gai_err(l->rv);
		*res = l->res; /* ours now */
		l->res = NULL;
	} else {
		rv = IPCX_ETIMEDOUT; /* the thread finishes the lookup and frees it all */
	}
	pthread_mutex_unlock(&l->mu);
	lookup_unref(l);
	return rv;
}

int
ipcx__inet_resolve(struct addrinfo **res, const ipcx__url *u, int socktype, bool passive,
                   int64_t deadline)
{
	struct addrinfo hints;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : AI_ADDRCONFIG);
	return ipcx__getaddrinfo(u->host[0] != '\0' ? u->host : NULL, u->port, &hints, res,
	                         deadline);
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
