#!/bin/bash
# Issue 7: before anything is frozen, `crshim dump` says when a checkpoint
# cannot be consistent (tools/consistency.c):
#  (a) an Open MPI job where one rank runs without the shim (an MPMD command
#      line: `-np 1 -x LD_PRELOAD=... ring : -np 1 ring`): a warning naming
#      that rank, before the dump; the dump still completes, the job runs on
#      and prints the uninterrupted run's checksum;
#  (b) a process with an established TCP connection to another host: refused
#      before anything is dumped (the process keeps running and talking),
#      unless --allow-partial.  "Another host" is a peer address that is none
#      of this network namespace's interface addresses (nor loopback): here a
#      listener in a network namespace of the test's own, reached over a veth
#      pair with documentation addresses (a /30 in TEST-NET-2 198.51.100.0/24 or
#      TEST-NET-3 203.0.113.0/24, whichever this host does not use: some CI
#      machines sit on TEST-NET-1; traffic only between the two ends).  A
#      connection to this host's own veth address is not refused.
#   test_criu_consistency.sh BUILD_DIR
set -u
. "$(dirname "$0")/lib.sh"
need_criu
command -v ip >/dev/null || skip "ip (iproute2) not found"
command -v cc >/dev/null || skip "no C compiler for the TCP peer"

NS=crshim-cons-$$
VA=crc$$a # veth ends (at most 15 characters)
VB=crc$$b
NET=""
for n in 198.51.100 203.0.113; do
	ip -o addr show | grep -q "inet $n\." || ip route show | grep -q "^$n\." || { NET=$n; break; }
done
HERE=$NET.201 # root namespace end
THERE=$NET.202 # netns end: "another host"
PORT=7301
cleanup_ns() { ip netns del "$NS" 2>/dev/null; ip link del "$VA" 2>/dev/null; }
trap 'cleanup_ns; cleanup' EXIT

# ---- (a) an MPI rank without the shim ----------------------------------------------
MPI="$BUILD/tests/mpi"
if command -v mpirun >/dev/null && [ -x "$MPI/ring" ]; then
	# shellcheck disable=SC2054 # the comma is inside an MCA value
	MPIRUN=(mpirun --allow-run-as-root --oversubscribe --mca btl self,vader)
	ref=$("${MPIRUN[@]}" -np 2 "$MPI/ring" 300 20 2>/dev/null </dev/null | grep '^checksum')
	setsid "${MPIRUN[@]}" -np 1 -x LD_PRELOAD="$SHIM" "$MPI/ring" 300 20 : -np 1 "$MPI/ring" 300 20 \
		</dev/null >"$TMP/mpmd.log" 2>"$TMP/mpmd.err" &
	M=$!
	disown "$M"
	CLEANUP_PIDS="$CLEANUP_PIDS $M"
	for _ in $(seq 100); do grep -q '^progress' "$TMP/mpmd.log" 2>/dev/null && break; sleep 0.1; done
	with="" without=""
	for r in $(pgrep -P "$M"); do
		if tr '\0' '\n' <"/proc/$r/environ" | grep -q '^LD_PRELOAD=.*libcrshim'; then with=$r; else without=$r; fi
	done
	check "MPMD job: one rank with the shim ($with), one without ($without)" [ -n "$with" -a -n "$without" ]
	"$CRSHIM" dump -D "$TMP/mpmd" --tree --leave-running "$M" >"$TMP/mpmd.out" 2>&1
	rc=$?
	warn=$(grep -n "warning: pid $without (ring), started by mpirun, runs without the shim" "$TMP/mpmd.out")
	check "MPMD job: crshim dump warns that pid $without runs without the shim ($(cut -c1-100 <<<"$warn"))" \
		[ -n "$warn" ]
	check "MPMD job: no warning about the rank with the shim" eval "! grep -q 'pid $with ' '$TMP/mpmd.out'"
	dumped=$(grep -n '^dumped pid' "$TMP/mpmd.out" | head -1)
	check "MPMD job: the warning comes before the dump (line ${warn%%:*}, dump at line ${dumped%%:*})" \
		[ -n "$dumped" -a "${warn%%:*}" -lt "${dumped%%:*}" ]
	check "MPMD job: a warning only: the checkpoint is made (exit $rc, manifest written)" \
		[ $rc = 0 -a -s "$TMP/mpmd/manifest.json" ]
	[ $rc = 0 ] || sed 's/^/    /' "$TMP/mpmd.out"
	check "MPMD job: the job still runs" kill -0 "$M"
	wait_gone "$M" 90
	check "MPMD job: it finishes with the uninterrupted run's checksum ($ref)" \
		[ -n "$ref" -a "$(grep '^checksum' "$TMP/mpmd.log")" = "$ref" ]
else
	echo "(MPI part not run: mpirun or $MPI/ring missing)"
fi

# ---- (b) a TCP connection to another host ----------------------------------------
# peer listen ADDR PORT: echoes every line back, one connection after another.
# peer connect ADDR PORT: prints "ready", then every 50 ms sends a line and
# prints "pong N" when it comes back; exits when the connection fails.
cat >"$TMP/peer.c" <<'EOF'
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	char buf[64];

	if (argc != 4 || s < 0 || inet_pton(AF_INET, argv[2], &a.sin_addr) != 1)
		return 2;
	a.sin_port = htons((unsigned short)atoi(argv[3]));
	if (!strcmp(argv[1], "listen")) {
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 4))
			return perror("listen"), 1;
		printf("listening\n");
		fflush(stdout);
		for (;;) {
			int c = accept(s, NULL, NULL);
			ssize_t n;

			while (c >= 0 && (n = read(c, buf, sizeof(buf))) > 0)
				if (write(c, buf, (size_t)n) != n)
					break;
			if (c >= 0)
				close(c);
		}
	}
	if (connect(s, (struct sockaddr *)&a, sizeof(a)))
		return perror("connect"), 1;
	printf("ready\n");
	fflush(stdout);
	for (long i = 1;; i++) {
		struct timespec ts = { 0, 50000000L };
		int len = snprintf(buf, sizeof(buf), "ping %ld\n", i);

		if (write(s, buf, (size_t)len) != len || read(s, buf, sizeof(buf)) <= 0)
			return perror("echo"), 1;
		printf("pong %ld\n", i);
		fflush(stdout);
		nanosleep(&ts, NULL);
	}
}
EOF
cc -O2 -Wall -o "$TMP/peer" "$TMP/peer.c" || { fail "the TCP peer does not compile"; finish; exit 1; }

if [ -z "$NET" ]; then
	fail "198.51.100.0/24 and 203.0.113.0/24 are both in use on this host: cannot build the test network"
	finish
	exit 1
fi
if ! { ip netns add "$NS" && ip link add "$VA" type veth peer name "$VB" && ip link set "$VB" netns "$NS" &&
	ip addr add "$HERE/30" dev "$VA" && ip link set "$VA" up &&
	ip -n "$NS" addr add "$THERE/30" dev "$VB" && ip -n "$NS" link set "$VB" up &&
	ip -n "$NS" link set lo up && ip route get "$THERE" | grep -q "dev $VA "; }; then
	fail "cannot create the network namespace and veth pair (ip netns, veth)"
	finish
	exit 1
fi

pongs() { grep -c '^pong' "$1" 2>/dev/null; }
# talking LOG: the client's echoes keep coming back (5 more within 5 s).
talking() {
	local before
	before=$(pongs "$1")
	for _ in $(seq 50); do
		[ "$(pongs "$1")" -ge $((before + 5)) ] && return 0
		sleep 0.1
	done
	echo "    no echo came back in 5 s ($before before)"
	return 1
}
# The listener over there, without the shim; the client here, with it.
ip netns exec "$NS" "$TMP/peer" listen "$THERE" $PORT >"$TMP/there.log" 2>&1 &
disown $!
CLEANUP_PIDS="$CLEANUP_PIDS $!"
wait_files 10 "$TMP/there.log"
setsid env LD_PRELOAD="$SHIM" "$TMP/peer" connect "$THERE" $PORT </dev/null >"$TMP/client.log" 2>&1 &
C=$!
disown "$C"
CLEANUP_PIDS="$CLEANUP_PIDS $C"
for _ in $(seq 100); do grep -q '^ready' "$TMP/client.log" && break; sleep 0.1; done
check "a client connected to $THERE:$PORT in network namespace $NS" talking "$TMP/client.log"
check "its connection is ESTABLISHED to $THERE, an address of no interface here" \
	eval "ss -Htn state established dst $THERE | grep -q . && ! ip -o addr show | grep -q 'inet $THERE/'"

expect_fail "dump refused: a TCP connection to another host" \
	"pid $C \\(peer\\) has a TCP connection to another host \\(${THERE//./\\.}:[0-9]+\\): .*--allow-partial" \
	"$CRSHIM" dump -D "$TMP/part" --leave-running "$C"
check "refused before dumping: no CRIU image, no manifest" \
	eval "[ ! -e '$TMP/part/manifest.json' ] && [ -z \"\$(find '$TMP/part' -name '*.img' 2>/dev/null)\" ]"
check "after the refusal the client runs on and keeps talking" talking "$TMP/client.log"

rm -rf "$TMP/part"
if "$CRSHIM" dump -D "$TMP/part" --leave-running --allow-partial "$C" >"$TMP/part.out" 2>&1; then
	ok "with --allow-partial the dump goes on ($(grep -o 'in [0-9.]* s' "$TMP/part.out" | head -1))"
	check "  and says why the checkpoint is partial" grep -q 'TCP connection to another host' "$TMP/part.out"
	check "  and the checkpoint is complete (manifest written)" [ -s "$TMP/part/manifest.json" ]
else
	fail "with --allow-partial the dump goes on"
	sed 's/^/    /' "$TMP/part.out"
fi
check "after it the client still runs and talks over the same connection" talking "$TMP/client.log"
kill -9 "$C" 2>/dev/null

# Control: a connection to this host's own veth address is local, not refused.
"$TMP/peer" listen "$HERE" $PORT >"$TMP/here.log" 2>&1 &
disown $!
CLEANUP_PIDS="$CLEANUP_PIDS $!"
wait_files 10 "$TMP/here.log"
setsid env LD_PRELOAD="$SHIM" "$TMP/peer" connect "$HERE" $PORT </dev/null >"$TMP/client2.log" 2>&1 &
C2=$!
disown "$C2"
CLEANUP_PIDS="$CLEANUP_PIDS $C2"
for _ in $(seq 100); do grep -q '^ready' "$TMP/client2.log" && break; sleep 0.1; done
check "control: a client connected to $HERE (this host's veth address)" talking "$TMP/client2.log"
if "$CRSHIM" dump -D "$TMP/local" --leave-running "$C2" >"$TMP/local.out" 2>&1; then
	ok "control: its dump is not refused"
	check "control: no consistency message" eval "! grep -q 'another host' '$TMP/local.out'"
else
	fail "control: its dump is not refused"
	sed 's/^/    /' "$TMP/local.out"
fi
check "control: the client still talks" talking "$TMP/client2.log"
kill -9 "$C2" 2>/dev/null
finish
