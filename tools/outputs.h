/*
 * Output files: a regular file a dumped process has open for appending
 * (O_APPEND with O_WRONLY or O_RDWR, at any position: `>> log`, several
 * processes appending to one log, fopen "a+"), or write-only and
 * positioned at its end (a job's stdout redirected with `>`).  CRIU
 * records such a file's size and refuses to restore once it grew ("File X
 * has bad size"), which it always does when the job, or a later run, kept
 * writing after the checkpoint.  crshim marks them external and at restore
 * hands every holder the file opened for appending: the restored program's
 * output continues after whatever the file holds then, nothing written
 * since the checkpoint is lost or overwritten.  This needs no shim in the
 * process (mpirun's stdout, for one).
 *
 * What the program sees: its fd is opened O_WRONLY|O_APPEND, or
 * O_RDWR|O_APPEND when a holder had it open for reading too (access "rw"),
 * one open file shared by all holders of that file in the checkpoint.  Its
 * position is the recorded one if that was before the end at the dump,
 * otherwise the end of the file as it is at restore.  A file deleted since
 * the dump is created again, empty, with its recorded owner and mode (and
 * its missing directories with the recorded directory's).  Files written
 * elsewhere than at their end without O_APPEND (seek + write, pwrite) are
 * not outputs and keep CRIU's own handling.
 */
#ifndef CRSHIM_OUTPUTS_H
#define CRSHIM_OUTPUTS_H

#include "dump_util.h"

#include <jansson.h>

/* [{id, path, dev, ino, mnt_id, external, mode, uid, gid, access ("w" or
 * "rw"), size_at_dump, pos, dir_mode, dir_uid, dir_gid, holders:[{pid,fds}]}];
 * files for which skip(dev, ino, ctx) returns 1 are left out. */
json_t *outputs_discover(const struct dproc *procs, int nprocs, int (*skip)(uint64_t, uint64_t, void *),
			 void *ctx);
/* Restore: the file to hand over, opened for appending; -1 with a sentence. */
int output_prepare(json_t *entry, char *err, size_t errlen);

#endif
