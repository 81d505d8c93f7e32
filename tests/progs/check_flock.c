/*
 * check_flock [DIR]: holds an flock() on a file it created in DIR (default:
 * the current directory).  CRIU dumps held locks only with --file-locks, so
 * `crshim check` must warn.  Prints "ready" once locked, then sleeps until
 * killed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/check_flock.%d", argc > 1 ? argv[1] : ".", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX)) {
		perror(path);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
