# Helpers shared by the integration tests (sourced, not run).
# Every test prints "ok - ..." or "FAIL - ..." per assertion and exits 0
# only when all passed; 77 means skipped (with the reason printed).

BUILD=${1:?usage: $0 BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
CRSHIM="$BUILD/crshim"
SHIM="$BUILD/libcrshim.so"
PROGS="$BUILD/tests/progs"
FAILS=0
PASSES=0

ok() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL - $*"; }
check() { # check "description" command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
skip() { echo "SKIP: $*"; exit 77; }
finish() {
	echo "$PASSES passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}

need_root() { [ "$(id -u)" = 0 ] || skip "needs root (CRIU)"; }

# The CRIU crshim will use, as crshim finds it.
find_criu() {
	if [ -n "${CRSHIM_CRIU:-}" ]; then echo "$CRSHIM_CRIU"; return; fi
	if [ -r /opt/crshim/criu/selected ]; then cat /opt/crshim/criu/selected; return; fi
	if [ -x /opt/crshim/criu/criu ]; then echo /opt/crshim/criu/criu; return; fi
	command -v criu
}

need_criu() {
	need_root
	CRIU=$(find_criu)
	[ -n "$CRIU" ] && [ -x "$CRIU" ] || { fail "no CRIU found (run tools/setup.sh)"; finish; exit 1; }
	"$CRIU" check >/dev/null 2>&1 || { fail "$CRIU check fails: run tools/setup.sh"; finish; exit 1; }
}

# Wait until pid is gone (not even a zombie), up to $2 seconds.
wait_gone() {
	local pid=$1 t=${2:-20} i=0
	while kill -0 "$pid" 2>/dev/null || [ -e "/proc/$pid" ]; do
		i=$((i + 1))
		[ $i -gt $((t * 20)) ] && return 1
		sleep 0.05
	done
	return 0
}

# Wait until every file given exists and is non-empty, up to $1 seconds.
wait_files() {
	local t=$1 i=0 f all
	shift
	while :; do
		all=1
		for f in "$@"; do [ -s "$f" ] || all=0; done
		[ $all = 1 ] && return 0
		i=$((i + 1))
		[ $i -gt $((t * 10)) ] && return 1
		sleep 0.1
	done
}

# A private rundir so tests do not see each other's endpoints.
export CRSHIM_RUNDIR
CRSHIM_RUNDIR=$(mktemp -d /tmp/crshim-test-rundir.XXXXXX)
chmod 700 "$CRSHIM_RUNDIR"
TMP=$(mktemp -d /tmp/crshim-test.XXXXXX)
CLEANUP_PIDS=""
cleanup() {
	local p
	for p in $CLEANUP_PIDS; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$TMP" "$CRSHIM_RUNDIR"
}
trap cleanup EXIT
