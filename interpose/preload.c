/* SPDX-License-Identifier: MIT */
/*
 * preload.c - the preload boundary: the exported symbols that stand in
 * for libc's, and the wrappers libc's own stubs jump to (redirect.c);
 * each translates -errno to errno and hands the call to the runtime.
 * Nothing here decides anything.
 *
 * Symbol interposition alone misses most of a program's address-space
 * changes (malloc, pthread_create and stdio call libc's stubs directly):
 * redirect.c makes those stubs jump here.  The exported symbols cover
 * callers that bind to us first; syscall() is wrapped for raw SYS_mmap &
 * co. and SYS_exit_group; _exit is redirected so that the process's end
 * waits for a hook under way; shmat and friends, which map through paths
 * we do not redirect, mark the shadow for reconciliation with
 * /proc/self/maps.  See docs/interposition.md.
 */
#include <dlfcn.h>
#include <sys/auxv.h>
#include <elf.h>
#include <link.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "interpose.h"
#include "runtime.h"
#include "sys.h"

#define EXPORT __attribute__((visibility("default")))

static pid_t (*real_fork)(void);
static void **curbrk;	/* glibc's __curbrk, which its brk stub keeps */

static inline bool failed(long r)
{
	return r < 0 && r > -4096;
}

static inline long ret_errno(long r)
{
	if (failed(r)) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

static inline void *mmap_as(void *a, size_t l, int p, int f, int fd, off_t o, bool own)
{
	long r = ns_mmap(a, l, p, f, fd, o, own);
	return failed(r) ? (errno = (int)-r, MAP_FAILED) : (void *)r;
}

/* libc's own mmap, redirected: malloc's, stdio's, pthread_create's. */
void *w_mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	return mmap_as(a, l, p, f, fd, o, false);
}

int w_munmap(void *a, size_t l)
{
	return (int)ret_errno(ns_munmap(a, l));
}

int w_mprotect(void *a, size_t l, int p)
{
	return (int)ret_errno(ns_mprotect(a, l, p));
}

int w_madvise(void *a, size_t l, int adv)
{
	return (int)ret_errno(ns_madvise(a, l, adv));
}

/* libc's mremap is variadic; the fifth argument arrives in %r8 either way. */
void *w_mremap(void *old, size_t ol, size_t nl, int f, void *na)
{
	long r = ns_mremap(old, ol, nl, f, (f & MREMAP_FIXED) ? na : NULL);
	return failed(r) ? (errno = (int)-r, MAP_FAILED) : (void *)r;
}

/* glibc's brk: the kernel returns the break it kept; record it where sbrk
 * looks for it. */
int w_brk(void *addr)
{
	long r = ns_brk(addr);

	if (curbrk)
		*curbrk = (void *)r;
	if ((uint64_t)r < (uint64_t)addr) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int w_execve(const char *p, char *const av[], char *const ev[])
{
	return (int)ret_errno(ns_execve(p, av, ev));
}

void w_exit(int status)
{
	ns_exit_group(status);
}

EXPORT void *mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	return mmap_as(a, l, p, f, fd, o, true);
}
EXPORT void *mmap64(void *a, size_t l, int p, int f, int fd, off_t o)
	__attribute__((alias("mmap")));
EXPORT int munmap(void *a, size_t l)
{
	return w_munmap(a, l);
}
EXPORT int mprotect(void *a, size_t l, int p)
{
	return w_mprotect(a, l, p);
}
EXPORT int madvise(void *a, size_t l, int adv)
{
	return w_madvise(a, l, adv);
}
EXPORT void *mremap(void *old, size_t ol, size_t nl, int f, ...)
{
	void *na = NULL;
	va_list ap;

	if (f & MREMAP_FIXED) {
		va_start(ap, f);
		na = va_arg(ap, void *);
		va_end(ap);
	}
	return w_mremap(old, ol, nl, f, na);
}
EXPORT int brk(void *addr)
{
	return w_brk(addr);
}

static pid_t raw_fork(void)
{
	return (pid_t)sys_fork();
}

/* Hot: beside ns_fork() (runtime/fork.c says why). */
EXPORT __attribute__((hot)) pid_t fork(void)
{
	if (!real_fork)
		real_fork = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
	pid_t r = ns_fork(real_fork ? real_fork : raw_fork);
	return r < 0 ? (errno = -r, -1) : r;
}

/* A new thread starts with its creator's memory policy, in the kernel;
 * the fault handler, which knows threads' policies only as they are set,
 * must learn it too (docs/placement.md, Precedence).  Only a creator with
 * a policy of its own costs anything beyond one get_mempolicy(). */
struct start {
	void *(*fn)(void *);
	void *arg;
};

static void *start_with_policy(void *p)
{
	struct start st = *(struct start *)p;

	free(p);
	ns_thread_policy_inherited();
	return st.fn(st.arg);
}

EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr,
			  void *(*fn)(void *), void *arg)
{
	static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	int mode = 0, r;
	unsigned long mask = 0;
	struct start *st;

	if (!real)
		real = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
				void *))dlsym(RTLD_NEXT, "pthread_create");
	if (!real)
		return EAGAIN;
	if (!ns_tracks_thread_policies() ||
	    sys_get_mempolicy(&mode, &mask, 64) != 0 || !mode ||
	    !(st = malloc(sizeof(*st))))
		return real(th, attr, fn, arg);
	*st = (struct start){ fn, arg };
	r = real(th, attr, start_with_policy, st);
	if (r)
		free(st);
	return r;
}

/* The soft RLIMIT_NOFILE, as the program is told it: where the runtime
 * had to keep its descriptors at the top of the program's range, the
 * limit ends below them (sys.c). */
#define NOFILE 7	/* RLIMIT_NOFILE; <sys/resource.h> would type these
			 * wrappers by an enum and its own structs */
struct k_rlimit {
	uint64_t cur, max;
};

EXPORT int prlimit(pid_t pid, int res, const void *new, void *old)
{
	struct k_rlimit *o = old;
	long r = sys_prlimit(pid, res, new, old);

	if (r == 0 && o && res == NOFILE && (pid == 0 || pid == (pid_t)sys_getpid()))
		o->cur = sys_nofile_seen(o->cur);
	return (int)ret_errno(r);
}
EXPORT int prlimit64(pid_t pid, int res, const void *new, void *old)
	__attribute__((alias("prlimit")));
EXPORT int getrlimit(int res, void *old)
{
	return prlimit(0, res, NULL, old);
}
EXPORT int getrlimit64(int res, void *old) __attribute__((alias("getrlimit")));
EXPORT int getdtablesize(void)
{
	struct k_rlimit r;

	return getrlimit(NOFILE, &r) < 0 ? 256 : (int)r.cur;
}
EXPORT long sysconf(int name)
{
	static long (*real)(int);

	if (name == _SC_OPEN_MAX)
		return getdtablesize();
	if (!real)
		real = (long (*)(int))dlsym(RTLD_NEXT, "sysconf");
	return real ? real(name) : (errno = EINVAL, -1);
}

/*
 * vfork is libc's own: its child shares our memory until it execs or
 * exits, so it needs no record and no shadow (an exec starts a new image,
 * and the runtime in it afresh), and its hooks pass to the kernel (enter()
 * tells a clone sharing our memory by its pid).  Copying the address space
 * instead, as a full fork does, costs the kernel's fork in every shell and
 * Python subprocess.  The child may not return from a frame the parent
 * still uses, so vfork is a jump with no frame of ours; until the
 * constructor has found libc's, it is a full fork, always a correct vfork.
 */
__attribute__((visibility("hidden"))) pid_t (*real_vfork)(void) = fork;
__asm__(".pushsection .text\n"
	".globl vfork\n"
	".type vfork, @function\n"
	"vfork:\n"
	"	jmp *real_vfork(%rip)\n"
	".size vfork, .-vfork\n"
	".popsection\n");

EXPORT long syscall(long n, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	switch (n) {
	case SYS_mmap:
		return ret_errno(ns_mmap((void *)a[0], (size_t)a[1], (int)a[2],
					 (int)a[3], (int)a[4], (off_t)a[5], true));
	case SYS_munmap:
		return ret_errno(ns_munmap((void *)a[0], (size_t)a[1]));
	case SYS_mprotect:
		return ret_errno(ns_mprotect((void *)a[0], (size_t)a[1], (int)a[2]));
	case SYS_madvise:
		return ret_errno(ns_madvise((void *)a[0], (size_t)a[1], (int)a[2]));
	case SYS_mremap:
		return ret_errno(ns_mremap((void *)a[0], (size_t)a[1], (size_t)a[2],
					   (int)a[3], (void *)a[4]));
	case SYS_brk:
		return ns_brk((void *)a[0]);	/* the raw call never fails */
	case SYS_fork:
		return ret_errno(ns_fork(raw_fork));
	case SYS_mbind:
		return ret_errno(ns_mbind((void *)a[0], (unsigned long)a[1], (int)a[2],
					  (const unsigned long *)a[3], (unsigned long)a[4],
					  (unsigned)a[5]));
	case SYS_set_mempolicy:
		return ret_errno(ns_set_mempolicy((int)a[0], (const unsigned long *)a[1],
						  (unsigned long)a[2]));
	case SYS_prlimit64:
		return prlimit((pid_t)a[0], (int)a[1], (const void *)a[2], (void *)a[3]);
	case SYS_getrlimit:
		return getrlimit((int)a[0], (void *)a[1]);
	case SYS_execve:
		return ret_errno(ns_execve((const char *)a[0], (char *const *)a[1],
					   (char *const *)a[2]));
	case SYS_exit_group:
		ns_exit_group((int)a[0]);
	case SYS_shmat:
	case SYS_shmdt:
	case SYS_pkey_mprotect:
	case SYS_remap_file_pages: {
		ns_escape(1);
		long r = sys_call6(n, a[0], a[1], a[2], a[3], a[4], a[5]);
		ns_escape(-1);
		return ret_errno(r);
	}
	default:
		return ret_errno(sys_call6(n, a[0], a[1], a[2], a[3], a[4], a[5]));
	}
}

/* Mappings made where we do not redirect: learned from /proc/self/maps.
 * (dlopen is not wrapped: it judges RUNPATH and $ORIGIN by its caller's
 * address.  ld.so's own mmap, munmap and mprotect are redirected instead,
 * and _dl_debug_state() announces the window in which it works.) */
#define ESCAPE(ret, name, params, args, fail)                              \
	EXPORT ret name params                                             \
	{                                                                  \
		static ret(*real) params;                                  \
		if (!real)                                                 \
			real = (ret(*) params)dlsym(RTLD_NEXT, #name);     \
		if (!real) {                                               \
			errno = ENOSYS;                                    \
			return fail;                                       \
		}                                                          \
		ns_escape(1);                                              \
		ret r = real args;                                         \
		ns_escape(-1);                                             \
		return r;                                                  \
	}

ESCAPE(void *, shmat, (int id, const void *a, int f), (id, a, f), (void *)-1)
ESCAPE(int, shmdt, (const void *a), (a), -1)
ESCAPE(int, pkey_mprotect, (void *a, size_t l, int p, int k), (a, l, p, k), -1)

__attribute__((constructor(101))) static void preload_init(void)
{
	real_fork = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
	void *v = dlsym(RTLD_NEXT, "vfork");
	if (v)
		real_vfork = (pid_t (*)(void))v;
	curbrk = (void **)dlsym(RTLD_NEXT, "__curbrk");
	if (ns_init(ns_redirect) == 0)
		pthread_atfork(NULL, NULL, ns_atfork_child);
}

__attribute__((destructor(101))) static void preload_fini(void)
{
	ns_exit();
}
