/*
 * Unit tests of the /proc maps parser (tools/proc.c) and of the sparse
 * copy used to save and recreate pools (tools/pools.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pools.h"
#include "proc.h"

/* ------------------------------------------------------------------ */
/* proc_parse_maps_line                                               */
/* ------------------------------------------------------------------ */

struct maps_case {
	const char *line;
	uintptr_t start, end;
	const char *perms;
	uint64_t offset;
	unsigned major, minor;
	uint64_t ino;
	const char *path;
	int deleted;
};

static const struct maps_case good[] = {
	/* anonymous (the kernel leaves a space after the inode) */
	{ "7f29055dc000-7f29055df000 rw-p 00000000 00:00 0 \n", 0x7f29055dc000, 0x7f29055df000, "rw-p", 0, 0, 0,
	  0, "", 0 },
	/* anonymous, no trailing space, no newline */
	{ "7f29055dc000-7f29055df000 rw-p 00000000 00:00 0", 0x7f29055dc000, 0x7f29055df000, "rw-p", 0, 0, 0, 0, "",
	  0 },
	/* shared anonymous: /dev/zero (deleted) */
	{ "7f0000000000-7f0000100000 rw-s 00000000 00:01 1027                       /dev/zero (deleted)\n",
	  0x7f0000000000, 0x7f0000100000, "rw-s", 0, 0, 1, 1027, "/dev/zero", 1 },
	/* a file */
	{ "560e5a800000-560e5a806000 r-xp 00002000 fe:00 247498                     /usr/bin/head\n",
	  0x560e5a800000, 0x560e5a806000, "r-xp", 0x2000, 0xfe, 0, 247498, "/usr/bin/head", 0 },
	/* big device numbers, big offset, big inode */
	{ "7f0000000000-7f0000001000 r--s 1fffff000 103:1a 18446744073709551615 /data/big\n", 0x7f0000000000,
	  0x7f0000001000, "r--s", 0x1fffff000ull, 0x103, 0x1a, UINT64_MAX, "/data/big", 0 },
	/* unlinked files */
	{ "7f1c2a000000-7f1c2a400000 rw-s 00000000 00:1b 4242                       /dev/shm/pool (deleted)\n",
	  0x7f1c2a000000, 0x7f1c2a400000, "rw-s", 0, 0, 0x1b, 4242, "/dev/shm/pool", 1 },
	{ "7f1c2a000000-7f1c2a400000 rw-s 00400000 fe:01 99 /tmp/session.dat (deleted)\n", 0x7f1c2a000000,
	  0x7f1c2a400000, "rw-s", 0x400000, 0xfe, 1, 99, "/tmp/session.dat", 1 },
	/* "(deleted)" that is part of the name, not the suffix */
	{ "7f1c2a000000-7f1c2a001000 r--p 00000000 fe:01 98 /tmp/a (deleted)/b\n", 0x7f1c2a000000, 0x7f1c2a001000,
	  "r--p", 0, 0xfe, 1, 98, "/tmp/a (deleted)/b", 0 },
	{ "7f1c2a000000-7f1c2a001000 r--p 00000000 fe:01 98 /tmp/x(deleted)\n", 0x7f1c2a000000, 0x7f1c2a001000,
	  "r--p", 0, 0xfe, 1, 98, "/tmp/x(deleted)", 0 },
	/* special mappings */
	{ "560e6b9ee000-560e6ba0f000 rw-p 00000000 00:00 0                          [heap]\n", 0x560e6b9ee000,
	  0x560e6ba0f000, "rw-p", 0, 0, 0, 0, "[heap]", 0 },
	{ "7ffc8a1b2000-7ffc8a1d3000 rw-p 00000000 00:00 0                          [stack]\n", 0x7ffc8a1b2000,
	  0x7ffc8a1d3000, "rw-p", 0, 0, 0, 0, "[stack]", 0 },
	{ "7f29057cf000-7f29057d3000 r--p 00000000 00:00 0                          [vvar]\n", 0x7f29057cf000,
	  0x7f29057d3000, "r--p", 0, 0, 0, 0, "[vvar]", 0 },
	{ "7f29057d3000-7f29057d5000 r--p 00000000 00:00 0                          [vvar_vclock]\n",
	  0x7f29057d3000, 0x7f29057d5000, "r--p", 0, 0, 0, 0, "[vvar_vclock]", 0 },
	{ "7f29057d5000-7f29057d7000 r-xp 00000000 00:00 0                          [vdso]\n", 0x7f29057d5000,
	  0x7f29057d7000, "r-xp", 0, 0, 0, 0, "[vdso]", 0 },
	{ "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n",
	  (uintptr_t)0xffffffffff600000ull, (uintptr_t)0xffffffffff601000ull, "--xp", 0, 0, 0, 0, "[vsyscall]", 0 },
	{ "7f0000000000-7f0000200000 rw-p 00000000 00:00 0                          [anon:jemalloc pool]\n",
	  0x7f0000000000, 0x7f0000200000, "rw-p", 0, 0, 0, 0, "[anon:jemalloc pool]", 0 },
	{ "7f0000000000-7f0000200000 rw-s 00000000 00:01 77                         [anon_shmem:ring]\n",
	  0x7f0000000000, 0x7f0000200000, "rw-s", 0, 0, 1, 77, "[anon_shmem:ring]", 0 },
	/* memfd */
	{ "7f8e4c000000-7f8e50000000 rw-s 00000000 00:01 5123                       /memfd:pool (deleted)\n",
	  0x7f8e4c000000, 0x7f8e50000000, "rw-s", 0, 0, 1, 5123, "/memfd:pool", 1 },
	{ "7f8e4c000000-7f8e50000000 rw-s 00000000 00:01 5124                       /memfd:my pool (deleted)\n",
	  0x7f8e4c000000, 0x7f8e50000000, "rw-s", 0, 0, 1, 5124, "/memfd:my pool", 1 },
	/* SysV shared memory */
	{ "7f8e4c000000-7f8e4c010000 rw-s 00000000 00:01 65538                      /SYSV0000162e (deleted)\n",
	  0x7f8e4c000000, 0x7f8e4c010000, "rw-s", 0, 0, 1, 65538, "/SYSV0000162e", 1 },
	{ "7f8e4c000000-7f8e4c010000 r--s 00000000 00:01 65539                      /SYSV00000000 (deleted)\n",
	  0x7f8e4c000000, 0x7f8e4c010000, "r--s", 0, 0, 1, 65539, "/SYSV00000000", 1 },
	/* paths with spaces (inside, at the end) */
	{ "7f0000000000-7f0000001000 rw-s 00000000 fe:01 12 /tmp/my file.dat\n", 0x7f0000000000, 0x7f0000001000,
	  "rw-s", 0, 0xfe, 1, 12, "/tmp/my file.dat", 0 },
	{ "7f0000000000-7f0000001000 rw-s 00000000 fe:01 12 /tmp/two  spaces  (deleted)\n", 0x7f0000000000,
	  0x7f0000001000, "rw-s", 0, 0xfe, 1, 12, "/tmp/two  spaces ", 1 },
	{ "7f0000000000-7f0000001000 rw-s 00000000 fe:01 12 /tmp/trailing \n", 0x7f0000000000, 0x7f0000001000,
	  "rw-s", 0, 0xfe, 1, 12, "/tmp/trailing ", 0 },
	/* a name the kernel escaped (newline as \012) */
	{ "7f0000000000-7f0000001000 rw-s 00000000 fe:01 12 /tmp/a\\012b\n", 0x7f0000000000, 0x7f0000001000,
	  "rw-s", 0, 0xfe, 1, 12, "/tmp/a\\012b", 0 },
	/* tab-separated (not what the kernel writes, still parsed) */
	{ "1000-2000\trw-p\t00000000\t00:00\t0\t/x\n", 0x1000, 0x2000, "rw-p", 0, 0, 0, 0, "/x", 0 },
};

static void test_maps_good(void **state)
{
	struct proc_map m;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const struct maps_case *c = &good[i];

		memset(&m, 0x5a, sizeof(m));
		if (proc_parse_maps_line(c->line, &m) != 0)
			print_message("line %zu not parsed: %s", i, c->line);
		assert_int_equal(proc_parse_maps_line(c->line, &m), 0);
		assert_int_equal(m.start, c->start);
		assert_int_equal(m.end, c->end);
		assert_string_equal(m.perms, c->perms);
		assert_int_equal(m.offset, c->offset);
		assert_int_equal(m.dev_major, c->major);
		assert_int_equal(m.dev_minor, c->minor);
		assert_int_equal(m.ino, c->ino);
		if (strcmp(m.path, c->path) != 0)
			print_message("line %zu: path '%s', wanted '%s'\n", i, m.path, c->path);
		assert_string_equal(m.path, c->path);
		assert_int_equal(m.deleted, c->deleted);
	}
}

static void test_maps_long_path(void **state)
{
	static char line[9000], want[4096];
	struct proc_map m;
	int n;

	(void)state;
	/* A name longer than the path buffer is cut, never overflowed. */
	n = snprintf(line, sizeof(line), "7f0000000000-7f0000001000 rw-s 00000000 fe:01 12 /");
	memset(line + n, 'L', 8000);
	strcpy(line + n + 8000, " (deleted)\n");
	assert_int_equal(proc_parse_maps_line(line, &m), 0);
	assert_int_equal(strlen(m.path), sizeof(m.path) - 1);
	want[0] = '/';
	memset(want + 1, 'L', sizeof(want) - 2);
	want[sizeof(want) - 1] = 0;
	assert_string_equal(m.path, want);
	assert_int_equal(m.ino, 12);
}

static void test_maps_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"hello world\n",
		"7f00-7f01\n",
		"7f00-7f01 rw-p\n",
		"7f00-7f01 rw-p 00000000\n",
		"7f00-7f01 rw-p 00000000 00:00\n",
		"7f00-7f01 rw-p 00000000 00:00 \n",
		"7f00-7f01 rw-p 00000000 00:00 x /path\n",
		"7f00-7f01 rw-p 00000000 0000 5 /path\n",
		"7f00-7f01 rw-p zzzzzzzz 00:00 5 /path\n",
		"zzzz-yyyy rw-p 00000000 00:00 0\n",
		"7f00 7f01 rw-p 00000000 00:00 0\n",
		"-\n",
		"Name:\tcat\n", /* a line of /proc/PID/status */
		"VmFlags: rd wr sh mr mw me ms sd\n", /* a line of smaps */
	};
	struct proc_map m;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (proc_parse_maps_line(bad[i], &m) != -1)
			print_message("garbage line %zu parsed: '%s'\n", i, bad[i]);
		assert_int_equal(proc_parse_maps_line(bad[i], &m), -1);
	}
}

/* The whole of our own /proc/self/maps parses, and a memfd we map shows up. */
static void test_maps_self(void **state)
{
	struct proc_map *maps = NULL;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	int n, lines = 0, found = 0;
	int fd = memfd_create("procparse test", MFD_CLOEXEC);
	void *p;
	struct stat st;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 3 * 4096), 0);
	assert_int_equal(fstat(fd, &st), 0);
	p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);

	f = fopen("/proc/self/maps", "re");
	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		struct proc_map m;

		lines++;
		assert_int_equal(proc_parse_maps_line(line, &m), 0);
		assert_true(m.start < m.end);
		assert_int_equal(strlen(m.perms), 4);
	}
	free(line);
	fclose(f);

	n = proc_read_maps(getpid(), &maps);
	assert_true(n > 0);
	assert_true(n >= lines - 2 && n <= lines + 2); /* the same file, read again */
	for (int i = 0; i < n; i++) {
		if (maps[i].start != (uintptr_t)p)
			continue;
		found = 1;
		assert_int_equal(maps[i].end, (uintptr_t)p + 3 * 4096);
		assert_string_equal(maps[i].perms, "rw-s");
		assert_string_equal(maps[i].path, "/memfd:procparse test");
		assert_int_equal(maps[i].deleted, 1);
		assert_int_equal(maps[i].ino, st.st_ino);
		assert_int_equal(maps[i].offset, 0);
	}
	assert_true(found);
	free(maps);
	munmap(p, 3 * 4096);
	close(fd);
	assert_int_equal(proc_read_maps(-5, &maps), -1);
}

/* ------------------------------------------------------------------ */
/* sparse_copy                                                        */
/* ------------------------------------------------------------------ */

static char tmpdir[64];

static int setup_dir(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/crshim-ut-XXXXXX", base && strlen(base) < 40 ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int make_file(const char *dir, const char *name, char *path, size_t pathlen)
{
	int fd;

	snprintf(path, pathlen, "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	return fd;
}

/* Pattern data that differs per offset (so a misplaced copy is caught). */
static void write_pattern(int fd, off_t off, size_t len, unsigned seed)
{
	unsigned char *b = malloc(len);

	assert_non_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)((((size_t)off + i) * 2654435761u + seed) >> 13);
	assert_int_equal(pwrite(fd, b, len, off), (ssize_t)len);
	free(b);
}

static void expect_same_content(int a, int b, uint64_t size)
{
	enum { CH = 1 << 20 };
	char *x = malloc(CH), *y = malloc(CH);
	struct stat sa, sb;

	assert_non_null(x);
	assert_non_null(y);
	assert_int_equal(fstat(a, &sa), 0);
	assert_int_equal(fstat(b, &sb), 0);
	assert_int_equal(sb.st_size, (off_t)size);
	for (uint64_t off = 0; off < size; off += CH) {
		size_t n = size - off < CH ? (size_t)(size - off) : CH;

		assert_int_equal(pread(a, x, n, (off_t)off), (ssize_t)n);
		assert_int_equal(pread(b, y, n, (off_t)off), (ssize_t)n);
		if (memcmp(x, y, n) != 0) {
			for (size_t i = 0; i < n; i++)
				if (x[i] != y[i]) {
					print_message("first difference at %llu\n", (unsigned long long)(off + i));
					break;
				}
			fail();
		}
	}
	free(x);
	free(y);
}

static blkcnt_t blocks_of(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_blocks;
}

/* Copy in -> dir/name and check size, content, holes and the byte count. */
static void check_copy(int in, const char *dir, const char *name, uint64_t size, int64_t data_bytes)
{
	char path[256];
	int out = make_file(dir, name, path, sizeof(path));
	int64_t n = sparse_copy(in, out, size);
	blkcnt_t bin = blocks_of(in), bout = blocks_of(out);

	assert_int_equal(n, data_bytes);
	expect_same_content(in, out, size);
	/* Holes kept: no more allocated than the data (plus a little metadata
	 * slack), and no less. */
	if (bout > bin + 64 || (uint64_t)bout * 512 < (uint64_t)data_bytes)
		print_message("%s: st_blocks in %lld out %lld data %lld\n", name, (long long)bin, (long long)bout,
			      (long long)data_bytes);
	assert_true(bout <= bin + 64);
	assert_true((uint64_t)bout * 512 >= (uint64_t)data_bytes);
	close(out);
	unlink(path);
}

/* Whether the file system under dir keeps holes (SEEK_DATA/SEEK_HOLE). */
static int fs_is_sparse(const char *dir)
{
	char path[256];
	int fd = make_file(dir, "probe", path, sizeof(path));
	int ok;

	assert_int_equal(ftruncate(fd, 16 << 20), 0);
	write_pattern(fd, 8 << 20, 4096, 1);
	ok = blocks_of(fd) < 1024 && lseek(fd, 0, SEEK_DATA) == (8 << 20) && lseek(fd, 8 << 20, SEEK_HOLE) == (8 << 20) + 4096;
	close(fd);
	unlink(path);
	return ok;
}

static void test_sparse_three_extents(void **state)
{
	const uint64_t size = 64ull << 20;
	char path[256];
	int in;

	(void)state;
	if (!fs_is_sparse(tmpdir)) {
		print_message("%s does not keep holes; skipping\n", tmpdir);
		skip();
	}
	in = make_file(tmpdir, "sparse.src", path, sizeof(path));
	assert_int_equal(ftruncate(in, (off_t)size), 0);
	write_pattern(in, 0, 64 << 10, 1);		     /* at the start */
	write_pattern(in, 20 << 20, 1 << 20, 2);	     /* in the middle */
	write_pattern(in, (off_t)size - (256 << 10), 256 << 10, 3); /* at the end */
	assert_int_equal(fsync(in), 0);
	assert_true(blocks_of(in) * 512 < (blkcnt_t)(4 << 20));

	check_copy(in, tmpdir, "sparse.dst", size, (64 << 10) + (1 << 20) + (256 << 10));
	/* Across file systems (copy_file_range refuses: the read/write path). */
	if (access("/dev/shm", W_OK) == 0 && fs_is_sparse("/dev/shm")) {
		char shmdir[64];

		snprintf(shmdir, sizeof(shmdir), "/dev/shm/crshim-ut-XXXXXX");
		assert_non_null(mkdtemp(shmdir));
		check_copy(in, shmdir, "sparse.dst", size, (64 << 10) + (1 << 20) + (256 << 10));
		rmdir(shmdir);
	}
	/* A prefix of the file only (size smaller than the file). */
	check_copy(in, tmpdir, "prefix.dst", (20 << 20) + 4096, (64 << 10) + 4096);
	close(in);
	unlink(path);
}

static void test_sparse_only_holes(void **state)
{
	char path[256];
	int in;

	(void)state;
	in = make_file(tmpdir, "holes.src", path, sizeof(path));
	assert_int_equal(ftruncate(in, 16 << 20), 0);
	{
		char opath[256];
		int out = make_file(tmpdir, "holes.dst", opath, sizeof(opath));
		struct stat st;

		assert_int_equal(sparse_copy(in, out, 16 << 20), 0);
		assert_int_equal(fstat(out, &st), 0);
		assert_int_equal(st.st_size, 16 << 20);
		if (fs_is_sparse(tmpdir))
			assert_int_equal(st.st_blocks, 0);
		expect_same_content(in, out, 16 << 20);
		close(out);
		unlink(opath);
	}
	/* An empty file. */
	assert_int_equal(ftruncate(in, 0), 0);
	check_copy(in, tmpdir, "empty.dst", 0, 0);
	close(in);
	unlink(path);
}

static void test_sparse_odd_size(void **state)
{
	char path[256];
	int in;
	const uint64_t size = (3 << 20) + 123;

	(void)state;
	in = make_file(tmpdir, "odd.src", path, sizeof(path));
	assert_int_equal(ftruncate(in, (off_t)size), 0);
	write_pattern(in, 0, 5000, 4);			/* not block aligned */
	write_pattern(in, (off_t)size - 1000, 1000, 5); /* the partial last block */
	if (fs_is_sparse(tmpdir)) {
		/* data is counted by extents: whole blocks, except at EOF */
		check_copy(in, tmpdir, "odd.dst", size, 8192 + 4096 + 123);
	} else {
		char opath[256];
		int out = make_file(tmpdir, "odd.dst", opath, sizeof(opath));

		assert_true(sparse_copy(in, out, size) >= 6000);
		expect_same_content(in, out, size);
		close(out);
		unlink(opath);
	}
	/* A small file, smaller than one page, all data. */
	assert_int_equal(ftruncate(in, 0), 0);
	write_pattern(in, 0, 777, 6);
	check_copy(in, tmpdir, "tiny.dst", 777, 777);
	close(in);
	unlink(path);
}

/* Descriptors that cannot be read or written: -1, not a crash. */
static void test_sparse_errors(void **state)
{
	char path[256];
	int in, out;

	(void)state;
	in = make_file(tmpdir, "err.src", path, sizeof(path));
	write_pattern(in, 0, 4096, 7);
	out = open("/dev/null", O_RDONLY | O_CLOEXEC); /* not writable */
	assert_true(out >= 0);
	assert_int_equal(sparse_copy(in, out, 4096), -1);
	close(out);
	close(in);
	unlink(path);
}

static void test_external_key(void **state)
{
	struct pool p;
	char key[64];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.mnt_id = 0x1f;
	p.ino = 0xabcdef123ull;
	pool_external_key(&p, key, sizeof(key));
	assert_string_equal(key, "file[1f:abcdef123]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_good),
		cmocka_unit_test(test_maps_long_path),
		cmocka_unit_test(test_maps_garbage),
		cmocka_unit_test(test_maps_self),
		cmocka_unit_test(test_sparse_three_extents),
		cmocka_unit_test(test_sparse_only_holes),
		cmocka_unit_test(test_sparse_odd_size),
		cmocka_unit_test(test_sparse_errors),
		cmocka_unit_test(test_external_key),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
