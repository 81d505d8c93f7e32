/*
 * Knowing from outside when CRIU has frozen every dumped thread, so the
 * pools can be saved while CRIU is still writing its images (instead of
 * after the slowest run reached its post-dump barrier).  A thread counts
 * once it was seen in tracing stop under one of our CRIU processes: from
 * then on CRIU controls it until it detaches, after post-dump.  The
 * post-dump barrier still holds every run until the copy is complete.
 */
#ifndef CRSHIM_FREEZE_WATCH_H
#define CRSHIM_FREEZE_WATCH_H

#include "dump_util.h"

#include <sys/types.h>

struct freeze_watch {
	pid_t *pid, *tid;	/* every thread of every dumped process */
	char *seen;
	int n, nseen;
};

int freeze_watch_init(struct freeze_watch *w, const struct dproc *procs, int nprocs);
/* 1 once every thread has been seen frozen by one of tracers[]. */
int freeze_watch_all_frozen(struct freeze_watch *w, const pid_t *tracers, int ntracers);
void freeze_watch_free(struct freeze_watch *w);

#endif
