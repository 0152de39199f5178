/* SPDX-License-Identifier: MIT */
/*
 * core.h - what the core's files share among themselves, grouped by the
 * file that defines it.  The core (layer 1, tests/integration/layers.sh)
 * is runtime.c (enter, leave, verify points, start-up and exit), options.c
 * (the settings), hooks.c (the address-space hooks), fork.c (fork),
 * place.c (placement), site.c (call sites) and api.c; no file below the core includes this header.
 *
 * Locking: the core takes the family lock (internal.h, ns_lock) in enter()
 * and drops it in leave(); a function "Lock held" expects it held.  The
 * settings are written once, before the hooks are ready, and only read
 * after.
 */
#ifndef NS_CORE_H
#define NS_CORE_H

#include "internal.h"

/* ---- runtime.c: enter and leave, verify points, start-up and exit ---- */

/* Returns true when the caller may use the model: the family lock is
 * held, the shadow caught up.  False: go to the kernel and say so
 * (passed()). */
bool enter(void);
/* Reconciles what passed by, verifies, drops the lock. */
void leave(void);
/* The shadow has lost track of this address space: reconcile it. */
void mark_dirty(void);
/* The control socket, and the service loop when the trace needs it. */
void start_services(void);
extern char last_call[160];	/* the tracked call verify judges; lock held */
/* Notes the call verify will judge: formatted only under verify, where a
 * difference is told with it (a hook formatting every call for nothing
 * cost each one about 0.2 us). */
#define note_call(...)                                                  \
	do {                                                            \
		if (ns_rt.verify)                                       \
			ns_fmt(last_call, sizeof(last_call), __VA_ARGS__); \
	} while (0)
extern int need_services;	/* an adopted child wants its socket, loop:
				 * started by leave(), outside the lock */
/* Brings the shadow up to date with untracked changes.  Lock held. */
void reconcile(void);
/* Makes the family's arena and our record once; false when it cannot
 * (said once; the runtime is off then). */
bool family_ready(void);

/* A raw syscall's answer is an error (-4095 to -1). */
static inline bool failed(long r)
{
	return r < 0 && r > -4096;
}

/* After a call went straight to the kernel: the dirty mark enter() set
 * before it may have been cleared by another thread's reconcile that ran
 * before our change did; mark again, now that the change is in.  start
 * and len: the range whose pages it may have dropped (len 0: none). */
static inline long passed(long r, uint64_t start, uint64_t len)
{
	if (__atomic_load_n(&ns_rt.dormant, __ATOMIC_SEQ_CST)) {
		ns_rt.dirty = 1;	/* wake() learns everything anyway */
		return r;
	}
	if (ns_rt.ready && !ns_rt.disabled) {
		if (len)
			passed_add(start, len);
		/* In the family's record too: another member's verify must
		 * not judge our shadow until we have reconciled. */
		ns_mark_dirty_async();
	}
	return r;
}

/* ---- fork.c: fork, and the child of one ---- */

/* The child of a fork we did not see takes the parent's shadow and
 * corrects it from its maps.  Lock held. */
void adopt(void);
/* vma_walk() callback: registers a region placed by the monitor with a
 * new one (a fork child's). */
int reregister_cb(uint32_t vma, void *arg);

/* ---- options.c: the settings, read once ---- */

struct ns_options {
	const char *corrupt_kind;	/* NUMASHADOW_TEST_CORRUPT (test build), NULL: none */
	int ctl_on;			/* NUMASHADOW_CTL: opt-in */
	uint64_t monitor_from;		/* NUMASHADOW_MONITOR_FROM, bytes */
	int site_rules;			/* some rule names a call site */
	uint64_t migrate_after_ns;	/* NUMASHADOW_MIGRATE_AFTER delay */
	int migrate_after_node;		/* ... and target; -1: none */
	int64_t next_touch_ns;		/* NUMASHADOW_NEXT_TOUCH_AT, -1: none */
	unsigned balance_mibps;		/* NUMASHADOW_BALANCE, 0: off */
	int report_at_exit;		/* NUMASHADOW_REPORT: 0, 1 text, 2 json */
};

extern struct ns_options ns_opt;
/* Reads every setting; returns 0, or -EINVAL after saying which was refused. */
int options_read(void);

/* ---- site.c: call sites ---- */

#define NS_SITE_DEPTH 8		/* frames taken of an allocation's stack */

extern int want_sites;		/* mmap hooks take the call site */
extern __thread int in_capture;	/* inside backtrace(): this thread's mmaps
				 * are the unwinder's own */
/* Fills out with at most max frames of the stack above ns_mmap and its
 * wrapper; returns how many.  Before the family lock. */
int site_capture(struct ns_site *out, int max);
/* The site record of the frame that names an allocation, 0: none.  Lock held. */
uint32_t site_record(const struct ns_site *sites, int n);
/* Sets want_sites from the settings and loads the unwinder. */
void site_start(void);
void site_objects_changed(void);
void site_after_fork(void);

/* ---- place.c: placement of new regions, thread policies ---- */

extern int placement_by_mbind;	/* no userfaultfd: VMA policies */
/* Places the new anonymous region [start, end) by policy idx
 * (policy_pick()).  Lock held. */
void place(uint64_t start, uint64_t end, int idx);
/* [start, end), part of a region the monitor placed by policy idx, lost
 * its pages and left userfaultfd: placed again.  Lock held. */
void place_again(uint64_t start, uint64_t end, int idx);
/* A fork child: its regions the parent's monitor placed go to the kernel;
 * false where only the monitor can place them.  Lock held. */
bool monitor_regions_to_kernel(void);
/* Does [start, end) hold a region the monitor places?  Lock held. */
bool monitor_placed(uint64_t start, uint64_t end);
/* Starts the monitor when a policy asks for placement, else falls back to
 * VMA policies (placement_by_mbind). */
void start_placement(void);
/* Dormant under a policy: the kernel places the new region [start, end)
 * (no lock, no shadow). */
void place_dormant(uint64_t start, uint64_t end);
/* Woken from that: marks the regions the kernel places for us, asking it.
 * Lock held. */
void kernel_regions_learn(void);

#endif
