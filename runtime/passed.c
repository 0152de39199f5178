/* SPDX-License-Identifier: MIT */
/*
 * passed.c - calls that went straight to the kernel, past the hooks (a
 * thread already inside the runtime, a signal handler, the lock busy at a
 * fork), kept for the next reconcile: the ranges whose pages they may have
 * dropped, and the mremaps, whose moves the maps cannot show.  Any thread
 * may record (lock-free: a claimed slot); the reconcile, under the family
 * lock, replays and drains.  Below the hooks and the page learner: it
 * calls only the model (vma.c, the arena), the learner's
 * page_drop_vanished(), and the maps (a fork child settling an mremap
 * that was in the kernel at its fork).
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include "internal.h"
#include "verify.h"

/*
 * Ranges whose pages a call that went straight to the kernel may have
 * dropped (munmap, madvise, mremap, a fixed mmap).  Reconciling the VMAs
 * with /proc/self/maps cannot see them when a VMA of the same shape stands
 * there again: the shadow would keep PTEs the kernel no longer has, and a
 * fork would copy them to the child.  Any thread may add (a signal handler
 * too: no lock, a claimed slot), the reconcile under the family lock
 * drains; a full table asks for a look at the whole address space.
 */
#define NR_PASSED 32
static struct {
	uint64_t start, end;
	uint32_t state;		/* 0 free, 1 being written, 2 ready */
} passed_rng[NR_PASSED];
static uint32_t passed_overflow;

void passed_add(uint64_t start, uint64_t len)
{
	for (int i = 0; i < NR_PASSED; i++) {
		uint32_t fr = 0;
		if (!__atomic_compare_exchange_n(&passed_rng[i].state, &fr, 1, false,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		passed_rng[i].start = start & ~(NS_PAGE_SIZE - 1);
		passed_rng[i].end = NS_PAGE_ALIGN(start + len);
		__atomic_store_n(&passed_rng[i].state, 2, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(&passed_overflow, 1, __ATOMIC_RELEASE);
}

/*
 * An mremap that passed the hooks moved a VMA the kernel keeps whole: its
 * page offset (which /proc/PID/maps does not show for anonymous memory) and
 * so its pages' identity.  Reconciling from the maps would make a new VMA
 * with another offset, whose pages no relative could be found sharing.
 * So the call itself is recorded and replayed on the shadow, in order,
 * before the maps are compared (a fork child replays what came before
 * its fork: the table is copied with the rest of memory, and a call still
 * in the kernel at the fork is settled from the child's maps).
 */
#define NR_REMAPS 8
enum { RM_FREE, RM_WRITING, RM_READY, RM_IN_KERNEL };
static struct {
	uint64_t old, oldlen, newlen, new;	/* new: the result once ready */
	int flags;
	uint32_t state;		/* RM_*: written, then in the kernel, then ready */
	uint64_t seq;		/* order of the calls */
} passed_remap[NR_REMAPS];
static uint64_t remap_seq;

/* Records an mremap about to pass the hooks, before the call: a reconcile
 * meanwhile must not learn what the call is changing (remap_pending).
 * Returns its slot, or -1 when the table is full (the maps alone tell). */
int remap_begin(uint64_t old, uint64_t oldlen, uint64_t newlen, int flags,
		       uint64_t new)
{
	uint64_t seq = __atomic_add_fetch(&remap_seq, 1, __ATOMIC_ACQ_REL);

	for (int i = 0; i < NR_REMAPS; i++) {
		uint32_t fr = RM_FREE;
		if (!__atomic_compare_exchange_n(&passed_remap[i].state, &fr, RM_WRITING, false,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		passed_remap[i].old = old;
		passed_remap[i].oldlen = oldlen;
		passed_remap[i].newlen = newlen;
		passed_remap[i].new = new;
		passed_remap[i].flags = flags;
		passed_remap[i].seq = seq;
		/* Complete before the call: a fork child must know what a
		 * call in the kernel at its fork was (remap_settle()). */
		__atomic_store_n(&passed_remap[i].state, RM_IN_KERNEL, __ATOMIC_RELEASE);
		return i;
	}
	return -1;
}

void remap_end(int i, long r)
{
	if (i < 0)
		return;
	passed_remap[i].new = (uint64_t)r;
	__atomic_store_n(&passed_remap[i].state, (r < 0 && r > -4096) ? RM_FREE : RM_READY,
			 __ATOMIC_RELEASE);
}

static bool overlaps(uint64_t s, uint64_t e, uint64_t a, uint64_t len)
{
	return s < a + len && a < e;
}

/* Page offsets of ranges moved by mremaps replayed without a source in
 * the shadow, for when the maps show them (verify.c's apply_fix). */
#define NR_HINTS 8
static struct hint { uint64_t start, end, pgoff; } hints[NR_HINTS];
static unsigned hint_next;

/* Lock held.  Sets *pgoff for s if a hint covers [s, e). */
bool remap_hint(uint64_t s, uint64_t e, uint64_t *pgoff)
{
	for (int i = 0; i < NR_HINTS; i++)
		if (hints[i].start <= s && e <= hints[i].end && s < e) {
			*pgoff = hints[i].pgoff + ((s - hints[i].start) >> NS_PAGE_SHIFT);
			return true;
		}
	return false;
}

/* Does an mremap that passed the hooks change [s, e) without its record
 * replayed yet?  One still in the kernel may change anything. */
bool remap_pending(uint64_t s, uint64_t e)
{
	for (int i = 0; i < NR_REMAPS; i++) {
		uint32_t st = __atomic_load_n(&passed_remap[i].state, __ATOMIC_ACQUIRE);
		if (st == RM_WRITING || st == RM_IN_KERNEL ||
		    (st == RM_READY && (overlaps(s, e, passed_remap[i].old, passed_remap[i].oldlen) ||
					    overlaps(s, e, passed_remap[i].new, passed_remap[i].newlen))))
			return true;
	}
	return false;
}

/* Lock held: the recorded mremaps, oldest first, on our shadow. */
void remap_replay(void)
{
	for (;;) {
		int first = -1;
		for (int i = 0; i < NR_REMAPS; i++)
			if (__atomic_load_n(&passed_remap[i].state, __ATOMIC_ACQUIRE) == RM_READY &&
			    (first < 0 || passed_remap[i].seq < passed_remap[first].seq))
				first = i;
		if (first < 0)
			return;
		uint64_t old = passed_remap[first].old, new = passed_remap[first].new;
		/* Moved from where the shadow never saw a mapping (an mmap
		 * that passed too): the maps will show it at its new place,
		 * where its page offset is still the one it had - fresh
		 * anonymous memory's address, or a hint's for what moved
		 * before. */
		if (new != old && !vma_find(ns_rt.self, old)) {
			uint64_t pgoff = old >> NS_PAGE_SHIFT;
			remap_hint(old, old + NS_PAGE_SIZE, &pgoff);
			hints[hint_next++ % NR_HINTS] = (struct hint){
				new, new + NS_PAGE_ALIGN(passed_remap[first].newlen), pgoff };
		}
		vma_remap(ns_rt.self, old, passed_remap[first].oldlen,
			  passed_remap[first].newlen, passed_remap[first].flags,
			  passed_remap[first].new);
		__atomic_store_n(&passed_remap[first].state, RM_FREE, __ATOMIC_RELEASE);
	}
}

static int count_cb(uint32_t vma, void *arg)
{
	(void)vma;
	++*(int *)arg;
	return 0;
}

/* Did a call that passed the hooks unmap all of [s, e)?  (What the shadow
 * still has there is stale.) */
static bool passed_covers(uint64_t s, uint64_t e)
{
	for (int i = 0; i < NR_PASSED; i++)
		if (__atomic_load_n(&passed_rng[i].state, __ATOMIC_ACQUIRE) == 2 &&
		    passed_rng[i].start <= s && e <= passed_rng[i].end)
			return true;
	return false;
}

/* The VMA a moving mremap made, in a fork child's maps (ns_scr.kvma, nk):
 * the one private anonymous VMA of the call's new size that our shadow,
 * as it stood at the fork, has nothing of (or only what a passed call
 * unmapped).  Its start, or 0 when none or several are. */
static uint64_t remap_found(int nk, uint64_t len)
{
	uint64_t at = 0;

	for (int i = 0; i < nk; i++) {
		const struct ns_kvma *k = &ns_scr.kvma[i];
		int n = 0;

		if (k->end - k->start != len || k->ino || (k->flags & NS_VMA_SHARED) ||
		    (k->flags & ((NS_KVMA_SPECIAL | NS_KVMA_STACK | NS_KVMA_HEAP) << 8)) ||
		    arena_contains(k->start))
			continue;
		vma_walk(ns_rt.self, k->start, k->end, count_cb, &n);
		if (n && !passed_covers(k->start, k->end))
			continue;
		if (at)
			return 0;
		at = k->start;
	}
	return at;
}

static bool kvma_maps(int nk, uint64_t addr)
{
	for (int i = 0; i < nk; i++)
		if (ns_scr.kvma[i].start <= addr && addr < ns_scr.kvma[i].end)
			return true;
	return false;
}

/*
 * In a fork child, lock held: an mremap that was in the kernel at the
 * fork either moved its VMA before the child's copy of the address space
 * or after it (both hold the parent's mmap_lock for writing).  Before, the
 * child has it at its new place with its old page offset, which the maps
 * do not show: replay it.  After, or in place (no page the parent and the
 * child share moves, and the maps show the new size), forget it.  Where
 * MREMAP_MAYMOVE chose the place, the child's maps show it (remap_found).
 */
static void remap_settle(void)
{
	int nk = 0;

	for (int i = 0; i < NR_REMAPS; i++) {
		if (passed_remap[i].state != RM_IN_KERNEL)
			continue;
		if (!nk)
			nk = maps_read(0, ns_scr.kvma, MAX_KVMA, ns_scr.maps, sizeof(ns_scr.maps));
		uint64_t old = passed_remap[i].old, len = NS_PAGE_ALIGN(passed_remap[i].newlen);
		int flags = passed_remap[i].flags;
		uint64_t new = 0;

		/* With MREMAP_DONTUNMAP the old range stays: the maps cannot
		 * tell; nor can they when we could not read them. */
		if (nk > 0 && !(flags & MREMAP_DONTUNMAP) && !kvma_maps(nk, old))
			new = (flags & MREMAP_FIXED) ? passed_remap[i].new : remap_found(nk, len);
		if (new && new != old) {
			/* The kernel found new free: what the shadow has there
			 * is stale, and goes as under MREMAP_FIXED. */
			passed_remap[i].new = new;
			passed_remap[i].flags |= MREMAP_FIXED;
			passed_remap[i].state = RM_READY;
			ns_rt.dirty = 1;
		} else {
			passed_remap[i].state = RM_FREE;
		}
	}
}

/* In a fork child, lock held: a slot being written at the fork will never
 * be; an mremap in the kernel at the fork is settled from our maps. */
void passed_after_fork(void)
{
	for (int i = 0; i < NR_REMAPS; i++)
		if (passed_remap[i].state == RM_WRITING)
			passed_remap[i].state = RM_FREE;
	remap_settle();
	for (int i = 0; i < NR_PASSED; i++)
		if (passed_rng[i].state == 1) {
			passed_rng[i].state = 0;
			passed_overflow = 1;
			ns_rt.dirty = 1;
		}
}

/* Lock held: the pages of what passed, as the kernel has them now. */
void passed_drain(void)
{
	if (__atomic_exchange_n(&passed_overflow, 0, __ATOMIC_ACQ_REL)) {
		for (int i = 0; i < NR_PASSED; i++)
			if (__atomic_load_n(&passed_rng[i].state, __ATOMIC_ACQUIRE) == 2)
				__atomic_store_n(&passed_rng[i].state, 0, __ATOMIC_RELEASE);
		page_drop_vanished(ns_rt.self, 0, ~0ULL);
		return;
	}
	for (int i = 0; i < NR_PASSED; i++) {
		if (__atomic_load_n(&passed_rng[i].state, __ATOMIC_ACQUIRE) != 2)
			continue;
		uint64_t s = passed_rng[i].start, e = passed_rng[i].end;
		__atomic_store_n(&passed_rng[i].state, 0, __ATOMIC_RELEASE);
		page_drop_vanished(ns_rt.self, s, e);
	}
}
