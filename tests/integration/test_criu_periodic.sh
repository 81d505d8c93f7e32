#!/bin/bash
# Issue 3: periodic checkpoints of a running set (--leave-running three
# times), then the set is killed and restored from the SECOND checkpoint.
# Also: plain CRIU on the same set restores with the sharing broken (what
# crshim adds), and restoring over an existing named pool is refused
# without --replace; with --replace, a restore that fails (CRIU fails)
# leaves the file that stood there at its path, unchanged.  `crshim dump
# -v` shows CRIU's command line and lines of its log.
set -u
. "$(dirname "$0")/lib.sh"
need_criu
NR=4

start_set() { # mode name iters
	local r
	PIDS=""
	rm -f "$TMP"/res.*
	for r in $(seq 0 $((NR - 1))); do
		setsid env LD_PRELOAD="$SHIM" "$PROGS/pool_worker" "$1" "$2" "$r" "$NR" 32 "$3" 20 "$TMP/res.$r" \
			</dev/null >/dev/null 2>&1 &
		PIDS="$PIDS $!"
	done
	CLEANUP_PIDS="$CLEANUP_PIDS $PIDS"
	sleep 1.5
}

results() { # expect OK or FAIL in every result
	local r
	wait_files 90 $(for r in $(seq 0 $((NR - 1))); do echo "$TMP/res.$r"; done) || return 1
	for r in $(seq 0 $((NR - 1))); do
		grep -q "^$1" "$TMP/res.$r" || { echo "    rank $r: $(cat "$TMP/res.$r")"; return 1; }
	done
}

kill_set() {
	local p
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	for p in $PIDS; do { wait "$p"; } 2>/dev/null; wait_gone "$p" 10; done
}

# --- periodic checkpoints, restore from the second ---
name="crst-periodic-$$"
start_set file "$name" 300
for i in 1 2 3; do
	v=""
	[ $i = 1 ] && v=-v
	if "$CRSHIM" dump $v -D "$TMP/ck$i" --leave-running $PIDS >"$TMP/d$i.out" 2>&1; then
		ok "checkpoint $i with --leave-running"
	else
		fail "checkpoint $i with --leave-running"
		sed 's/^/    /' "$TMP/d$i.out"
	fi
	alive=0
	for p in $PIDS; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
	check "all $NR processes still run after checkpoint $i" [ "$alive" = "$NR" ]
	if [ $i = 1 ]; then
		check "dump -v shows CRIU's command line" grep -q '^  \$ .*criu dump --config ' "$TMP/d$i.out"
		check "dump -v shows lines of CRIU's log" grep -qE '^    \([0-9.]+\) Dumping finished successfully' "$TMP/d$i.out"
	fi
	sleep 0.7
done
kill_set
rm -f "$TMP"/res.* /dev/shm/.crshim-*
check "restore from the second checkpoint" "$CRSHIM" restore -D "$TMP/ck2"
check "the set restored from checkpoint 2 finishes with shared memory" results OK
for p in $PIDS; do wait_gone "$p" 30; done

# --- a named pool standing at its path blocks the restore unless --replace ---
name="crst-named-$$"
start_set named "$name" 200
check "dump of a set sharing a named /dev/shm file" "$CRSHIM" dump -D "$TMP/named" $PIDS
for p in $PIDS; do { wait "$p"; } 2>/dev/null; wait_gone "$p" 10; done
check "the named file is still at its path after the dump" [ -e "/dev/shm/$name" ]
out=$("$CRSHIM" restore -D "$TMP/named" 2>&1)
rc=$?
check "restore over the existing named file is refused" [ $rc -ne 0 ]
check "the refusal names the path and --replace" grep -q "/dev/shm/$name already exists.*--replace" <<<"$out"
check "nothing was restored by the refused attempt" bash -c "! kill -0 ${PIDS%% *} 2>/dev/null"
# --replace, and then CRIU fails: the file that stood there must come back.
sum=$(md5sum <"/dev/shm/$name")
ino=$(stat -c %i "/dev/shm/$name")
cat >"$TMP/fail-criu" <<EOS
#!/bin/bash
case "\$1" in restore) echo "simulated CRIU failure" >&2; exit 1 ;; esac
exec "$CRIU" "\$@"
EOS
chmod +x "$TMP/fail-criu"
expect_fail "a restore with --replace in which CRIU fails" "CRIU failed to restore pid" \
	env CRSHIM_CRIU="$TMP/fail-criu" "$CRSHIM" restore -D "$TMP/named" --replace
check "... leaves the original file at its path (same inode)" test "$(stat -c %i "/dev/shm/$name" 2>/dev/null)" = "$ino"
check "... with its content unchanged" test "$(md5sum <"/dev/shm/$name")" = "$sum"
check "... and no copy moved aside is left" test -z "$(ls -A /dev/shm | grep '^\.crshim-old\.')"
check "... and nothing was restored" bash -c "! kill -0 ${PIDS%% *} 2>/dev/null"
rm -f "$TMP"/res.*
check "restore with --replace" "$CRSHIM" restore -D "$TMP/named" --replace
check "... the replaced file is gone, no copy moved aside is left" test -z "$(ls -A /dev/shm | grep '^\.crshim-old\.')"
check "the named-pool set finishes" results OK
for p in $PIDS; do wait_gone "$p" 30; done
rm -f "/dev/shm/$name"
# Emptied /dev/shm: the named file comes back from the checkpoint.
rm -f "$TMP"/res.*
check "restore after the named file was deleted" "$CRSHIM" restore -D "$TMP/named"
check "the named file is back at its path" [ -e "/dev/shm/$name" ]
check "the set finishes again" results OK
for p in $PIDS; do wait_gone "$p" 30; done
rm -f "/dev/shm/$name"

# --- what plain CRIU does with the same set (dumped one by one) ---
name="crst-plain-$$"
start_set file "$name" 200
plain_ok=1
for p in $PIDS; do
	mkdir -p "$TMP/plain/$p"
	"$CRIU" dump -t "$p" -D "$TMP/plain/$p" --shell-job --ghost-limit 1G -o dump.log >/dev/null 2>&1 || plain_ok=0
done
check "plain CRIU dumps each process with --ghost-limit 1G" [ $plain_ok = 1 ]
images=$(du -sm "$TMP/plain" | cut -f1)
check "plain CRIU stored the 32 MiB pool once per process ($images MiB for $NR)" [ "$images" -ge $((NR * 32)) ]
for p in $PIDS; do { wait "$p"; } 2>/dev/null; wait_gone "$p" 10; done
rm -f "$TMP"/res.*
# Without -d, each criu stays the restored process's parent (and reaps it).
RPIDS=""
# One at a time: each puts its ghost copy at the pool's old name for a moment.
for p in $PIDS; do
	"$CRIU" restore -D "$TMP/plain/$p" --shell-job -v4 -o restore.log >/dev/null 2>&1 &
	RPIDS="$RPIDS $!"
	CLEANUP_PIDS="$CLEANUP_PIDS $!"
	# (a restored worker may detect the damage and exit at once: read the log)
	came=0
	for i in $(seq 100); do
		grep -q "Restore finished successfully" "$TMP/plain/$p/restore.log" 2>/dev/null && { came=1; break; }
		sleep 0.05
	done
	[ $came = 1 ] || { plain_ok=0; grep Error "$TMP/plain/$p/restore.log" | grep -v RLIMIT | sed 's/^/    /'; }
	sleep 0.2
done
check "plain CRIU restores each process" [ $plain_ok = 1 ]
# Each image holds its own copy, taken at a different moment: the restored
# workers find the others' slices inconsistent, or never see them finish.
check "plain CRIU broke the sharing: every worker detects it" results FAIL
head -n1 -q "$TMP"/res.* | sed 's/^/    /'
for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
for p in $RPIDS; do { wait "$p"; } 2>/dev/null; done
finish
