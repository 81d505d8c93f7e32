/* crshim run PROGRAM [ARGS] and crshim lib. */
#include "commands.h"
#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_lib(int argc, char **argv)
{
	char lib[PATH_MAX];

	(void)argc;
	(void)argv;
	if (paths_libcrshim(lib, sizeof(lib)) < 0) {
		fprintf(stderr, "crshim lib: %s\n", lib);
		return 1;
	}
	printf("%s\n", lib);
	return 0;
}

/* LD_PRELOAD keeps what was there; the shim goes first. */
int cmd_run(int argc, char **argv)
{
	char lib[PATH_MAX], *pre;
	const char *old = getenv("LD_PRELOAD");
	int first = 1;

	if (first < argc && !strcmp(argv[first], "--"))
		first++;
	if (first >= argc) {
		fprintf(stderr, "usage: crshim run [--] PROGRAM [ARGS]\n");
		return 2;
	}
	if (paths_libcrshim(lib, sizeof(lib)) < 0) {
		fprintf(stderr, "crshim run: %s\n", lib);
		return 1;
	}
	if (old && *old && !strstr(old, lib)) {
		if (asprintf(&pre, "%s:%s", lib, old) < 0)
			return 1;
	} else {
		pre = strdup(old && *old ? old : lib);
	}
	setenv("LD_PRELOAD", pre, 1);
	free(pre);
	execvp(argv[first], argv + first);
	fprintf(stderr, "crshim run: cannot run %s: %s\n", argv[first], strerror(errno));
	return 127;
}
