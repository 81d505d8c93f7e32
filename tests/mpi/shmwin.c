/*
 * shmwin: ranks on one node share a window from MPI_Win_allocate_shared
 * (a shared-memory segment Open MPI maps into every rank).  Each iteration
 * every rank writes its slice, a barrier, then every rank reads all slices
 * into a running checksum.  Prints "progress I SUM" every 10 iterations
 * and the checksum (identical for an uninterrupted and a
 * checkpointed/restored run).
 *   shmwin ITERS INTERVAL_MS [KIB_PER_RANK]
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	int rank, size, iters = argc > 1 ? atoi(argv[1]) : 100, ms = argc > 2 ? atoi(argv[2]) : 20;
	MPI_Aint n = (MPI_Aint)(argc > 3 ? atoi(argv[3]) : 1024) * 1024 / (MPI_Aint)sizeof(uint64_t);
	uint64_t *mine, sum = 0;
	MPI_Comm node;
	MPI_Win win;

	MPI_Init(&argc, &argv);
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
	MPI_Comm_rank(node, &rank);
	MPI_Comm_size(node, &size);
	MPI_Win_allocate_shared(n * (MPI_Aint)sizeof(uint64_t), sizeof(uint64_t), MPI_INFO_NULL, node, &mine, &win);
	for (int it = 1; it <= iters; it++) {
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		MPI_Win_lock_all(0, win);
		for (MPI_Aint k = 0; k < n; k++)
			mine[k] = (uint64_t)it * 2654435761u + (uint64_t)rank * 40503u + (uint64_t)k + sum;
		MPI_Win_sync(win);
		MPI_Barrier(node);
		for (int r = 0; r < size; r++) {
			MPI_Aint sz;
			int du;
			uint64_t *theirs;

			MPI_Win_shared_query(win, r, &sz, &du, &theirs);
			for (MPI_Aint k = 0; k < n; k += 127)
				sum = sum * 31 + theirs[k];
		}
		MPI_Win_unlock_all(win);
		MPI_Barrier(node);
		if (rank == 0 && it % 10 == 0) {
			printf("progress %d %016llx\n", it, (unsigned long long)sum);
			fflush(stdout);
		}
		nanosleep(&ts, NULL);
	}
	if (rank == 0)
		printf("checksum %016llx ranks %d iters %d\n", (unsigned long long)sum, size, iters);
	MPI_Win_free(&win);
	MPI_Comm_free(&node);
	MPI_Finalize();
	return 0;
}
