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

# start_soak_set SIZE_MB [LOG_PATTERN [PERIOD_MS]]: $NR soak_workers (tests/progs/soak_worker.c)
# sharing the unlinked pool $name, each in its own session (as a job launcher starts them;
# CRIU refuses a task whose session leader is outside its pid namespace), until $STOP
# exists; results in $TMP/res.R, output in printf(LOG_PATTERN, R) (default $TMP/w.%s.out).
# Waits for every "ready".  Sets PIDS, P1 (rank 0) and P2 (the last rank).
start_soak_set() {
	local size=$1 pattern=${2:-$TMP/w.%s.out} period=${3:-20} r log
	PIDS=""
	rm -f "$TMP"/res.* "$STOP"
	for r in $(seq 0 $((NR - 1))); do
		# shellcheck disable=SC2059  # the pattern is ours
		log=$(printf "$pattern" "$r")
		setsid env LD_PRELOAD="$SHIM" "$PROGS/soak_worker" "$name" "$r" "$NR" "$size" "$period" "$STOP" \
			"$TMP/res.$r" </dev/null >"$log" 2>&1 &
		PIDS="$PIDS $!"
	done
	CLEANUP_PIDS="$CLEANUP_PIDS $PIDS"
	for r in $(seq 0 $((NR - 1))); do
		# shellcheck disable=SC2059
		log=$(printf "$pattern" "$r")
		for _ in $(seq 300); do grep -q '^ready' "$log" 2>/dev/null && break; sleep 0.1; done
	done
	P1=${PIDS# }
	P1=${P1%% *}
	P2=${PIDS##* }
}

# all_alive [PID...]: every pid given (default: $PIDS) still runs; names the first that does not.
all_alive() {
	local p
	for p in ${*:-$PIDS}; do
		kill -0 "$p" 2>/dev/null || { echo "    pid $p is gone"; return 1; }
	done
}

# progressing [PID...]: the main thread of every pid given (default: $PIDS) keeps being
# scheduled for 3 s: its voluntary context switches grow, as a worker's loop sleeps
# (nanosleep) and a frozen, stopped or parked thread does not switch.
switches() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
progressing() {
	local p i before
	for p in ${*:-$PIDS}; do
		before=$(switches "$p")
		for i in $(seq 30); do
			sleep 0.1
			[ "$(switches "$p")" -gt $((before + 5)) ] && continue 2
		done
		echo "    pid $p made no progress in 3 s ($(grep State "/proc/$p/status" 2>/dev/null))"
		return 1
	done
}

# none_alive PID...: none of them runs.
none_alive() {
	local p
	for p in "$@"; do kill -0 "$p" 2>/dev/null && { echo "    pid $p runs"; return 1; }; done
	return 0
}

# results_ok: every rank wrote "OK" into $TMP/res.R (within 90 s).
results_ok() {
	local r
	wait_files 90 $(for r in $(seq 0 $((NR - 1))); do echo "$TMP/res.$r"; done) || return 1
	for r in $(seq 0 $((NR - 1))); do grep -q '^OK' "$TMP/res.$r" || return 1; done
}

# expect_fail DESCRIPTION PATTERN COMMAND...: the command fails and says PATTERN (ERE).
expect_fail() {
	local what=$1 pat=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && grep -qE "$pat" <<<"$out"; then
		ok "$what (exit $rc: $(grep -E "$pat" <<<"$out" | head -1 | cut -c1-120))"
	else
		fail "$what (exit $rc)"
		sed 's/^/    /' <<<"$out"
	fi
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

# assert_no_strays LABEL: after `crshim gc`, nothing a fault left behind:
#   - no endpoint of a dead process in the rundir;
#   - no /dev/shm/.crshim-KIND-PID-N of a dead PID (one of a live PID belongs
#     to a dump in progress, perhaps another test's);
#   - no nftables table named crshim-*, and no network lock ("inet CRIU-" and
#     the first 21 characters of the run id) of a CRIU run of this test that
#     must have released it: the run ids are read from the dump.log and
#     restore.log files under $TMP (other tests' CRIU runs may hold their own
#     lock at this moment).  Only the dump of a complete checkpoint that
#     stopped its processes keeps its lock, by CRIU's design, until its
#     restore (their TCP peers see no reset meanwhile); an interrupted or
#     failed dump, a --leave-running one and any restore must leave none.
assert_no_strays() {
	local label=$1 out rc s p f stale="" left="" tables ids id log ck locks=""
	out=$("$CRSHIM" gc 2>&1)
	rc=$?
	check "$label: crshim gc runs (exit $rc${out:+: $(head -c 150 <<<"$out" | tr '\n' ' ')})" test "$rc" -eq 0
	for s in "$CRSHIM_RUNDIR"/*.sock; do
		[ -e "$s" ] || continue
		p=$(basename "$s" .sock)
		[ -e "/proc/$p" ] || stale="$stale $p"
	done
	check "$label: no endpoint of a dead process in the rundir${stale:+:$stale}" test -z "$stale"
	for f in /dev/shm/.crshim-*; do
		[ -e "$f" ] || continue
		if [[ $(basename "$f") =~ ^\.crshim-[a-z]+-([0-9]+)-[0-9]+$ ]] && [ -e "/proc/${BASH_REMATCH[1]}" ]; then
			continue
		fi
		left="$left $(basename "$f")"
	done
	check "$label: no .crshim-* file of a dead process in /dev/shm${left:+:$left}" test -z "$left"
	command -v nft >/dev/null || { echo "# $label: nft not installed, nftables tables not checked"; return 0; }
	tables=$(nft list tables 2>/dev/null)
	ids=""
	while IFS= read -r log; do
		ck=${log%/dumps/*}
		if [ "${log##*/}" = dump.log ] && [ -s "$ck/manifest.json" ] &&
			! grep -qE '"leave_running": *true' "$ck/manifest.json"; then
			continue # a complete checkpoint waiting for its restore
		fi
		id=$(grep -ho -m1 'CRIU run id = [0-9a-f-]*' "$log" 2>/dev/null | cut -d' ' -f5)
		[ -n "$id" ] && ids="$ids $id"
	done < <(find "$TMP" \( -name dump.log -o -name restore.log \) 2>/dev/null)
	for id in $ids; do
		grep -qx "table inet CRIU-${id:0:21}" <<<"$tables" && locks="$locks CRIU-${id:0:21}"
	done
	locks="$locks $(grep -oE '^table [a-z0-9]+ crshim-[^ ]*' <<<"$tables" | cut -d' ' -f3 | tr '\n' ' ')"
	locks=$(xargs <<<"$locks")
	check "$label: no nftables table of crshim or of the $(wc -w <<<"$ids") CRIU run(s) of this test that must release it left${locks:+: $locks}" \
		test -z "$locks"
}
