/* SPDX-License-Identifier: MIT */
/*
 * vm_migrate_shared: anonymous pages shared after fork move for every
 * process that maps them, or for none.
 *
 * With CAP_SYS_NICE (root): the parent writes NPAGES pages bound to node 0
 * and forks two children that keep them unwritten.  numashadow_page_mappers()
 * must list all three processes at the same address; numashadow_migrate(...,
 * 1, SYNC | SHARED) moves every page; move_pages(2) asked about each child's
 * pages at the addresses the reverse map gave says node 1; each child then
 * checks its own view (numashadow_page_node() and move_pages on itself say
 * node 1, verify finds nothing) and reports through its exit status.
 *
 * Without CAP_SYS_NICE: a forked process drops the capability (bounding,
 * effective, permitted and inheritable sets), writes SPAGES pages and forks
 * a child that keeps them.  The same call moves nothing: every page is
 * counted failed_shared, the kernel still has them on node 0 in both
 * processes, numashadow_page_node() says 0 in both and verify finds
 * nothing.  Pages it alone maps still move.
 *
 * Needs a 2-node guest and root: tests/vm/migrate_shared.sh runs it.
 */
#include <linux/capability.h>
#include <numa.h>
#include <numaif.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include "helpers.h"

#define NPAGES 1024	/* shared by three processes */
#define SPAGES 256	/* shared by two processes without CAP_SYS_NICE */
#define PPAGES 16	/* private to the process without CAP_SYS_NICE */
#define SAMPLE 16	/* ask the reverse map about every SAMPLE-th page */

static long pg;
static struct ns_api api;

/* This process's own view: kernel, shadow and verify agree on node. */
static void expect_self(char *base, int n, int node, const char *when)
{
	ns_expect_on_node(&api, base, n, node, when);
	ns_verify_clean(&api, when);
}

static void touch_on_node0(char *buf, int n, char tag)
{
	ns_membind(0);
	for (int i = 0; i < n; i++)
		buf[(long)i * pg] = (char)(tag + i);
	ns_membind(-1);
}

static void check_content(const char *buf, int n, char tag)
{
	for (int i = 0; i < n; i++)
		if (buf[(long)i * pg] != (char)(tag + i))
			t_fail("pid %d: page %d lost its content", (int)getpid(), i);
}

static bool have_sys_nice(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		t_fail("capget: %s", strerror(errno));
	return d[CAP_SYS_NICE / 32].effective & (1U << (CAP_SYS_NICE % 32));
}

/* Drops CAP_SYS_NICE for good: out of the bounding set, then out of the
 * effective, permitted and inheritable sets (raw capset, no libcap). */
static void drop_sys_nice(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	unsigned bit = 1U << (CAP_SYS_NICE % 32);

	if (prctl(PR_CAPBSET_DROP, CAP_SYS_NICE, 0, 0, 0))
		t_fail("PR_CAPBSET_DROP CAP_SYS_NICE: %s", strerror(errno));
	if (syscall(SYS_capget, &h, d))
		t_fail("capget: %s", strerror(errno));
	d[CAP_SYS_NICE / 32].effective &= ~bit;
	d[CAP_SYS_NICE / 32].permitted &= ~bit;
	d[CAP_SYS_NICE / 32].inheritable &= ~bit;
	if (syscall(SYS_capset, &h, d))
		t_fail("capset: %s", strerror(errno));
	if (have_sys_nice())
		t_fail("CAP_SYS_NICE still effective after capset");
}

/* A child that keeps the pages: says it is ready, waits for the word, then
 * checks its own view of [buf, buf + n pages) on node and exits. */
static pid_t fork_keeper(char *buf, int n, char tag, int node, int ready, int go)
{
	pid_t pid = fork();
	char c = 0;

	if (pid < 0)
		t_fail("fork: %s", strerror(errno));
	if (pid)
		return pid;
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		_exit(1);	/* the parent failed: it says why */
	expect_self(buf, n, node, "a keeper's own view");
	check_content(buf, n, tag);
	exit(T_PASS);
}

/* The reverse map of every SAMPLE-th page (and the last) must name exactly
 * pids[0..n) at that page's address, and the kernel, asked about each
 * (pid, address) it names, must place the page on node. */
static void expect_mappers(char *buf, int npages, const pid_t *pids, int n,
			   int node, const char *when)
{
	struct numashadow_mapper want[4];
	int diffs = 0;

	for (int i = 0;; i = i + SAMPLE < npages ? i + SAMPLE : npages - 1) {
		char *p = buf + (long)i * pg;
		for (int k = 0; k < n; k++)
			want[k] = (struct numashadow_mapper){ pids[k], p };
		diffs += ns_mappers_diff(&api, p, want, n);
		diffs += ns_mappers_off_node(&api, p, node, when);
		if (i == npages - 1)
			break;
	}
	if (diffs)
		t_fail("%s: %d differences in the reverse map", when, diffs);
}

/* Pages shared by three processes move for all of them. */
static void shared_as_root(void)
{
	char *buf = ns_map_guarded(NPAGES, PROT_READ | PROT_WRITE);
	int ready[2], go[2];
	pid_t pids[3];
	char c[2] = { 0, 0 };

	t_assert(buf != MAP_FAILED);
	if (!have_sys_nice())
		t_fail("root part needs CAP_SYS_NICE; run it as root in the guest");
	touch_on_node0(buf, NPAGES, 'a');
	expect_self(buf, NPAGES, 0, "after first touch");
	if (pipe(ready) || pipe(go))
		t_fail("pipe: %s", strerror(errno));
	pids[0] = getpid();
	for (int k = 1; k <= 2; k++)
		pids[k] = fork_keeper(buf, NPAGES, 'a', 1, ready[1], go[0]);
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], c, 1) != 1 || read(ready[0], c, 1) != 1)
		t_fail("a keeper ended before it was ready");

	expect_mappers(buf, NPAGES, pids, 3, 0, "before the move");
	/* Every page, at the address the sampled reverse map confirmed: fork
	 * keeps addresses. */
	for (int k = 1; k <= 2; k++)
		ns_expect_kernel(pids[k], buf, NPAGES, 0, "a keeper before the move");

	ns_migrate_expect_all(&api, "root", buf, NPAGES, 1,
			      NUMASHADOW_MIGRATE_SYNC | NUMASHADOW_MIGRATE_SHARED);

	for (int k = 1; k <= 2; k++)
		ns_expect_kernel(pids[k], buf, NPAGES, 1, "a keeper, asked by the parent");
	expect_self(buf, NPAGES, 1, "the parent after the move");
	expect_mappers(buf, NPAGES, pids, 3, 1, "after the move");

	if (write(go[1], c, 2) != 2)
		t_fail("a keeper is gone");
	close(go[1]);
	ns_wait_ok(pids[1], "first keeper");
	ns_wait_ok(pids[2], "second keeper");
	close(ready[0]);
	check_content(buf, NPAGES, 'a');
	expect_self(buf, NPAGES, 1, "the parent after the keepers left");
	printf("root: %d pages shared by 3 processes moved to node 1\n", NPAGES);
}

/* Runs in a process without CAP_SYS_NICE: shared pages stay, private ones
 * move, nothing lies. */
static void shared_without_cap(void)
{
	char *buf = ns_map_guarded(SPAGES, PROT_READ | PROT_WRITE), *priv;
	int ready[2], go[2];
	pid_t pids[2];
	char c = 0;

	t_assert(buf != MAP_FAILED);
	drop_sys_nice();
	touch_on_node0(buf, SPAGES, 'b');
	if (pipe(ready) || pipe(go))
		t_fail("pipe: %s", strerror(errno));
	pids[0] = getpid();
	pids[1] = fork_keeper(buf, SPAGES, 'b', 0, ready[1], go[0]);
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) != 1)
		t_fail("the keeper ended before it was ready");
	/* Mapped after the fork: this process's alone. */
	priv = ns_map_guarded(PPAGES, PROT_READ | PROT_WRITE);
	t_assert(priv != MAP_FAILED);
	touch_on_node0(priv, PPAGES, 'c');
	expect_mappers(buf, SPAGES, pids, 2, 0, "without CAP_SYS_NICE, before the move");

	struct numashadow_migrate_stats s0 = ns_migrate_stats(&api), s1;
	long r = api.migrate(buf, (size_t)SPAGES * pg, 1,
			     NUMASHADOW_MIGRATE_SYNC | NUMASHADOW_MIGRATE_SHARED);
	s1 = ns_migrate_stats(&api);
	ns_migrate_report("no cap", r, &s0, &s1);
	if (r != 0 || s1.moved != s0.moved ||
	    s1.failed_shared - s0.failed_shared != SPAGES ||
	    ns_failed(&s1) - ns_failed(&s0) != SPAGES)
		t_fail("shared move without CAP_SYS_NICE: returned %ld, stats moved %lu, "
		       "failed_shared %lu, failed %lu; expected 0, 0, %d, %d", r,
		       s1.moved - s0.moved, s1.failed_shared - s0.failed_shared,
		       ns_failed(&s1) - ns_failed(&s0), SPAGES, SPAGES);
	ns_expect_kernel(pids[1], buf, SPAGES, 0, "the keeper, asked by its parent");
	expect_self(buf, SPAGES, 0, "without CAP_SYS_NICE, after the refused move");
	expect_mappers(buf, SPAGES, pids, 2, 0, "without CAP_SYS_NICE, after the move");

	s0 = ns_migrate_stats(&api);
	r = api.migrate(priv, (size_t)PPAGES * pg, 1,
			NUMASHADOW_MIGRATE_SYNC | NUMASHADOW_MIGRATE_SHARED);
	s1 = ns_migrate_stats(&api);
	if (r != PPAGES || s1.moved - s0.moved != PPAGES ||
	    ns_failed(&s1) != ns_failed(&s0))
		t_fail("private pages without CAP_SYS_NICE: returned %ld, stats moved "
		       "%lu, failed %lu; expected %d, %d, 0", r, s1.moved - s0.moved,
		       ns_failed(&s1) - ns_failed(&s0), PPAGES, PPAGES);
	expect_self(priv, PPAGES, 1, "private pages without CAP_SYS_NICE");

	if (write(go[1], &c, 1) != 1)
		t_fail("the keeper is gone");
	ns_wait_ok(pids[1], "keeper without CAP_SYS_NICE");
	check_content(buf, SPAGES, 'b');
	check_content(priv, PPAGES, 'c');
	printf("no cap: %d shared pages stayed on node 0 as failed_shared, "
	       "%d private pages moved\n", SPAGES, PPAGES);
}

int main(int argc, char **argv)
{
	(void)argc;
	ns_test_preload(argv);
	ns_api_need(&api);
	ns_migrate_need(&api);
	pg = ns_page();
	ns_need_nodes(1, "tests/vm/migrate_shared.sh");
	/* Output reaches the host through a pipe: flush before every fork. */
	setvbuf(stdout, NULL, _IONBF, 0);

	shared_as_root();

	pid_t pid = fork();
	if (pid < 0)
		t_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		shared_without_cap();
		exit(T_PASS);
	}
	ns_wait_ok(pid, "the process without CAP_SYS_NICE");
	ns_verify_clean(&api, "at the end");
	printf("vm_migrate_shared: PASS\n");
	return T_PASS;
}
