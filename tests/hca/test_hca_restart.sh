#!/bin/sh
# test_hca_restart.sh DAEMON PROBE
#
# Keys and QP numbers change when objects are recreated and when the daemon
# restarts (they start at a random value per run); --lid/--guid pin the
# port LID and node GUID.
daemon=$1
probe=$2
lib=$(dirname "$probe")/lib
dir=$(mktemp -d /tmp/crs-hca-t.XXXXXX) || exit 1
fail=0

# running, and not a zombie waiting for a slow reaper
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

stop() {
	[ -f "$dir/pid" ] || return 0
	pid=$(cat "$dir/pid")
	kill "$pid" 2>/dev/null
	while alive "$pid"; do sleep 0.05; done
	rm -f "$dir/pid"
}
trap 'stop; rm -rf "$dir"' EXIT
export CRS_HCA_SOCKET=$dir/sock
export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

field() {	# field NAME LINE
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

"$daemon" -d -s "$dir/sock" -p "$dir/pid" -l "$dir/log" || exit 1
r1=$("$probe") || fail=1
r2=$("$probe") || fail=1
stop
"$daemon" -d -s "$dir/sock" -p "$dir/pid" -l "$dir/log" || exit 1
r3=$("$probe") || fail=1
stop
echo "run 1: $r1"
echo "run 2: $r2"
echo "after restart: $r3"
for f in qpn lkey; do
	a=$(field $f "$r1")
	b=$(field $f "$r2")
	c=$(field $f "$r3")
	if [ -n "$a" ] && [ "$a" != "$b" ] && [ "$a" != "$c" ] &&
	   [ "$b" != "$c" ]; then
		echo "ok - $f differs between runs and across the restart"
	else
		echo "not ok - $f: $a $b $c"
		fail=1
	fi
done
if [ "$(field lid "$r1")" = "$(field lid "$r2")" ]; then
	echo "ok - LID stable while the daemon runs"
else
	echo "not ok - LID changed without a restart"
	fail=1
fi

"$daemon" -d -s "$dir/sock" -p "$dir/pid" -l "$dir/log" -L 0x42 \
	-g 1122334455667788 || exit 1
r4=$("$probe") || fail=1
echo "pinned: $r4"
if [ "$(field lid "$r4")" = 0x42 ] &&
   [ "$(field guid "$r4")" = 1122334455667788 ]; then
	echo "ok - --lid and --guid pin the port identity"
else
	echo "not ok - --lid/--guid ignored"
	fail=1
fi
[ $fail -ne 0 ] && cat "$dir/log"
exit $fail
