/*
 * Shared memory CRIU cannot keep shared across separate dumps, moved onto
 * files before the dump: SysV segments (CRIU refuses them outside an IPC
 * namespace) and memfds held by processes of different CRIU runs (CRIU
 * saves a memfd itself, one copy per run).  The holders are parked, the
 * content copied into a new /dev/shm file, each holder maps it in place
 * (SWAP in include/crshim_control.h), the file is unlinked: from then on it
 * is an ordinary unlinked pool.
 */
#ifndef CRSHIM_CONVERT_H
#define CRSHIM_CONVERT_H

#include "dump_util.h"

/* Returns the number of segments moved, or -1 with a message printed. */
int convert_segments(struct dproc *procs, int nprocs);

#endif
