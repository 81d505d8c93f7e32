/*
 * Logging for code that runs inside hooks: vsnprintf into a stack buffer and
 * one write(2).  No stdio streams, no malloc.
 */
#include "shim.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int log_fd = 2;
/* Far from the numbers programs expect open() to return. */
#define LOG_FD_FLOOR 1000

static const char *const level_tag[] = { "error", "warn", "info", "debug", "trace" };

void crs_log_open(void)
{
	int fd, hi;

	if (!crs_cfg.log_file[0])
		return;
	fd = (int)syscall(SYS_open, crs_cfg.log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		crs_warn("CRSHIM_LOG_FILE: cannot open %s (%s); logging to stderr", crs_cfg.log_file,
			 strerror(errno));
		return;
	}
	hi = fcntl(fd, F_DUPFD_CLOEXEC, LOG_FD_FLOOR);
	if (hi >= 0) {
		syscall(SYS_close, fd);
		fd = hi;
	}
	log_fd = fd;
}

void crs_log_after_fork(void)
{
	char path[sizeof(crs_cfg.log_file)];

	if (!crs_cfg.log_tmpl[0] || !strstr(crs_cfg.log_tmpl, "%p") ||
	    crs_config_expand_path(crs_cfg.log_tmpl, getpid(), path, sizeof(path)) < 0)
		return;
	if (log_fd > 2)
		syscall(SYS_close, log_fd);
	log_fd = 2;
	memcpy(crs_cfg.log_file, path, sizeof(path));
	crs_log_open();
}

__attribute__((format(printf, 2, 0)))
static void vlog(int level, const char *fmt, va_list ap)
{
	char buf[1024];
	int n, saved = errno;

	if (level > crs_cfg.log_level) {
		errno = saved;
		return;
	}
	n = snprintf(buf, sizeof(buf), "crshim[%d] %s: ", (int)getpid(), level_tag[level]);
	if (n < 0)
		n = 0;
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	syscall(SYS_write, log_fd, buf, (size_t)n);
	errno = saved;
}

void crs_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

void crs_log_once(int *once, int level, const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(once, 1, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}
