#!/usr/bin/env bash
# rpc_cli.sh - tests of `ipcx rpc` as a user runs it: `info` prints what libtirpc's
# `rpcinfo -p` prints for the same rpcbind, options and exit codes, no rpcbind is an error.
# Usage: rpc_cli.sh /path/to/ipcx /path/to/rpcbind_ctl.sh
set -uo pipefail

if [ $# -ne 2 ] || [ ! -x "$1" ]; then
	echo "usage: $0 /path/to/ipcx /path/to/rpcbind_ctl.sh" >&2
	exit 2
fi
IPCX=$1
CTL=$2
T=20 # bound of every command: a failure never hangs

D=$(mktemp -d "${TMPDIR:-/tmp}/ipcx-t-${IPCX_TEST_TAG:-rpccli}-$$-XXXXXX")
RB=$D/rpcbind
started=
cleanup() {
	[ -n "$started" ] && bash "$CTL" stop "$RB"
	rm -rf "$D"
}
trap cleanup EXIT

PASS=0
FAIL=0
ok() {
	PASS=$((PASS + 1))
	echo "ok   - $1"
}
nok() {
	FAIL=$((FAIL + 1))
	echo "FAIL - $1"
}
check() { # check NAME CMD...: the command must succeed
	local name=$1
	shift
	if "$@"; then ok "$name"; else nok "$name"; fi
}

bash "$CTL" start "$RB"
rbst=$?
case $rbst in
0) started=1 ;;
3) started=1 ;; # the system's rpcbind: stop only removes the state directory
77) exit 77 ;;
*)
	echo "could not start rpcbind" >&2
	exit 1
	;;
esac

# info: the same lines as libtirpc's rpcinfo -p, in the same order
timeout $T "$IPCX" rpc info >"$D/info.out" 2>"$D/info.err"
check "info exits 0" [ $? -eq 0 ]
timeout $T rpcinfo -p 127.0.0.1 >"$D/rpcinfo.out"
if diff -u "$D/rpcinfo.out" "$D/info.out"; then ok "info prints what rpcinfo -p prints"; else
	nok "info prints what rpcinfo -p prints"
fi
check "info names rpcbind's own program from /etc/rpc" \
	grep -Eq '^ +100000 +4 +tcp +111  portmapper$' "$D/info.out"
timeout $T "$IPCX" rpc info localhost >"$D/info2.out" 2>&1
check "info HOST by name" cmp -s "$D/info.out" "$D/info2.out"

# --all: every netid rpcbind lists, with addresses and owners
timeout $T "$IPCX" rpc info --all 127.0.0.1 >"$D/all.out" 2>&1
check "info --all exits 0" [ $? -eq 0 ]
check "info --all lists the unix socket (netid local)" \
	grep -Eq '^ +100000 +4 local +/run/rpcbind.sock +portmapper' "$D/all.out"
check "info --all lists universal addresses" \
	grep -Eq '^ +100000 +2 tcp +0\.0\.0\.0\.0\.111 ' "$D/all.out"
timeout $T "$IPCX" rpc -a -t 5000 info >"$D/all2.out" 2>&1
check "options before the subcommand" cmp -s "$D/all.out" "$D/all2.out"

# usage: help on stdout with 0, errors with 2 and a hint
timeout $T "$IPCX" rpc --help >"$D/help.out" 2>&1
check "--help exits 0" [ $? -eq 0 ]
check "--help describes info" grep -q 'rpc info' "$D/help.out"
for args in "" "info a b" "nosuch" "info -x" "info -t" "info -t abc"; do
	# shellcheck disable=SC2086
	timeout $T "$IPCX" rpc $args >"$D/use.out" 2>&1
	st=$?
	if [ $st -eq 2 ] && grep -q "ipcx rpc --help" "$D/use.out"; then
		ok "usage error exits 2: rpc $args"
	else
		nok "usage error exits 2: rpc $args (got $st)"
		cat "$D/use.out"
	fi
done
check "the command list names rpc" sh -c "'$IPCX' --help | grep -q '^  rpc '"

# no rpcbind: a runtime error naming the host and the cause (only where the test started
# its own rpcbind: the system's is not ours to stop)
if [ "$rbst" = 0 ]; then
	bash "$CTL" stop "$RB"
	started=
	timeout $T "$IPCX" rpc info >"$D/none.out" 2>&1
	check "no rpcbind exits 1" [ $? -eq 1 ]
	check "no rpcbind says so" grep -q '^ipcx: 127.0.0.1: rpcbind: .*(IPCX_ECONNREFUSED)$' \
		"$D/none.out"
fi
timeout $T "$IPCX" rpc info no-such-host.invalid >"$D/nohost.out" 2>&1
check "unknown host exits 1" [ $? -eq 1 ]
check "unknown host says so" grep -q 'IPCX_ENOTFOUND' "$D/nohost.out"

echo "# rpc_cli: $PASS passed, $FAIL failed"
[ $FAIL -eq 0 ]
