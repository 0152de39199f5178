/* SPDX-License-Identifier: MIT */
/*
 * test_vma: the shadow VMA tree changes the way the kernel's does.  munmap
 * of a middle range leaves two VMAs whose pgoffs still name the same
 * pages; mprotect of a middle range makes three VMAs and mprotect back
 * merges them into one, while a faulted VMA made read-only stays apart
 * from an unfaulted read-only neighbour; adjacent anonymous mappings
 * merge, but not with a VMA whose anon_vma chain came from a fork (the
 * kernel's list_is_singular rule), and file mappings merge only when their
 * pgoffs are contiguous; MAP_FIXED over part of a mapping replaces that
 * part and its pages; mremap grows in place, shrinks, and moves keeping
 * pgoff, so vma_address() of a page index gives the new address and the
 * PTEs follow, and MREMAP_DONTUNMAP leaves the old VMA without anon_vmas;
 * unmapping returns every record to the pools; MADV_DONTFORK splits and
 * keeps the range out of mm_fork; an empty range changes nothing.
 * mm_is_valid() must give the exact VMA count after every operation.
 * Where kernels differ, the cases chosen are those Linux 6.1 and 6.18
 * agree on.
 */
#include <linux/mman.h>
#include "unit.h"

#define B BASE
#define N (BASE + 0x100000000ULL)	/* a far-away mremap target */

/* Touches every page of [start, end) in proc. */
static void touch_range(uint32_t proc, uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a < end; a += PG)
		touch_anon(proc, a);
}

static void munmap_middle_splits(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);
	map_anon(p, B, B + 8 * PG, RW);
	touch_range(p, B, B + 8 * PG);
	assert_mm(p, 1);
	uint32_t pages = live(POOL_PAGE);
	uint64_t ptes = proc_of(p)->nr_pte;
	uint32_t kept = page_at(p, B + 6 * PG);

	assert_int_equal(vma_unmap(p, B + 2 * PG, B + 5 * PG), 0);
	assert_mm(p, 2);
	uint32_t l = assert_vma(p, B, B, B + 2 * PG, VPN(B));
	uint32_t r = assert_vma(p, B + 5 * PG, B + 5 * PG, B + 8 * PG, VPN(B) + 5);
	assert_int_equal(vma_find(p, B + 3 * PG), 0);
	/* Both halves still reach the one anon_vma the pages belong to. */
	assert_int_equal(vma_of(l)->anon_vma, vma_of(r)->anon_vma);
	assert_int_equal(avc_count(l), 1);
	assert_int_equal(avc_count(r), 1);
	for (uint64_t i = 2; i < 5; i++)
		assert_int_equal(pte_lookup(p, VPN(B) + i), 0);
	assert_int_equal(live(POOL_PAGE), pages - 3);
	assert_int_equal(proc_of(p)->nr_pte, ptes - 3);
	/* A page beyond the hole keeps its index and address. */
	assert_int_equal(page_at(p, B + 6 * PG), kept);
	assert_int_equal(page_of(kept)->index, VPN(B) + 6);
	assert_int_equal(vma_address(r, VPN(B) + 6), B + 6 * PG);
	assert_int_equal(vma_address(r, VPN(B) + 2), 0);
	struct mappers m = mappers_of(kept);
	assert_int_equal(m.n, 1);
	assert_true(mappers_has(&m, p, B + 6 * PG));
}

static void munmap_middle_of_file_mapping(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);
	uint32_t f = obj_file_get(8, 1234, OBJ_FILE);

	assert_int_equal(vma_map(p, B, B + 10 * PG, PROT_READ, 0, f, 100), 0);
	obj_put(f);
	assert_int_equal(obj_of(f)->refs, 1);
	assert_int_equal(vma_unmap(p, B + 3 * PG, B + 4 * PG), 0);
	assert_mm(p, 2);
	assert_vma(p, B, B, B + 3 * PG, 100);
	assert_vma(p, B + 4 * PG, B + 4 * PG, B + 10 * PG, 104);
	assert_int_equal(obj_of(f)->refs, 2);	/* one per VMA */
	assert_int_equal(it_is_valid(&vma_imap_ops, obj_of(f)->tree), 2);
	/* Unmapping across the hole and both pieces drops the object. */
	uint32_t objs = live(POOL_OBJ);
	assert_int_equal(vma_unmap(p, B, B + 10 * PG), 0);
	assert_mm(p, 0);
	assert_int_equal(live(POOL_OBJ), objs - 1);
}

static void mprotect_middle_then_back(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	/* Without pages (no anon_vma) ... */
	map_anon(p, B, B + 8 * PG, RW);
	assert_int_equal(vma_protect(p, B + 2 * PG, B + 5 * PG, PROT_READ), 0);
	assert_mm(p, 3);
	assert_int_equal(vma_of(assert_vma(p, B, B, B + 2 * PG, VPN(B)))->prot, RW);
	assert_int_equal(vma_of(assert_vma(p, B + 3 * PG, B + 2 * PG, B + 5 * PG,
					   VPN(B) + 2))->prot, PROT_READ);
	assert_int_equal(vma_of(assert_vma(p, B + 7 * PG, B + 5 * PG, B + 8 * PG,
					   VPN(B) + 5))->prot, RW);
	assert_int_equal(vma_protect(p, B + 2 * PG, B + 5 * PG, RW), 0);
	assert_mm(p, 1);
	assert_vma(p, B, B, B + 8 * PG, VPN(B));

	/* ... and with pages: the pieces share the anon_vma and merge back. */
	touch_range(p, B, B + 8 * PG);
	uint32_t av = vma_of(vma_find(p, B))->anon_vma;
	assert_int_equal(vma_protect(p, B + 2 * PG, B + 5 * PG, PROT_NONE), 0);
	assert_mm(p, 3);
	struct vma_list l = vmas_of(p);
	assert_int_equal(l.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vma_of(l.v[i])->anon_vma, av);
		assert_int_equal(avc_count(l.v[i]), 1);
	}
	assert_int_equal(it_is_valid(&avc_ops, obj_of(av)->tree), 3);
	/* The page in the middle piece is found there. */
	uint32_t pg = page_at(p, B + 3 * PG);
	struct mappers m = mappers_of(pg);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.m[0].vma, l.v[1]);
	assert_int_equal(m.m[0].addr, B + 3 * PG);

	assert_int_equal(vma_protect(p, B + 2 * PG, B + 5 * PG, RW), 0);
	assert_mm(p, 1);
	uint32_t v = assert_vma(p, B, B, B + 8 * PG, VPN(B));
	assert_int_equal(avc_count(v), 1);
	assert_int_equal(it_is_valid(&avc_ops, obj_of(av)->tree), 1);
	for (uint64_t a = B; a < B + 8 * PG; a += PG) {
		m = mappers_of(page_at(p, a));
		assert_int_equal(m.n, 1);
		assert_int_equal(m.m[0].addr, a);
	}
}

static void mprotect_across_vmas_and_hole(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 4 * PG, RW);
	map_anon(p, B + 6 * PG, B + 10 * PG, PROT_READ);
	assert_mm(p, 2);
	/* Covers the end of the first, the hole and the start of the second. */
	assert_int_equal(vma_protect(p, B + 2 * PG, B + 8 * PG, PROT_NONE), 0);
	assert_mm(p, 4);
	assert_int_equal(vma_of(assert_vma(p, B, B, B + 2 * PG, VPN(B)))->prot, RW);
	assert_int_equal(vma_of(assert_vma(p, B + 2 * PG, B + 2 * PG, B + 4 * PG,
					   VPN(B) + 2))->prot, PROT_NONE);
	assert_int_equal(vma_find(p, B + 5 * PG), 0);
	assert_int_equal(vma_of(assert_vma(p, B + 6 * PG, B + 6 * PG, B + 8 * PG,
					   VPN(B) + 6))->prot, PROT_NONE);
	assert_int_equal(vma_of(assert_vma(p, B + 9 * PG, B + 8 * PG, B + 10 * PG,
					   VPN(B) + 8))->prot, PROT_READ);
	/* Both sides of the hole the same again: still two VMAs. */
	assert_int_equal(vma_protect(p, B, B + 10 * PG, RW), 0);
	assert_mm(p, 2);
	assert_vma(p, B, B, B + 4 * PG, VPN(B));
	assert_vma(p, B + 6 * PG, B + 6 * PG, B + 10 * PG, VPN(B) + 6);
}

/* mprotect(addr, 0, prot) succeeds and does nothing in the kernel; the
 * shadow must not split there either. */
static void empty_mprotect_changes_nothing(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 8 * PG, RW);
	assert_int_equal(vma_protect(p, B + 4 * PG, B + 4 * PG, PROT_READ), 0);
	assert_mm(p, 1);
	assert_vma(p, B, B, B + 8 * PG, VPN(B));
}

/* The same for madvise(addr, 0, advice). */
static void empty_madvise_changes_nothing(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 8 * PG, RW);
	assert_int_equal(vma_advise(p, B + 4 * PG, B + 4 * PG, MADV_DONTFORK), 0);
	assert_mm(p, 1);
	assert_vma(p, B, B, B + 8 * PG, VPN(B));
}

static void empty_munmap_changes_nothing(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 8 * PG, RW);
	assert_int_equal(vma_unmap(p, B + 4 * PG, B + 4 * PG), 0);
	assert_mm(p, 1);
	assert_vma(p, B, B, B + 8 * PG, VPN(B));
}

/* mprotect makes a VMA holding anonymous pages read-only like its
 * unfaulted next neighbour.  Both kernels checked keep the two apart:
 * Linux 6.1's is_mergeable_anon_vma() lets one side lack an anon_vma only
 * when the neighbour's chain is singular, and an empty chain is not; on
 * 6.18 the unfaulted VMA lost VM_ACCOUNT when it was made read-only while
 * the faulted one keeps it (smaps VmFlags "ac"), so their flags differ. */
static void mprotect_faulted_vma_stays_apart_from_next(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 8 * PG, RW);
	assert_int_equal(vma_protect(p, B + 4 * PG, B + 8 * PG, PROT_READ), 0);
	touch_anon(p, B);
	assert_int_equal(vma_protect(p, B, B + 4 * PG, PROT_READ), 0);
	assert_mm(p, 2);
	assert_vma(p, B, B, B + 4 * PG, VPN(B));
}

/* The same with the unfaulted neighbour before it. */
static void mprotect_faulted_vma_stays_apart_from_prev(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 8 * PG, RW);
	assert_int_equal(vma_protect(p, B, B + 4 * PG, PROT_READ), 0);
	touch_anon(p, B + 4 * PG);
	assert_int_equal(vma_protect(p, B + 4 * PG, B + 8 * PG, PROT_READ), 0);
	assert_mm(p, 2);
	assert_vma(p, B + 4 * PG, B + 4 * PG, B + 8 * PG, VPN(B) + 4);
}

static void adjacent_anon_mmaps_merge(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 4 * PG, RW);
	map_anon(p, B + 4 * PG, B + 8 * PG, RW);		/* after */
	assert_mm(p, 1);
	map_anon(p, B - 4 * PG, B, RW);			/* before */
	assert_mm(p, 1);
	assert_vma(p, B, B - 4 * PG, B + 8 * PG, VPN(B) - 4);
	map_anon(p, B + 8 * PG, B + 12 * PG, PROT_READ);	/* other prot */
	assert_mm(p, 2);

	/* An anon_vma of its own (never forked) does not stop a merge, on
	 * either side, and the merged VMA keeps it. */
	touch_anon(p, B);
	uint32_t av = vma_of(vma_find(p, B))->anon_vma;
	map_anon(p, B - 8 * PG, B - 4 * PG, RW);
	assert_mm(p, 2);
	uint32_t v = assert_vma(p, B, B - 8 * PG, B + 8 * PG, VPN(B) - 8);
	assert_int_equal(vma_of(v)->anon_vma, av);
	assert_int_equal(avc_count(v), 1);
	struct mappers m = mappers_of(page_at(p, B));
	assert_int_equal(m.n, 1);
	assert_int_equal(m.m[0].addr, B);

	/* A gap between them: no merge; filling it merges all three. */
	map_anon(p, B + 20 * PG, B + 24 * PG, PROT_READ);
	assert_mm(p, 3);
	map_anon(p, B + 12 * PG, B + 20 * PG, PROT_READ);
	assert_mm(p, 2);
	assert_vma(p, B + 12 * PG, B + 8 * PG, B + 24 * PG, VPN(B) + 8);
}

static void forked_vma_does_not_merge_with_new_one(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 4 * PG, RW);
	touch_anon(p, B);
	uint32_t c = fork_proc(p);
	assert_mm(c, 1);
	assert_int_equal(avc_count(vma_find(c, B)), 2);
	/* The kernel merges a new mapping only into a VMA whose chain is its
	 * own alone (is_mergeable_anon_vma's list_is_singular). */
	map_anon(c, B + 4 * PG, B + 8 * PG, RW);
	assert_mm(c, 2);
	map_anon(c, B - 4 * PG, B, RW);
	assert_mm(c, 3);
	/* The parent's VMA is still singular and merges. */
	map_anon(p, B + 4 * PG, B + 8 * PG, RW);
	assert_mm(p, 1);
}

static void file_mappings_merge_with_contiguous_pgoff(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);
	uint32_t f = obj_file_get(8, 77, OBJ_FILE);

	assert_int_equal(vma_map(p, B, B + 4 * PG, PROT_READ, NS_VMA_SHARED, f, 0), 0);
	assert_int_equal(vma_map(p, B + 4 * PG, B + 8 * PG, PROT_READ,
				 NS_VMA_SHARED, f, 4), 0);
	assert_mm(p, 1);
	assert_int_equal(obj_of(f)->refs, 2);	/* ours and the one VMA's */
	/* Next pages of the file, but not at the next offset: no merge. */
	assert_int_equal(vma_map(p, B + 8 * PG, B + 12 * PG, PROT_READ,
				 NS_VMA_SHARED, f, 20), 0);
	assert_mm(p, 2);
	/* Another file at the next offset: no merge. */
	uint32_t g = obj_file_get(8, 78, OBJ_FILE);
	assert_int_equal(vma_map(p, B - 4 * PG, B, PROT_READ, NS_VMA_SHARED, g, 0), 0);
	assert_mm(p, 3);
	assert_int_equal(it_is_valid(&vma_imap_ops, obj_of(f)->tree), 2);
	assert_int_equal(it_is_valid(&vma_imap_ops, obj_of(g)->tree), 1);
	obj_put(f);
	obj_put(g);
}

static void map_fixed_over_part(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 8 * PG, RW);
	touch_range(p, B, B + 8 * PG);
	uint32_t pages = live(POOL_PAGE);
	uint32_t p6 = page_at(p, B + 6 * PG);

	/* Another protection: three VMAs, the middle one fresh. */
	map_anon(p, B + 2 * PG, B + 4 * PG, PROT_READ);
	assert_mm(p, 3);
	assert_vma(p, B, B, B + 2 * PG, VPN(B));
	uint32_t mid = assert_vma(p, B + 2 * PG, B + 2 * PG, B + 4 * PG, VPN(B) + 2);
	assert_int_equal(vma_of(mid)->prot, PROT_READ);
	assert_int_equal(vma_of(mid)->anon_vma, 0);
	assert_vma(p, B + 4 * PG, B + 4 * PG, B + 8 * PG, VPN(B) + 4);
	assert_int_equal(page_at(p, B + 2 * PG), 0);
	assert_int_equal(page_at(p, B + 3 * PG), 0);
	assert_int_equal(live(POOL_PAGE), pages - 2);
	assert_int_equal(page_at(p, B + 6 * PG), p6);

	/* A file over the middle: three VMAs, the middle in the file's
	 * i_mmap. */
	uint32_t f = obj_file_get(8, 99, OBJ_FILE);
	assert_int_equal(vma_map(p, B + 2 * PG, B + 4 * PG, RW, 0, f, 7), 0);
	obj_put(f);
	assert_mm(p, 3);
	mid = assert_vma(p, B + 2 * PG, B + 2 * PG, B + 4 * PG, 7);
	assert_int_equal(vma_of(mid)->obj, f);
	assert_int_equal(it_first(&vma_imap_ops, obj_of(f)->tree, 7, 8), mid);

	/* Same attributes as around it: the kernel merges all three back,
	 * since the pieces' anon_vma chains are singular. */
	map_anon(p, B + 2 * PG, B + 4 * PG, RW);
	assert_mm(p, 1);
	assert_vma(p, B, B, B + 8 * PG, VPN(B));
	assert_int_equal(page_at(p, B + 6 * PG), p6);
	assert_int_equal(page_of(p6)->index, VPN(B) + 6);
	struct mappers m = mappers_of(p6);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.m[0].addr, B + 6 * PG);
}

static void mremap_grow_and_shrink_in_place(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 4 * PG, RW);
	touch_range(p, B, B + 4 * PG);
	uint32_t p3 = page_at(p, B + 3 * PG);
	uint32_t pages = live(POOL_PAGE);

	assert_int_equal(vma_remap(p, B, 4 * PG, 8 * PG, 0, B), 0);
	assert_mm(p, 1);
	uint32_t v = assert_vma(p, B, B, B + 8 * PG, VPN(B));
	assert_int_equal(page_at(p, B + 3 * PG), p3);
	assert_int_equal(vma_address(v, VPN(B) + 7), B + 7 * PG);
	/* A page in the grown part is found there. */
	uint32_t p6 = touch_anon(p, B + 6 * PG);
	struct mappers m = mappers_of(p6);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.m[0].addr, B + 6 * PG);

	/* Shrink to two pages: the tail and its pages go. */
	assert_int_equal(vma_remap(p, B, 8 * PG, 2 * PG, 0, B), 0);
	assert_mm(p, 1);
	assert_vma(p, B, B, B + 2 * PG, VPN(B));
	assert_int_equal(page_at(p, B + 3 * PG), 0);
	assert_int_equal(live(POOL_PAGE), pages - 2);

	/* Lengths not page aligned round up, as the kernel's do. */
	assert_int_equal(vma_remap(p, B, 2 * PG - 100, 3 * PG - 100, 0, B), 0);
	assert_mm(p, 1);
	assert_vma(p, B, B, B + 3 * PG, VPN(B));

	/* An untouched VMA growing up to a neighbour with contiguous pgoff
	 * and an anon_vma of its own merges with it (Linux 6.1 and 6.18
	 * agree on this case; with the anon_vma on the growing side they
	 * do not). */
	map_anon(p, N, N + 3 * PG, RW);
	map_anon(p, N + 4 * PG, N + 6 * PG, RW);
	uint32_t n4 = touch_anon(p, N + 4 * PG);
	assert_mm(p, 3);
	assert_int_equal(vma_remap(p, N, 3 * PG, 4 * PG, 0, N), 0);
	assert_mm(p, 2);
	v = assert_vma(p, N, N, N + 6 * PG, VPN(N));
	assert_int_equal(vma_of(v)->anon_vma, page_of(n4)->obj);
	m = mappers_of(n4);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.m[0].addr, N + 4 * PG);
}

static void mremap_move_keeps_pgoff(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);
	uint32_t pg[4];

	map_anon(p, B, B + 4 * PG, RW);
	for (int i = 0; i < 4; i++)
		pg[i] = touch_anon(p, B + i * PG);
	uint32_t av = vma_of(vma_find(p, B))->anon_vma;
	struct live_counts before = live_all();

	assert_int_equal(vma_remap(p, B, 4 * PG, 4 * PG,
				   MREMAP_MAYMOVE | MREMAP_FIXED, N), 0);
	assert_mm(p, 1);
	assert_int_equal(vma_find(p, B), 0);
	uint32_t v = assert_vma(p, N, N, N + 4 * PG, VPN(B));
	assert_int_equal(vma_of(v)->anon_vma, av);
	assert_int_equal(avc_count(v), 1);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(vma_address(v, VPN(B) + i), N + i * PG);
		assert_int_equal(pte_lookup(p, VPN(B) + i), 0);
		assert_int_equal(page_at(p, N + i * PG), pg[i]);
		assert_int_equal(page_of(pg[i])->index, VPN(B) + i);
		struct mappers m = mappers_of(pg[i]);
		assert_int_equal(m.n, 1);
		assert_int_equal(m.m[0].addr, N + i * PG);
		assert_int_equal(m.m[0].vma, v);
	}
	/* A move allocates and frees nothing on balance. */
	assert_live_equal(before);

	/* Move back, growing, without MREMAP_FIXED (the kernel chose B). */
	assert_int_equal(vma_remap(p, N, 4 * PG, 6 * PG, MREMAP_MAYMOVE, B), 0);
	assert_mm(p, 1);
	v = assert_vma(p, B, B, B + 6 * PG, VPN(B));
	for (int i = 0; i < 4; i++) {
		assert_int_equal(page_at(p, B + i * PG), pg[i]);
		assert_int_equal(pte_lookup(p, VPN(N) + i), 0);
		assert_int_equal(mappers_of(pg[i]).m[0].addr, B + i * PG);
	}
}

static void mremap_move_part_of_vma(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 8 * PG, RW);
	touch_range(p, B, B + 8 * PG);
	uint32_t p3 = page_at(p, B + 3 * PG), p4 = page_at(p, B + 4 * PG);

	/* Pages 3-4 move away, into a longer VMA. */
	assert_int_equal(vma_remap(p, B + 3 * PG, 2 * PG, 5 * PG,
				   MREMAP_MAYMOVE | MREMAP_FIXED, N), 0);
	assert_mm(p, 3);
	assert_vma(p, B, B, B + 3 * PG, VPN(B));
	assert_int_equal(vma_find(p, B + 3 * PG), 0);
	assert_int_equal(vma_find(p, B + 4 * PG), 0);
	assert_vma(p, B + 5 * PG, B + 5 * PG, B + 8 * PG, VPN(B) + 5);
	uint32_t v = assert_vma(p, N, N, N + 5 * PG, VPN(B) + 3);
	assert_int_equal(vma_address(v, VPN(B) + 4), N + PG);
	assert_int_equal(page_at(p, N), p3);
	assert_int_equal(page_at(p, N + PG), p4);
	assert_int_equal(mappers_of(p4).m[0].addr, N + PG);
	assert_int_equal(mappers_of(p4).m[0].vma, v);
	assert_int_equal(mappers_of(page_at(p, B + 5 * PG)).m[0].addr, B + 5 * PG);
}

/* The shadow may hold in pieces what the kernel holds as one VMA (here
 * made with vma_split: same attributes, same anon_vma); vma_remap moves
 * each piece.  The kernel moved one VMA, so the pieces must land as one
 * VMA again, as they can: nothing divides them at the new place. */
static void mremap_move_of_pieces_lands_as_one(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 6 * PG, RW);
	touch_range(p, B, B + 6 * PG);
	uint32_t p5 = page_at(p, B + 5 * PG);
	assert_true(vma_split(vma_find(p, B), B + 2 * PG) > 0);
	assert_true(vma_split(vma_find(p, B + 2 * PG), B + 4 * PG) > 0);
	assert_mm(p, 3);

	assert_int_equal(vma_remap(p, B, 6 * PG, 8 * PG,
				   MREMAP_MAYMOVE | MREMAP_FIXED, N), 0);
	assert_int_equal(vma_find(p, B), 0);
	assert_int_equal(page_at(p, N + 5 * PG), p5);
	assert_int_equal(mappers_of(p5).m[0].addr, N + 5 * PG);
	assert_mm(p, 1);
	assert_vma(p, N, N, N + 8 * PG, VPN(B));
}

static void mremap_fixed_replaces_target(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 2 * PG, RW);
	uint32_t p0 = touch_anon(p, B);
	map_anon(p, N - 2 * PG, N + 4 * PG, PROT_READ);
	touch_range(p, N - 2 * PG, N + 4 * PG);
	assert_mm(p, 2);
	uint32_t pages = live(POOL_PAGE);

	assert_int_equal(vma_remap(p, B, 2 * PG, 2 * PG,
				   MREMAP_MAYMOVE | MREMAP_FIXED, N), 0);
	assert_mm(p, 3);
	assert_vma(p, N - PG, N - 2 * PG, N, VPN(N) - 2);
	assert_vma(p, N, N, N + 2 * PG, VPN(B));
	assert_vma(p, N + 2 * PG, N + 2 * PG, N + 4 * PG, VPN(N) + 2);
	/* The two pages the move landed on are gone, ours took their place. */
	assert_int_equal(live(POOL_PAGE), pages - 2);
	assert_int_equal(page_at(p, N), p0);
	assert_int_equal(page_at(p, N + PG), 0);
}

static void mremap_dontunmap(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 2 * PG, RW);
	uint32_t p0 = touch_anon(p, B);
	assert_int_equal(vma_remap(p, B, 2 * PG, 2 * PG,
				   MREMAP_MAYMOVE | MREMAP_DONTUNMAP, N), 0);
	/* The old range stays mapped, empty; the pages moved. */
	assert_mm(p, 2);
	assert_vma(p, B, B, B + 2 * PG, VPN(B));
	uint32_t v = assert_vma(p, N, N, N + 2 * PG, VPN(B));
	assert_int_equal(pte_lookup(p, VPN(B)), 0);
	assert_int_equal(page_at(p, N), p0);
	struct mappers m = mappers_of(p0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.m[0].vma, v);
	assert_int_equal(m.m[0].addr, N);
}

/* After a successful MREMAP_DONTUNMAP the kernel unlinks the old VMA's
 * anon_vmas (its page tables moved away; move_vma() calls
 * unlink_anon_vmas() since 5.17), so the old VMA can merge again with a
 * neighbour holding another anon_vma.  Observed on Linux 6.18: the
 * sequence below ends as one VMA. */
static void mremap_dontunmap_unlinks_old_anon_vmas(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	/* Two halves with distinct anon_vmas (faulted while their flags
	 * differed), the same attributes again afterwards. */
	map_anon(p, B, B + 8 * PG, RW);
	assert_int_equal(vma_advise(p, B + 4 * PG, B + 8 * PG, MADV_DONTFORK), 0);
	touch_anon(p, B);
	touch_anon(p, B + 4 * PG);
	assert_int_equal(vma_advise(p, B + 4 * PG, B + 8 * PG, MADV_DOFORK), 0);
	assert_mm(p, 2);

	assert_int_equal(vma_remap(p, B, 4 * PG, 4 * PG, MREMAP_MAYMOVE |
				   MREMAP_FIXED | MREMAP_DONTUNMAP, N), 0);
	assert_mm(p, 3);
	uint32_t old = assert_vma(p, B, B, B + 4 * PG, VPN(B));
	assert_int_equal(avc_count(old), 0);
	assert_int_equal(vma_of(old)->anon_vma, 0);
	assert_int_equal(vma_protect(p, B, B + 4 * PG, PROT_READ), 0);
	assert_int_equal(vma_protect(p, B, B + 4 * PG, RW), 0);
	assert_mm(p, 2);
	assert_vma(p, B, B, B + 8 * PG, VPN(B));
}

static void unmap_frees_everything(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);
	struct live_counts empty = live_all();
	uint32_t f = obj_file_get(8, 5, OBJ_FILE);

	map_anon(p, B, B + 16 * PG, RW);
	touch_range(p, B, B + 16 * PG);
	assert_int_equal(vma_protect(p, B + 4 * PG, B + 6 * PG, PROT_READ), 0);
	assert_int_equal(vma_map(p, B + 20 * PG, B + 24 * PG, PROT_READ, 0, f, 0), 0);
	obj_put(f);
	for (uint64_t a = B + 20 * PG; a < B + 24 * PG; a += PG)
		touch_file(p, a);
	assert_int_equal(vma_remap(p, B + 8 * PG, 4 * PG, 4 * PG,
				   MREMAP_MAYMOVE | MREMAP_FIXED, N), 0);
	assert_mm(p, 6);
	assert_true(live(POOL_PAGE) > empty.n[POOL_PAGE]);

	assert_int_equal(vma_unmap(p, B, B + 24 * PG), 0);
	assert_mm(p, 1);
	assert_int_equal(vma_unmap(p, N, N + 4 * PG), 0);
	assert_mm(p, 0);
	assert_int_equal(proc_of(p)->nr_pte, 0);
	assert_int_equal(proc_of(p)->pte_head, 0);
	assert_live_equal(empty);
	/* The file's object left the hash: a new lookup creates it anew. */
	f = obj_file_get(8, 5, OBJ_FILE);
	assert_int_equal(obj_of(f)->refs, 1);
	obj_put(f);
}

static void madvise_dontfork(void **state)
{
	(void)state;
	uint32_t p = new_proc(0);

	map_anon(p, B, B + 8 * PG, RW);
	touch_range(p, B, B + 8 * PG);
	assert_int_equal(vma_advise(p, B + 2 * PG, B + 4 * PG, MADV_DONTFORK), 0);
	assert_mm(p, 3);
	uint32_t mid = assert_vma(p, B + 2 * PG, B + 2 * PG, B + 4 * PG, VPN(B) + 2);
	assert_true(vma_of(mid)->flags & NS_VMA_DONTCOPY);
	assert_false(vma_of(vma_find(p, B))->flags & NS_VMA_DONTCOPY);
	assert_false(vma_of(vma_find(p, B + 4 * PG))->flags & NS_VMA_DONTCOPY);

	uint32_t c = fork_proc(p);
	assert_mm(c, 2);
	assert_vma(c, B, B, B + 2 * PG, VPN(B));
	assert_int_equal(vma_find(c, B + 2 * PG), 0);
	assert_int_equal(vma_find(c, B + 3 * PG), 0);
	assert_vma(c, B + 4 * PG, B + 4 * PG, B + 8 * PG, VPN(B) + 4);
	for (uint64_t i = 0; i < 8; i++) {
		uint64_t a = B + i * PG;
		uint32_t pg = page_at(p, a);
		struct mappers m = mappers_of(pg);
		if (i == 2 || i == 3) {
			assert_int_equal(pte_lookup(c, VPN(a)), 0);
			assert_int_equal(page_of(pg)->mapcount, 1);
			assert_int_equal(m.n, 1);
		} else {
			assert_int_equal(page_at(c, a), pg);
			assert_int_equal(page_of(pg)->mapcount, 2);
			assert_int_equal(m.n, 2);
			assert_true(mappers_has(&m, c, a));
		}
		assert_true(mappers_has(&m, p, a));
	}
	/* MADV_DOFORK: the parent's pieces merge again. */
	assert_int_equal(vma_advise(p, B + 2 * PG, B + 4 * PG, MADV_DOFORK), 0);
	assert_mm(p, 1);
	assert_mm(c, 2);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, arena_setup, arena_teardown)
	const struct CMUnitTest tests[] = {
		T(munmap_middle_splits),
		T(munmap_middle_of_file_mapping),
		T(mprotect_middle_then_back),
		T(mprotect_across_vmas_and_hole),
		T(empty_mprotect_changes_nothing),
		T(empty_madvise_changes_nothing),
		T(empty_munmap_changes_nothing),
		T(mprotect_faulted_vma_stays_apart_from_next),
		T(mprotect_faulted_vma_stays_apart_from_prev),
		T(adjacent_anon_mmaps_merge),
		T(forked_vma_does_not_merge_with_new_one),
		T(file_mappings_merge_with_contiguous_pgoff),
		T(map_fixed_over_part),
		T(mremap_grow_and_shrink_in_place),
		T(mremap_move_keeps_pgoff),
		T(mremap_move_part_of_vma),
		T(mremap_move_of_pieces_lands_as_one),
		T(mremap_fixed_replaces_target),
		T(mremap_dontunmap),
		T(mremap_dontunmap_unlinks_old_anon_vmas),
		T(unmap_frees_everything),
		T(madvise_dontfork),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
