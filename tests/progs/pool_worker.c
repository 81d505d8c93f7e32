/*
 * pool_worker: one of N independently started processes that share a pool
 * and check each other through it.
 *
 *   pool_worker MODE NAME RANK NRANKS SIZE_MB ITERS INTERVAL_MS RESULT_FILE
 *
 * MODE: file  - open(/dev/shm/NAME) + ftruncate + mmap MAP_SHARED + unlink
 *       shm   - shm_open(/NAME) + shm_unlink
 *       memfd - rank 0 memfd_create()s it and passes the fd over a unix
 *               socket (abstract name NAME) to the others
 *       sysv  - shmget(key from NAME) + shmat + IPC_RMID
 *       named - like file, but the name is kept (a named tmpfs file)
 * Rank 0 creates the pool; once all ranks attached, the name is removed
 * (except for "named").  Every rank then rewrites its slice ITERS times
 * with a pattern derived from (rank, generation), publishes the generation,
 * and checks the other ranks' slices against their published generations.
 * At the end all ranks meet at a barrier in the pool (this only completes if
 * the memory is really shared) and check every slice at its final value.
 * sysv: at the end each rank shmdt()s its attachment, which must succeed
 * and leave the range unmapped, also when crshim moved the segment onto a
 * file (after a dump, kept running or restored); the OK line then ends in
 * "detached converted" (else "detached segment").
 * RESULT_FILE gets "OK ..." or "FAIL reason"; exit status 0 or 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "worker_common.h"

#define MAGIC 0x43525348504f4f4cULL /* "CRSHPOOL" */

static uint64_t pattern(int rank, uint64_t k, uint64_t gen)
{
	return (gen * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)rank << 56) ^ (k * 0x100000001b3ULL);
}

/* memfd: rank 0 serves the fd on an abstract unix socket. */
static int abstract_addr(const char *name, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "crshim-pool-%s", name);
	return (int)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa->sun_path + 1));
}

static void send_fd(int sock, int fd)
{
	char byte = 'F', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &mh, 0) != 1)
		finish(0, "sendmsg: %s", strerror(errno));
}

static int recv_fd(int sock)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &mh, 0) != 1 || !(c = CMSG_FIRSTHDR(&mh)))
		finish(0, "recvmsg: %s", strerror(errno));
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static int memfd_pool(const char *name, int rank, int nranks, size_t size)
{
	struct sockaddr_un sa;
	int len = abstract_addr(name, &sa), fd, s;

	if (rank == 0) {
		fd = memfd_create(name, 0);
		if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
			finish(0, "memfd_create: %s", strerror(errno));
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (bind(s, (struct sockaddr *)&sa, (socklen_t)len) < 0 || listen(s, MAX_RANKS) < 0)
			finish(0, "bind: %s", strerror(errno));
		for (int i = 1; i < nranks; i++) {
			int c = accept(s, NULL, NULL);

			send_fd(c, fd);
			close(c);
		}
		close(s);
		return fd;
	}
	for (int tries = 0;; tries++) {
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(s, (struct sockaddr *)&sa, (socklen_t)len) == 0)
			break;
		close(s);
		if (tries > 500)
			finish(0, "cannot reach rank 0 for the memfd");
		sleep_ms(20);
	}
	fd = recv_fd(s);
	close(s);
	return fd;
}

static int open_pool(const char *mode, const char *name, int rank, size_t size)
{
	char path[256];
	int fd = -1;

	if (!strcmp(mode, "shm")) {
		snprintf(path, sizeof(path), "/%s", name);
		for (int tries = 0; fd < 0 && tries < 500; tries++) {
			fd = shm_open(path, rank == 0 ? O_RDWR | O_CREAT | O_EXCL : O_RDWR, 0600);
			if (fd < 0 && rank)
				sleep_ms(20);
			else if (fd < 0)
				break;
		}
	} else {
		snprintf(path, sizeof(path), "/dev/shm/%s", name);
		for (int tries = 0; fd < 0 && tries < 500; tries++) {
			fd = open(path, rank == 0 ? O_RDWR | O_CREAT | O_EXCL : O_RDWR, 0600);
			if (fd < 0 && rank)
				sleep_ms(20);
			else if (fd < 0)
				break;
		}
	}
	if (fd < 0)
		finish(0, "cannot open the pool %s: %s", path, strerror(errno));
	if (rank == 0 && ftruncate(fd, (off_t)size) < 0)
		finish(0, "ftruncate: %s", strerror(errno));
	/* Others wait until rank 0 has sized it. */
	for (struct stat st; fstat(fd, &st) == 0 && (size_t)st.st_size < size;)
		sleep_ms(10);
	return fd;
}

static void remove_name(const char *mode, const char *name)
{
	char path[256];

	if (!strcmp(mode, "shm")) {
		snprintf(path, sizeof(path), "/%s", name);
		shm_unlink(path);
	} else if (!strcmp(mode, "file")) {
		snprintf(path, sizeof(path), "/dev/shm/%s", name);
		unlink(path);
	}
}

static void *attach(const char *mode, const char *name, int rank, int nranks, size_t size, int *sysv_id)
{
	void *p;
	int fd;

	if (!strcmp(mode, "sysv")) {
		uint32_t hash = 2166136261u; /* FNV-1a of the name */
		key_t key;

		for (const char *c = name; *c; c++)
			hash = (hash ^ (unsigned char)*c) * 16777619u;
		key = (key_t)(hash & 0x7fffffff);
		int id = -1;

		for (int tries = 0; id < 0 && tries < 500; tries++) {
			id = shmget(key, size, rank == 0 ? IPC_CREAT | IPC_EXCL | 0600 : 0600);
			if (id < 0 && rank)
				sleep_ms(20);
			else if (id < 0)
				finish(0, "shmget: %s", strerror(errno));
		}
		if (id < 0)
			finish(0, "shmget: %s", strerror(errno));
		*sysv_id = id;
		p = shmat(id, NULL, 0);
		if (p == (void *)-1)
			finish(0, "shmat: %s", strerror(errno));
		return p;
	}
	fd = !strcmp(mode, "memfd") ? memfd_pool(name, rank, nranks, size) : open_pool(mode, name, rank, size);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		finish(0, "mmap: %s", strerror(errno));
	/* Keep the fd for "file" so the pool is also held open after unlink. */
	if (!strcmp(mode, "shm"))
		close(fd);
	return p;
}

/* What the mapping at addr is: "segment" while /proc/self/maps names it
 * /SYSV<key>, "converted" once it is a file (the one crshim moved the
 * segment onto, or after a restore the unnamed file holding that pool). */
static const char *attachment_kind(const void *addr)
{
	char line[512], want[32];
	const char *kind = "missing";
	FILE *f = fopen("/proc/self/maps", "r");

	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)))
			kind = strstr(line, " /SYSV") ? "segment" : "converted";
	if (f)
		fclose(f);
	return kind;
}

/* shmdt the attachment; then no page of [p, p+size) may be mapped. */
static const char *detach(char *p, size_t size)
{
	const char *kind = attachment_kind(p);
	unsigned char vec;
	long pg = sysconf(_SC_PAGESIZE);

	/* Not the start of an attachment: refused, nothing detached. */
	errno = 0;
	if (shmdt(p + pg) != -1 || errno != EINVAL || mincore(p, (size_t)pg, &vec) != 0)
		finish(0, "shmdt inside the %s attachment did not fail with EINVAL (%s)", kind, strerror(errno));
	errno = 0;
	if (shmdt(p) != 0)
		finish(0, "shmdt of the %s attachment: %s", kind, strerror(errno));
	if (errno != 0)
		finish(0, "shmdt of the %s attachment succeeded but changed errno to %s", kind, strerror(errno));
	for (size_t off = 0; off < size; off += (size_t)pg)
		if (mincore(p + off, (size_t)pg, &vec) == 0 || errno != ENOMEM)
			finish(0, "shmdt of the %s attachment left offset %zu mapped", kind, off);
	return kind;
}

static int check_slice(const uint64_t *slice, size_t words, int rank, uint64_t gen)
{
	/* Sample 64 words spread over the slice, plus both ends. */
	for (size_t s = 0; s <= 64; s++) {
		size_t k = s == 64 ? words - 1 : s * (words / 64);

		if (slice[k] != pattern(rank, k, gen))
			return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	const char *mode, *name;
	int rank, nranks, iters, interval, sysv_id = -1;
	size_t size, slice_bytes, words;
	struct header *h;
	char *base;
	long deadline;

	if (argc != 9) {
		fprintf(stderr, "usage: %s MODE NAME RANK NRANKS SIZE_MB ITERS INTERVAL_MS RESULT_FILE\n", argv[0]);
		return 2;
	}
	mode = argv[1];
	name = argv[2];
	rank = atoi(argv[3]);
	nranks = atoi(argv[4]);
	size = (size_t)atol(argv[5]) << 20;
	iters = atoi(argv[6]);
	interval = atoi(argv[7]);
	worker_name = "pool_worker";
	result_path = argv[8];
	if (nranks < 1 || nranks > MAX_RANKS || rank < 0 || rank >= nranks || size < 2 * HEADER)
		finish(0, "bad arguments");

	base = attach(mode, name, rank, nranks, size, &sysv_id);
	h = (struct header *)base;
	slice_bytes = ((size - HEADER) / (size_t)nranks) & ~(size_t)7;
	words = slice_bytes / 8;
	if (rank == 0)
		h->magic = MAGIC;
	__atomic_add_fetch(&h->attached, 1, __ATOMIC_SEQ_CST);
	deadline = now_ms() + 30000;
	while (__atomic_load_n(&h->attached, __ATOMIC_SEQ_CST) < (uint64_t)nranks)
		if (now_ms() > deadline)
			finish(0, "only %llu of %d ranks attached", (unsigned long long)h->attached, nranks);
		else
			sleep_ms(5);
	if (rank == 0) {
		remove_name(mode, name);
		if (sysv_id >= 0)
			shmctl(sysv_id, IPC_RMID, NULL);
	}
	printf("ready rank %d pid %d\n", rank, (int)getpid());
	fflush(stdout);

	for (int it = 1; it <= iters; it++) {
		uint64_t *mine = (uint64_t *)(base + HEADER + (size_t)rank * slice_bytes);

		/* Seqlock: the WRITING bit tells readers the slice is changing. */
		__atomic_store_n(&h->gen[rank], (uint64_t)it | WRITING, __ATOMIC_SEQ_CST);
		for (size_t k = 0; k < words; k++)
			mine[k] = pattern(rank, k, (uint64_t)it);
		__atomic_store_n(&h->gen[rank], (uint64_t)it, __ATOMIC_SEQ_CST);
		for (int r = 0; r < nranks; r++) {
			uint64_t g1, g2;
			const uint64_t *theirs = (uint64_t *)(base + HEADER + (size_t)r * slice_bytes);
			int ok;

			if (r == rank)
				continue;
			g1 = __atomic_load_n(&h->gen[r], __ATOMIC_ACQUIRE);
			if (!g1 || (g1 & WRITING))
				continue;
			ok = check_slice(theirs, words, r, g1);
			g2 = __atomic_load_n(&h->gen[r], __ATOMIC_ACQUIRE);
			if (g1 == g2 && !ok)
				finish(0, "rank %d: slice of rank %d does not match generation %llu", rank, r,
				       (unsigned long long)g1);
			__atomic_add_fetch(&h->checks[rank], 1, __ATOMIC_RELAXED);
		}
		if (h->magic != MAGIC)
			finish(0, "pool header lost");
		sleep_ms(interval);
	}
	/* The barrier only completes if the others' increments are visible. */
	__atomic_add_fetch(&h->done, 1, __ATOMIC_SEQ_CST);
	deadline = now_ms() + 20000;
	while (__atomic_load_n(&h->done, __ATOMIC_SEQ_CST) < (uint64_t)nranks)
		if (now_ms() > deadline)
			finish(0, "sharing broken: rank %d sees %llu of %d ranks done", rank,
			       (unsigned long long)h->done, nranks);
		else
			sleep_ms(5);
	for (int r = 0; r < nranks; r++)
		if (!check_slice((uint64_t *)(base + HEADER + (size_t)r * slice_bytes), words, r, (uint64_t)iters))
			finish(0, "final content of rank %d's slice is wrong", r);
	if (sysv_id >= 0) {
		uint64_t checks = h->checks[rank];

		finish(1, "rank %d iters %d checks %llu detached %s", rank, iters, (unsigned long long)checks,
		       detach(base, size));
	}
	finish(1, "rank %d iters %d checks %llu", rank, iters, (unsigned long long)h->checks[rank]);
}
