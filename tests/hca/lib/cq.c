// SPDX-License-Identifier: MIT
/*
 * Completion channels and completion queues.  The daemon pushes completions
 * over the context's socket; they are sorted into a per-CQ ring whenever the
 * socket is read (polling, or while waiting for any reply).  A channel is a
 * SOCK_SEQPACKET pair: the daemon writes one record per CQ event into it, so
 * channel->fd is pollable like the kernel's, and it is closed on destroy.
 */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

struct ibv_comp_channel *sim_create_comp_channel(struct ibv_context *context)
{
	struct hca_handle_msg rep;
	struct hca_chan *ch = calloc(1, sizeof(*ch));
	int sv[2], err;

	if (!ch) {
		errno = ENOMEM;
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		free(ch);
		return NULL;
	}
	err = hca_call(to_hctx(context), HCA_OP_CREATE_CHANNEL, NULL, 0, sv[1],
		       &rep, sizeof(rep));
	close(sv[1]);
	if (err) {
		close(sv[0]);
		free(ch);
		errno = err;
		return NULL;
	}
	ch->ch.context = context;
	ch->ch.fd = sv[0];
	ch->ch.refcnt = 0;
	ch->handle = rep.handle;
	return &ch->ch;
}
EXPORT(sim_create_comp_channel, ibv_create_comp_channel, "IBVERBS_1.0");

int sim_destroy_comp_channel(struct ibv_comp_channel *channel)
{
	struct hca_chan *ch = container_of(channel, struct hca_chan, ch);
	struct hca_handle_msg q = { .handle = ch->handle };
	int err;

	if (channel->refcnt)
		return EBUSY;
	err = hca_call(to_hctx(channel->context), HCA_OP_DESTROY_CHANNEL, &q,
		       sizeof(q), -1, NULL, 0);
	if (err && err != EIO)
		return err;
	close(channel->fd);
	free(ch);
	return 0;
}
EXPORT(sim_destroy_comp_channel, ibv_destroy_comp_channel, "IBVERBS_1.0");

static struct hca_cq *create_cq(struct ibv_context *context, uint32_t cqe,
				void *cq_context,
				struct ibv_comp_channel *channel,
				uint32_t comp_vector, uint64_t wc_flags)
{
	struct hca_context *ctx = to_hctx(context);
	struct hca_create_cq_req q = {
		.cqe = cqe, .comp_vector = comp_vector, .wc_flags = wc_flags,
	};
	struct hca_handle_msg rep;
	struct hca_cq *cq = calloc(1, sizeof(*cq));
	int err;

	if (!cq) {
		errno = ENOMEM;
		return NULL;
	}
	if (channel)
		q.channel = container_of(channel, struct hca_chan, ch)->handle;
	err = hca_call(ctx, HCA_OP_CREATE_CQ, &q, sizeof(q), -1, &rep,
		       sizeof(rep));
	if (err) {
		free(cq);
		errno = err;
		return NULL;
	}
	cq->cqx.context = context;
	cq->cqx.channel = channel;
	cq->cqx.cq_context = cq_context;
	cq->cqx.handle = rep.handle;
	cq->cqx.cqe = (int)rep.arg;
	pthread_mutex_init(&cq->cqx.mutex, NULL);
	pthread_cond_init(&cq->cqx.cond, NULL);
	cq->wc_flags = wc_flags;
	pthread_mutex_lock(&ctx->lock);
	err = hca_slot_set(ctx, rep.handle, cq, H_CQ);
	pthread_mutex_unlock(&ctx->lock);
	if (err) {
		struct hca_handle_msg d = { .handle = rep.handle };

		hca_call(ctx, HCA_OP_DESTROY_CQ, &d, sizeof(d), -1, NULL, 0);
		free(cq);
		errno = err;
		return NULL;
	}
	if (channel) {
		pthread_mutex_lock(&context->mutex);
		channel->refcnt++;
		pthread_mutex_unlock(&context->mutex);
	}
	return cq;
}

struct ibv_cq *sim_create_cq(struct ibv_context *context, int cqe,
			     void *cq_context,
			     struct ibv_comp_channel *channel, int comp_vector)
{
	struct hca_cq *cq;

	if (cqe < 1 || comp_vector < 0) {
		errno = EINVAL;
		return NULL;
	}
	cq = create_cq(context, (uint32_t)cqe, cq_context, channel,
		       (uint32_t)comp_vector, IBV_WC_STANDARD_FLAGS);
	return cq ? ibv_cq_ex_to_cq(&cq->cqx) : NULL;
}
EXPORT_1_1(sim_create_cq, ibv_create_cq);

#define SUPPORTED_WC_FLAGS (IBV_WC_STANDARD_FLAGS | \
	IBV_WC_EX_WITH_COMPLETION_TIMESTAMP | \
	IBV_WC_EX_WITH_COMPLETION_TIMESTAMP_WALLCLOCK)

struct ibv_cq_ex *sim_create_cq_ex(struct ibv_context *context,
				   struct ibv_cq_init_attr_ex *attr)
{
	struct hca_cq *cq;

	if (attr->comp_mask & ~(uint32_t)IBV_CQ_INIT_ATTR_MASK_FLAGS) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	if ((attr->wc_flags & ~(uint64_t)SUPPORTED_WC_FLAGS) ||
	    ((attr->comp_mask & IBV_CQ_INIT_ATTR_MASK_FLAGS) &&
	     (attr->flags & ~(uint32_t)(IBV_CREATE_CQ_ATTR_SINGLE_THREADED |
					IBV_CREATE_CQ_ATTR_IGNORE_OVERRUN)))) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	if (!attr->cqe) {
		errno = EINVAL;
		return NULL;
	}
	cq = create_cq(context, attr->cqe, attr->cq_context, attr->channel,
		       attr->comp_vector, attr->wc_flags);
	if (!cq)
		return NULL;
	hca_cq_ex_init(cq);
	return &cq->cqx;
}

int sim_resize_cq(struct ibv_cq *ibcq, int cqe)
{
	struct hca_handle_msg q = { .handle = ibcq->handle,
				    .arg = (uint32_t)cqe };
	struct hca_handle_msg rep;
	int err;

	if (cqe < 1)
		return EINVAL;
	err = hca_call(to_hctx(ibcq->context), HCA_OP_RESIZE_CQ, &q, sizeof(q),
		       -1, &rep, sizeof(rep));
	if (!err)
		ibcq->cqe = (int)rep.arg;
	return err;
}
EXPORT_1_1(sim_resize_cq, ibv_resize_cq);

int sim_destroy_cq(struct ibv_cq *ibcq)
{
	struct hca_context *ctx = to_hctx(ibcq->context);
	struct hca_cq *cq = to_hcq(ibcq);
	struct hca_handle_msg q = { .handle = ibcq->handle };
	int err;

	err = hca_call(ctx, HCA_OP_DESTROY_CQ, &q, sizeof(q), -1, NULL, 0);
	if (err && err != EIO)
		return err;
	pthread_mutex_lock(&ctx->lock);
	hca_slot_clear(ctx, ibcq->handle);
	pthread_mutex_unlock(&ctx->lock);
	if (ibcq->channel) {
		pthread_mutex_lock(&ibcq->context->mutex);
		ibcq->channel->refcnt--;
		pthread_mutex_unlock(&ibcq->context->mutex);
	}
	pthread_mutex_destroy(&ibcq->mutex);
	pthread_cond_destroy(&ibcq->cond);
	free(cq->ring);
	free(cq);
	return 0;
}
EXPORT_1_1(sim_destroy_cq, ibv_destroy_cq);

int sim_get_cq_event(struct ibv_comp_channel *channel, struct ibv_cq **cq,
		     void **cq_context)
{
	struct hca_context *ctx = to_hctx(channel->context);

	for (;;) {
		struct hca_comp_event ev;
		ssize_t n = read(channel->fd, &ev, sizeof(ev));
		struct hca_cq *c;

		if (n < 0)
			return -1;
		if (n != sizeof(ev)) {
			errno = EIO;
			return -1;
		}
		pthread_mutex_lock(&ctx->lock);
		c = hca_slot_get(ctx, ev.cq, H_CQ);
		pthread_mutex_unlock(&ctx->lock);
		if (!c)
			continue;	/* CQ destroyed since */
		*cq = ibv_cq_ex_to_cq(&c->cqx);
		*cq_context = c->cqx.cq_context;
		return 0;
	}
}
EXPORT_1_1(sim_get_cq_event, ibv_get_cq_event);

void sim_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
	pthread_mutex_lock(&cq->mutex);
	cq->comp_events_completed += nevents;
	pthread_cond_signal(&cq->cond);
	pthread_mutex_unlock(&cq->mutex);
}
EXPORT_1_1(sim_ack_cq_events, ibv_ack_cq_events);

int sim_req_notify_cq(struct ibv_cq *cq, int solicited_only)
{
	struct hca_handle_msg q = {
		.handle = cq->handle, .arg = solicited_only ? 1 : 0,
	};

	/* a round trip: completions queued before the arm are read first */
	return hca_call(to_hctx(cq->context), HCA_OP_REQ_NOTIFY, &q, sizeof(q),
			-1, NULL, 0);
}

/* ---- the completion ring ---- */

static int ring_push(struct hca_cq *cq, const struct hca_wire_cqe *c)
{
	if (cq->count == cq->cap) {
		uint32_t n = cq->cap ? cq->cap * 2 : 64;
		struct hca_wire_cqe *r = malloc(n * sizeof(*r));

		if (!r)
			return -1;
		for (uint32_t i = 0; i < cq->count; i++)
			r[i] = cq->ring[(cq->head + i) & (cq->cap - 1)];
		free(cq->ring);
		cq->ring = r;
		cq->head = 0;
		cq->cap = n;
	}
	cq->ring[(cq->head + cq->count) & (cq->cap - 1)] = *c;
	cq->count++;
	return 0;
}

static void ring_pop(struct hca_cq *cq, struct hca_wire_cqe *c)
{
	*c = cq->ring[cq->head];
	cq->head = (cq->head + 1) & (cq->cap - 1);
	cq->count--;
}

void hca_cq_deliver(struct hca_context *ctx, const struct hca_wire_cqe *c)
{
	struct hca_cq *cq = hca_slot_get(ctx, c->cq, H_CQ);
	struct hca_qp *qp;

	if (!cq)
		return;
	ring_push(cq, c);
	if (!c->is_recv)
		return;
	/* a consumed receive frees its slot in the RQ/SRQ */
	qp = hca_slot_get(ctx, c->qp, H_QP);
	if (!qp)
		return;
	if (qp->qpx.qp_base.srq) {
		struct hca_srq *srq = to_hsrq(qp->qpx.qp_base.srq);

		if (srq->posted)
			srq->posted--;
	} else if (qp->rq_posted) {
		qp->rq_posted--;
	}
}

/* Drop a destroyed or reset QP's completions (ctx->lock held). */
void hca_cq_purge_qp(struct hca_cq *cq, uint32_t qp_handle)
{
	uint32_t keep = 0;

	for (uint32_t i = 0; i < cq->count; i++) {
		struct hca_wire_cqe *c =
			&cq->ring[(cq->head + i) & (cq->cap - 1)];

		if (c->qp != qp_handle)
			cq->ring[(cq->head + keep++) & (cq->cap - 1)] = *c;
	}
	cq->count = keep;
}

static void to_wc(const struct hca_wire_cqe *c, struct ibv_wc *wc)
{
	wc->wr_id = c->wr_id;
	wc->status = (enum ibv_wc_status)c->status;
	wc->opcode = (enum ibv_wc_opcode)c->opcode;
	wc->vendor_err = c->vendor_err;
	wc->byte_len = c->byte_len;
	wc->imm_data = c->imm_data;
	wc->qp_num = c->qp_num;
	wc->src_qp = c->src_qp;
	wc->wc_flags = c->wc_flags;
	wc->pkey_index = c->pkey_index;
	wc->slid = c->slid;
	wc->sl = c->sl;
	wc->dlid_path_bits = c->dlid_path_bits;
}

int sim_poll_cq(struct ibv_cq *ibcq, int n, struct ibv_wc *wc)
{
	struct hca_context *ctx = to_hctx(ibcq->context);
	struct hca_cq *cq = to_hcq(ibcq);
	struct hca_wire_cqe c;
	int i;

	pthread_mutex_lock(&ctx->lock);
	if (cq->count < (uint32_t)n)
		hca_drain(ctx);
	for (i = 0; i < n && cq->count; i++) {
		ring_pop(cq, &c);
		to_wc(&c, &wc[i]);
	}
	if (!i && ctx->broken)
		i = -1;		/* the device went away */
	pthread_mutex_unlock(&ctx->lock);
	/*
	 * Busy pollers share the CPUs with the daemon that produces their
	 * completions: give it the CPU when there is nothing yet.
	 */
	if (!i)
		sched_yield();
	return i;
}

/* ---- extended polling (ibv_create_cq_ex) ---- */

static int next_entry(struct ibv_cq_ex *cqx)
{
	struct hca_cq *cq = (struct hca_cq *)cqx;
	struct hca_context *ctx = to_hctx(cqx->context);
	int ret = ENOENT;

	pthread_mutex_lock(&ctx->lock);
	if (!cq->count)
		hca_drain(ctx);
	if (cq->count) {
		ring_pop(cq, &cq->cur);
		cqx->wr_id = cq->cur.wr_id;
		cqx->status = (enum ibv_wc_status)cq->cur.status;
		ret = 0;
	}
	pthread_mutex_unlock(&ctx->lock);
	return ret;
}

static int ex_start_poll(struct ibv_cq_ex *cqx, struct ibv_poll_cq_attr *attr)
{
	if (attr && attr->comp_mask)
		return EINVAL;
	return next_entry(cqx);
}

static int ex_next_poll(struct ibv_cq_ex *cqx)
{
	return next_entry(cqx);
}

static void ex_end_poll(struct ibv_cq_ex *cqx)
{
}

#define CUR(cqx) (&((struct hca_cq *)(cqx))->cur)

static enum ibv_wc_opcode ex_opcode(struct ibv_cq_ex *cqx)
{
	return (enum ibv_wc_opcode)CUR(cqx)->opcode;
}

static uint32_t ex_vendor_err(struct ibv_cq_ex *cqx)
{
	return CUR(cqx)->vendor_err;
}

static uint32_t ex_byte_len(struct ibv_cq_ex *cqx)
{
	return CUR(cqx)->byte_len;
}

static __be32 ex_imm_data(struct ibv_cq_ex *cqx)
{
	return CUR(cqx)->imm_data;
}

static uint32_t ex_qp_num(struct ibv_cq_ex *cqx)
{
	return CUR(cqx)->qp_num;
}

static uint32_t ex_src_qp(struct ibv_cq_ex *cqx)
{
	return CUR(cqx)->src_qp;
}

static unsigned int ex_wc_flags(struct ibv_cq_ex *cqx)
{
	return CUR(cqx)->wc_flags;
}

static uint32_t ex_slid(struct ibv_cq_ex *cqx)
{
	return CUR(cqx)->slid;
}

static uint8_t ex_sl(struct ibv_cq_ex *cqx)
{
	return CUR(cqx)->sl;
}

static uint8_t ex_dlid_path_bits(struct ibv_cq_ex *cqx)
{
	return CUR(cqx)->dlid_path_bits;
}

static uint64_t ex_completion_ts(struct ibv_cq_ex *cqx)
{
	return CUR(cqx)->timestamp;
}

static uint16_t ex_cvlan(struct ibv_cq_ex *cqx)
{
	return 0;
}

static uint32_t ex_flow_tag(struct ibv_cq_ex *cqx)
{
	return 0;
}

static void ex_tm_info(struct ibv_cq_ex *cqx, struct ibv_wc_tm_info *tm)
{
	memset(tm, 0, sizeof(*tm));
}

void hca_cq_ex_init(struct hca_cq *cq)
{
	struct ibv_cq_ex *x = &cq->cqx;

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
	x->read_completion_ts = ex_completion_ts;
	x->read_completion_wallclock_ns = ex_completion_ts;
	x->read_cvlan = ex_cvlan;
	x->read_flow_tag = ex_flow_tag;
	x->read_tm_info = ex_tm_info;
}
