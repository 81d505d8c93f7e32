/* The coordination socket between crshim and its CRIU runs (coord.h). */
#include "coord.h"

#include "commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static socklen_t abstract(const char *name, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "%s", name);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
}

int coord_listen(char *name, size_t namelen)
{
	struct sockaddr_un sa;
	struct timespec ts;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, namelen, "crshim-coord-%d-%lx", (int)getpid(), (unsigned long)ts.tv_nsec);
	if (bind(fd, (struct sockaddr *)&sa, abstract(name, &sa)) < 0 || listen(fd, 64) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int coord_accept(int lfd, char *action, size_t alen, long *id)
{
	char buf[128];
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	ssize_t n;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return -1;
	/* Only our own CRIU (same uid, or root) may take part. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || (cr.uid != geteuid() && cr.uid != 0)) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		close(fd);
		return -1;
	}
	buf[n] = 0;
	if (sscanf(buf, "%63s %ld", action, id) != 2 || alen < 64) {
		close(fd);
		return -1;
	}
	return fd;
}

void coord_answer(int fd, int ok)
{
	const char *msg = ok ? "ok\n" : "fail\n";

	/* MSG_NOSIGNAL: the action script is gone when its CRIU crashed; that
	 * must not kill crshim (SIGPIPE) before it cleans up. */
	if (send(fd, msg, strlen(msg), MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET)
		perror("crshim: coordination");
	close(fd);
}

/* crshim __hook: run by CRIU as its action script. */
int cmd_hook(int argc, char **argv)
{
	const char *action = getenv("CRTOOLS_SCRIPT_ACTION"), *name = getenv("CRSHIM_COORD");
	const char *id = getenv("CRSHIM_COORD_ID");
	struct sockaddr_un sa;
	char buf[64];
	ssize_t n;
	int fd;

	(void)argc;
	(void)argv;
	if (!action || !name || !id || strcmp(action, "post-dump") != 0)
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, abstract(name, &sa)) < 0) {
		fprintf(stderr, "crshim hook: cannot reach crshim: %s\n", strerror(errno));
		return 1;
	}
	snprintf(buf, sizeof(buf), "%s %s\n", action, id);
	if (send(fd, buf, strlen(buf), MSG_NOSIGNAL) < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	return strncmp(buf, "ok", 2) == 0 ? 0 : 1;
}
