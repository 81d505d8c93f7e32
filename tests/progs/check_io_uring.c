/*
 * check_io_uring: holds an io_uring instance (raw io_uring_setup, no
 * liburing); CRIU cannot dump io_uring.  Prints "ready" once set up, then
 * sleeps until killed.
 */
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	struct io_uring_params p;
	long fd;

	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0) {
		perror("io_uring_setup");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
