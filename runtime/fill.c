/* SPDX-License-Identifier: MIT */
/*
 * fill.c - first-touch filling: the monitor serves a missing-page fault by
 * filling a window of pages with UFFDIO_COPY from a zeroed buffer
 * (fault-around: within the region, never over present pages), each run of
 * pages on the node the policy picks; and where the faulting thread runs,
 * and its own policy, which those picks need.
 *
 * UFFDIO_COPY allocates under the filling thread's mempolicy - the
 * monitor's - unless the region has a VMA policy of its own (the program's
 * mbind), which the kernel applies first.  So the monitor binds itself to
 * the chosen node before each run of pages, and a faulting thread's own
 * set_mempolicy(), recorded by the syscall wrapper, replaces numashadow's
 * choice for that thread.  Order: the program's VMA policy, then the
 * faulting thread's policy, then numashadow's rule, then numashadow's
 * default.
 *
 * A fault is served in three steps: plan (plan_fault(), plan_run(): which
 * pages, which node, the window), fill (fill_window(), copy_run(): the
 * UFFDIO_COPY calls), and between them classify (fill_classify(): the one
 * place each answer is sorted, as CRIU sorts them: harmless (EEXIST:
 * someone filled it; EAGAIN: the mm is changing - wake the thread to fault
 * again once we have read the event; ENOENT: the region went away or the
 * window crossed a VMA edge - fill the one page), a full node (ENOMEM:
 * fill where the kernel likes), gone (ESRCH), fatal (anything else: say so
 * once, stop placing, keep waking faults).
 *
 * Locking: everything here runs on the monitor thread, but for
 * uffd_thread_policy() (each thread writes its own entry, slots claimed by
 * compare-and-swap) and uffd_set_window() (once, at start-up).  The region
 * lookup takes the table lock for the lookup alone (region_find()); the
 * family lock is never taken, and nothing here calls malloc.
 */
#include <errno.h>
#include <numaif.h>
#include <sys/ioctl.h>
#include "monitor.h"
#include "parse.h"
#include "settings.h"
#include "sys.h"

/* ---- where threads run ---- */

/* The node of thread tid: the one node its affinity allows, else the node
 * of the CPU it last ran on.  -1 when unknown. */
int thread_node(int tid)
{
	uint64_t online = numa_online();
	/* One node: nothing to ask (the question below reads a /proc file,
	 * whose descriptor would be a moment in the program's range). */
	if (online && !(online & (online - 1)))
		return __builtin_ctzll(online);
	uint64_t mask[16] = { 0 };
	long n = sys_sched_getaffinity(tid, sizeof(mask), mask);
	int node = -2;

	for (long w = 0; n > 0 && w < n / 8; w++)
		for (int b = 0; b < 64; b++)
			if (mask[w] >> b & 1) {
				int c = (int)(w * 64 + b), cn = numa_cpu_node(c);
				if (node == -2)
					node = cn;
				else if (node != cn)
					node = -1;
			}
	if (node >= 0)
		return node;
	/* Free to roam: where it is now, from field 39 of its stat. */
	char path[64];
	ns_fmt(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	int64_t cpu = stat_field(path, 39, NULL);
	return numa_cpu_node(cpu);
}

void uffd_thread_policy(int tid, int mode, uint64_t mask)
{
	int slot = -1;

	for (int i = 0; i < TID_CACHE && slot < 0; i++)
		if (__atomic_load_n(&mon.tids[i].tid, __ATOMIC_ACQUIRE) == tid)
			slot = i;
	if (slot < 0 && !mode)
		return;		/* back to the default: nothing to remember */
	ns_fork_resets_mark(NS_FR_MON);	/* the slots are a fork child's to clear */
	/* A new entry: claim a free slot, or one of a thread that is gone,
	 * with a compare-and-swap - two threads may look at once. */
	for (int pass = 0; slot < 0 && pass < 2; pass++)
		for (int i = 0; i < TID_CACHE && slot < 0; i++) {
			int t = __atomic_load_n(&mon.tids[i].tid, __ATOMIC_ACQUIRE);
			if (t && (pass == 0 || t < 0 ||
				  sys_tgkill(ns_rt.pid, t, 0) != -ESRCH))
				continue;
			if (__atomic_compare_exchange_n(&mon.tids[i].tid, &t, -tid, false,
							__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				slot = i;
		}
	if (slot < 0)
		return;
	for (int u = __atomic_load_n(&mon.tids_used, __ATOMIC_RELAXED); u <= slot;)
		if (__atomic_compare_exchange_n(&mon.tids_used, &u, slot + 1, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			break;
	/* Only the thread itself writes its entry; the monitor may read a
	 * torn one, which mixes this thread's old and new policy only. */
	mon.tids[slot].mode = mode;
	mon.tids[slot].mask = mask;
	__atomic_store_n(&mon.tids[slot].tid, mode ? tid : 0, __ATOMIC_RELEASE);
}

static bool thread_has_policy(int tid, int *mode, uint64_t *mask)
{
	for (int i = 0; i < TID_CACHE; i++)
		if (__atomic_load_n(&mon.tids[i].tid, __ATOMIC_ACQUIRE) == tid) {
			*mode = mon.tids[i].mode;
			*mask = mon.tids[i].mask;
			return *mode != 0;
		}
	return false;
}

/* ---- the calls a fill makes: the binding, the copy, the wake ---- */

/* Makes the monitor allocate as (mode, mask) asks; 0 or -errno. */
static int bind_self(int mode, uint64_t mask)
{
	long r;

	if (mode == mon.cur_mode && mask == mon.cur_mask)
		return 0;
	r = sys_set_mempolicy(mode, mode == MPOL_DEFAULT ? NULL : &mask,
			      mode == MPOL_DEFAULT ? 0 : 65);
	if (r < 0)
		return (int)r;
	mon.cur_mode = mode;
	mon.cur_mask = mask;
	return 0;
}

/* UFFDIO_COPY of pages [a, a + n*4K): returns pages filled (> 0) or
 * -errno for the first page.  Traced, the faulting thread is woken only
 * after its FAULT record is written (fill_wake()): woken at once, a thread
 * that exits after its last touch could take the record with it. */
static long copy_pages(uint64_t a, uint64_t n, bool dontwake)
{
	struct uffdio_copy c = { .dst = a, .src = (uint64_t)mon.zero,
				 .len = n * NS_PAGE_SIZE,
				 .mode = dontwake ? UFFDIO_COPY_MODE_DONTWAKE : 0 };
	long r;

	r = sys_ioctl(mon_fd, UFFDIO_COPY, &c);
	if (c.copy > 0)
		return c.copy / (long)NS_PAGE_SIZE;
	if (r == 0)
		return (long)n;
	return c.copy < 0 ? c.copy : r;
}

static void wake(uint64_t addr)
{
	struct uffdio_range w = { addr & ~(NS_PAGE_SIZE - 1), NS_PAGE_SIZE };

	sys_ioctl(mon_fd, UFFDIO_WAKE, &w);
}

/* After copy_pages() of [a, a + len) under DONTWAKE: the waiters go. */
static void fill_wake(uint64_t a, uint64_t len)
{
	struct uffdio_range w = { a, len };

	sys_ioctl(mon_fd, UFFDIO_WAKE, &w);
}

static void fatal(long err)
{
	if (!mon.fatal)
		ns_log("userfaultfd: filling a page failed (%ld); placement stops, faults are still served",
		       err);
	mon.fatal = 1;
}

/* ---- plan: which pages, which node, the window ---- */

/* The window for a fault at page, and the stream it belongs to. */
static unsigned window_for(uint64_t page, int *stream)
{
	int lru = 0, i = 0;
	const int n = (int)(sizeof(mon.stream) / sizeof(mon.stream[0]));

	if (mon.window) {
		*stream = -1;
		return mon.window;
	}
	for (; i < n && mon.stream[i].next != page; i++)
		if (mon.stream[i].used < mon.stream[lru].used)
			lru = i;
	if (i < n) {
		mon.stream[i].win = mon.stream[i].win * 2 < MAX_WINDOW ?
				    mon.stream[i].win * 2 : MAX_WINDOW;
	} else {
		i = lru;
		mon.stream[i].win = 1;
	}
	mon.stream[i].used = ++mon.stream_clock;
	*stream = i;
	return mon.stream[i].win;
}

/* A fault's plan: the window and what decides each page's node. */
struct fill_plan {
	uint64_t page;			/* the faulting page */
	uint64_t end;			/* the window is [page, end) */
	int tid;			/* the faulting thread */
	bool traced;			/* wake it only once its FAULT is written */
	const struct ns_policy *p;	/* the region's policy; NULL: none */
	bool own;			/* the thread's own policy replaces p: */
	int mode;			/* its mode */
	uint64_t mask;			/* and its nodes */
	int tnode;			/* the thread's node for local and bind, or -1 */
	int stream;			/* the fault-around stream; -1: fixed window */
};

/* One run of the window: pages bound for one node, and how it went. */
struct fill_run {
	uint64_t a, n;		/* [a, a + n pages) */
	int node;		/* the node asked for, -1: none or a fallback;
				 * under the thread's own policy 0 when bound */
	long r;			/* the last UFFDIO_COPY answer: pages, or -errno */
};

/* Plans a fault of thread tid at addr: the window (the faulting page and
 * the pages after it to the end of the window-sized block it is in, never
 * past the region; one page and no policy outside every region, or once
 * placement has stopped) and the policies its pages go by.  Aligned, so a
 * window never runs from one 2 MiB block into the next: threads that
 * split a region at such boundaries each get their own part placed by
 * their own faults (localalloc: on their own node). */
static void plan_fault(struct fill_plan *pl, uint64_t addr, int tid)
{
	struct region r;

	*pl = (struct fill_plan){ .page = addr & ~(NS_PAGE_SIZE - 1), .tid = tid,
				  .traced = trace_on(), .tnode = -1, .stream = -1 };
	if (region_find(pl->page, &r) && !mon.fatal) {
		uint64_t span = window_for(pl->page, &pl->stream) * NS_PAGE_SIZE;
		uint64_t block_end = (pl->page / span + 1) * span;

		pl->p = policy_get(r.policy);
		pl->end = r.end < block_end ? r.end : block_end;
	} else {
		pl->end = pl->page + NS_PAGE_SIZE;	/* unknown: one page, no policy */
	}
	pl->own = thread_has_policy(tid, &pl->mode, &pl->mask);
	if (pl->p && !pl->own && (pl->p->mode == POL_LOCAL || pl->p->mode == POL_BIND))
		pl->tnode = thread_node(tid);
}

/* Plans the run from rn->a: its length and node, and binds the monitor so
 * that UFFDIO_COPY allocates there.  Under the thread's own policy the
 * whole rest of the window is one run. */
static void plan_run(const struct fill_plan *pl, struct fill_run *rn)
{
	const struct ns_policy *p = pl->p;
	uint64_t vpn = rn->a >> NS_PAGE_SHIFT;

	rn->n = 1;
	if (pl->own) {
		rn->n = (pl->end - rn->a) >> NS_PAGE_SHIFT;
		/* "Local" means the faulting thread's node, not ours. */
		if (pl->mode == 4 /* MPOL_LOCAL */ ||
		    (pl->mode == MPOL_PREFERRED && !pl->mask)) {
			int tn = thread_node(pl->tid);
			rn->node = tn < 0 ? -1 : bind_self(MPOL_BIND, 1ULL << tn);
		} else {
			rn->node = bind_self(pl->mode, pl->mask) < 0 ? -1 : 0;
		}
		if (rn->node < 0)
			bind_self(MPOL_DEFAULT, 0);	/* not a stale binding */
		return;
	}
	rn->node = p ? policy_node(p, vpn, pl->tnode) : -1;
	while (rn->a + rn->n * NS_PAGE_SIZE < pl->end &&
	       (p ? policy_node(p, vpn + rn->n, pl->tnode) : -1) == rn->node)
		rn->n++;
	if (rn->node < 0)
		bind_self(MPOL_DEFAULT, 0);
	else
		bind_self(p->mode == POL_PREFERRED ? MPOL_PREFERRED : MPOL_BIND,
			  1ULL << rn->node);
}

/* ---- classify: what follows a UFFDIO_COPY answer ---- */

/* The rows of the table in docs/placement.md, "Errors", in its order: the
 * first that matches the answer says what follows. */
enum fill_next {
	FILL_DONE,	/* pages filled: the rest of the window from the next page */
	FILL_ALONE,	/* ENOENT or EINVAL for a run of several pages from the
			 * faulting page: the faulting page alone, then stop */
	FILL_ANYWHERE,	/* ENOMEM under a binding: again under MPOL_DEFAULT */
	FILL_RACED,	/* EEXIST at the faulting page: wake it, fill the rest */
	FILL_PRESENT,	/* EEXIST later: a present page, the window ends there */
	FILL_WAKE,	/* EAGAIN, ENOENT otherwise, ESRCH: wake the thread, stop */
	FILL_END,	/* anything else past the faulting page: stop */
	FILL_FATAL,	/* anything else: placement stops */
};

/* The retries a run may still make: the faulting page alone (for the first
 * answer only), and the kernel's choice (once, and only under a binding). */
#define MAY_ALONE 1u
#define MAY_ANYWHERE 2u

/* Sorts answer r of a copy of n pages, at_fault when they start at the
 * faulting page, may the retries left: CRIU's harmless (EEXIST, EAGAIN,
 * ENOENT), full (ENOMEM), gone (ESRCH) and fatal, in one place. */
static enum fill_next fill_classify(long r, bool at_fault, uint64_t n, unsigned may)
{
	if (r > 0)
		return FILL_DONE;
	/* The window may cross a VMA edge our table does not show
	 * (mprotect splits): the faulting page alone, then. */
	if ((r == -ENOENT || r == -EINVAL) && at_fault && n > 1 && (may & MAY_ALONE))
		return FILL_ALONE;
	/* A full node: let the kernel choose, as its own policies fall back. */
	if (r == -ENOMEM && (may & MAY_ANYWHERE))
		return FILL_ANYWHERE;
	if (r == -EEXIST)
		return at_fault ? FILL_RACED : FILL_PRESENT;
	/* EAGAIN: the address space is changing and the event that says how
	 * is still unread - by us.  Wake the thread: it faults again after we
	 * have read the event. */
	if (r == -EAGAIN || r == -ENOENT || r == -ESRCH)
		return FILL_WAKE;
	/* Past the faulting page, any failure just ends the window. */
	return at_fault ? FILL_FATAL : FILL_END;
}

/* ---- fill: the UFFDIO_COPY calls ---- */

/* Copies the run, and again as each answer asks (the faulting page alone,
 * the kernel's choice); returns what follows the last answer, rn->r. */
static enum fill_next copy_run(struct fill_plan *pl, struct fill_run *rn)
{
	unsigned may = MAY_ALONE | (rn->node >= 0 ? MAY_ANYWHERE : 0);
	bool fell_back = false;

	for (;;) {
		rn->r = copy_pages(rn->a, rn->n, pl->traced);
		enum fill_next next = fill_classify(rn->r, rn->a == pl->page, rn->n, may);
		may &= ~MAY_ALONE;
		if (next == FILL_ALONE) {
			pl->end = pl->page + NS_PAGE_SIZE;	/* the window ends there */
			rn->n = 1;
		} else if (next == FILL_ANYWHERE) {
			bind_self(MPOL_DEFAULT, 0);
			may &= ~MAY_ANYWHERE;
			fell_back = true;
			rn->node = -1;	/* not where it was asked */
		} else {
			if (fell_back && rn->r > 0)
				mon.st.fallbacks += (uint64_t)rn->r;
			return next;
		}
	}
}

/* The run's rn->r pages are in: who brought them in (for their
 * descriptors), the trace, the faulting thread woken, the counts. */
static void fill_done(const struct fill_plan *pl, const struct fill_run *rn)
{
	uint64_t len = (uint64_t)rn->r << NS_PAGE_SHIFT;

	ring_put(&mon.touched, rn->a, rn->a + len, pl->tid);
	trace_emit_for(pl->tid, NS_TR_FAULT, rn->a, len, pl->own ? -1 : rn->node,
		       trace_site_at(rn->a));
	if (pl->traced)
		fill_wake(rn->a, len);
	mon.st.pages += (uint64_t)rn->r;
	if (rn->node >= 0 && !pl->own)
		mon.st.by_node[rn->node] += (uint64_t)rn->r;
}

/* Fills the window, run by run, each answer doing what fill_classify()
 * says; returns the address the fill stopped at. */
static uint64_t fill_window(struct fill_plan *pl)
{
	struct fill_run rn = { .a = pl->page };

	while (rn.a < pl->end) {
		plan_run(pl, &rn);
		switch (copy_run(pl, &rn)) {
		case FILL_DONE:
			fill_done(pl, &rn);
			rn.a += (uint64_t)rn.r << NS_PAGE_SHIFT;
			break;
		case FILL_RACED:
			wake(pl->page);	/* filled by someone else */
			mon.st.wakes++;
			rn.a += NS_PAGE_SIZE;
			break;
		case FILL_PRESENT:
			return rn.a + NS_PAGE_SIZE;	/* fault-around stops short of it */
		case FILL_WAKE:
			wake(pl->page);
			return rn.a;
		case FILL_FATAL:
			mon.st.errors++;
			fatal(rn.r);
			wake(pl->page);
			return rn.a;
		default:	/* FILL_END; ALONE and ANYWHERE are copy_run()'s */
			return rn.a;
		}
	}
	return rn.a;
}

/* A missing-page fault of thread tid at addr: plan, fill, and the
 * fault-around stream goes on from where the fill stopped. */
void handle_fault(uint64_t addr, int tid)
{
	struct fill_plan pl;
	uint64_t a;

	mon.st.faults++;
	plan_fault(&pl, addr, tid);
	a = fill_window(&pl);
	if (pl.stream >= 0)
		mon.stream[pl.stream].next = a > pl.page ? a : pl.page + NS_PAGE_SIZE;
}

/* NUMASHADOW_FAULT_AROUND: pages filled per fault; 0 or -EINVAL. */
int uffd_set_window(const char *v)
{
	uint64_t n;

	const struct ns_setting *s = &ns_settings[NS_SET_FAULT_AROUND];

	if (parse_u64(&v, (uint64_t)s->max, &n) < 0 || *v || n < (uint64_t)s->min ||
	    n > MAX_WINDOW)
		return -EINVAL;
	mon.window = (unsigned)n;
	return 0;
}
