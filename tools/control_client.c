/* Client side of the control protocol. */
#include "control_client.h"

#include "crshim_control.h"
#include "paths.h"
#include "proc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int ctl_endpoint_path(pid_t pid, uid_t uid, char *out, size_t outlen)
{
	char dir[512];

	paths_rundir(uid, dir, sizeof(dir));
	return snprintf(out, outlen, "%s/%d%s", dir, (int)pid, CRSHIM_CONTROL_SUFFIX) >= (int)outlen ? -1 : 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Read until EOF or the deadline; returns a malloc'ed NUL-terminated buffer. */
static char *read_all(int fd, long deadline, size_t *lenp)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);

	while (buf) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		if (len + 1 >= cap) {
			char *nb = cap < CRSHIM_CONTROL_MAX_ANSWER ? realloc(buf, cap * 2) : NULL;

			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf[len] = 0;
			*lenp = len;
			return buf;
		}
		len += (size_t)n;
	}
	free(buf);
	return NULL;
}

/* Write the request line, with fd attached (SCM_RIGHTS) when fd >= 0. */
static int send_request(int sock, const char *line, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (void *)line, strlen(line) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)strlen(line) ? 0 : -1;
}

enum ctl_error ctl_request(pid_t pid, const char *request, int timeout_ms, json_t **answer, char *err,
			   size_t errlen)
{
	return ctl_request_fd(pid, request, -1, timeout_ms, answer, err, errlen);
}

enum ctl_error ctl_request_fd(pid_t pid, const char *request, int pass_fd, int timeout_ms, json_t **answer,
			      char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long deadline = now_ms() + timeout_ms;
	uid_t uid;
	struct stat st;
	char line[CRSHIM_CONTROL_MAX_REQUEST];
	enum ctl_error r;
	char *buf;
	size_t len = 0;
	int fd;

	*answer = NULL;
	if (proc_uid(pid, &uid) < 0) {
		snprintf(err, errlen, "pid %d: no such process", (int)pid);
		return CTL_NO_PROCESS;
	}
	if (geteuid() != 0 && uid != geteuid()) {
		snprintf(err, errlen, "pid %d belongs to uid %u: permission denied", (int)pid, (unsigned)uid);
		return CTL_DENIED;
	}
	if (ctl_endpoint_path(pid, uid, sa.sun_path, sizeof(sa.sun_path)) < 0 ||
	    lstat(sa.sun_path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "pid %d: no crshim endpoint (%s); is it running with the shim?", (int)pid,
			 sa.sun_path);
		return CTL_NO_SHIM;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		enum ctl_error e = (errno == EACCES || errno == EPERM) ? CTL_DENIED : CTL_UNREACHABLE;

		snprintf(err, errlen, "pid %d: cannot connect to %s: %s", (int)pid, sa.sun_path, strerror(errno));
		/* Nobody listens: the socket outlived its shim, whose process
		 * exec'ed a program without it (exec runs no destructor). */
		if (errno == ECONNREFUSED) {
			e = CTL_NO_SHIM;
			snprintf(err, errlen, "pid %d: no crshim endpoint (%s is stale: nobody listens); is it running "
					      "with the shim?", (int)pid, sa.sun_path);
		}
		if (fd >= 0)
			close(fd);
		return e;
	}
	if (snprintf(line, sizeof(line), "%s\n", request) >= (int)sizeof(line)) {
		snprintf(err, errlen, "pid %d: request too long", (int)pid);
		close(fd);
		return CTL_BAD_ANSWER;
	}
	if (send_request(fd, line, pass_fd) < 0) {
		snprintf(err, errlen, "pid %d: cannot send the request: %s", (int)pid, strerror(errno));
		close(fd);
		return CTL_UNREACHABLE;
	}
	buf = read_all(fd, deadline, &len);
	close(fd);
	if (!buf || len == 0) {
		if (buf)
			snprintf(err, errlen, "pid %d: the shim closed the connection without answering%s", (int)pid,
				 proc_exists(pid) ? "" : " (the process ended)");
		else
			snprintf(err, errlen, "pid %d: no answer from the shim within %d ms", (int)pid, timeout_ms);
		free(buf);
		return CTL_UNREACHABLE;
	}
	r = ctl_parse_answer(pid, buf, len, answer, err, errlen);
	free(buf);
	return r;
}

enum ctl_error ctl_parse_answer(pid_t pid, const char *buf, size_t len, json_t **answer, char *err,
				size_t errlen)
{
	json_error_t jerr;

	/* the answer is one line; what may follow it is not read */
	*answer = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, &jerr);
	if (!*answer) {
		snprintf(err, errlen, "pid %d: malformed answer: %s", (int)pid, jerr.text);
		return CTL_BAD_ANSWER;
	}
	if (!json_is_true(json_object_get(*answer, "ok"))) {
		const char *e = json_string_value(json_object_get(*answer, "error"));

		snprintf(err, errlen, "pid %d: %s", (int)pid, e ? e : "request failed");
		return CTL_BAD_ANSWER;
	}
	return CTL_OK;
}
