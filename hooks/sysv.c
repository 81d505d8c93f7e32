/* SysV shared memory: shmget, shmat, shmdt, shmctl. */
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
		RECORD(crs_record_shmget(id, key, size, shmflg));
	return id;
}

CRS_EXPORT void *shmat(int shmid, const void *addr, int shmflg)
{
	void *(*fn)(int, const void *, int) = CRS_NEXT(next_shmat, "shmat", NULL);
	void *r = fn ? fn(shmid, addr, shmflg) : (void *)syscall(SYS_shmat, shmid, addr, shmflg);

	if (r != (void *)-1 && crs_active(CRS_HOOK_SYSV))
		RECORD(crs_record_shmat(shmid, r, shmflg));
	return r;
}

CRS_EXPORT int shmdt(const void *addr)
{
	int (*fn)(const void *) = CRS_NEXT(next_shmdt, "shmdt", NULL);
	int r = fn ? fn(addr) : (int)syscall(SYS_shmdt, addr);

	if (r == 0 && crs_active(CRS_HOOK_SYSV))
		RECORD(crs_record_shmdt(addr));
	return r;
}

CRS_EXPORT int shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
	int (*fn)(int, int, struct shmid_ds *) = CRS_NEXT(next_shmctl, "shmctl", NULL);
	int r = fn ? fn(shmid, cmd, buf) : (int)syscall(SYS_shmctl, shmid, cmd, buf);

	if (r == 0 && cmd == IPC_RMID && crs_active(CRS_HOOK_SYSV))
		RECORD(crs_record_shmctl_rmid(shmid));
	return r;
}
