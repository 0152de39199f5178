/* SPDX-License-Identifier: MIT */
/*
 * no_uring PROG [ARG...]: runs PROG where io_uring is refused, as under
 * kernel.io_uring_disabled=2 or a container's seccomp profile.  A seccomp
 * filter, inherited across fork and exec, makes io_uring_setup(2) fail
 * with EPERM; everything else passes.  The wrapper checks the refusal
 * before it execs PROG, and exits 1 when it cannot set it up.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include "helpers.h"

int main(int argc, char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(*f), f };
	char params[120] = { 0 };

	if (argc < 2) {
		fprintf(stderr, "usage: no_uring PROG [ARG...]\n");
		return T_FAIL;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		t_fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0))
		t_fail("PR_SET_SECCOMP: %s", strerror(errno));
	if (syscall(SYS_io_uring_setup, 4, params) != -1 || errno != EPERM)
		t_fail("io_uring_setup(2) still works under the filter");
	execvp(argv[1], argv + 1);
	t_fail("cannot exec %s: %s", argv[1], strerror(errno));
}
