/* SPDX-License-Identifier: MIT */
/*
 * vm_place_rules CASE: NUMASHADOW_RULES pick a policy per region at mmap
 * time; the first rule that matches wins, NUMASHADOW_POLICY places the
 * rest.  Each case needs the setting named in the table below (the
 * program refuses to judge under another one) and checks every page with
 * move_pages(2) (nodes = NULL), then expects numashadow_verify() to find
 * nothing.
 *
 *   size   size>=8M:membind=1, default membind=0: regions of 16 MiB and of
 *          exactly 8 MiB are on node 1; regions of 8 MiB - 4 KiB and of
 *          1 MiB on node 0.
 *   site   site=vm_place_rules:alloc_here:membind=1, default membind=0:
 *          regions alloc_here() maps are on node 1 (also when it maps
 *          through a helper of its own), regions alloc_elsewhere() maps
 *          on node 0.  The runtime names a call site as dladdr(3) does:
 *          the executable's file is argv[0] (matched by its last path
 *          component), the function its dynamic symbol - so alloc_here
 *          must be in the executable's dynamic symbol table (linked with
 *          -rdynamic); the case checks that first and says so.
 *   order  size<2M:membind=0;site=vm_place_rules:alloc_here:membind=1,
 *          default interleave=0-1: 1 MiB from alloc_here is on node 0 (the
 *          size rule comes first), 4 MiB from alloc_here on node 1 (the
 *          site rule), 4 MiB from alloc_elsewhere page by page by vpn % 2
 *          (the default).
 *
 * Prints "vm_place_rules CASE: PASS ..." on success.  Needs a 2-node
 * guest: tests/vm/place_rules.sh runs it.
 */
#include <numa.h>
#include "helpers.h"

#define MIB (1UL << 20)
#define SITE_OBJECT "vm_place_rules"

static long pg;
static struct ns_api api;

/* ---- where the maps come from: the site rules name these ---- */

static __attribute__((noinline)) void *map_for(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	/* No tail call: this frame must stay on the stack under mmap. */
	__asm__ volatile("" ::: "memory");
	return p;
}

/* Maps len bytes itself, or through map_for() when deep. */
__attribute__((noinline, visibility("default"))) void *alloc_here(size_t len, int deep)
{
	void *p = deep ? map_for(len) : mmap(NULL, len, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline, visibility("default"))) void *alloc_elsewhere(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	__asm__ volatile("" ::: "memory");
	return p;
}

/* ---- checks ---- */

static char *got(void *p, size_t len)
{
	if (p == MAP_FAILED)
		t_fail("mmap of %zu bytes: %s", len, strerror(errno));
	return p;
}

static char tag(char *p)
{
	return (char)(((uintptr_t)p >> 12) * 5 + 3);
}

/* Writes every page of [r, r + len), lowest first, then checks with
 * move_pages(2) that page i is on node want(i): fixed when node >= 0,
 * vpn % 2 when node is -1. */
static void touch_expect(const char *what, char *r, size_t len, int node)
{
	long n = (long)(len / (size_t)pg);
	int *want = calloc((size_t)n, sizeof(*want));

	t_assert(want);
	for (long i = 0; i < n; i++)
		r[i * pg] = tag(r + i * pg);
	for (long i = 0; i < n; i++) {
		want[i] = node >= 0 ? node : (int)(((uintptr_t)(r + i * pg) >> 12) % 2);
		if (r[i * pg] != tag(r + i * pg))
			t_fail("%s: page %ld lost what was written to it", what, i);
	}
	ns_expect_nodes(what, r, n, want, NULL);
	free(want);
}

/* The site rules match what dladdr() says of each frame. */
static void need_site_names(void)
{
	Dl_info info;
	const char *f, *base;

	if (!dladdr((void *)alloc_here, &info) || !info.dli_fname)
		t_fail("dladdr() knows nothing of alloc_here");
	f = info.dli_fname;
	base = strrchr(f, '/') ? strrchr(f, '/') + 1 : f;
	fprintf(stderr, "dladdr(alloc_here): object '%s', function '%s'\n", f,
		info.dli_sname ? info.dli_sname : "(none)");
	if (strcmp(base, SITE_OBJECT))
		t_fail("dladdr() names the executable '%s', not .../%s", f, SITE_OBJECT);
	if (!info.dli_sname || strcmp(info.dli_sname, "alloc_here"))
		t_fail("alloc_here is not in the executable's dynamic symbol table "
		       "(dladdr() finds '%s'): link tests/progs with -rdynamic, or "
		       "no site rule can name a function of the program",
		       info.dli_sname ? info.dli_sname : "no symbol");
}

static void case_size(void)
{
	static const struct { size_t len; int node; const char *what; } r[] = {
		{ 16 * MIB, 1, "16 MiB (>= 8M: rule)" },
		{ 8 * MIB, 1, "8 MiB (>= 8M: rule)" },
		{ 8 * MIB - 4096, 0, "8 MiB - 4 KiB (default)" },
		{ 1 * MIB, 0, "1 MiB (default)" },
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(*r); i++)
		touch_expect(r[i].what, got(alloc_elsewhere(r[i].len), r[i].len),
			     r[i].len, r[i].node);
	printf("vm_place_rules size: PASS (16 MiB and 8 MiB on node 1; "
	       "8 MiB - 4 KiB and 1 MiB on node 0)\n");
}

static void case_site(void)
{
	need_site_names();
	touch_expect("alloc_here, 1 MiB", got(alloc_here(MIB, 0), MIB), MIB, 1);
	touch_expect("alloc_here through map_for, 1 MiB", got(alloc_here(MIB, 1), MIB),
		     MIB, 1);
	touch_expect("alloc_elsewhere, 1 MiB", got(alloc_elsewhere(MIB), MIB), MIB, 0);
	touch_expect("map_for alone, 1 MiB", got(map_for(MIB), MIB), MIB, 0);
	printf("vm_place_rules site: PASS (alloc_here's regions on node 1, "
	       "the others on node 0)\n");
}

static void case_order(void)
{
	need_site_names();
	touch_expect("alloc_here, 1 MiB (size rule first)",
		     got(alloc_here(MIB, 0), MIB), MIB, 0);
	touch_expect("alloc_here, 4 MiB (site rule)",
		     got(alloc_here(4 * MIB, 0), 4 * MIB), 4 * MIB, 1);
	touch_expect("alloc_elsewhere, 4 MiB (default interleave)",
		     got(alloc_elsewhere(4 * MIB), 4 * MIB), 4 * MIB, -1);
	printf("vm_place_rules order: PASS (the first matching rule wins; "
	       "the default places the rest)\n");
}

static const struct {
	const char *name;	/* the argument */
	const char *policy;	/* NUMASHADOW_POLICY it judges */
	const char *rules;	/* NUMASHADOW_RULES it judges */
	void (*run)(void);
} cases[] = {
	{ "size", "membind=0", "size>=8M:membind=1", case_size },
	{ "site", "membind=0", "site=" SITE_OBJECT ":alloc_here:membind=1", case_site },
	{ "order", "interleave=0-1",
	  "size<2M:membind=0;site=" SITE_OBJECT ":alloc_here:membind=1", case_order },
};

int main(int argc, char **argv)
{
	const char *pol = getenv("NUMASHADOW_POLICY");
	const char *rules = getenv("NUMASHADOW_RULES");

	ns_test_preload(argv);
	ns_api_need(&api);
	pg = ns_page();
	for (size_t i = 0; argc == 2 && i < sizeof(cases) / sizeof(*cases); i++) {
		if (strcmp(argv[1], cases[i].name))
			continue;
		if (!pol || !rules || strcmp(pol, cases[i].policy) ||
		    strcmp(rules, cases[i].rules))
			t_fail("case %s judges NUMASHADOW_POLICY=%s NUMASHADOW_RULES=%s; "
			       "the environment has %s and %s", cases[i].name,
			       cases[i].policy, cases[i].rules, pol ? pol : "(unset)",
			       rules ? rules : "(unset)");
		if (numa_available() < 0 || numa_max_node() < 1)
			t_fail("needs nodes 0 and 1; run it through tests/vm/place_rules.sh");
		cases[i].run();
		ns_verify_clean(&api, cases[i].name);
		return T_PASS;
	}
	fprintf(stderr, "usage: vm_place_rules CASE; cases:");
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		fprintf(stderr, " %s", cases[i].name);
	fputc('\n', stderr);
	return T_FAIL;
}
