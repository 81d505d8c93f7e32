/* Scratch files at dump and restore (scratch.h). */
#include "scratch.h"

#include "pools.h"
#include "proc.h"
#include "safe_path.h"

#include "crshim_manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

const char *scratch_policy_name(int policy)
{
	return policy == 1 ? "drop" : policy == 2 ? "keep" : policy == 3 ? "save" : "none";
}

static int policy_from_name(const char *s)
{
	if (!s)
		return 0;
	return !strcmp(s, "drop") ? 1 : !strcmp(s, "keep") ? 2 : !strcmp(s, "save") ? 3 : 0;
}

const char *scratch_policy_by_path(json_t *record, const char *path)
{
	static const char *const lists[] = { "scratch", "marks" };
	json_t *cfg = json_object_get(record, "config");
	const char *best = NULL;
	size_t best_len = 0;

	for (int l = 0; l < 2; l++) {
		size_t i;
		json_t *e;

		json_array_foreach(json_object_get(cfg, lists[l]), i, e) {
			const char *d = json_string_value(json_object_get(e, l ? "path" : "dir"));
			size_t n = d ? strlen(d) : 0;

			if (!n || strncmp(path, d, n) || (path[n] != '/' && path[n] != 0) || n < best_len)
				continue;
			best_len = n;
			best = json_string_value(json_object_get(e, "policy"));
		}
	}
	return best;
}

static int policy_by_path(json_t *record, const char *path)
{
	return policy_from_name(scratch_policy_by_path(record, path));
}

/* Policy the shim recorded for this identity. */
static int policy_by_identity(json_t *record, uint64_t dev, uint64_t ino)
{
	size_t i;
	json_t *o;

	json_array_foreach(json_object_get(record, "objects"), i, o)
		if ((uint64_t)json_integer_value(json_object_get(o, "dev")) == dev &&
		    (uint64_t)json_integer_value(json_object_get(o, "ino")) == ino)
			return policy_from_name(json_string_value(json_object_get(o, "scratch")));
	return 0;
}

static json_t *holder(struct scratch *s, pid_t pid)
{
	size_t i;
	json_t *h;

	json_array_foreach(s->holders, i, h)
		if (json_integer_value(json_object_get(h, "pid")) == pid)
			return h;
	h = json_pack("{s:i,s:[],s:[]}", "pid", (int)pid, "fds", "mappings");
	json_array_append_new(s->holders, h);
	return h;
}

/* Birth time in ns (with the inode, the file's identity: inode numbers are
 * reused), -1 when the file system does not keep one. */
static int64_t birth_time(const char *path, int nofollow)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, nofollow ? AT_SYMLINK_NOFOLLOW : 0, STATX_BTIME, &stx) < 0 ||
	    !(stx.stx_mask & STATX_BTIME))
		return -1;
	return (int64_t)stx.stx_btime.tv_sec * 1000000000 + stx.stx_btime.tv_nsec;
}

static struct scratch *find_or_add(struct scratch_set *set, const char *src, const char *path, int deleted,
				   int policy)
{
	struct stat st;
	struct scratch *s;

	if (stat(src, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	for (int i = 0; i < set->n; i++)
		if (set->v[i].dev == st.st_dev && set->v[i].ino == st.st_ino)
			return &set->v[i];
	s = realloc(set->v, (size_t)(set->n + 1) * sizeof(*s));
	if (!s)
		return NULL;
	set->v = s;
	s = &set->v[set->n];
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "scratch-%d", set->n);
	set->n++;
	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(s->src, sizeof(s->src), "%s", src);
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = (uint64_t)st.st_size;
	s->mode = st.st_mode;
	s->uid = st.st_uid;
	s->gid = st.st_gid;
	s->unlinked = deleted || st.st_nlink == 0;
	s->policy = policy;
	if (s->unlinked && policy == 2) {
		s->policy = 3;
		s->downgraded = 1;
	}
	s->btime_ns = birth_time(src, 0);
	s->mnt_id = proc_link_mnt_id(src);
	s->holders = json_array();
	return s;
}

static void scan(struct scratch_set *set, const struct dproc *p)
{
	struct proc_fd *fds = NULL;
	struct proc_map *maps = NULL;
	int nf, nm;

	if (!p->record)
		return; /* policies come from the shim */
	nf = proc_read_fds(p->pid, &fds);
	for (int i = 0; i < nf; i++) {
		char src[64];
		int policy;
		struct scratch *s;

		if (!S_ISREG(fds[i].mode) || fds[i].target[0] != '/')
			continue;
		policy = policy_by_identity(p->record, fds[i].dev, fds[i].ino);
		if (!policy && (fds[i].flags & O_ACCMODE) != O_RDONLY)
			policy = policy_by_path(p->record, fds[i].target);
		if (!policy)
			continue;
		snprintf(src, sizeof(src), "/proc/%d/fd/%d", (int)p->pid, fds[i].fd);
		s = find_or_add(set, src, fds[i].target, fds[i].deleted, policy);
		if (s)
			json_array_append_new(json_object_get(holder(s, p->pid), "fds"), json_integer(fds[i].fd));
	}
	free(fds);
	nm = proc_read_maps(p->pid, &maps);
	for (int i = 0; i < nm; i++) {
		struct proc_map *m = &maps[i];
		char src[128], sb[32], eb[32];
		struct scratch *s = NULL;
		struct stat st;

		if (m->perms[3] != 's' || m->path[0] != '/')
			continue;
		snprintf(src, sizeof(src), "/proc/%d/map_files/%" PRIxPTR "-%" PRIxPTR, (int)p->pid, m->start, m->end);
		if (stat(src, &st) < 0)
			continue;
		for (int k = 0; k < set->n; k++)
			if (set->v[k].dev == st.st_dev && set->v[k].ino == st.st_ino)
				s = &set->v[k];
		if (!s)
			continue; /* a scratch file is known by its fd */
		snprintf(sb, sizeof(sb), "0x%" PRIxPTR, m->start);
		snprintf(eb, sizeof(eb), "0x%" PRIxPTR, m->end);
		json_array_append_new(json_object_get(holder(s, p->pid), "mappings"),
				      json_pack("{s:s,s:s,s:I}", "start", sb, "end", eb, "offset", (json_int_t)m->offset));
	}
	free(maps);
}

int scratch_discover(const struct dproc *procs, int nprocs, struct scratch_set *set)
{
	memset(set, 0, sizeof(*set));
	for (int i = 0; i < nprocs; i++)
		scan(set, &procs[i]);
	for (int i = 0; i < set->n; i++)
		if (set->v[i].mnt_id < 0) {
			fprintf(stderr, "crshim dump: cannot find the mount of scratch file %s\n", set->v[i].path);
			return -1;
		}
	return 0;
}

void scratch_free(struct scratch_set *set)
{
	for (int i = 0; i < set->n; i++)
		json_decref(set->v[i].holders);
	free(set->v);
	memset(set, 0, sizeof(*set));
}

int scratch_has(const struct scratch_set *set, uint64_t dev, uint64_t ino)
{
	for (int i = 0; i < set->n; i++)
		if (set->v[i].dev == dev && set->v[i].ino == ino)
			return 1;
	return 0;
}

int scratch_held_by(const struct scratch *s, pid_t pid)
{
	size_t i;
	json_t *h;

	json_array_foreach(s->holders, i, h)
		if (json_integer_value(json_object_get(h, "pid")) == pid)
			return 1;
	return 0;
}

void scratch_external_key(const struct scratch *s, char *out, size_t outlen)
{
	snprintf(out, outlen, "file[%x:%" PRIx64 "]", (unsigned)s->mnt_id, s->ino);
}

int scratch_save(struct scratch *s, const char *dir, char *err, size_t errlen)
{
	char out_path[4200];
	struct stat st;
	int in = open(s->src, O_RDONLY | O_CLOEXEC), out;

	if (in < 0 || fstat(in, &st) < 0) {
		snprintf(err, errlen, "cannot read scratch file %s: %s", s->path, strerror(errno));
		if (in >= 0)
			close(in);
		return -1;
	}
	/* The size CRIU records, read while frozen. */
	s->size = (uint64_t)st.st_size;
	s->mode = st.st_mode;
	if (s->policy != 3) {
		close(in);
		return 0;
	}
	snprintf(out_path, sizeof(out_path), "%s/scratch/%s.img", dir, s->id);
	out = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0 || sparse_copy(in, out, s->size) < 0 || fstat(out, &st) < 0) {
		snprintf(err, errlen, "cannot save scratch file %s into %s: %s", s->path, out_path, strerror(errno));
		close(in);
		if (out >= 0)
			close(out);
		return -1;
	}
	s->data_bytes = (uint64_t)st.st_blocks * 512;
	close(in);
	close(out);
	return 0;
}

json_t *scratch_to_json(const struct scratch *s)
{
	char key[64], data[64];
	json_t *j;

	scratch_external_key(s, key, sizeof(key));
	j = json_pack("{s:s,s:s,s:s,s:b,s:b,s:I,s:I,s:i,s:s,s:I,s:i,s:i,s:i,s:O}", "id", s->id, "path", s->path,
		      "policy", scratch_policy_name(s->policy), "unlinked", s->unlinked, "keep_downgraded_to_save",
		      s->downgraded, "dev", (json_int_t)s->dev, "ino", (json_int_t)s->ino, "mnt_id", s->mnt_id,
		      "external", key, "size", (json_int_t)s->size, "mode", (int)s->mode, "uid", (int)s->uid, "gid",
		      (int)s->gid, "holders", s->holders);
	if (s->policy == 3) {
		snprintf(data, sizeof(data), "scratch/%s.img", s->id);
		json_object_set_new(j, "data", json_string(data));
		json_object_set_new(j, "data_bytes", json_integer((json_int_t)s->data_bytes));
	}
	if (s->btime_ns >= 0)
		json_object_set_new(j, "btime_ns", json_integer((json_int_t)s->btime_ns));
	scratch_record_dir(j, s->path);
	return j;
}

int scratch_check_kept(json_t *e, char *err, size_t errlen)
{
	const char *path = json_string_value(json_object_get(e, "path"));
	uint64_t size = (uint64_t)json_integer_value(json_object_get(e, "size"));
	struct stat st;

	if (policy_from_name(json_string_value(json_object_get(e, "policy"))) != 2)
		return 0;
	if (!path || stat(path, &st) < 0) {
		snprintf(err, errlen, "scratch file %s (policy keep) is missing: %s", path ? path : "?",
			 strerror(errno));
		return -1;
	}
	if ((uint64_t)st.st_size != size) {
		snprintf(err, errlen, "scratch file %s (policy keep) has %lld bytes, the checkpoint recorded %llu", path,
			 (long long)st.st_size, (unsigned long long)size);
		return -1;
	}
	return 0;
}

void scratch_record_dir(json_t *e, const char *path)
{
	char dir[4096];
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir || stat((*slash = 0, dir), &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	json_object_set_new(e, "dir_mode", json_integer(st.st_mode & 07777));
	json_object_set_new(e, "dir_uid", json_integer(st.st_uid));
	json_object_set_new(e, "dir_gid", json_integer(st.st_gid));
}

static int chown_entry(int fd, json_t *e, const char *ukey, const char *gkey)
{
	json_t *u = json_object_get(e, ukey), *g = json_object_get(e, gkey);

	if (!json_is_integer(u) || !json_is_integer(g) || json_integer_value(u) < 0 ||
	    json_integer_value(u) > 0xfffffffe || json_integer_value(g) < 0 || json_integer_value(g) > 0xfffffffe)
		return 0; /* not recorded (or nonsense): the restorer's */
	if (fchown(fd, (uid_t)json_integer_value(u), (gid_t)json_integer_value(g)) == 0)
		return 0;
	/* A user restoring their own job cannot give files away; root can. */
	return errno == EPERM && geteuid() != 0 ? 0 : -1;
}

int scratch_fchown(int fd, json_t *e)
{
	return chown_entry(fd, e, "uid", "gid");
}

/* The directories from path[start] down to the parent of path, just made:
 * given the recorded directory's owner and mode, top down. */
static int set_new_dirs(json_t *e, char *buf, size_t start)
{
	json_t *m = json_object_get(e, "dir_mode");
	char *name = buf + start, *slash;
	int dirfd, saved;

	if (!json_is_integer(m))
		return 0;
	buf[start - 1] = 0;
	dirfd = open(start > 1 ? buf : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	buf[start - 1] = '/';
	while (dirfd >= 0 && (slash = strchr(name, '/'))) {
		int next;

		*slash = 0;
		next = *name ? openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : dup(dirfd);
		*slash = '/';
		saved = errno;
		close(dirfd);
		errno = saved;
		dirfd = next;
		/* No set-user-ID bit on a directory a restore made. */
		if (dirfd >= 0 && *name &&
		    (chown_entry(dirfd, e, "dir_uid", "dir_gid") < 0 ||
		     fchmod(dirfd, (mode_t)json_integer_value(m) & 03777) < 0)) {
			saved = errno;
			close(dirfd);
			errno = saved;
			return -1;
		}
		name = slash + 1;
	}
	if (dirfd < 0)
		return -1;
	close(dirfd);
	return 0;
}

int scratch_make_dirs(json_t *e, const char *path)
{
	char buf[4096];
	char *slash;
	struct stat st;

	if (!path || path[0] != '/' || strlen(path) >= sizeof(buf)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	slash = strrchr(buf, '/');
	*slash = 0;
	if (slash == buf || stat(buf, &st) == 0)
		return 0; /* there (a non-directory fails at the open) */
	/* The deepest directory that exists: everything below it is new. */
	while ((slash = strrchr(buf, '/')) && slash != buf) {
		*slash = 0;
		if (stat(buf, &st) == 0)
			break;
	}
	if (safe_make_parents(path, 0700) < 0)
		return -1;
	{
		size_t start = (size_t)(slash - buf) + 1;

		snprintf(buf, sizeof(buf), "%s", path);
		return set_new_dirs(e, buf, start);
	}
}

/* The identity string a restored file is tagged with. */
static void entry_tag(json_t *e, char *out, size_t outlen)
{
	snprintf(out, outlen, "%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(e, "dev")), json_integer_value(json_object_get(e, "ino")),
		 json_is_integer(json_object_get(e, "btime_ns")) ? json_integer_value(json_object_get(e, "btime_ns"))
								  : -1);
}

/* Whether the regular file st at path is the entry's own (scratch.h). */
static int is_ours(json_t *e, const char *path, const struct stat *st)
{
	json_t *bt = json_object_get(e, "btime_ns");
	char tag[96], v[96];
	ssize_t n;

	if ((uint64_t)st->st_dev == (uint64_t)json_integer_value(json_object_get(e, "dev")) &&
	    (uint64_t)st->st_ino == (uint64_t)json_integer_value(json_object_get(e, "ino")) &&
	    (!json_is_integer(bt) || birth_time(path, 1) == json_integer_value(bt)))
		return 1;
	entry_tag(e, tag, sizeof(tag));
	n = lgetxattr(path, CRSHIM_SCRATCH_OF_XATTR, v, sizeof(v) - 1);
	if (n <= 0)
		return 0;
	v[n] = 0;
	return strcmp(v, tag) == 0;
}

/* Make room at path for the entry's file: nothing there, or ours, or
 * replace; never through a symbolic link. */
static int clear_path(json_t *e, const char *path, int replace, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot create scratch file %s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(err, errlen, "scratch file %s is a symbolic link; refusing to restore through it", path);
		return -1;
	}
	if (!replace && !(S_ISREG(st.st_mode) && is_ours(e, path, &st))) {
		snprintf(err, errlen,
			 "%s is not the scratch file of the checkpoint (another file stands there); remove it or "
			 "restore with --replace",
			 path);
		return -1;
	}
	if (unlink(path) < 0) {
		snprintf(err, errlen, "cannot replace scratch file %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* A file for a dropped or saved scratch entry: named (in place of what
 * stands there when clear_path allows) or unnamed when it was unlinked. */
static int create_for(json_t *e, const char *path, int unlinked, int replace, char *err, size_t errlen)
{
	uint32_t mode = (uint32_t)json_integer_value(json_object_get(e, "mode"));
	char dir[4096], tag[96];
	char *slash;
	int fd;

	if (unlinked) {
		snprintf(dir, sizeof(dir), "%s", path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir)
			*slash = 0;
		fd = open(dir, O_TMPFILE | O_RDWR, mode & 07777);
		fd = fd >= 0 ? fd : open("/tmp", O_TMPFILE | O_RDWR, mode & 07777);
	} else {
		if (clear_path(e, path, replace, err, errlen) < 0)
			return -1;
		if (scratch_make_dirs(e, path) < 0) {
			snprintf(err, errlen, "cannot create the directories of scratch file %s: %s", path,
				 strerror(errno));
			return -1;
		}
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode & 07777);
		if (fd >= 0) {
			entry_tag(e, tag, sizeof(tag));
			/* Best effort: without it, a second restore of this
			 * checkpoint needs --replace. */
			fsetxattr(fd, CRSHIM_SCRATCH_OF_XATTR, tag, strlen(tag), 0);
		}
	}
	if (fd < 0)
		snprintf(err, errlen, "cannot create scratch file %s: %s", path, strerror(errno));
	return fd;
}

/* save: the copy made at dump, into fd. */
static int fill_saved(json_t *e, const char *dir, int fd, const char *path, uint64_t size, char *err,
		      size_t errlen)
{
	char data[4200];
	struct stat st;
	int in;

	snprintf(data, sizeof(data), "%s/%s", dir, json_string_value(json_object_get(e, "data")));
	in = open(data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in >= 0 && (fstat(in, &st) < 0 || (uint64_t)st.st_size != size)) {
		snprintf(err, errlen, "cannot restore scratch file %s from %s: truncated or of the wrong size", path,
			 data);
		close(in);
		return -1;
	}
	if (in < 0 || sparse_copy(in, fd, size) < 0) {
		snprintf(err, errlen, "cannot restore scratch file %s from %s: %s", path, data, strerror(errno));
		if (in >= 0)
			close(in);
		return -1;
	}
	close(in);
	return 0;
}

int scratch_prepare(json_t *e, const char *dir, int replace, char *err, size_t errlen)
{
	const char *path = json_string_value(json_object_get(e, "path"));
	int policy = policy_from_name(json_string_value(json_object_get(e, "policy")));
	int unlinked = json_is_true(json_object_get(e, "unlinked"));
	uint64_t size = (uint64_t)json_integer_value(json_object_get(e, "size"));
	uint32_t mode = (uint32_t)json_integer_value(json_object_get(e, "mode"));
	int fd;

	if (!path || !policy) {
		snprintf(err, errlen, "manifest: malformed scratch entry");
		return -1;
	}
	if (policy == 2) {
		fd = open(path, O_RDWR | O_NOFOLLOW);
		if (fd < 0)
			snprintf(err, errlen, "cannot open kept scratch file %s: %s", path, strerror(errno));
		return fd;
	}
	fd = create_for(e, path, unlinked, replace, err, errlen);
	if (fd < 0)
		return -1;
	if (policy == 3) {
		if (fill_saved(e, dir, fd, path, size, err, errlen) < 0) {
			close(fd);
			return -1;
		}
	} else if (ftruncate(fd, (off_t)size) < 0) { /* drop: empty, sparse, same size */
		snprintf(err, errlen, "cannot size scratch file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	} else {
		/* Tells the program (crshim_scratch_dropped) before it runs again;
		 * without xattr support the shim compares identities instead. */
		fsetxattr(fd, CRSHIM_DROPPED_XATTR, "1", 1, 0);
	}
	/* Owner first (chown clears the set-ID bits), then the exact recorded
	 * mode: the umask applied at creation must not stay. */
	if (scratch_fchown(fd, e) < 0 || fchmod(fd, mode & 07777) < 0) {
		snprintf(err, errlen, "cannot set the mode or owner of %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
