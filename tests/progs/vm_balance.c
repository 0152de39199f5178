/* SPDX-License-Identifier: MIT */
/*
 * vm_balance: hot-page balancing moves pages to the node whose threads
 * write them, and leaves them there while that stays so.  Run under
 * `numashadow run --balance` in the 2-node guest.  Phase 1: a thread on
 * CPU 0 (node 0) first-touches and keeps writing 512 pages.  Phase 2: a
 * thread on CPU 1 (node 1) writes them until at least 90% sit on node 1
 * (kernel move_pages query; given up after 30 s - a failure, not a skip).
 * Phase 3, steady: the same writer goes on for 2 s more, and no page may
 * go back to node 0.  The shadow must agree (numashadow_page_node) and
 * verify must find nothing.  The caller checks the runtime's report for
 * the balancing counters.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include "helpers.h"

#define PAGES 512

static char *buf;
static long pg;
static atomic_int phase, stop;

static void *writer(void *arg)
{
	int cpu = (int)(intptr_t)arg;

	ns_pin_cpu(cpu);
	while (!atomic_load(&stop) && atomic_load(&phase) == cpu + 1)
		for (int i = 0; i < PAGES; i++)
			buf[i * pg]++;
	return NULL;
}

static int on_node(int node)
{
	int n = 0;

	for (int i = 0; i < PAGES; i++)
		n += ns_kernel_node(buf + i * pg) == node;
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&t, NULL);
}

int main(int argc, char **argv)
{
	struct ns_api api;
	pthread_t t0, t1;

	(void)argc;
	if (ns_api_get(&api))
		t_fail("run me under numashadow --balance (%s)", argv[0]);
	pg = sysconf(_SC_PAGESIZE);
	buf = mmap(NULL, PAGES * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		t_fail("mmap: %s", strerror(errno));
	madvise(buf, PAGES * pg, MADV_NOHUGEPAGE);	/* page-sized moves */

	atomic_store(&phase, 1);
	pthread_create(&t0, NULL, writer, (void *)0);
	sleep_ms(1000);
	int n0 = on_node(0);
	if (n0 != PAGES)
		t_fail("phase 1: %d of %d pages on node 0 (test premise)", n0, PAGES);

	atomic_store(&phase, 2);
	pthread_join(t0, NULL);
	pthread_create(&t1, NULL, writer, (void *)1);
	int n1 = 0;
	for (int waited = 0; waited < 30000 && (n1 = on_node(1)) < PAGES * 9 / 10;
	     waited += 500)
		sleep_ms(500);
	if (n1 < PAGES * 9 / 10)
		t_fail("phase 2: only %d of %d pages moved to the writer's node", n1, PAGES);

	/* Steady: nothing may go back. */
	sleep_ms(2000);
	int back = on_node(0);
	atomic_store(&stop, 1);
	pthread_join(t1, NULL);
	if (back > PAGES - n1)
		t_fail("phase 3: %d pages went back to node 0 (ping-pong)", back - (PAGES - n1));
	int bad = 0;
	for (int i = 0; i < PAGES; i++) {
		void *p = buf + i * pg;
		int st = ns_kernel_node(p);
		if (api.page_node(p) != st && bad++ < 5)
			fprintf(stderr, "page %d: kernel node %d, shadow %d\n", i, st,
				api.page_node(p));
	}
	if (bad)
		t_fail("%d pages: shadow node differs from the kernel's", bad);
	int d = api.verify();
	if (d)
		t_fail("numashadow_verify() = %d", d);
	printf("vm_balance: PASS (%d of %d pages followed their writer to node 1, none went back)\n",
	       on_node(1), PAGES);
	return 0;
}
