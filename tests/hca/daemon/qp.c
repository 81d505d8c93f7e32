// SPDX-License-Identifier: MIT
/* Shared receive queues and queue pairs: create, modify, query, destroy. */
#include "hcad.h"

#include <errno.h>
#include <stdlib.h>

void h_create_srq(struct req *r)
{
	const struct hca_create_srq_req *q = (const void *)r->p;
	struct pd *pd = (struct pd *)obj_get(r->cl, q->pd, OBJ_PD);
	struct hca_srq_rep rep;
	struct srq *srq;

	if (!pd || !q->max_wr || q->max_wr > HCA_MAX_WR ||
	    q->max_sge > HCA_MAX_SGE || q->srq_limit > q->max_wr) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	srq = calloc(1, sizeof(*srq));
	if (!srq || obj_insert(r->cl, &srq->o, OBJ_SRQ)) {
		free(srq);
		reply(r, ENOMEM, NULL, 0);
		return;
	}
	srq->pd = pd;
	srq->max_wr = q->max_wr;
	srq->max_sge = q->max_sge ? q->max_sge : 1;
	srq->limit = q->srq_limit;
	pd->refs++;
	rep.handle = srq->o.handle;
	rep.max_wr = srq->max_wr;
	rep.max_sge = srq->max_sge;
	rep.srq_limit = srq->limit;
	reply(r, 0, &rep, sizeof(rep));
}

void h_modify_srq(struct req *r)
{
	const struct hca_modify_srq_req *q = (const void *)r->p;
	struct srq *srq = (struct srq *)obj_get(r->cl, q->handle, OBJ_SRQ);
	uint32_t max_wr;

	if (!srq || (q->mask & ~(uint32_t)(IBV_SRQ_MAX_WR | IBV_SRQ_LIMIT))) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	max_wr = (q->mask & IBV_SRQ_MAX_WR) ? q->max_wr : srq->max_wr;
	if (!max_wr || max_wr > HCA_MAX_WR || max_wr < srq->rq.count ||
	    ((q->mask & IBV_SRQ_LIMIT) && q->srq_limit > max_wr)) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	srq->max_wr = max_wr;
	if (q->mask & IBV_SRQ_LIMIT)
		srq->limit = q->srq_limit;
	reply(r, 0, NULL, 0);
}

void h_query_srq(struct req *r)
{
	const struct hca_handle_msg *q = (const void *)r->p;
	struct srq *srq = (struct srq *)obj_get(r->cl, q->handle, OBJ_SRQ);
	struct hca_srq_rep rep;

	if (!srq) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	rep.handle = srq->o.handle;
	rep.max_wr = srq->max_wr;
	rep.max_sge = srq->max_sge;
	rep.srq_limit = srq->limit;
	reply(r, 0, &rep, sizeof(rep));
}

void srq_free(struct srq *srq)
{
	rq_free(&srq->rq);
	srq->pd->refs--;
	obj_remove(&srq->o);
	free(srq);
}

void h_destroy_srq(struct req *r)
{
	const struct hca_handle_msg *q = (const void *)r->p;
	struct srq *srq = (struct srq *)obj_get(r->cl, q->handle, OBJ_SRQ);

	if (!srq) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	if (srq->refs) {
		reply(r, EBUSY, NULL, 0);
		return;
	}
	srq_free(srq);
	reply(r, 0, NULL, 0);
}

static int check_caps(struct ibv_qp_cap *c, bool has_srq)
{
	if (c->max_send_wr > HCA_MAX_WR || c->max_recv_wr > HCA_MAX_WR ||
	    c->max_send_sge > HCA_MAX_SGE || c->max_recv_sge > HCA_MAX_SGE ||
	    c->max_inline_data > HCA_MAX_INLINE)
		return EINVAL;
	if (!c->max_send_wr)
		c->max_send_wr = 1;
	if (!c->max_send_sge)
		c->max_send_sge = 1;
	if (has_srq) {
		c->max_recv_wr = 0;
		c->max_recv_sge = 0;
	} else {
		if (!c->max_recv_wr)
			c->max_recv_wr = 1;
		if (!c->max_recv_sge)
			c->max_recv_sge = 1;
	}
	if (c->max_inline_data < 64)
		c->max_inline_data = 64;
	return 0;
}

void h_create_qp(struct req *r)
{
	const struct hca_create_qp_req *q = (const void *)r->p;
	struct client *cl = r->cl;
	struct pd *pd = (struct pd *)obj_get(cl, q->pd, OBJ_PD);
	struct cq *scq = (struct cq *)obj_get(cl, q->send_cq, OBJ_CQ);
	struct cq *rcq = (struct cq *)obj_get(cl, q->recv_cq, OBJ_CQ);
	struct srq *srq = NULL;
	struct hca_create_qp_rep rep;
	struct ibv_qp_cap cap = q->cap;
	struct qp *qp;
	int err;

	if (q->qp_type != IBV_QPT_RC && q->qp_type != IBV_QPT_UC &&
	    q->qp_type != IBV_QPT_UD) {
		reply(r, EOPNOTSUPP, NULL, 0);
		return;
	}
	if (q->srq) {
		srq = (struct srq *)obj_get(cl, q->srq, OBJ_SRQ);
		if (!srq) {
			reply(r, EINVAL, NULL, 0);
			return;
		}
	}
	if (!pd || !scq || !rcq) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	err = check_caps(&cap, srq != NULL);
	if (err) {
		reply(r, err, NULL, 0);
		return;
	}
	qp = calloc(1, sizeof(*qp));
	if (!qp || obj_insert(cl, &qp->o, OBJ_QP)) {
		free(qp);
		reply(r, ENOMEM, NULL, 0);
		return;
	}
	qp->qpn = qp_new_qpn();
	qp->type = q->qp_type;
	qp->pd = pd;
	qp->scq = scq;
	qp->rcq = rcq;
	qp->srq = srq;
	qp->sq_sig_all = q->sq_sig_all != 0;
	qp->cap = cap;
	qp->attr.qp_state = IBV_QPS_RESET;
	list_init(&qp->blocked);
	qp_hash_add(qp);
	pd->refs++;
	scq->refs++;
	rcq->refs++;
	if (srq)
		srq->refs++;
	rep.handle = qp->o.handle;
	rep.qpn = qp->qpn;
	rep.cap = cap;
	hdbg("client %u: qp %#x type %d", cl->id, qp->qpn, qp->type);
	reply(r, 0, &rep, sizeof(rep));
}

void h_modify_qp(struct req *r)
{
	const struct hca_modify_qp_req *q = (const void *)r->p;
	struct qp *qp = (struct qp *)obj_get(r->cl, q->handle, OBJ_QP);
	enum ibv_qp_state old;
	int err;

	if (!qp) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	err = qp_check_modify(qp, &q->attr, (int)q->mask);
	if (err) {
		hdbg("client %u: qp %#x modify %d->%d mask %#x: EINVAL",
		     r->cl->id, qp->qpn, qp->attr.qp_state,
		     (q->mask & IBV_QP_STATE) ? (int)q->attr.qp_state : -1,
		     q->mask);
		reply(r, err, NULL, 0);
		return;
	}
	old = qp->attr.qp_state;
	qp_apply_modify(qp, &q->attr, (int)q->mask);
	switch (qp->attr.qp_state) {
	case IBV_QPS_RESET:
		if (old != IBV_QPS_RESET)
			engine_reset(qp);
		break;
	case IBV_QPS_ERR:
		if (old != IBV_QPS_ERR)
			engine_set_error(qp);
		break;
	case IBV_QPS_RTS:
		engine_progress(qp);
		break;
	case IBV_QPS_SQD:
		if (old != IBV_QPS_SQD && qp->attr.en_sqd_async_notify)
			client_async_event(r->cl, IBV_EVENT_SQ_DRAINED,
					   qp->o.handle);
		break;
	default:
		break;
	}
	reply(r, 0, NULL, 0);
	/* WQEs waiting on this QP may now proceed, or fail */
	engine_kick();
}

void h_query_qp(struct req *r)
{
	const struct hca_handle_msg *q = (const void *)r->p;
	struct qp *qp = (struct qp *)obj_get(r->cl, q->handle, OBJ_QP);
	struct hca_query_qp_rep rep;

	if (!qp) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	rep.attr = qp->attr;
	rep.attr.cur_qp_state = qp->attr.qp_state;
	rep.attr.cap = qp->cap;
	rep.attr.sq_draining = 0;
	rep.cap = qp->cap;
	rep.sq_sig_all = qp->sq_sig_all;
	rep.pad = 0;
	reply(r, 0, &rep, sizeof(rep));
}

void qp_free(struct qp *qp)
{
	engine_forget(qp);
	qp_hash_del(qp);
	qp->pd->refs--;
	qp->scq->refs--;
	qp->rcq->refs--;
	if (qp->srq)
		qp->srq->refs--;
	obj_remove(&qp->o);
	free(qp);
}

void h_destroy_qp(struct req *r)
{
	const struct hca_handle_msg *q = (const void *)r->p;
	struct qp *qp = (struct qp *)obj_get(r->cl, q->handle, OBJ_QP);

	if (!qp) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	qp_free(qp);
	reply(r, 0, NULL, 0);
	engine_kick();
}
