/* SPDX-License-Identifier: MIT */
/*
 * mmap_loop: what the preload adds to address-space calls, as the ratio of
 * a loop's ns/op under LD_PRELOAD=libnumashadow.so to the same loop run
 * plainly in the same invocation, so both sides share the machine's state.
 *
 * With no arguments the program drives itself: for each case and each of
 * REPS repetitions it runs `mmap_loop --child CASE ITER` once plainly and
 * once preloaded (NUMASHADOW_VERIFY=0), alternating which goes first so
 * drift in the machine falls on both sides alike, and reports medians.
 * Two more runs of each repetition are preloaded awake: with
 * NUMASHADOW_REPORT=1 (a setting that wakes the runtime at start-up, so it
 * keeps the whole shadow, and costs nothing until exit; the report goes to
 * a log file), and with the trace on as well (NUMASHADOW_TRACE, emptied
 * before each run), whose ratio to the awake run is the trace's own cost.
 * A fifth run is under a placement policy (NUMASHADOW_POLICY=interleave=all),
 * its ratio against the native run.
 * It prints one JSON line per case and side, then a table.  Times are reported,
 * never judged: exit 0, or 1 when the library is missing or a child fails.
 * A preloaded child (LD_PRELOAD set) measures nothing unless the runtime
 * is really loaded in it (bench_self_loaded()): it exits 2, and the driver
 * stops and reports no ratio at all (a junk file in place of the library
 * would otherwise give ratios near 1).
 */
#include <malloc.h>
#include <sys/mman.h>
#include "bench.h"

#define REPS		7
#define SIDES		5	/* native, preload, awake, traced, placed */
#define MALLOC_SIZE	(256 << 10)	/* above the 128 KiB mmap threshold */
#define FORK_SIZE	(64 << 20)
#define PROT_REGION	64		/* pages */
#define PROT_PAGE	32		/* middle: each call splits or merges */
#define MADV_REGION	(4L << 20)

static long pg;

/* Keeps the compiler from dropping a malloc/free pair or a store. */
static inline void escape(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* ---- the cases: each runs op() iters times; returns 0 or -errno ---- */

static int op_mmap_1p(void *unused)
{
	(void)unused;
	void *p = mmap(NULL, pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	return munmap(p, pg) ? -errno : 0;
}

static int op_mmap_touch16(void *unused)
{
	(void)unused;
	char *p = mmap(NULL, 16 * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	for (int i = 0; i < 16; i++)
		p[i * pg] = 1;
	escape(p);
	return munmap(p, 16 * pg) ? -errno : 0;
}

/* One op is one mprotect call; two ops make a round trip. */
static int op_mprotect(void *region)
{
	static int ro;
	char *p = (char *)region + PROT_PAGE * pg;

	ro = !ro;
	return mprotect(p, pg, ro ? PROT_READ : PROT_READ | PROT_WRITE) ?
	       -errno : 0;
}

static int op_malloc(void *unused)
{
	(void)unused;
	void *p = malloc(MALLOC_SIZE);
	if (!p)
		return -ENOMEM;
	escape(p);
	free(p);
	return 0;
}

static int op_fork(void *unused)
{
	int st;
	(void)unused;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECHILD;
}

/* A private anonymous region, every page written; NULL on failure. */
static void *touched_region(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	for (size_t off = 0; off < len; off += (size_t)pg)
		p[off] = 1;
	return p;
}

static void *setup_mprotect(void)
{
	return touched_region(PROT_REGION * (size_t)pg);
}

static void *setup_malloc(void)
{
	/* Setting the threshold turns off glibc's sliding threshold, which
	 * after the first free would move 256 KiB blocks onto the heap. */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	return (void *)1;
}

static void *setup_fork(void)
{
	return touched_region(FORK_SIZE);
}

static void *setup_madvise(void)
{
	return touched_region(MADV_REGION);
}

/* One page of a written 4 MiB region dropped and written again: under a
 * policy the region is the monitor's (2 MiB or more), so the write is a
 * first touch it serves. */
static int op_madvise(void *region)
{
	static long at;
	char *p = (char *)region + (at++ % (MADV_REGION / pg)) * pg;

	if (madvise(p, (size_t)pg, MADV_DONTNEED))
		return -errno;
	*(volatile char *)p = 1;
	return 0;
}

struct bench_case {
	const char *name;	/* as given to --child and printed */
	long iters;		/* per measurement: ~0.2-0.5 s on a small host */
	void *(*setup)(void);	/* untimed; NULL result means it failed */
	int (*op)(void *);	/* one timed operation */
};

static const struct bench_case cases[] = {
	{ "mmap_munmap_1p",	 180000, NULL,		 op_mmap_1p },
	{ "mmap_touch16_munmap", 18000,	 NULL,		 op_mmap_touch16 },
	{ "mprotect_toggle",	 160000, setup_mprotect, op_mprotect },
	{ "malloc_free_256k",	 70000,	 setup_malloc,	 op_malloc },
	{ "madvise_touch_4m",	 40000,	 setup_madvise,	 op_madvise },
	/* Few: each fork copies 64 MiB of page tables, and the preloaded
	 * side runs several times slower than native. */
	{ "fork_wait_64m",	 60,	 setup_fork,	 op_fork },
};
#define NR_CASES (sizeof(cases) / sizeof(*cases))

static const struct bench_case *case_find(const char *name)
{
	for (size_t i = 0; i < NR_CASES; i++)
		if (!strcmp(cases[i].name, name))
			return &cases[i];
	return NULL;
}

/* --child: run one case, print ns/op; returns the exit status: 0, 1 when
 * it could not measure, 2 when it is preloaded (LD_PRELOAD set) but the
 * runtime is not loaded here. */
static int child_main(const char *name, const char *iters_s)
{
	const struct bench_case *c = case_find(name);
	const char *preload = getenv("LD_PRELOAD");
	char *end, lib[PATH_MAX];
	long iters = strtol(iters_s, &end, 10);
	void *arg = NULL;
	int err = 0;

	if (!c || *end || iters <= 0) {
		fprintf(stderr, "mmap_loop: --child %s %s: unknown case or bad count\n",
			name, iters_s);
		return 1;
	}
	/* The preload did not take (or is not the runtime): no number. */
	if (preload && *preload) {
		if (bench_lib_path("mmap_loop", lib))
			return 2;
		if (!bench_self_loaded(lib, "numashadow_page_node")) {
			fprintf(stderr, "mmap_loop: %s: the runtime is not loaded in the "
				"preloaded child (LD_PRELOAD=%s): %s is not mapped, "
				"or has no numashadow_page_node\n", name, preload, lib);
			return 2;
		}
	}
	if (c->setup && !(arg = c->setup())) {
		fprintf(stderr, "mmap_loop: %s: setup failed\n", name);
		return 1;
	}
	/* Untimed warm-up: first-use costs (page tables, the runtime's pools)
	 * belong to no steady-state op. */
	for (long i = 0; i < iters / 20 + 1 && !err; i++)
		err = c->op(arg);
	uint64_t t0 = bench_now_ns();
	for (long i = 0; i < iters && !err; i++)
		err = c->op(arg);
	uint64_t t1 = bench_now_ns();
	if (err) {
		fprintf(stderr, "mmap_loop: %s: %s\n", name, strerror(-err));
		return 1;
	}
	printf("%.1f\n", (double)(t1 - t0) / (double)iters);
	return 0;
}

/* ---- the driver ---- */

/* Run one child; returns 0 with *ns set, -2 when a preloaded child found
 * the runtime not loaded, or -1 (reason on stderr). */
static int run_child(const char *self, char **env, int preload,
		     const struct bench_case *c, double *ns)
{
	char iters[32], out[64];
	char *argv[] = { (char *)self, "--child", (char *)c->name, iters, NULL };

	snprintf(iters, sizeof(iters), "%ld", c->iters);
	int st = bench_run("mmap_loop", argv, env, 0, out, sizeof(out));
	if (st < 0)
		return -1;
	if (preload && WIFEXITED(st) && WEXITSTATUS(st) == 2)
		return -2;
	if (!WIFEXITED(st) || WEXITSTATUS(st) || sscanf(out, "%lf", ns) != 1) {
		fprintf(stderr, "mmap_loop: %s%s: child failed (%s %d)\n",
			c->name, preload == 4 ? " (placed)" : preload == 3 ? " (traced)" :
			preload == 2 ? " (awake)" :
			preload ? " (preloaded)" : "",
			WIFEXITED(st) ? "exit" : "signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return -1;
	}
	return 0;
}

struct result {
	double native;	/* median ns/op without the preload */
	double preload;	/* median ns/op with it (no setting: dormant) */
	double awake;	/* with a setting that wakes it and costs nothing
			 * until exit (the exit report): the whole shadow */
	double traced;	/* awake, and the trace on */
	double placed;	/* under a placement policy (interleave=all) */
	int ok;		/* every child of the case succeeded */
};

int main(int argc, char **argv)
{
	struct result res[NR_CASES];
	char self[4096], lib[PATH_MAX];
	int failed = 0;

	pg = sysconf(_SC_PAGESIZE);
	if (argc == 4 && !strcmp(argv[1], "--child"))
		return child_main(argv[2], argv[3]);
	if (argc != 1) {
		fprintf(stderr, "usage: %s [--child CASE ITERATIONS]\n", argv[0]);
		return 1;
	}
	if (bench_need_lib("mmap_loop") || bench_lib_path("mmap_loop", lib) ||
	    bench_self("mmap_loop", self, sizeof(self)))
		return 1;
	/* The preloaded sides run with defaults, verify checks off, the
	 * library named by the path their maps will show. */
	char trace[] = "/tmp/numashadow-bench-trace.XXXXXX", tvar[64];
	char logf[] = "/tmp/numashadow-bench-log.XXXXXX", lvar[64];
	char pvar[PATH_MAX + 16];
	int tfd = mkstemp(trace), lfd = mkstemp(logf);
	if (tfd < 0 || lfd < 0)
		return perror("mmap_loop: trace or log file"), 1;
	close(lfd);
	snprintf(tvar, sizeof(tvar), "NUMASHADOW_TRACE=%s", trace);
	snprintf(lvar, sizeof(lvar), "NUMASHADOW_LOG=%s", logf);
	snprintf(pvar, sizeof(pvar), "LD_PRELOAD=%s", lib);
	char *preload[] = { pvar, "NUMASHADOW_VERIFY=0", NULL };
	char *awake[] = { pvar, "NUMASHADOW_VERIFY=0", "NUMASHADOW_REPORT=1", lvar, NULL };
	char *traced[] = { pvar, "NUMASHADOW_VERIFY=0", "NUMASHADOW_REPORT=1", lvar, tvar, NULL };
	char *placed[] = { pvar, "NUMASHADOW_VERIFY=0", "NUMASHADOW_POLICY=interleave=all", NULL };
	char **env[SIDES] = { bench_env(NULL), bench_env(preload), bench_env(awake),
			      bench_env(traced), bench_env(placed) };
	for (int k = 0; k < SIDES; k++)
		if (!env[k])
			return perror("mmap_loop"), 1;

	for (size_t i = 0; i < NR_CASES; i++) {
		double t[SIDES][REPS];
		res[i].ok = 1;
		for (int rep = 0; rep < REPS && res[i].ok; rep++)
			for (int k = 0; k < SIDES && res[i].ok; k++) {
				int side = (k + rep) % SIDES;	/* each goes first in turn */
				if (side == 3 && ftruncate(tfd, 0))
					return perror("mmap_loop: trace file"), 1;
				int r = run_child(self, env[side], side, &cases[i],
						  &t[side][rep]);
				if (r == -2) {
					close(tfd);
					unlink(trace);
					unlink(logf);
					fprintf(stderr, "mmap_loop: no ratio: the library at %s "
						"is not the numashadow runtime, or did not load "
						"(rebuild it with `make`)\n", lib);
					return 1;
				}
				if (r)
					res[i].ok = 0;
			}
		if (!res[i].ok) {
			failed = 1;
			continue;
		}
		res[i].native = bench_median(t[0], REPS);
		res[i].preload = bench_median(t[1], REPS);
		res[i].awake = bench_median(t[2], REPS);
		res[i].traced = bench_median(t[3], REPS);
		res[i].placed = bench_median(t[4], REPS);
	}
	close(tfd);
	unlink(trace);
	unlink(logf);

	for (size_t i = 0; i < NR_CASES; i++) {
		char name[64];
		if (!res[i].ok)
			continue;
		bench_json("mmap_loop", cases[i].name, res[i].preload, 1, "ns/op",
			   res[i].native, res[i].preload / res[i].native);
		snprintf(name, sizeof(name), "%s_awake", cases[i].name);
		bench_json("mmap_loop", name, res[i].awake, 1, "ns/op",
			   res[i].preload, res[i].awake / res[i].preload);
		snprintf(name, sizeof(name), "%s_traced", cases[i].name);
		bench_json("mmap_loop", name, res[i].traced, 1, "ns/op",
			   res[i].awake, res[i].traced / res[i].awake);
		snprintf(name, sizeof(name), "%s_placed", cases[i].name);
		bench_json("mmap_loop", name, res[i].placed, 1, "ns/op",
			   res[i].native, res[i].placed / res[i].native);
	}
	printf("\n%-20s %13s %13s %6s %13s %6s %13s %6s %13s %6s %4s\n", "case",
	       "native ns/op", "preload ns/op", "ratio", "awake ns/op", "/prel",
	       "traced ns/op", "/awake", "placed ns/op", "/nat", "reps");
	for (size_t i = 0; i < NR_CASES; i++) {
		if (res[i].ok)
			printf("%-20s %13.1f %13.1f %6.2f %13.1f %6.2f %13.1f %6.2f %13.1f %6.2f %4d\n",
			       cases[i].name, res[i].native, res[i].preload,
			       res[i].preload / res[i].native, res[i].awake,
			       res[i].awake / res[i].preload, res[i].traced,
			       res[i].traced / res[i].awake, res[i].placed,
			       res[i].placed / res[i].native, REPS);
		else
			printf("%-20s %13s %13s %6s %13s %6s %13s %6s %13s %6s %4d\n",
			       cases[i].name, "-", "-", "failed", "-", "-", "-", "-", "-", "-",
			       REPS);
	}
	printf("(preload: no setting, the runtime dormant; awake: NUMASHADOW_REPORT=1,"
	       " which wakes it at start-up and costs nothing until exit; traced: awake"
	       " with NUMASHADOW_TRACE: /awake is the trace's own cost; placed:"
	       " NUMASHADOW_POLICY=interleave=all, against native)\n");
	return failed;
}
