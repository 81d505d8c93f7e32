/*
 * crshim_discard_region / crshim_region_discarded (include/crshim.h).
 *
 * CRIU saves every present page of private memory and has no way to skip a
 * range.  So the range is moved, at the program's request, onto a shared
 * mapping of an unlinked file in /dev/shm that the registry records as a
 * drop-policy scratch file: `crshim dump` leaves the file out of the image
 * (external) and `crshim restore` hands back an empty file of the same
 * size; a process that keeps running keeps the file and its data.
 *
 * The shim keeps one fd on each file (far above the program's numbers,
 * close-on-exec): scratch files are found by their fds at dump, and after
 * a restore the fd leads to another inode, which is how
 * crshim_region_discarded tells.  In a fork child the range becomes
 * private anonymous memory again (a copy), as fork semantics require.
 */
#include "api_int.h"
#include "registry.h"
#include "shim.h"

#include "crshim_manifest.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_REGIONS 64
#define CHUNK	    (64u * 1024)

struct region {
	uintptr_t start, end;
	int prot;
	int fd;
	uint64_t dev, ino; /* the file as created (a restore changes it) */
	char path[256];
};

static struct region regions[MAX_REGIONS];
static int nregions;
static unsigned serial;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static int all_zero(const unsigned char *p, size_t n)
{
	static const unsigned char zero[4096];

	for (size_t off = 0; off < n; off += sizeof(zero)) {
		size_t k = n - off < sizeof(zero) ? n - off : sizeof(zero);

		if (memcmp(p + off, zero, k))
			return 0;
	}
	return 1;
}

/* Copy the chunks of [src, src+len) that hold data; sparse elsewhere. */
static int copy_to_file(int fd, const unsigned char *src, size_t len)
{
	for (size_t off = 0; off < len; off += CHUNK) {
		size_t k = len - off < CHUNK ? len - off : CHUNK, done = 0;

		if (all_zero(src + off, k))
			continue;
		while (done < k) {
			ssize_t n = pwrite(fd, src + off + done, k - done, (off_t)(off + done));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
			done += (size_t)n;
		}
	}
	return 0;
}

static int prot_of(const char *perms)
{
	return (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
	       (perms[2] == 'x' ? PROT_EXEC : 0);
}

/*
 * Is [start, end) entirely private anonymous memory with one protection,
 * readable?  Returns the protection, or -1.
 */
static int anon_private_prot(uintptr_t start, uintptr_t end)
{
	char buf[8192], line[512];
	size_t ll = 0;
	uintptr_t covered = start;
	int fd = (int)syscall(SYS_open, "/proc/self/maps", O_RDONLY | O_CLOEXEC), prot = -2;
	ssize_t n;

	if (fd < 0)
		return -1;
	while (covered < end && (n = syscall(SYS_read, fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n && covered < end; i++) {
			unsigned long s, e, off, ino;
			char perms[8];
			int used = 0;

			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = 0;
			ll = 0;
			if (sscanf(line, "%lx-%lx %7s %lx %*x:%*x %lu %n", &s, &e, perms, &off, &ino,
				   &used) < 5)
				continue;
			if (e <= covered || s >= end)
				continue;
			if (s > covered || perms[3] != 'p' || ino != 0 || line[used] != 0 ||
			    (prot != -2 && prot != prot_of(perms)) || perms[0] != 'r') {
				prot = -1;
				break;
			}
			prot = prot_of(perms);
			covered = e;
		}
		if (prot == -1)
			break;
	}
	syscall(SYS_close, fd);
	return covered >= end && prot >= 0 ? prot : -1;
}

static void set_drop(struct crs_object *o, void *arg)
{
	(void)arg;
	o->flags |= CRS_OF_SCRATCH;
	o->scratch_policy = CRS_SCRATCH_DROP;
}

static void atfork_child(void);

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

/* Create the file, copy, map it over the range; registry records it. */
static int discard(uintptr_t start, size_t len, int prot, struct region *r)
{
	struct stat st;
	void *p;
	int fd, saved;

	snprintf(r->path, sizeof(r->path), "/dev/shm/.crshim-discard-%d-%u", (int)getpid(), serial++);
	/* O_EXCL refuses a planted symlink; no O_NOFOLLOW, which CRIU would
	 * trip on when it reopens the fd through /proc at restore. */
	fd = (int)syscall(SYS_open, r->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	fd = crs_move_fd_high(fd);
	if (ftruncate(fd, (off_t)len) < 0 || syscall(SYS_fstat, fd, &st) < 0 || copy_to_file(fd, (void *)start, len) < 0)
		goto fail;
	crs_record_open(fd, r->path, O_RDWR, AT_FDCWD);
	crs_reg_object_update(crs_reg_fd_get(fd), set_drop, NULL);
	/* as the mmap hook does: the registry held across the call */
	crs_reg_hold();
	p = mmap((void *)start, len, prot, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p != MAP_FAILED)
		crs_record_mmap((void *)start, len, prot, MAP_SHARED, fd, 0);
	crs_reg_release();
	if (p == MAP_FAILED) {
		crs_record_close(fd);
		goto fail;
	}
	syscall(SYS_unlink, r->path);
	crs_record_unlinked(st.st_dev, st.st_ino, 1);
	r->start = start;
	r->end = start + len;
	r->prot = prot;
	r->fd = fd;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	return 0;
fail:
	saved = errno;
	syscall(SYS_unlink, r->path);
	syscall(SYS_close, fd);
	errno = saved == EFBIG ? ENOSPC : saved;
	return -1;
}

CRS_EXPORT int crshim_impl_discard_region(void *addr, size_t len)
{
	uintptr_t start = (uintptr_t)addr, page = (uintptr_t)sysconf(_SC_PAGESIZE);
	int prot, g, r = -1, saved;

	if (!crs_active(CRS_HOOK_ALL)) {
		errno = ENOSYS;
		return -1;
	}
	if (!len || (start & (page - 1)) || len > SIZE_MAX - page) {
		errno = EINVAL;
		return -1;
	}
	len = (len + page - 1) & ~(page - 1);
	pthread_once(&atfork_once, register_atfork);
	g = crs_guard_enter();
	pthread_mutex_lock(&lock);
	crs_discard_prune();
	prot = anon_private_prot(start, start + len);
	if (prot < 0)
		errno = EINVAL;
	else if (nregions == MAX_REGIONS)
		errno = ENOSPC;
	else if (discard(start, len, prot, &regions[nregions]) == 0)
		r = nregions++;
	saved = errno;
	pthread_mutex_unlock(&lock);
	if (g)
		crs_guard_leave();
	if (r >= 0)
		crs_debug("discard: %#lx-%#lx moved onto %s", (unsigned long)start,
			  (unsigned long)(start + len), regions[r].path);
	errno = saved;
	return r >= 0 ? 0 : -1;
}

CRS_EXPORT int crshim_impl_region_discarded(const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	int r = 0;

	if (!crs_active(CRS_HOOK_ALL)) {
		errno = ENOSYS;
		return -1;
	}
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nregions && !r; i++) {
		struct stat st;
		char v[8];

		if (a < regions[i].start || a >= regions[i].end)
			continue;
		if (fgetxattr(regions[i].fd, CRSHIM_DROPPED_XATTR, v, sizeof(v)) > 0)
			r = 1;
		else if (syscall(SYS_fstat, regions[i].fd, &st) == 0)
			r = st.st_ino != regions[i].ino || st.st_dev != regions[i].dev;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

/* Is the region still mapped from its file?  (The program may unmap it.) */
static int still_mapped(const struct region *r)
{
	struct crs_mapping m;

	return crs_reg_map_lookup(r->start, &m) == 0 && m.start == r->start && m.obj == crs_reg_fd_get(r->fd);
}

/* Called with the lock held, or before threads exist (the fork child). */
void crs_discard_prune(void)
{
	int out = 0;

	for (int i = 0; i < nregions; i++) {
		if (still_mapped(&regions[i])) {
			regions[out++] = regions[i];
			continue;
		}
		crs_record_close(regions[i].fd);
		syscall(SYS_close, regions[i].fd);
	}
	nregions = out;
}

int crs_discard_list(struct crs_discard_info *out, int max)
{
	int n = 0;

	pthread_mutex_lock(&lock);
	crs_discard_prune();
	for (int i = 0; i < nregions && n < max; i++) {
		struct stat st;

		if (syscall(SYS_fstat, regions[i].fd, &st) < 0)
			continue;
		out[n].fd = regions[i].fd;
		out[n].dev = st.st_dev;
		out[n].ino = st.st_ino;
		out[n].size = (uint64_t)st.st_size;
		out[n].start = regions[i].start;
		out[n].end = regions[i].end;
		snprintf(out[n].path, sizeof(out[n].path), "%s", regions[i].path);
		n++;
	}
	pthread_mutex_unlock(&lock);
	return n;
}

/* fork child: private copies again; the files stay the parent's. */
static void atfork_child(void)
{
	int g = crs_guard_enter(), saved = errno;

	pthread_mutex_init(&lock, NULL);
	for (int i = 0; i < nregions; i++) {
		struct region *r = &regions[i];
		size_t len = r->end - r->start;
		unsigned char *tmp;

		if (!still_mapped(r))
			goto forget;
		tmp = (void *)syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (tmp == MAP_FAILED) {
			crs_error("discard: no memory for the child's copy of %#lx-%#lx; it stays shared "
				  "with the parent",
				  (unsigned long)r->start, (unsigned long)r->end);
			continue;
		}
		for (size_t off = 0; off < len; off += CHUNK) {
			size_t k = len - off < CHUNK ? len - off : CHUNK;

			if (!all_zero((unsigned char *)r->start + off, k))
				memcpy(tmp + off, (unsigned char *)r->start + off, k);
		}
		syscall(SYS_mprotect, tmp, len, r->prot);
		syscall(SYS_mremap, tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, r->start);
		crs_record_munmap((void *)r->start, len);
forget:
		crs_record_close(r->fd);
		syscall(SYS_close, r->fd);
	}
	nregions = 0;
	if (g)
		crs_guard_leave();
	errno = saved;
}
