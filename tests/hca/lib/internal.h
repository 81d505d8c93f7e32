/* SPDX-License-Identifier: MIT */
/* Simulated libibverbs: internal declarations. */
#ifndef CRS_HCA_LIB_INTERNAL_H
#define CRS_HCA_LIB_INTERNAL_H

#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#include "hca_proto.h"

/*
 * Exported names carry the symbol versions of rdma-core's libibverbs.  The
 * implementation is a sim_* function; EXPORT binds the default version,
 * EXPORT_COMPAT adds a hidden older version of the same name.
 */
#define EXPORT(impl, name, ver) \
	__asm__(".symver " #impl "," #name "@@" ver)
#define EXPORT_COMPAT(impl, name, ver) \
	extern __typeof__(impl) impl##__compat __attribute__((alias(#impl))); \
	__asm__(".symver " #impl "__compat," #name "@" ver)
/* The classic calls: IBVERBS_1.1 default, IBVERBS_1.0 compat. */
#define EXPORT_1_1(impl, name) \
	EXPORT(impl, name, "IBVERBS_1.1"); \
	EXPORT_COMPAT(impl, name, "IBVERBS_1.0")

#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

enum { H_NONE, H_CQ, H_QP, H_SRQ };

struct handle_slot {
	void *ptr;
	int type;
};

struct hca_context {
	struct verbs_context vctx;	/* ends with the ibv_context */
	struct hca_dev_info info;
	pthread_mutex_t lock;		/* socket, buffers, handle table */
	int sock;
	uint32_t seq;
	bool broken;
	uint8_t *rx;
	size_t rx_len, rx_cap;
	uint8_t *tx;
	size_t tx_cap;
	struct handle_slot *slots;
	uint32_t nslots;
};

struct hca_cq {
	struct ibv_cq_ex cqx;		/* starts like struct ibv_cq */
	uint64_t wc_flags;
	struct hca_wire_cqe *ring;
	uint32_t head, count, cap;
	struct hca_wire_cqe cur;	/* extended polling: current entry */
};

struct hca_srq {
	struct ibv_srq srq;
	uint32_t max_wr;
	uint32_t max_sge;
	uint32_t posted;
};

struct pending_wr;

struct hca_qp {
	struct ibv_qp_ex qpx;		/* starts with struct ibv_qp */
	struct ibv_qp_cap cap;
	bool sq_sig_all;
	bool has_qpx;
	uint32_t rq_posted;
	/* ibv_wr_* batch between wr_start and wr_complete */
	struct pending_wr *wr_head, *wr_tail;
	int wr_err;
};

struct hca_chan {
	struct ibv_comp_channel ch;
	uint32_t handle;
};

static inline struct hca_context *to_hctx(struct ibv_context *c)
{
	return container_of(c, struct hca_context, vctx.context);
}

static inline struct hca_cq *to_hcq(struct ibv_cq *cq)
{
	return (struct hca_cq *)cq;
}

static inline struct hca_qp *to_hqp(struct ibv_qp *qp)
{
	return container_of(qp, struct hca_qp, qpx.qp_base);
}

static inline struct hca_srq *to_hsrq(struct ibv_srq *srq)
{
	return container_of(srq, struct hca_srq, srq);
}

/* proto.c: connection and message exchange */
const char *hca_socket_path(void);
int hca_connect(void);
int hca_hello(int fd, int async_fd, struct hca_dev_info *info);
int hca_call(struct hca_context *ctx, uint16_t op, const void *req,
	     uint32_t len, int pass_fd, void *rep, uint32_t rep_len);
void *hca_tx_reserve(struct hca_context *ctx, size_t len);
int hca_tx_send(struct hca_context *ctx, uint16_t op, size_t len);
void hca_drain(struct hca_context *ctx);
int hca_slot_set(struct hca_context *ctx, uint32_t h, void *p, int type);
void hca_slot_clear(struct hca_context *ctx, uint32_t h);
void *hca_slot_get(struct hca_context *ctx, uint32_t h, int type);

/* cq.c */
void hca_cq_deliver(struct hca_context *ctx, const struct hca_wire_cqe *c);
void hca_cq_purge_qp(struct hca_cq *cq, uint32_t qp_handle);
int sim_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc);
int sim_req_notify_cq(struct ibv_cq *cq, int solicited_only);
struct ibv_cq_ex *sim_create_cq_ex(struct ibv_context *context,
				   struct ibv_cq_init_attr_ex *attr);
void hca_cq_ex_init(struct hca_cq *cq);

/* device.c, sysfs.c */
const char *hca_sysfs_root(void);
int sim_query_port_ex(struct ibv_context *context, uint8_t port,
		      struct ibv_port_attr *attr, size_t len);
int sim_query_device_ex(struct ibv_context *context,
			const struct ibv_query_device_ex_input *input,
			struct ibv_device_attr_ex *attr, size_t attr_size);

/* qp.c, post.c, qp_ex.c */
struct ibv_qp *sim_create_qp_ex(struct ibv_context *context,
				struct ibv_qp_init_attr_ex *attr);
int sim_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr,
		  struct ibv_send_wr **bad_wr);
int sim_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr,
		  struct ibv_recv_wr **bad_wr);
int sim_post_srq_recv(struct ibv_srq *srq, struct ibv_recv_wr *wr,
		      struct ibv_recv_wr **bad_wr);
void hca_qp_ex_init(struct hca_qp *qp);
void hca_qp_ex_release(struct hca_qp *qp);
int sim_get_srq_num(struct ibv_srq *srq, uint32_t *srq_num);

#endif
