/*
 * Connecting rebuilt QPs.  `crshim` collects every process's translations
 * (VERBS_REBUILD answers) and hands each shim the whole table as a file
 * (VERBS_CONNECT with the fd), one record per line:
 *
 *   P <proc> <pid>                      a process of the checkpoint
 *   L <vlid> <lid>                      a port's LID: virtual, real now
 *   G <vgid> <gid>                      a GID (32 hex digits each)
 *   Q <proc> <vlid> <vqpn> <lid> <qpn>  a QP: virtual and real LID/number
 *   K <proc> <vrkey> <rkey>             an rkey that changed
 *
 * Numbers are decimal.  The table goes into the maps the fast path reads
 * (it runs while the gate is closed); then each QP is moved to RTR/RTS with
 * its peer's real QP number and LID, AHs are recreated, armed CQs armed
 * again.  Without a table (RESUME/RESTORED alone) only this process's own
 * QPs can be peers.
 */
#include "verbs_hook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct table_state {
	uint32_t self; /* our proc index, 0 until seen */
	int any_peer_xl, any_rkey_xl;
};

static int hex_gid(const char *s, union ibv_gid *g)
{
	for (int i = 0; i < 16; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		g->raw[i] = (uint8_t)v;
	}
	return 0;
}

static void add_lid(uint16_t vlid, uint16_t lid)
{
	for (int i = 0; i < vb_nlids; i++)
		if (vb_lids[i].vlid == vlid)
			return;
	if (vb_nlids < VB_MAX_LIDS)
		vb_lids[vb_nlids++] = (struct vb_lidmap){ vlid, lid };
}

static void add_gid(const union ibv_gid *v, const union ibv_gid *g)
{
	for (int i = 0; i < vb_ngids; i++)
		if (!memcmp(vb_gids[i].vgid.raw, v->raw, 16))
			return;
	if (vb_ngids < VB_MAX_GIDMAP) {
		vb_gids[vb_ngids].vgid = *v;
		vb_gids[vb_ngids++].gid = *g;
	}
}

static void add_qp(struct table_state *t, uint32_t proc, unsigned vlid, unsigned vqpn, unsigned lid, unsigned qpn)
{
	vb_map_put(&vb_peer_fwd, VB_LQ(vlid, vqpn), VB_PEER(proc, lid, qpn));
	vb_map_put(&vb_peer_rev, VB_LQ(lid, qpn), VB_LQ(vlid, vqpn));
	if (vlid != lid || vqpn != qpn)
		t->any_peer_xl = 1;
}

static void parse_line(struct table_state *t, const char *l)
{
	unsigned a, b, c, d, e;
	char g1[40], g2[40];

	switch (l[0]) {
	case 'P':
		if (sscanf(l, "P %u %u", &a, &b) == 2 && (pid_t)b == getpid())
			t->self = a;
		break;
	case 'L':
		if (sscanf(l, "L %u %u", &a, &b) == 2)
			add_lid((uint16_t)a, (uint16_t)b);
		break;
	case 'G':
		if (sscanf(l, "G %39s %39s", g1, g2) == 2) {
			union ibv_gid v, g;

			if (!hex_gid(g1, &v) && !hex_gid(g2, &g))
				add_gid(&v, &g);
		}
		break;
	case 'Q':
		if (sscanf(l, "Q %u %u %u %u %u", &a, &b, &c, &d, &e) == 5)
			add_qp(t, a, b, c, d, e);
		break;
	case 'K':
		if (sscanf(l, "K %u %u %u", &a, &b, &c) == 3) {
			vb_map_put(&vb_rkeys, ((uint64_t)a << 32) | b, c);
			t->any_rkey_xl = 1;
		}
		break;
	}
}

static int read_table(struct table_state *t, int fd)
{
	char buf[4096], line[256];
	size_t ll = 0;
	ssize_t n;
	off_t off = 0;

	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		off += n;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = 0;
			ll = 0;
			parse_line(t, line);
		}
	}
	return n < 0 ? -1 : 0;
}

/* This process alone: its own QPs and keys (proc 1). */
static void own_table(struct table_state *t)
{
	struct vb_qp *q;
	struct vb_mr *m;

	t->self = 1;
	vb_for_each(q, VB_QP, struct vb_qp) {
		uint8_t port = (q->mask[IBV_QPS_INIT] & IBV_QP_PORT) ? q->attr.port_num : 1;
		struct vb_port *p = port <= VB_MAX_PORTS ? &q->pd->ctx->rec->port[port] : NULL;
		uint16_t vlid = p && p->known ? p->vlid : 0, lid = p && p->known ? p->lid : 0;

		add_qp(t, 1, vlid, q->pub.qp_num, lid, q->qpn);
	}
	vb_for_each(m, VB_MR, struct vb_mr)
		if (m->pub.rkey != m->rkey) {
			vb_map_put(&vb_rkeys, (1ull << 32) | m->pub.rkey, m->rkey);
			t->any_rkey_xl = 1;
		}
}

static void reset_peers(void)
{
	vb_map_reset(&vb_peer_fwd);
	vb_map_reset(&vb_peer_rev);
	vb_map_reset(&vb_rkeys);
	vb_nlids = vb_ngids = 0;
}

static int connect_qps(char *err, size_t errlen)
{
	struct vb_qp *q;

	vb_for_each(q, VB_QP, struct vb_qp) {
		int t = q->real_state;

		if (t == IBV_QPS_RESET || t == IBV_QPS_INIT)
			continue;
		if (vb_replay_qp(q, t, err, errlen) < 0)
			return -1;
		q->pub.state = (enum ibv_qp_state)t;
	}
	return 0;
}

static int rebuild_ahs(char *err, size_t errlen)
{
	create_ah_fn create = VB_REAL(VBF_CREATE_AH, create_ah_fn);
	struct vb_ah *h;

	vb_for_each(h, VB_AH, struct vb_ah) {
		struct ibv_ah_attr a = h->attr;

		vb_ah_attr_to_real(&a);
		h->real = create(h->pd->real, &a);
		if (!h->real) {
			snprintf(err, errlen, "verbs: cannot create an address handle for LID 0x%04x again: %s",
				 h->attr.dlid, strerror(errno));
			return -1;
		}
		h->pub.handle = h->real->handle;
	}
	return 0;
}

static void rearm(void)
{
	struct vb_cq *c;
	struct vb_ch *ch;

	vb_for_each(c, VB_CQ, struct vb_cq)
		if (c->armed && c->r_notify(c->real, c->armed == 2))
			crs_warn("verbs: cannot arm a CQ again");
	vb_for_each(ch, VB_CH, struct vb_ch)
		vb_ch_synth(ch);
}

static int set_lids_flag(void)
{
	for (int d = 0; d < VB_MAX_DEVS && vb_devs[d].name[0]; d++)
		for (int p = 1; p <= VB_MAX_PORTS; p++)
			if (vb_devs[d].port[p].known && vb_devs[d].port[p].vlid != vb_devs[d].port[p].lid)
				return 1;
	for (int i = 0; i < vb_nlids; i++)
		if (vb_lids[i].vlid != vb_lids[i].lid)
			return 1;
	return 0;
}

int vb_connect(int table_fd, char *err, size_t errlen)
{
	struct table_state t = { 0 };
	int g, r;

	if (vb_state != VB_REBUILT)
		return 0;
	pthread_mutex_lock(&vb_lock);
	reset_peers();
	if (table_fd >= 0) {
		if (read_table(&t, table_fd) < 0 || !t.self) {
			snprintf(err, errlen, "verbs: the peer table does not name this process (pid %d)", (int)getpid());
			pthread_mutex_unlock(&vb_lock);
			return -1;
		}
	} else {
		own_table(&t);
	}
	vb_xl_peer = t.any_peer_xl || set_lids_flag();
	g = vb_quiet();
	r = connect_qps(err, errlen);
	if (!r)
		r = rebuild_ahs(err, errlen);
	if (!r)
		rearm();
	vb_loud(g);
	vb_update_all_xlate();
	if (!r)
		vb_state = VB_CONNECTED;
	pthread_mutex_unlock(&vb_lock);
	return r;
}

void vb_go(void)
{
	pthread_mutex_lock(&vb_lock);
	if (vb_state == VB_QUIESCED || vb_state == VB_CONNECTED)
		vb_state = VB_RUNNING;
	pthread_mutex_unlock(&vb_lock);
	if (vb_state == VB_RUNNING)
		vb_gate_open();
}
