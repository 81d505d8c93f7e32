/*
 * bench_verbs: the cost of the data path and of memory registration, with
 * or without the shim (run-bench.sh compares).
 *
 *   bench_verbs ops [-n N] [-g FILE]
 *     two RC QPs of this process connected to each other; the best of 5
 *     runs, in ns per call, of:
 *       N ibv_post_send (8-byte RDMA WRITE, every 32nd signalled and waited
 *       for) and N ibv_poll_cq on an empty CQ: the simulated HCA's socket
 *       I/O in every call dominates (and varies);
 *       the same calls where the library does no I/O, so that what the shim
 *       adds shows: ibv_post_send on a QP in RESET (refused by the library
 *       at once) and ibv_poll_cq taking one completion each from a full CQ.
 *     With -g the measurement is repeated once FILE exists (run-bench.sh
 *     checkpoints the process in between: keys and QP numbers are then
 *     translated).
 *   bench_verbs mrs [-n N] [-g FILE]
 *     registers N regions of 4 KiB; prints the time; with -g waits for FILE
 *     (the rebuild after a checkpoint registers them all again).
 */
#include "vt_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REPS 5
#define BATCH 32

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void wait_for(const char *file)
{
	printf("waiting for %s\n", file);
	fflush(stdout);
	while (access(file, F_OK))
		usleep(10000);
}

static double post_send_ns(struct vt *a, struct ibv_mr *mr, char *buf, const struct vt_dest *dst, long n)
{
	struct ibv_sge s = { .addr = (uintptr_t)buf, .length = 8, .lkey = mr->lkey };
	struct ibv_send_wr wr = { .sg_list = &s, .num_sge = 1, .opcode = IBV_WR_RDMA_WRITE }, *bad;
	double t0 = now_ns();

	wr.wr.rdma.remote_addr = dst->addr;
	wr.wr.rdma.rkey = dst->rkey;
	for (long i = 1; i <= n; i++) {
		wr.wr_id = (uint64_t)i;
		wr.send_flags = i % BATCH ? 0 : IBV_SEND_SIGNALED;
		if (ibv_post_send(a->qp, &wr, &bad))
			vt_die("ibv_post_send");
		if (!(i % BATCH)) {
			struct ibv_wc wc;

			vt_wait(a, &wc, 60000);
		}
	}
	return (now_ns() - t0) / (double)n;
}

static double poll_ns(struct vt *a, long n)
{
	struct ibv_wc wc[4];
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		if (ibv_poll_cq(a->cq, 4, wc) != 0)
			vt_die("unexpected completion");
	return (now_ns() - t0) / (double)n;
}

/* ibv_post_send refused by the library without I/O (QP in RESET). */
static double post_reset_ns(struct ibv_qp *qp, struct ibv_mr *mr, char *buf, long n)
{
	struct ibv_sge s = { .addr = (uintptr_t)buf, .length = 8, .lkey = mr->lkey };
	struct ibv_send_wr wr = { .sg_list = &s, .num_sge = 1, .opcode = IBV_WR_SEND }, *bad;
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		if (ibv_post_send(qp, &wr, &bad) != EINVAL)
			vt_die("post_send on a RESET QP was not refused");
	return (now_ns() - t0) / (double)n;
}

/* ibv_poll_cq taking one completion at a time from a full CQ: the
 * completions are first brought into the library (a round trip). */
#define FULL 4096
static double poll_full_ns(struct vt *a, struct ibv_mr *mr, char *buf, const struct vt_dest *dst, long n)
{
	double total = 0;
	long done = 0;

	while (done < n) {
		struct ibv_sge s = { .addr = (uintptr_t)buf, .length = 8, .lkey = mr->lkey };
		struct ibv_send_wr wr = { .sg_list = &s, .num_sge = 1, .opcode = IBV_WR_RDMA_WRITE,
					  .send_flags = IBV_SEND_SIGNALED }, *bad;
		struct ibv_wc wc;
		double t0;

		wr.wr.rdma.remote_addr = dst->addr;
		wr.wr.rdma.rkey = dst->rkey;
		for (int i = 0; i < FULL; i++)
			if (ibv_post_send(a->qp, &wr, &bad))
				vt_die("ibv_post_send");
		if (ibv_req_notify_cq(a->cq, 0))
			vt_die("ibv_req_notify_cq");
		t0 = now_ns();
		for (int i = 0; i < FULL; i++)
			if (ibv_poll_cq(a->cq, 1, &wc) != 1 || wc.status != IBV_WC_SUCCESS)
				vt_die("completion %d missing", i);
		total += now_ns() - t0;
		done += FULL;
	}
	return total / (double)done;
}

static double best(double a, double b)
{
	return a < b ? a : b;
}

static void measure(const char *phase, struct vt *a, struct ibv_qp *reset, struct ibv_mr *mr, char *buf,
		    const struct vt_dest *dst, long n)
{
	double post = 1e18, poll = 1e18, post0 = 1e18, poll0 = 1e18;

	for (int r = 0; r < REPS; r++) {
		post = best(post, post_send_ns(a, mr, buf, dst, n));
		poll = best(poll, poll_ns(a, n));
		post0 = best(post0, post_reset_ns(reset, mr, buf, n));
		poll0 = best(poll0, poll_full_ns(a, mr, buf, dst, n / 4));
	}
	printf("%s post_send_ns %.1f poll_cq_ns %.1f noio_post_send_ns %.1f noio_poll_cq_ns %.1f\n", phase, post,
	       poll, post0, poll0);
	fflush(stdout);
}

static int ops(long n, const char *go)
{
	struct vt a = { 0 }, b = { 0 };
	char *buf = calloc(1, 65536);
	struct ibv_qp_init_attr ia = { .qp_type = IBV_QPT_RC,
				       .cap = { .max_send_wr = 16, .max_recv_wr = 16, .max_send_sge = 1,
						.max_recv_sge = 1 } };
	struct ibv_mr *ma, *mb;
	struct ibv_qp *reset;
	struct vt_dest da, db;

	vt_open(&a, NULL, 2 * FULL, FULL);
	vt_open(&b, NULL, 1024, 256);
	ia.send_cq = ia.recv_cq = a.cq;
	reset = ibv_create_qp(a.pd, &ia);
	if (!reset)
		vt_die("ibv_create_qp");
	ma = vt_reg(&a, buf, 4096);
	mb = vt_reg(&b, buf + 32768, 4096);
	da = (struct vt_dest){ a.lid, a.qp->qp_num, a.psn, ma->rkey, (uintptr_t)buf, 4096 };
	db = (struct vt_dest){ b.lid, b.qp->qp_num, b.psn, mb->rkey, (uintptr_t)buf + 32768, 4096 };
	vt_connect(&a, &db);
	vt_connect(&b, &da);
	measure("direct", &a, reset, ma, buf, &db, n);
	if (go) {
		wait_for(go);
		measure("translated", &a, reset, ma, buf, &db, n);
	}
	return 0;
}

static int mrs(long n, const char *go)
{
	struct vt a = { 0 };
	char *buf = aligned_alloc(4096, (size_t)n * 4096);
	struct ibv_mr **v = calloc((size_t)n, sizeof(*v));
	double t0;

	if (!buf || !v)
		vt_die("out of memory");
	memset(buf, 0, (size_t)n * 4096);
	vt_open(&a, NULL, 16, 16);
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		v[i] = vt_reg(&a, buf + i * 4096, 4096);
	printf("registered %ld regions in %.1f ms\n", n, (now_ns() - t0) / 1e6);
	fflush(stdout);
	if (go)
		wait_for(go);
	for (long i = 0; i < n; i++)
		ibv_dereg_mr(v[i]);
	return 0;
}

int main(int argc, char **argv)
{
	const char *go = NULL;
	long n = 0;
	int opt;

	if (argc < 2)
		vt_die("usage: bench_verbs ops|mrs [-n N] [-g FILE]");
	optind = 2;
	while ((opt = getopt(argc, argv, "n:g:")) != -1) {
		if (opt == 'n')
			n = atol(optarg);
		else if (opt == 'g')
			go = optarg;
	}
	if (!strcmp(argv[1], "ops"))
		return ops(n ? n : 200000, go);
	if (!strcmp(argv[1], "mrs"))
		return mrs(n ? n : 10000, go);
	vt_die("unknown mode %s", argv[1]);
}
