#!/usr/bin/env bash
# tests/integration/test_shim_secure.sh BUILD_DIR
#
# When the shim must stay out of the way:
#   CRSHIM_DISABLE=1   the library is loaded but inert: no endpoint, no
#                      control thread, `crshim status` says there is no
#                      shim, and the program's results are unchanged;
#   AT_SECURE          (set-user-ID / set-group-ID programs): the loader
#                      ignores an LD_PRELOAD path with a slash in secure
#                      mode, so to prove the shim's own check the test
#                      installs a copy of the shim, set-user-ID, under a
#                      unique name in the system library directory (the
#                      only place the loader preloads from in secure mode;
#                      removed at exit) and preloads it by name:
#                        - a set-group-ID (group nogroup) copy of
#                          tests/progs/shim_secure run by root: AT_SECURE=1,
#                          the shim is mapped, yet no endpoint, no extra
#                          thread, status says no shim, same results;
#                        - a set-user-ID (owner nobody) copy, same checks;
#                        - the control: the same copy without the s-bits
#                          has AT_SECURE=0 and the shim active (endpoint,
#                          thread), so the checks above can fail.
# Needs root for the AT_SECURE part (chown, the system library directory);
# without it only CRSHIM_DISABLE is tested.
set -u
. "$(dirname "$0")/test_shim_lib.sh"
shim_setup test_shim_secure "${1:-}"
need_prog shim_secure

field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" "$1" | head -n 1; }

# start_secure LABEL [VAR=V...] -- CMD: starts it, waits for "ready"
start_secure() {
	local label=$1
	prog_start "$@"
	if ! wait_line "$WORK/$label.out" '^ready' 10; then
		notok "$label: the program did not get ready: $(head -c 300 "$WORK/$label.err")"
		return 1
	fi
}

# expect_inert NAME [LABEL]: no endpoint, one thread, status says no shim, same work
expect_inert() {
	local name=$1 label=${2:-$1} pid
	pid=$(awk '/^ready/ { print $2 }' "$WORK/$name.out")
	check "$label: no endpoint in CRSHIM_RUNDIR" test ! -e "$RUNDIR/$pid.sock"
	check "$label: no endpoint in the default rundir either" test ! -e "/tmp/crshim-$(id -u)/$pid.sock"
	expect_eq "$label: no thread added (the shim started nothing)" 1 "$(field "$WORK/$name.out" threads)"
	"$CRSHIM" status "$pid" >"$WORK/$name.st.out" 2>"$WORK/$name.st.err"
	local rc=$?
	check "$label: crshim status says there is no shim (one line, non-zero exit)" \
		test $rc -ne 0 -a "$(grep -c . "$WORK/$name.st.err")" -eq 1 -a -n "$(grep -E 'endpoint|shim' "$WORK/$name.st.err")"
	expect_eq "$label: same results as without the shim" "$(field "$WORK/plain.out" work)" "$(field "$WORK/$name.out" work)"
	check "$label: the shim printed nothing" test ! -s "$WORK/$name.err"
	prog_stop "$name"
	check "$label: the program exits 0" test $? -eq 0
}

# ---- reference and CRSHIM_DISABLE=1 ------------------------------------------------------------
start_secure plain -- "$PROGS/shim_secure" || shim_finish
expect_eq "without the shim: one thread" 1 "$(field "$WORK/plain.out" threads)"
prog_stop plain
if start_secure active LD_PRELOAD="$SHIMLIB" -- "$PROGS/shim_secure"; then
	expect_eq "with the shim: it is mapped" yes "$(field "$WORK/active.out" shim_mapped)"
	expect_eq "with the shim: the endpoint exists" yes "$(field "$WORK/active.out" endpoint)"
	expect_eq "with the shim: its control thread is there (2 threads)" 2 "$(field "$WORK/active.out" threads)"
	prog_stop active
fi
if start_secure disabled LD_PRELOAD="$SHIMLIB" CRSHIM_DISABLE=1 -- "$PROGS/shim_secure"; then
	expect_eq "CRSHIM_DISABLE=1: the library is loaded" yes "$(field "$WORK/disabled.out" shim_mapped)"
	expect_inert disabled "CRSHIM_DISABLE=1"
fi

# ---- AT_SECURE ---------------------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	echo "# AT_SECURE part skipped: needs root (set-id copies, the system library directory)"
	shim_finish
fi
libc=$(ldd "$PROGS/shim_secure" 2>/dev/null | awk '$1 ~ /^libc\.so/ { print $3 }')
SYSLIB=$(dirname "$(readlink -f "$libc")" 2>/dev/null)
case "$SYSLIB" in
/lib/* | /usr/lib/* | /lib64* | /usr/lib64*) ;;
*) SYSLIB= ;;
esac
SECDIR=$WORK/sec
mkdir -m 755 "$SECDIR"
cp "$PROGS/shim_secure" "$SECDIR/plain"
cp "$PROGS/shim_secure" "$SECDIR/sgid"
cp "$PROGS/shim_secure" "$SECDIR/suid"
chgrp nogroup "$SECDIR/sgid" 2>/dev/null || chgrp 65534 "$SECDIR/sgid"
chmod 2755 "$SECDIR/sgid"
chown nobody "$SECDIR/suid" 2>/dev/null || chown 65534 "$SECDIR/suid"
chmod 4755 "$SECDIR/suid"

# The loader ignores a preload path with a slash in secure mode.
if start_secure sgid-path LD_PRELOAD="$SHIMLIB" -- "$SECDIR/sgid"; then
	expect_eq "set-group-ID program: AT_SECURE is set" 1 "$(field "$WORK/sgid-path.out" at_secure)"
	expect_eq "set-group-ID program: the loader ignored LD_PRELOAD=$SHIMLIB" no "$(field "$WORK/sgid-path.out" shim_mapped)"
	expect_inert sgid-path
fi

if [ -z "$SYSLIB" ] || [ ! -w "$SYSLIB" ]; then
	echo "# the shim's own AT_SECURE check not tested: no writable system library directory ($SYSLIB)"
	shim_finish
fi
NAME=libcrshim-test-$$-$RANDOM.so
SHIM_EXTRA_CLEANUP="rm -f '$SYSLIB/$NAME'"
cp "$SHIMLIB" "$SYSLIB/$NAME"
chmod 4755 "$SYSLIB/$NAME"

# control: not secure, the shim found by name in the system directory is active
if start_secure ctl LD_PRELOAD="$NAME" -- "$SECDIR/plain"; then
	expect_eq "control (no s-bit): AT_SECURE is 0" 0 "$(field "$WORK/ctl.out" at_secure)"
	expect_eq "control: the shim preloaded by name is mapped" yes "$(field "$WORK/ctl.out" shim_mapped)"
	expect_eq "control: ... and active (endpoint)" yes "$(field "$WORK/ctl.out" endpoint)"
	expect_eq "control: ... with its thread" 2 "$(field "$WORK/ctl.out" threads)"
	prog_stop ctl
fi
for kind in sgid suid; do
	if start_secure "$kind" LD_PRELOAD="$NAME" CRSHIM_LOG=debug -- "$SECDIR/$kind"; then
		expect_eq "$kind: AT_SECURE is set" 1 "$(field "$WORK/$kind.out" at_secure)"
		if [ "$(field "$WORK/$kind.out" shim_mapped)" = yes ]; then
			ok "$kind: the loader preloaded the shim (set-user-ID copy in $SYSLIB)"
			expect_inert "$kind"
		else
			echo "# $kind: this loader did not preload $SYSLIB/$NAME in secure mode; the shim's check not reached"
			prog_stop "$kind"
		fi
	fi
done
rm -f "$SYSLIB/$NAME"
shim_finish
