/* SPDX-License-Identifier: MIT */
/*
 * region.c - the monitor's region table: the ranges it places, each with
 * its policy, sorted by address; and the ranges the kernel places (noted
 * only), whose edges still bound a fault-around window.  The hooks edit
 * it (registering a range with userfaultfd first), the monitor thread
 * looks a fault up in it and follows the kernel's UNMAP and REMAP events.
 *
 * Locking: table_busy, a spinlock of its own, held for one edit or one
 * lookup, never across a fault or a wait (the table lives in our own
 * memory, never registered); after the family lock, which the monitor
 * never takes (the lock tree: arena.c).
 */
#include <errno.h>
#include <sys/ioctl.h>
#include "monitor.h"
#include "sys.h"

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
	mon.table_gen++;
	__atomic_store_n(&mon.table_busy, 0, __ATOMIC_RELEASE);
}

static void table_apply(uint64_t start, uint64_t end, int policy)
{
	struct region_ev ev = { start, end, policy, 0 };

	table_lock();
	region_apply(&ev);
	table_unlock();
}

/* The index of the region holding addr, -1 if none; table lock held. */
static int region_at(uint64_t addr)
{
	int i = region_search(addr);

	return i < mon.nreg && mon.reg[i].start <= addr ? i : -1;
}

/* Copies the region holding addr into *out; false when none holds it -
 * or when the lock stays taken for 10 ms: a hook's edit interrupted by a
 * signal whose handler touches a registered page waits for this very
 * lookup, which serves that page without a policy instead (the kernel's
 * choice), failing open.  While the same holder keeps it (no release
 * since), the next lookups give up at once: a handler that runs on and
 * on would otherwise pay 10 ms a page.  The monitor's only way in. */
bool region_find(uint64_t addr, struct region *out)
{
	uint32_t gen = __atomic_load_n(&mon.table_gen, __ATOMIC_ACQUIRE);
	uint64_t until = 0;

	for (unsigned spins = 0; __atomic_exchange_n(&mon.table_busy, 1, __ATOMIC_ACQUIRE);
	     spins++) {
		if (gen == mon.stuck_gen && !spins)
			return false;
		__builtin_ia32_pause();
		if (spins % 1024)
			continue;
		uint64_t now = sys_now_ns();
		if (!until) {
			until = now + 10 * 1000 * 1000;
		} else if (now > until) {
			mon.stuck_gen = gen;
			return false;
		}
	}
	int i = region_at(addr);
	if (i >= 0)
		*out = mon.reg[i];
	table_unlock();
	return i >= 0;
}

/* [start, end) registered for missing-page faults; 0 or -errno.  Not
 * before the monitor thread exists: nobody would serve the faults. */
static int register_missing(uint64_t start, uint64_t end)
{
	struct uffdio_register reg = { .range = { start, end - start },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };

	int fd = uffd_fd();

	if (fd < 0)
		return fd;
	return (int)sys_ioctl(fd, UFFDIO_REGISTER, &reg);
}

int uffd_region_add(uint64_t start, uint64_t end, int idx)
{
	int r = register_missing(start, end);

	if (r == 0)
		table_apply(start, end, idx);
	return r;
}

/* [start, end) is placed by the kernel (place.c, place()): noted only,
 * so that its edges still bound fault-around windows when it comes to the
 * monitor (uffd_region_register) after the kernel merged it with its
 * neighbours - a thread's stream filling on past the end of its own
 * region would place the next one's pages by that thread's policy. */
void uffd_region_note(uint64_t start, uint64_t end, int idx)
{
	table_apply(start, end, idx);
}

/* Registers [start, end), which may hold noted regions, under policy idx
 * where the table has none.  0 or -errno. */
int uffd_region_register(uint64_t start, uint64_t end, int idx)
{
	int r = register_missing(start, end);

	if (r < 0)
		return r;
	table_lock();
	for (uint64_t a = start; a < end;) {
		int i = region_search(a);
		if (i < mon.nreg && mon.reg[i].start <= a) {
			a = mon.reg[i].end;
			continue;
		}
		uint64_t e = i < mon.nreg && mon.reg[i].start < end ? mon.reg[i].start : end;
		struct region_ev ev = { a, e, idx, 0 };
		region_apply(&ev);
		a = e;
	}
	table_unlock();
	return 0;
}

void uffd_region_del(uint64_t start, uint64_t end)
{
	if (mon_fd >= 0)
		table_apply(start, end, -1);
}

/* mremap moved [from, from + len) to to (a REMAP event): its policy goes
 * along. */
void region_moved(uint64_t from, uint64_t to, uint64_t len)
{
	struct region_ev ev = { from, from + len, -1, 0 };

	table_lock();
	int i = region_at(from), pol = i < 0 ? -1 : mon.reg[i].policy;
	region_apply(&ev);
	if (pol >= 0) {
		ev = (struct region_ev){ to, to + len, pol, 0 };
		region_apply(&ev);
	}
	table_unlock();
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
	sys_ioctl(mon_fd, UFFDIO_UNREGISTER, &rg);
	table_apply(start, end, -1);
}
