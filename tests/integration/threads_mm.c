/* SPDX-License-Identifier: MIT */
/*
 * threads_mm: eight threads change the address space at once for about three
 * seconds - mmap, munmap of whole regions and of tails, mprotect of ranges,
 * mremap in place or moving (also MREMAP_FIXED onto a region the thread
 * reserved), madvise(MADV_DONTNEED) - each from its own fixed seed, each on
 * its own regions, writing a tag into the pages it touches.  Threads check
 * their data as they go (mremap keeps it, DONTNEED zeroes it).  After they
 * join, numashadow_verify() must find nothing, and every page of every
 * remaining region is compared with the kernel: permissions with
 * /proc/self/maps, numashadow_page_node() with move_pages(), and each
 * written page must have exactly one mapper, this process at that address;
 * addresses the threads unmapped that nothing maps now must be -EFAULT.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include "helpers.h"

#define NTHREADS	8
#define NSLOTS		12
#define MAXPAGES	24
#define NFREED		64
#define RUN_SECONDS	3

struct slot {
	char *addr;			/* NULL when empty */
	int npages;
	int prot[MAXPAGES];		/* PROT_* of each page */
	uint64_t tag[MAXPAGES];		/* value written at both ends of the page; 0: never written */
};

struct worker {
	int id;
	uint64_t rng;
	uint64_t counter;
	struct slot slot[NSLOTS];
	char *freed[NFREED];		/* pages this thread unmapped, for -EFAULT checks */
	int nfreed;
	unsigned long split;		/* mremaps refused because the region is two VMAs */
	unsigned long ops[10];		/* per operation below; [9]: mmap */
};

static long pg;
static struct ns_api api;
static atomic_int fails;
static struct timespec t_end;

#define check(c, ...) do { if (!(c)) { \
	fprintf(stderr, "FAIL line %d: ", __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); \
	atomic_fetch_add(&fails, 1); } } while (0)

static uint64_t rnd(struct worker *w)
{
	/* xorshift64*: fixed seeds give the same operations every run. */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545F4914F6CDD1DULL;
}

static int pick(struct worker *w, int n)
{
	return (int)(rnd(w) % (uint64_t)n);
}

static const int prots[3] = { PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE };

static uint64_t *head(char *p)
{
	return (uint64_t *)p;
}

static uint64_t *tail(char *p)
{
	return (uint64_t *)(p + pg - sizeof(uint64_t));
}

static void forget(struct worker *w, char *p)
{
	if (w->nfreed < NFREED)
		w->freed[w->nfreed++] = p;
}

static int uniform_prot(struct slot *s)
{
	for (int i = 1; i < s->npages; i++)
		if (s->prot[i] != s->prot[0])
			return 0;
	return 1;
}

static void op_map(struct worker *w, struct slot *s)
{
	int n = 1 + pick(w, 16);
	char *p = mmap(NULL, n * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(p != MAP_FAILED, "mmap %d pages: %s", n, strerror(errno));
	if (p == MAP_FAILED)
		return;
	s->addr = p;
	s->npages = n;
	for (int i = 0; i < n; i++) {
		s->prot[i] = PROT_READ | PROT_WRITE;
		s->tag[i] = 0;
	}
}

static void op_touch(struct worker *w, struct slot *s)
{
	for (int i = 0; i < s->npages; i++) {
		if (s->prot[i] != (PROT_READ | PROT_WRITE) || pick(w, 2))
			continue;
		char *p = s->addr + (long)i * pg;
		if (s->tag[i] == 0)
			check(*head(p) == 0 && *tail(p) == 0,
			      "thread %d: fresh page %p not zero", w->id, (void *)p);
		uint64_t t = ((uint64_t)(w->id + 1) << 48) | ++w->counter;
		*head(p) = t;
		*tail(p) = t;
		s->tag[i] = t;
	}
}

/* Reads only pages written before: reading a never-written page would map
 * the zero page, which the final node checks keep out of the picture. */
static void op_check(struct worker *w, struct slot *s)
{
	for (int i = 0; i < s->npages; i++) {
		if (!(s->prot[i] & PROT_READ) || !s->tag[i])
			continue;
		char *p = s->addr + (long)i * pg;
		check(*head(p) == s->tag[i] && *tail(p) == s->tag[i],
		      "thread %d: page %p holds %#" PRIx64 "/%#" PRIx64 ", want %#" PRIx64,
		      w->id, (void *)p, *head(p), *tail(p), s->tag[i]);
	}
}

static void op_unmap(struct worker *w, struct slot *s)
{
	check(munmap(s->addr, s->npages * pg) == 0, "munmap: %s", strerror(errno));
	forget(w, s->addr);
	s->addr = NULL;
	s->npages = 0;
}

static void op_unmap_tail(struct worker *w, struct slot *s)
{
	if (s->npages < 2)
		return;
	int k = 1 + pick(w, s->npages - 1);
	char *p = s->addr + (long)(s->npages - k) * pg;
	check(munmap(p, k * pg) == 0, "munmap tail: %s", strerror(errno));
	forget(w, p);
	s->npages -= k;
}

static void op_protect(struct worker *w, struct slot *s)
{
	int a = pick(w, s->npages), n = 1 + pick(w, s->npages - a);
	int prot = prots[pick(w, 3)];
	check(mprotect(s->addr + (long)a * pg, n * pg, prot) == 0,
	      "mprotect: %s", strerror(errno));
	for (int i = a; i < a + n; i++)
		s->prot[i] = prot;
}

static void moved(struct slot *s, char *to, int n)
{
	for (int i = s->npages; i < n; i++) {
		s->prot[i] = s->prot[0];
		s->tag[i] = 0;
	}
	s->addr = to;
	s->npages = n;
}

/* mremap needs the range in one VMA.  A region of one protection can still
 * be two VMAs when its parts got different anon_vmas, so EFAULT is accepted
 * only when /proc/self/maps shows the split.  Other threads cannot split
 * this thread's region, so the answer is stable. */
static int remap_efault_ok(struct slot *s)
{
	struct ns_maps m;
	if (ns_maps_load(0, &m) < 0)
		return 0;
	const struct maps_line *v = ns_maps_find(&m, s->addr);
	int split = v && v->end < (uintptr_t)(s->addr + (long)s->npages * pg);
	ns_maps_free(&m);
	return split;
}

static void op_remap(struct worker *w, struct slot *s)
{
	if (!uniform_prot(s))
		return;
	int n = 1 + pick(w, MAXPAGES);
	char *old = s->addr;
	char *p = mremap(old, s->npages * pg, n * pg, MREMAP_MAYMOVE);
	if (p == MAP_FAILED && errno == EFAULT && remap_efault_ok(s)) {
		w->split++;
		return;
	}
	check(p != MAP_FAILED, "mremap %d -> %d pages: %s", s->npages, n, strerror(errno));
	if (p == MAP_FAILED)
		return;
	if (p != old)
		forget(w, old);
	else if (n < s->npages)
		forget(w, old + (long)n * pg);
	moved(s, p, n);
}

static void op_remap_fixed(struct worker *w, struct slot *s)
{
	if (!uniform_prot(s))
		return;
	int n = 1 + pick(w, MAXPAGES);
	char *to = mmap(NULL, n * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(to != MAP_FAILED, "reserve: %s", strerror(errno));
	if (to == MAP_FAILED)
		return;
	char *p = mremap(s->addr, s->npages * pg, n * pg,
			 MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (p == MAP_FAILED && errno == EFAULT && remap_efault_ok(s)) {
		w->split++;
		munmap(to, n * pg);
		return;
	}
	check(p == to, "mremap fixed %p -> %p: %s", (void *)s->addr, (void *)to,
	      strerror(errno));
	if (p != to) {
		munmap(to, n * pg);
		return;
	}
	forget(w, s->addr);
	moved(s, p, n);
}

static void op_dontneed(struct worker *w, struct slot *s)
{
	int a = pick(w, s->npages), n = 1 + pick(w, s->npages - a);
	check(madvise(s->addr + (long)a * pg, n * pg, MADV_DONTNEED) == 0,
	      "madvise: %s", strerror(errno));
	for (int i = a; i < a + n; i++)
		s->tag[i] = 0;
}

static int time_left(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec < t_end.tv_sec ||
	       (now.tv_sec == t_end.tv_sec && now.tv_nsec < t_end.tv_nsec);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (unsigned long it = 0; it < 1000000 && time_left(); it++) {
		struct slot *s = &w->slot[pick(w, NSLOTS)];
		int op = pick(w, 9);
		if (!s->addr) {
			op_map(w, s);
			w->ops[9]++;
			continue;
		}
		w->ops[op]++;
		switch (op) {
		case 0: op_touch(w, s); break;
		case 1: op_check(w, s); break;
		case 2: op_unmap(w, s); break;
		case 3: op_unmap_tail(w, s); break;
		case 4: op_protect(w, s); break;
		case 5: op_remap(w, s); break;
		case 6: op_remap_fixed(w, s); break;
		case 7: op_dontneed(w, s); break;
		case 8: op_touch(w, s); op_check(w, s); break;
		}
	}
	return NULL;
}

static const char *perms_of(int prot)
{
	return prot == (PROT_READ | PROT_WRITE) ? "rw-p" :
	       prot == PROT_READ ? "r--p" : "---p";
}

static void check_final(struct worker *w, const struct ns_maps *m)
{
	for (int k = 0; k < NSLOTS; k++) {
		struct slot *s = &w->slot[k];
		if (!s->addr)
			continue;
		op_check(w, s);
		for (int i = 0; i < s->npages; i++) {
			char *p = s->addr + (long)i * pg;
			const struct maps_line *v = ns_maps_find(m, p);
			check(v && !strcmp(v->perms, perms_of(s->prot[i])),
			      "page %p: maps says %s, want %s", (void *)p,
			      v ? v->perms : "unmapped", perms_of(s->prot[i]));
			int kn = ns_kernel_node(p), node = api.page_node(p);
			check(s->tag[i] ? kn >= 0 : kn == -ENOENT,
			      "page %p (tag %#" PRIx64 "): kernel node %d (test bug)",
			      (void *)p, s->tag[i], kn);
			check(node == kn, "page %p: numashadow_page_node %d, kernel %d",
			      (void *)p, node, kn);
			if (s->tag[i]) {
				struct numashadow_mapper me = { getpid(), p };
				check(ns_mappers_diff(&api, p, &me, 1) == 0,
				      "page %p: mappers differ", (void *)p);
			}
		}
	}
	for (int i = 0; i < w->nfreed; i++) {
		char *p = w->freed[i];
		if (ns_maps_find(m, p))
			continue;	/* reused since by someone */
		int node = api.page_node(p);
		check(node == -EFAULT, "unmapped %p: numashadow_page_node %d, want -EFAULT",
		      (void *)p, node);
	}
}

int main(int argc, char **argv)
{
	(void)argc;
	ns_test_preload(argv);
	ns_api_need(&api);
	pg = ns_page();

	static struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	clock_gettime(CLOCK_MONOTONIC, &t_end);
	t_end.tv_sec += RUN_SECONDS;
	for (int i = 0; i < NTHREADS; i++) {
		w[i].id = i;
		w[i].rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
		t_assert(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		t_assert(pthread_join(th[i], NULL) == 0);

	ns_verify_clean(&api, "after the threads joined");

	struct ns_maps m;
	t_assert(ns_maps_load(0, &m) > 0);
	for (int i = 0; i < NTHREADS; i++)
		check_final(&w[i], &m);
	ns_maps_free(&m);

	unsigned long total[10] = { 0 }, split = 0;
	for (int i = 0; i < NTHREADS; i++) {
		split += w[i].split;
		for (int o = 0; o < 10; o++)
			total[o] += w[i].ops[o];
	}
	printf("ops: mmap %lu touch %lu check %lu unmap %lu tail %lu protect %lu "
	       "remap %lu fixed %lu dontneed %lu touch+check %lu (mremap of split regions %lu)\n", total[9],
	       total[0], total[1], total[2], total[3], total[4], total[5], total[6],
	       total[7], total[8], split);

	ns_verify_clean(&api, "at the end");
	return atomic_load(&fails) ? T_FAIL : T_PASS;
}
