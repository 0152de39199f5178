/* SPDX-License-Identifier: MIT */
/*
 * vfork_exec: vfork under the preload is the kernel's vfork, not a fork.
 * The child shares the parent's memory until it execs or exits, so a value
 * it stores is there for the parent to read, and the parent resumes only
 * after the child is gone.  The runtime keeps no record of such a child: a
 * page the parent wrote has the parent as its only mapper, and
 * numashadow_verify() finds nothing after
 *   - vfork + _exit (the child maps and unmaps a page first: its hooks pass
 *     to the kernel, as a clone sharing our memory),
 *   - vfork + execve of /bin/true,
 *   - posix_spawn of /bin/true (glibc's clone with CLONE_VM | CLONE_VFORK).
 * The whole is run twice: under `numashadow run --verify` (awake) and again
 * with the library preloaded and no setting (dormant).
 */
#include <spawn.h>
#include "helpers.h"

extern char **environ;

static struct ns_api api;
static volatile int shared_word;

static void check_alone(const char *step, char *page)
{
	struct numashadow_mapper me = { getpid(), page };

	if (ns_mappers_diff(&api, page, &me, 1))
		t_fail("%s: the written page's mappers are not this process alone", step);
	ns_verify_clean(&api, step);
}

static void run(char *page)
{
	int st;
	pid_t pid;

	shared_word = 0;
	pid = vfork();
	if (pid == 0) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			munmap(p, 4096);
		shared_word = 42;
		_exit(p == MAP_FAILED ? 3 : 0);
	}
	t_assert(pid > 0);
	/* A full fork would leave our copy at 0. */
	if (shared_word != 42)
		t_fail("vfork + _exit: the child's store did not reach the parent (%d): a fork, not a vfork",
		       shared_word);
	ns_wait_ok(pid, "vfork child");
	check_alone("vfork + _exit", page);

	char *const argv[] = { "/bin/true", NULL };
	pid = vfork();
	if (pid == 0) {
		execve(argv[0], argv, environ);
		_exit(127);
	}
	t_assert(pid > 0);
	t_assert(waitpid(pid, &st, 0) == pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		t_fail("vfork + execve /bin/true: status %#x", st);
	check_alone("vfork + execve", page);

	t_assert(posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) == 0);
	t_assert(waitpid(pid, &st, 0) == pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		t_fail("posix_spawn /bin/true: status %#x", st);
	check_alone("posix_spawn", page);
}

int main(int argc, char **argv)
{
	ns_test_preload(argv);
	t_assert(ns_api_get(&api) == 0);
	char *page = ns_map_guarded(1, PROT_READ | PROT_WRITE);
	page[0] = 1;
	run(page);
	if (argc > 1 && !strcmp(argv[1], "dormant")) {
		printf("dormant: ok\n");
		return T_PASS;
	}
	printf("awake (--verify): ok\n");

	/* Again with the library and no setting at all. */
	ns_rerun_dormant(argv);
	return T_PASS;
}
