/*
 * shim_resources: creates one of every resource kind libcrshim.so records,
 * optionally from several threads at once, describes each one on stdout and
 * then obeys commands read from stdin, so a test can compare
 * `crshim status --json` with what really exists (/proc/PID/maps, fd).
 *
 *   shim_resources [-t NTHREADS] [-c CHURN] [-K] [-s SCRATCHDIR]... [-u] [-e] WORKDIR
 *
 * WORKDIR must be an existing directory under /tmp (the shim records files
 * opened for writing there).  Each thread T (all released together by a
 * barrier) creates, in this order:
 *   file      WORKDIR/file-T: 3 pages, mapped MAP_SHARED rw at offset 4096
 *             (2 pages) and r-- at offset 0 (1 page), fd kept open
 *   poolmap   WORKDIR/poolmap-T: mapped MAP_SHARED, fd closed, then unlinked
 *   poolfd    WORKDIR/poolfd-T: written, unlinked, held open, not mapped
 *   shm       shm_open /crs-res-PID-T (kept), 2 pages mapped, fd kept
 *   shmgone   shm_open /crs-gone-PID-T, mapped, shm_unlink'ed, fd closed
 *   memfd     memfd_create crs-res-T, 2 pages mapped, fd kept
 *   sysv      shmget(KEY, 10000), attached, no IPC_RMID
 *   sysvrmid  shmget(KEY, 10000), attached, IPC_RMID
 *   scratch   SCRATCHDIR/scratch-T for every -s, written, fd kept
 *   anon      MAP_SHARED|MAP_ANONYMOUS, 2 pages
 * -c N first makes each thread create and destroy N anonymous shared
 * mappings, memfd mappings and unlinked file mappings (churn); with -K every
 * second churned anonymous mapping is kept (and reported as "keep").
 * -u (thread 0 only): a MAP_SHARED file mapping and an unlinked open file
 * made with raw system calls, which the shim cannot see ("unseen" lines).
 * -e (thread 0 only): edge cases: a shared mapping whose length is not a
 * page multiple ("odd"), a file mapped through an fd number that was reused
 * after fclose() ("reuse"), and an O_TMPFILE file mapped shared ("tmpfile").
 *
 * Output, one line per resource:
 *   R KIND THREAD PATH ADDR LEN OFFSET PROT FD DEV INO SYSVKEY SYSVID
 * ("-" where a field does not apply; ADDR is 0x..., DEV is st_dev decimal),
 * then "ready PID".  Commands on stdin (one per line):
 *   phase2  thread 0's resources change: file's first rw page unmapped and
 *           the file renamed to file-0.renamed; anon grown to 4 pages with
 *           mremap (may move); poolfd closed; shm unlinked; sysv IPC_RMID;
 *           sysvrmid detached; memfd unmapped.  Prints "M ..." lines for
 *           the new state and "ready2".
 *   fork    forks a child that makes its own memfd "crs-child" (mapped),
 *           prints "R memfd-child ..." and "child PID", and lives until the
 *           "reap" command.  Prints "forked PID".
 *   reap    ends the child (exit(0) in the child) and prints
 *           "reaped PID STATUS".
 *   exec    execs this program again in "-x" mode with the environment
 *           kept; fd of thread 0's memfd stays open across the exec (it has
 *           no close-on-exec flag).  The new image makes a memfd
 *           "crs-after-exec" (mapped) and prints "R memfd-exec ...",
 *           "execed PID INHERITED_FD" and then reads commands again.
 *   quit    (or end of input, or SIGTERM) removes every name and segment
 *           it made and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define MAX_THREADS 64
#define MAX_SCRATCH 4
#define SYSV_SIZE 10000

struct res {
	/* file */
	char file_path[512];
	int file_fd;
	char *file_rw, *file_ro;
	/* poolmap */
	char *poolmap;
	/* poolfd */
	int poolfd_fd;
	/* shm */
	char shm_name[64];
	int shm_fd;
	char *shm_map;
	char shmgone_name[64];
	char *shmgone_map;
	/* memfd */
	int memfd_fd;
	char *memfd_map;
	/* sysv */
	int sysv_id, sysvrmid_id;
	key_t sysv_key, sysvrmid_key;
	char *sysv_map, *sysvrmid_map;
	/* scratch */
	int scratch_fd[MAX_SCRATCH];
	/* anon */
	char *anon;
	size_t anon_len;
};

static const char *workdir;
static const char *scratch_dirs[MAX_SCRATCH];
static int nscratch;
static int nthreads = 1, churn, keep_churn, unseen, edges;
static struct res res[MAX_THREADS];
static pthread_barrier_t barrier;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static int failed;
static pid_t child_pid = -1;
static int child_pipe = -1;

static void die(const char *what)
{
	fprintf(stderr, "shim_resources: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&out_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

/* One "R" line; fd < 0 and st == NULL print "-". */
static void report(const char *kind, int t, const char *path, const void *addr, size_t len,
		   long off, const char *prot, int fd, key_t key, int sysv_id)
{
	struct stat st;
	char devino[64] = "- -", keyb[32] = "-", idb[32] = "-", fdb[16] = "-", addrb[32] = "-";
	char lenb[32] = "-", offb[32] = "-";

	if (fd >= 0 && fstat(fd, &st) == 0)
		snprintf(devino, sizeof(devino), "%llu %llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
	else if (path && path[0] == '/' && stat(path, &st) == 0)
		snprintf(devino, sizeof(devino), "%llu %llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
	if (fd >= 0)
		snprintf(fdb, sizeof(fdb), "%d", fd);
	if (addr) {
		snprintf(addrb, sizeof(addrb), "%p", addr);
		snprintf(lenb, sizeof(lenb), "%zu", len);
		snprintf(offb, sizeof(offb), "%ld", off);
	}
	if (sysv_id >= 0) {
		snprintf(keyb, sizeof(keyb), "%d", (int)key);
		snprintf(idb, sizeof(idb), "%d", sysv_id);
	}
	out("R %s %d %s %s %s %s %s %s %s %s %s\n", kind, t, path && path[0] ? path : "-", addrb, lenb,
	    offb, prot ? prot : "-", fdb, devino, keyb, idb);
}

static void fill(void *p, size_t len, int seed)
{
	memset(p, 'a' + seed % 26, len);
}

__attribute__((noinline)) static char *map_fd(int fd, size_t len, int prot, long off)
{
	char *p = mmap(NULL, len, prot, MAP_SHARED, fd, off);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

__attribute__((noinline)) static int open_file(const char *path, size_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		die(path);
	if (ftruncate(fd, (off_t)size) < 0)
		die("ftruncate");
	return fd;
}

/* SysV keys: unique per pid and thread; IPC_EXCL guards against leftovers. */
static int make_sysv(int t, int which, key_t *keyp)
{
	for (int attempt = 0; attempt < 64; attempt++) {
		key_t key = (key_t)(0x43000000 + attempt * 0x10000 +
				    ((getpid() & 0x3ff) << 6) + t * 2 + which);
		int id = shmget(key, SYSV_SIZE, IPC_CREAT | IPC_EXCL | 0600);

		if (id >= 0) {
			*keyp = key;
			return id;
		}
		if (errno != EEXIST)
			die("shmget");
	}
	errno = EEXIST;
	die("shmget: no free key");
	return -1;
}

static void churn_once(int t, int i, int keep)
{
	char path[600];
	char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int fd;

	if (p == MAP_FAILED)
		die("mmap churn");
	p[0] = 1;
	if (keep)
		report("keep", t, NULL, p, PAGE, 0, "rw-s", -1, 0, -1);
	else if (munmap(p, PAGE) < 0)
		die("munmap churn");

	fd = memfd_create("crs-churn", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, PAGE) < 0)
		die("memfd churn");
	p = map_fd(fd, PAGE, PROT_READ | PROT_WRITE, 0);
	p[1] = 2;
	close(fd);
	munmap(p, PAGE);

	snprintf(path, sizeof(path), "%s/churn-%d-%d", workdir, t, i);
	fd = open_file(path, PAGE);
	p = map_fd(fd, PAGE, PROT_READ | PROT_WRITE, 0);
	unlink(path);
	close(fd);
	p[2] = 3;
	munmap(p, PAGE);
}

__attribute__((noinline)) static void make_all(int t)
{
	struct res *r = &res[t];
	char path[600];

	/* file: two mappings of one file, fd kept */
	snprintf(r->file_path, sizeof(r->file_path), "%s/file-%d", workdir, t);
	r->file_fd = open_file(r->file_path, 3 * PAGE);
	r->file_rw = map_fd(r->file_fd, 2 * PAGE, PROT_READ | PROT_WRITE, PAGE);
	fill(r->file_rw, 2 * PAGE, t);
	r->file_ro = map_fd(r->file_fd, PAGE, PROT_READ, 0);
	report("file", t, r->file_path, r->file_rw, 2 * PAGE, PAGE, "rw-s", r->file_fd, 0, -1);
	report("file-ro", t, r->file_path, r->file_ro, PAGE, 0, "r--s", r->file_fd, 0, -1);

	/* poolmap: mapped, closed, unlinked */
	snprintf(path, sizeof(path), "%s/poolmap-%d", workdir, t);
	{
		int fd = open_file(path, 2 * PAGE);

		r->poolmap = map_fd(fd, 2 * PAGE, PROT_READ | PROT_WRITE, 0);
		report("poolmap", t, path, r->poolmap, 2 * PAGE, 0, "rw-s", fd, 0, -1);
		close(fd);
		if (unlink(path) < 0)
			die("unlink poolmap");
		fill(r->poolmap, 2 * PAGE, t + 1);
	}

	/* poolfd: held open, unlinked, never mapped */
	snprintf(path, sizeof(path), "%s/poolfd-%d", workdir, t);
	r->poolfd_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (r->poolfd_fd < 0 || write(r->poolfd_fd, "pool\n", 5) != 5)
		die("poolfd");
	report("poolfd", t, path, NULL, 0, 0, NULL, r->poolfd_fd, 0, -1);
	if (unlink(path) < 0)
		die("unlink poolfd");

	/* POSIX shm, kept */
	snprintf(r->shm_name, sizeof(r->shm_name), "/crs-res-%d-%d", (int)getpid(), t);
	r->shm_fd = shm_open(r->shm_name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (r->shm_fd < 0 || ftruncate(r->shm_fd, 2 * PAGE) < 0)
		die("shm_open");
	r->shm_map = map_fd(r->shm_fd, 2 * PAGE, PROT_READ | PROT_WRITE, 0);
	fill(r->shm_map, 2 * PAGE, t + 2);
	snprintf(path, sizeof(path), "/dev/shm%s", r->shm_name);
	report("shm", t, path, r->shm_map, 2 * PAGE, 0, "rw-s", r->shm_fd, 0, -1);

	/* POSIX shm, unlinked while mapped */
	snprintf(r->shmgone_name, sizeof(r->shmgone_name), "/crs-gone-%d-%d", (int)getpid(), t);
	{
		int fd = shm_open(r->shmgone_name, O_RDWR | O_CREAT | O_EXCL, 0600);

		if (fd < 0 || ftruncate(fd, PAGE) < 0)
			die("shm_open gone");
		r->shmgone_map = map_fd(fd, PAGE, PROT_READ | PROT_WRITE, 0);
		snprintf(path, sizeof(path), "/dev/shm%s", r->shmgone_name);
		report("shmgone", t, path, r->shmgone_map, PAGE, 0, "rw-s", fd, 0, -1);
		if (shm_unlink(r->shmgone_name) < 0)
			die("shm_unlink");
		close(fd);
		fill(r->shmgone_map, PAGE, t + 3);
	}

	/* memfd (no close-on-exec: the exec command keeps thread 0's) */
	snprintf(path, sizeof(path), "crs-res-%d", t);
	r->memfd_fd = memfd_create(path, 0);
	if (r->memfd_fd < 0 || ftruncate(r->memfd_fd, 2 * PAGE) < 0)
		die("memfd_create");
	r->memfd_map = map_fd(r->memfd_fd, 2 * PAGE, PROT_READ | PROT_WRITE, 0);
	fill(r->memfd_map, 2 * PAGE, t + 4);
	snprintf(path, sizeof(path), "/memfd:crs-res-%d", t);
	report("memfd", t, path, r->memfd_map, 2 * PAGE, 0, "rw-s", r->memfd_fd, 0, -1);

	/* SysV: one kept, one with IPC_RMID */
	r->sysv_id = make_sysv(t, 0, &r->sysv_key);
	r->sysv_map = shmat(r->sysv_id, NULL, 0);
	if (r->sysv_map == (void *)-1)
		die("shmat");
	fill(r->sysv_map, SYSV_SIZE, t + 5);
	snprintf(path, sizeof(path), "/SYSV%08x", (unsigned)r->sysv_key);
	report("sysv", t, path, r->sysv_map, SYSV_SIZE, 0, "rw-s", -1, r->sysv_key, r->sysv_id);
	r->sysvrmid_id = make_sysv(t, 1, &r->sysvrmid_key);
	r->sysvrmid_map = shmat(r->sysvrmid_id, NULL, 0);
	if (r->sysvrmid_map == (void *)-1)
		die("shmat");
	if (shmctl(r->sysvrmid_id, IPC_RMID, NULL) < 0)
		die("IPC_RMID");
	snprintf(path, sizeof(path), "/SYSV%08x", (unsigned)r->sysvrmid_key);
	report("sysvrmid", t, path, r->sysvrmid_map, SYSV_SIZE, 0, "rw-s", -1, r->sysvrmid_key,
	       r->sysvrmid_id);

	/* scratch files */
	for (int i = 0; i < nscratch; i++) {
		snprintf(path, sizeof(path), "%s/scratch-%d", scratch_dirs[i], t);
		r->scratch_fd[i] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (r->scratch_fd[i] < 0 || write(r->scratch_fd[i], "scratch\n", 8) != 8)
			die(path);
		report("scratch", t, path, NULL, 0, 0, NULL, r->scratch_fd[i], 0, -1);
	}

	/* shared anonymous */
	r->anon_len = 2 * PAGE;
	r->anon = mmap(NULL, r->anon_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r->anon == MAP_FAILED)
		die("mmap anon");
	fill(r->anon, r->anon_len, t + 6);
	report("anon", t, NULL, r->anon, r->anon_len, 0, "rw-s", -1, 0, -1);
}

/* Resources the shim cannot see: made with raw system calls. */
static void make_unseen(void)
{
	char path[600];
	long fd, p;

	snprintf(path, sizeof(path), "%s/unseen-map", workdir);
	fd = syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || syscall(SYS_ftruncate, fd, PAGE) < 0)
		die("unseen open");
	p = syscall(SYS_mmap, NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p < 0 && p > -4096)
		die("unseen mmap");
	report("unseen-map", 0, path, (void *)p, PAGE, 0, "rw-s", (int)fd, 0, -1);
	syscall(SYS_close, fd);

	snprintf(path, sizeof(path), "%s/unseen-fd", workdir);
	fd = syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die("unseen fd");
	report("unseen-fd", 0, path, NULL, 0, 0, NULL, (int)fd, 0, -1);
	syscall(SYS_unlinkat, AT_FDCWD, path, 0);
}

/* Edge cases the registry must still get right. */
static void make_edges(void)
{
	char path[600];
	int fd;
	char *p;
	FILE *f;

	/* A 5000-byte shared mapping: the kernel maps 2 whole pages. */
	snprintf(path, sizeof(path), "%s/odd", workdir);
	fd = open_file(path, 2 * PAGE);
	p = map_fd(fd, 5000, PROT_READ | PROT_WRITE, 0);
	p[4999] = 1;
	report("odd", 0, path, p, 5000, 0, "rw-s", fd, 0, -1);
	close(fd);

	/* fd number reuse behind the shim's back: open (recorded), fclose
	 * (libc's internal close, not interposed), then another file gets the
	 * same number and is mapped. */
	snprintf(path, sizeof(path), "%s/reuse-old", workdir);
	fd = open_file(path, PAGE);
	f = fdopen(fd, "w");
	if (!f)
		die("fdopen");
	fclose(f);
	snprintf(path, sizeof(path), "%s/reuse-new", workdir);
	{
		long w = syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int fd2;

		if (w < 0 || syscall(SYS_ftruncate, w, PAGE) < 0)
			die("reuse-new");
		syscall(SYS_close, w);
		/* read-only: the shim does not record this open */
		fd2 = open(path, O_RDONLY | O_CLOEXEC);
		if (fd2 < 0)
			die("reuse-new");
		/* Make it the same number for sure (dup3 is not interposed). */
		if (fd2 != fd) {
			if (dup3(fd2, fd, O_CLOEXEC) < 0)
				die("dup3");
			syscall(SYS_close, fd2);
		}
	}
	p = map_fd(fd, PAGE, PROT_READ, 0);
	report("reuse", 0, path, p, PAGE, 0, "r--s", fd, 0, -1);

	/* O_TMPFILE: a file that never had a name, mapped shared. */
	fd = open(workdir, O_TMPFILE | O_RDWR, 0600);
	if (fd >= 0) {
		if (ftruncate(fd, PAGE) < 0)
			die("tmpfile ftruncate");
		p = map_fd(fd, PAGE, PROT_READ | PROT_WRITE, 0);
		report("tmpfile", 0, workdir, p, PAGE, 0, "rw-s", fd, 0, -1);
	}
}

static void *thread_main(void *arg)
{
	int t = (int)(intptr_t)arg;

	pthread_barrier_wait(&barrier);
	for (int i = 0; i < churn; i++)
		churn_once(t, i, keep_churn && (i % 2));
	make_all(t);
	if (t == 0 && unseen)
		make_unseen();
	if (t == 0 && edges)
		make_edges();
	return NULL;
}

static void cleanup_names(void)
{
	for (int t = 0; t < nthreads; t++) {
		struct res *r = &res[t];

		if (r->shm_name[0])
			shm_unlink(r->shm_name);
		if (r->sysv_id > 0)
			shmctl(r->sysv_id, IPC_RMID, NULL);
	}
}

static void on_term(int sig)
{
	(void)sig;
	for (int t = 0; t < nthreads; t++) {
		if (res[t].shm_name[0]) {
			char p[80];

			snprintf(p, sizeof(p), "/dev/shm%s", res[t].shm_name);
			syscall(SYS_unlinkat, AT_FDCWD, p, 0);
		}
		if (res[t].sysv_id > 0)
			syscall(SYS_shmctl, res[t].sysv_id, IPC_RMID, NULL);
	}
	_exit(0);
}

static void phase2(void)
{
	struct res *r = &res[0];
	char newpath[600];
	char *na;

	if (munmap(r->file_rw, PAGE) < 0)
		die("munmap file");
	snprintf(newpath, sizeof(newpath), "%s.renamed", r->file_path);
	if (rename(r->file_path, newpath) < 0)
		die("rename");
	out("M file %s %p %d %d\n", newpath, (void *)(r->file_rw + PAGE), PAGE, 2 * PAGE);

	na = mremap(r->anon, r->anon_len, 4 * PAGE, MREMAP_MAYMOVE);
	if (na == MAP_FAILED)
		die("mremap");
	r->anon = na;
	r->anon_len = 4 * PAGE;
	out("M anon %p %d\n", (void *)na, 4 * PAGE);

	close(r->poolfd_fd);
	out("M poolfd closed\n");
	if (shm_unlink(r->shm_name) < 0)
		die("shm_unlink");
	r->shm_name[0] = 0;
	out("M shm unlinked\n");
	if (shmctl(r->sysv_id, IPC_RMID, NULL) < 0)
		die("IPC_RMID");
	r->sysv_id = -1;
	out("M sysv rmid\n");
	if (shmdt(r->sysvrmid_map) < 0)
		die("shmdt");
	out("M sysvrmid detached\n");
	if (munmap(r->memfd_map, 2 * PAGE) < 0)
		die("munmap memfd");
	out("M memfd unmapped\n");
	out("ready2\n");
}

static void do_fork(void)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char c, *m;
		int fd = memfd_create("crs-child", MFD_CLOEXEC);

		close(p[1]);
		if (fd < 0 || ftruncate(fd, PAGE) < 0)
			die("child memfd");
		m = map_fd(fd, PAGE, PROT_READ | PROT_WRITE, 0);
		m[0] = 1;
		report("memfd-child", 0, "/memfd:crs-child", m, PAGE, 0, "rw-s", fd, 0, -1);
		out("child %d\n", (int)getpid());
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		exit(0);
	}
	close(p[0]);
	child_pid = pid;
	child_pipe = p[1];
	/* The child's lines come first. */
	out("forked %d\n", (int)pid);
}

static void do_reap(void)
{
	int st = -1;

	if (child_pid < 0)
		return;
	close(child_pipe);
	waitpid(child_pid, &st, 0);
	out("reaped %d %d\n", (int)child_pid, st);
	child_pid = -1;
}

static void after_exec(int inherited)
{
	int fd = memfd_create("crs-after-exec", MFD_CLOEXEC);
	char *m;

	if (fd < 0 || ftruncate(fd, PAGE) < 0)
		die("exec memfd");
	m = map_fd(fd, PAGE, PROT_READ | PROT_WRITE, 0);
	m[0] = 1;
	report("memfd-exec", 0, "/memfd:crs-after-exec", m, PAGE, 0, "rw-s", fd, 0, -1);
	out("execed %d %d\n", (int)getpid(), inherited);
}

static void do_exec(const char *self)
{
	char fdarg[16];

	snprintf(fdarg, sizeof(fdarg), "%d", res[0].memfd_fd);
	/* SysV and POSIX names stay for the test to clean up by name; drop
	 * them here so nothing leaks across the exec. */
	cleanup_names();
	fflush(stdout);
	execl(self, self, "-x", fdarg, (char *)NULL);
	die("exec");
}

static void command_loop(const char *self)
{
	char line[256];

	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (!strcmp(line, "phase2"))
			phase2();
		else if (!strcmp(line, "fork"))
			do_fork();
		else if (!strcmp(line, "reap"))
			do_reap();
		else if (!strcmp(line, "exec") && self)
			do_exec(self);
		else if (!strcmp(line, "quit"))
			break;
		else if (line[0])
			out("unknown command '%s'\n", line);
	}
}

int main(int argc, char **argv)
{
	pthread_t tids[MAX_THREADS];
	struct sigaction sa = { .sa_handler = on_term };
	int c;

	while ((c = getopt(argc, argv, "t:c:Ks:uex:")) != -1) {
		switch (c) {
		case 't': nthreads = atoi(optarg); break;
		case 'c': churn = atoi(optarg); break;
		case 'K': keep_churn = 1; break;
		case 's':
			if (nscratch < MAX_SCRATCH)
				scratch_dirs[nscratch++] = optarg;
			break;
		case 'u': unseen = 1; break;
		case 'e': edges = 1; break;
		case 'x':
			/* after "exec": a fresh image of this program */
			after_exec(atoi(optarg));
			command_loop(NULL);
			return 0;
		default:
			fprintf(stderr, "usage: shim_resources [-t N] [-c N] [-K] [-s DIR]... [-u] [-e] WORKDIR\n");
			return 2;
		}
	}
	if (optind != argc - 1 || nthreads < 1 || nthreads > MAX_THREADS) {
		fprintf(stderr, "usage: shim_resources [-t N] [-c N] [-K] [-s DIR]... [-u] [-e] WORKDIR\n");
		return 2;
	}
	workdir = argv[optind];
	sigaction(SIGTERM, &sa, NULL);
	for (int t = 0; t < nthreads; t++)
		res[t].sysv_id = -1;
	pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
	for (int t = 1; t < nthreads; t++)
		if (pthread_create(&tids[t], NULL, thread_main, (void *)(intptr_t)t) != 0)
			die("pthread_create");
	thread_main((void *)0);
	for (int t = 1; t < nthreads; t++)
		pthread_join(tids[t], NULL);
	out("ready %d\n", (int)getpid());
	command_loop(argv[0][0] == '/' ? argv[0] : NULL);
	do_reap();
	cleanup_names();
	return failed;
}
