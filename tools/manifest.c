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
		return m;
	}
	json_decref(m);
	return NULL;
}
