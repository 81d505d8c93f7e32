/*
 * Internal interface of the C API's larger parts: events and callbacks
 * (api_events.c), finding CRIU and the crshim command (api_paths.c),
 * crshim_check (api_check.c), discarded regions (api_discard.c) and the
 * self-checkpoint (selfckpt.c, selfckpt_manifest.c).  None of this runs in
 * a hook: these functions may allocate.
 */
#ifndef CRSHIM_API_INT_H
#define CRSHIM_API_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Same as tools/build_config.h's CRSHIM_PRIVATE_CRIU_DIR. */
#define CRS_PRIVATE_CRIU_DIR "/opt/crshim/criu"

/* ---- api_paths.c ---- */
/* The CRIU to run, found as `crshim` finds it (tools/paths.c): $CRSHIM_CRIU,
 * /opt/crshim/criu/selected, /opt/crshim/criu/criu, criu on PATH.  0 and
 * the path, or -1. */
int crs_find_criu(char *out, size_t outlen);
/* The crshim command of this shim: next to libcrshim.so (build tree),
 * LIBDIR/../bin or LIBDIR/../../bin (install), then PATH.  0 or -1. */
int crs_find_crshim(char *out, size_t outlen);
/* environ without LD_PRELOAD, for the commands the shim starts (which must
 * not run under the shim).  Returns a malloc'ed array; free() it. */
char **crs_env_without_preload(void);

/* ---- api_events.c ---- */
/*
 * A checkpoint begins (PREPARE on the control thread, or
 * crshim_checkpoint_self on the calling thread): the first call since the
 * process last ran normally runs the checkpoint callbacks.
 */
void crs_api_checkpoint_begin(void);
/*
 * The process runs again after a checkpoint: restored = 1 when it was
 * restored from an image (RESTORED, or crshim_checkpoint_self returning 1),
 * 0 when it simply continues (RESUME after a dump that left it running or
 * failed).  The restore callbacks run once per checkpoint, by whichever
 * thread gets here first; a second caller waits until they finished.
 */
void crs_api_resume(int restored);
/* 1 between crs_api_checkpoint_begin and the end of crs_api_resume. */
int crs_api_checkpointing(void);

/* ---- api_discard.c ---- */
/* Regions given to crshim_discard_region that are still mapped: their fd,
 * identity and range, for the self-checkpoint's manifest.  Returns how many
 * were written (at most max). */
struct crs_discard_info {
	int fd;
	uint64_t dev, ino, size;
	uintptr_t start, end;
	char path[256];
};
int crs_discard_list(struct crs_discard_info *out, int max);
/* Forget regions the program unmapped since (closes their fds). */
void crs_discard_prune(void);

/* ---- selfckpt_manifest.c ---- */
struct crs_self_ckpt {
	const char *dir;       /* the checkpoint directory */
	char criu[4096];       /* the CRIU that dumped */
	char images[4096];     /* DIR/dumps/PID */
	char images_abs[4096]; /* its absolute path */
	int images_fd;	       /* held by the process while CRIU dumps it */
	pid_t pid;
	pid_t *pids; /* the dumped tree (pid first) */
	int npids;
	double seconds; /* how long CRIU took */
	int file_locks; /* --file-locks was needed */
	/* outputs and discarded regions made external for CRIU */
	struct crs_discard_info discard[64];
	int ndiscard;
	struct crs_self_output {
		int fds[8], nfds, mnt_id;
		uint64_t dev, ino, size;
		uint32_t mode;
		char path[1024];
	} outputs[32];
	int noutputs;
};
/* Collect the outputs (regular files open write-only at their end) of this
 * process, and its discarded regions' mount ids; 0 or -1. */
int crs_self_collect(struct crs_self_ckpt *c);
/* "file[MNTID:INO]" for an external file. */
void crs_self_external_key(int mnt_id, uint64_t ino, char *out, size_t outlen);
/* DIR/dumps/PID/criu.conf: the options the dump used (restore repeats them). */
int crs_self_write_config(const struct crs_self_ckpt *c);
/* DIR/manifest.json, written atomically; 0 or -1 with errno. */
int crs_self_write_manifest(const struct crs_self_ckpt *c);
/* mnt_id of fd (from /proc/self/fdinfo), or -1. */
int crs_fd_mnt_id(int fd);

#endif
