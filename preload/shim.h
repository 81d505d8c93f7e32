/*
 * Internal interface of libcrshim.so shared by preload/ (the runtime core)
 * and hooks/ (one file per intercepted family).
 *
 * Rules every hook follows (see hooks/mmap.c for the canonical shape):
 *   1. resolve the next definition with CRS_NEXT(); if it is not known yet
 *      (bootstrap, dlsym recursion) the hook falls back to the raw syscall;
 *   2. call it, save errno;
 *   3. if the shim is active and this thread is not already inside the shim,
 *      enter the guard, do the bookkeeping, leave the guard;
 *   4. restore errno and return the real result.
 * Bookkeeping never calls malloc and never fails the call.
 */
#ifndef CRSHIM_SHIM_H
#define CRSHIM_SHIM_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CRS_EXPORT __attribute__((visibility("default")))
#define CRS_HIDDEN __attribute__((visibility("hidden")))

/* ---- configuration (config.c) ---- */
enum crs_log_level { CRS_LOG_ERROR = 0, CRS_LOG_WARN, CRS_LOG_INFO, CRS_LOG_DEBUG, CRS_LOG_TRACE };
enum {
	CRS_HOOK_MMAP = 1 << 0,
	CRS_HOOK_FILE = 1 << 1,
	CRS_HOOK_SHM = 1 << 2,
	CRS_HOOK_SYSV = 1 << 3,
	CRS_HOOK_VERBS = 1 << 4,
	CRS_HOOK_ALL = 0x1f,
};
#define CRS_MAX_SCRATCH_DIRS 16

struct crs_scratch_dir {
	char path[512];
	size_t len;
	int policy; /* enum crs_scratch_policy */
};

struct crs_config {
	int disabled;	      /* CRSHIM_DISABLE=1 or AT_SECURE */
	int log_level;	      /* CRSHIM_LOG */
	char log_file[512];   /* CRSHIM_LOG_FILE, %p expanded; "" = stderr */
	char log_tmpl[512];   /* CRSHIM_LOG_FILE as given (re-expanded after fork) */
	int backtrace;	      /* CRSHIM_BACKTRACE=1 */
	unsigned hooks;	      /* CRSHIM_HOOKS, CRS_HOOK_* mask */
	struct crs_scratch_dir scratch[CRS_MAX_SCRATCH_DIRS]; /* CRSHIM_SCRATCH */
	int nscratch;
	char rundir[512];     /* CRSHIM_RUNDIR or the per-user default */
};

/* Warnings about malformed values are written through warn(ctx, msg). */
typedef void (*crs_config_warn_fn)(void *ctx, const char *msg);
/*
 * Parse the CRSHIM_* variables.  getenv_fn looks a name up (getenv in the
 * shim, a table in the unit tests).  Never fails: a malformed value gives one
 * warning naming the variable and the default used.
 */
void crs_config_parse(struct crs_config *cfg, const char *(*getenv_fn)(const char *name),
		      crs_config_warn_fn warn, void *ctx, pid_t pid, uid_t uid);
int crs_config_parse_log_level(const char *s, int *out);
int crs_config_parse_hooks(const char *s, unsigned *out);
int crs_config_parse_scratch(const char *s, struct crs_scratch_dir *dirs, int max, int *n,
			     crs_config_warn_fn warn, void *ctx);
/* Expand %p (pid) and %% in a path template; -1 if it does not fit. */
int crs_config_expand_path(const char *tmpl, pid_t pid, char *out, size_t outlen);
/* The default control-endpoint directory for uid. */
void crs_config_default_rundir(uid_t uid, char *out, size_t outlen);
/* Policy of the scratch dir containing abs_path, or 0. */
int crs_config_scratch_policy(const struct crs_config *cfg, const char *abs_path);

extern struct crs_config crs_cfg;

/* ---- lifecycle (init.c) ---- */
/* 1 once the shim is initialised and enabled for this family. */
int crs_active(unsigned family);
/* Initialise now if not yet done (called lazily by hooks). */
void crs_ensure_init(void);

/* Per-thread guard against reentrancy (signal handlers, our own calls). */
int crs_guard_enter(void); /* 1 = entered; 0 = already inside, skip bookkeeping */
void crs_guard_leave(void);

/* ---- logging (log.c): write(2) only, safe in hooks ---- */
void crs_log_open(void);
/* In a fork child: a CRSHIM_LOG_FILE with %p names the child's own file. */
void crs_log_after_fork(void);
void crs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log a message only the first time this `once` flag is seen. */
void crs_log_once(int *once, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define crs_error(...) crs_log(CRS_LOG_ERROR, __VA_ARGS__)
#define crs_warn(...) crs_log(CRS_LOG_WARN, __VA_ARGS__)
#define crs_info(...) crs_log(CRS_LOG_INFO, __VA_ARGS__)
#define crs_debug(...) crs_log(CRS_LOG_DEBUG, __VA_ARGS__)
#define crs_trace(...) crs_log(CRS_LOG_TRACE, __VA_ARGS__)

/* ---- next-symbol resolution (resolve.c) ---- */
/*
 * Resolve name (at version, or the default version when version is NULL)
 * in the objects after the shim.  Safe during bootstrap: while one thread
 * is inside dlsym (which may call calloc, which may call mmap), nested
 * lookups return NULL and the hook uses the raw syscall instead.
 */
void *crs_resolve(const char *name, const char *version);

/* Resolve once into a static slot; NULL while resolution is impossible. */
#define CRS_NEXT(slot, name, version)                                              \
	({                                                                         \
		void *p__ = __atomic_load_n(&(slot), __ATOMIC_ACQUIRE);            \
		if (!p__) {                                                        \
			p__ = crs_resolve(name, version);                          \
			if (p__)                                                   \
				__atomic_store_n(&(slot), p__, __ATOMIC_RELEASE);  \
		}                                                                  \
		p__;                                                               \
	})

/* ---- call sites (backtrace.c) ---- */
#define CRS_BT_SKIP 3
/* Capture up to max return addresses of the caller (libunwind); 0 if off. */
int crs_backtrace(uintptr_t *ips, int max);
/* 1 while this thread is inside crs_backtrace (libunwind's own calls). */
int crs_in_backtrace(void);
/* Describe one address as "lib+0xoff (sym+0xoff)" into out. */
void crs_backtrace_describe(uintptr_t ip, char *out, size_t outlen);

/* ---- recording helpers shared by the hooks (record.c) ---- */
void crs_record_open(int fd, const char *path, int flags, int dirfd);
void crs_record_close(int fd);
void crs_record_ftruncate(int fd, off_t length);
void crs_record_unlink_prepare(int dirfd, const char *path, uint64_t *dev, uint64_t *ino, int *nlink);
void crs_record_unlinked(uint64_t dev, uint64_t ino, int nlink_before);
void crs_record_renamed(uint64_t dev, uint64_t ino, int newdirfd, const char *newpath,
			uint64_t victim_dev, uint64_t victim_ino, int victim_nlink);
void crs_record_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void crs_record_munmap(void *addr, size_t len);
void crs_record_mremap(void *old, size_t oldlen, void *new_addr, size_t newlen);
void crs_record_shm_open(int fd, const char *name, int oflag);
void crs_record_shm_unlink_prepare(const char *name, uint64_t *dev, uint64_t *ino, int *nlink);
void crs_record_memfd(int fd, const char *name, unsigned flags);
void crs_record_shmget(int shmid, key_t key, size_t size, int shmflg);
void crs_record_shmat(int shmid, const void *addr, int shmflg);
void crs_record_shmdt(const void *addr);
void crs_record_shmctl_rmid(int shmid);
/* Absolute form of path relative to dirfd (AT_FDCWD = cwd), without malloc. */
int crs_abspath(int dirfd, const char *path, char *out, size_t outlen);

/* ---- control endpoint (control.c) ---- */
void crs_control_start(void);	/* bind RUNDIR/PID.sock, start the thread */
void crs_control_after_fork_child(void);
void crs_control_stop(void);
/* Credential changes (hooks/creds.c): stop the control thread; the next
 * hooked call starts it again (crs_control_maybe_restart, from crs_active). */
void crs_control_pause(void);
/* An fd the shim opens with the raw system call is read, stat'ed and closed
 * with raw system calls too: a sanitizer runtime (TSan) tracks fds through
 * libc's calls, and a mix looks like a race with the program's own use of
 * the same number (the program cannot see the shim's fds either way). */
/* Move an fd of the shim's own far above the program's numbers. */
int crs_move_fd_high(int fd);
void crs_control_maybe_restart(void);
int crs_creds_changing(void);
/* The crshim that sent PREPARE, known by pid and start time until RESUME
 * or RESTORED (preparer.c): when it dies first, the control thread
 * resumes the process itself, unless it was restored meanwhile. */
#define PREPARER_POLL_MS 500
void crs_preparer_set(int conn); /* the peer of this connection */
void crs_preparer_clear(void);
int crs_preparer_watched(void);
/* 1 (and *who) once the preparer no longer exists and we were not restored. */
int crs_preparer_gone(pid_t *who);
/* State shared with later layers (prepare/resume). */
enum crs_phase { CRS_PHASE_RUNNING = 0, CRS_PHASE_PREPARED = 1 };
int crs_control_phase(void);

/* ---- the C API behind include/crshim.h (api.c) ---- */
struct crs_jsonw;
/* Policy the program gave abs_path with crshim_mark_scratch, or 0. */
int crs_api_marked_policy(const char *abs_path);
/* crshim told us this file was restored empty (drop policy). */
void crs_api_note_dropped(const char *path);
/* PREPARE: remember the identity of drop-policy scratch files. */
void crs_api_prepare(void);
void crs_api_marks_report(struct crs_jsonw *w);
const char *crs_policy_name(int policy);

/* ---- the verbs layer (preload/verbs_*.c, hooks/verbs.c) ---- */
/*
 * Called by the control endpoint; weak defaults in control.c do nothing
 * when the verbs layer is not built.
 * prepare: gate new verbs calls, drain, release every HCA resource so no
 *          device fd or mapping is left; 0, or -1 with a sentence in err.
 * resume:  rebuild (restored = 0 after a dump that left the process
 *          running, 1 after a restore); 0 or -1 with a sentence in err.
 * report:  add "verbs": {...} to the process record.
 */
int crs_verbs_prepare(char *err, size_t errlen);
/* self-check: before crshim_checkpoint_self, 0 when every QP can be
 * reconnected without the peers' shims (connected within this process, or
 * in ERR); else -1 with a sentence in err. */
int crs_verbs_self_check(char *err, size_t errlen);
int crs_verbs_resume(int restored, char *err, size_t errlen);
void crs_verbs_report(struct crs_jsonw *w);
/* Requests the verbs layer adds: name VERBS_<X>; handled by crs_verbs_request
 * (returns 1 if it answered). */
int crs_verbs_request(struct crs_jsonw *w, const char *req, int fd);

/* ---- dirwalk.c ---- */
/* Call fn for every numeric entry of dir (/proc/self/fd, /proc/self/task);
 * dirfd is the listing's own fd (skip it when walking fds). */
int crs_for_each_entry(const char *dir, void (*fn)(const char *name, int dirfd, void *arg), void *arg);

/* ---- reopen.c ---- */
/* PREPARE: fds opened with O_NOFOLLOW on tmpfs or unlinked files get a new
 * description without it (CRIU reopens inherited fds through /proc). */
void crs_reopen_prepare(void);

/* ---- parking the program's threads (park.c) ---- */
/* The signal that parks threads; the program must not use it. */
#define CRS_PARK_SIGNAL (SIGRTMAX - 2)
/* Park every other thread; returns how many, or -1 (all unparked again).
 * *skipped: threads that block the signal and could not be parked. */
int crs_park_all(int timeout_ms, int *skipped);
void crs_unpark_all(void);
int crs_parked(void);

/* ---- reports (report.c): the registry as JSON ---- */
struct crs_jsonw;
int crs_report_write(struct crs_jsonw *w);

#endif
