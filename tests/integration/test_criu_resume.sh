#!/bin/bash
# How a restored tree starts running again (real CRIU).  CRIU restores with
# --leave-stopped and crshim continues the tree once every dump is back
# (tools/cmd_restore.c, resume_dump):
#   - processes that end as soon as they run (a sleep CRIU restores as
#     EINTR, in multi-threaded processes: the shim's control thread) restore
#     every time; without the stop, CRIU 4.2 lets go of the main thread
#     first, it exits, and CRIU fails on the next thread ("Unable to detach
#     N: No such process", criu#2072), killing the whole restore;
#   - a process that was stopped when dumped (one without the shim: a
#     stopped process with the shim cannot be prepared) stays stopped after
#     the restore while the rest of its tree runs, and runs when continued;
#   - with --child the same holds, and crshim does not take the stop of its
#     restored child for a Ctrl-Z.
set -u
. "$(dirname "$0")/lib.sh"
need_criu
for p in exit_on_wake; do
	[ -x "$PROGS/$p" ] || { fail "$p not built"; finish; exit 1; }
done

state() { awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null; }
# The "stopped" of a process entry in a manifest (written in key order:
# pid, dump, exe, shim, stopped).
manifest_stopped() { # manifest pid
	awk -v p="\"pid\": $2," '$1 " " $2 == p { n = 5 } n && /"stopped":/ { gsub(/[ ,]/, ""); sub(/.*:/, ""); print; exit } n { n-- }' "$1"
}

# start_exit_on_wake TAG: exit_on_wake with the shim in its own session,
# result in $TMP/TAG.res; sets P (parent) and C (child).
start_exit_on_wake() {
	rm -f "$TMP/$1.res"
	setsid env LD_PRELOAD="$SHIM" "$PROGS/exit_on_wake" "$TMP/$1.res" </dev/null >"$TMP/$1.out" 2>&1 &
	CLEANUP_PIDS="$CLEANUP_PIDS $!"
	wait_files 10 "$TMP/$1.out"
	read -r _ P C <"$TMP/$1.out"
	CLEANUP_PIDS="$CLEANUP_PIDS $P $C"
	sleep 0.3
}

# --- 1. processes that end at once after the restore, five times ---
good=0
for i in 1 2 3 4 5; do
	start_exit_on_wake "w$i"
	if ! "$CRSHIM" dump -D "$TMP/w$i" --tree "$P" >"$TMP/w$i.dump" 2>&1; then
		fail "exit-on-wake $i: crshim dump --tree"
		sed 's/^/    /' "$TMP/w$i.dump"
		continue
	fi
	wait_gone "$P" 10
	wait_gone "$C" 10
	if ! "$CRSHIM" restore -D "$TMP/w$i" >"$TMP/w$i.rest" 2>&1; then
		fail "exit-on-wake $i: crshim restore"
		sed 's/^/    /' "$TMP/w$i.rest"
		continue
	fi
	if wait_files 10 "$TMP/w$i.res" && grep -qx "child 7" "$TMP/w$i.res"; then
		good=$((good + 1))
	else
		fail "exit-on-wake $i: the parent saw its child end with 7 (got: $(cat "$TMP/w$i.res" 2>/dev/null))"
	fi
	wait_gone "$P" 10
done
check "a tree whose child ends as soon as it runs: restored 5 of 5 times, the child's exit seen by its parent ($good)" \
	test "$good" -eq 5
assert_no_strays "exit at once"

# --- 2. a process stopped when dumped stays stopped ---
# bash (with the shim) counts into a file; its child (without the shim)
# is stopped.  bash waits on a FIFO nobody writes (read -t), not in sleep(1)
# children: a short-lived child of an ASan build is traced by LeakSanitizer
# when it exits, and CRIU cannot seize it then.
rm -f "$TMP/count" "$TMP/kid" "$TMP/never"
mkfifo "$TMP/never"
setsid env LD_PRELOAD="$SHIM" bash -c '
	env -u LD_PRELOAD sleep 1000 & kid=$!; kill -STOP $kid; echo $kid > '"$TMP/kid"'
	exec 3<>'"$TMP/never"'
	n=0; while :; do n=$((n + 1)); echo $n > '"$TMP/count"'; read -t 0.05 -u 3; done' \
	</dev/null >/dev/null 2>&1 &
B=$!
CLEANUP_PIDS="$CLEANUP_PIDS $B"
wait_files 10 "$TMP/kid" "$TMP/count"
K=$(cat "$TMP/kid")
CLEANUP_PIDS="$CLEANUP_PIDS $K"
sleep 0.3
check "the child is stopped before the dump (state $(state "$K"))" test "$(state "$K")" = T
if "$CRSHIM" dump -D "$TMP/st" --tree "$B" >"$TMP/st.dump" 2>&1; then
	ok "dumped the tree with a stopped child"
	check "the manifest records the child as stopped" \
		test "$(manifest_stopped "$TMP/st/manifest.json" "$K")" = true
	check "... and bash as not stopped" \
		test "$(manifest_stopped "$TMP/st/manifest.json" "$B")" = false
	wait_gone "$B" 10
	wait_gone "$K" 10
	if "$CRSHIM" restore -D "$TMP/st" >"$TMP/st.rest" 2>&1; then
		ok "restored the tree with a stopped child"
		c1=$(cat "$TMP/count"); sleep 0.5; c2=$(cat "$TMP/count")
		check "bash runs after the restore (count $c1 -> $c2)" test "$c2" -gt "$c1"
		check "the child is still stopped (state $(state "$K"))" test "$(state "$K")" = T
		kill -CONT "$K"
		sleep 0.2
		check "... and runs when continued (state $(state "$K"))" test "$(state "$K")" = S
	else
		fail "restore of the tree with a stopped child"
		sed 's/^/    /' "$TMP/st.rest"
	fi
else
	fail "crshim dump --tree of a tree with a stopped child"
	sed 's/^/    /' "$TMP/st.dump"
fi
kill -9 "$B" "$K" 2>/dev/null
wait_gone "$B" 10
assert_no_strays "a stopped child"

# --- 3. --child: crshim waits for a program that was left stopped ---
start_exit_on_wake c
if "$CRSHIM" dump -D "$TMP/ch" --tree "$P" >"$TMP/ch.dump" 2>&1; then
	wait_gone "$P" 10
	wait_gone "$C" 10
	timeout 30 "$CRSHIM" restore -D "$TMP/ch" --child </dev/null >"$TMP/ch.rest" 2>&1
	rc=$?
	check "restore --child of it ends with the program's status (0, got $rc; not stopped, not timed out)" \
		test "$rc" = 0
	check "... and the program saw its child end with 7 ($(cat "$TMP/c.res" 2>/dev/null))" grep -qx "child 7" "$TMP/c.res"
else
	fail "crshim dump --tree for --child"
	sed 's/^/    /' "$TMP/ch.dump"
fi
assert_no_strays "--child"
finish
