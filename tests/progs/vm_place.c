/* SPDX-License-Identifier: MIT */
/*
 * vm_place CASE: first touches land where NUMASHADOW_POLICY says, in a
 * 2-node guest.  Each case needs the policy named in the table below (the
 * program refuses to judge under another one) and checks every page with
 * the kernel's own answer, move_pages(2) with nodes = NULL, then expects
 * numashadow_verify() to find nothing and every page to hold what was
 * written.
 *
 *   interleave    interleave=0-1: a 4 MiB mmap written page by page; the
 *                 page at addr is on node (addr >> 12) % 2, every one,
 *                 five of them again after madvise(MADV_DONTNEED) and a
 *                 second write.
 *   small         interleave=0-1: regions of 64 pages, below the size the
 *                 kernel places by numashadow's VMA policy: page vpn on
 *                 node vpn % 2; one the program binds to node 0 with its
 *                 own mbind() stays on node 0; once a thread binds
 *                 itself to node 0 (set_mempolicy), the untouched pages
 *                 of a region mapped before are the monitor's: the bound
 *                 thread's on node 0, the main thread's by vpn % 2, as
 *                 are those of a region mapped after.
 *   weighted      weighted-interleave=0:3,1:1: 4096 pages; a page whose
 *                 vpn % 4 < 3 is on node 0, the others on node 1, and the
 *                 totals are exactly 3:1.
 *   membind       membind=1: every page on node 1.
 *   preferred     preferred=1: every page on node 1.
 *   localalloc    localalloc: two threads pinned to CPU 0 (node 0) and
 *                 CPU 1 (node 1) write their own 2 MiB half of one region
 *                 at the same time, each from the start of its half up;
 *                 every page is on its writer's node.  (The halves are
 *                 2 MiB aligned and whole fault-around windows long, so
 *                 neither a huge page nor a window crosses between them.)
 *   localalloc-turns  the same, in turns: the thread on CPU 0 writes its
 *                 half whole, then the one on CPU 1 its own.  The first
 *                 thread's last window must not run on into the second
 *                 half (a window that began at its last page once filled
 *                 511 pages of it on node 0).
 *   own-mbind     membind=1: the program's mbind() keeps its meaning: a
 *                 region it binds to node 0 is on node 0, a region it
 *                 interleaves over 0-1 (no huge pages) has page vpn on
 *                 node vpn % 2, a region it leaves alone is on node 1.
 *   thread-policy membind=1: a thread bound to node 0 by a raw
 *                 syscall(SYS_set_mempolicy) and another by libnuma's
 *                 numa_set_membind() get their first touches on node 0;
 *                 the main thread's are on node 1; a thread the first one
 *                 creates while bound inherits its policy, as in the
 *                 kernel, and its first touches are on node 0; once the
 *                 first thread returns to MPOL_DEFAULT, its first touches
 *                 are on node 1 again.
 *   exec-policy   membind=1: a policy the program set before exec (as
 *                 numactl does) holds after it: the new image's first
 *                 touches, and those of a thread it creates, on node 0.
 *   dormant       interleave=0-1, run without --verify (nothing else
 *                 set, so the runtime waits: docs/placement.md, "Dormant
 *                 under a policy"): no thread of the runtime's while the
 *                 program writes 4 MiB it got from malloc, placed by the
 *                 kernel page vpn on node vpn % 2; the program's own 4 MiB
 *                 mmap starts the monitor (a second thread), and its pages
 *                 are on node vpn % 2 too.
 *   fork          membind=1: placement goes on after fork.  Before the
 *                 fork, region W is written and region U is not.  The
 *                 child first-touches U and a region it maps itself, both
 *                 on node 1, and writes W; a grandchild does the same with
 *                 a region of its own; the parent first-touches U too,
 *                 writes W and maps a region of its own, all first touches
 *                 on node 1.  Every process checks its contents and
 *                 numashadow_verify().  W's copies made by writes after
 *                 the fork are checked for content only: a copy on write
 *                 is not a first touch (their nodes are printed).
 *
 * Prints "vm_place CASE: PASS ..." on success.  Runs under `numashadow run
 * --verify` (it re-executes itself so when started plain); needs two nodes
 * with CPU n on node n: tests/vm/place_policies.sh, place_fork.sh and
 * place_no_uffd.sh run it.
 */
#include <dirent.h>
#include <stdbool.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>
#include "helpers.h"

#define REGION_PAGES 1024	/* 4 MiB */
#define WEIGHTED_PAGES 4096
#define SMALL_PAGES 64		/* 256 KiB: placed by the kernel */
#define HALF_PAGES 512		/* 2 MiB: one huge page, 32 windows of 16 */
#define HPAGE (2UL << 20)

static long pg;
static struct ns_api api;

/* ns_expect_nodes() with one node for every page. */
static void expect_all_on(const char *what, char *base, long n, int node)
{
	int *want = calloc((size_t)n, sizeof(*want));

	t_assert(want);
	for (long i = 0; i < n; i++)
		want[i] = node;
	ns_expect_nodes(what, base, n, want, NULL);
	free(want);
}

/* ---- regions ---- */

static char tag(char *p)
{
	return (char)(((uintptr_t)p >> 12) * 7 + 1);
}

/* Writes each page of [base, base + n pages) once, lowest first: that
 * write is the page's first touch. */
static void touch(char *base, long n)
{
	for (long i = 0; i < n; i++)
		base[i * pg] = tag(base + i * pg);
}

static void expect_content(const char *what, char *base, long n)
{
	for (long i = 0; i < n; i++)
		if (base[i * pg] != tag(base + i * pg))
			t_fail("%s: page %ld lost what was written to it", what, i);
}

static char *map_rw(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		t_fail("mmap of %zu bytes: %s", len, strerror(errno));
	return p;
}

/* len bytes starting on a 2 MiB boundary: the slack of a larger mapping
 * is unmapped again. */
static char *map_rw_aligned(size_t len)
{
	char *g = map_rw(len + HPAGE);
	char *a = (char *)(((uintptr_t)g + HPAGE - 1) & ~(HPAGE - 1));
	size_t head = (size_t)(a - g), tail = HPAGE - head;

	if ((head && munmap(g, head)) || (tail && munmap(a + len, tail)))
		t_fail("munmap: %s", strerror(errno));
	return a;
}

static uint64_t vpn(char *p)
{
	return (uintptr_t)p >> 12;
}

/* ---- threads ---- */

static void pin_to_cpu(int cpu)
{
	ns_pin_cpu(cpu);
	/* The kernel moves the caller off a forbidden CPU before returning;
	 * check rather than trust it. */
	if (sched_getcpu() != cpu)
		t_fail("pinned to CPU %d but running on %d", cpu, sched_getcpu());
}

static void bind_thread(int mode, unsigned long mask)
{
	if (syscall(SYS_set_mempolicy, mode, mode == MPOL_DEFAULT ? NULL : &mask,
		    mode == MPOL_DEFAULT ? 0UL : 64UL))
		t_fail("set_mempolicy(%d, %#lx): %s", mode, mask, strerror(errno));
}

struct toucher {
	char *base;		/* first page to write */
	long n;			/* pages to write */
	int cpu;		/* CPU to pin to, -1: none */
	pthread_barrier_t *go;	/* started together, when set */
	int how;		/* thread-policy: 1 raw syscall, 2 libnuma */
	char *later;		/* thread-policy: written after MPOL_DEFAULT */
	struct toucher *child;	/* thread-policy: run by a thread it creates */
};

static void *toucher_main(void *arg);

/* Runs t in a new thread of the caller's and waits for it. */
static void run_thread(struct toucher *t)
{
	pthread_t th;

	if (pthread_create(&th, NULL, toucher_main, t))
		t_fail("pthread_create");
	pthread_join(th, NULL);
}

static void *toucher_main(void *arg)
{
	struct toucher *t = arg;

	if (t->cpu >= 0)
		pin_to_cpu(t->cpu);
	if (t->how == 1) {
		bind_thread(MPOL_BIND, 1UL << 0);
	} else if (t->how == 2) {
		struct bitmask *m = numa_allocate_nodemask();
		numa_bitmask_setbit(m, 0);
		numa_set_membind(m);
		numa_free_nodemask(m);
	}
	if (t->how) {
		/* The kernel holds the thread's policy, so a page off node 0
		 * can only mean the runtime overrode it. */
		int mode = -1;
		unsigned long mask = 0;
		if (get_mempolicy(&mode, &mask, 64, NULL, 0) || mode != MPOL_BIND ||
		    mask != 1)
			t_fail("thread policy not set: mode %d, nodes %#lx", mode, mask);
	}
	if (t->go)
		pthread_barrier_wait(t->go);
	touch(t->base, t->n);
	if (t->child)
		run_thread(t->child);	/* created while this one is bound */
	if (t->later) {
		bind_thread(MPOL_DEFAULT, 0);
		touch(t->later, t->n);
	}
	return NULL;
}

static void run_threads(struct toucher *t, int n)
{
	pthread_t th[4];

	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, toucher_main, &t[i]))
			t_fail("pthread_create");
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

/* ---- the cases ---- */

static void case_interleave(void)
{
	long n = REGION_PAGES;
	char *r = map_rw((size_t)n * pg);
	int *want = calloc((size_t)n, sizeof(*want));
	long c[2];

	t_assert(want);
	touch(r, n);
	for (long i = 0; i < n; i++)
		want[i] = (int)(vpn(r + i * pg) % 2);
	ns_expect_nodes("interleave=0-1", r, n, want, c);
	expect_content("interleave=0-1", r, n);
	/* Pages dropped and written again are first touches again: a small
	 * range goes to the kernel (place_again()), on the same nodes. */
	if (madvise(r + 100 * pg, 5 * pg, MADV_DONTNEED))
		t_fail("madvise: %s", strerror(errno));
	touch(r + 100 * pg, 5);
	ns_expect_nodes("interleave=0-1, 5 pages dropped and written again", r, n, want, NULL);
	expect_content("interleave=0-1 after the drop", r, n);
	printf("vm_place interleave: PASS (%ld pages: %ld on node 0, %ld on node 1, "
	       "by vpn %% 2, 5 of them again after a drop)\n", n, c[0], c[1]);
	free(want);
}

static void case_weighted(void)
{
	long n = WEIGHTED_PAGES;
	char *r = map_rw((size_t)n * pg);
	int *want = calloc((size_t)n, sizeof(*want));
	long c[2];

	t_assert(want);
	touch(r, n);
	for (long i = 0; i < n; i++)
		want[i] = vpn(r + i * pg) % 4 < 3 ? 0 : 1;
	ns_expect_nodes("weighted-interleave=0:3,1:1", r, n, want, c);
	if (c[0] != n / 4 * 3 || c[1] != n / 4)
		t_fail("weighted: %ld pages on node 0, %ld on node 1; want %ld and %ld",
		       c[0], c[1], n / 4 * 3, n / 4);
	expect_content("weighted", r, n);
	printf("vm_place weighted: PASS (%ld pages: %ld on node 0, %ld on node 1)\n",
	       n, c[0], c[1]);
}

static void case_node1(const char *name)
{
	long n = REGION_PAGES;
	char *r = map_rw((size_t)n * pg);

	touch(r, n);
	expect_all_on(name, r, n, 1);
	expect_content(name, r, n);
	printf("vm_place %s: PASS (%ld pages on node 1)\n", name, n);
}

static void case_membind(void)
{
	case_node1("membind");
}

static void case_preferred(void)
{
	case_node1("preferred");
}

/* Two threads pinned to CPU 0 and CPU 1 write their own 2 MiB half of one
 * region: together (after a barrier), or in turns, the whole first half
 * before the second is touched. */
static void localalloc_halves(const char *name, bool together)
{
	long n = 2 * HALF_PAGES;
	char *r = map_rw_aligned((size_t)n * pg);
	int *want = calloc((size_t)n, sizeof(*want));
	pthread_barrier_t go;
	struct toucher t[2] = {
		{ .base = r, .n = HALF_PAGES, .cpu = 0, .go = together ? &go : NULL },
		{ .base = r + HALF_PAGES * pg, .n = HALF_PAGES, .cpu = 1,
		  .go = together ? &go : NULL },
	};
	long c[2];

	t_assert(want);
	if (together) {
		pthread_barrier_init(&go, NULL, 2);
		run_threads(t, 2);
		pthread_barrier_destroy(&go);
	} else {
		run_thread(&t[0]);
		run_thread(&t[1]);
	}
	for (long i = 0; i < n; i++)
		want[i] = i < HALF_PAGES ? 0 : 1;
	ns_expect_nodes(name, r, n, want, c);
	expect_content(name, r, n);
	printf("vm_place %s: PASS (%ld pages by the thread on CPU 0 on node 0, "
	       "%ld by the thread on CPU 1 on node 1)\n", name, c[0], c[1]);
	free(want);
}

static void case_localalloc(void)
{
	localalloc_halves("localalloc", true);
}

static void case_localalloc_turns(void)
{
	localalloc_halves("localalloc-turns", false);
}

static void case_own_mbind(void)
{
	long n = 256;
	unsigned long zero = 1UL << 0, both = 3;
	char *bound = map_rw((size_t)n * pg);
	char *inter = map_rw((size_t)n * pg);
	char *plain = map_rw((size_t)n * pg);
	int *want = calloc((size_t)n, sizeof(*want));

	t_assert(want);
	if (mbind(bound, (size_t)n * pg, MPOL_BIND, &zero, 64, 0))
		t_fail("mbind(MPOL_BIND, node 0): %s", strerror(errno));
	/* The kernel interleaves a huge page whole; 4 KiB pages make its
	 * page-by-page rule the one to check. */
	if (madvise(inter, (size_t)n * pg, MADV_NOHUGEPAGE))
		t_fail("madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	if (mbind(inter, (size_t)n * pg, MPOL_INTERLEAVE, &both, 64, 0))
		t_fail("mbind(MPOL_INTERLEAVE, 0-1): %s", strerror(errno));
	touch(bound, n);
	touch(inter, n);
	touch(plain, n);
	expect_all_on("own mbind(MPOL_BIND, node 0)", bound, n, 0);
	for (long i = 0; i < n; i++)
		want[i] = (int)(vpn(inter + i * pg) % 2);
	ns_expect_nodes("own mbind(MPOL_INTERLEAVE, 0-1)", inter, n, want, NULL);
	expect_all_on("no mbind", plain, n, 1);
	expect_content("own-mbind bound", bound, n);
	expect_content("own-mbind interleaved", inter, n);
	expect_content("own-mbind plain", plain, n);
	printf("vm_place own-mbind: PASS (bound to node 0: on node 0; interleaved: "
	       "by vpn %% 2; neither: on node 1)\n");
	free(want);
}

static void case_thread_policy(void)
{
	long n = 256;
	char *raw = map_rw((size_t)n * pg), *lib = map_rw((size_t)n * pg);
	char *after = map_rw((size_t)n * pg), *mine = map_rw((size_t)n * pg);
	char *inh = map_rw((size_t)n * pg);
	struct toucher child = { .base = inh, .n = n, .cpu = -1 };
	struct toucher t[2] = {
		{ .base = raw, .n = n, .cpu = -1, .how = 1, .later = after, .child = &child },
		{ .base = lib, .n = n, .cpu = -1, .how = 2 },
	};

	run_threads(t, 2);
	touch(mine, n);
	expect_all_on("thread bound by syscall(SYS_set_mempolicy)", raw, n, 0);
	expect_all_on("thread bound by numa_set_membind()", lib, n, 0);
	expect_all_on("thread created by a bound thread (inherits its policy)", inh, n, 0);
	expect_content("thread-policy inherited", inh, n);
	expect_all_on("the same thread back at MPOL_DEFAULT", after, n, 1);
	expect_all_on("main thread, no policy of its own", mine, n, 1);
	expect_content("thread-policy raw", raw, n);
	expect_content("thread-policy libnuma", lib, n);
	expect_content("thread-policy after", after, n);
	expect_content("thread-policy main", mine, n);
	printf("vm_place thread-policy: PASS (threads bound to node 0 by syscall and by "
	       "libnuma, and a thread one of them created: node 0; back to default and "
	       "the main thread: node 1)\n");
}

/* Pages of [base, base + n pages) on node vpn % 2, every one. */
static void expect_interleaved(const char *what, char *base, long n)
{
	int *want = calloc((size_t)n, sizeof(*want));

	t_assert(want);
	for (long i = 0; i < n; i++)
		want[i] = (int)(vpn(base + i * pg) % 2);
	ns_expect_nodes(what, base, n, want, NULL);
	free(want);
}

static void case_small(void)
{
	long n = SMALL_PAGES;
	unsigned long zero = 1UL << 0;
	char *first = map_rw((size_t)n * pg), *own = map_rw((size_t)n * pg);
	char *later = map_rw((size_t)n * pg);
	struct toucher t = { .base = later + n / 2 * pg, .n = n / 2, .cpu = -1, .how = 1 };

	/* Placed by the kernel under the VMA policy interleave=0-1 maps to;
	 * the program's own mbind() replaces it. */
	if (mbind(own, (size_t)n * pg, MPOL_BIND, &zero, 64, 0))
		t_fail("mbind(MPOL_BIND, node 0): %s", strerror(errno));
	touch(first, n);
	touch(own, n / 2);
	expect_interleaved("small region, no thread policy", first, n);
	/* A thread's own policy outranks numashadow's: from then on the
	 * untouched pages are the monitor's, the thread's go to node 0 and
	 * the main thread's are interleaved still; the program's binding
	 * stays. */
	run_thread(&t);
	touch(later, n / 2);
	touch(own + n / 2 * pg, n / 2);
	expect_interleaved("small region, main thread after a thread policy", later, n / 2);
	expect_all_on("small region, a thread bound to node 0", later + n / 2 * pg, n / 2, 0);
	expect_all_on("small region the program bound to node 0", own, n, 0);
	char *after = map_rw((size_t)n * pg);
	touch(after, n);
	expect_interleaved("small region mapped after a thread policy", after, n);
	expect_content("small first", first, n);
	expect_content("small own", own, n);
	expect_content("small later", later, n);
	expect_content("small after", after, n);
	printf("vm_place small: PASS (%ld-page regions: by vpn %% 2 from the kernel, then "
	       "the monitor; a bound thread's on node 0; the program's mbind kept)\n", n);
}

static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	t_assert(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void case_dormant(void)
{
	long n = (4 << 20) / pg;
	char *a = malloc((size_t)(n + 1) * pg);

	t_assert(a);
	char *ap = (char *)(((uintptr_t)a + pg - 1) & ~(uintptr_t)(pg - 1));
	touch(ap, n);
	if (threads() != 1)
		t_fail("dormant: %d threads after malloc's 4 MiB, expected 1", threads());
	expect_interleaved("malloc's 4 MiB, placed by the kernel", ap, n);
	char *m = map_rw((size_t)n * pg);
	if (threads() != 2)
		t_fail("dormant: %d threads after the program's 4 MiB, expected 2 "
		       "(the monitor)", threads());
	touch(m, n);
	expect_interleaved("the program's 4 MiB, placed by the monitor", m, n);
	expect_content("dormant malloc", ap, n);
	expect_content("dormant mmap", m, n);
	printf("vm_place dormant: PASS (%ld pages of malloc's by the kernel and %ld of "
	       "the program's by the monitor, each by vpn %% 2)\n", n, n);
}

/* The policy set before exec is the new image's: run once to bind and
 * exec, then again (VM_PLACE_EXECED set) to touch and judge. */
static void case_exec_policy(void)
{
	long n = 256;

	if (!getenv("VM_PLACE_EXECED")) {
		bind_thread(MPOL_BIND, 1UL << 0);
		setenv("VM_PLACE_EXECED", "1", 1);
		execl("/proc/self/exe", "vm_place", "exec-policy", (char *)NULL);
		t_fail("exec of /proc/self/exe: %s", strerror(errno));
	}
	char *mine = map_rw((size_t)n * pg), *thr = map_rw((size_t)n * pg);
	struct toucher t = { .base = thr, .n = n, .cpu = -1 };
	touch(mine, n);
	run_thread(&t);
	expect_all_on("after exec, the main thread bound before it", mine, n, 0);
	expect_all_on("after exec, a thread the main thread created", thr, n, 0);
	expect_content("exec-policy main", mine, n);
	expect_content("exec-policy thread", thr, n);
	printf("vm_place exec-policy: PASS (bound to node 0 before exec: the new image "
	       "and its thread on node 0)\n");
}

/* Copies made by writes after the fork: content checked, nodes printed. */
static void cow_writes(const char *who, char *w, long n)
{
	long c[2];
	int *st;

	for (long i = 0; i < n; i++)
		w[i * pg] = (char)(tag(w + i * pg) + 1);
	for (long i = 0; i < n; i++)
		if (w[i * pg] != (char)(tag(w + i * pg) + 1))
			t_fail("%s: page %ld of W lost its write after the fork", who, i);
	st = calloc((size_t)n, sizeof(*st));
	t_assert(st);
	ns_kernel_nodes(0, w, n, st);
	ns_count_nodes01(st, n, c);
	fprintf(stderr, "%s: W written after fork: node 0: %ld, node 1: %ld\n",
		who, c[0], c[1]);
	free(st);
}

/* The part every process of the fork case plays: first-touch U (inherited,
 * never touched) and a region of its own; both land on node 1. */
static void after_fork(const char *who, char *u, long n)
{
	char *own = map_rw((size_t)n * pg);
	char what[96];

	touch(u, n);
	touch(own, n);
	snprintf(what, sizeof(what), "%s: U, first touched after the fork", who);
	expect_all_on(what, u, n, 1);
	snprintf(what, sizeof(what), "%s: a region mapped after the fork", who);
	expect_all_on(what, own, n, 1);
	expect_content(what, own, n);
	expect_content(who, u, n);
}

static int wait_ok(pid_t pid, const char *who)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		t_fail("waitpid(%s): %s", who, strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "FAIL: %s ended with status %#x\n", who, status);
		return -1;
	}
	return 0;
}

static void case_fork(void)
{
	long n = 256;
	char *w = map_rw((size_t)n * pg), *u = map_rw((size_t)n * pg);
	pid_t child;

	touch(w, n);
	expect_all_on("W, written before the fork", w, n, 1);
	child = fork();
	if (child < 0)
		t_fail("fork: %s", strerror(errno));
	if (child == 0) {
		char *u2 = map_rw((size_t)n * pg);
		pid_t grandchild;

		expect_content("child: W before its write", w, n);
		cow_writes("child", w, n);
		after_fork("child", u, n);
		ns_verify_clean(&api, "child, after its writes");
		/* U2 is the child's own, untouched when it forks again. */
		grandchild = fork();
		if (grandchild < 0)
			t_fail("fork in the child: %s", strerror(errno));
		if (grandchild == 0) {
			after_fork("grandchild", u2, n);
			ns_verify_clean(&api, "grandchild");
			_exit(0);
		}
		if (wait_ok(grandchild, "the grandchild"))
			_exit(1);
		ns_verify_clean(&api, "child, after the grandchild");
		_exit(0);
	}
	cow_writes("parent", w, n);
	after_fork("parent", u, n);
	ns_verify_clean(&api, "parent, after its writes");
	if (wait_ok(child, "the child"))
		t_fail("the child or grandchild failed");
	ns_verify_clean(&api, "parent, after the child");
	printf("vm_place fork: PASS (first touches after fork on node 1 in parent, "
	       "child and grandchild)\n");
}

static const struct {
	const char *name;	/* the argument */
	const char *policy;	/* the NUMASHADOW_POLICY it judges */
	void (*run)(void);
} cases[] = {
	{ "interleave", "interleave=0-1", case_interleave },
	{ "small", "interleave=0-1", case_small },
	{ "weighted", "weighted-interleave=0:3,1:1", case_weighted },
	{ "membind", "membind=1", case_membind },
	{ "preferred", "preferred=1", case_preferred },
	{ "localalloc", "localalloc", case_localalloc },
	{ "localalloc-turns", "localalloc", case_localalloc_turns },
	{ "own-mbind", "membind=1", case_own_mbind },
	{ "thread-policy", "membind=1", case_thread_policy },
	{ "exec-policy", "membind=1", case_exec_policy },
	{ "fork", "membind=1", case_fork },
	{ "dormant", "interleave=0-1", case_dormant },
};

int main(int argc, char **argv)
{
	const char *pol = getenv("NUMASHADOW_POLICY");
	const char *rules = getenv("NUMASHADOW_RULES");

	ns_test_preload(argv);
	ns_api_need(&api);
	pg = ns_page();
	for (size_t i = 0; argc == 2 && i < sizeof(cases) / sizeof(*cases); i++) {
		if (strcmp(argv[1], cases[i].name))
			continue;
		if (!pol || strcmp(pol, cases[i].policy) || (rules && *rules))
			t_fail("case %s judges NUMASHADOW_POLICY=%s without rules; "
			       "the environment has %s and rules '%s'", cases[i].name,
			       cases[i].policy, pol ? pol : "(unset)", rules ? rules : "");
		if (numa_available() < 0 || numa_max_node() < 1 ||
		    numa_node_of_cpu(0) != 0 || numa_node_of_cpu(1) != 1)
			t_fail("needs nodes 0 and 1 with CPU n on node n; run it through "
			       "tests/vm/place_policies.sh");
		cases[i].run();
		ns_verify_clean(&api, cases[i].name);
		return T_PASS;
	}
	fprintf(stderr, "usage: vm_place CASE; cases:");
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		fprintf(stderr, " %s", cases[i].name);
	fputc('\n', stderr);
	return T_FAIL;
}
