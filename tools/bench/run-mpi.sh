#!/bin/bash
# Issue 7's figures: a 4-rank Open MPI job with 256 MiB of private memory per
# rank (ring over vader).  In the same run, for crshim and for the best plain
# CRIU command that works on the same job (the whole tree with
# --tcp-established, which works as long as the node was not cleaned):
#   - how long the ranks are stopped for a --leave-running checkpoint
#     (CRIU's log: first "Seizing" to "Unfreezing tasks"),
#   - the image size,
#   - the restore time (after killing the job; crshim after wiping
#     /dev/shm and /tmp/ompi.*, which plain CRIU cannot survive).
# Plain CRIU gets every chance: the job's output goes to /dev/null (a log
# that grew after the checkpoint fails its restore with "bad size"), and it
# restores only once the connections the job closed before the checkpoint
# left TIME_WAIT (about a minute; before, its listening socket cannot bind:
# "Address already in use").  crshim keeps run.log and restores at once.
#   bash tools/bench/run-mpi.sh BUILD_DIR [ROUNDS]
set -u
BUILD=$(cd "${1:?usage: run-mpi.sh BUILD_DIR [ROUNDS]}" && pwd)
ROUNDS=${2:-2}
CRIU=${CRSHIM_CRIU:-$(cat /opt/crshim/criu/selected 2>/dev/null || echo /opt/crshim/criu/criu)}
export CRSHIM_CRIU=$CRIU
W=$(mktemp -d /tmp/crshim-bench-mpi.XXXXXX)
trap 'pkill -9 -x mpirun 2>/dev/null; rm -rf "$W"' EXIT
RUN=(mpirun --allow-run-as-root --oversubscribe -np 4 --mca btl self,vader)
PROG=("$BUILD/tests/mpi/ring" 100000 20 1024 256)

now() { date +%s.%N; }
stopped() { # dump.log -> seconds the tasks were frozen
	awk -F'[()]' '/Seizing/ && !s { s = $2 } /Unfreezing tasks/ { u = $2 } END { if (s != "" && u != "") printf "%.3f", u - s; else print "?" }' "$1"
}
start_job() { # output extra-mpirun-args...
	local out=$1
	shift
	pkill -9 -x mpirun 2>/dev/null
	sleep 0.5
	rm -rf /tmp/ompi.* /dev/shm/vader_segment.*
	: >"$W/run.log"
	setsid "${RUN[@]}" "$@" "${PROG[@]}" </dev/null >"$out" 2>&1 &
	JOB=$!
	sleep 3
}
time_wait_drained() { # wait (up to 90 s) until no connection is in TIME_WAIT
	local i
	for i in $(seq 900); do
		[ "$(ss -tan state time-wait | wc -l)" -le 1 ] && return 0
		sleep 0.1
	done
	return 1
}
# Kill the job and wait until its pids are free again (the ranks are reaped
# by pid 1 once mpirun is gone, which can take a while here).
kill_job() {
	local pids p i
	pids="$JOB $(pgrep -P "$JOB" | tr '\n' ' ')"
	kill -9 "$JOB" 2>/dev/null
	pkill -9 -f "${PROG[0]}"
	wait "$JOB" 2>/dev/null
	for p in $pids; do
		for i in $(seq 600); do [ -e "/proc/$p" ] || break; sleep 0.05; done
	done
}
restored() { # the restored job runs again: mpirun with its ranks
	local m
	m=$(pgrep -x mpirun | head -1)
	[ -n "$m" ] && [ "$(pgrep -P "$m" | wc -l)" -ge 4 ]
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for r in $(seq "$ROUNDS"); do
	# plain CRIU
	start_job /dev/null
	d="$W/plain$r"
	mkdir -p "$d"
	"$CRIU" dump -t "$JOB" -D "$d" --shell-job --tcp-established --network-lock nftables --ext-unix-sk \
		--leave-running -v4 -o dump.log >/dev/null 2>&1 || echo "plain dump failed (round $r)" >&2
	stopped "$d/dump.log" >>"$W/plain.stopped"; echo >>"$W/plain.stopped"
	du -sm --exclude='*.log' "$d" | cut -f1 >>"$W/plain.size"
	kill_job
	time_wait_drained || echo "TIME_WAIT connections remain (round $r)" >&2
	t0=$(now)
	"$CRIU" restore -D "$d" --shell-job --tcp-established --network-lock nftables --ext-unix-sk -d \
		-o restore.log >/dev/null 2>&1 || echo "plain restore failed (round $r)" >&2
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$W/plain.restore"
	restored || echo "plain CRIU: the restored job is not running (round $r)" >&2
	JOB=$(pgrep -x mpirun | head -1)
	kill_job
	# crshim
	start_job "$W/run.log" -x LD_PRELOAD="$BUILD/libcrshim.so"
	d="$W/crshim$r"
	"$BUILD/crshim" dump -D "$d" --tree --leave-running "$JOB" >/dev/null 2>&1 || echo "crshim dump failed (round $r)" >&2
	stopped "$d"/dumps/*/dump.log >>"$W/crshim.stopped"; echo >>"$W/crshim.stopped"
	du -sm --exclude='*.log' --exclude='*.out' "$d" | cut -f1 >>"$W/crshim.size"
	kill_job
	rm -rf /tmp/ompi.* /dev/shm/vader_segment.*
	t0=$(now)
	"$BUILD/crshim" restore -D "$d" >/dev/null 2>&1 || echo "crshim restore failed (round $r)" >&2
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$W/crshim.restore"
	restored || echo "crshim: the restored job is not running (round $r)" >&2
	JOB=$(pgrep -x mpirun | head -1)
	kill_job
done

echo "4 ranks x 256 MiB private memory, Open MPI 4.1 vader; medians of $ROUNDS rounds"
echo
echo "| | ranks stopped for a --leave-running checkpoint (s) | image (MiB) | restore (s) | restore after /dev/shm and /tmp/ompi.* were wiped |"
echo "|---|---|---|---|---|"
printf '| plain CRIU, whole tree (output to /dev/null; restored after TIME_WAIT drained) | %s | %s | %s | fails (files gone) |\n' "$(grep -v '^$' "$W/plain.stopped" | median)" \
	"$(median <"$W/plain.size")" "$(median <"$W/plain.restore")"
printf '| crshim dump --tree (output to run.log; restored at once) | %s | %s | %s | works |\n' "$(grep -v '^$' "$W/crshim.stopped" | median)" \
	"$(median <"$W/crshim.size")" "$(median <"$W/crshim.restore")"
echo
echo "plain: $CRIU dump -t MPIRUN --shell-job --tcp-established --network-lock nftables --ext-unix-sk --leave-running"
echo "crshim: crshim dump -D DIR --tree --leave-running MPIRUN; crshim restore -D DIR"
