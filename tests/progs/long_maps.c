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
	for (int i = 0; i < n; i++)
		if (mmap(base + (size_t)i * 2 * 4096, 4096, PROT_READ, MAP_SHARED | MAP_FIXED,
			 fd, 0) == MAP_FAILED)
			return 6;
	printf("long_maps: %d mappings\n", n);
	return 0;
}
