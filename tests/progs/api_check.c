/*
 * api_check [PID|self|avail]: crshim_check() through the C API, printed one
 * fact per line:
 *   rc R errno NAME
 *   report pid P comm C dumpable D processes N shim L A
 *   count blocker B warn W handled H ok O nitems N truncated T
 *   item SEVERITY PID WHAT :: REASON
 *   error TEXT
 * "avail" prints crshim_available() (and errno when 0).
 * Exit status: crshim_check's return value (0, 1), or 2 for -1.
 */
#include "crshim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *sev_name(int s)
{
	static const char *const n[] = { "ok", "handled", "warn", "blocker" };

	return s >= 0 && s < 4 ? n[s] : "?";
}

static const char *errno_name(int e)
{
	switch (e) {
	case 0:
		return "0";
	case ENOSYS:
		return "ENOSYS";
	case ENOENT:
		return "ENOENT";
	case ESRCH:
		return "ESRCH";
	case EPERM:
		return "EPERM";
	case EIO:
		return "EIO";
	case EINVAL:
		return "EINVAL";
	}
	return "other";
}

int main(int argc, char **argv)
{
	static struct crshim_check_report rep;
	int pid, r;

	if (argc != 2) {
		fprintf(stderr, "usage: api_check PID|self|avail\n");
		return 2;
	}
	if (!strcmp(argv[1], "avail")) {
		errno = 0;
		r = crshim_available();
		printf("available %d errno %s\n", r, errno_name(r ? 0 : errno));
		return 0;
	}
	pid = strcmp(argv[1], "self") ? atoi(argv[1]) : 0;
	errno = 0;
	r = crshim_check(pid, &rep);
	printf("rc %d errno %s\n", r, errno_name(r < 0 ? errno : 0));
	if (rep.error[0])
		printf("error %s\n", rep.error);
	if (r < 0)
		return 2;
	printf("report pid %d comm %s dumpable %d processes %d shim %d %d\n", rep.pid, rep.comm, rep.dumpable,
	       rep.nprocs, rep.shim_loaded, rep.shim_answers);
	printf("count blocker %d warn %d handled %d ok %d nitems %d truncated %d\n", rep.count[3],
	       rep.count[2], rep.count[1], rep.count[0], rep.nitems, rep.truncated);
	for (int i = 0; i < rep.nitems; i++)
		printf("item %s %d %s :: %s\n", sev_name(rep.items[i].severity), rep.items[i].pid,
		       rep.items[i].what, rep.items[i].reason);
	return r;
}
