/* SPDX-License-Identifier: MIT */
/*
 * vm_topology: numashadow_migrate() moves pages to a memory-only node, the
 * way CXL memory appears (a NUMA node with memory and no CPUs).  The node
 * (argument, default 2) must have memory and no CPUs for libnuma too, and
 * this thread must run elsewhere.  NPAGES pages are written while the
 * thread is bound to node 0 (MPOL_BIND), moved with NUMASHADOW_MIGRATE_SYNC
 * to the memory-only node, then to node 1.  After each step every page must
 * be on the expected node for the kernel (move_pages(2) with nodes = NULL)
 * and for numashadow_page_node(), every page must have been moved and none
 * failed (return value and numashadow_migrate_stats()), and
 * numashadow_verify() must find nothing.  Needs a guest whose node 2 has
 * memory only: tests/vm/topology.sh runs it.
 */
#include <numa.h>
#include <numaif.h>
#include "helpers.h"

#define NPAGES 2048

static struct ns_api api;

int main(int argc, char **argv)
{
	int memonly = argc > 1 ? atoi(argv[1]) : 2;
	long pg, cpus = 0;
	struct bitmask *mask;
	long long size, free_b;
	int cpu, i;
	char *buf;

	ns_test_preload(argv);
	ns_api_need(&api);
	ns_migrate_need(&api);
	ns_need_nodes(memonly, "tests/vm/topology.sh");
	pg = ns_page();

	/* libnuma's view (numactl -H's): memory, no CPUs, not ours. */
	mask = numa_allocate_cpumask();
	t_assert(mask);
	if (numa_node_to_cpus(memonly, mask))
		t_fail("numa_node_to_cpus(%d): %s", memonly, strerror(errno));
	for (i = 0; i < (int)mask->size; i++)
		cpus += numa_bitmask_isbitset(mask, i);
	numa_free_cpumask(mask);
	if (cpus)
		t_fail("node %d has %ld CPUs; expected memory only", memonly, cpus);
	size = numa_node_size64(memonly, &free_b);
	if (size <= 0 || free_b < (long long)NPAGES * pg)
		t_fail("node %d: size %lld, free %lld; expected memory for %d pages",
		       memonly, size, free_b, NPAGES);
	cpu = sched_getcpu();
	if (cpu < 0 || numa_node_of_cpu(cpu) == memonly)
		t_fail("running on CPU %d of node %d", cpu,
		       cpu < 0 ? -1 : numa_node_of_cpu(cpu));
	fprintf(stderr, "node %d: %lld MiB, %lld MiB free, no CPUs; running on "
		"CPU %d of node %d\n", memonly, size >> 20, free_b >> 20, cpu,
		numa_node_of_cpu(cpu));

	buf = ns_map_guarded(NPAGES, PROT_READ | PROT_WRITE);
	t_assert(buf != MAP_FAILED);
	ns_membind(0);
	for (i = 0; i < NPAGES; i++)
		buf[(long)i * pg] = (char)(i + 1);
	ns_membind(-1);
	ns_expect_on_node(&api, buf, NPAGES, 0, "after the touch on node 0");
	ns_verify_clean(&api, "after the touch on node 0");

	ns_migrate_expect_all(&api, "to the memory-only node", buf, NPAGES,
			      memonly, NUMASHADOW_MIGRATE_SYNC);
	ns_expect_on_node(&api, buf, NPAGES, memonly, "after the move to the memory-only node");
	ns_verify_clean(&api, "after the move to the memory-only node");

	ns_migrate_expect_all(&api, "from the memory-only node to node 1", buf,
			      NPAGES, 1, NUMASHADOW_MIGRATE_SYNC);
	ns_expect_on_node(&api, buf, NPAGES, 1, "after the move to node 1");
	ns_verify_clean(&api, "after the move to node 1");

	for (i = 0; i < NPAGES; i++)
		if (buf[(long)i * pg] != (char)(i + 1))
			t_fail("page %d lost its contents on the way", i);
	printf("vm_topology: PASS (%d pages, node 0 -> %d (memory only) -> 1)\n",
	       NPAGES, memonly);
	return T_PASS;
}
