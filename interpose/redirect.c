/* SPDX-License-Identifier: MIT */
/*
 * redirect.c - libc's and ld.so's own syscall stubs made to jump to the
 * boundary's wrappers (preload.c), once, at start-up, before the
 * program's threads exist.
 *
 * glibc's malloc, pthread_create and stdio call their own mmap, munmap,
 * mprotect, madvise, mremap and brk directly, never through the exported
 * symbols.  Those functions are short syscall stubs (mremap a slightly
 * longer one), so each one's first 12 bytes become an absolute jump to
 * our wrapper, which performs the syscall itself; _exit (exit()'s end
 * too) and execve the same way.  ld.so's own mmap, munmap and mprotect,
 * which nothing exports, are found by their bytes; its _dl_debug_state()
 * tells us when it is at work.  See docs/interposition.md.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include "interpose.h"
#include "runtime.h"
#include "sys.h"

/* Writes a jump to dest at target, whose page is writable. */
static void patch(void *target, void *dest)
{
	unsigned char code[12] = { 0x48, 0xb8 };	/* movabs $dest, %rax */

	memcpy(code + 2, &dest, 8);
	code[10] = 0xff;				/* jmp *%rax */
	code[11] = 0xe0;
	memcpy(target, code, sizeof(code));
	__builtin___clear_cache((char *)target, (char *)target + sizeof(code));
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

enum { NSTUB = sizeof(ldso_stubs) / sizeof(*ldso_stubs) };

/* Looks for each of ldso_stubs in the code at [base, base + len): where
 * exactly one place matches, at[k] is it. */
static void ldso_scan(const unsigned char *base, size_t len, void *at[NSTUB])
{
	const unsigned char *hit[NSTUB] = { 0 };
	int hits[NSTUB] = { 0 };
	uint32_t head[NSTUB], hmask[NSTUB];

	for (size_t k = 0; k < NSTUB; k++) {
		__builtin_memcpy(&head[k], ldso_stubs[k].code, 4);
		__builtin_memcpy(&hmask[k], ldso_stubs[k].mask, 4);
	}
	/* One pass (functions start 16-byte aligned in this build), each
	 * stub's first four bytes as one word before the rest: every
	 * process pays this at start-up. */
	for (size_t off = (16 - (uintptr_t)base % 16) % 16;
	     off + sizeof(ldso_stubs[0].code) <= len; off += 16) {
		uint32_t w;
		__builtin_memcpy(&w, base + off, 4);
		for (size_t k = 0; k < NSTUB; k++) {
			if ((w ^ head[k]) & hmask[k])
				continue;
			size_t j = 4;
			for (; j < sizeof(ldso_stubs[k].code); j++)
				if ((base[off + j] ^ ldso_stubs[k].code[j]) & ldso_stubs[k].mask[j])
					break;
			if (j == sizeof(ldso_stubs[k].code)) {
				hit[k] = base + off;
				hits[k]++;
			}
		}
	}
	for (size_t k = 0; k < NSTUB; k++)
		if (hits[k] == 1)
			at[k] = (void *)hit[k];
}

static int redirect_ldso(void)
{
	void *anchor = dlsym(RTLD_DEFAULT, "_dl_debug_state");
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_BASE);
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
		ldso_scan(base, len, at);
		if ((uintptr_t)anchor >= (uintptr_t)base && (uintptr_t)anchor < (uintptr_t)base + len) {
			lo = (uintptr_t)base & ~4095UL;
			hi = ((uintptr_t)base + len + 4095) & ~4095UL;
		}
	}
	for (size_t k = 0; k < NSTUB; k++) {
		if (!at[k] || (uintptr_t)at[k] < lo || (uintptr_t)at[k] >= hi)
			return -ENOENT;
		to[k] = ldso_stubs[k].wrapper;
	}
	at[NSTUB] = anchor;
	to[NSTUB] = (void *)w_dl_debug_state;
	return patch_all(at, to, NSTUB + 1) == NSTUB + 1 ? 0 : -ENOENT;
}

/* Called by the runtime when it needs libc's own calls (ns_init()). */
void ns_redirect(void)
{
	redirect_libc();
	if (redirect_ldso() < 0) {
		static const char msg[] = "numashadow: cannot redirect ld.so's mmap/mprotect; "
			"libraries loaded by dlopen are found by reconciling with /proc/self/maps\n";
		sys_write(2, msg, sizeof(msg) - 1);
		ns_reconcile_always();
	}
}
