/*
 * Helpers of the verbs test programs: one RC (or UD) QP on a device, its
 * connection to a peer whose address came over TCP, completion waits.
 */
#ifndef VT_COMMON_H
#define VT_COMMON_H

#include <infiniband/verbs.h>
#include <stdint.h>

struct vt {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	uint8_t port;
	uint16_t lid;
	uint32_t psn;
};

/* What the two sides tell each other. */
struct vt_dest {
	uint32_t lid, qpn, psn, rkey;
	uint64_t addr, len;
};

void vt_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Device (NULL = first), PD, CQ, QP in INIT. */
void vt_open(struct vt *v, const char *dev, int cqe, int depth);
/* Destroy what vt_open created; 0, or the first error. */
int vt_close(struct vt *v);
/* INIT -> RTR -> RTS towards d. */
void vt_connect(struct vt *v, const struct vt_dest *d);
/* Swap mine and theirs over TCP: host NULL listens on port. */
void vt_exchange(const char *host, int port, const struct vt_dest *mine, struct vt_dest *theirs);
/* One completion; dies after timeout_ms of polling (frozen time does not
 * count) or on an error status. */
void vt_wait(struct vt *v, struct ibv_wc *wc, int timeout_ms);
struct ibv_mr *vt_reg(struct vt *v, void *buf, size_t len);
void vt_post_recv(struct vt *v, struct ibv_mr *mr, void *buf, uint32_t len, uint64_t wr_id);
/* Signalled work request on the QP; sge from mr. */
void vt_post(struct vt *v, enum ibv_wr_opcode op, struct ibv_mr *mr, void *buf, uint32_t len,
	     const struct vt_dest *remote, uint64_t remote_off, uint64_t wr_id);

#endif
