/* SPDX-License-Identifier: MIT */
/*
 * verify.c - the kernel as oracle, and the learning that needs it.
 *
 * VMAs: the shadow must cover exactly what /proc/PID/maps lists (but the
 * vdso/vvar/vsyscall and the arena) with the same protection, sharing,
 * backing and file offset.  Compared piece by piece, so where the kernel
 * and the shadow merged neighbours differently nothing is reported.  The
 * same walk, with fix set, reconciles the shadow after untracked changes.
 *
 * Pages: /proc/PID/pagemap tells, per virtual page, present, file-or-shared,
 * exclusively mapped and (for CAP_SYS_ADMIN) the PFN.  page_sync() learns
 * from it what faults would tell: first touches and COW breaks (a page the
 * shadow shares that the kernel now maps exclusively was copied).  The
 * checks then hold every remaining claim against the kernel: no page where
 * the kernel has none, the node (move_pages query), sharing (exclusive bit;
 * as root: the set of family processes mapping each PFN against rmap_walk,
 * and /proc/kpagecount against the mapcount).  Callers hold the family lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include "internal.h"
#include "sys.h"

#define MAX_KVMA 65536
#define MAX_DIFF_LINES 40
#define CHUNK 4096


static int diff_lines;
static bool quiet;	/* an attempt whose differences may be races */
static bool vanish_ok;	/* the kernel said these pages went (REMOVE) */

uint64_t ns_zero_pfn;	/* PFN of the zero page, when readable */

/*
 * Pages are looked at up to three times (verify_pages): the program's
 * threads write, fork and exit while we read, and what a race shows is
 * gone a moment later - at that page; another page may race the next
 * time.  So the last look counts a page only if the look before found it
 * differing too.  The places each look found, bounded (past the bound,
 * every place counts).
 */
#define MAX_SUSPECTS 512
static struct suspects {
	int n;
	bool full;
	struct { pid_t pid; uint64_t a; } at[MAX_SUSPECTS];
} sus[2];
static int sus_cur;		/* the look being made records here */
static bool sus_filter;		/* the last look: count only earlier suspects */
static bool last_shown;		/* the last report() was said */

static bool suspected(const struct suspects *s, pid_t pid, uint64_t a)
{
	if (s->full)
		return true;
	for (int i = 0; i < s->n; i++)
		if (s->at[i].pid == pid && s->at[i].a == a)
			return true;
	return false;
}

/* Says one difference (unless quiet); returns 1 if it counts. */
static int report(pid_t pid, uint64_t a, uint64_t b, const char *what)
{
	struct suspects *cur = &sus[sus_cur];

	if (sus_filter && !suspected(&sus[!sus_cur], pid, a)) {
		last_shown = false;
		return 0;
	}
	if (cur->n < MAX_SUSPECTS) {
		cur->at[cur->n].pid = pid;
		cur->at[cur->n++].a = a;
	} else {
		cur->full = true;
	}
	last_shown = !quiet;
	if (!quiet && diff_lines++ < MAX_DIFF_LINES)
		ns_log("verify: pid %d: %#lx-%#lx: %s", (int)pid,
		       (unsigned long)a, (unsigned long)b, what);
	return 1;
}

/* A detail of the difference just reported, said with it. */
static void detail(pid_t pid, uint64_t a, uint64_t b, const char *what)
{
	if (last_shown && diff_lines++ < MAX_DIFF_LINES)
		ns_log("verify: pid %d: %#lx-%#lx: %s", (int)pid,
		       (unsigned long)a, (unsigned long)b, what);
}

/* ---- VMAs ---- */

struct attrs {
	uint32_t prot, shared;
	uint32_t kind;		/* 0 anon, OBJ_FILE, OBJ_SHM */
	uint64_t dev, ino, off;	/* off: byte offset at the piece's start */
};

static void kattrs(const struct ns_kvma *k, uint64_t at, struct attrs *a)
{
	a->prot = k->prot;
	a->shared = k->flags & NS_VMA_SHARED;
	a->kind = !k->ino ? 0 : (k->flags & (NS_KVMA_SHMANON << 8)) ? OBJ_SHM : OBJ_FILE;
	a->dev = k->dev;
	a->ino = k->ino;
	a->off = k->ino ? k->off + (at - k->start) : 0;
}

static void sattrs(uint32_t vi, uint64_t at, struct attrs *a)
{
	struct ns_vma *v = vma_of(vi);
	struct ns_object *o = v->obj ? obj_of(v->obj) : NULL;

	a->prot = v->prot;
	a->shared = v->flags & NS_VMA_SHARED;
	a->kind = o ? o->kind : 0;
	a->dev = o ? o->dev : 0;
	a->ino = o ? o->ino : 0;
	a->off = o ? (v->pgoff << NS_PAGE_SHIFT) + (at - v->start) : 0;
}

uint64_t ns_devzero_dev, ns_devzero_ino;	/* /dev/zero, as maps prints it */

static bool attrs_equal(const struct attrs *a, const struct attrs *b)
{
	/* A private /dev/zero mapping is anonymous memory; newer kernels
	 * still show the file in maps. */
	if (a->kind == OBJ_FILE && !a->shared && a->dev == ns_devzero_dev &&
	    a->ino == ns_devzero_ino && b->kind == 0 && !b->shared)
		return a->prot == b->prot;
	return a->prot == b->prot && a->shared == b->shared &&
	       a->kind == b->kind && a->dev == b->dev && a->ino == b->ino &&
	       a->off == b->off;
}

static int describe(char *buf, size_t n, const struct attrs *a)
{
	return ns_fmt(buf, n, "%c%c%c%c %s %lx:%lx %lu @%#lx",
		      a->prot & PROT_READ ? 'r' : '-',
		      a->prot & PROT_WRITE ? 'w' : '-',
		      a->prot & PROT_EXEC ? 'x' : '-', a->shared ? 's' : 'p',
		      a->kind == OBJ_FILE ? "file" : a->kind == OBJ_SHM ? "shm" : "anon",
		      (unsigned long)(a->dev >> 32), (unsigned long)(a->dev & 0xffffffff),
		      (unsigned long)a->ino, (unsigned long)a->off);
}

struct fix {
	uint64_t start, end;
	int k;			/* kernel VMA to copy, -1: unmap */
};

/* What the root-only checks need of each present anonymous page. */
struct seen {
	uint64_t pfn;
	uint64_t vpn;
	uint32_t proc, page;
};
#define MAX_SEEN (1 << 20)
static int nseen;

/* Everything the scans write, in one place: the runtime touches these pages
 * while it reads pagemap, so they are left out of page tracking (like the
 * arena) instead of racing the scan that would learn them. */
static struct scratch {
	char maps[8 << 20];
	struct ns_kvma kvma[MAX_KVMA];
	uint32_t svma[MAX_KVMA];
	struct fix fixes[4096];
	uint64_t pm[CHUNK];
	uint64_t pm_after[CHUNK];	/* the chunk again, after its node query */
	void *addrs[CHUNK];
	uint32_t pages_q[CHUNK];
	int status[CHUNK];
	struct seen seen[MAX_SEEN];
} __attribute__((aligned(4096))) scr;


/* Other runtime buffers that are written while the shadow is learned. */
static struct { uint64_t start, end; } excluded[8];

void ns_exclude(const void *start, size_t len)
{
	for (int i = 0; i < 8; i++)
		if (!excluded[i].end || excluded[i].start == ((uint64_t)start & ~(NS_PAGE_SIZE - 1))) {
			excluded[i].start = (uint64_t)start & ~(NS_PAGE_SIZE - 1);
			excluded[i].end = NS_PAGE_ALIGN((uint64_t)start + len);
			return;
		}
}

/* The runtime's own writable memory (library data and bss). */
static struct { uint64_t start, end; } own[8];

void ns_own_del(uint64_t start, uint64_t end)
{
	for (int i = 0; i < 8; i++)
		if (own[i].start == start && own[i].end == end)
			own[i].start = own[i].end = 0;
}

void ns_own_add(uint64_t start, uint64_t end)
{
	for (int i = 0; i < 8; i++)
		if (!own[i].end || (own[i].start == start && own[i].end == end)) {
			own[i].start = start;
			own[i].end = end;
			return;
		}
}

bool ns_own_overlaps(uint64_t start, uint64_t end)
{
	for (int i = 0; i < 8; i++)
		if (start < own[i].end && end > own[i].start)
			return true;
	for (int i = 0; i < 8 && excluded[i].end; i++)
		if (start < excluded[i].end && end > excluded[i].start)
			return true;
	return start < (uint64_t)(&scr + 1) && end > (uint64_t)&scr;
}

static inline bool is_scratch(uint64_t addr)
{
	if (addr >= (uint64_t)&scr && addr < (uint64_t)(&scr + 1))
		return true;
	for (int i = 0; i < 8 && excluded[i].end; i++)
		if (addr >= excluded[i].start && addr < excluded[i].end)
			return true;
	return false;
}

static int collect_cb(uint32_t idx, void *arg)
{
	int *n = arg;

	if (*n == MAX_KVMA)
		return 1;
	scr.svma[(*n)++] = idx;
	return 0;
}

static bool ours(const struct ns_kvma *k)
{
	return !(k->flags & (NS_KVMA_SPECIAL << 8)) && !arena_contains(k->start);
}

static bool anon_over(uint32_t w, uint64_t end)
{
	return w && vma_of(w)->end >= end && !vma_of(w)->obj &&
	       !(vma_of(w)->flags & NS_VMA_SHARED);
}

/*
 * The page offset of a private anonymous range the maps show otherwise
 * than the shadow.  The kernel keeps a VMA's pgoff through mremap, and
 * fork copies it, but the maps do not show it for anonymous memory.  So:
 * a replayed mremap's hint where its source was never seen (passed.c),
 * else the parent's over the whole range (fork copied it, maybe after an
 * mremap moved it), else a fresh mapping's: its address >> PAGE_SHIFT.
 * Pages that fork shared keep one index.
 */
static uint64_t inherited_pgoff(uint32_t proc, uint64_t start, uint64_t end,
				uint64_t fresh)
{
	uint32_t parent = proc_of(proc)->parent;
	uint32_t w;
	uint64_t pgoff;

	if (proc == ns_rt.self && remap_hint(start, end, &pgoff))
		return pgoff;
	w = parent && proc_of(parent)->state == NS_PROC_LIVE ? vma_find(parent, start) : 0;
	if (!anon_over(w, end))
		return fresh;
	return vma_of(w)->pgoff + ((start - vma_of(w)->start) >> NS_PAGE_SHIFT);
}

static int apply_fix(uint32_t proc, const struct fix *f)
{
	const struct ns_kvma *k;
	uint32_t obj = 0;
	uint64_t pgoff;
	int ret;

	if (f->k < 0)
		return vma_unmap(proc, f->start, f->end);
	k = &scr.kvma[f->k];
	pgoff = f->start >> NS_PAGE_SHIFT;
	if (k->ino) {
		obj = obj_file_get(k->dev, k->ino,
				   (k->flags & (NS_KVMA_SHMANON << 8)) ? OBJ_SHM : OBJ_FILE);
		if (!obj)
			return -ENOMEM;
		pgoff = (k->off + (f->start - k->start)) >> NS_PAGE_SHIFT;
	} else if (!(k->flags & NS_VMA_SHARED)) {
		pgoff = inherited_pgoff(proc, f->start, f->end, pgoff);
	}
	ret = vma_map(proc, f->start, f->end, (int)k->prot,
		      k->flags & NS_VMA_SHARED, obj, pgoff);
	if (obj)
		obj_put(obj);	/* the VMA holds its own reference */
	if (!ret && (k->flags & (NS_KVMA_STACK << 8))) {
		uint32_t v = vma_find(proc, f->start);
		if (v)
			vma_of(v)->flags |= NS_VMA_GROWSDOWN;
	}
	return ret;
}

int verify_vmas(uint32_t proc, bool fix)
{
	pid_t pid = proc_of(proc)->pid;
	int nk, ns = 0, i = 0, j = 0, diffs = 0, nfix = 0;
	uint64_t pos = 0;
	char kd[96], sd[96], line[256];

	if (!fix && mm_is_valid(proc) < 0) {
		diffs += report(pid, 0, 0, "the shadow VMA tree is inconsistent");
	}
	nk = maps_read(pid == ns_rt.pid ? 0 : pid, scr.kvma, MAX_KVMA, scr.maps,
		       sizeof(scr.maps));
	if (nk < 0) {
		/* A check that could not be made is no pass.  (Another
		 * member that is gone has nothing left to check.) */
		if (fix || (pid != ns_rt.pid && (nk == -ENOENT || nk == -ESRCH)))
			return 0;
		ns_fmt(line, sizeof(line), "could not look: reading its maps failed (%d%s)",
		       nk, nk == -E2BIG ? ": too many mappings or too much text" : "");
		report(pid, 0, 0, line);
		return diffs + 1;
	}
	/* Drop what is not ours to shadow, keep order. */
	int w = 0;
	for (int r = 0; r < nk; r++)
		if (ours(&scr.kvma[r]))
			scr.kvma[w++] = scr.kvma[r];
	nk = w;
	for (int r = 0; r < nk; r++)
		if (scr.kvma[r].flags & (NS_KVMA_STACK << 8))
			vma_grow_down(proc, scr.kvma[r].start, scr.kvma[r].end);
	vma_walk(proc, 0, ~0ULL, collect_cb, &ns);

	while (i < nk || j < ns) {
		struct ns_kvma *k = i < nk ? &scr.kvma[i] : NULL;
		struct ns_vma *s = j < ns ? vma_of(scr.svma[j]) : NULL;
		bool kc = k && k->start <= pos, sc = s && s->start <= pos;
		uint64_t end = ~0ULL;

		if (!kc && !sc) {
			pos = k && (!s || k->start < s->start) ? k->start : s->start;
			continue;
		}
		if (k)
			end = kc ? k->end : k->start;
		if (s && (sc ? s->end : s->start) < end)
			end = sc ? s->end : s->start;

		struct attrs ka, sa;
		bool differ = kc != sc;
		/* Each side described from its own record, also when only one
		 * side has a mapping here (the report names it). */
		if (kc)
			kattrs(k, pos, &ka);
		if (sc)
			sattrs(scr.svma[j], pos, &sa);
		if (kc && sc) {
			/* A shared anonymous object learns its inode here, the
			 * first time the kernel shows it. */
			if (sa.kind == OBJ_SHM && ka.kind == OBJ_SHM && !sa.ino) {
				obj_of(s->obj)->dev = ka.dev;
				obj_of(s->obj)->ino = ka.ino;
				sattrs(scr.svma[j], pos, &sa);
			}
			differ = !attrs_equal(&ka, &sa);
		}
		if (differ) {
			diffs++;
			if (fix && nfix < 4096)
				scr.fixes[nfix++] = (struct fix){ pos, end, kc ? i : -1 };
			if (!fix) {
				if (kc)
					describe(kd, sizeof(kd), &ka);
				if (sc)
					describe(sd, sizeof(sd), &sa);
				ns_fmt(line, sizeof(line), "kernel %s, shadow %s",
				       kc ? kd : "unmapped", sc ? sd : "unmapped");
				report(pid, pos, end, line);
			}
		}
		pos = end;
		if (k && k->end <= pos)
			i++;
		if (s && s->end <= pos)
			j++;
	}
	for (int f = 0; f < nfix; f++) {
		/* Learned from the maps, a VMA an mremap moved would lose
		 * its page offset: left for after the call's replay. */
		if (proc == ns_rt.self && remap_pending(scr.fixes[f].start, scr.fixes[f].end)) {
			ns_rt.dirty = 1;
			continue;
		}
		apply_fix(proc, &scr.fixes[f]);
	}
	return diffs;
}

/* verify_vmas() without a word: how many differences. */
int verify_vmas_quiet(uint32_t proc)
{
	bool was = quiet;
	int d;

	quiet = true;
	d = verify_vmas(proc, false);
	quiet = was;
	return d;
}

/* ---- pages ---- */



struct scan {
	uint32_t proc;
	pid_t pid;
	int pm_fd;
	bool check;		/* report differences, not only learn */
	int diffs;
	uint64_t lo, hi;	/* the part of the address space to scan */
	bool kin_unknown;	/* a member's shadow awaits its own look */
};

/* The linear index of an anonymous page at vpn in vma (mm/rmap.c's
 * linear_page_index()). */
static uint64_t anon_index(uint32_t vma, uint64_t vpn)
{
	return vma_of(vma)->pgoff +
	       (((vpn << NS_PAGE_SHIFT) - vma_of(vma)->start) >> NS_PAGE_SHIFT);
}

/* The pagemap entry of addr in another process of the family; 0 when it
 * cannot be read. */
static uint64_t pm_peek(uint32_t proc, uint64_t addr)
{
	uint64_t ent;

	pm_read(proc, addr, &ent);
	return ent;
}

/* Does a pagemap entry show the page we have: the same frame when PFNs
 * are readable, else an anonymous page someone else maps too? */
static bool pm_same(uint64_t e, uint64_t pfn)
{
	if (!(e & PM_PRESENT) || (e & PM_FILE))
		return false;
	return pfn ? (e & PM_PFN) == pfn : !(e & PM_EXCL);
}

int pm_maps_ours(uint32_t proc, uint64_t addr, uint64_t mine)
{
	uint64_t theirs;
	int r;

	if (!(mine & PM_PRESENT) || (!(mine & PM_PFN) && (mine & PM_EXCL)))
		return 0;
	r = pm_read(proc, addr, &theirs);
	return r < 0 ? r : pm_same(theirs, mine & PM_PFN);
}

#define MAX_KIN 16

struct kin {
	uint32_t self;		/* our proc */
	uint64_t vpn;		/* where we map the page */
	int node;		/* its node, -3 until asked (without PFNs) */
	uint64_t index, pfn;	/* the page, its frame (0: not readable) */
	uint32_t page;		/* a relative's descriptor for it */
	int n;			/* relatives mapping it without one */
	struct { uint32_t proc; uint64_t vpn; } peer[MAX_KIN];
};

/* Can d be the page (proc, vpn) maps?  With PFNs the frames say; without,
 * a descriptor that knows another node than the kernel gives our page
 * belongs to a copy the relative made since (its shadow is older). */
static bool kin_may_be(uint32_t d, uint32_t proc, uint64_t vpn, uint64_t pfn,
		       int *node)
{
	if (pfn)
		return !page_of(d)->pfn || page_of(d)->pfn == pfn;
	if (page_of(d)->node < 0)
		return true;
	if (*node == -3) {
		void *a = (void *)(vpn << NS_PAGE_SHIFT);
		int st = -1;
		if (sys_move_pages(proc_of(proc)->pid, 1, &a, NULL, &st, 0) < 0)
			st = -1;
		*node = st;
	}
	return *node < 0 || *node == page_of(d)->node;
}

static int kin_cb(uint32_t avc, void *arg)
{
	struct kin *k = arg;
	uint32_t w = avc_of(avc)->vma, proc = vma_of(w)->proc, t, d = 0;
	uint64_t addr = vma_address(w, k->index);

	if (!addr || proc == k->self || proc_of(proc)->state != NS_PROC_LIVE)
		return 0;
	t = pte_lookup(proc, addr >> NS_PAGE_SHIFT);
	if (t && (page_of(pte_page(t))->flags & (NS_PG_ANON | NS_PG_ZERO)) == NS_PG_ANON)
		d = pte_page(t);
	/* Its shadow may be older than its kernel (a write since broke COW
	 * there): what it maps now decides. */
	if (!pm_same(pm_peek(proc, addr), k->pfn))
		return 0;
	/* Its descriptor is the page's unless it knows another frame: that
	 * shadow missed a COW break since (the relative maps ours now, so
	 * the descriptor stays with whoever maps its frame). */
	if (d && !kin_may_be(d, k->self, k->vpn, k->pfn, &k->node)) {
		if (!k->pfn)
			return 0;	/* no frame to tell: leave it be */
		d = 0;	/* it maps our frame now: its copy went elsewhere */
	}
	if (d) {
		if (k->pfn)
			page_of(d)->pfn = k->pfn;
		k->page = d;
		return 1;
	}
	if (k->n < MAX_KIN)
		k->peer[k->n++] = (typeof(k->peer[0])){ proc, addr >> NS_PAGE_SHIFT };
	return 0;
}

struct by_index {
	uint32_t like;		/* the VMA whose page is looked for */
	uint64_t index;
	uint32_t found;
};

static int by_index_cb(uint32_t w, void *arg)
{
	struct by_index *b = arg;

	if (!(vma_of(w)->flags & NS_VMA_SHARED) && vma_of(w)->obj == vma_of(b->like)->obj &&
	    vma_address(w, b->index)) {
		b->found = w;
		return 1;
	}
	return 0;
}

/* Member q's private VMA where it would map the page at index: at the
 * same address (fork copies VMAs in place), else wherever an mremap since
 * moved it (the index stays).  Sets *addr; 0 if none. */
static uint32_t kin_vma(uint32_t q, uint32_t vma, uint64_t vpn, uint64_t index,
			uint64_t *addr)
{
	uint32_t w = vma_find(q, vpn << NS_PAGE_SHIFT);
	struct by_index b = { vma, index, 0 };

	if (w && !(vma_of(w)->flags & NS_VMA_SHARED) && vma_of(w)->obj == vma_of(vma)->obj &&
	    anon_index(w, vpn) == index) {
		*addr = vpn << NS_PAGE_SHIFT;
		return w;
	}
	vma_walk(q, 0, ~0ULL, by_index_cb, &b);
	if (b.found)
		*addr = vma_address(b.found, index);
	return b.found;
}

/*
 * The same when no anon_vma of ours leads to a relative: VMAs the shadow
 * learned from the maps (after calls that went straight to the kernel
 * around a fork) are not linked as fork links them, yet share what fork
 * gave both.  Any member with a private VMA at the page's index (at the
 * same address, or where its mremap moved it) is asked; a match links the
 * two VMAs, so the next page of the range is found through the anon_vmas.
 */
static uint32_t learn_kin_apart(uint32_t vma, uint64_t vpn, uint64_t index,
				uint64_t pfn)
{
	uint32_t self = vma_of(vma)->proc, pg = 0, t;
	int node = -3;

	for (uint32_t q = ns_arena->procs; q; q = proc_of(q)->next) {
		uint64_t addr = 0;
		uint32_t w = q == self || proc_of(q)->state != NS_PROC_LIVE ? 0 :
			     kin_vma(q, vma, vpn, index, &addr);
		if (!w || !pm_same(pm_peek(q, addr), pfn))
			continue;
		t = pte_lookup(q, addr >> NS_PAGE_SHIFT);
		uint32_t d = t ? pte_page(t) : 0;
		if (d && (page_of(d)->flags & (NS_PG_ANON | NS_PG_ZERO)) != NS_PG_ANON)
			d = 0;
		if (d && !kin_may_be(d, self, vpn, pfn, &node)) {
			if (!pfn)
				continue;	/* no frame to tell: leave it be */
			d = 0;	/* it maps our frame now: its copy went elsewhere */
		}
		if (!pg && d) {
			/* Theirs: we join its anon_vma. */
			if (anon_vma_link(vma, page_of(d)->obj) < 0)
				return 0;
			pg = d;
			continue;
		}
		if (!pg && !(pg = page_new_anon(vma_of(vma)->anon_vma, index)))
			return 0;
		if (anon_vma_link(w, page_of(pg)->obj) < 0)
			return 0;
		pte_set(q, addr >> NS_PAGE_SHIFT, pg);
	}
	if (!pg || pte_set(self, vpn, pg) < 0)
		return 0;
	if (pfn)
		page_of(pg)->pfn = pfn;
	return pg;
}

/*
 * A present anonymous page the kernel says someone else maps too, which
 * the shadow has not seen shared: fork shared it before anyone looked
 * (pages are learned when asked, not at fork).  Its relatives are found
 * as the kernel's rmap would find them - through the anon_vmas our VMA
 * links, the root first - and each is asked whether it maps the same page
 * at that index.  We take a relative's descriptor, or give a new one to
 * those mapping it without one, in the anon_vma all of them link.
 * Returns the descriptor, or 0 when no relative maps the page.  Without
 * PFNs two zero pages look shared too: the node query that follows for a
 * new descriptor tells them apart (query_nodes).
 */
static uint32_t learn_shared(uint32_t vma, uint64_t vpn, uint64_t index,
			     uint64_t pfn)
{
	uint32_t avs[32], self = vma_of(vma)->proc, pg;
	int navs = 0, total;
	struct kin k = { .self = self, .vpn = vpn, .node = -3, .index = index,
			 .pfn = pfn };

	for (uint32_t c = vma_of(vma)->avc_head; c && navs < 32; c = avc_of(c)->next)
		avs[navs++] = avc_of(c)->anon_vma;	/* newest first */
	total = navs;
	while (navs--) {
		it_query(&avc_ops, obj_of(avs[navs])->tree, index, index, kin_cb, &k);
		if (k.page || k.n)
			break;
	}
	if (navs < 0)
		return learn_kin_apart(vma, vpn, index, pfn);
	pg = k.page ? k.page : page_new_anon(avs[navs], index);
	if (!pg)
		return 0;
	bool linked = false;	/* is its anon_vma one we link? */
	for (int i = 0; i < total && !linked; i++)
		linked = avs[i] == page_of(pg)->obj;
	if (!linked)
		page_move_anon(pg, avs[navs]);
	if (pfn)
		page_of(pg)->pfn = pfn;
	if (pte_set(self, vpn, pg) < 0)
		return 0;
	for (int i = 0; i < k.n; i++)
		pte_set(k.peer[i].proc, k.peer[i].vpn, pg);
	return pg;
}

static uint32_t learn_anon(uint32_t vma, uint64_t vpn, uint64_t pfn,
			   bool excl)
{
	uint64_t index = anon_index(vma, vpn);
	uint32_t pg;

	if (anon_vma_prepare(vma) < 0)
		return 0;
	if (!excl && (pg = learn_shared(vma, vpn, index, pfn)))
		return pg;
	pg = page_new_anon(vma_of(vma)->anon_vma, index);
	if (pg && pte_set(vma_of(vma)->proc, vpn, pg) < 0)
		return 0;
	if (pg)
		page_of(pg)->pfn = pfn;
	return pg;
}

struct elsewhere {
	uint32_t self;
	uint64_t pfn;
	bool found;
};

static int elsewhere_cb(uint32_t proc, uint32_t vma, uint64_t addr, void *arg)
{
	struct elsewhere *e = arg;
	uint64_t ent;

	(void)vma;
	if (proc == e->self)
		return 0;
	ent = pm_peek(proc, addr);
	if ((ent & PM_PRESENT) && (ent & PM_PFN) == e->pfn)
		e->found = true;
	return e->found;
}

/* A shared page's frame changed under one mapper: a migration moves it for
 * all, a COW break for this one alone.  Does another mapper still see the
 * old frame? */
static bool still_mapped_elsewhere(uint32_t page, uint32_t self, uint64_t old)
{
	struct elsewhere e = { self, old, false };

	rmap_walk(page, elsewhere_cb, &e);
	return e.found;
}

/* Learns one present page; returns the descriptor now mapped there, or 0. */
static uint32_t sync_one(uint32_t vma, uint64_t vpn, uint64_t e)
{
	struct ns_vma *v = vma_of(vma);
	uint32_t proc = v->proc, t = pte_lookup(proc, vpn);
	uint32_t cur = t ? pte_page(t) : 0;
	uint64_t pfn = e & PM_PFN;
	bool excl = e & PM_EXCL;

	if (e & PM_FILE) {
		if (!v->obj)
			return cur;
		uint64_t index = v->pgoff +
			(((vpn << NS_PAGE_SHIFT) - v->start) >> NS_PAGE_SHIFT);
		uint32_t pg = page_cache_get(v->obj, index);
		if (pg && cur != pg && pte_set(proc, vpn, pg) < 0)
			return cur;
		if (pg && pfn)
			page_of(pg)->pfn = pfn;
		return pg;
	}
	/* The zero page: by PFN when we can read PFNs, else a present
	 * anonymous page nobody maps exclusively that we never saw - unless
	 * a relative maps it too (fork shared it before anyone looked; two
	 * zero pages that look so are told apart in query_nodes). */
	bool zero = pfn ? pfn == ns_zero_pfn
			: !excl && (!cur || (page_of(cur)->flags & NS_PG_ZERO));
	if (zero && !pfn && !cur && anon_vma_prepare(vma) == 0) {
		uint32_t pg = learn_shared(vma, vpn, anon_index(vma, vpn), 0);
		if (pg)
			return pg;
	}
	if (zero) {
		if (cur != page_zero())
			pte_set(proc, vpn, page_zero());
		return page_zero();
	}
	if (cur && (page_of(cur)->flags & NS_PG_ANON)) {
		struct ns_page *p = page_of(cur);
		/* In flight in a member's migration, as at a migration entry.
		 * The kernel takes a page out of its mappers, and puts the new
		 * one (or the old, when the move fails) back, one mapper at a
		 * time (try_to_migrate(), remove_migration_ptes()): a fork
		 * child sharing a page the parent's move_pages(2) took before
		 * the fork reads its copy exclusive meanwhile, with no write.
		 * Judged so, it got a descriptor of its own, and once both
		 * PTEs were back the two shared one page with two
		 * descriptors.  settle() gives the page its frame and node;
		 * the next look judges what is left. */
		if (p->flags & NS_PG_MIGRATING)
			return cur;
		if (p->mapcount > 1 && excl) {
			/* COW break.  Without PFNs it may as well have been
			 * another mapper's write, which leaves our copy
			 * exclusive too: the node the descriptor keeps is
			 * then the old frame's - ours - and not the copy's
			 * its other mappers now have.  Each mapper's next
			 * look asks the kernel again. */
			if (!pfn)
				p->node = -1;
			return learn_anon(vma, vpn, pfn, excl);
		}
		if (pfn && p->pfn && p->pfn != pfn && p->mapcount > 1 &&
		    still_mapped_elsewhere(cur, vma_of(vma)->proc, p->pfn))
			return learn_anon(vma, vpn, pfn, excl);	/* COW break */
		/* Its frame unknown (a migration forgets it): shared still
		 * only if another mapper sees ours. */
		if (pfn && !p->pfn && p->mapcount > 1 &&
		    !still_mapped_elsewhere(cur, vma_of(vma)->proc, pfn))
			return learn_anon(vma, vpn, pfn, excl);	/* COW break */
		if (pfn && p->pfn != pfn) {
			/* Moved behind our back, or a frame never seen whose
			 * node was learned for another: ask. */
			p->node = -1;
			p->pfn = pfn;		/* every mapper sees the move */
		}
		return cur;
	}
	/* First touch, or a write to a file page / the zero page. */
	return learn_anon(vma, vpn, pfn, excl);
}

struct mapped_at {
	int n;
	struct { uint32_t proc; uint64_t vpn; } at[MAX_KIN];
};

static int mapped_at_cb(uint32_t proc, uint32_t vma, uint64_t addr, void *arg)
{
	struct mapped_at *m = arg;

	(void)vma;
	if (m->n == MAX_KIN)
		return 1;
	m->at[m->n].proc = proc;
	m->at[m->n++].vpn = addr >> NS_PAGE_SHIFT;
	return 0;
}

/* A page learned as anonymous that the kernel says is the zero page: every
 * mapper maps the zero page instead. */
static void to_zero(uint32_t page)
{
	struct mapped_at m = { 0 };

	rmap_walk(page, mapped_at_cb, &m);
	for (int i = 0; i < m.n; i++)
		pte_set(m.at[i].proc, m.at[i].vpn, page_zero());
}

struct kin_at { uint32_t self, proc; uint64_t addr; };

static int kin_at_cb(uint32_t proc, uint32_t vma, uint64_t addr, void *arg)
{
	struct kin_at *k = arg;

	(void)vma;
	if (proc == k->self || !proc_of(proc)->pid || proc_of(proc)->state != NS_PROC_LIVE)
		return 0;
	k->proc = proc;
	k->addr = addr;
	return 1;
}

/*
 * Without PFNs a COW break is invisible while both copies are shared -
 * written, then shared again by a fork before anyone looked - but copies
 * on two nodes cannot be one page.  When the kernel puts our copy of a
 * shared anonymous page on another node than the shadow says, another
 * mapper's kernel is asked about its copy; if that is where the shadow
 * says, ours splits off with the node it has.  Returns true if it did.
 */
static bool split_by_node(struct scan *s, uint32_t page, uint64_t addr, int node)
{
	struct kin_at k = { s->proc, 0, 0 };
	struct ns_page *p = page_of(page);
	uint32_t vma, pg;
	int st = -1;

	if (p->pfn || p->mapcount < 2 || !(p->flags & NS_PG_ANON) || !rmap_walk(page, kin_at_cb, &k))
		return false;
	void *a = (void *)k.addr;
	if (sys_move_pages(proc_of(k.proc)->pid, 1, &a, NULL, &st, 0) < 0 || st != p->node)
		return false;
	vma = vma_find(s->proc, addr);
	if (!vma || anon_vma_prepare(vma) < 0 ||
	    !(pg = page_new_anon(vma_of(vma)->anon_vma, p->index)))
		return false;
	page_of(pg)->node = (int16_t)node;
	pte_set(s->proc, addr >> NS_PAGE_SHIFT, pg);
	return true;
}

static void report_ptes(uint32_t pg);

/* Nodes of the batch's pages, straight from the kernel.  The chunk's
 * pagemap (scr.pm, read from base over len pages) is read again after the
 * query: a page whose frame changed meanwhile (a COW break by a writer
 * of this process, the copy on another node) gives its descriptor - the
 * old frame's, which its other mappers keep - nothing: not its node, not
 * a difference.  The next look asks again. */
static void query_nodes(struct scan *s, int n, uint64_t base, uint64_t len)
{
	if (!n || sys_move_pages(s->pid, (unsigned long)n, scr.addrs, NULL, scr.status,
				 0) < 0)
		return;
	if (sys_pread(s->pm_fd, scr.pm_after, len * 8, (off_t)((base >> NS_PAGE_SHIFT) * 8)) !=
	    (long)(len * 8))
		return;
	for (int k = 0; k < n; k++) {
		struct ns_page *p = page_of(scr.pages_q[k]);
		uint64_t i = ((uint64_t)scr.addrs[k] - base) >> NS_PAGE_SHIFT;
		/* In flight in a member's migration, as at a migration
		 * entry: its settle gives every mapper's view its node. */
		if (p->flags & NS_PG_MIGRATING)
			continue;
		if (!pm_same_page(scr.pm[i], scr.pm_after[i]))
			continue;
		if (scr.status[k] == -EFAULT && !p->pfn && p->node == -1 &&
		    (p->flags & NS_PG_ANON)) {
			to_zero(scr.pages_q[k]);	/* PFNs unreadable */
			continue;
		}
		if (scr.status[k] < 0) {
			/* No node for it (a special mapping): not asked at
			 * every sync again. */
			if (p->node == -1)
				p->node = NS_NODE_NONE;
			continue;
		}
		if (p->node < 0) {
			p->node = scr.status[k];
			/* A relative's migration in flight may still move
			 * it: a page fork shared after the kernel took it
			 * moves for both mappers. */
			if (ns_arena->mig_inflight)
				p->flags |= NS_PG_GUESS;
			else
				p->flags &= ~NS_PG_GUESS;
		} else if (p->flags & NS_PG_GUESS) {
			p->node = scr.status[k];	/* where the kernel took it, if it did */
			if (!ns_arena->mig_inflight)
				p->flags &= ~NS_PG_GUESS;
		} else if (p->node != scr.status[k] &&
			   split_by_node(s, scr.pages_q[k], (uint64_t)scr.addrs[k], scr.status[k])) {
			continue;
		} else if (s->check && p->node != scr.status[k]) {
			char line[96];
			ns_fmt(line, sizeof(line), "page on node %d, shadow says node %d",
			       scr.status[k], p->node);
			s->diffs += report(s->pid, (uint64_t)scr.addrs[k], (uint64_t)scr.addrs[k] + NS_PAGE_SIZE,
			       line);
			report_ptes(scr.pages_q[k]);
		}
	}
}

/* Pagemap's "exclusively mapped" is imprecise inside a transparent huge
 * page: after a partial COW every subpage may read "shared".  As root,
 * /proc/kpageflags says whether the frame is part of one (and then
 * /proc/kpagecount, which is exact per page, decides); otherwise any VMA
 * large enough to hold one is taken as possibly huge. */
static bool excl_unreliable(const struct ns_vma *v, uint64_t pfn)
{
	uint64_t flags = 0, cnt = 0;
	long fd;

	if (!pfn)
		return v->end - v->start >= (2UL << 20);
	fd = sys_open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	sys_pread((int)fd, &flags, 8, (off_t)(pfn * 8));
	sys_close((int)fd);
	if (!(flags & ((1ULL << 15) | (1ULL << 16) | (1ULL << 22))))
		return false;
	fd = sys_open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	sys_pread((int)fd, &cnt, 8, (off_t)(pfn * 8));
	sys_close((int)fd);
	return cnt <= 1;	/* one mapper after all: nothing to report */
}

static int scan_vma(uint32_t vma, void *arg)
{
	struct scan *s = arg;
	struct ns_vma *v = vma_of(vma);

	uint64_t end = v->end < s->hi ? v->end : s->hi;

	/* Reservations (PROT_NONE) hold no pages worth a look: malloc keeps
	 * tens of MiB of them per arena. */
	if (v->prot == PROT_NONE)
		return 0;

	for (uint64_t a = v->start > s->lo ? v->start : s->lo; a < end;) {
		uint64_t n = (end - a) >> NS_PAGE_SHIFT;
		int q = 0;
		long r;

		if (n > CHUNK)
			n = CHUNK;
		r = sys_pread(s->pm_fd, scr.pm, n * 8, (off_t)((a >> NS_PAGE_SHIFT) * 8));
		if (r < (long)(n * 8)) {
			if (s->check) {
				s->diffs += report(s->pid, a, end, "could not look at these pages: short pagemap read");
			}
			return 0;
		}
		for (uint64_t k = 0; k < n; k++) {
			uint64_t vpn = (a >> NS_PAGE_SHIFT) + k, e = scr.pm[k];
			uint32_t t, pg;

			if (is_scratch(vpn << NS_PAGE_SHIFT))	/* same address in every member */
				continue;

			if (!(e & PM_PRESENT)) {
				/* Learning needs only what is present; a check
				 * (or a REMOVE event) also wants what went. */
				if (!s->check && !vanish_ok)
					continue;
				t = pte_lookup(s->proc, vpn);
				if (!t)
					continue;
				/* Gone: dropped by MADV_FREE/PAGEOUT, or the
				 * shadow is wrong.  In flight (swap or migration
				 * entry): still ours. */
				if ((pte_flags(t) & NS_PTE_LAZY) || (e & PM_SWAP) ||
				    vanish_ok) {
					if (!(e & PM_SWAP))
						pte_clear(t);
					continue;
				}
				if (!s->check)
					continue;
				s->diffs += report(s->pid, vpn << NS_PAGE_SHIFT,
				       (vpn + 1) << NS_PAGE_SHIFT,
				       "shadow maps a page, the kernel has none");
				continue;
			}
			pg = sync_one(vma, vpn, e);
			if (!pg || (page_of(pg)->flags & NS_PG_ZERO))
				continue;
			/* Ask the kernel for nodes we do not know (not for
			 * those it would not give: NS_NODE_NONE), and, when
			 * checking, for all of them. */
			if (s->check || page_of(pg)->node == -1) {
				scr.addrs[q] = (void *)(vpn << NS_PAGE_SHIFT);
				scr.pages_q[q++] = pg;
			}
			if (!(page_of(pg)->flags & NS_PG_ANON))
				continue;
			if (s->check && page_of(pg)->mapcount == 1 && !(e & PM_EXCL) &&
			    !s->kin_unknown && !(page_of(pg)->flags & NS_PG_MIGRATING) &&
			    !excl_unreliable(v, e & PM_PFN)) {
				s->diffs += report(s->pid, vpn << NS_PAGE_SHIFT,
				       (vpn + 1) << NS_PAGE_SHIFT,
				       "kernel shares this anonymous page, shadow has one mapper");
			}
			if ((e & PM_PFN) && nseen < MAX_SEEN)
				scr.seen[nseen++] = (struct seen){ e & PM_PFN, vpn,
							       s->proc, pg };
		}
		query_nodes(s, q, a, n);
		a += n << NS_PAGE_SHIFT;
	}
	return 0;
}

/* Learns (and with check, verifies) one proc's pages in [lo, hi); returns
 * differences. */
static int scan_range(uint32_t proc, bool check, uint64_t lo, uint64_t hi)
{
	struct scan s = { proc, proc_of(proc)->pid, -1, check, 0, lo, hi, false };
	long fd;

	bool self = s.pid == ns_rt.pid, kept = false;

	fd = pm_open(proc, &kept);
	if (fd < 0) {
		if (check && (self || (fd != -ENOENT && fd != -ESRCH))) {
			char line[80];
			ns_fmt(line, sizeof(line), "could not look at its pages: pagemap (%ld)", fd);
			return report(s.pid, lo, lo, line);
		}
		return 0;
	}
	s.pm_fd = (int)fd;
	/* Sharing with a member that has not yet taken in what passed it
	 * by (a fork child before its first look) cannot be judged. */
	for (uint32_t q = ns_arena->procs; q && check; q = proc_of(q)->next)
		if (q != proc && proc_of(q)->dirty && proc_of(q)->state == NS_PROC_LIVE)
			s.kin_unknown = true;
	vma_walk(proc, lo, hi, scan_vma, &s);
	pm_close((int)fd, kept);
	return s.diffs;
}

static int scan_proc(uint32_t proc, bool check)
{
	return scan_range(proc, check, 0, ~0ULL);
}

void page_drop_vanished(uint32_t proc, uint64_t lo, uint64_t hi)
{
	vanish_ok = true;
	page_sync_range(proc, lo, hi);
	vanish_ok = false;
}

/* Learns this proc's present pages in [lo, hi). */
void page_sync_range(uint32_t proc, uint64_t lo, uint64_t hi)
{
	int saved = nseen;
	scan_range(proc, false, lo, hi);
	nseen = saved;
}

/* Learns one page at addr; returns its descriptor, 0 when none is
 * present, or -errno. */
int page_sync_addr(uint32_t proc, uint64_t addr)
{
	uint32_t v = vma_find(proc, addr);
	uint64_t e = 0;
	long fd;

	if (!v) {
		/* Below the main stack, perhaps: the kernel may have grown it
		 * since we last looked. */
		int nk = maps_read(0, scr.kvma, MAX_KVMA, scr.maps, sizeof(scr.maps));
		for (int i = 0; i < nk; i++)
			if ((scr.kvma[i].flags & (NS_KVMA_STACK << 8)) &&
			    addr >= scr.kvma[i].start && addr < scr.kvma[i].end)
				vma_grow_down(proc, scr.kvma[i].start, scr.kvma[i].end);
		v = vma_find(proc, addr);
	}
	if (!v)
		return -EFAULT;
	bool kept;
	fd = sys_self_fd(SYS_SELF_PAGEMAP, &kept);
	if (fd < 0)
		return (int)fd;
	if (sys_pread((int)fd, &e, 8, (off_t)((addr >> NS_PAGE_SHIFT) * 8)) != 8)
		e = 0;
	if (!kept)
		sys_close((int)fd);
	if (!(e & PM_PRESENT))
		return 0;
	return (int)sync_one(v, addr >> NS_PAGE_SHIFT, e);
}

int page_sync(uint32_t proc)
{
	int saved = nseen;
	scan_proc(proc, false);
	nseen = saved;
	return 0;
}

static void sort_seen(int n)
{
	/* Shell sort: no allocation, and n is modest. */
	for (int gap = n / 2; gap > 0; gap /= 2)
		for (int i = gap; i < n; i++) {
			struct seen t = scr.seen[i];
			int j = i;
			for (; j >= gap && scr.seen[j - gap].pfn > t.pfn; j -= gap)
				scr.seen[j] = scr.seen[j - gap];
			scr.seen[j] = t;
		}
}

struct set_ctx {
	int lo, hi;		/* scr.seen[lo..hi) share one PFN */
	int found, extra;
	int unscanned;		/* mappers in processes not scanned */
};

static int set_cb(uint32_t proc, uint32_t vma, uint64_t addr, void *arg)
{
	struct set_ctx *c = arg;

	(void)vma;
	for (int i = c->lo; i < c->hi; i++)
		if (scr.seen[i].proc == proc && scr.seen[i].vpn == addr >> NS_PAGE_SHIFT) {
			c->found++;
			return 0;
		}
	/* A mapper in a process we did not scan is not evidence. */
	if (proc_of(proc)->dirty || proc_of(proc)->state != NS_PROC_LIVE) {
		c->unscanned++;
		return 0;
	}
	c->extra++;
	return 0;
}

/* Says where the shadow has page mapped (a slow walk, for reports). */
static void report_ptes(uint32_t pg)
{
	char line[300];

	for (uint32_t p = ns_arena->procs; p; p = proc_of(p)->next)
		for (uint32_t t = pte_first(p); t; t = pte_next(t))
			if (pte_page(t) == pg) {
				uint64_t a = pte_vpn(t) << NS_PAGE_SHIFT;
				uint32_t v = vma_find(p, a);
				struct ns_page *pd = page_of(pg);
				ns_fmt(line, sizeof(line), "  shadow PTE -> page %u (%s, index %#lx, av %u, vma ino %lu, vma av %u avcs %d)%s%s",
				       pg, pd->flags & NS_PG_ANON ? "anon" : "file",
				       (unsigned long)pd->index, pd->obj,
				       v && vma_of(v)->obj ? (unsigned long)obj_of(vma_of(v)->obj)->ino : 0UL,
				       v ? vma_of(v)->anon_vma : 0, v ? avc_count(v) : -1,
				       v ? "" : " outside any VMA",
				       proc_of(p)->dirty ? " (process dirty)" : "");
				detail(proc_of(p)->pid, a, a + NS_PAGE_SIZE, line);
			}
}

/* Root only: each PFN's mappers in the kernel against rmap_walk().  With
 * kin_unknown (a member has not yet looked at its own maps) the kernel's
 * count may hold mappers the shadow cannot know yet. */
static int check_sharing(bool kin_unknown)
{
	long kc = sys_open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
	long kf = sys_open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	int diffs = 0;
	char line[160];

	sort_seen(nseen);
	for (int lo = 0, hi; lo < nseen; lo = hi) {
		for (hi = lo + 1; hi < nseen && scr.seen[hi].pfn == scr.seen[lo].pfn; hi++)
			;
		uint32_t pg = scr.seen[lo].page;
		pid_t pid = proc_of(scr.seen[lo].proc)->pid;
		uint64_t a = scr.seen[lo].vpn << NS_PAGE_SHIFT;
		/* A page in flight in a migration is judged after its settle
		 * (sync_one()): its mappers' PTEs change one at a time. */
		bool in_flight = false;
		for (int i = lo; i < hi; i++)
			in_flight |= !!(page_of(scr.seen[i].page)->flags & NS_PG_MIGRATING);
		if (in_flight)
			continue;
		for (int i = lo + 1; i < hi; i++)
			if (scr.seen[i].page != pg) {
				ns_fmt(line, sizeof(line),
				       "kernel maps one page (pfn %#lx) here and in pid %d at %#lx, shadow has two",
				       (unsigned long)scr.seen[lo].pfn,
				       (int)proc_of(scr.seen[i].proc)->pid,
				       (unsigned long)(scr.seen[i].vpn << NS_PAGE_SHIFT));
				diffs += report(pid, a, a + NS_PAGE_SIZE, line);
				report_ptes(pg);
				report_ptes(scr.seen[i].page);
			}
		struct set_ctx c = { lo, hi, 0, 0, 0 };
		rmap_walk(pg, set_cb, &c);
		if (c.found != hi - lo || c.extra) {
			ns_fmt(line, sizeof(line),
			       "kernel: %d mappers of pfn %#lx, rmap finds %d of them and %d others",
			       hi - lo, (unsigned long)scr.seen[lo].pfn, c.found, c.extra);
			diffs += report(pid, a, a + NS_PAGE_SIZE, line);
		}
		uint64_t cnt, flags = 0;
		if (kc >= 0 && kf >= 0 && !c.unscanned && !kin_unknown &&
		    sys_pread((int)kc, &cnt, 8, (off_t)(scr.seen[lo].pfn * 8)) == 8 &&
		    sys_pread((int)kf, &flags, 8, (off_t)(scr.seen[lo].pfn * 8)) == 8 &&
		    !(flags & ((1ULL << 15) | (1ULL << 16) | (1ULL << 22))) &&
		    cnt != page_of(pg)->mapcount) {
			ns_fmt(line, sizeof(line),
			       "kpagecount %lu, shadow mapcount %u",
			       (unsigned long)cnt, page_of(pg)->mapcount);
			diffs += report(pid, a, a + NS_PAGE_SIZE, line);
			report_ptes(pg);
		}
	}
	if (kc >= 0)
		sys_close((int)kc);
	if (kf >= 0)
		sys_close((int)kf);
	return diffs;
}

static int verify_pages_once(bool all)
{
	int diffs = 0;
	uint32_t next;
	bool kin_unknown = false;

	nseen = 0;
	for (uint32_t p = ns_arena->procs; p; p = next) {
		next = proc_of(p)->next;
		if (p == ns_rt.self)
			continue;
		if (!proc_alive(p)) {
			proc_release(p);
			continue;
		}
		kin_unknown |= proc_of(p)->dirty && proc_of(p)->state == NS_PROC_LIVE;
		if (all && !proc_of(p)->dirty && proc_of(p)->state == NS_PROC_LIVE)
			diffs += scan_proc(p, true);
	}
	diffs += scan_proc(ns_rt.self, true);
	/* Sharing can only be judged when every family member was scanned. */
	if (ns_rt.is_root && all)
		diffs += check_sharing(kin_unknown);
	return diffs;
}

/* Other processes run while we read their pagemaps, and one that is
 * exiting unmaps its pages between our reads of it and of its relatives.
 * What such a race shows is gone a moment later, so a difference counts
 * only when the same page still differs at the last of three looks as at
 * the one before (report()); what the shadow learned on the way it
 * learned from the kernel. */
int verify_pages(bool all, void (*catch_up)(void))
{
	const struct timespec pause = { 0, 20 * 1000 * 1000 };
	int d = 0;

	sus[0].n = sus[1].n = 0;
	sus[0].full = sus[1].full = false;
	for (int attempt = 0; attempt < 3; attempt++) {
		quiet = attempt < 2;
		sus_filter = attempt == 2;
		sus_cur = attempt & 1;
		sus[sus_cur].n = 0;
		sus[sus_cur].full = false;
		d = verify_pages_once(all);
		if (!d)
			break;
		sys_call(SYS_nanosleep, &pause, NULL, 0, 0, 0, 0);
		catch_up();	/* news the monitor had not yet passed on */
	}
	quiet = sus_filter = false;
	return d;
}
