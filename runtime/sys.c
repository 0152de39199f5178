/* SPDX-License-Identifier: MIT */
/*
 * sys.c - the runtime's descriptors and waits, kept out of the program's
 * sight.
 *
 * A program may list or close every descriptor below its soft
 * RLIMIT_NOFILE (closefrom emulations, subprocess pass_fds checks), so the
 * runtime keeps its own at or above that limit: the soft limit is raised
 * for the one F_DUPFD and put back, and the descriptor stays valid above
 * it (the kernel checks the limit only when it hands out a number).  Where
 * the soft limit is the hard one and cannot be raised (no
 * CAP_SYS_RESOURCE), the descriptor goes to the top of the program's range
 * instead and the limit the program reads (getrlimit, prlimit, sysconf,
 * getdtablesize through the preload) ends just below it - valgrind's way.
 * Either way nothing is created until a setting needs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/resource.h>
#include "sys.h"

#define HIDE_SPAN 32	/* numbers the runtime's own descriptors need */
#define SPARE_MAX 128	/* below them, for those kept only to save time */

static int hidden_low;	/* where the numbers kept below the soft limit
			 * start: the program is told its limit ends there */

struct k_rlimit {
	uint64_t cur, max;
};

/* fd's copy at or above the soft limit, or -errno; old: the limits (0
 * when they cannot be read). */
static long fd_above(long fd, struct k_rlimit *old)
{
	struct k_rlimit up;
	long hi = -EMFILE;

	old->cur = old->max = 0;
	if (sys_prlimit(0, RLIMIT_NOFILE, NULL, old) < 0)
		return -EMFILE;
	if (old->cur < (1u << 30)) {
		/* Past the hard limit too when it is the soft one, which
		 * CAP_SYS_RESOURCE allows; both are put back. */
		up.cur = old->cur + HIDE_SPAN;
		up.max = old->max > up.cur ? old->max : up.cur;
		long r = sys_prlimit(0, RLIMIT_NOFILE, &up, NULL);
		if (r < 0 && old->cur < old->max) {
			up.cur = up.max = old->max;
			r = sys_prlimit(0, RLIMIT_NOFILE, &up, NULL);
		}
		if (r == 0) {
			hi = sys_fcntl(fd, F_DUPFD_CLOEXEC, (long)old->cur);
			sys_prlimit(0, RLIMIT_NOFILE, old, NULL);
		}
	}
	return hi;
}

/*
 * Where the soft limit cannot be passed, fd goes to a free number of the
 * top of the program's range, downward from top (numbers below the limit
 * cur): [cur - HIDE_SPAN, cur) for the runtime's own descriptors, and
 * below that up to SPARE_MAX more (an eighth of the range at most) for
 * spare ones.  The whole span is kept from the first use on, so a limit
 * the program read once stays below every descriptor we place later.
 * Returns the new number (fd closed) or -EMFILE.
 */
static long fd_top(long fd, uint64_t cur, long top, long bottom)
{
	long spare = (long)cur / 8 < SPARE_MAX ? (long)cur / 8 : SPARE_MAX;
	long low = (long)cur - HIDE_SPAN - spare;

	for (long n = (long)cur - 1 - top; n > 2 && n >= (long)cur - bottom && n >= low; n--) {
		if (n == fd || sys_fcntl(n, F_GETFD, 0) != -EBADF)
			continue;
		long hi = sys_dup3(fd, n, O_CLOEXEC);
		if (hi < 0)
			continue;
		if (!hidden_low)
			__atomic_store_n(&hidden_low, (int)low, __ATOMIC_RELAXED);
		sys_close((int)fd);
		return hi;
	}
	return -EMFILE;
}

/* fd out of the program's range: above the soft limit, else in the top
 * span's numbers [cur - bottom, cur - top).  The new number, or -EMFILE
 * with fd left as it was. */
static long fd_out(long fd, long top, long bottom)
{
	struct k_rlimit old;
	long hi = fd_above(fd, &old);

	if (hi >= 0) {
		sys_close((int)fd);
		return hi;
	}
	return fd_top(fd, old.cur, top, bottom);
}

long sys_fd_spare(long fd)
{
	return fd < 0 ? fd : fd_out(fd, HIDE_SPAN, HIDE_SPAN + SPARE_MAX);
}

long sys_fd_hide(long fd)
{
	long hi = fd < 0 ? fd : fd_out(fd, 0, HIDE_SPAN);

	return hi < 0 ? fd : hi;	/* visible, but working */
}

/* The table must reach those numbers before a thread of ours shares it:
 * growing it later, shared, makes the kernel wait for an RCU grace period
 * (expand_fdtable(); 10 ms a time here), which a program under a policy
 * met at the first range its monitor registered.  A descriptor placed
 * and closed again leaves the table that long; a fork copies only up to
 * the highest open number. */
void sys_fd_room(void)
{
	long fd = sys_eventfd(0, O_CLOEXEC);

	if (fd >= 0)
		sys_close((int)sys_fd_hide(fd));
}

uint64_t sys_nofile_seen(uint64_t cur)
{
	int low = __atomic_load_n(&hidden_low, __ATOMIC_RELAXED);

	return low && cur > (uint64_t)low ? (uint64_t)low : cur;
}

void sys_flag_wait(uint32_t *flag)
{
	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
		sys_futex(flag, FUTEX_WAIT_PRIVATE, 0, 0);
}

void sys_flag_set(uint32_t *flag)
{
	__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
	sys_futex(flag, FUTEX_WAKE_PRIVATE, 1u << 30, 0);
}

/*
 * This process's own /proc files.  Once the runtime has threads of its own
 * (sys_self_keep), each is opened once and kept out of the program's
 * range: a descriptor one of our threads opened for a moment, while the
 * program lists its descriptors on another, would show at the program's
 * lowest free number.  Until then the calling thread (the program's, in a
 * hook) opens and closes it itself, so a process that asked for nothing
 * holds none.  The kernel ties pagemap to the mm at open, so one kept
 * descriptor serves every thread (and outlives a leader that ended); a
 * fork child opens its own.
 */
static int keep;	/* atomic: set once, by the first thread start */

void sys_self_keep(void)
{
	__atomic_store_n(&keep, 1, __ATOMIC_RELEASE);
}
static struct {
	const char *path;
	int fd, pid;
	uint64_t ino;
	uint32_t busy;	/* spin over fd, pid, ino; a leaf under the family
			 * lock (arena.c); cleared in a fork child */
} self_files[] = {
	[SYS_SELF_STAT] = { "/proc/self/stat", -1, 0, 0, 0 },
	[SYS_SELF_PAGEMAP] = { "/proc/thread-self/pagemap", -1, 0, 0, 0 },
};

int sys_self_fd(int which, bool *kept)
{
	__typeof__(self_files[0]) *f = &self_files[which];
	int pid = (int)sys_getpid();
	long fd;

	*kept = __atomic_load_n(&keep, __ATOMIC_ACQUIRE);
	if (!*kept)
		return (int)sys_open(f->path, O_RDONLY | O_CLOEXEC);
	ns_fork_resets_mark(NS_FR_SELF);
	while (__atomic_exchange_n(&f->busy, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
	if (f->fd < 0 || f->pid != pid || sys_fd_ino(f->fd) != f->ino) {
		/* The parent's (in a fork child), or closed by the program. */
		if (f->fd >= 0 && sys_fd_ino(f->fd) == f->ino)
			sys_close(f->fd);
		fd = sys_fd_hide(sys_open(f->path, O_RDONLY | O_CLOEXEC));
		f->fd = fd < 0 ? -1 : (int)fd;
		f->pid = pid;
		f->ino = sys_fd_ino(f->fd);
	}
	fd = f->fd;
	__atomic_store_n(&f->busy, 0, __ATOMIC_RELEASE);
	return fd < 0 ? (int)-ENOENT : (int)fd;
}

/* Before a fork: the kept descriptors close, to open again when next
 * needed.  The kernel's fork copies the descriptor table up to the
 * highest open number: one kept at 19,999 (the monitor's idle look at
 * /proc/self/stat, once a second) cost every later fork 80 us. */
void sys_self_close(void)
{
	for (unsigned i = 0; i < sizeof(self_files) / sizeof(self_files[0]); i++) {
		__typeof__(self_files[0]) *f = &self_files[i];
		if (__atomic_load_n(&f->fd, __ATOMIC_RELAXED) < 0)
			continue;
		while (__atomic_exchange_n(&f->busy, 1, __ATOMIC_ACQUIRE))
			__builtin_ia32_pause();
		if (f->fd >= 0 && sys_fd_ino(f->fd) == f->ino)
			sys_close(f->fd);
		f->fd = -1;
		__atomic_store_n(&f->busy, 0, __ATOMIC_RELEASE);
	}
}

/* In the child of fork: a thread the child lacks (the monitor or the loop,
 * reading /proc/self/stat) may have held a busy flag at the fork, and
 * nobody would ever clear it.  The descriptors are the parent's: the pid
 * check reopens them. */
void sys_after_fork(void)
{
	for (unsigned i = 0; i < sizeof(self_files) / sizeof(self_files[0]); i++)
		if (__atomic_load_n(&self_files[i].busy, __ATOMIC_RELAXED))
			__atomic_store_n(&self_files[i].busy, 0, __ATOMIC_RELAXED);
}

uint32_t ns_fork_resets;
