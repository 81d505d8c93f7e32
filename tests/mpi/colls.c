/*
 * colls: an MPI job for checkpoint tests that uses the collectives.  Each
 * iteration a large message goes around the ring (MPI_Sendrecv), a rotating
 * root broadcasts a block (MPI_Bcast), a vector is summed onto that root
 * (MPI_Reduce), every rank's digest is gathered by all (MPI_Allgather) and
 * the digests are summed (MPI_Allreduce) into a running checksum.  Every
 * operation's result feeds the next iteration's data, so a message lost,
 * repeated or corrupted across a checkpoint changes every line after it.
 * Rank 0 prints "iter I SUM" each iteration and "checksum ..." at the end
 * (identical for an uninterrupted run and a checkpointed/restored one).
 *   colls ITERS INTERVAL_MS [MSG_KIB]
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define VEC 1024 /* elements reduced per iteration */

static uint64_t digest(const uint64_t *v, size_t n, size_t step)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t k = 0; k < n; k += step)
		h = (h ^ v[k]) * 1099511628211ull;
	return h;
}

/* One iteration: returns the running checksum after it. */
static uint64_t step(int it, int rank, int size, uint64_t sum, uint64_t *out, uint64_t *in, size_t n,
		     uint64_t *all)
{
	int root = it % size;
	size_t nb = n / 4 ? n / 4 : 1;
	uint64_t vec[VEC], red[VEC], local, total;

	for (size_t k = 0; k < n; k++)
		out[k] = (uint64_t)it * 1000003u + (uint64_t)rank * 7919u + k + sum;
	MPI_Sendrecv(out, (int)n, MPI_UINT64_T, (rank + 1) % size, it, in, (int)n, MPI_UINT64_T,
		     (rank + size - 1) % size, it, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	/* The root broadcasts the first quarter of what it received. */
	MPI_Bcast(in, (int)nb, MPI_UINT64_T, root, MPI_COMM_WORLD);
	for (int k = 0; k < VEC; k++)
		vec[k] = in[(size_t)k * 131 % n] + (uint64_t)rank * (uint64_t)(k + 1);
	MPI_Reduce(vec, red, VEC, MPI_UINT64_T, MPI_SUM, root, MPI_COMM_WORLD);
	local = digest(in, n, 61) ^ (rank == root ? digest(red, VEC, 1) : 0);
	MPI_Allgather(&local, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
	local = digest(all, (size_t)size, 1) + (uint64_t)rank;
	MPI_Allreduce(&local, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
	return sum * 31 ^ total;
}

int main(int argc, char **argv)
{
	int rank, size, iters = argc > 1 ? atoi(argv[1]) : 100, ms = argc > 2 ? atoi(argv[2]) : 20;
	size_t n = (size_t)(argc > 3 ? atoi(argv[3]) : 1024) * 1024 / sizeof(uint64_t);
	uint64_t *out, *in, *all, sum = 0;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (n == 0)
		n = 1;
	out = malloc(n * sizeof(*out));
	in = malloc(n * sizeof(*in));
	all = malloc((size_t)size * sizeof(*all));
	if (!out || !in || !all)
		MPI_Abort(MPI_COMM_WORLD, 1);
	for (int it = 1; it <= iters; it++) {
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		sum = step(it, rank, size, sum, out, in, n, all);
		if (rank == 0) {
			printf("iter %d %016llx\n", it, (unsigned long long)sum);
			fflush(stdout);
		}
		if (ms > 0)
			nanosleep(&ts, NULL);
	}
	if (rank == 0)
		printf("checksum %016llx ranks %d iters %d\n", (unsigned long long)sum, size, iters);
	free(out);
	free(in);
	free(all);
	MPI_Finalize();
	return 0;
}
