/* SPDX-License-Identifier: MIT */
/*
 * phase: a program whose hot set moves between threads.  One thread per
 * NUMA node, each pinned to its node; an array of one block per thread
 * (MIB MiB each).  In phase k thread t reads and writes block
 * (t + k) mod T, pass after pass, for SECONDS; then every thread waits at
 * a barrier and the next phase begins, PHASES in all.
 *
 * Before phase 0 each thread first touches its own block, so first touch
 * puts it right for phase 0; from phase 1 on every block is worked by a thread on another
 * node than the one that touched it: what first touch got right becomes
 * wrong at each phase change.  Balancing moves a block after the new
 * writer's writes are sampled; with --next-touch the main thread arms
 * numashadow's next-touch over the whole array at each phase change, so
 * each page moves at its next write.
 *
 * Printed (numa.h) at the end of each phase k: each thread's share of its
 * current block's pages on its own node, and pages migrated so far; at
 * the end numashadow's CPU time and the rate of updates in millions of
 * 8-byte words a second (a time, for real NUMA hardware only).
 *
 *   phase [--next-touch] [--mempolicy local|interleave] MIB SECONDS
 */
#include "numa.h"

#define PHASES	3

static struct numa_run run = { .name = "phase" };
static uint64_t *arr;
static size_t per;		/* words per block */
static atomic_int stop;		/* ends the current phase */
static pthread_barrier_t ready;
static uint64_t words[NUMA_MAX_NODES];

static uint64_t *block(int t, int k)
{
	return arr + (size_t)((t + k) % run.nthreads) * per;
}

static void *worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint64_t n = 0;

	numa_pin(&run, t);
	pthread_barrier_wait(&ready);	/* pinned */
	for (size_t i = 0; i < per; i++)	/* first touch, before the */
		block(t, 0)[i] = i;		/* timed part */
	pthread_barrier_wait(&ready);
	for (int k = 0; k < PHASES; k++) {
		pthread_barrier_wait(&ready);	/* phase k begins */
		uint64_t *b = block(t, k);
		while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
			for (size_t i = 0; i < per; i++)
				b[i] = b[i] * 3 + 1;
			n += per;
		}
		pthread_barrier_wait(&ready);	/* phase k ended */
	}
	words[t] = n;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NUMA_MAX_NODES];
	double mib, secs;

	if (!numa_topology(&run)) {
		fprintf(stderr, "phase: no node with CPUs in /sys/devices/system/node\n");
		return 1;
	}
	if (numa_args(&run, argc, argv, &mib, &secs))
		return 2;
	numa_pin(&run, 0);
	size_t blen = (size_t)(mib * (1 << 20)) / (size_t)run.pg * (size_t)run.pg;
	size_t len = blen * (size_t)run.nthreads;
	per = blen / sizeof(uint64_t);
	if (!(arr = numa_map("phase", len)))
		return 1;
	numa_header(&run, len / (size_t)run.pg);
	pthread_barrier_init(&ready, NULL, (unsigned)run.nthreads + 1);
	for (int t = 0; t < run.nthreads; t++)
		if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t)) {
			fprintf(stderr, "phase: pthread_create failed\n");
			return 1;
		}
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&ready);	/* every block first touched */
	numa_timed_start(&run);
	for (int k = 0; k < PHASES; k++) {
		/* Phase 0 works where the first touch put the pages; every
		 * later phase gives the blocks to other threads. */
		if (k > 0 && numa_arm(&run, arr, len))
			return 1;
		atomic_store(&stop, 0);
		pthread_barrier_wait(&ready);
		numa_sleep_until(numa_now_ns() + (uint64_t)(secs * 1e9));
		atomic_store(&stop, 1);
		pthread_barrier_wait(&ready);
		for (int t = 0; t < run.nthreads; t++)
			if (numa_share(&run, k, t, block(t, k), blen, "block"))
				return 1;
		numa_migrated(&run, k);
	}
	for (int t = 0; t < run.nthreads; t++)
		pthread_join(th[t], NULL);
	uint64_t wall = numa_timed_end(&run);

	uint64_t total = 0;
	for (int t = 0; t < run.nthreads; t++)
		total += words[t];
	printf("rate %.2f Mupd/s\n", (double)total / ((double)wall / 1e9) / 1e6);
	return 0;
}
