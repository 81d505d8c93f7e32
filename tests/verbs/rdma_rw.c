/*
 * rdma_rw: RDMA WRITE, READ, FETCH_AND_ADD and SEND between two processes,
 * round after round, while they are checkpointed and restored underneath.
 *
 *   rdma_rw -s PORT [options]          passive side (server)
 *   rdma_rw -c HOST -p PORT [options]  active side (client)
 *     -d DEV    device (default: the first)
 *     -r N      stop after N rounds (client; default: until the stop file)
 *     -t FILE   stop once FILE exists (client), after at least -m rounds
 *     -m N      at least N rounds (default 1)
 *     -w MS     pause between rounds (default 20)
 *
 * The two exchange their QP and a persistent MR (address, rkey) over TCP
 * once, at start.  Each round the server registers a new MR (and
 * deregisters an old one) and sends its rkey with SEND; the client (which
 * also registers a new read-back MR each round) writes a pattern into it
 * and into the persistent MR, adds 1 to a counter there with an atomic,
 * reads both back and compares, then tells the server, which checks its
 * memory.  Any mismatch or error completion ends with exit status 1 or 2.
 */
#include "vt_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PERSIST 65536
#define NSLOT 8
#define TMO 120000

enum { MSG_MR = 1, MSG_DONE, MSG_END };

struct msg {
	uint32_t type, round;
	uint64_t addr, len;
	uint32_t rkey, pad;
	uint64_t pattern;
};

struct side {
	struct vt v;
	struct msg *ctrl; /* NSLOT receive slots, then the send slot */
	struct ibv_mr *ctrl_mr;
	struct msg pending[NSLOT];
	int npending;
};

static uint8_t pat(int r, size_t i)
{
	return (uint8_t)(r * 131 + i * 7 + 13);
}

static void *buf_new(size_t len)
{
	void *p = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);

	if (!p)
		vt_die("out of memory");
	memset(p, 0, len);
	return p;
}

/* Wait for the send completion wr_id; messages arriving meanwhile wait. */
static void wait_send(struct side *s, uint64_t wr_id)
{
	for (;;) {
		struct ibv_wc wc;

		vt_wait(&s->v, &wc, TMO);
		if (wc.opcode & IBV_WC_RECV) {
			if (s->npending == NSLOT)
				vt_die("too many messages");
			s->pending[s->npending++] = s->ctrl[wc.wr_id];
			vt_post_recv(&s->v, s->ctrl_mr, &s->ctrl[wc.wr_id], sizeof(struct msg), wc.wr_id);
			continue;
		}
		if (wc.wr_id == wr_id)
			return;
	}
}

static void get_msg(struct side *s, struct msg *m)
{
	while (!s->npending) {
		struct ibv_wc wc;

		vt_wait(&s->v, &wc, TMO);
		if (!(wc.opcode & IBV_WC_RECV))
			continue;
		s->pending[s->npending++] = s->ctrl[wc.wr_id];
		vt_post_recv(&s->v, s->ctrl_mr, &s->ctrl[wc.wr_id], sizeof(struct msg), wc.wr_id);
	}
	*m = s->pending[0];
	memmove(s->pending, s->pending + 1, (size_t)--s->npending * sizeof(*m));
}

static void send_msg(struct side *s, const struct msg *m)
{
	static uint64_t id = 1000;

	s->ctrl[NSLOT] = *m;
	vt_post(&s->v, IBV_WR_SEND, s->ctrl_mr, &s->ctrl[NSLOT], sizeof(*m), NULL, 0, ++id);
	wait_send(s, id);
}

static void setup(struct side *s, const char *dev)
{
	vt_open(&s->v, dev, 256, 64);
	s->ctrl = buf_new((NSLOT + 1) * sizeof(struct msg));
	s->ctrl_mr = vt_reg(&s->v, s->ctrl, (NSLOT + 1) * sizeof(struct msg));
	for (int i = 0; i < NSLOT; i++)
		vt_post_recv(&s->v, s->ctrl_mr, &s->ctrl[i], sizeof(struct msg), (uint64_t)i);
}

/* Deregister and free what the side registered, then close the device. */
static void side_close(struct side *s, struct ibv_mr **mrs, void **bufs, int n)
{
	for (int i = 0; i < n; i++) {
		if (mrs[i] && ibv_dereg_mr(mrs[i]))
			vt_die("ibv_dereg_mr");
		free(bufs[i]);
	}
	if (ibv_dereg_mr(s->ctrl_mr) || vt_close(&s->v))
		vt_die("closing the device");
	free(s->ctrl);
}

static int server(const char *dev, int port)
{
	struct side s = { 0 };
	uint8_t *persist = buf_new(PERSIST), *bufs[2] = { NULL, NULL };
	struct ibv_mr *pmr, *mrs[2] = { NULL, NULL };
	struct vt_dest mine, peer;
	int r;

	setup(&s, dev);
	pmr = vt_reg(&s.v, persist, PERSIST);
	mine = (struct vt_dest){ s.v.lid, s.v.qp->qp_num, s.v.psn, pmr->rkey, (uintptr_t)persist, PERSIST };
	vt_exchange(NULL, port, &mine, &peer);
	vt_connect(&s.v, &peer);
	printf("rdma_rw server: connected, QP 0x%06x\n", s.v.qp->qp_num);
	fflush(stdout);
	for (r = 1;; r++) {
		size_t len = 4096 * (size_t)(1 + r % 4);
		int k = r % 2;
		struct msg m;

		if (mrs[k]) { /* registrations come and go */
			if (ibv_dereg_mr(mrs[k]))
				vt_die("ibv_dereg_mr");
			free(bufs[k]);
		}
		bufs[k] = buf_new(len);
		mrs[k] = vt_reg(&s.v, bufs[k], len);
		send_msg(&s, &(struct msg){ .type = MSG_MR, .round = (uint32_t)r, .addr = (uintptr_t)bufs[k],
					   .len = len, .rkey = mrs[k]->rkey });
		get_msg(&s, &m);
		if (m.type == MSG_END)
			break;
		if (m.type != MSG_DONE || m.round != (uint32_t)r)
			vt_die("round %d: unexpected message %u/%u", r, m.type, m.round);
		for (size_t i = 0; i < len; i++)
			if (bufs[k][i] != pat(r, i)) {
				fprintf(stderr, "rdma_rw server: round %d: byte %zu is %u, not %u\n", r, i, bufs[k][i],
					pat(r, i));
				return 1;
			}
		if (((uint64_t *)persist)[0] != (uint64_t)r ||
		    ((uint64_t *)persist)[1 + r % 512] != m.pattern) {
			fprintf(stderr, "rdma_rw server: round %d: persistent MR holds %llu / %llx\n", r,
				(unsigned long long)((uint64_t *)persist)[0],
				(unsigned long long)((uint64_t *)persist)[1 + r % 512]);
			return 1;
		}
	}
	printf("rdma_rw server: %d rounds ok\n", r - 1);
	side_close(&s, (struct ibv_mr *[]){ pmr, mrs[0], mrs[1] }, (void *[]){ persist, bufs[0], bufs[1] }, 3);
	return 0;
}

static int stop_now(const char *stopfile, int r, int min_rounds, int max_rounds)
{
	if (max_rounds && r > max_rounds)
		return 1;
	return stopfile && r > min_rounds && access(stopfile, F_OK) == 0;
}

static int client(const char *dev, const char *host, int port, const char *stopfile, int min_rounds,
		  int max_rounds, int pause_ms)
{
	struct side s = { 0 };
	uint8_t *src = buf_new(PERSIST), *rb = NULL;
	struct ibv_mr *smr, *rbmr = NULL;
	struct vt_dest mine, persist;
	uint64_t *old = (uint64_t *)(src + PERSIST - 64);
	int r;

	setup(&s, dev);
	smr = vt_reg(&s.v, src, PERSIST);
	mine = (struct vt_dest){ s.v.lid, s.v.qp->qp_num, s.v.psn, 0, 0, 0 };
	vt_exchange(host, port, &mine, &persist);
	vt_connect(&s.v, &persist);
	printf("rdma_rw client: connected, QP 0x%06x\n", s.v.qp->qp_num);
	fflush(stdout);
	for (r = 1; !stop_now(stopfile, r, min_rounds, max_rounds); r++) {
		struct vt_dest mr;
		struct msg m;
		uint64_t pattern = 0x5a5a000000000000ull | (uint64_t)r;

		get_msg(&s, &m);
		if (m.type != MSG_MR || m.round != (uint32_t)r)
			vt_die("round %d: unexpected message %u/%u", r, m.type, m.round);
		mr = (struct vt_dest){ .addr = m.addr, .len = m.len, .rkey = m.rkey };
		if (rbmr) {
			if (ibv_dereg_mr(rbmr))
				vt_die("ibv_dereg_mr");
			free(rb);
		}
		rb = buf_new(m.len + 8);
		rbmr = vt_reg(&s.v, rb, m.len + 8);
		for (size_t i = 0; i < m.len; i++)
			src[i] = pat(r, i);
		vt_post(&s.v, IBV_WR_RDMA_WRITE, smr, src, (uint32_t)m.len, &mr, 0, 1);
		wait_send(&s, 1);
		memcpy(src + PERSIST - 128, &pattern, 8);
		vt_post(&s.v, IBV_WR_RDMA_WRITE, smr, src + PERSIST - 128, 8, &persist, 8 * (1 + r % 512), 2);
		wait_send(&s, 2);
		vt_post(&s.v, IBV_WR_ATOMIC_FETCH_AND_ADD, smr, old, 8, &persist, 0, 3);
		wait_send(&s, 3);
		if (*old != (uint64_t)(r - 1))
			vt_die("round %d: the counter was %llu", r, (unsigned long long)*old);
		vt_post(&s.v, IBV_WR_RDMA_READ, rbmr, rb, (uint32_t)m.len, &mr, 0, 4);
		wait_send(&s, 4);
		vt_post(&s.v, IBV_WR_RDMA_READ, rbmr, rb + m.len, 8, &persist, 8 * (1 + r % 512), 5);
		wait_send(&s, 5);
		if (memcmp(rb, src, m.len) || memcmp(rb + m.len, &pattern, 8)) {
			fprintf(stderr, "rdma_rw client: round %d: read back differs\n", r);
			return 1;
		}
		send_msg(&s, &(struct msg){ .type = MSG_DONE, .round = (uint32_t)r, .pattern = pattern });
		if (pause_ms)
			usleep((useconds_t)pause_ms * 1000);
	}
	send_msg(&s, &(struct msg){ .type = MSG_END, .round = (uint32_t)r });
	printf("rdma_rw client: %d rounds ok\n", r - 1);
	side_close(&s, (struct ibv_mr *[]){ smr, rbmr }, (void *[]){ src, rb }, 2);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dev = NULL, *host = NULL, *stopfile = NULL;
	int port = 0, opt, max_rounds = 0, min_rounds = 1, pause_ms = 20, srv = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "s:c:p:d:r:t:m:w:")) != -1) {
		switch (opt) {
		case 's': srv = 1; port = atoi(optarg); break;
		case 'c': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'd': dev = optarg; break;
		case 'r': max_rounds = atoi(optarg); break;
		case 't': stopfile = optarg; break;
		case 'm': min_rounds = atoi(optarg); break;
		case 'w': pause_ms = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: rdma_rw -s PORT | -c HOST -p PORT [-d DEV] [-r N] [-t FILE] [-m N] [-w MS]\n");
			return 2;
		}
	}
	if (!port || (!srv && !host))
		vt_die("need -s PORT or -c HOST -p PORT");
	if (!max_rounds && !stopfile)
		max_rounds = 100;
	return srv ? server(dev, port) : client(dev, host, port, stopfile, min_rounds, max_rounds, pause_ms);
}
