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

#define HIDE_SPAN 64	/* numbers tried at the top of the program's range */

static int hidden_low;	/* lowest descriptor placed below the soft limit */

struct k_rlimit {
	uint64_t cur, max;
};

long sys_fd_hide(long fd)
{
	struct k_rlimit old, up;
	long hi = -1;

	if (fd < 0 || sys_call(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, &old, 0, 0) < 0)
		return fd;
	if (old.cur < old.max && old.cur < (1u << 30)) {
		up.cur = old.cur + HIDE_SPAN < old.max ? old.cur + HIDE_SPAN : old.max;
		up.max = old.max;
		if (sys_call(SYS_prlimit64, 0, RLIMIT_NOFILE, &up, 0, 0, 0) == 0) {
			hi = sys_call(SYS_fcntl, fd, F_DUPFD_CLOEXEC, old.cur, 0, 0, 0);
			sys_call(SYS_prlimit64, 0, RLIMIT_NOFILE, &old, 0, 0, 0);
		}
	}
	/* The top of the range, downward, on a number nobody holds. */
	for (long n = (long)old.cur - 1; hi < 0 && n > 2 && n >= (long)old.cur - HIDE_SPAN; n--) {
		if (n == fd || sys_call(SYS_fcntl, n, F_GETFD, 0, 0, 0, 0) != -EBADF)
			continue;
		hi = sys_call(SYS_dup3, fd, n, O_CLOEXEC, 0, 0, 0);
		if (hi >= 0 && (!hidden_low || hi < hidden_low))
			__atomic_store_n(&hidden_low, (int)hi, __ATOMIC_RELAXED);
	}
	if (hi < 0)
		return fd;	/* visible, but working */
	sys_close((int)fd);
	return hi;
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
