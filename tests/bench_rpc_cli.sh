#!/usr/bin/env bash
# bench_rpc_cli.sh - `ipcx bench --rpc --quick` runs, prints every RPC row with figures (the
# libtirpc ones where ipcx was built with libtirpc) and the targets, and leaves nothing behind.
# Usage: bench_rpc_cli.sh /path/to/ipcx
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
	echo "usage: $0 /path/to/ipcx" >&2
	exit 2
fi
IPCX=$1
D=$(mktemp -d "${TMPDIR:-/tmp}/ipcx-t-${IPCX_TEST_TAG:-benchrpc}-$$-XXXXXX")
trap 'rm -rf "$D"' EXIT
export TMPDIR=$D # the bench's private directory goes in ours: we see it removed
fail=0
check() { # check "what" command...
	local what=$1
	shift
	if "$@"; then echo "ok - $what"; else
		echo "not ok - $what"
		fail=1
	fi
}

rc=0
timeout 120 "$IPCX" bench --rpc --quick --runs 1 >"$D/out" 2>"$D/err" || rc=$?
cat "$D/out"
check "bench --rpc --quick: exit 0" test "$rc" -eq 0
# a row: its name, its wire, then p50 [spread] with a number
for row in rpc-unix rpc-tcp rpc-shm; do
	check "row $row has figures" grep -Eq "^$row +[^ ]+ +[0-9.]+ \[" "$D/out"
done
for row in tirpc-unix tirpc-tcp 'ipcx>tirpc' 'tirpc>ipcx'; do
	check "row $row has figures or says libtirpc is missing" \
		grep -Eq "^$row +[^ ]+ +([0-9.]+ \[|skipped: .*libtirpc)" "$D/out"
done
check "the three targets, each with a status" \
	test "$(grep -Ec '>= +[0-9.]+x: .*(met|not measured)' "$D/out")" -eq 3
check "the private directory is gone" test -z "$(ls -A "$D" | grep -v '^out$\|^err$')"
rc=0
"$IPCX" bench --rpc --scheme tcp >/dev/null 2>&1 || rc=$?
check "--rpc with --scheme: usage error (2)" test "$rc" -eq 2
rc=0
timeout 120 "$IPCX" bench --rpc --quick --runs 1 --csv >"$D/csv" 2>/dev/null || rc=$?
check "--csv: exit 0, 7 rows and 3 targets" eval \
	'test "$rc" -eq 0 && test "$(grep -c "^rpc-\|^tirpc\|^ipcx>" "$D/csv")" -eq 7 &&
	 test "$(grep -c "^target," "$D/csv")" -eq 3'
rm -f "$D/csv"
exit $fail
