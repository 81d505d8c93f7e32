#!/bin/bash
# Issue 4's figures: the scratch program (a 2 GiB sparse scratch file with
# 256 MiB written, deleted while open, plus a 16 MiB deleted temp file),
# dumped by plain CRIU (--ghost-limit large enough for the deleted files)
# and by crshim with the drop policy, in the same run: image size and dump
# time (medians).
#   bash tools/bench/run-scratch.sh BUILD_DIR [ROUNDS]
set -u
BUILD=$(cd "${1:?usage: run-scratch.sh BUILD_DIR [ROUNDS]}" && pwd)
ROUNDS=${2:-3}
CRIU=${CRSHIM_CRIU:-$(cat /opt/crshim/criu/selected 2>/dev/null || echo /opt/crshim/criu/criu)}
export CRSHIM_CRIU=$CRIU
W=$(mktemp -d /tmp/crshim-bench-scratch.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/s/drop" "$W/s/keep" "$W/s/save"

now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
start() { # env...
	rm -f "$W/res"
	env SCRATCH_UNLINK_BIG=1 "$@" "$BUILD/tests/progs/scratch_worker" "$W/s" 100000 "$W/res" </dev/null >/dev/null 2>&1 &
	P=$!
	sleep 4 # 256 MiB written
}
stop() { kill -9 "$P" 2>/dev/null; wait "$P" 2>/dev/null; }

for r in $(seq "$ROUNDS"); do
	start
	mkdir -p "$W/plain$r"
	t0=$(now)
	"$CRIU" dump -t "$P" -D "$W/plain$r" --shell-job --ghost-limit 4G -o dump.log >/dev/null 2>&1 ||
		echo "plain dump failed" >&2
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$W/plain.t"
	du -sm --exclude='*.log' "$W/plain$r" | cut -f1 >>"$W/plain.size"
	stop
	rm -rf "$W/plain$r"
	start LD_PRELOAD="$BUILD/libcrshim.so" CRSHIM_SCRATCH="$W/s/drop:drop,$W/s/keep:drop,$W/s/save:drop"
	t0=$(now)
	"$BUILD/crshim" dump -D "$W/crshim$r" "$P" >/dev/null 2>&1 || echo "crshim dump failed" >&2
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$W/crshim.t"
	du -sm --exclude='*.log' --exclude='*.out' "$W/crshim$r" | cut -f1 >>"$W/crshim.size"
	stop
	rm -rf "$W/crshim$r"
done
echo "scratch program: 2 GiB sparse file (256 MiB written) + 16 MiB temp file, both deleted while open,"
echo "plus two 8 MiB scratch files; medians of $ROUNDS rounds"
echo
echo "| | image (MiB) | dump (s) |"
echo "|---|---|---|"
printf '| plain CRIU --ghost-limit 4G | %s | %s |\n' "$(median <"$W/plain.size")" "$(median <"$W/plain.t")"
printf '| crshim, drop policy | %s | %s |\n' "$(median <"$W/crshim.size")" "$(median <"$W/crshim.t")"
echo
echo "plain: $CRIU dump -t PID --shell-job --ghost-limit 4G"
echo "crshim: CRSHIM_SCRATCH=DIR:drop ...; crshim dump -D DIR PID"
