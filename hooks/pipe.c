/*
 * pipe2: passed through untouched for the program.  libunwind (used for
 * CRSHIM_BACKTRACE=1) opens a pipe once to validate memory while it
 * unwinds; that pipe is the shim's, so its fds are moved above the numbers
 * the program uses, as the shim's other fds are.
 */
#include "shim.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *next_pipe2;

CRS_EXPORT int pipe2(int fds[2], int flags)
{
	int (*fn)(int[2], int) = CRS_NEXT(next_pipe2, "pipe2", NULL);
	int r = fn ? fn(fds, flags) : (int)syscall(SYS_pipe2, fds, flags);

	if (r == 0 && crs_in_backtrace()) {
		int saved = errno;

		fds[0] = crs_move_fd_high(fds[0]);
		fds[1] = crs_move_fd_high(fds[1]);
		errno = saved;
	}
	return r;
}
