#!/bin/bash
# Issue 8, fault injection around PREPARE (real CRIU):
#   - a process that stops answering (SIGSTOP) while the others are
#     prepared: the dump gives up after its bounded wait (10 s) with a clear
#     message and a non-zero exit, the others are resumed at once, and the
#     stopped one, once continued, is running too (the RESUME queued behind
#     its PREPARE), not left prepared;
#   - a process that exits while the dump waits for it: the dump fails at
#     once, clearly, and the others are resumed;
#   - a program that forks all the time (tests/progs/fault_forker.c), dumped
#     with --tree while children come and go: every dump either succeeds or
#     fails cleanly with the program still running, most succeed, a restore
#     of the last one brings it back and its shared counter is exact; `crshim
#     gc` removes the endpoints the dead children left.
# After each, nothing is left after `crshim gc` (assert_no_strays).
set -u
. "$(dirname "$0")/lib.sh"
need_criu
for p in soak_worker soak_hammer fault_forker; do
	[ -x "$PROGS/$p" ] || { fail "$p not built"; finish; exit 1; }
done
NR=2
name="crst-fp-$$"
STOP="$TMP/stop"


start_quiet() { # a process with the shim that does nothing -> Q
	setsid env LD_PRELOAD="$SHIM" "$PROGS/soak_hammer" 0 600 "$TMP/qstop" </dev/null >"$TMP/q.out" 2>&1 &
	Q=$!
	CLEANUP_PIDS="$CLEANUP_PIDS $Q"
	wait_files 10 "$TMP/q.out"
}

phase() { "$CRSHIM" status "$1" 2>/dev/null | grep -o 'phase [a-z]*' | head -1 | cut -d' ' -f2; }

all_running() { # every pid answers with phase running
	local p
	for p in "$@"; do [ "$(phase "$p")" = running ] || { echo "    pid $p: phase '$(phase "$p")'"; return 1; }; done
}

start_soak_set 16
start_quiet

# --- 1. a process stops answering during PREPARE ---
kill -STOP "$Q"
t0=$(date +%s.%N)
out=$("$CRSHIM" dump -D "$TMP/stopped" $PIDS "$Q" 2>&1)
rc=$?
t1=$(date +%s.%N)
secs=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
check "dump with a stopped process fails (exit $rc)" test $rc -ne 0
check "... after a bounded wait (${secs} s, at most 15)" awk "BEGIN { exit !($secs <= 15) }"
check "... saying which process does not answer" grep -q "cannot prepare pid $Q: no answer" <<<"$out"
check "the other processes are resumed at once" all_running $PIDS
kill -CONT "$Q"
sleep 0.5
check "the stopped process, continued, is running too (not left prepared)" all_running "$Q"
check "everybody still runs" all_alive $PIDS "$Q"
assert_no_strays "a stopped process"

# --- 2. a process exits while the dump waits for it ---
kill -STOP "$Q"
"$CRSHIM" dump -D "$TMP/exited" $PIDS "$Q" >"$TMP/exited.out" 2>&1 &
d=$!
for _ in $(seq 100); do [ "$(phase "${PIDS##* }")" = prepared ] && break; sleep 0.05; done
t0=$(date +%s.%N)
kill -9 "$Q"
wait "$d"
rc=$?
t1=$(date +%s.%N)
secs=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
check "dump with a process that exits during PREPARE fails (exit $rc)" test $rc -ne 0
check "... at once (${secs} s after it exited)" awk "BEGIN { exit !($secs <= 3) }"
check "... naming it: $(grep -m1 "pid $Q" "$TMP/exited.out")" grep -q "cannot prepare pid $Q" "$TMP/exited.out"
check "the other processes are resumed" all_running $PIDS
check "no manifest in the failed checkpoint" test ! -e "$TMP/exited/manifest.json"
touch "$STOP"
for p in $PIDS; do wait "$p"; done
check "the set finishes with its pool intact" grep -q '^OK' "$TMP/res.0" "$TMP/res.1"
assert_no_strays "a process that exits"

# --- 3. a program that forks all the time, dumped with --tree ---
rm -f "$TMP/fstop" "$TMP/fres"
setsid env LD_PRELOAD="$SHIM" "$PROGS/fault_forker" "$TMP/fstop" "$TMP/fres" </dev/null >"$TMP/f.out" 2>&1 &
F=$!
CLEANUP_PIDS="$CLEANUP_PIDS $F"
wait_files 10 "$TMP/f.out"
sleep 0.5
okc=0
bad=0
for i in 1 2 3 4 5 6; do
	if "$CRSHIM" dump -D "$TMP/fork$i" --tree --leave-running "$F" >"$TMP/fork$i.out" 2>&1; then
		okc=$((okc + 1))
		last=$i
	elif ! grep -q "^crshim dump: " "$TMP/fork$i.out" || ! kill -0 "$F" 2>/dev/null; then
		bad=$((bad + 1))
		sed 's/^/    /' "$TMP/fork$i.out" | head -5
	else
		echo "# dump $i of the forking program failed cleanly: $(grep -m1 '^crshim dump: ' "$TMP/fork$i.out" | cut -c1-150)"
	fi
	sleep 0.2
done
check "dumps of a forking program: $okc of 6 succeeded, the others failed cleanly" test $bad -eq 0
check "... at least 4 of 6 succeeded" test $okc -ge 4
check "the forking program still runs" kill -0 "$F"
if [ "${CRSHIM_SANITIZED:-}" = address ]; then
	# CRIU 4.2 often fails to restore this ASan-built program (the restored
	# task gets SIGSEGV while CRIU maps its memory back); plain builds do.
	echo "# ASan build: the restore of the forking program is not tested"
	last=""
fi
if [ -n "${last:-}" ]; then
	kill -9 "$F"
	wait "$F" 2>/dev/null
	wait_gone "$F" 10
	if "$CRSHIM" restore -D "$TMP/fork$last" >"$TMP/frestore.out" 2>&1; then
		ok "restore of the forking program from dump $last"
		sleep 1
		touch "$TMP/fstop"
		wait_files 30 "$TMP/fres"
		check "it goes on forking after the restore; its shared counter is exact: $(cat "$TMP/fres" 2>/dev/null)" \
			grep -q '^OK' "$TMP/fres"
	else
		fail "restore of the forking program"
		sed 's/^/    /' "$TMP/frestore.out"
	fi
	wait_gone "$F" 20
fi
touch "$TMP/qstop" "$TMP/fstop"
wait_gone "$F" 20
"$CRSHIM" gc >/dev/null 2>&1
stale=$(for s in "$CRSHIM_RUNDIR"/*.sock; do [ -e "$s" ] || continue; p=$(basename "$s" .sock); [ -e "/proc/$p" ] || echo "$s"; done | wc -l)
check "crshim gc removed the endpoints the dead children left ($stale left)" test "$stale" -eq 0
assert_no_strays "a forking program"
finish
