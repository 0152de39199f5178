/* SPDX-License-Identifier: MIT */
/*
 * bench/bench.h - what the benchmarks share.
 *
 * Every benchmark drives itself: the driver never loads the runtime and
 * runs each measurement as a child, its own executable again with
 * "--child ...", plain or under LD_PRELOAD, and reads what the child
 * prints.  It reports medians of repetitions as one JSON object per line,
 *   {"bench":…, "case":…, "value":…, "unit":…, "baseline":…, "ratio":…}
 * then a table for people.  Times are reported, never judged.
 */
#ifndef NS_BENCH_H
#define NS_BENCH_H

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_LIB	NS_BUILD_DIR "/libnumashadow.so"

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- statistics ---- */

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The q-quantile (0..1) of v[0..n); sorts v.  The median of an even
 * count is the mean of the middle two. */
static inline double bench_quantile(double *v, int n, double q)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	if (q == 0.5)
		return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	int i = (int)(q * n);
	return v[i < n ? i : n - 1];
}

/* The median of v[0..n); sorts v. */
static inline double bench_median(double *v, int n)
{
	return bench_quantile(v, n, 0.5);
}

/* ---- the driver ---- */

/* 0 when the library to preload is there; else says so (as who) and
 * returns -1. */
static inline int bench_need_lib(const char *who)
{
	if (!access(BENCH_LIB, R_OK))
		return 0;
	fprintf(stderr, "%s: %s: %s (build it with `make`)\n", who, BENCH_LIB,
		strerror(errno));
	return -1;
}

/* This executable's path into self[n], for the children to run; 0, or -1
 * after saying why. */
static inline int bench_self(const char *who, char *self, size_t n)
{
	ssize_t len = readlink("/proc/self/exe", self, n - 1);

	if (len < 0) {
		fprintf(stderr, "%s: /proc/self/exe: %s\n", who, strerror(errno));
		return -1;
	}
	self[len] = 0;
	return 0;
}

/* The caller's environment without LD_PRELOAD or any NUMASHADOW_ option,
 * so a plain child is plain and a preloaded one has only what the
 * benchmark sets, then the strings of extra (NULL-terminated; NULL for
 * none).  Returns a calloc'd array, or NULL. */
static inline char **bench_env(char *const *extra)
{
	extern char **environ;
	size_t n = 0, nx = 0, k = 0;

	while (environ[n])
		n++;
	while (extra && extra[nx])
		nx++;
	char **env = calloc(n + nx + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) &&
		    strncmp(environ[i], "NUMASHADOW_", 11))
			env[k++] = environ[i];
	for (size_t i = 0; i < nx; i++)
		env[k++] = extra[i];
	return env;
}

/* Runs argv[0] with argv and env, its standard output into out[n]
 * (NUL-terminated, cut at n - 1 bytes); with timeout_s > 0 the child gets
 * SIGALRM after that many seconds (the alarm survives execve, so a hang
 * ends).  Returns the child's wait status, or -1 after saying why. */
static inline int bench_run(const char *who, char *const argv[], char **env,
			    unsigned timeout_s, char *out, size_t n)
{
	int fds[2], st;
	size_t got = 0;
	ssize_t r;

	if (pipe(fds)) {
		fprintf(stderr, "%s: pipe: %s\n", who, strerror(errno));
		return -1;
	}
	/* Else the child inherits what the driver has not printed yet. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", who, strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		if (timeout_s)
			alarm(timeout_s);
		execve(argv[0], argv, env);
		_exit(127);
	}
	close(fds[1]);
	while (got < n - 1 && (r = read(fds[0], out + got, n - 1 - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		got += (size_t)r;
	}
	out[got] = 0;
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

/* ---- is the runtime really there? ---- */

/* The library's canonical path (symlinks resolved: what /proc/PID/maps
 * shows once it is loaded) into out[PATH_MAX]; 0, or -1 after saying why.
 * Preload this path, so the maps can be matched against it. */
static inline int bench_lib_path(const char *who, char *out)
{
	if (realpath(BENCH_LIB, out))
		return 0;
	fprintf(stderr, "%s: %s: %s (build it with `make`)\n", who, BENCH_LIB,
		strerror(errno));
	return -1;
}

/* The whole of a file that stat() cannot size (/proc), NUL-terminated, in
 * a malloc'd buffer; NULL with errno set. */
static inline char *bench_read_file(const char *path)
{
	size_t cap = 1 << 16, got = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0 || !buf) {
		int e = fd < 0 ? errno : ENOMEM;
		free(buf);
		if (fd >= 0)
			close(fd);
		errno = e;
		return NULL;
	}
	for (;;) {
		if (got + 1 >= cap) {
			char *n = realloc(buf, cap *= 2);
			if (!n) {
				free(buf);
				close(fd);
				errno = ENOMEM;
				return NULL;
			}
			buf = n;
		}
		r = read(fd, buf + got, cap - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = 0;
	return buf;
}

/* 1 when maps (the text of a /proc/PID/maps or smaps) has a mapping of
 * the file path: a line whose name is path, or path " (deleted)" when the
 * file was replaced since (a rebuild). */
static inline int bench_maps_has(const char *maps, const char *path)
{
	size_t n = strlen(path);

	for (const char *l = maps; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l) {
		const char *name = strchr(l, '/');
		const char *eol = strchr(l, '\n');
		if (!eol)
			eol = l + strlen(l);
		if (!name || name > eol || (size_t)(eol - name) < n ||
		    strncmp(name, path, n))
			continue;
		if (name + n == eol || !strncmp(name + n, " (deleted)", 10))
			return 1;
	}
	return 0;
}

/* For a child to ask of itself: is the runtime at lib (bench_lib_path())
 * loaded in this process (its /proc/self/maps maps it) and does
 * dlsym(RTLD_DEFAULT, sym) find sym?  A file that is not the library (junk,
 * or some other shared object) fails one or the other.  Returns 1 or 0. */
static inline int bench_self_loaded(const char *lib, const char *sym)
{
	char *maps = bench_read_file("/proc/self/maps");
	int in_maps = maps && bench_maps_has(maps, lib);

	free(maps);
	return in_maps && dlsym(RTLD_DEFAULT, sym) != NULL;
}

/* Sums the Rss (kB) of the mappings in an smaps text whose first line
 * contains name (name NULL: every mapping), or, with invert, of those
 * whose first line does not.  Returns kB, or -1 when no Rss line is
 * found at all. */
static inline long bench_smaps_rss_kb(const char *smaps, const char *name, int invert)
{
	long sum = 0, kb;
	int match = 0, seen = 0;

	for (const char *l = smaps; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l) {
		const char *eol = strchr(l, '\n');
		size_t len = eol ? (size_t)(eol - l) : strlen(l);
		/* A mapping's first line starts with its range: hex digits
		 * then '-'; field lines start with a capitalised key. */
		size_t h = strspn(l, "0123456789abcdef");
		if (h && h < len && l[h] == '-') {
			int has = 0;
			if (name) {
				char line[512];
				size_t m = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
				memcpy(line, l, m);
				line[m] = 0;
				has = strstr(line, name) != NULL;
			}
			match = name ? has != invert : 1;
		} else if (!strncmp(l, "Rss:", 4) && sscanf(l + 4, "%ld", &kb) == 1) {
			seen = 1;
			if (match)
				sum += kb;
		}
	}
	return seen ? sum : -1;
}

/* Runs argv[0] with argv and env, timed: in dir (NULL: here), standard
 * input from in_path (NULL: /dev/null), standard output to /dev/null,
 * standard error to err_fd (-1: /dev/null).  With timeout_s > 0 the child
 * gets SIGALRM after that many seconds.  *ns is the wall time from before
 * the fork to after the wait.  Returns the wait status, or -1 after
 * saying why (as who). */
static inline int bench_run_timed(const char *who, char *const argv[], char **env,
				  const char *dir, const char *in_path, int err_fd,
				  unsigned timeout_s, uint64_t *ns)
{
	int st;

	fflush(stdout);
	fflush(stderr);
	uint64_t t0 = bench_now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", who, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
		int null = open("/dev/null", O_WRONLY);
		if (in < 0 || null < 0 || (dir && chdir(dir)))
			_exit(126);
		dup2(in, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(err_fd >= 0 ? err_fd : null, STDERR_FILENO);
		if (timeout_s)
			alarm(timeout_s);
		execve(argv[0], argv, env);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "%s: waitpid: %s\n", who, strerror(errno));
			return -1;
		}
	*ns = bench_now_ns() - t0;
	return st;
}

/* A "Key:  N kB" field of /proc/self/status (key without the colon, e.g.
 * "RssAnon"), in kB; -1 when it cannot be read. */
static inline long bench_status_kb(const char *key)
{
	char *st = bench_read_file("/proc/self/status");
	size_t n = strlen(key);
	long kb = -1;

	for (const char *l = st; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l)
		if (!strncmp(l, key, n) && l[n] == ':' && sscanf(l + n + 1, "%ld", &kb) == 1)
			break;
	free(st);
	return kb;
}

/* One result line of the JSON contract; value and baseline with prec
 * decimals, the ratio with three. */
static inline void bench_json(const char *bench, const char *name, double value,
			      int prec, const char *unit, double baseline, double ratio)
{
	printf("{\"bench\":\"%s\",\"case\":\"%s\",\"value\":%.*f,\"unit\":\"%s\","
	       "\"baseline\":%.*f,\"ratio\":%.3f}\n", bench, name, prec, value, unit,
	       prec, baseline, ratio);
}

#endif
