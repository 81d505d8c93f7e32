/*
 * What the worker programs of the CRIU tests share (pool_worker, soak_worker,
 * scratch_worker): the result file the test script reads ("OK ..." or
 * "FAIL ...", one line, written when the worker ends), the header at the
 * start of a shared pool, and two clock helpers.
 */
#ifndef CRSHIM_TEST_WORKER_COMMON_H
#define CRSHIM_TEST_WORKER_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_RANKS 16
#define HEADER 4096		/* the pool's first page: struct header */
#define WRITING (1ULL << 63)	/* in gen[]: the rank is rewriting its slice */

struct header {
	uint64_t magic;
	uint64_t attached;
	uint64_t done;
	uint64_t gen[MAX_RANKS];
	uint64_t checks[MAX_RANKS];
};

static const char *result_path;	/* set by main from its arguments */
static const char *worker_name;	/* prefix of the line on stderr; none if NULL */

/* Write the result line and exit: 0 if ok, 1 otherwise. */
__attribute__((noreturn, format(printf, 2, 3)))
static void finish(int ok, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f = fopen(result_path, "w");
	if (f) {
		fprintf(f, "%s %s\n", ok ? "OK" : "FAIL", msg);
		fclose(f);
	}
	if (worker_name)
		fprintf(stderr, "%s: %s %s\n", worker_name, ok ? "OK" : "FAIL", msg);
	exit(ok ? 0 : 1);
}

/* Sleep ms milliseconds, through signals. */
static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Milliseconds of CLOCK_MONOTONIC. */
static inline long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

#endif
