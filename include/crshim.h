/*
 * crshim.h: the C API for programs that cooperate with crshim (an MPI
 * library, an application).
 *
 * Usable with and without the shim: every function here is a small inline
 * wrapper that looks the shim's entry point up at run time (dlsym), so a
 * program needs no extra library to link (`pkg-config --cflags --libs
 * crshim` gives the include path and -ldl).  Without the shim loaded
 * (LD_PRELOAD=$(crshim lib) not set, CRSHIM_DISABLE=1, a setuid program),
 * each call returns the documented "not available" answer; none crashes.
 *
 * Thread-safe; none of these may be called from a signal handler.
 */
#ifndef CRSHIM_H
#define CRSHIM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT */
#endif
#include <dlfcn.h>
#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Scratch policies (also the POLICY words of CRSHIM_SCRATCH). */
enum crshim_scratch_policy {
	CRSHIM_SCRATCH_DROP = 1, /* contents not saved; restored as an empty
				  * sparse file of the recorded size */
	CRSHIM_SCRATCH_KEEP = 2, /* stays where it is; restore checks it is
				  * there with the recorded size */
	CRSHIM_SCRATCH_SAVE = 3, /* copied into the checkpoint once, restored */
};

#define CRSHIM__CALL(type, name, args, fallback)                                     \
	type (*fn__) args = (type (*) args)dlsym(RTLD_DEFAULT, "crshim_impl_" name); \
	if (!fn__) {                                                                 \
		errno = ENOSYS;                                                      \
		return fallback;                                                     \
	}

/*
 * 1 when the shim is loaded and active in this process, 0 otherwise.
 */
static inline int crshim_available(void)
{
	CRSHIM__CALL(int, "available", (void), 0);
	return fn__();
}

/*
 * Mark path (a file, or a directory: everything below it) as scratch with
 * the given policy.  Applies to files already open and to later opens.
 * Returns 0, or -1 with errno: ENOSYS (no shim), EINVAL (bad policy or a
 * relative path), ENOSPC (more than 64 marks).
 */
static inline int crshim_mark_scratch(const char *path, int policy)
{
	CRSHIM__CALL(int, "mark_scratch", (const char *, int), -1);
	return fn__(path, policy);
}

/*
 * After a restore: 1 if the scratch file at path was restored empty (its
 * contents were dropped), 0 if not (kept, saved, or not scratch), -1 with
 * errno ENOSYS without the shim.
 */
static inline int crshim_scratch_dropped(const char *path)
{
	CRSHIM__CALL(int, "scratch_dropped", (const char *), -1);
	return fn__(path);
}

#undef CRSHIM__CALL

#ifdef __cplusplus
}
#endif
#endif
