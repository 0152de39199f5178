/* SPDX-License-Identifier: MIT */
/*
 * model.h - the shadow's model: the records the kernel's mm keeps and
 * numashadow mirrors (interval trees, the arena and its pools, address
 * spaces, anon_vmas and their chains, VMAs, page descriptors and shadow
 * PTEs, the reverse map), with the pagemap bits they are learned from.
 * The glossary and the locking rules: internal.h, which includes this.
 * Its files make no system calls but the arena's (layer 3 and below,
 * tests/integration/layers.sh).
 */
#ifndef NS_MODEL_H
#define NS_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>


#define NS_PAGE_SHIFT 12

/* /proc/PID/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_FILE (1ULL << 61)
#define PM_EXCL (1ULL << 56)	/* mapped by this process alone */
#define PM_PFN ((1ULL << 55) - 1)	/* 0 without CAP_SYS_ADMIN */

/* Do two pagemap entries of one address, read at two moments, show the
 * same page?  By frame where PFNs are readable; without them by the
 * exclusive bit too, which a COW break turns on.  A node the kernel gave
 * between the two reads is that page's only when they do: a writer may
 * break COW (or a move take the page) between a frame read and a node
 * query, and the new copy's node is not the old frame's. */
static inline bool pm_same_page(uint64_t a, uint64_t b)
{
	uint64_t m = PM_PRESENT | PM_FILE | PM_PFN | ((a & PM_PFN) ? 0 : PM_EXCL);

	return (a & PM_PRESENT) && (a & m) == (b & m);
}
#define NS_PAGE_SIZE (1UL << NS_PAGE_SHIFT)
#define NS_PAGE_ALIGN(x) (((x) + NS_PAGE_SIZE - 1) & ~(NS_PAGE_SIZE - 1))

#define NS_VERIFY_EXIT 86	/* status of a process whose verify failed */

/* ---- itree.c: one interval tree (an index-based treap) for all uses ---- */

/* Embedded in a record; the record is reached by pool index. */
struct it_node {
	uint32_t left, right;	/* children, 0 = none */
	uint64_t start, last;	/* closed interval [start, last] */
	uint64_t sub_last;	/* max last in this subtree */
};

/* Where the nodes of one tree live: node(i) = base + i*stride + off. */
struct it_ops {
	char *base;
	size_t stride;
	size_t off;
};

/* Calls cb for each node overlapping [qs, ql] in ascending start order;
 * stops early and returns cb's value when it is non-zero. */
typedef int (*it_cb)(uint32_t idx, void *arg);
void it_insert(const struct it_ops *ops, uint32_t *root, uint32_t idx);
void it_remove(const struct it_ops *ops, uint32_t *root, uint32_t idx);
int it_query(const struct it_ops *ops, uint32_t root, uint64_t qs, uint64_t ql,
	     it_cb cb, void *arg);
uint32_t it_first(const struct it_ops *ops, uint32_t root, uint64_t qs,
		  uint64_t ql);
/* Checks order, heap priorities and sub_last; returns the node count or
 * -EINVAL. */
long it_is_valid(const struct it_ops *ops, uint32_t root);

/* ---- arena.c: the family arena, its pools and its lock ---- */

struct ns_lock {
	uint32_t owner;		/* tid of the holder, 0 = free; bit 31: not
				 * yet let in (arena.c) */
	uint32_t waiters;	/* threads sleeping on owner */
};

enum ns_pool_id { POOL_PROC, POOL_OBJ, POOL_VMA, POOL_AVC, POOL_PAGE,
		  POOL_PTE, POOL_SITE, NR_POOLS };

struct ns_pool {
	uint64_t off;		/* byte offset of record 0 in the arena */
	uint32_t size;		/* record size */
	uint32_t cap;		/* records, including the unused index 0 */
	uint32_t used;		/* high-water mark: indices < used were handed out */
	uint32_t free;		/* free list head (first word of a free record) */
	uint32_t live;		/* records in use */
	uint32_t pad;
};

#define NS_PTE_HASH (1u << 18)	/* shadow page-table hash buckets */
#define NS_PC_HASH (1u << 18)	/* page-cache (object, index) buckets */
#define NS_FILE_HASH (1u << 10)	/* dev+inode -> object buckets (a page) */
#define NS_SITE_HASH (1u << 10)	/* call site -> record buckets */

/* One allocation call site, kept once per family. */
struct ns_site_rec {
	uint32_t hash_next;	/* bucket chain */
	uint32_t pad;
	uint64_t hash;		/* of object and function */
	char object[64];	/* file name of the code */
	char function[64];	/* nearest symbol, "" when none */
};

struct ns_arena {
	uint32_t magic;
	uint32_t version;
	uint64_t size;		/* bytes mapped */
	struct ns_lock lock;	/* the family lock */
	uint32_t procs;		/* family list head (ns_proc.next) */
	uint32_t zero_page;	/* descriptor standing for the shared zero page */
	uint32_t tainted;	/* a holder died with the lock: shadow suspect
				 * (compare-and-swap, no lock) */
	uint32_t mig_inflight;	/* batches out of the lock in members' engines
				 * (family lock) */
	struct ns_pool pool[NR_POOLS];
	uint64_t pte_hash_off;	/* uint32_t[NS_PTE_HASH] */
	uint64_t pc_hash_off;	/* uint32_t[NS_PC_HASH] */
	uint32_t file_hash[NS_FILE_HASH];
	uint32_t site_hash[NS_SITE_HASH];
};

extern struct ns_arena *ns_arena;	/* this process's mapping of it */

int arena_create(void);
void arena_destroy(void);
bool arena_contains(uint64_t addr);
uint32_t pool_alloc(enum ns_pool_id id);
void pool_free(enum ns_pool_id id, uint32_t idx);
static inline void *pool_rec(enum ns_pool_id id, uint32_t idx)
{
	return (char *)ns_arena + ns_arena->pool[id].off +
	       (uint64_t)idx * ns_arena->pool[id].size;
}
void ns_lock(void);
void ns_unlock(void);
bool ns_lock_unless(const volatile int *bail);
void ns_lock_kick(void);
void ns_unlock_if_mine(void);
bool ns_lock_mine(void);	/* this thread holds (or is taking) the family lock */
void ns_tid_forget(void);	/* in a fork child: the tid is the kernel's again */
void ns_lock_close(void);	/* lock held: this process's others kept out */
void ns_lock_reopen(void);	/* ... let in again */

/* ---- object.c: address_space, anon_vma and anon_vma_chain ---- */

enum ns_obj_kind { OBJ_FILE = 1, OBJ_SHM, OBJ_ANON };

struct ns_object {
	uint32_t kind;		/* enum ns_obj_kind */
	uint32_t refs;		/* VMAs (file, shm) or AVCs + pages (anon) */
	uint32_t tree;		/* i_mmap root (vma.imap) or AVC root (avc.rb) */
	uint32_t hash_next;	/* file hash chain */
	uint64_t dev, ino;	/* identity; shm: 0 until learned from maps */
	uint32_t root;		/* anon_vma: the root of its fork hierarchy */
	uint32_t parent;	/* anon_vma: the anon_vma it was forked from */
	uint32_t nr_pages;	/* page descriptors pointing here */
	uint32_t pad;
};

struct ns_avc {
	struct it_node rb;	/* in anon_vma->tree, by the vma's pgoff range */
	uint32_t vma;		/* the vma */
	uint32_t anon_vma;	/* the anon_vma */
	uint32_t next;		/* next avc on vma->avc_head (same_vma list) */
	uint32_t pad;
};

static inline struct ns_object *obj_of(uint32_t i)
{ return pool_rec(POOL_OBJ, i); }
static inline struct ns_avc *avc_of(uint32_t i)
{ return pool_rec(POOL_AVC, i); }

uint32_t obj_file_get(uint64_t dev, uint64_t ino, enum ns_obj_kind kind);
uint32_t obj_shm_new(void);
void obj_get(uint32_t obj);
void obj_put(uint32_t obj);
uint32_t anon_vma_alloc(uint32_t parent);
int anon_vma_prepare(uint32_t vma);
int anon_vma_link(uint32_t vma, uint32_t anon_vma);
int anon_vma_clone(uint32_t dst_vma, uint32_t src_vma);
int anon_vma_fork(uint32_t child_vma, uint32_t parent_vma);
void unlink_anon_vmas(uint32_t vma);
void avc_tree_update(uint32_t vma, bool insert);
void imap_tree_update(uint32_t vma, bool insert);
int avc_count(uint32_t vma);

/* ---- vma.c: per-process shadow VMA tree with the kernel's semantics ---- */

#define NS_VMA_SHARED	0x01	/* MAP_SHARED */
#define NS_VMA_DONTCOPY	0x02	/* MADV_DONTFORK */
#define NS_VMA_WIPEONFORK 0x04	/* MADV_WIPEONFORK */
#define NS_VMA_GROWSDOWN 0x08	/* the main stack: the kernel extends it */
#define NS_VMA_STACK	0x10	/* a thread stack (MAP_STACK) */

struct ns_vma {
	struct it_node mm;	/* in proc->mm_root, [start, end - 1] */
	struct it_node imap;	/* in obj->tree when file/shm, by pgoff */
	uint64_t start, end;	/* [start, end), page aligned */
	uint64_t pgoff;		/* page offset of start in its object */
	uint32_t proc;		/* owner */
	uint32_t obj;		/* file/shm address_space, 0 for anonymous */
	uint32_t anon_vma;	/* its own anon_vma, 0 until it has anon pages */
	uint32_t avc_head;	/* same_vma list of AVCs */
	uint32_t prot;		/* PROT_* */
	uint32_t flags;		/* NS_VMA_* */
	int32_t policy;		/* placement: 0 none, else policy_get(policy - 1) */
	uint32_t site;		/* where it was mapped from (site_intern), 0 unknown */
};

static inline struct ns_vma *vma_of(uint32_t i)
{ return pool_rec(POOL_VMA, i); }
extern struct it_ops vma_mm_ops, vma_imap_ops, avc_ops;	/* set by arena_create */

uint32_t vma_find(uint32_t proc, uint64_t addr);
int vma_map(uint32_t proc, uint64_t start, uint64_t end, int prot,
	    uint32_t flags, uint32_t obj, uint64_t pgoff);
int vma_unmap(uint32_t proc, uint64_t start, uint64_t end);
/* Follows the kernel growing the stack ending at end down to start. */
void vma_grow_down(uint32_t proc, uint64_t start, uint64_t end);
int vma_protect(uint32_t proc, uint64_t start, uint64_t end, int prot);
int vma_remap(uint32_t proc, uint64_t old, uint64_t oldlen, uint64_t newlen,
	      int flags, uint64_t newaddr);
int vma_advise(uint32_t proc, uint64_t start, uint64_t end, int advice);
int vma_set_policy(uint32_t proc, uint64_t start, uint64_t end, int idx);
int vma_set_site(uint32_t proc, uint64_t start, uint64_t end, uint32_t site);
int vma_split(uint32_t vma, uint64_t addr);
/* For mm.c: a new VMA in proc's tree (0 when the pool is full); one taken
 * out of it and released; one released that its tree no longer holds. */
uint32_t vma_new(uint32_t proc, uint64_t start, uint64_t end, int prot,
		 uint32_t flags, uint32_t obj, uint64_t pgoff);
void vma_free(uint32_t vma);
void vma_release(uint32_t vma);

/* ---- mm.c: a proc's address space as a whole ---- */

int mm_fork(uint32_t parent, uint32_t child);
void mm_exit(uint32_t proc);
/* Visits the proc's VMAs overlapping [start, end) in address order. */
int vma_walk(uint32_t proc, uint64_t start, uint64_t end, it_cb cb, void *arg);
/* mm.c: checks tree order, non-overlap, object links and AVC trees;
 * returns the number of VMAs or -EINVAL. */
long mm_is_valid(uint32_t proc);

/* ---- page.c: page descriptors and shadow PTEs ---- */

#define NS_NODE_NONE	(-2)	/* ns_page.node: asked, no node given */
#define NS_PG_ANON	0x01	/* anonymous (belongs to an anon_vma) */
#define NS_PG_ZERO	0x02	/* the shared zero page */
#define NS_PG_MIGRATING	0x04	/* under migration: like a migration entry */
#define NS_PG_GUESS	0x08	/* node learned while a migration was in flight */
#define NS_PTE_LAZY	0x01	/* under MADV_FREE: may vanish */

/* A page descriptor keeps what the kernel cannot be asked cheaply; who
 * first touched a page and from which call site its mapping was made are
 * the trace's and the VMA's, where it sits in the page cache its object's
 * tables' (16 bytes).  The widths hold what x86-64 with four-level page
 * tables can address: page offsets below 2^36 pages (NS_PAGE_INDEX_MAX:
 * 256 TiB, all of user space; a page past it is not learned), frames
 * below 2^40 (52-bit physical addresses), nodes below 64 (the runtime's
 * node masks), every object index (NS_OBJ_MAX), and as many mappers as
 * there can be VMAs (NS_VMA_MAX): a page is mapped at most once per VMA.
 * The shared zero page's mappers are not counted: it is never freed. */
#define NS_PAGE_INDEX_MAX	((1ULL << 36) - 1)
#define NS_OBJ_MAX	(1u << 20)	/* object records (arena.c) */
#define NS_VMA_MAX	(1u << 20)	/* VMA records */
#define NS_PAGE_MAX	(1u << 22)	/* page descriptors */
#define NS_PTE_MAX	(1u << 23)	/* PTE and page-cache slots */
struct ns_page {
	uint64_t pfn : 40;	/* 0 when unknown (not root) */
	uint64_t mapcount : 20;	/* shadow PTEs pointing here */
	uint64_t flags : 4;	/* NS_PG_* */
	uint64_t index : 36;	/* page offset in obj (linear index for anon) */
	uint64_t obj : 20;	/* anon_vma or address_space */
	int64_t node : 8;	/* NUMA node, -1 unknown, NS_NODE_NONE: the
				 * kernel gave none when asked */
};
_Static_assert(sizeof(struct ns_page) == 16, "a page descriptor is 16 bytes");
_Static_assert(NS_OBJ_MAX <= 1u << 20 && NS_VMA_MAX <= 1u << 20 &&
	       NS_PAGE_MAX < 1u << 31, "descriptor fields hold every index and count");

/*
 * Shadow page tables, as the kernel keeps its own: a table holds the PTEs
 * of NS_PTE_SLOTS consecutive virtual pages of one process, each a 32-bit
 * descriptor index (0: none) with NS_PTE_LAZY in its top bit, so a
 * resident page costs 4 bytes a mapper.  A PTE is named by its table and
 * slot: (table << NS_PTE_SHIFT) | slot, 0 for none.  The page cache keeps
 * file and shm pages in the same tables: an object's descriptors at
 * NS_PTE_SLOTS consecutive page offsets (proc names the object, base the
 * first offset; on no list).
 */
#define NS_PTE_SHIFT	6
#define NS_PTE_SLOTS	(1u << NS_PTE_SHIFT)
#define NS_PTE_PAGE	0x7fffffffu	/* the descriptor bits of a slot */
#define NS_PTE_LAZY_BIT	0x80000000u	/* NS_PTE_LAZY, in a slot */

struct ns_ptab {
	uint32_t proc;		/* owner: proc, or object (page cache) */
	uint32_t hash_next;	/* bucket chain */
	uint32_t prev, next;	/* the proc's list of tables */
	uint32_t tno;		/* first vpn (offset) / NS_PTE_SLOTS: ptab_base() */
	uint32_t used;		/* slots in use */
	uint32_t e[NS_PTE_SLOTS];
};
_Static_assert(NS_PAGE_INDEX_MAX >> NS_PTE_SHIFT <= UINT32_MAX,
	       "a table number holds every first vpn and offset");

static inline struct ns_page *page_of(uint32_t i)
{ return pool_rec(POOL_PAGE, i); }
static inline struct ns_ptab *ptab_of(uint32_t i)
{ return pool_rec(POOL_PTE, i); }
static inline uint64_t ptab_base(uint32_t t)
{ return (uint64_t)ptab_of(t)->tno << NS_PTE_SHIFT; }
static inline uint32_t *pte_slot(uint32_t t)
{ return &ptab_of(t >> NS_PTE_SHIFT)->e[t & (NS_PTE_SLOTS - 1)]; }
static inline uint32_t pte_page(uint32_t t)
{ return *pte_slot(t) & NS_PTE_PAGE; }
static inline uint64_t pte_vpn(uint32_t t)
{ return ptab_base(t >> NS_PTE_SHIFT) + (t & (NS_PTE_SLOTS - 1)); }
static inline uint32_t pte_flags(uint32_t t)
{ return (*pte_slot(t) & NS_PTE_LAZY_BIT) ? NS_PTE_LAZY : 0; }
static inline void pte_mark_lazy(uint32_t t)
{ *pte_slot(t) |= NS_PTE_LAZY_BIT; }

/* The proc's PTEs in no particular order: pte_first(), then pte_next()
 * until 0.  pte_next() needs its PTE still set: to clear as it goes, a
 * caller takes the next one first. */
uint32_t pte_first(uint32_t proc);
uint32_t pte_next(uint32_t pte);

uint32_t pte_lookup(uint32_t proc, uint64_t vpn);
int pte_set(uint32_t proc, uint64_t vpn, uint32_t page);
void pte_clear(uint32_t pte);
void pte_clear_range(uint32_t proc, uint64_t start, uint64_t end);
void pte_clear_all(uint32_t proc);
void pte_move_range(uint32_t proc, uint64_t old, uint64_t new, uint64_t len);
/* Fork: the slots of table t in mask go to proc to (anonymous pages only). */
int pte_copy_table(uint32_t t, uint32_t to, uint64_t mask);
uint32_t page_new_anon(uint32_t anon_vma, uint64_t index);
void page_move_anon(uint32_t page, uint32_t anon_vma);
uint32_t page_cache_get(uint32_t obj, uint64_t index);
uint32_t page_zero(void);
/* The record of (object, function), created on first sight; 0 if full. */
uint32_t site_intern(const char *object, const char *function);
static inline struct ns_site_rec *site_of(uint32_t i)
{ return pool_rec(POOL_SITE, i); }

/* ---- rmap.c: the reverse map ---- */

/* Called for each (proc, vma, address) mapping the page. */
typedef int (*rmap_cb)(uint32_t proc, uint32_t vma, uint64_t addr, void *arg);

uint64_t vma_address(uint32_t vma, uint64_t index);
int rmap_walk(uint32_t page, rmap_cb cb, void *arg);
/* The same over every (proc, vma, address) that could map the page - its
 * object's VMAs at the page's index - whatever their shadow PTEs say. */
int rmap_walk_places(uint32_t page, rmap_cb cb, void *arg);
/* The page's mappers (places: every place that could map it) in the
 * walk's order: the first skip passed over, the next max stored in at.
 * Returns how many there are (which may exceed skip + max). */
struct rmap_at {
	uint32_t proc;
	uint64_t addr;
};
int rmap_collect(uint32_t page, bool places, struct rmap_at *at, int skip, int max);


#endif
