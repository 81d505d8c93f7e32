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

int cmd_gc(int argc, char **argv)
{
	char dir[512], path[1024];
	struct dirent *de;
	int removed = 0;
	DIR *d;

	(void)argc;
	(void)argv;
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
