/* SPDX-License-Identifier: MIT */
/*
 * vma.c - a proc's shadow VMAs, changed the way the kernel changes its own:
 * munmap and MAP_FIXED split what they cut into, mprotect and madvise split
 * at the range's ends, mremap grows, shrinks and moves (keeping the page
 * offset, so the rmap's address formula survives the move), and neighbours
 * with the same attributes, object, contiguous pgoff and compatible
 * anon_vma merge.  These functions only model; they make no syscall, which
 * is what lets the unit tests drive them.  Callers hold the family lock.
 */
#include <errno.h>
#include <sys/mman.h>
#include "internal.h"

static inline uint64_t vma_pages(const struct ns_vma *v)
{
	return (v->end - v->start) >> NS_PAGE_SHIFT;
}

uint32_t vma_new(uint32_t proc, uint64_t start, uint64_t end, int prot,
		 uint32_t flags, uint32_t obj, uint64_t pgoff)
{
	uint32_t i = pool_alloc(POOL_VMA);
	struct ns_vma *v;

	if (!i)
		return 0;
	v = vma_of(i);
	v->start = v->mm.start = start;
	v->end = end;
	v->mm.last = end - 1;
	v->pgoff = pgoff;
	v->proc = proc;
	v->obj = obj;
	v->prot = prot;
	v->flags = flags;
	it_insert(&vma_mm_ops, &proc_of(proc)->mm_root, i);
	if (obj) {
		obj_get(obj);
		imap_tree_update(i, true);
	}
	proc_of(proc)->nr_vma++;
	return i;
}

/* Drops the VMA's links to its objects and its record; the caller took
 * it out of its proc's tree. */
void vma_release(uint32_t i)
{
	struct ns_vma *v = vma_of(i);

	if (v->obj) {
		imap_tree_update(i, false);
		obj_put(v->obj);
	}
	unlink_anon_vmas(i);
	proc_of(v->proc)->nr_vma--;
	pool_free(POOL_VMA, i);
}

void vma_free(uint32_t i)
{
	it_remove(&vma_mm_ops, &proc_of(vma_of(i)->proc)->mm_root, i);
	vma_release(i);
}

/* Moves vma to [start, end) at pgoff, keeping every tree it is in right. */
static void vma_set_range(uint32_t i, uint64_t start, uint64_t end,
			  uint64_t pgoff)
{
	struct ns_vma *v = vma_of(i);

	avc_tree_update(i, false);
	imap_tree_update(i, false);
	it_remove(&vma_mm_ops, &proc_of(v->proc)->mm_root, i);
	v->start = v->mm.start = start;
	v->end = end;
	v->mm.last = end - 1;
	v->pgoff = pgoff;
	it_insert(&vma_mm_ops, &proc_of(v->proc)->mm_root, i);
	imap_tree_update(i, true);
	avc_tree_update(i, true);
}

uint32_t vma_find(uint32_t proc, uint64_t addr)
{
	return it_first(&vma_mm_ops, proc_of(proc)->mm_root, addr, addr);
}

int vma_walk(uint32_t proc, uint64_t start, uint64_t end, it_cb cb, void *arg)
{
	if (start >= end)
		return 0;
	return it_query(&vma_mm_ops, proc_of(proc)->mm_root, start, end - 1, cb,
			arg);
}

/* Splits vma at addr (inside it): it keeps [start, addr), a new VMA gets
 * [addr, end) with the same anon_vmas.  Returns the new index or -errno. */
int vma_split(uint32_t i, uint64_t addr)
{
	struct ns_vma *v = vma_of(i);
	uint32_t n;

	if (addr <= v->start || addr >= v->end || (addr & (NS_PAGE_SIZE - 1)))
		return -EINVAL;
	n = vma_new(v->proc, addr, v->end, v->prot, v->flags, v->obj,
		    v->pgoff + ((addr - v->start) >> NS_PAGE_SHIFT));
	if (!n)
		return -ENOMEM;
	if (anon_vma_clone(n, i) < 0) {
		vma_free(n);
		return -ENOMEM;
	}
	vma_of(n)->policy = v->policy;
	vma_of(n)->site = v->site;
	vma_set_range(i, v->start, addr, v->pgoff);
	return (int)n;
}

/* Can b (right after a) merge with a, where `moved` is the one whose
 * range or attributes just changed?  The kernel's is_mergeable_vma and
 * is_mergeable_anon_vma: same attributes and object, contiguous pgoff, and
 * the same anon_vma - or the changed one has none while the one it joins
 * has an anon_vma of its own alone (a chain of one: never forked). */
static bool can_merge(uint32_t ai, uint32_t bi, uint32_t moved)
{
	struct ns_vma *a = vma_of(ai), *b = vma_of(bi);
	uint32_t other = moved == ai ? bi : ai;

	if (a->end != b->start || a->prot != b->prot || a->flags != b->flags ||
	    a->obj != b->obj || a->pgoff + vma_pages(a) != b->pgoff ||
	    a->policy != b->policy || a->site != b->site)
		return false;
	if (a->flags & NS_VMA_GROWSDOWN)
		return false;
	if (a->anon_vma == b->anon_vma)
		return true;
	return !vma_of(moved)->anon_vma && avc_count(other) == 1;
}

/* Merges b into a (a right before b). */
static void merge_into(uint32_t a, uint32_t b)
{
	if (!vma_of(a)->anon_vma && vma_of(b)->anon_vma)
		anon_vma_clone(a, b);	/* b's single AVC; on -ENOMEM a simply
					 * keeps none, verify finds out */
	uint64_t end = vma_of(b)->end;
	vma_free(b);
	vma_set_range(a, vma_of(a)->start, end, vma_of(a)->pgoff);
}

/* Merges vma with its neighbours where the kernel would; returns the VMA
 * now covering its range. */
static uint32_t vma_try_merge(uint32_t i)
{
	uint32_t proc = vma_of(i)->proc, p, n;

	if (vma_of(i)->start && (p = vma_find(proc, vma_of(i)->start - 1)) &&
	    can_merge(p, i, i)) {
		merge_into(p, i);
		i = p;
	}
	n = vma_find(proc, vma_of(i)->end);
	if (n && can_merge(i, n, i))
		merge_into(i, n);
	return i;
}

/* Merges what can merge among the VMAs in [start, end) and their outer
 * neighbours. */
static void merge_range(uint32_t proc, uint64_t start, uint64_t end)
{
	uint32_t v = it_first(&vma_mm_ops, proc_of(proc)->mm_root, start, end - 1);

	while (v) {
		v = vma_try_merge(v);
		if (vma_of(v)->end >= end)
			break;
		v = it_first(&vma_mm_ops, proc_of(proc)->mm_root, vma_of(v)->end,
			     end - 1);
	}
}

/* Makes [start, end) the exact union of whole VMAs by splitting the ones
 * that straddle its ends.  Returns 0 or -ENOMEM. */
static int split_edges(uint32_t proc, uint64_t start, uint64_t end)
{
	uint32_t v = vma_find(proc, start);

	if (v && vma_of(v)->start < start && vma_split(v, start) < 0)
		return -ENOMEM;
	v = vma_find(proc, end - 1);
	if (v && vma_of(v)->end > end && vma_split(v, end) < 0)
		return -ENOMEM;
	return 0;
}

int vma_unmap(uint32_t proc, uint64_t start, uint64_t end)
{
	uint32_t v;

	if (start >= end)
		return 0;
	if (split_edges(proc, start, end) < 0)
		return -ENOMEM;
	while ((v = it_first(&vma_mm_ops, proc_of(proc)->mm_root, start,
			     end - 1))) {
		pte_clear_range(proc, vma_of(v)->start, vma_of(v)->end);
		vma_free(v);
	}
	return 0;
}

/* A new mapping, replacing whatever was in [start, end) (MAP_FIXED, or the
 * kernel's choice of a free range).  Returns 0 or -ENOMEM. */
/* The kernel grows a stack down on its own (a fault below it); so does
 * the shadow: the GROWSDOWN VMA of proc ending at end is extended down to
 * start, its page offset lowered with it (an offset that cannot go that
 * low is left alone).  What lay in [start, its old start) goes. */
void vma_grow_down(uint32_t proc, uint64_t start, uint64_t end)
{
	uint32_t v = vma_find(proc, end - 1);

	if (v && (vma_of(v)->flags & NS_VMA_GROWSDOWN) &&
	    vma_of(v)->end == end && start < vma_of(v)->start) {
		uint64_t grow = (vma_of(v)->start - start) >> NS_PAGE_SHIFT;
		if (vma_of(v)->pgoff >= grow) {
			vma_unmap(proc, start, vma_of(v)->start);
			vma_set_range(v, start, vma_of(v)->end,
				      vma_of(v)->pgoff - grow);
		}
	}
}

int vma_map(uint32_t proc, uint64_t start, uint64_t end, int prot,
	    uint32_t flags, uint32_t obj, uint64_t pgoff)
{
	uint32_t v;

	if (vma_unmap(proc, start, end) < 0)
		return -ENOMEM;
	v = vma_new(proc, start, end, prot, flags, obj, pgoff);
	if (!v)
		return -ENOMEM;
	vma_try_merge(v);
	return 0;
}

struct collect {
	uint32_t *out;
	int n, max;
};

static int collect_cb(uint32_t idx, void *arg)
{
	struct collect *c = arg;

	if (c->n == c->max)
		return 1;
	c->out[c->n++] = idx;
	return 0;
}

/* Applies fn to every VMA in [start, end) after splitting at the ends, then
 * merges what can merge.  Batches of 64 keep the walk free of tree edits. */
static int vma_apply(uint32_t proc, uint64_t start, uint64_t end,
		     void (*fn)(uint32_t vma, long arg), long arg)
{
	uint32_t buf[64];
	uint64_t pos = start;

	if (start >= end)
		return 0;	/* the kernel changes nothing either */
	if (split_edges(proc, start, end) < 0)
		return -ENOMEM;
	while (pos < end) {
		struct collect c = { buf, 0, 64 };
		vma_walk(proc, pos, end, collect_cb, &c);
		if (!c.n)
			break;
		for (int k = 0; k < c.n; k++)
			fn(buf[k], arg);
		pos = vma_of(buf[c.n - 1])->end;
	}
	merge_range(proc, start, end);
	return 0;
}

static void set_prot(uint32_t v, long prot)
{
	vma_of(v)->prot = (uint32_t)prot;
}

static void set_policy(uint32_t v, long idx)
{
	vma_of(v)->policy = (int32_t)idx;
}

static void set_site(uint32_t v, long site)
{
	vma_of(v)->site = (uint32_t)site;
}

/* Records where [start, end) was mapped from. */
int vma_set_site(uint32_t proc, uint64_t start, uint64_t end, uint32_t site)
{
	return vma_apply(proc, start, end, set_site, site);
}

/* Marks [start, end) as placed by policy idx (0: not placed). */
int vma_set_policy(uint32_t proc, uint64_t start, uint64_t end, int idx)
{
	return vma_apply(proc, start, end, set_policy, idx);
}

int vma_protect(uint32_t proc, uint64_t start, uint64_t end, int prot)
{
	return vma_apply(proc, start, end, set_prot, prot);
}

static void set_flag(uint32_t v, long f)
{
	vma_of(v)->flags |= (uint32_t)f;
}

static void clear_flag(uint32_t v, long f)
{
	vma_of(v)->flags &= ~(uint32_t)f;
}

static void drop_ptes(uint32_t v, long unused)
{
	(void)unused;
	pte_clear_range(vma_of(v)->proc, vma_of(v)->start, vma_of(v)->end);
}

/* madvise's effect on the shadow: which pages go, which VMA flags change.
 * Returns 0 or -ENOMEM. */
int vma_advise(uint32_t proc, uint64_t start, uint64_t end, int advice)
{
	switch (advice) {
	case MADV_DONTNEED:
	case 24: /* MADV_DONTNEED_LOCKED */
	case MADV_REMOVE:
		/* MADV_REMOVE also punches the hole out of the object; other
		 * mappers lose those pages too, which the next sync of each
		 * mapper learns. */
		return vma_apply(proc, start, end, drop_ptes, 0);
	case MADV_FREE:
	case MADV_PAGEOUT:
	case MADV_COLD:
		for (uint64_t a = start; a < end;) {
			uint32_t v = vma_find(proc, a);
			if (!v) {
				a += NS_PAGE_SIZE;
				continue;
			}
			uint64_t s = vma_of(v)->start > start ? vma_of(v)->start : start;
			uint64_t e = vma_of(v)->end < end ? vma_of(v)->end : end;
			for (uint64_t x = s; x < e; x += NS_PAGE_SIZE) {
				uint32_t p = pte_lookup(proc, x >> NS_PAGE_SHIFT);
				if (p)
					pte_mark_lazy(p);
			}
			a = e;
		}
		return 0;
	case MADV_DONTFORK:
		return vma_apply(proc, start, end, set_flag, NS_VMA_DONTCOPY);
	case MADV_DOFORK:
		return vma_apply(proc, start, end, clear_flag, NS_VMA_DONTCOPY);
	case MADV_WIPEONFORK:
		return vma_apply(proc, start, end, set_flag, NS_VMA_WIPEONFORK);
	case MADV_KEEPONFORK:
		return vma_apply(proc, start, end, clear_flag, NS_VMA_WIPEONFORK);
	default:
		return 0;
	}
}

/* mremap's move of [old, old + oldlen) to newaddr, growing to newlen.
 * The kernel moved one VMA; the shadow may hold it in pieces: each is
 * moved with its anon_vmas, policy, site and PTEs.  0 or -errno. */
static int move_pieces(uint32_t proc, uint64_t old, uint64_t oldlen,
		       uint64_t newlen, int flags, uint64_t newaddr)
{
	uint32_t v, n;

	if (split_edges(proc, old, old + oldlen) < 0)
		return -ENOMEM;
	uint64_t pos = old, last = 0;
	while (pos < old + oldlen &&
	       (v = it_first(&vma_mm_ops, proc_of(proc)->mm_root, pos,
			     old + oldlen - 1))) {
		struct ns_vma *s = vma_of(v);
		uint64_t ns = newaddr + (s->start - old);
		uint64_t ne = newaddr + (s->end - old);
		if (s->end == old + oldlen)
			ne = newaddr + newlen;	/* growth joins the last piece */
		n = vma_new(proc, ns, ne, s->prot, s->flags, s->obj, s->pgoff);
		if (!n || anon_vma_clone(n, v) < 0)
			return -ENOMEM;
		vma_of(n)->policy = vma_of(v)->policy;
		vma_of(n)->site = vma_of(v)->site;
		pte_move_range(proc, s->start, ns, s->end - s->start);
		pos = s->end;
		/* MREMAP_DONTUNMAP: the source stays, empty, and like the
		 * kernel's move_vma() it lets go of its anon_vmas. */
		if (flags & 4)
			unlink_anon_vmas(v);
		else
			vma_free(v);
		last = n;
	}
	if (last)
		merge_range(proc, newaddr, newaddr + newlen);
	return 0;
}

/* mremap, after the kernel said yes and put the result at newaddr.
 * Returns 0 or -errno. */
int vma_remap(uint32_t proc, uint64_t old, uint64_t oldlen, uint64_t newlen,
	      int flags, uint64_t newaddr)
{
	uint32_t v;
	int ret;

	oldlen = NS_PAGE_ALIGN(oldlen);
	newlen = NS_PAGE_ALIGN(newlen);
	v = vma_find(proc, old);
	if (!v)
		return -EFAULT;
	if (oldlen == 0) {
		/* Duplicate a shared mapping; the old one stays. */
		struct ns_vma *s = vma_of(v);
		return vma_map(proc, newaddr, newaddr + newlen, s->prot, s->flags,
			       s->obj,
			       s->pgoff + ((old - s->start) >> NS_PAGE_SHIFT));
	}
	if (newaddr != old && (flags & MREMAP_FIXED) &&
	    (ret = vma_unmap(proc, newaddr, newaddr + newlen)) < 0)
		return ret;
	if (newlen < oldlen) {
		if ((ret = vma_unmap(proc, old + newlen, old + oldlen)) < 0)
			return ret;
		oldlen = newlen;
	}
	if (newaddr == old) {
		if (newlen > oldlen) {
			/* The kernel's VMA ended at old + oldlen; ours may be
			 * split there in pieces it merged: grow the last. */
			v = vma_find(proc, old + oldlen - 1);
			if (!v)
				return -EFAULT;
			vma_set_range(v, vma_of(v)->start, old + newlen,
				      vma_of(v)->pgoff);
			vma_try_merge(v);
		}
		return 0;
	}
	return move_pieces(proc, old, oldlen, newlen, flags, newaddr);
}
