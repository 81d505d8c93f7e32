/*
 * Output files: a regular file a dumped process has open write-only and
 * writes at its end (a job's stdout redirected to a file, a log).  CRIU
 * records such a file's size and refuses to restore once it grew ("File X
 * has bad size"), which it always does when the job, or a later run, kept
 * writing after the checkpoint.  crshim marks them external and at restore
 * hands every holder the file opened for appending: the restored program's
 * output continues after whatever the file holds then, nothing written
 * since the checkpoint is lost or overwritten.  This needs no shim in the
 * process (mpirun's stdout, for one).
 *
 * What the program sees: its fd is opened O_WRONLY|O_APPEND (shared by
 * all holders of that file in the checkpoint).  Files written elsewhere
 * than at their end (seek + write, pwrite) are not outputs and keep CRIU's
 * own handling.
 */
#ifndef CRSHIM_OUTPUTS_H
#define CRSHIM_OUTPUTS_H

#include "dump_util.h"

#include <jansson.h>

/* [{id, path, dev, ino, mnt_id, external, mode, size, holders:[{pid,fds}]}];
 * files for which skip(dev, ino, ctx) returns 1 are left out. */
json_t *outputs_discover(const struct dproc *procs, int nprocs, int (*skip)(uint64_t, uint64_t, void *),
			 void *ctx);
/* Restore: the file to hand over, opened for appending; -1 with a sentence. */
int output_prepare(json_t *entry, char *err, size_t errlen);

#endif
