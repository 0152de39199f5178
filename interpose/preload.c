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
 * performs the syscall itself.  _exit (exit()'s end too) is redirected
 * the same way, so that the process's end waits for a hook under way.
 * The exported symbols cover callers that bind to us first; syscall() is
 * wrapped for raw SYS_mmap & co. and SYS_exit_group; ld.so's
 * own stubs are redirected too and its _dl_debug_state() tells us when it
 * is at work; shmat and friends, which map through paths we do not
 * redirect, mark the shadow for reconciliation with /proc/self/maps.  See
 * docs/interposition.md.
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
static void *w_mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	return mmap_as(a, l, p, f, fd, o, false);
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

static void w_exit(int status)
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

EXPORT pid_t fork(void)
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

/* Makes libc's function at target jump to dest.  Returns 0 or -errno. */
/* Writes the jump to dest at target, whose page is writable; 0. */
static int patch(void *target, void *dest)
{
	unsigned char code[12] = { 0x48, 0xb8 };	/* movabs $dest, %rax */

	memcpy(code + 2, &dest, 8);
	code[10] = 0xff;				/* jmp *%rax */
	code[11] = 0xe0;
	memcpy(target, code, sizeof(code));
	__builtin___clear_cache((char *)target, (char *)target + sizeof(code));
	return 0;
}

/*
 * Writes at[i] a jump to to[i], for n stubs (at most 16).  A VMA with a
 * page written keeps an anon_vma, and every fork then copies the page
 * table of the whole VMA (the kernel's vma_needs_copy()): stubs close
 * together (within PATCH_SPAN) are opened as one range, first made a VMA
 * of its own (MADV_DONTDUMP, a flag its neighbours lack, keeps the kernel
 * from merging it back), where opening the whole text walked all its
 * PTEs twice and opening each page alone cost each its own split, three
 * calls and about 10 us (six pages in all; a range of 54 pages holds
 * libc's).  Every process that redirects pays this at start-up.  Returns
 * n, or the index of the first stub that could not be written.
 */
#define PATCH_SPAN (512UL << 10)
static size_t patch_all(void *const at[], void *const to[], size_t n)
{
	size_t ord[16], bad = n;

	if (n > 16)
		return 0;
	for (size_t i = 0; i < n; i++) {	/* by address */
		size_t k = i;
		for (; k > 0 && (uintptr_t)at[ord[k - 1]] > (uintptr_t)at[i]; k--)
			ord[k] = ord[k - 1];
		ord[k] = i;
	}
	for (size_t g = 0; g < n;) {
		uintptr_t p = (uintptr_t)at[ord[g]] & ~4095UL, e;
		size_t end = g + 1;
		while (end < n && (uintptr_t)at[ord[end]] - p < PATCH_SPAN)
			end++;
		e = ((uintptr_t)at[ord[end - 1]] + 12 + 4095) & ~4095UL;
		sys_madvise((void *)p, e - p, MADV_DONTDUMP);
		if (sys_mprotect((void *)p, e - p, PROT_READ | PROT_WRITE | PROT_EXEC) < 0) {
			for (size_t k = g; k < end; k++)
				bad = ord[k] < bad ? ord[k] : bad;
		} else {
			for (size_t k = g; k < end; k++)
				patch(at[ord[k]], to[ord[k]]);
			sys_mprotect((void *)p, e - p, PROT_READ | PROT_EXEC);
		}
		g = end;
	}
	return bad;
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
	{ "_exit", (void *)w_exit },	/* and _Exit, exit()'s end */
};

/* libc's code, as [lo, hi): each stub must lie there (one walk of the
 * loaded objects for the lot, not a dladdr() symbol search: start-up is
 * every process's). */
struct text {
	uintptr_t addr, lo, hi;
};

static int text_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct text *t = arg;

	(void)size;
	if (!info->dlpi_name || !strstr(info->dlpi_name, "libc.so"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
		    t->addr >= lo && t->addr < lo + ph->p_memsz) {
			t->lo = lo;
			t->hi = lo + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

static void redirect_libc(void)
{
	struct text libc = { (uintptr_t)dlsym(RTLD_NEXT, redirects[0].name), 0, 0 };

	if (libc.addr)
		dl_iterate_phdr(text_cb, &libc);
	enum { NRED = sizeof(redirects) / sizeof(*redirects) };
	void *at[NRED], *to[NRED];
	size_t n = 0, done;
	for (; n < NRED; n++) {
		at[n] = dlsym(RTLD_NEXT, redirects[n].name);
		to[n] = redirects[n].wrapper;
		if (!at[n] || (uintptr_t)at[n] < libc.lo || (uintptr_t)at[n] >= libc.hi)
			break;	/* not libc's: none from here on */
	}
	done = patch_all(at, to, n);
	if (done < NRED) {
		char msg[160];
		int len = 0;
		const char *parts[] = { "numashadow: cannot redirect libc's ",
			redirects[done].name,
			"; libc-internal calls will be found by reconciling with /proc/self/maps\n" };
		for (int k = 0; k < 3; k++)
			for (const char *c = parts[k]; *c && len < 159; c++)
				msg[len++] = *c;
		sys_write(2, msg, (size_t)len);
		ns_reconcile_always();
	}
}

/*
 * ld.so maps, unmaps and protects libraries for dlopen with its own copies
 * of the mmap, munmap and mprotect stubs, which nothing exports.  They have the same shape
 * as libc's; find each by its bytes in ld.so's text (exactly one match, at
 * a function's alignment, or we leave it) and redirect it like libc's.
 */
static const struct {
	const char *name;
	unsigned char code[19];	/* bytes to match */
	unsigned char mask[19];	/* 0xff: must match, 0: any */
	void *wrapper;
} ldso_stubs[] = {
	{ "mmap", { 0x41, 0x89, 0xca, 0x41, 0xf7, 0xc1, 0xff, 0x0f, 0x00, 0x00,
		    0x75, 0x00, 0xb8, 0x09, 0x00, 0x00, 0x00, 0x0f, 0x05 },
	  { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, (void *)w_mmap },
	{ "munmap", { 0xb8, 0x0b, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x48, 0x3d, 0x01,
		      0xf0, 0xff, 0xff, 0x73, 0x01, 0xc3 },
	  { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, (void *)w_munmap },
	{ "mprotect", { 0xb8, 0x0a, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x48, 0x3d, 0x01,
			0xf0, 0xff, 0xff, 0x73, 0x01, 0xc3 },
	  { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, (void *)w_mprotect },
};

/* ld.so calls _dl_debug_state() when it starts changing the list of
 * loaded objects (r_state RT_ADD or RT_DELETE) and when it is done
 * (RT_CONSISTENT) - the debuggers' rendezvous.  In between, its inlined
 * munmaps happen: the runtime reconciles instead of judging. */
static struct r_debug *rdebug;

static void w_dl_debug_state(void)
{
	if (rdebug)
		ns_escape(rdebug->r_state == RT_CONSISTENT ? -1 : 1);
}

/* Is fn _dl_debug_state's "ret" and the padding to the next function:
 * room for our jump? */
static bool debug_state_shaped(const void *fn)
{
	static const unsigned char shape[16] = { 0xc3, 0x66, 0x66, 0x2e, 0x0f, 0x1f,
		0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x40, 0x00 };

	return fn && !memcmp(fn, shape, sizeof(shape));
}

static int redirect_ldso(void)
{
	void *anchor = dlsym(RTLD_DEFAULT, "_dl_debug_state");
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_BASE);
	enum { NSTUB = sizeof(ldso_stubs) / sizeof(*ldso_stubs) };
	void *at[NSTUB + 1] = { 0 }, *to[NSTUB + 1];
	uintptr_t lo = 0, hi = 0;
	Dl_info info;

	rdebug = dlsym(RTLD_DEFAULT, "_r_debug");
	if (!anchor || !rdebug || !debug_state_shaped(anchor))
		return -ENOENT;
	if (!eh) {	/* ld.so run as the program: find it the long way */
		if (!dladdr(anchor, &info) || !info.dli_fbase)
			return -ENOENT;
		eh = info.dli_fbase;
	}
	const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)eh + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X))
			continue;
		const unsigned char *base = (const unsigned char *)eh + ph[i].p_vaddr;
		size_t len = ph[i].p_memsz;
		const unsigned char *hit[NSTUB] = { 0 };
		int hits[NSTUB] = { 0 };
		uint32_t head[NSTUB], hmask[NSTUB];
		for (size_t k = 0; k < NSTUB; k++) {
			__builtin_memcpy(&head[k], ldso_stubs[k].code, 4);
			__builtin_memcpy(&hmask[k], ldso_stubs[k].mask, 4);
		}
		/* One pass (functions start 16-byte aligned in this build),
		 * each stub's first four bytes as one word before the rest:
		 * every process pays this at start-up. */
		for (size_t off = (16 - (uintptr_t)base % 16) % 16;
		     off + sizeof(ldso_stubs[0].code) <= len; off += 16) {
			uint32_t w;
			__builtin_memcpy(&w, base + off, 4);
			for (size_t k = 0; k < NSTUB; k++) {
				if ((w ^ head[k]) & hmask[k])
					continue;
				size_t j = 4;
				for (; j < sizeof(ldso_stubs[k].code); j++)
					if ((base[off + j] ^ ldso_stubs[k].code[j]) &
					    ldso_stubs[k].mask[j])
						break;
				if (j == sizeof(ldso_stubs[k].code)) {
					hit[k] = base + off;
					hits[k]++;
				}
			}
		}
		for (size_t k = 0; k < NSTUB; k++)
			if (hits[k] == 1) {
				at[k] = (void *)hit[k];
				to[k] = ldso_stubs[k].wrapper;
			}
		if ((uintptr_t)anchor >= (uintptr_t)base && (uintptr_t)anchor < (uintptr_t)base + len) {
			lo = (uintptr_t)base & ~4095UL;
			hi = ((uintptr_t)base + len + 4095) & ~4095UL;
		}
	}
	for (size_t k = 0; k < NSTUB; k++)
		if (!at[k] || (uintptr_t)at[k] < lo || (uintptr_t)at[k] >= hi)
			return -ENOENT;
	at[NSTUB] = anchor;
	to[NSTUB] = (void *)w_dl_debug_state;
	return patch_all(at, to, NSTUB + 1) == NSTUB + 1 ? 0 : -ENOENT;
}

/* Called by the runtime when it needs libc's own calls (ns_init()). */
static void redirect(void)
{
	redirect_libc();
	if (redirect_ldso() < 0) {
		static const char msg[] = "numashadow: cannot redirect ld.so's mmap/mprotect; "
			"libraries loaded by dlopen are found by reconciling with /proc/self/maps\n";
		sys_write(2, msg, sizeof(msg) - 1);
		ns_reconcile_always();
	}
}

__attribute__((constructor(101))) static void preload_init(void)
{
	real_fork = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
	void *v = dlsym(RTLD_NEXT, "vfork");
	if (v)
		real_vfork = (pid_t (*)(void))v;
	curbrk = (void **)dlsym(RTLD_NEXT, "__curbrk");
	if (ns_init(redirect) == 0)
		pthread_atfork(NULL, NULL, ns_atfork_child);
}

__attribute__((destructor(101))) static void preload_fini(void)
{
	ns_exit();
}
