/* SPDX-License-Identifier: MIT */
/*
 * test_pool: the arena's typed pools.  A record comes out zeroed however
 * it was left, index 0 is never handed out (it means "none" everywhere),
 * a freed index is handed out again before the high-water mark moves (the
 * free list is last in, first out), live counts follow alloc and free,
 * pools do not overlap each other or the hash tables, and a full pool
 * answers 0 instead of writing past its end (shown on the proc pool, the
 * smallest, by allocating all of it).
 */
#include <string.h>
#include "unit.h"

static bool all_zero(enum ns_pool_id id, uint32_t idx)
{
	const unsigned char *p = pool_rec(id, idx);

	for (uint32_t i = 0; i < ns_arena->pool[id].size; i++)
		if (p[i])
			return false;
	return true;
}

static void alloc_is_zeroed_and_nonzero(void **state)
{
	(void)state;
	for (int id = 0; id < NR_POOLS; id++) {
		uint32_t before = live(id);
		uint32_t a = pool_alloc(id), b = pool_alloc(id);
		assert_true(a != 0 && b != 0 && a != b);
		assert_true(all_zero(id, a) && all_zero(id, b));
		assert_int_equal(live(id), before + 2);
		pool_free(id, a);
		pool_free(id, b);
		assert_int_equal(live(id), before);
	}
}

static void freed_record_is_reused_zeroed(void **state)
{
	(void)state;
	uint32_t a = pool_alloc(POOL_VMA), b = pool_alloc(POOL_VMA);
	uint32_t used = ns_arena->pool[POOL_VMA].used;

	memset(pool_rec(POOL_VMA, a), 0xa5, ns_arena->pool[POOL_VMA].size);
	memset(pool_rec(POOL_VMA, b), 0x5a, ns_arena->pool[POOL_VMA].size);
	pool_free(POOL_VMA, a);
	pool_free(POOL_VMA, b);
	/* Last freed, first reused; the high-water mark stays. */
	assert_int_equal(pool_alloc(POOL_VMA), b);
	assert_true(all_zero(POOL_VMA, b));
	assert_int_equal(pool_alloc(POOL_VMA), a);
	assert_true(all_zero(POOL_VMA, a));
	assert_int_equal(ns_arena->pool[POOL_VMA].used, used);
	/* Only then does the pool grow. */
	assert_int_equal(pool_alloc(POOL_VMA), used);
	assert_int_equal(live(POOL_VMA), 3);
}

static void pools_do_not_overlap(void **state)
{
	(void)state;
	uint64_t hash_end = ns_arena->pc_hash_off + NS_PC_HASH * sizeof(uint32_t);

	assert_true(ns_arena->pte_hash_off >= sizeof(struct ns_arena));
	assert_true(ns_arena->pte_hash_off + NS_PTE_HASH * sizeof(uint32_t) <=
		    ns_arena->pc_hash_off);
	for (int id = 0; id < NR_POOLS; id++) {
		struct ns_pool *p = &ns_arena->pool[id];
		uint64_t end = p->off + (uint64_t)p->cap * p->size;
		assert_true(p->off >= hash_end);
		assert_true(end <= ns_arena->size);
		for (int j = 0; j < NR_POOLS; j++) {
			struct ns_pool *q = &ns_arena->pool[j];
			if (j != id)
				assert_true(q->off >= end ||
					    q->off + (uint64_t)q->cap * q->size <= p->off);
		}
	}
}

static void full_pool_returns_zero(void **state)
{
	(void)state;
	uint32_t cap = ns_arena->pool[POOL_PROC].cap, n = 0, i, last = 0;

	while ((i = pool_alloc(POOL_PROC))) {
		assert_true(i < cap);
		/* The last record must be writable: it lies inside the arena. */
		memset(pool_rec(POOL_PROC, i), 0xff, sizeof(struct ns_proc));
		last = i;
		n++;
	}
	assert_int_equal(n, cap - 1);
	assert_int_equal(live(POOL_PROC), cap - 1);
	assert_int_equal(pool_alloc(POOL_PROC), 0);
	assert_int_equal(live(POOL_PROC), cap - 1);
	/* A free makes exactly one record available again. */
	pool_free(POOL_PROC, last);
	assert_int_equal(pool_alloc(POOL_PROC), last);
	assert_true(all_zero(POOL_PROC, last));
	assert_int_equal(pool_alloc(POOL_PROC), 0);
	/* A full pool leaves the others alone. */
	assert_true(pool_alloc(POOL_OBJ) != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(alloc_is_zeroed_and_nonzero,
						arena_setup, arena_teardown),
		cmocka_unit_test_setup_teardown(freed_record_is_reused_zeroed,
						arena_setup, arena_teardown),
		cmocka_unit_test_setup_teardown(pools_do_not_overlap,
						arena_setup, arena_teardown),
		cmocka_unit_test_setup_teardown(full_pool_returns_zero,
						arena_setup, arena_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
