/* SPDX-License-Identifier: MIT */
/*
 * uffd.c - the userfaultfd monitor itself: the descriptor, start, stop and
 * fork; the rings that carry the monitor's news to the hooks; and the
 * monitor thread, which reads messages in batches, handles the events
 * first, then sorts and de-duplicates the faults and hands each on: a
 * missing page to fill.c, a write to a write-protected page to wp.c.  The
 * regions it places, registered for MISSING faults: region.c.
 *
 * The monitor never calls malloc and never takes the family lock (a
 * faulting thread may hold it).  The state shared with region.c, fill.c
 * and wp.c, and how each part of it is guarded: monitor.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include "monitor.h"
#include "sys.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

int mon_fd = -1;		/* the userfaultfd, -1 when off */
static int mon_stop_fd = -1;	/* eventfd that ends the thread */
static uint64_t stop_ino;	/* its inode, to know it again */
struct monitor mon NS_BIG;

static uint32_t starting;	/* one uffd_start() at a time */
static uint32_t opening;	/* one fds_open() at a time; a leaf */
static int uffd_start_locked(void);

/* ---- the rings: the monitor's news, popped by the hooks ---- */

/* Pops the oldest entry of ring r: [start, end) and its value, where the
 * caller wants them; 1, or 0 when the ring is empty. */
static int ring_pop(struct ev_ring *r, uint64_t *start, uint64_t *end, int *val)
{
	struct region_ev e;

	if (!ring_get(r, &e))
		return 0;
	*start = e.start;
	if (end)
		*end = e.end;
	if (val)
		*val = e.policy;
	return 1;
}

/* Called by the hooks with the family lock: ranges whose pages went. */
int uffd_vanished(uint64_t *start, uint64_t *end)
{
	return ring_pop(&mon.vanish, start, end, NULL);
}

/* Called by the balancer: a sampled write's page and writer's node. */
int uffd_sampled(uint64_t *page, int *node)
{
	return ring_pop(&mon.samples, page, NULL, node);
}

/* Called by the hooks with the family lock: pages filled (or copied on a
 * write after fork) and the thread that touched them. */
int uffd_touched(uint64_t *start, uint64_t *end, int *tid)
{
	return ring_pop(&mon.touched, start, end, tid);
}

/* Called by the hooks with the family lock: a page next-touch moved. */
int uffd_moved(uint64_t *addr, int *node)
{
	return ring_pop(&mon.moved, addr, NULL, node);
}

/* ---- the monitor thread and the events ---- */

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
	switch (m->event) {
	case UFFD_EVENT_UNMAP:
		uffd_region_del(m->arg.remove.start, m->arg.remove.end);
		ns_mark_dirty_async();
		break;
	case UFFD_EVENT_REMAP:
		region_moved(m->arg.remap.from, m->arg.remap.to, m->arg.remap.len);
		ns_mark_dirty_async();
		break;
	case UFFD_EVENT_REMOVE:
		if (!ring_put(&mon.vanish, m->arg.remove.start, m->arg.remove.end, 0))
			ns_mark_dirty_async();	/* the reconcile covers it */
		break;
	default:
		break;	/* FORK is not asked for: children start their own */
	}
}

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
static bool mon_fd_ours(void)
{
	struct { uint64_t dev, ino; uint64_t rest[16]; } st;

	return sys_fstat(mon_fd, &st) == 0 && st.ino == mon.ino;
}

/* The monitor thread.  One piece, over 60 lines: one loop - read a batch
 * (spinning, then sleeping in poll), time it, handle its events, then its
 * faults - whose steps share the batch and the spin state, and whose exit
 * closes the descriptors it alone may still hold. */
static void *monitor_main(void *unused)
{
	(void)unused;
	mon.sp = (uint64_t)__builtin_frame_address(0);
	/* Every signal is blocked from the start (ns_thread_start()). */
	ns_in_runtime = 1;	/* our own mmaps pass straight through */
	/* No descriptor until a range is registered (uffd_fd()).  The
	 * count is read before the descriptor is looked at: a fork child's
	 * starts where its parent's was, and a wait for 0 would spin. */
	for (;;) {
		const struct timespec second = { 1, 0 };
		uint32_t gen = __atomic_load_n(&mon.fds_gen, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&mon_fd, __ATOMIC_ACQUIRE) >= 0 ||
		    __atomic_load_n(&mon.stop, __ATOMIC_ACQUIRE))
			break;
		if (sys_futex(&mon.fds_gen, FUTEX_WAIT_PRIVATE, gen, &second) == -ETIMEDOUT)
			ns_thread_alone();
	}
	for (;;) {
		if (__atomic_load_n(&mon.stop, __ATOMIC_ACQUIRE))
			break;
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
				if (sys_poll(pf, 2, 1000) == 0)
					ns_thread_alone();	/* idle for a second */
				if (pf[1].revents || !mon_fd_ours())
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
	if (mon_fd >= 0 && mon_fd_ours())
		sys_close(mon_fd);
	if (mon_stop_fd >= 0 && sys_fd_ino(mon_stop_fd) == stop_ino)
		sys_close(mon_stop_fd);
	__atomic_store_n(&mon.alive, 0, __ATOMIC_RELEASE);
	mon_fd = mon_stop_fd = -1;
	return NULL;
}

/* ---- start and stop ---- */

/* A userfaultfd that also serves faults the kernel takes on the program's
 * behalf (read(2) into fresh memory): UFFD_USER_MODE_ONLY would make those
 * fail with EFAULT, so it is never used. */
static long uffd_open(void)
{
	long fd = sys_userfaultfd(O_CLOEXEC | O_NONBLOCK);

	if (fd >= 0)
		return fd;
	long dev = sys_open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return fd;
	fd = sys_ioctl(dev, USERFAULTFD_IOC_NEW, (void *)(long)(O_CLOEXEC | O_NONBLOCK));
	sys_close((int)dev);
	return fd;
}

bool uffd_active(void)
{
	return mon_fd >= 0;
}

bool uffd_running(void)
{
	return __atomic_load_n(&mon.alive, __ATOMIC_ACQUIRE);
}

/* A new userfaultfd, or -errno.  *asked: the features to ask for, 0 the
 * first time (events too where the kernel has them, else faults alone),
 * then what the first one settled on; *got: what the kernel answered
 * (every feature it has, which is not what this descriptor asked). */
static long uffd_new(uint64_t *asked, uint64_t *got)
{
	static const uint64_t want[2] = {
		UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE |
		UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_PAGEFAULT_FLAG_WP,
		UFFD_FEATURE_THREAD_ID,
	};
	long fd = -ENOSYS, r = -EINVAL;

	for (int i = 0; i < 2 && r < 0; i++) {
		if (*asked && want[i] != *asked)
			continue;
		/* A descriptor takes one UFFDIO_API: a new one each try. */
		if ((fd = uffd_open()) < 0)
			return fd;
		struct uffdio_api api = { .api = UFFD_API, .features = want[i] };
		r = sys_ioctl(fd, UFFDIO_API, &api);
		if (r < 0) {
			sys_close((int)fd);
			continue;
		}
		*asked = want[i];
		*got = api.features;
	}
	return r < 0 ? r : fd;
}

/*
 * The descriptors, opened when the first range is registered rather than
 * when the monitor starts: most processes under a policy map nothing it
 * places.  Two descriptors out of the program's range sit at its soft
 * RLIMIT_NOFILE, and every fork copies the descriptor table up to the
 * highest one: 80 us a fork where that limit is 20,000.  Takes no lock
 * but its own, so any hook may call it.  The userfaultfd, or -errno
 * (-ENODEV without a monitor thread to serve it).
 */
static int fds_open(void)
{
	uint64_t asked = mon.asked, got;
	long fd, stop;

	while (__atomic_exchange_n(&opening, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
	fd = mon_fd;
	if (fd >= 0 || !__atomic_load_n(&mon.alive, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&opening, 0, __ATOMIC_RELEASE);
		return fd >= 0 ? (int)fd : -ENODEV;
	}
	fd = uffd_new(&asked, &got);
	stop = fd < 0 ? fd : sys_eventfd(0, O_CLOEXEC);
	if (stop < 0) {
		if (fd >= 0)
			sys_close((int)fd);
		__atomic_store_n(&opening, 0, __ATOMIC_RELEASE);
		return (int)stop;
	}
	fd = sys_fd_hide(fd);
	mon_stop_fd = (int)sys_fd_hide(stop);
	stop_ino = sys_fd_ino(mon_stop_fd);
	mon.ino = sys_fd_ino((int)fd);
	__atomic_store_n(&mon_fd, (int)fd, __ATOMIC_RELEASE);
	__atomic_add_fetch(&mon.fds_gen, 1, __ATOMIC_RELEASE);
	sys_futex(&mon.fds_gen, FUTEX_WAKE_PRIVATE, 1, NULL);
	__atomic_store_n(&opening, 0, __ATOMIC_RELEASE);
	return (int)fd;
}

int uffd_fd(void)
{
	int fd = __atomic_load_n(&mon_fd, __ATOMIC_ACQUIRE);

	return fd >= 0 ? fd : fds_open();
}

/* The monitor and its descriptors, opened on this thread: for a setting
 * whose work a thread of ours starts (the balancer, a timer), which would
 * open them there while the program runs - and a descriptor takes the
 * lowest free number before it is moved out of the program's range, where
 * a program listing its descriptors saw it (fd_list under --balance). */
int uffd_start_open(void)
{
	int r = uffd_start();

	if (r < 0)
		return r;
	r = uffd_fd();
	return r < 0 ? r : 0;
}

/* Starts the monitor (its descriptors wait for uffd_fd()); 0 or -errno
 * when the kernel's userfaultfd cannot serve (the caller then falls back
 * to VMA policies). */
int uffd_start(void)
{
	int r;

	while (__atomic_exchange_n(&starting, 1, __ATOMIC_ACQUIRE))
		sys_sched_yield();
	r = __atomic_load_n(&mon.alive, __ATOMIC_ACQUIRE) ? 0 : uffd_start_locked();
	__atomic_store_n(&starting, 0, __ATOMIC_RELEASE);
	return r;
}

/* One piece: the probe of what the kernel allows, the monitor's state
 * reset where a monitor ran in this image before, and the thread. */
static int uffd_start_locked(void)
{
	uint64_t asked = 0, got = 0;
	long fd, r;

	/* A monitor ran in this image before (a fork child's parent's): its
	 * state is reset; in a new image it is zero, and left untouched. */
	bool again = __atomic_load_n(&ns_fork_resets, __ATOMIC_RELAXED) & NS_FR_MON;

	ns_fork_resets_mark(NS_FR_MON);
	/* A probe: what the kernel allows is known now, and said at start-up;
	 * the descriptors themselves wait for a range (fds_open()). */
	fd = uffd_new(&asked, &got);
	if (fd < 0)
		return (int)fd;
	sys_close((int)fd);
	mon.asked = asked;
	mon.features = got & asked;
	mon.stop = 0;
	mon.stuck_gen = ~mon.table_gen;	/* never given up yet */
	if (again) {
		mon.nreg = 0;
		mon.table_busy = 0;
		mon.vanish.head = mon.vanish.tail = 0;
		mon.moved.head = mon.moved.tail = 0;
		mon.samples.head = mon.samples.tail = 0;
		mon.touched.head = mon.touched.tail = 0;
		mon.sample.start = mon.sample.end = 0;
		__builtin_memset(mon.nt, 0, sizeof(mon.nt));
		__builtin_memset(mon.cw, 0, sizeof(mon.cw));
		__builtin_memset(mon.stream, 0, sizeof(mon.stream));
		__builtin_memset(&mon.st, 0, sizeof(mon.st));
		mon.fatal = 0;
	}
	mon.cur_mode = -1;
	mon.spin_ns = 20000;
	mon.gap = 1000000;
	mon.last_batch = sys_now_ns();
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

	__atomic_store_n(&mon.stop, 1, __ATOMIC_RELEASE);
	sys_futex(&mon.fds_gen, FUTEX_WAKE_PRIVATE, 1, NULL);	/* before its descriptors */
	if (mon_stop_fd >= 0 && sys_fd_ino(mon_stop_fd) == stop_ino)
		sys_write(mon_stop_fd, &one, 8);
}

/* In the child of fork: the descriptors came along, the thread did not. */
void uffd_after_fork(void)
{
	/* Locks another thread of the parent may have held at the fork;
	 * read before written, as each write copies a page. */
	if (__atomic_load_n(&starting, __ATOMIC_RELAXED))
		__atomic_store_n(&starting, 0, __ATOMIC_RELAXED);
	if (mon.table_busy)
		mon.table_busy = 0;
	if (mon_stop_fd >= 0 && sys_fd_ino(mon_stop_fd) == stop_ino)
		sys_close(mon_stop_fd);
	if (mon_fd >= 0 && mon_fd_ours())
		sys_close(mon_fd);
	if (mon_fd >= 0 || mon_stop_fd >= 0)
		mon_stop_fd = mon_fd = -1;
	if (mon.alive)
		mon.alive = 0;
	for (int i = 0; i < mon.tids_used && i < TID_CACHE; i++)
		if (mon.tids[i].tid)
			__builtin_memset(&mon.tids[i], 0, sizeof(mon.tids[i]));
}

void uffd_stats(struct ns_fault_stats *out)
{
	*out = mon.st;
}

bool uffd_has_wp(void)
{
	return __atomic_load_n(&mon.alive, __ATOMIC_ACQUIRE) &&
	       (mon.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP);
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
		sys_sched_yield();
}
