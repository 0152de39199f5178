/* SPDX-License-Identifier: MIT */
/*
 * share.c - what this process shares with its relatives, mapping by
 * mapping, asked of the kernel: the trace's SHARED records, written when a
 * traced process exits (docs/trace.md).
 *
 * Fork keeps addresses, so a relative maps the same page, if at all, at
 * the same address: each of our mappings is read from our pagemap and from
 * each relative's at once, a chunk at a time (kept descriptors,
 * runtime/pagemap.c), and a page counts as shared with a relative when
 * both map the same frame (as root, by PFN), or, without PFNs, when it is
 * anonymous and neither holds it alone.  The zero page and the runtime's
 * own memory are left out.  Each run of pages shared is one record, with
 * any relative and with each: the kernel merges neighbouring mappings, and
 * the report credits a run to the mappings (mmap records) it covers.
 * Family lock held.
 */
#include "internal.h"
#include "sys.h"

#define SH_PEERS 64	/* relatives compared, the first found */
#define SH_CHUNK 512	/* pages read at once */
#define SH_RECS 4096	/* records a process writes */

struct share {
	uint32_t peer[SH_PEERS];
	int npeer;
	uint64_t mine[SH_CHUNK], theirs[SH_PEERS][SH_CHUNK];
};

static struct share sh NS_BIG;	/* 260 KiB: not on a thread's stack */

static bool same_page(uint64_t a, uint64_t b)
{
	if (!(a & PM_PRESENT) || !(b & PM_PRESENT))
		return false;
	if ((a & PM_PFN) && (b & PM_PFN))
		return (a & PM_PFN) == (b & PM_PFN) && (a & PM_PFN) != ns_zero_pfn();
	return !(a & PM_FILE) && !(b & PM_FILE) && !(a & PM_EXCL) && !(b & PM_EXCL);
}

/* Reads n entries of proc's pagemap from vpn into out (zeros where it
 * cannot be read). */
static void read_chunk(uint32_t proc, uint64_t vpn, uint64_t *out, size_t n)
{
	bool keep;
	int fd = pm_open(proc, &keep);
	long r = fd < 0 ? -1 : sys_pread(fd, out, n * 8, (off_t)(vpn * 8));

	pm_close(fd, keep);
	for (size_t i = r < 0 ? 0 : (size_t)r / 8; i < n; i++)
		out[i] = 0;
}

/* Runs of pages shared: [0] with any relative, [1 + p] with peer p.  A run
 * is one record: SH_RECS at most a process, so that one whose shared
 * pages alternate with its own cannot flood the trace. */
static uint64_t run_start[SH_PEERS + 1], run_len[SH_PEERS + 1];
static unsigned recs;

static void run_end(int k)
{
	if (!run_len[k])
		return;
	if (recs < SH_RECS) {
		trace_emit(NS_TR_SHARED, run_start[k] << NS_PAGE_SHIFT, run_len[k], -1,
			   k ? (uint32_t)proc_of(sh.peer[k - 1])->pid : 0);
		recs++;
	}
	run_len[k] = 0;
}

static void run_add(int k, uint64_t vpn, bool shared)
{
	if (shared && run_len[k] && run_start[k] + run_len[k] == vpn) {
		run_len[k]++;
		return;
	}
	run_end(k);
	if (shared) {
		run_start[k] = vpn;
		run_len[k] = 1;
	}
}

static int share_vma(uint32_t vma, void *arg)
{
	uint64_t s = vma_of(vma)->start >> NS_PAGE_SHIFT, e = vma_of(vma)->end >> NS_PAGE_SHIFT;

	(void)arg;
	if (ns_own_overlaps(s << NS_PAGE_SHIFT, e << NS_PAGE_SHIFT))
		return 0;
	for (uint64_t v = s; v < e; v += SH_CHUNK) {
		size_t n = e - v < SH_CHUNK ? e - v : SH_CHUNK;
		read_chunk(ns_rt.self, v, sh.mine, n);
		for (int p = 0; p < sh.npeer; p++)
			read_chunk(sh.peer[p], v, sh.theirs[p], n);
		for (size_t i = 0; i < n; i++) {
			bool any = false;
			for (int p = 0; p < sh.npeer; p++) {
				bool same = same_page(sh.mine[i], sh.theirs[p][i]);
				run_add(1 + p, v + i, same);
				any |= same;
			}
			run_add(0, v + i, any);
		}
	}
	for (int k = 0; k <= sh.npeer; k++)
		run_end(k);
	return 0;
}

void share_trace(void)
{
	if (!trace_on())
		return;
	sh.npeer = 0;
	recs = 0;
	for (uint32_t p = ns_arena->procs; p && sh.npeer < SH_PEERS; p = proc_of(p)->next)
		if (p != ns_rt.self && proc_of(p)->pid > 0 &&
		    (proc_of(p)->state == NS_PROC_LIVE || proc_of(p)->state == NS_PROC_EXITING))
			sh.peer[sh.npeer++] = p;
	if (sh.npeer)
		vma_walk(ns_rt.self, 0, ~0ULL, share_vma, NULL);
}
