/* SPDX-License-Identifier: MIT */
/*
 * preload.c - the preload boundary: find libc's entry points, redirect
 * them, translate -errno to errno, and hand every call to the runtime.
 * Nothing here decides anything.
 *
 * Symbol interposition alone misses most of a program's address-space
 * changes: glibc's malloc, pthread_create and stdio call their own mmap,
 * munmap, mprotect, madvise, mremap and brk directly, never through the
 * exported symbols.  Those functions are short syscall stubs (mremap a
 * slightly longer one), so at start-up, before the program's threads exist,
 * each one's first 12 bytes become an absolute jump to our wrapper, which
 * performs the syscall itself.  The exported symbols cover callers that
 * bind to us first; syscall() is wrapped for raw SYS_mmap & co.; dlopen and
 * shmat, which map through paths we do not redirect, mark the shadow for
 * reconciliation with /proc/self/maps.  See docs/interposition.md.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
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

static void *w_mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	long r = ns_mmap(a, l, p, f, fd, o);
	return failed(r) ? (errno = (int)-r, MAP_FAILED) : (void *)r;
}

static int w_munmap(void *a, size_t l)
{
	return (int)ret_errno(ns_munmap(a, l));
}

static int w_mprotect(void *a, size_t l, int p)
{
	return (int)ret_errno(ns_mprotect(a, l, p));
}

static int w_madvise(void *a, size_t l, int adv)
{
	return (int)ret_errno(ns_madvise(a, l, adv));
}

/* libc's mremap is variadic; the fifth argument arrives in %r8 either way. */
static void *w_mremap(void *old, size_t ol, size_t nl, int f, void *na)
{
	long r = ns_mremap(old, ol, nl, f, (f & MREMAP_FIXED) ? na : NULL);
	return failed(r) ? (errno = (int)-r, MAP_FAILED) : (void *)r;
}

/* glibc's brk: the kernel returns the break it kept; record it where sbrk
 * looks for it. */
static int w_brk(void *addr)
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

static int w_execve(const char *p, char *const av[], char *const ev[])
{
	return (int)ret_errno(ns_execve(p, av, ev));
}

EXPORT void *mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	return w_mmap(a, l, p, f, fd, o);
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
	return (pid_t)sys_call(SYS_fork, 0, 0, 0, 0, 0, 0);
}

EXPORT pid_t fork(void)
{
	if (!real_fork)
		real_fork = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
	pid_t r = ns_fork(real_fork ? real_fork : raw_fork);
	return r < 0 ? (errno = -r, -1) : r;
}

/* vfork's child may not return from the function that called vfork; a
 * full fork has no such rule and is always a correct vfork. */
EXPORT pid_t vfork(void)
{
	return fork();
}

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
					 (int)a[3], (int)a[4], (off_t)a[5]));
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
	case SYS_set_mempolicy:
		return ret_errno(ns_set_mempolicy((int)a[0], (const unsigned long *)a[1],
						  (unsigned long)a[2]));
	case SYS_execve:
		return ret_errno(ns_execve((const char *)a[0], (char *const *)a[1],
					   (char *const *)a[2]));
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

/* Mappings made where we do not redirect: learned from /proc/self/maps. */
#define ESCAPE(ret, name, params, args)                                    \
	EXPORT ret name params                                             \
	{                                                                  \
		static ret(*real) params;                                  \
		if (!real)                                                 \
			real = (ret(*) params)dlsym(RTLD_NEXT, #name);     \
		if (!real) {                                               \
			errno = ENOSYS;                                    \
			return (ret)0;                                     \
		}                                                          \
		ns_escape(1);                                              \
		ret r = real args;                                         \
		ns_escape(-1);                                             \
		return r;                                                  \
	}

ESCAPE(void *, dlopen, (const char *f, int m), (f, m))
ESCAPE(void *, dlmopen, (Lmid_t l, const char *f, int m), (l, f, m))
ESCAPE(int, dlclose, (void *h), (h))
ESCAPE(void *, shmat, (int id, const void *a, int f), (id, a, f))
ESCAPE(int, shmdt, (const void *a), (a))
ESCAPE(int, pkey_mprotect, (void *a, size_t l, int p, int k), (a, l, p, k))

/* Makes libc's function at target jump to dest.  Returns 0 or -errno. */
static int redirect(void *target, void *dest)
{
	unsigned char code[12] = { 0x48, 0xb8 };	/* movabs $dest, %rax */
	uint64_t page = (uint64_t)target & ~4095ULL;
	size_t len = ((uint64_t)target + sizeof(code) - page + 4095) & ~4095ULL;
	long r;

	memcpy(code + 2, &dest, 8);
	code[10] = 0xff;				/* jmp *%rax */
	code[11] = 0xe0;
	r = sys_mprotect((void *)page, len, PROT_READ | PROT_WRITE | PROT_EXEC);
	if (r < 0)
		return (int)r;
	memcpy(target, code, sizeof(code));
	__builtin___clear_cache((char *)target, (char *)target + sizeof(code));
	return (int)sys_mprotect((void *)page, len, PROT_READ | PROT_EXEC);
}

static const struct {
	const char *name;	/* libc's exported name of the stub */
	void *wrapper;		/* where it now jumps */
} redirects[] = {
	{ "mmap", (void *)w_mmap },
	{ "munmap", (void *)w_munmap },
	{ "mprotect", (void *)w_mprotect },
	{ "madvise", (void *)w_madvise },
	{ "mremap", (void *)w_mremap },
	{ "brk", (void *)w_brk },
	{ "execve", (void *)w_execve },
};

static void redirect_libc(void)
{
	for (size_t i = 0; i < sizeof(redirects) / sizeof(*redirects); i++) {
		void *t = dlsym(RTLD_NEXT, redirects[i].name);
		Dl_info info;
		int r = -ENOENT;

		if (t && dladdr(t, &info) && info.dli_fname &&
		    strstr(info.dli_fname, "libc.so"))
			r = redirect(t, redirects[i].wrapper);
		if (r < 0) {
			char msg[160];
			int n = 0;
			const char *parts[] = { "numashadow: cannot redirect libc's ",
				redirects[i].name,
				"; libc-internal calls will be found by reconciling with /proc/self/maps\n" };
			for (int k = 0; k < 3; k++)
				for (const char *s = parts[k]; *s && n < 159; s++)
					msg[n++] = *s;
			sys_write(2, msg, (size_t)n);
			ns_reconcile_always();
			return;
		}
	}
}

__attribute__((constructor(101))) static void preload_init(void)
{
	real_fork = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
	curbrk = (void **)dlsym(RTLD_NEXT, "__curbrk");
	redirect_libc();
	if (ns_init() == 0)
		pthread_atfork(NULL, NULL, ns_atfork_child);
}

__attribute__((destructor(101))) static void preload_fini(void)
{
	ns_exit();
}
