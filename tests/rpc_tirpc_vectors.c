/*
 * rpc_tirpc_vectors.c - the libtirpc side of the RPC interop tests: reference XDR and RPC
 * header bytes made by the real libtirpc, and a libtirpc client or server on a given fd.
 *
 *   rpc_tirpc_vectors                    print "name hex" lines (and "name.field value")
 *   rpc_tirpc_vectors client FD SENDSZ   call the ipcx test server on FD (a connected stream)
 *   rpc_tirpc_vectors server FD SENDSZ   serve the ipcx test client on FD until it closes
 *
 * Only libtirpc's API is used here, never ipcx: what it prints is what libtirpc does.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <rpc/rpc.h>

/* The test program, shared with tests/rpc_rm.c. */
#define T_PROG 0x20000099u
#define T_VERS 1u
/* procedures: 0 NULL; 1 echo an opaque<> reversed; 2 report the AUTH_SYS credential */
#define T_PROC_REVERSE 1u
#define T_PROC_WHOAMI  2u

static unsigned char buf[8192];

static void
hex(const char *name, const void *p, unsigned n)
{
	const unsigned char *b = p;

	printf("%s ", name);
	for (unsigned i = 0; i < n; i++) {
		printf("%02x", b[i]);
	}
	if (n == 0) {
		printf("-");
	}
	printf("\n");
}

/* Run fn over obj into a fresh memory stream and print the bytes. */
static void
vec(const char *name, xdrproc_t fn, void *obj)
{
	XDR x;

	/* bytes libtirpc leaves unwritten (padding it skips) show up as a5 */
	memset(buf, 0xa5, sizeof buf);
	xdrmem_create(&x, (char *)buf, sizeof buf, XDR_ENCODE);
	if (!fn(&x, obj, 0)) {
		fprintf(stderr, "libtirpc could not encode %s\n", name);
		exit(2);
	}
	hex(name, buf, xdr_getpos(&x));
	xdr_destroy(&x);
}

struct bytes {
	char *p;
	u_int n;
};

/* libtirpc declares xdr_void without parameters; this one has the routine's shape */
static bool_t
xdr_nothing(XDR *x, void *p)
{
	(void)x;
	(void)p;
	return TRUE;
}

static bool_t
xdr_blob(XDR *x, struct bytes *b)
{
	return xdr_bytes(x, &b->p, &b->n, ~0u);
}

static bool_t
xdr_str100(XDR *x, char **s)
{
	return xdr_string(x, s, 100);
}

static bool_t
xdr_int_array(XDR *x, struct bytes *a)
{
	return xdr_array(x, &a->p, &a->n, 100, sizeof(int), (xdrproc_t)xdr_int);
}

static bool_t
xdr_hyper3(XDR *x, quad_t *v)
{
	return xdr_vector(x, (char *)v, 3, sizeof *v, (xdrproc_t)xdr_hyper);
}

static bool_t
xdr_int_ptr(XDR *x, int **p)
{
	return xdr_pointer(x, (char **)p, sizeof(int), (xdrproc_t)xdr_int);
}

static bool_t
xdr_opaque5(XDR *x, char *p)
{
	return xdr_opaque(x, p, 5);
}

static void
print_xdr(void)
{
	int i = -1, t = 1, *ip;
	u_int u = 0x01020304u;
	quad_t h = -2, h3[3] = {1, -1, 0x7fffffffffffffffLL};
	u_quad_t uh = 0x0102030405060708ULL;
	enum_t e = 7;
	float f = 1.5f;
	double d = -2.25;
	char op5[5] = {1, 2, 3, 4, 5};
	char *s;
	int arr[3] = {1, 2, 3};
	struct bytes b = {"abcdef", 6}, a = {(char *)arr, 3};

	vec("xdr.int", (xdrproc_t)xdr_int, &i);
	vec("xdr.uint", (xdrproc_t)xdr_u_int, &u);
	vec("xdr.hyper", (xdrproc_t)xdr_hyper, &h);
	vec("xdr.uhyper", (xdrproc_t)xdr_u_hyper, &uh);
	vec("xdr.bool", (xdrproc_t)xdr_bool, &t);
	vec("xdr.enum", (xdrproc_t)xdr_enum, &e);
	vec("xdr.float", (xdrproc_t)xdr_float, &f);
	vec("xdr.double", (xdrproc_t)xdr_double, &d);
	vec("xdr.opaque5", (xdrproc_t)xdr_opaque5, op5);
	vec("xdr.bytes", (xdrproc_t)xdr_blob, &b);
	s = "sillyprog";
	vec("xdr.string", (xdrproc_t)xdr_str100, &s);
	s = "";
	vec("xdr.string_empty", (xdrproc_t)xdr_str100, &s);
	vec("xdr.array", (xdrproc_t)xdr_int_array, &a);
	vec("xdr.vector", (xdrproc_t)xdr_hyper3, h3);
	i = 42;
	ip = &i;
	vec("xdr.pointer", (xdrproc_t)xdr_int_ptr, &ip);
	ip = NULL;
	vec("xdr.pointer_null", (xdrproc_t)xdr_int_ptr, &ip);
}

static void
print_call(const char *name, struct rpc_msg *m)
{
	vec(name, (xdrproc_t)xdr_callmsg, m);
}

static void
print_calls(void)
{
	static char big[400];
	struct rpc_msg m;
	struct authunix_parms ap;
	gid_t gids[3] = {100, 27, 4};
	AUTH *au;
	XDR x;
	char name[64];

	memset(&m, 0, sizeof m);
	m.rm_xid = 0x12345678;
	m.rm_direction = CALL;
	m.rm_call.cb_rpcvers = RPC_MSG_VERSION;
	m.rm_call.cb_prog = 100003;
	m.rm_call.cb_vers = 3;
	m.rm_call.cb_proc = 1;
	m.rm_call.cb_cred = _null_auth;
	m.rm_call.cb_verf = _null_auth;
	print_call("call.none", &m);

	/* AUTH_SYS exactly as a libtirpc client makes it; the stamp is the time, so it is
	 * printed (decoded by libtirpc itself) for the comparison */
	au = authunix_create("machine.example", 1000, 100, 3, gids);
	if (au == NULL) {
		fprintf(stderr, "authunix_create failed\n");
		exit(2);
	}
	m.rm_xid = 0xcafef00d;
	m.rm_call.cb_prog = T_PROG;
	m.rm_call.cb_vers = T_VERS;
	m.rm_call.cb_proc = T_PROC_WHOAMI;
	m.rm_call.cb_cred = au->ah_cred;
	m.rm_call.cb_verf = au->ah_verf;
	print_call("call.sys", &m);
	memset(&ap, 0, sizeof ap);
	xdrmem_create(&x, au->ah_cred.oa_base, au->ah_cred.oa_length, XDR_DECODE);
	if (!xdr_authunix_parms(&x, &ap)) {
		fprintf(stderr, "xdr_authunix_parms failed\n");
		exit(2);
	}
	printf("call.sys.stamp %lu\n", (unsigned long)ap.aup_time);
	x.x_op = XDR_FREE;
	xdr_authunix_parms(&x, &ap);
	auth_destroy(au);

	/* the largest bodies the protocol allows, in an unusual flavor */
	for (unsigned i = 0; i < sizeof big; i++) {
		big[i] = (char)(i * 7 + 1);
	}
	m.rm_xid = 1;
	m.rm_call.cb_prog = 0xffffffffu;
	m.rm_call.cb_vers = 0;
	m.rm_call.cb_proc = 0x80000000u;
	m.rm_call.cb_cred.oa_flavor = 3;
	m.rm_call.cb_cred.oa_base = big;
	m.rm_call.cb_cred.oa_length = 400;
	m.rm_call.cb_verf.oa_flavor = 6;
	m.rm_call.cb_verf.oa_base = big + 1;
	m.rm_call.cb_verf.oa_length = 397;
	print_call("call.big", &m);

	/* the padding of an odd-length body */
	m.rm_call.cb_cred.oa_length = 5;
	m.rm_call.cb_verf.oa_length = 0;
	snprintf(name, sizeof name, "call.odd");
	print_call(name, &m);
}

static void
print_replies(void)
{
	static char vbody[3] = {9, 8, 7};
	struct rpc_msg m;
	int result = 42;

	memset(&m, 0, sizeof m);
	m.rm_xid = 0x0badcafe;
	m.rm_direction = REPLY;
	m.rm_reply.rp_stat = MSG_ACCEPTED;
	m.acpted_rply.ar_verf = _null_auth;
	m.acpted_rply.ar_stat = SUCCESS;
	m.acpted_rply.ar_results.where = (caddr_t)&result;
	m.acpted_rply.ar_results.proc = (xdrproc_t)xdr_int;
	vec("reply.success", (xdrproc_t)xdr_replymsg, &m);

	/* a verifier with a body and padding */
	m.acpted_rply.ar_verf.oa_flavor = 2;
	m.acpted_rply.ar_verf.oa_base = vbody;
	m.acpted_rply.ar_verf.oa_length = 3;
	vec("reply.success_verf", (xdrproc_t)xdr_replymsg, &m);
	m.acpted_rply.ar_verf = _null_auth;

	m.acpted_rply.ar_stat = PROG_UNAVAIL;
	vec("reply.prog_unavail", (xdrproc_t)xdr_replymsg, &m);
	m.acpted_rply.ar_stat = PROG_MISMATCH;
	m.acpted_rply.ar_vers.low = 2;
	m.acpted_rply.ar_vers.high = 4;
	vec("reply.prog_mismatch", (xdrproc_t)xdr_replymsg, &m);
	m.acpted_rply.ar_stat = PROC_UNAVAIL;
	vec("reply.proc_unavail", (xdrproc_t)xdr_replymsg, &m);
	m.acpted_rply.ar_stat = GARBAGE_ARGS;
	vec("reply.garbage_args", (xdrproc_t)xdr_replymsg, &m);
	m.acpted_rply.ar_stat = SYSTEM_ERR;
	vec("reply.system_err", (xdrproc_t)xdr_replymsg, &m);

	m.rm_reply.rp_stat = MSG_DENIED;
	m.rjcted_rply.rj_stat = RPC_MISMATCH;
	m.rjcted_rply.rj_vers.low = 2;
	m.rjcted_rply.rj_vers.high = 2;
	vec("reply.rpc_mismatch", (xdrproc_t)xdr_replymsg, &m);
	m.rjcted_rply.rj_stat = AUTH_ERROR;
	m.rjcted_rply.rj_why = AUTH_BADCRED;
	vec("reply.auth_badcred", (xdrproc_t)xdr_replymsg, &m);
	m.rjcted_rply.rj_why = AUTH_TOOWEAK;
	vec("reply.auth_tooweak", (xdrproc_t)xdr_replymsg, &m);
}

/* ---- a libtirpc client on FD --------------------------------------------------------- */

static int
run_client(int fd, unsigned sendsz)
{
	static const size_t sizes[] = {0, 1, 3, 4, 100, 1000, 5000, 70000, 300000};
	struct timeval tmo = {60, 0};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct netbuf nb = {sizeof sun, sizeof sun, &sun};
	gid_t gids[2] = {5, 6};
	CLIENT *cl;
	int rc = 0;

	cl = clnt_vc_create(fd, &nb, T_PROG, T_VERS, sendsz, sendsz);
	if (cl == NULL) {
		clnt_pcreateerror("clnt_vc_create");
		return 1;
	}
	cl->cl_auth = authunix_create("tirpc-client", 1234, 5678, 2, gids);
	if (clnt_call(cl, NULLPROC, (xdrproc_t)xdr_nothing, NULL, (xdrproc_t)xdr_nothing, NULL,
	              tmo) != RPC_SUCCESS) {
		clnt_perror(cl, "NULL call");
		rc = 1;
	}
	for (size_t k = 0; rc == 0 && k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t n = sizes[k];
		struct bytes arg = {malloc(n + 1), (u_int)n}, res = {NULL, 0};

		for (size_t i = 0; i < n; i++) {
			arg.p[i] = (char)(i * 31 + k);
		}
		if (clnt_call(cl, T_PROC_REVERSE, (xdrproc_t)xdr_blob, (caddr_t)&arg,
		              (xdrproc_t)xdr_blob, (caddr_t)&res, tmo) != RPC_SUCCESS) {
			clnt_perror(cl, "reverse call");
			rc = 1;
		} else if (res.n != n) {
			fprintf(stderr, "reverse of %zu bytes came back with %u\n", n, res.n);
			rc = 1;
		} else {
			for (size_t i = 0; i < n; i++) {
				if (res.p[i] != arg.p[n - 1 - i]) {
					fprintf(stderr, "reverse of %zu bytes: byte %zu differs\n",
					        n, i);
					rc = 1;
					break;
				}
			}
		}
		free(arg.p);
		clnt_freeres(cl, (xdrproc_t)xdr_blob, (caddr_t)&res);
	}
	auth_destroy(cl->cl_auth);
	clnt_destroy(cl); /* the fd was given, so it stays open: the caller closes it */
	return rc;
}

/* ---- a libtirpc server on FD --------------------------------------------------------- */

static void
dispatch(struct svc_req *rq, SVCXPRT *xp)
{
	struct bytes arg = {NULL, 0}, res;
	char who[400];
	char *w = who;

	switch (rq->rq_proc) {
	case NULLPROC:
		svc_sendreply(xp, (xdrproc_t)xdr_nothing, NULL);
		return;
	case T_PROC_REVERSE:
		if (!svc_getargs(xp, (xdrproc_t)xdr_blob, (caddr_t)&arg)) {
			svcerr_decode(xp);
			return;
		}
		res.n = arg.n;
		res.p = malloc(arg.n + 1);
		for (u_int i = 0; i < arg.n; i++) {
			res.p[i] = arg.p[arg.n - 1 - i];
		}
		svc_sendreply(xp, (xdrproc_t)xdr_blob, (caddr_t)&res);
		free(res.p);
		svc_freeargs(xp, (xdrproc_t)xdr_blob, (caddr_t)&arg);
		return;
	case T_PROC_WHOAMI:
		/* what libtirpc understood of the caller's AUTH_SYS credential, as text */
		if (rq->rq_cred.oa_flavor != AUTH_SYS) {
			svcerr_weakauth(xp);
			return;
		}
		{
			struct authunix_parms *ap = (struct authunix_parms *)rq->rq_clntcred;
			int o = snprintf(who, sizeof who, "%lu %s %u %u %u",
			                 (unsigned long)ap->aup_time, ap->aup_machname,
			                 (unsigned)ap->aup_uid, (unsigned)ap->aup_gid, ap->aup_len);

			for (u_int i = 0; i < ap->aup_len && o < (int)sizeof who - 16; i++) {
				o += snprintf(who + o, sizeof who - (size_t)o, " %u",
				              (unsigned)ap->aup_gids[i]);
			}
		}
		svc_sendreply(xp, (xdrproc_t)xdr_wrapstring, (caddr_t)&w);
		return;
	default:
		svcerr_noproc(xp);
		return;
	}
}

static int
run_server(int fd, unsigned sendsz)
{
	SVCXPRT *xp = svc_fd_create(fd, sendsz, sendsz);

	if (xp == NULL) {
		fprintf(stderr, "svc_fd_create failed\n");
		return 1;
	}
	/* protocol 0: do not talk to rpcbind */
	if (!svc_register(xp, T_PROG, T_VERS, dispatch, 0)) {
		fprintf(stderr, "svc_register failed\n");
		return 1;
	}
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};

		if (poll(&p, 1, 60000) <= 0) {
			fprintf(stderr, "server: no call within 60 s\n");
			return 1;
		}
		svc_getreq_common(fd);
		/* libtirpc closes the fd when the peer has gone (or broke the framing) */
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			return 0;
		}
	}
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "client") == 0) {
		return run_client(atoi(argv[2]), (unsigned)atoi(argv[3]));
	}
	if (argc == 4 && strcmp(argv[1], "server") == 0) {
		return run_server(atoi(argv[2]), (unsigned)atoi(argv[3]));
	}
	if (argc != 1) {
		fprintf(stderr, "usage: %s [client|server FD SENDSZ]\n", argv[0]);
		return 2;
	}
	print_xdr();
	print_calls();
	print_replies();
	return fflush(stdout) == 0 ? 0 : 1;
}
