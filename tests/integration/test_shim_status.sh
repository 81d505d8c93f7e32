#!/usr/bin/env bash
# tests/integration/test_shim_status.sh BUILD_DIR
#
# Every resource kind the shim records, made by a real program
# (tests/progs/shim_resources) under LD_PRELOAD, against
# `crshim status --json` and /proc/PID/{maps,fd}:
#   shared file mappings (path, dev, ino, offset, length, protection),
#   pools (mapped then unlinked; held open then unlinked), POSIX shm (kept
#   and unlinked), memfds, SysV segments (key, id, size, IPC_RMID or not),
#   scratch files with each policy, shared anonymous memory, and what the
#   shim cannot see (made with raw system calls) listed as not seen;
# then the same after the program changes them (partial munmap, rename,
# mremap, close, shm_unlink, IPC_RMID, shmdt, munmap), the human form of
# `crshim status`, `--all`, a few edge cases (a mapping whose length is
# not a page multiple, an fd number reused behind the shim's back, an
# O_TMPFILE file), and more shared mappings than the registry's 1024
# objects (dropped, counted, and the rest listed as not seen).
# Last (tests/progs/status_files): sizes are those of now (scratch files
# grown by write, pwrite, fallocate after open), and the outputs and scratch
# files the hooks never saw (`> file`, `2>> file`, fopen) are listed from
# /proc as `crshim dump` would find them, in --json and in the text form.
set -u
. "$(dirname "$0")/test_shim_lib.sh"
shim_setup test_shim_status "${1:-}"
need_prog shim_resources

mkdir -p "$WORK/s1" "$WORK/s2" "$WORK/s3"
prog_start res CRSHIM_SCRATCH="$WORK/s1:drop,$WORK/s2:keep,$WORK/s3:save" LD_PRELOAD="$SHIMLIB" -- \
	"$PROGS/shim_resources" -u -s "$WORK/s1" -s "$WORK/s2" -s "$WORK/s3" "$WORK"
if ! wait_line "$WORK/res.out" '^ready' 10; then
	notok "shim_resources did not get ready: $(head -c 300 "$WORK/res.err")"
	shim_finish
fi
PID=$(prog_pid res)
OUT=$WORK/res.out
F=$WORK/st1
status_flat "$PID" "$F"
check "crshim status --json PID exits 0" test $? -eq 0

# rline KIND [THREAD [NTH]]: the NTH (1-based) "R KIND THREAD ..." line
rline() {
	awk -v k="$1" -v t="${2:-0}" -v n="${3:-1}" '$1 == "R" && $2 == k && $3 == t && ++c == n' "$OUT"
}
hexadd() { printf '0x%x' $(($1 + $2)); }
page_up() { echo $((($1 + 4095) / 4096 * 4096)); }

# the object (index in objects[]) matching conditions; exactly one expected
one_obj() {
	local ids
	ids=$(jfind "$F" objects "$@")
	[ "$(printf '%s\n' "$ids" | grep -c .)" -eq 1 ] && echo "$ids"
}
obj_has_fd() { grep -qE "^objects\.$2\.fds\.[0-9]+=$3$" "$1"; }
map_at() { jfind "$F" mappings "start=$1"; }

# check_mapping WHAT ADDR LEN OFF PROT OBJIDX INO: the recorded mapping at
# ADDR and the /proc lines that cover it.
check_mapping() {
	local what=$1 addr=$2 len=$3 off=$4 prot=$5 oi=$6 ino=$7 m end inos
	m=$(map_at "$addr")
	if [ -z "$m" ]; then
		notok "$what: a mapping is recorded at $addr"
		return
	fi
	end=$(hexadd "$addr" "$(page_up "$len")")
	expect_eq "$what: mapping end is start + length rounded to pages" "$end" "$(jget "$F" "mappings.$m.end")"
	expect_eq "$what: mapping offset" "$off" "$(jget "$F" "mappings.$m.offset")"
	expect_eq "$what: mapping protection" "$prot" "$(jget "$F" "mappings.$m.prot")"
	expect_eq "$what: mapping refers to its object" "$(jget "$F" "objects.$oi.id")" "$(jget "$F" "mappings.$m.object")"
	expect_eq "$what: mapping verified against /proc" true "$(jget "$F" "mappings.$m.verified")"
	inos=$(proc_cover "$PID" "$addr" "$end" | sort -u)
	if [ -z "$inos" ]; then
		notok "$what: /proc/$PID/maps has exactly [$addr, $end)"
	elif [ "$ino" != "-" ]; then
		expect_eq "$what: /proc/$PID/maps shows that range with the object's inode" "$ino" "$inos"
	else
		ok "$what: /proc/$PID/maps has exactly [$addr, $end)"
	fi
}

# ---- each kind ------------------------------------------------------------------------------
read -r _ _ _ path addr len off prot fd dev ino _ _ <<<"$(rline file)"
o=$(one_obj kind=file "path=$path" "dev=$dev" "ino=$ino")
if [ -n "$o" ]; then
	ok "file: one object with the path, dev and inode of $path"
	expect_eq "file: shared_map" true "$(jget "$F" "objects.$o.shared_map")"
	expect_eq "file: not unlinked" false "$(jget "$F" "objects.$o.unlinked")"
	expect_eq "file: opened for writing" true "$(jget "$F" "objects.$o.write")"
	expect_eq "file: size is the ftruncate'd size" 12288 "$(jget "$F" "objects.$o.size")"
	check "file: its fd $fd is listed" obj_has_fd "$F" "$o" "$fd"
	expect_eq "file: fds verified against /proc/PID/fd" true "$(jget "$F" "objects.$o.verified")"
	check_mapping "file rw" "$addr" "$len" "$off" "$prot" "$o" "$ino"
	read -r _ _ _ _ addr len off prot _ _ _ _ _ <<<"$(rline file-ro)"
	check_mapping "file r--" "$addr" "$len" "$off" "$prot" "$o" "$ino"
else
	notok "file: one object with the path, dev and inode of $path"
fi

read -r _ _ _ path addr len off prot fd dev ino _ _ <<<"$(rline poolmap)"
o=$(one_obj kind=file "path=$path" "ino=$ino")
if [ -n "$o" ]; then
	ok "pool (mapped, unlinked): object keeps the original name $path"
	expect_eq "pool (mapped): unlinked" true "$(jget "$F" "objects.$o.unlinked")"
	expect_eq "pool (mapped): shared_map" true "$(jget "$F" "objects.$o.shared_map")"
	expect_eq "pool (mapped): no fd left" 0 "$(jget "$F" "objects.$o.fds.#")"
	check_mapping "pool (mapped)" "$addr" "$len" "$off" "$prot" "$o" "$ino"
	check "pool (mapped): /proc shows it deleted" grep -qF "$path (deleted)" "/proc/$PID/maps"
else
	notok "pool (mapped, unlinked): object keeps the original name $path"
fi

read -r _ _ _ path _ _ _ _ fd dev ino _ _ <<<"$(rline poolfd)"
o=$(one_obj kind=file "path=$path" "ino=$ino")
if [ -n "$o" ]; then
	ok "pool (held open, unlinked): object keeps the original name $path"
	expect_eq "pool (held open): unlinked" true "$(jget "$F" "objects.$o.unlinked")"
	expect_eq "pool (held open): not mapped" false "$(jget "$F" "objects.$o.shared_map")"
	check "pool (held open): fd $fd listed" obj_has_fd "$F" "$o" "$fd"
	expect_eq "pool (held open): verified" true "$(jget "$F" "objects.$o.verified")"
	expect_eq "pool (held open): /proc/PID/fd/$fd is the deleted file" "$path (deleted)" \
		"$(readlink "/proc/$PID/fd/$fd")"
else
	notok "pool (held open, unlinked): object keeps the original name $path"
fi

for kind in shm shmgone; do
	read -r _ _ _ path addr len off prot fd dev ino _ _ <<<"$(rline $kind)"
	o=$(one_obj kind=posix_shm "path=$path" "ino=$ino")
	if [ -z "$o" ]; then
		notok "posix shm ($kind): one object $path with its inode"
		continue
	fi
	ok "posix shm ($kind): one object $path with its inode"
	if [ $kind = shm ]; then
		expect_eq "posix shm: kept name is not unlinked" false "$(jget "$F" "objects.$o.unlinked")"
		check "posix shm: fd $fd listed" obj_has_fd "$F" "$o" "$fd"
		expect_eq "posix shm: verified" true "$(jget "$F" "objects.$o.verified")"
		check "posix shm: the name exists" test -e "$path"
	else
		expect_eq "posix shm: shm_unlink'ed name is unlinked" true "$(jget "$F" "objects.$o.unlinked")"
		check "posix shm: the name is really gone" test ! -e "$path"
	fi
	check_mapping "posix shm ($kind)" "$addr" "$len" "$off" "$prot" "$o" "$ino"
done

read -r _ _ _ path addr len off prot fd dev ino _ _ <<<"$(rline memfd)"
o=$(one_obj kind=memfd "path=$path" "ino=$ino")
if [ -n "$o" ]; then
	ok "memfd: one object $path"
	expect_eq "memfd: unlinked (memfds have no name)" true "$(jget "$F" "objects.$o.unlinked")"
	check "memfd: fd $fd listed" obj_has_fd "$F" "$o" "$fd"
	expect_eq "memfd: verified" true "$(jget "$F" "objects.$o.verified")"
	check_mapping "memfd" "$addr" "$len" "$off" "$prot" "$o" "$ino"
else
	notok "memfd: one object $path"
fi

for kind in sysv sysvrmid; do
	read -r _ _ _ path addr len off prot _ _ _ key id <<<"$(rline $kind)"
	o=$(one_obj kind=sysv "sysv_id=$id")
	if [ -z "$o" ]; then
		notok "sysv ($kind): one object with id $id"
		continue
	fi
	ok "sysv ($kind): one object with id $id"
	expect_eq "sysv ($kind): key" "$key" "$(jget "$F" "objects.$o.sysv_key")"
	expect_eq "sysv ($kind): size as asked (not rounded)" "$len" "$(jget "$F" "objects.$o.size")"
	expect_eq "sysv ($kind): path is the /proc name" "$path" "$(jget "$F" "objects.$o.path")"
	if [ $kind = sysv ]; then
		expect_eq "sysv: no IPC_RMID" false "$(jget "$F" "objects.$o.sysv_rmid")"
		check "sysv: /proc/sysvipc/shm has key $key id $id size $len" \
			awk -v k="$key" -v i="$id" -v s="$len" '$1 == k && $2 == i && $4 == s { f = 1 } END { exit !f }' /proc/sysvipc/shm
	else
		expect_eq "sysv: IPC_RMID set" true "$(jget "$F" "objects.$o.sysv_rmid")"
		check "sysv: /proc/sysvipc/shm shows id $id as removed (key 0 after IPC_RMID)" \
			awk -v i="$id" '$2 == i && $1 == 0 { f = 1 } END { exit !f }' /proc/sysvipc/shm
	fi
	# /proc/PID/maps shows a SysV attachment with the shmid as inode
	check_mapping "sysv ($kind)" "$addr" "$len" "$off" "$prot" "$o" "$id"
done

for pol in drop keep save; do
	case $pol in drop) d=s1 ;; keep) d=s2 ;; save) d=s3 ;; esac
	path=$WORK/$d/scratch-0
	fd=$(awk -v p="$path" '$1 == "R" && $2 == "scratch" && $4 == p { print $9 }' "$OUT")
	o=$(one_obj kind=file "path=$path")
	if [ -n "$o" ]; then
		expect_eq "scratch file in a '$pol' dir has policy $pol" "$pol" "$(jget "$F" "objects.$o.scratch")"
		check "scratch ($pol): fd $fd listed" obj_has_fd "$F" "$o" "$fd"
	else
		notok "scratch file $path is recorded"
	fi
done
expect_eq "the scratch dirs are in config" "$WORK/s1:drop $WORK/s2:keep $WORK/s3:save" \
	"$(for i in 0 1 2; do printf '%s:%s ' "$(jget "$F" config.scratch.$i.dir)" "$(jget "$F" config.scratch.$i.policy)"; done | sed 's/ $//')"
o=$(one_obj kind=file "path=$WORK/file-0")
check "a file outside every scratch dir has no scratch policy" test -n "$o" -a -z "$(jget "$F" "objects.$o.scratch")"

read -r _ _ _ _ addr len off prot _ _ _ _ _ <<<"$(rline anon)"
m=$(map_at "$addr")
if [ -n "$m" ]; then
	oid=$(jget "$F" "mappings.$m.object")
	o=$(jfind "$F" objects "id=$oid")
	expect_eq "shared anonymous: object kind" anon_shared "$(jget "$F" "objects.$o.kind")"
	check_mapping "shared anonymous" "$addr" "$len" "$off" "$prot" "$o" -
else
	notok "shared anonymous: a mapping is recorded at $addr"
fi

# ---- what the shim did not see ---------------------------------------------------------------
read -r _ _ _ path addr len _ _ _ _ _ _ _ <<<"$(rline unseen-map)"
check "raw-syscall mapping: not in mappings[]" test -z "$(map_at "$addr")"
u=$(jfind "$F" proc.unrecorded_mappings "start=$addr")
if [ -n "$u" ]; then
	ok "raw-syscall mapping: listed in proc.unrecorded_mappings"
	expect_eq "raw-syscall mapping: its path" "$path" "$(jget "$F" "proc.unrecorded_mappings.$u.path")"
	expect_eq "raw-syscall mapping: its end" "$(hexadd "$addr" "$len")" "$(jget "$F" "proc.unrecorded_mappings.$u.end")"
	expect_eq "raw-syscall mapping: marked seen_by_shim false" false "$(jget "$F" "proc.unrecorded_mappings.$u.seen_by_shim")"
else
	notok "raw-syscall mapping: listed in proc.unrecorded_mappings"
fi
read -r _ _ _ path _ _ _ _ fd _ _ _ _ <<<"$(rline unseen-fd)"
u=$(jfind "$F" proc.unrecorded_fds "fd=$fd")
if [ -n "$u" ]; then
	ok "raw-syscall unlinked fd: listed in proc.unrecorded_fds"
	expect_eq "raw-syscall unlinked fd: path (its name before unlink)" "$path" "$(jget "$F" "proc.unrecorded_fds.$u.path")"
	expect_eq "raw-syscall unlinked fd: seen_by_shim false" false "$(jget "$F" "proc.unrecorded_fds.$u.seen_by_shim")"
else
	notok "raw-syscall unlinked fd: listed in proc.unrecorded_fds"
fi

# ---- whole-record consistency ------------------------------------------------------------------
expect_eq "nothing dropped" 0 "$(jget "$F" registry.dropped)"
expect_eq "registry.objects counts objects[]" "$(jget "$F" objects.#)" "$(jget "$F" registry.objects)"
expect_eq "registry.mappings counts mappings[]" "$(jget "$F" mappings.#)" "$(jget "$F" registry.mappings)"
expect_eq "every recorded mapping is verified" "" "$(jfind "$F" mappings verified=false | tr '\n' ' ')"
expect_eq "no object's fds contradict /proc" "" "$(jfind "$F" objects verified=false | tr '\n' ' ')"
# Every shared mapping of ours in /proc is recorded, but the raw one.
unseen_addr=$(rline unseen-map | awk '{print $5}')
missing=""
while read -r range perms _ _ _ p _; do
	[ "${perms:3:1}" = s ] || continue
	case "$p" in "$WORK"/* | /dev/shm/crs-* | /memfd:crs-* | /SYSV43* | /dev/zero) ;; *) continue ;; esac
	start=0x${range%-*}
	[ $((start)) -eq $((unseen_addr)) ] && continue
	[ -n "$(map_at "$(printf '0x%x' $((start)))")" ] || missing="$missing $range:$p"
done <"/proc/$PID/maps"
expect_eq "every shared mapping of the program in /proc/PID/maps is recorded (but the raw one)" "" "$missing"
expect_eq "proc.unrecorded_mappings lists nothing of ours but the raw mapping" "$unseen_addr" \
	"$(jcol "$F" proc.unrecorded_mappings start | while read -r s; do
		case "$(jget "$F" "proc.unrecorded_mappings.$(jfind "$F" proc.unrecorded_mappings "start=$s").path")" in
		"$WORK"/* | /dev/shm/crs-* | /memfd:crs-* | /SYSV43* | /dev/zero) echo "$s" ;;
		esac
	done | tr '\n' ' ' | sed 's/ $//')"

# ---- the human form, --all ---------------------------------------------------------------------
"$CRSHIM" status "$PID" >"$WORK/human" 2>"$WORK/human.err"
check "crshim status PID exits 0" test $? -eq 0
for h in "pools:" "posix shm:" "memfds:" "sysv segments:" "shared anonymous:" "scratch files:" \
	"shared mappings:" "not seen by the shim"; do
	check "human status has the section '$h'" grep -qF "$h" "$WORK/human"
done
key=$(rline sysvrmid | awk '{print $12}')
check "human status shows the IPC_RMID segment as such" \
	grep -qE "key $(printf '0x%08x' "$key") id [0-9]+ .*IPC_RMID set" "$WORK/human"
check "human status shows the mapped pool as unlinked" grep -qF "$WORK/poolmap-0 (unlinked)" "$WORK/human"
check "human status shows a scratch policy" grep -qE "$WORK/s2/scratch-0 .*policy keep" "$WORK/human"
check "human status lists the raw mapping under 'not seen'" \
	awk -v p="$WORK/unseen-map" '/not seen by the shim/ { s = 1 } s && index($0, p) { f = 1 } END { exit !f }' "$WORK/human"
"$CRSHIM" status --all >"$WORK/all" 2>&1
check "crshim status --all (CRSHIM_RUNDIR set) lists the process" grep -qE "^pid $PID " "$WORK/all"

# ---- after changes ---------------------------------------------------------------------------------
prog_send res phase2
if ! wait_line "$OUT" '^ready2' 10; then
	notok "phase2 did not complete: $(tail -c 300 "$WORK/res.err")"
	shim_finish
fi
F=$WORK/st2
status_flat "$PID" "$F"
read -r _ _ _ _ faddr _ _ _ _ _ _ _ _ <<<"$(rline file)"
read -r _ _ newpath naddr _ noff <<<"$(grep '^M file ' "$OUT")"
o=$(one_obj kind=file "ino=$(rline file | awk '{print $11}')")
expect_eq "rename: the object's path follows the file" "$newpath" "$(jget "$F" "objects.$o.path")"
check "partial munmap: nothing recorded at the unmapped page" test -z "$(map_at "$faddr")"
m=$(map_at "$naddr")
if [ -n "$m" ]; then
	expect_eq "partial munmap: the rest starts at page 2 with offset 8192" \
		"$noff $(hexadd "$naddr" 4096)" "$(jget "$F" "mappings.$m.offset") $(jget "$F" "mappings.$m.end")"
else
	notok "partial munmap: the remaining page at $naddr is still recorded"
fi
read -r _ _ aaddr alen <<<"$(grep '^M anon ' "$OUT")"
oldanon=$(rline anon | awk '{print $5}')
m=$(map_at "$aaddr")
if [ -n "$m" ]; then
	expect_eq "mremap: the grown mapping is recorded at its new place and size" "$(hexadd "$aaddr" "$alen")" \
		"$(jget "$F" "mappings.$m.end")"
	check "mremap: /proc agrees" test -n "$(proc_cover "$PID" "$aaddr" "$(hexadd "$aaddr" "$alen")")"
else
	notok "mremap: the grown mapping is recorded at $aaddr"
fi
if [ $((aaddr)) -ne $((oldanon)) ]; then
	check "mremap: nothing left at the old address" test -z "$(map_at "$oldanon")"
fi
check "close: the held-open pool is forgotten" test -z "$(jfind "$F" objects "path=$WORK/poolfd-0")"
o=$(one_obj kind=posix_shm "path=/dev/shm/crs-res-$PID-0")
expect_eq "shm_unlink: the kept shm object is now unlinked" true "$(jget "$F" "objects.$o.unlinked")"
read -r _ _ _ _ saddr _ _ _ _ _ _ _ sid <<<"$(rline sysv)"
o=$(one_obj kind=sysv "sysv_id=$sid")
expect_eq "IPC_RMID on an attached segment: sysv_rmid now true" true "$(jget "$F" "objects.$o.sysv_rmid")"
check "IPC_RMID on an attached segment: still mapped" test -n "$(map_at "$saddr")"
read -r _ _ _ _ raddr _ _ _ _ _ _ _ rid <<<"$(rline sysvrmid)"
check "shmdt of the removed segment: object forgotten" test -z "$(jfind "$F" objects kind=sysv "sysv_id=$rid")"
check "shmdt of the removed segment: mapping forgotten" test -z "$(map_at "$raddr")"
read -r _ _ _ mpath maddr _ _ _ mfd _ _ _ _ <<<"$(rline memfd)"
check "munmap of the memfd: mapping forgotten" test -z "$(map_at "$maddr")"
o=$(one_obj kind=memfd "path=$mpath")
check "munmap of the memfd: object kept for its fd" test -n "$o" && obj_has_fd "$F" "$o" "$mfd"
expect_eq "after changes: every recorded mapping verified" "" "$(jfind "$F" mappings verified=false | tr '\n' ' ')"
expect_eq "after changes: nothing dropped" 0 "$(jget "$F" registry.dropped)"

prog_stop res
check "the program exits 0" test $? -eq 0
check "its endpoint is gone after a normal exit" test ! -e "$RUNDIR/$PID.sock"

# ---- edge cases (a second program, so the checks above stay about the plain kinds) ----
mkdir "$WORK/edge"
prog_start edge LD_PRELOAD="$SHIMLIB" -- "$PROGS/shim_resources" -e "$WORK/edge"
if ! wait_line "$WORK/edge.out" '^ready' 10; then
	notok "shim_resources -e did not get ready: $(head -c 300 "$WORK/edge.err")"
	shim_finish
fi
PID=$(prog_pid edge)
OUT=$WORK/edge.out
F=$WORK/st3
status_flat "$PID" "$F"
read -r _ _ _ path addr len off prot fd dev ino _ _ <<<"$(rline odd)"
o=$(one_obj kind=file "path=$path")
if [ -n "$o" ]; then
	# mmap(5000 bytes) maps 2 pages: the recorded extent must be what /proc shows
	check_mapping "5000-byte mapping" "$addr" "$len" "$off" "$prot" "$o" "$ino"
else
	notok "5000-byte mapping: its file is recorded"
fi
# fd N opened (recorded), closed by fclose() (libc's internal close), then
# N is another file (opened read-only: not recorded) that gets mapped.
read -r _ _ _ path addr len off prot fd dev ino _ _ <<<"$(rline reuse)"
m=$(map_at "$addr")
if [ -n "$m" ]; then
	oi=$(jfind "$F" objects "id=$(jget "$F" "mappings.$m.object")")
	expect_eq "fd reused after fclose(): the mapping is recorded as the file really mapped (inode)" \
		"$ino" "$(jget "$F" "objects.$oi.ino")"
	expect_eq "fd reused after fclose(): ... and its path" "$path" "$(jget "$F" "objects.$oi.path")"
	# Whatever was recorded, status must not call a mapping verified when /proc
	# shows another inode there than the mapping's object has.
	pino=$(proc_cover "$PID" "$addr" "$(jget "$F" "mappings.$m.end")" | sort -u)
	if [ "$pino" != "$(jget "$F" "objects.$oi.ino")" ]; then
		expect_eq "fd reused after fclose(): a mapping whose object's inode differs from /proc's is not verified" \
			false "$(jget "$F" "mappings.$m.verified")"
	else
		ok "fd reused after fclose(): recorded inode and /proc agree"
	fi
else
	notok "fd reused after fclose(): a mapping is recorded at $addr"
fi
tmpl=$(rline tmpfile)
if [ -n "$tmpl" ]; then
	read -r _ _ _ path addr len off prot fd dev ino _ _ <<<"$tmpl"
	o=$(one_obj kind=file "ino=$ino")
	if [ -n "$o" ]; then
		expect_eq "O_TMPFILE file (never had a name): unlinked" true "$(jget "$F" "objects.$o.unlinked")"
		check "O_TMPFILE file: recorded path is not the bare directory $path" \
			test "$(jget "$F" "objects.$o.path")" != "$path"
		check_mapping "O_TMPFILE file" "$addr" "$len" "$off" "$prot" "$o" "$ino"
	else
		notok "O_TMPFILE file: recorded"
	fi
else
	echo "# O_TMPFILE not supported in $WORK/edge: not checked"
fi
prog_stop edge
check "the edge-case program exits 0" test $? -eq 0

# ---- more than the registry holds (1024 objects): dropped, counted, still visible ----
mkdir "$WORK/over"
prog_start over LD_PRELOAD="$SHIMLIB" -- "$PROGS/shim_resources" -c 2200 -K "$WORK/over"
if wait_line "$WORK/over.out" '^ready' 30; then
	PID=$(prog_pid over)
	F=$WORK/st4
	status_flat "$PID" "$F"
	check "overflow: status still answers" test $? -eq 0
	dobj=$(jget "$F" registry.dropped_objects)
	check "overflow: dropped objects are counted ($dobj)" test "${dobj:-0}" -gt 0
	expect_eq "overflow: dropped = dropped_objects + dropped_mappings + dropped_fds" \
		"$(jget "$F" registry.dropped)" \
		"$(($(jget "$F" registry.dropped_objects) + $(jget "$F" registry.dropped_mappings) + $(jget "$F" registry.dropped_fds)))"
	check "overflow: no more than 1024 objects" test "$(jget "$F" registry.objects)" -le 1024
	"$CRSHIM" status "$PID" >"$WORK/over.human"
	check "overflow: the human status shows the dropped count" \
		grep -qE "registry: .* $(jget "$F" registry.dropped) dropped" "$WORK/over.human"
	nanon=$(($(grep -c '^R keep ' "$WORK/over.out") + 1))
	rec=$(jfind "$F" objects kind=anon_shared | grep -c .)
	unrec=$(grep -cE '^proc\.unrecorded_mappings\.[0-9]+\.path=/dev/zero$' "$F")
	expect_eq "overflow: every shared anonymous mapping is recorded or listed as not seen ($rec + $unrec)" \
		"$nanon" "$((rec + unrec))"
	prog_stop over
else
	notok "overflow: the program did not get ready: $(head -c 300 "$WORK/over.err")"
fi
# ---- current sizes, and outputs the hooks never saw (status_files) ----
# stdout from the shell with `>`, stderr with `>>` (bash execs the program:
# the shim of the program never saw either open), logs opened by fopen, one
# by open(2); scratch files grown by write, pwrite and fallocate after open.
if [ -x "$PROGS/status_files" ]; then
	mkdir -p "$WORK/sf" "$WORK/sfs"
	echo "an earlier run" >"$WORK/sf-app.log"
	prog_start sf CRSHIM_SCRATCH="$WORK/sfs:drop" LD_PRELOAD="$SHIMLIB" SF_LOG="$WORK/sf-app.log" -- \
		bash -c 'exec "$0" "$@" 2>>"$SF_LOG"' "$PROGS/status_files" "$WORK/sfs" "$WORK/sf"
	if wait_line "$WORK/sf.out" '^ready' 10; then
		PID=$(prog_pid sf)
		F=$WORK/st5
		status_flat "$PID" "$F"
		check "status_files: crshim status --json exits 0" test $? -eq 0
		fsize() { stat -c %s "$1"; }
		sfd() { awk -v n="$1" '$1 == "F" && $2 == n { print $4 }' "$WORK/sf.out"; }
		for n in grow-write grow-pwrite grow-falloc; do
			o=$(one_obj kind=file "path=$WORK/sfs/$n")
			if [ -n "$o" ]; then
				expect_eq "scratch $n: policy drop" drop "$(jget "$F" "objects.$o.scratch")"
				expect_eq "scratch $n: size is the size now, not the size at open" \
					"$(fsize "$WORK/sfs/$n")" "$(jget "$F" "objects.$o.size")"
			else
				notok "scratch $n: recorded"
			fi
		done
		expect_eq "scratch grown by write(2) only: 1 MiB + 123" 1048699 \
			"$(jget "$F" "objects.$(one_obj kind=file "path=$WORK/sfs/grow-write").size")"
		u=$(jfind "$F" proc.unrecorded_scratch "path=$WORK/sfs/fopen-scratch")
		if [ -n "$u" ]; then
			expect_eq "fopen'ed scratch: policy" drop "$(jget "$F" "proc.unrecorded_scratch.$u.scratch")"
			expect_eq "fopen'ed scratch: size" 777 "$(jget "$F" "proc.unrecorded_scratch.$u.size")"
			expect_eq "fopen'ed scratch: seen_by_shim false" false \
				"$(jget "$F" "proc.unrecorded_scratch.$u.seen_by_shim")"
		else
			notok "fopen'ed scratch file: listed in proc.unrecorded_scratch"
		fi
		# check_unout WHAT PATH FD APPEND
		check_unout() {
			local u
			u=$(jfind "$F" proc.unrecorded_outputs "path=$2")
			if [ -z "$u" ] || [ "$(printf '%s\n' "$u" | grep -c .)" -ne 1 ]; then
				notok "$1: listed once in proc.unrecorded_outputs"
				return
			fi
			ok "$1: listed once in proc.unrecorded_outputs"
			expect_eq "$1: its size" "$(fsize "$2")" "$(jget "$F" "proc.unrecorded_outputs.$u.size")"
			expect_eq "$1: its fd" "$3" "$(jget "$F" "proc.unrecorded_outputs.$u.fds.0")"
			expect_eq "$1: append" "$4" "$(jget "$F" "proc.unrecorded_outputs.$u.append")"
			expect_eq "$1: seen_by_shim false" false "$(jget "$F" "proc.unrecorded_outputs.$u.seen_by_shim")"
			expect_eq "$1: its inode" "$(stat -c %i "$2")" "$(jget "$F" "proc.unrecorded_outputs.$u.ino")"
		}
		check_unout "stdout from '> file'" "$WORK/sf.out" 1 false
		check_unout "stderr from '>> file'" "$WORK/sf-app.log" 2 true
		check_unout "fopen(\"w\") log" "$WORK/sf/fopen.log" "$(sfd fopen.log)" false
		check_unout "fopen(\"a\") log" "$WORK/sf/fopen-app.log" "$(sfd fopen-app.log)" true
		check "a file written then rewound is not an output" \
			test -z "$(jfind "$F" proc.unrecorded_outputs "path=$WORK/sf/fopen-seek.dat")"
		o=$(one_obj kind=file "path=$WORK/sf/open.log")
		if [ -n "$o" ]; then
			expect_eq "O_WRONLY log the shim saw: marked output" true "$(jget "$F" "objects.$o.output")"
			expect_eq "O_WRONLY log the shim saw: its size" 100 "$(jget "$F" "objects.$o.size")"
			check "O_WRONLY log the shim saw: not listed again from /proc" \
				test -z "$(jfind "$F" proc.unrecorded_outputs "path=$WORK/sf/open.log")"
		else
			notok "O_WRONLY log opened with open(2): recorded"
		fi
		dup=""
		for ino in $(jcol "$F" proc.unrecorded_outputs ino) $(jcol "$F" proc.unrecorded_scratch ino); do
			[ -n "$(jfind "$F" objects "ino=$ino")" ] && dup="$dup $ino"
		done
		expect_eq "nothing from /proc duplicates a recorded object" "" "$dup"

		"$CRSHIM" status "$PID" >"$WORK/sf.human" 2>&1
		check "status_files: crshim status exits 0" test $? -eq 0
		# in_section HEADING REGEX: a line under HEADING (up to the next heading) matches
		in_section() {
			awk -v h="  $1:" -v re="$2" '/^  [a-z]/ { s = ($0 == h) } s && $0 ~ re { f = 1 } END { exit !f }' \
				"$WORK/sf.human"
		}
		check "human: stdout file under outputs with its size, not seen by the shim" in_section outputs \
			"^    $WORK/sf.out  $(fsize "$WORK/sf.out") B .*fds \\[1\\]  \\[not seen by the shim\\]"
		check "human: '>>' file under outputs, append" in_section outputs \
			"^    $WORK/sf-app.log  $(fsize "$WORK/sf-app.log") B .* append  fds \\[2\\]"
		check "human: the log the shim saw under outputs" in_section outputs "^    $WORK/sf/open.log  100 B "
		check "human: grown scratch file with its size now" in_section "scratch files" \
			"^    $WORK/sfs/grow-write  1\\.0 MiB .*policy drop"
		check "human: fopen'ed scratch file, not seen by the shim" in_section "scratch files" \
			"^    $WORK/sfs/fopen-scratch  777 B .*policy drop .*\\[not seen by the shim\\]"
		missing=""
		for p in $(jcol "$F" proc.unrecorded_outputs path); do
			in_section outputs "^    $p  " || missing="$missing $p"
		done
		expect_eq "human and --json list the same outputs from /proc" "" "$missing"

		prog_send sf grow
		if wait_line "$WORK/sf.out" '^ready2' 10; then
			F=$WORK/st6
			status_flat "$PID" "$F"
			expect_eq "after more write(2): the scratch size follows" 1114235 \
				"$(jget "$F" "objects.$(one_obj kind=file "path=$WORK/sfs/grow-write").size")"
			check_unout "fopen(\"w\") log, grown" "$WORK/sf/fopen.log" "$(sfd fopen.log)" false
			expect_eq "fopen(\"w\") log: 350 bytes now" 350 \
				"$(jget "$F" "proc.unrecorded_outputs.$(jfind "$F" proc.unrecorded_outputs "path=$WORK/sf/fopen.log").size")"
			check_unout "stdout from '> file', grown" "$WORK/sf.out" 1 false
		else
			notok "status_files: grow did not complete: $(tail -c 300 "$WORK/sf-app.log")"
		fi
		prog_stop sf
		check "status_files exits 0" test $? -eq 0
	else
		notok "status_files did not get ready: $(tail -c 300 "$WORK/sf-app.log")"
	fi
else
	notok "tests/progs/status_files is built"
fi
shim_finish
