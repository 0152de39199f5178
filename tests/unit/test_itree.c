/* SPDX-License-Identifier: MIT */
/*
 * test_itree: the one interval tree on its own, over a local array of
 * records with an embedded it_node (the same shape as VMAs and AVCs in the
 * arena).  A fixed-seed run of about 2000 random inserts and removes, with
 * records reused under new intervals, is checked after every operation
 * against a brute-force list: it_is_valid() must count exactly the live
 * records, it_query() must report every overlapping interval once and no
 * other, in ascending start order, and it_first() must return an
 * overlapping interval with the smallest start.  Separate cases cover many
 * equal starts, the ends of the 64-bit range, an empty tree, a callback
 * that stops the walk, and the checker catching a corrupted node.
 */
#include <errno.h>
#include <string.h>
#include "unit.h"

#define NREC 400

struct rec {
	uint64_t tag;		/* something before the node, as in real records */
	struct it_node node;
	bool in;		/* in the tree, for the brute-force side */
};

static struct rec recs[NREC + 1];	/* index 0 unused, as in the pools */
static const struct it_ops ops = { (char *)recs, sizeof(struct rec),
				   offsetof(struct rec, node) };
static uint32_t root;

static int reset(void **state)
{
	(void)state;
	memset(recs, 0, sizeof(recs));
	root = 0;
	return 0;
}

/* xorshift64*: fixed seed, same sequence on every run. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (rng * 0x2545f4914f6cdd1dULL) % n;
}

static void add(uint32_t i, uint64_t start, uint64_t last)
{
	assert_false(recs[i].in);
	recs[i].node.start = start;
	recs[i].node.last = last;
	recs[i].tag = start ^ last;
	it_insert(&ops, &root, i);
	recs[i].in = true;
}

static void del(uint32_t i)
{
	assert_true(recs[i].in);
	it_remove(&ops, &root, i);
	recs[i].in = false;
}

static long count_in(void)
{
	long n = 0;

	for (uint32_t i = 1; i <= NREC; i++)
		n += recs[i].in;
	return n;
}

static bool overlaps(uint32_t i, uint64_t qs, uint64_t ql)
{
	return recs[i].node.start <= ql && recs[i].node.last >= qs;
}

struct got {
	int n;
	uint32_t idx[NREC];
};

static int got_cb(uint32_t idx, void *arg)
{
	struct got *g = arg;

	assert_true(idx >= 1 && idx <= NREC);
	assert_true(g->n < NREC);
	g->idx[g->n++] = idx;
	return 0;
}

/* it_query and it_first on [qs, ql] agree with the brute-force list. */
static void check_query(uint64_t qs, uint64_t ql)
{
	struct got g = { 0 };
	bool seen[NREC + 1] = { false };
	int want = 0;
	uint64_t min_start = UINT64_MAX;

	assert_int_equal(it_query(&ops, root, qs, ql, got_cb, &g), 0);
	for (int k = 0; k < g.n; k++) {
		uint32_t i = g.idx[k];
		assert_true(recs[i].in);
		assert_true(overlaps(i, qs, ql));
		assert_false(seen[i]);
		seen[i] = true;
		if (k)
			assert_true(recs[g.idx[k - 1]].node.start <=
				    recs[i].node.start);
	}
	for (uint32_t i = 1; i <= NREC; i++)
		if (recs[i].in && overlaps(i, qs, ql)) {
			want++;
			assert_true(seen[i]);
			if (recs[i].node.start < min_start)
				min_start = recs[i].node.start;
		}
	assert_int_equal(g.n, want);

	uint32_t f = it_first(&ops, root, qs, ql);
	if (!want) {
		assert_int_equal(f, 0);
	} else {
		assert_true(f && recs[f].in && overlaps(f, qs, ql));
		assert_int_equal(recs[f].node.start, min_start);
	}
}

static void check_all(int queries, uint64_t span)
{
	assert_int_equal(it_is_valid(&ops, root), count_in());
	for (int q = 0; q < queries; q++) {
		uint64_t qs = rnd(span), ql = qs + rnd(span / 8);
		check_query(qs, ql);
	}
	check_query(0, UINT64_MAX);
}

static void random_ops_match_brute_force(void **state)
{
	long peak = 0;

	(void)state;
	rng = 0x9e3779b97f4a7c15ULL;
	for (int op = 0; op < 2000; op++) {
		uint32_t i = 1 + (uint32_t)rnd(NREC);
		/* Lean towards inserting early so the tree grows large, then
		 * churn; a record is reused with a new interval, as a VMA is
		 * when vma_set_range moves it. */
		if (!recs[i].in && rnd(100) < (op < 1000 ? 75 : 50)) {
			uint64_t s = rnd(2000);
			add(i, s, s + rnd(60));
		} else if (recs[i].in) {
			del(i);
		}
		check_all(3, 2100);
		if (count_in() > peak)
			peak = count_in();
	}
	/* The run must have built a tree deep enough to matter. */
	assert_true(peak >= 120);
	/* Empty it completely, checking as it shrinks. */
	for (uint32_t i = 1; i <= NREC; i++)
		if (recs[i].in) {
			del(i);
			check_all(1, 2100);
		}
	assert_int_equal(root, 0);
}

static void duplicate_starts(void **state)
{
	(void)state;
	rng = 12345;
	/* 150 intervals all starting at 1000 with different ends, mixed with
	 * others starting just before and after. */
	for (uint32_t i = 1; i <= 150; i++)
		add(i, 1000, 1000 + rnd(100));
	for (uint32_t i = 151; i <= 200; i++) {
		uint64_t s = 990 + rnd(20);
		add(i, s, s + rnd(5));
	}
	check_all(0, 1);
	for (uint64_t q = 985; q <= 1110; q++)
		check_query(q, q);
	check_query(0, 999);
	check_query(1100, 2000);

	/* Remove every other one of the equal-start intervals. */
	for (uint32_t i = 1; i <= 150; i += 2)
		del(i);
	assert_int_equal(it_is_valid(&ops, root), count_in());
	for (uint64_t q = 985; q <= 1110; q++)
		check_query(q, q);

	/* it_first among equal starts still returns one of them. */
	uint32_t f = it_first(&ops, root, 1000, 1000);
	assert_true(f);
	assert_true(recs[f].node.start <= 1000);
}

static void it_first_smallest_start(void **state)
{
	(void)state;
	add(1, 50, 60);
	add(2, 10, 100);	/* overlaps everything from 10 to 100 */
	add(3, 30, 35);
	add(4, 200, 300);
	assert_int_equal(it_first(&ops, root, 55, 55), 2);
	assert_int_equal(it_first(&ops, root, 101, 150), 0);
	assert_int_equal(it_first(&ops, root, 150, 250), 4);
	assert_int_equal(it_first(&ops, root, 0, 9), 0);
	assert_int_equal(it_first(&ops, root, 0, 10), 2);
	del(2);
	assert_int_equal(it_first(&ops, root, 55, 55), 1);
	assert_int_equal(it_first(&ops, root, 31, 55), 3);
	assert_int_equal(it_first(&ops, root, 36, 49), 0);
}

static void range_ends(void **state)
{
	(void)state;
	/* vma_walk asks for [0, ~0]; a stack VMA ends near the top. */
	add(1, 0, UINT64_MAX);
	add(2, UINT64_MAX - 1, UINT64_MAX);
	add(3, 0, 0);
	add(4, UINT64_MAX, UINT64_MAX);
	check_all(0, 1);
	check_query(UINT64_MAX, UINT64_MAX);
	check_query(0, 0);
	check_query(1, UINT64_MAX - 2);
	del(1);
	check_query(UINT64_MAX, UINT64_MAX);
	check_query(1, UINT64_MAX - 2);
	assert_int_equal(it_first(&ops, root, 1, UINT64_MAX - 2), 0);
	assert_int_equal(it_is_valid(&ops, root), 3);
}

static void empty_tree(void **state)
{
	struct got g = { 0 };

	(void)state;
	assert_int_equal(it_is_valid(&ops, 0), 0);
	assert_int_equal(it_query(&ops, 0, 0, UINT64_MAX, got_cb, &g), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(it_first(&ops, 0, 0, UINT64_MAX), 0);
	/* One in, one out: back to empty. */
	add(7, 5, 9);
	assert_int_equal(it_is_valid(&ops, root), 1);
	del(7);
	assert_int_equal(root, 0);
}

struct stopper {
	int calls, stop_at;
	uint64_t last_start;
};

static int stop_cb(uint32_t idx, void *arg)
{
	struct stopper *s = arg;

	s->calls++;
	s->last_start = recs[idx].node.start;
	return s->calls == s->stop_at ? 7 : 0;
}

static void callback_stops_walk(void **state)
{
	struct stopper s = { 0, 3, 0 };

	(void)state;
	for (uint32_t i = 1; i <= 10; i++)
		add(i, i * 10, i * 10 + 100);
	assert_int_equal(it_query(&ops, root, 0, UINT64_MAX, stop_cb, &s), 7);
	assert_int_equal(s.calls, 3);
	assert_int_equal(s.last_start, 30);	/* the third in start order */
}

static void checker_catches_corruption(void **state)
{
	(void)state;
	for (uint32_t i = 1; i <= 20; i++)
		add(i, i * 3, i * 3 + 4);
	assert_int_equal(it_is_valid(&ops, root), 20);
	uint64_t saved = recs[root].node.sub_last;
	recs[root].node.sub_last = saved + 1;
	assert_int_equal(it_is_valid(&ops, root), -EINVAL);
	recs[root].node.sub_last = saved;
	/* A start moved without remove/insert breaks the order. */
	uint32_t l = recs[root].node.left ? recs[root].node.left
					  : recs[root].node.right;
	assert_true(l);
	uint64_t s = recs[l].node.start;
	recs[l].node.start = recs[root].node.left ? 1000 : 0;
	recs[l].node.last = recs[l].node.start + 1;
	assert_int_equal(it_is_valid(&ops, root), -EINVAL);
	recs[l].node.start = s;
	recs[l].node.last = s + 4;
	assert_int_equal(it_is_valid(&ops, root), 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(random_ops_match_brute_force, reset),
		cmocka_unit_test_setup(duplicate_starts, reset),
		cmocka_unit_test_setup(it_first_smallest_start, reset),
		cmocka_unit_test_setup(range_ends, reset),
		cmocka_unit_test_setup(empty_tree, reset),
		cmocka_unit_test_setup(callback_stops_walk, reset),
		cmocka_unit_test_setup(checker_catches_corruption, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
