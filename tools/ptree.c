/* Process trees and per-process facts from /proc. */
#include "ptree.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int push(pid_t **v, int *n, pid_t pid)
{
	pid_t *nv = realloc(*v, (size_t)(*n + 1) * sizeof(pid_t));

	if (!nv)
		return -1;
	*v = nv;
	nv[(*n)++] = pid;
	return 0;
}

/* Children of every thread of pid. */
static int children(pid_t pid, pid_t **v, int *n)
{
	char path[96];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char cpath[320];
		FILE *f;
		int c;

		if (de->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int)pid, de->d_name);
		f = fopen(cpath, "re");
		while (f && fscanf(f, "%d", &c) == 1)
			push(v, n, (pid_t)c);
		if (f)
			fclose(f);
	}
	closedir(d);
	return 0;
}

int ptree_collect(pid_t pid, pid_t **v, int *n)
{
	pid_t *kids = NULL;
	int nk = 0;

	if (push(v, n, pid) < 0)
		return -1;
	if (children(pid, &kids, &nk) < 0) {
		free(kids);
		return 0;
	}
	for (int i = 0; i < nk; i++)
		ptree_collect(kids[i], v, n);
	free(kids);
	return 0;
}

int ptree_nchildren(pid_t pid)
{
	pid_t *kids = NULL;
	int nk = 0;

	children(pid, &kids, &nk);
	free(kids);
	return nk;
}

/* Fields after the ")" that ends comm (comm may contain spaces). */
static int stat_fields(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[1024], *p;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (!ok || !(p = strrchr(buf, ')')))
		return -1;
	return sscanf(p + 1, " %c %d", state, ppid) == 2 ? 0 : -1;
}

pid_t ptree_ppid(pid_t pid)
{
	char s;
	pid_t pp;

	return stat_fields(pid, &s, &pp) == 0 ? pp : -1;
}

int ptree_is_zombie(pid_t pid)
{
	char s;
	pid_t pp;

	return stat_fields(pid, &s, &pp) == 0 && (s == 'Z' || s == 'X');
}

int ptree_session_outside(pid_t pid)
{
	char path[64], line[256];
	int outside = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "NSsid:", 6)) {
			char *last = strrchr(line, '\t');

			outside = atoi(last ? last + 1 : line + 6) == 0;
			break;
		}
	fclose(f);
	return outside;
}

void ptree_comm(pid_t pid, char *out, size_t outlen)
{
	char path[64];
	FILE *f;

	snprintf(out, outlen, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(out, (int)outlen, f))
			out[strcspn(out, "\n")] = 0;
		fclose(f);
	}
}

pid_t ptree_group_member(pid_t id)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	while (d && !found && (de = readdir(d))) {
		char path[300], buf[1024], *p;
		pid_t pid = (pid_t)atoi(de->d_name);
		int pgrp, sid, ok;
		char state;
		FILE *f;

		if (pid <= 0 || pid == id)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		ok = fgets(buf, sizeof(buf), f) != NULL;
		fclose(f);
		if (!ok || !(p = strrchr(buf, ')')))
			continue;
		/* zombies too: until reaped they hold the ids */
		if (sscanf(p + 1, " %c %*d %d %d", &state, &pgrp, &sid) == 3 && (pgrp == id || sid == id))
			found = pid;
	}
	if (d)
		closedir(d);
	return found;
}
