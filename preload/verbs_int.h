/*
 * The verbs layer: internal interface shared by preload/verbs_*.c and
 * hooks/verbs*.c.
 *
 * The program never holds a real verbs object.  Every object it gets is a
 * shadow: the public struct (ibv_pd, ibv_mr, ibv_cq, ...) first, so the
 * program reads the fields it expects, then the shim's bookkeeping.  The
 * shadow context's ops point to the shim (verbs_fast.c), so the inline
 * ibv_post_send / ibv_post_recv / ibv_poll_cq / ibv_req_notify_cq reach it.
 *
 * Virtual values: lkeys, rkeys, QP numbers, LIDs and GIDs keep the value
 * the program first saw; after a rebuild the real ones differ and the fast
 * path translates (maps below).  Shadows live in the shim's own arena
 * (verbs_arena.c); nothing here calls malloc.
 *
 * Locking: vb_lock (a mutex) serialises the control path (creation,
 * destruction, prepare, rebuild).  The fast path takes no lock: it enters
 * the gate (per-shard counters) and reads the maps, whose readers are
 * lock-free; old map tables are freed after a grace period.
 */
#ifndef CRSHIM_VERBS_INT_H
#define CRSHIM_VERBS_INT_H

#include "shim.h"

#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdint.h>

#define VB_LIKELY(x) __builtin_expect(!!(x), 1)
#define VB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define VB_CONTAINER(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

/* ---- arena (verbs_arena.c) ---- */
/* Zeroed memory from the shim's own reservation; NULL when exhausted. */
void *vb_alloc(size_t size);
void vb_free(void *p, size_t size);
/* 1 if p points into the arena (a shadow, or shim memory). */
int vb_in_arena(const void *p);
void vb_arena_atfork_child(void);

/* ---- lock-free maps (verbs_map.c) ---- */
/*
 * Open addressing, linear probing, 64-bit keys and values.  Readers never
 * lock; writers hold vb_lock.  Keys are stored +1 (0 = empty slot).
 */
struct vb_slot {
	uint64_t k, v;
};

struct vb_tab {
	uint64_t mask;
	int shift;
	struct vb_slot e[];
};

struct vb_map {
	struct vb_tab *tab;
	uint64_t live, used; /* used counts tombstones too */
};

#define VB_TOMB UINT64_MAX

static inline uint64_t vb_hash(uint64_t k, int shift)
{
	return (k * 0x9e3779b97f4a7c15ull) >> shift;
}

static inline uint64_t vb_map_get(const struct vb_map *m, uint64_t key, uint64_t miss)
{
	const struct vb_tab *t = __atomic_load_n(&m->tab, __ATOMIC_ACQUIRE);
	uint64_t k = key + 1, i;

	if (!t)
		return miss;
	for (i = vb_hash(k, t->shift);; i = (i + 1) & t->mask) {
		uint64_t kk = __atomic_load_n(&t->e[i].k, __ATOMIC_ACQUIRE);

		if (kk == k)
			return __atomic_load_n(&t->e[i].v, __ATOMIC_RELAXED);
		if (!kk)
			return miss;
	}
}

int vb_map_put(struct vb_map *m, uint64_t key, uint64_t val);
void vb_map_del(struct vb_map *m, uint64_t key);
/* Only while no reader can run (gate closed). */
void vb_map_reset(struct vb_map *m);
/* Call fn for every entry (writer side). */
void vb_map_each(const struct vb_map *m, void (*fn)(uint64_t key, uint64_t val, void *arg), void *arg);
/* Free tables retired while readers could still see them (gate closed). */
void vb_map_reclaim(void);

/* ---- the gate (verbs_gate.c) ---- */
#define VB_SHARDS 32
struct vb_shard {
	long n;
} __attribute__((aligned(64)));

extern struct vb_shard vb_shards[VB_SHARDS];
extern int vb_closed;
extern __thread int vb_my_shard; /* shard + 1; 0 = not chosen yet */
extern __thread int vb_ctl_depth; /* control-path hooks this thread is in */

int vb_shard_pick(void);
void vb_gate_wait(int shard); /* slow path: leave, wait for the gate, re-enter */

/* Every program call on a shadow runs inside the gate. */
static inline int vb_enter(void)
{
	int s = vb_my_shard - 1;

	if (VB_UNLIKELY(s < 0))
		s = vb_shard_pick();
	__atomic_fetch_add(&vb_shards[s].n, 1, __ATOMIC_SEQ_CST);
	if (VB_UNLIKELY(__atomic_load_n(&vb_closed, __ATOMIC_SEQ_CST)))
		vb_gate_wait(s);
	return s;
}

static inline void vb_leave(int s)
{
	__atomic_fetch_sub(&vb_shards[s].n, 1, __ATOMIC_RELEASE);
}

/* Close the gate and wait until no call is inside (timeout_ms); -1 if
 * calls stayed inside (the gate is open again). */
void vb_gate_init(void); /* the eventfd that wakes blocked waiters */
int vb_gate_close(int timeout_ms);
void vb_gate_open(void);
/* Wait until every call that entered before now has left (grace period);
 * 0, or -1 if a shard stayed busy. */
int vb_gate_sync(void);
/* Wait until fd is readable or the gate closes: 1 readable, 0 gate
 * closing, -1 error (errno). */
int vb_wait_fd(int fd);

/* ---- resolution of the real library (verbs_real.c) ---- */
enum vb_fn {
	VBF_GET_DEVICE_LIST,
	VBF_FREE_DEVICE_LIST,
	VBF_GET_DEVICE_NAME,
	VBF_GET_DEVICE_GUID,
	VBF_GET_DEVICE_INDEX,
	VBF_OPEN_DEVICE,
	VBF_CLOSE_DEVICE,
	VBF_QUERY_DEVICE,
	VBF_QUERY_PORT,
	VBF_QUERY_GID,
	VBF_QUERY_PKEY,
	VBF_GET_PKEY_INDEX,
	VBF_QUERY_GID_EX,
	VBF_QUERY_GID_TABLE,
	VBF_ALLOC_PD,
	VBF_DEALLOC_PD,
	VBF_REG_MR,
	VBF_REG_MR_IOVA,
	VBF_REG_MR_IOVA2,
	VBF_REG_DMABUF_MR,
	VBF_REREG_MR,
	VBF_DEREG_MR,
	VBF_CREATE_COMP_CHANNEL,
	VBF_DESTROY_COMP_CHANNEL,
	VBF_CREATE_CQ,
	VBF_RESIZE_CQ,
	VBF_DESTROY_CQ,
	VBF_GET_CQ_EVENT,
	VBF_ACK_CQ_EVENTS,
	VBF_CREATE_SRQ,
	VBF_MODIFY_SRQ,
	VBF_QUERY_SRQ,
	VBF_DESTROY_SRQ,
	VBF_CREATE_QP,
	VBF_MODIFY_QP,
	VBF_QUERY_QP,
	VBF_DESTROY_QP,
	VBF_QP_TO_QP_EX,
	VBF_QUERY_QP_DATA_IN_ORDER,
	VBF_QUERY_ECE,
	VBF_SET_ECE,
	VBF_CREATE_AH,
	VBF_DESTROY_AH,
	VBF_INIT_AH_FROM_WC,
	VBF_CREATE_AH_FROM_WC,
	VBF_ATTACH_MCAST,
	VBF_DETACH_MCAST,
	VBF_GET_ASYNC_EVENT,
	VBF_ACK_ASYNC_EVENT,
	VBF_RESOLVE_ETH_L2,
	VBF_IMPORT_PD,
	VBF_IMPORT_MR,
	VBF_COUNT
};
/* The real definition (NULL if the library is not loaded). */
void *vb_real(enum vb_fn f);
#define VB_REAL(f, type) ((type)vb_real(f))

/* ---- shadow objects (verbs_objs.c) ---- */
enum vb_kind { VB_CTX, VB_PD, VB_MR, VB_CH, VB_CQ, VB_SRQ, VB_QP, VB_AH, VB_NKINDS };

struct vb_link {
	struct vb_link *prev, *next;
};

struct vb_hdr {
	uint32_t magic;	     /* VB_MAGIC + kind */
	uint32_t gen;	     /* rebuilds this object went through */
	struct vb_link link; /* in vb_all[kind], creation order */
};
#define VB_MAGIC 0x43525642u /* "BVRC" */

/* A device port as this process first saw it (virtual) and now (real). */
#define VB_MAX_PORTS 4
#define VB_MAX_GIDS 8
struct vb_port {
	uint16_t vlid, lid;
	uint8_t known;	   /* vlid set */
	uint8_t gid_known; /* bit i: vgid[i] set */
	union ibv_gid vgid[VB_MAX_GIDS], gid[VB_MAX_GIDS];
};

#define VB_MAX_DEVS 8
struct vb_dev {
	char name[IBV_SYSFS_NAME_MAX];
	struct vb_port port[VB_MAX_PORTS + 1]; /* ports are 1-based */
};

/* Receive log: what was posted and not yet seen completed, to post again. */
struct vb_rlog {
	int lock;
	uint32_t head, n, cap; /* cap: entries, power of two */
	uint32_t max_sge;      /* SGEs per entry */
	uint8_t *buf;	       /* cap entries of vb_rlog_esz(max_sge) bytes */
};

struct vb_rentry {
	uint64_t wr_id;
	uint32_t num_sge, pad;
	struct ibv_sge sge[];
};

static inline size_t vb_rlog_esz(uint32_t max_sge)
{
	return sizeof(struct vb_rentry) + (size_t)max_sge * sizeof(struct ibv_sge);
}

struct vb_ctx {
	struct verbs_context vc; /* the program's context is vc.context */
	struct vb_hdr h;
	struct ibv_context *real;
	struct ibv_device dev; /* the program's ctx->device: a copy */
	struct vb_dev *rec;
	uint64_t guid; /* network order, as ibv_get_device_guid */
	int nports;
	int closed;
};

struct vb_pd {
	struct ibv_pd pub;
	struct vb_hdr h;
	struct vb_ctx *ctx;
	struct ibv_pd *real;
};

struct vb_mr {
	struct ibv_mr pub; /* lkey, rkey: virtual */
	struct vb_hdr h;
	struct vb_pd *pd;
	struct ibv_mr *real;
	uint64_t iova;
	unsigned access;
	uint32_t lkey, rkey; /* real */
	int nocr;	     /* cannot be registered again (dmabuf) */
};

struct vb_ch {
	struct ibv_comp_channel pub; /* fd: a shim-owned dup of the real one */
	struct vb_hdr h;
	struct vb_ctx *ctx;
	struct ibv_comp_channel *real;
	int syn_n;  /* synthetic events to deliver after a rebuild */
	int syn_fd; /* eventfd standing at pub.fd while syn_n > 0, or -1 */
};

/* A completion kept at a checkpoint, with what extended CQs can read. */
struct vb_wcx {
	struct ibv_wc wc;
	uint64_t ts, wall;
};

struct vb_cq {
	struct ibv_cq_ex pub; /* starts like struct ibv_cq */
	struct vb_hdr h;
	struct vb_ctx *ctx;
	struct ibv_cq *real;
	struct ibv_cq_ex *rx; /* the same, extended (ibv_create_cq_ex) */
	struct vb_ch *ch;
	int (*r_poll)(struct ibv_cq *cq, int n, struct ibv_wc *wc);
	int (*r_notify)(struct ibv_cq *cq, int solicited_only);
	int cqe, comp_vector;
	int armed;	     /* 1 any, 2 solicited: armed and no event taken yet */
	int syn;	     /* synthetic events pending for this CQ */
	uint32_t ev_got;     /* events the real CQ reported to the program */
	uint32_t ev_acked;   /* ... and acked to the real CQ */
	uint32_t aev_got, aev_acked;
	int lock;	     /* stash */
	uint32_t stash_n, stash_head, stash_cap;
	struct vb_wcx *stash; /* completions drained at prepare */
	/* extended CQs: creation attributes and the polling session */
	int ex;
	uint64_t wc_flags;   /* the program's */
	uint32_t comp_mask, flags;
	struct vb_wcx cur;   /* the completion the read_* calls see */
	int session, shard;  /* 0 none, 1 stash, 2 real CQ; gate shard held */
};
#define vb_cq_pub(q) ibv_cq_ex_to_cq(&(q)->pub)

struct vb_srq {
	struct ibv_srq pub;
	struct vb_hdr h;
	struct vb_pd *pd;
	struct ibv_srq *real;
	int (*r_post)(struct ibv_srq *srq, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad);
	struct ibv_srq_attr attr; /* max_wr, max_sge as created, srq_limit armed */
	uint32_t aev_got, aev_acked;
	struct vb_rlog rlog;
};

struct vb_qp {
	union {
		struct ibv_qp pub;	/* qp_num: virtual */
		struct ibv_qp_ex pubx;	/* the same, with the ibv_wr_* API */
	};
	struct vb_hdr h;
	struct vb_pd *pd;
	struct ibv_qp *real;
	struct vb_cq *scq, *rcq;
	struct vb_srq *srq;
	int (*r_send)(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad);
	int (*r_recv)(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad);
	struct ibv_qp_cap cap;
	int sq_sig_all;
	uint32_t qpn;	   /* real */
	int xlate;	   /* post_send must copy and translate */
	uint32_t rproc;	   /* remote process + 1 in the peer table (rkeys), 0 = none */
	/* the program's modify_qp calls, to replay: accumulated attributes
	 * (virtual values) and the mask used for each target state */
	struct ibv_qp_attr attr;
	int mask[IBV_QPS_ERR + 1];
	int real_state;	   /* at release */
	uint64_t sig_posted, sig_done; /* signalled sends posted / completed */
	int errored;	   /* an error completion was seen */
	uint32_t aev_got, aev_acked;
	struct vb_rlog rlog;
	/* extended QPs (ibv_create_qp_ex) and their ibv_wr_* batch */
	int ex;
	uint32_t ex_mask, create_flags;
	uint64_t send_ops_flags;
	struct ibv_qp_ex *rqx;
	int wr_shard;
	uint64_t wr_sig;
};

struct vb_ah {
	struct ibv_ah pub;
	struct vb_hdr h;
	struct vb_pd *pd;
	struct ibv_ah *real;
	struct ibv_ah_attr attr; /* virtual dlid / dgid */
};

extern pthread_mutex_t vb_lock;
extern struct vb_link vb_all[VB_NKINDS];
extern struct vb_dev vb_devs[VB_MAX_DEVS];

/* Lookups for the fast path and translation. */
extern struct vb_map vb_mr_vlkey; /* virtual lkey -> struct vb_mr * */
extern struct vb_map vb_mr_vrkey; /* virtual rkey -> struct vb_mr * */
extern struct vb_map vb_qp_real;  /* real qpn -> struct vb_qp * */
extern struct vb_map vb_qp_virt;  /* virtual qpn -> struct vb_qp * */
extern struct vb_map vb_peer_fwd; /* VB_LQ(vlid, vqpn) -> VB_PEER(proc, lid, qpn) */
extern struct vb_map vb_peer_rev; /* VB_LQ(lid, qpn) -> VB_LQ(vlid, vqpn) */
extern struct vb_map vb_rkeys;	  /* (proc << 32) | vrkey -> real rkey */
/* Virtual -> real LIDs and GIDs of every process of the last exchange. */
#define VB_MAX_LIDS 64
struct vb_lidmap {
	uint16_t vlid, lid;
};
extern struct vb_lidmap vb_lids[VB_MAX_LIDS];
extern int vb_nlids;
#define VB_MAX_GIDMAP 64
struct vb_gidmap {
	union ibv_gid vgid, gid;
};
extern struct vb_gidmap vb_gids[VB_MAX_GIDMAP];
extern int vb_ngids;

#define VB_LQ(lid, qpn) (((uint64_t)(lid) << 24) | ((qpn)&0xffffff))
#define VB_PEER(proc, lid, qpn) (((uint64_t)(proc) << 40) | VB_LQ(lid, qpn))
#define VB_PEER_PROC(v) ((uint32_t)((v) >> 40))
#define VB_LQ_LID(v) ((uint16_t)((v) >> 24))
#define VB_LQ_QPN(v) ((uint32_t)((v)&0xffffff))

/* Fast-path switches: set once a translation is no longer the identity. */
extern int vb_xl_lkey, vb_xl_qpn, vb_xl_peer;

enum vb_state {
	VB_RUNNING = 0, /* objects live, gate open */
	VB_QUIESCED,	/* gate closed, sends drained, objects live */
	VB_RELEASED,	/* everything destroyed, device closed */
	VB_REBUILT,	/* objects recreated up to INIT, receives posted */
	VB_CONNECTED,	/* QPs back in their state, gate still closed */
};
extern int vb_state;
extern uint64_t vb_generation; /* completed rebuilds */

void vb_link_add(enum vb_kind kind, struct vb_hdr *h);
void vb_link_del(struct vb_hdr *h);
#define vb_for_each(pos, kind, type)                                                           \
	for (struct vb_link *l__ = vb_all[kind].next;                                          \
	     l__ != &vb_all[kind] && ((pos) = VB_CONTAINER(VB_CONTAINER(l__, struct vb_hdr, link), \
							 type, h),                            \
				      1);                                                      \
	     l__ = l__->next)
/* The same, when the body may delete pos. */
#define vb_for_each_safe(pos, kind, type)                                                      \
	for (struct vb_link *l__ = vb_all[kind].next, *n__ = l__->next;                        \
	     l__ != &vb_all[kind] && ((pos) = VB_CONTAINER(VB_CONTAINER(l__, struct vb_hdr, link), \
							 type, h),                            \
				      1);                                                      \
	     l__ = n__, n__ = l__->next)
int vb_count(enum vb_kind kind);
/* Drop the shadows of a closed context's objects (verbs_forget.c). */
void vb_forget_ctx(struct vb_ctx *c);

/* Shadow from a program pointer, or NULL if it is not one of ours. */
void *vb_shadow(const void *pub, enum vb_kind kind, size_t hdr_off);
#define VB_SHADOW(p, type, kind) ((type *)vb_shadow(p, kind, offsetof(type, h)))
#define vb_ctx_of(p) VB_SHADOW(p, struct vb_ctx, VB_CTX)
#define vb_pd_of(p) VB_SHADOW(p, struct vb_pd, VB_PD)
#define vb_mr_of(p) VB_SHADOW(p, struct vb_mr, VB_MR)
#define vb_ch_of(p) VB_SHADOW(p, struct vb_ch, VB_CH)
#define vb_cq_of(p) VB_SHADOW(p, struct vb_cq, VB_CQ)
#define vb_srq_of(p) VB_SHADOW(p, struct vb_srq, VB_SRQ)
#define vb_qp_of(p) VB_SHADOW(p, struct vb_qp, VB_QP)
#define vb_ah_of(p) VB_SHADOW(p, struct vb_ah, VB_AH)
/* The shadow context behind the program's struct ibv_context. */
static inline struct vb_ctx *vb_ctx_pub(struct ibv_context *c)
{
	return VB_CONTAINER(c, struct vb_ctx, vc.context);
}
void *vb_new(enum vb_kind kind, size_t size, size_t hdr_off);
void vb_delete(void *obj, size_t size, size_t hdr_off);
#define VB_NEW(type, kind) ((type *)vb_new(kind, sizeof(type), offsetof(type, h)))
#define VB_DELETE(obj) vb_delete(obj, sizeof(*(obj)), offsetof(__typeof__(*(obj)), h))

struct vb_dev *vb_dev_get(const char *name);
/* Virtual <-> real for the ports of this process and the peers. */
uint16_t vb_lid_to_real(uint16_t vlid);
uint16_t vb_lid_to_virt(uint16_t lid);
void vb_gid_to_real(union ibv_gid *gid);
void vb_gid_to_virt(union ibv_gid *gid);
void vb_ah_attr_to_real(struct ibv_ah_attr *a);
/* Fresh virtual key/qpn for a new object: the real one unless a live
 * virtual one already has that value. */
uint32_t vb_pick_key(const struct vb_map *m, uint32_t real, uint32_t mask);
/* File descriptors the shim owns (dups the program sees). */
int vb_fd_dup(int fd);	 /* a new number >= 3, CLOEXEC */
int vb_fd_move(int from, int to); /* dup3(from, to) */
void vb_fd_park(int fd); /* put /dev/null at fd (keeps the number) */
void vb_fd_close(int fd);

/* ---- the data path (verbs_fast.c) ---- */
void vb_set_ops(struct vb_ctx *c);
void vb_qp_update_xlate(struct vb_qp *q);
void vb_update_all_xlate(void);
int vb_rlog_init(struct vb_rlog *r, uint32_t cap, uint32_t max_sge);
void vb_rlog_free(struct vb_rlog *r);
void vb_rlog_clear(struct vb_rlog *r);
/* Account one completion of the real CQ and make its values virtual. */
void vb_account(struct ibv_wc *wc);
/* Append completions to a CQ's stash (control thread). */
int vb_stash_push(struct vb_cq *c, const struct vb_wcx *w, int n);
int vb_stash_pop(struct vb_cq *c, struct vb_wcx *w);

/* ---- extended CQs (verbs_cqex.c) ---- */
struct ibv_cq_ex *vb_create_cq_ex(struct ibv_context *context, struct ibv_cq_init_attr_ex *attr);
/* The real CQ of an extended shadow (creation, rebuild; vb_lock held). */
int vb_cqex_make(struct vb_cq *q);
/* Poll a real extended CQ empty into the stash; returns how many. */
int vb_cqex_drain(struct vb_cq *q);
/* Post a logged receive list again (translating lkeys). */
int vb_repost_rlog(struct vb_rlog *r, struct vb_qp *q, struct vb_srq *s);

/* ---- extended QPs (verbs_qpex.c) ---- */
struct ibv_qp *vb_create_qp_ex(struct ibv_context *context, struct ibv_qp_init_attr_ex *attr);
/* The real QP of an extended shadow; *cap gets the real capabilities. */
int vb_qpex_make(struct vb_qp *q, struct ibv_qp_cap *cap);
/* The shadow's ibv_wr_* functions (those the real QP has). */
void vb_qpex_setup(struct vb_qp *q);

static inline uint32_t vb_lkey_real(uint32_t lkey)
{
	const struct vb_mr *m;

	if (!vb_xl_lkey)
		return lkey;
	m = (const struct vb_mr *)(uintptr_t)vb_map_get(&vb_mr_vlkey, lkey, 0);
	return m ? m->lkey : lkey;
}

static inline uint32_t vb_rkey_real(const struct vb_qp *q, uint32_t rkey)
{
	uint64_t v;

	if (!q->rproc)
		return rkey;
	v = vb_map_get(&vb_rkeys, ((uint64_t)q->rproc << 32) | rkey, UINT64_MAX);
	return v != UINT64_MAX ? (uint32_t)v : rkey;
}

/* ---- phases (verbs_prepare.c, verbs_rebuild.c, verbs_connect.c) ---- */
int vb_quiesce(char *err, size_t errlen);
int vb_release(char *err, size_t errlen);
/* Destroy every real object and close the devices (vb_lock held). */
void vb_destroy_all(void);
int vb_rebuild(char *err, size_t errlen);
/* Peer table from fd (text, see verbs_connect.c), or -1 = this process only. */
int vb_connect(int table_fd, char *err, size_t errlen);
void vb_go(void);
int vb_replay_qp(struct vb_qp *q, int target, char *err, size_t errlen);

/* ---- reporting (verbs_report.c) ---- */
struct crs_jsonw;
void vb_write_table(struct crs_jsonw *w);
const char *vb_state_name(int s);
const char *vb_qps_name(int s);

#endif
