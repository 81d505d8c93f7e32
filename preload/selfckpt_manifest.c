/*
 * The checkpoint directory of crshim_checkpoint_self, in the layout of
 * `crshim dump` (include/crshim_manifest.h) so that `crshim restore`
 * restores it: DIR/manifest.json (written last, atomically),
 * DIR/dumps/PID/criu.conf (the options used), the CRIU images and
 * dump.log beside it.  What a self-checkpoint hands over at restore:
 * output files (regular files open write-only at their end: appended to
 * again) and the files under ranges given to crshim_discard_region (drop
 * policy); there are no pools.  Each process also gets its "stdio" (fds
 * 0-2), which `crshim restore --child` reattaches.
 */
#include "api_int.h"
#include "jsonw.h"
#include "shim.h"

#include "crshim_manifest.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

void crs_self_external_key(int mnt_id, uint64_t ino, char *out, size_t outlen)
{
	snprintf(out, outlen, "file[%x:%llx]", (unsigned)mnt_id, (unsigned long long)ino);
}

/* pos, flags and mnt_id of one of our fds (/proc/self/fdinfo). */
static int fdinfo(int fd, long long *pos, int *flags, int *mnt_id)
{
	char path[64], buf[1024], *line;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	*pos = 0;
	*flags = 0;
	*mnt_id = -1;
	for (line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		sscanf(line, "pos: %lld", pos);
		sscanf(line, "flags: %o", (unsigned *)flags);
		sscanf(line, "mnt_id: %d", mnt_id);
	}
	return 0;
}

int crs_fd_mnt_id(int fd)
{
	long long pos;
	int flags, mnt_id;

	return fdinfo(fd, &pos, &flags, &mnt_id) < 0 ? -1 : mnt_id;
}

static int is_discard_fd(const struct crs_self_ckpt *c, int fd)
{
	for (int i = 0; i < c->ndiscard; i++)
		if (c->discard[i].fd == fd)
			return 1;
	return 0;
}

/* One fd: an output (write-only, at its end, named, regular)? */
static void maybe_output(struct crs_self_ckpt *c, int fd)
{
	char link[64], target[1024];
	struct stat st;
	long long pos;
	int flags, mnt_id, k;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || is_discard_fd(c, fd))
		return;
	target[n] = 0;
	if (target[0] != '/' || strstr(target, " (deleted)") || fdinfo(fd, &pos, &flags, &mnt_id) < 0 ||
	    (flags & O_ACCMODE) != O_WRONLY || pos < st.st_size || mnt_id < 0)
		return;
	for (k = 0; k < c->noutputs; k++)
		if (c->outputs[k].dev == st.st_dev && c->outputs[k].ino == st.st_ino)
			break;
	if (k == c->noutputs) {
		if (k == (int)(sizeof(c->outputs) / sizeof(c->outputs[0])))
			return;
		memset(&c->outputs[k], 0, sizeof(c->outputs[k]));
		c->outputs[k].dev = st.st_dev;
		c->outputs[k].ino = st.st_ino;
		c->outputs[k].size = (uint64_t)st.st_size;
		c->outputs[k].mode = st.st_mode & 07777;
		c->outputs[k].mnt_id = mnt_id;
		snprintf(c->outputs[k].path, sizeof(c->outputs[k].path), "%s", target);
		c->noutputs++;
	}
	if (c->outputs[k].nfds < 8)
		c->outputs[k].fds[c->outputs[k].nfds++] = fd;
}

int crs_self_collect(struct crs_self_ckpt *c)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	c->ndiscard = crs_discard_list(c->discard, (int)(sizeof(c->discard) / sizeof(c->discard[0])));
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
			maybe_output(c, atoi(de->d_name));
	closedir(d);
	return 0;
}

int crs_self_write_config(const struct crs_self_ckpt *c)
{
	char path[PATH_MAX + 16], key[64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/criu.conf", c->images);
	f = fopen(path, "wxe");
	if (!f)
		return -1;
	fprintf(f,
		"# CRIU options of crshim_checkpoint_self (libcriu) for pid %d.\n"
		"# crshim restore repeats the ones restore needs.\n"
		"log-file dump.log\nverbosity 4\nshell-job\ntcp-established\nnetwork-lock nftables\n"
		"ext-unix-sk\nleave-running\n%s",
		(int)c->pid, c->file_locks ? "file-locks\n" : "");
	for (int i = 0; i < c->noutputs; i++) {
		crs_self_external_key(c->outputs[i].mnt_id, c->outputs[i].ino, key, sizeof(key));
		fprintf(f, "# output %s\nexternal %s\n", c->outputs[i].path, key);
	}
	for (int i = 0; i < c->ndiscard; i++) {
		crs_self_external_key(crs_fd_mnt_id(c->discard[i].fd), c->discard[i].ino, key, sizeof(key));
		fprintf(f, "# discarded range 0x%lx-0x%lx\nexternal %s\n", (unsigned long)c->discard[i].start,
			(unsigned long)c->discard[i].end, key);
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- stdio */

/* "r", "w" or "rw": how pid has fd open. */
static const char *access_of(pid_t pid, int fd)
{
	char path[64], buf[512], *p;
	unsigned flags = 0;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	n = f >= 0 ? read(f, buf, sizeof(buf) - 1) : -1;
	if (f >= 0)
		close(f);
	if (n > 0) {
		buf[n] = 0;
		p = strstr(buf, "flags:");
		if (p)
			sscanf(p, "flags: %o", &flags);
	}
	return (flags & O_ACCMODE) == O_RDONLY ? "r" : (flags & O_ACCMODE) == O_WRONLY ? "w" : "rw";
}

static int tty_major(unsigned maj)
{
	return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143);
}

/* Parent, session and controlling terminal (the kernel's encoding of its
 * device) of pid from /proc/PID/stat; zeros if it cannot be read. */
static void stat_of(pid_t pid, int *ppid, int *session, unsigned *tty_nr)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	*ppid = *session = 0;
	*tty_nr = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (p && sscanf(p + 1, " %*c %d %*d %d %u", ppid, session, tty_nr) != 3)
		*ppid = *session = 0;
}

/* The session CRIU records for terminal rdev held by pid: pid's session
 * when it is pid's controlling terminal, else 0 (tools/ptree.h). */
static int tty_session(pid_t pid, dev_t rdev)
{
	unsigned maj = major(rdev), min = minor(rdev), tty_nr;
	int ppid, session;

	stat_of(pid, &ppid, &session, &tty_nr);
	return tty_nr == ((min & 0xff) | (maj << 8) | ((min & ~0xffu) << 12)) ? session : 0;
}

/* fds 0-2 of pid with CRIU's inherit-fd name for each (see
 * include/crshim_manifest.h, "stdio"). */
static void write_stdio(struct crs_jsonw *w, pid_t pid)
{
	crs_jsonw_key(w, "stdio");
	crs_jsonw_arr_begin(w);
	for (int fd = 0; fd < 3; fd++) {
		char link[64], target[1024], key[1100];
		const char *kind;
		struct stat st;
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fd);
		n = readlink(link, target, sizeof(target) - 1);
		crs_jsonw_obj_begin(w);
		crs_jsonw_kv_int(w, "fd", fd);
		if (n <= 0 || stat(link, &st) < 0) {
			crs_jsonw_kv_str(w, "kind", "closed");
			crs_jsonw_obj_end(w);
			continue;
		}
		target[n] = 0;
		key[0] = 0;
		if (S_ISFIFO(st.st_mode) && !strncmp(target, "pipe:", 5)) {
			kind = "pipe";
			snprintf(key, sizeof(key), "pipe:[%llu]", (unsigned long long)st.st_ino);
		} else if (S_ISCHR(st.st_mode) && tty_major(major(st.st_rdev))) {
			kind = "tty";
			snprintf(key, sizeof(key), "tty[%llx:%llx]", (unsigned long long)st.st_rdev,
				 (unsigned long long)st.st_dev);
		} else if ((S_ISREG(st.st_mode) || S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) &&
			   target[0] == '/') {
			kind = "file";
			if (!strstr(target, " (deleted)"))
				snprintf(key, sizeof(key), "%s", target + 1);
		} else {
			kind = S_ISSOCK(st.st_mode) ? "socket" : "other";
		}
		crs_jsonw_kv_str(w, "kind", kind);
		crs_jsonw_kv_str(w, "target", target);
		crs_jsonw_kv_str(w, "access", access_of(pid, fd));
		if (key[0])
			crs_jsonw_kv_str(w, "key", key);
		crs_jsonw_kv_uint(w, "dev", st.st_dev);
		crs_jsonw_kv_uint(w, "ino", st.st_ino);
		if (!strcmp(kind, "tty"))
			crs_jsonw_kv_int(w, "session", tty_session(pid, st.st_rdev));
		crs_jsonw_obj_end(w);
	}
	crs_jsonw_arr_end(w);
}

/* ------------------------------------------------------------- manifest */

static void write_process(struct crs_jsonw *w, const struct crs_self_ckpt *c, pid_t pid)
{
	char link[64], exe[PATH_MAX];
	int ppid, session;
	unsigned tty_nr;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	stat_of(pid, &ppid, &session, &tty_nr);
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_int(w, "pid", pid);
	crs_jsonw_kv_int(w, "ppid", ppid);
	crs_jsonw_kv_int(w, "dump", 0);
	crs_jsonw_kv_str(w, "exe", exe);
	crs_jsonw_kv_bool(w, "shim", pid == c->pid);
	crs_jsonw_key(w, "record");
	if (pid == c->pid) {
		crs_jsonw_obj_begin(w);
		crs_jsonw_kv_bool(w, "ok", 1);
		crs_jsonw_kv_str(w, "phase", "prepared");
		crs_report_write(w);
		crs_jsonw_obj_end(w);
	} else {
		crs_jsonw_null(w);
	}
	write_stdio(w, pid);
	crs_jsonw_obj_end(w);
}

static void write_dumps(struct crs_jsonw *w, const struct crs_self_ckpt *c)
{
	char images[64], conf[80];

	snprintf(images, sizeof(images), "dumps/%d", (int)c->pid);
	snprintf(conf, sizeof(conf), "dumps/%d/criu.conf", (int)c->pid);
	crs_jsonw_key(w, "dumps");
	crs_jsonw_arr_begin(w);
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_int(w, "root_pid", c->pid);
	crs_jsonw_kv_str(w, "images", images);
	crs_jsonw_kv_str(w, "config", conf);
	crs_jsonw_key(w, "pids");
	crs_jsonw_arr_begin(w);
	for (int i = 0; i < c->npids; i++)
		crs_jsonw_int(w, c->pids[i]);
	crs_jsonw_arr_end(w);
	crs_jsonw_kv_uint(w, "dump_ms", (uint64_t)(c->seconds * 1000));
	/* The images' directory was open in the process (libcriu needs it):
	 * restore hands it back under this name. */
	crs_jsonw_kv_int(w, "self_images_fd", c->images_fd);
	crs_jsonw_kv_str(w, "self_images_path", c->images_abs);
	crs_jsonw_obj_end(w);
	crs_jsonw_arr_end(w);
}

static void holder_fds(struct crs_jsonw *w, pid_t pid, const int *fds, int nfds)
{
	crs_jsonw_key(w, "holders");
	crs_jsonw_arr_begin(w);
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_int(w, "pid", pid);
	crs_jsonw_key(w, "fds");
	crs_jsonw_arr_begin(w);
	for (int i = 0; i < nfds; i++)
		crs_jsonw_int(w, fds[i]);
	crs_jsonw_arr_end(w);
}

static void write_outputs(struct crs_jsonw *w, const struct crs_self_ckpt *c)
{
	crs_jsonw_key(w, "outputs");
	crs_jsonw_arr_begin(w);
	for (int i = 0; i < c->noutputs; i++) {
		const struct crs_self_output *o = &c->outputs[i];
		char id[32], key[64];

		snprintf(id, sizeof(id), "output-%d", i);
		crs_self_external_key(o->mnt_id, o->ino, key, sizeof(key));
		crs_jsonw_obj_begin(w);
		crs_jsonw_kv_str(w, "id", id);
		crs_jsonw_kv_str(w, "path", o->path);
		crs_jsonw_kv_uint(w, "dev", o->dev);
		crs_jsonw_kv_uint(w, "ino", o->ino);
		crs_jsonw_kv_int(w, "mnt_id", o->mnt_id);
		crs_jsonw_kv_str(w, "external", key);
		crs_jsonw_kv_uint(w, "mode", o->mode);
		crs_jsonw_kv_uint(w, "size_at_dump", o->size);
		holder_fds(w, c->pid, o->fds, o->nfds);
		crs_jsonw_obj_end(w);
		crs_jsonw_arr_end(w);
		crs_jsonw_obj_end(w);
	}
	crs_jsonw_arr_end(w);
}

/* Discarded ranges: scratch files with the drop policy. */
static void write_scratch(struct crs_jsonw *w, const struct crs_self_ckpt *c)
{
	crs_jsonw_key(w, "scratch");
	crs_jsonw_arr_begin(w);
	for (int i = 0; i < c->ndiscard; i++) {
		const struct crs_discard_info *d = &c->discard[i];
		int mnt_id = crs_fd_mnt_id(d->fd);
		char id[32], key[64];
		struct stat st;

		if (fstat(d->fd, &st) < 0)
			continue;
		snprintf(id, sizeof(id), "scratch-%d", i);
		crs_self_external_key(mnt_id, d->ino, key, sizeof(key));
		crs_jsonw_obj_begin(w);
		crs_jsonw_kv_str(w, "id", id);
		crs_jsonw_kv_str(w, "path", d->path);
		crs_jsonw_kv_str(w, "policy", "drop");
		crs_jsonw_kv_bool(w, "unlinked", 1);
		crs_jsonw_kv_bool(w, "keep_downgraded_to_save", 0);
		crs_jsonw_kv_uint(w, "dev", d->dev);
		crs_jsonw_kv_uint(w, "ino", d->ino);
		crs_jsonw_kv_int(w, "mnt_id", mnt_id);
		crs_jsonw_kv_str(w, "external", key);
		crs_jsonw_kv_uint(w, "size", (uint64_t)st.st_size);
		crs_jsonw_kv_uint(w, "mode", st.st_mode);
		crs_jsonw_kv_uint(w, "uid", st.st_uid);
		crs_jsonw_kv_uint(w, "gid", st.st_gid);
		holder_fds(w, c->pid, &d->fd, 1);
		crs_jsonw_key(w, "mappings");
		crs_jsonw_arr_begin(w);
		crs_jsonw_obj_begin(w);
		crs_jsonw_kv_hex(w, "start", d->start);
		crs_jsonw_kv_hex(w, "end", d->end);
		crs_jsonw_kv_uint(w, "offset", 0);
		crs_jsonw_obj_end(w);
		crs_jsonw_arr_end(w);
		crs_jsonw_obj_end(w);
		crs_jsonw_arr_end(w);
		crs_jsonw_obj_end(w);
	}
	crs_jsonw_arr_end(w);
}

static void write_body(struct crs_jsonw *w, const struct crs_self_ckpt *c)
{
	char when[32];
	struct utsname u;
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	uname(&u);
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_str(w, "format", CRSHIM_MANIFEST_FORMAT);
	crs_jsonw_kv_int(w, "version", CRSHIM_MANIFEST_VERSION);
	crs_jsonw_kv_bool(w, "complete", 1);
	crs_jsonw_kv_str(w, "created", when);
	crs_jsonw_kv_str(w, "host", u.nodename);
	crs_jsonw_key(w, "criu");
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_str(w, "path", c->criu);
	crs_jsonw_kv_str(w, "version", "unknown");
	crs_jsonw_obj_end(w);
	crs_jsonw_kv_bool(w, "tree", c->npids > 1);
	crs_jsonw_kv_bool(w, "leave_running", 1);
	crs_jsonw_kv_bool(w, "self_checkpoint", 1);
	write_dumps(w, c);
	crs_jsonw_key(w, "processes");
	crs_jsonw_arr_begin(w);
	for (int i = 0; i < c->npids; i++)
		write_process(w, c, c->pids[i]);
	crs_jsonw_arr_end(w);
	crs_jsonw_key(w, "pools");
	crs_jsonw_arr_begin(w);
	crs_jsonw_arr_end(w);
	write_scratch(w, c);
	write_outputs(w, c);
	crs_jsonw_key(w, "fifos");
	crs_jsonw_arr_begin(w);
	crs_jsonw_arr_end(w);
	crs_jsonw_obj_end(w);
}

int crs_self_write_manifest(const struct crs_self_ckpt *c)
{
	char tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	struct crs_jsonw *w = malloc(sizeof(*w));
	int fd, ok, saved;

	if (!w)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp.%d", c->dir, CRSHIM_MANIFEST_FILE, (int)c->pid);
	snprintf(path, sizeof(path), "%s/%s", c->dir, CRSHIM_MANIFEST_FILE);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(w);
		return -1;
	}
	crs_jsonw_init(w, fd);
	write_body(w, c);
	ok = crs_jsonw_flush(w) == 0 && !w->error && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	saved = errno;
	free(w);
	if (close(fd) < 0 || !ok || rename(tmp, path) < 0) {
		saved = ok ? errno : saved;
		unlink(tmp);
		errno = saved ? saved : EIO;
		return -1;
	}
	return 0;
}
