/* SPDX-License-Identifier: MIT */
/*
 * touch_and_fork: a small program with something for every shadow table to
 * hold - private anonymous pages written, a MAP_SHARED anonymous region, a
 * mprotect'ed range, and a child that shares the private pages after fork
 * and writes one of them.  The child asks for a full check
 * (numashadow_verify(), when the runtime is loaded) while the pages are
 * still shared, then exits; the parent waits and exits with the child's
 * status if it failed, else 0.  It prints nothing on stdout.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPAGES 16

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	signal(SIGPIPE, SIG_IGN);	/* a child ended early shows in its status */
	int (*verify)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "numashadow_verify");

	char *p = mmap(NULL, NPAGES * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *s = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || s == MAP_FAILED)
		return 1;
	for (int i = 0; i < NPAGES; i++)
		p[i * pg] = (char)i;
	for (int i = 0; i < 4; i++)
		s[i * pg] = (char)i;
	if (mprotect(p + 4 * pg, 2 * pg, PROT_READ))
		return 1;

	int ready[2], done[2];
	if (pipe(ready) || pipe(done))
		return 1;
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		char c = 0;
		close(ready[0]);
		close(done[1]);
		p[0] = 1;	/* one page copied, the others still shared */
		s[0] = 1;
		int r = verify && verify() > 0 ? 86 : 0;
		if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) != 1)
			_exit(1);
		exit(r);
	}
	/* Only the child holds these ends now: if verify ends the child, the
	 * read below sees end of file instead of waiting forever. */
	close(ready[1]);
	close(done[0]);
	char c = 0;
	int r = 0;
	if (read(ready[0], &c, 1) == 1) {
		/* The parent checks too while the child still maps the pages. */
		r = verify && verify() > 0 ? 86 : 0;
		if (write(done[1], &c, 1) != 1)
			r = r ? r : 1;	/* the child is gone: its status tells why */
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return 1;
	if (!WIFEXITED(st))
		return 1;
	if (WEXITSTATUS(st))
		return WEXITSTATUS(st);
	if (s[0] != 1 || p[0] != 0)
		return 1;
	return r;
}
