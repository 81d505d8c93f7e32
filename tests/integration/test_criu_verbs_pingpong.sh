#!/bin/bash
# Issue 5, verbs: unmodified ibv_rc_pingpong and ibv_ud_pingpong (server and
# client, two processes; also ibv_rc_pingpong -e, completion events,
# ibv_rc_pingpong -N, the ibv_wr_* send API of extended QPs, and
# ibv_srq_pingpong, 16 QPs on an SRQ) on the simulated HCA under the shim,
# mid-run:
# `crshim dump --leave-running` of both pids (they go on), then `crshim dump`
# (killed), a new crs-hcad (new LID, keys and QP numbers), `crshim restore`:
# both finish every iteration without an error.  Without the shim, CRIU
# cannot dump them (ibv_rc_pingpong, ibv_ud_pingpong).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../verbs/testlib.sh"
need_criu
need_hca
need_verbs_exchange
need_prog ibv_rc_pingpong
need_prog ibv_ud_pingpong
need_prog ibv_srq_pingpong

LID=256

clean_log() { # no error line from the program
	! grep -qiE "failed|couldn't|error|unexpected" "$1"
}

# run_one NAME ITERATIONS PROGRAM [OPTION...]
run_one() {
	local name=$1 ITERS=$2 prog=$3 port ck="$TMP/ck-$1"
	shift 3
	port=$(free_port)
	start_pair yes "$prog" -d crs_hca0 -p "$port" -n "$ITERS" "$@" -- \
		"$prog" -d crs_hca0 -p "$port" -n "$ITERS" "$@" localhost
	sleep 1.5
	if ! alive "$SPID" "$CPID"; then
		fail "$name: server and client run under the shim"
		cat "$TMP/server.log" "$TMP/client.log"
		return
	fi
	check "$name: dump --leave-running of both pids" "$CRSHIM" dump -D "$ck-1" --leave-running "$SPID" "$CPID"
	sleep 1
	check "$name: both keep running after the dump" alive "$SPID" "$CPID"
	check "$name: dump of both pids" "$CRSHIM" dump -D "$ck-2" "$SPID" "$CPID"
	check "$name: both are gone after the dump" gone "$SPID" "$CPID"
	LID=$((LID + 256))
	hca_restart "$LID"
	check "$name: restore on a new crs-hcad (LID $LID)" "$CRSHIM" restore -D "$ck-2"
	if wait_grep "$TMP/server.log" "$ITERS iters in" 300 && wait_grep "$TMP/client.log" "$ITERS iters in" 60; then
		ok "$name: server and client finished all $ITERS iterations"
	else
		fail "$name: server and client finished all $ITERS iterations"
	fi
	check "$name: no error in the server's output" clean_log "$TMP/server.log"
	check "$name: no error in the client's output" clean_log "$TMP/client.log"
	if [ "$FAILS" -gt 0 ]; then
		echo "--- server"; cat "$TMP/server.log"
		echo "--- client"; cat "$TMP/client.log"
		tail -5 "$HCA_DIR/log"
	fi
	kill -9 "$SPID" "$CPID" 2>/dev/null
}

hca_start "$LID"
run_one rc 400000 ibv_rc_pingpong
run_one ud 400000 ibv_ud_pingpong
run_one rc-events 100000 ibv_rc_pingpong -e
run_one rc-new-send 200000 ibv_rc_pingpong -N
run_one srq 600000 ibv_srq_pingpong

# CRIU alone cannot dump a process holding the device.
# no_shim NAME PROGRAM
no_shim() {
	local port
	port=$(free_port)
	start_pair no "$2" -d crs_hca0 -p "$port" -n 100000000 -- \
		"$2" -d crs_hca0 -p "$port" -n 100000000 localhost
	sleep 1.5
	if ! alive "$SPID" "$CPID"; then
		fail "$1 without the shim: server and client run"
		cat "$TMP/server.log" "$TMP/client.log"
	elif "$CRSHIM" dump -D "$TMP/ck-noshim-$1" "$SPID" "$CPID" >"$TMP/noshim.out" 2>&1; then
		fail "$1: without the shim CRIU cannot dump them"
	elif grep -q "CRIU failed" "$TMP/noshim.out"; then
		ok "$1: without the shim CRIU cannot dump them ($(grep -m1 -E "Error" "$TMP/noshim.out" | sed 's/^ *//' | cut -c1-110))"
	else
		fail "$1: without the shim CRIU cannot dump them (but something else failed)"
		cat "$TMP/noshim.out"
	fi
	check "$1: without the shim the processes keep running" alive "$SPID" "$CPID"
	kill -9 "$SPID" "$CPID" 2>/dev/null
}
no_shim rc ibv_rc_pingpong
no_shim ud ibv_ud_pingpong
finish
