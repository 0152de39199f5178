/* SPDX-License-Identifier: MIT */
/*
 * signal_in_hook: a signal handler that first-touches a page the monitor
 * places, arriving while its thread is inside a hook, does not hang the
 * process.  Under NUMASHADOW_POLICY=localalloc with every region the
 * monitor's (NUMASHADOW_MONITOR_FROM=0), the main thread maps and unmaps
 * small regions in a loop - each call edits the monitor's region table -
 * while an interval timer fires SIGALRM every 100 us, whose handler writes
 * the next untouched page of a 64 MiB placed region.  A handler that
 * interrupts a table edit faults while its own thread holds the table's
 * lock, and the fault waits for the monitor, whose lookup of that page
 * needs the lock: the monitor gives up on the lookup and serves the page
 * without a policy.  The loop runs 2 s; then every page a handler wrote
 * holds what it wrote, and verify finds nothing.
 */
#include <signal.h>
#include <sys/time.h>
#include <time.h>
#include "helpers.h"

#define REGION (64L << 20)

static char *region;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static volatile long next, pg;

static void on_alarm(int sig)
{
	(void)sig;
	if (next < REGION / pg) {
		region[next * pg] = (char)(next * 7 + 1);
		next++;
	}
}

int main(int argc, char **argv)
{
	struct ns_api api;
	struct itimerval it = { { 0, 100 }, { 0, 100 } };
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };

	(void)argc;
	setenv("NUMASHADOW_POLICY", "localalloc", 1);
	setenv("NUMASHADOW_MONITOR_FROM", "0", 1);
	ns_test_preload(argv);
	ns_api_need(&api);
	pg = sysconf(_SC_PAGESIZE);
	region = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t_assert(region != MAP_FAILED);
	t_assert(sigaction(SIGALRM, &sa, NULL) == 0);
	t_assert(setitimer(ITIMER_REAL, &it, NULL) == 0);
	long calls = 0;
	for (double t0 = now(); now() - t0 < 2.0; calls++) {
		void *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		t_assert(p != MAP_FAILED);
		t_assert(munmap(p, 4 * pg) == 0);
	}
	memset(&it, 0, sizeof(it));
	t_assert(setitimer(ITIMER_REAL, &it, NULL) == 0);
	for (long i = 0; i < next; i++)
		if (region[i * pg] != (char)(i * 7 + 1))
			t_fail("page %ld lost what the handler wrote", i);
	ns_verify_clean(&api, "after the loop");
	printf("signal_in_hook: ok (%ld mmap+munmap pairs, %ld pages written by handlers)\n",
	       calls, (long)next);
	return 0;
}
