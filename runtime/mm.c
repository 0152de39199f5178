/* SPDX-License-Identifier: MIT */
/*
 * mm.c - a proc's shadow address space as a whole: made from its parent's
 * at fork (the kernel's dup_mmap(), with the page tables copied where
 * anonymous pages may be), dropped at exit (exit_mmap()), and checked
 * (mm_is_valid(), for verify and the unit tests).  Like vma.c, it only
 * models: no syscall.  Callers hold the family lock.
 */
#include <errno.h>
#include "internal.h"

static inline uint64_t vma_pages(const struct ns_vma *v)
{
	return (v->end - v->start) >> NS_PAGE_SHIFT;
}

struct fork_ctx {
	uint32_t child;
	int err;
};

static int fork_cb(uint32_t i, void *arg)
{
	struct fork_ctx *f = arg;
	struct ns_vma *v = vma_of(i);
	uint32_t n;

	if (v->flags & NS_VMA_DONTCOPY)
		return 0;
	n = vma_new(f->child, v->start, v->end, v->prot, v->flags, v->obj,
		    v->pgoff);
	if (!n) {
		f->err = -ENOMEM;
		return 1;
	}
	vma_of(n)->policy = v->policy;
	vma_of(n)->site = v->site;
	if (v->flags & NS_VMA_WIPEONFORK)
		return 0;	/* the child starts with fresh anonymous memory */
	/* Pages are learned after the fork, when someone asks: a private
	 * VMA may hold anonymous pages the shadow has not seen yet, and the
	 * child must link the anon_vma they will be learned into. */
	if (!(v->flags & NS_VMA_SHARED) && anon_vma_prepare(i) < 0) {
		f->err = -ENOMEM;
		return 1;
	}
	if (v->anon_vma && anon_vma_fork(n, i) < 0) {
		f->err = -ENOMEM;
		return 1;
	}
	return 0;
}

/* dup_mmap(): the child's shadow from the parent's.  Returns 0 or -errno. */
int mm_fork(uint32_t parent, uint32_t child)
{
	struct fork_ctx f = { child, 0 };

	proc_of(child)->start_brk = proc_of(parent)->start_brk;
	proc_of(child)->brk = proc_of(parent)->brk;
	vma_walk(parent, 0, ~0ULL, fork_cb, &f);
	if (f.err)
		return f.err;
	/* Like the kernel's vma_needs_copy(): page tables are copied only
	 * where anonymous pages may be (the VMA has an anon_vma); the child
	 * refaults the rest.  Table by table over the parent's, a VMA looked
	 * up where a slot leaves the last one found (a lookup per PTE was
	 * half the cost of a fork of 64 MiB written). */
	uint64_t vs = 0, ve = 0;	/* the last VMA found, in pages */
	bool copy = false;		/* ... and whether its pages are copied */
	for (uint32_t t = proc_of(parent)->pte_head; t; t = ptab_of(t)->next) {
		uint64_t base = ptab_base(t), mask = 0;
		for (uint32_t k = 0; k < NS_PTE_SLOTS; k++) {
			if (!ptab_of(t)->e[k])
				continue;
			if (base + k < vs || base + k >= ve) {
				uint32_t v = vma_find(parent, (base + k) << NS_PAGE_SHIFT);
				if (!v)
					continue;
				vs = vma_of(v)->start >> NS_PAGE_SHIFT;
				ve = vma_of(v)->end >> NS_PAGE_SHIFT;
				copy = vma_of(v)->anon_vma &&
				       !(vma_of(v)->flags & (NS_VMA_DONTCOPY | NS_VMA_WIPEONFORK));
			}
			if (copy)
				mask |= 1ULL << k;
		}
		if (mask && pte_copy_table(t, child, mask) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* A process killed in the middle of an edit of its VMA tree (the family is
 * then said to be tainted) leaves it broken: some of its VMAs no longer
 * reachable from the root, or reachable only in a loop.  Their records are
 * found in the pool instead (a free record has no proc) and released, so
 * that no AVC or i_mmap entry of theirs stays behind in the family's
 * shared trees: a walk from a page would find them, and after the proc's
 * record is reused, count its successor's PTE twice (lock_death, about 3
 * runs in 100). */
static void vma_sweep(uint32_t proc)
{
	proc_of(proc)->mm_root = 0;
	for (uint32_t i = 1; i < ns_arena->pool[POOL_VMA].used; i++)
		if (vma_of(i)->proc == proc)
			vma_release(i);
}

/* Drops a proc's whole shadow address space. */
void mm_exit(uint32_t proc)
{
	uint32_t v;

	/* PTEs first, table by table: no lookups over the unpopulated
	 * stretches of its VMAs. */
	pte_clear_all(proc);
	while ((v = proc_of(proc)->mm_root)) {
		vma_free(v);
		if (proc_of(proc)->mm_root == v)
			break;	/* broken: freeing v did not take it out */
	}
	if (proc_of(proc)->mm_root || proc_of(proc)->nr_vma)
		vma_sweep(proc);
}

struct valid_ctx {
	uint32_t proc;
	uint64_t prev_end;
	long n;
	bool bad;
};

static int valid_cb(uint32_t i, void *arg)
{
	struct valid_ctx *c = arg;
	struct ns_vma *v = vma_of(i);

	if (v->proc != c->proc || v->start >= v->end || v->start < c->prev_end ||
	    (v->start | v->end) & (NS_PAGE_SIZE - 1) || v->mm.start != v->start ||
	    v->mm.last != v->end - 1)
		c->bad = true;
	if (v->avc_head && !v->anon_vma)
		c->bad = true;
	for (uint32_t a = v->avc_head; a; a = avc_of(a)->next)
		if (avc_of(a)->vma != i || avc_of(a)->rb.start != v->pgoff ||
		    avc_of(a)->rb.last != v->pgoff + vma_pages(v) - 1)
			c->bad = true;
	if (v->obj && (v->imap.start != v->pgoff ||
		       v->imap.last != v->pgoff + vma_pages(v) - 1))
		c->bad = true;
	c->prev_end = v->end;
	c->n++;
	return 0;
}

long mm_is_valid(uint32_t proc)
{
	struct valid_ctx c = { proc, 0, 0, false };

	if (it_is_valid(&vma_mm_ops, proc_of(proc)->mm_root) < 0)
		return -EINVAL;
	vma_walk(proc, 0, ~0ULL, valid_cb, &c);
	if (c.bad || c.n != proc_of(proc)->nr_vma)
		return -EINVAL;
	return c.n;
}
