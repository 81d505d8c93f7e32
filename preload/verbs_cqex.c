/*
 * Extended CQs (ibv_create_cq_ex, reached through the shadow context's
 * create_cq_ex): the program polls with start_poll / next_poll / end_poll
 * and reads each field with a function of the CQ, so the shadow carries
 * the shim's functions.  Each completion of the real CQ is read once, whole,
 * into cur (accounted and made virtual like ibv_poll_cq's); the stash is
 * served first after a rebuild.  The real CQ always reports QP numbers and
 * source QP/LID, which the shim needs, whatever the program asked for.
 * A polling session holds the gate from start_poll to end_poll.
 */
#include "verbs_hook.h"

#include <string.h>

#define NEED_FLAGS (IBV_WC_EX_WITH_QP_NUM | IBV_WC_EX_WITH_SRC_QP | IBV_WC_EX_WITH_SLID)

static struct vb_cq *cq_of(struct ibv_cq_ex *x)
{
	return (struct vb_cq *)x;
}

/* The real CQ's current completion, read into cur. */
static void take(struct vb_cq *c)
{
	struct ibv_cq_ex *x = c->rx;
	uint64_t f = c->wc_flags | NEED_FLAGS;
	struct vb_wcx *w = &c->cur;

	memset(w, 0, sizeof(*w));
	w->wc.wr_id = x->wr_id;
	w->wc.status = x->status;
	w->wc.opcode = x->read_opcode(x);
	w->wc.vendor_err = x->read_vendor_err(x);
	w->wc.wc_flags = x->read_wc_flags(x);
	w->wc.qp_num = x->read_qp_num(x);
	w->wc.src_qp = x->read_src_qp(x);
	w->wc.slid = (uint16_t)x->read_slid(x);
	if (f & IBV_WC_EX_WITH_BYTE_LEN)
		w->wc.byte_len = x->read_byte_len(x);
	if ((f & IBV_WC_EX_WITH_IMM) && (w->wc.wc_flags & IBV_WC_WITH_IMM))
		w->wc.imm_data = x->read_imm_data(x);
	if (f & IBV_WC_EX_WITH_SL)
		w->wc.sl = x->read_sl(x);
	if (f & IBV_WC_EX_WITH_DLID_PATH_BITS)
		w->wc.dlid_path_bits = x->read_dlid_path_bits(x);
	if (f & IBV_WC_EX_WITH_COMPLETION_TIMESTAMP)
		w->ts = x->read_completion_ts(x);
	if (f & IBV_WC_EX_WITH_COMPLETION_TIMESTAMP_WALLCLOCK)
		w->wall = x->read_completion_wallclock_ns(x);
	vb_account(&w->wc);
}

static void show(struct vb_cq *c)
{
	c->pub.wr_id = c->cur.wc.wr_id;
	c->pub.status = c->cur.wc.status;
}

static int next_entry(struct vb_cq *c, struct ibv_poll_cq_attr *attr)
{
	struct ibv_poll_cq_attr none = { 0 };
	int r;

	if (c->session != 2 && vb_stash_pop(c, &c->cur)) {
		c->session = 1;
		show(c);
		return 0;
	}
	if (c->session == 2) {
		r = c->rx->next_poll(c->rx);
	} else {
		r = c->rx->start_poll(c->rx, attr ? attr : &none);
		if (!r)
			c->session = 2;
	}
	if (r)
		return r;
	take(c);
	show(c);
	return 0;
}

static int ex_start_poll(struct ibv_cq_ex *x, struct ibv_poll_cq_attr *attr)
{
	struct vb_cq *c = cq_of(x);
	int s = vb_enter(), r;

	c->session = 0;
	r = next_entry(c, attr);
	if (r) { /* ENOENT: no end_poll follows */
		vb_leave(s);
		return r;
	}
	c->shard = s;
	return 0;
}

static int ex_next_poll(struct ibv_cq_ex *x)
{
	return next_entry(cq_of(x), NULL);
}

static void ex_end_poll(struct ibv_cq_ex *x)
{
	struct vb_cq *c = cq_of(x);

	if (c->session == 2)
		c->rx->end_poll(c->rx);
	c->session = 0;
	vb_leave(c->shard);
}

#define CUR(x) (&cq_of(x)->cur)

static enum ibv_wc_opcode ex_opcode(struct ibv_cq_ex *x)
{
	return CUR(x)->wc.opcode;
}

static uint32_t ex_vendor_err(struct ibv_cq_ex *x)
{
	return CUR(x)->wc.vendor_err;
}

static uint32_t ex_byte_len(struct ibv_cq_ex *x)
{
	return CUR(x)->wc.byte_len;
}

static __be32 ex_imm_data(struct ibv_cq_ex *x)
{
	return CUR(x)->wc.imm_data;
}

static uint32_t ex_qp_num(struct ibv_cq_ex *x)
{
	return CUR(x)->wc.qp_num;
}

static uint32_t ex_src_qp(struct ibv_cq_ex *x)
{
	return CUR(x)->wc.src_qp;
}

static unsigned int ex_wc_flags(struct ibv_cq_ex *x)
{
	return CUR(x)->wc.wc_flags;
}

static uint32_t ex_slid(struct ibv_cq_ex *x)
{
	return CUR(x)->wc.slid;
}

static uint8_t ex_sl(struct ibv_cq_ex *x)
{
	return CUR(x)->wc.sl;
}

static uint8_t ex_dlid_path_bits(struct ibv_cq_ex *x)
{
	return CUR(x)->wc.dlid_path_bits;
}

static uint64_t ex_ts(struct ibv_cq_ex *x)
{
	return CUR(x)->ts;
}

static uint64_t ex_wall(struct ibv_cq_ex *x)
{
	return CUR(x)->wall;
}

static uint16_t ex_cvlan(struct ibv_cq_ex *x)
{
	return 0;
}

static uint32_t ex_flow_tag(struct ibv_cq_ex *x)
{
	return 0;
}

static void ex_tm_info(struct ibv_cq_ex *x, struct ibv_wc_tm_info *tm)
{
	memset(tm, 0, sizeof(*tm));
}

static void set_ops(struct ibv_cq_ex *x)
{
	x->start_poll = ex_start_poll;
	x->next_poll = ex_next_poll;
	x->end_poll = ex_end_poll;
	x->read_opcode = ex_opcode;
	x->read_vendor_err = ex_vendor_err;
	x->read_byte_len = ex_byte_len;
	x->read_imm_data = ex_imm_data;
	x->read_qp_num = ex_qp_num;
	x->read_src_qp = ex_src_qp;
	x->read_wc_flags = ex_wc_flags;
	x->read_slid = ex_slid;
	x->read_sl = ex_sl;
	x->read_dlid_path_bits = ex_dlid_path_bits;
	x->read_completion_ts = ex_ts;
	x->read_completion_wallclock_ns = ex_wall;
	x->read_cvlan = ex_cvlan;
	x->read_flow_tag = ex_flow_tag;
	x->read_tm_info = ex_tm_info;
}

int vb_cqex_make(struct vb_cq *q)
{
	struct verbs_context *v = verbs_get_ctx_op(q->ctx->real, create_cq_ex);
	struct ibv_cq_init_attr_ex a = {
		.cqe = (uint32_t)q->cqe,
		.cq_context = q,
		.channel = q->ch ? q->ch->real : NULL,
		.comp_vector = (uint32_t)q->comp_vector,
		.wc_flags = q->wc_flags | NEED_FLAGS,
		.comp_mask = q->comp_mask,
		.flags = q->flags,
	};

	if (!v) {
		errno = EOPNOTSUPP;
		return -1;
	}
	q->rx = v->create_cq_ex(q->ctx->real, &a);
	if (!q->rx)
		return -1;
	q->real = ibv_cq_ex_to_cq(q->rx);
	return 0;
}

int vb_cqex_drain(struct vb_cq *q)
{
	struct ibv_poll_cq_attr none = { 0 };
	int n = 0;

	if (q->rx->start_poll(q->rx, &none))
		return 0;
	do {
		take(q);
		if (vb_stash_push(q, &q->cur, 1) < 0)
			crs_error("verbs: out of memory keeping a completion");
		n++;
	} while (!q->rx->next_poll(q->rx));
	q->rx->end_poll(q->rx);
	return n;
}

struct ibv_cq_ex *vb_create_cq_ex(struct ibv_context *context, struct ibv_cq_init_attr_ex *attr)
{
	struct vb_ctx *c = vb_ctx_pub(context);
	struct vb_ch *ch = vb_ch_of(attr->channel);
	struct vb_cq *q;
	int s, g, e = 0;

	if ((attr->channel && !ch) || (attr->comp_mask & IBV_CQ_INIT_ATTR_MASK_PD)) {
		errno = EOPNOTSUPP; /* parent domains are not virtualised */
		return NULL;
	}
	s = vb_ctl_enter();
	q = VB_NEW(struct vb_cq, VB_CQ);
	if (!q) {
		vb_ctl_leave(s);
		errno = ENOMEM;
		return NULL;
	}
	q->ctx = c;
	q->ch = ch;
	q->ex = 1;
	q->cqe = (int)attr->cqe;
	q->comp_vector = (int)attr->comp_vector;
	q->wc_flags = attr->wc_flags;
	q->comp_mask = attr->comp_mask;
	q->flags = attr->flags;
	g = vb_quiet();
	if (vb_cq_make(q) < 0) {
		e = errno;
		VB_DELETE(q);
		q = NULL;
	}
	vb_loud(g);
	if (q) {
		q->pub.context = context;
		q->pub.channel = attr->channel;
		q->pub.cq_context = attr->cq_context;
		pthread_mutex_init(&q->pub.mutex, NULL);
		pthread_cond_init(&q->pub.cond, NULL);
		set_ops(&q->pub);
	}
	vb_ctl_leave(s);
	errno = e;
	return q ? &q->pub : NULL;
}
