/* SPDX-License-Identifier: MIT */
/*
 * trace_prog: address-space calls of known addresses and lengths, for
 * tests/integration/trace.sh to find in the trace.  It maps anonymous
 * regions of 3, 7, 11 and 64 pages, unmaps the 3-page one, makes two
 * pages of the 7-page one read-only, moves the 11-page one to a place it
 * reserved (mremap MAYMOVE|FIXED, growing it to 13 pages), writes every
 * page of the 64-page one and counts its present pages in
 * /proc/self/pagemap, then forks a child that maps and unmaps 9 pages of
 * its own and exits 0.  One line on stdout per fact, addresses in hex:
 *
 *   mmap PID ADDR LEN          munmap PID ADDR LEN
 *   mprotect PID ADDR LEN      mremap PID OLD NEW NEWLEN
 *   present PID ADDR PAGES     child PID
 *
 * Exits 0, or 1 when a call fails or the child does.
 */
#include <sys/wait.h>
#include "helpers.h"

#define TOUCHED 64	/* pages of the region written */

static char *map(long pages)
{
	size_t len = (size_t)(pages * ns_page());
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		t_fail("mmap of %ld pages: %s", pages, strerror(errno));
	printf("mmap %d %p %zu\n", (int)getpid(), (void *)p, len);
	return p;
}

static void unmap(char *p, long pages)
{
	size_t len = (size_t)(pages * ns_page());

	if (munmap(p, len))
		t_fail("munmap: %s", strerror(errno));
	printf("munmap %d %p %zu\n", (int)getpid(), (void *)p, len);
}

int main(void)
{
	long pg = ns_page();
	int present = 0, status;

	char *a = map(3), *c = map(7), *e = map(11), *r = map(TOUCHED);
	unmap(a, 3);

	if (mprotect(c + 2 * pg, 2 * pg, PROT_READ))
		t_fail("mprotect: %s", strerror(errno));
	printf("mprotect %d %p %ld\n", (int)getpid(), (void *)(c + 2 * pg), 2 * pg);

	/* The place to move to: reserved, so that no other mapping is there;
	 * MREMAP_FIXED replaces the reservation. */
	char *to = map(13);
	char *m = mremap(e, 11 * pg, 13 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (m != to)
		t_fail("mremap to %p: %p (%s)", (void *)to, (void *)m, strerror(errno));
	printf("mremap %d %p %p %ld\n", (int)getpid(), (void *)e, (void *)m, 13 * pg);

	for (int i = 0; i < TOUCHED; i++)
		r[i * pg] = (char)i;
	for (int i = 0; i < TOUCHED; i++) {
		uint64_t pm;
		int err = ns_pagemap(0, r + i * pg, &pm);
		if (err)
			t_fail("pagemap: %s", strerror(-err));
		present += !!(pm & NS_PM_PRESENT);
	}
	printf("present %d %p %d\n", (int)getpid(), (void *)r, present);

	fflush(stdout);	/* or the child prints our lines again */
	pid_t pid = fork();
	if (pid < 0)
		t_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		unmap(map(9), 9);
		exit(0);	/* at exit, so the runtime writes its records */
	}
	printf("child %d\n", (int)pid);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		t_fail("child %d: status %#x", (int)pid, status);
	return 0;
}
