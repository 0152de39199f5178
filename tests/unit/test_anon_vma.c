/* SPDX-License-Identifier: MIT */
/*
 * test_anon_vma: anon_vma and anon_vma_chain across a chain of forks, as
 * mm/rmap.c builds them.  A parent VMA with one page is forked into a
 * child, the child into a grandchild: the VMAs hold one, two and three
 * AVCs, the anon_vmas form a hierarchy rooted at the parent's, and the
 * parent's page is found in all three processes at the same address.
 * After the child breaks COW (a new page in its own anon_vma) the parent's
 * page is found in the parent and grandchild only and the child's copy in
 * the child only; a page the grandchild creates is found from the
 * grandchild alone.  Splitting and moving VMAs after fork keeps every walk
 * right; processes exiting in either order leave the rest consistent; and
 * when all are gone every anon_vma, AVC, page and PTE is back in its pool.
 * A first fault next to a compatible VMA reuses its anon_vma, as the
 * kernel's anon_vma_prepare() does.
 */
#include <linux/mman.h>
#include "unit.h"

#define B BASE
#define ADDR (B + PG)		/* the shared page */
#define IDX (VPN(B) + 1)	/* its index */

struct family {
	uint32_t p, c, g;	/* parent, child, grandchild */
	uint32_t pv, cv, gv;	/* their VMAs at B */
	uint32_t page;		/* the parent's page at ADDR */
	struct live_counts empty;	/* before anything was mapped */
};

/* Parent with a four-page VMA and a page at ADDR, forked twice. */
static struct family make_family(void)
{
	struct family f;

	f.p = new_proc(0);
	f.empty = live_all();
	map_anon(f.p, B, B + 4 * PG, RW);
	f.page = touch_anon(f.p, ADDR);
	f.c = fork_proc(f.p);
	f.g = fork_proc(f.c);
	f.pv = vma_find(f.p, B);
	f.cv = vma_find(f.c, B);
	f.gv = vma_find(f.g, B);
	assert_true(f.pv && f.cv && f.gv);
	assert_mm(f.p, 1);
	assert_mm(f.c, 1);
	assert_mm(f.g, 1);
	return f;
}

/* The page's mappers are exactly the listed procs, each at ADDR. */
static void assert_mapped_by(uint32_t page, int n, const uint32_t *procs)
{
	struct mappers m = mappers_of(page);

	assert_int_equal(m.n, n);
	for (int i = 0; i < n; i++)
		assert_true(mappers_has(&m, procs[i], ADDR));
	assert_int_equal(page_of(page)->mapcount, n);
}

static void chain_lengths_and_hierarchy(void **state)
{
	(void)state;
	struct family f = make_family();
	uint32_t pav = vma_of(f.pv)->anon_vma, cav = vma_of(f.cv)->anon_vma,
		 gav = vma_of(f.gv)->anon_vma;

	assert_int_equal(avc_count(f.pv), 1);
	assert_int_equal(avc_count(f.cv), 2);
	assert_int_equal(avc_count(f.gv), 3);
	assert_true(pav && cav && gav);
	assert_true(pav != cav && cav != gav && pav != gav);
	assert_int_equal(obj_of(pav)->parent, 0);
	assert_int_equal(obj_of(pav)->root, pav);
	assert_int_equal(obj_of(cav)->parent, pav);
	assert_int_equal(obj_of(cav)->root, pav);
	assert_int_equal(obj_of(gav)->parent, cav);
	assert_int_equal(obj_of(gav)->root, pav);
	/* Each anon_vma's tree holds the VMAs that may map its pages: the
	 * parent's all three, the child's two, the grandchild's its own. */
	assert_int_equal(it_is_valid(&avc_ops, obj_of(pav)->tree), 3);
	assert_int_equal(it_is_valid(&avc_ops, obj_of(cav)->tree), 2);
	assert_int_equal(it_is_valid(&avc_ops, obj_of(gav)->tree), 1);
	/* The grandchild's VMA reaches all three anon_vmas. */
	bool seen[3] = { false };
	for (uint32_t a = vma_of(f.gv)->avc_head; a; a = avc_of(a)->next) {
		assert_int_equal(avc_of(a)->vma, f.gv);
		seen[0] |= avc_of(a)->anon_vma == pav;
		seen[1] |= avc_of(a)->anon_vma == cav;
		seen[2] |= avc_of(a)->anon_vma == gav;
	}
	assert_true(seen[0] && seen[1] && seen[2]);
}

static void shared_page_found_in_all(void **state)
{
	(void)state;
	struct family f = make_family();
	uint32_t all[] = { f.p, f.c, f.g };

	assert_int_equal(page_at(f.c, ADDR), f.page);
	assert_int_equal(page_at(f.g, ADDR), f.page);
	assert_mapped_by(f.page, 3, all);
	struct mappers m = mappers_of(f.page);
	for (int i = 0; i < m.n; i++)
		assert_int_equal(m.m[i].vma, vma_find(m.m[i].proc, ADDR));
	/* Nothing else was copied: the other pages were never touched. */
	assert_int_equal(proc_of(f.c)->nr_pte, 1);
	assert_int_equal(proc_of(f.g)->nr_pte, 1);
}

static void cow_in_child(void **state)
{
	(void)state;
	struct family f = make_family();

	uint32_t cp = touch_anon(f.c, ADDR);	/* COW break in the child */
	assert_int_equal(page_of(cp)->obj, vma_of(f.cv)->anon_vma);
	assert_int_equal(page_of(cp)->index, IDX);
	uint32_t pg[] = { f.p, f.g }, ch[] = { f.c };
	assert_mapped_by(f.page, 2, pg);
	assert_mapped_by(cp, 1, ch);

	/* A page the grandchild creates after fork: found from it alone. */
	uint32_t gp = touch_anon(f.g, B + 2 * PG);
	assert_int_equal(page_of(gp)->obj, vma_of(f.gv)->anon_vma);
	struct mappers m = mappers_of(gp);
	assert_int_equal(m.n, 1);
	assert_true(mappers_has(&m, f.g, B + 2 * PG));

	/* The grandchild breaks COW too: the parent's page is its own. */
	uint32_t gq = touch_anon(f.g, ADDR);
	uint32_t pp[] = { f.p }, gg[] = { f.g };
	assert_mapped_by(f.page, 1, pp);
	assert_mapped_by(gq, 1, gg);
	assert_mapped_by(cp, 1, ch);
	assert_mm(f.p, 1);
	assert_mm(f.c, 1);
	assert_mm(f.g, 1);
}

static void child_exits(void **state)
{
	(void)state;
	struct family f = make_family();
	uint32_t cp = touch_anon(f.c, ADDR);
	uint32_t gp = touch_anon(f.g, B + 2 * PG);
	uint32_t cav = vma_of(f.cv)->anon_vma;
	uint32_t pages = live(POOL_PAGE);

	mm_exit(f.c);
	assert_mm(f.c, 0);
	assert_int_equal(proc_of(f.c)->nr_pte, 0);
	assert_int_equal(live(POOL_PAGE), pages - 1);	/* cp was the child's */
	(void)cp;
	assert_mm(f.p, 1);
	assert_mm(f.g, 1);
	assert_int_equal(avc_count(f.pv), 1);
	assert_int_equal(avc_count(f.gv), 3);
	/* The child's anon_vma lives on: the grandchild links it and its own
	 * anon_vma was forked from it. */
	assert_int_equal(obj_of(cav)->kind, OBJ_ANON);
	assert_int_equal(it_is_valid(&avc_ops, obj_of(cav)->tree), 1);
	uint32_t both[] = { f.p, f.g };
	assert_mapped_by(f.page, 2, both);
	struct mappers m = mappers_of(gp);
	assert_int_equal(m.n, 1);
	assert_true(mappers_has(&m, f.g, B + 2 * PG));

	/* The grandchild forks again: the chain grows from what is left (the
	 * model always gives a forked VMA an anon_vma of its own, n forks
	 * deep means n + 1 AVCs; the kernel may instead reuse the child's
	 * now idle anon_vma, which changes no walk). */
	uint32_t gg = fork_proc(f.g);
	assert_int_equal(avc_count(vma_find(gg, B)), 4);
	uint32_t three[] = { f.p, f.g, gg };
	assert_mapped_by(f.page, 3, three);

	proc_release(gg);
	proc_release(f.g);
	proc_release(f.c);
	mm_exit(f.p);
	assert_live_equal(f.empty);
}

static void parent_exits_first(void **state)
{
	(void)state;
	struct family f = make_family();
	uint32_t pav = vma_of(f.pv)->anon_vma;

	mm_exit(f.p);
	assert_mm(f.p, 0);
	/* The page and its anon_vma stay for the descendants. */
	assert_int_equal(obj_of(pav)->kind, OBJ_ANON);
	assert_int_equal(it_is_valid(&avc_ops, obj_of(pav)->tree), 2);
	uint32_t cg[] = { f.c, f.g };
	assert_mapped_by(f.page, 2, cg);
	mm_exit(f.c);
	uint32_t g[] = { f.g };
	assert_mapped_by(f.page, 1, g);
	assert_mm(f.g, 1);
	assert_int_equal(avc_count(f.gv), 3);
	mm_exit(f.g);
	proc_release(f.c);
	proc_release(f.g);
	assert_live_equal(f.empty);
}

static void everything_freed(void **state)
{
	(void)state;
	struct family f = make_family();

	touch_anon(f.c, ADDR);
	touch_anon(f.g, B + 2 * PG);
	touch_anon(f.p, B + 3 * PG);
	assert_true(live(POOL_OBJ) >= f.empty.n[POOL_OBJ] + 3);
	assert_int_equal(live(POOL_AVC), f.empty.n[POOL_AVC] + 6);
	proc_release(f.c);
	proc_release(f.p);
	proc_release(f.g);
	assert_int_equal(live(POOL_PROC), f.empty.n[POOL_PROC] - 1);
	f.empty.n[POOL_PROC]--;	/* the parent was counted in it */
	assert_live_equal(f.empty);
}

static void split_after_fork(void **state)
{
	(void)state;
	struct family f = make_family();

	/* mprotect in the grandchild cuts its VMA in three; every piece keeps
	 * all three AVCs, keyed by its own range. */
	assert_int_equal(vma_protect(f.g, ADDR, ADDR + PG, PROT_READ), 0);
	assert_mm(f.g, 3);
	struct vma_list l = vmas_of(f.g);
	for (int i = 0; i < l.n; i++)
		assert_int_equal(avc_count(l.v[i]), 3);
	uint32_t pav = vma_of(f.pv)->anon_vma;
	assert_int_equal(it_is_valid(&avc_ops, obj_of(pav)->tree), 5);
	uint32_t all[] = { f.p, f.c, f.g };
	assert_mapped_by(f.page, 3, all);
	struct mappers m = mappers_of(f.page);
	for (int i = 0; i < m.n; i++)
		if (m.m[i].proc == f.g)
			assert_int_equal(m.m[i].vma, l.v[1]);

	/* Back to one VMA: the pieces share their anon_vmas and merge. */
	assert_int_equal(vma_protect(f.g, ADDR, ADDR + PG, RW), 0);
	assert_mm(f.g, 1);
	assert_int_equal(avc_count(vma_find(f.g, B)), 3);
	assert_int_equal(it_is_valid(&avc_ops, obj_of(pav)->tree), 3);
	assert_mapped_by(f.page, 3, all);
}

static void mremap_in_child_after_fork(void **state)
{
	(void)state;
	struct family f = make_family();
	const uint64_t n = BASE + 0x100000000ULL;

	assert_int_equal(vma_remap(f.c, B, 4 * PG, 4 * PG,
				   MREMAP_MAYMOVE | MREMAP_FIXED, n), 0);
	assert_mm(f.c, 1);
	uint32_t v = assert_vma(f.c, n, n, n + 4 * PG, VPN(B));
	assert_int_equal(avc_count(v), 2);
	struct mappers m = mappers_of(f.page);
	assert_int_equal(m.n, 3);
	assert_true(mappers_has(&m, f.p, ADDR));
	assert_true(mappers_has(&m, f.c, n + PG));
	assert_true(mappers_has(&m, f.g, ADDR));
	assert_int_equal(vma_address(v, IDX), n + PG);
}

static void fork_without_known_pages(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 4 * PG, RW);
	uint32_t c = fork_proc(p);
	assert_mm(c, 1);
	/* Pages are learned after the fork: the parent may hold some the
	 * shadow has not seen, so the child links the parent's anon_vma
	 * (then its own) as if the kernel had had one. */
	assert_int_equal(avc_count(vma_find(c, B)), 2);
	assert_true(vma_of(vma_find(p, B))->anon_vma != 0);
	assert_true(vma_of(vma_find(c, B))->anon_vma != vma_of(vma_find(p, B))->anon_vma);
	/* Pages each creates afterwards are theirs alone. */
	uint32_t pp = touch_anon(p, ADDR), cp = touch_anon(c, ADDR);
	assert_true(page_of(pp)->obj != page_of(cp)->obj);
	struct mappers m = mappers_of(pp);
	assert_int_equal(m.n, 1);
	assert_true(mappers_has(&m, p, ADDR));
	m = mappers_of(cp);
	assert_int_equal(m.n, 1);
	assert_true(mappers_has(&m, c, ADDR));
}

/* A child killed in the middle of an edit of its VMA tree leaves it broken
 * (here: the root's subtrees lost).  Its exit still takes every VMA of its
 * out of the parent's anon_vma tree: a walk from the parent's page finds
 * the parent alone, even after the child's record goes to a new child
 * that maps the page at the same address (counted twice before). */
static void exit_with_broken_tree(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 4 * PG, RW);
	uint32_t page = touch_anon(p, ADDR);
	struct live_counts before = live_all();
	uint32_t c = fork_proc(p);
	assert_int_equal(vma_protect(c, ADDR, ADDR + PG, PROT_READ), 0);
	assert_mm(c, 3);
	uint32_t root = proc_of(c)->mm_root;
	vma_of(root)->mm.left = vma_of(root)->mm.right = 0;
	assert_true(mm_is_valid(c) < 0);

	mm_exit(c);
	uint32_t pav = vma_of(vma_find(p, B))->anon_vma;
	assert_int_equal(it_is_valid(&avc_ops, obj_of(pav)->tree), 1);
	assert_int_equal(proc_of(c)->nr_vma, 0);
	proc_release(c);
	before.n[POOL_OBJ] = live(POOL_OBJ);	/* the child's anon_vma may stay */
	assert_live_equal(before);

	uint32_t c2 = fork_proc(p);
	assert_int_equal(c2, c);	/* the record is reused */
	uint32_t both[] = { p, c2 };
	assert_mapped_by(page, 2, both);
}

/* The first write fault in a VMA whose neighbour differs only in access
 * rights, continues its pgoff and has an anon_vma of its own (a singular
 * chain): the kernel's anon_vma_prepare() reuses the neighbour's anon_vma
 * (find_mergeable_anon_vma; anon_vma_compatible ignores VM_READ, VM_WRITE
 * and VM_EXEC), so the two merge once their protections match again.
 * Linux 6.1 (source) and 6.18 (observed) both join the left piece and the
 * middle here; 6.18 also takes in the unfaulted right piece. */
static void first_fault_reuses_neighbours_anon_vma(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 8 * PG, RW);
	assert_int_equal(vma_protect(p, B + 2 * PG, B + 4 * PG,
				     RW | PROT_EXEC), 0);
	assert_mm(p, 3);
	touch_anon(p, B);
	touch_anon(p, B + 2 * PG);
	assert_int_equal(vma_of(vma_find(p, B + 2 * PG))->anon_vma,
			 vma_of(vma_find(p, B))->anon_vma);
	assert_int_equal(vma_protect(p, B + 2 * PG, B + 4 * PG, RW), 0);
	assert_true(mm_is_valid(p) >= 1);
	assert_int_equal(vma_find(p, B + 2 * PG), vma_find(p, B));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, arena_setup, arena_teardown)
	const struct CMUnitTest tests[] = {
		T(chain_lengths_and_hierarchy),
		T(shared_page_found_in_all),
		T(cow_in_child),
		T(child_exits),
		T(parent_exits_first),
		T(everything_freed),
		T(split_after_fork),
		T(mremap_in_child_after_fork),
		T(fork_without_known_pages),
		T(first_fault_reuses_neighbours_anon_vma),
		T(exit_with_broken_tree),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
