/* Process trees from /proc/PID/task/TID/children. */
#ifndef CRSHIM_PTREE_H
#define CRSHIM_PTREE_H

#include <sys/types.h>

/* Append pid and all its descendants (pre-order) to *v (malloc'ed, *n
 * entries).  Returns 0 or -1. */
int ptree_collect(pid_t pid, pid_t **v, int *n);
/* Number of children of pid (0 if none or unknown). */
int ptree_nchildren(pid_t pid);
/* Parent pid from /proc/PID/stat, or -1. */
pid_t ptree_ppid(pid_t pid);
/* 1 if the process is a zombie. */
int ptree_is_zombie(pid_t pid);
/* 1 if the session leader of pid lives outside pid's pid namespace (the
 * last NSsid entry of /proc/PID/status is 0): CRIU refuses to dump it. */
int ptree_session_outside(pid_t pid);
/* Short name (comm) into out. */
void ptree_comm(pid_t pid, char *out, size_t outlen);
/* A process (a zombie too) other than id whose process group or session is
 * id (a pid stays in use while it names one), or 0 if none. */
pid_t ptree_group_member(pid_t id);
/* pid's session if the terminal rdev is pid's controlling terminal, else
 * 0: the session CRIU records for that terminal (TIOCGSID in the task). */
pid_t ptree_tty_session(pid_t pid, dev_t rdev);

#endif
