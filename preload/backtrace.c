/*
 * Where a resource was created (CRSHIM_BACKTRACE=1): return addresses from
 * libunwind's local unwinder, described later with dladdr.
 */
#define UNW_LOCAL_ONLY
#include "shim.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <stdio.h>

static __thread int unwinding;

int crs_in_backtrace(void)
{
	return unwinding;
}

int crs_backtrace(uintptr_t *ips, int max)
{
	void *buf[CRS_BT_SKIP + 16];
	int n, out = 0;

	if (!crs_cfg.backtrace || max <= 0)
		return 0;
	if (max > 16)
		max = 16;
	unwinding = 1;
	n = unw_backtrace(buf, CRS_BT_SKIP + max);
	unwinding = 0;
	/* Skip this function, the recording helper and the hook itself. */
	for (int i = CRS_BT_SKIP; i < n && out < max; i++)
		ips[out++] = (uintptr_t)buf[i];
	return out;
}

void crs_backtrace_describe(uintptr_t ip, char *out, size_t outlen)
{
	Dl_info di;

	if (dladdr((void *)ip, &di) && di.dli_fname) {
		const char *base = di.dli_fname;

		for (const char *p = di.dli_fname; *p; p++)
			if (*p == '/')
				base = p + 1;
		if (di.dli_sname)
			snprintf(out, outlen, "%s+0x%lx (%s+0x%lx)", base,
				 (unsigned long)(ip - (uintptr_t)di.dli_fbase), di.dli_sname,
				 (unsigned long)(ip - (uintptr_t)di.dli_saddr));
		else
			snprintf(out, outlen, "%s+0x%lx", base,
				 (unsigned long)(ip - (uintptr_t)di.dli_fbase));
		return;
	}
	snprintf(out, outlen, "0x%lx", (unsigned long)ip);
}
