/*
 * shim_allocator: a program with its own allocator.  It defines malloc,
 * free, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc,
 * pvalloc and malloc_usable_size (so libc, the loader and libcrshim.so's
 * dependencies all use it) on top of mmap, munmap and mremap, and it calls
 * those while holding its one (error-checking) mutex.  If anything the shim
 * does inside its mmap hooks called back into malloc on the same thread,
 * the mutex would report EDEADLK and the program aborts with a message;
 * a lock-order inversion with another thread would hang (the test runs it
 * under timeout).
 *
 *   shim_allocator NTHREADS ITERATIONS
 *
 * Every thread runs a deterministic mix of malloc, calloc, realloc,
 * posix_memalign and free over 64 live blocks, checking contents, zeroing
 * and alignment.  Blocks of 64 KiB and more get their own mapping, every
 * other one MAP_SHARED (so the shim records them); smaller ones come from
 * 1 MiB chunks.  Prints "thread T sum S" per thread and "total N"
 * (the same with or without the shim), then keeps 4 large shared blocks,
 * prints "R anon 0 - ADDR LEN 0 rw-s - - - - -" for each and "ready PID",
 * and waits for its input to end.
 */
#define _GNU_SOURCE
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* A sanitizer runtime owns malloc: this program cannot replace it. */
#include <stdio.h>
int main(void)
{
	printf("skip: sanitizer build, malloc cannot be replaced\n");
	return 77;
}
#else
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HDR 32
#define NCLASS 12 /* 16 B .. 32 KiB */
#define LARGE (64 * 1024)
#define CHUNK (1024 * 1024)
#define MAGIC 0x5a11a10cu

struct hdr {
	void *base;	/* mapping start (large) or NULL (small) */
	size_t maplen;	/* mapping length (large) */
	size_t usable;	/* bytes usable from the user pointer */
	int32_t cls;	/* size class; -1 large private, -2 large shared */
	uint32_t magic;
};

static pthread_mutex_t lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static void *free_list[NCLASS];
static char *chunk_cur, *chunk_end;
static unsigned long large_count, mmaps_under_lock;

static void fatal(const char *msg)
{
	if (write(2, msg, strlen(msg)) < 0)
		_exit(99);
	abort();
}

static void take(void)
{
	int r = pthread_mutex_lock(&lock);

	if (r == EDEADLK)
		fatal("shim_allocator: allocator re-entered on the same thread (malloc called from inside mmap)\n");
	if (r)
		fatal("shim_allocator: pthread_mutex_lock failed\n");
}

static void drop(void)
{
	pthread_mutex_unlock(&lock);
}

static int class_of(size_t n)
{
	int c = 0;
	size_t s = 16;

	while (s < n) {
		s <<= 1;
		c++;
	}
	return c;
}

/* Called with the lock held. */
static void *small_alloc(int c)
{
	size_t sz = HDR + ((size_t)16 << c);
	char *p;

	if (free_list[c]) {
		p = free_list[c];
		free_list[c] = *(void **)p;
		return p;
	}
	if (!chunk_cur || (size_t)(chunk_end - chunk_cur) < sz) {
		char *m = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		mmaps_under_lock++;
		if (m == MAP_FAILED)
			return NULL;
		chunk_cur = m;
		chunk_end = m + CHUNK;
	}
	p = chunk_cur;
	chunk_cur += sz;
	return p;
}

/* Called with the lock held: a mapping of its own, aligned user pointer. */
static void *large_alloc(size_t n, size_t align)
{
	size_t len = (HDR + n + align + 4095) & ~(size_t)4095;
	int flags = (large_count++ % 2) ? MAP_SHARED : MAP_PRIVATE;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
	uintptr_t u;
	struct hdr *h;

	mmaps_under_lock++;
	if (m == MAP_FAILED)
		return NULL;
	u = ((uintptr_t)m + HDR + align - 1) & ~(uintptr_t)(align - 1);
	h = (struct hdr *)(u - HDR);
	h->base = m;
	h->maplen = len;
	h->usable = (size_t)(m + len - (char *)u);
	h->cls = flags == MAP_SHARED ? -2 : -1;
	h->magic = MAGIC;
	return (void *)u;
}

static void *alloc_aligned(size_t n, size_t align)
{
	void *r;

	if (n == 0)
		n = 1;
	take();
	if (align <= 16 && n + HDR <= HDR + ((size_t)16 << (NCLASS - 1)) && n < LARGE) {
		int c = class_of(n);
		char *p = small_alloc(c);

		if (p) {
			struct hdr *h = (struct hdr *)p;

			h->base = NULL;
			h->maplen = 0;
			h->usable = (size_t)16 << c;
			h->cls = c;
			h->magic = MAGIC;
			r = p + HDR;
		} else {
			r = NULL;
		}
	} else {
		r = large_alloc(n, align < 16 ? 16 : align);
	}
	drop();
	if (!r)
		errno = ENOMEM;
	return r;
}

static struct hdr *hdr_of(void *p)
{
	struct hdr *h = (struct hdr *)((char *)p - HDR);

	if (h->magic != MAGIC)
		fatal("shim_allocator: free of a pointer it did not allocate\n");
	return h;
}

void *malloc(size_t n)
{
	return alloc_aligned(n, 16);
}

void free(void *p)
{
	struct hdr *h;

	if (!p)
		return;
	h = hdr_of(p);
	take();
	if (h->cls >= 0) {
		*(void **)h = free_list[h->cls];
		free_list[h->cls] = h;
	} else if (munmap(h->base, h->maplen) < 0) {
		drop();
		fatal("shim_allocator: munmap failed\n");
	}
	drop();
}

void *calloc(size_t n, size_t m)
{
	size_t t;
	void *p;

	if (__builtin_mul_overflow(n, m, &t)) {
		errno = ENOMEM;
		return NULL;
	}
	p = malloc(t);
	if (p)
		memset(p, 0, t);
	return p;
}

void *realloc(void *p, size_t n)
{
	struct hdr *h;
	void *q;

	if (!p)
		return malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	h = hdr_of(p);
	if (n <= h->usable)
		return p;
	if (h->cls == -1 && (char *)h == (char *)h->base) {
		/* grow a large private block in place or move it: mremap under
		 * the lock (a shared anonymous one cannot grow: its object has a
		 * fixed size) */
		size_t len = (HDR + n + 4095) & ~(size_t)4095;
		char *m;

		take();
		m = mremap(h->base, h->maplen, len, MREMAP_MAYMOVE);
		mmaps_under_lock++;
		if (m == MAP_FAILED) {
			drop();
			errno = ENOMEM;
			return NULL;
		}
		h = (struct hdr *)m;
		h->base = m;
		h->maplen = len;
		h->usable = len - HDR;
		h->cls = -1;
		drop();
		return m + HDR;
	}
	q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, h->usable < n ? h->usable : n);
	free(p);
	return q;
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = alloc_aligned(n, align);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
	return alloc_aligned(n, align < 16 ? 16 : align);
}

void *memalign(size_t align, size_t n)
{
	return alloc_aligned(n, align < 16 ? 16 : align);
}

void *valloc(size_t n)
{
	return alloc_aligned(n, 4096);
}

void *pvalloc(size_t n)
{
	return alloc_aligned((n + 4095) & ~(size_t)4095, 4096);
}

size_t malloc_usable_size(void *p)
{
	return p ? hdr_of(p)->usable : 0;
}

/* ---------------- the workload ---------------- */

static int iterations;

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t pick_size(uint64_t *s)
{
	unsigned r = (unsigned)(next(s) % 100);

	if (r < 70)
		return 1 + next(s) % 4096;
	if (r < 95)
		return 4096 + next(s) % (28 * 1024);
	return LARGE + next(s) % (448 * 1024);
}

struct block {
	unsigned char *p;
	size_t n;
	unsigned char fill;
};

static void bad(const char *what, int t)
{
	char m[128];

	snprintf(m, sizeof(m), "shim_allocator: thread %d: %s\n", t, what);
	fatal(m);
}

static void check_block(const struct block *b, int t)
{
	for (size_t i = 0; i < b->n; i += 1 + b->n / 64)
		if (b->p[i] != b->fill)
			bad("block content changed", t);
	if (b->p[b->n - 1] != b->fill)
		bad("block tail changed", t);
}

static uint64_t sums[64];

static void *worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(t + 1) * 0x100000001b3ull, sum = 0;
	struct block live[64] = { 0 };

	for (int it = 0; it < iterations; it++) {
		struct block *b = &live[next(&s) % 64];

		if (b->p) {
			check_block(b, t);
			sum += b->n * b->fill;
			if (next(&s) % 4 == 0) {
				size_t n = pick_size(&s);
				unsigned char *q = realloc(b->p, n);

				if (!q)
					bad("realloc failed", t);
				for (size_t i = 0; i < (n < b->n ? n : b->n); i += 1 + n / 64)
					if (q[i] != b->fill)
						bad("realloc lost the contents", t);
				b->p = q;
				b->n = n;
				memset(q, b->fill, n);
				continue;
			}
			free(b->p);
			b->p = NULL;
			continue;
		}
		b->n = pick_size(&s);
		b->fill = (unsigned char)(1 + next(&s) % 250);
		switch (next(&s) % 4) {
		case 0:
			b->p = malloc(b->n);
			break;
		case 1:
			b->p = calloc(1, b->n);
			if (b->p)
				for (size_t i = 0; i < b->n; i += 1 + b->n / 64)
					if (b->p[i])
						bad("calloc memory not zero", t);
			break;
		case 2: {
			size_t align = (size_t)16 << (next(&s) % 9);
			void *p = NULL;

			if (posix_memalign(&p, align, b->n) != 0)
				bad("posix_memalign failed", t);
			if ((uintptr_t)p % align)
				bad("posix_memalign misaligned", t);
			b->p = p;
			break;
		}
		default:
			b->p = realloc(NULL, b->n);
			break;
		}
		if (!b->p)
			bad("allocation failed", t);
		memset(b->p, b->fill, b->n);
	}
	for (int i = 0; i < 64; i++) {
		if (live[i].p) {
			check_block(&live[i], t);
			sum += live[i].n * live[i].fill;
			free(live[i].p);
		}
	}
	sums[t] = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t tids[64];
	int n;
	char line[64];
	void *keep[4];

	if (argc != 3 || (n = atoi(argv[1])) < 1 || n > 64 || (iterations = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: shim_allocator NTHREADS ITERATIONS\n");
		return 2;
	}
	for (int t = 0; t < n; t++)
		if (pthread_create(&tids[t], NULL, worker, (void *)(intptr_t)t) != 0)
			bad("pthread_create failed", t);
	for (int t = 0; t < n; t++)
		pthread_join(tids[t], NULL);
	for (int t = 0; t < n; t++)
		printf("thread %d sum %llu\n", t, (unsigned long long)sums[t]);
	printf("total %llu\n", (unsigned long long)n * (unsigned long long)iterations);
	fflush(stdout);
	/* 4 large shared blocks that stay: the shim must show them. */
	for (int i = 0; i < 4; i++)
		keep[i] = malloc(LARGE + 1000 * (size_t)i);
	/* Which of them are shared is decided by the allocator's counter:
	 * report the shared ones only (checked with /proc by the test). */
	for (int i = 0; i < 4; i++) {
		struct hdr *h = hdr_of(keep[i]);
		char maps[64];
		FILE *f;
		char l[512];
		int shared = 0;

		snprintf(maps, sizeof(maps), "/proc/self/maps");
		f = fopen(maps, "r");
		while (f && fgets(l, sizeof(l), f)) {
			unsigned long a, e;
			char perms[8];

			if (sscanf(l, "%lx-%lx %7s", &a, &e, perms) == 3 && a == (unsigned long)h->base)
				shared = perms[3] == 's';
		}
		if (f)
			fclose(f);
		if (shared)
			printf("R anon 0 - %p %zu 0 rw-s - - - - -\n", h->base, h->maplen);
	}
	printf("mmaps under lock: %s\n", mmaps_under_lock > 0 ? "yes" : "no");
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin))
		;
	for (int i = 0; i < 4; i++)
		free(keep[i]);
	return 0;
}
#endif
