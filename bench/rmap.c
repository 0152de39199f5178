/* SPDX-License-Identifier: MIT */
/*
 * rmap: the cost of one numashadow_page_mappers() query (the reverse map:
 * every process and address of the family that maps a page) as the page's
 * mappers grow and as every process's VMAs grow.
 *
 * One measurement is a child, `rmap --child MAPPERS VMAS MAXCALLS BUDGET_MS`,
 * run under LD_PRELOAD=libnumashadow.so (nothing else set).  It maps VMAS
 * separate one-page anonymous regions, alternately PROT_READ|PROT_WRITE
 * (written) and PROT_READ, so that neighbours never merge; writes one page
 * of its own mapping; then forks a binary tree of MAPPERS - 1 processes
 * (process i forks 2i+1 and 2i+2), which keep everything mapped and wait
 * on a pipe.  Once every process has said it is ready, the root calls
 * numashadow_page_mappers() on the page, found with dlsym(RTLD_DEFAULT),
 * once untimed, then timed one call at a time until MAXCALLS calls or
 * BUDGET_MS of calls (at least MIN_CALLS), and prints the median µs per
 * call.  Every answer must count MAPPERS mappers.
 *
 * The driver runs each of the 4 x 3 cases REPS times, each time paired
 * with a run of the baseline case (1 mapper, 10 VMAs) in alternating
 * order; it reports the median of the cases' medians and the median of
 * the per-pair ratios to the baseline.  A child refuses (exit 2) when the
 * runtime is not loaded in it (the library in /proc/self/maps and the
 * symbol found by dlsym), and the driver then reports nothing.
 *
 * Times are reported, never judged: exit 0, or 1 when it cannot measure.
 *
 *   rmap [--reps N]
 *   rmap --child MAPPERS VMAS MAXCALLS BUDGET_MS
 */
#include <sys/mman.h>
#include "bench.h"
#include "numashadow.h"

#define WHO		"rmap"
#define DEFAULT_REPS	5
#define MAX_REPS	51
#define MIN_CALLS	3
#define MAX_CALLS	"400"
#define BUDGET_MS	"150"
#define CHILD_TIMEOUT	120	/* s; the largest case takes a few */
#define MAX_MAPPERS	256

static const int mappers[] = { 1, 2, 17, 129 };
static const int vmas[] = { 10, 200, 2000 };
#define NR_M (sizeof(mappers) / sizeof(*mappers))
#define NR_V (sizeof(vmas) / sizeof(*vmas))
#define NR_CASES (NR_M * NR_V)
#define BASE 0		/* case index of 1 mapper x 10 VMAs */

static long pg;

/* ---- the child ---- */

static int nmappers, rel[2], ready[2];

/* Forks the subtree under process idx: children 2idx+1 and 2idx+2 that
 * exist; each forks its own, says it is ready, and waits for EOF on rel. */
static int spawn(int idx, pid_t *kids, int *nkids)
{
	*nkids = 0;
	for (int c = 2 * idx + 1; c <= 2 * idx + 2 && c < nmappers; c++) {
		pid_t p = fork();
		if (p < 0)
			return -errno;
		if (p == 0) {
			pid_t mine[2];
			int n, st;
			char b;
			close(rel[1]);
			if (spawn(c, mine, &n) || write(ready[1], "r", 1) != 1)
				_exit(1);
			while (read(rel[0], &b, 1) < 0 && errno == EINTR)
				;
			for (int k = 0; k < n; k++)
				if (waitpid(mine[k], &st, 0) < 0 || !WIFEXITED(st) ||
				    WEXITSTATUS(st))
					_exit(1);
			_exit(0);
		}
		kids[(*nkids)++] = p;
	}
	return 0;
}

static int count_lines(const char *path)
{
	char *t = bench_read_file(path);
	int n = 0;

	for (char *q = t; q && *q; q++)
		n += *q == '\n';
	free(t);
	return t ? n : -1;
}

static int child_main(int m, int v, long maxcalls, long budget_ms)
{
	char lib[PATH_MAX];
	typedef int (*mappers_fn)(const void *, struct numashadow_mapper *, int);
	mappers_fn fn;
	static struct numashadow_mapper out[MAX_MAPPERS];

	if (bench_lib_path(WHO, lib))
		return 1;
	if (!bench_self_loaded(lib, "numashadow_page_mappers")) {
		fprintf(stderr, WHO ": %s is not loaded in this process\n", lib);
		return 2;
	}
	fn = (mappers_fn)dlsym(RTLD_DEFAULT, "numashadow_page_mappers");

	int before = count_lines("/proc/self/maps");
	for (int i = 0; i < v; i++) {
		int rw = !(i % 2);
		char *r = mmap(NULL, pg, rw ? PROT_READ | PROT_WRITE : PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r == MAP_FAILED)
			return perror(WHO ": mmap"), 1;
		if (rw)
			r[0] = 1;
	}
	char *page = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	if (page == MAP_FAILED)
		return perror(WHO ": mmap"), 1;
	page[0] = 42;
	int total = count_lines("/proc/self/maps");

	nmappers = m;
	pid_t kids[2];
	int nkids, st;
	if (pipe(rel) || pipe(ready))
		return perror(WHO ": pipe"), 1;
	int err = spawn(0, kids, &nkids);
	if (err)
		return fprintf(stderr, WHO ": fork: %s\n", strerror(-err)), 1;
	for (int got = 0; got < m - 1;) {
		char b[64];
		ssize_t r = read(ready[0], b, sizeof(b));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return fprintf(stderr, WHO ": children did not start\n"), 1;
		got += (int)r;
	}

	int n = fn(page, out, MAX_MAPPERS);	/* untimed: the first sync */
	double *t = calloc((size_t)maxcalls, sizeof(*t));
	long calls = 0;
	uint64_t start = bench_now_ns();
	int bad = n != m;
	while (!bad && calls < maxcalls &&
	       (calls < MIN_CALLS || bench_now_ns() - start < (uint64_t)budget_ms * 1000000)) {
		uint64_t t0 = bench_now_ns();
		n = fn(page, out, MAX_MAPPERS);
		uint64_t t1 = bench_now_ns();
		t[calls++] = (double)(t1 - t0) / 1e3;
		bad = n != m;
	}

	close(rel[1]);
	for (int k = 0; k < nkids; k++)
		if (waitpid(kids[k], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			err = 1;
	if (bad) {
		fprintf(stderr, WHO ": %d mappers x %d VMAs: the query answered %d%s, not %d\n",
			m, v, n, n == -ENOSYS ? " (-ENOSYS: runtime not active)" : "", m);
		return 3;
	}
	if (err || !t)
		return fprintf(stderr, WHO ": a child failed\n"), 1;
	double med = bench_median(t, (int)calls);
	printf("us=%.2f calls=%ld min=%.2f max=%.2f vmas=%d added=%d\n", med, calls, t[0],
	       t[calls - 1], total, total - before);
	free(t);
	return 0;
}

/* ---- the driver ---- */

struct run {
	double us, min, max;
	long calls;
	int vmas;
};

static char self[PATH_MAX];
static int errfd = -1;		/* the children's stderr, read back */

/* What a child's stderr said: its "rmap:" line, and the runtime's
 * "numashadow:" lines, counted, the first kept. */
struct said {
	char why[256];
	long ns_lines;
	char ns_first[256];
};

static void scan_stderr(struct said *s)
{
	char line[1024];
	int fd = dup(errfd);
	FILE *f = fd >= 0 && lseek(fd, 0, SEEK_SET) == 0 ? fdopen(fd, "r") : NULL;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "numashadow:", 11) && !s->ns_lines++)
			snprintf(s->ns_first, sizeof(s->ns_first), "%.200s", line);
		else if (!strncmp(line, WHO ": ", strlen(WHO) + 2) && !s->why[0])
			snprintf(s->why, sizeof(s->why), "%.200s", line + strlen(WHO) + 2);
	}
	fclose(f);
}

enum { RUN_OK, RUN_INVALID, RUN_NOTLOADED, RUN_FAILED };

/* One child of case c, its stderr into errfd; RUN_OK with *r, else what
 * went wrong, with the reason in *s. */
static int run_child(char **env, int c, struct run *r, struct said *s)
{
	char m[16], v[16], out[256];
	char *argv[] = { self, "--child", m, v, MAX_CALLS, BUDGET_MS, NULL };
	int added, saved = dup(STDERR_FILENO), st;

	snprintf(m, sizeof(m), "%d", mappers[c / NR_V]);
	snprintf(v, sizeof(v), "%d", vmas[c % NR_V]);
	memset(s, 0, sizeof(*s));
	if (saved < 0 || ftruncate(errfd, 0) || dup2(errfd, STDERR_FILENO) < 0) {
		perror(WHO ": stderr");
		return RUN_FAILED;
	}
	st = bench_run(WHO, argv, env, CHILD_TIMEOUT, out, sizeof(out));
	dup2(saved, STDERR_FILENO);
	close(saved);
	scan_stderr(s);
	if (st < 0)
		return RUN_FAILED;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
		return RUN_NOTLOADED;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
		return RUN_INVALID;
	if (!WIFEXITED(st) || WEXITSTATUS(st) ||
	    sscanf(out, "us=%lf calls=%ld min=%lf max=%lf vmas=%d added=%d", &r->us,
		   &r->calls, &r->min, &r->max, &r->vmas, &added) != 6) {
		if (!s->why[0])
			snprintf(s->why, sizeof(s->why), "child failed (%s %d)",
				 WIFEXITED(st) ? "exit" : "signal",
				 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return RUN_FAILED;
	}
	return RUN_OK;
}

int main(int argc, char **argv)
{
	int reps = DEFAULT_REPS;
	char lib[PATH_MAX], ld[PATH_MAX + 16];

	pg = sysconf(_SC_PAGESIZE);
	if (argc == 6 && !strcmp(argv[1], "--child")) {
		int m = atoi(argv[2]), v = atoi(argv[3]);
		long calls = atol(argv[4]), budget = atol(argv[5]);
		if (m < 1 || m > MAX_MAPPERS || v < 0 || calls < MIN_CALLS || budget < 1)
			return fprintf(stderr, WHO ": bad --child arguments\n"), 1;
		return child_main(m, v, calls, budget);
	}
	if (argc == 3 && !strcmp(argv[1], "--reps")) {
		reps = atoi(argv[2]);
		if (reps < 1 || reps > MAX_REPS)
			argc = 0;
	}
	if (argc != 1 && argc != 3) {
		fprintf(stderr, "usage: %s [--reps N]\n"
			"       %s --child MAPPERS VMAS MAXCALLS BUDGET_MS\n",
			argv[0], argv[0]);
		return 1;
	}
	if (bench_need_lib(WHO) || bench_lib_path(WHO, lib) ||
	    bench_self(WHO, self, sizeof(self)))
		return 1;
	snprintf(ld, sizeof(ld), "LD_PRELOAD=%s", lib);
	char *extra[] = { ld, NULL };
	char **env = bench_env(extra);
	if (!env)
		return perror(WHO), 1;

	char errpath[] = "/tmp/numashadow-bench-rmap.XXXXXX";
	if ((errfd = mkstemp(errpath)) < 0)
		return perror(WHO ": mkstemp"), 1;
	unlink(errpath);

	/* runs[c][rep], and the baseline run paired with it. */
	static struct run runs[NR_CASES][MAX_REPS], base[NR_CASES][MAX_REPS];
	static struct said note[NR_CASES];
	int state[NR_CASES], valid = 0, failed = 0;
	uint64_t t_start = bench_now_ns();

	fprintf(stderr, WHO ": %d pairs per case (case, 1 x 10 baseline); "
		"ratios as they come:\n", reps);
	for (size_t c = 0; c < NR_CASES; c++) {
		state[c] = RUN_OK;
		fprintf(stderr, WHO ": %d x %d:", mappers[c / NR_V], vmas[c % NR_V]);
		for (int rep = 0; rep < reps && state[c] == RUN_OK; rep++) {
			for (int k = 0; k < 2 && state[c] == RUN_OK; k++) {
				int baseline = (k + rep + (int)c) % 2;
				struct said s;
				state[c] = run_child(env, baseline ? BASE : (int)c,
						     baseline ? &base[c][rep] : &runs[c][rep],
						     &s);
				if (state[c] != RUN_OK || !note[c].ns_lines)
					note[c] = s;
			}
			if (state[c] == RUN_OK)
				fprintf(stderr, " %.2f", runs[c][rep].us / base[c][rep].us);
		}
		fprintf(stderr, "\n");
		if (state[c] == RUN_NOTLOADED) {
			fprintf(stderr, WHO ": cannot measure: %s\n", note[c].why[0] ?
				note[c].why : "the runtime is not loaded in the child");
			return 1;
		}
		if (state[c] == RUN_FAILED) {
			fprintf(stderr, WHO ": %d x %d: %s\n", mappers[c / NR_V],
				vmas[c % NR_V], note[c].why);
			failed = 1;
		}
		valid += state[c] == RUN_OK;
	}
	close(errfd);
	double secs = (double)(bench_now_ns() - t_start) / 1e9;

	double us[NR_CASES], bus[NR_CASES], ratio[NR_CASES], rmin[NR_CASES],
		rmax[NR_CASES], calls[NR_CASES], vm[NR_CASES];
	for (size_t c = 0; c < NR_CASES; c++) {
		double a[MAX_REPS], b[MAX_REPS], r[MAX_REPS], n[MAX_REPS], v[MAX_REPS];
		if (state[c] != RUN_OK)
			continue;
		for (int rep = 0; rep < reps; rep++) {
			a[rep] = runs[c][rep].us;
			b[rep] = base[c][rep].us;
			r[rep] = a[rep] / b[rep];
			n[rep] = (double)runs[c][rep].calls;
			v[rep] = runs[c][rep].vmas;
		}
		us[c] = bench_median(a, reps);
		bus[c] = bench_median(b, reps);
		ratio[c] = bench_median(r, reps);
		rmin[c] = r[0];
		rmax[c] = r[reps - 1];
		calls[c] = bench_median(n, reps);
		vm[c] = bench_median(v, reps);
		char name[64];
		snprintf(name, sizeof(name), "mappers%d_vmas%d", mappers[c / NR_V],
			 vmas[c % NR_V]);
		bench_json(WHO, name, us[c], 2, "us/call", bus[c], ratio[c]);
	}

	printf("\n%-20s %7s %6s %9s %11s %8s %13s %7s\n", "case", "mappers", "VMAs",
	       "maps", "us/call", "ratio", "pair ratios", "calls");
	for (size_t c = 0; c < NR_CASES; c++) {
		char name[64];
		snprintf(name, sizeof(name), "mappers%d_vmas%d", mappers[c / NR_V],
			 vmas[c % NR_V]);
		if (state[c] == RUN_OK)
			printf("%-20s %7d %6d %9.0f %11.2f %8.2f %6.2f-%-6.2f %7.0f\n", name,
			       mappers[c / NR_V], vmas[c % NR_V], vm[c], us[c], ratio[c],
			       rmin[c], rmax[c], calls[c]);
		else
			printf("%-20s %7d %6d %9s %11s %8s %13s %7s\n", name,
			       mappers[c / NR_V], vmas[c % NR_V], "-",
			       state[c] == RUN_INVALID ? "invalid" : "failed", "-", "-", "-");
	}
	printf("(us/call: median of %d runs' median call; ratio: median of %d per-pair"
	       " ratios to the baseline, mappers1_vmas10, run alternately with each"
	       " case; VMAs: regions added, maps: lines of /proc/self/maps; calls:"
	       " timed calls per run, median; %.0f s in all)\n", reps, reps, secs);
	for (size_t c = 0; c < NR_CASES; c++) {
		if (state[c] != RUN_OK)
			printf("mappers%d_vmas%d: %s: %s\n", mappers[c / NR_V], vmas[c % NR_V],
			       state[c] == RUN_INVALID ? "no figure" : "failed",
			       note[c].why[0] ? note[c].why : "(no reason given)");
		if (note[c].ns_lines)
			printf("mappers%d_vmas%d: the runtime wrote %ld line%s to stderr; the"
			       " first: %s\n", mappers[c / NR_V], vmas[c % NR_V],
			       note[c].ns_lines, note[c].ns_lines == 1 ? "" : "s",
			       note[c].ns_first);
	}
	free(env);
	/* A case whose answers were wrong (RUN_INVALID) has no figure but is
	 * a result; the run fails only when a child failed or nothing could
	 * be measured. */
	return failed || !valid;
}
