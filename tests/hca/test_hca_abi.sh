#!/bin/sh
# test_hca_abi.sh LIBRARY
#
# The simulated libibverbs exports exactly the symbols and symbol versions
# listed in libibverbs.abi (Debian 12's library), and the ibverbs-utils
# programs, linked against the real library, resolve every symbol in it.
here=$(cd "$(dirname "$0")" && pwd)
lib=$1
libdir=$(dirname "$lib")
fail=0

if ! command -v objdump >/dev/null 2>&1; then
	echo "SKIP: objdump not installed"
	exit 77
fi

want=$(mktemp)
have=$(mktemp)
trap 'rm -f "$want" "$have"' EXIT
grep -v '^#' "$here/libibverbs.abi" | sort >"$want"
objdump -T "$libdir/libibverbs.so.1" | awk '$4 != "*UND*" && $3 == "DF" {
	print $NF, $(NF-1) }' | sort >"$have"
if diff -u "$want" "$have"; then
	echo "ok - $(wc -l <"$have") exported symbols with the expected versions"
else
	echo "not ok - exported symbols differ from libibverbs.abi (- want, + have)"
	fail=1
fi

if ! objdump -p "$libdir/libibverbs.so.1" | grep -q 'SONAME *libibverbs.so.1$'; then
	echo "not ok - SONAME is not libibverbs.so.1"
	fail=1
fi

for p in ibv_devices ibv_devinfo ibv_rc_pingpong ibv_uc_pingpong \
	 ibv_ud_pingpong ibv_srq_pingpong ibv_xsrq_pingpong ibv_asyncwatch; do
	path=$(command -v $p) || continue
	out=$(LD_LIBRARY_PATH=$libdir ldd -r "$path" 2>&1)
	if ! echo "$out" | grep -q "libibverbs.so.1 => $libdir/libibverbs.so.1"; then
		echo "not ok - $p does not load the simulated library"
		echo "$out"
		fail=1
	elif echo "$out" | grep -E "not found|undefined symbol"; then
		echo "not ok - $p has unresolved symbols"
		fail=1
	else
		echo "ok - $p resolves all symbols in the simulated library"
	fi
done
exit $fail
