/* SPDX-License-Identifier: MIT */
/*
 * place_host: first-touch placement through userfaultfd on a one-node
 * machine, where the node is never in doubt but the machinery is all
 * there.  Under NUMASHADOW_POLICY=localalloc, every region the monitor's
 * (NUMASHADOW_MONITOR_FROM=0; set here before the test
 * re-executes itself under the preload): a fault-around window that would
 * cross a VMA edge (mprotect split the region) still fills the faulting
 * page; 5000 one-page regions each get their first touch; four threads
 * doing malloc/memset/free of ~100 KiB blocks (glibc maps those) finish;
 * read(2) into a fresh page works (the kernel's own fault is served); and
 * every page written is present on node 0 by move_pages, numashadow agrees,
 * verify finds nothing.  Then madvise(MADV_DONTNEED), munmap and mremap on
 * a placed region, made by inlined syscall instructions that no wrapper
 * sees: the monitor's events keep the shadow true (verify still 0).
 */
#include <fcntl.h>
#include <numaif.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "helpers.h"

/* A syscall no wrapper can see. */
static long raw(long n, long a, long b, long c, long d, long e)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long r;

	__asm__ volatile("syscall" : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return r;
}

static void *worker(void *unused)
{
	(void)unused;
	for (int i = 0; i < 200; i++) {
		char *p = malloc(100000 + (size_t)i * 1000);
		if (!p)
			t_fail("malloc");
		memset(p, 1, 100000);
		free(p);
	}
	return NULL;
}

static void check_page(struct ns_api *api, void *p, const char *what)
{
	int st = ns_kernel_node(p);

	if (st != 0)
		t_fail("%s: %p not present on node 0 (status %d)", what, p, st);
	if (api->page_node(p) != 0)
		t_fail("%s: numashadow_page_node(%p) = %d, kernel 0", what, p,
		       api->page_node(p));
}

int main(int argc, char **argv)
{
	struct ns_api api;
	long pg = sysconf(_SC_PAGESIZE);

	(void)argc;
	setenv("NUMASHADOW_POLICY", "localalloc", 1);
	setenv("NUMASHADOW_FAULT_AROUND", "16", 1);
	setenv("NUMASHADOW_MONITOR_FROM", "0", 1);	/* the monitor's, all */
	ns_test_preload(argv);
	if (ns_api_get(&api))
		t_fail("not preloaded");

	char *r = mmap(NULL, 64 * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		t_fail("mmap");
	if (mprotect(r + 56 * pg, 8 * pg, PROT_READ))
		t_fail("mprotect");
	r[50 * pg] = 7;		/* the window would reach into the read-only part */
	check_page(&api, r + 50 * pg, "edge");

	for (int i = 0; i < 5000; i++) {
		char *q = mmap(NULL, pg, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q == MAP_FAILED)
			t_fail("mmap %d", i);
		q[0] = 1;
		if (i % 1000 == 0)
			check_page(&api, q, "small region");
	}

	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);

	char *f = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/proc/self/stat", O_RDONLY);
	if (fd < 0 || read(fd, f, 64) <= 0)
		t_fail("read(2) into a fresh page: %s", strerror(errno));
	close(fd);
	check_page(&api, f, "read(2) target");

	int d = api.verify();
	if (d)
		t_fail("numashadow_verify() = %d", d);

	char *b = mmap(NULL, 256 * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		t_fail("mmap");
	memset(b, 3, 256 * pg);
	if ((d = api.verify()))
		t_fail("before the raw calls: verify %d", d);
	if (raw(SYS_madvise, (long)b, 16 * pg, MADV_DONTNEED, 0, 0))
		t_fail("raw madvise");
	if ((d = api.verify()))
		t_fail("after a raw madvise(MADV_DONTNEED): verify %d", d);
	if (raw(SYS_munmap, (long)(b + 32 * pg), 32 * pg, 0, 0, 0))
		t_fail("raw munmap");
	if ((d = api.verify()))
		t_fail("after a raw munmap: verify %d", d);
	long nb = raw(SYS_mremap, (long)(b + 128 * pg), 64 * pg, 128 * pg, MREMAP_MAYMOVE, 0);
	if (nb < 0 && nb > -4096)
		t_fail("raw mremap: %ld", nb);
	((char *)nb)[100 * pg] = 1;
	if ((d = api.verify()))
		t_fail("after a raw mremap: verify %d", d);
	printf("place_host: ok\n");
	return 0;
}
