/*
 * Before dumping: can the checkpoint be consistent?  Said before anything
 * is frozen:
 * - a process talks TCP to another host (an MPI job spanning nodes): the
 *   processes there are not in this checkpoint; refused unless the user
 *   allows a partial checkpoint (--allow-partial);
 * - a rank started by a launcher (mpirun, orted, hydra, slurmstepd, ...)
 *   runs without the shim: a warning (its memfds and SysV segments cannot
 *   be taken over, and it cannot be quiesced).
 */
#ifndef CRSHIM_CONSISTENCY_H
#define CRSHIM_CONSISTENCY_H

#include "dump_util.h"

/* 0 when fine (warnings printed), -1 when refused (message printed). */
int consistency_check(const struct dproc *procs, int nprocs, int allow_partial);

#endif
