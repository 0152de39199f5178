/* SPDX-License-Identifier: MIT */
/*
 * vm_migrate_nodes: numashadow_migrate_nodes() is migrate_pages(2) for
 * this process.  NPAGES pages are written with page i bound to node i % 2
 * and NBY bystander pages with page i bound to node 2 + i % 2; then:
 *
 *   {0,1} -> {2,3}   the pages move to 2 and 3, the bystanders stay;
 *   {2,3} -> {0,1}   everything comes back, bystanders included;
 *   {0,1} -> {1,2}   a chain: node 1's pages go to 2 before node 0's go
 *                    to 1, so none moves twice;
 *   {1,2} -> {1,3}   node 1 keeps its pages, node 2's go to 3;
 *   {1,2} -> {1,2}   nothing moves;
 *
 * and masks of different weight, empty masks, offline nodes and bad
 * flags are refused with -EINVAL, changing nothing.  After each step
 * every page is asked of the kernel (move_pages(2), nodes = NULL), which
 * must place it where the pairing says; numashadow_page_node() must say
 * the same and numashadow_verify() must find nothing.
 *
 * "serve" mode, for `numashadow migrate --from --to` (the CLI case of
 * tests/vm/migrate_nodes.sh): places the pages as above, prints "ready",
 * waits for SIGUSR1, then expects the first step's result.
 */
#include <signal.h>
#include "helpers.h"

#define NPAGES 1024
#define NBY 64

typedef long (*migrate_nodes_fn)(uint64_t, uint64_t, unsigned);

static long pg;
static struct ns_api api;
static migrate_nodes_fn migrate_nodes;
static char *buf, *by;
static int want[NPAGES], want_by[NBY];

/* Each page of [base, base + n pages) on want[i] for the kernel and for
 * numashadow_page_node(). */
static void expect(const char *base, int n, const int *w, const char *when)
{
	int *st = calloc((size_t)n, sizeof(*st));
	int bad = 0, first = -1;

	t_assert(st);
	ns_kernel_nodes(0, base, n, st);
	for (int i = 0; i < n; i++)
		if (st[i] != w[i] && bad++ == 0)
			first = i;
	if (bad)
		t_fail("%s: kernel has %d of %d pages off their node (page %d: %d, "
		       "want %d)", when, bad, n, first, st[first], w[first]);
	for (int i = 0; i < n; i++) {
		int s = api.page_node(base + (long)i * pg);
		if (s != st[i])
			t_fail("%s: numashadow_page_node(page %d) = %d, kernel %d",
			       when, i, s, st[i]);
	}
	free(st);
}

static void expect_all(const char *when)
{
	expect(buf, NPAGES, want, when);
	expect(by, NBY, want_by, when);
	ns_verify_clean(&api, when);
}

/* Binds each page's first touch to node(i). */
static void place(char *base, int n, int first_node)
{
	for (int i = 0; i < n; i++) {
		ns_membind(first_node + i % 2);
		base[(long)i * pg] = (char)(i + 1);
	}
	ns_membind(-1);
}

static char *map_small(int n)
{
	char *p = ns_map_guarded((size_t)n, PROT_READ | PROT_WRITE);

	t_assert(p != MAP_FAILED);
	/* 4 KiB pages only: a huge page would put its 512 on one node. */
	if (madvise(p, (size_t)n * pg, MADV_NOHUGEPAGE))
		t_fail("madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	return p;
}

/* The node each node of from goes to: the i-th of to. */
static int remap(int node, uint64_t from, uint64_t to)
{
	if (!(from >> node & 1))
		return node;
	for (int i = __builtin_popcountll(from & ((1ULL << node) - 1)); i; i--)
		to &= to - 1;
	return __builtin_ctzll(to);
}

/* One call; every page then where the pairing sends it. */
static void step(uint64_t from, uint64_t to, long min_moved, const char *what)
{
	struct numashadow_migrate_stats a = ns_migrate_stats(&api), b;
	long r = migrate_nodes(from, to, NUMASHADOW_MIGRATE_SYNC);

	b = ns_migrate_stats(&api);
	ns_migrate_report(what, r, &a, &b);
	if (r < min_moved)
		t_fail("%s: numashadow_migrate_nodes(%#lx, %#lx) = %ld, expected at "
		       "least %ld", what, (unsigned long)from, (unsigned long)to, r,
		       min_moved);
	if (b.moved - a.moved != (unsigned long)r)
		t_fail("%s: stats count %lu moved, the call returned %ld", what,
		       b.moved - a.moved, r);
	if (from == to && r)
		t_fail("%s: from = to moved %ld pages", what, r);
	if (r && b.passes == a.passes)
		t_fail("%s: pages moved without a move_pages pass", what);
	for (int i = 0; i < NPAGES; i++)
		want[i] = remap(want[i], from, to);
	for (int i = 0; i < NBY; i++)
		want_by[i] = remap(want_by[i], from, to);
	expect_all(what);
}

static void refused(uint64_t from, uint64_t to, unsigned flags, const char *what)
{
	struct numashadow_migrate_stats a = ns_migrate_stats(&api), b;
	long r = migrate_nodes(from, to, flags);

	b = ns_migrate_stats(&api);
	if (r != -EINVAL)
		t_fail("%s: numashadow_migrate_nodes(%#lx, %#lx, %#x) = %ld, expected "
		       "-EINVAL", what, (unsigned long)from, (unsigned long)to, flags, r);
	if (b.calls != a.calls || b.moved != a.moved || b.already != a.already ||
	    ns_failed(&b) != ns_failed(&a))
		t_fail("%s: a refused call changed the counters", what);
}

static void setup(void)
{
	buf = map_small(NPAGES);
	by = map_small(NBY);
	place(buf, NPAGES, 0);
	place(by, NBY, 2);
	for (int i = 0; i < NPAGES; i++)
		want[i] = i % 2;
	for (int i = 0; i < NBY; i++)
		want_by[i] = 2 + i % 2;
	expect_all("after first touch");
}

static void check_content(void)
{
	for (int i = 0; i < NPAGES; i++)
		if (buf[(long)i * pg] != (char)(i + 1))
			t_fail("page %d lost its content", i);
	for (int i = 0; i < NBY; i++)
		if (by[(long)i * pg] != (char)(i + 1))
			t_fail("bystander page %d lost its content", i);
}

/* The CLI moves our pages while we wait for SIGUSR1. */
static int serve(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		t_fail("sigprocmask: %s", strerror(errno));
	setup();
	printf("ready\n");
	fflush(stdout);
	if (sigwait(&set, &sig))
		t_fail("sigwait");
	for (int i = 0; i < NPAGES; i++)
		want[i] = remap(want[i], 0x3, 0xc);
	expect_all("after numashadow migrate --from 0,1 --to 2-3");
	check_content();
	printf("vm_migrate_nodes serve: PASS\n");
	return T_PASS;
}

int main(int argc, char **argv)
{
	ns_test_preload(argv);
	ns_api_need(&api);
	ns_migrate_need(&api);
	migrate_nodes = (migrate_nodes_fn)dlsym(RTLD_DEFAULT, "numashadow_migrate_nodes");
	if (!migrate_nodes)
		t_fail("numashadow_migrate_nodes not exported");
	pg = ns_page();
	ns_need_nodes(3, "tests/vm/migrate_nodes.sh");
	if (argc > 1 && !strcmp(argv[1], "serve"))
		return serve();

	setup();
	step(0x3, 0xc, NPAGES, "{0,1} -> {2,3}");
	step(0xc, 0x3, NPAGES + NBY, "{2,3} -> {0,1}");
	step(0x3, 0x6, NPAGES + NBY, "{0,1} -> {1,2}");
	step(0x6, 0xa, (NPAGES + NBY) / 2, "{1,2} -> {1,3}");
	step(0x6, 0x6, 0, "{1,2} -> {1,2}");

	refused(0x3, 0x4, NUMASHADOW_MIGRATE_SYNC, "weights 2 and 1");
	refused(0, 0, 0, "empty masks");
	refused(0x1, 1ULL << 5, 0, "offline target");
	refused(1ULL << 40, 0x1, 0, "offline source");
	refused(0x1, 0x2, 0x100, "flags 0x100");
	expect_all("after the refused calls");
	check_content();

	struct numashadow_migrate_stats s = ns_migrate_stats(&api);
	printf("stats: calls %lu moved %lu already %lu failed %lu passes %lu\n",
	       s.calls, s.moved, s.already, ns_failed(&s), s.passes);
	printf("vm_migrate_nodes: PASS (%d pages on nodes 0,1 and %d on 2,3)\n",
	       NPAGES, NBY);
	return T_PASS;
}
