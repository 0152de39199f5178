/* SPDX-License-Identifier: MIT */
/*
 * thread.c - the runtime's own threads: started on stacks of their own,
 * kept out of glibc's count of live threads, counted apart from the
 * program's, and dropped in a fork child.
 *
 * Locking: none of its own; ns_rt.threads is atomic, and the stack table
 * changes only in the thread starting one (the program's, under no lock of
 * ours, one at a time: services start once) or in a fork child before it
 * has threads.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include "internal.h"
#include "sys.h"

/* Our threads run on stacks of our own, known as the runtime's memory, so
 * that no write protection (next-touch, sampling, a hold) ever lands on
 * one: the monitor faulting on its own stack would wait for itself, and
 * every thread waiting on the monitor with it.  A VMA rebuilt from
 * /proc/self/maps cannot say it is a thread stack. */
#define STACK_SIZE (2UL << 20)
static struct {
	uint64_t start, end;	/* end 0: a free slot */
	uint32_t busy;		/* a thread of this process runs on it; 0:
				 * a fork child's copy of its parent's, kept
				 * mapped for the next thread to reuse */
} stacks[4];

/*
 * The runtime's threads are guests: glibc ends the process with exit(0)
 * when its count of live threads drops to zero, and a thread of ours must
 * not keep that count up, or a program whose last thread calls
 * pthread_exit would never end.  So each of ours is taken out of glibc's
 * count (__nptl_nthreads, GLIBC_PRIVATE) once created and put back just
 * before glibc's own thread exit takes it out again.  A program whose
 * threads all end by the raw exit syscall bypasses glibc altogether: our
 * threads see it (ns_thread_alone, about once a second while idle) and end
 * the process with the status its last program thread gave.
 */
static unsigned *nptl_nthreads;		/* glibc's count, when found */

static void *thread_trampoline(void *fn)
{
	void *r = ((void *(*)(void *))fn)(NULL);

	__atomic_sub_fetch(&ns_rt.threads, 1, __ATOMIC_RELAXED);
	if (nptl_nthreads)
		__atomic_add_fetch(nptl_nthreads, 1, __ATOMIC_SEQ_CST);
	return r;
}

/*
 * The shadow learns a new stack [s, e) (a guard page each side of st's
 * STACK_SIZE) at once, where nothing else can be in it: we hold the
 * family lock (a fork child), or no other thread exists that could (a new
 * image).  Elsewhere the next reconcile reads it from the maps - a whole
 * read of /proc/self/maps in every process under a policy.  False then.
 */
static bool shadow_stack(uint64_t s, uint64_t e, uint64_t st)
{
	bool mine = ns_lock_mine(), ok;

	if (!ns_rt.ready || ns_rt.dormant || ns_rt.disabled || !ns_rt.self)
		return false;
	if (!mine && (__atomic_load_n(&ns_rt.threads, __ATOMIC_RELAXED) || !nptl_nthreads ||
		      __atomic_load_n(nptl_nthreads, __ATOMIC_SEQ_CST) != 1))
		return false;
	if (!mine)
		ns_lock();
	ok = vma_map(ns_rt.self, s, e, PROT_NONE, NS_VMA_STACK, 0, s >> NS_PAGE_SHIFT) == 0 &&
	     vma_protect(ns_rt.self, st, st + STACK_SIZE, PROT_READ | PROT_WRITE) == 0;
	if (!mine)
		ns_unlock();
	return ok;
}

/* A stack for a new thread of ours: a free one already mapped (a fork
 * child keeps its parent's), else a new one.  Its slot, or -errno. */
static int stack_get(void)
{
	int slot = 0;
	long st;

	while (slot < 4 && stacks[slot].end && stacks[slot].busy)
		slot++;
	if (slot < 4 && stacks[slot].end)
		return slot;
	while (slot < 4 && stacks[slot].end)
		slot++;
	/* A guard page each side: the kernel would merge a bare stack with
	 * the program's anonymous neighbours into one VMA, which would then
	 * count as the runtime's own memory whole. */
	st = slot < 4 ? sys_mmap(NULL, STACK_SIZE + 2 * NS_PAGE_SIZE, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0) : -ENOSPC;
	if (st < 0 && st > -4096)
		return (int)st;
	st += NS_PAGE_SIZE;
	if (sys_mprotect((void *)st, STACK_SIZE, PROT_READ | PROT_WRITE) < 0) {
		sys_munmap((void *)(st - NS_PAGE_SIZE), STACK_SIZE + 2 * NS_PAGE_SIZE);
		return -ENOMEM;
	}
	ns_fork_resets_mark(NS_FR_STACKS);
	stacks[slot].start = (uint64_t)st;
	stacks[slot].end = (uint64_t)st + STACK_SIZE;
	ns_own_add(stacks[slot].start, stacks[slot].end);
	if (!shadow_stack((uint64_t)st - NS_PAGE_SIZE,
			  (uint64_t)st + STACK_SIZE + NS_PAGE_SIZE, (uint64_t)st))
		ns_mark_dirty_async();	/* the shadow learns it from the maps */
	return slot;
}

/* Starts one of the runtime's own threads, detached and counted (so the
 * engine knows how many threads are the program's).  Returns 0 or -errno. */
int ns_thread_start(void *(*fn)(void *))
{
	/* libc's own: the exported pthread_create (interpose/) would wrap
	 * our thread to learn a policy it does not need, and its wrapper
	 * allocates in the new thread - an arena mapped, placed and then
	 * touched by the monitor before it serves anything. */
	static int (*create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	pthread_t th;
	pthread_attr_t at;
	int r;

	if (!create) {
		nptl_nthreads = dlvsym(RTLD_DEFAULT, "__nptl_nthreads", "GLIBC_PRIVATE");
		create = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
				  void *))dlsym(RTLD_NEXT, "pthread_create");
		if (!create)
			return -ENOSYS;
	}
	sys_self_keep();	/* from now on our threads read /proc too */
	/* ... through descriptors opened here, not on those threads while
	 * the program runs (uffd_start_open() says why). */
	bool kept;
	sys_self_fd(SYS_SELF_STAT, &kept);
	sys_self_fd(SYS_SELF_PAGEMAP, &kept);
	sys_fd_room();		/* their descriptors are opened later */
	int slot = stack_get();
	if (slot < 0)
		return slot;
	long st = (long)stacks[slot].start;
	stacks[slot].busy = 1;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstack(&at, (void *)st, STACK_SIZE);
	/* Every signal blocked from the thread's first instruction, not its
	 * creator's mask: a program's handler run there - a timer's, before
	 * the thread blocked them itself - touched memory the monitor places
	 * and waited for the monitor, itself (signal_in_hook, 1 run in 6 on
	 * a loaded host). */
	sigset_t all;
	sigfillset(&all);
	pthread_attr_setsigmask_np(&at, &all);
	r = create(&th, &at, thread_trampoline, (void *)fn);
	pthread_attr_destroy(&at);
	if (r) {
		stacks[slot].busy = 0;	/* mapped still, for the next try */
		return -r;
	}
	/* Counted once it runs, never before: a count ahead of the threads
	 * would make another of ours think the program's are gone. */
	__atomic_add_fetch(&ns_rt.threads, 1, __ATOMIC_RELAXED);
	if (nptl_nthreads)
		__atomic_sub_fetch(nptl_nthreads, 1, __ATOMIC_SEQ_CST);
	return -r;
}

/* Called by an idle thread of ours now and then: when no program thread
 * is left (all ended by the raw exit syscall), it ends the calling thread
 * the same way and does not return. */
void ns_thread_alone(void)
{
	static uint64_t last;
	uint64_t now = sys_now_ns();

	if (now - __atomic_load_n(&last, __ATOMIC_RELAXED) < 500 * 1000 * 1000ULL)
		return;
	__atomic_store_n(&last, now, __ATOMIC_RELAXED);
	char state = 0;
	int64_t n = stat_field("/proc/self/stat", 20, &state);

	if (n <= 0)
		return;		/* cannot tell */
	/* A leader that ended first stays counted, a zombie, until the
	 * whole group has. */
	n -= __atomic_load_n(&ns_rt.threads, __ATOMIC_RELAXED) + (state == 'Z');
	if (n <= 0) {
		/* The kernel reports the status of the group's last thread,
		 * which would have been the program's: for a leader that
		 * ended, its exit code (stat field 52).  Given to the whole
		 * group at once: our other threads go with it. */
		int64_t code = state == 'Z' ? stat_field("/proc/self/stat", 52, NULL) : 0;
		sys_exit_group(code > 0 ? (int)((code >> 8) & 0xff) : 0);
	}
}

/* How many of this process's threads are the program's own. */
int ns_program_threads(void)
{
	int64_t threads = stat_field("/proc/self/stat", 20, NULL);

	if (threads < 0)
		return -1;
	return (int)(threads - __atomic_load_n(&ns_rt.threads, __ATOMIC_RELAXED));
}

/* In a fork child, the family lock held: none of the parent's threads
 * came along.  Counts ours afresh (a count kept from the parent made
 * ns_thread_alone end the child).  Their stacks stay mapped, in the shadow
 * too, for the child's own threads to reuse: unmapping them cost every
 * fork child a munmap and an edit of its shadow (6% of a fork loop under
 * a policy), and marking the child dirty instead made every traced fork
 * reconcile and learn its pages again. */
void ns_threads_after_fork(void)
{
	ns_rt.threads = 0;
	if (!(ns_fork_resets & NS_FR_STACKS))
		return;
	for (int i = 0; i < 4; i++)
		if (stacks[i].busy)
			stacks[i].busy = 0;
}
