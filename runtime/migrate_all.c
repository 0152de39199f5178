/* SPDX-License-Identifier: MIT */
/*
 * migrate_all.c - migrations of the whole program on top of the engine
 * (migrate.c): every VMA it maps, in runs of adjacent VMAs
 * (mig_move_all), and the kernel's migrate_pages(2) for this process,
 * node to node (mig_move_nodes).  Each run is one mig_move_range_from();
 * the family lock is taken here only to list the runs, never held across
 * a move (the engine takes it, and the engine lock, itself).
 */
#include <errno.h>
#include "internal.h"

struct all_ctx {
	uint64_t lo[256], hi[256];
	int n;
};

static int all_cb(uint32_t vma, void *arg)
{
	struct all_ctx *a = arg;
	struct ns_vma *v = vma_of(vma);

	if (a->n == 256)
		return 1;
	if (a->n && a->hi[a->n - 1] == v->start)
		a->hi[a->n - 1] = v->end;
	else {
		a->lo[a->n] = v->start;
		a->hi[a->n++] = v->end;
	}
	return 0;
}

static long move_all(int from, int node, unsigned flags)
{
	struct all_ctx a = { .n = 0 };
	long total = 0, r;
	uint64_t pos = 0;

	do {
		a.n = 0;
		ns_lock();
		vma_walk(ns_rt.self, pos, ~0ULL, all_cb, &a);
		ns_unlock();
		for (int i = 0; i < a.n; i++) {
			r = mig_move_range_from(a.lo[i], a.hi[i], from, node, flags);
			if (r < 0)
				return r;
			total += r;
		}
		pos = a.n ? a.hi[a.n - 1] : ~0ULL;
	} while (a.n == 256);
	return total;
}

long mig_move_all(int node, unsigned flags)
{
	return move_all(-1, node, flags);
}

/*
 * The kernel's migrate_pages(2) for this process: the i-th node of from
 * maps to the i-th node of to (node_remap() for masks of one weight).
 * Pairs go in do_migrate_pages()' order: a source whose target is no
 * longer a source to empty, so no page moves twice.  Both masks list
 * their nodes in ascending order, so the map keeps order and has no
 * cycle: such a source always exists.
 */
long mig_move_nodes(uint64_t from, uint64_t to, unsigned flags)
{
	uint64_t left = 0, t = to;
	int map[64];
	long total = 0, r;

	if (!from || __builtin_popcountll(from) != __builtin_popcountll(to) ||
	    ((from | to) & ~numa_online()))
		return -EINVAL;
	for (int s = 0; s < 64; s++) {
		if (!(from >> s & 1))
			continue;
		map[s] = __builtin_ctzll(t);
		t &= t - 1;
		if (map[s] != s)	/* pages already where they go stay */
			left |= 1ULL << s;
	}
	while (left) {
		int s = __builtin_ctzll(left);

		for (uint64_t m = left; m; m &= m - 1)
			if (!(left >> map[__builtin_ctzll(m)] & 1)) {
				s = __builtin_ctzll(m);
				break;
			}
		left &= ~(1ULL << s);
		r = move_all(s, map[s], flags);
		if (r < 0)
			return r;
		total += r;
	}
	return total;
}
