/* Running CRIU: configuration files, child processes, log excerpts. */
#ifndef CRSHIM_CRIU_RUN_H
#define CRSHIM_CRIU_RUN_H

#include <stdio.h>
#include <sys/types.h>

/* Start criu with argv (argv[0] ignored; the binary is criu_path) and the
 * extra environment entries env (NULL-terminated, may be NULL); its stdout
 * and stderr go to out_path, its stdin is stdin_fd (-1: /dev/null), and of
 * the other fds only keep_fds stay open.  Returns the child's pid or -1. */
pid_t criu_spawn(const char *criu_path, char *const argv[], char *const env[], const char *out_path,
		 int stdin_fd, const int *keep_fds, int nkeep);
/* Wait for a criu started by criu_spawn; returns its exit status (128+sig
 * when killed). */
int criu_wait(pid_t pid);
/* End what is left of a CRIU run's process group after it failed. */
void criu_reap_group(pid_t pid);
/* After a CRIU run that failed: remove its network lock (the nftables table
 * "inet CRIU-<run id>", the id read from its log) if it is still there: a
 * CRIU killed or crashed while it held the lock leaves it, and it drops the
 * TCP connections of processes that run again. */
void criu_network_unlock(const char *log_path);
/* Print the lines of a CRIU log that explain a failure ("Error", and the
 * last lines), indented, at most max lines, to f. */
void criu_log_excerpt(FILE *f, const char *log_path, int max);
/* For -v after a CRIU run that succeeded: its warnings ("Warn") and its
 * last line ("Dumping finished successfully"), indented, at most max lines
 * with a count of the warnings left out, to f. */
void criu_log_summary(FILE *f, const char *log_path, int max);
/* "4.2.1" from `criu --version`, into out ("unknown" if it cannot tell). */
void criu_version(const char *criu_path, char *out, size_t outlen);
/* Print a command line for -v. */
void criu_print_cmdline(FILE *f, const char *criu_path, char *const argv[]);

#endif
