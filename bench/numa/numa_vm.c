/* SPDX-License-Identifier: MIT */
/*
 * numa_vm: the NUMA workloads (triad, chase, phase, in bench/numa) under
 * the kernel's policies through numactl and under numashadow's, in a
 * NUMA guest (`make bench-vm` boots one with 2 nodes, then one with 4).
 *
 * The guest's memory has the same speed on every node, so its times say
 * nothing about NUMA.  What this reports is what the kernel answers, which
 * is exact anywhere:
 *   - own node: the share of each thread's pages on the node of the CPUs
 *     it is pinned to (move_pages(2) queries, no target), the mean over
 *     the threads;
 *   - migrated: pages the kernel migrated while the workload ran
 *     (pgmigrate_success of /proc/vmstat, after minus before: nothing
 *     else runs in the guest);
 *   - ns CPU: on-CPU time of numashadow's own threads (the monitor, which
 *     serves first touches, write-protect faults and moves pages at their
 *     next touch, and the service loop, which moves what --balance
 *     decides) during the timed part, as a share of that part's wall
 *     time: the time numashadow spends migrating and deciding what to
 *     migrate (it records no durations of its own), a ratio of two times
 *     taken in the same run.  The kernel's own migrations run in the
 *     program's threads and cannot be told apart: "-".
 * plus what numashadow counted itself (its exit report: writes sampled,
 * pages moved by --balance and by next-touch), and the workload's speed,
 * labelled: for real NUMA hardware only.
 *
 * Each case runs a workload as a child: `numactl POLICY -- W ...` (or, in
 * a guest without numactl, W --mempolicy POLICY, which makes the same
 * set_mempolicy(2) call), W alone with the kernel's NUMA balancing on, or
 * `numashadow run --report=json --log FILE SETTING -- W ...`.  The kernel's NUMA balancing is off
 * in every other case, so that only the policy under test moves pages,
 * and is put back as it was at the end.
 *
 * Output: one JSON object per line, then a table per workload.  On the
 * host, `numa_vm --chart DIR FILE...` reads the output of guest runs
 * (files in the guest are lost when it powers off), prints the table of
 * every node count side by side and writes DIR/WORKLOAD.svg.
 *
 * Times are reported, never judged: exit 0, or 1 when it cannot measure
 * (fewer than 2 nodes with CPUs, no library, a child that failed).
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include "bench.h"
#include "numa.h"

#define CHILD_TIMEOUT	180	/* s */
#define MAX_POINTS	4	/* measure points per run (phase has 3) */
#define MAX_CASES	16
#define MAX_RUNS	8	/* node counts in a chart */
#define NUMA_BAL	"/proc/sys/kernel/numa_balancing"

/* ---- what runs ---- */

struct workload {
	const char *name;	/* the executable next to this one */
	double mib, secs;	/* its arguments (mib scaled by --scale) */
	const char *what;	/* for the table's title */
	const char *unit;	/* of its rate */
};

static struct workload workloads[] = {
	{ "triad", 1, 3, "a[i] = b[i] + 3 c[i] over each thread's slices (MiB per array a thread); "
	  "arrays written first by one thread on node 0", "MB/s" },
	{ "chase", 4, 2, "random pointer chase over a ring of 64-byte cells a thread (MiB a thread); "
	  "each thread builds its own ring", "ns/hop" },
	{ "phase", 2, 2, "read-modify-write of one block a thread (MiB a block), the blocks passed "
	  "on to the next thread at each of 3 phases (s a phase)", "Mupd/s" },
};
#define NR_WORKLOADS (sizeof(workloads) / sizeof(*workloads))

enum kind { K_NUMACTL, K_AUTONUMA, K_NS };

struct pcase {
	const char *name;	/* in JSON and tables; no '_' */
	enum kind kind;
	const char *opt;	/* numactl's option, or numashadow run's */
	const char *mempolicy;	/* K_NUMACTL without numactl: W --mempolicy */
	int next_touch;		/* W --next-touch */
	const char *what;	/* for the legend; NULL: numashadow run OPT */
};

static char weighted[128];	/* --weighted-interleave=0:2,1:1,... */

static struct pcase cases[] = {
	{ "numactl-local", K_NUMACTL, "--localalloc", "local", 0,
	  "numactl --localalloc: the kernel's first touch" },
	{ "numactl-interleave", K_NUMACTL, "--interleave=all", "interleave", 0,
	  "numactl --interleave=all" },
	{ "kernel-balancing", K_AUTONUMA, NULL, NULL, 0,
	  "first touch, kernel.numa_balancing=1" },
	{ "ns-local", K_NS, "--localalloc", NULL, 0,
	  "numashadow run --localalloc: first touch" },
	{ "ns-interleave", K_NS, "--interleave=all", NULL, 0,
	  "numashadow run --interleave=all" },
	{ "ns-weighted", K_NS, weighted, NULL, 0, NULL },
	{ "ns-balance", K_NS, "--balance", NULL, 0,
	  "numashadow run --balance (64 MiB/s)" },
	{ "ns-next-touch", K_NS, NULL, NULL, 1,
	  "numashadow run, W calls numashadow_next_touch()" },
};
#define NR_CASES (sizeof(cases) / sizeof(*cases))

/* What one child said, and what the driver saw around it. */
struct result {
	int ok;			/* exited 0 */
	int valid;		/* ok, and every line the numbers need came */
	char why[256];		/* when not valid */
	int nthreads, npoints;
	long pages;		/* the workload's pages */
	long sh_pages[MAX_POINTS][NUMA_MAX_NODES];	/* per point and thread */
	long sh_own[MAX_POINTS][NUMA_MAX_NODES];
	long sh_absent[MAX_POINTS][NUMA_MAX_NODES];
	long absent;		/* their sum */
	int runtime;		/* libnumashadow.so was loaded */
	uint64_t migrated;	/* pgmigrate_success, the whole child */
	uint64_t rt_ns, wall_ns;
	int report;		/* numashadow's exit report was read: */
	unsigned long samples;	/* balance: writes sampled */
	unsigned long bal_moves; /* balance: pages moved */
	unsigned long nt_moves;	/* next-touch: pages moved */
	unsigned long placed;	/* first-touch: pages the monitor placed */
	char tasks[128];	/* numashadow's threads' ms, by thread id */
	double rate;
	char unit[16];
	double own, own_min, own_max;	/* derived: see share_of() */
	double own_point[MAX_POINTS];	/* mean over threads, per point */
};

/* ---- running the cases (in the guest) ---- */

static int write_sysctl(const char *path, int v)
{
	FILE *f = fopen(path, "w");
	int ok = f && fprintf(f, "%d\n", v) > 0;

	if (f && fclose(f))
		ok = 0;
	return ok ? 0 : -1;
}

static int read_sysctl(const char *path)
{
	FILE *f = fopen(path, "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* numactl on PATH (the guest's is the host's PATH), into out; 0 or -1. */
static int find_numactl(char *out, size_t n)
{
	const char *path = getenv("PATH");

	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t k = strcspn(p, ":");
		if (snprintf(out, n, "%.*s/numactl", k ? (int)k : 1, k ? p : ".") < (int)n &&
		    !access(out, X_OK))
			return 0;
		p += k + (p[k] == ':');
	}
	return -1;
}

/* Mean own share over threads at each point; own = the last point, or
 * for phase the mean of points 1.. (the phases after a change of hands);
 * min and max over the same threads and points. */
static void share_of(struct result *r, int after_change)
{
	int first = after_change && r->npoints > 1 ? 1 : r->npoints - 1;
	double sum = 0;
	int n = 0;

	r->own_min = 1;
	r->own_max = 0;
	for (int k = 0; k < r->npoints; k++) {
		double pk = 0;
		for (int t = 0; t < r->nthreads; t++) {
			/* Over the pages the kernel placed: a page it did not
			 * report present has no node to count. */
			long known = r->sh_pages[k][t] - r->sh_absent[k][t];
			double s = known > 0 ? (double)r->sh_own[k][t] / (double)known : 0;
			pk += s / r->nthreads;
			if (k >= first) {
				r->own_min = s < r->own_min ? s : r->own_min;
				r->own_max = s > r->own_max ? s : r->own_max;
			}
		}
		r->own_point[k] = pk;
		if (k >= first) {
			sum += pk;
			n++;
		}
	}
	r->own = n ? sum / n : 0;
}

static void parse_child(char *out, struct result *r)
{
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		int k, t, node;
		long pages, own, absent;
		unsigned long long a, b;
		char word[32];

		if (sscanf(line, "share %d %d %d %ld %ld %ld", &k, &t, &node, &pages, &own,
			   &absent) == 6 && k >= 0 && k < MAX_POINTS && t >= 0 && t < NUMA_MAX_NODES) {
			r->sh_pages[k][t] += pages;
			r->sh_own[k][t] += own;
			r->sh_absent[k][t] += absent;
			r->absent += absent;
			r->npoints = k + 1 > r->npoints ? k + 1 : r->npoints;
		} else if (sscanf(line, "workload %*s threads %d pages %ld", &r->nthreads,
				  &r->pages) == 2) {
		} else if (sscanf(line, "runtime %31s", word) == 1) {
			r->runtime = !strcmp(word, "yes");
		} else if (sscanf(line, "rt_task %d %llu", &k, &a) == 2) {
			size_t m = strlen(r->tasks);
			snprintf(r->tasks + m, sizeof(r->tasks) - m, "%s%d: %.0f ms", m ? ", " : "",
				 k, (double)a / 1e6);
		} else if (sscanf(line, "rt_cpu %llu %llu", &a, &b) == 2) {
			r->rt_ns = a;
			r->wall_ns = b;
		} else if (sscanf(line, "rate %lf %15s", &r->rate, r->unit) == 2) {
		}
	}
}

/* The number after "key": at the top level of the JSON object that
 * follows "obj": in text (objects nested in it skipped); 0 when either is
 * missing.  The report's strings hold no braces. */
static unsigned long json_num(const char *text, const char *obj, const char *key)
{
	const char *p = strstr(text, obj);
	size_t n = strlen(key);
	int depth = 0;

	if (!p || !(p = strchr(p, '{')))
		return 0;
	for (; *p; p++) {
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			break;
		else if (depth == 1 && !strncmp(p, key, n))
			return strtoul(p + n, NULL, 10);
	}
	return 0;
}

/* numashadow's exit report (run --report=json --log FILE): the process's
 * one line, read for what it counted itself; the kernel's numbers stay
 * the ones reported. */
static void read_report(const char *log, struct result *r)
{
	char *text = bench_read_file(log);
	const char *line = text ? strstr(text, "numashadow: report: {") : NULL;

	if (line) {
		r->report = 1;
		r->samples = json_num(line, "\"balance\":", "\"samples\":");
		r->bal_moves = json_num(line, "\"balance\":", "\"moves\":");
		r->nt_moves = json_num(line, "\"first_touch\":", "\"next_touch\":");
		r->placed = json_num(line, "\"first_touch\":", "\"pages\":");
	}
	free(text);
}

/* Runs workload w under case c; fills *r. */
static void run_case(const char *dir, const char *numactl, const struct workload *w,
		     const struct pcase *c, double scale, struct result *r)
{
	char prog[PATH_MAX + 32], mib[32], secs[32], out[16384], *argv[20], log[64];
	int n = 0, bal = c->kind == K_AUTONUMA;
	char **env = bench_env(NULL);

	memset(r, 0, sizeof(*r));
	snprintf(prog, sizeof(prog), "%s/%s", dir, w->name);
	snprintf(mib, sizeof(mib), "%g", w->mib * scale);
	snprintf(secs, sizeof(secs), "%g", w->secs);
	if (c->kind == K_NUMACTL && numactl) {
		argv[n++] = (char *)numactl;
		argv[n++] = (char *)c->opt;
		argv[n++] = "--";
	} else if (c->kind == K_NS) {
		snprintf(log, sizeof(log), "/tmp/numa_vm-%d.log", (int)getpid());
		unlink(log);
		argv[n++] = NS_BUILD_DIR "/numashadow";
		argv[n++] = "run";
		argv[n++] = "--report=json";
		argv[n++] = "--log";
		argv[n++] = log;
		if (c->opt)
			argv[n++] = (char *)c->opt;
		argv[n++] = "--";
	}
	argv[n++] = prog;
	if (c->kind == K_NUMACTL && !numactl) {
		argv[n++] = "--mempolicy";
		argv[n++] = (char *)c->mempolicy;
	}
	if (c->next_touch)
		argv[n++] = "--next-touch";
	argv[n++] = mib;
	argv[n++] = secs;
	argv[n] = NULL;
	if (!env) {
		snprintf(r->why, sizeof(r->why), "no memory");
		return;
	}
	if (write_sysctl(NUMA_BAL, bal) && (bal || read_sysctl(NUMA_BAL) > 0)) {
		snprintf(r->why, sizeof(r->why), "cannot set %s to %d (not root?)", NUMA_BAL, bal);
		free(env);
		return;
	}
	uint64_t m0 = numa_vmstat("pgmigrate_success");
	int st = bench_run("numa_vm", argv, env, CHILD_TIMEOUT, out, sizeof(out));
	r->migrated = numa_vmstat("pgmigrate_success") - m0;
	if (bal)
		write_sysctl(NUMA_BAL, 0);
	free(env);
	if (st < 0) {
		snprintf(r->why, sizeof(r->why), "could not run it");
		return;
	}
	r->ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!r->ok) {
		char cmd[1024] = "";
		for (int i = 0; argv[i]; i++)
			snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%s", i ? " " : "",
				 argv[i]);
		snprintf(r->why, sizeof(r->why), "child failed (%s %d%s): %.180s",
			 WIFEXITED(st) ? "exit" : "signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
			 WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? ", timed out" : "", cmd);
		return;
	}
	parse_child(out, r);
	if (c->kind == K_NS) {
		read_report(log, r);
		unlink(log);
	}
	if (!r->nthreads || !r->npoints || !r->wall_ns || !r->unit[0])
		snprintf(r->why, sizeof(r->why), "the child's output lacked lines");
	else if (r->runtime != (c->kind == K_NS))
		snprintf(r->why, sizeof(r->why), "libnumashadow.so %s loaded in the child",
			 r->runtime ? "was" : "was not");
	else
		r->valid = 1;
	share_of(r, !strcmp(w->name, "phase"));
}

static void print_json(const struct workload *w, const struct pcase *c, int nodes,
		       const struct result *r, const struct result *base)
{
	char bench[32], name[96];
	double b_own = base && base->valid ? base->own : 0;
	double b_rate = base && base->valid ? base->rate : 0;

	snprintf(bench, sizeof(bench), "numa_%s", w->name);
	snprintf(name, sizeof(name), "%s_%dn_own_node", c->name, nodes);
	bench_json(bench, name, r->own, 3, "share", b_own, b_own > 0 ? r->own / b_own : 0);
	snprintf(name, sizeof(name), "%s_%dn_migrated", c->name, nodes);
	bench_json(bench, name, (double)r->migrated, 0, "pages", (double)r->pages,
		   r->pages ? (double)r->migrated / (double)r->pages : 0);
	if (c->kind == K_NS) {
		snprintf(name, sizeof(name), "%s_%dn_ns_cpu", c->name, nodes);
		bench_json(bench, name, (double)r->rt_ns / 1e6, 1, "ms", (double)r->wall_ns / 1e6,
			   (double)r->rt_ns / (double)r->wall_ns);
	}
	snprintf(name, sizeof(name), "%s_%dn_time_real_numa_only", c->name, nodes);
	bench_json(bench, name, r->rate, 1, r->unit, b_rate, b_rate > 0 ? r->rate / b_rate : 0);
	/* A workload with several measure points (phase): each one's share. */
	for (int k = 0; r->npoints > 1 && k < r->npoints; k++) {
		double b = base && base->valid ? base->own_point[k] : 0;
		snprintf(name, sizeof(name), "%s_%dn_own_node_point%d", c->name, nodes, k);
		bench_json(bench, name, r->own_point[k], 3, "share", b,
			   b > 0 ? r->own_point[k] / b : 0);
	}
}

static void print_table(const struct workload *w, int nodes, double scale,
			const struct result *res)
{
	int phase = !strcmp(w->name, "phase");

	printf("\nnuma_%s, %d nodes: %s; %g MiB, %g s%s\n", w->name, nodes, w->what,
	       w->mib * scale, w->secs, phase ? " a phase" : " timed");
	printf("%-19s %6s %10s %9s %7s %7s %11s  %s\n", "case", "own", "min-max", "migrated",
	       "/page", "ns CPU", w->unit, phase ? "own by phase 0 1 2" : "");
	for (size_t i = 0; i < NR_CASES; i++) {
		const struct result *r = &res[i];
		char mt[16] = "-", by[64] = "";
		if (!r->valid) {
			printf("%-19s %s\n", cases[i].name, r->ok ? "invalid" : "failed");
			continue;
		}
		if (cases[i].kind == K_NS)
			snprintf(mt, sizeof(mt), "%.2f%%", 100.0 * (double)r->rt_ns / (double)r->wall_ns);
		for (int k = 0; phase && k < r->npoints; k++)
			snprintf(by + strlen(by), sizeof(by) - strlen(by), " %.2f", r->own_point[k]);
		printf("%-19s %6.3f %4.2f-%4.2f %9llu %7.3f %7s %11.1f %s\n", cases[i].name,
		       r->own, r->own_min, r->own_max, (unsigned long long)r->migrated,
		       r->pages ? (double)r->migrated / (double)r->pages : 0, mt, r->rate, by);
	}
	for (size_t i = 0; i < NR_CASES; i++)
		if (!res[i].valid)
			printf("%s: %s\n", cases[i].name, res[i].why);
	for (size_t i = 0; i < NR_CASES; i++) {
		const struct result *r = &res[i];
		if (!r->valid || cases[i].kind != K_NS)
			continue;
		if (!r->report)
			printf("report: %s: numashadow's exit report was not found\n", cases[i].name);
		else
			printf("report: %s: numashadow counted %lu pages placed at first touch, "
			       "%lu writes sampled, %lu balance moves, %lu next-touch moves; "
			       "its threads' CPU by thread id: %s\n",
			       cases[i].name, r->placed, r->samples, r->bal_moves, r->nt_moves,
			       r->tasks[0] ? r->tasks : "none");
	}
	for (size_t i = 0; i < NR_CASES; i++)
		if (res[i].valid && res[i].absent)
			printf("note: %s: move_pages said %ld pages were not present when asked "
			       "(summed over threads and points; own counts the others)\n",
			       cases[i].name, res[i].absent);
}

static int guest_main(double scale)
{
	struct numa_run topo = { .name = "numa_vm" };
	static struct result res[NR_WORKLOADS][NR_CASES];
	char self[PATH_MAX], numactl[PATH_MAX], thp[64] = "?";
	int nodes = numa_topology(&topo), failed = 0;
	struct utsname u;

	if (nodes < 2) {
		fprintf(stderr, "numa_vm: needs 2 or more NUMA nodes with CPUs (this machine has %d); "
			"run it in a guest: make bench-vm, or build/numashadow vm --nodes 2 "
			"--file build/bench/numa/triad ... -- build/bench/numa/numa_vm\n", nodes);
		return 1;
	}
	if (bench_need_lib("numa_vm") || bench_self("numa_vm", self, sizeof(self)))
		return 1;
	if (access(NS_BUILD_DIR "/numashadow", X_OK)) {
		fprintf(stderr, "numa_vm: %s/numashadow: %s\n", NS_BUILD_DIR, strerror(errno));
		return 1;
	}
	*strrchr(self, '/') = 0;
	for (size_t i = 0; i < NR_WORKLOADS; i++) {
		char p[PATH_MAX + 32];
		snprintf(p, sizeof(p), "%s/%s", self, workloads[i].name);
		if (access(p, X_OK)) {
			fprintf(stderr, "numa_vm: %s: %s (in a guest, pack it with --file)\n", p,
				strerror(errno));
			return 1;
		}
	}
	int have_numactl = !find_numactl(numactl, sizeof(numactl));
	int bal0 = read_sysctl(NUMA_BAL);
	/* Node 0 weighs 2, the others 1: a weighting whose result is plain
	 * to check (each thread's expected share is its node's weight over
	 * the sum); the guest's nodes are all alike. */
	int m = snprintf(weighted, sizeof(weighted), "--weighted-interleave=");
	for (int t = 0; t < nodes; t++)
		m += snprintf(weighted + m, sizeof(weighted) - (size_t)m, "%s%d:%d", t ? "," : "",
			      topo.nodes[t].node, t ? 1 : 2);
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		char *a, *b;
		if (fgets(thp, sizeof(thp), f) && (a = strchr(thp, '[')) && (b = strchr(a, ']'))) {
			*b = 0;
			memmove(thp, a + 1, strlen(a + 1) + 1);
		}
		fclose(f);
	}
	uname(&u);

	uint64_t t0 = bench_now_ns();
	for (size_t i = 0; i < NR_WORKLOADS; i++)
		for (size_t j = 0; j < NR_CASES; j++) {
			run_case(self, have_numactl ? numactl : NULL, &workloads[i], &cases[j],
				 scale, &res[i][j]);
			failed |= !res[i][j].ok;
			if (!res[i][j].valid)
				fprintf(stderr, "numa_vm: %s %s: %s\n", workloads[i].name,
					cases[j].name, res[i][j].why);
		}
	if (bal0 >= 0)
		write_sysctl(NUMA_BAL, bal0);
	double secs = (double)(bench_now_ns() - t0) / 1e9;

	for (size_t i = 0; i < NR_WORKLOADS; i++)
		for (size_t j = 0; j < NR_CASES; j++)
			if (res[i][j].valid)
				print_json(&workloads[i], &cases[j], nodes, &res[i][j], &res[i][0]);
	printf("\nnuma_vm: %d nodes with CPUs, one thread pinned to each; Linux %s; THP %s "
	       "(the workloads' memory is MADV_NOHUGEPAGE); kernel.numa_balancing %d, "
	       "off but in kernel-balancing; %s; %.0f s in all\n",
	       nodes, u.release, thp, bal0,
	       have_numactl ? "kernel policies through numactl" :
	       "no numactl here: kernel policies set by the workload with set_mempolicy(2), as numactl does",
	       secs);
	printf("own: share of each thread's pages on its own node (kernel's answer, mean of threads; "
	       "1/%d is what spreading gives); migrated: pgmigrate_success; ns CPU: numashadow's "
	       "threads' CPU time / wall time of the timed part; %s\n", nodes,
	       "the last column is a time: for real NUMA hardware only (the guest's nodes have the "
	       "same speed)");
	for (size_t i = 0; i < NR_CASES; i++)
		printf("  %-19s %s%s\n", cases[i].name, cases[i].what ? cases[i].what : "numashadow run ",
		       cases[i].what ? "" : cases[i].opt);
	for (size_t i = 0; i < NR_WORKLOADS; i++)
		print_table(&workloads[i], nodes, scale, res[i]);
	return failed;
}

/* ---- the chart (on the host) ---- */

struct cell {
	int have;
	double own, migrated, pages, mtime, rate;
	int has_mtime;
	double point[MAX_POINTS];	/* own share at each measure point */
	int npoints;
};

struct chart {
	char wl[NR_WORKLOADS][32];
	int nwl;
	char cs[MAX_CASES][32];
	int ncs;
	int nodes[MAX_RUNS], nruns;
	char unit[NR_WORKLOADS][16];
	struct cell c[NR_WORKLOADS][MAX_CASES][MAX_RUNS];
};

static int index_of(char (*names)[32], int *n, int max, const char *name)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(names[i], name))
			return i;
	if (*n == max)
		return -1;
	snprintf(names[*n], 32, "%.31s", name);
	return (*n)++;
}

static int chart_read(struct chart *ch, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int lines = 0;

	if (!f) {
		fprintf(stderr, "numa_vm: --chart: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char wl[32], cs[64], metric[64], unit[16];
		double v, b, q;
		int nodes, w = -1, r = -1;
		const char *j = strstr(line, "{\"bench\":\"numa_");
		if (!j || sscanf(j, "{\"bench\":\"numa_%31[^\"]\",\"case\":\"%63[^\"]\",\"value\":%lf,"
				 "\"unit\":\"%15[^\"]\",\"baseline\":%lf,\"ratio\":%lf}",
				 wl, cs, &v, unit, &b, &q) != 6)
			continue;
		char *u1 = strchr(cs, '_');
		if (!u1 || sscanf(u1, "_%dn_%63s", &nodes, metric) != 2)
			continue;
		*u1 = 0;
		for (int i = 0; i < ch->nwl; i++)
			if (!strcmp(ch->wl[i], wl))
				w = i;
		if (w < 0 && ch->nwl < (int)NR_WORKLOADS) {
			w = ch->nwl++;
			snprintf(ch->wl[w], sizeof(ch->wl[w]), "%s", wl);
		}
		for (int i = 0; i < ch->nruns; i++)
			if (ch->nodes[i] == nodes)
				r = i;
		if (r < 0 && ch->nruns < MAX_RUNS) {
			r = ch->nruns++;
			ch->nodes[r] = nodes;
		}
		int c = index_of(ch->cs, &ch->ncs, MAX_CASES, cs);
		if (w < 0 || r < 0 || c < 0)
			continue;
		struct cell *x = &ch->c[w][c][r];
		x->have = 1;
		lines++;
		if (!strcmp(metric, "own_node")) {
			x->own = v;
		} else if (!strcmp(metric, "migrated")) {
			x->migrated = v;
			x->pages = b;
		} else if (!strcmp(metric, "ns_cpu")) {
			x->mtime = b > 0 ? v / b : 0;	/* finer than the ratio's 3 decimals */
			x->has_mtime = 1;
		} else if (!strncmp(metric, "own_node_point", 14)) {
			int k = atoi(metric + 14);
			if (k >= 0 && k < MAX_POINTS) {
				x->point[k] = v;
				x->npoints = k + 1 > x->npoints ? k + 1 : x->npoints;
			}
		} else if (!strcmp(metric, "time_real_numa_only")) {
			x->rate = v;
			snprintf(ch->unit[w], sizeof(ch->unit[w]), "%s", unit);
		}
	}
	fclose(f);
	if (!lines)
		fprintf(stderr, "numa_vm: --chart: %s: no numa_* JSON lines\n", path);
	return lines ? 0 : -1;
}

/* Text safe for SVG: the names here have no '<' or '&', but be sure. */
static void svg_text(FILE *f, const char *s)
{
	for (; *s; s++)
		fputs(*s == '<' ? "&lt;" : *s == '&' ? "&amp;" : *s == '>' ? "&gt;" : (char[2]){ *s, 0 }, f);
}

static const char *run_color[] = { "#4477aa", "#ee7733", "#228833", "#aa3377",
				   "#66ccee", "#ccbb44", "#bbbbbb", "#000000" };

/* One horizontal bar chart: a group per case, a bar per node count, its
 * length the own-node share (0 to 1), a tick at 1/N (what spreading the
 * pages gives), and the migrated pages and numashadow's CPU share beside. */
static int chart_svg(const struct chart *ch, int w, const char *path)
{
	const int left = 150, width = 420, bar = 14, gap = 10, top = 80, mini = 40;
	const int group = ch->nruns * bar + gap;
	const int h = top + ch->ncs * group + 60;
	int points = 0;
	for (int c = 0; c < ch->ncs; c++)
		for (int r = 0; r < ch->nruns; r++)
			points = ch->c[w][c][r].npoints > points ? ch->c[w][c][r].npoints : points;
	const int svg_w = 860 + (points > 1 ? points * (mini + 6) : 0);
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "numa_vm: --chart: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"font-family=\"sans-serif\" font-size=\"11\">\n", svg_w, h);
	fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", svg_w, h);
	fprintf(f, "<text x=\"10\" y=\"18\" font-size=\"14\" font-weight=\"bold\">numa_");
	svg_text(f, ch->wl[w]);
	fprintf(f, ": share of each thread's pages on its own node (kernel's answer)</text>\n");
	fprintf(f, "<text x=\"10\" y=\"34\">bars: the mean of the threads' shares, 0 to 1; "
		"tick: 1/N, what spreading the pages evenly gives</text>\n");
	fprintf(f, "<text x=\"10\" y=\"48\">right: the share; pages migrated (and per page of "
		"the workload); numashadow's threads' CPU time as a share of the timed part</text>\n");
	int text_x = left + width + 12 + (points > 1 ? points * (mini + 6) + 4 : 0);
	if (points > 1) {
		fprintf(f, "<text x=\"200\" y=\"65\">long bar: the mean of phases 1 on; small "
			"bars: the share at the end of phase 0, 1, ... (numbered above)</text>\n");
		for (int k = 0; k < points; k++)
			fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d</text>\n",
				left + width + 16 + k * (mini + 6) + mini / 2, top - 6, k);
	}
	for (int r = 0; r < ch->nruns; r++)
		fprintf(f, "<rect x=\"%d\" y=\"56\" width=\"10\" height=\"10\" fill=\"%s\"/>"
			"<text x=\"%d\" y=\"65\">%d nodes</text>\n", 10 + 80 * r,
			run_color[r % 8], 24 + 80 * r, ch->nodes[r]);
	for (int k = 0; k <= 4; k++) {
		int x = left + width * k / 4;
		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#dddddd\"/>"
			"<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.2f</text>\n",
			x, top - 2, x, top + ch->ncs * group, x, top + ch->ncs * group + 14, k / 4.0);
	}
	for (int c = 0; c < ch->ncs; c++) {
		int y0 = top + c * group;
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6,
			y0 + ch->nruns * bar / 2 + 4);
		svg_text(f, ch->cs[c]);
		fprintf(f, "</text>\n");
		for (int r = 0; r < ch->nruns; r++) {
			const struct cell *x = &ch->c[w][c][r];
			int y = y0 + r * bar;
			if (!x->have) {
				fprintf(f, "<text x=\"%d\" y=\"%d\">no valid run</text>\n", left + 4,
					y + bar - 3);
				continue;
			}
			double own = x->own < 0 ? 0 : x->own > 1 ? 1 : x->own;
			int tick = left + (int)(width / (double)ch->nodes[r]);
			fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n",
				left, y + 1, (int)(own * width + 0.5), bar - 2, run_color[r % 8]);
			fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n",
				tick, y, tick, y + bar);
			fprintf(f, "<text x=\"%d\" y=\"%d\">%.3f, %.0f migrated (%.2f a page)",
				text_x, y + bar - 3, x->own, x->migrated,
				x->pages > 0 ? x->migrated / x->pages : 0);
			if (x->has_mtime)
				fprintf(f, ", CPU %.1f%%", 100 * x->mtime);
			fprintf(f, "</text>\n");
			/* Each measure point's share: a small bar in a box of
			 * its own, left to right. */
			for (int k = 0; k < x->npoints && points > 1; k++) {
				double p = x->point[k] < 0 ? 0 : x->point[k] > 1 ? 1 : x->point[k];
				int bx = left + width + 16 + k * (mini + 6);
				fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
					"fill=\"none\" stroke=\"#bbbbbb\"/><rect x=\"%d\" y=\"%d\" "
					"width=\"%d\" height=\"%d\" fill=\"%s\"/>\n", bx, y + 1, mini,
					bar - 2, bx, y + 1, (int)(p * mini + 0.5), bar - 2, run_color[r % 8]);
			}
		}
	}
	fprintf(f, "<text x=\"10\" y=\"%d\">Guest under QEMU TCG: every node's memory has the same "
		"speed, so no time is drawn; the tables give them, for real NUMA hardware only.</text>\n",
		h - 12);
	fprintf(f, "</svg>\n");
	return fclose(f) ? -1 : 0;
}

static void chart_table(const struct chart *ch, int w)
{
	printf("\nnuma_%s: own = share of each thread's pages on its own node; migrated = pages "
	       "(pgmigrate_success); ns CPU = numashadow's threads' CPU time / the timed part; %s = time, "
	       "for real NUMA hardware only\n", ch->wl[w], ch->unit[w]);
	printf("%-19s", "");
	for (int r = 0; r < ch->nruns; r++)
		printf(" | %d nodes%*s", ch->nodes[r], r + 1 < ch->nruns ? 26 : 0, "");
	printf("\n%-19s", "case");
	for (int r = 0; r < ch->nruns; r++)
		printf(" | %5s %8s %6s %11s", "own", "migrated", "ns CPU", ch->unit[w]);
	printf("\n");
	for (int c = 0; c < ch->ncs; c++) {
		printf("%-19s", ch->cs[c]);
		for (int r = 0; r < ch->nruns; r++) {
			const struct cell *x = &ch->c[w][c][r];
			char mt[16] = "-";
			if (!x->have) {
				printf(" | %5s %8s %6s %11s", "-", "-", "-", "-");
				continue;
			}
			if (x->has_mtime)
				snprintf(mt, sizeof(mt), "%.1f%%", 100 * x->mtime);
			printf(" | %5.3f %8.0f %6s %11.1f", x->own, x->migrated, mt, x->rate);
		}
		printf("\n");
	}
	int points = 0;
	for (int c = 0; c < ch->ncs; c++)
		for (int r = 0; r < ch->nruns; r++)
			points = ch->c[w][c][r].npoints > points ? ch->c[w][c][r].npoints : points;
	if (points < 2)
		return;
	printf("own at the end of each phase:\n%-19s", "case");
	for (int r = 0; r < ch->nruns; r++)
		printf(" | %d nodes%*s", ch->nodes[r], r + 1 < ch->nruns ? 5 * points - 8 : 0, "");
	printf("\n");
	for (int c = 0; c < ch->ncs; c++) {
		printf("%-19s |", ch->cs[c]);
		for (int r = 0; r < ch->nruns; r++) {
			const struct cell *x = &ch->c[w][c][r];
			for (int k = 0; k < points; k++)
				if (k < x->npoints)
					printf(" %4.2f", x->point[k]);
				else
					printf(" %4s", "-");
			printf(r + 1 < ch->nruns ? " |" : "\n");
		}
	}
}

static int chart_main(const char *dir, int nfiles, char **files)
{
	static struct chart ch;
	int err = 0;

	for (int i = 0; i < nfiles; i++)
		err |= chart_read(&ch, files[i]);
	if (!ch.nwl)
		return 1;
	printf("\nNUMA benchmarks (bench/numa, docs/benchmarks.md): the kernel's answers in %d guest%s; "
	       "times are for real NUMA hardware only\n", ch.nruns, ch.nruns == 1 ? "" : "s");
	for (int w = 0; w < ch.nwl; w++)
		chart_table(&ch, w);
	printf("\n");
	for (int w = 0; w < ch.nwl; w++) {
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/%s.svg", dir, ch.wl[w]);
		if (chart_svg(&ch, w, path))
			err = 1;
		else
			printf("chart: %s\n", path);
	}
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	double scale = 1, tscale = 1;

	if (argc >= 3 && !strcmp(argv[1], "--chart"))
		return chart_main(argv[2], argc - 3, argv + 3);
	for (int i = 1; i < argc; i += 2) {
		double *v = !strcmp(argv[i], "--scale") ? &scale :
			    !strcmp(argv[i], "--time") ? &tscale : NULL;
		if (!v || i + 1 == argc || (*v = atof(argv[i + 1])) <= 0) {
			fprintf(stderr, "usage: %s [--scale X] [--time Y]   (in a NUMA guest; X multiplies "
				"every size, Y every duration)\n"
				"       %s --chart DIR FILE...  (on the host: tables and DIR/WORKLOAD.svg "
				"from the output of guest runs)\n", argv[0], argv[0]);
			return 1;
		}
	}
	for (size_t i = 0; i < NR_WORKLOADS; i++)
		workloads[i].secs *= tscale;
	return guest_main(scale);
}
