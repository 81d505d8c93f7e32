/* Where things are: the shim library, CRIU, the control directory. */
#ifndef CRSHIM_PATHS_H
#define CRSHIM_PATHS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Absolute path of the libcrshim.so that belongs to this crshim binary,
 * found relative to the binary first (an install moved with --prefix or
 * DESTDIR), then in the build tree, then in the configured libdir (the
 * order is in paths.c).  Returns 0, or -1 with a sentence in out.
 */
int paths_libcrshim(char *out, size_t outlen);
/* The control-endpoint directory for uid (CRSHIM_RUNDIR or /tmp/crshim-UID). */
void paths_rundir(uid_t uid, char *out, size_t outlen);
/*
 * The CRIU to run: $CRSHIM_CRIU, else the one tools/get-criu.sh selected
 * (/opt/crshim/criu/selected), else its private CRIU (/opt/crshim/criu/criu),
 * else `criu` on PATH.  Absolute paths: the same wherever crshim is installed.
 * Returns 0 and the path, or -1 with a sentence in out.
 */
int paths_criu(char *out, size_t outlen);

#endif
