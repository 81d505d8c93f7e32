#!/bin/bash
# Issue 8, fault injection around CRIU itself (real CRIU):
#   - CRIU crashes (SIGSEGV, through a CRSHIM_CRIU wrapper) at the freeze
#     point, while its action script waits at crshim's barrier with the
#     processes frozen;
#   - the checkpoint directory is on a file system that fills up: a small
#     tmpfs that holds the CRIU images but not the pool copy, and one that
#     holds nothing;
# Each time: a clear message (CRIU's exit and log, or "No space left on
# device"), a non-zero exit, the processes running and making progress
# (none left frozen), no manifest, the pool copies removed, no network lock
# of the crashed CRIU left in nftables, nothing left after `crshim gc`
# (assert_no_strays), and afterwards
# a dump elsewhere works and restores with the pool verified.  (A CRIU
# killed early in the dump is test_criu_failures.sh.)
set -u
. "$(dirname "$0")/lib.sh"
need_criu
[ -x "$PROGS/soak_worker" ] || { fail "soak_worker not built"; finish; exit 1; }
NR=2
SIZE=64
name="crst-fc-$$"
STOP="$TMP/stop"
MOUNTS=""
trap 'for m in $MOUNTS; do umount "$m" 2>/dev/null; done; cleanup' EXIT


failed_cleanly() { # label dir pattern
	local label=$1 dir=$2 pat=$3 rc
	"$CRSHIM" dump -D "$dir" $PIDS >"$TMP/out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] && grep -qE "$pat" "$TMP/out"; then
		ok "$label: the dump fails clearly (exit $rc: $(grep -m1 -E "$pat" "$TMP/out" | cut -c1-110))"
	else
		fail "$label: the dump fails clearly (exit $rc)"
		sed 's/^/    /' "$TMP/out"
	fi
	check "$label: every process still runs" all_alive
	check "$label: ... and makes progress (none left frozen)" progressing
	check "$label: no manifest" test ! -e "$dir/manifest.json"
	check "$label: the pool copies were removed" bash -c "[ -z \"\$(ls -A '$dir/pools' 2>/dev/null)\" ]"
	assert_no_strays "$label"
}

start_soak_set "$SIZE"
check "the set started ($NR processes, ${SIZE} MiB pool)" all_alive

# --- CRIU crashes at the freeze point ---
cat >"$TMP/crash-criu" <<EOS
#!/bin/bash
# Run CRIU; once its action script runs (processes frozen, waiting at
# crshim's barrier), crash it.
"$CRIU" "\$@" &
c=\$!
for i in \$(seq 3000); do
	pgrep -P \$c -f "hook" >/dev/null && break
	kill -0 \$c 2>/dev/null || break
	sleep 0.01
done
kill -SEGV \$c
wait \$c
EOS
chmod +x "$TMP/crash-criu"
export CRSHIM_CRIU="$TMP/crash-criu"
failed_cleanly "CRIU crashed at the freeze point" "$TMP/crashed" "CRIU failed for pid [0-9]+ \(exit 139\)"
unset CRSHIM_CRIU
# CRIU held the network lock (nftables table "inet CRIU-<run id>") when it
# crashed; left there, it would drop the processes' TCP connections.
runid=$(grep -ho 'CRIU run id = [0-9a-f-]*' "$TMP"/crashed/dumps/*/dump.log 2>/dev/null | head -1 | cut -d' ' -f5)
if [ -n "$runid" ] && command -v nft >/dev/null; then
	check "no network lock of the crashed CRIU is left (table CRIU-${runid:0:21})" \
		bash -c "! nft list tables 2>/dev/null | grep -q 'CRIU-${runid:0:21}\$'"
fi

# --- the checkpoint directory fills up ---
for spec in "small:12m:the pool copy does not fit" "tiny:256k:nothing fits"; do
	IFS=: read -r dname size what <<<"$spec"
	mkdir -p "$TMP/$dname"
	if mount -t tmpfs -o "size=$size" tmpfs "$TMP/$dname" 2>/dev/null; then
		MOUNTS="$MOUNTS $TMP/$dname"
		failed_cleanly "a full file system ($size, $what)" "$TMP/$dname/ck" "No space left on device|CRIU failed for pid"
		used=$(df -k "$TMP/$dname" | awk 'NR == 2 { print $3 }')
		echo "# $size tmpfs after the failed dump: ${used} KiB in use"
		umount "$TMP/$dname"
	else
		fail "cannot mount a $size tmpfs for the test"
	fi
done

# --- afterwards a dump elsewhere works and restores ---
if "$CRSHIM" dump -D "$TMP/good" $PIDS >"$TMP/good.out" 2>&1; then
	ok "a dump after the failures succeeds"
	for p in $PIDS; do { wait "$p"; } 2>/dev/null; wait_gone "$p" 20; done
	rm -f "$TMP"/res.*
	if "$CRSHIM" restore -D "$TMP/good" >"$TMP/restore.out" 2>&1; then
		ok "its restore"
		touch "$STOP"
		check "the restored processes verify their pool" bash -c "
			for r in \$(seq 0 $((NR - 1))); do
				for i in \$(seq 300); do [ -s '$TMP'/res.\$r ] && break; sleep 0.1; done
				grep -q '^OK' '$TMP'/res.\$r || exit 1
			done"
	else
		fail "its restore"
		sed 's/^/    /' "$TMP/restore.out"
	fi
else
	fail "a dump after the failures"
	sed 's/^/    /' "$TMP/good.out"
fi
for p in $PIDS; do wait_gone "$p" 30; done
assert_no_strays "at the end"
finish
