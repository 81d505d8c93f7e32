/* Reading /proc/PID: the ground truth for mappings and fds. */
#ifndef CRSHIM_PROC_H
#define CRSHIM_PROC_H

#include <stdint.h>
#include <sys/types.h>

struct proc_map {
	uintptr_t start, end;
	char perms[5];		/* "rw-s" */
	uint64_t offset;
	unsigned dev_major, dev_minor;
	uint64_t ino;
	char path[4096];	/* may end in " (deleted)" */
	int deleted;
};

/* Read /proc/PID/maps; returns the count (array malloc'ed in *out) or -1. */
int proc_read_maps(pid_t pid, struct proc_map **out);

struct proc_fd {
	int fd;
	char target[4096];	/* readlink of /proc/PID/fd/N */
	uint64_t dev, ino;	/* stat of the fd (0 if it failed) */
	uint64_t size;
	uint32_t mode;
	int flags;		/* from /proc/PID/fdinfo/N */
	uint64_t pos;
	int mnt_id;
	int deleted;
};
/* Read /proc/PID/fd and fdinfo; returns the count (malloc'ed *out) or -1. */
int proc_read_fds(pid_t pid, struct proc_fd **out);

/* Owner uid of the process; -1 if it does not exist. */
int proc_uid(pid_t pid, uid_t *uid);
/* 1 if the process exists (including zombies). */
int proc_exists(pid_t pid);
/* mnt_id of what a /proc link (fd/N, map_files/S-E) leads to, as CRIU
 * will see it: opened here and asked through our own fdinfo.  -1 if not. */
int proc_link_mnt_id(const char *link);
/* 1 if one of fds is the socket with this inode ("socket:[INO]"). */
int proc_fds_hold_socket(const struct proc_fd *fds, int nfds, unsigned long ino);

/* Parse one maps line (exposed for the fuzzers and unit tests). */
int proc_parse_maps_line(const char *line, struct proc_map *m);
/* Parse an fdinfo file (pos, flags, mnt_id) into fd (exposed for the
 * fuzzers). */
#include <stdio.h>
void proc_parse_fdinfo(FILE *f, struct proc_fd *fd);
#define CRSHIM_PROC_PARSE_FDINFO 1

#endif
