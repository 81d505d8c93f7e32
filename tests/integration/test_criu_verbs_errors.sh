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
#   behind; once the device is back the same checkpoint restores;
# - crshim check / crshim_check(): the connection to the simulated HCA is
#   handled with the shim holding the device, a blocker without the shim
#   (a real CRIU dump fails) or with its verbs layer off;
# - crshim_checkpoint_self with a QP connected to another process is
#   refused (EXDEV) and the connection keeps working; with QPs connected
#   only to each other in the process it checkpoints and restores.
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

# crshim check and crshim_check(): the connection to crs-hcad of a process
# whose shim holds the device is handled, not a blocker
hca_handled() { # PID: exit 0, a handled item naming the simulated HCA
	local out rc
	out=$("$CRSHIM" check "$1" 2>&1)
	rc=$?
	[ $rc = 0 ] && grep -E "^  handled +" <<<"$out" | grep -q "simulated HCA" && return 0
	echo "    exit $rc: $out"
	return 1
}
api_handled() { # PID: crshim_check() returns 0, the same item
	local out rc
	out=$(LD_PRELOAD="$SHIM" "$PROGS/api_check" "$1")
	rc=$?
	[ $rc = 0 ] && grep -q "^report pid $1 .* dumpable 1 " <<<"$out" &&
		grep -q "^item handled .*simulated HCA" <<<"$out" && return 0
	echo "    rc $rc: $out"
	return 1
}
check "crshim check: the server's HCA connection is handled (exit 0)" hca_handled "$SPID"
check "crshim check: the client's HCA connection is handled (exit 0)" hca_handled "$CPID"
check "crshim_check(): dumpable, the HCA connection handled" api_handled "$CPID"

# self-checkpoint of a process whose QP is connected to another process's:
# refused up front (EXDEV, nothing written), the connection still works
SV="$VERBS_BIN/self_verbs"
sport=$(free_port)
setsid env LD_PRELOAD="$SHIM" "$SV" server "$sport" >"$TMP/sv-server.out" 2>&1 </dev/null &
svpid=$!
CLEANUP_PIDS="$CLEANUP_PIDS $svpid"
sleep 0.3
setsid -w env LD_PRELOAD="$SHIM" "$SV" client localhost "$sport" "$TMP/self-peer" \
	>"$TMP/sv-client.out" 2>&1 </dev/null
rc=$?
wait "$svpid"
src=$?
if grep -qx "returned -1 errno EXDEV" "$TMP/sv-client.out" &&
	grep -q "verbs connections to other processes need .crshim dump. of all the peers" "$TMP/sv-client.out"; then
	ok "self-checkpoint with a QP connected to another process: -1 EXDEV, and why"
else
	fail "self-checkpoint with a QP connected to another process: -1 EXDEV, and why"
	cat "$TMP/sv-client.out"
fi
check "the refused self-checkpoint wrote nothing" [ ! -e "$TMP/self-peer" ]
check "after it the connection carries data both ways (exit $rc/$src)" \
	sh -c "[ $rc = 0 ] && [ $src = 0 ] && grep -qx 'after ok' '$TMP/sv-client.out' && grep -qx 'after ok' '$TMP/sv-server.out'"
# QPs connected only to each other in one process: allowed, and restorable
setsid -w env LD_PRELOAD="$SHIM" "$SV" loop "$TMP/self-loop" >"$TMP/sv-loop.out" 2>&1 </dev/null
rc=$?
check "self-checkpoint with QPs connected to each other in the process: 0, data flows after (exit $rc)" \
	sh -c "[ $rc = 0 ] && grep -qx 'returned 0 errno 0' '$TMP/sv-loop.out' && grep -qx 'after ok' '$TMP/sv-loop.out'"
"$CRSHIM" restore -D "$TMP/self-loop" --child </dev/null >"$TMP/sv-loop.rst" 2>&1
rc=$?
check "restored, the same call returns 1 and data flows over the loop (exit $rc)" \
	sh -c "[ $rc = 0 ] && grep -qx 'returned 1 errno 0' '$TMP/sv-loop.rst' && grep -qx 'after ok' '$TMP/sv-loop.rst'"

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
kill -9 "$SPID" "$CPID" 2>/dev/null

# Without the shim the HCA connection is a blocker, and CRIU agrees; with
# the shim but its verbs layer off, too.
hca_blocked() { # PID KEYWORD: exit 1, a blocker item with KEYWORD
	local out rc
	out=$("$CRSHIM" check "$1" 2>&1)
	rc=$?
	[ $rc = 1 ] && grep -E "^  blocker +" <<<"$out" | grep -qF "$2" && return 0
	echo "    exit $rc: $out"
	return 1
}
criu_fails() { # PID: a real `criu dump --leave-running` fails, the process lives on
	local dir
	dir=$(mktemp -d "$TMP/criu.XXXXXX")
	! timeout 120 "$CRIU" dump -t "$1" -D "$dir" --shell-job --leave-running -v4 -o dump.log \
		>/dev/null 2>&1 && alive "$1"
}
rm -f "$TMP/stop"
port=$(free_port)
start_pair no "$RW" -s "$port" -- "$RW" -c localhost -p "$port" -t "$TMP/stop" -m 10 -w 10
if wait_grep "$TMP/client.log" connected 20 && wait_grep "$TMP/server.log" connected 20; then
	sleep 0.5
	check "no shim: crshim check reports the blocker (exit 1)" \
		hca_blocked "$CPID" "verbs resources held by a process without the shim"
	check "no shim: crshim_check() returns 1 with the same blocker" \
		sh -c "LD_PRELOAD='$SHIM' '$PROGS/api_check' $CPID |
		       grep -q '^item blocker .*verbs resources held by a process without the shim'"
	check "no shim: a real CRIU dump fails" criu_fails "$CPID"
	check "no shim: crshim check of the server too" \
		hca_blocked "$SPID" "verbs resources held by a process without the shim"
else
	fail "rdma_rw connects without the shim"
fi
kill -9 "$SPID" "$CPID" 2>/dev/null
port=$(free_port)
CRSHIM_HOOKS=mmap,file,shm,sysv start_pair yes "$RW" -s "$port" -- \
	"$RW" -c localhost -p "$port" -t "$TMP/stop" -m 10 -w 10
if wait_grep "$TMP/client.log" connected 20 && wait_grep "$TMP/server.log" connected 20; then
	sleep 0.5
	check "verbs layer off: crshim check reports the blocker (exit 1)" \
		hca_blocked "$CPID" "verbs resources the shim does not hold"
else
	fail "rdma_rw connects with the verbs layer off"
fi
kill -9 "$SPID" "$CPID" 2>/dev/null
finish
