#!/bin/bash
# Issue 8: signals arriving inside the hooks (tests/progs/fault_signals.c):
# a timer every 200 us and bursts of SIGUSR1 from outside interrupt a loop
# of hooked calls (mmap, mremap, munmap, open, ftruncate, close, unlink,
# shm_open, memfd_create) with handlers that make the same calls.  While
# that goes on: `crshim status` answers every time (no deadlock between a
# hook and a handler, or with the control thread), a checkpoint with
# --leave-running and one that stops the program succeed, the restored
# program goes on under the same storm, and at the end every mapping it
# checked was right, no registry entry was dropped, and it exits 0; then
# nothing is left after `crshim gc` (assert_no_strays).
set -u
. "$(dirname "$0")/lib.sh"
need_criu
[ -x "$PROGS/fault_signals" ] || { fail "fault_signals not built"; finish; exit 1; }
STOP="$TMP/stop"

storm() { # pid seconds: SIGUSR1 bursts in the background
	local pid=$1 end=$((SECONDS + $2))
	while [ $SECONDS -lt $end ] && kill -0 "$pid" 2>/dev/null; do
		for _ in $(seq 200); do kill -USR1 "$pid" 2>/dev/null || break; done
		sleep 0.05
	done
}

statuses() { # pid n: every status answers within 5 s
	local i
	for i in $(seq "$2"); do
		timeout 5 "$CRSHIM" status "$1" >"$TMP/st.out" 2>&1 || { cat "$TMP/st.out"; return 1; }
		grep -q "phase running" "$TMP/st.out" || { cat "$TMP/st.out"; return 1; }
	done
}

setsid env LD_PRELOAD="$SHIM" "$PROGS/fault_signals" "$STOP" "$TMP/res" </dev/null >"$TMP/fs.out" 2>&1 &
P=$!
CLEANUP_PIDS="$CLEANUP_PIDS $P"
wait_files 10 "$TMP/fs.out"
storm "$P" 8 &
S=$!
check "crshim status answers 20 times during the signal storm" statuses "$P" 20
check "a checkpoint with --leave-running during the storm" "$CRSHIM" dump -D "$TMP/ck1" --leave-running "$P"
check "the program still runs" kill -0 "$P"
check "status still answers after it" statuses "$P" 5
if [ "${CRSHIM_SANITIZED:-}" = thread ]; then
	# CRIU cannot restore a TSan-built program (it fails to reserve the
	# runtime's shadow address space, 124 TiB): under TSan (tools/sanitize.sh)
	# the hooks, handlers and control thread are checked through a second
	# --leave-running checkpoint instead, then the program finishes in place.
	echo "# TSan build: the checkpoint that stops the program and its restore are not tested"
	check "a second checkpoint with --leave-running during the storm" \
		"$CRSHIM" dump -D "$TMP/ck2" --leave-running "$P"
	wait "$S" 2>/dev/null
	storm "$P" 4 &
	S=$!
	check "status answers 10 times during a storm after it" statuses "$P" 10
	wait "$S" 2>/dev/null
elif "$CRSHIM" dump -D "$TMP/ck2" "$P"; then
	ok "a checkpoint that stops it, during the storm"
	wait "$S" 2>/dev/null
	{ wait "$P"; } 2>/dev/null
	wait_gone "$P" 20
	check "restore" "$CRSHIM" restore -D "$TMP/ck2"
	check "the restored program runs" kill -0 "$P"
	storm "$P" 4 &
	S=$!
	check "status answers 10 times during a storm after the restore" statuses "$P" 10
	wait "$S" 2>/dev/null
else
	fail "a checkpoint that stops it, during the storm"
	kill -9 "$P" # (it would run until told to stop)
fi
"$CRSHIM" status --json "$P" >"$TMP/json" 2>&1
check "no registry entry was dropped" grep -q '"dropped": 0' "$TMP/json"
touch "$STOP"
wait_files 20 "$TMP/res"
check "the program verified every mapping: $(cat "$TMP/res" 2>/dev/null)" grep -q '^OK' "$TMP/res"
handlers=$(awk '/^OK/ { print $5 }' "$TMP/res" 2>/dev/null)
check "... and ran its handlers many times (${handlers:-0})" test "${handlers:-0}" -gt 1000
wait_gone "$P" 20
assert_no_strays "after the signal storms"
finish
