/* SPDX-License-Identifier: MIT */
/*
 * trace.c - event records (NUMASHADOW_TRACE=FILE, run --trace FILE).
 *
 * Any thread - a hook, the monitor, the engine, a signal handler - appends
 * a record to this process's ring with no lock and no syscall but the
 * clock: it claims a slot by compare-and-swap, fills it, and publishes it
 * by storing its sequence number last.  The service loop (loop.c) hands
 * runs of published records to the kernel (plain writes to the file,
 * opened O_APPEND so the family's processes never overwrite each other)
 * and frees their slots when the write completes.  A full ring drops
 * records and counts them; an NS_TR_LOST record says how many.  The ring
 * is private memory: a fork child starts with an empty one, the parent
 * writes what it held.  Format: include/numashadow_trace.h, docs/trace.md.
 *
 * Call sites are named in trace_site.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/stat.h>
#include <time.h>
#include "internal.h"
#include "sys.h"

#define TR_CAP (1u << 15)	/* records: 1.5 MiB, about 30 ms of a busy mm */

static struct {
	uint64_t head;		/* records claimed (compare-and-swap, any thread) */
	uint64_t sent;		/* records handed to a write (flushing) */
	uint64_t freed;		/* records written: their slots are free
				 * (flushing; read by producers, acquire) */
	uint64_t lost;		/* records dropped (atomic add, any thread) */
	uint64_t lost_said;	/* ... and told in a LOST record (flushing) */
	uint32_t flushing;	/* trylock: one consumer at a time (the loop
				 * or the exiting thread); futex trace_finish
				 * waits on */
	uint32_t finishing;	/* trace_finish() waits: wake it */
	int fd;			/* 0: off (ours is never 0-2) */
	uint64_t dev, ino;	/* the file, to know our descriptor again */
} tr;
/* Apart from tr: trace_on() reads tr.fd in every process, traced or not,
 * and should not fault in a page of these. */
static struct ns_trace_rec tr_rec[TR_CAP] NS_BIG __attribute__((aligned(4096)));

static char tr_path[4096] NS_BIG;	/* to open the file again (see trace_fd) */

static __thread int tr_tid;

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
	size_t len = __builtin_strlen(path);
	/* Created 0600 (less the umask), never through a symbolic link. */
	long fd = sys_open_mode(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
				0600);

	if (fd < 0)
		return (int)fd;
	if (len >= sizeof(tr_path)) {
		sys_close((int)fd);
		return -ENAMETOOLONG;
	}
	__builtin_memcpy(tr_path, path, len + 1);
	if (sys_fstat((int)fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		sys_close((int)fd);
		return -EINVAL;
	}
	/* The family's first process starts the file; the others append. */
	if (st.st_size == 0 && sys_write((int)fd, &h, sizeof(h)) != sizeof(h)) {
		sys_close((int)fd);
		return -EIO;
	}
	fd = sys_fd_hide(fd);
	ns_fork_resets_mark(NS_FR_TRACE);
	tr.fd = (int)fd;
	tr.dev = st.st_dev;
	tr.ino = st.st_ino;
	ns_exclude(&tr, sizeof(tr));
	ns_own_add((uint64_t)&tr, NS_PAGE_ALIGN((uint64_t)(&tr + 1)));
	return 0;
}

/* The trace file's descriptor, while it still is ours: a program that
 * closes every descriptor and opens another file at the same number must
 * never get our records in its file.  A program that closed ours (a
 * subprocess child before exec does) gets the same file opened again by
 * its path, quietly; -1 (and the trace off, said once) when that file is
 * gone. */
int trace_fd(void)
{
	struct stat st;
	long fd;

	if (tr.fd <= 0)
		return -1;
	if (sys_fstat(tr.fd, &st) == 0 && st.st_dev == tr.dev && st.st_ino == tr.ino)
		return tr.fd;
	fd = sys_open(tr_path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && (sys_fstat((int)fd, &st) < 0 || st.st_dev != tr.dev ||
			st.st_ino != tr.ino)) {
		sys_close((int)fd);
		fd = -1;
	}
	if (fd < 0) {
		tr.fd = 0;
		ns_log("trace: pid %d: the trace file %s is gone; tracing stops",
		       (int)ns_rt.pid, tr_path);
		return -1;
	}
	tr.fd = (int)sys_fd_hide(fd);
	return tr.fd;
}

static bool tr_put(int tid, int type, uint64_t addr, uint64_t len, int node,
		   uint32_t aux);

void trace_emit(int type, uint64_t addr, uint64_t len, int node, uint32_t aux)
{
	trace_emit_for(0, type, addr, len, node, aux);
}

/* The same, for thread tid (0: the caller), e.g. the one that faulted. */
void trace_emit_for(int tid, int type, uint64_t addr, uint64_t len, int node,
		    uint32_t aux)
{
	if (tr.fd > 0 && !tr_put(tid, type, addr, len, node, aux))
		__atomic_add_fetch(&tr.lost, 1, __ATOMIC_RELAXED);
}

/* One record for thread tid (0: the caller), the trace being on; false,
 * and counted lost, when the ring is full. */
bool trace_put(int tid, int type, uint64_t addr, uint64_t len, int node,
	       uint32_t aux)
{
	if (tr_put(tid, type, addr, len, node, aux))
		return true;
	__atomic_add_fetch(&tr.lost, 1, __ATOMIC_RELAXED);
	return false;
}

/* ---- migrations ---- */

/* A migration starts: its time and the counters before it. */
void trace_migrate_begin(struct trace_mig *m, const struct ns_mig_counters *c)
{
	m->c0 = *c;
	m->t0 = tr.fd > 0 ? sys_now_ns() : 0;
}

/* A migration of [addr, addr + len) to node ended, moved pages moved
 * (err: move_pages' own -errno, 0 none): its MIGRATE record, then its
 * duration and the pages that failed, by class.  Engine lock held (the
 * counters are its). */
void trace_migrate(const struct trace_mig *m, const struct ns_mig_counters *c,
		   uint64_t addr, uint64_t len, int node, long moved, long err)
{
	/* Each class of failure and its counter. */
	static const struct { int cls; size_t off; } fail[] = {
		{ NS_TR_EACCES, offsetof(struct ns_mig_counters, shared) },
		{ NS_TR_ENOENT, offsetof(struct ns_mig_counters, not_present) },
		{ NS_TR_ENOMEM, offsetof(struct ns_mig_counters, nomem) },
		{ NS_TR_EFAULT, offsetof(struct ns_mig_counters, fault) },
		{ NS_TR_EBUSY, offsetof(struct ns_mig_counters, busy) },
		{ NS_TR_EOTHER, offsetof(struct ns_mig_counters, other) },
	};
	enum { NFAIL = sizeof(fail) / sizeof(fail[0]) };
	uint64_t pages[NFAIL], failed = 0;

	if (tr.fd <= 0)
		return;
	for (unsigned i = 0; i < NFAIL; i++) {
		pages[i] = *(const uint64_t *)((const char *)c + fail[i].off) -
			   *(const uint64_t *)((const char *)&m->c0 + fail[i].off);
		failed += pages[i];
	}
	trace_emit(NS_TR_MIGRATE, addr, len, node, (uint32_t)moved);
	trace_emit(NS_TR_MIGRATE_END, sys_now_ns() - m->t0, failed, (int)-err,
		   (uint32_t)(c->already - m->c0.already));
	for (unsigned i = 0; i < NFAIL; i++)
		if (pages[i])
			trace_emit(NS_TR_MIGRATE_FAIL, 0, 0, fail[i].cls, (uint32_t)pages[i]);
}

/* Appends one record; false when the ring is full. */
static bool tr_put_as(int pid, int tid, int type, uint64_t addr, uint64_t len,
		      int node, uint32_t aux);

static bool tr_put(int tid, int type, uint64_t addr, uint64_t len, int node,
		   uint32_t aux)
{
	return tr_put_as(ns_rt.pid, tid, type, addr, len, node, aux);
}

/* A vfork child, which shares our memory and so our ring, about to exec:
 * its parent's fork and its exec, as a forked child's would read.  Its
 * thread's cached id is the parent thread's (one TLS): not written here. */
void trace_vfork_exec(int child)
{
	int tid = tr_tid ? tr_tid : (int)sys_getppid();

	if (tr.fd <= 0)
		return;
	if (!tr_put_as(ns_rt.pid, tid, NS_TR_FORK, 0, 0, -1, (uint32_t)child))
		__atomic_add_fetch(&tr.lost, 1, __ATOMIC_RELAXED);
	if (!tr_put_as(child, child, NS_TR_EXEC, 0, 0, -1, 0))
		__atomic_add_fetch(&tr.lost, 1, __ATOMIC_RELAXED);
}

/* One record into the ring, for process pid and thread tid (0: ours). */
static bool tr_put_as(int pid, int tid, int type, uint64_t addr, uint64_t len,
		      int node, uint32_t aux)
{
	uint64_t h = __atomic_load_n(&tr.head, __ATOMIC_RELAXED);
	struct ns_trace_rec *r;

	do {
		if (h - __atomic_load_n(&tr.freed, __ATOMIC_ACQUIRE) >= TR_CAP)
			return false;
	} while (!__atomic_compare_exchange_n(&tr.head, &h, h + 1, true,
					      __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	/* Half full: have the loop write now rather than at its next tick. */
	if (h - __atomic_load_n(&tr.freed, __ATOMIC_RELAXED) == TR_CAP / 2)
		loop_wake();
	if (!tid && !(tid = tr_tid))
		tid = tr_tid = (int)sys_gettid();
	r = &tr_rec[h % TR_CAP];
	r->time = sys_now_ns();
	r->addr = addr;
	r->len = len;
	r->pid = pid;
	r->tid = tid;
	r->type = (uint16_t)type;
	r->node = (int16_t)node;
	r->aux = aux;
	__atomic_store_n(&r->seq, h + 1, __ATOMIC_RELEASE);	/* published */
	return true;
}

/* The consumer's side: at most one at a time (the loop, or the exiting
 * thread once the loop is gone).  Returns false when another holds it. */
static bool trace_claim(void)
{
	return !__atomic_exchange_n(&tr.flushing, 1, __ATOMIC_ACQUIRE);
}

static void trace_unclaim(void)
{
	__atomic_store_n(&tr.flushing, 0, __ATOMIC_RELEASE);
	if (__atomic_load_n(&tr.finishing, __ATOMIC_ACQUIRE))
		sys_futex(&tr.flushing, FUTEX_WAKE_PRIVATE, 1, 0);
}

/* The next run of published records, contiguous in the ring, marked sent;
 * its length in bytes (0: none). */
static size_t trace_span(const void **buf)
{
	uint64_t s = tr.sent, e = s;
	uint64_t lost = __atomic_load_n(&tr.lost, __ATOMIC_RELAXED);

	/* Said only once it is in the ring: a LOST record that finds the
	 * ring full would itself be lost, and the count with it. */
	if (lost != tr.lost_said &&
	    tr_put(0, NS_TR_LOST, 0, 0, -1, (uint32_t)(lost - tr.lost_said)))
		tr.lost_said = lost;
	while (__atomic_load_n(&tr_rec[e % TR_CAP].seq, __ATOMIC_ACQUIRE) == e + 1) {
		e++;
		if (e % TR_CAP == 0)
			break;	/* the ring wraps: the rest next time */
	}
	*buf = &tr_rec[s % TR_CAP];
	tr.sent = e;
	return (size_t)(e - s) * sizeof(struct ns_trace_rec);
}

/* A write of n bytes from the oldest sent records is done (or gave up). */
static void trace_written(size_t n)
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
	trace_sites_after_fork();
	trace_emit(NS_TR_START, 0, 0, -1, (uint32_t)parent);
}

/* At exit and exec: everything published goes to the file now.  The loop
 * may have a write in flight (microseconds): wait for its end on the
 * futex it wakes, boundedly (1 s), never in a polling sleep. */
void trace_finish(void)
{
	const struct timespec s = { 1, 0 };

	if (tr.fd <= 0)
		return;
	__atomic_store_n(&tr.finishing, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&tr.flushing, __ATOMIC_SEQ_CST))
		sys_futex(&tr.flushing, FUTEX_WAIT_PRIVATE, 1, &s);
	trace_flush_sync();
}
