/* SPDX-License-Identifier: MIT */
/*
 * vm_next_touch: next-touch moves a page to the node of the thread that
 * next writes it, and only on a write.  Phase 1: the main thread, pinned to
 * CPU 0 (node 0), writes 512 pages.  numashadow_next_touch() arms them.
 * Phase 2: a thread pinned to CPU 1 (node 1) writes the first half and
 * only reads the second.  The kernel (move_pages query) must show the
 * written half on node 1 and the read half still on node 0, the shadow
 * must agree (numashadow_page_node) and verify must find nothing.  With
 * "cli" as argument, arming is left to `numashadow run --next-touch-at`
 * (NUMASHADOW_NEXT_TOUCH_AT, set by the caller) and phase 2 waits for it.
 * Runs in the 2-node guest.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include "helpers.h"

#define PAGES 512

static char *buf;
static long pg;

static void *phase2(void *unused)
{
	volatile char sink = 0;

	(void)unused;
	ns_pin_cpu(1);
	for (int i = 0; i < PAGES / 2; i++)
		buf[i * pg] = 2;		/* written: moves */
	for (int i = PAGES / 2; i < PAGES; i++)
		sink += buf[i * pg];		/* read: stays */
	(void)sink;
	return NULL;
}

int main(int argc, char **argv)
{
	int (*next_touch)(void *, size_t);
	struct ns_api api;
	pthread_t th;
	int cli = argc > 1 && !strcmp(argv[1], "cli");

	if (ns_api_get(&api))
		t_fail("run me under numashadow (numashadow run -- %s)", argv[0]);
	next_touch = (int (*)(void *, size_t))dlsym(RTLD_DEFAULT, "numashadow_next_touch");
	if (!next_touch)
		t_fail("numashadow_next_touch not exported");
	pg = sysconf(_SC_PAGESIZE);
	ns_pin_cpu(0);
	buf = mmap(NULL, PAGES * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		t_fail("mmap: %s", strerror(errno));
	madvise(buf, PAGES * pg, MADV_NOHUGEPAGE);	/* per-page moves */
	for (int i = 0; i < PAGES; i++)
		buf[i * pg] = 1;
	for (int i = 0; i < PAGES; i++)
		if (ns_kernel_node(buf + i * pg) != 0)
			t_fail("phase 1: page %d on node %d, want 0 (test premise)", i,
			       ns_kernel_node(buf + i * pg));
	if (cli) {
		/* NUMASHADOW_NEXT_TOUCH_AT is due 1 s after start; leave
		 * room for a slow guest. */
		struct timespec t = { 4, 0 };
		nanosleep(&t, NULL);
	} else {
		int r = next_touch(buf, PAGES * pg);
		if (r)
			t_fail("numashadow_next_touch: %d (%s)", r, strerror(-r));
	}
	pthread_create(&th, NULL, phase2, NULL);
	pthread_join(th, NULL);

	int moved = 0, bad = 0;
	for (int i = 0; i < PAGES; i++) {
		int want = i < PAGES / 2 ? 1 : 0, kn = ns_kernel_node(buf + i * pg);
		int sn = api.page_node(buf + i * pg);
		if (kn != want || sn != kn) {
			if (bad++ < 5)
				fprintf(stderr, "page %d: kernel node %d, shadow %d, want %d\n",
					i, kn, sn, want);
		}
		moved += kn == 1;
		if (buf[i * pg] != (i < PAGES / 2 ? 2 : 1))
			t_fail("page %d: content %d lost", i, buf[i * pg]);
	}
	if (bad)
		t_fail("%d of %d pages misplaced (%d moved)", bad, PAGES, moved);
	int d = api.verify();
	if (d)
		t_fail("numashadow_verify() = %d", d);
	printf("vm_next_touch%s: PASS (%d written pages moved to node 1, %d read pages stayed)\n",
	       cli ? " cli" : "", moved, PAGES - moved);
	return 0;
}
