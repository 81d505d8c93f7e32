/*
 * Unit tests of the registry (preload/registry.c): objects, mappings with
 * munmap/mremap semantics, fds, refcounts, full tables, snapshots, a
 * threaded stress test and a randomized comparison against a page model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "registry.h"

#define PG ((uintptr_t)4096)
#define BASE ((uintptr_t)0x10000000)
#define A(pg) (BASE + (uintptr_t)(pg) * PG)
#define L(npg) ((size_t)(npg) * PG)

/* ------------------------------------------------------------------ */
/* helpers                                                            */
/* ------------------------------------------------------------------ */

struct snap {
	void *buf;
	struct crs_reg_snapshot s;
};

static void snap_take(struct snap *sn)
{
	size_t size = crs_reg_snapshot_size();

	sn->buf = malloc(size);
	assert_non_null(sn->buf);
	assert_int_equal(crs_reg_snapshot(sn->buf, size, &sn->s), 0);
}

static void snap_free(struct snap *sn)
{
	free(sn->buf);
	sn->buf = NULL;
}

/* Index in the snapshot of the object with registry index idx, or -1. */
static int snap_obj(const struct crs_reg_snapshot *s, uint32_t idx)
{
	for (uint32_t i = 0; i < s->nobjects; i++)
		if (s->object_index[i] == idx)
			return (int)i;
	return -1;
}

/*
 * Structural invariants: mappings sorted, non-empty, non-overlapping; each
 * mapping refers to a live object; every object's nmaps / nfds equal the
 * number of mappings / fds referring to it; stats agree with the tables.
 */
static void check_consistency(void)
{
	struct snap sn;
	const struct crs_reg_snapshot *s;

	snap_take(&sn);
	s = &sn.s;
	assert_int_equal(s->stats.mappings, s->nmappings);
	assert_int_equal(s->stats.objects, s->nobjects);
	assert_int_equal(s->stats.fds, s->nfd_pairs);
	for (uint32_t i = 0; i < s->nmappings; i++) {
		const struct crs_mapping *m = &s->mappings[i];

		assert_true(m->len > 0);
		if (i + 1 < s->nmappings)
			assert_true(m->start + m->len <= s->mappings[i + 1].start);
		if (m->obj != CRS_NO_OBJECT)
			assert_true(snap_obj(s, m->obj) >= 0);
	}
	for (uint32_t i = 0; i < s->nobjects; i++) {
		uint32_t idx = s->object_index[i], nm = 0, nf = 0;

		assert_int_equal(s->objects[i].in_use, 1);
		for (uint32_t j = 0; j < s->nmappings; j++)
			nm += s->mappings[j].obj == idx;
		for (uint32_t j = 0; j < s->nfd_pairs; j++)
			nf += (uint32_t)s->fd_obj[2 * j + 1] == idx;
		assert_int_equal(s->objects[i].nmaps, nm);
		assert_int_equal(s->objects[i].nfds, nf);
	}
	snap_free(&sn);
}

struct exp_map {
	uintptr_t start;
	size_t len;
	uint64_t offset;
	uint32_t obj;
};

/* The mapping table must be exactly e[0..n). */
static void expect_maps(const struct exp_map *e, uint32_t n)
{
	struct snap sn;

	snap_take(&sn);
	if (sn.s.nmappings != n) {
		for (uint32_t i = 0; i < sn.s.nmappings; i++)
			print_message("  have [%#lx, +%#zx) off %#llx obj %u\n",
				      (unsigned long)sn.s.mappings[i].start, sn.s.mappings[i].len,
				      (unsigned long long)sn.s.mappings[i].offset, sn.s.mappings[i].obj);
	}
	assert_int_equal(sn.s.nmappings, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct crs_mapping *m = &sn.s.mappings[i];

		assert_int_equal(m->start, e[i].start);
		assert_int_equal(m->len, e[i].len);
		assert_int_equal(m->offset, e[i].offset);
		assert_int_equal(m->obj, e[i].obj);
	}
	snap_free(&sn);
	check_consistency();
}

static uint32_t get_file(uint64_t dev, uint64_t ino, const char *path)
{
	struct crs_object_key k = { .kind = CRS_OBJ_FILE, .dev = dev, .ino = ino };

	return crs_reg_object_get(&k, path, 0, 0100600, NULL, 0);
}

static uint32_t find_file(uint64_t dev, uint64_t ino)
{
	struct crs_object_key k = { .kind = CRS_OBJ_FILE, .dev = dev, .ino = ino };

	return crs_reg_object_find(&k);
}

static uint32_t get_sysv(int32_t id)
{
	struct crs_object_key k = { .kind = CRS_OBJ_SYSV, .sysv_id = id };

	return crs_reg_object_get(&k, "/SYSV00001234", 8192, 0600, NULL, 0);
}

static uint32_t find_sysv(int32_t id)
{
	struct crs_object_key k = { .kind = CRS_OBJ_SYSV, .sysv_id = id };

	return crs_reg_object_find(&k);
}

static void copy_object(struct crs_object *o, void *arg)
{
	memcpy(arg, o, sizeof(*o));
}

/* A copy of a live object (asserts it is live). */
static void get_object(uint32_t idx, struct crs_object *out)
{
	assert_int_equal(crs_reg_object_update(idx, copy_object, out), 0);
}

static void stats(struct crs_reg_stats *st)
{
	crs_reg_get_stats(st);
}

static int setup_small(void **state)
{
	(void)state;
	return crs_reg_init(8, 16, 64);
}

static int teardown(void **state)
{
	(void)state;
	crs_reg_destroy();
	return 0;
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                          */
/* ------------------------------------------------------------------ */

static void test_lifecycle(void **state)
{
	struct crs_reg_stats st;
	struct crs_mapping m;

	(void)state;
	assert_true(crs_reg_ready());
	assert_int_equal(crs_reg_init(8, 16, 64), 0); /* second init: no-op */
	stats(&st);
	assert_true(st.arena_bytes >= 8 * sizeof(struct crs_object) + 16 * sizeof(struct crs_mapping) + 64 * 4);
	assert_int_equal(st.objects, 0);
	assert_int_equal(st.mappings, 0);
	assert_int_equal(st.fds, 0);
	assert_false(crs_reg_has_mappings());

	/* Destroyed: every call is a harmless no-op. */
	crs_reg_destroy();
	assert_false(crs_reg_ready());
	assert_int_equal(get_file(1, 1, "/x"), CRS_NO_OBJECT);
	assert_int_equal(crs_reg_map_add(A(0), L(1), 0, PROT_READ, MAP_SHARED, 0), -1);
	crs_reg_map_remove(A(0), L(1));
	crs_reg_map_move(A(0), L(1), A(10), L(1));
	assert_int_equal(crs_reg_map_lookup(A(0), &m), -1);
	assert_int_equal(crs_reg_map_next(0, &m), -1);
	crs_reg_fd_set(3, 0);
	assert_int_equal(crs_reg_fd_get(3), CRS_NO_OBJECT);
	assert_false(crs_reg_fd_tracked(3));
	assert_int_equal(crs_reg_sysv_rmid(1), -1);
	assert_int_equal(crs_reg_mark_inode(1, 1, CRS_OF_UNLINKED, NULL), 0);

	/* And it can be brought back with a fresh state. */
	assert_int_equal(crs_reg_init(8, 16, 64), 0);
	assert_true(crs_reg_ready());
	stats(&st);
	assert_int_equal(st.objects, 0);
}

/* ------------------------------------------------------------------ */
/* objects                                                            */
/* ------------------------------------------------------------------ */

static void test_object_file_dedupe(void **state)
{
	struct crs_object_key k = { .kind = CRS_OBJ_FILE, .dev = 7, .ino = 42 };
	struct crs_object_key kmem = { .kind = CRS_OBJ_MEMFD, .dev = 7, .ino = 42 };
	uintptr_t bt[12];
	struct crs_object o;
	uint32_t a, b, c, d;
	struct crs_reg_stats st;

	(void)state;
	for (int i = 0; i < 12; i++)
		bt[i] = 0x1000 + (uintptr_t)i;
	a = crs_reg_object_get(&k, "/dev/shm/pool", 100, 0100644, bt, 12);
	assert_int_not_equal(a, CRS_NO_OBJECT);
	get_object(a, &o);
	assert_int_equal(o.kind, CRS_OBJ_FILE);
	assert_int_equal(o.dev, 7);
	assert_int_equal(o.ino, 42);
	assert_int_equal(o.size, 100);
	assert_int_equal(o.mode, 0100644);
	assert_string_equal(o.path, "/dev/shm/pool");
	assert_int_equal(o.nbt, CRS_BT_DEPTH); /* truncated to the depth */
	for (int i = 0; i < CRS_BT_DEPTH; i++)
		assert_int_equal(o.bt[i], 0x1000 + (uintptr_t)i);
	assert_int_equal(o.nmaps, 0);
	assert_int_equal(o.nfds, 0);

	/* Same identity: same object; the size only grows; the path stays. */
	b = crs_reg_object_get(&k, "/other/name", 50, 0, NULL, 0);
	assert_int_equal(b, a);
	get_object(a, &o);
	assert_int_equal(o.size, 100);
	assert_string_equal(o.path, "/dev/shm/pool");
	assert_int_equal(crs_reg_object_get(&k, NULL, 4096, 0, NULL, 0), a);
	get_object(a, &o);
	assert_int_equal(o.size, 4096);
	assert_int_equal(crs_reg_object_find(&k), a);

	/* Another inode, another device, another kind: distinct objects. */
	c = get_file(7, 43, "/b");
	assert_int_not_equal(c, a);
	d = get_file(8, 42, "/c");
	assert_int_not_equal(d, a);
	assert_int_not_equal(d, c);
	assert_int_not_equal(crs_reg_object_get(&kmem, "/memfd:x", 0, 0, NULL, 0), a);
	assert_int_equal(find_file(9, 9), CRS_NO_OBJECT);

	/* Serials increase in creation order. */
	{
		struct crs_object oc, od;

		get_object(c, &oc);
		get_object(d, &od);
		assert_true(o.serial < oc.serial);
		assert_true(oc.serial < od.serial);
	}
	stats(&st);
	assert_int_equal(st.objects, 4);

	/* NULL path and an over-long path. */
	{
		static char longp[CRS_PATH_MAX + 100];
		uint32_t e, f;

		memset(longp, 'p', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = 0;
		e = get_file(1, 1, NULL);
		f = get_file(1, 2, longp);
		get_object(e, &o);
		assert_string_equal(o.path, "");
		get_object(f, &o);
		assert_int_equal(strlen(o.path), CRS_PATH_MAX - 1);
		assert_memory_equal(o.path, longp, CRS_PATH_MAX - 1);
	}
}

static void test_object_sysv_dedupe(void **state)
{
	uint32_t a, b;
	struct crs_object o;

	(void)state;
	a = get_sysv(100);
	b = get_sysv(101);
	assert_int_not_equal(a, CRS_NO_OBJECT);
	assert_int_not_equal(b, CRS_NO_OBJECT);
	assert_int_not_equal(a, b);
	assert_int_equal(get_sysv(100), a);
	assert_int_equal(find_sysv(100), a);
	assert_int_equal(find_sysv(101), b);
	assert_int_equal(find_sysv(102), CRS_NO_OBJECT);
	get_object(a, &o);
	assert_int_equal(o.kind, CRS_OBJ_SYSV);
	assert_int_equal(o.sysv_id, 100);
	assert_int_equal(o.size, 8192);
	/* A file with dev/ino 0 is not the SysV segment. */
	assert_int_equal(find_file(0, 0), CRS_NO_OBJECT);
}

static void test_object_anon_never_deduped(void **state)
{
	struct crs_object_key k = { .kind = CRS_OBJ_ANON_SHARED };
	uint32_t a, b;
	struct crs_reg_stats st;

	(void)state;
	a = crs_reg_object_get(&k, "", 4096, 0, NULL, 0);
	b = crs_reg_object_get(&k, "", 4096, 0, NULL, 0);
	assert_int_not_equal(a, CRS_NO_OBJECT);
	assert_int_not_equal(b, CRS_NO_OBJECT);
	assert_int_not_equal(a, b);
	assert_int_equal(crs_reg_object_find(&k), CRS_NO_OBJECT);
	stats(&st);
	assert_int_equal(st.objects, 2);
	/* Each lives and dies with its own mapping. */
	assert_int_equal(crs_reg_map_add(A(0), L(1), 0, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, a), 0);
	assert_int_equal(crs_reg_map_add(A(1), L(1), 0, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, b), 0);
	crs_reg_map_remove(A(0), L(1));
	stats(&st);
	assert_int_equal(st.objects, 1);
	check_consistency();
}

static void set_flag_fn(struct crs_object *o, void *arg)
{
	o->flags |= *(uint16_t *)arg;
}

static void test_object_update(void **state)
{
	uint16_t f = CRS_OF_WRITE | CRS_OF_APPEND;
	uint32_t a = get_file(1, 1, "/a");
	struct crs_object o;

	(void)state;
	assert_int_equal(crs_reg_object_update(a, set_flag_fn, &f), 0);
	get_object(a, &o);
	assert_int_equal(o.flags, CRS_OF_WRITE | CRS_OF_APPEND);
	assert_int_equal(crs_reg_object_update(a + 1, set_flag_fn, &f), -1); /* free slot */
	assert_int_equal(crs_reg_object_update(8, set_flag_fn, &f), -1);     /* past the table */
	assert_int_equal(crs_reg_object_update(CRS_NO_OBJECT, set_flag_fn, &f), -1);
}

static void test_mark_inode(void **state)
{
	struct crs_object_key kshm = { .kind = CRS_OBJ_POSIX_SHM, .dev = 5, .ino = 6 };
	uint32_t a = get_file(5, 6, "/tmp/a"), b, c = get_file(5, 7, "/tmp/c"), s = get_sysv(6);
	struct crs_object o;

	(void)state;
	b = crs_reg_object_get(&kshm, "/dev/shm/a", 0, 0, NULL, 0);
	assert_int_equal(crs_reg_mark_inode(5, 6, CRS_OF_UNLINKED, NULL), 2);
	get_object(a, &o);
	assert_int_equal(o.flags, CRS_OF_UNLINKED);
	assert_string_equal(o.path, "/tmp/a");
	get_object(b, &o);
	assert_int_equal(o.flags, CRS_OF_UNLINKED);
	get_object(c, &o);
	assert_int_equal(o.flags, 0);

	/* rename: a new path, no new flags; flags accumulate. */
	assert_int_equal(crs_reg_mark_inode(5, 7, 0, "/tmp/renamed"), 1);
	get_object(c, &o);
	assert_int_equal(o.flags, 0);
	assert_string_equal(o.path, "/tmp/renamed");
	assert_int_equal(crs_reg_mark_inode(5, 7, CRS_OF_WRITE, NULL), 1);
	assert_int_equal(crs_reg_mark_inode(5, 7, CRS_OF_APPEND, NULL), 1);
	get_object(c, &o);
	assert_int_equal(o.flags, CRS_OF_WRITE | CRS_OF_APPEND);
	assert_string_equal(o.path, "/tmp/renamed");

	/* Nothing with that identity; SysV (dev/ino 0) never matches. */
	assert_int_equal(crs_reg_mark_inode(5, 8, CRS_OF_UNLINKED, NULL), 0);
	assert_int_equal(crs_reg_mark_inode(0, 0, CRS_OF_UNLINKED, "/x"), 0);
	get_object(s, &o);
	assert_int_equal(o.flags, 0);
	assert_string_equal(o.path, "/SYSV00001234");
}

/* ------------------------------------------------------------------ */
/* mappings: add, lookup, remove                                      */
/* ------------------------------------------------------------------ */

static void test_map_add_sorted(void **state)
{
	static const int order[] = { 9, 1, 5, 13, 3, 0, 11, 7 };
	uint32_t o = get_file(1, 1, "/f");
	struct crs_mapping m;
	struct exp_map e[8];

	(void)state;
	assert_false(crs_reg_has_mappings());
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(crs_reg_map_add(A(order[i]), L(1), (uint64_t)order[i] * PG,
						 PROT_READ | PROT_WRITE, MAP_SHARED, o), 0);
	assert_true(crs_reg_has_mappings());
	for (int i = 0; i < 8; i++) {
		int pg = (int[]){ 0, 1, 3, 5, 7, 9, 11, 13 }[i];

		e[i] = (struct exp_map){ A(pg), L(1), (uint64_t)pg * PG, o };
	}
	expect_maps(e, 8);

	/* Lookups: first byte, last byte, gaps, one past the end. */
	assert_int_equal(crs_reg_map_lookup(A(5), &m), 0);
	assert_int_equal(m.start, A(5));
	assert_int_equal(m.prot, PROT_READ | PROT_WRITE);
	assert_int_equal(m.flags, MAP_SHARED);
	assert_int_equal(crs_reg_map_lookup(A(5) + PG - 1, &m), 0);
	assert_int_equal(m.start, A(5));
	assert_int_equal(crs_reg_map_lookup(A(6), &m), -1);
	assert_int_equal(crs_reg_map_lookup(A(14), &m), -1);
	assert_int_equal(crs_reg_map_lookup(A(0) - 1, &m), -1);
	assert_int_equal(crs_reg_map_lookup(0, &m), -1);
	assert_int_equal(crs_reg_map_lookup(UINTPTR_MAX, &m), -1);

	/* Next: the mapping containing the address, else the first above it. */
	assert_int_equal(crs_reg_map_next(A(5) + 7, &m), 0);
	assert_int_equal(m.start, A(5));
	assert_int_equal(crs_reg_map_next(A(6), &m), 0);
	assert_int_equal(m.start, A(7));
	assert_int_equal(m.offset, 7 * PG);
	assert_int_equal(crs_reg_map_next(0, &m), 0);
	assert_int_equal(m.start, A(0));
	assert_int_equal(crs_reg_map_next(A(13) + PG - 1, &m), 0);
	assert_int_equal(m.start, A(13));
	assert_int_equal(crs_reg_map_next(A(14), &m), -1);
	assert_int_equal(crs_reg_map_next(UINTPTR_MAX, &m), -1);

	/* A zero length is refused. */
	assert_int_equal(crs_reg_map_add(A(20), 0, 0, PROT_READ, MAP_SHARED, o), -1);
	{
		struct crs_object ob;

		get_object(o, &ob);
		assert_int_equal(ob.nmaps, 8);
	}
}

/* Fixture for the munmap tests: three 4-page mappings of objects a, b, c at
 * pages [0,4) [4,8) [10,14), file offsets 0, 16 and 32 pages. */
static uint32_t fa, fb, fc;

static void three_maps(void)
{
	fa = get_file(1, 1, "/a");
	fb = get_file(1, 2, "/b");
	fc = get_file(1, 3, "/c");
	assert_int_equal(crs_reg_map_add(A(0), L(4), 0, PROT_READ, MAP_SHARED, fa), 0);
	assert_int_equal(crs_reg_map_add(A(4), L(4), 16 * PG, PROT_READ, MAP_SHARED, fb), 0);
	assert_int_equal(crs_reg_map_add(A(10), L(4), 32 * PG, PROT_READ, MAP_SHARED, fc), 0);
}

static void test_remove_exact(void **state)
{
	(void)state;
	three_maps();
	crs_reg_map_remove(A(4), L(4));
	expect_maps((struct exp_map[]){ { A(0), L(4), 0, fa }, { A(10), L(4), 32 * PG, fc } }, 2);
	assert_int_equal(find_file(1, 2), CRS_NO_OBJECT); /* last reference gone */
	assert_int_equal(find_file(1, 1), fa);
}

static void test_remove_middle(void **state)
{
	struct crs_object o;

	(void)state;
	three_maps();
	crs_reg_map_remove(A(5), L(2));
	expect_maps((struct exp_map[]){ { A(0), L(4), 0, fa },
					{ A(4), L(1), 16 * PG, fb },
					{ A(7), L(1), 19 * PG, fb },
					{ A(10), L(4), 32 * PG, fc } },
		    4);
	get_object(fb, &o);
	assert_int_equal(o.nmaps, 2);
	/* Byte-granular middle removal: offsets follow the byte position. */
	crs_reg_map_remove(A(11) + 100, 200);
	expect_maps((struct exp_map[]){ { A(0), L(4), 0, fa },
					{ A(4), L(1), 16 * PG, fb },
					{ A(7), L(1), 19 * PG, fb },
					{ A(10), PG + 100, 32 * PG, fc },
					{ A(11) + 300, L(3) - 300, 33 * PG + 300, fc } },
		    5);
}

static void test_remove_several(void **state)
{
	(void)state;
	three_maps();
	/* From the middle of a through the gap into the middle of c. */
	crs_reg_map_remove(A(2), L(10));
	expect_maps((struct exp_map[]){ { A(0), L(2), 0, fa }, { A(12), L(2), 34 * PG, fc } }, 2);
	assert_int_equal(find_file(1, 2), CRS_NO_OBJECT);
	/* Everything, with room on both sides. */
	crs_reg_map_remove(A(0) - L(100), L(200));
	expect_maps(NULL, 0);
	assert_false(crs_reg_has_mappings());
	assert_int_equal(find_file(1, 1), CRS_NO_OBJECT);
	assert_int_equal(find_file(1, 3), CRS_NO_OBJECT);
	{
		struct crs_reg_stats st;

		stats(&st);
		assert_int_equal(st.objects, 0);
		assert_int_equal(st.dropped_mappings, 0);
	}
}

static void test_remove_head_tail(void **state)
{
	(void)state;
	three_maps();
	/* Head of b: what stays starts later, at a later offset. */
	crs_reg_map_remove(A(4), L(1));
	expect_maps((struct exp_map[]){ { A(0), L(4), 0, fa },
					{ A(5), L(3), 17 * PG, fb },
					{ A(10), L(4), 32 * PG, fc } },
		    3);
	/* Tail of a: same start and offset, shorter. */
	crs_reg_map_remove(A(3), L(1));
	expect_maps((struct exp_map[]){ { A(0), L(3), 0, fa },
					{ A(5), L(3), 17 * PG, fb },
					{ A(10), L(4), 32 * PG, fc } },
		    3);
	/* A range starting in a gap and ending inside c: c's head goes. */
	crs_reg_map_remove(A(9), L(3));
	expect_maps((struct exp_map[]){ { A(0), L(3), 0, fa },
					{ A(5), L(3), 17 * PG, fb },
					{ A(12), L(2), 34 * PG, fc } },
		    3);
	/* A range starting inside b and ending in a gap: b's tail goes. */
	crs_reg_map_remove(A(6), L(4));
	expect_maps((struct exp_map[]){ { A(0), L(3), 0, fa },
					{ A(5), L(1), 17 * PG, fb },
					{ A(12), L(2), 34 * PG, fc } },
		    3);
}

static void test_remove_nothing(void **state)
{
	struct exp_map all[] = { { A(0), L(4), 0, 0 }, { A(4), L(4), 16 * PG, 1 }, { A(10), L(4), 32 * PG, 2 } };

	(void)state;
	three_maps();
	all[0].obj = fa, all[1].obj = fb, all[2].obj = fc;
	crs_reg_map_remove(A(8), L(2));	  /* the gap exactly */
	crs_reg_map_remove(A(14), L(100)); /* past the end */
	crs_reg_map_remove(A(0) - L(10), L(10)); /* right before the start */
	crs_reg_map_remove(A(5), 0);	  /* zero length */
	expect_maps(all, 3);
	/* Nothing recorded at all. */
	crs_reg_map_remove(A(0), L(100));
	crs_reg_map_remove(A(0), L(1));
	expect_maps(NULL, 0);
}

static void test_add_replaces(void **state)
{
	uint32_t d = get_file(2, 1, "/d"), e = get_file(2, 2, "/e");

	(void)state;
	three_maps();
	crs_reg_fd_set(20, e); /* e and a outlive their mappings (see */
	crs_reg_fd_set(21, fa); /* test_add_over_own_mapping) */
	/* MAP_FIXED inside a: a is split around it. */
	assert_int_equal(crs_reg_map_add(A(1), L(2), 100 * PG, PROT_READ, MAP_SHARED, d), 0);
	expect_maps((struct exp_map[]){ { A(0), L(1), 0, fa },
					{ A(1), L(2), 100 * PG, d },
					{ A(3), L(1), 3 * PG, fa },
					{ A(4), L(4), 16 * PG, fb },
					{ A(10), L(4), 32 * PG, fc } },
		    5);
	/* Over several: the tail of a, all of b, the gap, the head of c. */
	assert_int_equal(crs_reg_map_add(A(3), L(8), 0, PROT_READ, MAP_SHARED, e), 0);
	expect_maps((struct exp_map[]){ { A(0), L(1), 0, fa },
					{ A(1), L(2), 100 * PG, d },
					{ A(3), L(8), 0, e },
					{ A(11), L(3), 33 * PG, fc } },
		    4);
	assert_int_equal(find_file(1, 2), CRS_NO_OBJECT);
	/* The exact same range again (re-mmap of the same object). */
	assert_int_equal(crs_reg_map_add(A(3), L(8), 8 * PG, PROT_READ, MAP_SHARED, e), 0);
	expect_maps((struct exp_map[]){ { A(0), L(1), 0, fa },
					{ A(1), L(2), 100 * PG, d },
					{ A(3), L(8), 8 * PG, e },
					{ A(11), L(3), 33 * PG, fc } },
		    4);
	/* One covering everything. */
	assert_int_equal(crs_reg_map_add(A(0), L(20), 0, PROT_READ, MAP_SHARED, fa), 0);
	expect_maps((struct exp_map[]){ { A(0), L(20), 0, fa } }, 1);
	assert_int_equal(find_file(2, 1), CRS_NO_OBJECT);
	assert_int_equal(find_file(2, 2), e);
	assert_int_equal(find_file(1, 3), CRS_NO_OBJECT);
	/* Adjacent mappings are kept apart (no merging). */
	assert_int_equal(crs_reg_map_add(A(20), L(1), 20 * PG, PROT_READ, MAP_SHARED, fa), 0);
	expect_maps((struct exp_map[]){ { A(0), L(20), 0, fa }, { A(20), L(1), 20 * PG, fa } }, 2);
}

/*
 * MAP_FIXED of an object over its own only mapping (re-mmap of the same
 * range, shmat SHM_REMAP): the object must survive and the new mapping
 * must refer to it.
 */
static void test_add_over_own_mapping(void **state)
{
	uint32_t a = get_file(1, 1, "/a"), a2;

	(void)state;
	assert_int_equal(crs_reg_map_add(A(0), L(4), 0, PROT_READ, MAP_SHARED, a), 0);
	assert_int_equal(crs_reg_map_add(A(0), L(4), 0, PROT_READ | PROT_WRITE, MAP_SHARED, a), 0);
	if (find_file(1, 1) != a) {
		struct crs_mapping m;

		assert_int_equal(crs_reg_map_lookup(A(0), &m), 0);
		a2 = get_file(1, 2, "/unrelated");
		print_message("BUG: crs_reg_map_add over the object's only mapping freed object %u; "
			      "the new mapping refers to free slot %u, now reused by an unrelated object (%u)\n",
			      a, m.obj, a2);
		fail();
	}
	expect_maps((struct exp_map[]){ { A(0), L(4), 0, a } }, 1);
}

/* ------------------------------------------------------------------ */
/* mremap                                                             */
/* ------------------------------------------------------------------ */

static void test_move_same_size(void **state)
{
	struct crs_mapping m;

	(void)state;
	three_maps();
	crs_reg_map_move(A(4), L(4), A(100), L(4));
	expect_maps((struct exp_map[]){ { A(0), L(4), 0, fa },
					{ A(10), L(4), 32 * PG, fc },
					{ A(100), L(4), 16 * PG, fb } },
		    3);
	assert_int_equal(crs_reg_map_lookup(A(101), &m), 0);
	assert_int_equal(m.prot, PROT_READ);
	assert_int_equal(m.flags, MAP_SHARED);
	assert_int_not_equal(find_file(1, 2), CRS_NO_OBJECT); /* moved, not freed */
	/* Down to a lower address, over what was there (MREMAP_FIXED). */
	crs_reg_map_move(A(100), L(4), A(2), L(4));
	expect_maps((struct exp_map[]){ { A(0), L(2), 0, fa },
					{ A(2), L(4), 16 * PG, fb },
					{ A(10), L(4), 32 * PG, fc } },
		    3);
}

static void test_move_grow_shrink(void **state)
{
	(void)state;
	three_maps();
	/* Grow while moving: the piece reaching the old end grows. */
	crs_reg_map_move(A(4), L(4), A(100), L(10));
	expect_maps((struct exp_map[]){ { A(0), L(4), 0, fa },
					{ A(10), L(4), 32 * PG, fc },
					{ A(100), L(10), 16 * PG, fb } },
		    3);
	/* Shrink while moving. */
	crs_reg_map_move(A(100), L(10), A(200), L(3));
	expect_maps((struct exp_map[]){ { A(0), L(4), 0, fa },
					{ A(10), L(4), 32 * PG, fc },
					{ A(200), L(3), 16 * PG, fb } },
		    3);
	/* Shrink in place: the tail goes. */
	crs_reg_map_move(A(10), L(4), A(10), L(1));
	expect_maps((struct exp_map[]){ { A(0), L(4), 0, fa },
					{ A(10), L(1), 32 * PG, fc },
					{ A(200), L(3), 16 * PG, fb } },
		    3);
	/* Grow in place. */
	crs_reg_map_move(A(0), L(4), A(0), L(6));
	expect_maps((struct exp_map[]){ { A(0), L(6), 0, fa },
					{ A(10), L(1), 32 * PG, fc },
					{ A(200), L(3), 16 * PG, fb } },
		    3);
	/* Shrink to nothing left of a piece (relative position past new_len). */
	crs_reg_map_remove(A(0), L(20));
	assert_int_equal(find_file(1, 1), CRS_NO_OBJECT);
	fa = get_file(1, 1, "/a");
	fc = get_file(1, 3, "/c");
	assert_int_equal(crs_reg_map_add(A(0), L(1), 0, PROT_READ, MAP_SHARED, fa), 0);
	assert_int_equal(crs_reg_map_add(A(3), L(1), 5 * PG, PROT_READ, MAP_SHARED, fc), 0);
	crs_reg_map_move(A(0), L(4), A(50), L(2));
	expect_maps((struct exp_map[]){ { A(50), L(1), 0, fa }, { A(200), L(3), 16 * PG, fb } }, 2);
	assert_int_equal(find_file(1, 3), CRS_NO_OBJECT);
}

static void test_move_partial(void **state)
{
	(void)state;
	three_maps();
	/* The middle two pages of b move; b keeps its head and tail. */
	crs_reg_map_move(A(5), L(2), A(100), L(2));
	expect_maps((struct exp_map[]){ { A(0), L(4), 0, fa },
					{ A(4), L(1), 16 * PG, fb },
					{ A(7), L(1), 19 * PG, fb },
					{ A(10), L(4), 32 * PG, fc },
					{ A(100), L(2), 17 * PG, fb } },
		    5);
	/* The middle page of c moves and grows. */
	crs_reg_map_move(A(11), L(1), A(300), L(3));
	expect_maps((struct exp_map[]){ { A(0), L(4), 0, fa },
					{ A(4), L(1), 16 * PG, fb },
					{ A(7), L(1), 19 * PG, fb },
					{ A(10), L(1), 32 * PG, fc },
					{ A(12), L(2), 34 * PG, fc },
					{ A(100), L(2), 17 * PG, fb },
					{ A(300), L(3), 33 * PG, fc } },
		    7);
}

static void test_move_pieces(void **state)
{
	(void)state;
	three_maps();
	/* [2, 12): the tail of a, all of b, a 2-page gap, the head of c:
	 * relative positions and offsets are kept, gaps stay gaps. */
	crs_reg_map_move(A(2), L(10), A(100), L(10));
	expect_maps((struct exp_map[]){ { A(0), L(2), 0, fa },
					{ A(12), L(2), 34 * PG, fc },
					{ A(100), L(2), 2 * PG, fa },
					{ A(102), L(4), 16 * PG, fb },
					{ A(108), L(2), 32 * PG, fc } },
		    5);
	/* Grow: only the last piece, and only because it reaches the old end. */
	crs_reg_map_move(A(100), L(10), A(200), L(12));
	expect_maps((struct exp_map[]){ { A(0), L(2), 0, fa },
					{ A(12), L(2), 34 * PG, fc },
					{ A(200), L(2), 2 * PG, fa },
					{ A(202), L(4), 16 * PG, fb },
					{ A(208), L(4), 32 * PG, fc } },
		    5);
	/* A range whose last piece ends before the old end does not grow. */
	crs_reg_map_move(A(200), L(7), A(300), L(9));
	expect_maps((struct exp_map[]){ { A(0), L(2), 0, fa },
					{ A(12), L(2), 34 * PG, fc },
					{ A(208), L(4), 32 * PG, fc },
					{ A(300), L(2), 2 * PG, fa },
					{ A(302), L(4), 16 * PG, fb } },
		    5);
	/* Shrink cutting through the middle piece. */
	crs_reg_map_move(A(300), L(6), A(400), L(4));
	expect_maps((struct exp_map[]){ { A(0), L(2), 0, fa },
					{ A(12), L(2), 34 * PG, fc },
					{ A(208), L(4), 32 * PG, fc },
					{ A(400), L(2), 2 * PG, fa },
					{ A(402), L(2), 16 * PG, fb } },
		    5);
	/* Nothing recorded in the old range: the target range is still
	 * cleared (what the kernel unmapped there is gone). */
	crs_reg_map_move(A(500), L(4), A(0), L(4));
	expect_maps((struct exp_map[]){ { A(12), L(2), 34 * PG, fc },
					{ A(208), L(4), 32 * PG, fc },
					{ A(400), L(2), 2 * PG, fa },
					{ A(402), L(2), 16 * PG, fb } },
		    4);
}

/* More than 8 pieces in one mremap: the extra ones are dropped and counted. */
static void test_move_too_many_pieces(void **state)
{
	struct crs_reg_stats st;
	uint32_t o;

	(void)state;
	crs_reg_destroy();
	assert_int_equal(crs_reg_init(8, 64, 64), 0);
	o = get_file(1, 1, "/f");
	for (int i = 0; i < 10; i++)
		assert_int_equal(crs_reg_map_add(A(2 * i), L(1), (uint64_t)i * PG, PROT_READ, MAP_SHARED, o), 0);
	crs_reg_map_move(A(0), L(20), A(100), L(20));
	stats(&st);
	assert_int_equal(st.dropped_mappings, 2);
	assert_int_equal(st.mappings, 8);
	{
		struct exp_map e[8];

		for (int i = 0; i < 8; i++)
			e[i] = (struct exp_map){ A(100 + 2 * i), L(1), (uint64_t)i * PG, o };
		expect_maps(e, 8);
	}
}

/* ------------------------------------------------------------------ */
/* lifetimes                                                          */
/* ------------------------------------------------------------------ */

static void test_object_lifetime(void **state)
{
	struct crs_object o;
	struct crs_reg_stats st;
	uint32_t a = get_file(3, 3, "/tmp/x");

	(void)state;
	/* Two mappings and one fd. */
	assert_int_equal(crs_reg_map_add(A(0), L(1), 0, PROT_READ, MAP_SHARED, a), 0);
	assert_int_equal(crs_reg_map_add(A(5), L(1), 0, PROT_READ, MAP_SHARED, a), 0);
	crs_reg_fd_set(10, a);
	get_object(a, &o);
	assert_int_equal(o.nmaps, 2);
	assert_int_equal(o.nfds, 1);
	crs_reg_map_remove(A(0), L(1));
	get_object(a, &o);
	assert_int_equal(o.nmaps, 1);
	crs_reg_fd_clear(10);
	get_object(a, &o);
	assert_int_equal(o.nfds, 0);
	assert_int_equal(find_file(3, 3), a);
	crs_reg_map_remove(A(5), L(1));
	assert_int_equal(find_file(3, 3), CRS_NO_OBJECT);
	assert_int_equal(crs_reg_object_update(a, copy_object, &o), -1);
	stats(&st);
	assert_int_equal(st.objects, 0);

	/* The fd outlives the mappings. */
	a = get_file(3, 3, "/tmp/x");
	crs_reg_fd_set(11, a);
	crs_reg_fd_set(12, a);
	assert_int_equal(crs_reg_map_add(A(0), L(1), 0, PROT_READ, MAP_SHARED, a), 0);
	crs_reg_map_remove(A(0), L(1));
	assert_int_equal(find_file(3, 3), a);
	crs_reg_fd_clear(11);
	assert_int_equal(find_file(3, 3), a);
	crs_reg_fd_clear(12);
	assert_int_equal(find_file(3, 3), CRS_NO_OBJECT);

	/* A fresh object with no reference yet stays until released. */
	a = get_file(3, 4, "/tmp/y");
	assert_int_equal(find_file(3, 4), a);
	crs_reg_object_maybe_free(a);
	assert_int_equal(find_file(3, 4), CRS_NO_OBJECT);
	crs_reg_object_maybe_free(CRS_NO_OBJECT); /* harmless */
	crs_reg_object_maybe_free(1000);

	/* Freed slots are reused (lowest first). */
	assert_int_equal(get_file(3, 5, "/tmp/z"), 0);
	check_consistency();
}

static void test_sysv_lifetime(void **state)
{
	struct crs_object o;
	uint32_t s;

	(void)state;
	/* shmget; no attachment: kept (the segment exists in the kernel). */
	s = get_sysv(77);
	crs_reg_object_maybe_free(s);
	assert_int_equal(find_sysv(77), s);
	/* Attach twice, detach once, still there. */
	assert_int_equal(crs_reg_map_add(A(0), L(2), 0, PROT_READ | PROT_WRITE, MAP_SHARED, s), 0);
	assert_int_equal(crs_reg_map_add(A(10), L(2), 0, PROT_READ, MAP_SHARED, s), 0);
	crs_reg_map_remove(A(0), L(2));
	assert_int_equal(find_sysv(77), s);
	/* Detach everything without RMID: kept. */
	crs_reg_map_remove(A(10), L(2));
	assert_int_equal(find_sysv(77), s);
	get_object(s, &o);
	assert_int_equal(o.nmaps, 0);
	/* Attach, RMID: kept while attached, marked. */
	assert_int_equal(crs_reg_map_add(A(20), L(2), 0, PROT_READ, MAP_SHARED, s), 0);
	assert_int_equal(crs_reg_sysv_rmid(77), 0);
	get_object(s, &o);
	assert_int_equal(o.flags & (CRS_OF_SYSV_RMID | CRS_OF_UNLINKED), CRS_OF_SYSV_RMID | CRS_OF_UNLINKED);
	assert_int_equal(find_sysv(77), s);
	/* Last detach: gone. */
	crs_reg_map_remove(A(20), L(2));
	assert_int_equal(find_sysv(77), CRS_NO_OBJECT);
	/* RMID with no attachment: gone at once. */
	s = get_sysv(78);
	assert_int_equal(crs_reg_sysv_rmid(78), 0);
	assert_int_equal(find_sysv(78), CRS_NO_OBJECT);
	/* RMID of something unknown. */
	assert_int_equal(crs_reg_sysv_rmid(79), -1);
	check_consistency();
}

/* ------------------------------------------------------------------ */
/* fds                                                                */
/* ------------------------------------------------------------------ */

static void test_fds(void **state)
{
	struct crs_reg_stats st;
	struct crs_object o;
	uint32_t a = get_file(1, 1, "/a"), b = get_file(1, 2, "/b");

	(void)state;
	assert_false(crs_reg_fd_tracked(3));
	assert_int_equal(crs_reg_fd_get(3), CRS_NO_OBJECT);
	crs_reg_fd_set(3, a);
	crs_reg_fd_set(0, b);
	crs_reg_fd_set(63, b);
	assert_true(crs_reg_fd_tracked(3));
	assert_true(crs_reg_fd_tracked(0));
	assert_true(crs_reg_fd_tracked(63));
	assert_false(crs_reg_fd_tracked(4));
	assert_int_equal(crs_reg_fd_get(3), a);
	assert_int_equal(crs_reg_fd_get(0), b);
	assert_int_equal(crs_reg_fd_get(63), b);
	stats(&st);
	assert_int_equal(st.fds, 3);
	get_object(b, &o);
	assert_int_equal(o.nfds, 2);

	/* Re-pointing an fd (dup2 over it): the old object loses it. */
	crs_reg_fd_set(63, a);
	assert_int_equal(crs_reg_fd_get(63), a);
	get_object(a, &o);
	assert_int_equal(o.nfds, 2);
	get_object(b, &o);
	assert_int_equal(o.nfds, 1);
	stats(&st);
	assert_int_equal(st.fds, 3);
	check_consistency();

	/* Out of range: not recorded, counted. */
	crs_reg_fd_set(-1, a);
	crs_reg_fd_set(64, a);
	crs_reg_fd_set(1 << 20, a);
	stats(&st);
	assert_int_equal(st.dropped_fds, 3);
	assert_int_equal(st.fds, 3);
	assert_false(crs_reg_fd_tracked(-1));
	assert_false(crs_reg_fd_tracked(64));
	assert_int_equal(crs_reg_fd_get(-1), CRS_NO_OBJECT);
	assert_int_equal(crs_reg_fd_get(64), CRS_NO_OBJECT);
	crs_reg_fd_clear(-1);
	crs_reg_fd_clear(64);
	get_object(a, &o);
	assert_int_equal(o.nfds, 2);

	/* Pointing at no object / a free slot: the fd ends up untracked. */
	crs_reg_fd_set(3, CRS_NO_OBJECT);
	assert_false(crs_reg_fd_tracked(3));
	crs_reg_fd_set(5, 7); /* slot 7 is free */
	assert_false(crs_reg_fd_tracked(5));
	stats(&st);
	assert_int_equal(st.fds, 2);
	assert_int_equal(st.dropped_fds, 3);

	/* Clear: idempotent; the last fd frees the object. */
	crs_reg_fd_clear(0);
	crs_reg_fd_clear(0);
	assert_int_equal(find_file(1, 2), CRS_NO_OBJECT);
	crs_reg_fd_clear(63);
	assert_int_equal(find_file(1, 1), CRS_NO_OBJECT);
	stats(&st);
	assert_int_equal(st.fds, 0);
	assert_int_equal(st.objects, 0);
	check_consistency();
}

/*
 * Recording the same fd for the object it already refers to (an fd closed
 * behind the shim's back, e.g. by close_range, and the same file reopened
 * at the same number) must keep the object and the fd.
 */
static void test_fd_set_same_object(void **state)
{
	uint32_t a = get_file(1, 1, "/tmp/session");

	(void)state;
	crs_reg_fd_set(4, a);
	assert_int_equal(get_file(1, 1, "/tmp/session"), a); /* the reopen dedupes */
	crs_reg_fd_set(4, a);
	if (find_file(1, 1) != a || crs_reg_fd_get(4) != a) {
		print_message("BUG: crs_reg_fd_set(fd, obj) with fd already on obj frees obj "
			      "and leaves fd untracked (registry.c fd_clear_locked before the in_use check)\n");
		fail();
	}
	assert_int_equal(crs_reg_fd_get(4), a);
	check_consistency();
}

/* ------------------------------------------------------------------ */
/* full tables                                                        */
/* ------------------------------------------------------------------ */

static void test_full_objects(void **state)
{
	struct crs_reg_stats st;
	uint32_t idx[8];

	(void)state;
	for (int i = 0; i < 8; i++) {
		idx[i] = get_file(1, (uint64_t)(100 + i), "/f");
		assert_int_equal(idx[i], (uint32_t)i);
		crs_reg_fd_set(i, idx[i]);
	}
	assert_int_equal(get_file(1, 200, "/g"), CRS_NO_OBJECT);
	assert_int_equal(get_sysv(5), CRS_NO_OBJECT);
	{
		struct crs_object_key k = { .kind = CRS_OBJ_ANON_SHARED };

		assert_int_equal(crs_reg_object_get(&k, "", 1, 0, NULL, 0), CRS_NO_OBJECT);
	}
	stats(&st);
	assert_int_equal(st.dropped_objects, 3);
	assert_int_equal(st.objects, 8);
	/* Existing objects are still found (and deduped, not dropped). */
	for (int i = 0; i < 8; i++) {
		assert_int_equal(find_file(1, (uint64_t)(100 + i)), idx[i]);
		assert_int_equal(get_file(1, (uint64_t)(100 + i), "/f"), idx[i]);
		assert_int_equal(crs_reg_fd_get(i), idx[i]);
	}
	assert_int_equal(find_file(1, 200), CRS_NO_OBJECT);
	stats(&st);
	assert_int_equal(st.dropped_objects, 3);
	/* Free one: the next creation gets its slot. */
	crs_reg_fd_clear(5);
	assert_int_equal(get_file(1, 200, "/g"), 5);
	check_consistency();
}

static void test_full_mappings(void **state)
{
	struct crs_reg_stats st;
	struct crs_mapping m;
	uint32_t a = get_file(1, 1, "/a"), b;
	struct exp_map e[16];

	(void)state;
	for (int i = 0; i < 16; i++) {
		assert_int_equal(crs_reg_map_add(A(2 * i), L(1), (uint64_t)i * PG, PROT_READ, MAP_SHARED, a), 0);
		e[i] = (struct exp_map){ A(2 * i), L(1), (uint64_t)i * PG, a };
	}
	/* A new object whose only mapping is dropped does not linger. */
	b = get_file(1, 2, "/b");
	assert_int_equal(crs_reg_map_add(A(100), L(1), 0, PROT_READ, MAP_SHARED, b), -1);
	assert_int_equal(find_file(1, 2), CRS_NO_OBJECT);
	assert_int_equal(crs_reg_map_add(A(1), L(1), 0, PROT_READ, MAP_SHARED, a), -1); /* in a gap */
	stats(&st);
	assert_int_equal(st.dropped_mappings, 2);
	assert_int_equal(st.mappings, 16);
	expect_maps(e, 16);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(crs_reg_map_lookup(A(2 * i), &m), 0);
		assert_int_equal(m.offset, (uint64_t)i * PG);
		assert_int_equal(crs_reg_map_lookup(A(2 * i + 1), &m), -1);
	}
	/* Replacing a range frees the slot first: this one fits. */
	assert_int_equal(crs_reg_map_add(A(4), L(1), 77 * PG, PROT_READ, MAP_SHARED, a), 0);
	e[2].offset = 77 * PG;
	expect_maps(e, 16);
	/* A move within a full table works (remove before insert). */
	crs_reg_map_move(A(30), L(1), A(200), L(1));
	e[15].start = A(200);
	expect_maps(e, 16);
	stats(&st);
	assert_int_equal(st.dropped_mappings, 2);
}

static void test_full_split(void **state)
{
	struct crs_reg_stats st;
	struct crs_object o;
	uint32_t a = get_file(1, 1, "/a"), b = get_file(1, 2, "/b");
	struct exp_map e[16];

	(void)state;
	assert_int_equal(crs_reg_map_add(A(0), L(10), 0, PROT_READ, MAP_SHARED, b), 0);
	e[0] = (struct exp_map){ A(0), L(10), 0, b };
	for (int i = 1; i < 16; i++) {
		assert_int_equal(crs_reg_map_add(A(100 + i), L(1), 0, PROT_READ, MAP_SHARED, a), 0);
		e[i] = (struct exp_map){ A(100 + i), L(1), 0, a };
	}
	/* munmap of the middle of b: the head is kept, the tail has no slot. */
	crs_reg_map_remove(A(3), L(2));
	stats(&st);
	assert_int_equal(st.dropped_mappings, 1);
	e[0].len = L(3);
	expect_maps(e, 16);
	get_object(b, &o);
	assert_int_equal(o.nmaps, 1);
	/* MAP_FIXED into the middle of b with one free slot: the split takes
	 * it, and the new mapping itself is dropped and counted. */
	crs_reg_map_remove(A(115), L(1)); /* one free slot */
	assert_int_equal(crs_reg_map_add(A(1), L(1), 50 * PG, PROT_READ, MAP_SHARED, a), -1);
	stats(&st);
	assert_int_equal(st.dropped_mappings, 2);
	e[0].len = L(1);
	e[1] = (struct exp_map){ A(2), L(1), 2 * PG, b };
	for (int i = 2; i < 16; i++)
		e[i] = (struct exp_map){ A(100 + i - 1), L(1), 0, a };
	expect_maps(e, 16);
}

/* ------------------------------------------------------------------ */
/* snapshot                                                           */
/* ------------------------------------------------------------------ */

static void test_snapshot(void **state)
{
	struct snap sn;
	uint32_t a = get_file(9, 1, "/dev/shm/a"), s = get_sysv(3), b = get_file(9, 2, "/tmp/b");
	char small[16];
	struct crs_reg_snapshot tiny;

	(void)state;
	assert_int_equal(crs_reg_map_add(A(0), L(2), 4 * PG, PROT_READ, MAP_SHARED, a), 0);
	assert_int_equal(crs_reg_map_add(A(8), L(1), 0, PROT_READ | PROT_WRITE, MAP_SHARED, s), 0);
	crs_reg_fd_set(7, a);
	crs_reg_fd_set(9, b);
	crs_reg_fd_set(64, b); /* dropped */
	/* A freed slot in the middle must not show up. */
	{
		uint32_t tmp = get_file(9, 3, "/tmp/c");

		crs_reg_object_maybe_free(tmp);
	}
	assert_int_equal(get_file(9, 4, "/tmp/d"), 3);
	crs_reg_object_maybe_free(3);

	assert_int_equal(crs_reg_snapshot(small, sizeof(small), &tiny), -1);
	snap_take(&sn);
	assert_int_equal(sn.s.nobjects, 3);
	assert_int_equal(sn.s.stats.objects, 3);
	assert_int_equal(sn.s.stats.mappings, 2);
	assert_int_equal(sn.s.stats.fds, 2);
	assert_int_equal(sn.s.stats.dropped_fds, 1);
	assert_int_equal(sn.s.object_index[0], a);
	assert_int_equal(sn.s.object_index[1], s);
	assert_int_equal(sn.s.object_index[2], b);
	assert_string_equal(sn.s.objects[0].path, "/dev/shm/a");
	assert_int_equal(sn.s.objects[0].nmaps, 1);
	assert_int_equal(sn.s.objects[0].nfds, 1);
	assert_int_equal(sn.s.objects[1].kind, CRS_OBJ_SYSV);
	assert_int_equal(sn.s.objects[1].sysv_id, 3);
	assert_string_equal(sn.s.objects[2].path, "/tmp/b");
	assert_int_equal(sn.s.nmappings, 2);
	assert_int_equal(sn.s.mappings[0].start, A(0));
	assert_int_equal(sn.s.mappings[0].len, L(2));
	assert_int_equal(sn.s.mappings[0].offset, 4 * PG);
	assert_int_equal(sn.s.mappings[0].obj, a);
	assert_int_equal(sn.s.mappings[1].start, A(8));
	assert_int_equal(sn.s.mappings[1].prot, PROT_READ | PROT_WRITE);
	assert_int_equal(sn.s.mappings[1].obj, s);
	assert_int_equal(sn.s.nfd_pairs, 2);
	assert_int_equal(sn.s.fd_obj[0], 7);
	assert_int_equal(sn.s.fd_obj[1], (int32_t)a);
	assert_int_equal(sn.s.fd_obj[2], 9);
	assert_int_equal(sn.s.fd_obj[3], (int32_t)b);
	assert_true(sn.s.stats.arena_bytes > 0);
	snap_free(&sn);

	/* The snapshot is a copy: later changes do not show through it. */
	snap_take(&sn);
	crs_reg_map_remove(A(0), L(100));
	assert_int_equal(sn.s.nmappings, 2);
	assert_int_equal(sn.s.mappings[0].start, A(0));
	snap_free(&sn);
	snap_take(&sn);
	assert_int_equal(sn.s.nmappings, 0);
	assert_int_equal(sn.s.nobjects, 3); /* a (fd), s (SysV not RMID), b (fd) */
	snap_free(&sn);
	check_consistency();
}

/* ------------------------------------------------------------------ */
/* threads                                                            */
/* ------------------------------------------------------------------ */

#define NTHREADS 8
#define THREAD_ITERS 10000
#define THREAD_SLOTS 32	  /* mapping slots per thread */
#define THREAD_OBJS 8	  /* objects per thread */
#define THREAD_FDS 4	  /* fds per thread */

struct thread_arg {
	int t;
	int errors;
	/* final state as the thread believes it to be */
	int slot_obj[THREAD_SLOTS]; /* local object number or -1 */
	uint32_t objidx[THREAD_OBJS];
	int fd_obj[THREAD_FDS];
};

#define TBASE(t) ((uintptr_t)0x100000000ull + (uintptr_t)(t) * 0x10000000ull)
#define TSLOT(t, s) (TBASE(t) + (uintptr_t)(s) * 4 * PG)

static uint32_t xs32(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void *thread_main(void *p)
{
	struct thread_arg *ta = p;
	uint32_t rng = 0x9e3779b9u * (uint32_t)(ta->t + 1);
	struct crs_mapping m;

	for (int s = 0; s < THREAD_SLOTS; s++)
		ta->slot_obj[s] = -1;
	for (int f = 0; f < THREAD_FDS; f++)
		ta->fd_obj[f] = -1;
	for (int i = 0; i < THREAD_ITERS; i++) {
		uint32_t r = xs32(&rng);
		int slot = (int)(r % THREAD_SLOTS), lo = (int)((r >> 8) % THREAD_OBJS);
		int fd = 1000 + ta->t * THREAD_FDS + (int)((r >> 16) % THREAD_FDS);

		switch ((r >> 24) % 4) {
		case 0:
		case 1: {
			/* mmap a 2-page region of one of our objects into a slot,
			 * in crs_record_mmap's order: forget the range, find the
			 * object, record the mapping. */
			struct crs_object_key k = { .kind = CRS_OBJ_FILE, .dev = 1000 + (uint64_t)ta->t,
						    .ino = (uint64_t)lo + 1 };
			uint32_t o;

			crs_reg_map_remove(TSLOT(ta->t, slot), L(2));
			o = crs_reg_object_get(&k, "/t", 0, 0, NULL, 0);

			if (o == CRS_NO_OBJECT) {
				ta->errors++;
				break;
			}
			if (crs_reg_map_add(TSLOT(ta->t, slot), L(2), (uint64_t)slot * PG, PROT_READ,
					    MAP_SHARED, o) < 0)
				ta->errors++;
			ta->slot_obj[slot] = lo;
			ta->objidx[lo] = o;
			if (crs_reg_map_lookup(TSLOT(ta->t, slot) + PG, &m) < 0 || m.obj != o ||
			    m.start != TSLOT(ta->t, slot))
				ta->errors++;
			break;
		}
		case 2:
			crs_reg_map_remove(TSLOT(ta->t, slot), L(2));
			ta->slot_obj[slot] = -1;
			if (crs_reg_map_lookup(TSLOT(ta->t, slot), &m) == 0)
				ta->errors++;
			break;
		case 3:
			if ((r & 1) && ta->fd_obj[fd - 1000 - ta->t * THREAD_FDS] >= 0) {
				crs_reg_fd_clear(fd);
				ta->fd_obj[fd - 1000 - ta->t * THREAD_FDS] = -1;
			} else {
				/* close + open at the same number */
				struct crs_object_key k = { .kind = CRS_OBJ_FILE, .dev = 1000 + (uint64_t)ta->t,
							    .ino = (uint64_t)lo + 1 };
				uint32_t o;

				crs_reg_fd_clear(fd);
				o = crs_reg_object_get(&k, "/t", 0, 0, NULL, 0);
				crs_reg_fd_set(fd, o);
				ta->fd_obj[fd - 1000 - ta->t * THREAD_FDS] = lo;
				ta->objidx[lo] = o;
				if (crs_reg_fd_get(fd) != o)
					ta->errors++;
			}
			break;
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[NTHREADS];
	struct thread_arg ta[NTHREADS];
	struct snap sn;
	uint32_t expect_maps_n = 0, expect_objs = 0, expect_fds = 0;

	(void)state;
	crs_reg_destroy();
	assert_int_equal(crs_reg_init(256, 4096, 2048), 0);
	memset(ta, 0, sizeof(ta));
	for (int t = 0; t < NTHREADS; t++) {
		ta[t].t = t;
		assert_int_equal(pthread_create(&th[t], NULL, thread_main, &ta[t]), 0);
	}
	for (int t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);

	check_consistency();
	snap_take(&sn);
	for (int t = 0; t < NTHREADS; t++) {
		int used[THREAD_OBJS] = { 0 };

		assert_int_equal(ta[t].errors, 0);
		for (int s = 0; s < THREAD_SLOTS; s++) {
			struct crs_mapping m;
			int lo = ta[t].slot_obj[s];

			if (lo < 0) {
				assert_int_equal(crs_reg_map_lookup(TSLOT(t, s), &m), -1);
				continue;
			}
			used[lo] = 1;
			expect_maps_n++;
			assert_int_equal(crs_reg_map_lookup(TSLOT(t, s), &m), 0);
			assert_int_equal(m.start, TSLOT(t, s));
			assert_int_equal(m.len, L(2));
			assert_int_equal(m.offset, (uint64_t)s * PG);
			assert_int_equal(m.obj, ta[t].objidx[lo]);
		}
		for (int f = 0; f < THREAD_FDS; f++) {
			int fd = 1000 + t * THREAD_FDS + f, lo = ta[t].fd_obj[f];

			if (lo < 0) {
				assert_false(crs_reg_fd_tracked(fd));
				continue;
			}
			used[lo] = 1;
			expect_fds++;
			assert_int_equal(crs_reg_fd_get(fd), ta[t].objidx[lo]);
		}
		for (int lo = 0; lo < THREAD_OBJS; lo++) {
			uint32_t found = find_file(1000 + (uint64_t)t, (uint64_t)lo + 1);

			if (used[lo]) {
				struct crs_object o;

				expect_objs++;
				assert_int_equal(found, ta[t].objidx[lo]);
				get_object(found, &o);
				assert_int_equal(o.dev, 1000 + (uint64_t)t);
				assert_int_equal(o.ino, (uint64_t)lo + 1);
			} else {
				assert_int_equal(found, CRS_NO_OBJECT);
			}
		}
	}
	assert_int_equal(sn.s.nmappings, expect_maps_n);
	assert_int_equal(sn.s.nobjects, expect_objs);
	assert_int_equal(sn.s.nfd_pairs, expect_fds);
	assert_int_equal(sn.s.stats.dropped_mappings, 0);
	assert_int_equal(sn.s.stats.dropped_objects, 0);
	assert_int_equal(sn.s.stats.dropped_fds, 0);
	snap_free(&sn);
}

/* ------------------------------------------------------------------ */
/* randomized comparison with a page model                            */
/* ------------------------------------------------------------------ */

#define MPAGES 4096
#define MOPS 20000
#define MOBJS 6

struct page {
	int32_t obj;	/* registry object index, -1 = nothing */
	int64_t off;	/* file page of this page */
};

static struct page model[MPAGES];

static uint64_t rng64;

static uint64_t rnd(uint64_t n)
{
	rng64 ^= rng64 << 13;
	rng64 ^= rng64 >> 7;
	rng64 ^= rng64 << 17;
	return rng64 % n;
}

static void model_clear(size_t s, size_t n)
{
	for (size_t p = s; p < s + n && p < MPAGES; p++)
		model[p].obj = -1;
}

/* The registry's mappings describe exactly the model's pages. */
static int model_compare(uint64_t op, const char *what)
{
	static struct page have[MPAGES];
	struct snap sn;
	int bad = 0;

	snap_take(&sn);
	for (size_t p = 0; p < MPAGES; p++)
		have[p].obj = -1;
	for (uint32_t i = 0; i < sn.s.nmappings; i++) {
		const struct crs_mapping *m = &sn.s.mappings[i];
		size_t first = (m->start - A(0)) / PG;

		if (m->start < A(0) || m->start % PG || m->len % PG || m->offset % PG ||
		    first + m->len / PG > MPAGES || (i + 1 < sn.s.nmappings &&
						     m->start + m->len > sn.s.mappings[i + 1].start)) {
			print_message("op %llu (%s): bad mapping [%#lx,+%#zx)\n", (unsigned long long)op, what,
				      (unsigned long)m->start, m->len);
			bad = 1;
			break;
		}
		for (size_t k = 0; k < m->len / PG; k++) {
			have[first + k].obj = (int32_t)m->obj;
			have[first + k].off = (int64_t)(m->offset / PG + k);
		}
	}
	for (size_t p = 0; !bad && p < MPAGES; p++) {
		if (have[p].obj != model[p].obj || (have[p].obj >= 0 && have[p].off != model[p].off)) {
			print_message("op %llu (%s): page %zu: registry obj %d off %lld, model obj %d off %lld\n",
				      (unsigned long long)op, what, p, have[p].obj, (long long)have[p].off,
				      model[p].obj, (long long)model[p].off);
			bad = 1;
		}
	}
	snap_free(&sn);
	return bad;
}

/* Registry mappings overlapping [s, s+n) pages. */
static uint32_t pieces_in(size_t s, size_t n)
{
	struct snap sn;
	uint32_t c = 0;

	snap_take(&sn);
	for (uint32_t i = 0; i < sn.s.nmappings; i++) {
		const struct crs_mapping *m = &sn.s.mappings[i];

		if (m->start < A(s + n) && m->start + m->len > A(s))
			c++;
	}
	snap_free(&sn);
	return c;
}

static size_t rnd_len(void)
{
	/* mostly small, sometimes large */
	return rnd(8) ? 1 + rnd(16) : 1 + rnd(256);
}

static void test_random_model(void **state)
{
	uint32_t objs[MOBJS];
	uint64_t seed = 0x5eed1234abcdull;
	const char *env = getenv("CRSHIM_TEST_SEED");
	uint64_t nadd = 0, nrm = 0, nmv = 0;

	(void)state;
	if (env)
		seed = strtoull(env, NULL, 0);
	rng64 = seed ? seed : 1;
	crs_reg_destroy();
	assert_int_equal(crs_reg_init(64, 8192, 64), 0);
	for (int i = 0; i < MOBJS; i++) {
		objs[i] = get_file(42, (uint64_t)i + 1, "/pool");
		crs_reg_fd_set(i, objs[i]); /* keep them alive: stable indexes */
	}
	for (size_t p = 0; p < MPAGES; p++)
		model[p].obj = -1;

	for (uint64_t op = 0; op < MOPS; op++) {
		uint64_t kind = rnd(10);
		const char *what;

		if (kind < 4) {
			size_t s = rnd(MPAGES), n = rnd_len();
			int32_t o = (int32_t)objs[rnd(MOBJS)];
			int64_t off = (int64_t)rnd(10000);

			if (s + n > MPAGES)
				n = MPAGES - s;
			what = "add";
			nadd++;
			assert_int_equal(crs_reg_map_add(A(s), L(n), (uint64_t)off * PG, PROT_READ, MAP_SHARED,
							 (uint32_t)o), 0);
			for (size_t k = 0; k < n; k++)
				model[s + k] = (struct page){ o, off + (int64_t)k };
		} else if (kind < 7) {
			size_t s = rnd(MPAGES), n = rnd_len();

			if (s + n > MPAGES)
				n = MPAGES - s;
			what = "remove";
			nrm++;
			crs_reg_map_remove(A(s), L(n));
			model_clear(s, n);
		} else {
			/* mremap: old and new ranges anywhere (also in place and
			 * overlapping), any growth or shrink. */
			static struct page tmp[MPAGES];
			size_t os = rnd(MPAGES), on = rnd_len(), ns, nn = rnd_len();
			uint64_t how = rnd(4);

			if (os + on > MPAGES)
				on = MPAGES - os;
			ns = how == 0 ? os : rnd(MPAGES);
			if (ns + nn > MPAGES)
				nn = MPAGES - ns;
			if (pieces_in(os, on) > 8) /* beyond what one mremap sees */
				continue;
			what = "move";
			nmv++;
			for (size_t k = 0; k < on; k++)
				tmp[k] = model[os + k];
			crs_reg_map_move(A(os), L(on), A(ns), L(nn));
			model_clear(os, on);
			model_clear(ns, nn);
			for (size_t k = 0; k < nn; k++) {
				if (k < on)
					model[ns + k] = tmp[k];
				else if (tmp[on - 1].obj >= 0)
					model[ns + k] = (struct page){ tmp[on - 1].obj,
								       tmp[on - 1].off + (int64_t)(k - (on - 1)) };
			}
		}
		if (model_compare(op, what)) {
			print_message("seed %#llx\n", (unsigned long long)seed);
			fail();
		}
		if (op % 1000 == 0)
			check_consistency();
	}
	check_consistency();
	{
		struct crs_reg_stats st;

		stats(&st);
		assert_int_equal(st.dropped_mappings, 0);
		assert_int_equal(st.objects, MOBJS);
	}
	print_message("random model: %llu adds, %llu removes, %llu moves\n", (unsigned long long)nadd,
		      (unsigned long long)nrm, (unsigned long long)nmv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lifecycle, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_object_file_dedupe, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_object_sysv_dedupe, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_object_anon_never_deduped, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_object_update, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_mark_inode, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_map_add_sorted, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_remove_exact, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_remove_middle, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_remove_several, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_remove_head_tail, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_remove_nothing, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_add_replaces, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_add_over_own_mapping, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_move_same_size, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_move_grow_shrink, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_move_partial, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_move_pieces, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_move_too_many_pieces, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_object_lifetime, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_sysv_lifetime, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_fds, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_fd_set_same_object, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_full_objects, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_full_mappings, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_full_split, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_random_model, setup_small, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
