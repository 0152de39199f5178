/* SPDX-License-Identifier: MIT */
/*
 * page.c - page descriptors and the shadow page tables.
 *
 * A descriptor stands for one present physical page: anonymous pages belong
 * to the anon_vma they were created in, file and shm pages to their
 * address_space at a page index (found again through the page-cache hash).
 * A shadow PTE says which page a proc maps at a virtual page; the reverse
 * map, like the kernel's, finds candidate (vma, address) pairs from the
 * object and confirms each against the PTE — which is how a page COW'd by
 * one process stops being reported as mapped by it.  A descriptor lives
 * while some PTE points at it.  Callers hold the family lock.
 */
#include <errno.h>
#include <stddef.h>
#include "internal.h"

/* Neighbouring pages of one proc (or object) land in neighbouring buckets:
 * the scans walk pages in order, and this keeps them in cache.  The owner
 * spreads different procs' copies of an address apart. */
static inline uint32_t *pte_bucket(uint32_t proc, uint64_t vpn)
{
	uint64_t h = vpn + (uint64_t)proc * 0x9e3779b97f4a7c15ULL;
	uint32_t *tab = (uint32_t *)((char *)ns_arena + ns_arena->pte_hash_off);

	return &tab[h & (NS_PTE_HASH - 1)];
}

static inline uint32_t *pc_bucket(uint32_t obj, uint64_t index)
{
	uint64_t h = index + (uint64_t)obj * 0x9e3779b97f4a7c15ULL;
	uint32_t *tab = (uint32_t *)((char *)ns_arena + ns_arena->pc_hash_off);

	return &tab[h & (NS_PC_HASH - 1)];
}

/* An anonymous page found shared with relatives whose VMAs do not all link
 * its anon_vma goes to one they all link (anon_vma), as if first faulted
 * there. */
void page_move_anon(uint32_t page, uint32_t anon_vma)
{
	struct ns_page *p = page_of(page);

	if (p->obj == anon_vma)
		return;
	obj_get(anon_vma);
	obj_of(anon_vma)->nr_pages++;
	obj_of(p->obj)->nr_pages--;
	obj_put(p->obj);
	p->obj = anon_vma;
}

/* Returns the PTE of (proc, vpn), or 0. */
uint32_t pte_lookup(uint32_t proc, uint64_t vpn)
{
	for (uint32_t i = *pte_bucket(proc, vpn); i; i = pte_of(i)->hash_next)
		if (pte_of(i)->vpn == vpn && pte_of(i)->proc == proc)
			return i;
	return 0;
}

static void page_put(uint32_t page)
{
	struct ns_page *p = page_of(page);

	if (--p->mapcount || (p->flags & NS_PG_ZERO))
		return;
	if (!(p->flags & NS_PG_ANON)) {
		uint32_t *b = pc_bucket(p->obj, p->index);
		while (*b && *b != page)
			b = &page_of(*b)->hash_next;
		if (*b)
			*b = p->hash_next;
	}
	obj_of(p->obj)->nr_pages--;
	obj_put(p->obj);
	pool_free(POOL_PAGE, page);
}

static void pte_unhash(uint32_t i)
{
	struct ns_pte *t = pte_of(i);
	uint32_t *b = pte_bucket(t->proc, t->vpn);

	while (*b && *b != i)
		b = &pte_of(*b)->hash_next;
	if (*b)
		*b = t->hash_next;
	t->hash_next = 0;
}

static void pte_hash(uint32_t i)
{
	uint32_t *b = pte_bucket(pte_of(i)->proc, pte_of(i)->vpn);

	pte_of(i)->hash_next = *b;
	*b = i;
}

/* Points (proc, vpn) at page, replacing any previous page.  Returns the PTE
 * index or -ENOMEM. */
int pte_set(uint32_t proc, uint64_t vpn, uint32_t page)
{
	uint32_t i = pte_lookup(proc, vpn);
	struct ns_proc *p = proc_of(proc);

	if (i) {
		if (pte_of(i)->page != page) {
			uint32_t old = pte_of(i)->page;
			pte_of(i)->page = page;
			page_of(page)->mapcount++;
			page_put(old);
		}
		return (int)i;
	}
	i = pool_alloc(POOL_PTE);
	if (!i)
		return -ENOMEM;
	*pte_of(i) = (struct ns_pte){ .vpn = vpn, .proc = proc, .page = page,
				      .next = p->pte_head };
	if (p->pte_head)
		pte_of(p->pte_head)->prev = i;
	p->pte_head = i;
	p->nr_pte++;
	pte_hash(i);
	page_of(page)->mapcount++;
	return (int)i;
}

void pte_clear(uint32_t i)
{
	struct ns_pte *t = pte_of(i);
	struct ns_proc *p = proc_of(t->proc);
	uint32_t page = t->page;

	pte_unhash(i);
	if (t->prev)
		pte_of(t->prev)->next = t->next;
	else
		p->pte_head = t->next;
	if (t->next)
		pte_of(t->next)->prev = t->prev;
	p->nr_pte--;
	pool_free(POOL_PTE, i);
	page_put(page);
}

/* Calls fn on every PTE of proc in [start, end): by lookups when the range
 * is small against the proc's PTE count, else along the proc's list.  fn
 * may free or rehash the PTE it is given. */
static int pte_range(uint32_t proc, uint64_t start, uint64_t end,
		     int (*fn)(uint32_t pte, void *arg), void *arg)
{
	uint64_t s = start >> NS_PAGE_SHIFT, e = end >> NS_PAGE_SHIFT;
	int ret;

	if (e - s <= 2 * proc_of(proc)->nr_pte) {
		for (uint64_t v = s; v < e; v++) {
			uint32_t i = pte_lookup(proc, v);
			if (i && (ret = fn(i, arg)))
				return ret;
		}
		return 0;
	}
	for (uint32_t i = proc_of(proc)->pte_head, next; i; i = next) {
		next = pte_of(i)->next;
		if (pte_of(i)->vpn >= s && pte_of(i)->vpn < e &&
		    (ret = fn(i, arg)))
			return ret;
	}
	return 0;
}

static int clear_fn(uint32_t pte, void *arg)
{
	(void)arg;
	pte_clear(pte);
	return 0;
}

void pte_clear_range(uint32_t proc, uint64_t start, uint64_t end)
{
	pte_range(proc, start, end, clear_fn, NULL);
}

struct move_ctx {
	uint32_t buf[256];
	int n;
};

static int collect_fn(uint32_t pte, void *arg)
{
	struct move_ctx *m = arg;

	if (m->n == 256)
		return 1;
	m->buf[m->n++] = pte;
	return 0;
}

/* mremap moved [old, old + len) to new: the PTEs follow, pages keep their
 * index (the rmap formula uses the new VMA's preserved pgoff). */
void pte_move_range(uint32_t proc, uint64_t old, uint64_t new, uint64_t len)
{
	uint64_t delta = (new >> NS_PAGE_SHIFT) - (old >> NS_PAGE_SHIFT);
	struct move_ctx m;

	/* Collect first, then rehash: a moved PTE must not be met again. */
	do {
		m.n = 0;
		pte_range(proc, old, old + len, collect_fn, &m);
		for (int k = 0; k < m.n; k++) {
			pte_unhash(m.buf[k]);
			pte_of(m.buf[k])->vpn += delta;
			pte_hash(m.buf[k]);
		}
	} while (m.n == 256);
}

/* One PTE of fork's copy_page_range(); returns 0 or -ENOMEM.  Only
 * anonymous pages are the fork's to give: whether the kernel copies file
 * and zero-page PTEs depends on where it drew VMA boundaries; the child
 * learns those from its own pagemap. */
int pte_copy_one(uint32_t pte, uint32_t to)
{
	int i;

	if (!(page_of(pte_of(pte)->page)->flags & NS_PG_ANON))
		return 0;
	i = pte_set(to, pte_of(pte)->vpn, pte_of(pte)->page);
	if (i < 0)
		return i;
	pte_of((uint32_t)i)->flags = pte_of(pte)->flags;
	return 0;
}

/* Returns a new anonymous page of anon_vma at index, or 0 (pool full). */
uint32_t page_new_anon(uint32_t anon_vma, uint64_t index)
{
	uint32_t i = pool_alloc(POOL_PAGE);

	if (!i)
		return 0;
	*page_of(i) = (struct ns_page){ .obj = anon_vma, .index = index,
					.node = -1, .flags = NS_PG_ANON };
	obj_get(anon_vma);
	obj_of(anon_vma)->nr_pages++;
	return i;
}

/* Returns the page-cache page of (obj, index), creating its descriptor;
 * 0 when the pool is full. */
uint32_t page_cache_get(uint32_t obj, uint64_t index)
{
	uint32_t *b = pc_bucket(obj, index), i;

	for (i = *b; i; i = page_of(i)->hash_next)
		if (page_of(i)->obj == obj && page_of(i)->index == index)
			return i;
	i = pool_alloc(POOL_PAGE);
	if (!i)
		return 0;
	*page_of(i) = (struct ns_page){ .obj = obj, .index = index, .node = -1,
					.hash_next = *b };
	*b = i;
	obj_get(obj);
	obj_of(obj)->nr_pages++;
	return i;
}

/* The descriptor of the shared zero page (read faults on anonymous memory
 * map it; it belongs to no one and never moves). */
uint32_t page_zero(void)
{
	uint32_t i = ns_arena->zero_page;

	if (!i && (i = pool_alloc(POOL_PAGE))) {
		*page_of(i) = (struct ns_page){ .node = -1, .flags = NS_PG_ZERO,
						.mapcount = 1 };
		ns_arena->zero_page = i;
	}
	return i;
}

static uint64_t str_hash(uint64_t h, const char *s)
{
	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3ULL;
	return h;
}

uint32_t site_intern(const char *object, const char *function)
{
	uint64_t h = str_hash(str_hash(0xcbf29ce484222325ULL, object), function ? function : "");
	uint32_t *b = &ns_arena->site_hash[h & (NS_SITE_HASH - 1)], i;

	for (i = *b; i; i = site_of(i)->hash_next)
		if (site_of(i)->hash == h)
			return i;
	i = pool_alloc(POOL_SITE);
	if (!i)
		return 0;
	struct ns_site_rec *r = site_of(i);
	r->hash = h;
	for (size_t k = 0; object[k] && k < sizeof(r->object) - 1; k++)
		r->object[k] = object[k];
	for (size_t k = 0; function && function[k] && k < sizeof(r->function) - 1; k++)
		r->function[k] = function[k];
	r->hash_next = *b;
	*b = i;
	return i;
}
