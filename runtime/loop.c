/* SPDX-License-Identifier: MIT */
/*
 * loop.c - the runtime's service thread: the control socket, timers and
 * trace writes, on poll(2).
 *
 * One thread per process, started only when a setting needs it, sleeps in
 * poll(2) until the first of: a client on the control socket, a client's
 * bytes or room to send it more, the next timer or client deadline, or a
 * wake-up (an eventfd: a timer added, the trace ring half full, a socket
 * replaced).  Timers run their work here, one at a time: a long one (a
 * migration) delays the others, never the program.  Trace records are
 * written with plain write(2) each time round.
 *
 * Clients never hold the loop: their sockets are non-blocking, at most
 * MAX_CLIENTS at once (one more takes the place of the one idle longest),
 * each read as
 * its bytes come and answered request by request (pipelined requests in
 * turn, a last one without its newline at EOF too, an oversized one with
 * an error line), closed once nothing more is asked, and dropped once idle
 * for CLIENT_IDLE_NS.
 *
 * io_uring served here once; a file write through it runs on the kernel's
 * io-wq workers, threads of the process that keep its thread count up
 * after the program's own have ended, and for one control client now and
 * then a ring gained nothing over poll(2) but a descriptor and three
 * mappings to keep from the program.
 *
 * Locking (the whole tree: arena.c): timers_busy is a spinlock over t[]
 * (loop_timer from any thread, run_timers here), held for a table edit
 * only, a leaf; running, started and wake_fd are the starting thread's
 * (services start once: at start-up, in a fork child, after a failed
 * exec); the clients belong to the loop thread (and to a fork child,
 * alone, in loop_after_fork).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "internal.h"
#include "sys.h"

#define MAX_TIMERS 8
#define MAX_CLIENTS 8
#define REQ_MAX 256		/* bytes of one request line, newline included */
#define OUT_MAX (256 * 1024)	/* a whole answer (ctl.c's limit too) */
#define TRACE_PERIOD_NS (20 * 1000 * 1000ULL)
#define CLIENT_IDLE_NS (2 * 1000 * 1000 * 1000ULL)
#define WAKELESS_NS (100 * 1000 * 1000ULL)
#define ALONE_NS (1000 * 1000 * 1000ULL)

struct timer {
	uint64_t due, period;	/* CLOCK_MONOTONIC ns; period 0: once */
	void (*fn)(void);
};

struct client {
	int fd;			/* 0: free slot */
	uint64_t ino;		/* to know the descriptor again */
	uint64_t deadline;	/* dropped when idle past it */
	bool eof;		/* the client sent all it will */
	size_t got;		/* request bytes held */
	char req[REQ_MAX];
	size_t out_len, out_off;	/* the answer being sent */
	char out[OUT_MAX];
};

static struct {
	int running;		/* the thread is started (starting thread) */
	uint32_t started;	/* ... and runs (set by the loop, futex) */
	int wake_fd;		/* eventfd, 0 when none (starting thread) */
	uint64_t wake_buf;	/* the loop's */
	uint32_t timers_busy;	/* spinlock of t[] */
	struct timer t[MAX_TIMERS];	/* timers_busy */
	struct client c[MAX_CLIENTS];	/* the loop's */
} lp NS_BIG;

static uint64_t wake_ino;	/* to know our eventfd again */

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

/* ---- clients ---- */

static void client_close(struct client *c)
{
	char sink[4096];

	if (sys_fd_ino(c->fd) == c->ino) {	/* never the program's, were it reused */
		/* What the client sent that we will not read goes first:
		 * closing over unread bytes resets the connection, and the
		 * client could lose our last line. */
		for (int i = 0; i < 16 && sys_recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
			;
		sys_close(c->fd);
	}
	c->fd = 0;
}

/* The answer to the next whole request held, once the last one is sent:
 * requests are answered in turn.  A request with no newline is whole at
 * EOF; one that fills the buffer without a newline is refused. */
static void client_answer(struct client *c)
{
	const char *ans;
	char *nl;
	size_t len, used;

	if (c->out_len)
		return;
	nl = __builtin_memchr(c->req, '\n', c->got);
	if (nl) {
		*nl = 0;
		used = (size_t)(nl - c->req) + 1;
	} else if (c->got == REQ_MAX - 1) {
		static const char e[] = "error: request too long (at most 254 bytes and a newline)\n";
		__builtin_memcpy(c->out, e, sizeof(e) - 1);
		c->out_len = sizeof(e) - 1;
		c->got = 0;
		c->eof = true;	/* what follows is not a request */
		return;
	} else if (c->eof && c->got) {
		c->req[c->got] = 0;
		used = c->got;
	} else {
		return;
	}
	len = ctl_answer(c->req, &ans);
	__builtin_memcpy(c->out, ans, len);
	c->out_len = len;
	c->out_off = 0;
	__builtin_memmove(c->req, c->req + used, c->got - used);
	c->got -= used;
}

/* The client's socket is ready (revents from poll). */
static void client_io(struct client *c, short revents)
{
	long n;

	if (sys_fd_ino(c->fd) != c->ino) {
		c->fd = 0;	/* the program closed it and reused the number */
		return;
	}
	if ((revents & POLLIN) && !c->eof) {
		n = sys_recv(c->fd, c->req + c->got, REQ_MAX - 1 - c->got, MSG_DONTWAIT);
		if (n > 0)
			c->got += (size_t)n;
		else if (n == 0)
			c->eof = true;
		else if (n != -EAGAIN && n != -EINTR)
			{ client_close(c); return; }
	}
	if ((revents & (POLLERR | POLLNVAL)) ||
	    ((revents & POLLHUP) && !(revents & POLLIN)))
		{ client_close(c); return; }
	client_answer(c);
	if (c->out_len) {
		n = sys_send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			     MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && n != -EAGAIN && n != -EINTR)
			{ client_close(c); return; }
		if (n > 0 && (c->out_off += (size_t)n) == c->out_len) {
			c->out_len = c->out_off = 0;
			client_answer(c);	/* a pipelined one, next */
			/* Nothing more asked: the answer ends with the
			 * connection, which the command reads to its end. */
			if (!c->out_len && !c->got)
				c->eof = true;
		}
	}
	if (c->eof && !c->out_len && !c->got)
		{ client_close(c); return; }
	if (revents & (POLLIN | POLLOUT))
		c->deadline = sys_now_ns() + CLIENT_IDLE_NS;
}

/* Takes one waiting client; false when none was waiting. */
static bool client_accept(int listen)
{
	long fd = sys_accept4(listen, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct client *c = NULL;

	if (fd < 0)
		return false;
	fd = sys_fd_hide(fd);	/* out of the program's range */
	if (!ctl_peer_ok((int)fd)) {
		sys_close((int)fd);
		return true;
	}
	/* A free slot, or the one idle the longest: a crowd of silent
	 * clients never keeps the next one out. */
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (!c || !lp.c[i].fd || (c->fd && lp.c[i].deadline < c->deadline))
			c = &lp.c[i];
	if (c->fd)
		client_close(c);
	c->fd = (int)fd;
	c->ino = sys_fd_ino((int)fd);
	c->deadline = sys_now_ns() + CLIENT_IDLE_NS;
	c->eof = false;
	c->got = c->out_len = c->out_off = 0;
	return true;
}

/* ---- the loop ---- */

static void loop_run(void)
{
	for (;;) {
		struct pollfd pf[2 + MAX_CLIENTS];
		struct client *who[2 + MAX_CLIENTS];
		uint64_t next = run_timers(), now;
		int n = 0, lfd = ctl_fd();

		trace_flush_sync();
		pf[n++] = (struct pollfd){ wake_ok() ? lp.wake_fd : -1, POLLIN, 0 };
		pf[n++] = (struct pollfd){ lfd, POLLIN, 0 };
		now = sys_now_ns();
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &lp.c[i];
			if (!c->fd)
				continue;
			if (now >= c->deadline) {
				client_close(c);	/* idle too long */
				continue;
			}
			if (c->deadline - now < next)
				next = c->deadline - now;
			who[n] = c;
			pf[n++] = (struct pollfd){ c->fd,
				(short)((c->eof ? 0 : POLLIN) | (c->out_len ? POLLOUT : 0)), 0 };
		}
		int ms = next == ~0ULL ? -1 : (int)((next + 999999) / 1000000);
		if (sys_poll(pf, n, ms) <= 0)
			continue;
		if (pf[0].revents)
			sys_read(lp.wake_fd, &lp.wake_buf, sizeof(lp.wake_buf));
		/* The clients polled first: a new one may take a polled
		 * one's slot, and must not get its events. */
		for (int k = 2; k < n; k++)
			if (pf[k].revents && who[k]->fd)
				client_io(who[k], pf[k].revents);
		/* Every client waiting, not one a round: the listen queue
		 * is short. */
		for (int k = 0; lfd >= 0 && (pf[1].revents & POLLIN) && k < 4 * MAX_CLIENTS &&
		     client_accept(lfd); k++)
			;
	}
}

static void *loop_main(void *unused)
{
	(void)unused;
	/* Every signal is blocked from the start (ns_thread_start()). */
	ns_in_runtime = 1;	/* our own calls pass straight to the kernel */
	sys_flag_set(&lp.started);
	loop_run();
	return NULL;
}

/* Starts the loop once something needs it; 0 or -errno. */
int loop_start(void)
{
	int r;

	if (lp.running)
		return 0;
	ns_fork_resets_mark(NS_FR_LOOP);
	if (!lp.wake_fd) {
		long fd = sys_fd_hide(sys_eventfd(0, O_CLOEXEC));
		if (fd < 0)
			return (int)fd;
		lp.wake_fd = (int)fd;
		wake_ino = sys_fd_ino(lp.wake_fd);
	}
	lp.running = 1;
	r = ns_thread_start(loop_main);
	if (r < 0) {
		lp.running = 0;
		return r;
	}
	/* Before the program goes on (it may close every descriptor). */
	sys_flag_wait(&lp.started);
	return 0;
}

/* In the child of fork (lock held): the thread stayed with the parent;
 * its clients are the parent's to answer. */
void loop_after_fork(void)
{
	/* Closed, not drained: the sockets are the parent's too, and what
	 * is unread there is the parent's to read. */
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (lp.c[i].fd) {	/* read first: each slot is pages apart */
			if (sys_fd_ino(lp.c[i].fd) == lp.c[i].ino)
				sys_close(lp.c[i].fd);
			lp.c[i].fd = 0;
		}
	if (wake_ok())
		sys_close(lp.wake_fd);
	/* Field by field: the clients' buffers are megabytes, untouched. */
	lp.running = 0;
	lp.started = 0;
	lp.wake_fd = 0;
	lp.timers_busy = 0;	/* another thread may have held it */
	__builtin_memset(lp.t, 0, sizeof(lp.t));
}
