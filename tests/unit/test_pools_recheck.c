/*
 * Unit test of pools_recheck (tools/pools.c): pools are discovered while
 * the processes run and saved once they are frozen; in between, a program
 * may close a pool (or reuse its fd number for another file).  This test
 * process is its own "dumped process": it holds unlinked files in /dev/shm
 * by fd and by a shared mapping, is scanned, changes what it holds, and is
 * scanned again.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pools.h"

/* An unlinked file in /dev/shm of len bytes, open read-write. */
static int unlinked_file(const char *tag, off_t len)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/crshim-unit-%d-%s", (int)getpid(), tag);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, len), 0);
	assert_int_equal(unlink(path), 0);
	return fd;
}

static struct pool *find(struct pool_set *set, int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	for (int i = 0; i < set->n; i++)
		if (set->v[i].dev == (uint64_t)st.st_dev && set->v[i].ino == (uint64_t)st.st_ino)
			return &set->v[i];
	return NULL;
}

static void test_closed_and_reused(void **state)
{
	pid_t self = getpid();
	json_t *none = NULL;
	struct pool_set set;
	char err[256], want[128];
	int a = unlinked_file("a", 4096);	/* closed before the "freeze", its number reused */
	int b = unlinked_file("b", 8192);	/* held by a shared mapping only */
	int c = unlinked_file("c", 4096);	/* held by fd throughout */
	int a_ino_fd = dup(a), d;
	void *map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, b, 0);
	struct pool *pb, *pc;

	(void)state;
	assert_true(map != MAP_FAILED);
	/* b by its mapping only */
	close(b);
	assert_int_equal(pools_discover(&self, &none, 1, &set, err, sizeof(err)), 0);
	assert_non_null(find(&set, a));
	assert_non_null(find(&set, c));

	/* a: closed (both numbers), and a's number now holds another file */
	{
		struct stat sa;

		assert_int_equal(fstat(a, &sa), 0);
		close(a_ino_fd);
		d = open("/dev/null", O_RDWR);
		assert_true(d >= 0);
		assert_int_equal(dup2(d, a), a);
		close(d);
		/* still known to the set by identity: drop it at recheck */
		assert_int_equal(pools_recheck(&set, &self, 1, stderr), 1);
		for (int i = 0; i < set.n; i++)
			assert_false(set.v[i].dev == (uint64_t)sa.st_dev && set.v[i].ino == (uint64_t)sa.st_ino);
	}
	/* b: kept, read through its mapping */
	pb = NULL;
	for (int i = 0; i < set.n; i++)
		if (strstr(set.v[i].path, "crshim-unit-") && strstr(set.v[i].path, "-b"))
			pb = &set.v[i];
	assert_non_null(pb);
	assert_non_null(strstr(pb->src.path, "/map_files/"));
	assert_int_equal(json_array_size(pb->holders), 1);
	assert_int_equal(json_array_size(json_object_get(json_array_get(pb->holders, 0), "mappings")), 1);
	/* c: kept, read through its fd, one holder with that fd */
	pc = find(&set, c);
	assert_non_null(pc);
	snprintf(want, sizeof(want), "/proc/%d/fd/%d", (int)self, c);
	assert_string_equal(pc->src.path, want);
	assert_int_equal(json_integer_value(json_array_get(
				 json_object_get(json_array_get(pc->holders, 0), "fds"), 0)),
			 c);
	/* nothing changes a second time */
	assert_int_equal(pools_recheck(&set, &self, 1, stderr), 0);
	pools_free(&set);
	munmap(map, 8192);
	close(a);
	close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_closed_and_reused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
