/* SPDX-License-Identifier: MIT */
/*
 * tests/helpers.h - shared helpers for integration and VM test programs.
 *
 * Exit codes follow the runner: 0 pass, 1 fail, 77 skip (print "SKIP: why").
 * ns_test_preload() re-executes the test under `numashadow run --verify`
 * unless the runtime is already loaded, so every test is one executable.
 */
#ifndef NS_TEST_HELPERS_H
#define NS_TEST_HELPERS_H

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "numashadow.h"

#define T_PASS 0
#define T_FAIL 1
#define T_SKIP 77

#define t_fail(...) do { \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(T_FAIL); \
} while (0)
#define t_skip(...) do { \
	printf("SKIP: "); printf(__VA_ARGS__); putchar('\n'); exit(T_SKIP); \
} while (0)
#define t_assert(c) do { if (!(c)) t_fail("assertion failed: %s", #c); } while (0)

/* The public API, found at run time as a program without the preload would. */
struct ns_api {
	int (*page_node)(const void *);
	int (*page_mappers)(const void *, struct numashadow_mapper *, int);
	int (*verify)(void);
	/* Only the migration tests need these: see ns_migrate_need(). */
	long (*migrate)(void *, size_t, int, unsigned);
	int (*migrate_stats)(struct numashadow_migrate_stats *);
};

/* 0 when the runtime is loaded (the first three functions found). */
static inline int ns_api_get(struct ns_api *a)
{
	a->page_node = (int (*)(const void *))dlsym(RTLD_DEFAULT, "numashadow_page_node");
	a->page_mappers = (int (*)(const void *, struct numashadow_mapper *, int))
		dlsym(RTLD_DEFAULT, "numashadow_page_mappers");
	a->verify = (int (*)(void))dlsym(RTLD_DEFAULT, "numashadow_verify");
	a->migrate = (long (*)(void *, size_t, int, unsigned))
		dlsym(RTLD_DEFAULT, "numashadow_migrate");
	a->migrate_stats = (int (*)(struct numashadow_migrate_stats *))
		dlsym(RTLD_DEFAULT, "numashadow_migrate_stats");
	return a->page_node && a->page_mappers && a->verify ? 0 : -1;
}

/* Re-exec argv under `numashadow run --verify --` unless already preloaded. */
static inline void ns_test_preload(char **argv)
{
	struct ns_api a;
	if (ns_api_get(&a) == 0)
		return;
	const char *bin = getenv("NUMASHADOW_BIN");
	if (!bin)
		bin = NS_BUILD_DIR "/numashadow";
	int n = 0;
	while (argv[n])
		n++;
	char **nv = calloc(n + 5, sizeof(*nv));
	nv[0] = (char *)bin; nv[1] = "run"; nv[2] = "--verify"; nv[3] = "--";
	for (int i = 0; i < n; i++)
		nv[4 + i] = argv[i];
	execv(bin, nv);
	t_fail("cannot exec %s: %s", bin, strerror(errno));
}

/* Runs this test again as argv[0] "dormant", preloaded with no setting:
 * the environment less every NUMASHADOW_* variable, LD_PRELOAD kept; fails
 * unless that run exits 0. */
static inline void ns_rerun_dormant(char **argv)
{
	extern char **environ;
	int n = 0, k = 0;

	while (environ[n])
		n++;
	char **env = calloc(n + 1, sizeof(*env));
	for (int i = 0; i < n; i++)
		if (strncmp(environ[i], "NUMASHADOW_", 11))
			env[k++] = environ[i];
	if (!getenv("LD_PRELOAD"))
		t_fail("not preloaded: no dormant run to make");
	char *const again[] = { argv[0], "dormant", NULL };
	pid_t pid = fork();
	if (pid == 0) {
		execve("/proc/self/exe", again, env);
		_exit(127);
	}
	if (pid < 0)
		t_fail("fork: %s", strerror(errno));
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		t_fail("the dormant run (pid %d) failed: status %#x", (int)pid, st);
	free(env);
}

/* ---- the kernel's truth, read directly (never through the runtime) ---- */

/* Bits of a /proc/PID/pagemap entry (Documentation/admin-guide/mm/pagemap.rst). */
#define NS_PM_PRESENT	(1ULL << 63)
#define NS_PM_SWAPPED	(1ULL << 62)
#define NS_PM_EXCLUSIVE	(1ULL << 56)
#define NS_PM_PFN	((1ULL << 55) - 1)

static inline long ns_page(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* Map npages with prot between two PROT_NONE guard pages, so the kernel
 * cannot merge the region with a neighbour and its VMAs are predictable.
 * Returns the first usable page or MAP_FAILED. */
static inline char *ns_map_guarded(size_t npages, int prot)
{
	long pg = ns_page();
	char *g = mmap(NULL, (npages + 2) * pg, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g == MAP_FAILED)
		return MAP_FAILED;
	if (mprotect(g + pg, npages * pg, prot))
		return MAP_FAILED;
	return g + pg;
}

/* Pagemap entry of addr in process pid (0 = self): 0 or -errno. */
static inline int ns_pagemap(pid_t pid, const void *addr, uint64_t *entry)
{
	char path[64];
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	off_t off = (off_t)((uintptr_t)addr / ns_page()) * 8;
	ssize_t n = pread(fd, entry, sizeof(*entry), off);
	int err = n == (ssize_t)sizeof(*entry) ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	return err;
}

/* Physical frame of the page at addr, 0 when absent or hidden (needs
 * CAP_SYS_ADMIN). */
static inline uint64_t ns_pfn(pid_t pid, const void *addr)
{
	uint64_t e;
	if (ns_pagemap(pid, addr, &e) || !(e & NS_PM_PRESENT))
		return 0;
	return e & NS_PM_PFN;
}

/* 1 when pagemap shows real PFNs to this process. */
static inline int ns_pfn_visible(void)
{
	static volatile char probe[1];
	probe[0] = 1;
	return ns_pfn(0, (const void *)probe) != 0;
}

/* The kernel's mapcount of a frame from /proc/kpagecount, or -errno. */
static inline long ns_kpagecount(uint64_t pfn)
{
	uint64_t c;
	int fd = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = pread(fd, &c, sizeof(c), (off_t)(pfn * 8));
	close(fd);
	return n == (ssize_t)sizeof(c) ? (long)c : -EIO;
}

/* The kernel's answer to "which node holds addr" in process pid (0 =
 * self): node >= 0, -ENOENT when no page is present, -EFAULT when
 * unmapped.  Mind: the kernel also says -EFAULT for a read-only mapping of
 * the shared zero page, so tests write a page before asking about it. */
static inline int ns_kernel_node_in(pid_t pid, const void *addr)
{
	void *p = (void *)addr;
	int status = -EIO;
	if (syscall(SYS_move_pages, pid, 1UL, &p, NULL, &status, 0) < 0)
		return -errno;
	return status;
}

/* ns_kernel_node_in() for this process. */
static inline int ns_kernel_node(const void *addr)
{
	return ns_kernel_node_in(0, addr);
}

/* The kernel's node of each of the n pages from base in process pid (0 =
 * self), by one move_pages(2) call with nodes = NULL: status[i] is a node
 * or -errno.  A failed call fails the test.  Each status starts at -1000,
 * an answer the kernel never gives, so one it left unwritten cannot pass
 * for node 0. */
static inline void ns_kernel_nodes(pid_t pid, const char *base, long n, int *status)
{
	void **pages = calloc((size_t)n, sizeof(*pages));
	long pg = ns_page();

	t_assert(pages);
	for (long i = 0; i < n; i++) {
		pages[i] = (char *)base + i * pg;
		status[i] = -1000;
	}
	if (syscall(SYS_move_pages, pid, (unsigned long)n, pages, NULL, status, 0) < 0)
		t_fail("move_pages query of pid %d: %s", (int)pid, strerror(errno));
	free(pages);
}

/* Counts the pages status[0..n) puts on node 0 and on node 1 into c. */
static inline void ns_count_nodes01(const int *status, long n, long c[2])
{
	c[0] = c[1] = 0;
	for (long i = 0; i < n; i++)
		if (status[i] == 0 || status[i] == 1)
			c[status[i]]++;
}

/* Every page of [base, base + n pages) in process pid (0 = self) must be
 * on node for the kernel. */
static inline void ns_expect_kernel(pid_t pid, const char *base, long n, int node,
				    const char *when)
{
	int *st = calloc((size_t)n, sizeof(*st));
	long bad = 0, first = -1;

	t_assert(st);
	ns_kernel_nodes(pid, base, n, st);
	for (long i = 0; i < n; i++)
		if (st[i] != node && bad++ == 0)
			first = i;
	if (bad)
		t_fail("%s: pid %d: kernel has %ld of %ld pages off node %d (%p: %d)",
		       when, (int)(pid ? pid : getpid()), bad, n, node,
		       (void *)(base + first * ns_page()), st[first]);
	free(st);
}

/* Page i of [base, base + n pages) must be on want[i] for the kernel;
 * prints the pages found on nodes 0 and 1, and leaves them in counts
 * (may be NULL). */
static inline void ns_expect_nodes(const char *what, const char *base, long n,
				   const int *want, long counts[2])
{
	int *st = calloc((size_t)n, sizeof(*st));
	long bad = 0, first = -1, c[2];

	t_assert(st);
	ns_kernel_nodes(0, base, n, st);
	ns_count_nodes01(st, n, c);
	for (long i = 0; i < n; i++)
		if (st[i] != want[i] && bad++ == 0)
			first = i;
	fprintf(stderr, "%s: %ld pages: node 0: %ld, node 1: %ld\n", what, n, c[0], c[1]);
	if (bad)
		t_fail("%s: %ld of %ld pages misplaced; first: page %ld at %p on %d, "
		       "want %d", what, bad, n, first, (void *)(base + first * ns_page()),
		       st[first], want[first]);
	if (counts) {
		counts[0] = c[0];
		counts[1] = c[1];
	}
	free(st);
}

/* One line of /proc/PID/maps. */
struct maps_line {
	uintptr_t start, end;	/* [start, end) */
	char perms[5];		/* "rw-p" */
	unsigned long long off;	/* file offset in bytes; 0 for anonymous */
	unsigned long ino;	/* inode, 0 for anonymous */
	char name[80];		/* path or [heap]/[stack]/..., cut; may be empty */
};

#define NS_MAPS_BYTES	(512 * 1024)
#define NS_MAPS_MAX	4096

/* A snapshot of /proc/PID/maps, valid until the next ns_maps_load() in the
 * same thread. */
struct ns_maps {
	int n;
	struct maps_line *v;
};

/* Read /proc/PID/maps (0 = self) into m; returns the number of VMAs or
 * -errno.  The buffers are per thread and static: allocating them could map
 * memory exactly where a test expects nothing to be. */
static inline int ns_maps_load(pid_t pid, struct ns_maps *m)
{
	static __thread char buf[NS_MAPS_BYTES];
	static __thread struct maps_line vmas[NS_MAPS_MAX];
	char path[64];
	size_t len = 0;
	ssize_t r = 0;

	m->n = 0;
	m->v = vmas;
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/maps");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof(buf) - 1 && (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	int err = r < 0 ? -errno : len == sizeof(buf) - 1 ? -E2BIG : 0;
	close(fd);
	if (err)
		return err;
	buf[len] = 0;
	for (char *line = buf, *nl; *line && m->n < NS_MAPS_MAX; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = 0;
		struct maps_line *v = &vmas[m->n];
		unsigned long s, e, ino;
		unsigned int maj, min;
		int name_at = 0;
		if (sscanf(line, "%lx-%lx %4s %llx %x:%x %lu %n", &s, &e, v->perms,
			   &v->off, &maj, &min, &ino, &name_at) < 7)
			continue;
		v->start = s;
		v->end = e;
		v->ino = ino;
		snprintf(v->name, sizeof(v->name), "%s", name_at ? line + name_at : "");
		m->n++;
	}
	return *buf && m->n == NS_MAPS_MAX ? -E2BIG : m->n;
}

static inline void ns_maps_free(struct ns_maps *m)
{
	m->v = NULL;
	m->n = 0;
}

/* The VMA of m holding addr, or NULL. */
static inline const struct maps_line *ns_maps_find(const struct ns_maps *m,
						const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	for (int i = 0; i < m->n; i++)
		if (m->v[i].start <= a && a < m->v[i].end)
			return &m->v[i];
	return NULL;
}

/* ---- the machine, threads and processes ---- */

/* Fails unless nodes 0..max exist: a test that needs them runs in the
 * guest (script), never skipped. */
static inline void ns_need_nodes(int max, const char *script)
{
	if (numa_available() < 0 || numa_max_node() < max)
		t_fail("needs %d nodes; run it through %s", max + 1, script);
}

/* Pins the calling thread to cpu, or fails: a test that says "the thread
 * on node 1" must not run elsewhere. */
static inline void ns_pin_cpu(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s))
		t_fail("sched_setaffinity(%d): %s", cpu, strerror(errno));
}

/* Binds this thread's allocations to node (MPOL_BIND), or back to the
 * default when node < 0: first touches in between land on node whatever
 * CPU the thread runs on. */
static inline void ns_membind(int node)
{
	unsigned long mask = 1UL << (node < 0 ? 0 : node);

	if (node >= 0 ? set_mempolicy(MPOL_BIND, &mask, sizeof(mask) * 8)
		      : set_mempolicy(MPOL_DEFAULT, NULL, 0))
		t_fail("set_mempolicy: %s", strerror(errno));
}

/* Waits for the child pid, which must exit 0: a child that failed has
 * said why. */
static inline void ns_wait_ok(pid_t pid, const char *who)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		t_fail("waitpid %s: %s", who, strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		t_fail("%s (pid %d) failed: %s %d", who, (int)pid,
		       WIFEXITED(st) ? "exit" : "signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* Moves n bytes through a pipe between the processes of a test: out
 * writes, else reads.  A short transfer means the peer is gone. */
static inline void ns_xfer(int fd, void *buf, size_t n, int out)
{
	ssize_t r = out ? write(fd, buf, n) : read(fd, buf, n);
	if (r != (ssize_t)n)
		t_fail("pipe %s: %zd: %s", out ? "write" : "read", r, strerror(errno));
}

/* ---- the runtime's answers, checked ---- */

/* ns_api_get() or fail: a test that runs preloaded must see the API. */
static inline void ns_api_need(struct ns_api *a)
{
	if (ns_api_get(a))
		t_fail("numashadow API not found although preloaded");
}

/* numashadow_verify() must find nothing at this point of the test. */
#define ns_verify_clean(a, where) do { \
	int ns_d_ = (a)->verify(); \
	if (ns_d_ != 0) \
		t_fail("numashadow_verify() = %d at %s", ns_d_, (where)); \
} while (0)

/* Compare the runtime's mappers of addr with want[0..nwant) as sets; prints
 * each difference to stderr and returns how many there were. */
static inline int ns_mappers_diff(const struct ns_api *a, const void *addr,
				  const struct numashadow_mapper *want, int nwant)
{
	enum { MAX = 256 };
	struct numashadow_mapper got[MAX];
	int n = a->page_mappers(addr, got, MAX);
	int diffs = 0;
	if (n < 0) {
		fprintf(stderr, "mappers of %p: error %d\n", addr, n);
		return 1;
	}
	if (n > MAX) {
		fprintf(stderr, "mappers of %p: %d, more than %d\n", addr, n, MAX);
		return 1;
	}
	if (n != nwant) {
		fprintf(stderr, "mappers of %p: %d, want %d\n", addr, n, nwant);
		diffs++;
	}
	char used[MAX] = { 0 };
	for (int w = 0; w < nwant; w++) {
		int hit = 0;
		for (int g = 0; g < n && !hit; g++)
			if (!used[g] && got[g].pid == want[w].pid &&
			    got[g].addr == want[w].addr)
				used[g] = hit = 1;
		if (!hit) {
			fprintf(stderr, "mappers of %p: missing (%d, %p)\n", addr,
				(int)want[w].pid, want[w].addr);
			diffs++;
		}
	}
	for (int g = 0; g < n; g++)
		if (!used[g]) {
			fprintf(stderr, "mappers of %p: unexpected (%d, %p)\n", addr,
				(int)got[g].pid, got[g].addr);
			diffs++;
		}
	return diffs;
}

/* The page at a is present for the kernel (or absent when !present: a
 * wrong premise is a test bug), the runtime agrees on its node, and a
 * present page has this process at a as its only mapper. */
static inline void ns_check_own_page(const struct ns_api *api, const char *step,
				     char *a, int present)
{
	int kn = ns_kernel_node(a), node = api->page_node(a);
	if (present ? kn < 0 : kn != -ENOENT)
		t_fail("%s: %p: kernel node %d (test bug)", step, (void *)a, kn);
	if (node != kn)
		t_fail("%s: %p: numashadow_page_node %d, kernel %d", step, (void *)a, node, kn);
	if (present) {
		struct numashadow_mapper me = { getpid(), a };
		if (ns_mappers_diff(api, a, &me, 1))
			t_fail("%s: %p: mappers differ", step, (void *)a);
	}
}

/* Asks the kernel about every (pid, address) the runtime names as a mapper
 * of addr: each must hold the page on node.  Prints each that does not and
 * returns how many. */
static inline int ns_mappers_off_node(const struct ns_api *api, const void *addr,
				      int node, const char *when)
{
	enum { MAX = 4 };	/* one more than any test expects; extra mappers
				 * are ns_mappers_diff()'s to report */
	struct numashadow_mapper got[MAX];
	int m = api->page_mappers(addr, got, MAX), diffs = 0;

	for (int k = 0; k < m && k < MAX; k++) {
		int st = ns_kernel_node_in(got[k].pid, got[k].addr);
		if (st != node) {
			fprintf(stderr, "%s: page %p at (%d, %p): kernel node %d, "
				"expected %d\n", when, addr, (int)got[k].pid,
				got[k].addr, st, node);
			diffs++;
		}
	}
	return diffs;
}

/* Every page of [base, base + n pages) is on node for the kernel, and
 * the runtime says so too. */
static inline void ns_expect_on_node(const struct ns_api *api, const char *base,
				     long n, int node, const char *when)
{
	long pg = ns_page();

	ns_expect_kernel(0, base, n, node, when);
	for (long i = 0; i < n; i++) {
		const char *p = base + i * pg;
		int s = api->page_node(p);
		if (s != node)
			t_fail("%s: pid %d: numashadow_page_node(%p) = %d, kernel %d",
			       when, (int)getpid(), (void *)p, s, node);
	}
}

/* ---- migration ---- */

/* numashadow_migrate() and its stats, or fail: the migration tests need
 * them although ns_api_get() does not. */
static inline void ns_migrate_need(const struct ns_api *a)
{
	if (!a->migrate || !a->migrate_stats)
		t_fail("numashadow_migrate API not exported");
}

/* numashadow_migrate_stats() now, or fail. */
static inline struct numashadow_migrate_stats ns_migrate_stats(const struct ns_api *a)
{
	struct numashadow_migrate_stats s;
	int r = a->migrate_stats(&s);
	if (r)
		t_fail("numashadow_migrate_stats() = %d", r);
	return s;
}

/* Pages the migration stats count failed, whatever the reason. */
static inline unsigned long ns_failed(const struct numashadow_migrate_stats *s)
{
	return s->failed_shared + s->failed_not_present + s->failed_nomem +
	       s->failed_fault + s->failed_busy + s->failed_other;
}

/* One line on stderr for a call that returned r, stats a before, b after. */
static inline void ns_migrate_report(const char *what, long r,
				     const struct numashadow_migrate_stats *a,
				     const struct numashadow_migrate_stats *b)
{
	fprintf(stderr, "%s: returned %ld; moved %lu, shared %lu, failed %lu\n", what, r,
		b->moved - a->moved, b->failed_shared - a->failed_shared,
		ns_failed(b) - ns_failed(a));
}

/* numashadow_migrate() of the n pages at addr to node must move every one
 * and fail none, by its return and by the stats; what names it on the
 * stderr line of ns_migrate_report(). */
static inline void ns_migrate_expect_all(const struct ns_api *a, const char *what,
					 char *addr, long n, int node, unsigned flags)
{
	struct numashadow_migrate_stats s0 = ns_migrate_stats(a), s1;
	long r = a->migrate(addr, (size_t)n * ns_page(), node, flags);

	s1 = ns_migrate_stats(a);
	ns_migrate_report(what, r, &s0, &s1);
	if (r != n || s1.moved - s0.moved != (unsigned long)n ||
	    ns_failed(&s1) != ns_failed(&s0))
		t_fail("%s: returned %ld, stats moved %lu, failed %lu; expected %ld, "
		       "%ld, 0", what, r, s1.moved - s0.moved,
		       ns_failed(&s1) - ns_failed(&s0), n, n);
}

#endif
