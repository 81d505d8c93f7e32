/*
 * The data path: the ops of the shadow context, reached by the program's
 * inline ibv_post_send / ibv_post_recv / ibv_post_srq_recv / ibv_poll_cq /
 * ibv_req_notify_cq.  No allocation, no lock, no linear search: the gate,
 * the real op, and while translations are the identity nothing else but
 * the bookkeeping checkpoints need (signalled sends in flight, receives
 * posted and not consumed).  Once keys or QP numbers changed (after a
 * rebuild), work requests are copied in chunks on the stack and translated
 * through the maps, and completions are made virtual again.
 */
#include "verbs_int.h"

#include <string.h>

#define CHUNK_WR 16
#define CHUNK_SGE 64

static inline void spin_lock(int *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(l, __ATOMIC_RELAXED))
#if defined(__x86_64__) || defined(__i386__)
			__builtin_ia32_pause();
#else
			;
#endif
}

static inline void spin_unlock(int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* ---- receive logs ---- */

int vb_rlog_init(struct vb_rlog *r, uint32_t cap, uint32_t max_sge)
{
	uint32_t c = 16;

	while (c < cap)
		c <<= 1;
	r->buf = vb_alloc(c * vb_rlog_esz(max_sge));
	if (!r->buf)
		return -1;
	r->cap = c;
	r->max_sge = max_sge;
	r->head = r->n = 0;
	return 0;
}

void vb_rlog_free(struct vb_rlog *r)
{
	if (r->buf)
		vb_free(r->buf, r->cap * vb_rlog_esz(r->max_sge));
	r->buf = NULL;
	r->cap = r->n = r->head = 0;
}

void vb_rlog_clear(struct vb_rlog *r)
{
	spin_lock(&r->lock);
	r->head = r->n = 0;
	spin_unlock(&r->lock);
}

static inline struct vb_rentry *rlog_at(const struct vb_rlog *r, uint32_t i)
{
	return (struct vb_rentry *)(r->buf + (size_t)((r->head + i) & (r->cap - 1)) * vb_rlog_esz(r->max_sge));
}

/* Receives may be logged faster than the program polls their completions
 * (the device frees RQ slots before the program sees them): grow. */
static int rlog_grow(struct vb_rlog *r)
{
	size_t esz = vb_rlog_esz(r->max_sge);
	uint8_t *nb = vb_alloc((size_t)r->cap * 2 * esz);

	if (!nb)
		return -1;
	for (uint32_t i = 0; i < r->n; i++)
		memcpy(nb + i * esz, rlog_at(r, i), esz);
	vb_free(r->buf, (size_t)r->cap * esz);
	r->buf = nb;
	r->head = 0;
	r->cap *= 2;
	return 0;
}

/* Log the list; returns how many were logged (stops at a malformed WR). */
static uint32_t rlog_append(struct vb_rlog *r, const struct ibv_recv_wr *wr)
{
	uint32_t n = 0;

	spin_lock(&r->lock);
	for (; wr; wr = wr->next, n++) {
		struct vb_rentry *e;

		if (wr->num_sge < 0 || (uint32_t)wr->num_sge > r->max_sge)
			break;
		if (r->n == r->cap && rlog_grow(r) < 0)
			break;
		e = rlog_at(r, r->n);
		e->wr_id = wr->wr_id;
		e->num_sge = (uint32_t)wr->num_sge;
		memcpy(e->sge, wr->sg_list, (size_t)wr->num_sge * sizeof(struct ibv_sge));
		r->n++;
	}
	spin_unlock(&r->lock);
	return n;
}

static void rlog_drop_tail(struct vb_rlog *r, uint32_t k)
{
	spin_lock(&r->lock);
	r->n = k > r->n ? 0 : r->n - k;
	spin_unlock(&r->lock);
}

/* A receive completed: normally the oldest entry. */
static void rlog_pop(struct vb_rlog *r, uint64_t wr_id)
{
	size_t esz = vb_rlog_esz(r->max_sge);

	spin_lock(&r->lock);
	if (VB_LIKELY(r->n && rlog_at(r, 0)->wr_id == wr_id)) {
		r->head = (r->head + 1) & (r->cap - 1);
		r->n--;
	} else {
		for (uint32_t i = 1; i < r->n; i++) {
			if (rlog_at(r, i)->wr_id != wr_id)
				continue;
			for (uint32_t j = i; j + 1 < r->n; j++)
				memcpy(rlog_at(r, j), rlog_at(r, j + 1), esz);
			r->n--;
			break;
		}
	}
	spin_unlock(&r->lock);
}

/* ---- receives ---- */

typedef int (*recv_fn)(void *obj, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad);

static int recv_xlate(void *real, recv_fn fn, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	struct ibv_recv_wr tw[CHUNK_WR];
	struct ibv_sge ts[CHUNK_SGE];
	struct ibv_recv_wr *w = wr;

	while (w) {
		struct ibv_recv_wr *first = w, *tbad = NULL;
		int nw = 0, ns = 0, r;

		while (w && nw < CHUNK_WR && w->num_sge >= 0 && ns + w->num_sge <= CHUNK_SGE) {
			tw[nw] = *w;
			tw[nw].sg_list = &ts[ns];
			for (int i = 0; i < w->num_sge; i++) {
				ts[ns + i] = w->sg_list[i];
				ts[ns + i].lkey = vb_lkey_real(w->sg_list[i].lkey);
			}
			ns += w->num_sge;
			tw[nw].next = NULL;
			if (nw)
				tw[nw - 1].next = &tw[nw];
			nw++;
			w = w->next;
		}
		if (!nw) /* malformed: the real call says what is wrong */
			return fn(real, w, bad);
		r = fn(real, tw, &tbad);
		if (r) {
			struct ibv_recv_wr *o = first;

			for (struct ibv_recv_wr *t = tw; t && t != tbad; t = t->next)
				o = o->next;
			*bad = o;
			return r;
		}
	}
	return 0;
}

static uint32_t count_from(const struct ibv_recv_wr *wr, const struct ibv_recv_wr *stop)
{
	uint32_t n = 0;

	for (; wr && wr != stop; wr = wr->next)
		n++;
	return n;
}

static int post_logged(struct vb_rlog *log, void *real, recv_fn fn, struct ibv_recv_wr *wr,
		       struct ibv_recv_wr **bad)
{
	uint32_t logged = rlog_append(log, wr);
	int r;

	if (VB_LIKELY(!vb_xl_lkey))
		r = fn(real, wr, bad);
	else
		r = recv_xlate(real, fn, wr, bad);
	if (VB_UNLIKELY(r)) {
		uint32_t ok = count_from(wr, *bad);

		if (logged > ok)
			rlog_drop_tail(log, logged - ok);
	}
	return r;
}

static int vb_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	struct vb_qp *q = (struct vb_qp *)qp;
	int s = vb_enter(), r;

	if (VB_UNLIKELY(q->srq || !q->rlog.buf))
		r = q->r_recv(q->real, wr, bad);
	else
		r = post_logged(&q->rlog, q->real, (recv_fn)q->r_recv, wr, bad);
	vb_leave(s);
	return r;
}

static int vb_post_srq_recv(struct ibv_srq *srq, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	struct vb_srq *q = (struct vb_srq *)srq;
	int s = vb_enter();
	int r = post_logged(&q->rlog, q->real, (recv_fn)q->r_post, wr, bad);

	vb_leave(s);
	return r;
}

int vb_repost_rlog(struct vb_rlog *r, struct vb_qp *q, struct vb_srq *s)
{
	struct ibv_recv_wr tw[CHUNK_WR];
	struct ibv_sge ts[CHUNK_SGE];
	uint32_t i = 0;

	while (i < r->n) {
		struct ibv_recv_wr *bad = NULL;
		int nw = 0, ns = 0, err;

		while (i < r->n && nw < CHUNK_WR) {
			struct vb_rentry *e = rlog_at(r, i);

			if (ns + (int)e->num_sge > CHUNK_SGE)
				break;
			tw[nw].wr_id = e->wr_id;
			tw[nw].num_sge = (int)e->num_sge;
			tw[nw].sg_list = &ts[ns];
			for (uint32_t k = 0; k < e->num_sge; k++) {
				ts[ns + k] = e->sge[k];
				ts[ns + k].lkey = vb_lkey_real(e->sge[k].lkey);
			}
			ns += (int)e->num_sge;
			tw[nw].next = NULL;
			if (nw)
				tw[nw - 1].next = &tw[nw];
			nw++;
			i++;
		}
		err = q ? q->r_recv(q->real, tw, &bad) : s->r_post(s->real, tw, &bad);
		if (err)
			return err;
	}
	return 0;
}

/* ---- sends ---- */

static inline void xl_remote(const struct vb_qp *q, struct ibv_send_wr *t)
{
	uint64_t v;

	switch (t->opcode) {
	case IBV_WR_RDMA_WRITE:
	case IBV_WR_RDMA_WRITE_WITH_IMM:
	case IBV_WR_RDMA_READ:
		t->wr.rdma.rkey = vb_rkey_real(q, t->wr.rdma.rkey);
		break;
	case IBV_WR_ATOMIC_CMP_AND_SWP:
	case IBV_WR_ATOMIC_FETCH_AND_ADD:
		t->wr.atomic.rkey = vb_rkey_real(q, t->wr.atomic.rkey);
		break;
	default:
		break;
	}
	if (q->pub.qp_type == IBV_QPT_UD && t->wr.ud.ah) {
		struct vb_ah *a = (struct vb_ah *)t->wr.ud.ah;

		if (a->h.magic == VB_MAGIC + VB_AH) {
			t->wr.ud.ah = a->real;
			v = vb_map_get(&vb_peer_fwd, VB_LQ(a->attr.dlid, t->wr.ud.remote_qpn), 0);
			if (v)
				t->wr.ud.remote_qpn = VB_LQ_QPN(v);
		}
	}
}

static int send_xlate(struct vb_qp *q, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	struct ibv_send_wr tw[CHUNK_WR];
	struct ibv_sge ts[CHUNK_SGE];
	struct ibv_send_wr *w = wr;

	while (w) {
		struct ibv_send_wr *first = w, *tbad = NULL;
		int nw = 0, ns = 0, r;

		while (w && nw < CHUNK_WR && w->num_sge >= 0 && ns + w->num_sge <= CHUNK_SGE) {
			tw[nw] = *w;
			tw[nw].sg_list = &ts[ns];
			for (int i = 0; i < w->num_sge; i++) {
				ts[ns + i] = w->sg_list[i];
				ts[ns + i].lkey = vb_lkey_real(w->sg_list[i].lkey);
			}
			ns += w->num_sge;
			xl_remote(q, &tw[nw]);
			tw[nw].next = NULL;
			if (nw)
				tw[nw - 1].next = &tw[nw];
			nw++;
			w = w->next;
		}
		if (!nw)
			return q->r_send(q->real, w, bad);
		r = q->r_send(q->real, tw, &tbad);
		if (r) {
			struct ibv_send_wr *o = first;

			for (struct ibv_send_wr *t = tw; t && t != tbad; t = t->next)
				o = o->next;
			*bad = o;
			return r;
		}
	}
	return 0;
}

static int vb_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	struct vb_qp *q = (struct vb_qp *)qp;
	int s = vb_enter(), r;
	const struct ibv_send_wr *stop = NULL, *w;
	uint64_t sig = 0;

	if (VB_LIKELY(!q->xlate))
		r = q->r_send(q->real, wr, bad);
	else
		r = send_xlate(q, wr, bad);
	if (VB_UNLIKELY(r))
		stop = *bad;
	for (w = wr; w && w != stop; w = w->next)
		sig += q->sq_sig_all || (w->send_flags & IBV_SEND_SIGNALED);
	if (sig)
		__atomic_fetch_add(&q->sig_posted, sig, __ATOMIC_RELAXED);
	vb_leave(s);
	return r;
}

/* ---- completions ---- */

void vb_account(struct ibv_wc *wc)
{
	struct vb_qp *q = (struct vb_qp *)(uintptr_t)vb_map_get(&vb_qp_real, wc->qp_num, 0);

	if (VB_UNLIKELY(!q))
		return;
	if (wc->opcode & IBV_WC_RECV) {
		if (q->srq)
			rlog_pop(&q->srq->rlog, wc->wr_id);
		else
			rlog_pop(&q->rlog, wc->wr_id);
	} else if (VB_LIKELY(wc->status == IBV_WC_SUCCESS)) {
		__atomic_fetch_add(&q->sig_done, 1, __ATOMIC_RELAXED);
	}
	if (VB_UNLIKELY(wc->status != IBV_WC_SUCCESS))
		q->errored = 1;
	if (vb_xl_qpn)
		wc->qp_num = q->pub.qp_num;
	if (vb_xl_peer) {
		uint64_t v = vb_map_get(&vb_peer_rev, VB_LQ(wc->slid, wc->src_qp), 0);

		if (v) {
			wc->slid = VB_LQ_LID(v);
			wc->src_qp = VB_LQ_QPN(v);
		} else {
			wc->slid = vb_lid_to_virt(wc->slid);
		}
	}
}

int vb_stash_push(struct vb_cq *c, const struct vb_wcx *w, int n)
{
	spin_lock(&c->lock);
	if (c->stash_n + (uint32_t)n > c->stash_cap) {
		uint32_t cap = c->stash_cap ? c->stash_cap : 64;
		struct vb_wcx *ns;

		while (cap < c->stash_n + (uint32_t)n)
			cap *= 2;
		ns = vb_alloc(cap * sizeof(*ns));
		if (!ns) {
			spin_unlock(&c->lock);
			return -1;
		}
		for (uint32_t i = 0; i < c->stash_n; i++)
			ns[i] = c->stash[(c->stash_head + i) % c->stash_cap];
		vb_free(c->stash, c->stash_cap * sizeof(*ns));
		c->stash = ns;
		c->stash_cap = cap;
		c->stash_head = 0;
	}
	for (int i = 0; i < n; i++)
		c->stash[(c->stash_head + c->stash_n + (uint32_t)i) % c->stash_cap] = w[i];
	__atomic_store_n(&c->stash_n, c->stash_n + (uint32_t)n, __ATOMIC_RELEASE);
	spin_unlock(&c->lock);
	return 0;
}

int vb_stash_pop(struct vb_cq *c, struct vb_wcx *w)
{
	int k = 0;

	spin_lock(&c->lock);
	if (c->stash_n) {
		*w = c->stash[c->stash_head];
		c->stash_head = (c->stash_head + 1) % c->stash_cap;
		c->stash_n--;
		k = 1;
	}
	spin_unlock(&c->lock);
	return k;
}

static int stash_pop(struct vb_cq *c, int n, struct ibv_wc *wc)
{
	int k = 0;

	spin_lock(&c->lock);
	while (k < n && c->stash_n) {
		wc[k++] = c->stash[c->stash_head].wc;
		c->stash_head = (c->stash_head + 1) % c->stash_cap;
		c->stash_n--;
	}
	spin_unlock(&c->lock);
	return k;
}

static int vb_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	struct vb_cq *c = (struct vb_cq *)cq;
	int s = vb_enter(), r;

	if (VB_UNLIKELY(__atomic_load_n(&c->stash_n, __ATOMIC_ACQUIRE)) && n > 0) {
		r = stash_pop(c, n, wc);
		if (r) {
			vb_leave(s);
			return r;
		}
	}
	r = c->r_poll(c->real, n, wc);
	for (int i = 0; i < r; i++)
		vb_account(&wc[i]);
	vb_leave(s);
	return r;
}

static int vb_req_notify_cq(struct ibv_cq *cq, int solicited_only)
{
	struct vb_cq *c = (struct vb_cq *)cq;
	int s = vb_enter(), r;

	r = c->r_notify(c->real, solicited_only);
	if (!r)
		c->armed = solicited_only ? 2 : 1;
	vb_leave(s);
	return r;
}

void vb_set_ops(struct vb_ctx *c)
{
	struct ibv_context_ops *o = &c->vc.context.ops;

	o->poll_cq = vb_poll_cq;
	o->req_notify_cq = vb_req_notify_cq;
	o->post_send = vb_post_send;
	o->post_recv = vb_post_recv;
	o->post_srq_recv = vb_post_srq_recv;
}

void vb_qp_update_xlate(struct vb_qp *q)
{
	q->xlate = vb_xl_lkey || q->rproc || q->pub.qp_type == IBV_QPT_UD;
}

void vb_update_all_xlate(void)
{
	struct vb_qp *q;

	vb_for_each(q, VB_QP, struct vb_qp)
		vb_qp_update_xlate(q);
}
