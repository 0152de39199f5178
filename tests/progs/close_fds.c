/* SPDX-License-Identifier: MIT */
/*
 * close_fds FILE: a program that closes every descriptor above stderr, as
 * daemons do, then opens FILE onto the numbers the runtime likes to keep
 * its own descriptors at (700 and up), writes one line to it and keeps
 * mapping and unmapping memory (which the trace records) for 100 ms.
 * tests/integration/trace_fd.sh checks that FILE holds the program's line
 * only: no trace record may land in a file that is not the trace.
 */
#include <fcntl.h>
#include "helpers.h"

int main(int argc, char **argv)
{
	long pg = ns_page();
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: close_fds FILE\n");
		return T_FAIL;
	}
	for (int i = 3; i < 1024; i++)
		close(i);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		t_fail("open %s: %s", argv[1], strerror(errno));
	for (int i = 700; i < 720; i++)
		if (dup2(fd, i) != i)
			t_fail("dup2 to %d: %s", i, strerror(errno));
	if (write(700, "mine\n", 5) != 5)
		t_fail("write: %s", strerror(errno));
	for (int i = 0; i < 1000; i++) {
		void *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED || munmap(p, (size_t)pg))
			t_fail("mmap/munmap: %s", strerror(errno));
		if (i % 100 == 0)
			usleep(10000);
	}
	puts("close_fds: done");
	return 0;
}
