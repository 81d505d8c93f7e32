/*
 * File family: open, open64, openat, openat64, creat, creat64 (and the
 * _FORTIFY_SOURCE entry points __open_2 ...), close, ftruncate, unlink,
 * unlinkat, remove, rename, renameat, renameat2.
 */
#include "shim.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open_fn)(const char *, int, ...);

static void *next_open, *next_open64, *next_openat, *next_openat64, *next_creat, *next_creat64,
	*next_open_2, *next_open64_2, *next_openat_2, *next_openat64_2, *next_close,
	*next_ftruncate, *next_ftruncate64, *next_unlink, *next_unlinkat, *next_remove,
	*next_rename, *next_renameat, *next_renameat2;

static int needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

static void after_open(int fd, int dirfd, const char *path, int flags)
{
	int saved;

	if (fd < 0 || !crs_active(CRS_HOOK_FILE))
		return;
	saved = errno;
	if (crs_guard_enter()) {
		crs_record_open(fd, path, flags, dirfd);
		crs_guard_leave();
	}
	errno = saved;
}

static int call_openat(void *fn, int dirfd, const char *path, int flags, mode_t mode, int at)
{
	if (!fn)
		return (int)syscall(SYS_openat, dirfd, path, flags, mode);
	if (at)
		return ((openat_fn)fn)(dirfd, path, flags, mode);
	return ((open_fn)fn)(path, flags, mode);
}

#define VA_MODE(flags, last)                               \
	({                                                 \
		mode_t m__ = 0;                            \
		if (needs_mode(flags)) {                   \
			va_list ap;                        \
			va_start(ap, last);                \
			m__ = (mode_t)va_arg(ap, int);     \
			va_end(ap);                        \
		}                                          \
		m__;                                       \
	})

CRS_EXPORT int open(const char *path, int flags, ...)
{
	int fd = call_openat(CRS_NEXT(next_open, "open", NULL), AT_FDCWD, path, flags,
			     VA_MODE(flags, flags), 0);
	after_open(fd, AT_FDCWD, path, flags);
	return fd;
}

CRS_EXPORT int open64(const char *path, int flags, ...)
{
	int fd = call_openat(CRS_NEXT(next_open64, "open64", NULL), AT_FDCWD, path, flags,
			     VA_MODE(flags, flags), 0);
	after_open(fd, AT_FDCWD, path, flags);
	return fd;
}

CRS_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	int fd = call_openat(CRS_NEXT(next_openat, "openat", NULL), dirfd, path, flags,
			     VA_MODE(flags, flags), 1);
	after_open(fd, dirfd, path, flags);
	return fd;
}

CRS_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	int fd = call_openat(CRS_NEXT(next_openat64, "openat64", NULL), dirfd, path, flags,
			     VA_MODE(flags, flags), 1);
	after_open(fd, dirfd, path, flags);
	return fd;
}

CRS_EXPORT int creat(const char *path, mode_t mode)
{
	int (*fn)(const char *, mode_t) = CRS_NEXT(next_creat, "creat", NULL);
	int fd = fn ? fn(path, mode)
		    : (int)syscall(SYS_openat, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
	after_open(fd, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC);
	return fd;
}

CRS_EXPORT int creat64(const char *path, mode_t mode)
{
	int (*fn)(const char *, mode_t) = CRS_NEXT(next_creat64, "creat64", NULL);
	int fd = fn ? fn(path, mode)
		    : (int)syscall(SYS_openat, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
	after_open(fd, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC);
	return fd;
}

/* _FORTIFY_SOURCE builds call these instead of open/openat. */
CRS_EXPORT int __open_2(const char *path, int flags)
{
	int (*fn)(const char *, int) = CRS_NEXT(next_open_2, "__open_2", NULL);
	int fd = fn ? fn(path, flags) : (int)syscall(SYS_openat, AT_FDCWD, path, flags, 0);
	after_open(fd, AT_FDCWD, path, flags);
	return fd;
}

CRS_EXPORT int __open64_2(const char *path, int flags)
{
	int (*fn)(const char *, int) = CRS_NEXT(next_open64_2, "__open64_2", NULL);
	int fd = fn ? fn(path, flags) : (int)syscall(SYS_openat, AT_FDCWD, path, flags, 0);
	after_open(fd, AT_FDCWD, path, flags);
	return fd;
}

CRS_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	int (*fn)(int, const char *, int) = CRS_NEXT(next_openat_2, "__openat_2", NULL);
	int fd = fn ? fn(dirfd, path, flags) : (int)syscall(SYS_openat, dirfd, path, flags, 0);
	after_open(fd, dirfd, path, flags);
	return fd;
}

CRS_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	int (*fn)(int, const char *, int) = CRS_NEXT(next_openat64_2, "__openat64_2", NULL);
	int fd = fn ? fn(dirfd, path, flags) : (int)syscall(SYS_openat, dirfd, path, flags, 0);
	after_open(fd, dirfd, path, flags);
	return fd;
}

CRS_EXPORT int close(int fd)
{
	int (*fn)(int) = CRS_NEXT(next_close, "close", NULL);
	int r, saved;

	/* Forget first: once closed, the number may be reused by another thread. */
	if (crs_active(CRS_HOOK_FILE | CRS_HOOK_SHM)) {
		saved = errno;
		if (crs_guard_enter()) {
			crs_record_close(fd);
			crs_guard_leave();
		}
		errno = saved;
	}
	r = fn ? fn(fd) : (int)syscall(SYS_close, fd);
	return r;
}

static int after_truncate(int r, int fd, off_t len)
{
	int saved;

	if (r != 0 || !crs_active(CRS_HOOK_FILE | CRS_HOOK_SHM))
		return r;
	saved = errno;
	if (crs_guard_enter()) {
		crs_record_ftruncate(fd, len);
		crs_guard_leave();
	}
	errno = saved;
	return r;
}

CRS_EXPORT int ftruncate(int fd, off_t len)
{
	int (*fn)(int, off_t) = CRS_NEXT(next_ftruncate, "ftruncate", NULL);

	return after_truncate(fn ? fn(fd, len) : (int)syscall(SYS_ftruncate, fd, len), fd, len);
}

CRS_EXPORT int ftruncate64(int fd, off_t len)
{
	int (*fn)(int, off_t) = CRS_NEXT(next_ftruncate64, "ftruncate64", NULL);

	return after_truncate(fn ? fn(fd, len) : (int)syscall(SYS_ftruncate, fd, len), fd, len);
}

/* unlink family: who the name pointed at is looked up before the call. */
struct unlink_probe {
	uint64_t dev, ino;
	int nlink;
	int active;
};

static void probe_before(struct unlink_probe *p, int dirfd, const char *path)
{
	int saved = errno;

	p->active = crs_active(CRS_HOOK_FILE) && crs_guard_enter();
	if (p->active) {
		crs_record_unlink_prepare(dirfd, path, &p->dev, &p->ino, &p->nlink);
		crs_guard_leave();
	}
	errno = saved;
}

static int after_unlink(int r, struct unlink_probe *p)
{
	int saved = errno;

	if (r == 0 && p->active && crs_guard_enter()) {
		crs_record_unlinked(p->dev, p->ino, p->nlink);
		crs_guard_leave();
	}
	errno = saved;
	return r;
}

CRS_EXPORT int unlink(const char *path)
{
	int (*fn)(const char *) = CRS_NEXT(next_unlink, "unlink", NULL);
	struct unlink_probe p;

	probe_before(&p, AT_FDCWD, path);
	return after_unlink(fn ? fn(path) : (int)syscall(SYS_unlinkat, AT_FDCWD, path, 0), &p);
}

CRS_EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
	int (*fn)(int, const char *, int) = CRS_NEXT(next_unlinkat, "unlinkat", NULL);
	struct unlink_probe p;

	probe_before(&p, dirfd, path);
	return after_unlink(fn ? fn(dirfd, path, flags) : (int)syscall(SYS_unlinkat, dirfd, path, flags),
			    &p);
}

CRS_EXPORT int remove(const char *path)
{
	int (*fn)(const char *) = CRS_NEXT(next_remove, "remove", NULL);
	struct unlink_probe p;

	probe_before(&p, AT_FDCWD, path);
	if (!fn) {
		int r = (int)syscall(SYS_unlinkat, AT_FDCWD, path, 0);

		if (r < 0 && errno == EISDIR)
			r = (int)syscall(SYS_unlinkat, AT_FDCWD, path, AT_REMOVEDIR);
		return after_unlink(r, &p);
	}
	return after_unlink(fn(path), &p);
}

static int after_rename(int r, struct unlink_probe *src, struct unlink_probe *dst, int newdirfd,
			const char *newpath)
{
	int saved = errno;

	if (r == 0 && src->active && crs_guard_enter()) {
		crs_record_renamed(src->dev, src->ino, newdirfd, newpath, dst->dev, dst->ino, dst->nlink);
		crs_guard_leave();
	}
	errno = saved;
	return r;
}

CRS_EXPORT int rename(const char *oldpath, const char *newpath)
{
	int (*fn)(const char *, const char *) = CRS_NEXT(next_rename, "rename", NULL);
	struct unlink_probe s, d;

	probe_before(&s, AT_FDCWD, oldpath);
	probe_before(&d, AT_FDCWD, newpath);
	return after_rename(fn ? fn(oldpath, newpath)
			       : (int)syscall(SYS_renameat2, AT_FDCWD, oldpath, AT_FDCWD, newpath, 0),
			    &s, &d, AT_FDCWD, newpath);
}

CRS_EXPORT int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	int (*fn)(int, const char *, int, const char *) = CRS_NEXT(next_renameat, "renameat", NULL);
	struct unlink_probe s, d;

	probe_before(&s, olddirfd, oldpath);
	probe_before(&d, newdirfd, newpath);
	return after_rename(fn ? fn(olddirfd, oldpath, newdirfd, newpath)
			       : (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, 0),
			    &s, &d, newdirfd, newpath);
}

CRS_EXPORT int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
			 unsigned int flags)
{
	int (*fn)(int, const char *, int, const char *, unsigned) =
		CRS_NEXT(next_renameat2, "renameat2", NULL);
	struct unlink_probe s, d;
	int r;

	probe_before(&s, olddirfd, oldpath);
	probe_before(&d, newdirfd, newpath);
	r = fn ? fn(olddirfd, oldpath, newdirfd, newpath, flags)
	       : (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
	if (flags & RENAME_EXCHANGE)
		d.ino = 0; /* both names survive, swapped: nothing was unlinked */
	return after_rename(r, &s, &d, newdirfd, newpath);
}
