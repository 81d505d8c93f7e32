/*
 * Verbs hooks, queue pairs and shared receive queues.  Every modify_qp is
 * remembered (attributes as the program gave them, virtual, and the mask
 * used to reach each state) so a rebuilt QP can be brought back to its
 * state; destination QP numbers and LIDs are translated to the peer's
 * current real ones.
 */
#include "verbs_hook.h"

#include <string.h>

/* ---- shared receive queues ---- */

int vb_srq_make(struct vb_srq *q)
{
	create_srq_fn real = VB_REAL(VBF_CREATE_SRQ, create_srq_fn);
	modify_srq_fn modify = VB_REAL(VBF_MODIFY_SRQ, modify_srq_fn);
	struct ibv_srq_init_attr a = { .srq_context = q, .attr = q->attr };
	struct ibv_srq *r;

	a.attr.srq_limit = 0;
	r = real(q->pd->real, &a);
	if (!r)
		return -1;
	q->real = r;
	q->r_post = q->pd->ctx->real->ops.post_srq_recv;
	q->pub.handle = r->handle;
	q->aev_got = q->aev_acked = 0;
	if (q->attr.srq_limit) {
		struct ibv_srq_attr l = { .srq_limit = q->attr.srq_limit };

		modify(r, &l, IBV_SRQ_LIMIT);
	}
	return 0;
}

CRS_EXPORT struct ibv_srq *ibv_create_srq(struct ibv_pd *pd, struct ibv_srq_init_attr *init)
{
	create_srq_fn real = VB_REAL(VBF_CREATE_SRQ, create_srq_fn);
	destroy_srq_fn undo = VB_REAL(VBF_DESTROY_SRQ, destroy_srq_fn);
	struct vb_pd *p = vb_pd_of(pd);
	struct ibv_srq_init_attr a;
	struct ibv_srq *r;
	struct vb_srq *q;
	int s, g, e;

	if (!real)
		VB_NOSYS_PTR();
	if (!p)
		return real(pd, init);
	s = vb_ctl_enter();
	q = VB_NEW(struct vb_srq, VB_SRQ);
	if (!q) {
		vb_ctl_leave(s);
		errno = ENOMEM;
		return NULL;
	}
	a = *init;
	a.srq_context = q;
	g = vb_quiet();
	r = real(p->real, &a);
	e = errno;
	if (r && vb_rlog_init(&q->rlog, a.attr.max_wr, a.attr.max_sge ? a.attr.max_sge : 1) < 0) {
		undo(r);
		r = NULL;
		e = ENOMEM;
	}
	vb_loud(g);
	if (!r) {
		VB_DELETE(q);
		vb_ctl_leave(s);
		errno = e;
		return NULL;
	}
	init->attr = a.attr;
	q->pd = p;
	q->real = r;
	q->r_post = p->ctx->real->ops.post_srq_recv;
	q->attr = a.attr;
	q->pub.context = pd->context;
	q->pub.srq_context = init->srq_context;
	q->pub.pd = pd;
	q->pub.handle = r->handle;
	pthread_mutex_init(&q->pub.mutex, NULL);
	pthread_cond_init(&q->pub.cond, NULL);
	vb_ctl_leave(s);
	return &q->pub;
}

CRS_EXPORT int ibv_modify_srq(struct ibv_srq *srq, struct ibv_srq_attr *attr, int mask)
{
	modify_srq_fn real = VB_REAL(VBF_MODIFY_SRQ, modify_srq_fn);
	struct vb_srq *q = vb_srq_of(srq);
	int s, g, r;

	if (!real)
		return ENOSYS;
	if (!q)
		return real(srq, attr, mask);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(q->real, attr, mask);
	vb_loud(g);
	if (!r && (mask & IBV_SRQ_LIMIT))
		q->attr.srq_limit = attr->srq_limit;
	if (!r && (mask & IBV_SRQ_MAX_WR))
		q->attr.max_wr = attr->max_wr;
	vb_ctl_leave(s);
	return r;
}

CRS_EXPORT int ibv_query_srq(struct ibv_srq *srq, struct ibv_srq_attr *attr)
{
	query_srq_fn real = VB_REAL(VBF_QUERY_SRQ, query_srq_fn);
	struct vb_srq *q = vb_srq_of(srq);
	int s, r;

	if (!real)
		return ENOSYS;
	if (!q)
		return real(srq, attr);
	s = vb_enter();
	r = real(q->real, attr);
	vb_leave(s);
	return r;
}

CRS_EXPORT int ibv_destroy_srq(struct ibv_srq *srq)
{
	destroy_srq_fn real = VB_REAL(VBF_DESTROY_SRQ, destroy_srq_fn);
	struct vb_srq *q = vb_srq_of(srq);
	int s, g, r;

	if (!real)
		return ENOSYS;
	if (!q)
		return real(srq);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(q->real);
	vb_loud(g);
	if (!r) {
		vb_rlog_free(&q->rlog);
		pthread_mutex_destroy(&q->pub.mutex);
		pthread_cond_destroy(&q->pub.cond);
		VB_DELETE(q);
	}
	vb_ctl_leave(s);
	return r;
}

/* ---- queue pairs ---- */

/* Create the real QP of q (creation and rebuild; vb_lock held). */
int vb_qp_make(struct vb_qp *q)
{
	create_qp_fn real = VB_REAL(VBF_CREATE_QP, create_qp_fn);
	struct ibv_qp_init_attr a = {
		.qp_context = q,
		.send_cq = q->scq ? q->scq->real : NULL,
		.recv_cq = q->rcq ? q->rcq->real : NULL,
		.srq = q->srq ? q->srq->real : NULL,
		.cap = q->cap,
		.qp_type = q->pub.qp_type,
		.sq_sig_all = q->sq_sig_all,
	};
	struct ibv_qp *r;

	if (q->ex) {
		if (vb_qpex_make(q, &a.cap) < 0)
			return -1;
		r = q->real;
	} else {
		r = real(q->pd->real, &a);
	}
	if (!r)
		return -1;
	q->real = r;
	q->qpn = r->qp_num;
	q->cap = a.cap;
	q->r_send = q->pd->ctx->real->ops.post_send;
	q->r_recv = q->pd->ctx->real->ops.post_recv;
	q->pub.handle = r->handle;
	q->aev_got = q->aev_acked = 0;
	return 0;
}

/* A shadow QP and its real one: ibv_create_qp, or (ex set) the extended
 * creation, whose attributes the caller put in a new vb_qp's ex fields. */
struct ibv_qp *vb_qp_new(struct vb_pd *p, struct ibv_qp_init_attr *init, const struct vb_qp *ex)
{
	destroy_qp_fn undo = VB_REAL(VBF_DESTROY_QP, destroy_qp_fn);
	struct vb_cq *scq = vb_cq_of(init->send_cq), *rcq = vb_cq_of(init->recv_cq);
	struct vb_srq *srq = vb_srq_of(init->srq);
	struct vb_qp *q;
	int s, g, e = 0;

	if ((init->send_cq && !scq) || (init->recv_cq && !rcq) || (init->srq && !srq)) {
		errno = EINVAL;
		return NULL;
	}
	s = vb_ctl_enter();
	q = VB_NEW(struct vb_qp, VB_QP);
	if (!q) {
		vb_ctl_leave(s);
		errno = ENOMEM;
		return NULL;
	}
	if (ex) {
		q->ex = 1;
		q->send_ops_flags = ex->send_ops_flags;
		q->create_flags = ex->create_flags;
		q->ex_mask = ex->ex_mask;
	}
	q->pd = p;
	q->scq = scq;
	q->rcq = rcq;
	q->srq = srq;
	q->cap = init->cap;
	q->sq_sig_all = init->sq_sig_all;
	q->pub.qp_type = init->qp_type;
	g = vb_quiet();
	if (vb_qp_make(q) < 0)
		e = errno;
	else if (!srq && vb_rlog_init(&q->rlog, q->cap.max_recv_wr, q->cap.max_recv_sge ? q->cap.max_recv_sge : 1)) {
		undo(q->real);
		e = ENOMEM;
	}
	vb_loud(g);
	if (e) {
		VB_DELETE(q);
		vb_ctl_leave(s);
		errno = e;
		return NULL;
	}
	init->cap = q->cap;
	q->pub.context = p->pub.context;
	q->pub.qp_context = init->qp_context;
	q->pub.pd = &p->pub;
	q->pub.send_cq = init->send_cq;
	q->pub.recv_cq = init->recv_cq;
	q->pub.srq = init->srq;
	q->pub.state = IBV_QPS_RESET;
	q->pub.qp_num = vb_pick_key(&vb_qp_virt, q->qpn, 0xffffff);
	pthread_mutex_init(&q->pub.mutex, NULL);
	pthread_cond_init(&q->pub.cond, NULL);
	vb_map_put(&vb_qp_real, q->qpn, (uintptr_t)q);
	vb_map_put(&vb_qp_virt, q->pub.qp_num, (uintptr_t)q);
	if (q->pub.qp_num != q->qpn)
		__atomic_store_n(&vb_xl_qpn, 1, __ATOMIC_RELEASE);
	vb_qp_update_xlate(q);
	if (q->ex && (q->ex_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS))
		vb_qpex_setup(q);
	vb_ctl_leave(s);
	return &q->pub;
}

CRS_EXPORT struct ibv_qp *ibv_create_qp(struct ibv_pd *pd, struct ibv_qp_init_attr *init)
{
	create_qp_fn real = VB_REAL(VBF_CREATE_QP, create_qp_fn);
	struct vb_pd *p = vb_pd_of(pd);

	if (!real)
		VB_NOSYS_PTR();
	if (!p)
		return real(pd, init);
	return vb_qp_new(p, init, NULL);
}

/* Keep the attributes the mask names (virtual values). */
static void remember(struct vb_qp *q, const struct ibv_qp_attr *a, int mask)
{
	struct ibv_qp_attr *m = &q->attr;

	if (mask & IBV_QP_STATE)
		m->qp_state = a->qp_state;
	if (mask & IBV_QP_EN_SQD_ASYNC_NOTIFY)
		m->en_sqd_async_notify = a->en_sqd_async_notify;
	if (mask & IBV_QP_ACCESS_FLAGS)
		m->qp_access_flags = a->qp_access_flags;
	if (mask & IBV_QP_PKEY_INDEX)
		m->pkey_index = a->pkey_index;
	if (mask & IBV_QP_PORT)
		m->port_num = a->port_num;
	if (mask & IBV_QP_QKEY)
		m->qkey = a->qkey;
	if (mask & IBV_QP_AV)
		m->ah_attr = a->ah_attr;
	if (mask & IBV_QP_PATH_MTU)
		m->path_mtu = a->path_mtu;
	if (mask & IBV_QP_TIMEOUT)
		m->timeout = a->timeout;
	if (mask & IBV_QP_RETRY_CNT)
		m->retry_cnt = a->retry_cnt;
	if (mask & IBV_QP_RNR_RETRY)
		m->rnr_retry = a->rnr_retry;
	if (mask & IBV_QP_RQ_PSN)
		m->rq_psn = a->rq_psn;
	if (mask & IBV_QP_MAX_QP_RD_ATOMIC)
		m->max_rd_atomic = a->max_rd_atomic;
	if (mask & IBV_QP_ALT_PATH) {
		m->alt_ah_attr = a->alt_ah_attr;
		m->alt_pkey_index = a->alt_pkey_index;
		m->alt_port_num = a->alt_port_num;
		m->alt_timeout = a->alt_timeout;
	}
	if (mask & IBV_QP_MIN_RNR_TIMER)
		m->min_rnr_timer = a->min_rnr_timer;
	if (mask & IBV_QP_SQ_PSN)
		m->sq_psn = a->sq_psn;
	if (mask & IBV_QP_MAX_DEST_RD_ATOMIC)
		m->max_dest_rd_atomic = a->max_dest_rd_atomic;
	if (mask & IBV_QP_PATH_MIG_STATE)
		m->path_mig_state = a->path_mig_state;
	if (mask & IBV_QP_CAP)
		m->cap = a->cap;
	if (mask & IBV_QP_DEST_QPN)
		m->dest_qp_num = a->dest_qp_num;
	if (mask & IBV_QP_RATE_LIMIT)
		m->rate_limit = a->rate_limit;
}

/*
 * Virtual -> real for a modify: LIDs, GIDs, the destination QP number;
 * sets q->rproc from the peer table.  The destination LID is the one of
 * this call or the one remembered.
 */
void vb_qp_attr_to_real(struct vb_qp *q, struct ibv_qp_attr *a, int mask)
{
	uint16_t vlid = (mask & IBV_QP_AV) ? a->ah_attr.dlid : q->attr.ah_attr.dlid;

	if (mask & IBV_QP_AV)
		vb_ah_attr_to_real(&a->ah_attr);
	if (mask & IBV_QP_ALT_PATH)
		vb_ah_attr_to_real(&a->alt_ah_attr);
	if (mask & IBV_QP_DEST_QPN) {
		uint64_t v = vb_map_get(&vb_peer_fwd, VB_LQ(vlid, a->dest_qp_num), 0);

		if (v) {
			a->dest_qp_num = VB_LQ_QPN(v);
			q->rproc = VB_PEER_PROC(v);
		} else {
			q->rproc = 0;
		}
		vb_qp_update_xlate(q);
	}
}

static void track_state(struct vb_qp *q, const struct ibv_qp_attr *a, int mask)
{
	int st = (mask & IBV_QP_STATE) ? (int)a->qp_state : (int)q->pub.state;

	if (st < 0 || st > IBV_QPS_ERR)
		return;
	if (st == IBV_QPS_RESET) {
		memset(q->mask, 0, sizeof(q->mask));
		memset(&q->attr, 0, sizeof(q->attr));
		vb_rlog_clear(&q->rlog);
		q->sig_posted = q->sig_done = 0;
		q->errored = 0;
		q->rproc = 0;
		vb_qp_update_xlate(q);
	} else {
		remember(q, a, mask);
		q->mask[st] |= mask & ~IBV_QP_CUR_STATE;
	}
	if (st == IBV_QPS_ERR)
		q->errored = 1;
	q->pub.state = (enum ibv_qp_state)st;
}

CRS_EXPORT int ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask)
{
	modify_qp_fn real = VB_REAL(VBF_MODIFY_QP, modify_qp_fn);
	struct vb_qp *q = vb_qp_of(qp);
	struct ibv_qp_attr a;
	uint32_t rproc;
	int s, g, r;

	if (!real)
		return ENOSYS;
	if (!q)
		return real(qp, attr, mask);
	s = vb_ctl_enter();
	a = *attr;
	rproc = q->rproc;
	vb_qp_attr_to_real(q, &a, mask);
	g = vb_quiet();
	r = real(q->real, &a, mask);
	vb_loud(g);
	if (!r) {
		track_state(q, attr, mask);
	} else {
		q->rproc = rproc;
		vb_qp_update_xlate(q);
	}
	vb_ctl_leave(s);
	return r;
}

CRS_EXPORT int ibv_query_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask, struct ibv_qp_init_attr *init)
{
	query_qp_fn real = VB_REAL(VBF_QUERY_QP, query_qp_fn);
	struct vb_qp *q = vb_qp_of(qp);
	int s, g, r;

	if (!real)
		return ENOSYS;
	if (!q)
		return real(qp, attr, mask, init);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(q->real, attr, mask, init);
	vb_loud(g);
	if (!r) {
		/* what the program set, not the translation */
		if (q->mask[IBV_QPS_RTR] & IBV_QP_DEST_QPN)
			attr->dest_qp_num = q->attr.dest_qp_num;
		if ((q->mask[IBV_QPS_RTR] | q->mask[IBV_QPS_RTS]) & IBV_QP_AV)
			attr->ah_attr = q->attr.ah_attr;
		if (q->mask[IBV_QPS_RTS] & IBV_QP_ALT_PATH || q->mask[IBV_QPS_RTR] & IBV_QP_ALT_PATH)
			attr->alt_ah_attr = q->attr.alt_ah_attr;
		q->pub.state = attr->qp_state;
		if (init) {
			init->qp_context = q->pub.qp_context;
			init->send_cq = q->pub.send_cq;
			init->recv_cq = q->pub.recv_cq;
			init->srq = q->pub.srq;
		}
	}
	vb_ctl_leave(s);
	return r;
}

CRS_EXPORT int ibv_destroy_qp(struct ibv_qp *qp)
{
	destroy_qp_fn real = VB_REAL(VBF_DESTROY_QP, destroy_qp_fn);
	struct vb_qp *q = vb_qp_of(qp);
	int s, g, r;

	if (!real)
		return ENOSYS;
	if (!q)
		return real(qp);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(q->real);
	vb_loud(g);
	if (!r) {
		vb_map_del(&vb_qp_real, q->qpn);
		vb_map_del(&vb_qp_virt, q->pub.qp_num);
		vb_rlog_free(&q->rlog);
		pthread_mutex_destroy(&q->pub.mutex);
		pthread_cond_destroy(&q->pub.cond);
		VB_DELETE(q);
	}
	vb_ctl_leave(s);
	return r;
}

/* ---- the rest of the QP calls: the real object ---- */

CRS_EXPORT struct ibv_qp_ex *ibv_qp_to_qp_ex(struct ibv_qp *qp)
{
	qp_to_qp_ex_fn real = VB_REAL(VBF_QP_TO_QP_EX, qp_to_qp_ex_fn);

	struct vb_qp *q = vb_qp_of(qp);

	if (q) /* the shadow's own send API, if it was asked for */
		return q->ex && (q->ex_mask & IBV_QP_INIT_ATTR_SEND_OPS_FLAGS) ? &q->pubx : NULL;
	return real ? real(qp) : NULL;
}

CRS_EXPORT int ibv_query_qp_data_in_order(struct ibv_qp *qp, enum ibv_wr_opcode op, uint32_t flags)
{
	query_qp_data_in_order_fn real = VB_REAL(VBF_QUERY_QP_DATA_IN_ORDER, query_qp_data_in_order_fn);
	struct vb_qp *q = vb_qp_of(qp);
	int s, r;

	if (!real)
		return 0;
	if (!q)
		return real(qp, op, flags);
	s = vb_enter();
	r = real(q->real, op, flags);
	vb_leave(s);
	return r;
}

static int ece_call(enum vb_fn f, struct ibv_qp *qp, struct ibv_ece *ece)
{
	ece_fn real = VB_REAL(f, ece_fn);
	struct vb_qp *q = vb_qp_of(qp);
	int s, r;

	if (!real)
		return EOPNOTSUPP;
	if (!q)
		return real(qp, ece);
	s = vb_enter();
	r = real(q->real, ece);
	vb_leave(s);
	return r;
}

CRS_EXPORT int ibv_query_ece(struct ibv_qp *qp, struct ibv_ece *ece)
{
	return ece_call(VBF_QUERY_ECE, qp, ece);
}

CRS_EXPORT int ibv_set_ece(struct ibv_qp *qp, struct ibv_ece *ece)
{
	return ece_call(VBF_SET_ECE, qp, ece);
}

static int mcast_call(enum vb_fn f, struct ibv_qp *qp, const union ibv_gid *gid, uint16_t lid)
{
	mcast_fn real = VB_REAL(f, mcast_fn);
	struct vb_qp *q = vb_qp_of(qp);
	int s, r;

	if (!real)
		return ENOSYS;
	if (!q)
		return real(qp, gid, lid);
	s = vb_enter();
	r = real(q->real, gid, lid);
	vb_leave(s);
	return r;
}

CRS_EXPORT int ibv_attach_mcast(struct ibv_qp *qp, const union ibv_gid *gid, uint16_t lid)
{
	return mcast_call(VBF_ATTACH_MCAST, qp, gid, lid);
}

CRS_EXPORT int ibv_detach_mcast(struct ibv_qp *qp, const union ibv_gid *gid, uint16_t lid)
{
	return mcast_call(VBF_DETACH_MCAST, qp, gid, lid);
}
