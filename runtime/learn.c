/* SPDX-License-Identifier: MIT */
/*
 * learn.c - the shadow's pages learned from the kernel: a walk over a
 * proc's VMAs reading /proc/PID/pagemap a chunk at a time, each present
 * page learned (sync.c), the nodes it does not know asked of the kernel
 * (move_pages query).  With check set the same walk is the page check of
 * verify_pages(): a page the shadow maps where the kernel has none, a node
 * or a sharing that differs is reported (verify.c).  page_sync() and its
 * kin learn only.  page_learn_nodes() asks the nodes a sync left unknown
 * (before a migration, a count by node, a stat).  Callers hold the family
 * lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include "internal.h"
#include "sys.h"
#include "verify.h"

static bool vanish_ok;	/* the kernel said these pages went (REMOVE) */

struct scan {
	uint32_t proc;
	pid_t pid;
	int pm_fd;
	bool check;		/* report differences, not only learn */
	int diffs;
	uint64_t lo, hi;	/* the part of the address space to scan */
	bool kin_unknown;	/* a member's shadow awaits its own look */
};

/* A page learned as anonymous that the kernel says is the zero page: every
 * mapper maps the zero page instead. */
static void to_zero(uint32_t page)
{
	struct rmap_at at[MAX_KIN];
	int n = rmap_collect(page, false, at, 0, MAX_KIN);

	for (int i = 0; i < n && i < MAX_KIN; i++)
		pte_set(at[i].proc, at[i].addr >> NS_PAGE_SHIFT, page_zero());
}

struct kin_at { uint32_t self, proc; uint64_t addr; };

static int kin_at_cb(uint32_t proc, uint32_t vma, uint64_t addr, void *arg)
{
	struct kin_at *k = arg;

	(void)vma;
	if (proc == k->self || !proc_of(proc)->pid || proc_of(proc)->state != NS_PROC_LIVE)
		return 0;
	k->proc = proc;
	k->addr = addr;
	return 1;
}

/*
 * Without PFNs a COW break is invisible while both copies are shared -
 * written, then shared again by a fork before anyone looked - but copies
 * on two nodes cannot be one page.  When the kernel puts our copy of a
 * shared anonymous page on another node than the shadow says, another
 * mapper's kernel is asked about its copy; if that is where the shadow
 * says, ours splits off with the node it has.  Returns true if it did.
 */
static bool split_by_node(struct scan *s, uint32_t page, uint64_t addr, int node)
{
	struct kin_at k = { s->proc, 0, 0 };
	struct ns_page *p = page_of(page);
	uint32_t vma, pg;
	int st = -1;

	if (p->pfn || p->mapcount < 2 || !(p->flags & NS_PG_ANON) || !rmap_walk(page, kin_at_cb, &k))
		return false;
	void *a = (void *)k.addr;
	if (sys_move_pages(proc_of(k.proc)->pid, 1, &a, NULL, &st, 0) < 0 || st != p->node)
		return false;
	vma = vma_find(s->proc, addr);
	if (!vma || anon_vma_prepare(vma) < 0 ||
	    !(pg = page_new_anon(vma_of(vma)->anon_vma, p->index)))
		return false;
	page_of(pg)->node = (int16_t)node;
	pte_set(s->proc, addr >> NS_PAGE_SHIFT, pg);
	return true;
}

/* Without PFNs, a page of a process that forked or was forked may have
 * been copied by the kernel at a write, on the writer's node, with
 * nothing in pagemap to show it: the copy-on-write a fork sets up, or one
 * more of a page the other side's copy left exclusive (the kernel copies
 * rather than reuses a page it holds an extra reference to).  Its node is
 * the kernel's at each look, not judged. */
static bool copy_unseen(uint32_t proc, const struct ns_page *p)
{
	return !p->pfn && (p->flags & NS_PG_ANON) && proc_of(proc)->forked;
}

/* Nodes of the batch's pages, straight from the kernel.  The chunk's
 * pagemap (ns_scr.pm, read from base over len pages) is read again after the
 * query: a page whose frame changed meanwhile (a COW break by a writer
 * of this process, the copy on another node) gives its descriptor - the
 * old frame's, which its other mappers keep - nothing: not its node, not
 * a difference.  The next look asks again. */
static void query_nodes(struct scan *s, int n, uint64_t base, uint64_t len)
{
	if (!n || sys_move_pages(s->pid, (unsigned long)n, ns_scr.addrs, NULL, ns_scr.status,
				 0) < 0)
		return;
	if (sys_pread(s->pm_fd, ns_scr.pm_after, len * 8, (off_t)((base >> NS_PAGE_SHIFT) * 8)) !=
	    (long)(len * 8))
		return;
	for (int k = 0; k < n; k++) {
		struct ns_page *p = page_of(ns_scr.pages_q[k]);
		uint64_t i = ((uint64_t)ns_scr.addrs[k] - base) >> NS_PAGE_SHIFT;
		/* In flight in a member's migration, as at a migration
		 * entry: its settle gives every mapper's view its node. */
		if (p->flags & NS_PG_MIGRATING)
			continue;
		if (!pm_same_page(ns_scr.pm[i], ns_scr.pm_after[i]))
			continue;
		if (ns_scr.status[k] == -EFAULT && !p->pfn && p->node == -1 &&
		    (p->flags & NS_PG_ANON)) {
			to_zero(ns_scr.pages_q[k]);	/* PFNs unreadable */
			continue;
		}
		if (ns_scr.status[k] < 0) {
			/* No node for it (a special mapping): not asked at
			 * every sync again. */
			if (p->node == -1)
				p->node = NS_NODE_NONE;
			continue;
		}
		if (p->node < 0) {
			p->node = ns_scr.status[k];
			/* A relative's migration in flight may still move
			 * it: a page fork shared after the kernel took it
			 * moves for both mappers. */
			if (ns_arena->mig_inflight)
				p->flags |= NS_PG_GUESS;
			else
				p->flags &= ~NS_PG_GUESS;
		} else if ((p->flags & NS_PG_GUESS) || copy_unseen(s->proc, p)) {
			p->node = ns_scr.status[k];	/* where the kernel took it, if it did */
			if (!ns_arena->mig_inflight)
				p->flags &= ~NS_PG_GUESS;
		} else if (p->node != ns_scr.status[k] &&
			   split_by_node(s, ns_scr.pages_q[k], (uint64_t)ns_scr.addrs[k], ns_scr.status[k])) {
			continue;
		} else if (s->check && p->node != ns_scr.status[k]) {
			char line[96];
			ns_fmt(line, sizeof(line), "page on node %d, shadow says node %d",
			       ns_scr.status[k], p->node);
			s->diffs += verify_report(s->pid, (uint64_t)ns_scr.addrs[k], (uint64_t)ns_scr.addrs[k] + NS_PAGE_SIZE,
			       line);
			verify_report_ptes(ns_scr.pages_q[k]);
		}
	}
}

/* Pagemap's "exclusively mapped" is imprecise inside a transparent huge
 * page: after a partial COW every subpage may read "shared".  As root,
 * /proc/kpageflags says whether the frame is part of one (and then
 * /proc/kpagecount, which is exact per page, decides); otherwise any VMA
 * large enough to hold one is taken as possibly huge.  *flags and *cnt get
 * what was read, for the report. */
static bool excl_unreliable(const struct ns_vma *v, uint64_t pfn,
			    uint64_t *flags, uint64_t *cnt)
{
	long fd;

	if (!pfn)
		return v->end - v->start >= (2UL << 20);
	fd = sys_open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	sys_pread((int)fd, flags, 8, (off_t)(pfn * 8));
	sys_close((int)fd);
	fd = sys_open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	sys_pread((int)fd, cnt, 8, (off_t)(pfn * 8));
	sys_close((int)fd);
	if (!(*flags & ((1ULL << 15) | (1ULL << 16) | (1ULL << 22))))
		return false;
	return *cnt <= 1;	/* one mapper after all: nothing to report */
}

/* A page pagemap shows absent (entry e) at vpn.  Learning needs only
 * what is present; a check (or a REMOVE event) also wants what went. */
static void scan_absent(struct scan *s, uint64_t vpn, uint64_t e)
{
	uint32_t t;

	if (!s->check && !vanish_ok)
		return;
	t = pte_lookup(s->proc, vpn);
	if (!t)
		return;
	/* Gone: dropped by MADV_FREE/PAGEOUT, or the shadow is wrong.  In
	 * flight (swap or migration entry): still ours. */
	if ((pte_flags(t) & NS_PTE_LAZY) || (e & PM_SWAP) || vanish_ok) {
		if (!(e & PM_SWAP))
			pte_clear(t);
		return;
	}
	if (!s->check)
		return;
	s->diffs += verify_report(s->pid, vpn << NS_PAGE_SHIFT,
				  (vpn + 1) << NS_PAGE_SHIFT,
				  "shadow maps a page, the kernel has none");
}

/* One page of vma the chunk shows (pagemap entry e at vpn): learned,
 * queued for the node query (ns_scr.addrs and pages_q, *q of them), and
 * when checking its sharing judged and its frame kept for check_sharing. */
static void scan_page(struct scan *s, uint32_t vma, uint64_t vpn, uint64_t e,
		      int *q)
{
	uint32_t pg;

	if (own_is_scratch(vpn << NS_PAGE_SHIFT))	/* same address in every member */
		return;
	if (!(e & PM_PRESENT)) {
		scan_absent(s, vpn, e);
		return;
	}
	pg = sync_page(vma, vpn, e);
	if (!pg || (page_of(pg)->flags & NS_PG_ZERO))
		return;
	/* Ask the kernel for nodes we do not know (not for those it would
	 * not give: NS_NODE_NONE), and, when checking, for all of them. */
	if (s->check || page_of(pg)->node == -1) {
		ns_scr.addrs[*q] = (void *)(vpn << NS_PAGE_SHIFT);
		ns_scr.pages_q[(*q)++] = pg;
	}
	if (!(page_of(pg)->flags & NS_PG_ANON))
		return;
	uint64_t flags = 0, cnt = 0;
	if (s->check && page_of(pg)->mapcount == 1 && !(e & PM_EXCL) &&
	    !s->kin_unknown && !(page_of(pg)->flags & NS_PG_MIGRATING) &&
	    !excl_unreliable(vma_of(vma), e & PM_PFN, &flags, &cnt)) {
		char line[160];

		ns_fmt(line, sizeof(line), "kernel shares this anonymous page "
		       "(pfn %#lx, kpageflags %#lx, kpagecount %lu; zero page %#lx), "
		       "shadow has one mapper", (unsigned long)(e & PM_PFN),
		       (unsigned long)flags, (unsigned long)cnt,
		       (unsigned long)ns_zero_pfn());
		s->diffs += verify_report(s->pid, vpn << NS_PAGE_SHIFT,
					  (vpn + 1) << NS_PAGE_SHIFT, line);
	}
	if ((e & PM_PFN) && verify_nseen < MAX_SEEN)
		ns_scr.seen[verify_nseen++] = (struct seen){ e & PM_PFN, vpn,
							     s->proc, pg };
}

static int scan_vma(uint32_t vma, void *arg)
{
	struct scan *s = arg;
	struct ns_vma *v = vma_of(vma);

	uint64_t end = v->end < s->hi ? v->end : s->hi;

	/* Reservations (PROT_NONE) hold no pages worth a look: malloc keeps
	 * tens of MiB of them per arena. */
	if (v->prot == PROT_NONE)
		return 0;

	for (uint64_t a = v->start > s->lo ? v->start : s->lo; a < end;) {
		uint64_t n = (end - a) >> NS_PAGE_SHIFT;
		int q = 0;
		long r;

		if (n > CHUNK)
			n = CHUNK;
		r = sys_pread(s->pm_fd, ns_scr.pm, n * 8, (off_t)((a >> NS_PAGE_SHIFT) * 8));
		if (r < (long)(n * 8)) {
			if (s->check) {
				s->diffs += verify_report(s->pid, a, end, "could not look at these pages: short pagemap read");
			}
			return 0;
		}
		for (uint64_t k = 0; k < n; k++)
			scan_page(s, vma, (a >> NS_PAGE_SHIFT) + k, ns_scr.pm[k], &q);
		query_nodes(s, q, a, n);
		a += n << NS_PAGE_SHIFT;
	}
	return 0;
}

/* Learns (and with check, verifies) one proc's pages in [lo, hi); returns
 * differences. */
int learn_range(uint32_t proc, bool check, uint64_t lo, uint64_t hi)
{
	struct scan s = { proc, proc_of(proc)->pid, -1, check, 0, lo, hi, false };
	long fd;

	bool self = s.pid == ns_rt.pid, kept = false;

	fd = pm_open(proc, &kept);
	if (fd < 0) {
		if (check && (self || (fd != -ENOENT && fd != -ESRCH))) {
			char line[80];
			ns_fmt(line, sizeof(line), "could not look at its pages: pagemap (%ld)", fd);
			return verify_report(s.pid, lo, lo, line);
		}
		return 0;
	}
	s.pm_fd = (int)fd;
	/* Sharing with a member that has not yet taken in what passed it
	 * by (a fork child before its first look) cannot be judged. */
	for (uint32_t q = ns_arena->procs; q && check; q = proc_of(q)->next)
		if (q != proc && proc_of(q)->dirty && proc_of(q)->state == NS_PROC_LIVE)
			s.kin_unknown = true;
	vma_walk(proc, lo, hi, scan_vma, &s);
	pm_close((int)fd, kept);
	return s.diffs;
}

static int scan_proc(uint32_t proc, bool check)
{
	return learn_range(proc, check, 0, ~0ULL);
}

void page_drop_vanished(uint32_t proc, uint64_t lo, uint64_t hi)
{
	vanish_ok = true;
	page_sync_range(proc, lo, hi);
	vanish_ok = false;
}

/* Learns this proc's present pages in [lo, hi). */
void page_sync_range(uint32_t proc, uint64_t lo, uint64_t hi)
{
	int saved = verify_nseen;
	learn_range(proc, false, lo, hi);
	verify_nseen = saved;
}

/* Learns one page at addr; returns its descriptor, 0 when none is
 * present, or -errno. */
int page_sync_addr(uint32_t proc, uint64_t addr)
{
	uint32_t v = vma_find(proc, addr);
	uint64_t e = 0;
	long fd;

	if (!v) {
		/* Below the main stack, perhaps: the kernel may have grown it
		 * since we last looked. */
		int nk = maps_read(0, ns_scr.kvma, MAX_KVMA, ns_scr.maps, sizeof(ns_scr.maps));
		for (int i = 0; i < nk; i++)
			if ((ns_scr.kvma[i].flags & (NS_KVMA_STACK << 8)) &&
			    addr >= ns_scr.kvma[i].start && addr < ns_scr.kvma[i].end)
				vma_grow_down(proc, ns_scr.kvma[i].start, ns_scr.kvma[i].end);
		v = vma_find(proc, addr);
	}
	if (!v)
		return -EFAULT;
	bool kept;
	fd = sys_self_fd(SYS_SELF_PAGEMAP, &kept);
	if (fd < 0)
		return (int)fd;
	if (sys_pread((int)fd, &e, 8, (off_t)((addr >> NS_PAGE_SHIFT) * 8)) != 8)
		e = 0;
	if (!kept)
		sys_close((int)fd);
	if (!(e & PM_PRESENT))
		return 0;
	return (int)sync_page(v, addr >> NS_PAGE_SHIFT, e);
}

int page_sync(uint32_t proc)
{
	int saved = verify_nseen;
	scan_proc(proc, false);
	verify_nseen = saved;
	return 0;
}

/* Asks the kernel the node of each page proc maps in [lo, hi) whose node
 * the shadow does not know yet (a sync leaves it -1), a batch at a time.
 * An answer counts only for a page whose pagemap entry is the same before
 * and after the query, and shows the frame its descriptor knows: a COW
 * break in between gave the answer for a new copy, not for the page the
 * descriptor's other mappers keep (look_again()).  Lock held. */
void page_learn_nodes(uint32_t proc, uint64_t lo, uint64_t hi)
{
	enum { BATCH_Q = 256 };
	void *addr[BATCH_Q];
	uint32_t pg[BATCH_Q];
	uint64_t before[BATCH_Q];
	int status[BATCH_Q], n = 0;
	bool keep = false;
	int fd = -1;

	for (uint32_t t = pte_first(proc), next; t; t = next) {
		struct ns_page *p = page_of(pte_page(t));
		uint64_t a = pte_vpn(t) << NS_PAGE_SHIFT;
		next = pte_next(t);
		if (!(p->flags & NS_PG_ZERO) && p->node == -1 && a >= lo && a < hi) {
			if (fd < 0 && (fd = pm_open(proc, &keep)) < 0)
				return;
			addr[n] = (void *)a;
			if (sys_pread(fd, &before[n], 8, (off_t)(pte_vpn(t) * 8)) != 8)
				before[n] = 0;
			pg[n++] = pte_page(t);
		}
		if (n == BATCH_Q || (n && !next)) {
			if (sys_move_pages(proc_of(proc)->pid, (unsigned long)n, addr, NULL,
					   status, 0) == 0)
				for (int k = 0; k < n; k++) {
					struct ns_page *q = page_of(pg[k]);
					uint64_t e = 0;
					if (status[k] < 0 ||
					    sys_pread(fd, &e, 8, (off_t)((uint64_t)addr[k] >> NS_PAGE_SHIFT) * 8) != 8 ||
					    !pm_same_page(before[k], e) ||
					    (q->pfn && (e & PM_PFN) != q->pfn))
						continue;
					q->node = status[k];
				}
			n = 0;
		}
	}
	pm_close(fd, keep);
}

/* Counts proc's pages by node (the zero page aside); lock held. */
void page_count_by_node(uint32_t proc, uint64_t counts[64])
{
	for (int i = 0; i < 64; i++)
		counts[i] = 0;
	page_learn_nodes(proc, 0, ~0ULL);
	/* The program's pages: the runtime's own memory (its scratch,
	 * touched as it counts, lands where its thread runs) is not. */
	for (uint32_t t = pte_first(proc); t; t = pte_next(t)) {
		struct ns_page *p = page_of(pte_page(t));
		uint64_t a = pte_vpn(t) << NS_PAGE_SHIFT;
		if (!(p->flags & NS_PG_ZERO) && p->node >= 0 && p->node < 64 &&
		    !ns_own_overlaps(a, a + NS_PAGE_SIZE))
			counts[p->node]++;
	}
}
