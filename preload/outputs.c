/*
 * Output files (a job's stdout or log redirected to a file).  CRIU records
 * a regular file's size and refuses to restore once it grew ("File X has
 * bad size"), except for files open write-only with O_APPEND.  So at
 * PREPARE every write-only regular file whose position is at its end (the
 * program appends to it) is switched to O_APPEND: CRIU then restores it
 * whatever it holds, and the restored program's writes continue at the end
 * of what is there, after anything written since the checkpoint.  The
 * program's own flags come back at RESUME and RESTORED (at the file's end).
 * Files written elsewhere than at their end are left alone (CRIU's size
 * check protects them).
 */
#include "jsonw.h"
#include "shim.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_OUTPUTS 64

struct output {
	int fd;
	int switched;		/* we added O_APPEND */
	dev_t dev;
	ino_t ino;
	uint64_t size;
	char path[512];
};

static struct output outs[MAX_OUTPUTS];
static int nouts;

static void consider(int fd)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);
	off_t pos;
	struct output *o;
	char link[64];
	ssize_t n;

	if (fl < 0 || (fl & O_ACCMODE) != O_WRONLY || nouts >= MAX_OUTPUTS)
		return;
	if (syscall(SYS_fstat, fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	o = &outs[nouts];
	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->size = (uint64_t)st.st_size;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, o->path, sizeof(o->path) - 1);
	o->path[n > 0 ? n : 0] = 0;
	if (!(fl & O_APPEND)) {
		pos = lseek(fd, 0, SEEK_CUR);
		if (pos < 0 || (uint64_t)pos != o->size)
			return; /* written in place: not an output */
		if (fcntl(fd, F_SETFL, fl | O_APPEND) < 0)
			return;
		o->switched = 1;
	}
	nouts++;
}

void crs_outputs_prepare(void)
{
	char buf[4096];
	long n;
	int dfd = (int)syscall(SYS_open, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	nouts = 0;
	if (dfd < 0)
		return;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct {
				unsigned long long ino;
				long long off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + off);
			int fd = atoi(d->name);

			off += d->reclen;
			if (d->name[0] >= '0' && d->name[0] <= '9' && fd != dfd)
				consider(fd);
		}
	}
	syscall(SYS_close, dfd);
}

void crs_outputs_resume(void)
{
	for (int i = 0; i < nouts; i++) {
		struct output *o = &outs[i];
		struct stat st;
		int fl;

		if (!o->switched || syscall(SYS_fstat, o->fd, &st) < 0 || st.st_ino != o->ino)
			continue;
		fl = fcntl(o->fd, F_GETFL);
		if (fl < 0 || !(fl & O_APPEND))
			continue;
		/* At the end first: after a restore the position is the
		 * checkpoint's, and the file may have grown since. */
		lseek(o->fd, 0, SEEK_END);
		fcntl(o->fd, F_SETFL, fl & ~O_APPEND);
	}
	nouts = 0;
}

void crs_outputs_report(struct crs_jsonw *w)
{
	crs_jsonw_key(w, "outputs");
	crs_jsonw_arr_begin(w);
	for (int i = 0; i < nouts; i++) {
		crs_jsonw_obj_begin(w);
		crs_jsonw_kv_int(w, "fd", outs[i].fd);
		crs_jsonw_kv_str(w, "path", outs[i].path);
		crs_jsonw_kv_uint(w, "dev", outs[i].dev);
		crs_jsonw_kv_uint(w, "ino", outs[i].ino);
		crs_jsonw_kv_uint(w, "size", outs[i].size);
		crs_jsonw_kv_bool(w, "switched_to_append", outs[i].switched);
		crs_jsonw_obj_end(w);
	}
	crs_jsonw_arr_end(w);
}
