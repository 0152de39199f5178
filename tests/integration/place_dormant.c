/* SPDX-License-Identifier: MIT */
/*
 * place_dormant: a process under a placement policy and nothing else waits
 * for a region the monitor should place (docs/placement.md, "Dormant under
 * a policy").  Until then: no thread of the runtime's, and the kernel
 * places malloc's regions and the program's small ones under the VMA
 * policy ours maps to (asked of the kernel: get_mempolicy(MPOL_F_ADDR)).
 * The program's own mmap of 4 MiB wakes it: a monitor thread appears, the
 * region has no VMA policy (the monitor places it), every page written is
 * present on node 0 by move_pages and in the shadow, and verify finds
 * nothing.  Two pages dropped from it (MADV_DONTNEED) get the kernel's
 * VMA policy, its neighbours keep none.  A fork child leaves the parent's
 * monitor region to the kernel (it has one thread, the region the VMA
 * policy) until its own 4 MiB mmap starts a monitor there too.  A thread
 * policy of the program's then hands the regions the kernel placed while
 * dormant to the monitor (their VMA policies gone), which shows the woken
 * shadow knew them; a region the program bound itself keeps its own.
 */
#include <dirent.h>
#include <numaif.h>
#include <sys/mman.h>
#include "helpers.h"

static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		t_fail("opendir /proc/self/task");
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The kernel's VMA policy at p: its mode, and its nodes in *mask. */
static int vma_policy(const void *p, unsigned long *mask)
{
	int mode = -1;
	unsigned long m[16] = { 0 };

	if (get_mempolicy(&mode, m, 1024, (void *)p, MPOL_F_ADDR))
		t_fail("get_mempolicy(%p): %s", p, strerror(errno));
	*mask = m[0];
	return mode;
}

static void expect_policy(const void *p, int mode, const char *what)
{
	unsigned long mask;
	int got = vma_policy(p, &mask);

	if (got != mode)
		t_fail("%s: the kernel's VMA policy is mode %d (mask %#lx), expected %d",
		       what, got, mask, mode);
	if (mode == MPOL_INTERLEAVE && mask != 1)
		t_fail("%s: interleaved over %#lx, expected node 0 (all of a one-node host)",
		       what, mask);
}

static void expect_threads(int n, const char *when)
{
	int t = threads();

	if (t != n)
		t_fail("%s: %d threads, expected %d", when, t, n);
}

int main(int argc, char **argv)
{
	struct ns_api api;
	long pg = ns_page();
	int d;

	(void)argc;
	/* The library alone: `numashadow run --verify` would wake it. */
	if (!getenv("LD_PRELOAD")) {
		setenv("LD_PRELOAD", NS_BUILD_DIR "/libnumashadow.so", 1);
		setenv("NUMASHADOW_POLICY", "interleave=all", 1);
		execv("/proc/self/exe", argv);
		t_fail("cannot exec myself: %s", strerror(errno));
	}
	if (ns_api_get(&api))
		t_fail("not preloaded");

	/* Dormant: the kernel places, nobody serves faults. */
	expect_threads(1, "at start");
	char *a = malloc(4 << 20);	/* libc maps it: never wakes us */
	if (!a)
		t_fail("malloc");
	memset(a, 1, 4 << 20);
	char *ap = (char *)(((uintptr_t)a + pg - 1) & ~(uintptr_t)(pg - 1));
	expect_policy(ap, MPOL_INTERLEAVE, "malloc's 4 MiB, dormant");
	char *s = mmap(NULL, 16 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *own = mmap(NULL, 16 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED || own == MAP_FAILED)
		t_fail("mmap");
	s[0] = 1;
	expect_policy(s, MPOL_INTERLEAVE, "a small region, dormant");
	unsigned long node0 = 1;
	if (mbind(own, 16 * pg, MPOL_BIND, &node0, 64, 0))
		t_fail("mbind: %s", strerror(errno));
	expect_threads(1, "after malloc and small regions");

	/* The program's own large region: the monitor's. */
	char *m = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		t_fail("mmap 4 MiB");
	expect_threads(2, "after the program's mmap of 4 MiB");
	expect_policy(m, MPOL_DEFAULT, "the program's 4 MiB, woken");
	memset(m, 2, 4 << 20);
	for (long i = 0; i < (4 << 20) / pg; i += 37) {
		if (ns_kernel_node(m + i * pg) != 0)
			t_fail("page %ld of the 4 MiB not present on node 0", i);
		if (api.page_node(m + i * pg) != 0)
			t_fail("numashadow_page_node(page %ld) = %d, kernel 0", i,
			       api.page_node(m + i * pg));
	}
	if ((d = api.verify()))
		t_fail("after waking: verify %d", d);

	/* Pages dropped from the monitor's region: placed again by the
	 * kernel (a small range), the rest still the monitor's. */
	if (madvise(m + 8 * pg, 2 * pg, MADV_DONTNEED))
		t_fail("madvise: %s", strerror(errno));
	expect_policy(m + 8 * pg, MPOL_INTERLEAVE, "2 pages dropped from the 4 MiB");
	expect_policy(m + 7 * pg, MPOL_DEFAULT, "the page before them");
	expect_policy(m + 10 * pg, MPOL_DEFAULT, "the page after them");
	m[8 * pg] = 4;
	m[9 * pg] = 4;
	if (ns_kernel_node(m + 8 * pg) != 0 || ns_kernel_node(m + 9 * pg) != 0)
		t_fail("the dropped pages, written again, are not present on node 0");
	if ((d = api.verify()))
		t_fail("after the drop: verify %d", d);

	/* A fork child: the parent's monitor stayed with the parent.  The
	 * kernel places the child's untouched pages of the parent's monitor
	 * region, and the child starts a monitor of its own only for a large
	 * region it maps itself. */
	char *u = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u == MAP_FAILED)
		t_fail("mmap 4 MiB");
	pid_t pid = fork();
	if (pid < 0)
		t_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		expect_threads(1, "a fork child");
		expect_policy(u, MPOL_INTERLEAVE, "the parent's untouched 4 MiB, in its child");
		memset(u, 5, 4 << 20);
		if (ns_kernel_node(u) != 0 || ns_kernel_node(u + (4 << 20) - pg) != 0)
			t_fail("the child's first touches of the parent's region: not on node 0");
		char *c = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (c == MAP_FAILED)
			t_fail("mmap 4 MiB in the child");
		expect_threads(2, "the child, after its own mmap of 4 MiB");
		expect_policy(c, MPOL_DEFAULT, "the child's own 4 MiB");
		memset(c, 6, 4 << 20);
		if (ns_kernel_node(c + (2 << 20)) != 0)
			t_fail("the child's own region: not on node 0");
		if ((d = api.verify()))
			t_fail("in the child: verify %d", d);
		_exit(0);
	}
	ns_wait_ok(pid, "the fork child");
	expect_policy(u, MPOL_DEFAULT, "the parent's own 4 MiB, after its child's touches");

	/* A thread policy outranks VMA policies: ours go to the monitor. */
	if (set_mempolicy(MPOL_PREFERRED, &node0, 64))
		t_fail("set_mempolicy: %s", strerror(errno));
	expect_policy(ap, MPOL_DEFAULT, "malloc's 4 MiB after a thread policy");
	expect_policy(s, MPOL_DEFAULT, "the small region after a thread policy");
	expect_policy(own, MPOL_BIND, "the program's own mbind after a thread policy");
	s[pg] = 1;
	a[(2 << 20)] = 3;
	if ((d = api.verify()))
		t_fail("after the hand-over: verify %d", d);
	printf("place_dormant: ok\n");
	return 0;
}
