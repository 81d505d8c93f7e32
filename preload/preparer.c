/*
 * The crshim that sent PREPARE, watched until RESUME or RESTORED (shim.h).
 *
 * A prepared shim has quiesced for a checkpoint (the verbs layer released
 * the HCA and gates the program's verbs calls, the program's checkpoint
 * callbacks ran); only RESUME or RESTORED from crshim undoes that.  If the
 * crshim that prepared it dies first (killed, crashed, its node's OOM
 * killer), nobody would.  Unlike the parker (control.c), the preparer
 * cannot be watched through a pidfd: preparing spans the CRIU dump, and
 * CRIU would have to dump the pidfd of a process outside the checkpoint.
 * So it is known by pid and start time (/proc/PID/stat), and the control
 * thread looks every PREPARER_POLL_MS while prepared.
 *
 * A restored process is prepared too (that is the state it was dumped in)
 * and its preparer is long gone: it waits for RESTORED, which rebuilds the
 * verbs objects; our own start time tells (CRIU's restore creates a new
 * task, so it changes).
 */
#include "shim.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static pid_t preparer;
static unsigned long long preparer_start, self_start;

/* Field 22 of /proc/PID/stat (start time in clock ticks after boot), or 0
 * when pid does not exist.  Raw system calls: see shim.h. */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	long n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = (int)syscall(SYS_open, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 &t) != 1)
		return 0;
	return t;
}

void crs_preparer_set(int conn)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	preparer = 0;
	/* pid 0: the peer is in a pid namespace we cannot see into */
	if (conn < 0 || getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.pid <= 0)
		return;
	self_start = start_time(getpid());
	if (!self_start)
		return;
	preparer = cr.pid;
	preparer_start = start_time(cr.pid);
	/* Gone already (the request waited while we were stopped): a start
	 * time no process has, so that the next look resumes us. */
	if (!preparer_start)
		preparer_start = ~0ULL;
}

void crs_preparer_clear(void)
{
	preparer = 0;
}

int crs_preparer_watched(void)
{
	return preparer != 0;
}

int crs_preparer_gone(pid_t *who)
{
	if (!preparer)
		return 0;
	if (start_time(getpid()) != self_start) {
		preparer = 0; /* restored: RESTORED will come (or a new PREPARE) */
		return 0;
	}
	if (start_time(preparer) == preparer_start)
		return 0;
	*who = preparer;
	preparer = 0;
	return 1;
}
