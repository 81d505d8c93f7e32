#!/bin/bash
# SysV ids across a restore.  crshim moves a SysV segment's memory onto a
# file before the dump (CRIU restores no SysV segment outside an IPC
# namespace), so after a restore the program's old id names nothing of its
# own, and the kernel may have given it to another job's segment.
# - --leave-running: the process goes on; shmdt of the moved attachment
#   works, and the id still names the (original) segment.
# - restored: shmdt works; shmctl(IPC_STAT) and shmat on the old id fail
#   with EINVAL without reaching the kernel, although the id still names a
#   segment there (the original, left behind by the killed process: it
#   stands for another job's segment under the same id), which the restored
#   program therefore neither reads nor removes.
set -u
. "$(dirname "$0")/lib.sh"
need_criu

start() { # go-file result-file
	rm -f "$TMP/id"
	setsid env LD_PRELOAD="$SHIM" "$PROGS/sysv_stale" "$1" "$2" </dev/null >"$TMP/id" 2>"$TMP/err" &
	PID=$!
	CLEANUP_PIDS="$CLEANUP_PIDS $PID"
	for i in $(seq 100); do [ -s "$TMP/id" ] && break; sleep 0.05; done
	ID=$(cat "$TMP/id")
}

# --- 1. --leave-running: the process continues with its segment ---------------------------
start "$TMP/go1" "$TMP/res1"
check "the program made a SysV segment (id $ID)" test -n "$ID"
check "dump --leave-running" "$CRSHIM" dump -D "$TMP/ck1" --leave-running "$PID"
touch "$TMP/go1"
wait_files 20 "$TMP/res1" || true
check "continued: pattern intact, shmdt works, the id still names its segment: $(cat "$TMP/res1" 2>/dev/null)" \
	grep -qx "OK detach=0 stat=0 attach=0" "$TMP/res1"
wait_gone "$PID" 10

# --- 2. dumped, killed, restored: the old id is refused ------------------------------------
start "$TMP/go2" "$TMP/res2"
OLD=$ID
check "dump (stopping the process)" "$CRSHIM" dump -D "$TMP/ck2" "$PID"
wait_gone "$PID" 10
# The original segment is still in the kernel (no IPC_RMID), with the same
# id: it stands for "somebody else's segment under that id", which the
# restored program must not reach.
check "the original segment $OLD is still in the kernel" eval "ipcs -m | awk '{print \$2}' | grep -qx '$OLD'"
check "restore" "$CRSHIM" restore -D "$TMP/ck2"
touch "$TMP/go2"
wait_files 20 "$TMP/res2" || true
check "restored: pattern intact, shmdt works, shmctl and shmat on the old id fail with EINVAL: $(cat "$TMP/res2" 2>/dev/null)" \
	grep -qx "OK detach=0 stat=EINVAL attach=EINVAL" "$TMP/res2"
check "the restored program did not remove segment $OLD (it would have, had shmctl reached it)" \
	eval "ipcs -m | awk '{print \$2}' | grep -qx '$OLD'"
ipcrm -m "$OLD" 2>/dev/null
wait_gone "$PID" 10
assert_no_strays "sysv ids"
finish
