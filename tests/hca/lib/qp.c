// SPDX-License-Identifier: MIT
/* Queue pairs: create (plain and extended), modify, query, destroy. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SUPPORTED_SEND_OPS (IBV_QP_EX_WITH_RDMA_WRITE | \
	IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM | IBV_QP_EX_WITH_SEND | \
	IBV_QP_EX_WITH_SEND_WITH_IMM | IBV_QP_EX_WITH_RDMA_READ | \
	IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP | \
	IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD)

static struct ibv_qp *create_qp(struct ibv_pd *pd,
				struct ibv_qp_init_attr *attr, bool ex)
{
	struct hca_context *ctx = to_hctx(pd->context);
	struct hca_create_qp_req q = {
		.pd = pd->handle,
		.send_cq = attr->send_cq ? attr->send_cq->handle : 0,
		.recv_cq = attr->recv_cq ? attr->recv_cq->handle : 0,
		.srq = attr->srq ? attr->srq->handle : 0,
		.qp_type = attr->qp_type,
		.sq_sig_all = (uint32_t)attr->sq_sig_all,
		.cap = attr->cap,
	};
	struct hca_create_qp_rep rep;
	struct hca_qp *qp = calloc(1, sizeof(*qp));
	struct ibv_qp *ib;
	int err;

	if (!qp) {
		errno = ENOMEM;
		return NULL;
	}
	err = hca_call(ctx, HCA_OP_CREATE_QP, &q, sizeof(q), -1, &rep,
		       sizeof(rep));
	if (err) {
		free(qp);
		errno = err;
		return NULL;
	}
	ib = &qp->qpx.qp_base;
	ib->context = pd->context;
	ib->qp_context = attr->qp_context;
	ib->pd = pd;
	ib->send_cq = attr->send_cq;
	ib->recv_cq = attr->recv_cq;
	ib->srq = attr->srq;
	ib->handle = rep.handle;
	ib->qp_num = rep.qpn;
	ib->state = IBV_QPS_RESET;
	ib->qp_type = attr->qp_type;
	pthread_mutex_init(&ib->mutex, NULL);
	pthread_cond_init(&ib->cond, NULL);
	qp->cap = rep.cap;
	qp->sq_sig_all = attr->sq_sig_all != 0;
	attr->cap = rep.cap;
	if (ex)
		hca_qp_ex_init(qp);
	pthread_mutex_lock(&ctx->lock);
	err = hca_slot_set(ctx, rep.handle, qp, H_QP);
	pthread_mutex_unlock(&ctx->lock);
	if (err) {
		struct hca_handle_msg d = { .handle = rep.handle };

		hca_call(ctx, HCA_OP_DESTROY_QP, &d, sizeof(d), -1, NULL, 0);
		free(qp);
		errno = err;
		return NULL;
	}
	return ib;
}

struct ibv_qp *sim_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *attr)
{
	return create_qp(pd, attr, false);
}
EXPORT_1_1(sim_create_qp, ibv_create_qp);

struct ibv_qp *sim_create_qp_ex(struct ibv_context *context,
				struct ibv_qp_init_attr_ex *ax)
{
	uint32_t known = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_CREATE_FLAGS |
		IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
	struct ibv_qp_init_attr a;
	struct ibv_qp *qp;

	if ((ax->comp_mask & ~known) ||
	    !(ax->comp_mask & IBV_QP_INIT_ATTR_PD) ||
	    ((ax->comp_mask & IBV_QP_INIT_ATTR_CREATE_FLAGS) &&
	     ax->create_flags) ||
	    ((ax->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS) &&
	     (ax->send_ops_flags & ~(uint64_t)SUPPORTED_SEND_OPS))) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	if (!ax->pd || ax->pd->context != context) {
		errno = EINVAL;
		return NULL;
	}
	memset(&a, 0, sizeof(a));
	a.qp_context = ax->qp_context;
	a.send_cq = ax->send_cq;
	a.recv_cq = ax->recv_cq;
	a.srq = ax->srq;
	a.cap = ax->cap;
	a.qp_type = ax->qp_type;
	a.sq_sig_all = ax->sq_sig_all;
	qp = create_qp(ax->pd, &a,
		       ax->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS);
	if (qp)
		ax->cap = a.cap;
	return qp;
}

struct ibv_qp_ex *sim_qp_to_qp_ex(struct ibv_qp *qp)
{
	struct hca_qp *q = to_hqp(qp);

	return q->has_qpx ? &q->qpx : NULL;
}
EXPORT(sim_qp_to_qp_ex, ibv_qp_to_qp_ex, "IBVERBS_1.6");

/* Forget completions of a QP that was reset or destroyed, as drivers do. */
static void purge_cqes(struct ibv_qp *qp)
{
	struct hca_context *ctx = to_hctx(qp->context);

	pthread_mutex_lock(&ctx->lock);
	if (qp->send_cq)
		hca_cq_purge_qp(to_hcq(qp->send_cq), qp->handle);
	if (qp->recv_cq && qp->recv_cq != qp->send_cq)
		hca_cq_purge_qp(to_hcq(qp->recv_cq), qp->handle);
	to_hqp(qp)->rq_posted = 0;
	pthread_mutex_unlock(&ctx->lock);
}

int sim_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask)
{
	struct hca_modify_qp_req q = {
		.handle = qp->handle, .mask = (uint32_t)mask, .attr = *attr,
	};
	int err;

	err = hca_call(to_hctx(qp->context), HCA_OP_MODIFY_QP, &q, sizeof(q),
		       -1, NULL, 0);
	if (err)
		return err;
	if (mask & IBV_QP_STATE) {
		qp->state = attr->qp_state;
		if (attr->qp_state == IBV_QPS_RESET)
			purge_cqes(qp);
	}
	return 0;
}
EXPORT_1_1(sim_modify_qp, ibv_modify_qp);

int sim_query_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask,
		 struct ibv_qp_init_attr *init_attr)
{
	struct hca_handle_msg q = {
		.handle = qp->handle, .arg = (uint32_t)mask,
	};
	struct hca_query_qp_rep rep;
	int err;

	err = hca_call(to_hctx(qp->context), HCA_OP_QUERY_QP, &q, sizeof(q),
		       -1, &rep, sizeof(rep));
	if (err)
		return err;
	*attr = rep.attr;
	if (init_attr) {
		memset(init_attr, 0, sizeof(*init_attr));
		init_attr->qp_context = qp->qp_context;
		init_attr->send_cq = qp->send_cq;
		init_attr->recv_cq = qp->recv_cq;
		init_attr->srq = qp->srq;
		init_attr->cap = rep.cap;
		init_attr->qp_type = qp->qp_type;
		init_attr->sq_sig_all = (int)rep.sq_sig_all;
	}
	qp->state = rep.attr.qp_state;
	return 0;
}
EXPORT_1_1(sim_query_qp, ibv_query_qp);

int sim_query_qp_data_in_order(struct ibv_qp *qp, enum ibv_wr_opcode op,
			       uint32_t flags)
{
	/* the daemon writes a message completely before completing it */
	return 1;
}
EXPORT(sim_query_qp_data_in_order, ibv_query_qp_data_in_order,
       "IBVERBS_1.14");

int sim_destroy_qp(struct ibv_qp *qp)
{
	struct hca_context *ctx = to_hctx(qp->context);
	struct hca_handle_msg q = { .handle = qp->handle };
	int err;

	err = hca_call(ctx, HCA_OP_DESTROY_QP, &q, sizeof(q), -1, NULL, 0);
	if (err && err != EIO)
		return err;
	purge_cqes(qp);
	pthread_mutex_lock(&ctx->lock);
	hca_slot_clear(ctx, qp->handle);
	pthread_mutex_unlock(&ctx->lock);
	hca_qp_ex_release(to_hqp(qp));
	pthread_mutex_destroy(&qp->mutex);
	pthread_cond_destroy(&qp->cond);
	free(to_hqp(qp));
	return 0;
}
EXPORT_1_1(sim_destroy_qp, ibv_destroy_qp);

int sim_query_ece(struct ibv_qp *qp, struct ibv_ece *ece)
{
	return EOPNOTSUPP;
}
EXPORT(sim_query_ece, ibv_query_ece, "IBVERBS_1.10");

int sim_set_ece(struct ibv_qp *qp, struct ibv_ece *ece)
{
	return EOPNOTSUPP;
}
EXPORT(sim_set_ece, ibv_set_ece, "IBVERBS_1.10");
