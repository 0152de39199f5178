/* SPDX-License-Identifier: MIT */
/*
 * triad: a STREAM-like triad, a[i] = b[i] + s * c[i], over one thread per
 * NUMA node, each pinned to its node and working on its own slice of the
 * three shared arrays (MIB MiB of each array per thread).
 *
 * The arrays are first written by the main thread alone, pinned to the
 * first node: a serial initialisation, the common mistake that puts every
 * page on one node under first touch.  What a policy makes of that is the
 * point: interleaving spreads the pages, balancing and next-touch move the
 * ones the threads write (a[] only; b[] and c[] are only read, and neither
 * sees reads).  With --next-touch the main thread arms numashadow's
 * next-touch over the three arrays after the initialisation.
 *
 * Then the threads run triads over their slices for SECONDS.  Printed
 * (numa.h): each thread's share of its slices' pages on its own node at the
 * end, pages migrated, numashadow's CPU time, and the bandwidth in MB/s
 * (24 bytes per element, as STREAM counts): a time, for real NUMA hardware
 * only.
 *
 *   triad [--next-touch] [--mempolicy local|interleave] MIB SECONDS
 */
#include "numa.h"

static struct numa_run run = { .name = "triad" };
static double *a, *b, *c;
static size_t per;		/* elements per thread */
static atomic_int stop;
static pthread_barrier_t ready;
static uint64_t done[NUMA_MAX_NODES];	/* elements computed */

static void *worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	size_t lo = (size_t)t * per, hi = lo + per;
	const double s = 3.0;
	uint64_t n = 0;

	numa_pin(&run, t);
	pthread_barrier_wait(&ready);	/* pinned; wait for the arrays */
	pthread_barrier_wait(&ready);	/* initialised (and armed) */
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (size_t i = lo; i < hi; i++)
			a[i] = b[i] + s * c[i];
		n += per;
	}
	done[t] = n;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NUMA_MAX_NODES];
	double mib, secs;

	if (!numa_topology(&run)) {
		fprintf(stderr, "triad: no node with CPUs in /sys/devices/system/node\n");
		return 1;
	}
	if (numa_args(&run, argc, argv, &mib, &secs))
		return 2;
	numa_pin(&run, 0);
	per = ((size_t)(mib * (1 << 20)) / (size_t)run.pg) * (size_t)run.pg / sizeof(double);
	size_t len = per * sizeof(double) * (size_t)run.nthreads;
	if (!(a = numa_map("triad", len)) || !(b = numa_map("triad", len)) ||
	    !(c = numa_map("triad", len)))
		return 1;
	numa_header(&run, 3 * len / (size_t)run.pg);
	pthread_barrier_init(&ready, NULL, (unsigned)run.nthreads + 1);
	for (int t = 0; t < run.nthreads; t++)
		if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t)) {
			fprintf(stderr, "triad: pthread_create failed\n");
			return 1;
		}
	pthread_barrier_wait(&ready);
	for (size_t i = 0; i < per * (size_t)run.nthreads; i++) {
		a[i] = 0;
		b[i] = 1;
		c[i] = 2;
	}
	if (numa_arm(&run, a, len) || numa_arm(&run, b, len) || numa_arm(&run, c, len))
		return 1;
	numa_timed_start(&run);
	pthread_barrier_wait(&ready);
	numa_sleep_until(run.t0 + (uint64_t)(secs * 1e9));
	atomic_store(&stop, 1);
	for (int t = 0; t < run.nthreads; t++)
		pthread_join(th[t], NULL);
	uint64_t wall = numa_timed_end(&run);

	uint64_t elems = 0;
	for (int t = 0; t < run.nthreads; t++) {
		size_t off = (size_t)t * per * sizeof(double);
		size_t slice = per * sizeof(double);
		/* One line per array; the driver sums a thread's lines. */
		if (numa_share(&run, 0, t, (char *)a + off, slice, "a") ||
		    numa_share(&run, 0, t, (char *)b + off, slice, "b") ||
		    numa_share(&run, 0, t, (char *)c + off, slice, "c"))
			return 1;
		elems += done[t];
	}
	numa_migrated(&run, 0);
	printf("rate %.1f MB/s\n", 24.0 * (double)elems / ((double)wall / 1e9) / 1e6);
	/* Every element must hold 1 + 3 * 2 once written, 0 if never. */
	for (size_t i = 0; i < per * (size_t)run.nthreads; i++)
		if (a[i] != 7.0 && a[i] != 0.0) {
			fprintf(stderr, "triad: a[%zu] = %g, expected 7\n", i, a[i]);
			return 1;
		}
	return 0;
}
