#!/bin/sh
# test_hca_env.sh HCA-ENV DAEMON
#
# eval "$(hca-env)" starts one daemon and exports the environment; a second
# call reuses it; --restart replaces it; --stop stops it.  Uses a private
# state directory (CRS_HCA_STATE_DIR) so a developer's daemon is untouched.
hcaenv=$1
daemon=$2
bindir=$(cd "$(dirname "$daemon")" && pwd)
case "$bindir" in
*/tests/hca) CRSHIM_BUILD_DIR=${bindir%/tests/hca} ;;
*)
	echo "SKIP: daemon not in <build>/tests/hca, hca-env cannot find it"
	exit 77
	;;
esac
export CRSHIM_BUILD_DIR
top=$(mktemp -d /tmp/crs-hca-t.XXXXXX) || exit 1
CRS_HCA_STATE_DIR=$top/state
export CRS_HCA_STATE_DIR
trap '"$hcaenv" --stop 2>/dev/null; rm -rf "$top"' EXIT
fail=0

# running, and not a zombie waiting for a slow reaper
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

t() {	# t DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@"; then
		echo "ok - $d"
	else
		echo "not ok - $d"
		fail=1
	fi
}

unset CRS_HCA_SOCKET
eval "$("$hcaenv")"
t "CRS_HCA_SOCKET exported" [ "$CRS_HCA_SOCKET" = "$CRS_HCA_STATE_DIR/hca.sock" ]
t "daemon socket exists" [ -S "$CRS_HCA_SOCKET" ]
t "LD_LIBRARY_PATH starts with the simulated library" \
	[ "${LD_LIBRARY_PATH%%:*}" = "$bindir/lib" ]
t "state directory is private (0700)" \
	[ "$(stat -c %a "$CRS_HCA_STATE_DIR")" = 700 ]
pid1=$(cat "$CRS_HCA_STATE_DIR/crs-hcad.pid")
t "daemon runs" alive "$pid1"
out=$("$bindir/hca_probe")
t "a verbs program finds the device" [ -n "$out" ]

eval "$("$hcaenv")"
t "second call reuses the daemon" \
	[ "$(cat "$CRS_HCA_STATE_DIR/crs-hcad.pid")" = "$pid1" ]
n=$(printf '%s' "$LD_LIBRARY_PATH" | tr ':' '\n' | grep -c "^$bindir/lib\$")
t "library dir not added twice" [ "$n" = 1 ]
t "--status" "$hcaenv" --status

eval "$("$hcaenv" --restart)"
pid2=$(cat "$CRS_HCA_STATE_DIR/crs-hcad.pid")
t "--restart starts a new daemon" [ "$pid2" != "$pid1" ]
t "old daemon is gone" eval "! alive $pid1"
out2=$("$bindir/hca_probe")
t "device usable after restart" [ -n "$out2" ]

"$hcaenv" --stop
t "--stop stops the daemon" eval "! alive $pid2"
t "socket removed" [ ! -e "$CRS_HCA_SOCKET" ]
t "--status fails when stopped" sh -c "! '$hcaenv' --status >/dev/null"
exit $fail
