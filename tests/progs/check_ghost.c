/*
 * check_ghost [DIR] [KiB]: maps MAP_SHARED a file of KiB (default 4096) it
 * created in DIR (default: the current directory) and unlinked; above
 * CRIU's 1 MiB ghost limit the dump fails, below it CRIU copies the file.
 * Prints "ready" once set up, then sleeps until killed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	size_t size = (size_t)(argc > 2 ? atoi(argv[2]) : 4096) << 10;
	char path[4096];
	char *p;
	int fd;

	snprintf(path, sizeof(path), "%s/check_ghost.%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || unlink(path) || ftruncate(fd, (off_t)size)) {
		perror(path);
		return 1;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	close(fd);
	memset(p, 0x5a, size);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
