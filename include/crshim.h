/*
 * crshim.h: the C API for programs that cooperate with crshim (an MPI
 * library, an application).
 *
 * Usable with and without the shim: every function here is a small inline
 * wrapper that looks the shim's entry point up at run time (dlsym), so a
 * program needs no extra library to link (`pkg-config --cflags --libs
 * crshim` gives the include path and -ldl).  Without the shim loaded
 * (LD_PRELOAD=$(crshim lib) not set, CRSHIM_DISABLE=1, a setuid program),
 * each call returns the documented "not available" answer; none crashes.
 *
 * Thread-safe; none of these may be called from a signal handler.
 * Callbacks (crshim_on_checkpoint, crshim_on_restore) must not call
 * crshim_check or crshim_checkpoint_self.
 */
#ifndef CRSHIM_H
#define CRSHIM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Scratch policies (also the POLICY words of CRSHIM_SCRATCH). */
enum crshim_scratch_policy {
	CRSHIM_SCRATCH_DROP = 1, /* contents not saved; restored as an empty
				  * sparse file of the recorded size */
	CRSHIM_SCRATCH_KEEP = 2, /* stays where it is; restore checks it is
				  * there with the recorded size */
	CRSHIM_SCRATCH_SAVE = 3, /* copied into the checkpoint once, restored */
};

#define CRSHIM__CALL(type, name, args, fallback)                                     \
	type (*fn__) args = (type (*) args)dlsym(RTLD_DEFAULT, "crshim_impl_" name); \
	if (!fn__) {                                                                 \
		errno = ENOSYS;                                                      \
		return fallback;                                                     \
	}

/* Bits of crshim_available(). */
#define CRSHIM_AVAILABLE_SHIM 1 /* libcrshim.so is loaded and active */
#define CRSHIM_AVAILABLE_CRIU 2 /* and a CRIU executable was found, as crshim
				 * finds it: $CRSHIM_CRIU, the one tools/setup.sh
				 * selected (/opt/crshim/criu), criu on PATH
				 * (found, not run: `crshim doctor` tells more) */

/*
 * 0 when the shim is not loaded or not active in this process; otherwise
 * CRSHIM_AVAILABLE_SHIM, plus CRSHIM_AVAILABLE_CRIU when a CRIU was found
 * (so `if (crshim_available())` still means "the shim is here").
 */
static inline int crshim_available(void)
{
	CRSHIM__CALL(int, "available", (void), 0);
	return fn__();
}

/*
 * Mark path (a file, or a directory: everything below it) as scratch with
 * the given policy.  Applies to files already open and to later opens.
 * Returns 0, or -1 with errno: ENOSYS (no shim), EINVAL (bad policy or a
 * relative path), ENOSPC (more than 64 marks).
 */
static inline int crshim_mark_scratch(const char *path, int policy)
{
	CRSHIM__CALL(int, "mark_scratch", (const char *, int), -1);
	return fn__(path, policy);
}

/*
 * After a restore: 1 if the scratch file at path was restored empty (its
 * contents were dropped), 0 if not (kept, saved, or not scratch), -1 with
 * errno ENOSYS without the shim.
 */
static inline int crshim_scratch_dropped(const char *path)
{
	CRSHIM__CALL(int, "scratch_dropped", (const char *), -1);
	return fn__(path);
}

/* ---------------------------------------------------------------- check */

/* Severity of one item of a check report, from harmless to fatal. */
enum crshim_check_severity {
	CRSHIM_CHECK_OK = 0,	  /* CRIU dumps it as it is */
	CRSHIM_CHECK_HANDLED = 1, /* CRIU alone would fail or lose it; crshim takes it over */
	CRSHIM_CHECK_WARN = 2,	  /* dumps, but needs a CRIU option or may not restore */
	CRSHIM_CHECK_BLOCKER = 3, /* a dump fails because of it */
};

#define CRSHIM_CHECK_MAX_ITEMS 32

struct crshim_check_item {
	int severity;		/* enum crshim_check_severity */
	int pid;		/* the process holding it (one of the tree) */
	char what[320];		/* "fd 5 -> /dev/kvm", "map 7f..-7f.. /SYSV0000002a" */
	char reason[512];	/* a sentence for a person */
};

/*
 * What `crshim check --json PID` says, in fixed arrays.  Items are sorted
 * by severity, blockers first; when there are more than
 * CRSHIM_CHECK_MAX_ITEMS the least severe ones are left out (count[] still
 * counts all of them, truncated is 1).  Strings are NUL-terminated and cut
 * to fit.  About 27 KiB: better static or on the heap than on a small
 * thread stack.
 */
struct crshim_check_report {
	int pid;		/* the root of the tree that was checked */
	char comm[32];		/* its name */
	int dumpable;		/* 1 when no item is a blocker */
	int nprocs;		/* processes in the tree (pid and its descendants) */
	int shim_loaded;	/* libcrshim.so is mapped in pid */
	int shim_answers;	/* and its control endpoint answered */
	int count[4];		/* items per severity (CRSHIM_CHECK_OK..BLOCKER) */
	int nitems;		/* entries used in items[] */
	int truncated;		/* items were left out */
	char error[256];	/* why the check could not run, one line */
	struct crshim_check_item items[CRSHIM_CHECK_MAX_ITEMS];
};

/*
 * Can CRIU dump pid (0: this process) and its descendants now, and if
 * not, why: the analysis of `crshim check` (the shim runs `crshim check
 * --json PID`, the crshim installed with libcrshim.so, and reads its
 * answer).  Returns 0 when dumpable, 1 when a blocker was found (both fill
 * *report), or -1 with errno: ENOSYS (no shim), ENOENT (the crshim command
 * was not found), ESRCH (no such process, or a zombie), EPERM (another
 * user's process), EIO (the command failed; report->error says why when it
 * can).  Takes tens of milliseconds; blocks the calling thread only.
 */
static inline int crshim_check(int pid, struct crshim_check_report *report)
{
	CRSHIM__CALL(int, "check", (int, struct crshim_check_report *, size_t), -1);
	return fn__(pid, report, sizeof(*report));
}

/* ---------------------------------------------------------------- hints */

/*
 * Contents of [addr, addr+len) need not be saved by a checkpoint (a cache,
 * a buffer the program can recompute).  The range must be page-aligned
 * private anonymous memory (mmap MAP_PRIVATE|MAP_ANONYMOUS), readable; len
 * is rounded up to whole pages.
 *
 * How: CRIU saves every page of private memory and cannot be told to skip
 * one, so at this call crshim moves the range onto a shared mapping of an
 * unlinked file in /dev/shm (same addresses, same protection, same
 * contents: only pages holding data are copied), which crshim treats as a
 * scratch file with the drop policy: a dump leaves its contents out of the
 * image, a process that keeps running (--leave-running, a failed dump)
 * keeps them, and a restored process finds the range zero-filled.
 *
 * What the program sees: the same memory at the same addresses.  Other
 * threads must not write to the range during this call (their writes could
 * be lost).  A child created by fork() gets a private copy, as before (the
 * copy is made in the child, which costs a copy of the range's data).
 * The memory is accounted as shared memory (tmpfs) instead of anonymous
 * memory.  Unmapping the range is allowed; crshim forgets it.  Up to 64
 * ranges per process.
 *
 * Returns 0, or -1 with errno: ENOSYS (no shim), EINVAL (not aligned, not
 * private anonymous memory, len 0), ENOSPC (64 ranges already), or the
 * error of creating or mapping the file (ENOMEM, ENOSPC for a full
 * /dev/shm).
 */
static inline int crshim_discard_region(void *addr, size_t len)
{
	CRSHIM__CALL(int, "discard_region", (void *, size_t), -1);
	return fn__(addr, len);
}

/*
 * 1 if addr lies in a range given to crshim_discard_region and this
 * process was restored from a checkpoint that dropped it (the range now
 * reads as zeros), 0 if not (kept, not discarded), -1 with errno ENOSYS
 * without the shim.  Meaningful from a restore callback on.
 */
static inline int crshim_region_discarded(const void *addr)
{
	CRSHIM__CALL(int, "region_discarded", (const void *), -1);
	return fn__(addr);
}

/*
 * Callbacks around a checkpoint, at most 16 of each; registering the same
 * (fn, arg) twice registers it once.  Returns 0, or -1 with errno EINVAL
 * (fn NULL), ENOSPC, ENOSYS (no shim).
 *
 * crshim_on_checkpoint: fn(arg) runs when a checkpoint of this process
 * begins, before anything is saved: when `crshim dump` asks the shim to
 * prepare (PREPARE), or inside crshim_checkpoint_self.
 *
 * crshim_on_restore: fn(restored, arg) runs once after each checkpoint,
 * when the process runs again: restored = 1 in a process restored from the
 * image (`crshim restore` told it, or crshim_checkpoint_self is about to
 * return 1), restored = 0 in a process that simply continues (a dump with
 * --leave-running, a failed dump, crshim_checkpoint_self about to return 0).
 *
 * Which thread: the shim's control thread ("crshim-ctl", every signal
 * blocked) for `crshim dump` and `crshim restore`, while the program's
 * other threads run on; the caller's thread for crshim_checkpoint_self.
 * Never in a signal handler.  A callback must return promptly (crshim dump
 * and restore wait for it, 10 and 5 seconds at most), and must not call
 * crshim_check or crshim_checkpoint_self.
 */
typedef void (*crshim_checkpoint_cb)(void *arg);
typedef void (*crshim_restore_cb)(int restored, void *arg);

static inline int crshim_on_checkpoint(crshim_checkpoint_cb fn, void *arg)
{
	CRSHIM__CALL(int, "on_checkpoint", (crshim_checkpoint_cb, void *), -1);
	return fn__(fn, arg);
}

static inline int crshim_on_restore(crshim_restore_cb fn, void *arg)
{
	CRSHIM__CALL(int, "on_restore", (crshim_restore_cb, void *), -1);
	return fn__(fn, arg);
}

/* ------------------------------------------------------- self-checkpoint */

/*
 * Checkpoint this process (and its descendants) into dir, from inside,
 * through libcriu: no command is run by the caller.  The shim loads
 * libcriu.so.2 (dlopen: programs and the shim do not link against it),
 * starts the CRIU crshim would use in service mode (`criu swrk`, detached,
 * without the shim) and asks it to dump the calling process with the
 * options `crshim dump --leave-running` uses.  The process keeps running.
 *
 * dir must not exist or be empty; it gets crshim's layout (manifest.json,
 * dumps/PID/ with the CRIU images, criu.conf and dump.log), so it is
 * restored with `crshim restore -D DIR` (add --child to get the process as
 * a child of the restoring command, with its stdin, stdout and stderr).
 * Output files and ranges given to crshim_discard_region are handled as
 * `crshim dump` handles them; shared pools are not: a process that shares
 * memory with processes outside its tree needs `crshim dump`.
 *
 * RDMA verbs: the shim releases the device and rebuilds it afterwards, as
 * for `crshim dump`, but alone, so it can reconnect a queue pair only to
 * another queue pair of this process.  The call is refused up front (EXDEV,
 * nothing created, a log line naming the QP) when a QP is connected to a
 * QP of another process, or its peers cannot be told: a UD QP in RTR or
 * RTS, a QP in RESET or INIT (its number may already be known elsewhere).
 * QPs in ERR do not count.  Verbs connections to other processes need
 * `crshim dump` of all the peers together.
 *
 * The checkpoint callbacks run first, on this thread; then CRIU freezes
 * and dumps the process; then the restore callbacks run, on this thread.
 * flags must be 0 (reserved).  Other threads keep running except while
 * CRIU has them frozen.
 *
 * Returns:
 *   0  the checkpoint was written and this process continues;
 *   1  this process was restored from that checkpoint (same call, later,
 *      possibly elsewhere);
 *  -1  with errno: ENOSYS (no shim), EINVAL (dir NULL or empty, flags),
 *      ENOENT (no CRIU found), ELIBACC (libcriu.so.2 cannot be loaded),
 *      EEXIST (dir is not empty), EBUSY (a checkpoint of this process is
 *      already in progress), ESRCH (the session leader is outside the
 *      process's pid namespace, as under a container runtime or CI runner
 *      that did not call setsid(): CRIU refuses that), EXDEV (a verbs
 *      queue pair is connected to another process, see above), EIO (CRIU
 *      failed: dir/dumps/PID/dump.log tells why; dir holds no manifest and
 *      is not restorable), or the error of creating dir.
 */
static inline int crshim_checkpoint_self(const char *dir, int flags)
{
	CRSHIM__CALL(int, "checkpoint_self", (const char *, int), -1);
	return fn__(dir, flags);
}

#undef CRSHIM__CALL

#ifdef __cplusplus
}
#endif
#endif
