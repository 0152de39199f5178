/* SPDX-License-Identifier: MIT */
/*
 * long_maps: more /proc/self/maps text than verify reads at once (about 8
 * MiB): a file with a path of some 3,900 characters mapped 2,400 times,
 * apart.  Verify cannot look at the whole address space then, and must
 * say so (tests/integration/verify_cannot_look.sh) rather than pass.
 * Prints "long_maps: N mappings" and exits 0 unless numashadow stops it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A read-only shared page of fd at addr: by mmap(), or by a raw syscall
 * the preload's wrappers cannot see.  0 or -1. */
static int map_page(char *addr, int fd, int seen)
{
	long r;

	if (seen)
		return mmap(addr, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) ==
		       MAP_FAILED ? -1 : 0;
	register long r10 __asm__("r10") = MAP_SHARED | MAP_FIXED;
	register long r8 __asm__("r8") = fd;
	register long r9 __asm__("r9") = 0;
	__asm__ volatile("syscall" : "=a"(r)
			 : "a"(9L /* SYS_mmap */), "D"(addr), "S"(4096L), "d"((long)PROT_READ),
			   "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return r < 0 && r > -4096 ? -1 : 0;
}

int main(int argc, char **argv)
{
	char path[4096];
	int n = 2400, fd, len;

	if (argc < 2)
		return 2;
	/* Directories of 200 characters each, nested to about 3,900. */
	len = snprintf(path, sizeof(path), "%s", argv[1]);
	while (len < 3700) {
		path[len++] = '/';
		memset(path + len, 'd', 200);
		len += 200;
		path[len] = 0;
		if (mkdir(path, 0700) < 0)
			return 3;
	}
	strcat(path, "/f");
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 4096) < 0)
		return 4;
	/* Each mapping with a hole after it, so none merge. */
	char *base = mmap(NULL, (size_t)n * 2 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return 5;
	/* All but the last by a syscall instruction no wrapper sees: under
	 * --verify each seen call reads the whole maps text, 2,400 of them
	 * took two minutes; the last, seen, is the one verify cannot judge. */
	for (int i = 0; i < n; i++)
		if (map_page(base + (size_t)i * 2 * 4096, fd, i == n - 1) < 0)
			return 6;
	printf("long_maps: %d mappings\n", n);
	return 0;
}
