/* SPDX-License-Identifier: MIT */
/*
 * exit_in_hook [N]: N children, one after another, each with a thread
 * that maps, touches and unmaps in a loop - inside a hook, holding the
 * family lock, most of the time - while its main thread ends the child
 * with _exit once the loop is going.  The kernel ends both threads at
 * once; the parent then maps and unmaps (verify runs).  Run under
 * --verify by tests/integration/exit_in_hook.sh: an _exit is the
 * program's own end, not a kill, and must never leave the family lock to
 * a dead holder (the runtime would say "died holding the family lock").
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned long rounds;	/* the worker's loops (atomic) */

static void *mapper(void *arg)
{
	(void)arg;
	for (;;) {
		char *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			p[0] = 1;
			munmap(p, 1 << 16);
		}
		__atomic_add_fetch(&rounds, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 40;

	for (int i = 0; i < n; i++) {
		pid_t c = fork();
		if (c < 0)
			return 2;
		if (c == 0) {
			pthread_t t;
			if (pthread_create(&t, NULL, mapper, NULL))
				_exit(4);
			/* Counted, not timed: the loop has run a while. */
			while (__atomic_load_n(&rounds, __ATOMIC_RELAXED) < 100 + (unsigned)i * 7)
				sched_yield();
			_exit(0);
		}
		int st;
		if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
			return 3;
		char *q = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q == MAP_FAILED)
			return 3;
		q[0] = 2;
		munmap(q, 4096);
	}
	printf("exit_in_hook: %d children ended by _exit\n", n);
	return 0;
}
