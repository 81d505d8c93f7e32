/* The checkpoint manifest on disk. */
#include "manifest.h"

#include "crshim_manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_dir_of(const char *path)
{
	char dir[4096];
	char *slash;
	int fd, r;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int write_file_atomic(const char *path, const char *text, char *err, size_t errlen)
{
	char tmp[4200];
	size_t len = strlen(text);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0 || close(fd) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	fsync_dir_of(path);
	return 0;
}

int manifest_write(const char *dir, json_t *manifest, char *err, size_t errlen)
{
	char path[4200];
	char *text = json_dumps(manifest, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	int r;

	if (!text) {
		snprintf(err, errlen, "cannot encode the manifest");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, CRSHIM_MANIFEST_FILE);
	r = write_file_atomic(path, text, err, errlen);
	free(text);
	return r;
}

/* ---- validation ---- */

#define PID_LIMIT 4194304 /* PID_MAX_LIMIT */

struct vctx {
	char *err;
	size_t errlen;
	char where[96];
};

static int bad(struct vctx *v, const char *field, const char *why)
{
	snprintf(v->err, v->errlen, "malformed manifest: %s%s%s: %s", v->where, *field ? "." : "", field, why);
	return -1;
}

/* An optional member must have the type when present; a required one must be there. */
static json_t *member(struct vctx *v, json_t *o, const char *key, int required, int *fail)
{
	json_t *x = json_object_get(o, key);

	if (!x && required) {
		bad(v, key, "missing");
		*fail = 1;
	}
	return x;
}

static int int_in(struct vctx *v, json_t *o, const char *key, int required, json_int_t lo, json_int_t hi)
{
	int fail = 0;
	json_t *x = member(v, o, key, required, &fail);

	if (fail)
		return -1;
	if (x && (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi))
		return bad(v, key, "not an integer in range");
	return 0;
}

static int bool_ok(struct vctx *v, json_t *o, const char *key)
{
	json_t *x = json_object_get(o, key);

	return x && !json_is_boolean(x) ? bad(v, key, "not a boolean") : 0;
}

static int str_ok(struct vctx *v, json_t *o, const char *key, int required, const char **out)
{
	int fail = 0;
	json_t *x = member(v, o, key, required, &fail);

	if (fail)
		return -1;
	if (x && !json_is_string(x))
		return bad(v, key, "not a string");
	if (x && strlen(json_string_value(x)) != json_string_length(x))
		return bad(v, key, "holds a NUL byte");
	if (x && json_string_length(x) >= 4096)
		return bad(v, key, "too long");
	if (out)
		*out = x ? json_string_value(x) : NULL;
	return 0;
}

/* Absolute, and not "/" itself. */
static int abs_path_ok(struct vctx *v, json_t *o, const char *key)
{
	const char *s;

	if (str_ok(v, o, key, 1, &s) < 0)
		return -1;
	if (s[0] != '/' || !s[1])
		return bad(v, key, "not an absolute path of a file");
	return 0;
}

/* Relative to the checkpoint directory and staying inside it. */
static int inner_path_ok(struct vctx *v, json_t *o, const char *key, int required)
{
	const char *s, *p;

	if (str_ok(v, o, key, required, &s) < 0)
		return -1;
	if (!s)
		return 0;
	if (!s[0] || s[0] == '/')
		return bad(v, key, "not a path inside the checkpoint directory");
	for (p = s; *p; p += strcspn(p, "/"), p += *p == '/') {
		size_t n = strcspn(p, "/");

		if ((n == 2 && p[0] == '.' && p[1] == '.') || n == 0)
			return bad(v, key, "not a path inside the checkpoint directory");
	}
	return 0;
}

static int mode_ok(struct vctx *v, json_t *o, const char *key, int required)
{
	json_t *x = json_object_get(o, key);

	if (int_in(v, o, key, required, 0, 0177777) < 0)
		return -1;
	if (x && (json_integer_value(x) & 06000))
		return bad(v, key, "set-user-ID or set-group-ID bits: refused");
	return 0;
}

static int owner_ok(struct vctx *v, json_t *o)
{
	return int_in(v, o, "uid", 0, 0, 0xfffffffe) < 0 || int_in(v, o, "gid", 0, 0, 0xfffffffe) < 0 ? -1 : 0;
}

static int array_ok(struct vctx *v, json_t *m, const char *key, int required, json_t **out)
{
	int fail = 0;
	json_t *x = member(v, m, key, required, &fail);

	if (fail)
		return -1;
	if (x && !json_is_array(x))
		return bad(v, key, "not an array");
	*out = x;
	return 0;
}

static int each_object(struct vctx *v, json_t *arr, const char *name, int (*fn)(struct vctx *, json_t *))
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e) {
		snprintf(v->where, sizeof(v->where), "%s[%zu]", name, i);
		if (!json_is_object(e))
			return bad(v, "", "not an object");
		if (fn(v, e) < 0)
			return -1;
	}
	v->where[0] = 0;
	return 0;
}

static int pid_list_ok(struct vctx *v, json_t *o, const char *key, int required)
{
	json_t *a, *x;
	size_t i;

	if (array_ok(v, o, key, required, &a) < 0)
		return -1;
	json_array_foreach(a, i, x)
		if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > PID_LIMIT)
			return bad(v, key, "not a list of pids");
	return 0;
}

static int holders_ok(struct vctx *v, json_t *o)
{
	json_t *a, *h;
	size_t i;

	if (array_ok(v, o, "holders", 0, &a) < 0)
		return -1;
	json_array_foreach(a, i, h) {
		json_t *fds, *fd;
		size_t k;

		if (!json_is_object(h) || int_in(v, h, "pid", 1, 1, PID_LIMIT) < 0)
			return bad(v, "holders", "not a list of {pid, ...}");
		if (array_ok(v, h, "fds", 0, &fds) < 0)
			return -1;
		json_array_foreach(fds, k, fd)
			if (!json_is_integer(fd) || json_integer_value(fd) < 0 || json_integer_value(fd) > 0x7fffffff)
				return bad(v, "holders.fds", "not a list of fds");
	}
	return 0;
}

static int external_ok(struct vctx *v, json_t *o, int required)
{
	const char *s;

	if (str_ok(v, o, "external", required, &s) < 0)
		return -1;
	if (s && s[0] && strncmp(s, "file[", 5))
		return bad(v, "external", "not a file[...] key");
	return 0;
}

static int dump_ok(struct vctx *v, json_t *d)
{
	json_t *files = json_object_get(d, "image_files"), *x;
	const char *name;

	if (int_in(v, d, "root_pid", 1, 1, PID_LIMIT) < 0 || inner_path_ok(v, d, "images", 1) < 0 ||
	    pid_list_ok(v, d, "pids", 1) < 0)
		return -1;
	if (files && !json_is_object(files))
		return bad(v, "image_files", "not an object");
	json_object_foreach(files, name, x)
		if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") || !json_is_integer(x) ||
		    json_integer_value(x) < 0)
			return bad(v, "image_files", "not a list of file names and sizes");
	if (!json_array_size(json_object_get(d, "pids")))
		return bad(v, "pids", "empty");
	return 0;
}

static int process_ok(struct vctx *v, json_t *p)
{
	json_t *r = json_object_get(p, "record");

	if (int_in(v, p, "pid", 1, 1, PID_LIMIT) < 0 || bool_ok(v, p, "shim") < 0 ||
	    pid_list_ok(v, p, "threads", 0) < 0)
		return -1;
	return r && !json_is_object(r) && !json_is_null(r) ? bad(v, "record", "not an object") : 0;
}

static int pool_ok(struct vctx *v, json_t *p)
{
	if (abs_path_ok(v, p, "path") < 0 || inner_path_ok(v, p, "data", 1) < 0 ||
	    int_in(v, p, "size", 1, 0, (json_int_t)1 << 56) < 0 || mode_ok(v, p, "mode", 1) < 0 || owner_ok(v, p) < 0 ||
	    bool_ok(v, p, "unlinked") < 0 || external_ok(v, p, 1) < 0 || holders_ok(v, p) < 0)
		return -1;
	return 0;
}

static int scratch_ok(struct vctx *v, json_t *e)
{
	const char *pol;

	if (abs_path_ok(v, e, "path") < 0 || str_ok(v, e, "policy", 1, &pol) < 0)
		return -1;
	if (strcmp(pol, "drop") && strcmp(pol, "keep") && strcmp(pol, "save"))
		return bad(v, "policy", "not drop, keep or save");
	if (inner_path_ok(v, e, "data", !strcmp(pol, "save")) < 0 ||
	    int_in(v, e, "size", 1, 0, (json_int_t)1 << 56) < 0 || mode_ok(v, e, "mode", 1) < 0 || owner_ok(v, e) < 0 ||
	    bool_ok(v, e, "unlinked") < 0 || external_ok(v, e, 1) < 0 || holders_ok(v, e) < 0)
		return -1;
	return 0;
}

static int output_ok(struct vctx *v, json_t *e)
{
	if (abs_path_ok(v, e, "path") < 0 || mode_ok(v, e, "mode", 0) < 0 || external_ok(v, e, 1) < 0 ||
	    holders_ok(v, e) < 0)
		return -1;
	return 0;
}

static int fifo_ok(struct vctx *v, json_t *e)
{
	return abs_path_ok(v, e, "path") < 0 || mode_ok(v, e, "mode", 1) < 0 || owner_ok(v, e) < 0 ? -1 : 0;
}

int manifest_validate(json_t *m, char *err, size_t errlen)
{
	struct vctx v = { err, errlen, "" };
	json_t *a, *x;
	size_t i;

	if (array_ok(&v, m, "dumps", 1, &a) < 0 || each_object(&v, a, "dumps", dump_ok) < 0)
		return -1;
	if (!json_array_size(a))
		return bad(&v, "dumps", "empty");
	if (array_ok(&v, m, "processes", 0, &a) < 0 || each_object(&v, a, "processes", process_ok) < 0 ||
	    array_ok(&v, m, "pools", 1, &a) < 0 || each_object(&v, a, "pools", pool_ok) < 0 ||
	    array_ok(&v, m, "scratch", 0, &a) < 0 || each_object(&v, a, "scratch", scratch_ok) < 0 ||
	    array_ok(&v, m, "outputs", 0, &a) < 0 || each_object(&v, a, "outputs", output_ok) < 0 ||
	    array_ok(&v, m, "fifos", 0, &a) < 0 || each_object(&v, a, "fifos", fifo_ok) < 0 ||
	    array_ok(&v, m, "tcp_listen_ports", 0, &a) < 0)
		return -1;
	json_array_foreach(a, i, x)
		if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 65535)
			return bad(&v, "tcp_listen_ports", "not a list of ports");
	return 0;
}

/* Every CRIU image the dump wrote is there with its size (written by
 * crshim 0.1 and later; older manifests have no image_files). */
static int check_images(json_t *m, const char *dir, char *err, size_t errlen)
{
	size_t i;
	json_t *d;

	json_array_foreach(json_object_get(m, "dumps"), i, d) {
		const char *images = json_string_value(json_object_get(d, "images")), *name;
		json_t *size;

		json_object_foreach(json_object_get(d, "image_files"), name, size) {
			char path[8400];
			struct stat st;

			snprintf(path, sizeof(path), "%s/%s/%s", dir, images, name);
			if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
				snprintf(err, errlen, "%s/%s is missing: the checkpoint is damaged", images, name);
				return -1;
			}
			if ((json_int_t)st.st_size != json_integer_value(size)) {
				snprintf(err, errlen, "%s/%s has %lld bytes, the dump wrote %lld: the checkpoint is damaged",
					 images, name, (long long)st.st_size, (long long)json_integer_value(size));
				return -1;
			}
		}
	}
	return 0;
}

json_t *manifest_load(const char *dir, char *err, size_t errlen)
{
	char path[4200];
	json_error_t je;
	json_t *m;
	const char *fmt;

	snprintf(path, sizeof(path), "%s/%s", dir, CRSHIM_MANIFEST_FILE);
	if (access(path, F_OK) < 0) {
		snprintf(err, errlen, "%s: no %s: not a checkpoint, or an interrupted one", dir,
			 CRSHIM_MANIFEST_FILE);
		return NULL;
	}
	m = json_load_file(path, 0, &je);
	if (!m) {
		snprintf(err, errlen, "%s: line %d: %s", path, je.line, je.text);
		return NULL;
	}
	fmt = json_string_value(json_object_get(m, "format"));
	if (!fmt || strcmp(fmt, CRSHIM_MANIFEST_FORMAT)) {
		snprintf(err, errlen, "%s: not a crshim manifest (format '%s')", path, fmt ? fmt : "");
	} else if (!json_is_integer(json_object_get(m, "version")) ||
		   json_integer_value(json_object_get(m, "version")) != CRSHIM_MANIFEST_VERSION) {
		snprintf(err, errlen, "%s: manifest version %lld is not supported (this crshim reads version %d)",
			 path, (long long)json_integer_value(json_object_get(m, "version")), CRSHIM_MANIFEST_VERSION);
	} else if (!json_is_true(json_object_get(m, "complete"))) {
		snprintf(err, errlen, "%s: the checkpoint is incomplete (the dump was interrupted)", path);
	} else if (!json_is_array(json_object_get(m, "dumps")) || !json_is_array(json_object_get(m, "pools"))) {
		snprintf(err, errlen, "%s: malformed manifest (no dumps or pools)", path);
	} else {
		char why[400];

		if (manifest_validate(m, why, sizeof(why)) == 0 && check_images(m, dir, why, sizeof(why)) == 0)
			return m;
		snprintf(err, errlen, "%s: %s", path, why);
	}
	json_decref(m);
	return NULL;
}
