/* SPDX-License-Identifier: MIT */
/*
 * runtime.c - the per-process runtime's life: start-up (dormant or
 * awake), the way into the model and out of it (enter, leave, catching up
 * with the monitor and with what passed by), verify points, the services
 * and timed policies started with it, exit, and what api.c enters by.
 * The hooks are hooks.c's, fork fork.c's, the settings options.c's.
 *
 * Locking: enter() takes the family lock and leave() drops it; in between
 * the shadow and the kernel agree.  A call that cannot enter (runtime not
 * up, a thread already inside the runtime, a signal handler interrupting
 * it, the child of a vfork-like clone sharing our memory, another thread
 * forking) goes to the kernel and marks the address space dirty: the next
 * enter() reconciles the VMAs with /proc/self/maps before anything else.
 * ns_in_runtime, per thread, keeps a thread from taking the lock twice.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "core.h"
#include "internal.h"
#include "runtime.h"
#include "sys.h"

char last_call[160];			/* the tracked call verify judges */
int need_services;			/* an adopted child wants its socket, loop */

static void drain_monitor(void);
static void wake(void);
static void start_wanted(void);

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
		sys_nanosleep(&pause);
		ns_catch_up();
		d = verify_vmas_quiet(ns_rt.self);
	}
	if (d)
		d = verify_vmas(ns_rt.self, false);
	if (full || ns_rt.verify >= 2)
		d += verify_pages(true, ns_catch_up);
	return d;
}

/* ---- enter and leave ---- */

void mark_dirty(void)
{
	ns_rt.dirty = 1;
	if (ns_rt.ready && ns_arena && ns_rt.self)
		proc_of(ns_rt.self)->dirty = 1;
}


/* Bring the shadow up to date with untracked changes. */

void reconcile(void)
{
	ns_rt.dirty = 0;
	remap_replay();
	verify_vmas(ns_rt.self, true);
	passed_drain();
	proc_of(ns_rt.self)->dirty = ns_rt.escapes ? 1 : 0;
	if (ns_rt.escapes)
		ns_rt.dirty = 1;
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
	if (need_services)
		start_wanted();
}

/* The threads an adopted fork child or a woken process wants, started
 * outside the lock: the services, and the monitor, which takes over the
 * regions it placed in the parent. */
static void start_wanted(void)
{
	need_services = 0;
	start_services();
	if (!policy_any() || placement_by_mbind)
		return;
	start_placement();
	if (placement_by_mbind)
		return;
	ns_in_runtime = 1;	/* a signal handler must not wait */
	ns_lock();
	vma_walk(ns_rt.self, 0, ~0ULL, reregister_cb, NULL);
	ns_unlock();
	ns_in_runtime = 0;
}

/* ---- services and timed policies ---- */

/* The pid whose loop thread runs the timed migration, 0 when none, woken
 * at its end: an exit that comes meanwhile waits for it (ns_exit()).  A
 * pid, so a fork child, which copied it and has no such thread, does not. */
static uint32_t migrating_after;

/* NUMASHADOW_MIGRATE_AFTER: the simplest real policy.  A timer of the
 * service loop, whose thread the program never sees in its results. */
static void migrate_after(void)
{
	uint64_t before[64], after[64], t0;
	char b[512], a[512];
	long r;

	__atomic_store_n(&migrating_after, (uint32_t)ns_rt.pid, __ATOMIC_SEQ_CST);
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
	__atomic_store_n(&migrating_after, 0, __ATOMIC_SEQ_CST);
	sys_futex(&migrating_after, FUTEX_WAKE_PRIVATE, 1, NULL);
}

/* A program that ends while its timed migration runs would end it
 * unsaid, cut by exit_group (the README's demo on a slow machine: pages
 * moved, no migrate-after line).  The exit waits for it, 10 s at most,
 * on the futex it wakes. */
static void migrate_after_wait(void)
{
	uint64_t end = sys_now_ns() + 10ULL * 1000000000ULL, now;
	const uint32_t me = (uint32_t)ns_rt.pid;

	while (__atomic_load_n(&migrating_after, __ATOMIC_SEQ_CST) == me &&
	       (now = sys_now_ns()) < end) {
		const struct timespec left = { (time_t)((end - now) / 1000000000ULL),
					       (long)((end - now) % 1000000000ULL) };
		sys_futex(&migrating_after, FUTEX_WAIT_PRIVATE, me, &left);
	}
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

static void start_policies(void)
{
	/* Next-touch write-protects pages: the monitor's descriptors now,
	 * on this thread (uffd_start_open()); without them it says why when
	 * it fires. */
	if (ns_opt.next_touch_ns >= 0)
		uffd_start_open();
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

static uint64_t start_brk;	/* the break at start-up */

/* The family's arena and our record in it, made once: at start-up when a
 * setting needs them, else at the first fork (the child must share the
 * arena to join the family) or API call.  False when the arena cannot be
 * made (said once; the runtime is off then). */
bool family_ready(void)
{
	static uint32_t state;	/* 0 none, 1 being made, 2 made, 3 failed */
	uint32_t none = 0;

	/* Read first: a compare-and-swap writes even when it fails, and
	 * after a fork that write costs this page a copy-on-write fault. */
	if (__atomic_load_n(&state, __ATOMIC_ACQUIRE) == 0 &&
	    __atomic_compare_exchange_n(&state, &none, 1, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE)) {
		int ret = 0;
		if (!ns_arena) {
			/* A family's first process (one forked without our
			 * knowing before an arena existed starts its own). */
			ret = arena_create();
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
		sys_sched_yield();
	return st == 2 && ns_rt.self;
}

/* Can the monitor wait until a region needs it?  Until then the kernel
 * places every region under the VMA policy ours maps to (docs/placement.md,
 * "Dormant under a policy"): not for weighted interleave (the kernel's
 * weights are the system's), NUMASHADOW_MONITOR_FROM=0, or a policy of
 * the thread's own kept across exec (numactl), which VMA policies would
 * outrank.  Returns 0 (it cannot), or what ns_rt.place_later becomes: the
 * program's own mmap of a large region may wake us (2) only where malloc
 * is libc's - the thread the wake starts allocates, and another
 * allocator may be holding its locks around the very mmap that wakes us;
 * libc's malloc reaches the hooks by another way. */
static int policy_waits(void)
{
	int mode = 0;
	unsigned long mask = 0;

	if (!policy_any() || policy_uses(POL_WEIGHTED) || !ns_opt.monitor_from ||
	    sys_get_mempolicy(&mode, &mask, 64) < 0 || mode)
		return 0;
	void *libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);
	void *own = libc ? dlsym(libc, "malloc") : NULL;
	if (libc)
		dlclose(libc);
	return own && own == dlsym(RTLD_DEFAULT, "malloc") ? 2 : 1;
}

/* Does any setting need the shadow from the start?  Without one the runtime
 * stays dormant: an API call is the only thing that can want it, or under
 * a placement policy a region for the monitor (ns_rt.placing). */
static bool wanted_now(void)
{
	if (ns_rt.verify || ns_opt.corrupt_kind || trace_on() || ns_opt.ctl_on ||
	    ns_opt.report_at_exit || ns_opt.balance_mibps || ns_opt.migrate_after_node >= 0 ||
	    ns_opt.next_touch_ns >= 0 || ns_opt.site_rules)
		return true;
	ns_rt.placing = ns_rt.place_later != 0;
	return policy_any() && !ns_rt.placing;
}

/* What the shadow needs to know of this process: the zero page, /dev/zero,
 * its VMAs, and which of its memory is the runtime's own.  Lock held. */
static void learn_self(void)
{
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
	if (ns_rt.placing) {
		/* libc was redirected at start-up, for place_dormant(). */
	} else if (ns_program_threads() == 1) {
		redirect();
	} else {
		ns_log("woken with threads running: libc's own calls are found by "
		       "reconciling with /proc/self/maps");
		ns_reconcile_always();
	}
	learn_self();
	proc_of(ns_rt.self)->dirty = 0;
	proc_of(ns_rt.self)->unlearned = 0;
	if (ns_rt.placing) {
		kernel_regions_learn();
		ns_rt.placing = 0;
		need_services = 1;	/* the monitor, once the lock is free */
	}
}

bool ns_wake(void)
{
	if (ns_in_runtime || !ns_api_enter())
		return false;
	ns_api_leave();
	return true;
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
	ns_rt.is_root = sys_geteuid() == 0;
	start_brk = (uint64_t)sys_brk(NULL);
	ns_rt.place_later = policy_waits();
	if (!wanted_now()) {
		/* Nothing to do until the program asks (docs/design.md,
		 * "Dormant"); the arena waits for a fork or an API call. */
		if (ns_rt.placing)
			redirect();	/* malloc's regions are placed too */
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
	 * migration), not at start-up or fork; the test corruption (test
	 * build only) learns some to spoil. */
	if (ns_opt.corrupt_kind)
		corrupt_at_start(ns_opt.corrupt_kind);
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
	migrate_after_wait();
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

/* exit_group, the program's (_exit, and exit() after its handlers): the
 * kernel ends every thread at once, and one inside the family lock - the
 * program's in a hook, the loop in a timer - would leave the family a dead
 * holder and a shadow said to be suspect.  The lock is taken first, so an
 * edit under way ends, and closed to our other threads.  Not when this
 * thread is inside the runtime already (a signal handler's _exit: that is
 * a death in the middle), nor in a vfork child (our memory, not our end). */
void ns_exit_group(int status)
{
	/* The pid first: a fork child that was never let in (the usual
	 * fork + _exit) asks nothing more, not even its tid. */
	if (ns_arena && !ns_in_runtime && sys_getpid() == ns_rt.pid &&
	    !ns_lock_mine()) {
		ns_in_runtime = 1;
		ns_lock();
		ns_lock_close();
		ns_unlock();
	}
	for (;;)
		sys_exit_group(status);
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
	if (need_services)
		start_wanted();
}

int ns_verify_now(bool full)
{
	return verify_now(full);
}
