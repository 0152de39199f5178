/* SPDX-License-Identifier: MIT */
/*
 * migrate.c - the migration engine, after the kernel's migrate_pages()
 * (mm/migrate.c): a list of pages, up to ten passes, -EAGAIN/-EBUSY
 * retried, every other outcome permanent and counted by reason.
 *
 *   collect     under the family lock: learn the range's present pages,
 *               skip those already on the target node, and mark each
 *               descriptor NS_PG_MIGRATING - our migration entry: another
 *               migration that meets it skips it (async) or waits (sync).
 *   hold        where userfaultfd write-protect works (anonymous and shmem
 *               pages), the batch is write-protected: writers wait in a WP
 *               fault until the move is done, as at a migration entry.
 *   move        without the family lock: move_pages(2) in batches.  The
 *               kernel copies each page and fixes every PTE of every mapper;
 *               with NS_MIG_SHARED and CAP_SYS_NICE it also moves pages
 *               other processes map (MPOL_MF_MOVE_ALL), otherwise those come
 *               back -EACCES and are reported as shared.  Then the write
 *               protection goes and the writers wake.
 *   settle      under the family lock again: each page still mapped where
 *               it was gets its new node once, in its one descriptor, so
 *               every mapper's view changes together.
 *
 * Lock order: engine lock (one migration per process at a time; it owns
 * the batch buffers and this process's mig counters) -> family lock; the
 * whole tree, and why holds end before the family lock is taken again:
 * arena.c.  The fault path never comes here.
 */
#include <errno.h>
#include <stdbool.h>
#include <linux/futex.h>
#include <numaif.h>
#include "internal.h"
#include "sys.h"

#define MIG_MAX_PASSES 10
#define MIG_BATCH 4096
#define STUCK (-1000)		/* gave up on this page: counted busy */

/* All of it the engine lock's (but the lock itself). */
static struct engine {
	void *addr[MIG_BATCH];		/* pages of the batch */
	int node[MIG_BATCH];		/* target node, per page */
	int status[MIG_BATCH];		/* move_pages' answer, per page */
	uint32_t page[MIG_BATCH];	/* descriptors */
	uint8_t placed[MIG_BATCH];	/* its region is registered for placement */
	uint8_t nohold[MIG_BATCH];	/* a stack: never write-protected */
	struct { uint64_t start, end; uint8_t placed, held; } run[MIG_BATCH];
	void *pend[MIG_BATCH];		/* a pass's pending pages, compacted */
	int pidx[MIG_BATCH];		/* their places in addr[] */
	int pst[MIG_BATCH];		/* the pass's answers */
	void *qaddr[MIG_BATCH];		/* pages whose answer never came */
	int qst[MIG_BATCH];		/* ... and where they are */
	uint64_t pm[MIG_BATCH];		/* settle: pagemap entries after the move */
	int now[MIG_BATCH];		/* settle: where the pages are then */
	uint64_t pm_after[MIG_BATCH];	/* settle: the entries again, after now[] */
	uint32_t lock;			/* the engine lock (futex word) */
} eng NS_BIG;

static void engine_lock(void)
{
	static int excluded;

	ns_fork_resets_mark(NS_FR_ENG);
	while (__atomic_exchange_n(&eng.lock, 1, __ATOMIC_ACQUIRE))
		sys_futex(&eng.lock, FUTEX_WAIT, 1, NULL);
	if (!excluded) {
		ns_exclude(&eng, sizeof(eng));
		excluded = 1;
	}
}

static void engine_unlock(void)
{
	__atomic_store_n(&eng.lock, 0, __ATOMIC_RELEASE);
	sys_futex(&eng.lock, FUTEX_WAKE, 1, NULL);
}

struct collect {
	uint64_t pos, end;	/* where the walk resumes, where it stops */
	int from;		/* only pages on this node; -1: any */
	int node, n;
	unsigned flags;
	int waiting;		/* sync: pages another migration holds */
	int again;		/* a later round over the same range */
	bool move_all;		/* MPOL_MF_MOVE_ALL: shared pages move too */
	struct ns_mig_counters *c;
};

static int other_proc_cb(uint32_t proc, uint32_t vma, uint64_t addr, void *arg)
{
	(void)vma;
	(void)addr;
	(void)arg;
	return proc != ns_rt.self;	/* stop at the first other process */
}

/* Does another process of the family map this page? */
static bool mapped_elsewhere(uint32_t page)
{
	return rmap_walk(page, other_proc_cb, NULL) != 0;
}

struct other { uint32_t proc; uint64_t addr; };

static int other_cb(uint32_t proc, uint32_t vma, uint64_t addr, void *arg)
{
	struct other *o = arg;

	(void)vma;
	if (proc == ns_rt.self || !proc_of(proc)->pid)
		return 0;
	o->proc = proc;
	o->addr = addr;
	return 1;
}

/* Where another mapper's copy of an anonymous page is, by its kernel;
 * -1 when no other mapper can be asked. */
static int other_node(uint32_t page)
{
	struct other o = { 0, 0 };
	int st;

	if (!rmap_walk(page, other_cb, &o))
		return -1;
	void *a = (void *)o.addr;
	return sys_move_pages(proc_of(o.proc)->pid, 1, &a, NULL, &st, 0) == 0 ? st : -1;
}

/* Our copy becomes a page of its own, as a COW fault made it; the others
 * keep the descriptor. */
static void split_ours(uint32_t vma, uint32_t t, int node, uint64_t pfn)
{
	struct ns_page *p = page_of(pte_page(t));
	uint32_t pg;

	if (!vma || anon_vma_prepare(vma) < 0 ||
	    !(pg = page_new_anon(vma_of(vma)->anon_vma, p->index)))
		return;
	page_of(pg)->node = (int16_t)node;
	page_of(pg)->pfn = pfn;
	pte_set(ns_rt.self, pte_vpn(t), pg);	/* the PTE exists: cannot fail */
}

static int collect_vma(uint32_t vma, void *arg)
{
	struct collect *k = arg;
	struct ns_vma *v = vma_of(vma);
	uint64_t a = v->start > k->pos ? v->start : k->pos;
	uint64_t e = v->end < k->end ? v->end : k->end;

	for (; a < e; a += NS_PAGE_SIZE) {
		uint32_t t = pte_lookup(v->proc, a >> NS_PAGE_SHIFT);
		struct ns_page *p;

		if (k->n == MIG_BATCH) {
			k->pos = a;
			return 1;
		}
		if (!t)
			continue;
		p = page_of(pte_page(t));
		if (p->flags & NS_PG_ZERO)
			continue;
		/* A node move takes only its source's pages, so a page it
		 * moved is not taken again by a later round or pair. */
		if (k->from >= 0 && p->node != k->from)
			continue;
		if (p->node == k->node) {
			if (!k->again)
				k->c->already++;	/* once, not per round */
			continue;
		}
		/* Shared in the family: the rmap names the other mappers.
		 * Without MPOL_MF_MOVE_ALL the kernel would refuse the page
		 * (-EACCES); say so without asking it. */
		if (p->mapcount > 1 && !k->move_all && mapped_elsewhere(pte_page(t))) {
			if (!k->again)
				k->c->shared++;
			continue;
		}
		if (p->flags & NS_PG_MIGRATING) {
			if (k->flags & NS_MIG_SYNC)
				k->waiting++;
			else
				k->c->busy++;
			continue;
		}
		p->flags |= NS_PG_MIGRATING;
		eng.addr[k->n] = (void *)a;
		eng.node[k->n] = k->node;
		eng.page[k->n] = pte_page(t);
		eng.placed[k->n] = v->policy > 0;
		/* Stacks move unprotected: the thread that must end the hold
		 * (us, or the monitor) may be writing on one. */
		eng.nohold[k->n] = !!(v->flags & (NS_VMA_STACK | NS_VMA_GROWSDOWN)) ||
				   ns_own_overlaps(a, a + NS_PAGE_SIZE);
		k->n++;
	}
	k->pos = e;
	return 0;
}

/* Write-protects the batch in runs of adjacent pages, so writers wait
 * for the move like the kernel's migration entries make them; returns the
 * number of runs. */
static int hold_batch(int n)
{
	int runs = 0;

	for (int i = 0; i < n;) {
		uint64_t s = (uint64_t)eng.addr[i], e = s + NS_PAGE_SIZE;
		int j = i + 1;
		while (j < n && (uint64_t)eng.addr[j] == e && eng.placed[j] == eng.placed[i] &&
		       eng.nohold[j] == eng.nohold[i]) {
			e += NS_PAGE_SIZE;
			j++;
		}
		eng.run[runs].start = s;
		eng.run[runs].end = e;
		eng.run[runs].placed = eng.placed[i];
		eng.run[runs].held = eng.nohold[i] ? 0 :
				     (uint8_t)uffd_hold(s, e, eng.placed[i]);
		runs++;
		i = j;
	}
	return runs;
}

static void release_batch(int runs)
{
	for (int r = 0; r < runs; r++)
		if (eng.run[r].held)
			uffd_release(eng.run[r].start, eng.run[r].end, eng.run[r].placed);
}

/* Sorts one page's final status into the counters. */
static void count(struct ns_mig_counters *c, int st, int node)
{
	if (st == node)
		c->moved++;
	else if (st == -EACCES || st == -EPERM)
		c->shared++;
	else if (st == -ENOENT)
		c->not_present++;
	else if (st == -ENOMEM)
		c->nomem++;
	else if (st == -EFAULT)
		c->fault++;
	else if (st == -EBUSY || st == -EAGAIN || st == STUCK)
		c->busy++;
	else
		c->other++;
}

static inline bool retry(int st)
{
	return st == -EAGAIN || st == -EBUSY;
}

#define UNWRITTEN 0x40000000	/* a status the kernel never writes */


/* The passes over one batch; returns 0 or move_pages' -errno.
 *
 * When a page cannot move, move_pages(2) returns how many did not and
 * leaves the statuses of the rest of that batch unwritten, so every pass
 * would stop at the same page.  Unwritten statuses are asked of the kernel
 * (where is the page now?); a pass that made no progress at all gives up
 * on its first page - the one the kernel stopped at - so one stuck page
 * holds up only itself. */
static long move_batch(int n, int mf, struct ns_mig_counters *c)
{
	int left = n;

	for (int i = 0; i < n; i++)
		eng.status[i] = -EAGAIN;
	for (int pass = 0; pass < MIG_MAX_PASSES && left; pass++) {
		/* Retry only what is still pending, compacted to the front. */
		int m = 0, progress = 0;
		for (int i = 0; i < n; i++)
			if (retry(eng.status[i])) {
				eng.pidx[m] = i;
				eng.pend[m++] = eng.addr[i];
			}
		for (int j = 0; j < m; j++)
			eng.pst[j] = UNWRITTEN;
		long r = sys_move_pages(0, (unsigned long)m, eng.pend, eng.node,
					eng.pst, mf);
		c->passes++;
		if (r < 0)
			return r;
		int q = 0;
		for (int j = 0; j < m; j++)
			if (eng.pst[j] == UNWRITTEN)
				eng.qaddr[q++] = eng.pend[j];
		if (q && sys_move_pages(0, (unsigned long)q, eng.qaddr, NULL,
					eng.qst, 0) >= 0) {
			for (int j = 0, k = 0; j < m; j++)
				if (eng.pst[j] == UNWRITTEN) {
					int where = eng.qst[k++];
					eng.pst[j] = where == eng.node[0] ? where : -EAGAIN;
				}
		}
		left = 0;
		for (int j = 0; j < m; j++) {
			if (eng.pst[j] == UNWRITTEN)
				eng.pst[j] = -EAGAIN;
			eng.status[eng.pidx[j]] = eng.pst[j];
			progress += !retry(eng.pst[j]);
		}
		if (!progress && m)
			eng.status[eng.pidx[0]] = STUCK;
		for (int j = 0; j < m; j++)
			left += retry(eng.status[eng.pidx[j]]);
	}
	return 0;
}

/* The batch's pagemap entries, into pm[], by runs of adjacent pages;
 * entries that cannot be read are 0. */
static void read_entries(int fd, int n, uint64_t *pm)
{
	for (int i = 0; i < n;) {
		int j = i + 1;
		while (j < n && (uint64_t)eng.addr[j] == (uint64_t)eng.addr[j - 1] + NS_PAGE_SIZE)
			j++;
		size_t len = (size_t)(j - i) * 8;
		if (fd < 0 || sys_pread(fd, &pm[i], len,
					(off_t)((uint64_t)eng.addr[i] >> NS_PAGE_SHIFT) * 8) != (long)len)
			for (int k = i; k < j; k++)
				pm[k] = 0;
		i = j;
	}
}

/* The batch's pagemap entries and nodes as they are now, frame, node,
 * frame: a writer may break COW between the reads (a fork shared the
 * page while the batch was out of the lock), and the new copy's node is
 * not the frame's the descriptor keeps for the other mappers.  A page
 * whose frame changed gets node -1 and entry 0: unknown, asked again at
 * the next look.  A COW break after these reads changes the frame the
 * shadow keeps, so the next sync sees it.  Unreadable: entries 0, nodes
 * the move's. */
static void look_again(int n)
{
	bool kept;
	int fd = sys_self_fd(SYS_SELF_PAGEMAP, &kept);

	read_entries(fd, n, eng.pm);
	if (sys_move_pages(0, (unsigned long)n, eng.addr, NULL, eng.now, 0) < 0) {
		for (int i = 0; i < n; i++)
			eng.now[i] = eng.status[i];
	} else if (fd >= 0) {
		read_entries(fd, n, eng.pm_after);
		for (int i = 0; i < n; i++)
			if (eng.pm[i] && !pm_same_page(eng.pm[i], eng.pm_after[i])) {
				eng.now[i] = -1;
				eng.pm[i] = 0;
			}
	}
	if (fd >= 0 && !kept)
		sys_close(fd);
}

/*
 * Settle, under the family lock: each moved page still mapped where it
 * was gets the node and frame it has now, in its one descriptor, so every
 * mapper's view changes together.  The kernel moves only pages no one
 * else maps (without MPOL_MF_MOVE_ALL), yet the shadow may say others do:
 * a writer broke the COW while the batch was out of the lock, or we
 * forked after the move and before this.  Another mapper's kernel says
 * whether its copy is where ours is; if not, ours splits off.
 */
static void settle(int n, int node, long err, struct ns_mig_counters *c)
{
	if (!err)
		look_again(n);
	for (int i = 0; i < n; i++) {
		uint64_t a = (uint64_t)eng.addr[i];
		uint32_t t = pte_lookup(ns_rt.self, a >> NS_PAGE_SHIFT);
		struct ns_page *p = page_of(eng.page[i]);

		if (!err)
			count(c, eng.status[i], node);
		/* The mark goes in any case: a descriptor that lives on
		 * elsewhere (mremap, another mapper) must not stay marked. */
		if (p->mapcount)
			p->flags &= ~NS_PG_MIGRATING;
		if (!t || err || eng.status[i] < 0)
			continue;
		/* A sync met a COW break here while the page was in flight:
		 * the new descriptor's node was asked before the move or
		 * after; ask again. */
		if (pte_page(t) != eng.page[i]) {
			struct ns_page *q = page_of(pte_page(t));
			if ((q->flags & (NS_PG_ANON | NS_PG_ZERO)) == NS_PG_ANON)
				q->node = -1;
			continue;
		}
		int now = eng.now[i] >= 0 ? eng.now[i] : -1;
		uint64_t pfn = eng.pm[i] & PM_PRESENT ? eng.pm[i] & PM_PFN : 0;
		if (p->mapcount > 1 && (p->flags & NS_PG_ANON)) {
			int there = other_node(eng.page[i]);
			if (there >= 0 && there != now) {
				split_ours(vma_find(ns_rt.self, a), t, now, pfn);
				p->node = there;
				continue;
			}
		}
		p->node = now;
		p->pfn = pfn;
		p->flags &= ~NS_PG_GUESS;
	}
}

/* The batch a walk collected (n pages, maybe none): held where another
 * thread could write it, moved without the family lock, settled under it
 * again.  Called and returns with the family lock held; adds the pages
 * moved to *moved; returns move_batch()'s error. */
static long move_collected(int n, bool hold, int mf, int node,
			   struct ns_mig_counters *c, long *moved)
{
	long err;

	if (n)
		ns_arena->mig_inflight++;
	ns_unlock();
	if (!n) {
		ns_lock();
		return 0;
	}
	uint64_t before = c->moved;
	int runs = hold ? hold_batch(n) : 0;
	err = move_batch(n, mf, c);
	release_batch(runs);
	ns_lock();
	ns_arena->mig_inflight--;
	settle(n, node, err, c);
	*moved += (long)(c->moved - before);
	return err;
}

/* The walk reached the end of the range: is the migration done?  Not while
 * (sync) another migration holds some of its pages: we let it finish,
 * then look at the range again, up to 1000 times (then they count busy).
 * Family lock held. */
static bool round_over(struct collect *k, uint64_t start, int *spins)
{
	if (!k->waiting || ++*spins > 1000)
		return true;
	const struct timespec ms = { 0, 1000 * 1000 };
	ns_unlock();
	sys_nanosleep(&ms);
	ns_lock();
	k->pos = start;
	k->again = 1;
	if (*spins == 1000)
		k->c->busy += (uint64_t)k->waiting;
	return false;
}

long mig_move_range_from(uint64_t start, uint64_t end, int from, int node,
			 unsigned flags)
{
	int mf = MPOL_MF_MOVE;
	long moved = 0, err = 0;
	struct ns_mig_counters *c;
	struct trace_mig tm;

	if (!numa_node_online(node))
		return -EINVAL;
	if ((flags & NS_MIG_SHARED) && numa_can_move_all())
		mf = MPOL_MF_MOVE_ALL;
	start &= ~(NS_PAGE_SIZE - 1);
	/* Rounded up, never over the top of the address space. */
	end = end > ~0ULL - NS_PAGE_SIZE ? ~0ULL & ~(NS_PAGE_SIZE - 1) : NS_PAGE_ALIGN(end);
	/* Pages in flight are write-protected only when another thread of
	 * the program could write them meanwhile; the monitor, which serves
	 * those faults, starts before the lock (a thread start may wait for
	 * malloc). */
	bool hold = ns_program_threads() > 1;
	if (hold && !uffd_active())
		uffd_start();
	engine_lock();
	ns_lock();
	c = &proc_of(ns_rt.self)->mig;
	c->calls++;
	trace_migrate_begin(&tm, c);
	page_sync_range(ns_rt.self, start, end);
	page_learn_nodes(ns_rt.self, start, end);
	struct collect k = { start, end, from, node, 0, flags, 0, 0,
			     mf == MPOL_MF_MOVE_ALL, c };
	for (int spins = 0;;) {
		k.n = 0;
		k.waiting = 0;
		/* A walk that stopped for a full batch says so; one that met
		 * no more mappings ends the round (the range may end past
		 * the last of them: the fuzzer's spinning migrate). */
		if (!vma_walk(ns_rt.self, k.pos, end, collect_vma, &k))
			k.pos = end;
		err = move_collected(k.n, hold, mf, node, c, &moved);
		if (err)
			break;
		if (k.pos >= end && round_over(&k, start, &spins))
			break;
	}
	trace_migrate(&tm, c, start, end - start, node, moved, err);
	ns_unlock();
	engine_unlock();
	return err ? err : moved;
}

long mig_move_range(uint64_t start, uint64_t end, int node, unsigned flags)
{
	return mig_move_range_from(start, end, -1, node, flags);
}

/* In the child of fork: a migration running in another thread of the
 * parent left the engine lock taken in our copy. */
void mig_after_fork(void)
{
	if (eng.lock)
		eng.lock = 0;
}
