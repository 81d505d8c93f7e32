#!/bin/bash
# Issue 8, soak with real CRIU: CRSHIM_SOAK_CRIU_CYCLES (default 50) consecutive
# checkpoint/restore cycles of processes sharing an unlinked pool
# (tests/progs/soak_worker.c: pool_worker's protocol, running until told to
# stop), alternating
#   odd cycles:  crshim dump --leave-running   (the set keeps running)
#   even cycles: crshim dump, then crshim restore from it
# with full verification: every cycle succeeds, the processes run after it
# (they check each other's writes through the pool all the time and exit on
# the first mismatch), their open fds do not grow, and at the end they meet
# at a barrier in the pool and check every byte of it.  Prints the time per
# cycle (dump, restore) for the README.
set -u
. "$(dirname "$0")/lib.sh"
need_criu
[ -x "$PROGS/soak_worker" ] || { fail "soak_worker not built"; finish; exit 1; }
N=${CRSHIM_SOAK_CRIU_CYCLES:-50}
NR=${CRSHIM_SOAK_RANKS:-4}
SIZE=${CRSHIM_SOAK_POOL_MB:-64}
name="crst-soak-$$"
STOP="$TMP/stop"

start_soak_set "$SIZE" "$TMP/w.%s.out" 10

nfds() { local p n=0; for p in $PIDS; do n=$((n + $(ls "/proc/$p/fd" | wc -l))); done; echo $n; }
ms() { echo $(($(date +%s%N) / 1000000)); }

all_alive || { fail "the set did not start"; finish; exit 1; }
fds0=$(nfds)
failed=0
dump_ms=0
ndump=0
restore_ms=0
nrestore=0
for i in $(seq "$N"); do
	dir="$TMP/c$i"
	if [ $((i % 2)) = 1 ]; then
		t0=$(ms)
		"$CRSHIM" dump -D "$dir" --leave-running $PIDS >"$TMP/cycle.out" 2>&1 || { failed=$i; break; }
		dump_ms=$((dump_ms + $(ms) - t0))
		ndump=$((ndump + 1))
	else
		t0=$(ms)
		"$CRSHIM" dump -D "$dir" $PIDS >"$TMP/cycle.out" 2>&1 || { failed=$i; break; }
		dump_ms=$((dump_ms + $(ms) - t0))
		ndump=$((ndump + 1))
		for p in $PIDS; do { wait "$p"; } 2>/dev/null; wait_gone "$p" 20; done
		t0=$(ms)
		"$CRSHIM" restore -D "$dir" >"$TMP/cycle.out" 2>&1 || { failed=$i; break; }
		restore_ms=$((restore_ms + $(ms) - t0))
		nrestore=$((nrestore + 1))
	fi
	sleep 0.2
	all_alive >"$TMP/alive.out" || { failed=$i; cat "$TMP/alive.out" >>"$TMP/cycle.out"; break; }
	rm -rf "$TMP/c$((i - 2))"
done
if [ "$failed" = 0 ]; then
	ok "$N consecutive cycles (dump --leave-running / dump + restore), the set running after each"
else
	fail "cycle $failed of $N"
	sed 's/^/    /' "$TMP/cycle.out"
fi
fds1=$(nfds)
check "the processes hold as many fds as before the cycles ($fds0 -> $fds1)" test "$fds0" -eq "$fds1"
echo "# soak: $ndump dumps of $NR processes with a ${SIZE} MiB pool: $((dump_ms / (ndump ? ndump : 1))) ms each;" \
	"$nrestore restores: $((restore_ms / (nrestore ? nrestore : 1))) ms each"
touch "$STOP"
check "after the cycles every process checks every byte of the pool" bash -c "
	for r in \$(seq 0 $((NR - 1))); do
		for i in \$(seq 600); do [ -s '$TMP'/res.\$r ] && break; sleep 0.1; done
		grep -q '^OK' '$TMP'/res.\$r || { cat '$TMP'/res.\$r; exit 1; }
	done"
echo "# $(cat "$TMP"/res.* 2>/dev/null | tr '\n' ' ')"
for p in $PIDS; do wait_gone "$p" 30; done
left=$(ls -A /dev/shm | grep -E "^$name|^\.crshim-" || true)
check "nothing left in /dev/shm${left:+: $left}" test -z "$left"
finish
