#!/usr/bin/env bash
# bench/syscalls.sh - which syscalls each bench worker makes, ipcx beside its raw baseline
# (strace -ff; slow, so only counts matter). Usage: bench/syscalls.sh SCHEME SIZE [ipcx] [N]
# Threads (sysvmq's waiter) are counted with their process and also shown on their own;
# N (default 6) is how many of each process's most frequent syscalls are listed; more
# options for the bench in $BENCH_ARGS (e.g. BENCH_ARGS="--cpus 1,1").
set -euo pipefail

scheme=${1:?usage: bench/syscalls.sh SCHEME SIZE [path/to/ipcx] [N]}
size=${2:?usage: bench/syscalls.sh SCHEME SIZE [path/to/ipcx] [N]}
ipcx=${3:-build/tools/ipcx/ipcx}
top=${4:-6}
command -v strace > /dev/null || { echo "syscalls.sh: strace is not installed" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/ipcx-syscalls.XXXXXX")
trap 'rm -rf "$dir"' EXIT
# shellcheck disable=SC2086 # BENCH_ARGS is a list of words
strace -ff -o "$dir/t" "$ipcx" bench --quick --runs 1 --scheme "$scheme" --size "$size" \
	${BENCH_ARGS:-} > "$dir/out.txt" 2>&1 || true

# The tree: which file (one per thread) made which process or thread, in order.
parent=$(ls "$dir"/t.* | sed 's/.*\.//' | sort -n | head -1)
declare -A owner # thread id -> its process id
children=()      # processes forked by the parent, in order
for f in "$dir"/t.*; do
	id=${f##*.}
	while read -r kind tid; do
		if [ "$kind" = thread ]; then
			owner[$tid]=$id
		elif [ "$id" = "$parent" ]; then
			children+=("$tid")
		fi
	done < <(awk '/^clone3?\(/ && / = [0-9]+$/ {
		print (/CLONE_THREAD/ ? "thread" : "proc"), $NF }' "$f")
done
# A thread made by a thread belongs to the same process.
proc_of() {
	local t=$1
	while [ -n "${owner[$t]:-}" ]; do t=${owner[$t]}; done
	echo "$t"
}

# The parent forks its janitor first, then per row the ipcx pair (A = echo/receiver, B =
# timer/sender), then the raw pair.
labels=("janitor" "ipcx A (echo, stream receiver)" "ipcx B (timer, stream sender)"
	"raw A (echo, stream receiver)" "raw B (timer, stream sender)")
show() { # $1 label, files...
	local label=$1
	shift
	echo "== $label: $(cat "$@" | grep -c '^[a-z_0-9]*(' || true) syscalls," \
		"$(cat "$@" | grep -c 'EAGAIN' || true) EAGAIN"
	cat "$@" | awk -F'(' '/^[a-z_0-9]+\(/ {print $1}' | sort | uniq -c | sort -rn | head -"$top"
}
show "parent (pid $parent)" "$dir/t.$parent"
i=0
for c in "${children[@]}"; do
	files=("$dir/t.$c")
	threads=()
	for t in "${!owner[@]}"; do
		if [ "$(proc_of "$t")" = "$c" ]; then
			files+=("$dir/t.$t")
			threads+=("$t")
		fi
	done
	show "${labels[$i]:-worker} (pid $c${threads:+, with ${#threads[@]} thread(s)})" "${files[@]}"
	for t in "${threads[@]}"; do
		show "   its thread $t" "$dir/t.$t" | sed 's/^/   /'
	done
	i=$((i + 1))
done
