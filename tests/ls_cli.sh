#!/usr/bin/env bash
# ls_cli.sh - tests of `ipcx ls` and `ipcx rm` as a user runs them: options and exit codes,
# JSON that a real parser accepts, a killed listener shown dead and removed by --stale.
# Usage: ls_cli.sh /path/to/ipcx
# shellcheck disable=SC2016
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
	echo "usage: $0 /path/to/ipcx" >&2
	exit 2
fi
IPCX=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
T=10 # bound of every command: a failure never hangs

# `ipcx rm --stale` removes every dead ipcx object on the machine: run in a private IPC
# namespace with fresh /dev/shm and /dev/mqueue, so that it never removes what another
# test's killed child made while that test still uses it (as root, or in a user namespace
# where we are root; on the shared namespace if neither is allowed).
if [ -z "${IPCX_LSCLI_PRIVATE:-}" ] && command -v unshare >/dev/null; then
	export IPCX_LSCLI_PRIVATE=1
	mounts='mount -t tmpfs -o mode=1777 tmpfs /dev/shm && mount -t mqueue mqueue /dev/mqueue'
	for ns in "--ipc --mount --propagation private" \
		"--user --map-root-user --ipc --mount --propagation private"; do
		# shellcheck disable=SC2086
		if unshare $ns sh -c "$mounts" 2>/dev/null; then
			# shellcheck disable=SC2086
			exec unshare $ns sh -c "$mounts"' && exec bash "$0" "$@"' "$0" "$@"
		fi
	done
	echo "# no private IPC namespace: running on the shared one"
fi

if ! command -v python3 >/dev/null; then
	echo "python3 is needed to check the JSON (scripts/deps installs it)" >&2
	exit 77
fi

# named like every test directory, so that the suite's leak check sees one left behind
D=$(mktemp -d "${TMPDIR:-/tmp}/ipcx-t-${IPCX_TEST_TAG:-lscli}-$$-XXXXXX")
# this test's own creator registry, never the user's
export IPCX_REGISTRY_DIR=$D/registry
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
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
	for f in "$D/out" "$D/err"; do
		if [ -s "$f" ]; then
			echo "#   ${f##*/}:"
			head -c 600 "$f" | sed 's/^/#   /'
		fi
	done
}
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else nok "$name"; fi
}
RC=0
run() {
	RC=0
	timeout "$T" "$IPCX" "$@" </dev/null >"$D/out" 2>"$D/err" || RC=$?
}
lines() { wc -l <"$1" | tr -d ' '; }
# json_ok FILE: one valid JSON document whose "objects" is a list
json_ok() {
	python3 -c '
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
assert isinstance(doc["objects"], list)
for o in doc["objects"]:
    for k in ("kind", "name", "persistence", "owner", "user", "mode", "size", "count",
              "creator", "state", "ours"):
        assert k in o, k
    assert o["state"] in ("alive", "dead", "unknown")
    assert isinstance(o["ours"], bool)
' "$1"
}
# json_state FILE NAME: the state of the object named NAME ("" if not listed)
json_state() {
	python3 -c '
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
print("".join(o["state"] for o in doc["objects"] if o["name"] == sys.argv[2]))
' "$1" "$2"
}

# ---- options and exit codes ----------------------------------------------------------

run ls --help
check "ls --help: exit 0, usage on stdout" test "$RC" -eq 0 -a -s "$D/out" -a ! -s "$D/err"
check "ls --help names the columns" grep -q 'CREATOR' "$D/out"
run rm --help
check "rm --help: exit 0, usage on stdout" test "$RC" -eq 0 -a -s "$D/out" -a ! -s "$D/err"
run --help
check "the command list has ls and rm" eval 'grep -q "^  ls " "$D/out" && grep -q "^  rm " "$D/out"'

run ls extra
check "ls with an argument: exit 2" test "$RC" -eq 2
run ls --bogus
check "ls --bogus: exit 2, one line and a hint" eval '[ "$RC" -eq 2 ] && [ "$(lines "$D/err")" -eq 2 ]'
run rm
check "rm without names: exit 2" test "$RC" -eq 2
run rm --dry-run
check "rm --dry-run without --stale: exit 2" test "$RC" -eq 2
run rm --stale fifo:///x
check "rm --stale with names: exit 2" test "$RC" -eq 2

# ---- listing ----------------------------------------------------------------------------

run ls
check "ls: exit 0" test "$RC" -eq 0
check "ls: a heading with every column" \
	grep -Eq '^KIND +NAME +PERSIST +OWNER +MODE +SIZE +COUNT +CREATOR +STATE$' "$D/out"
run ls --json
check "ls --json: exit 0" test "$RC" -eq 0
check "ls --json: one valid JSON document" json_ok "$D/out"
run ls --all --json
check "ls --all --json: one valid JSON document" json_ok "$D/out"

# ---- a killed listener: dead, then removed by --stale ------------------------------------

sock=$D/crash.sock
mkfifo "$D/lerr"
# not under timeout: the pid killed must be the listener's own (cleanup kills it anyway)
"$IPCX" cat --listen "unix://$sock" --print-url --no-stdin </dev/null >/dev/null 2>"$D/lerr" &
lpid=$!
PIDS+=("$lpid")
url=
read -r -t "$T" url <"$D/lerr" || true
check "listener started" test "$url" = "unix://$sock"
{
	kill -9 "$lpid"
	wait "$lpid" || true
} 2>/dev/null # not bash's "Killed" notice

run ls
check "killed listener: its socket shown dead" \
	eval 'grep -E "^socket +$sock .* dead$" "$D/out" >/dev/null'
run ls --json
check "killed listener: dead in JSON" eval '[ "$(json_state "$D/out" "socket:$sock")" = dead ]'

run rm --stale --dry-run
check "rm --stale --dry-run: exit 0" test "$RC" -eq 0
check "rm --stale --dry-run: names the socket" grep -q "would remove socket:$sock" "$D/out"
check "rm --stale --dry-run: removes nothing" test -S "$sock"

run rm --stale
check "rm --stale: exit 0" test "$RC" -eq 0
check "rm --stale: names the socket" grep -q "removed socket:$sock" "$D/out"
check "rm --stale: socket gone" test ! -e "$sock"
run ls --json
check "rm --stale: no longer listed" eval '[ -z "$(json_state "$D/out" "socket:$sock")" ]'
check "rm --stale: its record gone" eval '[ -z "$(ls -A "$IPCX_REGISTRY_DIR")" ]'

# ---- rm by name -------------------------------------------------------------------------

echo data >"$D/regular"
run rm "fifo://$D/regular"
check "rm fifo:// of a regular file: exit 1" test "$RC" -eq 1
check "rm fifo:// of a regular file: one line saying why" \
	eval '[ "$(lines "$D/err")" -eq 1 ] && grep -q "not a FIFO" "$D/err"'
run rm "unix://$D/regular" "socket:$D/regular"
check "rm unix:// and socket: of a regular file: exit 1, a line each" \
	eval '[ "$RC" -eq 1 ] && [ "$(lines "$D/err")" -eq 2 ]'
check "the regular file is still there" grep -q data "$D/regular"

mkfifo "$D/f1" "$D/f2"
run rm "fifo://$D/f1" "fifo:$D/f2" "fifo://$D/nonexistent"
check "rm of two FIFOs and a missing one: exit 1" test "$RC" -eq 1
check "rm: both FIFOs removed" test ! -e "$D/f1" -a ! -e "$D/f2"
check "rm: the missing one named on stderr" grep -q nonexistent "$D/err"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
