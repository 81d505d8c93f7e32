#!/usr/bin/env bash
# tests/integration/test_shim_forkexec.sh BUILD_DIR
#
# The shim across fork and exec, with real programs:
#   fork   the child gets its own endpoint (RUNDIR/CHILD.sock) and a copy of
#          the parent's records that matches the child's own /proc (every
#          inherited resource, every mapping verified), plus what the child
#          makes itself, which the parent's record does not get; the child's
#          endpoint goes away when it exits normally;
#   fork under load: 30 children forked while 8 threads make shared
#          mappings as fast as they can (once only adding them, once also
#          replacing them): no child hangs, each one answers status and its
#          records agree with its own /proc (a consistent copy);
#   exec   the program execs itself with its environment: the new image has
#          the shim (same pid, endpoint answering, same configuration), a
#          fresh record (nothing of the old image), and the fds it inherited
#          without knowing them are listed as not seen by the shim;
#   fork+exec from a shell started by `crshim run`: both the shell and the
#          program it runs have an endpoint.
set -u
. "$(dirname "$0")/test_shim_lib.sh"
shim_setup test_shim_forkexec "${1:-}"
need_prog shim_resources shim_forkexec

mkdir -p "$WORK/a/scr"
prog_start a CRSHIM_SCRATCH="$WORK/a/scr:keep" LD_PRELOAD="$SHIMLIB" -- \
	"$PROGS/shim_resources" -s "$WORK/a/scr" "$WORK/a"
if ! wait_line "$WORK/a.out" '^ready' 10; then
	notok "shim_resources did not get ready: $(head -c 300 "$WORK/a.err")"
	shim_finish
fi
PID=$(prog_pid a)

# ---- fork --------------------------------------------------------------------------------------
prog_send a fork
if ! wait_line "$WORK/a.out" '^child [0-9]+' 10 || ! wait_line "$WORK/a.out" '^forked' 10; then
	notok "fork: the child did not report: $(tail -c 300 "$WORK/a.err")"
	shim_finish
fi
CPID=$(awk '/^child/ { print $2 }' "$WORK/a.out")
check "fork: the child has its own endpoint $RUNDIR/$CPID.sock" test -S "$RUNDIR/$CPID.sock"
check "fork: the parent keeps its endpoint" test -S "$RUNDIR/$PID.sock"
status_flat "$CPID" "$WORK/child"
check "fork: crshim status --json CHILD exits 0" test $? -eq 0
expect_eq "fork: the child's record has the child's pid" "$CPID" "$(jget "$WORK/child" pid)"
expect_eq "fork: ... and the parent as ppid" "$PID" "$(jget "$WORK/child" ppid)"
expect_eq "fork: ... and the parent's configuration" "$WORK/a/scr keep" \
	"$(jget "$WORK/child" config.scratch.0.dir) $(jget "$WORK/child" config.scratch.0.policy)"
status_flat "$PID" "$WORK/parent"
check "fork: crshim status --json PARENT exits 0" test $? -eq 0
# Every resource the parent made is in the child's copy, as the child's /proc has it.
awk '$1 == "R" && $2 != "memfd-child"' "$WORK/a.out" >"$WORK/a.parent-r"
problems=$(check_rlines "$WORK/a.parent-r" "$WORK/child")
expect_eq "fork: the child's copy has every inherited resource, as the child's /proc shows it${problems:+ ($(printf '%s\n' "$problems" | head -3 | tr '\n' ';'))}" "" "$problems"
problems=$(check_rlines "$WORK/a.parent-r" "$WORK/parent")
expect_eq "fork: the parent's record is unchanged by the fork" "" "$problems"
awk '$1 == "R" && $2 == "memfd-child"' "$WORK/a.out" >"$WORK/a.child-r"
problems=$(check_rlines "$WORK/a.child-r" "$WORK/child")
expect_eq "fork: the child's own memfd is in its record" "" "$problems"
check "fork: the child's memfd is not in the parent's record" \
	test -z "$(jfind "$WORK/parent" objects "path=/memfd:crs-child")"
expect_eq "fork: the child's record has the parent's objects plus one" \
	$(($(jget "$WORK/parent" objects.#) + 1)) "$(jget "$WORK/child" objects.#)"
expect_eq "fork: every mapping in the child is verified against the child's /proc" "" \
	"$(jfind "$WORK/child" mappings verified=false | tr '\n' ' ')"
expect_eq "fork: no fd of the child's copy contradicts the child's /proc" "" \
	"$(jfind "$WORK/child" objects verified=false | tr '\n' ' ')"
check "fork: the child keeps LD_PRELOAD in its environment" \
	grep -qz "^LD_PRELOAD=$SHIMLIB\$" "/proc/$CPID/environ"
prog_send a reap
if wait_line "$WORK/a.out" '^reaped' 10; then
	expect_eq "fork: the child exited 0" 0 "$(awk '/^reaped/ { print $3 }' "$WORK/a.out")"
	check "fork: the child's endpoint is removed when it exits" test ! -e "$RUNDIR/$CPID.sock"
else
	notok "fork: the child was not reaped"
fi
check "fork: the parent's endpoint is still there" test -S "$RUNDIR/$PID.sock"
"$CRSHIM" status "$PID" >/dev/null 2>&1
check "fork: the parent still answers" test $? -eq 0

# ---- exec --------------------------------------------------------------------------------------
inherited_poolfd=$(awk '$1 == "R" && $2 == "poolfd" { print $9 }' "$WORK/a.out")
prog_send a exec
if ! wait_line "$WORK/a.out" '^execed' 10; then
	notok "exec: the new image did not report: $(tail -c 300 "$WORK/a.err")"
	shim_finish
fi
read -r _ epid efd <<<"$(grep '^execed' "$WORK/a.out")"
expect_eq "exec: same pid" "$PID" "$epid"
check "exec: the new image has an endpoint" test -S "$RUNDIR/$PID.sock"
F=$WORK/exec
status_flat "$PID" "$F"
check "exec: crshim status --json exits 0 for the new image" test $? -eq 0
expect_eq "exec: the environment (CRSHIM_SCRATCH) followed the program" "$WORK/a/scr keep" \
	"$(jget "$F" config.scratch.0.dir) $(jget "$F" config.scratch.0.policy)"
awk '$1 == "R" && $2 == "memfd-exec"' "$WORK/a.out" >"$WORK/a.exec-r"
problems=$(check_rlines "$WORK/a.exec-r" "$F")
expect_eq "exec: what the new image made is recorded" "" "$problems"
check "exec: nothing of the old image is in the new record" \
	test -z "$(grep -E "^objects\.[0-9]+\.path=($WORK/a/|/memfd:crs-res|/dev/shm/crs-|/SYSV)" "$F")"
expect_eq "exec: the new record has just its own object" 1 "$(jget "$F" objects.#)"
u=$(jfind "$F" proc.unrecorded_fds "fd=$efd")
if [ -n "$u" ]; then
	expect_eq "exec: the inherited memfd fd $efd is listed as not seen by the shim" \
		"false /memfd:crs-res-0" \
		"$(jget "$F" "proc.unrecorded_fds.$u.seen_by_shim") $(jget "$F" "proc.unrecorded_fds.$u.path")"
else
	notok "exec: the inherited memfd fd $efd is listed in proc.unrecorded_fds"
fi
check "exec: the inherited unlinked pool fd $inherited_poolfd is listed as not seen" \
	test -n "$(jfind "$F" proc.unrecorded_fds "fd=$inherited_poolfd" seen_by_shim=false)"
prog_stop a
check "exec: the program exits 0" test $? -eq 0
check "exec: its endpoint is removed at exit" test ! -e "$RUNDIR/$PID.sock"

# ---- fork+exec from a shell run by crshim run -----------------------------------------------------
mkdir -p "$WORK/b"
prog_start b -- "$CRSHIM" run -- sh -c "\"$PROGS/shim_resources\" \"$WORK/b\"; echo \"sh-done \$?\""
if wait_line "$WORK/b.out" '^ready' 10; then
	SH=$(prog_pid b)
	PP=$(awk '/^ready/ { print $2 }' "$WORK/b.out")
	check "crshim run sh: the shell has an endpoint" test -S "$RUNDIR/$SH.sock"
	check "crshim run sh: the program it forked and exec'd has its own" test -S "$RUNDIR/$PP.sock"
	status_flat "$PP" "$WORK/b.flat"
	check "crshim run sh: status of the program exits 0" test $? -eq 0
	expect_eq "crshim run sh: the program's ppid is the shell" "$SH" "$(jget "$WORK/b.flat" ppid)"
	expect_eq "crshim run sh: the program's record is its own" "" "$(check_rlines "$WORK/b.out" "$WORK/b.flat")"
	expect_eq "crshim run sh: proc.exe" "$PROGS/shim_resources" "$(jget "$WORK/b.flat" proc.exe)"
	prog_stop b
	check "crshim run sh: the shell and the program exit 0" test $? -eq 0 -a "$(grep -c '^sh-done 0$' "$WORK/b.out")" -eq 1
else
	notok "crshim run sh: the program did not start: $(head -c 300 "$WORK/b.err")"
fi

# ---- fork under load ----------------------------------------------------------------------------
# fork_load LABEL [grow]: 30 children forked while 8 threads make (and, without
# "grow", also unmap) shared mappings.  With "grow" nothing is ever unmapped,
# so the parent's record is exact and any difference in a child comes from
# the fork itself.
fork_load() {
	local label=$1 mode=${2:-} pp kids k p v u noep="" nostatus="" bad="" left=""
	local NCH=30
	mkdir -p "$WORK/$label"
	prog_start "$label" LD_PRELOAD="$SHIMLIB" -- timeout 60 "$PROGS/shim_forkexec" $NCH 8 "$WORK/$label" $mode
	if ! wait_line "$WORK/$label.out" '^ready' 30; then
		notok "$label: the parent did not get ready (a fork or a child hung?): $(head -c 300 "$WORK/$label.err")"
		return
	fi
	pp=$(awk '/^ready/ { print $2 }' "$WORK/$label.out")
	sleep 0.5
	kids=$(awk '/^child/ { print $2 }' "$WORK/$label.out")
	expect_eq "$label: every child reported (no deadlock after fork)" $NCH "$(printf '%s\n' "$kids" | grep -c .)"
	for k in $kids; do
		[ -S "$RUNDIR/$k.sock" ] || noep="$noep $k"
		if ! status_flat "$k" "$WORK/$label.$k"; then
			nostatus="$nostatus $k"
			continue
		fi
		awk -v k="$k" '$1 == "R" && $3 == k' "$WORK/$label.out" >"$WORK/$label.$k.r"
		p=$(check_rlines "$WORK/$label.$k.r" "$WORK/$label.$k")
		v=$(jfind "$WORK/$label.$k" mappings verified=false | grep -c .)
		u=$(grep -cE '^proc\.unrecorded_mappings\.[0-9]+\.path=(/dev/zero|/memfd:crs-|'"$WORK/$label"'/)' "$WORK/$label.$k")
		[ "$(jget "$WORK/$label.$k" ppid)" = "$pp" ] || p="$p ppid"
		if [ -n "$p" ] || [ "$v" -ne 0 ] || [ "$u" -ne 0 ]; then
			bad="$bad $k($v stale, $u missing${p:+, $p})"
		fi
	done
	expect_eq "$label: every child has its own endpoint" "" "$noep"
	expect_eq "$label: every child answers crshim status" "" "$nostatus"
	status_flat "$pp" "$WORK/$label.parent"
	check "$label: the parent still answers" test $? -eq 0
	v=$(jfind "$WORK/$label.parent" mappings verified=false | grep -c .)
	u=$(grep -cE '^proc\.unrecorded_mappings\.[0-9]+\.path=(/dev/zero|/memfd:crs-|'"$WORK/$label"'/)' "$WORK/$label.parent")
	if [ -n "$mode" ]; then
		expect_eq "$label: the parent's own record matches its /proc (stale, missing)" "0 0" "$v $u"
	else
		echo "# $label: parent: $v stale, $u missing mappings (see test_shim_threads for that race)"
	fi
	expect_eq "$label: every child's records match its own /proc (no stale, no missing mapping)" "" "$bad"
	prog_stop "$label"
	check "$label: the parent and every child exit 0" test $? -eq 0
	expect_eq "$label: the parent saw every child exit 0" "children ok $NCH" "$(grep '^children ok' "$WORK/$label.out")"
	for k in $kids; do
		[ -e "$RUNDIR/$k.sock" ] && left="$left $k"
	done
	expect_eq "$label: the children's endpoints are gone after they exit" "" "$left"
}

fork_load "fork while threads mmap (grow only)" grow
fork_load "fork while threads mmap and munmap"
shim_finish
