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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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
};

static inline int ns_api_get(struct ns_api *a)
{
	a->page_node = (int (*)(const void *))dlsym(RTLD_DEFAULT, "numashadow_page_node");
	a->page_mappers = (int (*)(const void *, struct numashadow_mapper *, int))
		dlsym(RTLD_DEFAULT, "numashadow_page_mappers");
	a->verify = (int (*)(void))dlsym(RTLD_DEFAULT, "numashadow_verify");
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

/* The kernel's answer to "which node holds addr": node >= 0, -ENOENT when
 * no page is present, -EFAULT when unmapped.  Mind: the kernel also says
 * -EFAULT for a read-only mapping of the shared zero page, so tests write a
 * page before asking about it. */
static inline int ns_kernel_node(const void *addr)
{
	void *p = (void *)addr;
	int status = -EIO;
	if (syscall(SYS_move_pages, 0, 1UL, &p, NULL, &status, 0) < 0)
		return -errno;
	return status;
}

/* One line of /proc/PID/maps. */
struct ns_vma {
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
	struct ns_vma *v;
};

/* Read /proc/PID/maps (0 = self) into m; returns the number of VMAs or
 * -errno.  The buffers are per thread and static: allocating them could map
 * memory exactly where a test expects nothing to be. */
static inline int ns_maps_load(pid_t pid, struct ns_maps *m)
{
	static __thread char buf[NS_MAPS_BYTES];
	static __thread struct ns_vma vmas[NS_MAPS_MAX];
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
		struct ns_vma *v = &vmas[m->n];
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
static inline const struct ns_vma *ns_maps_find(const struct ns_maps *m,
						const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	for (int i = 0; i < m->n; i++)
		if (m->v[i].start <= a && a < m->v[i].end)
			return &m->v[i];
	return NULL;
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

#endif
