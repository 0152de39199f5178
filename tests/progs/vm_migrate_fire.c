/* SPDX-License-Identifier: MIT */
/*
 * vm_migrate_fire: a range migrated back and forth between nodes 0 and 1
 * for SECONDS (default 20) while the program does everything else at
 * once, loses no write and ends where the last migration put it.  Range A
 * (NPAGES pages between guards, first written on node 0) is moved by the
 * main thread with numashadow_migrate(..., SYNC), alternately to node 1
 * and node 0, each time after every writer finished another sweep.
 * Meanwhile: WRITERS threads sweep A, each owning every WRITERS-th word;
 * each word holds (sweep << 24 | word index) and each writer reads the
 * value its last sweep put there before writing the next, so a lost write
 * is caught when it happens.  A forker thread forks again and again: each
 * child checks the A it inherited (every word its owner's, each writer's
 * words a prefix at sweep s + 1 and the rest at s, s no less than the
 * sweeps that writer had finished before the fork) and _exits; the parent
 * wants status 0 (86 would be verify failing at the fork).  A churn thread
 * works on region B, separate from A and never migrated (a range reaching
 * past its mapping is vm_migrate_errors' "partial" case): it maps 16
 * pages, grows them to 32 with mremap (they may move), punches a hole,
 * moves 8 pages elsewhere with MREMAP_FIXED, shrinks the tail, checking
 * every page's content after each step, and unmaps it all.  Every
 * migration must return what the stats count as moved, account for every
 * page of A exactly once (moved, already, or failed), and fail none for a
 * reason other than shared (a child alive at that moment) or busy.  At
 * the end (forks and churn stopped, verify clean while the writers still
 * run, two more sweeps) one last migration must move or find every page
 * with none failed; after a last sweep the writers stop, every word must
 * hold its owner's last sweep, the kernel (move_pages) and
 * numashadow_page_node() must put every page of A on the last target, and
 * numashadow_verify() must return 0.  The run continues past SECONDS
 * until MIN_ROUNDS migrations, MIN_FORKS forks and MIN_CHURNS churn
 * cycles are done, and fails at 3 x SECONDS (too slow to prove anything);
 * a watchdog fails it at 3 x SECONDS + 60 s if anything hangs.  Needs a
 * 2-node guest: tests/vm/migrate_under_fire.sh runs it.
 */
#include <dirent.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <stdarg.h>
#include <time.h>
#include "helpers.h"

#define NPAGES 512
#define WRITERS 2
#define MIN_ROUNDS 6
#define MIN_FORKS 3
#define MIN_CHURNS 3
#define CHURN 16		/* pages B starts with */

#define VAL(s, idx) (((uint64_t)(s) << 24) | (uint64_t)(idx))
#define IDX(v) ((v) & 0xffffff)
#define SEQ(v) ((v) >> 24)

static long pg, wpp;		/* page size, 64-bit words per page */
static struct ns_api api;
static volatile uint64_t *A;

static struct {
	unsigned long v;
	char pad[56];
} sweeps[WRITERS];		/* completed sweeps, per writer */
static unsigned long lo_at_fork[WRITERS];	/* read just before each fork */
static int stop_writers, stop_forks, stop_churn;
static int forking;		/* the forker is between fork() and its return */
static unsigned long forks, churns, rounds;
static int failed;
static char why[1024];
static double t0;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The first failure of any thread: kept, and everything stops. */
static void fail_async(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(&failed, 1, __ATOMIC_ACQ_REL))
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
}

static int is_failed(void)
{
	return __atomic_load_n(&failed, __ATOMIC_ACQUIRE);
}

static unsigned long done_sweeps(int w)
{
	return __atomic_load_n(&sweeps[w].v, __ATOMIC_ACQUIRE);
}

static void *writer(void *arg)
{
	int w = (int)(intptr_t)arg;

	for (unsigned long s = 1; !__atomic_load_n(&stop_writers, __ATOMIC_ACQUIRE) &&
				  !is_failed(); s++) {
		for (long p = 0; p < NPAGES; p++) {
			volatile uint64_t *pw = A + p * wpp;
			for (long k = w; k < wpp; k += WRITERS) {
				uint64_t idx = (uint64_t)(p * wpp + k), v = pw[k];
				if (v != VAL(s - 1, idx)) {
					fail_async("writer %d, sweep %lu: page %ld word %ld holds "
						   "sweep %lu index %lu, expected sweep %lu index "
						   "%lu: a write was lost (migration round %lu; "
						   "kernel node of the page now %d)", w, s, p, k,
						   (unsigned long)SEQ(v), (unsigned long)IDX(v),
						   s - 1, (unsigned long)idx,
						   __atomic_load_n(&rounds, __ATOMIC_RELAXED),
						   ns_kernel_node((const void *)pw));
					return NULL;
				}
				pw[k] = VAL(s, idx);
			}
		}
		__atomic_store_n(&sweeps[w].v, s, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* In a fork child: A as inherited.  Returns 0, or 1 after saying why. */
static int child_check(void)
{
	char m[600];
	int n = 0;

	for (int w = 0; w < WRITERS && !n; w++) {
		uint64_t first = SEQ(A[w]);
		int dropped = 0;
		for (long p = 0; p < NPAGES && !n; p++)
			for (long k = w; k < wpp && !n; k += WRITERS) {
				uint64_t idx = (uint64_t)(p * wpp + k), v = A[idx], s = SEQ(v);
				if (IDX(v) != idx)
					n = snprintf(m, sizeof(m), "page %ld word %ld holds index %lu",
						     p, k, (unsigned long)IDX(v));
				else if (s == first - 1 && first > 0)
					dropped = 1;
				else if (s != first || dropped)
					n = snprintf(m, sizeof(m), "page %ld word %ld holds sweep %lu "
						     "in writer %d's sweep %lu", p, k,
						     (unsigned long)s, w, (unsigned long)first);
			}
		if (!n && first - dropped < lo_at_fork[w])
			n = snprintf(m, sizeof(m), "writer %d's words are at sweep %lu, it had "
				     "finished %lu before the fork", w,
				     (unsigned long)(first - dropped), lo_at_fork[w]);
	}
	if (!n)
		return 0;
	char line[400];
	int l = snprintf(line, sizeof(line), "fork child %d: %s\n", (int)getpid(), m);
	if (write(2, line, (size_t)l) < 0)
		return 1;
	return 1;
}

static void *forker(void *unused)
{
	const struct timespec gap = { 0, 30 * 1000 * 1000 };

	(void)unused;
	while (!__atomic_load_n(&stop_forks, __ATOMIC_ACQUIRE) && !is_failed()) {
		int st;
		for (int w = 0; w < WRITERS; w++)
			lo_at_fork[w] = done_sweeps(w);
		__atomic_store_n(&forking, 1, __ATOMIC_RELEASE);
		pid_t c = fork();
		if (c == 0)
			_exit(child_check());
		__atomic_store_n(&forking, 0, __ATOMIC_RELEASE);
		if (c < 0) {
			fail_async("fork: %s", strerror(errno));
			break;
		}
		if (waitpid(c, &st, 0) != c) {
			fail_async("waitpid: %s", strerror(errno));
			break;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fail_async("fork child %d (fork %lu): %s %d%s", (int)c, forks + 1,
				   WIFEXITED(st) ? "exit" : "signal",
				   WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
				   WIFEXITED(st) && WEXITSTATUS(st) == 86 ?
				   " (verify found the shadow wrong)" : "");
			break;
		}
		__atomic_add_fetch(&forks, 1, __ATOMIC_RELEASE);
		nanosleep(&gap, NULL);
	}
	return NULL;
}

/* Page j of a churn piece: its first, middle and last words. */
static void tag(char *page, unsigned long it, long j)
{
	uint64_t t = (uint64_t)it << 16 | (uint64_t)j;
	((uint64_t *)page)[0] = t;
	((uint64_t *)page)[wpp / 2] = ~t;
	((uint64_t *)page)[wpp - 1] = t ^ 0x5a5a5a5a;
}

/* Pages [from, to) of the piece, now at base, must hold their tags. */
static int tagged(const char *base, unsigned long it, long from, long to, const char *when)
{
	for (long j = from; j < to; j++) {
		const uint64_t *w = (const uint64_t *)(base + (j - from) * pg);
		uint64_t t = (uint64_t)it << 16 | (uint64_t)j;
		if (w[0] != t || w[wpp / 2] != ~t || w[wpp - 1] != (t ^ 0x5a5a5a5a)) {
			fail_async("churn cycle %lu, %s: page %ld (at %p) lost its content", it,
				   when, j, (const void *)(base + (j - from) * pg));
			return 0;
		}
	}
	return 1;
}

#define CHURN_CALL(c, what) do { \
	if ((c)) { \
		fail_async("churn cycle %lu: %s: %s", it, what, strerror(errno)); \
		return NULL; \
	} \
} while (0)

static void *churn(void *unused)
{
	(void)unused;
	for (unsigned long it = 1; !__atomic_load_n(&stop_churn, __ATOMIC_ACQUIRE) &&
				   !is_failed(); it++) {
		char *p = mmap(NULL, CHURN * pg, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHURN_CALL(p == MAP_FAILED, "mmap");
		for (long j = 0; j < CHURN; j++)
			tag(p + j * pg, it, j);
		/* Grow to 32 pages: the kernel may move it. */
		char *q = mremap(p, CHURN * pg, 2 * CHURN * pg, MREMAP_MAYMOVE);
		CHURN_CALL(q == MAP_FAILED, "mremap grow");
		if (!tagged(q, it, 0, CHURN, "after growing"))
			return NULL;
		for (long j = CHURN; j < 2 * CHURN; j++)
			tag(q + j * pg, it, j);
		/* A hole at pages 4..7. */
		CHURN_CALL(munmap(q + 4 * pg, 4 * pg), "munmap hole");
		/* Pages 8..15 moved onto a reservation elsewhere. */
		char *d = mmap(NULL, 8 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHURN_CALL(d == MAP_FAILED, "mmap reservation");
		char *r = mremap(q + 8 * pg, 8 * pg, 8 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, d);
		CHURN_CALL(r != d, "mremap fixed");
		/* Pages 16..31 shrunk to 16..23 in place. */
		char *t = mremap(q + 16 * pg, 16 * pg, 8 * pg, 0);
		CHURN_CALL(t != q + 16 * pg, "mremap shrink");
		if (!tagged(q, it, 0, 4, "head after the hole") ||
		    !tagged(r, it, 8, 16, "after the fixed move") ||
		    !tagged(t, it, 16, 24, "after shrinking"))
			return NULL;
		CHURN_CALL(munmap(q, 4 * pg), "munmap head");
		CHURN_CALL(munmap(r, 8 * pg), "munmap moved");
		CHURN_CALL(munmap(t, 8 * pg), "munmap tail");
		__atomic_add_fetch(&churns, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void *watchdog(void *arg)
{
	double limit = *(double *)arg;
	struct timespec s = { 1, 0 };
	char m[600];

	while (now() - t0 < limit)
		nanosleep(&s, NULL);
	int n = snprintf(m, sizeof(m), "FAIL: vm_migrate_fire: still running after %.0f s "
			 "(rounds %lu, forks %lu, churns %lu, sweeps %lu/%lu): something "
			 "hangs\n", limit, rounds, forks, churns, sweeps[0].v, sweeps[1].v);
	if (write(2, m, (size_t)n) < 0)
		_exit(1);
	/* Where each thread waits, for whoever reads the failure. */
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char path[300], buf[200] = "", sc[120] = "";
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/wchan", de->d_name);
		int fd = open(path, O_RDONLY);
		if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = 0;
		if (fd >= 0)
			close(fd);
		snprintf(path, sizeof(path), "/proc/self/task/%s/syscall", de->d_name);
		fd = open(path, O_RDONLY);
		ssize_t k = fd >= 0 ? read(fd, sc, sizeof(sc) - 1) : -1;
		sc[k > 0 ? k - 1 : 0] = 0;
		if (fd >= 0)
			close(fd);
		n = snprintf(m, sizeof(m), "  thread %s: wchan %s, syscall %s\n", de->d_name, buf, sc);
		if (write(2, m, (size_t)n) < 0)
			break;
	}
	_exit(1);
}

/* Every writer finishes at least n more sweeps (or the run fails). */
static void wait_sweeps(unsigned long n)
{
	unsigned long base[WRITERS];
	const struct timespec ms = { 0, 1000 * 1000 };

	for (int w = 0; w < WRITERS; w++)
		base[w] = done_sweeps(w);
	for (int w = 0; w < WRITERS; w++)
		while (done_sweeps(w) < base[w] + n && !is_failed())
			nanosleep(&ms, NULL);
}

/* numashadow_migrate_stats(), which must answer: the runtime is active
 * ("-ENOSYS means the runtime is not active in this process"), whatever
 * another thread is doing. */
static struct numashadow_migrate_stats stats(const char *when)
{
	struct numashadow_migrate_stats s;
	int r = api.migrate_stats(&s);

	if (r)
		t_fail("numashadow_migrate_stats() = %d (%s) %s, the forker %s inside fork() "
		       "(%lu forks done)", r, strerror(-r), when,
		       __atomic_load_n(&forking, __ATOMIC_ACQUIRE) ? "still" : "not",
		       __atomic_load_n(&forks, __ATOMIC_ACQUIRE));
	return s;
}

static void check_failed(void)
{
	if (is_failed())
		t_fail("%s", why);
}

int main(int argc, char **argv)
{
	double dur = argc > 1 ? atof(argv[1]) : 20, hard, last_note;
	pthread_t wt[WRITERS], ft, ct, dt;
	unsigned long tmoved = 0, tshared = 0, tbusy = 0, talready = 0;
	int target = 0;
	size_t len;

	ns_test_preload(argv);
	ns_api_need(&api);
	ns_migrate_need(&api);
	ns_need_nodes(1, "tests/vm/migrate_under_fire.sh");
	if (dur <= 0)
		t_fail("SECONDS must be positive, got '%s'", argv[1]);
	pg = ns_page();
	wpp = pg / (long)sizeof(uint64_t);
	len = (size_t)NPAGES * pg;
	t_assert((long)NPAGES * wpp < (1L << 24));

	A = (volatile uint64_t *)ns_map_guarded(NPAGES, PROT_READ | PROT_WRITE);
	t_assert(A != MAP_FAILED);
	ns_membind(0);
	for (long i = 0; i < NPAGES * wpp; i++)
		A[i] = VAL(0, i);
	ns_membind(-1);
	ns_expect_kernel(0, (const char *)A, NPAGES, 0, "after the first writes");

	t0 = now();
	hard = 3 * dur + 60;
	if (pthread_create(&dt, NULL, watchdog, &hard))
		t_fail("pthread_create: watchdog");
	for (int w = 0; w < WRITERS; w++)
		if (pthread_create(&wt[w], NULL, writer, (void *)(intptr_t)w))
			t_fail("pthread_create: writer %d", w);
	if (pthread_create(&ft, NULL, forker, NULL) || pthread_create(&ct, NULL, churn, NULL))
		t_fail("pthread_create: forker or churn");

	last_note = 0;
	for (;;) {
		double el = now() - t0;
		unsigned long f = __atomic_load_n(&forks, __ATOMIC_ACQUIRE);
		unsigned long c = __atomic_load_n(&churns, __ATOMIC_ACQUIRE);
		if (is_failed())
			break;
		if (el >= dur && rounds >= MIN_ROUNDS && f >= MIN_FORKS && c >= MIN_CHURNS)
			break;
		if (el >= 3 * dur) {
			fail_async("too slow to prove anything: after %.1f s, %lu migrations "
				   "(want %d), %lu forks (%d), %lu churn cycles (%d)", el, rounds,
				   MIN_ROUNDS, f, MIN_FORKS, c, MIN_CHURNS);
			break;
		}
		if (el - last_note >= 2) {
			fprintf(stderr, "t=%.1f s: %lu migrations (moved %lu, already %lu, shared "
				"%lu, busy %lu), %lu forks, %lu churn cycles, sweeps %lu/%lu\n",
				el, rounds, tmoved, talready, tshared, tbusy, f, c,
				done_sweeps(0), done_sweeps(1));
			last_note = el;
		}
		wait_sweeps(1);
		if (is_failed())
			break;
		target ^= 1;

		struct numashadow_migrate_stats a = stats("before a migration"), b;
		long r = api.migrate((void *)A, len, target, NUMASHADOW_MIGRATE_SYNC);
		int in_fork = __atomic_load_n(&forking, __ATOMIC_ACQUIRE);
		b = stats("after a migration");
		unsigned long moved = b.moved - a.moved, fail = ns_failed(&b) - ns_failed(&a);
		unsigned long acc = moved + (b.already - a.already) + fail;
		rounds++;
		if (r < 0) {
			fail_async("migration %lu to node %d: numashadow_migrate() = %ld (%s); "
				   "the forker %s inside fork()", rounds, target, r, strerror((int)-r),
				   in_fork ? "was" : "was not");
			break;
		}
		if (moved != (unsigned long)r || acc != NPAGES ||
		    b.failed_other != a.failed_other || b.failed_fault != a.failed_fault ||
		    b.failed_nomem != a.failed_nomem ||
		    b.failed_not_present != a.failed_not_present || b.calls != a.calls + 1) {
			fail_async("migration %lu to node %d: returned %ld; calls +%lu moved +%lu "
				   "already +%lu shared +%lu not_present +%lu nomem +%lu fault "
				   "+%lu busy +%lu other +%lu: expected moved = returned, every "
				   "one of %d pages counted once, no failure but shared or busy",
				   rounds, target, r, b.calls - a.calls, moved, b.already - a.already,
				   b.failed_shared - a.failed_shared,
				   b.failed_not_present - a.failed_not_present,
				   b.failed_nomem - a.failed_nomem, b.failed_fault - a.failed_fault,
				   b.failed_busy - a.failed_busy, b.failed_other - a.failed_other,
				   NPAGES);
			break;
		}
		tmoved += moved;
		talready += b.already - a.already;
		tshared += b.failed_shared - a.failed_shared;
		tbusy += b.failed_busy - a.failed_busy;
	}

	__atomic_store_n(&stop_forks, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&stop_churn, 1, __ATOMIC_RELEASE);
	pthread_join(ft, NULL);
	pthread_join(ct, NULL);
	if (is_failed()) {
		__atomic_store_n(&stop_writers, 1, __ATOMIC_RELEASE);
		for (int w = 0; w < WRITERS; w++)
			pthread_join(wt[w], NULL);
		check_failed();
	}
	fprintf(stderr, "storm over after %.1f s: %lu migrations (moved %lu, already %lu, "
		"shared %lu, busy %lu), %lu forks, %lu churn cycles, sweeps %lu/%lu\n",
		now() - t0, rounds, tmoved, talready, tshared, tbusy, forks, churns,
		done_sweeps(0), done_sweeps(1));
	if (tmoved < 2 * NPAGES)
		t_fail("only %lu pages moved in %lu migrations: not a migration under fire",
		       tmoved, rounds);

	/* No child is left; verify also releases the dead ones' records. */
	ns_verify_clean(&api, "after the storm, the writers still running");
	wait_sweeps(2);
	check_failed();
	target ^= 1;
	{
		struct numashadow_migrate_stats a = ns_migrate_stats(&api), b;
		long r = api.migrate((void *)A, len, target, NUMASHADOW_MIGRATE_SYNC);
		b = ns_migrate_stats(&api);
		fprintf(stderr, "last migration to node %d: returned %ld; moved %lu, already "
			"%lu, failed %lu (shared %lu, busy %lu)\n", target, r, b.moved - a.moved,
			b.already - a.already, ns_failed(&b) - ns_failed(&a),
			b.failed_shared - a.failed_shared, b.failed_busy - a.failed_busy);
		if (r < 0 || b.moved - a.moved != (unsigned long)r ||
		    b.moved - a.moved + b.already - a.already != NPAGES ||
		    ns_failed(&b) != ns_failed(&a))
			t_fail("last migration to node %d: returned %ld, moved %lu, already %lu, "
			       "failed %lu: expected every one of %d pages moved or already "
			       "there, none failed", target, r, b.moved - a.moved,
			       b.already - a.already, ns_failed(&b) - ns_failed(&a), NPAGES);
	}
	wait_sweeps(1);
	__atomic_store_n(&stop_writers, 1, __ATOMIC_RELEASE);
	for (int w = 0; w < WRITERS; w++)
		pthread_join(wt[w], NULL);
	check_failed();

	unsigned long lost = 0, first = 0;
	for (long i = 0; i < NPAGES * wpp; i++)
		if (A[i] != VAL(sweeps[i % WRITERS].v, i) && lost++ == 0)
			first = (unsigned long)i;
	if (lost)
		t_fail("%lu words lost their last write: word %lu holds sweep %lu index %lu, "
		       "its writer's last sweep was %lu", lost, first,
		       (unsigned long)SEQ(A[first]), (unsigned long)IDX(A[first]),
		       sweeps[first % WRITERS].v);
	ns_expect_on_node(&api, (const char *)A, NPAGES, target, "after the last migration");
	ns_verify_clean(&api, "at the end");
	printf("vm_migrate_fire: PASS (%.1f s: %lu migrations of %d pages, %lu pages moved, "
	       "%lu shared with a child, %lu busy; %lu forks; %lu churn cycles; sweeps "
	       "%lu/%lu; all on node %d)\n", now() - t0, rounds + 1, NPAGES,
	       tmoved, tshared, tbusy, forks, churns, sweeps[0].v, sweeps[1].v, target);
	return T_PASS;
}
