/* SPDX-License-Identifier: MIT */
/*
 * malloc_heavy: glibc's allocator changes the address space behind the
 * program's back - mmap and munmap for chunks above the mmap threshold,
 * mremap when realloc grows such a chunk, brk for the main arena, mmap and
 * mprotect for the heaps of thread arenas, madvise when malloc_trim gives
 * memory back - and none of it goes through the mmap symbol.  Here a fixed
 * sequence of malloc/free of sizes from 16 B to 2 MiB crosses a fixed 128 KiB
 * threshold, one buffer is realloc'ed from 1 KiB to 64 MiB, the break is
 * moved by sbrk both ways, two threads churn their own arenas, and
 * malloc_trim runs.  Every allocation is filled and checked.  After each
 * phase numashadow_verify() must find nothing; numashadow_page_node() of
 * touched pages must equal move_pages(), their only mapper must be this
 * process at that address, and freed mmapped chunks and the released break
 * must be -EFAULT once /proc/self/maps no longer shows them.
 */
#include <malloc.h>
#include <pthread.h>
#include "helpers.h"

#define THRESHOLD	(128 * 1024)
#define NPTR		256
#define CHURN		20000
#define MAX_LOG2	21		/* largest malloc: 2 MiB */

static long pg;
static struct ns_api api;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* Write a byte derived from (tag, offset) at both ends and every page. */
static void fill(unsigned char *p, size_t n, unsigned tag)
{
	if (!n)
		return;
	for (size_t o = 0; o < n; o += pg)
		p[o] = (unsigned char)(tag + o / pg);
	p[n - 1] = (unsigned char)(tag ^ 0x5a);
}

static int filled(const unsigned char *p, size_t n, unsigned tag)
{
	for (size_t o = 0; o < n - 1; o += pg)	/* p[n - 1] holds the end mark */
		if (p[o] != (unsigned char)(tag + o / pg))
			return 0;
	return p[n - 1] == (unsigned char)(tag ^ 0x5a);
}

/* A touched page: the runtime agrees with the kernel on its node, and this
 * process alone maps it at addr. */
static void check_page(const void *addr, const char *what)
{
	char *p = (char *)((uintptr_t)addr & ~(uintptr_t)(pg - 1));
	int kn = ns_kernel_node(p), node = api.page_node(p);
	if (kn < 0)
		t_fail("%s %p: kernel node %d for a touched page (test bug)", what, addr, kn);
	if (node != kn)
		t_fail("%s %p: numashadow_page_node %d, kernel %d", what, addr, node, kn);
	struct numashadow_mapper me = { getpid(), p };
	if (ns_mappers_diff(&api, p, &me, 1))
		t_fail("%s %p: mappers differ", what, addr);
}

/* An address /proc/self/maps no longer shows must be unknown to the shadow. */
static void check_gone(const void *addr, const char *what)
{
	struct ns_maps m;
	t_assert(ns_maps_load(0, &m) > 0);
	int mapped = ns_maps_find(&m, addr) != NULL;
	ns_maps_free(&m);
	if (mapped)
		return;
	int node = api.page_node(addr);
	if (node != -EFAULT)
		t_fail("%s %p: numashadow_page_node %d, want -EFAULT", what, addr, node);
}

static void phase_churn(void)
{
	static unsigned char *ptr[NPTR];
	static size_t len[NPTR];
	uint64_t s = 0x5eed0001;
	unsigned char *freed_big = NULL;

	for (int it = 0; it < CHURN; it++) {
		int i = rnd(&s) % NPTR;
		if (ptr[i]) {
			if (!filled(ptr[i], len[i], i))
				t_fail("churn %d: allocation %d (%zu bytes) corrupted", it, i, len[i]);
			if (len[i] >= THRESHOLD)
				freed_big = ptr[i];
			free(ptr[i]);
			ptr[i] = NULL;
			continue;
		}
		/* log-uniform sizes: as many small as large */
		int lg = 4 + rnd(&s) % (MAX_LOG2 - 4 + 1);
		size_t n = ((size_t)1 << lg) + rnd(&s) % ((size_t)1 << lg);
		ptr[i] = malloc(n);
		if (!ptr[i])
			t_fail("malloc(%zu): out of memory", n);
		len[i] = n;
		fill(ptr[i], n, i);
	}
	ns_verify_clean(&api, "after malloc/free churn");
	for (int i = 0; i < NPTR; i++)
		if (ptr[i] && len[i] >= THRESHOLD) {
			check_page(ptr[i], "mmapped chunk");
			check_page(ptr[i] + len[i] - 1, "mmapped chunk end");
		}
	if (freed_big)
		check_gone(freed_big, "freed mmapped chunk");
	for (int i = 0; i < NPTR; i++) {
		if (ptr[i] && !filled(ptr[i], len[i], i))
			t_fail("allocation %d corrupted at the end", i);
		free(ptr[i]);
		ptr[i] = NULL;
	}
	malloc_trim(0);
	ns_verify_clean(&api, "after free all and malloc_trim");
}

static void phase_realloc(void)
{
	size_t n = 1024;
	unsigned char *p = malloc(n);
	t_assert(p);
	fill(p, n, 7);
	while (n < ((size_t)64 << 20)) {
		size_t m = 2 * n;
		unsigned char *q = realloc(p, m);
		if (!q)
			t_fail("realloc(%zu): out of memory", m);
		/* The old content survives, whether glibc copied or mremap moved. */
		for (size_t o = 0; o < n; o += pg)
			if (q[o] != (unsigned char)(7 + o / pg))
				t_fail("realloc to %zu lost byte %zu", m, o);
		p = q;
		n = m;
		fill(p, n, 7);
		if (n >= THRESHOLD)
			check_page(p + n - 1, "realloc'ed buffer end");
	}
	ns_verify_clean(&api, "after realloc growth");
	check_page(p, "realloc'ed buffer");
	volatile uintptr_t was = (uintptr_t)p;	/* an address, not a pointer to use */
	free(p);
	check_gone((void *)was, "freed realloc'ed buffer");
	ns_verify_clean(&api, "after freeing the realloc'ed buffer");
}

/* The [heap] VMA of /proc/self/maps, read without malloc: between sbrk calls
 * malloc must not move the break, or shrinking it would take its memory. */
static int heap_vma(uintptr_t *start, uintptr_t *end)
{
	static char buf[1 << 20];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	ssize_t r;
	while (len < sizeof(buf) - 1 && (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	close(fd);
	buf[len] = 0;
	for (char *line = buf; line && *line; ) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		unsigned long s, e;
		if (strstr(line, "[heap]") && sscanf(line, "%lx-%lx", &s, &e) == 2) {
			*start = s;
			*end = e;
			return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -1;
}

static void phase_brk(void)
{
	const long step = 256 * 1024, steps = 8;
	char *first = sbrk(0);
	uintptr_t hs, he;

	for (long i = 0; i < steps; i++) {
		char *old = sbrk(step);
		if (old == (void *)-1)
			t_fail("sbrk(%ld): %s", step, strerror(errno));
		for (long o = 0; o < step; o += pg)
			old[o] = (char)i;
		if (heap_vma(&hs, &he))
			t_fail("no [heap] in /proc/self/maps after sbrk");
		char *brk_now = sbrk(0);
		if ((uintptr_t)brk_now > he || (uintptr_t)old < hs)
			t_fail("[heap] %#lx-%#lx does not cover %p-%p", (unsigned long)hs,
			       (unsigned long)he, (void *)old, (void *)brk_now);
		int kn = ns_kernel_node(old), node = api.page_node(old);
		if (kn < 0 || node != kn)
			t_fail("brk page %p: numashadow_page_node %d, kernel %d", (void *)old, node, kn);
	}
	ns_verify_clean(&api, "after brk growth");

	char *top = sbrk(0);
	char *last = top - pg;
	if (sbrk(-(steps * step) / 2) == (void *)-1)
		t_fail("sbrk shrink: %s", strerror(errno));
	if (heap_vma(&hs, &he))
		t_fail("no [heap] in /proc/self/maps after shrinking");
	if ((uintptr_t)last >= he) {
		int node = api.page_node(last);
		if (node != -EFAULT)
			t_fail("released break %p: numashadow_page_node %d, want -EFAULT",
			       (void *)last, node);
	}
	ns_verify_clean(&api, "after brk shrink");
	if (sbrk(-(steps * step) / 2) == (void *)-1 || sbrk(0) != first)
		t_fail("sbrk did not return to %p", (void *)first);
	ns_verify_clean(&api, "after brk back to start");
}

static void *arena_churn(void *arg)
{
	uint64_t s = 0x5eed0100 + (uintptr_t)arg;
	static __thread unsigned char *ptr[64];
	static __thread size_t len[64];
	for (int it = 0; it < CHURN / 4; it++) {
		int i = rnd(&s) % 64;
		if (ptr[i]) {
			if (!filled(ptr[i], len[i], i))
				return (void *)1;
			free(ptr[i]);
			ptr[i] = NULL;
			continue;
		}
		size_t n = 16 + rnd(&s) % (64 * 1024);
		if (!(ptr[i] = malloc(n)))
			return (void *)1;
		len[i] = n;
		fill(ptr[i], n, i);
	}
	for (int i = 0; i < 64; i++)
		free(ptr[i]);
	return NULL;
}

static void phase_arenas(void)
{
	pthread_t t[2];
	void *r[2];
	for (long i = 0; i < 2; i++)
		t_assert(pthread_create(&t[i], NULL, arena_churn, (void *)i) == 0);
	for (int i = 0; i < 2; i++) {
		t_assert(pthread_join(t[i], &r[i]) == 0);
		if (r[i])
			t_fail("thread %d: allocation corrupted or malloc failed", i);
	}
	malloc_trim(0);
	ns_verify_clean(&api, "after thread arenas");
}

int main(int argc, char **argv)
{
	(void)argc;
	ns_test_preload(argv);
	ns_api_need(&api);
	pg = ns_page();
	/* A fixed threshold: glibc would otherwise raise it as big chunks are
	 * freed, and later sizes would stop crossing it. */
	t_assert(mallopt(M_MMAP_THRESHOLD, THRESHOLD) == 1);

	phase_churn();
	phase_realloc();
	phase_brk();
	phase_arenas();
	ns_verify_clean(&api, "at the end");
	return T_PASS;
}
