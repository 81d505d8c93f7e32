// SPDX-License-Identifier: MIT
/* Protection domains and address handles. */
#include "internal.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ibv_pd *sim_alloc_pd(struct ibv_context *context)
{
	struct hca_handle_msg rep;
	struct ibv_pd *pd = calloc(1, sizeof(*pd));
	int err;

	if (!pd) {
		errno = ENOMEM;
		return NULL;
	}
	err = hca_call(to_hctx(context), HCA_OP_ALLOC_PD, NULL, 0, -1,
		       &rep, sizeof(rep));
	if (err) {
		free(pd);
		errno = err;
		return NULL;
	}
	pd->context = context;
	pd->handle = rep.handle;
	return pd;
}
EXPORT_1_1(sim_alloc_pd, ibv_alloc_pd);

int sim_dealloc_pd(struct ibv_pd *pd)
{
	struct hca_handle_msg q = { .handle = pd->handle };
	int err;

	err = hca_call(to_hctx(pd->context), HCA_OP_DEALLOC_PD, &q, sizeof(q),
		       -1, NULL, 0);
	/* a device that went away (EIO) took the object with it */
	if (err && err != EIO)
		return err;
	free(pd);
	return 0;
}
EXPORT_1_1(sim_dealloc_pd, ibv_dealloc_pd);

struct ibv_pd *sim_import_pd(struct ibv_context *context, uint32_t handle)
{
	errno = EOPNOTSUPP;
	return NULL;
}
EXPORT(sim_import_pd, ibv_import_pd, "IBVERBS_1.10");

void sim_unimport_pd(struct ibv_pd *pd)
{
}
EXPORT(sim_unimport_pd, ibv_unimport_pd, "IBVERBS_1.10");

struct ibv_ah *sim_create_ah(struct ibv_pd *pd, struct ibv_ah_attr *attr)
{
	struct hca_create_ah_req q = { .pd = pd->handle, .attr = *attr };
	struct hca_handle_msg rep;
	struct ibv_ah *ah = calloc(1, sizeof(*ah));
	int err;

	if (!ah) {
		errno = ENOMEM;
		return NULL;
	}
	err = hca_call(to_hctx(pd->context), HCA_OP_CREATE_AH, &q, sizeof(q),
		       -1, &rep, sizeof(rep));
	if (err) {
		free(ah);
		errno = err;
		return NULL;
	}
	ah->context = pd->context;
	ah->pd = pd;
	ah->handle = rep.handle;
	return ah;
}
EXPORT_1_1(sim_create_ah, ibv_create_ah);

int sim_destroy_ah(struct ibv_ah *ah)
{
	struct hca_handle_msg q = { .handle = ah->handle };
	int err;

	err = hca_call(to_hctx(ah->context), HCA_OP_DESTROY_AH, &q, sizeof(q),
		       -1, NULL, 0);
	/* a device that went away (EIO) took the object with it */
	if (err && err != EIO)
		return err;
	free(ah);
	return 0;
}
EXPORT_1_1(sim_destroy_ah, ibv_destroy_ah);

int sim_init_ah_from_wc(struct ibv_context *context, uint8_t port_num,
			struct ibv_wc *wc, struct ibv_grh *grh,
			struct ibv_ah_attr *ah)
{
	memset(ah, 0, sizeof(*ah));
	ah->dlid = wc->slid;
	ah->sl = wc->sl;
	ah->src_path_bits = wc->dlid_path_bits;
	ah->port_num = port_num;
	if (wc->wc_flags & IBV_WC_GRH) {
		uint32_t flow = be32toh(grh->version_tclass_flow);

		ah->is_global = 1;
		ah->grh.dgid = grh->sgid;
		ah->grh.flow_label = flow & 0xfffff;
		ah->grh.sgid_index = 0;
		ah->grh.hop_limit = 0xff;
		ah->grh.traffic_class = (flow >> 20) & 0xff;
	}
	return 0;
}
EXPORT(sim_init_ah_from_wc, ibv_init_ah_from_wc, "IBVERBS_1.1");

struct ibv_ah *sim_create_ah_from_wc(struct ibv_pd *pd, struct ibv_wc *wc,
				     struct ibv_grh *grh, uint8_t port_num)
{
	struct ibv_ah_attr attr;

	if (sim_init_ah_from_wc(pd->context, port_num, wc, grh, &attr))
		return NULL;
	return sim_create_ah(pd, &attr);
}
EXPORT(sim_create_ah_from_wc, ibv_create_ah_from_wc, "IBVERBS_1.1");
