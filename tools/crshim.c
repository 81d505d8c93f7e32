/* crshim: drives CRIU for processes running with libcrshim.so. */
#include "build_config.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

int crshim_verbose;

static const char help[] =
	"usage: crshim [-v] COMMAND [ARGS]\n"
	"\n"
	"Commands:\n"
	"  run [--] PROGRAM [ARGS]      run PROGRAM with libcrshim.so preloaded\n"
	"  lib                          print the absolute path of libcrshim.so\n"
	"  status [--json] PID...|--all what the shim recorded, checked against /proc\n"
	"  dump -D DIR [--tree] [--leave-running] [--timeout SEC] [--allow-partial]\n"
	"       PID...                  checkpoint processes (or trees) with CRIU;\n"
	"                               --timeout: for CRIU to freeze them (default 300)\n"
	"  restore -D DIR [--replace] [--timeout SEC] [--child] [--allow-foreign-owner]\n"
	"                               restore every process or tree in DIR; --child:\n"
	"                               the one process (or tree) runs as a child of\n"
	"                               crshim with its stdio, crshim exits with its status;\n"
	"                               refuses a checkpoint another user owns or could\n"
	"                               have written unless --allow-foreign-owner;\n"
	"                               --timeout: for its pids to be free (default 30)\n"
	"  check [--json] PID...        can these processes be dumped now? why not?\n"
	"  doctor [--json] PROGRAM      what crshim can do for PROGRAM (reads its ELF)\n"
	"  gc                           remove endpoints of processes that are gone\n"
	"  --help, --version\n"
	"\n"
	"Environment of the shim (set before the program starts):\n"
	"  CRSHIM_DISABLE=1          pass every call through, record nothing\n"
	"  CRSHIM_LOG=LEVEL          error, warn (default), info, debug, trace\n"
	"  CRSHIM_LOG_FILE=PATH      log there instead of stderr; %p is the pid\n"
	"  CRSHIM_BACKTRACE=1        record where each resource was created\n"
	"  CRSHIM_HOOKS=LIST         families to hook: all (default), none, or a\n"
	"                            comma list of mmap,file,shm,sysv,verbs\n"
	"  CRSHIM_SCRATCH=SPEC       scratch directories: DIR[:POLICY],...  with\n"
	"                            POLICY drop (default), keep or save\n"
	"  CRSHIM_RUNDIR=DIR         control endpoints (default /tmp/crshim-UID)\n"
	"A malformed value gives one warning naming the variable and the default used.\n"
	"\n"
	"Environment of the command:\n"
	"  CRSHIM_CRIU=PATH          the criu binary to run (default: found by itself)\n"
	"  CRSHIM_DUMP_TIMING=1      crshim dump prints the time of each phase on stderr\n"
	"  CRSHIM_RUNDIR=DIR         as above\n";

struct command {
	const char *name;
	int (*fn)(int, char **);
};

static const struct command commands[] = {
	{ "run", cmd_run },	    { "lib", cmd_lib },	      { "status", cmd_status },
	{ "dump", cmd_dump },	    { "restore", cmd_restore }, { "check", cmd_check },
	{ "doctor", cmd_doctor },   { "gc", cmd_gc },	      { "__hook", cmd_hook },
};

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && strcmp(argv[i], "-v") == 0) {
		crshim_verbose++;
		i++;
	}
	if (i >= argc || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "help")) {
		fputs(help, i >= argc ? stderr : stdout);
		return i >= argc ? 2 : 0;
	}
	if (!strcmp(argv[i], "--version")) {
		printf("crshim %s\n", CRSHIM_VERSION);
		return 0;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (!strcmp(argv[i], commands[c].name))
			return commands[c].fn(argc - i, argv + i);
	fprintf(stderr, "crshim: unknown command '%s' (see crshim --help)\n", argv[i]);
	return 2;
}
