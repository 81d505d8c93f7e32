// SPDX-License-Identifier: MIT
/*
 * Client connections: the listening socket, message framing, passed file
 * descriptors, and a non-blocking output queue per client.  The daemon never
 * blocks on a client: what the socket does not take is queued.
 *
 * Completion channel events are held back until everything queued before
 * them has reached the client's socket, so that a client woken by a channel
 * always finds the completion when it polls.
 */
#include "hcad.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

struct list clients = { &clients, &clients };
static uint32_t next_client_id;

int transport_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		hlog("socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		hlog("bind/listen %s: %m", path);
		close(fd);
		return -1;
	}
	return fd;
}

void transport_accept(int lfd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct client *cl;
	int fd, sz = 4 << 20;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		close(fd);
		return;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	cl->fd = fd;
	cl->pid = cr.pid;
	cl->id = ++next_client_id;
	cl->async_fd = -1;
	list_add_tail(&clients, &cl->link);
	hdbg("client %u: pid %d connected", cl->id, (int)cl->pid);
}

static void stash_fds(struct client *cl, struct msghdr *mh)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		int n, *fds;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		fds = (int *)CMSG_DATA(c);
		for (int i = 0; i < n; i++) {
			if (cl->nfdq < (int)(sizeof(cl->fdq) / sizeof(int)))
				cl->fdq[cl->nfdq++] = fds[i];
			else
				close(fds[i]);
		}
	}
}

int client_take_fd(struct client *cl)
{
	int fd;

	if (!cl->nfdq)
		return -1;
	fd = cl->fdq[0];
	memmove(cl->fdq, cl->fdq + 1, (size_t)(cl->nfdq - 1) * sizeof(int));
	cl->nfdq--;
	return fd;
}

static void parse_input(struct client *cl)
{
	size_t off = 0;

	while (!cl->dead && cl->in_len - off >= sizeof(struct hca_hdr)) {
		struct hca_hdr h;

		memcpy(&h, cl->in + off, sizeof(h));
		if (h.len > HCA_MAX_MSG) {
			hlog("client %u: oversized message", cl->id);
			cl->dead = true;
			break;
		}
		if (cl->in_len - off < sizeof(h) + h.len)
			break;
		dispatch(cl, &h, cl->in + off + sizeof(h));
		off += sizeof(h) + h.len;
	}
	if (off) {
		memmove(cl->in, cl->in + off, cl->in_len - off);
		cl->in_len -= off;
	}
}

void transport_read(struct client *cl)
{
	for (int rounds = 0; rounds < 1024 && !cl->dead; rounds++) {
		char cbuf[CMSG_SPACE(sizeof(int) * 8)];
		struct iovec iov;
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		ssize_t n;

		if (cl->in_cap - cl->in_len < 65536) {
			size_t cap = cl->in_cap ? cl->in_cap * 2 : 262144;
			uint8_t *p = realloc(cl->in, cap);

			if (!p) {
				cl->dead = true;
				return;
			}
			cl->in = p;
			cl->in_cap = cap;
		}
		iov.iov_base = cl->in + cl->in_len;
		iov.iov_len = cl->in_cap - cl->in_len;
		n = recvmsg(cl->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				cl->dead = true;
			return;
		}
		if (n == 0) {
			cl->dead = true;
			return;
		}
		stash_fds(cl, &mh);
		cl->in_len += (size_t)n;
		parse_input(cl);
		if ((size_t)n < iov.iov_len)
			return;
	}
}

void client_send(struct client *cl, uint16_t op, uint16_t flags,
		 uint32_t seq, int32_t status, const void *p, uint32_t len)
{
	struct hca_hdr h = {
		.len = len, .op = op, .flags = flags, .seq = seq,
		.status = status,
	};
	size_t need = sizeof(h) + len;

	if (cl->dead)
		return;
	if (cl->out_cap - cl->out_len < need) {
		size_t cap = cl->out_cap ? cl->out_cap : 65536;
		uint8_t *np;

		if (cl->out_off) {
			memmove(cl->out, cl->out + cl->out_off,
				cl->out_len - cl->out_off);
			cl->out_len -= cl->out_off;
			cl->out_off = 0;
		}
		while (cap - cl->out_len < need)
			cap *= 2;
		if (cap != cl->out_cap) {
			np = realloc(cl->out, cap);
			if (!np) {
				cl->dead = true;
				return;
			}
			cl->out = np;
			cl->out_cap = cap;
		}
	}
	memcpy(cl->out + cl->out_len, &h, sizeof(h));
	if (len)
		memcpy(cl->out + cl->out_len + sizeof(h), p, len);
	cl->out_len += need;
}

bool transport_want_write(const struct client *cl)
{
	return cl->out_len > cl->out_off;
}

static void deliver_events(struct client *cl)
{
	for (size_t i = 0; i < cl->npev; i++) {
		struct chan *ch = (struct chan *)obj_get(cl, cl->pev[i].chan,
							 OBJ_CHAN);
		struct hca_comp_event ev = { .cq = cl->pev[i].cq };

		if (ch && send(ch->fd, &ev, sizeof(ev),
			       MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			hdbg("client %u: channel event lost: %m", cl->id);
	}
	cl->npev = 0;
}

void transport_flush(struct client *cl)
{
	while (!cl->dead && cl->out_len > cl->out_off) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off,
				 cl->out_len - cl->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			cl->dead = true;
			return;
		}
		cl->out_off += (size_t)n;
	}
	cl->out_off = cl->out_len = 0;
	if (cl->npev)
		deliver_events(cl);
}

void client_queue_comp_event(struct client *cl, struct chan *ch, uint32_t cq)
{
	if (cl->npev == cl->cappev) {
		size_t n = cl->cappev ? cl->cappev * 2 : 16;
		struct pending_event *p = realloc(cl->pev, n * sizeof(*p));

		if (!p)
			return;
		cl->pev = p;
		cl->cappev = n;
	}
	cl->pev[cl->npev].chan = ch->o.handle;
	cl->pev[cl->npev].cq = cq;
	cl->npev++;
}

void client_async_event(struct client *cl, enum ibv_event_type type,
			uint32_t handle)
{
	struct hca_async_rec r = { .type = type, .handle = handle };

	if (cl->async_fd < 0 || cl->dead)
		return;
	if (send(cl->async_fd, &r, sizeof(r), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		hdbg("client %u: async event lost: %m", cl->id);
}

void client_destroy(struct client *cl)
{
	if (cl->nr_send || cl->nr_write || cl->nr_read || cl->nr_atomic ||
	    cl->nr_err)
		hlog("client %u: pid %d: %llu sends, %llu RDMA writes, "
		     "%llu RDMA reads, %llu atomics, %llu bytes, %llu errors",
		     cl->id, (int)cl->pid, (unsigned long long)cl->nr_send,
		     (unsigned long long)cl->nr_write,
		     (unsigned long long)cl->nr_read,
		     (unsigned long long)cl->nr_atomic,
		     (unsigned long long)cl->nr_bytes,
		     (unsigned long long)cl->nr_err);
	hdbg("client %u: pid %d gone", cl->id, (int)cl->pid);
	client_release_objects(cl);
	list_del(&cl->link);
	close(cl->fd);
	if (cl->async_fd >= 0)
		close(cl->async_fd);
	while (cl->nfdq)
		close(client_take_fd(cl));
	free(cl->in);
	free(cl->out);
	free(cl->objs);
	free(cl->pev);
	free(cl);
}

void clients_reap(void)
{
	struct list *l, *n;
	bool any = false;

	for (l = clients.next; l != &clients; l = n) {
		struct client *cl = container_of(l, struct client, link);

		n = l->next;
		if (cl->dead) {
			client_destroy(cl);
			any = true;
		}
	}
	/* a destroyed client may have left peers waiting on an RNR */
	if (any)
		engine_kick();
}
