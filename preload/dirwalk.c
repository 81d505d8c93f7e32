/*
 * Listing /proc/self/fd and /proc/self/task from inside the process without
 * opendir (it allocates; the shim may run while other threads are parked
 * holding malloc's locks): getdents64 into a stack buffer.
 */
#include "shim.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

struct linux_dirent64 {
	unsigned long long ino;
	long long off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

int crs_for_each_entry(const char *dir, void (*fn)(const char *name, int dirfd, void *arg), void *arg)
{
	char buf[4096];
	long n;
	int dfd = (int)syscall(SYS_open, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return -1;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (void *)(buf + off);

			off += d->reclen;
			if (d->name[0] >= '0' && d->name[0] <= '9')
				fn(d->name, dfd, arg);
		}
	}
	syscall(SYS_close, dfd);
	return 0;
}
