// SPDX-License-Identifier: MIT
/*
 * Device discovery, open/close, and device/port/GID/P_Key queries.  The one
 * device exists while crs-hcad answers on $CRS_HCA_SOCKET; opening it makes
 * one connection, closing it leaves no descriptor behind.
 */
#include "internal.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#undef ibv_query_port
#undef ibv_get_device_list

struct hca_device {
	struct ibv_device dev;
	struct hca_dev_info info;
};

static struct hca_device the_dev;
static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;

static void fill_device(const struct hca_dev_info *info)
{
	struct ibv_device *d = &the_dev.dev;

	the_dev.info = *info;
	d->node_type = IBV_NODE_CA;
	d->transport_type = IBV_TRANSPORT_IB;
	snprintf(d->name, sizeof(d->name), "%s", info->name);
	snprintf(d->dev_name, sizeof(d->dev_name), "uverbs0");
	snprintf(d->dev_path, sizeof(d->dev_path),
		 "%s/class/infiniband_verbs/uverbs0", hca_sysfs_root());
	snprintf(d->ibdev_path, sizeof(d->ibdev_path),
		 "%s/class/infiniband/%s", hca_sysfs_root(), info->name);
}

struct ibv_device **sim_get_device_list(int *num)
{
	struct ibv_device **list = calloc(2, sizeof(*list));
	struct hca_dev_info info;
	int fd, n = 0;

	if (!list) {
		errno = ENOMEM;
		return NULL;
	}
	fd = hca_connect();
	if (fd >= 0) {
		if (!hca_hello(fd, -1, &info)) {
			pthread_mutex_lock(&dev_lock);
			fill_device(&info);
			pthread_mutex_unlock(&dev_lock);
			list[n++] = &the_dev.dev;
		}
		close(fd);
	}
	if (num)
		*num = n;
	return list;
}
EXPORT_1_1(sim_get_device_list, ibv_get_device_list);

void sim_free_device_list(struct ibv_device **list)
{
	free(list);
}
EXPORT_1_1(sim_free_device_list, ibv_free_device_list);

const char *sim_get_device_name(struct ibv_device *device)
{
	return device->name;
}
EXPORT_1_1(sim_get_device_name, ibv_get_device_name);

__be64 sim_get_device_guid(struct ibv_device *device)
{
	struct hca_device *d = container_of(device, struct hca_device, dev);

	return htobe64(d->info.node_guid);
}
EXPORT_1_1(sim_get_device_guid, ibv_get_device_guid);

int sim_get_device_index(struct ibv_device *device)
{
	return 0;
}
EXPORT(sim_get_device_index, ibv_get_device_index, "IBVERBS_1.9");

/* Only the daemon ever traces the process (process_vm_*): allow it. */
static void allow_daemon(pid_t pid)
{
	char c = '0';
	int fd = open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY);

	if (fd < 0)
		return;
	if (read(fd, &c, 1) == 1 && c == '1')
		prctl(PR_SET_PTRACER, (unsigned long)pid, 0, 0, 0);
	close(fd);
}

static void setup_ops(struct hca_context *ctx)
{
	struct verbs_context *v = &ctx->vctx;
	struct ibv_context_ops *ops = &v->context.ops;

	ops->poll_cq = sim_poll_cq;
	ops->req_notify_cq = sim_req_notify_cq;
	ops->post_send = sim_post_send;
	ops->post_recv = sim_post_recv;
	ops->post_srq_recv = sim_post_srq_recv;
	v->query_port = sim_query_port_ex;
	v->query_device_ex = sim_query_device_ex;
	v->create_cq_ex = sim_create_cq_ex;
	v->create_qp_ex = sim_create_qp_ex;
	v->get_srq_num = sim_get_srq_num;
	v->sz = sizeof(*v);
	v->context.abi_compat = __VERBS_ABI_IS_EXTENDED;
}

struct ibv_context *sim_open_device(struct ibv_device *device)
{
	struct hca_context *ctx;
	int sv[2] = { -1, -1 }, err;

	if (device != &the_dev.dev) {
		errno = ENODEV;
		return NULL;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		errno = ENOMEM;
		return NULL;
	}
	ctx->sock = hca_connect();
	if (ctx->sock < 0) {
		err = ENODEV;
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		err = errno;
		goto fail;
	}
	err = hca_hello(ctx->sock, sv[1], &ctx->info);
	close(sv[1]);
	sv[1] = -1;
	if (err)
		goto fail;
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_mutex_init(&ctx->vctx.context.mutex, NULL);
	ctx->vctx.context.device = device;
	ctx->vctx.context.cmd_fd = ctx->sock;
	ctx->vctx.context.async_fd = sv[0];
	ctx->vctx.context.num_comp_vectors = (int)ctx->info.num_comp_vectors;
	setup_ops(ctx);
	allow_daemon((pid_t)ctx->info.daemon_pid);
	return &ctx->vctx.context;

fail:
	if (sv[0] >= 0)
		close(sv[0]);
	if (ctx->sock >= 0)
		close(ctx->sock);
	free(ctx);
	errno = err;
	return NULL;
}
EXPORT_1_1(sim_open_device, ibv_open_device);

int sim_close_device(struct ibv_context *context)
{
	struct hca_context *ctx = to_hctx(context);

	close(ctx->sock);
	close(context->async_fd);
	pthread_mutex_destroy(&ctx->lock);
	pthread_mutex_destroy(&context->mutex);
	free(ctx->rx);
	free(ctx->tx);
	free(ctx->slots);
	free(ctx);
	return 0;
}
EXPORT_1_1(sim_close_device, ibv_close_device);

struct ibv_context *sim_import_device(int cmd_fd)
{
	errno = EOPNOTSUPP;
	return NULL;
}
EXPORT(sim_import_device, ibv_import_device, "IBVERBS_1.10");

int sim_query_device_ex(struct ibv_context *context,
			const struct ibv_query_device_ex_input *input,
			struct ibv_device_attr_ex *attr, size_t attr_size)
{
	struct ibv_device_attr_ex a;
	int err;

	if (input && input->comp_mask)
		return EINVAL;
	if (attr_size < sizeof(attr->orig_attr))
		return EINVAL;
	err = hca_call(to_hctx(context), HCA_OP_QUERY_DEVICE, NULL, 0, -1,
		       &a, sizeof(a));
	if (err)
		return err;
	memset(attr, 0, attr_size);
	memcpy(attr, &a, attr_size < sizeof(a) ? attr_size : sizeof(a));
	return 0;
}

int sim_query_device(struct ibv_context *context,
		     struct ibv_device_attr *attr)
{
	struct ibv_device_attr_ex a;
	int err = sim_query_device_ex(context, NULL, &a, sizeof(a));

	if (!err)
		*attr = a.orig_attr;
	return err;
}
EXPORT_1_1(sim_query_device, ibv_query_device);

int sim_query_port_ex(struct ibv_context *context, uint8_t port,
		      struct ibv_port_attr *attr, size_t len)
{
	struct hca_query_port_req q = { .port = port };
	struct ibv_port_attr a;
	int err;

	err = hca_call(to_hctx(context), HCA_OP_QUERY_PORT, &q, sizeof(q), -1,
		       &a, sizeof(a));
	if (err)
		return err;
	memset(attr, 0, len);
	memcpy(attr, &a, len < sizeof(a) ? len : sizeof(a));
	return 0;
}

/* The exported call takes the old, shorter struct (no port_cap_flags2). */
int sim_query_port(struct ibv_context *context, uint8_t port,
		   struct _compat_ibv_port_attr *attr)
{
	return sim_query_port_ex(context, port, (struct ibv_port_attr *)attr,
				 offsetof(struct ibv_port_attr,
					  port_cap_flags2));
}
EXPORT_1_1(sim_query_port, ibv_query_port);

static bool gid_ok(struct ibv_context *context, uint32_t port, int index)
{
	return context && port == HCA_PORT_NUM && index == 0;
}

int sim_query_gid(struct ibv_context *context, uint8_t port, int index,
		  union ibv_gid *gid)
{
	struct hca_context *ctx = to_hctx(context);

	if (!gid_ok(context, port, index)) {
		errno = EINVAL;
		return -1;
	}
	gid->global.subnet_prefix = htobe64(ctx->info.subnet_prefix);
	gid->global.interface_id = htobe64(ctx->info.port_guid);
	return 0;
}
EXPORT_1_1(sim_query_gid, ibv_query_gid);

/* rdma-core's private enum ibv_gid_type_sysfs: 0 is "IB/RoCE v1" */
int sim_query_gid_type(struct ibv_context *context, uint8_t port,
		       unsigned int index, int *type)
{
	if (!gid_ok(context, port, (int)index)) {
		errno = EINVAL;
		return -1;
	}
	*type = 0;
	return 0;
}
EXPORT(sim_query_gid_type, ibv_query_gid_type, "IBVERBS_PRIVATE_34");

int sim_query_gid_ex(struct ibv_context *context, uint32_t port,
		     uint32_t index, struct ibv_gid_entry *entry,
		     uint32_t flags, size_t entry_size)
{
	struct ibv_gid_entry e = { 0 };

	if (flags || entry_size < sizeof(e) ||
	    !gid_ok(context, port, (int)index))
		return EINVAL;
	sim_query_gid(context, (uint8_t)port, 0, &e.gid);
	e.gid_index = 0;
	e.port_num = port;
	e.gid_type = IBV_GID_TYPE_IB;
	e.ndev_ifindex = 0;
	memcpy(entry, &e, sizeof(e));
	return 0;
}
EXPORT(sim_query_gid_ex, _ibv_query_gid_ex, "IBVERBS_1.11");

ssize_t sim_query_gid_table(struct ibv_context *context,
			    struct ibv_gid_entry *entries, size_t max_entries,
			    uint32_t flags, size_t entry_size)
{
	if (flags || entry_size < sizeof(*entries))
		return -EINVAL;
	if (!max_entries)
		return -EINVAL;
	if (sim_query_gid_ex(context, HCA_PORT_NUM, 0, entries, 0,
			     entry_size))
		return -EINVAL;
	return 1;
}
EXPORT(sim_query_gid_table, _ibv_query_gid_table, "IBVERBS_1.11");

int sim_query_pkey(struct ibv_context *context, uint8_t port, int index,
		   __be16 *pkey)
{
	if (!gid_ok(context, port, index)) {
		errno = EINVAL;
		return -1;
	}
	*pkey = htobe16(HCA_DEFAULT_PKEY);
	return 0;
}
EXPORT_1_1(sim_query_pkey, ibv_query_pkey);

int sim_get_pkey_index(struct ibv_context *context, uint8_t port,
		       __be16 pkey)
{
	if (port != HCA_PORT_NUM || be16toh(pkey) != HCA_DEFAULT_PKEY)
		return -1;
	return 0;
}
EXPORT(sim_get_pkey_index, ibv_get_pkey_index, "IBVERBS_1.5");
