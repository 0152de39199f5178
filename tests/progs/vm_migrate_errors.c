/* SPDX-License-Identifier: MIT */
/*
 * vm_migrate_errors: each way a migration can fail lands where
 * runtime/migrate.c and docs/migration.md say, by reason and by nothing
 * else.  One case per run (`vm_migrate_errors CASE`, under `numashadow run
 * --verify`), each checking the return of numashadow_migrate(), the change
 * in every numashadow_migrate_stats() field (calls and passes included),
 * the kernel's own node of every page (move_pages(2) with nodes = NULL) and
 * a clean numashadow_verify():
 *   eacces-fork     pages shared with a fork child, no SHARED flag: 0
 *                   returned, every page failed_shared, without a
 *                   move_pages pass (the engine knows from the reverse map);
 *                   the kernel itself answers -EACCES for such a page; with
 *                   SHARED (root: CAP_SYS_NICE) they move for both processes.
 *   eacces-outside  tmpfs file pages also mapped by a process outside the
 *                   family (exec'd without the preload): the kernel is asked
 *                   and its -EACCES is counted failed_shared; with SHARED
 *                   they move for both.
 *   enodev          a node that is not online: the kernel says -ENODEV; the
 *                   engine refuses with -EINVAL before counting anything.
 *   einval          unknown flag bits, a range that wraps, stats(NULL):
 *                   -EINVAL, no counter moves; valid flags still work.
 *   enoent          never-touched pages and pages dropped by MADV_DONTNEED:
 *                   not moved, not counted, no pass; the present ones move.
 *   unmapped        a range nothing maps: documented to return 0.
 *   partial         a range whose mapped head holds pages and whose tail is
 *                   unmapped: the head's pages move.  (These two run with
 *                   an alarm: a call that never returns fails the case.)
 *   efault          zero-page and hole pages (the kernel says -EFAULT for
 *                   them): never sent, counted nowhere; the written pages
 *                   around them move.
 *   ebusy           a page a pipe holds (vmsplice): failed_busy exactly
 *                   once, the rest move, the shadow agrees page by page;
 *                   once the pipe is drained it moves too.
 * Helper modes for tests/vm/migrate_errors.sh (not preloaded unless run so):
 * `serve INFO pin|fork|idle` (a target for `numashadow migrate`), `holder`,
 * `asuser UID CMD...`, `nocap CMD...`, `rawq PID ADDR`, `timeout SECS
 * CMD...`.  Needs a 2-node guest and root: tests/vm/migrate_errors.sh
 * runs it.
 */
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <numa.h>
#include <numaif.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include "helpers.h"

static long pg;
static struct ns_api api;
static const char *case_name = "?";

/* ---- stats ---- */

typedef struct numashadow_migrate_stats stats_t;

#define PASSES_ANY  (-1L)	/* at least one move_pages pass */
#define PASSES_NONE 0L		/* the kernel was never asked to move */

static stats_t st_now(void)
{
	return ns_migrate_stats(&api);
}

/* Every field of b - a must equal want's (passes: PASSES_ANY = at least
 * one, else exact); prints the whole change first. */
static void expect_delta(const char *what, long r, const stats_t *a, const stats_t *b,
			 const stats_t *want, long passes)
{
	struct { const char *name; unsigned long d, w; } f[] = {
		{ "calls", b->calls - a->calls, want->calls },
		{ "moved", b->moved - a->moved, want->moved },
		{ "already", b->already - a->already, want->already },
		{ "failed_shared", b->failed_shared - a->failed_shared, want->failed_shared },
		{ "failed_not_present", b->failed_not_present - a->failed_not_present,
		  want->failed_not_present },
		{ "failed_nomem", b->failed_nomem - a->failed_nomem, want->failed_nomem },
		{ "failed_fault", b->failed_fault - a->failed_fault, want->failed_fault },
		{ "failed_busy", b->failed_busy - a->failed_busy, want->failed_busy },
		{ "failed_other", b->failed_other - a->failed_other, want->failed_other },
	};
	unsigned long dp = b->passes - a->passes;
	int bad = 0;

	fprintf(stderr, "%s: %s: returned %ld; calls +%lu moved +%lu already +%lu "
		"shared +%lu not_present +%lu nomem +%lu fault +%lu busy +%lu "
		"other +%lu passes +%lu\n", case_name, what, r, f[0].d, f[1].d, f[2].d,
		f[3].d, f[4].d, f[5].d, f[6].d, f[7].d, f[8].d, dp);
	for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].d != f[i].w) {
			fprintf(stderr, "%s: %s: %s went up by %lu, expected %lu\n",
				case_name, what, f[i].name, f[i].d, f[i].w);
			bad++;
		}
	if (passes == PASSES_ANY ? dp == 0 : dp != (unsigned long)passes) {
		fprintf(stderr, "%s: %s: passes went up by %lu, expected %s\n", case_name,
			what, dp, passes == PASSES_ANY ? "at least 1" : "0");
		bad++;
	}
	if (bad)
		t_fail("%s: %s: %d counters wrong", case_name, what, bad);
}

/* One numashadow_migrate() whose return and counters are known. */
static void migrate_expect(const char *what, void *addr, long npages, int node,
			   unsigned flags, long want_r, const stats_t *want, long passes)
{
	stats_t a = st_now(), b;
	long r = api.migrate(addr, (size_t)npages * pg, node, flags);

	b = st_now();
	expect_delta(what, r, &a, &b, want, passes);
	if (r != want_r)
		t_fail("%s: %s: numashadow_migrate() = %ld, expected %ld", case_name,
		       what, r, want_r);
}

/* A call refused before the engine runs: want_r, and no field moves. */
static void refused(const char *what, void *addr, size_t len, int node, unsigned flags,
		    long want_r)
{
	static const stats_t none;
	stats_t a = st_now(), b;
	long r = api.migrate(addr, len, node, flags);

	b = st_now();
	expect_delta(what, r, &a, &b, &none, PASSES_NONE);
	if (r != want_r)
		t_fail("%s: %s: numashadow_migrate() = %ld, expected %ld", case_name,
		       what, r, want_r);
}

/* ---- memory ---- */

/* n pages between guards, each filled with its own byte, on node 0. */
static char *fresh(long n, char tag)
{
	char *b = ns_map_guarded((size_t)n, PROT_READ | PROT_WRITE);

	t_assert(b != MAP_FAILED);
	ns_membind(0);
	for (long i = 0; i < n; i++)
		memset(b + i * pg, (char)(tag + i), (size_t)pg);
	ns_membind(-1);
	return b;
}

static void content(const char *b, long n, char tag, const char *when)
{
	for (long i = 0; i < n; i++)
		if (b[i * pg] != (char)(tag + i) || b[i * pg + pg - 1] != (char)(tag + i))
			t_fail("%s: %s: page %ld lost its content", case_name, when, i);
}

/* The kernel's answer for each page of [b, b + n pages) must be want[i]
 * (or, where alt is not NULL and alt[i] != 0, alt[i]). */
static void kernel_says(pid_t pid, const char *b, long n, const int *want,
			const int *alt, const char *when)
{
	int st[256];
	long bad = 0;

	t_assert(n <= 256);
	ns_kernel_nodes(pid, b, n, st);
	for (long i = 0; i < n; i++)
		if (st[i] != want[i] && !(alt && alt[i] && st[i] == alt[i]) && bad++ < 4)
			fprintf(stderr, "%s: %s: pid %d page %ld: kernel says %d, expected %d\n",
				case_name, when, (int)(pid ? pid : getpid()), i, st[i], want[i]);
	if (bad)
		t_fail("%s: %s: %ld pages not where expected", case_name, when, bad);
}

static void all_on(pid_t pid, const char *b, long n, int node, const char *when)
{
	int w[256];

	t_assert(n <= 256);
	for (long i = 0; i < n; i++)
		w[i] = node;
	kernel_says(pid, b, n, w, NULL, when);
}

/* move_pages(2) of one page by hand: the call's -errno, or the page's
 * status when the call went through. */
static int raw_move(pid_t pid, void *addr, int node, int flags, int *status)
{
	int nd = node;
	*status = -1000;
	if (syscall(SYS_move_pages, pid, 1UL, &addr, &nd, status, flags) < 0)
		return -errno;
	return 0;
}

static void done(void)
{
	ns_verify_clean(&api, case_name);
	printf("%s: PASS\n", case_name);
	exit(T_PASS);
}

/* ---- the cases ---- */

static void case_eacces_fork(void)
{
	enum { N = 64 };
	char *b = fresh(N, 1);
	int go[2], st;
	pid_t c;

	if (pipe(go))
		t_fail("pipe: %s", strerror(errno));
	c = fork();
	if (c < 0)
		t_fail("fork: %s", strerror(errno));
	if (c == 0) {
		char x;
		close(go[1]);
		if (read(go[0], &x, 1) != 1)
			_exit(2);
		content(b, N, 1, "child, after the moves");
		/* The parent moved them for both of us. */
		all_on(0, b, N, 1, "child's view after the SHARED move");
		_exit(0);
	}
	close(go[0]);
	all_on(0, b, N, 0, "before");
	all_on(c, b, N, 0, "child, before");
	migrate_expect("shared after fork, no SHARED flag", b, N, 1, NUMASHADOW_MIGRATE_SYNC,
		       0, &(stats_t){ .calls = 1, .failed_shared = N }, PASSES_NONE);
	all_on(0, b, N, 0, "after the refused move");
	all_on(c, b, N, 0, "child, after the refused move");
	/* The kernel's own answer for such a page: -EACCES, nothing moved. */
	int e = raw_move(0, b, 1, MPOL_MF_MOVE, &st);
	fprintf(stderr, "%s: move_pages(MPOL_MF_MOVE) of a shared page: call %d, status %d\n",
		case_name, e, st);
	if (e != 0 || st != -EACCES)
		t_fail("kernel: call %d, status %d; expected 0 and -EACCES (%d)", e, st, -EACCES);
	migrate_expect("async, no SHARED flag", b, N, 1, 0, 0,
		       &(stats_t){ .calls = 1, .failed_shared = N }, PASSES_NONE);
	/* Root has CAP_SYS_NICE: with SHARED they move for both. */
	migrate_expect("with SHARED", b, N, 1, NUMASHADOW_MIGRATE_SYNC | NUMASHADOW_MIGRATE_SHARED,
		       N, &(stats_t){ .calls = 1, .moved = N }, PASSES_ANY);
	all_on(0, b, N, 1, "after the SHARED move");
	all_on(c, b, N, 1, "child, after the SHARED move");
	if (write(go[1], "x", 1) != 1)
		t_fail("pipe write: %s", strerror(errno));
	ns_wait_ok(c, "child");
	content(b, N, 1, "parent");
	done();
}

/* Exec'd from case_eacces_outside without the preload: maps the file,
 * reads every page, tells its address, holds the mapping until stdin ends. */
static int holder(const char *path, long n)
{
	int fd = open(path, O_RDONLY);
	char *m, x;

	if (fd < 0)
		return 3;
	m = mmap(NULL, (size_t)n * pg, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return 4;
	for (long i = 0; i < n; i++)
		if (m[i * pg] != (char)(0x40 + i))
			return 5;
	if (write(1, &m, sizeof(m)) != (ssize_t)sizeof(m))
		return 6;
	while (read(0, &x, 1) > 0)
		;
	return 0;
}

static void case_eacces_outside(void)
{
	enum { N = 16 };
	char path[64], *m, *hm = NULL, *hbuf;
	int fd, to[2], from[2];
	pid_t h;
	extern char **environ;

	snprintf(path, sizeof(path), "/dev/shm/vm_migrate_errors.%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		t_fail("%s: %s", path, strerror(errno));
	hbuf = malloc((size_t)pg);
	t_assert(hbuf);
	ns_membind(0);	/* the page cache pages are allocated here */
	for (long i = 0; i < N; i++) {
		memset(hbuf, 0x40 + (int)i, (size_t)pg);
		if (pwrite(fd, hbuf, (size_t)pg, i * pg) != pg)
			t_fail("pwrite: %s", strerror(errno));
	}
	ns_membind(-1);

	/* The other process: this program again, without LD_PRELOAD. */
	int ne = 0;
	while (environ[ne])
		ne++;
	char **env = calloc((size_t)ne + 1, sizeof(*env));
	t_assert(env);
	for (int i = 0, k = 0; i < ne; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11))
			env[k++] = environ[i];
	if (pipe(to) || pipe(from))
		t_fail("pipe: %s", strerror(errno));
	h = fork();
	if (h < 0)
		t_fail("fork: %s", strerror(errno));
	if (h == 0) {
		char n[16];
		snprintf(n, sizeof(n), "%d", N);
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[1]);
		close(from[0]);
		execve("/proc/self/exe", (char *[]){ "vm_migrate_errors", "holder", path, n,
						     NULL }, env);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	if (read(from[0], &hm, sizeof(hm)) != (ssize_t)sizeof(hm))
		t_fail("the holder did not map the file (see its exit status)");
	m = mmap(NULL, (size_t)N * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		t_fail("mmap: %s", strerror(errno));
	content(m, N, 0x40, "our mapping");
	all_on(0, m, N, 0, "before");
	all_on(h, hm, N, 0, "holder, before");
	if (api.page_mappers(m, NULL, 0) != 1)
		t_fail("numashadow_page_mappers() = %d; the holder is not of the family: "
		       "expected 1", api.page_mappers(m, NULL, 0));
	/* The family does not know the other mapper: the kernel is asked and
	 * its -EACCES is counted as shared. */
	migrate_expect("mapped outside the family, no SHARED flag", m, N, 1,
		       NUMASHADOW_MIGRATE_SYNC, 0,
		       &(stats_t){ .calls = 1, .failed_shared = N }, PASSES_ANY);
	all_on(0, m, N, 0, "after the refused move");
	all_on(h, hm, N, 0, "holder, after the refused move");
	migrate_expect("with SHARED", m, N, 1, NUMASHADOW_MIGRATE_SYNC | NUMASHADOW_MIGRATE_SHARED,
		       N, &(stats_t){ .calls = 1, .moved = N }, PASSES_ANY);
	all_on(0, m, N, 1, "after the SHARED move");
	all_on(h, hm, N, 1, "holder, after the SHARED move");
	close(to[1]);
	ns_wait_ok(h, "holder");
	content(m, N, 0x40, "our mapping, after");
	munmap(m, (size_t)N * pg);
	close(fd);
	unlink(path);
	done();
}

static void case_enodev(void)
{
	enum { N = 8 };
	char *b = fresh(N, 7);
	int off = numa_max_node() + 1, st;
	int e = raw_move(0, b, off, MPOL_MF_MOVE, &st);

	/* The kernel's answer for a node that exists in no way here. */
	fprintf(stderr, "%s: move_pages to node %d: %d (%s)\n", case_name, off, e,
		strerror(-e));
	if (e != -ENODEV)
		t_fail("kernel: move_pages to node %d = %d, expected -ENODEV (%d)", off, e,
		       -ENODEV);
	int nodes[] = { off, 63, 64, 1024, -1, INT_MIN, INT_MAX };
	for (unsigned i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		char what[48];
		snprintf(what, sizeof(what), "node %d", nodes[i]);
		refused(what, b, (size_t)N * pg, nodes[i], NUMASHADOW_MIGRATE_SYNC, -EINVAL);
		refused(what, b, (size_t)N * pg, nodes[i], NUMASHADOW_MIGRATE_SHARED, -EINVAL);
	}
	all_on(0, b, N, 0, "after the refused calls");
	content(b, N, 7, "after");
	done();
}

static void case_einval(void)
{
	enum { N = 8 };
	char *b = fresh(N, 9);
	unsigned flags[] = { 0x4, 0x8, 0x100, 0x80000000u, ~0u,
			     NUMASHADOW_MIGRATE_SYNC | NUMASHADOW_MIGRATE_SHARED | 0x4 };

	for (unsigned i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		char what[32];
		snprintf(what, sizeof(what), "flags %#x", flags[i]);
		refused(what, b, (size_t)N * pg, 1, flags[i], -EINVAL);
	}
	refused("a range that wraps", b, SIZE_MAX, 1, 0, -EINVAL);
	refused("a range that wraps from the top", (void *)(UINTPTR_MAX - (uintptr_t)pg + 1),
		2 * (size_t)pg, 1, 0, -EINVAL);
	if (api.migrate_stats(NULL) != -EINVAL)
		t_fail("numashadow_migrate_stats(NULL) = %d, expected -EINVAL",
		       api.migrate_stats(NULL));
	all_on(0, b, N, 0, "after the refused calls");
	/* The same range with valid flags moves. */
	migrate_expect("valid flags", b, N, 1, NUMASHADOW_MIGRATE_SYNC | NUMASHADOW_MIGRATE_SHARED,
		       N, &(stats_t){ .calls = 1, .moved = N }, PASSES_ANY);
	all_on(0, b, N, 1, "after the valid call");
	content(b, N, 9, "after");
	done();
}

static void case_enoent(void)
{
	enum { N = 64 };
	char *u = ns_map_guarded(N, PROT_READ | PROT_WRITE);
	char *d;
	int want[N], alt[N];

	t_assert(u != MAP_FAILED);
	for (int i = 0; i < N; i++) {
		want[i] = -EFAULT;	/* an anonymous hole (FOLL_DUMP) */
		alt[i] = -ENOENT;
	}
	kernel_says(0, u, N, want, alt, "never touched");
	if (api.page_node(u) != -ENOENT)
		t_fail("numashadow_page_node(untouched) = %d, expected -ENOENT", api.page_node(u));
	migrate_expect("never touched", u, N, 1, NUMASHADOW_MIGRATE_SYNC, 0,
		       &(stats_t){ .calls = 1 }, PASSES_NONE);
	migrate_expect("never touched, async", u, N, 1, 0, 0, &(stats_t){ .calls = 1 },
		       PASSES_NONE);

	d = fresh(N, 3);
	if (madvise(d, (size_t)N * pg, MADV_DONTNEED))
		t_fail("madvise: %s", strerror(errno));
	kernel_says(0, d, N, want, alt, "after MADV_DONTNEED");
	migrate_expect("dropped by MADV_DONTNEED", d, N, 1, NUMASHADOW_MIGRATE_SYNC, 0,
		       &(stats_t){ .calls = 1 }, PASSES_NONE);
	/* Half present again: those move, the rest are not counted. */
	ns_membind(0);
	for (int i = 0; i < N; i += 2)
		d[(long)i * pg] = 5;
	ns_membind(-1);
	migrate_expect("every other page present", d, N, 1, NUMASHADOW_MIGRATE_SYNC, N / 2,
		       &(stats_t){ .calls = 1, .moved = N / 2 }, PASSES_ANY);
	for (int i = 0; i < N; i++)
		want[i] = i % 2 ? -EFAULT : 1;
	kernel_says(0, d, N, want, alt, "every other page moved");
	done();
}

static void on_alarm(int sig)
{
	char m[200];
	int n = snprintf(m, sizeof(m), "FAIL: %s: numashadow_migrate() has not returned "
			 "after 30 s\n", case_name);
	(void)sig;
	if (write(2, m, (size_t)n) < 0)
		_exit(1);
	_exit(1);
}

static void case_unmapped(void)
{
	enum { N = 64 };
	char *m = mmap(NULL, (size_t)N * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	t_assert(m != MAP_FAILED);
	m[0] = 1;
	if (munmap(m, (size_t)N * pg))
		t_fail("munmap: %s", strerror(errno));
	signal(SIGALRM, on_alarm);
	alarm(30);
	/* docs/migration.md: "an unmapped range moves nothing and returns 0". */
	migrate_expect("unmapped", m, N, 1, NUMASHADOW_MIGRATE_SYNC, 0,
		       &(stats_t){ .calls = 1 }, PASSES_NONE);
	alarm(0);
	done();
}

static void case_partial(void)
{
	enum { N = 64, HEAD = 32 };
	char *m = mmap(NULL, (size_t)N * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	t_assert(m != MAP_FAILED);
	if (munmap(m + (long)HEAD * pg, (size_t)(N - HEAD) * pg))
		t_fail("munmap: %s", strerror(errno));
	ns_membind(0);
	for (long i = 0; i < HEAD; i++)
		memset(m + i * pg, (char)(0x20 + i), (size_t)pg);
	ns_membind(-1);
	all_on(0, m, HEAD, 0, "head, before");
	signal(SIGALRM, on_alarm);
	alarm(30);
	/* "moves the present pages of [start, end)": the head's. */
	migrate_expect("mapped head, unmapped tail", m, N, 1, NUMASHADOW_MIGRATE_SYNC, HEAD,
		       &(stats_t){ .calls = 1, .moved = HEAD }, PASSES_ANY);
	alarm(0);
	all_on(0, m, HEAD, 1, "head, after");
	content(m, HEAD, 0x20, "head");
	done();
}

static void case_efault(void)
{
	enum { N = 16 };
	/* pages 0-3 and 12-15 written, 4-7 read (the zero page), 8-11 never
	 * touched (holes) */
	char *z = ns_map_guarded(N, PROT_READ | PROT_WRITE);
	int want[N], alt[N];
	volatile char sink = 0;

	t_assert(z != MAP_FAILED);
	ns_membind(0);
	for (int i = 0; i < N; i++) {
		if (i < 4 || i >= 12)
			memset(z + (long)i * pg, 0x60 + i, (size_t)pg);
		else if (i < 8)
			sink += z[(long)i * pg];
		want[i] = i < 4 || i >= 12 ? 0 : -EFAULT;
		alt[i] = i >= 8 && i < 12 ? -ENOENT : 0;
	}
	ns_membind(-1);
	(void)sink;
	kernel_says(0, z, N, want, alt, "before");
	for (int i = 4; i < 12; i++)
		if (api.page_node(z + (long)i * pg) >= 0)
			t_fail("numashadow_page_node(page %d) = %d: the zero page or a hole "
			       "has no node", i, api.page_node(z + (long)i * pg));
	/* Only zero pages: never sent, counted nowhere (not failed_fault). */
	migrate_expect("zero pages only", z + 4 * pg, 4, 1, NUMASHADOW_MIGRATE_SYNC, 0,
		       &(stats_t){ .calls = 1 }, PASSES_NONE);
	migrate_expect("holes only", z + 8 * pg, 4, 1, NUMASHADOW_MIGRATE_SYNC, 0,
		       &(stats_t){ .calls = 1 }, PASSES_NONE);
	migrate_expect("written, zero and hole pages", z, N, 1, NUMASHADOW_MIGRATE_SYNC, 8,
		       &(stats_t){ .calls = 1, .moved = 8 }, PASSES_ANY);
	for (int i = 0; i < N; i++)
		if (want[i] == 0)
			want[i] = 1;
	kernel_says(0, z, N, want, alt, "after");
	/* A written zero page is a page like any other. */
	ns_membind(0);
	z[4 * pg] = 1;
	ns_membind(-1);
	migrate_expect("one zero page written", z + 4 * pg, 4, 1, NUMASHADOW_MIGRATE_SYNC, 1,
		       &(stats_t){ .calls = 1, .moved = 1 }, PASSES_ANY);
	for (int i = 0; i < N; i++)
		if (z[(long)i * pg] != (i < 4 || i >= 12 ? 0x60 + i : i == 4 ? 1 : 0))
			t_fail("page %d lost its content", i);
	done();
}

/* Hands page p of b to a pipe (vmsplice): the pipe holds a reference
 * until it is read, so the kernel cannot migrate the page. */
static void hold_in_pipe(char *page, int p[2])
{
	struct iovec v = { .iov_base = page, .iov_len = (size_t)pg };

	if (pipe(p))
		t_fail("pipe: %s", strerror(errno));
	if (vmsplice(p[1], &v, 1, 0) != pg)
		t_fail("vmsplice: %s", strerror(errno));
}

static void drain(int p[2])
{
	char *tmp = malloc((size_t)pg);
	t_assert(tmp);
	if (read(p[0], tmp, (size_t)pg) != pg)
		t_fail("reading the pipe: %s", strerror(errno));
	free(tmp);
	close(p[0]);
	close(p[1]);
}

static void case_ebusy(void)
{
	enum { N = 32, PIN = 7 };
	char *b = fresh(N, 0x11);
	int p[2], want[N];

	hold_in_pipe(b + (long)PIN * pg, p);
	migrate_expect("one page held by a pipe", b, N, 1, NUMASHADOW_MIGRATE_SYNC, N - 1,
		       &(stats_t){ .calls = 1, .moved = N - 1, .failed_busy = 1 }, PASSES_ANY);
	for (int i = 0; i < N; i++) {
		want[i] = i == PIN ? 0 : 1;
		int s = api.page_node(b + (long)i * pg);
		if (s != want[i])
			t_fail("page %d: numashadow_page_node() = %d, expected %d", i, s, want[i]);
	}
	kernel_says(0, b, N, want, NULL, "after the move with one page held");
	ns_verify_clean(&api, "after the move with one page held");
	drain(p);
	migrate_expect("after the pipe is read", b, N, 1, NUMASHADOW_MIGRATE_SYNC, 1,
		       &(stats_t){ .calls = 1, .moved = 1, .already = N - 1 }, PASSES_ANY);
	all_on(0, b, N, 1, "after the pipe is read");
	content(b, N, 0x11, "after");
	done();
}

/* ---- helpers for the script ---- */

/* A target for `numashadow migrate`: 64 written pages on node 0 and 16
 * untouched ones.  MODE: "pin": page 10 held by a pipe; "fork": a child
 * shares the 64; "idle": nothing more.  Says where they are in INFO, waits for INFO.done, then
 * checks what the script did: pin: page 10 on node 0, the rest on node 1;
 * otherwise all on node 0 (shared or never asked to move).  The
 * untouched ones hold no page. */
static int serve(const char *info, const char *mode)
{
	enum { N = 64, U = 16, PIN = 10 };
	char *b, *u = ns_map_guarded(U, PROT_READ | PROT_WRITE);
	char tmp[300], donef[300];
	int p[2] = { -1, -1 }, pin = !strcmp(mode, "pin"), want[N];
	int forks = !strcmp(mode, "fork");
	pid_t c = -1;
	FILE *f;

	case_name = "serve";
	if (!pin && !forks && strcmp(mode, "idle"))
		t_fail("serve: unknown mode '%s'", mode);
	b = fresh(N, 0x30);
	t_assert(u != MAP_FAILED);
	snprintf(donef, sizeof(donef), "%s.done", info);
	if (pin)
		hold_in_pipe(b + (long)PIN * pg, p);
	else if (forks && (c = fork()) == 0) {
		for (int i = 0; i < 6000 && access(donef, F_OK); i++)
			usleep(20000);
		content(b, N, 0x30, "serve's child");
		_exit(0);
	} else if (forks && c < 0)
		t_fail("fork: %s", strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s.tmp", info);
	f = fopen(tmp, "w");
	if (!f)
		t_fail("%s: %s", tmp, strerror(errno));
	fprintf(f, "pid %d\nbuf %lx-%lx\nuntouched %lx-%lx\nfirst %lx\n", (int)getpid(),
		(unsigned long)b, (unsigned long)(b + N * pg), (unsigned long)u,
		(unsigned long)(u + U * pg), (unsigned long)b);
	if (fclose(f) || rename(tmp, info))
		t_fail("%s: %s", info, strerror(errno));
	for (int i = 0; access(donef, F_OK); i++) {
		if (i == 6000)
			t_fail("no %s after 120 s", donef);
		usleep(20000);
	}
	for (int i = 0; i < N; i++)
		want[i] = pin && i != PIN ? 1 : 0;
	kernel_says(0, b, N, want, NULL, "serve, at the end");
	for (int i = 0; i < N; i++)
		if (api.page_node(b + (long)i * pg) != want[i])
			t_fail("serve: page %d: numashadow_page_node() = %d, expected %d", i,
			       api.page_node(b + (long)i * pg), want[i]);
	for (int i = 0; i < U; i++)
		if (api.page_node(u + (long)i * pg) != -ENOENT)
			t_fail("serve: untouched page %d: numashadow_page_node() = %d", i,
			       api.page_node(u + (long)i * pg));
	content(b, N, 0x30, "serve");
	if (pin)
		drain(p);
	else if (forks)
		ns_wait_ok(c, "serve's child");
	ns_verify_clean(&api, "serve, at the end");
	printf("serve: PASS\n");
	return 0;
}

/* Runs CMD as uid (and gid) UID, without supplementary groups. */
static int asuser(char **argv)
{
	uid_t id = (uid_t)strtoul(argv[0], NULL, 10);

	if (setgroups(0, NULL) || setresgid(id, id, id) || setresuid(id, id, id)) {
		fprintf(stderr, "asuser: %s\n", strerror(errno));
		return 126;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "asuser: %s: %s\n", argv[1], strerror(errno));
	return 127;
}

/* Runs CMD without CAP_SYS_NICE, in every thread it will ever have: out
 * of the bounding set (so an exec as root does not give it back) and out
 * of this thread's sets (capabilities are per thread: a capset() after the
 * runtime started its threads would leave theirs). */
static int nocap(char **argv)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	unsigned bit = 1U << (CAP_SYS_NICE % 32);

	if (prctl(PR_CAPBSET_DROP, CAP_SYS_NICE, 0, 0, 0) || syscall(SYS_capget, &h, d)) {
		fprintf(stderr, "nocap: %s\n", strerror(errno));
		return 126;
	}
	d[CAP_SYS_NICE / 32].effective &= ~bit;
	d[CAP_SYS_NICE / 32].permitted &= ~bit;
	d[CAP_SYS_NICE / 32].inheritable &= ~bit;
	if (syscall(SYS_capset, &h, d)) {
		fprintf(stderr, "nocap: capset: %s\n", strerror(errno));
		return 126;
	}
	execvp(argv[0], argv);
	fprintf(stderr, "nocap: %s: %s\n", argv[0], strerror(errno));
	return 127;
}

/* The kernel's answer to this user asking about, then moving, ADDR in PID. */
static int rawq(const char *pid, const char *addr)
{
	pid_t p = (pid_t)strtol(pid, NULL, 10);
	void *a = (void *)strtoul(addr, NULL, 16);
	int st = -1000, nd = 1, q, m;

	q = syscall(SYS_move_pages, p, 1UL, &a, NULL, &st, 0) < 0 ? errno : 0;
	m = syscall(SYS_move_pages, p, 1UL, &a, &nd, &st, MPOL_MF_MOVE) < 0 ? errno : 0;
	printf("rawq: uid %d: query %s, move %s\n", (int)getuid(),
	       q ? strerrorname_np(q) : "ok", m ? strerrorname_np(m) : "ok");
	return 0;
}

/* Runs CMD; kills it after SECS seconds (exit status 124). */
static int timeout_run(char **argv)
{
	int secs = atoi(argv[0]), st;
	pid_t c = fork();

	if (c == 0) {
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	for (int i = 0; i < secs * 50; i++) {
		pid_t w = waitpid(c, &st, WNOHANG);
		if (w == c)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(20000);
	}
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
	fprintf(stderr, "timeout: %s did not finish within %d s\n", argv[1], secs);
	return 124;
}

int main(int argc, char **argv)
{
	pg = ns_page();
	if (argc > 3 && !strcmp(argv[1], "holder"))
		return holder(argv[2], atol(argv[3]));
	if (argc > 3 && !strcmp(argv[1], "asuser"))
		return asuser(argv + 2);
	if (argc > 2 && !strcmp(argv[1], "nocap"))
		return nocap(argv + 2);
	if (argc > 3 && !strcmp(argv[1], "rawq"))
		return rawq(argv[2], argv[3]);
	if (argc > 3 && !strcmp(argv[1], "timeout"))
		return timeout_run(argv + 2);
	if (argc < 2)
		t_fail("usage: vm_migrate_errors CASE | serve INFO MODE | holder PATH N | "
		       "asuser UID CMD... | nocap CMD... | rawq PID ADDR | timeout SECS CMD...");
	ns_test_preload(argv);
	ns_api_need(&api);
	ns_migrate_need(&api);
	ns_need_nodes(1, "tests/vm/migrate_errors.sh");
	case_name = argv[1];
	if (argc > 3 && !strcmp(argv[1], "serve"))
		return serve(argv[2], argv[3]);
	if (getuid() != 0)
		t_fail("needs root (CAP_SYS_NICE for the SHARED moves)");
	static const struct { const char *name; void (*fn)(void); } cases[] = {
		{ "eacces-fork", case_eacces_fork },
		{ "eacces-outside", case_eacces_outside },
		{ "enodev", case_enodev },
		{ "einval", case_einval },
		{ "enoent", case_enoent },
		{ "unmapped", case_unmapped },
		{ "partial", case_partial },
		{ "efault", case_efault },
		{ "ebusy", case_ebusy },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(argv[1], cases[i].name))
			cases[i].fn();	/* exits */
	t_fail("unknown case '%s'", argv[1]);
}
