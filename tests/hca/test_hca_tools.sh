#!/bin/sh
# test_hca_tools.sh  (run by hca-run, against a private crs-hcad)
#
# The unmodified ibv_devices and ibv_devinfo (ibverbs-utils) list the
# simulated device, its port and GID; without a daemon there is no device.
for p in ibv_devices ibv_devinfo; do
	if ! command -v $p >/dev/null 2>&1; then
		echo "SKIP: $p not installed (package ibverbs-utils)"
		exit 77
	fi
done
fail=0

expect() {	# expect DESCRIPTION PATTERN TEXT
	if printf '%s\n' "$3" | grep -Eq "$2"; then
		echo "ok - $1"
	else
		echo "not ok - $1 (no match for /$2/)"
		fail=1
	fi
}

out=$(ibv_devices 2>&1)
echo "$out"
expect "ibv_devices lists crs_hca0 with a node GUID" \
	'^[[:space:]]*crs_hca0[[:space:]]+[0-9a-f]{16}$' "$out"

out=$(ibv_devinfo 2>&1)
echo "$out"
expect "ibv_devinfo: hca_id" '^hca_id:.crs_hca0' "$out"
expect "ibv_devinfo: InfiniBand transport" 'transport:.*InfiniBand \(0\)' "$out"
expect "ibv_devinfo: port 1 active" 'state:.*PORT_ACTIVE \(4\)' "$out"
expect "ibv_devinfo: MTU 4096" 'active_mtu:.*4096 \(5\)' "$out"
expect "ibv_devinfo: a LID" 'port_lid:[[:space:]]+[1-9][0-9]*' "$out"
expect "ibv_devinfo: link layer InfiniBand" 'link_layer:.*InfiniBand' "$out"

out=$(ibv_devinfo -v -d crs_hca0 -i 1 2>&1)
expect "ibv_devinfo -v: max_qp_wr" 'max_qp_wr:[[:space:]]+16384' "$out"
expect "ibv_devinfo -v: GID[0] is fe80::<port GUID>" \
	'GID\[ *0\]:[[:space:]]+fe80:0000:0000:0000:' "$out"

out=$(CRS_HCA_SOCKET=$CRS_HCA_TEST_DIR/nothing-here ibv_devinfo 2>&1)
expect "without a daemon there is no device" 'No IB devices found' "$out"

exit $fail
