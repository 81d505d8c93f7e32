/*
 * shim_secure: reports whether libcrshim.so is loaded and active in this
 * process, for tests of secure execution (setuid/setgid, AT_SECURE) and of
 * CRSHIM_DISABLE=1.  Prints
 *   at_secure=N ruid=N euid=N rgid=N egid=N
 *   shim_mapped=yes|no      a libcrshim* object is in /proc/self/maps
 *   endpoint=yes|no         $CRSHIM_RUNDIR/PID.sock exists (CRSHIM_RUNDIR
 *                           is read with getenv, which secure mode keeps)
 *   threads=N               threads in this process (the shim adds one)
 *   work=CHECKSUM           of some shared-memory work (memfd + mmap +
 *                           MAP_SHARED anonymous + munmap), the same with or
 *                           without the shim
 *   ready PID
 * then waits for its input to end and exits 0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int shim_mapped(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	int found = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "/libcrshim"))
			found = 1;
	if (f)
		fclose(f);
	return found;
}

static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static uint32_t work(void)
{
	uint32_t h = 2166136261u;
	int fd = memfd_create("crs-secure", MFD_CLOEXEC);
	unsigned char *p, *q;

	if (fd < 0 || ftruncate(fd, 8192) < 0)
		return 0;
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	q = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || q == MAP_FAILED)
		return 0;
	for (int i = 0; i < 8192; i++)
		p[i] = (unsigned char)(i * 7);
	memcpy(q, p + 100, 4096);
	for (int i = 0; i < 4096; i++)
		h = (h ^ q[i]) * 16777619u;
	munmap(q, 4096);
	munmap(p, 8192);
	close(fd);
	return h;
}

int main(void)
{
	const char *rundir = getenv("CRSHIM_RUNDIR");
	char path[600], line[64];
	struct stat st;
	int ep = 0;

	if (rundir) {
		snprintf(path, sizeof(path), "%s/%d.sock", rundir, (int)getpid());
		ep = stat(path, &st) == 0;
	}
	printf("at_secure=%lu ruid=%d euid=%d rgid=%d egid=%d\n", getauxval(AT_SECURE), (int)getuid(),
	       (int)geteuid(), (int)getgid(), (int)getegid());
	printf("shim_mapped=%s\n", shim_mapped() ? "yes" : "no");
	printf("endpoint=%s\n", ep ? "yes" : "no");
	printf("threads=%d\n", threads());
	printf("work=%08x\n", work());
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin))
		;
	return 0;
}
