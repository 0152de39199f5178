/* SPDX-License-Identifier: MIT */
/*
 * migrate_vm: how fast the same buffer of touched pages moves between NUMA
 * nodes by each way the kernel offers, and through numashadow's engine, in
 * one boot of a 2-node guest (`make bench-vm`).
 *
 * A round trip moves every page of the buffer from node 0 to node 1 and
 * back.  Each case runs in its own child process and pairs every round
 * trip of its way with one round trip of the baseline - one raw
 * move_pages(2) call over a separate buffer of as many 4 KiB pages - in
 * alternating order, after one untimed warm-up pair.  The case reports the
 * median of REPS round trips as pages/s and MiB/s of its buffer (a round
 * trip counts every page twice) and its ratio to the median of the paired
 * baseline trips: the host that runs the guest is shared, and its speed
 * can drift several-fold within a minute, so a ratio is only honest
 * between trips taken side by side.  (migrate_pages(2) moves the whole
 * process, so that case pairs with move_pages over its own buffer.)
 *
 * After every leg the kernel is asked (move_pages with no target) where
 * each page is, and each page's first word is checked; a case with any
 * page off its target or changed is marked invalid and gets no number.
 * Guest timings under TCG are ratios only.
 *
 * With no arguments (or the buffer size in MiB) the program drives itself,
 * running `migrate_vm --child CASE MIB` per case: the engine cases with
 * LD_PRELOAD=libnumashadow.so (NUMASHADOW_VERIFY=0, NUMASHADOW_CTL=0, and
 * for engine_placed NUMASHADOW_POLICY=membind=0), the others plainly, all
 * in the same boot.  Times are reported, never judged: exit 0, or 1 when
 * it cannot measure (fewer than 2 nodes, no library, a child that failed
 * or ran past CHILD_TIMEOUT).
 */
#include <dlfcn.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include "bench.h"
#include "numashadow.h"

#define REPS		5
#define CHILD_TIMEOUT	240	/* s; a case takes ~15 s under TCG */
#define CHILD_TIMEOUT_S	"240"
#define DEFAULT_MIB	"64"
#define HUGE_SIZE	(2UL << 20)
#define MAXNODE		(8 * sizeof(unsigned long) + 1)	/* mask bits + 1 */
#define CHOICE_MARGIN	1.10	/* another way must beat move_pages by 10%:
				 * paired trips still differ by ~5% */

static long pg;
static size_t len, npages;
static char *buf;		/* the buffer being moved, 2 MiB aligned */
static void **addrs;		/* every page of buf, for move_pages */
static int *nodes, *status;	/* move_pages' target and answer, per page */

/* ---- the buffer ---- */

/* Maps len bytes 2 MiB aligned (so THP can back it whole), asks for huge
 * pages or for none, and writes every page on node: the process policy is
 * bound to node while the pages are first touched, then reset.  Each page
 * starts with its own index, for the contents check.  NULL on failure. */
static char *buf_new(int node, int thp)
{
	size_t maplen = len + HUGE_SIZE;
	unsigned long mask = 1UL << node;
	char *m = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	char *b = (char *)(((uintptr_t)m + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
	if (b > m)
		munmap(m, (size_t)(b - m));
	if (m + maplen > b + len)
		munmap(b + len, (size_t)(m + maplen - (b + len)));
	/* MADV_HUGEPAGE is refused where THP is compiled out: the case then
	 * reports 0 kB of huge pages, which is the truth. */
	madvise(b, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	if (set_mempolicy(MPOL_BIND, &mask, MAXNODE)) {
		perror("migrate_vm: set_mempolicy");
		return NULL;
	}
	for (size_t i = 0; i < npages; i++)
		*(uint64_t *)(b + i * (size_t)pg) = i;
	set_mempolicy(MPOL_DEFAULT, NULL, 0);
	return b;
}

/* AnonHugePages of the mapping that starts at b, in kB (from
 * /proc/self/smaps); -1 when it cannot be read. */
static long thp_kib(const char *b)
{
	char line[512], want[32];
	long kb = -1;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)b);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, want, strlen(want)))
			in = 1;
		else if (in && !strncmp(line, "AnonHugePages:", 14)) {
			kb = strtol(line + 14, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* Pages of b not on node, by the kernel's answer; 0 when all are there.
 * The first stray page is described in why. */
static size_t stray_pages(char *b, int node, char *why, size_t whylen)
{
	size_t bad = 0;

	for (size_t i = 0; i < npages; i++)
		addrs[i] = b + i * (size_t)pg;
	if (move_pages(0, npages, addrs, NULL, status, 0) < 0) {
		snprintf(why, whylen, "move_pages query failed: %s", strerror(errno));
		return npages;
	}
	for (size_t i = 0; i < npages; i++)
		if (status[i] != node && !bad++)
			snprintf(why, whylen, "page %zu is on %s%d", i,
				 status[i] < 0 ? "error " : "node ", status[i]);
	return bad;
}

/* Pages whose first word is no longer their index. */
static size_t changed_pages(const char *b)
{
	size_t bad = 0;

	for (size_t i = 0; i < npages; i++)
		bad += *(const uint64_t *)(b + i * (size_t)pg) != i;
	return bad;
}

/* ---- one leg of each way: move all of buf to node; 0 or -errno ---- */

static int leg_move_pages(int node)
{
	for (size_t i = 0; i < npages; i++) {
		addrs[i] = buf + i * (size_t)pg;
		nodes[i] = node;
	}
	/* A positive return counts pages not moved: the node check says
	 * which. */
	return move_pages(0, npages, addrs, nodes, status, MPOL_MF_MOVE) < 0 ?
	       -errno : 0;
}

static int leg_mbind(int node)
{
	unsigned long mask = 1UL << node;

	return mbind(buf, len, MPOL_BIND, &mask, MAXNODE, MPOL_MF_MOVE) ?
	       -errno : 0;
}

/* The whole process moves: only the buffer is counted. */
static int leg_migrate_pages(int node)
{
	unsigned long from = 1UL << !node, to = 1UL << node;

	return migrate_pages(0, MAXNODE, &from, &to) < 0 ? -errno : 0;
}

static long (*ns_migrate)(void *, size_t, int, unsigned);
static long engine_short;	/* legs where the engine moved fewer than all */

static int leg_engine(int node)
{
	long r = ns_migrate(buf, len, node, NUMASHADOW_MIGRATE_SYNC);

	if (r < 0)
		return (int)r;
	engine_short += (size_t)r != npages;
	return 0;
}

/* Two workers, each moving half of the pages with one move_pages call;
 * started and waited for through barriers, so thread creation stays out
 * of the timing. */
static struct {
	pthread_t th[2];
	pthread_barrier_t go, done;
	int node, stop, err[2];
} two;

static void *two_main(void *arg)
{
	int w = (int)(intptr_t)arg;
	size_t lo = w ? npages / 2 : 0, hi = w ? npages : npages / 2;

	for (;;) {
		pthread_barrier_wait(&two.go);
		if (two.stop)
			return NULL;
		for (size_t i = lo; i < hi; i++) {
			addrs[i] = buf + i * (size_t)pg;
			nodes[i] = two.node;
		}
		two.err[w] = move_pages(0, hi - lo, addrs + lo, nodes + lo,
					status + lo, MPOL_MF_MOVE) < 0 ? -errno : 0;
		pthread_barrier_wait(&two.done);
	}
}

static int two_start(void)
{
	pthread_barrier_init(&two.go, NULL, 3);
	pthread_barrier_init(&two.done, NULL, 3);
	for (int w = 0; w < 2; w++)
		if (pthread_create(&two.th[w], NULL, two_main, (void *)(intptr_t)w))
			return -EAGAIN;
	return 0;
}

static int leg_two_threads(int node)
{
	two.node = node;
	pthread_barrier_wait(&two.go);
	pthread_barrier_wait(&two.done);
	return two.err[0] ? two.err[0] : two.err[1];
}

/* The ceiling: the same bytes copied between a buffer on each node. */
static char *other;

static int leg_memcpy(int node)
{
	if (node)
		memcpy(other, buf, len);
	else
		memcpy(buf, other, len);
	return 0;
}

/* ---- the cases ---- */

enum { K_COPY, K_RAW, K_TWO, K_MBIND, K_MIGRATE, K_ENGINE };

struct mcase {
	const char *name;	/* as given to --child and printed */
	int kind;		/* K_*: the way pages move */
	const char *policy;	/* K_ENGINE: NUMASHADOW_POLICY, or NULL */
	int thp;		/* buffer madvise(MADV_HUGEPAGE)'d */
	int (*leg)(int node);	/* one leg, to node */
	const char *what;	/* for the table */
};

static const struct mcase cases[] = {
	{ "move_pages",     K_RAW,     NULL, 0, leg_move_pages,    "move_pages(2), one call" },
	{ "memcpy",         K_COPY,    NULL, 0, leg_memcpy,        "memcpy node0<->node1 (ceiling)" },
	{ "engine",         K_ENGINE,  NULL, 0, leg_engine,        "numashadow_migrate(SYNC)" },
	/* With a placement policy the monitor runs and the buffer is
	 * registered with userfaultfd, so the engine can hold (write-protect)
	 * each batch while it moves. */
	{ "engine_placed",  K_ENGINE,  "membind=0", 0, leg_engine, "same, NUMASHADOW_POLICY=membind=0" },
	{ "mbind",          K_MBIND,   NULL, 0, leg_mbind,         "mbind(MPOL_BIND, MF_MOVE)" },
	{ "migrate_pages",  K_MIGRATE, NULL, 0, leg_migrate_pages, "migrate_pages(2), whole process" },
	{ "move_pages_2t",  K_TWO,     NULL, 0, leg_two_threads,   "move_pages(2), 2 threads x half" },
	{ "thp_move_pages", K_RAW,     NULL, 1, leg_move_pages,    "THP: move_pages(2), one call" },
	{ "thp_mbind",      K_MBIND,   NULL, 1, leg_mbind,         "THP: mbind(MPOL_BIND, MF_MOVE)" },
	{ "thp_engine",     K_ENGINE,  NULL, 1, leg_engine,        "THP: numashadow_migrate(SYNC)" },
};
#define NR_CASES (sizeof(cases) / sizeof(*cases))

static const struct mcase *case_find(const char *name)
{
	for (size_t i = 0; i < NR_CASES; i++)
		if (!strcmp(cases[i].name, name))
			return &cases[i];
	return NULL;
}

/* One leg of c over b, then the checks; 0, or 1 after printing "invalid
 * ..." when the pages are not all on node or their contents changed, or -1
 * when the leg itself failed. */
static int leg_checked(const struct mcase *c, char *b, int node, uint64_t *ns)
{
	char why[128] = "";

	buf = b;
	uint64_t t0 = bench_now_ns();
	int err = c->leg(node);
	*ns = bench_now_ns() - t0;

	if (err) {
		fprintf(stderr, "migrate_vm: %s: moving to node %d failed: %s\n",
			c->name, node, strerror(-err));
		return -1;
	}
	size_t bad = c->kind == K_COPY ? 0 : stray_pages(b, node, why, sizeof(why));
	if (bad) {
		printf("invalid %s: %zu of %zu pages not on node %d after the move (%s)\n",
		       c == &cases[0] ? "baseline" : c->name, bad, npages, node, why);
		return 1;
	}
	bad = changed_pages(node && c->kind == K_COPY ? other : b);
	if (bad) {
		printf("invalid %s: %zu of %zu pages changed their contents moving to node %d\n",
		       c == &cases[0] ? "baseline" : c->name, bad, npages, node);
		return 1;
	}
	return 0;
}

/* A round trip of c over b; its time in *ns.  As leg_checked(). */
static int round_trip(const struct mcase *c, char *b, uint64_t *ns)
{
	uint64_t t0, t1;
	int r = leg_checked(c, b, 1, &t0);

	if (!r)
		r = leg_checked(c, b, 0, &t1);
	*ns = r ? 0 : t0 + t1;
	return r;
}

/* --child: run one case, print its lines; returns the exit status.
 *   trip NS BASE   one timed round trip of the case, and of the baseline
 *   thp KB KB      AnonHugePages of the buffer before and after
 *   invalid WHY    the case has no number
 *   note TEXT      for the notes under the table */
static int child_main(const char *name)
{
	const struct mcase *c = case_find(name), *base = &cases[0];
	char why[128] = "", *mine, *theirs;
	uint64_t t[2];

	if (!c) {
		fprintf(stderr, "migrate_vm: --child %s: unknown case\n", name);
		return 1;
	}
	addrs = calloc(npages, sizeof(*addrs));
	nodes = calloc(npages, sizeof(*nodes));
	status = calloc(npages, sizeof(*status));
	if (!addrs || !nodes || !status)
		return perror("migrate_vm"), 1;
	if (c->kind == K_ENGINE) {
		ns_migrate = (long (*)(void *, size_t, int, unsigned))
			dlsym(RTLD_DEFAULT, "numashadow_migrate");
		if (!ns_migrate) {
			fprintf(stderr, "migrate_vm: %s: numashadow_migrate not found: the preload did not take\n",
				name);
			return 1;
		}
	}
	if (c->kind == K_COPY && !(other = buf_new(1, 0)))
		return fprintf(stderr, "migrate_vm: %s: no buffer\n", name), 1;
	if (!(mine = buf_new(0, c->thp)))
		return fprintf(stderr, "migrate_vm: %s: no buffer\n", name), 1;
	theirs = c->kind == K_MIGRATE ? mine : buf_new(0, 0);
	if (!theirs)
		return fprintf(stderr, "migrate_vm: %s: no buffer\n", name), 1;
	if (c->kind == K_TWO && two_start())
		return fprintf(stderr, "migrate_vm: %s: no threads\n", name), 1;
	for (int k = 0; k < 2; k++) {
		size_t bad = stray_pages(k ? theirs : mine, 0, why, sizeof(why));
		if (bad) {
			printf("invalid %s: %zu of %zu pages not on node 0 after first touch (%s)\n",
			       k ? "baseline" : name, bad, npages, why);
			return 0;
		}
	}
	long before = thp_kib(mine);
	for (int trip = -1; trip < REPS; trip++) {	/* -1: warm-up */
		int first = trip & 1, r = 0;
		for (int k = 0; k < 2 && !r; k++) {
			int b = k ^ first;
			r = round_trip(b ? base : c, b ? theirs : mine, &t[b]);
		}
		if (r < 0)
			return 1;
		if (r > 0)
			return 0;
		if (trip >= 0)
			printf("trip %llu %llu\n", (unsigned long long)t[0],
			       (unsigned long long)t[1]);
	}
	printf("thp %ld %ld\n", before, thp_kib(mine));
	if (c->kind == K_ENGINE) {
		struct numashadow_migrate_stats s;
		int (*stats)(struct numashadow_migrate_stats *) =
			(int (*)(struct numashadow_migrate_stats *))
			dlsym(RTLD_DEFAULT, "numashadow_migrate_stats");
		if (stats && stats(&s) == 0)
			printf("note %s: engine counters over %lu calls: %lu moved, %lu already, "
			       "%lu failed (busy %lu), %lu move_pages passes; %ld legs moved fewer than %zu pages\n",
			       name, s.calls, s.moved, s.already,
			       s.failed_shared + s.failed_not_present + s.failed_nomem +
			       s.failed_fault + s.failed_busy + s.failed_other,
			       s.failed_busy, s.passes, engine_short, npages);
	}
	if (c->kind == K_TWO) {
		two.stop = 1;
		pthread_barrier_wait(&two.go);
		pthread_join(two.th[0], NULL);
		pthread_join(two.th[1], NULL);
	}
	return 0;
}

/* ---- the driver ---- */

/* The caller's environment without the preload or any runtime option;
 * an engine case then gets the library and defaults, with verify checks
 * and the control socket off, and its placement policy if it has one. */
static char **env_for(const struct mcase *c)
{
	static char pol[128];
	char *preload[] = { "LD_PRELOAD=" BENCH_LIB, "NUMASHADOW_VERIFY=0",
			    "NUMASHADOW_CTL=0", c->policy ? pol : NULL, NULL };

	if (c->kind != K_ENGINE)
		return bench_env(NULL);
	if (c->policy)
		snprintf(pol, sizeof(pol), "NUMASHADOW_POLICY=%s", c->policy);
	return bench_env(preload);
}

struct result {
	const struct mcase *c;
	int ok;			/* the child ran to the end */
	int valid;		/* ok, and every page was where it should be */
	int ntrips;
	double trip[REPS];	/* ns per round trip of the case */
	double base[REPS];	/* ns per round trip of the paired baseline */
	double med, bmed;	/* their medians */
	long thp_before, thp_after;
	char invalid[256];
	char note[512];
};

/* Run one case in a child and parse its lines into *r. */
static void run_child(const char *self, const char *mib, const struct mcase *c,
		      struct result *r)
{
	char **env = env_for(c);
	char out[8192];
	char *argv[] = { (char *)self, "--child", (char *)c->name, (char *)mib, NULL };

	memset(r, 0, sizeof(*r));
	r->c = c;
	if (!env)
		return perror("migrate_vm");
	int st = bench_run("migrate_vm", argv, env, CHILD_TIMEOUT, out, sizeof(out));
	free(env);
	if (st < 0)
		return;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		unsigned long long ns, bns;
		if (sscanf(line, "trip %llu %llu", &ns, &bns) == 2 && r->ntrips < REPS) {
			r->trip[r->ntrips] = (double)ns;
			r->base[r->ntrips++] = (double)bns;
		} else if (!strncmp(line, "thp ", 4)) {
			sscanf(line + 4, "%ld %ld", &r->thp_before, &r->thp_after);
		} else if (!strncmp(line, "invalid ", 8)) {
			snprintf(r->invalid, sizeof(r->invalid), "%s", line + 8);
		} else if (!strncmp(line, "note ", 5)) {
			snprintf(r->note, sizeof(r->note), "%s", line + 5);
		}
	}
	r->ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!r->ok) {
		fprintf(stderr, "migrate_vm: %s: child failed (%s %d%s); reproduce with: %s%s%s%s%s --child %s %s\n",
			c->name, WIFEXITED(st) ? "exit" : "signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
			WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ?
			", timed out after " CHILD_TIMEOUT_S " s" : "",
			c->kind == K_ENGINE ? "LD_PRELOAD=" BENCH_LIB " NUMASHADOW_VERIFY=0 NUMASHADOW_CTL=0 " : "",
			c->policy ? "NUMASHADOW_POLICY=" : "", c->policy ? c->policy : "",
			c->policy ? " " : "", self, c->name, mib);
		return;
	}
	if (!r->invalid[0] && r->ntrips != REPS)
		snprintf(r->invalid, sizeof(r->invalid), "%d of %d round trips reported",
			 r->ntrips, REPS);
	if (r->invalid[0]) {
		fprintf(stderr, "migrate_vm: %s: INVALID, no number reported: %s\n",
			c->name, r->invalid);
		return;
	}
	r->valid = 1;
	r->med = bench_median(r->trip, REPS);
	r->bmed = bench_median(r->base, REPS);
}

/* Pages (or MiB) per second from ns per round trip, which moves every
 * page of the buffer twice. */
static double pages_per_s(double ns)
{
	return 2.0 * (double)npages / (ns / 1e9);
}

static double mib_per_s(double ns)
{
	return 2.0 * (double)len / (1 << 20) / (ns / 1e9);
}

static const char *thp_setting(char *out, size_t n)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char *a, *b;

	snprintf(out, n, "unknown");
	if (f) {
		if (fgets(out, (int)n, f) && (a = strchr(out, '[')) && (b = strchr(a, ']'))) {
			*b = 0;
			memmove(out, a + 1, strlen(a + 1) + 1);
		}
		fclose(f);
	}
	return out;
}

/* The result of the case called name. */
static const struct result *result_of(const struct result *res, const char *name)
{
	for (size_t i = 0; i < NR_CASES; i++)
		if (!strcmp(res[i].c->name, name))
			return &res[i];
	return NULL;
}

/* Prints which way the engine should take between move_pages and alt,
 * from alt's ratio to its paired move_pages trips. */
static void choose(const struct result *alt, const char *what, const char *base_name,
		   const char *alt_name)
{
	if (!alt->valid) {
		printf("choice: %s: no choice (%s has no valid number)\n", what, alt->c->name);
		return;
	}
	double q = alt->bmed / alt->med;
	printf("choice: %s: %s (%s %.3fx of %s in the same child; switch only above %.2fx)\n",
	       what, q > CHOICE_MARGIN ? alt_name : base_name, alt_name, q, base_name,
	       CHOICE_MARGIN);
}

int main(int argc, char **argv)
{
	struct result res[NR_CASES];
	int child = argc >= 2 && !strcmp(argv[1], "--child");
	const char *mib = child && argc == 4 ? argv[3] : argc == 2 ? argv[1] : DEFAULT_MIB;
	char self[4096], thp[64];
	int failed = 0;
	char *end;
	long m = strtol(mib, &end, 10);

	pg = sysconf(_SC_PAGESIZE);
	if ((child && argc != 4) || (!child && argc > 2) || *end || m < 2 ||
	    m > 256 || (m & 1)) {
		fprintf(stderr, "usage: %s [MIB]  (even, 2..256; default %s)\n"
			"       %s --child CASE MIB\n", argv[0], DEFAULT_MIB, argv[0]);
		return 1;
	}
	len = (size_t)m << 20;
	npages = len / (size_t)pg;
	if (child)
		return child_main(argv[2]);

	if (numa_available() < 0 || numa_num_configured_nodes() < 2 ||
	    numa_node_size64(0, NULL) <= 0 || numa_node_size64(1, NULL) <= 0) {
		int nn = numa_available() < 0 ? 1 : numa_num_configured_nodes();
		fprintf(stderr, "migrate_vm: needs NUMA nodes 0 and 1 with memory (this machine has %d node%s); "
			"run it in the 2-node guest: make bench-vm, or build/numashadow vm --nodes 2 -- %s\n",
			nn, nn == 1 ? "" : "s", argv[0]);
		return 1;
	}
	if (bench_need_lib("migrate_vm") || bench_self("migrate_vm", self, sizeof(self)))
		return 1;

	uint64_t t0 = bench_now_ns();
	for (size_t i = 0; i < NR_CASES; i++) {
		run_child(self, mib, &cases[i], &res[i]);
		failed |= !res[i].ok;
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;

	for (size_t i = 0; i < NR_CASES; i++) {
		const struct result *r = &res[i];
		if (!r->valid)
			continue;
		bench_json("migrate_vm", r->c->name, pages_per_s(r->med), 1, "pages/s",
			   pages_per_s(r->bmed), r->bmed / r->med);
		bench_json("migrate_vm", r->c->name, mib_per_s(r->med), 1, "MiB/s",
			   mib_per_s(r->bmed), r->bmed / r->med);
	}

	printf("\nmigrate_vm: %zu MiB = %zu pages of %ld KiB, node 0 -> 1 -> 0; median of %d round trips, "
	       "each paired with a baseline trip (raw move_pages, one call, 4 KiB pages); THP %s; %.0f s in all\n",
	       len >> 20, npages, pg >> 10, REPS, thp_setting(thp, sizeof(thp)), secs);
	printf("%-15s %-33s %9s %8s %8s %10s %6s %s\n", "case", "how", "pages/s",
	       "MiB/s", "ms/trip", "base pg/s", "ratio", "THP kB before/after");
	double lo = 0, hi = 0;
	for (size_t i = 0; i < NR_CASES; i++) {
		const struct result *r = &res[i];
		char thpcol[48] = "";
		if (r->ok && !r->invalid[0])
			snprintf(thpcol, sizeof(thpcol), "%ld/%ld", r->thp_before, r->thp_after);
		if (r->valid) {
			double b = pages_per_s(r->bmed);
			printf("%-15s %-33s %9.0f %8.1f %8.1f %10.0f %6.2f %s\n", r->c->name,
			       r->c->what, pages_per_s(r->med), mib_per_s(r->med),
			       r->med / 1e6, b, r->bmed / r->med, thpcol);
			if (r->c->kind != K_MIGRATE) {
				lo = lo && lo < b ? lo : b;
				hi = hi > b ? hi : b;
			}
		} else {
			printf("%-15s %-33s %9s %8s %8s %10s %6s %s\n", r->c->name, r->c->what,
			       "-", "-", "-", "-", r->ok ? "invalid" : "failed", thpcol);
		}
	}
	for (size_t i = 0; i < NR_CASES; i++)
		if (res[i].invalid[0])
			printf("invalid: %s: %s\n", res[i].c->name, res[i].invalid);
	for (size_t i = 0; i < NR_CASES; i++)
		if (res[i].note[0])
			printf("note: %s\n", res[i].note);
	const struct result *self_r = result_of(res, "move_pages");
	if (self_r->valid)
		printf("note: noise floor: move_pages against its own paired baseline: %.2fx\n",
		       self_r->bmed / self_r->med);
	if (hi > 0)
		printf("note: the baseline's median ranged %.0f..%.0f pages/s from child to child (%.2fx): "
		       "why ratios pair trips\n", lo, hi, hi / lo);
	for (size_t i = 0; i < NR_CASES; i++)
		if (res[i].c->thp && res[i].ok && !res[i].invalid[0] && res[i].thp_before <= 0)
			printf("note: %s: the buffer got no huge pages (AnonHugePages 0 kB): it measured 4 KiB pages\n",
			       res[i].c->name);

	/* What the engine should do, from this run: move_pages unless another
	 * way is CHOICE_MARGIN faster (move_pages gives a status per page,
	 * which the engine's accounting needs). */
	choose(result_of(res, "mbind"), "whole ranges", "move_pages", "mbind");
	choose(result_of(res, "move_pages_2t"), "threads", "1 thread", "2 threads");
	return failed;
}
