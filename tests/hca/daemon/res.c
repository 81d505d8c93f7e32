// SPDX-License-Identifier: MIT
/* Protection domains, memory regions and address handles. */
#include "hcad.h"

#include <errno.h>
#include <stdlib.h>

#define MR_ACCESS_KNOWN (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
	IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC | \
	IBV_ACCESS_MW_BIND | IBV_ACCESS_RELAXED_ORDERING | \
	IBV_ACCESS_HUGETLB | IBV_ACCESS_OPTIONAL_RANGE)

static struct pd *get_pd(struct req *r, uint32_t h)
{
	return (struct pd *)obj_get(r->cl, h, OBJ_PD);
}

void h_alloc_pd(struct req *r)
{
	struct pd *pd = calloc(1, sizeof(*pd));

	if (!pd || obj_insert(r->cl, &pd->o, OBJ_PD)) {
		free(pd);
		reply(r, ENOMEM, NULL, 0);
		return;
	}
	reply(r, 0, &(struct hca_handle_msg){ .handle = pd->o.handle },
	      sizeof(struct hca_handle_msg));
}

void pd_free(struct pd *pd)
{
	obj_remove(&pd->o);
	free(pd);
}

void h_dealloc_pd(struct req *r)
{
	const struct hca_handle_msg *q = (const void *)r->p;
	struct pd *pd = get_pd(r, q->handle);

	if (!pd) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	if (pd->refs) {
		reply(r, EBUSY, NULL, 0);
		return;
	}
	pd_free(pd);
	reply(r, 0, NULL, 0);
}

static int check_access(uint32_t access)
{
	if (access & IBV_ACCESS_ON_DEMAND)
		return EOPNOTSUPP;
	if (access & IBV_ACCESS_ZERO_BASED)
		return EOPNOTSUPP;
	if (access & ~(uint32_t)MR_ACCESS_KNOWN)
		return EINVAL;
	/* remote write and atomic need local write (IBA o10-37) */
	if ((access & (IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC)) &&
	    !(access & IBV_ACCESS_LOCAL_WRITE))
		return EINVAL;
	return 0;
}

/* The range must be mapped in the client, as for pinning on a real HCA. */
static int probe(struct client *cl, uint64_t addr, uint64_t len)
{
	uint8_t b[2];
	struct iovec l[2] = {
		{ .iov_base = &b[0], .iov_len = 1 },
		{ .iov_base = &b[1], .iov_len = 1 },
	};
	struct iovec rem[2] = {
		{ .iov_base = (void *)(uintptr_t)addr, .iov_len = 1 },
		{ .iov_base = (void *)(uintptr_t)(addr + len - 1),
		  .iov_len = 1 },
	};

	return process_vm_readv(cl->pid, l, 2, rem, 2, 0) == 2 ? 0 : EFAULT;
}

void h_reg_mr(struct req *r)
{
	const struct hca_reg_mr_req *q = (const void *)r->p;
	struct pd *pd = get_pd(r, q->pd);
	struct hca_reg_mr_rep rep = { 0 };
	struct mr *mr;
	int err;

	if (!pd || !q->length || q->addr + q->length < q->addr) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	err = check_access(q->access);
	if (!err)
		err = probe(r->cl, q->addr, q->length);
	if (err) {
		reply(r, err, NULL, 0);
		return;
	}
	mr = calloc(1, sizeof(*mr));
	if (!mr || obj_insert(r->cl, &mr->o, OBJ_MR)) {
		free(mr);
		reply(r, ENOMEM, NULL, 0);
		return;
	}
	mr->pd = pd;
	mr->addr = q->addr;
	mr->length = q->length;
	mr->iova = q->iova;
	mr->access = q->access;
	mr->key = mr_new_key();
	mr_hash_add(mr);
	pd->refs++;
	rep.handle = mr->o.handle;
	rep.lkey = rep.rkey = mr->key;
	hdbg("client %u: mr %#x addr %#lx len %lu access %#x", r->cl->id,
	     mr->key, (unsigned long)mr->addr, (unsigned long)mr->length,
	     mr->access);
	reply(r, 0, &rep, sizeof(rep));
}

void h_rereg_mr(struct req *r)
{
	const struct hca_rereg_mr_req *q = (const void *)r->p;
	struct mr *mr = (struct mr *)obj_get(r->cl, q->handle, OBJ_MR);
	struct hca_reg_mr_rep rep = { 0 };
	struct pd *pd = NULL;
	int err = 0;

	if (!mr || (q->flags & ~(uint32_t)IBV_REREG_MR_FLAGS_SUPPORTED) ||
	    !q->flags) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	if (q->flags & IBV_REREG_MR_CHANGE_PD) {
		pd = get_pd(r, q->pd);
		if (!pd)
			err = EINVAL;
	}
	if (!err && (q->flags & IBV_REREG_MR_CHANGE_ACCESS))
		err = check_access(q->access);
	if (!err && (q->flags & IBV_REREG_MR_CHANGE_TRANSLATION)) {
		if (!q->length || q->addr + q->length < q->addr)
			err = EINVAL;
		else
			err = probe(r->cl, q->addr, q->length);
	}
	if (err) {
		reply(r, err, NULL, 0);
		return;
	}
	if (pd) {
		mr->pd->refs--;
		mr->pd = pd;
		pd->refs++;
	}
	if (q->flags & IBV_REREG_MR_CHANGE_ACCESS)
		mr->access = q->access;
	if (q->flags & IBV_REREG_MR_CHANGE_TRANSLATION) {
		mr->addr = q->addr;
		mr->length = q->length;
		mr->iova = q->iova;
	}
	rep.handle = mr->o.handle;
	rep.lkey = rep.rkey = mr->key;
	reply(r, 0, &rep, sizeof(rep));
}

void mr_free(struct mr *mr)
{
	mr_hash_del(mr);
	mr->pd->refs--;
	obj_remove(&mr->o);
	free(mr);
}

void h_dereg_mr(struct req *r)
{
	const struct hca_handle_msg *q = (const void *)r->p;
	struct mr *mr = (struct mr *)obj_get(r->cl, q->handle, OBJ_MR);

	if (!mr) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	mr_free(mr);
	reply(r, 0, NULL, 0);
}

void h_create_ah(struct req *r)
{
	const struct hca_create_ah_req *q = (const void *)r->p;
	struct pd *pd = get_pd(r, q->pd);
	struct ah *ah;

	if (!pd || q->attr.port_num != HCA_PORT_NUM ||
	    (q->attr.is_global && q->attr.grh.sgid_index != 0)) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	ah = calloc(1, sizeof(*ah));
	if (!ah || obj_insert(r->cl, &ah->o, OBJ_AH)) {
		free(ah);
		reply(r, ENOMEM, NULL, 0);
		return;
	}
	ah->pd = pd;
	ah->attr = q->attr;
	pd->refs++;
	reply(r, 0, &(struct hca_handle_msg){ .handle = ah->o.handle },
	      sizeof(struct hca_handle_msg));
}

void ah_free(struct ah *ah)
{
	ah->pd->refs--;
	obj_remove(&ah->o);
	free(ah);
}

void h_destroy_ah(struct req *r)
{
	const struct hca_handle_msg *q = (const void *)r->p;
	struct ah *ah = (struct ah *)obj_get(r->cl, q->handle, OBJ_AH);

	if (!ah) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	ah_free(ah);
	reply(r, 0, NULL, 0);
}
