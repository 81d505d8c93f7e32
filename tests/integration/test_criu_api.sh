#!/bin/bash
# Issue 6, the C API (include/crshim.h):
#  - crshim_available() with and without the shim and a CRIU;
#  - crshim_check() on processes holding a netlink socket with unread data,
#    a packet socket, an open device node, an io_uring fd, a SysV segment,
#    a pool crshim handles: the same verdict and blockers as
#    `crshim check --json`, and a real CRIU dump agrees;
#  - crshim_checkpoint_self(): 0 in the process that continues, 1 in the
#    process restored from that checkpoint (by `crshim restore --child`, and
#    by a plain `crshim restore`), callbacks run once each, a discarded range
#    is left out of the image and found zeroed after the restore; errors;
#  - crshim_discard_region and the callbacks with `crshim dump`.
set -u
. "$(dirname "$0")/lib.sh"
need_criu
API="$PROGS/api_check"
READ_FDS=()

# start NAME ARGS...: a program with the shim when PRELOAD=1; its stdout is a FIFO (not a file
# check would report); waits for its "ready" line.  Sets PID.
start() {
	local name=$1 fifo="$TMP/$1.$RANDOM.fifo" line pre=""
	shift
	[ "${PRELOAD:-0}" = 1 ] && pre=$SHIM
	mkfifo "$fifo" || return 1
	setsid env LD_PRELOAD="$pre" "$PROGS/$name" "$@" >"$fifo" 2>"$TMP/$name.err" </dev/null &
	PID=$!
	CLEANUP_PIDS="$CLEANUP_PIDS $PID"
	exec {fd}<"$fifo"
	READ_FDS+=("$fd")
	read -r -t 10 line <&"$fd" && [ "${line%% *}" = ready ]
}
stop() { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 0; }

# criu_says DUMPABLE|BLOCKED PID: a real `criu dump --leave-running` agrees.
criu_says() {
	local dir rc
	dir=$(mktemp -d "$TMP/criu.XXXXXX")
	timeout 120 "$CRIU" dump -t "$2" -D "$dir" --shell-job --leave-running -v4 -o dump.log >/dev/null 2>&1
	rc=$?
	if [ "$1" = dumpable ]; then [ $rc = 0 ]; else [ $rc != 0 ]; fi
}

# api_case LABEL EXPECT SEVERITY KEYWORD JUDGE: crshim_check on $PID; JUDGE: criu, crshim or -.
api_case() {
	local label=$1 expect=$2 sev=$3 key=$4 judge=$5 out rc want b_api b_cmd d_cmd
	out=$(LD_PRELOAD=$SHIM "$API" "$PID")
	rc=$?
	[ "$expect" = dumpable ] && want=0 || want=1
	if [ $rc = $want ] && grep -q "^report pid $PID .* dumpable $((1 - want)) " <<<"$out"; then
		ok "$label: crshim_check returns $rc ($expect)"
	else
		fail "$label: crshim_check returned $rc, expected $want: $(tr '\n' '|' <<<"$out" | head -c 600)"
	fi
	if grep -E "^item $sev " <<<"$out" | grep -qF -- "$key"; then
		ok "$label: a $sev item mentions '$key'"
	else
		fail "$label: no $sev item mentioning '$key': $(tr '\n' '|' <<<"$out" | head -c 600)"
	fi
	"$CRSHIM" check --json "$PID" >"$TMP/check.json" 2>/dev/null
	b_api=$(sed -n 's/^count blocker \([0-9]*\) .*/\1/p' <<<"$out")
	b_cmd=$(grep -c '"severity": "blocker"' "$TMP/check.json")
	d_cmd=$(grep -c '"dumpable": true' "$TMP/check.json")
	check "$label: the same verdict and blockers as crshim check --json ($b_api/$b_cmd)" \
		[ "$b_api" = "$b_cmd" ] && [ "$d_cmd" = $((1 - want)) ]
	case $judge in
	criu) check "$label: a real CRIU dump agrees ($expect)" criu_says "$expect" "$PID" ;;
	crshim)
		check "$label: plain CRIU fails" criu_says blocked "$PID"
		check "$label: crshim dump --leave-running succeeds" \
			sh -c "'$CRSHIM' dump -D '$(mktemp -d "$TMP/cd.XXXXXX")' --leave-running $PID >/dev/null"
		;;
	esac
}

# ---- crshim_available
check "no shim: crshim_available() is 0 (ENOSYS)" [ "$("$API" avail)" = "available 0 errno ENOSYS" ]
check "shim and CRIU: CRSHIM_AVAILABLE_SHIM|CRSHIM_AVAILABLE_CRIU (3)" \
	[ "$(LD_PRELOAD=$SHIM "$API" avail)" = "available 3 errno 0" ]
check "shim without a CRIU: CRSHIM_AVAILABLE_SHIM (1)" \
	[ "$(CRSHIM_CRIU=/nonexistent/criu LD_PRELOAD=$SHIM "$API" avail)" = "available 1 errno 0" ]
check "disabled shim: 0" [ "$(CRSHIM_DISABLE=1 LD_PRELOAD=$SHIM "$API" avail | cut -d' ' -f2)" = 0 ]

# ---- crshim_check
out=$(setsid -w env LD_PRELOAD="$SHIM" "$API" self)
check "crshim_check(0): this process, dumpable, shim loaded and answering" \
	grep -Eq "^report pid [0-9]+ comm api_check dumpable 1 processes 1 shim 1 1$" <<<"$out"
out=$(LD_PRELOAD=$SHIM "$API" 999999999)
check "crshim_check on no process: -1 ESRCH with a sentence" \
	grep -q "^rc -1 errno ESRCH" <<<"$out" && grep -q "^error no process" <<<"$out"
check "crshim_check without the shim: -1 ENOSYS" grep -q "^rc -1 errno ENOSYS" <<<"$("$API" 1)"

start check_netlink pending && api_case netlink-pending blocked blocker "unread messages" criu
stop "$PID"
start check_packet && api_case packet dumpable ok "packet socket" criu
stop "$PID"
if start check_device; then
	api_case device blocked blocker "device file CRIU cannot dump" criu
else
	echo "# device: no device node to hold here"
fi
stop "$PID"
if start check_io_uring; then
	api_case io_uring blocked blocker "io_uring" criu
else
	echo "# io_uring: not available here"
fi
stop "$PID"
start check_sysv && api_case sysv blocked blocker "SysV shared memory" criu
stop "$PID"
PRELOAD=1 start check_sysv && api_case shim-sysv dumpable handled "takes the segment over" crshim
stop "$PID"
PRELOAD=1 start check_ghost "$TMP" 4096 && api_case shim-pool dumpable handled "pool" crshim
stop "$PID"
ipcrm -a shm 2>/dev/null

# ---- crshim_checkpoint_self, restored by `crshim restore --child`
SELF="$PROGS/api_self"
setsid -w env LD_PRELOAD="$SHIM" "$SELF" "$TMP/self1" 32 20 </dev/null 2>"$TMP/self1.err" | cat >"$TMP/self1.out"
rc=${PIPESTATUS[0]}
check "self: the program continues (exit $rc), crshim_checkpoint_self returned 0" \
	sh -c "[ $rc = 0 ] && grep -qx 'returned 0' '$TMP/self1.out' && grep -qx done '$TMP/self1.out'"
check "self: checkpoint callback once (registered twice), restore callback once with 0" \
	sh -c "[ \$(grep -c '^checkpoint-callback A$' '$TMP/self1.out') = 1 ] &&
	       [ \$(grep -c '^restore-callback' '$TMP/self1.out') = 1 ] &&
	       grep -qx 'restore-callback 0 B' '$TMP/self1.out'"
check "self: discarded range intact in the running process" grep -qx "discard intact" "$TMP/self1.out"
check "self: crshim's layout (manifest.json, dumps/PID/criu.conf, dump.log)" \
	sh -c "[ -s '$TMP/self1/manifest.json' ] && ls '$TMP'/self1/dumps/*/criu.conf '$TMP'/self1/dumps/*/dump.log >/dev/null"
IMG=$(du -sk "$TMP/self1/dumps" | cut -f1)
# An image holding the range would be over 32 MiB; without it, a few KiB (several MiB of
# sanitizer shadow and allocator state under ASan).
check "self: the 32 MiB discarded range is not in the image (${IMG} KiB)" [ "$IMG" -lt 16384 ]
# moved elsewhere first: the checkpoint does not depend on its path
mv "$TMP/self1" "$TMP/self1-moved"
"$CRSHIM" restore -D "$TMP/self1-moved" --child </dev/null 2>"$TMP/self1.rerr" | cat >"$TMP/self1.out2"
rc=${PIPESTATUS[0]}
check "self: moved, restored --child, the same call returns 1 (exit $rc)" \
	sh -c "[ $rc = 0 ] && grep -qx 'returned 1' '$TMP/self1.out2' && grep -qx done '$TMP/self1.out2'"
check "self: the restore callback ran once, with 1; no checkpoint callback" \
	sh -c "[ \$(grep -c '^restore-callback' '$TMP/self1.out2') = 1 ] &&
	       grep -qx 'restore-callback 1 B' '$TMP/self1.out2' && ! grep -q checkpoint-callback '$TMP/self1.out2'"
check "self: the discarded range reads zero, crshim_region_discarded says 1" \
	sh -c "grep -qx 'discard zero' '$TMP/self1.out2' && grep -qx 'discarded 1' '$TMP/self1.out2'"
check "self: ordinary memory kept its data" grep -qx "kept ok" "$TMP/self1.out2"
[ "$(grep -c '^line ' "$TMP/self1.out2")" = 20 ] || fail "self: the restored program wrote $(grep -c '^line ' "$TMP/self1.out2") lines, not 20"

# ---- the same, restored by a plain `crshim restore` (output appended to its file)
setsid -w env LD_PRELOAD="$SHIM" "$SELF" "$TMP/self2" 4 3 </dev/null >"$TMP/self2.out" 2>&1
"$CRSHIM" restore -D "$TMP/self2" >"$TMP/self2.rst" 2>&1 || { fail "self2: crshim restore"; cat "$TMP/self2.rst"; }
for _ in $(seq 100); do [ "$(grep -c '^done' "$TMP/self2.out")" = 2 ] && break; sleep 0.1; done
check "self2: a plain restore runs on from the call (returned 1 appended to its output file)" \
	sh -c "[ \$(grep -c '^done' '$TMP/self2.out') = 2 ] && grep -qx 'returned 1' '$TMP/self2.out' &&
	       grep -qx 'discard zero' '$TMP/self2.out'"

# ---- crshim_checkpoint_self errors
mkdir -p "$TMP/full" && touch "$TMP/full/x"
check "self: a non-empty directory is refused (EEXIST)" \
	grep -qx "returned -1 File exists" <<<"$(LD_PRELOAD=$SHIM "$SELF" "$TMP/full" 1 2>/dev/null)"
check "self: no CRIU (ENOENT)" grep -qx "returned -1 No such file or directory" \
	<<<"$(CRSHIM_CRIU=/nonexistent/criu LD_PRELOAD=$SHIM "$SELF" "$TMP/nocriu" 1 2>/dev/null)"
check "self: without the shim (ENOSYS)" grep -qx "returned -1 Function not implemented" \
	<<<"$("$SELF" "$TMP/noshim" 1 2>/dev/null)"
if command -v unshare >/dev/null 2>&1; then
	check "self: session leader outside the pid namespace (ESRCH, a warning naming setsid)" \
		sh -c "unshare --pid --fork env LD_PRELOAD='$SHIM' '$SELF' '$TMP/nosess' 1 2>'$TMP/nosess.err' |
		       grep -qx 'returned -1 No such process' && grep -q setsid '$TMP/nosess.err'"
fi

# ---- crshim_discard_region and the callbacks with crshim dump
rm -f "$TMP/h.pid"
setsid env LD_PRELOAD="$SHIM" "$PROGS/api_hints" "$TMP/h.pid" 64 </dev/null >"$TMP/h.out" 2>&1 &
CLEANUP_PIDS="$CLEANUP_PIDS $!"
disown
if wait_files 10 "$TMP/h.pid" && PID=$(cat "$TMP/h.pid") && sleep 0.5; then
	check "hints: a fork child gets its own copy of the discarded range" grep -qx "fork private ok" "$TMP/h.out"
	check "hints: crshim status shows the range's file as a drop-policy scratch file" \
		sh -c "'$CRSHIM' status $PID | grep -q 'crshim-discard.*policy drop'"
	"$CRSHIM" dump -D "$TMP/h1" --leave-running "$PID" >"$TMP/h1.dump" 2>&1 || fail "hints: dump --leave-running"
	sleep 0.3
	check "hints: checkpoint callback, then restore callback with 0, range intact" \
		sh -c "grep -A1 -x checkpoint-callback '$TMP/h.out' | grep -qx 'restore-callback 0 discarded 0 region intact'"
	IMG=$(du -sk "$TMP/h1/dumps" | cut -f1)
	check "hints: the 64 MiB range is not in the image (${IMG} KiB)" [ "$IMG" -lt 8192 ]
	"$CRSHIM" dump -D "$TMP/h2" "$PID" >"$TMP/h2.dump" 2>&1 || fail "hints: dump"
	wait_gone "$PID" 10
	"$CRSHIM" restore -D "$TMP/h2" >"$TMP/h2.rst" 2>&1 || { fail "hints: restore"; cat "$TMP/h2.rst"; }
	for _ in $(seq 50); do grep -q 'restore-callback 1' "$TMP/h.out" && break; sleep 0.1; done
	check "hints: restored: restore callback with 1, crshim_region_discarded 1, range zero" \
		grep -qx "restore-callback 1 discarded 1 region zero" "$TMP/h.out"
	kill -9 "$PID" 2>/dev/null
	wait_gone "$PID" 10
else
	fail "hints: api_hints did not start: $(cat "$TMP/h.out")"
fi

finish
