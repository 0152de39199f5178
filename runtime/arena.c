/* SPDX-License-Identifier: MIT */
/*
 * arena.c - the family arena: one memfd mapped MAP_SHARED before any fork,
 * holding typed pools of records, the hash tables, and the family lock.
 *
 * The memfd is sparse: only records ever used cost memory.  Its descriptor
 * is closed once mapped, so the program never sees an extra fd.
 *
 * The family lock is a futex word holding the owner's tid.  It is robust in
 * the way that matters here: a waiter that sleeps too long checks whether
 * the owner still exists, and takes the lock over from a dead one (the
 * shadow is then marked tainted, unless the owner died before it was let
 * in: it changed nothing).  A process that ends itself (exit_group,
 * execve) first closes the lock to its other threads, so the kernel's end
 * of them never finds one inside: only a kill leaves a dead holder.
 * Across fork, the parent keeps it while it copies the shadow for the
 * child; the child waits for it like anyone else.
 *
 * The lock tree - every lock of the runtime, outermost first.  A thread
 * holding a lock may take those below it on its branch, never one above
 * (each may also be taken alone).  Per process unless said; "spin": a
 * flag taken by exchange.
 *
 *   monitor start        uffd.c starting          spin + sched_yield
 *     libc's locks       ld.so's, malloc's: their mmaps enter our hooks
 *       engine lock      migrate.c eng.lock       futex
 *         family lock    arena.c ns_arena->lock   futex, family-wide, robust
 *           trace ranges trace.c tr_ranges.wlock  spin
 *           region table region.c mon.table_busy spin
 *           /proc files  sys.c self_files[].busy  spin
 *           descriptors  uffd.c opening           spin (fds_open(): the
 *                        monitor's two, opened at its first registration)
 *   leaves, held with no other lock of ours:
 *     timers             loop.c lp.timers_busy    spin
 *     trace objects      trace.c tr_objs.lock     futex
 *     trace consumer     trace.c tr.flushing      tried; trace_finish waits 1 s
 *     call-site cache    site.c site_cache_busy   tried, never waited for
 *
 * libc's locks: under the family lock, no dladdr(), dl_iterate_phdr(),
 *   backtrace() or malloc (call sites are unwound before it is taken); the
 *   one exception is fork: glibc's fork() takes malloc's locks with ours
 *   held, so the forking thread's kick makes other hooks give up waiting
 *   (ns_lock_unless), and the child, alone, starts its monitor under it.
 *   Open hole: the mmap hook's dladdr() runs under malloc's arena lock
 *   when malloc maps, while dlopen() mallocs under ld.so's lock.
 * starting: one uffd_start() at a time.  Its holder starts a thread:
 *   dlsym(), pthread_create() (which may allocate, and its mmaps enter
 *   the hooks), so never under the family lock - but in a fork child,
 *   alone, after uffd_after_fork() cleared it.  Nor from a signal
 *   handler (set_mempolicy() there could wait for itself).
 * engine lock: one migration per process; owns eng and the proc's mig
 *   counters.  Holds the family lock for collect and settle only; between
 *   them it write-protects the batch (holds), and releases the holds
 *   before it takes the family lock again, so a family-lock holder that
 *   writes a held page never waits for one that waits for it.  Never
 *   taken by the monitor or with the family lock held.  Open hole: a
 *   signal handler on the engine's own thread that writes a held page
 *   waits for itself.
 * family lock: every record of the arena.  Its holder may block in any
 *   syscall, fault on a registered range, or wait for the monitor to read
 *   an event: the monitor never takes it.  Not recursive: ns_in_runtime
 *   keeps a thread (and its signal handlers) from taking it twice.  Once
 *   a thread ending its process has closed it (ns_lock_close, lock held),
 *   the process's other threads - the program's and ours - that take it
 *   let it go at once and wait, holding nothing, for the end.
 * trace ranges: writers hold the family lock too (wlock is for a fork
 *   child's sake); the monitor reads by sequence count, 4 tries, no wait.
 * region table: reg[]/nreg, edited by hooks under the family lock, read by
 *   the monitor at every fault.  One edit or lookup; its holder never
 *   faults or waits - the monitor would spin while a fault waits for it.
 *   A signal handler interrupting an edit may fault, though: the
 *   monitor's lookup gives up after 10 ms and serves that page without a
 *   policy (region_find()).
 * /proc files: the kept stat and pagemap descriptors.  Pagemap callers
 *   hold the family lock; stat is read by any thread, the monitor and the
 *   loop too (ns_thread_alone).  Held for a check or a reopen.
 * timers: t[]: loop_timer() from program threads, run_timers() on the
 *   loop; an edit only, a timer's work runs after it.
 * trace objects: adders of tr_objs; taken in the mmap hook before the
 *   family lock and after dl_iterate_phdr() let go of ld.so's.
 * trace consumer: the loop, or the exiting thread; writes the trace file
 *   (may block on I/O), never under the family lock.
 * call-site cache: site_cache[]; a hit or a fill, else dladdr() uncached.
 *
 * In a fork child only the forking thread lives, so every per-process
 * lock another thread held stays held: child_reset() (runtime.c) clears
 * each - mig_after_fork, uffd_after_fork (starting, table_busy),
 * loop_after_fork, trace_after_fork (flushing, tr_objs, wlock),
 * sys_after_fork, and site_cache_busy itself.  The family lock is shared
 * memory: the parent's holder lets it go.
 *
 * Not locks, though shared: the monitor's rings (one producer, one
 * consumer), passed.c's slots and the monitor's tids[] (claimed by
 * compare-and-swap), the trace ring (head claimed by compare-and-swap).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <time.h>
#include "internal.h"
#include "sys.h"

#define ARENA_MAGIC 0x6e736861U	/* "nsha" */

struct ns_arena *ns_arena;
struct it_ops vma_mm_ops, vma_imap_ops, avc_ops;

/* Capacities: the arena is sparse, so only what is used costs memory;
 * a page descriptor's fields hold every index of these (model.h). */
static const struct { uint32_t size, cap; } pool_geom[NR_POOLS] = {
	[POOL_PROC] = { sizeof(struct ns_proc), NS_PROC_MAX },
	[POOL_OBJ] = { sizeof(struct ns_object), NS_OBJ_MAX },
	[POOL_VMA] = { sizeof(struct ns_vma), NS_VMA_MAX },
	[POOL_AVC] = { sizeof(struct ns_avc), 1 << 21 },
	[POOL_PAGE] = { sizeof(struct ns_page), NS_PAGE_MAX },
	[POOL_PTE] = { sizeof(struct ns_ptab), NS_PTE_MAX / NS_PTE_SLOTS },
	[POOL_SITE] = { sizeof(struct ns_site_rec), 1 << 14 },
};

/* Returns 0 or -errno; the arena is then ns_arena. */
int arena_create(void)
{
	uint64_t off = NS_PAGE_ALIGN(sizeof(struct ns_arena));
	uint64_t pte_hash = off;
	struct ns_pool pools[NR_POOLS];
	long fd, ret;
	void *p;

	off += NS_PAGE_ALIGN(NS_PTE_HASH * sizeof(uint32_t));
	uint64_t pc_hash = off;
	off += NS_PAGE_ALIGN(NS_PC_HASH * sizeof(uint32_t));
	for (int i = 0; i < NR_POOLS; i++) {
		pools[i] = (struct ns_pool){ .off = off,
					     .size = pool_geom[i].size,
					     .cap = pool_geom[i].cap,
					     .used = 1 };
		off += NS_PAGE_ALIGN((uint64_t)pools[i].cap * pools[i].size);
	}

	fd = sys_memfd_create("numashadow-arena", 1 /* MFD_CLOEXEC */);
	if (fd < 0)
		return fd;
	ret = sys_ftruncate(fd, off);
	if (ret < 0)
		goto out_close;
	p = (void *)sys_mmap(NULL, off, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_NORESERVE, fd, 0);
	if ((long)p < 0 && (long)p > -4096) {
		ret = (long)p;
		goto out_close;
	}
	ns_arena = p;
	ns_arena->magic = ARENA_MAGIC;
	ns_arena->version = 1;
	ns_arena->size = off;
	ns_arena->pte_hash_off = pte_hash;
	ns_arena->pc_hash_off = pc_hash;
	for (int i = 0; i < NR_POOLS; i++)
		ns_arena->pool[i] = pools[i];
	vma_mm_ops = (struct it_ops){ (char *)p + pools[POOL_VMA].off,
				      sizeof(struct ns_vma),
				      offsetof(struct ns_vma, mm) };
	vma_imap_ops = (struct it_ops){ (char *)p + pools[POOL_VMA].off,
					sizeof(struct ns_vma),
					offsetof(struct ns_vma, imap) };
	avc_ops = (struct it_ops){ (char *)p + pools[POOL_AVC].off,
				   sizeof(struct ns_avc),
				   offsetof(struct ns_avc, rb) };
	ret = 0;
out_close:
	sys_close(fd);
	return ret;
}

void arena_destroy(void)
{
	if (ns_arena)
		sys_munmap(ns_arena, ns_arena->size);
	ns_arena = NULL;
}

bool arena_contains(uint64_t addr)
{
	uint64_t a = (uint64_t)ns_arena;
	return ns_arena && addr >= a && addr < a + ns_arena->size;
}

/* Returns a zeroed record's index, or 0 when the pool is full. */
uint32_t pool_alloc(enum ns_pool_id id)
{
	struct ns_pool *pl = &ns_arena->pool[id];
	uint32_t i = pl->free;

	if (i) {
		pl->free = *(uint32_t *)pool_rec(id, i);
	} else {
		if (pl->used >= pl->cap)
			return 0;
		i = pl->used++;
	}
	pl->live++;
	__builtin_memset(pool_rec(id, i), 0, pl->size);
	return i;
}

void pool_free(enum ns_pool_id id, uint32_t idx)
{
	struct ns_pool *pl = &ns_arena->pool[id];

	__builtin_memset(pool_rec(id, idx), 0, pl->size);
	*(uint32_t *)pool_rec(id, idx) = pl->free;
	pl->free = idx;
	pl->live--;
}

/* Has the thread that holds the lock ended?  kill(tid, 0) still answers
 * for a zombie that has not been reaped, so look at its state too. */
static bool owner_dead(uint32_t tid)
{
	char path[40], state = 0;

	if (sys_kill((pid_t)tid, 0) == -ESRCH)
		return true;
	ns_fmt(path, sizeof(path), "/proc/%u/stat", tid);
	if (stat_field(path, 3, &state) < 0)
		return true;
	return state == 'Z' || state == 'X' || state == 'x';
}

/* tid of this thread, asked of the kernel once per thread: a gettid()
 * per lock was half of what a hook added to an mmap + munmap pair.  A fork
 * child forgets its parent's (ns_tid_forget(), from the atfork handler
 * every glibc fork runs); a child that shares our memory without glibc's
 * fork (vfork, posix_spawn, a raw fork) never takes the lock (enter()
 * compares getpid() first), so it never uses the copy. */
static __thread uint32_t tid_cache;

static inline uint32_t my_tid(void)
{
	if (!tid_cache)
		tid_cache = (uint32_t)sys_gettid();
	return tid_cache;
}

void ns_tid_forget(void)
{
	if (tid_cache)
		tid_cache = 0;	/* read first: a write copies the page */
}

/* The owner word is the holder's tid, with LOCK_UNTOUCHED set from the
 * compare-and-swap that takes the lock until the gate lets it in: a holder
 * that dies with the bit set changed nothing, and its takeover is clean. */
#define LOCK_UNTOUCHED (1U << 31)
#define LOCK_TID(o) ((o) & ~LOCK_UNTOUCHED)

/* The gate, per process: closed (ns_lock_close) by a thread ending the
 * process, so that the kernel's end of the others never finds one inside
 * the lock.  A fork child's copy names the parent's pid: open to it. */
static uint32_t gate_tid;	/* the closing thread, 0: open (futex word) */
static pid_t gate_pid;		/* its process */

static bool gate_shut(uint32_t me)
{
	uint32_t g = __atomic_load_n(&gate_tid, __ATOMIC_SEQ_CST);

	return g && g != me && gate_pid == (pid_t)sys_getpid();
}

/* The lock just taken, untouched: true, let in; or, when the gate is
 * shut, false with the lock let go again once the gate opens (a failed
 * execve) - usually never: the process ends while we wait here. */
static bool lock_let_in(uint32_t me)
{
	struct ns_lock *l = &ns_arena->lock;
	uint32_t g;

	if (!gate_shut(me)) {
		/* seq_cst: the mark is gone before any edit is seen */
		__atomic_store_n(&l->owner, me, __ATOMIC_SEQ_CST);
		return true;
	}
	ns_unlock();
	while ((g = __atomic_load_n(&gate_tid, __ATOMIC_SEQ_CST)) && gate_shut(me))
		sys_futex(&gate_tid, FUTEX_WAIT_PRIVATE, g, NULL);
	return false;
}

/* Takes the family lock unless *bail (when given) turns non-zero while we
 * wait - the holder is forking, and a thread blocked here may hold a lock
 * fork needs.  Returns true with the lock held, false without it.  A
 * waiter that times out checks whether the owner still lives: a thread
 * killed inside the runtime must not wedge the family. */
bool ns_lock_unless(const volatile int *bail)
{
	struct ns_lock *l = &ns_arena->lock;
	uint32_t me = my_tid(), cur;
	const struct timespec ts = { 0, 2 * 1000 * 1000 };

	for (int spins = 0;; spins++) {
		cur = 0;
		if (__atomic_compare_exchange_n(&l->owner, &cur, me | LOCK_UNTOUCHED, false,
						__ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			if (lock_let_in(me))
				return true;
			continue;
		}
		if (bail && *bail)
			return false;
		if (spins < 64) {
			__builtin_ia32_pause();
			continue;
		}
		__atomic_fetch_add(&l->waiters, 1, __ATOMIC_SEQ_CST);
		long r = sys_futex(&l->owner, FUTEX_WAIT, cur, &ts);
		__atomic_fetch_sub(&l->waiters, 1, __ATOMIC_SEQ_CST);
		if (r == -ETIMEDOUT &&
		    __atomic_load_n(&l->owner, __ATOMIC_RELAXED) == cur &&
		    owner_dead(LOCK_TID(cur)) &&
		    __atomic_compare_exchange_n(&l->owner, &cur, me | LOCK_UNTOUCHED, false,
						__ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			/* Once per family: a takeover after it was said
			 * does not make it news again. */
			uint32_t clean = 0;
			if (!(cur & LOCK_UNTOUCHED))
				__atomic_compare_exchange_n(&ns_arena->tainted, &clean, 1, false,
							    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
			if (lock_let_in(me))
				return true;
		}
	}
}

void ns_lock(void)
{
	ns_lock_unless(NULL);
}

/* Wakes every waiter, so ns_lock_unless() callers look at their flag. */
void ns_lock_kick(void)
{
	sys_futex(&ns_arena->lock.owner, FUTEX_WAKE, 0x7fffffff, NULL);
}

void ns_unlock(void)
{
	struct ns_lock *l = &ns_arena->lock;

	__atomic_store_n(&l->owner, 0, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&l->waiters, __ATOMIC_SEQ_CST))
		sys_futex(&l->owner, FUTEX_WAKE, 1, NULL);
}

/* Lock held, by a thread about to end its process (exit_group, execve):
 * the process's other threads are not let in from now on.  Its holder
 * before us has left; one that takes the lock after waits, untouched,
 * for the end. */
void ns_lock_close(void)
{
	gate_pid = (pid_t)sys_getpid();
	__atomic_store_n(&gate_tid, my_tid(), __ATOMIC_SEQ_CST);
}

/* The process goes on after all (execve failed): let them in again. */
void ns_lock_reopen(void)
{
	__atomic_store_n(&gate_tid, 0, __ATOMIC_SEQ_CST);
	sys_futex(&gate_tid, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL);
}

/* Also in the moment before it is let in (a signal handler asks). */
bool ns_lock_mine(void)
{
	return ns_arena &&
	       LOCK_TID(__atomic_load_n(&ns_arena->lock.owner, __ATOMIC_RELAXED)) == my_tid();
}

/* Lets go of the lock if this thread holds it (before exiting). */
void ns_unlock_if_mine(void)
{
	if (ns_lock_mine())
		ns_unlock();
}
