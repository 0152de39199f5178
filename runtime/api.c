/* SPDX-License-Identifier: MIT */
/*
 * api.c - the public API (include/numashadow.h): each call enters like a
 * hook (ns_api_enter(): the family lock, this process woken if dormant,
 * the shadow caught up) and answers from the shadow, asking the kernel
 * where the shadow may be behind.
 */
#include <errno.h>
#include "internal.h"
#include "numashadow.h"
#include "sys.h"

#define NS_API __attribute__((visibility("default")))

NS_API int numashadow_page_node(const void *addr)
{
	int pg, node;

	if (!ns_api_enter())
		return -ENOSYS;
	pg = page_sync_addr(ns_rt.self, (uint64_t)addr & ~(NS_PAGE_SIZE - 1));
	if (pg <= 0) {
		ns_api_leave();
		return pg < 0 ? pg : -ENOENT;
	}
	node = page_of((uint32_t)pg)->node;
	if (node < 0) {
		void *a = (void *)((uint64_t)addr & ~(NS_PAGE_SIZE - 1));
		int st = -1;
		if (sys_move_pages(0, 1, &a, NULL, &st, 0) == 0 && st >= 0)
			page_of((uint32_t)pg)->node = node = st;
		else
			node = st < 0 ? st : -EIO;
	}
	ns_api_leave();
	return node;
}

/* The page's mappers by the reverse map into out[0, max), a chunk at a
 * time; returns how many there are. */
static int mappers_of(uint32_t pg, struct numashadow_mapper *out, int max)
{
	struct rmap_at at[64];
	int n = 0;

	for (int done = 0;; done += 64) {
		n = rmap_collect(pg, false, at, done, 64);
		for (int i = 0; i < 64 && done + i < n && done + i < max; i++)
			out[done + i] = (struct numashadow_mapper){
				proc_of(at[i].proc)->pid, (void *)at[i].addr };
		if (done + 64 >= n || done + 64 >= max)
			return n;
	}
}

#define MAX_PLACES 1024

/* Learns the page at each place that could map it, in every member: the
 * kernel's rmap walk, in user space - a query costs what the page's
 * mappers cost, not what the family maps.  Dead members met on the way are
 * released.  Lock held; returns false when there were too many places
 * (then the caller learns the members whole). */
static bool sync_places(uint32_t pg)
{
	static struct rmap_at at[MAX_PLACES] NS_BIG;	/* under the family lock */
	int n = rmap_collect(pg, true, at, 0, MAX_PLACES);

	if (n > MAX_PLACES)
		return false;
	for (int i = 0; i < n; i++) {
		uint32_t p = at[i].proc;
		if (!p)
			continue;	/* released below */
		if (p != ns_rt.self && !proc_alive(p)) {
			for (int j = i; j < n; j++)
				if (at[j].proc == p)
					at[j].proc = 0;
			proc_release(p);
			continue;
		}
		if (p == ns_rt.self ||
		    (!proc_of(p)->dirty && proc_of(p)->state == NS_PROC_LIVE))
			page_sync_range(p, at[i].addr, at[i].addr + NS_PAGE_SIZE);
	}
	return true;
}

NS_API int numashadow_page_mappers(const void *addr,
				   struct numashadow_mapper *out, int max)
{
	int n = 0;
	uint64_t a = (uint64_t)addr & ~(NS_PAGE_SIZE - 1);
	uint32_t next;
	int pg;

	if (!ns_api_enter())
		return -ENOSYS;
	pg = page_sync_addr(ns_rt.self, a);
	if (pg > 0 && (page_of((uint32_t)pg)->flags & NS_PG_ZERO))
		pg = 0;
	/* Other members may have broken COW, or mapped it, since they
	 * last told us: look where they could map it. */
	if (pg > 0 && !sync_places((uint32_t)pg)) {
		for (uint32_t p = ns_arena->procs; p; p = next) {
			next = proc_of(p)->next;
			if (p != ns_rt.self && !proc_alive(p))
				proc_release(p);
			else if (!proc_of(p)->dirty && proc_of(p)->state == NS_PROC_LIVE)
				page_sync(p);
		}
	}
	if (pg > 0)
		pg = page_sync_addr(ns_rt.self, a);	/* ours may have changed */
	if (pg > 0 && (page_of((uint32_t)pg)->flags & NS_PG_ZERO))
		pg = 0;
	if (pg > 0)
		n = mappers_of((uint32_t)pg, out, max < 0 ? 0 : max);
	/* Members still dormant have no shadow: their kernel is asked
	 * about the same address (fork keeps addresses). */
	uint64_t mine = 0;
	if (pg > 0)
		pm_read(ns_rt.self, a, &mine);
	for (uint32_t p = ns_arena->procs; pg > 0 && p; p = next) {
		next = proc_of(p)->next;
		if (p == ns_rt.self || !proc_of(p)->unlearned ||
		    proc_of(p)->state != NS_PROC_LIVE)
			continue;
		int r = pm_maps_ours(p, a, mine);
		if (r > 0 && n < max)
			out[n] = (struct numashadow_mapper){ proc_of(p)->pid, (void *)a };
		if (r > 0)
			n++;
		else if (r < 0 && !proc_alive(p))
			proc_release(p);
	}
	ns_api_leave();
	return pg < 0 ? pg : pg == 0 ? -ENOENT : n;
}

NS_API int numashadow_verify(void)
{
	int d;

	if (!ns_api_enter())
		return -ENOSYS;
	d = ns_verify_now(true);
	ns_api_leave();
	return d;
}

NS_API long numashadow_migrate(void *addr, size_t len, int node, unsigned flags)
{
	uint64_t s = (uint64_t)addr;
	long r;

	if (flags & ~(unsigned)(NUMASHADOW_MIGRATE_SYNC | NUMASHADOW_MIGRATE_SHARED))
		return -EINVAL;
	if (s + len < s)
		return -EINVAL;
	if (!ns_api_enter())
		return -ENOSYS;
	ns_api_leave();
	ns_in_runtime = 1;
	r = mig_move_range(s, s + len, node,
			   ((flags & NUMASHADOW_MIGRATE_SYNC) ? NS_MIG_SYNC : 0) |
			   ((flags & NUMASHADOW_MIGRATE_SHARED) ? NS_MIG_SHARED : 0));
	ns_in_runtime = 0;
	return r;
}

NS_API long numashadow_migrate_nodes(uint64_t from, uint64_t to, unsigned flags)
{
	long r;

	if (flags & ~(unsigned)(NUMASHADOW_MIGRATE_SYNC | NUMASHADOW_MIGRATE_SHARED))
		return -EINVAL;
	if (!ns_api_enter())
		return -ENOSYS;
	ns_api_leave();
	ns_in_runtime = 1;
	r = mig_move_nodes(from, to,
			   ((flags & NUMASHADOW_MIGRATE_SYNC) ? NS_MIG_SYNC : 0) |
			   ((flags & NUMASHADOW_MIGRATE_SHARED) ? NS_MIG_SHARED : 0));
	ns_in_runtime = 0;
	return r;
}

NS_API int numashadow_migrate_stats(struct numashadow_migrate_stats *out)
{
	struct ns_mig_counters c;

	if (!out)
		return -EINVAL;
	if (!ns_api_enter())
		return -ENOSYS;
	c = proc_of(ns_rt.self)->mig;
	ns_api_leave();
	*out = (struct numashadow_migrate_stats){
		.calls = c.calls, .moved = c.moved, .already = c.already,
		.failed_shared = c.shared, .failed_not_present = c.not_present,
		.failed_nomem = c.nomem, .failed_fault = c.fault,
		.failed_busy = c.busy, .failed_other = c.other,
		.passes = c.passes };
	return 0;
}

NS_API int numashadow_next_touch(void *addr, size_t len)
{
	uint64_t s = (uint64_t)addr & ~(NS_PAGE_SIZE - 1);
	uint64_t e = NS_PAGE_ALIGN((uint64_t)addr + len);
	long r;

	if (e < s)
		return -EINVAL;
	if (!ns_api_enter())
		return -ENOSYS;
	ns_api_leave();
	ns_in_runtime = 1;
	r = ns_next_touch(s, e);
	ns_in_runtime = 0;
	return (int)r;
}
