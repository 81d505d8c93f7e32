#!/bin/bash
# Issue 5, verbs failure paths:
# - invalid verbs calls give the same results with and without the shim;
# - each registration is recorded once, whichever entry point it took
#   (ibv_reg_mr@IBVERBS_1.1, ibv_reg_mr_iova2 from the verbs.h macro,
#   ibv_reg_mr_iova);
# - a dump of a process whose QP peer is not in the checkpoint is refused
#   before anything is released, and both keep working;
# - a dump whose CRIU fails after the verbs resources were released gives
#   them back: both keep working;
# - a restore with the device missing fails clearly and leaves no process
#   behind; once the device is back the same checkpoint restores.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../verbs/testlib.sh"
need_hca
need_verbs_progs

hca_start
"$VERBS_BIN/verbs_badinput" >"$TMP/bad-plain.txt" 2>&1
LD_PRELOAD="$SHIM" "$VERBS_BIN/verbs_badinput" >"$TMP/bad-shim.txt" 2>&1
check "verbs_badinput runs without the shim" grep -q "RDMA write, bad lkey" "$TMP/bad-plain.txt"
if diff -u "$TMP/bad-plain.txt" "$TMP/bad-shim.txt"; then
	ok "invalid calls: same results with the shim ($(wc -l <"$TMP/bad-plain.txt") cases)"
else
	fail "invalid calls: same results with the shim"
fi

# registrations through every entry point, recorded once each
LD_PRELOAD="$SHIM" "$VERBS_BIN/reg_paths" "$TMP/reg.done" >"$TMP/reg.out" 2>&1 &
rpid=$!
CLEANUP_PIDS="$CLEANUP_PIDS $rpid"
if wait_grep "$TMP/reg.out" "registered 3" 20 &&
	"$CRSHIM" status --json "$rpid" >"$TMP/reg.json" 2>&1 &&
	grep -q '"mrs_total": 3' "$TMP/reg.json" && [ "$(grep -c '"real_lkey"' "$TMP/reg.json")" = 3 ]; then
	ok "ibv_reg_mr, ibv_reg_mr_iova2 and ibv_reg_mr_iova each recorded once"
else
	fail "ibv_reg_mr, ibv_reg_mr_iova2 and ibv_reg_mr_iova each recorded once"
	cat "$TMP/reg.out" "$TMP/reg.json"
fi
touch "$TMP/reg.done"
wait "$rpid"
check "the three regions are deregistered" [ $? = 0 ]

need_criu
need_verbs_exchange
RW="$VERBS_BIN/rdma_rw"

port=$(free_port)
start_pair yes "$RW" -s "$port" -- "$RW" -c localhost -p "$port" -t "$TMP/stop" -m 10 -w 10
wait_grep "$TMP/client.log" connected 20 && wait_grep "$TMP/server.log" connected 20
sleep 0.5

# the client alone: its QP's peer would be lost
expect_fail "dump of one side alone is refused" "belongs to no process of this checkpoint" \
	"$CRSHIM" dump -D "$TMP/ck-half" "$CPID"
sleep 0.5
check "both keep running after the refused dump" alive "$SPID" "$CPID"

# CRIU fails after PREPARE: the processes get their resources back
printf '#!/bin/sh\nexit 1\n' >"$TMP/failing-criu"
chmod +x "$TMP/failing-criu"
expect_fail "dump with a failing CRIU fails" "CRIU failed" env CRSHIM_CRIU="$TMP/failing-criu" \
	"$CRSHIM" dump -D "$TMP/ck-fail" "$SPID" "$CPID"
sleep 0.5
check "both keep running after the failed dump" alive "$SPID" "$CPID"

# a restore without the device
check "dump of both" "$CRSHIM" dump -D "$TMP/ck" "$SPID" "$CPID"
check "both gone after the dump" gone "$SPID" "$CPID"
hca_stop
expect_fail "restore without the device fails clearly" "RDMA device crs_hca0 is not present" \
	"$CRSHIM" restore -D "$TMP/ck"
check "no process is left half restored" gone "$SPID" "$CPID"

# the device back: the same checkpoint restores and the rounds go on
hca_start
check "restore once the device is back" "$CRSHIM" restore -D "$TMP/ck"
sleep 1
touch "$TMP/stop"
if wait_grep "$TMP/client.log" "rounds ok" 120 && wait_grep "$TMP/server.log" "rounds ok" 30; then
	ok "both sides finish their rounds without an error"
else
	fail "both sides finish their rounds without an error"
	cat "$TMP/server.log" "$TMP/client.log"
fi
finish
