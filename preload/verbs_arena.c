/*
 * Memory of the verbs layer: one reservation made at first use (address
 * space only, PROT_NONE), committed as it is used, carved into power-of-two
 * blocks with one free list per size.  Shadows handed to the program live
 * here, so "is this one of ours" is a range check.  Plain anonymous memory:
 * CRIU saves and restores it with the process.
 */
#include "verbs_int.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARENA_SIZE (4ull << 30)
#define COMMIT_STEP (1ull << 20)
#define MIN_SHIFT 6 /* 64 bytes */
#define NCLASSES 31

static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static char *base, *bump, *committed;
static void *free_list[NCLASSES];

static int class_of(size_t size)
{
	int c = 0;

	while (((size_t)1 << (c + MIN_SHIFT)) < size)
		c++;
	return c;
}

static int reserve(void)
{
	long r = syscall(SYS_mmap, NULL, ARENA_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			 -1, 0);

	if (r < 0 && r > -4096)
		return -1;
	base = bump = committed = (char *)r;
	return 0;
}

/* Make [bump, bump + len) usable. */
static int commit(size_t len)
{
	size_t need;

	if ((size_t)(bump - base) + len > ARENA_SIZE)
		return -1;
	if (bump + len <= committed)
		return 0;
	need = (size_t)(bump + len - committed);
	need = (need + COMMIT_STEP - 1) & ~(COMMIT_STEP - 1);
	if ((size_t)(committed - base) + need > ARENA_SIZE)
		need = ARENA_SIZE - (size_t)(committed - base);
	if (syscall(SYS_mprotect, committed, need, PROT_READ | PROT_WRITE))
		return -1;
	committed += need;
	return 0;
}

void *vb_alloc(size_t size)
{
	int c = class_of(size ? size : 1);
	size_t bsize = (size_t)1 << (c + MIN_SHIFT);
	void *p = NULL;

	if (c >= NCLASSES)
		return NULL;
	pthread_mutex_lock(&arena_lock);
	if (!base && reserve() < 0)
		goto out;
	if (free_list[c]) {
		p = free_list[c];
		free_list[c] = *(void **)p;
		goto out;
	}
	/* blocks are aligned to their size (up to a page) */
	{
		size_t align = bsize < 4096 ? bsize : 4096;
		size_t pad = (size_t)(-(uintptr_t)bump & (align - 1));

		if (commit(pad + bsize) < 0)
			goto out;
		bump += pad;
		p = bump;
		bump += bsize;
	}
out:
	pthread_mutex_unlock(&arena_lock);
	if (p)
		memset(p, 0, size);
	return p;
}

void vb_free(void *p, size_t size)
{
	int c;

	if (!p)
		return;
	c = class_of(size ? size : 1);
	pthread_mutex_lock(&arena_lock);
	*(void **)p = free_list[c];
	free_list[c] = p;
	pthread_mutex_unlock(&arena_lock);
}

int vb_in_arena(const void *p)
{
	const char *q = p;

	return base && q >= base && q < bump;
}

void vb_arena_atfork_child(void)
{
	pthread_mutex_init(&arena_lock, NULL);
}
