/* SPDX-License-Identifier: MIT */
/*
 * fork.c - fork: the child gets the family's shadow as it stood at the
 * fork (mm_fork, done by the parent); a dormant process's child joins the
 * family unlearned; a child whose fork we did not see adopts its parent's
 * shadow and corrects it from its maps.  Dead members are reaped here.  A
 * child restarts what stayed with the parent: the monitor (with the
 * regions it placed), the COW watch, the services.
 *
 * Locking: the parent holds the family lock across the fork itself, with
 * ns_rt.in_fork set so other threads' hooks go to the kernel rather than
 * wait (ns_lock_unless); the child waits for the lock like anyone else
 * before taking its record.  The dormant path takes the lock only around
 * the child's record, never across the fork.
 */
#include <sys/mman.h>
#include "core.h"
#include "internal.h"
#include "runtime.h"
#include "sys.h"

/* In a fork child: the parent's threads did not come along; what they
 * served must not be used from here. */
static void child_reset(void)
{
	uint32_t parts = __atomic_load_n(&ns_fork_resets, __ATOMIC_RELAXED);

	if (parts & NS_FR_SITE)
		site_after_fork();
	if (parts & NS_FR_SELF)
		sys_after_fork();
	ns_threads_after_fork();
	if (parts & NS_FR_MON)
		uffd_after_fork();	/* the thread policies too: tids are the parent's */
	if (policy_any())
		ns_thread_policy_inherited();
	if (parts & NS_FR_ENG)
		mig_after_fork();
	if (parts & NS_FR_LOOP)
		loop_after_fork();
	if (parts & NS_FR_TRACE)
		trace_after_fork((int)sys_getppid());
}

/* The child of a fork we did not see (only the atfork handler ran): take
 * the parent's shadow as the kernel did, then correct it from our maps. */
void adopt(void)
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

int reregister_cb(uint32_t vma, void *arg)
{
	(void)arg;
	if (vma_of(vma)->policy > 0)
		uffd_region_add(vma_of(vma)->start, vma_of(vma)->end,
				vma_of(vma)->policy - 1);
	return 0;
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
	if (all && at != n)	/* unchanged: no write, no copy-on-write fault */
		at = n;
}

/* A dormant process's fork: the child's record is made before the fork,
 * so that the child knows it at once (its own forks hang below it). */
static pid_t fork_dormant(pid_t (*real_fork)(void))
{
	pid_t pid;

	ns_in_runtime = 1;
	ns_lock();
	proc_reap_dead();
	uint32_t mine = ns_rt.dormant_self;
	uint32_t c = proc_new(0, mine ? mine : ns_rt.self);
	if (c) {
		proc_of(c)->dirty = proc_of(c)->unlearned = 1;
		proc_of(c)->starttime = ~0ULL;	/* being born */
	}
	ns_unlock();
	pid = real_fork();
	if (pid == 0) {
		ns_rt.dormant_self = c;
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

/* The parent, lock still held since before the fork: the child gets the
 * shadow as it stood at the fork: nobody else changed it since.  Calls of
 * other threads that went straight to the kernel around the fork are
 * taken in afterwards, by each process against its own maps and pages:
 * the child cannot tell which came before the fork, so it looks at all
 * of them (marked dirty).  Drops the lock. */
static pid_t fork_parent(pid_t pid)
{
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
	if (ns_rt.verify && ns_verify_now(true))
		ns_verify_fail();
	ns_unlock();
	ns_in_runtime = 0;
	return pid;
}

/* The child: the parent still holds the lock while it copies our shadow;
 * wait for it like anyone else.  Returns 0. */
static pid_t fork_child(void)
{
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
		 * ranges are looked at again, an mremap still in the kernel at
		 * the fork is settled from our maps; a call caught
		 * half-recorded, or one the parent saw only after the fork,
		 * leaves every page unknown. */
		bool unknown = proc_of(ns_rt.self)->dirty;
		passed_after_fork();
		if (ns_rt.dirty || unknown)
			reconcile();
		if (unknown)
			page_drop_vanished(ns_rt.self, 0, ~0ULL);
	}
	if (ns_opt.corrupt_kind)
		corrupt_in_child(ns_opt.corrupt_kind);
	if (!ns_rt.disabled && ns_rt.verify && ns_verify_now(true))
		ns_verify_fail();
	/* Our monitor stayed with the parent, and without EVENT_FORK the
	 * kernel unregistered our copies.  The kernel places what the
	 * parent's monitor did, and what we map (place()), until we map a
	 * large region ourselves or a thread of ours sets a policy of its
	 * own (monitor_regions_to_kernel()).  Where only a monitor can - a
	 * trace sees every fault, the kernel's weights are not the policy's
	 * - start one again if we inherited a region it placed or must see
	 * every fault. */
	if (!ns_rt.disabled && policy_any() && !placement_by_mbind &&
	    !monitor_regions_to_kernel() &&
	    (trace_on() || policy_uses(POL_WEIGHTED) ||
	     monitor_placed(0, ~0ULL)) &&
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

/* Hot, with the fork wrapper and ns_atfork_child(): first in .text, in
 * the 64 KiB the kernel maps around a fork child's first fault in our
 * text (fault-around), so the child faults once there, not twice (`perf
 * record -e page-faults -d` of a fork+_exit loop). */
__attribute__((hot)) pid_t ns_fork(pid_t (*real_fork)(void))
{
	pid_t pid;

	/* A dormant process's child joins its family: the arena is there to
	 * share, and the child has a record, unlearned like ours, that the
	 * API asks its kernel about (numashadow_page_mappers). */
	if (__atomic_load_n(&ns_rt.dormant, __ATOMIC_SEQ_CST) && ns_rt.ready &&
	    !ns_rt.disabled && !ns_in_runtime && family_ready())
		return fork_dormant(real_fork);
	if (!enter())
		return real_fork();
	/* No page is learned here: the child shares what the kernel gave
	 * it, and whoever asks later learns it as shared (verify.c). */
	ns_rt.in_fork = 1;
	ns_lock_kick();
	sys_self_close();
	pid = real_fork();
	if (pid > 0)
		return fork_parent(pid);
	if (pid < 0) {
		ns_rt.in_fork = 0;
		leave();
		return pid;
	}
	return fork_child();
}

__attribute__((hot)) void ns_atfork_child(void)
{
	ns_tid_forget();
	if (!ns_rt.in_fork)
		ns_rt.forked_unseen = 1;
}
