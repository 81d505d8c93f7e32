/*
 * shim_semantics: a deterministic run of every call the shim intercepts,
 * successful and failing, printing what each returned, errno, file
 * descriptor numbers and checksums of the data that went through shared
 * memory.  Run with and without the shim, the output (stdout and stderr)
 * and the exit status must be the same: the shim may not change results,
 * errno (after failures and after successes), fd numbering or data.
 *
 *   shim_semantics WORKDIR     (an empty directory; nothing printed
 *                               depends on its name, the pid or addresses)
 *
 * Exit status: 40 + (number of failing calls % 50), so it is not 0 and a
 * change in any result shows in the status too.
 */
#if defined(__OPTIMIZE__) && !defined(_FORTIFY_SOURCE)
#define _FORTIFY_SOURCE 2 /* open() with variable flags goes through __open_2 */
#endif
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

static const char *dir;
static int failures;
static char shm_a[64], shm_b[64];

static const char *ename(int e)
{
	static char b[32];

	switch (e) {
	case 0: return "0";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case EBADF: return "EBADF";
	case EACCES: return "EACCES";
	case EISDIR: return "EISDIR";
	case ENOTDIR: return "ENOTDIR";
	case ENOTEMPTY: return "ENOTEMPTY";
	case EFAULT: return "EFAULT";
	case ENOMEM: return "ENOMEM";
	case EIDRM: return "EIDRM";
	case EPERM: return "EPERM";
	case EXDEV: return "EXDEV";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case EBUSY: return "EBUSY";
	case EMFILE: return "EMFILE";
	}
	snprintf(b, sizeof(b), "errno%d", e);
	return b;
}

/* Print "what: rc=R errno=E" for an int result; errno is preset to a
 * sentinel so success must leave it alone. */
#define TRY(what, expr)                                                              \
	do {                                                                         \
		long r__;                                                            \
		errno = EXDEV;                                                       \
		r__ = (long)(expr);                                                  \
		int e__ = errno;                                                     \
		if (r__ < 0)                                                         \
			failures++;                                                  \
		printf("%-44s rc=%ld errno=%s\n", what, r__ < 0 ? -1L : r__, ename(e__)); \
	} while (0)

/* Same for pointer results (MAP_FAILED / (void *)-1 = failure). */
#define TRYP(what, var, expr)                                                        \
	do {                                                                         \
		errno = EXDEV;                                                       \
		var = (expr);                                                        \
		int e__ = errno;                                                     \
		int f__ = (void *)(var) == MAP_FAILED;                               \
		if (f__)                                                             \
			failures++;                                                  \
		printf("%-44s %s errno=%s\n", what, f__ ? "failed" : "ok", ename(e__)); \
	} while (0)

static uint32_t sum(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 16777619u;
	return h;
}

static void fillp(char *p, size_t n, int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)((i * 31 + (size_t)seed) & 0xff);
}

static const char *in(const char *name)
{
	static char b[4][600];
	static int k;

	k = (k + 1) % 4;
	snprintf(b[k], sizeof(b[k]), "%s/%s", dir, name);
	return b[k];
}

static void mmap_family(void)
{
	char *p, *q, *r;
	int fd;
	char buf[3 * PAGE];

	printf("== mmap\n");
	TRYP("mmap anon private 3 pages", p,
	     mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	fillp(p, 3 * PAGE, 1);
	printf("checksum anon %08x\n", sum(p, 3 * PAGE));
	TRYP("mmap length 0", q, mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	TRYP("mmap shared, bad fd", q, mmap(NULL, PAGE, PROT_READ, MAP_SHARED, 999, 0));
	TRYP("mmap private, fd -1 without MAP_ANONYMOUS", q, mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, -1, 0));
	fd = open(in("ro"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	TRY("ftruncate ro file", ftruncate(fd, 2 * PAGE));
	TRY("close", close(fd));
	TRY("open ro file O_RDONLY", fd = open(in("ro"), O_RDONLY));
	TRYP("mmap shared rw of an O_RDONLY fd", q, mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	TRYP("mmap unaligned offset", q, mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 100));
	TRYP("mmap shared ro of an O_RDONLY fd", q, mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, PAGE));
	TRY("munmap it", munmap(q, PAGE));
	TRY("close", close(fd));
	TRY("munmap unaligned address", munmap(p + 1, PAGE));
	TRY("munmap length 0", munmap(p, 0));
	TRY("munmap the middle page", munmap(p + PAGE, PAGE));
	TRY("munmap it again (nothing mapped)", munmap(p + PAGE, PAGE));
	printf("checksum anon first page %08x\n", sum(p, PAGE));
	TRYP("mremap first page to 4 pages MAYMOVE", r, mremap(p, PAGE, 4 * PAGE, MREMAP_MAYMOVE));
	printf("checksum after mremap %08x\n", sum(r, PAGE));
	TRYP("mremap FIXED without MAYMOVE", q, mremap(r, PAGE, PAGE, MREMAP_FIXED, p));
	TRYP("mremap unaligned", q, mremap(r + 1, PAGE, 2 * PAGE, 0));
	TRYP("mremap shrink to 1 page", q, mremap(r, 4 * PAGE, PAGE, 0));
	TRY("munmap remapped", munmap(r, PAGE));
	TRY("munmap last page", munmap(p + 2 * PAGE, PAGE));

	/* data through a shared file mapping */
	fd = open(in("shared"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	printf("open shared file fd=%d\n", fd);
	TRY("ftruncate shared 3 pages", ftruncate(fd, 3 * PAGE));
	TRYP("mmap shared rw 3 pages", p, mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	fillp(p, 3 * PAGE, 7);
	TRYP("mmap shared FIXED over page 2", q,
	     mmap(p + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 2 * PAGE));
	q[0] = 'X';
	TRY("msync", msync(p, 3 * PAGE, MS_SYNC));
	TRY("munmap shared", munmap(p, 3 * PAGE));
	TRY("pread back", pread(fd, buf, sizeof(buf), 0));
	printf("checksum shared file %08x\n", sum(buf, sizeof(buf)));
	TRY("close shared", close(fd));
	TRYP("mmap shared anonymous", p, mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
	fillp(p, 2 * PAGE, 3);
	printf("checksum shared anon %08x\n", sum(p, 2 * PAGE));
	TRYP("mremap shared anonymous shrink", q, mremap(p, 2 * PAGE, PAGE, 0));
	TRY("munmap shared anonymous", munmap(p, PAGE));
	TRYP("mmap64 anon", p, mmap64(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	TRY("munmap mmap64", munmap(p, PAGE));
}

static void file_family(void)
{
	int fd, fd2, dfd;
	char buf[64];
	ssize_t n;

	printf("== file\n");
	TRY("open nonexistent", open(in("nope"), O_RDONLY));
	TRY("open O_CREAT|O_EXCL", fd = open(in("a"), O_RDWR | O_CREAT | O_EXCL, 0600));
	TRY("write a", write(fd, "contents of a\n", 14));
	TRY("open O_CREAT|O_EXCL existing", open(in("a"), O_RDWR | O_CREAT | O_EXCL, 0600));
	TRY("open directory for writing", open(dir, O_WRONLY));
	TRY("openat bad dirfd, relative path", openat(999, "a", O_RDONLY));
	TRY("open the directory", dfd = open(dir, O_RDONLY | O_DIRECTORY));
	TRY("openat dirfd relative", fd2 = openat(dfd, "a", O_RDWR | O_APPEND));
	TRY("write through O_APPEND", write(fd2, "appended\n", 9));
	TRY("close", close(fd2));
	TRY("open64 creat", fd2 = open64(in("b"), O_WRONLY | O_CREAT | O_TRUNC, 0600));
	TRY("write b", write(fd2, "contents of b\n", 14));
	TRY("close", close(fd2));
	TRY("openat64", fd2 = openat64(dfd, "b", O_RDONLY));
	TRY("close", close(fd2));
	{
		int flags = O_RDONLY; /* not a constant for the compiler: __open_2 */

		if (getenv("SHIM_SEMANTICS_NEVER_SET"))
			flags |= O_NOFOLLOW;
		TRY("open with variable flags", fd2 = open(in("b"), flags));
		TRY("close", close(fd2));
	}
	TRY("creat in a missing directory", creat(in("missing/x"), 0600));
	TRY("creat", fd2 = creat(in("c"), 0600));
	TRY("close", close(fd2));
	TRY("creat64", fd2 = creat64(in("c64"), 0600));
	TRY("close", close(fd2));
	fd2 = open(dir, O_TMPFILE | O_RDWR, 0600);
	printf("open O_TMPFILE %s\n", fd2 >= 0 ? "ok" : ename(errno));
	if (fd2 >= 0)
		TRY("close O_TMPFILE", close(fd2));
	TRY("close -1", close(-1));
	TRY("close 999", close(999));
	TRY("ftruncate bad fd", ftruncate(999, 10));
	TRY("ftruncate negative", ftruncate(fd, -1));
	TRY("ftruncate64", ftruncate64(fd, 100));
	TRY("ftruncate read-only fd", ftruncate(dfd, 0));
	TRY("close a", close(fd));
	TRY("close a again", close(fd));

	TRY("unlink nonexistent", unlink(in("nope")));
	TRY("mkdir d", mkdir(in("d"), 0700));
	TRY("unlink a directory", unlink(in("d")));
	TRY("unlinkat a directory without AT_REMOVEDIR", unlinkat(dfd, "d", 0));
	TRY("creat d/f", fd = creat(in("d/f"), 0600));
	TRY("close", close(fd));
	TRY("unlinkat non-empty dir AT_REMOVEDIR", unlinkat(dfd, "d", AT_REMOVEDIR));
	TRY("unlinkat d/f", unlinkat(dfd, "d/f", 0));
	TRY("remove empty dir", remove(in("d")));
	TRY("remove nonexistent", remove(in("d")));
	TRY("remove file c", remove(in("c")));

	TRY("rename nonexistent", rename(in("nope"), in("nope2")));
	TRY("mkdir e", mkdir(in("e"), 0700));
	TRY("rename file onto a directory", rename(in("a"), in("e")));
	TRY("renameat bad dirfd", renameat(999, "a", dfd, "z"));
	TRY("renameat2 NOREPLACE onto existing", renameat2(dfd, "a", dfd, "b", RENAME_NOREPLACE));
	TRY("renameat2 EXCHANGE a b", renameat2(dfd, "a", dfd, "b", RENAME_EXCHANGE));
	fd = open(in("a"), O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("a now holds: %s", buf);
	close(fd);
	TRY("rename b -> a2", rename(in("b"), in("a2")));
	TRY("renameat a2 -> a3", renameat(dfd, "a2", dfd, "a3"));
	TRY("rename a over a3", rename(in("a"), in("a3")));
	fd = open(in("a3"), O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("a3 now holds: %s", buf);
	close(fd);
	TRY("close dir", close(dfd));
}

static void shm_family(void)
{
	int fd, fd2;
	char *p;
	char longname[300];

	printf("== posix shm and memfd\n");
	TRY("shm_open nonexistent", shm_open(shm_a, O_RDWR, 0600));
	TRY("shm_open name with a slash inside", shm_open("/crs/sem", O_RDWR | O_CREAT, 0600));
	TRY("shm_open create", fd = shm_open(shm_a, O_RDWR | O_CREAT | O_EXCL, 0600));
	TRY("shm_open create again EXCL", shm_open(shm_a, O_RDWR | O_CREAT | O_EXCL, 0600));
	TRY("ftruncate shm", ftruncate(fd, 2 * PAGE));
	TRYP("mmap shm", p, mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	fillp(p, 2 * PAGE, 11);
	TRY("munmap shm", munmap(p, 2 * PAGE));
	TRY("close shm", close(fd));
	TRY("shm_open read-only", fd = shm_open(shm_a, O_RDONLY, 0));
	TRYP("mmap shm read-only", p, mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0));
	printf("checksum shm %08x\n", sum(p, 2 * PAGE));
	TRY("shm_unlink", shm_unlink(shm_a));
	TRY("shm_unlink again", shm_unlink(shm_a));
	TRY("shm_unlink never created", shm_unlink(shm_b));
	printf("checksum shm after unlink %08x\n", sum(p, 2 * PAGE));
	TRY("munmap", munmap(p, 2 * PAGE));
	TRY("close", close(fd));

	TRY("memfd_create bad flags", memfd_create("x", 0x4000));
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	TRY("memfd_create name too long", memfd_create(longname, 0));
	TRY("memfd_create", fd = memfd_create("sem", MFD_CLOEXEC | MFD_ALLOW_SEALING));
	TRY("ftruncate memfd", ftruncate(fd, PAGE));
	TRYP("mmap memfd", p, mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	fillp(p, PAGE, 13);
	TRY("munmap memfd", munmap(p, PAGE));
	TRY("seal memfd", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE));
	TRYP("mmap sealed memfd writable", p, mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	TRY("ftruncate sealed memfd", ftruncate(fd, 2 * PAGE));
	TRYP("mmap sealed memfd read-only", p, mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0));
	printf("checksum memfd %08x\n", sum(p, PAGE));
	TRY("munmap", munmap(p, PAGE));
	TRY("dup memfd", fd2 = dup(fd));
	TRY("close memfd", close(fd));
	TRY("close dup", close(fd2));
}

static void sysv_family(void)
{
	int id, id2;
	char *p, *q;
	key_t key = (key_t)(0x53000000 | (getpid() & 0xffff));
	struct shmid_ds ds;

	printf("== sysv\n");
	TRY("shmget size 0 IPC_PRIVATE", shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
	TRY("shmget missing key without IPC_CREAT", shmget(key, PAGE, 0600));
	id = shmget(key, 3 * PAGE, IPC_CREAT | IPC_EXCL | 0600);
	printf("shmget key create %s\n", id >= 0 ? "ok" : ename(errno));
	TRY("shmget key create again EXCL", shmget(key, 3 * PAGE, IPC_CREAT | IPC_EXCL | 0600));
	errno = EXDEV;
	id2 = shmget(key, PAGE, 0600);
	printf("shmget existing key same id %s errno=%s\n", id2 == id ? "yes" : "no", ename(errno));
	TRYP("shmat bad id", q, shmat(-5, NULL, 0));
	TRYP("shmat", p, shmat(id, NULL, 0));
	fillp(p, 3 * PAGE, 17);
	TRYP("shmat again read-only", q, shmat(id, NULL, SHM_RDONLY));
	printf("checksum sysv %08x\n", sum(q, 3 * PAGE));
	TRY("shmdt bad address", shmdt(p + 1));
	TRY("shmdt", shmdt(q));
	TRY("shmdt twice", shmdt(q));
	TRY("shmctl bad id", shmctl(-5, IPC_STAT, &ds));
	TRY("shmctl IPC_STAT", shmctl(id, IPC_STAT, &ds));
	printf("segment size %zu attached %lu\n", (size_t)ds.shm_segsz, (unsigned long)ds.shm_nattch);
	TRY("shmctl IPC_RMID", shmctl(id, IPC_RMID, NULL));
	printf("checksum after IPC_RMID %08x\n", sum(p, 3 * PAGE));
	TRY("shmctl IPC_RMID again", shmctl(id, IPC_RMID, NULL));
	TRY("shmdt last", shmdt(p));
	TRY("shmctl IPC_STAT after last detach", shmctl(id, IPC_STAT, &ds));
	id = shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);
	printf("shmget IPC_PRIVATE %s\n", id >= 0 ? "ok" : ename(errno));
	TRY("shmctl IPC_RMID unattached", shmctl(id, IPC_RMID, NULL));
}

static void fd_numbers(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	int a, b, c;

	printf("== fd numbers\n");
	/* Give whatever else runs in the process (a shim's threads) time to
	 * settle first: the numbers below must still be the lowest free ones. */
	nanosleep(&ts, NULL);
	a = open(in("fd1"), O_RDWR | O_CREAT, 0600);
	b = open("/dev/null", O_RDONLY);
	c = memfd_create("fdn", 0);
	printf("first fds: %d %d %d\n", a, b, c);
	close(a);
	close(b);
	close(c);
	/* the lowest free number is what a program gets */
	a = syscall(SYS_dup, 0);
	printf("dup(0) -> %d\n", a);
	close(a);
	/* a shell's "exec 3>file": dup2 onto fixed low numbers */
	for (int fd = 3; fd <= 9; fd++) {
		errno = 0;
		a = dup2(1, fd);
		printf("dup2(1, %d) -> %d errno=%s\n", fd, a, ename(a < 0 ? errno : 0));
		if (a >= 0)
			close(a);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: shim_semantics WORKDIR\n");
		return 2;
	}
	dir = argv[1];
	/* names are not printed, so the pid in them does not matter */
	snprintf(shm_a, sizeof(shm_a), "/crs-sem-a-%d", (int)getpid());
	snprintf(shm_b, sizeof(shm_b), "/crs-sem-b-%d", (int)getpid());
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd_numbers();
	mmap_family();
	file_family();
	shm_family();
	sysv_family();
	fprintf(stderr, "shim_semantics: %d failing calls\n", failures);
	printf("done\n");
	return 40 + failures % 50;
}
