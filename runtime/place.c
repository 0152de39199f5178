/* SPDX-License-Identifier: MIT */
/*
 * place.c - placement of the program's new anonymous regions: by the
 * monitor (userfaultfd), or by the kernel under a VMA policy for small
 * regions, dropped pages, a dormant process's regions, a fork child's
 * inherited ones and where there is no userfaultfd; the program's own
 * thread and VMA policies, which take precedence; arming next-touch.
 *
 * Locking: everything here but place_dormant() and the program's calls
 * runs with the family lock held (from the hooks, wake() and the fork
 * child); place_dormant() needs none (no shadow yet).  The program's
 * set_mempolicy() and mbind() reach the
 * kernel without it and enter() only to hand regions over; thread_policies
 * is written with atomics by any thread.  placement_by_mbind is set at
 * start-up, before the hooks are ready.
 */
#include <errno.h>
#include <numaif.h>
#include <sys/mman.h>
#include "core.h"
#include "internal.h"
#include "runtime.h"
#include "sys.h"
#include "verify.h"

int placement_by_mbind;		/* no userfaultfd: VMA policies */

/* Without userfaultfd the kernel places first touches itself, by the VMA
 * policy we give the region: the same nodes, no fault tracking. */
static int kernel_mode(const struct ns_policy *p)
{
	static const int kmode[] = { [POL_LOCAL] = 4 /* MPOL_LOCAL */,
		[POL_BIND] = MPOL_BIND, [POL_PREFERRED] = MPOL_PREFERRED,
		[POL_INTERLEAVE] = MPOL_INTERLEAVE, [POL_WEIGHTED] = 6 };
	return kmode[p->mode];
}

static uint64_t policy_mask(const struct ns_policy *p)
{
	uint64_t mask = 0;

	for (int i = 0; i < p->nnodes; i++)
		mask |= 1ULL << p->nodes[i];
	return mask;
}

static void place_by_mbind(uint64_t start, uint64_t end, const struct ns_policy *p)
{
	uint64_t mask = policy_mask(p);

	/* The kernel interleaves a huge page as one: page-by-page policies
	 * need small pages. */
	if (p->mode == POL_INTERLEAVE || p->mode == POL_WEIGHTED)
		sys_madvise((void *)start, end - start, MADV_NOHUGEPAGE);
	long r = sys_mbind(start, end - start, kernel_mode(p),
			  p->mode == POL_LOCAL ? NULL : &mask, 65, 0);
	if (r == -EINVAL && p->mode == POL_WEIGHTED)	/* before Linux 6.9 */
		sys_mbind(start, end - start, MPOL_INTERLEAVE, &mask, 65, 0);
}

/*
 * Regions below NUMASHADOW_MONITOR_FROM (2 MiB) are placed by the kernel, under the VMA
 * policy numashadow's policy maps to, rather than by the monitor: a first
 * touch served across threads costs a small region more than the batched
 * fills save it (malloc+free of 256 KiB cost 9x the plain call), and the
 * kernel chooses the same nodes (docs/placement.md, "Small regions").  Not
 * for weighted interleave (the kernel's weights are the system's), not
 * under a trace (its FAULT records are what it is for), and not once a
 * program thread has a policy of its own, which a VMA policy would
 * outrank: then the regions still the kernel's go to the monitor.  In the
 * shadow such a region's policy is negative; localalloc needs no VMA
 * policy (the kernel's default is the touching thread's node) and is not
 * marked.
 */
static int thread_policies;	/* a program thread set a policy of its own:
				 * 1, and 2 once the kernel's regions are the
				 * monitor's (kernel_regions_to_monitor) */

static bool by_kernel(uint64_t len, const struct ns_policy *p)
{
	return len < ns_opt.monitor_from && p->mode != POL_WEIGHTED && !trace_on() &&
	       !__atomic_load_n(&thread_policies, __ATOMIC_RELAXED);
}

/* The first policy index with p's content: the kernel merges neighbours
 * whose VMA policies are equal, so the shadow must see them equal too. */
static int first_equal(int idx)
{
	const struct ns_policy *p = policy_get(idx);

	for (int i = 0; i < idx; i++)
		if (!__builtin_memcmp(policy_get(i), p, sizeof(*p)))
			return i;
	return idx;
}

/* Gives [start, end) the VMA policy p maps to; true when it has one now
 * (localalloc needs none: the kernel's default is the touching thread's
 * node). */
static bool kernel_policy(uint64_t start, uint64_t end, const struct ns_policy *p)
{
	if (p->mode == POL_LOCAL)
		return false;
	/* A huge page is interleaved as one (small regions hold none). */
	if (p->mode == POL_INTERLEAVE && end - start >= (2ULL << 20))
		sys_madvise((void *)start, end - start, MADV_NOHUGEPAGE);
	return sys_mbind(start, end - start, kernel_mode(p), &(uint64_t){ policy_mask(p) },
			 65, 0) == 0;
}

/* [start, end) placed by the kernel under policy idx's VMA policy; false
 * when the kernel refused it. */
static bool kernel_place(uint64_t start, uint64_t end, int idx)
{
	if (!kernel_policy(start, end, policy_get(idx))) {
		if (policy_get(idx)->mode != POL_LOCAL)
			return false;
		/* The kernel's default: no mark, and none left of the
		 * monitor's (a new region has none to clear). */
		uint32_t v = vma_find(ns_rt.self, start);
		if (v && vma_of(v)->policy)
			vma_set_policy(ns_rt.self, start, end, 0);
		return true;
	}
	vma_set_policy(ns_rt.self, start, end, -(first_equal(idx) + 1));
	uffd_region_note(start, end, idx);
	return true;
}

/* A dormant process under a policy (runtime.c): the kernel places each new
 * region, large ones too, as it places small ones when awake.  There is no
 * shadow to note it in: wake() learns the VMA policies back from the
 * kernel (kernel_regions_learn()).  No lock. */
void place_dormant(uint64_t start, uint64_t end)
{
	const struct ns_policy *p = policy_get(policy_pick(end - start, NULL, 0));

	if (p->mode != POL_NONE)
		kernel_policy(start, end, p);
}

/* The policy whose VMA policy is (mode, mask), -1: none of ours. */
static int policy_of_kernel(int mode, uint64_t mask)
{
	for (int i = 0; i <= ns_pol.nrules; i++) {
		const struct ns_policy *p = policy_get(i);
		if (p->mode != POL_NONE && p->mode != POL_LOCAL && kernel_mode(p) == mode &&
		    policy_mask(p) == mask)
			return first_equal(i);
	}
	return -1;
}

/* Woken from dormant under a policy: the regions the kernel was placing
 * for us are found by asking it the policy of each of its anonymous VMAs
 * (the maps' lines: the shadow merges neighbours whose policies it does
 * not know yet), and marked as place() would have, so that a thread
 * policy of the program's hands them to the monitor.  A VMA policy the
 * program set itself with the same nodes is taken for ours: its pages go
 * where the program asked either way.  Lock held. */
void kernel_regions_learn(void)
{
	int nk = maps_read(0, ns_scr.kvma, MAX_KVMA, ns_scr.maps, sizeof(ns_scr.maps));

	for (int i = 0; i < nk; i++) {
		const struct ns_kvma *k = &ns_scr.kvma[i];
		uint64_t mask[2] = { 0, 0 };
		int mode = 0, idx;
		if (k->ino || k->dev || (k->flags & NS_VMA_SHARED) || (k->flags >> 8) ||
		    ns_own_overlaps(k->start, k->end) ||
		    sys_get_mempolicy_at(&mode, mask, 128, k->start) < 0 ||
		    (idx = policy_of_kernel(mode & 0xff, mask[0])) < 0)
			continue;
		vma_set_policy(ns_rt.self, k->start, k->end, -(idx + 1));
		uffd_region_note(k->start, k->end, idx);
	}
}

/* A new anonymous region: placed by policy idx (policy_pick()).  Where
 * the monitor cannot take it (a fork child that has none, see ns_fork),
 * the kernel places it too. */
void place(uint64_t start, uint64_t end, int idx)
{
	const struct ns_policy *p = policy_get(idx);

	if (p->mode == POL_NONE)
		return;
	if (placement_by_mbind) {	/* no userfaultfd at all */
		vma_set_policy(ns_rt.self, start, end, idx + 1);
		place_by_mbind(start, end, p);
		return;
	}
	if (!by_kernel(end - start, p)) {
		vma_set_policy(ns_rt.self, start, end, idx + 1);
		if (uffd_region_add(start, end, idx) == 0)
			return;
	}
	kernel_place(start, end, idx);
}

/* [start, end) of a region the monitor places under policy idx lost its
 * pages (madvise) and left userfaultfd for the call: their next touches
 * are first touches again.  A small range goes to the kernel, under the
 * rule for small regions: each touch the monitor served would cost a
 * wake-up across threads (one page dropped and written again cost 15
 * times the plain pair, bench/mmap_loop).  Else, or where the kernel
 * refuses, the monitor takes it back.  Lock held. */
void place_again(uint64_t start, uint64_t end, int idx)
{
	if (placement_by_mbind || !by_kernel(end - start, policy_get(idx)) ||
	    !kernel_place(start, end, idx))
		uffd_region_add(start, end, idx);
}

/* Regions we place, collected from the shadow's VMAs 64 at a time. */
struct kp_ctx {
	struct { uint64_t s, e; int idx; } r[64];
	int n;
	int sign;	/* 1: the monitor's (policy idx + 1), -1: the kernel's */
};

static int placed_cb(uint32_t vma, void *arg)
{
	struct kp_ctx *c = arg;
	struct ns_vma *v = vma_of(vma);

	if (v->policy * c->sign <= 0)
		return 0;
	c->r[c->n].s = v->start;
	c->r[c->n].e = v->end;
	c->r[c->n].idx = v->policy * c->sign - 1;
	return ++c->n == 64;
}

/* fn on each region of [start, end), cut to it, that the monitor (sign 1)
 * or the kernel (sign -1) places for us, by its policy index; fn may
 * change the region's policy.  Lock held. */
static void placed_each(uint64_t start, uint64_t end, int sign,
			void (*fn)(uint64_t s, uint64_t e, int idx))
{
	struct kp_ctx c = { .sign = sign };
	uint64_t at = start;

	do {
		c.n = 0;
		vma_walk(ns_rt.self, at, end, placed_cb, &c);
		for (int i = 0; i < c.n; i++)
			fn(c.r[i].s > start ? c.r[i].s : start, c.r[i].e < end ? c.r[i].e : end,
			   c.r[i].idx);
		if (c.n)
			at = c.r[c.n - 1].e;
	} while (c.n == 64 && at < end);
}

static void hand_to_kernel(uint64_t s, uint64_t e, int idx)
{
	kernel_place(s, e, idx);
}

static void hand_to_monitor(uint64_t s, uint64_t e, int idx)
{
	sys_mbind(s, e - s, MPOL_DEFAULT, NULL, 0, 0);
	vma_set_policy(ns_rt.self, s, e, idx + 1);
	uffd_region_register(s, e, idx);
}

static void given_up(uint64_t s, uint64_t e, int idx)
{
	(void)idx;
	vma_set_policy(ns_rt.self, s, e, 0);
}

/* A fork child's regions that its parent's monitor placed (the monitor
 * stayed with the parent): the kernel places their untouched pages from
 * now on, under the VMA policies ours map to, as it does small regions,
 * and the child starts no monitor of its own until it maps a large region
 * itself (ns_mmap()): most children exec or exit first, and a monitor cost
 * each a thread, two descriptors and a registration per region (a fork
 * and wait of a process with 64 MiB placed took 1.9 times the plain one).
 * False where only the monitor can place them (a trace, weighted
 * interleave, a thread policy of the program's, NUMASHADOW_MONITOR_FROM=0).
 * Lock held. */
bool monitor_regions_to_kernel(void)
{
	if (!ns_rt.place_later || trace_on() || __atomic_load_n(&thread_policies, __ATOMIC_RELAXED))
		return false;
	placed_each(0, ~0ULL, 1, hand_to_kernel);
	return true;
}

static int monitor_placed_cb(uint32_t vma, void *arg)
{
	(void)arg;
	return vma_of(vma)->policy > 0;
}

/* Does [start, end) hold a region the monitor places?  Lock held. */
bool monitor_placed(uint64_t start, uint64_t end)
{
	return vma_walk(ns_rt.self, start, end, monitor_placed_cb, NULL);
}

/* The regions the kernel places, in [start, end), handed to the monitor
 * (to_monitor) or given up because the program put a VMA policy of its
 * own there.  Lock held. */
static void kernel_regions_end(uint64_t start, uint64_t end, bool to_monitor)
{
	placed_each(start, end, -1, to_monitor ? hand_to_monitor : given_up);
}

/* The monitor, when a policy asks for placement; without userfaultfd the
 * regions get VMA policies instead, said once. */
void start_placement(void)
{
	int r;

	if (!policy_any())
		return;
	r = uffd_start();
	if (r < 0) {
		placement_by_mbind = 1;
		ns_log("userfaultfd unavailable (%d); placing pages by VMA policy (mbind) instead, without fault tracking",
		       r);
	}
}

/* ---- thread policies ---- */

/* A program thread has a policy of its own now, which the VMA policies of
 * the regions the kernel places would outrank: they go to the monitor,
 * started here if this process has none yet (a program's call, not
 * inside malloc: pthread_create may allocate). */
static void kernel_regions_to_monitor(void)
{
	if (ns_in_runtime || !ns_rt.ready || ns_rt.disabled ||
	    (__atomic_load_n(&ns_rt.dormant, __ATOMIC_SEQ_CST) && !ns_wake()) ||
	    placement_by_mbind || (!uffd_active() && uffd_start() < 0))
		return;
	if (!enter())
		return;
	kernel_regions_end(0, ~0ULL, true);
	__atomic_store_n(&thread_policies, 2, __ATOMIC_RELEASE);
	leave();
}

/* A program thread has a policy of its own (set, inherited from its
 * creator, or kept across exec).  Every such thread hands the regions the
 * kernel was placing over until it is done: one that returned while
 * another was still at it would touch its pages under their VMA
 * policies; and once done, nobody walks the VMAs again. */
static void own_policy_seen(void)
{
	if (__atomic_load_n(&thread_policies, __ATOMIC_ACQUIRE) != 2) {
		__atomic_store_n(&thread_policies, 1, __ATOMIC_SEQ_CST);
		kernel_regions_to_monitor();
	}
}

/* The program's own set_mempolicy(): passed to the kernel untouched, and
 * remembered so the monitor fills this thread's faults the same way. */
long ns_set_mempolicy(int mode, const unsigned long *mask, unsigned long maxnode)
{
	long r = sys_set_mempolicy(mode, mask, maxnode);

	if (r == 0 && policy_any()) {
		uffd_thread_policy((int)sys_gettid(), mode & 0xffff,
				   mask && maxnode ? mask[0] : 0);
		own_policy_seen();
	}
	return r;
}

/* The program's own mbind(): passed to the kernel untouched; where it
 * lands on a region the kernel was placing for numashadow, the region is
 * the program's from then on (docs/placement.md, Precedence). */
long ns_mbind(void *addr, unsigned long len, int mode, const unsigned long *mask,
	      unsigned long maxnode, unsigned flags)
{
	long r = sys_mbind((uint64_t)addr, len, mode, mask, maxnode, flags);
	uint64_t s = (uint64_t)addr;

	if (r == 0 && policy_any() && len && enter()) {
		kernel_regions_end(s, s + NS_PAGE_ALIGN(len), false);
		leave();
	}
	return r;
}

int ns_tracks_thread_policies(void)
{
	return ns_rt.ready && !ns_rt.disabled && policy_any();
}

void ns_thread_policy_inherited(void)
{
	int mode = 0;
	unsigned long mask = 0;

	if (sys_get_mempolicy(&mode, &mask, 64) == 0 && mode) {
		uffd_thread_policy((int)sys_gettid(), mode & 0xffff, mask);
		own_policy_seen();
	}
}

/* ---- next-touch ---- */

struct nt_ctx {
	uint64_t lo, hi;
	struct { uint64_t s, e; bool placed; } piece[64];
	int n;
};

static int nt_cb(uint32_t vma, void *arg)
{
	struct nt_ctx *c = arg;
	struct ns_vma *v = vma_of(vma);

	/* Anonymous private memory, stacks aside (see the engine's holds). */
	if (v->obj || (v->flags & (NS_VMA_SHARED | NS_VMA_STACK | NS_VMA_GROWSDOWN)) ||
	    c->n == 64 || ns_own_overlaps(v->start, v->end))
		return 0;
	c->piece[c->n].s = v->start > c->lo ? v->start : c->lo;
	c->piece[c->n].e = v->end < c->hi ? v->end : c->hi;
	c->piece[c->n].placed = v->policy > 0;
	c->n++;
	return 0;
}

/* Arms next-touch over the program's anonymous memory in [lo, hi). */
long ns_next_touch(uint64_t lo, uint64_t hi)
{
	struct nt_ctx c = { .lo = lo, .hi = hi, .n = 0 };
	long r = 0;

	if (!uffd_active() && uffd_start() < 0)
		return -EOPNOTSUPP;
	/* Armed under the lock, as the COW watch is: pieces armed after it
	 * was dropped could be stale by then - a program thread's mremap or
	 * munmap in between left a registration splitting a VMA (its
	 * MREMAP_DONTUNMAP of the whole then failed with EFAULT) or one that
	 * failed (EINVAL), in 1 run of 30 of remap_cycle. */
	ns_lock();
	vma_walk(ns_rt.self, lo, hi, nt_cb, &c);
	for (int i = 0; i < c.n && r >= 0; i++)
		r = uffd_next_touch(c.piece[i].s, c.piece[i].e, c.piece[i].placed);
	ns_unlock();
	return r < 0 ? r : 0;
}
