/* SPDX-License-Identifier: MIT */
/*
 * internal.h - the runtime's model, shared between its modules.
 *
 * Glossary (after the kernel's mm, which this mirrors):
 *   family      the first preloaded process and its forked descendants; they
 *               share one arena (a memfd mapped MAP_SHARED before any fork).
 *   proc        one process of the family: its VMA tree and its PTEs.
 *   vma         one mapping [start, end) of a proc, with protection, flags,
 *               backing object and pgoff (page offset of start in the object).
 *   object      an address_space (file or shared-memory object, keyed by
 *               dev+inode, VMAs in an interval tree by page offset: i_mmap)
 *               or an anon_vma (anonymous pages; VMAs reach it through AVCs).
 *   avc         anon_vma_chain: one (vma, anon_vma) pair, on the vma's
 *               same_vma list and in the anon_vma's interval tree.
 *   page        descriptor of one present 4 KiB page: object + index, node,
 *               mapcount, PFN when readable.
 *   pte         the shadow page-table entry: (proc, virtual page) -> page.
 *
 * Records live in typed pools inside the arena and refer to each other by
 * uint32_t index, 0 meaning none, so every process sees the same values at
 * whatever address it maps the arena.
 *
 * Locking: one family lock (arena.c) guards every record in the arena.  The
 * runtime takes it around "syscall + shadow update" so the kernel and the
 * shadow agree whenever it is free.  Every lock, its order and its rules:
 * the lock tree at the top of arena.c.
 * A thread already inside the runtime (the per-thread ns_in_runtime flag)
 * never takes the lock again: re-entrant and signal-handler calls pass
 * straight to the kernel and mark the shadow for reconciliation.
 */
#ifndef NS_INTERNAL_H
#define NS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "numashadow_trace.h"

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
	uint32_t owner;		/* tid of the holder, 0 = free */
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
#define NS_FILE_HASH (1u << 12)	/* dev+inode -> object buckets */
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

int arena_create(size_t scale);
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
int mm_fork(uint32_t parent, uint32_t child);
void mm_exit(uint32_t proc);
/* Visits the proc's VMAs overlapping [start, end) in address order. */
int vma_walk(uint32_t proc, uint64_t start, uint64_t end, it_cb cb, void *arg);
/* Checks tree order, non-overlap, object links and AVC trees; returns the
 * number of VMAs or -EINVAL. */
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
 * the trace's and the VMA's (32 bytes). */
struct ns_page {
	uint32_t obj;		/* anon_vma or address_space */
	uint32_t mapcount;	/* shadow PTEs pointing here */
	uint64_t index;		/* page offset in obj (linear index for anon) */
	uint64_t pfn;		/* 0 when unknown (not root) */
	int16_t node;		/* NUMA node, -1 unknown, NS_NODE_NONE: the
				 * kernel gave none when asked */
	uint16_t flags;		/* NS_PG_* */
	uint32_t hash_next;	/* page-cache chain (file/shm pages) */
};
_Static_assert(sizeof(struct ns_page) == 32, "a page descriptor is 32 bytes");

/*
 * Shadow page tables, as the kernel keeps its own: a table holds the PTEs
 * of NS_PTE_SLOTS consecutive virtual pages of one process, each a 32-bit
 * descriptor index (0: none) with NS_PTE_LAZY in its top bit, so a
 * resident page costs 4 bytes a mapper.  A PTE is named by its table and
 * slot: (table << NS_PTE_SHIFT) | slot, 0 for none.
 */
#define NS_PTE_SHIFT	6
#define NS_PTE_SLOTS	(1u << NS_PTE_SHIFT)
#define NS_PTE_PAGE	0x7fffffffu	/* the descriptor bits of a slot */
#define NS_PTE_LAZY_BIT	0x80000000u	/* NS_PTE_LAZY, in a slot */

struct ns_ptab {
	uint32_t proc;		/* owner */
	uint32_t hash_next;	/* bucket chain */
	uint32_t prev, next;	/* the proc's list of tables */
	uint64_t base;		/* first vpn, a multiple of NS_PTE_SLOTS */
	uint32_t used;		/* slots in use */
	uint32_t pad;
	uint32_t e[NS_PTE_SLOTS];
};

static inline struct ns_page *page_of(uint32_t i)
{ return pool_rec(POOL_PAGE, i); }
static inline struct ns_ptab *ptab_of(uint32_t i)
{ return pool_rec(POOL_PTE, i); }
static inline uint32_t *pte_slot(uint32_t t)
{ return &ptab_of(t >> NS_PTE_SHIFT)->e[t & (NS_PTE_SLOTS - 1)]; }
static inline uint32_t pte_page(uint32_t t)
{ return *pte_slot(t) & NS_PTE_PAGE; }
static inline uint64_t pte_vpn(uint32_t t)
{ return ptab_of(t >> NS_PTE_SHIFT)->base + (t & (NS_PTE_SLOTS - 1)); }
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
int pte_copy_one(uint32_t pte, uint32_t to);
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

/* ---- numa.c: topology and rights ---- */

int numa_parse_ranges(const char *s, void (*set)(unsigned n, void *arg),
		      void *arg);
uint64_t numa_parse_list(const char *s);
uint64_t numa_online(void);
bool numa_node_online(int node);
/* The node of each CPU: read it (once per image), then ask. */
void numa_cpu_nodes_read(void);
int numa_cpu_node(int64_t cpu);
bool numa_can_move_all(void);

/* ---- migrate.c: the migration engine ---- */

/* Outcomes of page moves, by reason (one set per proc, in the arena). */
struct ns_mig_counters {
	uint64_t calls;		/* migrations asked for */
	uint64_t moved;		/* pages now on their target node */
	uint64_t already;	/* pages that were there already */
	uint64_t shared;	/* -EACCES: mapped by others, no CAP_SYS_NICE */
	uint64_t not_present;	/* -ENOENT: gone before it could move */
	uint64_t nomem;		/* -ENOMEM: target node full */
	uint64_t fault;		/* -EFAULT: not a movable page (zero page) */
	uint64_t busy;		/* -EBUSY/-EAGAIN after every pass, or locked */
	uint64_t other;		/* any other error */
	uint64_t passes;	/* move_pages passes made */
};

#define NS_MIG_SYNC	0x1	/* wait for pages another migration holds */
#define NS_MIG_SHARED	0x2	/* move pages others map (needs CAP_SYS_NICE) */

/* Moves the present pages of this process in [start, end) to node; called
 * WITHOUT the family lock.  Returns pages moved or -errno. */
long mig_move_range(uint64_t start, uint64_t end, int node, unsigned flags);
/* The same, taking only pages the shadow says are on node from (-1: any). */
long mig_move_range_from(uint64_t start, uint64_t end, int from, int node,
			 unsigned flags);
void mig_after_fork(void);

/* ---- migrate_all.c: migrations of the whole program ---- */

/* Moves every page the program maps (not the runtime's own). */
long mig_move_all(int node, unsigned flags);
/* Moves the pages on each node of from to the matching node of to (the
 * i-th of each mask, as migrate_pages(2)); -EINVAL for empty masks, masks
 * of different weight or offline nodes. */
long mig_move_nodes(uint64_t from, uint64_t to, unsigned flags);

/* ---- proc.c: the processes of the family ---- */

#define NS_PROC_LIVE	1
#define NS_PROC_EXEC	3	/* inside execve: shadow dropped, hooks pass */
#define NS_PROC_EXITING	4	/* past our exit code, its mm maybe not yet
				 * gone: its mappings stand until it is
				 * found dead (proc_alive) and released */

struct ns_proc {
	uint32_t next;		/* family list */
	uint32_t state;		/* NS_PROC_* */
	int32_t pid;
	uint32_t parent;	/* proc it was forked from, 0 for the root */
	uint64_t starttime;	/* started by then (stat field 22's unit), against
				 * pid reuse */
	uint32_t mm_root;	/* VMA tree */
	uint32_t nr_vma;
	uint32_t pte_head;	/* list of its page tables */
	uint32_t nr_ptab;	/* how many */
	uint32_t dirty;		/* untracked changes: reconcile before use (set
				 * by any thread with no lock, cleared under
				 * the family lock) */
	uint32_t unlearned;	/* dormant: its shadow is empty, kept by nobody */
	uint64_t nr_pte;
	uint64_t start_brk;	/* heap start, as the kernel's mm->start_brk */
	uint64_t brk;		/* current break */
	struct ns_mig_counters mig;	/* this process's migrations: written
					 * under its engine lock, read under
					 * the family lock */
};

#define NS_PROC_MAX 4096	/* process records in an arena of scale 1 */

static inline struct ns_proc *proc_of(uint32_t i)
{ return pool_rec(POOL_PROC, i); }

uint32_t proc_new(pid_t pid, uint32_t parent);
uint32_t proc_find(pid_t pid);
void proc_release(uint32_t proc);
void proc_release_pid(pid_t pid);
void proc_renew(uint32_t proc);
int64_t stat_field(const char *path, int field, char *state);
bool proc_alive(uint32_t proc);

/* ---- pagemap.c: the kernel's page tables, ours and our relatives' ---- */

int pm_open(uint32_t proc, bool *keep);
void pm_close(int fd, bool keep);
/* proc's pagemap entry of addr: 0 or -errno (-ESRCH: its mm is gone). */
int pm_read(uint32_t proc, uint64_t addr, uint64_t *ent);

/* ---- maps.c: /proc/PID/maps ---- */

#define NS_KVMA_SPECIAL 0x1	/* [vdso], [vvar], [vsyscall]: not ours */
#define NS_KVMA_STACK	0x2	/* [stack] */
#define NS_KVMA_HEAP	0x4	/* [heap] */
#define NS_KVMA_SHMANON 0x8	/* shared anonymous (/dev/zero, SYSV) */

struct ns_kvma {
	uint64_t start, end;
	uint64_t off;		/* file offset in bytes */
	uint64_t dev, ino;	/* 0 for anonymous */
	uint32_t prot;		/* PROT_* */
	uint32_t flags;		/* NS_VMA_SHARED | NS_KVMA_* << 8 */
};

/* Reads /proc/PID/maps (pid 0: self) into out, using buf for the text;
 * returns the count or -errno. */
int maps_read(pid_t pid, struct ns_kvma *out, int max, char *buf, size_t n);
/* Reads hexadecimal digits (an optional 0x first) at *s, advancing it. */
uint64_t ns_hex(const char **s);

/* ---- verify.c: the kernel as oracle ---- */

/* Compares (fix = false) or reconciles (fix = true) a proc's VMAs with the
 * kernel's; returns the number of differences. */
int verify_vmas(uint32_t proc, bool fix);
int verify_vmas_quiet(uint32_t proc);
/* Learns present pages from pagemap and checks every page claim of the
 * family; returns the number of differences.  Between its looks it calls
 * catch_up (the caller's: the hooks' layer takes in what the monitor has
 * not yet passed on). */
int verify_pages(bool all, void (*catch_up)(void));
extern uint64_t ns_devzero_dev, ns_devzero_ino;

/* ---- learn.c: pages learned from pagemap ---- */

/* Learns this proc's present pages (first touch, COW breaks). */
int page_sync(uint32_t proc);
void page_sync_range(uint32_t proc, uint64_t lo, uint64_t hi);
/* The same, letting pages the kernel no longer has go from the shadow. */
void page_drop_vanished(uint32_t proc, uint64_t lo, uint64_t hi);
/* Learns the page at addr in proc (self); its descriptor, 0, or -errno. */
int page_sync_addr(uint32_t proc, uint64_t addr);
/* Asks the kernel for the nodes the shadow does not know in [lo, hi). */
void page_learn_nodes(uint32_t proc, uint64_t lo, uint64_t hi);
/* Counts this proc's present pages by node into counts[64]; lock held. */
void page_count_by_node(uint32_t proc, uint64_t counts[64]);

/* ---- sync.c: one page learned ---- */

/* Does proc map the page we map at addr, whose pagemap entry is mine (its
 * frame as root, else both present, anonymous and shared)?  1, 0, or
 * -errno (its mm is gone: -ESRCH). */
int pm_maps_ours(uint32_t proc, uint64_t addr, uint64_t mine);
extern uint64_t ns_zero_pfn;

/* ---- own.c: the runtime's own memory ---- */

/* Leaves a runtime buffer out of page tracking: the runtime writes it while
 * it scans, so its pages would race the scan. */
void ns_exclude(const void *start, size_t len);
/* The runtime's own writable memory: never write-protected by us. */
void ns_own_add(uint64_t start, uint64_t end);
void ns_own_del(uint64_t start, uint64_t end);
bool ns_own_overlaps(uint64_t start, uint64_t end);

/* ---- passed.c: calls that went straight to the kernel, for the reconcile ---- */

void passed_add(uint64_t start, uint64_t len);
int remap_begin(uint64_t old, uint64_t oldlen, uint64_t newlen, int flags, uint64_t new);
void remap_end(int slot, long r);
bool remap_pending(uint64_t s, uint64_t e);	/* an mremap is changing [s, e) */
bool remap_hint(uint64_t s, uint64_t e, uint64_t *pgoff);
void remap_replay(void);
void passed_drain(void);
void passed_after_fork(void);

/* ---- corrupt.c: test-only damage to the shadow (NUMASHADOW_TEST_CORRUPT) ---- */

/* Weak and hidden: defined in the test build of the library only; in the
 * shipped one they resolve to NULL at link time, so check corrupt_kind
 * before calling any of them. */
#define NS_TEST_ONLY __attribute__((weak, visibility("hidden")))
/* The kind v names, as a string of corrupt.c's own, or NULL for none. */
const char *corrupt_kind(const char *v) NS_TEST_ONLY;
/* Spoil one entry of that kind, if it is one spoiled at start-up (all but
 * "mapper"), or one spoiled in a fork child ("mapper").  Lock held. */
void corrupt_at_start(const char *kind) NS_TEST_ONLY;
void corrupt_in_child(const char *kind) NS_TEST_ONLY;

/* ---- policy.c: first-touch placement policies and rules ---- */

enum ns_pol_mode { POL_NONE, POL_LOCAL, POL_BIND, POL_PREFERRED, POL_INTERLEAVE,
		   POL_WEIGHTED };

struct ns_policy {
	uint8_t mode;		/* enum ns_pol_mode */
	uint8_t nnodes;		/* entries in nodes[] */
	uint16_t total;		/* sum of weight[] */
	uint8_t nodes[64];	/* in order */
	uint8_t weight[64];	/* pages per turn (1 but for weighted) */
};

enum { RULE_SIZE_GE = 1, RULE_SIZE_LT, RULE_SITE };
#define NS_MAX_RULES 16

struct ns_rule {
	int kind;		/* RULE_* */
	uint64_t size;		/* bytes, for the size rules */
	char object[64];	/* site rules: file name (or its tail) */
	char function[64];	/* ... and function */
	struct ns_policy policy;
};

struct ns_policies {
	struct ns_policy def;	/* NUMASHADOW_POLICY */
	int nrules;
	struct ns_rule rule[NS_MAX_RULES];	/* NUMASHADOW_RULES, in order */
};

/* One frame of an allocation's call stack, resolved. */
struct ns_site {
	const char *object;	/* file of the code */
	const char *function;	/* nearest symbol, or NULL */
};

extern struct ns_policies ns_pol;
int policy_parse_default(const char *s);
int policy_parse_rules(const char *s);
bool policy_any(void);
bool policy_has_site_rules(void);
bool policy_uses(int mode);
int policy_pick(uint64_t len, const struct ns_site *sites, int nsites);
const struct ns_policy *policy_get(int idx);
int policy_node(const struct ns_policy *p, uint64_t vpn, int thread_node);

/* ---- uffd.c: the userfaultfd monitor (with fill.c and wp.c) ---- */

int uffd_start(void);
void uffd_stop(void);
void uffd_quiesce(void);
bool uffd_has_wp(void);
void uffd_after_fork(void);
bool uffd_active(void);
/* A new anonymous region to place by policy idx; 0 or -errno. */
int uffd_region_add(uint64_t start, uint64_t end, int idx);
void uffd_region_note(uint64_t start, uint64_t end, int idx);
bool uffd_wp_any(void);
int uffd_region_register(uint64_t start, uint64_t end, int idx);
void uffd_region_del(uint64_t start, uint64_t end);
void uffd_region_leave(uint64_t start, uint64_t end);
/* Pops a range whose pages the kernel dropped (EVENT_REMOVE); 1 or 0. */
int uffd_vanished(uint64_t *start, uint64_t *end);
/* Pages the monitor filled: pop (start, end, thread) (1 or 0). */
int uffd_touched(uint64_t *start, uint64_t *end, int *tid);
/* Pages next-touch moved: pop (page, node) (1 or 0). */
int uffd_moved(uint64_t *addr, int *node);
/* Writes sampled for the balancer: pop (page, writer's node) (1 or 0). */
int uffd_sampled(uint64_t *page, int *node);
/* Fault statistics, for reports. */
struct ns_fault_stats {
	uint64_t faults;	/* MISSING faults served */
	uint64_t pages;		/* pages filled */
	uint64_t wakes;		/* faults already served by someone else */
	uint64_t sleeps;	/* times the monitor blocked */
	uint64_t errors;	/* fills that failed */
	uint64_t fallbacks;	/* fills the chosen node had no room for */
	uint64_t waited;	/* writes that waited for a page in flight */
	uint64_t next_touch;	/* pages next-touch moved to their writer */
	uint64_t cow;		/* first writes after fork seen (COW breaks) */
	uint64_t by_node[64];	/* pages filled per node */
};
void uffd_stats(struct ns_fault_stats *out);

/* ---- fill.c: first-touch filling ---- */

/* NUMASHADOW_FAULT_AROUND: pages filled per fault; 0 or -EINVAL. */
int uffd_set_window(const char *v);
/* The calling thread's own task policy (set_mempolicy), to honour. */
void uffd_thread_policy(int tid, int mode, uint64_t mask);

/* ---- wp.c: write protection ---- */

/* Write protection of pages in flight (the engine's migration entries). */
int uffd_hold(uint64_t start, uint64_t end, bool placed);
void uffd_release(uint64_t start, uint64_t end, bool placed);
/* Next-touch: arm a range; the COW watch after fork. */
int uffd_next_touch(uint64_t start, uint64_t end, bool placed);
int uffd_cow_watch(uint64_t start, uint64_t end, bool placed);
/* Write sampling for the balancer. */
int uffd_sample_arm(uint64_t vstart, uint64_t vend, uint64_t start, uint64_t end,
		    bool placed);
void uffd_sample_disarm(void);

/* ---- balance.c: hot-page balancing ---- */

struct ns_balance_stats {
	uint64_t samples;	/* sampled writes seen */
	uint64_t moves;		/* pages moved to their writers' node */
	uint64_t pingpong;	/* moves declined: the page moved too recently */
	uint64_t budget;	/* moves declined: over the MiB/s budget */
};

/* Starts the balancer thread, moving at most mibps MiB/s; 0 or -errno. */
int balance_start(unsigned mibps);
void balance_stats(struct ns_balance_stats *out);
bool balance_active(void);

/* ---- ctl.c: the control socket ---- */

int ctl_start(void);
void ctl_stop(void);
void ctl_forget(pid_t pid);
int ctl_fd(void);
bool ctl_peer_ok(int fd);
size_t ctl_answer(char *req, const char **out);

/* ---- loop.c: the service thread (control socket, timers, trace) ---- */

int loop_start(void);
void loop_wake(void);
int loop_timer(uint64_t delay_ns, uint64_t period_ns, void (*fn)(void));
void loop_after_fork(void);

/* ---- trace.c: event records ---- */

int trace_open(const char *path);
bool trace_on(void);
/* report.c: the exit report, and what it tallies as the process runs. */
void report_text(const char *when);
void report_json(const char *when);
void report_touch(int tid, uint64_t pages);
void report_pages_by_node(uint64_t counts[64]);
int report_fmt_nodes(char *buf, size_t n, const uint64_t counts[64]);
/* share.c: the trace's SHARED records for this process.  Lock held. */
void share_trace(void);
int trace_fd(void);
void trace_emit(int type, uint64_t addr, uint64_t len, int node, uint32_t aux);
void trace_vfork_exec(int child);
void trace_emit_for(int tid, int type, uint64_t addr, uint64_t len, int node,
		    uint32_t aux);
void trace_flush_sync(void);
void trace_finish(void);
void trace_after_fork(int parent);
/* One record (tid 0: the caller); false, counted lost, when the ring is
 * full.  For trace_site.c: the caller checked trace_on(). */
bool trace_put(int tid, int type, uint64_t addr, uint64_t len, int node,
	       uint32_t aux);

/* ---- trace_site.c: the trace's call sites ---- */

/* Call sites: the stack the mmap hook unwound (before the family lock),
 * then, under it, the range mapped from it; the site of an address, for
 * the monitor's FAULT records (0: unknown). */
void trace_stack(void *const *ip, int n);
void trace_site(uint64_t start, uint64_t end);
uint32_t trace_site_at(uint64_t addr);
void trace_sites_after_fork(void);

/* One migration's start, for its MIGRATE_END and MIGRATE_FAIL records. */
struct trace_mig {
	uint64_t t0;			/* CLOCK_MONOTONIC, ns */
	struct ns_mig_counters c0;	/* the process's counters before it */
};
void trace_migrate_begin(struct trace_mig *m, const struct ns_mig_counters *c);
/* Records the MIGRATE (moved pages moved; err: move_pages' -errno, 0) and
 * its outcome; engine lock held. */
void trace_migrate(const struct trace_mig *m, const struct ns_mig_counters *c,
		   uint64_t addr, uint64_t len, int node, long moved, long err);

/* ---- runtime.c: the per-process runtime (settings: options.c) ---- */

struct ns_runtime {
	int ready;		/* the hooks may use the model */
	int dormant;		/* no setting asked for the shadow: the hooks
				 * pass, nothing is learned until an API call
				 * wakes it (runtime.c, wake()) */
	int disabled;		/* fail open: pass everything through */
	pid_t pid;		/* pid this state belongs to */
	uint32_t self;		/* our proc index */
	int verify;		/* NUMASHADOW_VERIFY level */
	int is_root;		/* PFNs and kpagecount are readable */
	volatile int in_fork;	/* a thread is inside our fork wrapper (set
				 * under the family lock; waiters for it read
				 * it with none: ns_lock_unless' bail) */
	int forked_unseen;	/* set by the atfork child handler */
	volatile int dirty;	/* untracked changes in this address space */
	int escapes;		/* untracked changes under way (dlopen) */
	int always_reconcile;	/* libc's entry points could not be redirected */
	int threads;		/* the runtime's own threads now running */
	uint64_t verify_failures;
};

extern struct ns_runtime ns_rt;
extern __thread int ns_in_runtime;

/* log.c */
void ns_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ns_log_set_fd(int fd);
void ns_log_write(const char *buf, int n);
int ns_thread_start(void *(*fn)(void *));
void ns_thread_alone(void);
int ns_program_threads(void);
bool ns_threads_after_fork(void);
int ns_vfmt(char *buf, size_t n, const char *fmt, __builtin_va_list ap);
int ns_fmt(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ns_verify_fail(void);
/* runtime.c, for api.c: enter and leave as an API call, verify; place.c:
 * arm next-touch over [lo, hi). */
bool ns_api_enter(void);
void ns_api_leave(void);
int ns_verify_now(bool full);
long ns_next_touch(uint64_t lo, uint64_t hi);
void ns_catch_up(void);
/* From a thread that must not take the family lock (the monitor). */
void ns_mark_dirty_async(void);

#endif
