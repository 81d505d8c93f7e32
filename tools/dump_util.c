/* Checkpoint directory, CRIU configuration and manifest for `crshim dump`. */
#include "dump_util.h"

#include "criu_run.h"
#include "manifest.h"
#include "proc.h"
#include "scratch.h"

#include "build_config.h"
#include "crshim_manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

double dump_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t du_total;

static int du_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path;
	(void)flag;
	(void)f;
	du_total += (uint64_t)st->st_blocks * 512;
	return 0;
}

uint64_t dump_dir_bytes(const char *path)
{
	du_total = 0;
	nftw(path, du_one, 16, FTW_PHYS);
	return du_total;
}

int dump_make_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	char sub[PATH_MAX];

	if (lstat(dir, &st) == 0) {
		DIR *d;
		struct dirent *de;
		int empty = 1;

		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a directory", dir);
			return -1;
		}
		d = opendir(dir);
		while (d && (de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				empty = 0;
		if (d)
			closedir(d);
		if (!empty) {
			snprintf(err, errlen, "%s is not empty; give a new directory for each checkpoint", dir);
			return -1;
		}
		if (chmod(dir, 0700) < 0) {
			snprintf(err, errlen, "cannot set the mode of %s: %s", dir, strerror(errno));
			return -1;
		}
	} else if (mkdir(dir, 0700) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(sub, sizeof(sub), "%s/pools", dir);
	if (mkdir(sub, 0700) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", sub, strerror(errno));
		return -1;
	}
	snprintf(sub, sizeof(sub), "%s/scratch", dir);
	if (mkdir(sub, 0700) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", sub, strerror(errno));
		return -1;
	}
	snprintf(sub, sizeof(sub), "%s/dumps", dir);
	if (mkdir(sub, 0700) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", sub, strerror(errno));
		return -1;
	}
	return 0;
}

/* A run needs a pool's external line when one of its processes holds it. */
static int run_holds(const struct dproc *procs, int nprocs, int run, const struct pool *p)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i].dump == run && pool_held_by(p, procs[i].pid))
			return 1;
	return 0;
}

/* Do any of the run's processes hold fcntl/flock locks? (/proc/locks) */
static int run_has_locks(const struct dproc *procs, int nprocs, int run)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f)) {
		int pid;

		if (sscanf(line, "%*d: %*s %*s %*s %d", &pid) != 1)
			continue;
		for (int i = 0; i < nprocs; i++)
			if (procs[i].dump == run && procs[i].pid == pid)
				found = 1;
	}
	if (f)
		fclose(f);
	return found;
}

/* Is ino one of the unix sockets listed in table (/proc/PID/net/unix)? */
static int unix_socket(FILE *table, unsigned long ino)
{
	char line[512];

	rewind(table);
	while (fgets(line, sizeof(line), table)) {
		unsigned long v;

		/* Num RefCount Protocol Flags Type St Inode [Path] */
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu", &v) == 1 && v == ino)
			return 1;
	}
	return 0;
}

int dump_may_hold_tcp(pid_t pid)
{
	struct proc_fd *fds = NULL;
	int n = proc_read_fds(pid, &fds), maybe = n < 0;
	FILE *table = NULL;
	char path[64];

	for (int k = 0; k < n && !maybe; k++) {
		unsigned long ino;

		if (sscanf(fds[k].target, "socket:[%lu]", &ino) != 1)
			continue;
		if (!table) {
			snprintf(path, sizeof(path), "/proc/%d/net/unix", (int)pid);
			table = fopen(path, "re");
		}
		maybe = !table || !unix_socket(table, ino);
	}
	if (table)
		fclose(table);
	free(fds);
	return maybe;
}

/* Without TCP sockets CRIU needs neither tcp-established nor its network
 * lock, and the nftables lock alone (libnftables setting up a table)
 * costs 50-500 ms of frozen time here. */
static int run_may_hold_tcp(const struct dproc *procs, int nprocs, int run)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i].dump == run && procs[i].may_tcp)
			return 1;
	return 0;
}

static int run_holds_scratch(const struct dproc *procs, int nprocs, int run, const struct scratch *s)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i].dump == run && scratch_held_by(s, procs[i].pid))
			return 1;
	return 0;
}

int dump_write_criu_config(const char *path, const struct dproc *procs, int nprocs, int run,
			   const struct pool_set *pools, const struct scratch_set *scratch, json_t *outputs,
			   const char *hook, int leave_running, char *err, size_t errlen)
{
	size_t cap = 4096 + (size_t)(pools->n + scratch->n + (int)json_array_size(outputs)) * 4300, len = 0;
	char *text = malloc(cap);
	int r;

#define ADD(...) len += (size_t)snprintf(text + len, cap - len, __VA_ARGS__)
	if (!text)
		return -1;
	ADD("# CRIU configuration written by crshim %s for the dump of pid %d.\n", CRSHIM_VERSION,
	    (int)procs[0].pid);
	ADD("# Used as is: criu dump --config THIS -t PID -D IMAGES\n");
	ADD("log-file dump.log\nverbosity 4\n");
	ADD("# processes started from a shell or a launcher are not session leaders\nshell-job\n");
	if (run_may_hold_tcp(procs, nprocs, run)) {
		ADD("# TCP connections (MPI launchers) are kept, the network locked with nftables\n");
		ADD("tcp-established\nnetwork-lock nftables\n");
	} else {
		/* A connection opened after this was written fails the dump
		 * (CRIU: "consider using --tcp-established"): nothing is lost. */
		ADD("# no TCP socket when this was written: no tcp-established, no network lock\n");
	}
	ADD("# unix sockets whose peer is outside the dump (syslog, launchers)\next-unix-sk\n");
	if (run_has_locks(procs, nprocs, run))
		ADD("# the processes hold file locks\nfile-locks\n");
	if (leave_running)
		ADD("leave-running\n");
	ADD("# crshim's freeze barrier: pools are saved once all dumps are frozen\n");
	ADD("action-script %s\n", hook);
	ADD("# pools: saved once by crshim in pools/, handed back at restore with inherit-fd\n");
	for (int i = 0; i < pools->n; i++) {
		char key[64];

		if (!run_holds(procs, nprocs, run, &pools->v[i]))
			continue;
		pool_external_key(&pools->v[i], key, sizeof(key));
		ADD("# %s %s%s\nexternal %s\n", pools->v[i].id, pools->v[i].path,
		    pools->v[i].unlinked ? " (unlinked)" : "", key);
	}
	ADD("# scratch files: their policy (drop, keep, save) instead of CRIU's copy\n");
	for (int i = 0; i < scratch->n; i++) {
		char key[64];

		if (!run_holds_scratch(procs, nprocs, run, &scratch->v[i]))
			continue;
		scratch_external_key(&scratch->v[i], key, sizeof(key));
		ADD("# %s %s%s, policy %s\nexternal %s\n", scratch->v[i].id, scratch->v[i].path,
		    scratch->v[i].unlinked ? " (unlinked)" : "", scratch_policy_name(scratch->v[i].policy), key);
	}
	ADD("# outputs: handed back opened for appending, whatever they hold by then\n");
	{
		size_t i, k;
		json_t *o, *h;

		json_array_foreach(outputs, i, o) {
			int mine = 0;

			json_array_foreach(json_object_get(o, "holders"), k, h)
				for (int p = 0; p < nprocs; p++)
					mine |= procs[p].dump == run &&
						procs[p].pid == json_integer_value(json_object_get(h, "pid"));
			if (mine)
				ADD("# %s\nexternal %s\n", json_string_value(json_object_get(o, "path")),
				    json_string_value(json_object_get(o, "external")));
		}
	}
#undef ADD
	r = write_file_atomic(path, text, err, errlen);
	free(text);
	return r;
}

/* Sizes of the CRIU images of a run ({"pages-1.img": N, ...}), checked before
 * a restore: a truncated pages image makes CRIU's restorer loop forever. */
static json_t *image_sizes(const char *images)
{
	json_t *o = json_object();
	DIR *d = opendir(images);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char path[PATH_MAX + 300];
		size_t n = strlen(de->d_name);
		struct stat st;

		if (n < 5 || strcmp(de->d_name + n - 4, ".img"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", images, de->d_name);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			json_object_set_new(o, de->d_name, json_integer((json_int_t)st.st_size));
	}
	if (d)
		closedir(d);
	return o;
}

/* CRIU's version as its dump.log gives it ("Version: 4.2.1 (gitid 0)"):
 * asking `criu --version` costs one more start of CRIU.  0 if found. */
static int log_version(const char *images, char *out, size_t outlen)
{
	char path[PATH_MAX + 16], line[256];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/dump.log", images);
	f = fopen(path, "re");
	for (int i = 0; f && !found && i < 8 && fgets(line, sizeof(line), f); i++) {
		const char *v = strstr(line, ") Version: ");

		if (v && outlen >= 64 && sscanf(v + 11, "%63[^ \n]", out) == 1)
			found = 1;
	}
	if (f)
		fclose(f);
	return found ? 0 : -1;
}

static void utc_now(char *out, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *dump_build_manifest(const char *dir, const char *criu, int tree, int leave_running,
			    const struct dproc *procs, int nprocs, const struct drun *runs, int nruns,
			    const struct pool_set *pools, const struct scratch_set *scratch, json_t *fifos,
			    json_t *outputs)
{
	json_t *m, *dumps = json_array(), *jprocs = json_array(), *jpools = json_array(),
		*jscratch = json_array();
	char when[32], version[64];
	struct utsname u;

	(void)dir;
	utc_now(when, sizeof(when));
	if (nruns < 1 || log_version(runs[0].images, version, sizeof(version)) < 0)
		criu_version(criu, version, sizeof(version));
	uname(&u);
	for (int r = 0; r < nruns; r++) {
		json_t *pids = json_array();
		char images[64], conf[80];

		for (int i = 0; i < nprocs; i++)
			if (procs[i].dump == r)
				json_array_append_new(pids, json_integer(procs[i].pid));
		snprintf(images, sizeof(images), "dumps/%d", (int)runs[r].root);
		snprintf(conf, sizeof(conf), "dumps/%d/criu.conf", (int)runs[r].root);
		json_array_append_new(dumps, json_pack("{s:i,s:s,s:s,s:o,s:f,s:o}", "root_pid", (int)runs[r].root,
						       "images", images, "config", conf, "pids", pids,
						       "dump_seconds", runs[r].seconds, "image_files",
						       image_sizes(runs[r].images)));
	}
	for (int i = 0; i < nprocs; i++) {
		char link[64], exe[PATH_MAX];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/%d/exe", (int)procs[i].pid);
		n = readlink(link, exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = 0;
		json_array_append_new(jprocs, json_pack("{s:i,s:i,s:s,s:b,s:b,s:O?}", "pid", (int)procs[i].pid, "dump",
							procs[i].dump, "exe", exe, "shim", procs[i].shim, "stopped",
							procs[i].stopped, "record", procs[i].record));
	}
	for (int i = 0; i < pools->n; i++)
		json_array_append_new(jpools, pool_to_json(&pools->v[i]));
	for (int i = 0; i < scratch->n; i++)
		json_array_append_new(jscratch, scratch_to_json(&scratch->v[i]));
	m = json_pack("{s:s,s:i,s:b,s:s,s:s,s:{s:s,s:s},s:b,s:b,s:o,s:o,s:o,s:o,s:o}", "format",
		      CRSHIM_MANIFEST_FORMAT, "version", CRSHIM_MANIFEST_VERSION, "complete", 1, "created", when,
		      "host", u.nodename, "criu", "path", criu, "version", version, "tree", tree, "leave_running",
		      leave_running, "dumps", dumps, "processes", jprocs, "pools", jpools, "scratch", jscratch,
		      "outputs", json_incref(outputs));
	json_object_set(m, "fifos", fifos);
	return m;
}

int dump_refuse_sysv(const struct dproc *procs, int nprocs)
{
	for (int i = 0; i < nprocs; i++) {
		struct proc_map *maps = NULL;
		int n = proc_read_maps(procs[i].pid, &maps), bad = 0;

		for (int k = 0; k < n && !bad; k++)
			if (!strncmp(maps[k].path, "/SYSV", 5)) {
				fprintf(stderr,
					"crshim dump: pid %d has SysV segment key 0x%.8s attached; CRIU cannot dump SysV "
					"shared memory outside its own IPC namespace and crshim does not take it over yet\n",
					(int)procs[i].pid, maps[k].path + 5);
				bad = 1;
			}
		free(maps);
		if (bad)
			return -1;
	}
	return 0;
}

static void remove_files_in(const char *dir, const char *sub)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char f[PATH_MAX + 300];

		if (de->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
		unlink(f);
	}
	if (d)
		closedir(d);
}

void dump_remove_pool_copies(const char *dir)
{
	remove_files_in(dir, "pools");
	remove_files_in(dir, "scratch");
}
