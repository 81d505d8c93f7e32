/*
 * The verbs layer as the control endpoint sees it: PREPARE (quiesce and
 * release), RESUME / RESTORED (rebuild, connect to this process's own QPs
 * only, open the gate) and the VERBS_ requests `crshim` uses to do the
 * same across processes:
 *
 *   VERBS_TABLE     the translation table (ports, QPs, changed rkeys)
 *   VERBS_QUIESCE   close the gate, drain sends; answers the table
 *   VERBS_REBUILD   recreate released objects (QPs up to INIT); the table
 *   VERBS_CONNECT   with the peer table as a passed fd: QPs to RTR/RTS
 *   VERBS_GO        open the gate: the program's verbs calls go on
 */
#include "jsonw.h"
#include "verbs_int.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int crs_verbs_prepare(char *err, size_t errlen)
{
	if (!crs_active(CRS_HOOK_VERBS))
		return 0;
	if (vb_quiesce(err, errlen) < 0)
		return -1;
	if (vb_release(err, errlen) < 0) {
		vb_go();
		return -1;
	}
	return 0;
}

int crs_verbs_resume(int restored, char *err, size_t errlen)
{
	if (!crs_active(CRS_HOOK_VERBS) || vb_state == VB_RUNNING)
		return 0;
	if (vb_rebuild(err, errlen) < 0 || vb_connect(-1, err, errlen) < 0)
		return -1;
	vb_go();
	crs_debug("verbs: %s, running again", restored ? "restored" : "resumed");
	return 0;
}

static uint16_t qp_vlid(const struct vb_qp *q)
{
	uint8_t port = (q->mask[IBV_QPS_INIT] & IBV_QP_PORT) ? q->attr.port_num : 1;
	const struct vb_port *p = port >= 1 && port <= VB_MAX_PORTS ? &q->pd->ctx->rec->port[port] : NULL;

	return p && p->known ? p->vlid : 0;
}

/* Why q stops a self-checkpoint (err set, 1), or 0 when its only peer is a
 * QP of this process, or it carries nothing (ERR). */
static int qp_blocks_self(const struct vb_qp *q, char *err, size_t errlen)
{
	int st = (int)q->pub.state;
	const struct vb_qp *peer;

	if (st == IBV_QPS_ERR)
		return 0;
	if (st == IBV_QPS_RESET || st == IBV_QPS_INIT) {
		snprintf(err, errlen,
			 "QP 0x%06x is not connected yet: its number may already be known to another process",
			 q->pub.qp_num);
		return 1;
	}
	if (q->pub.qp_type == IBV_QPT_UD || !(q->mask[IBV_QPS_RTR] & IBV_QP_DEST_QPN)) {
		snprintf(err, errlen, "QP 0x%06x (UD) is reachable by any process", q->pub.qp_num);
		return 1;
	}
	peer = (const struct vb_qp *)(uintptr_t)vb_map_get(&vb_qp_virt, q->attr.dest_qp_num, 0);
	if (peer && (q->attr.ah_attr.is_global || q->attr.ah_attr.dlid == qp_vlid(peer)))
		return 0;
	snprintf(err, errlen, "QP 0x%06x is connected to QP 0x%06x (LID 0x%04x) of another process",
		 q->pub.qp_num, q->attr.dest_qp_num, q->attr.ah_attr.dlid);
	return 1;
}

/*
 * Can this process checkpoint itself (crshim_checkpoint_self)?  It then
 * rebuilds its QPs alone, connecting them to its own QPs only: a peer in
 * another process would keep sending to a QP that no longer exists.  So
 * every QP must be connected to one of this process's own (or be in ERR).
 * 0, or -1 with the reason in err.
 */
int crs_verbs_self_check(char *err, size_t errlen)
{
	char why[200];
	struct vb_qp *q;
	int bad = 0;

	if (!crs_active(CRS_HOOK_VERBS))
		return 0;
	pthread_mutex_lock(&vb_lock);
	vb_for_each(q, VB_QP, struct vb_qp) {
		if (qp_blocks_self(q, why, sizeof(why))) {
			bad = 1;
			break;
		}
	}
	pthread_mutex_unlock(&vb_lock);
	if (bad)
		snprintf(err, errlen, "verbs: %s; a self-checkpoint cannot reconnect the peers of its "
			 "queue pairs: verbs connections to other processes need `crshim dump` of all "
			 "the peers together", why);
	return bad ? -1 : 0;
}

static void answer_fail(struct crs_jsonw *w, const char *msg)
{
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_bool(w, "ok", 0);
	crs_jsonw_kv_str(w, "error", msg);
	crs_jsonw_obj_end(w);
}

static void answer_table(struct crs_jsonw *w)
{
	crs_jsonw_obj_begin(w);
	crs_jsonw_kv_bool(w, "ok", 1);
	crs_jsonw_kv_int(w, "pid", getpid());
	pthread_mutex_lock(&vb_lock);
	vb_write_table(w);
	pthread_mutex_unlock(&vb_lock);
	crs_jsonw_obj_end(w);
}

int crs_verbs_request(struct crs_jsonw *w, const char *req, int fd)
{
	char err[512];

	if (!crs_active(CRS_HOOK_VERBS)) {
		answer_fail(w, "the verbs layer is off in this process (CRSHIM_HOOKS)");
		return 1;
	}
	if (!strcmp(req, "VERBS_TABLE")) {
		answer_table(w);
	} else if (!strcmp(req, "VERBS_QUIESCE")) {
		if (vb_quiesce(err, sizeof(err)) < 0)
			answer_fail(w, err);
		else
			answer_table(w);
	} else if (!strcmp(req, "VERBS_REBUILD")) {
		if (vb_rebuild(err, sizeof(err)) < 0)
			answer_fail(w, err);
		else
			answer_table(w);
	} else if (!strcmp(req, "VERBS_CONNECT")) {
		if (fd < 0)
			answer_fail(w, "VERBS_CONNECT needs the peer table as a passed file descriptor");
		else if (vb_connect(fd, err, sizeof(err)) < 0)
			answer_fail(w, err);
		else
			answer_table(w);
	} else if (!strcmp(req, "VERBS_GO")) {
		vb_go();
		answer_table(w);
	} else {
		return 0;
	}
	return 1;
}
