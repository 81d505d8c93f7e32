// SPDX-License-Identifier: MIT
/* Shared receive queues. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

struct ibv_srq *sim_create_srq(struct ibv_pd *pd,
			       struct ibv_srq_init_attr *attr)
{
	struct hca_context *ctx = to_hctx(pd->context);
	struct hca_create_srq_req q = {
		.pd = pd->handle, .max_wr = attr->attr.max_wr,
		.max_sge = attr->attr.max_sge,
		.srq_limit = attr->attr.srq_limit,
	};
	struct hca_srq_rep rep;
	struct hca_srq *srq = calloc(1, sizeof(*srq));
	int err;

	if (!srq) {
		errno = ENOMEM;
		return NULL;
	}
	err = hca_call(ctx, HCA_OP_CREATE_SRQ, &q, sizeof(q), -1, &rep,
		       sizeof(rep));
	if (err) {
		free(srq);
		errno = err;
		return NULL;
	}
	srq->srq.context = pd->context;
	srq->srq.srq_context = attr->srq_context;
	srq->srq.pd = pd;
	srq->srq.handle = rep.handle;
	pthread_mutex_init(&srq->srq.mutex, NULL);
	pthread_cond_init(&srq->srq.cond, NULL);
	srq->max_wr = rep.max_wr;
	srq->max_sge = rep.max_sge;
	attr->attr.max_wr = rep.max_wr;
	attr->attr.max_sge = rep.max_sge;
	pthread_mutex_lock(&ctx->lock);
	err = hca_slot_set(ctx, rep.handle, srq, H_SRQ);
	pthread_mutex_unlock(&ctx->lock);
	if (err) {
		struct hca_handle_msg d = { .handle = rep.handle };

		hca_call(ctx, HCA_OP_DESTROY_SRQ, &d, sizeof(d), -1, NULL, 0);
		free(srq);
		errno = err;
		return NULL;
	}
	return &srq->srq;
}
EXPORT_1_1(sim_create_srq, ibv_create_srq);

int sim_modify_srq(struct ibv_srq *ibsrq, struct ibv_srq_attr *attr, int mask)
{
	struct hca_modify_srq_req q = {
		.handle = ibsrq->handle, .mask = (uint32_t)mask,
		.max_wr = attr->max_wr, .srq_limit = attr->srq_limit,
	};
	struct hca_context *ctx = to_hctx(ibsrq->context);
	int err;

	err = hca_call(ctx, HCA_OP_MODIFY_SRQ, &q, sizeof(q), -1, NULL, 0);
	if (!err && (mask & IBV_SRQ_MAX_WR)) {
		pthread_mutex_lock(&ctx->lock);
		to_hsrq(ibsrq)->max_wr = attr->max_wr;
		pthread_mutex_unlock(&ctx->lock);
	}
	return err;
}
EXPORT_1_1(sim_modify_srq, ibv_modify_srq);

int sim_query_srq(struct ibv_srq *ibsrq, struct ibv_srq_attr *attr)
{
	struct hca_handle_msg q = { .handle = ibsrq->handle };
	struct hca_srq_rep rep;
	int err;

	err = hca_call(to_hctx(ibsrq->context), HCA_OP_QUERY_SRQ, &q,
		       sizeof(q), -1, &rep, sizeof(rep));
	if (err)
		return err;
	attr->max_wr = rep.max_wr;
	attr->max_sge = rep.max_sge;
	attr->srq_limit = rep.srq_limit;
	return 0;
}
EXPORT_1_1(sim_query_srq, ibv_query_srq);

int sim_get_srq_num(struct ibv_srq *ibsrq, uint32_t *srq_num)
{
	*srq_num = ibsrq->handle;
	return 0;
}

int sim_destroy_srq(struct ibv_srq *ibsrq)
{
	struct hca_context *ctx = to_hctx(ibsrq->context);
	struct hca_handle_msg q = { .handle = ibsrq->handle };
	int err;

	err = hca_call(ctx, HCA_OP_DESTROY_SRQ, &q, sizeof(q), -1, NULL, 0);
	if (err && err != EIO)
		return err;
	pthread_mutex_lock(&ctx->lock);
	hca_slot_clear(ctx, ibsrq->handle);
	pthread_mutex_unlock(&ctx->lock);
	pthread_mutex_destroy(&ibsrq->mutex);
	pthread_cond_destroy(&ibsrq->cond);
	free(to_hsrq(ibsrq));
	return 0;
}
EXPORT_1_1(sim_destroy_srq, ibv_destroy_srq);
