// SPDX-License-Identifier: MIT
/*
 * Object bookkeeping: per-client handle tables, and the daemon-wide tables
 * of memory keys and QP numbers.  Keys and QP numbers start at a random
 * value on every daemon run and are never reused while in use, so they
 * differ whenever objects are recreated.
 */
#include "hcad.h"

#include <stdlib.h>

#define HASH_BITS	12
#define HASH_SIZE	(1u << HASH_BITS)

static struct mr *mr_hash[HASH_SIZE];
static struct qp *qp_hash[HASH_SIZE];
static uint32_t next_key;
static uint32_t next_qpn;

static unsigned int hash32(uint32_t v)
{
	return (v * 2654435761u) >> (32 - HASH_BITS);
}

void objects_init(void)
{
	next_key = rand32();
	next_qpn = 0x100 + rand32() % 0xfff000;
}

struct obj *obj_get(struct client *cl, uint32_t handle, enum obj_type type)
{
	struct obj *o;

	if (!handle || handle >= cl->nobjs)
		return NULL;
	o = cl->objs[handle];
	if (!o || o->type != type)
		return NULL;
	return o;
}

int obj_insert(struct client *cl, struct obj *o, enum obj_type type)
{
	uint32_t h;

	for (h = 1; h < cl->nobjs; h++)
		if (!cl->objs[h])
			break;
	if (h >= cl->nobjs) {
		uint32_t n = cl->nobjs ? cl->nobjs * 2 : 64;
		struct obj **t = realloc(cl->objs, n * sizeof(*t));

		if (!t)
			return -1;
		for (uint32_t i = cl->nobjs; i < n; i++)
			t[i] = NULL;
		if (!cl->nobjs)
			h = 1;
		cl->objs = t;
		cl->nobjs = n;
	}
	o->type = type;
	o->handle = h;
	o->cl = cl;
	cl->objs[h] = o;
	return 0;
}

void obj_remove(struct obj *o)
{
	if (o->cl && o->handle < o->cl->nobjs && o->cl->objs[o->handle] == o)
		o->cl->objs[o->handle] = NULL;
}

struct mr *mr_by_key(uint32_t key)
{
	struct mr *mr;

	for (mr = mr_hash[hash32(key)]; mr; mr = mr->hnext)
		if (mr->key == key)
			return mr;
	return NULL;
}

uint32_t mr_new_key(void)
{
	uint32_t k;

	do {
		/* low byte varies like a hardware key's "variant" byte */
		next_key += 0x100 + 0x1b;
		k = next_key;
	} while (!k || k == ~0u || mr_by_key(k));
	return k;
}

void mr_hash_add(struct mr *mr)
{
	unsigned int b = hash32(mr->key);

	mr->hnext = mr_hash[b];
	mr_hash[b] = mr;
}

void mr_hash_del(struct mr *mr)
{
	struct mr **pp;

	for (pp = &mr_hash[hash32(mr->key)]; *pp; pp = &(*pp)->hnext)
		if (*pp == mr) {
			*pp = mr->hnext;
			return;
		}
}

struct qp *qp_by_qpn(uint32_t qpn)
{
	struct qp *qp;

	for (qp = qp_hash[hash32(qpn)]; qp; qp = qp->hnext)
		if (qp->qpn == qpn)
			return qp;
	return NULL;
}

uint32_t qp_new_qpn(void)
{
	uint32_t q;

	do {
		next_qpn = (next_qpn + 1) & 0xffffff;
		q = next_qpn;
	} while (q < 2 || qp_by_qpn(q));
	return q;
}

void qp_hash_add(struct qp *qp)
{
	unsigned int b = hash32(qp->qpn);

	qp->hnext = qp_hash[b];
	qp_hash[b] = qp;
}

void qp_hash_del(struct qp *qp)
{
	struct qp **pp;

	for (pp = &qp_hash[hash32(qp->qpn)]; *pp; pp = &(*pp)->hnext)
		if (*pp == qp) {
			*pp = qp->hnext;
			return;
		}
}
