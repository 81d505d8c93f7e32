/*
 * Before a checkpoint.  Quiesce: close the gate (no verbs call runs or
 * starts), then poll every CQ into its stash until each QP's signalled
 * sends have completed.  Release: collect the last completions and pending
 * CQ events, then destroy every real object and close every device
 * context; the fds the program sees keep their numbers (parked on
 * /dev/null), so CRIU finds nothing of the device in the process.
 */
#include "verbs_hook.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define GATE_TIMEOUT_MS 10000
#define DRAIN_TIMEOUT_MS 5000

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Everything the real CQs hold goes to the stashes; returns how many. */
static int poll_all(void)
{
	struct ibv_wc wc[64];
	struct vb_cq *c;
	int total = 0;

	vb_for_each(c, VB_CQ, struct vb_cq) {
		int n;

		if (!c->real)
			continue;
		if (c->ex) {
			total += vb_cqex_drain(c);
			continue;
		}
		while ((n = c->r_poll(c->real, 64, wc)) > 0) {
			for (int i = 0; i < n; i++) {
				struct vb_wcx w = { .wc = wc[i] };

				vb_account(&w.wc);
				if (vb_stash_push(c, &w, 1) < 0)
					crs_error("verbs: out of memory keeping a completion");
			}
			total += n;
		}
	}
	return total;
}

/* A reply from every device comes after the completions made before it. */
static void round_trip(void)
{
	query_device_fn q = VB_REAL(VBF_QUERY_DEVICE, query_device_fn);
	struct ibv_device_attr a;
	struct vb_ctx *c;

	vb_for_each(c, VB_CTX, struct vb_ctx)
		if (c->real && q)
			q(c->real, &a);
}

static struct vb_qp *undrained(void)
{
	struct vb_qp *q;

	vb_for_each(q, VB_QP, struct vb_qp) {
		if (!q->real || q->errored)
			continue;
		if (q->pub.state != IBV_QPS_RTS && q->pub.state != IBV_QPS_SQD)
			continue;
		if (__atomic_load_n(&q->sig_posted, __ATOMIC_RELAXED) != __atomic_load_n(&q->sig_done, __ATOMIC_RELAXED))
			return q;
	}
	return NULL;
}

static int drain(char *err, size_t errlen)
{
	double deadline = now_ms() + DRAIN_TIMEOUT_MS;
	struct vb_qp *q;

	for (;;) {
		int n = poll_all();

		if (!(q = undrained()))
			break;
		if (now_ms() > deadline) {
			snprintf(err, errlen,
				 "verbs: QP 0x%06x still has %llu signalled sends in flight after %d s (its peer "
				 "does not receive: is it checkpointed at the same time?)",
				 q->pub.qp_num, (unsigned long long)(q->sig_posted - q->sig_done),
				 DRAIN_TIMEOUT_MS / 1000);
			return -1;
		}
		if (!n) {
			struct timespec ts = { 0, 200 * 1000 };

			round_trip();
			nanosleep(&ts, NULL);
		}
	}
	round_trip();
	poll_all();
	return 0;
}

int vb_quiesce(char *err, size_t errlen)
{
	if (vb_state != VB_RUNNING)
		return 0;
	if (vb_gate_close(GATE_TIMEOUT_MS) < 0) {
		snprintf(err, errlen, "verbs: a verbs call of the program did not return within %d s",
			 GATE_TIMEOUT_MS / 1000);
		return -1;
	}
	pthread_mutex_lock(&vb_lock);
	if (drain(err, errlen) < 0) {
		pthread_mutex_unlock(&vb_lock);
		vb_gate_open();
		return -1;
	}
	vb_state = VB_QUIESCED;
	pthread_mutex_unlock(&vb_lock);
	return 0;
}

static int readable(int fd)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	return poll(&pf, 1, 0) > 0 && (pf.revents & POLLIN);
}

/* CQ events the device raised and the program did not take yet, and
 * armed CQs whose completions went to the stash: delivered after the
 * rebuild. */
static void keep_events(void)
{
	get_cq_event_fn get = VB_REAL(VBF_GET_CQ_EVENT, get_cq_event_fn);
	ack_cq_events_fn ack = VB_REAL(VBF_ACK_CQ_EVENTS, ack_cq_events_fn);
	struct vb_ch *ch;
	struct vb_cq *c;

	vb_for_each(ch, VB_CH, struct vb_ch) {
		struct ibv_cq *rcq;
		void *rctx;

		while (ch->real && readable(ch->real->fd) && get(ch->real, &rcq, &rctx) == 0) {
			struct vb_cq *q = vb_cq_of(rctx);

			ack(rcq, 1);
			crs_debug("verbs: pending CQ event kept (stash %u)", q ? q->stash_n : 0);
			if (q && !q->syn) {
				q->syn = 1;
				ch->syn_n++;
			}
		}
	}
	vb_for_each(c, VB_CQ, struct vb_cq) {
		uint32_t open_events = c->ev_got - c->ev_acked;

		if (c->real && open_events)
			ack(c->real, open_events);
		c->ev_got = c->ev_acked = 0;
		crs_debug("verbs: CQ armed %d, %u stashed, %d synthetic events", c->armed, c->stash_n, c->syn);
		if (c->ch && c->armed && c->stash_n && !c->syn) {
			c->syn = 1;
			c->ch->syn_n++;
		}
	}
}

/* Async events the program took and did not ack are acked on the real
 * objects (destroy waits for them); pending ones are dropped. */
static void ack_async(void)
{
	ack_async_event_fn ack = VB_REAL(VBF_ACK_ASYNC_EVENT, ack_async_event_fn);
	get_async_event_fn get = VB_REAL(VBF_GET_ASYNC_EVENT, get_async_event_fn);
	struct vb_ctx *c;
	struct vb_qp *q;
	struct vb_cq *cq;
	struct vb_srq *s;

	vb_for_each(q, VB_QP, struct vb_qp)
		for (; q->real && q->aev_acked < q->aev_got; q->aev_acked++) {
			struct ibv_async_event ev = { .element.qp = q->real, .event_type = IBV_EVENT_QP_FATAL };

			ack(&ev);
		}
	vb_for_each(cq, VB_CQ, struct vb_cq)
		for (; cq->real && cq->aev_acked < cq->aev_got; cq->aev_acked++) {
			struct ibv_async_event ev = { .element.cq = cq->real, .event_type = IBV_EVENT_CQ_ERR };

			ack(&ev);
		}
	vb_for_each(s, VB_SRQ, struct vb_srq)
		for (; s->real && s->aev_acked < s->aev_got; s->aev_acked++) {
			struct ibv_async_event ev = { .element.srq = s->real, .event_type = IBV_EVENT_SRQ_ERR };

			ack(&ev);
		}
	vb_for_each(c, VB_CTX, struct vb_ctx) {
		struct ibv_async_event ev;

		while (c->real && readable(c->real->async_fd) && get(c->real, &ev) == 0) {
			crs_info("verbs: async event %d dropped at checkpoint", (int)ev.event_type);
			ack(&ev);
		}
	}
}

static void save_qp_states(void)
{
	query_qp_fn query = VB_REAL(VBF_QUERY_QP, query_qp_fn);
	struct vb_qp *q;

	vb_for_each(q, VB_QP, struct vb_qp) {
		struct ibv_qp_attr a;
		struct ibv_qp_init_attr ia;

		q->real_state = q->pub.state;
		if (q->real && query(q->real, &a, IBV_QP_STATE, &ia) == 0)
			q->real_state = a.qp_state;
		if (q->real_state == IBV_QPS_SQE)
			q->real_state = IBV_QPS_RTS;
	}
}

#define DESTROY(kind, type, fn_id, fn_type, what)                                          \
	do {                                                                               \
		fn_type fn__ = VB_REAL(fn_id, fn_type);                                    \
		type *o__;                                                                 \
		vb_for_each(o__, kind, type) {                                             \
			int r__ = o__->real ? fn__(o__->real) : 0;                         \
			if (r__)                                                           \
				crs_warn("verbs: cannot destroy a " what ": %s", strerror(r__)); \
			o__->real = NULL;                                                  \
		}                                                                          \
	} while (0)

void vb_destroy_all(void)
{
	close_device_fn close_dev = VB_REAL(VBF_CLOSE_DEVICE, close_device_fn);
	struct vb_ch *ch;
	struct vb_ctx *c;

	DESTROY(VB_AH, struct vb_ah, VBF_DESTROY_AH, destroy_ah_fn, "address handle");
	DESTROY(VB_QP, struct vb_qp, VBF_DESTROY_QP, destroy_qp_fn, "queue pair");
	DESTROY(VB_SRQ, struct vb_srq, VBF_DESTROY_SRQ, destroy_srq_fn, "shared receive queue");
	DESTROY(VB_CQ, struct vb_cq, VBF_DESTROY_CQ, destroy_cq_fn, "completion queue");
	DESTROY(VB_MR, struct vb_mr, VBF_DEREG_MR, dereg_mr_fn, "memory region");
	DESTROY(VB_PD, struct vb_pd, VBF_DEALLOC_PD, dealloc_pd_fn, "protection domain");
	DESTROY(VB_CH, struct vb_ch, VBF_DESTROY_COMP_CHANNEL, destroy_comp_channel_fn, "completion channel");
	vb_for_each(ch, VB_CH, struct vb_ch) {
		vb_ch_unsynth(ch);
		vb_fd_park(ch->pub.fd);
	}
	vb_for_each(c, VB_CTX, struct vb_ctx) {
		if (c->real && close_dev(c->real))
			crs_warn("verbs: cannot close %s", c->dev.name);
		c->real = NULL;
		if (c->vc.context.cmd_fd >= 0)
			vb_fd_park(c->vc.context.cmd_fd);
		if (c->vc.context.async_fd >= 0)
			vb_fd_park(c->vc.context.async_fd);
	}
	/* real QP numbers are gone: the rebuild enters the new ones */
	vb_map_reset(&vb_qp_real);
	vb_map_reclaim();
}

static int refuse(char *err, size_t errlen)
{
	struct vb_mr *m;

	vb_for_each(m, VB_MR, struct vb_mr) {
		if (m->nocr) {
			snprintf(err, errlen,
				 "verbs: the memory region at %p (%zu bytes) was registered from a dmabuf, which "
				 "cannot be registered again after a restore",
				 m->pub.addr, m->pub.length);
			return -1;
		}
	}
	return 0;
}

int vb_release(char *err, size_t errlen)
{
	int g;

	if (vb_state != VB_QUIESCED)
		return 0;
	pthread_mutex_lock(&vb_lock);
	if (refuse(err, errlen) < 0) {
		pthread_mutex_unlock(&vb_lock);
		return -1;
	}
	g = vb_quiet();
	round_trip();
	poll_all();
	keep_events();
	ack_async();
	save_qp_states();
	vb_destroy_all();
	vb_loud(g);
	vb_state = VB_RELEASED;
	pthread_mutex_unlock(&vb_lock);
	crs_info("verbs: released %d contexts, %d QPs, %d MRs", vb_count(VB_CTX), vb_count(VB_QP),
		 vb_count(VB_MR));
	return 0;
}
