// SPDX-License-Identifier: MIT
/*
 * The data path: ibv_post_send, ibv_post_recv and ibv_post_srq_recv (inline
 * in verbs.h, reached through context->ops).  A list of work requests
 * becomes one message to the daemon.  What hardware rejects synchronously is
 * rejected here: wrong QP state, too many SGEs, oversized inline data,
 * opcodes the QP type lacks, and a full receive queue.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

static bool send_state_ok(enum ibv_qp_state s)
{
	return s == IBV_QPS_RTS || s == IBV_QPS_SQD || s == IBV_QPS_SQE ||
	       s == IBV_QPS_ERR;
}

static bool carries_data(enum ibv_wr_opcode op)
{
	return op == IBV_WR_SEND || op == IBV_WR_SEND_WITH_IMM ||
	       op == IBV_WR_RDMA_WRITE || op == IBV_WR_RDMA_WRITE_WITH_IMM;
}

/* Checks one WR; returns its size on the wire, or 0 if it is invalid. */
static size_t check_send(const struct hca_qp *qp, const struct ibv_send_wr *wr)
{
	enum ibv_qp_type t = qp->qpx.qp_base.qp_type;
	size_t inl = 0;

	switch (wr->opcode) {
	case IBV_WR_SEND:
	case IBV_WR_SEND_WITH_IMM:
		break;
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
		if (t == IBV_QPT_UD)
			return 0;
		break;
	case IBV_WR_RDMA_READ:
	case IBV_WR_ATOMIC_CMP_AND_SWP:
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
		if (t != IBV_QPT_RC)
			return 0;
		break;
	default:
		return 0;
	}
	if (wr->num_sge < 0 || (uint32_t)wr->num_sge > qp->cap.max_send_sge)
		return 0;
	if (t == IBV_QPT_UD && !wr->wr.ud.ah)
		return 0;
	if ((wr->send_flags & IBV_SEND_INLINE) && carries_data(wr->opcode)) {
		for (int i = 0; i < wr->num_sge; i++)
			inl += wr->sg_list[i].length;
		if (inl > qp->cap.max_inline_data)
			return 0;
		return sizeof(struct hca_wire_send_wr) +
			hca_align8((uint32_t)inl);
	}
	return sizeof(struct hca_wire_send_wr) +
		(size_t)wr->num_sge * sizeof(struct hca_wire_sge);
}

static uint8_t *put_send(uint8_t *p, const struct ibv_send_wr *wr,
			 enum ibv_qp_type t)
{
	struct hca_wire_send_wr *w = (void *)p;
	bool inl = (wr->send_flags & IBV_SEND_INLINE) &&
		carries_data(wr->opcode);

	memset(w, 0, sizeof(*w));
	w->wr_id = wr->wr_id;
	w->opcode = wr->opcode;
	w->send_flags = wr->send_flags;
	w->imm_data = wr->imm_data;
	if (t == IBV_QPT_UD) {
		w->ah = wr->wr.ud.ah->handle;
		w->remote_qpn = wr->wr.ud.remote_qpn;
		w->remote_qkey = wr->wr.ud.remote_qkey;
	} else if (wr->opcode == IBV_WR_ATOMIC_CMP_AND_SWP ||
		   wr->opcode == IBV_WR_ATOMIC_FETCH_AND_ADD) {
		w->remote_addr = wr->wr.atomic.remote_addr;
		w->rkey = wr->wr.atomic.rkey;
		w->compare_add = wr->wr.atomic.compare_add;
		w->swap = wr->wr.atomic.swap;
	} else {
		w->remote_addr = wr->wr.rdma.remote_addr;
		w->rkey = wr->wr.rdma.rkey;
	}
	p += sizeof(*w);
	if (inl) {
		uint32_t len = 0;

		for (int i = 0; i < wr->num_sge; i++) {
			memcpy(p + len, (void *)(uintptr_t)wr->sg_list[i].addr,
			       wr->sg_list[i].length);
			len += wr->sg_list[i].length;
		}
		memset(p + len, 0, hca_align8(len) - len);
		w->inline_len = len;
		return p + hca_align8(len);
	}
	w->num_sge = (uint32_t)wr->num_sge;
	memcpy(p, wr->sg_list, (size_t)wr->num_sge * sizeof(struct ibv_sge));
	return p + (size_t)wr->num_sge * sizeof(struct hca_wire_sge);
}

int sim_post_send(struct ibv_qp *ibqp, struct ibv_send_wr *wr,
		  struct ibv_send_wr **bad_wr)
{
	struct hca_qp *qp = to_hqp(ibqp);
	struct hca_context *ctx = to_hctx(ibqp->context);
	size_t total = sizeof(struct hca_post_hdr), sz;
	struct ibv_send_wr *w;
	struct hca_post_hdr *ph;
	uint32_t n = 0;
	uint8_t *p;
	int err;

	if (!send_state_ok(ibqp->state)) {
		*bad_wr = wr;
		return EINVAL;
	}
	for (w = wr; w; w = w->next, n++) {
		sz = check_send(qp, w);
		if (!sz)
			break;
		total += sz;
	}
	if (n) {
		pthread_mutex_lock(&ctx->lock);
		p = hca_tx_reserve(ctx, total);
		if (!p) {
			pthread_mutex_unlock(&ctx->lock);
			*bad_wr = wr;
			return ENOMEM;
		}
		ph = (void *)p;
		ph->handle = ibqp->handle;
		ph->nwr = n;
		p += sizeof(*ph);
		for (struct ibv_send_wr *x = wr; x != w; x = x->next)
			p = put_send(p, x, ibqp->qp_type);
		err = hca_tx_send(ctx, HCA_OP_POST_SEND, total);
		pthread_mutex_unlock(&ctx->lock);
		if (err) {
			*bad_wr = wr;
			return err;
		}
	}
	if (w) {
		*bad_wr = w;
		return EINVAL;
	}
	return 0;
}

static size_t recv_size(const struct ibv_recv_wr *wr)
{
	return sizeof(struct hca_wire_recv_wr) +
		(size_t)wr->num_sge * sizeof(struct hca_wire_sge);
}

static uint8_t *put_recv(uint8_t *p, const struct ibv_recv_wr *wr)
{
	struct hca_wire_recv_wr *w = (void *)p;

	w->wr_id = wr->wr_id;
	w->num_sge = (uint32_t)wr->num_sge;
	w->pad = 0;
	p += sizeof(*w);
	memcpy(p, wr->sg_list, (size_t)wr->num_sge * sizeof(struct ibv_sge));
	return p + (size_t)wr->num_sge * sizeof(struct hca_wire_sge);
}

/*
 * Shared by QP and SRQ receives; called with ctx->lock held.  *posted is
 * the number of outstanding receives, decremented as completions arrive.
 */
static int post_recv_list(struct hca_context *ctx, uint16_t op,
			  uint32_t handle, struct ibv_recv_wr *wr,
			  struct ibv_recv_wr **bad_wr, uint32_t *posted,
			  uint32_t max_wr, uint32_t max_sge)
{
	size_t total = sizeof(struct hca_post_hdr);
	struct ibv_recv_wr *w;
	struct hca_post_hdr *ph;
	uint32_t n = 0;
	int err = 0;
	uint8_t *p;

	for (w = wr; w; w = w->next, n++) {
		if (w->num_sge < 0 || (uint32_t)w->num_sge > max_sge) {
			err = EINVAL;
			break;
		}
		if (*posted + n >= max_wr) {
			hca_drain(ctx);	/* completions may free slots */
			if (*posted + n >= max_wr) {
				err = ENOMEM;
				break;
			}
		}
		total += recv_size(w);
	}
	if (n) {
		p = hca_tx_reserve(ctx, total);
		if (!p) {
			*bad_wr = wr;
			return ENOMEM;
		}
		ph = (void *)p;
		ph->handle = handle;
		ph->nwr = n;
		p += sizeof(*ph);
		for (struct ibv_recv_wr *x = wr; x != w; x = x->next)
			p = put_recv(p, x);
		if (hca_tx_send(ctx, op, total)) {
			*bad_wr = wr;
			return EIO;
		}
		*posted += n;
	}
	if (err)
		*bad_wr = w;
	return err;
}

int sim_post_recv(struct ibv_qp *ibqp, struct ibv_recv_wr *wr,
		  struct ibv_recv_wr **bad_wr)
{
	struct hca_qp *qp = to_hqp(ibqp);
	struct hca_context *ctx = to_hctx(ibqp->context);
	int err;

	if (ibqp->state == IBV_QPS_RESET || ibqp->srq) {
		*bad_wr = wr;
		return EINVAL;
	}
	pthread_mutex_lock(&ctx->lock);
	err = post_recv_list(ctx, HCA_OP_POST_RECV, ibqp->handle, wr, bad_wr,
			     &qp->rq_posted, qp->cap.max_recv_wr,
			     qp->cap.max_recv_sge);
	pthread_mutex_unlock(&ctx->lock);
	return err;
}

int sim_post_srq_recv(struct ibv_srq *ibsrq, struct ibv_recv_wr *wr,
		      struct ibv_recv_wr **bad_wr)
{
	struct hca_srq *srq = to_hsrq(ibsrq);
	struct hca_context *ctx = to_hctx(ibsrq->context);
	int err;

	pthread_mutex_lock(&ctx->lock);
	err = post_recv_list(ctx, HCA_OP_POST_SRQ_RECV, ibsrq->handle, wr,
			     bad_wr, &srq->posted, srq->max_wr, srq->max_sge);
	pthread_mutex_unlock(&ctx->lock);
	return err;
}
