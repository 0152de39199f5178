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
 * Errors, as CRIU sorts them: harmless (EEXIST: someone filled it; EAGAIN:
 * the mm is changing - wake the thread to fault again once we have read
 * the event; ENOENT: the region went away or the window crossed a VMA
 * edge - fill the one page), a full node (ENOMEM: fill where the kernel
 * likes), gone (ESRCH), fatal (anything else: say so once, stop placing,
 * keep waking faults).
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
	long n = sys_call(SYS_sched_getaffinity, tid, sizeof(mask), mask, 0, 0, 0);
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
	/* A new entry: claim a free slot, or one of a thread that is gone,
	 * with a compare-and-swap - two threads may look at once. */
	for (int pass = 0; slot < 0 && pass < 2; pass++)
		for (int i = 0; i < TID_CACHE && slot < 0; i++) {
			int t = __atomic_load_n(&mon.tids[i].tid, __ATOMIC_ACQUIRE);
			if (t && (pass == 0 || t < 0 ||
				  sys_call(SYS_tgkill, ns_rt.pid, t, 0, 0, 0, 0) != -ESRCH))
				continue;
			if (__atomic_compare_exchange_n(&mon.tids[i].tid, &t, -tid, false,
							__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				slot = i;
		}
	if (slot < 0)
		return;
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

/* ---- filling ---- */

/* Makes the monitor allocate as (mode, mask) asks; 0 or -errno. */
static int bind_self(int mode, uint64_t mask)
{
	long r;

	if (mode == mon.cur_mode && mask == mon.cur_mask)
		return 0;
	r = sys_call(SYS_set_mempolicy, mode, mode == MPOL_DEFAULT ? NULL : &mask,
		     mode == MPOL_DEFAULT ? 0 : 65, 0, 0, 0);
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

	r = sys_call(SYS_ioctl, mon_fd, UFFDIO_COPY, &c, 0, 0, 0);
	if (c.copy > 0)
		return c.copy / (long)NS_PAGE_SIZE;
	if (r == 0)
		return (long)n;
	return c.copy < 0 ? c.copy : r;
}

static void wake(uint64_t addr)
{
	struct uffdio_range w = { addr & ~(NS_PAGE_SIZE - 1), NS_PAGE_SIZE };

	sys_call(SYS_ioctl, mon_fd, UFFDIO_WAKE, &w, 0, 0, 0);
}

/* After copy_pages() of [a, a + len) under DONTWAKE: the waiters go. */
static void fill_wake(uint64_t a, uint64_t len)
{
	struct uffdio_range w = { a, len };

	sys_call(SYS_ioctl, mon_fd, UFFDIO_WAKE, &w, 0, 0, 0);
}

static void fatal(long err)
{
	if (!mon.fatal)
		ns_log("userfaultfd: filling a page failed (%ld); placement stops, faults are still served",
		       err);
	mon.fatal = 1;
}

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

void handle_fault(uint64_t addr, int tid)
{
	uint64_t page = addr & ~(NS_PAGE_SIZE - 1), end;
	int tnode = -1, mode = 0, node;
	const struct ns_policy *p = NULL;
	struct region r;
	uint64_t mask = 0;
	bool own = false, traced = trace_on();
	int stream = -1;
	uint64_t a = page;

	mon.st.faults++;
	if (region_find(page, &r) && !mon.fatal) {
		uint64_t win = window_for(page, &stream);
		p = policy_get(r.policy);
		end = r.end;
		if (end - page > win * NS_PAGE_SIZE)
			end = page + win * NS_PAGE_SIZE;
	} else {
		end = page + NS_PAGE_SIZE;	/* unknown: one page, no policy */
	}
	own = thread_has_policy(tid, &mode, &mask);
	if (p && !own && (p->mode == POL_LOCAL || p->mode == POL_BIND))
		tnode = thread_node(tid);

	for (; a < end;) {
		uint64_t run = 1;
		if (own) {
			run = (end - a) >> NS_PAGE_SHIFT;
			/* "Local" means the faulting thread's node, not ours. */
			if (mode == 4 /* MPOL_LOCAL */ ||
			    (mode == MPOL_PREFERRED && !mask)) {
				int tn = thread_node(tid);
				node = tn < 0 ? -1 : bind_self(MPOL_BIND, 1ULL << tn);
			} else {
				node = bind_self(mode, mask) < 0 ? -1 : 0;
			}
			if (node < 0)
				bind_self(MPOL_DEFAULT, 0);	/* not a stale binding */
		} else {
			node = p ? policy_node(p, a >> NS_PAGE_SHIFT, tnode) : -1;
			while (a + run * NS_PAGE_SIZE < end &&
			       (p ? policy_node(p, (a >> NS_PAGE_SHIFT) + run, tnode) : -1) == node)
				run++;
			if (node < 0)
				bind_self(MPOL_DEFAULT, 0);
			else
				bind_self(p->mode == POL_PREFERRED ? MPOL_PREFERRED : MPOL_BIND,
					  1ULL << node);
		}
		long r = copy_pages(a, run, traced);
		/* The window may cross a VMA edge our table does not show
		 * (mprotect splits): the faulting page alone, then. */
		if ((r == -ENOENT || r == -EINVAL) && a == page && run > 1) {
			end = page + NS_PAGE_SIZE;
			run = 1;
			r = copy_pages(a, run, traced);
		}
		/* A full node: let the kernel choose, as its own policies
		 * fall back. */
		if (r == -ENOMEM && node >= 0) {
			bind_self(MPOL_DEFAULT, 0);
			r = copy_pages(a, run, traced);
			if (r > 0)
				mon.st.fallbacks += (uint64_t)r;
			node = -1;	/* not where it was asked */
		}
		if (r > 0) {
			/* Who brought these pages in: for their descriptors. */
			ring_put(&mon.touched, a, a + ((uint64_t)r << NS_PAGE_SHIFT), tid);
			trace_emit_for(tid, NS_TR_FAULT, a, (uint64_t)r << NS_PAGE_SHIFT,
				       own ? -1 : node, trace_site_at(a));
			if (traced)
				fill_wake(a, (uint64_t)r << NS_PAGE_SHIFT);
			mon.st.pages += (uint64_t)r;
			if (node >= 0 && !own)
				mon.st.by_node[node] += (uint64_t)r;
			a += (uint64_t)r << NS_PAGE_SHIFT;
			continue;
		}
		if (r == -EEXIST) {
			if (a == page) {
				wake(page);	/* filled by someone else */
				mon.st.wakes++;
			}
			a += NS_PAGE_SIZE;	/* fault-around stops short of it */
			if (a != page + NS_PAGE_SIZE)
				break;
			continue;
		}
		/* EAGAIN: the address space is changing and the event that
		 * says how is still unread - by us.  Wake the thread: it
		 * faults again after we have read the event. */
		if (r == -EAGAIN || r == -ENOENT || r == -ESRCH) {
			wake(page);
			break;
		}
		/* Past the faulting page, any failure just ends the window. */
		if (a != page)
			break;
		mon.st.errors++;
		fatal(r);
		wake(page);
		break;
	}
	if (stream >= 0)
		mon.stream[stream].next = a > page ? a : page + NS_PAGE_SIZE;
}

/* NUMASHADOW_FAULT_AROUND: pages filled per fault; 0 or -EINVAL. */
int uffd_set_window(const char *v)
{
	uint64_t n;

	if (parse_u64(&v, MAX_WINDOW, &n) < 0 || *v || n < 1)
		return -EINVAL;
	mon.window = (unsigned)n;
	return 0;
}
