/*
 * crshim check [--json] PID...
 * Can CRIU dump these processes now, and if not, why: one line per
 * blocker, warning and resource crshim handles (the analysis is check.c).
 * Exit 0 when every process can be dumped, 1 when one cannot, 2 on bad
 * input (not a pid, no such process, a zombie, another user's process).
 */
#include "check.h"
#include "commands.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: crshim check [--json] PID...\n"
		   "  Can CRIU dump PID (and its descendants) now?  Lists every blocker,\n"
		   "  what needs a CRIU option, and what crshim takes over.\n"
		   "  Exit 0: dumpable, 1: a blocker, 2: bad input.\n");
}

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	v = strtol(s, &end, 10);
	if (!*s || *end || v <= 0 || v > 0x3fffffff)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

/* ------------------------------------------------------------------ human */

static void print_item(const struct check_report *rep, const struct check_item *it)
{
	printf("  %-8s ", check_severity_name(it->severity));
	if (it->pid && it->pid != rep->pid)
		printf("pid %d ", it->pid);
	printf("%s: %s\n", it->what, it->reason);
}

static void print_summary(const struct check_report *rep)
{
	int b = check_report_count(rep, CHECK_BLOCKER);
	int w = check_report_count(rep, CHECK_WARN);
	int h = check_report_count(rep, CHECK_HANDLED);

	printf("pid %d (%s", rep->pid, rep->comm);
	if (rep->nprocs > 1)
		printf(", with %d descendant%s", rep->nprocs - 1, rep->nprocs > 2 ? "s" : "");
	if (b)
		printf("): cannot be dumped: %d blocker%s", b, b > 1 ? "s" : "");
	else
		printf("): can be dumped");
	printf(" (%d warning%s, %d handled by crshim)\n", w, w == 1 ? "" : "s", h);
}

static void print_human(const struct check_report *rep)
{
	int i;

	for (i = 0; i < rep->nitems; i++)
		print_item(rep, &rep->items[i]);
	print_summary(rep);
}

/* ------------------------------------------------------------------- json */

static json_t *item_json(const struct check_item *it)
{
	return json_pack("{s:s, s:i, s:s, s:s}", "severity", check_severity_name(it->severity),
			 "pid", (int)it->pid, "what", it->what, "reason", it->reason);
}

static json_t *report_json(const struct check_report *rep)
{
	json_t *items = json_array();
	int i;

	for (i = 0; i < rep->nitems; i++)
		json_array_append_new(items, item_json(&rep->items[i]));
	return json_pack("{s:i, s:s, s:b, s:i, s:{s:b, s:b}, s:o}", "pid", (int)rep->pid,
			 "comm", rep->comm, "dumpable", check_report_dumpable(rep), "processes",
			 rep->nprocs, "shim", "loaded", rep->shim_loaded, "answers",
			 rep->shim_answers, "items", items);
}

static json_t *error_json(pid_t pid, const char *error)
{
	return json_pack("{s:i, s:s}", "pid", (int)pid, "error", error);
}

/* ------------------------------------------------------------------- main */

/* Check one pid; returns its exit status and adds its JSON to out. */
static int check_one(pid_t pid, int json, json_t *out)
{
	struct check_report rep;
	int ret, status;

	ret = check_process(pid, &rep);
	if (ret < 0) {
		fprintf(stderr, "crshim check: %s\n", rep.error);
		if (json)
			json_array_append_new(out, error_json(pid, rep.error));
		check_report_free(&rep);
		return 2;
	}
	if (json)
		json_array_append_new(out, report_json(&rep));
	else
		print_human(&rep);
	status = check_report_dumpable(&rep) ? 0 : 1;
	check_report_free(&rep);
	return status;
}

static void print_json(json_t *all)
{
	json_t *doc = json_array_size(all) == 1 ? json_array_get(all, 0) : all;

	json_dumpf(doc, stdout, JSON_INDENT(2));
	putchar('\n');
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, i, json = 0, worst = 0, st;
	json_t *all;
	pid_t *pids;

	while ((c = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	pids = calloc((size_t)(argc - optind), sizeof(*pids));
	if (!pids)
		return 2;
	for (i = optind; i < argc; i++)
		if (parse_pid(argv[i], &pids[i - optind])) {
			fprintf(stderr, "crshim check: '%s' is not a process id\n", argv[i]);
			free(pids);
			return 2;
		}
	all = json_array();
	for (i = 0; i < argc - optind; i++) {
		st = check_one(pids[i], json, all);
		if (st > worst)
			worst = st;
	}
	if (json)
		print_json(all);
	json_decref(all);
	free(pids);
	return worst;
}
