/*
 * Moving shared memory that CRIU cannot keep shared across separate dumps
 * (memfds, SysV segments) onto a regular tmpfs file, in place.
 *
 * crshim parks the threads of every process holding the memory (PARK),
 * copies the content into a new file, and sends each holder SWAP with the
 * file: the shim maps the file MAP_FIXED over each range (same address,
 * protection and content; for SysV this also detaches the segment) and
 * dup3()s it over the fds that referred to the memfd.  UNPARK lets the
 * threads go; the registry is updated only then, because a parked thread
 * may hold the registry lock.  From then on the memory is an ordinary pool;
 * a file that replaced a SysV attachment is flagged CRS_OF_FROM_SYSV so
 * that the program's shmdt still detaches it (hooks/sysv.c).
 */
#include "swap.h"

#include "jsonw.h"
#include "registry.h"
#include "shim.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_SWAPS 16
#define MAX_RANGES 64

struct swap {
	char path[512];
	struct stat st;
	int nranges;
	uintptr_t start[MAX_RANGES], end[MAX_RANGES];
	uint64_t offset[MAX_RANGES];
	int prot[MAX_RANGES];
	int nfds;
	int fds[MAX_RANGES];
	int sysv;		/* the ranges were a SysV attachment */
};

/* Filled while parked, applied to the registry after UNPARK. */
static struct swap pending[MAX_SWAPS];
static int npending;

static void answer(struct crs_jsonw *w, int ok, const char *err)
{
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_bool(w, "ok", ok);
	if (!ok)
		crs_jsonw_kv_str(w, "error", err);
	crs_jsonw_obj_end(w);
}

void answer_park(struct crs_jsonw *w)
{
	int skipped, n;

	if (crs_parked()) {
		answer(w, 0, "already parked");
		return;
	}
	npending = 0;
	n = crs_park_all(5000, &skipped);
	if (n < 0) {
		answer(w, 0, "threads did not stop within 5 s");
		return;
	}
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_bool(w, "ok", 1);
	crs_jsonw_kv_int(w, "parked", n);
	crs_jsonw_kv_int(w, "not_parked", skipped);
	crs_jsonw_obj_end(w);
}

/* Parse "PATH N S-E:OFF:PROT ... M FD ..." without allocating. */
static int parse_swap(const char *args, struct swap *s)
{
	const char *p = args;
	int n, used;

	if (sscanf(p, "%511s %d%n", s->path, &s->nranges, &used) != 2 || s->nranges < 0 ||
	    s->nranges > MAX_RANGES)
		return -1;
	p += used;
	for (int i = 0; i < s->nranges; i++) {
		unsigned long a, b;
		unsigned long long off;

		if (sscanf(p, " %lx-%lx:%llu:%d%n", &a, &b, &off, &s->prot[i], &used) != 4 || b <= a)
			return -1;
		s->start[i] = a;
		s->end[i] = b;
		s->offset[i] = off;
		p += used;
	}
	if (sscanf(p, " %d%n", &s->nfds, &used) != 1 || s->nfds < 0 || s->nfds > MAX_RANGES)
		return -1;
	p += used;
	for (int i = 0; i < s->nfds; i++) {
		if (sscanf(p, " %d%n", &n, &used) != 1)
			return -1;
		s->fds[i] = n;
		p += used;
	}
	return 0;
}

/*
 * Whether [start, end) is a SysV attachment, asked of the kernel before the
 * file replaces it: its map_files link names "/SYSV<key>".  The request does
 * not say, and the registry may not be asked while parked.  Reading these
 * links needs no privilege since Linux 4.3; if it fails the range counts as
 * not SysV and shmdt on it fails with EINVAL, as it did before.
 */
static int is_sysv_range(uintptr_t start, uintptr_t end)
{
	char link[64], target[16];
	long n;

	snprintf(link, sizeof(link), "/proc/self/map_files/%lx-%lx", (unsigned long)start,
		 (unsigned long)end);
	n = syscall(SYS_readlink, link, target, sizeof(target));
	return n >= 5 && memcmp(target, "/SYSV", 5) == 0;
}

void answer_swap(struct crs_jsonw *w, const char *args, int fd)
{
	struct swap *s;

	if (!crs_parked() || fd < 0 || npending >= MAX_SWAPS) {
		answer(w, 0, !crs_parked() ? "not parked" : fd < 0 ? "no file passed" : "too many swaps");
		return;
	}
	s = &pending[npending];
	memset(s, 0, sizeof(*s));
	if (parse_swap(args, s) < 0 || syscall(SYS_fstat, fd, &s->st) < 0) {
		answer(w, 0, "malformed SWAP request");
		return;
	}
	for (int i = 0; i < s->nranges; i++)
		s->sysv |= is_sysv_range(s->start[i], s->end[i]);
	for (int i = 0; i < s->nranges; i++) {
		void *r = mmap((void *)s->start[i], s->end[i] - s->start[i], s->prot[i], MAP_SHARED | MAP_FIXED, fd,
			       (off_t)s->offset[i]);

		if (r == MAP_FAILED) {
			/* Nothing sensible to undo: the old mapping is gone only if
			 * mmap succeeded.  Report; crshim fails the dump. */
			answer(w, 0, "mmap of the new file failed");
			return;
		}
	}
	for (int i = 0; i < s->nfds; i++) {
		int fl = fcntl(s->fds[i], F_GETFD);

		if (fl < 0 || dup3(fd, s->fds[i], (fl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
			answer(w, 0, "dup3 over the memfd failed");
			return;
		}
	}
	npending++;
	answer(w, 1, NULL);
}

static void apply(const struct swap *s)
{
	struct crs_object_key key = { .kind = CRS_OBJ_FILE, .dev = s->st.st_dev, .ino = s->st.st_ino };
	uint32_t obj = crs_reg_object_get(&key, s->path, (uint64_t)s->st.st_size, s->st.st_mode, NULL, 0);

	if (obj == CRS_NO_OBJECT)
		return;
	for (int i = 0; i < s->nranges; i++)
		crs_reg_map_add(s->start[i], s->end[i] - s->start[i], s->offset[i], s->prot[i], MAP_SHARED, obj);
	for (int i = 0; i < s->nfds; i++)
		crs_reg_fd_set(s->fds[i], obj);
	/* crshim unlinks the file once every holder has it */
	crs_reg_mark_inode(s->st.st_dev, s->st.st_ino,
			   CRS_OF_UNLINKED | CRS_OF_SHARED_MAP | CRS_OF_WRITE |
				   (s->sysv ? CRS_OF_FROM_SYSV : 0),
			   NULL);
}

void crs_swap_release(void)
{
	crs_unpark_all();
	for (int i = 0; i < npending; i++)
		apply(&pending[i]);
	if (npending)
		crs_info("moved %d shared segment%s onto files for the checkpoint", npending, npending == 1 ? "" : "s");
	npending = 0;
}

void answer_unpark(struct crs_jsonw *w)
{
	crs_swap_release();
	answer(w, 1, NULL);
}
