/*
 * check_device [PATH]: holds an open character device CRIU cannot dump
 * (default: the first of /dev/kvm, /dev/fuse, /dev/loop-control that
 * opens).  Prints "ready PATH" once set up, then sleeps until killed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static const char *const cands[] = { "/dev/kvm", "/dev/fuse", "/dev/loop-control" };
	const char *path = NULL;
	int fd = -1;
	size_t i;

	if (argc > 1) {
		path = argv[1];
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	for (i = 0; argc <= 1 && fd < 0 && i < sizeof(cands) / sizeof(cands[0]); i++) {
		path = cands[i];
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0) {
		perror(path ? path : "open");
		return 1;
	}
	printf("ready %s\n", path);
	fflush(stdout);
	for (;;)
		pause();
}
