#!/bin/sh
# install_test.sh - smoke test of `cmake --install`: installs a build into a temp directory
# and compiles, links and runs a tiny program against it via pkg-config and find_package.
#
#   usage: install_test.sh BUILD_DIR [SOURCE_DIR]
#   BUILD_DIR must be built already. Prints "N passed, N failed"; exit 0 only if none
#   failed. The build directory is left as it was (install_manifest.txt is removed if this
#   script created it); everything else happens in a mktemp -d directory, removed on exit.
set -u

[ $# -ge 1 ] && [ $# -le 2 ] || {
	echo "usage: install_test.sh BUILD_DIR [SOURCE_DIR]" >&2
	exit 2
}
build=$(cd "$1" && pwd) || exit 2
src=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
[ -f "$build/CMakeCache.txt" ] || {
	echo "install_test.sh: $build is not a CMake build directory" >&2
	exit 2
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ipcx-install.XXXXXX") || exit 1
manifest_existed=no
[ -e "$build/install_manifest.txt" ] && manifest_existed=yes
cleanup() {
	rm -rf "$tmp"
	[ $manifest_existed = yes ] || rm -f "$build/install_manifest.txt"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   $1"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL $1"
	if [ -s "$tmp/log" ]; then
		sed 's/^/     | /' "$tmp/log"
	fi
}
# check NAME CMD...: run CMD with its output in $tmp/log; pass if it exits 0.
check() {
	name=$1
	shift
	if "$@" >"$tmp/log" 2>&1; then
		ok "$name"
	else
		bad "$name"
	fi
}

cache() {
	sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt" | head -n 1
}
prefix=$(cache CMAKE_INSTALL_PREFIX)
cc=${CC:-$(cache CMAKE_C_COMPILER)}
[ -n "$cc" ] || cc=cc
# A sanitizer build installs an instrumented library: its users must link the runtime too.
san=$(cache IPCX_SANITIZE)
sanflags=
[ -z "$san" ] || sanflags="-fsanitize=$san"

# The tiny program: a message over ipcx_pair, and the error text of a bad URL.
cat >"$tmp/tiny.c" <<'EOF'
#include <ipcx.h>
#include <stdio.h>
#include <string.h>

int
main(void)
{
	ipcx_chan *a, *b;
	ipcx_listener *l;
	char buf[32];
	size_t len;
	int rv;

	if ((rv = ipcx_pair(&a, &b, NULL)) != 0) {
		fprintf(stderr, "ipcx_pair: %s\n", ipcx_strerror(rv));
		return 1;
	}
	if ((rv = ipcx_send(a, "installed", 9, 1000)) != 0 ||
	    (rv = ipcx_recv(b, buf, sizeof buf, &len, 1000)) != 0) {
		fprintf(stderr, "send/recv: %s\n", ipcx_strerror(rv));
		return 1;
	}
	ipcx_close(a);
	ipcx_close(b);
	rv = ipcx_listen(&l, "nosuchscheme://x", NULL);
	printf("%.*s ipcx %d.%d.%d %s\n", (int)len, buf, IPCX_VERSION_MAJOR, IPCX_VERSION_MINOR,
	       IPCX_VERSION_PATCH, ipcx_err_name(rv));
	return 0;
}
EOF
want="installed ipcx"
# run_tiny EXE [LIBDIR]: the program must print the expected line.
run_tiny() {
	if [ -n "${2:-}" ]; then
		LD_LIBRARY_PATH=$2 timeout 10 "$1"
	else
		timeout 10 "$1"
	fi >"$tmp/out" || return 1
	grep -q "^$want [0-9]*\.[0-9]*\.[0-9]* IPCX_ESCHEME\$" "$tmp/out" || {
		echo "unexpected output:"
		cat "$tmp/out"
		return 1
	}
}

# ---- 1. a staged install (DESTDIR), the way packagers do it -----------------------------
root=$tmp/root
check "cmake --install with DESTDIR" env DESTDIR="$root" cmake --install "$build"
inst=$root$prefix

check "header installed" test -f "$inst/include/ipcx.h"
pcfile=$(find "$inst" -name ipcx.pc -path '*/pkgconfig/*' 2>/dev/null | head -n 1)
check "ipcx.pc installed" test -n "$pcfile"
cfgfile=$(find "$inst" -name ipcxConfig.cmake 2>/dev/null | head -n 1)
check "ipcxConfig.cmake installed" test -n "$cfgfile"
so=$(find "$inst" -name libipcx.so 2>/dev/null | head -n 1)
check "shared library installed" test -n "$so"
libdir=$(dirname "${so:-$inst/lib/libipcx.so}")
check "static library installed" test -f "$libdir/libipcx.a"
check "ipcx command installed" test -x "$inst/bin/ipcx"
check "ipcx --version runs" timeout 10 "$inst/bin/ipcx" --version
check "man page ipcx.3 installed" test -f "$inst/share/man/man3/ipcx.3"
if [ -f "$src/docs/ipcx.1" ]; then
	check "man page ipcx.1 installed" test -f "$inst/share/man/man1/ipcx.1"
else
	echo "skip man page ipcx.1 (docs/ipcx.1 does not exist yet)"
fi

# ---- 2. pkg-config ------------------------------------------------------------------------
# The sysroot maps the .pc file's -I/-L (which name $prefix) into the staged tree.
pc() {
	PKG_CONFIG_PATH=$(dirname "${pcfile:-$tmp/none/x}") PKG_CONFIG_SYSROOT_DIR=$root \
		pkg-config "$@"
}
pkgflags=$(pc --cflags --libs ipcx 2>"$tmp/log")
check "pkg-config --cflags --libs ipcx" test -n "$pkgflags"
# shellcheck disable=SC2086 # word splitting of the flags is intended
check "compile with pkg-config flags" \
	"$cc" $sanflags -std=c11 -Wall -Wextra -Werror -o "$tmp/tiny_pc" "$tmp/tiny.c" $pkgflags
check "run the pkg-config build (shared library)" run_tiny "$tmp/tiny_pc" "$libdir"
check "pkg-config build uses the installed library" \
	sh -c "LD_LIBRARY_PATH='$libdir' ldd '$tmp/tiny_pc' | grep -F '$libdir/libipcx.so'"

# ---- 3. find_package(ipcx) ----------------------------------------------------------------
mkdir -p "$tmp/proj"
cp "$tmp/tiny.c" "$tmp/proj/tiny.c"
cat >"$tmp/proj/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(tiny LANGUAGES C)
find_package(ipcx 0.1 REQUIRED CONFIG)
add_executable(tiny tiny.c)
target_link_libraries(tiny PRIVATE ipcx::ipcx)
if(TARGET ipcx::ipcx_static)
  add_executable(tiny_static tiny.c)
  target_link_libraries(tiny_static PRIVATE ipcx::ipcx_static)
endif()
EOF
check "find_package(ipcx) configures" \
	cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$inst" \
	-DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$sanflags" -DCMAKE_BUILD_TYPE=Release
check "build against ipcx::ipcx" cmake --build "$tmp/proj/build"
check "run the find_package build (ipcx::ipcx)" run_tiny "$tmp/proj/build/tiny" "$libdir"
if [ -x "$tmp/proj/build/tiny_static" ]; then
	check "run the find_package build (ipcx::ipcx_static)" \
		run_tiny "$tmp/proj/build/tiny_static"
fi

# ---- 4. an install relocated at install time (cmake --install --prefix DIR) ----------------
# The .pc file must then point into DIR, not at the prefix the build was configured with.
reloc=$tmp/reloc
check "cmake --install --prefix" cmake --install "$build" --prefix "$reloc"
rpc=$(find "$reloc" -name ipcx.pc -path '*/pkgconfig/*' 2>/dev/null | head -n 1)
relflags=$(PKG_CONFIG_PATH=$(dirname "${rpc:-$tmp/none/x}") pkg-config --cflags --libs ipcx \
	2>/dev/null)
# shellcheck disable=SC2086
check "pkg-config flags of a --prefix install point into it" \
	sh -c "echo '$relflags' | grep -qF -- '-I$reloc/' && echo '$relflags' | grep -qF -- '-L$reloc/'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
