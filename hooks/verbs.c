/*
 * Verbs hooks, devices and contexts: ibv_get_device_list, the device
 * helpers, ibv_open_device / ibv_close_device, the port / GID / P_Key
 * queries (LIDs and GIDs stay virtual: the values the program first saw)
 * and asynchronous events.  The program's context is a shadow whose ops
 * point to the shim (preload/verbs_fast.c).
 */
#include "verbs_hook.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct vb_ctx *ctx_of_dev(struct ibv_device *d)
{
	struct vb_ctx *c;

	if (!d || !vb_in_arena(d))
		return NULL;
	c = VB_CONTAINER(d, struct vb_ctx, dev);
	return vb_in_arena(c) && c->h.magic == VB_MAGIC + VB_CTX ? c : NULL;
}

CRS_EXPORT struct ibv_device **ibv_get_device_list(int *num)
{
	get_device_list_fn real = VB_REAL(VBF_GET_DEVICE_LIST, get_device_list_fn);
	struct ibv_device **r;
	int s, g;

	if (!real)
		VB_NOSYS_PTR();
	if (!vb_on())
		return real(num);
	/* it opens the device briefly: not while a checkpoint is taken */
	s = vb_enter();
	g = vb_quiet();
	r = real(num);
	vb_loud(g);
	vb_leave(s);
	return r;
}

CRS_EXPORT const char *ibv_get_device_name(struct ibv_device *device)
{
	get_device_name_fn real = VB_REAL(VBF_GET_DEVICE_NAME, get_device_name_fn);
	struct vb_ctx *c = ctx_of_dev(device);

	if (c)
		return c->dev.name;
	if (!real)
		VB_NOSYS_PTR();
	return real(device);
}

CRS_EXPORT __be64 ibv_get_device_guid(struct ibv_device *device)
{
	get_device_guid_fn real = VB_REAL(VBF_GET_DEVICE_GUID, get_device_guid_fn);
	struct vb_ctx *c = ctx_of_dev(device);

	if (c)
		return c->guid;
	return real ? real(device) : 0;
}

CRS_EXPORT int ibv_get_device_index(struct ibv_device *device)
{
	get_device_index_fn real = VB_REAL(VBF_GET_DEVICE_INDEX, get_device_index_fn);
	struct vb_ctx *c = ctx_of_dev(device);

	if (c) {
		int i = 0;

		/* the index of the first device of that name now */
		for (; i < VB_MAX_DEVS && strcmp(vb_devs[i].name, c->dev.name); i++)
			;
		return i < VB_MAX_DEVS ? i : -1;
	}
	return real ? real(device) : -1;
}

/* The real device called name, from a fresh list (NULL if absent). */
struct ibv_context *vb_open_by_name(const char *name, char *err, size_t errlen)
{
	get_device_list_fn list = VB_REAL(VBF_GET_DEVICE_LIST, get_device_list_fn);
	free_device_list_fn free_list = VB_REAL(VBF_FREE_DEVICE_LIST, free_device_list_fn);
	open_device_fn open_dev = VB_REAL(VBF_OPEN_DEVICE, open_device_fn);
	struct ibv_device **devs;
	struct ibv_context *ctx = NULL;
	char seen[256] = "";
	int n = 0, found = 0;

	if (!list || !free_list || !open_dev) {
		snprintf(err, errlen, "libibverbs is not loaded");
		return NULL;
	}
	devs = list(&n);
	for (int i = 0; devs && i < n; i++) {
		size_t l = strlen(seen);

		snprintf(seen + l, sizeof(seen) - l, "%s%s", l ? ", " : "", devs[i]->name);
		if (strcmp(devs[i]->name, name))
			continue;
		found = 1;
		ctx = open_dev(devs[i]);
		if (!ctx)
			snprintf(err, errlen, "cannot open RDMA device %s: %s", name, strerror(errno));
		break;
	}
	if (devs)
		free_list(devs);
	if (!found)
		snprintf(err, errlen, "RDMA device %s is not present (devices found: %s)", name,
			 seen[0] ? seen : "none");
	return ctx;
}

static int real_query_port(struct ibv_context *real, uint8_t port, struct ibv_port_attr *a, size_t len)
{
	struct verbs_context *v = verbs_get_ctx_op(real, query_port);
	query_port_fn fn;

	if (v)
		return v->query_port(real, port, a, len);
	fn = VB_REAL(VBF_QUERY_PORT, query_port_fn);
	memset(a, 0, len);
	return fn ? fn(real, port, (struct _compat_ibv_port_attr *)a) : ENOSYS;
}

/* Called with vb_lock held. */
void vb_virt_port(struct vb_ctx *c, uint8_t port, struct ibv_port_attr *a)
{
	struct vb_port *p;
	uint16_t lid = a->lid;

	if (port < 1 || port > VB_MAX_PORTS || !c->rec)
		return;
	p = &c->rec->port[port];
	if (!p->known) {
		p->vlid = lid;
		p->known = 1;
	}
	p->lid = lid;
	if (a->sm_lid == lid)
		a->sm_lid = p->vlid;
	a->lid = p->vlid;
}

void vb_virt_gid(struct vb_ctx *c, uint8_t port, int index, union ibv_gid *gid)
{
	struct vb_port *p;

	if (port < 1 || port > VB_MAX_PORTS || index < 0 || index >= VB_MAX_GIDS || !c->rec)
		return;
	p = &c->rec->port[port];
	if (!(p->gid_known & (1u << index))) {
		p->vgid[index] = *gid;
		p->gid_known |= (uint8_t)(1u << index);
	}
	p->gid[index] = *gid;
	*gid = p->vgid[index];
}

int vb_refresh_ports(struct vb_ctx *c)
{
	query_gid_fn qgid = VB_REAL(VBF_QUERY_GID, query_gid_fn);

	for (int port = 1; port <= VB_MAX_PORTS; port++) {
		struct vb_port *p = &c->rec->port[port];
		struct ibv_port_attr a;

		if (p->known && real_query_port(c->real, (uint8_t)port, &a, sizeof(a)) == 0)
			p->lid = a.lid;
		for (int i = 0; i < VB_MAX_GIDS && qgid; i++)
			if (p->gid_known & (1u << i))
				qgid(c->real, (uint8_t)port, i, &p->gid[i]);
	}
	return 0;
}

static int vb_query_port_op(struct ibv_context *context, uint8_t port, struct ibv_port_attr *a, size_t len)
{
	struct vb_ctx *c = vb_ctx_pub(context);
	int s = vb_ctl_enter(), g = vb_quiet();
	struct ibv_port_attr full;
	int r = real_query_port(c->real, port, &full, sizeof(full));

	vb_loud(g);
	if (!r) {
		vb_virt_port(c, port, &full);
		memcpy(a, &full, len < sizeof(full) ? len : sizeof(full));
	}
	vb_ctl_leave(s);
	return r;
}

static int vb_query_device_ex_op(struct ibv_context *context, const struct ibv_query_device_ex_input *input,
				 struct ibv_device_attr_ex *attr, size_t attr_size)
{
	struct vb_ctx *c = vb_ctx_pub(context);
	int s = vb_ctl_enter(), g = vb_quiet();
	struct verbs_context *v = verbs_get_ctx_op(c->real, query_device_ex);
	int r = v ? v->query_device_ex(c->real, input, attr, attr_size) : EOPNOTSUPP;

	vb_loud(g);
	vb_ctl_leave(s);
	return r;
}

/* The shadow takes over a (new) real context: ops, fds, ports. */
void vb_ctx_adopt(struct vb_ctx *c, struct ibv_context *real)
{
	struct ibv_context *pub = &c->vc.context;

	c->real = real;
	if (pub->cmd_fd < 0 && real->cmd_fd >= 0)
		pub->cmd_fd = vb_fd_dup(real->cmd_fd);
	else if (real->cmd_fd >= 0)
		vb_fd_move(real->cmd_fd, pub->cmd_fd);
	if (pub->async_fd < 0 && real->async_fd >= 0)
		pub->async_fd = vb_fd_dup(real->async_fd);
	else if (real->async_fd >= 0)
		vb_fd_move(real->async_fd, pub->async_fd);
	pub->num_comp_vectors = real->num_comp_vectors;
}

static struct vb_ctx *new_ctx(struct ibv_device *dev, struct ibv_context *real)
{
	get_device_guid_fn guid = VB_REAL(VBF_GET_DEVICE_GUID, get_device_guid_fn);
	struct vb_ctx *c = VB_NEW(struct vb_ctx, VB_CTX);
	struct ibv_context *pub;

	if (!c)
		return NULL;
	pub = &c->vc.context;
	c->dev.node_type = dev->node_type;
	c->dev.transport_type = dev->transport_type;
	memcpy(c->dev.name, dev->name, sizeof(c->dev.name));
	memcpy(c->dev.dev_name, dev->dev_name, sizeof(c->dev.dev_name));
	memcpy(c->dev.dev_path, dev->dev_path, sizeof(c->dev.dev_path));
	memcpy(c->dev.ibdev_path, dev->ibdev_path, sizeof(c->dev.ibdev_path));
	c->guid = guid ? guid(dev) : 0;
	c->rec = vb_dev_get(dev->name);
	pub->device = &c->dev;
	pub->cmd_fd = pub->async_fd = -1;
	pthread_mutex_init(&pub->mutex, NULL);
	pub->abi_compat = __VERBS_ABI_IS_EXTENDED;
	c->vc.sz = sizeof(c->vc);
	c->vc.query_port = vb_query_port_op;
	if (verbs_get_ctx_op(real, query_device_ex))
		c->vc.query_device_ex = vb_query_device_ex_op;
	if (verbs_get_ctx_op(real, create_cq_ex))
		c->vc.create_cq_ex = vb_create_cq_ex;
	if (verbs_get_ctx_op(real, create_qp_ex))
		c->vc.create_qp_ex = vb_create_qp_ex;
	vb_set_ops(c);
	vb_ctx_adopt(c, real);
	return c;
}

CRS_EXPORT struct ibv_context *ibv_open_device(struct ibv_device *device)
{
	open_device_fn real = VB_REAL(VBF_OPEN_DEVICE, open_device_fn);
	close_device_fn close_dev = VB_REAL(VBF_CLOSE_DEVICE, close_device_fn);
	struct vb_ctx *from = ctx_of_dev(device), *c;
	struct ibv_context *r;
	char err[256];
	int s, g;

	if (!real)
		VB_NOSYS_PTR();
	if (!vb_on())
		return real(device);
	vb_gate_init();
	s = vb_ctl_enter();
	g = vb_quiet();
	if (from) /* reopened through ctx->device: the device of that name */
		r = vb_open_by_name(from->dev.name, err, sizeof(err));
	else
		r = real(device);
	vb_loud(g);
	if (!r) {
		int e = errno;

		vb_ctl_leave(s);
		errno = e;
		return NULL;
	}
	c = new_ctx(from ? &from->dev : device, r);
	if (!c) {
		g = vb_quiet();
		close_dev(r);
		vb_loud(g);
		vb_ctl_leave(s);
		errno = ENOMEM;
		return NULL;
	}
	vb_ctl_leave(s);
	crs_debug("verbs: opened %s", c->dev.name);
	return &c->vc.context;
}

CRS_EXPORT int ibv_close_device(struct ibv_context *context)
{
	close_device_fn real = VB_REAL(VBF_CLOSE_DEVICE, close_device_fn);
	struct vb_ctx *c = vb_ctx_of(context);
	int s, g, r = 0;

	if (!real)
		return ENOSYS;
	if (!c)
		return real(context);
	s = vb_ctl_enter();
	g = vb_quiet();
	if (c->real)
		r = real(c->real);
	vb_loud(g);
	if (!r) {
		vb_forget_ctx(c);
		vb_fd_close(c->vc.context.cmd_fd);
		vb_fd_close(c->vc.context.async_fd);
		pthread_mutex_destroy(&c->vc.context.mutex);
		VB_DELETE(c);
	}
	vb_ctl_leave(s);
	return r;
}

/* ---- queries ---- */

CRS_EXPORT int ibv_query_device(struct ibv_context *context, struct ibv_device_attr *attr)
{
	query_device_fn real = VB_REAL(VBF_QUERY_DEVICE, query_device_fn);
	struct vb_ctx *c = vb_ctx_of(context);
	int s, g, r;

	if (!real)
		return ENOSYS;
	if (!c)
		return real(context, attr);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(c->real, attr);
	vb_loud(g);
	vb_ctl_leave(s);
	return r;
}

CRS_EXPORT int ibv_query_port(struct ibv_context *context, uint8_t port, struct _compat_ibv_port_attr *attr)
{
	query_port_fn real = VB_REAL(VBF_QUERY_PORT, query_port_fn);
	struct vb_ctx *c = vb_ctx_of(context);
	struct ibv_port_attr full;
	int s, g, r;

	if (!real)
		return ENOSYS;
	if (!c)
		return real(context, port, attr);
	s = vb_ctl_enter();
	g = vb_quiet();
	memset(&full, 0, sizeof(full));
	r = real(c->real, port, (struct _compat_ibv_port_attr *)&full);
	vb_loud(g);
	if (!r) {
		vb_virt_port(c, port, &full);
		memcpy(attr, &full, offsetof(struct ibv_port_attr, port_cap_flags2));
	}
	vb_ctl_leave(s);
	return r;
}

CRS_EXPORT int ibv_query_gid(struct ibv_context *context, uint8_t port, int index, union ibv_gid *gid)
{
	query_gid_fn real = VB_REAL(VBF_QUERY_GID, query_gid_fn);
	struct vb_ctx *c = vb_ctx_of(context);
	int s, g, r;

	if (!real)
		return -1;
	if (!c)
		return real(context, port, index, gid);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(c->real, port, index, gid);
	vb_loud(g);
	if (!r)
		vb_virt_gid(c, port, index, gid);
	{
		int e = errno;

		vb_ctl_leave(s);
		errno = e;
	}
	return r;
}

CRS_EXPORT int _ibv_query_gid_ex(struct ibv_context *context, uint32_t port, uint32_t index,
				 struct ibv_gid_entry *entry, uint32_t flags, size_t entry_size)
{
	query_gid_ex_fn real = VB_REAL(VBF_QUERY_GID_EX, query_gid_ex_fn);
	struct vb_ctx *c = vb_ctx_of(context);
	int s, g, r;

	if (!real)
		return EOPNOTSUPP;
	if (!c)
		return real(context, port, index, entry, flags, entry_size);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(c->real, port, index, entry, flags, entry_size);
	vb_loud(g);
	if (!r && port <= 255)
		vb_virt_gid(c, (uint8_t)port, (int)index, &entry->gid);
	vb_ctl_leave(s);
	return r;
}

CRS_EXPORT ssize_t _ibv_query_gid_table(struct ibv_context *context, struct ibv_gid_entry *entries,
					size_t max_entries, uint32_t flags, size_t entry_size)
{
	query_gid_table_fn real = VB_REAL(VBF_QUERY_GID_TABLE, query_gid_table_fn);
	struct vb_ctx *c = vb_ctx_of(context);
	ssize_t r;
	int s, g;

	if (!real)
		return -EOPNOTSUPP;
	if (!c)
		return real(context, entries, max_entries, flags, entry_size);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(c->real, entries, max_entries, flags, entry_size);
	vb_loud(g);
	for (ssize_t i = 0; i < r; i++) {
		struct ibv_gid_entry *e = (struct ibv_gid_entry *)((char *)entries + (size_t)i * entry_size);

		if (e->port_num <= 255)
			vb_virt_gid(c, (uint8_t)e->port_num, (int)e->gid_index, &e->gid);
	}
	vb_ctl_leave(s);
	return r;
}

CRS_EXPORT int ibv_query_pkey(struct ibv_context *context, uint8_t port, int index, __be16 *pkey)
{
	query_pkey_fn real = VB_REAL(VBF_QUERY_PKEY, query_pkey_fn);
	struct vb_ctx *c = vb_ctx_of(context);
	int s, r;

	if (!real)
		return -1;
	if (!c)
		return real(context, port, index, pkey);
	s = vb_enter();
	r = real(c->real, port, index, pkey);
	vb_leave(s);
	return r;
}

CRS_EXPORT int ibv_get_pkey_index(struct ibv_context *context, uint8_t port, __be16 pkey)
{
	get_pkey_index_fn real = VB_REAL(VBF_GET_PKEY_INDEX, get_pkey_index_fn);
	struct vb_ctx *c = vb_ctx_of(context);
	int s, r;

	if (!real)
		return -1;
	if (!c)
		return real(context, port, pkey);
	s = vb_enter();
	r = real(c->real, port, pkey);
	vb_leave(s);
	return r;
}

CRS_EXPORT int ibv_resolve_eth_l2_from_gid(struct ibv_context *context, struct ibv_ah_attr *attr,
					   uint8_t eth_mac[6], uint16_t *vid)
{
	resolve_eth_l2_fn real = VB_REAL(VBF_RESOLVE_ETH_L2, resolve_eth_l2_fn);
	struct vb_ctx *c = vb_ctx_of(context);
	struct ibv_ah_attr a;
	int s, r;

	if (!real)
		return ENOSYS;
	if (!c)
		return real(context, attr, eth_mac, vid);
	s = vb_ctl_enter();
	a = *attr;
	vb_ah_attr_to_real(&a);
	r = real(c->real, &a, eth_mac, vid);
	vb_ctl_leave(s);
	return r;
}

/* ---- asynchronous events ---- */

/* Real objects carry their shadow in qp_context / cq_context / srq_context. */
static int event_to_shadow(struct ibv_async_event *ev)
{
	switch (ev->event_type) {
	case IBV_EVENT_QP_FATAL:
	case IBV_EVENT_QP_REQ_ERR:
	case IBV_EVENT_QP_ACCESS_ERR:
	case IBV_EVENT_COMM_EST:
	case IBV_EVENT_SQ_DRAINED:
	case IBV_EVENT_PATH_MIG:
	case IBV_EVENT_PATH_MIG_ERR:
	case IBV_EVENT_QP_LAST_WQE_REACHED: {
		struct vb_qp *q = vb_qp_of(ev->element.qp->qp_context);

		if (!q)
			return -1;
		__atomic_fetch_add(&q->aev_got, 1, __ATOMIC_RELAXED);
		ev->element.qp = &q->pub;
		return 0;
	}
	case IBV_EVENT_CQ_ERR: {
		struct vb_cq *q = vb_cq_of(ev->element.cq->cq_context);

		if (!q)
			return -1;
		__atomic_fetch_add(&q->aev_got, 1, __ATOMIC_RELAXED);
		ev->element.cq = vb_cq_pub(q);
		return 0;
	}
	case IBV_EVENT_SRQ_ERR:
	case IBV_EVENT_SRQ_LIMIT_REACHED: {
		struct vb_srq *q = vb_srq_of(ev->element.srq->srq_context);

		if (!q)
			return -1;
		__atomic_fetch_add(&q->aev_got, 1, __ATOMIC_RELAXED);
		ev->element.srq = &q->pub;
		if (ev->event_type == IBV_EVENT_SRQ_LIMIT_REACHED)
			q->attr.srq_limit = 0; /* the limit is disarmed */
		return 0;
	}
	default:
		return 0;
	}
}

CRS_EXPORT int ibv_get_async_event(struct ibv_context *context, struct ibv_async_event *event)
{
	get_async_event_fn real = VB_REAL(VBF_GET_ASYNC_EVENT, get_async_event_fn);
	struct vb_ctx *c = vb_ctx_of(context);

	if (!real)
		return -1;
	if (!c)
		return real(context, event);
	for (;;) {
		int s = vb_enter(), g, r, w = 1;
		int fd = c->real->async_fd;
		long fl = syscall(SYS_fcntl, fd, F_GETFL);

		if (fl >= 0 && !(fl & O_NONBLOCK))
			w = vb_wait_fd(fd);
		if (w == 0) { /* a checkpoint: wait for the new context */
			vb_leave(s);
			continue;
		}
		if (w < 0) {
			int e = errno;

			vb_leave(s);
			errno = e;
			return -1;
		}
		g = vb_quiet();
		r = real(c->real, event);
		vb_loud(g);
		if (!r && event_to_shadow(event) < 0) {
			ack_async_event_fn ack = VB_REAL(VBF_ACK_ASYNC_EVENT, ack_async_event_fn);

			if (ack) /* an object the program no longer has */
				ack(event);
			vb_leave(s);
			continue;
		}
		{
			int e = errno;

			vb_leave(s);
			errno = e;
		}
		return r;
	}
}

static void ack_one(uint32_t *got, uint32_t *acked, void (*real)(struct ibv_async_event *),
		    struct ibv_async_event *ev)
{
	/* events of a real object that was since replaced were acked then */
	if (__atomic_load_n(acked, __ATOMIC_RELAXED) < __atomic_load_n(got, __ATOMIC_RELAXED)) {
		__atomic_fetch_add(acked, 1, __ATOMIC_RELAXED);
		real(ev);
	}
}

CRS_EXPORT void ibv_ack_async_event(struct ibv_async_event *event)
{
	ack_async_event_fn real = VB_REAL(VBF_ACK_ASYNC_EVENT, ack_async_event_fn);
	struct ibv_async_event ev;
	struct vb_qp *qp;
	struct vb_cq *cq;
	struct vb_srq *srq;
	int s;

	if (!real)
		return;
	ev = *event;
	switch (ev.event_type) {
	case IBV_EVENT_CQ_ERR:
		cq = vb_cq_of(ev.element.cq);
		if (!cq)
			break;
		s = vb_enter();
		ev.element.cq = cq->real;
		ack_one(&cq->aev_got, &cq->aev_acked, real, &ev);
		vb_leave(s);
		return;
	case IBV_EVENT_SRQ_ERR:
	case IBV_EVENT_SRQ_LIMIT_REACHED:
		srq = vb_srq_of(ev.element.srq);
		if (!srq)
			break;
		s = vb_enter();
		ev.element.srq = srq->real;
		ack_one(&srq->aev_got, &srq->aev_acked, real, &ev);
		vb_leave(s);
		return;
	case IBV_EVENT_DEVICE_FATAL:
	case IBV_EVENT_PORT_ACTIVE:
	case IBV_EVENT_PORT_ERR:
	case IBV_EVENT_LID_CHANGE:
	case IBV_EVENT_PKEY_CHANGE:
	case IBV_EVENT_SM_CHANGE:
	case IBV_EVENT_CLIENT_REREGISTER:
	case IBV_EVENT_GID_CHANGE:
		break;
	default:
		qp = vb_qp_of(ev.element.qp);
		if (!qp)
			break;
		s = vb_enter();
		ev.element.qp = qp->real;
		ack_one(&qp->aev_got, &qp->aev_acked, real, &ev);
		vb_leave(s);
		return;
	}
	real(event);
}
