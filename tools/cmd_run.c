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

static void run_usage(FILE *f)
{
	fprintf(f, "usage: crshim run [--] PROGRAM [ARGS]\n"
		   "  runs PROGRAM with libcrshim.so (crshim lib) first in LD_PRELOAD, keeping\n"
		   "  what LD_PRELOAD held; exits with PROGRAM's status (127: it cannot be run)\n"
		   "  crshim run -- --help runs a program named --help\n");
}

/* LD_PRELOAD keeps what was there; the shim goes first. */
int cmd_run(int argc, char **argv)
{
	char lib[PATH_MAX], *pre;
	const char *old = getenv("LD_PRELOAD");
	int first = 1;

	if (first < argc && (!strcmp(argv[first], "--help") || !strcmp(argv[first], "-h"))) {
		run_usage(stdout);
		return 0;
	}
	if (first < argc && !strcmp(argv[first], "--"))
		first++;
	if (first >= argc) {
		run_usage(stderr);
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
