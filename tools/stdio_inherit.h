/*
 * A program's fds 0, 1 and 2 across a checkpoint.
 *
 * At dump, each process's "stdio" is recorded in the manifest: what fds 0-2
 * lead to and the name CRIU gives that file for --inherit-fd ("pipe:[INO]"
 * for a pipe, "tty[RDEV:DEV]" (hex) for a terminal, the path without its
 * leading "/" for a file or device; see include/crshim_manifest.h).
 *
 * At `crshim restore --child`, the restorer's own fds 0, 1 and 2 are handed
 * to CRIU under those names (--inherit-fd fd[N]:NAME), so the restored
 * program reads and writes where the restorer does: `crshim restore -D DIR
 * --child | consumer` feeds consumer.  A name shared by several fds (2>&1,
 * a child holding its parent's stdout) gets the restorer's fd of the
 * lowest number; an output file (outputs.h) is taken over under its
 * external name.  The controlling terminal of a session whose leader is
 * not in the checkpoint (a program started from a shell) cannot be handed
 * over by name: CRIU gets the restorer's terminal as its stdin and, with
 * --shell-job, gives it to the restored process, which joins the
 * restorer's session.  What cannot be reattached is said on stderr and left to
 * CRIU: a socket, an fd closed in the restorer, a terminal when the
 * restorer's fd is not one (CRIU then reopens the terminal by its name).
 */
#ifndef CRSHIM_STDIO_INHERIT_H
#define CRSHIM_STDIO_INHERIT_H

#include <jansson.h>
#include <sys/types.h>

/* Dump: [{fd, kind, target, key?, dev, ino}] for fds 0-2 of pid. */
json_t *stdio_collect(pid_t pid);

#define STDIO_MAX_INHERIT 16

struct stdio_inherit {
	int ours[3]; /* the restorer's 0, 1, 2, dup'ed (not close-on-exec), -1 if closed */
	int n;
	struct {
		int fd;		/* one of ours[] */
		char key[1100]; /* CRIU's name of the file it replaces */
	} v[STDIO_MAX_INHERIT];
	/* A terminal CRIU must take from its stdin (--shell-job): one of
	 * ours[], or -1; and the names it replaces. */
	int tty_stdin;
	int n_stdin_keys;
	char stdin_keys[STDIO_MAX_INHERIT][64];
};

/*
 * Restore --child: the --inherit-fd pairs for the processes of one dump of
 * manifest m.  Call before the restorer's own fds 0-2 change.  Returns the
 * number of pairs (0 when the manifest has no "stdio": a checkpoint of an
 * older crshim, said once), or -1 (out of fds).
 */
int stdio_inherit_plan(struct stdio_inherit *si, json_t *m, json_t *dump);
/* 1 when the plan hands over the file CRIU knows as key (an output's
 * "file[...]" external minus its first character): do not hand it twice. */
int stdio_inherit_covers(const struct stdio_inherit *si, const char *key);
/* Close the dup'ed fds. */
void stdio_inherit_release(struct stdio_inherit *si);

#endif
