/*
 * soak_hammer: a program that keeps the shim's hooks busy, for the control
 * protocol soak (test_soak_control.sh) and its ThreadSanitizer run.
 *
 *   soak_hammer NTHREADS SECONDS [STOPFILE]
 *
 * Holds a shared pool (a /dev/shm file, mapped shared and unlinked) and, on
 * each of NTHREADS threads until SECONDS have passed or STOPFILE exists,
 * repeats the calls the shim records: shared anonymous mmap/munmap, open +
 * ftruncate + mmap + munmap + close + unlink of a /dev/shm file,
 * shm_open/shm_unlink, memfd_create, mremap.  Every mapping's content is
 * checked.  With NTHREADS 0 it only holds the pool and sleeps (a quiet
 * target whose memory and fds stay constant).
 * Prints "ready PID" once set up, "done ops N errors E" at the end; exit
 * status 0 when E is 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double deadline;
static const char *stopfile;
static long total_ops, total_errors;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int stop(void)
{
	return now() > deadline || (stopfile && access(stopfile, F_OK) == 0);
}

static int fill_check(unsigned char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i += 512)
		p[i] = (unsigned char)(seed + i / 512);
	for (size_t i = 0; i < len; i += 512)
		if (p[i] != (unsigned char)(seed + i / 512))
			return -1;
	return 0;
}

static void *worker(void *arg)
{
	long id = (long)arg, ops = 0, errors = 0;
	char path[128], shm[64];

	snprintf(path, sizeof(path), "/dev/shm/soak-hammer-%d-%ld", (int)getpid(), id);
	snprintf(shm, sizeof(shm), "/soak-hammer-shm-%d-%ld", (int)getpid(), id);
	for (unsigned it = 0; !stop(); it++) {
		unsigned char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		int fd;

		if (p == MAP_FAILED || fill_check(p, 65536, it) < 0)
			errors++;
		if (p != MAP_FAILED) {
			unsigned char *q = mremap(p, 65536, 131072, MREMAP_MAYMOVE);

			if (q == MAP_FAILED) {
				errors++;
				munmap(p, 65536);
			} else {
				munmap(q, 131072);
			}
		}
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || ftruncate(fd, 8192) < 0) {
			errors++;
		} else {
			p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (p == MAP_FAILED || fill_check(p, 8192, it * 7) < 0)
				errors++;
			if (p != MAP_FAILED)
				munmap(p, 8192);
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
		if (it % 16 == 0) {
			fd = shm_open(shm, O_RDWR | O_CREAT, 0600);
			if (fd < 0)
				errors++;
			else
				close(fd);
			shm_unlink(shm);
		}
		if (it % 64 == 0) {
			fd = memfd_create("soak-hammer", MFD_CLOEXEC);
			if (fd < 0)
				errors++;
			else
				close(fd);
		}
		ops++;
	}
	pthread_mutex_lock(&lock);
	total_ops += ops;
	total_errors += errors;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	int n, fd;
	char pool[128];
	unsigned char *p;
	pthread_t th[64];

	if (argc < 3) {
		fprintf(stderr, "usage: soak_hammer NTHREADS SECONDS [STOPFILE]\n");
		return 2;
	}
	n = atoi(argv[1]);
	if (n < 0 || n > 64)
		n = 4;
	deadline = now() + atof(argv[2]);
	stopfile = argc > 3 ? argv[3] : NULL;
	snprintf(pool, sizeof(pool), "/dev/shm/soak-hammer-pool-%d", (int)getpid());
	fd = open(pool, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		return 1;
	p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 1;
	unlink(pool);
	memset(p, 0x5a, 1 << 20);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (long i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	if (n == 0)
		while (!stop())
			usleep(20000);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; i < (1 << 20); i += 4096)
		if (p[i] != 0x5a)
			total_errors++;
	printf("done ops %ld errors %ld\n", total_ops, total_errors);
	return total_errors ? 1 : 0;
}
