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

/* One list per kind; fn is stored as void (*)(void) and called through its
 * real type (checkpoint: fn(arg), restore: fn(restored, arg)). */
struct cb {
	void (*fn)(void);
	void *arg;
};

struct cb_list {
	struct cb v[MAX_CALLBACKS];
	int n;
};

static struct cb_list ckpt_cbs, rst_cbs;
static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static int state = ST_RUNNING;

/* Register fn(arg) once in list; 0, or -1 with errno. */
static int add_callback(struct cb_list *list, void (*fn)(void), void *arg)
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
	for (int i = 0; i < list->n; i++)
		if (list->v[i].fn == fn && list->v[i].arg == arg)
			goto out;
	if (list->n == MAX_CALLBACKS) {
		errno = ENOSPC;
		r = -1;
		goto out;
	}
	list->v[list->n].fn = fn;
	list->v[list->n].arg = arg;
	list->n++;
out:
	pthread_mutex_unlock(&cb_lock);
	return r;
}

CRS_EXPORT int crshim_impl_on_checkpoint(void (*fn)(void *arg), void *arg)
{
	return add_callback(&ckpt_cbs, (void (*)(void))fn, arg);
}

CRS_EXPORT int crshim_impl_on_restore(void (*fn)(int restored, void *arg), void *arg)
{
	return add_callback(&rst_cbs, (void (*)(void))fn, arg);
}

/*
 * The callbacks are copied out (one may register another while running)
 * and run outside the guard (the control thread lives inside it), so what
 * they do is recorded like any program call.  restored < 0: checkpoint
 * callbacks; otherwise restore callbacks with that value.
 */
static void run_callbacks(struct cb_list *list, int restored)
{
	struct cb_list copy;
	int g, saved = errno;

	pthread_mutex_lock(&cb_lock);
	copy = *list;
	pthread_mutex_unlock(&cb_lock);
	g = crs_guard_enter();
	crs_guard_leave();
	for (int i = 0; i < copy.n; i++) {
		if (restored < 0)
			((void (*)(void *))copy.v[i].fn)(copy.v[i].arg);
		else
			((void (*)(int, void *))copy.v[i].fn)(restored, copy.v[i].arg);
	}
	if (!g)
		crs_guard_enter();
	errno = saved;
}

static void run_ckpt_callbacks(void)
{
	run_callbacks(&ckpt_cbs, -1);
}

static void run_rst_callbacks(int restored)
{
	run_callbacks(&rst_cbs, restored);
}

void crs_api_checkpoint_begin(void)
{
	int expected = ST_RUNNING;

	if (!__atomic_compare_exchange_n(&state, &expected, ST_CHECKPOINTING, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	crs_debug("checkpoint: %d callback%s", ckpt_cbs.n, ckpt_cbs.n == 1 ? "" : "s");
	run_ckpt_callbacks();
}

void crs_api_resume(int restored)
{
	int expected = ST_CHECKPOINTING;

	if (__atomic_compare_exchange_n(&state, &expected, ST_RESUMING, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		crs_debug("%s: %d callback%s", restored ? "restored" : "resumed", rst_cbs.n, rst_cbs.n == 1 ? "" : "s");
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
