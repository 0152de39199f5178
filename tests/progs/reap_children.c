/* SPDX-License-Identifier: MIT */
/*
 * reap_children N [MIB]: writes MIB MiB (default 0) of its own memory,
 * so that each child starts sharing that many pages, then forks N
 * children one at a time, each of which calls _exit(0) at once, and waits
 * for each.  It prints nothing when every child exited 0, else one line
 * per bad child (at most 10) and exits 1.  A runtime that keeps what it
 * knew of dead children runs out of room after some thousands of them;
 * tests/integration/real_programs.sh looks for that on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 0;
	size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 0;
	int bad = 0;

	if (mib) {
		char *p = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		memset(p, 0x5a, mib << 20);
	}
	for (long i = 0; i < n; i++) {
		int st;
		pid_t pid = fork();
		if (pid < 0) {
			printf("child %ld: fork failed\n", i);
			return 1;
		}
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			if (bad++ < 10)
				printf("child %ld: status 0x%x\n", i, st);
		}
	}
	return bad != 0;
}
