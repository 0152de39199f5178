/* SPDX-License-Identifier: MIT */
/*
 * chatty [STATUS]: a program whose standard output is known in advance, for
 * the tests that compare a run under the preload with one without it.  It
 * prints lines while it allocates, maps, forks a child that prints too, and
 * runs threads whose results it prints in a fixed order; each line is
 * flushed at once so a run cut short leaves a prefix.  It tells on stderr,
 * never on stdout, whether the runtime is active ("chatty: runtime active",
 * "inactive" or "absent") and exits with STATUS (default 0).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *fmt, unsigned long v)
{
	printf(fmt, v);
	fflush(stdout);
}

static void *sum_thread(void *arg)
{
	unsigned long n = (unsigned long)arg, s = 0;
	unsigned long *v = malloc(n * sizeof(*v));
	if (!v)
		return NULL;
	for (unsigned long i = 0; i < n; i++)
		v[i] = i * i;
	for (unsigned long i = 0; i < n; i++)
		s += v[i];
	free(v);
	return (void *)s;
}

static const char *runtime_state(void)
{
	int (*verify)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "numashadow_verify");
	if (!verify)
		return "absent";
	return verify() == -ENOSYS ? "inactive" : "active";
}

int main(int argc, char **argv)
{
	int status = argc > 1 ? atoi(argv[1]) : 0;
	long pg = sysconf(_SC_PAGESIZE);

	say("chatty: start %lu\n", 1);
	char *big = malloc(8 << 20);
	if (!big)
		return 1;
	memset(big, 7, 8 << 20);
	unsigned long s = 0;
	for (long i = 0; i < (8 << 20); i += pg)
		s += big[i];
	say("malloc 8 MiB, page sum %lu\n", s);
	free(big);

	char *m = mmap(NULL, 16 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 1;
	for (int i = 0; i < 16; i++)
		m[i * pg] = (char)i;
	say("mmap 16 pages, last %lu\n", (unsigned long)m[15 * pg]);

	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		m[0] = 42;
		say("child writes %lu\n", (unsigned long)m[0]);
		exit(0);	/* not _exit: the runtime checks at exit, pages still shared */
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 1;
	say("child exited %lu\n", (unsigned long)WEXITSTATUS(st));
	say("parent still reads %lu\n", (unsigned long)m[0]);
	munmap(m, 16 * pg);

	pthread_t t[4];
	for (unsigned long i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, sum_thread, (void *)(1000 * (i + 1))))
			return 1;
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		say("thread sum %lu\n", (unsigned long)r);
	}

	fprintf(stderr, "chatty: runtime %s\n", runtime_state());
	say("chatty: end %lu\n", 2);
	return status;
}
