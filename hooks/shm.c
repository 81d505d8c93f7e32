/* POSIX shared memory: shm_open, shm_unlink. */
#include "shim.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

static void *next_shm_open, *next_shm_unlink;

CRS_EXPORT int shm_open(const char *name, int oflag, mode_t mode)
{
	int (*fn)(const char *, int, mode_t) = CRS_NEXT(next_shm_open, "shm_open", NULL);
	int fd, saved;

	if (!fn) {
		errno = ENOSYS; /* only reachable from inside dlsym */
		return -1;
	}
	fd = fn(name, oflag, mode);
	if (fd < 0 || !crs_active(CRS_HOOK_SHM))
		return fd;
	saved = errno;
	if (crs_guard_enter()) {
		crs_record_shm_open(fd, name, oflag);
		crs_guard_leave();
	}
	errno = saved;
	return fd;
}

CRS_EXPORT int shm_unlink(const char *name)
{
	int (*fn)(const char *) = CRS_NEXT(next_shm_unlink, "shm_unlink", NULL);
	uint64_t dev = 0, ino = 0;
	int nlink = 0, r, saved, active;

	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	saved = errno;
	active = crs_active(CRS_HOOK_SHM) && crs_guard_enter();
	if (active) {
		crs_record_shm_unlink_prepare(name, &dev, &ino, &nlink);
		crs_guard_leave();
	}
	errno = saved;
	r = fn(name);
	if (r == 0 && active && crs_guard_enter()) {
		saved = errno;
		crs_record_unlinked(dev, ino, nlink);
		crs_guard_leave();
		errno = saved;
	}
	return r;
}
