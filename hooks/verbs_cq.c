/*
 * Verbs hooks, completion channels, completion queues and CQ events.  A
 * real CQ is created with its shadow as cq_context, so the real
 * ibv_get_cq_event names the shadow directly.  A channel's fd as the
 * program sees it is a shim-owned dup of the real one, so its number
 * survives a rebuild; synthetic events (completions drained at a
 * checkpoint on an armed CQ) are delivered first after one.
 */
#include "verbs_hook.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

CRS_EXPORT struct ibv_comp_channel *ibv_create_comp_channel(struct ibv_context *context)
{
	create_comp_channel_fn real = VB_REAL(VBF_CREATE_COMP_CHANNEL, create_comp_channel_fn);
	destroy_comp_channel_fn undo = VB_REAL(VBF_DESTROY_COMP_CHANNEL, destroy_comp_channel_fn);
	struct vb_ctx *c = vb_ctx_of(context);
	struct ibv_comp_channel *r;
	struct vb_ch *ch = NULL;
	int s, g, e;

	if (!real)
		VB_NOSYS_PTR();
	if (!c)
		return real(context);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(c->real);
	e = errno;
	if (r && (!(ch = VB_NEW(struct vb_ch, VB_CH)) || (ch->pub.fd = vb_fd_dup(r->fd)) < 0)) {
		e = ch ? errno : ENOMEM;
		if (ch)
			VB_DELETE(ch);
		undo(r);
		r = NULL;
	}
	vb_loud(g);
	if (r) {
		ch->ctx = c;
		ch->real = r;
		ch->syn_fd = -1;
		ch->pub.context = &c->vc.context;
	}
	vb_ctl_leave(s);
	errno = e;
	return r ? &ch->pub : NULL;
}

CRS_EXPORT int ibv_destroy_comp_channel(struct ibv_comp_channel *channel)
{
	destroy_comp_channel_fn real = VB_REAL(VBF_DESTROY_COMP_CHANNEL, destroy_comp_channel_fn);
	struct vb_ch *ch = vb_ch_of(channel);
	int s, g, r;

	if (!real)
		return ENOSYS;
	if (!ch)
		return real(channel);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(ch->real);
	vb_loud(g);
	if (!r) {
		vb_fd_close(ch->pub.fd);
		vb_fd_close(ch->syn_fd);
		VB_DELETE(ch);
	}
	vb_ctl_leave(s);
	return r;
}

/* Create the real CQ of c (creation and rebuild; vb_lock held). */
int vb_cq_make(struct vb_cq *q)
{
	create_cq_fn real = VB_REAL(VBF_CREATE_CQ, create_cq_fn);
	struct ibv_cq *r;

	if (q->ex) {
		if (vb_cqex_make(q) < 0)
			return -1;
		r = q->real;
	} else {
		r = real(q->ctx->real, q->cqe, q, q->ch ? q->ch->real : NULL, q->comp_vector);
	}
	if (!r)
		return -1;
	q->real = r;
	q->r_poll = q->ctx->real->ops.poll_cq;
	q->r_notify = q->ctx->real->ops.req_notify_cq;
	q->pub.handle = r->handle;
	q->pub.cqe = r->cqe;
	q->ev_got = q->ev_acked = 0;
	q->aev_got = q->aev_acked = 0;
	return 0;
}

CRS_EXPORT struct ibv_cq *ibv_create_cq(struct ibv_context *context, int cqe, void *cq_context,
				       struct ibv_comp_channel *channel, int comp_vector)
{
	create_cq_fn real = VB_REAL(VBF_CREATE_CQ, create_cq_fn);
	struct vb_ctx *c = vb_ctx_of(context);
	struct vb_ch *ch = vb_ch_of(channel);
	struct vb_cq *q;
	int s, g, e = 0;

	if (!real)
		VB_NOSYS_PTR();
	if (!c)
		return real(context, cqe, cq_context, channel, comp_vector);
	if (channel && !ch) {
		errno = EINVAL;
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
	q->cqe = cqe;
	q->comp_vector = comp_vector;
	g = vb_quiet();
	if (vb_cq_make(q) < 0) {
		e = errno;
		VB_DELETE(q);
		q = NULL;
	}
	vb_loud(g);
	if (q) {
		q->pub.context = &c->vc.context;
		q->pub.channel = channel;
		q->pub.cq_context = cq_context;
		pthread_mutex_init(&q->pub.mutex, NULL);
		pthread_cond_init(&q->pub.cond, NULL);
	}
	vb_ctl_leave(s);
	errno = e;
	return q ? vb_cq_pub(q) : NULL;
}

CRS_EXPORT int ibv_resize_cq(struct ibv_cq *cq, int cqe)
{
	resize_cq_fn real = VB_REAL(VBF_RESIZE_CQ, resize_cq_fn);
	struct vb_cq *q = vb_cq_of(cq);
	int s, g, r;

	if (!real)
		return ENOSYS;
	if (!q)
		return real(cq, cqe);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(q->real, cqe);
	vb_loud(g);
	if (!r) {
		q->cqe = cqe;
		q->pub.cqe = q->real->cqe;
	}
	vb_ctl_leave(s);
	return r;
}

CRS_EXPORT int ibv_destroy_cq(struct ibv_cq *cq)
{
	destroy_cq_fn real = VB_REAL(VBF_DESTROY_CQ, destroy_cq_fn);
	struct vb_cq *q = vb_cq_of(cq);
	int s, g, r;

	if (!real)
		return ENOSYS;
	if (!q)
		return real(cq);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(q->real);
	vb_loud(g);
	if (!r) {
		if (q->ch && q->syn) {
			q->ch->syn_n -= q->syn;
			q->syn = 0;
		}
		vb_free(q->stash, q->stash_cap * sizeof(struct vb_wcx));
		pthread_mutex_destroy(&q->pub.mutex);
		pthread_cond_destroy(&q->pub.cond);
		VB_DELETE(q);
	}
	vb_ctl_leave(s);
	return r;
}

/* ---- events ---- */

/* The real channel fd stands at the program's number again. */
void vb_ch_unsynth(struct vb_ch *ch)
{
	if (ch->syn_fd < 0)
		return;
	if (ch->real)
		vb_fd_move(ch->real->fd, ch->pub.fd);
	vb_fd_close(ch->syn_fd);
	ch->syn_fd = -1;
}

/* After a rebuild, channels with synthetic events show a readable fd. */
void vb_ch_synth(struct vb_ch *ch)
{
	int fd;

	if (ch->syn_n <= 0 || ch->syn_fd >= 0)
		return;
	fd = (int)syscall(SYS_eventfd2, 1, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return;
	if (fd < 1000) { /* not in the program's way */
		int hi = vb_fd_dup(fd);

		if (hi >= 0) {
			vb_fd_close(fd);
			fd = hi;
		}
	}
	ch->syn_fd = fd;
	vb_fd_move(fd, ch->pub.fd);
}

static struct vb_cq *take_synthetic(struct vb_ch *ch)
{
	struct vb_cq *q, *found = NULL;

	pthread_mutex_lock(&vb_lock);
	vb_for_each(q, VB_CQ, struct vb_cq) {
		if (q->ch == ch && q->syn > 0) {
			found = q;
			break;
		}
	}
	if (found) {
		found->syn--;
		found->armed = 0;
	}
	if (!found || --ch->syn_n <= 0) {
		ch->syn_n = 0;
		vb_ch_unsynth(ch);
	}
	pthread_mutex_unlock(&vb_lock);
	return found;
}

CRS_EXPORT int ibv_get_cq_event(struct ibv_comp_channel *channel, struct ibv_cq **cq, void **cq_context)
{
	get_cq_event_fn real = VB_REAL(VBF_GET_CQ_EVENT, get_cq_event_fn);
	struct vb_ch *ch = vb_ch_of(channel);

	if (!real)
		return -1;
	if (!ch)
		return real(channel, cq, cq_context);
	for (;;) {
		int s = vb_enter(), g, r, w = 1, e;
		struct ibv_cq *rcq = NULL;
		void *rctx = NULL;
		struct vb_cq *q;
		long fl;

		if (VB_UNLIKELY(__atomic_load_n(&ch->syn_n, __ATOMIC_ACQUIRE) > 0)) {
			q = take_synthetic(ch);
			if (q) {
				*cq = vb_cq_pub(q);
				*cq_context = q->pub.cq_context;
				vb_leave(s);
				return 0;
			}
		}
		fl = syscall(SYS_fcntl, ch->real->fd, F_GETFL);
		if (fl >= 0 && !(fl & O_NONBLOCK))
			w = vb_wait_fd(ch->real->fd);
		if (w == 0) { /* a checkpoint: wait for the rebuilt channel */
			vb_leave(s);
			continue;
		}
		if (w < 0) {
			e = errno;
			vb_leave(s);
			errno = e;
			return -1;
		}
		g = vb_quiet();
		r = real(ch->real, &rcq, &rctx);
		vb_loud(g);
		e = errno;
		q = r ? NULL : vb_cq_of(rctx);
		if (q) {
			__atomic_fetch_add(&q->ev_got, 1, __ATOMIC_RELAXED);
			q->armed = 0;
			*cq = vb_cq_pub(q);
			*cq_context = q->pub.cq_context;
		} else if (!r) {
			*cq = rcq;
			*cq_context = rctx;
		}
		vb_leave(s);
		errno = e;
		return r;
	}
}

CRS_EXPORT void ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
	ack_cq_events_fn real = VB_REAL(VBF_ACK_CQ_EVENTS, ack_cq_events_fn);
	struct vb_cq *q = vb_cq_of(cq);
	uint32_t open_events, k;
	int s;

	if (!real)
		return;
	if (!q) {
		real(cq, nevents);
		return;
	}
	s = vb_enter();
	/* synthetic events and events of a replaced real CQ were acked */
	open_events = __atomic_load_n(&q->ev_got, __ATOMIC_RELAXED) - __atomic_load_n(&q->ev_acked, __ATOMIC_RELAXED);
	k = nevents < open_events ? nevents : open_events;
	if (k) {
		__atomic_fetch_add(&q->ev_acked, k, __ATOMIC_RELAXED);
		real(q->real, k);
	}
	pthread_mutex_lock(&q->pub.mutex);
	q->pub.comp_events_completed += nevents;
	pthread_mutex_unlock(&q->pub.mutex);
	vb_leave(s);
}
