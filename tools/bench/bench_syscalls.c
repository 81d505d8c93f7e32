/*
 * bench_syscalls: the hot path cost of the shim's hooks, whole process.
 *
 *   bench_syscalls mmap [N]          N x (mmap 4 KiB anonymous private + munmap)
 *   bench_syscalls mmap-default [N]  the same, placed where the kernel likes
 *   bench_syscalls open PATH [N]     N x (open(PATH, O_RDONLY) + close)
 *
 * N defaults to 1000000.  Prints the elapsed time of the N pairs in
 * nanoseconds (CLOCK_MONOTONIC) as one number on stdout.  A short warm-up
 * (which also lets a preloaded shim finish its lazy set-up) is not timed.
 * Run it with and without LD_PRELOAD=libcrshim.so and compare: see
 * run-core.sh.  The calls go through libc's symbols, so a preloaded shim
 * intercepts them exactly as it would in an application.
 *
 * Where the kernel puts a 4 KiB anonymous mapping by default depends on the
 * process's layout: next to another anonymous read-write mapping it merges
 * into that VMA (and munmap splits it off again), elsewhere it becomes a
 * VMA of its own, and the two paths cost differently.  A preloaded library
 * changes the layout, so "mmap" asks for every mapping at the address of a
 * one-page hole between two PROT_NONE pages (never merged; the address is a
 * hint, not MAP_FIXED): both sides take the same kernel path and the
 * difference is the shim.  "mmap-default" passes NULL (informational: its
 * ratio includes the layout effect).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define WARMUP 1000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *isolated_slot(void)
{
	char *r = mmap(NULL, 3 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (r == MAP_FAILED || munmap(r + 4096, 4096) != 0) {
		fprintf(stderr, "bench_syscalls: cannot reserve a slot: %s\n", strerror(errno));
		return NULL;
	}
	return r + 4096;
}

static int mmap_pairs(void *hint, long n)
{
	for (long i = 0; i < n; i++) {
		void *p = mmap(hint, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			fprintf(stderr, "bench_syscalls: mmap: %s\n", strerror(errno));
			return -1;
		}
		if (hint && p != hint) {
			fprintf(stderr, "bench_syscalls: mmap did not use the free slot %p (got %p)\n", hint, p);
			return -1;
		}
		if (munmap(p, 4096) != 0) {
			fprintf(stderr, "bench_syscalls: munmap: %s\n", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int open_pairs(const char *path, long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY);

		if (fd < 0) {
			fprintf(stderr, "bench_syscalls: open %s: %s\n", path, strerror(errno));
			return -1;
		}
		if (close(fd) != 0) {
			fprintf(stderr, "bench_syscalls: close: %s\n", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static long parse_n(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	return (*end || n <= 0) ? -1 : n;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_syscalls mmap [N]\n"
			"       bench_syscalls mmap-default [N]\n"
			"       bench_syscalls open PATH [N]\n"
			"prints the elapsed nanoseconds of N pairs (default N = 1000000)\n");
}

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	long n = 1000000;
	uint64_t t0, t1;
	const char *thr = getenv("BENCH_IDLE_THREAD");
	pthread_t tid;
	int r;

	/* BENCH_IDLE_THREAD=1: a second, idle thread (glibc's multi-threaded
	 * paths on both sides of a comparison). */
	if (thr && *thr == '1' && pthread_create(&tid, NULL, idle, NULL) != 0)
		return 1;

	if (argc >= 2 && argc <= 3 && (!strcmp(argv[1], "mmap") || !strcmp(argv[1], "mmap-default"))) {
		void *hint = NULL;

		if (argc == 3 && (n = parse_n(argv[2])) < 0)
			goto bad;
		if (!strcmp(argv[1], "mmap") && !(hint = isolated_slot()))
			return 1;
		if (mmap_pairs(hint, WARMUP) < 0)
			return 1;
		t0 = now_ns();
		r = mmap_pairs(hint, n);
		t1 = now_ns();
	} else if (argc >= 3 && argc <= 4 && !strcmp(argv[1], "open")) {
		if (argc == 4 && (n = parse_n(argv[3])) < 0)
			goto bad;
		if (open_pairs(argv[2], WARMUP) < 0)
			return 1;
		t0 = now_ns();
		r = open_pairs(argv[2], n);
		t1 = now_ns();
	} else {
		goto bad;
	}
	if (r < 0)
		return 1;
	printf("%llu\n", (unsigned long long)(t1 - t0));
	return 0;
bad:
	usage();
	return 2;
}
