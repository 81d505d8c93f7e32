/*
 * crshim_on_checkpoint / crshim_on_restore: the program's callbacks, and
 * the checkpoint life cycle that runs them.
 *
 *   running --(PREPARE, crshim_checkpoint_self)--> checkpointing
 *           run the checkpoint callbacks
 *   checkpointing --(RESUME: restored 0; RESTORED or a self-checkpoint
 *           returning 1: restored 1)--> resuming --> running
 *           run the restore callbacks once
 *
 * A process restored from an image wakes up in "checkpointing" (that is
 * what its memory held when it was dumped), so its restore callbacks run
 * exactly once, whoever notices the restore first (the control thread on
 * RESTORED, or the thread inside crshim_checkpoint_self).
 *
 * Callbacks run on the thread that noticed (the control thread
 * "crshim-ctl", all signals blocked, or the caller of
 * crshim_checkpoint_self), outside the reentrancy guard so what they do is
 * recorded like any program call.
 */
#include "api_int.h"
#include "shim.h"

#include <pthread.h>
#include <time.h>

#define MAX_CALLBACKS 16

enum { ST_RUNNING = 0, ST_CHECKPOINTING, ST_RESUMING };

struct ckpt_cb {
	void (*fn)(void *arg);
	void *arg;
};

struct rst_cb {
	void (*fn)(int restored, void *arg);
	void *arg;
};

static struct ckpt_cb ckpt_cbs[MAX_CALLBACKS];
static struct rst_cb rst_cbs[MAX_CALLBACKS];
static int nckpt, nrst;
static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static int state = ST_RUNNING;

CRS_EXPORT int crshim_impl_on_checkpoint(void (*fn)(void *arg), void *arg)
{
	int r = 0;

	if (!crs_active(CRS_HOOK_ALL)) {
		errno = ENOSYS;
		return -1;
	}
	if (!fn) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&cb_lock);
	for (int i = 0; i < nckpt; i++)
		if (ckpt_cbs[i].fn == fn && ckpt_cbs[i].arg == arg)
			goto out;
	if (nckpt == MAX_CALLBACKS) {
		errno = ENOSPC;
		r = -1;
		goto out;
	}
	ckpt_cbs[nckpt].fn = fn;
	ckpt_cbs[nckpt].arg = arg;
	nckpt++;
out:
	pthread_mutex_unlock(&cb_lock);
	return r;
}

CRS_EXPORT int crshim_impl_on_restore(void (*fn)(int restored, void *arg), void *arg)
{
	int r = 0;

	if (!crs_active(CRS_HOOK_ALL)) {
		errno = ENOSYS;
		return -1;
	}
	if (!fn) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&cb_lock);
	for (int i = 0; i < nrst; i++)
		if (rst_cbs[i].fn == fn && rst_cbs[i].arg == arg)
			goto out;
	if (nrst == MAX_CALLBACKS) {
		errno = ENOSPC;
		r = -1;
		goto out;
	}
	rst_cbs[nrst].fn = fn;
	rst_cbs[nrst].arg = arg;
	nrst++;
out:
	pthread_mutex_unlock(&cb_lock);
	return r;
}

/* The callbacks are copied out: one may register another while running. */
static void run_ckpt_callbacks(void)
{
	struct ckpt_cb v[MAX_CALLBACKS];
	int n, g, saved = errno;

	pthread_mutex_lock(&cb_lock);
	n = nckpt;
	for (int i = 0; i < n; i++)
		v[i] = ckpt_cbs[i];
	pthread_mutex_unlock(&cb_lock);
	/* Leave the guard (the control thread lives inside it). */
	g = crs_guard_enter();
	crs_guard_leave();
	for (int i = 0; i < n; i++)
		v[i].fn(v[i].arg);
	if (!g)
		crs_guard_enter();
	errno = saved;
}

static void run_rst_callbacks(int restored)
{
	struct rst_cb v[MAX_CALLBACKS];
	int n, g, saved = errno;

	pthread_mutex_lock(&cb_lock);
	n = nrst;
	for (int i = 0; i < n; i++)
		v[i] = rst_cbs[i];
	pthread_mutex_unlock(&cb_lock);
	g = crs_guard_enter();
	crs_guard_leave();
	for (int i = 0; i < n; i++)
		v[i].fn(restored, v[i].arg);
	if (!g)
		crs_guard_enter();
	errno = saved;
}

void crs_api_checkpoint_begin(void)
{
	int expected = ST_RUNNING;

	if (!__atomic_compare_exchange_n(&state, &expected, ST_CHECKPOINTING, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	crs_debug("checkpoint: %d callback%s", nckpt, nckpt == 1 ? "" : "s");
	run_ckpt_callbacks();
}

void crs_api_resume(int restored)
{
	int expected = ST_CHECKPOINTING;

	if (__atomic_compare_exchange_n(&state, &expected, ST_RESUMING, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		crs_debug("%s: %d callback%s", restored ? "restored" : "resumed", nrst, nrst == 1 ? "" : "s");
		run_rst_callbacks(restored);
		__atomic_store_n(&state, ST_RUNNING, __ATOMIC_RELEASE);
		return;
	}
	/* Another thread runs them: return once they are done (bounded). */
	for (int i = 0; i < 60000 && __atomic_load_n(&state, __ATOMIC_ACQUIRE) == ST_RESUMING; i++) {
		struct timespec ts = { 0, 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
}

int crs_api_checkpointing(void)
{
	return __atomic_load_n(&state, __ATOMIC_ACQUIRE) != ST_RUNNING;
}
