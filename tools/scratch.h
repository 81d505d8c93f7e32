/*
 * Scratch files: files a program writes under a CRSHIM_SCRATCH directory or
 * marks with crshim_mark_scratch().  Each follows its policy instead of
 * CRIU's own handling (which copies unlinked ones into the image and
 * refuses a restore once a file's size changed):
 *   drop  contents not saved; restored as an empty sparse file of the
 *         recorded size at its path (unnamed if it was unlinked);
 *   keep  not saved; restore requires it at its path with the recorded
 *         size, before any process is created (an unlinked file cannot be
 *         kept: it is saved instead, and the dump says so);
 *   save  copied into DIR/scratch/ once, recreated at restore.
 * Missing directories above a drop or save file are recreated at restore.
 * CRIU is told they are external (`external file[...]`) and gets them back
 * with --inherit-fd, like pools.
 */
#ifndef CRSHIM_SCRATCH_H
#define CRSHIM_SCRATCH_H

#include "dump_util.h"

#include <jansson.h>

/* On a drop or save file restore created: which entry it stands for. */
#define CRSHIM_SCRATCH_OF_XATTR "user.crshim.scratch_of"

struct scratch {
	char id[24];		/* "scratch-N" */
	char path[4096];
	int policy;		/* 1 drop, 2 keep, 3 save */
	int unlinked;
	int downgraded;		/* keep asked for an unlinked file: saved */
	uint64_t dev, ino, size;
	uint32_t mode, uid, gid;
	int64_t btime_ns;	/* birth time (statx), -1 if unknown */
	int mnt_id;
	char src[128];
	json_t *holders;	/* [{pid, fds, mappings}] */
	uint64_t data_bytes;
};

struct scratch_set {
	struct scratch *v;
	int n;
};

/* The policy name ("drop", "keep", "save") of the most specific scratch
 * directory or mark in the record's config that holds path, or NULL: how a
 * file opened for writing there is classified. */
const char *scratch_policy_by_path(json_t *record, const char *path);
/* Find the scratch files of the processes (from their records and /proc). */
int scratch_discover(const struct dproc *procs, int nprocs, struct scratch_set *set);
void scratch_free(struct scratch_set *set);
int scratch_has(const struct scratch_set *set, uint64_t dev, uint64_t ino);
int scratch_held_by(const struct scratch *s, pid_t pid);
void scratch_external_key(const struct scratch *s, char *out, size_t outlen);
const char *scratch_policy_name(int policy);
/* While frozen: record the final size; copy `save` files into DIR/scratch. */
int scratch_save(struct scratch *s, const char *dir, char *err, size_t errlen);
json_t *scratch_to_json(const struct scratch *s);

/* Restore: check `keep` files (before anything is created). */
int scratch_check_kept(json_t *entry, char *err, size_t errlen);
/*
 * Restore: the file to hand to CRIU (an fd without close-on-exec), or -1.
 * A drop or save file is put at its path in place of the file there only
 * when that one is this entry's own: the original (same dev, inode and
 * birth time as recorded: the program was killed, its scratch stayed) or
 * one a restore of this entry created (tagged with CRSHIM_SCRATCH_OF_XATTR).
 * Any other file is refused unless replace is set (--replace).
 */
int scratch_prepare(json_t *entry, const char *dir, int replace, char *err, size_t errlen);

/*
 * Shared with outputs.c: the mode and owner of the directory holding path,
 * recorded at dump as dir_mode, dir_uid, dir_gid in entry; and at restore,
 * the missing directories above path made (never through a user's symbolic
 * link, safe_path.h) with that mode and owner (0700, the restorer's, when
 * nothing was recorded).  0, or -1 with errno.
 */
void scratch_record_dir(json_t *entry, const char *path);
int scratch_make_dirs(json_t *entry, const char *path);
/* fchown that fails only when it matters: EPERM is ignored when not root. */
int scratch_fchown(int fd, json_t *entry);

#endif
