#!/bin/bash
# Issue 3: N independently started processes share a pool CRIU cannot handle
# alone; crshim dumps them (one by one, and as a tree), they are killed, the
# pool names are wiped, crshim restores them: contents identical, writes of
# one seen by the others (the workers' final barrier only completes through
# shared memory), every worker runs to completion.  Restoring twice from the
# same checkpoint works too.  sysv: every worker ends with shmdt() of its
# attachment, which crshim moved onto a file: it must detach, both in the
# restored workers and in workers dumped with --leave-running (which are then
# restored too).
#   test_criu_pools.sh BUILD_DIR [MODE...]   (default: file shm memfd sysv)
set -u
. "$(dirname "$0")/lib.sh"
need_criu
shift
MODES=${*:-file shm memfd sysv}
NR=${CRSHIM_TEST_RANKS:-4}
SIZE=${CRSHIM_TEST_POOL_MB:-64}
ITERS=${CRSHIM_TEST_ITERS:-250}

start_workers() { # mode name style -> sets PIDS, ROOT
	local mode=$1 name=$2 style=$3 r
	PIDS=""
	rm -f "$TMP"/res.*
	if [ "$style" = tree ]; then
		# One parent (without the shim) with the workers as its children.
		setsid bash -c "for r in \$(seq 0 $((NR - 1))); do
			LD_PRELOAD=$SHIM $PROGS/pool_worker $mode $name \$r $NR $SIZE $ITERS 20 $TMP/res.\$r >/dev/null 2>&1 &
		done; wait" </dev/null >/dev/null 2>&1 &
		ROOT=$!
		CLEANUP_PIDS="$CLEANUP_PIDS $ROOT"
	else
		for r in $(seq 0 $((NR - 1))); do
			setsid env LD_PRELOAD="$SHIM" "$PROGS/pool_worker" "$mode" "$name" "$r" "$NR" "$SIZE" "$ITERS" 20 \
				"$TMP/res.$r" </dev/null >/dev/null 2>&1 &
			PIDS="$PIDS $!"
		done
		CLEANUP_PIDS="$CLEANUP_PIDS $PIDS"
	fi
	sleep 1.5
	[ "$style" = tree ] && PIDS=$(pgrep -P "$ROOT" | tr '\n' ' ')
	return 0
}

results_ok() { # [mode]: sysv workers must also have shmdt()ed the converted attachment
	local r want='^OK'
	[ "${1:-}" = sysv ] && want='^OK .* detached converted$'
	wait_files 90 $(for r in $(seq 0 $((NR - 1))); do echo "$TMP/res.$r"; done) || return 1
	for r in $(seq 0 $((NR - 1))); do
		grep -q "$want" "$TMP/res.$r" || { echo "    rank $r: $(cat "$TMP/res.$r")"; return 1; }
	done
}

wipe_names() { # the pool's name and anything of the test left in /dev/shm
	rm -f "/dev/shm/$1" /dev/shm/.crshim-*
	ipcrm -a shm 2>/dev/null || true
}

scenario() { # mode style
	local mode=$1 style=$2 name="crst-$1-$2-$$" dir="$TMP/ckpt-$1-$2" p args
	start_workers "$mode" "$name" "$style"
	if [ "$style" = tree ]; then args="--tree $ROOT"; else args=$PIDS; fi
	if ! "$CRSHIM" dump -D "$dir" $args >"$TMP/dump.out" 2>&1; then
		fail "$mode/$style: crshim dump"
		sed 's/^/    /' "$TMP/dump.out"
		return
	fi
	ok "$mode/$style: crshim dump ($(grep -o 'saved [0-9]* pool[s]* once: [0-9.]* MiB' "$TMP/dump.out"))"
	for p in $PIDS ${ROOT:-}; do { wait "$p"; } 2>/dev/null; done
	for p in $PIDS; do wait_gone "$p" 10 || fail "$mode/$style: pid $p still there after the dump"; done
	wipe_names "$name"
	rm -f "$TMP"/res.*
	if "$CRSHIM" restore -D "$dir" >"$TMP/restore.out" 2>&1; then
		ok "$mode/$style: crshim restore"
	else
		fail "$mode/$style: crshim restore"
		sed 's/^/    /' "$TMP/restore.out"
		return
	fi
	check "$mode/$style: all $NR workers finish with shared, intact memory" results_ok "$mode"
	# Again from the same checkpoint, once the first restored run is over.
	for p in $PIDS; do wait_gone "$p" 30; done
	wipe_names "$name"
	rm -f "$TMP"/res.*
	if "$CRSHIM" restore -D "$dir" >"$TMP/restore2.out" 2>&1; then
		check "$mode/$style: second restore from the same checkpoint finishes" results_ok "$mode"
	else
		fail "$mode/$style: second restore"
		sed 's/^/    /' "$TMP/restore2.out"
	fi
	for p in $PIDS; do wait_gone "$p" 30; done
	ROOT=
}

# sysv, --leave-running: the workers go on with the segment moved onto a
# file and shmdt() it at the end; restored from that checkpoint, again.
leave_running() {
	local name="crst-sysv-running-$$" dir="$TMP/ckpt-sysv-running" p
	start_workers sysv "$name" separate
	if ! "$CRSHIM" dump -D "$dir" --leave-running $PIDS >"$TMP/dump.out" 2>&1; then
		fail "sysv/leave-running: crshim dump"
		sed 's/^/    /' "$TMP/dump.out"
		return
	fi
	ok "sysv/leave-running: crshim dump --leave-running"
	check "sysv/leave-running: the running workers finish and shmdt the converted attachment" results_ok sysv
	for p in $PIDS; do { wait "$p"; } 2>/dev/null; wait_gone "$p" 30; done
	wipe_names "$name"
	rm -f "$TMP"/res.*
	if "$CRSHIM" restore -D "$dir" >"$TMP/restore.out" 2>&1; then
		check "sysv/leave-running: restored from it, they finish and shmdt too" results_ok sysv
	else
		fail "sysv/leave-running: crshim restore"
		sed 's/^/    /' "$TMP/restore.out"
	fi
	for p in $PIDS; do wait_gone "$p" 30; done
}

for mode in $MODES; do
	for style in separate tree; do
		ROOT=
		scenario "$mode" "$style"
	done
	[ "$mode" = sysv ] && leave_running
done
finish
