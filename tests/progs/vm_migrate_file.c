/* SPDX-License-Identifier: MIT */
/*
 * vm_migrate_file: page-cache pages of a file mapped MAP_SHARED by two
 * processes move for both.  A FPAGES-page file in $TMPDIR (default /tmp,
 * tmpfs in the guest) is mapped at fa and written while bound to node 0;
 * after fork the child reads every page through the inherited fa (fork
 * does not copy the page tables of shared mappings) and through a second
 * mapping of its own at fb, and sends fb to the parent.  The reverse map
 * must name (parent, fa), (child, fa) and (child, fb) for each page.
 * numashadow_migrate(fa, ..., 1, SYNC | SHARED) as root moves every page;
 * move_pages(2) on the parent and on the child (at the addresses the
 * reverse map gives) then says node 1, and in each process
 * numashadow_page_node() agrees at each of its addresses and verify finds
 * nothing.  Needs a 2-node guest and root: tests/vm/migrate_file.sh.
 */
#include <numa.h>
#include <numaif.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include "helpers.h"

#define FPAGES 256
#define SAMPLE 16	/* ask the reverse map about every SAMPLE-th page */

static long pg;
static struct ns_api api;
static long (*migrate)(void *, size_t, int, unsigned);
static int (*migrate_stats)(struct numashadow_migrate_stats *);

static void kernel_nodes(pid_t pid, void **addrs, int n, int *status)
{
	if (syscall(SYS_move_pages, pid, (unsigned long)n, addrs, NULL, status, 0) < 0)
		t_fail("move_pages query of pid %d: %s", (int)pid, strerror(errno));
}

static void **page_addrs(char *base, int n)
{
	void **a = calloc((size_t)n, sizeof(*a));
	t_assert(a);
	for (int i = 0; i < n; i++)
		a[i] = base + (long)i * pg;
	return a;
}

/* Every page of [base, base + n pages) in pid must be on node for the
 * kernel. */
static void expect_kernel(pid_t pid, char *base, int n, int node, const char *when)
{
	void **a = page_addrs(base, n);
	int *st = calloc((size_t)n, sizeof(*st));
	int bad = 0, first = -1;

	t_assert(st);
	kernel_nodes(pid, a, n, st);
	for (int i = 0; i < n; i++)
		if (st[i] != node && bad++ == 0)
			first = i;
	if (bad)
		t_fail("%s: pid %d: kernel has %d of %d pages off node %d (%p: %d)",
		       when, (int)(pid ? pid : getpid()), bad, n, node, a[first], st[first]);
	free(st);
	free(a);
}

/* This process's own view of one mapping: kernel and shadow agree. */
static void expect_self(char *base, int n, int node, const char *when)
{
	expect_kernel(0, base, n, node, when);
	for (int i = 0; i < n; i++) {
		int s = api.page_node(base + (long)i * pg);
		if (s != node)
			t_fail("%s: pid %d: numashadow_page_node(%p) = %d, kernel %d",
			       when, (int)getpid(), base + (long)i * pg, s, node);
	}
}

static struct numashadow_migrate_stats stats(void)
{
	struct numashadow_migrate_stats s;
	int r = migrate_stats(&s);
	if (r)
		t_fail("numashadow_migrate_stats() = %d", r);
	return s;
}

static unsigned long failed(const struct numashadow_migrate_stats *s)
{
	return s->failed_shared + s->failed_not_present + s->failed_nomem +
	       s->failed_fault + s->failed_busy + s->failed_other;
}

static int sum_pages(const char *p, int n)
{
	int sum = 0;
	for (int i = 0; i < n; i++)
		sum += ((const volatile char *)p)[(long)i * pg];
	return sum;
}

static void check_content(const char *p, int n)
{
	for (int i = 0; i < n; i++)
		if (p[(long)i * pg] != (char)(i + 1))
			t_fail("pid %d: file page %d at %p lost its content",
			       (int)getpid(), i, p + (long)i * pg);
}

/* The reverse map of every SAMPLE-th file page (and the last) must name
 * exactly the three mappings, and the kernel must place the page on node
 * at each (pid, address) it names. */
static void expect_mappers(char *fa, char *fb, pid_t child, int node, const char *when)
{
	struct numashadow_mapper want[3], got[4];
	int diffs = 0;

	for (int i = 0;; i = i + SAMPLE < FPAGES ? i + SAMPLE : FPAGES - 1) {
		long o = (long)i * pg;
		want[0] = (struct numashadow_mapper){ getpid(), fa + o };
		want[1] = (struct numashadow_mapper){ child, fa + o };
		want[2] = (struct numashadow_mapper){ child, fb + o };
		diffs += ns_mappers_diff(&api, fa + o, want, 3);
		int m = api.page_mappers(fa + o, got, 4);
		for (int k = 0; k < m && k < 4; k++) {
			int st = -1;
			kernel_nodes(got[k].pid, &got[k].addr, 1, &st);
			if (st != node) {
				fprintf(stderr, "%s: file page %d at (%d, %p): kernel node "
					"%d, expected %d\n", when, i, (int)got[k].pid,
					got[k].addr, st, node);
				diffs++;
			}
		}
		if (i == FPAGES - 1)
			break;
	}
	if (diffs)
		t_fail("%s: %d differences in the reverse map", when, diffs);
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[256], *fa, *fb;
	unsigned long node0 = 1;
	int ready[2], go[2], fd;
	struct statfs sf;
	pid_t child;

	(void)argc;
	ns_test_preload(argv);
	ns_api_need(&api);
	migrate = (long (*)(void *, size_t, int, unsigned))
		dlsym(RTLD_DEFAULT, "numashadow_migrate");
	migrate_stats = (int (*)(struct numashadow_migrate_stats *))
		dlsym(RTLD_DEFAULT, "numashadow_migrate_stats");
	if (!migrate || !migrate_stats)
		t_fail("numashadow_migrate API not exported");
	pg = ns_page();
	if (numa_available() < 0 || numa_max_node() < 1)
		t_fail("needs 2 nodes; run it through tests/vm/migrate_file.sh");
	setvbuf(stdout, NULL, _IONBF, 0);

	snprintf(path, sizeof(path), "%s/vm_migrate_file.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, (off_t)FPAGES * pg))
		t_fail("%s: %s", path, strerror(errno));
	if (fstatfs(fd, &sf))
		t_fail("fstatfs: %s", strerror(errno));
	printf("file %s on a file system of type %#lx\n", path, (unsigned long)sf.f_type);
	fa = mmap(NULL, (size_t)FPAGES * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	t_assert(fa != MAP_FAILED);
	/* Bound to node 0 while the page cache fills. */
	if (set_mempolicy(MPOL_BIND, &node0, sizeof(node0) * 8))
		t_fail("set_mempolicy: %s", strerror(errno));
	for (int i = 0; i < FPAGES; i++)
		fa[(long)i * pg] = (char)(i + 1);
	if (set_mempolicy(MPOL_DEFAULT, NULL, 0))
		t_fail("set_mempolicy: %s", strerror(errno));
	expect_self(fa, FPAGES, 0, "after writing the file");
	ns_verify_clean(&api, "after writing the file");

	if (pipe(ready) || pipe(go))
		t_fail("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		t_fail("fork: %s", strerror(errno));
	if (child == 0) {
		char c;
		close(ready[0]);
		close(go[1]);
		fb = mmap(NULL, (size_t)FPAGES * pg, PROT_READ | PROT_WRITE,
			  MAP_SHARED, fd, 0);
		t_assert(fb != MAP_FAILED);
		/* Reading maps the page-cache pages in this process too. */
		if (sum_pages(fa, FPAGES) != sum_pages(fb, FPAGES))
			t_fail("the two mappings differ");
		if (write(ready[1], &fb, sizeof(fb)) != sizeof(fb) ||
		    read(go[0], &c, 1) != 1)
			_exit(1);	/* the parent failed: it says why */
		expect_self(fa, FPAGES, 1, "the child's inherited mapping");
		expect_self(fb, FPAGES, 1, "the child's own mapping");
		ns_verify_clean(&api, "in the child after the move");
		check_content(fa, FPAGES);
		check_content(fb, FPAGES);
		exit(T_PASS);
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &fb, sizeof(fb)) != sizeof(fb))
		t_fail("the child ended before it was ready");

	expect_mappers(fa, fb, child, 0, "before the move");
	expect_kernel(child, fa, FPAGES, 0, "the child's inherited mapping, before");
	expect_kernel(child, fb, FPAGES, 0, "the child's own mapping, before");

	struct numashadow_migrate_stats s0 = stats(), s1;
	long r = migrate(fa, (size_t)FPAGES * pg, 1,
			 NUMASHADOW_MIGRATE_SYNC | NUMASHADOW_MIGRATE_SHARED);
	s1 = stats();
	fprintf(stderr, "file: returned %ld; moved %lu, shared %lu, failed %lu\n", r,
		s1.moved - s0.moved, s1.failed_shared - s0.failed_shared,
		failed(&s1) - failed(&s0));
	if (r != FPAGES || s1.moved - s0.moved != FPAGES || failed(&s1) != failed(&s0))
		t_fail("file move: returned %ld, stats moved %lu, failed %lu; "
		       "expected %d, %d, 0", r, s1.moved - s0.moved,
		       failed(&s1) - failed(&s0), FPAGES, FPAGES);

	expect_self(fa, FPAGES, 1, "the parent after the move");
	expect_kernel(child, fa, FPAGES, 1, "the child's inherited mapping, after");
	expect_kernel(child, fb, FPAGES, 1, "the child's own mapping, after");
	expect_mappers(fa, fb, child, 1, "after the move");
	ns_verify_clean(&api, "in the parent after the move");

	char c = 0;
	int st;
	if (write(go[1], &c, 1) != 1)
		t_fail("the child is gone");
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
		t_fail("the child failed (status %#x)", st);
	check_content(fa, FPAGES);
	expect_self(fa, FPAGES, 1, "the parent after the child left");
	ns_verify_clean(&api, "at the end");
	munmap(fa, (size_t)FPAGES * pg);
	close(fd);
	unlink(path);
	printf("vm_migrate_file: PASS (%d page-cache pages, 3 mappings in 2 "
	       "processes, moved to node 1)\n", FPAGES);
	return T_PASS;
}
