/* SPDX-License-Identifier: MIT */
/*
 * proc.c - the processes of a family, as records in the arena.
 *
 * A proc is created by its parent at fork (the parent holds the family lock
 * and knows the pid) or by itself at start-up.  Processes that end without
 * running our exit code (killed, _exit) are found dead by anyone who looks
 * (proc_alive) and released then.  Against pid reuse: a process now at the
 * pid that started after the record was made is another one, and a fork
 * that returns a pid proves whoever had it before is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include "internal.h"
#include "sys.h"

/* The latest start time (/proc/PID/stat field 22: CLOCK_BOOTTIME in clock
 * ticks) of a process that exists now: reading the clock costs nothing,
 * reading the process's stat file a path walk per fork. */
static uint64_t started_by_now(void)
{
	static uint64_t tick_ns;

	if (!tick_ns) {
		unsigned long hz = getauxval(AT_CLKTCK);
		tick_ns = 1000000000ULL / (hz ? hz : 100);
	}
	return sys_clock_ns(7 /* CLOCK_BOOTTIME */) / tick_ns;
}

/* Returns a new live proc for pid, on the family list, or 0. */
uint32_t proc_new(pid_t pid, uint32_t parent)
{
	uint32_t i = pool_alloc(POOL_PROC);

	if (!i)
		return 0;
	*proc_of(i) = (struct ns_proc){ .next = ns_arena->procs,
					.state = NS_PROC_LIVE, .pid = pid,
					.parent = parent, .forked = !!parent,
					.starttime = started_by_now() };
	if (parent)
		proc_of(parent)->forked = 1;
	ns_arena->procs = i;
	return i;
}

/* The record now stands for a process that exists now (its start time
 * bound is taken again). */
void proc_renew(uint32_t proc)
{
	proc_of(proc)->starttime = started_by_now();
}

/* A fork just returned pid: whoever had the number before is dead. */
void proc_release_pid(pid_t pid)
{
	uint32_t next;

	for (uint32_t i = ns_arena->procs; i; i = next) {
		next = proc_of(i)->next;
		if (proc_of(i)->pid == pid)
			proc_release(i);
	}
}

/* Returns the live proc of pid, or 0. */
uint32_t proc_find(pid_t pid)
{
	for (uint32_t i = ns_arena->procs; i; i = proc_of(i)->next)
		if (proc_of(i)->pid == pid && proc_of(i)->state == NS_PROC_LIVE)
			return i;
	return 0;
}

/* Drops the proc's shadow and its record. */
void proc_release(uint32_t proc)
{
	uint32_t *p = &ns_arena->procs;

	mm_exit(proc);
	while (*p && *p != proc)
		p = &proc_of(*p)->next;
	if (*p)
		*p = proc_of(proc)->next;
	pool_free(POOL_PROC, proc);
}

static int64_t stat_parse(char *buf, long n, int field, char *state);

/* Field `field` (as proc(5) numbers them, >= 3) of the stat file at
 * path, with the state letter (field 3) in *state when asked; -1 when the
 * file cannot be read. */
int64_t stat_field(const char *path, int field, char *state)
{
	char buf[512];
	long fd, n;
	bool kept = false;

	/* Our own, through the descriptor kept for it (sys_self_fd). */
	fd = !__builtin_strcmp(path, "/proc/self/stat") ? sys_self_fd(SYS_SELF_STAT, &kept)
							 : sys_open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = sys_pread((int)fd, buf, sizeof(buf) - 1, 0);
	if (!kept)
		sys_close((int)fd);
	return stat_parse(buf, n, field, state);
}

/* The field of stat text buf[0, n) (see stat_field). */
static int64_t stat_parse(char *buf, long n, int field, char *state)
{
	int64_t v = 0;
	int f = 2;
	char *p;

	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* The command name may hold spaces and parentheses: start after the
	 * last ')'. */
	p = __builtin_strrchr(buf, ')');
	if (!p)
		return -1;
	for (p++; *p && f < field; p++)
		if (*p == ' ') {
			f++;
			if (f == 3 && state)
				*state = p[1];
		}
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	return v;
}

/* Field 22 of /proc/PID/stat (start time in clock ticks), with the state
 * letter in *state; 0 when the process is gone. */
static uint64_t stat_read(pid_t pid, char *state)
{
	char path[40];
	int64_t v;

	ns_fmt(path, sizeof(path), "/proc/%d/stat", (int)pid);
	v = stat_field(path, 22, state);
	return v < 0 ? 0 : (uint64_t)v;
}

/* Is the proc's process still running the image we shadow? */
bool proc_alive(uint32_t proc)
{
	char state = 0;
	uint64_t st;
	char path[48];

	if (!proc_of(proc)->pid)
		return true;	/* made for a child its parent is forking */
	if (sys_kill(proc_of(proc)->pid, 0) == -ESRCH)
		return false;	/* reaped: no need to read its stat */
	st = stat_read(proc_of(proc)->pid, &state);

	if (!st || st > proc_of(proc)->starttime || state == 'X' || state == 'x')
		return false;
	if (state != 'Z')
		return true;
	/* A leader that ended before its other threads is a zombie while
	 * they run on, with the mm. */
	ns_fmt(path, sizeof(path), "/proc/%d/stat", (int)proc_of(proc)->pid);
	return stat_field(path, 20, NULL) > 1;
}

