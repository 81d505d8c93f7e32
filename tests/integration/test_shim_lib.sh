#!/usr/bin/env bash
# tests/integration/test_shim_lib.sh BUILD_DIR
#
# Shared helpers of the test_shim_*.sh tests (they source this file), and,
# run on its own (as ctest does), a test of the process record format: a
# program under the shim is asked for `crshim status --json` and every key
# include/crshim_manifest.h documents for a process record must be there
# with a value of the right shape.
#
# Helpers (bash, set -u; no python, no jq: JSON is flattened with awk):
#   shim_setup NAME BUILD_DIR   checks the build, makes $WORK (private tmp
#                               dir) and $RUNDIR (exported as CRSHIM_RUNDIR,
#                               mode 0700), installs the EXIT trap
#   ok / notok MESSAGE          one line per assertion
#   check MESSAGE CMD...        ok if CMD succeeds
#   expect_eq MESSAGE WANT GOT
#   shim_finish                 prints the totals, exits 0 or 1
#   prog_start NAME [ENV=V...] -- CMD...   starts CMD in the background with
#                               stdin from a fifo the test holds open;
#                               stdout $WORK/NAME.out, stderr $WORK/NAME.err
#   prog_send NAME LINE         writes one command line to its stdin
#   prog_stop NAME              closes its stdin, waits (5 s) then kills
#   prog_pid NAME               its pid
#   wait_line FILE REGEX [SEC]  waits until a line of FILE matches
#   status_flat PID OUT         `crshim status --json PID`, flattened into
#                               OUT (one "path=value" line per scalar, the
#                               "processes.0." prefix removed; arrays also
#                               get "path.#=COUNT"); returns crshim's status
#   jget FLAT PATH              the value at PATH (empty if none)
#   jfind FLAT ARRAY K=V...     indices of ARRAY's elements having every K=V
#   proc_cover PID START END    prints the inode(s) of the /proc/PID/maps
#                               lines that exactly tile [START, END); fails
#                               if they do not

set -u

SHIM_PASS=0
SHIM_FAIL=0
SHIM_PIDS=()
declare -A SHIM_FD=() SHIM_PID=()

ok() { SHIM_PASS=$((SHIM_PASS + 1)); printf 'ok - %s\n' "$*"; }
notok() { SHIM_FAIL=$((SHIM_FAIL + 1)); printf 'FAIL - %s\n' "$*"; }
check() {
	local msg=$1
	shift
	if "$@"; then ok "$msg"; else notok "$msg"; fi
}
expect_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else notok "$1 (want '$2', got '$3')"; fi
}

shim_finish() {
	echo "$SHIM_PASS passed, $SHIM_FAIL failed"
	[ "$SHIM_FAIL" -eq 0 ] && exit 0
	exit 1
}

# Kill whatever the test started, remove names and SysV segments its
# programs made (read back from their "R" lines), then the work dir.
shim_cleanup() {
	local p name f id
	for name in "${!SHIM_FD[@]}"; do
		eval "exec ${SHIM_FD[$name]}>&-" 2>/dev/null
	done
	for p in "${SHIM_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	sleep 0.2
	for p in "${SHIM_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
		for f in "$WORK"/*.out; do
			[ -f "$f" ] || continue
			awk '$1 == "R" && $13 != "-" { print $13 }' "$f" | while read -r id; do
				ipcrm -m "$id" 2>/dev/null
			done
			awk '$1 == "R" && $4 ~ /^\/dev\/shm\/crs-/ { print $4 }' "$f" | while read -r p; do
				rm -f "$p"
			done
		done
		if [ -n "${SHIM_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
	fi
	if [ -n "${SHIM_EXTRA_CLEANUP:-}" ]; then
		eval "$SHIM_EXTRA_CLEANUP"
	fi
}

shim_setup() {
	local name=$1 build=${2:-}
	if [ -z "$build" ] || [ ! -d "$build" ]; then
		echo "usage: $name.sh BUILD_DIR"
		exit 2
	fi
	BUILD=$(cd "$build" && pwd)
	CRSHIM=$BUILD/crshim
	SHIMLIB=$BUILD/libcrshim.so
	PROGS=$BUILD/tests/progs
	if [ ! -x "$CRSHIM" ] || [ ! -f "$SHIMLIB" ]; then
		echo "skip: $CRSHIM or $SHIMLIB is not built"
		exit 77
	fi
	# Shared files are recorded when opened for writing under /tmp: the
	# work dir must be there, whatever TMPDIR says.
	WORK=$(mktemp -d "/tmp/$name.XXXXXX") || exit 2
	chmod 755 "$WORK"
	RUNDIR=$WORK/run
	mkdir -m 700 "$RUNDIR"
	export CRSHIM_RUNDIR=$RUNDIR
	# Nothing from the caller's environment may change what is recorded.
	unset CRSHIM_DISABLE CRSHIM_LOG CRSHIM_LOG_FILE CRSHIM_BACKTRACE CRSHIM_HOOKS CRSHIM_SCRATCH LD_PRELOAD
	trap shim_cleanup EXIT
}

need_prog() {
	local p
	for p in "$@"; do
		if [ ! -x "$PROGS/$p" ]; then
			echo "skip: $PROGS/$p is not built"
			exit 77
		fi
	done
}

# prog_start NAME [VAR=VALUE...] -- CMD [ARGS...]
prog_start() {
	local name=$1 fd pid
	shift
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		envs+=("$1")
		shift
	done
	shift
	rm -f "$WORK/$name.in"
	mkfifo "$WORK/$name.in"
	env "${envs[@]}" "$@" <"$WORK/$name.in" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	pid=$!
	exec {fd}>"$WORK/$name.in"
	SHIM_FD[$name]=$fd
	SHIM_PID[$name]=$pid
	SHIM_PIDS+=("$pid")
}

prog_pid() { echo "${SHIM_PID[$1]}"; }

prog_send() {
	printf '%s\n' "$2" >&"${SHIM_FD[$1]}"
}

# Closes stdin; returns the program's exit status (or 124 if it had to be killed).
prog_stop() {
	local name=$1 pid=${SHIM_PID[$1]} i
	if [ -n "${SHIM_FD[$name]:-}" ]; then
		eval "exec ${SHIM_FD[$name]}>&-"
		unset "SHIM_FD[$name]"
	fi
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		# a zombie counts as gone
		[ "$(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null)" = Z ] && break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null)" != Z ]; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid" 2>/dev/null
}

# wait_line FILE REGEX [SECONDS]
wait_line() {
	local f=$1 re=$2 t=${3:-10} i
	for i in $(seq $((t * 20))); do
		if [ -f "$f" ] && grep -qE "$re" "$f"; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# JSON on stdin -> "path=value" lines.  A tokenizer over characters (JSON
# strings never span lines), so it does not depend on the indentation.
jflat() {
	awk '
	function vpath(   p) {
		if (d == 0) return ""
		if (typ[d] == "o") p = key[d]
		else { p = idx[d]; idx[d]++ }
		return (pth[d] == "" ? p : pth[d] "." p)
	}
	{
		line = $0; n = length(line); i = 1
		while (i <= n) {
			c = substr(line, i, 1)
			if (c == " " || c == "\t" || c == "\r" || c == ":") { i++; continue }
			if (c == "{") { p = vpath(); d++; typ[d] = "o"; pth[d] = p; wantkey[d] = 1; i++; continue }
			if (c == "[") { p = vpath(); d++; typ[d] = "a"; pth[d] = p; idx[d] = 0; i++; continue }
			if (c == "}") { d--; i++; continue }
			if (c == "]") { print pth[d] ".#=" idx[d]; d--; i++; continue }
			if (c == ",") { if (typ[d] == "o") wantkey[d] = 1; i++; continue }
			if (c == "\"") {
				s = ""; j = i + 1
				while (j <= n) {
					ch = substr(line, j, 1)
					if (ch == "\\") {
						e = substr(line, j + 1, 1)
						if (e == "n") s = s "\\n"; else if (e == "t") s = s "\\t"
						else if (e == "u") { s = s "\\u" substr(line, j + 2, 4); j += 4 }
						else s = s e
						j += 2; continue
					}
					if (ch == "\"") break
					s = s ch; j++
				}
				i = j + 1
				if (typ[d] == "o" && wantkey[d]) { key[d] = s; wantkey[d] = 0 }
				else print vpath() "=" s
				continue
			}
			j = i
			while (j <= n && index(",]} \t\r", substr(line, j, 1)) == 0) j++
			print vpath() "=" substr(line, i, j - i)
			i = j
		}
	}'
}

# status_flat PID OUT: flattened record of one process; crshim's exit status.
status_flat() {
	local pid=$1 outf=$2 rc
	"$CRSHIM" status --json "$pid" >"$outf.json" 2>"$outf.stderr"
	rc=$?
	jflat <"$outf.json" | sed -n 's/^processes\.0\.//p' >"$outf"
	return $rc
}

jget() {
	awk -v p="$2=" 'index($0, p) == 1 { print substr($0, length(p) + 1); exit }' "$1"
}

# jfind FLAT ARRAY K=V...: indices of ARRAY elements that have every K=V.
jfind() {
	local f=$1 pre=$2
	shift 2
	JF_PRE="$pre." JF_CONDS="$(printf '%s\n' "$@")" awk '
	BEGIN { pre = ENVIRON["JF_PRE"]; n = split(ENVIRON["JF_CONDS"], c, "\n")
		for (k = 1; k <= n; k++) if (c[k] != "") want[++m] = c[k] }
	index($0, pre) == 1 {
		rest = substr($0, length(pre) + 1); dot = index(rest, ".")
		if (!dot) next
		id = substr(rest, 1, dot - 1)
		if (id !~ /^[0-9]+$/) next
		seen[id] = 1; have[id, substr(rest, dot + 1)] = 1
	}
	END { for (id in seen) { good = 1; for (k = 1; k <= m; k++) if (!((id, want[k]) in have)) good = 0
		if (good) print id } }' "$f" | sort -n
}

# Values of one field over an array: jcol FLAT ARRAY FIELD
jcol() {
	awk -v pre="$2." -v fld="$3" '
	index($0, pre) == 1 { rest = substr($0, length(pre) + 1); dot = index(rest, ".")
		if (!dot) next
		id = substr(rest, 1, dot - 1); kv = substr(rest, dot + 1)
		if (id ~ /^[0-9]+$/ && index(kv, fld "=") == 1) print substr(kv, length(fld) + 2) }' "$1"
}

# proc_cover PID START END (hex with 0x): the /proc/PID/maps lines that tile
# [START, END) exactly (no gap, no overhang); prints their inodes.
proc_cover() {
	local pid=$1 s=$(($2)) e=$(($3))
	awk -v s="$s" -v e="$e" '
	function hex(h,   v, k, c) { v = 0; h = tolower(h)
		for (k = 1; k <= length(h); k++) { c = index("0123456789abcdef", substr(h, k, 1)) - 1; v = v * 16 + c }
		return v }
	{ split($1, r, "-"); a = hex(r[1]); b = hex(r[2]); if (b <= s || a >= e) next
	  seg[++n] = a; segend[n] = b; ino[n] = $5 }
	END { if (!n) exit 1
		# lines come sorted by address
		if (seg[1] != s || segend[n] != e) exit 1
		for (k = 2; k <= n; k++) if (seg[k] != segend[k - 1]) exit 1
		for (k = 1; k <= n; k++) print ino[k] }' "/proc/$pid/maps"
}

# check_rlines OUT FLAT [KINDS_WITH_FD]: joins a program's "R" lines with the
# record; prints one line per disagreement (nothing when all agree):
# every R line with an address has a recorded mapping starting there, with
# end = address + length rounded up to pages, "verified": true and an object
# of the right kind (and inode); every R line whose kind keeps its fd open
# has an object listing that fd with the right inode.
check_rlines() {
	awk -v fdkinds=" ${3:-file file-ro poolfd shm memfd scratch memfd-child memfd-exec} " '
	function hex(h,   v, k) { v = 0; h = tolower(h); sub(/^0x/, "", h)
		for (k = 1; k <= length(h); k++) v = v * 16 + index("0123456789abcdef", substr(h, k, 1)) - 1
		return v }
	# addresses as normalised hex strings (awk numbers lose digits as keys)
	function hkey(h) { h = tolower(h); sub(/^0x0*/, "", h); return h }
	function okind(k) {
		if (k ~ /^(file|file-ro|poolmap|poolfd|scratch|odd|reuse|tmpfile)$/) return "file"
		if (k ~ /^shm/) return "posix_shm"
		if (k ~ /^memfd/) return "memfd"
		if (k ~ /^sysv/) return "sysv"
		return "anon_shared" }
	FNR == NR {
		eq = index($0, "="); k = substr($0, 1, eq - 1); v = substr($0, eq + 1)
		if (k ~ /^mappings\.[0-9]+\.[a-z]+$/) { split(k, a, "."); M[a[2], a[3]] = v; if (a[3] == "start") byStart[hkey(v)] = a[2] }
		else if (k ~ /^objects\.[0-9]+\.[a-z_]+$/) { split(k, a, "."); O[a[2], a[3]] = v; if (a[3] == "id") byId[v] = a[2] }
		else if (k ~ /^objects\.[0-9]+\.fds\.[0-9]+$/) { split(k, a, "."); byFd[v] = a[2] }
		next
	}
	$1 != "R" { next }
	{
		kind = $2; addr = $5; len = $6; fd = $9; ino = $11; want = okind(kind)
		if (addr != "-") {
			m = byStart[hkey(addr)]
			if (m == "") { print "no mapping recorded for " kind " thread " $3 " at " addr; bad++ }
			else {
				pl = int((len + 4095) / 4096) * 4096
				if (hex(M[m, "end"]) != hex(addr) + pl) print kind " " addr ": end " M[m, "end"] " is not start+" pl
				if (M[m, "verified"] != "true") print kind " " addr ": mapping not verified"
				o = byId[M[m, "object"]]
				if (o == "") print kind " " addr ": mapping refers to a missing object"
				else {
					if (O[o, "kind"] != want) print kind " " addr ": object kind " O[o, "kind"] ", want " want
					if (ino != "-" && want != "sysv" && O[o, "ino"] != ino) print kind " " addr ": object inode " O[o, "ino"] ", want " ino
					if (want == "sysv" && O[o, "sysv_id"] != $13) print kind " " addr ": sysv id " O[o, "sysv_id"] ", want " $13
				}
			}
		}
		if (fd != "-" && index(fdkinds, " " kind " ")) {
			o = byFd[fd]
			if (o == "") print kind " thread " $3 ": fd " fd " is not listed by any object"
			else if (O[o, "ino"] != ino) print kind " thread " $3 ": fd " fd " listed by an object with inode " O[o, "ino"] ", want " ino
		}
	}' "$2" "$1"
}

# ---- run on its own: the process record format ---------------------------------------
if [ "${BASH_SOURCE[0]}" == "$0" ]; then
	shim_setup test_shim_lib "${1:-}"
	need_prog shim_resources
	mkdir -p "$WORK/scr"
	prog_start res CRSHIM_BACKTRACE=1 CRSHIM_SCRATCH="$WORK/scr:keep" LD_PRELOAD="$SHIMLIB" -- \
		"$PROGS/shim_resources" -s "$WORK/scr" "$WORK"
	if ! wait_line "$WORK/res.out" '^ready' 10; then
		notok "shim_resources did not start: $(head -c 300 "$WORK/res.err")"
		shim_finish
	fi
	PID=$(prog_pid res)
	status_flat "$PID" "$WORK/rec"
	check "crshim status --json exits 0 for a process with the shim" test $? -eq 0
	check "the answer is one JSON document with one process" \
		test "$(jflat <"$WORK/rec.json" | grep -c '^processes\.#=1$')" -eq 1
	F=$WORK/rec
	expect_eq "format" crshim-process "$(jget "$F" format)"
	expect_eq "version" 1 "$(jget "$F" version)"
	expect_eq "ok" true "$(jget "$F" ok)"
	expect_eq "pid" "$PID" "$(jget "$F" pid)"
	expect_eq "ppid" "$$" "$(jget "$F" ppid)"
	expect_eq "uid" "$(id -u)" "$(jget "$F" uid)"
	expect_eq "phase" running "$(jget "$F" phase)"
	check "shim_version is X.Y.Z" grep -qE '^shim_version=[0-9]+\.[0-9]+\.[0-9]+$' "$F"
	expect_eq "config.hooks lists every family by default" "mmap file shm sysv verbs" \
		"$(grep "^config\.hooks\.[0-9]*=" "$F" | cut -d= -f2 | tr "\n" " " | sed "s/ $//")"
	expect_eq "config.backtrace" true "$(jget "$F" config.backtrace)"
	expect_eq "config.scratch[0].dir" "$WORK/scr" "$(jget "$F" config.scratch.0.dir)"
	expect_eq "config.scratch[0].policy" keep "$(jget "$F" config.scratch.0.policy)"
	expect_eq "config.rundir" "$RUNDIR" "$(jget "$F" config.rundir)"
	for k in objects mappings fds dropped dropped_objects dropped_mappings dropped_fds arena_bytes \
		bytes_per_mapping bytes_per_object; do
		check "registry.$k is a number" grep -qE "^registry\.$k=[0-9]+$" "$F"
	done
	check "proc.exe is the program" grep -qxF "proc.exe=$PROGS/shim_resources" "$F"
	check "proc.unrecorded_mappings is an array" grep -qE '^proc\.unrecorded_mappings\.#=[0-9]+$' "$F"
	check "proc.unrecorded_fds is an array" grep -qE '^proc\.unrecorded_fds\.#=[0-9]+$' "$F"
	nobj=$(jget "$F" objects.#)
	check "objects[] is not empty" test "${nobj:-0}" -gt 0
	bad=""
	for i in $(seq 0 $((${nobj:-0} - 1))); do
		for k in id kind path dev ino size mode unlinked shared_map write append; do
			grep -q "^objects\.$i\.$k=" "$F" || bad="$bad $i.$k"
		done
		grep -qE "^objects\.$i\.fds\.#=[0-9]+$" "$F" || bad="$bad $i.fds"
		grep -qE "^objects\.$i\.backtrace\.#=[1-9][0-9]*$" "$F" || bad="$bad $i.backtrace"
		grep -qE "^objects\.$i\.kind=(file|posix_shm|memfd|sysv|anon_shared)$" "$F" || bad="$bad $i.kind-value"
		if grep -q "^objects\.$i\.kind=sysv$" "$F"; then
			for k in sysv_key sysv_id sysv_rmid; do
				grep -q "^objects\.$i\.$k=" "$F" || bad="$bad $i.$k"
			done
		fi
		grep -qE "^objects\.$i\.verified=(true|false|null)$" "$F" || bad="$bad $i.verified"
	done
	expect_eq "every object has the documented keys" "" "$bad"
	check "a scratch object says its policy" test -n "$(jfind "$F" objects scratch=keep)"
	nmap=$(jget "$F" mappings.#)
	check "mappings[] is not empty" test "${nmap:-0}" -gt 0
	bad=""
	for i in $(seq 0 $((${nmap:-0} - 1))); do
		grep -qE "^mappings\.$i\.start=0x[0-9a-f]+$" "$F" || bad="$bad $i.start"
		grep -qE "^mappings\.$i\.end=0x[0-9a-f]+$" "$F" || bad="$bad $i.end"
		grep -qE "^mappings\.$i\.offset=[0-9]+$" "$F" || bad="$bad $i.offset"
		grep -qE "^mappings\.$i\.prot=[r-][w-][x-][sp]$" "$F" || bad="$bad $i.prot"
		obj=$(jget "$F" "mappings.$i.object")
		test -n "$(jfind "$F" objects "id=$obj")" || bad="$bad $i.object"
		grep -qE "^mappings\.$i\.verified=(true|false)$" "$F" || bad="$bad $i.verified"
	done
	expect_eq "every mapping has start/end (0x strings), offset, prot, an existing object, verified" "" "$bad"
	prog_stop res
	check "the program exits 0 when its input ends" test $? -eq 0
	check "its endpoint is removed at a normal exit" test ! -e "$RUNDIR/$PID.sock"
	shim_finish
fi
