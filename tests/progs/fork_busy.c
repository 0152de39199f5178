/* SPDX-License-Identifier: MIT */
/*
 * fork_busy: a parent forks N children (argument 1, default 20) while two
 * of its threads keep mapping, writing and unmapping regions (16 KiB to
 * 1 MiB) and mallocing and freeing four times as much.  Each child maps,
 * writes and unmaps 1 MiB, mallocs and writes 1 MiB, and exits 0.  Prints
 * "fork_busy: N forks, K failed" and exits 0 when every child did.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1 << 20)

static volatile int done;

static void *mapper(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	while (!done) {
		size_t len = (size_t)(rand_r(&seed) % 64 + 1) * 16384;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			memset(p, 0x5a, len);
			munmap(p, len);
		}
		char *m = malloc(4 * len);
		if (m) {
			memset(m, 0xa5, len);
			free(m);
		}
	}
	return NULL;
}

static int child(void)
{
	char *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 2;
	memset(p, 1, MIB);
	munmap(p, MIB);
	char *m = malloc(MIB);
	if (!m)
		return 3;
	memset(m, 2, MIB);
	free(m);
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20, failed = 0;
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, mapper, (void *)(uintptr_t)(i + 7));
	for (int i = 0; i < n; i++) {
		int st;
		pid_t c = fork();
		if (c == 0) {
			alarm(30);
			_exit(child());
		}
		if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			failed++;
	}
	done = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("fork_busy: %d forks, %d failed\n", n, failed);
	return failed != 0;
}
