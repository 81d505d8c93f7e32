#!/bin/bash
# Issue 4: scratch files marked with crshim_mark_scratch(), and what restore
# puts at a scratch file's path.
# - A program marks DIR/d.dat drop (already open) and DIR/s.dat save
#   (before opening it), is dumped (and killed).  Restoring while the
#   original files still stand at their paths needs no --replace; the drop
#   file comes back empty at its recorded size (crshim_scratch_dropped() is
#   1), the save file with its content.
# - Restoring the same checkpoint again (the files are the ones the first
#   restore made) needs no --replace either.
# - Another file standing at the save file's path is refused, named, left
#   untouched, and nothing is restored.
# - DIR itself (and its parent) deleted: restore makes them again with the
#   recorded directory mode and owner, the files with their recorded mode
#   (not the umask's) and owner.
set -u
. "$(dirname "$0")/lib.sh"
need_criu

TOP=$TMP/api
D=$TOP/sub
mkdir -p "$D"
chmod 0750 "$D"
chown nobody: "$D"

start() {
	setsid env LD_PRELOAD="$SHIM" "$PROGS/scratch_worker" --api "$D" 400 "$TMP/res" </dev/null \
		>/dev/null 2>"$TMP/worker.err" &
	PID=$!
	CLEANUP_PIDS="$CLEANUP_PIDS $PID"
	for i in $(seq 200); do [ -e "$D/s.dat" ] && break; sleep 0.05; done
	sleep 1
}
reap() { { wait "$PID"; } 2>/dev/null; wait_gone "$PID" 10; }
finished_ok() { # label
	wait_files 60 "$TMP/res" || true
	check "$1: the program continues and finishes: $(cat "$TMP/res" 2>/dev/null)" \
		grep -q "^OK api dropped_seen=1" "$TMP/res"
	wait_gone "$PID" 20
}

start
chown nobody: "$D/s.dat" "$D/d.dat"
chmod 0646 "$D/s.dat"
out=$("$CRSHIM" dump -D "$TMP/ck" "$PID" 2>&1)
check "dump of the program with API-marked scratch files" [ $? = 0 ]
reap
check "manifest: d.dat is drop" grep -q "\"path\": \"$D/d.dat\"" "$TMP/ck/manifest.json"
check "manifest: two scratch files, one of them saved" \
	bash -c "[ \$(grep -c '\"id\": \"scratch-' '$TMP/ck/manifest.json') = 2 ] &&
		[ \$(grep -c '\"data\": \"scratch/scratch-' '$TMP/ck/manifest.json') = 1 ]"
check "the save file was copied into the checkpoint (8 MiB)" [ "$(du -sm "$TMP/ck/scratch" | cut -f1)" -ge 8 ]
check "the original files still stand at their paths" [ -e "$D/d.dat" -a -e "$D/s.dat" ]

# --- the killed program's own files are replaced without --replace ---
rm -f "$TMP/res"
out=$("$CRSHIM" restore -D "$TMP/ck" 2>&1)
check "restore over the original scratch files, without --replace" [ $? = 0 ]
[ -n "$out" ] && echo "$out" | sed 's/^/    /'
check "the drop file is empty at its recorded size (64 MiB)" \
	bash -c "[ \$(stat -c %s '$D/d.dat') = $((64 * 1048576)) ] && [ \$(du -m '$D/d.dat' | cut -f1) -lt 16 ]"
finished_ok "API marks honoured"

# --- the same checkpoint again: the files are those the last restore made ---
rm -f "$TMP/res"
out=$("$CRSHIM" restore -D "$TMP/ck" 2>&1)
check "restore the same checkpoint again, without --replace" [ $? = 0 ]
[ -n "$out" ] && echo "$out" | sed 's/^/    /'
finished_ok "second restore"

# --- another file at the save file's path is refused ---
rm -f "$D/s.dat" "$TMP/res"
echo "someone else's" >"$D/s.dat"
expect_fail "a different file at a scratch path is refused without --replace" \
	"$D/s.dat is not the scratch file of the checkpoint.*--replace" "$CRSHIM" restore -D "$TMP/ck"
check "that file is left untouched" grep -qx "someone else's" "$D/s.dat"
check "no process was restored" bash -c "! kill -0 $PID 2>/dev/null"
rm -f "$TMP/res"
out=$("$CRSHIM" restore -D "$TMP/ck" --replace 2>&1)
check "with --replace it is replaced" [ $? = 0 ]
[ -n "$out" ] && echo "$out" | sed 's/^/    /'
finished_ok "restore --replace"

# --- the scratch directory (and its parent) deleted ---
rm -rf "$TOP" "$TMP/res"
out=$(umask 077 && "$CRSHIM" restore -D "$TMP/ck" 2>&1)
check "restore after the scratch directory was deleted" [ $? = 0 ]
[ -n "$out" ] && echo "$out" | sed 's/^/    /'
check "the directories are back with the recorded mode and owner ($(stat -c '%a %U' "$TOP" "$D" 2>&1 | tr '\n' ' '))" \
	bash -c "[ \"\$(stat -c '%a %U' '$TOP' '$D' | sort -u)\" = '750 nobody' ]"
check "the save file is back with its mode (not the umask's) and owner ($(stat -c '%a %U' "$D/s.dat" 2>&1))" \
	bash -c "[ \"\$(stat -c '%a %U' '$D/s.dat')\" = '646 nobody' ]"
check "the drop file is back with its mode and owner ($(stat -c '%a %U' "$D/d.dat" 2>&1))" \
	bash -c "[ \"\$(stat -c '%a %U' '$D/d.dat')\" = '640 nobody' ]"
finished_ok "restore into a deleted directory"
finish
