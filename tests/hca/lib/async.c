// SPDX-License-Identifier: MIT
/*
 * Asynchronous events.  context->async_fd is one end of a SOCK_SEQPACKET
 * pair whose other end the daemon holds; each record names an event and the
 * handle of the object it concerns.
 */
#include "internal.h"

#include <errno.h>
#include <unistd.h>

static int fill_element(struct hca_context *ctx, const struct hca_async_rec *r,
			struct ibv_async_event *ev)
{
	void *p = NULL;

	ev->event_type = (enum ibv_event_type)r->type;
	switch (ev->event_type) {
	case IBV_EVENT_QP_FATAL:
	case IBV_EVENT_QP_REQ_ERR:
	case IBV_EVENT_QP_ACCESS_ERR:
	case IBV_EVENT_COMM_EST:
	case IBV_EVENT_SQ_DRAINED:
	case IBV_EVENT_PATH_MIG:
	case IBV_EVENT_PATH_MIG_ERR:
	case IBV_EVENT_QP_LAST_WQE_REACHED:
		p = hca_slot_get(ctx, r->handle, H_QP);
		if (p)
			ev->element.qp = &((struct hca_qp *)p)->qpx.qp_base;
		break;
	case IBV_EVENT_CQ_ERR:
		p = hca_slot_get(ctx, r->handle, H_CQ);
		ev->element.cq = p;
		break;
	case IBV_EVENT_SRQ_ERR:
	case IBV_EVENT_SRQ_LIMIT_REACHED:
		p = hca_slot_get(ctx, r->handle, H_SRQ);
		if (p)
			ev->element.srq = &((struct hca_srq *)p)->srq;
		break;
	case IBV_EVENT_DEVICE_FATAL:
		ev->element.port_num = 0;
		return 0;
	default:
		ev->element.port_num = (int)r->handle;
		return 0;
	}
	return p ? 0 : -1;	/* object already destroyed: drop */
}

int sim_get_async_event(struct ibv_context *context,
			struct ibv_async_event *event)
{
	struct hca_context *ctx = to_hctx(context);
	struct hca_async_rec r;

	for (;;) {
		ssize_t n = read(context->async_fd, &r, sizeof(r));
		int skip;

		if (n < 0)
			return -1;
		if (n != sizeof(r)) {
			errno = EIO;
			return -1;
		}
		pthread_mutex_lock(&ctx->lock);
		skip = fill_element(ctx, &r, event);
		pthread_mutex_unlock(&ctx->lock);
		if (!skip)
			return 0;
	}
}
EXPORT_1_1(sim_get_async_event, ibv_get_async_event);

void sim_ack_async_event(struct ibv_async_event *event)
{
	switch (event->event_type) {
	case IBV_EVENT_CQ_ERR: {
		struct ibv_cq *cq = event->element.cq;

		pthread_mutex_lock(&cq->mutex);
		cq->async_events_completed++;
		pthread_cond_signal(&cq->cond);
		pthread_mutex_unlock(&cq->mutex);
		break;
	}
	case IBV_EVENT_QP_FATAL:
	case IBV_EVENT_QP_REQ_ERR:
	case IBV_EVENT_QP_ACCESS_ERR:
	case IBV_EVENT_COMM_EST:
	case IBV_EVENT_SQ_DRAINED:
	case IBV_EVENT_PATH_MIG:
	case IBV_EVENT_PATH_MIG_ERR:
	case IBV_EVENT_QP_LAST_WQE_REACHED: {
		struct ibv_qp *qp = event->element.qp;

		pthread_mutex_lock(&qp->mutex);
		qp->events_completed++;
		pthread_cond_signal(&qp->cond);
		pthread_mutex_unlock(&qp->mutex);
		break;
	}
	case IBV_EVENT_SRQ_ERR:
	case IBV_EVENT_SRQ_LIMIT_REACHED: {
		struct ibv_srq *srq = event->element.srq;

		pthread_mutex_lock(&srq->mutex);
		srq->events_completed++;
		pthread_cond_signal(&srq->cond);
		pthread_mutex_unlock(&srq->mutex);
		break;
	}
	default:
		break;
	}
}
EXPORT_1_1(sim_ack_async_event, ibv_ack_async_event);
