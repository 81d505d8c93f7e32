// SPDX-License-Identifier: MIT
/*
 * Memory registration.  ibv_reg_mr and ibv_reg_mr_iova funnel into
 * ibv_reg_mr_iova2 (as in rdma-core); the daemon assigns the keys.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

#undef ibv_reg_mr
#undef ibv_reg_mr_iova

struct ibv_mr *sim_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length,
				uint64_t iova, unsigned int access)
{
	struct hca_reg_mr_req q = {
		.pd = pd->handle, .access = access,
		.addr = (uintptr_t)addr, .length = length, .iova = iova,
	};
	struct hca_reg_mr_rep rep;
	struct ibv_mr *mr = calloc(1, sizeof(*mr));
	int err;

	if (!mr) {
		errno = ENOMEM;
		return NULL;
	}
	err = hca_call(to_hctx(pd->context), HCA_OP_REG_MR, &q, sizeof(q), -1,
		       &rep, sizeof(rep));
	if (err) {
		free(mr);
		errno = err;
		return NULL;
	}
	mr->context = pd->context;
	mr->pd = pd;
	mr->addr = addr;
	mr->length = length;
	mr->handle = rep.handle;
	mr->lkey = rep.lkey;
	mr->rkey = rep.rkey;
	return mr;
}
EXPORT(sim_reg_mr_iova2, ibv_reg_mr_iova2, "IBVERBS_1.8");

struct ibv_mr *sim_reg_mr(struct ibv_pd *pd, void *addr, size_t length,
			  int access)
{
	return sim_reg_mr_iova2(pd, addr, length, (uintptr_t)addr,
				(unsigned int)access);
}
EXPORT_1_1(sim_reg_mr, ibv_reg_mr);

struct ibv_mr *sim_reg_mr_iova(struct ibv_pd *pd, void *addr, size_t length,
			       uint64_t iova, int access)
{
	return sim_reg_mr_iova2(pd, addr, length, iova, (unsigned int)access);
}
EXPORT(sim_reg_mr_iova, ibv_reg_mr_iova, "IBVERBS_1.7");

struct ibv_mr *sim_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset,
				 size_t length, uint64_t iova, int fd,
				 int access)
{
	errno = EOPNOTSUPP;
	return NULL;
}
EXPORT(sim_reg_dmabuf_mr, ibv_reg_dmabuf_mr, "IBVERBS_1.12");

int sim_rereg_mr(struct ibv_mr *mr, int flags, struct ibv_pd *pd, void *addr,
		 size_t length, int access)
{
	struct hca_rereg_mr_req q = {
		.handle = mr->handle, .flags = (uint32_t)flags,
		.access = (uint32_t)access, .addr = (uintptr_t)addr,
		.length = length, .iova = (uintptr_t)addr,
	};
	struct hca_reg_mr_rep rep;
	int err;

	if (flags & IBV_REREG_MR_CHANGE_PD) {
		if (!pd)
			return IBV_REREG_MR_ERR_INPUT;
		q.pd = pd->handle;
	}
	err = hca_call(to_hctx(mr->context), HCA_OP_REREG_MR, &q, sizeof(q),
		       -1, &rep, sizeof(rep));
	if (err) {
		errno = err;
		return IBV_REREG_MR_ERR_INPUT;
	}
	if (flags & IBV_REREG_MR_CHANGE_PD)
		mr->pd = pd;
	if (flags & IBV_REREG_MR_CHANGE_TRANSLATION) {
		mr->addr = addr;
		mr->length = length;
	}
	mr->lkey = rep.lkey;
	mr->rkey = rep.rkey;
	return 0;
}
EXPORT(sim_rereg_mr, ibv_rereg_mr, "IBVERBS_1.1");

int sim_dereg_mr(struct ibv_mr *mr)
{
	struct hca_handle_msg q = { .handle = mr->handle };
	int err;

	err = hca_call(to_hctx(mr->context), HCA_OP_DEREG_MR, &q, sizeof(q),
		       -1, NULL, 0);
	/* a device that went away (EIO) took the object with it */
	if (err && err != EIO)
		return err;
	free(mr);
	return 0;
}
EXPORT_1_1(sim_dereg_mr, ibv_dereg_mr);

struct ibv_mr *sim_import_mr(struct ibv_pd *pd, uint32_t mr_handle)
{
	errno = EOPNOTSUPP;
	return NULL;
}
EXPORT(sim_import_mr, ibv_import_mr, "IBVERBS_1.10");

void sim_unimport_mr(struct ibv_mr *mr)
{
}
EXPORT(sim_unimport_mr, ibv_unimport_mr, "IBVERBS_1.10");

struct ibv_dm *sim_import_dm(struct ibv_context *context, uint32_t dm_handle)
{
	errno = EOPNOTSUPP;
	return NULL;
}
EXPORT(sim_import_dm, ibv_import_dm, "IBVERBS_1.13");

void sim_unimport_dm(struct ibv_dm *dm)
{
}
EXPORT(sim_unimport_dm, ibv_unimport_dm, "IBVERBS_1.13");
