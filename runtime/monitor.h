/* SPDX-License-Identifier: MIT */
/*
 * monitor.h - the userfaultfd monitor's state, private to the four files
 * that make the monitor (no other file includes it):
 *   uffd.c  the monitor itself: the descriptor, start, stop and fork, the
 *           rings, the thread's loop and the events;
 *   region.c the table of regions it places, and their registration;
 *   fill.c  first-touch filling (handle_fault), and where threads run;
 *   wp.c    write protection (handle_wp): holds, COW watch, next-touch,
 *           write sampling.
 *
 * Locking (the whole tree: arena.c): the region table (reg[], nreg) is
 * guarded by a spinlock of its own, table_busy, held for one edit or one
 * lookup and never across a fault or a wait; it comes after the family
 * lock, which the monitor never takes.  The rings have one producer and one consumer each and no lock.
 * held[] and sample.end are published with release stores; next-touch,
 * COW-watch and sample ranges are written before the range is
 * write-protected, so before any fault there.  Each field below says who
 * writes it; where it says nothing, it is the monitor thread's alone.
 */
#ifndef NS_MONITOR_H
#define NS_MONITOR_H

#include <linux/userfaultfd.h>
#include "internal.h"

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

static inline bool ring_put(struct ev_ring *r, uint64_t start, uint64_t end, int val)
{
	uint32_t h = r->head;

	if (h - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) >= RING)
		return false;
	r->ev[h % RING] = (struct region_ev){ start, end, val, 0 };
	__atomic_store_n(&r->head, h + 1, __ATOMIC_RELEASE);
	return true;
}

static inline bool ring_get(struct ev_ring *r, struct region_ev *out)
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

/* A write-protected range: a hold, a next-touch or a COW-watched range. */
struct mon_range {
	uint64_t start, end;	/* [start, end); end 0: a free slot */
};

/* Outside the big zero-initialised struct, which stays out of the file. */
extern int mon_fd;		/* the userfaultfd, -1 when off */

extern struct monitor {
	uint64_t features;	/* what UFFDIO_API gave us, of what we asked */
	uint64_t asked;		/* what we asked (the probe's, kept for
				 * the descriptor opened later) */
	uint64_t ino;		/* the userfaultfd's inode, to know it again */
	unsigned window;	/* pages per fault, NUMASHADOW_FAULT_AROUND;
				 * 0: adaptive (streams below) */
	uint32_t table_busy;	/* spinlock of reg[]/nreg (see table_lock) */
	uint32_t table_gen;	/* table_busy: one more at each release */
	uint32_t stuck_gen;	/* the monitor's: table_gen when it last gave
				 * up waiting for table_busy (region_find) */
	uint32_t alive;		/* the thread exists: ranges may be registered
				 * (set by uffd_start() under starting) */
	int tids_used;		/* tids[] slots ever claimed (a fork child
				 * clears no more) */
	uint32_t fds_gen;	/* one more when the descriptors open: the
				 * monitor waits for them on this futex */
	uint32_t stop;		/* uffd_stop() asked the monitor to end */
	/* Pages the kernel dropped behind the hooks' back (EVENT_REMOVE). */
	struct ev_ring vanish;
	struct region reg[MAX_REGIONS];	/* table_busy */
	int nreg;			/* table_busy */
	struct uffd_msg msg[BATCH];
	int cur_node;		/* what the monitor's mempolicy binds to */
	int cur_mode;
	uint64_t cur_mask;
	/* Threads' own policies: a slot claimed by compare-and-swap, then
	 * written by its thread alone. */
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
	struct mon_range held[8];	/* ranges in flight: the engine's
					 * (engine lock), end published */
	struct mon_range nt[64];	/* next-touch ranges: ns_next_touch()'s
					 * callers, under no lock */
	struct mon_range cw[64];	/* COW-watched ranges: family lock */
	/* Pages next-touch moved: the hooks give the shadow the new node. */
	struct ev_ring moved;
	/* Write sampling for the balancer: the range armed now (written
	 * by the loop thread alone), and what was seen (page, writer's
	 * node), monitor to balancer. */
	struct { uint64_t start, end, vstart, vend; bool placed; } sample;
	struct ev_ring samples;
	/* Pages filled, with the thread that faulted: monitor to hooks. */
	struct ev_ring touched;
	int fatal;		/* stopped placing after a fatal error */
	struct ns_fault_stats st;
	char zero[MAX_WINDOW * NS_PAGE_SIZE] __attribute__((aligned(4096)));
} mon;

/* uffd.c: the userfaultfd, opened now if the monitor has none yet, or
 * -errno (-ENODEV without a monitor). */
int uffd_fd(void);

/* region.c: copies the region holding addr into *out, under the table
 * lock; false when no region holds it. */
bool region_find(uint64_t addr, struct region *out);
/* region.c: the kernel moved a range (the monitor's REMAP event). */
void region_moved(uint64_t from, uint64_t to, uint64_t len);

/* fill.c: fills a missing-page fault of thread tid at addr. */
void handle_fault(uint64_t addr, int tid);
/* fill.c: the node thread tid runs on, -1 when unknown. */
int thread_node(int tid);

/* wp.c: serves a write-protect fault of thread tid at addr. */
void handle_wp(uint64_t addr, int tid);

#endif
