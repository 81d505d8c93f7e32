// SPDX-License-Identifier: MIT
/*
 * QP state machine: which transitions are legal and which attributes each
 * one requires or allows (IBA table "QP state transition properties"), and
 * range checks of the attribute values.
 */
#include "hcad.h"

#include <errno.h>

#define M(x) IBV_QP_##x

enum { T_RC, T_UC, T_UD, T_NR };

struct trans {
	uint32_t req[T_NR];
	uint32_t opt[T_NR];
};

static int type_index(enum ibv_qp_type t)
{
	switch (t) {
	case IBV_QPT_RC:
		return T_RC;
	case IBV_QPT_UC:
		return T_UC;
	case IBV_QPT_UD:
		return T_UD;
	default:
		return -1;
	}
}

#define RTS_OPT_RC (M(CUR_STATE) | M(ACCESS_FLAGS) | M(ALT_PATH) | \
		    M(PATH_MIG_STATE) | M(MIN_RNR_TIMER))
#define RTS_OPT_UC (M(CUR_STATE) | M(ACCESS_FLAGS) | M(ALT_PATH) | \
		    M(PATH_MIG_STATE))
#define RTS_OPT_UD (M(CUR_STATE) | M(QKEY))

static const struct trans *lookup(enum ibv_qp_state cur,
				  enum ibv_qp_state next)
{
	static const struct trans any_to_reset_err = {
		.req = { M(STATE), M(STATE), M(STATE) },
	};
	static const struct trans reset_init = {
		.req = {
			M(STATE) | M(PKEY_INDEX) | M(PORT) | M(ACCESS_FLAGS),
			M(STATE) | M(PKEY_INDEX) | M(PORT) | M(ACCESS_FLAGS),
			M(STATE) | M(PKEY_INDEX) | M(PORT) | M(QKEY),
		},
	};
	static const struct trans init_init = {
		.opt = {
			M(PKEY_INDEX) | M(PORT) | M(ACCESS_FLAGS),
			M(PKEY_INDEX) | M(PORT) | M(ACCESS_FLAGS),
			M(PKEY_INDEX) | M(PORT) | M(QKEY),
		},
	};
	static const struct trans init_rtr = {
		.req = {
			M(STATE) | M(AV) | M(PATH_MTU) | M(DEST_QPN) |
				M(RQ_PSN) | M(MAX_DEST_RD_ATOMIC) |
				M(MIN_RNR_TIMER),
			M(STATE) | M(AV) | M(PATH_MTU) | M(DEST_QPN) |
				M(RQ_PSN),
			M(STATE),
		},
		.opt = {
			M(ALT_PATH) | M(ACCESS_FLAGS) | M(PKEY_INDEX),
			M(ALT_PATH) | M(ACCESS_FLAGS) | M(PKEY_INDEX),
			M(PKEY_INDEX) | M(QKEY),
		},
	};
	static const struct trans rtr_rts = {
		.req = {
			M(STATE) | M(SQ_PSN) | M(TIMEOUT) | M(RETRY_CNT) |
				M(RNR_RETRY) | M(MAX_QP_RD_ATOMIC),
			M(STATE) | M(SQ_PSN),
			M(STATE) | M(SQ_PSN),
		},
		.opt = { RTS_OPT_RC, RTS_OPT_UC, RTS_OPT_UD },
	};
	static const struct trans rts_rts = {
		.opt = { RTS_OPT_RC, RTS_OPT_UC, RTS_OPT_UD },
	};
	static const struct trans sqd_rts = {
		.req = { M(STATE), M(STATE), M(STATE) },
		.opt = { RTS_OPT_RC, RTS_OPT_UC, RTS_OPT_UD },
	};
	static const struct trans rts_sqd = {
		.req = { M(STATE), M(STATE), M(STATE) },
		.opt = {
			M(EN_SQD_ASYNC_NOTIFY), M(EN_SQD_ASYNC_NOTIFY),
			M(EN_SQD_ASYNC_NOTIFY),
		},
	};
	static const struct trans sqd_sqd = {
		.opt = {
			M(CUR_STATE) | M(AV) | M(ALT_PATH) | M(ACCESS_FLAGS) |
				M(PKEY_INDEX) | M(MIN_RNR_TIMER) |
				M(PATH_MIG_STATE) | M(TIMEOUT) | M(RETRY_CNT) |
				M(RNR_RETRY) | M(MAX_QP_RD_ATOMIC) |
				M(MAX_DEST_RD_ATOMIC),
			M(CUR_STATE) | M(AV) | M(ALT_PATH) | M(ACCESS_FLAGS) |
				M(PKEY_INDEX) | M(PATH_MIG_STATE),
			M(CUR_STATE) | M(PKEY_INDEX) | M(QKEY),
		},
	};
	/* SQE exists for UC and UD only */
	static const struct trans sqe_rts = {
		.req = { ~0u, M(STATE), M(STATE) },
		.opt = { 0, M(CUR_STATE) | M(ACCESS_FLAGS),
			 M(CUR_STATE) | M(QKEY) },
	};

	if (next == IBV_QPS_RESET || next == IBV_QPS_ERR)
		return &any_to_reset_err;
	switch (cur) {
	case IBV_QPS_RESET:
		return next == IBV_QPS_INIT ? &reset_init : NULL;
	case IBV_QPS_INIT:
		if (next == IBV_QPS_INIT)
			return &init_init;
		return next == IBV_QPS_RTR ? &init_rtr : NULL;
	case IBV_QPS_RTR:
		return next == IBV_QPS_RTS ? &rtr_rts : NULL;
	case IBV_QPS_RTS:
		if (next == IBV_QPS_RTS)
			return &rts_rts;
		return next == IBV_QPS_SQD ? &rts_sqd : NULL;
	case IBV_QPS_SQD:
		if (next == IBV_QPS_RTS)
			return &sqd_rts;
		return next == IBV_QPS_SQD ? &sqd_sqd : NULL;
	case IBV_QPS_SQE:
		return next == IBV_QPS_RTS ? &sqe_rts : NULL;
	default:
		return NULL;
	}
}

static bool valid_access(unsigned int a)
{
	return !(a & ~(unsigned int)(IBV_ACCESS_LOCAL_WRITE |
				     IBV_ACCESS_REMOTE_WRITE |
				     IBV_ACCESS_REMOTE_READ |
				     IBV_ACCESS_REMOTE_ATOMIC));
}

static int check_values(const struct qp *qp, const struct ibv_qp_attr *a,
			int mask)
{
	if ((mask & M(PORT)) && a->port_num != HCA_PORT_NUM)
		return EINVAL;
	if ((mask & M(PKEY_INDEX)) && a->pkey_index != 0)
		return EINVAL;
	if ((mask & M(ACCESS_FLAGS)) && !valid_access(a->qp_access_flags))
		return EINVAL;
	if ((mask & M(PATH_MTU)) &&
	    (a->path_mtu < IBV_MTU_256 || a->path_mtu > IBV_MTU_4096))
		return EINVAL;
	if ((mask & M(AV)) && a->ah_attr.port_num > HCA_PORT_NUM)
		return EINVAL;
	if ((mask & M(AV)) && a->ah_attr.is_global &&
	    a->ah_attr.grh.sgid_index != 0)
		return EINVAL;
	if ((mask & M(DEST_QPN)) && a->dest_qp_num > 0xffffff)
		return EINVAL;
	if ((mask & M(TIMEOUT)) && a->timeout > 31)
		return EINVAL;
	if ((mask & M(RETRY_CNT)) && a->retry_cnt > 7)
		return EINVAL;
	if ((mask & M(RNR_RETRY)) && a->rnr_retry > 7)
		return EINVAL;
	if ((mask & M(MIN_RNR_TIMER)) && a->min_rnr_timer > 31)
		return EINVAL;
	if ((mask & M(MAX_QP_RD_ATOMIC)) &&
	    a->max_rd_atomic > HCA_MAX_RD_ATOM)
		return EINVAL;
	if ((mask & M(MAX_DEST_RD_ATOMIC)) &&
	    a->max_dest_rd_atomic > HCA_MAX_RD_ATOM)
		return EINVAL;
	if ((mask & M(CUR_STATE)) && a->cur_qp_state != qp->attr.qp_state)
		return EINVAL;
	if (mask & M(CAP))
		return EINVAL;	/* resizing WQs is not supported */
	return 0;
}

int qp_check_modify(struct qp *qp, const struct ibv_qp_attr *attr, int mask)
{
	enum ibv_qp_state cur = qp->attr.qp_state;
	enum ibv_qp_state next = (mask & M(STATE)) ? attr->qp_state : cur;
	const struct trans *t;
	uint32_t req, opt, m = (uint32_t)mask;
	int ti = type_index(qp->type);

	if (ti < 0 || next > IBV_QPS_ERR)
		return EINVAL;
	t = lookup(cur, next);
	if (!t)
		return EINVAL;
	req = t->req[ti];
	opt = t->opt[ti];
	if (!(m & M(STATE)) && req)
		return EINVAL;	/* same-state modify needs a legal X->X */
	if ((m & req) != req)
		return EINVAL;
	if (m & ~(req | opt | M(STATE)))
		return EINVAL;
	return check_values(qp, attr, mask);
}

void qp_apply_modify(struct qp *qp, const struct ibv_qp_attr *a, int mask)
{
	struct ibv_qp_attr *q = &qp->attr;

	if (mask & M(PKEY_INDEX))
		q->pkey_index = a->pkey_index;
	if (mask & M(PORT))
		q->port_num = a->port_num;
	if (mask & M(ACCESS_FLAGS))
		q->qp_access_flags = a->qp_access_flags;
	if (mask & M(QKEY))
		q->qkey = a->qkey;
	if (mask & M(AV))
		q->ah_attr = a->ah_attr;
	if (mask & M(ALT_PATH)) {
		q->alt_ah_attr = a->alt_ah_attr;
		q->alt_pkey_index = a->alt_pkey_index;
		q->alt_port_num = a->alt_port_num;
		q->alt_timeout = a->alt_timeout;
	}
	if (mask & M(PATH_MTU))
		q->path_mtu = a->path_mtu;
	if (mask & M(DEST_QPN))
		q->dest_qp_num = a->dest_qp_num;
	if (mask & M(RQ_PSN))
		q->rq_psn = a->rq_psn & 0xffffff;
	if (mask & M(SQ_PSN))
		q->sq_psn = a->sq_psn & 0xffffff;
	if (mask & M(MAX_DEST_RD_ATOMIC))
		q->max_dest_rd_atomic = a->max_dest_rd_atomic;
	if (mask & M(MAX_QP_RD_ATOMIC))
		q->max_rd_atomic = a->max_rd_atomic;
	if (mask & M(MIN_RNR_TIMER))
		q->min_rnr_timer = a->min_rnr_timer;
	if (mask & M(TIMEOUT))
		q->timeout = a->timeout;
	if (mask & M(RETRY_CNT))
		q->retry_cnt = a->retry_cnt;
	if (mask & M(RNR_RETRY))
		q->rnr_retry = a->rnr_retry;
	if (mask & M(PATH_MIG_STATE))
		q->path_mig_state = a->path_mig_state;
	if (mask & M(EN_SQD_ASYNC_NOTIFY))
		q->en_sqd_async_notify = a->en_sqd_async_notify;
	if (mask & M(STATE))
		q->qp_state = a->qp_state;
	q->cur_qp_state = q->qp_state;
}
