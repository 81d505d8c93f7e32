/*
 * The verbs layer in JSON: "verbs" in the process record (STATUS, PREPARE)
 * and the translation table of the VERBS_ answers.  Called with vb_lock
 * held (the table) or taking it (the record).
 */
#include "jsonw.h"
#include "verbs_int.h"

#include <stdio.h>

#define LIST_MAX 256 /* objects listed one by one per kind */

const char *vb_state_name(int s)
{
	static const char *const n[] = { "running", "quiesced", "released", "rebuilt", "connected" };

	return s >= 0 && s <= VB_CONNECTED ? n[s] : "unknown";
}

const char *vb_qps_name(int s)
{
	static const char *const n[] = { "RESET", "INIT", "RTR", "RTS", "SQD", "SQE", "ERR" };

	return s >= 0 && s <= IBV_QPS_ERR ? n[s] : "UNKNOWN";
}

static const char *qpt_name(int t)
{
	switch (t) {
	case IBV_QPT_RC: return "RC";
	case IBV_QPT_UC: return "UC";
	case IBV_QPT_UD: return "UD";
	default: return "other";
	}
}

static void gid_hex(const union ibv_gid *g, char *out)
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", g->raw[i]);
}

static struct vb_port *qp_port(const struct vb_qp *q)
{
	uint8_t port = (q->mask[IBV_QPS_INIT] & IBV_QP_PORT) ? q->attr.port_num : 1;

	return port >= 1 && port <= VB_MAX_PORTS ? &q->pd->ctx->rec->port[port] : NULL;
}

static int qp_state(const struct vb_qp *q)
{
	return vb_state >= VB_RELEASED && vb_state < VB_CONNECTED ? q->real_state : (int)q->pub.state;
}

static int qp_connected(const struct vb_qp *q)
{
	int st = qp_state(q);

	return q->pub.qp_type != IBV_QPT_UD && (q->mask[IBV_QPS_RTR] & IBV_QP_DEST_QPN) &&
	       (st == IBV_QPS_RTR || st == IBV_QPS_RTS || st == IBV_QPS_SQD);
}

static void write_ports(struct crs_jsonw *w)
{
	crs_jsonw_key(w, "ports");
	crs_jsonw_arr_begin(w);
	for (int d = 0; d < VB_MAX_DEVS && vb_devs[d].name[0]; d++) {
		for (int p = 1; p <= VB_MAX_PORTS; p++) {
			const struct vb_port *pt = &vb_devs[d].port[p];

			if (!pt->known && !pt->gid_known)
				continue;
			crs_jsonw_obj_begin(w);
			crs_jsonw_kv_str(w, "device", vb_devs[d].name);
			crs_jsonw_kv_int(w, "port", p);
			crs_jsonw_kv_uint(w, "vlid", pt->vlid);
			crs_jsonw_kv_uint(w, "lid", pt->lid);
			crs_jsonw_key(w, "gids");
			crs_jsonw_arr_begin(w);
			for (int i = 0; i < VB_MAX_GIDS; i++) {
				char v[40], g[40];

				if (!(pt->gid_known & (1u << i)))
					continue;
				gid_hex(&pt->vgid[i], v);
				gid_hex(&pt->gid[i], g);
				crs_jsonw_obj_begin(w);
				crs_jsonw_kv_int(w, "index", i);
				crs_jsonw_kv_str(w, "vgid", v);
				crs_jsonw_kv_str(w, "gid", g);
				crs_jsonw_obj_end(w);
			}
			crs_jsonw_arr_end(w);
			crs_jsonw_obj_end(w);
		}
	}
	crs_jsonw_arr_end(w);
}

static void write_qp(struct crs_jsonw *w, const struct vb_qp *q, int brief)
{
	const struct vb_port *p = qp_port(q);

	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_uint(w, "vqpn", q->pub.qp_num);
	crs_jsonw_kv_uint(w, "qpn", q->qpn);
	crs_jsonw_kv_uint(w, "vlid", p && p->known ? p->vlid : 0);
	crs_jsonw_kv_uint(w, "lid", p && p->known ? p->lid : 0);
	crs_jsonw_kv_str(w, "type", qpt_name(q->pub.qp_type));
	crs_jsonw_kv_str(w, "state", vb_qps_name(qp_state(q)));
	crs_jsonw_kv_bool(w, "connected", qp_connected(q));
	if (q->mask[IBV_QPS_RTR] & IBV_QP_DEST_QPN) {
		crs_jsonw_kv_uint(w, "remote_vqpn", q->attr.dest_qp_num);
		crs_jsonw_kv_uint(w, "remote_vlid", q->attr.ah_attr.dlid);
	}
	if (!brief) {
		crs_jsonw_kv_uint(w, "recv_posted", q->srq ? 0 : q->rlog.n);
		crs_jsonw_kv_uint(w, "sends_in_flight", q->sig_posted - q->sig_done);
	}
	crs_jsonw_obj_end(w);
}

void vb_write_table(struct crs_jsonw *w)
{
	struct vb_qp *q;
	struct vb_mr *m;

	crs_jsonw_kv_str(w, "verbs_state", vb_state_name(vb_state));
	crs_jsonw_kv_bool(w, "verbs", vb_count(VB_CTX) > 0);
	write_ports(w);
	crs_jsonw_key(w, "qps");
	crs_jsonw_arr_begin(w);
	vb_for_each(q, VB_QP, struct vb_qp)
		write_qp(w, q, 1);
	crs_jsonw_arr_end(w);
	crs_jsonw_key(w, "rkeys");
	crs_jsonw_arr_begin(w);
	vb_for_each(m, VB_MR, struct vb_mr) {
		if (m->pub.rkey == m->rkey)
			continue;
		crs_jsonw_arr_begin(w);
		crs_jsonw_uint(w, m->pub.rkey);
		crs_jsonw_uint(w, m->rkey);
		crs_jsonw_arr_end(w);
	}
	crs_jsonw_arr_end(w);
}

static void write_mrs(struct crs_jsonw *w)
{
	struct vb_mr *m;
	int n = 0;

	crs_jsonw_key(w, "mrs");
	crs_jsonw_arr_begin(w);
	vb_for_each(m, VB_MR, struct vb_mr) {
		if (n++ >= LIST_MAX)
			continue;
		crs_jsonw_obj_begin(w);
		crs_jsonw_kv_hex(w, "addr", (uintptr_t)m->pub.addr);
		crs_jsonw_kv_uint(w, "length", m->pub.length);
		crs_jsonw_kv_hex(w, "iova", m->iova);
		crs_jsonw_kv_uint(w, "access", m->access);
		crs_jsonw_kv_uint(w, "lkey", m->pub.lkey);
		crs_jsonw_kv_uint(w, "rkey", m->pub.rkey);
		crs_jsonw_kv_uint(w, "real_lkey", m->lkey);
		crs_jsonw_kv_uint(w, "real_rkey", m->rkey);
		crs_jsonw_obj_end(w);
	}
	crs_jsonw_arr_end(w);
	crs_jsonw_kv_int(w, "mrs_total", n);
}

static void write_cqs(struct crs_jsonw *w)
{
	struct vb_cq *c;

	crs_jsonw_key(w, "cqs");
	crs_jsonw_arr_begin(w);
	vb_for_each(c, VB_CQ, struct vb_cq) {
		crs_jsonw_obj_begin(w);
		crs_jsonw_kv_int(w, "cqe", c->pub.cqe);
		crs_jsonw_kv_uint(w, "stashed", c->stash_n);
		crs_jsonw_kv_int(w, "armed", c->armed);
		crs_jsonw_kv_int(w, "channel_fd", c->ch ? c->ch->pub.fd : -1);
		crs_jsonw_obj_end(w);
	}
	crs_jsonw_arr_end(w);
}

void crs_verbs_report(struct crs_jsonw *w)
{
	struct vb_ctx *c;
	struct vb_qp *q;
	int n = 0;

	pthread_mutex_lock(&vb_lock);
	if (!vb_count(VB_CTX)) {
		pthread_mutex_unlock(&vb_lock);
		return;
	}
	crs_jsonw_key(w, "verbs");
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_str(w, "state", vb_state_name(vb_state));
	crs_jsonw_kv_uint(w, "generation", vb_generation);
	crs_jsonw_key(w, "contexts");
	crs_jsonw_arr_begin(w);
	vb_for_each(c, VB_CTX, struct vb_ctx) {
		crs_jsonw_obj_begin(w);
		crs_jsonw_kv_str(w, "device", c->dev.name);
		crs_jsonw_kv_int(w, "cmd_fd", c->vc.context.cmd_fd);
		crs_jsonw_kv_int(w, "async_fd", c->vc.context.async_fd);
		crs_jsonw_kv_bool(w, "open", c->real != NULL);
		crs_jsonw_obj_end(w);
	}
	crs_jsonw_arr_end(w);
	write_ports(w);
	crs_jsonw_kv_int(w, "pds", vb_count(VB_PD));
	write_mrs(w);
	crs_jsonw_kv_int(w, "channels", vb_count(VB_CH));
	write_cqs(w);
	crs_jsonw_kv_int(w, "srqs", vb_count(VB_SRQ));
	crs_jsonw_kv_int(w, "ahs", vb_count(VB_AH));
	crs_jsonw_key(w, "qps");
	crs_jsonw_arr_begin(w);
	vb_for_each(q, VB_QP, struct vb_qp)
		if (n++ < LIST_MAX)
			write_qp(w, q, 0);
	crs_jsonw_arr_end(w);
	crs_jsonw_obj_end(w);
	pthread_mutex_unlock(&vb_lock);
}
