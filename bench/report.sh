#!/usr/bin/env bash
# bench/report.sh - run the full `ipcx bench` (with --peers, and the plot where gnuplot is) and
# describe the machine, as docs/BENCHMARKS.md shows it. Usage: bench/report.sh [path/to/ipcx]
# [outdir]; REPORT_JSON=1 adds bench.json.
set -euo pipefail

ipcx=${1:-build/tools/ipcx/ipcx}
out=${2:-.}
mkdir -p "$out"

echo "## Machine"
echo
echo "- CPU: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')," \
	"$(nproc) online CPU(s) ($(grep -c '^processor' /proc/cpuinfo) listed)"
if grep -qw hypervisor /proc/cpuinfo; then
	echo "- Virtualised: yes (hypervisor flag; $(systemd-detect-virt 2>/dev/null || echo 'type unknown'))"
fi
echo "- Kernel: $(uname -srm)"
echo "- Memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "- Compiler: $(${CC:-cc} --version | head -1)"
echo "- cpuidle driver: $(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo none)"
if [ -r /sys/module/haltpoll/parameters/guest_halt_poll_ns ]; then
	echo "- guest halt polling: guest_halt_poll_ns = $(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns)"
fi
echo "- \$TMPDIR (file rows): $(df -T "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $2 " on " $1}')"
echo "- IPC limits: fs.mqueue.msg_max $(cat /proc/sys/fs/mqueue/msg_max)," \
	"msgsize_max $(cat /proc/sys/fs/mqueue/msgsize_max); kernel.msgmax" \
	"$(cat /proc/sys/kernel/msgmax), msgmnb $(cat /proc/sys/kernel/msgmnb)"
peer() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
echo "- Peers (Debian packages): nng $(peer libnng-dev), ZeroMQ $(peer libzmq3-dev)," \
	"iceoryx $(peer libiceoryx-binding-c-dev)"
echo "- Load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## Full run"
echo
echo '```'
plot=()
if command -v gnuplot > /dev/null; then
	plot=(--plot "$out/bench.png")
fi
"$ipcx" bench --peers "${plot[@]}" | tee "$out/bench.txt"
echo '```'
if [ "${REPORT_JSON:-0}" = 1 ]; then # a second full run, machine-readable
	"$ipcx" bench --peers --json > "$out/bench.json" || true
	python3 -m json.tool "$out/bench.json" > /dev/null && echo "(JSON: $out/bench.json)"
fi
