// SPDX-License-Identifier: MIT
/* Request dispatch, device queries, and teardown of a departed client. */
#include "hcad.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void reply(struct req *r, int status, const void *p, uint32_t len)
{
	client_send(r->cl, r->h->op, HCA_F_REPLY, r->h->seq, status,
		    status ? NULL : p, status ? 0 : len);
}

static void h_hello(struct req *r)
{
	const struct hca_hello_req *q = (const void *)r->p;
	struct hca_dev_info info;

	if (q->magic != HCA_PROTO_MAGIC) {
		reply(r, EPROTO, NULL, 0);
		r->cl->dead = true;
		return;
	}
	if (r->h->flags & HCA_F_FD) {
		int fd = client_take_fd(r->cl);

		if (fd >= 0) {
			if (r->cl->async_fd >= 0)
				close(r->cl->async_fd);
			fcntl(fd, F_SETFL, O_NONBLOCK);
			r->cl->async_fd = fd;
		}
	}
	device_info(&info);
	reply(r, 0, &info, sizeof(info));
}

static void h_query_device(struct req *r)
{
	struct ibv_device_attr_ex a;

	device_attr(&a);
	reply(r, 0, &a, sizeof(a));
}

static void h_query_port(struct req *r)
{
	const struct hca_query_port_req *q = (const void *)r->p;
	struct ibv_port_attr a;

	if (q->port != HCA_PORT_NUM) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	device_port_attr(&a);
	reply(r, 0, &a, sizeof(a));
}

struct handler {
	void (*fn)(struct req *r);
	uint32_t min_len;
};

static const struct handler handlers[HCA_OP_MAX] = {
	[HCA_OP_HELLO] = { h_hello, sizeof(struct hca_hello_req) },
	[HCA_OP_QUERY_DEVICE] = { h_query_device, 0 },
	[HCA_OP_QUERY_PORT] = { h_query_port,
				sizeof(struct hca_query_port_req) },
	[HCA_OP_ALLOC_PD] = { h_alloc_pd, 0 },
	[HCA_OP_DEALLOC_PD] = { h_dealloc_pd, sizeof(struct hca_handle_msg) },
	[HCA_OP_REG_MR] = { h_reg_mr, sizeof(struct hca_reg_mr_req) },
	[HCA_OP_REREG_MR] = { h_rereg_mr, sizeof(struct hca_rereg_mr_req) },
	[HCA_OP_DEREG_MR] = { h_dereg_mr, sizeof(struct hca_handle_msg) },
	[HCA_OP_CREATE_CHANNEL] = { h_create_channel, 0 },
	[HCA_OP_DESTROY_CHANNEL] = { h_destroy_channel,
				     sizeof(struct hca_handle_msg) },
	[HCA_OP_CREATE_CQ] = { h_create_cq, sizeof(struct hca_create_cq_req) },
	[HCA_OP_RESIZE_CQ] = { h_resize_cq, sizeof(struct hca_handle_msg) },
	[HCA_OP_DESTROY_CQ] = { h_destroy_cq, sizeof(struct hca_handle_msg) },
	[HCA_OP_REQ_NOTIFY] = { h_req_notify, sizeof(struct hca_handle_msg) },
	[HCA_OP_CREATE_SRQ] = { h_create_srq,
				sizeof(struct hca_create_srq_req) },
	[HCA_OP_MODIFY_SRQ] = { h_modify_srq,
				sizeof(struct hca_modify_srq_req) },
	[HCA_OP_QUERY_SRQ] = { h_query_srq, sizeof(struct hca_handle_msg) },
	[HCA_OP_DESTROY_SRQ] = { h_destroy_srq,
				 sizeof(struct hca_handle_msg) },
	[HCA_OP_CREATE_QP] = { h_create_qp, sizeof(struct hca_create_qp_req) },
	[HCA_OP_MODIFY_QP] = { h_modify_qp, sizeof(struct hca_modify_qp_req) },
	[HCA_OP_QUERY_QP] = { h_query_qp, sizeof(struct hca_handle_msg) },
	[HCA_OP_DESTROY_QP] = { h_destroy_qp, sizeof(struct hca_handle_msg) },
	[HCA_OP_CREATE_AH] = { h_create_ah, sizeof(struct hca_create_ah_req) },
	[HCA_OP_DESTROY_AH] = { h_destroy_ah, sizeof(struct hca_handle_msg) },
	[HCA_OP_POST_SEND] = { h_post_send, sizeof(struct hca_post_hdr) },
	[HCA_OP_POST_RECV] = { h_post_recv, sizeof(struct hca_post_hdr) },
	[HCA_OP_POST_SRQ_RECV] = { h_post_srq_recv,
				   sizeof(struct hca_post_hdr) },
};

void dispatch(struct client *cl, const struct hca_hdr *h, const uint8_t *p)
{
	struct req r = { .cl = cl, .h = h, .p = p };
	const struct handler *hd;

	if (h->op >= HCA_OP_MAX || !handlers[h->op].fn ||
	    (h->flags & HCA_F_REPLY)) {
		hlog("client %u: bad op %u", cl->id, h->op);
		cl->dead = true;
		return;
	}
	hd = &handlers[h->op];
	if (h->len < hd->min_len) {
		hlog("client %u: short message for op %u", cl->id, h->op);
		cl->dead = true;
		return;
	}
	hd->fn(&r);
}

static void release_type(struct client *cl, enum obj_type type)
{
	for (uint32_t h = 1; h < cl->nobjs; h++) {
		struct obj *o = cl->objs[h];

		if (!o || o->type != type)
			continue;
		switch (type) {
		case OBJ_QP:
			qp_free((struct qp *)o);
			break;
		case OBJ_AH:
			ah_free((struct ah *)o);
			break;
		case OBJ_SRQ:
			srq_free((struct srq *)o);
			break;
		case OBJ_MR:
			mr_free((struct mr *)o);
			break;
		case OBJ_CQ:
			cq_free((struct cq *)o);
			break;
		case OBJ_CHAN:
			chan_free((struct chan *)o);
			break;
		case OBJ_PD:
			pd_free((struct pd *)o);
			break;
		}
	}
}

void client_release_objects(struct client *cl)
{
	static const enum obj_type order[] = {
		OBJ_QP, OBJ_AH, OBJ_SRQ, OBJ_MR, OBJ_CQ, OBJ_CHAN, OBJ_PD,
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		release_type(cl, order[i]);
}
