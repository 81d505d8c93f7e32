/*
 * fault_signals: signals arriving inside the shim's hooks.
 *
 *   fault_signals STOPFILE RESULT_FILE [TIMER_US]
 *
 * A timer (SIGALRM every TIMER_US, default 200) and SIGUSR1 (sent from
 * outside) interrupt a main loop that keeps calling what the shim hooks:
 * shared mmap/mremap/munmap, open/ftruncate/close/unlink in /dev/shm,
 * shm_open/shm_unlink, memfd_create.  The handlers make the same kinds of
 * calls (mmap, munmap, open, ftruncate, close, unlink, shm_open) on their
 * own names, so a signal often lands while the interrupted thread is
 * inside a hook of the same family.  Every mapping's content is checked,
 * and a shared pool (a /dev/shm file, unlinked) counts the loops.  Runs
 * until STOPFILE exists; RESULT_FILE gets "OK loops N handlers H" or
 * "FAIL reason".  Prints "ready PID".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t handler_errors;
static volatile uint64_t handlers;
static char hpath[128], hshm[64];

static int touch(unsigned char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i += 1024)
		p[i] = (unsigned char)(seed + i);
	for (size_t i = 0; i < len; i += 1024)
		if (p[i] != (unsigned char)(seed + i))
			return -1;
	return 0;
}

static void on_signal(int sig)
{
	int saved = errno, fd;
	unsigned char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || touch(p, 8192, (unsigned)sig) < 0)
		handler_errors++;
	if (p != MAP_FAILED)
		munmap(p, 8192);
	fd = open(hpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (ftruncate(fd, 4096) == 0) {
			p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (p == MAP_FAILED || touch(p, 4096, 7) < 0)
				handler_errors++;
			if (p != MAP_FAILED)
				munmap(p, 4096);
		}
		close(fd);
		unlink(hpath);
	} else {
		handler_errors++;
	}
	if ((handlers & 7) == 0) {
		fd = shm_open(hshm, O_RDWR | O_CREAT, 0600);
		if (fd >= 0)
			close(fd);
		shm_unlink(hshm);
	}
	handlers++;
	errno = saved;
}

int main(int argc, char **argv)
{
	char path[128], pool_path[128];
	struct sigaction sa;
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	uint64_t loops = 0, errors = 0, *pool;
	int pfd;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: fault_signals STOPFILE RESULT_FILE [TIMER_US]\n");
		return 2;
	}
	if (argc > 3)
		it.it_interval.tv_usec = it.it_value.tv_usec = atoi(argv[3]);
	snprintf(hpath, sizeof(hpath), "/dev/shm/fault-signals-%d-h", (int)getpid());
	snprintf(hshm, sizeof(hshm), "/fault-signals-%d-hshm", (int)getpid());
	snprintf(path, sizeof(path), "/dev/shm/fault-signals-%d-m", (int)getpid());
	snprintf(pool_path, sizeof(pool_path), "/dev/shm/fault-signals-%d-pool", (int)getpid());
	pfd = open(pool_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (pfd < 0 || ftruncate(pfd, 1 << 20) < 0)
		return 1;
	pool = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, pfd, 0);
	if (pool == MAP_FAILED)
		return 1;
	unlink(pool_path);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_flags = 0; /* SIGUSR1 interrupts what it can */
	sigaction(SIGUSR1, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (access(argv[1], F_OK) != 0) {
		unsigned char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		int fd;

		if (p == MAP_FAILED || touch(p, 65536, (unsigned)loops) < 0) {
			errors++;
		} else {
			unsigned char *q = mremap(p, 65536, 131072, MREMAP_MAYMOVE);

			if (q == MAP_FAILED || touch(q, 65536, (unsigned)loops) < 0)
				errors++;
			munmap(q == MAP_FAILED ? p : q, q == MAP_FAILED ? 65536 : 131072);
		}
		do
			fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		while (fd < 0 && errno == EINTR);
		if (fd < 0 || ftruncate(fd, 16384) < 0) {
			errors++;
		} else {
			p = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (p == MAP_FAILED || touch(p, 16384, 3) < 0)
				errors++;
			if (p != MAP_FAILED)
				munmap(p, 16384);
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
		if (loops % 16 == 0) {
			fd = memfd_create("fault-signals", MFD_CLOEXEC);
			if (fd >= 0)
				close(fd);
		}
		__atomic_add_fetch(&pool[0], 1, __ATOMIC_SEQ_CST);
		loops++;
		if (pool[0] != loops)
			errors++;
	}
	it.it_interval.tv_usec = it.it_value.tv_usec = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	f = fopen(argv[2], "w");
	if (!f)
		return 1;
	if (errors || handler_errors)
		fprintf(f, "FAIL loops %llu errors %llu handler_errors %d\n", (unsigned long long)loops,
			(unsigned long long)errors, (int)handler_errors);
	else
		fprintf(f, "OK loops %llu handlers %llu\n", (unsigned long long)loops, (unsigned long long)handlers);
	fclose(f);
	return errors || handler_errors;
}
