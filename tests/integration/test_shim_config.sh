#!/usr/bin/env bash
# tests/integration/test_shim_config.sh BUILD_DIR
#
# The CRSHIM_* variables, with real programs under the shim:
#   - each malformed value gives exactly one warning line on stderr naming
#     the variable, the program's output and exit status are unchanged, and
#     the documented default is in force (checked in the process record);
#     all of them at once give one line each;
#   - CRSHIM_LOG_FILE with %p: the log goes to the file named with the pid
#     of the process that logs (not to stderr), also for a forked child and
#     an exec'd program; %% is a literal %;
#   - CRSHIM_BACKTRACE=1: every recorded object has "backtrace" frames and
#     they name the program's function that made the resource; without it
#     there are none;
#   - CRSHIM_HOOKS=file: the mmap family is off (no mapping recorded, the
#     program's shared mappings listed as not seen), the file family on;
#     CRSHIM_HOOKS=none records nothing but the endpoint answers;
#   - CRSHIM_SCRATCH: the colon list form, trailing slashes, the most
#     specific directory winning.
set -u
. "$(dirname "$0")/test_shim_lib.sh"
shim_setup test_shim_config "${1:-}"
need_prog shim_resources

ECHO=$(command -v echo 2>/dev/null)
[ -x /bin/echo ] && ECHO=/bin/echo
[ -x "$ECHO" ] || ECHO=$(type -P echo)

LONG=$(printf '/tmp/%0600d' 0)

# malformed VAR VALUE DEFAULT_CHECK...: run /bin/echo and shim_resources with it
malformed() {
	local var=$1 val=$2 out rc nl
	out=$(env "$var=$val" LD_PRELOAD="$SHIMLIB" "$ECHO" hello 2>"$WORK/m.err")
	rc=$?
	expect_eq "$var='${val:0:40}': the program still runs (output, exit status)" "hello 0" "$out $rc"
	nl=$(grep -c . "$WORK/m.err")
	if [ "$nl" -eq 1 ] && grep -q "$var" "$WORK/m.err"; then
		ok "$var='${val:0:40}': one warning line naming $var"
	else
		notok "$var='${val:0:40}': one warning line naming $var (got $nl lines: $(head -c 300 "$WORK/m.err" | tr '\n' '|'))"
	fi
}

malformed CRSHIM_DISABLE maybe
malformed CRSHIM_LOG loud
malformed CRSHIM_BACKTRACE 2
malformed CRSHIM_HOOKS mmap,bogus
malformed CRSHIM_HOOKS "mmap,"
malformed CRSHIM_SCRATCH relative/dir
malformed CRSHIM_SCRATCH "/tmp/x:explode"
malformed CRSHIM_SCRATCH "$WORK/ok:keep,relative"
malformed CRSHIM_RUNDIR relative/run
malformed CRSHIM_LOG_FILE "$LONG"
malformed CRSHIM_LOG_FILE "$WORK/no/such/dir/log"

# All at once: one line per variable, each named once.
env CRSHIM_DISABLE=maybe CRSHIM_LOG=loud CRSHIM_BACKTRACE=2 CRSHIM_HOOKS=bogus \
	CRSHIM_SCRATCH=relative CRSHIM_RUNDIR=relative LD_PRELOAD="$SHIMLIB" "$ECHO" hello \
	>"$WORK/all.out" 2>"$WORK/all.err"
expect_eq "all malformed at once: the program still runs" "hello" "$(cat "$WORK/all.out")"
expect_eq "all malformed at once: one warning line per variable" 6 "$(grep -c . "$WORK/all.err")"
bad=""
for v in CRSHIM_DISABLE CRSHIM_LOG CRSHIM_BACKTRACE CRSHIM_HOOKS CRSHIM_SCRATCH CRSHIM_RUNDIR; do
	[ "$(grep -c "${v}[:=]" "$WORK/all.err")" -eq 1 ] || bad="$bad $v"
done
expect_eq "all malformed at once: each variable named on exactly one line" "" "$bad"

# The defaults really apply (in the process record of a real program).
mkdir -p "$WORK/def/ok"
prog_start def CRSHIM_DISABLE=maybe CRSHIM_BACKTRACE=2 CRSHIM_HOOKS=mmap,bogus \
	CRSHIM_SCRATCH="$WORK/def/ok:keep,relative,/tmp/y:explode" LD_PRELOAD="$SHIMLIB" -- \
	"$PROGS/shim_resources" -s "$WORK/def/ok" "$WORK/def"
if wait_line "$WORK/def.out" '^ready' 10; then
	P=$(prog_pid def)
	status_flat "$P" "$WORK/def.flat"
	check "malformed CRSHIM_DISABLE: the shim is on (default 0): status answers" test $? -eq 0
	expect_eq "malformed CRSHIM_BACKTRACE: default off" false "$(jget "$WORK/def.flat" config.backtrace)"
	expect_eq "malformed CRSHIM_HOOKS: default all" "mmap file shm sysv verbs" \
		"$(grep '^config\.hooks\.[0-9]*=' "$WORK/def.flat" | cut -d= -f2 | tr '\n' ' ' | sed 's/ $//')"
	expect_eq "CRSHIM_SCRATCH with bad entries: the good entry stays" "$WORK/def/ok keep 1" \
		"$(jget "$WORK/def.flat" config.scratch.0.dir) $(jget "$WORK/def.flat" config.scratch.0.policy) $(jget "$WORK/def.flat" config.scratch.#)"
	check "malformed values: resources are still recorded" test "$(jget "$WORK/def.flat" mappings.#)" -gt 0
	prog_stop def
else
	notok "a program with malformed CRSHIM_* values did not start: $(head -c 300 "$WORK/def.err")"
fi

# ---- CRSHIM_LOG_FILE with %p -----------------------------------------------------------------
mkdir -p "$WORK/log"
prog_start logp CRSHIM_LOG=debug CRSHIM_LOG_FILE="$WORK/log/shim.%p.log" LD_PRELOAD="$SHIMLIB" -- \
	"$PROGS/shim_resources" "$WORK/log"
if wait_line "$WORK/logp.out" '^ready' 10; then
	P=$(prog_pid logp)
	"$CRSHIM" status "$P" >/dev/null 2>&1
	check "CRSHIM_LOG_FILE=...%p: the log file is named with the pid" test -s "$WORK/log/shim.$P.log"
	check "CRSHIM_LOG_FILE: its lines are this process's (crshim[$P])" grep -q "^crshim\[$P\] " "$WORK/log/shim.$P.log"
	check "CRSHIM_LOG_FILE: the request just made is logged" grep -q "request 'STATUS'" "$WORK/log/shim.$P.log"
	check "CRSHIM_LOG_FILE: nothing of the shim on the program's stderr" test -z "$(grep 'crshim\[' "$WORK/logp.err")"
	check "CRSHIM_LOG_FILE: no file with a literal %p" test ! -e "$WORK/log/shim.%p.log"
	prog_send logp fork
	if wait_line "$WORK/logp.out" '^child ' 10; then
		C=$(awk '/^child/ { print $2 }' "$WORK/logp.out")
		"$CRSHIM" status "$C" >/dev/null 2>&1
		sleep 0.2
		check "CRSHIM_LOG_FILE: a forked child's messages go to the file with its own pid" \
			grep -qs "^crshim\[$C\] .*request 'STATUS'" "$WORK/log/shim.$C.log"
		check "CRSHIM_LOG_FILE: ... not into the parent's file" \
			test -z "$(grep "^crshim\[$C\]" "$WORK/log/shim.$P.log")"
		prog_send logp reap
		wait_line "$WORK/logp.out" '^reaped' 10
	else
		notok "CRSHIM_LOG_FILE: the forked child did not start"
	fi
	prog_stop logp
else
	notok "CRSHIM_LOG_FILE: the program did not start: $(head -c 300 "$WORK/logp.err")"
fi
# exec: a shell under the shim runs a program; each writes its own file
CRSHIM_LOG=debug CRSHIM_LOG_FILE="$WORK/log/ex.%p.log" LD_PRELOAD="$SHIMLIB" \
	sh -c 'echo "sh $$"; /bin/sh -c "echo \"inner \$\$\""' >"$WORK/ex.out" 2>"$WORK/ex.err"
S1=$(awk '/^sh/ { print $2 }' "$WORK/ex.out")
S2=$(awk '/^inner/ { print $2 }' "$WORK/ex.out")
check "CRSHIM_LOG_FILE: a shell and the program it runs each log to their own file" \
	test -s "$WORK/log/ex.$S1.log" -a -s "$WORK/log/ex.$S2.log"
CRSHIM_LOG=debug CRSHIM_LOG_FILE="$WORK/log/pct.%%.%p" LD_PRELOAD="$SHIMLIB" "$ECHO" hi >/dev/null 2>&1
pct=no
for f in "$WORK"/log/pct.%.*; do
	[[ "$f" =~ /pct\.%\.[0-9]+$ ]] && pct=yes
done
expect_eq "CRSHIM_LOG_FILE: %% is a literal %" yes "$pct"

# ---- CRSHIM_BACKTRACE=1 ----------------------------------------------------------------------
mkdir -p "$WORK/bt"
prog_start bt CRSHIM_BACKTRACE=1 LD_PRELOAD="$SHIMLIB" -- "$PROGS/shim_resources" "$WORK/bt"
if wait_line "$WORK/bt.out" '^ready' 10; then
	P=$(prog_pid bt)
	F=$WORK/bt.flat
	status_flat "$P" "$F"
	expect_eq "CRSHIM_BACKTRACE=1: config says so" true "$(jget "$F" config.backtrace)"
	nob=""
	for i in $(seq 0 $(($(jget "$F" objects.#) - 1))); do
		[ "$(jget "$F" "objects.$i.backtrace.#")" -ge 1 ] 2>/dev/null || nob="$nob $(jget "$F" "objects.$i.path")"
	done
	expect_eq "CRSHIM_BACKTRACE=1: every object has backtrace frames" "" "$nob"
	o=$(jfind "$F" objects kind=memfd "path=/memfd:crs-res-0")
	frames=$(grep -E "^objects\.$o\.backtrace\.[0-9]+=" "$F" | cut -d= -f2- | tr '\n' '|')
	check "CRSHIM_BACKTRACE=1: a frame is in the program (shim_resources+0x...)" \
		grep -q "shim_resources+0x" <<<"$frames"
	check "CRSHIM_BACKTRACE=1: the memfd's frames name the program's function make_all ($frames)" \
		grep -q "make_all" <<<"$frames"
	o=$(jfind "$F" objects kind=file "path=$WORK/bt/file-0")
	frames=$(grep -E "^objects\.$o\.backtrace\.[0-9]+=" "$F" | cut -d= -f2- | tr '\n' '|')
	check "CRSHIM_BACKTRACE=1: the file's frames name the program's function open_file ($frames)" \
		grep -q "open_file" <<<"$frames"
	"$CRSHIM" status "$P" >"$WORK/bt.human"
	check "CRSHIM_BACKTRACE=1: the human status shows the frames ('at ...')" grep -q '^        at ' "$WORK/bt.human"
	prog_stop bt
else
	notok "CRSHIM_BACKTRACE=1: the program did not start: $(head -c 300 "$WORK/bt.err")"
fi
prog_start nobt LD_PRELOAD="$SHIMLIB" -- "$PROGS/shim_resources" "$WORK/bt"
if wait_line "$WORK/nobt.out" '^ready' 10; then
	status_flat "$(prog_pid nobt)" "$WORK/nobt.flat"
	check "without CRSHIM_BACKTRACE: no backtrace in the record" test -z "$(grep '\.backtrace\.' "$WORK/nobt.flat")"
	prog_stop nobt
fi

# ---- CRSHIM_HOOKS ----------------------------------------------------------------------------------
mkdir -p "$WORK/hk"
prog_start hk CRSHIM_HOOKS=file LD_PRELOAD="$SHIMLIB" -- "$PROGS/shim_resources" "$WORK/hk"
if wait_line "$WORK/hk.out" '^ready' 10; then
	P=$(prog_pid hk)
	F=$WORK/hk.flat
	status_flat "$P" "$F"
	check "CRSHIM_HOOKS=file: status answers" test $? -eq 0
	expect_eq "CRSHIM_HOOKS=file: config.hooks is [file]" "file 1" "$(jget "$F" config.hooks.0) $(jget "$F" config.hooks.#)"
	expect_eq "CRSHIM_HOOKS=file: no mapping recorded" "0 0" "$(jget "$F" mappings.#) $(jget "$F" registry.mappings)"
	check "CRSHIM_HOOKS=file: files opened for writing in /tmp are still recorded" \
		test -n "$(jfind "$F" objects kind=file "path=$WORK/hk/file-0")"
	expect_eq "CRSHIM_HOOKS=file: no posix shm, memfd, sysv or shared anonymous object" "" \
		"$(grep -E '^objects\.[0-9]+\.kind=(posix_shm|memfd|sysv|anon_shared)$' "$F")"
	addr=$(awk '$1 == "R" && $2 == "memfd" { print $5 }' "$WORK/hk.out")
	u=$(jfind "$F" proc.unrecorded_mappings "start=$addr")
	check "CRSHIM_HOOKS=file: the memfd mapping is listed as not seen by the shim" \
		test -n "$u" -a "$(jget "$F" "proc.unrecorded_mappings.$u.seen_by_shim")" = false
	expect_eq "CRSHIM_HOOKS=file: every shared mapping of the program is listed as not seen" 9 \
		"$(grep -cE '^proc\.unrecorded_mappings\.[0-9]+\.path=('"$WORK"'/hk/|/dev/shm/crs-|/memfd:crs-|/SYSV43|/dev/zero)' "$F")"
	prog_stop hk
else
	notok "CRSHIM_HOOKS=file: the program did not start: $(head -c 300 "$WORK/hk.err")"
fi
prog_start hn CRSHIM_HOOKS=none LD_PRELOAD="$SHIMLIB" -- "$PROGS/shim_resources" "$WORK/hk"
if wait_line "$WORK/hn.out" '^ready' 10; then
	status_flat "$(prog_pid hn)" "$WORK/hn.flat"
	check "CRSHIM_HOOKS=none: status still answers" test $? -eq 0
	expect_eq "CRSHIM_HOOKS=none: nothing recorded" "0 0 0" \
		"$(jget "$WORK/hn.flat" objects.#) $(jget "$WORK/hn.flat" mappings.#) $(jget "$WORK/hn.flat" config.hooks.#)"
	prog_stop hn
else
	notok "CRSHIM_HOOKS=none: the program did not start: $(head -c 300 "$WORK/hn.err")"
fi

# ---- CRSHIM_SCRATCH forms ----------------------------------------------------------------------------
mkdir -p "$WORK/sc/a" "$WORK/sc/b" "$WORK/sc/w/sub"
prog_start sc CRSHIM_SCRATCH="$WORK/sc/a/:$WORK/sc/b" LD_PRELOAD="$SHIMLIB" -- \
	"$PROGS/shim_resources" -s "$WORK/sc/a" -s "$WORK/sc/b" "$WORK/sc"
if wait_line "$WORK/sc.out" '^ready' 10; then
	F=$WORK/sc.flat
	status_flat "$(prog_pid sc)" "$F"
	expect_eq "CRSHIM_SCRATCH=/a/:/b (colon list, trailing slash): two drop dirs" \
		"$WORK/sc/a drop $WORK/sc/b drop" \
		"$(jget "$F" config.scratch.0.dir) $(jget "$F" config.scratch.0.policy) $(jget "$F" config.scratch.1.dir) $(jget "$F" config.scratch.1.policy)"
	expect_eq "CRSHIM_SCRATCH colon list: files in both are scratch (drop)" "drop drop" \
		"$(jget "$F" "objects.$(jfind "$F" objects "path=$WORK/sc/a/scratch-0").scratch") $(jget "$F" "objects.$(jfind "$F" objects "path=$WORK/sc/b/scratch-0").scratch")"
	prog_stop sc
fi
prog_start sw CRSHIM_SCRATCH="$WORK/sc/w:keep,$WORK/sc/w/sub:save" LD_PRELOAD="$SHIMLIB" -- \
	"$PROGS/shim_resources" -s "$WORK/sc/w" -s "$WORK/sc/w/sub" "$WORK/sc"
if wait_line "$WORK/sw.out" '^ready' 10; then
	F=$WORK/sw.flat
	status_flat "$(prog_pid sw)" "$F"
	expect_eq "CRSHIM_SCRATCH nested dirs: the most specific one wins" "keep save" \
		"$(jget "$F" "objects.$(jfind "$F" objects "path=$WORK/sc/w/scratch-0").scratch") $(jget "$F" "objects.$(jfind "$F" objects "path=$WORK/sc/w/sub/scratch-0").scratch")"
	prog_stop sw
fi
shim_finish
