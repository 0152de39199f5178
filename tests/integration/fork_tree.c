/* SPDX-License-Identifier: MIT */
/*
 * fork_tree: a family of 15 processes (a binary tree of depth 3) shares the
 * pages of one private anonymous region, and the reverse map must name
 * exactly the processes that still map each page.  The root writes six
 * pages, then the tree is forked; the two depth-1 children write the
 * "subtree" page before forking their own children, so their descendants
 * share their copy; once every process exists, each writes its own "each"
 * page, the root writes the "root" page and one depth-2 child writes the
 * "cow" page; another depth-2 child unmaps the "gone" page and a third
 * makes the "all" page read-only (its VMA splits, the page stays shared).
 * Every process then checks numashadow_page_mappers() of each
 * page against the set it expects (pids and the one address), checks that
 * set against the kernel (same pagemap PFN in every mapper, /proc/kpagecount
 * equal to the number of mappers, when PFNs are visible), compares
 * numashadow_page_node() with move_pages(), and runs numashadow_verify().
 * Children report by exit status; every parent waits for its children.
 */
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "helpers.h"

#define DEPTH	3
#define NPROC	15		/* 2^(DEPTH+1) - 1, heap order: children of i are 2i+1, 2i+2 */
#define COW_WRITER 5		/* a depth-2 node: its own children keep the old page */
#define UNMAPPER 6		/* a depth-2 node that unmaps one shared page */
#define PROTECTOR 3		/* a depth-2 node that makes the "all" page read-only */

enum { PG_ALL, PG_COW, PG_EACH, PG_ROOT, PG_SUBTREE, PG_GONE, NPAGES };
static const char *page_name[NPAGES] = { "all", "cow", "each", "root", "subtree", "gone" };

enum { B_FORKED, B_WRITTEN, B_CHECKED, NBARRIERS };

/* Coordination, in a MAP_SHARED region every process of the tree sees. */
struct shared {
	_Atomic int arrived[NBARRIERS];
	_Atomic int abort;		/* set by anyone who cannot reach a barrier */
	pid_t pid[NPROC];
	uint64_t pfn[NPROC][NPAGES];	/* the kernel's frame for each page, per process */
};

static struct shared *sh;
static char *base;
static long pg;
static struct ns_api api;
static int me;				/* this process's node index */
static int fails;
static pid_t kids[2];
static int kid_status[2];
static int kid_done[2];

#define check(c, ...) do { if (!(c)) { \
	fprintf(stderr, "FAIL node %d (pid %d) line %d: ", me, (int)getpid(), __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); fails++; } } while (0)

static int depth_of(int i)
{
	int d = 0;
	while (i > 0) {
		i = (i - 1) / 2;
		d++;
	}
	return d;
}

static int is_in_subtree(int j, int s)
{
	for (; j > s; j = (j - 1) / 2)
		;
	return j == s;
}

static char *page(int k)
{
	return base + (long)k * pg;
}

/* Value each process expects to read from page k. */
static char value_of(int k, int i)
{
	switch (k) {
	case PG_COW:	return i == COW_WRITER ? 'w' : 'a' + k;
	case PG_EACH:	return 'A' + i;
	case PG_ROOT:	return i == 0 ? 'r' : 'a' + k;
	case PG_SUBTREE:	if (i == 0) return 'a' + k;
			while (i > 2) i = (i - 1) / 2;
			return 'A' + i;
	default:	return 'a' + k;
	}
}

/* The set of nodes that map the same frame as node i at page k. */
static unsigned expected_mask(int k, int i)
{
	unsigned all = (1u << NPROC) - 1, m = 0;
	switch (k) {
	case PG_ALL:	return all;
	case PG_COW:	return i == COW_WRITER ? 1u << i : all & ~(1u << COW_WRITER);
	case PG_EACH:	return 1u << i;
	case PG_ROOT:	return i == 0 ? 1u : all & ~1u;
	case PG_GONE:	return all & ~(1u << UNMAPPER);
	case PG_SUBTREE:
		if (i == 0)
			return 1u;
		while (i > 2)
			i = (i - 1) / 2;
		for (int j = 0; j < NPROC; j++)
			if (is_in_subtree(j, i))
				m |= 1u << j;
		return m;
	}
	return 0;
}

/* A child exiting before the last barrier can never arrive: give up. */
static void reap_early(void)
{
	for (int c = 0; c < 2; c++) {
		if (!kids[c] || kid_done[c])
			continue;
		if (waitpid(kids[c], &kid_status[c], WNOHANG) == kids[c]) {
			kid_done[c] = 1;
			fprintf(stderr, "node %d: child pid %d ended early (status 0x%x)\n",
				me, (int)kids[c], kid_status[c]);
			atomic_store(&sh->abort, 1);
		}
	}
}

static int barrier(int b)
{
	atomic_fetch_add(&sh->arrived[b], 1);
	while (atomic_load(&sh->arrived[b]) < NPROC) {
		if (atomic_load(&sh->abort))
			return -1;
		reap_early();
		usleep(1000);
	}
	return 0;
}

static void check_page(int k)
{
	char *p = page(k);
	unsigned want = expected_mask(k, me);

	if (k == PG_GONE && me == UNMAPPER) {
		int node = api.page_node(p);
		check(node == -EFAULT, "page gone: numashadow_page_node %d after munmap, want -EFAULT",
		      node);
		return;
	}

	check(*p == value_of(k, me), "page %s reads '%c', want '%c'",
	      page_name[k], *p, value_of(k, me));

	/* The test's own expectation, judged by the kernel first: a wrong
	 * expectation is a test bug, not a runtime bug. */
	uint64_t mine = sh->pfn[me][k];
	if (mine) {
		unsigned kernel = 0;
		for (int j = 0; j < NPROC; j++)
			if (sh->pfn[j][k] == mine)
				kernel |= 1u << j;
		check(kernel == want, "page %s: kernel sharers 0x%x, test expects 0x%x (test bug)",
		      page_name[k], kernel, want);
		long mc = ns_kpagecount(mine);
		check(mc == __builtin_popcount(want), "page %s: kpagecount %ld, want %d",
		      page_name[k], mc, __builtin_popcount(want));
	}

	struct numashadow_mapper w[NPROC];
	int nw = 0;
	for (int j = 0; j < NPROC; j++)
		if (want & (1u << j)) {
			w[nw].pid = sh->pid[j];
			w[nw].addr = p;
			nw++;
		}
	int d = ns_mappers_diff(&api, p, w, nw);
	check(d == 0, "page %s: %d differences in mappers", page_name[k], d);

	int node = api.page_node(p), knode = ns_kernel_node(p);
	check(node == knode, "page %s: numashadow_page_node %d, kernel %d",
	      page_name[k], node, knode);
}

static void __attribute__((noreturn)) finish(void)
{
	for (int c = 0; c < 2; c++) {
		if (!kids[c])
			continue;
		if (!kid_done[c] && waitpid(kids[c], &kid_status[c], 0) != kids[c]) {
			check(0, "waitpid %d: %s", (int)kids[c], strerror(errno));
			continue;
		}
		int st = kid_status[c];
		check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "child pid %d: status 0x%x", (int)kids[c], st);
	}
	if (fails)
		atomic_store(&sh->abort, 1);
	exit(fails ? T_FAIL : T_PASS);
}

static void __attribute__((noreturn)) run_node(int idx)
{
	me = idx;
	kids[0] = kids[1] = 0;
	kid_done[0] = kid_done[1] = 0;
	sh->pid[me] = getpid();

	if (depth_of(me) == 1)
		*page(PG_SUBTREE) = value_of(PG_SUBTREE, me);

	if (depth_of(me) < DEPTH) {
		for (int c = 0; c < 2; c++) {
			pid_t pid = fork();
			if (pid < 0) {
				check(0, "fork: %s", strerror(errno));
				atomic_store(&sh->abort, 1);
				finish();
			}
			if (pid == 0) {
				/* Never outlive the tree if an ancestor dies. */
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				run_node(2 * me + 1 + c);
			}
			kids[c] = pid;
		}
	}

	if (barrier(B_FORKED))
		finish();

	/* Writes after fork: each process its own page, the root one page,
	 * one depth-2 child one page. */
	*page(PG_EACH) = value_of(PG_EACH, me);
	if (me == 0)
		*page(PG_ROOT) = value_of(PG_ROOT, me);
	if (me == COW_WRITER)
		*page(PG_COW) = value_of(PG_COW, me);
	/* Splits of this process's VMA alone: the pages stay shared. */
	if (me == UNMAPPER)
		check(munmap(page(PG_GONE), pg) == 0, "munmap: %s", strerror(errno));
	if (me == PROTECTOR)
		check(mprotect(page(PG_ALL), pg, PROT_READ) == 0, "mprotect: %s", strerror(errno));
	for (int k = 0; k < NPAGES; k++)
		sh->pfn[me][k] = ns_pfn(0, page(k));

	if (barrier(B_WRITTEN))
		finish();

	int d = api.verify();
	check(d == 0, "numashadow_verify() = %d after all writes", d);
	for (int k = 0; k < NPAGES; k++)
		check_page(k);

	barrier(B_CHECKED);
	finish();
}

int main(int argc, char **argv)
{
	(void)argc;
	ns_test_preload(argv);
	ns_api_need(&api);
	pg = ns_page();
	setvbuf(stdout, NULL, _IONBF, 0);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	base = ns_map_guarded(NPAGES, PROT_READ | PROT_WRITE);
	t_assert(sh != MAP_FAILED && base != MAP_FAILED);
	for (int k = 0; k < NPAGES; k++)
		*page(k) = 'a' + k;
	if (!ns_pfn_visible())
		fprintf(stderr, "note: PFNs hidden, kernel cross-checks skipped\n");
	ns_verify_clean(&api, "before fork");
	run_node(0);
}
