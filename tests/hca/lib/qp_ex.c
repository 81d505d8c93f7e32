// SPDX-License-Identifier: MIT
/*
 * The ibv_wr_* work request API of QPs created with send_ops_flags.  WRs are
 * collected between ibv_wr_start and ibv_wr_complete and then posted as one
 * list through the ordinary post_send path.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pending_wr {
	struct pending_wr *next;
	struct ibv_send_wr wr;
	struct ibv_sge one;
	struct ibv_sge *list;
	void *inline_buf;
};

static struct hca_qp *qpx_to_hqp(struct ibv_qp_ex *qpx)
{
	return container_of(qpx, struct hca_qp, qpx);
}

static void free_pending(struct hca_qp *qp)
{
	while (qp->wr_head) {
		struct pending_wr *p = qp->wr_head;

		qp->wr_head = p->next;
		free(p->list);
		free(p->inline_buf);
		free(p);
	}
	qp->wr_tail = NULL;
}

static struct pending_wr *new_wr(struct ibv_qp_ex *qpx, enum ibv_wr_opcode op)
{
	struct hca_qp *qp = qpx_to_hqp(qpx);
	struct pending_wr *p = calloc(1, sizeof(*p));

	if (!p) {
		qp->wr_err = ENOMEM;
		return NULL;
	}
	p->wr.wr_id = qpx->wr_id;
	p->wr.send_flags = qpx->wr_flags;
	p->wr.opcode = op;
	if (qp->wr_tail)
		qp->wr_tail->next = p;
	else
		qp->wr_head = p;
	qp->wr_tail = p;
	return p;
}

static struct pending_wr *cur_wr(struct ibv_qp_ex *qpx)
{
	struct hca_qp *qp = qpx_to_hqp(qpx);

	if (!qp->wr_tail)
		qp->wr_err = EINVAL;
	return qp->wr_tail;
}

static void wr_start(struct ibv_qp_ex *qpx)
{
	struct hca_qp *qp = qpx_to_hqp(qpx);

	free_pending(qp);
	qp->wr_err = 0;
}

static int wr_complete(struct ibv_qp_ex *qpx)
{
	struct hca_qp *qp = qpx_to_hqp(qpx);
	struct ibv_send_wr *bad;
	int err = qp->wr_err;

	for (struct pending_wr *p = qp->wr_head; p; p = p->next)
		p->wr.next = p->next ? &p->next->wr : NULL;
	if (!err && qp->wr_head)
		err = sim_post_send(&qpx->qp_base, &qp->wr_head->wr, &bad);
	free_pending(qp);
	qp->wr_err = 0;
	return err;
}

static void wr_abort(struct ibv_qp_ex *qpx)
{
	struct hca_qp *qp = qpx_to_hqp(qpx);

	free_pending(qp);
	qp->wr_err = 0;
}

static void wr_send(struct ibv_qp_ex *qpx)
{
	new_wr(qpx, IBV_WR_SEND);
}

static void wr_send_imm(struct ibv_qp_ex *qpx, __be32 imm)
{
	struct pending_wr *p = new_wr(qpx, IBV_WR_SEND_WITH_IMM);

	if (p)
		p->wr.imm_data = imm;
}

static void rdma(struct ibv_qp_ex *qpx, enum ibv_wr_opcode op, uint32_t rkey,
		 uint64_t raddr, __be32 imm)
{
	struct pending_wr *p = new_wr(qpx, op);

	if (!p)
		return;
	p->wr.wr.rdma.rkey = rkey;
	p->wr.wr.rdma.remote_addr = raddr;
	p->wr.imm_data = imm;
}

static void wr_rdma_write(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr)
{
	rdma(qpx, IBV_WR_RDMA_WRITE, rkey, raddr, 0);
}

static void wr_rdma_write_imm(struct ibv_qp_ex *qpx, uint32_t rkey,
			      uint64_t raddr, __be32 imm)
{
	rdma(qpx, IBV_WR_RDMA_WRITE_WITH_IMM, rkey, raddr, imm);
}

static void wr_rdma_read(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr)
{
	rdma(qpx, IBV_WR_RDMA_READ, rkey, raddr, 0);
}

static void atomic(struct ibv_qp_ex *qpx, enum ibv_wr_opcode op,
		   uint32_t rkey, uint64_t raddr, uint64_t cmp_add,
		   uint64_t swap)
{
	struct pending_wr *p = new_wr(qpx, op);

	if (!p)
		return;
	p->wr.wr.atomic.rkey = rkey;
	p->wr.wr.atomic.remote_addr = raddr;
	p->wr.wr.atomic.compare_add = cmp_add;
	p->wr.wr.atomic.swap = swap;
}

static void wr_cmp_swp(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr,
		       uint64_t compare, uint64_t swap)
{
	atomic(qpx, IBV_WR_ATOMIC_CMP_AND_SWP, rkey, raddr, compare, swap);
}

static void wr_fetch_add(struct ibv_qp_ex *qpx, uint32_t rkey, uint64_t raddr,
			 uint64_t add)
{
	atomic(qpx, IBV_WR_ATOMIC_FETCH_AND_ADD, rkey, raddr, add, 0);
}

static void wr_set_ud_addr(struct ibv_qp_ex *qpx, struct ibv_ah *ah,
			   uint32_t qpn, uint32_t qkey)
{
	struct pending_wr *p = cur_wr(qpx);

	if (!p)
		return;
	p->wr.wr.ud.ah = ah;
	p->wr.wr.ud.remote_qpn = qpn;
	p->wr.wr.ud.remote_qkey = qkey;
}

static void wr_set_sge(struct ibv_qp_ex *qpx, uint32_t lkey, uint64_t addr,
		       uint32_t length)
{
	struct pending_wr *p = cur_wr(qpx);

	if (!p)
		return;
	p->one = (struct ibv_sge){ .addr = addr, .length = length,
				   .lkey = lkey };
	p->wr.sg_list = &p->one;
	p->wr.num_sge = 1;
}

static void wr_set_sge_list(struct ibv_qp_ex *qpx, size_t n,
			    const struct ibv_sge *sg)
{
	struct pending_wr *p = cur_wr(qpx);

	if (!p)
		return;
	free(p->list);
	p->list = n ? malloc(n * sizeof(*sg)) : NULL;
	if (n && !p->list) {
		qpx_to_hqp(qpx)->wr_err = ENOMEM;
		return;
	}
	if (n)
		memcpy(p->list, sg, n * sizeof(*sg));
	p->wr.sg_list = p->list;
	p->wr.num_sge = (int)n;
}

static void wr_set_inline_data_list(struct ibv_qp_ex *qpx, size_t n,
				    const struct ibv_data_buf *bufs)
{
	struct pending_wr *p = cur_wr(qpx);
	size_t len = 0;
	uint8_t *b;

	if (!p)
		return;
	for (size_t i = 0; i < n; i++)
		len += bufs[i].length;
	free(p->inline_buf);
	p->inline_buf = b = malloc(len ? len : 1);
	if (!b) {
		qpx_to_hqp(qpx)->wr_err = ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(b, bufs[i].addr, bufs[i].length);
		b += bufs[i].length;
	}
	p->one = (struct ibv_sge){ .addr = (uintptr_t)p->inline_buf,
				   .length = (uint32_t)len };
	p->wr.sg_list = &p->one;
	p->wr.num_sge = 1;
	p->wr.send_flags |= IBV_SEND_INLINE;
}

static void wr_set_inline_data(struct ibv_qp_ex *qpx, void *addr, size_t len)
{
	struct ibv_data_buf b = { .addr = addr, .length = len };

	wr_set_inline_data_list(qpx, 1, &b);
}

/* Operations this device does not offer (create_qp_ex refuses them). */
static void unsupported(struct ibv_qp_ex *qpx)
{
	qpx_to_hqp(qpx)->wr_err = EOPNOTSUPP;
}

static void wr_bind_mw(struct ibv_qp_ex *qpx, struct ibv_mw *mw, uint32_t rkey,
		       const struct ibv_mw_bind_info *info)
{
	unsupported(qpx);
}

static void wr_rkey_op(struct ibv_qp_ex *qpx, uint32_t rkey)
{
	unsupported(qpx);
}

static void wr_send_tso(struct ibv_qp_ex *qpx, void *hdr, uint16_t hdr_sz,
			uint16_t mss)
{
	unsupported(qpx);
}

static void wr_atomic_write(struct ibv_qp_ex *qpx, uint32_t rkey,
			    uint64_t raddr, const void *data)
{
	unsupported(qpx);
}

void hca_qp_ex_init(struct hca_qp *qp)
{
	struct ibv_qp_ex *x = &qp->qpx;

	qp->has_qpx = true;
	x->wr_start = wr_start;
	x->wr_complete = wr_complete;
	x->wr_abort = wr_abort;
	x->wr_send = wr_send;
	x->wr_send_imm = wr_send_imm;
	x->wr_rdma_write = wr_rdma_write;
	x->wr_rdma_write_imm = wr_rdma_write_imm;
	x->wr_rdma_read = wr_rdma_read;
	x->wr_atomic_cmp_swp = wr_cmp_swp;
	x->wr_atomic_fetch_add = wr_fetch_add;
	x->wr_set_ud_addr = wr_set_ud_addr;
	x->wr_set_sge = wr_set_sge;
	x->wr_set_sge_list = wr_set_sge_list;
	x->wr_set_inline_data = wr_set_inline_data;
	x->wr_set_inline_data_list = wr_set_inline_data_list;
	x->wr_bind_mw = wr_bind_mw;
	x->wr_local_inv = wr_rkey_op;
	x->wr_send_inv = wr_rkey_op;
	x->wr_set_xrc_srqn = wr_rkey_op;
	x->wr_send_tso = wr_send_tso;
	x->wr_atomic_write = wr_atomic_write;
}

void hca_qp_ex_release(struct hca_qp *qp)
{
	free_pending(qp);
}
