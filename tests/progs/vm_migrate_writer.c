/* SPDX-License-Identifier: MIT */
/*
 * vm_migrate_writer: pages move under a running writer without losing a
 * write.  A writer thread sweeps a NPAGES-page buffer, adding 1 to every
 * word, and counts its completed sweeps; word i starts at i.  Meanwhile the
 * main thread migrates the whole buffer ROUNDS times, alternating nodes 1
 * and 0, each time only after the writer finished another sweep.  Every
 * migration must move every page (numashadow_migrate() returns NPAGES and
 * numashadow_migrate_stats() accounts for each page once, none failed).
 * After the writer stops, word i must be i + sweeps, the kernel and
 * numashadow_page_node() must place every page on the last target, and
 * verify must find nothing.  Needs a 2-node guest:
 * tests/vm/migrate_writer.sh runs it.
 */
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include "helpers.h"

#define NPAGES 1024
#define ROUNDS 7	/* odd: the last move ends on node 1, away from the start */

static long pg;
static struct ns_api api;

static volatile uint64_t *buf;
static size_t nwords;
static unsigned long sweeps;	/* completed sweeps (writer stores, main loads) */
static int stop;		/* main tells the writer to stop between sweeps */

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Best effort: a guest with one CPU interleaves the threads instead. */
	sched_setaffinity(0, sizeof(set), &set);
}

static void *writer(void *unused)
{
	(void)unused;
	pin(1);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		for (size_t i = 0; i < nwords; i++)
			buf[i]++;
		__atomic_store_n(&sweeps, sweeps + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long seen = 0;
	pthread_t th;
	int target = 0;

	(void)argc;
	ns_test_preload(argv);
	ns_api_need(&api);
	ns_migrate_need(&api);
	pg = ns_page();
	ns_need_nodes(1, "tests/vm/migrate_writer.sh");

	pin(0);
	buf = (volatile uint64_t *)ns_map_guarded(NPAGES, PROT_READ | PROT_WRITE);
	t_assert(buf != MAP_FAILED);
	nwords = (size_t)NPAGES * pg / sizeof(*buf);
	ns_membind(0);
	for (size_t i = 0; i < nwords; i++)
		buf[i] = i;
	ns_membind(-1);
	if (pthread_create(&th, NULL, writer, NULL))
		t_fail("pthread_create failed");

	for (int k = 0; k < ROUNDS; k++) {
		/* The writer has written every page since the last move. */
		while (__atomic_load_n(&sweeps, __ATOMIC_ACQUIRE) == seen)
			sched_yield();
		seen = __atomic_load_n(&sweeps, __ATOMIC_ACQUIRE);
		target = k % 2 == 0 ? 1 : 0;

		struct numashadow_migrate_stats a = ns_migrate_stats(&api), b;
		long r = api.migrate((void *)buf, (size_t)NPAGES * pg, target,
				 NUMASHADOW_MIGRATE_SYNC);
		b = ns_migrate_stats(&api);
		fprintf(stderr, "round %d to node %d after %lu sweeps: returned %ld; "
			"moved %lu, already %lu, failed %lu (busy %lu), passes %lu\n",
			k, target, seen, r, b.moved - a.moved, b.already - a.already,
			ns_failed(&b) - ns_failed(&a), b.failed_busy - a.failed_busy,
			b.passes - a.passes);
		if (r < 0)
			t_fail("round %d: numashadow_migrate() = %ld", k, r);
		if (b.moved - a.moved != (unsigned long)r)
			t_fail("round %d: stats count %lu moved, the call returned %ld",
			       k, b.moved - a.moved, r);
		if (b.moved - a.moved + b.already - a.already +
		    ns_failed(&b) - ns_failed(&a) != NPAGES)
			t_fail("round %d: stats account for %lu pages, not %d", k,
			       b.moved - a.moved + b.already - a.already +
			       ns_failed(&b) - ns_failed(&a), NPAGES);
		if (r != NPAGES)
			t_fail("round %d: %ld of %d pages moved under the writer", k,
			       r, NPAGES);
	}
	/* One more sweep after the last move, then stop. */
	while (__atomic_load_n(&sweeps, __ATOMIC_ACQUIRE) == seen)
		sched_yield();
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);

	unsigned long lost = 0, first = 0;
	for (size_t i = 0; i < nwords; i++)
		if (buf[i] != i + sweeps && lost++ == 0)
			first = i;
	if (lost)
		t_fail("%lu words lost writes: word %lu = %lu, expected %lu + %lu sweeps",
		       lost, first, (unsigned long)buf[first], first, sweeps);

	int *st = calloc(NPAGES, sizeof(*st));
	t_assert(st);
	ns_kernel_nodes(0, (char *)buf, NPAGES, st);
	for (int i = 0; i < NPAGES; i++) {
		int s = api.page_node((char *)buf + (long)i * pg);
		if (st[i] != target || s != target)
			t_fail("page %d: kernel node %d, shadow %d, the last move put "
			       "it on %d", i, st[i], s, target);
	}
	ns_verify_clean(&api, "at the end");
	printf("vm_migrate_writer: PASS (%d moves of %d pages under %lu sweeps, "
	       "no write lost, on node %d)\n", ROUNDS, NPAGES, sweeps, target);
	return T_PASS;
}
