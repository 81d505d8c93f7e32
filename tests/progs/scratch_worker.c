/*
 * scratch_worker: a program with local scratch files, for the scratch
 * policies of `crshim dump`/`restore`.
 *
 *   scratch_worker DIR ITERS RESULT [BIG_MB WRITTEN_MB]
 *
 * Creates DIR/drop/big (BIG_MB sparse, WRITTEN_MB written), DIR/drop/tmp
 * (open, then unlinked: the temp-file idiom, 16 MiB), DIR/keep/k.dat and
 * DIR/save/s.dat (8 MiB each), or nothing at all when DIR is "none" (the
 * baseline).  Every iteration it checks each file: kept and saved files
 * must hold their pattern; when crshim_scratch_dropped() says a file was
 * dropped it must be all zeros at the recorded size, and the program
 * rebuilds it (as a real code would recompute its scratch).
 * RESULT gets "OK ..." or "FAIL reason".
 *
 *   scratch_worker --api DIR ITERS RESULT
 *
 * The same with files marked through crshim_mark_scratch() instead of
 * CRSHIM_SCRATCH: DIR/d.dat (64 MiB sparse, 8 MiB written), marked drop
 * once open, and DIR/s.dat (8 MiB), marked save before it is opened.
 */
#define _GNU_SOURCE
#include "crshim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "worker_common.h"

#define MB (1024 * 1024L)

struct sfile {
	char path[512];
	int fd;
	off_t size, written;
	int dropped_seen;
};

static unsigned char byte_at(off_t off)
{
	return (unsigned char)((off * 131) >> 12 ^ 0x5a);
}

static void fill(struct sfile *f)
{
	static unsigned char buf[1 << 20];

	for (off_t off = 0; off < f->written; off += sizeof(buf)) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = byte_at(off + (off_t)i);
		if (pwrite(f->fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf))
			finish(0, "write %s: %s", f->path, strerror(errno));
	}
	if (ftruncate(f->fd, f->size) < 0)
		finish(0, "ftruncate %s: %s", f->path, strerror(errno));
}

static void make(struct sfile *f, const char *dir, const char *name, off_t size, off_t written, int unlink_it)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "%s/%s", dir, name);
	f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0640);
	if (f->fd < 0)
		finish(0, "open %s: %s", f->path, strerror(errno));
	f->size = size;
	f->written = written;
	fill(f);
	if (unlink_it)
		unlink(f->path);
}

/* Samples across the written part and the hole. */
static int check(struct sfile *f, int expect_zero)
{
	struct stat st;

	if (fstat(f->fd, &st) < 0 || st.st_size != f->size)
		finish(0, "%s: size %lld, expected %lld", f->path, (long long)st.st_size, (long long)f->size);
	for (int i = 0; i < 256; i++) {
		off_t off = (off_t)((uint64_t)f->size / 256 * (uint64_t)i) + i;
		unsigned char b;

		if (pread(f->fd, &b, 1, off) != 1)
			finish(0, "read %s: %s", f->path, strerror(errno));
		if (expect_zero ? b != 0 : b != (off < f->written ? byte_at(off) : 0))
			return 0;
	}
	return 1;
}

static void check_file(struct sfile *f, int droppable)
{
	if (droppable && crshim_scratch_dropped(f->path) == 1 && !f->dropped_seen) {
		if (!check(f, 1))
			finish(0, "%s: dropped but not empty", f->path);
		f->dropped_seen = 1;
		fill(f); /* recompute the scratch */
	}
	if (!check(f, 0))
		finish(0, "%s: content lost", f->path);
}

static void mark(const char *path, int policy)
{
	if (crshim_mark_scratch(path, policy) < 0)
		finish(0, "crshim_mark_scratch %s: %s", path, strerror(errno));
}

static int api_main(int argc, char **argv)
{
	struct sfile drop, save;
	char p[512];
	int iters;

	if (argc < 5) {
		fprintf(stderr, "usage: %s --api DIR ITERS RESULT\n", argv[0]);
		return 2;
	}
	iters = atoi(argv[3]);
	result_path = argv[4];
	make(&drop, argv[2], "d.dat", 64 * MB, 8 * MB, 0);
	mark(drop.path, CRSHIM_SCRATCH_DROP); /* a file already open */
	snprintf(p, sizeof(p), "%s/s.dat", argv[2]);
	mark(p, CRSHIM_SCRATCH_SAVE); /* before it is opened */
	make(&save, argv[2], "s.dat", 8 * MB, 8 * MB, 0);
	printf("ready\n");
	fflush(stdout);
	for (int it = 0; it < iters; it++) {
		check_file(&drop, 1);
		if (crshim_scratch_dropped(save.path) != 0)
			finish(0, "%s (save) reported as dropped", save.path);
		check_file(&save, 0);
		sleep_ms(20);
	}
	finish(1, "api dropped_seen=%d", drop.dropped_seen);
}

int main(int argc, char **argv)
{
	struct sfile big, tmp, keep, save;
	char d[512];
	int iters, none;
	long big_mb = 2048, written_mb = 256;

	if (argc > 1 && !strcmp(argv[1], "--api"))
		return api_main(argc, argv);
	if (argc < 4) {
		fprintf(stderr, "usage: %s DIR ITERS RESULT [BIG_MB WRITTEN_MB]\n", argv[0]);
		return 2;
	}
	iters = atoi(argv[2]);
	result_path = argv[3];
	if (argc > 5) {
		big_mb = atol(argv[4]);
		written_mb = atol(argv[5]);
	}
	none = !strcmp(argv[1], "none");
	if (!none) {
		snprintf(d, sizeof(d), "%s/drop", argv[1]);
		/* SCRATCH_UNLINK_BIG=1: the big file is deleted while open too */
		make(&big, d, "big", big_mb * MB, written_mb * MB, getenv("SCRATCH_UNLINK_BIG") != NULL);
		make(&tmp, d, "tmp", 16 * MB, 16 * MB, 1);
		snprintf(d, sizeof(d), "%s/keep", argv[1]);
		make(&keep, d, "k.dat", 8 * MB, 8 * MB, 0);
		snprintf(d, sizeof(d), "%s/save", argv[1]);
		make(&save, d, "s.dat", 8 * MB, 8 * MB, 0);
	}
	printf("ready\n");
	fflush(stdout);
	for (int it = 0; it < iters; it++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		if (!none) {
			check_file(&big, 1);
			check_file(&tmp, 1);
			check_file(&keep, 0);
			check_file(&save, 0);
		}
		nanosleep(&ts, NULL);
	}
	if (none)
		finish(1, "baseline");
	finish(1, "dropped_seen big=%d tmp=%d", big.dropped_seen, tmp.dropped_seen);
}
