#!/usr/bin/env bash
# tests/integration/test_shim_allocator.sh BUILD_DIR
#
# A program that replaces malloc/calloc/realloc/free/posix_memalign/...
# with its own mmap-based allocator and calls mmap, munmap and mremap while
# holding its (error-checking) mutex (tests/progs/shim_allocator), 8
# threads, under the shim:
#   - it must finish (no deadlock: run under `timeout`), without its
#     "allocator re-entered" abort, with the same results as without the
#     shim: plain, with CRSHIM_BACKTRACE=1 (libunwind in the hook), with
#     CRSHIM_LOG=trace to a file, and through `crshim run`;
#   - while it runs, `crshim status --json` is asked again and again (the
#     control thread snapshots and describes call sites while the program's
#     threads are inside the allocator and the hooks): every request is
#     answered and the program still finishes;
#   - its large MAP_SHARED blocks that stay alive are in the record.
set -u
. "$(dirname "$0")/test_shim_lib.sh"
shim_setup test_shim_allocator "${1:-}"
need_prog shim_allocator

A=$PROGS/shim_allocator
results() { grep -E '^(thread [0-9]+ sum|total|mmaps under lock)' "$1"; }

timeout 20 "$A" 8 20000 </dev/null >"$WORK/base.out" 2>"$WORK/base.err"
rc=$?
if [ $rc -eq 77 ]; then
	cat "$WORK/base.out"
	exit 77
fi
if [ $rc -ne 0 ]; then
	notok "without the shim the allocator program works (exit $rc: $(head -c 200 "$WORK/base.err"))"
	shim_finish
fi
ok "without the shim the allocator program works"
check "it really mmaps while holding its lock" grep -qx 'mmaps under lock: yes' "$WORK/base.out"
results "$WORK/base.out" >"$WORK/base.res"

variant() {
	local label=$1 rc
	shift
	timeout 20 "$@" </dev/null >"$WORK/$label.out" 2>"$WORK/$label.err"
	rc=$?
	if [ $rc -eq 124 ]; then
		notok "$label: finished within 20 s (it hung: deadlock)"
		return
	fi
	expect_eq "$label: exit status" 0 "$rc"
	check "$label: the allocator was never re-entered from inside mmap" \
		test -z "$(grep 're-entered' "$WORK/$label.err")"
	results "$WORK/$label.out" >"$WORK/$label.res"
	check "$label: same results as without the shim" cmp -s "$WORK/base.res" "$WORK/$label.res"
}
variant "LD_PRELOAD" env LD_PRELOAD="$SHIMLIB" "$A" 8 20000
variant "CRSHIM_BACKTRACE=1" env LD_PRELOAD="$SHIMLIB" CRSHIM_BACKTRACE=1 "$A" 8 20000
variant "CRSHIM_LOG=trace" env LD_PRELOAD="$SHIMLIB" CRSHIM_LOG=trace CRSHIM_LOG_FILE="$WORK/trace.%p.log" "$A" 8 20000
variant "crshim run" "$CRSHIM" run -- "$A" 8 20000
variant "CRSHIM_HOOKS=mmap" env LD_PRELOAD="$SHIMLIB" CRSHIM_HOOKS=mmap CRSHIM_BACKTRACE=1 "$A" 8 20000

# ---- status requests while the threads allocate ------------------------------------------------
# (no `timeout` here: its pid would be the one asked; prog_stop kills a hung program)
prog_start busy LD_PRELOAD="$SHIMLIB" CRSHIM_BACKTRACE=1 -- "$A" 8 150000
PID=$(prog_pid busy)
asked=0
answered=0
slow=0
for i in $(seq 400); do
	grep -q '^ready' "$WORK/busy.out" && break
	kill -0 "$PID" 2>/dev/null || break
	[ -S "$RUNDIR/$PID.sock" ] || { sleep 0.02; continue; }
	asked=$((asked + 1))
	start=$(date +%s%N)
	if "$CRSHIM" status --json "$PID" >"$WORK/busy.json" 2>"$WORK/busy.status.err"; then
		answered=$((answered + 1))
	elif grep -q 'no such process' "$WORK/busy.status.err"; then
		asked=$((asked - 1))
		break
	fi
	[ $((($(date +%s%N) - start) / 1000000)) -gt 4000 ] && slow=$((slow + 1))
	sleep 0.02
done
check "status during the run: asked at least 5 times while the threads allocate ($asked)" test "$asked" -ge 5
expect_eq "status during the run: every request answered" "$asked" "$answered"
expect_eq "status during the run: no answer took more than 4 s" 0 "$slow"
if wait_line "$WORK/busy.out" '^ready' 40; then
	ok "status during the run: the program still finishes"
	results "$WORK/busy.out" >/dev/null
	check "status during the run: no re-entry" test -z "$(grep 're-entered' "$WORK/busy.err")"
	status_flat "$PID" "$WORK/busy.flat"
	check "its final status is answered" test $? -eq 0
	n=$(grep -c '^R anon' "$WORK/busy.out")
	check "some large blocks are MAP_SHARED ($n)" test "$n" -ge 1
	expect_eq "its live MAP_SHARED blocks are recorded as shared anonymous memory" "" \
		"$(check_rlines "$WORK/busy.out" "$WORK/busy.flat")"
	expect_eq "... and nothing is dropped" 0 "$(jget "$WORK/busy.flat" registry.dropped)"
	prog_stop busy
	check "the program exits 0" test $? -eq 0
else
	notok "status during the run: the program still finishes (hung or died: $(tail -c 200 "$WORK/busy.err"))"
fi
shim_finish
