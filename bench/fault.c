/* SPDX-License-Identifier: MIT */
/*
 * fault: what numashadow's first-touch placement costs per page, against
 * the kernel's own first touch of the same memory in the same run.
 *
 * One thread, pinned to the first CPU it may use, maps MIB MiB (default
 * 64) of private anonymous memory with MADV_NOHUGEPAGE and writes one byte
 * to each 4 KiB page in address order; the time of that loop divided by
 * the pages is the amortized cost per first touch.  The native side runs
 * plainly; the numashadow side runs under LD_PRELOAD=libnumashadow.so with
 * NUMASHADOW_POLICY=membind=0, so every page is a userfaultfd MISSING fault
 * served by the monitor thread with UFFDIO_COPY: NUMASHADOW_FAULT_AROUND
 * pages at a time (1, 16, 64, 512), or, with no NUMASHADOW_FAULT_AROUND,
 * the runtime's default adaptive window ("adaptive": a fault where one of
 * its tracked streams' last fill ended doubles that stream's window, up to
 * 512 pages; any other fault starts a stream at one page).  Four monitor
 * conditions:
 *
 *   idle   the monitor is free to run anywhere; the second CPU is idle
 *          (what a program gets by default - the scheduler's wake-affine
 *          logic tends to put the monitor on the toucher's CPU, which the
 *          mon@CPU column shows);
 *   same   the monitor thread, found in /proc/self/task (the only other
 *          thread: the control socket is off), is pinned to the toucher's
 *          CPU, so waking it is a switch on one CPU, not a remote wake-up;
 *   other  the monitor is pinned to the second, otherwise idle CPU: every
 *          fault it sleeps through is a remote wake-up;
 *   busy   the monitor is free, and a spinning process pinned to the second
 *          CPU keeps that CPU awake (and taken).
 *
 * Single-fault latency: each first touch timed alone over LAT_FAULTS pages
 * with window 1, median and p99, against native, in every condition.
 *
 * Sparse touches, in the default condition (idle; same with one CPU): 1 GiB
 * mapped the same way, one byte written every 2 MiB + 28 KiB (506 touches,
 * no two in one 2 MiB), natively, adaptive and with window 512: RssAnon from
 * /proc/self/status after the loop (what filling ahead costs in memory) and
 * the loop's time.
 *
 * With no arguments (or MIB) the program drives itself: every measurement
 * is a child process (`fault --child ...`, plain or preloaded; the driver
 * never loads the runtime), the order of native and the windows rotates
 * from one repetition to the next, and each number is the median of REPS
 * repetitions.  The preloaded children also write numashadow's exit report
 * (NUMASHADOW_REPORT=1, NUMASHADOW_LOG) from which the faults the monitor
 * served and its sleeps are read, and every child checks that each page
 * reads back as written (zeros elsewhere) and sits on the expected node,
 * and a preloaded one that the library is loaded in it (bench_self_loaded):
 * a child without it has no number, so no ratio.
 * Times are reported, never judged: exit 0, or 1 when it cannot measure.
 */
#include <dirent.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "bench.h"

#define REPS		7
#define CHILD_TIMEOUT	300	/* s; a child takes < 2 s on the host */
#define DEFAULT_MIB	"64"
#define LAT_FAULTS	5000
#define POLICY		"membind=0"
#define PLACED_NODE	0	/* where POLICY puts every page */

#define SPARSE_SPAN	(1UL << 30)
#define SPARSE_STEP	((2UL << 20) + 28 * 1024)
#define SPARSE_MAX	(SPARSE_SPAN / SPARSE_STEP + 1)

/* Not a window the runtime takes: preloaded with no NUMASHADOW_FAULT_AROUND,
 * so the runtime's default (adaptive) window. */
#define W_ADAPTIVE	100000u
static const unsigned windows[] = { 1, 16, 64, 512, W_ADAPTIVE };
#define NR_WINDOWS (sizeof(windows) / sizeof(*windows))
#define NR_SIDES (NR_WINDOWS + 1)	/* side 0 is native */

/* The sparse case's sides: native, adaptive, 512. */
static const unsigned sparse_windows[] = { 0, W_ADAPTIVE, 512 };
#define NR_SPARSE (sizeof(sparse_windows) / sizeof(*sparse_windows))

/* A window as the output names it: "adaptive", "native" or the number. */
static const char *wname(unsigned w)
{
	static char buf[4][16];
	static int k;

	if (w == W_ADAPTIVE)
		return "adaptive";
	if (!w)
		return "native";
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%u", w);
	return buf[k];
}

enum { C_IDLE, C_SAME, C_OTHER, C_BUSY, NR_CONDS };
static const char *const cond_name[NR_CONDS] = { "idle", "same", "other", "busy" };
static const char *const cond_what[NR_CONDS] = {
	"monitor free, other CPU idle",
	"monitor pinned to toucher's CPU",
	"monitor pinned to other, idle CPU",
	"monitor free, other CPU spinning",
};

static long pg;

static int pin(pid_t tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(tid, sizeof(set), &set) ? -errno : 0;
}

/* ---- the child: one measurement ---- */

/* Pins every thread of this process but the caller to cpu (the monitor,
 * under the preload); returns how many, or -errno. */
static int pin_others(int cpu)
{
	DIR *d = opendir("/proc/self/task");
	pid_t me = (pid_t)syscall(SYS_gettid);
	struct dirent *e;
	int n = 0, err = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != me) {
			int r = pin(atoi(e->d_name), cpu);
			if (r)
				err = r;
			else
				n++;
		}
	closedir(d);
	return err ? err : n;
}

/* The CPU that a thread other than the caller last ran on (the monitor,
 * under the preload), from field 39 of its stat; -1 when there is none. */
static int other_cpu(void)
{
	DIR *d = opendir("/proc/self/task");
	pid_t me = (pid_t)syscall(SYS_gettid);
	struct dirent *e;
	int cpu = -1;

	if (!d)
		return -1;
	while ((e = readdir(d)) && cpu < 0) {
		char path[64], buf[1024];
		if (e->d_name[0] == '.' || atoi(e->d_name) == me)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", atoi(e->d_name));
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		char *q = strrchr(buf, ')');
		for (int field = 2; q && *q && field < 39; q++)
			if (*q == ' ')
				field++;
		if (q && *q >= '0' && *q <= '9')
			cpu = atoi(q);
	}
	closedir(d);
	return cpu;
}

/* Pages of p not reading back as touched (value in the first byte, zeros
 * after) or not on node; the first problem is described in why. */
static size_t bad_pages(char *p, size_t npages, int node, char *why, size_t n)
{
	static const char zero[65536];
	size_t bad = 0, chunk = 4096;
	void *addr[4096];
	int st[4096];

	for (size_t i = 0; i < npages; i++)
		if (p[i * pg] != (char)(i | 1) ||
		    memcmp(p + i * pg + 1, zero, (size_t)pg - 1)) {
			if (!bad++)
				snprintf(why, n, "page %zu does not read back as written", i);
		}
	for (size_t i = 0; i < npages; i += chunk) {
		size_t k = npages - i < chunk ? npages - i : chunk;
		for (size_t j = 0; j < k; j++)
			addr[j] = p + (i + j) * pg;
		if (move_pages(0, k, addr, NULL, st, 0) < 0) {
			snprintf(why, n, "move_pages query: %s", strerror(errno));
			return bad + k;
		}
		for (size_t j = 0; j < k; j++)
			if (st[j] != node && !bad++)
				snprintf(why, n, "page %zu is on %s%d, not node %d", i + j,
					 st[j] < 0 ? "error " : "node ", st[j], node);
	}
	return bad;
}

static double lat[LAT_FAULTS];	/* static: no allocation near the timing */

/* The sparse case: 1 GiB, one byte every SPARSE_STEP; prints rss0, rss and
 * ns (the whole loop), or invalid. */
static int child_sparse(int node)
{
	char why[160] = "";
	size_t n = 0, bad = 0;
	static void *addr[SPARSE_MAX];
	static int st[SPARSE_MAX];

	char *p = mmap(NULL, SPARSE_SPAN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return perror("fault: mmap"), 1;
	madvise(p, SPARSE_SPAN, MADV_NOHUGEPAGE);
	long rss0 = bench_status_kb("RssAnon");
	volatile char *v = p;
	uint64_t t0 = bench_now_ns();
	for (size_t off = 0; off < SPARSE_SPAN; off += SPARSE_STEP, n++)
		v[off] = (char)(n | 1);
	uint64_t t1 = bench_now_ns();
	long rss = bench_status_kb("RssAnon");
	if (rss0 < 0 || rss < 0) {
		fprintf(stderr, "fault: no RssAnon line in /proc/self/status\n");
		return 1;
	}
	printf("touches %zu\nrss0 %ld\nrss %ld\nns %.0f\n", n, rss0, rss, (double)(t1 - t0));
	for (size_t i = 0; i < n; i++) {
		static const char zero[65536];
		char *q = p + i * SPARSE_STEP;
		if ((*q != (char)(i | 1) || memcmp(q + 1, zero, (size_t)pg - 1)) && !bad++)
			snprintf(why, sizeof(why), "touch %zu does not read back as written", i);
		addr[i] = q;
	}
	if (move_pages(0, n, addr, NULL, st, 0) < 0) {
		snprintf(why, sizeof(why), "move_pages query: %s", strerror(errno));
		bad += n;
	} else {
		for (size_t i = 0; i < n; i++)
			if (st[i] != node && !bad++)
				snprintf(why, sizeof(why), "touch %zu is on %s%d, not node %d", i,
					 st[i] < 0 ? "error " : "node ", st[i], node);
	}
	if (bad)
		printf("invalid %zu of %zu touches wrong: %s\n", bad, n, why);
	return 0;
}

/* --child touch|lat|sparse WINDOW COND CPU OTHER_CPU MIB (WINDOW: 0 native,
 * "adaptive", or pages): prints
 *   ns NS            amortized ns per page (touch), the loop's ns (sparse)
 *   lat MED P99      single-fault latency in ns (lat)
 *   timer NS         cost of one clock read (lat)
 *   rss0 KB, rss KB  RssAnon before and after the loop (sparse)
 *   touches N        pages written (sparse)
 *   pinned N         threads pinned (same: to CPU, other: to OTHER_CPU)
 *   moncpu CPU       the CPU the monitor last ran on, after the loop
 *   invalid WHY      no number: the pages are wrong, or the library that
 *                    should be loaded is not
 * and exits 0, or 1 when it could not measure. */
static int child_main(char **argv)
{
	int is_lat = !strcmp(argv[2], "lat"), is_sparse = !strcmp(argv[2], "sparse");
	unsigned window = !strcmp(argv[3], "adaptive") ? W_ADAPTIVE : (unsigned)atoi(argv[3]);
	int cond = atoi(argv[4]), cpu = atoi(argv[5]), ocpu = atoi(argv[6]);
	size_t npages = is_lat ? LAT_FAULTS : ((size_t)atol(argv[7]) << 20) / (size_t)pg;
	int node = window ? PLACED_NODE : numa_node_of_cpu(cpu);
	char why[160] = "", lib[PATH_MAX];

	/* The preload did not take (or is not the runtime): no number. */
	if (window && (bench_lib_path("fault", lib) ||
		       !bench_self_loaded(lib, "numashadow_page_node"))) {
		printf("invalid %s is not loaded in the preloaded child\n", BENCH_LIB);
		return 0;
	}
	if (pin(0, cpu)) {
		fprintf(stderr, "fault: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
		return 1;
	}
	if (cond == C_SAME || cond == C_OTHER) {
		int n = pin_others(cond == C_SAME ? cpu : ocpu);
		if (n < 0) {
			fprintf(stderr, "fault: cannot pin the other threads: %s\n", strerror(-n));
			return 1;
		}
		printf("pinned %d\n", n);
	}
	if (is_sparse) {
		int r = child_sparse(node);
		if (!r && window)
			printf("moncpu %d\n", other_cpu());
		return r;
	}
	volatile char *p = mmap(NULL, npages * (size_t)pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return perror("fault: mmap"), 1;
	/* 4 KiB pages on both sides: with THP one native first touch would
	 * fill 512 pages at once. */
	madvise((void *)p, npages * (size_t)pg, MADV_NOHUGEPAGE);

	if (is_lat) {
		uint64_t t0, t1;
		for (int i = 0; i < LAT_FAULTS; i++) {
			t0 = bench_now_ns();
			t1 = bench_now_ns();
			lat[i] = (double)(t1 - t0);
		}
		printf("timer %.0f\n", bench_quantile(lat, LAT_FAULTS, 0.5));
		for (size_t i = 0; i < npages; i++) {
			t0 = bench_now_ns();
			p[i * pg] = (char)(i | 1);
			t1 = bench_now_ns();
			lat[i] = (double)(t1 - t0);
		}
	} else {
		uint64_t t0 = bench_now_ns();
		for (size_t i = 0; i < npages; i++)
			p[i * pg] = (char)(i | 1);
		uint64_t t1 = bench_now_ns();
		printf("ns %.1f\n", (double)(t1 - t0) / (double)npages);
	}
	if (window)
		printf("moncpu %d\n", other_cpu());
	size_t bad = bad_pages((char *)p, npages, node, why, sizeof(why));
	if (bad) {
		printf("invalid %zu of %zu pages wrong: %s\n", bad, npages, why);
		return 0;
	}
	if (is_lat)
		printf("lat %.0f %.0f\n", bench_quantile(lat, (int)npages, 0.5),
		       bench_quantile(lat, (int)npages, 0.99));
	return 0;
}

/* ---- the driver ---- */

/* One measurement's outcome. */
struct run {
	int ok;			/* the child exited 0 */
	int valid;		/* ok, with a number, every page right */
	double ns;		/* touch: ns per page */
	double med, p99;	/* lat: ns per fault */
	double timer;		/* lat: ns per clock read */
	int pinned;		/* same, other: threads pinned */
	int moncpu;		/* the CPU the monitor last ran on, -1 unknown */
	long faults, pages;	/* the monitor's counters, -1 unknown */
	long sleeps;
	long rss0, rss;		/* sparse: RssAnon (kB) before and after */
	long touches;		/* sparse: pages written */
	char invalid[256];	/* why there is no number */
};

static char lib[PATH_MAX];	/* the library, symlinks resolved */

/* Environment for a child: the caller's without the preload or runtime
 * options; the preloaded side adds the library (by the path its maps will
 * show), the policy, the window (none for adaptive: the runtime's
 * default), the exit report into log, and turns off verify and the
 * control socket (whose thread would be one more to tell from the
 * monitor). */
static char **child_env(unsigned window, const char *log)
{
	static char pbuf[PATH_MAX + 16], wbuf[64], lbuf[4200];
	char *preload[] = { pbuf, "NUMASHADOW_POLICY=" POLICY, "NUMASHADOW_VERIFY=0",
			    "NUMASHADOW_CTL=0", "NUMASHADOW_REPORT=1", lbuf, wbuf, NULL };

	if (!window)
		return bench_env(NULL);
	snprintf(pbuf, sizeof(pbuf), "LD_PRELOAD=%s", lib);
	snprintf(lbuf, sizeof(lbuf), "NUMASHADOW_LOG=%s", log);
	if (window == W_ADAPTIVE)
		preload[6] = NULL;
	else
		snprintf(wbuf, sizeof(wbuf), "NUMASHADOW_FAULT_AROUND=%u", window);
	return bench_env(preload);
}

/* Reads the runtime's log of one child: the monitor's counters from the
 * exit report, and the first other line, which says something went wrong
 * (or at least differently). */
static void log_read(const char *log, struct run *r, char *other, size_t n)
{
	char line[1024];
	FILE *f = fopen(log, "r");

	r->faults = r->pages = r->sleeps = -1;
	other[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *s = strstr(line, "first touches: ");
		line[strcspn(line, "\n")] = 0;
		if (s) {
			sscanf(s, "first touches: %ld faults, %ld pages placed",
			       &r->faults, &r->pages);
			if ((s = strstr(s, "already served, ")))
				sscanf(s, "already served, %ld monitor sleeps", &r->sleeps);
		} else if (!strstr(line, "report: ") && !other[0]) {
			size_t l = strlen(line) < n - 1 ? strlen(line) : n - 1;
			memcpy(other, line, l);
			other[l] = 0;
		}
	}
	fclose(f);
}

static const char *self;
static const char *mib;
static int cpu_a, cpu_b = -1;
static int failed;

/* Runs one child (mode touch, lat or sparse); fills *r. */
static void run_child(const char *mode, unsigned window, int cond, struct run *r)
{
	char log[64] = "", out[1024], a_w[16], a_c[16], a_cpu[16], a_ocpu[16];
	char other[512];
	char *argv[] = { (char *)self, "--child", (char *)mode,
			 a_w, a_c, a_cpu, a_ocpu, (char *)mib, NULL };
	const char *what = !strcmp(mode, "lat") ? "latency" : mode;

	memset(r, 0, sizeof(*r));
	r->faults = r->pages = r->sleeps = -1;
	r->moncpu = -1;
	if (window) {
		snprintf(log, sizeof(log), "/tmp/numashadow-fault-%d.log", (int)getpid());
		unlink(log);
	}
	char **env = child_env(window, log);
	if (!env)
		return perror("fault");
	snprintf(a_w, sizeof(a_w), "%s", window ? wname(window) : "0");
	snprintf(a_c, sizeof(a_c), "%d", cond);
	snprintf(a_cpu, sizeof(a_cpu), "%d", cpu_a);
	snprintf(a_ocpu, sizeof(a_ocpu), "%d", cpu_b);
	int st = bench_run("fault", argv, env, CHILD_TIMEOUT, out, sizeof(out));
	free(env);
	if (st < 0)
		return;
	int have = 0;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		if (sscanf(line, "ns %lf", &r->ns) == 1 ||
		    sscanf(line, "lat %lf %lf", &r->med, &r->p99) == 2)
			have = 1;
		else if (!strncmp(line, "invalid ", 8))
			snprintf(r->invalid, sizeof(r->invalid), "%s", line + 8);
		else if (sscanf(line, "timer %lf", &r->timer) != 1 &&
			 sscanf(line, "moncpu %d", &r->moncpu) != 1 &&
			 sscanf(line, "rss0 %ld", &r->rss0) != 1 &&
			 sscanf(line, "rss %ld", &r->rss) != 1 &&
			 sscanf(line, "touches %ld", &r->touches) != 1)
			sscanf(line, "pinned %d", &r->pinned);
	}
	if (window) {
		log_read(log, r, other, sizeof(other));
		unlink(log);
	}
	r->ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!r->ok) {
		fprintf(stderr, "fault: %s window %s, %s: child failed (%s %d%s); reproduce with:\n  ",
			what, wname(window), cond_name[cond],
			WIFEXITED(st) ? "exit" : "signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
			WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? ", timed out" : "");
		if (window == W_ADAPTIVE)
			fprintf(stderr, "LD_PRELOAD=%s NUMASHADOW_POLICY=%s "
				"NUMASHADOW_VERIFY=0 NUMASHADOW_CTL=0 ", lib, POLICY);
		else if (window)
			fprintf(stderr, "LD_PRELOAD=%s NUMASHADOW_POLICY=%s NUMASHADOW_FAULT_AROUND=%u "
				"NUMASHADOW_VERIFY=0 NUMASHADOW_CTL=0 ", lib, POLICY, window);
		fprintf(stderr, "%s --child %s %s %d %d %d %s\n", self, mode, a_w, cond, cpu_a,
			cpu_b, mib);
		failed = 1;
		return;
	}
	if (!r->invalid[0] && (!have || (!strcmp(mode, "sparse") && r->rss <= 0)))
		snprintf(r->invalid, sizeof(r->invalid), "the child printed no number");
	/* Without faults served by the monitor there is nothing of ours to
	 * time: placement fell back to mbind, or was refused. */
	if (!r->invalid[0] && window && r->faults <= 0)
		snprintf(r->invalid, sizeof(r->invalid), "the monitor served %ld faults%s%s",
			 r->faults, other[0] ? "; the runtime said: " : " (no exit report)",
			 other);
	if (!r->invalid[0] && (cond == C_SAME || cond == C_OTHER) && window && r->pinned < 1)
		snprintf(r->invalid, sizeof(r->invalid), "no monitor thread found to pin");
	if (r->invalid[0]) {
		fprintf(stderr, "fault: %s window %s, %s: INVALID, no number reported: %s\n",
			what, wname(window), cond_name[cond], r->invalid);
		return;
	}
	if (window && other[0])
		fprintf(stderr, "fault: %s window %s, %s: the runtime said: %s\n", what,
			wname(window), cond_name[cond], other);
	r->valid = 1;
}

/* A process spinning on cpu until killed; its pid, or -1. */
static pid_t spinner_start(int cpu)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pin(0, cpu);
		for (;;)
			__asm__ volatile("" ::: "memory");
	}
	return pid;
}

static void spinner_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* Medians over the repetitions of one condition and side. */
struct cell {
	int n;			/* valid repetitions */
	double v[REPS];		/* ns per page */
	double faults[REPS], sleeps[REPS];
	double med, faults_med, sleeps_med;
	double lo, hi;		/* fastest and slowest repetition */
	int beside;		/* runs that ended with the monitor on the
				 * toucher's CPU */
	char invalid[256];
};

struct latcell {
	int n;
	double med[REPS], p99[REPS], timer[REPS];
	double med_med, p99_med, timer_med;
	char invalid[256];
};

/* The sparse case: one side's repetitions and their medians. */
struct sparsecell {
	int n;
	double rss[REPS], rss0[REPS], us[REPS], faults[REPS], touches[REPS];
	double rss_med, rss0_med, us_med, faults_med, touches_med;
	double us_lo, us_hi;	/* fastest and slowest loop */
	int beside;		/* runs that ended with the monitor on the
				 * toucher's CPU */
	char invalid[256];
};

static struct cell amort[NR_CONDS][NR_SIDES];
static struct latcell latency[NR_CONDS][2];	/* native, window 1 */
static struct sparsecell sparse[NR_SPARSE];

static void settle(void)
{
	for (int c = 0; c < NR_CONDS; c++) {
		for (size_t s = 0; s < NR_SIDES; s++) {
			struct cell *x = &amort[c][s];
			if (!x->n)
				continue;
			double f[REPS], z[REPS];
			memcpy(f, x->faults, sizeof(f));
			memcpy(z, x->sleeps, sizeof(z));
			x->med = bench_quantile(x->v, x->n, 0.5);
			x->lo = x->v[0];	/* sorted by bench_quantile() */
			x->hi = x->v[x->n - 1];
			x->faults_med = bench_quantile(f, x->n, 0.5);
			x->sleeps_med = bench_quantile(z, x->n, 0.5);
		}
		for (int s = 0; s < 2; s++) {
			struct latcell *l = &latency[c][s];
			if (!l->n)
				continue;
			l->med_med = bench_quantile(l->med, l->n, 0.5);
			l->p99_med = bench_quantile(l->p99, l->n, 0.5);
			l->timer_med = bench_quantile(l->timer, l->n, 0.5);
		}
	}
	for (size_t s = 0; s < NR_SPARSE; s++) {
		struct sparsecell *x = &sparse[s];
		if (!x->n)
			continue;
		x->rss_med = bench_quantile(x->rss, x->n, 0.5);
		x->rss0_med = bench_quantile(x->rss0, x->n, 0.5);
		x->us_med = bench_quantile(x->us, x->n, 0.5);
		x->us_lo = x->us[0];	/* sorted by bench_quantile() */
		x->us_hi = x->us[x->n - 1];
		x->faults_med = bench_quantile(x->faults, x->n, 0.5);
		x->touches_med = bench_quantile(x->touches, x->n, 0.5);
	}
}

static int sparse_ok(size_t s)
{
	return sparse[s].n == REPS && !sparse[s].invalid[0];
}

int main(int argc, char **argv)
{
	int conds[NR_CONDS], nconds = 0;
	char exe[4096];
	cpu_set_t set;

	pg = sysconf(_SC_PAGESIZE);
	if (argc == 8 && !strcmp(argv[1], "--child") &&
	    (!strcmp(argv[2], "touch") || !strcmp(argv[2], "lat") ||
	     !strcmp(argv[2], "sparse")))
		return child_main(argv);
	mib = argc == 2 ? argv[1] : DEFAULT_MIB;
	char *end;
	long m = strtol(mib, &end, 10);
	if (argc > 2 || *end || m < 1 || m > 4096) {
		fprintf(stderr, "usage: %s [MIB]  (1..4096; default %s)\n"
			"       %s --child touch|lat|sparse 0|adaptive|WINDOW COND CPU OTHER_CPU MIB\n",
			argv[0], DEFAULT_MIB, argv[0]);
		return 1;
	}
	size_t npages = ((size_t)m << 20) / (size_t)pg;
	if (bench_need_lib("fault") || bench_lib_path("fault", lib) ||
	    bench_self("fault", exe, sizeof(exe)))
		return 1;
	self = exe;
	if (sched_getaffinity(0, sizeof(set), &set))
		return perror("fault: sched_getaffinity"), 1;
	cpu_a = -1;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set)) {
			if (cpu_a < 0)
				cpu_a = c;
			else if (cpu_b < 0)
				cpu_b = c;
		}
	/* One CPU: the monitor always shares it; only "same" means anything. */
	if (cpu_b >= 0)
		conds[nconds++] = C_IDLE;
	conds[nconds++] = C_SAME;
	if (cpu_b >= 0) {
		conds[nconds++] = C_OTHER;
		conds[nconds++] = C_BUSY;
	}
	if (numa_available() < 0 || numa_node_of_cpu(cpu_a) < 0) {
		fprintf(stderr, "fault: no NUMA information for CPU %d (libnuma)\n", cpu_a);
		return 1;
	}
	double load[3] = { 0 };
	getloadavg(load, 3);
	/* The default condition: the monitor left free. */
	int dc = cpu_b >= 0 ? C_IDLE : C_SAME;
	uint64_t t0 = bench_now_ns();

	for (int rep = 0; rep < REPS; rep++) {
		for (int ci = 0; ci < nconds; ci++) {
			int c = conds[ci];
			pid_t spin = c == C_BUSY ? spinner_start(cpu_b) : 0;
			for (size_t k = 0; k < NR_SIDES; k++) {
				size_t s = (k + (size_t)rep) % NR_SIDES;
				struct cell *x = &amort[c][s];
				struct run r;
				run_child("touch", s ? windows[s - 1] : 0, c, &r);
				if (r.valid) {
					x->beside += r.moncpu == cpu_a;
					x->faults[x->n] = (double)r.faults;
					x->sleeps[x->n] = (double)r.sleeps;
					x->v[x->n++] = r.ns;
				} else if (r.invalid[0]) {
					snprintf(x->invalid, sizeof(x->invalid), "%s", r.invalid);
				}
			}
			for (int k = 0; k < 2; k++) {
				int s = k ^ (rep & 1);
				struct latcell *l = &latency[c][s];
				struct run r;
				run_child("lat", s ? 1 : 0, c, &r);
				if (r.valid) {
					l->timer[l->n] = r.timer;
					l->p99[l->n] = r.p99;
					l->med[l->n++] = r.med;
				} else if (r.invalid[0]) {
					snprintf(l->invalid, sizeof(l->invalid), "%s", r.invalid);
				}
			}
			spinner_stop(spin);
		}
		for (size_t k = 0; k < NR_SPARSE; k++) {
			size_t s = (k + (size_t)rep) % NR_SPARSE;
			struct sparsecell *x = &sparse[s];
			struct run r;
			run_child("sparse", sparse_windows[s], dc, &r);
			if (r.valid) {
				x->rss[x->n] = (double)r.rss;
				x->rss0[x->n] = (double)r.rss0;
				x->faults[x->n] = (double)r.faults;
				x->touches[x->n] = (double)r.touches;
				x->beside += r.moncpu == cpu_a;
				x->us[x->n++] = r.ns / 1000;
			} else if (r.invalid[0]) {
				snprintf(x->invalid, sizeof(x->invalid), "%s", r.invalid);
			}
		}
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	settle();

	/* A side with an invalid repetition has no number at all. */
	char name[64];
	for (int ci = 0; ci < nconds; ci++) {
		int c = conds[ci];
		struct cell *nat = &amort[c][0];
		for (size_t s = 1; s < NR_SIDES; s++) {
			struct cell *x = &amort[c][s];
			if (x->n != REPS || x->invalid[0] || nat->n != REPS || nat->invalid[0])
				continue;
			snprintf(name, sizeof(name), "amortized_%s_%s%s", cond_name[c],
				 windows[s - 1] == W_ADAPTIVE ? "" : "w", wname(windows[s - 1]));
			bench_json("fault", name, x->med, 1, "ns/page", nat->med,
				   x->med / nat->med);
		}
	}
	for (int ci = 0; ci < nconds; ci++) {
		int c = conds[ci];
		struct latcell *nat = &latency[c][0], *w1 = &latency[c][1];
		if (nat->n != REPS || w1->n != REPS || nat->invalid[0] || w1->invalid[0])
			continue;
		snprintf(name, sizeof(name), "latency_%s_w1_median", cond_name[c]);
		bench_json("fault", name, w1->med_med, 0, "ns", nat->med_med,
			   w1->med_med / nat->med_med);
		snprintf(name, sizeof(name), "latency_%s_w1_p99", cond_name[c]);
		bench_json("fault", name, w1->p99_med, 0, "ns", nat->p99_med,
			   w1->p99_med / nat->p99_med);
	}
	for (size_t s = 1; s < NR_SPARSE && sparse_ok(0); s++) {
		unsigned w = sparse_windows[s];
		if (!sparse_ok(s))
			continue;
		snprintf(name, sizeof(name), "sparse_rss_%s%s", w == W_ADAPTIVE ? "" : "w",
			 wname(w));
		bench_json("fault", name, sparse[s].rss_med, 0, "kB", sparse[0].rss_med,
			   sparse[s].rss_med / sparse[0].rss_med);
		snprintf(name, sizeof(name), "sparse_time_%s%s", w == W_ADAPTIVE ? "" : "w",
			 wname(w));
		bench_json("fault", name, sparse[s].us_med, 1, "us", sparse[0].us_med,
			   sparse[s].us_med / sparse[0].us_med);
	}

	printf("\nfault: %zu MiB = %zu pages, each first touched once, in order, by one thread on CPU %d; "
	       "NUMASHADOW_POLICY=%s; MADV_NOHUGEPAGE; median of %d; load average %.2f at start; %.0f s in all\n",
	       npages * (size_t)pg >> 20, npages, cpu_a, POLICY, REPS, load[0], secs);
	printf("%-6s %-33s %8s %12s %9s %15s %6s %7s %12s %7s\n", "cond", "monitor", "window",
	       "native ns/pg", "ns/pg", "ns/pg range", "ratio", "faults", "sleeps/fault", "mon@CPU");
	for (int ci = 0; ci < nconds; ci++) {
		int c = conds[ci];
		struct cell *nat = &amort[c][0];
		int nat_ok = nat->n == REPS && !nat->invalid[0];
		for (size_t s = 1; s < NR_SIDES; s++) {
			struct cell *x = &amort[c][s];
			if (x->n == REPS && !x->invalid[0] && nat_ok)
				printf("%-6s %-33s %8s %12.0f %9.0f %7.0f..%-7.0f %6.2f %7.0f %12.2f %5d/%d\n",
				       cond_name[c], cond_what[c], wname(windows[s - 1]), nat->med, x->med,
				       x->lo, x->hi, x->med / nat->med, x->faults_med,
				       x->faults_med > 0 ? x->sleeps_med / x->faults_med : 0.0,
				       x->beside, x->n);
			else if (nat_ok)
				printf("%-6s %-33s %8s %12.0f %9s %15s %6s %7s %12s %7s\n", cond_name[c],
				       cond_what[c], wname(windows[s - 1]), nat->med, "-", "-",
				       x->invalid[0] ? "invalid" : "failed", "-", "-", "-");
			else
				printf("%-6s %-33s %8s %12s %9s %15s %6s %7s %12s %7s\n", cond_name[c],
				       cond_what[c], wname(windows[s - 1]), "-", "-", "-",
				       nat->invalid[0] ? "invalid" : "failed", "-", "-", "-");
		}
	}
	printf("mon@CPU: runs that ended with the monitor last on the toucher's CPU %d, of all runs\n", cpu_a);
	printf("\nsingle-fault latency, window 1, %d faults per run, median of %d runs' median and p99 (ns)\n",
	       LAT_FAULTS, REPS);
	printf("%-6s %14s %11s %14s %11s %13s %10s %9s\n", "cond", "native median", "native p99",
	       "ns-w1 median", "ns-w1 p99", "ratio median", "ratio p99", "timer ns");
	for (int ci = 0; ci < nconds; ci++) {
		int c = conds[ci];
		struct latcell *nat = &latency[c][0], *w1 = &latency[c][1];
		if (nat->n == REPS && w1->n == REPS && !nat->invalid[0] && !w1->invalid[0])
			printf("%-6s %14.0f %11.0f %14.0f %11.0f %13.2f %10.2f %9.0f\n", cond_name[c],
			       nat->med_med, nat->p99_med, w1->med_med, w1->p99_med,
			       w1->med_med / nat->med_med, w1->p99_med / nat->p99_med, nat->timer_med);
		else
			printf("%-6s %14s %11s %14s %11s %13s %10s %9s\n", cond_name[c], "-", "-",
			       "-", "-", "invalid/failed", "", "");
	}
	for (int ci = 0; ci < nconds; ci++)
		for (size_t s = 0; s < NR_SIDES; s++)
			if (amort[conds[ci]][s].invalid[0])
				printf("invalid: %s %s%s: %s\n", cond_name[conds[ci]],
				       s ? "window " : "", s ? wname(windows[s - 1]) : "native",
				       amort[conds[ci]][s].invalid);

	printf("\nsparse: %lu MiB, one byte every %lu KiB (2 MiB + 28 KiB), %.0f touches in address "
	       "order, by one thread on CPU %d; cond %s (%s); NUMASHADOW_POLICY=%s; MADV_NOHUGEPAGE; "
	       "median of %d\n", SPARSE_SPAN >> 20, SPARSE_STEP >> 10,
	       sparse[0].n ? sparse[0].touches_med : (double)SPARSE_MAX, cpu_a, cond_name[dc],
	       cond_what[dc],
	       POLICY, REPS);
	printf("%-8s %11s %6s %15s %10s %19s %6s %7s %7s\n", "window", "RssAnon kB", "ratio",
	       "RssAnon before", "loop us", "loop us range", "ratio", "faults", "mon@CPU");
	for (size_t s = 0; s < NR_SPARSE; s++) {
		struct sparsecell *x = &sparse[s];
		char rr[16] = "-", tr[16] = "-", f[24] = "-", b[24] = "-", range[48];
		if (!sparse_ok(s)) {
			printf("%-8s %11s %6s %15s %10s %19s %6s %7s %7s%s%s\n",
			       wname(sparse_windows[s]), "-", "-", "-", "-", "-", "-", "-", "-",
			       x->invalid[0] ? "  invalid: " : "  failed", x->invalid);
			continue;
		}
		if (s && sparse_ok(0)) {
			snprintf(rr, sizeof(rr), "%.2f", x->rss_med / sparse[0].rss_med);
			snprintf(tr, sizeof(tr), "%.2f", x->us_med / sparse[0].us_med);
		}
		if (s) {
			snprintf(f, sizeof(f), "%.0f", x->faults_med);
			snprintf(b, sizeof(b), "%d/%d", x->beside, x->n);
		}
		snprintf(range, sizeof(range), "%.1f..%.1f", x->us_lo, x->us_hi);
		printf("%-8s %11.0f %6s %15.0f %10.1f %19s %6s %7s %7s\n", wname(sparse_windows[s]),
		       x->rss_med, rr, x->rss0_med, x->us_med, range, tr, f, b);
	}

	/* Which windows pay for themselves, and the fixed window to choose
	 * (NUMASHADOW_FAULT_AROUND) for sequential first touch: the smallest
	 * fixed window at or below native in every condition - a free monitor
	 * may land on either CPU, so it must hold up in both; else the
	 * smallest at or below native in the default condition (idle); else
	 * the smallest within 10% of the best there.  The adaptive default is
	 * shown beside them, not chosen among them. */
	printf("\n");
	unsigned all_ok[NR_SIDES] = { 0 };
	for (size_t s = 1; s < NR_SIDES; s++)
		all_ok[s] = 1;
	for (int ci = 0; ci < nconds; ci++) {
		int c = conds[ci], any = 0;
		struct cell *nat = &amort[c][0];
		printf("windows at or below 1.0x native, %s:", cond_name[c]);
		for (size_t s = 1; s < NR_SIDES; s++) {
			struct cell *x = &amort[c][s];
			if (x->n == REPS && nat->n == REPS && x->med <= nat->med) {
				printf(" %s (%.2fx)", wname(windows[s - 1]), x->med / nat->med);
				any = 1;
			} else {
				all_ok[s] = 0;
			}
		}
		printf("%s\n", any ? "" : " none");
	}
	struct cell *nat = &amort[dc][0];
	double best = 0;
	for (size_t s = 1; s < NR_SIDES - 1; s++)
		if (amort[dc][s].n == REPS && nat->n == REPS &&
		    (!best || amort[dc][s].med < best))
			best = amort[dc][s].med;
	size_t pick = 0;
	const char *why = "";
	for (size_t s = 1; s < NR_SIDES - 1 && !pick; s++)
		if (all_ok[s]) {
			pick = s;
			why = "the smallest at or below native in every condition";
		}
	for (size_t s = 1; s < NR_SIDES - 1 && !pick && best; s++)
		if (amort[dc][s].n == REPS && amort[dc][s].med <= nat->med) {
			pick = s;
			why = "the smallest at or below native in the default condition; none is in every condition";
		}
	for (size_t s = 1; s < NR_SIDES - 1 && !pick && best; s++)
		if (amort[dc][s].n == REPS && amort[dc][s].med <= best * 1.10) {
			pick = s;
			why = "none is at or below native; the smallest within 10% of the best in the default condition";
		}
	if (pick)
		printf("recommended fixed window: %u (%s; %.2fx native in %s)\n",
		       windows[pick - 1], why, amort[dc][pick].med / nat->med, cond_name[dc]);
	else
		printf("recommended fixed window: none (no valid measurement)\n");
	/* The adaptive default, sequential and sparse. */
	printf("default (adaptive), sequential:");
	for (int ci = 0; ci < nconds; ci++) {
		int c = conds[ci];
		struct cell *x = &amort[c][NR_SIDES - 1], *n0 = &amort[c][0];
		if (x->n == REPS && n0->n == REPS && !x->invalid[0] && !n0->invalid[0])
			printf(" %s %.2fx", cond_name[c], x->med / n0->med);
		else
			printf(" %s -", cond_name[c]);
	}
	if (sparse_ok(0) && sparse_ok(1))
		printf("; sparse: RssAnon %.2fx native (%s 1.1x), loop %.2fx\n",
		       sparse[1].rss_med / sparse[0].rss_med,
		       sparse[1].rss_med <= 1.1 * sparse[0].rss_med ? "within" : "above",
		       sparse[1].us_med / sparse[0].us_med);
	else
		printf("; sparse: -\n");
	return failed;
}
