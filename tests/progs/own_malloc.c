/* SPDX-License-Identifier: MIT */
/*
 * own_malloc: a program with an allocator of its own (malloc, free,
 * calloc, realloc from a static heap, as jemalloc or tcmalloc would
 * interpose libc's) maps 4 MiB itself and writes it, then prints its
 * thread count and the kernel's VMA policy of the region
 * (get_mempolicy(MPOL_F_ADDR)): "threads N mode M".  Under a placement
 * policy and nothing else, the runtime must not start its monitor there:
 * another allocator may call mmap holding its own locks, and the thread
 * would allocate (tests/integration/place_own_malloc.sh).
 */
#include <dirent.h>
#include <numaif.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static char heap[8 << 20];
static size_t used;

void *malloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (used + n > sizeof(heap))
		return NULL;
	used += n;
	return heap + used - n;
}

void free(void *p)
{
	(void)p;
}

void *calloc(size_t a, size_t b)
{
	void *p = malloc(a * b);

	if (p)
		memset(p, 0, a * b);
	return p;
}

void *realloc(void *p, size_t n)
{
	void *q = malloc(n);

	if (q && p)
		memcpy(q, p, n);	/* p lies below q in the heap: n bytes are there */
	return q;
}

int main(void)
{
	int threads = 0, mode = -1;
	unsigned long mask[16];
	DIR *d;
	struct dirent *e;

	char *m = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 1;
	memset(m, 1, 4 << 20);
	if (!(d = opendir("/proc/self/task")))
		return 1;
	while ((e = readdir(d)))
		threads += e->d_name[0] != '.';
	closedir(d);
	if (get_mempolicy(&mode, mask, 1024, m, MPOL_F_ADDR))
		return 1;
	printf("threads %d mode %d\n", threads, mode);
	return 0;
}
