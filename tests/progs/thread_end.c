/* SPDX-License-Identifier: MIT */
/*
 * thread_end MODE: three ways a program's threads can end that leave the
 * process to end by itself.  tests/integration/real_programs.sh runs each
 * plainly and under every runtime setting and expects the same result.
 *
 *   main-first  main calls pthread_exit while a worker sleeps 100 ms,
 *               prints "worker: done" (buffered, not flushed) and returns:
 *               glibc then calls exit(0), which flushes the line.  Exit 0.
 *   raw-exit    one thread, which writes "raw-exit: bye" and ends with the
 *               raw exit system call (not exit_group): the process is gone
 *               with it.  Exit 3.
 *   fork-thread a second thread forks; the child's only thread (a copy of
 *               that one) calls pthread_exit, so the child exits 0 as its
 *               last thread ends.  The parent waits at most 8 s for it,
 *               prints "child: exit 0" (or what else it saw) and exits 0
 *               when the child exited 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *late_worker(void *arg)
{
	usleep(100000);
	printf("worker: done\n");	/* exit(0) at the last thread's end flushes it */
	return arg;
}

/* Wait for pid at most secs seconds; kill it when it overstays. */
static int wait_bounded(pid_t pid, int secs, int *status)
{
	for (int i = 0; i < secs * 100; i++) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0)
			return -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return 1;
}

static void *forking_worker(void *arg)
{
	(void)arg;
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return (void *)1;
	}
	if (pid == 0)
		pthread_exit(NULL);	/* the child's only thread: exit(0) follows */
	int st;
	int r = wait_bounded(pid, 8, &st);
	if (r < 0) {
		perror("waitpid");
		return (void *)1;
	}
	if (r > 0) {
		printf("child: still running after 8 s\n");
		return (void *)1;
	}
	if (WIFEXITED(st))
		printf("child: exit %d\n", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("child: killed by signal %d\n", WTERMSIG(st));
	return (void *)(long)!(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	pthread_t t;

	if (!strcmp(mode, "main-first")) {
		if (pthread_create(&t, NULL, late_worker, NULL))
			return 1;
		pthread_exit(NULL);
	}
	if (!strcmp(mode, "raw-exit")) {
		static const char bye[] = "raw-exit: bye\n";
		if (write(1, bye, sizeof(bye) - 1) < 0)
			return 1;
		syscall(SYS_exit, 3);
		return 1;	/* not reached */
	}
	if (!strcmp(mode, "fork-thread")) {
		void *r;
		if (pthread_create(&t, NULL, forking_worker, NULL))
			return 1;
		pthread_join(t, &r);
		return r != NULL;
	}
	fprintf(stderr, "usage: thread_end main-first|raw-exit|fork-thread\n");
	return 2;
}
