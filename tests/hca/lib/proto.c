// SPDX-License-Identifier: MIT
/*
 * The connection to crs-hcad: request/reply exchange, one-way posts, and
 * demultiplexing of completions the daemon pushes into the per-CQ queues.
 * Everything on a context's socket happens under ctx->lock.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

const char *hca_socket_path(void)
{
	static char buf[108];
	const char *env = getenv("CRS_HCA_SOCKET");

	if (env && *env)
		return env;
	snprintf(buf, sizeof(buf), "/tmp/crs-hca-%u/hca.sock",
		 (unsigned int)getuid());
	return buf;
}

int hca_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = hca_socket_path();
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Send a whole message; pass_fd (if >= 0) rides with the first byte. */
static int send_msg(int sock, const void *a, size_t alen, const void *b,
		    size_t blen, int pass_fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov[2] = {
		{ .iov_base = (void *)a, .iov_len = alen },
		{ .iov_base = (void *)b, .iov_len = blen },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = blen ? 2 : 1 };

	if (pass_fd >= 0) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	while (mh.msg_iovlen) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		while (mh.msg_iovlen && (size_t)n >= mh.msg_iov->iov_len) {
			n -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + n;
			mh.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int read_full(int fd, void *p, size_t len)
{
	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p = (char *)p + n;
		len -= (size_t)n;
	}
	return 0;
}

int hca_hello(int fd, int async_fd, struct hca_dev_info *info)
{
	struct hca_hello_req q = {
		.magic = HCA_PROTO_MAGIC, .want_async = async_fd >= 0,
	};
	struct hca_hdr h = {
		.len = sizeof(q), .op = HCA_OP_HELLO, .seq = 1,
		.flags = async_fd >= 0 ? HCA_F_FD : 0,
	};
	struct hca_hdr r;

	if (send_msg(fd, &h, sizeof(h), &q, sizeof(q), async_fd) ||
	    read_full(fd, &r, sizeof(r)))
		return EIO;
	if (r.op != HCA_OP_HELLO || !(r.flags & HCA_F_REPLY))
		return EPROTO;
	if (r.status)
		return r.status;
	if (r.len != sizeof(*info) || read_full(fd, info, sizeof(*info)))
		return EPROTO;
	info->name[sizeof(info->name) - 1] = '\0';
	return 0;
}

/* ---- handle table ---- */

int hca_slot_set(struct hca_context *ctx, uint32_t h, void *p, int type)
{
	if (h >= ctx->nslots) {
		uint32_t n = ctx->nslots ? ctx->nslots : 64;
		struct handle_slot *s;

		while (n <= h)
			n *= 2;
		s = realloc(ctx->slots, n * sizeof(*s));
		if (!s)
			return ENOMEM;
		memset(s + ctx->nslots, 0, (n - ctx->nslots) * sizeof(*s));
		ctx->slots = s;
		ctx->nslots = n;
	}
	ctx->slots[h].ptr = p;
	ctx->slots[h].type = type;
	return 0;
}

void hca_slot_clear(struct hca_context *ctx, uint32_t h)
{
	if (h < ctx->nslots)
		ctx->slots[h] = (struct handle_slot){ NULL, H_NONE };
}

void *hca_slot_get(struct hca_context *ctx, uint32_t h, int type)
{
	if (h >= ctx->nslots || ctx->slots[h].type != type)
		return NULL;
	return ctx->slots[h].ptr;
}

/* ---- receive side ---- */

static ssize_t rx_fill(struct hca_context *ctx, bool block)
{
	ssize_t n;

	if (ctx->rx_cap - ctx->rx_len < 65536) {
		size_t cap = ctx->rx_cap ? ctx->rx_cap * 2 : 131072;
		uint8_t *p = realloc(ctx->rx, cap);

		if (!p)
			return -1;
		ctx->rx = p;
		ctx->rx_cap = cap;
	}
	for (;;) {
		n = recv(ctx->sock, ctx->rx + ctx->rx_len,
			 ctx->rx_cap - ctx->rx_len, block ? 0 : MSG_DONTWAIT);
		if (n > 0) {
			ctx->rx_len += (size_t)n;
			return n;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		ctx->broken = true;
		return -1;
	}
}

struct waiter {
	uint32_t seq;
	void *rep;
	uint32_t rep_len;
	int status;
	bool done;
};

static void rx_parse(struct hca_context *ctx, struct waiter *w)
{
	size_t off = 0;

	while (ctx->rx_len - off >= sizeof(struct hca_hdr)) {
		struct hca_hdr h;
		const uint8_t *p;

		memcpy(&h, ctx->rx + off, sizeof(h));
		if (ctx->rx_len - off - sizeof(h) < h.len)
			break;
		p = ctx->rx + off + sizeof(h);
		if (h.op == HCA_OP_CQE && !(h.flags & HCA_F_REPLY)) {
			for (uint32_t i = 0; i + sizeof(struct hca_wire_cqe) <=
			     h.len; i += sizeof(struct hca_wire_cqe)) {
				struct hca_wire_cqe c;

				memcpy(&c, p + i, sizeof(c));
				hca_cq_deliver(ctx, &c);
			}
		} else if (w && (h.flags & HCA_F_REPLY) && h.seq == w->seq) {
			uint32_t n = h.len < w->rep_len ? h.len : w->rep_len;

			if (w->rep) {
				memcpy(w->rep, p, n);
				memset((uint8_t *)w->rep + n, 0,
				       w->rep_len - n);
			}
			w->status = h.status;
			w->done = true;
		}
		off += sizeof(h) + h.len;
	}
	if (off) {
		memmove(ctx->rx, ctx->rx + off, ctx->rx_len - off);
		ctx->rx_len -= off;
	}
}

void hca_drain(struct hca_context *ctx)
{
	ssize_t n;

	if (ctx->broken)
		return;
	do {
		n = rx_fill(ctx, false);
		if (n > 0)
			rx_parse(ctx, NULL);
	} while (n > 0 && ctx->rx_len == ctx->rx_cap);
}

int hca_call(struct hca_context *ctx, uint16_t op, const void *req,
	     uint32_t len, int pass_fd, void *rep, uint32_t rep_len)
{
	struct waiter w = { .rep = rep, .rep_len = rep_len };
	struct hca_hdr h = { .len = len, .op = op };
	int ret = 0;

	pthread_mutex_lock(&ctx->lock);
	if (ctx->broken) {
		ret = EIO;
		goto out;
	}
	w.seq = h.seq = ++ctx->seq;
	if (pass_fd >= 0)
		h.flags |= HCA_F_FD;
	if (send_msg(ctx->sock, &h, sizeof(h), req, len, pass_fd)) {
		ctx->broken = true;
		ret = EIO;
		goto out;
	}
	rx_parse(ctx, &w);
	while (!w.done) {
		if (rx_fill(ctx, true) < 0) {
			ret = EIO;
			goto out;
		}
		rx_parse(ctx, &w);
	}
	ret = w.status;
out:
	pthread_mutex_unlock(&ctx->lock);
	return ret;
}

void *hca_tx_reserve(struct hca_context *ctx, size_t len)
{
	size_t need = len + sizeof(struct hca_hdr);

	if (need > ctx->tx_cap) {
		size_t cap = ctx->tx_cap ? ctx->tx_cap : 4096;
		uint8_t *p;

		while (cap < need)
			cap *= 2;
		p = realloc(ctx->tx, cap);
		if (!p)
			return NULL;
		ctx->tx = p;
		ctx->tx_cap = cap;
	}
	return ctx->tx + sizeof(struct hca_hdr);
}

int hca_tx_send(struct hca_context *ctx, uint16_t op, size_t len)
{
	struct hca_hdr h = { .len = (uint32_t)len, .op = op };

	if (ctx->broken)
		return EIO;
	memcpy(ctx->tx, &h, sizeof(h));
	if (send_msg(ctx->sock, ctx->tx, sizeof(h) + len, NULL, 0, -1)) {
		ctx->broken = true;
		return EIO;
	}
	return 0;
}
