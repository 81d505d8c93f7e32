#!/usr/bin/env bash
# tests/integration/test_check.sh BUILD_DIR
#
# `crshim check` against reality.  Each tests/progs/check_* program holds one
# resource and sleeps; for each one this asserts the verdict and exit status
# of `crshim check --json PID` and a keyword of the reason, then runs a real
# `criu dump --leave-running` on the same process: what check calls blocked
# must fail to dump (with the expected CRIU error), what it calls dumpable
# must dump.
#
# Needs root (CRIU, AF_PACKET).  The CRIU is $CRSHIM_CRIU, else the one named
# in /opt/crshim/criu/selected, else /opt/crshim/criu/criu, else `criu`; when
# none passes `criu check`, the CRIU comparisons are skipped and the script
# exits 77 after the check assertions.  One line per assertion; exit 0 only
# if all pass, 77 on skip.
set -u

BUILD=${1:?usage: test_check.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
CRSHIM=$BUILD/crshim
PROGS=$BUILD/tests/progs

PASS=0
FAIL=0
SKIPPED=0
CHILDREN=()

pass() { PASS=$((PASS + 1)); printf 'ok   - %s\n' "$*"; }
fail() { FAIL=$((FAIL + 1)); printf 'FAIL - %s\n' "$*"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf 'skip - %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
	echo "skip: needs root (CRIU and AF_PACKET sockets need it)"
	exit 77
fi
if [ ! -x "$CRSHIM" ]; then
	echo "skip: $CRSHIM is not built"
	exit 77
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/test_check.XXXXXX")
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
	local p
	for p in "${CHILDREN[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${CHILDREN[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# ---- the CRIU to compare with --------------------------------------------------------------
find_criu() {
	local sel
	if [ -n "${CRSHIM_CRIU:-}" ]; then
		echo "$CRSHIM_CRIU"
		return
	fi
	if [ -r /opt/crshim/criu/selected ]; then
		sel=$(head -n 1 /opt/crshim/criu/selected)
		if [ -x "$sel" ]; then
			echo "$sel"
			return
		fi
	fi
	if [ -x /opt/crshim/criu/criu ]; then
		echo /opt/crshim/criu/criu
		return
	fi
	command -v criu || true
}

CRIU=$(find_criu)
CRIU_OK=0
if [ -z "$CRIU" ]; then
	CRIU_WHY="no criu found"
elif ! out=$(timeout 120 "$CRIU" check 2>&1); then
	CRIU_WHY="$CRIU check fails: $(printf '%s\n' "$out" | grep -v RLIMIT_NOFILE | tail -n 1)"
else
	CRIU_OK=1
	echo "# comparing with $CRIU ($("$CRIU" --version 2>/dev/null | head -n 1))"
fi
[ "$CRIU_OK" = 1 ] || echo "# CRIU comparisons skipped: $CRIU_WHY"

# ---- helpers ---------------------------------------------------------------------------------

# start NAME ARGS...: run a test program (with $PRELOAD preloaded if set), wait for its
# "ready" line; sets PID and READY.  Its stdout is a FIFO we keep open (not a file under
# /tmp that check would report).
start() {
	local name=$1 fifo=$WORK/$1.$RANDOM.fifo
	shift
	PID=
	READY=
	mkfifo "$fifo" || return 1
	# In its own session, as a job launcher starts a job: CRIU refuses a task whose
	# session leader is outside its pid namespace (a CI runner's, say).
	setsid env LD_PRELOAD="${PRELOAD:-}" "$PROGS/$name" "$@" >"$fifo" 2>"$WORK/$name.err" </dev/null &
	PID=$!
	CHILDREN+=("$PID")
	exec {READ_FD}<"$fifo"
	READY_FDS+=("$READ_FD")
	if ! read -r -t 10 READY <&"$READ_FD" || [ "${READY%% *}" != ready ]; then
		printf '# %s did not start: %s\n' "$name" "$(head -c 300 "$WORK/$name.err")"
		stop "$PID"
		return 1
	fi
}
READY_FDS=()

stop() {
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# check_verdict LABEL PID EXPECT SEVERITY KEYWORD
#   EXPECT dumpable|blocked; an item of SEVERITY whose reason has KEYWORD must be listed.
check_verdict() {
	local label=$1 pid=$2 expect=$3 sev=$4 key=$5 rc want_rc want_json human
	"$CRSHIM" check --json "$pid" >"$WORK/check.json" 2>"$WORK/check.err"
	rc=$?
	if [ "$expect" = dumpable ]; then
		want_rc=0
		want_json='"dumpable": true'
	else
		want_rc=1
		want_json='"dumpable": false'
	fi
	if [ "$rc" = "$want_rc" ] && grep -q "$want_json" "$WORK/check.json"; then
		pass "$label: crshim check says $expect (exit $rc)"
	else
		fail "$label: crshim check exit $rc, expected $want_rc ($expect): $(cat "$WORK/check.json" "$WORK/check.err" | tr -s ' \n' ' ' | head -c 600)"
	fi
	[ -n "$key" ] || return 0
	human=$("$CRSHIM" check "$pid" 2>&1)
	if printf '%s\n' "$human" | grep -E "^  $sev +" | grep -qF -- "$key" &&
		grep -qF -- "$key" "$WORK/check.json"; then
		pass "$label: $sev item mentions '$key'"
	else
		fail "$label: no $sev item mentioning '$key' in: $(printf '%s' "$human" | tr '\n' '|' | head -c 600)"
	fi
}

# criu_verdict LABEL PID EXPECT ERROR [CRIU OPTIONS...]
#   dumpable: `criu dump` must succeed; blocked: it must fail, with ERROR in its log if given.
criu_verdict() {
	local label=$1 pid=$2 expect=$3 err=$4 dir rc
	shift 4
	if [ "$CRIU_OK" != 1 ]; then
		skip "$label: real CRIU dump ($CRIU_WHY)"
		return
	fi
	dir=$(mktemp -d "$WORK/dump.XXXXXX")
	timeout 120 "$CRIU" dump -t "$pid" -D "$dir" --shell-job --leave-running -v4 -o dump.log "$@" \
		>/dev/null 2>&1
	rc=$?
	drop_netlock "$dir/dump.log"
	if [ "$expect" = dumpable ]; then
		if [ "$rc" = 0 ]; then
			pass "$label: criu dump succeeds"
		else
			fail "$label: criu dump failed (exit $rc): $(grep -E 'Error|error' "$dir/dump.log" | grep -v RLIMIT_NOFILE | head -n 3 | tr '\n' '|')"
		fi
	elif [ "$rc" = 0 ]; then
		fail "$label: criu dump succeeded although crshim check found a blocker"
	elif [ -n "$err" ] && ! grep -qF -- "$err" "$dir/dump.log"; then
		fail "$label: criu dump failed, but without '$err': $(grep -E 'Error' "$dir/dump.log" | grep -v RLIMIT_NOFILE | head -n 3 | tr '\n' '|')"
	else
		pass "$label: criu dump fails${err:+ ($err)}"
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		fail "$label: the process did not survive the dump (--leave-running)"
	fi
}

# drop_netlock DUMPLOG: remove an nftables lock table this dump created and left behind
# (CRIU names it "inet CRIU-<run id>"; -v4 logs the name).  Only tables named in our log.
drop_netlock() {
	local t
	[ -f "$1" ] && command -v nft >/dev/null 2>&1 || return 0
	grep -o 'inet CRIU-[A-Za-z0-9_-]*' "$1" | sort -u | cut -d' ' -f2 | while read -r t; do
		if nft list table inet "$t" >/dev/null 2>&1; then
			nft delete table inet "$t" 2>/dev/null
		fi
	done
}

# case LABEL EXPECT SEVERITY KEYWORD CRIU_ERROR PROG [ARGS...]
run_case() {
	local label=$1 expect=$2 sev=$3 key=$4 err=$5
	shift 5
	if [ ! -x "$PROGS/$1" ]; then
		fail "$label: $PROGS/$1 is not built"
		return
	fi
	if ! start "$@"; then
		skip "$label: the program could not set up its resource on this machine"
		return
	fi
	check_verdict "$label" "$PID" "$expect" "$sev" "$key"
	criu_verdict "$label" "$PID" "$expect" "$err"
	stop "$PID"
}

# ---- the cases ---------------------------------------------------------------------------------

run_case plain dumpable ok "not loaded" "" check_plain
run_case netlink-pending blocked blocker "unread messages" "The socket has data to read" \
	check_netlink pending
run_case netlink-groups blocked blocker "multicast group above 32" "more than 32 groups" \
	check_netlink groups
run_case netlink-idle dumpable ok "NETLINK_ROUTE" "" check_netlink idle
run_case packet dumpable ok "packet socket" "" check_packet
run_case device blocked blocker "device file CRIU cannot dump" "Can't dump file" check_device
run_case io_uring blocked blocker "io_uring" "" check_io_uring
run_case sysv blocked blocker "SysV shared memory" "doesn't live in IPC ns" check_sysv
run_case ghost-4M blocked blocker "ghost-limit" "Can't dump ghost file" check_ghost "$WORK" 4096
run_case ghost-512K dumpable ok "unlinked file" "" check_ghost "$WORK" 512

# Resources CRIU dumps only when asked: check warns and names the option; CRIU must fail
# without it and succeed with it.
if start check_tcp; then
	check_verdict tcp "$PID" dumpable warn "needs --tcp-established"
	criu_verdict tcp "$PID" blocked "Connected TCP socket"
	criu_verdict tcp+option "$PID" dumpable "" --tcp-established --network-lock nftables
	stop "$PID"
else
	skip "tcp: no loopback connection"
fi
if start check_flock "$WORK"; then
	check_verdict flock "$PID" dumpable warn "needs --file-locks"
	criu_verdict flock "$PID" blocked "Some file locks are hold"
	criu_verdict flock+option "$PID" dumpable "" --file-locks
	stop "$PID"
else
	skip "flock: could not lock a file in $WORK"
fi

# A unix stream connection between two separate processes: each half alone is blocked.
if [ -x "$PROGS/check_unix" ] && start check_unix listen "$WORK/u.sock"; then
	LISTENER=$PID
	if start check_unix connect "$WORK/u.sock"; then
		check_verdict unix-client "$PID" blocked blocker "half of a stream connection"
		criu_verdict unix-client "$PID" blocked "External socket is used"
		criu_verdict unix-client-ext "$PID" blocked "Can't dump half of stream unix connection" \
			--ext-unix-sk
		check_verdict unix-listener "$LISTENER" blocked blocker "outside the dumped tree"
		stop "$PID"
	else
		skip "unix: the client could not connect"
	fi
	stop "$LISTENER"
else
	skip "unix: check_unix could not listen"
fi

# With libcrshim.so loaded, what crshim takes over is "handled", not a blocker.  (Only the
# verdict: dumping such a process is `crshim dump`'s business, tested elsewhere.)
shim_case() {
	local label=$1 key=$2
	shift 2
	if ! PRELOAD=$BUILD/libcrshim.so start "$@"; then
		skip "$label: the program could not start with the shim"
		return
	fi
	if "$CRSHIM" check "$PID" 2>&1 | grep -q "does not answer"; then
		skip "$label: the shim is loaded but its control endpoint does not answer PING"
	else
		check_verdict "$label" "$PID" dumpable handled "$key"
	fi
	stop "$PID"
}
if [ -e "$BUILD/libcrshim.so" ]; then
	shim_case shim-sysv "takes the segment over" check_sysv
	shim_case shim-ghost-4M "pool" check_ghost "$WORK" 4096
else
	skip "shim cases: $BUILD/libcrshim.so is not built"
fi

# A task whose session leader is outside its pid namespace (what a container runtime or a
# CI runner that did not call setsid() gives a job): the init of a new pid namespace that
# kept its parent's session sees sid 0.  check must call it a blocker, and CRIU agrees.
if command -v unshare >/dev/null 2>&1; then
	unshare --pid --fork sleep 60 </dev/null >/dev/null 2>&1 &
	UNS=$!
	CHILDREN+=("$UNS")
	INNER=
	for _ in $(seq 50); do
		INNER=$(ps -o pid= --ppid "$UNS" 2>/dev/null | tr -d ' ')
		[ -n "$INNER" ] && break
		sleep 0.1
	done
	if [ -n "$INNER" ] && [ "$(awk '/^NSsid:/ {print $NF}' "/proc/$INNER/status")" = 0 ]; then
		CHILDREN+=("$INNER")
		check_verdict outside-session "$INNER" blocked blocker "session leader is outside"
		criu_verdict outside-session "$INNER" blocked "session leader"
		"$CRSHIM" dump -D "$WORK/outside" --leave-running "$INNER" >/dev/null 2>"$WORK/err"
		rc=$?
		if [ "$rc" != 0 ] && grep -q "session leader is outside.*setsid" "$WORK/err" &&
			[ ! -e "$WORK/outside/manifest.json" ] && kill -0 "$INNER" 2>/dev/null; then
			pass "outside-session: crshim dump refuses it before CRIU runs (exit $rc)"
		else
			fail "outside-session: crshim dump exit $rc: $(cat "$WORK/err")"
		fi
	else
		skip "outside-session: unshare --pid did not give a task with sid 0 here"
	fi
	stop "$UNS"
else
	skip "outside-session: no unshare(1)"
fi

# Bad input: exit 2 with a one-line message.
"$CRSHIM" check 999999999 >/dev/null 2>"$WORK/err"
rc=$?
if [ "$rc" = 2 ] && [ "$(wc -l <"$WORK/err")" = 1 ]; then
	pass "no such process: exit 2, one line ($(cat "$WORK/err"))"
else
	fail "no such process: exit $rc: $(cat "$WORK/err")"
fi
"$CRSHIM" check notapid >/dev/null 2>"$WORK/err"
rc=$?
if [ "$rc" = 2 ] && grep -q "not a process id" "$WORK/err"; then
	pass "not a pid: exit 2"
else
	fail "not a pid: exit $rc: $(cat "$WORK/err")"
fi
# A zombie: a child that exited but was not reaped by its parent (a sleeping shell).
setsid bash -c 'sleep 0 & exec sleep 30' &
ZPARENT=$!
CHILDREN+=("$ZPARENT")
ZOMBIE=
for _ in $(seq 50); do
	ZOMBIE=$(ps -o pid=,stat= --ppid "$ZPARENT" 2>/dev/null | awk '$2 ~ /^Z/ {print $1}')
	[ -n "$ZOMBIE" ] && break
	sleep 0.1
done
if [ -n "$ZOMBIE" ]; then
	"$CRSHIM" check "$ZOMBIE" >/dev/null 2>"$WORK/err"
	rc=$?
	if [ "$rc" = 2 ] && grep -q zombie "$WORK/err"; then
		pass "zombie: exit 2 ($(cat "$WORK/err"))"
	else
		fail "zombie: exit $rc: $(cat "$WORK/err")"
	fi
else
	skip "zombie: could not make one"
fi
stop "$ZPARENT"

# Several pids: a JSON array, the worst exit status.
if start check_plain && PLAIN=$PID && start check_sysv; then
	"$CRSHIM" check --json "$PLAIN" "$PID" >"$WORK/two.json"
	rc=$?
	if [ "$rc" = 1 ] && [ "$(head -c 1 "$WORK/two.json")" = "[" ] &&
		[ "$(grep -c '"dumpable"' "$WORK/two.json")" = 2 ]; then
		pass "two pids: a JSON array of two reports, exit 1"
	else
		fail "two pids: exit $rc, output $(head -c 200 "$WORK/two.json")"
	fi
	stop "$PID"
	stop "$PLAIN"
else
	fail "two pids: test programs did not start"
fi

printf '# %d passed, %d failed, %d skipped\n' "$PASS" "$FAIL" "$SKIPPED"
if [ "$FAIL" -gt 0 ]; then
	exit 1
fi
if [ "$CRIU_OK" != 1 ]; then
	echo "skip: CRIU comparisons not run: $CRIU_WHY"
	exit 77
fi
exit 0
