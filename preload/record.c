/*
 * What the hooks record, once the real call succeeded.  Every function here
 * runs inside the reentrancy guard, uses raw syscalls for its own probing
 * (fstat, readlink) and never allocates.
 */
#include "registry.h"
#include "shim.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int raw_fstat(int fd, struct stat *st)
{
	return (int)syscall(SYS_fstat, fd, st);
}

static int raw_lstatat(int dirfd, const char *path, struct stat *st)
{
	return (int)syscall(SYS_newfstatat, dirfd, path, st, AT_SYMLINK_NOFOLLOW);
}

static ssize_t fd_path(int fd, char *out, size_t outlen)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = syscall(SYS_readlink, link, out, outlen - 1);
	if (n < 0)
		return -1;
	out[n] = 0;
	return n;
}

int crs_abspath(int dirfd, const char *path, char *out, size_t outlen)
{
	size_t n;

	if (!path)
		return -1;
	if (path[0] == '/') {
		if (strlen(path) >= outlen)
			return -1;
		strcpy(out, path);
		return 0;
	}
	if (dirfd == AT_FDCWD) {
		if (syscall(SYS_getcwd, out, outlen) < 0)
			return -1;
	} else if (fd_path(dirfd, out, outlen) < 0) {
		return -1;
	}
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	n = strlen(out);
	if (n + 1 + strlen(path) >= outlen)
		return -1;
	if (n > 1)
		out[n++] = '/';
	strcpy(out + n, path);
	return 0;
}

static int has_prefix_dir(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* Strip the " (deleted)" that /proc appends to the name of an unlinked file. */
static int strip_deleted(char *path)
{
	static const char tag[] = " (deleted)";
	size_t n = strlen(path), t = sizeof(tag) - 1;

	if (n > t && strcmp(path + n - t, tag) == 0) {
		path[n - t] = 0;
		return 1;
	}
	return 0;
}

/* A full table is counted by the registry and said once here. */
static int full_said;

static uint32_t said_if_full(uint32_t obj)
{
	if (obj == CRS_NO_OBJECT)
		crs_log_once(&full_said, CRS_LOG_WARN,
			     "registry full: resources are no longer recorded (see 'dropped' in crshim status)");
	return obj;
}

static uint32_t object_for_stat(uint16_t kind, const struct stat *st, const char *path,
				uint64_t size)
{
	struct crs_object_key key = { .kind = kind, .dev = st->st_dev, .ino = st->st_ino };
	uintptr_t bt[CRS_BT_DEPTH];
	int nbt = crs_backtrace(bt, CRS_BT_DEPTH);

	return said_if_full(crs_reg_object_get(&key, path, size, st->st_mode, bt, nbt));
}

struct flag_arg {
	uint16_t set;
	int8_t policy;
	uint64_t size;
};

static void apply_flags(struct crs_object *o, void *p)
{
	struct flag_arg *a = p;

	o->flags |= a->set;
	if (a->policy)
		o->scratch_policy = (uint8_t)a->policy;
	if (a->size > o->size)
		o->size = a->size;
}

static void set_flags(uint32_t obj, uint16_t set, int policy, uint64_t size)
{
	struct flag_arg a = { .set = set, .policy = (int8_t)policy, .size = size };

	crs_reg_object_update(obj, apply_flags, &a);
}

/*
 * open/openat/creat.  Only what a checkpoint needs is tracked, decided from
 * the path and flags before any syscall: files under /dev/shm, files opened
 * for writing under /tmp, /var/tmp or a CRSHIM_SCRATCH directory, and files
 * opened for append (outputs).  Other opens cost a few string compares.
 */
void crs_record_open(int fd, const char *path, int flags, int dirfd)
{
	char abs[CRS_PATH_MAX];
	int writable = (flags & O_ACCMODE) != O_RDONLY;
	int append = writable && (flags & O_APPEND);
	int policy = 0, interesting;
	struct stat st;
	uint32_t obj;
	uint16_t set = 0;

	/* Read-only opens matter only for /dev/shm; skip the rest before any
	 * syscall (relative read-only paths are not resolved at all). */
	if (!writable && strncmp(path, "/dev/shm/", 9) != 0)
		return;
	if (crs_abspath(dirfd, path, abs, sizeof(abs)) < 0)
		return;
	if (writable) {
		policy = crs_api_marked_policy(abs);
		if (!policy)
			policy = crs_config_scratch_policy(&crs_cfg, abs);
	}
	interesting = append || policy || has_prefix_dir(abs, "/dev/shm") ||
		      (writable && (has_prefix_dir(abs, "/tmp") || has_prefix_dir(abs, "/var/tmp")));
	if (!interesting || raw_fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	if ((flags & O_TMPFILE) == O_TMPFILE) {
		/* No name: what /proc shows ("DIR/#INO (deleted)"), unlinked. */
		if (fd_path(fd, abs, sizeof(abs)) > 0)
			strip_deleted(abs);
		set |= CRS_OF_UNLINKED;
	}
	obj = object_for_stat(CRS_OBJ_FILE, &st, abs, (uint64_t)st.st_size);
	if (obj == CRS_NO_OBJECT)
		return;
	if (writable)
		set |= CRS_OF_WRITE;
	if (append)
		set |= CRS_OF_APPEND;
	if (policy)
		set |= CRS_OF_SCRATCH;
	set_flags(obj, set, policy, 0);
	crs_reg_fd_set(fd, obj);
}

void crs_record_close(int fd)
{
	crs_reg_fd_clear(fd);
}

void crs_record_ftruncate(int fd, off_t length)
{
	uint32_t obj = crs_reg_fd_get(fd);

	if (obj != CRS_NO_OBJECT && length >= 0)
		set_flags(obj, 0, 0, (uint64_t)length);
}

/* Before unlink: the identity of what the name points at now. */
void crs_record_unlink_prepare(int dirfd, const char *path, uint64_t *dev, uint64_t *ino,
			       int *nlink)
{
	struct stat st;

	*dev = *ino = 0;
	*nlink = 0;
	if (path && raw_lstatat(dirfd, path, &st) == 0 && S_ISREG(st.st_mode)) {
		*dev = st.st_dev;
		*ino = st.st_ino;
		*nlink = (int)st.st_nlink;
	}
}

void crs_record_unlinked(uint64_t dev, uint64_t ino, int nlink_before)
{
	if (ino && nlink_before <= 1)
		crs_reg_mark_inode(dev, ino, CRS_OF_UNLINKED, NULL);
}

void crs_record_renamed(uint64_t dev, uint64_t ino, int newdirfd, const char *newpath,
			uint64_t victim_dev, uint64_t victim_ino, int victim_nlink)
{
	char abs[CRS_PATH_MAX];

	if (victim_ino && !(victim_dev == dev && victim_ino == ino))
		crs_record_unlinked(victim_dev, victim_ino, victim_nlink);
	if (ino && crs_abspath(newdirfd, newpath, abs, sizeof(abs)) == 0)
		crs_reg_mark_inode(dev, ino, 0, abs);
}

/* Kind of an fd nobody told us about, from its /proc name. */
static uint16_t kind_from_path(const char *path)
{
	if (strncmp(path, "/memfd:", 7) == 0)
		return CRS_OBJ_MEMFD;
	return CRS_OBJ_FILE;
}

struct ident_arg {
	uint64_t dev, ino;
	int same;
};

static void same_ident(struct crs_object *o, void *p)
{
	struct ident_arg *a = p;

	a->same = o->dev == a->dev && o->ino == a->ino;
}

/* The object recorded for fd, if fd still refers to it (a close inside libc,
 * fclose for one, is not seen: the number may have been reused since). */
static uint32_t fd_object_checked(int fd, struct stat *st)
{
	uint32_t obj = crs_reg_fd_get(fd);
	struct ident_arg a = { st->st_dev, st->st_ino, 0 };

	if (obj == CRS_NO_OBJECT)
		return obj;
	if (crs_reg_object_update(obj, same_ident, &a) == 0 && a.same)
		return obj;
	crs_reg_fd_clear(fd);
	return CRS_NO_OBJECT;
}

void crs_record_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	int type = flags & MAP_TYPE;
	uint32_t obj = CRS_NO_OBJECT;

	len = (len + 4095) & ~(size_t)4095; /* the kernel maps whole pages */
	/* Whatever was recorded there before is gone (MAP_FIXED, or a range
	 * that libc's own munmap released behind our back). */
	crs_reg_map_remove((uintptr_t)addr, len);
	if (type != MAP_SHARED && type != MAP_SHARED_VALIDATE)
		return;
	if (flags & MAP_ANONYMOUS) {
		struct crs_object_key key = { .kind = CRS_OBJ_ANON_SHARED };
		uintptr_t bt[CRS_BT_DEPTH];
		int nbt = crs_backtrace(bt, CRS_BT_DEPTH);

		obj = said_if_full(crs_reg_object_get(&key, "", len, 0, bt, nbt));
	} else {
		struct stat st;

		if (raw_fstat(fd, &st) < 0)
			return;
		obj = fd_object_checked(fd, &st);
		if (obj == CRS_NO_OBJECT) {
			char path[CRS_PATH_MAX];
			int deleted;

			if (fd_path(fd, path, sizeof(path)) < 0)
				return;
			deleted = strip_deleted(path);
			obj = object_for_stat(kind_from_path(path), &st, path, (uint64_t)st.st_size);
			if (obj != CRS_NO_OBJECT && deleted)
				set_flags(obj, CRS_OF_UNLINKED, 0, 0);
		}
	}
	if (obj == CRS_NO_OBJECT)
		return;
	set_flags(obj, CRS_OF_SHARED_MAP, 0, 0);
	if (crs_reg_map_add((uintptr_t)addr, len, (uint64_t)off, prot, flags, obj) < 0)
		said_if_full(CRS_NO_OBJECT);
}

void crs_record_munmap(void *addr, size_t len)
{
	crs_reg_map_remove((uintptr_t)addr, len);
}

void crs_record_mremap(void *old, size_t oldlen, void *new_addr, size_t newlen)
{
	crs_reg_map_move((uintptr_t)old, oldlen, (uintptr_t)new_addr, newlen);
}

void crs_record_shm_open(int fd, const char *name, int oflag)
{
	char path[CRS_PATH_MAX];
	struct stat st;
	uint32_t obj;

	if (raw_fstat(fd, &st) < 0)
		return;
	snprintf(path, sizeof(path), "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
	obj = object_for_stat(CRS_OBJ_POSIX_SHM, &st, path, (uint64_t)st.st_size);
	if (obj == CRS_NO_OBJECT)
		return;
	if ((oflag & O_ACCMODE) != O_RDONLY)
		set_flags(obj, CRS_OF_WRITE, 0, 0);
	crs_reg_fd_set(fd, obj);
}

void crs_record_shm_unlink_prepare(const char *name, uint64_t *dev, uint64_t *ino, int *nlink)
{
	char path[CRS_PATH_MAX];

	snprintf(path, sizeof(path), "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
	crs_record_unlink_prepare(AT_FDCWD, path, dev, ino, nlink);
}

void crs_record_memfd(int fd, const char *name, unsigned flags)
{
	char path[CRS_PATH_MAX];
	struct stat st;
	uint32_t obj;

	(void)flags;
	if (raw_fstat(fd, &st) < 0)
		return;
	/* The name /proc shows for it, which is also how it is found later. */
	snprintf(path, sizeof(path), "/memfd:%s", name);
	obj = object_for_stat(CRS_OBJ_MEMFD, &st, path, 0);
	if (obj == CRS_NO_OBJECT)
		return;
	set_flags(obj, CRS_OF_WRITE | CRS_OF_UNLINKED, 0, 0);
	crs_reg_fd_set(fd, obj);
}

static void set_sysv_key(struct crs_object *o, void *arg)
{
	o->sysv_key = *(int32_t *)arg;
}

void crs_record_shmget(int shmid, key_t key, size_t size, int shmflg)
{
	struct crs_object_key k = { .kind = CRS_OBJ_SYSV, .sysv_id = shmid };
	struct shmid_ds ds;
	uintptr_t bt[CRS_BT_DEPTH];
	int nbt = crs_backtrace(bt, CRS_BT_DEPTH);
	char name[32];
	int32_t k32 = (int32_t)key;
	uint32_t obj;

	if (syscall(SYS_shmctl, shmid, IPC_STAT, &ds) == 0)
		size = ds.shm_segsz;
	/* The name /proc/PID/maps shows for an attachment. */
	snprintf(name, sizeof(name), "/SYSV%08x", (unsigned)key);
	obj = crs_reg_object_get(&k, name, size, (uint32_t)(shmflg & 0777), bt, nbt);
	if (obj != CRS_NO_OBJECT)
		crs_reg_object_update(obj, set_sysv_key, &k32);
}

void crs_record_shmat(int shmid, const void *addr, int shmflg)
{
	struct crs_object_key k = { .kind = CRS_OBJ_SYSV, .sysv_id = shmid };
	struct shmid_ds ds;
	uint32_t obj = crs_reg_object_find(&k);
	int prot = PROT_READ | ((shmflg & SHM_RDONLY) ? 0 : PROT_WRITE);

	if (syscall(SYS_shmctl, shmid, IPC_STAT, &ds) < 0)
		return;
	if (obj == CRS_NO_OBJECT) {
		/* Attached by id without a shmget we saw (another process made it). */
		char name[32];
		int32_t k32 = (int32_t)ds.shm_perm.__key;

		snprintf(name, sizeof(name), "/SYSV%08x", (unsigned)ds.shm_perm.__key);
		obj = crs_reg_object_get(&k, name, ds.shm_segsz, ds.shm_perm.mode & 0777, NULL, 0);
		if (obj == CRS_NO_OBJECT)
			return;
		crs_reg_object_update(obj, set_sysv_key, &k32);
	}
	crs_reg_map_add((uintptr_t)addr, (ds.shm_segsz + 4095) & ~(size_t)4095, 0, prot,
			MAP_SHARED, obj);
}

void crs_record_shmdt(const void *addr)
{
	struct crs_mapping m;

	if (crs_reg_map_lookup((uintptr_t)addr, &m) == 0 && m.start == (uintptr_t)addr)
		crs_reg_map_remove(m.start, m.len);
}

void crs_record_shmctl_rmid(int shmid)
{
	crs_reg_sysv_rmid(shmid);
}
