/*
 * The control endpoint: a unix socket at RUNDIR/PID.sock served by one
 * thread of the shim (protocol in include/crshim_control.h).
 *
 * Between requests the thread holds only the listening socket and sleeps in
 * accept(), which CRIU can dump and restore.  The thread blocks every
 * signal so the program's signals are never delivered to it.
 */
#include "api_int.h"
#include "jsonw.h"
#include "registry.h"
#include "shim.h"

#include "crshim_control.h"
#include "swap.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Far above the fd numbers programs expect (below a small RLIMIT_NOFILE). */
#define CONTROL_FD_FLOOR 1001

static int high_fd_floor(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < CONTROL_FD_FLOOR + 16)
		return rl.rlim_cur > 24 ? (int)rl.rlim_cur - 8 : 3;
	return CONTROL_FD_FLOOR;
}

/* Move fd above the numbers the program uses; returns the fd to use. */
int crs_move_fd_high(int fd)
{
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, high_fd_floor());

	if (hi < 0)
		return fd;
	/* close(), not the raw system call: a sanitizer runtime (TSan) tracks
	 * fds through it.  The shim's own hook passes it through (the callers
	 * are inside the shim). */
	close(fd);
	return hi;
}

static int listen_fd = -1;
static int wake_fd = -1;	/* wakes the thread out of poll when it must stop */
static pthread_t ctl_tid;
static int ctl_running, stop_requested, restart_pending;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static dev_t sock_dev;
static ino_t sock_ino;
static pid_t owner_pid;
static int phase = CRS_PHASE_RUNNING;
/*
 * While the program's threads are parked (PARK ... UNPARK), the crshim that
 * parked them is watched: if it dies before UNPARK (killed, crashed), the
 * threads are let go instead of waiting forever.  A pidfd when the kernel
 * has them (polled with the listening socket), else its pid, checked every
 * 200 ms.  Parking never spans a CRIU dump, so the pidfd is never dumped.
 */
static int conn_now = -1;	/* connection of the request being served */
static int parker_fd = -1;
static pid_t parker_pid;
static uint64_t prepares, resumes, restores;

int crs_control_phase(void)
{
	return __atomic_load_n(&phase, __ATOMIC_ACQUIRE);
}

/* RUNDIR must be a real directory owned by us and closed to others. */
static int rundir_ok(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		crs_warn("control: cannot create %s: %s", dir, strerror(errno));
		return 0;
	}
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		crs_warn("control: %s is not a directory; no control endpoint", dir);
		return 0;
	}
	if (st.st_uid != getuid() || (st.st_mode & 077)) {
		crs_warn("control: %s must be owned by uid %u with mode 0700; no control endpoint", dir,
			 (unsigned)getuid());
		return 0;
	}
	return 1;
}

static int make_listener(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (!rundir_ok(crs_cfg.rundir))
		return -1;
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%d%s", crs_cfg.rundir, (int)getpid(),
		     CRSHIM_CONTROL_SUFFIX) >= (int)sizeof(sa.sun_path)) {
		crs_warn("control: CRSHIM_RUNDIR too long for a socket path");
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	fd = crs_move_fd_high(fd);
	/* A socket left by an earlier image of this pid (exec, a killed
	 * process whose pid came back): only sockets are removed. */
	if (lstat(sa.sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sa.sun_path, 0600) < 0 ||
	    listen(fd, 16) < 0 || stat(sa.sun_path, &st) < 0) {
		crs_warn("control: cannot listen on %s: %s", sa.sun_path, strerror(errno));
		syscall(SYS_close, fd);
		return -1;
	}
	memcpy(sock_path, sa.sun_path, sizeof(sock_path));
	sock_dev = st.st_dev;
	sock_ino = st.st_ino;
	owner_pid = getpid();
	return fd;
}

static void answer_error(struct crs_jsonw *w, const char *msg)
{
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_bool(w, "ok", 0);
	crs_jsonw_kv_str(w, "error", msg);
	crs_jsonw_obj_end(w);
}

static void answer_record(struct crs_jsonw *w)
{
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_bool(w, "ok", 1);
	crs_jsonw_kv_str(w, "phase", crs_control_phase() == CRS_PHASE_PREPARED ? "prepared" : "running");
	if (crs_report_write(w) < 0)
		crs_jsonw_kv_str(w, "error", "cannot snapshot the registry");
	crs_jsonw_obj_end(w);
}

static void answer_ping(struct crs_jsonw *w)
{
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_bool(w, "ok", 1);
	crs_jsonw_kv_int(w, "pid", getpid());
	crs_jsonw_kv_str(w, "version", CRSHIM_VERSION_STRING);
	crs_jsonw_kv_str(w, "phase", crs_control_phase() == CRS_PHASE_PREPARED ? "prepared" : "running");
	crs_jsonw_kv_uint(w, "prepares", prepares);
	crs_jsonw_kv_uint(w, "resumes", resumes);
	crs_jsonw_kv_uint(w, "restores", restores);
	crs_jsonw_obj_end(w);
}

/* After a restore the pools are new inodes: learn their identity again
 * from the fds we track and from /proc/self/maps. */
struct ident {
	uint64_t dev, ino;
};

static void set_ident(struct crs_object *o, void *arg)
{
	const struct ident *id = arg;

	if (o->kind != CRS_OBJ_SYSV && o->kind != CRS_OBJ_ANON_SHARED) {
		o->dev = id->dev;
		o->ino = id->ino;
	}
}

static void refresh_from_maps(void)
{
	char buf[8192], line[512];
	size_t ll = 0;
	int fd = (int)syscall(SYS_open, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	while ((n = syscall(SYS_read, fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			unsigned long start, end, off, ino;
			unsigned maj, min;
			struct crs_mapping m;

			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = 0;
			ll = 0;
			if (sscanf(line, "%lx-%lx %*4s %lx %x:%x %lu", &start, &end, &off, &maj, &min, &ino) != 6)
				continue;
			if (ino && crs_reg_map_lookup(start, &m) == 0 && m.start == start) {
				struct ident id = { makedev(maj, min), ino };

				crs_reg_object_update(m.obj, set_ident, &id);
			}
		}
	}
	syscall(SYS_close, fd);
}

static void refresh_identities(void)
{
	for (int fd = 0; fd < CRS_MAX_FDS; fd++) {
		uint32_t obj = crs_reg_fd_get(fd);
		struct stat st;

		if (obj != CRS_NO_OBJECT && syscall(SYS_fstat, fd, &st) == 0) {
			struct ident id = { st.st_dev, st.st_ino };

			crs_reg_object_update(obj, set_ident, &id);
		}
	}
	if (crs_reg_has_mappings())
		refresh_from_maps();
}

/* Defaults while the verbs layer is not linked in. */
__attribute__((weak)) int crs_verbs_prepare(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return 0;
}

__attribute__((weak)) int crs_verbs_resume(int restored, char *err, size_t errlen)
{
	(void)restored;
	(void)err;
	(void)errlen;
	return 0;
}

__attribute__((weak)) int crs_verbs_self_check(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return 0;
}

__attribute__((weak)) void crs_verbs_report(struct crs_jsonw *w)
{
	(void)w;
}

__attribute__((weak)) int crs_verbs_request(struct crs_jsonw *w, const char *req, int fd)
{
	(void)w;
	(void)req;
	(void)fd;
	return 0;
}

static void on_ping(struct crs_jsonw *w, const char *arg, int fd)
{
	answer_ping(w);
}

static void on_status(struct crs_jsonw *w, const char *arg, int fd)
{
	answer_record(w);
}

/* Quiesce for a checkpoint (repeated PREPAREs are harmless). */
static void on_prepare(struct crs_jsonw *w, const char *arg, int fd)
{
	char err[256];

	if (crs_control_phase() != CRS_PHASE_PREPARED) {
		/* The program's checkpoint callbacks first: they may still use
		 * what the layers below are about to quiesce. */
		crs_api_checkpoint_begin();
		if (crs_verbs_prepare(err, sizeof(err)) < 0) {
			crs_api_resume(0); /* no dump follows */
			answer_error(w, err);
			return;
		}
		crs_reopen_prepare();
		crs_api_prepare();
	}
	__atomic_store_n(&phase, CRS_PHASE_PREPARED, __ATOMIC_RELEASE);
	crs_preparer_set(conn_now);
	prepares++;
	answer_record(w);
}

/* Back to running after a checkpoint that left the process running (or
 * none happened). */
static void resume_running(void)
{
	char err[256];

	crs_preparer_clear();
	if (crs_control_phase() == CRS_PHASE_PREPARED && crs_verbs_resume(0, err, sizeof(err)) < 0)
		crs_error("resume: %s", err);
	__atomic_store_n(&phase, CRS_PHASE_RUNNING, __ATOMIC_RELEASE);
	crs_api_resume(0); /* the program's restore callbacks, restored = 0 */
	resumes++;
}

static void on_resume(struct crs_jsonw *w, const char *arg, int fd)
{
	resume_running();
	answer_ping(w);
}

static void on_restored(struct crs_jsonw *w, const char *arg, int fd)
{
	char err[256];

	crs_preparer_clear();
	refresh_identities();
	if (crs_reg_sysv_forget_all() > 0)
		crs_info("restore: SysV ids of before the checkpoint are refused from now on (EINVAL)");
	if (crs_verbs_resume(1, err, sizeof(err)) < 0)
		crs_error("restore: %s", err);
	__atomic_store_n(&phase, CRS_PHASE_RUNNING, __ATOMIC_RELEASE);
	crs_api_resume(1); /* the program's restore callbacks, restored = 1 */
	restores++;
	answer_ping(w);
}

static void on_dropped(struct crs_jsonw *w, const char *arg, int fd)
{
	crs_api_note_dropped(arg);
	answer_ping(w);
}

static void unwatch_parker(void)
{
	if (parker_fd >= 0)
		syscall(SYS_close, parker_fd);
	parker_fd = -1;
	parker_pid = 0;
}

static void watch_parker(int conn)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	unwatch_parker();
	if (conn < 0 || getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.pid <= 0)
		return;
	parker_pid = cr.pid;
#ifdef SYS_pidfd_open
	parker_fd = (int)syscall(SYS_pidfd_open, cr.pid, 0);
	if (parker_fd >= 0)
		parker_fd = crs_move_fd_high(parker_fd);
#endif
}

/* The parker is gone (its pidfd is readable, or its pid no longer exists). */
static int parker_gone(const struct pollfd *pf)
{
	if (!parker_pid)
		return 0;
	if (parker_fd >= 0)
		return pf && (pf->revents & (POLLIN | POLLHUP | POLLERR));
	return kill(parker_pid, 0) < 0 && errno == ESRCH;
}

static void on_park(struct crs_jsonw *w, const char *arg, int fd)
{
	answer_park(w);
	if (crs_parked())
		watch_parker(conn_now);
}

static void on_swap(struct crs_jsonw *w, const char *arg, int fd)
{
	answer_swap(w, arg, fd);
}

static void on_unpark(struct crs_jsonw *w, const char *arg, int fd)
{
	answer_unpark(w);
	unwatch_parker();
}

static const struct {
	const char *name;
	int takes_arg;
	void (*fn)(struct crs_jsonw *w, const char *arg, int fd);
} requests[] = {
	{ "PING", 0, on_ping },	      { "STATUS", 0, on_status },     { "PREPARE", 0, on_prepare },
	{ "RESUME", 0, on_resume },   { "RESTORED", 0, on_restored }, { "DROPPED", 1, on_dropped },
	{ "PARK", 0, on_park },	      { "SWAP", 1, on_swap },	      { "UNPARK", 0, on_unpark },
};

/* "NAME" or "NAME ARGS" (for requests that take arguments). */
static void dispatch(struct crs_jsonw *w, const char *req, int fd)
{
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		size_t n = strlen(requests[i].name);

		if (strncmp(req, requests[i].name, n))
			continue;
		if (req[n] == 0 && !requests[i].takes_arg) {
			requests[i].fn(w, "", fd);
			return;
		}
		if (req[n] == ' ' && requests[i].takes_arg) {
			requests[i].fn(w, req + n + 1, fd);
			return;
		}
	}
	if (!strncmp(req, "VERBS_", 6) && crs_verbs_request(w, req, fd))
		return;
	answer_error(w, "unknown request");
}

/* Read the request line; an fd may come with it (SCM_RIGHTS). */
static size_t read_request(int conn, char *req, size_t cap, int *passed_fd)
{
	size_t len = 0;

	*passed_fd = -1;
	while (len < cap - 1) {
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { req + len, cap - 1 - len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;
		ssize_t n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && *passed_fd < 0)
				memcpy(passed_fd, CMSG_DATA(c), sizeof(int));
		len += (size_t)n;
		if (memchr(req, '\n', len))
			break;
	}
	return len;
}

static void handle(int conn)
{
	static struct crs_jsonw w; /* one request at a time: the thread is alone */
	char req[CRSHIM_CONTROL_MAX_REQUEST];
	int passed_fd;
	size_t len = read_request(conn, req, sizeof(req), &passed_fd);

	req[len] = 0;
	req[strcspn(req, "\r\n")] = 0;
	crs_jsonw_init(&w, conn);
	crs_debug("control: request '%s'", req);
	conn_now = conn;
	dispatch(&w, req, passed_fd);
	conn_now = -1;
	crs_jsonw_flush(&w);
	syscall(SYS_write, conn, "\n", 1);
	if (passed_fd >= 0)
		syscall(SYS_close, passed_fd);
}

static int peer_allowed(int conn)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return 0;
	return cr.uid == getuid() || cr.uid == 0;
}

static void *control_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct timeval tv = { .tv_sec = 5 };

	crs_guard_enter(); /* our own calls are never recorded */
	for (;;) {
		struct pollfd pf[3] = { { .fd = fd, .events = POLLIN },
					{ .fd = wake_fd, .events = POLLIN },
					{ .fd = parker_fd, .events = POLLIN } };
		int conn, r;
		pid_t gone;

		/* Wait in poll, not in accept: a blocking accept reserves the
		 * lowest free fd number while it waits, and the program would
		 * get other numbers from open() than without the shim. */
		r = poll(pf, 3, parker_pid && parker_fd < 0 ? 200 : crs_preparer_watched() ? PREPARER_POLL_MS : -1);
		if (crs_control_phase() == CRS_PHASE_PREPARED && crs_preparer_gone(&gone)) {
			crs_warn("control: crshim (pid %d) went away after PREPARE without RESUME; resuming",
				 (int)gone);
			resume_running();
		}
		if (parker_gone(&pf[2])) {
			crs_warn("control: crshim (pid %d) went away while the threads were parked; they go on",
				 (int)parker_pid);
			crs_swap_release();
			unwatch_parker();
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (__atomic_load_n(&stop_requested, __ATOMIC_ACQUIRE))
			return NULL; /* paused: see crs_control_pause */
		if (r == 0)
			continue;
		if (pf[0].revents & POLLNVAL) {
			crs_info("control: endpoint closed by the program; control stops");
			return NULL;
		}
		conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (conn >= 0) {
			conn = crs_move_fd_high(conn);
			fcntl(conn, F_SETFL, fcntl(conn, F_GETFL) & ~O_NONBLOCK);
		}
		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
				continue;
			if (errno == EBADF || errno == ENOTSOCK || errno == EINVAL) {
				/* The program closed our fd (closefrom, daemonising). */
				crs_info("control: endpoint closed by the program; control stops");
				return NULL;
			}
			struct timespec ts = { 0, 100 * 1000 * 1000 };

			nanosleep(&ts, NULL);
			continue;
		}
		if (peer_allowed(conn)) {
			setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			handle(conn);
		} else {
			crs_warn("control: refused a connection from another user");
		}
		syscall(SYS_close, conn);
	}
	return NULL;
}

/* The thread serving listen_fd (which must be open). */
static void spawn_thread(void)
{
	pthread_attr_t attr;
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	__atomic_store_n(&stop_requested, 0, __ATOMIC_RELEASE);
	if (pthread_create(&ctl_tid, &attr, control_thread, (void *)(intptr_t)listen_fd) != 0) {
		crs_warn("control: cannot start the control thread");
	} else {
		pthread_setname_np(ctl_tid, "crshim-ctl");
		ctl_running = 1;
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void start_thread(void)
{
	int fd = make_listener();

	if (fd < 0)
		return;
	listen_fd = fd;
	if (wake_fd < 0)
		wake_fd = crs_move_fd_high(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	spawn_thread();
}

/*
 * Credentials are per thread in Linux; glibc makes every thread repeat a
 * set*id call and aborts the process if one of them fails.  A program that
 * drops privileges in steps on its own thread (prctl(PR_SET_KEEPCAPS),
 * capset, then setresgid/setresuid, as setpriv does) would make the
 * control thread fail them.  So the credential hooks pause the control
 * thread (it exits; the listening socket stays) and the next hooked call
 * after them starts it again, with the program's new credentials.
 */
void crs_control_pause(void)
{
	uint64_t one = 1;

	if (!ctl_running || pthread_equal(pthread_self(), ctl_tid))
		return;
	__atomic_store_n(&stop_requested, 1, __ATOMIC_RELEASE);
	if (write(wake_fd, &one, sizeof(one)) != sizeof(one))
		return;
	pthread_join(ctl_tid, NULL);
	ctl_running = 0;
	__atomic_store_n(&restart_pending, 1, __ATOMIC_RELEASE);
}

void crs_control_maybe_restart(void)
{
	uint64_t v;

	if (!__atomic_load_n(&restart_pending, __ATOMIC_ACQUIRE) || crs_creds_changing())
		return;
	if (!__atomic_exchange_n(&restart_pending, 0, __ATOMIC_ACQ_REL))
		return;
	if (read(wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		crs_debug("control: wake fd: %s", strerror(errno));
	if (listen_fd >= 0 && !ctl_running)
		spawn_thread();
}

void crs_control_start(void)
{
	int saved = errno, g = crs_guard_enter();

	start_thread();
	if (g)
		crs_guard_leave();
	errno = saved;
}

void crs_control_after_fork_child(void)
{
	int saved = errno, g;

	/* The inherited fd is the parent's endpoint: not ours to serve. */
	if (listen_fd >= 0)
		syscall(SYS_close, listen_fd);
	unwatch_parker();
	listen_fd = -1;
	ctl_running = 0;
	restart_pending = 0;
	__atomic_store_n(&phase, CRS_PHASE_RUNNING, __ATOMIC_RELEASE);
	g = crs_guard_enter();
	start_thread();
	if (g)
		crs_guard_leave();
	errno = saved;
}

void crs_control_stop(void)
{
	struct stat st;

	/* Remove the socket only if it is still the one this process bound. */
	if (owner_pid == getpid() && sock_path[0] && stat(sock_path, &st) == 0 &&
	    st.st_dev == sock_dev && st.st_ino == sock_ino)
		unlink(sock_path);
}
