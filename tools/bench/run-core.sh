#!/bin/bash
# run-core.sh BUILD_DIR: the shim's cost on the hot paths it hooks, and the
# registry's memory per recorded mapping.  Whole-process measurements; every
# ratio is against a baseline measured in the same run.
#
# 1. bench_syscalls mmap (N x mmap+munmap of 4 KiB anonymous private memory,
#    in a slot that never merges with a neighbour), bench_syscalls open FILE
#    (N x open O_RDONLY + close) and, for information, bench_syscalls
#    mmap-default (kernel-chosen placement: includes the effect of the
#    shim changing the address-space layout), RUNS times each, with
#    LD_PRELOAD=BUILD_DIR/libcrshim.so and without, alternating the order
#    in every round (ABBA) to cancel drift; one untimed warm-up run each.
#    Reports the median time of each side and the median of the per-round
#    ratios (with/without), and checks the goal for mmap and open:
#    ratio <= 1.05.
# 2. bench_mappings MAPPINGS /dev/shm/FILE (MAP_SHARED mappings that cannot
#    merge) under the shim: `crshim status --json` gives
#    registry.bytes_per_mapping (the record's size); the measured resident
#    growth per mapping is (VmRSS growth with the shim - VmRSS growth
#    without) / MAPPINGS, and the growth of the registry arena's own Rss
#    (the anonymous mapping of registry.arena_bytes in /proc/PID/smaps).
#
# Environment: RUNS (default 11), N (default 1000000), MAPPINGS (default
# 10000), OPEN_FILE (default: a file created in a temporary directory under
# /tmp).  CPU: pin the timed runs to that CPU with taskset (less
# noise on a busy machine; unset by default).  CRSHIM_* variables are passed through (the defaults are measured
# when none is set).  Needs bash, awk, sort; jq if present (else grep).
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR   (env: RUNS=11 N=1000000 MAPPINGS=10000 OPEN_FILE= CPU=)" >&2; exit 2; }
[ $# -eq 1 ] || usage
BUILD=$(cd "$1" && pwd) || usage
SHIM=$BUILD/libcrshim.so
CLI=$BUILD/crshim
BENCH=$BUILD/tools/bench/bench_syscalls
MAPS_PROG=$BUILD/tools/bench/bench_mappings
RUNS=${RUNS:-11}
MODES="mmap open mmap-thread open-thread mmap-default"
# mmap-thread, open-thread: the same with one idle thread in the program on
# both sides (BENCH_IDLE_THREAD=1): the shim's own cost, without glibc's
# switch to its multi-threaded paths that the shim's thread causes.
N=${N:-1000000}
MAPPINGS=${MAPPINGS:-10000}
PIN=
[ -n "${CPU:-}" ] && PIN="taskset -c $CPU"
for f in "$SHIM" "$CLI" "$BENCH" "$MAPS_PROG"; do
	[ -e "$f" ] || { echo "run-core.sh: $f is missing (build first)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/crshim-bench-core.XXXXXX)
MAPFILE=/dev/shm/crshim-bench-maps.$$
BGPID=
cleanup() {
	[ -n "$BGPID" ] && kill "$BGPID" 2>/dev/null && wait "$BGPID" 2>/dev/null
	rm -rf "$WORK"
	rm -f "$MAPFILE"
}
trap cleanup EXIT
OPEN_FILE=${OPEN_FILE:-$WORK/open-target}
[ -e "$OPEN_FILE" ] || echo "crshim bench" >"$OPEN_FILE"

# median of the numbers on stdin
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print v[(NR+1)/2]; else printf "%.6f\n", (v[NR/2]+v[NR/2+1])/2}'; }

echo "# crshim run-core.sh  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(uname -r)  $(nproc) CPUs  load $(cut -d" " -f1-3 /proc/loadavg)"
echo "# build: $BUILD   runs per side: $RUNS   pairs per run: $N${PIN:+   pinned: $PIN}"
env | grep '^CRSHIM_' | sed 's/^/# environment: /' || true
echo "# commands:"
echo "#   without: ${PIN:+$PIN }$BENCH mmap $N"
echo "#   with:    LD_PRELOAD=$SHIM ${PIN:+$PIN }$BENCH mmap $N"
echo "#   without: ${PIN:+$PIN }$BENCH mmap-default $N"
echo "#   with:    LD_PRELOAD=$SHIM ${PIN:+$PIN }$BENCH mmap-default $N"
echo "#   without: ${PIN:+$PIN }$BENCH open $OPEN_FILE $N"
echo "#   with:    LD_PRELOAD=$SHIM ${PIN:+$PIN }$BENCH open $OPEN_FILE $N"

run_one() { # side mode -> ns on stdout
	local side=$1 mode=$2 thr=
	local args=("${mode%-thread}")
	case $mode in *-thread) thr=1 ;; esac
	[ "${mode%-thread}" = open ] && args+=("$OPEN_FILE")
	args+=("$N")
	if [ "$side" = with ]; then
		LD_PRELOAD=$SHIM BENCH_IDLE_THREAD=$thr $PIN "$BENCH" "${args[@]}"
	else
		env -u LD_PRELOAD BENCH_IDLE_THREAD=$thr $PIN "$BENCH" "${args[@]}"
	fi
}

for mode in $MODES; do
	for side in without with; do
		run_one $side $mode >/dev/null   # warm-up (page cache, CPU frequency), not counted
	done
done

for ((i = 1; i <= RUNS; i++)); do
	for mode in $MODES; do
		if ((i % 2)); then order="without with"; else order="with without"; fi
		for side in $order; do
			ns=$(run_one $side $mode)
			echo "$ns" >>"$WORK/$mode.$side"
		done
		paste "$WORK/$mode.with" "$WORK/$mode.without" | tail -n 1 |
			awk '{printf "%.6f\n", $1/$2}' >>"$WORK/$mode.ratio"
	done
	printf '.' >&2
done
echo >&2

echo
echo "| benchmark | runs | without (ms, median) | with shim (ms, median) | ns/pair without | ns/pair with | added ns/pair | ratio with/without (median) | min..max ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
status=0
for mode in $MODES; do
	wo=$(median <"$WORK/$mode.without")
	wi=$(median <"$WORK/$mode.with")
	r=$(median <"$WORK/$mode.ratio")
	range=$(sort -g "$WORK/$mode.ratio" | awk 'NR==1{a=$1} {b=$1} END{printf "%.3f..%.3f", a, b}')
	case $mode in
	mmap) label="mmap+munmap 4 KiB (isolated slot)" ;;
	mmap-default) label="mmap+munmap 4 KiB (default placement, informational)" ;;
	open) label="open+close O_RDONLY" ;;
	mmap-thread) label="mmap+munmap, program with one idle thread (the shim's own cost)" ;;
	open-thread) label="open+close, program with one idle thread (the shim's own cost)" ;;
	esac
	awk -v l="$label" -v k="$RUNS" -v n="$N" -v wo="$wo" -v wi="$wi" -v r="$r" -v rg="$range" 'BEGIN {
		printf "| %s | %d | %.1f | %.1f | %.1f | %.1f | %+.1f | %.3f | %s |\n",
			l, k, wo/1e6, wi/1e6, wo/n, wi/n, (wi-wo)/n, r, rg }'
	case $mode in mmap | open) echo "$mode $r" >>"$WORK/goals" ;; esac
done
echo
while read -r mode r; do
	if awk -v r="$r" 'BEGIN{exit !(r <= 1.05)}'; then verdict=met; else verdict="NOT met"; status=1; fi
	printf '%s: median ratio %.3f, goal <= 1.05: %s\n' "$mode" "$r" "$verdict"
done <"$WORK/goals"

# ---- registry memory per recorded mapping ----
wait_line() { # file pattern timeout_s
	local t=0
	until grep -q "$2" "$1" 2>/dev/null; do
		sleep 0.05
		t=$((t + 1))
		if ((t > $3 * 20)); then echo "run-core.sh: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1; fi
	done
}

# Runs bench_mappings once; writes "rss_growth_kb vmas" to WORK/maps.SIDE;
# with the shim also saves smaps at both phases and the status JSON.
mappings_run() { # side
	local side=$1 out=$WORK/maps.$1.out
	rm -f "$MAPFILE"
	if [ "$side" = with ]; then
		LD_PRELOAD=$SHIM "$MAPS_PROG" "$MAPPINGS" "$MAPFILE" >"$out" 2>&1 &
	else
		env -u LD_PRELOAD "$MAPS_PROG" "$MAPPINGS" "$MAPFILE" >"$out" 2>&1 &
	fi
	BGPID=$!
	wait_line "$out" '^phase0' 10
	cp "/proc/$BGPID/smaps" "$WORK/smaps0.$side"
	kill -USR1 "$BGPID"
	wait_line "$out" '^phase1' 30
	cp "/proc/$BGPID/smaps" "$WORK/smaps1.$side"
	if [ "$side" = with ]; then
		"$CLI" status --json "$BGPID" >"$WORK/status.json"
	fi
	kill -USR1 "$BGPID"
	wait "$BGPID"
	BGPID=
	awk '/^phase1/ {print $3 - $5, $4}' "$out" >"$WORK/maps.$side"
}

jget() { # key (inside registry) -> value
	if command -v jq >/dev/null; then
		jq -r ".processes[0].registry.$1" "$WORK/status.json"
	else
		grep -o "\"$1\": *[0-9]*" "$WORK/status.json" | head -n 1 | awk -F: '{print $2+0}'
	fi
}

mappings_run without
mappings_run with
read -r grow_wo vmas_wo <"$WORK/maps.without"
read -r grow_wi vmas_wi <"$WORK/maps.with"
bpm=$(jget bytes_per_mapping)
nmaps=$(jget mappings)
arena=$(jget arena_bytes)
dropped=$(jget dropped_mappings)
# The arena: the mapping whose size is arena_bytes (found before the status
# request, which maps its own snapshot buffer).
arena_rss() { awk -v kb=$((arena / 1024)) '/^[0-9a-f]+-[0-9a-f]+ /{r=$1} /^Size:/{hit=($2==kb)} /^Rss:/ && hit {print $2; hit=0; exit}' "$1"; }
a0=$(arena_rss "$WORK/smaps0.with")
a1=$(arena_rss "$WORK/smaps1.with")

echo
echo "# registry memory: $MAPPINGS MAP_SHARED mappings of one page of $MAPFILE (alternating r--/rw-, all at offset 0: no two merge)"
echo "# commands:"
echo "#   without: $MAPS_PROG $MAPPINGS $MAPFILE"
echo "#   with:    LD_PRELOAD=$SHIM $MAPS_PROG $MAPPINGS $MAPFILE"
echo "#   query:   $CLI status --json PID   (registry.bytes_per_mapping, .mappings, .arena_bytes)"
echo "#   RSS:     VmRSS of /proc/PID/status before and after the mappings; arena: Rss of its mapping in /proc/PID/smaps"
echo
echo "| quantity | value |"
echo "|---|---|"
echo "| VMAs in the process after mapping (without / with shim) | $vmas_wo / $vmas_wi |"
echo "| mappings recorded by the registry (dropped) | $nmaps ($dropped) |"
echo "| registry.bytes_per_mapping (record size) | $bpm B |"
echo "| registry.arena_bytes (reserved, MAP_NORESERVE) | $arena B |"
awk -v a="$grow_wo" -v b="$grow_wi" -v n="$MAPPINGS" 'BEGIN {
	printf "| VmRSS growth for %d mappings: without / with shim | %d KiB / %d KiB |\n", n, a, b
	printf "| measured resident bytes per mapping, (with - without) / %d | %.1f B |\n", n, (b - a) * 1024 / n }'
if [ -n "$a0" ] && [ -n "$a1" ]; then
	awk -v a="$a0" -v b="$a1" -v n="$MAPPINGS" 'BEGIN {
		printf "| registry arena Rss before / after | %d KiB / %d KiB |\n", a, b
		printf "| measured arena bytes per mapping, growth / %d | %.1f B |\n", n, (b - a) * 1024 / n }'
else
	echo "| registry arena Rss | (arena mapping of $arena B not found in smaps) |"
fi
exit $status
