/*
 * Coordination between `crshim dump` and the CRIU runs it starts.
 *
 * Each dump's CRIU configuration names an action script (DIR/hook.sh, which
 * runs `crshim __hook`).  At "post-dump" the tasks of that CRIU run are
 * frozen and their images written; the hook connects to crshim over an
 * abstract unix socket (name in CRSHIM_COORD) and waits.  Once every CRIU
 * run has arrived there, all processes are frozen at once: crshim saves the
 * pools and answers "ok" (or "fail", which makes CRIU fail the dump and
 * resume its tasks).  Run outside crshim (CRSHIM_COORD unset) the hook does
 * nothing, so the configuration file also works with plain criu.
 */
#ifndef CRSHIM_COORD_H
#define CRSHIM_COORD_H

#include <stddef.h>

/* Listening socket with a fresh abstract name (written to name). */
int coord_listen(char *name, size_t namelen);
/* Accept one hook connection; reads "ACTION ID"; returns the fd or -1. */
int coord_accept(int lfd, char *action, size_t alen, long *id);
/* Answer a waiting hook. */
void coord_answer(int fd, int ok);

#endif
