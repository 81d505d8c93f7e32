/*
 * api_child PIDFILE N MS CODE: writes its pid to PIDFILE, then "line I"
 * for I = 1..N to stdout, MS ms apart (one write(2) each; every tenth line
 * also "err I" to stderr), then "done", and exits with CODE.
 * On SIGTERM it writes "got SIGTERM" and exits 43.  With the shim, a
 * restore callback writes "restore-callback R".  Used by
 * test_criu_child.sh to check `crshim restore --child`.
 */
#include "crshim.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static void put(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		_exit(5);
}

static void on_restore(int restored, void *arg)
{
	char line[64];

	(void)arg;
	snprintf(line, sizeof(line), "restore-callback %d\n", restored);
	put(1, line);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	char line[64];
	int n, ms, code, fd;

	if (argc != 5) {
		fprintf(stderr, "usage: api_child PIDFILE N MS CODE\n");
		return 2;
	}
	n = atoi(argv[2]);
	ms = atoi(argv[3]);
	code = atoi(argv[4]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	crshim_on_restore(on_restore, NULL);
	snprintf(line, sizeof(line), "%d\n", (int)getpid());
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, strlen(line)) < 0 || close(fd) < 0)
		return 2;
	for (int i = 1; i <= n; i++) {
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		if (got_term) {
			put(1, "got SIGTERM\n");
			return 43;
		}
		snprintf(line, sizeof(line), "line %d\n", i);
		put(1, line);
		if (i % 10 == 0) {
			snprintf(line, sizeof(line), "err %d\n", i);
			put(2, line);
		}
		nanosleep(&ts, NULL);
	}
	put(1, "done\n");
	return code;
}
