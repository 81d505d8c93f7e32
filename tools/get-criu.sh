#!/usr/bin/env bash
# tools/get-criu.sh: make sure a CRIU that works on this kernel is available to crshim.
#
#   1. The system criu is used if `criu check` passes and it can dump and restore a process that
#      holds an ESTABLISHED TCP connection (--tcp-established --network-lock nftables --shell-job).
#   2. Otherwise Debian unstable's criu (>= 4.2) and its whole library closure are downloaded with
#      a private apt (the system's apt state is not touched) and unpacked with `dpkg -x` into
#      $PREFIX/root; $PREFIX/criu is a wrapper that runs it with the prefix's own dynamic loader.
#   3. The chosen criu's absolute path is written to $PREFIX/selected.
#
# Idempotent: an existing $PREFIX/criu that passes `criu check` is kept as is. The wrapper is
# only put in place after the unpacked CRIU passed the checks, so an interrupted run never
# leaves a prefix that looks complete.
#
# Environment: CRSHIM_CRIU_PREFIX (default /opt/crshim/criu), CRSHIM_CRIU_SUITE (default sid),
# CRSHIM_DEBIAN_MIRROR (default http://deb.debian.org/debian), CC (for the TCP test helper).
set -euo pipefail

PREFIX=${CRSHIM_CRIU_PREFIX:-/opt/crshim/criu}
SUITE=${CRSHIM_CRIU_SUITE:-sid}
MIRROR=${CRSHIM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
MIN_VERSION=4.2
WRAPPER=$PREFIX/criu
SELECTED=$PREFIX/selected
NETLOCK=nftables

say() { printf 'get-criu: %s\n' "$*"; }
die() { printf 'get-criu: error: %s\n' "$*" >&2; exit 1; }

# ---- cleanup of everything this script starts or creates -----------------------------------
CLEAN_PIDS=()
CLEAN_DIRS=()
cleanup() {
	local p d
	for p in "${CLEAN_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	for p in "${CLEAN_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	[ -z "${TCP_DIR:-}" ] || drop_netlock "$TCP_DIR/img/dump.log"
	for d in "${CLEAN_DIRS[@]}"; do
		rm -rf -- "$d"
	done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers -----------------------------------------------------------------------------------

# criu_check CRIU: run `CRIU check`; on failure leave its last error line in CHECK_ERR.
CHECK_ERR=
criu_check() {
	local out
	if out=$(timeout 120 "$1" check 2>&1); then
		return 0
	fi
	CHECK_ERR=$(printf '%s\n' "$out" | grep -v -e 'kdat cache' -e 'RLIMIT_NOFILE' | tail -n 1)
	[ -n "$CHECK_ERR" ] || CHECK_ERR="criu check failed"
	return 1
}

# criu_version CRIU: print "x.y.z" or "unknown".
criu_version() {
	local v
	v=$(timeout 30 "$1" --version 2>/dev/null | sed -n 's/^Version: *//p' | head -n 1) || true
	printf '%s\n' "${v:-unknown}"
}

# The TCP test helper: one process holding both ends of a loopback TCP connection (plus the
# listener). Every 50 ms it sends a byte each way and then writes a round-trip counter to the
# heartbeat file (write + rename, so readers never see a partial value); on any failure it
# writes FAIL and exits.
write_helper_source() {
	cat >"$1" <<'EOF'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *hb;

static void beat(const char *val)
{
	char tmp[4096];
	int fd, len = (int)strlen(val);

	snprintf(tmp, sizeof(tmp), "%s.tmp", hb);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, val, len) != len || close(fd) || rename(tmp, hb))
		exit(3);
}

static void fail(const char *what)
{
	perror(what);
	beat("FAIL\n");
	exit(1);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	unsigned long n;
	int l, c, s, one = 1;
	char buf[32];

	if (argc != 2)
		return 2;
	hb = argv[1];
	alarm(600); /* never outlive a killed get-criu.sh for long (CRIU keeps the timer) */
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &al))
		fail("listen");
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
		fail("connect");
	s = accept(l, NULL, NULL);
	if (s < 0)
		fail("accept");
	for (n = 1;; n++) {
		unsigned char out = (unsigned char)n, in = 0, back = 0;

		if (write(c, &out, 1) != 1 || read(s, &in, 1) != 1 || in != out ||
		    write(s, &in, 1) != 1 || read(c, &back, 1) != 1 || back != out)
			fail("tcp round trip");
		snprintf(buf, sizeof(buf), "%lu\n", n);
		beat(buf);
		nanosleep(&ts, NULL);
	}
}
EOF
}

# read_hb FILE: print the heartbeat value (empty if none yet).
read_hb() {
	local v=
	[ -f "$1" ] && read -r v <"$1" 2>/dev/null
	printf '%s\n' "$v"
}

# wait_hb FILE MIN SECONDS [PID]: wait until the heartbeat is a number >= MIN. Fails on FAIL,
# on timeout, or when PID (if given) is gone.
wait_hb() {
	local f=$1 min=$2 tries=$(($3 * 10)) pid=${4:-} v
	while [ "$tries" -gt 0 ]; do
		v=$(read_hb "$f")
		[ "$v" = FAIL ] && return 1
		if [ -n "$v" ] && [ "$v" -ge "$min" ]; then
			return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

# drop_netlock DUMPLOG: remove the nftables network lock a dump (logged in DUMPLOG) left behind,
# e.g. when the restore failed. CRIU names its table "inet CRIU-<id>" and logs its commands.
drop_netlock() {
	local t
	[ -f "$1" ] && command -v nft >/dev/null 2>&1 || return 0
	for t in $(grep -o 'inet CRIU-[A-Za-z0-9_-]*' "$1" | sort -u | tr ' ' ':'); do
		if nft list table "${t%%:*}" "${t#*:}" >/dev/null 2>&1; then
			nft delete table "${t%%:*}" "${t#*:}" 2>/dev/null || true
		fi
	done
}

# log_tail FILE: the last error lines of a CRIU log, indented.
log_tail() {
	if [ -f "$1" ]; then
		{ grep -E 'Error|Warn' "$1" | grep -v RLIMIT_NOFILE || tail -n 5 "$1"; } | tail -n 5 | sed 's/^/    /' >&2
	fi
	return 0
}

# tcp_test CRIU: dump (killing it) a process holding an ESTABLISHED TCP connection, restore it,
# and check that the restored process keeps exchanging data over that connection.
TCP_ERR=
TCP_PID=
TCP_RPID=
TCP_DIR=
tcp_test() {
	local rc=0
	TCP_PID= TCP_RPID= TCP_DIR=
	if ! tcp_test_run "$1"; then
		rc=1
	fi
	# the helper (original or restored: same pid) and the restoring criu, which reaps it
	if [ -n "$TCP_PID" ]; then
		kill -KILL "$TCP_PID" 2>/dev/null || true
		wait "$TCP_PID" 2>/dev/null || true
	fi
	if [ -n "$TCP_RPID" ]; then
		local i=100
		while [ "$i" -gt 0 ] && kill -0 "$TCP_RPID" 2>/dev/null; do
			sleep 0.1
			i=$((i - 1))
		done
		kill -KILL "$TCP_RPID" 2>/dev/null || true
		wait "$TCP_RPID" 2>/dev/null || true
	fi
	[ -z "$TCP_DIR" ] || drop_netlock "$TCP_DIR/img/dump.log"
	CLEAN_PIDS=()
	return "$rc"
}

tcp_test_run() {
	local criu=$1 t cc v i
	local opts=(--tcp-established --network-lock "$NETLOCK" --shell-job -v4)

	cc=${CC:-}
	if [ -z "$cc" ]; then
		cc=$(command -v cc || command -v gcc || true)
	fi
	if [ -z "$cc" ]; then
		TCP_ERR="no C compiler to build the TCP test helper (install build-essential)"
		return 1
	fi
	t=$(mktemp -d "${TMPDIR:-/tmp}/crshim-criu-tcp.XXXXXX")
	CLEAN_DIRS+=("$t")
	TCP_DIR=$t
	write_helper_source "$t/tcppair.c"
	if ! "$cc" -O1 -w -o "$t/tcppair" "$t/tcppair.c" >"$t/cc.log" 2>&1; then
		TCP_ERR="could not compile the TCP test helper with $cc: $(tail -n 1 "$t/cc.log")"
		return 1
	fi
	mkdir "$t/img"

	"$t/tcppair" "$t/hb" </dev/null >"$t/helper.log" 2>&1 9>&- &
	TCP_PID=$!
	CLEAN_PIDS+=("$TCP_PID")
	disown "$TCP_PID" # bash still reaps it, without a "Killed" notice when criu kills it
	if ! wait_hb "$t/hb" 3 10 "$TCP_PID"; then
		TCP_ERR="the TCP test helper did not start: $(tail -n 1 "$t/helper.log")"
		return 1
	fi

	if ! timeout 120 "$criu" dump -t "$TCP_PID" -D "$t/img" -o dump.log "${opts[@]}" </dev/null >/dev/null 2>&1; then
		TCP_ERR="dump of a process with an established TCP connection failed (the end of its log is above)"
		say "criu dump failed; the end of its log:" >&2
		log_tail "$t/img/dump.log"
		return 1
	fi
	# criu killed the helper; its pid must be free (reaped, not a zombie) for the restore
	i=100
	while [ "$i" -gt 0 ] && [ -e "/proc/$TCP_PID" ]; do
		sleep 0.1
		i=$((i - 1))
	done
	v=$(read_hb "$t/hb")
	case $v in '' | *[!0-9]*) v=0 ;; esac

	# no --restore-detached: criu stays the restored task's parent and reaps it when it dies
	"$criu" restore -D "$t/img" -o restore.log "${opts[@]}" </dev/null >/dev/null 2>&1 &
	TCP_RPID=$!
	CLEAN_PIDS+=("$TCP_RPID")
	if wait_hb "$t/hb" $((v + 5)) 30 "$TCP_RPID" && kill -0 "$TCP_PID" 2>/dev/null; then
		return 0
	fi
	if [ "$(read_hb "$t/hb")" = FAIL ]; then
		TCP_ERR="the restored process could not use its TCP connection: $(tail -n 1 "$t/helper.log")"
	else
		TCP_ERR="restore of a process with an established TCP connection failed (the end of its log is above)"
		say "criu restore failed; the end of its log:" >&2
		log_tail "$t/img/restore.log"
	fi
	return 1
}

# usable CRIU WHAT: check + TCP test; prints one line about the result.
usable() {
	local criu=$1 what=$2
	if ! criu_check "$criu"; then
		say "$what ($criu, $(criu_version "$criu")): criu check fails: $CHECK_ERR"
		return 1
	fi
	if ! tcp_test "$criu"; then
		say "$what ($criu, $(criu_version "$criu")): criu check passes, but the TCP dump/restore test fails: $TCP_ERR"
		return 1
	fi
	say "$what ($criu, $(criu_version "$criu")): criu check and the TCP dump/restore test pass"
	return 0
}

select_criu() {
	local tmp="$SELECTED.tmp.$$"
	mkdir -p "$PREFIX"
	printf '%s\n' "$1" >"$tmp"
	mv -f "$tmp" "$SELECTED"
	say "selected: $1 (recorded in $SELECTED)"
	printf '%s\n' "$1"
}

# sq STRING: STRING quoted for sh.
sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# ---- main ------------------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "must be run as root (CRIU needs root to dump and restore)."
case $PREFIX in
/*) ;;
*) die "CRSHIM_CRIU_PREFIX must be an absolute path (got '$PREFIX')." ;;
esac
for tool in timeout sed awk apt-get dpkg dpkg-deb flock; do
	command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required but not installed."
done

mkdir -p "$PREFIX"
exec 9>"$PREFIX/.lock"
flock -w 900 9 || die "another get-criu.sh run holds $PREFIX/.lock."

# 1. the system criu
sys_criu=$(command -v criu 2>/dev/null || true)
if [ -n "$sys_criu" ] && [ "$sys_criu" != "$WRAPPER" ]; then
	sys_criu=$(readlink -f "$sys_criu")
	if usable "$sys_criu" "system criu"; then
		select_criu "$sys_criu"
		exit 0
	fi
elif [ -z "$sys_criu" ]; then
	say "no criu on PATH"
fi

# 2. an already installed wrapper
if [ -x "$WRAPPER" ]; then
	if criu_check "$WRAPPER"; then
		say "$WRAPPER (criu $(criu_version "$WRAPPER")) is already installed and passes criu check"
		select_criu "$WRAPPER"
		exit 0
	fi
	say "$WRAPPER exists but criu check fails ($CHECK_ERR); reinstalling"
	rm -f "$WRAPPER"
fi
if [ -f "$SELECTED" ] && [ "$(cat "$SELECTED")" = "$WRAPPER" ]; then
	rm -f "$SELECTED"
fi

# 3. download Debian $SUITE's criu and its whole dependency closure with a private apt
[ -r "$KEYRING" ] || die "$KEYRING is missing (install debian-archive-keyring)."
cache=$PREFIX/cache/apt
# left by an interrupted run (we hold the lock)
rm -rf "$PREFIX"/.staging.* "$PREFIX/.criu.new"
find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'crshim-criu-tcp.*' -mmin +60 -exec rm -rf {} + 2>/dev/null || true
stage=$(mktemp -d "$PREFIX/.staging.XXXXXX")
CLEAN_DIRS+=("$stage")
chmod 755 "$stage" # let apt's _apt sandbox user write the downloads
mkdir -p "$cache/lists/partial" "$cache/state" "$cache/empty.d" "$cache/log" "$stage/archives/partial" "$stage/root"
printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$SUITE" >"$cache/sources.list"
: >"$cache/status" # empty: apt then downloads the whole dependency closure
cat >"$cache/apt.conf" <<'EOF'
// Written by crshim's tools/get-criu.sh. This private apt only downloads packages;
// the system configuration's hooks must not run for it.
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
EOF
apt=(apt-get -q -c "$cache/apt.conf"
	-o "Dir::Etc::SourceList=$cache/sources.list"
	-o "Dir::Etc::SourceParts=$cache/empty.d"
	-o "Dir::Etc::Preferences=$cache/empty.d/none"
	-o "Dir::Etc::PreferencesParts=$cache/empty.d"
	-o "Dir::State=$cache/state"
	-o "Dir::State::Lists=$cache/lists"
	-o "Dir::State::status=$cache/status"
	-o "Dir::Cache=$cache"
	-o "Dir::Cache::archives=$stage/archives"
	-o "Dir::Log=$cache/log"
	-o Debug::NoLocking=1)
aptlog=$cache/apt.log
say "downloading criu from Debian $SUITE ($MIRROR) with a private apt under $cache"
if ! "${apt[@]}" update --error-on=any >"$aptlog" 2>&1; then
	tail -n 8 "$aptlog" | sed 's/^/    /' >&2
	die "apt-get update of Debian $SUITE failed (full log: $aptlog); no working CRIU is available."
fi
if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --download-only --no-install-recommends criu >>"$aptlog" 2>&1; then
	tail -n 8 "$aptlog" | sed 's/^/    /' >&2
	die "downloading criu from Debian $SUITE failed (full log: $aptlog); no working CRIU is available."
fi
debs=("$stage"/archives/*.deb)
[ -e "${debs[0]}" ] || die "apt downloaded no packages (log: $aptlog); no working CRIU is available."
criu_deb=$(ls "$stage"/archives/criu_*.deb 2>/dev/null | head -n 1)
[ -n "$criu_deb" ] || die "apt did not download the criu package (log: $aptlog)."
version=$(dpkg-deb -f "$criu_deb" Version)
if ! dpkg --compare-versions "$version" ge "$MIN_VERSION~"; then
	die "Debian $SUITE has criu $version, but $MIN_VERSION or newer is needed; no working CRIU is available."
fi
size=$(du -sm "$stage/archives" | cut -f1)
say "unpacking criu $version and ${#debs[@]} packages (${size} MB) into $PREFIX/root"
for deb in "${debs[@]}"; do
	dpkg -x "$deb" "$stage/root" || die "dpkg -x $deb failed."
done
rm -rf "$stage/archives"
[ -x "$stage/root/usr/sbin/criu" ] || die "the criu package has no usr/sbin/criu."

# the prefix's own dynamic loader runs criu with the prefix's glibc and libraries
loader=$(find "$stage/root/usr/lib" -mindepth 2 -maxdepth 2 -name 'ld-linux*.so.[0-9]' \( -type f -o -type l \) | sort | head -n 1)
[ -n "$loader" ] || die "no ld-linux*.so loader found under $stage/root/usr/lib."
rel_libdir=$(dirname "${loader#"$stage"/root/}") # usr/lib/x86_64-linux-gnu
rel_loader=${loader#"$stage"/root/}
if ! criu_check_out=$("$stage/root/$rel_loader" --library-path "$stage/root/$rel_libdir" "$stage/root/usr/sbin/criu" check 2>&1); then
	printf '%s\n' "$criu_check_out" | tail -n 3 | sed 's/^/    /' >&2
	die "the downloaded criu $version fails criu check; no working CRIU is available."
fi

# move the verified tree into place; the old one (if any) goes away with the staging dir
if [ -e "$PREFIX/root" ]; then
	mv -T "$PREFIX/root" "$stage/old-root"
fi
mv -T "$stage/root" "$PREFIX/root"

new=$PREFIX/.criu.new
{
	printf '#!/bin/sh\n'
	printf '# criu %s from Debian %s, unpacked in %s by crshim tools/get-criu.sh.\n' "$version" "$SUITE" "$PREFIX/root"
	printf '# It needs a newer glibc than the system'"'"'s, so it runs with the prefix'"'"'s own loader.\n'
	printf 'exec %s --library-path %s %s "$@"\n' "$(sq "$PREFIX/root/$rel_loader")" \
		"$(sq "$PREFIX/root/$rel_libdir")" "$(sq "$PREFIX/root/usr/sbin/criu")"
} >"$new"
chmod 755 "$new"
if ! usable "$new" "downloaded criu"; then
	rm -f "$new"
	die "the downloaded criu $version does not work here (see above); no working CRIU is available."
fi
mv -f "$new" "$WRAPPER"
say "installed $WRAPPER (criu $version)"
select_criu "$WRAPPER"
