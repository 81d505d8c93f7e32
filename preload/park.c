/*
 * Parking the program's threads, so that crshim can move shared memory that
 * CRIU cannot share across separate dumps (memfds, SysV segments) onto a
 * file while nobody writes to it.
 *
 * The control thread sends CRS_PARK_SIGNAL to every other thread; the
 * handler waits on a futex until unparked.  While threads are parked they
 * may hold any lock (malloc, stdio, the registry), so the control thread
 * only uses system calls until crs_unpark_all() returned.  Threads that
 * block the signal cannot be parked; they are counted and logged.
 */
#include "shim.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int park_flag;
static int parked;
static struct sigaction old_action;
static int installed;

static void park_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)sig;
	(void)si;
	(void)uc;
	if (!__atomic_load_n(&park_flag, __ATOMIC_ACQUIRE)) {
		errno = saved;
		return;
	}
	__atomic_add_fetch(&parked, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&park_flag, __ATOMIC_ACQUIRE))
		syscall(SYS_futex, &park_flag, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
	__atomic_sub_fetch(&parked, 1, __ATOMIC_SEQ_CST);
	errno = saved;
}

/* Does thread tid block sig?  (SigBlk in /proc/self/task/TID/status) */
static int blocks_signal(const char *tid, int sig)
{
	char path[96], buf[2048];
	unsigned long long mask = 0;
	char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
	fd = (int)syscall(SYS_open, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = syscall(SYS_read, fd, buf, sizeof(buf) - 1); /* raw like the open: a sanitizer sees none of it */
	syscall(SYS_close, fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strstr(buf, "SigBlk:");
	if (!p || sscanf(p + 7, "%llx", &mask) != 1)
		return 0;
	return (mask >> (sig - 1)) & 1;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

struct signal_state {
	pid_t self, pid;
	int want, skipped;
};

/* Send the park signal to one thread (not ourselves, not one that blocks it). */
static void signal_thread(const char *name, int dirfd, void *arg)
{
	struct signal_state *st = arg;
	pid_t tid = (pid_t)atoi(name);

	(void)dirfd;
	if (tid <= 0 || tid == st->self)
		return;
	if (blocks_signal(name, CRS_PARK_SIGNAL)) {
		st->skipped++;
		return;
	}
	if (syscall(SYS_tgkill, st->pid, tid, CRS_PARK_SIGNAL) == 0)
		st->want++;
}

int crs_park_all(int timeout_ms, int *skipped)
{
	struct sigaction sa;
	struct signal_state st = { (pid_t)syscall(SYS_gettid), getpid(), 0, 0 };
	int sig = CRS_PARK_SIGNAL;
	long deadline;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = park_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old_action) < 0)
		return -1;
	installed = 1;
	__atomic_store_n(&park_flag, 1, __ATOMIC_RELEASE);
	if (crs_for_each_entry("/proc/self/task", signal_thread, &st) < 0)
		goto fail;
	deadline = now_ms() + timeout_ms;
	*skipped = st.skipped;
	while (__atomic_load_n(&parked, __ATOMIC_SEQ_CST) < st.want) {
		struct timespec ts = { 0, 1000 * 1000 };

		if (now_ms() > deadline)
			goto fail;
		nanosleep(&ts, NULL);
	}
	return st.want;
fail:
	crs_unpark_all();
	return -1;
}

void crs_unpark_all(void)
{
	__atomic_store_n(&park_flag, 0, __ATOMIC_RELEASE);
	syscall(SYS_futex, &park_flag, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
	for (int i = 0; i < 5000 && __atomic_load_n(&parked, __ATOMIC_SEQ_CST) > 0; i++) {
		struct timespec ts = { 0, 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (installed) {
		sigaction(CRS_PARK_SIGNAL, &old_action, NULL);
		installed = 0;
	}
}

int crs_parked(void)
{
	return __atomic_load_n(&park_flag, __ATOMIC_ACQUIRE);
}
