/* /proc/PID readers. */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int proc_exists(pid_t pid)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/%d", (int)pid);
	return access(p, F_OK) == 0;
}

int proc_uid(pid_t pid, uid_t *uid)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%d", (int)pid);
	if (stat(p, &st) < 0)
		return -1;
	*uid = st.st_uid;
	return 0;
}

static int ends_with_deleted(char *path)
{
	size_t n = strlen(path), t = strlen(" (deleted)");

	if (n > t && strcmp(path + n - t, " (deleted)") == 0) {
		path[n - t] = 0;
		return 1;
	}
	return 0;
}

int proc_parse_maps_line(const char *line, struct proc_map *m)
{
	unsigned long long start, end, off, ino;
	int pos = 0;

	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, m->perms, &off, &m->dev_major,
		   &m->dev_minor, &ino, &pos) < 7)
		return -1;
	m->start = (uintptr_t)start;
	m->end = (uintptr_t)end;
	m->offset = off;
	m->ino = ino;
	if (pos > 0 && line[pos]) {
		snprintf(m->path, sizeof(m->path), "%s", line + pos);
		m->path[strcspn(m->path, "\n")] = 0;
		m->deleted = ends_with_deleted(m->path);
	}
	return 0;
}

int proc_read_maps(pid_t pid, struct proc_map **out)
{
	char p[64], *line = NULL;
	size_t cap = 0, n = 0, alloc = 0;
	struct proc_map *v = NULL;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/maps", (int)pid);
	f = fopen(p, "re");
	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		if (n == alloc) {
			struct proc_map *nv = realloc(v, (alloc = alloc ? alloc * 2 : 64) * sizeof(*v));

			if (!nv) {
				free(v);
				free(line);
				fclose(f);
				return -1;
			}
			v = nv;
		}
		if (proc_parse_maps_line(line, &v[n]) == 0)
			n++;
	}
	free(line);
	fclose(f);
	*out = v;
	return (int)n;
}

static void read_fdinfo(pid_t pid, struct proc_fd *fd)
{
	char p[96];
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/fdinfo/%d", (int)pid, fd->fd);
	f = fopen(p, "re");
	if (!f)
		return;
	proc_parse_fdinfo(f, fd);
	fclose(f);
}

void proc_parse_fdinfo(FILE *f, struct proc_fd *fd)
{
	char line[256];

	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "pos: %llu", &v) == 1)
			fd->pos = v;
		else if (sscanf(line, "flags: %llo", &v) == 1)
			fd->flags = (int)v;
		else if (sscanf(line, "mnt_id: %llu", &v) == 1)
			fd->mnt_id = (int)v;
	}
}

static int cmp_fd(const void *a, const void *b)
{
	return ((const struct proc_fd *)a)->fd - ((const struct proc_fd *)b)->fd;
}

int proc_read_fds(pid_t pid, struct proc_fd **out)
{
	char p[64], link[340];
	struct dirent *de;
	size_t n = 0, alloc = 0;
	struct proc_fd *v = NULL;
	DIR *d;

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	d = opendir(p);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		struct proc_fd *f;
		struct stat st;
		ssize_t len;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (n == alloc) {
			struct proc_fd *nv = realloc(v, (alloc = alloc ? alloc * 2 : 32) * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(d);
				return -1;
			}
			v = nv;
		}
		f = &v[n];
		memset(f, 0, sizeof(*f));
		f->fd = atoi(de->d_name);
		snprintf(link, sizeof(link), "%s/%s", p, de->d_name);
		len = readlink(link, f->target, sizeof(f->target) - 1);
		if (len < 0)
			continue; /* closed meanwhile */
		f->target[len] = 0;
		if (stat(link, &st) == 0) {
			f->dev = st.st_dev;
			f->ino = st.st_ino;
			f->size = (uint64_t)st.st_size;
			f->mode = st.st_mode;
		}
		if (f->target[0] == '/')
			f->deleted = ends_with_deleted(f->target);
		read_fdinfo(pid, f);
		n++;
	}
	closedir(d);
	if (n > 1) /* v is NULL for a process that holds no fd (or is gone) */
		qsort(v, n, sizeof(*v), cmp_fd);
	*out = v;
	return (int)n;
}

int proc_link_mnt_id(const char *link)
{
	char info[64], line[128];
	int fd = open(link, O_PATH | O_CLOEXEC), id = -1;
	FILE *f;

	if (fd < 0)
		return -1;
	snprintf(info, sizeof(info), "/proc/self/fdinfo/%d", fd);
	f = fopen(info, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "mnt_id: %d", &id) == 1)
			break;
	if (f)
		fclose(f);
	close(fd);
	return id;
}

int proc_fds_hold_socket(const struct proc_fd *fds, int nfds, unsigned long ino)
{
	char want[48];

	snprintf(want, sizeof(want), "socket:[%lu]", ino);
	for (int i = 0; i < nfds; i++)
		if (!strcmp(fds[i].target, want))
			return 1;
	return 0;
}
