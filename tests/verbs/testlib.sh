# Helpers of the verbs integration tests (tests/integration/test_criu_verbs*.sh)
# and of run-bench.sh; sourced after tests/integration/lib.sh (BUILD, TMP,
# CLEANUP_PIDS, ok/fail/skip).  A private crs-hcad per test, in $TMP/hca.

HCA_BIN="$BUILD/tests/hca"
VERBS_BIN="$BUILD/tests/verbs"
HCA_DIR="$TMP/hca"
SRC_DIR=${CRSHIM_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

need_hca() {
	[ -x "$HCA_BIN/crs-hcad" ] && [ -e "$HCA_BIN/lib/libibverbs.so.1" ] ||
		skip "no simulated HCA in $HCA_BIN (needs libibverbs-dev)"
}

need_verbs_progs() {
	[ -x "$VERBS_BIN/rdma_rw" ] ||
		skip "no verbs test programs in $VERBS_BIN (tests/CMakeLists.txt needs add_subdirectory(verbs))"
}

# crshim dump/restore must run the verbs exchange (tools/verbs_exchange.c).
need_verbs_exchange() {
	grep -q verbs_quiesce "$SRC_DIR/tools/cmd_dump.c" 2>/dev/null &&
		grep -q verbs_exchange "$SRC_DIR/tools/cmd_restore.c" 2>/dev/null ||
		skip "tools/cmd_dump.c and cmd_restore.c do not call the verbs exchange yet"
}

need_prog() {
	command -v "$1" >/dev/null 2>&1 || skip "$1 not installed (package ibverbs-utils)"
}

# hca_start [LID]: a daemon on $HCA_DIR/sock; programs find it through the env.
hca_start() {
	mkdir -p "$HCA_DIR" && chmod 700 "$HCA_DIR"
	rm -f "$HCA_DIR/pid"
	"$HCA_BIN/crs-hcad" -d -s "$HCA_DIR/sock" -p "$HCA_DIR/pid" -l "$HCA_DIR/log" ${1:+-L "$1"} ||
		{ fail "crs-hcad does not start"; finish; exit 1; }
	HCA_PID=$(cat "$HCA_DIR/pid")
	CLEANUP_PIDS="$CLEANUP_PIDS $HCA_PID"
	export CRS_HCA_SOCKET="$HCA_DIR/sock"
	export LD_LIBRARY_PATH="$HCA_BIN/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

hca_stop() {
	[ -n "${HCA_PID:-}" ] || return 0
	kill "$HCA_PID" 2>/dev/null
	wait_gone "$HCA_PID" 10 || kill -9 "$HCA_PID" 2>/dev/null
	HCA_PID=
}

# A new daemon: new keys, QP numbers and (with a LID) a new LID.
hca_restart() {
	hca_stop
	hca_start "$@"
}

# A free TCP port (never probed by connecting).
free_port() {
	local p hex
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		p=$((20000 + (RANDOM * 7 + $$) % 40000))
		hex=$(printf '%04X' "$p")
		awk -v q=":$hex\$" '$2 ~ q { f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null || {
			echo "$p"
			return
		}
	done
	echo 23456
}

# wait_grep FILE PATTERN SECONDS
wait_grep() {
	local i=0
	while ! grep -qE "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
}

# start_pair SHIM(yes/no) SERVER-COMMAND... -- CLIENT-COMMAND...
# Output in $TMP/server.log and $TMP/client.log; pids in SPID and CPID.
start_pair() {
	local pre=$1 s=() c=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do s+=("$1"); shift; done
	shift
	c=("$@")
	[ "$pre" = yes ] && pre="$SHIM" || pre=
	setsid env LD_PRELOAD="$pre" "${s[@]}" >"$TMP/server.log" 2>&1 </dev/null &
	SPID=$!
	sleep 0.3
	setsid env LD_PRELOAD="$pre" "${c[@]}" >"$TMP/client.log" 2>&1 </dev/null &
	CPID=$!
	CLEANUP_PIDS="$CLEANUP_PIDS $SPID $CPID"
}

alive() {
	local p
	for p in "$@"; do kill -0 "$p" 2>/dev/null || return 1; done
}

gone() {
	local p
	for p in "$@"; do wait_gone "$p" 30 || return 1; done
}
