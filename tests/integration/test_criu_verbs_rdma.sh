#!/bin/bash
# Issue 5, verbs: RDMA WRITE / READ / FETCH_AND_ADD / SEND between two
# processes (tests/verbs/rdma_rw: rkeys exchanged once at start over TCP,
# then MRs registered and deregistered every round and their rkeys sent
# over the QP), checkpointed again and again while they run: each cycle is
# a dump that leaves them running, then a dump, a new crs-hcad and a
# restore.  Every round's data is checked on both sides; the old rkeys,
# QP numbers and LID stay valid for the program.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../verbs/testlib.sh"
need_criu
need_hca
need_verbs_progs
need_verbs_exchange

CYCLES=${VERBS_RW_CYCLES:-3}
RW="$VERBS_BIN/rdma_rw"

rounds() { # the last round count a side reported
	grep -oE "[0-9]+ rounds ok" "$1" | tail -1 | cut -d' ' -f1
}

hca_start 300
port=$(free_port)
start_pair yes "$RW" -s "$port" -- "$RW" -c localhost -p "$port" -t "$TMP/stop" -m 20 -w 10
if ! wait_grep "$TMP/server.log" connected 20 || ! wait_grep "$TMP/client.log" connected 20; then
	fail "rdma_rw server and client connect under the shim"
	cat "$TMP/server.log" "$TMP/client.log"
	finish
	exit 1
fi
ok "rdma_rw server and client connect under the shim"
for c in $(seq 1 "$CYCLES"); do
	sleep 1
	check "cycle $c: dump --leave-running" "$CRSHIM" dump -D "$TMP/ck$c-a" --leave-running "$SPID" "$CPID"
	sleep 1
	check "cycle $c: still running after it" alive "$SPID" "$CPID"
	check "cycle $c: dump" "$CRSHIM" dump -D "$TMP/ck$c-b" "$SPID" "$CPID"
	check "cycle $c: both gone" gone "$SPID" "$CPID"
	hca_restart $((300 + c))
	check "cycle $c: restore on a new crs-hcad" "$CRSHIM" restore -D "$TMP/ck$c-b"
done
# The last cycle restores the --leave-running checkpoint: the processes that
# went on after it are killed first.
sleep 1
check "last cycle: dump --leave-running" "$CRSHIM" dump -D "$TMP/ck-last" --leave-running "$SPID" "$CPID"
sleep 1
check "last cycle: still running after it" alive "$SPID" "$CPID"
kill -9 "$SPID" "$CPID" 2>/dev/null
check "last cycle: the continued processes are killed" gone "$SPID" "$CPID"
hca_restart 310
check "last cycle: restore of the --leave-running checkpoint on a new crs-hcad" \
	"$CRSHIM" restore -D "$TMP/ck-last"
sleep 1
touch "$TMP/stop"
if wait_grep "$TMP/client.log" "rounds ok" 120 && wait_grep "$TMP/server.log" "rounds ok" 30; then
	ok "both sides checked every round ($(rounds "$TMP/client.log") rounds)"
else
	fail "both sides checked every round"
fi
check "the server checked as many rounds as the client ran" [ "$(rounds "$TMP/server.log")" = "$(rounds "$TMP/client.log")" ]
if [ "$FAILS" -gt 0 ]; then
	echo "--- server"; cat "$TMP/server.log"
	echo "--- client"; cat "$TMP/client.log"
	tail -5 "$HCA_DIR/log"
fi
kill -9 "$SPID" "$CPID" 2>/dev/null

# CRIU alone cannot dump the same processes: they hold the device.
rm -f "$TMP/stop"
port=$(free_port)
start_pair no "$RW" -s "$port" -- "$RW" -c localhost -p "$port" -t "$TMP/stop" -m 20 -w 10
if wait_grep "$TMP/server.log" connected 20 && wait_grep "$TMP/client.log" connected 20; then
	if "$CRSHIM" dump -D "$TMP/ck-noshim" "$SPID" "$CPID" >"$TMP/noshim.out" 2>&1; then
		fail "without the shim CRIU cannot dump rdma_rw"
	elif grep -q "CRIU failed" "$TMP/noshim.out"; then
		ok "without the shim CRIU cannot dump rdma_rw ($(grep -m1 -E "Error" "$TMP/noshim.out" | sed 's/^ *//' | cut -c1-110))"
	else
		fail "without the shim CRIU cannot dump rdma_rw (but something else failed)"
		cat "$TMP/noshim.out"
	fi
	check "without the shim rdma_rw keeps running" alive "$SPID" "$CPID"
else
	fail "rdma_rw server and client connect without the shim"
	cat "$TMP/server.log" "$TMP/client.log"
fi
kill -9 "$SPID" "$CPID" 2>/dev/null
finish
