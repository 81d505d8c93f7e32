/* fds 0-2 of dumped processes, and handing them over at restore --child
 * (stdio_inherit.h). */
#include "stdio_inherit.h"

#include "ptree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The restorer's fds 0-2 are dup'ed this high (CRIU's own fds are low). */
#define HIGH_FD 200

/* Character devices CRIU restores as terminals (tty.c): vt, serial,
 * /dev/tty, console, ptmx, and the pty slaves. */
static int tty_major(unsigned maj)
{
	return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143);
}

/* "r", "w" or "rw": how pid has fd open (/proc/PID/fdinfo). */
static const char *access_of(pid_t pid, int fd)
{
	char path[64], line[128];
	unsigned flags = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "flags: %o", &flags) == 1)
			break;
	if (f)
		fclose(f);
	return (flags & O_ACCMODE) == O_RDONLY ? "r" : (flags & O_ACCMODE) == O_WRONLY ? "w" : "rw";
}

static json_t *one(pid_t pid, int fd)
{
	char link[64], target[4096], key[4200] = "";
	const char *kind;
	struct stat st;
	ssize_t n;
	json_t *e;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0 || stat(link, &st) < 0)
		return json_pack("{s:i,s:s}", "fd", fd, "kind", "closed");
	target[n] = 0;
	if (S_ISFIFO(st.st_mode) && !strncmp(target, "pipe:", 5)) {
		kind = "pipe";
		snprintf(key, sizeof(key), "pipe:[%llu]", (unsigned long long)st.st_ino);
	} else if (S_ISCHR(st.st_mode) && tty_major(major(st.st_rdev))) {
		kind = "tty";
		snprintf(key, sizeof(key), "tty[%llx:%llx]", (unsigned long long)st.st_rdev,
			 (unsigned long long)st.st_dev);
	} else if ((S_ISREG(st.st_mode) || S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) && target[0] == '/') {
		kind = "file";
		/* CRIU names a file by its path minus the "/" (an unlinked one
		 * by a path of its own: not inheritable) */
		if (!strstr(target, " (deleted)"))
			snprintf(key, sizeof(key), "%s", target + 1);
	} else {
		kind = S_ISSOCK(st.st_mode) ? "socket" : "other";
	}
	e = json_pack("{s:i,s:s,s:s,s:s,s:I,s:I}", "fd", fd, "kind", kind, "target", target, "access",
		      access_of(pid, fd), "dev", (json_int_t)st.st_dev, "ino", (json_int_t)st.st_ino);
	if (key[0])
		json_object_set_new(e, "key", json_string(key));
	if (!strcmp(kind, "tty"))
		json_object_set_new(e, "session", json_integer(ptree_tty_session(pid, st.st_rdev)));
	return e;
}

json_t *stdio_collect(pid_t pid)
{
	json_t *v = json_array();

	for (int fd = 0; fd < 3; fd++)
		json_array_append_new(v, one(pid, fd));
	return v;
}

/* ------------------------------------------------------------- restore */

/* One fd 0-2 of a dumped process, with the name CRIU will look up. */
struct want {
	int pid, fd;
	const char *kind, *target, *access;
	const char *key;	/* NULL: restored as it was */
	const char *why;	/* why not, for the note */
	int via_stdin;		/* a terminal CRIU takes from its stdin */
};

static int in_dump(json_t *dump, json_int_t pid)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(dump, "pids"), i, p)
		if (json_integer_value(p) == pid)
			return 1;
	return 0;
}

/* The external name of a manifest list entry with this identity, or NULL. */
static const char *external_of(json_t *list, json_t *e)
{
	size_t i;
	json_t *o;

	json_int_t dev = json_integer_value(json_object_get(e, "dev"));
	json_int_t ino = json_integer_value(json_object_get(e, "ino"));

	json_array_foreach(list, i, o)
		if (json_integer_value(json_object_get(o, "dev")) == dev &&
		    json_integer_value(json_object_get(o, "ino")) == ino)
			return json_string_value(json_object_get(o, "external"));
	return NULL;
}

int stdio_inherit_covers(const struct stdio_inherit *si, const char *key)
{
	for (int i = 0; key && i < si->n; i++)
		if (!strcmp(si->v[i].key, key))
			return 1;
	for (int i = 0; key && i < si->n_stdin_keys; i++)
		if (!strcmp(si->stdin_keys[i], key))
			return 1;
	return 0;
}

static void describe(struct want *w, json_t *e, json_t *m, json_t *dump)
{
	const char *ext;

	w->fd = (int)json_integer_value(json_object_get(e, "fd"));
	w->kind = json_string_value(json_object_get(e, "kind"));
	w->target = json_string_value(json_object_get(e, "target"));
	w->access = json_string_value(json_object_get(e, "access"));
	w->key = json_string_value(json_object_get(e, "key"));
	w->why = "CRIU has no name to replace it by";
	w->via_stdin = 0;
	if (!w->kind || !w->target)
		w->key = NULL;
	else if (!strcmp(w->kind, "file") && (ext = external_of(json_object_get(m, "outputs"), e)))
		w->key = ext + 1; /* an output is external: "file[...]" minus its first character */
	else if (!strcmp(w->kind, "file") && (external_of(json_object_get(m, "pools"), e) ||
					      external_of(json_object_get(m, "scratch"), e))) {
		w->key = NULL;
		w->why = "a pool or scratch file";
	} else if (!strcmp(w->kind, "tty")) {
		json_int_t sid = json_integer_value(json_object_get(e, "session"));

		/*
		 * The controlling terminal of a session whose leader is not in
		 * the checkpoint (a program started from a shell): CRIU wants
		 * that session's leader to set it up when the terminal comes by
		 * name, and fails ("No task found with sid").  With --shell-job
		 * it takes such a terminal from its own stdin instead, and the
		 * restored process joins the restorer's session.
		 */
		w->via_stdin = sid > 0 && !in_dump(dump, sid);
	}
}

/* Does fd allow what the program did with its fd ("r", "w", "rw")? */
static int allows(int fd, const char *access)
{
	int acc = fcntl(fd, F_GETFL) & O_ACCMODE;

	if (!access)
		return 1;
	if (strchr(access, 'r') && acc == O_WRONLY)
		return 0;
	return !strchr(access, 'w') || acc != O_RDONLY;
}

static void note(const struct want *w, const char *why)
{
	if (!strcmp(w->target, "/dev/null"))
		return; /* the same either way */
	fprintf(stderr, "crshim restore: note: fd %d of pid %d (%s) is restored as it was: %s\n", w->fd,
		w->pid, w->target, why);
}

static void choose(struct stdio_inherit *si, struct want *v, int n, int k)
{
	struct want *w = &v[k];

	if (!w->key) {
		note(w, w->why);
		return;
	}
	if (stdio_inherit_covers(si, w->key))
		return;
	/* One name, one file here: fds opened differently on it (/dev/null
	 * as stdin and stderr) cannot all get the same one. */
	for (int i = 0; i < n; i++)
		if (v[i].key && !strcmp(v[i].key, w->key) && v[i].access && w->access &&
		    strcmp(v[i].access, w->access)) {
			note(w, "it is open with another access mode on another fd");
			return;
		}
	if (si->ours[w->fd] < 0) {
		note(w, "that fd is closed here");
		return;
	}
	if (!strcmp(w->kind, "tty") && !isatty(si->ours[w->fd])) {
		note(w, "it was a terminal and this fd is not (CRIU reopens that terminal)");
		return;
	}
	if (w->via_stdin) {
		if (si->tty_stdin < 0)
			si->tty_stdin = si->ours[w->fd];
		if (si->n_stdin_keys < STDIO_MAX_INHERIT)
			snprintf(si->stdin_keys[si->n_stdin_keys++], sizeof(si->stdin_keys[0]), "%s", w->key);
		return;
	}
	if (!allows(si->ours[w->fd], w->access)) {
		note(w, "this fd is not open for that access");
		return;
	}
	if (si->n == STDIO_MAX_INHERIT)
		return;
	si->v[si->n].fd = si->ours[w->fd];
	snprintf(si->v[si->n].key, sizeof(si->v[si->n].key), "%s", w->key);
	si->n++;
}

int stdio_inherit_plan(struct stdio_inherit *si, json_t *m, json_t *dump)
{
	struct want v[3 * 64];
	int n = 0, old = 0;
	size_t i, k;
	json_t *p, *e;

	memset(si, 0, sizeof(*si));
	si->ours[0] = si->ours[1] = si->ours[2] = -1;
	si->tty_stdin = -1;
	for (int fd = 0; fd < 3; fd++) {
		si->ours[fd] = fcntl(fd, F_DUPFD, HIGH_FD);
		if (si->ours[fd] < 0 && errno != EBADF) {
			stdio_inherit_release(si);
			return -1;
		}
	}
	json_array_foreach(json_object_get(m, "processes"), i, p) {
		json_int_t pid = json_integer_value(json_object_get(p, "pid"));

		if (!in_dump(dump, pid))
			continue;
		if (!json_is_array(json_object_get(p, "stdio")))
			old = 1;
		json_array_foreach(json_object_get(p, "stdio"), k, e) {
			json_int_t fd = json_integer_value(json_object_get(e, "fd"));
			const char *kind = json_string_value(json_object_get(e, "kind"));

			if (n == (int)(sizeof(v) / sizeof(v[0])) || fd < 0 || fd > 2 || !kind ||
			    !strcmp(kind, "closed"))
				continue;
			v[n].pid = (int)pid;
			describe(&v[n++], e, m, dump);
		}
	}
	if (old)
		fprintf(stderr, "crshim restore: note: the checkpoint does not record fds 0-2 (an older "
				"crshim): they are restored as they were\n");
	/* Lowest fd first: fd 1 before fd 2 for 2>&1. */
	for (int fd = 0; fd < 3; fd++)
		for (int w = 0; w < n; w++)
			if (v[w].fd == fd)
				choose(si, v, n, w);
	return si->n;
}

void stdio_inherit_release(struct stdio_inherit *si)
{
	for (int fd = 0; fd < 3; fd++) {
		if (si->ours[fd] >= 0)
			close(si->ours[fd]);
		si->ours[fd] = -1;
	}
}
