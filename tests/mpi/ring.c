/*
 * ring: an MPI job for checkpoint tests.  Each iteration passes a 1 MiB
 * message around the ring (MPI_Sendrecv), then MPI_Allreduce's a running
 * checksum.  Prints the final checksum (identical for an uninterrupted run
 * and a checkpointed/restored one) and "progress I SUM" lines (the running
 * checksum) every 10 iterations.
 *   ring ITERS INTERVAL_MS [MSG_KIB [PRIVATE_MIB]]
 * PRIVATE_MIB: memory each rank fills and keeps (for checkpoint sizes).
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	int rank, size, iters = argc > 1 ? atoi(argv[1]) : 100, ms = argc > 2 ? atoi(argv[2]) : 20;
	size_t n = (size_t)(argc > 3 ? atoi(argv[3]) : 1024) * 1024 / sizeof(uint64_t);
	uint64_t *out, *in, sum = 0, total = 0;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (argc > 4) {
		size_t priv = (size_t)atoi(argv[4]) << 20;
		unsigned char *p = malloc(priv);

		for (size_t k = 0; p && k < priv; k += 4096)
			p[k] = (unsigned char)(k >> 12) | 1;
	}
	out = malloc(n * sizeof(*out));
	in = malloc(n * sizeof(*in));
	for (int it = 1; it <= iters; it++) {
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		uint64_t local = 0;

		for (size_t k = 0; k < n; k++)
			out[k] = (uint64_t)it * 1000003u + (uint64_t)rank * 7919u + k + sum;
		MPI_Sendrecv(out, (int)n, MPI_UINT64_T, (rank + 1) % size, it, in, (int)n, MPI_UINT64_T,
			     (rank + size - 1) % size, it, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		for (size_t k = 0; k < n; k += 61)
			local += in[k] * (k + 1);
		MPI_Allreduce(&local, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
		sum ^= total;
		if (rank == 0 && it % 10 == 0) {
			printf("progress %d %016llx\n", it, (unsigned long long)sum);
			fflush(stdout);
		}
		nanosleep(&ts, NULL);
	}
	if (rank == 0)
		printf("checksum %016llx ranks %d iters %d\n", (unsigned long long)sum, size, iters);
	free(out);
	free(in);
	MPI_Finalize();
	return 0;
}
