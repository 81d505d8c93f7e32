/*
 * fds that CRIU cannot hand back through --inherit-fd.
 *
 * For an external file CRIU reopens the inherited fd as /proc/self/fd/N
 * with the program's original open flags; with O_NOFOLLOW (glibc's
 * shm_open always adds it, Open MPI and PMIx use it) that open fails with
 * ELOOP on the magic link.  O_NOFOLLOW only matters while a file is being
 * opened, so at PREPARE each such fd of a regular file on tmpfs, or of an
 * unlinked one, gets a fresh open file description of the same file
 * without it (same access mode, flags, offset), put in place with dup3.
 * What changes for the program: that fd no longer shares its offset with
 * fds it was dup'ed from (shared-memory fds are mapped, not read).
 */
#include "shim.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Does fd need a new description: O_NOFOLLOW, a regular file on tmpfs or
 * unlinked?  Its flags go to *fl and *fdfl. */
static int needs_reopen(int fd, int *fl, int *fdfl)
{
	struct stat st;
	struct statfs sf;

	*fl = (int)syscall(SYS_fcntl, fd, F_GETFL);
	*fdfl = (int)syscall(SYS_fcntl, fd, F_GETFD);
	if (*fl < 0 || *fdfl < 0 || !(*fl & O_NOFOLLOW))
		return 0;
	if (syscall(SYS_fstat, fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (st.st_nlink != 0 && (syscall(SYS_fstatfs, fd, &sf) < 0 || sf.f_type != TMPFS_MAGIC))
		return 0;
	return 1;
}

/* Raw system calls on the program's fd, as everywhere the control thread
 * touches the program's fds: the program's threads are parked meanwhile, a
 * synchronisation a sanitizer runtime (TSan) cannot see through libc's fd
 * calls. */
static void reopen_one(int fd)
{
	char link[64];
	int fl, fdfl, nfd;
	off_t pos;

	if (!needs_reopen(fd, &fl, &fdfl))
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	nfd = (int)syscall(SYS_openat, AT_FDCWD, link, (fl & ~(O_NOFOLLOW | O_CREAT | O_EXCL | O_TRUNC)) | O_CLOEXEC);
	if (nfd < 0) {
		crs_debug("prepare: cannot reopen fd %d without O_NOFOLLOW: %s", fd, strerror(errno));
		return;
	}
	pos = (off_t)syscall(SYS_lseek, fd, 0, SEEK_CUR);
	if (pos >= 0)
		syscall(SYS_lseek, nfd, pos, SEEK_SET);
	if (syscall(SYS_dup3, nfd, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
		crs_debug("prepare: dup3 over fd %d failed: %s", fd, strerror(errno));
	syscall(SYS_close, nfd);
}

static void reopen_entry(const char *name, int dirfd, void *arg)
{
	int fd = atoi(name);

	(void)arg;
	if (fd != dirfd)
		reopen_one(fd);
}

static void count_entry(const char *name, int dirfd, void *arg)
{
	int fd = atoi(name), fl, fdfl;

	if (fd != dirfd && needs_reopen(fd, &fl, &fdfl))
		(*(int *)arg)++;
}

void crs_reopen_prepare(void)
{
	int n = 0, skipped, parked = -1;

	crs_for_each_entry("/proc/self/fd", count_entry, &n);
	if (!n)
		return;
	/* Between the check of an fd and the dup3 over it, a thread of the
	 * program could close it and open another file at the same number,
	 * which dup3 would then replace: the threads are parked meanwhile
	 * (a few ms, only when there is something to reopen). */
	if (!crs_parked())
		parked = crs_park_all(5000, &skipped);
	crs_for_each_entry("/proc/self/fd", reopen_entry, NULL);
	if (parked >= 0)
		crs_unpark_all();
}
