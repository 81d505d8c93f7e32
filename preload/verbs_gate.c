/*
 * The gate in front of every verbs call on a shadow.  A call adds itself to
 * one of VB_SHARDS counters (its thread's, on its own cache line) and checks
 * that the gate is open; PREPARE closes the gate and waits until every
 * counter is zero, so no call runs while objects are released and rebuilt.
 * Calls arriving meanwhile wait on a futex until the gate opens again.
 *
 * Blocking calls (ibv_get_cq_event, ibv_get_async_event) wait inside the
 * gate with poll() on their fd and on an eventfd that is readable while the
 * gate is closed, so PREPARE never waits for them.
 */
#include "verbs_int.h"

#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct vb_shard vb_shards[VB_SHARDS];
int vb_closed;
__thread int vb_my_shard;
__thread int vb_ctl_depth;
static int wake_fd = -1;
static int next_shard;

int vb_shard_pick(void)
{
	int s = __atomic_fetch_add(&next_shard, 1, __ATOMIC_RELAXED) % VB_SHARDS;

	vb_my_shard = s + 1;
	return s;
}

static void futex_wait(int *addr, int val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(int *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

void vb_gate_wait(int s)
{
	int saved = errno;

	for (;;) {
		__atomic_fetch_sub(&vb_shards[s].n, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&vb_closed, __ATOMIC_SEQ_CST))
			futex_wait(&vb_closed, 1);
		__atomic_fetch_add(&vb_shards[s].n, 1, __ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&vb_closed, __ATOMIC_SEQ_CST))
			break;
	}
	errno = saved;
}

static long shard_sum(void)
{
	long sum = 0;

	for (int i = 0; i < VB_SHARDS; i++)
		sum += __atomic_load_n(&vb_shards[i].n, __ATOMIC_SEQ_CST);
	return sum;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The child of a fork has only the forking thread: no call is inside,
 * no lock is held. */
static void atfork_child(void)
{
	for (int i = 0; i < VB_SHARDS; i++)
		vb_shards[i].n = 0;
	pthread_mutex_init(&vb_lock, NULL);
	vb_arena_atfork_child();
}

static void vb_gate_register_fork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

void vb_gate_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int fd, hi, none = -1;

	if (__atomic_load_n(&wake_fd, __ATOMIC_ACQUIRE) >= 0)
		return;
	pthread_once(&once, vb_gate_register_fork);
	fd = (int)syscall(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return;
	hi = vb_fd_dup(fd); /* out of the program's way */
	if (hi >= 0) {
		vb_fd_close(fd);
		fd = hi;
	}
	if (!__atomic_compare_exchange_n(&wake_fd, &none, fd, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		vb_fd_close(fd); /* another thread was first */
}

static void wake_write(void)
{
	uint64_t one = 1;

	if (wake_fd >= 0 && syscall(SYS_write, wake_fd, &one, sizeof(one)) < 0)
		crs_debug("verbs: cannot signal the gate eventfd");
}

static void wake_clear(void)
{
	uint64_t v;

	if (wake_fd >= 0 && syscall(SYS_read, wake_fd, &v, sizeof(v)) < 0)
		v = 0;
}

int vb_gate_close(int timeout_ms)
{
	double deadline = now_ms() + timeout_ms;

	__atomic_store_n(&vb_closed, 1, __ATOMIC_SEQ_CST);
	wake_write();
	while (shard_sum() > 0) {
		if (now_ms() > deadline) {
			vb_gate_open();
			return -1;
		}
		sched_yield();
	}
	return 0;
}

void vb_gate_open(void)
{
	wake_clear();
	__atomic_store_n(&vb_closed, 0, __ATOMIC_SEQ_CST);
	futex_wake_all(&vb_closed);
}

/*
 * The caller itself may be inside the gate (a hook): its own shard may then
 * keep its own count.  Bounded (2 ms): a thread blocked in ibv_get_cq_event
 * stays inside the gate, and then the caller keeps the old memory for later.
 */
int vb_gate_sync(void)
{
	int own = vb_my_shard - 1, depth = vb_ctl_depth;
	double deadline = 0;

	for (int i = 0; i < VB_SHARDS; i++) {
		long self = (i == own) ? depth : 0;

		while (__atomic_load_n(&vb_shards[i].n, __ATOMIC_SEQ_CST) > self) {
			if (!deadline)
				deadline = now_ms() + 2;
			else if (now_ms() > deadline)
				return -1;
			sched_yield();
		}
	}
	return 0;
}

int vb_wait_fd(int fd)
{
	struct pollfd pf[2] = { { .fd = fd, .events = POLLIN }, { .fd = wake_fd, .events = POLLIN } };

	for (;;) {
		int n;

		if (__atomic_load_n(&vb_closed, __ATOMIC_SEQ_CST))
			return 0;
		n = poll(pf, wake_fd >= 0 ? 2 : 1, wake_fd >= 0 ? -1 : 100);
		if (n < 0)
			return -1;
		if (n > 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			return 1;
		if (n > 0 && (pf[0].revents & POLLNVAL)) {
			errno = EBADF;
			return -1;
		}
	}
}
