/* Output files at dump and restore (outputs.h). */
#include "outputs.h"

#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static json_t *find(json_t *list, uint64_t dev, uint64_t ino)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
		if ((uint64_t)json_integer_value(json_object_get(e, "dev")) == dev &&
		    (uint64_t)json_integer_value(json_object_get(e, "ino")) == ino)
			return e;
	return NULL;
}

static json_t *holder(json_t *e, pid_t pid)
{
	size_t i;
	json_t *h, *hs = json_object_get(e, "holders");

	json_array_foreach(hs, i, h)
		if (json_integer_value(json_object_get(h, "pid")) == pid)
			return h;
	h = json_pack("{s:i,s:[]}", "pid", (int)pid, "fds");
	json_array_append_new(hs, h);
	return h;
}

json_t *outputs_discover(const struct dproc *procs, int nprocs, int (*skip)(uint64_t, uint64_t, void *),
			 void *ctx)
{
	json_t *list = json_array();

	for (int i = 0; i < nprocs; i++) {
		struct proc_fd *fds = NULL;
		int n = proc_read_fds(procs[i].pid, &fds);

		for (int k = 0; k < n; k++) {
			struct proc_fd *f = &fds[k];
			json_t *e;

			/* O_WRONLY, positioned at the end: appended to.  (fdinfo's
			 * pos is read at the same time as the size.) */
			if (!S_ISREG(f->mode) || f->target[0] != '/' || f->deleted ||
			    (f->flags & O_ACCMODE) != O_WRONLY || f->pos < f->size || skip(f->dev, f->ino, ctx))
				continue;
			e = find(list, f->dev, f->ino);
			if (!e) {
				char id[32], key[64];

				snprintf(id, sizeof(id), "output-%zu", json_array_size(list));
				snprintf(key, sizeof(key), "file[%x:%" PRIx64 "]", (unsigned)f->mnt_id, f->ino);
				e = json_pack("{s:s,s:s,s:I,s:I,s:i,s:s,s:i,s:I,s:[]}", "id", id, "path", f->target, "dev",
					      (json_int_t)f->dev, "ino", (json_int_t)f->ino, "mnt_id", f->mnt_id,
					      "external", key, "mode", (int)(f->mode & 07777), "size_at_dump",
					      (json_int_t)f->size, "holders");
				json_array_append_new(list, e);
			}
			json_array_append_new(json_object_get(holder(e, procs[i].pid), "fds"), json_integer(f->fd));
		}
		free(fds);
	}
	return list;
}

int output_prepare(json_t *e, char *err, size_t errlen)
{
	const char *path = json_string_value(json_object_get(e, "path"));
	mode_t mode = (mode_t)json_integer_value(json_object_get(e, "mode"));
	struct stat st;
	int fd;

	if (!path) {
		snprintf(err, errlen, "manifest: an output without a path");
		return -1;
	}
	/* Gone (a cleaned node): the output starts again in a new file.  Never
	 * through a symbolic link planted there (the recorded path is a real
	 * one), never anything but a regular file (a FIFO would block here). */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, mode ? mode : 0644);
	if (fd < 0) {
		if (errno == ELOOP)
			snprintf(err, errlen, "output %s is a symbolic link; refusing to write through it", path);
		else
			snprintf(err, errlen, "cannot open output %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || fcntl(fd, F_SETFL, O_APPEND) < 0) {
		snprintf(err, errlen, "output %s is not a regular file; refusing to hand it over", path);
		close(fd);
		return -1;
	}
	return fd;
}
