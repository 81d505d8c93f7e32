#!/usr/bin/env bash
# tests/integration/test_shim_badinput.sh BUILD_DIR
#
# `crshim status` on pids it cannot report: each case must say what is
# wrong in exactly one line on stderr, print nothing on stdout (without
# --json) and exit non-zero:
#   a live pid without the shim; a dead pid; a zombie and a dead shim
#   process whose endpoint file was left behind; a live pid whose number
#   has a stale endpoint file; a stopped shim process (no answer in time);
#   a pid of another user asked by a non-root user (both a root process
#   with the shim and another user's plain `sleep`); "abc", 0;
#   no argument; an unknown command.
# Also: several pids with one bad one (the good one is still reported, the
# exit status is non-zero), root may ask another user's shim process, a
# user may ask its own, and --all with no shim process says so.
# Other users are uids that do not exist in /etc/passwd, entered with
# setpriv (no account is created).
set -u
. "$(dirname "$0")/test_shim_lib.sh"
shim_setup test_shim_badinput "${1:-}"
need_prog shim_resources

# one_line LABEL EXPECT_REGEX CMD...: non-zero exit, empty stdout, one stderr line matching
one_line() {
	local label=$1 re=$2 rc nl
	shift 2
	"$@" >"$WORK/o.out" 2>"$WORK/o.err"
	rc=$?
	nl=$(grep -c . "$WORK/o.err")
	if [ $rc -ne 0 ] && [ ! -s "$WORK/o.out" ] && [ "$nl" -eq 1 ] && grep -qE "$re" "$WORK/o.err"; then
		ok "$label: exit $rc, one line: $(cat "$WORK/o.err")"
	else
		notok "$label: want non-zero exit, empty stdout, one stderr line matching /$re/; got exit $rc, stdout $(wc -c <"$WORK/o.out") bytes, $nl lines: $(head -c 300 "$WORK/o.err" | tr '\n' '|')"
	fi
}

# ---- no shim, dead, zombie, stale -------------------------------------------------------------
sleep 60 &
PLAIN=$!
SHIM_PIDS+=("$PLAIN")
one_line "a pid without the shim" "$PLAIN.*(shim|endpoint)" "$CRSHIM" status "$PLAIN"
"$CRSHIM" status --json "$PLAIN" >"$WORK/j.out" 2>"$WORK/j.err"
rc=$?
check "--json on a pid without the shim: non-zero exit, one line on stderr" test $rc -ne 0 -a "$(grep -c . "$WORK/j.err")" -eq 1
sh -c 'exit 0' &
DEAD=$!
wait "$DEAD"
one_line "a dead pid" "$DEAD.*(no such process|not running|does not exist)" "$CRSHIM" status "$DEAD"

# a shim process killed with SIGKILL leaves its endpoint file
prog_start victim LD_PRELOAD="$SHIMLIB" -- "$PROGS/shim_resources" "$WORK"
wait_line "$WORK/victim.out" '^ready' 10
V=$(prog_pid victim)
check "a running shim process has an endpoint" test -S "$RUNDIR/$V.sock"
kill -KILL "$V"
sleep 0.2
one_line "a zombie (killed, not yet reaped) shim process" "$V" "$CRSHIM" status "$V"
prog_stop victim >/dev/null 2>&1
check "SIGKILL leaves the endpoint file behind" test -S "$RUNDIR/$V.sock"
one_line "a dead shim process whose endpoint file is left" "$V.*(no such process|not running|does not exist)" \
	"$CRSHIM" status "$V"
# the same stale socket, now under the number of a live process without the shim
mv "$RUNDIR/$V.sock" "$RUNDIR/$PLAIN.sock"
one_line "a live pid without the shim but with a stale endpoint file" "$PLAIN" "$CRSHIM" status "$PLAIN"
rm -f "$RUNDIR/$PLAIN.sock"

# a stopped shim process cannot answer
prog_start stopped LD_PRELOAD="$SHIMLIB" -- "$PROGS/shim_resources" "$WORK"
wait_line "$WORK/stopped.out" '^ready' 10
T=$(prog_pid stopped)
kill -STOP "$T"
start=$(date +%s)
one_line "a stopped shim process (no answer)" "$T" "$CRSHIM" status "$T"
check "... the answer comes within 10 s" test $(($(date +%s) - start)) -le 10
kill -CONT "$T"
prog_stop stopped >/dev/null

# ---- arguments ------------------------------------------------------------------------------------
one_line "'abc' as a pid" "abc" "$CRSHIM" status abc
one_line "0 as a pid" "'0'|pid" "$CRSHIM" status 0
"$CRSHIM" status >"$WORK/n.out" 2>"$WORK/n.err"
rc=$?
check "no pid: usage on stderr, exit 2" test $rc -eq 2 -a ! -s "$WORK/n.out" -a -n "$(grep -i usage "$WORK/n.err")"
one_line "an unknown command" "frobnicate" "$CRSHIM" frobnicate

# several pids, one of them bad
prog_start good LD_PRELOAD="$SHIMLIB" -- "$PROGS/shim_resources" "$WORK"
wait_line "$WORK/good.out" '^ready' 10
G=$(prog_pid good)
"$CRSHIM" status "$G" "$PLAIN" >"$WORK/m.out" 2>"$WORK/m.err"
rc=$?
check "two pids, one without the shim: exit non-zero" test $rc -ne 0
check "... the good one is still reported" grep -q "^pid $G " "$WORK/m.out"
expect_eq "... one line about the bad one" 1 "$(grep -c "$PLAIN" "$WORK/m.err")"

# --all with nothing in the rundir
EMPTY=$WORK/emptyrun
mkdir -m 700 "$EMPTY"
out=$(CRSHIM_RUNDIR=$EMPTY "$CRSHIM" status --all 2>&1)
rc=$?
expect_eq "--all with no shim process: says so, exit 0" "no process with the shim found 0" "$out $rc"

# ---- other users -----------------------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	echo "# other-user cases skipped: need root and setpriv"
	shim_finish
fi
free_uid() {
	local u=$1
	while getent passwd "$u" >/dev/null || [ -n "$(ps -o pid= -u "$u" 2>/dev/null)" ] || [ -e "/tmp/crshim-$u" ]; do
		u=$((u + 1))
	done
	echo "$u"
}
U1=$(free_uid $((61000 + RANDOM % 1500)))
U2=$(free_uid $((U1 + 1)))
SHIM_EXTRA_CLEANUP="rm -rf /tmp/crshim-$U1 /tmp/crshim-$U2"
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
# the users need to read the binaries: copies in a world-readable dir
BIN=$WORK/bin
mkdir -m 755 "$BIN"
cp "$CRSHIM" "$SHIMLIB" "$PROGS/shim_resources" "$BIN/"
chmod 755 "$BIN"/*
# A process of U1 with the shim (default rundir /tmp/crshim-U1), one of U2 without.
mkdir -m 777 "$WORK/u1"
# (setpriv itself runs without the shim: see test_shim_semantics)
prog_start u1 -- setpriv --reuid="$U1" --regid="$U1" --clear-groups \
	env -u CRSHIM_RUNDIR LD_PRELOAD="$BIN/libcrshim.so" "$BIN/shim_resources" "$WORK/u1"
if ! wait_line "$WORK/u1.out" '^ready' 10; then
	notok "a shim process as uid $U1 did not start: $(head -c 300 "$WORK/u1.err")"
	shim_finish
fi
P1=$(awk '/^ready/ { print $2 }' "$WORK/u1.out")
setpriv --reuid="$U2" --regid="$U2" --clear-groups sleep 60 &
P2=$!
SHIM_PIDS+=("$P2")
sleep 0.2
# root's own shim process: $G (CRSHIM_RUNDIR=$RUNDIR, readable only by root)
one_line "uid $U1 asks about root's shim process" "$G.*(uid 0|permission|denied|another user)" \
	as "$U1" env CRSHIM_RUNDIR="$RUNDIR" "$BIN/crshim" status "$G"
one_line "uid $U1 asks about uid $U2's sleep" "$P2.*(uid $U2|permission|denied|another user)" \
	as "$U1" env -u CRSHIM_RUNDIR "$BIN/crshim" status "$P2"
as "$U1" env -u CRSHIM_RUNDIR "$BIN/crshim" status --json "$P2" >"$WORK/j2.out" 2>"$WORK/j2.err"
rc=$?
check "uid $U1 asks --json about uid $U2's sleep: non-zero exit, one line on stderr" \
	test $rc -ne 0 -a "$(grep -c . "$WORK/j2.err")" -eq 1
out=$(as "$U1" env -u CRSHIM_RUNDIR "$BIN/crshim" status --json "$P1" 2>&1)
check "uid $U1 asks about its own shim process: answered" grep -q "\"pid\": $P1" <<<"$out"
env -u CRSHIM_RUNDIR "$CRSHIM" status --json "$P1" >"$WORK/u1.json" 2>"$WORK/u1.err2"
rc=$?
check "root asks about uid $U1's shim process: answered (root is allowed)" test $rc -eq 0
check "... and the record says uid $U1" grep -q "\"uid\": $U1" "$WORK/u1.json"
one_line "root asks about uid $U2's sleep (no shim)" "$P2.*(shim|endpoint)" env -u CRSHIM_RUNDIR "$CRSHIM" status "$P2"
prog_stop u1 >/dev/null
shim_finish
