/* Moving memfd and SysV memory onto files before a dump (convert.h). */
#include "convert.h"

#include "commands.h"
#include "control_client.h"
#include "pools.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct seg {
	int sysv;		/* else memfd */
	uint64_t dev, ino, size;
	uint32_t mode;
	char name[256];		/* /SYSVxxxxxxxx or /memfd:NAME */
	char src[128];		/* where to read it */
	int runs_mask_first;	/* run of the first holder */
	int split;		/* holders in more than one run */
	json_t *holders;	/* {pid: {ranges:"...", nranges, fds:"...", nfds}} */
};

struct segs {
	struct seg *v;
	int n;
};

static struct seg *seg_for(struct segs *s, const char *src, const char *name, int sysv, int run)
{
	struct stat st;
	struct seg *g;

	if (stat(src, &st) < 0)
		return NULL;
	for (int i = 0; i < s->n; i++)
		if (s->v[i].dev == st.st_dev && s->v[i].ino == st.st_ino) {
			if (s->v[i].runs_mask_first != run)
				s->v[i].split = 1;
			return &s->v[i];
		}
	g = realloc(s->v, (size_t)(s->n + 1) * sizeof(*g));
	if (!g)
		return NULL;
	s->v = g;
	g = &s->v[s->n++];
	memset(g, 0, sizeof(*g));
	g->sysv = sysv;
	g->dev = st.st_dev;
	g->ino = st.st_ino;
	g->size = (uint64_t)st.st_size;
	g->mode = st.st_mode & 07777;
	g->runs_mask_first = run;
	snprintf(g->name, sizeof(g->name), "%s", name);
	snprintf(g->src, sizeof(g->src), "%s", src);
	g->holders = json_object();
	return g;
}

static json_t *holder(struct seg *g, pid_t pid)
{
	char key[16];
	json_t *h;

	snprintf(key, sizeof(key), "%d", (int)pid);
	h = json_object_get(g->holders, key);
	if (!h) {
		h = json_pack("{s:s,s:i,s:s,s:i}", "ranges", "", "nranges", 0, "fds", "", "nfds", 0);
		json_object_set_new(g->holders, key, h);
	}
	return h;
}

static void append(json_t *h, const char *list, const char *count, const char *item)
{
	char *s;

	if (asprintf(&s, "%s %s", json_string_value(json_object_get(h, list)), item) < 0)
		return;
	json_object_set_new(h, list, json_string(s));
	json_object_set_new(h, count, json_integer(json_integer_value(json_object_get(h, count)) + 1));
	free(s);
}

static int prot_of(const char *perms)
{
	return (perms[0] == 'r' ? 1 : 0) | (perms[1] == 'w' ? 2 : 0) | (perms[2] == 'x' ? 4 : 0);
}

static void scan(struct segs *s, const struct dproc *p)
{
	struct proc_map *maps = NULL;
	struct proc_fd *fds = NULL;
	int n = proc_read_maps(p->pid, &maps), nf;

	for (int i = 0; i < n; i++) {
		struct proc_map *m = &maps[i];
		int sysv = !strncmp(m->path, "/SYSV", 5), memfd = !strncmp(m->path, "/memfd:", 7);
		char src[128], item[96];
		struct seg *g;

		if (m->perms[3] != 's' || (!sysv && !memfd))
			continue;
		snprintf(src, sizeof(src), "/proc/%d/map_files/%" PRIxPTR "-%" PRIxPTR, (int)p->pid, m->start, m->end);
		g = seg_for(s, src, m->path, sysv, p->dump);
		if (!g)
			continue;
		snprintf(item, sizeof(item), "%" PRIxPTR "-%" PRIxPTR ":%" PRIu64 ":%d", m->start, m->end, m->offset,
			 prot_of(m->perms));
		append(holder(g, p->pid), "ranges", "nranges", item);
	}
	free(maps);
	nf = proc_read_fds(p->pid, &fds);
	for (int i = 0; i < nf; i++) {
		char src[64], item[16];
		struct seg *g;

		if (strncmp(fds[i].target, "/memfd:", 7))
			continue;
		snprintf(src, sizeof(src), "/proc/%d/fd/%d", (int)p->pid, fds[i].fd);
		g = seg_for(s, src, fds[i].target, 0, p->dump);
		if (!g)
			continue;
		snprintf(item, sizeof(item), "%d", fds[i].fd);
		append(holder(g, p->pid), "fds", "nfds", item);
	}
	free(fds);
}

static int needs_move(const struct seg *g)
{
	return g->sysv || g->split;
}

static int request_all(struct dproc *procs, int nprocs, const int *want, const char *req, int *done)
{
	for (int i = 0; i < nprocs; i++) {
		char err[512];
		json_t *ans = NULL;

		if (!want[i])
			continue;
		if (ctl_request(procs[i].pid, req, 10000, &ans, err, sizeof(err)) != CTL_OK) {
			fprintf(stderr, "crshim dump: %s: %s\n", req, err);
			return -1;
		}
		json_decref(ans);
		if (done)
			done[i] = 1;
	}
	return 0;
}

/* Copy the segment into a new file in /dev/shm and swap it in everywhere. */
static int move_one(struct seg *g, struct dproc *procs, int nprocs, int idx)
{
	char path[512], err[512];
	const char *k;
	json_t *h;
	int in, out, rc = 0;

	snprintf(path, sizeof(path), "/dev/shm/.crshim-%s-%d-%d", g->sysv ? "sysv" : "memfd", (int)getpid(), idx);
	in = open(g->src, O_RDONLY | O_CLOEXEC);
	/* No O_NOFOLLOW: the holders share this open file description (dup3), and
	 * CRIU reopens it with its flags at restore. O_EXCL refuses a symlink. */
	out = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, g->mode ? g->mode : 0600);
	if (in < 0 || out < 0 || sparse_copy(in, out, g->size) < 0) {
		fprintf(stderr, "crshim dump: cannot copy %s into %s: %s\n", g->name, path, strerror(errno));
		rc = -1;
		goto out;
	}
	json_object_foreach(g->holders, k, h) {
		char *req;
		pid_t pid = (pid_t)atoi(k);

		if (asprintf(&req, "SWAP %s %lld%s %lld%s", path, (long long)json_integer_value(json_object_get(h, "nranges")),
			     json_string_value(json_object_get(h, "ranges")),
			     (long long)json_integer_value(json_object_get(h, "nfds")),
			     json_string_value(json_object_get(h, "fds"))) < 0)
			continue;
		{
			json_t *ans = NULL;

			if (ctl_request_fd(pid, req, out, 10000, &ans, err, sizeof(err)) != CTL_OK) {
				fprintf(stderr, "crshim dump: cannot move %s in pid %d: %s\n", g->name, (int)pid, err);
				rc = -1;
			}
			json_decref(ans);
		}
		free(req);
	}
	if (crshim_verbose)
		printf("moved %s (%.1f MiB) onto a file for the checkpoint\n", g->name, g->size / 1048576.0);
out:
	(void)procs;
	(void)nprocs;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	unlink(path); /* the holders keep it: from now on an unlinked pool */
	return rc;
}

int convert_segments(struct dproc *procs, int nprocs)
{
	struct segs s = { 0 };
	int *want = calloc((size_t)nprocs + 1, sizeof(int)), *parked = calloc((size_t)nprocs + 1, sizeof(int));
	int moved = 0, rc = 0, any = 0;

	for (int i = 0; i < nprocs; i++)
		scan(&s, &procs[i]);
	for (int g = 0; g < s.n; g++) {
		const char *k;
		json_t *h;

		if (!needs_move(&s.v[g]))
			continue;
		json_object_foreach(s.v[g].holders, k, h) {
			for (int i = 0; i < nprocs; i++) {
				if (procs[i].pid != atoi(k))
					continue;
				if (!procs[i].shim) {
					fprintf(stderr,
						"crshim dump: pid %d holds %s, which CRIU cannot keep shared, and runs "
						"without the shim: start it with LD_PRELOAD=$(crshim lib)\n",
						(int)procs[i].pid, s.v[g].name);
					rc = -1;
				}
				want[i] = 1;
				any = 1;
			}
		}
	}
	if (rc < 0 || !any)
		goto out;
	/* Every holder stops before any content is copied. */
	if (request_all(procs, nprocs, want, "PARK", parked) < 0) {
		rc = -1;
		goto unpark;
	}
	for (int g = 0; g < s.n; g++)
		if (needs_move(&s.v[g])) {
			if (move_one(&s.v[g], procs, nprocs, g) < 0) {
				rc = -1;
				break;
			}
			moved++;
		}
unpark:
	if (request_all(procs, nprocs, parked, "UNPARK", NULL) < 0)
		rc = -1;
out:
	for (int g = 0; g < s.n; g++)
		json_decref(s.v[g].holders);
	free(s.v);
	free(want);
	free(parked);
	return rc < 0 ? -1 : moved;
}
