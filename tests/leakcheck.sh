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

# Whether an object is in use by a live process right now. Every test of this run has
# ended when "check" runs, so a new object in use belongs to some other run on this
# machine (developers run several build trees at once), not to a leak of this one.
in_use() {
	local obj=$1 f
	case $obj in
	sysv-shm:*)
		# key:id; in use while attached (nattch, the 7th column)
		awk -v id="$(echo "$obj" | cut -d: -f3)" \
			'NR > 1 && $2 == id && $7 > 0 { found = 1 } END { exit !found }' \
			/proc/sysvipc/shm 2>/dev/null
		return
		;;
	sysv-*) return 1 ;;
	esac
	[ -e "$obj" ] || return 1
	if [ -S "$obj" ]; then
		grep -qF " $obj" /proc/net/unix 2>/dev/null
		return
	fi
	for f in /proc/[0-9]*/fd/*; do
		case $(readlink "$f" 2>/dev/null) in
		"$obj" | "$obj (deleted)" | "/${obj##*/}") return 0 ;;
		esac
	done
	grep -qsF "$obj" /proc/[0-9]*/maps
}

# The objects that this run added and that no live process uses, sorted.
added() {
	list | sort | comm -13 "$state" - | while read -r obj; do
		case $obj in
		"$tmp/ipcx-t-$tag-"*) echo "$obj" ;; # this tree's own test directories
		*) in_use "$obj" || echo "$obj" ;;
		esac
	done
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
	new=$(added)
	# Another run on this machine (developers and CI run several trees, normal and ASan, at
	# once) can have an object that is new here and in use by nobody at this instant: a
	# System V semaphore or a fresh queue, which no fd, mapping or pid names, or a POSIX
	# object between two opens. Its test is short and removes it; a leak of this run stays.
	# So look again, for up to 20 s, and keep only what is still there (anything that
	# appears meanwhile came after this run's last test: not ours). This tree's own test
	# directories are leaks at once.
	end=$((SECONDS + 20))
	while ((SECONDS < end)) && echo "$new" | grep -qv -e "^$tmp/ipcx-t-$tag-" -e '^$'; do
		sleep 0.2 # polling a condition, bounded; not a synchronisation
		new=$(comm -12 <(echo "$new") <(added))
	done
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
