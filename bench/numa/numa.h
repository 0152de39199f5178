/* SPDX-License-Identifier: MIT */
/*
 * bench/numa/numa.h - what the NUMA workloads (triad, chase, phase) share.
 *
 * Each workload runs one thread per NUMA node that has CPUs, pinned to
 * that node's CPUs (sched_setaffinity, from
 * /sys/devices/system/node/nodeN/cpulist), and reports only what the
 * kernel answers or what it counts itself, as lines on standard output
 * that the driver (numa_vm.c) reads:
 *
 *   workload NAME threads T pages P          the run's shape
 *   runtime yes|no                           is libnumashadow.so loaded?
 *   share K T NODE PAGES OWN ABSENT WHAT     at measure point K, thread T
 *                                            (pinned to NODE) has OWN of
 *                                            the PAGES of its part of
 *                                            array WHAT on NODE, ABSENT not
 *                                            present (move_pages query);
 *                                            a thread's lines add up
 *   migrated K PAGES                         pgmigrate_success of
 *                                            /proc/vmstat, since the start
 *                                            of the timed part, at point K
 *   rt_cpu NS WALL                           on-CPU ns of the process's
 *                                            other tasks (numashadow's
 *                                            threads) in the timed part,
 *                                            and its wall ns
 *   rt_task TID NS                           the same, each task apart
 *   rate VALUE UNIT                          the workload's speed (times:
 *                                            for real NUMA hardware only)
 *
 * Pages are queried with move_pages(0, n, pages, NULL, status, 0): no
 * target, so nothing moves and status[i] is the page's node, or -ENOENT
 * when no page is present there.
 */
#ifndef NS_BENCH_NUMA_H
#define NS_BENCH_NUMA_H

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NUMA_MAX_NODES	8	/* numashadow vm boots 2 to 8 */
#define NUMA_MAX_TASKS	64	/* tasks of the process followed */
#define NUMA_MAX_CPUS	1024

/* One node with CPUs: a worker thread runs there. */
struct numa_node {
	int node;		/* node number */
	cpu_set_t cpus;		/* its CPUs, from cpulist */
};

/* The workload's side of a run. */
struct numa_run {
	const char *name;		/* "triad", "chase", "phase" */
	int nthreads;			/* one per node with CPUs */
	struct numa_node nodes[NUMA_MAX_NODES];
	pid_t tids[NUMA_MAX_NODES + 1];	/* the workload's own tasks: main and
					 * workers; every other task of the
					 * process is numashadow's */
	atomic_int ntids;
	long pg;			/* page size */
	uint64_t mig0;			/* pgmigrate_success at the start of
					 * the timed part */
	uint64_t t0;			/* the clock at that start */
	struct { pid_t tid; uint64_t ns; } rt0[NUMA_MAX_TASKS];
	int nrt0;			/* other tasks' CPU ns at that start */
	int next_touch;			/* --next-touch: arm numashadow's
					 * next-touch where the workload says */
	int (*ns_next_touch)(void *, size_t);
};

static inline uint64_t numa_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A "0-3,5" list into set; returns the number of CPUs, or -1. */
static inline int numa_parse_cpulist(const char *s, cpu_set_t *set)
{
	int n = 0;

	CPU_ZERO(set);
	while (*s && *s != '\n') {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s)
			return -1;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s)
				return -1;
		}
		for (long c = a; c <= b && c < NUMA_MAX_CPUS; c++, n++)
			CPU_SET((int)c, set);
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

/* The nodes with CPUs, in node order, into r->nodes; returns how many
 * (0 when /sys cannot be read). */
static inline int numa_topology(struct numa_run *r)
{
	int n = 0;

	for (int node = 0; node < 64 && n < NUMA_MAX_NODES; node++) {
		char path[96], line[4096];
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", node);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		int got = fgets(line, sizeof(line), f) != NULL;
		fclose(f);
		if (got && numa_parse_cpulist(line, &r->nodes[n].cpus) > 0)
			r->nodes[n++].node = node;
	}
	return r->nthreads = n;
}

/* Pins the calling thread to node slot i's CPUs and records its tid as
 * the workload's own; 0 or -errno. */
static inline int numa_pin(struct numa_run *r, int i)
{
	int k = atomic_fetch_add(&r->ntids, 1);

	r->tids[k] = (pid_t)syscall(SYS_gettid);
	return sched_setaffinity(0, sizeof(cpu_set_t), &r->nodes[i].cpus) ? -errno : 0;
}

/* A field of /proc/vmstat ("pgmigrate_success"); 0 when absent. */
static inline uint64_t numa_vmstat(const char *key)
{
	char line[256];
	size_t n = strlen(key);
	uint64_t v = 0;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ' ') {
			v = strtoull(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* On-CPU ns of each of the process's tasks that are not the workload's
 * own (numashadow's monitor and service loop, which make every move of
 * --balance and next-touch): the first field of
 * /proc/self/task/TID/schedstat (CONFIG_SCHED_INFO).  Fills tid[] and
 * ns[] (at most max); returns how many. */
static inline int numa_others_cpu(const struct numa_run *r, pid_t *tid, uint64_t *ns, int max)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = atomic_load(&r->ntids), k = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && k < max) {
		pid_t t = (pid_t)atoi(e->d_name);
		int mine = t <= 0;
		for (int i = 0; i < n && !mine; i++)
			mine = r->tids[i] == t;
		if (mine)
			continue;
		char path[64];
		unsigned long long v;
		snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", t);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;	/* ended meanwhile */
		if (fscanf(f, "%llu", &v) == 1) {
			tid[k] = t;
			ns[k++] = v;
		}
		fclose(f);
	}
	closedir(d);
	return k;
}

/* Maps len bytes of private anonymous memory in 4 KiB pages (the guest's
 * THP setting is "always", and a huge page lands on one node and moves
 * as one); NULL after saying why. */
static inline void *numa_map(const char *who, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "%s: mmap %zu bytes: %s\n", who, len, strerror(errno));
		return NULL;
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

/* Prints "share K T NODE PAGES OWN ABSENT WHAT" for [p, p + len), thread
 * slot t; 0, or -1 after saying why. */
static inline int numa_share(const struct numa_run *r, int k, int t, const void *p, size_t len,
			     const char *what)
{
	size_t n = len / (size_t)r->pg, own = 0, absent = 0;
	void **pages = malloc(n * sizeof(*pages));
	int *status = malloc(n * sizeof(*status));
	int node = r->nodes[t].node;

	if (!pages || !status) {
		free(pages);
		free(status);
		fprintf(stderr, "%s: no memory for the page query\n", r->name);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		pages[i] = (char *)p + i * (size_t)r->pg;
	if (move_pages(0, (unsigned long)n, pages, NULL, status, 0) < 0) {
		fprintf(stderr, "%s: move_pages query: %s\n", r->name, strerror(errno));
		free(pages);
		free(status);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		own += status[i] == node;
		absent += status[i] == -ENOENT;
	}
	printf("share %d %d %d %zu %zu %zu %s\n", k, t, node, n, own, absent, what);
	free(pages);
	free(status);
	return 0;
}

/* Parses the common arguments: [--next-touch] [--mempolicy local|interleave]
 * MIB SECONDS.  --mempolicy sets the process policy with set_mempolicy(2)
 * before any thread starts, as numactl would (for a guest without
 * numactl).  Fills r, *mib, *secs; 0, or -1 after printing the usage. */
static inline int numa_args(struct numa_run *r, int argc, char **argv, double *mib, double *secs)
{
	int i = 1;

	r->pg = sysconf(_SC_PAGESIZE);
	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--next-touch")) {
			r->next_touch = 1;
		} else if (!strcmp(argv[i], "--mempolicy") && i + 1 < argc) {
			unsigned long mask = 0;
			int mode = !strcmp(argv[++i], "interleave") ? MPOL_INTERLEAVE :
				   !strcmp(argv[i], "local") ? MPOL_LOCAL : -1;
			for (int k = 0; k < r->nthreads; k++)
				mask |= 1UL << r->nodes[k].node;
			if (mode < 0 || set_mempolicy(mode, mode == MPOL_LOCAL ? NULL : &mask,
						      mode == MPOL_LOCAL ? 0 : 65)) {
				fprintf(stderr, "%s: --mempolicy %s: %s\n", r->name, argv[i],
					mode < 0 ? "expected local or interleave" : strerror(errno));
				return -1;
			}
		} else {
			break;
		}
	}
	if (argc - i != 2 || (*mib = atof(argv[i])) <= 0 || (*secs = atof(argv[i + 1])) <= 0) {
		fprintf(stderr, "usage: %s [--next-touch] [--mempolicy local|interleave] MIB SECONDS\n",
			argv[0]);
		return -1;
	}
	if (r->next_touch) {
		r->ns_next_touch = (int (*)(void *, size_t))dlsym(RTLD_DEFAULT, "numashadow_next_touch");
		if (!r->ns_next_touch) {
			fprintf(stderr, "%s: --next-touch: numashadow_next_touch not found: run me under numashadow\n",
				r->name);
			return -1;
		}
	}
	return 0;
}

/* Arms next-touch over [p, p + len) when asked to; 0, or -1 after saying
 * why. */
static inline int numa_arm(const struct numa_run *r, void *p, size_t len)
{
	int e;

	if (!r->next_touch || !(e = r->ns_next_touch(p, len)))
		return 0;
	fprintf(stderr, "%s: numashadow_next_touch: %s\n", r->name, strerror(-e));
	return -1;
}

/* The start of the timed part: migrations and numashadow's CPU time are
 * counted from here. */
static inline void numa_timed_start(struct numa_run *r)
{
	pid_t tid[NUMA_MAX_TASKS];
	uint64_t ns[NUMA_MAX_TASKS];

	r->mig0 = numa_vmstat("pgmigrate_success");
	r->nrt0 = numa_others_cpu(r, tid, ns, NUMA_MAX_TASKS);
	for (int i = 0; i < r->nrt0; i++) {
		r->rt0[i].tid = tid[i];
		r->rt0[i].ns = ns[i];
	}
	r->t0 = numa_now_ns();
}

/* Prints "migrated K PAGES" since the start of the timed part. */
static inline void numa_migrated(const struct numa_run *r, int k)
{
	printf("migrated %d %llu\n", k,
	       (unsigned long long)(numa_vmstat("pgmigrate_success") - r->mig0));
}

/* The end of the timed part: prints "rt_task TID NS" for each other task
 * (a task started since counts from 0; one that ended is lost), then
 * "rt_cpu NS WALL"; returns the wall ns. */
static inline uint64_t numa_timed_end(const struct numa_run *r)
{
	uint64_t wall = numa_now_ns() - r->t0, sum = 0;
	pid_t tid[NUMA_MAX_TASKS];
	uint64_t ns[NUMA_MAX_TASKS];
	int n = numa_others_cpu(r, tid, ns, NUMA_MAX_TASKS);

	for (int i = 0; i < n; i++) {
		for (int j = 0; j < r->nrt0; j++)
			if (r->rt0[j].tid == tid[i])
				ns[i] -= r->rt0[j].ns;
		printf("rt_task %d %llu\n", (int)tid[i], (unsigned long long)ns[i]);
		sum += ns[i];
	}
	printf("rt_cpu %llu %llu\n", (unsigned long long)sum, (unsigned long long)wall);
	return wall;
}

/* The first lines: the shape, and whether numashadow is in the process. */
static inline void numa_header(const struct numa_run *r, size_t pages)
{
	printf("workload %s threads %d pages %zu\n", r->name, r->nthreads, pages);
	printf("runtime %s\n", dlsym(RTLD_DEFAULT, "numashadow_page_node") ? "yes" : "no");
}

/* Sleeps until the clock reads deadline (ns). */
static inline void numa_sleep_until(uint64_t deadline)
{
	struct timespec ts = { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

#endif
