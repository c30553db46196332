#!/usr/bin/env bash
# bench/cleanup_check.sh - interrupt `ipcx bench` at random points and check that it leaves
# nothing behind: no POSIX queue, no System V queue, no file, nothing in /dev/shm or /tmp (the
# shared-memory rows; iceoryx's RouDi and its clients in the --peers rounds), no RouDi still
# running. Runs in a private IPC and mount namespace (root: unshare) with its own /dev/shm and
# /tmp, so every object seen there is the bench's own.
# Usage: bench/cleanup_check.sh [path/to/ipcx] [rounds]   (default 16 rounds, ~30 s)
# Exit status 0: nothing left in any round; 1: something was; 77: cannot run here (not root,
# no unshare), as CTest's skip code. The random delays pick the interruption points; what is
# checked holds at every point.
set -euo pipefail

ipcx=$(realpath "${1:-build/tools/ipcx/ipcx}")
rounds=${2:-16}
if ! command -v unshare > /dev/null || ! unshare --ipc --mount true 2> /dev/null; then
	echo "cleanup_check.sh: needs unshare --ipc --mount (root): skipped" >&2
	exit 77
fi

inner() { # runs inside the namespaces: $1 ipcx, $2 rounds
	local ipcx=$1 rounds=$2 bad=0 tmp sig how delay pid
	# the program stays reachable through a descriptor when /tmp (its build may be there)
	# is covered by the private one
	exec 9< "$ipcx"
	ipcx=/proc/$$/fd/9
	mount -t mqueue none /dev/mqueue
	mount -t tmpfs none /dev/shm
	mount -t tmpfs none /tmp
	tmp=$(mktemp -d /tmp/ipcx-cleanup.XXXXXX)
	for ((i = 0; i < rounds; i++)); do
		# what the signal reaches: a terminal's Ctrl-C (the whole process group), a kill
		# of the bench alone (SIGTERM: it cleans up; SIGKILL: its janitor does), or one
		# of its workers (the row fails, the run goes on)
		case $((i % 4)) in
		0) how="SIGINT to the process group" ;;
		1) how="SIGTERM to the bench" ;;
		2) how="SIGKILL to one worker" ;;
		3) how="SIGKILL to the bench" ;;
		esac
		delay=$(awk -v s="$RANDOM" 'BEGIN {srand(s); printf "%.2f", 0.05 + rand() * 2}')
		# odd rounds: shared memory and the peers (iceoryx's RouDi started by the bench)
		schemes=mq,sysvmq,file,file+sync,fifo,unix,shm
		peers=
		if ((i % 2)) && "$ipcx" bench --help | grep -q -- --peers; then
			schemes=floor
			peers=--peers
		fi
		TMPDIR=$tmp setsid "$ipcx" bench --quick --runs 1 --size 64 \
			--scheme "$schemes" $peers > "$tmp.out" 2>&1 &
		pid=$!
		sleep "$delay"
		case $((i % 4)) in
		0) kill -INT -- "-$pid" 2> /dev/null || true ;;
		1) kill -TERM "$pid" 2> /dev/null || true ;;
		2) kill -KILL "$(pgrep -P "$pid" | tail -1)" 2> /dev/null || true ;;
		3) kill -KILL "$pid" 2> /dev/null || true ;;
		esac
		{ wait "$pid"; } 2> /dev/null || true
		# after a SIGKILL of the bench its janitor cleans up (and RouDi, told by SIGTERM,
		# shuts down): give them up to 8 s
		for ((t = 0; t < 80; t++)); do
			left=$( (ls -A /dev/mqueue; ipcs -q | awk '$1 ~ /^0x/'; ls -A "$tmp"
				ls -A /dev/shm; ls -A /tmp | grep -v "^${tmp##*/}"
				pgrep -af "$tmp/" | sed 's/^/process: /') 2> /dev/null || true)
			[ -z "$left" ] && break
			sleep 0.1
		done
		if [ -n "$left" ]; then
			echo "round $i ($how after ${delay}s): left behind:"
			echo "$left" | sed 's/^/    /'
			tail -3 "$tmp.out" | sed 's/^/    bench: /'
			bad=1
		else
			echo "round $i ($how after ${delay}s${peers:+, $peers}): nothing left"
		fi
		# the next round starts clean either way
		for q in /dev/mqueue/*; do [ -e "$q" ] && rm -f "$q"; done
		ipcs -q | awk '$2 ~ /^[0-9]+$/ {print $2}' | xargs -r -n1 ipcrm -q 2> /dev/null || true
		pgrep -f "$tmp/" | xargs -r kill -KILL 2> /dev/null || true
		rm -rf "${tmp:?}"/* "$tmp.out" /dev/shm/*
		find /tmp -mindepth 1 -maxdepth 1 ! -name "${tmp##*/}" -exec rm -rf {} + 2> /dev/null || true
	done
	rmdir "$tmp"
	return $bad
}

export -f inner
exec unshare --ipc --mount --fork bash -c 'inner "$0" "$1"' "$ipcx" "$rounds"
