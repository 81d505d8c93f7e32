#!/usr/bin/env bash
# tools/setup.sh: prepare a Debian 12 machine for crshim, build it, and optionally run the demo
# or the tests.
#
#   bash tools/setup.sh [build|demo|test] [args...]
#
#   build (default)  install missing packages, install a working CRIU (tools/get-criu.sh),
#                    configure and build with CMake into ${CRSHIM_BUILD_DIR:-build}
#   demo [args]      build, then run tools/demo.sh [args]
#   test [args]      build, then run ctest [args] (e.g. -R unit); exits with ctest's status
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
	sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
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
PACKAGES=(
	build-essential cmake pkg-config file
	libunwind-dev libelf-dev libcmocka-dev libjansson-dev
	libibverbs-dev ibverbs-utils
	openmpi-bin libopenmpi-dev
	criu libprotobuf-c-dev
	nftables iproute2 procps util-linux
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

# ---- demo / tests ----------------------------------------------------------------------------
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
	phase tests
	rc=0
	ctest --test-dir "$BUILD_DIR" --output-on-failure "$@" || rc=$?
	if [ "$rc" != 0 ] && [ -f "$BUILD_DIR/Testing/Temporary/LastTest.log" ]; then
		# A CI log is often cut in the middle: repeat each failed assertion (and the
		# indented detail under it) at the very end.
		echo "==== failed assertions, again (from $BUILD_DIR/Testing/Temporary/LastTest.log)"
		awk '/^[0-9]+\/[0-9]+ Testing: / { t = $3 }
		     /^(FAIL|not ok)/ { print t ": " $0; n = 4; next }
		     n > 0 && /^[ \t]/ { print "    " $0; n--; next } { n = 0 }' \
			"$BUILD_DIR/Testing/Temporary/LastTest.log" | head -n 120
	fi
	exit "$rc"
	;;
esac
