/* SPDX-License-Identifier: MIT */
/*
 * mappers_kept: numashadow_page_mappers() asks each relative's kernel
 * through a descriptor it keeps, and the answers stay the kernel's when the
 * program closes every descriptor, when a relative dies and when its pid
 * could be given again.  A parent writes a page and forks 3 children that
 * keep it shared (they block on a pipe).  The parent's query must list the
 * 4 processes at that address (asked of each child's pagemap by the test
 * itself first), again after close_range(3, ~0) closed the runtime's kept
 * descriptors, and 3 after one child was killed and reaped.  (The children
 * wait in pause() for SIGUSR1: a pipe would end with close_range.)  Between
 * queries no descriptor of the runtime's is visible: /proc/self/fd lists,
 * below the soft limit getrlimit reports, only what the test holds.  Run
 * awake (`numashadow run --verify`) and again dormant (the library alone).
 */
#include <dirent.h>
#include <stdbool.h>
#include <linux/close_range.h>
#include <sys/resource.h>
#include "helpers.h"

static struct ns_api api;

static long before[64];		/* what the test inherited */
static int nbefore;

/* Descriptors below the reported soft limit other than 0-2, the listing's
 * own and those in before[]: how many, printed; keep: record them in
 * before[] instead. */
static int visible_fds(const char *step, bool keep)
{
	struct rlimit rl;
	int n = 0;

	t_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	DIR *d = opendir("/proc/self/fd");
	t_assert(d);
	for (struct dirent *e; (e = readdir(d));) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || fd <= 2 || fd == dirfd(d) || (rlim_t)fd >= rl.rlim_cur)
			continue;
		bool old = false;
		for (int i = 0; i < nbefore; i++)
			old |= before[i] == fd;
		if (old)
			continue;
		if (keep && nbefore < 64) {
			before[nbefore++] = fd;
			continue;
		}
		fprintf(stderr, "%s: descriptor %ld visible (soft limit %llu)\n", step, fd,
			(unsigned long long)rl.rlim_cur);
		n++;
	}
	closedir(d);
	return n;
}

static void expect(const char *step, char *page, const pid_t *pids, int n)
{
	struct numashadow_mapper want[8];

	for (int i = 0; i < n; i++) {
		uint64_t e = 0;
		/* The kernel first: each must map the page, shared. */
		t_assert(ns_pagemap(pids[i], page, &e) == 0);
		if (!(e & NS_PM_PRESENT) || (e & NS_PM_EXCLUSIVE))
			t_fail("%s: pid %d's pagemap entry %#llx: not a shared page", step,
			       (int)pids[i], (unsigned long long)e);
		want[i] = (struct numashadow_mapper){ pids[i], page };
	}
	if (ns_mappers_diff(&api, page, want, n))
		t_fail("%s: the mappers differ from the kernel's %d", step, n);
	printf("%s: %d mappers, as the kernel says\n", step, n);
}

static char *page;

static void on_usr1(int sig)
{
	(void)sig;
	_exit(page[0] == 1 ? 0 : 1);
}

static void run(void)
{
	pid_t pids[4] = { getpid() };

	nbefore = 0;
	visible_fds("inherited", true);
	page = ns_map_guarded(1, PROT_READ | PROT_WRITE);
	page[0] = 1;
	signal(SIGUSR1, on_usr1);
	for (int i = 1; i < 4; i++) {
		pids[i] = fork();
		t_assert(pids[i] >= 0);
		if (pids[i] == 0)
			for (;;)
				pause();
	}
	expect("first query", page, pids, 4);
	expect("second query", page, pids, 4);
	if (visible_fds("after the queries", false))
		t_fail("a descriptor of the runtime's is in the program's range");

	/* The program closes everything it can see, and more. */
	t_assert(syscall(SYS_close_range, 3, ~0U, 0) == 0);
	nbefore = 0;
	expect("after close_range", page, pids, 4);
	if (visible_fds("after close_range and a query", false))
		t_fail("a descriptor of the runtime's is in the program's range");

	kill(pids[3], SIGKILL);
	int st;
	t_assert(waitpid(pids[3], &st, 0) == pids[3]);
	expect("a child killed and reaped", page, pids, 3);

	for (int i = 1; i < 3; i++) {
		kill(pids[i], SIGUSR1);
		ns_wait_ok(pids[i], "child");
	}
}

int main(int argc, char **argv)
{
	ns_test_preload(argv);
	t_assert(ns_api_get(&api) == 0);
	run();
	if (argc > 1 && !strcmp(argv[1], "dormant"))
		return T_PASS;

	ns_rerun_dormant(argv);
	return T_PASS;
}
