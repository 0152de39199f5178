/* SPDX-License-Identifier: MIT */
/*
 * fd_list MODE: the descriptors this program can see, one line, in
 * increasing order.
 *
 *   fstat  every number below the soft RLIMIT_NOFILE (as getrlimit says)
 *          that fstat accepts: what closefrom() emulations and descriptor
 *          checks before exec (Python's pass_fds) look at.  The limit
 *          itself goes to stderr: the runtime may lower it to keep its
 *          descriptors above it, which is fine as long as the list agrees.
 *   proc   the entries of /proc/self/fd, less the one the listing itself
 *          opens, as `ls /proc/self/fd` shows them.
 *
 * tests/integration/real_programs.sh compares the lists with the plain
 * run's: the runtime's own descriptors must stay out of the fstat range
 * under every setting, and out of /proc/self/fd when nothing is asked of
 * it.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

static int by_number(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "fstat")) {
		struct rlimit rl;
		struct stat st;
		if (getrlimit(RLIMIT_NOFILE, &rl)) {
			perror("getrlimit");
			return 1;
		}
		/* The limit on stderr: the list, not the limit, is compared. */
		fprintf(stderr, "fd_list: soft limit %llu\n", (unsigned long long)rl.rlim_cur);
		printf("fstat:");
		for (rlim_t fd = 0; fd < rl.rlim_cur && fd < (1u << 30); fd++)
			if (fstat((int)fd, &st) == 0)
				printf(" %d", (int)fd);
		printf("\n");
		return 0;
	}
	if (!strcmp(mode, "proc")) {
		int fds[4096], n = 0;
		DIR *d = opendir("/proc/self/fd");
		struct dirent *e;
		if (!d) {
			perror("/proc/self/fd");
			return 1;
		}
		while ((e = readdir(d)) && n < 4096) {
			if (e->d_name[0] == '.')
				continue;
			int fd = atoi(e->d_name);
			if (fd != dirfd(d))
				fds[n++] = fd;
		}
		closedir(d);
		qsort(fds, (size_t)n, sizeof(fds[0]), by_number);
		printf("/proc/self/fd:");
		for (int i = 0; i < n; i++)
			printf(" %d", fds[i]);
		printf("\n");
		return 0;
	}
	fprintf(stderr, "usage: fd_list fstat|proc\n");
	return 2;
}
