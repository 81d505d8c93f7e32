/*
 * status_files SCRATCHDIR DIR: scratch files that grow after they were
 * opened, and outputs the shim's hooks never see, for `crshim status`
 * (test_shim_status.sh).
 *
 * In SCRATCHDIR (a CRSHIM_SCRATCH directory), opened with open(2):
 *   grow-write   O_WRONLY|O_CREAT|O_TRUNC, then 1 MiB + 123 bytes of write(2)
 *   grow-pwrite  O_RDWR|O_CREAT|O_TRUNC, then 4096 bytes pwrite(2) at 8 MiB - 4096
 *   grow-falloc  O_RDWR|O_CREAT|O_TRUNC, then fallocate(0, 3 MiB)
 * and with fopen (glibc opens it without going through the hooks):
 *   fopen-scratch  "w", 777 bytes
 * In DIR:
 *   fopen.log      fopen "w", 300 bytes          (an output at its end)
 *   fopen-app.log  fopen "a", 200 bytes          (an output, O_APPEND)
 *   fopen-seek.dat fopen "w", 4096 bytes, rewound (not an output)
 *   open.log       open(2) O_WRONLY, 100 bytes   (an output the shim saw)
 * stdout and stderr are whatever the shell gave (the test: `> F`, `2>> G`);
 * one line is written to each.  Prints "F NAME PATH FD" per file, then
 * "ready".  On the stdin line "grow": 64 KiB more write(2) to grow-write,
 * 50 more bytes to fopen.log, a line to stdout, then "ready2".  Exits 0 at
 * the end of stdin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "say.h"

static char buf[1 << 16];

static void die(const char *what, const char *path)
{
	fprintf(stderr, "status_files: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void put(int fd, size_t n, const char *path)
{
	while (n > 0) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);

		if (write(fd, buf, k) != (ssize_t)k)
			die("write", path);
		n -= k;
	}
}

static int opened(const char *dir, const char *name, int flags, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/%s", dir, name);
	fd = open(path, flags, 0644);
	if (fd < 0)
		die("open", path);
	say("F %s %s %d\n", name, path, fd);
	return fd;
}

static FILE *fopened(const char *dir, const char *name, const char *mode, size_t n, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, mode);
	if (!f || fwrite(buf, 1, n, f) != n || fflush(f) != 0)
		die("fopen", path);
	say("F %s %s %d\n", name, path, fileno(f));
	return f;
}

int main(int argc, char **argv)
{
	char path[4096], growpath[4096], logpath[4096], line[64];
	int grow, fd;
	FILE *log, *seek;

	if (argc != 3) {
		fprintf(stderr, "usage: status_files SCRATCHDIR DIR\n");
		return 2;
	}
	memset(buf, 'x', sizeof(buf));
	grow = opened(argv[1], "grow-write", O_WRONLY | O_CREAT | O_TRUNC, growpath, sizeof(growpath));
	put(grow, (1 << 20) + 123, growpath);
	fd = opened(argv[1], "grow-pwrite", O_RDWR | O_CREAT | O_TRUNC, path, sizeof(path));
	if (pwrite(fd, buf, 4096, (8 << 20) - 4096) != 4096)
		die("pwrite", path);
	fd = opened(argv[1], "grow-falloc", O_RDWR | O_CREAT | O_TRUNC, path, sizeof(path));
	if (fallocate(fd, 0, 0, 3 << 20) < 0)
		die("fallocate", path);
	fopened(argv[1], "fopen-scratch", "w", 777, path, sizeof(path));
	log = fopened(argv[2], "fopen.log", "w", 300, logpath, sizeof(logpath));
	fopened(argv[2], "fopen-app.log", "a", 200, path, sizeof(path));
	seek = fopened(argv[2], "fopen-seek.dat", "w", 4096, path, sizeof(path));
	if (fseek(seek, 0, SEEK_SET) != 0)
		die("fseek", path);
	fd = opened(argv[2], "open.log", O_WRONLY | O_CREAT | O_TRUNC, path, sizeof(path));
	put(fd, 100, path);
	if (write(2, "a line on stderr\n", 17) != 17)
		return 1;
	say("ready\n");
	while (fgets(line, sizeof(line), stdin)) {
		if (strcmp(line, "grow\n") != 0)
			continue;
		put(grow, 1 << 16, growpath);
		if (fwrite(buf, 1, 50, log) != 50 || fflush(log) != 0)
			die("fwrite", logpath);
		say("grown\n");
		say("ready2\n");
	}
	return 0;
}
