/* SPDX-License-Identifier: MIT */
/*
 * shared_file_fork: shared pages are found through their object, whatever
 * address maps them.  A four-page file is mapped MAP_SHARED twice in one
 * process (whole at fa, pages 1-3 at fb), next to a MAP_SHARED|MAP_ANONYMOUS
 * region; then the process forks.  The child touches every page (fork does
 * not copy the page tables of shared mappings), maps the last file page a
 * third time at fc and touches it, and maps the whole file at fu without
 * touching it (no page table entry, so no mapper; fc is one page long so
 * the kernel's fault-around cannot fill others).  Each process then checks
 * numashadow_page_mappers() of every page: exactly the (pid, address) pairs
 * whose page tables hold the page - both processes, both or three addresses
 * - and, when PFNs are visible, those pairs are first checked against the
 * kernel (the same pagemap PFN, and /proc/kpagecount equal to their number).
 * Writes through one mapping are seen through the others.  After the child
 * exits, only the parent's addresses remain.  numashadow_verify() must find
 * nothing at each step.
 */
#include <signal.h>
#include <sys/wait.h>
#include "helpers.h"

#define FPAGES 4
#define SPAGES 4

static long pg;
static struct ns_api api;
static char *fa, *fb, *fc, *fu, *sa;
static pid_t parent, child;
static int fails;

#define check(c, ...) do { if (!(c)) { \
	fprintf(stderr, "FAIL pid %d line %d: ", (int)getpid(), __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); fails++; } } while (0)

/* Which mappings exist at the moment of a check. */
enum { BEFORE_FORK, BOTH, CHILD_GONE };

/* Expected mappers of file page i. */
static int file_mappers(int i, int when, struct numashadow_mapper *w)
{
	int n = 0;
	pid_t who[2] = { parent, child };
	int procs = when == BOTH ? 2 : 1;
	for (int p = 0; p < procs; p++) {
		w[n++] = (struct numashadow_mapper){ who[p], fa + (long)i * pg };
		if (i >= 1)
			w[n++] = (struct numashadow_mapper){ who[p], fb + (long)(i - 1) * pg };
	}
	if (when == BOTH && i == FPAGES - 1)
		w[n++] = (struct numashadow_mapper){ child, fc };
	return n;
}

static int shm_mappers(int i, int when, struct numashadow_mapper *w)
{
	int n = 0;
	w[n++] = (struct numashadow_mapper){ parent, sa + (long)i * pg };
	if (when == BOTH)
		w[n++] = (struct numashadow_mapper){ child, sa + (long)i * pg };
	return n;
}

/* The expectation against the kernel: every expected pair holds the same
 * frame, and the frame's mapcount is their number.  Only the parent can
 * read the child's pagemap before the child has answered, so this runs in
 * whichever process calls it with the pids as they are. */
static void check_kernel(const char *what, const struct numashadow_mapper *w, int n)
{
	if (!ns_pfn_visible())
		return;
	uint64_t pfn = ns_pfn(w[0].pid == getpid() ? 0 : w[0].pid, w[0].addr);
	check(pfn, "%s: first mapper (%d, %p) has no page (test bug)", what,
	      (int)w[0].pid, w[0].addr);
	for (int j = 1; j < n; j++) {
		uint64_t f = ns_pfn(w[j].pid == getpid() ? 0 : w[j].pid, w[j].addr);
		check(f == pfn, "%s: (%d, %p) holds pfn %#" PRIx64 ", not %#" PRIx64
		      " (test bug)", what, (int)w[j].pid, w[j].addr, f, pfn);
	}
	long mc = ns_kpagecount(pfn);
	check(mc == n, "%s: kpagecount %ld, %d mappers expected (test bug)", what, mc, n);
}

static void check_all(int when, const char *step)
{
	struct numashadow_mapper w[8];
	char what[96];
	for (int i = 0; i < FPAGES; i++) {
		int n = file_mappers(i, when, w);
		snprintf(what, sizeof(what), "%s: file page %d", step, i);
		check_kernel(what, w, n);
		check(ns_mappers_diff(&api, fa + (long)i * pg, w, n) == 0, "%s: mappers differ", what);
		if (i >= 1)
			check(ns_mappers_diff(&api, fb + (long)(i - 1) * pg, w, n) == 0,
			      "%s (asked at fb): mappers differ", what);
		int kn = ns_kernel_node(fa + (long)i * pg);
		int node = api.page_node(fa + (long)i * pg);
		check(kn >= 0 && node == kn, "%s: numashadow_page_node %d, kernel %d", what, node, kn);
	}
	for (int i = 0; i < SPAGES; i++) {
		int n = shm_mappers(i, when, w);
		snprintf(what, sizeof(what), "%s: shared anonymous page %d", step, i);
		check_kernel(what, w, n);
		check(ns_mappers_diff(&api, sa + (long)i * pg, w, n) == 0, "%s: mappers differ", what);
		int kn = ns_kernel_node(sa + (long)i * pg);
		int node = api.page_node(sa + (long)i * pg);
		check(kn >= 0 && node == kn, "%s: numashadow_page_node %d, kernel %d", what, node, kn);
	}
	int d = api.verify();
	check(d == 0, "%s: numashadow_verify() = %d", step, d);
}

static void touch_read(const char *p, int n)
{
	for (int i = 0; i < n; i++)
		(void)*(volatile const char *)(p + (long)i * pg);
}

static void __attribute__((noreturn)) run_child(int fd_file, int to_parent, int from_parent)
{
	char go;
	child = getpid();
	touch_read(fa, FPAGES);
	touch_read(fb, FPAGES - 1);
	touch_read(sa, SPAGES);
	fc = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd_file, (FPAGES - 1) * pg);
	fu = mmap(NULL, FPAGES * pg, PROT_READ, MAP_SHARED, fd_file, 0);
	if (fc == MAP_FAILED || fu == MAP_FAILED)
		t_fail("child mmap: %s", strerror(errno));
	touch_read(fc, 1);
	sa[0] = 'c';		/* seen by the parent through its own mapping */
	ns_xfer(to_parent, &fc, sizeof(fc), 1);

	ns_xfer(from_parent, &go, 1, 0);
	check(fb[0] == 'p', "the parent's write to file page 1 is not seen at fb");
	check_all(BOTH, "child, both alive");
	int node = api.page_node(fu);
	check(node == -ENOENT, "untouched mapping fu: numashadow_page_node %d, want -ENOENT", node);
	exit(fails ? T_FAIL : T_PASS);
}

int main(int argc, char **argv)
{
	(void)argc;
	ns_test_preload(argv);
	signal(SIGPIPE, SIG_IGN);	/* a dead peer shows as a failed write */
	ns_api_need(&api);
	pg = ns_page();
	parent = getpid();

	char path[] = "/tmp/numashadow-shared-XXXXXX";
	int fd = mkstemp(path);
	t_assert(fd >= 0);
	unlink(path);		/* the open file is enough; nothing left behind on failure */
	char *page = calloc(1, pg);
	for (int i = 0; i < FPAGES; i++) {
		memset(page, 'A' + i, pg);
		t_assert(write(fd, page, pg) == pg);
	}
	free(page);

	fa = mmap(NULL, FPAGES * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	fb = mmap(NULL, (FPAGES - 1) * pg, PROT_READ, MAP_SHARED, fd, pg);
	sa = mmap(NULL, SPAGES * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	t_assert(fa != MAP_FAILED && fb != MAP_FAILED && sa != MAP_FAILED);
	for (int i = 0; i < FPAGES; i++)
		check(fa[(long)i * pg] == 'A' + i, "file page %d reads '%c'", i, fa[(long)i * pg]);
	touch_read(fb, FPAGES - 1);
	for (int i = 0; i < SPAGES; i++)
		sa[(long)i * pg] = 's';
	check(fb[pg] == 'C', "fb does not show file page 2");
	check_all(BEFORE_FORK, "parent, before fork");

	int c2p[2], p2c[2];
	t_assert(pipe(c2p) == 0 && pipe(p2c) == 0);
	child = fork();
	t_assert(child >= 0);
	if (child == 0) {
		close(c2p[0]);
		close(p2c[1]);
		run_child(fd, c2p[1], p2c[0]);
	}
	close(c2p[1]);
	close(p2c[0]);

	/* fc is an address in the child; the parent only names it. */
	ns_xfer(c2p[0], &fc, sizeof(fc), 0);
	check(sa[0] == 'c', "the child's write to the shared anonymous page is not seen");
	fa[pg] = 'p';
	check_all(BOTH, "parent, both alive");
	char go = 1;
	ns_xfer(p2c[1], &go, 1, 1);

	int st;
	t_assert(waitpid(child, &st, 0) == child);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
	check_all(CHILD_GONE, "parent, after the child exited");

	munmap(fb, (FPAGES - 1) * pg);
	struct numashadow_mapper w = { parent, fa + 3 * pg };
	check(ns_mappers_diff(&api, fa + 3 * pg, &w, 1) == 0, "after munmap of fb: mappers differ");
	check(api.verify() == 0, "numashadow_verify() after munmap of fb");
	close(fd);
	return fails ? T_FAIL : T_PASS;
}
