/* Where things are: the shim library, CRIU, the control directory. */
#ifndef CRSHIM_PATHS_H
#define CRSHIM_PATHS_H

#include <stddef.h>
#include <sys/types.h>

/* Absolute path of libcrshim.so that belongs to this crshim binary. */
int paths_libcrshim(char *out, size_t outlen);
/* The control-endpoint directory for uid (CRSHIM_RUNDIR or /tmp/crshim-UID). */
void paths_rundir(uid_t uid, char *out, size_t outlen);
/*
 * The CRIU to run: $CRSHIM_CRIU, else the private CRIU installed by
 * tools/setup.sh (/opt/crshim/criu/criu), else `criu` on PATH.
 * Returns 0 and the path, or -1 with a sentence in out.
 */
int paths_criu(char *out, size_t outlen);

#endif
