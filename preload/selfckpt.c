/*
 * crshim_checkpoint_self (include/crshim.h): the process dumps itself
 * through libcriu.
 *
 * libcriu.so.2 is loaded with dlopen on the first call (the shim does not
 * link against it).  CRIU cannot dump a tree it is part of, and libcriu's
 * own way to start it (fork, daemon, exec with our environment) would run
 * the fork handlers and preload the shim into CRIU; so the shim starts
 * `criu swrk FD` itself, detached (two _Fork()s: no fork handlers) with an
 * environment without LD_PRELOAD, and gives libcriu the other end of the
 * socket (CRIU_COMM_FD).  CRIU dumps the caller's tree with
 * --leave-running and answers; in a process restored from these images the
 * same call returns again, with CRIU's "restored" answer.
 *
 * The directory gets crshim's layout (selfckpt_manifest.c) so that
 * `crshim restore -D DIR` restores it.
 *
 * The verbs layer rebuilds alone here, reconnecting QPs to this process's
 * own QPs only; a QP connected to another process is refused before
 * anything is created (EXDEV, crs_verbs_self_check).
 */
#include "api_int.h"
#include "shim.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The part of libcriu's API (criu/criu.h) used here. */
typedef struct criu_opts criu_opts;
#define CRIU_NETWORK_LOCK_NFTABLES 2

static struct {
	int loaded;
	int (*init_opts)(criu_opts **);
	void (*free_opts)(criu_opts *);
	void (*set_service_fd)(criu_opts *, int);
	void (*set_images_dir_fd)(criu_opts *, int);
	void (*set_leave_running)(criu_opts *, bool);
	void (*set_shell_job)(criu_opts *, bool);
	void (*set_tcp_established)(criu_opts *, bool);
	void (*set_ext_unix_sk)(criu_opts *, bool);
	void (*set_file_locks)(criu_opts *, bool);
	void (*set_log_level)(criu_opts *, int);
	int (*set_log_file)(criu_opts *, const char *);
	int (*set_network_lock)(criu_opts *, int);
	int (*add_external)(criu_opts *, const char *);
	int (*dump)(criu_opts *);
} lc;

static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;

static int load_libcriu(void)
{
	static const char *const names[] = { "libcriu.so.2", "libcriu.so" };
	void *h = NULL;

	if (lc.loaded)
		return 0;
	for (size_t i = 0; !h && i < sizeof(names) / sizeof(names[0]); i++)
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		crs_warn("checkpoint_self: cannot load libcriu.so.2: %s", dlerror());
		return -1;
	}
#define SYM(field, name)                                                                                     \
	do {                                                                                                 \
		*(void **)&lc.field = dlsym(h, "criu_local_" name);                                          \
		if (!lc.field)                                                                               \
			goto missing;                                                                        \
	} while (0)
	SYM(init_opts, "init_opts");
	SYM(free_opts, "free_opts");
	SYM(set_service_fd, "set_service_fd");
	SYM(set_images_dir_fd, "set_images_dir_fd");
	SYM(set_leave_running, "set_leave_running");
	SYM(set_shell_job, "set_shell_job");
	SYM(set_tcp_established, "set_tcp_established");
	SYM(set_ext_unix_sk, "set_ext_unix_sk");
	SYM(set_file_locks, "set_file_locks");
	SYM(set_log_level, "set_log_level");
	SYM(set_log_file, "set_log_file");
	SYM(set_network_lock, "set_network_lock");
	SYM(add_external, "add_external");
	SYM(dump, "dump");
#undef SYM
	lc.loaded = 1;
	return 0;
missing:
	crs_warn("checkpoint_self: libcriu lacks a function crshim needs: %s", dlerror());
	dlclose(h);
	return -1;
}

/* DIR (0700, new or empty) with pools/, scratch/, dumps/ and dumps/PID. */
static int make_dirs(const char *dir, char *images, size_t len)
{
	static const char *const subs[] = { "pools", "scratch", "dumps" };
	char sub[PATH_MAX];
	DIR *d;

	if (mkdir(dir, 0700) < 0) {
		struct dirent *de;
		int empty = 1;

		if (errno != EEXIST)
			return -1;
		d = opendir(dir);
		if (!d)
			return -1;
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				empty = 0;
		closedir(d);
		if (!empty) {
			errno = EEXIST;
			return -1;
		}
		if (chmod(dir, 0700) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, subs[i]);
		if (mkdir(sub, 0700) < 0)
			return -1;
	}
	if ((size_t)snprintf(images, len, "%s/dumps/%d", dir, (int)getpid()) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkdir(images, 0700);
}

/* The children of pid (every thread's), appended to c->pids. */
static void add_children(struct crs_self_ckpt *c, pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char file[384], buf[4096];
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "/proc/%d/task/%s/children", (int)pid, de->d_name);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		for (char *p = buf, *end; n > 0 && (buf[n] = 0, *p); p = end) {
			long v = strtol(p, &end, 10);
			pid_t *pv;

			if (end == p)
				break;
			pv = realloc(c->pids, (size_t)(c->npids + 1) * sizeof(*pv));
			if (!pv)
				break;
			c->pids = pv;
			c->pids[c->npids++] = (pid_t)v;
		}
	}
	if (d)
		closedir(d);
}

static int collect_tree(struct crs_self_ckpt *c)
{
	c->pids = malloc(sizeof(*c->pids));
	if (!c->pids)
		return -1;
	c->pids[0] = c->pid;
	c->npids = 1;
	for (int i = 0; i < c->npids && c->npids < 4096; i++)
		add_children(c, c->pids[i]);
	return 0;
}

/* Do any of the tree's processes hold file locks?  (/proc/locks) */
static int tree_has_locks(const struct crs_self_ckpt *c)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f)) {
		int pid;

		if (sscanf(line, "%*d: %*s %*s %*s %d", &pid) != 1)
			continue;
		for (int i = 0; i < c->npids; i++)
			found |= c->pids[i] == pid;
	}
	if (f)
		fclose(f);
	return found;
}

/*
 * `criu swrk FD`, detached from this process (CRIU refuses to dump a tree
 * it is in), without the shim.  Returns our end of the socket, or -1.
 */
static int start_swrk(const char *criu, const char *log_path)
{
	char fdarg[16], *argv[] = { (char *)criu, "swrk", fdarg, NULL };
	char **env = crs_env_without_preload();
	int sk[2], st, subreaper = 0;
	pid_t pid;

	if (!env || socketpair(AF_LOCAL, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk) < 0) {
		free(env);
		return -1;
	}
	/* Our end is dumped with us: far from the program's fd numbers (and
	 * CRIU's end clear of 0-2, which the child replaces). */
	sk[0] = crs_move_fd_high(sk[0]);
	sk[1] = crs_move_fd_high(sk[1]);
	snprintf(fdarg, sizeof(fdarg), "%d", sk[1]);
	/* CRIU must end up outside our tree, not below us as our orphan. */
	prctl(PR_GET_CHILD_SUBREAPER, &subreaper);
	if (subreaper)
		prctl(PR_SET_CHILD_SUBREAPER, 0);
	pid = _Fork();
	if (pid == 0) {
		/* Only system calls from here on (no hooks, no locks). */
		if (_Fork() == 0) {
			int out =
			    (int)syscall(SYS_open, log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			int nul = (int)syscall(SYS_open, "/dev/null", O_RDONLY | O_CLOEXEC);

			setsid();
			if (nul >= 0)
				dup2(nul, 0);
			if (out >= 0) {
				dup2(out, 1);
				dup2(out, 2);
			}
			fcntl(sk[1], F_SETFD, 0);
			execve(criu, argv, env);
			_exit(127);
		}
		_exit(0);
	}
	close(sk[1]);
	free(env);
	if (pid < 0) {
		if (subreaper)
			prctl(PR_SET_CHILD_SUBREAPER, 1);
		close(sk[0]);
		return -1;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (subreaper)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	return sk[0];
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Ask CRIU to dump us; libcriu's answer: 0 dumped, 1 restored, <0 failed.
 * libcriu closes sk once it has the answer. */
static int run_dump(struct crs_self_ckpt *c, int sk, int images_fd)
{
	criu_opts *o = NULL;
	int r;

	if (lc.init_opts(&o) < 0 || !o) {
		close(sk);
		return -ENOMEM;
	}
	lc.set_service_fd(o, sk);
	lc.set_images_dir_fd(o, images_fd);
	lc.set_leave_running(o, true);
	lc.set_shell_job(o, true);
	lc.set_tcp_established(o, true);
	lc.set_network_lock(o, CRIU_NETWORK_LOCK_NFTABLES);
	lc.set_ext_unix_sk(o, true);
	lc.set_file_locks(o, c->file_locks);
	lc.set_log_level(o, 4);
	lc.set_log_file(o, "dump.log");
	for (int i = 0; i < c->noutputs; i++) {
		char key[64];

		crs_self_external_key(c->outputs[i].mnt_id, c->outputs[i].ino, key, sizeof(key));
		lc.add_external(o, key);
	}
	for (int i = 0; i < c->ndiscard; i++) {
		char key[64];

		crs_self_external_key(crs_fd_mnt_id(c->discard[i].fd), c->discard[i].ino, key, sizeof(key));
		lc.add_external(o, key);
	}
	r = lc.dump(o);
	lc.free_opts(o);
	return r;
}

/* What can fail before anything is frozen: CRIU, libcriu, the directory. */
static int setup(struct crs_self_ckpt *c)
{
	if (crs_find_criu(c->criu, sizeof(c->criu)) < 0) {
		errno = ENOENT;
		return -1;
	}
	if (load_libcriu() < 0) {
		errno = ELIBACC;
		return -1;
	}
	return make_dirs(c->dir, c->images, sizeof(c->images));
}

/* After the callbacks: collect, configure, dump.  Returns CRIU's answer
 * (0 dumped, 1 restored), or -1 with errno. */
static int checkpoint(struct crs_self_ckpt *c)
{
	char out[PATH_MAX + 32];
	int sk, images_fd, r;
	double t0;

	if (collect_tree(c) < 0 || crs_self_collect(c) < 0)
		return -1;
	c->file_locks = tree_has_locks(c);
	if (crs_self_write_config(c) < 0)
		return -1;
	/* CRIU finds the images through this fd (libcriu has no path option),
	 * so it is dumped with us: the manifest tells restore to hand it back
	 * on the images' directory wherever the checkpoint is by then. */
	if (!realpath(c->images, c->images_abs))
		return -1;
	images_fd = open(c->images, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (images_fd < 0)
		return -1;
	images_fd = crs_move_fd_high(images_fd);
	c->images_fd = images_fd;
	snprintf(out, sizeof(out), "%s/criu.out", c->images);
	sk = start_swrk(c->criu, out);
	if (sk < 0) {
		close(images_fd);
		return -1;
	}
	t0 = now();
	r = run_dump(c, sk, images_fd);
	c->seconds = now() - t0;
	close(images_fd);
	if (r < 0) {
		crs_warn("checkpoint_self: CRIU failed (%d); see %s/dump.log", r, c->images);
		errno = EIO;
		return -1;
	}
	return r;
}

/* What PREPARE does (control.c), in its order: the program's callbacks,
 * the verbs layer releases the HCA, O_NOFOLLOW fds are reopened, drop-policy
 * files are remembered. */
static int prepare(void)
{
	char err[256];

	crs_api_checkpoint_begin();
	if (crs_verbs_prepare(err, sizeof(err)) < 0) {
		crs_warn("checkpoint_self: %s", err);
		errno = EIO;
		return -1;
	}
	crs_reopen_prepare();
	crs_api_prepare();
	return 0;
}

/* The process continues: the verbs layer rebuilds.  (A restored one is
 * rebuilt on RESTORED, which `crshim restore` sends.) */
static void resume(int restored)
{
	char err[256];

	if (!restored && crs_verbs_resume(0, err, sizeof(err)) < 0)
		crs_error("checkpoint_self: %s", err);
}

/* Refused before anything is created: QPs connected to other processes. */
static int verbs_allow_self(void)
{
	char err[512];

	if (crs_verbs_self_check(err, sizeof(err)) == 0)
		return 0;
	crs_warn("checkpoint_self: %s", err);
	errno = EXDEV;
	return -1;
}

static int busy(void)
{
	return crs_api_checkpointing() || crs_control_phase() == CRS_PHASE_PREPARED;
}

CRS_EXPORT int crshim_impl_checkpoint_self(const char *dir, int flags)
{
	struct crs_self_ckpt *c;
	int g, r, saved;

	if (!crs_active(CRS_HOOK_ALL)) {
		errno = ENOSYS;
		return -1;
	}
	if (!dir || !dir[0] || flags) {
		errno = EINVAL;
		return -1;
	}
	if (pthread_mutex_trylock(&self_lock) != 0) {
		errno = EBUSY;
		return -1;
	}
	c = busy() ? NULL : calloc(1, sizeof(*c));
	if (!c) {
		saved = busy() ? EBUSY : ENOMEM;
		pthread_mutex_unlock(&self_lock);
		errno = saved;
		return -1;
	}
	c->dir = dir;
	c->pid = getpid();
	g = crs_guard_enter();
	r = verbs_allow_self() < 0 ? -1 : setup(c);
	if (g)
		crs_guard_leave();
	if (r == 0 && getsid(0) == 0) {
		/* The session leader lives in an outer pid namespace: CRIU refuses
		 * the dump ("A session leader ... is outside of its pid namespace"). */
		crs_warn("checkpoint_self: the session leader is outside this pid namespace; "
			 "CRIU cannot dump this process (start it with setsid)");
		errno = ESRCH;
		r = -1;
	}
	if (r == 0 && prepare() < 0) {
		r = -1;
	} else if (r == 0) {
		g = crs_guard_enter();
		r = checkpoint(c);
		if (r == 0 && crs_self_write_manifest(c) < 0)
			r = -1;
		if (g)
			crs_guard_leave();
		resume(r == 1);
	}
	saved = errno;
	free(c->pids);
	free(c);
	pthread_mutex_unlock(&self_lock);
	if (r == 1)
		crs_info("checkpoint_self: restored from %s", dir);
	if (crs_api_checkpointing())
		crs_api_resume(r == 1);
	errno = saved;
	return r;
}
