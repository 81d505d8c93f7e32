#!/bin/bash
# The main job, shown end to end: four independently started processes
# share a 64 MiB pool that was mmap'ed and then unlinked in /dev/shm (what
# CRIU alone refuses: "Can't dump ghost file ... increase limit", or copies
# once per process and breaks the sharing).  crshim checkpoints them, they
# are killed, /dev/shm is emptied of the job's files, crshim restores them,
# and they finish with their shared-memory checks verified.
#   bash tools/demo.sh [BUILD_DIR]     (run by: bash tools/setup.sh demo)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-${CRSHIM_BUILD_DIR:-$REPO/build}}
BUILD=$(cd "$BUILD" && pwd)
CRSHIM=$BUILD/crshim
WORKER=$BUILD/tests/progs/pool_worker
NR=4 MB=64 ITERS=300
WORK=$(mktemp -d /tmp/crshim-demo.XXXXXX)
NAME=crshim-demo-pool-$$
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

[ "$(id -u)" = 0 ] || { echo "the demo runs CRIU and needs root" >&2; exit 1; }
say() { printf '\n== %s\n' "$*"; }

say "1. start $NR independent processes sharing a $MB MiB pool (open + mmap MAP_SHARED + unlink in /dev/shm)"
for r in $(seq 0 $((NR - 1))); do
	setsid env LD_PRELOAD="$("$CRSHIM" lib)" "$WORKER" file "$NAME" "$r" "$NR" "$MB" "$ITERS" 20 \
		"$WORK/result.$r" </dev/null >/dev/null 2>&1 &
	PIDS="$PIDS $!"
done
PIDS=${PIDS# }
sleep 1.5
echo "   pids: $PIDS"
"$CRSHIM" status ${PIDS%% *} | sed 's/^/   /'

say "2. checkpoint them (one CRIU run per process, all frozen together; the pool saved once)"
t0=$(date +%s.%N)
# bash reports killed jobs on its stderr as it reaps them: keep that quiet
{
	"$CRSHIM" dump -D "$WORK/ckpt" $PIDS 2>&3 | sed 's/^/   /'
	t1=$(date +%s.%N)
	for p in $PIDS; do wait "$p" || true; done
} 3>&2 2>/dev/null
echo "   the processes are gone: $(for p in $PIDS; do kill -0 $p 2>/dev/null && echo "$p still there"; done)none left"

say "3. empty /dev/shm of the job's files (as a node cleanup after the job would)"
rm -f "/dev/shm/$NAME" /dev/shm/.crshim-*
echo "   files of the job left in /dev/shm: $(ls /dev/shm | grep -c "$NAME" || true)"

say "4. restore"
t2=$(date +%s.%N)
"$CRSHIM" restore -D "$WORK/ckpt" | sed 's/^/   /'
t3=$(date +%s.%N)

say "5. wait for the restored processes to finish their work"
for i in $(seq 600); do
	n=0
	for f in "$WORK"/result.*; do [ -s "$f" ] && n=$((n + 1)); done
	[ "$n" -ge "$NR" ] && break
	sleep 0.1
done
okc=0
for r in $(seq 0 $((NR - 1))); do
	printf '   rank %d: %s\n' "$r" "$(cat "$WORK/result.$r" 2>/dev/null || echo 'no result')"
	grep -q '^OK' "$WORK/result.$r" 2>/dev/null && okc=$((okc + 1))
done

say "figures (shared pool)"
printf '   image size   %s (pool saved once: %s)\n' "$(du -sh "$WORK/ckpt" | cut -f1)" \
	"$(du -sh "$WORK/ckpt/pools" | cut -f1)"
printf '   dump         %.2f s (crshim dump, whole command)\n' "$(awk "BEGIN{print $t1 - $t0}")"
printf '   restore      %.2f s (crshim restore, whole command)\n' "$(awk "BEGIN{print $t3 - $t2}")"
if [ "$okc" != "$NR" ]; then
	echo "   result       FAILED: $okc of $NR processes verified their shared memory" >&2
	exit 1
fi
echo "   result       all $NR processes finished; each verified the others' writes through the restored pool"

# ---- part 2: a real Open MPI job ------------------------------------------
RING=$BUILD/tests/mpi/ring
if ! command -v mpirun >/dev/null || [ ! -x "$RING" ]; then
	echo "(Open MPI part skipped: mpirun or $RING missing)"
	exit 0
fi
MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np 4 --mca btl self,vader)
say "6. an Open MPI job: 4 ranks, a ring of 1 MiB messages + MPI_Allreduce, over shared memory"
ref=$("${MPIRUN[@]}" "$RING" 200 0 </dev/null 2>/dev/null | grep '^checksum')
echo "   uninterrupted run: $ref"
setsid "${MPIRUN[@]}" -x LD_PRELOAD="$("$CRSHIM" lib)" "$RING" 200 30 </dev/null >"$WORK/run.log" 2>&1 &
JOB=$!
PIDS="$PIDS $JOB"
for i in $(seq 100); do grep -q '^progress' "$WORK/run.log" 2>/dev/null && break; sleep 0.1; done
"$CRSHIM" dump -D "$WORK/mpi1" --tree --leave-running "$JOB" | sed 's/^/   /'
sleep 1
{
	"$CRSHIM" dump -D "$WORK/mpi2" --tree "$JOB" 2>&3 | sed 's/^/   /'
	wait "$JOB" || true
} 3>&2 2>/dev/null
echo "   run.log so far: $(grep -c '^progress' "$WORK/run.log") progress lines; the job is gone"
say "7. wipe /dev/shm/vader_segment.* and /tmp/ompi.* (what a node cleanup does), restore the job"
rm -rf /tmp/ompi.* /dev/shm/vader_segment.*
t4=$(date +%s.%N)
"$CRSHIM" restore -D "$WORK/mpi2" | sed 's/^/   /'
t5=$(date +%s.%N)
for i in $(seq 600); do grep -q '^checksum' "$WORK/run.log" && break; sleep 0.1; done
got=$(grep '^checksum' "$WORK/run.log")
echo "   restored run:      $got"
printf '   image size   %s; restore %.2f s\n' "$(du -sh "$WORK/mpi2" | cut -f1)" "$(awk "BEGIN{print $t5 - $t4}")"
if [ -n "$ref" ] && [ "$got" = "$ref" ]; then
	echo "   result       the restored job printed exactly the uninterrupted run's checksum"
	exit 0
fi
echo "   result       FAILED: the checksums differ" >&2
exit 1
