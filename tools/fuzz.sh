#!/usr/bin/env bash
# tools/fuzz.sh: build crshim's libFuzzer targets (tests/fuzz) with clang and
# run each one for a bounded time.
#
#   bash tools/fuzz.sh [SECONDS] [TARGET...]
#
#   SECONDS  per target (default ${CRSHIM_FUZZ_SECONDS:-30}); TARGET: fuzz_config,
#            fuzz_control, fuzz_swap, fuzz_jsonw, fuzz_proc, fuzz_tcp,
#            fuzz_manifest, fuzz_ptree, fuzz_answer (default: all)
#
# Builds into ${CRSHIM_FUZZ_DIR:-build-fuzz} (CC: clang, else clang-14), starts
# each target from its seed corpus (tests/fuzz/corpus/NAME, copied into the
# build directory, so new inputs never touch the source tree), and fails if
# a target crashes, leaks, hits a sanitizer report or a timeout: the input
# is kept as build-fuzz/artifacts/NAME-crash-* and the command to reproduce
# it is printed.
#
# A longer run (an hour per target, both cores, new inputs merged back into
# the seed corpus afterwards):
#   CRSHIM_FUZZ_JOBS=2 bash tools/fuzz.sh 3600
#   build-fuzz/fuzz_NAME -merge=1 tests/fuzz/corpus/NAME build-fuzz/corpus/NAME
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SECS=${1:-${CRSHIM_FUZZ_SECONDS:-30}}
[ "$#" -gt 0 ] && shift
case $SECS in
'' | *[!0-9]*)
	sed -n '2,24s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit 2
	;;
esac
DIR=${CRSHIM_FUZZ_DIR:-build-fuzz}
JOBS=${CRSHIM_FUZZ_JOBS:-1}
CCOMP=${CC:-}
if [ -z "$CCOMP" ] || ! "$CCOMP" --version 2>/dev/null | grep -q clang; then
	CCOMP=$(command -v clang || command -v clang-14 || true)
fi
if [ -z "$CCOMP" ]; then
	echo "fuzz: clang not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
	exit 1
fi

echo "== fuzz: build ($CCOMP) into $DIR"
if ! CC="$CCOMP" cmake -S tests/fuzz -B "$DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$DIR.cmake.log" 2>&1 ||
	! cmake --build "$DIR" -j2 --target fuzzers >>"$DIR.cmake.log" 2>&1; then
	tail -n 30 "$DIR.cmake.log" >&2
	echo "fuzz: build failed (log: $DIR.cmake.log)" >&2
	exit 1
fi

TARGETS=("$@")
if [ "${#TARGETS[@]}" -eq 0 ]; then
	TARGETS=(fuzz_config fuzz_control fuzz_swap fuzz_jsonw fuzz_proc fuzz_tcp fuzz_manifest fuzz_ptree fuzz_answer)
fi
mkdir -p "$DIR/artifacts"
rc=0
for t in "${TARGETS[@]}"; do
	short=${t#fuzz_}
	corpus="$DIR/corpus/$short"
	mkdir -p "$corpus"
	[ -d "tests/fuzz/corpus/$short" ] && cp -n tests/fuzz/corpus/"$short"/* "$corpus/" 2>/dev/null
	echo "== fuzz: $t for ${SECS} s"
	log="$DIR/$t.log"
	extra=()
	[ "$JOBS" -gt 1 ] && extra=(-jobs="$JOBS" -workers="$JOBS")
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
		"$DIR/$t" "$corpus" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
		-print_final_stats=1 -artifact_prefix="$DIR/artifacts/$t-" "${extra[@]}" >"$log" 2>&1
	r=$?
	stats=$(grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$log" | awk '{ printf "%s ", $2 }')
	if [ $r -ne 0 ]; then
		rc=1
		echo "fuzz: $t FAILED (exit $r); from $log:" >&2
		grep -E 'ERROR|SUMMARY|check failed|runtime error|Test unit written' "$log" | head -n 15 | sed 's/^/    /' >&2
		a=$(ls -t "$DIR/artifacts/$t-"* 2>/dev/null | head -n 1)
		[ -n "$a" ] && echo "    reproduce: $DIR/$t $a" >&2
	else
		echo "   ok: executed/new units: $stats($(ls "$corpus" | wc -l) inputs in the corpus)"
	fi
done
[ $rc -eq 0 ] && echo "== fuzz: passed" || echo "== fuzz: FAILED" >&2
exit $rc
