/* SPDX-License-Identifier: MIT */
/*
 * object.c - memory objects: address_space for files and shared memory,
 * anon_vma and anon_vma_chain for anonymous memory (mm/rmap.c's model).
 *
 * A file or shm VMA sits in its object's i_mmap tree, keyed by the page
 * offsets it maps.  A VMA holding anonymous pages links through AVCs to
 * every anon_vma whose pages it may map: its own, and on fork every
 * anon_vma of the parent's VMA (anon_vma_fork), so a child's VMA after n
 * forks has n + 1 AVCs and a walk from a page visits only the VMAs that can
 * map it.  All callers hold the family lock.
 */
#include <errno.h>
#include <stddef.h>
#include "internal.h"

static inline uint32_t file_hash(uint64_t dev, uint64_t ino)
{
	return (uint32_t)((ino * 0x9e3779b97f4a7c15ULL) ^ dev) &
	       (NS_FILE_HASH - 1);
}

/* Returns the address_space of (dev, ino) with a new reference, creating
 * it; 0 when the pool is full. */
uint32_t obj_file_get(uint64_t dev, uint64_t ino, enum ns_obj_kind kind)
{
	uint32_t *head = &ns_arena->file_hash[file_hash(dev, ino)];
	uint32_t i;

	for (i = *head; i; i = obj_of(i)->hash_next)
		if (obj_of(i)->dev == dev && obj_of(i)->ino == ino) {
			obj_of(i)->refs++;
			return i;
		}
	i = pool_alloc(POOL_OBJ);
	if (!i)
		return 0;
	*obj_of(i) = (struct ns_object){ .kind = kind, .refs = 1, .dev = dev,
					 .ino = ino, .hash_next = *head };
	*head = i;
	return i;
}

/* A shared anonymous object whose inode the kernel has not told us yet;
 * verify learns it from /proc/PID/maps on first sight. */
uint32_t obj_shm_new(void)
{
	uint32_t i = pool_alloc(POOL_OBJ);

	if (i)
		*obj_of(i) = (struct ns_object){ .kind = OBJ_SHM, .refs = 1 };
	return i;
}

void obj_get(uint32_t obj)
{
	obj_of(obj)->refs++;
}

void obj_put(uint32_t obj)
{
	struct ns_object *o = obj_of(obj);

	if (--o->refs)
		return;
	if (o->kind != OBJ_ANON && (o->dev || o->ino)) {
		uint32_t *p = &ns_arena->file_hash[file_hash(o->dev, o->ino)];
		while (*p && *p != obj)
			p = &obj_of(*p)->hash_next;
		if (*p)
			*p = o->hash_next;
	}
	if (o->kind == OBJ_ANON && o->parent)
		obj_put(o->parent);
	pool_free(POOL_OBJ, obj);
}

/* Returns a new anon_vma forked from parent (0 for a root), or 0 when the
 * pool is full.  A child holds a reference on its parent so the hierarchy
 * stays walkable while any descendant lives. */
uint32_t anon_vma_alloc(uint32_t parent)
{
	uint32_t i = pool_alloc(POOL_OBJ);

	if (!i)
		return 0;
	*obj_of(i) = (struct ns_object){ .kind = OBJ_ANON, .refs = 0,
					 .parent = parent,
					 .root = parent ? obj_of(parent)->root : i };
	if (parent)
		obj_get(parent);
	return i;
}

static inline void avc_key(uint32_t avc)
{
	struct ns_vma *v = vma_of(avc_of(avc)->vma);

	avc_of(avc)->rb.start = v->pgoff;
	avc_of(avc)->rb.last = v->pgoff + ((v->end - v->start) >> NS_PAGE_SHIFT) - 1;
}

/* Links vma to anon_vma through a new AVC; 0 or -ENOMEM. */
static int avc_link(uint32_t vma, uint32_t anon_vma)
{
	uint32_t c = pool_alloc(POOL_AVC);

	if (!c)
		return -ENOMEM;
	avc_of(c)->vma = vma;
	avc_of(c)->anon_vma = anon_vma;
	avc_of(c)->next = vma_of(vma)->avc_head;
	vma_of(vma)->avc_head = c;
	avc_key(c);
	it_insert(&avc_ops, &obj_of(anon_vma)->tree, c);
	obj_get(anon_vma);
	return 0;
}

/* Links vma to anon_vma unless it is already; 0 or -ENOMEM. */
int anon_vma_link(uint32_t vma, uint32_t anon_vma)
{
	for (uint32_t c = vma_of(vma)->avc_head; c; c = avc_of(c)->next)
		if (avc_of(c)->anon_vma == anon_vma)
			return 0;
	return avc_link(vma, anon_vma);
}

/* Gives vma its own anon_vma (on first anonymous page), as the kernel does
 * at the first write fault.  Returns 0 or -ENOMEM. */
/* find_mergeable_anon_vma(): a neighbour that differs only in protection,
 * continues our pgoff and holds an anon_vma of its own alone lends it, so
 * the two can merge again when their protections meet. */
static uint32_t anon_vma_borrow(uint32_t vma)
{
	struct ns_vma *v = vma_of(vma);
	uint32_t n[2] = { v->start ? vma_find(v->proc, v->start - 1) : 0,
			  vma_find(v->proc, v->end) };

	for (int i = 0; i < 2; i++) {
		struct ns_vma *o = n[i] ? vma_of(n[i]) : NULL;
		struct ns_vma *a = i ? v : o, *b = i ? o : v;
		if (!o || !o->anon_vma || o->obj != v->obj || o->flags != v->flags ||
		    a->end != b->start ||
		    b->pgoff != a->pgoff + ((a->end - a->start) >> NS_PAGE_SHIFT) ||
		    avc_count(n[i]) != 1)
			continue;
		return o->anon_vma;
	}
	return 0;
}

int anon_vma_prepare(uint32_t vma)
{
	uint32_t av;

	if (vma_of(vma)->anon_vma)
		return 0;
	av = anon_vma_borrow(vma);
	if (av) {
		if (avc_link(vma, av) < 0)
			return -ENOMEM;
		vma_of(vma)->anon_vma = av;
		return 0;
	}
	av = anon_vma_alloc(0);
	if (!av)
		return -ENOMEM;
	if (avc_link(vma, av) < 0) {
		pool_free(POOL_OBJ, av);
		return -ENOMEM;
	}
	vma_of(vma)->anon_vma = av;
	return 0;
}

/* dst gets an AVC for every anon_vma src links to (split, mremap copy).
 * Returns 0 or -ENOMEM. */
int anon_vma_clone(uint32_t dst, uint32_t src)
{
	for (uint32_t c = vma_of(src)->avc_head; c; c = avc_of(c)->next)
		if (avc_link(dst, avc_of(c)->anon_vma) < 0)
			return -ENOMEM;
	vma_of(dst)->anon_vma = vma_of(src)->anon_vma;
	return 0;
}

/* A child's VMA: the parent's AVCs plus its own new anon_vma, forked from
 * the parent VMA's, so pages the child creates after COW are found from it
 * alone.  Returns 0 or -ENOMEM. */
int anon_vma_fork(uint32_t child, uint32_t parent)
{
	uint32_t pav = vma_of(parent)->anon_vma, av;

	if (!pav)
		return 0;
	if (anon_vma_clone(child, parent) < 0)
		return -ENOMEM;
	av = anon_vma_alloc(pav);
	if (!av)
		return -ENOMEM;
	if (avc_link(child, av) < 0) {
		obj_put(pav);
		pool_free(POOL_OBJ, av);
		return -ENOMEM;
	}
	vma_of(child)->anon_vma = av;
	return 0;
}

/* Drops every AVC of vma (it is going away). */
void unlink_anon_vmas(uint32_t vma)
{
	uint32_t c = vma_of(vma)->avc_head, next;

	for (; c; c = next) {
		uint32_t av = avc_of(c)->anon_vma;
		next = avc_of(c)->next;
		it_remove(&avc_ops, &obj_of(av)->tree, c);
		pool_free(POOL_AVC, c);
		obj_put(av);
	}
	vma_of(vma)->avc_head = 0;
	vma_of(vma)->anon_vma = 0;
}

/* Takes vma's AVCs out of (insert false) or back into (insert true) their
 * anon_vma trees around a change of its range or pgoff, like the kernel's
 * anon_vma_interval_tree_pre/post_update_vma. */
void avc_tree_update(uint32_t vma, bool insert)
{
	for (uint32_t c = vma_of(vma)->avc_head; c; c = avc_of(c)->next) {
		uint32_t *root = &obj_of(avc_of(c)->anon_vma)->tree;
		if (insert) {
			avc_key(c);
			it_insert(&avc_ops, root, c);
		} else {
			it_remove(&avc_ops, root, c);
		}
	}
}

/* The same for the i_mmap tree of a file or shm VMA. */
void imap_tree_update(uint32_t vma, bool insert)
{
	struct ns_vma *v = vma_of(vma);

	if (!v->obj)
		return;
	if (insert) {
		v->imap.start = v->pgoff;
		v->imap.last = v->pgoff + ((v->end - v->start) >> NS_PAGE_SHIFT) - 1;
		it_insert(&vma_imap_ops, &obj_of(v->obj)->tree, vma);
	} else {
		it_remove(&vma_imap_ops, &obj_of(v->obj)->tree, vma);
	}
}

/* Returns the number of AVCs on vma's same_vma list. */
int avc_count(uint32_t vma)
{
	int n = 0;

	for (uint32_t c = vma_of(vma)->avc_head; c; c = avc_of(c)->next)
		n++;
	return n;
}
