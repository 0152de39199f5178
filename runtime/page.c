/* SPDX-License-Identifier: MIT */
/*
 * page.c - page descriptors and the shadow page tables.
 *
 * A descriptor stands for one present physical page: anonymous pages belong
 * to the anon_vma they were created in, file and shm pages to their
 * address_space at a page index (found again in the object's page-cache
 * tables: tables of NS_PTE_SLOTS consecutive indices, like the PTEs', the
 * kernel's i_pages; found by (object, first index) in a hash of their own).
 * A shadow PTE says which page a proc maps at a virtual page; the reverse
 * map, like the kernel's, finds candidate (vma, address) pairs from the
 * object and confirms each against the PTE — which is how a page COW'd by
 * one process stops being reported as mapped by it.  A descriptor lives
 * while some PTE points at it.  PTEs sit in page tables of NS_PTE_SLOTS
 * slots (internal.h), found by (proc, first vpn) in a hash and listed per
 * proc; a table goes when its last PTE does.  Callers hold the family
 * lock.
 */
#include <errno.h>
#include <stddef.h>
#include "internal.h"

/* Neighbouring tables of one proc land in neighbouring buckets: the scans
 * walk pages in order, and this keeps them in cache.  The owner spreads
 * different procs' copies of an address apart. */
static inline uint32_t *ptab_bucket(uint32_t proc, uint64_t base)
{
	uint64_t h = (base >> NS_PTE_SHIFT) + (uint64_t)proc * 0x9e3779b97f4a7c15ULL;
	uint32_t *tab = (uint32_t *)((char *)ns_arena + ns_arena->pte_hash_off);

	return &tab[h & (NS_PTE_HASH - 1)];
}

/* An object's tables land in neighbouring buckets, and objects made one
 * after another (a program's libraries) near each other: a few pages of
 * the table hold them all. */
static inline uint32_t *pc_bucket(uint32_t obj, uint64_t base)
{
	uint64_t h = (base >> NS_PTE_SHIFT) + ((uint64_t)obj << 4);
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

static inline uint64_t tab_base(uint64_t n)
{
	return n & ~(uint64_t)(NS_PTE_SLOTS - 1);
}

/* The table of owner (a proc, or an object for the page cache) at base
 * on the chain from i, or 0. */
static uint32_t tab_in(uint32_t i, uint32_t owner, uint64_t base)
{
	for (; i; i = ptab_of(i)->hash_next)
		if (ptab_base(i) == base && ptab_of(i)->proc == owner)
			return i;
	return 0;
}

/* A new empty table of owner at base, first on the chain at *b; 0 when
 * the pool is full. */
static uint32_t tab_new(uint32_t *b, uint32_t owner, uint64_t base)
{
	uint32_t t = pool_alloc(POOL_PTE);

	if (t) {
		ptab_of(t)->proc = owner;
		ptab_of(t)->tno = (uint32_t)(base >> NS_PTE_SHIFT);
		ptab_of(t)->hash_next = *b;
		*b = t;
	}
	return t;
}

/* Takes table t off the chain at *b. */
static void tab_unhash(uint32_t *b, uint32_t t)
{
	while (*b && *b != t)
		b = &ptab_of(*b)->hash_next;
	if (*b)
		*b = ptab_of(t)->hash_next;
}

/* The table of proc holding vpn, or 0. */
static uint32_t ptab_find(uint32_t proc, uint64_t vpn)
{
	return tab_in(*ptab_bucket(proc, tab_base(vpn)), proc, tab_base(vpn));
}

/* Returns the PTE of (proc, vpn), or 0. */
uint32_t pte_lookup(uint32_t proc, uint64_t vpn)
{
	uint32_t t = ptab_find(proc, vpn);
	uint32_t slot = (uint32_t)(vpn & (NS_PTE_SLOTS - 1));

	return t && ptab_of(t)->e[slot] ? t << NS_PTE_SHIFT | slot : 0;
}

static void page_put(uint32_t page)
{
	struct ns_page *p = page_of(page);

	if ((p->flags & NS_PG_ZERO) || --p->mapcount)
		return;
	if (!(p->flags & NS_PG_ANON)) {
		uint32_t *b = pc_bucket(p->obj, tab_base(p->index));
		uint32_t t = tab_in(*b, p->obj, tab_base(p->index));
		uint32_t *e = t ? &ptab_of(t)->e[p->index & (NS_PTE_SLOTS - 1)] : NULL;
		if (e && *e == page) {
			*e = 0;
			if (!--ptab_of(t)->used) {
				tab_unhash(b, t);
				pool_free(POOL_PTE, t);
			}
		}
	}
	obj_of(p->obj)->nr_pages--;
	obj_put(p->obj);
	pool_free(POOL_PAGE, page);
}

/* The table of proc holding vpn, made if needed; 0 when the pool is full. */
static uint32_t ptab_get(uint32_t proc, uint64_t vpn)
{
	uint32_t t = ptab_find(proc, vpn);
	struct ns_proc *p = proc_of(proc);

	if (t || !(t = tab_new(ptab_bucket(proc, tab_base(vpn)), proc, tab_base(vpn))))
		return t;
	ptab_of(t)->next = p->pte_head;
	if (p->pte_head)
		ptab_of(p->pte_head)->prev = t;
	p->pte_head = t;
	p->nr_ptab++;
	return t;
}

/* Frees table t, empty now. */
static void ptab_free(uint32_t t)
{
	struct ns_ptab *x = ptab_of(t);
	struct ns_proc *p = proc_of(x->proc);

	tab_unhash(ptab_bucket(x->proc, ptab_base(t)), t);
	if (x->prev)
		ptab_of(x->prev)->next = x->next;
	else
		p->pte_head = x->next;
	if (x->next)
		ptab_of(x->next)->prev = x->prev;
	p->nr_ptab--;
	pool_free(POOL_PTE, t);
}

/* Points (proc, vpn) at page, replacing any previous page (its LAZY mark
 * stays).  Returns the PTE or -ENOMEM. */
int pte_set(uint32_t proc, uint64_t vpn, uint32_t page)
{
	uint32_t t = ptab_get(proc, vpn);
	uint32_t slot = (uint32_t)(vpn & (NS_PTE_SLOTS - 1)), *e, old;

	if (!t)
		return -ENOMEM;
	e = &ptab_of(t)->e[slot];
	old = *e & NS_PTE_PAGE;
	if (old != page) {
		*e = (*e & NS_PTE_LAZY_BIT) | page;
		if (!(page_of(page)->flags & NS_PG_ZERO))
			page_of(page)->mapcount++;
		if (old)
			page_put(old);
		else {
			ptab_of(t)->used++;
			proc_of(proc)->nr_pte++;
		}
	}
	return (int)(t << NS_PTE_SHIFT | slot);
}

void pte_clear(uint32_t pte)
{
	uint32_t t = pte >> NS_PTE_SHIFT, *e = pte_slot(pte);
	uint32_t page = *e & NS_PTE_PAGE;

	*e = 0;
	proc_of(ptab_of(t)->proc)->nr_pte--;
	if (!--ptab_of(t)->used)
		ptab_free(t);
	page_put(page);
}

/* Drops every PTE of proc, and its tables. */
void pte_clear_all(uint32_t proc)
{
	uint32_t t;

	while ((t = proc_of(proc)->pte_head)) {
		for (uint32_t k = 0; k < NS_PTE_SLOTS; k++) {
			uint32_t page = ptab_of(t)->e[k] & NS_PTE_PAGE;
			if (!page)
				continue;
			ptab_of(t)->e[k] = 0;
			proc_of(proc)->nr_pte--;
			page_put(page);
		}
		ptab_free(t);
	}
}

/* The first PTE at or after slot of table t, then of the tables after it
 * on the proc's list; 0 at the end. */
static uint32_t pte_from(uint32_t t, uint32_t slot)
{
	for (; t; t = ptab_of(t)->next, slot = 0)
		for (; slot < NS_PTE_SLOTS; slot++)
			if (ptab_of(t)->e[slot])
				return t << NS_PTE_SHIFT | slot;
	return 0;
}

uint32_t pte_first(uint32_t proc)
{
	return pte_from(proc_of(proc)->pte_head, 0);
}

/* The PTE after pte, which must still be set (clearing it may free its
 * table). */
uint32_t pte_next(uint32_t pte)
{
	return pte_from(pte >> NS_PTE_SHIFT, (pte & (NS_PTE_SLOTS - 1)) + 1);
}

/* Calls fn on every PTE of proc in [start, end): table by table over the
 * range when it spans fewer tables than the proc has, else along the
 * proc's list.  fn may clear the PTE it is given, and nothing else; the
 * PTEs of each table are gathered before fn sees any of them. */
static int pte_range(uint32_t proc, uint64_t start, uint64_t end,
		     int (*fn)(uint32_t pte, void *arg), void *arg)
{
	uint64_t s = start >> NS_PAGE_SHIFT, e = end >> NS_PAGE_SHIFT;
	uint32_t got[NS_PTE_SLOTS];
	int ret;

	if (s >= e)
		return 0;
	bool by_range = (e - s) / NS_PTE_SLOTS + 1 <= proc_of(proc)->nr_ptab;
	uint32_t t = by_range ? 0 : proc_of(proc)->pte_head, next;
	for (uint64_t base = s & ~(uint64_t)(NS_PTE_SLOTS - 1);; base += NS_PTE_SLOTS) {
		if (by_range) {
			if (base >= e)
				break;
			t = ptab_find(proc, base);
			if (!t)
				continue;
		} else if (!t) {
			break;
		}
		struct ns_ptab *x = ptab_of(t);
		int n = 0;
		next = x->next;
		for (uint32_t k = 0; k < NS_PTE_SLOTS; k++)
			if (x->e[k] && ptab_base(t) + k >= s && ptab_base(t) + k < e)
				got[n++] = t << NS_PTE_SHIFT | k;
		for (int k = 0; k < n; k++)
			if ((ret = fn(got[k], arg)))
				return ret;
		if (!by_range)
			t = next;
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

	/* Collect first, then move: a moved PTE must not be met again.  The
	 * new PTE is made before the old one goes, so the page lives on. */
	do {
		m.n = 0;
		pte_range(proc, old, old + len, collect_fn, &m);
		for (int k = 0; k < m.n; k++) {
			uint32_t lazy = *pte_slot(m.buf[k]) & NS_PTE_LAZY_BIT;
			int t = pte_set(proc, pte_vpn(m.buf[k]) + delta, pte_page(m.buf[k]));
			if (t > 0)
				*pte_slot((uint32_t)t) |= lazy;
			pte_clear(m.buf[k]);
		}
	} while (m.n == 256);
}

/* Fork's copy_page_range() for one table: the slots of table t picked in
 * mask go to proc to, whose table is found once for the lot; returns 0
 * or -ENOMEM.  Only anonymous pages are the fork's to give: whether the
 * kernel copies file and zero-page PTEs depends on where it drew VMA
 * boundaries; the child learns those from its own pagemap. */
int pte_copy_table(uint32_t t, uint32_t to, uint64_t mask)
{
	uint32_t c = 0;

	for (uint32_t k = 0; k < NS_PTE_SLOTS; k++) {
		uint32_t e = ptab_of(t)->e[k], page = e & NS_PTE_PAGE;
		if (!page || !(mask >> k & 1) || !(page_of(page)->flags & NS_PG_ANON))
			continue;
		if (!c && !(c = ptab_get(to, ptab_base(t))))
			return -ENOMEM;
		uint32_t *d = &ptab_of(c)->e[k], old = *d & NS_PTE_PAGE;
		*d |= e & NS_PTE_LAZY_BIT;
		if (old == page)
			continue;
		*d = (*d & NS_PTE_LAZY_BIT) | page;
		page_of(page)->mapcount++;
		if (old) {
			page_put(old);
		} else {
			ptab_of(c)->used++;
			proc_of(to)->nr_pte++;
		}
	}
	return 0;
}

/* Returns a new anonymous page of anon_vma at index, or 0. */
uint32_t page_new_anon(uint32_t anon_vma, uint64_t index)
{
	uint32_t i;

	if (index > NS_PAGE_INDEX_MAX || !(i = pool_alloc(POOL_PAGE)))
		return 0;	/* past what a descriptor holds, or the pool full */
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
	uint64_t base = tab_base(index);
	uint32_t *b = pc_bucket(obj, base), t, *e, i;

	if (index > NS_PAGE_INDEX_MAX)
		return 0;	/* past what a descriptor holds: not learned */
	t = tab_in(*b, obj, base);
	if (!t && !(t = tab_new(b, obj, base)))
		return 0;
	e = &ptab_of(t)->e[index & (NS_PTE_SLOTS - 1)];
	if (*e)
		return *e;
	if (!(i = pool_alloc(POOL_PAGE))) {
		if (!ptab_of(t)->used) {
			tab_unhash(b, t);
			pool_free(POOL_PTE, t);
		}
		return 0;
	}
	*page_of(i) = (struct ns_page){ .obj = obj, .index = index, .node = -1 };
	*e = i;
	ptab_of(t)->used++;
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
