/*
 * crshim dump -D DIR [--tree] [--leave-running] PID...
 *
 * 1. collect the processes (each PID, or each PID's tree with --tree);
 * 2. PREPARE every shim (quiesce; answers its process record);
 * 3. find the pools from /proc plus the records; write one CRIU
 *    configuration per CRIU run (external file[...] for every pool);
 * 4. start all CRIU runs at once; each stops at its post-dump action
 *    script with its tasks frozen; when all arrived every process is frozen:
 *    save each pool once, then let them finish (or fail them all);
 * 5. write the manifest last (atomically); RESUME the shims of processes
 *    that keep running (--leave-running, or after any failure).
 */
#include "commands.h"
#include "control_client.h"
#include "consistency.h"
#include "convert.h"
#include "coord.h"
#include "fifos.h"
#include "outputs.h"
#include "tcp_ports.h"
#include "freeze_watch.h"
#include "criu_run.h"
#include "dump_util.h"
#include "manifest.h"
#include "paths.h"
#include "pools.h"
#include "proc.h"
#include "ptree.h"
#include "scratch.h"
#include "stdio_inherit.h"
#include "verbs_exchange.h"

#include "build_config.h"
#include "crshim_manifest.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct dump_ctx {
	const char *dir;
	char criu[PATH_MAX];
	int tree, leave_running, timeout_s, allow_partial;
	struct dproc *procs;
	int nprocs;
	struct drun *runs;
	int nruns;
	struct pool_set pools;
	struct scratch_set scratch;
	json_t *fifos;		/* named FIFOs held, read before CRIU runs */
	json_t *outputs;	/* files appended to (outputs.h) */
	json_t *tcp_ports;	/* ports the processes listen on */
	json_t *stdio;		/* {"PID": fds 0-2}, read before CRIU runs */
	json_t *threads;	/* {"PID": [TID...]}, read while frozen */
	double pools_seconds;
	int verbs_quiesced;	/* verbs_quiesce() succeeded */
};

/*
 * CRSHIM_DUMP_TIMING=1: one line per phase on stderr (seconds since the
 * start, and since the previous line), to see where a dump's time goes.
 * The pool copier thread reports too: the last time is kept atomically.
 */
static double timing_t0;
static long long timing_last_us;
static int timing_on = -1;

static void phase(const char *name)
{
	double t = dump_now();
	long long us = (long long)(t * 1e6), prev;

	if (timing_on < 0) {
		const char *e = getenv("CRSHIM_DUMP_TIMING");

		timing_on = e && *e && strcmp(e, "0");
		timing_t0 = t;
		__atomic_store_n(&timing_last_us, us, __ATOMIC_RELAXED);
	}
	if (!timing_on)
		return;
	prev = __atomic_exchange_n(&timing_last_us, us, __ATOMIC_RELAXED);
	fprintf(stderr, "crshim dump: timing %7.3f s (+%6.3f) %s\n", t - timing_t0, (double)(us - prev) / 1e6,
		name);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: crshim [-v] dump -D DIR [--tree] [--leave-running] [--timeout SEC] [--allow-partial] PID...\n"
		   "  without --tree each PID is one process (it must have no children)\n"
		   "  with --tree each PID is the root of a tree dumped in one CRIU run\n"
		   "  --allow-partial  dump even when a process talks TCP to another host\n"
		   "  CRSHIM_DUMP_TIMING=1 in the environment: the time of each phase on stderr\n");
}

static int add_proc(struct dump_ctx *c, pid_t pid, int run)
{
	struct dproc *v;

	for (int i = 0; i < c->nprocs; i++)
		if (c->procs[i].pid == pid) {
			fprintf(stderr, "crshim dump: pid %d is listed twice (or inside another listed tree)\n",
				(int)pid);
			return -1;
		}
	v = realloc(c->procs, (size_t)(c->nprocs + 1) * sizeof(*v));
	if (!v)
		return -1;
	c->procs = v;
	memset(&v[c->nprocs], 0, sizeof(*v));
	v[c->nprocs].pid = pid;
	v[c->nprocs].dump = run;
	c->nprocs++;
	return 0;
}

static int collect(struct dump_ctx *c, char **args, int nargs)
{
	c->runs = calloc((size_t)nargs, sizeof(*c->runs));
	if (!c->runs)
		return -1;
	for (int i = 0; i < nargs; i++) {
		char *end;
		long v = strtol(args[i], &end, 10);
		pid_t *tree = NULL;
		int n = 0;

		if (*end || v <= 0) {
			fprintf(stderr, "crshim dump: '%s' is not a pid\n", args[i]);
			return -1;
		}
		if (kill((pid_t)v, 0) < 0 && errno == ESRCH) {
			fprintf(stderr, "crshim dump: pid %ld: no such process\n", v);
			return -1;
		}
		if (ptree_is_zombie((pid_t)v)) {
			fprintf(stderr, "crshim dump: pid %ld has exited (zombie)\n", v);
			return -1;
		}
		if (!c->tree && ptree_nchildren((pid_t)v) > 0) {
			fprintf(stderr,
				"crshim dump: pid %ld has children; CRIU always dumps a process with its children: use --tree\n",
				v);
			return -1;
		}
		c->runs[i].root = (pid_t)v;
		c->runs[i].hook_fd = -1;
		snprintf(c->runs[i].images, sizeof(c->runs[i].images), "%s/dumps/%ld", c->dir, v);
		if (c->tree)
			ptree_collect((pid_t)v, &tree, &n);
		else if (ptree_collect((pid_t)v, &tree, &n) == 0)
			n = 1;
		for (int k = 0; k < n; k++) {
			if (ptree_session_outside(tree[k])) {
				fprintf(stderr,
					"crshim dump: pid %d: its session leader is outside its pid namespace, and CRIU "
					"refuses that; start the job in its own session (setsid)\n",
					(int)tree[k]);
				free(tree);
				return -1;
			}
			if (add_proc(c, tree[k], i) < 0) {
				free(tree);
				return -1;
			}
		}
		free(tree);
		c->nruns++;
	}
	return 0;
}

/* RDMA: stop every process's verbs work together before any PREPARE, so
 * no QP loses its peer while messages are in flight. */
static int quiesce_verbs(struct dump_ctx *c)
{
	pid_t *pids = calloc((size_t)c->nprocs + 1, sizeof(pid_t));
	char err[1024];

	if (!pids)
		return -1;
	for (int i = 0; i < c->nprocs; i++)
		pids[i] = c->procs[i].pid;
	if (verbs_quiesce(pids, c->nprocs, err, sizeof(err)) < 0) {
		fprintf(stderr, "crshim dump: %s\n", err);
		free(pids);
		return -1;
	}
	free(pids);
	c->verbs_quiesced = 1;
	return 0;
}

/* Processes that keep running rebuild their verbs resources together. */
static void resume_verbs(struct dump_ctx *c)
{
	pid_t *pids = calloc((size_t)c->nprocs + 1, sizeof(pid_t));
	char err[1024];

	if (!pids || !c->verbs_quiesced) {
		free(pids);
		return;
	}
	for (int i = 0; i < c->nprocs; i++)
		pids[i] = c->procs[i].pid;
	if (verbs_exchange(pids, c->nprocs, 0, err, sizeof(err)) < 0)
		fprintf(stderr, "crshim dump: %s\n", err);
	free(pids);
}

static int is_root(const struct dump_ctx *c, pid_t pid)
{
	for (int r = 0; r < c->nruns; r++)
		if (c->runs[r].root == pid)
			return 1;
	return 0;
}

/* A process of a --tree run (not a root) that ended since it was collected:
 * CRIU will not see it either, it is left out. */
static int vanished(const struct dump_ctx *c, pid_t pid)
{
	return !is_root(c, pid) && (!proc_exists(pid) || ptree_is_zombie(pid));
}

static void drop_proc(struct dump_ctx *c, int i)
{
	if (crshim_verbose)
		fprintf(stderr, "crshim dump: pid %d ended before the dump; left out\n", (int)c->procs[i].pid);
	json_decref(c->procs[i].record);
	memmove(&c->procs[i], &c->procs[i + 1], (size_t)(c->nprocs - i - 1) * sizeof(*c->procs));
	c->nprocs--;
}

static void drop_vanished(struct dump_ctx *c)
{
	for (int i = 0; i < c->nprocs; i++)
		if (vanished(c, c->procs[i].pid))
			drop_proc(c, i--);
}

/* PREPARE every process that has a shim.  A process without an endpoint is
 * dumped as CRIU alone would (said once). */
static int prepare_all(struct dump_ctx *c)
{
	for (int i = 0; i < c->nprocs; i++) {
		struct dproc *p = &c->procs[i];
		char err[512];
		enum ctl_error e = ctl_request(p->pid, "PREPARE", 10000, &p->record, err, sizeof(err));

		if (e == CTL_OK) {
			p->shim = p->prepared = 1;
			continue;
		}
		if (vanished(c, p->pid)) {
			drop_proc(c, i--);
			continue;
		}
		if (e == CTL_NO_SHIM) {
			/* restore leaves it stopped (cmd_restore.c: resume_dump) */
			p->stopped = ptree_is_stopped(p->pid);
			if (crshim_verbose)
				fprintf(stderr, "crshim dump: pid %d runs without the shim\n", (int)p->pid);
			continue;
		}
		/* No answer (a stopped process): its PREPARE waits in its socket and
		 * will be served when it runs again; a RESUME is queued after it. */
		if (e == CTL_UNREACHABLE)
			p->prepared = p->unanswered = 1;
		fprintf(stderr, "crshim dump: cannot prepare %s\n", err);
		return -1;
	}
	return 0;
}

/* After segments were moved the records are stale: ask again. */
static void refresh_records(struct dump_ctx *c)
{
	for (int i = 0; i < c->nprocs; i++) {
		struct dproc *p = &c->procs[i];
		json_t *rec = NULL;
		char err[512];

		if (!p->shim || ctl_request(p->pid, "STATUS", 10000, &rec, err, sizeof(err)) != CTL_OK)
			continue;
		json_object_set_new(rec, "phase", json_string("prepared"));
		json_decref(p->record);
		p->record = rec;
	}
}

static void resume_all(struct dump_ctx *c)
{
	for (int i = 0; i < c->nprocs; i++) {
		struct dproc *p = &c->procs[i];
		json_t *ans = NULL;
		char err[512];

		if (!p->prepared)
			continue;
		if (p->unanswered) {
			/* Queued behind its PREPARE; no need to wait for the answer. */
			if (ctl_request(p->pid, "RESUME", 500, &ans, err, sizeof(err)) != CTL_OK)
				fprintf(stderr, "crshim dump: pid %d does not answer; it leaves the prepared state when it "
						"runs again\n", (int)p->pid);
		} else if (ctl_request(p->pid, "RESUME", 10000, &ans, err, sizeof(err)) != CTL_OK) {
			fprintf(stderr, "crshim dump: cannot resume %s\n", err);
		}
		json_decref(ans);
		p->prepared = 0;
	}
}

static json_t **records_of(struct dump_ctx *c, pid_t **pids)
{
	size_t n = c->nprocs > 0 ? (size_t)c->nprocs : 1;
	json_t **r = calloc(n, sizeof(*r));

	*pids = calloc(n, sizeof(pid_t));
	for (int i = 0; r && *pids && i < c->nprocs; i++) {
		r[i] = c->procs[i].record;
		(*pids)[i] = c->procs[i].pid;
	}
	return r;
}

/*
 * memfds are dumped by CRIU itself (it ignores external file[] for them):
 * one CRIU run keeps them shared, separate runs would each restore a copy.
 * Keep them out of the pool list, and refuse what would break.
 */
static int take_out_memfds(struct dump_ctx *c)
{
	int out = 0;

	for (int i = 0; i < c->pools.n; i++) {
		struct pool *p = &c->pools.v[i];
		int run = -1, split = 0;

		if (strcmp(p->kind, "memfd")) {
			c->pools.v[out++] = *p;
			continue;
		}
		for (int k = 0; k < c->nprocs; k++)
			if (pool_held_by(p, c->procs[k].pid)) {
				if (run >= 0 && run != c->procs[k].dump)
					split = 1;
				run = c->procs[k].dump;
			}
		if (split) {
			fprintf(stderr,
				"crshim dump: %s is shared by processes dumped in separate CRIU runs; CRIU saves memfds "
				"itself, one copy per run, and the sharing would break: dump them with --tree under a "
				"common parent\n",
				p->path);
			json_decref(p->holders);
			for (int k = i + 1; k < c->pools.n; k++)
				c->pools.v[out++] = c->pools.v[k];
			c->pools.n = out;
			return -1;
		}
		json_decref(p->holders);
	}
	c->pools.n = out;
	for (int i = 0; i < c->pools.n; i++)
		snprintf(c->pools.v[i].id, sizeof(c->pools.v[i].id), "pool-%d", i);
	return 0;
}

/* A scratch file follows its policy, not the pool rules. */
static void drop_scratch_from_pools(struct dump_ctx *c)
{
	int out = 0;

	for (int i = 0; i < c->pools.n; i++) {
		if (scratch_has(&c->scratch, c->pools.v[i].dev, c->pools.v[i].ino)) {
			json_decref(c->pools.v[i].holders);
			continue;
		}
		c->pools.v[out++] = c->pools.v[i];
	}
	c->pools.n = out;
}

/* Outputs are what is neither a pool nor a scratch file. */
static int pool_or_scratch(uint64_t dev, uint64_t ino, void *arg)
{
	struct dump_ctx *c = arg;

	for (int i = 0; i < c->pools.n; i++)
		if (c->pools.v[i].dev == dev && c->pools.v[i].ino == ino)
			return 1;
	return scratch_has(&c->scratch, dev, ino);
}

static int write_configs(struct dump_ctx *c)
{
	char hook[PATH_MAX + 16], exe[PATH_MAX], err[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *text;

	if (n <= 0)
		return -1;
	exe[n] = 0;
	snprintf(hook, sizeof(hook), "%s/hook.sh", c->dir);
	if (asprintf(&text, "#!/bin/sh\n# CRIU action script written by crshim: joins crshim's freeze barrier\n"
			    "exec '%s' __hook \"$@\"\n", exe) < 0)
		return -1;
	if (write_file_atomic(hook, text, err, sizeof(err)) < 0 || chmod(hook, 0700) < 0) {
		fprintf(stderr, "crshim dump: %s\n", err);
		free(text);
		return -1;
	}
	free(text);
	for (int r = 0; r < c->nruns; r++) {
		struct drun *run = &c->runs[r];
		char conf[PATH_MAX + 16];

		if (mkdir(run->images, 0700) < 0) {
			fprintf(stderr, "crshim dump: cannot create %s: %s\n", run->images, strerror(errno));
			return -1;
		}
		snprintf(conf, sizeof(conf), "%s/criu.conf", run->images);
		if (dump_write_criu_config(conf, c->procs, c->nprocs, r, &c->pools, &c->scratch, c->outputs, hook,
					   c->leave_running, err, sizeof(err)) < 0) {
			fprintf(stderr, "crshim dump: %s\n", err);
			return -1;
		}
	}
	return 0;
}

static int start_criu(struct dump_ctx *c, const char *coord)
{
	for (int r = 0; r < c->nruns; r++) {
		struct drun *run = &c->runs[r];
		char conf[PATH_MAX + 16], tree[32], out[PATH_MAX + 16], env1[128], env2[64];
		char *argv[] = { "criu", "dump", "--config", conf, "-t", tree, "-D", run->images, NULL };
		char *env[] = { env1, env2, NULL };

		snprintf(conf, sizeof(conf), "%s/criu.conf", run->images);
		snprintf(tree, sizeof(tree), "%d", (int)run->root);
		snprintf(out, sizeof(out), "%s/criu.out", run->images);
		snprintf(env1, sizeof(env1), "CRSHIM_COORD=%s", coord);
		snprintf(env2, sizeof(env2), "CRSHIM_COORD_ID=%d", (int)run->root);
		if (crshim_verbose)
			criu_print_cmdline(stdout, c->criu, argv);
		run->seconds = dump_now();
		run->criu = criu_spawn(c->criu, argv, env, out, -1, NULL, 0);
		if (run->criu < 0) {
			fprintf(stderr, "crshim dump: cannot start CRIU: %s\n", strerror(errno));
			run->criu = 0;
			run->status = 127;
		}
	}
	return 0;
}

static int save_pools(struct dump_ctx *c)
{
	double t0 = dump_now();
	pid_t *pids = calloc((size_t)c->nprocs + 1, sizeof(pid_t));

	/* Discovery ran while the processes ran: who holds what now. */
	for (int i = 0; pids && i < c->nprocs; i++)
		pids[i] = c->procs[i].pid;
	if (pids && pools_recheck(&c->pools, pids, c->nprocs, stderr) < 0)
		fprintf(stderr, "crshim dump: note: cannot read /proc of every frozen process; the pools are saved "
				"as found before the freeze\n");
	free(pids);
	phase("pools rechecked in /proc");

	for (int i = 0; i < c->pools.n; i++) {
		char err[512];

		if (pool_save(&c->pools.v[i], c->dir, err, sizeof(err)) < 0) {
			fprintf(stderr, "crshim dump: %s\n", err);
			return -1;
		}
	}
	for (int i = 0; i < c->scratch.n; i++) {
		char err[512];

		if (scratch_save(&c->scratch.v[i], c->dir, err, sizeof(err)) < 0) {
			fprintf(stderr, "crshim dump: %s\n", err);
			return -1;
		}
	}
	c->pools_seconds = dump_now() - t0;
	phase("pools and scratch files saved");
	return 0;
}

static void *save_pools_thread(void *arg)
{
	struct dump_ctx *c = arg;

	return (void *)(intptr_t)(save_pools(c) == 0);
}

/* Start saving the pools as soon as every dumped thread is frozen. */
static void maybe_start_copy(struct dump_ctx *c, struct freeze_watch *fw, pthread_t *th, int *started)
{
	pid_t tracers[64];
	int n = 0;

	for (int r = 0; r < c->nruns && n < 64; r++)
		if (c->runs[r].criu)
			tracers[n++] = c->runs[r].criu;
	if (n == c->nruns && freeze_watch_all_frozen(fw, tracers, n) &&
	    pthread_create(th, NULL, save_pools_thread, c) == 0) {
		phase("every thread frozen: pool copy started");
		*started = 1;
	}
}

/* The thread ids of every process, while CRIU holds them all: restore
 * needs them free too (it recreates threads with their ids). */
static void collect_threads(struct dump_ctx *c)
{
	for (int i = 0; i < c->nprocs; i++) {
		json_t *tids = json_array();
		char path[64], key[16];
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)c->procs[i].pid);
		d = opendir(path);
		while (d && (de = readdir(d))) {
			int tid = atoi(de->d_name);

			if (tid > 0 && tid != (int)c->procs[i].pid)
				json_array_append_new(tids, json_integer(tid));
		}
		if (d)
			closedir(d);
		snprintf(key, sizeof(key), "%d", (int)c->procs[i].pid);
		json_object_set_new(c->threads, key, tids);
	}
}

/* pidfds of the running CRIU processes, readable once they exit; 0 if
 * one of them has none (pidfd_open needs Linux 5.3). */
static int exit_fds(struct dump_ctx *c, struct pollfd *pf, int max)
{
	int n = 0;

	for (int r = 0; r < c->nruns; r++) {
		struct drun *run = &c->runs[r];

		if (!run->criu)
			continue;
		if (run->pidfd < 0 || n >= max)
			return 0;
		pf[n].fd = run->pidfd;
		pf[n++].events = POLLIN;
	}
	return n;
}

static void open_exit_fds(struct dump_ctx *c)
{
	for (int r = 0; r < c->nruns; r++) {
		c->runs[r].pidfd = -1;
#ifdef SYS_pidfd_open
		if (c->runs[r].criu)
			c->runs[r].pidfd = (int)syscall(SYS_pidfd_open, c->runs[r].criu, 0);
#endif
	}
}

/*
 * Wait for every CRIU run to reach its post-dump barrier (or fail).  The
 * pools are saved while all dumped threads are frozen: from the moment
 * CRIU froze the last of them (in parallel with CRIU writing its images),
 * or at the barrier at the latest.  Then the hooks are answered (ok, or
 * fail so that CRIU resumes its tasks) and the runs reaped.
 */
static int run_barrier(struct dump_ctx *c, int lfd)
{
	double deadline = dump_now() + c->timeout_s;
	int arrived = 0, failed = 0, answered = 0, running = c->nruns, copying = 0;
	struct freeze_watch fw;
	pthread_t copier;

	open_exit_fds(c);
	if (freeze_watch_init(&fw, c->procs, c->nprocs) < 0)
		failed = 1;
	for (int r = 0; r < c->nruns; r++)
		if (!c->runs[r].criu) {
			failed = 1;
			running--;
		}
	while (running > 0) {
		struct pollfd pf[65] = { { .fd = lfd, .events = POLLIN } };
		int npf = 1 + exit_fds(c, pf + 1, 64);

		/* 2 ms while watching the freeze (no event tells); then woken by
		 * a hook or a CRIU exit, with the deadline checked now and then
		 * (and every 20 ms when a CRIU exit cannot be waited for). */
		if (poll(pf, (nfds_t)npf, !copying && !answered && !failed ? 2 : npf > running ? 200 : 20) > 0 &&
		    (pf[0].revents & POLLIN)) {
			char action[64];
			long id;
			int fd = coord_accept(lfd, action, sizeof(action), &id);

			for (int r = 0; fd >= 0 && r < c->nruns; r++)
				if (c->runs[r].root == id && c->runs[r].hook_fd < 0) {
					c->runs[r].hook_fd = fd;
					c->runs[r].arrived = 1;
					phase("a CRIU run reached post-dump");
					arrived++;
					fd = -1;
				}
			if (fd >= 0)
				coord_answer(fd, 0);
		}
		if (!failed && !copying && !answered)
			maybe_start_copy(c, &fw, &copier, &copying);
		for (int r = 0; r < c->nruns; r++) {
			struct drun *run = &c->runs[r];
			int st;

			if (!run->criu || waitpid(run->criu, &st, WNOHANG) != run->criu)
				continue;
			run->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			run->seconds = dump_now() - run->seconds;
			phase("a CRIU run exited");
			if (run->status != 0) {
				char log[PATH_MAX + 16];

				criu_reap_group(run->criu);
				snprintf(log, sizeof(log), "%s/dump.log", run->images);
				criu_network_unlock(log);
			}
			run->criu = 0;
			if (run->pidfd >= 0)
				close(run->pidfd);
			run->pidfd = -1;
			running--;
			if (run->status != 0 || !run->arrived)
				failed = 1;
		}
		if (!failed && dump_now() > deadline) {
			fprintf(stderr, "crshim dump: CRIU did not reach the freeze point within %d s\n", c->timeout_s);
			failed = 1;
		}
		if (!answered && (failed || arrived == c->nruns)) {
			int ok;

			if (!failed)
				collect_threads(c);

			if (copying) {
				void *res = NULL;

				pthread_join(copier, &res);
				phase("pool copy joined");
				copying = 0;
				ok = !failed && res;
			} else {
				ok = !failed && save_pools(c) == 0;
			}
			if (!ok)
				failed = 1;
			for (int r = 0; r < c->nruns; r++)
				if (c->runs[r].hook_fd >= 0) {
					coord_answer(c->runs[r].hook_fd, ok);
					c->runs[r].hook_fd = -1;
				}
			answered = 1;
			phase("hooks answered");
		}
	}
	if (copying)
		pthread_join(copier, NULL);
	freeze_watch_free(&fw);
	return failed ? -1 : 0;
}

static void report_failure(struct dump_ctx *c)
{
	for (int r = 0; r < c->nruns; r++) {
		char log[PATH_MAX + 16];

		if (c->runs[r].status == 0)
			continue;
		snprintf(log, sizeof(log), "%s/dump.log", c->runs[r].images);
		fprintf(stderr, "crshim dump: CRIU failed for pid %d (exit %d); from %s:\n", (int)c->runs[r].root,
			c->runs[r].status, log);
		criu_log_excerpt(stderr, log, crshim_verbose ? 40 : 8);
	}
}

/* The ports listened on, from the processes that may hold TCP sockets
 * only: /proc/PID/net/tcp is slow to read. */
static json_t *listen_ports(struct dump_ctx *c)
{
	struct dproc *some = calloc((size_t)c->nprocs + 1, sizeof(*some));
	json_t *ports;
	int n = 0;

	if (!some)
		return tcp_listen_ports(c->procs, c->nprocs);
	for (int i = 0; i < c->nprocs; i++)
		if (c->procs[i].may_tcp)
			some[n++] = c->procs[i];
	ports = n ? tcp_listen_ports(some, n) : json_array();
	free(some);
	return ports;
}

/* fds 0-2 of every process while it still runs (restore --child
 * reattaches them, stdio_inherit.h). */
static json_t *collect_stdio(struct dump_ctx *c)
{
	json_t *all = json_object();

	for (int i = 0; i < c->nprocs; i++) {
		char key[16];

		snprintf(key, sizeof(key), "%d", (int)c->procs[i].pid);
		json_object_set_new(all, key, stdio_collect(c->procs[i].pid));
	}
	return all;
}

/* processes[].NAME = per_pid["PID"], where there is one. */
static void add_per_process(json_t *m, const char *name, json_t *per_pid)
{
	size_t i;
	json_t *p, *v;

	json_array_foreach(json_object_get(m, "processes"), i, p) {
		char key[16];

		snprintf(key, sizeof(key), "%d", (int)json_integer_value(json_object_get(p, "pid")));
		if ((v = json_object_get(per_pid, key)))
			json_object_set(p, name, v);
	}
}

static int finish_manifest(struct dump_ctx *c)
{
	char err[512];
	json_t *m = dump_build_manifest(c->dir, c->criu, c->tree, c->leave_running, c->procs, c->nprocs,
					c->runs, c->nruns, &c->pools, &c->scratch, c->fifos, c->outputs);
	int r;

	if (!m)
		return -1;
	json_object_set(m, "tcp_listen_ports", c->tcp_ports);
	add_per_process(m, "stdio", c->stdio);
	add_per_process(m, "threads", c->threads);
	r = manifest_write(c->dir, m, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "crshim dump: %s\n", err);
	json_decref(m);
	return r;
}

static void print_summary(struct dump_ctx *c)
{
	uint64_t pool_bytes = 0, pool_alloc = 0;

	for (int i = 0; i < c->pools.n; i++) {
		pool_bytes += c->pools.v[i].size;
		pool_alloc += c->pools.v[i].data_bytes;
	}
	for (int r = 0; r < c->nruns; r++) {
		int nproc = 0, npools = 0;

		for (int i = 0; i < c->nprocs; i++)
			nproc += c->procs[i].dump == r;
		for (int i = 0; i < c->pools.n; i++)
			for (int k = 0; k < c->nprocs; k++)
				if (c->procs[k].dump == r && pool_held_by(&c->pools.v[i], c->procs[k].pid)) {
					npools++;
					break;
				}
		printf("dumped pid %d (%d process%s, %d pool%s) in %.2f s, image %.1f MiB\n", (int)c->runs[r].root,
		       nproc, nproc == 1 ? "" : "es", npools, npools == 1 ? "" : "s", c->runs[r].seconds,
		       dump_dir_bytes(c->runs[r].images) / 1048576.0);
		if (crshim_verbose) {
			char log[PATH_MAX + 16];

			snprintf(log, sizeof(log), "%s/dump.log", c->runs[r].images);
			printf("  from %s:\n", log);
			criu_log_summary(stdout, log, 4);
		}
	}
	printf("saved %d pool%s once: %.1f MiB (%.1f MiB allocated) in %.2f s while frozen\n", c->pools.n,
	       c->pools.n == 1 ? "" : "s", pool_bytes / 1048576.0, pool_alloc / 1048576.0, c->pools_seconds);
	if (c->scratch.n) {
		uint64_t by[4] = { 0 };

		for (int i = 0; i < c->scratch.n; i++)
			by[c->scratch.v[i].policy] += c->scratch.v[i].size;
		printf("scratch: %d file%s; not saved: %.1f MiB (drop), %.1f MiB (keep); saved %.1f MiB (save)\n",
		       c->scratch.n, c->scratch.n == 1 ? "" : "s", by[1] / 1048576.0, by[2] / 1048576.0,
		       by[3] / 1048576.0);
		for (int i = 0; i < c->scratch.n; i++)
			if (c->scratch.v[i].downgraded)
				printf("note: %s is unlinked and cannot be kept in place: saved instead\n",
				       c->scratch.v[i].path);
	}
	printf("checkpoint %s: %.1f MiB%s\n", c->dir, dump_dir_bytes(c->dir) / 1048576.0,
	       c->leave_running ? ", processes left running" : "");
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'D' },   { "tree", no_argument, NULL, 't' },
		{ "leave-running", no_argument, NULL, 'R' }, { "timeout", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },	   { "help", no_argument, NULL, 'h' },
		{ "allow-partial", no_argument, NULL, 'P' },
		{ 0 },
	};
	struct dump_ctx c = { .timeout_s = 300 };
	char coord[108], err[512], absdir[PATH_MAX];
	int opt, lfd = -1, rc = 1, moved;
	json_t **records;
	pid_t *pids;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+D:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'D': c.dir = optarg; break;
		case 't': c.tree = 1; break;
		case 'R': c.leave_running = 1; break;
		case 'T': c.timeout_s = atoi(optarg) > 0 ? atoi(optarg) : 300; break;
		case 'P': c.allow_partial = 1; break;
		case 'v': crshim_verbose++; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!c.dir || optind >= argc) {
		usage(stderr);
		return 2;
	}
	phase("options parsed");
	if (paths_criu(c.criu, sizeof(c.criu)) < 0) {
		fprintf(stderr, "crshim dump: %s\n", c.criu);
		return 1;
	}
	if (collect(&c, argv + optind, argc - optind) < 0) {
		free(c.procs);
		free(c.runs);
		return 2;
	}
	phase("processes collected");
	if (dump_make_dir(c.dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "crshim dump: %s\n", err);
		free(c.procs);
		free(c.runs);
		return 1;
	}
	/* CRIU runs its action script (DIR/hook.sh) from another directory. */
	if (realpath(c.dir, absdir))
		c.dir = absdir;
	if (quiesce_verbs(&c) < 0)
		goto out;
	phase("verbs quiesced");
	if (prepare_all(&c) < 0)
		goto out;
	phase("PREPARE answered");
	for (int i = 0; i < c.nprocs; i++)
		c.procs[i].may_tcp = dump_may_hold_tcp(c.procs[i].pid);
	phase("TCP sockets looked for");
	if (consistency_check(c.procs, c.nprocs, c.allow_partial) < 0)
		goto out;
	phase("consistency checked");
	if ((moved = convert_segments(c.procs, c.nprocs)) < 0)
		goto out;
	phase("segments converted");
	if (moved)
		refresh_records(&c);
	drop_vanished(&c);
	records = records_of(&c, &pids);
	if (pools_discover(pids, records, c.nprocs, &c.pools, err, sizeof(err)) < 0) {
		fprintf(stderr, "crshim dump: %s\n", err);
		free(records);
		free(pids);
		goto out;
	}
	free(records);
	free(pids);
	phase("pools discovered");
	if (scratch_discover(c.procs, c.nprocs, &c.scratch) < 0)
		goto out;
	drop_scratch_from_pools(&c);
	c.outputs = outputs_discover(c.procs, c.nprocs, pool_or_scratch, &c);
	phase("scratch and outputs discovered");
	if (take_out_memfds(&c) < 0 || dump_refuse_sysv(c.procs, c.nprocs) < 0 || write_configs(&c) < 0)
		goto out;
	phase("configs written");
	c.fifos = fifos_collect(c.procs, c.nprocs);
	phase("fifos collected");
	c.tcp_ports = listen_ports(&c);
	phase("listening ports collected");
	c.stdio = collect_stdio(&c);
	c.threads = json_object();
	lfd = coord_listen(coord, sizeof(coord));
	if (lfd < 0) {
		fprintf(stderr, "crshim dump: cannot open the coordination socket: %s\n", strerror(errno));
		goto out;
	}
	phase("stdio collected");
	start_criu(&c, coord);
	phase("CRIU started");
	if (run_barrier(&c, lfd) < 0) {
		report_failure(&c);
		dump_remove_pool_copies(c.dir);
		goto out;
	}
	phase("CRIU runs reaped");
	if (finish_manifest(&c) < 0)
		goto out;
	phase("manifest written");
	print_summary(&c);
	phase("summary printed");
	rc = 0;
out:
	if (lfd >= 0)
		close(lfd);
	/* Processes that still run leave the prepared state; after a
	 * successful dump without --leave-running they are gone. */
	if (rc != 0 || c.leave_running) {
		resume_verbs(&c);
		resume_all(&c);
	}
	phase("resumed");
	if (rc != 0)
		fprintf(stderr, "crshim dump: failed; the processes keep running, %s holds no usable checkpoint\n",
			c.dir);
	for (int i = 0; i < c.nprocs; i++)
		json_decref(c.procs[i].record);
	free(c.procs);
	free(c.runs);
	pools_free(&c.pools);
	scratch_free(&c.scratch);
	json_decref(c.fifos);
	json_decref(c.outputs);
	json_decref(c.tcp_ports);
	json_decref(c.stdio);
	json_decref(c.threads);
	return rc;
}
