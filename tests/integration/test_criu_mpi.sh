#!/bin/bash
# Issue 7: a real Open MPI job, checkpointed and restored with crshim again
# and again.  For each program (ring: large Sendrecv + Allreduce; shmwin:
# MPI_Win_allocate_shared), rank count and transport (vader shared memory
# with CMA single-copy, and TCP):
#   mpirun -x LD_PRELOAD=$(crshim lib) PROG > run.log &
#   crshim dump -D ckpt1 --tree --leave-running MPIRUN   (periodic checkpoint)
#   crshim dump -D ckpt2 --tree MPIRUN                   (stops the job)
#   wipe /dev/shm and /tmp/ompi.*, restore ckpt2: the job finishes with the
#   checksum of an uninterrupted run and run.log continues; then restore
#   ckpt1 (after ckpt2) and ckpt2 once more: the same checksum each time.
#   test_criu_mpi.sh BUILD_DIR [quick]
set -u
. "$(dirname "$0")/lib.sh"
need_criu
command -v mpirun >/dev/null || skip "mpirun not found (openmpi-bin is installed by tools/setup.sh)"
MPI="$BUILD/tests/mpi"
[ -x "$MPI/ring" ] || skip "the MPI test programs were not built (libopenmpi-dev missing?)"
QUICK=${2:-}
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --mca btl_tcp_if_include lo)

wipe_node() { rm -rf /tmp/ompi.* /dev/shm/vader_segment.* /dev/shm/open_mpi.* 2>/dev/null; }

reference() { # np transport prog args -> checksum of an uninterrupted run
	local np=$1 btl=$2
	shift 2
	"${MPIRUN[@]}" -np "$np" --mca btl "$btl" "$@" 2>/dev/null </dev/null | grep '^checksum'
}

wait_checksum() { # log -> waits for the checksum line
	local i
	for i in $(seq 900); do
		grep -q '^checksum' "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

log_continues() { # the progress lines never go back, nothing truncated
	awk '/^progress/ { if ($2 < last - 0) bad = 1; last = $2 } END { exit bad }' "$1" &&
		[ "$(grep -c '^checksum' "$1")" = 1 ]
}

job() { # name np btl prog args...
	local name=$1 np=$2 btl=$3 prog=$4 ref out d m p
	shift 4
	d="$TMP/$name"
	mkdir -p "$d"
	ref=$(reference "$np" "$btl" "$MPI/$prog" "$@")
	[ -n "$ref" ] || { fail "$name: the uninterrupted run printed no checksum"; return; }
	wipe_node
	setsid "${MPIRUN[@]}" -np "$np" --mca btl "$btl" -x LD_PRELOAD="$SHIM" "$MPI/$prog" "$@" \
		</dev/null >"$d/run.log" 2>"$d/run.err" &
	m=$!
	CLEANUP_PIDS="$CLEANUP_PIDS $m"
	for p in $(seq 100); do grep -q '^progress' "$d/run.log" 2>/dev/null && break; sleep 0.1; done
	if ! "$CRSHIM" dump -D "$d/ckpt1" --tree --leave-running "$m" >"$d/dump1.out" 2>&1; then
		fail "$name: periodic checkpoint (--leave-running)"
		sed 's/^/    /' "$d/dump1.out"
		return
	fi
	ok "$name: periodic checkpoint ($(grep -o '[0-9]* processes, [0-9]* pools' "$d/dump1.out"))"
	sleep 1
	check "$name: the job kept running after it" kill -0 "$m"
	if ! "$CRSHIM" dump -D "$d/ckpt2" --tree "$m" >"$d/dump2.out" 2>&1; then
		fail "$name: checkpoint that stops the job"
		sed 's/^/    /' "$d/dump2.out"
		return
	fi
	ok "$name: checkpoint that stops the job"
	{ wait "$m"; } 2>/dev/null
	before=$(grep -c '^progress' "$d/run.log")
	wipe_node
	if "$CRSHIM" restore -D "$d/ckpt2" >"$d/restore.out" 2>&1; then
		ok "$name: restore after /dev/shm and /tmp/ompi.* were wiped"
	else
		fail "$name: restore after the wipe"
		sed 's/^/    /' "$d/restore.out"
		return
	fi
	wait_checksum "$d/run.log"
	out=$(grep '^checksum' "$d/run.log")
	check "$name: the restored job prints the uninterrupted run's checksum ($ref)" [ "$out" = "$ref" ]
	check "$name: run.log continues after the restore ($before progress lines before, $(grep -c '^progress' "$d/run.log") after)" \
		log_continues "$d/run.log"
	[ -n "$QUICK" ] && return
	# The older checkpoint, after the newer one ran to its end.
	sleep 1
	wipe_node
	if "$CRSHIM" restore -D "$d/ckpt1" >"$d/restore1.out" 2>&1; then
		for p in $(seq 900); do [ "$(grep -c '^checksum' "$d/run.log")" -ge 2 ] && break; sleep 0.1; done
		check "$name: restoring ckpt1 after ckpt2 finishes with the same checksum" \
			[ "$(grep '^checksum' "$d/run.log" | sort -u)" = "$ref" ]
	else
		fail "$name: restore of ckpt1 after ckpt2"
		sed 's/^/    /' "$d/restore1.out"
	fi
	# The same checkpoint a second time.
	sleep 1
	wipe_node
	if "$CRSHIM" restore -D "$d/ckpt2" >"$d/restore2.out" 2>&1; then
		for p in $(seq 900); do [ "$(grep -c '^checksum' "$d/run.log")" -ge 3 ] && break; sleep 0.1; done
		check "$name: restoring ckpt2 a second time finishes with the same checksum" \
			[ "$(grep -c '^checksum' "$d/run.log")" -ge 3 -a "$(grep '^checksum' "$d/run.log" | sort -u)" = "$ref" ]
	else
		fail "$name: second restore of ckpt2"
		sed 's/^/    /' "$d/restore2.out"
	fi
	sleep 1
}

job ring-np4-vader 4 self,vader ring 300 20
job ring-np2-tcp 2 self,tcp ring 300 20
if [ -z "$QUICK" ]; then
	job ring-np2-vader 2 self,vader ring 300 20
	job ring-np4-tcp 4 self,tcp ring 300 20
	job shmwin-np4 4 self,vader shmwin 300 20
fi
wipe_node
finish
