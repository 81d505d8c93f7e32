#!/bin/bash
# Issue 8, security of the files crshim writes (real CRIU):
#   - a checkpoint directory is created 0700 (an existing empty one is made
#     0700), its pools/, dumps/ and scratch/ 0700, the manifest, the pool
#     copies and the CRIU configuration 0600: nothing in it is readable by
#     other users;
#   - nothing is written through a symbolic link planted
#       * at DIR (refused: not a directory),
#       * at DIR/pools/pool-0.img before the dump into an existing empty
#         DIR (refused: DIR is not empty),
#       * at DIR/pools/pool-0.img and at DIR/manifest.json.tmp.PID while the
#         dump runs (a CRSHIM_CRIU wrapper plants them: the copy and the
#         manifest are created O_EXCL|O_NOFOLLOW and the dump fails),
#       * in /dev/shm where a named pool is recreated (refused, also with
#         --replace),
#       * in a directory above a named pool (a session directory
#         /dev/shm/crst-sess-PID, two levels up, made a link to another
#         directory by another user): refused, naming the link, also with --replace;
#         without the link the restore makes the directories again, 0700,
#       * where an output file (a redirected stdout) is recreated: refused,
#     and the file each link points to is unchanged;
#   - a manifest edited to read a pool's content from outside the checkpoint
#     (data "../..."), or to create a set-user-ID file, is refused before
#     anything is created.
# (The owner and mode of recreated pools are in test_sec_users.sh.)
set -u
. "$(dirname "$0")/lib.sh"
need_criu
[ -x "$PROGS/soak_worker" ] || { fail "soak_worker not built"; finish; exit 1; }
NR=2
name="crst-sf-$$"
STOP="$TMP/stop"
VICTIM="$TMP/victim"
printf 'precious\n' >"$VICTIM"
VSUM=$(md5sum <"$VICTIM")
victim_intact() { [ "$(md5sum <"$VICTIM")" = "$VSUM" ] && [ ! -L "$VICTIM" ]; }


mode_of() { stat -c %a "$1"; }

mkdir -p "$TMP/out"
start_soak_set 16 "$TMP/out/run.%s.log"

# --- modes ---
mkdir -m 0755 "$TMP/ck"
check "dump into an existing empty 0755 directory" "$CRSHIM" dump -D "$TMP/ck" --leave-running $PIDS
check "the checkpoint directory is now 0700" test "$(mode_of "$TMP/ck")" = 700
for d in pools dumps scratch; do check "DIR/$d is 0700" test "$(mode_of "$TMP/ck/$d")" = 700; done
check "manifest.json is 0600" test "$(mode_of "$TMP/ck/manifest.json")" = 600
check "the pool copy is 0600" test "$(mode_of "$TMP/ck/pools/pool-0.img")" = 600
for f in "$TMP"/ck/dumps/*/criu.conf; do check "$(basename "$(dirname "$f")")/criu.conf is 0600" test "$(mode_of "$f")" = 600; done
open=$(find "$TMP/ck" -perm /077 ! -type l -printf '%m %P\n' | grep -v '^700 \(dumps/[0-9]*\)$' | head -5)
echo "# files of the checkpoint with group/other bits (inside the 0700 directory): ${open:-none}"
check "a new checkpoint directory is created 0700" "$CRSHIM" dump -D "$TMP/ck-new" --leave-running $PIDS
check "... 0700" test "$(mode_of "$TMP/ck-new")" = 700

# --- symlinks planted for the dump ---
ln -s "$VICTIM" "$TMP/ck-link"
expect_fail "DIR is a symbolic link: refused" "exists and is not a directory" "$CRSHIM" dump -D "$TMP/ck-link" $PIDS
mkdir "$TMP/ck-pre" "$TMP/ck-pre/pools"
ln -s "$VICTIM" "$TMP/ck-pre/pools/pool-0.img"
expect_fail "DIR/pools/pool-0.img planted before the dump: refused" "is not empty" "$CRSHIM" dump -D "$TMP/ck-pre" $PIDS
cat >"$TMP/plant-criu" <<EOS
#!/bin/bash
# Plant symbolic links where crshim will write, then run CRIU.
dir=\$(echo "\$*" | sed -n 's|.* -D \\(.*\\)/dumps/[0-9]*.*|\\1|p')
ln -s "$VICTIM" "\$dir/pools/pool-0.img" 2>/dev/null
ln -s "$VICTIM" "\$dir/manifest.json.tmp.\$PPID" 2>/dev/null
exec "$CRIU" "\$@"
EOS
chmod +x "$TMP/plant-criu"
expect_fail "links planted during the dump: the pool copy refuses to follow" "cannot create .*pool-0.img: File exists" \
	env CRSHIM_CRIU="$TMP/plant-criu" "$CRSHIM" dump -D "$TMP/ck-race" $PIDS
check "the processes still run" all_alive
check "the planted links' target is unchanged" victim_intact

# --- named pool and output recreated at restore ---
check "a checkpoint that stops the set" "$CRSHIM" dump -D "$TMP/ck-stop" $PIDS
for p in $PIDS; do { wait "$p"; } 2>/dev/null; wait_gone "$p" 20; done
grep -q '"path": "'"$TMP"'/out/run.0.log"' "$TMP/ck-stop/manifest.json" && ok "the redirected stdout is an output of the checkpoint" ||
	fail "the redirected stdout is an output of the checkpoint"
mv "$TMP/out/run.0.log" "$TMP/out/run.0.log.saved"
ln -s "$VICTIM" "$TMP/out/run.0.log"
expect_fail "a symbolic link where an output is recreated: refused" "run.0.log is a symbolic link" \
	"$CRSHIM" restore -D "$TMP/ck-stop"
sleep 0.5
check "nothing was restored" bash -c "! kill -0 ${PIDS%% *} 2>/dev/null"
check "the link's target is unchanged" victim_intact
rm -f "$TMP/out/run.0.log"
mv "$TMP/out/run.0.log.saved" "$TMP/out/run.0.log"

nname="crst-sfn-$$"
NP=""
for r in 0 1; do
	setsid env LD_PRELOAD="$SHIM" "$PROGS/pool_worker" named "$nname" "$r" 2 8 100 20 "$TMP/nres.$r" </dev/null >/dev/null 2>&1 &
	NP="$NP $!"
done
CLEANUP_PIDS="$CLEANUP_PIDS $NP"
sleep 1.2
check "a checkpoint of a set sharing a named pool" "$CRSHIM" dump -D "$TMP/ck-named" $NP
for p in $NP; do { wait "$p"; } 2>/dev/null; wait_gone "$p" 20; done
rm -f "/dev/shm/$nname"
ln -s "$VICTIM" "/dev/shm/$nname"
expect_fail "a symbolic link where a named pool is recreated: refused" "is a symbolic link; refusing" \
	"$CRSHIM" restore -D "$TMP/ck-named"
expect_fail "... also with --replace" "is a symbolic link; refusing" "$CRSHIM" restore -D "$TMP/ck-named" --replace
check "the link's target is unchanged" victim_intact
rm -f "/dev/shm/$nname"

# a named pool in a session directory (/dev/shm/crst-sess-PID/0/pool)
sess="/dev/shm/crst-sess-$$"
mkdir -p "$sess/0"
NP=""
for r in 0 1; do
	setsid env LD_PRELOAD="$SHIM" "$PROGS/pool_worker" named "${sess#/dev/shm/}/0/pool" "$r" 2 8 100 20 "$TMP/sres.$r" \
		</dev/null >/dev/null 2>&1 &
	NP="$NP $!"
done
CLEANUP_PIDS="$CLEANUP_PIDS $NP"
sleep 1.2
check "a checkpoint of a set sharing a named pool in a session directory" "$CRSHIM" dump -D "$TMP/ck-sess" $NP
check "... the pool is recorded at $sess/0/pool" grep -q '"path": "'"$sess"'/0/pool"' "$TMP/ck-sess/manifest.json"
for p in $NP; do { wait "$p"; } 2>/dev/null; wait_gone "$p" 20; done
rm -rf "$sess"
mkdir "$TMP/elsewhere"
ln -s "$TMP/elsewhere" "$sess"
chown -h nobody "$sess"
expect_fail "a symbolic link (another user's) two levels above a named pool: refused, naming it" \
	"refusing to restore $sess/0/pool: $sess is a symbolic link owned by uid $(id -u nobody)" \
	"$CRSHIM" restore -D "$TMP/ck-sess"
expect_fail "... also with --replace" "$sess is a symbolic link owned by uid" \
	"$CRSHIM" restore -D "$TMP/ck-sess" --replace
check "... nothing was restored" bash -c "! kill -0 ${NP%% *} 2>/dev/null"
check "... nothing was created through the link" test -z "$(ls -A "$TMP/elsewhere")"
rm -f "$sess"
rm -f "$TMP"/sres.*
check "without the link, the restore makes the directories again" "$CRSHIM" restore -D "$TMP/ck-sess"
check "... 0700 ($(stat -c %a "$sess" 2>/dev/null))" test "$(stat -c %a "$sess" 2>/dev/null)" = 700
check "... and the set finishes with its pool shared" bash -c "
	for r in 0 1; do
		for i in \$(seq 300); do [ -s '$TMP'/sres.\$r ] && break; sleep 0.1; done
		grep -q '^OK' '$TMP'/sres.\$r || exit 1
	done"
for p in $NP; do wait_gone "$p" 30; done
rm -rf "$sess"

# --- a manifest edited to reach outside the checkpoint ---
target=/etc/hostname
cp -a "$TMP/ck-stop" "$TMP/ck-evil"
sed -i "s|\"data\": \"pools/pool-0.img\"|\"data\": \"../../../../../../..$target\"|; s|\"size\": [0-9]*,|\"size\": $(stat -c %s $target),|" \
	"$TMP/ck-evil/manifest.json"
expect_fail "a manifest reading a pool from outside the checkpoint (data ../..$target): refused" \
	"pools\[0\].data: not a path inside the checkpoint" "$CRSHIM" restore -D "$TMP/ck-evil"
check "... nothing was restored" bash -c "! kill -0 ${PIDS%% *} 2>/dev/null"
cp -a "$TMP/ck-stop" "$TMP/ck-suid"
awk '/"id": "pool-0"/ { p = 1 } p && /"mode": [0-9]+/ { sub(/"mode": [0-9]+/, "\"mode\": 35309"); p = 0 } { print }' \
	"$TMP/ck-stop/manifest.json" >"$TMP/ck-suid/manifest.json"
expect_fail "a manifest giving a pool set-user-ID bits (mode 0104755): refused" "set-user-ID" \
	"$CRSHIM" restore -D "$TMP/ck-suid"

# --- the untouched checkpoint restores ---
rm -f "$TMP"/res.* "$STOP"
check "the intact checkpoint restores" "$CRSHIM" restore -D "$TMP/ck-stop"
touch "$STOP"
check "the processes finish with their pool verified" bash -c "
	for r in 0 1; do
		for i in \$(seq 300); do [ -s '$TMP'/res.\$r ] && break; sleep 0.1; done
		grep -q '^OK' '$TMP'/res.\$r || exit 1
	done"
check "their output continued in the real file" grep -q 'soak_worker: OK' "$TMP/out/run.0.log"
check "the planted links' target is unchanged at the end" victim_intact
for p in $PIDS; do wait_gone "$p" 30; done
finish
