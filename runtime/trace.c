/* SPDX-License-Identifier: MIT */
/*
 * trace.c - event records (NUMASHADOW_TRACE=FILE, run --trace FILE).
 *
 * Any thread - a hook, the monitor, the engine, a signal handler - appends
 * a record to this process's ring with no lock and no syscall but the
 * clock: it claims a slot by compare-and-swap, fills it, and publishes it
 * by storing its sequence number last.  The service loop (loop.c) hands
 * runs of published records to the kernel (io_uring writes to the file,
 * opened O_APPEND so the family's processes never overwrite each other)
 * and frees their slots when the write completes.  A full ring drops
 * records and counts them; an NS_TR_LOST record says how many.  The ring
 * is private memory: a fork child starts with an empty one, the parent
 * writes what it held.  Format: include/numashadow_trace.h, docs/trace.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include "internal.h"
#include "sys.h"

#define TR_CAP (1u << 15)	/* records: 1.5 MiB, about 30 ms of a busy mm */

static struct {
	struct ns_trace_rec rec[TR_CAP];
	uint64_t head;		/* records claimed (the next seq - 1) */
	uint64_t sent;		/* records handed to a write */
	uint64_t freed;		/* records written: their slots are free */
	uint64_t lost, lost_said;
	uint32_t flushing;	/* one consumer at a time */
	int fd;			/* 0: off (ours is always >= 700) */
	uint64_t dev, ino;	/* the file, to know our descriptor again */
} tr __attribute__((aligned(4096)));

static __thread int tr_tid;

/* libc's clock_gettime() reads the vDSO's clock: a record costs less than
 * half what it does with the syscall (bench/mmap_loop, mmap + munmap: 75
 * against 190 ns), and it takes no lock and is async-signal-safe, so it is
 * as safe in a hook, a signal handler or a fork child as the syscall. */
static inline uint64_t trace_clock(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

bool trace_on(void)
{
	return tr.fd > 0;
}

/* Opens (creating, appending) the trace file; 0 or -errno. */
int trace_open(const char *path)
{
	struct ns_trace_header h = { NS_TRACE_MAGIC, NS_TRACE_VERSION,
				     sizeof(struct ns_trace_rec) };
	struct stat st;
	long fd = sys_call(SYS_openat, -100, path,
			   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644, 0, 0);

	if (fd < 0)
		return (int)fd;
	if (sys_fstat((int)fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		sys_close((int)fd);
		return -EINVAL;
	}
	/* The family's first process starts the file; the others append. */
	if (st.st_size == 0 && sys_write((int)fd, &h, sizeof(h)) != sizeof(h)) {
		sys_close((int)fd);
		return -EIO;
	}
	long hi = sys_call(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 700, 0, 0, 0);
	if (hi >= 0) {
		sys_close((int)fd);
		fd = hi;
	}
	tr.fd = (int)fd;
	tr.dev = st.st_dev;
	tr.ino = st.st_ino;
	ns_exclude(&tr, sizeof(tr));
	ns_own_add((uint64_t)&tr, NS_PAGE_ALIGN((uint64_t)(&tr + 1)));
	return 0;
}

/* The trace file's descriptor, while it still is ours: a program that
 * closes every descriptor and opens another file at the same number must
 * never get our records in its file.  -1 (and the trace off) otherwise. */
int trace_fd(void)
{
	struct stat st;

	if (tr.fd <= 0)
		return -1;
	if (sys_fstat(tr.fd, &st) < 0 || st.st_dev != tr.dev || st.st_ino != tr.ino) {
		tr.fd = 0;
		ns_log("trace: pid %d: the program closed the trace file's descriptor; tracing stops",
		       (int)ns_rt.pid);
		return -1;
	}
	return tr.fd;
}

void trace_emit(int type, uint64_t addr, uint64_t len, int node, uint32_t aux)
{
	trace_emit_for(0, type, addr, len, node, aux);
}

/* The same, for thread tid (0: the caller), e.g. the one that faulted. */
void trace_emit_for(int tid, int type, uint64_t addr, uint64_t len, int node,
		    uint32_t aux)
{
	uint64_t h = __atomic_load_n(&tr.head, __ATOMIC_RELAXED);
	struct ns_trace_rec *r;

	if (tr.fd <= 0)
		return;
	do {
		if (h - __atomic_load_n(&tr.freed, __ATOMIC_ACQUIRE) >= TR_CAP) {
			__atomic_add_fetch(&tr.lost, 1, __ATOMIC_RELAXED);
			return;
		}
	} while (!__atomic_compare_exchange_n(&tr.head, &h, h + 1, true,
					      __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	/* Half full: have the loop write now rather than at its next tick. */
	if (h - __atomic_load_n(&tr.freed, __ATOMIC_RELAXED) == TR_CAP / 2)
		loop_wake();
	if (!tid && !(tid = tr_tid))
		tid = tr_tid = (int)sys_gettid();
	r = &tr.rec[h % TR_CAP];
	r->time = trace_clock();
	r->addr = addr;
	r->len = len;
	r->pid = ns_rt.pid;
	r->tid = tid;
	r->type = (uint16_t)type;
	r->node = (int16_t)node;
	r->aux = aux;
	__atomic_store_n(&r->seq, h + 1, __ATOMIC_RELEASE);	/* published */
}

/* The consumer's side: at most one at a time (the loop, or the exiting
 * thread once the loop is gone).  Returns false when another holds it. */
bool trace_claim(void)
{
	return !__atomic_exchange_n(&tr.flushing, 1, __ATOMIC_ACQUIRE);
}

void trace_unclaim(void)
{
	__atomic_store_n(&tr.flushing, 0, __ATOMIC_RELEASE);
}

/* The next run of published records, contiguous in the ring, marked sent;
 * its length in bytes (0: none). */
size_t trace_span(const void **buf)
{
	uint64_t s = tr.sent, e = s;
	uint64_t lost = __atomic_load_n(&tr.lost, __ATOMIC_RELAXED);

	if (lost != tr.lost_said) {
		trace_emit(NS_TR_LOST, 0, 0, -1, (uint32_t)(lost - tr.lost_said));
		tr.lost_said = lost;
	}
	while (__atomic_load_n(&tr.rec[e % TR_CAP].seq, __ATOMIC_ACQUIRE) == e + 1) {
		e++;
		if (e % TR_CAP == 0)
			break;	/* the ring wraps: the rest next time */
	}
	*buf = &tr.rec[s % TR_CAP];
	tr.sent = e;
	return (size_t)(e - s) * sizeof(struct ns_trace_rec);
}

/* A write of n bytes from the oldest sent records is done (or gave up). */
void trace_written(size_t n)
{
	__atomic_add_fetch(&tr.freed, n / sizeof(struct ns_trace_rec), __ATOMIC_RELEASE);
}

/* Writes what is published, synchronously (no loop, or at exit). */
void trace_flush_sync(void)
{
	const void *b;
	size_t n;

	if (tr.fd <= 0 || !trace_claim())
		return;
	int fd = trace_fd();
	while (fd > 0 && (n = trace_span(&b)) > 0) {
		size_t off = 0;
		while (off < n) {
			long w = sys_write(fd, (const char *)b + off, n - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		trace_written(n);
	}
	trace_unclaim();
}

/* In the child of fork: the ring's records are the parent's to write.
 * The child numbers on from the parent's count, so no slot it inherited
 * can look published (and no page of the ring is copied to clear it). */
void trace_after_fork(int parent)
{
	tr_tid = 0;
	tr.sent = tr.freed = tr.head;
	tr.lost = tr.lost_said = 0;
	tr.flushing = 0;
	trace_emit(NS_TR_START, 0, 0, -1, (uint32_t)parent);
}

/* At exit and exec: everything published goes to the file now.  The loop
 * may have a write in flight; wait for it, boundedly (1 s). */
void trace_finish(void)
{
	const struct timespec ms = { 0, 1000000 };

	if (tr.fd <= 0)
		return;
	for (int i = 0; i < 1000 && __atomic_load_n(&tr.flushing, __ATOMIC_ACQUIRE); i++)
		sys_call(SYS_nanosleep, &ms, NULL, 0, 0, 0, 0);
	trace_flush_sync();
}
