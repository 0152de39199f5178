/* SPDX-License-Identifier: MIT */
/*
 * runtime.c - the per-process runtime: options, start-up, the hooks that
 * pair each address-space syscall with its shadow update, fork and exit,
 * verify points, and the public API.
 *
 * Every hook runs "enter; syscall; update the shadow; verify; leave" with
 * the family lock held, so the shadow and the kernel agree whenever the lock
 * is free.  A hook that cannot take that path (runtime not up, a thread
 * already inside the runtime, a signal handler interrupting it, the child of
 * a vfork-like clone sharing our memory) passes the call to the kernel and
 * marks the address space dirty: the next hook reconciles the VMAs with
 * /proc/self/maps before doing anything else.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <execinfo.h>
#include <numaif.h>
#include <pthread.h>
#include <stdarg.h>
#include <time.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include "core.h"
#include "internal.h"
#include "numashadow.h"
#include "parse.h"
#include "runtime.h"
#include "sys.h"

char last_call[160];			/* the tracked call verify judges */

static int reregister_cb(uint32_t vma, void *arg);
static int monitor_placed_cb(uint32_t vma, void *arg);
static void reconcile(void);
static void cow_watch_all(void);
static void drain_monitor(void);
static int need_services;		/* an adopted child wants its socket, loop */
static void wake(void);
static bool family_ready(void);

/* ---- verify points ---- */

void ns_verify_fail(void)
{
	if (last_call[0])
		ns_log("verify: (after %s)", last_call);
	ns_log("verify: shadow differs from the kernel; exiting with status %d",
	       NS_VERIFY_EXIT);
	ns_unlock_if_mine();	/* the rest of the family goes on */
	sys_exit_group(NS_VERIFY_EXIT);
}

/* Returns the number of differences; full adds pages and the family. */
static int verify_now(bool full)
{
	int d;

	if (ns_rt.escapes)
		return 0;	/* ld.so is mapping right now: nothing to judge */
	ns_catch_up();
	uint32_t news = 1;
	if (__atomic_compare_exchange_n(&ns_arena->tainted, &news, 2, false,
					__ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
		/* Said once per family, by whoever marks it said. */
		ns_log("verify: a process died holding the family lock; what it was changing may be missing from the shadow");
	}
	/* Another thread's call may have gone straight to the kernel while
	 * we held the lock (a signal handler, a vfork child): it marked the
	 * shadow dirty.  Count quietly first; reconcile and look again
	 * before reporting. */
	d = verify_vmas_quiet(ns_rt.self);
	for (int attempt = 0; d && attempt < 3; attempt++) {
		const struct timespec pause = { 0, 20 * 1000 * 1000 };
		sys_call(SYS_nanosleep, &pause, NULL, 0, 0, 0, 0);
		ns_catch_up();
		d = verify_vmas_quiet(ns_rt.self);
	}
	if (d)
		d = verify_vmas(ns_rt.self, false);
	if (full || ns_rt.verify >= 2)
		d += verify_pages(true, ns_catch_up);
	return d;
}


void mark_dirty(void)
{
	ns_rt.dirty = 1;
	if (ns_rt.ready && ns_arena && ns_rt.self)
		proc_of(ns_rt.self)->dirty = 1;
}


/* Bring the shadow up to date with untracked changes. */

static void reconcile(void)
{
	ns_rt.dirty = 0;
	remap_replay();
	verify_vmas(ns_rt.self, true);
	passed_drain();
	proc_of(ns_rt.self)->dirty = ns_rt.escapes ? 1 : 0;
	if (ns_rt.escapes)
		ns_rt.dirty = 1;
}

/* In a fork child: the parent's threads did not come along; what they
 * served must not be used from here. */
static void child_reset(void)
{
	site_after_fork();
	if (ns_threads_after_fork())
		mark_dirty();	/* their stacks went, and the shadow lost track */
	uffd_after_fork();	/* the thread policies too: tids are the parent's */
	if (policy_any())
		ns_thread_policy_inherited();
	mig_after_fork();
	loop_after_fork();
	trace_after_fork((int)sys_getppid());
}

/* The child of a fork we did not see (only the atfork handler ran): take
 * the parent's shadow as the kernel did, then correct it from our maps. */
static void adopt(void)
{
	pid_t pid = (pid_t)sys_getpid();
	uint32_t parent = proc_find((pid_t)sys_getppid()), self;

	ns_rt.forked_unseen = 0;
	ns_rt.pid = pid;
	proc_release_pid(pid);	/* the record a dormant parent kept for us */
	self = proc_new(pid, parent);
	if (!self) {
		ns_log("arena full: shadow stops in pid %d", (int)pid);
		ns_rt.disabled = 1;
		return;
	}
	if (parent)
		mm_fork(parent, self);
	ns_rt.self = self;
	verify_vmas(self, true);
	/* The parent's monitor, engine and loop stayed with the parent. */
	child_reset();
	need_services = 1;	/* threads start outside the lock, in leave() */
}

/* Returns true when the caller may use the model (lock held).  A hook
 * does not wait for a fork in another thread (it may hold a lock the fork
 * needs); an API call, made by the program outside libc, waits. */
static bool enter_as(bool api)
{
	if (!ns_rt.ready || ns_rt.disabled)
		return false;
	if (__atomic_load_n(&ns_rt.dormant, __ATOMIC_SEQ_CST) &&
	    (!api || !family_ready()))
		return false;	/* passed() marks it */
	if (ns_in_runtime) {
		mark_dirty();
		return false;
	}
	if (sys_getpid() != ns_rt.pid && !ns_rt.forked_unseen) {
		/* A clone sharing our memory (posix_spawn's child): its
		 * changes are ours too; pick them up later. */
		ns_mark_dirty_async();
		return false;
	}
	ns_in_runtime = 1;
	/* While another thread forks, waiting could deadlock: we may hold a
	 * malloc lock its fork needs.  Go to the kernel directly; the shadow
	 * catches up by reconciling, in the parent and in the child. */
	if (!ns_lock_unless(api ? NULL : &ns_rt.in_fork)) {
		ns_mark_dirty_async();
		ns_in_runtime = 0;
		return false;
	}
	if (ns_rt.dormant)
		wake();
	else if (ns_rt.forked_unseen)
		adopt();
	if (ns_rt.disabled || proc_of(ns_rt.self)->state != NS_PROC_LIVE) {
		/* Another thread is in execve: the image is going away. */
		ns_rt.dirty = 1;
		ns_unlock();
		ns_in_runtime = 0;
		return false;
	}
	if (ns_rt.dirty || ns_rt.escapes || ns_rt.always_reconcile)
		reconcile();
	drain_monitor();
	return true;
}

bool enter(void)
{
	return enter_as(false);
}

/* Takes in every change the shadow has been told of but not applied: the
 * kernel lets a thread go on once the monitor has read the event its
 * change raised, which may be before the monitor acted on it, and calls
 * that went straight to the kernel leave the shadow dirty.  Lock held. */
void ns_catch_up(void)
{
	if (uffd_active()) {
		uffd_quiesce();
		drain_monitor();
	}
	if (ns_rt.dirty)
		reconcile();
}

/* What the monitor has told us since: pages the kernel dropped (REMOVE),
 * pages it filled and for whom, pages next-touch moved.  Lock held. */
static void drain_monitor(void)
{
	uint64_t vs, ve;
	int mn, tid;

	while (uffd_vanished(&vs, &ve))
		page_drop_vanished(ns_rt.self, vs, ve);
	while (uffd_touched(&vs, &ve, &tid)) {
		/* Learn the pages the monitor filled, and count who asked. */
		page_sync_range(ns_rt.self, vs, ve);
		report_touch(tid, (ve - vs) >> NS_PAGE_SHIFT);
	}
	while (uffd_moved(&vs, &mn)) {
		uint32_t t = pte_lookup(ns_rt.self, vs >> NS_PAGE_SHIFT);
		if (t) {
			page_of(pte_page(t))->node = mn;
			page_of(pte_page(t))->pfn = 0;
		}
	}
}

void leave(void)
{
	if (ns_rt.dirty)
		reconcile();	/* what passed us by is known, not wrong */
	if (ns_rt.verify && verify_now(false))
		ns_verify_fail();
	ns_unlock();
	ns_in_runtime = 0;
	if (need_services) {
		need_services = 0;
		start_services();
		if (policy_any() && !placement_by_mbind && uffd_start() == 0) {
			ns_in_runtime = 1;	/* a signal handler must not wait */
			ns_lock();
			vma_walk(ns_rt.self, 0, ~0ULL, reregister_cb, NULL);
			ns_unlock();
			ns_in_runtime = 0;
		}
	}
}

/* ---- fork ---- */

/*
 * Dead members are released as the kernel releases them, found by the
 * forking parent: a child that ended through exit() marked itself
 * EXITING; one that ended by _exit() or a signal did not, so every member
 * is looked at whenever the family has doubled since the last look -
 * a fork+exit loop pays O(1) per fork, and the arena's use stays flat.
 * Lock held.
 */
static void proc_reap_dead(void)
{
	static unsigned at;	/* members after the last full look */
	unsigned n = 0;
	uint32_t next;

	for (uint32_t p = ns_arena->procs; p; p = proc_of(p)->next)
		n++;
	bool all = n >= 2 * at || n >= 64 + at;
	for (uint32_t p = ns_arena->procs; p; p = next) {
		next = proc_of(p)->next;
		if (p == ns_rt.self || (!all && proc_of(p)->state != NS_PROC_EXITING))
			continue;
		if (proc_alive(p))
			continue;
		ctl_forget(proc_of(p)->pid);
		proc_release(p);
		n--;
	}
	if (all)
		at = n;
}

pid_t ns_fork(pid_t (*real_fork)(void))
{
	pid_t pid;

	/* A dormant process's child joins its family: the arena is there to
	 * share, and the child has a record, unlearned like ours, that the
	 * API asks its kernel about (numashadow_page_mappers). */
	if (__atomic_load_n(&ns_rt.dormant, __ATOMIC_SEQ_CST) && ns_rt.ready &&
	    !ns_rt.disabled && !ns_in_runtime && family_ready()) {
		/* The child's record is made before the fork, so that the
		 * child knows it at once (its own forks hang below it). */
		static uint32_t mine;	/* a dormant child's record, 0: ns_rt.self */
		ns_in_runtime = 1;
		ns_lock();
		proc_reap_dead();
		uint32_t c = proc_new(0, mine ? mine : ns_rt.self);
		if (c) {
			proc_of(c)->dirty = proc_of(c)->unlearned = 1;
			proc_of(c)->starttime = ~0ULL;	/* being born */
		}
		ns_unlock();
		pid = real_fork();
		if (pid == 0) {
			mine = c;
			ns_in_runtime = 0;
			return 0;
		}
		ns_lock();
		if (c && pid > 0) {
			proc_release_pid(pid);	/* whoever had the number is dead */
			proc_of(c)->pid = pid;
			proc_renew(c);
		} else if (c) {
			proc_release(c);
		}
		ns_unlock();
		ns_in_runtime = 0;
		return pid;
	}
	if (!enter())
		return real_fork();
	/* No page is learned here: the child shares what the kernel gave
	 * it, and whoever asks later learns it as shared (verify.c). */
	ns_rt.in_fork = 1;
	ns_lock_kick();
	pid = real_fork();
	if (pid > 0) {
		/* The child gets the shadow as it stood at the fork: nobody
		 * else changed it since (we hold the lock).  Calls of other
		 * threads that went straight to the kernel around the fork are
		 * taken in afterwards, by each process against its own maps
		 * and pages: the child cannot tell which came before the fork,
		 * so it looks at all of them (marked dirty). */
		bool passed_by = ns_rt.dirty;
		proc_reap_dead();
		ctl_forget(pid);
		proc_release_pid(pid);
		uint32_t c = proc_new(pid, ns_rt.self);
		trace_emit(NS_TR_FORK, 0, 0, -1, (uint32_t)pid);
		if (!c || mm_fork(ns_rt.self, c) < 0)
			ns_log("arena full: pid %d is not shadowed", (int)pid);
		else if (passed_by)
			proc_of(c)->dirty = 1;
		ns_rt.in_fork = 0;
		if (ns_rt.dirty)
			reconcile();
		if (c)
			cow_watch_all();
		if (ns_rt.verify && verify_now(true))
			ns_verify_fail();
		ns_unlock();
		ns_in_runtime = 0;
		return pid;
	}
	if (pid < 0) {
		ns_rt.in_fork = 0;
		leave();
		return pid;
	}
	/* Child: the parent still holds the lock while it copies our shadow;
	 * wait for it like anyone else. */
	ns_rt.in_fork = 0;
	ns_rt.pid = (pid_t)sys_getpid();
	ns_lock();
	ns_rt.self = proc_find(ns_rt.pid);
	if (!ns_rt.self) {
		ns_rt.forked_unseen = 1;
		adopt();
	} else {
		child_reset();
		/* Another thread's call went straight to the kernel around the
		 * fork: what it changed before the fork is ours too.  Recorded
		 * ranges are looked at again; a call caught half-recorded, or
		 * one the parent saw only after the fork, leaves every page
		 * unknown. */
		bool unknown = proc_of(ns_rt.self)->dirty;
		passed_after_fork();
		if (ns_rt.dirty || unknown)
			reconcile();
		if (unknown)
			page_drop_vanished(ns_rt.self, 0, ~0ULL);
	}
	if (ns_opt.corrupt_kind && !__builtin_strcmp(ns_opt.corrupt_kind, "mapper"))
		verify_corrupt(ns_opt.corrupt_kind);
	if (!ns_rt.disabled && ns_rt.verify && verify_now(true))
		ns_verify_fail();
	/* Our monitor stayed with the parent, and without EVENT_FORK the
	 * kernel unregistered our copies: start again - if we inherited a
	 * region it placed, or must see every fault (the trace), or may map
	 * a weighted one (the kernel's weights are not the policy's).
	 * Otherwise the kernel places what we map (place()) until a thread
	 * of ours sets a policy of its own: most children exec or exit
	 * first, and a monitor cost each one a thread. */
	if (!ns_rt.disabled && policy_any() && !placement_by_mbind &&
	    (trace_on() || policy_uses(POL_WEIGHTED) ||
	     vma_walk(ns_rt.self, 0, ~0ULL, monitor_placed_cb, NULL)) &&
	    uffd_start() == 0) {
		vma_walk(ns_rt.self, 0, ~0ULL, reregister_cb, NULL);
		cow_watch_all();
	}
	ns_unlock();
	ns_in_runtime = 0;
	if (!ns_rt.disabled) {
		start_services();
		if (ns_opt.balance_mibps)
			balance_start(ns_opt.balance_mibps);	/* it stayed with the parent */
	}
	return 0;
}

void ns_atfork_child(void)
{
	if (!ns_rt.in_fork)
		ns_rt.forked_unseen = 1;
}

/* ---- the timed migration ---- */

/* NUMASHADOW_MIGRATE_AFTER: the simplest real policy.  A timer of the
 * service loop, whose thread the program never sees in its results. */
static void migrate_after(void)
{
	uint64_t before[64], after[64], t0;
	char b[512], a[512];
	long r;

	report_pages_by_node(before);
	t0 = sys_now_ns();
	r = mig_move_all(ns_opt.migrate_after_node, NS_MIG_SYNC | NS_MIG_SHARED);
	t0 = sys_now_ns() - t0;
	report_pages_by_node(after);
	report_fmt_nodes(b, sizeof(b), before);
	report_fmt_nodes(a, sizeof(a), after);
	if (r < 0)
		ns_log("migrate-after: pid %d: moving to node %d failed (%ld)",
		       (int)ns_rt.pid, ns_opt.migrate_after_node, r);
	else
		ns_log("migrate-after: pid %d moved %ld pages to node %d in %lu ms; before: %s; after: %s",
		       (int)ns_rt.pid, r, ns_opt.migrate_after_node,
		       (unsigned long)(t0 / 1000000), b, a);
}

/* The control socket, and the service loop when the trace needs it (a
 * fork child has neither until it starts them). */
void start_services(void)
{
	int r;

	if (ns_opt.ctl_on && (r = ctl_start()) < 0)
		ns_log("no control socket for pid %d (%d); numashadow migrate/stat cannot reach it",
		       (int)ns_rt.pid, r);
	if (trace_on() && loop_start() < 0)
		ns_log("cannot start the service loop; the trace is written at exit only");
}

static int monitor_placed_cb(uint32_t vma, void *arg)
{
	(void)arg;
	return vma_of(vma)->policy > 0;
}

static int reregister_cb(uint32_t vma, void *arg)
{
	(void)arg;
	if (vma_of(vma)->policy > 0)
		uffd_region_add(vma_of(vma)->start, vma_of(vma)->end,
				vma_of(vma)->policy - 1);
	return 0;
}


/* NUMASHADOW_NEXT_TOUCH_AT: from then on, each page's next write moves it
 * to the writer's node. */
static void next_touch_at(void)
{
	long r = ns_next_touch(0, ~0ULL >> 1);

	if (r < 0)
		ns_log("next-touch: pid %d: cannot arm it (%ld)", (int)ns_rt.pid, r);
}

static void start_timer(uint64_t delay, void (*fn)(void), const char *what)
{
	if (loop_timer(delay, 0, fn) < 0 || loop_start() < 0)
		ns_log("cannot start the service loop; %s will not happen", what);
}

struct cw_ctx {
	struct { uint64_t s, e; bool placed; } r[64];
	int n;
};

static int cow_cb(uint32_t vma, void *arg)
{
	struct cw_ctx *c = arg;
	struct ns_vma *v = vma_of(vma);

	/* Anonymous pages that fork left shared; stacks aside (a write the
	 * monitor must see could be the monitor's own). */
	if (!v->anon_vma || (v->flags & (NS_VMA_SHARED | NS_VMA_STACK | NS_VMA_GROWSDOWN)) ||
	    !(v->prot & PROT_WRITE) || c->n == 64 || ns_own_overlaps(v->start, v->end))
		return 0;
	c->r[c->n].s = v->start;
	c->r[c->n].e = v->end;
	c->r[c->n].placed = v->policy > 0;
	c->n++;
	return 0;
}

/* After fork, with the monitor running and a trace to tell: watch the
 * shared anonymous memory for COW breaks (docs/placement.md).  Untraced,
 * copies are learned when asked, as in a process with no setting: the
 * watch cost both processes two ioctls a range and the parent a monitor
 * round trip at each first write, a fork loop 0.25 ms a fork.  Lock held. */
static void cow_watch_all(void)
{
	struct cw_ctx c = { .n = 0 };

	if (!trace_on() || !uffd_has_wp())
		return;
	vma_walk(ns_rt.self, 0, ~0ULL, cow_cb, &c);
	for (int i = 0; i < c.n; i++)
		uffd_cow_watch(c.r[i].s, c.r[i].e, c.r[i].placed);
}

static void start_policies(void)
{
	if (ns_opt.migrate_after_node >= 0)
		start_timer(ns_opt.migrate_after_ns, migrate_after, "migrate-after");
	if (ns_opt.next_touch_ns >= 0)
		start_timer((uint64_t)ns_opt.next_touch_ns, next_touch_at, "next-touch");
	int br;
	if (ns_opt.balance_mibps && (br = balance_start(ns_opt.balance_mibps)) < 0)
		ns_log("balancing unavailable (%s); running without it",
		       br == -EOPNOTSUPP ? "no userfaultfd write-protect" : "no userfaultfd");
}

/* ---- start-up and exit ---- */

/* PFN of the zero page, so a read-faulted anonymous page is known as such. */
static void find_zero_pfn(void)
{
	long p = sys_mmap(NULL, NS_PAGE_SIZE, PROT_READ,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t e = 0;
	long fd;

	if (failed(p))
		return;
	(void)*(volatile char *)p;
	fd = sys_open("/proc/thread-self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (sys_pread((int)fd, &e, 8, (off_t)(((uint64_t)p >> 12) * 8)) == 8 &&
		    (e >> 63))
			ns_zero_pfn = e & ((1ULL << 55) - 1);
		sys_close((int)fd);
	}
	sys_munmap((void *)p, NS_PAGE_SIZE);
}

static uint64_t start_brk;	/* the break at start-up */

/* The family's arena and our record in it, made once: at start-up when a
 * setting needs them, else at the first fork (the child must share the
 * arena to join the family) or API call.  False when the arena cannot be
 * made (said once; the runtime is off then). */
static bool family_ready(void)
{
	static uint32_t state;	/* 0 none, 1 being made, 2 made, 3 failed */
	uint32_t none = 0;

	if (__atomic_compare_exchange_n(&state, &none, 1, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		int ret = 0;
		if (!ns_arena) {
			/* A family's first process (one forked without our
			 * knowing before an arena existed starts its own). */
			ret = arena_create(1);
			ns_rt.pid = (pid_t)sys_getpid();
			ns_rt.forked_unseen = 0;
			ns_rt.self = 0;
		}
		if (ret < 0) {
			ns_log("cannot create the shared arena (%d); running without numashadow",
			       ret);
			ns_rt.disabled = 1;
			__atomic_store_n(&state, 3, __ATOMIC_RELEASE);
			return false;
		}
		if (!ns_rt.self) {
			ns_lock();
			ns_rt.self = proc_new(ns_rt.pid, 0);
			if (ns_rt.self) {
				proc_of(ns_rt.self)->brk = (uint64_t)sys_brk(NULL);
				proc_of(ns_rt.self)->start_brk = start_brk;
				/* Others do not judge a shadow not yet learned. */
				proc_of(ns_rt.self)->dirty = ns_rt.dormant;
				proc_of(ns_rt.self)->unlearned = ns_rt.dormant;
			}
			ns_unlock();
		}
		__atomic_store_n(&state, 2, __ATOMIC_RELEASE);
	}
	uint32_t st;
	while ((st = __atomic_load_n(&state, __ATOMIC_ACQUIRE)) == 1)
		sys_call(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
	return st == 2 && ns_rt.self;
}

/* Does any setting need the shadow from the start?  Without one the runtime
 * stays dormant: an API call is the only thing that can want it. */
static bool wanted_now(void)
{
	return ns_rt.verify || ns_opt.corrupt_kind || trace_on() || ns_opt.ctl_on ||
	       ns_opt.report_at_exit || ns_opt.balance_mibps || ns_opt.migrate_after_node >= 0 ||
	       ns_opt.next_touch_ns >= 0 || policy_any() || ns_opt.site_rules;
}

/* What the shadow needs to know of this process: the zero page, /dev/zero,
 * its VMAs, and which of its memory is the runtime's own.  Lock held. */
static void learn_self(void)
{
	find_zero_pfn();
	struct stat zst;
	long zfd = sys_open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (zfd >= 0) {
		if (sys_fstat((int)zfd, &zst) == 0) {
			ns_devzero_dev = dev_split(zst.st_dev);
			ns_devzero_ino = zst.st_ino;
		}
		sys_close((int)zfd);
	}
	if (ns_rt.forked_unseen)
		adopt();	/* a dormant parent's fork: learns our VMAs */
	else
		verify_vmas(ns_rt.self, true);
	/* Our own writable memory shared after fork must not sit in huge
	 * pages, whose sharing pagemap reports only roughly. */
	uint32_t bv = vma_find(ns_rt.self, (uint64_t)&ns_rt.in_fork);
	if (bv)
		sys_madvise((void *)vma_of(bv)->start, vma_of(bv)->end - vma_of(bv)->start,
			    MADV_NOHUGEPAGE);
	/* Our own writable memory is never write-protected by us: the monitor
	 * writes it, and a fault there would wait for the monitor itself. */
	const void *own[] = { &ns_rt, &ns_arena };
	for (unsigned k = 0; k < sizeof(own) / sizeof(*own); k++) {
		uint32_t ov = vma_find(ns_rt.self, (uint64_t)own[k]);
		if (ov)
			ns_own_add(vma_of(ov)->start, vma_of(ov)->end);
	}
}

/* Points libc's own entry points at the hooks (interpose/preload.c). */
static void (*redirect)(void);

/* The first API call of a dormant process: learn it now.  Hooks that ran
 * meanwhile only marked it dirty; one still under way sees dormant clear
 * after its system call and records what it did (passed()).  Lock held. */
static void wake(void)
{
	__atomic_store_n(&ns_rt.dormant, 0, __ATOMIC_SEQ_CST);
	ns_rt.dirty = 0;
	if (ns_program_threads() == 1) {
		redirect();
	} else {
		ns_log("woken with threads running: libc's own calls are found by "
		       "reconciling with /proc/self/maps");
		ns_reconcile_always();
	}
	learn_self();
	proc_of(ns_rt.self)->dirty = 0;
	proc_of(ns_rt.self)->unlearned = 0;
}

/* Returns 0 when the runtime is up, or -errno after saying why once. */
int ns_init(void (*redirect_libc)(void))
{
	int ret;

	ns_in_runtime = 1;
	redirect = redirect_libc;
	if (options_read() < 0) {
		ret = -EINVAL;
		goto out_disable;
	}
	ns_rt.pid = (pid_t)sys_getpid();
	ns_rt.is_root = sys_call(SYS_geteuid, 0, 0, 0, 0, 0, 0) == 0;
	start_brk = (uint64_t)sys_brk(NULL);
	if (!wanted_now()) {
		/* Nothing to do until the program asks (docs/design.md,
		 * "Dormant"); the arena waits for a fork or an API call. */
		ns_rt.dormant = 1;
		ns_rt.ready = 1;
		ns_in_runtime = 0;
		return 0;
	}
	redirect();
	if (!family_ready()) {
		ret = -ENOMEM;
		goto out_disable;
	}
	ns_lock();
	learn_self();
	/* Pages are learned when someone asks (verify, the API, stat, a
	 * migration), not at start-up or fork; the test corruption needs
	 * some to spoil. */
	if (ns_opt.corrupt_kind && __builtin_strcmp(ns_opt.corrupt_kind, "mapper")) {
		page_sync(ns_rt.self);
		verify_corrupt(ns_opt.corrupt_kind);
	}
	ns_unlock();
	ns_rt.ready = 1;
	ns_in_runtime = 0;
	site_start();
	trace_emit(NS_TR_START, 0, 0, -1, 0);
	if (policy_any())
		ns_thread_policy_inherited();	/* kept across exec (numactl) */
	start_services();
	start_placement();
	start_policies();
	return 0;
out_disable:
	ns_rt.disabled = 1;
	ns_in_runtime = 0;
	return ret;
}

void ns_exit(void)
{
	if (!ns_rt.ready || ns_rt.disabled || ns_in_runtime || ns_rt.dormant ||
	    sys_getpid() != ns_rt.pid)
		return;
	if (ns_opt.report_at_exit == 2)
		report_json("at exit");
	else if (ns_opt.report_at_exit)
		report_text("at exit");
	ns_in_runtime = 1;
	ns_lock();
	if (ns_rt.dirty || ns_rt.escapes)
		reconcile();
	if (ns_rt.verify && verify_now(true))
		ns_verify_fail();
	share_trace();
	ns_rt.ready = 0;
	ctl_stop();
	uffd_stop();
	/* Our pages stay mapped until the kernel tears the mm down, after
	 * this code: the record stays, marked, and whoever finds us dead
	 * releases it.  Releasing it now would make the family's shadow say
	 * "one mapper" of pages the kernel still shows shared. */
	proc_of(ns_rt.self)->state = NS_PROC_EXITING;
	ns_unlock();
	trace_emit(NS_TR_EXIT, 0, 0, -1, 0);
	trace_finish();
	ns_in_runtime = 0;
}

/* ---- what the public API (api.c) enters by ---- */

/* An API call: -ENOSYS only when the runtime is not up in this process
 * (never because another thread is forking). */
bool ns_api_enter(void)
{
	return enter_as(true);
}

void ns_api_leave(void)
{
	ns_unlock();
	ns_in_runtime = 0;
}

int ns_verify_now(bool full)
{
	return verify_now(full);
}
