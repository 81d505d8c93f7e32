// SPDX-License-Identifier: MIT
/*
 * Work request execution.  A send queue is processed as soon as work is
 * posted; a WQE that meets an empty receive queue at an RC responder waits
 * (RNR) until a receive is posted there or its rnr_retry budget runs out.
 *
 * Checks follow what an HCA does: lkeys must belong to the QP's PD and cover
 * the range with the needed local rights; rkeys must belong to the
 * responder's PD, cover the range, and both the MR and the responder QP must
 * grant the remote right.  Errors complete the WQE with the hardware status
 * and move the QP to ERR, which flushes everything outstanding.
 */
#include "hcad.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

enum { EX_DONE, EX_BLOCKED };

struct result {
	enum ibv_wc_status status;
	uint32_t byte_len;
};

static struct list blocked = { &blocked, &blocked };

/* IBA RNR NAK timer field, in units of 10 us */
static const uint32_t rnr_10us[32] = {
	65536, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192,
	256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192,
	12288, 16384, 24576, 32768, 49152,
};

static const enum ibv_wc_opcode wr_to_wc[] = {
	[IBV_WR_RDMA_WRITE] = IBV_WC_RDMA_WRITE,
	[IBV_WR_RDMA_WRITE_WITH_IMM] = IBV_WC_RDMA_WRITE,
	[IBV_WR_SEND] = IBV_WC_SEND,
	[IBV_WR_SEND_WITH_IMM] = IBV_WC_SEND,
	[IBV_WR_RDMA_READ] = IBV_WC_RDMA_READ,
	[IBV_WR_ATOMIC_CMP_AND_SWP] = IBV_WC_COMP_SWAP,
	[IBV_WR_ATOMIC_FETCH_AND_ADD] = IBV_WC_FETCH_ADD,
};

static bool alive(const struct qp *qp)
{
	return qp->attr.qp_state >= IBV_QPS_RTR &&
	       qp->attr.qp_state != IBV_QPS_ERR;
}

static struct rq *recv_queue(struct qp *qp)
{
	return qp->srq ? &qp->srq->rq : &qp->rq;
}

static struct recv_wqe *rq_pop(struct qp *qp)
{
	struct rq *rq = recv_queue(qp);
	struct recv_wqe *w = rq->head;

	if (!w)
		return NULL;
	rq->head = w->next;
	if (!rq->head)
		rq->tail = NULL;
	rq->count--;
	if (qp->srq && qp->srq->limit && rq->count < qp->srq->limit) {
		qp->srq->limit = 0;
		client_async_event(qp->srq->o.cl, IBV_EVENT_SRQ_LIMIT_REACHED,
				   qp->srq->o.handle);
	}
	return w;
}

static void rq_push_front(struct qp *qp, struct recv_wqe *w)
{
	struct rq *rq = recv_queue(qp);

	w->next = rq->head;
	rq->head = w;
	if (!rq->tail)
		rq->tail = w;
	rq->count++;
}

static void rq_append(struct rq *rq, struct recv_wqe *w)
{
	w->next = NULL;
	if (rq->tail)
		rq->tail->next = w;
	else
		rq->head = w;
	rq->tail = w;
	rq->count++;
}

void rq_free(struct rq *rq)
{
	while (rq->head) {
		struct recv_wqe *w = rq->head;

		rq->head = w->next;
		free(w);
	}
	rq->tail = NULL;
	rq->count = 0;
}

static void sq_free(struct sq *sq)
{
	while (sq->head) {
		struct send_wqe *w = sq->head;

		sq->head = w->next;
		free(w);
	}
	sq->tail = NULL;
	sq->count = 0;
}

/* ---- completions ---- */

static void cqe_push(struct cq *cq, struct qp *qp, struct hca_wire_cqe *c,
		     bool solicited)
{
	c->cq = cq->o.handle;
	c->qp = qp->o.handle;
	c->qp_num = qp->qpn;
	c->timestamp = now_ns();
	client_send(cq->o.cl, HCA_OP_CQE, 0, 0, 0, c, sizeof(*c));
	if (cq->armed == 1 || (cq->armed == 2 &&
			       (solicited || c->status != IBV_WC_SUCCESS))) {
		cq->armed = 0;
		if (cq->chan)
			client_queue_comp_event(cq->o.cl, cq->chan,
						cq->o.handle);
	}
}

static void send_done(struct qp *qp, struct send_wqe *w,
		      enum ibv_wc_status st, uint32_t byte_len)
{
	struct hca_wire_cqe c = {
		.wr_id = w->wr_id,
		.status = st,
		.byte_len = byte_len,
		.vendor_err = st == IBV_WC_SUCCESS ? 0 : 0x80 + st,
	};

	if (st == IBV_WC_SUCCESS && !qp->sq_sig_all &&
	    !(w->flags & IBV_SEND_SIGNALED))
		return;
	if (w->opcode < sizeof(wr_to_wc) / sizeof(wr_to_wc[0]))
		c.opcode = wr_to_wc[w->opcode];
	cqe_push(qp->scq, qp, &c, false);
}

static void recv_done(struct qp *qp, uint64_t wr_id, struct hca_wire_cqe *c,
		      bool solicited)
{
	c->wr_id = wr_id;
	c->is_recv = 1;
	if (c->status != IBV_WC_SUCCESS)
		c->vendor_err = 0x80 + c->status;
	cqe_push(qp->rcq, qp, c, solicited);
}

static void recv_error(struct qp *qp, struct recv_wqe *rw,
		       enum ibv_wc_status st)
{
	struct hca_wire_cqe c = { .status = st, .opcode = IBV_WC_RECV };

	recv_done(qp, rw->wr_id, &c, false);
	free(rw);
}

/* ---- error state ---- */

static void unblock(struct qp *qp)
{
	if (!list_empty(&qp->blocked))
		list_del(&qp->blocked);
}

static void flush(struct qp *qp)
{
	struct recv_wqe *rw;

	unblock(qp);
	while (qp->sq.head) {
		struct send_wqe *w = qp->sq.head;

		qp->sq.head = w->next;
		qp->sq.count--;
		send_done(qp, w, IBV_WC_WR_FLUSH_ERR, 0);
		free(w);
	}
	qp->sq.tail = NULL;
	while ((rw = qp->rq.head)) {
		qp->rq.head = rw->next;
		qp->rq.count--;
		recv_error(qp, rw, IBV_WC_WR_FLUSH_ERR);
	}
	qp->rq.tail = NULL;
}

void engine_set_error(struct qp *qp)
{
	qp->attr.qp_state = IBV_QPS_ERR;
	qp->attr.cur_qp_state = IBV_QPS_ERR;
	flush(qp);
	if (qp->srq)
		client_async_event(qp->o.cl, IBV_EVENT_QP_LAST_WQE_REACHED,
				   qp->o.handle);
}

static void qp_fail(struct qp *qp, enum ibv_event_type ev, bool notify)
{
	if (qp->attr.qp_state == IBV_QPS_ERR)
		return;
	if (notify)
		client_async_event(qp->o.cl, ev, qp->o.handle);
	engine_set_error(qp);
}

void engine_reset(struct qp *qp)
{
	unblock(qp);
	sq_free(&qp->sq);
	rq_free(&qp->rq);
	memset(&qp->attr, 0, sizeof(qp->attr));
	qp->attr.qp_state = IBV_QPS_RESET;
}

void engine_forget(struct qp *qp)
{
	unblock(qp);
	sq_free(&qp->sq);
	rq_free(&qp->rq);
}

/* ---- address checks ---- */

static int resolve_local(struct pd *pd, const struct sge *sg, uint32_t n,
			 unsigned int need, struct iovec *iov, int *niov,
			 uint64_t *total)
{
	uint64_t tot = 0;
	int k = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = sg[i].addr, l = sg[i].length;
		struct mr *mr;

		if (!l)
			continue;
		mr = mr_by_key(sg[i].lkey);
		if (!mr || mr->pd != pd || (mr->access & need) != need)
			return -1;
		if (a < mr->iova || a + l < a || a + l > mr->iova + mr->length)
			return -1;
		iov[k].iov_base =
			(void *)(uintptr_t)(mr->addr + (a - mr->iova));
		iov[k].iov_len = l;
		k++;
		tot += l;
	}
	*niov = k;
	*total = tot;
	return 0;
}

static int resolve_remote(struct qp *peer, uint32_t rkey, uint64_t a,
			  uint64_t l, unsigned int need, struct iovec *iov)
{
	struct mr *mr;

	if (!(peer->attr.qp_access_flags & need))
		return -1;
	iov->iov_base = NULL;
	iov->iov_len = 0;
	if (!l)
		return 0;
	mr = mr_by_key(rkey);
	if (!mr || mr->pd != peer->pd || !(mr->access & need))
		return -1;
	if (a < mr->iova || a + l < a || a + l > mr->iova + mr->length)
		return -1;
	iov->iov_base = (void *)(uintptr_t)(mr->addr + (a - mr->iova));
	iov->iov_len = l;
	return 0;
}

static bool ah_reaches(const struct ibv_ah_attr *ah)
{
	union ibv_gid gid;

	if (ah->dlid != hcadev.lid)
		return false;
	if (ah->is_global) {
		device_gid(&gid);
		if (memcmp(&gid, &ah->grh.dgid, sizeof(gid)))
			return false;
	}
	return true;
}

static struct qp *connected_peer(struct qp *qp)
{
	struct qp *p = qp_by_qpn(qp->attr.dest_qp_num);

	if (!p || p->type != qp->type || !alive(p))
		return NULL;
	if (!ah_reaches(&qp->attr.ah_attr) || p->attr.dest_qp_num != qp->qpn)
		return NULL;
	return p;
}

/*
 * The responder has no receive posted.  Receives travel on the responder's
 * own connection, so one it posted before this WQE was posted may still sit
 * unread in its socket.  Before concluding "no receive", let the main loop
 * read everything clients have sent so far, then look again.
 */
static bool defer_once(struct send_wqe *w)
{
	if (w->synced)
		return false;
	w->synced = 1;
	w->deferred = 1;
	return true;
}

static int rnr(struct qp *qp, struct qp *peer, struct send_wqe *w,
	       struct result *r)
{
	uint64_t now;

	if (defer_once(w))
		return EX_BLOCKED;
	now = now_ns();
	if (qp->attr.rnr_retry == 7)
		return EX_BLOCKED;
	if (!w->rnr_deadline)
		w->rnr_deadline = now + (uint64_t)qp->attr.rnr_retry *
			rnr_10us[peer->attr.min_rnr_timer & 31] * 10000ull;
	if (now < w->rnr_deadline)
		return EX_BLOCKED;
	r->status = IBV_WC_RNR_RETRY_EXC_ERR;
	return EX_DONE;
}

/*
 * Nobody answers (the peer QP does not exist, is not ready, or is connected
 * elsewhere): the requester retransmits retry_cnt times, each after the
 * local ACK timeout 4.096 us * 2^timeout (0: forever), then gives up.
 */
static int no_answer(struct qp *qp, struct send_wqe *w, struct result *r)
{
	uint64_t now;

	if (defer_once(w))
		return EX_BLOCKED;
	if (!qp->attr.timeout)
		return EX_BLOCKED;
	now = now_ns();
	if (!w->retry_deadline)
		w->retry_deadline = now + (qp->attr.retry_cnt + 1ull) *
			(4096ull << qp->attr.timeout);
	if (now < w->retry_deadline)
		return EX_BLOCKED;
	r->status = IBV_WC_RETRY_EXC_ERR;
	return EX_DONE;
}

/* ---- receive side ---- */

enum { RX_OK, RX_PROT, RX_LEN, RX_SRC_FAULT };

static void iov_skip(struct iovec *iov, int *n, uint64_t skip)
{
	int i = 0;

	while (i < *n && skip >= iov[i].iov_len)
		skip -= iov[i++].iov_len;
	memmove(iov, iov + i, (size_t)(*n - i) * sizeof(*iov));
	*n -= i;
	if (*n && skip) {
		iov[0].iov_base = (uint8_t *)iov[0].iov_base + skip;
		iov[0].iov_len -= skip;
	}
}

static int place_message(struct qp *peer, struct recv_wqe *rw,
			 const struct xside *src, uint64_t len,
			 const struct ibv_grh *grh, bool ud)
{
	struct iovec riov[HCA_MAX_SGE];
	struct pd *pd = peer->srq ? peer->srq->pd : peer->pd;
	struct xside dst = { .pid = peer->o.cl->pid, .iov = riov };
	uint64_t cap, hdr = ud ? HCA_UD_GRH_LEN : 0;
	int rc;

	if (resolve_local(pd, rw->sg, rw->num_sge, IBV_ACCESS_LOCAL_WRITE,
			  riov, &dst.niov, &cap))
		return RX_PROT;
	if (len + hdr > cap)
		return RX_LEN;
	if (grh) {
		struct iovec g = { .iov_base = (void *)grh, .iov_len = hdr };
		struct xside gs = { .pid = 0, .iov = &g, .niov = 1 };

		if (xfer(&gs, &dst, hdr))
			return RX_PROT;
	}
	iov_skip(riov, &dst.niov, hdr);
	rc = xfer(src, &dst, len);
	if (rc == XFER_SRC_FAULT)
		return RX_SRC_FAULT;
	return rc ? RX_PROT : RX_OK;
}

static void fill_recv_cqe(struct hca_wire_cqe *c, struct qp *qp,
			  struct send_wqe *w, uint32_t len, uint8_t sl)
{
	c->status = IBV_WC_SUCCESS;
	c->byte_len = len;
	c->src_qp = qp->qpn;
	c->slid = hcadev.lid;
	c->sl = sl;
	if (w->opcode == IBV_WR_SEND_WITH_IMM ||
	    w->opcode == IBV_WR_RDMA_WRITE_WITH_IMM) {
		c->imm_data = w->imm;
		c->wc_flags |= IBV_WC_WITH_IMM;
	}
}

/* ---- operations ---- */

static int exec_send(struct qp *qp, struct qp *peer, struct send_wqe *w,
		     const struct xside *src, uint64_t len, struct result *r)
{
	bool rc = qp->type == IBV_QPT_RC;
	struct hca_wire_cqe c = { .opcode = IBV_WC_RECV };
	struct recv_wqe *rw = rq_pop(peer);
	int st;

	if (!rw) {
		if (rc)
			return rnr(qp, peer, w, r);
		return defer_once(w) ? EX_BLOCKED : EX_DONE;
	}
	st = place_message(peer, rw, src, len, NULL, false);
	switch (st) {
	case RX_OK:
		fill_recv_cqe(&c, qp, w, (uint32_t)len, qp->attr.ah_attr.sl);
		recv_done(peer, rw->wr_id, &c,
			  w->flags & IBV_SEND_SOLICITED);
		free(rw);
		return EX_DONE;
	case RX_SRC_FAULT:
		rq_push_front(peer, rw);
		r->status = IBV_WC_LOC_PROT_ERR;
		return EX_DONE;
	case RX_PROT:
		recv_error(peer, rw, IBV_WC_LOC_PROT_ERR);
		if (rc)
			r->status = IBV_WC_REM_OP_ERR;
		break;
	default:
		recv_error(peer, rw, IBV_WC_LOC_LEN_ERR);
		if (rc)
			r->status = IBV_WC_REM_INV_REQ_ERR;
		break;
	}
	qp_fail(peer, IBV_EVENT_QP_FATAL, false);
	return EX_DONE;
}

static void remote_access_error(struct qp *qp, struct qp *peer,
				struct result *r)
{
	if (qp->type != IBV_QPT_RC)
		return;		/* UC: the packet is silently dropped */
	r->status = IBV_WC_REM_ACCESS_ERR;
	qp_fail(peer, IBV_EVENT_QP_ACCESS_ERR, true);
}

static int exec_write(struct qp *qp, struct qp *peer, struct send_wqe *w,
		      const struct xside *src, uint64_t len, struct result *r)
{
	bool imm = w->opcode == IBV_WR_RDMA_WRITE_WITH_IMM;
	struct iovec riov;
	struct xside dst = { .pid = peer->o.cl->pid, .iov = &riov, .niov = 1 };
	struct hca_wire_cqe c = { .opcode = IBV_WC_RECV_RDMA_WITH_IMM };
	struct recv_wqe *rw;
	int x;

	if (resolve_remote(peer, w->rkey, w->remote_addr, len,
			   IBV_ACCESS_REMOTE_WRITE, &riov)) {
		remote_access_error(qp, peer, r);
		return EX_DONE;
	}
	if (imm && !recv_queue(peer)->head) {
		if (qp->type == IBV_QPT_RC)
			return rnr(qp, peer, w, r);
		return defer_once(w) ? EX_BLOCKED : EX_DONE;
	}
	x = xfer(src, &dst, len);
	if (x == XFER_SRC_FAULT) {
		r->status = IBV_WC_LOC_PROT_ERR;
		return EX_DONE;
	}
	if (x) {
		remote_access_error(qp, peer, r);
		return EX_DONE;
	}
	if (imm) {
		rw = rq_pop(peer);
		fill_recv_cqe(&c, qp, w, (uint32_t)len, qp->attr.ah_attr.sl);
		recv_done(peer, rw->wr_id, &c,
			  w->flags & IBV_SEND_SOLICITED);
		free(rw);
	}
	return EX_DONE;
}

static int exec_read(struct qp *qp, struct qp *peer, struct send_wqe *w,
		     const struct xside *dst, uint64_t len, struct result *r)
{
	struct iovec riov;
	struct xside src = { .pid = peer->o.cl->pid, .iov = &riov, .niov = 1 };
	int x;

	if (resolve_remote(peer, w->rkey, w->remote_addr, len,
			   IBV_ACCESS_REMOTE_READ, &riov)) {
		remote_access_error(qp, peer, r);
		return EX_DONE;
	}
	x = xfer(&src, dst, len);
	if (x == XFER_SRC_FAULT)
		remote_access_error(qp, peer, r);
	else if (x)
		r->status = IBV_WC_LOC_PROT_ERR;
	return EX_DONE;
}

static int exec_atomic(struct qp *qp, struct qp *peer, struct send_wqe *w,
		       const struct xside *dst, uint64_t len, struct result *r)
{
	uint64_t old, val;
	struct iovec riov, liov = { .iov_base = &old, .iov_len = 8 };
	struct iovec niov = { .iov_base = &val, .iov_len = 8 };
	struct xside rem = { .pid = peer->o.cl->pid, .iov = &riov, .niov = 1 };
	struct xside mine = { .pid = 0, .iov = &liov, .niov = 1 };
	struct xside nv = { .pid = 0, .iov = &niov, .niov = 1 };

	if (len != 8) {
		r->status = IBV_WC_LOC_LEN_ERR;
		return EX_DONE;
	}
	if (w->remote_addr & 7) {
		r->status = IBV_WC_REM_INV_REQ_ERR;
		qp_fail(peer, IBV_EVENT_QP_REQ_ERR, true);
		return EX_DONE;
	}
	if (resolve_remote(peer, w->rkey, w->remote_addr, 8,
			   IBV_ACCESS_REMOTE_ATOMIC, &riov) ||
	    xfer(&rem, &mine, 8)) {
		remote_access_error(qp, peer, r);
		return EX_DONE;
	}
	if (w->opcode == IBV_WR_ATOMIC_FETCH_AND_ADD)
		val = old + w->compare_add;
	else
		val = old == w->compare_add ? w->swap : old;
	if (val != old && xfer(&nv, &rem, 8)) {
		remote_access_error(qp, peer, r);
		return EX_DONE;
	}
	if (xfer(&mine, dst, 8))
		r->status = IBV_WC_LOC_PROT_ERR;
	return EX_DONE;
}

static int exec_ud(struct qp *qp, struct send_wqe *w, const struct xside *src,
		   uint64_t len, struct result *r)
{
	struct hca_wire_cqe c = { .opcode = IBV_WC_RECV };
	struct ibv_grh grh;
	uint32_t qkey;
	struct recv_wqe *rw;
	struct qp *peer;
	int st;

	if (len > 4096) {
		r->status = IBV_WC_LOC_LEN_ERR;
		return EX_DONE;
	}
	if (!ah_reaches(&w->ah))
		return EX_DONE;
	peer = qp_by_qpn(w->remote_qpn);
	if (!peer || peer->type != IBV_QPT_UD || !alive(peer))
		return EX_DONE;
	qkey = (w->remote_qkey & 0x80000000u) ? qp->attr.qkey :
		w->remote_qkey;
	if (qkey != peer->attr.qkey)
		return EX_DONE;
	rw = rq_pop(peer);
	if (!rw)	/* no receive posted: dropped */
		return defer_once(w) ? EX_BLOCKED : EX_DONE;
	if (w->ah.is_global) {
		memset(&grh, 0, sizeof(grh));
		grh.version_tclass_flow = htobe32((6u << 28) |
			((uint32_t)w->ah.grh.traffic_class << 20) |
			(w->ah.grh.flow_label & 0xfffff));
		grh.paylen = htobe16((uint16_t)len);
		grh.next_hdr = 0x1b;
		grh.hop_limit = w->ah.grh.hop_limit;
		device_gid(&grh.sgid);
		grh.dgid = w->ah.grh.dgid;
	}
	st = place_message(peer, rw, src, len, w->ah.is_global ? &grh : NULL,
			   true);
	if (st == RX_OK) {
		fill_recv_cqe(&c, qp, w, (uint32_t)len + HCA_UD_GRH_LEN,
			      w->ah.sl);
		if (w->ah.is_global)
			c.wc_flags |= IBV_WC_GRH;
		recv_done(peer, rw->wr_id, &c,
			  w->flags & IBV_SEND_SOLICITED);
		free(rw);
	} else if (st == RX_SRC_FAULT) {
		rq_push_front(peer, rw);
		r->status = IBV_WC_LOC_PROT_ERR;
	} else {
		recv_error(peer, rw, st == RX_LEN ? IBV_WC_LOC_LEN_ERR :
			   IBV_WC_LOC_PROT_ERR);
		qp_fail(peer, IBV_EVENT_QP_FATAL, false);
	}
	return EX_DONE;
}

static int exec(struct qp *qp, struct send_wqe *w, struct result *r)
{
	struct iovec liov[HCA_MAX_SGE], inl;
	struct xside local = { .pid = qp->o.cl->pid, .iov = liov };
	bool writes_local = w->opcode == IBV_WR_RDMA_READ ||
		w->opcode == IBV_WR_ATOMIC_CMP_AND_SWP ||
		w->opcode == IBV_WR_ATOMIC_FETCH_AND_ADD;
	uint64_t len;
	struct qp *peer;

	r->status = IBV_WC_SUCCESS;
	r->byte_len = 0;
	if ((w->flags & IBV_SEND_INLINE) && !writes_local) {
		inl.iov_base = w->inline_data;
		inl.iov_len = w->inline_len;
		local.pid = 0;
		local.iov = &inl;
		local.niov = 1;
		len = w->inline_len;
	} else if (resolve_local(qp->pd, w->sg, w->num_sge,
				 writes_local ? IBV_ACCESS_LOCAL_WRITE : 0,
				 liov, &local.niov, &len)) {
		r->status = IBV_WC_LOC_PROT_ERR;
		return EX_DONE;
	}
	if (len > HCA_MAX_MSG_SZ) {
		r->status = IBV_WC_LOC_LEN_ERR;
		return EX_DONE;
	}
	r->byte_len = (uint32_t)len;
	if (qp->type == IBV_QPT_UD)
		return exec_ud(qp, w, &local, len, r);

	peer = connected_peer(qp);
	if (!peer) {
		if (qp->type == IBV_QPT_RC)
			return no_answer(qp, w, r);
		return EX_DONE;		/* UC: lost */
	}
	switch (w->opcode) {
	case IBV_WR_SEND:
	case IBV_WR_SEND_WITH_IMM:
		return exec_send(qp, peer, w, &local, len, r);
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
		return exec_write(qp, peer, w, &local, len, r);
	case IBV_WR_RDMA_READ:
		return exec_read(qp, peer, w, &local, len, r);
	case IBV_WR_ATOMIC_CMP_AND_SWP:
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
		return exec_atomic(qp, peer, w, &local, len, r);
	default:
		r->status = IBV_WC_LOC_QP_OP_ERR;
		return EX_DONE;
	}
}

static void account(struct client *cl, const struct send_wqe *w,
		    const struct result *r)
{
	if (r->status != IBV_WC_SUCCESS) {
		cl->nr_err++;
		return;
	}
	switch (w->opcode) {
	case IBV_WR_SEND:
	case IBV_WR_SEND_WITH_IMM:
		cl->nr_send++;
		break;
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
		cl->nr_write++;
		break;
	case IBV_WR_RDMA_READ:
		cl->nr_read++;
		break;
	default:
		cl->nr_atomic++;
		break;
	}
	cl->nr_bytes += r->byte_len;
}

void engine_progress(struct qp *qp)
{
	struct send_wqe *w;
	struct result r;

	unblock(qp);
	while ((w = qp->sq.head)) {
		if (qp->attr.qp_state == IBV_QPS_ERR) {
			flush(qp);
			return;
		}
		if (qp->attr.qp_state != IBV_QPS_RTS)
			return;
		w->deferred = 0;
		if (exec(qp, w, &r) == EX_BLOCKED) {
			list_add_tail(&blocked, &qp->blocked);
			return;
		}
		qp->sq.head = w->next;
		if (!qp->sq.head)
			qp->sq.tail = NULL;
		qp->sq.count--;
		account(qp->o.cl, w, &r);
		send_done(qp, w, r.status, r.byte_len);
		free(w);
		if (r.status != IBV_WC_SUCCESS)
			qp_fail(qp, IBV_EVENT_QP_FATAL, false);
	}
}

void engine_post_send(struct qp *qp, struct send_wqe *w)
{
	w->next = NULL;
	if (qp->sq.tail)
		qp->sq.tail->next = w;
	else
		qp->sq.head = w;
	qp->sq.tail = w;
	qp->sq.count++;
	if (list_empty(&qp->blocked))
		engine_progress(qp);
}

void engine_post_recv(struct qp *qp, struct recv_wqe *w)
{
	if (qp->attr.qp_state == IBV_QPS_ERR) {
		recv_error(qp, w, IBV_WC_WR_FLUSH_ERR);
		return;
	}
	rq_append(&qp->rq, w);
}

void engine_post_srq_recv(struct srq *srq, struct recv_wqe *w)
{
	rq_append(&srq->rq, w);
}

void engine_kick(void)
{
	struct list tmp;

	if (list_empty(&blocked))
		return;
	/* move the list aside: progress may block QPs again */
	tmp = blocked;
	tmp.next->prev = &tmp;
	tmp.prev->next = &tmp;
	list_init(&blocked);
	while (!list_empty(&tmp)) {
		struct qp *qp = container_of(tmp.next, struct qp, blocked);

		list_del(&qp->blocked);
		engine_progress(qp);
	}
}

int engine_timeout_ms(void)
{
	uint64_t now = now_ns(), best = UINT64_MAX;

	for (struct list *l = blocked.next; l != &blocked; l = l->next) {
		struct qp *qp = container_of(l, struct qp, blocked);
		struct send_wqe *w = qp->sq.head;

		if (w && w->deferred)
			return 0;
		if (w && w->rnr_deadline && w->rnr_deadline < best)
			best = w->rnr_deadline;
		if (w && w->retry_deadline && w->retry_deadline < best)
			best = w->retry_deadline;
	}
	if (best == UINT64_MAX)
		return -1;
	return best <= now ? 0 : (int)((best - now) / 1000000 + 1);
}
