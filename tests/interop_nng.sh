#!/bin/bash
# interop_nng.sh - ipcx's tcp scheme speaks the SP TCP mapping with pair0: `nngcat --pair0`
# (Debian package nng-utils) and `ipcx cat` exchange messages in both directions, with each
# side listening in turn. Every step is bounded by timeout(1).
#
#   usage: interop_nng.sh IPCX [NNGCAT]
#   Exit 0 pass, 1 fail, 77 skip (no nngcat).
set -u

[ $# -ge 1 ] || { echo "usage: interop_nng.sh IPCX [NNGCAT]" >&2; exit 2; }
ipcx=$1
nngcat=${2:-$(command -v nngcat)}
if [ -z "$nngcat" ] || [ ! -x "$nngcat" ]; then
	echo "SKIP: nngcat not found (Debian package nng-utils)"
	exit 77
fi

for tool in ss pgrep timeout; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "SKIP: $tool not found (Debian packages iproute2, procps, coreutils)"
		exit 77
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ipcx-nng.XXXXXX") || exit 1
bg=
cleanup() {
	for p in $bg; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

T="timeout -k 2 20"
pass=0
fail=0
ok() { echo "ok   - $1"; pass=$((pass + 1)); }
bad() {
	echo "FAIL - $1"
	shift
	for f in "$@"; do
		[ -s "$f" ] && sed 's/^/       | /' "$f"
	done
	fail=$((fail + 1))
}

# The port a background nngcat (started under timeout(1) as pid $1) listens on, once it
# listens: nngcat binds port 0 itself, so no other process can take the port meanwhile.
nngcat_port() {
	local i kid port
	for i in $(seq 1 200); do
		for kid in $1 $(pgrep -P "$1" 2>/dev/null); do
			port=$(ss -Hltnp 2>/dev/null | grep "pid=$kid," | awk '{print $4}' |
				sed 's/.*://' | head -n1)
			if [ -n "$port" ]; then
				echo "$port"
				return 0
			fi
		done
		sleep 0.05 # polling a condition, bounded to 10 s; not a synchronisation
	done
	return 1
}

# Wait (bounded) for the first line of file $1 (ipcx cat --print-url writes it on stderr).
wait_first_line() {
	local i
	for i in $(seq 1 200); do
		if [ -s "$1" ] && head -n1 "$1" | grep -q '^tcp://'; then
			head -n1 "$1"
			return 0
		fi
		sleep 0.05 # polling a condition, bounded to 10 s; not a synchronisation
	done
	return 1
}

# --- 1. nngcat listens, ipcx dials ---------------------------------------------------------

# 1a. ipcx -> nngcat: three messages, one per stdin line.
$T "$nngcat" --pair0 --listen "tcp://127.0.0.1:0" --quoted --count 3 \
	>"$tmp/1a.out" 2>"$tmp/1a.err" &
nng=$!
bg="$bg $nng"
if port=$(nngcat_port $nng); then
	printf 'one\ntwo words\nthree\n' |
		$T "$ipcx" cat --dial "tcp://127.0.0.1:$port" --timeout 10000 \
			>"$tmp/1a.ipcx" 2>&1
	wait "$nng"
	rc=$?
	printf '"one"\n"two words"\n"three"\n' >"$tmp/1a.want"
	if [ $rc -eq 0 ] && cmp -s "$tmp/1a.out" "$tmp/1a.want"; then
		ok "ipcx cat --dial -> nngcat --listen: 3 messages"
	else
		bad "ipcx cat --dial -> nngcat --listen (nngcat rc $rc)" "$tmp/1a.out" \
			"$tmp/1a.err" "$tmp/1a.ipcx"
	fi
else
	bad "nngcat did not listen" "$tmp/1a.err"
fi

# 1b. nngcat -> ipcx: nngcat sends once a peer is there.
$T "$nngcat" --pair0 --listen "tcp://127.0.0.1:0" --data "hello from nng" --count 1 \
	>"$tmp/1b.nng" 2>&1 &
nng=$!
bg="$bg $nng"
if port=$(nngcat_port $nng); then
	$T "$ipcx" cat --dial "tcp://127.0.0.1:$port" --count 1 --no-stdin --timeout 10000 \
		>"$tmp/1b.out" 2>"$tmp/1b.err"
	rc=$?
	wait "$nng"
	if [ $rc -eq 0 ] && [ "$(cat "$tmp/1b.out")" = "hello from nng" ]; then
		ok "nngcat --listen -> ipcx cat --dial"
	else
		bad "nngcat --listen -> ipcx cat --dial (ipcx rc $rc)" "$tmp/1b.out" \
			"$tmp/1b.err" "$tmp/1b.nng"
	fi
else
	bad "nngcat did not listen" "$tmp/1b.nng"
fi

# --- 2. ipcx listens, nngcat dials ---------------------------------------------------------

# 2a. nngcat -> ipcx. (One message: nngcat exits as soon as its last send is queued and
# may drop what it had not written yet, so more than one would test nngcat, not ipcx.)
$T "$ipcx" cat --listen "tcp://127.0.0.1:0" --print-url --count 1 --no-stdin \
	--timeout 15000 >"$tmp/2a.out" 2>"$tmp/2a.err" &
ip=$!
bg="$bg $ip"
if url=$(wait_first_line "$tmp/2a.err"); then
	# nngcat may linger after its send (reconnecting): what counts is what ipcx got.
	$T "$nngcat" --pair0 --dial "$url" --data "hello from nng" --count 1 >"$tmp/2a.nng" 2>&1 &
	nng=$!
	bg="$bg $nng"
	wait "$ip"
	rc=$?
	kill "$nng" 2>/dev/null
	if [ $rc -eq 0 ] && [ "$(cat "$tmp/2a.out")" = "hello from nng" ]; then
		ok "nngcat --dial -> ipcx cat --listen"
	else
		bad "nngcat --dial -> ipcx cat --listen (ipcx rc $rc)" "$tmp/2a.out" \
			"$tmp/2a.err" "$tmp/2a.nng"
	fi
else
	bad "ipcx cat --listen --print-url printed no URL" "$tmp/2a.err"
fi

# 2b. ipcx -> nngcat: including an empty message and bytes that need quoting.
printf 'hi\n\ntab\there\n' >"$tmp/2b.in"
$T "$ipcx" cat --listen "tcp://127.0.0.1:0" --print-url --timeout 15000 \
	<"$tmp/2b.in" >"$tmp/2b.ipcx" 2>"$tmp/2b.err" &
ip=$!
bg="$bg $ip"
if url=$(wait_first_line "$tmp/2b.err"); then
	$T "$nngcat" --pair0 --dial "$url" --quoted --count 3 >"$tmp/2b.out" 2>"$tmp/2b.nng"
	rc=$?
	wait "$ip"
	printf '"hi"\n""\n"tab\\there"\n' >"$tmp/2b.want"
	if [ $rc -eq 0 ] && cmp -s "$tmp/2b.out" "$tmp/2b.want"; then
		ok "ipcx cat --listen -> nngcat --dial: 3 messages (one empty)"
	else
		bad "ipcx cat --listen -> nngcat --dial (nngcat rc $rc)" "$tmp/2b.out" \
			"$tmp/2b.nng" "$tmp/2b.err"
	fi
else
	bad "ipcx cat --listen --print-url printed no URL" "$tmp/2b.err"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
