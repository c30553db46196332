#!/bin/bash
# rpcbind_ctl.sh - start and stop a real Debian rpcbind (127.0.0.1:111, /run/rpcbind.sock) for
# one test, and afterwards remove everything it created (state files, socket, lock, directory).
#
#   usage: rpcbind_ctl.sh start STATEDIR   exit 0 when the rpcbind it started answers; 3 when
#                                          the system's own rpcbind already runs (it is used,
#                                          and port 111 is not free for the test); 77 (skip)
#                                          when none can run here: not root, not installed,
#                                          port 111 taken by something else
#          rpcbind_ctl.sh stop STATEDIR    stop it, remove its files and STATEDIR
# One rpcbind per machine at a time: tests that use it hold the CTest RESOURCE_LOCK "rpcbind"
# (one ctest run) and, for as long as they run, flock(2) on the rpcbind binary itself (every
# build tree and user on the machine: `make test` of two trees at once would otherwise stop
# each other's rpcbind and register the same program). Locking a file that exists wherever
# the tests can run leaves nothing behind.
#          rpcbind_ctl.sh lockfile             print the file to lock
set -u

[ $# -ge 1 ] || { echo "usage: rpcbind_ctl.sh start|stop STATEDIR | lockfile" >&2; exit 2; }
mode=$1
state=${2:-}
[ "$mode" = lockfile ] || [ -n "$state" ] || { echo "rpcbind_ctl.sh: STATEDIR needed" >&2; exit 2; }
RPCBIND=${RPCBIND:-/usr/sbin/rpcbind}
files=(/run/rpcbind.sock /run/rpcbind.lock /run/rpcbind)

skip() {
	echo "SKIP: rpcbind_ctl: $*" >&2
	exit 77
}

port111_open() {
	timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/111' 2>/dev/null
}

# Alive and not a zombie (a daemon reparented to a PID 1 that does not reap stays one).
alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)
	[ "$st" != Z ] && [ "$st" != X ]
}

case $mode in
lockfile)
	echo "$RPCBIND"
	exit 0
	;;
start)
	[ "$(id -u)" -eq 0 ] || skip "rpcbind must be started as root"
	[ -x "$RPCBIND" ] || skip "$RPCBIND is not installed (scripts/deps installs rpcbind)"
	command -v rpcinfo >/dev/null || skip "rpcinfo is not installed"
	mkdir "$state" || exit 1 # a fresh directory: stop removes it
	# An rpcbind this script started for a test that was killed before its stop (a CTest
	# timeout): marked by IPCX_TEST_RPCBIND in its environment. The caller holds the
	# machine-wide lock, so no live test owns it: end it and remove its files.
	for p in $(pgrep -x rpcbind); do
		if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx IPCX_TEST_RPCBIND=1 &&
			alive "$p"; then
			echo "rpcbind_ctl: ending rpcbind $p left by a killed test" >&2
			kill -TERM "$p"
			for i in $(seq 1 100); do
				alive "$p" || break
				sleep 0.05
			done
			alive "$p" && kill -KILL "$p"
			rm -f /run/rpcbind/rpcbind.xdr /run/rpcbind/portmap.xdr /run/rpcbind.sock \
				/run/rpcbind.lock
			rmdir /run/rpcbind 2>/dev/null
		fi
	done
	if port111_open; then
		# The system's own rpcbind (Debian starts one when the package is installed
		# where systemd runs): the tests use it, and stop leaves it alone.
		if rpcinfo -T tcp 127.0.0.1 100000 4 >/dev/null 2>&1 ||
			rpcinfo -T tcp 127.0.0.1 100000 2 >/dev/null 2>&1; then
			echo "rpcbind_ctl: using the rpcbind already running on 127.0.0.1:111" >&2
			exit 3
		fi
		rmdir "$state"
		skip "127.0.0.1:111 is taken by something that is not an rpcbind"
	fi
	: >"$state/existed"
	for f in "${files[@]}"; do
		[ -e "$f" ] && echo "$f" >>"$state/existed"
	done
	# -f: stay in the foreground, so that the pid is rpcbind's; no -w: no warm start from
	# state files an earlier run may have left. setsid: out of the test's process group.
	# (the daemon must not inherit the test's lock: fds 3-9 closed)
	IPCX_TEST_RPCBIND=1 setsid "$RPCBIND" -f </dev/null >"$state/rpcbind.log" 2>&1 \
		3<&- 4<&- 5<&- 6<&- 7<&- 8<&- 9<&- &
	pid=$!
	echo "$pid" >"$state/pid"
	# rpcbind says nothing when it is ready: poll until it answers, bounded (10 s).
	for i in $(seq 1 100); do
		if ! alive "$pid"; then
			cat "$state/rpcbind.log" >&2
			rm -f "$state/pid" "$state/existed" "$state/rpcbind.log"
			rmdir "$state"
			skip "rpcbind exited at start (cannot bind port 111 here?)"
		fi
		if rpcinfo -T tcp 127.0.0.1 100000 4 >/dev/null 2>&1; then
			exit 0
		fi
		sleep "0.0$(((i < 9 ? i : 9)))"
	done
	kill -KILL "$pid" 2>/dev/null
	echo "rpcbind_ctl: rpcbind did not answer within 10 s" >&2
	exit 1
	;;
stop)
	if [ ! -f "$state/pid" ]; then
		rmdir "$state" 2>/dev/null
		exit 0
	fi
	pid=$(cat "$state/pid")
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 100); do
		alive "$pid" || break
		sleep 0.05
	done
	if alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		sleep 0.1
	fi
	# rpcbind writes its registrations for a warm start when it ends: not ours to keep.
	rm -f /run/rpcbind/rpcbind.xdr /run/rpcbind/portmap.xdr
	for f in "${files[@]}"; do
		grep -qxF "$f" "$state/existed" 2>/dev/null && continue
		if [ -d "$f" ]; then
			rmdir "$f" 2>/dev/null
		else
			rm -f "$f"
		fi
	done
	rm -f "$state/pid" "$state/existed" "$state/rpcbind.log"
	rmdir "$state"
	exit 0
	;;
*)
	echo "usage: rpcbind_ctl.sh start|stop STATEDIR" >&2
	exit 2
	;;
esac
