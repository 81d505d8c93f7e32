/*
 * output_worker N INTERVAL_MS [-f PATH -m a|a+] [-2] [-d DELAY_MS]
 *
 * Writes "line I" for I = 1..N, one write(2) each, INTERVAL_MS apart, then
 * "done".  Used to check that a restored program's output continues after
 * what the original wrote since the checkpoint, with nothing lost or
 * truncated.
 *   (default)  to stdout, as it was opened (`> log`, `>> log`)
 *   -f PATH    to PATH, opened O_WRONLY|O_APPEND (-m a, the default) or
 *              O_RDWR|O_APPEND (-m a+); with a+ every iteration also
 *              reads the file back (pread), and stops with a "readfail"
 *              line and exit 3 if it cannot
 *   -2         two processes (fork before the file is opened: each opens
 *              it on its own), writing "A I" and "B I", then "A done" and
 *              "B done"
 *   -d MS      wait MS before the first write
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int readable(int fd)
{
	char c;

	return pread(fd, &c, 1, 0) == 1;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *mode = "a", *tag = NULL;
	int n, ms, two = 0, delay = 0, fd = 1, opt, rw;
	char line[64];
	pid_t child = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s N INTERVAL_MS [-f PATH -m a|a+] [-2] [-d DELAY_MS]\n", argv[0]);
		return 2;
	}
	n = atoi(argv[1]);
	ms = atoi(argv[2]);
	optind = 3;
	while ((opt = getopt(argc, argv, "f:m:2d:")) != -1) {
		if (opt == 'f')
			path = optarg;
		else if (opt == 'm')
			mode = optarg;
		else if (opt == '2')
			two = 1;
		else if (opt == 'd')
			delay = atoi(optarg);
		else
			return 2;
	}
	rw = !strcmp(mode, "a+");
	if (two) {
		child = fork();
		if (child < 0)
			return 1;
		tag = child ? "A" : "B";
	}
	if (path) {
		fd = open(path, (rw ? O_RDWR : O_WRONLY) | O_APPEND | O_CREAT, 0644);
		if (fd < 0) {
			perror(path);
			return 1;
		}
	}
	sleep_ms(delay);
	for (int i = 1; i <= n; i++) {
		int len = tag ? snprintf(line, sizeof(line), "%s %d\n", tag, i)
			      : snprintf(line, sizeof(line), "line %d\n", i);

		if (write(fd, line, (size_t)len) != len)
			return 1;
		if (rw && !readable(fd))
			return write(fd, "readfail\n", 9) == 9 ? 3 : 1;
		sleep_ms(ms);
	}
	snprintf(line, sizeof(line), "%s%sdone\n", tag ? tag : "", tag ? " " : "");
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		return 1;
	if (child > 0) {
		int st;

		if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
			return 4;
	}
	return 0;
}
