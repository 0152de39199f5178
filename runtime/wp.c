/* SPDX-License-Identifier: MIT */
/*
 * wp.c - write protection: the monitor's write-protect faults, and the
 * four uses that arm them, all for present pages of private anonymous
 * memory outside stacks and the runtime's own memory (handle_wp() tries
 * them in this order):
 *   holds       the migration engine write-protects the pages it moves
 *               (our migration entry): a writer blocks in a WP fault until
 *               the move is done.  The engine publishes what it holds; the
 *               monitor leaves WP faults in held ranges alone (the engine's
 *               unprotect wakes the writer).  The kernel keeps the WP bit
 *               across the move;
 *   sampling    the balancer's slice of pages: each write is recorded with
 *               the writer's node and goes on at once;
 *   COW watch   after fork, the first write to a page still shared with
 *               the other side is a COW break the hooks learn at once;
 *   next-touch  the next write to each page moves it to the writer's node.
 * Any other WP fault is a leftover, released at once.
 *
 * Locking: the monitor reads held[] and sample.end with acquire loads,
 * against the release stores of uffd_hold(), uffd_release() and
 * uffd_sample_arm()/uffd_sample_disarm(); a next-touch, COW-watch or
 * sample range is written before its pages are write-protected, so before
 * any fault there.  No lock is taken here: the monitor never takes the
 * family lock (the writer may hold it), and never calls malloc.
 */
#include <errno.h>
#include <numaif.h>
#include <sys/ioctl.h>
#include "monitor.h"
#include "sys.h"

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
	int fd = uffd_fd();	/* -ENODEV: nobody would serve the faults */

	if (fd < 0)
		return fd;
	return (int)sys_ioctl(fd, UFFDIO_REGISTER, &reg);
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

	return sys_ioctl(mon_fd, UFFDIO_WRITEPROTECT, &w);
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
		sys_ioctl(mon_fd, UFFDIO_WAKE, &w);
}

static bool is_cow_watched(uint64_t a)
{
	for (int i = 0; i < MAX_CW; i++)
		if (a >= mon.cw[i].start && a < mon.cw[i].end)
			return true;
	return false;
}

/* Arms [start, end) in one of the n slots of set - the one holding it
 * already, or a free one - and write-protects it.  0 or -errno:
 * -EOPNOTSUPP without write protection, -ENOSPC with every slot taken,
 * else what the registration or the protection answered. */
static int arm(struct mon_range *set, int n, uint64_t start, uint64_t end, bool placed)
{
	int slot = -1;
	long r;

	if (!(mon.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP) || uffd_fd() < 0)
		return -EOPNOTSUPP;
	for (int i = 0; i < n && slot < 0; i++)
		if (!set[i].end || (set[i].start == start && set[i].end == end))
			slot = i;
	if (slot < 0)
		return -ENOSPC;
	r = register_wp(start, end, placed);
	if (r < 0)
		return (int)r;
	set[slot].start = start;
	set[slot].end = end;
	return (int)wp(start, end, true);
}

/* After fork: write-protect [start, end), whose anonymous pages parent
 * and child now share, so each first write - a COW break - is seen when it
 * happens rather than at the next sync.  0 or -errno. */
int uffd_cow_watch(uint64_t start, uint64_t end, bool placed)
{
	return arm(mon.cw, MAX_CW, start, end, placed);
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
void handle_wp(uint64_t addr, int tid)
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
	return arm(mon.nt, MAX_NT, start, end, placed);
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
		sys_ioctl(mon_fd, UFFDIO_REGISTER, &reg);
	else
		sys_ioctl(mon_fd, UFFDIO_UNREGISTER, &r);
}

/* Write sampling: arm [start, end), a slice of the VMA [vstart, vend), so
 * the next write of each page is seen (0 or -errno); disarm what is left;
 * pop what was seen (1 or 0).  The whole VMA is registered, never split. */
int uffd_sample_arm(uint64_t vstart, uint64_t vend, uint64_t start, uint64_t end,
		    bool placed)
{
	long r;

	if (!(mon.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP) || uffd_fd() < 0)
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

/* Write-protects [start, end) for a move; placed says whether the range is
 * registered for first-touch placement already.  Returns 1 when held (to
 * be released with uffd_release()), 0 when it cannot be (not anonymous or
 * shmem, no write-protect support, no monitor). */
int uffd_hold(uint64_t start, uint64_t end, bool placed)
{
	int slot = -1;

	uint64_t me = (uint64_t)__builtin_frame_address(0);

	if (!(mon.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP) || uffd_fd() < 0)
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

/* Is anything write-protected through the monitor now: a hold, a sampled
 * slice, next-touch or COW-watched ranges?  The hooks skip unregistering
 * a range nothing registered (an ioctl a munmap); one that races with a
 * new registration raises an UNMAP event, correct and slower. */
bool uffd_wp_any(void)
{
	if (__atomic_load_n(&mon.sample.end, __ATOMIC_ACQUIRE))
		return true;
	for (int i = 0; i < MAX_HELD; i++)
		if (__atomic_load_n(&held[i].end, __ATOMIC_ACQUIRE))
			return true;
	for (int i = 0; i < MAX_NT; i++)
		if (mon.nt[i].end)
			return true;
	for (int i = 0; i < MAX_CW; i++)
		if (mon.cw[i].end)
			return true;
	return false;
}
