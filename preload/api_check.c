/*
 * crshim_check(): runs `crshim check --json PID` (the crshim of this shim,
 * without the shim preloaded) and reads its answer into the fixed
 * struct crshim_check_report of include/crshim.h.  The analysis itself is
 * tools/check.c; this file only starts the command and parses the few
 * fields it needs with a small JSON reader (no library).
 */
#include "api_int.h"
#include "shim.h"

#include "crshim.h"

#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ANSWER (16u << 20)

/* ----------------------------------------------------------- JSON reader */

struct jr {
	const char *p, *end;
	int bad;
};

static void ws(struct jr *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

static int eat(struct jr *j, char c)
{
	ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return 1;
	}
	return 0;
}

static void put_utf8(char *out, size_t outlen, size_t *n, unsigned cp)
{
	char b[4];
	size_t k = 0;

	if (cp < 0x80) {
		b[k++] = (char)cp;
	} else if (cp < 0x800) {
		b[k++] = (char)(0xc0 | cp >> 6);
		b[k++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		b[k++] = (char)(0xe0 | cp >> 12);
		b[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[k++] = (char)(0x80 | (cp & 0x3f));
	} else {
		b[k++] = (char)(0xf0 | cp >> 18);
		b[k++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[k++] = (char)(0x80 | (cp & 0x3f));
	}
	if (*n + k < outlen) {
		memcpy(out + *n, b, k);
		*n += k;
	}
}

static unsigned hex4(struct jr *j)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++, j->p++) {
		char c = j->p < j->end ? *j->p : 0;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (unsigned)((c | 0x20) - 'a' + 10);
		else
			j->bad = 1;
	}
	return v;
}

static unsigned unescape(char e)
{
	switch (e) {
	case 'n': return '\n';
	case 't': return '\t';
	case 'r': return '\r';
	case 'b': return '\b';
	case 'f': return '\f';
	}
	return (unsigned char)e; /* \" \\ \/ */
}

/* A string, decoded into out (cut to fit; out may be NULL to skip it). */
static void str(struct jr *j, char *out, size_t outlen)
{
	size_t n = 0;

	if (!eat(j, '"')) {
		j->bad = 1;
		return;
	}
	while (j->p < j->end && *j->p != '"') {
		unsigned cp = (unsigned char)*j->p++;

		if (cp == '\\' && j->p < j->end) {
			char e = *j->p++;

			cp = unescape(e);
			if (e == 'u') {
				cp = hex4(j);
				if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' &&
				    j->p[1] == 'u') {
					j->p += 2;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(j) - 0xdc00);
				}
				if (out)
					put_utf8(out, outlen, &n, cp);
				continue;
			}
		}
		if (out && n + 1 < outlen)
			out[n++] = (char)cp;
	}
	if (j->p >= j->end)
		j->bad = 1;
	else
		j->p++;
	if (out && outlen)
		out[n] = 0;
}

static long long num(struct jr *j)
{
	char buf[32];
	size_t n = 0;

	ws(j);
	while (j->p < j->end && n < sizeof(buf) - 1 && *j->p && strchr("+-0123456789.eE", *j->p))
		buf[n++] = *j->p++;
	buf[n] = 0;
	if (!n)
		j->bad = 1;
	return strtoll(buf, NULL, 10);
}

static int boolean(struct jr *j)
{
	ws(j);
	if (j->end - j->p >= 4 && !memcmp(j->p, "true", 4)) {
		j->p += 4;
		return 1;
	}
	if (j->end - j->p >= 5 && !memcmp(j->p, "false", 5)) {
		j->p += 5;
		return 0;
	}
	j->bad = 1;
	return 0;
}

static void skip(struct jr *j, int depth)
{
	ws(j);
	if (j->p >= j->end || depth > 64) {
		j->bad = 1;
		return;
	}
	if (*j->p == '"') {
		str(j, NULL, 0);
	} else if (*j->p == '{' || *j->p == '[') {
		char close = *j->p == '{' ? '}' : ']';

		j->p++;
		if (eat(j, close))
			return;
		do {
			if (close == '}') {
				str(j, NULL, 0);
				if (!eat(j, ':'))
					j->bad = 1;
			}
			skip(j, depth + 1);
		} while (!j->bad && eat(j, ','));
		if (!eat(j, close))
			j->bad = 1;
	} else if (*j->p == 't' || *j->p == 'f') {
		boolean(j);
	} else if (*j->p == 'n' && j->end - j->p >= 4) {
		j->p += 4;
	} else {
		num(j);
	}
}

/* Walk an object: fn(key) reads the value or returns 0 to have it skipped. */
static void object(struct jr *j, int (*fn)(struct jr *, const char *, void *), void *arg)
{
	if (!eat(j, '{')) {
		j->bad = 1;
		return;
	}
	if (eat(j, '}'))
		return;
	do {
		char key[64];

		str(j, key, sizeof(key));
		if (j->bad || !eat(j, ':')) {
			j->bad = 1;
			return;
		}
		if (!fn(j, key, arg))
			skip(j, 0);
	} while (!j->bad && eat(j, ','));
	if (!eat(j, '}'))
		j->bad = 1;
}

/* ---------------------------------------------------------- the report */

static int severity_of(const char *s)
{
	static const char *const names[] = { "ok", "handled", "warn", "blocker" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return CRSHIM_CHECK_WARN;
}

static int item_field(struct jr *j, const char *key, void *arg)
{
	struct crshim_check_item *it = arg;
	char sev[16];

	if (!strcmp(key, "severity")) {
		str(j, sev, sizeof(sev));
		it->severity = severity_of(sev);
	} else if (!strcmp(key, "pid")) {
		it->pid = (int)num(j);
	} else if (!strcmp(key, "what")) {
		str(j, it->what, sizeof(it->what));
	} else if (!strcmp(key, "reason")) {
		str(j, it->reason, sizeof(it->reason));
	} else {
		return 0;
	}
	return 1;
}

static void items(struct jr *j, struct crshim_check_report *r)
{
	if (!eat(j, '[')) {
		j->bad = 1;
		return;
	}
	if (eat(j, ']'))
		return;
	do {
		struct crshim_check_item it;

		memset(&it, 0, sizeof(it));
		object(j, item_field, &it);
		r->count[it.severity]++;
		if (r->nitems < CRSHIM_CHECK_MAX_ITEMS)
			r->items[r->nitems++] = it;
		else
			r->truncated = 1;
	} while (!j->bad && eat(j, ','));
	if (!eat(j, ']'))
		j->bad = 1;
}

static int shim_field(struct jr *j, const char *key, void *arg)
{
	struct crshim_check_report *r = arg;

	if (!strcmp(key, "loaded"))
		r->shim_loaded = boolean(j);
	else if (!strcmp(key, "answers"))
		r->shim_answers = boolean(j);
	else
		return 0;
	return 1;
}

static int report_field(struct jr *j, const char *key, void *arg)
{
	struct crshim_check_report *r = arg;

	if (!strcmp(key, "pid"))
		r->pid = (int)num(j);
	else if (!strcmp(key, "comm"))
		str(j, r->comm, sizeof(r->comm));
	else if (!strcmp(key, "dumpable"))
		r->dumpable = boolean(j);
	else if (!strcmp(key, "processes"))
		r->nprocs = (int)num(j);
	else if (!strcmp(key, "shim"))
		object(j, shim_field, r);
	else if (!strcmp(key, "items"))
		items(j, r);
	else if (!strcmp(key, "error"))
		str(j, r->error, sizeof(r->error));
	else
		return 0;
	return 1;
}

/* ------------------------------------------------------------ the command */

/* Run crshim check --json pid; its output in a malloc'ed buffer. */
static char *run_check(const char *crshim, int pid, size_t *len, int *status)
{
	char pidstr[16], *argv[] = { (char *)crshim, "check", "--json", pidstr, NULL };
	char **env = crs_env_without_preload();
	posix_spawn_file_actions_t fa;
	size_t cap = 65536;
	char *buf = malloc(cap);
	int p[2], spawned = -1;
	pid_t child = -1;

	*len = 0;
	*status = -1;
	if (!env || !buf || pipe2(p, O_CLOEXEC) < 0) {
		free(env);
		free(buf);
		return NULL;
	}
	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	if (posix_spawn_file_actions_init(&fa) == 0) {
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, p[1], 1);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
		spawned = posix_spawn(&child, crshim, &fa, NULL, argv, env);
		posix_spawn_file_actions_destroy(&fa);
	}
	close(p[1]);
	for (;;) {
		ssize_t n;

		if (*len == cap) {
			char *b = cap < MAX_ANSWER ? realloc(buf, cap * 2) : NULL;

			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
		n = read(p[0], buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	close(p[0]);
	if (spawned == 0) {
		int st = 0;
		pid_t w;

		while ((w = waitpid(child, &st, 0)) < 0 && errno == EINTR)
			;
		/* A program that reaps every child (SIGCHLD ignored) leaves us
		 * without a status: the answer tells. */
		*status = w == child && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	}
	free(env);
	return buf;
}

static int errno_for(const char *error)
{
	if (strstr(error, "no process") || strstr(error, "zombie") || strstr(error, "kernel thread"))
		return ESRCH;
	if (strstr(error, "belongs to uid"))
		return EPERM;
	return EIO;
}

static int check(int pid, struct crshim_check_report *r)
{
	char crshim[PATH_MAX];
	struct jr j;
	size_t len;
	int status;
	char *out;

	if (crs_find_crshim(crshim, sizeof(crshim)) < 0) {
		snprintf(r->error, sizeof(r->error),
			 "the crshim command was not found next to libcrshim.so or on PATH");
		errno = ENOENT;
		return -1;
	}
	out = run_check(crshim, pid, &len, &status);
	if (!out) {
		snprintf(r->error, sizeof(r->error), "cannot run %.160s: %.60s", crshim, strerror(errno));
		return -1;
	}
	j.p = out;
	j.end = out + len;
	j.bad = 0;
	object(&j, report_field, r);
	free(out);
	if (r->error[0]) {
		errno = errno_for(r->error);
		return -1;
	}
	if (j.bad || !r->pid) {
		snprintf(r->error, sizeof(r->error), "%.160s check --json %d: unreadable answer (exit %d)",
			 crshim, pid, status);
		errno = EIO;
		return -1;
	}
	return r->dumpable ? 0 : 1;
}

CRS_EXPORT int crshim_impl_check(int pid, struct crshim_check_report *report, size_t size)
{
	int g, r, saved;

	if (!crs_active(CRS_HOOK_ALL)) {
		errno = ENOSYS;
		return -1;
	}
	if (!report || size != sizeof(*report)) {
		errno = EINVAL;
		return -1;
	}
	memset(report, 0, sizeof(*report));
	if (pid < 0) {
		snprintf(report->error, sizeof(report->error), "%d is not a process id", pid);
		errno = ESRCH;
		return -1;
	}
	if (!pid)
		pid = getpid();
	g = crs_guard_enter();
	r = check(pid, report);
	saved = errno;
	if (g)
		crs_guard_leave();
	errno = saved;
	return r;
}
