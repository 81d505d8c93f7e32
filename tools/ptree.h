/* Process trees from /proc/PID/task/TID/children. */
#ifndef CRSHIM_PTREE_H
#define CRSHIM_PTREE_H

#include <stdio.h>
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
/* 1 if the process is stopped by a signal (state T; not a ptrace stop). */
int ptree_is_stopped(pid_t pid);
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

/* The parsers behind them, on text (tests/fuzz/fuzz_ptree.c). */
struct ptree_stat {
	char state;
	int ppid, pgrp, session;
	unsigned tty_nr; /* the kernel's encoding of the controlling terminal */
};
/* The line of /proc/PID/stat into sf: 0, or -1 if it is not one. */
int ptree_parse_stat(const char *line, struct ptree_stat *sf);
/* /proc/PID/status: 1 if its NSsid line ends with 0, else 0. */
int ptree_parse_session_outside(FILE *f);
/* A /proc/PID/task/TID/children file: appends its pids to *v (*n
 * entries, realloc'ed); the number appended. */
int ptree_parse_children(FILE *f, pid_t **v, int *n);

#endif
