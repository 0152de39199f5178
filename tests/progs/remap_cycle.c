/* SPDX-License-Identifier: MIT */
/*
 * remap_cycle [ROUNDS]: mremap's three moving forms, over and over
 * (default 50 rounds).  Each round maps 16 MiB populated and written, then
 * shrinks it by halves down to two pages, each time to a fixed address
 * (MREMAP_MAYMOVE | MREMAP_FIXED onto a hole it made), then grows it back
 * by doubling with MREMAP_MAYMOVE, writing it all, and after each growth
 * moves it with MREMAP_DONTUNMAP and unmaps the old range.  The contents
 * are checked at every step.  Prints "remap_cycle: ok" or the first step
 * that failed, and exits 0 or 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define REGION (16UL << 20)

/* An address with len free bytes: mapped, then given back. */
static char *hole(size_t len)
{
	char *h = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		return NULL;
	munmap(h, len);
	return h;
}

/* 1 when every page of p[0..len) starts with byte v. */
static int holds(const char *p, size_t len, char v, long pg)
{
	for (size_t i = 0; i < len; i += (size_t)pg)
		if (p[i] != v)
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 50;
	long pg = sysconf(_SC_PAGESIZE);

	for (int r = 0; r < rounds; r++) {
		char *p = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		size_t len = REGION;
		if (p == MAP_FAILED) {
			printf("round %d: mmap: %s\n", r, strerror(errno));
			return 1;
		}
		memset(p, 'a', len);
		while (len > 2 * (size_t)pg) {
			size_t half = len / 2;
			char *to = hole(half + (size_t)pg);
			char *q = to ? mremap(p, len, half, MREMAP_MAYMOVE | MREMAP_FIXED, to) : MAP_FAILED;
			if (q == MAP_FAILED || q != to) {
				printf("round %d: shrink %zu to %zu at a fixed address: %s\n",
				       r, len, half, strerror(errno));
				return 1;
			}
			p = q;
			len = half;
			if (!holds(p, len, 'a', pg)) {
				printf("round %d: contents lost shrinking to %zu\n", r, len);
				return 1;
			}
		}
		while (len < REGION) {
			char *q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
			if (q == MAP_FAILED) {
				printf("round %d: grow %zu to %zu: %s\n", r, len, 2 * len, strerror(errno));
				return 1;
			}
			if (!holds(q, len, len == 2 * (size_t)pg ? 'a' : 'b', pg)) {
				printf("round %d: contents lost growing to %zu\n", r, 2 * len);
				return 1;
			}
			p = q;
			len *= 2;
			memset(p, 'b', len);
			q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
			if (q == MAP_FAILED) {
				printf("round %d: move %zu with MREMAP_DONTUNMAP: %s\n", r, len, strerror(errno));
				return 1;
			}
			if (!holds(q, len, 'b', pg) || !holds(p, len, 0, pg)) {
				printf("round %d: MREMAP_DONTUNMAP of %zu: wrong contents\n", r, len);
				return 1;
			}
			if (munmap(p, len)) {
				printf("round %d: munmap the old range: %s\n", r, strerror(errno));
				return 1;
			}
			p = q;
		}
		munmap(p, len);
	}
	printf("remap_cycle: ok\n");
	return 0;
}
