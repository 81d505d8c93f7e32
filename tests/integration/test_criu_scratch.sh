#!/bin/bash
# Issue 4: scratch files follow their policy, outputs continue after restore.
# - A program writes a 2 GiB sparse scratch file (256 MiB written) under a
#   drop directory, one file under keep and one under save, plus a
#   deleted-while-open scratch file, and keeps checking them.  Dump, kill,
#   delete the drop and save files, restore: it continues; drop files come
#   back empty at their recorded size (the program learns it through
#   crshim_scratch_dropped and rebuilds them), save files have their
#   content, keep files were required.  The image stays within a few MiB of
#   the same program without scratch files.
# - A missing keep file stops the restore before any process is created.
# - A program whose stdout goes to a file: checkpoint, the original keeps
#   writing, kill, restore: the restored output follows the later output.
# - A malformed CRSHIM_SCRATCH entry gives one warning naming it.
set -u
. "$(dirname "$0")/lib.sh"
need_criu

W=$TMP/work
mkdir -p "$W/drop" "$W/keep" "$W/save"
SPEC="$W/drop:drop,$W/keep:keep,$W/save:save"

run_worker() { # dir iters result
	setsid env LD_PRELOAD="$SHIM" CRSHIM_SCRATCH="$SPEC" "$PROGS/scratch_worker" "$@" </dev/null \
		>/dev/null 2>"$TMP/worker.err" &
	PID=$!
	CLEANUP_PIDS="$CLEANUP_PIDS $PID"
	for i in $(seq 200); do [ -e "$W/save/s.dat" ] || [ "$1" = none ] && break; sleep 0.05; done
	sleep 1
}

reap() { { wait "$PID"; } 2>/dev/null; wait_gone "$PID" 10; }

# --- baseline: the same program without scratch files ---
run_worker none 400 "$TMP/res.base"
"$CRSHIM" dump -D "$TMP/base" "$PID" >/dev/null 2>&1 || fail "baseline dump"
reap
base_mb=$(du -sm "$TMP/base" | cut -f1)

# --- with scratch files ---
run_worker "$W" 400 "$TMP/res"
"$CRSHIM" status "$PID" | grep -q "scratch files:" && ok "status lists the scratch files" || fail "status lists the scratch files"
out=$("$CRSHIM" dump -D "$TMP/ck" "$PID" 2>&1)
rc=$?
check "dump with drop/keep/save scratch files" [ $rc = 0 ]
echo "$out" | sed 's/^/    /'
check "dump reports the bytes not saved (drop and keep)" grep -q "not saved: 2064.0 MiB (drop), 8.0 MiB (keep)" <<<"$out"
reap
img_mb=$(( $(du -sm "$TMP/ck" | cut -f1) - $(du -sm "$TMP/ck/scratch" | cut -f1) ))
check "image without the saved copy ($img_mb MiB) within 8 MiB of the baseline ($base_mb MiB)" \
	[ "$img_mb" -le $((base_mb + 8)) ]
check "the save file was copied once (8 MiB)" [ "$(du -sm "$TMP/ck/scratch" | cut -f1)" -ge 8 ]
check "manifest lists the 4 scratch files" \
	bash -c "[ \$(grep -c '\"id\": \"scratch-' '$TMP/ck/manifest.json') = 4 ]"

cp -a "$W/keep/k.dat" "$TMP/k.dat.orig"
rm -f "$W/drop/big" "$W/save/s.dat"
check "restore" "$CRSHIM" restore -D "$TMP/ck"
check "the drop file is back empty at its recorded size (2 GiB)" \
	bash -c "[ \$(stat -c %s '$W/drop/big') = $((2048 * 1024 * 1024)) ] && [ \$(du -m '$W/drop/big' | cut -f1) -lt 64 ]"
check "the save file is back" [ -e "$W/save/s.dat" ]
wait_files 60 "$TMP/res" || true
check "the program continues and finishes: $(cat "$TMP/res" 2>/dev/null)" \
	grep -q "^OK dropped_seen big=1 tmp=1" "$TMP/res"
wait_gone "$PID" 20

# --- a keep file missing at restore stops it before anything is created ---
rm -f "$W/keep/k.dat" "$TMP/res"
out=$("$CRSHIM" restore -D "$TMP/ck" 2>&1)
rc=$?
check "restore without the keep file fails" [ $rc -ne 0 ]
check "the message names the missing keep file" grep -q "$W/keep/k.dat (policy keep) is missing" <<<"$out"
check "no process was created" bash -c "! kill -0 $PID 2>/dev/null"
cp -a "$TMP/k.dat.orig" "$W/keep/k.dat"
truncate -s 1M "$W/keep/k.dat"
out=$("$CRSHIM" restore -D "$TMP/ck" 2>&1)
check "a keep file of the wrong size is refused too" grep -q "has 1048576 bytes, the checkpoint recorded 8388608" <<<"$out"
cp -a "$TMP/k.dat.orig" "$W/keep/k.dat"

# --- malformed CRSHIM_SCRATCH entries: one warning each, ignored ---
LD_PRELOAD="$SHIM" CRSHIM_SCRATCH="relative/dir:drop,$W/x:squash,$W/drop:drop" "$PROGS/scratch_worker" none 1 "$TMP/res.bad" \
	2>"$TMP/bad.err" >/dev/null
check "a relative scratch directory is warned about once" \
	bash -c "[ \$(grep -c \"CRSHIM_SCRATCH: ignoring 'relative/dir'\" '$TMP/bad.err') = 1 ]"
check "an unknown policy is warned about once" \
	bash -c "[ \$(grep -c \"unknown policy 'squash'\" '$TMP/bad.err') = 1 ]"
check "the program still runs" grep -q "^OK" "$TMP/res.bad"

# --- output continues after restore ---
setsid env LD_PRELOAD="$SHIM" "$PROGS/output_worker" 200 20 </dev/null >"$TMP/out.log" 2>/dev/null &
PID=$!
CLEANUP_PIDS="$CLEANUP_PIDS $PID"
sleep 1
check "checkpoint of the writer with --leave-running" "$CRSHIM" dump -D "$TMP/outck" --leave-running "$PID"
at_ckpt=$(grep -c '^line' "$TMP/out.log")
sleep 1 # the original keeps writing after the checkpoint
kill -9 "$PID"
reap
before=$(grep -c '^line' "$TMP/out.log")
check "the original wrote after the checkpoint ($at_ckpt -> $before lines)" [ "$before" -gt "$at_ckpt" ]
check "restore after the output grew" "$CRSHIM" restore -D "$TMP/outck"
for i in $(seq 200); do grep -q '^done' "$TMP/out.log" && break; sleep 0.1; done
check "the restored program finished writing" grep -q '^done' "$TMP/out.log"
check "nothing written before the kill was lost or overwritten" \
	bash -c "head -n $before '$TMP/out.log' | awk '{ if (\$2 != NR) exit 1 }'"
# The restored program goes on from the checkpoint: its first line is at
# most the one after what the file held when `crshim dump` returned.
first_after=$(sed -n "$((before + 1))p" "$TMP/out.log")
n=${first_after#line }
check "the restored output follows the later output (next line: '$first_after')" \
	[ "$n" -le $((at_ckpt + 1)) -a "$n" -gt 1 ]
check "the restored program's lines run on without a gap" \
	bash -c "tail -n +$((before + 1)) '$TMP/out.log' | grep '^line' | awk -v s=$n '{ if (\$2 != s + NR - 1) exit 1 }'"
check "the restored program wrote up to the end" bash -c "tail -n 2 '$TMP/out.log' | head -1 | grep -qx 'line 200'"
finish
