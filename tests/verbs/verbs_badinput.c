/*
 * verbs_badinput: invalid verbs calls, one result line each (return value
 * and errno, or the completion status).  Nothing that varies between runs
 * (keys, QP numbers) is printed, so the output with and without the shim
 * must be identical (test_criu_verbs_errors.sh diffs them).
 */
#include "vt_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void show_ptr(const char *what, const void *p)
{
	printf("%-32s %s errno=%d\n", what, p ? "object" : "NULL", p ? 0 : errno);
	errno = 0;
}

static void show_int(const char *what, int r)
{
	printf("%-32s ret=%d errno=%d\n", what, r, r ? errno : 0);
	errno = 0;
}

static void objects(struct vt *v, char *buf)
{
	struct ibv_qp_init_attr ia = { .send_cq = v->cq, .recv_cq = v->cq, .qp_type = IBV_QPT_RC,
				       .cap = { .max_send_wr = 1u << 30, .max_recv_wr = 1, .max_send_sge = 1,
						.max_recv_sge = 1 } };
	struct ibv_srq_init_attr sa = { .attr = { .max_wr = 1u << 30, .max_sge = 1 } };
	struct ibv_ah_attr aa = { .dlid = 1, .port_num = 9 };
	struct ibv_port_attr pa;
	union ibv_gid gid;
	__be16 pkey;

	show_ptr("reg_mr remote write only", ibv_reg_mr(v->pd, buf, 4096, IBV_ACCESS_REMOTE_WRITE));
	show_ptr("reg_mr unknown access bits", ibv_reg_mr(v->pd, buf, 4096, 1 << 29));
	show_ptr("create_cq 0 entries", ibv_create_cq(v->ctx, 0, NULL, NULL, 0));
	show_ptr("create_cq huge", ibv_create_cq(v->ctx, 1 << 30, NULL, NULL, 0));
	show_ptr("create_qp huge send queue", ibv_create_qp(v->pd, &ia));
	ia.cap.max_send_wr = 1;
	ia.qp_type = (enum ibv_qp_type)99;
	show_ptr("create_qp unknown type", ibv_create_qp(v->pd, &ia));
	show_ptr("create_srq huge", ibv_create_srq(v->pd, &sa));
	show_ptr("create_ah port 9", ibv_create_ah(v->pd, &aa));
	show_int("query_port 7", ibv_query_port(v->ctx, 7, &pa));
	show_int("query_gid index 9", ibv_query_gid(v->ctx, 1, 9, &gid));
	show_int("query_pkey index 9", ibv_query_pkey(v->ctx, 1, 9, &pkey));
}

static void queue_pairs(struct vt *v, struct ibv_mr *mr, char *buf)
{
	struct ibv_qp_init_attr ia = { .send_cq = v->cq, .recv_cq = v->cq, .qp_type = IBV_QPT_RC,
				       .cap = { .max_send_wr = 4, .max_recv_wr = 4, .max_send_sge = 1,
						.max_recv_sge = 1 } };
	struct ibv_qp *qp = ibv_create_qp(v->pd, &ia);
	struct ibv_sge sg[4] = { { (uintptr_t)buf, 8, mr->lkey }, { (uintptr_t)buf, 8, mr->lkey },
				 { (uintptr_t)buf, 8, mr->lkey }, { (uintptr_t)buf, 8, mr->lkey } };
	struct ibv_send_wr swr = { .sg_list = sg, .num_sge = 1, .opcode = IBV_WR_SEND }, *sbad = NULL;
	struct ibv_recv_wr rwr = { .sg_list = sg, .num_sge = 1 }, *rbad = NULL;
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RTS };

	show_ptr("create_qp", qp);
	show_int("modify_qp RESET->RTS", ibv_modify_qp(qp, &a, IBV_QP_STATE));
	show_int("post_send in RESET", ibv_post_send(qp, &swr, &sbad));
	printf("%-32s %s\n", "  bad_wr", sbad == &swr ? "first" : "other");
	show_int("post_recv in RESET", ibv_post_recv(qp, &rwr, &rbad));
	printf("%-32s %s\n", "  bad_wr", rbad == &rwr ? "first" : "other");
	a.qp_state = IBV_QPS_INIT;
	a.port_num = 1;
	ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
	rwr.num_sge = 4;
	show_int("post_recv 4 SGEs (max 1)", ibv_post_recv(qp, &rwr, &rbad));
	printf("%-32s %s\n", "  bad_wr", rbad == &rwr ? "first" : "other");
	show_int("dealloc_pd in use", ibv_dealloc_pd(v->pd));
	show_int("destroy_cq in use", ibv_destroy_cq(v->cq));
	ibv_destroy_qp(qp);
}

/* Errors reported by completions: bad lkey, bad rkey (loopback QPs). */
static void completions(char *buf)
{
	struct vt a = { 0 }, b = { 0 };
	struct ibv_mr *ma, *mb;
	struct vt_dest da, db, bad;
	struct ibv_wc wc;
	int n = 0;

	vt_open(&a, NULL, 64, 16);
	vt_open(&b, NULL, 64, 16);
	ma = vt_reg(&a, buf, 4096);
	mb = vt_reg(&b, buf + 8192, 4096);
	da = (struct vt_dest){ a.lid, a.qp->qp_num, a.psn, ma->rkey, (uintptr_t)buf, 4096 };
	db = (struct vt_dest){ b.lid, b.qp->qp_num, b.psn, mb->rkey, (uintptr_t)buf + 8192, 4096 };
	vt_connect(&a, &db);
	vt_connect(&b, &da);
	bad = db;
	bad.rkey ^= 0x5a5a;
	vt_post(&a, IBV_WR_RDMA_WRITE, ma, buf, 8, &bad, 0, 1);
	while ((n = ibv_poll_cq(a.cq, 1, &wc)) == 0)
		;
	printf("%-32s %s\n", "RDMA write, bad rkey", n == 1 ? ibv_wc_status_str(wc.status) : "poll failed");
	{
		struct ibv_mr fake = *ma;

		fake.lkey ^= 0x5a5a;
		vt_post(&b, IBV_WR_RDMA_WRITE, &fake, buf + 8192, 8, &da, 0, 2);
	}
	while ((n = ibv_poll_cq(b.cq, 1, &wc)) == 0)
		;
	printf("%-32s %s\n", "RDMA write, bad lkey", n == 1 ? ibv_wc_status_str(wc.status) : "poll failed");
}

static void channels(struct vt *v)
{
	struct ibv_comp_channel *ch = ibv_create_comp_channel(v->ctx);
	struct ibv_cq *cq = ibv_create_cq(v->ctx, 4, NULL, ch, 0), *got;
	void *ctx;

	show_int("destroy_comp_channel in use", ibv_destroy_comp_channel(ch));
	fcntl(ch->fd, F_SETFL, fcntl(ch->fd, F_GETFL) | O_NONBLOCK);
	show_int("get_cq_event, none (nonblock)", ibv_get_cq_event(ch, &got, &ctx));
	ibv_destroy_cq(cq);
	show_int("destroy_comp_channel", ibv_destroy_comp_channel(ch));
}

int main(void)
{
	struct vt v = { 0 };
	char *buf = aligned_alloc(4096, 65536);
	struct ibv_mr *mr;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(buf, 0, 65536);
	vt_open(&v, NULL, 16, 4);
	mr = vt_reg(&v, buf, 4096);
	objects(&v, buf);
	queue_pairs(&v, mr, buf);
	channels(&v);
	show_int("rereg_mr no flags", ibv_rereg_mr(mr, 0, NULL, NULL, 0, 0));
	completions(buf + 16384);
	show_int("dereg_mr", ibv_dereg_mr(mr));
	free(buf);
	return 0;
}
