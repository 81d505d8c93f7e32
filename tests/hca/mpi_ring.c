// SPDX-License-Identifier: MIT
/*
 * mpi_ring: 1 MiB MPI_Sendrecv around a ring plus an MPI_Allreduce per
 * iteration; prints a checksum that depends on every byte moved.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int rank, size, n = 1 << 20, iters = argc > 1 ? atoi(argv[1]) : 20;
	long sum = 0, tot;
	char *s, *r;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	s = malloc(n);
	r = malloc(n);
	for (int it = 0; it < iters; it++) {
		for (int i = 0; i < n; i++)
			s[i] = (char)(rank * 31 + it * 7 + i % 251);
		MPI_Sendrecv(s, n, MPI_CHAR, (rank + 1) % size, 0, r, n,
			     MPI_CHAR, (rank + size - 1) % size, 0,
			     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		for (int i = 0; i < n; i++)
			sum = (sum * 31 + (unsigned char)r[i]) % 1000000007;
		MPI_Allreduce(&sum, &tot, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
		sum = tot % 1000000007;
	}
	if (!rank)
		printf("checksum %ld\n", sum);
	free(s);
	free(r);
	MPI_Finalize();
	return 0;
}
