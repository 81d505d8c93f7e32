/* Process trees and per-process facts from /proc. */
#include "ptree.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

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

		if (de->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int)pid, de->d_name);
		f = fopen(cpath, "re");
		if (f) {
			ptree_parse_children(f, v, n);
			fclose(f);
		}
	}
	closedir(d);
	return 0;
}

int ptree_parse_children(FILE *f, pid_t **v, int *n)
{
	int c, got = 0;

	/* the kernel writes positive pids; anything else ends the list */
	while (fscanf(f, "%d", &c) == 1 && c > 0 && push(v, n, (pid_t)c) == 0)
		got++;
	return got;
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

/* The fields after the ")" that ends comm: comm may contain spaces and
 * parentheses, the fields none. */
int ptree_parse_stat(const char *line, struct ptree_stat *sf)
{
	const char *t = strrchr(line, ')');

	return t && sscanf(t + 1, " %c %d %d %d %u", &sf->state, &sf->ppid, &sf->pgrp, &sf->session,
			   &sf->tty_nr) == 5 ? 0 : -1;
}

static int stat_fields_of(const char *pid_name, struct ptree_stat *sf)
{
	char path[300], buf[1024];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid_name);
	f = fopen(path, "re");
	if (!f)
		return -1;
	ok = fgets(buf, (int)sizeof(buf), f) != NULL;
	fclose(f);
	return ok ? ptree_parse_stat(buf, sf) : -1;
}

static int stat_fields(pid_t pid, char *state, pid_t *ppid)
{
	char name[32];
	struct ptree_stat sf;

	snprintf(name, sizeof(name), "%d", (int)pid);
	if (stat_fields_of(name, &sf) < 0)
		return -1;
	*state = sf.state;
	*ppid = sf.ppid;
	return 0;
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

int ptree_is_stopped(pid_t pid)
{
	char s;
	pid_t pp;

	return stat_fields(pid, &s, &pp) == 0 && s == 'T';
}

int ptree_parse_session_outside(FILE *f)
{
	char line[256];

	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "NSsid:", 6)) {
			char *last = strrchr(line, '\t');

			return atoi(last ? last + 1 : line + 6) == 0;
		}
	return 0;
}

int ptree_session_outside(pid_t pid)
{
	char path[64];
	int outside;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	outside = ptree_parse_session_outside(f);
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
		pid_t pid = (pid_t)atoi(de->d_name);
		struct ptree_stat sf;

		/* zombies too: until reaped they hold the ids */
		if (pid > 0 && pid != id && stat_fields_of(de->d_name, &sf) == 0 &&
		    (sf.pgrp == id || sf.session == id))
			found = pid;
	}
	if (d)
		closedir(d);
	return found;
}

/* /proc/PID/stat's tty_nr: the kernel's new_encode_dev() of the terminal. */
static unsigned encode_tty(dev_t rdev)
{
	unsigned maj = major(rdev), min = minor(rdev);

	return (min & 0xff) | (maj << 8) | ((min & ~0xffu) << 12);
}

pid_t ptree_tty_session(pid_t pid, dev_t rdev)
{
	struct ptree_stat sf;
	char name[32];

	snprintf(name, sizeof(name), "%d", (int)pid);
	return stat_fields_of(name, &sf) == 0 && sf.tty_nr == encode_tty(rdev) ? sf.session : 0;
}
