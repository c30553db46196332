#!/bin/bash
# leakcheck.sh - the CTest fixture that fails the suite when a test run leaves an IPC object
# behind: "setup" snapshots the ipcx objects that already exist, "check" fails on any that
# this run added (POSIX shm and mqueues named ipcx*, System V objects, ipcx names in $TMPDIR,
# and the per-test private directories tagged for this build tree).
#
#   usage: leakcheck.sh setup|check STATEFILE TAG
set -u

[ $# -eq 3 ] || { echo "usage: leakcheck.sh setup|check STATEFILE TAG" >&2; exit 2; }
mode=$1
state=$2
tag=$3
tmp=${TMPDIR:-/tmp}

list() {
	local d
	for d in /dev/shm /dev/mqueue; do
		[ -d "$d" ] && find "$d" -maxdepth 1 -name 'ipcx*' -printf "$d/%f\n" 2>/dev/null
	done
	find "$tmp" -maxdepth 1 \( -name 'ipcx.*' -o -name "ipcx-t-$tag-*" \) \
		-printf "$tmp/%f\n" 2>/dev/null
	# System V objects carry no name: list their keys and ids.
	for f in /proc/sysvipc/msg /proc/sysvipc/sem /proc/sysvipc/shm; do
		[ -r "$f" ] && awk -v f="${f##*/}" 'NR > 1 { print "sysv-" f ":" $1 ":" $2 }' "$f"
	done
	true
}

case $mode in
setup)
	list | sort > "$state"
	;;
check)
	if [ ! -f "$state" ]; then
		echo "leakcheck: no snapshot $state (run with the setup fixture)" >&2
		exit 1
	fi
	new=$(list | sort | comm -13 "$state" -)
	if [ -n "$new" ]; then
		echo "leakcheck: this test run left IPC objects behind:" >&2
		echo "$new" >&2
		# A crashed test cannot clean up: remove its private directories (ours by
		# name), so that they do not pile up; anything else is left for a human.
		echo "$new" | grep "^$tmp/ipcx-t-$tag-" | while read -r d; do
			rm -rf -- "$d"
		done
		exit 1
	fi
	echo "leakcheck: nothing left behind"
	;;
*)
	echo "usage: leakcheck.sh setup|check STATEFILE TAG" >&2
	exit 2
	;;
esac
