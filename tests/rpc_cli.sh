#!/usr/bin/env bash
# rpc_cli.sh - tests of `ipcx rpc` as a user runs it: `ping` against the calculator example
# on several schemes and through rpcbind, `info` printing what libtirpc's `rpcinfo -p` prints
# for the same rpcbind, options and exit codes, refusals and no rpcbind as errors.
# Usage: rpc_cli.sh /path/to/ipcx /path/to/rpcbind_ctl.sh /path/to/calc_server
set -uo pipefail

if [ $# -ne 3 ] || [ ! -x "$1" ] || [ ! -x "$3" ]; then
	echo "usage: $0 /path/to/ipcx /path/to/rpcbind_ctl.sh /path/to/calc_server" >&2
	exit 2
fi
IPCX=$1
CTL=$2
CALC=$3
T=20 # bound of every command: a failure never hangs
# the servers run in the background and get a SIGTERM: --foreground, so that it reaches them
# once (see rpc_interop.sh)
TS="timeout --foreground -k 5 $T"

D=$(mktemp -d "${TMPDIR:-/tmp}/ipcx-t-${IPCX_TEST_TAG:-rpccli}-$$-XXXXXX")
RB=$D/rpcbind
started=
srv=
cleanup() {
	if [ -n "$srv" ]; then
		kill -TERM "$srv" 2>/dev/null
		wait "$srv" 2>/dev/null
	fi
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

# The machine-wide rpcbind lock (see rpcbind_ctl.sh), held on fd 9 until this script ends;
# bounded: another tree's run that holds it longer than 10 minutes fails this one.
exec 9<"$(bash "$CTL" lockfile)" || exit 77
flock -w 600 9 || {
	echo "rpcbind lock not free within 10 minutes" >&2
	exit 1
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

# listening FILE: how many "listening on" lines a background server has printed, 0 while
# the shell has not yet made FILE (grep -c prints nothing then, and `[ "" -lt 2 ]` is an
# error that ended the wait at once: the servers were taken as up before they were)
listening() {
	local n
	n=$(grep -c '^listening on ' "$1" 2>/dev/null)
	echo "${n:-0}"
}

# ping: the calculator on tcp, udp, unix and shm, registered with rpcbind too
$TS "$CALC" --rpcbind tcp://127.0.0.1:0 udp://127.0.0.1:0 >"$D/calc.out" 2>"$D/calc.err" &
srv=$!
i=0
while [ "$(listening "$D/calc.out")" -lt 2 ]; do
	kill -0 $srv 2>/dev/null || break
	i=$((i + 1))
	[ $i -lt 400 ] || break
	sleep 0.05
done
$TS "$CALC" "unix://$D/calc.sock" "shm://ipcx-rpccli-$$" >"$D/calc2.out" 2>"$D/calc2.err" &
srv2=$!
i=0
while [ "$(listening "$D/calc2.out")" -lt 2 ]; do
	kill -0 $srv2 2>/dev/null || break
	i=$((i + 1))
	[ $i -lt 400 ] || break
	sleep 0.05
done
urls=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$D/calc.out" "$D/calc2.out")
check "calculator servers up on 4 schemes" [ "$(echo "$urls" | wc -l)" -eq 4 ]
for u in $urls rpc://127.0.0.1/0x20000099/1 "rpc://127.0.0.1/536871065/1?proto=udp"; do
	timeout $T "$IPCX" rpc ping -c 3 -i 0 "$u" 0x20000099 1 >"$D/ping.out" 2>&1
	st=$?
	if [ $st -eq 0 ] && [ "$(grep -cF "reply from $u: seq=" "$D/ping.out")" -eq 3 ] &&
		[ "$(grep -Ec ': seq=[123] time=[0-9.]+ ms$' "$D/ping.out")" -eq 3 ] &&
		grep -Eq '^3 calls, 3 answered, 0% failed, time min/avg/max = [0-9.]+/[0-9.]+/[0-9.]+ ms$' \
			"$D/ping.out"; then
		ok "ping -c 3 $u"
	else
		nok "ping -c 3 $u (exit $st)"
		cat "$D/ping.out"
	fi
done
tcp_url=$(echo "$urls" | grep '^tcp:')
timeout $T "$IPCX" rpc ping "$tcp_url" 536871065 1 >"$D/ping1.out" 2>&1
check "ping: decimal program, one call by default" \
	[ "$(grep -c '^reply from' "$D/ping1.out")" -eq 1 ]
timeout $T "$IPCX" rpc ping "$tcp_url" 0x20000099 7 >"$D/pingv.out" 2>&1
check "ping: wrong version exits 1" [ $? -eq 1 ]
check "ping: wrong version names the server's versions" \
	grep -q '(IPCX_ERPCVERS): the server has versions 1 to 1$' "$D/pingv.out"
timeout $T "$IPCX" rpc ping "$tcp_url" nfs 3 >"$D/pingp.out" 2>&1
check "ping: a program by its /etc/rpc name, unavailable: exits 1" [ $? -eq 1 ]
check "ping: unavailable program says so" grep -q '(IPCX_ERPCPROG)$' "$D/pingp.out"
timeout $T "$IPCX" rpc ping "$tcp_url" nfsprog 3 >"$D/pinga.out" 2>&1
check "ping: a program by its /etc/rpc alias reaches the server" \
	grep -q '(IPCX_ERPCPROG)$' "$D/pinga.out"
timeout $T "$IPCX" rpc ping "$tcp_url" no-such-program 3 >"$D/pingn.out" 2>&1
check "ping: a name /etc/rpc lacks is a usage error (exit 2)" [ $? -eq 2 ]
timeout $T "$IPCX" rpc ping rpc://127.0.0.1/0x20000098/1 0 0 >"$D/pingr.out" 2>&1
check "ping: rpc:// of an unregistered program exits 1" [ $? -eq 1 ]
check "ping: rpc:// of an unregistered program says so" grep -q 'IPCX_ERPCPROG' "$D/pingr.out"
timeout $T "$IPCX" rpc info >"$D/info3.out" 2>&1
check "info lists the calculator while it runs" \
	grep -Eq '^ +536871065 +1 +tcp +[0-9]+  $' "$D/info3.out"
kill -TERM $srv $srv2
wait $srv
check "calculator (rpcbind) exits 0" [ $? -eq 0 ]
wait $srv2
check "calculator (unix, shm) exits 0" [ $? -eq 0 ]
srv=
check "unix socket removed" [ ! -e "$D/calc.sock" ]
timeout $T "$IPCX" rpc info >"$D/info4.out" 2>&1
check "info no longer lists it" sh -c "! grep -q 536871065 '$D/info4.out'"
timeout $T "$IPCX" rpc ping -t 200 tcp://127.0.0.1:1 1 1 >"$D/pingc.out" 2>&1
check "ping: nobody listening exits 1" [ $? -eq 1 ]

# usage: help on stdout with 0, errors with 2 and a hint
timeout $T "$IPCX" rpc --help >"$D/help.out" 2>&1
check "--help exits 0" [ $? -eq 0 ]
check "--help describes info" grep -q 'rpc info' "$D/help.out"
check "--help describes ping" grep -q 'rpc ping' "$D/help.out"
for args in "" "info a b" "nosuch" "info -x" "info -t" "info -t abc" "ping" \
	"ping tcp://127.0.0.1:1 1" "ping tcp://127.0.0.1:1 nosuchprog 1" \
	"ping tcp://127.0.0.1:1 1 x" "ping -c 0 tcp://127.0.0.1:1 1 1" \
	"ping -i x tcp://127.0.0.1:1 1 1"; do
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
