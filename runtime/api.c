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

struct mappers {
	struct numashadow_mapper *out;
	int n, max;
};

static int mapper_cb(uint32_t proc, uint32_t vma, uint64_t addr, void *arg)
{
	struct mappers *m = arg;

	(void)vma;
	if (m->n < m->max)
		m->out[m->n] = (struct numashadow_mapper){ proc_of(proc)->pid,
							   (void *)addr };
	m->n++;
	return 0;
}

#define MAX_PLACES 1024

struct places {
	struct { uint32_t proc; uint64_t addr; } at[MAX_PLACES];
	int n;
};

static int place_cb(uint32_t proc, uint32_t vma, uint64_t addr, void *arg)
{
	struct places *pl = arg;

	(void)vma;
	if (pl->n == MAX_PLACES)
		return 1;
	pl->at[pl->n].proc = proc;
	pl->at[pl->n++].addr = addr;
	return 0;
}

/* Learns the page at each place that could map it, in every member: the
 * kernel's rmap walk, in user space - a query costs what the page's
 * mappers cost, not what the family maps.  Dead members met on the way are
 * released.  Lock held; returns false when there were too many places
 * (then the caller learns the members whole). */
static bool sync_places(uint32_t pg)
{
	static struct places pl;	/* under the family lock */

	pl.n = 0;
	if (rmap_walk_places(pg, place_cb, &pl) || pl.n == MAX_PLACES)
		return false;
	for (int i = 0; i < pl.n; i++) {
		uint32_t p = pl.at[i].proc;
		if (!p)
			continue;	/* released below */
		if (p != ns_rt.self && !proc_alive(p)) {
			for (int j = i; j < pl.n; j++)
				if (pl.at[j].proc == p)
					pl.at[j].proc = 0;
			proc_release(p);
			continue;
		}
		if (p == ns_rt.self ||
		    (!proc_of(p)->dirty && proc_of(p)->state == NS_PROC_LIVE))
			page_sync_range(p, pl.at[i].addr, pl.at[i].addr + NS_PAGE_SIZE);
	}
	return true;
}

NS_API int numashadow_page_mappers(const void *addr,
				   struct numashadow_mapper *out, int max)
{
	struct mappers m = { out, 0, max < 0 ? 0 : max };
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
		rmap_walk((uint32_t)pg, mapper_cb, &m);
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
		if (r > 0)
			mapper_cb(p, 0, a, &m);
		else if (r < 0 && !proc_alive(p))
			proc_release(p);
	}
	ns_api_leave();
	return pg < 0 ? pg : pg == 0 ? -ENOENT : m.n;
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
