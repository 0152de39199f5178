/* SPDX-License-Identifier: MIT */
/*
 * vm_fork_thp: a write after fork to one 4 KiB page of a transparent huge
 * page leaves the shadow and verify true in both processes.  A 2 MiB
 * aligned region (MADV_HUGEPAGE) is written whole, so the kernel backs it
 * with one huge page, and the process forks.  The parent writes page
 * WRITTEN: the kernel splits its PMD and copies that page alone; the child
 * still maps the whole huge page through its PMD.  Then page WRITTEN has
 * one mapper in each process (two frames), every other page two (one
 * frame), and numashadow_page_mappers() and numashadow_verify() must say
 * so in both.  Mind: Linux 6.1's pagemap marks every page of a PMD mapping
 * "not exclusive" when the huge page's first page has other mappers, so the
 * child's copy of page WRITTEN shows shared there while /proc/kpagecount
 * counts one mapping; the program prints both.  Needs a guest where huge
 * pages form (the Debian guest, root): tests/vm/fork_thp.sh runs it.
 */
#include "helpers.h"

#define HPAGE (2UL << 20)
#define WRITTEN 5

static long pg;
static struct ns_api api;

/* 1 when addr's frame is part of a transparent huge page (KPF_THP). */
static int is_thp(const void *addr)
{
	uint64_t pfn = ns_pfn(0, addr), flags = 0;
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !pfn)
		t_fail("cannot read page flags (needs root): %s", strerror(errno));
	if (pread(fd, &flags, 8, (off_t)(pfn * 8)) != 8)
		t_fail("reading /proc/kpageflags: %s", strerror(errno));
	close(fd);
	return (int)(flags >> 22 & 1);
}

static void expect_mappers(char *p, const pid_t *pids, int n, const char *when)
{
	struct numashadow_mapper want[2];
	for (int k = 0; k < n; k++)
		want[k] = (struct numashadow_mapper){ pids[k], p };
	if (ns_mappers_diff(&api, p, want, n))
		t_fail("%s: pid %d: reverse map of %p wrong", when, (int)getpid(), p);
}

/* What the kernel says about page WRITTEN in process pid (0: this one). */
static void show(pid_t pid, char *buf, const char *who)
{
	uint64_t e = 0;
	char *p = buf + WRITTEN * pg;

	ns_pagemap(pid, p, &e);
	printf("%s: page %d: pfn %#llx, pagemap %s, kpagecount %ld\n", who,
	       WRITTEN, (unsigned long long)(e & NS_PM_PFN),
	       e & NS_PM_EXCLUSIVE ? "exclusive" : "not exclusive",
	       ns_kpagecount(e & NS_PM_PFN));
}

int main(int argc, char **argv)
{
	int ready[2], go[2];
	char c = 0, *g, *buf;
	pid_t pids[2];

	(void)argc;
	ns_test_preload(argv);
	ns_api_need(&api);
	pg = ns_page();
	setvbuf(stdout, NULL, _IONBF, 0);

	g = mmap(NULL, 2 * HPAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t_assert(g != MAP_FAILED);
	buf = (char *)(((uintptr_t)g + HPAGE - 1) & ~(HPAGE - 1));
	if (mprotect(buf, HPAGE, PROT_READ | PROT_WRITE) ||
	    madvise(buf, HPAGE, MADV_HUGEPAGE))
		t_fail("mprotect/madvise: %s", strerror(errno));
	memset(buf, 1, HPAGE);
	if (!is_thp(buf) || !is_thp(buf + WRITTEN * pg))
		t_fail("no transparent huge page formed; nothing to check");
	ns_verify_clean(&api, "after first touch");

	if (pipe(ready) || pipe(go))
		t_fail("pipe: %s", strerror(errno));
	pids[0] = getpid();
	pids[1] = fork();
	if (pids[1] < 0)
		t_fail("fork: %s", strerror(errno));
	if (pids[1] == 0) {
		pids[1] = getpid();
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);	/* the parent failed: it says why */
		show(0, buf, "child");
		expect_mappers(buf + WRITTEN * pg, pids + 1, 1, "child, written page");
		expect_mappers(buf + (WRITTEN + 1) * pg, pids, 2, "child, other page");
		ns_verify_clean(&api, "in the child");
		if (buf[WRITTEN * pg] != 1)
			t_fail("the child sees the parent's write");
		exit(T_PASS);
	}
	/* The child is past the runtime's own checks after fork. */
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		t_fail("the child ended before it was ready");
	/* Copies this one page in the parent; the child keeps the huge page. */
	buf[WRITTEN * pg] = 2;
	show(0, buf, "parent");
	show(pids[1], buf, "child, seen by the parent");
	expect_mappers(buf + WRITTEN * pg, pids, 1, "parent, written page");
	expect_mappers(buf + (WRITTEN + 1) * pg, pids, 2, "parent, other page");
	ns_verify_clean(&api, "in the parent after the write");
	if (write(go[1], &c, 1) != 1)
		t_fail("the child is gone");
	ns_wait_ok(pids[1], "the child");
	ns_verify_clean(&api, "after the child left");
	printf("vm_fork_thp: PASS\n");
	return T_PASS;
}
