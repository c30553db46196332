#!/usr/bin/env bash
# cli_test.sh - tests of the ipcx command: options, exit codes, error lines, and `ipcx cat`
# over unix, tcp and raw fifo. Usage: cli_test.sh /path/to/ipcx
# Compound checks are `check NAME eval '...'`: single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
	echo "usage: $0 /path/to/ipcx" >&2
	exit 2
fi
IPCX=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
T=10 # bound of every command: a failure never hangs

# named like every test directory, so that the suite's leak check sees one left behind
D=$(mktemp -d "${TMPDIR:-/tmp}/ipcx-t-${IPCX_TEST_TAG:-cli}-$$-XXXXXX")
export IPCX_REGISTRY_DIR=$D/registry # the listeners' creator records: never the user's
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$D"
}
trap cleanup EXIT

PASS=0
FAIL=0
SKIP=0
ok() {
	PASS=$((PASS + 1))
	echo "ok   - $1"
}
nok() {
	FAIL=$((FAIL + 1))
	echo "FAIL - $1"
	if [ $# -gt 1 ] && [ -n "$2" ]; then
		printf '%s\n' "$2" | sed 's/^/#   /'
	fi
}
skip() {
	SKIP=$((SKIP + 1))
	echo "skip - $1"
}
# check NAME CONDITION-COMMAND...: pass when the command succeeds; compound conditions go
# through eval in single quotes, expanded when the check runs
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else nok "$name" "$(diag)"; fi
}
diag() {
	local f
	for f in "$D/out" "$D/err"; do
		if [ -s "$f" ]; then
			echo "${f##*/}:"
			head -c 600 "$f"
			echo
		fi
	done
}

# run EXPECTED-STATUS ARGS...: run ipcx with stdin from /dev/null, output in $D/out, $D/err
RC=0
run() {
	RC=0
	timeout "$T" "$IPCX" "$@" </dev/null >"$D/out" 2>"$D/err" || RC=$?
}
lines() { wc -l <"$1" | tr -d ' '; }
# is FILE EXACT-CONTENT (trailing newlines count)
is() { [ "$(
	cat "$1"
	echo .
)" = "$2." ]; }

# A listener in the background: `ipcx cat --print-url --listen URL ARGS...` with stdin from
# $LSTDIN (default /dev/null). Sets LPID and LURL (the bound URL, with the real port for tcp
# port 0) once it listens.
LPID=
LURL=
listen_bg() {
	local url=$1
	shift
	: >"$D/lerr"
	timeout "$T" "$IPCX" cat --print-url --listen "$url" "$@" <"${LSTDIN:-/dev/null}" \
		>"$D/lout" 2>"$D/lerr" &
	LPID=$!
	PIDS+=("$LPID")
	LURL=
	for _ in $(seq 200); do
		if [ -s "$D/lerr" ]; then
			LURL=$(head -n1 "$D/lerr")
			# an error line instead of the URL: the listener failed
			[[ $LURL =~ ^(fifo|unix|tcp|udp): ]]
			return
		fi
		kill -0 "$LPID" 2>/dev/null || break
		sleep 0.025
	done
	return 1
}
# wait for the background listener; sets LRC
LRC=0
listen_wait() {
	LRC=0
	wait "$LPID" || LRC=$?
}

# ---- the command line ----------------------------------------------------------------

run --help
check "--help exits 0 with usage on stdout" test "$RC" -eq 0 -a -s "$D/out" -a ! -s "$D/err"
check "--help lists cat" grep -q '^  cat ' "$D/out"

run --version
check "--version prints the version" grep -Eq '^ipcx [0-9]+\.[0-9]+\.[0-9]+$' "$D/out"

run
check "no command: exit 2, usage on stderr" test "$RC" -eq 2 -a -s "$D/err"

run frobnicate
check "unknown command: exit 2" test "$RC" -eq 2
check "unknown command: named on stderr" grep -q "frobnicate" "$D/err"

run --frobnicate
check "unknown global option: exit 2" test "$RC" -eq 2

run cat --help
check "cat --help: exit 0, stdout" test "$RC" -eq 0 -a ! -s "$D/err"
check "cat --help documents the options" grep -q -- '--listen' "$D/out"

run help cat
check "help cat is cat --help" test "$RC" -eq 0 -a -s "$D/out"

run bench --help
if grep -q 'not built' "$D/err"; then
	skip "bench --help (bench not built)"
else
	check "bench --help: exit 0" test "$RC" -eq 0 -a -s "$D/out"
	# the shared-memory baselines, one short run each (a few seconds)
	T=60 run bench --quick --runs 1 --size 64 --scheme floor,futex,ring,memcpy
	check "bench baselines: exit 0" test "$RC" -eq 0
	check "bench baselines: a line each with figures" eval \
		'for s in floor futex ring memcpy; do grep -Eq "^$s +64 B +([0-9.]+|-) " "$D/out" || false; done'
	run bench --scheme nosuch
	check "bench: unknown scheme: exit 2, named" eval 'test "$RC" -eq 2 && grep -q nosuch "$D/err"'
	# --peers: each peer is measured, or the run says why not (package missing when built,
	# another iox-roudi on the machine); the RouDi the bench started (its configuration in
	# the bench's directory under $TMPDIR) is gone at the end, and so are its files
	TMPDIR=$D T=60 run bench --quick --runs 1 --size 64 --scheme floor --peers
	check "bench --peers: exit 0" test "$RC" -eq 0
	if [ "$RC" -ne 0 ]; then
		# the failed row and its reason are at the end, past what diag shows
		echo "#   exit status $RC; the end of the output:"
		tail -n 25 "$D/out" | sed 's/^/#   /'
	fi
	check "bench --peers: every peer measured or said missing" eval \
		'for p in nng-ipc nng-tcp zmq-ipc zmq-tcp iceoryx; do
			grep -Eq "^$p +64 B +[0-9]|^$p .*skipped|^note: .*$p[, ].*not measured" "$D/out" || false
		done'
	if grep -Eq '^iceoryx +64 B +[0-9]' "$D/out"; then
		check "bench --peers: no iox-roudi left, nor its files" eval \
			'! pgrep -f "$D/ipcx-bench" >/dev/null && test ! -e /tmp/roudi -a ! -e /dev/shm/iceoryx_mgmt'
	fi
fi

run cat --bogus --dial unix:///x
check "cat: unknown option: exit 2" test "$RC" -eq 2
check "cat: unknown option: named, with a hint" grep -q -- "--bogus" "$D/err"

run cat --dial
check "cat: missing option argument: exit 2" test "$RC" -eq 2

run cat --send x
check "cat: neither --listen nor --dial: exit 2" test "$RC" -eq 2

run cat --listen unix:///x --dial unix:///y
check "cat: both --listen and --dial: exit 2" test "$RC" -eq 2

run cat --dial unix:///x --format nope
check "cat: bad --format: exit 2" test "$RC" -eq 2

run cat --dial unix:///x --count -3
check "cat: bad --count: exit 2" test "$RC" -eq 2

run cat --dial unix:///x --timeout soon
check "cat: bad --timeout: exit 2" test "$RC" -eq 2

run cat --dial unix:///x stray
check "cat: stray argument: exit 2" test "$RC" -eq 2

# ---- runtime errors: exit 1, one line naming the URL ---------------------------------

one_line_naming() { # URL
	[ "$(lines "$D/err")" -eq 1 ] && grep -qF -- "$1" "$D/err" && grep -q '(IPCX_E[A-Z0-9]*)$' "$D/err"
}

run cat --dial "nope://x" --send hi
check "bad scheme: exit 1" test "$RC" -eq 1
check "bad scheme: one stderr line naming the URL" one_line_naming "nope://x"

run cat --dial "tcp://[::1" --send hi
check "malformed URL: exit 1, one line" eval 'test "$RC" -eq 1 && one_line_naming "tcp://[::1"'

run cat --dial "unix://$D/missing.sock" --send hi
check "dial a missing socket: exit 1, one line" \
	eval 'test "$RC" -eq 1 && one_line_naming "unix://$D/missing.sock"'
check "dial a missing socket: IPCX_ENOENT" grep -q 'IPCX_ENOENT' "$D/err"

run cat --dial pipe: --send hi
check "pipe: has nothing to dial: exit 1, one line" eval 'test "$RC" -eq 1 && one_line_naming "pipe:"'

run cat --listen "unix://$D/idle.sock" --timeout 200
check "accept timeout: exit 1, one line" \
	eval 'test "$RC" -eq 1 && one_line_naming "unix://$D/idle.sock"'
check "accept timeout: IPCX_ETIMEDOUT" grep -q 'IPCX_ETIMEDOUT' "$D/err"
check "accept timeout: socket file removed" test ! -e "$D/idle.sock"

# ---- cat over unix -------------------------------------------------------------------

if listen_bg "unix://$D/u1.sock" --count 3 --no-stdin; then
	RC=0
	printf 'one\ntwo\n\n' | timeout "$T" "$IPCX" cat --dial "$LURL" --count 0 >"$D/out" 2>"$D/err" || RC=$?
	listen_wait
	check "unix: stdin lines sent, dialer exits 0" test "$RC" -eq 0
	check "unix: listener prints each message on a line" \
		eval 'test "$LRC" -eq 0 && is "$D/lout" $'"'"'one\ntwo\n\n'"'"
	check "unix: socket file removed after close" test ! -e "$D/u1.sock"
else
	nok "unix: listener did not start" "$(cat "$D/lerr")"
fi

if listen_bg "unix://$D/u2.sock" --send hello --count 1; then
	run cat --dial "$LURL" --send world --count 1
	listen_wait
	check "unix: --send both ways, dialer got hello" test "$RC" -eq 0 -a "$(cat "$D/out")" = hello
	check "unix: --send both ways, listener got world" \
		test "$LRC" -eq 0 -a "$(cat "$D/lout")" = world
else
	nok "unix: listener did not start" "$(cat "$D/lerr")"
fi

if listen_bg "unix://$D/u3.sock" --no-stdin; then
	run cat --dial "$LURL" --send bye
	listen_wait
	check "peer closes: receiver exits 0 after the message" \
		test "$RC" -eq 0 -a "$LRC" -eq 0 -a "$(cat "$D/lout")" = bye
else
	nok "unix: listener did not start" "$(cat "$D/lerr")"
fi

# ---- cat over tcp (port 0, the bound URL from --print-url) ---------------------------

if listen_bg "tcp://127.0.0.1:0" --send ping --count 2; then
	check "tcp: --print-url prints the real port" eval '[[ $LURL =~ ^tcp://127\.0\.0\.1:[1-9][0-9]*$ ]]'
	RC=0
	printf 'pong\npang\n' | timeout "$T" "$IPCX" cat --dial "$LURL" --count 1 >"$D/out" 2>"$D/err" || RC=$?
	listen_wait
	check "tcp: dialer received the listener's message" test "$RC" -eq 0 -a "$(cat "$D/out")" = ping
	check "tcp: listener received two stdin lines" \
		test "$LRC" -eq 0 -a "$(cat "$D/lout")" = $'pong\npang'
else
	nok "tcp: listener did not start" "$(cat "$D/lerr")"
fi

# both directions at once, more than the socket buffers hold: must not deadlock
seq 1 20000 >"$D/s1"
seq 50001 70000 >"$D/s2"
if LSTDIN=$D/s1 listen_bg "tcp://127.0.0.1:0" --count 20000; then
	RC=0
	timeout "$T" "$IPCX" cat --dial "$LURL" --count 20000 <"$D/s2" >"$D/out" 2>"$D/err" || RC=$?
	listen_wait
	check "tcp: 20000 lines each way at once, no deadlock" test "$RC" -eq 0 -a "$LRC" -eq 0
	check "tcp: each side got the other's lines in order" cmp -s "$D/out" "$D/s1"
	check "tcp: ... and the other way" cmp -s "$D/lout" "$D/s2"
else
	nok "tcp: listener did not start" "$(cat "$D/lerr")"
fi

if listen_bg "tcp://127.0.0.1:0" --count 1 --no-stdin --max-msg 16; then
	run cat --dial "$LURL" --send "a message longer than sixteen bytes" --timeout 5000
	listen_wait
	check "tcp: message above the receiver's --max-msg: exit 1, one line" \
		eval 'test "$LRC" -eq 1 && [ "$(lines "$D/lerr")" -eq 2 ] && grep -q "IPCX_EPROTO" "$D/lerr"'
else
	nok "tcp: listener did not start" "$(cat "$D/lerr")"
fi

run cat --dial "tcp://127.0.0.1:1" --send x --timeout 2000
check "tcp: connection refused: exit 1, one line" eval 'test "$RC" -eq 1 && one_line_naming "tcp://127.0.0.1:1"'

# ---- formats -------------------------------------------------------------------------

# fmt_case NAME FORMAT EXPECTED-OUTPUT MESSAGE...: one message goes with --send (it may
# hold a newline), several as lines of stdin
fmt_case() {
	local name=$1 fmt=$2 want=$3 m
	shift 3
	if listen_bg "unix://$D/f.sock" --format "$fmt" --count $# --no-stdin; then
		RC=0
		if [ $# -eq 1 ]; then
			timeout "$T" "$IPCX" cat --dial "$LURL" --send "$1" </dev/null >"$D/out" 2>"$D/err" ||
				RC=$?
		else
			for m in "$@"; do printf '%s\n' "$m"; done |
				timeout "$T" "$IPCX" cat --dial "$LURL" --count 0 >"$D/out" 2>"$D/err" || RC=$?
		fi
		listen_wait
		if [ "$RC" -eq 0 ] && [ "$LRC" -eq 0 ] && is "$D/lout" "$want"; then
			ok "$name"
		else
			nok "$name" "want: $want"$'\n'"got:  $(cat "$D/lout")"$'\n'"$(cat "$D/lerr" "$D/err")"
		fi
	else
		nok "$name: listener did not start" "$(cat "$D/lerr")"
	fi
}
fmt_case "--format hex, several messages" hex $'686901ff\n\n414243\n' $'hi\x01\xff' "" "ABC"
fmt_case "--format hex, a newline inside" hex $'610a62\n' $'a\nb'
fmt_case "--format quoted" quoted $'"a\\tb\\"c\\\\d\\x01\\r\\n\\xff"\n' $'a\tb"c\\d\x01\r\n\xff'
fmt_case "--format quoted, empty message" quoted $'""\n""\n' "" ""
fmt_case "--format raw" raw "abcd" "ab" "cd"
fmt_case "--format line" line $'x y\n\nz\n' "x y" "" "z"

# ---- --raw: plain tools on the other end ---------------------------------------------

mkfifo "$D/yes.fifo"
yes hello >"$D/yes.fifo" 2>/dev/null &
YPID=$!
PIDS+=("$YPID")
run cat --raw --dial "fifo://$D/yes.fifo" --count 5
check "raw fifo fed by yes: exit 0" test "$RC" -eq 0
check "raw fifo fed by yes: five lines \"hello\"" is "$D/out" $'hello\nhello\nhello\nhello\nhello\n'
# yes dies of SIGPIPE once ipcx closes the FIFO
for _ in $(seq 200); do kill -0 "$YPID" 2>/dev/null || break; sleep 0.025; done
check "raw fifo: the writer sees the reader go" eval '! kill -0 "$YPID" 2>/dev/null'

yes hello >"$D/yes.fifo" 2>/dev/null &
PIDS+=("$!")
run cat --raw --dial "fifo://$D/yes.fifo" --count 3 --format quoted
check "raw fifo: --format quoted works per line" is "$D/out" $'"hello"\n"hello"\n"hello"\n'

if listen_bg "tcp://127.0.0.1:0" --raw --count 3 --no-stdin; then
	port=${LURL##*:}
	RC=0
	# bash's /dev/tcp: a plain TCP peer without any framing; the last line lacks its newline
	(printf 'alpha\nbe' && printf 'ta\ngamma') >"/dev/tcp/127.0.0.1/$port" || RC=$?
	listen_wait
	check "raw tcp from a plain writer: lines reassembled, last one unterminated" \
		eval 'test "$RC" -eq 0 -a "$LRC" -eq 0 && is "$D/lout" $'"'"'alpha\nbeta\ngamma\n'"'"
else
	nok "raw tcp: listener did not start" "$(cat "$D/lerr")"
fi

# ---- stdout and signals --------------------------------------------------------------

yes hello >"$D/yes.fifo" 2>/dev/null &
PIDS+=("$!")
set +e
timeout "$T" "$IPCX" cat --raw --dial "fifo://$D/yes.fifo" </dev/null 2>"$D/err" | head -n 2 >"$D/out"
RC=${PIPESTATUS[0]}
set -e
check "stdout closed by the reader: ipcx stops (exit 1, quietly)" \
	test "$RC" -eq 1 -a ! -s "$D/err" -a "$(lines "$D/out")" -eq 2

if listen_bg "unix://$D/sig.sock" --no-stdin; then
	kill -TERM "$LPID" 2>/dev/null || true
	listen_wait
	check "SIGTERM while listening: dies of the signal" test "$LRC" -eq 143
	check "SIGTERM while listening: socket file removed" test ! -e "$D/sig.sock"
else
	nok "signal: listener did not start" "$(cat "$D/lerr")"
fi

# ---- nothing left behind -------------------------------------------------------------

left=$(find "$D" \( -type s -o -type p \) ! -name yes.fifo)
[ -z "$left" ] || echo "left behind: $left"
check "no socket or FIFO left behind" test -z "$left"

if [ "$SKIP" -gt 0 ]; then echo "($SKIP skipped)"; fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
