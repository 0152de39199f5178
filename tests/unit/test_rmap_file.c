/* SPDX-License-Identifier: MIT */
/*
 * test_rmap_file: the reverse map of page-cache pages through the file's
 * i_mmap.  One file is mapped twice in one process at different pgoffs and
 * once in a second process; a page at file index i, mapped in each of
 * them, is found by rmap_walk at every (proc, address) with address =
 * vm_start + ((i - vm_pgoff) << 12) and nowhere else: a mapping that does
 * not cover the index is not returned, nor one that covers it but never
 * faulted the page in.  Moving one mapping with mremap changes the address
 * the walk returns; splitting one with mprotect leaves the walk naming the
 * right piece; unmapping one drops it from the walk, and when every
 * mapping is gone the page and the address_space are freed.
 */
#include <linux/mman.h>
#include "unit.h"

#define A1 BASE				/* P: file pages 0..11 */
#define A2 (BASE + 0x1000000ULL)	/* P: file pages 4..11 */
#define A3 (BASE + 0x2000000ULL)	/* Q: file pages 2..9 */
#define A4 (BASE + 0x3000000ULL)	/* where A2 moves to */

struct setup {
	uint32_t p, q, f;
	struct live_counts empty;
};

static struct setup make_setup(void)
{
	struct setup s;

	s.p = new_proc(0);
	s.q = new_proc(0);
	s.empty = live_all();
	s.f = obj_file_get(0x803, 4242, OBJ_FILE);
	assert_true(s.f != 0);
	assert_int_equal(vma_map(s.p, A1, A1 + 12 * PG, PROT_READ,
				 NS_VMA_SHARED, s.f, 0), 0);
	assert_int_equal(vma_map(s.p, A2, A2 + 8 * PG, RW, NS_VMA_SHARED,
				 s.f, 4), 0);
	assert_int_equal(vma_map(s.q, A3, A3 + 8 * PG, PROT_READ,
				 NS_VMA_SHARED, s.f, 2), 0);
	obj_put(s.f);			/* the VMAs hold theirs */
	assert_int_equal(obj_of(s.f)->refs, 3);
	assert_int_equal(it_is_valid(&vma_imap_ops, obj_of(s.f)->tree), 3);
	assert_mm(s.p, 2);
	assert_mm(s.q, 1);
	return s;
}

/* Maps page-cache page idx of the file wherever a mapping covers it. */
static uint32_t fault_everywhere(const struct setup *s, uint64_t idx)
{
	uint32_t pg = page_cache_get(s->f, idx);
	const uint32_t procs[] = { s->p, s->q };

	assert_true(pg != 0);
	assert_int_equal(page_cache_get(s->f, idx), pg);	/* one per index */
	for (int k = 0; k < 2; k++) {
		struct vma_list l = vmas_of(procs[k]);
		for (int i = 0; i < l.n; i++) {
			uint64_t a = vma_address(l.v[i], idx);
			if (a)
				assert_true(pte_set(procs[k], VPN(a), pg) > 0);
		}
	}
	return pg;
}

static void found_at_every_mapping(void **state)
{
	(void)state;
	struct setup s = make_setup();

	uint32_t pg = fault_everywhere(&s, 5);
	assert_int_equal(page_of(pg)->mapcount, 3);
	assert_false(page_of(pg)->flags & NS_PG_ANON);
	struct mappers m = mappers_of(pg);
	assert_int_equal(m.n, 3);
	assert_true(mappers_has(&m, s.p, A1 + 5 * PG));
	assert_true(mappers_has(&m, s.p, A2 + 1 * PG));
	assert_true(mappers_has(&m, s.q, A3 + 3 * PG));

	/* The formula on every VMA, at the edges too. */
	uint32_t v1 = vma_find(s.p, A1), v2 = vma_find(s.p, A2),
		 v3 = vma_find(s.q, A3);
	assert_int_equal(vma_address(v1, 0), A1);
	assert_int_equal(vma_address(v1, 11), A1 + 11 * PG);
	assert_int_equal(vma_address(v1, 12), 0);
	assert_int_equal(vma_address(v2, 3), 0);
	assert_int_equal(vma_address(v2, 4), A2);
	assert_int_equal(vma_address(v2, 11), A2 + 7 * PG);
	assert_int_equal(vma_address(v2, 12), 0);
	assert_int_equal(vma_address(v3, 1), 0);
	assert_int_equal(vma_address(v3, 2), A3);
	assert_int_equal(vma_address(v3, 10), 0);
}

static void mapping_not_covering_index_not_returned(void **state)
{
	(void)state;
	struct setup s = make_setup();

	/* Index 1: only A1 covers it (A2 starts at 4, A3 at 2). */
	uint32_t pg = fault_everywhere(&s, 1);
	struct mappers m = mappers_of(pg);
	assert_int_equal(m.n, 1);
	assert_true(mappers_has(&m, s.p, A1 + PG));

	/* Index 10: A1 and A2, not A3 (2..9). */
	pg = fault_everywhere(&s, 10);
	m = mappers_of(pg);
	assert_int_equal(m.n, 2);
	assert_true(mappers_has(&m, s.p, A1 + 10 * PG));
	assert_true(mappers_has(&m, s.p, A2 + 6 * PG));

	/* Index 3 faulted in by Q only: P's A1 covers it but has no PTE
	 * there, so the walk must not name P. */
	pg = page_cache_get(s.f, 3);
	assert_true(pte_set(s.q, VPN(A3 + PG), pg) > 0);
	m = mappers_of(pg);
	assert_int_equal(m.n, 1);
	assert_true(mappers_has(&m, s.q, A3 + PG));

	/* A different page at a covering address does not count either. */
	uint32_t other = page_cache_get(s.f, 6);
	assert_true(pte_set(s.p, VPN(A1 + 3 * PG), other) > 0);
	m = mappers_of(pg);
	assert_int_equal(m.n, 1);
}

static void mremap_moves_the_address(void **state)
{
	(void)state;
	struct setup s = make_setup();
	uint32_t pg = fault_everywhere(&s, 5);

	assert_int_equal(vma_remap(s.p, A2, 8 * PG, 8 * PG,
				   MREMAP_MAYMOVE | MREMAP_FIXED, A4), 0);
	assert_mm(s.p, 2);
	uint32_t v = assert_vma(s.p, A4, A4, A4 + 8 * PG, 4);
	assert_int_equal(vma_find(s.p, A2), 0);
	assert_int_equal(vma_of(v)->obj, s.f);
	assert_int_equal(obj_of(s.f)->refs, 4);	/* 3 VMAs + the page */
	assert_int_equal(it_is_valid(&vma_imap_ops, obj_of(s.f)->tree), 3);
	assert_int_equal(page_at(s.p, A4 + PG), pg);
	assert_int_equal(pte_lookup(s.p, VPN(A2 + PG)), 0);
	struct mappers m = mappers_of(pg);
	assert_int_equal(m.n, 3);
	assert_true(mappers_has(&m, s.p, A1 + 5 * PG));
	assert_true(mappers_has(&m, s.p, A4 + PG));
	assert_false(mappers_has(&m, s.p, A2 + PG));
	assert_true(mappers_has(&m, s.q, A3 + 3 * PG));

	/* Move part of Q's mapping (file pages 4..7) and grow it. */
	assert_int_equal(vma_remap(s.q, A3 + 2 * PG, 4 * PG, 6 * PG,
				   MREMAP_MAYMOVE | MREMAP_FIXED, A4 + 0x100000), 0);
	assert_mm(s.q, 3);
	assert_vma(s.q, A4 + 0x100000, A4 + 0x100000, A4 + 0x100000 + 6 * PG, 4);
	m = mappers_of(pg);
	assert_int_equal(m.n, 3);
	assert_true(mappers_has(&m, s.q, A4 + 0x100000 + PG));
	assert_int_equal(it_is_valid(&vma_imap_ops, obj_of(s.f)->tree), 5);
}

static void split_names_the_piece(void **state)
{
	(void)state;
	struct setup s = make_setup();
	uint32_t pg = fault_everywhere(&s, 5);

	assert_int_equal(vma_protect(s.p, A1 + 4 * PG, A1 + 6 * PG, RW), 0);
	assert_mm(s.p, 4);
	uint32_t mid = assert_vma(s.p, A1 + 5 * PG, A1 + 4 * PG, A1 + 6 * PG, 4);
	assert_int_equal(it_is_valid(&vma_imap_ops, obj_of(s.f)->tree), 5);
	struct mappers m = mappers_of(pg);
	assert_int_equal(m.n, 3);
	for (int i = 0; i < m.n; i++)
		if (m.m[i].addr == A1 + 5 * PG)
			assert_int_equal(m.m[i].vma, mid);
	assert_int_equal(vma_protect(s.p, A1 + 4 * PG, A1 + 6 * PG, PROT_READ), 0);
	assert_mm(s.p, 2);
	assert_int_equal(it_is_valid(&vma_imap_ops, obj_of(s.f)->tree), 3);
	assert_int_equal(mappers_of(pg).n, 3);
}

static void unmapping_drops_mappers_then_frees(void **state)
{
	(void)state;
	struct setup s = make_setup();
	uint32_t pg = fault_everywhere(&s, 5);
	uint32_t pg2 = fault_everywhere(&s, 2);

	assert_int_equal(vma_unmap(s.q, A3, A3 + 8 * PG), 0);
	assert_mm(s.q, 0);
	struct mappers m = mappers_of(pg);
	assert_int_equal(m.n, 2);
	assert_false(mappers_has(&m, s.q, A3 + 3 * PG));
	assert_int_equal(page_of(pg)->mapcount, 2);
	assert_int_equal(mappers_of(pg2).n, 1);

	/* A fork does not copy file PTEs (the child refaults them), but its
	 * VMAs join i_mmap and are found once it has. */
	uint32_t c = fork_proc(s.p);
	assert_mm(c, 2);
	assert_int_equal(pte_lookup(c, VPN(A1 + 5 * PG)), 0);
	assert_int_equal(mappers_of(pg).n, 2);
	assert_true(pte_set(c, VPN(A2 + PG), pg) > 0);
	m = mappers_of(pg);
	assert_int_equal(m.n, 3);
	assert_true(mappers_has(&m, c, A2 + PG));
	proc_release(c);

	mm_exit(s.p);
	assert_mm(s.p, 0);
	/* Every page, VMA and the address_space are gone; the file hash
	 * no longer knows it. */
	assert_live_equal(s.empty);
	uint32_t f = obj_file_get(0x803, 4242, OBJ_FILE);
	assert_int_equal(obj_of(f)->refs, 1);
	assert_int_equal(obj_of(f)->tree, 0);
	obj_put(f);
}

/* The page cache keeps an object's pages in tables of NS_PTE_SLOTS
 * offsets: one descriptor per (object, offset), two objects' pages apart,
 * a table per span of offsets in use, gone with the last page in it; an
 * offset past what a descriptor holds is refused. */
static void page_cache_tables(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);
	struct live_counts empty = live_all();
	uint32_t f = obj_file_get(0x803, 1, OBJ_FILE), g = obj_file_get(0x803, 2, OBJ_FILE);
	const uint64_t idx[] = { 0, NS_PTE_SLOTS - 1, NS_PTE_SLOTS, NS_PAGE_INDEX_MAX };
	uint32_t pf[4], pg[4];

	for (int i = 0; i < 4; i++) {
		pf[i] = page_cache_get(f, idx[i]);
		pg[i] = page_cache_get(g, idx[i]);
		assert_true(pf[i] && pg[i] && pf[i] != pg[i]);
		assert_int_equal(page_of(pf[i])->index, idx[i]);
		assert_int_equal(page_of(pg[i])->obj, g);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(page_cache_get(f, idx[i]), pf[i]);
		assert_int_equal(page_cache_get(g, idx[i]), pg[i]);
		for (int j = 0; j < i; j++)
			assert_true(pf[i] != pf[j]);
	}
	assert_int_equal(page_cache_get(f, NS_PAGE_INDEX_MAX + 1), 0);
	assert_int_equal(live(POOL_PTE), empty.n[POOL_PTE] + 6);	/* 3 spans x 2 */

	/* Each page lives while a PTE maps it; then its slot, and the
	 * table with its last slot, are gone. */
	for (int i = 0; i < 4; i++) {
		assert_true(pte_set(p, VPN(BASE) + i, pf[i]) > 0);
		assert_true(pte_set(p, VPN(BASE) + 64 + i, pg[i]) > 0);
	}
	pte_clear_all(p);
	obj_put(f);
	obj_put(g);
	assert_live_equal(empty);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, arena_setup, arena_teardown)
	const struct CMUnitTest tests[] = {
		T(found_at_every_mapping),
		T(mapping_not_covering_index_not_returned),
		T(mremap_moves_the_address),
		T(split_names_the_piece),
		T(unmapping_drops_mappers_then_frees),
		T(page_cache_tables),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
