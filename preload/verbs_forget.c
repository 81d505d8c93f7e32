/*
 * A context closed while objects of it were still alive: the device took
 * them with it (as the kernel does), so their shadows go too, and nothing
 * of them is rebuilt after a checkpoint.  vb_lock held.
 */
#include "verbs_int.h"

static void drop_qp(struct vb_qp *q)
{
	vb_map_del(&vb_qp_real, q->qpn);
	vb_map_del(&vb_qp_virt, q->pub.qp_num);
	vb_rlog_free(&q->rlog);
	pthread_mutex_destroy(&q->pub.mutex);
	pthread_cond_destroy(&q->pub.cond);
	VB_DELETE(q);
}

static void drop_mr(struct vb_mr *m)
{
	vb_map_del(&vb_mr_vlkey, m->pub.lkey);
	vb_map_del(&vb_mr_vrkey, m->pub.rkey);
	VB_DELETE(m);
}

static void drop_cq(struct vb_cq *q)
{
	vb_free(q->stash, q->stash_cap * sizeof(struct vb_wcx));
	pthread_mutex_destroy(&q->pub.mutex);
	pthread_cond_destroy(&q->pub.cond);
	VB_DELETE(q);
}

static void drop_srq(struct vb_srq *q)
{
	vb_rlog_free(&q->rlog);
	pthread_mutex_destroy(&q->pub.mutex);
	pthread_cond_destroy(&q->pub.cond);
	VB_DELETE(q);
}

static void drop_ch(struct vb_ch *ch)
{
	vb_fd_close(ch->pub.fd);
	vb_fd_close(ch->syn_fd);
	VB_DELETE(ch);
}

void vb_forget_ctx(struct vb_ctx *c)
{
	struct vb_ah *h;
	struct vb_qp *q;
	struct vb_srq *s;
	struct vb_cq *cq;
	struct vb_mr *m;
	struct vb_pd *p;
	struct vb_ch *ch;

	vb_for_each_safe(h, VB_AH, struct vb_ah)
		if (h->pd->ctx == c)
			VB_DELETE(h);
	vb_for_each_safe(q, VB_QP, struct vb_qp)
		if (q->pd->ctx == c)
			drop_qp(q);
	vb_for_each_safe(s, VB_SRQ, struct vb_srq)
		if (s->pd->ctx == c)
			drop_srq(s);
	vb_for_each_safe(cq, VB_CQ, struct vb_cq)
		if (cq->ctx == c)
			drop_cq(cq);
	vb_for_each_safe(m, VB_MR, struct vb_mr)
		if (m->pd->ctx == c)
			drop_mr(m);
	vb_for_each_safe(p, VB_PD, struct vb_pd)
		if (p->ctx == c)
			VB_DELETE(p);
	vb_for_each_safe(ch, VB_CH, struct vb_ch)
		if (ch->ctx == c)
			drop_ch(ch);
}
