#!/bin/bash
# `crshim dump` asks CRIU for tcp-established and its nftables network lock
# only when a dumped process may hold a TCP socket (every socket it holds
# not being a unix socket): the lock alone costs 50-500 ms of frozen time,
# and a dump without --leave-running keeps its lock table until the restore.
#  (a) processes sharing a pool, no TCP: criu.conf has neither option, the
#      checkpoint restores;
#  (b) a process with a loopback TCP connection: both options are there and
#      its --leave-running dump works (the process keeps running);
#  (c) CRSHIM_DUMP_TIMING=1 prints one line per phase; the manifest's CRIU
#      version (read from the dump log) is what `criu --version` says.
#   test_criu_dump_tcp_options.sh BUILD_DIR
set -u
. "$(dirname "$0")/lib.sh"
need_criu
NR=2
name="crst-tcpopt-$$"

PIDS=""
for r in $(seq 0 $((NR - 1))); do
	setsid env LD_PRELOAD="$SHIM" "$PROGS/pool_worker" file "$name" "$r" "$NR" 16 400 20 "$TMP/res.$r" \
		</dev/null >/dev/null 2>&1 &
	PIDS="$PIDS $!"
done
CLEANUP_PIDS="$CLEANUP_PIDS $PIDS"
sleep 1.2

# (a) and (c)
if CRSHIM_DUMP_TIMING=1 "$CRSHIM" dump -D "$TMP/nontcp" $PIDS >"$TMP/nontcp.out" 2>"$TMP/nontcp.err"; then
	ok "dump of processes without TCP sockets"
else
	fail "dump of processes without TCP sockets: $(tail -n 3 "$TMP/nontcp.err")"
fi
confs=$(ls "$TMP"/nontcp/dumps/*/criu.conf 2>/dev/null)
check "one criu.conf per process" [ "$(echo "$confs" | wc -w)" = "$NR" ]
check "no tcp-established, no network-lock in criu.conf" \
	bash -c "! grep -qhE '^(tcp-established|network-lock)' $TMP/nontcp/dumps/*/criu.conf"
for phase in "PREPARE answered" "CRIU started" "a CRIU run reached post-dump" "hooks answered" "manifest written"; do
	check "CRSHIM_DUMP_TIMING shows '$phase'" grep -q "^crshim dump: timing .* $phase" "$TMP/nontcp.err"
done
v=$("$CRIU" --version | awk '/^Version:/ { print $2 }')
check "the manifest names CRIU $v" grep -q "\"version\": *\"$v\"" "$TMP/nontcp/manifest.json"
for p in $PIDS; do wait_gone "$p" 20; done
if "$CRSHIM" restore -D "$TMP/nontcp" >"$TMP/restore.out" 2>&1; then
	ok "restore of the checkpoint without network lock"
	check "the restored processes finish their pool checks" results_ok
else
	fail "restore of the checkpoint without network lock: $(tail -n 3 "$TMP/restore.out")"
fi

# (b)
setsid env LD_PRELOAD="$SHIM" "$PROGS/check_tcp" </dev/null >"$TMP/tcp.out" 2>&1 &
TCP=$!
CLEANUP_PIDS="$CLEANUP_PIDS $TCP"
for i in $(seq 100); do grep -q ready "$TMP/tcp.out" && break; sleep 0.05; done
if "$CRSHIM" dump -D "$TMP/tcp" --leave-running $TCP >"$TMP/tcp.dump" 2>&1; then
	ok "--leave-running dump of a process with a TCP connection"
else
	fail "--leave-running dump of a process with a TCP connection: $(tail -n 3 "$TMP/tcp.dump")"
fi
check "tcp-established and network-lock nftables in its criu.conf" \
	bash -c "grep -qx tcp-established $TMP/tcp/dumps/$TCP/criu.conf && grep -qx 'network-lock nftables' $TMP/tcp/dumps/$TCP/criu.conf"
check "the process keeps running" kill -0 $TCP
kill -9 $TCP 2>/dev/null
wait_gone $TCP 20
for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
assert_no_strays "after the dumps"
finish
