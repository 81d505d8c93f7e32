/*
 * Start-up of the shim: configuration, the registry arena, fork handling and
 * the control endpoint.  Runs from the constructor or, if a hook is called
 * first (another library's constructor may mmap before ours runs), lazily
 * from that hook.
 */
#include "registry.h"
#include "shim.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

enum { INIT_NONE = 0, INIT_RUNNING, INIT_DONE };
static int init_state;
static int enabled;
static __thread int in_shim;

int crs_guard_enter(void)
{
	if (in_shim)
		return 0;
	in_shim = 1;
	return 1;
}

void crs_guard_leave(void)
{
	in_shim = 0;
}

int crs_active(unsigned family)
{
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != INIT_DONE) {
		crs_ensure_init();
		if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != INIT_DONE)
			return 0;
	}
	if (!enabled)
		return 0;
	crs_control_maybe_restart();
	return (crs_cfg.hooks & family) != 0;
}

static void config_warning(void *ctx, const char *msg)
{
	(void)ctx;
	crs_warn("%s", msg);
}

static void atfork_child(void)
{
	crs_reg_atfork_child();
	crs_log_after_fork();
	crs_control_after_fork_child();
}

static void do_init(void)
{
	int saved = errno;

	/* Setuid/setgid programs: the loader already ignores LD_PRELOAD for
	 * them unless the library is in a trusted path; be inert regardless. */
	if (getauxval(AT_SECURE)) {
		crs_cfg.disabled = 1;
		goto out;
	}
	crs_config_parse(&crs_cfg, (const char *(*)(const char *))getenv, config_warning, NULL,
			 getpid(), getuid());
	crs_log_open();
	if (crs_cfg.disabled)
		goto out;
	if (crs_reg_init(0, 0, 0) < 0) {
		crs_error("cannot reserve the registry arena; the shim is disabled");
		goto out;
	}
	pthread_atfork(crs_reg_atfork_prepare, crs_reg_atfork_parent, atfork_child);
	enabled = 1;
	crs_debug("active: hooks=0x%x rundir=%s", crs_cfg.hooks, crs_cfg.rundir);
out:
	errno = saved;
}

void crs_ensure_init(void)
{
	int expected = INIT_NONE;

	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == INIT_DONE)
		return;
	/* A hook called before libc initialised itself (from a preinit_array
	 * function of the program: ASan's runtime mmaps there) would read an
	 * empty environment and ignore every CRSHIM_* variable (CRSHIM_DISABLE
	 * included).  Such early calls pass through; the constructor, after
	 * libc's, initialises. */
	if (!__environ)
		return;
	/* The first caller initialises; anyone arriving meanwhile (the same
	 * thread re-entering through a hook, or another thread) passes its call
	 * through unrecorded instead of waiting. */
	if (!__atomic_compare_exchange_n(&init_state, &expected, INIT_RUNNING, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	in_shim++;
	do_init();
	in_shim--;
	__atomic_store_n(&init_state, INIT_DONE, __ATOMIC_RELEASE);
}

#if defined(__SANITIZE_ADDRESS__)
/*
 * Sanitizer builds (CRSHIM_SANITIZE=address): the shim is preloaded, so the
 * ASan runtime it brings is never first in the program's library list,
 * which ASan refuses unless told that this is expected.  These are the
 * process's default options (ASAN_OPTIONS still adds to them); they also
 * reach set-user-ID programs, which cannot read their own environment
 * through /proc where ASan looks for ASAN_OPTIONS.
 */
CRS_EXPORT const char *__asan_default_options(void)
{
	/* LeakSanitizer stops the threads with ptrace, which a set-user-ID
	 * program (not dumpable, no privilege) cannot do to itself. */
	if (getauxval(AT_SECURE))
		return "verify_asan_link_order=0:detect_leaks=0";
	return "verify_asan_link_order=0";
}
#endif

__attribute__((constructor)) static void crs_constructor(void)
{
	crs_ensure_init();
	/* The control thread is started from the constructor only: a lazy
	 * initialisation inside some other library's constructor is too early
	 * to create threads safely. */
	if (enabled)
		crs_control_start();
}

__attribute__((destructor)) static void crs_destructor(void)
{
	if (enabled)
		crs_control_stop();
}
