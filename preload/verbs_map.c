/*
 * The verbs layer's maps (virtual keys, QP numbers, peers): open
 * addressing with linear probing.  Readers (the fast path) never lock: a
 * writer (holding vb_lock) stores the value before the key, deletes leave a
 * tombstone, and a full table is replaced by a bigger one; the old table is
 * freed once every call that could still read it has left the gate.
 */
#include "verbs_int.h"

#include <string.h>

#define MIN_CAP 64
#define MAX_RETIRED 256

static struct {
	struct vb_tab *t;
	size_t size;
} retired[MAX_RETIRED];
static int nretired;

static size_t tab_size(uint64_t cap)
{
	return sizeof(struct vb_tab) + cap * sizeof(struct vb_slot);
}

static struct vb_tab *tab_new(uint64_t cap)
{
	struct vb_tab *t = vb_alloc(tab_size(cap));
	int bits = 0;

	if (!t)
		return NULL;
	while ((1ull << bits) < cap)
		bits++;
	t->mask = cap - 1;
	t->shift = 64 - bits;
	return t;
}

static void tab_retire(struct vb_tab *t)
{
	if (!t)
		return;
	if (vb_gate_sync() == 0) {
		vb_free(t, tab_size(t->mask + 1));
		return;
	}
	if (nretired < MAX_RETIRED) {
		retired[nretired].t = t;
		retired[nretired].size = tab_size(t->mask + 1);
		nretired++;
	}
	/* else: leaked rather than freed under a reader */
}

void vb_map_reclaim(void)
{
	for (int i = 0; i < nretired; i++)
		vb_free(retired[i].t, retired[i].size);
	nretired = 0;
}

static void raw_insert(struct vb_tab *t, uint64_t k, uint64_t v)
{
	uint64_t i;

	for (i = vb_hash(k, t->shift);; i = (i + 1) & t->mask)
		if (!t->e[i].k) {
			t->e[i].v = v;
			t->e[i].k = k;
			return;
		}
}

/* Rehash into a table sized for the live entries (drops tombstones). */
static int regrow(struct vb_map *m)
{
	struct vb_tab *old = m->tab, *t;
	uint64_t cap = MIN_CAP;

	while (cap < (m->live + 1) * 4)
		cap <<= 1;
	t = tab_new(cap);
	if (!t)
		return -1;
	if (old)
		for (uint64_t i = 0; i <= old->mask; i++)
			if (old->e[i].k && old->e[i].k != VB_TOMB)
				raw_insert(t, old->e[i].k, old->e[i].v);
	__atomic_store_n(&m->tab, t, __ATOMIC_RELEASE);
	m->used = m->live;
	tab_retire(old);
	return 0;
}

int vb_map_put(struct vb_map *m, uint64_t key, uint64_t val)
{
	uint64_t k = key + 1, i, slot = UINT64_MAX;
	struct vb_tab *t = m->tab;

	if (t) {
		for (i = vb_hash(k, t->shift);; i = (i + 1) & t->mask) {
			uint64_t kk = t->e[i].k;

			if (kk == k) {
				__atomic_store_n(&t->e[i].v, val, __ATOMIC_RELEASE);
				return 0;
			}
			if (kk == VB_TOMB && slot == UINT64_MAX)
				slot = i;
			if (!kk)
				break;
		}
		if (slot == UINT64_MAX && (m->used + 1) * 2 <= t->mask + 1)
			slot = i;
	}
	if (slot == UINT64_MAX) {
		if (regrow(m) < 0)
			return -1;
		t = m->tab;
		raw_insert(t, k, val);
		m->live++;
		m->used++;
		return 0;
	}
	if (!t->e[slot].k)
		m->used++;
	__atomic_store_n(&t->e[slot].v, val, __ATOMIC_RELAXED);
	__atomic_store_n(&t->e[slot].k, k, __ATOMIC_RELEASE);
	m->live++;
	return 0;
}

void vb_map_del(struct vb_map *m, uint64_t key)
{
	uint64_t k = key + 1, i;
	struct vb_tab *t = m->tab;

	if (!t)
		return;
	for (i = vb_hash(k, t->shift);; i = (i + 1) & t->mask) {
		uint64_t kk = t->e[i].k;

		if (!kk)
			return;
		if (kk == k) {
			__atomic_store_n(&t->e[i].k, VB_TOMB, __ATOMIC_RELEASE);
			m->live--;
			/* mostly tombstones: rehash */
			if (m->used > 4 * (m->live + 1) && m->used > MIN_CAP / 4)
				regrow(m);
			return;
		}
	}
}

void vb_map_reset(struct vb_map *m)
{
	if (m->tab)
		vb_free(m->tab, tab_size(m->tab->mask + 1));
	m->tab = NULL;
	m->live = m->used = 0;
}

void vb_map_each(const struct vb_map *m, void (*fn)(uint64_t key, uint64_t val, void *arg), void *arg)
{
	const struct vb_tab *t = m->tab;

	if (!t)
		return;
	for (uint64_t i = 0; i <= t->mask; i++)
		if (t->e[i].k && t->e[i].k != VB_TOMB)
			fn(t->e[i].k - 1, t->e[i].v, arg);
}
