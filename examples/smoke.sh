#!/bin/sh
# smoke.sh - smoke tests of the example programs: runs a server and its clients under
# timeout(1) in a private temp directory, checks what they print, and leaves nothing behind.
#
#   usage: smoke.sh BINDIR CASE
#   CASE: hello_pipe fifo fifo_sigterm echo_fifo echo_unix echo_abstract echo_shm echo_tcp echo_tcp6
#         echo_udp shmem shmem_sysv msgq msgq_sigterm rpc_calc_unix rpc_calc_shm rpc_calc_tcp
#         rpc_calc_udp.  Exit 0 pass, 1 fail, 77 skip (echo_tcp6 without IPv6).
set -u

[ $# -eq 2 ] || { echo "usage: smoke.sh BINDIR CASE" >&2; exit 2; }
bindir=$(cd "$1" && pwd) || exit 2
case=$2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ipcx-smoke.XXXXXX") || exit 1
run=$tmp/run # the examples create their names here; it must be empty at the end
mkdir "$run" || exit 1
# the examples record what they create for `ipcx ls`; keep that out of the user's registry
export IPCX_REGISTRY_DIR=$tmp/registry
mkdir -m 700 "$IPCX_REGISTRY_DIR" || exit 1
srv_pid=
client_pids=

cleanup() {
	for p in $srv_pid $client_pids; do
		kill "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# Every process gets a deadline: a broken example fails the test, it never hangs it.
# --foreground: a signal to timeout goes to the server alone, once; without it timeout also
# signals the whole process group, and a second SIGTERM landing during an ASan build's
# exit-time leak scan (a ptrace stop of the world) can wedge the server.
T="timeout --foreground -k 5 30"

fail() {
	echo "FAIL ($case): $*" >&2
	for f in "$tmp"/*.out "$tmp"/*.err; do
		[ -s "$f" ] || continue
		echo "--- ${f##*/}" >&2
		cat "$f" >&2
	done
	exit 1
}

# start_server PROG ARGS...: run it in the background, wait for "listening on URL" and set
# $url to the URL it printed (the real port for tcp://host:0).
start_server() {
	prog=$1
	shift
	$T "$bindir/$prog" "$@" >"$tmp/server.out" 2>"$tmp/server.err" &
	srv_pid=$!
	i=0
	while ! grep -q '^listening on ' "$tmp/server.out" 2>/dev/null; do
		kill -0 "$srv_pid" 2>/dev/null || fail "$prog did not start"
		i=$((i + 1))
		[ $i -lt 200 ] || fail "$prog: no 'listening on' line within 10 s"
		sleep 0.05
	done
	url=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$tmp/server.out" | head -n 1)
}

# stop_server [SIGNAL]: optionally signal the server, then it must exit 0.
stop_server() {
	[ $# -eq 0 ] || kill "-$1" "$srv_pid"
	rc=0
	wait "$srv_pid" || rc=$?
	srv_pid=
	[ $rc -eq 0 ] || fail "server exited with status $rc"
}

# expect NAME LINE...: the file $tmp/NAME.out must hold exactly these lines.
expect() {
	name=$1
	shift
	printf '%s\n' "$@" >"$tmp/$name.want"
	cmp -s "$tmp/$name.want" "$tmp/$name.out" || {
		echo "--- expected in $name.out" >&2
		cat "$tmp/$name.want" >&2
		fail "unexpected output of $name"
	}
}

# client NAME PROG ARGS...: run a client in the foreground; it must exit 0.
client() {
	name=$1
	prog=$2
	shift 2
	$T "$bindir/$prog" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null ||
		fail "$prog $* exited with status $?"
}

# Nothing may be left where the examples created their names.
expect_clean() {
	left=$(ls -A "$run")
	[ -z "$left" ] || fail "left behind in the run directory: $left"
}

# echo_case URL SIZE STOP: two echo clients (text, then one SIZE-byte message) against an
# echo_server on URL. STOP=count: the server exits by itself after 2 clients (--count 2);
# STOP=signal: it is stopped with SIGTERM (udp has no close, so a client never "leaves").
echo_case() {
	if [ "$3" = count ]; then
		start_server echo_server --count 2 "$1"
	else
		start_server echo_server "$1"
	fi
	client c1 echo_client "$url" "hello world" "" "second message"
	expect c1 "hello world" "" "second message"
	client c2 echo_client --size "$2" "$url"
	expect c2 "$2 bytes echoed"
	if [ "$3" = count ]; then
		stop_server
	else
		stop_server TERM
	fi
	grep -q '^client 2: connected' "$tmp/server.out" || fail "server did not see 2 clients"
	expect_clean
}

# shmem_case NAME ITEMS SLOTS: the shmem example passes ITEMS items through SLOTS slots of
# segment NAME; the consumer prints each in order, then both report.
shmem_case() {
	$T "$bindir/shmem" --items "$2" --slots "$3" "$1" >"$tmp/shmem.out" 2>"$tmp/shmem.err" ||
		fail "shmem exited with status $?"
	i=1
	: >"$tmp/shmem.want"
	while [ $i -le "$2" ]; do
		echo "consumer: got \"item $i of $2\"" >>"$tmp/shmem.want"
		i=$((i + 1))
	done
	echo "consumer: end after $2 items" >>"$tmp/shmem.want"
	echo "producer: $2 items through $3 slots; consumer exited 0" >>"$tmp/shmem.want"
	cmp -s "$tmp/shmem.want" "$tmp/shmem.out" || {
		echo "--- expected in shmem.out" >&2
		cat "$tmp/shmem.want" >&2
		fail "unexpected output of shmem"
	}
}

# rpc_calc_case URL: the calculator of examples/rpc_calc on URL: the default operations,
# then the edges of int (wrapping, INT_MIN / -1); the server stops on SIGTERM.
rpc_calc_case() {
	start_server rpc_calc/calc_server "$1"
	client c1 rpc_calc/calc_client "$url"
	expect c1 "7 + 5 = 12" "7 - 5 = 2" "7 * 5 = 35" "7 / 5 = 1" "7 / 0: division by zero"
	client c2 rpc_calc/calc_client "$url" add 2147483647 1 sub -2147483648 1 \
		mul 65536 65536 div -2147483648 -1 div -7 2 div 0x10 0
	expect c2 "2147483647 + 1 = -2147483648" "-2147483648 - 1 = 2147483647" \
		"65536 * 65536 = 0" "-2147483648 / -1 = -2147483648" "-7 / 2 = -3" \
		"16 / 0: division by zero"
	stop_server TERM
	grep -q '^signal: shutting down$' "$tmp/server.out" || fail "no shutdown message"
	expect_clean
}

case $case in
hello_pipe)
	$T "$bindir/hello_pipe" >"$tmp/hello.out" 2>"$tmp/hello.err" || fail "exit status $?"
	# The child's pid is part of one line; take it from the last line.
	pid=$(sed -n 's/^parent: child \([0-9]*\) exited 0$/\1/p' "$tmp/hello.out")
	[ -n "$pid" ] || fail "no 'parent: child N exited 0' line"
	expect hello \
		'child: received "hello world" (11 bytes)' \
		'child: received "a pipe carries bytes; ipcx carries whole messages" (49 bytes)' \
		"parent: reply \"child $pid got 2 messages\"" \
		'child: parent closed the channel, exiting' \
		"parent: child $pid exited 0"
	;;
fifo)
	# Three clients; the first stays connected (waiting on a gate FIFO for its second
	# line) while the second and third are served, so the server must serve clients
	# concurrently. --count 3: the server exits by itself and removes its FIFO.
	start_server fifo_server --count 3 "$run/server.fifo"
	mkfifo "$tmp/gate" || fail "mkfifo"
	{
		echo one
		cat "$tmp/gate"
	} | $T "$bindir/fifo_client" "$run/server.fifo" >"$tmp/a.out" 2>"$tmp/a.err" &
	a_pid=$!
	client_pids=$a_pid
	i=0
	while ! grep -q '^ONE$' "$tmp/a.out" 2>/dev/null; do
		kill -0 "$a_pid" 2>/dev/null || fail "client a died"
		i=$((i + 1))
		[ $i -lt 200 ] || fail "client a got no reply within 10 s"
		sleep 0.05
	done
	client b fifo_client "$run/server.fifo" hello "fifo world" "MiXeD 123"
	expect b HELLO "FIFO WORLD" "MIXED 123"
	printf 'line from stdin\n\nlast\n' >"$tmp/c.in"
	$T "$bindir/fifo_client" "fifo://$run/server.fifo" <"$tmp/c.in" >"$tmp/c.out" \
		2>"$tmp/c.err" || fail "client c exited with status $?"
	expect c "LINE FROM STDIN" "" "LAST"
	echo two >"$tmp/gate"
	rc=0
	wait "$a_pid" || rc=$?
	client_pids=
	[ $rc -eq 0 ] || fail "client a exited with status $rc"
	expect a ONE TWO
	stop_server
	for n in 1 2 3; do
		grep -q "^client $n: gone$" "$tmp/server.out" || fail "client $n not seen leaving"
	done
	expect_clean
	;;
fifo_sigterm)
	start_server fifo_server "$run/server.fifo"
	client a fifo_client "$run/server.fifo" ping
	expect a PING
	[ -p "$run/server.fifo" ] || fail "server FIFO missing while the server runs"
	stop_server TERM
	grep -q '^signal: shutting down$' "$tmp/server.out" || fail "no shutdown message"
	expect_clean
	;;
echo_fifo)
	echo_case "fifo://$run/echo.fifo" 1048576 count
	;;
rpc_calc_unix)
	rpc_calc_case "unix://$run/calc.sock"
	;;
rpc_calc_shm)
	rpc_calc_case "shm://ipcx-smoke-$$-$(basename "$tmp")"
	;;
rpc_calc_tcp)
	rpc_calc_case "tcp://127.0.0.1:0"
	;;
rpc_calc_udp)
	rpc_calc_case "udp://127.0.0.1:0"
	;;
echo_unix)
	echo_case "unix://$run/echo.sock" 1048576 count
	;;
echo_abstract)
	echo_case "unix:@ipcx-smoke-$$-$(basename "$tmp")" 1048576 count
	;;
echo_shm)
	# the poll loop serves shm:// clients through ipcx_chan_fd like any other channel
	echo_case "shm://ipcx-smoke-$$-$(basename "$tmp")" 1048576 count
	;;
echo_tcp)
	echo_case "tcp://127.0.0.1:0" 1048576 count
	case $url in
	tcp://127.0.0.1:0 | tcp://127.0.0.1:) fail "listener URL has no real port: $url" ;;
	esac
	;;
echo_tcp6)
	grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null || {
		echo "SKIP: no IPv6 loopback"
		exit 77
	}
	echo_case "tcp://[::1]:0" 1048576 count
	;;
echo_udp)
	# One datagram per message: sizes stay below the 64 KiB datagram limit.
	echo_case "udp://127.0.0.1:0" 60000 signal
	;;
shmem)
	# producer -> consumer through a 4-slot ring; the segment must be gone afterwards
	shmem_case "shmem-smoke-$$" 20 4
	[ ! -e "/dev/shm/ipcx.shmem-smoke-$$" ] || fail "left behind: /dev/shm/ipcx.shmem-smoke-$$"
	;;
shmem_sysv)
	# the same over a System V segment, its key (decimal) from this shell's pid
	key=$((0x5e000000 + ($$ & 0xffffff)))
	shmem_case "sysv:$key" 50 3
	! awk -v k="$key" 'NR > 1 && $1 == k { found = 1 } END { exit !found }' \
		/proc/sysvipc/shm || fail "left behind: System V segment with key $key"
	;;
msgq)
	# The lecture's file server over one System V queue whose key is ftok(KEYFILE, 1):
	# client a fetches two files (the big one in many messages through a queue of 16 KiB),
	# client b a file that is not there. --count 2: the server exits by itself, and the
	# queue goes with it.
	keyfile=$tmp/key
	: >"$keyfile"
	seq 1 20000 >"$tmp/big.txt"
	printf 'a small file\n' >"$tmp/small.txt"
	start_server msgq_server --count 2 "$keyfile"
	client a msgq_client "$keyfile" "$tmp/big.txt" "$tmp/small.txt"
	cat "$tmp/big.txt" "$tmp/small.txt" | cmp -s - "$tmp/a.out" || fail "client a: wrong contents"
	rc=0
	$T "$bindir/msgq_client" "$url" "$tmp/none" >"$tmp/b.out" 2>"$tmp/b.err" || rc=$?
	[ $rc -eq 1 ] || fail "client b: exit status $rc, want 1"
	grep -q "none: No such file or directory" "$tmp/b.err" || fail "client b: no error message"
	stop_server
	grep -q '^client 1: .*/big.txt (108894 bytes in 27 messages)$' "$tmp/server.out" ||
		fail "server did not send big.txt in 27 messages"
	grep -q '^client 2: gone$' "$tmp/server.out" || fail "client 2 not seen leaving"
	key=$(((1 << 24) | (($(stat -c %d "$keyfile") & 255) << 16) | ($(stat -c %i "$keyfile") & 65535)))
	! awk -v k="$key" 'NR > 1 && $1 == k { found = 1 } END { exit !found }' \
		/proc/sysvipc/msg || fail "left behind: System V queue with key $key"
	expect_clean
	;;
msgq_sigterm)
	# an explicit key (from this shell's pid); the queue exists while the server runs
	key=$((0x5f000000 + ($$ & 0xffffff)))
	start_server msgq_server "sysvmq:$(printf '0x%08x' "$key")"
	printf 'hello\n' >"$tmp/hello.txt"
	client a msgq_client "$url" "$tmp/hello.txt"
	expect a hello
	awk -v k="$key" 'NR > 1 && $1 == k { found = 1 } END { exit !found }' \
		/proc/sysvipc/msg || fail "no System V queue with key $key while the server runs"
	stop_server TERM
	grep -q '^signal: shutting down$' "$tmp/server.out" || fail "no shutdown message"
	! awk -v k="$key" 'NR > 1 && $1 == k { found = 1 } END { exit !found }' \
		/proc/sysvipc/msg || fail "left behind: System V queue with key $key"
	;;
*)
	echo "smoke.sh: unknown case '$case'" >&2
	exit 2
	;;
esac
echo "PASS ($case)"
exit 0
