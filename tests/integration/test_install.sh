#!/usr/bin/env bash
# tests/integration/test_install.sh BUILD_DIR
#
# What `cmake --install` gives, used from the installed files only:
#   - `cmake --install BUILD --prefix P` and `DESTDIR=D cmake --install
#     BUILD --prefix Q`: the installed `crshim lib` prints the installed
#     libcrshim.so (found from the binary's own place, not the configured
#     libdir nor the build tree), also through a symlink to the binary and
#     after the whole prefix is moved elsewhere;
#   - the installed `crshim run -- PROG` runs PROG with the installed shim;
#     the installed command still finds CRIU;
#   - `PKG_CONFIG_PATH=P/LIBDIR/pkgconfig pkg-config --cflags --libs crshim`
#     compiles and links tests/progs/api_check.c with `cc`; the program
#     runs without the shim (crshim_available() 0, crshim_check -1/ENOSYS)
#     and with LD_PRELOAD of the installed shim (available with CRIU;
#     crshim_check runs the installed crshim, found beside the library);
#   - the build tree's build/crshim.pc points at the sources' include/;
#   - the installed `crshim --help` lists --timeout for dump and restore,
#     `crshim run --help` prints run's usage, `crshim run -- --help` runs a
#     program named --help.
# Everything is made under one temporary directory, removed at exit.
set -u
. "$(dirname "$0")/lib.sh"
SRC=${CRSHIM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}

for t in cmake pkg-config cc; do
	command -v "$t" >/dev/null || { fail "$t is not installed (tools/setup.sh installs it)"; finish; exit 1; }
done
[ -f "$SRC/tests/progs/api_check.c" ] || { fail "sources not found at $SRC"; finish; exit 1; }
LIBDIR=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
[ -n "$LIBDIR" ] || LIBDIR=lib
case $LIBDIR in /*) skip "CMAKE_INSTALL_LIBDIR is absolute ($LIBDIR): an install there is not relocatable" ;; esac

TMP=$(mktemp -d /tmp/crshim-install.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# Neither the build tree nor /usr/local/bin (where the README's set-up may have installed
# crshim) on PATH: the crshim that crshim_check runs is the one beside the installed library.
CLEANPATH=/usr/sbin:/usr/bin:/sbin:/bin
other=$(PATH=$CLEANPATH command -v crshim 2>/dev/null)
[ -z "$other" ] || echo "# note: $other is on PATH too; crshim_check may run it if the install's is missing"
CRIU_FOUND=$(find_criu 2>/dev/null)

# check_install P: the installed tree under P (a prefix, or DESTDIR/prefix) works.
check_install() {
	local p=$1 what=$2 lib out rc flags
	lib="$p/$LIBDIR/libcrshim.so"
	check "$what: bin/crshim, $LIBDIR/libcrshim.so, include/crshim.h, crshim.pc installed" \
		test -x "$p/bin/crshim" -a -f "$lib" -a -f "$p/include/crshim.h" -a -f "$p/$LIBDIR/pkgconfig/crshim.pc"

	out=$(cd / && env PATH=$CLEANPATH "$p/bin/crshim" lib 2>"$TMP/lib.err")
	rc=$?
	expect_eq_ "$what: crshim lib exits 0" 0 "$rc"
	expect_eq_ "$what: crshim lib prints the installed library" "$(readlink -f "$lib")" "$out"
	check "$what: and that file exists" test -f "$out"
	check "$what: nothing on stderr" test ! -s "$TMP/lib.err"
	mkdir -p "$TMP/links"
	ln -sf "$p/bin/crshim" "$TMP/links/crshim"
	out=$(env PATH=$CLEANPATH "$TMP/links/crshim" lib 2>&1)
	expect_eq_ "$what: the same through a symlink to the binary" "$(readlink -f "$lib")" "$out"

	env PATH=$CLEANPATH "$p/bin/crshim" run -- /bin/true
	expect_eq_ "$what: crshim run -- /bin/true exits 0" 0 "$?"
	out=$(env -u LD_PRELOAD PATH=$CLEANPATH "$p/bin/crshim" run -- sh -c 'echo "$LD_PRELOAD"')
	expect_eq_ "$what: crshim run preloads the installed shim" "$(readlink -f "$lib")" "$(readlink -f "$out")"
	out=$(env PATH=$CLEANPATH "$p/bin/crshim" dump -D "$TMP/never" 2147483646 2>&1)
	rc=$?
	if [ -n "$CRIU_FOUND" ]; then
		check "$what: crshim dump finds CRIU (refuses the pid, not the CRIU: $out)" \
			test $rc -eq 2 -a -z "$(grep -i 'no CRIU' <<<"$out")"
	fi

	flags=$(PKG_CONFIG_PATH="$p/$LIBDIR/pkgconfig" pkg-config --cflags --libs crshim 2>"$TMP/pc.err")
	rc=$?
	expect_eq_ "$what: pkg-config --cflags --libs crshim exits 0 ($(head -c 200 "$TMP/pc.err"))" 0 "$rc"
	out=$(PKG_CONFIG_PATH="$p/$LIBDIR/pkgconfig" pkg-config --variable=includedir crshim)
	check "$what: its includedir holds the installed crshim.h ($out)" \
		test "$(readlink -f "$out/crshim.h")" = "$(readlink -f "$p/include/crshim.h")"
	out=$(PKG_CONFIG_PATH="$p/$LIBDIR/pkgconfig" pkg-config --variable=shim crshim)
	expect_eq_ "$what: its shim variable is the installed library" "$(readlink -f "$lib")" "$(readlink -f "$out")"
	rm -f "$TMP/api_check"
	# shellcheck disable=SC2086  # flags are words
	cc -Wall -Werror -o "$TMP/api_check" "$SRC/tests/progs/api_check.c" $flags 2>"$TMP/cc.err"
	check "$what: cc api_check.c \$(pkg-config --cflags --libs crshim) builds ($flags; $(head -c 300 "$TMP/cc.err"))" \
		test -x "$TMP/api_check"
	[ -x "$TMP/api_check" ] || return 0

	out=$(env -u LD_PRELOAD "$TMP/api_check" avail 2>&1)
	expect_eq_ "$what: without the shim crshim_available() is 0, ENOSYS" "available 0 errno ENOSYS" "$out"
	out=$(env -u LD_PRELOAD "$TMP/api_check" self 2>&1)
	rc=$?
	expect_eq_ "$what: without the shim crshim_check() is -1, ENOSYS" "rc -1 errno ENOSYS/2" "$out/$rc"
	out=$(env LD_PRELOAD="$lib" PATH=$CLEANPATH "$TMP/api_check" avail 2>&1)
	expect_eq_ "$what: with the installed shim crshim_available() is SHIM|CRIU" \
		"available $([ -n "$CRIU_FOUND" ] && echo 3 || echo 1) errno 0" "$out"
	# crshim_check runs the crshim installed beside the library (PATH has none)
	out=$(setsid env LD_PRELOAD="$lib" PATH=$CLEANPATH "$TMP/api_check" self 2>&1 </dev/null)
	rc=$?
	check "$what: with the installed shim crshim_check(0) runs the installed crshim (rc $rc: $(head -c 300 <<<"$out"))" \
		grep -Eq '^report pid [0-9]+ comm api_check dumpable [01] processes 1 shim 1 1$' <<<"$out"
	check "$what: and returns 0 or 1" test $rc -le 1
}
expect_eq_() {
	if [ "$2" == "$3" ]; then ok "$1"; else fail "$1 (want '$2', got '$3')"; fi
}

# ---- cmake --install --prefix ------------------------------------------------------------------
if cmake --install "$BUILD" --prefix "$TMP/p" >"$TMP/install.log" 2>&1; then
	ok "cmake --install --prefix exits 0"
	check_install "$TMP/p" "--prefix"
	# the whole prefix moved: still consistent (nothing points back to the old place)
	mv "$TMP/p" "$TMP/moved"
	check_install "$TMP/moved" "moved prefix"
	rm -rf "$TMP/moved"
else
	fail "cmake --install --prefix: $(tail -5 "$TMP/install.log")"
fi

# ---- DESTDIR -----------------------------------------------------------------------------------
if DESTDIR="$TMP/d" cmake --install "$BUILD" --prefix /opt/crshim-install-test >"$TMP/install.log" 2>&1; then
	ok "DESTDIR=... cmake --install exits 0"
	check "DESTDIR: nothing written outside DESTDIR" test ! -e /opt/crshim-install-test
	check_install "$TMP/d/opt/crshim-install-test" "DESTDIR"
else
	fail "DESTDIR cmake --install: $(tail -5 "$TMP/install.log")"
fi
rm -rf "$TMP/d"

# ---- the build tree's crshim.pc ----------------------------------------------------------------
out=$(PKG_CONFIG_PATH="$BUILD" pkg-config --variable=includedir crshim 2>&1)
check "build/crshim.pc: includedir holds crshim.h ($out)" test -f "$out/crshim.h"
out=$(PKG_CONFIG_PATH="$BUILD" pkg-config --variable=shim crshim 2>&1)
expect_eq_ "build/crshim.pc: shim is the built library" "$(readlink -f "$SHIM")" "$(readlink -f "$out")"

# ---- help --------------------------------------------------------------------------------------
"$CRSHIM" --help >"$TMP/help" 2>&1
for c in dump restore; do
	check "crshim --help: $c lists --timeout SEC" grep -Eq "^  $c .*--timeout SEC" "$TMP/help"
	"$CRSHIM" "$c" --help >"$TMP/help.$c" 2>&1
	check "crshim $c --help lists --timeout SEC too" grep -q -- "--timeout SEC" "$TMP/help.$c"
done
out=$("$CRSHIM" run --help 2>"$TMP/run.err")
rc=$?
check "crshim run --help: usage on stdout, exit 0 ($rc)" test $rc -eq 0 -a -n "$(grep -i usage <<<"$out")"
out=$("$CRSHIM" run -h 2>/dev/null)
check "crshim run -h: the same" grep -qi usage <<<"$out"
mkdir -p "$TMP/pbin"
printf '#!/bin/sh\necho "ran --help $#"\n' >"$TMP/pbin/--help"
chmod +x "$TMP/pbin/--help"
out=$(PATH="$TMP/pbin:$PATH" "$CRSHIM" run -- --help 2>&1)
expect_eq_ "crshim run -- --help runs a program named --help" "ran --help 0" "$out"
finish
