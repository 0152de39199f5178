/* SPDX-License-Identifier: MIT */
/*
 * stack_growth: the main thread's stack grows without any system call - the
 * kernel extends the [stack] VMA when a fault lands below it - and the
 * shadow must still know those pages.  A function with a 512 KiB local
 * array, far more than the stack VMA holds at start-up, writes every page
 * of it from the top down.  While the array is live, /proc/self/maps must
 * show [stack] covering it (so the test's premise holds), and for every page
 * numashadow_page_node() must equal move_pages() - never -EFAULT, the
 * address is mapped - and the only mapper must be this process at that
 * address; numashadow_verify() must then find nothing, and the answers must
 * stay the same after it.
 */
#include "helpers.h"

#define ARRAY	(512 * 1024)

static struct ns_api api;
static long pg;
static uintptr_t stack_start_before;

static void check_pages(const char *when, char *lo, char *hi)
{
	int bad = 0;
	for (char *p = lo; p < hi; p += pg) {
		int kn = ns_kernel_node(p), node = api.page_node(p);
		if (kn < 0)
			t_fail("%s: stack page %p written but kernel node %d (test bug)", when,
			       (void *)p, kn);
		if (node != kn && bad++ < 5)
			fprintf(stderr, "%s: stack page %p: numashadow_page_node %d, kernel %d\n",
				when, (void *)p, node, kn);
		struct numashadow_mapper me = { getpid(), p };
		if (node == kn && ns_mappers_diff(&api, p, &me, 1) && bad++ < 5)
			fprintf(stderr, "%s: stack page %p: mappers differ\n", when, (void *)p);
	}
	if (bad)
		t_fail("%s: %d stack pages differ", when, bad);
}

static __attribute__((noinline)) void grow(void)
{
	volatile char buf[ARRAY];
	/* Top down, as a stack grows. */
	for (long o = ARRAY - 1; o >= 0; o -= pg)
		buf[o] = (char)o;
	buf[0] = 1;

	char *lo = (char *)(((uintptr_t)buf + pg - 1) & ~(uintptr_t)(pg - 1));
	char *hi = (char *)(((uintptr_t)buf + ARRAY) & ~(uintptr_t)(pg - 1));
	struct ns_maps m;
	t_assert(ns_maps_load(0, &m) > 0);
	const struct maps_line *v = ns_maps_find(&m, lo);
	if (!v || strcmp(v->name, "[stack]"))
		t_fail("%p is not in [stack] (test bug)", (void *)lo);
	if (v->start >= stack_start_before)
		t_fail("[stack] did not grow: starts at %#lx, before %#lx (test bug)",
		       (unsigned long)v->start, (unsigned long)stack_start_before);

	check_pages("grown stack", lo, hi);
	ns_verify_clean(&api, "with the grown stack live");
	check_pages("grown stack, after verify", lo, hi);
	if (buf[0] != 1)
		t_fail("stack array lost its content");
}

int main(int argc, char **argv)
{
	(void)argc;
	ns_test_preload(argv);
	ns_api_need(&api);
	pg = ns_page();

	struct ns_maps m;
	t_assert(ns_maps_load(0, &m) > 0);
	for (int i = 0; i < m.n; i++)
		if (!strcmp(m.v[i].name, "[stack]"))
			stack_start_before = m.v[i].start;
	if (!stack_start_before)
		t_fail("no [stack] in /proc/self/maps");
	grow();
	ns_verify_clean(&api, "after the stack array went out of scope");
	return T_PASS;
}
