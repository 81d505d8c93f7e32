/*
 * The verbs exchange between the shims of one checkpoint (see
 * verbs_exchange.h and preload/verbs_control.c): VERBS_QUIESCE before a
 * dump; VERBS_REBUILD, VERBS_CONNECT with the merged table (a memfd passed
 * with the request) and VERBS_GO after it.
 */
#include "verbs_exchange.h"

#include "control_client.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Rebuilding 10,000 MRs takes a fraction of a second; draining, at most
 * the shim's own bounds (10 s for the gate, 5 s for sends). */
#define VERBS_TIMEOUT_MS 30000

struct vproc {
	pid_t pid;
	json_t *table; /* NULL: no shim or no verbs layer */
};

/* A stopped or dead process cannot answer: PREPARE reports it. */
static int stopped(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return !p || p[1] != ' ' || strchr("TtZX", p[2]);
}

/* Only a process that loaded libibverbs can hold verbs resources. */
static int maps_verbs(pid_t pid)
{
	char path[64], line[4096];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, "/libibverbs.so") != NULL;
	if (f)
		fclose(f);
	return found;
}

/*
 * 1 answered, 0 not concerned (no shim, no verbs layer, or no answer:
 * PREPARE then reports the process), -1 failed (err).  A process just
 * restored may take a moment to answer: retry.
 */
static int ask(pid_t pid, const char *req, int fd, int retry, json_t **ans, char *err, size_t errlen)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	enum ctl_error e;

	for (int tries = 0;; tries++) {
		e = ctl_request_fd(pid, req, fd, VERBS_TIMEOUT_MS, ans, err, errlen);
		if (e != CTL_UNREACHABLE || !retry || tries >= 50)
			break;
		nanosleep(&pause, NULL);
	}
	if (e == CTL_OK)
		return 1;
	json_decref(*ans);
	*ans = NULL;
	if (e == CTL_NO_SHIM || e == CTL_NO_PROCESS || (e == CTL_UNREACHABLE && !retry))
		return 0;
	if (e == CTL_BAD_ANSWER && (strstr(err, "unknown request") || strstr(err, "verbs layer is off")))
		return 0;
	return -1;
}

static void go_all(struct vproc *v, int n)
{
	for (int i = 0; i < n; i++) {
		json_t *ans = NULL;
		char err[512];

		if (v[i].table && ask(v[i].pid, "VERBS_GO", -1, 0, &ans, err, sizeof(err)) < 0)
			fprintf(stderr, "crshim: warning: %s\n", err);
		json_decref(ans);
	}
}

static void free_all(struct vproc *v, int n)
{
	for (int i = 0; i < n; i++)
		json_decref(v[i].table);
	free(v);
}

static int collect(struct vproc *v, int n, const char *req, int retry, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++) {
		json_t *ans = NULL;
		int r;

		if ((!retry && stopped(v[i].pid)) || !maps_verbs(v[i].pid))
			continue;
		r = ask(v[i].pid, req, -1, retry, &ans, err, errlen);
		if (r < 0)
			return -1;
		json_decref(v[i].table);
		v[i].table = ans;
	}
	return 0;
}

static json_int_t num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* Does a QP (vlid, vqpn) belong to any process of the set? */
static int present(struct vproc *v, int n, json_int_t vlid, json_int_t vqpn)
{
	for (int i = 0; i < n; i++) {
		size_t k;
		json_t *q;

		if (!v[i].table)
			continue;
		json_array_foreach(json_object_get(v[i].table, "qps"), k, q)
			if (num(q, "vlid") == vlid && num(q, "vqpn") == vqpn)
				return 1;
	}
	return 0;
}

/* Every connected QP's peer is in the set. */
static int check_closed(struct vproc *v, int n, const char *why, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++) {
		size_t k;
		json_t *q;

		if (!v[i].table)
			continue;
		json_array_foreach(json_object_get(v[i].table, "qps"), k, q) {
			if (!json_is_true(json_object_get(q, "connected")))
				continue;
			if (present(v, n, num(q, "remote_vlid"), num(q, "remote_vqpn")))
				continue;
			snprintf(err, errlen,
				 "pid %d: RDMA QP 0x%06llx is connected to QP 0x%06llx at LID 0x%04llx, which %s",
				 (int)v[i].pid, (long long)num(q, "vqpn"), (long long)num(q, "remote_vqpn"),
				 (long long)num(q, "remote_vlid"), why);
			return -1;
		}
	}
	return 0;
}

static struct vproc *start(const pid_t *pids, int n)
{
	struct vproc *v = calloc((size_t)(n > 0 ? n : 1), sizeof(*v));

	for (int i = 0; v && i < n; i++)
		v[i].pid = pids[i];
	return v;
}

int verbs_quiesce(const pid_t *pids, int n, char *err, size_t errlen)
{
	struct vproc *v = start(pids, n);
	int r;

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r = collect(v, n, "VERBS_QUIESCE", 0, err, errlen);
	if (!r)
		r = check_closed(v, n,
				 "belongs to no process of this checkpoint: checkpoint its peer with it", err,
				 errlen);
	if (r)
		go_all(v, n);
	free_all(v, n);
	return r;
}

static void write_gids(FILE *f, json_t *port)
{
	size_t k;
	json_t *g;

	json_array_foreach(json_object_get(port, "gids"), k, g)
		fprintf(f, "G %s %s\n", json_string_value(json_object_get(g, "vgid")),
			json_string_value(json_object_get(g, "gid")));
}

/* The merged table (format in preload/verbs_connect.c) in a memfd. */
static int write_table(struct vproc *v, int n)
{
	int fd = memfd_create("crshim-verbs-table", MFD_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(dup(fd), "w") : NULL;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		json_t *t = v[i].table, *o;
		size_t k;

		if (!t)
			continue;
		fprintf(f, "P %d %d\n", i + 1, (int)v[i].pid);
		json_array_foreach(json_object_get(t, "ports"), k, o) {
			fprintf(f, "L %lld %lld\n", (long long)num(o, "vlid"), (long long)num(o, "lid"));
			write_gids(f, o);
		}
		json_array_foreach(json_object_get(t, "qps"), k, o)
			fprintf(f, "Q %d %lld %lld %lld %lld\n", i + 1, (long long)num(o, "vlid"),
				(long long)num(o, "vqpn"), (long long)num(o, "lid"), (long long)num(o, "qpn"));
		json_array_foreach(json_object_get(t, "rkeys"), k, o)
			fprintf(f, "K %d %lld %lld\n", i + 1, (long long)json_integer_value(json_array_get(o, 0)),
				(long long)json_integer_value(json_array_get(o, 1)));
	}
	if (fclose(f) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_all(struct vproc *v, int n, char *err, size_t errlen)
{
	int fd = write_table(v, n), r = 0;

	if (fd < 0) {
		snprintf(err, errlen, "cannot write the verbs peer table: %m");
		return -1;
	}
	for (int i = 0; i < n && !r; i++) {
		json_t *ans = NULL;

		if (v[i].table && ask(v[i].pid, "VERBS_CONNECT", fd, 1, &ans, err, errlen) < 0)
			r = -1;
		json_decref(ans);
	}
	close(fd);
	return r;
}

int verbs_exchange(const pid_t *pids, int n, int restored, char *err, size_t errlen)
{
	struct vproc *v = start(pids, n);
	int r;

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r = collect(v, n, "VERBS_REBUILD", restored, err, errlen);
	if (!r)
		r = check_closed(v, n,
				 restored ? "was not checkpointed with it: restore its peer together with it"
					  : "was not checkpointed with it",
				 err, errlen);
	if (!r)
		r = connect_all(v, n, err, errlen);
	/* restored processes are killed on failure; running ones must go on */
	if (!r || !restored)
		go_all(v, n);
	free_all(v, n);
	return r;
}
