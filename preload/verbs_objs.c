/*
 * Shadow objects of the verbs layer: creation, lookup from the program's
 * pointers, the lists the prepare/rebuild phases walk, and the virtual ->
 * real translation of LIDs, GIDs and new keys.
 */
#include "verbs_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

pthread_mutex_t vb_lock = PTHREAD_MUTEX_INITIALIZER;
struct vb_link vb_all[VB_NKINDS] = {
	{ &vb_all[0], &vb_all[0] }, { &vb_all[1], &vb_all[1] }, { &vb_all[2], &vb_all[2] },
	{ &vb_all[3], &vb_all[3] }, { &vb_all[4], &vb_all[4] }, { &vb_all[5], &vb_all[5] },
	{ &vb_all[6], &vb_all[6] }, { &vb_all[7], &vb_all[7] },
};
struct vb_dev vb_devs[VB_MAX_DEVS];

struct vb_map vb_mr_vlkey, vb_mr_vrkey, vb_qp_real, vb_qp_virt, vb_peer_fwd, vb_peer_rev, vb_rkeys;
struct vb_lidmap vb_lids[VB_MAX_LIDS];
int vb_nlids;
struct vb_gidmap vb_gids[VB_MAX_GIDMAP];
int vb_ngids;
int vb_xl_lkey, vb_xl_qpn, vb_xl_peer;
int vb_state;
uint64_t vb_generation;

void vb_link_add(enum vb_kind kind, struct vb_hdr *h)
{
	struct vb_link *head = &vb_all[kind];

	h->magic = VB_MAGIC + kind;
	h->link.prev = head->prev;
	h->link.next = head;
	head->prev->next = &h->link;
	head->prev = &h->link;
}

void vb_link_del(struct vb_hdr *h)
{
	h->link.prev->next = h->link.next;
	h->link.next->prev = h->link.prev;
	h->link.prev = h->link.next = &h->link;
	h->magic = 0;
}

int vb_count(enum vb_kind kind)
{
	int n = 0;

	for (struct vb_link *l = vb_all[kind].next; l != &vb_all[kind]; l = l->next)
		n++;
	return n;
}

void *vb_shadow(const void *pub, enum vb_kind kind, size_t hdr_off)
{
	const char *base = pub;

	if (!pub)
		return NULL;
	if (kind == VB_CTX)
		base -= offsetof(struct vb_ctx, vc.context);
	if (!vb_in_arena(base) || !vb_in_arena(base + hdr_off + sizeof(struct vb_hdr) - 1))
		return NULL;
	if (((const struct vb_hdr *)(base + hdr_off))->magic != VB_MAGIC + kind)
		return NULL;
	return (void *)base;
}

void *vb_new(enum vb_kind kind, size_t size, size_t hdr_off)
{
	char *p = vb_alloc(size);

	if (p)
		vb_link_add(kind, (struct vb_hdr *)(p + hdr_off));
	return p;
}

void vb_delete(void *obj, size_t size, size_t hdr_off)
{
	if (!obj)
		return;
	vb_link_del((struct vb_hdr *)((char *)obj + hdr_off));
	vb_free(obj, size);
}

struct vb_dev *vb_dev_get(const char *name)
{
	struct vb_dev *free_rec = NULL;

	for (int i = 0; i < VB_MAX_DEVS; i++) {
		if (!vb_devs[i].name[0]) {
			if (!free_rec)
				free_rec = &vb_devs[i];
			continue;
		}
		if (!strcmp(vb_devs[i].name, name))
			return &vb_devs[i];
	}
	if (free_rec)
		snprintf(free_rec->name, sizeof(free_rec->name), "%s", name);
	return free_rec;
}

uint16_t vb_lid_to_real(uint16_t vlid)
{
	for (int d = 0; d < VB_MAX_DEVS && vb_devs[d].name[0]; d++)
		for (int p = 1; p <= VB_MAX_PORTS; p++)
			if (vb_devs[d].port[p].known && vb_devs[d].port[p].vlid == vlid)
				return vb_devs[d].port[p].lid;
	for (int i = 0; i < vb_nlids; i++)
		if (vb_lids[i].vlid == vlid)
			return vb_lids[i].lid;
	return vlid;
}

uint16_t vb_lid_to_virt(uint16_t lid)
{
	for (int d = 0; d < VB_MAX_DEVS && vb_devs[d].name[0]; d++)
		for (int p = 1; p <= VB_MAX_PORTS; p++)
			if (vb_devs[d].port[p].known && vb_devs[d].port[p].lid == lid)
				return vb_devs[d].port[p].vlid;
	for (int i = 0; i < vb_nlids; i++)
		if (vb_lids[i].lid == lid)
			return vb_lids[i].vlid;
	return lid;
}

static int gid_eq(const union ibv_gid *a, const union ibv_gid *b)
{
	return !memcmp(a->raw, b->raw, sizeof(a->raw));
}

void vb_gid_to_real(union ibv_gid *gid)
{
	for (int d = 0; d < VB_MAX_DEVS && vb_devs[d].name[0]; d++)
		for (int p = 1; p <= VB_MAX_PORTS; p++)
			for (int i = 0; i < VB_MAX_GIDS; i++)
				if ((vb_devs[d].port[p].gid_known & (1u << i)) &&
				    gid_eq(&vb_devs[d].port[p].vgid[i], gid)) {
					*gid = vb_devs[d].port[p].gid[i];
					return;
				}
	for (int i = 0; i < vb_ngids; i++)
		if (gid_eq(&vb_gids[i].vgid, gid)) {
			*gid = vb_gids[i].gid;
			return;
		}
}

void vb_gid_to_virt(union ibv_gid *gid)
{
	for (int d = 0; d < VB_MAX_DEVS && vb_devs[d].name[0]; d++)
		for (int p = 1; p <= VB_MAX_PORTS; p++)
			for (int i = 0; i < VB_MAX_GIDS; i++)
				if ((vb_devs[d].port[p].gid_known & (1u << i)) &&
				    gid_eq(&vb_devs[d].port[p].gid[i], gid)) {
					*gid = vb_devs[d].port[p].vgid[i];
					return;
				}
	for (int i = 0; i < vb_ngids; i++)
		if (gid_eq(&vb_gids[i].gid, gid)) {
			*gid = vb_gids[i].vgid;
			return;
		}
}

void vb_ah_attr_to_real(struct ibv_ah_attr *a)
{
	a->dlid = vb_lid_to_real(a->dlid);
	if (a->is_global)
		vb_gid_to_real(&a->grh.dgid);
}

uint32_t vb_pick_key(const struct vb_map *m, uint32_t real, uint32_t mask)
{
	static uint64_t seed = 0x2545f4914f6cdd1dull;
	uint32_t k = real;

	while (vb_map_get(m, k, 0)) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		k = (uint32_t)seed & mask;
	}
	return k;
}

/* Shim-owned numbers stay clear of the ones the program gets. */
#define VB_FD_FLOOR 1010

int vb_fd_dup(int fd)
{
	int r = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, VB_FD_FLOOR);

	return r >= 0 ? r : (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 3);
}

int vb_fd_move(int from, int to)
{
	if (from == to)
		return 0;
	return (int)syscall(SYS_dup3, from, to, O_CLOEXEC) < 0 ? -1 : 0;
}

void vb_fd_park(int fd)
{
	int nul = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);

	if (nul < 0)
		return;
	vb_fd_move(nul, fd);
	syscall(SYS_close, nul);
}

void vb_fd_close(int fd)
{
	if (fd >= 0)
		syscall(SYS_close, fd);
}
