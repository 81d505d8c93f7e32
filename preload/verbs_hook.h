/*
 * Helpers of the exported verbs hooks (hooks/verbs*.c): the real
 * functions' types and the prologue every hook on a shadow uses.
 *
 * A hook whose arguments are not shadows (the shim is off for verbs, the
 * object was made while it was, or the real library calls an exported
 * verbs function internally) passes the call through unchanged, so a
 * registration is recorded once even when ibv_reg_mr ends in
 * ibv_reg_mr_iova2 inside the library.
 */
#ifndef CRSHIM_VERBS_HOOK_H
#define CRSHIM_VERBS_HOOK_H

#include "verbs_int.h"

/* verbs.h wraps these in macros; the hooks define the exported names. */
#undef ibv_get_device_list
#undef ibv_query_port
#undef ibv_reg_mr
#undef ibv_reg_mr_iova

typedef struct ibv_device **(*get_device_list_fn)(int *);
typedef void (*free_device_list_fn)(struct ibv_device **);
typedef const char *(*get_device_name_fn)(struct ibv_device *);
typedef __be64 (*get_device_guid_fn)(struct ibv_device *);
typedef int (*get_device_index_fn)(struct ibv_device *);
typedef struct ibv_context *(*open_device_fn)(struct ibv_device *);
typedef int (*close_device_fn)(struct ibv_context *);
typedef int (*query_device_fn)(struct ibv_context *, struct ibv_device_attr *);
typedef int (*query_port_fn)(struct ibv_context *, uint8_t, struct _compat_ibv_port_attr *);
typedef int (*query_gid_fn)(struct ibv_context *, uint8_t, int, union ibv_gid *);
typedef int (*query_pkey_fn)(struct ibv_context *, uint8_t, int, __be16 *);
typedef int (*get_pkey_index_fn)(struct ibv_context *, uint8_t, __be16);
typedef int (*query_gid_ex_fn)(struct ibv_context *, uint32_t, uint32_t, struct ibv_gid_entry *, uint32_t,
			       size_t);
typedef ssize_t (*query_gid_table_fn)(struct ibv_context *, struct ibv_gid_entry *, size_t, uint32_t, size_t);
typedef struct ibv_pd *(*alloc_pd_fn)(struct ibv_context *);
typedef int (*dealloc_pd_fn)(struct ibv_pd *);
typedef struct ibv_mr *(*reg_mr_fn)(struct ibv_pd *, void *, size_t, int);
typedef struct ibv_mr *(*reg_mr_iova_fn)(struct ibv_pd *, void *, size_t, uint64_t, int);
typedef struct ibv_mr *(*reg_mr_iova2_fn)(struct ibv_pd *, void *, size_t, uint64_t, unsigned int);
typedef struct ibv_mr *(*reg_dmabuf_mr_fn)(struct ibv_pd *, uint64_t, size_t, uint64_t, int, int);
typedef int (*rereg_mr_fn)(struct ibv_mr *, int, struct ibv_pd *, void *, size_t, int);
typedef int (*dereg_mr_fn)(struct ibv_mr *);
typedef struct ibv_comp_channel *(*create_comp_channel_fn)(struct ibv_context *);
typedef int (*destroy_comp_channel_fn)(struct ibv_comp_channel *);
typedef struct ibv_cq *(*create_cq_fn)(struct ibv_context *, int, void *, struct ibv_comp_channel *, int);
typedef int (*resize_cq_fn)(struct ibv_cq *, int);
typedef int (*destroy_cq_fn)(struct ibv_cq *);
typedef int (*get_cq_event_fn)(struct ibv_comp_channel *, struct ibv_cq **, void **);
typedef void (*ack_cq_events_fn)(struct ibv_cq *, unsigned int);
typedef struct ibv_srq *(*create_srq_fn)(struct ibv_pd *, struct ibv_srq_init_attr *);
typedef int (*modify_srq_fn)(struct ibv_srq *, struct ibv_srq_attr *, int);
typedef int (*query_srq_fn)(struct ibv_srq *, struct ibv_srq_attr *);
typedef int (*destroy_srq_fn)(struct ibv_srq *);
typedef struct ibv_qp *(*create_qp_fn)(struct ibv_pd *, struct ibv_qp_init_attr *);
typedef int (*modify_qp_fn)(struct ibv_qp *, struct ibv_qp_attr *, int);
typedef int (*query_qp_fn)(struct ibv_qp *, struct ibv_qp_attr *, int, struct ibv_qp_init_attr *);
typedef int (*destroy_qp_fn)(struct ibv_qp *);
typedef struct ibv_qp_ex *(*qp_to_qp_ex_fn)(struct ibv_qp *);
typedef int (*query_qp_data_in_order_fn)(struct ibv_qp *, enum ibv_wr_opcode, uint32_t);
typedef int (*ece_fn)(struct ibv_qp *, struct ibv_ece *);
typedef struct ibv_ah *(*create_ah_fn)(struct ibv_pd *, struct ibv_ah_attr *);
typedef int (*destroy_ah_fn)(struct ibv_ah *);
typedef int (*init_ah_from_wc_fn)(struct ibv_context *, uint8_t, struct ibv_wc *, struct ibv_grh *,
				  struct ibv_ah_attr *);
typedef struct ibv_ah *(*create_ah_from_wc_fn)(struct ibv_pd *, struct ibv_wc *, struct ibv_grh *, uint8_t);
typedef int (*mcast_fn)(struct ibv_qp *, const union ibv_gid *, uint16_t);
typedef int (*get_async_event_fn)(struct ibv_context *, struct ibv_async_event *);
typedef void (*ack_async_event_fn)(struct ibv_async_event *);
typedef int (*resolve_eth_l2_fn)(struct ibv_context *, struct ibv_ah_attr *, uint8_t *, uint16_t *);
typedef struct ibv_pd *(*import_pd_fn)(struct ibv_context *, uint32_t);
typedef struct ibv_mr *(*import_mr_fn)(struct ibv_pd *, uint32_t);

/* 1 when verbs calls on shadows are virtualised in this process. */
static inline int vb_on(void)
{
	return crs_active(CRS_HOOK_VERBS);
}

/* Control-path hooks: through the gate, then the lock. */
static inline int vb_ctl_enter(void)
{
	int s = vb_enter();

	vb_ctl_depth++;
	pthread_mutex_lock(&vb_lock);
	return s;
}

static inline void vb_ctl_leave(int s)
{
	pthread_mutex_unlock(&vb_lock);
	vb_ctl_depth--;
	vb_leave(s);
}

/* The real library's own calls are never recorded by the other hooks
 * (its device files and doorbell mappings are not the program's). */
static inline int vb_quiet(void)
{
	return crs_guard_enter();
}

static inline void vb_loud(int g)
{
	if (g)
		crs_guard_leave();
}

/* No real library: as if libibverbs had no such call. */
#define VB_NOSYS_PTR() \
	do {                   \
		errno = ENOSYS; \
		return NULL;    \
	} while (0)

/* Ports and GIDs as the program first saw them (hooks/verbs.c). */
void vb_virt_port(struct vb_ctx *c, uint8_t port, struct ibv_port_attr *a);
void vb_virt_gid(struct vb_ctx *c, uint8_t port, int index, union ibv_gid *gid);
/* Refresh the real LID/GIDs of every known port of c (rebuild). */
int vb_refresh_ports(struct vb_ctx *c);
/* Open the device named name (rebuild): real context or NULL. */
struct ibv_context *vb_open_by_name(const char *name, char *err, size_t errlen);
void vb_ctx_adopt(struct vb_ctx *c, struct ibv_context *real);
/* The real object behind a shadow, made again (vb_lock held). */
int vb_cq_make(struct vb_cq *q);
int vb_qp_make(struct vb_qp *q);
struct ibv_qp *vb_qp_new(struct vb_pd *p, struct ibv_qp_init_attr *init, const struct vb_qp *ex);
int vb_srq_make(struct vb_srq *q);
int vb_mr_rebuild(struct vb_mr *m, char *err, size_t errlen);
/* Virtual -> real attributes of a modify_qp (sets q->rproc). */
void vb_qp_attr_to_real(struct vb_qp *q, struct ibv_qp_attr *a, int mask);
/* Synthetic CQ events: the channel fd readable until they are taken. */
void vb_ch_synth(struct vb_ch *ch);
void vb_ch_unsynth(struct vb_ch *ch);

#endif
