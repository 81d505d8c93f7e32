/*
 * crshim restore -D DIR [--replace] [--child]
 *
 * 1. read and check the manifest (format, version, complete);
 * 2. wait until every pid of the checkpoint is free (a zombie holds its
 *    pid until its parent reaps it);
 * 3. recreate every pool once (named at its path, or unnamed when it was
 *    unlinked) and keep it open;
 * 4. a detached reaper process (a child subreaper, so restored processes
 *    are reaped when they end) runs `criu restore -d --restore-sibling
 *    --leave-stopped` for each dump with --inherit-fd for the pools its
 *    processes hold: all holders get the same file; the roots become its
 *    children; once every dump is back it continues them all (SIGCONT);
 * 5. tell every shim RESTORED.  If any dump fails to restore, the trees
 *    already restored are killed: nothing is left half restored.
 *
 * With --child (a checkpoint of one process or one tree) there is no
 * reaper: CRIU restores the root as a child of crshim (--restore-sibling),
 * with crshim's own fds 0-2 in place of the program's (stdio_inherit.h),
 * and crshim waits for it, forwarding signals, and exits with its status
 * (restore_child.h).  crshim's own messages then go to stderr.
 */
#include "commands.h"
#include "control_client.h"
#include "criu_run.h"
#include "fifos.h"
#include "outputs.h"
#include "tcp_ports.h"
#include "dump_util.h"
#include "manifest.h"
#include "paths.h"
#include "pools.h"
#include "ptree.h"
#include "restore_child.h"
#include "scratch.h"
#include "stdio_inherit.h"
#include "verbs_exchange.h"

#include "crshim_manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct rctx {
	const char *dir;
	char criu[PATH_MAX];
	json_t *m;
	int replace, timeout_s;
	int *pool_fds;		/* one per manifest pool */
	int npools;
	struct pool_undo *pool_undo; /* one per manifest pool (pools.h) */
	int nundo;
	int *scratch_fds;	/* one per manifest scratch entry */
	int nscratch;
	int *output_fds;	/* one per manifest output */
	int noutputs;
	int child;		/* --child */
	struct stdio_inherit stdio; /* with --child: crshim's fds 0-2 for CRIU */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: crshim [-v] restore -D DIR [--replace] [--timeout SEC] [--child]\n"
		   "                         [--allow-foreign-owner]\n"
		   "  --replace  replace files that stand where a pool or scratch file must be recreated\n"
		   "  --child    restore the one process or tree of DIR as a child of crshim, with\n"
		   "             crshim's stdin, stdout and stderr; wait for it, forward signals\n"
		   "             (TERM INT HUP QUIT USR1 USR2) and exit with its status\n"
		   "  --allow-foreign-owner  restore a checkpoint that another user owns or could have changed\n");
}

/*
 * A checkpoint is trusted: its manifest says which files to create where,
 * with which owner, mode and content, and CRIU runs its images.  So only a
 * checkpoint that nobody else could have written is restored: DIR, its
 * manifest and everything in dumps/, pools/ and scratch/ owned by the
 * caller (or root), not writable by group or others, and no symbolic link
 * among them, unless --allow-foreign-owner.
 */
static int refuse_foreign(const char *path, const struct stat *st)
{
	if (S_ISLNK(st->st_mode)) {
		fprintf(stderr,
			"crshim restore: %s is a symbolic link: a checkpoint is read only from its own files; "
			"restore it only if you trust it, with --allow-foreign-owner\n",
			path);
		return -1;
	}
	if (st->st_uid != geteuid() && st->st_uid != 0) {
		fprintf(stderr,
			"crshim restore: %s belongs to uid %u, not to you (uid %u): a checkpoint says what to create, "
			"where, with which owner and mode; restore it only if you trust it, with --allow-foreign-owner\n",
			path, (unsigned)st->st_uid, (unsigned)geteuid());
		return -1;
	}
	if (st->st_mode & 022) {
		fprintf(stderr,
			"crshim restore: %s is writable by other users (mode %04o): they could have changed the "
			"checkpoint; restore it only if you trust it, with --allow-foreign-owner\n",
			path, (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

/* name (in at, shown as path) and, for a directory, what it holds down
 * to depth more levels.  A missing name is not this check's concern (the
 * manifest's own checks say what is missing). */
static int check_tree(int at, const char *name, const char *path, int depth)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (refuse_foreign(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode) || depth <= 0)
		return 0;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (r == 0 && (de = readdir(d))) {
		char sub[PATH_MAX + 512];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		r = check_tree(dirfd(d), de->d_name, sub, depth - 1);
	}
	closedir(d);
	return r;
}

static int check_owner(const char *dir, int allow)
{
	/* what restore and CRIU read: DIR/NAME and below, so deep */
	static const struct {
		const char *name;
		int depth;
	} parts[] = { { CRSHIM_MANIFEST_FILE, 0 }, { "dumps", 2 }, { "pools", 1 }, { "scratch", 2 } };
	struct stat st;
	int fd, r = 0;

	if (allow)
		return 0;
	/* DIR itself as named (a link to it must be the caller's or root's) */
	if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != geteuid() && st.st_uid != 0)
		return refuse_foreign(dir, &(struct stat){ .st_mode = S_IFREG, .st_uid = st.st_uid });
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* the manifest's own check says what is wrong */
	if (fstat(fd, &st) == 0)
		r = refuse_foreign(dir, &st);
	for (size_t i = 0; r == 0 && i < sizeof(parts) / sizeof(parts[0]); i++) {
		char path[PATH_MAX + 64];

		snprintf(path, sizeof(path), "%s/%s", dir, parts[i].name);
		r = check_tree(fd, parts[i].name, path, parts[i].depth);
	}
	close(fd);
	return r;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* One id of the checkpoint must be free (owner: 0 for a process's pid,
 * else the pid whose thread it was): wait while a zombie or an ending
 * process holds it, refuse when a running one does. */
static int wait_id_free(struct rctx *c, pid_t pid, pid_t owner, double deadline, int *said)
{
	double live_since = dump_now();
	char what[64];

	if (owner)
		snprintf(what, sizeof(what), "thread id %d (of pid %d)", (int)pid, (int)owner);
	else
		snprintf(what, sizeof(what), "pid %d", (int)pid);
	while (kill(pid, 0) == 0 || errno != ESRCH) {
		char comm[64];

		ptree_comm(pid, comm, sizeof(comm));
		if (!ptree_is_zombie(pid) && dump_now() - live_since > 2) {
			fprintf(stderr,
				"crshim restore: %s is taken by a running process (%s); it must end "
				"before this checkpoint can be restored\n",
				what, comm);
			return -1;
		}
		if (dump_now() > deadline) {
			fprintf(stderr, "crshim restore: %s is still taken (%s, a zombie of pid %d) after %d s\n", what,
				comm, (int)ptree_ppid(pid), c->timeout_s);
			return -1;
		}
		if (!(*said)++ && ptree_is_zombie(pid))
			printf("waiting for pid %d (a zombie of pid %d) to be reaped\n", (int)pid, (int)ptree_ppid(pid));
		sleep_ms(20);
	}
	/* CRIU cannot create pid either while it still names the process
	 * group or session of a live process (children of the killed job,
	 * ending). */
	for (pid_t m; (m = ptree_group_member(pid));) {
		char comm[64];

		ptree_comm(m, comm, sizeof(comm));
		if (dump_now() > deadline) {
			fprintf(stderr,
				"crshim restore: %s is still the process group or session of pid %d (%s) "
				"after %d s; it must end before this checkpoint can be restored\n",
				what, (int)m, comm, c->timeout_s);
			return -1;
		}
		if (!(*said)++)
			printf("waiting for pid %d (%s), of process group or session %d, to end\n", (int)m, comm,
			       (int)pid);
		sleep_ms(20);
	}
	return 0;
}

/* The thread ids the dump recorded for pid ("threads"; none in older
 * manifests). */
static json_t *threads_of(struct rctx *c, pid_t pid)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(c->m, "processes"), i, p)
		if (json_integer_value(json_object_get(p, "pid")) == pid)
			return json_object_get(p, "threads");
	return NULL;
}

/* Every pid and thread id of the checkpoint must be free: CRIU restores
 * processes and threads with their original ids. */
static int wait_pids_free(struct rctx *c)
{
	double deadline = dump_now() + c->timeout_s;
	int said = 0;
	size_t i, k, t;
	json_t *d, *p, *tid;

	json_array_foreach(json_object_get(c->m, "dumps"), i, d) {
		json_array_foreach(json_object_get(d, "pids"), k, p) {
			pid_t pid = (pid_t)json_integer_value(p);

			if (wait_id_free(c, pid, 0, deadline, &said) < 0)
				return -1;
			json_array_foreach(threads_of(c, pid), t, tid)
				if (wait_id_free(c, (pid_t)json_integer_value(tid), pid, deadline, &said) < 0)
					return -1;
		}
	}
	return 0;
}

static int recreate_pools(struct rctx *c)
{
	json_t *pools = json_object_get(c->m, "pools"), *p;
	uint64_t bytes = 0;
	double t0 = dump_now();
	size_t i;

	c->npools = (int)json_array_size(pools);
	c->pool_fds = calloc((size_t)c->npools + 1, sizeof(int));
	c->pool_undo = calloc((size_t)c->npools + 1, sizeof(*c->pool_undo));
	if (!c->pool_fds || !c->pool_undo)
		return -1;
	for (i = 0; i < (size_t)c->npools; i++) {
		c->pool_fds[i] = -1;
		pool_undo_init(&c->pool_undo[i]);
	}
	c->nundo = c->npools;
	json_array_foreach(pools, i, p) {
		char err[8400];

		c->pool_fds[i] = pool_recreate_undo(p, c->dir, c->replace, &c->pool_undo[i], err, sizeof(err));
		if (c->pool_fds[i] < 0) {
			fprintf(stderr, "crshim restore: %s\n", err);
			return -1;
		}
		bytes += (uint64_t)json_integer_value(json_object_get(p, "size"));
	}
	printf("recreated %d pool%s (%.1f MiB) in %.2f s\n", c->npools, c->npools == 1 ? "" : "s",
	       bytes / 1048576.0, dump_now() - t0);
	return 0;
}

/* keep files must be there, with their size, before anything is created. */
static int check_kept(struct rctx *c)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(c->m, "scratch"), i, e) {
		char err[4400];

		if (scratch_check_kept(e, err, sizeof(err)) < 0) {
			fprintf(stderr, "crshim restore: %s; nothing was restored\n", err);
			return -1;
		}
	}
	return 0;
}

static int prepare_scratch(struct rctx *c)
{
	json_t *list = json_object_get(c->m, "scratch"), *e;
	uint64_t dropped = 0;
	size_t i;

	c->nscratch = (int)json_array_size(list);
	c->scratch_fds = calloc((size_t)c->nscratch + 1, sizeof(int));
	if (!c->scratch_fds)
		return -1;
	for (i = 0; i < (size_t)c->nscratch; i++)
		c->scratch_fds[i] = -1;
	json_array_foreach(list, i, e) {
		char err[4400];

		c->scratch_fds[i] = scratch_prepare(e, c->dir, c->replace, err, sizeof(err));
		if (c->scratch_fds[i] < 0) {
			fprintf(stderr, "crshim restore: %s\n", err);
			return -1;
		}
		if (!strcmp(json_string_value(json_object_get(e, "policy")), "drop"))
			dropped += (uint64_t)json_integer_value(json_object_get(e, "size"));
	}
	if (c->nscratch)
		printf("prepared %d scratch file%s (%.1f MiB restored empty by the drop policy)\n", c->nscratch,
		       c->nscratch == 1 ? "" : "s", dropped / 1048576.0);
	return 0;
}

static int prepare_outputs(struct rctx *c)
{
	json_t *list = json_object_get(c->m, "outputs"), *e;
	size_t i;

	c->noutputs = (int)json_array_size(list);
	c->output_fds = calloc((size_t)c->noutputs + 1, sizeof(int));
	if (!c->output_fds)
		return -1;
	for (i = 0; i < (size_t)c->noutputs; i++)
		c->output_fds[i] = -1;
	json_array_foreach(list, i, e) {
		char err[4400];

		c->output_fds[i] = output_prepare(e, err, sizeof(err));
		if (c->output_fds[i] < 0) {
			fprintf(stderr, "crshim restore: %s\n", err);
			return -1;
		}
	}
	return 0;
}

/* Undo named pools after a failed restore (unnamed ones vanish with their
 * fd): each file created goes, and a file that --replace moved aside is put
 * back at its path.  Called again, it has nothing left to do. */
static void remove_named_pools(struct rctx *c)
{
	for (int i = 0; i < c->nundo; i++) {
		char err[1024];

		if (pool_undo_rollback(&c->pool_undo[i], err, sizeof(err)) < 0)
			fprintf(stderr, "crshim restore: warning: %s (in its directory)\n", err);
	}
}

/* The restore succeeded: the files --replace moved aside are deleted. */
static void keep_named_pools(struct rctx *c)
{
	for (int i = 0; i < c->nundo; i++)
		pool_undo_commit(&c->pool_undo[i]);
}

static int dump_holds(json_t *dump, json_t *pool)
{
	size_t i, k;
	json_t *pid, *h;

	json_array_foreach(json_object_get(dump, "pids"), i, pid)
		json_array_foreach(json_object_get(pool, "holders"), k, h)
			if (json_integer_value(json_object_get(h, "pid")) == json_integer_value(pid))
				return 1;
	return 0;
}

/* Options of the dump's configuration that restore must repeat. */
static int conf_has(const char *conf, const char *opt)
{
	FILE *f = fopen(conf, "re");
	char line[512];
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		found = !strcmp(line, opt);
	}
	if (f)
		fclose(f);
	return found;
}

static int restore_one(struct rctx *c, json_t *dump)
{
	char images[PATH_MAX], conf[PATH_MAX + 32], out[PATH_MAX + 32];
	char *argv[64 + 2 * 256];
	char *owned[256];
	int argc = 0, nowned = 0, keep[256], nkeep = 0, st, dir_fd = -1;
	size_t i;
	json_t *p;
	pid_t pid;

	snprintf(images, sizeof(images), "%s/%s", c->dir, json_string_value(json_object_get(dump, "images")));
	snprintf(conf, sizeof(conf), "%s/criu.conf", images);
	snprintf(out, sizeof(out), "%s/criu-restore.out", images);
	argv[argc++] = "criu";
	argv[argc++] = "restore";
	argv[argc++] = "-D";
	argv[argc++] = images;
	argv[argc++] = "--restore-detached";
	/* CRIU lets go of a task's threads one by one, the main thread first;
	 * a main thread that exits at once (a sleep that returns EINTR, as CRIU
	 * restores it) takes the others along and CRIU fails on them ("Unable
	 * to detach"), killing the whole restore.  Left stopped, no thread runs
	 * until crshim continues the tree (resume_dump). */
	argv[argc++] = "--leave-stopped";
	/* The root becomes the child of crshim (--child) or of the reaper
	 * (CRIU's CLONE_PARENT), not of CRIU: CRIU's exit must not leave a
	 * stopped process group orphaned, which the kernel answers with SIGHUP
	 * (a shell job restored into the reaper's session). */
	argv[argc++] = "--restore-sibling";
	argv[argc++] = "-o";
	argv[argc++] = "restore.log";
	argv[argc++] = "-v4";
	if (conf_has(conf, "shell-job"))
		argv[argc++] = "--shell-job";
	if (conf_has(conf, "tcp-established")) {
		argv[argc++] = "--tcp-established";
		argv[argc++] = "--network-lock";
		argv[argc++] = "nftables";
	}
	if (conf_has(conf, "ext-unix-sk"))
		argv[argc++] = "--ext-unix-sk";
	if (conf_has(conf, "file-locks"))
		argv[argc++] = "--file-locks";
	/*
	 * Pools: CRIU keeps an external file's name as "file[MNT:INO]" and
	 * looks inherited fds up by that name minus its first character (as for
	 * any path, "a path without the leading /").  Under that key it hands
	 * every holder a dup of our fd as is; under "file[...]" it would reopen
	 * /proc/self/fd/N with the program's open flags, which fails with ELOOP
	 * for O_NOFOLLOW (shm_open, Open MPI, PMIx).  The holders then share one
	 * open file description, which mapped pools never notice.
	 */
	json_array_foreach(json_object_get(c->m, "pools"), i, p) {
		const char *ext = json_string_value(json_object_get(p, "external"));

		if (!dump_holds(dump, p) || nowned >= 255 || !ext || !ext[0])
			continue;
		if (asprintf(&owned[nowned], "fd[%d]:%s", c->pool_fds[i], ext + 1) < 0)
			return -1;
		argv[argc++] = "--inherit-fd";
		argv[argc++] = owned[nowned++];
		keep[nkeep++] = c->pool_fds[i];
	}
	/* Outputs: a dup of our append-mode fd, like pools (no size check). */
	json_array_foreach(json_object_get(c->m, "outputs"), i, p) {
		const char *ext = json_string_value(json_object_get(p, "external"));

		if (!dump_holds(dump, p) || nowned >= 255 || !ext || !ext[0] ||
		    (c->child && stdio_inherit_covers(&c->stdio, ext + 1)))
			continue;
		if (asprintf(&owned[nowned], "fd[%d]:%s", c->output_fds[i], ext + 1) < 0)
			return -1;
		argv[argc++] = "--inherit-fd";
		argv[argc++] = owned[nowned++];
		keep[nkeep++] = c->output_fds[i];
	}
	json_array_foreach(json_object_get(c->m, "scratch"), i, p) {
		if (!dump_holds(dump, p) || nowned >= 255)
			continue;
		if (asprintf(&owned[nowned], "fd[%d]:%s", c->scratch_fds[i],
			     json_string_value(json_object_get(p, "external"))) < 0)
			return -1;
		argv[argc++] = "--inherit-fd";
		argv[argc++] = owned[nowned++];
		keep[nkeep++] = c->scratch_fds[i];
	}
	/* A self-checkpoint held its images' directory open (libcriu): hand
	 * it back as this directory, wherever the checkpoint was moved. */
	if (json_string_value(json_object_get(dump, "self_images_path")) && nowned < 255 &&
	    (dir_fd = open(images, O_RDONLY | O_DIRECTORY)) >= 0) {
		if (asprintf(&owned[nowned], "fd[%d]:%s", dir_fd,
			     json_string_value(json_object_get(dump, "self_images_path")) + 1) < 0)
			return -1;
		argv[argc++] = "--inherit-fd";
		argv[argc++] = owned[nowned++];
		keep[nkeep++] = dir_fd;
	}
	for (int k = 0; c->child && k < c->stdio.n && nowned < 255; k++) {
		if (asprintf(&owned[nowned], "fd[%d]:%s", c->stdio.v[k].fd, c->stdio.v[k].key) < 0)
			return -1;
		argv[argc++] = "--inherit-fd";
		argv[argc++] = owned[nowned++];
		keep[nkeep++] = c->stdio.v[k].fd;
	}
	argv[argc] = NULL;
	if (crshim_verbose)
		criu_print_cmdline(stdout, c->criu, argv);
	/* a terminal CRIU takes from its stdin (stdio_inherit.h) */
	pid = criu_spawn(c->criu, argv, NULL, out, c->child ? c->stdio.tty_stdin : -1, keep, nkeep);
	st = pid < 0 ? 127 : criu_wait(pid);
	if (st != 0 && pid > 0)
		criu_reap_group(pid);
	if (dir_fd >= 0)
		close(dir_fd);
	for (int k = 0; k < nowned; k++)
		free(owned[k]);
	return st;
}

/* Every process CRIU restored for a dump: the tree under its root now (a
 * child forked while the dump began is in the images, not in "pids"). */
static int dump_tree(json_t *dump, pid_t **v, int *n)
{
	*v = NULL;
	*n = 0;
	return ptree_collect((pid_t)json_integer_value(json_object_get(dump, "root_pid")), v, n);
}

static void kill_dump(json_t *dump)
{
	size_t i;
	json_t *p;
	pid_t *tree;
	int n;

	json_array_foreach(json_object_get(dump, "pids"), i, p)
		kill((pid_t)json_integer_value(p), SIGKILL);
	if (dump_tree(dump, &tree, &n) == 0)
		for (int k = 0; k < n; k++)
			kill(tree[k], SIGKILL);
	free(tree);
}

static int was_stopped(struct rctx *c, pid_t pid)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(c->m, "processes"), i, p)
		if (json_integer_value(json_object_get(p, "pid")) == pid)
			return json_is_true(json_object_get(p, "stopped"));
	return 0;
}

/* CRIU left the dump's processes stopped (restore_one): continue them,
 * except those that were stopped when they were dumped.  A program sees
 * this as a SIGCONT (its handler, if it has one, runs once). */
static void resume_dump(struct rctx *c, json_t *dump)
{
	pid_t *tree;
	int n;

	if (dump_tree(dump, &tree, &n) < 0) {
		free(tree);
		return;
	}
	for (int k = 0; k < n; k++)
		if (!was_stopped(c, tree[k]) && kill(tree[k], SIGCONT) < 0 && errno != ESRCH)
			fprintf(stderr, "crshim restore: warning: cannot continue pid %d: %s\n", (int)tree[k],
				strerror(errno));
	free(tree);
}

/*
 * The reaper: restored processes become its children when each `criu
 * restore -d` exits (child subreaper), and it reaps them until none is
 * left.  It reports one line per dump to the parent on fd `report`.
 */
static void reaper(struct rctx *c, int report)
{
	json_t *dumps = json_object_get(c->m, "dumps"), *d;
	size_t i, ok = 0;
	int nul = open("/dev/null", O_RDWR);

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	prctl(PR_SET_NAME, "crshim-reaper");
	json_array_foreach(dumps, i, d) {
		double t0 = dump_now();
		int st = restore_one(c, d);
		char line[128];

		snprintf(line, sizeof(line), "%d %d %.3f\n", (int)json_integer_value(json_object_get(d, "root_pid")),
			 st, dump_now() - t0);
		if (write(report, line, strlen(line)) < 0)
			break;
		if (st != 0)
			break;
		ok++;
	}
	if (ok != json_array_size(dumps)) /* all or nothing */
		for (i = 0; i < ok; i++)
			kill_dump(json_array_get(dumps, i));
	else /* no process runs before every dump is back */
		json_array_foreach(dumps, i, d)
			resume_dump(c, d);
	close(report);
	for (i = 0; i < (size_t)c->npools; i++)
		close(c->pool_fds[i]);
	for (i = 0; i < (size_t)c->nscratch; i++)
		close(c->scratch_fds[i]);
	for (i = 0; i < (size_t)c->noutputs; i++)
		close(c->output_fds[i]);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
	}
	while (wait(NULL) > 0 || errno == EINTR)
		;
	_exit(0);
}

/* The program can ask crshim_scratch_dropped(path) afterwards. */
static void tell_dropped(struct rctx *c, pid_t pid)
{
	size_t i, k;
	json_t *e, *h;

	json_array_foreach(json_object_get(c->m, "scratch"), i, e) {
		if (strcmp(json_string_value(json_object_get(e, "policy")), "drop"))
			continue;
		json_array_foreach(json_object_get(e, "holders"), k, h) {
			char req[4200], err[512];
			json_t *ans = NULL;

			if (json_integer_value(json_object_get(h, "pid")) != pid)
				continue;
			snprintf(req, sizeof(req), "DROPPED %s", json_string_value(json_object_get(e, "path")));
			if (ctl_request(pid, req, 5000, &ans, err, sizeof(err)) != CTL_OK)
				fprintf(stderr, "crshim restore: warning: %s\n", err);
			json_decref(ans);
		}
	}
}

static void notify_restored(struct rctx *c)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(c->m, "processes"), i, p) {
		pid_t pid = (pid_t)json_integer_value(json_object_get(p, "pid"));
		char err[512];
		json_t *ans = NULL;
		enum ctl_error e = CTL_UNREACHABLE;

		if (!json_is_true(json_object_get(p, "shim")))
			continue;
		for (int tries = 0; tries < 50; tries++) {
			if (ptree_is_zombie(pid)) { /* ended already (a --child) */
				e = CTL_NO_PROCESS;
				break;
			}
			e = ctl_request(pid, "RESTORED", 5000, &ans, err, sizeof(err));
			json_decref(ans);
			ans = NULL;
			if (e == CTL_OK || e == CTL_NO_PROCESS)
				break;
			sleep_ms(20);
		}
		if (e != CTL_OK && e != CTL_NO_PROCESS)
			fprintf(stderr, "crshim restore: warning: %s\n", err);
		else if (e == CTL_OK)
			tell_dropped(c, pid);
	}
}

/* RDMA: every shim rebuilds, learns its peers' new QP numbers, LIDs and
 * rkeys, and connects; if any fails, all restored processes are killed. */
static int restore_verbs(struct rctx *c)
{
	json_t *procs = json_object_get(c->m, "processes"), *p;
	pid_t *pids = calloc(json_array_size(procs) + 1, sizeof(pid_t));
	char err[1024];
	size_t i;
	int n = 0, r;

	if (!pids)
		return -1;
	json_array_foreach(procs, i, p)
		if (json_is_true(json_object_get(p, "shim")))
			pids[n++] = (pid_t)json_integer_value(json_object_get(p, "pid"));
	r = verbs_exchange(pids, n, 1, err, sizeof(err));
	free(pids);
	if (r < 0) {
		fprintf(stderr, "crshim restore: %s\n", err);
		json_array_foreach(json_object_get(c->m, "dumps"), i, p)
			kill_dump(p);
	}
	return r;
}

/* -v: what CRIU's log of a restore that succeeded says, on a few lines. */
static void print_log_summary(struct rctx *c, int root)
{
	char log[PATH_MAX];

	snprintf(log, sizeof(log), "%s/dumps/%d/restore.log", c->dir, root);
	printf("  from %s:\n", log);
	criu_log_summary(stdout, log, 4);
}

static int run_restore(struct rctx *c)
{
	int pfd[2], failed = 0;
	json_t *dumps = json_object_get(c->m, "dumps");
	size_t reported = 0;
	char line[128];
	FILE *in;
	pid_t r;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	r = fork();
	if (r < 0)
		return -1;
	if (r == 0) {
		close(pfd[0]);
		/* Detach: the reaper outlives this command. */
		if (fork() != 0)
			_exit(0);
		setsid();
		reaper(c, pfd[1]);
	}
	close(pfd[1]);
	waitpid(r, NULL, 0);
	in = fdopen(pfd[0], "r");
	while (in && fgets(line, sizeof(line), in)) {
		int root, st;
		double secs;

		if (sscanf(line, "%d %d %lf", &root, &st, &secs) != 3)
			continue;
		reported++;
		if (st == 0) {
			printf("restored pid %d in %.2f s\n", root, secs);
			if (crshim_verbose)
				print_log_summary(c, root);
			continue;
		}
		failed = 1;
		fprintf(stderr, "crshim restore: CRIU failed to restore pid %d (exit %d); from %s/dumps/%d/restore.log:\n",
			root, st, c->dir, root);
		{
			char log[PATH_MAX];

			snprintf(log, sizeof(log), "%s/dumps/%d/restore.log", c->dir, root);
			criu_log_excerpt(stderr, log, crshim_verbose ? 40 : 8);
		}
	}
	if (in)
		fclose(in);
	if (reported != json_array_size(dumps))
		failed = 1;
	if (failed) {
		fprintf(stderr, "crshim restore: failed; no process of %s was left running\n", c->dir);
		return -1;
	}
	if (restore_verbs(c) < 0) {
		fprintf(stderr, "crshim restore: failed; no process of %s was left running\n", c->dir);
		return -1;
	}
	notify_restored(c);
	return 0;
}

static void close_handed_over(struct rctx *c)
{
	for (int i = 0; i < c->npools; i++)
		if (c->pool_fds[i] >= 0)
			close(c->pool_fds[i]);
	for (int i = 0; i < c->nscratch; i++)
		if (c->scratch_fds[i] >= 0)
			close(c->scratch_fds[i]);
	for (int i = 0; i < c->noutputs; i++)
		if (c->output_fds[i] >= 0)
			close(c->output_fds[i]);
	c->npools = c->nscratch = c->noutputs = 0;
}

/*
 * --child: CRIU makes the root our child; then wait for it.  Returns its
 * exit status (0-255), or -1 when the restore failed.
 */
static int run_restore_child(struct rctx *c)
{
	json_t *d = json_array_get(json_object_get(c->m, "dumps"), 0);
	int root = (int)json_integer_value(json_object_get(d, "root_pid")), st;
	double t0 = dump_now();

	st = restore_one(c, d);
	/* The restored processes hold what they need now. */
	stdio_inherit_release(&c->stdio);
	if (st != 0) {
		char log[PATH_MAX];

		kill_dump(d);
		child_reap_all();
		remove_named_pools(c);
		close_handed_over(c);
		fprintf(stderr, "crshim restore: CRIU failed to restore pid %d (exit %d); from %s/dumps/%d/restore.log:\n",
			root, st, c->dir, root);
		snprintf(log, sizeof(log), "%s/dumps/%d/restore.log", c->dir, root);
		criu_log_excerpt(stderr, log, crshim_verbose ? 40 : 8);
		fprintf(stderr, "crshim restore: failed; no process of %s was left running\n", c->dir);
		return -1;
	}
	close_handed_over(c);
	resume_dump(c, d);
	fprintf(stderr, "restored pid %d in %.2f s, a child of crshim (pid %d)\n", root, dump_now() - t0,
		(int)getpid());
	if (crshim_verbose)
		print_log_summary(c, root);
	child_signals_forward(root);
	child_take_terminal(root);
	if (restore_verbs(c) < 0) {
		child_reap_all();
		fprintf(stderr, "crshim restore: failed; no process of %s was left running\n", c->dir);
		return -1;
	}
	keep_named_pools(c);
	notify_restored(c);
	st = child_wait(root);
	if (st < 0) {
		fprintf(stderr, "crshim restore: pid %d did not become a child of crshim; "
				"its exit status is unknown\n", root);
		return 1;
	}
	if (crshim_verbose)
		fprintf(stderr, "crshim restore: pid %d ended: exit status %d\n", root, st);
	return st;
}

/* --child: one dump only; crshim's fds 0-2 are planned before its own
 * stdout moves to stderr (the program's output must stay the program's). */
static int setup_child(struct rctx *c)
{
	size_t n = json_array_size(json_object_get(c->m, "dumps"));

	if (n != 1) {
		fprintf(stderr,
			"crshim restore: --child restores one process or one tree; "
			"%s holds %zu separate dumps\n", c->dir, n);
		return -1;
	}
	child_signals_catch();
	if (stdio_inherit_plan(&c->stdio, c->m, json_array_get(json_object_get(c->m, "dumps"), 0)) < 0) {
		fprintf(stderr, "crshim restore: cannot keep fds 0-2: %s\n", strerror(errno));
		return -1;
	}
	fflush(stdout);
	dup2(2, 1);
	return 0;
}

int cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'D' }, { "replace", no_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 'T' }, { "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },	   { "child", no_argument, NULL, 'c' },
		{ "allow-foreign-owner", no_argument, NULL, 'F' },
		{ 0 },
	};
	struct rctx c = { .timeout_s = 30, .stdio.ours = { -1, -1, -1 } };
	char err[4400];
	int opt, rc = 1, foreign = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+D:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'D': c.dir = optarg; break;
		case 'r': c.replace = 1; break;
		case 'c': c.child = 1; break;
		case 'F': foreign = 1; break;
		case 'T': c.timeout_s = atoi(optarg) > 0 ? atoi(optarg) : 30; break;
		case 'v': crshim_verbose++; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!c.dir || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (check_owner(c.dir, foreign) < 0)
		return 1;
	c.m = manifest_load(c.dir, err, sizeof(err));
	if (!c.m) {
		fprintf(stderr, "crshim restore: %s\n", err);
		return 1;
	}
	if (paths_criu(c.criu, sizeof(c.criu)) < 0) {
		fprintf(stderr, "crshim restore: %s\n", c.criu);
		goto out;
	}
	if (c.child && setup_child(&c) < 0)
		goto out;
	if (check_kept(&c) < 0 || wait_pids_free(&c) < 0)
		goto out;
	tcp_clear_time_wait(json_object_get(c.m, "tcp_listen_ports"), crshim_verbose);
	if (fifos_recreate(json_object_get(c.m, "fifos"), err, sizeof(err)) < 0) {
		fprintf(stderr, "crshim restore: %s\n", err);
		goto out;
	}
	if (recreate_pools(&c) < 0 || prepare_scratch(&c) < 0 || prepare_outputs(&c) < 0) {
		remove_named_pools(&c);
		goto out;
	}
	if (c.child) {
		rc = run_restore_child(&c);
		if (rc < 0)
			rc = 1;
		goto out;
	}
	if (run_restore(&c) < 0) {
		remove_named_pools(&c);
		goto out;
	}
	keep_named_pools(&c);
	rc = 0;
out:
	/* (whatever failed: a pool the restore did not keep is undone) */
	remove_named_pools(&c);
	stdio_inherit_release(&c.stdio);
	for (int i = 0; i < c.npools; i++)
		if (c.pool_fds[i] >= 0)
			close(c.pool_fds[i]);
	for (int i = 0; i < c.nscratch; i++)
		if (c.scratch_fds[i] >= 0)
			close(c.scratch_fds[i]);
	for (int i = 0; i < c.noutputs; i++)
		if (c.output_fds[i] >= 0)
			close(c.output_fds[i]);
	free(c.pool_fds);
	free(c.pool_undo);
	free(c.scratch_fds);
	free(c.output_fds);
	json_decref(c.m);
	return rc;
}
