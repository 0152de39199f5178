/* SPDX-License-Identifier: MIT */
/*
 * raw_syscall: a program that changes its address space through syscall(2)
 * - SYS_mmap, SYS_mprotect, SYS_mremap (growing, and moving with
 * MREMAP_FIXED), SYS_madvise and SYS_munmap, on anonymous memory and on a
 * private mapping of its own executable - bypasses every libc wrapper, and
 * the shadow must still follow.  After each step numashadow_verify() must
 * find nothing, and each page of the region is compared with the kernel:
 * permissions and inode with /proc/self/maps, numashadow_page_node() with
 * move_pages() (-EFAULT where nothing is mapped any more), and the only
 * mapper of a written page is this process at that address.
 */
#include <sys/stat.h>
#include "helpers.h"

#define NPAGES 8

static long pg;
static struct ns_api api;

static char *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if (r < 0 && r > -4096)
		t_fail("SYS_mmap: %s", strerror(errno));
	return (char *)r;
}

/* Compare pages [p, p + n pages) with the kernel.  perms NULL: must be
 * unmapped.  written: every page was written, so the kernel has it. */
static void check_pages(const char *step, char *p, int n, const char *perms,
			unsigned long ino, int written)
{
	struct ns_maps m;
	t_assert(ns_maps_load(0, &m) > 0);
	for (int i = 0; i < n; i++) {
		char *a = p + (long)i * pg;
		const struct maps_line *v = ns_maps_find(&m, a);
		int kn = ns_kernel_node(a), node = api.page_node(a);
		if (!perms) {
			if (v)
				t_fail("%s: %p still in maps (%s)", step, (void *)a, v->perms);
			if (node != -EFAULT)
				t_fail("%s: unmapped %p: numashadow_page_node %d, want -EFAULT",
				       step, (void *)a, node);
			continue;
		}
		if (!v || strcmp(v->perms, perms) || v->ino != ino)
			t_fail("%s: %p in maps is %s ino %lu, want %s ino %lu", step, (void *)a,
			       v ? v->perms : "unmapped", v ? v->ino : 0, perms, ino);
		if (node != kn)
			t_fail("%s: %p: numashadow_page_node %d, kernel %d", step, (void *)a,
			       node, kn);
		if (written) {
			if (kn < 0)
				t_fail("%s: %p written but kernel node %d (test bug)", step,
				       (void *)a, kn);
			struct numashadow_mapper me = { getpid(), a };
			if (ns_mappers_diff(&api, a, &me, 1))
				t_fail("%s: %p: mappers differ", step, (void *)a);
		}
	}
	ns_maps_free(&m);
	ns_verify_clean(&api, step);
}

static void fill(char *p, int n, char base)
{
	for (int i = 0; i < n; i++)
		p[(long)i * pg] = (char)(base + i);
}

static void expect(const char *step, char *p, int n, char base)
{
	for (int i = 0; i < n; i++)
		if (p[(long)i * pg] != (char)(base + i))
			t_fail("%s: page %d lost its content", step, i);
}

int main(int argc, char **argv)
{
	(void)argc;
	ns_test_preload(argv);
	ns_api_need(&api);
	pg = ns_page();

	char *p = raw_mmap(NULL, NPAGES * pg, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check_pages("SYS_mmap, untouched", p, NPAGES, "rw-p", 0, 0);
	fill(p, NPAGES, 'a');
	check_pages("SYS_mmap, written", p, NPAGES, "rw-p", 0, 1);

	if (syscall(SYS_mprotect, p + 2 * pg, 2 * pg, PROT_READ))
		t_fail("SYS_mprotect: %s", strerror(errno));
	check_pages("SYS_mprotect, head", p, 2, "rw-p", 0, 1);
	check_pages("SYS_mprotect, middle", p + 2 * pg, 2, "r--p", 0, 1);
	check_pages("SYS_mprotect, tail", p + 4 * pg, NPAGES - 4, "rw-p", 0, 1);
	if (syscall(SYS_mprotect, p + 2 * pg, 2 * pg, PROT_READ | PROT_WRITE))
		t_fail("SYS_mprotect back: %s", strerror(errno));
	check_pages("SYS_mprotect back", p, NPAGES, "rw-p", 0, 1);

	if (syscall(SYS_madvise, p + pg, pg, MADV_DONTNEED))
		t_fail("SYS_madvise: %s", strerror(errno));
	if (ns_kernel_node(p + pg) != -ENOENT)
		t_fail("page dropped by MADV_DONTNEED still present (test bug)");
	check_pages("SYS_madvise", p, NPAGES, "rw-p", 0, 0);
	p[pg] = 'a' + 1;

	/* Grow: in place or moved, the kernel decides. */
	char *q = (char *)syscall(SYS_mremap, p, NPAGES * pg, 2 * NPAGES * pg, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		t_fail("SYS_mremap grow: %s", strerror(errno));
	expect("SYS_mremap grow", q, NPAGES, 'a');
	check_pages("SYS_mremap grow, old part", q, NPAGES, "rw-p", 0, 1);
	check_pages("SYS_mremap grow, new part", q + NPAGES * pg, NPAGES, "rw-p", 0, 0);
	if (q != p)
		check_pages("SYS_mremap grow, left behind", p, NPAGES, NULL, 0, 0);
	fill(q + NPAGES * pg, NPAGES, 'A');

	/* Move onto a region reserved with SYS_mmap: always a real move. */
	char *to = raw_mmap(NULL, 2 * NPAGES * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *r = (char *)syscall(SYS_mremap, q, 2 * NPAGES * pg, 2 * NPAGES * pg,
				  MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (r != to)
		t_fail("SYS_mremap fixed: got %p want %p: %s", (void *)r, (void *)to,
		       strerror(errno));
	expect("SYS_mremap fixed", r, NPAGES, 'a');
	expect("SYS_mremap fixed", r + NPAGES * pg, NPAGES, 'A');
	check_pages("SYS_mremap fixed", r, 2 * NPAGES, "rw-p", 0, 1);
	check_pages("SYS_mremap fixed, old place", q, 2 * NPAGES, NULL, 0, 0);

	if (syscall(SYS_munmap, r + 4 * pg, 4 * pg))
		t_fail("SYS_munmap middle: %s", strerror(errno));
	check_pages("SYS_munmap middle, hole", r + 4 * pg, 4, NULL, 0, 0);
	check_pages("SYS_munmap middle, left", r, 4, "rw-p", 0, 1);
	check_pages("SYS_munmap middle, right", r + 8 * pg, 8, "rw-p", 0, 1);

	/* A file: a private read-only mapping of this executable. */
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	struct stat st;
	t_assert(fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= pg);
	char *f = raw_mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (memcmp(f, "\177ELF", 4))
		t_fail("SYS_mmap of the executable does not read ELF");
	check_pages("SYS_mmap file", f, 1, "r--p", st.st_ino, 0);
	if (syscall(SYS_munmap, f, pg))
		t_fail("SYS_munmap file: %s", strerror(errno));
	check_pages("SYS_munmap file", f, 1, NULL, 0, 0);

	if (syscall(SYS_munmap, r, 2 * NPAGES * pg))
		t_fail("SYS_munmap all: %s", strerror(errno));
	check_pages("SYS_munmap all", r, 2 * NPAGES, NULL, 0, 0);
	return T_PASS;
}
