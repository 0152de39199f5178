/* SPDX-License-Identifier: MIT */
/*
 * self.c - this process's runtime state (ns_rt, internal.h), defined below
 * every layer that reads it, and the one change any layer may make to it
 * without the family lock: marking the shadow dirty.
 */
#include "internal.h"

struct ns_runtime ns_rt;
__thread int ns_in_runtime;

/* Something changed the address space past the hooks (the monitor saw an
 * event, a call went straight to the kernel): the next hook reconciles.
 * Safe from any thread, and from one that must not take the family lock. */
void ns_mark_dirty_async(void)
{
	ns_rt.dirty = 1;
	if (ns_rt.ready && ns_arena && ns_rt.self)
		__atomic_store_n(&proc_of(ns_rt.self)->dirty, 1, __ATOMIC_RELAXED);
}
