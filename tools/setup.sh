#!/usr/bin/env bash
# tools/setup.sh: prepare a Debian 12 machine for crshim, build it, and optionally run the demo
# or the tests.
#
#   bash tools/setup.sh [build|demo|test] [args...]
#
#   build (default)  install missing packages, install a working CRIU (tools/get-criu.sh),
#                    configure and build with CMake into ${CRSHIM_BUILD_DIR:-build}, and
#                    install crshim into /usr/local
#   demo [args]      build, then run tools/demo.sh [args]
#   test             build, then the whole test suite: ctest, the suite again under ASan+UBSan
#                    and the threaded tests under TSan (tools/sanitize.sh), every fuzz target
#                    for ${CRSHIM_FUZZ_SECONDS:-30} s (tools/fuzz.sh); non-zero if any failed
#   test ARGS...     build, then only ctest ARGS (e.g. -R unit); exits with ctest's status
#
# Idempotent and safe to re-run; works from any directory. CI=true turns on -DCRSHIM_WERROR=ON.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

mode=${1:-build}
if [ "$#" -gt 0 ]; then
	shift
fi
case $mode in
build | demo | test) ;;
-h | --help | help)
	sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit 0
	;;
*)
	echo "usage: bash tools/setup.sh [build|demo|test] [args...]" >&2
	exit 2
	;;
esac
if [ "$mode" = build ] && [ "$#" -gt 0 ]; then
	echo "setup: 'build' takes no arguments (got: $*)" >&2
	exit 2
fi

BUILD_DIR=${CRSHIM_BUILD_DIR:-build}

phase() { printf '== %s\n' "$*"; }
die() {
	printf 'setup: error: %s\n' "$*" >&2
	exit 1
}

# root, or sudo when there is one
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || die "not root and sudo is not installed: run this as root."
	SUDO=(sudo)
fi

# ---- packages --------------------------------------------------------------------------------
# criu: Debian 12's package does not work on this kernel, but it ships libcriu.so.2 and the
# criu.h/criu-plugin.h headers; criu.h includes protobuf-c.h, hence libprotobuf-c-dev.
# clang and libclang-rt-14-dev: libFuzzer for tools/fuzz.sh (sanitizers use gcc's runtimes).
# mpich, libmpich-dev: MPICH 4.0.2 (hydra, mpicc.mpich) for test_criu_mpich; their Debian
# alternatives have priority 40, Open MPI's 50, so mpirun, mpicc and mpi.h stay Open MPI's
# (checked below).
PACKAGES=(
	build-essential cmake pkg-config file
	libunwind-dev libelf-dev libcmocka-dev libjansson-dev
	libibverbs-dev ibverbs-utils
	openmpi-bin libopenmpi-dev
	mpich libmpich-dev
	criu libprotobuf-c-dev
	nftables iproute2 procps util-linux strace
	clang libclang-rt-14-dev
)

phase packages
missing=()
for p in "${PACKAGES[@]}"; do
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "installing: ${missing[*]}"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q update
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o Dpkg::Use-Pty=0 install -y --no-install-recommends "${missing[@]}" </dev/null
else
	echo "all ${#PACKAGES[@]} packages are installed"
fi
# The MPI defaults (mpirun/mpiexec, mpicc, mpi.h/libmpi.so) must be Open MPI's: the tests and
# CMake's FindMPI use them.  Installing MPICH keeps them in auto mode; a machine where someone
# switched them to MPICH is not changed behind their back, only told.
for alt in mpirun:/usr/bin/mpirun.openmpi mpi:/usr/bin/mpicc.openmpi \
	mpi-x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu/openmpi/include; do
	name=${alt%%:*} want=${alt#*:}
	cur=$(update-alternatives --query "$name" 2>/dev/null | sed -n 's/^Value: //p')
	if [ -n "$cur" ] && [ "$cur" != "$want" ]; then
		echo "setup: warning: the '$name' alternative points to $cur, not Open MPI's $want;" \
			"the MPI tests need Open MPI (update-alternatives --set $name $want)" >&2
	fi
done
# Open MPI must be able to start local ranks (as root too: the tests run as root)
if ! out=$(timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2 true 2>&1 </dev/null); then
	printf '%s\n' "$out" | tail -n 5 >&2
	die "'mpirun --allow-run-as-root --oversubscribe -np 2 true' fails: Open MPI cannot start local ranks."
fi
echo "mpirun starts local ranks"

# ---- criu ------------------------------------------------------------------------------------
phase criu
if [ "${#SUDO[@]}" -gt 0 ]; then
	sudo --preserve-env=CRSHIM_CRIU_PREFIX,CRSHIM_CRIU_SUITE,CRSHIM_DEBIAN_MIRROR,CC \
		bash "$ROOT/tools/get-criu.sh" </dev/null
else
	bash "$ROOT/tools/get-criu.sh" </dev/null
fi

# ---- build -----------------------------------------------------------------------------------
phase build
cmake_args=(-S . -B "$BUILD_DIR")
if [ "${CI:-}" = true ]; then
	cmake_args+=(-DCRSHIM_WERROR=ON)
fi
cmake "${cmake_args[@]}"
cmake --build "$BUILD_DIR" -j2
# crshim on PATH and crshim.pc where pkg-config looks (README "Installing"); the tests use the
# build tree, whose crshim finds the build tree's library first.
phase "install into /usr/local"
"${SUDO[@]}" cmake --install "$BUILD_DIR" --prefix /usr/local >/dev/null

# ---- demo / tests ----------------------------------------------------------------------------
# failed_assertions BUILD_DIR: a CI log is often cut in the middle, so repeat each failed
# assertion of the last ctest run there (and the indented detail under it) at the very end.
failed_assertions() {
	local log=$1/Testing/Temporary/LastTest.log
	[ -f "$log" ] || return 0
	echo "==== failed assertions, again (from $log)"
	# A test that failed without a FAIL line (a crash, a timeout, a non-zero exit) gets its
	# last lines instead.
	awk '/^[0-9]+\/[0-9]+ Testing: / { t = $3; fails = 0; k = 0 }
	     /^Test time = / { inside = 0 }
	     /^Test (Failed|Timeout)|^\*\*\*Timeout|Failed  Required/ && t != "" && !fails && !said[t]++ {
	             print t ": failed with no FAIL line; its last lines:"
	             for (i = (k > 12 ? k - 12 : 0); i < k; i++) print "    " last[i % 12] }
	     /^(FAIL|not ok)/ { print t ": " $0; n = 4; fails++; next }
	     n > 0 && /^[ \t]/ { print "    " $0; n--; next } { n = 0 }
	     /^Output:$/ { inside = 1; next }
	     inside && !/^-+$/ { last[k % 12] = $0; k++ }' "$log" | head -n 160
}

case $mode in
demo)
	phase demo
	if [ ! -f tools/demo.sh ]; then
		echo "setup: tools/demo.sh does not exist yet; nothing to demo." >&2
		exit 1
	fi
	exec bash tools/demo.sh "$@"
	;;
test)
	if [ "$#" -gt 0 ]; then
		phase tests
		rc=0
		ctest --test-dir "$BUILD_DIR" --output-on-failure "$@" || rc=$?
		[ "$rc" = 0 ] || failed_assertions "$BUILD_DIR"
		exit "$rc"
	fi
	# The whole suite: ctest, a build without verbs, then under sanitizers, then the fuzzers.  All
	# run whatever the others gave; the exit status is non-zero if any failed.
	phase "tests (ctest)"
	r_test=0 r_nv=0 r_san=0 r_fuzz=0
	ctest --test-dir "$BUILD_DIR" --output-on-failure || r_test=$?
	# The build option CRSHIM_VERBS=OFF (a shim without the verbs layer) keeps building, and
	# that shim passes the unit and shim tests (the verbs and CRIU tests need the layer).
	phase "build without the verbs layer (-DCRSHIM_VERBS=OFF) and its shim tests"
	{ cmake -S . -B build-noverbs -DCRSHIM_VERBS=OFF "${cmake_args[@]:4}" >/dev/null &&
		cmake --build build-noverbs -j2 >/dev/null &&
		ctest --test-dir build-noverbs --output-on-failure -R '^(unit_|test_shim_)'; } || r_nv=1
	phase "tests under sanitizers (tools/sanitize.sh)"
	bash tools/sanitize.sh || r_san=$?
	phase "fuzzing (tools/fuzz.sh ${CRSHIM_FUZZ_SECONDS:-30})"
	bash tools/fuzz.sh "${CRSHIM_FUZZ_SECONDS:-30}" || r_fuzz=$?
	[ "$r_test" = 0 ] || failed_assertions "$BUILD_DIR"
	[ "$r_nv" = 0 ] || failed_assertions build-noverbs
	[ "$r_san" = 0 ] || failed_assertions "${CRSHIM_ASAN_DIR:-build-asan}"
	echo "==== ctest: exit $r_test; without verbs: exit $r_nv; sanitizers: exit $r_san; fuzzing: exit $r_fuzz"
	if [ "$r_test" = 0 ] && [ "$r_nv" = 0 ] && [ "$r_san" = 0 ] && [ "$r_fuzz" = 0 ]; then
		exit 0
	fi
	exit 1
	;;
esac
