/*
 * pool_bench_worker: the workload of run-pools.sh (issue 3's benchmark):
 * processes sharing one pool, each with its own dirty private memory.
 *
 *   pool_bench_worker create NAME POOL_MiB PRIVATE_MiB NWORKERS
 *   pool_bench_worker attach NAME POOL_MiB PRIVATE_MiB NWORKERS
 *   pool_bench_worker tree   NAME POOL_MiB PRIVATE_MiB NWORKERS
 *   pool_bench_worker subreaper PROGRAM [ARG...]
 *
 * create: opens /dev/shm/NAME (O_CREAT|O_EXCL), sizes it, maps it
 *         MAP_SHARED, fills all of it (so every pool page exists), and once
 *         NWORKERS processes (itself included) are attached, unlinks the
 *         name: the pool lives on only in the processes.
 * attach: waits for the creator, opens and maps the same file.
 * tree:   forks NWORKERS children (the first creates, the others attach)
 *         and waits for them: one parent with the workers as children.
 * Each worker dirties PRIVATE_MiB of anonymous private memory with a
 * non-zero pattern, prints "ready ROLE PID", then loops until killed
 * touching one page of its private memory and one of its pool slice every
 * 20 ms (the data stays live without burning a CPU).  Standalone workers
 * and the tree parent call setsid(): each is its own session leader, so it
 * can be dumped without --shell-job.
 *
 * subreaper: makes itself a child subreaper (PR_SET_CHILD_SUBREAPER) and
 *         execs PROGRAM: processes orphaned below it (CRIU-restored trees,
 *         whose `criu restore -d` exited) are reparented to PROGRAM (a shell
 *         reaps them) instead of to PID 1, which in some containers never
 *         reaps.
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x4352534842454e43ULL /* "CRSHBENC" */
#define PAGE 4096

struct header {
	uint64_t magic;	   /* set by the creator once the pool is filled */
	uint64_t attached; /* workers attached, the creator included */
};

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	fprintf(stderr, "pool_bench_worker[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(e));
	exit(1);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void say(const char *role)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "ready %s %d\n", role, (int)getpid());

	/* One write: the workers of a tree share the output file. */
	if (write(1, line, (size_t)n) != n)
		exit(1);
}

static void fill(uint64_t *p, size_t bytes, uint64_t seed)
{
	for (size_t k = 0; k < bytes / 8; k++)
		p[k] = (seed + k) * 0x9e3779b97f4a7c15ULL | 1;
}

static int worker(int create, const char *name, size_t pool, size_t priv, int nworkers)
{
	char path[256];
	struct header *h;
	uint64_t rank, *mine;
	char *base, *pv;
	size_t slice;
	int fd = -1;

	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	if (create) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || ftruncate(fd, (off_t)pool) < 0)
			die("cannot create %s", path);
	} else {
		for (int tries = 0; fd < 0; tries++) {
			fd = open(path, O_RDWR | O_CLOEXEC);
			if (fd < 0 && (errno != ENOENT || tries > 3000))
				die("cannot open %s", path);
			if (fd < 0)
				sleep_ms(10);
		}
		for (struct stat st; fstat(fd, &st) == 0 && (size_t)st.st_size < pool;)
			sleep_ms(10);
	}
	base = mmap(NULL, pool, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		die("cannot map %s", path);
	/* The fd stays open: the pool is held by an fd and a mapping, as in
	 * the applications of issue 3. */
	h = (struct header *)base;
	if (create) {
		fill((uint64_t *)(base + PAGE), pool - PAGE, 0x1234);
		h->attached = 1;
		__atomic_store_n(&h->magic, MAGIC, __ATOMIC_RELEASE);
		rank = 0;
	} else {
		for (int tries = 0; __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != MAGIC; tries++) {
			if (tries > 3000) {
				errno = ETIMEDOUT;
				die("the creator of %s never filled it", path);
			}
			sleep_ms(10);
		}
		rank = __atomic_fetch_add(&h->attached, 1, __ATOMIC_SEQ_CST);
	}

	pv = mmap(NULL, priv, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pv == MAP_FAILED)
		die("cannot map the private memory");
	fill((uint64_t *)pv, priv, 0xabcd0000ULL + (uint64_t)getpid());

	for (int tries = 0; __atomic_load_n(&h->attached, __ATOMIC_SEQ_CST) < (uint64_t)nworkers; tries++) {
		if (tries > 6000) {
			errno = ETIMEDOUT;
			die("not all workers attached to %s", path);
		}
		sleep_ms(5);
	}
	if (create)
		unlink(path);
	say(create ? "create" : "attach");

	slice = ((pool - PAGE) / (size_t)nworkers) & ~(size_t)(PAGE - 1);
	mine = (uint64_t *)(base + PAGE + (size_t)(rank % (uint64_t)nworkers) * slice);
	for (uint64_t it = 0;; it++) {
		size_t pg = (size_t)it % (priv / PAGE), sp = (size_t)it % (slice / PAGE);

		((volatile uint64_t *)pv)[pg * (PAGE / 8)] += 1;
		((volatile uint64_t *)mine)[sp * (PAGE / 8)] += 1;
		sleep_ms(20);
	}
	return 0;
}

static size_t mib(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v <= 0 || v > (1L << 20)) {
		fprintf(stderr, "pool_bench_worker: '%s' is not a size in MiB\n", s);
		exit(2);
	}
	return (size_t)v << 20;
}

int main(int argc, char **argv)
{
	size_t pool, priv;
	int n;

	if (argc >= 3 && !strcmp(argv[1], "subreaper")) {
		if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
			die("%s", "prctl(PR_SET_CHILD_SUBREAPER)");
		execvp(argv[2], argv + 2);
		die("cannot run %s", argv[2]);
	}
	if (argc != 6) {
		fprintf(stderr, "usage: pool_bench_worker create|attach|tree NAME POOL_MiB PRIVATE_MiB NWORKERS\n"
				"       pool_bench_worker subreaper PROGRAM [ARG...]\n");
		return 2;
	}
	pool = mib(argv[3]);
	priv = mib(argv[4]);
	n = atoi(argv[5]);
	if (n < 1 || n > 64) {
		fprintf(stderr, "pool_bench_worker: NWORKERS must be 1..64\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(argv[1], "create") || !strcmp(argv[1], "attach")) {
		setsid();
		return worker(!strcmp(argv[1], "create"), argv[2], pool, priv, n);
	}
	if (strcmp(argv[1], "tree")) {
		fprintf(stderr, "pool_bench_worker: unknown role '%s'\n", argv[1]);
		return 2;
	}
	setsid();
	for (int i = 0; i < n; i++) {
		pid_t c = fork();

		if (c < 0)
			die("%s", "fork");
		if (c == 0)
			_exit(worker(i == 0, argv[2], pool, priv, n));
	}
	/* The parent: reap the workers; end when they all ended. */
	while (wait(NULL) > 0 || errno == EINTR)
		;
	return 0;
}
