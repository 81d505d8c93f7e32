/*
 * doctor_dynamic: an ordinary dynamic program that calls what libcrshim.so
 * intercepts (open, ftruncate, mmap, munmap, close, unlink) and nothing that
 * bypasses it.  `crshim doctor` must find the imports and exit 0.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "doctor_dynamic.tmp";
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char *p;

	if (fd < 0 || ftruncate(fd, 4096)) {
		perror(path);
		return 1;
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		p[0] = 1;
		munmap(p, 4096);
	}
	close(fd);
	unlink(path);
	return 0;
}
