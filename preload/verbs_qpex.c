/*
 * Extended QPs (ibv_create_qp_ex through the shadow context) and their
 * send API: ibv_wr_start, one ibv_wr_<opcode> per work request followed
 * by ibv_wr_set_*, then ibv_wr_complete or ibv_wr_abort.  The program sets
 * wr_id and wr_flags in the shadow before each opcode; the shim's functions
 * pass them on to the real QP with the keys, address handle and remote QP
 * number made real.  A batch holds the gate from wr_start to its end.
 */
#include "verbs_hook.h"

#include <string.h>

#define MAX_LIST 64

static struct vb_qp *qp_of(struct ibv_qp_ex *x)
{
	return (struct vb_qp *)x;
}

/* A new work request: its id and flags go to the real QP. */
static struct ibv_qp_ex *next_wr(struct vb_qp *q)
{
	struct ibv_qp_ex *r = q->rqx;

	r->wr_id = q->pubx.wr_id;
	r->wr_flags = q->pubx.wr_flags;
	if (q->sq_sig_all || (q->pubx.wr_flags & IBV_SEND_SIGNALED))
		q->wr_sig++;
	return r;
}

static void wr_start(struct ibv_qp_ex *x)
{
	struct vb_qp *q = qp_of(x);

	q->wr_shard = vb_enter();
	q->wr_sig = 0;
	q->rqx->wr_start(q->rqx);
}

static int wr_complete(struct ibv_qp_ex *x)
{
	struct vb_qp *q = qp_of(x);
	int r = q->rqx->wr_complete(q->rqx);

	if (!r && q->wr_sig)
		__atomic_fetch_add(&q->sig_posted, q->wr_sig, __ATOMIC_RELAXED);
	vb_leave(q->wr_shard);
	return r;
}

static void wr_abort(struct ibv_qp_ex *x)
{
	struct vb_qp *q = qp_of(x);

	q->rqx->wr_abort(q->rqx);
	vb_leave(q->wr_shard);
}

static void wr_send(struct ibv_qp_ex *x)
{
	struct ibv_qp_ex *r = next_wr(qp_of(x));

	r->wr_send(r);
}

static void wr_send_imm(struct ibv_qp_ex *x, __be32 imm)
{
	struct ibv_qp_ex *r = next_wr(qp_of(x));

	r->wr_send_imm(r, imm);
}

static void wr_rdma_write(struct ibv_qp_ex *x, uint32_t rkey, uint64_t addr)
{
	struct vb_qp *q = qp_of(x);
	struct ibv_qp_ex *r = next_wr(q);

	r->wr_rdma_write(r, vb_rkey_real(q, rkey), addr);
}

static void wr_rdma_write_imm(struct ibv_qp_ex *x, uint32_t rkey, uint64_t addr, __be32 imm)
{
	struct vb_qp *q = qp_of(x);
	struct ibv_qp_ex *r = next_wr(q);

	r->wr_rdma_write_imm(r, vb_rkey_real(q, rkey), addr, imm);
}

static void wr_rdma_read(struct ibv_qp_ex *x, uint32_t rkey, uint64_t addr)
{
	struct vb_qp *q = qp_of(x);
	struct ibv_qp_ex *r = next_wr(q);

	r->wr_rdma_read(r, vb_rkey_real(q, rkey), addr);
}

static void wr_atomic_cmp_swp(struct ibv_qp_ex *x, uint32_t rkey, uint64_t addr, uint64_t compare, uint64_t swap)
{
	struct vb_qp *q = qp_of(x);
	struct ibv_qp_ex *r = next_wr(q);

	r->wr_atomic_cmp_swp(r, vb_rkey_real(q, rkey), addr, compare, swap);
}

static void wr_atomic_fetch_add(struct ibv_qp_ex *x, uint32_t rkey, uint64_t addr, uint64_t add)
{
	struct vb_qp *q = qp_of(x);
	struct ibv_qp_ex *r = next_wr(q);

	r->wr_atomic_fetch_add(r, vb_rkey_real(q, rkey), addr, add);
}

static void wr_set_ud_addr(struct ibv_qp_ex *x, struct ibv_ah *ah, uint32_t remote_qpn, uint32_t remote_qkey)
{
	struct vb_qp *q = qp_of(x);
	struct vb_ah *a = vb_ah_of(ah);

	if (a) {
		uint64_t v = vb_map_get(&vb_peer_fwd, VB_LQ(a->attr.dlid, remote_qpn), 0);

		if (v)
			remote_qpn = VB_LQ_QPN(v);
		ah = a->real;
	}
	q->rqx->wr_set_ud_addr(q->rqx, ah, remote_qpn, remote_qkey);
}

static void wr_set_sge(struct ibv_qp_ex *x, uint32_t lkey, uint64_t addr, uint32_t length)
{
	struct vb_qp *q = qp_of(x);

	q->rqx->wr_set_sge(q->rqx, vb_lkey_real(lkey), addr, length);
}

static void wr_set_sge_list(struct ibv_qp_ex *x, size_t n, const struct ibv_sge *sg)
{
	struct vb_qp *q = qp_of(x);
	struct ibv_sge t[MAX_LIST];

	if (!vb_xl_lkey || n > MAX_LIST) { /* too many: the real QP refuses it */
		q->rqx->wr_set_sge_list(q->rqx, n, sg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		t[i] = sg[i];
		t[i].lkey = vb_lkey_real(sg[i].lkey);
	}
	q->rqx->wr_set_sge_list(q->rqx, n, t);
}

static void wr_set_inline_data(struct ibv_qp_ex *x, void *addr, size_t length)
{
	struct vb_qp *q = qp_of(x);

	q->rqx->wr_set_inline_data(q->rqx, addr, length);
}

static void wr_set_inline_data_list(struct ibv_qp_ex *x, size_t n, const struct ibv_data_buf *list)
{
	struct vb_qp *q = qp_of(x);

	q->rqx->wr_set_inline_data_list(q->rqx, n, list);
}

#define OFFER(name)                                  \
	do {                                         \
		if (r->name)                         \
			x->name = name;              \
	} while (0)

void vb_qpex_setup(struct vb_qp *q)
{
	struct ibv_qp_ex *x = &q->pubx, *r = q->rqx;

	if (!r)
		return;
	x->comp_mask = r->comp_mask;
	OFFER(wr_start);
	OFFER(wr_complete);
	OFFER(wr_abort);
	OFFER(wr_send);
	OFFER(wr_send_imm);
	OFFER(wr_rdma_write);
	OFFER(wr_rdma_write_imm);
	OFFER(wr_rdma_read);
	OFFER(wr_atomic_cmp_swp);
	OFFER(wr_atomic_fetch_add);
	OFFER(wr_set_ud_addr);
	OFFER(wr_set_sge);
	OFFER(wr_set_sge_list);
	OFFER(wr_set_inline_data);
	OFFER(wr_set_inline_data_list);
}

int vb_qpex_make(struct vb_qp *q, struct ibv_qp_cap *cap)
{
	struct verbs_context *v = verbs_get_ctx_op(q->pd->ctx->real, create_qp_ex);
	qp_to_qp_ex_fn to_ex = VB_REAL(VBF_QP_TO_QP_EX, qp_to_qp_ex_fn);
	struct ibv_qp_init_attr_ex a = {
		.qp_context = q,
		.send_cq = q->scq ? q->scq->real : NULL,
		.recv_cq = q->rcq ? q->rcq->real : NULL,
		.srq = q->srq ? q->srq->real : NULL,
		.cap = q->cap,
		.qp_type = q->pub.qp_type,
		.sq_sig_all = q->sq_sig_all,
		.comp_mask = q->ex_mask | IBV_QP_INIT_ATTR_PD,
		.pd = q->pd->real,
		.create_flags = q->create_flags,
		.send_ops_flags = q->send_ops_flags,
	};

	if (!v) {
		errno = EOPNOTSUPP;
		return -1;
	}
	q->real = v->create_qp_ex(q->pd->ctx->real, &a);
	if (!q->real)
		return -1;
	*cap = a.cap;
	q->rqx = (q->ex_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS) && to_ex ? to_ex(q->real) : NULL;
	return 0;
}

struct ibv_qp *vb_create_qp_ex(struct ibv_context *context, struct ibv_qp_init_attr_ex *ax)
{
	uint32_t known = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_CREATE_FLAGS | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
	struct vb_pd *p = vb_pd_of(ax->pd);
	struct ibv_qp_init_attr init = {
		.qp_context = ax->qp_context,
		.send_cq = ax->send_cq,
		.recv_cq = ax->recv_cq,
		.srq = ax->srq,
		.cap = ax->cap,
		.qp_type = ax->qp_type,
		.sq_sig_all = ax->sq_sig_all,
	};
	struct vb_qp ex = { .ex_mask = ax->comp_mask & ~(uint32_t)IBV_QP_INIT_ATTR_PD,
			    .create_flags = ax->create_flags, .send_ops_flags = ax->send_ops_flags };
	struct ibv_qp *qp;

	/* XRC, RSS, TSO, ... are not rebuilt: refused */
	if ((ax->comp_mask & ~known) || !(ax->comp_mask & IBV_QP_INIT_ATTR_PD)) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	if (!p || ax->pd->context != context) {
		errno = EINVAL;
		return NULL;
	}
	if (!(ax->comp_mask & IBV_QP_INIT_ATTR_CREATE_FLAGS))
		ex.create_flags = 0;
	if (!(ax->comp_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS))
		ex.send_ops_flags = 0;
	qp = vb_qp_new(p, &init, &ex);
	if (qp)
		ax->cap = init.cap;
	return qp;
}
