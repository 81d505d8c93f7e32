/*
 * Pools: shared file content that CRIU is told to treat as external
 * (`external file[MNTID:INODE]`) and that crshim saves once per checkpoint
 * and recreates once at restore, handing the same file to every holder.
 *
 * What is a pool: a regular file (or POSIX shm object) that a dumped
 * process maps MAP_SHARED or holds open, and that is either unlinked or
 * lives where it will not survive the job (tmpfs, /tmp, /var/tmp): those
 * are exactly the files CRIU either refuses (ghost limit), copies once per
 * image (sharing broken), or cannot find again at restore.
 */
#ifndef CRSHIM_POOLS_H
#define CRSHIM_POOLS_H

#include <jansson.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

struct pool_src {
	pid_t pid;
	char path[128];		/* /proc/PID/fd/N or /proc/PID/map_files/S-E */
};

struct pool {
	char id[24];		/* "pool-N" */
	char kind[16];		/* file, posix_shm, memfd */
	char path[4096];	/* original (or last) name */
	int unlinked;
	uint64_t dev, ino;
	int mnt_id;
	uint64_t size;
	uint32_t mode, uid, gid;
	struct pool_src src;	/* where to read the content from */
	json_t *holders;	/* [{pid, fds:[], mappings:[]}] */
	uint64_t data_bytes;	/* allocated bytes of the saved copy */
};

struct pool_set {
	struct pool *v;
	int n;
	char *memfd_warning;	/* set when memfds cannot be handled (see pools.c) */
};

/*
 * Find the pools of the given processes from /proc (records from the
 * shims, may be NULL entries, add kinds and original names).
 * Returns 0, or -1 with a sentence in err.
 */
int pools_discover(const pid_t *pids, json_t *const *records, int npids, struct pool_set *set,
		   char *err, size_t errlen);
void pools_free(struct pool_set *set);
/* "file[MNTID:INODE]" (hex) as used in CRIU's --external / --inherit-fd. */
void pool_external_key(const struct pool *p, char *out, size_t outlen);
/* 1 if pid holds this pool. */
int pool_held_by(const struct pool *p, pid_t pid);

/*
 * While the processes are frozen, before saving: which fds and shared
 * mappings of pids hold each pool now (discovery ran while they ran, and
 * an fd may have been closed or its number reused since), and a /proc link
 * to read each through.  A pool nobody holds any more is dropped, with a
 * note on note.  Returns the number dropped, or -1 (a /proc could not be
 * read; the set is left as it was).
 */
int pools_recheck(struct pool_set *set, const pid_t *pids, int npids, FILE *note);
/* Copy the pool's content into DIR/pools/ID.img, keeping holes.
 * Returns 0 or -1 with a sentence in err. */
int pool_save(struct pool *p, const char *dir, char *err, size_t errlen);
/* Manifest entry for the pool. */
json_t *pool_to_json(const struct pool *p);

/*
 * What restore did at a named pool's path, to undo it if the restore fails:
 * the file it created there and, with --replace, the file that stood there,
 * moved aside (renamed to a hidden name in the same directory) rather than
 * deleted, so that a failed restore does not lose the user's original.
 */
struct pool_undo {
	int dirfd;		/* the directory (O_PATH); -1: nothing to undo */
	char name[256];		/* the pool's name in it */
	char aside[256];	/* ".crshim-old.NAME.PID.N": the original, "" if none */
	int created;		/* the new file, identified by dev and ino */
	uint64_t dev, ino;
};

void pool_undo_init(struct pool_undo *u);
/* The restore failed: remove the new file (if it is still ours) and put the
 * original back at its path.  -1 (with a sentence in err, if not NULL)
 * when the original could not be put back; it is still at its hidden name. */
int pool_undo_rollback(struct pool_undo *u, char *err, size_t errlen);
/* The restore succeeded: delete the original that was moved aside. */
void pool_undo_commit(struct pool_undo *u);

/*
 * Restore side: create the pool's file from its saved copy (named at its
 * path, or without a name when it was unlinked), with its size, mode and
 * owner.  Returns an fd (not close-on-exec) or -1 with a sentence in err.
 * replace: an existing file (not a directory) at the path is replaced
 * instead of refused.  pool_recreate_undo records in undo (initialised by
 * the caller) what to undo later; on failure it has undone it already.
 * pool_recreate deletes a replaced original at once.
 */
int pool_recreate_undo(json_t *pool, const char *dir, int replace, struct pool_undo *undo, char *err,
		       size_t errlen);
int pool_recreate(json_t *pool, const char *dir, int replace, char *err, size_t errlen);

/*
 * For a file that restore recreates at path (a named pool, a FIFO): make
 * its parent directories (0700) with safe_make_parents, refusing a symbolic
 * link that someone other than root planted in them, and open the directory
 * (O_PATH).  Returns the fd and sets *name to the last component of path,
 * or -1 with a sentence naming the path (and the link) in err.
 */
int recreate_open_dir(const char *path, const char **name, char *err, size_t errlen);

/* Sparse copy of in to out: data segments only, holes preserved.
 * Returns bytes of data copied or -1. */
int64_t sparse_copy(int in, int out, uint64_t size);

#endif
