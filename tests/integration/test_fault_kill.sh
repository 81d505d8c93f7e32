#!/bin/bash
# Issue 8, fault injection with real CRIU: `crshim dump` killed with SIGKILL
# at each step, on two processes sharing an unlinked pool
# (tests/progs/soak_worker.c; CRSHIM_FAULT_POOL_MB, default 256, so that
# saving it takes a while):
#   prepare   one process is stopped, so the dump waits for its answer while
#             the other is already prepared;
#   CRIU run  as soon as CRIU has seized the processes (TracerPid);
#   pools     the moment DIR/pools/pool-0.img is created (mid-copy);
#   resume    (--leave-running) the moment manifest.json appears;
#   convert   two processes sharing a memfd (pool_worker memfd, dumped
#             separately): the moment crshim creates /dev/shm/.crshim-memfd-*,
#             with the holders' threads parked.
# After each: the processes run and make progress (CPU time grows: none is
# left frozen or parked), no CRIU is left behind, an interrupted
# checkpoint has no manifest and restore refuses it, the one killed after
# its manifest was written is complete.  Then `crshim dump` again works, a
# restore from that last complete checkpoint brings the set back and it
# verifies every byte of its pool.  After each kill and at the end, `crshim
# gc` leaves nothing (assert_no_strays: no endpoint of a dead process, no
# /dev/shm/.crshim-* file, no nftables table of crshim or of its CRIU runs),
# and at the end no temporary file is left in the checkpoint directories.
set -u
. "$(dirname "$0")/lib.sh"
need_criu
[ -x "$PROGS/soak_worker" ] && [ -x "$PROGS/fault_watch" ] || { fail "soak_worker or fault_watch not built"; finish; exit 1; }
NR=2
SIZE=${CRSHIM_FAULT_POOL_MB:-256}
name="crst-fk-$$"
STOP="$TMP/stop"

# No CRIU or action script of this test left (they hold our directory).
criu_gone() {
	local i
	for i in $(seq 300); do
		pgrep -f "criu.* -D $TMP/" >/dev/null || pgrep -f "crshim __hook" >/dev/null || return 0
		sleep 0.1
	done
	echo "    still running: $(pgrep -af "criu.* -D $TMP/|crshim __hook" | head -3)"
	return 1
}

phases() {
	local p out=""
	for p in ${1:-$PIDS}; do out="$out $p:$("$CRSHIM" status "$p" 2>/dev/null | grep -o 'phase [a-z]*' | head -1 | cut -d' ' -f2)"; done
	echo "$out"
}

dump_bg() { # dir args...
	local dir=$1
	shift
	"$CRSHIM" dump -D "$dir" "$@" >"$dir.out" 2>&1 &
	DUMP=$!
}

after_kill() { # label dir
	local label=$1 dir=$2 rc
	wait "$DUMP"
	rc=$?
	check "$label: crshim was killed (exit $rc)" test "$rc" -eq 137
	check "$label: no CRIU left running" criu_gone
	check "$label: every process still runs" all_alive
	check "$label: ... and makes progress" progressing
	check "$label: every shim resumed itself (preparer gone):$(phases)" all_running
	# (after the CRIU run killed: no network lock table of that CRIU is left)
	assert_no_strays "$label"
}

# Every process's shim is back to phase running within 3 s (it polls its
# preparer every 500 ms).
all_running() {
	local i
	for i in $(seq 30); do
		phases | grep -q prepared || return 0
		sleep 0.1
	done
	return 1
}

interrupted() { # label dir
	local out
	check "$1: the interrupted checkpoint has no manifest" test ! -e "$2/manifest.json"
	out=$("$CRSHIM" restore -D "$2" 2>&1)
	check "$1: restore refuses it clearly" grep -q "not a checkpoint, or an interrupted one" <<<"$out"
}

start_soak_set "$SIZE"
check "the set started ($NR processes, ${SIZE} MiB pool)" all_alive

# --- 1. during PREPARE: one process stopped, the other already prepared ---
kill -STOP "$P2"
dump_bg "$TMP/k-prepare" $PIDS
for _ in $(seq 100); do
	"$CRSHIM" status "$P1" 2>/dev/null | grep -q "phase prepared" && break
	sleep 0.05
done
kill -9 "$DUMP"
kill -CONT "$P2"
after_kill "killed during PREPARE" "$TMP/k-prepare"
interrupted "killed during PREPARE" "$TMP/k-prepare"

# --- 2. while CRIU has the processes seized ---
dump_bg "$TMP/k-criu" $PIDS
for _ in $(seq 2000); do
	t=$(awk '/^TracerPid/ { print $2 }' "/proc/$P1/status" 2>/dev/null)
	[ -n "$t" ] && [ "$t" != 0 ] && break
	kill -0 "$DUMP" 2>/dev/null || break
	sleep 0.005
done
kill -9 "$DUMP"
after_kill "killed while CRIU held the processes" "$TMP/k-criu"
interrupted "killed while CRIU held the processes" "$TMP/k-criu"

# --- 3. while saving the pool ---
mkdir "$TMP/k-pools"
dump_bg "$TMP/k-pools" $PIDS
"$PROGS/fault_watch" "$TMP/k-pools" pools/pool-0.img "$DUMP" 9 120 100 >"$TMP/watch.out"
after_kill "killed while saving the pool" "$TMP/k-pools"
interrupted "killed while saving the pool" "$TMP/k-pools"
if [ -e "$TMP/k-pools/pools/pool-0.img" ]; then
	echo "# the interrupted checkpoint keeps a partial pool copy of $(du -m "$TMP/k-pools/pools/pool-0.img" | cut -f1) MiB (of $SIZE)"
fi

# --- 4. --leave-running, killed once the manifest is written (resume step) ---
mkdir "$TMP/k-resume"
dump_bg "$TMP/k-resume" --leave-running $PIDS
"$PROGS/fault_watch" "$TMP/k-resume" manifest.json "$DUMP" 9 120 >"$TMP/watch.out"
after_kill "killed at the resume step" "$TMP/k-resume"
check "killed at the resume step: the checkpoint is complete (manifest written)" test -s "$TMP/k-resume/manifest.json"
echo "# phases after crshim was killed at the resume step:$(phases)"

# --- 5. converting a memfd shared across CRIU runs, holders parked ---
mname="crst-fkm-$$"
MP=""
for r in 0 1; do
	setsid env LD_PRELOAD="$SHIM" "$PROGS/pool_worker" memfd "$mname" "$r" 2 64 100000 20 "$TMP/mres.$r" \
		</dev/null >/dev/null 2>&1 &
	MP="$MP $!"
done
CLEANUP_PIDS="$CLEANUP_PIDS $MP"
sleep 1.5
dump_bg "$TMP/k-convert" $MP
"$PROGS/fault_watch" /dev/shm ".crshim-memfd-$DUMP-*" "$DUMP" 9 120 >"$TMP/watch.out"
wait "$DUMP"
check "killed while moving a memfd: crshim was killed ($(grep fired "$TMP/watch.out"))" grep -q '^fired' "$TMP/watch.out"
check "killed while moving a memfd: no CRIU left running" criu_gone
check "killed while moving a memfd: both holders still run" all_alive "$MP"
check "killed while moving a memfd: their threads are not left parked (they make progress)" progressing "$MP"
for p in $MP; do kill -9 "$p" 2>/dev/null; done
for p in $MP; do wait_gone "$p" 20; done
assert_no_strays "killed while moving a memfd"

# --- the set still checkpoints, and the last complete checkpoint restores ---
echo "# phases before the last dump:$(phases)"
if "$CRSHIM" dump -D "$TMP/final" $PIDS >"$TMP/final.out" 2>&1; then
	ok "crshim dump after all the faults"
else
	fail "crshim dump after all the faults"
	sed 's/^/    /' "$TMP/final.out"
fi
for p in $PIDS; do { wait "$p"; } 2>/dev/null; wait_gone "$p" 20; done
rm -f "/dev/shm/$name" "$TMP"/res.*
if "$CRSHIM" restore -D "$TMP/final" >"$TMP/restore.out" 2>&1; then
	ok "restore from the last complete checkpoint"
	check "the restored processes run" all_alive
	touch "$STOP"
	check "they verify every byte of their pool" bash -c "
		for r in \$(seq 0 $((NR - 1))); do
			for i in \$(seq 600); do [ -s '$TMP'/res.\$r ] && break; sleep 0.1; done
			grep -q '^OK' '$TMP'/res.\$r || exit 1
		done"
	echo "# $(cat "$TMP"/res.* 2>/dev/null | tr '\n' ' ')"
else
	fail "restore from the last complete checkpoint"
	sed 's/^/    /' "$TMP/restore.out"
fi
for p in $PIDS; do wait_gone "$p" 30; done

# --- nothing left behind after crshim gc ---
assert_no_strays "at the end"
left=$(ls -A /dev/shm | grep -E "^\.crshim-|^$name|^$mname" || true)
check "nothing of the test left in /dev/shm${left:+: $left}" test -z "$left"
tmps=$(find "$TMP" -name '*.tmp.*' 2>/dev/null)
check "no temporary file in the checkpoint directories${tmps:+: $tmps}" test -z "$tmps"
finish
