/* SPDX-License-Identifier: MIT */
/*
 * vm_migrate_basic: numashadow_migrate() moves one process's private pages
 * for real.  NPAGES pages are written while the thread is bound to node 0;
 * they are moved to the target node (argument, default 1), then again (all
 * already there), then about half of them back to node 0 (a part ending on
 * a 2 MiB boundary, since the kernel moves a transparent huge page whole),
 * then the whole range to node 0 (the rest already there).  After each step
 * the kernel (move_pages(2) with nodes = NULL) and numashadow_page_node()
 * must both place every page on the expected node, numashadow_verify() must
 * find nothing, the return value must be the pages moved and
 * numashadow_migrate_stats() must account for every page once.  Pages never
 * touched are not moved (nor counted).  A range ending inside huge pages
 * moves at least its own pages, and whatever else the kernel moved along,
 * the shadow must know.  A bad node or bad flags give -EINVAL and change
 * nothing.  Needs a guest with the target node: tests/vm/migrate_basic.sh
 * (node 1 of 2) and migrate_basic_4node.sh (node 3 of 4) run it.
 */
#include <numa.h>
#include <numaif.h>
#include "helpers.h"

#define NPAGES 2048
#define SPARSE 16
#define HPAGE_PAGES 512	/* pages in a 2 MiB transparent huge page */

static long pg;
static struct ns_api api;
/* The shadow must say what the kernel says for every page of [base, base
 * + n pages), and verify must agree; the kernel's nodes go to st.  A lie is
 * a failure whatever the test expected. */
static void expect_truth(char *base, int n, int *st, const char *when)
{
	int bad = 0, first = -1, said = 0;

	ns_kernel_nodes(0, base, n, st);
	for (int i = 0; i < n; i++) {
		int s = api.page_node(base + (long)i * pg);
		if (s != st[i] && bad++ == 0) {
			first = i;
			said = s;
		}
	}
	if (bad)
		t_fail("%s: numashadow_page_node() differs from the kernel on %d of "
		       "%d pages (page %d: shadow %d, kernel %d)", when, bad, n,
		       first, said, st[first]);
	ns_verify_clean(&api, when);
}

/* Every page of [base, base + n pages) must be on node, for the kernel and
 * for the shadow alike. */
static void expect_node(char *base, int n, int node, const char *when)
{
	int *st = calloc((size_t)n, sizeof(*st));
	int bad = 0, first = -1;

	t_assert(st);
	expect_truth(base, n, st, when);
	for (int i = 0; i < n; i++)
		if (st[i] != node && bad++ == 0)
			first = i;
	if (bad)
		t_fail("%s: %d of %d pages are not on node %d (page %d: %d)",
		       when, bad, n, node, first, st[first]);
	free(st);
}

/* One migration whose outcome is known in advance: moved pages move and the
 * rest were already there. */
static void step(char *addr, int n, int node, long moved, const char *what)
{
	struct numashadow_migrate_stats a = ns_migrate_stats(&api), b;
	long r = api.migrate(addr, (size_t)n * pg, node, NUMASHADOW_MIGRATE_SYNC);

	b = ns_migrate_stats(&api);
	fprintf(stderr, "%s: returned %ld; moved %lu, already %lu, failed %lu, "
		"passes %lu\n", what, r, b.moved - a.moved, b.already - a.already,
		ns_failed(&b) - ns_failed(&a), b.passes - a.passes);
	if (r != moved)
		t_fail("%s: numashadow_migrate() = %ld, expected %ld", what, r, moved);
	if (b.calls != a.calls + 1)
		t_fail("%s: calls went from %lu to %lu", what, a.calls, b.calls);
	if (b.moved - a.moved != (unsigned long)moved)
		t_fail("%s: stats count %lu moved, the call returned %ld", what,
		       b.moved - a.moved, r);
	if (b.already - a.already != (unsigned long)(n - moved))
		t_fail("%s: stats count %lu already there, expected %ld", what,
		       b.already - a.already, n - moved);
	if (ns_failed(&b) != ns_failed(&a))
		t_fail("%s: %lu pages failed", what, ns_failed(&b) - ns_failed(&a));
	if (moved && b.passes == a.passes)
		t_fail("%s: pages moved without a move_pages pass", what);
}

/* Bound to node 0 while writing, so every page starts there whatever CPU
 * the thread runs on. */
static void touch_on_node0(char *buf, int n)
{
	ns_membind(0);
	for (int i = 0; i < n; i++)
		buf[(long)i * pg] = (char)(i + 1);
	ns_membind(-1);
}

/* n pages whose first page is 2 MiB aligned, between PROT_NONE guards, so
 * the kernel may back them with transparent huge pages. */
static char *map_huge_aligned(int n)
{
	char *g = mmap(NULL, (size_t)(n + 2 * HPAGE_PAGES) * pg, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	if (g == MAP_FAILED)
		return MAP_FAILED;
	a = (char *)(((uintptr_t)g + HPAGE_PAGES * pg) & ~((uintptr_t)HPAGE_PAGES * pg - 1));
	return mprotect(a, (size_t)n * pg, PROT_READ | PROT_WRITE) ? MAP_FAILED : a;
}

/* Huge pages (AnonHugePages, kB) in the mapping holding addr. */
static long thp_kb(const void *addr)
{
	char line[256];
	long kb = -1;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		/* Field lines ("AnonHugePages:") never hold "hex-hex". */
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2)
			in = s <= (uintptr_t)addr && (uintptr_t)addr < e;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	int target = argc > 1 ? atoi(argv[1]) : 1;
	char *buf, *sp, *hp;
	int part;

	ns_test_preload(argv);
	ns_api_need(&api);
	ns_migrate_need(&api);
	pg = ns_page();
	if (numa_available() < 0 || numa_max_node() < target || target < 1)
		t_fail("needs nodes 0..%d (max node here %d); run it through "
		       "tests/vm/migrate_basic.sh", target, numa_max_node());

	buf = ns_map_guarded(NPAGES, PROT_READ | PROT_WRITE);
	t_assert(buf != MAP_FAILED);
	touch_on_node0(buf, NPAGES);
	expect_node(buf, NPAGES, 0, "after first touch");

	step(buf, NPAGES, target, NPAGES, "to target");
	expect_node(buf, NPAGES, target, "after the move to the target");
	step(buf, NPAGES, target, 0, "to target again");
	expect_node(buf, NPAGES, target, "after the empty move");

	/* The kernel moves a transparent huge page whole, so the part ends on
	 * a 2 MiB boundary: no huge page straddles it. */
	part = (int)((((uintptr_t)buf + NPAGES / 2 * pg) & ~((uintptr_t)HPAGE_PAGES * pg - 1)) -
		     (uintptr_t)buf) / (int)pg;
	step(buf, part, 0, part, "first part back");
	expect_node(buf, part, 0, "after the first part moved back");
	expect_node(buf + (long)part * pg, NPAGES - part, target,
		    "the rest, left on the target");
	step(buf, NPAGES, 0, NPAGES - part, "whole range back");
	expect_node(buf, NPAGES, 0, "after the move back");

	for (int i = 0; i < NPAGES; i++)
		if (buf[(long)i * pg] != (char)(i + 1))
			t_fail("page %d lost its content", i);

	/* Only present pages move: every other page is written. */
	sp = ns_map_guarded(SPARSE, PROT_READ | PROT_WRITE);
	t_assert(sp != MAP_FAILED);
	ns_membind(0);
	for (int i = 0; i < SPARSE; i += 2)
		sp[(long)i * pg] = 1;
	ns_membind(-1);
	{
		struct numashadow_migrate_stats a = ns_migrate_stats(&api), b;
		long r = api.migrate(sp, (size_t)SPARSE * pg, target,
				     NUMASHADOW_MIGRATE_SYNC);
		b = ns_migrate_stats(&api);
		if (r != SPARSE / 2 || b.moved - a.moved != SPARSE / 2 ||
		    ns_failed(&b) != ns_failed(&a))
			t_fail("sparse range: returned %ld, stats moved %lu, failed %lu; "
			       "expected %d and 0", r, b.moved - a.moved,
			       ns_failed(&b) - ns_failed(&a), SPARSE / 2);
		for (int i = 0; i < SPARSE; i++) {
			int k = ns_kernel_node(sp + (long)i * pg);
			int s = api.page_node(sp + (long)i * pg);
			if (i % 2 == 0 && (k != target || s != target))
				t_fail("sparse page %d: kernel %d, shadow %d, expected %d",
				       i, k, s, target);
			/* The kernel says -EFAULT for a hole in an anonymous
			 * mapping (follow_page with FOLL_DUMP); the API says
			 * -ENOENT: mapped, no page. */
			if (i % 2 == 1 && ((k != -ENOENT && k != -EFAULT) || s != -ENOENT))
				t_fail("sparse hole %d: kernel %d, shadow %d, expected "
				       "no page", i, k, s);
		}
		ns_verify_clean(&api, "after the sparse move");
	}

	/* A range that ends inside huge pages: the kernel moves each huge page
	 * whole, pages outside the range included.  Whatever moved, the shadow
	 * must say so. */
	hp = map_huge_aligned(2 * HPAGE_PAGES);
	t_assert(hp != MAP_FAILED);
	touch_on_node0(hp, 2 * HPAGE_PAGES);
	expect_node(hp, 2 * HPAGE_PAGES, 0, "huge pages after first touch");
	{
		int *st = calloc(2 * HPAGE_PAGES, sizeof(*st));
		int lo = HPAGE_PAGES / 2, hi = HPAGE_PAGES + HPAGE_PAGES / 2, along = 0;
		long kb = thp_kb(hp);
		struct numashadow_migrate_stats a = ns_migrate_stats(&api), b;
		long r = api.migrate(hp + (long)lo * pg, (size_t)(hi - lo) * pg,
				     target, NUMASHADOW_MIGRATE_SYNC);

		b = ns_migrate_stats(&api);
		t_assert(st);
		fprintf(stderr, "huge: %ld kB in huge pages; returned %ld; moved %lu, "
			"failed %lu\n", kb, r, b.moved - a.moved, ns_failed(&b) - ns_failed(&a));
		if (r < hi - lo || b.moved - a.moved != (unsigned long)r ||
		    ns_failed(&b) != ns_failed(&a))
			t_fail("huge range: returned %ld, stats moved %lu, failed %lu; "
			       "expected at least %d, the same, and 0", r,
			       b.moved - a.moved, ns_failed(&b) - ns_failed(&a), hi - lo);
		expect_node(hp + (long)lo * pg, hi - lo, target, "huge range moved");
		expect_truth(hp, 2 * HPAGE_PAGES, st, "huge pages around the range");
		for (int i = 0; i < 2 * HPAGE_PAGES; i++)
			along += (i < lo || i >= hi) && st[i] == target;
		printf("huge: %ld kB in huge pages, %d pages outside the range moved along\n",
		       kb, along);
		free(st);
	}

	/* Refused before anything happens. */
	{
		struct numashadow_migrate_stats a = ns_migrate_stats(&api), b;
		long r;
		if ((r = api.migrate(buf, (size_t)NPAGES * pg, 7,
				     NUMASHADOW_MIGRATE_SYNC)) != -EINVAL)
			t_fail("node 7: %ld, expected -EINVAL", r);
		if ((r = api.migrate(buf, (size_t)NPAGES * pg, -1, 0)) != -EINVAL)
			t_fail("node -1: %ld, expected -EINVAL", r);
		if ((r = api.migrate(buf, (size_t)NPAGES * pg, target, 0x100)) != -EINVAL)
			t_fail("flags 0x100: %ld, expected -EINVAL", r);
		if ((r = api.migrate_stats(NULL)) != -EINVAL)
			t_fail("numashadow_migrate_stats(NULL) = %ld, expected -EINVAL", r);
		b = ns_migrate_stats(&api);
		if (b.moved != a.moved || b.already != a.already || ns_failed(&b) != ns_failed(&a))
			t_fail("a refused call changed the page counts");
		expect_node(buf, NPAGES, 0, "after the refused calls");
	}

	struct numashadow_migrate_stats s = ns_migrate_stats(&api);
	printf("stats: calls %lu moved %lu already %lu failed %lu passes %lu\n",
	       s.calls, s.moved, s.already, ns_failed(&s), s.passes);
	printf("vm_migrate_basic: PASS (%d pages, node 0 <-> %d)\n", NPAGES, target);
	return T_PASS;
}
