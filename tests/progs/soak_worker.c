/*
 * soak_worker: one of N independently started processes sharing a pool, as
 * tests/progs/pool_worker.c, but running until told to stop, so that a test
 * can checkpoint and restore it any number of times, and verifying every
 * byte of the pool at the end.
 *
 *   soak_worker NAME RANK NRANKS SIZE_MB INTERVAL_MS STOPFILE RESULT_FILE
 *
 * Rank 0 creates /dev/shm/NAME, the others open it; all map it shared; once
 * all are attached rank 0 unlinks it (an unlinked pool, held by an fd and
 * a mapping).  Each rank fills its slice once with a pattern of (rank,
 * word), then, every INTERVAL_MS until STOPFILE exists, bumps its
 * generation and rewrites 65 sample words of its slice with a pattern of
 * (rank, word, generation) under a seqlock, and checks the other ranks'
 * sample words against their published generations.  At the stop all ranks
 * meet at a barrier in the pool (it completes only through shared memory)
 * and check every word of every slice.  RESULT_FILE gets
 * "OK rank R gen G checks C" or "FAIL reason"; exit status 0 or 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "worker_common.h"

#define MAGIC 0x43525348534f414bULL /* "CRSHSOAK" */
#define SAMPLES 64

static uint64_t fill(int rank, uint64_t k)
{
	return 0x5eed000000000000ULL ^ ((uint64_t)rank << 48) ^ (k * 0x9e3779b97f4a7c15ULL);
}

static uint64_t sample(int rank, uint64_t k, uint64_t gen)
{
	return (gen * 0x100000001b3ULL) ^ ((uint64_t)rank << 56) ^ (k * 0xff51afd7ed558ccdULL);
}

static size_t sample_index(size_t s, size_t words)
{
	return s == SAMPLES ? words - 1 : s * (words / SAMPLES);
}

static int is_sample(size_t k, size_t words)
{
	if (k == words - 1)
		return 1;
	return words / SAMPLES && k % (words / SAMPLES) == 0 && k / (words / SAMPLES) < SAMPLES;
}

int main(int argc, char **argv)
{
	const char *name, *stopfile;
	int rank, nranks, interval, fd = -1;
	size_t size, slice_bytes, words;
	char path[256];
	struct header *h;
	char *base;
	long deadline;
	uint64_t gen = 0;

	if (argc != 8) {
		fprintf(stderr, "usage: %s NAME RANK NRANKS SIZE_MB INTERVAL_MS STOPFILE RESULT_FILE\n", argv[0]);
		return 2;
	}
	name = argv[1];
	rank = atoi(argv[2]);
	nranks = atoi(argv[3]);
	size = (size_t)atol(argv[4]) << 20;
	interval = atoi(argv[5]);
	stopfile = argv[6];
	worker_name = "soak_worker";
	result_path = argv[7];
	if (nranks < 1 || nranks > MAX_RANKS || rank < 0 || rank >= nranks || size < 2 * HEADER)
		finish(0, "bad arguments");
	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	for (int tries = 0; fd < 0 && tries < 1000; tries++) {
		fd = open(path, rank == 0 ? O_RDWR | O_CREAT | O_EXCL : O_RDWR, 0600);
		if (fd < 0 && rank == 0)
			finish(0, "cannot create %s: %s", path, strerror(errno));
		if (fd < 0)
			sleep_ms(20);
	}
	if (fd < 0)
		finish(0, "cannot open %s: %s", path, strerror(errno));
	if (rank == 0 && ftruncate(fd, (off_t)size) < 0)
		finish(0, "ftruncate: %s", strerror(errno));
	for (struct stat st; fstat(fd, &st) == 0 && (size_t)st.st_size < size;)
		sleep_ms(10);
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		finish(0, "mmap: %s", strerror(errno));
	h = (struct header *)base;
	slice_bytes = ((size - HEADER) / (size_t)nranks) & ~(size_t)4095;
	words = slice_bytes / 8;
	{
		uint64_t *mine = (uint64_t *)(base + HEADER + (size_t)rank * slice_bytes);

		for (size_t k = 0; k < words; k++)
			mine[k] = is_sample(k, words) ? sample(rank, k, 0) : fill(rank, k);
	}
	if (rank == 0)
		h->magic = MAGIC;
	__atomic_add_fetch(&h->attached, 1, __ATOMIC_SEQ_CST);
	deadline = now_ms() + 60000;
	while (__atomic_load_n(&h->attached, __ATOMIC_SEQ_CST) < (uint64_t)nranks)
		if (now_ms() > deadline)
			finish(0, "only %llu of %d ranks attached", (unsigned long long)h->attached, nranks);
		else
			sleep_ms(5);
	if (rank == 0)
		unlink(path);
	printf("ready rank %d pid %d\n", rank, (int)getpid());
	fflush(stdout);

	while (access(stopfile, F_OK) != 0) {
		uint64_t *mine = (uint64_t *)(base + HEADER + (size_t)rank * slice_bytes);

		gen++;
		__atomic_store_n(&h->gen[rank], gen | WRITING, __ATOMIC_SEQ_CST);
		for (size_t s = 0; s <= SAMPLES; s++) {
			size_t k = sample_index(s, words);

			mine[k] = sample(rank, k, gen);
		}
		__atomic_store_n(&h->gen[rank], gen, __ATOMIC_SEQ_CST);
		for (int r = 0; r < nranks; r++) {
			const uint64_t *theirs = (uint64_t *)(base + HEADER + (size_t)r * slice_bytes);
			uint64_t g1, g2;
			int ok = 1;

			if (r == rank)
				continue;
			g1 = __atomic_load_n(&h->gen[r], __ATOMIC_ACQUIRE);
			if (g1 & WRITING)
				continue;
			for (size_t s = 0; s <= SAMPLES; s++) {
				size_t k = sample_index(s, words);

				ok &= theirs[k] == sample(r, k, g1);
			}
			g2 = __atomic_load_n(&h->gen[r], __ATOMIC_ACQUIRE);
			if (g1 == g2 && !ok)
				finish(0, "rank %d: slice of rank %d does not match its generation %llu", rank, r,
				       (unsigned long long)g1);
			__atomic_add_fetch(&h->checks[rank], 1, __ATOMIC_RELAXED);
		}
		if (h->magic != MAGIC)
			finish(0, "pool header lost");
		if (gen != (__atomic_load_n(&h->gen[rank], __ATOMIC_ACQUIRE) & ~WRITING))
			finish(0, "rank %d: own generation in the pool is %llu, not %llu", rank,
			       (unsigned long long)h->gen[rank], (unsigned long long)gen);
		sleep_ms(interval);
	}
	__atomic_add_fetch(&h->done, 1, __ATOMIC_SEQ_CST);
	deadline = now_ms() + 60000;
	while (__atomic_load_n(&h->done, __ATOMIC_SEQ_CST) < (uint64_t)nranks)
		if (now_ms() > deadline)
			finish(0, "sharing broken: rank %d sees %llu of %d ranks done", rank, (unsigned long long)h->done,
			       nranks);
		else
			sleep_ms(5);
	for (int r = 0; r < nranks; r++) {
		const uint64_t *theirs = (uint64_t *)(base + HEADER + (size_t)r * slice_bytes);
		uint64_t g = __atomic_load_n(&h->gen[r], __ATOMIC_ACQUIRE);

		for (size_t k = 0; k < words; k++)
			if (theirs[k] != (is_sample(k, words) ? sample(r, k, g) : fill(r, k)))
				finish(0, "final content of rank %d's slice is wrong at word %zu", r, k);
	}
	finish(1, "rank %d gen %llu checks %llu", rank, (unsigned long long)gen, (unsigned long long)h->checks[rank]);
}
