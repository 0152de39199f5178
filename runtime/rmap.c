/* SPDX-License-Identifier: MIT */
/*
 * rmap.c - the reverse map: from a page to every (proc, vma, address) of
 * the family that maps it, as mm/rmap.c's rmap_walk() does.
 *
 * Candidates come from the page's object: for an anonymous page, the AVCs
 * in its anon_vma's interval tree covering the page's index; for a file or
 * shm page, the VMAs in the address_space's i_mmap covering it.  Each
 * candidate's address is vma_address(); the proc's shadow PTE there must
 * point at this very page (page_vma_mapped_walk()), since after COW a VMA
 * that still links the anon_vma maps its own copy instead.
 */
#include "internal.h"

/* Address of page `index` in vma, or 0 when the vma does not cover it:
 * vm_start + ((index - vm_pgoff) << PAGE_SHIFT). */
uint64_t vma_address(uint32_t vma, uint64_t index)
{
	struct ns_vma *v = vma_of(vma);
	uint64_t pages = (v->end - v->start) >> NS_PAGE_SHIFT;

	if (index < v->pgoff || index >= v->pgoff + pages)
		return 0;
	return v->start + ((index - v->pgoff) << NS_PAGE_SHIFT);
}

struct walk {
	uint32_t page;
	uint64_t index;
	bool any;		/* every place that could map it, PTE or not */
	rmap_cb cb;
	void *arg;
};

static int visit(struct walk *w, uint32_t vma)
{
	uint64_t addr = vma_address(vma, w->index);
	uint32_t proc = vma_of(vma)->proc, pte;

	if (!addr)
		return 0;
	pte = w->any ? 0 : pte_lookup(proc, addr >> NS_PAGE_SHIFT);
	if (!w->any && (!pte || pte_page(pte) != w->page))
		return 0;
	return w->cb(proc, vma, addr, w->arg);
}

static int anon_cb(uint32_t avc, void *arg)
{
	return visit(arg, avc_of(avc)->vma);
}

static int file_cb(uint32_t vma, void *arg)
{
	return visit(arg, vma);
}

/* Calls cb for every mapper of page; returns cb's first non-zero value, or
 * 0.  The zero page has no reverse map. */
static int walk(uint32_t page, bool any, rmap_cb cb, void *arg)
{
	struct ns_page *p = page_of(page);
	struct walk w = { page, p->index, any, cb, arg };

	if (p->flags & NS_PG_ZERO)
		return 0;
	if (p->flags & NS_PG_ANON)
		return it_query(&avc_ops, obj_of(p->obj)->tree, p->index,
				p->index, anon_cb, &w);
	return it_query(&vma_imap_ops, obj_of(p->obj)->tree, p->index, p->index,
			file_cb, &w);
}

int rmap_walk(uint32_t page, rmap_cb cb, void *arg)
{
	return walk(page, false, cb, arg);
}

int rmap_walk_places(uint32_t page, rmap_cb cb, void *arg)
{
	return walk(page, true, cb, arg);
}

struct collect {
	struct rmap_at *at;
	int n, skip, max;
};

static int collect_cb(uint32_t proc, uint32_t vma, uint64_t addr, void *arg)
{
	struct collect *c = arg;

	(void)vma;
	if (c->n >= c->skip && c->n - c->skip < c->max)
		c->at[c->n - c->skip] = (struct rmap_at){ proc, addr };
	c->n++;
	return 0;
}

int rmap_collect(uint32_t page, bool places, struct rmap_at *at, int skip, int max)
{
	struct collect c = { at, 0, skip, max };

	walk(page, places, collect_cb, &c);
	return c.n;
}
