#!/bin/bash
# test_hca_pingpong.sh DAEMON LIBDIR PROGRAM [OPTION...]
#
# Runs an unmodified ibverbs-utils pingpong program (ibv_rc_pingpong,
# ibv_ud_pingpong, ...) as server and client, two processes, over the
# simulated HCA of a private crs-hcad.  Both must finish with status 0.
here=$(cd "$(dirname "$0")" && pwd)

if [ "$1" != --inner ]; then
	daemon=$1
	libdir=$2
	prog=$3
	shift 3
	if ! command -v "$prog" >/dev/null 2>&1; then
		echo "SKIP: $prog not installed (package ibverbs-utils)"
		exit 77
	fi
	exec "$here/hca-run" "$daemon" "$libdir" "$0" --inner "$prog" "$@"
fi
shift
prog=$1
shift
dir=$CRS_HCA_TEST_DIR

# Is TCP port $1 in use (any state)?  Never probe by connecting: the
# pingpong server accepts exactly one connection.
port_state() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex\$" '$2 ~ p { print $4 }' /proc/net/tcp /proc/net/tcp6 \
		2>/dev/null
}

for try in 1 2 3 4 5 6 7 8 9 10; do
	port=$((20000 + (RANDOM * 7 + $$) % 40000))
	[ -z "$(port_state $port)" ] && break
done

timeout 90 "$prog" -d crs_hca0 -p "$port" "$@" >"$dir/server.log" 2>&1 &
spid=$!
for i in $(seq 1 100); do
	port_state "$port" | grep -q 0A && break
	if ! kill -0 $spid 2>/dev/null; then
		break
	fi
	sleep 0.1
done
timeout 90 "$prog" -d crs_hca0 -p "$port" "$@" localhost \
	>"$dir/client.log" 2>&1 &
cpid=$!
wait $cpid
crc=$?
wait $spid
src=$?

echo "--- server: $prog -p $port $*  (exit $src)"
cat "$dir/server.log"
echo "--- client: $prog -p $port $* localhost  (exit $crc)"
cat "$dir/client.log"

if [ $src -ne 0 ] || [ $crc -ne 0 ]; then
	echo "FAIL: pingpong exited with server=$src client=$crc"
	exit 1
fi
if ! grep -q "iters in" "$dir/server.log" ||
   ! grep -q "iters in" "$dir/client.log"; then
	echo "FAIL: no throughput line"
	exit 1
fi
echo "PASS"
