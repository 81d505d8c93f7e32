/*
 * mmap family: mmap, mmap64, munmap, mremap.
 * The canonical hook shape (see preload/shim.h): call through, keep errno,
 * record only on success and only when not already inside the shim.
 */
#include "registry.h"
#include "shim.h"

#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_fn)(void *, size_t);
typedef void *(*mremap_fn)(void *, size_t, size_t, int, ...);

static void *next_mmap, *next_mmap64, *next_munmap, *next_mremap;

/* Used while dlsym itself is resolving: the kernel call, with libc's
 * error convention. */
static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);

	return (void *)r;
}

/*
 * Shared mappings are recorded with the registry held across the system
 * call (see crs_reg_hold): a fork, or another thread's munmap of the same
 * range, is then ordered before or after both.  Private mappings are only
 * checked against stale records afterwards and need no hold.
 */
static void *do_mmap(void *slot_fn, void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	int type = flags & MAP_TYPE, saved, held = 0;
	void *r;

	if ((type == MAP_SHARED || type == MAP_SHARED_VALIDATE) && crs_active(CRS_HOOK_MMAP) &&
	    crs_guard_enter()) {
		held = 1;
		crs_reg_hold();
	}
	r = slot_fn ? ((mmap_fn)slot_fn)(addr, len, prot, flags, fd, off)
		    : raw_mmap(addr, len, prot, flags, fd, off);
	saved = errno;
	if (held) {
		if (r != MAP_FAILED)
			crs_record_mmap(r, len, prot, flags, fd, off);
		crs_reg_release();
		crs_guard_leave();
	} else if (r != MAP_FAILED && crs_active(CRS_HOOK_MMAP) && crs_guard_enter()) {
		crs_record_mmap(r, len, prot, flags, fd, off);
		crs_guard_leave();
	}
	errno = saved;
	return r;
}

/* munmap/mremap: held across the call when anything is recorded, so a
 * mapping another thread makes in the freed range is recorded after ours
 * is removed. */
static int hold_for_unmap(void)
{
	if (!crs_reg_has_mappings() || !crs_active(CRS_HOOK_MMAP) || !crs_guard_enter())
		return 0;
	crs_reg_hold();
	return 1;
}

static void release_after_unmap(void)
{
	crs_reg_release();
	crs_guard_leave();
}

CRS_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(CRS_NEXT(next_mmap, "mmap", NULL), addr, len, prot, flags, fd, off);
}

CRS_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(CRS_NEXT(next_mmap64, "mmap64", NULL), addr, len, prot, flags, fd, off);
}

CRS_EXPORT int munmap(void *addr, size_t len)
{
	munmap_fn fn = (munmap_fn)CRS_NEXT(next_munmap, "munmap", NULL);
	int held = hold_for_unmap(), r, saved;

	r = fn ? fn(addr, len) : (int)syscall(SYS_munmap, addr, len);
	saved = errno;
	if (held) {
		if (r == 0)
			crs_record_munmap(addr, len);
		release_after_unmap();
	}
	errno = saved;
	return r;
}

CRS_EXPORT void *mremap(void *old, size_t oldlen, size_t newlen, int flags, ...)
{
	mremap_fn fn = (mremap_fn)CRS_NEXT(next_mremap, "mremap", NULL);
	void *want = NULL, *r;
	int saved, held;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		want = va_arg(ap, void *);
		va_end(ap);
	}
	held = hold_for_unmap();
	if (fn)
		r = fn(old, oldlen, newlen, flags, want);
	else
		r = (void *)syscall(SYS_mremap, old, oldlen, newlen, flags, want);
	saved = errno;
	if (held) {
		if (r != MAP_FAILED)
			crs_record_mremap(old, oldlen, r, newlen);
		release_after_unmap();
	}
	errno = saved;
	return r;
}
