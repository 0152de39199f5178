/* SPDX-License-Identifier: MIT */
/*
 * lock_killer: children killed (SIGKILL) in the middle of their mmap and
 * munmap calls, some while they hold the family lock, must never wedge the
 * family: the parent and its next children go on.  Run under --verify by
 * tests/integration/lock_death.sh, which also counts how often the runtime
 * says a process died holding the lock: once per family at most.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 30;

	for (int i = 0; i < n; i++) {
		pid_t c = fork();
		if (c < 0)
			return 2;
		if (c == 0) {
			for (;;) {
				char *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE,
					       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (p != MAP_FAILED) {
					p[0] = 1;
					munmap(p, 1 << 16);
				}
			}
		}
		struct timespec t = { 0, (5 + i % 7) * 1000 * 1000 };
		nanosleep(&t, NULL);
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		/* The parent's own calls still work (and verify runs). */
		char *q = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q == MAP_FAILED)
			return 3;
		q[0] = 2;
		munmap(q, 4096);
	}
	printf("lock_killer: %d children killed\n", n);
	return 0;
}
