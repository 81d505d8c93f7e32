/*
 * Verbs hooks, protection domains, memory regions and address handles.
 * Each registration is kept (address, length, iova, access) to register it
 * again at the same place after a restore; the program keeps seeing the
 * lkey/rkey it got first (virtual), the fast path translates.
 */
#include "verbs_hook.h"

#include <stdio.h>
#include <string.h>

CRS_EXPORT struct ibv_pd *ibv_alloc_pd(struct ibv_context *context)
{
	alloc_pd_fn real = VB_REAL(VBF_ALLOC_PD, alloc_pd_fn);
	dealloc_pd_fn undo = VB_REAL(VBF_DEALLOC_PD, dealloc_pd_fn);
	struct vb_ctx *c = vb_ctx_of(context);
	struct ibv_pd *r;
	struct vb_pd *p;
	int s, g;

	if (!real)
		VB_NOSYS_PTR();
	if (!c)
		return real(context);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(c->real);
	if (r && !(p = VB_NEW(struct vb_pd, VB_PD))) {
		undo(r);
		r = NULL;
		errno = ENOMEM;
	}
	vb_loud(g);
	if (r) {
		p->ctx = c;
		p->real = r;
		p->pub.context = &c->vc.context;
		p->pub.handle = r->handle;
	}
	{
		int e = errno;

		vb_ctl_leave(s);
		errno = e;
	}
	return r ? &p->pub : NULL;
}

CRS_EXPORT int ibv_dealloc_pd(struct ibv_pd *pd)
{
	dealloc_pd_fn real = VB_REAL(VBF_DEALLOC_PD, dealloc_pd_fn);
	struct vb_pd *p = vb_pd_of(pd);
	int s, g, r;

	if (!real)
		return ENOSYS;
	if (!p)
		return real(pd);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(p->real);
	vb_loud(g);
	if (!r)
		VB_DELETE(p);
	vb_ctl_leave(s);
	return r;
}

/* ---- memory regions ---- */

enum reg_kind { REG_MR, REG_IOVA, REG_IOVA2 };

static void mr_map(struct vb_mr *m)
{
	vb_map_put(&vb_mr_vlkey, m->pub.lkey, (uintptr_t)m);
	vb_map_put(&vb_mr_vrkey, m->pub.rkey, (uintptr_t)m);
	if (m->pub.lkey != m->lkey && !vb_xl_lkey) {
		__atomic_store_n(&vb_xl_lkey, 1, __ATOMIC_RELEASE);
		vb_update_all_xlate();
	}
}

static void mr_unmap(struct vb_mr *m)
{
	vb_map_del(&vb_mr_vlkey, m->pub.lkey);
	vb_map_del(&vb_mr_vrkey, m->pub.rkey);
}

/* New virtual keys for a fresh real registration (vb_lock held). */
static void mr_take_keys(struct vb_mr *m, struct ibv_mr *r)
{
	m->real = r;
	m->lkey = r->lkey;
	m->rkey = r->rkey;
	m->pub.handle = r->handle;
	m->pub.lkey = vb_pick_key(&vb_mr_vlkey, r->lkey, 0xffffffffu);
	m->pub.rkey = vb_pick_key(&vb_mr_vrkey, r->rkey, 0xffffffffu);
	mr_map(m);
}

static struct ibv_mr *reg_common(struct vb_pd *p, void *addr, size_t length, uint64_t iova, unsigned access,
				 enum reg_kind kind)
{
	dereg_mr_fn undo = VB_REAL(VBF_DEREG_MR, dereg_mr_fn);
	struct ibv_mr *r = NULL;
	struct vb_mr *m;
	int s = vb_ctl_enter(), g = vb_quiet(), e;

	switch (kind) {
	case REG_MR:
		r = VB_REAL(VBF_REG_MR, reg_mr_fn)(p->real, addr, length, (int)access);
		break;
	case REG_IOVA:
		r = VB_REAL(VBF_REG_MR_IOVA, reg_mr_iova_fn)(p->real, addr, length, iova, (int)access);
		break;
	case REG_IOVA2:
		r = VB_REAL(VBF_REG_MR_IOVA2, reg_mr_iova2_fn)(p->real, addr, length, iova, access);
		break;
	}
	e = errno;
	if (r && !(m = VB_NEW(struct vb_mr, VB_MR))) {
		undo(r);
		r = NULL;
		e = ENOMEM;
	}
	vb_loud(g);
	if (r) {
		m->pd = p;
		m->iova = iova;
		m->access = access;
		m->pub.context = p->pub.context;
		m->pub.pd = &p->pub;
		m->pub.addr = addr;
		m->pub.length = length;
		mr_take_keys(m, r);
	}
	vb_ctl_leave(s);
	errno = e;
	return r ? &m->pub : NULL;
}

CRS_EXPORT struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access)
{
	reg_mr_fn real = VB_REAL(VBF_REG_MR, reg_mr_fn);
	struct vb_pd *p = vb_pd_of(pd);

	if (!real)
		VB_NOSYS_PTR();
	if (!p)
		return real(pd, addr, length, access);
	return reg_common(p, addr, length, (uintptr_t)addr, (unsigned)access, REG_MR);
}

CRS_EXPORT struct ibv_mr *ibv_reg_mr_iova(struct ibv_pd *pd, void *addr, size_t length, uint64_t iova,
					  int access)
{
	reg_mr_iova_fn real = VB_REAL(VBF_REG_MR_IOVA, reg_mr_iova_fn);
	struct vb_pd *p = vb_pd_of(pd);

	if (!real)
		VB_NOSYS_PTR();
	if (!p)
		return real(pd, addr, length, iova, access);
	return reg_common(p, addr, length, iova, (unsigned)access, REG_IOVA);
}

CRS_EXPORT struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length, uint64_t iova,
					   unsigned int access)
{
	reg_mr_iova2_fn real = VB_REAL(VBF_REG_MR_IOVA2, reg_mr_iova2_fn);
	struct vb_pd *p = vb_pd_of(pd);

	if (!real)
		VB_NOSYS_PTR();
	if (!p)
		return real(pd, addr, length, iova, access);
	return reg_common(p, addr, length, iova, access, REG_IOVA2);
}

/* Kept, but a checkpoint refuses it: the dmabuf is not the process's memory. */
CRS_EXPORT struct ibv_mr *ibv_reg_dmabuf_mr(struct ibv_pd *pd, uint64_t offset, size_t length, uint64_t iova,
					    int fd, int access)
{
	reg_dmabuf_mr_fn real = VB_REAL(VBF_REG_DMABUF_MR, reg_dmabuf_mr_fn);
	dereg_mr_fn undo = VB_REAL(VBF_DEREG_MR, dereg_mr_fn);
	struct vb_pd *p = vb_pd_of(pd);
	struct ibv_mr *r;
	struct vb_mr *m;
	int s, g, e;

	if (!real)
		VB_NOSYS_PTR();
	if (!p)
		return real(pd, offset, length, iova, fd, access);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(p->real, offset, length, iova, fd, access);
	e = errno;
	if (r && !(m = VB_NEW(struct vb_mr, VB_MR))) {
		undo(r);
		r = NULL;
		e = ENOMEM;
	}
	vb_loud(g);
	if (r) {
		m->pd = p;
		m->nocr = 1;
		m->iova = iova;
		m->access = (unsigned)access;
		m->pub.context = p->pub.context;
		m->pub.pd = &p->pub;
		m->pub.addr = r->addr;
		m->pub.length = length;
		mr_take_keys(m, r);
	}
	vb_ctl_leave(s);
	errno = e;
	return r ? &m->pub : NULL;
}

CRS_EXPORT int ibv_rereg_mr(struct ibv_mr *mr, int flags, struct ibv_pd *pd, void *addr, size_t length,
			    int access)
{
	rereg_mr_fn real = VB_REAL(VBF_REREG_MR, rereg_mr_fn);
	struct vb_mr *m = vb_mr_of(mr);
	struct vb_pd *p = NULL;
	int s, g, r;

	if (!real)
		return IBV_REREG_MR_ERR_INPUT;
	if (!m)
		return real(mr, flags, pd, addr, length, access);
	if ((flags & IBV_REREG_MR_CHANGE_PD) && pd && !(p = vb_pd_of(pd)))
		return real(mr, flags, pd, addr, length, access);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(m->real, flags, p ? p->real : pd, addr, length, access);
	vb_loud(g);
	if (!r) {
		if (flags & IBV_REREG_MR_CHANGE_PD) {
			m->pd = p;
			m->pub.pd = &p->pub;
		}
		if (flags & IBV_REREG_MR_CHANGE_TRANSLATION) {
			m->pub.addr = addr;
			m->pub.length = length;
			m->iova = (uintptr_t)addr;
		}
		if (flags & IBV_REREG_MR_CHANGE_ACCESS)
			m->access = (unsigned)access;
		if (m->real->lkey != m->lkey || m->real->rkey != m->rkey) {
			mr_unmap(m);
			mr_take_keys(m, m->real);
		}
	}
	{
		int e = errno;

		vb_ctl_leave(s);
		errno = e;
	}
	return r;
}

CRS_EXPORT int ibv_dereg_mr(struct ibv_mr *mr)
{
	dereg_mr_fn real = VB_REAL(VBF_DEREG_MR, dereg_mr_fn);
	struct vb_mr *m = vb_mr_of(mr);
	int s, g, r;

	if (!real)
		return ENOSYS;
	if (!m)
		return real(mr);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(m->real);
	vb_loud(g);
	if (!r) {
		mr_unmap(m);
		VB_DELETE(m);
	}
	vb_ctl_leave(s);
	return r;
}

/* Registered again at rebuild (vb_lock held, gate closed). */
int vb_mr_rebuild(struct vb_mr *m, char *err, size_t errlen)
{
	reg_mr_iova2_fn iova2 = VB_REAL(VBF_REG_MR_IOVA2, reg_mr_iova2_fn);
	reg_mr_fn reg = VB_REAL(VBF_REG_MR, reg_mr_fn);
	struct ibv_mr *r;

	if (iova2)
		r = iova2(m->pd->real, m->pub.addr, m->pub.length, m->iova, m->access);
	else
		r = reg(m->pd->real, m->pub.addr, m->pub.length, (int)m->access);
	if (!r) {
		snprintf(err, errlen, "cannot register the memory region at %p (%zu bytes) again: %s", m->pub.addr,
			 m->pub.length, strerror(errno));
		return -1;
	}
	m->real = r;
	m->lkey = r->lkey;
	m->rkey = r->rkey;
	m->pub.handle = r->handle;
	if ((m->lkey != m->pub.lkey) && !vb_xl_lkey)
		vb_xl_lkey = 1;
	return 0;
}

/* ---- address handles ---- */

CRS_EXPORT struct ibv_ah *ibv_create_ah(struct ibv_pd *pd, struct ibv_ah_attr *attr)
{
	create_ah_fn real = VB_REAL(VBF_CREATE_AH, create_ah_fn);
	destroy_ah_fn undo = VB_REAL(VBF_DESTROY_AH, destroy_ah_fn);
	struct vb_pd *p = vb_pd_of(pd);
	struct ibv_ah_attr a;
	struct ibv_ah *r;
	struct vb_ah *h;
	int s, g, e;

	if (!real)
		VB_NOSYS_PTR();
	if (!p)
		return real(pd, attr);
	s = vb_ctl_enter();
	a = *attr;
	vb_ah_attr_to_real(&a);
	g = vb_quiet();
	r = real(p->real, &a);
	e = errno;
	if (r && !(h = VB_NEW(struct vb_ah, VB_AH))) {
		undo(r);
		r = NULL;
		e = ENOMEM;
	}
	vb_loud(g);
	if (r) {
		h->pd = p;
		h->real = r;
		h->attr = *attr;
		h->pub.context = p->pub.context;
		h->pub.pd = &p->pub;
		h->pub.handle = r->handle;
	}
	vb_ctl_leave(s);
	errno = e;
	return r ? &h->pub : NULL;
}

CRS_EXPORT int ibv_destroy_ah(struct ibv_ah *ah)
{
	destroy_ah_fn real = VB_REAL(VBF_DESTROY_AH, destroy_ah_fn);
	struct vb_ah *h = vb_ah_of(ah);
	int s, g, r;

	if (!real)
		return ENOSYS;
	if (!h)
		return real(ah);
	s = vb_ctl_enter();
	g = vb_quiet();
	r = real(h->real);
	vb_loud(g);
	if (!r)
		VB_DELETE(h);
	vb_ctl_leave(s);
	return r;
}

CRS_EXPORT int ibv_init_ah_from_wc(struct ibv_context *context, uint8_t port_num, struct ibv_wc *wc,
				   struct ibv_grh *grh, struct ibv_ah_attr *ah_attr)
{
	init_ah_from_wc_fn real = VB_REAL(VBF_INIT_AH_FROM_WC, init_ah_from_wc_fn);
	struct vb_ctx *c = vb_ctx_of(context);
	int s, r;

	if (!real)
		return ENOSYS;
	if (!c)
		return real(context, port_num, wc, grh, ah_attr);
	s = vb_ctl_enter();
	r = real(c->real, port_num, wc, grh, ah_attr);
	/* the GRH carries the sender's real GID */
	if (!r && ah_attr->is_global)
		vb_gid_to_virt(&ah_attr->grh.dgid);
	vb_ctl_leave(s);
	return r;
}

CRS_EXPORT struct ibv_ah *ibv_create_ah_from_wc(struct ibv_pd *pd, struct ibv_wc *wc, struct ibv_grh *grh,
						uint8_t port_num)
{
	create_ah_from_wc_fn real = VB_REAL(VBF_CREATE_AH_FROM_WC, create_ah_from_wc_fn);
	struct vb_pd *p = vb_pd_of(pd);
	struct ibv_ah_attr a;

	if (!real)
		VB_NOSYS_PTR();
	if (!p)
		return real(pd, wc, grh, port_num);
	if (ibv_init_ah_from_wc(pd->context, port_num, wc, grh, &a))
		return NULL;
	return ibv_create_ah(pd, &a);
}

CRS_EXPORT struct ibv_pd *ibv_import_pd(struct ibv_context *context, uint32_t pd_handle)
{
	import_pd_fn real = VB_REAL(VBF_IMPORT_PD, import_pd_fn);

	if (!real)
		VB_NOSYS_PTR();
	if (vb_ctx_of(context)) { /* shared objects cannot be rebuilt */
		errno = EOPNOTSUPP;
		return NULL;
	}
	return real(context, pd_handle);
}

CRS_EXPORT struct ibv_mr *ibv_import_mr(struct ibv_pd *pd, uint32_t mr_handle)
{
	import_mr_fn real = VB_REAL(VBF_IMPORT_MR, import_mr_fn);

	if (!real)
		VB_NOSYS_PTR();
	if (vb_pd_of(pd)) {
		errno = EOPNOTSUPP;
		return NULL;
	}
	return real(pd, mr_handle);
}
