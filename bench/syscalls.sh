#!/usr/bin/env bash
# bench/syscalls.sh - which syscalls each bench worker makes, ipcx beside its raw baseline
# (strace -ff; slow, so only counts matter). Usage: bench/syscalls.sh SCHEME SIZE [ipcx]
set -euo pipefail

scheme=${1:?usage: bench/syscalls.sh SCHEME SIZE [path/to/ipcx]}
size=${2:?usage: bench/syscalls.sh SCHEME SIZE [path/to/ipcx]}
ipcx=${3:-build/tools/ipcx/ipcx}
command -v strace > /dev/null || { echo "syscalls.sh: strace is not installed" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/ipcx-syscalls.XXXXXX")
trap 'rm -rf "$dir"' EXIT
strace -ff -o "$dir/t" "$ipcx" bench --quick --runs 1 --scheme "$scheme" --size "$size" \
	> "$dir/out.txt" 2>&1 || true
# The parent forks the ipcx pair (A = echo/receiver, B = timer/sender), then the raw pair.
labels=("parent" "ipcx A (echo, stream receiver)" "ipcx B (timer, stream sender)"
	"raw A (echo, stream receiver)" "raw B (timer, stream sender)")
i=0
for f in $(ls "$dir"/t.* | sort -t. -k2 -n); do
	echo "== ${labels[$i]:-worker} (pid ${f##*.}): $(wc -l < "$f") syscalls," \
		"$(grep -c 'EAGAIN' "$f" || true) EAGAIN"
	awk -F'(' '/^[a-z_0-9]+\(/ {print $1}' "$f" | sort | uniq -c | sort -rn | head -6
	i=$((i + 1))
done
