/* SPDX-License-Identifier: MIT */
/*
 * test_self_fd_fork: a fork child can read its kept /proc/self/stat even
 * when another thread of the parent held that descriptor's busy flag at
 * the fork (the monitor and the loop read it, ns_thread_alone).  A thread
 * reads it in a loop while the main thread forks 200 times; each child
 * lets go of what the parent's threads held (sys_after_fork(), as
 * child_reset() does) and reads it once, with a one-second alarm: before
 * the reset existed, a child that inherited the flag set spun forever.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include "unit.h"
#include "sys.h"

static int stop;	/* atomic: the reader's end */

static void *reader(void *unused)
{
	bool kept;

	(void)unused;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
		sys_self_fd(SYS_SELF_STAT, &kept);
	return NULL;
}

static void child_reads_stat_after_fork(void **state)
{
	pthread_t th;
	bool kept;

	(void)state;
	sys_self_keep();
	assert_true(sys_self_fd(SYS_SELF_STAT, &kept) >= 0 && kept);
	assert_int_equal(pthread_create(&th, NULL, reader, NULL), 0);
	for (int i = 0; i < 200; i++) {
		int st;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			alarm(1);
			sys_after_fork();
			_exit(sys_self_fd(SYS_SELF_STAT, &kept) >= 0 ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			print_error("fork %d: child %s %d\n", i,
				    WIFSIGNALED(st) ? "killed by signal" : "exited",
				    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(child_reads_stat_after_fork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
