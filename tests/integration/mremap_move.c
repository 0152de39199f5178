/* SPDX-License-Identifier: MIT */
/*
 * mremap_move: pages follow their mapping when mremap moves it.  An
 * eight-page private region with one page never written is moved whole by
 * mremap(MREMAP_MAYMOVE | MREMAP_FIXED) onto a reserved range, then two of
 * its pages are moved again on their own (splitting the VMA).  At the new
 * address numashadow_page_node() must equal move_pages() (-ENOENT for the
 * hole), the only mapper is this process at the new address, and the old
 * address is -EFAULT as /proc/self/maps says.  Then a region shared with a
 * forked child is moved in the parent: each shared page has two mappers,
 * the parent at the new address and the child at the old one (an anonymous
 * page keeps its index across mremap), until the parent writes one page and
 * each process is left alone with its copy.  Mapper sets are checked
 * against pagemap PFNs and /proc/kpagecount first when PFNs are visible;
 * numashadow_verify() must find nothing at each step.
 */
#include <signal.h>
#include "helpers.h"

#define NPAGES	8
#define HOLE	5
#define SHARED	4

static long pg;
static struct ns_api api;

static char *at(char *base, int i)
{
	return base + (long)i * pg;
}

static void check_gone(const char *step, char *a)
{
	struct ns_maps m;
	t_assert(ns_maps_load(0, &m) > 0);
	if (ns_maps_find(&m, a))
		t_fail("%s: old address %p still in /proc/self/maps (test bug)", step, (void *)a);
	int node = api.page_node(a);
	if (node != -EFAULT)
		t_fail("%s: old address %p: numashadow_page_node %d, want -EFAULT", step,
		       (void *)a, node);
}

static char *reserve(int n)
{
	char *r = mmap(NULL, (long)n * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t_assert(r != MAP_FAILED);
	return r;
}

static void move_alone(void)
{
	char *a = ns_map_guarded(NPAGES, PROT_READ | PROT_WRITE);
	t_assert(a != MAP_FAILED);
	for (int i = 0; i < NPAGES; i++)
		if (i != HOLE)
			*at(a, i) = (char)('a' + i);
	ns_verify_clean(&api, "before the move");

	char *t = reserve(NPAGES);
	char *r = mremap(a, NPAGES * pg, NPAGES * pg, MREMAP_MAYMOVE | MREMAP_FIXED, t);
	if (r != t)
		t_fail("mremap to %p: %p: %s", (void *)t, (void *)r, strerror(errno));
	ns_verify_clean(&api, "after the move");
	for (int i = 0; i < NPAGES; i++) {
		if (i != HOLE && *at(t, i) != 'a' + i)
			t_fail("page %d lost its content in the move", i);
		ns_check_own_page(&api, "moved whole", at(t, i), i != HOLE);
		check_gone("moved whole", at(a, i));
	}

	/* The hole fills at its new address. */
	*at(t, HOLE) = 'a' + HOLE;
	ns_check_own_page(&api, "hole written after the move", at(t, HOLE), 1);

	/* Move pages 2-3 alone: the VMA splits around them. */
	char *u = reserve(2);
	r = mremap(at(t, 2), 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, u);
	if (r != u)
		t_fail("mremap of pages 2-3: %s", strerror(errno));
	ns_verify_clean(&api, "after moving two pages");
	for (int i = 0; i < NPAGES; i++) {
		char *now = i == 2 || i == 3 ? at(u, i - 2) : at(t, i);
		if (*now != 'a' + i)
			t_fail("page %d lost its content in the second move", i);
		ns_check_own_page(&api, "second move", now, 1);
	}
	check_gone("second move", at(t, 2));
	check_gone("second move", at(t, 3));
	munmap(t, NPAGES * pg);
	munmap(u, 2 * pg);
	ns_verify_clean(&api, "after unmapping the moved regions");
}

/* Two mappers each: want[0] in this process, want[1] in the other; checked
 * against the kernel's frames first. */
static void check_pair(const char *step, char *mine, pid_t other, char *theirs)
{
	struct numashadow_mapper w[2] = { { getpid(), mine }, { other, theirs } };
	int n = other ? 2 : 1;
	if (ns_pfn_visible()) {
		uint64_t f = ns_pfn(0, mine);
		if (!f || (other && ns_pfn(other, theirs) != f))
			t_fail("%s: frames %#" PRIx64 " / %#" PRIx64 " (test bug)", step, f,
			       other ? ns_pfn(other, theirs) : 0);
		long mc = ns_kpagecount(f);
		if (mc != n)
			t_fail("%s: kpagecount %ld, want %d (test bug)", step, mc, n);
	}
	if (ns_mappers_diff(&api, mine, w, n))
		t_fail("%s: mappers of %p differ", step, (void *)mine);
}

static void move_shared(void)
{
	char *b = ns_map_guarded(SHARED, PROT_READ | PROT_WRITE);
	t_assert(b != MAP_FAILED);
	for (int i = 0; i < SHARED; i++)
		*at(b, i) = (char)('A' + i);
	char *t = reserve(SHARED);

	int p2c[2], c2p[2];
	t_assert(pipe(p2c) == 0 && pipe(c2p) == 0);
	pid_t parent = getpid(), child = fork();
	t_assert(child >= 0);
	if (child == 0) {
		close(p2c[1]);
		close(c2p[0]);
		char *n, c = 1;
		ns_xfer(p2c[0], &n, sizeof(n), 0);		/* parent moved to n */
		ns_verify_clean(&api, "child, after the parent moved");
		for (int i = 0; i < SHARED; i++)
			check_pair("child, shared", at(b, i), parent, at(n, i));
		ns_xfer(c2p[1], &c, 1, 1);
		ns_xfer(p2c[0], &c, 1, 0);			/* parent wrote page 0 */
		check_pair("child, after the parent's write", at(b, 0), 0, NULL);
		check_pair("child, still shared", at(b, 1), parent, at(n, 1));
		if (*at(b, 0) != 'A')
			t_fail("the parent's write after fork is seen by the child");
		ns_verify_clean(&api, "child, at the end");
		exit(T_PASS);
	}

	/* Unused ends closed: if one side dies, the other reads end of file
	 * instead of waiting forever. */
	close(p2c[0]);
	close(c2p[1]);
	char *r = mremap(b, SHARED * pg, SHARED * pg, MREMAP_MAYMOVE | MREMAP_FIXED, t);
	if (r != t)
		t_fail("mremap of the shared region: %s", strerror(errno));
	ns_verify_clean(&api, "parent, after the move");
	for (int i = 0; i < SHARED; i++) {
		if (*at(t, i) != 'A' + i)
			t_fail("shared page %d lost its content in the move", i);
		check_pair("parent, shared", at(t, i), child, at(b, i));
		check_gone("parent, shared", at(b, i));
	}
	ns_xfer(p2c[1], &t, sizeof(t), 1);
	char c;
	ns_xfer(c2p[0], &c, 1, 0);

	*at(t, 0) = 'w';	/* copy on write: each process keeps its own page 0 */
	check_pair("parent, after its write", at(t, 0), 0, NULL);
	check_pair("parent, still shared", at(t, 1), child, at(b, 1));
	ns_verify_clean(&api, "parent, after its write");
	ns_xfer(p2c[1], &c, 1, 1);

	ns_wait_ok(child, "the child");
	for (int i = 0; i < SHARED; i++)
		check_pair("parent, child gone", at(t, i), 0, NULL);
	ns_verify_clean(&api, "parent, after the child exited");
}

int main(int argc, char **argv)
{
	(void)argc;
	ns_test_preload(argv);
	signal(SIGPIPE, SIG_IGN);	/* a dead peer shows as a failed write */
	ns_api_need(&api);
	pg = ns_page();
	move_alone();
	move_shared();
	return T_PASS;
}
