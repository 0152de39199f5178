/* SPDX-License-Identifier: MIT */
/*
 * loop.c - the runtime's service thread: the control socket, timers and
 * trace writes, waiting on one io_uring.
 *
 * One thread per process sleeps in io_uring_submit_and_wait_timeout()
 * until the first of: a client on the control socket (ACCEPT, then RECV
 * and SEND, each with a linked timeout so a silent client cannot hold the
 * loop), the next timer (the wait's own timeout), or a wake-up (a READ of
 * an eventfd: a timer added, the trace ring half full, a socket replaced).
 * Timers run their work here, one at a time: a long one (a migration)
 * delays the others, never the program.  Trace records are written with
 * plain write(2) from this thread each time round: a file write through
 * io_uring runs on the kernel's io-wq workers, threads of the process that
 * outlive the program's own and keep its thread count up.
 *
 * The userfaultfd monitor is not on this ring: a uffd read through
 * io_uring costs 21-35 us per fault against about 4 for a woken thread's
 * read (design brief; docs/placement.md).
 *
 * Without io_uring (kernel.io_uring_disabled, a seccomp filter) the same
 * loop runs on poll(2), with plain accept, read and write; said once.
 *
 * liburing issues its own raw syscalls (it maps the rings without libc),
 * so the hooks never see those mappings: ring_track() tells the shadow.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include "internal.h"
#include "sys.h"

#define MAX_TIMERS 8
#define TRACE_PERIOD_NS (20 * 1000 * 1000ULL)
#define CLIENT_TIMEOUT_S 2
#define WAKELESS_NS (100 * 1000 * 1000ULL)
#define ALONE_NS (1000 * 1000 * 1000ULL)

enum { U_WAKE = 1, U_ACCEPT, U_RECV, U_SEND, U_TIMEOUT };

struct timer {
	uint64_t due, period;	/* CLOCK_MONOTONIC ns; period 0: once */
	void (*fn)(void);
};

static struct {
	struct io_uring ring;
	int uring;		/* the ring is ours and usable */
	int running;		/* the thread is started */
	uint32_t started;	/* ... and has registered the ring */
	int wake_fd;		/* eventfd, 0 when none */
	uint64_t wake_buf;
	uint32_t timers_busy;	/* spinlock of t[] */
	struct timer t[MAX_TIMERS];
	int accepting;		/* an ACCEPT is in flight */
	int client;		/* the client being served, 0 when none */
	uint64_t client_ino;
	char req[256];
	size_t got;
	const char *out;	/* the answer, and how much of it went */
	size_t out_len, out_off;
} lp;

static int said;	/* io_uring's absence told: once, fork children too */
static uint64_t wake_ino, ring_ino;	/* to know our descriptors again */

/* Is the eventfd's number still ours?  A program that closes every
 * descriptor may have put a file of its own there. */
static bool wake_ok(void)
{
	return lp.wake_fd > 0 && sys_fd_ino(lp.wake_fd) == wake_ino;
}

static void timers_lock(void)
{
	while (__atomic_exchange_n(&lp.timers_busy, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

static void timers_unlock(void)
{
	__atomic_store_n(&lp.timers_busy, 0, __ATOMIC_RELEASE);
}

void loop_wake(void)
{
	uint64_t one = 1;

	if (wake_ok())
		sys_write(lp.wake_fd, &one, sizeof(one));
}

/* Runs fn on the loop thread delay_ns from now, then every period_ns (0:
 * once).  Returns 0 or -ENOSPC. */
int loop_timer(uint64_t delay_ns, uint64_t period_ns, void (*fn)(void))
{
	int r = -ENOSPC;

	timers_lock();
	for (int i = 0; i < MAX_TIMERS && r; i++)
		if (!lp.t[i].fn) {
			lp.t[i] = (struct timer){ sys_now_ns() + delay_ns, period_ns, fn };
			r = 0;
		}
	timers_unlock();
	loop_wake();
	return r;
}

/* Runs the timers that are due; returns ns until the next (or ~0). */
static uint64_t run_timers(void)
{
	uint64_t next = ~0ULL;

	for (int i = 0; i < MAX_TIMERS; i++) {
		uint64_t now = sys_now_ns();
		void (*fn)(void) = NULL;

		timers_lock();
		if (lp.t[i].fn && lp.t[i].due <= now) {
			fn = lp.t[i].fn;
			if (lp.t[i].period)
				lp.t[i].due = now + lp.t[i].period;
			else
				lp.t[i].fn = NULL;
		}
		timers_unlock();
		if (fn && ns_rt.ready && sys_getpid() == ns_rt.pid)
			fn();
	}
	uint64_t now = sys_now_ns();
	timers_lock();
	for (int i = 0; i < MAX_TIMERS; i++)
		if (lp.t[i].fn)
			next = lp.t[i].due <= now ? 0 : lp.t[i].due - now < next
			       ? lp.t[i].due - now : next;
	timers_unlock();
	if (trace_on() && next > TRACE_PERIOD_NS)
		next = TRACE_PERIOD_NS;
	/* Without our eventfd nobody can wake us: look again now and then. */
	if (!wake_ok() && next > WAKELESS_NS)
		next = WAKELESS_NS;
	/* Now and then, whether the program's threads are all gone. */
	ns_thread_alone();
	return next < ALONE_NS ? next : ALONE_NS;
}

/* ---- the io_uring side ---- */

static struct io_uring_sqe *sqe(uint64_t what)
{
	struct io_uring_sqe *s = io_uring_get_sqe(&lp.ring);

	if (!s) {
		io_uring_submit(&lp.ring);
		s = io_uring_get_sqe(&lp.ring);
	}
	if (s)
		io_uring_sqe_set_data64(s, what);
	return s;
}

static void arm_wake(void)
{
	struct io_uring_sqe *s = wake_ok() ? sqe(U_WAKE) : NULL;

	if (s)
		io_uring_prep_read(s, lp.wake_fd, &lp.wake_buf, sizeof(lp.wake_buf), 0);
}

static void arm_accept(void)
{
	int fd = ctl_fd();
	struct io_uring_sqe *s;

	if (lp.accepting || lp.client || fd < 0 || !(s = sqe(U_ACCEPT)))
		return;
	io_uring_prep_accept(s, fd, NULL, NULL, SOCK_CLOEXEC);
	lp.accepting = 1;
}

/* A RECV or SEND on the client, bounded by a linked timeout. */
static void arm_client(bool send)
{
	static struct __kernel_timespec ts = { CLIENT_TIMEOUT_S, 0 };
	struct io_uring_sqe *s, *t;

	if (sys_fd_ino(lp.client) != lp.client_ino) {
		lp.client = 0;	/* the program's now: drop it, never close it */
		arm_accept();
		return;
	}
	if (!(s = sqe(send ? U_SEND : U_RECV)))
		return;
	if (send)
		io_uring_prep_send(s, lp.client, lp.out + lp.out_off,
				   lp.out_len - lp.out_off, MSG_NOSIGNAL);
	else
		io_uring_prep_recv(s, lp.client, lp.req + lp.got,
				   sizeof(lp.req) - 1 - lp.got, 0);
	s->flags |= IOSQE_IO_LINK;
	if ((t = sqe(U_TIMEOUT)))
		io_uring_prep_link_timeout(t, &ts, 0);
}

static void client_done(void)
{
	if (sys_fd_ino(lp.client) == lp.client_ino)
		sys_close(lp.client);
	lp.client = 0;
	arm_accept();
}


static void on_cqe(uint64_t what, int res)
{
	switch (what) {
	case U_WAKE:
		arm_wake();
		arm_accept();	/* a new socket after a failed exec */
		break;
	case U_ACCEPT:
		lp.accepting = 0;
		if (res < 0) {
			/* A closed or shut-down socket is not re-armed. */
			if (res == -EINTR || res == -ECONNABORTED || res == -EAGAIN)
				arm_accept();
			break;
		}
		/* Out of the program's range, and known by inode from here
		 * on: the program may close it and reuse the number. */
		res = (int)sys_fd_hide(res);
		lp.client = res;
		lp.client_ino = sys_fd_ino(res);
		lp.got = 0;
		if (ctl_peer_ok(res))
			arm_client(false);
		else
			client_done();
		break;
	case U_RECV:
		if (res <= 0) {
			client_done();
			break;
		}
		lp.got += (size_t)res;
		if (lp.req[lp.got - 1] != '\n' && lp.got < sizeof(lp.req) - 1) {
			arm_client(false);
			break;
		}
		lp.req[lp.got] = 0;
		lp.out_len = ctl_answer(lp.req, &lp.out);
		lp.out_off = 0;
		arm_client(true);
		break;
	case U_SEND:
		if (res > 0)
			lp.out_off += (size_t)res;
		if (res > 0 && lp.out_off < lp.out_len)
			arm_client(true);
		else
			client_done();
		break;
	default:
		break;	/* linked timeouts */
	}
}

/* Returns when the ring fails (then the poll loop takes over). */
static void uring_loop(void)
{
	int errs = 0;

	arm_wake();
	arm_accept();
	for (;;) {
		uint64_t next = run_timers();
		struct __kernel_timespec ts = { (long long)(next / 1000000000ULL),
						(long long)(next % 1000000000ULL) };
		struct io_uring_cqe *c;
		unsigned head, n = 0;

		trace_flush_sync();
		int r = io_uring_submit_and_wait_timeout(&lp.ring, &c, 1,
							 next == ~0ULL ? NULL : &ts, NULL);
		if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY &&
		    ++errs > 3) {
			ns_log("io_uring failed (%d); the control socket, timers and trace use poll(2)",
			       r);
			return;
		} else if (r >= 0) {
			errs = 0;
		}
		io_uring_for_each_cqe(&lp.ring, head, c) {
			on_cqe(io_uring_cqe_get_data64(c), c->res);
			n++;
		}
		io_uring_cq_advance(&lp.ring, n);
	}
}

/* ---- the poll(2) side, without io_uring ---- */

static void poll_loop(void)
{
	for (;;) {
		uint64_t next = run_timers();
		struct pollfd pf[2] = { { wake_ok() ? lp.wake_fd : -1, POLLIN, 0 },
					{ ctl_fd(), POLLIN, 0 } };
		int ms = next == ~0ULL ? -1 : (int)((next + 999999) / 1000000);

		trace_flush_sync();
		sys_call(SYS_poll, pf, pf[1].fd >= 0 ? 2 : 1, ms, 0, 0, 0);
		if (pf[0].revents)
			sys_read(lp.wake_fd, &lp.wake_buf, sizeof(lp.wake_buf));
		if (pf[1].fd >= 0 && (pf[1].revents & POLLIN)) {
			long fd = sys_call(SYS_accept4, pf[1].fd, NULL, NULL,
					   SOCK_CLOEXEC, 0, 0);
			if (fd >= 0) {
				ctl_serve_sync((int)fd);
				sys_close((int)fd);
			}
		}
	}
}

static void *loop_main(void *unused)
{
	sigset_t all;

	(void)unused;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	ns_in_runtime = 1;	/* our own calls pass straight to the kernel */
	/* Entering the ring by its registered index (per thread: so here),
	 * the loop no longer needs the descriptor, which a program may close;
	 * kernels before 5.18 refuse, and the descriptor serves. */
	if (lp.uring)
		io_uring_register_ring_fd(&lp.ring);
	sys_flag_set(&lp.started);
	if (lp.uring)
		uring_loop();
	poll_loop();
	return NULL;
}

/* The ring's mappings, which liburing makes and unmaps by raw syscalls,
 * told to the shadow as the hooks would have: map (lock not held) or
 * unmap (lock held, in a fork child). */
static void ring_track(bool map)
{
	struct ns_map m[3] = {
		{ (uint64_t)lp.ring.sq.ring_ptr, lp.ring.sq.ring_sz, 0 /* IORING_OFF_SQ_RING */,
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, lp.ring.ring_fd },
		{ (uint64_t)lp.ring.sq.sqes,
		  (uint64_t)*lp.ring.sq.kring_entries * sizeof(struct io_uring_sqe),
		  0x10000000 /* IORING_OFF_SQES */,
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, lp.ring.ring_fd },
		{ (uint64_t)lp.ring.cq.ring_ptr, lp.ring.cq.ring_sz, 0x8000000 /* IORING_OFF_CQ_RING */,
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, lp.ring.ring_fd },
	};
	/* One mapping serves both rings where the kernel can (SINGLE_MMAP). */
	int n = m[2].start == m[0].start ? 2 : 3;

	if (map) {
		ns_track_mmaps(m, n);
		return;
	}
	for (int i = 0; i < n; i++)
		ns_track_munmap(m[i].start, m[i].len);
}

/* Starts the loop once something needs it; 0 or -errno. */
int loop_start(void)
{
	int r;

	if (lp.running)
		return 0;
	if (!lp.wake_fd) {
		long fd = sys_fd_hide(sys_call(SYS_eventfd2, 0, 0x80000 /* EFD_CLOEXEC */,
					       0, 0, 0, 0));
		if (fd < 0)
			return (int)fd;
		lp.wake_fd = (int)fd;
		wake_ino = sys_fd_ino(lp.wake_fd);
	}
	r = io_uring_queue_init(16, &lp.ring, 0);
	if (r == 0) {
		lp.ring.ring_fd = lp.ring.enter_ring_fd = (int)sys_fd_hide(lp.ring.ring_fd);
		ring_ino = sys_fd_ino(lp.ring.ring_fd);
		lp.uring = 1;
		ring_track(true);
	} else if (!said++) {
		ns_log("io_uring unavailable (%d); the control socket, timers and trace use poll(2)",
		       r);
	}
	lp.running = 1;
	r = ns_thread_start(loop_main);
	if (r < 0) {
		lp.running = 0;
		if (lp.uring)
			io_uring_queue_exit(&lp.ring);	/* reconciled at the next hook */
		lp.uring = 0;
		ns_mark_dirty_async();
		return r;
	}
	/* Before the program goes on (it may close every descriptor). */
	sys_flag_wait(&lp.started);
	return 0;
}

/* In the child of fork (lock held): the thread stayed with the parent;
 * the ring's memory is shared with it and must go, unused. */
void loop_after_fork(void)
{
	if (lp.uring) {
		ring_track(false);
		if (sys_fd_ino(lp.ring.ring_fd) != ring_ino)
			lp.ring.ring_fd = -1;	/* the program's now: unmap only */
		io_uring_queue_exit(&lp.ring);
	}
	if (lp.client)
		sys_close(lp.client);
	if (wake_ok())
		sys_close(lp.wake_fd);
	__builtin_memset(&lp, 0, sizeof(lp));
}
