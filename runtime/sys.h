/* SPDX-License-Identifier: MIT */
/*
 * sys.h - the runtime's only door to the kernel.
 *
 * Every call is a raw syscall returning >= 0 or -errno.  Nothing here reads
 * or writes errno, allocates, or goes through libc's wrappers (but the
 * clock, sys_clock_ns(), which is the vDSO's): the runtime runs inside
 * libc's own mm entry points (which it redirects to itself), in signal
 * handlers and in the child of a multi-threaded fork.
 */
#ifndef NS_SYS_H
#define NS_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>

static inline long sys_call6(long n, long a, long b, long c, long d, long e,
			     long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define sys_call(n, a, b, c, d, e, f) \
	sys_call6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), \
		  (long)(f))

/* NS_SYSCALL(name, (params), nr, a, b, c, d, e, f) defines
 * sys_name(params): syscall nr with those six arguments (0 where unused),
 * as the kernel's SYSCALL_DEFINEn names its calls. */
#define NS_SYSCALL(name, params, ...) \
	static inline long sys_##name params { return sys_call(__VA_ARGS__); }

NS_SYSCALL(mmap, (void *a, size_t l, int p, int f, int fd, off_t o), SYS_mmap, a, l, p, f, fd, o)
NS_SYSCALL(munmap, (void *a, size_t l), SYS_munmap, a, l, 0, 0, 0, 0)
NS_SYSCALL(mprotect, (void *a, size_t l, int p), SYS_mprotect, a, l, p, 0, 0, 0)
NS_SYSCALL(mremap, (void *a, size_t ol, size_t nl, int f, void *na),
	   SYS_mremap, a, ol, nl, f, na, 0)
NS_SYSCALL(madvise, (void *a, size_t l, int adv), SYS_madvise, a, l, adv, 0, 0, 0)
NS_SYSCALL(brk, (void *a), SYS_brk, a, 0, 0, 0, 0, 0)
NS_SYSCALL(open, (const char *p, int fl), SYS_openat, -100 /* AT_FDCWD */, p, fl, 0, 0, 0)
NS_SYSCALL(read, (int fd, void *b, size_t n), SYS_read, fd, b, n, 0, 0, 0)
NS_SYSCALL(pread, (int fd, void *b, size_t n, off_t o), SYS_pread64, fd, b, n, o, 0, 0)
NS_SYSCALL(write, (int fd, const void *b, size_t n), SYS_write, fd, b, n, 0, 0, 0)
NS_SYSCALL(close, (int fd), SYS_close, fd, 0, 0, 0, 0, 0)
NS_SYSCALL(getpid, (void), SYS_getpid, 0, 0, 0, 0, 0, 0)
NS_SYSCALL(getppid, (void), SYS_getppid, 0, 0, 0, 0, 0, 0)
NS_SYSCALL(gettid, (void), SYS_gettid, 0, 0, 0, 0, 0, 0)
NS_SYSCALL(kill, (pid_t pid, int sig), SYS_kill, pid, sig, 0, 0, 0, 0)
NS_SYSCALL(futex, (void *uaddr, int op, uint32_t val, const void *ts),
	   SYS_futex, uaddr, op, val, ts, 0, 0)
NS_SYSCALL(memfd_create, (const char *name, unsigned fl), SYS_memfd_create, name, fl, 0, 0, 0, 0)
NS_SYSCALL(ftruncate, (int fd, off_t len), SYS_ftruncate, fd, len, 0, 0, 0, 0)
NS_SYSCALL(fstat, (int fd, void *st), SYS_fstat, fd, st, 0, 0, 0, 0)
NS_SYSCALL(access, (const char *p, int mode), SYS_faccessat, -100, p, mode, 0, 0, 0)
NS_SYSCALL(execve, (const char *p, char *const av[], char *const ev[]),
	   SYS_execve, p, av, ev, 0, 0, 0)
NS_SYSCALL(exit_group, (int status), SYS_exit_group, status, 0, 0, 0, 0, 0)
NS_SYSCALL(ioctl, (long fd, unsigned long req, const void *arg), SYS_ioctl, fd, req, arg, 0, 0, 0)
NS_SYSCALL(mbind, (uint64_t start, uint64_t len, int mode, const void *mask,
	   unsigned long maxnode, unsigned flags),
	   SYS_mbind, start, len, mode, mask, maxnode, flags)
NS_SYSCALL(set_mempolicy, (int mode, const void *mask, unsigned long maxnode),
	   SYS_set_mempolicy, mode, mask, maxnode, 0, 0, 0)
NS_SYSCALL(get_mempolicy, (int *mode, void *mask, unsigned long maxnode),
	   SYS_get_mempolicy, mode, mask, maxnode, 0, 0, 0)
/* The VMA policy at addr (MPOL_F_ADDR). */
NS_SYSCALL(get_mempolicy_at, (int *mode, void *mask, unsigned long maxnode, uint64_t addr),
	   SYS_get_mempolicy, mode, mask, maxnode, addr, 2, 0)
/* Files by path, from the working directory (AT_FDCWD). */
NS_SYSCALL(open_mode, (const char *p, int fl, unsigned mode), SYS_openat, -100, p, fl, mode, 0, 0)
NS_SYSCALL(unlink, (const char *p), SYS_unlinkat, -100, p, 0, 0, 0, 0)
NS_SYSCALL(mkdir, (const char *p, unsigned mode), SYS_mkdirat, -100, p, mode, 0, 0, 0)
NS_SYSCALL(chmod, (const char *p, unsigned mode), SYS_fchmodat, -100, p, mode, 0, 0, 0)
/* The path itself, a symlink not followed (AT_SYMLINK_NOFOLLOW). */
NS_SYSCALL(lstat, (const char *p, void *st), SYS_newfstatat, -100, p, st, 0x100, 0, 0)
NS_SYSCALL(readlink, (const char *p, char *b, size_t n), SYS_readlinkat, -100, p, b, n, 0, 0)
NS_SYSCALL(fcntl, (int fd, int cmd, long arg), SYS_fcntl, fd, cmd, arg, 0, 0, 0)
NS_SYSCALL(dup3, (int fd, int to, int fl), SYS_dup3, fd, to, fl, 0, 0, 0)
NS_SYSCALL(poll, (void *pfds, unsigned n, int ms), SYS_poll, pfds, n, ms, 0, 0, 0)
NS_SYSCALL(nanosleep, (const void *ts), SYS_nanosleep, ts, 0, 0, 0, 0, 0)
NS_SYSCALL(prlimit, (pid_t pid, int res, const void *new, void *old),
	   SYS_prlimit64, pid, res, new, old, 0, 0)
/* Sockets: the control socket's. */
NS_SYSCALL(socket, (int dom, int type, int proto), SYS_socket, dom, type, proto, 0, 0, 0)
NS_SYSCALL(bind, (int fd, const void *sa, unsigned len), SYS_bind, fd, sa, len, 0, 0, 0)
NS_SYSCALL(listen, (int fd, int backlog), SYS_listen, fd, backlog, 0, 0, 0, 0)
NS_SYSCALL(accept4, (int fd, int fl), SYS_accept4, fd, 0, 0, fl, 0, 0)
NS_SYSCALL(shutdown, (int fd, int how), SYS_shutdown, fd, how, 0, 0, 0, 0)
NS_SYSCALL(getsockopt, (int fd, int lvl, int name, void *v, void *len),
	   SYS_getsockopt, fd, lvl, name, v, len, 0)
NS_SYSCALL(send, (int fd, const void *b, size_t n, int fl), SYS_sendto, fd, b, n, fl, 0, 0)
NS_SYSCALL(recv, (int fd, void *b, size_t n, int fl), SYS_recvfrom, fd, b, n, fl, 0, 0)
/* Threads and the process. */
NS_SYSCALL(tgkill, (pid_t pid, pid_t tid, int sig), SYS_tgkill, pid, tid, sig, 0, 0, 0)
NS_SYSCALL(sched_getaffinity, (pid_t tid, size_t n, void *mask),
	   SYS_sched_getaffinity, tid, n, mask, 0, 0, 0)
NS_SYSCALL(capget, (void *hdr, void *data), SYS_capget, hdr, data, 0, 0, 0, 0)
NS_SYSCALL(userfaultfd, (int fl), SYS_userfaultfd, fl, 0, 0, 0, 0, 0)
NS_SYSCALL(fork, (void), SYS_fork, 0, 0, 0, 0, 0, 0)
NS_SYSCALL(sched_yield, (void), SYS_sched_yield, 0, 0, 0, 0, 0, 0)
NS_SYSCALL(eventfd, (unsigned initval, int flags), SYS_eventfd2, initval, flags, 0, 0, 0, 0)
NS_SYSCALL(geteuid, (void), SYS_geteuid, 0, 0, 0, 0, 0, 0)
NS_SYSCALL(move_pages, (pid_t pid, unsigned long n, void **pages, const int *nodes,
	   int *status, int flags),
	   SYS_move_pages, pid, n, pages, nodes, status, flags)

/* Inode of an open descriptor, 0 when it is not open: the runtime keeps
 * its descriptors' inodes to know them again, since a program may close
 * any descriptor and open a file of its own at the same number. */
static inline uint64_t sys_fd_ino(int fd)
{
	struct { uint64_t dev, ino; uint64_t rest[16]; } st;	/* struct stat */

	return fd >= 0 && sys_fstat(fd, &st) == 0 ? st.ino : 0;
}

/* ---- sys.c ---- */

/* Moves descriptor fd out of the range the program scans (closing fd);
 * returns the new number, or fd itself when no number is free. */
long sys_fd_hide(long fd);
/* The same for a descriptor kept only to save time: out of the program's
 * range, or -errno (fd left as it was) when no number there is spare. */
long sys_fd_spare(long fd);
/* Grows the descriptor table to hold those numbers, before threads of
 * ours share it. */
void sys_fd_room(void);
/* The soft RLIMIT_NOFILE the program is told, given the kernel's. */
uint64_t sys_nofile_seen(uint64_t cur);
/* Sleeps until *flag is set (by sys_flag_set(), which wakes the sleeper);
 * a futex, not a polling sleep. */
void sys_flag_wait(uint32_t *flag);
void sys_flag_set(uint32_t *flag);

/* A descriptor of this process's own /proc/self/stat or pagemap, or
 * -errno; *kept says it is the one kept hidden (never to be closed) rather
 * than the caller's to close. */
enum { SYS_SELF_STAT, SYS_SELF_PAGEMAP };
int sys_self_fd(int which, bool *kept);
/* From now on keep them (the runtime has threads of its own). */
void sys_self_keep(void);
/* Before a fork: closes them (they open again when next needed). */
void sys_self_close(void);
/* In a fork child: lets go of what the parent's other threads held. */
void sys_after_fork(void);

/*
 * What a fork child has to reset: each part of the runtime marks itself
 * here before it first holds something a thread of the parent could leave
 * behind (a lock, a descriptor, a thread's stack), and the child resets
 * only the parts marked.  Every word it wrote besides copied a page the
 * parent shares, and reading an untouched one mapped a page: a fork
 * child under a policy took 40 more page faults than a plain one.
 */
enum {
	NS_FR_SITE = 1 << 0,	/* site.c's cache flag */
	NS_FR_SELF = 1 << 1,	/* sys.c's kept /proc files */
	NS_FR_STACKS = 1 << 2,	/* thread.c's stacks */
	NS_FR_MON = 1 << 3,	/* uffd.c's monitor */
	NS_FR_ENG = 1 << 4,	/* migrate.c's engine lock */
	NS_FR_LOOP = 1 << 5,	/* loop.c's service loop */
	NS_FR_TRACE = 1 << 6,	/* trace.c's ring and trace_site.c's locks */
};
extern uint32_t ns_fork_resets;
static inline void ns_fork_resets_mark(uint32_t part)
{
	if (!(__atomic_load_n(&ns_fork_resets, __ATOMIC_RELAXED) & part))
		__atomic_fetch_or(&ns_fork_resets, part, __ATOMIC_SEQ_CST);
}

/*
 * For zero-initialised tables of a page and more that start-up does not
 * touch: the linker puts .lbss after .bss, so the small state every process
 * touches shares two or three pages, and their page tables (a fork copies
 * one per 2 MiB touched).  Among the big tables it had taken eight page
 * tables and as many faults; among the 4-16 KiB ones, three more faults
 * for each process (`perf stat` of a preloaded /bin/true: 140 to 137).
 */
#define NS_BIG __attribute__((section(".lbss.numashadow")))

/* dev as "major << 32 | minor", the way /proc/PID/maps prints it. */
static inline uint64_t dev_split(uint64_t d)
{
	uint64_t maj = ((d >> 8) & 0xfff) | ((d >> 32) & ~0xfffULL);
	uint64_t min = (d & 0xff) | ((d >> 12) & ~0xffULL);
	return maj << 32 | min;
}

/* A clock in nanoseconds.  The one call here that is libc's: its
 * clock_gettime() reads the vDSO's clock (a syscall only where there is
 * none), takes no lock and is async-signal-safe, so it is as safe in a
 * hook, a signal handler or a fork child as the syscall, at a fraction of
 * the cost (bench/mmap_loop, mmap + munmap traced: 75 against 190 ns). */
static inline uint64_t sys_clock_ns(int clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t sys_now_ns(void)
{
	return sys_clock_ns(1 /* CLOCK_MONOTONIC */);
}

#endif
