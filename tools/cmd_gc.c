/* crshim gc: remove control endpoints whose process is gone. */
#include "commands.h"
#include "paths.h"
#include "proc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Leftovers of a `crshim dump` killed while it moved a memfd or a SysV
 * segment onto a file (tools/convert.c): /dev/shm/.crshim-KIND-PID-N, PID
 * being that crshim.  The processes that took the file over hold it open;
 * once PID is gone the name is only a leftover.
 */
static int gc_shm(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *de;
	int removed = 0;

	while (d && (de = readdir(d))) {
		char kind[16], path[1024];
		int pid, idx, end = 0;
		struct stat st;

		if (sscanf(de->d_name, ".crshim-%15[a-z]-%d-%d%n", kind, &pid, &idx, &end) != 3 || de->d_name[end] ||
		    (strcmp(kind, "memfd") && strcmp(kind, "sysv")) || pid <= 0 || proc_exists((pid_t)pid))
			continue;
		snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && unlink(path) == 0)
			removed++;
	}
	if (d)
		closedir(d);
	if (removed)
		printf("crshim gc: removed %d file%s left in /dev/shm by an interrupted dump\n", removed,
		       removed == 1 ? "" : "s");
	return removed;
}

int cmd_gc(int argc, char **argv)
{
	char dir[512], path[1024];
	struct dirent *de;
	int removed = 0;
	DIR *d;

	(void)argc;
	(void)argv;
	gc_shm();
	paths_rundir(geteuid(), dir, sizeof(dir));
	d = opendir(dir);
	if (!d) {
		printf("crshim gc: nothing to do (%s does not exist)\n", dir);
		return 0;
	}
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		struct stat st;

		if (pid <= 0 || strcmp(end, ".sock") != 0 || proc_exists((pid_t)pid))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(path) == 0)
			removed++;
	}
	closedir(d);
	printf("crshim gc: removed %d stale endpoint%s from %s\n", removed, removed == 1 ? "" : "s", dir);
	return 0;
}
