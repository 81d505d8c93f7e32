#!/usr/bin/env bash
# tests/integration/test_shim_threads.sh BUILD_DIR
#
# Every resource kind created from 8 threads at once (released together by
# a barrier) under the shim; the record must hold exactly what exists:
#   - one run without churn: exact object counts per kind, every mapping at
#     its address with its extent and object, every kept fd, all verified
#     against /proc, nothing dropped;
#   - three runs where each thread first creates and destroys 200 anonymous
#     shared mappings, memfd mappings and unlinked file mappings, keeping
#     every second anonymous one (800 kept in all, each its own object: the
#     registry holds 1024 objects): the kept ones must all
#     be recorded (a munmap in one thread must never erase the record of the
#     mapping another thread just got at the same address), nothing
#     destroyed may linger, and /proc must show no shared mapping of the
#     program that the record lacks.
set -u
. "$(dirname "$0")/test_shim_lib.sh"
shim_setup test_shim_threads "${1:-}"
need_prog shim_resources
NT=8

count_kind() { jfind "$1" objects "kind=$2" | grep -c .; }

# Our shared mappings in /proc that the record lacks (none expected).
unrecorded_ours() {
	local f=$1 w=$2
	awk -v w="$w/" '
	/^proc\.unrecorded_mappings\.[0-9]+\.path=/ {
		v = substr($0, index($0, "=") + 1)
		if (index(v, w) == 1 || v ~ /^\/(dev\/zero|memfd:crs-|SYSV43|dev\/shm\/crs-)/) print v }' "$f"
}

run_one() {
	local label=$1 churn=$2 dir=$WORK/$1 pid f problems n
	mkdir -p "$dir/scr"
	prog_start "$label" CRSHIM_SCRATCH="$dir/scr" LD_PRELOAD="$SHIMLIB" -- \
		timeout 60 "$PROGS/shim_resources" -t $NT ${churn:+-c "$churn" -K} -s "$dir/scr" "$dir"
	if ! wait_line "$WORK/$label.out" '^ready' 30; then
		notok "$label: shim_resources -t $NT did not get ready: $(head -c 300 "$WORK/$label.err")"
		return
	fi
	pid=$(awk '/^ready/ { print $2 }' "$WORK/$label.out")
	f=$WORK/$label.flat
	status_flat "$pid" "$f"
	check "$label: crshim status --json exits 0" test $? -eq 0
	expect_eq "$label: nothing dropped" 0 "$(jget "$f" registry.dropped)"
	problems=$(check_rlines "$WORK/$label.out" "$f")
	n=$(printf '%s' "$problems" | grep -c .)
	expect_eq "$label: every resource of every thread is recorded as it is ($n problems${problems:+; first: $(printf '%s\n' "$problems" | head -3 | tr '\n' ';')})" 0 "$n"
	expect_eq "$label: every recorded mapping is verified against /proc" "" \
		"$(jfind "$f" mappings verified=false | tr '\n' ' ')"
	expect_eq "$label: no object's fds contradict /proc" "" "$(jfind "$f" objects verified=false | tr '\n' ' ')"
	expect_eq "$label: /proc shows no shared mapping of ours that is not recorded" "" \
		"$(unrecorded_ours "$f" "$dir" | head -5 | tr '\n' ' ')"
	local keep=0
	[ -n "$churn" ] && keep=$((NT * (churn / 2)))
	expect_eq "$label: 'keep' lines printed" "$keep" "$(grep -c '^R keep ' "$WORK/$label.out")"
	# file: file, poolmap, poolfd, scratch per thread
	expect_eq "$label: file objects" $((4 * NT)) "$(count_kind "$f" file)"
	expect_eq "$label: posix_shm objects" $((2 * NT)) "$(count_kind "$f" posix_shm)"
	expect_eq "$label: memfd objects (churned ones forgotten)" "$NT" "$(count_kind "$f" memfd)"
	expect_eq "$label: sysv objects" $((2 * NT)) "$(count_kind "$f" sysv)"
	expect_eq "$label: anon_shared objects" $((NT + keep)) "$(count_kind "$f" anon_shared)"
	# mappings: file rw + ro, poolmap, shm, shmgone, memfd, sysv, sysvrmid, anon
	expect_eq "$label: mappings" $((9 * NT + keep)) "$(jget "$f" mappings.#)"
	# fds: file, poolfd, shm, memfd, scratch
	expect_eq "$label: fds" $((5 * NT)) "$(jget "$f" registry.fds)"
	check "$label: no churned file is still recorded" test -z "$(grep -E '^objects\.[0-9]+\.path=.*/churn-' "$f")"
	prog_stop "$label"
	check "$label: the program exits 0" test $? -eq 0
}

run_one plain ""
for i in 1 2 3; do
	run_one "churn$i" 200
done
shim_finish
