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
 * CRIU is told they are external (`external file[...]`) and gets them back
 * with --inherit-fd, like pools.
 */
#ifndef CRSHIM_SCRATCH_H
#define CRSHIM_SCRATCH_H

#include "dump_util.h"

#include <jansson.h>

struct scratch {
	char id[24];		/* "scratch-N" */
	char path[4096];
	int policy;		/* 1 drop, 2 keep, 3 save */
	int unlinked;
	int downgraded;		/* keep asked for an unlinked file: saved */
	uint64_t dev, ino, size;
	uint32_t mode, uid, gid;
	int mnt_id;
	char src[128];
	json_t *holders;	/* [{pid, fds, mappings}] */
	uint64_t data_bytes;
};

struct scratch_set {
	struct scratch *v;
	int n;
};

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
/* Restore: the file to hand to CRIU (an fd without close-on-exec), or -1. */
int scratch_prepare(json_t *entry, const char *dir, char *err, size_t errlen);

#endif
