/*
 * rpc.c - the ONC RPC server and client: the calculator of examples/rpc_calc on every scheme,
 * each error reply field by field, AUTH_SYS and peer credentials, udp retransmission against
 * the reply cache, 32 concurrent client processes, hostile peers, stop from a signal handler.
 *
 * usage: rpc SCHEME [GLOB]   the per-scheme group (fifo unix unix_abstract tcp udp mq sysvmq
 *                            file shm)
 *        rpc misc [GLOB]     the scheme-independent tests
 * IPCX_RPC_CALLS sets the calls per client of the concurrency test (default 10000, 1000 in
 * sanitizer builds, where every call costs ten times as much).
 */
#include "testutil.h"

#include "rpc/rpc_int.h"

#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

/* ---- the calculator (examples/rpc_calc/calc.x) ------------------------------------------ */

#define CALC_PROG 0x20000099u
#define CALC_VERS 1u
#define CALC_ADD  1u
#define CALC_SUB  2u
#define CALC_MUL  3u
#define CALC_DIV  4u

enum calc_status { CALC_OK = 0, CALC_DIV_BY_ZERO = 1 };

typedef struct operands {
	int32_t a, b;
} operands;

typedef struct div_result {
	int32_t status;
	int32_t quotient;
} div_result;

static int
xdr_operands(ipcx_xdr *x, void *p)
{
	operands *o = p;
	ipcx_xdr_int(x, &o->a);
	return ipcx_xdr_int(x, &o->b);
}

/* Only a: an argument cut short, for GARBAGE_ARGS. */
static int
xdr_operands_short(ipcx_xdr *x, void *p)
{
	operands *o = p;
	return ipcx_xdr_int(x, &o->a);
}

static int
xdr_div_result(ipcx_xdr *x, void *p)
{
	div_result *d = p;

	if (ipcx_xdr_enum(x, &d->status) != 0) {
		return x->err;
	}
	switch (d->status) {
	case CALC_OK:
		return ipcx_xdr_int(x, &d->quotient);
	case CALC_DIV_BY_ZERO:
		return 0;
	default:
		return ipcx__xdr_fail(x, IPCX_EBADMSG);
	}
}

static int
xdr_int_fn(ipcx_xdr *x, void *p)
{
	return ipcx_xdr_int(x, p);
}

static int
calc_handler(ipcx_rpc_req *req, void *arg)
{
	operands o;
	int32_t r;
	div_result d = {CALC_OK, 0};

	(void)arg;
	if (xdr_operands(req->args, &o) != 0) {
		return IPCX_RPC_GARBAGE_ARGS;
	}
	switch (req->proc) {
	case CALC_ADD:
		r = (int32_t)((uint32_t)o.a + (uint32_t)o.b);
		break;
	case CALC_SUB:
		r = (int32_t)((uint32_t)o.a - (uint32_t)o.b);
		break;
	case CALC_MUL:
		r = (int32_t)((uint32_t)o.a * (uint32_t)o.b);
		break;
	default:
		if (o.b == 0) {
			d.status = CALC_DIV_BY_ZERO;
		} else {
			d.quotient = o.b == -1 ? (int32_t)(0u - (uint32_t)o.a) : o.a / o.b;
		}
		return xdr_div_result(req->res, &d) == 0 ? IPCX_RPC_SUCCESS : IPCX_RPC_SYSTEM_ERR;
	}
	return ipcx_xdr_int(req->res, &r) == 0 ? IPCX_RPC_SUCCESS : IPCX_RPC_SYSTEM_ERR;
}

/* ---- a test program: versions 1 and 3 ----------------------------------------------------- */

#define TP_PROG   0x20000100u
#define TP_COUNT  1u /* -> int: how many times COUNT ran */
#define TP_SYSERR 2u /* -> SYSTEM_ERR */
#define TP_WHOAMI 3u /* -> whoami */
#define TP_BIG    4u /* int n -> opaque<> of n bytes (SYSTEM_ERR over max_msg) */
#define TP_MEET   5u /* int ms -> 1 if tp_party MEETs ran at the same time within ms, else 0 */

static atomic_int tp_count;
static atomic_int tp_meet, tp_met, tp_party = 2;

typedef struct whoami {
	int32_t flavor;
	uint32_t stamp, uid, gid, ngids;
	uint32_t gids[16];
	char machine[256];
	int32_t peer_known, peer_pid;
	uint32_t peer_uid;
} whoami;

static int
xdr_uint_fn(ipcx_xdr *x, void *p)
{
	return ipcx_xdr_uint(x, p);
}

static int
xdr_whoami(ipcx_xdr *x, void *p)
{
	whoami *w = p;
	char *m = w->machine;

	ipcx_xdr_int(x, &w->flavor);
	ipcx_xdr_uint(x, &w->stamp);
	ipcx_xdr_uint(x, &w->uid);
	ipcx_xdr_uint(x, &w->gid);
	ipcx_xdr_uint(x, &w->ngids);
	if (w->ngids > 16) {
		return IPCX_EBADMSG;
	}
	ipcx_xdr_vector(x, w->gids, w->ngids, sizeof w->gids[0], xdr_uint_fn);
	ipcx_xdr_string(x, &m, 255);
	ipcx_xdr_int(x, &w->peer_known);
	ipcx_xdr_int(x, &w->peer_pid);
	return ipcx_xdr_uint(x, &w->peer_uid);
}

static int
tp_handler(ipcx_rpc_req *req, void *arg)
{
	whoami w;
	int32_t n;
	static unsigned char big[1 << 16];
	void *bp = big;
	uint32_t bn;

	(void)arg;
	switch (req->proc) {
	case TP_COUNT:
		n = atomic_fetch_add(&tp_count, 1) + 1;
		return ipcx_xdr_int(req->res, &n) == 0 ? IPCX_RPC_SUCCESS : IPCX_RPC_SYSTEM_ERR;
	case TP_SYSERR:
		return IPCX_RPC_SYSTEM_ERR;
	case TP_MEET:
		if (ipcx_xdr_int(req->args, &n) != 0) {
			return IPCX_RPC_GARBAGE_ARGS;
		}
		if (atomic_fetch_add(&tp_meet, 1) + 1 >= atomic_load(&tp_party)) {
			atomic_store(&tp_met, 1); /* that many handlers inside at once */
		}
		{
			/* the wait is a bound only: two handlers at once end it at once */
			struct pollfd none = {.fd = -1};
			for (int32_t i = 0; i < n && !atomic_load(&tp_met); i++) {
				poll(&none, 1, 1);
			}
		}
		n = atomic_load(&tp_met);
		atomic_fetch_sub(&tp_meet, 1);
		return ipcx_xdr_int(req->res, &n) == 0 ? IPCX_RPC_SUCCESS : IPCX_RPC_SYSTEM_ERR;
	case TP_WHOAMI:
		memset(&w, 0, sizeof w);
		w.flavor = (int32_t)req->flavor;
		if (req->sys != NULL) {
			w.stamp = req->sys->stamp;
			w.uid = req->sys->uid;
			w.gid = req->sys->gid;
			w.ngids = req->sys->ngids;
			memcpy(w.gids, req->sys->gids, sizeof w.gids);
			snprintf(w.machine, sizeof w.machine, "%s", req->sys->machine);
		}
		w.peer_known = req->peer_known;
		w.peer_pid = req->peer_known ? (int32_t)req->peer_pid : 0;
		w.peer_uid = req->peer_known ? req->peer_uid : 0;
		return xdr_whoami(req->res, &w) == 0 ? IPCX_RPC_SUCCESS : IPCX_RPC_SYSTEM_ERR;
	default:
		if (ipcx_xdr_int(req->args, &n) != 0 || n < 0 || n > (int32_t)sizeof big) {
			return IPCX_RPC_GARBAGE_ARGS;
		}
		bn = (uint32_t)n;
		ipcx_xdr_bytes(req->res, &bp, &bn, 0);
		return IPCX_RPC_SUCCESS; /* the server turns an encode that did not fit into
		                            SYSTEM_ERR */
	}
}

/* ---- schemes ------------------------------------------------------------------------------ */

typedef struct scheme {
	const char *name;
	void (*url)(char *buf, size_t cap);
	bool creds; /* the handler sees the kernel's peer credentials */
} scheme;

static void
url_abstract(char *buf, size_t cap)
{
	snprintf(buf, cap, "unix:@ipcx-rpc-%d-%u", (int)getpid(), tu_next());
}

static void
url_mq(char *buf, size_t cap)
{
	snprintf(buf, cap, "mq:///rpc-%d-%u", (int)getpid(), tu_next());
}

static void
url_shm(char *buf, size_t cap)
{
	snprintf(buf, cap, "shm://rpc-%d-%u", (int)getpid(), tu_next());
}

static const scheme schemes[] = {
        {"fifo", tu_url_fifo, false},
        {"unix", tu_url_unix, true},
        {"unix_abstract", url_abstract, true},
        {"tcp", tu_url_tcp, false},
        {"udp", tu_url_udp, false},
        {"mq", url_mq, false},
        {"sysvmq", tu_url_sysvmq, false},
        {"file", tu_url_file, false},
        {"shm", url_shm, true},
};

static const scheme *S;

/* ---- the server under test ---------------------------------------------------------------- */

static int
srv_register_all(ipcx_rpc_server *s)
{
	for (uint32_t p = CALC_ADD; p <= CALC_DIV; p++) {
		TRY_RV(ipcx_rpc_register(s, CALC_PROG, CALC_VERS, p, calc_handler, NULL), 0);
	}
	for (uint32_t v = 1; v <= 3; v += 2) {
		for (uint32_t p = TP_COUNT; p <= TP_MEET; p++) {
			TRY_RV(ipcx_rpc_register(s, TP_PROG, v, p, tp_handler, NULL), 0);
		}
	}
	return 0;
}

/* A server on a fresh URL of scheme sc, not running yet; *url is where to dial. Fork
 * clients before starting it: a child forked while the server's threads run may inherit a
 * lock one of them held (the sanitizers' allocators have no fork handlers). */
static ipcx_rpc_server *
srv_new(const scheme *sc, const ipcx_rpc_opts *opts, char *url, size_t cap)
{
	ipcx_rpc_server *s;
	char lurl[1024];

	sc->url(lurl, sizeof lurl);
	assert_rv(ipcx_rpc_server_new(&s, lurl, opts), 0);
	assert_int_equal(srv_register_all(s), 0);
	assert_rv(ipcx_rpc_server_url(s, url, cap), 0);
	return s;
}

/* The same, running on its own thread. */
static ipcx_rpc_server *
srv_up(const scheme *sc, const ipcx_rpc_opts *opts, char *url, size_t cap)
{
	ipcx_rpc_server *s = srv_new(sc, opts, url, cap);

	assert_rv(ipcx_rpc_server_start(s), 0);
	return s;
}

static const scheme *
scheme_named(const char *name)
{
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		if (strcmp(schemes[i].name, name) == 0) {
			return &schemes[i];
		}
	}
	return NULL;
}

/* ---- raw exchanges: hand-made calls, replies decoded field by field -------------------------- */

typedef struct raw_conn {
	ipcx_chan *c;
	bool udp, tcp;
	ipcx__rm_dec dec;
	unsigned char chunk[65536];
	size_t off, have;
} raw_conn;

static int
raw_open(raw_conn *r, const char *url)
{
	ipcx_opts o;

	memset(r, 0, sizeof *r);
	r->udp = strncmp(url, "udp:", 4) == 0;
	r->tcp = strncmp(url, "tcp:", 4) == 0;
	ipcx_opts_init(&o);
	o.raw = r->tcp;
	ipcx__rm_dec_init(&r->dec, 0, 0);
	TRY_RV(ipcx_dial(&r->c, url, &o, TU_WAIT_MS), 0);
	return 0;
}

static void
raw_close(raw_conn *r)
{
	ipcx_close(r->c);
	ipcx__rm_dec_fini(&r->dec);
}

/* Send bytes as they are (the caller made the marks, or udp). */
static int
raw_send_bytes(raw_conn *r, const void *b, size_t n)
{
	TRY_RV(ipcx_send(r->c, b, n, TU_WAIT_MS), 0);
	return 0;
}

/* Send msg[0, n) as one record (udp: one datagram). */
static int
raw_send(raw_conn *r, const void *msg, size_t n)
{
	unsigned char buf[70000];

	if (r->udp) {
		return raw_send_bytes(r, msg, n);
	}
	TRY(n + 4 <= sizeof buf, "too big");
	ipcx__rm_mark(buf, (uint32_t)n, true);
	memcpy(buf + 4, msg, n);
	return raw_send_bytes(r, buf, n + 4);
}

/* The next reply message (marks removed) into out; *rv gets the receive's status. */
static int
raw_recv(raw_conn *r, unsigned char *out, size_t cap, size_t *n, int *rv, int timeout_ms)
{
	unsigned char buf[70000], *rec;
	size_t len, used;

	if (r->udp) {
		*rv = ipcx_recv(r->c, out, cap, n, timeout_ms);
		return 0;
	}
	if (!r->tcp) {
		*rv = ipcx_recv(r->c, buf, sizeof buf, &len, timeout_ms);
		if (*rv == 0) {
			TRY_RV(ipcx__rm_unwrap(buf, len, 0, 0, &rec, &len), 0);
			TRY(len <= cap, "reply too big");
			memcpy(out, rec, len);
			*n = len;
		}
		return 0;
	}
	for (;;) {
		int f;
		if (r->have == 0) {
			*rv = ipcx_recv(r->c, r->chunk, sizeof r->chunk, &len, timeout_ms);
			if (*rv != 0) {
				return 0;
			}
			r->off = 0;
			r->have = len;
		}
		f = ipcx__rm_dec_feed(&r->dec, r->chunk + r->off, r->have, &used);
		r->off += used;
		r->have -= used;
		TRY(f >= 0, "reply stream broken: %s", ipcx_err_name(f));
		if (f == 1) {
			TRY(r->dec.rec_len <= cap, "reply too big");
			memcpy(out, r->dec.rec, r->dec.rec_len);
			*n = r->dec.rec_len;
			*rv = 0;
			return 0;
		}
	}
}

/* Encode a call: header from c (cred and verf as given), then args[0, alen). */
static size_t
make_call(unsigned char *buf, size_t cap, const ipcx__rpc_call *c, const void *args, size_t alen)
{
	ipcx_xdr x;

	ipcx_xdr_init(&x, IPCX_XDR_ENCODE, buf, cap);
	assert_rv(ipcx__rpc_call_encode(&x, c), 0);
	assert_true(x.pos + alen <= cap);
	if (alen > 0) {
		memcpy(buf + x.pos, args, alen);
	}
	return x.pos + alen;
}

static ipcx__rpc_call
call_of(uint32_t xid, uint32_t prog, uint32_t vers, uint32_t proc)
{
	ipcx__rpc_call c;
	memset(&c, 0, sizeof c);
	c.xid = xid;
	c.rpcvers = IPCX__RPC_VERS;
	c.prog = prog;
	c.vers = vers;
	c.proc = proc;
	return c;
}

/* One exchange on a fresh connection: the reply header decoded into r, x at the results. */
static int
exchange(const char *url, const unsigned char *call, size_t n, ipcx__rpc_reply *r,
         unsigned char *reply, size_t *rlen)
{
	raw_conn rc;
	ipcx_xdr x;
	int rv;

	TRY_OK(raw_open(&rc, url));
	TRY_OK(raw_send(&rc, call, n));
	TRY_OK(raw_recv(&rc, reply, 70000, rlen, &rv, TU_WAIT_MS));
	raw_close(&rc);
	TRY_RV(rv, 0);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, reply, *rlen);
	memset(r, 0xee, sizeof *r);
	TRY_RV(ipcx__rpc_reply_decode(&x, r), 0);
	*rlen -= x.pos; /* what follows the header */
	return 0;
}

/* ---- per-scheme tests --------------------------------------------------------------------- */

static int
client_calc(const char *url, int n)
{
	ipcx_rpc_client *c;
	operands o;
	int32_t r;
	div_result d;

	TRY_RV(ipcx_rpc_client_new(&c, url, CALC_PROG, CALC_VERS, NULL), 0);
	TRY_RV(ipcx_rpc_call(c, 0, NULL, NULL, NULL, NULL, TU_WAIT_MS), 0);
	for (int i = 0; i < n; i++) {
		o.a = (int32_t)tu_hash((uint32_t)i * 2);
		o.b = (int32_t)tu_hash((uint32_t)i * 2 + 1) >> (i % 31);
		TRY_RV(ipcx_rpc_call(c, CALC_ADD, xdr_operands, &o, xdr_int_fn, &r, TU_WAIT_MS), 0);
		TRY(r == (int32_t)((uint32_t)o.a + (uint32_t)o.b), "add %d %d = %d", o.a, o.b, r);
		TRY_RV(ipcx_rpc_call(c, CALC_SUB, xdr_operands, &o, xdr_int_fn, &r, TU_WAIT_MS), 0);
		TRY(r == (int32_t)((uint32_t)o.a - (uint32_t)o.b), "sub %d %d = %d", o.a, o.b, r);
		TRY_RV(ipcx_rpc_call(c, CALC_MUL, xdr_operands, &o, xdr_int_fn, &r, TU_WAIT_MS), 0);
		TRY(r == (int32_t)((uint32_t)o.a * (uint32_t)o.b), "mul %d %d = %d", o.a, o.b, r);
		if (o.b != 0 && o.b != -1) {
			TRY_RV(ipcx_rpc_call(c, CALC_DIV, xdr_operands, &o, xdr_div_result, &d,
			                     TU_WAIT_MS),
			       0);
			TRY(d.status == CALC_OK && d.quotient == o.a / o.b, "div %d %d", o.a, o.b);
		}
	}
	o.a = 7;
	o.b = 0;
	d.status = -1;
	TRY_RV(ipcx_rpc_call(c, CALC_DIV, xdr_operands, &o, xdr_div_result, &d, TU_WAIT_MS), 0);
	TRY(d.status == CALC_DIV_BY_ZERO, "div by zero: status %d", d.status);
	o.a = -7;
	o.b = 2;
	TRY_RV(ipcx_rpc_call(c, CALC_DIV, xdr_operands, &o, xdr_div_result, &d, TU_WAIT_MS), 0);
	TRY(d.status == CALC_OK && d.quotient == -3, "-7 / 2 = %d", d.quotient);
	ipcx_rpc_client_close(c);
	return 0;
}

/* The calculator from another process: every operation, division by zero, NULL. */
static void
test_calc(void **state)
{
	char url[1024];
	ipcx_rpc_server *s = srv_new(S, NULL, url, sizeof url);
	pid_t pid;

	(void)state;
	if ((pid = tu_fork()) == 0) {
		tu_child_exit(client_calc(url, 200) != 0);
	}
	assert_rv(ipcx_rpc_server_start(s), 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	/* and from this process, while the server runs on its threads */
	assert_int_equal(client_calc(url, 20), 0);
	ipcx_rpc_server_close(s);
}

/* What the client API makes of each refusal, on this scheme. */
static void
test_client_errors(void **state)
{
	char url[1024];
	ipcx_rpc_server *s = srv_up(S, NULL, url, sizeof url);
	ipcx_rpc_client *c;
	operands o = {1, 2};
	uint32_t lo = 0, hi = 0;
	int32_t r;

	(void)state;
	assert_rv(ipcx_rpc_client_new(&c, url, 0x20000fffu, 1, NULL), 0);
	assert_rv(ipcx_rpc_call(c, 1, NULL, NULL, NULL, NULL, TU_WAIT_MS), IPCX_ERPCPROG);
	assert_rv(ipcx_rpc_client_mismatch(c, &lo, &hi), IPCX_EINVAL);
	ipcx_rpc_client_close(c);

	assert_rv(ipcx_rpc_client_new(&c, url, TP_PROG, 2, NULL), 0);
	assert_rv(ipcx_rpc_call(c, TP_COUNT, NULL, NULL, xdr_int_fn, &r, TU_WAIT_MS),
	          IPCX_ERPCVERS);
	assert_rv(ipcx_rpc_client_mismatch(c, &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 3);
	/* NULL is answered for registered versions only */
	assert_rv(ipcx_rpc_call(c, 0, NULL, NULL, NULL, NULL, TU_WAIT_MS), IPCX_ERPCVERS);
	ipcx_rpc_client_close(c);

	assert_rv(ipcx_rpc_client_new(&c, url, TP_PROG, 3, NULL), 0);
	assert_rv(ipcx_rpc_call(c, 0, NULL, NULL, NULL, NULL, TU_WAIT_MS), 0);
	assert_rv(ipcx_rpc_call(c, 99, NULL, NULL, NULL, NULL, TU_WAIT_MS), IPCX_ERPCPROC);
	assert_rv(ipcx_rpc_call(c, TP_SYSERR, NULL, NULL, NULL, NULL, TU_WAIT_MS), IPCX_ERPCSYSTEM);
	ipcx_rpc_client_close(c);

	assert_rv(ipcx_rpc_client_new(&c, url, CALC_PROG, CALC_VERS, NULL), 0);
	assert_rv(ipcx_rpc_call(c, CALC_ADD, xdr_operands_short, &o, xdr_int_fn, &r, TU_WAIT_MS),
	          IPCX_ERPCARGS);
	/* the connection still serves */
	assert_rv(ipcx_rpc_call(c, CALC_ADD, xdr_operands, &o, xdr_int_fn, &r, TU_WAIT_MS), 0);
	assert_int_equal(r, 3);
	ipcx_rpc_client_close(c);
	ipcx_rpc_server_close(s);
}

static int
client_whoami(const char *url, bool creds, bool auth_sys)
{
	ipcx_rpc_client *c;
	ipcx_rpc_opts o;
	whoami w;

	ipcx_rpc_opts_init(&o);
	o.auth_sys = auth_sys;
	if (auth_sys && geteuid() == 0) {
		/* groups of our choosing, so that the list the handler sees can be compared */
		static const gid_t mine[] = {4, 20, 24, 27, 30};
		TRY(setgroups(5, mine) == 0, "setgroups");
	}
	TRY_RV(ipcx_rpc_client_new(&c, url, TP_PROG, 1, &o), 0);
	memset(&w, 0, sizeof w);
	TRY_RV(ipcx_rpc_call(c, TP_WHOAMI, NULL, NULL, xdr_whoami, &w, TU_WAIT_MS), 0);
	ipcx_rpc_client_close(c);
	if (auth_sys) {
		char host[256] = "";
		gethostname(host, sizeof host - 1);
		TRY(w.flavor == IPCX_RPC_AUTH_SYS, "flavor %d", w.flavor);
		TRY(w.uid == getuid() && w.gid == getgid(), "uid %u gid %u", w.uid, w.gid);
		TRY(strcmp(w.machine, host) == 0, "machine %s", w.machine);
		{
			gid_t g[64];
			int n = getgroups(64, g);
			time_t now = time(NULL);
			TRY(n >= 0 && w.ngids == (uint32_t)(n < 16 ? n : 16), "ngids %u of %d",
			    w.ngids, n);
			for (uint32_t i = 0; i < w.ngids; i++) {
				TRY(w.gids[i] == g[i], "gid %u: %u, want %u", i, w.gids[i],
				    (unsigned)g[i]);
			}
			TRY(w.stamp != 0 && (time_t)w.stamp <= now && (time_t)w.stamp > now - 60,
			    "stamp %u", w.stamp);
		}
	} else {
		TRY(w.flavor == IPCX_RPC_AUTH_NONE, "flavor %d", w.flavor);
		TRY(w.uid == 0 && w.machine[0] == '\0', "credentials without AUTH_SYS");
	}
	TRY(w.peer_known == (int32_t)creds, "peer_known %d", w.peer_known);
	if (creds) {
		TRY(w.peer_pid == (int32_t)getpid(), "peer pid %d, I am %d", w.peer_pid,
		    (int)getpid());
		TRY(w.peer_uid == getuid(), "peer uid %u", w.peer_uid);
	}
	return 0;
}

/* AUTH_NONE and AUTH_SYS reach the handler; the kernel's word on the peer where it has one. */
static void
test_auth(void **state)
{
	char url[1024];
	ipcx_rpc_server *s = srv_new(S, NULL, url, sizeof url);
	pid_t pid;

	(void)state;
	if ((pid = tu_fork()) == 0) {
		tu_child_exit(client_whoami(url, S->creds, true) != 0 ||
		              client_whoami(url, S->creds, false) != 0);
	}
	assert_rv(ipcx_rpc_server_start(s), 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_rpc_server_close(s);
}

/* Every error reply field by field, from hand-made calls on a raw channel. */
static int
errors_fields(const char *url)
{
	unsigned char call[1024], reply[70000], credbuf[IPCX__RPC_AUTH_MAX];
	ipcx__rpc_call c;
	ipcx__rpc_reply r;
	ipcx__rpc_authsys as;
	size_t n, rest;
	unsigned char one[4] = {0, 0, 0, 1};
	unsigned char args[8] = {0, 0, 0, 40, 0, 0, 0, 2};

	/* PROG_UNAVAIL */
	c = call_of(0x1001, 0x20000fffu, 1, 1);
	n = make_call(call, sizeof call, &c, NULL, 0);
	TRY_OK(exchange(url, call, n, &r, reply, &rest));
	TRY(r.xid == 0x1001 && r.stat == IPCX__RPC_MSG_ACCEPTED, "xid %x stat %u", r.xid, r.stat);
	TRY(r.verf.flavor == IPCX__RPC_AUTH_NONE && r.verf.len == 0, "verifier");
	TRY(r.accept == IPCX__RPC_PROG_UNAVAIL && rest == 0, "accept %u rest %zu", r.accept, rest);
	/* PROG_MISMATCH with the versions the server has */
	c = call_of(0x1002, TP_PROG, 7, 1);
	n = make_call(call, sizeof call, &c, NULL, 0);
	TRY_OK(exchange(url, call, n, &r, reply, &rest));
	TRY(r.xid == 0x1002 && r.stat == IPCX__RPC_MSG_ACCEPTED, "stat %u", r.stat);
	TRY(r.accept == IPCX__RPC_PROG_MISMATCH && r.low == 1 && r.high == 3 && rest == 0,
	    "accept %u low %u high %u", r.accept, r.low, r.high);
	/* PROC_UNAVAIL */
	c = call_of(0x1003, TP_PROG, 3, 77);
	n = make_call(call, sizeof call, &c, NULL, 0);
	TRY_OK(exchange(url, call, n, &r, reply, &rest));
	TRY(r.xid == 0x1003 && r.stat == IPCX__RPC_MSG_ACCEPTED &&
	            r.accept == IPCX__RPC_PROC_UNAVAIL && rest == 0,
	    "accept %u", r.accept);
	/* GARBAGE_ARGS: ADD with one of its two ints */
	c = call_of(0x1004, CALC_PROG, CALC_VERS, CALC_ADD);
	n = make_call(call, sizeof call, &c, one, sizeof one);
	TRY_OK(exchange(url, call, n, &r, reply, &rest));
	TRY(r.xid == 0x1004 && r.stat == IPCX__RPC_MSG_ACCEPTED &&
	            r.accept == IPCX__RPC_GARBAGE_ARGS && rest == 0,
	    "accept %u", r.accept);
	/* SYSTEM_ERR, from the handler and from results over max_msg */
	c = call_of(0x1005, TP_PROG, 1, TP_SYSERR);
	n = make_call(call, sizeof call, &c, NULL, 0);
	TRY_OK(exchange(url, call, n, &r, reply, &rest));
	TRY(r.xid == 0x1005 && r.accept == IPCX__RPC_SYSTEM_ERR && rest == 0, "accept %u",
	    r.accept);
	/* SUCCESS with results, NULL with none */
	c = call_of(0x1006, CALC_PROG, CALC_VERS, CALC_MUL);
	n = make_call(call, sizeof call, &c, args, sizeof args);
	TRY_OK(exchange(url, call, n, &r, reply, &rest));
	TRY(r.xid == 0x1006 && r.accept == IPCX__RPC_SUCCESS && rest == 4, "accept %u rest %zu",
	    r.accept, rest);
	TRY(ipcx__be32_get(reply + 24) == 80, "40 * 2 = %u", ipcx__be32_get(reply + 24));
	c = call_of(0x1007, CALC_PROG, CALC_VERS, 0);
	n = make_call(call, sizeof call, &c, NULL, 0);
	TRY_OK(exchange(url, call, n, &r, reply, &rest));
	TRY(r.xid == 0x1007 && r.accept == IPCX__RPC_SUCCESS && rest == 0, "NULL: %u", r.accept);
	/* RPC_MISMATCH: rpcvers 3, answered low = high = 2 */
	c = call_of(0x1008, CALC_PROG, CALC_VERS, 0);
	c.rpcvers = 3;
	n = make_call(call, sizeof call, &c, NULL, 0);
	TRY_OK(exchange(url, call, n, &r, reply, &rest));
	TRY(r.xid == 0x1008 && r.stat == IPCX__RPC_MSG_DENIED &&
	            r.reject == IPCX__RPC_RPC_MISMATCH && r.low == 2 && r.high == 2 && rest == 0,
	    "stat %u reject %u low %u high %u", r.stat, r.reject, r.low, r.high);
	/* AUTH_ERROR: a flavor the server has no handler for (AUTH_DH) */
	c = call_of(0x1009, CALC_PROG, CALC_VERS, 0);
	c.cred.flavor = IPCX__RPC_AUTH_DH;
	c.cred.len = 4;
	c.cred.body = one;
	n = make_call(call, sizeof call, &c, NULL, 0);
	TRY_OK(exchange(url, call, n, &r, reply, &rest));
	TRY(r.xid == 0x1009 && r.stat == IPCX__RPC_MSG_DENIED && r.reject == IPCX__RPC_AUTH_ERROR &&
	            r.auth == IPCX__RPC_AUTH_REJECTEDCRED && rest == 0,
	    "stat %u reject %u auth %u", r.stat, r.reject, r.auth);
	/* AUTH_ERROR: an AUTH_SYS credential whose body is not authsys_parms */
	c = call_of(0x100a, CALC_PROG, CALC_VERS, 0);
	c.cred.flavor = IPCX__RPC_AUTH_SYS;
	c.cred.len = 4;
	c.cred.body = one;
	n = make_call(call, sizeof call, &c, NULL, 0);
	TRY_OK(exchange(url, call, n, &r, reply, &rest));
	TRY(r.xid == 0x100a && r.stat == IPCX__RPC_MSG_DENIED && r.reject == IPCX__RPC_AUTH_ERROR &&
	            r.auth == IPCX__RPC_AUTH_BADCRED,
	    "stat %u reject %u auth %u", r.stat, r.reject, r.auth);
	/* and a good AUTH_SYS one is served */
	memset(&as, 0, sizeof as);
	snprintf(as.machine, sizeof as.machine, "box");
	as.uid = 1234;
	TRY_RV(ipcx__rpc_authsys_cred(&c.cred, credbuf, &as), 0);
	c.xid = 0x100b;
	n = make_call(call, sizeof call, &c, NULL, 0);
	TRY_OK(exchange(url, call, n, &r, reply, &rest));
	TRY(r.xid == 0x100b && r.stat == IPCX__RPC_MSG_ACCEPTED && r.accept == IPCX__RPC_SUCCESS,
	    "stat %u accept %u", r.stat, r.accept);
	return 0;
}

static void
test_errors_fields(void **state)
{
	char url[1024];
	ipcx_rpc_server *s = srv_up(S, NULL, url, sizeof url);

	(void)state;
	assert_int_equal(errors_fields(url), 0);
	ipcx_rpc_server_close(s);
}

/* Results over max_msg are SYSTEM_ERR, not a cut reply; up to it they arrive whole. */
static void
test_max_msg(void **state)
{
	char url[1024];
	ipcx_rpc_opts o;
	ipcx_rpc_server *s;
	ipcx_rpc_client *c;
	int32_t n = 1000;

	(void)state;
	ipcx_rpc_opts_init(&o);
	o.max_msg = 2048;
	s = srv_up(S, &o, url, sizeof url);
	assert_rv(ipcx_rpc_client_new(&c, url, TP_PROG, 1, NULL), 0);
	assert_rv(ipcx_rpc_call(c, TP_BIG, xdr_int_fn, &n, NULL, NULL, TU_WAIT_MS), 0);
	n = 4000;
	assert_rv(ipcx_rpc_call(c, TP_BIG, xdr_int_fn, &n, NULL, NULL, TU_WAIT_MS),
	          IPCX_ERPCSYSTEM);
	ipcx_rpc_client_close(c);
	ipcx_rpc_server_close(s);
}

/* ---- misc tests ----------------------------------------------------------------------------- */

/* A udp relay between a client and the server that loses the first reply and, before the
 * answer to the retransmission, forges a reply with another xid. */
typedef struct relay {
	int fd;  /* the client talks to this */
	int sfd; /* connected to the server */
	int stop[2];
	atomic_int calls, replies;
	pthread_t tid;
} relay;

static void *
relay_main(void *arg)
{
	relay *r = arg;
	unsigned char buf[65536];
	struct sockaddr_storage cli;
	socklen_t cl = 0;

	for (;;) {
		struct pollfd p[3] = {{.fd = r->fd, .events = POLLIN},
		                      {.fd = r->sfd, .events = POLLIN},
		                      {.fd = r->stop[0], .events = POLLIN}};
		ssize_t n;
		if (poll(p, 3, TU_WAIT_MS) <= 0 || p[2].revents != 0) {
			return NULL;
		}
		if (p[0].revents & POLLIN) {
			cl = sizeof cli;
			n = recvfrom(r->fd, buf, sizeof buf, 0, (struct sockaddr *)&cli, &cl);
			if (n > 0) {
				atomic_fetch_add(&r->calls, 1);
				send(r->sfd, buf, (size_t)n, 0);
			}
		}
		if (p[1].revents & POLLIN) {
			n = recv(r->sfd, buf, sizeof buf, 0);
			if (n >= 4 && atomic_fetch_add(&r->replies, 1) > 0 && cl > 0) {
				unsigned char forged[65536];
				memcpy(forged, buf, (size_t)n);
				forged[0] ^= 0x55; /* another xid: the client must not take it */
				sendto(r->fd, forged, (size_t)n, 0, (struct sockaddr *)&cli, cl);
				sendto(r->fd, buf, (size_t)n, 0, (struct sockaddr *)&cli, cl);
			}
		}
	}
}

static void
test_udp_retransmit_once(void **state)
{
	char url[1024], rurl[128];
	ipcx_rpc_server *s = srv_up(scheme_named("udp"), NULL, url, sizeof url);
	ipcx_rpc_client *c;
	ipcx_rpc_opts o;
	relay r;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof a;
	unsigned port;
	int32_t n = 0;

	(void)state;
	memset(&r, 0, sizeof r);
	assert_int_equal(sscanf(url, "udp://127.0.0.1:%u", &port), 1);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	r.sfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(r.fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(r.fd, (struct sockaddr *)&a, &al), 0);
	snprintf(rurl, sizeof rurl, "udp://127.0.0.1:%u", ntohs(a.sin_port));
	a.sin_port = htons((uint16_t)port);
	assert_int_equal(connect(r.sfd, (struct sockaddr *)&a, sizeof a), 0);
	tu_pipe(r.stop);
	assert_int_equal(pthread_create(&r.tid, NULL, relay_main, &r), 0);

	atomic_store(&tp_count, 0);
	ipcx_rpc_opts_init(&o);
	o.retry_ms = 20;
	assert_rv(ipcx_rpc_client_new(&c, rurl, TP_PROG, 1, &o), 0);
	assert_rv(ipcx_rpc_call(c, TP_COUNT, NULL, NULL, xdr_int_fn, &n, TU_WAIT_MS), 0);
	assert_int_equal(n, 1);                      /* the answer of the one execution */
	assert_int_equal(atomic_load(&tp_count), 1); /* retransmissions came from the cache */
	assert_true(atomic_load(&r.calls) >= 2);     /* it was retransmitted */
	assert_rv(ipcx_rpc_call(c, TP_COUNT, NULL, NULL, xdr_int_fn, &n, TU_WAIT_MS), 0);
	assert_int_equal(n, 2); /* a new xid is a new call */
	assert_int_equal(atomic_load(&tp_count), 2);
	ipcx_rpc_client_close(c);

	assert_int_equal(tu_put(r.stop[1], "x", 1), 0);
	pthread_join(r.tid, NULL);
	tu_close(r.stop[0]);
	tu_close(r.stop[1]);
	close(r.fd);
	close(r.sfd);
	ipcx_rpc_server_close(s);
}

/* The reply cache answers a retransmission (same sender, xid and call) with the same bytes
 * and without running it, but the same xid for another procedure is a new call. */
static void
test_udp_cache_key(void **state)
{
	char url[1024];
	ipcx_rpc_server *s = srv_up(scheme_named("udp"), NULL, url, sizeof url);
	unsigned char call[256], r1[70000], r2[70000];
	ipcx__rpc_call c = call_of(9, TP_PROG, 1, TP_COUNT);
	size_t n = make_call(call, sizeof call, &c, NULL, 0), n1, n2;
	raw_conn rc;
	int rv;

	(void)state;
	atomic_store(&tp_count, 0);
	assert_int_equal(raw_open(&rc, url), 0);
	assert_int_equal(raw_send(&rc, call, n), 0);
	assert_int_equal(raw_recv(&rc, r1, sizeof r1, &n1, &rv, TU_WAIT_MS), 0);
	assert_rv(rv, 0);
	assert_int_equal(raw_send(&rc, call, n), 0);
	assert_int_equal(raw_recv(&rc, r2, sizeof r2, &n2, &rv, TU_WAIT_MS), 0);
	assert_rv(rv, 0);
	assert_int_equal(n1, 28);
	assert_memory_equal(r1, r2, 28);
	assert_int_equal(atomic_load(&tp_count), 1);
	/* the same call from another socket is another client's call: it runs */
	{
		raw_conn rc2;
		assert_int_equal(raw_open(&rc2, url), 0);
		assert_int_equal(raw_send(&rc2, call, n), 0);
		assert_int_equal(raw_recv(&rc2, r2, sizeof r2, &n2, &rv, TU_WAIT_MS), 0);
		assert_rv(rv, 0);
		assert_int_equal(atomic_load(&tp_count), 2);
		raw_close(&rc2);
	}
	c = call_of(9, TP_PROG, 1, TP_SYSERR);
	n = make_call(call, sizeof call, &c, NULL, 0);
	assert_int_equal(raw_send(&rc, call, n), 0);
	assert_int_equal(raw_recv(&rc, r2, sizeof r2, &n2, &rv, TU_WAIT_MS), 0);
	assert_rv(rv, 0);
	assert_int_equal(n2, 24);
	assert_int_equal(ipcx__be32_get(r2 + 20), IPCX__RPC_SYSTEM_ERR);
	raw_close(&rc);
	ipcx_rpc_server_close(s);
}

/* A udp call to nobody times out within its bound, retransmitting meanwhile. */
static void
test_udp_timeout(void **state)
{
	ipcx_rpc_client *c;
	ipcx_rpc_opts o;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof a;
	char url[128];
	unsigned char buf[1024];
	int got = 0;

	(void)state;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	snprintf(url, sizeof url, "udp://127.0.0.1:%u", ntohs(a.sin_port));
	ipcx_rpc_opts_init(&o);
	o.retry_ms = 10;
	assert_rv(ipcx_rpc_client_new(&c, url, TP_PROG, 1, &o), 0);
	assert_rv(ipcx_rpc_call(c, TP_COUNT, NULL, NULL, NULL, NULL, 200), IPCX_ETIMEDOUT);
	/* the same xid each time */
	{
		uint32_t first = 0, xid, type;
		ssize_t n;
		while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
			assert_rv(ipcx__rpc_peek(buf, (size_t)n, &xid, &type), 0);
			if (got++ == 0) {
				first = xid;
			}
			assert_int_equal(xid, first);
		}
	}
	assert_true(got >= 2);
	ipcx_rpc_client_close(c);
	close(fd);
}

static int
calls_worker(const char *url, int k, int calls)
{
	ipcx_rpc_client *c;
	operands o;
	int32_t r;

	TRY_RV(ipcx_rpc_client_new(&c, url, CALC_PROG, CALC_VERS, NULL), 0);
	for (int i = 0; i < calls; i++) {
		o.a = i;
		o.b = k * 1000003;
		TRY_RV(ipcx_rpc_call(c, CALC_ADD, xdr_operands, &o, xdr_int_fn, &r, TU_WAIT_MS), 0);
		TRY(r == i + k * 1000003, "client %d call %d: %d", k, i, r);
	}
	ipcx_rpc_client_close(c);
	return 0;
}

static int
calls_per_client(void)
{
	const char *e = getenv("IPCX_RPC_CALLS");
#if defined(__SANITIZE_ADDRESS__)
	int def = 1000;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	int def = 1000;
#else
	int def = 10000;
#endif
#else
	int def = 10000;
#endif
	return e != NULL && atoi(e) > 0 ? atoi(e) : def;
}

static void
concurrent(const scheme *sc, int divisor)
{
	char url[1024];
	ipcx_rpc_server *s = srv_new(sc, NULL, url, sizeof url);
	pid_t pids[32];
	int calls = calls_per_client() / divisor;

	for (int k = 0; k < 32; k++) {
		if ((pids[k] = tu_fork()) == 0) {
			tu_child_exit(calls_worker(url, k, calls) != 0);
		}
	}
	assert_rv(ipcx_rpc_server_start(s), 0);
	for (int k = 0; k < 32; k++) {
		assert_int_equal(tu_wait(pids[k], TU_WAIT_MS * 3), 0);
	}
	ipcx_rpc_server_close(s);
}

/* 32 client processes x 10 000 calls, every answer checked. */
static void
test_concurrent_unix(void **state)
{
	(void)state;
	concurrent(scheme_named("unix"), 1);
}

/* The same over shm://, a quarter of the calls: 32 processes that spin while they wait
 * share 2 CPUs on the test machines, and the unix run already pins the count. */
static void
test_concurrent_shm(void **state)
{
	(void)state;
	concurrent(scheme_named("shm"), 4);
}

/* Wait for the server to close a hostile connection. */
static int
expect_closed(raw_conn *r)
{
	unsigned char buf[1024];
	size_t n;
	int rv;

	TRY_OK(raw_recv(r, buf, sizeof buf, &n, &rv, TU_WAIT_MS));
	TRY(rv == IPCX_ECLOSED || rv == IPCX_EPIPE || rv == IPCX_ECONNRESET || rv == IPCX_EPROTO,
	    "got %s, want the connection closed", ipcx_err_name(rv));
	return 0;
}

static int
good_call(ipcx_rpc_client *c, int a)
{
	operands o = {a, 1};
	int32_t r;

	TRY_RV(ipcx_rpc_call(c, CALC_ADD, xdr_operands, &o, xdr_int_fn, &r, TU_WAIT_MS), 0);
	TRY(r == a + 1, "%d", r);
	return 0;
}

/* Malformed records close that connection (or get GARBAGE_ARGS); everybody else is served. */
static int
malformed(const char *url)
{
	ipcx_rpc_client *good;
	raw_conn r;
	unsigned char call[256], reply[70000];
	unsigned char bad_frag[] = {0x80, 0, 0, 0x10, 1, 2, 3};      /* 16 announced, 3 sent */
	unsigned char huge[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}; /* 2 GiB fragment */
	unsigned char one[4] = {0, 0, 0, 1};
	ipcx__rpc_call c;
	ipcx__rpc_reply rep;
	ipcx_xdr x;
	size_t n;
	int rv;
	bool tcp = strncmp(url, "tcp:", 4) == 0;

	TRY_RV(ipcx_rpc_client_new(&good, url, CALC_PROG, CALC_VERS, NULL), 0);
	TRY_OK(good_call(good, 1));

	/* a message that is not one whole record (tcp: a fragment over max_msg) */
	TRY_OK(raw_open(&r, url));
	if (tcp) {
		TRY_OK(raw_send_bytes(&r, huge, sizeof huge));
	} else {
		TRY_OK(raw_send_bytes(&r, bad_frag, sizeof bad_frag));
	}
	TRY_OK(expect_closed(&r));
	raw_close(&r);
	TRY_OK(good_call(good, 2));

	/* a record that is not a call header: a REPLY, then 5 bytes */
	TRY_OK(raw_open(&r, url));
	c = call_of(1, CALC_PROG, CALC_VERS, 0);
	n = make_call(call, sizeof call, &c, NULL, 0);
	call[7] = 1; /* msg_type REPLY */
	TRY_OK(raw_send(&r, call, n));
	TRY_OK(expect_closed(&r));
	raw_close(&r);
	TRY_OK(raw_open(&r, url));
	TRY_OK(raw_send(&r, call, 5));
	TRY_OK(expect_closed(&r));
	raw_close(&r);
	TRY_OK(good_call(good, 3));

	/* a good header with short arguments: GARBAGE_ARGS, and the connection goes on */
	TRY_OK(raw_open(&r, url));
	c = call_of(77, CALC_PROG, CALC_VERS, CALC_ADD);
	n = make_call(call, sizeof call, &c, one, sizeof one);
	TRY_OK(raw_send(&r, call, n));
	TRY_OK(raw_recv(&r, reply, sizeof reply, &n, &rv, TU_WAIT_MS));
	TRY_RV(rv, 0);
	ipcx_xdr_init(&x, IPCX_XDR_DECODE, reply, n);
	TRY_RV(ipcx__rpc_reply_decode(&x, &rep), 0);
	TRY(rep.xid == 77 && rep.accept == IPCX__RPC_GARBAGE_ARGS, "accept %u", rep.accept);
	c.xid = 78;
	n = make_call(call, sizeof call, &c, (unsigned char[8]){0, 0, 0, 5, 0, 0, 0, 6}, 8);
	TRY_OK(raw_send(&r, call, n));
	TRY_OK(raw_recv(&r, reply, sizeof reply, &n, &rv, TU_WAIT_MS));
	TRY_RV(rv, 0);
	TRY(n == 28 && ipcx__be32_get(reply) == 78 && ipcx__be32_get(reply + 24) == 11,
	    "reply of %zu bytes", n);
	raw_close(&r);
	TRY_OK(good_call(good, 4));
	ipcx_rpc_client_close(good);
	return 0;
}

static void
test_malformed_unix(void **state)
{
	char url[1024];
	ipcx_rpc_server *s = srv_up(scheme_named("unix"), NULL, url, sizeof url);

	(void)state;
	assert_int_equal(malformed(url), 0);
	ipcx_rpc_server_close(s);
}

static void
test_malformed_tcp(void **state)
{
	char url[1024];
	ipcx_rpc_server *s = srv_up(scheme_named("tcp"), NULL, url, sizeof url);

	(void)state;
	assert_int_equal(malformed(url), 0);
	ipcx_rpc_server_close(s);
}

/* udp: junk datagrams are dropped without a reply; the next call is answered. */
static void
test_malformed_udp(void **state)
{
	char url[1024];
	ipcx_rpc_server *s = srv_up(scheme_named("udp"), NULL, url, sizeof url);
	ipcx_rpc_client *good;
	raw_conn r;
	unsigned char buf[1024];
	size_t n;
	int rv;

	(void)state;
	assert_int_equal(raw_open(&r, url), 0);
	assert_int_equal(raw_send_bytes(&r, "\0\0\0\1\0\0\0\0\0", 9), 0); /* a cut call */
	assert_int_equal(raw_send_bytes(&r, "ab", 2), 0);
	assert_rv(ipcx_rpc_client_new(&good, url, CALC_PROG, CALC_VERS, NULL), 0);
	assert_int_equal(good_call(good, 9), 0);
	/* the server answered neither: the datagrams were sent before good's call was answered,
	 * and the socket is served in order */
	assert_int_equal(raw_recv(&r, buf, sizeof buf, &n, &rv, 0), 0);
	assert_rv(rv, IPCX_ETIMEDOUT);
	raw_close(&r);
	ipcx_rpc_client_close(good);
	ipcx_rpc_server_close(s);
}

typedef struct meet_arg {
	const char *url;
	int32_t ms;
	int32_t met;
	int rv;
} meet_arg;

static void *
meet_main(void *arg)
{
	meet_arg *m = arg;
	ipcx_rpc_client *c;

	if ((m->rv = ipcx_rpc_client_new(&c, m->url, TP_PROG, 1, NULL)) == 0) {
		m->rv = ipcx_rpc_call(c, TP_MEET, xdr_int_fn, &m->ms, xdr_int_fn, &m->met,
		                      TU_WAIT_MS);
		ipcx_rpc_client_close(c);
	}
	return NULL;
}

#define MEET_MAX 8

/* parties calls at once on as many connections (over scheme): with enough threads every
 * handler runs at the same time (they meet at once), with too few they never meet (each
 * waits its ms alone). */
static void
meet(const char *name, unsigned threads, int parties, int32_t ms, int32_t want)
{
	char url[1024];
	ipcx_rpc_opts o;
	ipcx_rpc_server *s;
	pthread_t t[MEET_MAX];
	meet_arg m[MEET_MAX];

	assert_true(parties <= MEET_MAX);
	atomic_store(&tp_met, 0);
	atomic_store(&tp_party, parties);
	ipcx_rpc_opts_init(&o);
	o.threads = threads;
	s = srv_up(scheme_named(name), &o, url, sizeof url);
	for (int i = 0; i < parties; i++) {
		m[i] = (meet_arg){url, ms, -1, -1};
		assert_int_equal(pthread_create(&t[i], NULL, meet_main, &m[i]), 0);
	}
	for (int i = 0; i < parties; i++) {
		pthread_join(t[i], NULL);
		assert_rv(m[i].rv, 0);
		assert_int_equal(m[i].met, want);
	}
	atomic_store(&tp_party, 2);
	ipcx_rpc_server_close(s);
}

/* opts.threads bounds the handlers running at once, and 0 bounds nothing: six handlers that
 * block until all six are in run together (more than the pool starts with: it grows). A
 * thread per connection (shm://) shares the same bound. */
static void
test_threads_bound(void **state)
{
	(void)state;
	meet("unix", 0, 6, TU_WAIT_MS / 2, 1);
	meet("tcp", 2, 2, TU_WAIT_MS / 2, 1);
	meet("unix", 1, 2, 300, 0);
	meet("shm", 0, 2, TU_WAIT_MS / 2, 1);
	meet("shm", 1, 2, 300, 0);
}

/* With one pool thread: a tcp client that sent half a record and stalls holds no thread
 * (its bytes wait in the connection's record decoder), so other clients are served; when
 * it sends the rest, its call is answered too. */
static void
test_pool_half_record(void **state)
{
	char url[1024];
	ipcx_rpc_opts o;
	ipcx_rpc_server *s;
	ipcx_rpc_client *good;
	raw_conn r;
	unsigned char call[256], reply[1024];
	ipcx__rpc_call c = call_of(41, CALC_PROG, CALC_VERS, CALC_ADD);
	size_t n, half;
	int rv;

	(void)state;
	ipcx_rpc_opts_init(&o);
	o.threads = 1;
	s = srv_up(scheme_named("tcp"), &o, url, sizeof url);
	n = make_call(call + 4, sizeof call - 4, &c, (unsigned char[8]){0, 0, 0, 2, 0, 0, 0, 3}, 8);
	ipcx__rm_mark(call, (uint32_t)n, true);
	half = (n + 4) / 2;
	assert_int_equal(raw_open(&r, url), 0);
	assert_int_equal(raw_send_bytes(&r, call, half), 0);
	assert_rv(ipcx_rpc_client_new(&good, url, CALC_PROG, CALC_VERS, NULL), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(good_call(good, i), 0);
	}
	assert_int_equal(raw_send_bytes(&r, call + half, n + 4 - half), 0);
	assert_int_equal(raw_recv(&r, reply, sizeof reply, &n, &rv, TU_WAIT_MS), 0);
	assert_rv(rv, 0);
	assert_true(n == 28 && ipcx__be32_get(reply) == 41 && ipcx__be32_get(reply + 24) == 5);
	assert_int_equal(good_call(good, 7), 0);
	raw_close(&r);
	ipcx_rpc_client_close(good);
	ipcx_rpc_server_close(s);
}

/* With one pool thread, more connections than threads, on the pool's schemes (mq:// left
 * out: five clients' queues pass RLIMIT_MSGQUEUE): calls made in turn on each, and several calls
 * queued on each before any answer is read (a batch served per wake-up, the rest after the
 * connection is armed again). */
static void
test_pool_many_conns(void **state)
{
	static const char *names[] = {"unix", "tcp", "fifo", "sysvmq", "file"};
	enum { NC = 5, ROUNDS = 4 };

	(void)state;
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		const scheme *sc = scheme_named(names[k]);
		char url[1024];
		ipcx_rpc_opts o;
		ipcx_rpc_server *s;
		ipcx_rpc_client *cl[NC];
		raw_conn r;
		unsigned char call[256], reply[1024];
		size_t n;
		int rv;

		ipcx_rpc_opts_init(&o);
		o.threads = 1;
		s = srv_up(sc, &o, url, sizeof url);
		for (int i = 0; i < NC; i++) {
			assert_rv(ipcx_rpc_client_new(&cl[i], url, CALC_PROG, CALC_VERS, NULL), 0);
		}
		for (int round = 0; round < ROUNDS; round++) {
			for (int i = 0; i < NC; i++) {
				assert_int_equal(good_call(cl[i], round * NC + i), 0);
			}
		}
		/* 20 calls sent at once on one connection: more than one batch */
		assert_int_equal(raw_open(&r, url), 0);
		for (uint32_t i = 0; i < 20; i++) {
			ipcx__rpc_call c = call_of(100 + i, CALC_PROG, CALC_VERS, CALC_ADD);
			n = make_call(call, sizeof call, &c,
			              (unsigned char[8]){0, 0, 0, (unsigned char)i, 0, 0, 0, 1}, 8);
			assert_int_equal(raw_send(&r, call, n), 0);
		}
		for (uint32_t i = 0; i < 20; i++) {
			assert_int_equal(raw_recv(&r, reply, sizeof reply, &n, &rv, TU_WAIT_MS), 0);
			assert_rv(rv, 0);
			assert_true(n == 28 && ipcx__be32_get(reply) == 100 + i &&
			            ipcx__be32_get(reply + 24) == i + 1);
		}
		raw_close(&r);
		for (int i = 0; i < NC; i++) {
			ipcx_rpc_client_close(cl[i]);
		}
		ipcx_rpc_server_close(s);
	}
}

static ipcx_rpc_server *sig_server;

static void
on_usr1(int sig)
{
	(void)sig;
	ipcx_rpc_server_stop(sig_server);
}

/* run() returns 0 after a stop from a signal handler; close frees everything. */
static void
test_stop_from_signal(void **state)
{
	char lurl[1024], url[1024];
	struct sigaction sa;
	pid_t pid, me = getpid();

	(void)state;
	tu_url_unix(lurl, sizeof lurl);
	assert_rv(ipcx_rpc_server_new(&sig_server, lurl, NULL), 0);
	assert_int_equal(srv_register_all(sig_server), 0);
	assert_rv(ipcx_rpc_server_url(sig_server, url, sizeof url), 0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	if ((pid = tu_fork()) == 0) {
		int st = client_calc(url, 5);
		kill(me, SIGUSR1);
		tu_child_exit(st != 0);
	}
	assert_rv(ipcx_rpc_server_run(sig_server), 0);
	assert_int_equal(tu_wait(pid, TU_WAIT_MS), 0);
	ipcx_rpc_server_close(sig_server);
}

/* The API's refusals. */
static void
test_api_errors(void **state)
{
	ipcx_rpc_server *s;
	ipcx_rpc_client *c;
	char url[1024];
	ipcx_rpc_opts o;

	(void)state;
	assert_rv(ipcx_rpc_server_new(&s, "pipe:", NULL), IPCX_ENOTSUP);
	/* rpcbind knows ports, not socket paths; and a max_msg too small for any header */
	ipcx_rpc_opts_init(&o);
	o.rpcbind = 1;
	tu_url_unix(url, sizeof url);
	assert_rv(ipcx_rpc_server_new(&s, url, &o), IPCX_ENOTSUP);
	ipcx_rpc_opts_init(&o);
	o.max_msg = 63;
	assert_rv(ipcx_rpc_server_new(&s, url, &o), IPCX_EINVAL);
	assert_rv(ipcx_rpc_client_new(&c, url, 1, 1, &o), IPCX_EINVAL);
	tu_url_unix(url, sizeof url);
	assert_rv(ipcx_rpc_server_new(&s, url, NULL), 0);
	assert_rv(ipcx_rpc_register(s, 1, 1, 1, NULL, NULL), IPCX_EINVAL);
	assert_rv(ipcx_rpc_register(s, 1, 1, 1, calc_handler, NULL), 0);
	assert_rv(ipcx_rpc_register(s, 1, 1, 1, calc_handler, NULL), IPCX_EEXIST);
	assert_rv(ipcx_rpc_server_start(s), 0);
	assert_rv(ipcx_rpc_register(s, 1, 1, 2, calc_handler, NULL), IPCX_EBUSY);
	assert_rv(ipcx_rpc_server_start(s), IPCX_EBUSY);
	ipcx_rpc_server_close(s);
	ipcx_rpc_server_close(NULL);
	assert_rv(ipcx_rpc_client_new(&c, "rpc://localhost/notanumber/1", 0, 0, NULL),
	          IPCX_EBADURL);
	assert_rv(ipcx_rpc_client_new(&c, "rpc://localhost/100000/4", 5, 0, NULL), IPCX_EINVAL);
	ipcx_rpc_client_close(NULL);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest per_scheme[] = {
	        cmocka_unit_test_setup_teardown(test_calc, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_client_errors, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_auth, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_errors_fields, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_max_msg, tu_setup, tu_teardown),
	};
	const struct CMUnitTest misc[] = {
	        cmocka_unit_test_setup_teardown(test_udp_retransmit_once, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_udp_timeout, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_udp_cache_key, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_concurrent_unix, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_concurrent_shm, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_malformed_unix, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_malformed_tcp, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_malformed_udp, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_stop_from_signal, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_threads_bound, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_pool_half_record, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_pool_many_conns, tu_setup, tu_teardown),
	        cmocka_unit_test_setup_teardown(test_api_errors, tu_setup, tu_teardown),
	};
	char group[64];

	if (argc < 2) {
		fprintf(stderr, "usage: rpc SCHEME|misc [GLOB]\n");
		return 2;
	}
	if (strcmp(argv[1], "misc") == 0) {
		return tu_run("rpc_misc", misc, sizeof misc / sizeof misc[0],
		              argc > 2 ? argv[2] : NULL);
	}
	if ((S = scheme_named(argv[1])) == NULL) {
		fprintf(stderr, "rpc: unknown scheme %s\n", argv[1]);
		return 2;
	}
	snprintf(group, sizeof group, "rpc_%s", S->name);
	return tu_run(group, per_scheme, sizeof per_scheme / sizeof per_scheme[0],
	              argc > 2 ? argv[2] : NULL);
}
