/*
 * shim_forkexec: fork while other threads are busy creating and destroying
 * shared mappings, so a test can check that every child's copy of the
 * records is consistent (with the child's own /proc) and that the child
 * gets its own working endpoint.
 *
 *   shim_forkexec NCHILDREN NTHREADS WORKDIR [grow]
 *
 * NTHREADS threads each keep 16 slots of shared memory and keep replacing
 * one slot after another (munmap the old, then a new MAP_SHARED anonymous
 * mapping, memfd mapping or mapping of an unlinked file in WORKDIR).
 * Meanwhile the main thread forks NCHILDREN children, about 3 ms apart.
 * With "grow" the threads never unmap: each makes 90 new mappings as fast
 * as it can and stops, and the children are forked back to back, so every
 * difference between a child's records and its /proc comes from the fork
 * itself (no munmap/mmap address reuse involved).
 * Each child maps a memfd "crs-fchild" of its own, checks that mmap/munmap
 * still work (no lock left held by the fork), prints
 *   R memfd-child PID /memfd:crs-fchild ADDR 4096 0 rw-s FD DEV INO - -
 *   child PID
 * and waits until the parent ends.  Once all are forked the threads stop
 * (their last mappings stay), the parent prints "ready PID" and waits for
 * its input to end; then the children exit(0), are reaped, and the parent
 * exits 0 if every child did ("children ok N") or 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define SLOTS 16
#define MAX_CHILDREN 256
#define MAX_THREADS 32

static const char *workdir;
static volatile int stop;
static int grow;
static pthread_barrier_t started;

static void die(const char *what)
{
	char b[256];
	int n = snprintf(b, sizeof(b), "shim_forkexec[%d]: %s: %s\n", (int)getpid(), what, strerror(errno));

	if (write(2, b, (size_t)n) < 0)
		_exit(3);
	_exit(2);
}

/* One write per line: parent and children share stdout. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char b[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (write(1, b, (size_t)n) != n)
		die("write");
}

static char *new_mapping(int t, unsigned long i)
{
	char path[600];
	char *p;
	int fd;

	switch (i % 3) {
	case 0:
		p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		break;
	case 1:
		fd = memfd_create("crs-fork", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, PAGE) < 0)
			die("memfd");
		p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		break;
	default:
		snprintf(path, sizeof(path), "%s/fork-%d-%lu", workdir, t, i);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || ftruncate(fd, PAGE) < 0)
			die(path);
		p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		unlink(path);
		close(fd);
		break;
	}
	if (p == MAP_FAILED)
		die("mmap");
	p[0] = (char)i;
	return p;
}

static void *churn(void *arg)
{
	int t = (int)(intptr_t)arg;
	char *slot[SLOTS] = { 0 };
	unsigned long i = 0;

	pthread_barrier_wait(&started);
	while (!stop) {
		int s = (int)(i % SLOTS);

		if (grow) {
			if (i == 90)
				break;
			new_mapping(t, i++);
			continue;
		}
		if (slot[s] && munmap(slot[s], PAGE) < 0)
			die("munmap");
		slot[s] = new_mapping(t, i);
		i++;
	}
	return NULL;
}

static void child(int rfd)
{
	struct stat st;
	char c, *p, *q;
	int fd = memfd_create("crs-fchild", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, PAGE) < 0 || fstat(fd, &st) < 0)
		die("child memfd");
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	q = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || q == MAP_FAILED || munmap(q, PAGE) < 0)
		die("child mmap");
	p[0] = 1;
	say("R memfd-child %d /memfd:crs-fchild %p %d 0 rw-s %d %llu %llu - -\n", (int)getpid(), (void *)p, PAGE, fd,
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	say("child %d\n", (int)getpid());
	while (read(rfd, &c, 1) < 0 && errno == EINTR)
		;
	exit(0);
}

int main(int argc, char **argv)
{
	pthread_t tids[MAX_THREADS];
	pid_t kids[MAX_CHILDREN];
	int nchild, nthr, pfd[2], good = 0;
	struct timespec gap = { 0, 3 * 1000 * 1000 };
	char buf[64];

	if ((argc != 4 && !(argc == 5 && !strcmp(argv[4], "grow"))) || (nchild = atoi(argv[1])) < 1 || nchild > MAX_CHILDREN ||
	    (nthr = atoi(argv[2])) < 0 || nthr > MAX_THREADS) {
		fprintf(stderr, "usage: shim_forkexec NCHILDREN NTHREADS WORKDIR [grow]\n");
		return 2;
	}
	workdir = argv[3];
	grow = argc == 5;
	if (grow)
		gap.tv_nsec = 0;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		die("pipe");
	pthread_barrier_init(&started, NULL, (unsigned)nthr + 1);
	for (int t = 0; t < nthr; t++)
		if (pthread_create(&tids[t], NULL, churn, (void *)(intptr_t)t) != 0)
			die("pthread_create");
	pthread_barrier_wait(&started);
	if (gap.tv_nsec)
		nanosleep(&gap, NULL);
	for (int k = 0; k < nchild; k++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			close(pfd[1]);
			child(pfd[0]);
		}
		kids[k] = pid;
		if (gap.tv_nsec)
			nanosleep(&gap, NULL);
	}
	stop = 1;
	for (int t = 0; t < nthr; t++)
		pthread_join(tids[t], NULL);
	close(pfd[0]);
	say("ready %d\n", (int)getpid());
	while (read(0, buf, sizeof(buf)) > 0)
		;
	close(pfd[1]);
	for (int k = 0; k < nchild; k++) {
		int st;

		if (waitpid(kids[k], &st, 0) == kids[k] && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			good++;
	}
	say("children ok %d\n", good);
	return good == nchild ? 0 : 1;
}
