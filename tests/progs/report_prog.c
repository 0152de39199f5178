/* SPDX-License-Identifier: MIT */
/*
 * report_prog: two allocation functions of known names that place known
 * numbers of pages, for the tests/integration/report_*.sh tests to find
 * in `numashadow report`.  alloc_table() maps 48 pages and
 * alloc_buffer() 16, each with mmap(2) called from its own body (so the
 * call site is that function), and both write every page.  Under the
 * preload each region is then migrated to node 0 once, with
 * numashadow_migrate() found by dlsym (pages already there move nowhere,
 * but each call is a MIGRATE record with its duration).  One line on
 * stdout per region (after a pause of 0.1 s: the monitor records a fill
 * once the toucher is awake again, and the last one must not be lost):
 *
 *   site FUNCTION ADDR PAGES
 *
 * Then it forks a child that writes nothing and leaves with exit(0) while
 * the parent waits for it: the child shares both regions whole with its
 * parent at its exit.  One more line:
 *
 *   fork CHILD_PID
 *
 * Exits 0, or 1 when a call fails.
 */
#include "helpers.h"

#define TABLE_PAGES	48
#define BUFFER_PAGES	16

static char *touch(char *p, long pages)
{
	for (long i = 0; i < pages; i++)
		p[i * ns_page()] = (char)i;
	return p;
}

__attribute__((noinline)) static char *alloc_table(void)
{
	char *p = mmap(NULL, (size_t)(TABLE_PAGES * ns_page()), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		t_fail("mmap of the table: %s", strerror(errno));
	return touch(p, TABLE_PAGES);
}

__attribute__((noinline)) static char *alloc_buffer(void)
{
	char *p = mmap(NULL, (size_t)(BUFFER_PAGES * ns_page()), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		t_fail("mmap of the buffer: %s", strerror(errno));
	return touch(p, BUFFER_PAGES);
}

int main(void)
{
	long (*migrate)(void *, size_t, int, unsigned) =
		(long (*)(void *, size_t, int, unsigned))dlsym(RTLD_DEFAULT, "numashadow_migrate");
	char *t = alloc_table(), *b = alloc_buffer();

	printf("site alloc_table %p %d\n", (void *)t, TABLE_PAGES);
	printf("site alloc_buffer %p %d\n", (void *)b, BUFFER_PAGES);
	if (migrate) {
		long r1 = migrate(t, (size_t)(TABLE_PAGES * ns_page()), 0, 0);
		long r2 = migrate(b, (size_t)(BUFFER_PAGES * ns_page()), 0, 0);
		if (r1 < 0 || r2 < 0)
			t_fail("numashadow_migrate: %ld, %ld", r1, r2);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		t_fail("fork: %s", strerror(errno));
	if (pid == 0)
		exit(0);	/* exit(), not _exit(): the runtime's exit runs */
	ns_wait_ok(pid, "the child");
	printf("fork %d\n", (int)pid);
	return 0;
}
