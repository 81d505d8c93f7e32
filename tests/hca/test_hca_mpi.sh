#!/bin/sh
# test_hca_mpi.sh  (run by hca-run, against a private crs-hcad)
#
# An unmodified Open MPI job over the simulated HCA: the openib BTL (ob1
# PML, UD-based connection setup, RC QPs, send/recv and RDMA) between 2 and
# 4 ranks; the checksum must match the same job over shared memory.
here=$(cd "$(dirname "$0")" && pwd)
dir=$CRS_HCA_TEST_DIR
for p in mpicc mpirun ompi_info; do
	if ! command -v $p >/dev/null 2>&1; then
		echo "SKIP: $p not installed (Open MPI)"
		exit 77
	fi
done
if ! ompi_info --parsable 2>/dev/null | grep -q '^mca:btl:openib:'; then
	echo "SKIP: Open MPI has no openib BTL"
	exit 77
fi
mpicc -O2 -o "$dir/mpi_ring" "$here/mpi_ring.c" || exit 1

run() {	# run NP BTLS
	timeout 120 mpirun --allow-run-as-root --oversubscribe -np "$1" \
		--mca pml ob1 --mca btl "$2" --mca btl_openib_allow_ib 1 \
		--mca btl_openib_warn_no_device_params_found 0 \
		--mca btl_openib_want_fork_support 0 \
		-x LD_LIBRARY_PATH -x CRS_HCA_SOCKET "$dir/mpi_ring" 10 2>&1
}

fail=0
for np in 2 4; do
	ib=$(run $np openib,self)
	shm=$(run $np vader,self)
	echo "np=$np openib: $ib"
	echo "np=$np vader:  $shm"
	case "$ib" in
	*checksum*) ;;
	*) fail=1 ;;
	esac
	if [ $fail -eq 0 ] && [ "$ib" = "$shm" ]; then
		echo "ok - $np ranks over openib give the shared-memory checksum"
	else
		echo "not ok - $np ranks over openib"
		fail=1
	fi
done
exit $fail
