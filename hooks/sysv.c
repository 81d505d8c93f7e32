/* SysV shared memory: shmget, shmat, shmdt, shmctl. */
#include "registry.h"
#include "shim.h"

#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *next_shmget, *next_shmat, *next_shmdt, *next_shmctl;

#define RECORD(call)                          \
	do {                                  \
		int saved__ = errno;          \
		if (crs_guard_enter()) {      \
			call;                 \
			crs_guard_leave();    \
		}                             \
		errno = saved__;              \
	} while (0)

CRS_EXPORT int shmget(key_t key, size_t size, int shmflg)
{
	int (*fn)(key_t, size_t, int) = CRS_NEXT(next_shmget, "shmget", NULL);
	int id = fn ? fn(key, size, shmflg) : (int)syscall(SYS_shmget, key, size, shmflg);

	if (id >= 0 && crs_active(CRS_HOOK_SYSV))
		RECORD((crs_reg_sysv_reborn(id), crs_record_shmget(id, key, size, shmflg)));
	return id;
}

/*
 * An id the program held before it was restored names no segment of its
 * own now (crshim moved the memory onto files, CRIU restores no SysV
 * segment outside an IPC namespace), but the kernel may have given it to
 * another job's segment: shmat and shmctl on it fail with EINVAL, as they
 * would for a removed segment, instead of reaching that one.
 */
static int stale_id(int shmid)
{
	int gone = 0, saved = errno;

	if (crs_active(CRS_HOOK_SYSV) && crs_guard_enter()) {
		gone = crs_reg_sysv_gone(shmid);
		crs_guard_leave();
	}
	errno = gone ? EINVAL : saved;
	return gone;
}

CRS_EXPORT void *shmat(int shmid, const void *addr, int shmflg)
{
	void *(*fn)(int, const void *, int) = CRS_NEXT(next_shmat, "shmat", NULL);
	void *r;

	if (stale_id(shmid))
		return (void *)-1;
	r = fn ? fn(shmid, addr, shmflg) : (void *)syscall(SYS_shmat, shmid, addr, shmflg);

	if (r != (void *)-1 && crs_active(CRS_HOOK_SYSV))
		RECORD(crs_record_shmat(shmid, r, shmflg));
	return r;
}

struct obj_info {
	uint16_t flags;
	uint64_t size;
};

static void read_obj(struct crs_object *o, void *arg)
{
	struct obj_info *oi = arg;

	oi->flags = o->flags;
	oi->size = o->size;
}

/* A piece of the attachment at base: the same file, at its own offset. */
static int same_attachment(const struct crs_mapping *m, uint32_t obj, uintptr_t base)
{
	return m->obj == obj && m->offset == m->start - base;
}

/*
 * shmdt of a former SysV attachment, now a mapping of the file crshim moved
 * the segment onto (preload/swap.c).  Detach it as the kernel detaches a
 * segment: from a mapping at base with offset 0, every piece of that file
 * mapped at base + its offset, up to the segment's size.  The registry is
 * held across the munmaps, as the munmap hook does.  0 when detached; -1
 * when base is no such attachment (nothing changed).
 */
static int detach_converted(uintptr_t base)
{
	struct crs_mapping m;
	struct obj_info oi;
	uintptr_t end, pos;
	uint32_t obj;
	int r = -1;

	crs_reg_hold();
	if (crs_reg_map_lookup(base, &m) < 0 || m.start != base || m.offset != 0)
		goto out;
	obj = m.obj;
	if (crs_reg_object_update(obj, read_obj, &oi) < 0 || !(oi.flags & CRS_OF_FROM_SYSV))
		goto out;
	end = base + ((oi.size + 4095) & ~(uint64_t)4095);
	if (end < base + m.len)
		end = base + m.len;
	for (pos = base; pos < end && crs_reg_map_next(pos, &m) == 0 && m.start < end;
	     pos = m.start + m.len) {
		size_t len = (m.start + m.len < end ? m.start + m.len : end) - m.start;

		if (!same_attachment(&m, obj, base))
			continue;
		if (syscall(SYS_munmap, m.start, len) < 0)
			break;
		crs_reg_map_remove(m.start, len);
		r = 0;
	}
out:
	crs_reg_release();
	return r;
}

/*
 * A former SysV attachment is no longer one to the kernel (EINVAL): if the
 * shim made it a file mapping, detach that instead, keeping errno as it was
 * before the call.  Anything else fails exactly as the kernel said.
 */
CRS_EXPORT int shmdt(const void *addr)
{
	int (*fn)(const void *) = CRS_NEXT(next_shmdt, "shmdt", NULL);
	int saved = errno, r = fn ? fn(addr) : (int)syscall(SYS_shmdt, addr), done;

	if (r == 0 && crs_active(CRS_HOOK_SYSV))
		RECORD(crs_record_shmdt(addr));
	else if (r < 0 && errno == EINVAL && crs_reg_has_mappings() && crs_active(CRS_HOOK_SYSV) &&
		 crs_guard_enter()) {
		done = detach_converted((uintptr_t)addr) == 0;
		crs_guard_leave();
		errno = done ? saved : EINVAL;
		if (done)
			r = 0;
	}
	return r;
}

CRS_EXPORT int shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
	int (*fn)(int, int, struct shmid_ds *) = CRS_NEXT(next_shmctl, "shmctl", NULL);
	int r;

	/* IPC_INFO, SHM_INFO and SHM_STAT take no id of the program's. */
	if (cmd != IPC_INFO && cmd != SHM_INFO && cmd != SHM_STAT && cmd != SHM_STAT_ANY && stale_id(shmid))
		return -1;
	r = fn ? fn(shmid, cmd, buf) : (int)syscall(SYS_shmctl, shmid, cmd, buf);

	if (r == 0 && cmd == IPC_RMID && crs_active(CRS_HOOK_SYSV))
		RECORD(crs_record_shmctl_rmid(shmid));
	return r;
}
