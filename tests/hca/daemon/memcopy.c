// SPDX-License-Identifier: MIT
/*
 * The "DMA engine": moves bytes between client processes with
 * process_vm_readv/process_vm_writev through a bounce buffer.  Callers have
 * already checked keys, ranges and access rights; a fault here means the
 * client unmapped registered memory.
 */
#include "hcad.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK		(1u << 20)
#define MAX_WIN		64

static uint8_t *bounce;

/* iovecs covering bytes [off, off + len) of a side's scatter list */
static int window(const struct xside *s, uint64_t off, uint64_t len,
		  struct iovec *w)
{
	int n = 0;

	for (int i = 0; i < s->niov && len && n < MAX_WIN; i++) {
		uint64_t l = s->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		w[n].iov_base = (uint8_t *)s->iov[i].iov_base + off;
		w[n].iov_len = l - off < len ? l - off : len;
		len -= w[n].iov_len;
		off = 0;
		n++;
	}
	return len ? -1 : n;
}

static void local_copy(struct iovec *w, int n, uint8_t *buf, bool to_buf)
{
	for (int i = 0; i < n; i++) {
		if (to_buf)
			memcpy(buf, w[i].iov_base, w[i].iov_len);
		else
			memcpy(w[i].iov_base, buf, w[i].iov_len);
		buf += w[i].iov_len;
	}
}

int xfer(const struct xside *src, const struct xside *dst, uint64_t len)
{
	struct iovec ws[MAX_WIN], wd[MAX_WIN];

	if (!bounce) {
		bounce = malloc(CHUNK);
		if (!bounce)
			return XFER_SRC_FAULT;
	}
	for (uint64_t off = 0; off < len;) {
		size_t n = len - off < CHUNK ? (size_t)(len - off) : CHUNK;
		struct iovec b = { .iov_base = bounce, .iov_len = n };
		int ns = window(src, off, n, ws);
		int nd = window(dst, off, n, wd);

		if (ns < 0)
			return XFER_SRC_FAULT;
		if (nd < 0)
			return XFER_DST_FAULT;
		if (!src->pid)
			local_copy(ws, ns, bounce, true);
		else if (process_vm_readv(src->pid, &b, 1, ws,
					  (unsigned long)ns, 0) != (ssize_t)n)
			return XFER_SRC_FAULT;
		if (!dst->pid)
			local_copy(wd, nd, bounce, false);
		else if (process_vm_writev(dst->pid, &b, 1, wd,
					   (unsigned long)nd, 0) != (ssize_t)n)
			return XFER_DST_FAULT;
		off += n;
	}
	return 0;
}
