/* SPDX-License-Identifier: MIT */
/*
 * sync.c - one present page learned from its pagemap entry (sync_page()),
 * what faults would have told: a file page from the page cache, the zero
 * page, a first touch, a COW break (a page the shadow shares that the
 * kernel now maps exclusively was copied), a page moved behind our back.
 * A present anonymous page the kernel says is shared that the shadow never
 * saw shared was shared by a fork before anyone looked: its relatives are
 * found as the kernel's rmap finds them and asked (the kin search).
 * Callers hold the family lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include "internal.h"
#include "sys.h"
#include "verify.h"

static uint64_t zero_pfn;	/* PFN of the zero page, when readable */
static uint32_t zero_looked, zero_tries;

/* PFN of the zero page, so a read-faulted anonymous page is known as
 * such (0 where PFNs cannot be read): looked up the first time a page is
 * learned, not by every process at start-up. */
uint64_t ns_zero_pfn(void)
{
	if (__atomic_load_n(&zero_looked, __ATOMIC_ACQUIRE))
		return zero_pfn;
	long p = sys_mmap(NULL, NS_PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t e = 0;

	if (p < 0 && p > -4096)
		return 0;
	(void)*(volatile char *)p;
	long fd = sys_open("/proc/thread-self/pagemap", O_RDONLY | O_CLOEXEC);
	long r = fd < 0 ? fd : sys_pread((int)fd, &e, 8, (off_t)(((uint64_t)p >> 12) * 8));

	if (fd >= 0)
		sys_close((int)fd);
	sys_munmap((void *)p, NS_PAGE_SIZE);
	/* Asked again (a few times) unless pagemap showed the page mapped; a
	 * file page there would be the huge zero page, not the one we want. */
	if ((r != 8 || !(e >> 63)) && ++zero_tries < 4)
		return 0;
	if ((e >> 63) && !(e & PM_FILE))
		zero_pfn = e & PM_PFN;
	__atomic_store_n(&zero_looked, 1, __ATOMIC_RELEASE);
	return zero_pfn;
}

/* The linear index of an anonymous page at vpn in vma (mm/rmap.c's
 * linear_page_index()). */
static uint64_t anon_index(uint32_t vma, uint64_t vpn)
{
	return vma_of(vma)->pgoff +
	       (((vpn << NS_PAGE_SHIFT) - vma_of(vma)->start) >> NS_PAGE_SHIFT);
}

/* The pagemap entry of addr in another process of the family; 0 when it
 * cannot be read. */
static uint64_t pm_peek(uint32_t proc, uint64_t addr)
{
	uint64_t ent;

	pm_read(proc, addr, &ent);
	return ent;
}

/* Does a pagemap entry show the page we have: the same frame when PFNs
 * are readable, else an anonymous page someone else maps too? */
static bool pm_same(uint64_t e, uint64_t pfn)
{
	if (!(e & PM_PRESENT) || (e & PM_FILE))
		return false;
	return pfn ? (e & PM_PFN) == pfn : !(e & PM_EXCL);
}

int pm_maps_ours(uint32_t proc, uint64_t addr, uint64_t mine)
{
	uint64_t theirs;
	int r;

	if (!(mine & PM_PRESENT) || (!(mine & PM_PFN) && (mine & PM_EXCL)))
		return 0;
	r = pm_read(proc, addr, &theirs);
	return r < 0 ? r : pm_same(theirs, mine & PM_PFN);
}

struct kin {
	uint32_t self;		/* our proc */
	uint64_t vpn;		/* where we map the page */
	int node;		/* its node, -3 until asked (without PFNs) */
	uint64_t index, pfn;	/* the page, its frame (0: not readable) */
	uint32_t page;		/* a relative's descriptor for it */
	int n;			/* relatives mapping it without one */
	struct { uint32_t proc; uint64_t vpn; } peer[MAX_KIN];
};

/* Can d be the page (proc, vpn) maps?  With PFNs the frames say; without,
 * a descriptor that knows another node than the kernel gives our page
 * belongs to a copy the relative made since (its shadow is older). */
static bool kin_may_be(uint32_t d, uint32_t proc, uint64_t vpn, uint64_t pfn,
		       int *node)
{
	if (pfn)
		return !page_of(d)->pfn || page_of(d)->pfn == pfn;
	if (page_of(d)->node < 0)
		return true;
	if (*node == -3) {
		void *a = (void *)(vpn << NS_PAGE_SHIFT);
		int st = -1;
		if (sys_move_pages(proc_of(proc)->pid, 1, &a, NULL, &st, 0) < 0)
			st = -1;
		*node = st;
	}
	return *node < 0 || *node == page_of(d)->node;
}

static int kin_cb(uint32_t avc, void *arg)
{
	struct kin *k = arg;
	uint32_t w = avc_of(avc)->vma, proc = vma_of(w)->proc, t, d = 0;
	uint64_t addr = vma_address(w, k->index);

	if (!addr || proc == k->self || proc_of(proc)->state != NS_PROC_LIVE)
		return 0;
	t = pte_lookup(proc, addr >> NS_PAGE_SHIFT);
	if (t && (page_of(pte_page(t))->flags & (NS_PG_ANON | NS_PG_ZERO)) == NS_PG_ANON)
		d = pte_page(t);
	/* Its shadow may be older than its kernel (a write since broke COW
	 * there): what it maps now decides. */
	if (!pm_same(pm_peek(proc, addr), k->pfn))
		return 0;
	/* Its descriptor is the page's unless it knows another frame: that
	 * shadow missed a COW break since (the relative maps ours now, so
	 * the descriptor stays with whoever maps its frame). */
	if (d && !kin_may_be(d, k->self, k->vpn, k->pfn, &k->node)) {
		if (!k->pfn)
			return 0;	/* no frame to tell: leave it be */
		d = 0;	/* it maps our frame now: its copy went elsewhere */
	}
	if (d) {
		if (k->pfn)
			page_of(d)->pfn = k->pfn;
		k->page = d;
		return 1;
	}
	if (k->n < MAX_KIN)
		k->peer[k->n++] = (typeof(k->peer[0])){ proc, addr >> NS_PAGE_SHIFT };
	return 0;
}

struct by_index {
	uint32_t like;		/* the VMA whose page is looked for */
	uint64_t index;
	uint32_t found;
};

static int by_index_cb(uint32_t w, void *arg)
{
	struct by_index *b = arg;

	if (!(vma_of(w)->flags & NS_VMA_SHARED) && vma_of(w)->obj == vma_of(b->like)->obj &&
	    vma_address(w, b->index)) {
		b->found = w;
		return 1;
	}
	return 0;
}

/* Member q's private VMA where it would map the page at index: at the
 * same address (fork copies VMAs in place), else wherever an mremap since
 * moved it (the index stays).  Sets *addr; 0 if none. */
static uint32_t kin_vma(uint32_t q, uint32_t vma, uint64_t vpn, uint64_t index,
			uint64_t *addr)
{
	uint32_t w = vma_find(q, vpn << NS_PAGE_SHIFT);
	struct by_index b = { vma, index, 0 };

	if (w && !(vma_of(w)->flags & NS_VMA_SHARED) && vma_of(w)->obj == vma_of(vma)->obj &&
	    anon_index(w, vpn) == index) {
		*addr = vpn << NS_PAGE_SHIFT;
		return w;
	}
	vma_walk(q, 0, ~0ULL, by_index_cb, &b);
	if (b.found)
		*addr = vma_address(b.found, index);
	return b.found;
}

/*
 * The same when no anon_vma of ours leads to a relative: VMAs the shadow
 * learned from the maps (after calls that went straight to the kernel
 * around a fork) are not linked as fork links them, yet share what fork
 * gave both.  Any member with a private VMA at the page's index (at the
 * same address, or where its mremap moved it) is asked; a match links the
 * two VMAs, so the next page of the range is found through the anon_vmas.
 */
static uint32_t learn_kin_apart(uint32_t vma, uint64_t vpn, uint64_t index,
				uint64_t pfn)
{
	uint32_t self = vma_of(vma)->proc, pg = 0, t;
	int node = -3;

	for (uint32_t q = ns_arena->procs; q; q = proc_of(q)->next) {
		uint64_t addr = 0;
		uint32_t w = q == self || proc_of(q)->state != NS_PROC_LIVE ? 0 :
			     kin_vma(q, vma, vpn, index, &addr);
		if (!w || !pm_same(pm_peek(q, addr), pfn))
			continue;
		t = pte_lookup(q, addr >> NS_PAGE_SHIFT);
		uint32_t d = t ? pte_page(t) : 0;
		if (d && (page_of(d)->flags & (NS_PG_ANON | NS_PG_ZERO)) != NS_PG_ANON)
			d = 0;
		if (d && !kin_may_be(d, self, vpn, pfn, &node)) {
			if (!pfn)
				continue;	/* no frame to tell: leave it be */
			d = 0;	/* it maps our frame now: its copy went elsewhere */
		}
		if (!pg && d) {
			/* Theirs: we join its anon_vma. */
			if (anon_vma_link(vma, page_of(d)->obj) < 0)
				return 0;
			pg = d;
			continue;
		}
		if (!pg && !(pg = page_new_anon(vma_of(vma)->anon_vma, index)))
			return 0;
		if (anon_vma_link(w, page_of(pg)->obj) < 0)
			return 0;
		pte_set(q, addr >> NS_PAGE_SHIFT, pg);
	}
	if (!pg || pte_set(self, vpn, pg) < 0)
		return 0;
	if (pfn)
		page_of(pg)->pfn = pfn;
	return pg;
}

/*
 * A present anonymous page the kernel says someone else maps too, which
 * the shadow has not seen shared: fork shared it before anyone looked
 * (pages are learned when asked, not at fork).  Its relatives are found
 * as the kernel's rmap would find them - through the anon_vmas our VMA
 * links, the root first - and each is asked whether it maps the same page
 * at that index.  We take a relative's descriptor, or give a new one to
 * those mapping it without one, in the anon_vma all of them link.
 * Returns the descriptor, or 0 when no relative maps the page.  Without
 * PFNs two zero pages look shared too: the node query that follows for a
 * new descriptor tells them apart (query_nodes).
 */
static uint32_t learn_shared(uint32_t vma, uint64_t vpn, uint64_t index,
			     uint64_t pfn)
{
	uint32_t avs[32], self = vma_of(vma)->proc, pg;
	int navs = 0, total;
	struct kin k = { .self = self, .vpn = vpn, .node = -3, .index = index,
			 .pfn = pfn };

	for (uint32_t c = vma_of(vma)->avc_head; c && navs < 32; c = avc_of(c)->next)
		avs[navs++] = avc_of(c)->anon_vma;	/* newest first */
	total = navs;
	while (navs--) {
		it_query(&avc_ops, obj_of(avs[navs])->tree, index, index, kin_cb, &k);
		if (k.page || k.n)
			break;
	}
	if (navs < 0)
		return learn_kin_apart(vma, vpn, index, pfn);
	pg = k.page ? k.page : page_new_anon(avs[navs], index);
	if (!pg)
		return 0;
	bool linked = false;	/* is its anon_vma one we link? */
	for (int i = 0; i < total && !linked; i++)
		linked = avs[i] == page_of(pg)->obj;
	if (!linked)
		page_move_anon(pg, avs[navs]);
	if (pfn)
		page_of(pg)->pfn = pfn;
	if (pte_set(self, vpn, pg) < 0)
		return 0;
	for (int i = 0; i < k.n; i++)
		pte_set(k.peer[i].proc, k.peer[i].vpn, pg);
	return pg;
}

static uint32_t learn_anon(uint32_t vma, uint64_t vpn, uint64_t pfn,
			   bool excl)
{
	uint64_t index = anon_index(vma, vpn);
	uint32_t pg;

	if (anon_vma_prepare(vma) < 0)
		return 0;
	if (!excl && (pg = learn_shared(vma, vpn, index, pfn)))
		return pg;
	pg = page_new_anon(vma_of(vma)->anon_vma, index);
	if (pg && pte_set(vma_of(vma)->proc, vpn, pg) < 0)
		return 0;
	if (pg)
		page_of(pg)->pfn = pfn;
	return pg;
}

struct same_frame {
	uint32_t self;
	uint64_t pfn;
	bool found;
};

static int same_frame_cb(uint32_t proc, uint32_t vma, uint64_t addr, void *arg)
{
	struct same_frame *e = arg;
	uint64_t ent;

	(void)vma;
	if (proc == e->self)
		return 0;
	ent = pm_peek(proc, addr);
	if ((ent & PM_PRESENT) && (ent & PM_PFN) == e->pfn)
		e->found = true;
	return e->found;
}

/* A shared page's frame changed under one mapper: a migration moves it for
 * all, a COW break for this one alone.  Does another mapper still see the
 * old frame? */
static bool still_mapped_elsewhere(uint32_t page, uint32_t self, uint64_t old)
{
	struct same_frame e = { self, old, false };

	rmap_walk(page, same_frame_cb, &e);
	return e.found;
}

/* A present file (or shared) page: the page cache's at its index. */
static uint32_t sync_file(uint32_t vma, uint64_t vpn, uint32_t cur, uint64_t pfn)
{
	struct ns_vma *v = vma_of(vma);
	uint32_t proc = v->proc;

	if (!v->obj)
		return cur;
	uint64_t index = v->pgoff +
		(((vpn << NS_PAGE_SHIFT) - v->start) >> NS_PAGE_SHIFT);
	uint32_t pg = page_cache_get(v->obj, index);
	if (pg && cur != pg && pte_set(proc, vpn, pg) < 0)
		return cur;
	if (pg && pfn)
		page_of(pg)->pfn = pfn;
	return pg;
}

/* A present anonymous page the shadow has a descriptor for (cur): still
 * the same, copied by a COW break, or moved. */
static uint32_t sync_anon(uint32_t vma, uint64_t vpn, uint32_t cur, uint64_t pfn,
			  bool excl)
{
	struct ns_page *p = page_of(cur);

	/* In flight in a member's migration, as at a migration entry.
	 * The kernel takes a page out of its mappers, and puts the new
	 * one (or the old, when the move fails) back, one mapper at a
	 * time (try_to_migrate(), remove_migration_ptes()): a fork
	 * child sharing a page the parent's move_pages(2) took before
	 * the fork reads its copy exclusive meanwhile, with no write.
	 * Judged so, it got a descriptor of its own, and once both
	 * PTEs were back the two shared one page with two
	 * descriptors.  settle() gives the page its frame and node;
	 * the next look judges what is left. */
	if (p->flags & NS_PG_MIGRATING)
		return cur;
	if (p->mapcount > 1 && excl) {
		/* COW break.  Without PFNs it may as well have been
		 * another mapper's write, which leaves our copy
		 * exclusive too: the node the descriptor keeps is
		 * then the old frame's - ours - and not the copy's
		 * its other mappers now have.  Each mapper's next
		 * look asks the kernel again (and may see a later
		 * copy: learn.c, copy_unseen()). */
		if (!pfn)
			p->node = -1;
		return learn_anon(vma, vpn, pfn, excl);
	}
	if (pfn && p->pfn && p->pfn != pfn && p->mapcount > 1 &&
	    still_mapped_elsewhere(cur, vma_of(vma)->proc, p->pfn))
		return learn_anon(vma, vpn, pfn, excl);	/* COW break */
	/* Its frame unknown (a migration forgets it): shared still
	 * only if another mapper sees ours. */
	if (pfn && !p->pfn && p->mapcount > 1 &&
	    !still_mapped_elsewhere(cur, vma_of(vma)->proc, pfn))
		return learn_anon(vma, vpn, pfn, excl);	/* COW break */
	if (pfn && p->pfn != pfn) {
		/* Moved behind our back, or a frame never seen whose
		 * node was learned for another: ask. */
		p->node = -1;
		p->pfn = pfn;		/* every mapper sees the move */
	}
	return cur;
}

/* Learns one present page; returns the descriptor now mapped there, or 0. */
uint32_t sync_page(uint32_t vma, uint64_t vpn, uint64_t e)
{
	struct ns_vma *v = vma_of(vma);
	uint32_t proc = v->proc, t = pte_lookup(proc, vpn);
	uint32_t cur = t ? pte_page(t) : 0;
	uint64_t pfn = e & PM_PFN;
	bool excl = e & PM_EXCL;

	if (e & PM_FILE)
		return sync_file(vma, vpn, cur, pfn);
	/* The zero page: by PFN when we can read PFNs, else a present
	 * anonymous page nobody maps exclusively that we never saw - unless
	 * a relative maps it too (fork shared it before anyone looked; two
	 * zero pages that look so are told apart in query_nodes). */
	bool zero = pfn ? pfn == ns_zero_pfn()
			: !excl && (!cur || (page_of(cur)->flags & NS_PG_ZERO));
	if (zero && !pfn && !cur && anon_vma_prepare(vma) == 0) {
		uint32_t pg = learn_shared(vma, vpn, anon_index(vma, vpn), 0);
		if (pg)
			return pg;
	}
	if (zero) {
		if (cur != page_zero())
			pte_set(proc, vpn, page_zero());
		return page_zero();
	}
	if (cur && (page_of(cur)->flags & NS_PG_ANON))
		return sync_anon(vma, vpn, cur, pfn, excl);
	/* First touch, or a write to a file page / the zero page. */
	return learn_anon(vma, vpn, pfn, excl);
}
