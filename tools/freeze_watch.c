/* Watching CRIU freeze the dumped threads (freeze_watch.h). */
#include "freeze_watch.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add(struct freeze_watch *w, pid_t pid, pid_t tid)
{
	pid_t *np = realloc(w->pid, (size_t)(w->n + 1) * sizeof(pid_t));
	pid_t *nt;
	char *ns;

	if (!np)
		return -1;
	w->pid = np;
	nt = realloc(w->tid, (size_t)(w->n + 1) * sizeof(pid_t));
	if (!nt)
		return -1;
	w->tid = nt;
	ns = realloc(w->seen, (size_t)(w->n + 1));
	if (!ns)
		return -1;
	w->seen = ns;
	w->pid[w->n] = pid;
	w->tid[w->n] = tid;
	w->seen[w->n] = 0;
	w->n++;
	return 0;
}

int freeze_watch_init(struct freeze_watch *w, const struct dproc *procs, int nprocs)
{
	memset(w, 0, sizeof(*w));
	for (int i = 0; i < nprocs; i++) {
		char path[64];
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)procs[i].pid);
		d = opendir(path);
		while (d && (de = readdir(d)))
			if (de->d_name[0] != '.' && add(w, procs[i].pid, (pid_t)atoi(de->d_name)) < 0) {
				closedir(d);
				return -1;
			}
		if (d)
			closedir(d);
	}
	return 0;
}

/* State and tracer of one thread from /proc/PID/task/TID/status. */
static int traced_stop(pid_t pid, pid_t tid, pid_t *tracer)
{
	char path[96], line[128];
	int stopped = 0;
	FILE *f;

	*tracer = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "State:", 6))
			stopped = strchr(line, 't') && strstr(line, "tracing stop");
		else if (sscanf(line, "TracerPid: %d", tracer) == 1)
			break;
	}
	fclose(f);
	return stopped;
}

int freeze_watch_all_frozen(struct freeze_watch *w, const pid_t *tracers, int ntracers)
{
	for (int i = 0; i < w->n; i++) {
		pid_t tracer;

		if (w->seen[i] || !traced_stop(w->pid[i], w->tid[i], &tracer))
			continue;
		for (int k = 0; k < ntracers; k++)
			if (tracers[k] == tracer) {
				w->seen[i] = 1;
				w->nseen++;
			}
	}
	return w->n > 0 && w->nseen == w->n;
}

void freeze_watch_free(struct freeze_watch *w)
{
	free(w->pid);
	free(w->tid);
	free(w->seen);
	memset(w, 0, sizeof(*w));
}
