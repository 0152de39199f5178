/* SPDX-License-Identifier: MIT */
/*
 * site.c - call sites: the allocation's call stack as (object, function)
 * pairs for site rules, the trace and the exit report, with a cache of
 * what dladdr() answered for each return address.
 *
 * Locking: the stack is taken before the family lock (ns_mmap): resolving
 * an address may take ld.so's lock.  The cache is guarded by
 * site_cache_busy, a flag tried and never waited for (a miss asks
 * dladdr() instead); its entries are dropped by bumping site_gen.
 * in_capture is per thread.  site_record() runs with the family lock held.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include "core.h"
#include "internal.h"
#include "sys.h"

int want_sites;			/* mmap hooks take the call site */

/* The frame that names an allocation: the first outside libc and the
 * runtime, as a site record. */
uint32_t site_record(const struct ns_site *sites, int n)
{
	for (int i = 0; i < n; i++) {
		const char *o = sites[i].object, *b = __builtin_strrchr(o, '/');
		b = b ? b + 1 : o;
		if (__builtin_strncmp(b, "libc.so", 7) &&
		    __builtin_strncmp(b, "libnumashadow.so", 16))
			return site_intern(o, sites[i].function);
	}
	return n ? site_intern(sites[0].object, sites[0].function) : 0;
}

__thread int in_capture;	/* inside backtrace() */

/* dladdr() searches the symbols of the object: most of what an mmap cost
 * under a placement policy (a one-page mmap + munmap 5x the plain one).
 * Its answers for the return addresses seen, kept until ld.so next changes
 * the loaded objects (ns_escape()). */
#define SITE_CACHE 256
static struct {
	uintptr_t ip;
	const char *object, *function;
	uint32_t gen;
} site_cache[SITE_CACHE] NS_BIG;	/* protected by site_cache_busy */
static uint32_t site_gen = 1;	/* bumped when ld.so changes the objects
				 * (atomic, no lock) */
static uint32_t site_cache_busy;	/* the cache is someone's: tried, never waited for */

static bool site_of_ip(void *ip, struct ns_site *out)
{
	uintptr_t k = (uintptr_t)ip;
	__typeof__(site_cache[0]) *e = &site_cache[(k * 0x9e3779b97f4a7c15ULL) >> 56];
	uint32_t gen = __atomic_load_n(&site_gen, __ATOMIC_ACQUIRE);
	bool hit;
	Dl_info info;

	/* Tried, never waited for: a fork child inherits the flag as another
	 * thread of its parent left it, with no one to clear it. */
	ns_fork_resets_mark(NS_FR_SITE);
	if (!__atomic_exchange_n(&site_cache_busy, 1, __ATOMIC_ACQUIRE)) {
		hit = e->ip == k && e->gen == gen;
		if (hit)
			*out = (struct ns_site){ e->object, e->function };
		__atomic_store_n(&site_cache_busy, 0, __ATOMIC_RELEASE);
		if (hit)
			return true;
	}
	if (!dladdr(ip, &info) || !info.dli_fname)
		return false;
	*out = (struct ns_site){ info.dli_fname, info.dli_sname };
	if (!__atomic_exchange_n(&site_cache_busy, 1, __ATOMIC_ACQUIRE)) {
		e->ip = k;
		e->object = info.dli_fname;
		e->function = info.dli_sname;
		e->gen = gen;
		__atomic_store_n(&site_cache_busy, 0, __ATOMIC_RELEASE);
	}
	return true;
}

/* The allocation's call stack as (object, function) pairs. */
int site_capture(struct ns_site *out, int max)
{
	void *ip[NS_SITE_DEPTH + 2];
	int n, k = 0;

	/* Unwinding maps memory of its own: those mmaps are tracked like any
	 * other (only their own call sites are not captured), never passed
	 * through unseen while another thread verifies. */
	if (in_capture)
		return 0;
	in_capture = 1;
	n = backtrace(ip, NS_SITE_DEPTH + 2);
	trace_stack(ip + 2, n - 2);
	for (int i = 2; i < n && k < max; i++)	/* skip ns_mmap and the wrapper */
		k += site_of_ip(ip[i], &out[k]);
	in_capture = 0;
	return k;
}

/* Call sites are for site rules and for what tells of placed regions (the
 * trace, the exit report): an unwind and a dladdr() an mmap, and libgcc_s
 * loaded at start-up - half a millisecond a process - are not paid for
 * nothing.  The unwinder's first call loads libgcc_s (malloc, dlopen):
 * now, not from inside malloc's own mmap. */
void site_start(void)
{
	want_sites = ns_opt.site_rules || (policy_any() && (trace_on() || ns_opt.report_at_exit));
	if (want_sites) {
		struct ns_site s[1];
		site_capture(s, 1);
	}
}

/* ld.so changes the loaded objects: what dladdr() said may be stale. */
void site_objects_changed(void)
{
	__atomic_add_fetch(&site_gen, 1, __ATOMIC_RELEASE);
}

/* In a fork child: the cache's flag may be held by a parent's thread that
 * did not come along. */
void site_after_fork(void)
{
	if (__atomic_load_n(&site_cache_busy, __ATOMIC_RELAXED))
		__atomic_store_n(&site_cache_busy, 0, __ATOMIC_RELAXED);	/* no owner here */
}
