/* SPDX-License-Identifier: MIT */
/*
 * pagemap.c - the kernel's page tables as /proc/PID/pagemap shows them, for
 * this process and its relatives.
 *
 * Our own goes through the descriptor sys_self_fd() keeps.  A relative's is
 * opened once per process that asks and kept out of the program's range
 * (sys_fd_spare()), so that a query that asks every mapper of a page costs
 * one pread a mapper, not a path walk.  A kept
 * descriptor is tied to the relative's mm by the kernel at open: pid reuse
 * cannot redirect it, and once that mm is gone it reads nothing.  It is
 * opened before its process is checked alive against the record's start
 * time, so it is the recorded process's.  Where no number above the limit
 * is free, each read opens and closes its own.
 *
 * Locking: the table is this process's own (not in the arena); callers hold
 * the family lock, which serialises its users (our own pagemap goes
 * through sys.c's busy flag too, below the family lock: arena.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include "internal.h"
#include "sys.h"

#define KEPT_MAX 1024	/* relatives' descriptors kept at once (fewer when
			 * they must sit below the soft limit) */

static struct kept {
	int fd;			/* 0: none (ours are never 0-2), -1: the
				 * process was gone when asked */
	int pid;		/* the relative's */
	uint64_t start;		/* its record's start-time bound */
	uint64_t ino;		/* the file's: the program may close ours, and
				 * the number then name another of ours */
} kept[NS_PROC_MAX] NS_BIG;		/* family lock */
static int kept_n;		/* family lock */

/* A descriptor of proc's pagemap, or -errno; *keep: it is kept (not the
 * caller's to close).  Family lock held. */
int pm_open(uint32_t proc, bool *keep)
{
	char path[48];
	struct ns_proc *p = proc_of(proc);
	struct kept *k = proc < NS_PROC_MAX ? &kept[proc] : NULL;
	long fd;

	if (p->pid == ns_rt.pid)
		return sys_self_fd(SYS_SELF_PAGEMAP, keep);
	*keep = false;
	if (k && k->fd < 0) {
		if (k->pid == p->pid && k->start == p->starttime)
			return -ESRCH;	/* gone when last asked */
		k->fd = 0;
	}
	if (k && k->fd > 0) {
		bool ours = sys_fd_ino(k->fd) == k->ino;
		if (ours && k->pid == p->pid && k->start == p->starttime) {
			*keep = true;
			return k->fd;
		}
		if (ours)
			sys_close(k->fd);	/* the record was reused */
		k->fd = 0;
		kept_n--;
	}
	ns_fmt(path, sizeof(path), "/proc/%d/pagemap", (int)p->pid);
	fd = sys_open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !proc_alive(proc)) {	/* the pid is someone else's now */
		sys_close((int)fd);
		fd = -ESRCH;
	}
	if (fd == -ENOENT || fd == -ESRCH) {
		/* Gone for good: a traced exit asks each relative once a run
		 * of shared pages, and a reaped child's open failed each time. */
		if (k)
			*k = (struct kept){ -1, p->pid, p->starttime, 0 };
		return -ESRCH;
	}
	if (fd < 0)
		return (int)fd;
	if (k && kept_n < KEPT_MAX) {
		long hi = sys_fd_spare(fd);
		if (hi > 0) {
			*k = (struct kept){ (int)hi, p->pid, p->starttime,
					    sys_fd_ino((int)hi) };
			kept_n++;
			*keep = true;
			return (int)hi;
		}
	}
	return (int)fd;	/* no room above: the caller's for this read */
}

void pm_close(int fd, bool keep)
{
	if (!keep && fd >= 0)
		sys_close(fd);
}

int pm_read(uint32_t proc, uint64_t addr, uint64_t *ent)
{
	bool keep;
	int fd = pm_open(proc, &keep);
	long r;

	*ent = 0;
	if (fd < 0)
		return fd;
	r = sys_pread(fd, ent, 8, (off_t)((addr >> NS_PAGE_SHIFT) * 8));
	pm_close(fd, keep);
	if (r == 8)
		return 0;
	*ent = 0;
	if (r == 0 && keep && proc < NS_PROC_MAX && kept[proc].fd == fd) {
		sys_close(fd);	/* its mm is gone: it reads nothing more */
		kept[proc].fd = 0;
		kept_n--;
	}
	return r < 0 ? (int)r : -ESRCH;
}
