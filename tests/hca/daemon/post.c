// SPDX-License-Identifier: MIT
/*
 * Posted work requests arriving from a client.  The library has already
 * returned success to the application, so malformed posts are dropped with
 * a log line (the library validates first; this only guards the daemon).
 */
#include "hcad.h"

#include <stdlib.h>
#include <string.h>

struct cursor {
	const uint8_t *p;
	size_t left;
};

static const void *take(struct cursor *c, size_t n)
{
	const void *p = c->p;

	if (c->left < n)
		return NULL;
	c->p += n;
	c->left -= n;
	return p;
}

static bool post_state_ok(const struct qp *qp)
{
	switch (qp->attr.qp_state) {
	case IBV_QPS_RTS:
	case IBV_QPS_SQD:
	case IBV_QPS_SQE:
	case IBV_QPS_ERR:
		return true;
	default:
		return false;
	}
}

static struct send_wqe *parse_send(struct client *cl, struct qp *qp,
				   struct cursor *c)
{
	const struct hca_wire_send_wr *ww = take(c, sizeof(*ww));
	const struct hca_wire_sge *sg;
	const uint8_t *data = NULL;
	struct send_wqe *w;

	if (!ww || ww->num_sge > HCA_MAX_SGE ||
	    ww->inline_len > HCA_MAX_INLINE)
		return NULL;
	sg = take(c, ww->num_sge * sizeof(*sg));
	if (!sg)
		return NULL;
	if (ww->inline_len) {
		data = take(c, hca_align8(ww->inline_len));
		if (!data)
			return NULL;
	}
	w = calloc(1, sizeof(*w) + ww->num_sge * sizeof(struct sge) +
		   ww->inline_len);
	if (!w)
		return NULL;
	w->wr_id = ww->wr_id;
	w->opcode = ww->opcode;
	w->flags = ww->send_flags;
	w->imm = ww->imm_data;
	w->num_sge = ww->num_sge;
	w->remote_addr = ww->remote_addr;
	w->rkey = ww->rkey;
	w->remote_qpn = ww->remote_qpn & 0xffffff;
	w->remote_qkey = ww->remote_qkey;
	w->compare_add = ww->compare_add;
	w->swap = ww->swap;
	for (uint32_t i = 0; i < ww->num_sge; i++) {
		w->sg[i].addr = sg[i].addr;
		w->sg[i].length = sg[i].length;
		w->sg[i].lkey = sg[i].lkey;
	}
	w->inline_len = ww->inline_len;
	w->inline_data = (uint8_t *)&w->sg[ww->num_sge];
	if (data)
		memcpy(w->inline_data, data, ww->inline_len);
	if (qp->type == IBV_QPT_UD) {
		struct ah *ah = (struct ah *)obj_get(cl, ww->ah, OBJ_AH);

		if (ah && ah->pd == qp->pd)
			w->ah = ah->attr;	/* else dlid 0: goes nowhere */
	}
	return w;
}

void h_post_send(struct req *r)
{
	const struct hca_post_hdr *ph = (const void *)r->p;
	struct cursor c = { r->p + sizeof(*ph), r->h->len - sizeof(*ph) };
	struct qp *qp = (struct qp *)obj_get(r->cl, ph->handle, OBJ_QP);

	if (!qp || !post_state_ok(qp)) {
		hlog("client %u: post_send on bad QP handle %u", r->cl->id,
		     ph->handle);
		return;
	}
	for (uint32_t i = 0; i < ph->nwr; i++) {
		struct send_wqe *w = parse_send(r->cl, qp, &c);

		if (!w) {
			hlog("client %u: malformed post_send", r->cl->id);
			return;
		}
		engine_post_send(qp, w);
	}
}

static struct recv_wqe *parse_recv(struct cursor *c)
{
	const struct hca_wire_recv_wr *ww = take(c, sizeof(*ww));
	const struct hca_wire_sge *sg;
	struct recv_wqe *w;

	if (!ww || ww->num_sge > HCA_MAX_SGE)
		return NULL;
	sg = take(c, ww->num_sge * sizeof(*sg));
	if (!sg)
		return NULL;
	w = malloc(sizeof(*w) + ww->num_sge * sizeof(struct sge));
	if (!w)
		return NULL;
	w->next = NULL;
	w->wr_id = ww->wr_id;
	w->num_sge = ww->num_sge;
	for (uint32_t i = 0; i < ww->num_sge; i++) {
		w->sg[i].addr = sg[i].addr;
		w->sg[i].length = sg[i].length;
		w->sg[i].lkey = sg[i].lkey;
	}
	return w;
}

void h_post_recv(struct req *r)
{
	const struct hca_post_hdr *ph = (const void *)r->p;
	struct cursor c = { r->p + sizeof(*ph), r->h->len - sizeof(*ph) };
	struct qp *qp = (struct qp *)obj_get(r->cl, ph->handle, OBJ_QP);

	if (!qp || qp->srq || qp->attr.qp_state == IBV_QPS_RESET) {
		hlog("client %u: post_recv on bad QP handle %u", r->cl->id,
		     ph->handle);
		return;
	}
	for (uint32_t i = 0; i < ph->nwr; i++) {
		struct recv_wqe *w = parse_recv(&c);

		if (!w) {
			hlog("client %u: malformed post_recv", r->cl->id);
			break;
		}
		engine_post_recv(qp, w);
	}
	engine_kick();
}

void h_post_srq_recv(struct req *r)
{
	const struct hca_post_hdr *ph = (const void *)r->p;
	struct cursor c = { r->p + sizeof(*ph), r->h->len - sizeof(*ph) };
	struct srq *srq = (struct srq *)obj_get(r->cl, ph->handle, OBJ_SRQ);

	if (!srq) {
		hlog("client %u: post_srq_recv on bad SRQ handle %u",
		     r->cl->id, ph->handle);
		return;
	}
	for (uint32_t i = 0; i < ph->nwr; i++) {
		struct recv_wqe *w = parse_recv(&c);

		if (!w) {
			hlog("client %u: malformed post_srq_recv", r->cl->id);
			break;
		}
		engine_post_srq_recv(srq, w);
	}
	engine_kick();
}
