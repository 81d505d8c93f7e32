/*
 * fault_forker: a program that forks all the time, for dumps that happen
 * while children come and go (test_fault_prepare.sh).
 *
 *   fault_forker STOPFILE RESULT_FILE
 *
 * Maps a shared pool (a /dev/shm file, unlinked).  Until STOPFILE exists it
 * forks a child that increments a counter in the pool, writes a page of it,
 * sleeps 2-10 ms and exits 0; the parent waits for it and counts.  At the
 * stop the pool's counter must equal the number of children that exited 0
 * (the pool is shared with every child, before and after a restore).
 * RESULT_FILE gets
 * "OK children N" or "FAIL reason".  Prints "ready PID".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POOL (4u << 20)
#define PAGES (POOL / 4096 - 1)

int main(int argc, char **argv)
{
	char path[128];
	uint64_t *counter, children = 0, failed = 0;
	unsigned char *pool;
	FILE *f;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: fault_forker STOPFILE RESULT_FILE\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/dev/shm/fault-forker-%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, POOL) < 0)
		return 1;
	pool = mmap(NULL, POOL, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pool == MAP_FAILED)
		return 1;
	unlink(path);
	counter = (uint64_t *)pool;
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (access(argv[1], F_OK) != 0) {
		pid_t c = fork();
		int st;

		if (c == 0) {
			uint64_t n = __atomic_add_fetch(counter, 1, __ATOMIC_SEQ_CST);
			struct timespec ts = { 0, (long)(2 + n % 9) * 1000000L };

			memset(pool + 4096 * (1 + n % PAGES), (int)(n & 0xff), 4096);
			nanosleep(&ts, NULL);
			_exit(0);
		}
		if (c < 0) {
			usleep(1000);
			continue;
		}
		while (waitpid(c, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			children++;
		else
			failed++;
	}
	f = fopen(argv[2], "w");
	if (!f)
		return 1;
	if (failed || *counter != children)
		fprintf(f, "FAIL children %llu failed %llu counter %llu\n", (unsigned long long)children,
			(unsigned long long)failed, (unsigned long long)*counter);
	else
		fprintf(f, "OK children %llu\n", (unsigned long long)children);
	fclose(f);
	return failed || *counter != children;
}
