/* SPDX-License-Identifier: MIT */
/*
 * test_pte: the shadow page tables (runtime/page.c).  PTEs of one process
 * sit in tables of NS_PTE_SLOTS consecutive pages: a table is made by the
 * first PTE in its span and goes with the last; two processes never share
 * one; pte_first()/pte_next() visit every PTE once; pte_clear_range() and
 * pte_move_range() work across table edges (a move keeps each page and
 * its LAZY mark, and leaves the old span empty); replacing a PTE's page
 * keeps its mark and puts the old page; pte_clear_all() leaves nothing.
 * Page descriptors live exactly while a PTE points at them.
 */
#include "unit.h"

#define T NS_PTE_SLOTS

static uint32_t proc_a, proc_b, av;

static int setup(void **state)
{
	if (arena_setup(state))
		return -1;
	proc_a = proc_new(100, 0);
	proc_b = proc_new(200, 0);
	av = anon_vma_alloc(0);
	return proc_a && proc_b && av ? 0 : -1;
}

/* Maps a fresh anonymous page at vpn of proc; returns it. */
static uint32_t put(uint32_t proc, uint64_t vpn)
{
	uint32_t pg = page_new_anon(av, vpn);

	assert_true(pg != 0);
	assert_true(pte_set(proc, vpn, pg) > 0);
	return pg;
}

static int count(uint32_t proc)
{
	int n = 0;

	for (uint32_t t = pte_first(proc); t; t = pte_next(t))
		n++;
	return n;
}

static void tables_come_and_go(void **state)
{
	(void)state;
	uint64_t v = VPN(BASE);
	uint32_t tabs = live(POOL_PTE), pages = live(POOL_PAGE);

	put(proc_a, v);
	put(proc_a, v + T - 1);
	assert_int_equal(live(POOL_PTE), tabs + 1);	/* one span, one table */
	put(proc_a, v + T);
	assert_int_equal(live(POOL_PTE), tabs + 2);	/* the next span */
	put(proc_b, v);
	assert_int_equal(live(POOL_PTE), tabs + 3);	/* never shared */
	assert_int_equal(proc_of(proc_a)->nr_pte, 3);
	assert_int_equal(proc_of(proc_a)->nr_ptab, 2);
	assert_int_equal(count(proc_a), 3);
	assert_int_equal(count(proc_b), 1);

	pte_clear(pte_lookup(proc_a, v + T));
	assert_int_equal(live(POOL_PTE), tabs + 2);
	assert_int_equal(pte_lookup(proc_a, v + T), 0);
	pte_clear(pte_lookup(proc_a, v));
	assert_int_equal(live(POOL_PTE), tabs + 2);	/* v + T - 1 is left */
	assert_true(pte_lookup(proc_a, v + T - 1) != 0);
	assert_int_equal(pte_vpn(pte_lookup(proc_a, v + T - 1)), v + T - 1);
	pte_clear_all(proc_a);
	pte_clear_all(proc_b);
	assert_int_equal(live(POOL_PTE), tabs);
	assert_int_equal(live(POOL_PAGE), pages);
	assert_int_equal(proc_of(proc_a)->pte_head, 0);
	assert_int_equal(proc_of(proc_a)->nr_pte, 0);
}

static void replace_keeps_the_mark(void **state)
{
	(void)state;
	uint64_t v = VPN(BASE) + 5;
	uint32_t old = put(proc_a, v), pages = live(POOL_PAGE);
	uint32_t t = pte_lookup(proc_a, v);

	pte_mark_lazy(t);
	uint32_t copy = page_new_anon(av, v);
	assert_int_equal(pte_set(proc_a, v, copy), (int)t);
	assert_int_equal(pte_page(t), copy);
	assert_int_equal(pte_flags(t), NS_PTE_LAZY);
	assert_int_equal(page_of(copy)->mapcount, 1);
	/* The old page had no other PTE: it is gone. */
	assert_int_equal(live(POOL_PAGE), pages);
	(void)old;
	assert_int_equal(proc_of(proc_a)->nr_pte, 1);
}

static void ranges_across_tables(void **state)
{
	(void)state;
	uint64_t v = VPN(BASE) + T / 2, n = 3 * T;	/* spans 4 tables */
	uint32_t pg[3 * T];

	for (uint64_t i = 0; i < n; i++)
		pg[i] = put(proc_a, v + i);
	pte_mark_lazy(pte_lookup(proc_a, v + T));
	assert_int_equal(count(proc_a), (int)n);

	/* Move the lot far away: every page follows, marks too. */
	uint64_t to = VPN(BASE) + 1000 * T + 7;
	pte_move_range(proc_a, v << NS_PAGE_SHIFT, to << NS_PAGE_SHIFT, n << NS_PAGE_SHIFT);
	for (uint64_t i = 0; i < n; i++) {
		assert_int_equal(pte_lookup(proc_a, v + i), 0);
		uint32_t t = pte_lookup(proc_a, to + i);
		assert_true(t != 0);
		assert_int_equal(pte_page(t), pg[i]);
		assert_int_equal(page_of(pg[i])->mapcount, 1);
		assert_int_equal(pte_flags(t), i == T ? NS_PTE_LAZY : 0);
	}
	assert_int_equal(proc_of(proc_a)->nr_pte, n);

	/* Clear a middle stretch that cuts two tables. */
	uint32_t pages = live(POOL_PAGE);
	pte_clear_range(proc_a, (to + 10) << NS_PAGE_SHIFT, (to + 10 + T + 5) << NS_PAGE_SHIFT);
	assert_int_equal(proc_of(proc_a)->nr_pte, n - T - 5);
	assert_int_equal(live(POOL_PAGE), pages - T - 5);
	assert_int_equal(count(proc_a), (int)(n - T - 5));
	assert_true(pte_lookup(proc_a, to + 9) != 0);
	assert_int_equal(pte_lookup(proc_a, to + 10), 0);
	assert_int_equal(pte_lookup(proc_a, to + 10 + T + 4), 0);
	assert_true(pte_lookup(proc_a, to + 10 + T + 5) != 0);
	pte_clear_all(proc_a);
	assert_int_equal(proc_of(proc_a)->nr_ptab, 0);
}

static void a_copy_shares_pages(void **state)
{
	(void)state;
	uint64_t v = VPN(BASE) + 3;
	uint32_t pg = put(proc_a, v);

	uint32_t pw = put(proc_a, v + 1), t = pte_lookup(proc_a, v) >> NS_PTE_SHIFT;

	/* Only the slots picked are copied, each page once more mapped. */
	assert_int_equal(pte_copy_table(t, proc_b, 1ULL << (v & (NS_PTE_SLOTS - 1))), 0);
	assert_int_equal(page_of(pg)->mapcount, 2);
	assert_int_equal(page_of(pw)->mapcount, 1);
	assert_int_equal(pte_page(pte_lookup(proc_b, v)), pg);
	assert_int_equal(pte_lookup(proc_b, v + 1), 0);
	assert_int_equal(proc_of(proc_b)->nr_pte, 1);
	/* Copied again: nothing changes. */
	assert_int_equal(pte_copy_table(t, proc_b, 1ULL << (v & (NS_PTE_SLOTS - 1))), 0);
	assert_int_equal(page_of(pg)->mapcount, 2);
	assert_int_equal(proc_of(proc_b)->nr_pte, 1);
	pte_clear_all(proc_a);
	assert_int_equal(page_of(pg)->mapcount, 1);
	pte_clear_all(proc_b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(tables_come_and_go, setup, arena_teardown),
		cmocka_unit_test_setup_teardown(replace_keeps_the_mark, setup, arena_teardown),
		cmocka_unit_test_setup_teardown(ranges_across_tables, setup, arena_teardown),
		cmocka_unit_test_setup_teardown(a_copy_shares_pages, setup, arena_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
