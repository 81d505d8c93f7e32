#!/bin/bash
# Issue 8, security between users (root; a user is created for the test
# with useradd and removed at the end):
#   control endpoint
#     - another user cannot reach a process's endpoint (its rundir is 0700,
#       the socket 0600), and `crshim status` run by that user refuses;
#     - with both opened up (0711 rundir, 0666 socket) the shim itself
#       refuses the user (SO_PEERCRED): the connection is closed without an
#       answer and the shim logs it; root is still answered;
#     - a user's shim makes its rundir /tmp/crshim-UID 0700 and its socket
#       0600, and refuses a rundir that belongs to someone else or is a
#       symbolic link (no endpoint, one warning);
#   recreated files
#     - a job whose unlinked pool belongs to that user (mode 0640) is
#       dumped and restored: the pool is back with its owner and mode;
#     - when CRIU can dump another user's processes here (CAP_SYS_RESOURCE),
#       a job of that user sharing a named pool (mode 0604) is dumped and
#       restored by root: it runs as the user, its pool is the user's, 0604;
#   foreign checkpoints
#     - root does not restore a checkpoint directory that another user owns,
#       or that other users can write, unless --allow-foreign-owner; with it,
#       the checkpoint restores;
#     - the same for one file in it that CRIU reads (a dumps/PID/ image
#       given to the user, or made group-writable), and for a manifest that
#       is a symbolic link: refused, naming the file.  (Skipped, saying so, by a crshim without
#       that option.)
set -u
. "$(dirname "$0")/lib.sh"
need_criu
command -v useradd >/dev/null && command -v setpriv >/dev/null || skip "useradd or setpriv missing"
for p in soak_worker soak_hammer soak_ctl pool_worker; do
	[ -x "$PROGS/$p" ] || { fail "$p not built"; finish; exit 1; }
done
U="crshimsec$$"
useradd -M -N -r -s /usr/sbin/nologin "$U" 2>/dev/null || { fail "useradd $U"; finish; exit 1; }
UU=$(id -u "$U")
UG=$(id -g "$U")
UDIR=$(mktemp -d /tmp/crshim-sec-u.XXXXXX)
trap 'cleanup; pkill -9 -u "$UU" 2>/dev/null; sleep 0.2; userdel "$U" 2>/dev/null; rm -rf "$UDIR" "/tmp/crshim-$UU"' EXIT
# The user's copies of the programs and of the shim (the build tree may not be reachable).
cp "$SHIM" "$PROGS/soak_worker" "$PROGS/soak_hammer" "$PROGS/soak_ctl" "$PROGS/pool_worker" "$UDIR/"
USHIM="$UDIR/$(basename "$SHIM")"
chown -R "$U:$UG" "$UDIR"
chmod 755 "$UDIR"
as_user() { setpriv --reuid="$UU" --regid="$UG" --clear-groups -- env -u CRSHIM_RUNDIR HOME="$UDIR" "$@"; }
# the same in the background, $! being the program's pid (setpriv and env exec it)
as_user_bg() { setpriv --reuid="$UU" --regid="$UG" --clear-groups -- env -u CRSHIM_RUNDIR HOME="$UDIR" "$@" & }
# crshim (root) finding a user's endpoint in its default rundir
crshim_u() { env -u CRSHIM_RUNDIR "$CRSHIM" "$@"; }

# ---- control endpoint ----
env LD_PRELOAD="$SHIM" CRSHIM_LOG=info CRSHIM_LOG_FILE="$TMP/root.log" "$PROGS/soak_hammer" 0 120 "$TMP/rstop" \
	</dev/null >"$TMP/root.out" 2>&1 &
R=$!
CLEANUP_PIDS="$CLEANUP_PIDS $R"
wait_files 10 "$TMP/root.out"
SOCK="$CRSHIM_RUNDIR/$R.sock"
check "root's process has its endpoint" test -S "$SOCK"
as_user "$UDIR/soak_ctl" once "$SOCK" PING >"$TMP/u.out" 2>&1
check "another user cannot reach the endpoint (exit $?: $(head -c 100 "$TMP/u.out"))" grep -q "Permission denied" "$TMP/u.out"
out=$(as_user env CRSHIM_RUNDIR="$CRSHIM_RUNDIR" "$CRSHIM" status "$R" 2>&1)
check "crshim status by another user refuses ($out)" grep -q "permission denied" <<<"$out"
chmod 0711 "$CRSHIM_RUNDIR"
chmod 0666 "$SOCK"
as_user "$UDIR/soak_ctl" once "$SOCK" PING >"$TMP/u.out" 2>&1
rc=$?
check "with the rundir and socket opened up, the shim closes the user's connection unanswered (exit $rc)" test $rc -eq 3
check "... and says so in its log" grep -q "refused a connection from another user" "$TMP/root.log"
check "root is still answered" bash -c "'$PROGS/soak_ctl' once '$SOCK' PING | grep -q '\"ok\":true'"
chmod 0700 "$CRSHIM_RUNDIR"
chmod 0600 "$SOCK"
touch "$TMP/rstop"
wait "$R"

# a user's own shim and rundir
as_user_bg env LD_PRELOAD="$USHIM" "$UDIR/soak_hammer" 0 120 "$UDIR/stop1" </dev/null >"$UDIR/u1.out" 2>&1
Q=$!
wait_files 10 "$UDIR/u1.out"
check "the user's rundir /tmp/crshim-$UU is 0700 and the user's" test "$(stat -c '%a %u' "/tmp/crshim-$UU")" = "700 $UU"
check "the user's socket is 0600" test "$(stat -c %a "/tmp/crshim-$UU/$Q.sock")" = 600
check "root can ask the user's process" bash -c "env -u CRSHIM_RUNDIR '$CRSHIM' status $Q | grep -q 'phase running'"
touch "$UDIR/stop1"
wait "$Q"
mkdir -m 0700 "$UDIR/rootdir"
as_user env LD_PRELOAD="$USHIM" CRSHIM_RUNDIR="$UDIR/rootdir" "$UDIR/soak_hammer" 0 1 "$UDIR/stop2" \
	</dev/null >"$UDIR/u2.out" 2>"$UDIR/u2.err"
check "a rundir that is not the user's: no endpoint, one warning" grep -q "no control endpoint" "$UDIR/u2.err"
mkdir -m 0700 "$UDIR/real"
chown "$U:$UG" "$UDIR/real"
ln -s "$UDIR/real" "$UDIR/link"
as_user env LD_PRELOAD="$USHIM" CRSHIM_RUNDIR="$UDIR/link" "$UDIR/soak_hammer" 0 1 "$UDIR/stop3" \
	</dev/null >"$UDIR/u3.out" 2>"$UDIR/u3.err"
check "a rundir that is a symbolic link: no endpoint, one warning" grep -q "is not a directory; no control endpoint" "$UDIR/u3.err"
check "... nothing was created through it" test -z "$(ls -A "$UDIR/real")"

# ---- owner and mode of the recreated pools ----
# A job of root whose unlinked pool belongs to the user (mode 0640), then,
# when CRIU may dump another user's processes here (it needs
# CAP_SYS_RESOURCE for their rlimits), a job of the user with a named pool.
name="crst-su-$$"
PIDS=""
for r in 0 1; do
	setsid env LD_PRELOAD="$SHIM" "$UDIR/soak_worker" "$name" "$r" 2 16 20 "$UDIR/stop" "$UDIR/res.$r" \
		</dev/null >"$UDIR/w.$r.out" 2>&1 &
	PIDS="$PIDS $!"
done
CLEANUP_PIDS="$CLEANUP_PIDS $PIDS"
for r in 0 1; do
	for _ in $(seq 300); do grep -q '^ready' "$UDIR/w.$r.out" 2>/dev/null && break; sleep 0.1; done
done
P0=${PIDS# }
P0=${P0%% *}
pool_fd() { # pid -> the fd of the unlinked pool (recreated unnamed: /dev/shm/#INO)
	local f
	for f in /proc/"$1"/fd/*; do
		case $(readlink "$f") in "/dev/shm/"*" (deleted)") basename "$f"; return ;; esac
	done
}
fd=$(pool_fd "$P0")
chown "$U:$UG" "/proc/$P0/fd/$fd"
chmod 0640 "/proc/$P0/fd/$fd"
check "a job whose unlinked pool belongs to the user, mode 0640" \
	test "$(stat -L -c '%u %g %a' "/proc/$P0/fd/$fd")" = "$UU $UG 640"
check "dump" "$CRSHIM" dump -D "$TMP/uck" $PIDS
for p in $PIDS; do wait_gone "$p" 20; done
rm -f "$UDIR"/res.*
if "$CRSHIM" restore -D "$TMP/uck"; then
	ok "restore"
	fd=$(pool_fd "$P0")
	check "the recreated pool belongs to the user, mode 0640 ($(stat -L -c '%U:%G %a' "/proc/$P0/fd/$fd" 2>/dev/null))" \
		test "$(stat -L -c '%u %g %a' "/proc/$P0/fd/$fd" 2>/dev/null)" = "$UU $UG 640"
else
	fail "restore (the recreated pool's owner and mode not checked)"
fi
touch "$UDIR/stop"
check "the job finishes with its pool verified" bash -c "
	for r in 0 1; do
		for i in \$(seq 300); do [ -s '$UDIR'/res.\$r ] && break; sleep 0.1; done
		grep -q '^OK' '$UDIR'/res.\$r || exit 1
	done"
for p in $PIDS; do wait_gone "$p" 30; done

capeff=$(awk '/^CapEff/ { print $2 }' /proc/self/status)
if [ $(((0x$capeff >> 24) & 1)) = 1 ]; then
	nname="crst-sun-$$"
	NP=""
	for r in 0 1; do
		as_user_bg setsid env LD_PRELOAD="$USHIM" "$UDIR/pool_worker" named "$nname" "$r" 2 8 150 20 "$UDIR/nres.$r" \
			</dev/null >/dev/null 2>&1
		NP="$NP $!"
	done
	CLEANUP_PIDS="$CLEANUP_PIDS $NP"
	sleep 1.2
	chmod 0604 "/dev/shm/$nname"
	check "root dumps a job of the user sharing a named pool" crshim_u dump -D "$TMP/unamed" $NP
	for p in $NP; do wait_gone "$p" 20; done
	rm -f "/dev/shm/$nname" "$UDIR"/nres.*
	check "root restores it" crshim_u restore -D "$TMP/unamed"
	check "the restored processes run as the user" test "$(stat -c %u "/proc/${NP%% *}" 2>/dev/null)" = "$UU"
	check "the named pool is back as the user's, mode 0604 ($(stat -c '%U %a' "/dev/shm/$nname" 2>/dev/null))" \
		test "$(stat -c '%u %a' "/dev/shm/$nname" 2>/dev/null)" = "$UU 604"
	check "the job finishes" bash -c "
		for r in 0 1; do
			for i in \$(seq 600); do [ -s '$UDIR'/nres.\$r ] && break; sleep 0.1; done
			grep -q '^OK' '$UDIR'/nres.\$r || exit 1
		done"
	for p in $NP; do wait_gone "$p" 30; done
	rm -f "/dev/shm/$nname"
else
	echo "# no CAP_SYS_RESOURCE here: CRIU cannot dump another user's processes (their rlimits); that part is not tested"
fi

# ---- checkpoints that someone else could have written ----
if "$CRSHIM" restore --help 2>&1 | grep -q -- --allow-foreign-owner; then
	cp -a "$TMP/uck" "$TMP/foreign"
	chown -R "$U:$UG" "$TMP/foreign"
	out=$(crshim_u restore -D "$TMP/foreign" 2>&1)
	rc=$?
	check "root refuses a checkpoint owned by another user (exit $rc)" test $rc -ne 0
	check "... saying whose it is and how to allow it" grep -q "belongs to uid $UU.*--allow-foreign-owner" <<<"$out"
	check "... and restored nothing" bash -c "! kill -0 $P0 2>/dev/null"
	cp -a "$TMP/uck" "$TMP/open"
	chmod 0777 "$TMP/open"
	out=$(crshim_u restore -D "$TMP/open" 2>&1)
	check "root refuses a checkpoint directory other users can write" grep -q "writable by other users" <<<"$out"
	img=$(cd "$TMP/uck" && ls dumps/*/core-*.img | head -1)
	cp -a "$TMP/uck" "$TMP/fimg"
	chown "$U:$UG" "$TMP/fimg/$img"
	expect_fail "root refuses a checkpoint with one image of the user's ($img)" \
		"$TMP/fimg/$img belongs to uid $UU.*--allow-foreign-owner" crshim_u restore -D "$TMP/fimg"
	cp -a "$TMP/uck" "$TMP/gimg"
	chmod g+w "$TMP/gimg/$img"
	expect_fail "root refuses a checkpoint with a group-writable image" \
		"$TMP/gimg/$img is writable by other users \(mode 0664\)" crshim_u restore -D "$TMP/gimg"
	cp -a "$TMP/uck" "$TMP/lman"
	mv "$TMP/lman/manifest.json" "$TMP/lman/manifest.real"
	ln -s manifest.real "$TMP/lman/manifest.json"
	expect_fail "root refuses a checkpoint whose manifest is a symbolic link" \
		"$TMP/lman/manifest.json is a symbolic link" crshim_u restore -D "$TMP/lman"
	check "... and restored nothing" bash -c "! kill -0 $P0 2>/dev/null"
	rm -f "$UDIR"/res.* "$UDIR/stop"
	check "with --allow-foreign-owner the foreign checkpoint restores" \
		crshim_u restore -D "$TMP/foreign" --allow-foreign-owner
	touch "$UDIR/stop"
	check "... and the job finishes" bash -c "
		for r in 0 1; do
			for i in \$(seq 300); do [ -s '$UDIR'/res.\$r ] && break; sleep 0.1; done
			grep -q '^OK' '$UDIR'/res.\$r || exit 1
		done"
	for p in $PIDS; do wait_gone "$p" 30; done
else
	echo "# this crshim has no --allow-foreign-owner: foreign checkpoints are restored without a check (not tested)"
fi
finish
