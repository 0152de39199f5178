/* SPDX-License-Identifier: MIT */
/*
 * vm_trace: what the trace says happened, against what the kernel says
 * happened, in a 2-node guest (tests/vm/trace.sh).  Under a placement policy
 * it first touches every page of a 64-page region and asks the kernel
 * (move_pages) where each page is; then moves the region to node 1 with
 * numashadow_migrate() and asks again: every page must be on node 1 and
 * the call must have moved exactly the pages that were elsewhere.  One line
 * on stdout per fact, for the script to hold the trace's FAULT and MIGRATE
 * records against:
 *
 *   placed PID ADDR LEN NODE0_PAGES NODE1_PAGES
 *   moved PID ADDR LEN NODE PAGES
 */
#include "helpers.h"

#define PAGES 64

int main(int argc, char **argv)
{
	struct ns_api api;
	long pg = ns_page(), c[2], r;
	int st[PAGES];

	(void)argc;
	ns_test_preload(argv);
	ns_api_need(&api);
	ns_migrate_need(&api);
	ns_need_nodes(1, "tests/vm/trace.sh");
	char *p = mmap(NULL, PAGES * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		t_fail("mmap: %s", strerror(errno));
	for (int i = 0; i < PAGES; i++)
		p[i * pg] = (char)(i | 1);
	ns_kernel_nodes(0, p, PAGES, st);
	ns_count_nodes01(st, PAGES, c);
	if (c[0] + c[1] != PAGES)
		t_fail("%ld of %d pages on neither node", PAGES - c[0] - c[1], PAGES);
	printf("placed %d %p %ld %ld %ld\n", (int)getpid(), (void *)p, PAGES * pg, c[0], c[1]);

	r = api.migrate(p, (size_t)(PAGES * pg), 1, NUMASHADOW_MIGRATE_SYNC);
	ns_kernel_nodes(0, p, PAGES, st);
	for (int i = 0; i < PAGES; i++)
		if (st[i] != 1)
			t_fail("page %d on node %d after the migration to node 1", i, st[i]);
	if (r != c[0])
		t_fail("numashadow_migrate() = %ld; %ld pages were on node 0", r, c[0]);
	printf("moved %d %p %ld 1 %ld\n", (int)getpid(), (void *)p, PAGES * pg, r);
	for (int i = 0; i < PAGES; i++)
		if (p[i * pg] != (char)(i | 1))
			t_fail("page %d lost its contents", i);
	return 0;
}
