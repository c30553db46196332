/*
 * resolve.c - name lookups are bounded by the caller's deadline: against a DNS server that
 * never answers (the test's own, in a private mount namespace with its own resolv.conf).
 */
#include "testutil.h"

#include "rpc/rpcbind.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#define SILENT_DNS "127.0.0.9" /* on loopback; nothing else listens on its port 53 */
#define LOOKUP_MS  300

static int dns_fd = -1; /* the silent server's socket: queries pile up in it */
static char conf[256];

/* Root: a private mount namespace whose /etc/resolv.conf names a server that receives
 * queries and never answers, with a resolver timeout far beyond the test's deadlines. false
 * (the tests skip) elsewhere. */
static bool
silent_dns(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
	FILE *f;

	if (getuid() != 0 || unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		return false;
	}
	inet_pton(AF_INET, SILENT_DNS, &a.sin_addr);
	dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(dns_fd >= 0);
	if (bind(dns_fd, (struct sockaddr *)&a, sizeof a) != 0) {
		return false;
	}
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "nameserver %s\noptions timeout:30 attempts:1\n", SILENT_DNS);
	assert_int_equal(fclose(f), 0);
	return mount(conf, "/etc/resolv.conf", NULL, MS_BIND, NULL) == 0;
}

/* Whether the silent server got a query (so the lookup really went to DNS). */
static bool
dns_asked(void)
{
	char buf[512];

	return recv(dns_fd, buf, sizeof buf, MSG_DONTWAIT) > 0;
}

/* The test's body runs in a child (its namespace stays its own); its exit status is the
 * test's result. */
static void
in_child(void (*body)(void))
{
	pid_t pid;
	int rv;

	snprintf(conf, sizeof conf, "%s/resolv.conf", tu_dir());
	if ((pid = tu_fork()) == 0) {
		if (!silent_dns()) {
			tu_child_exit(77);
		}
		body();
		tu_child_exit(0);
	}
	rv = tu_wait(pid, TU_WAIT_MS);
	unlink(conf);
	switch (rv) {
	case 0:
		break;
	case 77:
		skip();
		break;
	default:
		fail_msg("the child failed (see above)");
	}
}

static void
lookups(void)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;

	/* a name: the lookup is still waiting for DNS when the deadline passes */
	assert_rv(ipcx__getaddrinfo("ipcx-test.invalid", "80", &hints, &res,
	                            ipcx__deadline(LOOKUP_MS)),
	          IPCX_ETIMEDOUT);
	assert_null(res);
	assert_true(dns_asked());
	/* an address needs no lookup: no wait, even with the deadline gone */
	assert_rv(ipcx__getaddrinfo("127.0.0.1", "80", &hints, &res, ipcx__now_ns()), 0);
	assert_non_null(res);
	freeaddrinfo(res);
	res = NULL;
	/* a name /etc/hosts has is found before the deadline */
	assert_rv(ipcx__getaddrinfo("localhost", "80", &hints, &res, ipcx__deadline(TU_WAIT_MS)),
	          0);
	assert_non_null(res);
	freeaddrinfo(res);
}

static void
test_a_lookup_ends_at_the_deadline(void **state)
{
	(void)state;
	in_child(lookups);
}

static void
rpcbind_lookup(void)
{
	char hp[128];

	assert_rv(
	        ipcx__rpcb_getaddr("ipcx-test.invalid", 100000, 4, "tcp", hp, sizeof hp, LOOKUP_MS),
	        IPCX_ETIMEDOUT);
	assert_true(dns_asked());
}

static void
test_rpcbind_of_a_host_name_ends_at_the_timeout(void **state)
{
	(void)state;
	in_child(rpcbind_lookup);
}

static void
dials(void)
{
	ipcx_chan *c = NULL;

	assert_rv(ipcx_dial(&c, "tcp://ipcx-test.invalid:80", NULL, LOOKUP_MS), IPCX_ETIMEDOUT);
	assert_true(dns_asked());
	assert_rv(ipcx_dial(&c, "udp://ipcx-test.invalid:80", NULL, LOOKUP_MS), IPCX_ETIMEDOUT);
	assert_true(dns_asked());
	assert_null(c);
}

static void
test_tcp_and_udp_dials_of_a_host_name_end_at_the_timeout(void **state)
{
	(void)state;
	in_child(dials);
}

int
main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)
	const struct CMUnitTest tests[] = {
	        T(test_a_lookup_ends_at_the_deadline),
	        T(test_rpcbind_of_a_host_name_ends_at_the_timeout),
	        T(test_tcp_and_udp_dials_of_a_host_name_end_at_the_timeout),
	};

	return tu_run("resolve", tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
