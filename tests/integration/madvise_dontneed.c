/* SPDX-License-Identifier: MIT */
/*
 * madvise_dontneed: MADV_DONTNEED drops pages from the page tables and the
 * shadow must drop them too, then take them back when they are touched
 * again.  Four cases: private anonymous pages (they come back zero), shared
 * anonymous pages (they come back with their data, the same frame), a
 * private file mapping whose pages were written (they come back as the
 * file), and private anonymous pages shared with a forked child, of which
 * the parent drops one (the child is then its only mapper; the parent's
 * next write gives it a page of its own).  After each step
 * numashadow_page_node() must equal move_pages() (-ENOENT for a dropped
 * page), every present page has exactly the expected mappers, and
 * numashadow_verify() must find nothing.
 */
#include <signal.h>
#include "helpers.h"

static long pg;
static struct ns_api api;

static char *at(char *b, int i)
{
	return b + (long)i * pg;
}

static void private_anon(void)
{
	enum { N = 32, FROM = 8, TO = 16 };
	char *p = ns_map_guarded(N, PROT_READ | PROT_WRITE);
	t_assert(p != MAP_FAILED);
	for (int i = 0; i < N; i++)
		memset(at(p, i), 'a' + i % 26, pg);
	t_assert(madvise(at(p, FROM), (TO - FROM) * pg, MADV_DONTNEED) == 0);
	for (int i = 0; i < N; i++)
		ns_check_own_page(&api, "private, dropped", at(p, i), i < FROM || i >= TO);
	ns_verify_clean(&api, "private anonymous, after DONTNEED");

	for (int i = FROM; i < TO; i++) {
		/* Read before write: the page must come back zero. */
		for (long o = 0; o < pg; o += 512)
			if (at(p, i)[o])
				t_fail("private page %d not zero after DONTNEED", i);
		at(p, i)[0] = 'z';
	}
	for (int i = 0; i < N; i++) {
		ns_check_own_page(&api, "private, touched again", at(p, i), 1);
		if (i < FROM || i >= TO ? at(p, i)[1] != 'a' + i % 26 : at(p, i)[0] != 'z')
			t_fail("private page %d has wrong content", i);
	}
	ns_verify_clean(&api, "private anonymous, touched again");
	munmap(p, N * pg);
}

static void shared_anon(void)
{
	enum { N = 8, DROP = 4 };
	uint64_t before[N];
	char *s = mmap(NULL, N * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	t_assert(s != MAP_FAILED);
	for (int i = 0; i < N; i++) {
		memset(at(s, i), 'S' + i, pg);
		before[i] = ns_pfn(0, at(s, i));
	}
	t_assert(madvise(s, DROP * pg, MADV_DONTNEED) == 0);
	for (int i = 0; i < N; i++)
		ns_check_own_page(&api, "shared, dropped", at(s, i), i >= DROP);
	ns_verify_clean(&api, "shared anonymous, after DONTNEED");

	for (int i = 0; i < DROP; i++) {
		if (at(s, i)[pg - 1] != 'S' + i)
			t_fail("shared page %d lost its data", i);
		if (before[i] && ns_pfn(0, at(s, i)) != before[i])
			t_fail("shared page %d came back in another frame (test bug)", i);
	}
	for (int i = 0; i < N; i++)
		ns_check_own_page(&api, "shared, read again", at(s, i), 1);
	ns_verify_clean(&api, "shared anonymous, read again");
	munmap(s, N * pg);
}

static void private_file(void)
{
	enum { N = 4 };
	char path[] = "/tmp/numashadow-dontneed-XXXXXX";
	int fd = mkstemp(path);
	t_assert(fd >= 0);
	unlink(path);		/* the open file is enough; nothing left behind on failure */
	for (int i = 0; i < N; i++) {
		char c[1] = { (char)('0' + i) };
		t_assert(pwrite(fd, c, 1, (off_t)i * pg) == 1);
	}
	t_assert(ftruncate(fd, N * pg) == 0);
	char *f = mmap(NULL, N * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	t_assert(f != MAP_FAILED);
	for (int i = 0; i < N; i++)
		at(f, i)[0] = 'x';		/* private copies */
	for (int i = 0; i < N; i++)
		ns_check_own_page(&api, "file, written", at(f, i), 1);
	t_assert(madvise(f, 2 * pg, MADV_DONTNEED) == 0);
	for (int i = 0; i < N; i++)
		ns_check_own_page(&api, "file, dropped", at(f, i), i >= 2);
	ns_verify_clean(&api, "private file, after DONTNEED");
	for (int i = 0; i < N; i++)
		if (at(f, i)[0] != (i < 2 ? '0' + i : 'x'))
			t_fail("file page %d reads '%c' after DONTNEED", i, at(f, i)[0]);
	for (int i = 0; i < N; i++)
		ns_check_own_page(&api, "file, read again", at(f, i), 1);
	ns_verify_clean(&api, "private file, read again");
	munmap(f, N * pg);
	close(fd);
}

static void after_fork(void)
{
	enum { N = 4 };
	char *p = ns_map_guarded(N, PROT_READ | PROT_WRITE);
	t_assert(p != MAP_FAILED);
	for (int i = 0; i < N; i++)
		at(p, i)[0] = 'f';
	int p2c[2], c2p[2];
	char c = 0;
	t_assert(pipe(p2c) == 0 && pipe(c2p) == 0);
	pid_t parent = getpid(), child = fork();
	t_assert(child >= 0);
	if (child == 0) {
		close(p2c[1]);
		close(c2p[0]);
		ns_xfer(p2c[0], &c, 1, 0);		/* the parent dropped page 0 */
		ns_check_own_page(&api, "child, after the parent's DONTNEED", p, 1);
		struct numashadow_mapper both[2] = { { getpid(), at(p, 1) }, { parent, at(p, 1) } };
		if (ns_mappers_diff(&api, at(p, 1), both, 2))
			t_fail("child: page 1 should still be shared");
		ns_verify_clean(&api, "child, after the parent's DONTNEED");
		ns_xfer(c2p[1], &c, 1, 1);
		ns_xfer(p2c[0], &c, 1, 0);		/* the parent wrote page 0 */
		ns_check_own_page(&api, "child, after the parent's write", p, 1);
		if (p[0] != 'f')
			t_fail("child sees the parent's write");
		exit(T_PASS);
	}
	/* Unused ends closed: if one side dies, the other reads end of file
	 * instead of waiting forever. */
	close(p2c[0]);
	close(c2p[1]);
	t_assert(madvise(p, pg, MADV_DONTNEED) == 0);
	ns_check_own_page(&api, "parent, dropped", p, 0);
	ns_verify_clean(&api, "parent, after DONTNEED");
	ns_xfer(p2c[1], &c, 1, 1);
	ns_xfer(c2p[0], &c, 1, 0);
	p[0] = 'g';
	ns_check_own_page(&api, "parent, written again", p, 1);
	ns_verify_clean(&api, "parent, written again");
	ns_xfer(p2c[1], &c, 1, 1);
	ns_wait_ok(child, "the child");
	ns_verify_clean(&api, "parent, child gone");
}

int main(int argc, char **argv)
{
	(void)argc;
	ns_test_preload(argv);
	signal(SIGPIPE, SIG_IGN);	/* a dead peer shows as a failed write */
	ns_api_need(&api);
	pg = ns_page();
	private_anon();
	shared_anon();
	private_file();
	after_fork();
	return T_PASS;
}
