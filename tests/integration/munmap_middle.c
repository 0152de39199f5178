/* SPDX-License-Identifier: MIT */
/*
 * munmap_middle: one VMA is cut into pieces from the middle.  A sixteen-page
 * written region between two guard pages loses pages 5-6 to munmap, has
 * pages 10-11 made read-only by mprotect, gets a private file mapping laid
 * over pages 1-2 with MAP_FIXED, a fresh anonymous mapping over pages 13-14,
 * and finally a PROT_NONE mapping over pages 4-7, across the hole.  After
 * each step the test's own page-by-page model is compared with
 * /proc/self/maps (permissions, inode, file offset, and the exact bounds of
 * the VMAs whose neighbours differ), numashadow_page_node() with
 * move_pages() for every page (-EFAULT in the hole), the only mapper of
 * every present page is this process at that address, and
 * numashadow_verify() must find nothing.
 */
#include <sys/stat.h>
#include "helpers.h"

#define NPAGES 16

static long pg;
static struct ns_api api;
static char *base;			/* page 0; the guards are pages -1 and NPAGES */
static unsigned long file_ino;

/* The test's model of pages -1 .. NPAGES. */
static struct {
	const char *perms;		/* NULL: unmapped */
	unsigned long ino;
	unsigned long long off;		/* file offset, when ino */
	int present;			/* the kernel holds a page here */
} model[NPAGES + 2];

#define M(i) model[(i) + 1]

static char *at(int i)
{
	return base + (long)i * pg;
}

static void set(int from, int to, const char *perms, unsigned long ino,
		unsigned long long off, int present)
{
	for (int i = from; i < to; i++) {
		M(i).perms = perms;
		M(i).ino = ino;
		M(i).off = ino ? off + (unsigned long long)(i - from) * pg : 0;
		M(i).present = present;
	}
}

/* The VMA holding page i must be exactly pages [from, to). */
static void check_bounds(const struct ns_maps *m, int i, int from, int to, const char *step)
{
	const struct maps_line *v = ns_maps_find(m, at(i));
	if (!v || v->start != (uintptr_t)at(from) || v->end != (uintptr_t)at(to))
		t_fail("%s: VMA of page %d is %#lx-%#lx, want pages %d-%d (%p-%p)", step, i,
		       v ? (unsigned long)v->start : 0, v ? (unsigned long)v->end : 0,
		       from, to, (void *)at(from), (void *)at(to));
}

static void check_step(const char *step)
{
	struct ns_maps m;
	t_assert(ns_maps_load(0, &m) > 0);
	for (int i = -1; i <= NPAGES; i++) {
		char *a = at(i);
		const struct maps_line *v = ns_maps_find(&m, a);
		if (!M(i).perms) {
			if (v)
				t_fail("%s: page %d still mapped (%s)", step, i, v->perms);
		} else if (!v || strcmp(v->perms, M(i).perms) || v->ino != M(i).ino ||
			   (M(i).ino && v->off + (uintptr_t)a - v->start != M(i).off)) {
			t_fail("%s: page %d in maps: %s ino %lu, want %s ino %lu", step, i,
			       v ? v->perms : "unmapped", v ? v->ino : 0, M(i).perms, M(i).ino);
		}
		int kn = ns_kernel_node(a), node = api.page_node(a);
		int want_kn = !M(i).perms ? -EFAULT : M(i).present ? kn : -ENOENT;
		if (kn != want_kn || (M(i).present && kn < 0))
			t_fail("%s: page %d: kernel node %d (test bug)", step, i, kn);
		if (node != kn)
			t_fail("%s: page %d (%p): numashadow_page_node %d, kernel %d", step, i,
			       (void *)a, node, kn);
		if (M(i).present) {
			struct numashadow_mapper me = { getpid(), a };
			if (ns_mappers_diff(&api, a, &me, 1))
				t_fail("%s: page %d: mappers differ", step, i);
		}
	}
	/* Where the neighbours differ, the kernel cannot merge: exact bounds. */
	if (M(10).perms && M(9).perms && M(12).perms && !strcmp(M(10).perms, "r--p") &&
	    !strcmp(M(9).perms, "rw-p") && !strcmp(M(12).perms, "rw-p"))
		check_bounds(&m, 10, 10, 12, step);
	if (M(1).ino)
		check_bounds(&m, 1, 1, 3, step);
	if (M(5).perms && M(5).perms[0] == '-')
		check_bounds(&m, 4, 4, 8, step);
	ns_maps_free(&m);
	ns_verify_clean(&api, step);
}

int main(int argc, char **argv)
{
	(void)argc;
	ns_test_preload(argv);
	ns_api_need(&api);
	pg = ns_page();

	char path[] = "/tmp/numashadow-middle-XXXXXX";
	int fd = mkstemp(path);
	t_assert(fd >= 0);
	unlink(path);		/* the open file is enough; nothing left behind on failure */
	char *buf = malloc(2 * pg);
	memset(buf, 'F', 2 * pg);
	t_assert(write(fd, buf, 2 * pg) == 2 * pg);
	free(buf);
	struct stat st;
	t_assert(fstat(fd, &st) == 0);
	file_ino = st.st_ino;

	base = ns_map_guarded(NPAGES, PROT_READ | PROT_WRITE);
	t_assert(base != MAP_FAILED);
	for (int i = 0; i < NPAGES; i++)
		*at(i) = (char)('a' + i);
	set(-1, 0, "---p", 0, 0, 0);
	set(0, NPAGES, "rw-p", 0, 0, 1);
	set(NPAGES, NPAGES + 1, "---p", 0, 0, 0);
	check_step("written");

	t_assert(munmap(at(5), 2 * pg) == 0);
	set(5, 7, NULL, 0, 0, 0);
	check_step("munmap of pages 5-6");

	t_assert(mprotect(at(10), 2 * pg, PROT_READ) == 0);
	set(10, 12, "r--p", 0, 0, 1);
	check_step("mprotect of pages 10-11");
	if (*at(10) != 'a' + 10 || *at(11) != 'a' + 11)
		t_fail("read-only pages lost their content");

	char *f = mmap(at(1), 2 * pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
	t_assert(f == at(1));
	set(1, 3, "r--p", file_ino, 0, 0);
	check_step("MAP_FIXED file over pages 1-2");
	if (*at(1) != 'F' || *at(2) != 'F')
		t_fail("the file mapping does not read the file");
	set(1, 3, "r--p", file_ino, 0, 1);
	check_step("file pages read");

	char *z = mmap(at(13), 2 * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	t_assert(z == at(13));
	set(13, 15, "rw-p", 0, 0, 0);
	check_step("MAP_FIXED anonymous over pages 13-14");
	*at(13) = 'n';
	M(13).present = 1;
	check_step("page 13 written again");
	if (*at(12) != 'a' + 12 || *at(15) != 'a' + 15)
		t_fail("neighbours of the MAP_FIXED range lost their content");

	char *n = mmap(at(4), 4 * pg, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	t_assert(n == at(4));
	set(4, 8, "---p", 0, 0, 0);
	check_step("MAP_FIXED PROT_NONE over pages 4-7, across the hole");

	t_assert(munmap(at(-1), (NPAGES + 2) * pg) == 0);
	set(-1, NPAGES + 1, NULL, 0, 0, 0);
	check_step("all unmapped");
	close(fd);
	return T_PASS;
}
