/* memfd_create: anonymous files, often passed between processes. */
#include "shim.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *next_memfd_create;

CRS_EXPORT int memfd_create(const char *name, unsigned int flags)
{
	int (*fn)(const char *, unsigned) = CRS_NEXT(next_memfd_create, "memfd_create", NULL);
	int fd, saved;

	fd = fn ? fn(name, flags) : (int)syscall(SYS_memfd_create, name, flags);
	if (fd < 0 || !crs_active(CRS_HOOK_SHM))
		return fd;
	saved = errno;
	if (crs_guard_enter()) {
		crs_record_memfd(fd, name, flags);
		crs_guard_leave();
	}
	errno = saved;
	return fd;
}
