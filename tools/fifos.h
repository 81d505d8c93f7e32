/* Named FIFOs held open by dumped processes: CRIU reopens them by path at
 * restore, so a FIFO removed with its directory (Open MPI's session
 * directory) is made again, with its mode and owner. */
#ifndef CRSHIM_FIFOS_H
#define CRSHIM_FIFOS_H

#include "dump_util.h"

#include <jansson.h>

/* [{path, mode, uid, gid}] of the named FIFOs the processes hold. */
json_t *fifos_collect(const struct dproc *procs, int nprocs);
/* Make the missing ones (and their directories); -1 with a sentence. */
int fifos_recreate(json_t *fifos, char *err, size_t errlen);

#endif
