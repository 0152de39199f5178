/* SPDX-License-Identifier: MIT */
/*
 * workload: a small NUMA workload for the demo and the VM tests.
 *
 * Pins itself to CPU 0, first-touches SIZE MiB (default 32) so the pages
 * land on that CPU's node, then sweeps the buffer for SECONDS (default 2),
 * summing it and rewriting it, and prints the final checksum.  It knows
 * nothing of numashadow; run it under `numashadow run --migrate-after`
 * and the pages move while it works, with the same result.
 *
 * Usage: workload [SIZE_MIB [SECONDS]]
 */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 32;
	double secs = argc > 2 ? strtod(argv[2], NULL) : 2.0;
	size_t n = mib << 20 >> 3;
	cpu_set_t cpus;
	uint64_t *buf, sum = 0, sweeps = 0;

	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	buf = mmap(NULL, n * 8, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("workload: mmap");
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		buf[i] = i;
	/* Each sweep adds 1 to every word: the result depends only on the
	 * number of sweeps, so a lost write would show. */
	for (double end = now() + secs; now() < end; sweeps++)
		for (size_t i = 0; i < n; i++)
			buf[i]++;
	for (size_t i = 0; i < n; i++)
		sum += buf[i] - i;
	printf("workload: %zu MiB, %lu sweeps, %s\n", mib,
	       (unsigned long)sweeps,
	       sum == sweeps * n ? "checksum ok" : "CHECKSUM WRONG");
	return sum == sweeps * n ? 0 : 1;
}
