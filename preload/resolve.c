/*
 * Finding the definition a hook wraps.  dlsym may allocate (it calls calloc
 * for its error state) and an allocator may call mmap, which lands back in a
 * hook that needs dlsym: while a thread is inside dlsym, nested lookups on
 * that thread return NULL and the hook uses the raw syscall.
 */
#include "shim.h"

#include <dlfcn.h>

static __thread int resolving;

void *crs_resolve(const char *name, const char *version)
{
	void *p;
	int saved = errno;

	if (resolving)
		return NULL;
	resolving = 1;
	p = version ? dlvsym(RTLD_NEXT, name, version) : dlsym(RTLD_NEXT, name);
	resolving = 0;
	errno = saved;
	return p;
}
