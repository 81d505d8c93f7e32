/* Helpers of the verbs test programs (vt_common.h). */
#include "vt_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void vt_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%d: ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

void vt_open(struct vt *v, const char *dev, int cqe, int depth)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_qp_init_attr ia = { 0 };
	struct ibv_qp_attr a = { 0 };
	struct ibv_port_attr pa;
	int i;

	if (!list || !list[0])
		vt_die("no RDMA device");
	for (i = 0; dev && list[i] && strcmp(ibv_get_device_name(list[i]), dev); i++)
		;
	if (!list[i])
		vt_die("no device %s", dev);
	v->ctx = ibv_open_device(list[i]);
	ibv_free_device_list(list);
	if (!v->ctx)
		vt_die("ibv_open_device: %s", strerror(errno));
	v->port = 1;
	if (ibv_query_port(v->ctx, v->port, &pa))
		vt_die("ibv_query_port");
	v->lid = pa.lid;
	v->pd = ibv_alloc_pd(v->ctx);
	v->cq = ibv_create_cq(v->ctx, cqe, NULL, NULL, 0);
	if (!v->pd || !v->cq)
		vt_die("ibv_alloc_pd / ibv_create_cq: %s", strerror(errno));
	ia.send_cq = ia.recv_cq = v->cq;
	ia.cap.max_send_wr = ia.cap.max_recv_wr = (uint32_t)depth;
	ia.cap.max_send_sge = ia.cap.max_recv_sge = 1;
	ia.qp_type = IBV_QPT_RC;
	v->qp = ibv_create_qp(v->pd, &ia);
	if (!v->qp)
		vt_die("ibv_create_qp: %s", strerror(errno));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = v->port;
	a.qp_access_flags = IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC;
	if (ibv_modify_qp(v->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
		vt_die("modify_qp INIT");
	srand48(getpid() * time(NULL));
	v->psn = (uint32_t)lrand48() & 0xffffff;
}

int vt_close(struct vt *v)
{
	int r = 0, e;

	if (v->qp && (e = ibv_destroy_qp(v->qp)) && !r)
		r = e;
	if (v->cq && (e = ibv_destroy_cq(v->cq)) && !r)
		r = e;
	if (v->pd && (e = ibv_dealloc_pd(v->pd)) && !r)
		r = e;
	if (v->ctx && (e = ibv_close_device(v->ctx)) && !r)
		r = e;
	return r;
}

void vt_connect(struct vt *v, const struct vt_dest *d)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = IBV_MTU_1024,
		.dest_qp_num = d->qpn,
		.rq_psn = d->psn,
		.max_dest_rd_atomic = 1,
		.min_rnr_timer = 12,
		.ah_attr = { .dlid = (uint16_t)d->lid, .port_num = v->port },
	};

	if (ibv_modify_qp(v->qp, &a,
			  IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
				  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
		vt_die("modify_qp RTR");
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = v->psn;
	a.max_rd_atomic = 1;
	if (ibv_modify_qp(v->qp, &a,
			  IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
				  IBV_QP_MAX_QP_RD_ATOMIC))
		vt_die("modify_qp RTS");
}

static int tcp_fd(const char *host, int port)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
	char ps[16];
	int fd, one = 1;

	snprintf(ps, sizeof(ps), "%d", port);
	if (host) {
		if (getaddrinfo(host, ps, &hints, &ai))
			vt_die("getaddrinfo %s", host);
		for (int tries = 0;; tries++) {
			fd = socket(AF_INET, SOCK_STREAM, 0);
			if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
				break;
			close(fd);
			if (tries > 100)
				vt_die("cannot connect to %s:%d", host, port);
			usleep(50000);
		}
		freeaddrinfo(ai);
		return fd;
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int l = socket(AF_INET, SOCK_STREAM, 0);

		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1))
			vt_die("cannot listen on port %d", port);
		fd = accept(l, NULL, NULL);
		close(l);
		return fd;
	}
}

void vt_exchange(const char *host, int port, const struct vt_dest *mine, struct vt_dest *theirs)
{
	int fd = tcp_fd(host, port);
	size_t got = 0;

	if (fd < 0 || write(fd, mine, sizeof(*mine)) != (ssize_t)sizeof(*mine))
		vt_die("exchange: write");
	while (got < sizeof(*theirs)) {
		ssize_t n = read(fd, (char *)theirs + got, sizeof(*theirs) - got);

		if (n <= 0)
			vt_die("exchange: read");
		got += (size_t)n;
	}
	close(fd);
}

void vt_wait(struct vt *v, struct ibv_wc *wc, int timeout_ms)
{
	long idle = 0;

	for (;;) {
		int n = ibv_poll_cq(v->cq, 1, wc);

		if (n < 0)
			vt_die("ibv_poll_cq failed");
		if (n == 1)
			break;
		if (++idle > (long)timeout_ms * 10)
			vt_die("no completion within %d ms", timeout_ms);
		if (idle > 100)
			usleep(100);
	}
	if (wc->status != IBV_WC_SUCCESS)
		vt_die("completion wr_id %llu: %s (opcode %d)", (unsigned long long)wc->wr_id,
		       ibv_wc_status_str(wc->status), (int)wc->opcode);
}

struct ibv_mr *vt_reg(struct vt *v, void *buf, size_t len)
{
	struct ibv_mr *mr = ibv_reg_mr(v->pd, buf, len,
				       IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE |
					       IBV_ACCESS_REMOTE_ATOMIC);

	if (!mr)
		vt_die("ibv_reg_mr %zu bytes: %s", len, strerror(errno));
	return mr;
}

void vt_post_recv(struct vt *v, struct ibv_mr *mr, void *buf, uint32_t len, uint64_t wr_id)
{
	struct ibv_sge s = { .addr = (uintptr_t)buf, .length = len, .lkey = mr->lkey };
	struct ibv_recv_wr wr = { .wr_id = wr_id, .sg_list = &s, .num_sge = 1 }, *bad;

	if (ibv_post_recv(v->qp, &wr, &bad))
		vt_die("ibv_post_recv");
}

void vt_post(struct vt *v, enum ibv_wr_opcode op, struct ibv_mr *mr, void *buf, uint32_t len,
	     const struct vt_dest *remote, uint64_t remote_off, uint64_t wr_id)
{
	struct ibv_sge s = { .addr = (uintptr_t)buf, .length = len, .lkey = mr->lkey };
	struct ibv_send_wr wr = { .wr_id = wr_id, .sg_list = &s, .num_sge = 1, .opcode = op,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;

	if (op == IBV_WR_ATOMIC_FETCH_AND_ADD) {
		wr.wr.atomic.remote_addr = remote->addr + remote_off;
		wr.wr.atomic.rkey = remote->rkey;
		wr.wr.atomic.compare_add = 1;
	} else if (remote) {
		wr.wr.rdma.remote_addr = remote->addr + remote_off;
		wr.wr.rdma.rkey = remote->rkey;
	}
	if (ibv_post_send(v->qp, &wr, &bad))
		vt_die("ibv_post_send opcode %d", (int)op);
}
