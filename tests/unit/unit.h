/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/unit.h - shared fixtures for the model's unit tests.
 *
 * Each test gets a fresh arena (arena_setup / arena_teardown: the memfd is
 * sparse, so one per test costs little) and drives the model directly, as
 * the runtime's hooks do after the kernel has said yes.  Addresses are
 * made up: the model never touches them.
 */
#ifndef NS_UNIT_H
#define NS_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <cmocka.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"

#define PG NS_PAGE_SIZE
#define RW (PROT_READ | PROT_WRITE)
#define VPN(addr) ((uint64_t)(addr) >> NS_PAGE_SHIFT)

/* Well away from 0 so that start - 1 lookups never wrap. */
#define BASE 0x7f0000000000ULL

static inline int arena_setup(void **state)
{
	(void)state;
	return arena_create() < 0 ? -1 : 0;
}

static inline int arena_teardown(void **state)
{
	(void)state;
	arena_destroy();
	return 0;
}

static inline uint32_t live(enum ns_pool_id id)
{
	return ns_arena->pool[id].live;
}

/* Live records of every pool, to show an operation freed what it should. */
struct live_counts {
	uint32_t n[NR_POOLS];
};

static inline struct live_counts live_all(void)
{
	struct live_counts c;

	for (int i = 0; i < NR_POOLS; i++)
		c.n[i] = ns_arena->pool[i].live;
	return c;
}

static inline void assert_live_equal(struct live_counts want)
{
	static const char *const name[NR_POOLS] = {
		"proc", "obj", "vma", "avc", "page", "pte" };

	for (int i = 0; i < NR_POOLS; i++) {
		if (ns_arena->pool[i].live != want.n[i])
			print_error("pool %s: %u live, want %u\n", name[i],
				    ns_arena->pool[i].live, want.n[i]);
		assert_int_equal(ns_arena->pool[i].live, want.n[i]);
	}
}

/* The VMAs of a proc in address order. */
struct vma_list {
	int n;
	uint32_t v[64];
};

static inline int vma_list_cb(uint32_t idx, void *arg)
{
	struct vma_list *l = arg;

	assert_true(l->n < 64);
	l->v[l->n++] = idx;
	return 0;
}

static inline struct vma_list vmas_of(uint32_t proc)
{
	struct vma_list l = { 0 };

	vma_walk(proc, 0, ~0ULL, vma_list_cb, &l);
	return l;
}

static inline int find_idx_cb(uint32_t idx, void *arg)
{
	return idx == *(uint32_t *)arg;
}

/* Beyond mm_is_valid(): every AVC of every VMA sits, findable by its
 * range, in a valid anon_vma tree, and every file VMA in a valid i_mmap. */
static inline void check_vma_trees(uint32_t proc)
{
	struct vma_list l = { 0 };

	vma_walk(proc, 0, ~0ULL, vma_list_cb, &l);
	for (int i = 0; i < l.n; i++) {
		struct ns_vma *v = vma_of(l.v[i]);
		uint64_t last = v->pgoff + ((v->end - v->start) >> NS_PAGE_SHIFT) - 1;
		bool own = !v->anon_vma;

		for (uint32_t a = v->avc_head; a; a = avc_of(a)->next) {
			uint32_t root = obj_of(avc_of(a)->anon_vma)->tree;
			assert_int_equal(obj_of(avc_of(a)->anon_vma)->kind, OBJ_ANON);
			assert_true(it_is_valid(&avc_ops, root) > 0);
			assert_int_equal(it_query(&avc_ops, root, v->pgoff, last,
						  find_idx_cb, &a), 1);
			own |= avc_of(a)->anon_vma == v->anon_vma;
		}
		assert_true(own);	/* its anon_vma is on its chain */
		if (v->obj) {
			uint32_t root = obj_of(v->obj)->tree;
			assert_true(it_is_valid(&vma_imap_ops, root) > 0);
			assert_int_equal(it_query(&vma_imap_ops, root, v->pgoff,
						  last, find_idx_cb, &l.v[i]), 1);
		}
	}
}

/* The shadow must be consistent and hold exactly n VMAs. */
#define assert_mm(proc, n) do { \
	assert_int_equal(mm_is_valid(proc), (n)); \
	check_vma_trees(proc); \
} while (0)

static inline uint32_t new_proc(uint32_t parent)
{
	uint32_t p = proc_new(getpid(), parent);

	assert_true(p != 0);
	return p;
}

/* A child forked from parent, its shadow copied as dup_mmap() would. */
static inline uint32_t fork_proc(uint32_t parent)
{
	uint32_t c = new_proc(parent);

	assert_int_equal(mm_fork(parent, c), 0);
	return c;
}

/* mmap(MAP_PRIVATE | MAP_ANONYMOUS): pgoff is the linear page number. */
static inline void map_anon(uint32_t proc, uint64_t start, uint64_t end,
			    int prot)
{
	assert_int_equal(vma_map(proc, start, end, prot, 0, 0, VPN(start)), 0);
}

static inline uint64_t vma_index(uint32_t vma, uint64_t addr)
{
	return vma_of(vma)->pgoff + ((addr - vma_of(vma)->start) >> NS_PAGE_SHIFT);
}

/* A write fault on anonymous memory at addr: a new page in the VMA's own
 * anon_vma (which also is how a COW break looks).  Returns the page. */
static inline uint32_t touch_anon(uint32_t proc, uint64_t addr)
{
	uint32_t v = vma_find(proc, addr), pg;

	assert_true(v != 0);
	assert_int_equal(anon_vma_prepare(v), 0);
	pg = page_new_anon(vma_of(v)->anon_vma, vma_index(v, addr));
	assert_true(pg != 0);
	assert_true(pte_set(proc, VPN(addr), pg) > 0);
	return pg;
}

/* A fault on a file mapping at addr: the page-cache page, mapped. */
static inline uint32_t touch_file(uint32_t proc, uint64_t addr)
{
	uint32_t v = vma_find(proc, addr), pg;

	assert_true(v != 0 && vma_of(v)->obj != 0);
	pg = page_cache_get(vma_of(v)->obj, vma_index(v, addr));
	assert_true(pg != 0);
	assert_true(pte_set(proc, VPN(addr), pg) > 0);
	return pg;
}

/* The page proc maps at addr, or 0. */
static inline uint32_t page_at(uint32_t proc, uint64_t addr)
{
	uint32_t t = pte_lookup(proc, VPN(addr));

	return t ? pte_page(t) : 0;
}

/* The VMA covering addr is exactly [start, end) at pgoff; returns it. */
static inline uint32_t assert_vma(uint32_t proc, uint64_t addr, uint64_t start,
				  uint64_t end, uint64_t pgoff)
{
	uint32_t v = vma_find(proc, addr);

	assert_true(v != 0);
	assert_int_equal(vma_of(v)->start, start);
	assert_int_equal(vma_of(v)->end, end);
	assert_int_equal(vma_of(v)->pgoff, pgoff);
	return v;
}

/* What rmap_walk reported for one page. */
struct mappers {
	int n;
	struct { uint32_t proc, vma; uint64_t addr; } m[32];
};

static inline int mappers_cb(uint32_t proc, uint32_t vma, uint64_t addr,
			     void *arg)
{
	struct mappers *m = arg;

	assert_true(m->n < 32);
	m->m[m->n].proc = proc;
	m->m[m->n].vma = vma;
	m->m[m->n].addr = addr;
	m->n++;
	return 0;
}

/* Walks page's reverse map; every answer must be a real mapping of it. */
static inline struct mappers mappers_of(uint32_t page)
{
	struct mappers m = { 0 };

	assert_int_equal(rmap_walk(page, mappers_cb, &m), 0);
	for (int i = 0; i < m.n; i++) {
		assert_int_equal(page_at(m.m[i].proc, m.m[i].addr), page);
		assert_int_equal(vma_find(m.m[i].proc, m.m[i].addr), m.m[i].vma);
	}
	return m;
}

static inline bool mappers_has(const struct mappers *m, uint32_t proc,
			       uint64_t addr)
{
	for (int i = 0; i < m->n; i++)
		if (m->m[i].proc == proc && m->m[i].addr == addr)
			return true;
	return false;
}

#endif
