/* SPDX-License-Identifier: MIT */
/*
 * vm_migrate_pinned: a page the kernel cannot move does not make the
 * migration misreport the pages it did move.  NPAGES pages are written on
 * node 0 and one of them (PINNED) is spliced into a pipe with vmsplice(2):
 * the pipe holds a reference, so the kernel's migration gives up on that
 * page after its retries.  Linux 6.1's move_pages(2) then returns a
 * positive count and stops: the per-page status of the batch that failed
 * and of every page after it is left unwritten, and a page already on the
 * target flushes the batch before it, so each later call stops again at
 * the pinned page.  numashadow_migrate(..., 1, SYNC) must still return the
 * pages that moved (all but the pinned one), count the pinned one alone as
 * failed, and the kernel, numashadow_page_node() and verify must agree on
 * every page: the pinned page on node 0, the others on node 1.  Once the
 * pipe is drained the page moves too.  Needs a 2-node guest:
 * tests/vm/migrate_pinned.sh runs it.
 */
#include <numa.h>
#include <numaif.h>
#include <sys/uio.h>
#include "helpers.h"

#define NPAGES 64
#define PINNED 10

static long pg;
static struct ns_api api;

/* Page i must be on node want(i) for the kernel and for the shadow. */
static void expect(char *buf, int pinned_node, int others, const char *when)
{
	int st[NPAGES], bad = 0;

	ns_kernel_nodes(0, buf, NPAGES, st);
	for (int i = 0; i < NPAGES; i++) {
		int want = i == PINNED ? pinned_node : others;
		int s = api.page_node(buf + (long)i * pg);
		/* The first few differences tell the story. */
		if (s != st[i] && bad++ < 4)
			fprintf(stderr, "%s: page %d: numashadow_page_node() = %d, "
				"kernel %d\n", when, i, s, st[i]);
		else if (s == st[i] && st[i] != want && bad++ < 4)
			fprintf(stderr, "%s: page %d on node %d, expected %d\n", when,
				i, st[i], want);
	}
	if (bad)
		t_fail("%s: %d pages wrong", when, bad);
	ns_verify_clean(&api, when);
}

int main(int argc, char **argv)
{
	struct numashadow_migrate_stats s0, s1;
	int p[2];
	char *buf, drain[4096];
	long r;

	(void)argc;
	ns_test_preload(argv);
	ns_api_need(&api);
	ns_migrate_need(&api);
	pg = ns_page();
	ns_need_nodes(1, "tests/vm/migrate_pinned.sh");
	t_assert(pg <= (long)sizeof(drain));

	buf = ns_map_guarded(NPAGES, PROT_READ | PROT_WRITE);
	t_assert(buf != MAP_FAILED);
	ns_membind(0);
	for (int i = 0; i < NPAGES; i++)
		memset(buf + (long)i * pg, i + 1, (size_t)pg);
	ns_membind(-1);
	expect(buf, 0, 0, "after first touch");

	/* The pipe keeps a reference to the page until it is read. */
	struct iovec iov = { buf + (long)PINNED * pg, (size_t)pg };
	if (pipe(p) || vmsplice(p[1], &iov, 1, 0) != pg)
		t_fail("vmsplice: %s", strerror(errno));

	s0 = ns_migrate_stats(&api);
	r = api.migrate(buf, (size_t)NPAGES * pg, 1, NUMASHADOW_MIGRATE_SYNC);
	s1 = ns_migrate_stats(&api);
	fprintf(stderr, "pinned: returned %ld; moved %lu, failed %lu (busy %lu, "
		"other %lu), passes %lu\n", r, s1.moved - s0.moved,
		ns_failed(&s1) - ns_failed(&s0), s1.failed_busy - s0.failed_busy,
		s1.failed_other - s0.failed_other, s1.passes - s0.passes);
	expect(buf, 0, 1, "after the move with one page pinned");
	if (r != NPAGES - 1 || s1.moved - s0.moved != NPAGES - 1 ||
	    ns_failed(&s1) - ns_failed(&s0) != 1)
		t_fail("returned %ld, stats moved %lu, failed %lu; expected %d, %d, 1",
		       r, s1.moved - s0.moved, ns_failed(&s1) - ns_failed(&s0),
		       NPAGES - 1, NPAGES - 1);

	if (read(p[0], drain, (size_t)pg) != pg)
		t_fail("reading the pipe: %s", strerror(errno));
	s0 = ns_migrate_stats(&api);
	r = api.migrate(buf, (size_t)NPAGES * pg, 1, NUMASHADOW_MIGRATE_SYNC);
	s1 = ns_migrate_stats(&api);
	if (r != 1 || s1.already - s0.already != NPAGES - 1 ||
	    ns_failed(&s1) != ns_failed(&s0))
		t_fail("after the pipe was drained: returned %ld, already %lu, failed "
		       "%lu; expected 1, %d, 0", r, s1.already - s0.already,
		       ns_failed(&s1) - ns_failed(&s0), NPAGES - 1);
	expect(buf, 1, 1, "after the pipe was drained");
	for (int i = 0; i < NPAGES; i++)
		if (buf[(long)i * pg] != (char)(i + 1) || buf[(long)i * pg + pg - 1] != (char)(i + 1))
			t_fail("page %d lost its content", i);
	printf("vm_migrate_pinned: PASS\n");
	return T_PASS;
}
