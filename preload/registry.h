/*
 * The registry: what the shim knows about the process's checkpoint-relevant
 * resources that /proc cannot tell (intent, original names, SysV keys,
 * scratch policies, where a resource was created).
 *
 * It lives in its own mmap'ed arena and never calls malloc (malloc may call
 * mmap, which is hooked).  All functions are thread-safe; they take one
 * internal lock that is never held across a call out of the registry, so a
 * hook running in a signal handler on a thread that holds it is the only
 * way to deadlock, and the hooks prevent that with a per-thread "inside the
 * shim" flag (see shim.h).
 *
 * Memory bound: objects and mappings live in fixed-size tables reserved at
 * init (MAP_NORESERVE, touched on use).  With the defaults
 * (CRS_MAX_OBJECTS, CRS_MAX_MAPPINGS) the arena reserves
 *   CRS_MAX_OBJECTS  * sizeof(struct crs_object)  (about 4.3 KiB each)
 * + CRS_MAX_MAPPINGS * sizeof(struct crs_mapping) (40 bytes each)
 * + CRS_MAX_FDS      * 4 bytes
 * of address space; resident memory grows only with what is recorded.
 * When a table is full the entry is dropped and counted (crs_reg_dropped).
 *
 * Mappings are kept sorted by start address and never overlap, so lookups
 * by address are a binary search (O(log n)); munmap/mremap splitting edits
 * the sorted array in place.
 */
#ifndef CRSHIM_REGISTRY_H
#define CRSHIM_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CRS_MAX_OBJECTS 1024
#define CRS_MAX_MAPPINGS 65536
#define CRS_MAX_FDS 65536
#define CRS_PATH_MAX 4096
#define CRS_BT_DEPTH 8
#define CRS_NO_OBJECT UINT32_MAX

enum crs_obj_kind {
	CRS_OBJ_FILE = 1,	/* a regular file (named, or unlinked later) */
	CRS_OBJ_POSIX_SHM,	/* shm_open object (lives in /dev/shm) */
	CRS_OBJ_MEMFD,		/* memfd_create */
	CRS_OBJ_SYSV,		/* shmget segment */
	CRS_OBJ_ANON_SHARED,	/* MAP_SHARED|MAP_ANONYMOUS */
};

/* crs_object.flags */
enum {
	CRS_OF_UNLINKED = 1 << 0, /* name removed (unlink, shm_unlink, IPC_RMID) */
	CRS_OF_SHARED_MAP = 1 << 1, /* mapped MAP_SHARED at least once */
	CRS_OF_WRITE = 1 << 2,	  /* opened for writing */
	CRS_OF_APPEND = 1 << 3,	  /* opened O_APPEND: an output file */
	CRS_OF_SCRATCH = 1 << 4,  /* a scratch file; policy in scratch_policy */
	CRS_OF_SYSV_RMID = 1 << 5, /* SysV: IPC_RMID was requested */
	CRS_OF_FROM_SYSV = 1 << 6, /* a file crshim moved a SysV segment onto (swap.c):
				    * shmdt of one of its attachments is a munmap */
};

enum crs_scratch_policy {
	CRS_SCRATCH_NONE = 0,
	CRS_SCRATCH_DROP,
	CRS_SCRATCH_KEEP,
	CRS_SCRATCH_SAVE,
};

struct crs_object {
	uint32_t in_use;
	uint16_t kind;		/* enum crs_obj_kind */
	uint16_t flags;		/* CRS_OF_* */
	uint64_t dev, ino;	/* identity (0 for SYSV and ANON_SHARED) */
	uint64_t size;		/* last size seen (ftruncate, mmap extent, shmget) */
	uint32_t mode;		/* st_mode at record time */
	int32_t sysv_key;
	int32_t sysv_id;
	uint8_t scratch_policy; /* enum crs_scratch_policy */
	uint8_t nbt;		/* frames in bt[] */
	uint32_t nfds;		/* fds currently referring to it */
	uint32_t nmaps;		/* mappings currently referring to it */
	uint64_t serial;	/* creation order, for stable output */
	uintptr_t bt[CRS_BT_DEPTH]; /* call site (CRSHIM_BACKTRACE=1) */
	char path[CRS_PATH_MAX]; /* name at the time it was recorded */
};

struct crs_mapping {
	uintptr_t start;
	size_t len;
	uint64_t offset;	/* file offset of start */
	int32_t prot;
	int32_t flags;		/* mmap flags (MAP_SHARED...) */
	uint32_t obj;		/* object index */
	uint32_t pad;
};

struct crs_reg_stats {
	uint32_t objects, mappings, fds;
	uint64_t dropped_objects, dropped_mappings, dropped_fds;
	size_t arena_bytes;	/* address space reserved */
};

/* Reserve the arena.  Sizes 0 mean the defaults.  Returns 0 or -1 (errno
 * preserved for the caller, who passes calls through if it fails). */
int crs_reg_init(size_t max_objects, size_t max_mappings, size_t max_fds);
/* Release the arena (tests only). */
void crs_reg_destroy(void);
int crs_reg_ready(void);

/*
 * Hold the registry across a system call and its recording, so that what
 * another thread records (a new mapping at an address this call frees, a
 * fork copying the registry) is ordered after this call's update.  The
 * kernel serialises munmap/mremap/mmap on the address space anyway.
 */
void crs_reg_hold(void);
void crs_reg_release(void);

/* Fork handlers: hold the lock across fork so the child gets a consistent copy. */
void crs_reg_atfork_prepare(void);
void crs_reg_atfork_parent(void);
void crs_reg_atfork_child(void);

/*
 * Objects.  crs_reg_object_get finds an object of that kind and identity
 * (dev/ino for files, shm and memfd; sysv_id for SysV) or creates it with the
 * given path; returns its index or CRS_NO_OBJECT when the table is full.
 * The object lives while it has fds or mappings (and, for SysV, until
 * IPC_RMID and the last detach); crs_reg_object_maybe_free forgets an
 * object a caller created and then did not use.
 */
struct crs_object_key {
	uint16_t kind;
	uint64_t dev, ino;
	int32_t sysv_id;
};
uint32_t crs_reg_object_get(const struct crs_object_key *key, const char *path,
			    uint64_t size, uint32_t mode, const uintptr_t *bt, int nbt);
/* Apply fn to the object under the registry lock (fn must not call out). */
int crs_reg_object_update(uint32_t obj, void (*fn)(struct crs_object *o, void *arg), void *arg);
/* Find an object by identity; CRS_NO_OBJECT if none. */
uint32_t crs_reg_object_find(const struct crs_object_key *key);
/* Set flags on every object with this dev/ino (unlink, rename); returns count. */
int crs_reg_mark_inode(uint64_t dev, uint64_t ino, uint16_t set_flags, const char *new_path);
/* SysV: IPC_RMID on shmid; the object stays until its last mapping goes. */
int crs_reg_sysv_rmid(int32_t shmid);
/* SysV after a restore: forget every segment without attachments and keep
 * its id as gone (returns how many); crs_reg_sysv_gone tells such an id,
 * crs_reg_sysv_reborn clears one the program got again from shmget. */
int crs_reg_sysv_forget_all(void);
int crs_reg_sysv_gone(int32_t shmid);
void crs_reg_sysv_reborn(int32_t shmid);
/* SysV: forget a segment that is gone (RMID and no attachments). */
void crs_reg_object_maybe_free(uint32_t obj);

/* Mappings.  add replaces whatever recorded range it overlaps (MAP_FIXED). */
int crs_reg_map_add(uintptr_t start, size_t len, uint64_t offset, int prot,
		    int flags, uint32_t obj);
/* munmap semantics: remove [start, start+len), splitting as needed. */
void crs_reg_map_remove(uintptr_t start, size_t len);
/* mremap semantics: what was at [old, old+oldlen) is now at [new, new+newlen). */
void crs_reg_map_move(uintptr_t old_addr, size_t old_len, uintptr_t new_addr, size_t new_len);
/* Lookup of the mapping containing addr; copies it out.  0 found, -1 not. */
int crs_reg_map_lookup(uintptr_t addr, struct crs_mapping *out);
/* The mapping containing addr or, if none, the first one above it.  0 or -1. */
int crs_reg_map_next(uintptr_t addr, struct crs_mapping *out);
/* Cheap test for the hot path: any mapping recorded at all? (no lock) */
int crs_reg_has_mappings(void);
/* mprotect changes are not tracked; /proc/PID/maps is the ground truth. */

/* fds. */
void crs_reg_fd_set(int fd, uint32_t obj);
uint32_t crs_reg_fd_get(int fd);
void crs_reg_fd_clear(int fd);
/* Fast unlocked test: is anything recorded for this fd? */
int crs_reg_fd_tracked(int fd);

/*
 * Snapshot for reports: copies the tables into caller-provided storage
 * (from crs_reg_snapshot_size) so the lock is not held while formatting.
 */
struct crs_reg_snapshot {
	struct crs_reg_stats stats;
	struct crs_object *objects; /* nobjects entries, in_use ones only */
	uint32_t *object_index;	    /* registry index of each copied object */
	uint32_t nobjects;
	struct crs_mapping *mappings;
	uint32_t nmappings;
	int32_t *fd_obj;	    /* (fd, object index) pairs */
	uint32_t nfd_pairs;
};
size_t crs_reg_snapshot_size(void);
/* buf must be crs_reg_snapshot_size() bytes; fills snap; 0 or -1. */
int crs_reg_snapshot(void *buf, size_t size, struct crs_reg_snapshot *snap);
void crs_reg_get_stats(struct crs_reg_stats *st);

#endif
