// SPDX-License-Identifier: MIT
/* Completion channels and completion queues. */
#include "hcad.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

void h_create_channel(struct req *r)
{
	struct chan *ch;
	int fd = (r->h->flags & HCA_F_FD) ? client_take_fd(r->cl) : -1;

	if (fd < 0) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	ch = calloc(1, sizeof(*ch));
	if (!ch || obj_insert(r->cl, &ch->o, OBJ_CHAN)) {
		free(ch);
		close(fd);
		reply(r, ENOMEM, NULL, 0);
		return;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	ch->fd = fd;
	reply(r, 0, &(struct hca_handle_msg){ .handle = ch->o.handle },
	      sizeof(struct hca_handle_msg));
}

void chan_free(struct chan *ch)
{
	struct client *cl = ch->o.cl;
	size_t j = 0;

	for (size_t i = 0; i < cl->npev; i++)
		if (cl->pev[i].chan != ch->o.handle)
			cl->pev[j++] = cl->pev[i];
	cl->npev = j;
	close(ch->fd);
	obj_remove(&ch->o);
	free(ch);
}

void h_destroy_channel(struct req *r)
{
	const struct hca_handle_msg *q = (const void *)r->p;
	struct chan *ch = (struct chan *)obj_get(r->cl, q->handle, OBJ_CHAN);

	if (!ch) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	if (ch->refs) {
		reply(r, EBUSY, NULL, 0);
		return;
	}
	chan_free(ch);
	reply(r, 0, NULL, 0);
}

void h_create_cq(struct req *r)
{
	const struct hca_create_cq_req *q = (const void *)r->p;
	struct chan *ch = NULL;
	struct hca_handle_msg rep;
	struct cq *cq;

	if (q->channel) {
		ch = (struct chan *)obj_get(r->cl, q->channel, OBJ_CHAN);
		if (!ch) {
			reply(r, EINVAL, NULL, 0);
			return;
		}
	}
	if (!q->cqe || q->cqe > HCA_MAX_CQE || q->comp_vector >= 1) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	cq = calloc(1, sizeof(*cq));
	if (!cq || obj_insert(r->cl, &cq->o, OBJ_CQ)) {
		free(cq);
		reply(r, ENOMEM, NULL, 0);
		return;
	}
	cq->chan = ch;
	cq->cqe = q->cqe;
	if (ch)
		ch->refs++;
	rep.handle = cq->o.handle;
	rep.arg = cq->cqe;
	reply(r, 0, &rep, sizeof(rep));
}

void h_resize_cq(struct req *r)
{
	const struct hca_handle_msg *q = (const void *)r->p;
	struct cq *cq = (struct cq *)obj_get(r->cl, q->handle, OBJ_CQ);

	if (!cq || !q->arg || q->arg > HCA_MAX_CQE) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	cq->cqe = q->arg;
	reply(r, 0, &(struct hca_handle_msg){ .handle = q->handle,
					      .arg = cq->cqe },
	      sizeof(struct hca_handle_msg));
}

void cq_free(struct cq *cq)
{
	struct client *cl = cq->o.cl;
	size_t j = 0;

	for (size_t i = 0; i < cl->npev; i++)
		if (cl->pev[i].cq != cq->o.handle)
			cl->pev[j++] = cl->pev[i];
	cl->npev = j;
	if (cq->chan)
		cq->chan->refs--;
	obj_remove(&cq->o);
	free(cq);
}

void h_destroy_cq(struct req *r)
{
	const struct hca_handle_msg *q = (const void *)r->p;
	struct cq *cq = (struct cq *)obj_get(r->cl, q->handle, OBJ_CQ);

	if (!cq) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	if (cq->refs) {
		reply(r, EBUSY, NULL, 0);
		return;
	}
	cq_free(cq);
	reply(r, 0, NULL, 0);
}

void h_req_notify(struct req *r)
{
	const struct hca_handle_msg *q = (const void *)r->p;
	struct cq *cq = (struct cq *)obj_get(r->cl, q->handle, OBJ_CQ);

	if (!cq) {
		reply(r, EINVAL, NULL, 0);
		return;
	}
	if (!q->arg)
		cq->armed = 1;
	else if (!cq->armed)
		cq->armed = 2;
	reply(r, 0, NULL, 0);
}
