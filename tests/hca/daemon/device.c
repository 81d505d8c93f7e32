// SPDX-License-Identifier: MIT
/* Identity and capabilities of the one simulated device and its port. */
#include "hcad.h"

#include <endian.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

struct hca_device hcadev;

uint32_t rand32(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)now_ns() * 2654435761u;
	return v;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void device_init(uint16_t lid, uint64_t guid)
{
	hcadev.lid = lid ? lid : (uint16_t)(1 + rand32() % 0xbffe);
	hcadev.node_guid = guid ? guid :
		0x0002c90300000000ull | rand32();
	hcadev.instance = ((uint64_t)rand32() << 32) | rand32();
}

void device_info(struct hca_dev_info *info)
{
	memset(info, 0, sizeof(*info));
	strncpy(info->name, HCA_DEV_NAME, sizeof(info->name) - 1);
	info->node_guid = hcadev.node_guid;
	info->sys_image_guid = hcadev.node_guid;
	info->subnet_prefix = HCA_SUBNET_PREFIX;
	info->port_guid = hcadev.node_guid + 1;
	info->instance = hcadev.instance;
	info->daemon_pid = (uint32_t)getpid();
	info->num_comp_vectors = 1;
	info->lid = hcadev.lid;
	info->phys_port_cnt = 1;
}

void device_gid(union ibv_gid *gid)
{
	gid->global.subnet_prefix = htobe64(HCA_SUBNET_PREFIX);
	gid->global.interface_id = htobe64(hcadev.node_guid + 1);
}

void device_attr(struct ibv_device_attr_ex *x)
{
	struct ibv_device_attr *a = &x->orig_attr;

	memset(x, 0, sizeof(*x));
	snprintf(a->fw_ver, sizeof(a->fw_ver), "1.0.0 (crs-hca)");
	a->node_guid = htobe64(hcadev.node_guid);
	a->sys_image_guid = htobe64(hcadev.node_guid);
	a->max_mr_size = 1ull << 40;
	a->page_size_cap = 0xfffff000u;
	a->vendor_id = 0x4352;
	a->vendor_part_id = 1;
	a->hw_ver = 1;
	a->max_qp = 1 << 16;
	a->max_qp_wr = HCA_MAX_WR;
	a->device_cap_flags = IBV_DEVICE_BAD_PKEY_CNTR |
		IBV_DEVICE_BAD_QKEY_CNTR | IBV_DEVICE_CURR_QP_STATE_MOD |
		IBV_DEVICE_PORT_ACTIVE_EVENT | IBV_DEVICE_SYS_IMAGE_GUID |
		IBV_DEVICE_RC_RNR_NAK_GEN | IBV_DEVICE_SRQ_RESIZE;
	a->max_sge = HCA_MAX_SGE;
	a->max_sge_rd = HCA_MAX_SGE;
	a->max_cq = 1 << 16;
	a->max_cqe = HCA_MAX_CQE;
	a->max_mr = 1 << 20;
	a->max_pd = 1 << 16;
	a->max_qp_rd_atom = HCA_MAX_RD_ATOM;
	a->max_res_rd_atom = HCA_MAX_RD_ATOM << 16;
	a->max_qp_init_rd_atom = HCA_MAX_RD_ATOM;
	a->atomic_cap = IBV_ATOMIC_HCA;
	a->max_ah = 1 << 20;
	a->max_srq = 1 << 16;
	a->max_srq_wr = HCA_MAX_WR;
	a->max_srq_sge = HCA_MAX_SGE;
	a->max_pkeys = 1;
	a->local_ca_ack_delay = 16;
	a->phys_port_cnt = 1;
	x->completion_timestamp_mask = ~0ull;
	x->hca_core_clock = 1000000;	/* kHz: timestamps are ns */
	x->phys_port_cnt_ex = 1;
}

void device_port_attr(struct ibv_port_attr *p)
{
	memset(p, 0, sizeof(*p));
	p->state = IBV_PORT_ACTIVE;
	p->max_mtu = IBV_MTU_4096;
	p->active_mtu = IBV_MTU_4096;
	p->gid_tbl_len = 1;
	p->port_cap_flags = IBV_PORT_SM | IBV_PORT_SYS_IMAGE_GUID_SUP;
	p->max_msg_sz = HCA_MAX_MSG_SZ;
	p->bad_pkey_cntr = 0;
	p->qkey_viol_cntr = 0;
	p->pkey_tbl_len = 1;
	p->lid = hcadev.lid;
	p->sm_lid = hcadev.lid;
	p->lmc = 0;
	p->max_vl_num = 1;
	p->sm_sl = 0;
	p->subnet_timeout = 18;
	p->init_type_reply = 0;
	p->active_width = 2;	/* 4x */
	p->active_speed = 32;	/* 25 Gbps (EDR) */
	p->phys_state = 5;	/* LinkUp */
	p->link_layer = IBV_LINK_LAYER_INFINIBAND;
	p->flags = 0;
	p->port_cap_flags2 = 0;
}
