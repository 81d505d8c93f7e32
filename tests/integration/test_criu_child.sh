#!/bin/bash
# Issue 6: `crshim restore -D DIR --child`.  A program started as
# `prog | consumer` is checkpointed (and killed), then restored as
# `crshim restore -D DIR --child | new_consumer`: new_consumer gets what the
# program writes after the restore (nothing lost, nothing twice), the
# program's stderr goes to crshim's, crshim exits with the program's status,
# and SIGTERM / SIGUSR1 sent to crshim reach the program.  Also: a terminal
# (script(1)) as stdio, a taken pid, a checkpoint of two dumps, a program
# without the shim.
set -u
. "$(dirname "$0")/lib.sh"
need_criu
CHILD="$PROGS/api_child"
NLINES=240

# start_pipeline TAG [shim|noshim]: `api_child | cat > $TMP/TAG.out` in its own session.
start_pipeline() {
	local tag=$1 pre=""
	[ "${2:-shim}" = shim ] && pre="LD_PRELOAD=$SHIM"
	rm -f "$TMP/$tag.pid"
	setsid bash -c "$pre $CHILD $TMP/$tag.pid $NLINES 20 7 2>>$TMP/$tag.err | cat > $TMP/$tag.out" \
		</dev/null >/dev/null 2>&1 &
	CLEANUP_PIDS="$CLEANUP_PIDS $!"
	wait_files 10 "$TMP/$tag.pid" || return 1
	PID=$(cat "$TMP/$tag.pid")
	CLEANUP_PIDS="$CLEANUP_PIDS $PID"
	sleep 1
}

last_line() { grep '^line ' "$1" | tail -n 1 | cut -d' ' -f2; }
first_line() { grep '^line ' "$1" | head -n 1 | cut -d' ' -f2; }
# Lines I..J each exactly once, in order, and nothing else but known lines.
lines_continue() { # file first
	local f=$1 want=$2
	grep '^line ' "$f" | cut -d' ' -f2 | awk -v w="$want" -v NL="$NLINES" '$1 != w { bad = 1; exit } { w++ } END { exit bad || w != NL + 1 }'
}

dump_killed() { # tag dir
	if "$CRSHIM" dump -D "$2" "$PID" >"$TMP/$1.dump" 2>&1; then
		ok "$1: dumped pid $PID (its pipeline ends)"
	else
		fail "$1: crshim dump"
		sed 's/^/    /' "$TMP/$1.dump"
		return 1
	fi
	wait_gone "$PID" 10 || true
	sleep 0.3
}

# ---- 1. `prog | consumer` -> `crshim restore --child | new_consumer`
if start_pipeline p1 && dump_killed p1 "$TMP/ck1"; then
	L=$(last_line "$TMP/p1.out")
	check "p1: the manifest records fd 1 as a pipe" \
		grep -q '"key": "pipe:\[' "$TMP/ck1/manifest.json"
	"$CRSHIM" restore -D "$TMP/ck1" --child </dev/null 2>"$TMP/p1.rerr" | cat >"$TMP/p1.out2"
	rc=${PIPESTATUS[0]}
	check "p1: crshim restore --child exits with the program's status (7, got $rc)" [ "$rc" = 7 ]
	check "p1: new consumer gets the lines after the checkpoint: from line $((L + 1)) (got $(first_line "$TMP/p1.out2")) to the end, once each" \
		lines_continue "$TMP/p1.out2" $((L + 1))
	check "p1: ... and 'done'" grep -qx done "$TMP/p1.out2"
	check "p1: the restore callback ran once with restored = 1" \
		[ "$(grep -c '^restore-callback 1$' "$TMP/p1.out2")" = 1 ]
	check "p1: the program's stderr is crshim's" grep -q "^err $NLINES$" "$TMP/p1.rerr"
	check "p1: crshim's own messages are on its stderr" grep -q 'a child of crshim' "$TMP/p1.rerr"
	check "p1: nothing of crshim's on the program's stdout" \
		sh -c "! grep -qv -e '^line ' -e '^done$' -e '^restore-callback' '$TMP/p1.out2'"

	# ---- 2. signals sent to crshim reach the program (same checkpoint again)
	"$CRSHIM" restore -D "$TMP/ck1" --child </dev/null 2>"$TMP/p2.rerr" > >(cat >"$TMP/p2.out") &
	RP=$!
	sleep 1.5
	kill -TERM "$RP"
	wait "$RP"
	rc=$?
	sleep 0.3
	check "SIGTERM to crshim restore reaches the program (it says so and exits 43; crshim exit $rc)" \
		sh -c "[ $rc = 43 ] && grep -qx 'got SIGTERM' '$TMP/p2.out'"
	"$CRSHIM" restore -D "$TMP/ck1" --child </dev/null 2>"$TMP/p3.rerr" > >(cat >"$TMP/p3.out") &
	RP=$!
	sleep 1.5
	kill -USR1 "$RP"
	wait "$RP"
	rc=$?
	check "SIGUSR1 kills the program: crshim exits 128+10 (got $rc)" [ "$rc" = 138 ]
	check "p3: it ran until then" grep -q '^line ' "$TMP/p3.out"
	wait_gone "$PID" 10 || true
fi

# ---- 3. a program without the shim
if start_pipeline p4 noshim && dump_killed p4 "$TMP/ck4"; then
	L=$(last_line "$TMP/p4.out")
	"$CRSHIM" restore -D "$TMP/ck4" --child </dev/null 2>"$TMP/p4.rerr" | cat >"$TMP/p4.out2"
	rc=${PIPESTATUS[0]}
	check "no shim: exit status 7 (got $rc), output continues at line $((L + 1))" \
		sh -c "[ $rc = 7 ] && grep -qx 'line $((L + 1))' '$TMP/p4.out2' && grep -qx done '$TMP/p4.out2'"
	wait_gone "$PID" 10 || true
fi

# ---- 4. the pid is taken: a clear refusal, the running process untouched
if start_pipeline p5; then
	"$CRSHIM" dump -D "$TMP/ck5" --leave-running "$PID" >/dev/null 2>&1
	out=$("$CRSHIM" restore -D "$TMP/ck5" --child </dev/null 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 0 ] && grep -q "pid $PID is taken by a running process (api_child)" <<<"$out"; then
		ok "taken pid: refused (exit $rc: $(head -n 1 <<<"$out"))"
	else
		fail "taken pid: exit $rc: $out"
	fi
	check "taken pid: the original keeps running" kill -0 "$PID"
	kill -9 "$PID" 2>/dev/null
	wait_gone "$PID" 10 || true
fi

# ---- 5. a checkpoint of two separate dumps is refused
if start_pipeline p6 && P6=$PID && start_pipeline p7; then
	"$CRSHIM" dump -D "$TMP/ck6" "$P6" "$PID" >/dev/null 2>&1
	out=$("$CRSHIM" restore -D "$TMP/ck6" --child 2>&1 </dev/null)
	rc=$?
	if [ $rc -ne 0 ] && grep -q 'restores one process or one tree' <<<"$out"; then
		ok "two dumps: --child refused (exit $rc: $out)"
	else
		fail "two dumps: exit $rc: $out"
	fi
	wait_gone "$P6" 10 || true
	wait_gone "$PID" 10 || true
fi

# ---- 6. a terminal: dumped in one pty, restored --child in another.  Twice: the program
# leads its session (the shell exec'ed it), and the program was started from a shell that
# stays its session leader (CRIU then takes the terminal from its stdin, --shell-job).
# script(1) runs $SHELL -c: set it, dash and bash differ in when they exec.
tty_case() { # tty_case NAME COMMAND_PREFIX COMMAND_SUFFIX
	local name=$1 pre=$2 post=$3 spid lead
	rm -f "$TMP/t.pid"
	SHELL=/bin/sh script -qfec "${pre}env LD_PRELOAD=$SHIM $CHILD $TMP/t.pid 150 20 5$post" /dev/null \
		>"$TMP/tty1.$name.out" 2>&1 </dev/null &
	CLEANUP_PIDS="$CLEANUP_PIDS $!"
	if ! wait_files 10 "$TMP/t.pid" || ! PID=$(cat "$TMP/t.pid") || ! sleep 1; then
		fail "tty $name: the program did not start in a pty"
		return
	fi
	spid=$(ps -o sid= -p "$PID" | tr -d ' ')
	lead=no
	[ "$spid" = "$PID" ] && lead=yes
	check "tty $name: the program leads its session: $lead (sid $spid, pid $PID)" [ "$lead" = "$4" ]
	if ! "$CRSHIM" dump -D "$TMP/ckt.$name" "$PID" >"$TMP/dump.$name.out" 2>&1; then
		fail "tty $name: could not dump the program running in a pty: $(tail -3 "$TMP/dump.$name.out")"
		return
	fi
	wait_gone "$PID" 10 || true
	check "tty $name: the manifest records fd 0 as a terminal" grep -q '"key": "tty\[' "$TMP/ckt.$name/manifest.json"
	SHELL=/bin/sh script -qfec "$CRSHIM restore -D $TMP/ckt.$name --child; echo EXIT=\$?" /dev/null \
		>"$TMP/tty2.$name.out" 2>&1 </dev/null
	if grep -q 'line 150' "$TMP/tty2.$name.out" && grep -q EXIT=5 "$TMP/tty2.$name.out"; then
		ok "tty $name: restored in another terminal, output there, exit status 5"
	else
		fail "tty $name: restored in another terminal, output there, exit status 5; it printed:"
		grep -v '^line' "$TMP/tty2.$name.out" | tail -15 | sed 's/^/#   /'
	fi
}
if command -v script >/dev/null 2>&1; then
	tty_case leader "exec " "" yes
	tty_case shell "" "; exit \$?" no
else
	echo "# script(1) missing: terminal case not run"
fi

finish
