/* Named FIFOs at dump and restore (fifos.h). */
#include "fifos.h"

#include "pools.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int listed(json_t *list, const char *path)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "path")), path))
			return 1;
	return 0;
}

json_t *fifos_collect(const struct dproc *procs, int nprocs)
{
	json_t *list = json_array();

	for (int i = 0; i < nprocs; i++) {
		struct proc_fd *fds = NULL;
		int n = proc_read_fds(procs[i].pid, &fds);

		for (int k = 0; k < n; k++) {
			struct stat st;

			if (!S_ISFIFO(fds[k].mode) || fds[k].target[0] != '/' || fds[k].deleted ||
			    listed(list, fds[k].target) || stat(fds[k].target, &st) < 0)
				continue;
			json_array_append_new(list, json_pack("{s:s,s:i,s:i,s:i}", "path", fds[k].target, "mode",
							      (int)(st.st_mode & 07777), "uid", (int)st.st_uid,
							      "gid", (int)st.st_gid));
		}
		free(fds);
	}
	return list;
}

/* The FIFO at path, made if missing (its directories too): never through a
 * link planted in them, and only a FIFO may stand there already. */
static int make_fifo(json_t *e, const char *path, char *err, size_t errlen)
{
	mode_t mode = (mode_t)json_integer_value(json_object_get(e, "mode"));
	const char *name;
	struct stat st;
	int at = recreate_open_dir(path, &name, err, errlen), r;

	if (at < 0)
		return -1;
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		r = S_ISFIFO(st.st_mode) ? 0 : -1;
		if (r < 0)
			snprintf(err, errlen, "%s must be a FIFO, but something else stands there", path);
		close(at);
		return r;
	}
	/* (no chmod through a symlink swapped in after mkfifo) */
	r = mkfifoat(at, name, mode) < 0 || fchmodat(at, name, mode, AT_SYMLINK_NOFOLLOW) < 0 ? -1 : 0;
	if (r < 0)
		snprintf(err, errlen, "cannot make the FIFO %s: %s", path, strerror(errno));
	else if (fchownat(at, name, (uid_t)json_integer_value(json_object_get(e, "uid")),
			  (gid_t)json_integer_value(json_object_get(e, "gid")), AT_SYMLINK_NOFOLLOW) < 0 &&
		 errno != EPERM) {
		snprintf(err, errlen, "cannot set the owner of %s: %s", path, strerror(errno));
		r = -1;
	}
	close(at);
	return r;
}

int fifos_recreate(json_t *fifos, char *err, size_t errlen)
{
	size_t i;
	json_t *e;

	json_array_foreach(fifos, i, e) {
		const char *path = json_string_value(json_object_get(e, "path"));

		if (path && make_fifo(e, path, err, errlen) < 0)
			return -1;
	}
	return 0;
}
