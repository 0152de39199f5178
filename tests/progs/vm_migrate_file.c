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
#include "helpers.h"

#define FPAGES 256
#define SAMPLE 16	/* ask the reverse map about every SAMPLE-th page */

static long pg;
static struct ns_api api;

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
	struct numashadow_mapper want[3];
	int diffs = 0;

	for (int i = 0;; i = i + SAMPLE < FPAGES ? i + SAMPLE : FPAGES - 1) {
		long o = (long)i * pg;
		want[0] = (struct numashadow_mapper){ getpid(), fa + o };
		want[1] = (struct numashadow_mapper){ child, fa + o };
		want[2] = (struct numashadow_mapper){ child, fb + o };
		diffs += ns_mappers_diff(&api, fa + o, want, 3);
		diffs += ns_mappers_off_node(&api, fa + o, node, when);
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
	int ready[2], go[2], fd;
	struct statfs sf;
	pid_t child;

	(void)argc;
	ns_test_preload(argv);
	ns_api_need(&api);
	ns_migrate_need(&api);
	pg = ns_page();
	ns_need_nodes(1, "tests/vm/migrate_file.sh");
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
	ns_membind(0);
	for (int i = 0; i < FPAGES; i++)
		fa[(long)i * pg] = (char)(i + 1);
	ns_membind(-1);
	ns_expect_on_node(&api, fa, FPAGES, 0, "after writing the file");
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
		ns_expect_on_node(&api, fa, FPAGES, 1, "the child's inherited mapping");
		ns_expect_on_node(&api, fb, FPAGES, 1, "the child's own mapping");
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
	ns_expect_kernel(child, fa, FPAGES, 0, "the child's inherited mapping, before");
	ns_expect_kernel(child, fb, FPAGES, 0, "the child's own mapping, before");

	ns_migrate_expect_all(&api, "file", fa, FPAGES, 1,
			      NUMASHADOW_MIGRATE_SYNC | NUMASHADOW_MIGRATE_SHARED);

	ns_expect_on_node(&api, fa, FPAGES, 1, "the parent after the move");
	ns_expect_kernel(child, fa, FPAGES, 1, "the child's inherited mapping, after");
	ns_expect_kernel(child, fb, FPAGES, 1, "the child's own mapping, after");
	expect_mappers(fa, fb, child, 1, "after the move");
	ns_verify_clean(&api, "in the parent after the move");

	char c = 0;
	if (write(go[1], &c, 1) != 1)
		t_fail("the child is gone");
	ns_wait_ok(child, "the child");
	check_content(fa, FPAGES);
	ns_expect_on_node(&api, fa, FPAGES, 1, "the parent after the child left");
	ns_verify_clean(&api, "at the end");
	munmap(fa, (size_t)FPAGES * pg);
	close(fd);
	unlink(path);
	printf("vm_migrate_file: PASS (%d page-cache pages, 3 mappings in 2 "
	       "processes, moved to node 1)\n", FPAGES);
	return T_PASS;
}
