#!/bin/bash
# run-bench.sh BUILD_DIR [ROUNDS]
#
# The verbs layer's costs on the simulated HCA (a private crs-hcad):
#  - ns added per ibv_post_send and per ibv_poll_cq: bench_verbs ops without
#    the shim and with it, best of ROUNDS runs each (each run is itself the
#    best of 5); then with translation active (after a dump that left the
#    process running: new keys and QP numbers behind the same virtual ones);
#  - rebuilding 10,000 registered regions after a dump vs registering them
#    fresh (the shim logs the rebuild's time).
# The checkpoint parts need root and CRIU; they are skipped otherwise.
set -u
BUILD=$(cd "${1:?usage: $0 BUILD_DIR [ROUNDS]}" && pwd)
ROUNDS=${2:-3}
BENCH="$BUILD/tests/verbs/bench_verbs"
SHIM="$BUILD/libcrshim.so"
CRSHIM="$BUILD/crshim"
TMP=$(mktemp -d /tmp/crshim-vbench.XXXXXX)
export CRSHIM_RUNDIR="$TMP/run" CRS_HCA_SOCKET="$TMP/sock"
export LD_LIBRARY_PATH="$BUILD/tests/hca/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -m 700 "$CRSHIM_RUNDIR"

cleanup() {
	[ -f "$TMP/pid" ] && kill "$(cat "$TMP/pid")" 2>/dev/null
	[ -n "${BPID:-}" ] && kill -9 "$BPID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
[ -x "$BENCH" ] || { echo "no $BENCH: build tests/verbs"; exit 77; }
"$BUILD/tests/hca/crs-hcad" -d -s "$TMP/sock" -p "$TMP/pid" -l "$TMP/hcad.log" || exit 1

field() { # field NAME LINE
	sed -nE "s/.*$1 ([0-9.]+).*/\1/p" <<<"$2"
}

min() {
	awk 'NR == 1 || $1 < m { m = $1 } END { print m }'
}

can_dump() {
	[ "$(id -u)" = 0 ]
}

# run_until_waiting LOG COMMAND...: start in the background, wait for "waiting for"
run_until_waiting() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	BPID=$!
	for _ in $(seq 600); do
		grep -q "waiting for" "$log" && return 0
		kill -0 "$BPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# best of the runs, per field, per mode
best_of() { # best_of FILE FIELD
	sed -nE "s/.* $2 ([0-9.]+).*/\1/p" "$1" | min
}

report() { # report NAME FIELD
	local a b c
	a=$(best_of "$TMP/plain" "$2")
	b=$(best_of "$TMP/bare" "$2")
	c=$(best_of "$TMP/shim" "$2")
	printf "%-34s %8.1f %10.1f %10.1f %+9.1f %+9.1f\n" "$1" "$a" "$b" "$c" "$(echo "$c - $a" | bc -l)" \
		"$(echo "$c - $b" | bc -l)"
}

echo "== data path, ns per call (best of $ROUNDS runs, each the best of 5)"
for r in $(seq "$ROUNDS"); do
	"$BENCH" ops | grep direct >>"$TMP/plain"
	CRSHIM_HOOKS=mmap,file,shm,sysv LD_PRELOAD="$SHIM" "$BENCH" ops | grep direct >>"$TMP/bare"
	LD_PRELOAD="$SHIM" "$BENCH" ops | grep direct >>"$TMP/shim"
done
printf "%-34s %8s %10s %10s %9s %9s\n" "" plain "shim,-verbs" shim "added" "by verbs"
report "post_send (RDMA WRITE, with I/O)" post_send_ns
report "poll_cq (empty CQ, with I/O)" poll_cq_ns
report "post_send (refused, no I/O)" noio_post_send_ns
report "poll_cq (one completion, no I/O)" noio_poll_cq_ns
p0=$(best_of "$TMP/plain" noio_post_send_ns)
q0=$(best_of "$TMP/plain" noio_poll_cq_ns)

if can_dump; then
	if run_until_waiting "$TMP/ops.log" env LD_PRELOAD="$SHIM" "$BENCH" ops -g "$TMP/go" &&
		"$CRSHIM" dump -D "$TMP/ck-ops" --leave-running "$BPID" >/dev/null 2>"$TMP/dump.err"; then
		touch "$TMP/go"
		wait "$BPID"
		t=$(grep translated "$TMP/ops.log")
		printf "after a checkpoint (keys and QP numbers translated), no I/O: post_send %.1f ns (%+.1f vs plain), poll_cq %.1f ns (%+.1f)\n" \
			"$(field noio_post_send_ns "$t")" "$(echo "$(field noio_post_send_ns "$t") - $p0" | bc -l)" \
			"$(field noio_poll_cq_ns "$t")" "$(echo "$(field noio_poll_cq_ns "$t") - $q0" | bc -l)"
	else
		echo "translated run failed:"; cat "$TMP/ops.log" "$TMP/dump.err" 2>/dev/null
	fi
	BPID=
else
	echo "(translated numbers skipped: needs root and a working CRIU)"
fi

N=${VERBS_BENCH_MRS:-10000}
echo "== $N registered regions of 4 KiB (best of $ROUNDS)"
reg_ms() {
	sed -nE 's/.* in ([0-9.]+) ms/\1/p'
}
for r in $(seq "$ROUNDS"); do
	"$BENCH" mrs -n "$N" | reg_ms >>"$TMP/reg-plain"
	LD_PRELOAD="$SHIM" "$BENCH" mrs -n "$N" | reg_ms >>"$TMP/reg-shim"
done
plain=$(min <"$TMP/reg-plain")
shim=$(min <"$TMP/reg-shim")
echo "registering fresh: $plain ms without the shim, $shim ms with it"
if can_dump; then
	if run_until_waiting "$TMP/mrs.log" env LD_PRELOAD="$SHIM" CRSHIM_LOG=info CRSHIM_LOG_FILE="$TMP/shim.%p.log" \
		"$BENCH" mrs -n "$N" -g "$TMP/go2"; then
		for r in $(seq "$ROUNDS"); do
			"$CRSHIM" dump -D "$TMP/ck-mrs$r" --leave-running "$BPID" >/dev/null 2>"$TMP/dump.err" ||
				{ echo "dump failed:"; cat "$TMP/dump.err"; }
		done
		rebuilt=$(sed -nE 's/.*MRs registered again in ([0-9.]+) ms.*/\1/p' "$TMP"/shim.*.log | min)
		echo "rebuilding them after a checkpoint (best of $ROUNDS dumps): $rebuilt ms =" \
			"$(echo "scale=2; $rebuilt / $plain" | bc -l)x registering them fresh without the shim"
		grep -h "verbs: rebuilt" "$TMP"/shim.*.log | sed 's/^/  /'
		touch "$TMP/go2"
		wait "$BPID"
	else
		echo "rebuild run failed:"; cat "$TMP/mrs.log"
	fi
	BPID=
fi
