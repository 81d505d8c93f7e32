/*
 * Credential family: set*id, setgroups, capset, prctl.  These do not
 * record anything; they pause the shim's control thread around the
 * program's privilege changes (see crs_control_pause in preload/control.c).
 * The thread comes back at the next hooked call after the last of them.
 */
#include "shim.h"

#include <grp.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static __thread int changing;

int crs_creds_changing(void)
{
	return changing;
}

static void *next_setuid, *next_setgid, *next_seteuid, *next_setegid, *next_setreuid, *next_setregid,
	*next_setresuid, *next_setresgid, *next_setgroups, *next_capset, *next_prctl;

#define CREDS_CALL(slot, name, type, args, call_args)          \
	type (*fn) args = CRS_NEXT(slot, name, NULL);            \
	int r;                                                   \
	if (!fn) {                                               \
		errno = ENOSYS;                                  \
		return -1;                                       \
	}                                                        \
	changing = 1; /* no restart between the steps */        \
	if (crs_active(CRS_HOOK_ALL))                            \
		crs_control_pause();                             \
	r = fn call_args;                                        \
	changing = 0;                                            \
	return r;

CRS_EXPORT int setuid(uid_t u) { CREDS_CALL(next_setuid, "setuid", int, (uid_t), (u)) }
CRS_EXPORT int setgid(gid_t g) { CREDS_CALL(next_setgid, "setgid", int, (gid_t), (g)) }
CRS_EXPORT int seteuid(uid_t u) { CREDS_CALL(next_seteuid, "seteuid", int, (uid_t), (u)) }
CRS_EXPORT int setegid(gid_t g) { CREDS_CALL(next_setegid, "setegid", int, (gid_t), (g)) }
CRS_EXPORT int setreuid(uid_t r_, uid_t e) { CREDS_CALL(next_setreuid, "setreuid", int, (uid_t, uid_t), (r_, e)) }
CRS_EXPORT int setregid(gid_t r_, gid_t e) { CREDS_CALL(next_setregid, "setregid", int, (gid_t, gid_t), (r_, e)) }
CRS_EXPORT int setresuid(uid_t r_, uid_t e, uid_t s)
{
	CREDS_CALL(next_setresuid, "setresuid", int, (uid_t, uid_t, uid_t), (r_, e, s))
}
CRS_EXPORT int setresgid(gid_t r_, gid_t e, gid_t s)
{
	CREDS_CALL(next_setresgid, "setresgid", int, (gid_t, gid_t, gid_t), (r_, e, s))
}
CRS_EXPORT int setgroups(size_t n, const gid_t *l)
{
	CREDS_CALL(next_setgroups, "setgroups", int, (size_t, const gid_t *), (n, l))
}
CRS_EXPORT int capset(cap_user_header_t h, const cap_user_data_t d)
{
	CREDS_CALL(next_capset, "capset", int, (cap_user_header_t, const cap_user_data_t), (h, d))
}

/* prctl: only the per-thread credential options pause the thread. */
CRS_EXPORT int prctl(int option, ...)
{
	int (*fn)(int, unsigned long, unsigned long, unsigned long, unsigned long) =
		CRS_NEXT(next_prctl, "prctl", NULL);
	unsigned long a2, a3, a4, a5;
	va_list ap;
	int r;

	va_start(ap, option);
	a2 = va_arg(ap, unsigned long);
	a3 = va_arg(ap, unsigned long);
	a4 = va_arg(ap, unsigned long);
	a5 = va_arg(ap, unsigned long);
	va_end(ap);
	if (!fn)
		return (int)syscall(SYS_prctl, option, a2, a3, a4, a5);
	if (option == PR_SET_KEEPCAPS || option == PR_SET_SECUREBITS || option == PR_CAPBSET_DROP) {
		changing = 1;
		if (crs_active(CRS_HOOK_ALL))
			crs_control_pause();
	}
	r = fn(option, a2, a3, a4, a5);
	changing = 0;
	return r;
}
