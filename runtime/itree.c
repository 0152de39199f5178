/* SPDX-License-Identifier: MIT */
/*
 * itree.c - the one interval tree, used for a proc's VMAs, a file's i_mmap
 * and an anon_vma's AVCs (the kernel uses one generic tree the same way).
 *
 * A treap keyed by (start, index) with each node's priority a hash of its
 * index, augmented with the largest `last` of each subtree.  Nodes live in
 * arena pools and link by index, so the tree means the same in every
 * process of the family.  Recursion depth is the tree height: O(log n)
 * expected, tens of frames.
 */
#include <errno.h>
#include "internal.h"

#define N(ops, i) ((struct it_node *)((ops)->base + (size_t)(i) * (ops)->stride + (ops)->off))

static inline uint32_t prio(uint32_t i)
{
	i ^= i >> 16;
	i *= 0x7feb352dU;
	i ^= i >> 15;
	i *= 0x846ca68bU;
	i ^= i >> 16;
	return i;
}

static inline bool key_less(const struct it_ops *ops, uint32_t a, uint32_t b)
{
	uint64_t sa = N(ops, a)->start, sb = N(ops, b)->start;
	return sa < sb || (sa == sb && a < b);
}

static void fix(const struct it_ops *ops, uint32_t i)
{
	struct it_node *n = N(ops, i);
	uint64_t m = n->last;

	if (n->left && N(ops, n->left)->sub_last > m)
		m = N(ops, n->left)->sub_last;
	if (n->right && N(ops, n->right)->sub_last > m)
		m = N(ops, n->right)->sub_last;
	n->sub_last = m;
}

/* Splits t into keys < k (*l) and keys >= k (*r). */
static void split(const struct it_ops *ops, uint32_t t, uint32_t k,
		  uint32_t *l, uint32_t *r)
{
	if (!t) {
		*l = *r = 0;
		return;
	}
	if (key_less(ops, t, k)) {
		split(ops, N(ops, t)->right, k, &N(ops, t)->right, r);
		*l = t;
	} else {
		split(ops, N(ops, t)->left, k, l, &N(ops, t)->left);
		*r = t;
	}
	fix(ops, t);
}

static uint32_t merge(const struct it_ops *ops, uint32_t l, uint32_t r)
{
	if (!l || !r)
		return l ? l : r;
	if (prio(l) > prio(r)) {
		N(ops, l)->right = merge(ops, N(ops, l)->right, r);
		fix(ops, l);
		return l;
	}
	N(ops, r)->left = merge(ops, l, N(ops, r)->left);
	fix(ops, r);
	return r;
}

typedef uint32_t (*it_step)(const struct it_ops *ops, uint32_t t, uint32_t i);

/* Applies step to the subtree of t on node i's side, then fixes t. */
static uint32_t descend(const struct it_ops *ops, uint32_t t, uint32_t i, it_step step)
{
	if (key_less(ops, i, t))
		N(ops, t)->left = step(ops, N(ops, t)->left, i);
	else
		N(ops, t)->right = step(ops, N(ops, t)->right, i);
	fix(ops, t);
	return t;
}

static uint32_t insert(const struct it_ops *ops, uint32_t t, uint32_t i)
{
	uint32_t l, r;

	if (!t)
		return i;
	if (prio(i) > prio(t)) {
		split(ops, t, i, &l, &r);
		N(ops, i)->left = l;
		N(ops, i)->right = r;
		fix(ops, i);
		return i;
	}
	return descend(ops, t, i, insert);
}

void it_insert(const struct it_ops *ops, uint32_t *root, uint32_t idx)
{
	struct it_node *n = N(ops, idx);

	n->left = n->right = 0;
	n->sub_last = n->last;
	*root = insert(ops, *root, idx);
}

static uint32_t remove_rec(const struct it_ops *ops, uint32_t t, uint32_t i)
{
	if (!t)
		return 0;	/* not found: the caller's bug, caught by it_is_valid */
	if (t == i)
		return merge(ops, N(ops, t)->left, N(ops, t)->right);
	return descend(ops, t, i, remove_rec);
}

void it_remove(const struct it_ops *ops, uint32_t *root, uint32_t idx)
{
	*root = remove_rec(ops, *root, idx);
	N(ops, idx)->left = N(ops, idx)->right = 0;
}

int it_query(const struct it_ops *ops, uint32_t t, uint64_t qs, uint64_t ql,
	     it_cb cb, void *arg)
{
	int ret;

	if (!t || N(ops, t)->sub_last < qs)
		return 0;
	struct it_node *n = N(ops, t);
	if ((ret = it_query(ops, n->left, qs, ql, cb, arg)))
		return ret;
	if (n->start > ql)
		return 0;	/* everything to the right starts later still */
	if (n->last >= qs && (ret = cb(t, arg)))
		return ret;
	return it_query(ops, n->right, qs, ql, cb, arg);
}

static int first_cb(uint32_t idx, void *arg)
{
	*(uint32_t *)arg = idx;
	return 1;
}

uint32_t it_first(const struct it_ops *ops, uint32_t root, uint64_t qs,
		  uint64_t ql)
{
	uint32_t found = 0;

	it_query(ops, root, qs, ql, first_cb, &found);
	return found;
}

static long valid_rec(const struct it_ops *ops, uint32_t t, uint32_t lo,
		      uint32_t hi)
{
	if (!t)
		return 0;
	struct it_node *n = N(ops, t);
	if (n->start > n->last)
		return -EINVAL;
	if ((lo && !key_less(ops, lo, t)) || (hi && !key_less(ops, t, hi)))
		return -EINVAL;
	if ((n->left && prio(n->left) > prio(t)) ||
	    (n->right && prio(n->right) > prio(t)))
		return -EINVAL;
	uint64_t m = n->last;
	if (n->left && N(ops, n->left)->sub_last > m)
		m = N(ops, n->left)->sub_last;
	if (n->right && N(ops, n->right)->sub_last > m)
		m = N(ops, n->right)->sub_last;
	if (m != n->sub_last)
		return -EINVAL;
	long a = valid_rec(ops, n->left, lo, t);
	long b = valid_rec(ops, n->right, t, hi);
	if (a < 0 || b < 0)
		return -EINVAL;
	return a + b + 1;
}

long it_is_valid(const struct it_ops *ops, uint32_t root)
{
	return valid_rec(ops, root, 0, 0);
}
