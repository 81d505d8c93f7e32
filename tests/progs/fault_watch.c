/*
 * fault_watch: send a signal to a process the moment a file appears, to
 * interrupt `crshim dump` at a precise step (tests/integration/test_fault_*).
 *
 *   fault_watch DIR NAME PID [SIGNAL [TIMEOUT_S [DELAY_MS]]]
 *
 * Waits (inotify) until DIR/NAME exists, then DELAY_MS (default 0), then
 * sends SIGNAL (default 9) to PID.  NAME may be SUB/FILE: then SUB is waited for first (created inside
 * DIR), then FILE inside it.  A NAME ending in '*' matches any file whose
 * name starts with the rest.  Prints "fired NAME" (exit 0) or "timeout"
 * (exit 1) after TIMEOUT_S seconds (default 60).  Prints "watching" once
 * the watches are in place.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int matches(const char *pat, const char *name)
{
	size_t n = strlen(pat);

	if (n && pat[n - 1] == '*')
		return !strncmp(pat, name, n - 1);
	return !strcmp(pat, name);
}

/* Is something matching pat already in dir?  Its name goes to found. */
static int present(const char *dir, const char *pat, char *found, size_t len)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int r = 0;

	while (d && !r && (de = readdir(d)))
		if (matches(pat, de->d_name)) {
			snprintf(found, len, "%.*s", NAME_MAX, de->d_name);
			r = 1;
		}
	if (d)
		closedir(d);
	return r;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait for pat in dir; 0 when it is there, -1 on timeout. */
static int wait_for(int in, const char *dir, const char *pat, double deadline, char *found, size_t len, int announce)
{
	int wd = inotify_add_watch(in, dir, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE);
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));

	if (wd < 0) {
		fprintf(stderr, "fault_watch: cannot watch %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (announce) {
		printf("watching\n");
		fflush(stdout);
	}
	for (;;) {
		struct pollfd p = { .fd = in, .events = POLLIN };
		double left = deadline - now();
		ssize_t n;

		if (present(dir, pat, found, len))
			return 0;
		if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			return present(dir, pat, found, len) ? 0 : -1;
		n = read(in, buf, sizeof(buf));
		for (char *q = buf; n > 0 && q < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)q;

			if (ev->wd == wd && ev->len && matches(pat, ev->name)) {
				snprintf(found, len, "%.*s", NAME_MAX, ev->name);
				inotify_rm_watch(in, wd);
				return 0;
			}
			q += sizeof(*ev) + ev->len;
		}
	}
}

int main(int argc, char **argv)
{
	char dir[PATH_MAX], found[NAME_MAX + 1], *slash;
	const char *name;
	int pid, sig, in;
	double deadline;

	if (argc < 4) {
		fprintf(stderr, "usage: fault_watch DIR NAME PID [SIGNAL [TIMEOUT_S [DELAY_MS]]]\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	name = argv[2];
	pid = atoi(argv[3]);
	sig = argc > 4 ? atoi(argv[4]) : SIGKILL;
	deadline = now() + (argc > 5 ? atof(argv[5]) : 60);
	in = inotify_init1(IN_CLOEXEC);
	if (in < 0)
		return 2;
	slash = strchr(name, '/');
	if (slash) {
		char sub[NAME_MAX + 1];

		snprintf(sub, sizeof(sub), "%.*s", (int)(slash - name < NAME_MAX ? slash - name : NAME_MAX), name);
		if (wait_for(in, dir, sub, deadline, found, sizeof(found), 1) < 0) {
			printf("timeout\n");
			return 1;
		}
		snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", found);
		name = slash + 1;
	}
	if (wait_for(in, dir, name, deadline, found, sizeof(found), !slash) < 0) {
		printf("timeout\n");
		return 1;
	}
	if (argc > 6 && atoi(argv[6]) > 0) {
		struct timespec ts = { atoi(argv[6]) / 1000, (atoi(argv[6]) % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	kill(pid, sig);
	printf("fired %s\n", found);
	return 0;
}
