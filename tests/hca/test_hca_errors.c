// SPDX-License-Identifier: MIT
/*
 * test_hca_errors: checks that the simulated HCA behaves like hardware.
 * Two device contexts ("A" and "B") in one process, RC and UD QPs between
 * them; data movement, key/range/rights enforcement with the hardware
 * completion statuses, QP state machine, RNR, flushes, SRQ, completion
 * channels, and that a closed device leaves no descriptor behind.
 *
 * Run it against a crs-hcad (tests/hca/hca-run does that).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include <infiniband/verbs.h>

#define BUF_SIZE	65536
#define ALL_REMOTE	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
			 IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC)

static int passed, failed;

__attribute__((format(printf, 2, 3)))
static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", ok ? "ok" : "not ok", passed + failed + 1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

static void die(const char *what)
{
	fprintf(stderr, "FATAL: %s: %s\n", what, strerror(errno));
	exit(1);
}

struct side {
	const char *name;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	uint8_t *buf;
	struct ibv_mr *mr_all;	/* LOCAL_WRITE + remote rights: buf[0..32K) */
	struct ibv_mr *mr_lw;	/* LOCAL_WRITE only: buf[32K..48K) */
	struct ibv_mr *mr_ro;	/* no rights (local read): buf[48K..64K) */
	uint16_t lid;
};

#define OFF_LW	32768
#define OFF_RO	49152

static int count_sockets(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], target[256];
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		ssize_t l;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		l = readlink(path, target, sizeof(target) - 1);
		if (l > 0) {
			target[l] = '\0';
			if (!strncmp(target, "socket:", 7))
				n++;
		}
	}
	closedir(d);
	return n;
}

static struct ibv_qp *make_qp(struct side *s, enum ibv_qp_type t,
			      struct ibv_srq *srq, int sig_all)
{
	struct ibv_qp_init_attr ia = {
		.send_cq = s->cq, .recv_cq = s->cq, .srq = srq,
		.qp_type = t, .sq_sig_all = sig_all,
		.cap = { .max_send_wr = 16, .max_recv_wr = 16,
			 .max_send_sge = 2, .max_recv_sge = 2,
			 .max_inline_data = 64 },
	};
	struct ibv_qp *qp = ibv_create_qp(s->pd, &ia);

	if (!qp)
		die("ibv_create_qp");
	return qp;
}

static void open_side(struct side *s, const char *name)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_port_attr pa;

	s->name = name;
	if (!list || !list[0])
		die("no device");
	s->ctx = ibv_open_device(list[0]);
	ibv_free_device_list(list);
	if (!s->ctx)
		die("ibv_open_device");
	if (ibv_query_port(s->ctx, 1, &pa))
		die("ibv_query_port");
	s->lid = pa.lid;
	s->pd = ibv_alloc_pd(s->ctx);
	s->cq = ibv_create_cq(s->ctx, 128, NULL, NULL, 0);
	s->buf = aligned_alloc(4096, BUF_SIZE);
	if (!s->pd || !s->cq || !s->buf)
		die("setup");
	memset(s->buf, 0, BUF_SIZE);
	s->mr_all = ibv_reg_mr(s->pd, s->buf, OFF_LW, ALL_REMOTE);
	s->mr_lw = ibv_reg_mr(s->pd, s->buf + OFF_LW, OFF_RO - OFF_LW,
			      IBV_ACCESS_LOCAL_WRITE);
	s->mr_ro = ibv_reg_mr(s->pd, s->buf + OFF_RO, BUF_SIZE - OFF_RO, 0);
	if (!s->mr_all || !s->mr_lw || !s->mr_ro)
		die("ibv_reg_mr");
	s->qp = make_qp(s, IBV_QPT_RC, NULL, 0);
}

static int to_init(struct ibv_qp *qp, int access)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT, .pkey_index = 0, .port_num = 1,
		.qp_access_flags = access, .qkey = 0x11111111,
	};
	int mask = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT;

	mask |= qp->qp_type == IBV_QPT_UD ? IBV_QP_QKEY : IBV_QP_ACCESS_FLAGS;
	return ibv_modify_qp(qp, &a, mask);
}

static int to_rtr(struct ibv_qp *qp, uint32_t dqpn, uint16_t dlid)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR, .path_mtu = IBV_MTU_4096,
		.dest_qp_num = dqpn, .rq_psn = 0, .max_dest_rd_atomic = 4,
		.min_rnr_timer = 1,
		.ah_attr = { .dlid = dlid, .port_num = 1 },
	};

	if (qp->qp_type == IBV_QPT_UD)
		return ibv_modify_qp(qp, &a, IBV_QP_STATE);
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV |
			     IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
			     IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
			     IBV_QP_MIN_RNR_TIMER);
}

static int to_rts(struct ibv_qp *qp, int rnr_retry)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTS, .timeout = 14, .retry_cnt = 7,
		.rnr_retry = rnr_retry, .sq_psn = 0, .max_rd_atomic = 4,
	};

	if (qp->qp_type == IBV_QPT_UD)
		return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN);
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
			     IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
			     IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
}

static int to_state(struct ibv_qp *qp, enum ibv_qp_state st)
{
	struct ibv_qp_attr a = { .qp_state = st };

	return ibv_modify_qp(qp, &a, IBV_QP_STATE);
}

static void connect_qps(struct ibv_qp *x, struct ibv_qp *y, uint16_t lid,
			int rnr_retry)
{
	if (to_init(x, ALL_REMOTE) || to_init(y, ALL_REMOTE) ||
	    to_rtr(x, y->qp_num, lid) || to_rtr(y, x->qp_num, lid) ||
	    to_rts(x, rnr_retry) || to_rts(y, rnr_retry))
		die("connect");
}

static void connect_self(struct ibv_qp *qp, uint16_t lid)
{
	if (to_init(qp, ALL_REMOTE) || to_rtr(qp, qp->qp_num, lid) ||
	    to_rts(qp, 7))
		die("connect to self");
}

static void drain(struct ibv_cq *cq)
{
	struct ibv_wc wc[16];

	while (ibv_poll_cq(cq, 16, wc) > 0)
		;
}

/* Reset both QPs and connect them again (after an error). */
static void reconnect(struct side *a, struct side *b, int rnr_retry)
{
	if (to_state(a->qp, IBV_QPS_RESET) || to_state(b->qp, IBV_QPS_RESET))
		die("reset");
	drain(a->cq);
	drain(b->cq);
	connect_qps(a->qp, b->qp, a->lid, rnr_retry);
}

static int wait_wc(struct ibv_cq *cq, struct ibv_wc *wc, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int n = ibv_poll_cq(cq, 1, wc);

		if (n)
			return n;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return 0;
	}
}

static int post_send(struct ibv_qp *qp, enum ibv_wr_opcode op, void *laddr,
		     uint32_t len, uint32_t lkey, uint64_t raddr, uint32_t rkey,
		     uint64_t wr_id)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)laddr, .length = len, .lkey = lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = wr_id, .sg_list = &sge, .num_sge = len ? 1 : 0,
		.opcode = op, .send_flags = IBV_SEND_SIGNALED,
		.imm_data = htonl(0x12345678),
	}, *bad;

	if (op == IBV_WR_ATOMIC_CMP_AND_SWP ||
	    op == IBV_WR_ATOMIC_FETCH_AND_ADD) {
		wr.wr.atomic.remote_addr = raddr;
		wr.wr.atomic.rkey = rkey;
	} else {
		wr.wr.rdma.remote_addr = raddr;
		wr.wr.rdma.rkey = rkey;
	}
	return ibv_post_send(qp, &wr, &bad);
}

static int post_recv(struct ibv_qp *qp, void *addr, uint32_t len,
		     uint32_t lkey, uint64_t wr_id)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)addr, .length = len, .lkey = lkey,
	};
	struct ibv_recv_wr wr = {
		.wr_id = wr_id, .sg_list = &sge, .num_sge = len ? 1 : 0,
	}, *bad;

	return ibv_post_recv(qp, &wr, &bad);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static int expect_wc(struct side *s, enum ibv_wc_status st,
		     enum ibv_wc_opcode op, uint64_t wr_id, const char *what)
{
	struct ibv_wc wc;
	int n = wait_wc(s->cq, &wc, 2000);
	int ok = n == 1 && wc.status == st && wc.wr_id == wr_id &&
		(st != IBV_WC_SUCCESS || wc.opcode == op);

	check(ok, "%s: %s completion %s (got %s, opcode %d, wr_id %llu)",
	      what, s->name, ibv_wc_status_str(st),
	      n == 1 ? ibv_wc_status_str(wc.status) : "nothing",
	      n == 1 ? (int)wc.opcode : -1,
	      n == 1 ? (unsigned long long)wc.wr_id : 0ull);
	return ok;
}

static enum ibv_qp_state qp_state(struct ibv_qp *qp)
{
	struct ibv_qp_attr a;
	struct ibv_qp_init_attr ia;

	if (ibv_query_qp(qp, &a, IBV_QP_STATE, &ia))
		return (enum ibv_qp_state)-1;
	return a.qp_state;
}

static int wait_async(struct ibv_context *ctx, enum ibv_event_type type,
		      int ms)
{
	struct pollfd p = { .fd = ctx->async_fd, .events = POLLIN };
	struct ibv_async_event ev;

	while (poll(&p, 1, ms) == 1) {
		if (ibv_get_async_event(ctx, &ev))
			return 0;
		ibv_ack_async_event(&ev);
		if (ev.event_type == type)
			return 1;
	}
	return 0;
}

/* ---- the tests ---- */

static void test_state_machine(struct side *a)
{
	struct ibv_qp *qp = make_qp(a, IBV_QPT_RC, NULL, 0);
	struct ibv_qp_attr at = { .qp_state = IBV_QPS_INIT, .port_num = 1 };
	uint8_t *b = a->buf;

	check(qp_state(qp) == IBV_QPS_RESET, "new QP is in RESET");
	check(post_send(qp, IBV_WR_SEND, b, 8, a->mr_all->lkey, 0, 0, 1) ==
	      EINVAL, "post_send in RESET -> EINVAL");
	check(post_recv(qp, b, 8, a->mr_all->lkey, 1) == EINVAL,
	      "post_recv in RESET -> EINVAL");
	check(to_state(qp, IBV_QPS_RTR) == EINVAL, "RESET->RTR -> EINVAL");
	check(ibv_modify_qp(qp, &at, IBV_QP_STATE | IBV_QP_PORT |
			    IBV_QP_PKEY_INDEX) == EINVAL,
	      "RESET->INIT without ACCESS_FLAGS -> EINVAL");
	at.sq_psn = 5;
	check(ibv_modify_qp(qp, &at, IBV_QP_STATE | IBV_QP_PORT |
			    IBV_QP_PKEY_INDEX | IBV_QP_ACCESS_FLAGS |
			    IBV_QP_SQ_PSN) == EINVAL,
	      "RESET->INIT with a foreign attribute -> EINVAL");
	at.port_num = 2;
	check(ibv_modify_qp(qp, &at, IBV_QP_STATE | IBV_QP_PORT |
			    IBV_QP_PKEY_INDEX | IBV_QP_ACCESS_FLAGS) == EINVAL,
	      "RESET->INIT on port 2 -> EINVAL");
	check(to_init(qp, 0) == 0 && qp_state(qp) == IBV_QPS_INIT &&
	      qp->state == IBV_QPS_INIT, "RESET->INIT");
	check(post_send(qp, IBV_WR_SEND, b, 8, a->mr_all->lkey, 0, 0, 1) ==
	      EINVAL, "post_send in INIT -> EINVAL");
	check(post_recv(qp, b, 8, a->mr_all->lkey, 1) == 0,
	      "post_recv in INIT is accepted");
	check(to_state(qp, IBV_QPS_RTS) == EINVAL, "INIT->RTS -> EINVAL");
	at = (struct ibv_qp_attr){ .qp_state = IBV_QPS_RTR,
				   .path_mtu = IBV_MTU_1024 };
	check(ibv_modify_qp(qp, &at, IBV_QP_STATE | IBV_QP_PATH_MTU) == EINVAL,
	      "INIT->RTR without AV/DEST_QPN/... -> EINVAL");
	check(to_rtr(qp, a->qp->qp_num, a->lid) == 0 &&
	      qp_state(qp) == IBV_QPS_RTR, "INIT->RTR");
	check(post_send(qp, IBV_WR_SEND, b, 8, a->mr_all->lkey, 0, 0, 1) ==
	      EINVAL, "post_send in RTR -> EINVAL");
	check(to_rts(qp, 7) == 0 && qp_state(qp) == IBV_QPS_RTS, "RTR->RTS");
	check(to_state(qp, IBV_QPS_INIT) == EINVAL, "RTS->INIT -> EINVAL");
	check(to_state(qp, IBV_QPS_ERR) == 0, "RTS->ERR");
	{
		struct ibv_wc wc;

		check(wait_wc(a->cq, &wc, 1000) == 1 &&
		      wc.status == IBV_WC_WR_FLUSH_ERR && wc.wr_id == 1 &&
		      wc.qp_num == qp->qp_num,
		      "receive posted before ERR is flushed (WR_FLUSH_ERR)");
	}
	check(post_send(qp, IBV_WR_SEND, b, 8, a->mr_all->lkey, 0, 0, 2) == 0,
	      "post_send in ERR is accepted");
	{
		struct ibv_wc wc;

		check(wait_wc(a->cq, &wc, 1000) == 1 &&
		      wc.status == IBV_WC_WR_FLUSH_ERR && wc.wr_id == 2,
		      "send posted in ERR completes with WR_FLUSH_ERR");
	}
	check(to_state(qp, IBV_QPS_RESET) == 0 && qp_state(qp) ==
	      IBV_QPS_RESET, "ERR->RESET");
	check(ibv_destroy_qp(qp) == 0, "destroy QP");
}

static void test_data(struct side *a, struct side *b)
{
	struct ibv_wc wc;
	uint8_t *src = a->buf, *dst = b->buf + OFF_LW;
	int n;

	/* SEND with immediate into B's local-write MR */
	fill(src, 1000, 1);
	memset(dst, 0, 1000);
	post_recv(b->qp, dst, 1000, b->mr_lw->lkey, 77);
	post_send(a->qp, IBV_WR_SEND_WITH_IMM, src, 1000, a->mr_all->lkey,
		  0, 0, 10);
	expect_wc(a, IBV_WC_SUCCESS, IBV_WC_SEND, 10, "SEND_WITH_IMM");
	n = wait_wc(b->cq, &wc, 2000);
	check(n == 1 && wc.status == IBV_WC_SUCCESS &&
	      wc.opcode == IBV_WC_RECV && wc.wr_id == 77 &&
	      wc.byte_len == 1000 && (wc.wc_flags & IBV_WC_WITH_IMM) &&
	      ntohl(wc.imm_data) == 0x12345678 &&
	      wc.qp_num == b->qp->qp_num && wc.src_qp == a->qp->qp_num &&
	      wc.slid == a->lid,
	      "receive completion fields (opcode, byte_len, imm, qp_num, "
	      "src_qp, slid)");
	check(!memcmp(src, dst, 1000), "SEND data arrived intact");

	/* RDMA WRITE into B's remote-writable MR */
	fill(src, 4096, 2);
	post_send(a->qp, IBV_WR_RDMA_WRITE, src, 4096, a->mr_all->lkey,
		  (uintptr_t)b->buf + 100, b->mr_all->rkey, 11);
	expect_wc(a, IBV_WC_SUCCESS, IBV_WC_RDMA_WRITE, 11, "RDMA WRITE");
	check(!memcmp(src, b->buf + 100, 4096), "RDMA WRITE data intact");
	check(wait_wc(b->cq, &wc, 100) == 0,
	      "RDMA WRITE consumes no receive at the responder");

	/* RDMA WRITE with immediate */
	fill(src, 512, 3);
	post_recv(b->qp, NULL, 0, 0, 78);
	post_send(a->qp, IBV_WR_RDMA_WRITE_WITH_IMM, src, 512,
		  a->mr_all->lkey, (uintptr_t)b->buf + 8192, b->mr_all->rkey,
		  12);
	expect_wc(a, IBV_WC_SUCCESS, IBV_WC_RDMA_WRITE, 12,
		  "RDMA WRITE_WITH_IMM");
	n = wait_wc(b->cq, &wc, 2000);
	check(n == 1 && wc.status == IBV_WC_SUCCESS &&
	      wc.opcode == IBV_WC_RECV_RDMA_WITH_IMM && wc.wr_id == 78 &&
	      wc.byte_len == 512 && (wc.wc_flags & IBV_WC_WITH_IMM) &&
	      ntohl(wc.imm_data) == 0x12345678,
	      "WRITE_WITH_IMM: responder gets RECV_RDMA_WITH_IMM");
	check(!memcmp(src, b->buf + 8192, 512), "WRITE_WITH_IMM data intact");

	/* RDMA READ from B into A's local-write MR */
	fill(b->buf + 16384, 3000, 4);
	memset(a->buf + OFF_LW, 0, 3000);
	post_send(a->qp, IBV_WR_RDMA_READ, a->buf + OFF_LW, 3000,
		  a->mr_lw->lkey, (uintptr_t)b->buf + 16384, b->mr_all->rkey,
		  13);
	n = wait_wc(a->cq, &wc, 2000);
	check(n == 1 && wc.status == IBV_WC_SUCCESS &&
	      wc.opcode == IBV_WC_RDMA_READ && wc.byte_len == 3000,
	      "RDMA READ completion");
	check(!memcmp(a->buf + OFF_LW, b->buf + 16384, 3000),
	      "RDMA READ data intact");

	/* atomics */
	{
		uint64_t *target = (uint64_t *)(b->buf + 24576);
		uint64_t *result = (uint64_t *)(a->buf + OFF_LW);
		struct ibv_sge sge = { .addr = (uintptr_t)result, .length = 8,
				       .lkey = a->mr_lw->lkey };
		struct ibv_send_wr wr = {
			.wr_id = 14, .sg_list = &sge, .num_sge = 1,
			.opcode = IBV_WR_ATOMIC_FETCH_AND_ADD,
			.send_flags = IBV_SEND_SIGNALED,
			.wr.atomic = { .remote_addr = (uintptr_t)target,
				       .rkey = b->mr_all->rkey,
				       .compare_add = 5 },
		}, *bad;

		*target = 100;
		ibv_post_send(a->qp, &wr, &bad);
		expect_wc(a, IBV_WC_SUCCESS, IBV_WC_FETCH_ADD, 14, "FETCH_ADD");
		check(*result == 100 && *target == 105,
		      "FETCH_ADD returned old value, added");
		wr.wr_id = 15;
		wr.opcode = IBV_WR_ATOMIC_CMP_AND_SWP;
		wr.wr.atomic.compare_add = 105;
		wr.wr.atomic.swap = 7;
		ibv_post_send(a->qp, &wr, &bad);
		expect_wc(a, IBV_WC_SUCCESS, IBV_WC_COMP_SWAP, 15,
			  "CMP_AND_SWP");
		check(*result == 105 && *target == 7, "CMP_AND_SWP swapped");
	}

	/* inline send from memory that is not registered at all */
	{
		char msg[40] = "inline data needs no registration";
		struct ibv_sge sge = { .addr = (uintptr_t)msg,
				       .length = sizeof(msg) };
		struct ibv_send_wr wr = {
			.wr_id = 16, .sg_list = &sge, .num_sge = 1,
			.opcode = IBV_WR_SEND,
			.send_flags = IBV_SEND_SIGNALED | IBV_SEND_INLINE,
		}, *bad;

		post_recv(b->qp, dst, 100, b->mr_lw->lkey, 79);
		check(ibv_post_send(a->qp, &wr, &bad) == 0, "inline post");
		expect_wc(a, IBV_WC_SUCCESS, IBV_WC_SEND, 16, "inline SEND");
		n = wait_wc(b->cq, &wc, 2000);
		check(n == 1 && wc.byte_len == sizeof(msg) &&
		      !memcmp(dst, msg, sizeof(msg)), "inline data arrived");
	}
}

static void test_unsignaled(struct side *a, struct side *b)
{
	struct ibv_sge sge = { .addr = (uintptr_t)a->buf, .length = 64,
			       .lkey = a->mr_all->lkey };
	struct ibv_send_wr w[4], *bad;
	struct ibv_wc wc;
	int got = 0;

	for (int i = 0; i < 4; i++) {
		w[i] = (struct ibv_send_wr){
			.wr_id = 100 + i, .sg_list = &sge, .num_sge = 1,
			.opcode = IBV_WR_RDMA_WRITE,
			.send_flags = i == 3 ? IBV_SEND_SIGNALED : 0,
			.wr.rdma = { .remote_addr = (uintptr_t)b->buf,
				     .rkey = b->mr_all->rkey },
			.next = i < 3 ? &w[i + 1] : NULL,
		};
	}
	check(ibv_post_send(a->qp, w, &bad) == 0, "post a list of 4 WRs");
	while (wait_wc(a->cq, &wc, 300) == 1) {
		got++;
		if (wc.wr_id != 103)
			got += 100;
	}
	check(got == 1, "only the signaled WR of 3 unsignaled + 1 completes");
}

static void test_remote_errors(struct side *a, struct side *b)
{
	uint8_t *src = a->buf;
	struct ibv_wc wc;

	post_send(a->qp, IBV_WR_RDMA_WRITE, src, 64, a->mr_all->lkey,
		  (uintptr_t)b->buf, ~b->mr_all->rkey, 20);
	expect_wc(a, IBV_WC_REM_ACCESS_ERR, 0, 20, "RDMA WRITE, wrong rkey");
	check(qp_state(a->qp) == IBV_QPS_ERR, "requester QP moved to ERR");
	check(qp_state(b->qp) == IBV_QPS_ERR, "responder QP moved to ERR");
	check(wait_async(b->ctx, IBV_EVENT_QP_ACCESS_ERR, 1000),
	      "responder got async event QP_ACCESS_ERR");
	check(post_send(a->qp, IBV_WR_SEND, src, 8, a->mr_all->lkey, 0, 0,
			21) == 0, "post in ERR accepted");
	expect_wc(a, IBV_WC_WR_FLUSH_ERR, 0, 21, "post in ERR");
	reconnect(a, b, 7);

	post_send(a->qp, IBV_WR_RDMA_WRITE, src, 64, a->mr_all->lkey,
		  (uintptr_t)b->buf + OFF_LW, b->mr_lw->rkey, 22);
	expect_wc(a, IBV_WC_REM_ACCESS_ERR, 0, 22,
		  "RDMA WRITE to an MR without REMOTE_WRITE");
	reconnect(a, b, 7);

	post_send(a->qp, IBV_WR_RDMA_WRITE, src, 64, a->mr_all->lkey,
		  (uintptr_t)b->buf + OFF_LW - 32, b->mr_all->rkey, 23);
	expect_wc(a, IBV_WC_REM_ACCESS_ERR, 0, 23,
		  "RDMA WRITE crossing the end of the MR");
	reconnect(a, b, 7);

	post_send(a->qp, IBV_WR_RDMA_READ, a->buf + OFF_LW, 64,
		  a->mr_lw->lkey, (uintptr_t)b->buf + OFF_RO, b->mr_ro->rkey,
		  24);
	expect_wc(a, IBV_WC_REM_ACCESS_ERR, 0, 24,
		  "RDMA READ from an MR without REMOTE_READ");
	reconnect(a, b, 7);

	/* the QP's own access flags are checked too */
	if (to_state(b->qp, IBV_QPS_RESET) || to_state(a->qp, IBV_QPS_RESET) ||
	    to_init(a->qp, ALL_REMOTE) ||
	    to_init(b->qp, IBV_ACCESS_REMOTE_READ) ||
	    to_rtr(a->qp, b->qp->qp_num, a->lid) ||
	    to_rtr(b->qp, a->qp->qp_num, a->lid) || to_rts(a->qp, 7) ||
	    to_rts(b->qp, 7))
		die("connect");
	post_send(a->qp, IBV_WR_RDMA_WRITE, src, 64, a->mr_all->lkey,
		  (uintptr_t)b->buf, b->mr_all->rkey, 25);
	expect_wc(a, IBV_WC_REM_ACCESS_ERR, 0, 25,
		  "RDMA WRITE to a QP without REMOTE_WRITE access");
	reconnect(a, b, 7);
	(void)wc;
}

static void test_local_errors(struct side *a, struct side *b)
{
	static uint8_t unregistered[256];
	struct ibv_wc wc;
	int n;

	post_recv(b->qp, b->buf + OFF_LW, 256, b->mr_lw->lkey, 80);
	post_send(a->qp, IBV_WR_SEND, unregistered, 64, a->mr_all->lkey, 0, 0,
		  30);
	expect_wc(a, IBV_WC_LOC_PROT_ERR, 0, 30,
		  "SEND from an unregistered buffer");
	check(qp_state(a->qp) == IBV_QPS_ERR, "requester QP moved to ERR");
	check(wait_wc(b->cq, &wc, 100) == 0 && qp_state(b->qp) == IBV_QPS_RTS,
	      "responder untouched by a local error");
	reconnect(a, b, 7);

	post_send(a->qp, IBV_WR_SEND, a->buf, 64, 0xdeadbeef, 0, 0, 31);
	expect_wc(a, IBV_WC_LOC_PROT_ERR, 0, 31, "SEND with a bogus lkey");
	reconnect(a, b, 7);

	post_send(a->qp, IBV_WR_SEND, a->buf, 64, b->mr_all->lkey, 0, 0, 32);
	expect_wc(a, IBV_WC_LOC_PROT_ERR, 0, 32,
		  "SEND with an lkey of another PD");
	reconnect(a, b, 7);

	post_recv(b->qp, b->buf + OFF_RO, 256, b->mr_ro->lkey, 81);
	post_send(a->qp, IBV_WR_SEND, a->buf, 64, a->mr_all->lkey, 0, 0, 33);
	expect_wc(b, IBV_WC_LOC_PROT_ERR, 0, 81,
		  "receive into an MR without LOCAL_WRITE");
	expect_wc(a, IBV_WC_REM_OP_ERR, 0, 33,
		  "...and the sender of that message");
	reconnect(a, b, 7);

	post_recv(b->qp, b->buf + OFF_LW, 16, b->mr_lw->lkey, 82);
	post_send(a->qp, IBV_WR_SEND, a->buf, 100, a->mr_all->lkey, 0, 0, 34);
	expect_wc(b, IBV_WC_LOC_LEN_ERR, 0, 82, "receive buffer too small");
	expect_wc(a, IBV_WC_REM_INV_REQ_ERR, 0, 34,
		  "...and the sender of that message");
	reconnect(a, b, 7);

	post_send(a->qp, IBV_WR_RDMA_READ, a->buf + OFF_RO, 64,
		  a->mr_ro->lkey, (uintptr_t)b->buf, b->mr_all->rkey, 35);
	expect_wc(a, IBV_WC_LOC_PROT_ERR, 0, 35,
		  "RDMA READ into an MR without LOCAL_WRITE");
	reconnect(a, b, 7);

	/* flushed receives after the QP goes to ERR */
	post_recv(b->qp, b->buf + OFF_LW, 64, b->mr_lw->lkey, 83);
	post_recv(b->qp, b->buf + OFF_LW, 64, b->mr_lw->lkey, 84);
	to_state(b->qp, IBV_QPS_ERR);
	n = wait_wc(b->cq, &wc, 1000);
	check(n == 1 && wc.status == IBV_WC_WR_FLUSH_ERR && wc.wr_id == 83,
	      "receives flushed in order on ERR (1)");
	n = wait_wc(b->cq, &wc, 1000);
	check(n == 1 && wc.status == IBV_WC_WR_FLUSH_ERR && wc.wr_id == 84,
	      "receives flushed in order on ERR (2)");
	reconnect(a, b, 7);

	/* too many receives */
	{
		int rc = 0, i;

		for (i = 0; i < 17 && !rc; i++)
			rc = post_recv(b->qp, b->buf + OFF_LW, 64,
				       b->mr_lw->lkey, 90);
		check(rc == ENOMEM && i == 17,
		      "17th receive on a 16-deep RQ -> ENOMEM");
		reconnect(a, b, 7);
	}
}

static void test_rnr_and_retry(struct side *a, struct side *b)
{
	struct ibv_qp *gone;
	struct ibv_wc wc;
	int n;

	/* rnr_retry 7: the send waits for the receive */
	post_send(a->qp, IBV_WR_SEND, a->buf, 64, a->mr_all->lkey, 0, 0, 40);
	check(wait_wc(a->cq, &wc, 200) == 0,
	      "SEND without a posted receive waits (RNR, infinite retry)");
	post_recv(b->qp, b->buf + OFF_LW, 64, b->mr_lw->lkey, 85);
	expect_wc(a, IBV_WC_SUCCESS, IBV_WC_SEND, 40,
		  "...and completes once a receive is posted");
	n = wait_wc(b->cq, &wc, 1000);
	check(n == 1 && wc.wr_id == 85 && wc.status == IBV_WC_SUCCESS,
	      "...at both ends");

	/* rnr_retry 0: fails at once */
	reconnect(a, b, 0);
	post_send(a->qp, IBV_WR_SEND, a->buf, 64, a->mr_all->lkey, 0, 0, 41);
	expect_wc(a, IBV_WC_RNR_RETRY_EXC_ERR, 0, 41,
		  "SEND without receive, rnr_retry 0");

	/* rnr_retry 2 with a short timer: fails after the retries */
	reconnect(a, b, 2);
	post_send(a->qp, IBV_WR_SEND, a->buf, 64, a->mr_all->lkey, 0, 0, 42);
	expect_wc(a, IBV_WC_RNR_RETRY_EXC_ERR, 0, 42,
		  "SEND without receive, rnr_retry 2");

	/* the peer is not ready yet: retransmissions reach it once it is */
	to_state(a->qp, IBV_QPS_RESET);
	to_state(b->qp, IBV_QPS_RESET);
	drain(a->cq);
	drain(b->cq);
	if (to_init(a->qp, ALL_REMOTE) || to_init(b->qp, ALL_REMOTE) ||
	    to_rtr(a->qp, b->qp->qp_num, a->lid) || to_rts(a->qp, 7))
		die("half connect");
	post_recv(b->qp, b->buf + OFF_LW, 64, b->mr_lw->lkey, 91);
	post_send(a->qp, IBV_WR_SEND, a->buf, 64, a->mr_all->lkey, 0, 0, 45);
	check(wait_wc(a->cq, &wc, 100) == 0,
	      "SEND to a peer still in INIT is retransmitted, not failed");
	if (to_rtr(b->qp, a->qp->qp_num, a->lid) || to_rts(b->qp, 7))
		die("connect");
	expect_wc(a, IBV_WC_SUCCESS, IBV_WC_SEND, 45,
		  "...and completes when the peer reaches RTR");
	expect_wc(b, IBV_WC_SUCCESS, IBV_WC_RECV, 91, "...at both ends");

	/* the peer QP does not exist */
	gone = make_qp(b, IBV_QPT_RC, NULL, 0);
	{
		uint32_t qpn = gone->qp_num;

		ibv_destroy_qp(gone);
		to_state(a->qp, IBV_QPS_RESET);
		drain(a->cq);
		if (to_init(a->qp, ALL_REMOTE) || to_rtr(a->qp, qpn, a->lid) ||
		    to_rts(a->qp, 7))
			die("connect to nowhere");
	}
	post_send(a->qp, IBV_WR_SEND, a->buf, 64, a->mr_all->lkey, 0, 0, 43);
	expect_wc(a, IBV_WC_RETRY_EXC_ERR, 0, 43, "SEND to a QP that is gone");
	to_state(a->qp, IBV_QPS_RESET);
	if (to_init(a->qp, ALL_REMOTE) ||
	    to_rtr(a->qp, b->qp->qp_num, (uint16_t)(a->lid + 1)) ||
	    to_rts(a->qp, 7))
		die("connect to wrong lid");
	post_send(a->qp, IBV_WR_SEND, a->buf, 64, a->mr_all->lkey, 0, 0, 44);
	expect_wc(a, IBV_WC_RETRY_EXC_ERR, 0, 44,
		  "SEND to a LID that is not there");
	reconnect(a, b, 7);
}

static void test_ud(struct side *a, struct side *b)
{
	struct ibv_qp *ua = make_qp(a, IBV_QPT_UD, NULL, 0);
	struct ibv_qp *ub = make_qp(b, IBV_QPT_UD, NULL, 0);
	struct ibv_ah_attr aa = { .dlid = b->lid, .port_num = 1, .sl = 3 };
	struct ibv_ah *ah;
	struct ibv_sge sge = { .addr = (uintptr_t)a->buf, .length = 300,
			       .lkey = a->mr_all->lkey };
	struct ibv_send_wr wr = {
		.wr_id = 50, .sg_list = &sge, .num_sge = 1,
		.opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;
	struct ibv_wc wc;
	uint8_t *rb = b->buf + OFF_LW;
	int n;

	if (to_init(ua, 0) || to_init(ub, 0) || to_rtr(ua, 0, 0) ||
	    to_rtr(ub, 0, 0) || to_rts(ua, 0) || to_rts(ub, 0))
		die("UD QPs");
	ah = ibv_create_ah(a->pd, &aa);
	if (!ah)
		die("ibv_create_ah");
	wr.wr.ud.ah = ah;
	wr.wr.ud.remote_qpn = ub->qp_num;
	wr.wr.ud.remote_qkey = 0x11111111;

	fill(a->buf, 300, 9);
	memset(rb, 0xee, 400);
	post_recv(ub, rb, 400, b->mr_lw->lkey, 86);
	check(ibv_post_send(ua, &wr, &bad) == 0, "UD post_send");
	expect_wc(a, IBV_WC_SUCCESS, IBV_WC_SEND, 50, "UD SEND");
	n = wait_wc(b->cq, &wc, 1000);
	if (n == 1)
		printf("# UD wc: status %d wr_id %llu len %u src_qp %#x qp %#x "
		       "slid %#x sl %u flags %#x\n", wc.status,
		       (unsigned long long)wc.wr_id, wc.byte_len, wc.src_qp,
		       wc.qp_num, wc.slid, wc.sl, wc.wc_flags);
	check(n == 1 && wc.status == IBV_WC_SUCCESS && wc.wr_id == 86 &&
	      wc.byte_len == 340 && wc.src_qp == ua->qp_num &&
	      wc.qp_num == ub->qp_num && wc.slid == a->lid && wc.sl == 3 &&
	      !(wc.wc_flags & IBV_WC_GRH),
	      "UD receive: byte_len includes 40 bytes GRH, src_qp, slid, sl");
	check(!memcmp(rb + 40, a->buf, 300) && rb[0] == 0xee,
	      "UD payload placed after the GRH space");

	wr.wr.ud.remote_qkey = 0x22222222;
	wr.wr_id = 51;
	post_recv(ub, rb, 400, b->mr_lw->lkey, 87);
	ibv_post_send(ua, &wr, &bad);
	expect_wc(a, IBV_WC_SUCCESS, IBV_WC_SEND, 51, "UD SEND, wrong Q_Key");
	check(wait_wc(b->cq, &wc, 200) == 0, "...is dropped by the receiver");

	/* with a GRH */
	ibv_destroy_ah(ah);
	aa.is_global = 1;
	if (ibv_query_gid(a->ctx, 1, 0, &aa.grh.dgid))
		die("ibv_query_gid");
	aa.grh.hop_limit = 1;
	ah = ibv_create_ah(a->pd, &aa);
	if (!ah)
		die("ibv_create_ah");
	wr.wr.ud.ah = ah;
	wr.wr.ud.remote_qkey = 0x11111111;
	wr.wr_id = 52;
	ibv_post_send(ua, &wr, &bad);
	expect_wc(a, IBV_WC_SUCCESS, IBV_WC_SEND, 52, "UD SEND with GRH");
	n = wait_wc(b->cq, &wc, 1000);
	check(n == 1 && wc.status == IBV_WC_SUCCESS && wc.wr_id == 87 &&
	      (wc.wc_flags & IBV_WC_GRH) &&
	      !memcmp(((struct ibv_grh *)rb)->dgid.raw, aa.grh.dgid.raw, 16),
	      "UD receive with IBV_WC_GRH and the GRH in the first 40 bytes");

	/* too small */
	post_recv(ub, rb, 100, b->mr_lw->lkey, 88);
	wr.wr_id = 53;
	ibv_post_send(ua, &wr, &bad);
	expect_wc(a, IBV_WC_SUCCESS, IBV_WC_SEND, 53, "UD SEND (unreliable)");
	expect_wc(b, IBV_WC_LOC_LEN_ERR, 0, 88, "UD receive buffer too small");

	wr.opcode = IBV_WR_RDMA_WRITE;
	check(ibv_post_send(ua, &wr, &bad) == EINVAL && bad == &wr,
	      "RDMA WRITE on a UD QP -> EINVAL");
	ibv_destroy_ah(ah);
	ibv_destroy_qp(ua);
	ibv_destroy_qp(ub);
}

static void test_srq(struct side *a, struct side *b)
{
	struct ibv_srq_init_attr sa = {
		.attr = { .max_wr = 8, .max_sge = 1, .srq_limit = 0 },
	};
	struct ibv_srq *srq = ibv_create_srq(b->pd, &sa);
	struct ibv_qp *qa[2], *qb[2];
	struct ibv_srq_attr at = { .srq_limit = 2 };
	struct ibv_wc wc;
	int ok = 1;

	if (!srq)
		die("ibv_create_srq");
	for (int i = 0; i < 2; i++) {
		qa[i] = make_qp(a, IBV_QPT_RC, NULL, 0);
		qb[i] = make_qp(b, IBV_QPT_RC, srq, 0);
		connect_qps(qa[i], qb[i], a->lid, 7);
	}
	for (int i = 0; i < 3; i++) {
		struct ibv_sge sge = { .addr = (uintptr_t)b->buf + OFF_LW +
				       i * 128, .length = 128,
				       .lkey = b->mr_lw->lkey };
		struct ibv_recv_wr wr = { .wr_id = 200 + i, .sg_list = &sge,
					  .num_sge = 1 }, *bad;

		ok &= ibv_post_srq_recv(srq, &wr, &bad) == 0;
	}
	check(ok, "ibv_post_srq_recv");
	check(ibv_modify_srq(srq, &at, IBV_SRQ_LIMIT) == 0, "arm SRQ limit");
	check(post_recv(qb[0], b->buf, 8, b->mr_lw->lkey, 1) == EINVAL,
	      "post_recv on a QP with an SRQ -> EINVAL");
	for (int i = 0; i < 2; i++) {
		post_send(qa[i], IBV_WR_SEND, a->buf, 16, a->mr_all->lkey, 0,
			  0, 60 + i);
		expect_wc(a, IBV_WC_SUCCESS, IBV_WC_SEND, 60 + i,
			  "send to SRQ");
		check(wait_wc(b->cq, &wc, 1000) == 1 &&
		      wc.status == IBV_WC_SUCCESS &&
		      wc.wr_id == 200u + (unsigned int)i &&
		      wc.qp_num == qb[i]->qp_num,
		      "SRQ receive completes on the right QP (qp_num)");
	}
	check(wait_async(b->ctx, IBV_EVENT_SRQ_LIMIT_REACHED, 1000),
	      "SRQ limit event");
	for (int i = 0; i < 2; i++) {
		ibv_destroy_qp(qa[i]);
		ibv_destroy_qp(qb[i]);
	}
	check(ibv_destroy_srq(srq) == 0, "destroy SRQ");
}

static void test_channel(struct side *a, struct side *b)
{
	struct ibv_comp_channel *ch = ibv_create_comp_channel(b->ctx);
	struct ibv_cq *cq, *ev_cq;
	struct ibv_qp *qa, *qb;
	struct pollfd p;
	struct ibv_wc wc;
	void *ev_ctx;

	if (!ch)
		die("ibv_create_comp_channel");
	cq = ibv_create_cq(b->ctx, 16, (void *)0x1234, ch, 0);
	if (!cq)
		die("ibv_create_cq");
	{
		struct ibv_qp_init_attr ia = {
			.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC,
			.cap = { .max_send_wr = 4, .max_recv_wr = 4,
				 .max_send_sge = 1, .max_recv_sge = 1 },
		};

		qb = ibv_create_qp(b->pd, &ia);
	}
	qa = make_qp(a, IBV_QPT_RC, NULL, 0);
	connect_qps(qa, qb, a->lid, 7);
	check(ibv_req_notify_cq(cq, 0) == 0, "ibv_req_notify_cq");
	p = (struct pollfd){ .fd = ch->fd, .events = POLLIN };
	check(poll(&p, 1, 100) == 0,
	      "channel not readable before a completion");
	post_recv(qb, b->buf + OFF_LW, 64, b->mr_lw->lkey, 89);
	post_send(qa, IBV_WR_SEND, a->buf, 64, a->mr_all->lkey, 0, 0, 70);
	expect_wc(a, IBV_WC_SUCCESS, IBV_WC_SEND, 70, "send");
	check(poll(&p, 1, 2000) == 1, "channel fd becomes readable");
	check(ibv_get_cq_event(ch, &ev_cq, &ev_ctx) == 0 && ev_cq == cq &&
	      ev_ctx == (void *)0x1234, "ibv_get_cq_event returns the CQ");
	check(ibv_poll_cq(cq, 1, &wc) == 1 && wc.wr_id == 89,
	      "the completion is there when the event is");
	ibv_ack_cq_events(cq, 1);
	check(ibv_destroy_comp_channel(ch) == EBUSY,
	      "destroying a channel in use -> EBUSY");
	ibv_destroy_qp(qa);
	ibv_destroy_qp(qb);
	ibv_destroy_cq(cq);
	check(ibv_destroy_comp_channel(ch) == 0, "destroy channel");
}

static void test_resources(struct side *a)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	struct ibv_mr *m1, *m2;
	struct ibv_qp *q1, *q2;
	uint32_t k1, n1;
	void *hole;

	errno = 0;
	check(!ibv_reg_mr(a->pd, page, sizeof(page), IBV_ACCESS_REMOTE_WRITE) &&
	      errno == EINVAL, "REMOTE_WRITE without LOCAL_WRITE -> EINVAL");
	errno = 0;
	check(!ibv_reg_dmabuf_mr(a->pd, 0, 4096, 0, 0, 0) &&
	      errno == EOPNOTSUPP, "ibv_reg_dmabuf_mr -> EOPNOTSUPP");
	hole = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(hole, 8192);
	errno = 0;
	check(!ibv_reg_mr(a->pd, hole, 8192, 0) && errno == EFAULT,
	      "registering unmapped memory -> EFAULT");

	m1 = ibv_reg_mr(a->pd, page, sizeof(page), IBV_ACCESS_LOCAL_WRITE);
	k1 = m1 ? m1->lkey : 0;
	if (m1)
		ibv_dereg_mr(m1);
	m2 = ibv_reg_mr(a->pd, page, sizeof(page), IBV_ACCESS_LOCAL_WRITE);
	check(m1 && m2 && m2->lkey != k1,
	      "re-registering the same memory gives a new key");
	q1 = make_qp(a, IBV_QPT_RC, NULL, 0);
	n1 = q1->qp_num;
	ibv_destroy_qp(q1);
	q2 = make_qp(a, IBV_QPT_RC, NULL, 0);
	check(q2->qp_num != n1, "a recreated QP gets a new QP number");
	check(ibv_dealloc_pd(a->pd) == EBUSY, "dealloc_pd in use -> EBUSY");
	check(ibv_destroy_cq(a->cq) == EBUSY, "destroy_cq in use -> EBUSY");
	ibv_destroy_qp(q2);
	ibv_dereg_mr(m2);
}

static void close_side(struct side *s)
{
	int ok = !ibv_destroy_qp(s->qp) && !ibv_dereg_mr(s->mr_all) &&
		!ibv_dereg_mr(s->mr_lw) && !ibv_dereg_mr(s->mr_ro) &&
		!ibv_destroy_cq(s->cq) && !ibv_dealloc_pd(s->pd) &&
		!ibv_close_device(s->ctx);

	check(ok, "%s: everything destroyed, device closed", s->name);
	free(s->buf);
}

/*
 * The daemon goes away under an open context (as when the device is lost):
 * verbs fail instead of hanging, everything can still be destroyed, and a
 * new daemon serves a freshly opened context.  Needs hca-run's environment.
 */
static void test_daemon_restart(void)
{
	const char *dir = getenv("CRS_HCA_TEST_DIR");
	const char *daemon = getenv("CRS_HCA_DAEMON");
	char path[512], cmd[2048];
	struct side s;
	struct ibv_wc wc;
	FILE *f;
	int pid = 0, tries;

	if (!dir || !daemon) {
		printf("# skipping daemon restart: not run by hca-run\n");
		return;
	}
	memset(&s, 0, sizeof(s));
	open_side(&s, "C");
	connect_self(s.qp, s.lid);	/* loopback */
	post_recv(s.qp, s.buf + OFF_LW, 64, s.mr_lw->lkey, 1);
	post_send(s.qp, IBV_WR_SEND, s.buf, 64, s.mr_all->lkey, 0, 0, 2);
	check(wait_wc(s.cq, &wc, 1000) == 1 && wait_wc(s.cq, &wc, 1000) == 1,
	      "loopback QP (connected to itself) works");

	snprintf(path, sizeof(path), "%s/pid", dir);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%d", &pid) != 1)
		die("daemon pidfile");
	fclose(f);
	kill(pid, SIGTERM);
	snprintf(path, sizeof(path), "%s/sock", dir);
	for (tries = 0; tries < 100 && !access(path, F_OK); tries++)
		usleep(20000);
	check(ibv_poll_cq(s.cq, 1, &wc) < 0,
	      "poll_cq fails once the daemon is gone");
	check(post_send(s.qp, IBV_WR_SEND, s.buf, 8, s.mr_all->lkey, 0, 0, 3) ==
	      EIO, "post_send fails with EIO");
	close_side(&s);

	snprintf(cmd, sizeof(cmd),
		 "'%s' -d -s '%s/sock' -p '%s/pid' -l '%s/log'",
		 daemon, dir, dir, dir);
	check(system(cmd) == 0, "restart the daemon");
	memset(&s, 0, sizeof(s));
	open_side(&s, "D");
	connect_self(s.qp, s.lid);
	post_recv(s.qp, s.buf + OFF_LW, 64, s.mr_lw->lkey, 1);
	post_send(s.qp, IBV_WR_SEND, s.buf, 64, s.mr_all->lkey, 0, 0, 2);
	check(wait_wc(s.cq, &wc, 1000) == 1 && wait_wc(s.cq, &wc, 1000) == 1,
	      "a new context on the restarted daemon works");
	close_side(&s);
}

int main(void)
{
	struct side a, b;
	int base = count_sockets();

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	open_side(&a, "A");
	open_side(&b, "B");
	check(count_sockets() > base, "open device contexts hold sockets");

	test_state_machine(&a);
	connect_qps(a.qp, b.qp, a.lid, 7);
	test_data(&a, &b);
	test_unsignaled(&a, &b);
	test_remote_errors(&a, &b);
	test_local_errors(&a, &b);
	test_rnr_and_retry(&a, &b);
	test_ud(&a, &b);
	test_srq(&a, &b);
	test_channel(&a, &b);
	test_resources(&a);

	close_side(&a);
	close_side(&b);
	check(count_sockets() == base,
	      "no socket left in /proc/self/fd after close (%d, was %d)",
	      count_sockets(), base);
	test_daemon_restart();
	check(count_sockets() == base, "still no socket left");

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
