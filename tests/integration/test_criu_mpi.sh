#!/bin/bash
# Issue 7: a real Open MPI job, checkpointed and restored with crshim again
# and again.  Programs (tests/mpi): ring (large Sendrecv + Allreduce), colls
# (Sendrecv + Bcast + Reduce + Allgather + Allreduce), shmwin
# (MPI_Win_allocate_shared); each prints its running checksum as it goes
# ("progress I SUM" / "iter I SUM") and at the end ("checksum ...").  For
# each program, rank count and transport (vader shared memory with CMA
# single-copy forced, and TCP):
#   mpirun -x LD_PRELOAD=$(crshim lib) PROG > run.log &
#   crshim dump -D ckpt1 --tree --leave-running MPIRUN   (periodic checkpoint, at P1 %)
#   crshim dump -D ckpt2 --tree MPIRUN                   (stops the job, at P2 %)
#   wipe /dev/shm and /tmp/ompi.*, restore ckpt2, then ckpt1, then ckpt2 again.
# The result lines of run.log are compared with an uninterrupted run's (REF,
# N lines) after each step; nothing may be lost or repeated beyond what the
# restores re-execute:
#   after ckpt2 stopped the job    a prefix of REF, its first K2 lines
#   after restoring ckpt2          exactly REF
#   after restoring ckpt1          REF, then REF from line K1+1 to its end, where
#                                  K1 (lines out when ckpt1 froze the job) lies
#                                  between the counts before and after that dump
#   after restoring ckpt2 again    that, then REF from line K2+1 to its end
# Two jobs run without a pause between iterations and with 2-4 MiB messages,
# so the dumps land while large messages are in flight.
#   test_criu_mpi.sh BUILD_DIR [quick]
set -u
. "$(dirname "$0")/lib.sh"
need_criu
command -v mpirun >/dev/null || skip "mpirun not found (openmpi-bin is installed by tools/setup.sh)"
MPI="$BUILD/tests/mpi"
{ [ -x "$MPI/ring" ] && [ -x "$MPI/colls" ]; } || skip "the MPI test programs were not built (libopenmpi-dev missing?)"
QUICK=${2:-}
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --mca btl_tcp_if_include lo)
# shellcheck disable=SC2054 # the commas are inside MCA values
VADER=(--mca btl self,vader)
# vader's single-copy path for large messages, forced (ompi_info --param btl vader --level 9).
# shellcheck disable=SC2054
CMA=(--mca btl self,vader --mca btl_vader_single_copy_mechanism cma)
# shellcheck disable=SC2054
TCP=(--mca btl self,tcp)

wipe_node() { rm -rf /tmp/ompi.* /dev/shm/vader_segment.* /dev/shm/open_mpi.* 2>/dev/null; }
results() { grep -E '^(progress|iter|checksum) ' "$1" 2>/dev/null; }
nresults() { results "$1" | wc -l; }

wait_results() { # log n -> waits (up to 90 s) until the log has n result lines
	for _ in $(seq 900); do
		[ "$(nresults "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# same_lines WHAT EXPECTED_FILE LOG: the result lines of LOG are exactly EXPECTED_FILE.
same_lines() {
	if cmp -s "$2" <(results "$3"); then
		ok "$1 ($(wc -l <"$2") lines)"
	else
		fail "$1"
		diff "$2" <(results "$3") | head -8 | sed 's/^/    /'
	fi
}

# Who holds a pty master now (CRIU restores mpirun's pty at its index: a
# process elsewhere holding that index makes the restore fail).
pty_holders() {
	local f p
	for f in /proc/[0-9]*/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = /dev/ptmx ] || continue
		p=${f#/proc/}
		p=${p%%/*}
		echo "$p ($(cat "/proc/$p/comm" 2>/dev/null))"
	done | sort -u | tr '\n' ' '
}

# Restore DIR and wait until the restored job (same mpirun pid) has ended.
restore_run() { # name dir out mpirun_pid
	if ! "$CRSHIM" restore -D "$2" >"$3" 2>&1; then
		fail "$1"
		sed 's/^/    /' "$3"
		grep -q 'Unable to open dev/ptmx' "$3" && echo "    pty masters now held by: $(pty_holders)"
		return 1
	fi
	ok "$1"
	wait_gone "$4" 120 || { fail "$1: the restored job did not end within 120 s"; return 1; }
}

# The ranks of the job move messages with process_vm_readv/writev (CMA), seen
# by strace attached for 1 s to its first rank.
uses_cma() { # mpirun_pid
	local r
	r=$(pgrep -P "$1" | head -1)
	[ -n "$r" ] || return 1
	timeout -s INT 1 strace -qq -f -e trace=process_vm_readv,process_vm_writev -p "$r" 2>&1 |
		grep -qE 'process_vm_(read|write)v.*= [1-9][0-9]*$'
}

job_steps() { # name np P1 P2 MCA... -- prog args...
	local name=$1 np=$2 p1=$3 p2=$4 mca=() d m n k1lo k1hi k2 app k1
	shift 4
	while [ "$1" != -- ]; do mca+=("$1"); shift; done
	shift
	local prog=$1
	shift
	d="$TMP/$name"
	mkdir -p "$d"
	"${MPIRUN[@]}" -np "$np" "${mca[@]}" "$MPI/$prog" "$@" 2>"$d/ref.err" </dev/null >"$d/ref.out"
	results "$d/ref.out" >"$d/ref"
	n=$(wc -l <"$d/ref")
	if ! grep -q '^checksum' "$d/ref"; then
		fail "$name: the uninterrupted run printed no checksum"
		tail -5 "$d/ref.err" | sed 's/^/    /'
		return
	fi
	wipe_node
	setsid "${MPIRUN[@]}" -np "$np" "${mca[@]}" -x LD_PRELOAD="$SHIM" "$MPI/$prog" "$@" \
		</dev/null >"$d/run.log" 2>"$d/run.err" &
	m=$!
	disown "$m" # killed by the second dump: no job notice in the test's output
	CLEANUP_PIDS="$CLEANUP_PIDS $m"
	wait_results "$d/run.log" $((n * p1 / 100))
	k1lo=$(nresults "$d/run.log")
	if ! "$CRSHIM" dump -D "$d/ckpt1" --tree --leave-running "$m" >"$d/dump1.out" 2>&1; then
		fail "$name: periodic checkpoint (--leave-running) at $k1lo/$n lines"
		sed 's/^/    /' "$d/dump1.out"
		return
	fi
	k1hi=$(nresults "$d/run.log")
	ok "$name: periodic checkpoint at $k1lo-$k1hi/$n lines ($(grep -o '[0-9]* processes, [0-9]* pools' "$d/dump1.out"))"
	check "$name: no consistency warning for a job whose ranks all have the shim" \
		eval "! grep -q 'without the shim\|another host' '$d/dump1.out'"
	check "$name: the job kept running after it" kill -0 "$m"
	wait_results "$d/run.log" $((n * p2 / 100))
	if ! "$CRSHIM" dump -D "$d/ckpt2" --tree "$m" >"$d/dump2.out" 2>&1; then
		fail "$name: checkpoint that stops the job"
		sed 's/^/    /' "$d/dump2.out"
		return
	fi
	wait_gone "$m" 20
	k2=$(nresults "$d/run.log")
	ok "$name: checkpoint that stops the job at $k2/$n lines"
	check "$name: run.log then holds the uninterrupted run's first $k2 lines, the job unfinished" \
		eval "[ $k2 -lt $n ] && cmp -s <(head -n $k2 '$d/ref') <(results '$d/run.log')"
	wipe_node
	if [ "${mca[*]}" = "${CMA[*]}" ]; then
		# Watch the restored ranks while they run: CMA must be what they use.
		if "$CRSHIM" restore -D "$d/ckpt2" >"$d/restore.out" 2>&1; then
			check "$name: the restored ranks move messages by CMA (process_vm_readv)" uses_cma "$m"
		else
			fail "$name: restore after /dev/shm and /tmp/ompi.* were wiped"
			sed 's/^/    /' "$d/restore.out"
		fi
		wait_gone "$m" 120
		same_lines "$name: after restoring ckpt2 (wiped node), run.log is exactly the uninterrupted run's output" \
			"$d/ref" "$d/run.log"
	elif restore_run "$name: restore after /dev/shm and /tmp/ompi.* were wiped" "$d/ckpt2" "$d/restore.out" "$m"; then
		same_lines "$name: run.log is then exactly the uninterrupted run's output" "$d/ref" "$d/run.log"
	fi
	[ -n "$QUICK" ] && return
	# The older checkpoint, after the newer one ran to its end: it re-executes
	# from K1, somewhere between the lines seen before and after that dump.
	sleep 1
	wipe_node
	cp "$d/ref" "$d/expect"
	if restore_run "$name: restore of ckpt1 after ckpt2 ran to the end" "$d/ckpt1" "$d/restore1.out" "$m"; then
		app=$(($(nresults "$d/run.log") - n))
		k1=$((n - app))
		tail -n +$((k1 + 1)) "$d/ref" >>"$d/expect"
		check "$name: ckpt1 froze the job at $k1 lines, within $k1lo-$k1hi" [ "$k1" -ge "$k1lo" -a "$k1" -le "$k1hi" ]
		same_lines "$name: run.log is then REF + REF after line $k1" "$d/expect" "$d/run.log"
	fi
	# The same checkpoint a second time.
	sleep 1
	wipe_node
	if restore_run "$name: second restore of ckpt2" "$d/ckpt2" "$d/restore2.out" "$m"; then
		tail -n +$((k2 + 1)) "$d/ref" >>"$d/expect"
		same_lines "$name: run.log then continues with REF after line $k2" "$d/expect" "$d/run.log"
	fi
	sleep 1
}

job() { # as job_steps, timed
	local t0=$SECONDS
	job_steps "$@"
	echo "# $1: $((SECONDS - t0)) s"
}

# name np ckpt1% ckpt2% transport -- program args
job ring-np4-cma 4 10 50 "${CMA[@]}" -- ring 300 20
job colls-np2-tcp 2 30 85 "${TCP[@]}" -- colls 300 20
if [ -z "$QUICK" ]; then
	# No pause between iterations, 4 MiB messages: the dumps land mid-transfer.
	# Enough iterations that the job is still running well after the stopping
	# checkpoint's mark (over vader 300 ran out during the dump under load).
	job colls-np2-vader-busy 2 20 50 "${VADER[@]}" -- colls 1500 0 4096
	job colls-np4-tcp-busy 4 30 60 "${TCP[@]}" -- colls 600 0 2048
	job ring-np2-vader 2 50 80 "${VADER[@]}" -- ring 400 20
	job shmwin-np4 4 20 70 "${VADER[@]}" -- shmwin 300 20
fi
wipe_node
finish
