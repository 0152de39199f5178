/* SPDX-License-Identifier: MIT */
/*
 * balance.c - hot-page balancing (--balance): pages move to the node whose
 * threads write them.
 *
 * Every period the balancer write-protects the next slice of the program's
 * anonymous memory (a cursor sweeps it round), and the monitor reports
 * each sampled write with the writer's node and lets it go on at once.  A
 * page seen written from one other node HYSTERESIS times in a row moves
 * there through the migration engine, within a MiB/s budget; a page moved
 * less than COOLDOWN ago stays put (counted: a ping-pong avoided).  A
 * slice in which some page was seen written from another node than its
 * own is sampled once more the next period, so that page's second write
 * is seen a period later rather than a whole sweep later (in a 2-node
 * guest, a sweep outlasted the workloads: 0 pages moved of a triad whose
 * threads each wrote another's half).  The cost is bounded by the slice
 * size: at most SLICE write faults a period.
 */
#include <errno.h>
#include "internal.h"
#include "sys.h"

#define PERIOD_NS (100 * 1000 * 1000ULL)
#define SLICE 256		/* pages sampled per period */
#define HYSTERESIS 2		/* same other node this many times running */
#define COOLDOWN_NS (2 * 1000 * 1000 * 1000ULL)
#define TABLE 16384		/* pages remembered (open addressing) */

static struct {
	unsigned mibps;
	int running;
	uint64_t cursor;	/* where the next slice starts */
	int candidates;		/* pages of the last slice written from
				 * another node than theirs, once */
	bool again;		/* the slice armed now is a second look */
	uint64_t last;		/* where the slice armed now starts */
	struct { uint64_t vpn, moved_at; int8_t node; uint8_t streak; } tab[TABLE];
	struct ns_balance_stats st;
} bal NS_BIG;

static int slot(uint64_t vpn)
{
	uint32_t h = (uint32_t)((vpn * 0x9e3779b97f4a7c15ULL) >> 50) % TABLE;

	for (int i = 0; i < 8; i++, h = (h + 1) % TABLE)
		if (bal.tab[h].vpn == vpn || !bal.tab[h].vpn)
			return (int)h;
	return (int)h;	/* full neighbourhood: reuse the last one */
}

static int kernel_node(uint64_t page)
{
	void *p = (void *)page;
	int st = -1;

	return sys_move_pages(0, 1, &p, NULL, &st, 0) < 0 ? -1 : st;
}

/* One sampled write of page by a thread on node. */
static void consider(uint64_t page, int node, uint64_t now, long *budget)
{
	int i = slot(page >> NS_PAGE_SHIFT), where;

	bal.st.samples++;
	if (node < 0)
		return;
	if (bal.tab[i].vpn != page >> NS_PAGE_SHIFT) {
		bal.tab[i].vpn = page >> NS_PAGE_SHIFT;
		bal.tab[i].streak = 0;
		bal.tab[i].moved_at = 0;
		bal.tab[i].node = -1;
	}
	bal.tab[i].streak = bal.tab[i].node == node ? bal.tab[i].streak + 1 : 1;
	bal.tab[i].node = (int8_t)node;
	where = kernel_node(page);
	if (where < 0 || where == node)
		return;
	if (bal.tab[i].streak < HYSTERESIS) {
		bal.candidates++;
		return;
	}
	if (bal.tab[i].moved_at && now - bal.tab[i].moved_at < COOLDOWN_NS) {
		bal.st.pingpong++;
		return;
	}
	if (*budget <= 0) {
		bal.st.budget++;
		return;
	}
	if (mig_move_range(page, page + NS_PAGE_SIZE, node, NS_MIG_SYNC) > 0) {
		bal.st.moves++;
		trace_emit(NS_TR_BALANCE, page, NS_PAGE_SIZE, node, 0);
		bal.tab[i].moved_at = now;
		(*budget)--;
	}
}

struct pick {
	uint64_t from, start, end;
	uint64_t vstart, vend;	/* the VMA the slice is in */
	bool placed;
};

static int pick_cb(uint32_t vma, void *arg)
{
	struct pick *p = arg;
	struct ns_vma *v = vma_of(vma);

	if (v->obj || (v->flags & (NS_VMA_SHARED | NS_VMA_STACK | NS_VMA_GROWSDOWN)) ||
	    !(v->prot & 2 /* PROT_WRITE */) || ns_own_overlaps(v->start, v->end))
		return 0;
	p->start = v->start > p->from ? v->start : p->from;
	p->end = p->start + SLICE * NS_PAGE_SIZE < v->end ? p->start + SLICE * NS_PAGE_SIZE
							    : v->end;
	p->vstart = v->start;
	p->vend = v->end;
	p->placed = v->policy > 0;
	return 1;
}

/* The next slice of anonymous, writable, non-stack memory. */
static bool next_slice(struct pick *p)
{
	for (int round = 0; round < 2; round++) {
		p->from = bal.cursor;
		p->start = p->end = 0;
		ns_lock();
		vma_walk(ns_rt.self, p->from, ~0ULL >> 1, pick_cb, p);
		ns_unlock();
		if (p->end) {
			bal.cursor = p->end;
			return true;
		}
		bal.cursor = 0;	/* wrap round */
	}
	return false;
}

/* One period, on the service loop: what the last slice saw, then the
 * next slice. */
static void balance_tick(void)
{
	long budget = (long)((uint64_t)bal.mibps * (1 << 20) / NS_PAGE_SIZE *
			     PERIOD_NS / 1000000000ULL);
	struct pick p;
	uint64_t page, now;
	int node;

	uffd_sample_disarm();
	now = sys_now_ns();
	bal.candidates = 0;
	while (uffd_sampled(&page, &node))
		consider(page, node, now, &budget);
	/* A second look at a slice with candidates, once (picked again from
	 * the shadow: the program may have unmapped it); else the next. */
	bal.again = bal.candidates && !bal.again && bal.last;
	if (bal.again)
		bal.cursor = bal.last;
	if (next_slice(&p)) {
		bal.last = p.start;
		uffd_sample_arm(p.vstart, p.vend, p.start, p.end, p.placed);
	}
}

int balance_start(unsigned mibps)
{
	int r;

	if ((r = uffd_start_open()) < 0)
		return r;
	if (!uffd_has_wp())
		return -EOPNOTSUPP;
	ns_exclude(&bal, sizeof(bal));	/* our own table is not sampled */
	bal.mibps = mibps ? mibps : 64;
	if ((r = loop_timer(PERIOD_NS, PERIOD_NS, balance_tick)) < 0 ||
	    (r = loop_start()) < 0)
		return r;
	bal.running = 1;
	return 0;
}

bool balance_active(void)
{
	return bal.running;
}

void balance_stats(struct ns_balance_stats *out)
{
	*out = bal.st;
}
