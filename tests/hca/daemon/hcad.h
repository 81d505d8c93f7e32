/* SPDX-License-Identifier: MIT */
/* crs-hcad: the simulated HCA.  Internal declarations. */
#ifndef CRS_HCAD_H
#define CRS_HCAD_H

#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "hca_proto.h"

/* ---- small intrusive list ---- */
struct list {
	struct list *next, *prev;
};

static inline void list_init(struct list *l)
{
	l->next = l->prev = l;
}

static inline bool list_empty(const struct list *l)
{
	return l->next == l;
}

static inline void list_add_tail(struct list *l, struct list *n)
{
	n->prev = l->prev;
	n->next = l;
	l->prev->next = n;
	l->prev = n;
}

static inline void list_del(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

/* ---- logging ---- */
extern int hcad_verbose;
void hlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define hdbg(...) do { if (hcad_verbose) hlog(__VA_ARGS__); } while (0)

/* ---- device identity (device.c) ---- */
struct hca_device {
	uint64_t node_guid;
	uint64_t instance;
	uint16_t lid;
};
extern struct hca_device hcadev;

void device_init(uint16_t lid, uint64_t guid);
void device_info(struct hca_dev_info *info);
void device_attr(struct ibv_device_attr_ex *attr);
void device_port_attr(struct ibv_port_attr *attr);
void device_gid(union ibv_gid *gid);
uint64_t now_ns(void);
uint32_t rand32(void);

/* ---- sysfs tree next to the socket (sysfs.c) ---- */
void sysfs_create(const char *sock);
void sysfs_remove(void);

/* ---- objects (objects.c) ---- */
enum obj_type {
	OBJ_PD = 1,
	OBJ_MR,
	OBJ_CHAN,
	OBJ_CQ,
	OBJ_SRQ,
	OBJ_QP,
	OBJ_AH,
};

struct client;

struct obj {
	enum obj_type type;
	uint32_t handle;
	struct client *cl;
};

struct pd {
	struct obj o;
	int refs;
};

struct mr {
	struct obj o;
	struct pd *pd;
	uint64_t addr;		/* address in the client process */
	uint64_t length;
	uint64_t iova;		/* address the verbs consumer uses */
	uint32_t access;
	uint32_t key;		/* lkey == rkey */
	struct mr *hnext;
};

struct chan {
	struct obj o;
	int fd;
	int refs;
};

struct cq {
	struct obj o;
	struct chan *chan;
	uint32_t cqe;
	int armed;		/* 0, 1: next completion, 2: solicited */
	int refs;
};

struct sge {
	uint64_t addr;
	uint32_t length;
	uint32_t lkey;
};

struct recv_wqe {
	struct recv_wqe *next;
	uint64_t wr_id;
	uint32_t num_sge;
	struct sge sg[];
};

struct rq {
	struct recv_wqe *head, *tail;
	uint32_t count;
};

struct srq {
	struct obj o;
	struct pd *pd;
	uint32_t max_wr;
	uint32_t max_sge;
	uint32_t limit;
	struct rq rq;
	int refs;
};

struct ah {
	struct obj o;
	struct pd *pd;
	struct ibv_ah_attr attr;
};

struct send_wqe {
	struct send_wqe *next;
	uint64_t wr_id;
	uint32_t opcode;
	uint32_t flags;
	uint32_t imm;
	uint32_t num_sge;
	uint64_t remote_addr;
	uint32_t rkey;
	uint32_t remote_qpn;
	uint32_t remote_qkey;
	struct ibv_ah_attr ah;	/* UD destination, copied at post time */
	uint64_t compare_add;
	uint64_t swap;
	uint64_t rnr_deadline;	/* ns, 0 = not waiting */
	uint64_t retry_deadline;	/* ns, 0 = not retrying */
	uint8_t synced;		/* the responder's posts were caught up */
	uint8_t deferred;	/* waiting for one round of client input */
	uint32_t inline_len;
	uint8_t *inline_data;	/* points behind sg[] */
	struct sge sg[];
};

struct sq {
	struct send_wqe *head, *tail;
	uint32_t count;
};

struct qp {
	struct obj o;
	uint32_t qpn;
	enum ibv_qp_type type;
	struct pd *pd;
	struct cq *scq, *rcq;
	struct srq *srq;
	bool sq_sig_all;
	struct ibv_qp_cap cap;
	struct ibv_qp_attr attr;	/* attr.qp_state is the state */
	struct rq rq;
	struct sq sq;
	struct list blocked;		/* on the engine's RNR list */
	struct qp *hnext;		/* qpn hash chain */
};

struct obj *obj_get(struct client *cl, uint32_t handle, enum obj_type type);
int obj_insert(struct client *cl, struct obj *o, enum obj_type type);
void obj_remove(struct obj *o);
uint32_t mr_new_key(void);
void mr_hash_add(struct mr *mr);
void mr_hash_del(struct mr *mr);
struct mr *mr_by_key(uint32_t key);
uint32_t qp_new_qpn(void);
void qp_hash_add(struct qp *qp);
void qp_hash_del(struct qp *qp);
struct qp *qp_by_qpn(uint32_t qpn);
void objects_init(void);

/* ---- clients and transport (transport.c) ---- */
struct pending_event {
	uint32_t chan;
	uint32_t cq;
};

struct client {
	struct list link;
	int fd;
	pid_t pid;
	uint32_t id;
	bool dead;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	int fdq[16];
	int nfdq;
	int async_fd;
	struct obj **objs;
	uint32_t nobjs;
	struct pending_event *pev;
	size_t npev, cappev;
	/* work executed for this client as requester */
	uint64_t nr_send, nr_write, nr_read, nr_atomic, nr_bytes, nr_err;
};

extern struct list clients;

int transport_listen(const char *path);
void transport_accept(int lfd);
void transport_read(struct client *cl);
void transport_flush(struct client *cl);
bool transport_want_write(const struct client *cl);
void client_send(struct client *cl, uint16_t op, uint16_t flags,
		 uint32_t seq, int32_t status, const void *p, uint32_t len);
int client_take_fd(struct client *cl);
void client_queue_comp_event(struct client *cl, struct chan *ch, uint32_t cq);
void client_async_event(struct client *cl, enum ibv_event_type type,
			uint32_t handle);
void client_destroy(struct client *cl);
void clients_reap(void);

/* ---- request dispatch (dispatch.c) and handlers (res.c, cq.c, qp.c,
 * post.c) ---- */
struct req {
	struct client *cl;
	const struct hca_hdr *h;
	const uint8_t *p;
};

void dispatch(struct client *cl, const struct hca_hdr *h, const uint8_t *p);
void reply(struct req *r, int status, const void *p, uint32_t len);
void client_release_objects(struct client *cl);

void h_alloc_pd(struct req *r);
void h_dealloc_pd(struct req *r);
void h_reg_mr(struct req *r);
void h_rereg_mr(struct req *r);
void h_dereg_mr(struct req *r);
void h_create_ah(struct req *r);
void h_destroy_ah(struct req *r);
void h_create_channel(struct req *r);
void h_destroy_channel(struct req *r);
void h_create_cq(struct req *r);
void h_resize_cq(struct req *r);
void h_destroy_cq(struct req *r);
void h_req_notify(struct req *r);
void h_create_srq(struct req *r);
void h_modify_srq(struct req *r);
void h_query_srq(struct req *r);
void h_destroy_srq(struct req *r);
void h_create_qp(struct req *r);
void h_modify_qp(struct req *r);
void h_query_qp(struct req *r);
void h_destroy_qp(struct req *r);
void h_post_send(struct req *r);
void h_post_recv(struct req *r);
void h_post_srq_recv(struct req *r);

void pd_free(struct pd *pd);
void mr_free(struct mr *mr);
void ah_free(struct ah *ah);
void chan_free(struct chan *ch);
void cq_free(struct cq *cq);
void srq_free(struct srq *srq);
void qp_free(struct qp *qp);

/* ---- QP state machine (qpstate.c) ---- */
int qp_check_modify(struct qp *qp, const struct ibv_qp_attr *attr, int mask);
void qp_apply_modify(struct qp *qp, const struct ibv_qp_attr *attr, int mask);

/* ---- work execution (engine.c) ---- */
void engine_post_send(struct qp *qp, struct send_wqe *w);
void engine_post_recv(struct qp *qp, struct recv_wqe *w);
void engine_post_srq_recv(struct srq *srq, struct recv_wqe *w);
void engine_set_error(struct qp *qp);
void engine_reset(struct qp *qp);
void engine_progress(struct qp *qp);
void engine_kick(void);
int engine_timeout_ms(void);
void engine_forget(struct qp *qp);
void rq_free(struct rq *rq);

/* ---- memory movement (memcopy.c) ---- */
struct xside {
	pid_t pid;		/* 0: daemon's own memory */
	struct iovec *iov;
	int niov;
};

int xfer(const struct xside *src, const struct xside *dst, uint64_t len);
#define XFER_SRC_FAULT	1
#define XFER_DST_FAULT	2

#endif
