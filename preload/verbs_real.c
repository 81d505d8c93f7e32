/*
 * The real libibverbs behind the hooks, by name and symbol version (the
 * classic calls are IBVERBS_1.1, comp channels only exist as IBVERBS_1.0).
 * RTLD_NEXT first; a library loaded later with dlopen (MPI components) is
 * not in the global scope, so the loaded libibverbs.so.1 is asked directly.
 */
#include "verbs_int.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

static const struct {
	const char *name, *version;
} names[VBF_COUNT] = {
	[VBF_GET_DEVICE_LIST] = { "ibv_get_device_list", "IBVERBS_1.1" },
	[VBF_FREE_DEVICE_LIST] = { "ibv_free_device_list", "IBVERBS_1.1" },
	[VBF_GET_DEVICE_NAME] = { "ibv_get_device_name", "IBVERBS_1.1" },
	[VBF_GET_DEVICE_GUID] = { "ibv_get_device_guid", "IBVERBS_1.1" },
	[VBF_GET_DEVICE_INDEX] = { "ibv_get_device_index", "IBVERBS_1.9" },
	[VBF_OPEN_DEVICE] = { "ibv_open_device", "IBVERBS_1.1" },
	[VBF_CLOSE_DEVICE] = { "ibv_close_device", "IBVERBS_1.1" },
	[VBF_QUERY_DEVICE] = { "ibv_query_device", "IBVERBS_1.1" },
	[VBF_QUERY_PORT] = { "ibv_query_port", "IBVERBS_1.1" },
	[VBF_QUERY_GID] = { "ibv_query_gid", "IBVERBS_1.1" },
	[VBF_QUERY_PKEY] = { "ibv_query_pkey", "IBVERBS_1.1" },
	[VBF_GET_PKEY_INDEX] = { "ibv_get_pkey_index", "IBVERBS_1.5" },
	[VBF_QUERY_GID_EX] = { "_ibv_query_gid_ex", "IBVERBS_1.11" },
	[VBF_QUERY_GID_TABLE] = { "_ibv_query_gid_table", "IBVERBS_1.11" },
	[VBF_ALLOC_PD] = { "ibv_alloc_pd", "IBVERBS_1.1" },
	[VBF_DEALLOC_PD] = { "ibv_dealloc_pd", "IBVERBS_1.1" },
	[VBF_REG_MR] = { "ibv_reg_mr", "IBVERBS_1.1" },
	[VBF_REG_MR_IOVA] = { "ibv_reg_mr_iova", "IBVERBS_1.7" },
	[VBF_REG_MR_IOVA2] = { "ibv_reg_mr_iova2", "IBVERBS_1.8" },
	[VBF_REG_DMABUF_MR] = { "ibv_reg_dmabuf_mr", "IBVERBS_1.12" },
	[VBF_REREG_MR] = { "ibv_rereg_mr", "IBVERBS_1.1" },
	[VBF_DEREG_MR] = { "ibv_dereg_mr", "IBVERBS_1.1" },
	[VBF_CREATE_COMP_CHANNEL] = { "ibv_create_comp_channel", "IBVERBS_1.0" },
	[VBF_DESTROY_COMP_CHANNEL] = { "ibv_destroy_comp_channel", "IBVERBS_1.0" },
	[VBF_CREATE_CQ] = { "ibv_create_cq", "IBVERBS_1.1" },
	[VBF_RESIZE_CQ] = { "ibv_resize_cq", "IBVERBS_1.1" },
	[VBF_DESTROY_CQ] = { "ibv_destroy_cq", "IBVERBS_1.1" },
	[VBF_GET_CQ_EVENT] = { "ibv_get_cq_event", "IBVERBS_1.1" },
	[VBF_ACK_CQ_EVENTS] = { "ibv_ack_cq_events", "IBVERBS_1.1" },
	[VBF_CREATE_SRQ] = { "ibv_create_srq", "IBVERBS_1.1" },
	[VBF_MODIFY_SRQ] = { "ibv_modify_srq", "IBVERBS_1.1" },
	[VBF_QUERY_SRQ] = { "ibv_query_srq", "IBVERBS_1.1" },
	[VBF_DESTROY_SRQ] = { "ibv_destroy_srq", "IBVERBS_1.1" },
	[VBF_CREATE_QP] = { "ibv_create_qp", "IBVERBS_1.1" },
	[VBF_MODIFY_QP] = { "ibv_modify_qp", "IBVERBS_1.1" },
	[VBF_QUERY_QP] = { "ibv_query_qp", "IBVERBS_1.1" },
	[VBF_DESTROY_QP] = { "ibv_destroy_qp", "IBVERBS_1.1" },
	[VBF_QP_TO_QP_EX] = { "ibv_qp_to_qp_ex", "IBVERBS_1.6" },
	[VBF_QUERY_QP_DATA_IN_ORDER] = { "ibv_query_qp_data_in_order", "IBVERBS_1.14" },
	[VBF_QUERY_ECE] = { "ibv_query_ece", "IBVERBS_1.10" },
	[VBF_SET_ECE] = { "ibv_set_ece", "IBVERBS_1.10" },
	[VBF_CREATE_AH] = { "ibv_create_ah", "IBVERBS_1.1" },
	[VBF_DESTROY_AH] = { "ibv_destroy_ah", "IBVERBS_1.1" },
	[VBF_INIT_AH_FROM_WC] = { "ibv_init_ah_from_wc", "IBVERBS_1.1" },
	[VBF_CREATE_AH_FROM_WC] = { "ibv_create_ah_from_wc", "IBVERBS_1.1" },
	[VBF_ATTACH_MCAST] = { "ibv_attach_mcast", "IBVERBS_1.1" },
	[VBF_DETACH_MCAST] = { "ibv_detach_mcast", "IBVERBS_1.1" },
	[VBF_GET_ASYNC_EVENT] = { "ibv_get_async_event", "IBVERBS_1.1" },
	[VBF_ACK_ASYNC_EVENT] = { "ibv_ack_async_event", "IBVERBS_1.1" },
	[VBF_RESOLVE_ETH_L2] = { "ibv_resolve_eth_l2_from_gid", "IBVERBS_1.1" },
	[VBF_IMPORT_PD] = { "ibv_import_pd", "IBVERBS_1.10" },
	[VBF_IMPORT_MR] = { "ibv_import_mr", "IBVERBS_1.10" },
};

static void *slots[VBF_COUNT];
static char missing[VBF_COUNT]; /* libibverbs is loaded and lacks it */

static int is_ibverbs(struct dl_phdr_info *info, size_t size, void *arg)
{
	const char *name = info->dlpi_name, *base = strrchr(name, '/');

	(void)size;
	(void)arg;
	return !strncmp(base ? base + 1 : name, "libibverbs.so", 13);
}

static void *lookup(enum vb_fn f)
{
	void *p, *h;

	/* A failing dlvsym allocates its error message: never look up what
	 * cannot be there (the control thread asks at every PREPARE, in
	 * programs that never load libibverbs). */
	if (!dl_iterate_phdr(is_ibverbs, NULL))
		return NULL;
	p = crs_resolve(names[f].name, names[f].version);
	if (p)
		return p;
	h = dlopen("libibverbs.so.1", RTLD_LAZY | RTLD_NOLOAD);
	if (!h)
		return NULL;
	p = dlvsym(h, names[f].name, names[f].version);
	dlclose(h);
	if (!p) /* an older libibverbs: it will not grow the symbol */
		__atomic_store_n(&missing[f], 1, __ATOMIC_RELAXED);
	return p;
}

void *vb_real(enum vb_fn f)
{
	void *p = __atomic_load_n(&slots[f], __ATOMIC_ACQUIRE);

	if (!p && !__atomic_load_n(&missing[f], __ATOMIC_RELAXED)) {
		p = lookup(f);
		if (p)
			__atomic_store_n(&slots[f], p, __ATOMIC_RELEASE);
	}
	return p;
}
