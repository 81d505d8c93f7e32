/*
 * The registry's tables: objects (files, pools, segments), mappings sorted by
 * address, and an fd -> object map.  See registry.h for the contract.
 */
#include "registry.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct arena {
	struct crs_object *objects;
	size_t max_objects;
	struct crs_mapping *maps; /* sorted by start, non-overlapping */
	size_t max_maps;
	uint32_t *fd_obj;	  /* object index + 1; 0 when untracked, so the
				   * table needs no initialising (stays unresident) */
	size_t max_fds;
	uint32_t nobjects, nmaps, nfds;
	uint32_t obj_hiwater;	  /* 1 + highest object slot ever used */
	uint64_t serial;
	uint64_t dropped_objects, dropped_maps, dropped_fds;
	size_t bytes;
};

static struct arena A;
static void *arena_base;
/* Recursive: the munmap/mremap/shared-mmap hooks hold it across their
 * system call (crs_reg_hold) and the recording then takes it again. */
static pthread_mutex_t reg_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static int reg_ready;

/* Raw syscalls: the registry must not go through the hooked mmap. */
static void *raw_mmap(size_t len)
{
	long r = syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return (r < 0 && r > -4096) ? NULL : (void *)r;
}

static size_t page_round(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

int crs_reg_init(size_t max_objects, size_t max_mappings, size_t max_fds)
{
	size_t ob, mb, fb;
	char *base;

	if (reg_ready)
		return 0;
	A.max_objects = max_objects ? max_objects : CRS_MAX_OBJECTS;
	A.max_maps = max_mappings ? max_mappings : CRS_MAX_MAPPINGS;
	A.max_fds = max_fds ? max_fds : CRS_MAX_FDS;
	ob = page_round(A.max_objects * sizeof(struct crs_object));
	mb = page_round(A.max_maps * sizeof(struct crs_mapping));
	fb = page_round(A.max_fds * sizeof(uint32_t));
	base = raw_mmap(ob + mb + fb);
	if (!base)
		return -1;
	A.objects = (struct crs_object *)base;
	A.maps = (struct crs_mapping *)(base + ob);
	A.fd_obj = (uint32_t *)(base + ob + mb);
	A.bytes = ob + mb + fb;
	arena_base = base;
	__atomic_store_n(&reg_ready, 1, __ATOMIC_RELEASE);
	return 0;
}

void crs_reg_destroy(void)
{
	if (!reg_ready)
		return;
	syscall(SYS_munmap, arena_base, A.bytes);
	memset(&A, 0, sizeof(A));
	arena_base = NULL;
	reg_ready = 0;
}

int crs_reg_ready(void)
{
	return __atomic_load_n(&reg_ready, __ATOMIC_ACQUIRE);
}

void crs_reg_hold(void)
{
	if (reg_ready)
		pthread_mutex_lock(&reg_lock);
}

void crs_reg_release(void)
{
	if (reg_ready)
		pthread_mutex_unlock(&reg_lock);
}

void crs_reg_atfork_prepare(void)
{
	pthread_mutex_lock(&reg_lock);
}

void crs_reg_atfork_parent(void)
{
	pthread_mutex_unlock(&reg_lock);
}

void crs_reg_atfork_child(void)
{
	/* The forking thread may hold it recursively (fork from inside a
	 * hold); in the child nobody else can: start afresh. */
	pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

	memcpy(&reg_lock, &fresh, sizeof(fresh));
}

#define LOCKED_OR(ret)                          \
	do {                                    \
		if (!reg_ready)                 \
			return ret;             \
		pthread_mutex_lock(&reg_lock);  \
	} while (0)
#define UNLOCK() pthread_mutex_unlock(&reg_lock)

/* ---------------- objects ---------------- */

static int key_matches(const struct crs_object *o, const struct crs_object_key *k)
{
	if (!o->in_use || o->kind != k->kind)
		return 0;
	if (k->kind == CRS_OBJ_SYSV)
		return o->sysv_id == k->sysv_id;
	if (k->kind == CRS_OBJ_ANON_SHARED)
		return 0; /* every anonymous shared mapping is its own object */
	return o->dev == k->dev && o->ino == k->ino;
}

/* Objects are few (pools, scratch files); a linear scan is fine here. */
static uint32_t find_locked(const struct crs_object_key *k)
{
	for (uint32_t i = 0; i < A.obj_hiwater; i++)
		if (key_matches(&A.objects[i], k))
			return i;
	return CRS_NO_OBJECT;
}

/* The lowest free slot keeps the used part of the table (and the scans
 * bounded by obj_hiwater) short. */
static uint32_t alloc_locked(void)
{
	for (uint32_t i = 0; i < A.max_objects; i++) {
		if (A.objects[i].in_use)
			continue;
		if (i >= A.obj_hiwater)
			A.obj_hiwater = i + 1;
		return i;
	}
	return CRS_NO_OBJECT;
}

static size_t bounded_copy(char *dst, const char *src, size_t cap)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;

	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
	return n;
}

uint32_t crs_reg_object_get(const struct crs_object_key *key, const char *path, uint64_t size,
			    uint32_t mode, const uintptr_t *bt, int nbt)
{
	uint32_t i;
	struct crs_object *o;

	LOCKED_OR(CRS_NO_OBJECT);
	i = find_locked(key);
	if (i != CRS_NO_OBJECT) {
		o = &A.objects[i];
		if (size > o->size)
			o->size = size;
		UNLOCK();
		return i;
	}
	i = alloc_locked();
	if (i == CRS_NO_OBJECT) {
		A.dropped_objects++;
		UNLOCK();
		return CRS_NO_OBJECT;
	}
	o = &A.objects[i];
	memset(o, 0, offsetof(struct crs_object, path));
	o->in_use = 1;
	o->kind = key->kind;
	o->dev = key->dev;
	o->ino = key->ino;
	o->sysv_id = key->sysv_id;
	o->size = size;
	o->mode = mode;
	o->serial = ++A.serial;
	if (bt && nbt > 0) {
		if (nbt > CRS_BT_DEPTH)
			nbt = CRS_BT_DEPTH;
		memcpy(o->bt, bt, (size_t)nbt * sizeof(uintptr_t));
		o->nbt = (uint8_t)nbt;
	}
	bounded_copy(o->path, path, sizeof(o->path));
	A.nobjects++;
	UNLOCK();
	return i;
}

uint32_t crs_reg_object_find(const struct crs_object_key *key)
{
	uint32_t i;

	LOCKED_OR(CRS_NO_OBJECT);
	i = find_locked(key);
	UNLOCK();
	return i;
}

int crs_reg_object_update(uint32_t obj, void (*fn)(struct crs_object *o, void *arg), void *arg)
{
	LOCKED_OR(-1);
	if (obj >= A.max_objects || !A.objects[obj].in_use) {
		UNLOCK();
		return -1;
	}
	fn(&A.objects[obj], arg);
	UNLOCK();
	return 0;
}

/* An object is forgotten when nothing refers to it any more.  A SysV
 * segment that was not removed still exists in the kernel: keep it. */
static void maybe_free_locked(uint32_t i)
{
	struct crs_object *o = &A.objects[i];

	if (!o->in_use || o->nfds || o->nmaps)
		return;
	if (o->kind == CRS_OBJ_SYSV && !(o->flags & CRS_OF_SYSV_RMID))
		return;
	o->in_use = 0;
	A.nobjects--;
}

void crs_reg_object_maybe_free(uint32_t obj)
{
	LOCKED_OR();
	if (obj < A.max_objects)
		maybe_free_locked(obj);
	UNLOCK();
}

int crs_reg_mark_inode(uint64_t dev, uint64_t ino, uint16_t set_flags, const char *new_path)
{
	int n = 0;

	LOCKED_OR(0);
	for (uint32_t i = 0; i < A.obj_hiwater; i++) {
		struct crs_object *o = &A.objects[i];

		if (!o->in_use || o->kind == CRS_OBJ_SYSV || o->kind == CRS_OBJ_ANON_SHARED)
			continue;
		if (o->dev != dev || o->ino != ino)
			continue;
		o->flags |= set_flags;
		if (new_path)
			bounded_copy(o->path, new_path, sizeof(o->path));
		n++;
	}
	UNLOCK();
	return n;
}

/*
 * SysV ids of a process before its restore.  CRIU does not restore SysV
 * segments outside an IPC namespace (crshim moved their memory onto files),
 * so after a restore those ids name nothing of the program's; the kernel may
 * hand the same id to someone else's new segment.  Kept here so the hooks
 * refuse them instead of reaching that segment.  Fixed size: past it the
 * oldest ids are overwritten (ids are large and rarely reused).
 */
#define SYSV_GONE_MAX 64
static int32_t sysv_gone[SYSV_GONE_MAX];
static unsigned nsysv_gone;

int crs_reg_sysv_forget_all(void)
{
	int n = 0;

	LOCKED_OR(0);
	for (uint32_t i = 0; i < A.obj_hiwater; i++) {
		struct crs_object *o = &A.objects[i];

		if (!o->in_use || o->kind != CRS_OBJ_SYSV || o->nmaps)
			continue;
		sysv_gone[nsysv_gone++ % SYSV_GONE_MAX] = o->sysv_id;
		o->flags |= CRS_OF_SYSV_RMID;
		maybe_free_locked(i);
		n++;
	}
	UNLOCK();
	return n;
}

int crs_reg_sysv_gone(int32_t shmid)
{
	int found = 0;

	LOCKED_OR(0);
	for (unsigned i = 0; i < nsysv_gone && i < SYSV_GONE_MAX && !found; i++)
		found = sysv_gone[i] == shmid;
	UNLOCK();
	return found;
}

void crs_reg_sysv_reborn(int32_t shmid)
{
	LOCKED_OR();
	for (unsigned i = 0; i < nsysv_gone && i < SYSV_GONE_MAX; i++)
		if (sysv_gone[i] == shmid)
			sysv_gone[i] = -1;
	UNLOCK();
}

int crs_reg_sysv_rmid(int32_t shmid)
{
	struct crs_object_key k = { .kind = CRS_OBJ_SYSV, .sysv_id = shmid };
	uint32_t i;

	LOCKED_OR(-1);
	i = find_locked(&k);
	if (i != CRS_NO_OBJECT) {
		A.objects[i].flags |= CRS_OF_SYSV_RMID | CRS_OF_UNLINKED;
		maybe_free_locked(i);
	}
	UNLOCK();
	return i == CRS_NO_OBJECT ? -1 : 0;
}

/* ---------------- mappings ---------------- */

/* Index of the first mapping whose end is above addr (binary search). */
static size_t first_ending_after(uintptr_t addr)
{
	size_t lo = 0, hi = A.nmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (A.maps[mid].start + A.maps[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void obj_unref_map_locked(uint32_t obj)
{
	if (obj < A.max_objects && A.objects[obj].in_use) {
		if (A.objects[obj].nmaps)
			A.objects[obj].nmaps--;
		maybe_free_locked(obj);
	}
}

static int insert_at_locked(size_t pos, const struct crs_mapping *m)
{
	if (A.nmaps >= A.max_maps) {
		A.dropped_maps++;
		return -1;
	}
	memmove(&A.maps[pos + 1], &A.maps[pos], (A.nmaps - pos) * sizeof(*m));
	A.maps[pos] = *m;
	__atomic_store_n(&A.nmaps, A.nmaps + 1, __ATOMIC_RELAXED);
	if (m->obj < A.max_objects && A.objects[m->obj].in_use)
		A.objects[m->obj].nmaps++;
	return 0;
}

static void erase_at_locked(size_t pos)
{
	uint32_t obj = A.maps[pos].obj;

	memmove(&A.maps[pos], &A.maps[pos + 1], (A.nmaps - pos - 1) * sizeof(A.maps[0]));
	__atomic_store_n(&A.nmaps, A.nmaps - 1, __ATOMIC_RELAXED);
	obj_unref_map_locked(obj);
}

/*
 * Remove [start, end) from the table.  A mapping straddling an edge is
 * trimmed; one straddling both edges is split in two (which needs a free
 * slot; if none, the tail is dropped and counted).
 */
static void remove_range_locked(uintptr_t start, uintptr_t end)
{
	size_t i = first_ending_after(start);

	while (i < A.nmaps && A.maps[i].start < end) {
		struct crs_mapping *m = &A.maps[i];
		uintptr_t mend = m->start + m->len;

		if (m->start < start && mend > end) {
			struct crs_mapping tail = *m;

			tail.offset += end - m->start;
			tail.start = end;
			tail.len = mend - end;
			m->len = start - m->start;
			insert_at_locked(i + 1, &tail);
			return;
		}
		if (m->start < start) {
			m->len = start - m->start;
			i++;
		} else if (mend > end) {
			m->offset += end - m->start;
			m->len = mend - end;
			m->start = end;
			return;
		} else {
			erase_at_locked(i);
		}
	}
}

int crs_reg_map_add(uintptr_t start, size_t len, uint64_t offset, int prot, int flags,
		    uint32_t obj)
{
	struct crs_mapping m = {
		.start = start, .len = len, .offset = offset,
		.prot = prot, .flags = flags, .obj = obj,
	};
	int r;

	int held;

	if (!len)
		return -1;
	LOCKED_OR(-1);
	/* Hold the object: the range being replaced may be its last mapping. */
	held = obj < A.max_objects && A.objects[obj].in_use;
	if (held)
		A.objects[obj].nmaps++;
	remove_range_locked(start, start + len);
	r = insert_at_locked(first_ending_after(start), &m);
	if (held)
		obj_unref_map_locked(obj);
	UNLOCK();
	return r;
}

int crs_reg_has_mappings(void)
{
	return __atomic_load_n(&A.nmaps, __ATOMIC_RELAXED) != 0;
}

void crs_reg_map_remove(uintptr_t start, size_t len)
{
	if (!len || !crs_reg_has_mappings())
		return;
	LOCKED_OR();
	remove_range_locked(start, start + len);
	UNLOCK();
}

/*
 * mremap: the pieces of [old, old+oldlen) move to new_addr with their
 * relative positions kept; growth extends the last piece that reached the
 * old end; shrinking drops what falls beyond new_len.
 */
void crs_reg_map_move(uintptr_t old_addr, size_t old_len, uintptr_t new_addr, size_t new_len)
{
	struct crs_mapping moved[8];
	size_t n = 0, i;
	uintptr_t old_end = old_addr + old_len;

	if (!crs_reg_has_mappings())
		return;
	LOCKED_OR();
	if (old_len == 0) {
		/* mremap(old, 0, ...) makes a second mapping of a shared one. */
		i = first_ending_after(old_addr);
		if (i < A.nmaps && A.maps[i].start <= old_addr) {
			struct crs_mapping dup = A.maps[i];

			dup.offset += old_addr - dup.start;
			dup.start = new_addr;
			dup.len = new_len;
			if (dup.obj < A.max_objects)
				A.objects[dup.obj].nmaps++;
			remove_range_locked(new_addr, new_addr + new_len);
			insert_at_locked(first_ending_after(new_addr), &dup);
			obj_unref_map_locked(dup.obj);
		}
		UNLOCK();
		return;
	}
	i = first_ending_after(old_addr);
	for (; i < A.nmaps && A.maps[i].start < old_end; i++) {
		struct crs_mapping m = A.maps[i];
		uintptr_t s = m.start < old_addr ? old_addr : m.start;
		uintptr_t e = m.start + m.len > old_end ? old_end : m.start + m.len;

		m.offset += s - m.start;
		m.start = s;
		m.len = e - s;
		if (n == sizeof(moved) / sizeof(moved[0])) {
			A.dropped_maps++; /* more pieces than one mremap ever sees */
			continue;
		}
		moved[n++] = m;
	}
	/* Keep the objects alive while their mappings are re-inserted. */
	for (i = 0; i < n; i++)
		if (moved[i].obj < A.max_objects)
			A.objects[moved[i].obj].nmaps++;
	remove_range_locked(old_addr, old_end);
	remove_range_locked(new_addr, new_addr + new_len);
	for (i = 0; i < n; i++) {
		struct crs_mapping m = moved[i];
		uintptr_t rel = m.start - old_addr;

		if (rel >= new_len)
			continue;
		m.start = new_addr + rel;
		if (rel + m.len > new_len || (i == n - 1 && rel + m.len == old_len))
			m.len = new_len - rel;
		insert_at_locked(first_ending_after(m.start), &m);
	}
	for (i = 0; i < n; i++)
		obj_unref_map_locked(moved[i].obj);
	UNLOCK();
}

int crs_reg_map_lookup(uintptr_t addr, struct crs_mapping *out)
{
	size_t i;
	int r = -1;

	LOCKED_OR(-1);
	i = first_ending_after(addr);
	if (i < A.nmaps && A.maps[i].start <= addr) {
		*out = A.maps[i];
		r = 0;
	}
	UNLOCK();
	return r;
}

int crs_reg_map_next(uintptr_t addr, struct crs_mapping *out)
{
	size_t i;
	int r = -1;

	LOCKED_OR(-1);
	i = first_ending_after(addr);
	if (i < A.nmaps) {
		*out = A.maps[i];
		r = 0;
	}
	UNLOCK();
	return r;
}

/* ---------------- fds ---------------- */

int crs_reg_fd_tracked(int fd)
{
	if (!reg_ready || fd < 0 || (size_t)fd >= A.max_fds)
		return 0;
	return __atomic_load_n(&A.fd_obj[fd], __ATOMIC_RELAXED) != 0;
}

static void fd_clear_locked(int fd)
{
	uint32_t obj = A.fd_obj[fd] - 1;

	if (A.fd_obj[fd] == 0)
		return;
	__atomic_store_n(&A.fd_obj[fd], 0, __ATOMIC_RELAXED);
	A.nfds--;
	if (obj < A.max_objects && A.objects[obj].in_use) {
		if (A.objects[obj].nfds)
			A.objects[obj].nfds--;
		maybe_free_locked(obj);
	}
}

void crs_reg_fd_set(int fd, uint32_t obj)
{
	LOCKED_OR();
	if (fd < 0 || (size_t)fd >= A.max_fds) {
		A.dropped_fds++;
		UNLOCK();
		return;
	}
	if (A.fd_obj[fd] == obj + 1) { /* reopened at the same number, unseen close */
		UNLOCK();
		return;
	}
	if (obj < A.max_objects && A.objects[obj].in_use) {
		A.objects[obj].nfds++; /* before the old one goes: it may be the same file */
		fd_clear_locked(fd);
		__atomic_store_n(&A.fd_obj[fd], obj + 1, __ATOMIC_RELAXED);
		A.nfds++;
	} else {
		fd_clear_locked(fd);
	}
	UNLOCK();
}

uint32_t crs_reg_fd_get(int fd)
{
	uint32_t r;

	if (!crs_reg_fd_tracked(fd))
		return CRS_NO_OBJECT;
	LOCKED_OR(CRS_NO_OBJECT);
	r = A.fd_obj[fd] ? A.fd_obj[fd] - 1 : CRS_NO_OBJECT;
	UNLOCK();
	return r;
}

void crs_reg_fd_clear(int fd)
{
	if (!crs_reg_fd_tracked(fd))
		return;
	LOCKED_OR();
	fd_clear_locked(fd);
	UNLOCK();
}

/* ---------------- snapshots ---------------- */

size_t crs_reg_snapshot_size(void)
{
	return A.max_objects * (sizeof(struct crs_object) + sizeof(uint32_t)) +
	       A.max_maps * sizeof(struct crs_mapping) + A.max_fds * 2 * sizeof(int32_t);
}

static void stats_locked(struct crs_reg_stats *st)
{
	st->objects = A.nobjects;
	st->mappings = A.nmaps;
	st->fds = A.nfds;
	st->dropped_objects = A.dropped_objects;
	st->dropped_mappings = A.dropped_maps;
	st->dropped_fds = A.dropped_fds;
	st->arena_bytes = A.bytes;
}

void crs_reg_get_stats(struct crs_reg_stats *st)
{
	memset(st, 0, sizeof(*st));
	LOCKED_OR();
	stats_locked(st);
	UNLOCK();
}

int crs_reg_snapshot(void *buf, size_t size, struct crs_reg_snapshot *snap)
{
	char *p = buf;

	if (size < crs_reg_snapshot_size())
		return -1;
	memset(snap, 0, sizeof(*snap));
	snap->objects = (struct crs_object *)p;
	p += A.max_objects * sizeof(struct crs_object);
	snap->object_index = (uint32_t *)p;
	p += A.max_objects * sizeof(uint32_t);
	snap->mappings = (struct crs_mapping *)p;
	p += A.max_maps * sizeof(struct crs_mapping);
	snap->fd_obj = (int32_t *)p;

	LOCKED_OR(-1);
	stats_locked(&snap->stats);
	for (uint32_t i = 0; i < A.max_objects && snap->nobjects < A.nobjects; i++) {
		if (!A.objects[i].in_use)
			continue;
		snap->object_index[snap->nobjects] = i;
		snap->objects[snap->nobjects++] = A.objects[i];
	}
	memcpy(snap->mappings, A.maps, A.nmaps * sizeof(struct crs_mapping));
	snap->nmappings = A.nmaps;
	for (size_t fd = 0; fd < A.max_fds && snap->nfd_pairs < A.nfds; fd++) {
		if (A.fd_obj[fd] == 0)
			continue;
		snap->fd_obj[2 * snap->nfd_pairs] = (int32_t)fd;
		snap->fd_obj[2 * snap->nfd_pairs + 1] = (int32_t)(A.fd_obj[fd] - 1);
		snap->nfd_pairs++;
	}
	UNLOCK();
	return 0;
}
