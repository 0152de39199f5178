/* SPDX-License-Identifier: MIT */
/*
 * sparse_rss: maps 1 GiB of private anonymous memory, asks for no huge
 * pages on it, writes one byte every 2 MiB + 28 KiB (about 500 pages in
 * all, no two in the same 2 MiB) and prints its RssAnon line from
 * /proc/self/status: "RssAnon: N kB".  A runtime that fills more than the
 * page a program touches shows here; tests/integration/real_programs.sh
 * compares N with the plain run's.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define SPAN (1UL << 30)
#define STEP ((2UL << 20) + 7 * 4096)

int main(void)
{
	char line[256];
	unsigned long kb = 0;
	int found = 0;
	char *p = mmap(NULL, SPAN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (madvise(p, SPAN, MADV_NOHUGEPAGE))
		perror("madvise");
	for (unsigned long off = 0; off < SPAN; off += STEP)
		p[off] = 1;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f) {
		perror("/proc/self/status");
		return 1;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %lu kB", &kb) == 1)
			found = 1;
	fclose(f);
	if (!found) {
		fprintf(stderr, "sparse_rss: no RssAnon line\n");
		return 1;
	}
	printf("RssAnon: %lu kB\n", kb);
	return 0;
}
