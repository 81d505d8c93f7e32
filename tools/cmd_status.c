/*
 * crshim status PID... | --all [--json]
 * What each shim recorded, cross-checked against /proc/PID/maps and
 * /proc/PID/fd, plus what /proc shows that the shim never saw: shared
 * mappings, deleted files, and the scratch files and outputs `crshim dump`
 * would find (a shell's `> log`, fopen).  Sizes are those of now.  The
 * text and --json forms show the same entries.
 */
#include "commands.h"
#include "control_client.h"
#include "paths.h"
#include "proc.h"
#include "status_view.h"
#include "symbolize.h"

#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* pids with an endpoint in the rundir of uid (root: of every user). */
static int collect_all(pid_t **out)
{
	size_t n = 0, cap = 0;
	pid_t *v = NULL;
	char dir[512];
	DIR *d;
	struct dirent *de;
	int every = geteuid() == 0;
	DIR *top = every ? opendir("/tmp") : NULL;

	do {
		if (every) {
			struct dirent *t;

			do {
				t = readdir(top);
			} while (t && strncmp(t->d_name, "crshim-", 7) != 0);
			if (!t)
				break;
			if (getenv("CRSHIM_RUNDIR"))
				paths_rundir(geteuid(), dir, sizeof(dir));
			else
				snprintf(dir, sizeof(dir), "/tmp/%s", t->d_name);
		} else {
			paths_rundir(geteuid(), dir, sizeof(dir));
		}
		d = opendir(dir);
		while (d && (de = readdir(d))) {
			char *end;
			long pid = strtol(de->d_name, &end, 10);

			if (pid <= 0 || strcmp(end, ".sock") != 0 || !proc_exists((pid_t)pid))
				continue;
			if (n == cap) {
				pid_t *nv = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));

				if (!nv)
					break;
				v = nv;
			}
			v[n++] = (pid_t)pid;
		}
		if (d)
			closedir(d);
		if (every && getenv("CRSHIM_RUNDIR"))
			break;
	} while (every);
	if (top)
		closedir(top);
	*out = v;
	return (int)n;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: crshim status [--json] PID... | --all\n"
		"  per process: what the shim recorded (pools, shm, memfds, SysV, scratch files with\n"
		"  their policy, outputs, shared mappings; current sizes), cross-checked with /proc,\n"
		"  and what /proc shows that the shim did not see, marked so\n");
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int json = 0, all = 0, c, failed = 0, n;
	pid_t *pids = NULL;
	json_t *out;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+ja", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'a': all = 1; break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (all) {
		n = collect_all(&pids);
	} else {
		n = argc - optind;
		if (n <= 0) {
			usage();
			return 2;
		}
		pids = calloc((size_t)n, sizeof(*pids));
		for (int i = 0; i < n; i++) {
			char *end;
			long v = strtol(argv[optind + i], &end, 10);

			if (*end || v <= 0) {
				fprintf(stderr, "crshim status: '%s' is not a pid\n", argv[optind + i]);
				free(pids);
				return 2;
			}
			pids[i] = (pid_t)v;
		}
	}
	out = json_array();
	for (int i = 0; i < n; i++) {
		char err[512];
		json_t *rec = NULL;
		enum ctl_error e = ctl_request(pids[i], "STATUS", 5000, &rec, err, sizeof(err));

		if (e != CTL_OK) {
			fprintf(stderr, "crshim status: %s\n", err);
			failed = 1;
			if (json)
				json_array_append_new(out, json_pack("{s:i,s:b,s:s}", "pid", (int)pids[i], "ok", 0,
								     "error", err));
			continue;
		}
		status_crosscheck(pids[i], rec);
		symbolize_record(pids[i], rec);
		if (json)
			json_array_append(out, rec);
		else
			status_print(stdout, rec);
		json_decref(rec);
	}
	if (json) {
		json_t *doc = json_pack("{s:o}", "processes", out);

		json_dumpf(doc, stdout, JSON_INDENT(1));
		fputc('\n', stdout);
		json_decref(doc);
	} else {
		json_decref(out);
		if (all && n == 0)
			printf("no process with the shim found\n");
	}
	free(pids);
	return failed ? 1 : 0;
}
