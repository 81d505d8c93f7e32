#!/bin/bash
# Issue 7 with MPICH: a real MPICH job started by hydra, checkpointed and
# restored with crshim.  Debian's MPICH 4.0.2 (ch4:ucx: UCX's SysV and POSIX
# shared-memory transports, MPICH's own /dev/shm segment) is installed next
# to Open MPI by tools/setup.sh; tests/mpi/ring.c is built with mpicc.mpich
# into tests/mpi/ring_mpich.  For each job:
#   mpiexec.hydra -np N -genv LD_PRELOAD $(crshim lib) ring_mpich ... > run.log &
#   crshim dump -D ckpt1 --tree --leave-running HYDRA   (at P1 % of the output)
#   crshim dump -D ckpt2 --tree HYDRA                   (stops the job, at P2 %)
#   wipe what MPICH/UCX left in /dev/shm and /tmp, restore ckpt2, then ckpt1,
#   then ckpt2 again.
# The result lines of run.log ("progress I SUM", "checksum ...") are compared
# with an uninterrupted run's (REF, N lines) as test_criu_mpi.sh does:
#   after ckpt2 stopped the job    the first K2 lines of REF, the job unfinished
#   after restoring ckpt2          exactly REF
#   after restoring ckpt1          REF, then REF from line K1+1 (K1 between the
#                                  line counts before and after that dump)
#   after restoring ckpt2 again    that, then REF from line K2+1
# UCX writes its warnings to stdout: a restored rank's UCX warns at
# MPI_Finalize "Unable to detach shared memory segment ...: Invalid argument"
# (crshim moved its SysV attachments onto files, where shmdt fails with
# EINVAL: README, "memfds and SysV segments"); run.log may hold those lines
# and nothing else besides the results.
#   test_criu_mpich.sh BUILD_DIR [quick]
set -u
. "$(dirname "$0")/lib.sh"
need_criu

# The ranks (built plain with mpicc.mpich) load UCX, whose constructors call
# the shim's hooks before a late-loaded ASan runtime has mapped its shadow:
# under an ASan build the runtime is preloaded first for them, and leak
# checking is off in the ranks (the leaks would be MPICH's and UCX's; the
# shim never calls malloc).  Plain builds preload the shim alone.
RANK_PRELOAD=$SHIM
RANK_ENV=()
if [ "${CRSHIM_SANITIZED:-}" = address ]; then
	RANK_PRELOAD="$(gcc -print-file-name=libasan.so):$SHIM"
	RANK_ENV=(-genv ASAN_OPTIONS "${ASAN_OPTIONS:-}:detect_leaks=0")
fi
command -v mpiexec.hydra >/dev/null || skip "mpiexec.hydra not found (mpich is installed by tools/setup.sh)"
PROG="$BUILD/tests/mpi/ring_mpich"
[ -x "$PROG" ] || skip "tests/mpi/ring_mpich was not built (mpicc.mpich missing?)"
QUICK=${2:-}
HYDRA=(mpiexec.hydra)

# What an MPICH job leaves on the node while it runs: UCX's POSIX segments,
# MPICH's shared-memory file (both unlinked once mapped, normally), and
# nothing in /tmp so far; wiped all the same, as a node cleaner would.
wipe_node() {
	rm -rf /dev/shm/ucx_* /dev/shm/mpich_* /dev/shm/hydra* /tmp/mpich* /tmp/hydra* 2>/dev/null
}
results() { grep -E '^(progress|checksum) ' "$1" 2>/dev/null; }
nresults() { results "$1" | wc -l; }
others() { grep -vE '^(progress|checksum) ' "$1" | grep -vF 'UCX  WARN  Unable to detach shared memory segment'; }

wait_results() { # log n -> waits (up to 90 s) until the log has n result lines
	for _ in $(seq 900); do
		[ "$(nresults "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# same_lines WHAT EXPECTED_FILE LOG: the result lines of LOG are exactly EXPECTED_FILE,
# and LOG holds nothing else but UCX's shmdt warnings.
same_lines() {
	local n
	if cmp -s "$2" <(results "$3"); then
		ok "$1 ($(wc -l <"$2") lines)"
	else
		fail "$1"
		diff "$2" <(results "$3") | head -8 | sed 's/^/    /'
	fi
	n=$(grep -cF 'UCX  WARN  Unable to detach' "$3")
	if [ -z "$(others "$3")" ]; then
		ok "$1: no other output (UCX's shmdt warnings: $n)"
	else
		fail "$1: unexpected output"
		others "$3" | head -8 | sed 's/^/    /'
	fi
}

# Restore DIR and wait until the restored job (same hydra pid) has ended.
restore_run() { # name dir out hydra_pid
	if ! "$CRSHIM" restore -D "$2" >"$3" 2>&1; then
		fail "$1"
		sed 's/^/    /' "$3"
		return 1
	fi
	ok "$1"
	wait_gone "$4" 120 || { fail "$1: the restored job did not end within 120 s"; return 1; }
}

# ranks_have_shim NP: NP processes of $PROG run, each with its shim's endpoint.
ranks_have_shim() {
	local p c=0
	for p in $(pgrep -f "^$PROG "); do
		[ -S "$CRSHIM_RUNDIR/$p.sock" ] || { echo "    rank $p has no endpoint"; return 1; }
		c=$((c + 1))
	done
	[ "$c" -eq "$1" ] || { echo "    $c ranks run"; return 1; }
}

job() { # name np P1 P2 -- ring args...
	local name=$1 np=$2 p1=$3 p2=$4 d m n k1lo k1hi k2 app k1
	shift 5
	d="$TMP/$name"
	mkdir -p "$d"
	"${HYDRA[@]}" -np "$np" "$PROG" "$@" 2>/dev/null </dev/null >"$d/ref.out"
	results "$d/ref.out" >"$d/ref"
	n=$(wc -l <"$d/ref")
	grep -q '^checksum' "$d/ref" || { fail "$name: the uninterrupted run printed no checksum"; return; }
	wipe_node
	setsid "${HYDRA[@]}" -np "$np" -genv LD_PRELOAD "$RANK_PRELOAD" "${RANK_ENV[@]}" "$PROG" "$@" \
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
	check "$name: all $np ranks run with the shim" ranks_have_shim "$np"
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
	check "$name: no rank is left" eval "! pgrep -f '^$PROG ' >/dev/null"
	wipe_node
	if restore_run "$name: restore of ckpt2 after /dev/shm and /tmp were wiped" "$d/ckpt2" "$d/restore.out" "$m"; then
		same_lines "$name: run.log is then exactly the uninterrupted run's output" "$d/ref" "$d/run.log"
	fi
	# The older checkpoint, after the newer one ran to its end.
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
	[ -n "$QUICK" ] && return
	# The same checkpoint a second time.
	sleep 1
	wipe_node
	if restore_run "$name: second restore of ckpt2" "$d/ckpt2" "$d/restore2.out" "$m"; then
		tail -n +$((k2 + 1)) "$d/ref" >>"$d/expect"
		same_lines "$name: run.log then continues with REF after line $k2" "$d/expect" "$d/run.log"
	fi
	sleep 1
}

# name np ckpt1% ckpt2% -- ring ITERS INTERVAL_MS [MSG_KIB]
job ring-mpich-np2 2 20 60 -- 300 20
if [ -z "$QUICK" ]; then
	# 4 ranks, 2 MiB messages, a short pause: the dumps land mid-transfer.
	job ring-mpich-np4-busy 4 20 50 -- 600 5 2048 # long enough not to end during the stopping dump
fi
wipe_node
finish
