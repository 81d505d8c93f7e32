/*
 * After a checkpoint (restored, or dumped and left running): open each
 * device again by name, recreate PDs, register every MR again at the same
 * address, length, iova and access, recreate channels (their fd number as
 * before), CQs, SRQs and QPs, bring QPs to INIT and post again the
 * receives that were posted and not consumed.  Connecting QPs to their
 * peers needs the peers' new numbers: verbs_connect.c.
 */
#include "verbs_hook.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One transition with the mask the program used to reach st. */
static int step(struct vb_qp *q, int st, char *err, size_t errlen)
{
	modify_qp_fn modify = VB_REAL(VBF_MODIFY_QP, modify_qp_fn);
	struct ibv_qp_attr a = q->attr;
	int mask = q->mask[st] | IBV_QP_STATE, r;

	a.qp_state = (enum ibv_qp_state)st;
	if ((mask & IBV_QP_DEST_QPN) &&
	    !vb_map_get(&vb_peer_fwd, VB_LQ(q->attr.ah_attr.dlid, q->attr.dest_qp_num), 0)) {
		snprintf(err, errlen,
			 "verbs: QP 0x%06x was connected to QP 0x%06x at LID 0x%04x, which was not checkpointed "
			 "with it (restore or resume its peer together with it)",
			 q->pub.qp_num, q->attr.dest_qp_num, q->attr.ah_attr.dlid);
		return -1;
	}
	vb_qp_attr_to_real(q, &a, mask);
	r = modify(q->real, &a, mask);
	if (r) {
		snprintf(err, errlen, "verbs: cannot bring QP 0x%06x back to %s: %s", q->pub.qp_num, vb_qps_name(st),
			 strerror(r));
		return -1;
	}
	return 0;
}

/* From the state the real QP is in (from) to target. */
int vb_replay_qp(struct vb_qp *q, int target, char *err, size_t errlen)
{
	static const int path[] = { IBV_QPS_INIT, IBV_QPS_RTR, IBV_QPS_RTS, IBV_QPS_SQD };

	if (target == IBV_QPS_ERR) {
		modify_qp_fn modify = VB_REAL(VBF_MODIFY_QP, modify_qp_fn);
		struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };

		return modify(q->real, &a, IBV_QP_STATE) ? -1 : 0;
	}
	for (unsigned i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
		int st = path[i];

		if (st > target)
			break;
		if (st <= (int)q->real->state && q->real->state != IBV_QPS_RESET)
			continue;
		if (step(q, st, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int rebuild_ctxs(char *err, size_t errlen)
{
	struct vb_ctx *c;

	vb_for_each(c, VB_CTX, struct vb_ctx) {
		struct ibv_context *r = vb_open_by_name(c->dev.name, err, errlen);

		if (!r)
			return -1;
		vb_ctx_adopt(c, r);
		vb_refresh_ports(c);
	}
	return 0;
}

static int rebuild_pds_mrs(char *err, size_t errlen)
{
	alloc_pd_fn alloc = VB_REAL(VBF_ALLOC_PD, alloc_pd_fn);
	struct vb_pd *p;
	struct vb_mr *m;

	vb_for_each(p, VB_PD, struct vb_pd) {
		p->real = alloc(p->ctx->real);
		if (!p->real) {
			snprintf(err, errlen, "verbs: cannot allocate a protection domain on %s: %s", p->ctx->dev.name,
				 strerror(errno));
			return -1;
		}
		p->pub.handle = p->real->handle;
	}
	vb_for_each(m, VB_MR, struct vb_mr)
		if (vb_mr_rebuild(m, err, errlen) < 0)
			return -1;
	return 0;
}

static int rebuild_queues(char *err, size_t errlen)
{
	create_comp_channel_fn mkch = VB_REAL(VBF_CREATE_COMP_CHANNEL, create_comp_channel_fn);
	struct vb_ch *ch;
	struct vb_cq *c;
	struct vb_srq *s;

	vb_for_each(ch, VB_CH, struct vb_ch) {
		ch->real = mkch(ch->ctx->real);
		if (!ch->real || vb_fd_move(ch->real->fd, ch->pub.fd) < 0) {
			snprintf(err, errlen, "verbs: cannot create a completion channel: %s", strerror(errno));
			return -1;
		}
	}
	vb_for_each(c, VB_CQ, struct vb_cq)
		if (vb_cq_make(c) < 0) {
			snprintf(err, errlen, "verbs: cannot create a CQ of %d entries: %s", c->cqe, strerror(errno));
			return -1;
		}
	vb_for_each(s, VB_SRQ, struct vb_srq)
		if (vb_srq_make(s) < 0) {
			snprintf(err, errlen, "verbs: cannot create an SRQ: %s", strerror(errno));
			return -1;
		}
	return 0;
}

static int rebuild_qps(char *err, size_t errlen)
{
	struct vb_qp *q;
	struct vb_srq *s;

	vb_for_each(q, VB_QP, struct vb_qp) {
		int r;

		if (vb_qp_make(q) < 0) {
			snprintf(err, errlen, "verbs: cannot create QP 0x%06x again: %s", q->pub.qp_num, strerror(errno));
			return -1;
		}
		vb_map_put(&vb_qp_real, q->qpn, (uintptr_t)q);
		if (q->qpn != q->pub.qp_num)
			vb_xl_qpn = 1;
		q->sig_posted = q->sig_done = 0;
		q->errored = 0;
		if (q->real_state == IBV_QPS_RESET || q->real_state == IBV_QPS_ERR)
			continue;
		if (vb_replay_qp(q, IBV_QPS_INIT, err, errlen) < 0)
			return -1;
		if (!q->srq && (r = vb_repost_rlog(&q->rlog, q, NULL))) {
			snprintf(err, errlen, "verbs: cannot post %u receives to QP 0x%06x again: %s", q->rlog.n,
				 q->pub.qp_num, strerror(r));
			return -1;
		}
	}
	vb_for_each(s, VB_SRQ, struct vb_srq) {
		int r = vb_repost_rlog(&s->rlog, NULL, s);

		if (r) {
			snprintf(err, errlen, "verbs: cannot post %u receives to an SRQ again: %s", s->rlog.n,
				 strerror(r));
			return -1;
		}
	}
	return 0;
}

int vb_rebuild(char *err, size_t errlen)
{
	double t0 = now_ms(), t1 = t0, t2 = t0;
	int g, r;

	if (vb_state != VB_RELEASED)
		return 0;
	pthread_mutex_lock(&vb_lock);
	g = vb_quiet();
	r = rebuild_ctxs(err, errlen);
	t1 = now_ms();
	if (!r)
		r = rebuild_pds_mrs(err, errlen);
	t2 = now_ms();
	if (!r)
		r = rebuild_queues(err, errlen);
	if (!r)
		r = rebuild_qps(err, errlen);
	if (r) /* nothing half made: back to released */
		vb_destroy_all();
	vb_loud(g);
	if (!r) {
		vb_state = VB_REBUILT;
		vb_generation++;
	}
	pthread_mutex_unlock(&vb_lock);
	if (!r)
		crs_info("verbs: rebuilt %d contexts, %d MRs, %d QPs in %.1f ms (MRs registered again in %.1f ms)",
			 vb_count(VB_CTX), vb_count(VB_MR), vb_count(VB_QP), now_ms() - t0, t2 - t1);
	return r;
}
