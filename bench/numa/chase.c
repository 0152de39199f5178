/* SPDX-License-Identifier: MIT */
/*
 * chase: a random pointer chase, one thread per NUMA node, each pinned to
 * its node and following a ring of its own (MIB MiB of 64-byte cells, in
 * a random cyclic order: Sattolo's shuffle, a fixed seed per thread).
 *
 * Each thread builds its own ring, so first touch already puts every page
 * where it is used: the workload asks what a policy does to memory that
 * was placed right.  Interleaving spreads it over every node; balancing
 * and next-touch must leave it alone, and can only, since the chase only
 * reads (neither sees reads).  With --next-touch the main thread arms
 * numashadow's next-touch over every ring once they are built.
 *
 * Then the threads chase for SECONDS.  Printed (numa.h): each thread's
 * share of its ring's pages on its own node at the end, pages migrated,
 * numashadow's CPU time, and the mean latency of a hop in ns (a time, for
 * real NUMA hardware only).
 *
 *   chase [--next-touch] [--mempolicy local|interleave] MIB SECONDS
 */
#include "numa.h"

#define CELL	64	/* bytes: one cache line per hop */
#define BATCH	1024	/* hops between looks at the stop flag */

struct cell {
	struct cell *next;
	char pad[CELL - sizeof(struct cell *)];
};

static struct numa_run run = { .name = "chase" };
static struct cell *ring[NUMA_MAX_NODES];
static size_t ncells;
static atomic_int stop;
static pthread_barrier_t ready;
static uint64_t hops[NUMA_MAX_NODES];
static void *volatile sink;

/* xorshift64*: a fixed sequence per seed. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* Links ring r into one cycle through every cell, in random order
 * (Sattolo: a random cyclic permutation); 0 or -1. */
static int build(struct cell *r, uint64_t seed)
{
	uint32_t *perm = malloc(ncells * sizeof(*perm));

	if (!perm)
		return -1;
	for (size_t i = 0; i < ncells; i++)
		perm[i] = (uint32_t)i;
	for (size_t i = ncells - 1; i > 0; i--) {
		size_t j = rnd(&seed) % i;
		uint32_t x = perm[i];
		perm[i] = perm[j];
		perm[j] = x;
	}
	for (size_t i = 0; i < ncells; i++)
		r[i].next = &r[perm[i]];
	free(perm);
	return 0;
}

static void *worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	struct cell *p;
	uint64_t n = 0;

	numa_pin(&run, t);
	pthread_barrier_wait(&ready);	/* pinned */
	if (build(ring[t], 0x9e3779b97f4a7c15ULL * (uint64_t)(t + 1))) {
		fprintf(stderr, "chase: no memory for the shuffle\n");
		exit(1);
	}
	pthread_barrier_wait(&ready);	/* every ring built */
	pthread_barrier_wait(&ready);	/* armed: go */
	p = ring[t];
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int i = 0; i < BATCH; i++)
			p = p->next;
		n += BATCH;
	}
	sink = p;
	hops[t] = n;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NUMA_MAX_NODES];
	double mib, secs;

	if (!numa_topology(&run)) {
		fprintf(stderr, "chase: no node with CPUs in /sys/devices/system/node\n");
		return 1;
	}
	if (numa_args(&run, argc, argv, &mib, &secs))
		return 2;
	numa_pin(&run, 0);
	size_t len = (size_t)(mib * (1 << 20)) / (size_t)run.pg * (size_t)run.pg;
	ncells = len / CELL;
	for (int t = 0; t < run.nthreads; t++)
		if (!(ring[t] = numa_map("chase", len)))
			return 1;
	numa_header(&run, (size_t)run.nthreads * len / (size_t)run.pg);
	pthread_barrier_init(&ready, NULL, (unsigned)run.nthreads + 1);
	for (int t = 0; t < run.nthreads; t++)
		if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t)) {
			fprintf(stderr, "chase: pthread_create failed\n");
			return 1;
		}
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&ready);
	for (int t = 0; t < run.nthreads; t++)
		if (numa_arm(&run, ring[t], len))
			return 1;
	numa_timed_start(&run);
	pthread_barrier_wait(&ready);
	numa_sleep_until(run.t0 + (uint64_t)(secs * 1e9));
	atomic_store(&stop, 1);
	for (int t = 0; t < run.nthreads; t++)
		pthread_join(th[t], NULL);
	uint64_t wall = numa_timed_end(&run);

	double ns_hop = 0;
	for (int t = 0; t < run.nthreads; t++) {
		if (numa_share(&run, 0, t, ring[t], len, "ring"))
			return 1;
		ns_hop += hops[t] ? (double)wall / (double)hops[t] / run.nthreads : 0;
	}
	numa_migrated(&run, 0);
	printf("rate %.1f ns/hop\n", ns_hop);
	return 0;
}
