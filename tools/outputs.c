/* Output files at dump and restore (outputs.h). */
#include "outputs.h"

#include "output_rule.h"
#include "proc.h"
#include "scratch.h"

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

static json_t *new_entry(json_t *list, pid_t pid, const struct proc_fd *f)
{
	char id[32], key[64], src[64];
	struct stat st;
	json_t *e;

	snprintf(id, sizeof(id), "output-%zu", json_array_size(list));
	snprintf(key, sizeof(key), "file[%x:%" PRIx64 "]", (unsigned)f->mnt_id, f->ino);
	e = json_pack("{s:s,s:s,s:I,s:I,s:i,s:s,s:i,s:I,s:I,s:s,s:[]}", "id", id, "path", f->target, "dev",
		      (json_int_t)f->dev, "ino", (json_int_t)f->ino, "mnt_id", f->mnt_id, "external", key, "mode",
		      (int)(f->mode & 07777), "size_at_dump", (json_int_t)f->size, "pos", (json_int_t)f->pos,
		      "access", "w", "holders");
	/* Owner (for a file recreated at restore), as the fd sees it. */
	snprintf(src, sizeof(src), "/proc/%d/fd/%d", (int)pid, f->fd);
	if (stat(src, &st) == 0) {
		json_object_set_new(e, "uid", json_integer(st.st_uid));
		json_object_set_new(e, "gid", json_integer(st.st_gid));
	}
	scratch_record_dir(e, f->target);
	json_array_append_new(list, e);
	return e;
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

			if (!output_fd_is_output(f) || skip(f->dev, f->ino, ctx))
				continue;
			e = find(list, f->dev, f->ino);
			if (!e)
				e = new_entry(list, procs[i].pid, f);
			/* One fd at restore for all holders: readable if any was. */
			if ((f->flags & O_ACCMODE) == O_RDWR)
				json_object_set_new(e, "access", json_string("rw"));
			json_array_append_new(json_object_get(holder(e, procs[i].pid), "fds"), json_integer(f->fd));
		}
		free(fds);
	}
	return list;
}

/* Gone (a cleaned node): the output starts again in a new file, made with
 * its recorded directories, owner and mode (not the umask's). */
static int create_output(json_t *e, const char *path, int flags, mode_t mode)
{
	int fd, saved;

	if (scratch_make_dirs(e, path) < 0)
		return -1;
	fd = open(path, flags | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return errno == EEXIST ? open(path, flags) : -1; /* someone was quicker */
	if (scratch_fchown(fd, e) < 0 || fchmod(fd, mode) < 0) {
		saved = errno;
		close(fd);
		unlink(path);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Where the shared fd reads from: the recorded position when it was before
 * the end, the end of what the file holds now when it was at the end. */
static void position(int fd, json_t *e)
{
	json_int_t pos = json_integer_value(json_object_get(e, "pos"));
	json_int_t size = json_integer_value(json_object_get(e, "size_at_dump"));

	if (pos >= 0 && pos < size)
		lseek(fd, (off_t)pos, SEEK_SET);
	else
		lseek(fd, 0, SEEK_END);
}

int output_prepare(json_t *e, char *err, size_t errlen)
{
	const char *path = json_string_value(json_object_get(e, "path"));
	const char *access = json_string_value(json_object_get(e, "access"));
	json_t *m = json_object_get(e, "mode");
	mode_t mode = json_is_integer(m) ? (mode_t)json_integer_value(m) & 0777 : 0644;
	struct stat st;
	int fd, flags;

	if (!path || (access && strcmp(access, "w") && strcmp(access, "rw"))) {
		snprintf(err, errlen, "manifest: an output without a path or with an access other than w or rw");
		return -1;
	}
	/* Never through a symbolic link planted there (the recorded path is
	 * a real one), never anything but a regular file (a FIFO would block
	 * here). */
	flags = (access && !strcmp(access, "rw") ? O_RDWR : O_WRONLY) | O_APPEND | O_NOFOLLOW | O_NONBLOCK;
	fd = open(path, flags);
	if (fd < 0 && errno == ENOENT)
		fd = create_output(e, path, flags, mode);
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
	position(fd, e);
	return fd;
}
