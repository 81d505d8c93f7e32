/*
 * "Can CRIU dump this process now, and if not, why?"
 *
 * The engine behind `crshim check`, kept free of output formatting so a C
 * API can reuse it.  It reads /proc/PID (and the processes below it: `criu
 * dump -t PID` takes the whole tree) and judges every resource against what
 * CRIU 4.x can dump, and against what libcrshim.so takes over when it is
 * loaded in the process that holds the resource.
 *
 * Nothing is done to the inspected processes: no ptrace, no signal, no fd
 * is opened through /proc/PID/fd (that could block on a FIFO or reset a
 * device).  The only contact is the shim's own control socket (PING).
 */
#ifndef CRSHIM_CHECK_H
#define CRSHIM_CHECK_H

#include <stddef.h>
#include <sys/types.h>

/* Severity of one item, from harmless to fatal for a dump. */
enum check_severity {
	CHECK_OK = 0,	   /* CRIU dumps it as it is */
	CHECK_HANDLED,	   /* CRIU alone would fail or lose it; crshim takes it over */
	CHECK_WARN,	   /* dumps, but needs a CRIU option or may not restore */
	CHECK_BLOCKER,	   /* `criu dump` fails because of it */
};

#define CHECK_WHAT_MAX 320
#define CHECK_REASON_MAX 512

struct check_item {
	int severity;			/* enum check_severity */
	pid_t pid;			/* holder in the tree; 0: not tied to a process */
	char what[CHECK_WHAT_MAX];	/* "fd 5 -> /dev/kvm", "map 7f..-7f.. /SYSV0000002a" */
	char reason[CHECK_REASON_MAX];	/* a sentence for a person */
};

struct check_report {
	pid_t pid;		/* the root of the tree that was checked */
	char comm[32];		/* its name (/proc/PID/comm) */
	int nprocs;		/* processes in the tree (pid and its descendants) */
	int shim_loaded;	/* libcrshim.so is mapped in pid */
	int shim_answers;	/* and its control endpoint answered PING */
	int nitems;
	struct check_item *items;
	int cap;		/* allocated items (private) */
	char error[256];	/* why check_process() failed, one line */
};

/* Negative results of check_process(); rep->error holds the sentence. */
enum check_error {
	CHECK_ERR_NOPROC = -1,	/* no such process */
	CHECK_ERR_ZOMBIE = -2,	/* the process has exited, only its zombie is left */
	CHECK_ERR_PERM = -3,	/* another user's process and we are not root */
	CHECK_ERR_SYS = -4,	/* out of memory, /proc unreadable */
};

/* CRIU's default --ghost-limit: unlinked files above it fail the dump. */
#define CHECK_GHOST_LIMIT (1u << 20)

/*
 * Analyse pid and its descendants.  Fills *rep (zeroed first; release it
 * with check_report_free() whatever the result).  Returns 0 when the
 * analysis ran (the verdict is in the items), or a negative enum
 * check_error with a one-line sentence in rep->error.
 */
int check_process(pid_t pid, struct check_report *rep);

void check_report_free(struct check_report *rep);

/* Number of items of that severity. */
int check_report_count(const struct check_report *rep, int severity);

/* 1 when no item is a blocker: `criu dump` is expected to succeed. */
int check_report_dumpable(const struct check_report *rep);

/* "ok", "handled", "warn", "blocker". */
const char *check_severity_name(int severity);

#endif
