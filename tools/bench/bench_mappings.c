/*
 * bench_mappings: many MAP_SHARED file mappings, for measuring what the
 * shim's registry costs per recorded mapping.
 *
 *   bench_mappings N FILE
 *
 * Creates FILE (a tmpfs file, e.g. under /dev/shm; one page), then:
 *   prints "phase0 PID VmRSS_KB" and waits for SIGUSR1 so the caller can look
 *   at /proc/PID; after SIGUSR1, maps the file's page N times
 *   (MAP_SHARED, alternately read-only and read-write, every mapping at file
 *   offset 0 so neighbouring mappings can never merge into one VMA), touches
 *   none of them, prints "phase1 PID VmRSS_KB VMAS VmRSS0_KB" and waits again
 *   (the shim's control thread keeps answering); after the next SIGUSR1 it
 *   unlinks FILE and exits.
 * VmRSS is read with raw read(2) into a static buffer, so measuring adds no
 * heap.  The caller compares the growth with and without the shim
 * (run-core.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char buf[1 << 16];

static long read_proc(const char *path)
{
	int fd = open(path, O_RDONLY);
	long n = 0, r;

	if (fd < 0)
		return -1;
	while (n < (long)sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	return n;
}

static long vmrss_kb(void)
{
	char *p;

	if (read_proc("/proc/self/status") < 0 || !(p = strstr(buf, "VmRSS:")))
		return -1;
	return strtol(p + 6, NULL, 10);
}

static void wait_usr1(void)
{
	sigset_t s;
	int sig;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigwait(&s, &sig);
}

static long count_vmas(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	long n, rss0, rss1, vmas;
	int fd;

	if (argc != 3 || (n = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: bench_mappings N FILE\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	{
		sigset_t s;

		sigemptyset(&s);
		sigaddset(&s, SIGUSR1);
		sigprocmask(SIG_BLOCK, &s, NULL);
	}
	fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 4096) < 0) {
		fprintf(stderr, "bench_mappings: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	/* Warm what the second phase uses (stdio, the proc reader). */
	vmas = count_vmas();
	rss0 = vmrss_kb();
	printf("phase0 %d %ld\n", (int)getpid(), rss0);
	wait_usr1();
	rss0 = vmrss_kb();
	for (long i = 0; i < n; i++) {
		int prot = (i & 1) ? PROT_READ | PROT_WRITE : PROT_READ;

		if (mmap(NULL, 4096, prot, MAP_SHARED, fd, 0) == MAP_FAILED) {
			fprintf(stderr, "bench_mappings: mmap %ld: %s\n", i, strerror(errno));
			unlink(argv[2]);
			return 1;
		}
	}
	rss1 = vmrss_kb();
	vmas = count_vmas();
	printf("phase1 %d %ld %ld %ld\n", (int)getpid(), rss1, vmas, rss0);
	wait_usr1();
	unlink(argv[2]);
	return 0;
}
