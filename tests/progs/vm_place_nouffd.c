/* SPDX-License-Identifier: MIT */
/*
 * vm_place_nouffd PROG [ARG...]: runs PROG where userfaultfd does not
 * exist, as on a kernel built without it.  A seccomp filter, inherited
 * across fork and exec, makes userfaultfd(2) and the /dev/userfaultfd
 * ioctl USERFAULTFD_IOC_NEW fail with ENOSYS; everything else passes.  The
 * wrapper checks both refusals before it execs PROG, and exits 1 when it
 * cannot set them up.  tests/vm/place_no_uffd.sh runs vm_place under it.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include "helpers.h"

#define ARG_LO(n) (offsetof(struct seccomp_data, args[n]))	/* little endian */

static void refuse_userfaultfd(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_userfaultfd, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 3),
		/* ioctl's request is an unsigned int: the low half only. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, USERFAULTFD_IOC_NEW, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(*f), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		t_fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0))
		t_fail("PR_SET_SECCOMP: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: vm_place_nouffd PROG [ARG...]\n");
		return T_FAIL;
	}
	refuse_userfaultfd();
	if (syscall(SYS_userfaultfd, O_CLOEXEC) != -1 || errno != ENOSYS)
		t_fail("userfaultfd(2) still works under the filter");
	fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		if (ioctl(fd, USERFAULTFD_IOC_NEW, O_CLOEXEC) != -1 || errno != ENOSYS)
			t_fail("/dev/userfaultfd still gives a userfaultfd under the filter");
		close(fd);
	}
	execvp(argv[1], argv + 1);
	t_fail("cannot exec %s: %s", argv[1], strerror(errno));
}
