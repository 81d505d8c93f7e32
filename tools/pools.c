/* Pool discovery (from /proc), saving and recreating; see pools.h. */
#include "pools.h"

#include "proc.h"
#include "safe_path.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

static int volatile_location(const char *src, const char *path)
{
	struct statfs sf;

	if (statfs(src, &sf) == 0 && sf.f_type == TMPFS_MAGIC)
		return 1;
	return !strncmp(path, "/tmp/", 5) || !strncmp(path, "/var/tmp/", 9) || !strncmp(path, "/run/", 5) ||
	       !strncmp(path, "/dev/shm/", 9);
}

static json_t *record_object(json_t *record, uint64_t dev, uint64_t ino)
{
	size_t i;
	json_t *o;

	json_array_foreach(json_object_get(record, "objects"), i, o)
		if ((uint64_t)json_integer_value(json_object_get(o, "dev")) == dev &&
		    (uint64_t)json_integer_value(json_object_get(o, "ino")) == ino)
			return o;
	return NULL;
}

static json_t *holder_of(struct pool *p, pid_t pid)
{
	size_t i;
	json_t *h;

	json_array_foreach(p->holders, i, h)
		if (json_integer_value(json_object_get(h, "pid")) == pid)
			return h;
	h = json_pack("{s:i,s:[],s:[]}", "pid", (int)pid, "fds", "mappings");
	json_array_append_new(p->holders, h);
	return h;
}

int pool_held_by(const struct pool *p, pid_t pid)
{
	size_t i;
	json_t *h;

	json_array_foreach(p->holders, i, h)
		if (json_integer_value(json_object_get(h, "pid")) == pid)
			return 1;
	return 0;
}

/* The pool with this identity, created from the first sighting. */
static struct pool *pool_for(struct pool_set *set, const char *src, pid_t pid, const char *path,
			     int deleted, json_t *record)
{
	struct stat st;
	struct pool *p;
	json_t *o;

	if (stat(src, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	for (int i = 0; i < set->n; i++)
		if (set->v[i].dev == st.st_dev && set->v[i].ino == st.st_ino)
			return &set->v[i];
	p = realloc(set->v, (size_t)(set->n + 1) * sizeof(*p));
	if (!p)
		return NULL;
	set->v = p;
	p = &set->v[set->n];
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "pool-%d", set->n);
	set->n++;
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	p->size = (uint64_t)st.st_size;
	p->mode = st.st_mode;
	p->uid = st.st_uid;
	p->gid = st.st_gid;
	p->unlinked = deleted || st.st_nlink == 0;
	p->mnt_id = proc_link_mnt_id(src);
	p->src.pid = pid;
	snprintf(p->src.path, sizeof(p->src.path), "%s", src);
	snprintf(p->path, sizeof(p->path), "%s", path);
	snprintf(p->kind, sizeof(p->kind), "%s", !strncmp(path, "/memfd:", 7) ? "memfd" : "file");
	o = record_object(record, p->dev, p->ino);
	if (o) {
		const char *kind = json_string_value(json_object_get(o, "kind"));
		const char *rpath = json_string_value(json_object_get(o, "path"));

		if (kind && (!strcmp(kind, "posix_shm") || !strcmp(kind, "memfd")))
			snprintf(p->kind, sizeof(p->kind), "%s", kind);
		if (rpath && rpath[0] == '/')
			snprintf(p->path, sizeof(p->path), "%s", rpath);
	}
	p->holders = json_array();
	return p;
}

static void add_maps(struct pool_set *set, pid_t pid, json_t *record)
{
	struct proc_map *maps = NULL;
	int n = proc_read_maps(pid, &maps);

	for (int i = 0; i < n; i++) {
		struct proc_map *m = &maps[i];
		char src[128], startb[32], endb[32];
		struct pool *p;

		if (m->perms[3] != 's' || !m->ino || m->path[0] != '/' || !strcmp(m->path, "/dev/zero") ||
		    !strncmp(m->path, "/SYSV", 5))
			continue;
		snprintf(src, sizeof(src), "/proc/%d/map_files/%" PRIxPTR "-%" PRIxPTR, (int)pid, m->start, m->end);
		if (!m->deleted && strncmp(m->path, "/memfd:", 7) && !volatile_location(src, m->path))
			continue;
		p = pool_for(set, src, pid, m->path, m->deleted, record);
		if (!p)
			continue;
		snprintf(startb, sizeof(startb), "0x%" PRIxPTR, m->start);
		snprintf(endb, sizeof(endb), "0x%" PRIxPTR, m->end);
		json_array_append_new(json_object_get(holder_of(p, pid), "mappings"),
				      json_pack("{s:s,s:s,s:I,s:s}", "start", startb, "end", endb, "offset",
						(json_int_t)m->offset, "prot", m->perms));
	}
	free(maps);
}

static void add_fds(struct pool_set *set, pid_t pid, json_t *record)
{
	struct proc_fd *fds = NULL;
	int n = proc_read_fds(pid, &fds);

	for (int i = 0; i < n; i++) {
		struct proc_fd *f = &fds[i];
		int read_write = (f->flags & O_ACCMODE) == O_RDWR;
		char src[64];
		struct pool *p;

		if (!S_ISREG(f->mode) || f->target[0] != '/')
			continue;
		snprintf(src, sizeof(src), "/proc/%d/fd/%d", (int)pid, f->fd);
		/* Named files: only those read and written in a volatile place
		 * (session files, lock files).  Write-only files and files
		 * open for append (a+) are outputs: CRIU keeps their path, the
		 * scratch/output policies apply. */
		if (!f->deleted && strncmp(f->target, "/memfd:", 7) &&
		    !(read_write && !(f->flags & O_APPEND) && volatile_location(src, f->target)))
			continue;
		p = pool_for(set, src, pid, f->target, f->deleted, record);
		if (p)
			json_array_append_new(json_object_get(holder_of(p, pid), "fds"), json_integer(f->fd));
	}
	free(fds);
}

int pools_discover(const pid_t *pids, json_t *const *records, int npids, struct pool_set *set,
		   char *err, size_t errlen)
{
	memset(set, 0, sizeof(*set));
	for (int i = 0; i < npids; i++) {
		if (!proc_exists(pids[i])) {
			snprintf(err, errlen, "pid %d exited", (int)pids[i]);
			return -1;
		}
		add_maps(set, pids[i], records[i]);
		add_fds(set, pids[i], records[i]);
	}
	for (int i = 0; i < set->n; i++)
		if (set->v[i].mnt_id < 0) {
			snprintf(err, errlen, "cannot find the mount of %s (held by pid %d)", set->v[i].path,
				 (int)set->v[i].src.pid);
			return -1;
		}
	return 0;
}

/* The pool with this identity, or NULL. */
static struct pool *pool_with(struct pool_set *set, uint64_t dev, uint64_t ino)
{
	for (int i = 0; i < set->n; i++)
		if (set->v[i].dev == dev && set->v[i].ino == ino)
			return &set->v[i];
	return NULL;
}

/* Holders (fds, shared mappings) of the known pools in pid, into fresh
 * (holders[i] for pool i); the first /proc link of each becomes its
 * source.  -1 if pid's /proc cannot be read. */
static int rescan_one(struct pool_set *set, pid_t pid, json_t **fresh, struct pool_src *src)
{
	struct proc_fd *fds = NULL;
	struct proc_map *maps = NULL;
	int nf = proc_read_fds(pid, &fds), nm = proc_read_maps(pid, &maps);

	for (int i = 0; i < nf; i++) {
		struct pool *p = fds[i].ino ? pool_with(set, fds[i].dev, fds[i].ino) : NULL;
		int k = p ? (int)(p - set->v) : -1;
		json_t *h;

		if (k < 0)
			continue;
		h = json_pack("{s:i,s:[i],s:[]}", "pid", (int)pid, "fds", fds[i].fd, "mappings");
		json_array_append_new(fresh[k], h);
		if (!src[k].path[0]) {
			src[k].pid = pid;
			snprintf(src[k].path, sizeof(src[k].path), "/proc/%d/fd/%d", (int)pid, fds[i].fd);
		}
	}
	for (int i = 0; i < nm; i++) {
		struct proc_map *m = &maps[i];
		char link[128], startb[32], endb[32];
		struct stat st;
		struct pool *p;
		int k;

		if (m->perms[3] != 's' || !m->ino)
			continue;
		/* stat the file, as discovery did: /proc/PID/maps shows the
		 * underlying inode on overlayfs */
		snprintf(link, sizeof(link), "/proc/%d/map_files/%" PRIxPTR "-%" PRIxPTR, (int)pid, m->start, m->end);
		if (stat(link, &st) < 0 || !(p = pool_with(set, st.st_dev, st.st_ino)))
			continue;
		k = (int)(p - set->v);
		snprintf(startb, sizeof(startb), "0x%" PRIxPTR, m->start);
		snprintf(endb, sizeof(endb), "0x%" PRIxPTR, m->end);
		json_array_append_new(fresh[k], json_pack("{s:i,s:[],s:[{s:s,s:s,s:I,s:s}]}", "pid", (int)pid, "fds",
							  "mappings", "start", startb, "end", endb, "offset",
							  (json_int_t)m->offset, "prot", m->perms));
		if (!src[k].path[0]) {
			src[k].pid = pid;
			snprintf(src[k].path, sizeof(src[k].path), "%s", link);
		}
	}
	free(fds);
	free(maps);
	return nf < 0 || nm < 0 ? -1 : 0;
}

/* One holder entry per pid: merge the per-fd and per-mapping entries. */
static json_t *merge_holders(json_t *entries)
{
	json_t *out = json_array(), *e;
	size_t i;

	json_array_foreach(entries, i, e) {
		json_t *h = NULL, *x;
		size_t k;

		json_array_foreach(out, k, x)
			if (json_integer_value(json_object_get(x, "pid")) == json_integer_value(json_object_get(e, "pid")))
				h = x;
		if (!h) {
			json_array_append(out, e);
			continue;
		}
		json_array_extend(json_object_get(h, "fds"), json_object_get(e, "fds"));
		json_array_extend(json_object_get(h, "mappings"), json_object_get(e, "mappings"));
	}
	return out;
}

int pools_recheck(struct pool_set *set, const pid_t *pids, int npids, FILE *note)
{
	json_t **fresh = calloc((size_t)set->n + 1, sizeof(json_t *));
	struct pool_src *src = calloc((size_t)set->n + 1, sizeof(*src));
	int ok = fresh && src, out = 0, dropped = 0;

	for (int i = 0; ok && i < set->n; i++)
		ok = (fresh[i] = json_array()) != NULL;
	for (int i = 0; ok && i < npids; i++)
		ok = rescan_one(set, pids[i], fresh, src) == 0;
	for (int i = 0; ok && i < set->n; i++) {
		struct pool *p = &set->v[i];

		if (!src[i].path[0]) {
			fprintf(note, "crshim dump: note: %s was closed and unmapped by every process before the freeze: "
				      "not part of the checkpoint\n", p->path);
			json_decref(p->holders);
			dropped++;
			continue;
		}
		json_decref(p->holders);
		p->holders = merge_holders(fresh[i]);
		p->src = src[i];
		set->v[out++] = *p;
	}
	if (ok)
		set->n = out;
	for (int i = 0; fresh && i < set->n + dropped; i++)
		json_decref(fresh[i]);
	free(fresh);
	free(src);
	return ok ? dropped : -1;
}

void pools_free(struct pool_set *set)
{
	for (int i = 0; i < set->n; i++)
		json_decref(set->v[i].holders);
	free(set->v);
	free(set->memfd_warning);
	memset(set, 0, sizeof(*set));
}

void pool_external_key(const struct pool *p, char *out, size_t outlen)
{
	snprintf(out, outlen, "file[%x:%" PRIx64 "]", (unsigned)p->mnt_id, p->ino);
}

int64_t sparse_copy(int in, int out, uint64_t size)
{
	off_t pos = 0;
	int64_t copied = 0;
	int plain_io = 0; /* copy_file_range refused once: do not ask again */

	while ((uint64_t)pos < size) {
		off_t data = lseek(in, pos, SEEK_DATA), hole;

		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole is left */
			data = pos; /* no SEEK_DATA: copy everything */
		}
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		while (data < hole) {
			off_t o_in = data, o_out = data;
			ssize_t n = plain_io ? -1 : copy_file_range(in, &o_in, out, &o_out, (size_t)(hole - data), 0);

			if (n < 0 && (plain_io || errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP)) {
				char buf[1 << 16];

				plain_io = 1;
				n = pread(in, buf, sizeof(buf) < (size_t)(hole - data) ? sizeof(buf) : (size_t)(hole - data),
					  data);
				if (n > 0 && pwrite(out, buf, (size_t)n, data) != n)
					return -1;
			}
			if (n < 0)
				return -1;
			if (n == 0)
				break; /* the file shrank under us */
			data += n;
			copied += n;
		}
		pos = hole;
	}
	if (ftruncate(out, (off_t)size) < 0)
		return -1;
	return copied;
}

int pool_save(struct pool *p, const char *dir, char *err, size_t errlen)
{
	char out_path[4200];
	struct stat st;
	int in, out;
	int64_t n;

	in = open(p->src.path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		snprintf(err, errlen, "cannot read pool %s through %s: %s", p->path, p->src.path, strerror(errno));
		return -1;
	}
	if (fstat(in, &st) == 0)
		p->size = (uint64_t)st.st_size; /* final size, read while frozen */
	snprintf(out_path, sizeof(out_path), "%s/pools/%s.img", dir, p->id);
	out = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		snprintf(err, errlen, "cannot create %s: %s", out_path, strerror(errno));
		close(in);
		return -1;
	}
	n = sparse_copy(in, out, p->size);
	if (n < 0 || fstat(out, &st) < 0) {
		snprintf(err, errlen, "cannot save pool %s to %s: %s", p->path, out_path, strerror(errno));
		close(in);
		close(out);
		return -1;
	}
	p->data_bytes = (uint64_t)st.st_blocks * 512;
	close(in);
	if (close(out) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", out_path, strerror(errno));
		return -1;
	}
	return 0;
}

json_t *pool_to_json(const struct pool *p)
{
	char key[64], data[64];

	pool_external_key(p, key, sizeof(key));
	snprintf(data, sizeof(data), "pools/%s.img", p->id);
	return json_pack("{s:s,s:s,s:s,s:b,s:I,s:I,s:i,s:s,s:I,s:i,s:i,s:i,s:s,s:I,s:O}", "id", p->id, "kind",
			 p->kind, "path", p->path, "unlinked", p->unlinked, "dev", (json_int_t)p->dev, "ino",
			 (json_int_t)p->ino, "mnt_id", p->mnt_id, "external", key, "size", (json_int_t)p->size,
			 "mode", (int)p->mode, "uid", (int)p->uid, "gid", (int)p->gid, "data", data, "data_bytes",
			 (json_int_t)p->data_bytes, "holders", p->holders);
}

/* The first component of path that is a symbolic link not owned by root
 * (what safe_make_parents refuses to follow), into out; 0 if none. */
static int planted_link(const char *path, char *out, size_t outlen)
{
	char buf[4096];
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		if (lstat(buf, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid != 0) {
			snprintf(out, outlen, "%s is a symbolic link owned by uid %u", buf, (unsigned)st.st_uid);
			return 1;
		}
		*s = '/';
	}
	return 0;
}

int recreate_open_dir(const char *path, const char **name, char *err, size_t errlen)
{
	char dir[4096], why[4200];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash || path[0] != '/' || !slash[1] || (size_t)(slash - path) >= sizeof(dir)) {
		snprintf(err, errlen, "%s: not an absolute path of a file", path);
		return -1;
	}
	/* mode 0700: Open MPI's session directories */
	if (safe_make_parents(path, 0700) < 0) {
		int e = errno;

		if (e == ELOOP && planted_link(path, why, sizeof(why)))
			snprintf(err, errlen,
				 "refusing to restore %s: %s (only root's links are followed in the directories "
				 "above a recreated file)", path, why);
		else
			snprintf(err, errlen, "cannot create the directories of %s: %s", path,
				 e == ELOOP ? "a symbolic link in the path" : strerror(e));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	/* (the components were just checked; a root-owned link is followed) */
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "cannot open the directory of %s: %s", path, strerror(errno));
	*name = slash + 1;
	return fd;
}

static int create_unnamed(const char *path, uint32_t mode)
{
	char dir[4096];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = 0;
	/* Same directory (same file system) as the original when it exists. */
	fd = open(dir, O_TMPFILE | O_RDWR, mode & 07777);
	if (fd < 0)
		fd = open("/dev/shm", O_TMPFILE | O_RDWR, mode & 07777);
	return fd;
}

/* Move name (in dirfd) aside to a hidden unique name of the same
 * directory, never replacing anything: renameat2(RENAME_NOREPLACE), which
 * acts on the name itself (a symbolic link is not followed). */
static int move_aside(int dirfd, const char *name, char *aside, size_t asidelen)
{
	for (int n = 0; n < 100; n++) {
		snprintf(aside, asidelen, ".crshim-old.%.180s.%d.%d", name, (int)getpid(), n);
		struct stat st;
		int r = renameat2(dirfd, name, dirfd, aside, RENAME_NOREPLACE);

		/* a file system without RENAME_NOREPLACE: look first */
		if (r < 0 && errno == EINVAL && fstatat(dirfd, aside, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
			r = renameat(dirfd, name, dirfd, aside);
		if (r == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	aside[0] = 0;
	return -1;
}

/* The named file at path: refused when something stands there, unless
 * --replace, which moves a non-directory aside (undo->aside) until the
 * restore is known to have succeeded (pool_undo_commit). */
static int create_named(const char *path, uint32_t mode, int replace, struct pool_undo *undo, char *err,
			size_t errlen)
{
	const char *name;
	struct stat st;
	int dirfd, fd;

	dirfd = recreate_open_dir(path, &name, err, errlen);
	if (dirfd < 0)
		return -1;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode)) {
			snprintf(err, errlen, "%s is a symbolic link; refusing to restore a pool through it", path);
			close(dirfd);
			return -1;
		}
		if (!replace) {
			snprintf(err, errlen, "%s already exists; remove it or restore with --replace", path);
			close(dirfd);
			return -1;
		}
		if (S_ISDIR(st.st_mode) || move_aside(dirfd, name, undo->aside, sizeof(undo->aside)) < 0) {
			snprintf(err, errlen, "cannot replace %s: %s", path,
				 S_ISDIR(st.st_mode) ? "it is a directory" : strerror(errno));
			close(dirfd);
			return -1;
		}
	}
	undo->dirfd = dirfd;
	snprintf(undo->name, sizeof(undo->name), "%s", name);
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode & 07777);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		undo->created = 0;
		pool_undo_rollback(undo, NULL, 0);
		return -1;
	}
	undo->created = 1;
	undo->dev = st.st_dev;
	undo->ino = st.st_ino;
	return fd;
}

void pool_undo_init(struct pool_undo *u)
{
	memset(u, 0, sizeof(*u));
	u->dirfd = -1;
}

int pool_undo_rollback(struct pool_undo *u, char *err, size_t errlen)
{
	struct stat st;
	int r = 0;

	if (u->dirfd < 0)
		return 0;
	if (u->aside[0]) {
		/* atomically over the new file (or into a free name) */
		r = renameat(u->dirfd, u->aside, u->dirfd, u->name);
		if (r < 0 && err)
			snprintf(err, errlen, "cannot put %s back from %s: %s", u->name, u->aside, strerror(errno));
	} else if (u->created && fstatat(u->dirfd, u->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == u->dev &&
		   st.st_ino == u->ino) {
		unlinkat(u->dirfd, u->name, 0); /* ours, still: remove it */
	}
	close(u->dirfd);
	pool_undo_init(u);
	return r;
}

void pool_undo_commit(struct pool_undo *u)
{
	if (u->dirfd < 0)
		return;
	if (u->aside[0])
		unlinkat(u->dirfd, u->aside, 0);
	close(u->dirfd);
	pool_undo_init(u);
}

int pool_recreate(json_t *pool, const char *dir, int replace, char *err, size_t errlen)
{
	struct pool_undo undo;
	int fd;

	pool_undo_init(&undo);
	fd = pool_recreate_undo(pool, dir, replace, &undo, err, errlen);
	pool_undo_commit(&undo);
	return fd;
}

int pool_recreate_undo(json_t *pool, const char *dir, int replace, struct pool_undo *undo, char *err,
		       size_t errlen)
{
	const char *path = json_string_value(json_object_get(pool, "path"));
	const char *data = json_string_value(json_object_get(pool, "data"));
	uint64_t size = (uint64_t)json_integer_value(json_object_get(pool, "size"));
	uint32_t mode = (uint32_t)json_integer_value(json_object_get(pool, "mode"));
	int unlinked = json_is_true(json_object_get(pool, "unlinked"));
	char data_path[4200];
	struct stat st;
	int in, fd;

	if (!path || !data) {
		snprintf(err, errlen, "manifest: a pool without path or data");
		return -1;
	}
	snprintf(data_path, sizeof(data_path), "%s/%s", dir, data);
	in = open(data_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0 || fstat(in, &st) < 0 || (uint64_t)st.st_size != size) {
		snprintf(err, errlen, "pool %s: cannot use its saved copy %s: %s", path, data_path,
			 in < 0 ? strerror(errno) : "truncated or of the wrong size");
		if (in >= 0)
			close(in);
		return -1;
	}
	fd = unlinked ? create_unnamed(path, mode) : create_named(path, mode, replace, undo, err, errlen);
	if (fd < 0) {
		if (unlinked)
			snprintf(err, errlen, "cannot create a file for pool %s: %s", path, strerror(errno));
		close(in);
		return -1;
	}
	if (sparse_copy(in, fd, size) < 0 || fchmod(fd, mode & 07777) < 0) {
		snprintf(err, errlen, "cannot fill pool %s: %s", path, strerror(errno));
		close(in);
		close(fd);
		pool_undo_rollback(undo, NULL, 0);
		return -1;
	}
	close(in);
	if (fchown(fd, (uid_t)json_integer_value(json_object_get(pool, "uid")),
		   (gid_t)json_integer_value(json_object_get(pool, "gid"))) < 0 &&
	    errno != EPERM) {
		snprintf(err, errlen, "cannot set the owner of pool %s: %s", path, strerror(errno));
		close(fd);
		pool_undo_rollback(undo, NULL, 0);
		return -1;
	}
	return fd;
}
