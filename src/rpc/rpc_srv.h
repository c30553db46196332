/*
 * rpc_srv.h - the server's internals shared with the fuzz target and the command: one call
 * record in, one reply out, with no channel or thread involved.
 */
#ifndef IPCX_RPC_SRV_H
#define IPCX_RPC_SRV_H

#include "rpc_int.h"

/* What the transport says about the peer of a call (unix://, shm://: SO_PEERCRED). */
typedef struct ipcx__rpc_peer {
	bool known;
	pid_t pid;
	uid_t uid;
	gid_t gid;
} ipcx__rpc_peer;

/* The bytes of a reply header of an accepted call with an AUTH_NONE verifier: xid, REPLY,
 * MSG_ACCEPTED, flavor, length 0, accept_stat. Results start this far into a reply. */
#define IPCX__RPC_REPLY_HDR 24

/* Options of a server or client: src copied (NULL: defaults, an older shorter struct: its
 * fields), *max_msg the effective largest call or reply. IPCX_EINVAL for a max_msg under 64
 * bytes or over what one fragment carries. */
int ipcx__rpc_opts_fill(ipcx_rpc_opts *dst, size_t *max_msg, const ipcx_rpc_opts *src);

/* Serve one call: rec[0, len) is one RPC message (no record marks), untrusted. The reply
 * (no marks) goes to out[0, *outlen) (cap bytes, at least IPCX__RPC_REPLY_HDR + 8). Runs the
 * handler, honouring opts.threads. Returns 0 with a reply (every decodable call header gets
 * one, GARBAGE_ARGS, RPC_MISMATCH and AUTH_ERROR included), or IPCX_EBADMSG when rec is not
 * a call header at all (too short, a REPLY, a bad auth length): no reply, and a stream
 * should be closed. Handlers must be registered; the server need not run. */
int ipcx__rpc_serve_one(ipcx_rpc_server *s, const unsigned char *rec, size_t len,
                        const ipcx__rpc_peer *peer, unsigned char *out, size_t cap, size_t *outlen);

#endif /* IPCX_RPC_SRV_H */
