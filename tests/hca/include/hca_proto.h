/* SPDX-License-Identifier: MIT */
/*
 * Wire protocol between the simulated libibverbs (tests/hca/lib) and the
 * device daemon crs-hcad (tests/hca/daemon).
 *
 * One unix stream connection per opened device context.  Every message is
 * a struct hca_hdr followed by hdr.len bytes of payload.  Control requests
 * get exactly one reply (same op and seq, HCA_F_REPLY set, status = errno or
 * 0).  Posts (POST_SEND/POST_RECV/POST_SRQ_RECV) are one-way.  The daemon
 * pushes completions (HCA_OP_CQE) on the same stream at any time; a reply is
 * always queued after every CQE generated before the request was handled.
 *
 * File descriptors (async event socket, completion channel socket) travel
 * with the request that needs them as SCM_RIGHTS (HCA_F_FD).
 *
 * Both ends run on the same machine and are built by the same compiler, so
 * the verbs structs from <infiniband/verbs.h> are used on the wire as is.
 */
#ifndef CRS_HCA_PROTO_H
#define CRS_HCA_PROTO_H

#include <stdint.h>
#include <infiniband/verbs.h>

#define HCA_PROTO_MAGIC		0x43524831u	/* "CRH1" */
#define HCA_MAX_MSG		(64u << 20)
#define HCA_DEV_NAME		"crs_hca0"
#define HCA_UD_GRH_LEN		40
#define HCA_PORT_NUM		1
#define HCA_MAX_INLINE		512
#define HCA_MAX_SGE		32
#define HCA_MAX_WR		16384
#define HCA_MAX_CQE		(1 << 22)
#define HCA_MAX_RD_ATOM		16
#define HCA_MAX_MSG_SZ		(1u << 31)
#define HCA_SUBNET_PREFIX	0xfe80000000000000ull
#define HCA_DEFAULT_PKEY	0xffff

enum hca_op {
	HCA_OP_HELLO = 1,
	HCA_OP_QUERY_DEVICE,
	HCA_OP_QUERY_PORT,
	HCA_OP_ALLOC_PD,
	HCA_OP_DEALLOC_PD,
	HCA_OP_REG_MR,
	HCA_OP_REREG_MR,
	HCA_OP_DEREG_MR,
	HCA_OP_CREATE_CHANNEL,
	HCA_OP_DESTROY_CHANNEL,
	HCA_OP_CREATE_CQ,
	HCA_OP_RESIZE_CQ,
	HCA_OP_DESTROY_CQ,
	HCA_OP_REQ_NOTIFY,
	HCA_OP_CREATE_SRQ,
	HCA_OP_MODIFY_SRQ,
	HCA_OP_QUERY_SRQ,
	HCA_OP_DESTROY_SRQ,
	HCA_OP_CREATE_QP,
	HCA_OP_MODIFY_QP,
	HCA_OP_QUERY_QP,
	HCA_OP_DESTROY_QP,
	HCA_OP_CREATE_AH,
	HCA_OP_DESTROY_AH,
	HCA_OP_POST_SEND,	/* one-way */
	HCA_OP_POST_RECV,	/* one-way */
	HCA_OP_POST_SRQ_RECV,	/* one-way */
	HCA_OP_CQE,		/* daemon -> client, unsolicited */
	HCA_OP_MAX
};

enum {
	HCA_F_REPLY	= 1 << 0,
	HCA_F_FD	= 1 << 1,
};

struct hca_hdr {
	uint32_t len;		/* payload bytes after the header */
	uint16_t op;
	uint16_t flags;
	uint32_t seq;
	int32_t status;		/* replies: 0 or a positive errno */
};

/* HELLO: request; an async event socket may ride along (HCA_F_FD). */
struct hca_hello_req {
	uint32_t magic;
	uint32_t want_async;
};

struct hca_dev_info {
	char name[64];
	uint64_t node_guid;		/* host order */
	uint64_t sys_image_guid;	/* host order */
	uint64_t subnet_prefix;		/* host order */
	uint64_t port_guid;		/* host order */
	uint64_t instance;		/* random per daemon run */
	uint32_t daemon_pid;
	uint32_t num_comp_vectors;
	uint16_t lid;
	uint8_t phys_port_cnt;
	uint8_t pad[5];
};

struct hca_query_port_req {
	uint32_t port;
	uint32_t pad;
};

/* Generic "one object" request / reply. */
struct hca_handle_msg {
	uint32_t handle;
	uint32_t arg;
};

struct hca_reg_mr_req {
	uint32_t pd;
	uint32_t access;
	uint64_t addr;
	uint64_t length;
	uint64_t iova;
};

struct hca_reg_mr_rep {
	uint32_t handle;
	uint32_t lkey;
	uint32_t rkey;
	uint32_t pad;
};

struct hca_rereg_mr_req {
	uint32_t handle;
	uint32_t flags;
	uint32_t pd;
	uint32_t access;
	uint64_t addr;
	uint64_t length;
	uint64_t iova;
};

struct hca_create_cq_req {
	uint32_t cqe;
	uint32_t channel;	/* 0: none */
	uint32_t comp_vector;
	uint32_t pad;
	uint64_t wc_flags;
};

struct hca_create_srq_req {
	uint32_t pd;
	uint32_t max_wr;
	uint32_t max_sge;
	uint32_t srq_limit;
};

struct hca_srq_rep {
	uint32_t handle;
	uint32_t max_wr;
	uint32_t max_sge;
	uint32_t srq_limit;
};

struct hca_modify_srq_req {
	uint32_t handle;
	uint32_t mask;
	uint32_t max_wr;
	uint32_t srq_limit;
};

struct hca_create_qp_req {
	uint32_t pd;
	uint32_t send_cq;
	uint32_t recv_cq;
	uint32_t srq;		/* 0: none */
	uint32_t qp_type;
	uint32_t sq_sig_all;
	struct ibv_qp_cap cap;
};

struct hca_create_qp_rep {
	uint32_t handle;
	uint32_t qpn;
	struct ibv_qp_cap cap;
};

struct hca_modify_qp_req {
	uint32_t handle;
	uint32_t mask;
	struct ibv_qp_attr attr;
};

struct hca_query_qp_rep {
	struct ibv_qp_attr attr;
	struct ibv_qp_cap cap;
	uint32_t sq_sig_all;
	uint32_t pad;
};

struct hca_create_ah_req {
	uint32_t pd;
	uint32_t pad;
	struct ibv_ah_attr attr;
};

/* POST_SEND payload: hca_post_hdr, then nwr x (send_wr, sges, inline). */
struct hca_post_hdr {
	uint32_t handle;	/* QP or SRQ */
	uint32_t nwr;
};

struct hca_wire_sge {
	uint64_t addr;
	uint32_t length;
	uint32_t lkey;
};

struct hca_wire_send_wr {
	uint64_t wr_id;
	uint32_t opcode;	/* enum ibv_wr_opcode */
	uint32_t send_flags;
	uint32_t imm_data;	/* network order, as in ibv_send_wr */
	uint32_t num_sge;
	uint64_t remote_addr;
	uint32_t rkey;
	uint32_t ah;		/* UD: AH handle */
	uint32_t remote_qpn;
	uint32_t remote_qkey;
	uint64_t compare_add;
	uint64_t swap;
	uint32_t inline_len;	/* bytes following the sges, padded to 8 */
	uint32_t pad;
};

struct hca_wire_recv_wr {
	uint64_t wr_id;
	uint32_t num_sge;
	uint32_t pad;
};

/* HCA_OP_CQE payload: one or more of these. */
struct hca_wire_cqe {
	uint32_t cq;
	uint32_t qp;		/* client handle of the QP */
	uint64_t wr_id;
	uint32_t status;
	uint32_t opcode;
	uint32_t vendor_err;
	uint32_t byte_len;
	uint32_t imm_data;	/* network order */
	uint32_t qp_num;
	uint32_t src_qp;
	uint32_t wc_flags;
	uint16_t pkey_index;
	uint16_t slid;
	uint8_t sl;
	uint8_t dlid_path_bits;
	uint8_t is_recv;
	uint8_t pad;
	uint64_t timestamp;	/* ns, CLOCK_MONOTONIC of the daemon */
};

/* Record written to a completion channel socket (SOCK_SEQPACKET). */
struct hca_comp_event {
	uint32_t cq;
	uint32_t pad;
};

/* Record written to the async event socket (SOCK_SEQPACKET). */
struct hca_async_rec {
	uint32_t type;		/* enum ibv_event_type */
	uint32_t handle;	/* QP/CQ/SRQ handle, or port number */
};

static inline uint32_t hca_align8(uint32_t n)
{
	return (n + 7u) & ~7u;
}

#endif
