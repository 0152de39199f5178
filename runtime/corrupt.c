/* SPDX-License-Identifier: MIT */
/*
 * corrupt.c - test-only: damages one shadow entry (NUMASHADOW_TEST_CORRUPT)
 * so that tests can show verify catching it.
 *
 * Linked into the test build of the library (build/test/) only, never
 * into the shipped one: the core reaches these functions through weak
 * references (internal.h), NULL there, and then reads no
 * NUMASHADOW_TEST_CORRUPT at all.  So an installed library cannot be made
 * to spoil its own shadow.
 *
 * Locking: callers hold the family lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include "internal.h"
#include "sys.h"

/* The kinds, in the order options.c's table names them. */
static const char *const kinds[] = { "vma-prot", "vma-bounds", "page-node",
				      "page-ghost", "mapper" };

const char *corrupt_kind(const char *v)
{
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
		if (!__builtin_strcmp(v, kinds[i]))
			return kinds[i];
	return NULL;
}

/* An anonymous writable VMA of more than a page loses its exec bit (prot)
 * or its last page. */
static int corrupt_vma(uint32_t self, bool prot)
{
	for (uint32_t v = it_first(&vma_mm_ops, proc_of(self)->mm_root, 0, ~0ULL);
	     v; v = it_first(&vma_mm_ops, proc_of(self)->mm_root,
			     vma_of(v)->end, ~0ULL))
		if (!vma_of(v)->obj && (vma_of(v)->prot & PROT_WRITE) &&
		    vma_of(v)->end - vma_of(v)->start > NS_PAGE_SIZE) {
			if (prot) {
				vma_of(v)->prot ^= PROT_EXEC;
			} else {
				uint64_t e = vma_of(v)->end;
				vma_unmap(self, e - NS_PAGE_SIZE, e);
			}
			return 0;
		}
	return -ENOENT;
}

/* page-node: a page of code gets another node.  A page of code: it stays
 * mapped to the end and no write copies it.  (A stack page does not do: a
 * process that writes it after fork gets a new record, and the spoiled
 * one goes.) */
static int corrupt_page_node(uint32_t self)
{
	page_learn_nodes(self, 0, ~0ULL);
	for (uint32_t t = pte_first(self); t; t = pte_next(t)) {
		uint32_t v = vma_find(self, pte_vpn(t) << NS_PAGE_SHIFT);
		struct ns_page *p = page_of(pte_page(t));
		if (v && vma_of(v)->obj && (vma_of(v)->prot & PROT_EXEC) &&
		    !(p->flags & (NS_PG_ANON | NS_PG_ZERO)) && p->node >= 0) {
			p->node += 7;
			return 0;
		}
	}
	return -ENOENT;
}

/* page-ghost: the shadow maps a page of an anonymous VMA the kernel has
 * not. */
static int corrupt_page_ghost(uint32_t self)
{
	uint32_t v = it_first(&vma_mm_ops, proc_of(self)->mm_root, 0, ~0ULL);
	for (; v; v = it_first(&vma_mm_ops, proc_of(self)->mm_root,
			       vma_of(v)->end, ~0ULL)) {
		if (vma_of(v)->obj || !(vma_of(v)->prot & PROT_READ))
			continue;
		for (uint64_t a = vma_of(v)->start; a < vma_of(v)->end; a += NS_PAGE_SIZE) {
			uint64_t e = 0;
			long fd = sys_open("/proc/thread-self/pagemap", O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return (int)fd;
			sys_pread((int)fd, &e, 8, (off_t)((a >> NS_PAGE_SHIFT) * 8));
			sys_close((int)fd);
			if (!(e & PM_PRESENT) && !pte_lookup(self, a >> NS_PAGE_SHIFT)) {
				if (anon_vma_prepare(v) < 0)
					return -ENOMEM;
				uint32_t pg = page_new_anon(vma_of(v)->anon_vma,
							    a >> NS_PAGE_SHIFT);
				return pg ? pte_set(self, a >> NS_PAGE_SHIFT, pg) : -ENOMEM;
			}
		}
	}
	return -ENOENT;
}

/* mapper: this process gets a copy of one page it shares, a COW break
 * the kernel did not make (learning keeps it: the copy's frame is
 * unknown, so the kernel's is taken for it). */
static int corrupt_mapper(uint32_t self)
{
	page_sync(self);
	for (uint32_t t = pte_first(self); t; t = pte_next(t)) {
		struct ns_page *p = page_of(pte_page(t));
		if ((p->flags & NS_PG_ANON) && p->mapcount > 1) {
			uint32_t copy = page_new_anon(p->obj, p->index);
			if (!copy)
				return -ENOMEM;
			page_of(copy)->node = p->node;
			pte_set(self, pte_vpn(t), copy);
			return 0;
		}
	}
	return -ENOENT;
}

/* Spoils one entry of this process's shadow; 0, -ENOENT when none suits,
 * or -errno. */
static int corrupt(const char *what)
{
	uint32_t self = ns_rt.self;

	if (!__builtin_strcmp(what, "vma-prot") || !__builtin_strcmp(what, "vma-bounds"))
		return corrupt_vma(self, what[4] == 'p');
	if (!__builtin_strcmp(what, "page-node"))
		return corrupt_page_node(self);
	if (!__builtin_strcmp(what, "page-ghost"))
		return corrupt_page_ghost(self);
	if (!__builtin_strcmp(what, "mapper"))
		return corrupt_mapper(self);
	return -EINVAL;
}

/* Start-up learns no pages, so they are learned here for the kinds that
 * spoil one. */
void corrupt_at_start(const char *kind)
{
	if (!__builtin_strcmp(kind, "mapper"))
		return;
	page_sync(ns_rt.self);
	corrupt(kind);
}

/* "mapper" needs a page shared with the parent: only a fork child has one. */
void corrupt_in_child(const char *kind)
{
	if (!__builtin_strcmp(kind, "mapper"))
		corrupt(kind);
}
