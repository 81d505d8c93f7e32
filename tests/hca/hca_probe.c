// SPDX-License-Identifier: MIT
/*
 * hca_probe: open the first verbs device, create a PD, an MR, a CQ and an RC
 * QP, print the identifiers the device assigned, tear everything down.
 * Output, one line:  lid=0x.. guid=.. qpn=0x.. lkey=0x.. rkey=0x..
 */
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <infiniband/verbs.h>

int main(void)
{
	static char buf[4096];
	struct ibv_device **list;
	struct ibv_context *ctx;
	struct ibv_port_attr port;
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct ibv_qp_init_attr ia = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 1, .max_recv_wr = 1,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	int n;

	list = ibv_get_device_list(&n);
	if (!list || !n) {
		fprintf(stderr, "hca_probe: no device\n");
		return 1;
	}
	ctx = ibv_open_device(list[0]);
	if (!ctx || ibv_query_port(ctx, 1, &port)) {
		fprintf(stderr, "hca_probe: cannot open/query device\n");
		return 1;
	}
	pd = ibv_alloc_pd(ctx);
	mr = pd ? ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE |
			     IBV_ACCESS_REMOTE_WRITE) : NULL;
	cq = ibv_create_cq(ctx, 4, NULL, NULL, 0);
	ia.send_cq = ia.recv_cq = cq;
	qp = (pd && cq) ? ibv_create_qp(pd, &ia) : NULL;
	if (!mr || !qp) {
		fprintf(stderr, "hca_probe: cannot create objects\n");
		return 1;
	}
	printf("lid=0x%x guid=%016" PRIx64 " qpn=0x%x lkey=0x%x rkey=0x%x\n",
	       port.lid, be64toh(ibv_get_device_guid(list[0])), qp->qp_num,
	       mr->lkey, mr->rkey);
	if (ibv_destroy_qp(qp) || ibv_destroy_cq(cq) || ibv_dereg_mr(mr) ||
	    ibv_dealloc_pd(pd) || ibv_close_device(ctx)) {
		fprintf(stderr, "hca_probe: teardown failed\n");
		return 1;
	}
	ibv_free_device_list(list);
	return 0;
}
