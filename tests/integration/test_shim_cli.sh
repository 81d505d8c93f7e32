#!/usr/bin/env bash
# tests/integration/test_shim_cli.sh BUILD_DIR
#
# The small `crshim` commands, for real:
#   crshim lib      prints one absolute path of an existing file, the shim
#   crshim --help   on stdout, exit 0, and it mentions every CRSHIM_*
#                   variable the shim or the command reads (found in the
#                   sources: getenv of "CRSHIM_..."; variables crshim sets
#                   itself for its own helpers are not user settings)
#   crshim run      runs PROGRAM with the shim (it answers status, its
#                   environment has LD_PRELOAD with the shim first and the
#                   caller's LD_PRELOAD kept), passes arguments through,
#                   returns the program's exit status; a missing program
#                   gives one line and 127; no program gives usage and 2
#   crshim gc       removes the endpoint of a SIGKILLed process, keeps those
#                   of live processes and files that are not sockets
set -u
. "$(dirname "$0")/test_shim_lib.sh"
shim_setup test_shim_cli "${1:-}"
need_prog shim_resources
SRC=${CRSHIM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}

# ---- lib -------------------------------------------------------------------------------------
out=$("$CRSHIM" lib 2>"$WORK/lib.err")
rc=$?
expect_eq "crshim lib: exit 0" 0 "$rc"
expect_eq "crshim lib: one line" 1 "$(printf '%s\n' "$out" | grep -c .)"
check "crshim lib: an absolute path ($out)" test "${out:0:1}" = /
check "crshim lib: the file exists" test -f "$out"
check "crshim lib: it is the built shim" cmp -s "$out" "$SHIMLIB"
check "crshim lib: nothing on stderr" test ! -s "$WORK/lib.err"
# from anywhere (another cwd, relative invocation)
out2=$(cd / && "$CRSHIM" lib 2>/dev/null)
expect_eq "crshim lib: the same from another directory" "$out" "$out2"

# ---- --help ------------------------------------------------------------------------------------
"$CRSHIM" --help >"$WORK/help.out" 2>"$WORK/help.err"
rc=$?
expect_eq "crshim --help: exit 0" 0 "$rc"
check "crshim --help: on stdout" test -s "$WORK/help.out" -a ! -s "$WORK/help.err"
if [ -d "$SRC/preload" ] && [ -d "$SRC/tools" ]; then
	read_vars=$(grep -rhoE 'getenv(_fn)?\("CRSHIM_[A-Z0-9_]+"' "$SRC/preload" "$SRC/hooks" "$SRC"/tools/*.c 2>/dev/null |
		grep -oE 'CRSHIM_[A-Z0-9_]+' | sort -u)
	# set by crshim itself for its helpers: a format string that is just "VAR=%s"
	set_vars=$(grep -rhoE '"CRSHIM_[A-Z0-9_]+=%[a-z]+"' "$SRC"/tools/*.c 2>/dev/null | grep -oE 'CRSHIM_[A-Z0-9_]+' | sort -u)
	user_vars=$(comm -23 <(printf '%s\n' $read_vars CRSHIM_DISABLE CRSHIM_LOG CRSHIM_LOG_FILE CRSHIM_BACKTRACE \
		CRSHIM_HOOKS CRSHIM_SCRATCH CRSHIM_RUNDIR | sort -u) <(printf '%s\n' $set_vars | sort -u))
	missing=""
	for v in $user_vars; do
		grep -qE "(^|[^A-Z_])$v([^A-Z_]|$)" "$WORK/help.out" || missing="$missing $v"
	done
	expect_eq "crshim --help mentions every CRSHIM_ variable ($(echo $user_vars))" "" "$missing"
else
	echo "# sources not found at $SRC: checking the documented variables only"
	missing=""
	for v in CRSHIM_DISABLE CRSHIM_LOG CRSHIM_LOG_FILE CRSHIM_BACKTRACE CRSHIM_HOOKS CRSHIM_SCRATCH CRSHIM_RUNDIR; do
		grep -qE "(^|[^A-Z_])$v([^A-Z_]|$)" "$WORK/help.out" || missing="$missing $v"
	done
	expect_eq "crshim --help mentions every CRSHIM_ variable" "" "$missing"
fi
"$CRSHIM" >/dev/null 2>"$WORK/noarg.err"
rc=$?
check "crshim without a command: usage on stderr, exit 2" test $rc -eq 2 -a -s "$WORK/noarg.err"

# ---- run ---------------------------------------------------------------------------------------
mkdir -p "$WORK/r"
prog_start run -- "$CRSHIM" run -- "$PROGS/shim_resources" "$WORK/r"
if wait_line "$WORK/run.out" '^ready' 10; then
	P=$(prog_pid run)
	expect_eq "crshim run: the program replaces crshim (same pid)" "$P" "$(awk '/^ready/ { print $2 }' "$WORK/run.out")"
	status_flat "$P" "$WORK/run.flat"
	check "crshim run: the program has the shim (status answers)" test $? -eq 0
	expect_eq "crshim run: its resources are recorded" "" "$(check_rlines "$WORK/run.out" "$WORK/run.flat")"
	pre=$(tr '\0' '\n' <"/proc/$P/environ" | sed -n 's/^LD_PRELOAD=//p')
	expect_eq "crshim run: LD_PRELOAD is the shim" "$(readlink -f "$SHIMLIB")" "$(readlink -f "$pre")"
	prog_stop run
	check "crshim run: the program's exit status comes back (0)" test $? -eq 0
else
	notok "crshim run: the program did not start: $(head -c 300 "$WORK/run.err")"
fi
"$CRSHIM" run -- sh -c 'exit 7'
expect_eq "crshim run: exit status 7 passed through" 7 "$?"
out=$("$CRSHIM" run -- sh -c 'printf "%s|" "$@"' sh "a b" "" "-c" "--")
expect_eq "crshim run: arguments passed unchanged" "a b||-c|--|" "$out"
out=$("$CRSHIM" run sh -c 'echo no-dashes')
expect_eq "crshim run without --" "no-dashes" "$out"
OTHER=$(ldd /bin/sh 2>/dev/null | awk '$1 ~ /^libc\.so/ { print $3 }')
if [ -f "$OTHER" ]; then
	out=$(LD_PRELOAD="$OTHER" "$CRSHIM" run -- sh -c 'echo "$LD_PRELOAD"')
	expect_eq "crshim run: an existing LD_PRELOAD is kept, the shim first" "$(cd / && "$CRSHIM" lib):$OTHER" "$out"
fi
"$CRSHIM" run -- "$WORK/no-such-program" >"$WORK/np.out" 2>"$WORK/np.err"
rc=$?
check "crshim run of a missing program: exit 127, one line naming it" \
	test $rc -eq 127 -a "$(grep -c . "$WORK/np.err")" -eq 1 -a -n "$(grep no-such-program "$WORK/np.err")"
"$CRSHIM" run >/dev/null 2>"$WORK/nr.err"
rc=$?
check "crshim run without a program: usage, exit 2" test $rc -eq 2 -a -n "$(grep -i usage "$WORK/nr.err")"

# ---- gc ----------------------------------------------------------------------------------------
mkdir -p "$WORK/g" "$WORK/g2"
prog_start killed LD_PRELOAD="$SHIMLIB" -- "$PROGS/shim_resources" "$WORK/g"
prog_start alive LD_PRELOAD="$SHIMLIB" -- "$PROGS/shim_resources" "$WORK/g2"
wait_line "$WORK/killed.out" '^ready' 10
wait_line "$WORK/alive.out" '^ready' 10
K=$(prog_pid killed)
A=$(prog_pid alive)
kill -KILL "$K"
prog_stop killed >/dev/null 2>&1
check "gc: the SIGKILLed process left its endpoint" test -S "$RUNDIR/$K.sock"
# a dead pid number with a file that is not a socket must be left alone
sh -c 'exit 0' &
D=$!
wait "$D"
touch "$RUNDIR/$D.sock"
# (programs that end with _exit, like dash, leave their endpoints too)
stale=0
for f in "$RUNDIR"/*.sock; do
	p=$(basename "$f" .sock)
	[ -S "$f" ] && [ ! -e "/proc/$p" ] && stale=$((stale + 1))
done
out=$("$CRSHIM" gc 2>&1)
rc=$?
expect_eq "gc: exit 0" 0 "$rc"
check "gc: the dead process's endpoint is removed" test ! -e "$RUNDIR/$K.sock"
check "gc: the live process's endpoint stays" test -S "$RUNDIR/$A.sock"
check "gc: a regular file named like an endpoint stays" test -f "$RUNDIR/$D.sock"
check "gc: it says how many it removed ($stale; $out)" grep -qE "removed $stale " <<<"$out"
"$CRSHIM" status "$A" >/dev/null 2>&1
check "gc: the live process still answers" test $? -eq 0
out=$("$CRSHIM" gc 2>&1)
check "gc again: nothing left to remove ($out)" grep -qE 'removed 0 ' <<<"$out"
prog_stop alive >/dev/null
shim_finish
