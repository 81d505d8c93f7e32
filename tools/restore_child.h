/*
 * `crshim restore --child`: the restored process (the root of the one dump
 * of the checkpoint) is a child of crshim (CRIU's --restore-sibling),
 * which waits for it, forwards the signals a job gets from its shell or
 * batch system (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) and
 * exits with its status: its exit code, or 128+N when signal N ended it.
 * When crshim runs in the foreground of a terminal, the restored process's
 * group gets the terminal while it runs (Ctrl-C reaches it directly) and
 * crshim takes it back afterwards; when it is stopped (Ctrl-Z) crshim stops
 * too, and continues it when continued.
 */
#ifndef CRSHIM_RESTORE_CHILD_H
#define CRSHIM_RESTORE_CHILD_H

#include <sys/types.h>

/* From now on the forwarded signals are caught; until a target is known
 * they are kept (the last one of each kind). */
void child_signals_catch(void);
/* Forward them to pid from now on, starting with the ones kept. */
void child_signals_forward(pid_t pid);
/* Give pid's process group the terminal when crshim has it (fd 0 is a
 * terminal and crshim's group is in the foreground). */
void child_take_terminal(pid_t pid);
/* Wait for pid (reaping any other child that ends meanwhile); returns its
 * exit code, or 128+N when signal N ended it; the terminal is taken back.
 * -1 when pid is not a child of crshim (it waited until pid was gone). */
int child_wait(pid_t pid);
/* Reap whatever children have ended (after a failed restore). */
void child_reap_all(void);

#endif
