/* SPDX-License-Identifier: MIT */
/*
 * verify.c - the kernel as oracle: the checks and what they report.
 *
 * VMAs: the shadow must cover exactly what /proc/PID/maps lists (but the
 * vdso/vvar/vsyscall and the arena) with the same protection, sharing,
 * backing and file offset.  Compared piece by piece, so where the kernel
 * and the shadow merged neighbours differently nothing is reported.  The
 * same walk, with fix set, reconciles the shadow after untracked changes.
 *
 * Pages: the pagemap scan (learn.c) learns what faults would tell and,
 * checking, holds every remaining claim against the kernel: no page where
 * the kernel has none, the node (move_pages query), sharing (exclusive
 * bit).  Here, as root: the set of family processes mapping each PFN
 * against rmap_walk, and /proc/kpagecount against the mapcount; and the
 * three looks that tell a race from a difference (verify_pages).  Callers
 * hold the family lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include "internal.h"
#include "sys.h"
#include "verify.h"

#define MAX_DIFF_LINES 40

int verify_nseen;

static int diff_lines;
static bool quiet;	/* an attempt whose differences may be races */

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
} sus[2] NS_BIG;
static int sus_cur;		/* the look being made records here */
static bool sus_filter;		/* the last look: count only earlier suspects */
static bool last_shown;		/* the last verify_report() was said */

static bool suspected(const struct suspects *s, pid_t pid, uint64_t a)
{
	if (s->full)
		return true;
	for (int i = 0; i < s->n; i++)
		if (s->at[i].pid == pid && s->at[i].a == a)
			return true;
	return false;
}

int verify_report(pid_t pid, uint64_t a, uint64_t b, const char *what)
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

/* Is dev:ino /dev/zero (as maps prints it)?  Looked up once, the first
 * time a maps line asks, not by every process at start-up. */
static bool is_devzero(uint64_t dev, uint64_t ino)
{
	static uint64_t zdev, zino;
	static uint32_t looked;
	struct stat st;

	if (!__atomic_load_n(&looked, __ATOMIC_ACQUIRE)) {
		long fd = sys_open("/dev/zero", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (sys_fstat((int)fd, &st) == 0) {
				zdev = dev_split(st.st_dev);
				zino = st.st_ino;
			}
			sys_close((int)fd);
		}
		__atomic_store_n(&looked, 1, __ATOMIC_RELEASE);
	}
	return zino && dev == zdev && ino == zino;
}

static bool attrs_equal(const struct attrs *a, const struct attrs *b)
{
	/* A private /dev/zero mapping is anonymous memory; newer kernels
	 * still show the file in maps. */
	if (a->kind == OBJ_FILE && !a->shared && b->kind == 0 && !b->shared &&
	    is_devzero(a->dev, a->ino))
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

static int collect_cb(uint32_t idx, void *arg)
{
	int *n = arg;

	if (*n == MAX_KVMA)
		return 1;
	ns_scr.svma[(*n)++] = idx;
	return 0;
}

/* A kernel VMA the shadow keeps: not a special mapping, not the arena. */
static bool shadowed(const struct ns_kvma *k)
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
	k = &ns_scr.kvma[f->k];
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

/* The kernel's VMAs of proc that are ours to shadow, in order, in
 * ns_scr.kvma, the shadow's stack grown as the kernel grew it; their
 * count, or -errno. */
static int kernel_vmas(uint32_t proc, pid_t pid)
{
	int nk = maps_read(pid == ns_rt.pid ? 0 : pid, ns_scr.kvma, MAX_KVMA, ns_scr.maps,
			   sizeof(ns_scr.maps));
	int w = 0;

	if (nk < 0)
		return nk;
	/* Drop what is not ours to shadow, keep order. */
	for (int r = 0; r < nk; r++)
		if (shadowed(&ns_scr.kvma[r]))
			ns_scr.kvma[w++] = ns_scr.kvma[r];
	nk = w;
	for (int r = 0; r < nk; r++)
		if (ns_scr.kvma[r].flags & (NS_KVMA_STACK << 8))
			vma_grow_down(proc, ns_scr.kvma[r].start, ns_scr.kvma[r].end);
	return nk;
}

/* A piece [pos, end) where the kernel (ka, its VMA ki; NULL and -1: none)
 * and the shadow (sa) differ: with fix queued in ns_scr.fixes, else said. */
static void piece_differs(pid_t pid, uint64_t pos, uint64_t end, int ki,
			  const struct attrs *ka, const struct attrs *sa,
			  bool fix, int *nfix)
{
	char kd[96], sd[96], line[256];

	if (fix && *nfix < 4096)
		ns_scr.fixes[(*nfix)++] = (struct fix){ pos, end, ki };
	if (!fix) {
		if (ka)
			describe(kd, sizeof(kd), ka);
		if (sa)
			describe(sd, sizeof(sd), sa);
		ns_fmt(line, sizeof(line), "kernel %s, shadow %s",
		       ka ? kd : "unmapped", sa ? sd : "unmapped");
		verify_report(pid, pos, end, line);
	}
}

/* Walks the kernel's nk VMAs (ns_scr.kvma) and the shadow's ns
 * (ns_scr.svma) side by side, one piece at a time: where either side's
 * VMA begins or ends.  Returns the pieces that differ. */
static int compare_vmas(pid_t pid, int nk, int ns, bool fix, int *nfix)
{
	int i = 0, j = 0, diffs = 0;
	uint64_t pos = 0;

	while (i < nk || j < ns) {
		struct ns_kvma *k = i < nk ? &ns_scr.kvma[i] : NULL;
		struct ns_vma *s = j < ns ? vma_of(ns_scr.svma[j]) : NULL;
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
			sattrs(ns_scr.svma[j], pos, &sa);
		if (kc && sc) {
			/* A shared anonymous object learns its inode here, the
			 * first time the kernel shows it. */
			if (sa.kind == OBJ_SHM && ka.kind == OBJ_SHM && !sa.ino) {
				obj_of(s->obj)->dev = ka.dev;
				obj_of(s->obj)->ino = ka.ino;
				sattrs(ns_scr.svma[j], pos, &sa);
			}
			differ = !attrs_equal(&ka, &sa);
		}
		if (differ) {
			diffs++;
			piece_differs(pid, pos, end, kc ? i : -1, kc ? &ka : NULL,
				      sc ? &sa : NULL, fix, nfix);
		}
		pos = end;
		if (k && k->end <= pos)
			i++;
		if (s && s->end <= pos)
			j++;
	}
	return diffs;
}

static void apply_fixes(uint32_t proc, int nfix)
{
	for (int f = 0; f < nfix; f++) {
		/* Learned from the maps, a VMA an mremap moved would lose
		 * its page offset: left for after the call's replay. */
		if (proc == ns_rt.self && remap_pending(ns_scr.fixes[f].start, ns_scr.fixes[f].end)) {
			ns_rt.dirty = 1;
			continue;
		}
		apply_fix(proc, &ns_scr.fixes[f]);
	}
}

int verify_vmas(uint32_t proc, bool fix)
{
	pid_t pid = proc_of(proc)->pid;
	int nk, ns = 0, diffs = 0, nfix = 0;
	char line[256];

	if (!fix && mm_is_valid(proc) < 0) {
		diffs += verify_report(pid, 0, 0, "the shadow VMA tree is inconsistent");
	}
	nk = kernel_vmas(proc, pid);
	if (nk < 0) {
		/* A check that could not be made is no pass.  (Another
		 * member that is gone has nothing left to check.) */
		if (fix || (pid != ns_rt.pid && (nk == -ENOENT || nk == -ESRCH)))
			return 0;
		ns_fmt(line, sizeof(line), "could not look: reading its maps failed (%d%s)",
		       nk, nk == -E2BIG ? ": too many mappings or too much text" : "");
		verify_report(pid, 0, 0, line);
		return diffs + 1;
	}
	vma_walk(proc, 0, ~0ULL, collect_cb, &ns);
	diffs += compare_vmas(pid, nk, ns, fix, &nfix);
	apply_fixes(proc, nfix);
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

static void sort_seen(int n)
{
	/* Shell sort: no allocation, and n is modest. */
	for (int gap = n / 2; gap > 0; gap /= 2)
		for (int i = gap; i < n; i++) {
			struct seen t = ns_scr.seen[i];
			int j = i;
			for (; j >= gap && ns_scr.seen[j - gap].pfn > t.pfn; j -= gap)
				ns_scr.seen[j] = ns_scr.seen[j - gap];
			ns_scr.seen[j] = t;
		}
}

struct set_ctx {
	int lo, hi;		/* ns_scr.seen[lo..hi) share one PFN */
	int found, extra;
	int unscanned;		/* mappers in processes not scanned */
};

static int set_cb(uint32_t proc, uint32_t vma, uint64_t addr, void *arg)
{
	struct set_ctx *c = arg;

	(void)vma;
	for (int i = c->lo; i < c->hi; i++)
		if (ns_scr.seen[i].proc == proc && ns_scr.seen[i].vpn == addr >> NS_PAGE_SHIFT) {
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

void verify_report_ptes(uint32_t pg)
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

	sort_seen(verify_nseen);
	for (int lo = 0, hi; lo < verify_nseen; lo = hi) {
		for (hi = lo + 1; hi < verify_nseen && ns_scr.seen[hi].pfn == ns_scr.seen[lo].pfn; hi++)
			;
		uint32_t pg = ns_scr.seen[lo].page;
		pid_t pid = proc_of(ns_scr.seen[lo].proc)->pid;
		uint64_t a = ns_scr.seen[lo].vpn << NS_PAGE_SHIFT;
		/* A page in flight in a migration is judged after its settle
		 * (sync_page()): its mappers' PTEs change one at a time. */
		bool in_flight = false;
		for (int i = lo; i < hi; i++)
			in_flight |= !!(page_of(ns_scr.seen[i].page)->flags & NS_PG_MIGRATING);
		if (in_flight)
			continue;
		for (int i = lo + 1; i < hi; i++)
			if (ns_scr.seen[i].page != pg) {
				ns_fmt(line, sizeof(line),
				       "kernel maps one page (pfn %#lx) here and in pid %d at %#lx, shadow has two",
				       (unsigned long)ns_scr.seen[lo].pfn,
				       (int)proc_of(ns_scr.seen[i].proc)->pid,
				       (unsigned long)(ns_scr.seen[i].vpn << NS_PAGE_SHIFT));
				diffs += verify_report(pid, a, a + NS_PAGE_SIZE, line);
				verify_report_ptes(pg);
				verify_report_ptes(ns_scr.seen[i].page);
			}
		struct set_ctx c = { lo, hi, 0, 0, 0 };
		rmap_walk(pg, set_cb, &c);
		if (c.found != hi - lo || c.extra) {
			ns_fmt(line, sizeof(line),
			       "kernel: %d mappers of pfn %#lx, rmap finds %d of them and %d others",
			       hi - lo, (unsigned long)ns_scr.seen[lo].pfn, c.found, c.extra);
			diffs += verify_report(pid, a, a + NS_PAGE_SIZE, line);
		}
		uint64_t cnt, flags = 0;
		if (kc >= 0 && kf >= 0 && !c.unscanned && !kin_unknown &&
		    sys_pread((int)kc, &cnt, 8, (off_t)(ns_scr.seen[lo].pfn * 8)) == 8 &&
		    sys_pread((int)kf, &flags, 8, (off_t)(ns_scr.seen[lo].pfn * 8)) == 8 &&
		    !(flags & ((1ULL << 15) | (1ULL << 16) | (1ULL << 22))) &&
		    cnt != page_of(pg)->mapcount) {
			ns_fmt(line, sizeof(line),
			       "kpagecount %lu, shadow mapcount %u",
			       (unsigned long)cnt, page_of(pg)->mapcount);
			diffs += verify_report(pid, a, a + NS_PAGE_SIZE, line);
			verify_report_ptes(pg);
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

	verify_nseen = 0;
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
			diffs += learn_range(p, true, 0, ~0ULL);
	}
	diffs += learn_range(ns_rt.self, true, 0, ~0ULL);
	/* Sharing can only be judged when every family member was scanned. */
	if (ns_rt.is_root && all)
		diffs += check_sharing(kin_unknown);
	return diffs;
}

/* Other processes run while we read their pagemaps, and one that is
 * exiting unmaps its pages between our reads of it and of its relatives.
 * What such a race shows is gone a moment later, so a difference counts
 * only when the same page still differs at the last of three looks as at
 * the one before (verify_report()); what the shadow learned on the way it
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
		sys_nanosleep(&pause);
		catch_up();	/* news the monitor had not yet passed on */
	}
	quiet = sus_filter = false;
	return d;
}
