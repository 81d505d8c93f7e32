/* Commands that later layers provide; until then they say so. */
#include "commands.h"

#include <stdio.h>

#define NOT_YET(name)                                                                   \
	int cmd_##name(int argc, char **argv)                                           \
	{                                                                               \
		(void)argc;                                                             \
		(void)argv;                                                             \
		fprintf(stderr, "crshim " #name ": not available in this build yet\n"); \
		return 2;                                                               \
	}

NOT_YET(check)
NOT_YET(doctor)
