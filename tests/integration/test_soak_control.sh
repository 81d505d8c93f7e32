#!/bin/bash
# Issue 8, soak of the control protocol: CRSHIM_SOAK_CYCLES (default 1000)
# PREPARE/RESUME cycles of one process, driven over RUNDIR/PID.sock by a
# tiny client (tests/progs/soak_ctl.c), after 20 cycles of warm-up:
#   - every answer is ok, with the phase the request sets, and the shim's
#     own counters (PING) grew by exactly the number of cycles;
#   - the process has the same open fds afterwards, and its resident memory
#     grew by at most 128 KiB;
#   - the figures are printed (time per cycle, fds and RSS before/after).
# Then the same requests (PREPARE, STATUS, PING, RESUME, STATUS) while four
# threads of the program hammer the hooks (mmap, mremap, open/ftruncate,
# shm_open, memfd_create): every answer right, the program's own checks of
# its memory all pass.  tools/sanitize.sh runs this script in the
# ThreadSanitizer build too.  Needs no CRIU and no root.
set -u
. "$(dirname "$0")/lib.sh"
N=${CRSHIM_SOAK_CYCLES:-1000}
STRESS=${CRSHIM_SOAK_STRESS:-200}
[ -x "$PROGS/soak_ctl" ] && [ -x "$PROGS/soak_hammer" ] || { fail "soak_ctl or soak_hammer not built"; finish; exit 1; }

start_hammer() { # threads -> PID (waits for "ready")
	rm -f "$TMP/stop" "$TMP/hammer.out"
	env LD_PRELOAD="$SHIM" "$PROGS/soak_hammer" "$1" 900 "$TMP/stop" >"$TMP/hammer.out" 2>"$TMP/hammer.err" &
	PID=$!
	CLEANUP_PIDS="$CLEANUP_PIDS $PID"
	wait_files 20 "$TMP/hammer.out" && grep -q '^ready' "$TMP/hammer.out"
}

stop_hammer() {
	touch "$TMP/stop"
	wait "$PID"
}

# --- 1. a quiet process: nothing but the cycles changes its state ---
if ! start_hammer 0; then
	fail "the target program did not start: $(head -c 300 "$TMP/hammer.err")"
	finish
	exit 1
fi
SOCK="$CRSHIM_RUNDIR/$PID.sock"
check "the target has its endpoint" test -S "$SOCK"
if out=$("$PROGS/soak_ctl" cycles "$SOCK" "$PID" "$N" 2>&1); then
	ok "$N PREPARE/RESUME cycles, every answer right"
	read -r _ cycles _ us _ f0 _ f1 _ r0 _ r1 <<<"$out"
	echo "# soak: $cycles PREPARE/RESUME cycles: $us us per cycle; fds $f0 -> $f1; RSS $r0 KiB -> $r1 KiB"
	check "the same open fds after $N cycles ($f0 -> $f1)" test "$f0" -eq "$f1"
	check "resident memory grew by at most 128 KiB ($r0 -> $r1 KiB)" test $((r1 - r0)) -le 128
else
	fail "PREPARE/RESUME cycles: $out"
fi
check "crshim status sees the process running afterwards" bash -c "'$CRSHIM' status $PID | grep -q 'phase running'"
stop_hammer
check "the quiet program exits 0" test $? -eq 0

# --- 2. the same requests while four threads hammer the hooks ---
if start_hammer 4; then
	SOCK="$CRSHIM_RUNDIR/$PID.sock"
	if out=$("$PROGS/soak_ctl" stress "$SOCK" "$PID" "$STRESS" 2>&1); then
		ok "$STRESS rounds of PREPARE, STATUS, PING, RESUME, STATUS against 4 busy threads"
	else
		fail "requests against busy threads: $out"
	fi
	stop_hammer
	rc=$?
	check "the busy program's checks all passed ($(cat "$TMP/hammer.out" | tail -1))" test $rc -eq 0
else
	fail "the busy program did not start: $(head -c 300 "$TMP/hammer.err")"
fi
finish
