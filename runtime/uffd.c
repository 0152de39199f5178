/* SPDX-License-Identifier: MIT */
/*
 * uffd.c - the userfaultfd monitor: first-touch placement by policy.
 *
 * Regions the program maps after start-up (anonymous, private, not thread
 * stacks) and that a policy covers are registered for MISSING faults.  One
 * monitor thread per process reads fault messages in batches, sorts and
 * de-duplicates them, and fills each fault with UFFDIO_COPY from a zeroed
 * buffer, a window of pages at a time (fault-around: within the region,
 * never over present pages).  UFFDIO_COPY allocates under the filling
 * thread's mempolicy - the monitor's - unless the region has a VMA policy
 * of its own (the program's mbind), which the kernel applies first.  So the
 * monitor binds itself to the chosen node before each run of pages, and a
 * faulting thread's own set_mempolicy(), recorded by the syscall wrapper,
 * replaces numashadow's choice for that thread.  Order: the program's VMA
 * policy, then the faulting thread's policy, then numashadow's rule, then
 * numashadow's default.
 *
 * The monitor never calls malloc and never takes the family lock (a
 * faulting thread may hold it): the hooks keep the sorted region table it
 * reads under a spinlock of its own, held for an edit or a lookup only.
 *
 * Errors, as CRIU sorts them: harmless (EEXIST: someone filled it; EAGAIN:
 * the mm is changing - wake the thread to fault again once we have read
 * the event; ENOENT: the region went away or the window crossed a VMA
 * edge - fill the one page), a full node (ENOMEM: fill where the kernel
 * likes), gone (ESRCH), fatal (anything else: say so once, stop placing,
 * keep waking faults).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <numaif.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include "internal.h"
#include "parse.h"
#include "sys.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define RING 4096		/* region events in flight */
#define MAX_REGIONS 65536
#define BATCH 64		/* messages per read */
#define MAX_WINDOW 512		/* pages per fault, at most */
#define TID_CACHE 256

struct region_ev {
	uint64_t start, end;	/* [start, end) */
	int32_t policy;		/* index for policy_get(), or -1: delete */
	uint32_t pad;
};

/* News from the monitor (its one producer) to a hook holding the family
 * lock (its one consumer): the monitor never waits, a full ring drops. */
struct ev_ring {
	struct region_ev ev[RING];
	uint32_t head, tail;
};

static bool ring_put(struct ev_ring *r, uint64_t start, uint64_t end, int val)
{
	uint32_t h = r->head;

	if (h - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) >= RING)
		return false;
	r->ev[h % RING] = (struct region_ev){ start, end, val, 0 };
	__atomic_store_n(&r->head, h + 1, __ATOMIC_RELEASE);
	return true;
}

static bool ring_get(struct ev_ring *r, struct region_ev *out)
{
	uint32_t t = r->tail;

	if (t == __atomic_load_n(&r->head, __ATOMIC_ACQUIRE))
		return false;
	*out = r->ev[t % RING];
	__atomic_store_n(&r->tail, t + 1, __ATOMIC_RELEASE);
	return true;
}

struct region {
	uint64_t start, end;
	int policy;
};

/* Outside the big zero-initialised struct, which stays out of the file. */
static int mon_fd = -1;		/* the userfaultfd, -1 when off */
static int mon_stop_fd = -1;	/* eventfd that ends the thread */
static uint64_t stop_ino;	/* its inode, to know it again */

static struct monitor {
	uint64_t features;	/* what UFFDIO_API gave us */
	uint64_t ino;		/* the userfaultfd's inode, to know it again */
	unsigned window;	/* pages per fault, NUMASHADOW_FAULT_AROUND;
				 * 0: adaptive (streams below) */
	uint32_t table_busy;	/* spinlock of reg[]/nreg (see table_lock) */
	/* Pages the kernel dropped behind the hooks' back (EVENT_REMOVE). */
	struct ev_ring vanish;
	/* Monitor-private from here. */
	struct region reg[MAX_REGIONS];
	int nreg;
	struct uffd_msg msg[BATCH];
	int cur_node;		/* what the monitor's mempolicy binds to */
	int cur_mode;
	uint64_t cur_mask;
	struct { int tid, node, mode; uint64_t mask; } tids[TID_CACHE];
	uint64_t spin_ns;	/* adaptive spin before sleeping */
	uint64_t last_batch;	/* when the last batch arrived (ns) */
	uint32_t reads, done;	/* batches read, and handled (uffd_quiesce) */
	uint64_t gap;		/* running mean of the gap between batches */
	uint64_t sp;		/* the monitor's stack, roughly (see uffd_hold) */
	/* Fault-around as the kernel's readahead: a fault where a stream's
	 * last fill ended doubles its window, any other starts a stream at
	 * one page, so sparse touches fill only what they touch. */
	struct { uint64_t next; unsigned win; uint32_t used; } stream[8];
	uint32_t stream_clock;
	struct { uint64_t start, end; } held[8];	/* ranges in flight */
	struct { uint64_t start, end; } nt[64];		/* next-touch ranges */
	struct { uint64_t start, end; } cw[64];		/* COW-watched ranges */
	/* Pages next-touch moved: the hooks give the shadow the new node. */
	struct ev_ring moved;
	/* Write sampling for the balancer: the range armed now, and what
	 * was seen (page, writer's node), monitor to balancer. */
	struct { uint64_t start, end, vstart, vend; bool placed; } sample;
	struct ev_ring samples;
	/* Pages filled, with the thread that faulted: monitor to hooks. */
	struct ev_ring touched;
	int fatal;		/* stopped placing after a fatal error */
	uint32_t alive;		/* the thread exists: ranges may be registered */
	struct ns_fault_stats st;
	char zero[MAX_WINDOW * NS_PAGE_SIZE] __attribute__((aligned(4096)));
} mon;

static uint32_t starting;	/* one uffd_start() at a time */
static int uffd_start_locked(void);

/* ---- the regions ---- */

static int region_search(uint64_t addr)
{
	int lo = 0, hi = mon.nreg;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (mon.reg[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;	/* first region ending after addr */
}

static void region_apply(const struct region_ev *ev)
{
	int i = region_search(ev->start);

	/* Remove (or trim) whatever overlaps [start, end). */
	while (i < mon.nreg && mon.reg[i].start < ev->end) {
		struct region *r = &mon.reg[i];
		if (r->start < ev->start && r->end > ev->end) {
			if (mon.nreg == MAX_REGIONS)
				return;
			__builtin_memmove(r + 1, r, (size_t)(mon.nreg - i) * sizeof(*r));
			mon.nreg++;
			r->end = ev->start;
			r[1].start = ev->end;
			i++;
			break;
		}
		if (r->start < ev->start) {
			r->end = ev->start;
			i++;
		} else if (r->end > ev->end) {
			r->start = ev->end;
			break;
		} else {
			__builtin_memmove(r, r + 1, (size_t)(mon.nreg - i - 1) * sizeof(*r));
			mon.nreg--;
		}
	}
	if (ev->policy < 0 || mon.nreg == MAX_REGIONS)
		return;
	i = region_search(ev->start);
	__builtin_memmove(&mon.reg[i + 1], &mon.reg[i],
			  (size_t)(mon.nreg - i) * sizeof(mon.reg[0]));
	mon.reg[i] = (struct region){ ev->start, ev->end, ev->policy };
	mon.nreg++;
}

/* The region table is shared by the hooks (which change it) and the
 * monitor (which reads it) under a spinlock held for a table edit or a
 * lookup only: no holder ever faults or waits with it (the table lives in
 * our own memory, never registered), so neither side can stall the
 * other. */
static void table_lock(void)
{
	while (__atomic_exchange_n(&mon.table_busy, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

static void table_unlock(void)
{
	__atomic_store_n(&mon.table_busy, 0, __ATOMIC_RELEASE);
}

static void table_apply(uint64_t start, uint64_t end, int policy)
{
	struct region_ev ev = { start, end, policy, 0 };

	table_lock();
	region_apply(&ev);
	table_unlock();
}

int uffd_region_add(uint64_t start, uint64_t end, int idx)
{
	struct uffdio_register reg = { .range = { start, end - start },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	long r;

	/* Not before the monitor runs: the thread starting it may touch
	 * what it maps meanwhile (pthread_create allocates), and nobody would
	 * serve that fault. */
	if (mon_fd < 0 || !__atomic_load_n(&mon.alive, __ATOMIC_ACQUIRE))
		return -ENODEV;
	r = sys_call(SYS_ioctl, mon_fd, UFFDIO_REGISTER, &reg, 0, 0, 0);
	if (r < 0)
		return (int)r;
	table_apply(start, end, idx);
	return 0;
}

void uffd_region_del(uint64_t start, uint64_t end)
{
	if (mon_fd >= 0)
		table_apply(start, end, -1);
}

/* The hooks are about to unmap [start, end): it leaves userfaultfd first.
 * Unmapping a registered range raises an UNMAP event, which makes the
 * unmapping thread wait until the monitor has read it (a wake-up across
 * CPUs each way) and the shadow reconcile with /proc/self/maps a change
 * the hook makes itself: a one-page mmap + munmap cost 20 times the plain
 * one under a placement policy.  Where the kernel refuses (a mapping
 * userfaultfd cannot take), the event says it as before. */
void uffd_region_leave(uint64_t start, uint64_t end)
{
	struct uffdio_range rg = { start, end - start };

	if (mon_fd < 0 || !__atomic_load_n(&mon.alive, __ATOMIC_ACQUIRE))
		return;
	sys_call(SYS_ioctl, mon_fd, UFFDIO_UNREGISTER, &rg, 0, 0, 0);
	table_apply(start, end, -1);
}

/* ---- where threads run ---- */

/* The node of thread tid: the one node its affinity allows, else the node
 * of the CPU it last ran on.  -1 when unknown. */
static int thread_node(int tid)
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

static void handle_fault(uint64_t addr, int tid)
{
	uint64_t page = addr & ~(NS_PAGE_SIZE - 1), end;
	int i, tnode = -1, mode = 0, node;
	const struct ns_policy *p = NULL;
	uint64_t mask = 0;
	bool own = false, traced = trace_on();
	int stream = -1;
	uint64_t a = page;

	mon.st.faults++;
	table_lock();
	i = region_search(page);
	if (i < mon.nreg && mon.reg[i].start <= page && !mon.fatal) {
		uint64_t win = window_for(page, &stream);
		p = policy_get(mon.reg[i].policy);
		end = mon.reg[i].end;
		if (end - page > win * NS_PAGE_SIZE)
			end = page + win * NS_PAGE_SIZE;
	} else {
		end = page + NS_PAGE_SIZE;	/* unknown: one page, no policy */
	}
	table_unlock();
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

/* Non-cooperative events: the address space changed, by our hooks or by
 * something that bypassed them (an inlined syscall).  The thread that made
 * the change waits until we have read the event, and may hold the family
 * lock, so nothing here takes it: the monitor's own table follows at once;
 * the shadow is told to reconcile its VMAs with /proc/self/maps (UNMAP,
 * REMAP) or to let the dropped pages go (REMOVE; the range stays
 * registered) at the next hook - both idempotent, so events for changes
 * the hooks made themselves cost one reconcile and change nothing. */
static void handle_event(const struct uffd_msg *m)
{
	struct region_ev ev;

	switch (m->event) {
	case UFFD_EVENT_UNMAP:
		table_apply(m->arg.remove.start, m->arg.remove.end, -1);
		ns_mark_dirty_async();
		break;
	case UFFD_EVENT_REMAP: {
		uint64_t from = m->arg.remap.from, to = m->arg.remap.to;
		uint64_t len = m->arg.remap.len;
		table_lock();
		int i = region_search(from), pol = -1;
		if (i < mon.nreg && mon.reg[i].start <= from)
			pol = mon.reg[i].policy;
		ev = (struct region_ev){ from, from + len, -1, 0 };
		region_apply(&ev);
		if (pol >= 0) {
			ev = (struct region_ev){ to, to + len, pol, 0 };
			region_apply(&ev);
		}
		table_unlock();
		ns_mark_dirty_async();
		break;
	}
	case UFFD_EVENT_REMOVE:
		if (!ring_put(&mon.vanish, m->arg.remove.start, m->arg.remove.end, 0))
			ns_mark_dirty_async();	/* the reconcile covers it */
		break;
	default:
		break;	/* FORK is not asked for: children start their own */
	}
}

/* Called by the hooks with the family lock: ranges whose pages went. */
int uffd_vanished(uint64_t *start, uint64_t *end)
{
	struct region_ev e;

	if (!ring_get(&mon.vanish, &e))
		return 0;
	*start = e.start;
	*end = e.end;
	return 1;
}

static void handle_wp(uint64_t addr, int tid);

static int msg_cmp_sort(struct uffd_msg *m, int n)
{
	/* Insertion sort by address, then drop repeats: a batch is small. */
	for (int i = 1; i < n; i++) {
		struct uffd_msg t = m[i];
		int j = i;
		for (; j > 0 && m[j - 1].arg.pagefault.address > t.arg.pagefault.address; j--)
			m[j] = m[j - 1];
		m[j] = t;
	}
	int k = 0;
	for (int i = 0; i < n; i++)
		if (!k || (m[i].arg.pagefault.address & ~(NS_PAGE_SIZE - 1)) !=
			  (m[k - 1].arg.pagefault.address & ~(NS_PAGE_SIZE - 1)))
			m[k++] = m[i];
	return k;
}

/* Is mon_fd still our userfaultfd?  A program that closed it and reused
 * the number must never have its descriptor read by us. */
static bool ours(void)
{
	struct { uint64_t dev, ino; uint64_t rest[16]; } st;

	return sys_fstat(mon_fd, &st) == 0 && st.ino == mon.ino;
}

static void *monitor_main(void *unused)
{
	sigset_t all;

	(void)unused;
	mon.sp = (uint64_t)__builtin_frame_address(0);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	ns_in_runtime = 1;	/* our own mmaps pass straight through */
	for (;;) {
		long n = sys_read(mon_fd, mon.msg, sizeof(mon.msg));

		if (n == -EAGAIN) {
			/* Spin a little before sleeping: waking a sleeping
			 * monitor costs more than the fault itself. */
			uint64_t until = sys_now_ns() + mon.spin_ns;
			while (n == -EAGAIN && sys_now_ns() < until) {
				__builtin_ia32_pause();
				n = sys_read(mon_fd, mon.msg, sizeof(mon.msg));
			}
			if (n == -EAGAIN) {
				struct pollfd pf[2] = { { mon_fd, POLLIN, 0 },
							{ mon_stop_fd, POLLIN, 0 } };
				mon.st.sleeps++;
				if (sys_call(SYS_poll, pf, 2, 1000, 0, 0, 0) == 0)
					ns_thread_alone();	/* idle for a second */
				if (pf[1].revents || !ours())
					break;
				continue;
			}
		}
		if (n == -EINTR)
			continue;
		if (n <= 0)
			break;
		__atomic_add_fetch(&mon.reads, 1, __ATOMIC_SEQ_CST);
		/* Spin for about twice the usual gap between batches while
		 * faults come in a stream (a sleeping monitor makes each gap
		 * a wake-up long, so the stream shows), briefly otherwise. */
		uint64_t t = sys_now_ns(), gap = t - mon.last_batch;
		mon.last_batch = t;
		mon.gap = (mon.gap * 7 + gap) / 8;
		mon.spin_ns = mon.gap < 500000 ? (mon.gap * 2 < 200000 ? mon.gap * 2 : 200000)
					       : 2000;
		int total = (int)(n / (long)sizeof(mon.msg[0])), nf = 0;
		/* Events first, in order, and out of the batch; then the
		 * faults, sorted and de-duplicated. */
		for (int i = 0; i < total; i++)
			if (mon.msg[i].event == UFFD_EVENT_PAGEFAULT)
				mon.msg[nf++] = mon.msg[i];
			else
				handle_event(&mon.msg[i]);
		int k = msg_cmp_sort(mon.msg, nf);
		for (int i = 0; i < k; i++) {
			if (mon.msg[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)
				handle_wp(mon.msg[i].arg.pagefault.address,
					  (int)mon.msg[i].arg.pagefault.feat.ptid);
			else
				handle_fault(mon.msg[i].arg.pagefault.address,
					     (int)mon.msg[i].arg.pagefault.feat.ptid);
		}
		__atomic_store_n(&mon.done, __atomic_load_n(&mon.reads, __ATOMIC_SEQ_CST),
				 __ATOMIC_SEQ_CST);
	}
	/* Close them only while they are still ours: the program may have
	 * closed them and reused the numbers. */
	if (ours())
		sys_close(mon_fd);
	if (sys_fd_ino(mon_stop_fd) == stop_ino)
		sys_close(mon_stop_fd);
	__atomic_store_n(&mon.alive, 0, __ATOMIC_RELEASE);
	mon_fd = mon_stop_fd = -1;
	return NULL;
}

/* ---- write protection around migrations ---- */

/*
 * While the engine moves pages, it write-protects them (our migration
 * entry): a writer blocks in a WP fault until the move is done.  The
 * engine publishes what it holds; the monitor leaves WP faults in held
 * ranges alone (the engine's unprotect wakes the writer) and releases any
 * other at once.  The kernel keeps the WP bit across the move.
 */
#define MAX_HELD 8
#define MAX_NT 64
#define MAX_CW 64
#define held mon.held

/* Registers [start, end) for write-protect faults, keeping MISSING where
 * the range is placed (a new registration replaces the modes).  0 or
 * -errno. */
static int register_wp(uint64_t start, uint64_t end, bool placed)
{
	struct uffdio_register reg = { .range = { start, end - start },
				       .mode = UFFDIO_REGISTER_MODE_WP };

	if (placed)
		reg.mode |= UFFDIO_REGISTER_MODE_MISSING;
	if (!__atomic_load_n(&mon.alive, __ATOMIC_ACQUIRE))
		return -ENODEV;	/* nobody would serve the faults */
	return (int)sys_call(SYS_ioctl, mon_fd, UFFDIO_REGISTER, &reg, 0, 0, 0);
}

static bool is_held(uint64_t a)
{
	for (int i = 0; i < MAX_HELD; i++)
		if (a >= __atomic_load_n(&held[i].start, __ATOMIC_ACQUIRE) &&
		    a < __atomic_load_n(&held[i].end, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

static long wp(uint64_t start, uint64_t end, bool on)
{
	struct uffdio_writeprotect w = { .range = { start, end - start },
					 .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };

	return sys_call(SYS_ioctl, mon_fd, UFFDIO_WRITEPROTECT, &w, 0, 0, 0);
}

/* Write protection off [start, end), and its writers woken whatever the
 * kernel said: when UFFDIO_WRITEPROTECT fails (-EAGAIN while another
 * thread's munmap has an event pending) the writers would otherwise wait
 * forever, maybe one holding the family lock.  Woken, a writer whose page
 * is still protected faults again and is served then. */
static void unprotect(uint64_t start, uint64_t end)
{
	struct uffdio_range w = { start, end - start };

	if (wp(start, end, false) < 0)
		sys_call(SYS_ioctl, mon_fd, UFFDIO_WAKE, &w, 0, 0, 0);
}

static bool is_cow_watched(uint64_t a)
{
	for (int i = 0; i < MAX_CW; i++)
		if (a >= mon.cw[i].start && a < mon.cw[i].end)
			return true;
	return false;
}

/* After fork: write-protect [start, end), whose anonymous pages parent
 * and child now share, so each first write - a COW break - is seen when it
 * happens rather than at the next sync.  0 or -errno. */
int uffd_cow_watch(uint64_t start, uint64_t end, bool placed)
{
	int slot = -1;

	if (mon_fd < 0 || !(mon.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		return -EOPNOTSUPP;
	for (int i = 0; i < MAX_CW && slot < 0; i++)
		if (!mon.cw[i].end || (mon.cw[i].start == start && mon.cw[i].end == end))
			slot = i;
	if (slot < 0)
		return -ENOSPC;
	if (register_wp(start, end, placed) < 0)
		return -EINVAL;
	mon.cw[slot].start = start;
	mon.cw[slot].end = end;
	return (int)wp(start, end, true);
}

static bool is_next_touch(uint64_t a)
{
	for (int i = 0; i < MAX_NT; i++)
		if (a >= mon.nt[i].start && a < mon.nt[i].end)
			return true;
	return false;
}

/* A write to a write-protected page: a page in flight (wait for the
 * engine), a next-touch page (move it to the writer's node, then let the
 * write go on), or a leftover (let it go). */
static void handle_wp(uint64_t addr, int tid)
{
	uint64_t page = addr & ~(NS_PAGE_SIZE - 1);

	if (is_held(page)) {
		mon.st.waited++;	/* it waits; the engine's release wakes it */
		return;
	}
	if (page >= mon.sample.start && page < mon.sample.end) {
		/* A sampled write: who wrote it is all the balancer needs. */
		ring_put(&mon.samples, page, 0, thread_node(tid));
		unprotect(page, page + NS_PAGE_SIZE);
		return;
	}
	if (is_cow_watched(page)) {
		/* A write to a page shared since fork: the kernel is about to
		 * copy it for this process.  Let it, and tell the hooks, which
		 * learn the copy (in this process's anon_vma) at once. */
		mon.st.cow++;
		ring_put(&mon.touched, page, page + NS_PAGE_SIZE, tid);
		trace_emit_for(tid, NS_TR_COW, page, NS_PAGE_SIZE, -1, 0);
		unprotect(page, page + NS_PAGE_SIZE);
		return;
	}
	if (is_next_touch(page)) {
		int node = thread_node(tid), st = -1, was = -1;
		void *pp = (void *)page;
		/* move_pages(2) itself: the engine needs the family lock,
		 * which the writer may hold.  The shadow hears of the move
		 * through the moved ring.  A page already on the writer's
		 * node answers the same as a moved one: asked first, it is
		 * not counted as moved. */
		if (node >= 0 && sys_move_pages(0, 1, &pp, NULL, &was, 0) >= 0 && was != node &&
		    sys_move_pages(0, 1, &pp, &node, &st, MPOL_MF_MOVE) >= 0 &&
		    st == node) {
			mon.st.next_touch++;
			ring_put(&mon.moved, page, page + NS_PAGE_SIZE, node);
			trace_emit_for(tid, NS_TR_NEXT_TOUCH, page, NS_PAGE_SIZE, node, 0);
		}
	}
	unprotect(page, page + NS_PAGE_SIZE);	/* and wake the writer */
}

/* Arms [start, end) for next-touch: each page's next write moves it to
 * the writer's node.  Returns 0 or -errno. */
int uffd_next_touch(uint64_t start, uint64_t end, bool placed)
{
	int slot = -1;
	long r;

	if (mon_fd < 0 || !(mon.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		return -EOPNOTSUPP;
	for (int i = 0; i < MAX_NT && slot < 0; i++)
		if (!mon.nt[i].end || (mon.nt[i].start == start && mon.nt[i].end == end))
			slot = i;
	if (slot < 0)
		return -ENOSPC;
	r = register_wp(start, end, placed);
	if (r < 0)
		return (int)r;
	mon.nt[slot].start = start;
	mon.nt[slot].end = end;
	return (int)wp(start, end, true);
}

/* Puts back the registration [start, end) had before a write-protect
 * registration: none, or MISSING alone when placed.  The kernel then
 * merges the VMA with its neighbours again, as it was: a VMA left split
 * makes the program's own mremap of the whole of it fail (EFAULT). */
static void unregister_wp(uint64_t start, uint64_t end, bool placed)
{
	struct uffdio_range r = { start, end - start };
	struct uffdio_register reg = { .range = r, .mode = UFFDIO_REGISTER_MODE_MISSING };

	if (placed)
		sys_call(SYS_ioctl, mon_fd, UFFDIO_REGISTER, &reg, 0, 0, 0);
	else
		sys_call(SYS_ioctl, mon_fd, UFFDIO_UNREGISTER, &r, 0, 0, 0);
}

/* Write sampling: arm [start, end), a slice of the VMA [vstart, vend), so
 * the next write of each page is seen (0 or -errno); disarm what is left;
 * pop what was seen (1 or 0).  The whole VMA is registered, never split. */
int uffd_sample_arm(uint64_t vstart, uint64_t vend, uint64_t start, uint64_t end,
		    bool placed)
{
	long r;

	if (mon_fd < 0 || !(mon.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		return -EOPNOTSUPP;
	for (int i = 0; i < MAX_NT; i++)
		if (vstart < mon.nt[i].end && vend > mon.nt[i].start)
			return -EBUSY;	/* next-touch owns those pages */
	r = register_wp(vstart, vend, placed);
	if (r < 0)
		return (int)r;
	mon.sample.vstart = vstart;
	mon.sample.vend = vend;
	mon.sample.placed = placed;
	mon.sample.start = start;
	__atomic_store_n(&mon.sample.end, end, __ATOMIC_RELEASE);
	return (int)wp(start, end, true);
}

void uffd_sample_disarm(void)
{
	uint64_t s = mon.sample.start, e = mon.sample.end;

	if (!e)
		return;
	__atomic_store_n(&mon.sample.end, 0, __ATOMIC_RELEASE);
	mon.sample.start = 0;
	unprotect(s, e);
	unregister_wp(mon.sample.vstart, mon.sample.vend, mon.sample.placed);
}

int uffd_sampled(uint64_t *page, int *node)
{
	struct region_ev e;

	if (!ring_get(&mon.samples, &e))
		return 0;
	*page = e.start;
	*node = e.policy;
	return 1;
}

int uffd_touched(uint64_t *start, uint64_t *end, int *tid)
{
	struct region_ev e;

	if (!ring_get(&mon.touched, &e))
		return 0;
	*start = e.start;
	*end = e.end;
	*tid = e.policy;
	return 1;
}

/* Called by the hooks with the family lock: a page next-touch moved. */
int uffd_moved(uint64_t *addr, int *node)
{
	struct region_ev e;

	if (!ring_get(&mon.moved, &e))
		return 0;
	*addr = e.start;
	*node = e.policy;
	return 1;
}

/* Write-protects [start, end) for a move; placed says whether the range is
 * registered for first-touch placement already.  Returns 1 when held (to
 * be released with uffd_release()), 0 when it cannot be (not anonymous or
 * shmem, no write-protect support, no monitor). */
int uffd_hold(uint64_t start, uint64_t end, bool placed)
{
	int slot = -1;

	uint64_t me = (uint64_t)__builtin_frame_address(0);

	if (mon_fd < 0 || !(mon.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		return 0;
	/* Never the stack of a thread that must keep running for the hold
	 * to end - ours (we release it) or the monitor's (it serves the
	 * faults): a write there would wait for itself.  Both touch a few
	 * KiB around their stack pointer. */
	if ((start < me + (64 << 10) && end > me - (256 << 10)) ||
	    (mon.sp && start < mon.sp + (64 << 10) && end > mon.sp - (256 << 10)))
		return 0;
	for (int i = 0; i < MAX_HELD && slot < 0; i++)
		if (!__atomic_load_n(&held[i].end, __ATOMIC_ACQUIRE))
			slot = i;
	if (slot < 0)
		return 0;
	if (register_wp(start, end, placed) < 0)
		return 0;
	held[slot].start = start;
	__atomic_store_n(&held[slot].end, end, __ATOMIC_RELEASE);
	if (wp(start, end, true) < 0) {
		uffd_release(start, end, placed);
		return 0;
	}
	return 1;
}

/* Ends a hold: no longer held, then protection off (which wakes the
 * writers), and the range registered as it was before.  In this order: a
 * WP fault the monitor still finds held is woken by the unprotect after
 * it, and one it finds free it serves itself.  Unprotecting first left a
 * writer waiting forever whose fault came in between - a page the fork
 * path had write-protected again for COW watching, or one whose
 * unprotect had failed and only woken it. */
void uffd_release(uint64_t start, uint64_t end, bool placed)
{
	for (int i = 0; i < MAX_HELD; i++)
		if (held[i].start == start && held[i].end == end) {
			__atomic_store_n(&held[i].end, 0, __ATOMIC_RELEASE);
			held[i].start = 0;
		}
	unprotect(start, end);
	unregister_wp(start, end, placed);
}

/* ---- start and stop ---- */

/* A userfaultfd that also serves faults the kernel takes on the program's
 * behalf (read(2) into fresh memory): UFFD_USER_MODE_ONLY would make those
 * fail with EFAULT, so it is never used. */
static long uffd_open(void)
{
	long fd = sys_call(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK, 0, 0, 0, 0, 0);

	if (fd >= 0)
		return fd;
	long dev = sys_open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return fd;
	fd = sys_call(SYS_ioctl, dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK, 0, 0, 0);
	sys_close((int)dev);
	return fd;
}

bool uffd_active(void)
{
	return mon_fd >= 0;
}

/* Opens the userfaultfd and starts the monitor; 0 or -errno (the caller
 * then falls back to VMA policies). */


int uffd_start(void)
{
	int r;

	while (__atomic_exchange_n(&starting, 1, __ATOMIC_ACQUIRE))
		sys_call(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
	r = mon_fd >= 0 ? 0 : uffd_start_locked();
	__atomic_store_n(&starting, 0, __ATOMIC_RELEASE);
	return r;
}

static int uffd_start_locked(void)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_THREAD_ID };
	long fd, r;

	fd = uffd_open();
	if (fd < 0)
		return (int)fd;
	/* Events too where the kernel has them; else faults alone. */
	api.features |= UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE |
			UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	r = sys_call(SYS_ioctl, fd, UFFDIO_API, &api, 0, 0, 0);
	if (r < 0) {
		api = (struct uffdio_api){ .api = UFFD_API,
					   .features = UFFD_FEATURE_THREAD_ID };
		r = sys_call(SYS_ioctl, fd, UFFDIO_API, &api, 0, 0, 0);
	}
	if (r < 0) {
		sys_close((int)fd);
		return (int)r;
	}
	mon.features = api.features;
	fd = sys_fd_hide(fd);
	mon_fd = (int)fd;
	mon.ino = 0;
	struct { uint64_t dev, ino; uint64_t rest[16]; } st;
	if (sys_fstat(mon_fd, &st) == 0)
		mon.ino = st.ino;
	mon_stop_fd = (int)sys_fd_hide(sys_call(SYS_eventfd2, 0, O_CLOEXEC, 0, 0, 0, 0));
	stop_ino = sys_fd_ino(mon_stop_fd);
	mon.nreg = 0;
	mon.table_busy = 0;
	mon.vanish.head = mon.vanish.tail = 0;
	mon.moved.head = mon.moved.tail = 0;
	mon.samples.head = mon.samples.tail = 0;
	mon.touched.head = mon.touched.tail = 0;
	mon.sample.start = mon.sample.end = 0;
	__builtin_memset(mon.nt, 0, sizeof(mon.nt));
	__builtin_memset(mon.cw, 0, sizeof(mon.cw));
	mon.cur_mode = -1;
	__builtin_memset(mon.stream, 0, sizeof(mon.stream));
	mon.fatal = 0;
	mon.spin_ns = 20000;
	mon.gap = 1000000;
	mon.last_batch = sys_now_ns();
	__builtin_memset(&mon.st, 0, sizeof(mon.st));
	numa_cpu_nodes_read();	/* a fork child has the parent's table */
	ns_exclude(&mon, sizeof(mon));
	/* Alive once the thread exists, before it first runs: a fault in a
	 * range registered meanwhile waits for its first read, and nothing
	 * it runs before that touches a registered range (pthread_create
	 * allocated its TLS here).  Waiting for it to run cost a fork child
	 * a cross-CPU wake-up. */
	mon.alive = 1;
	r = ns_thread_start(monitor_main);
	if (r < 0) {
		mon.alive = 0;
		uffd_after_fork();	/* no thread to close them: we do */
		return (int)r;
	}
	return 0;
}

/* Stops serving: the monitor sees the event, closes the userfaultfd (which
 * unregisters every range and wakes any waiter) and ends. */
void uffd_stop(void)
{
	uint64_t one = 1;

	if (mon_stop_fd >= 0 && sys_fd_ino(mon_stop_fd) == stop_ino)
		sys_write(mon_stop_fd, &one, 8);
}

/* In the child of fork: the descriptors came along, the thread did not. */
void uffd_after_fork(void)
{
	/* Locks another thread of the parent may have held at the fork. */
	__atomic_store_n(&starting, 0, __ATOMIC_RELAXED);
	mon.table_busy = 0;
	if (mon_stop_fd >= 0 && sys_fd_ino(mon_stop_fd) == stop_ino)
		sys_close(mon_stop_fd);
	if (mon_fd >= 0 && ours())
		sys_close(mon_fd);
	mon_stop_fd = mon_fd = -1;
	mon.alive = 0;
	for (int i = 0; i < TID_CACHE; i++)	/* untouched pages stay so */
		if (mon.tids[i].tid)
			__builtin_memset(&mon.tids[i], 0, sizeof(mon.tids[i]));
}

void uffd_stats(struct ns_fault_stats *out)
{
	*out = mon.st;
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

bool uffd_has_wp(void)
{
	return mon_fd >= 0 && (mon.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP);
}

/* Waits (briefly, boundedly) until the monitor has handled every batch it
 * has read: a thread whose munmap raised an event runs on as soon as the
 * event is read, maybe before the monitor marked the shadow dirty. */
void uffd_quiesce(void)
{
	if (mon_fd < 0)
		return;
	for (int i = 0; i < 10000 &&
	     __atomic_load_n(&mon.done, __ATOMIC_SEQ_CST) !=
	     __atomic_load_n(&mon.reads, __ATOMIC_SEQ_CST); i++)
		sys_call(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
}
