/* SPDX-License-Identifier: MIT */
/*
 * hooks.c - the address-space hooks: each pairs its syscall (mmap, munmap,
 * mprotect, madvise, mremap, brk, execve) with the shadow's update, and
 * keeps placed ranges and the monitor in step with it; ld.so's own
 * changes (ns_escape) are marked for the next reconcile.
 *
 * Locking: every hook runs "enter(); syscall; update the shadow; leave()",
 * the family lock held from enter() to leave(), so the shadow and the
 * kernel agree whenever it is free.  A hook that cannot enter passes the
 * call to the kernel and marks the shadow (passed()).  last_call is
 * written under the lock.  execve drops the lock before the call, its
 * record marked so other threads' hooks pass.
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core.h"
#include "internal.h"
#include "runtime.h"
#include "sys.h"

static void on_mmap(uint64_t start, size_t len, int prot, int flags, int fd,
		    off_t off, const struct ns_site *sites, int nsites)
{
	uint64_t end = start + NS_PAGE_ALIGN(len);
	bool shared = (flags & MAP_TYPE) != MAP_PRIVATE;
	uint32_t obj = 0, vflags = shared ? NS_VMA_SHARED : 0;
	uint64_t pgoff = start >> NS_PAGE_SHIFT;
	struct stat st;

	if (!(flags & MAP_ANONYMOUS)) {
		if (sys_fstat(fd, &st) < 0) {
			mark_dirty();
			return;
		}
		/* /dev/zero: private is plain anonymous, shared is shm. */
		if (S_ISCHR(st.st_mode) && st.st_rdev == 0x105)
			flags |= MAP_ANONYMOUS;
		else if (!(obj = obj_file_get(dev_split(st.st_dev), st.st_ino,
					      OBJ_FILE)))
			goto nomem;
		else
			pgoff = (uint64_t)off >> NS_PAGE_SHIFT;
	}
	if ((flags & MAP_ANONYMOUS) && shared) {
		if (!(obj = obj_shm_new()))
			goto nomem;
		pgoff = 0;
	}
	if (flags & MAP_GROWSDOWN)
		vflags |= NS_VMA_GROWSDOWN;
	if (flags & MAP_STACK)
		vflags |= NS_VMA_STACK;
	if (vma_map(ns_rt.self, start, end, prot, vflags, obj, pgoff) < 0)
		mark_dirty();
	if (obj)
		obj_put(obj);
	/* Thread stacks stay out: the runtime runs on them, and a fault there
	 * must never wait for the monitor.  So does the unwinder's own memory,
	 * which it touches at once - maybe while the monitor is being
	 * started, by the thread starting it. */
	if (!shared && (flags & MAP_ANONYMOUS) && !in_capture &&
	    !(flags & (MAP_STACK | MAP_GROWSDOWN)) && policy_any()) {
		place(start, end, policy_pick(end - start, sites, nsites));
		uint32_t site = site_record(sites, nsites);
		if (site)
			vma_set_site(ns_rt.self, start, end, site);
		trace_site(start, end);
	}
	return;
nomem:
	mark_dirty();
}

/* A region placement would take: anonymous, private, not a stack. */
static bool placeable(int flags)
{
	return (flags & (MAP_ANONYMOUS | MAP_TYPE | MAP_STACK | MAP_GROWSDOWN)) ==
	       (MAP_ANONYMOUS | MAP_PRIVATE);
}

/* The program's own mmap of a region the monitor should place, in a
 * process whose monitor is not running (dormant under a policy, or a fork
 * child that left its parent's regions to the kernel): the monitor starts
 * now, a thread, outside libc's malloc (pthread_create allocates). */
static void monitor_wanted(void)
{
	if (ns_in_runtime || !ns_rt.ready || ns_rt.disabled || placement_by_mbind ||
	    uffd_running())
		return;
	if (__atomic_load_n(&ns_rt.dormant, __ATOMIC_SEQ_CST))
		ns_wake();
	else
		start_placement();
}

long ns_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, bool own)
{
	struct ns_site sites[NS_SITE_DEPTH];
	int nsites = 0;
	long r;

	if (own && ns_rt.place_later == 2 && len >= ns_opt.monitor_from && placeable(flags))
		monitor_wanted();
	/* Dormant under a policy: the kernel places it (place_dormant()). */
	if (ns_rt.placing && __atomic_load_n(&ns_rt.dormant, __ATOMIC_SEQ_CST)) {
		r = sys_mmap(addr, len, prot, flags, fd, off);
		if (!failed(r) && placeable(flags) && !ns_in_runtime)
			place_dormant((uint64_t)r, (uint64_t)r + NS_PAGE_ALIGN(len));
		return passed(r, (uint64_t)addr, (flags & MAP_FIXED) ? len : 0);
	}
	/* The call site, before the lock: resolving it may take ld.so's. */
	if (ns_rt.ready && !ns_in_runtime && want_sites)
		nsites = site_capture(sites, NS_SITE_DEPTH);
	if (!enter())
		return passed(sys_mmap(addr, len, prot, flags, fd, off), (uint64_t)addr,
			      (flags & MAP_FIXED) ? len : 0);
	if ((flags & MAP_FIXED) && !((uint64_t)addr & (NS_PAGE_SIZE - 1)) && len)
		uffd_region_leave((uint64_t)addr, (uint64_t)addr + NS_PAGE_ALIGN(len));
	r = sys_mmap(addr, len, prot, flags, fd, off);
	note_call("mmap(%p, %#lx, %d, %#x, %d, %#lx) = %#lx",
		  addr, len, prot, flags, fd, (unsigned long)off, r);
	if (!failed(r)) {
		trace_emit(NS_TR_MMAP, (uint64_t)r, len, -1, (uint32_t)(prot | flags << 8));
		on_mmap((uint64_t)r, len, prot, flags, fd, off, sites, nsites);
	} else if (flags & MAP_FIXED)
		mark_dirty();	/* the old mapping may be gone already */
	leave();
	return r;
}

long ns_munmap(void *addr, size_t len)
{
	long r;

	if (!enter())
		return passed(sys_munmap(addr, len), (uint64_t)addr, len);
	uint64_t s = (uint64_t)addr, e = s + NS_PAGE_ALIGN(len);
	if (!(s & (NS_PAGE_SIZE - 1)) && len) {
		if (monitor_placed(s, e) || uffd_wp_any())
			uffd_region_leave(s, e);
		else
			uffd_region_del(s, e);	/* a kernel-placed region's note */
	}
	r = sys_munmap(addr, len);
	note_call("munmap(%p, %#lx) = %ld", addr, len, r);
	if (!failed(r)) {
		trace_emit(NS_TR_MUNMAP, (uint64_t)addr, len, -1, 0);
		if (vma_unmap(ns_rt.self, (uint64_t)addr,
			      (uint64_t)addr + NS_PAGE_ALIGN(len)) < 0)
			mark_dirty();
	}
	leave();
	return r;
}

long ns_mprotect(void *addr, size_t len, int prot)
{
	long r;

	if (!enter())
		return passed(sys_mprotect(addr, len, prot), 0, 0);
	r = sys_mprotect(addr, len, prot);
	note_call("mprotect(%p, %#lx, %d) = %ld", addr, len, prot, r);
	if (!failed(r))
		trace_emit(NS_TR_MPROTECT, (uint64_t)addr, len, -1, (uint32_t)prot);
	if (failed(r) || (prot & (PROT_GROWSDOWN | PROT_GROWSUP)) ||
	    vma_protect(ns_rt.self, (uint64_t)addr,
			(uint64_t)addr + NS_PAGE_ALIGN(len), prot) < 0)
		mark_dirty();	/* a failure may have changed a prefix */
	leave();
	return r;
}

/* MADV_REMOVE punches pages out of the object: every mapper loses them. */
static void remove_shared(uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a < end; a += NS_PAGE_SIZE) {
		uint32_t t = pte_lookup(ns_rt.self, a >> NS_PAGE_SHIFT);
		if (!t || (page_of(pte_page(t))->flags & (NS_PG_ANON | NS_PG_ZERO)))
			continue;
		struct rmap_at at[64];
		int n = rmap_collect(pte_page(t), false, at, 0, 64);
		uint32_t ptes[64];
		n = n < 64 ? n : 64;
		/* Looked up first: clearing the last PTE frees the page. */
		for (int k = 0; k < n; k++)
			ptes[k] = pte_lookup(at[k].proc, at[k].addr >> NS_PAGE_SHIFT);
		for (int k = 0; k < n; k++)
			if (ptes[k])
				pte_clear(ptes[k]);
	}
}

long ns_madvise(void *addr, size_t len, int advice)
{
	long r;

	if (!enter())
		return passed(sys_madvise(addr, len, advice), (uint64_t)addr, len);
	/* Dropping pages of a placed range raises a REMOVE event, and the
	 * caller waits until the monitor has read it (a wake-up across CPUs
	 * each way: madvise + touch cost 15 times the plain pair).  The
	 * range leaves userfaultfd for the call instead, as for munmap, and
	 * is placed again at once (place_again(): a small one by the
	 * kernel); a fault of another thread in between is the kernel's. */
	uint64_t as = (uint64_t)addr, ae = as + NS_PAGE_ALIGN(len);
	uint32_t v = vma_find(ns_rt.self, as);
	int pol = v && vma_of(v)->policy > 0 && vma_of(v)->end >= ae ? vma_of(v)->policy : 0;
	bool left = pol && uffd_active() && !(as & (NS_PAGE_SIZE - 1)) && len &&
		    (advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE);
	if (left)
		uffd_region_leave(as, ae);
	r = sys_madvise(addr, len, advice);
	if (left)
		place_again(as, ae, pol - 1);
	note_call("madvise(%p, %#lx, %d) = %ld", addr, len, advice, r);
	if (!failed(r)) {
		uint64_t s = (uint64_t)addr, e = s + NS_PAGE_ALIGN(len);
		trace_emit(NS_TR_MADVISE, s, len, -1, (uint32_t)advice);
		if (advice == MADV_REMOVE)
			remove_shared(s, e);
		if (vma_advise(ns_rt.self, s, e, advice) < 0)
			mark_dirty();
	}
	leave();
	return r;
}

/* An mremap that could not enter: recorded for the next reconcile to
 * replay in order (passed.c). */
static long mremap_passed(void *old, size_t oldlen, size_t newlen, int flags, void *new)
{
	bool dormant = __atomic_load_n(&ns_rt.dormant, __ATOMIC_SEQ_CST);
	int slot = dormant ? -1 : remap_begin((uint64_t)old, oldlen, newlen, flags,
					      (uint64_t)new);
	long r = sys_mremap(old, oldlen, newlen, flags, new);
	remap_end(slot, r);
	if (!failed(r) && !dormant && (uint64_t)r != (uint64_t)old)
		passed_add((uint64_t)r, newlen);	/* where they went */
	return passed(r, (uint64_t)old, oldlen);
}

long ns_mremap(void *old, size_t oldlen, size_t newlen, int flags, void *new)
{
	long r;

	if (!enter())
		return mremap_passed(old, oldlen, newlen, flags, new);
	/* A placed range leaves userfaultfd first, as for munmap: moving or
	 * shrinking it raises no event, and the new place is registered
	 * below (the old one again if it stays). */
	uint64_t os = (uint64_t)old, oe = os + NS_PAGE_ALIGN(oldlen);
	uint32_t v = vma_find(ns_rt.self, os);
	int pol = v && vma_of(v)->policy > 0 ? vma_of(v)->policy : 0;
	int kpol = v && vma_of(v)->policy < 0 ? -vma_of(v)->policy : 0;
	bool left = pol && uffd_active() && !(os & (NS_PAGE_SIZE - 1)) && oldlen;
	if (left)
		uffd_region_leave(os, oe);
	r = sys_mremap(old, oldlen, newlen, flags, new);
	note_call("mremap(%p, %#lx, %#lx, %d, %p) = %#lx",
		  old, oldlen, newlen, flags, new, r);
	if (failed(r)) {
		if (left)
			uffd_region_add(os, oe, pol - 1);
		if (flags & MREMAP_FIXED)
			mark_dirty();
	} else {
		trace_emit(NS_TR_MREMAP, (uint64_t)old, newlen, -1, (uint32_t)flags);
		if ((uint64_t)r != (uint64_t)old)
			trace_emit(NS_TR_MREMAP_TO, (uint64_t)r, newlen, -1, 0);
		if (vma_remap(ns_rt.self, (uint64_t)old, oldlen, newlen, flags,
			      (uint64_t)r) < 0)
			mark_dirty();
		/* The kernel's VMA policy went along: so does its note. */
		if (kpol) {
			uffd_region_del(os, oe);
			if (flags & MREMAP_DONTUNMAP)
				uffd_region_note(os, oe, kpol - 1);
			uffd_region_note((uint64_t)r, (uint64_t)r + NS_PAGE_ALIGN(newlen),
					 kpol - 1);
		}
		/* Register the new place and tell the monitor. */
		if (pol && uffd_active()) {
			if (!left && (uint64_t)r != os)
				uffd_region_del(os, oe);
			uffd_region_add((uint64_t)r, (uint64_t)r + NS_PAGE_ALIGN(newlen),
					pol - 1);
			if (left && (flags & MREMAP_DONTUNMAP))
				uffd_region_add(os, oe, pol - 1);
		}
	}
	leave();
	return r;
}

/* brk: returns the new break (the old one when the kernel refused). */
long ns_brk(void *addr)
{
	long r;

	if (!enter())
		return passed(sys_brk(addr), 0, 0);
	r = sys_brk(addr);
	struct ns_proc *p = proc_of(ns_rt.self);
	uint64_t o = NS_PAGE_ALIGN(p->brk), n = NS_PAGE_ALIGN((uint64_t)r);
	if (n > o && vma_map(ns_rt.self, o, n, PROT_READ | PROT_WRITE, 0, 0,
			     o >> NS_PAGE_SHIFT) < 0)
		mark_dirty();
	else if (n < o && vma_unmap(ns_rt.self, n, o) < 0)
		mark_dirty();
	if ((uint64_t)r != p->brk)
		trace_emit(NS_TR_BRK, (uint64_t)r, 0, -1, 0);
	p->brk = (uint64_t)r;
	leave();
	return r;
}

/* execve: the image goes, and with it our shadow; if the kernel refuses,
 * the shadow is rebuilt from the maps we still have. */
long ns_execve(const char *path, char *const argv[], char *const envp[])
{
	long r;

	/* A vfork child's exec (posix_spawn's too) leaves our memory as it
	 * was: nothing to mark; the trace gets its fork and exec. */
	if (ns_rt.ready && (r = sys_getpid()) != ns_rt.pid && !ns_rt.forked_unseen) {
		if (sys_access(path, X_OK) == 0)
			trace_vfork_exec((int)r);
		return sys_execve(path, argv, envp);
	}
	if (sys_access(path, X_OK) < 0 || !enter())
		return sys_execve(path, argv, envp);
	if (ns_rt.verify && ns_verify_now(true))
		ns_verify_fail();
	/* Other threads may run until the kernel stops them: their hooks
	 * wait at the closed lock, never inside it, for our outcome. */
	mm_exit(ns_rt.self);
	proc_of(ns_rt.self)->state = NS_PROC_EXEC;
	ctl_stop();
	ns_lock_close();
	ns_unlock();
	trace_emit(NS_TR_EXEC, 0, 0, -1, 0);
	trace_finish();
	r = sys_execve(path, argv, envp);
	ns_lock();
	ns_lock_reopen();
	proc_of(ns_rt.self)->state = NS_PROC_LIVE;
	ns_rt.dirty = 0;
	verify_vmas(ns_rt.self, true);
	page_sync(ns_rt.self);
	ns_unlock();
	ns_in_runtime = 0;
	start_services();
	return r;
}

/* Something ld.so maps on its own (dlopen) is starting (+1) or done (-1). */
void ns_escape(int delta)
{
	/* ld.so announces its window once per dlopen/dlclose, but may end it
	 * without having opened it (at start-up): never below zero. */
	if (delta < 0 && __atomic_load_n(&ns_rt.escapes, __ATOMIC_SEQ_CST) <= 0)
		delta = 0;
	site_objects_changed();
	__atomic_add_fetch(&ns_rt.escapes, delta, __ATOMIC_SEQ_CST);
	mark_dirty();
}

void ns_reconcile_always(void)
{
	ns_rt.always_reconcile = 1;
}
