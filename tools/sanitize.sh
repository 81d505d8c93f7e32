#!/usr/bin/env bash
# tools/sanitize.sh: build crshim with sanitizers and run the test suite there.
#
#   bash tools/sanitize.sh [all|asan|tsan] [ctest args...]
#
#   asan  configure and build ${CRSHIM_ASAN_DIR:-build-asan} with
#         -DCRSHIM_SANITIZE=address,undefined (the shim, the crshim command, the
#         unit tests and every test program), then run the whole ctest suite
#         there (ctest args are passed on, e.g. -R shim or -E mpi);
#   tsan  configure and build ${CRSHIM_TSAN_DIR:-build-tsan} with
#         -DCRSHIM_SANITIZE=thread and run the threaded tests there: the
#         registry unit test, the PREPARE/RESUME stress (test_soak_control.sh),
#         8 threads creating every resource kind (test_shim_threads.sh) and
#         signals inside the hooks (test_fault_signals.sh, real CRIU);
#         CRSHIM_TSAN_TESTS="registry soak threads signals" picks some;
#   all   (default) both.
#
# Exits non-zero when a test fails or when any sanitizer report was written,
# by any process: reports go to files (log_path) in a fresh directory, so
# those of detached processes (restored jobs, programs the tests start in the
# background) are seen too, and each one is printed at the end.
#
# How the ASan-built shim is preloaded.  gcc links the ASan and UBSan
# runtimes (libasan.so, libubsan.so) into libcrshim.so and into every program
# of the build, so:
#   - a test program (built with ASan) loads as  prog, libcrshim.so,
#     libasan.so, libc: full ASan, malloc intercepted, the shim's hooks in
#     front of ASan's own interceptors;
#   - a program not built here (/bin/bash, sleep, mpirun, orted, CRIU's
#     action script...) loads the shim as  prog, libcrshim.so, libc,
#     libasan.so: ASan runs (the shim's stack, globals and memory accesses
#     are checked) but its malloc interceptors come after libc's and stay
#     unused, which is fine for the shim: it never calls malloc.
# In both cases the ASan runtime is not first in the library list, which ASan
# refuses by default: verify_asan_link_order=0 allows it.  (The alternative,
# the runtime first in LD_PRELOAD, would need every test's LD_PRELOAD changed.)
# Leak checking stays on (crshim and the test programs are built with ASan);
# a leak is a report like any other.
#
# Environment: CC (default cc: gcc, whose sanitizers link as described
# above), CRSHIM_SAN_CMAKE_ARGS (extra cmake arguments, e.g.
# -DCRSHIM_VERBS=OFF), CRSHIM_SAN_REPORTS (keep the reports there),
# CRSHIM_SOAK_CYCLES (PREPARE/RESUME cycles under TSan, default 300), CRSHIM_SOAK_STRESS
# (rounds of requests against four busy threads under TSan, default 1000),
# CRSHIM_SOAK_CRIU_CYCLES (checkpoint/restore cycles under ASan, default 20).
# Warnings are not errors here (CRSHIM_WERROR=OFF): the instrumentation makes
# gcc warn about impossible cases ("null format string"); the normal CI build
# keeps -Werror.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

mode=${1:-all}
[ "$#" -gt 0 ] && shift
case $mode in
all | asan | tsan) ;;
-h | --help | help)
	sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit 0
	;;
*)
	echo "usage: bash tools/sanitize.sh [all|asan|tsan] [ctest args...]" >&2
	exit 2
	;;
esac

ASAN_DIR=${CRSHIM_ASAN_DIR:-build-asan}
TSAN_DIR=${CRSHIM_TSAN_DIR:-build-tsan}
read -r -a EXTRA <<<"${CRSHIM_SAN_CMAKE_ARGS:-}"
JOBS=${CRSHIM_SAN_JOBS:-2}

phase() { printf '== sanitize: %s\n' "$*"; }

if [ -n "${CRSHIM_SAN_REPORTS:-}" ]; then
	REPORTS=$CRSHIM_SAN_REPORTS
	mkdir -p "$REPORTS"
else
	REPORTS=$(mktemp -d /tmp/crshim-sanitize.XXXXXX)
fi
# Processes of other users (the security tests) write their reports here too.
chmod 1777 "$REPORTS"

rc=0

configure_build() { # dir sanitize targets...
	local dir=$1 san=$2
	shift 2
	phase "configure $dir (-DCRSHIM_SANITIZE=$san)"
	cmake -S . -B "$dir" -DCRSHIM_SANITIZE="$san" -DCRSHIM_WERROR=OFF -DCRSHIM_TESTS=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo "${EXTRA[@]}" >"$REPORTS/cmake-$san.log" 2>&1 || {
		tail -n 30 "$REPORTS/cmake-$san.log" >&2
		return 1
	}
	phase "build $dir"
	if [ "$#" -gt 0 ]; then
		local t
		for t in "$@"; do
			cmake --build "$dir" -j"$JOBS" --target "$t" >>"$REPORTS/build-$san.log" 2>&1 || {
				tail -n 30 "$REPORTS/build-$san.log" >&2
				return 1
			}
		done
	else
		cmake --build "$dir" -j"$JOBS" >"$REPORTS/build-$san.log" 2>&1 || {
			tail -n 30 "$REPORTS/build-$san.log" >&2
			return 1
		}
	fi
}

# A report is a file some runtime wrote into $REPORTS/PREFIX.PID.  Errors
# fail the run; anything else (a runtime's warning) is shown.
scan_reports() { # prefix
	local f bad=0 n=0
	for f in "$REPORTS/$1".*; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		if grep -qE 'ERROR: (Address|Leak|Thread|UndefinedBehavior)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$f"; then
			bad=$((bad + 1))
			echo "---- sanitizer report $f:"
		else
			echo "---- sanitizer output (not an error) $f:"
		fi
		head -n 60 "$f" | sed 's/^/    /'
	done
	if [ "$bad" -gt 0 ]; then
		echo "sanitize: $bad sanitizer report(s) in $REPORTS ($1.*)" >&2
		return 1
	fi
	echo "sanitize: no $1 report ($n file(s) of harmless output)"
	return 0
}

# Unsymbolized frames "(MODULE+0xOFF)" of this build's binaries get their
# function and line (addr2line) appended.
symbolize_reports() { # prefix build-dir
	local f bin mod off line
	for f in "$REPORTS/$1".*; do
		[ -e "$f" ] || continue
		while IFS= read -r line; do
			if [[ $line =~ \(([^()+]+)\+(0x[0-9a-f]+)\) ]]; then
				mod=${BASH_REMATCH[1]}
				off=${BASH_REMATCH[2]}
				bin=$(find "$2" -maxdepth 3 -name "$(basename "$mod")" \( -type f -o -type l \) 2>/dev/null | head -n 1)
				if [ -n "$bin" ]; then
					line="$line  $(addr2line -f -i -e "$bin" "$off" 2>/dev/null | paste -sd ' ')"
				fi
			fi
			printf '%s\n' "$line"
		done <"$f" >"$f.sym" && mv "$f.sym" "$f"
	done
}

run_asan() {
	configure_build "$ASAN_DIR" address,undefined || return 1
	phase "ctest in $ASAN_DIR (ASan + UBSan)"
	# Options for every process of the run (inherited through the tests'
	# environments; the test scripts replace LD_PRELOAD, never these).
	export ASAN_OPTIONS="verify_asan_link_order=0:log_path=$REPORTS/asan:detect_leaks=1:handle_abort=1"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=0:log_path=$REPORTS/ubsan"
	export LSAN_OPTIONS="log_path=$REPORTS/asan:suppressions=$ROOT/tests/lsan.supp"
	export CRSHIM_SANITIZED=address
	# the CRIU soak runs shorter here (in full in the normal build)
	export CRSHIM_SOAK_CRIU_CYCLES=${CRSHIM_SOAK_CRIU_CYCLES:-20}
	local trc=0
	ctest --test-dir "$ASAN_DIR" --output-on-failure --timeout 1200 "$@" || trc=$?
	unset CRSHIM_SOAK_CRIU_CYCLES
	unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS CRSHIM_SANITIZED
	[ "$trc" -eq 0 ] || echo "sanitize: ctest failed under ASan/UBSan (exit $trc)" >&2
	scan_reports asan || trc=1
	scan_reports ubsan || trc=1
	return "$trc"
}

run_tsan() {
	local tests=${CRSHIM_TSAN_TESTS:-registry soak threads signals} t r trc=0
	configure_build "$TSAN_DIR" thread crshim crshim-cli unit_test_registry soak_hammer soak_ctl \
		shim_resources fault_signals || return 1
	# symbolize=0: gcc's TSan runtime sets up its symbolizer (libbacktrace)
	# with mmap while it initialises, before main, and the preloaded shim's
	# (instrumented) mmap hook cannot run that early; the reports are
	# symbolized afterwards (symbolize_reports).  report_signal_unsafe stays
	# on: the shim's handlers (thread parking) and those of
	# tests/progs/fault_signals.c, which make hooked calls, must not call
	# malloc or anything else that is not async-signal-safe.
	export TSAN_OPTIONS="symbolize=0:log_path=$REPORTS/tsan:halt_on_error=0:second_deadlock_stack=1"
	export CRSHIM_SANITIZED=thread
	# (test_shim_allocator.sh is not run: a TSan-built program cannot
	# replace malloc, and it skips itself)
	for t in $tests; do
		r=0
		case $t in
		registry)
			phase "TSan: unit_test_registry (threaded registry test)"
			"$TSAN_DIR/tests/unit/unit_test_registry" || r=1
			;;
		soak)
			phase "TSan: PREPARE/RESUME stress (test_soak_control.sh)"
			CRSHIM_SOAK_CYCLES=${CRSHIM_SOAK_CYCLES:-300} CRSHIM_SOAK_STRESS=${CRSHIM_SOAK_STRESS:-1000} \
				bash tests/integration/test_soak_control.sh "$TSAN_DIR" || r=1
			;;
		threads)
			phase "TSan: 8 threads creating every resource kind (test_shim_threads.sh)"
			bash tests/integration/test_shim_threads.sh "$TSAN_DIR" || r=1
			;;
		signals)
			phase "TSan: signals inside the hooks (test_fault_signals.sh, real CRIU)"
			bash tests/integration/test_fault_signals.sh "$TSAN_DIR" || r=1
			;;
		*)
			echo "sanitize: unknown TSan test '$t' (registry, soak, threads, signals)" >&2
			r=1
			;;
		esac
		[ "$r" -eq 0 ] || { echo "sanitize: TSan test '$t' failed" >&2; trc=1; }
	done
	unset TSAN_OPTIONS CRSHIM_SANITIZED
	symbolize_reports tsan "$TSAN_DIR"
	scan_reports tsan || trc=1
	return "$trc"
}

case $mode in
asan) run_asan "$@" || rc=1 ;;
tsan) run_tsan || rc=1 ;;
all)
	run_asan "$@" || rc=1
	run_tsan || rc=1
	;;
esac
if [ "$rc" -eq 0 ]; then
	phase "passed (reports dir $REPORTS)"
	[ -z "${CRSHIM_SAN_REPORTS:-}" ] && rm -rf "$REPORTS"
else
	phase "FAILED (reports and build logs kept in $REPORTS)"
fi
exit "$rc"
