/* SPDX-License-Identifier: MIT */
/*
 * interpose.h - what the boundary's two files share: preload.c's
 * wrappers, where libc's and ld.so's stubs jump (redirect.c), and the
 * redirection itself, which the runtime starts (ns_init()).
 */
#ifndef NS_INTERPOSE_H
#define NS_INTERPOSE_H

#include <sys/types.h>

void *w_mmap(void *a, size_t l, int p, int f, int fd, off_t o);
int w_munmap(void *a, size_t l);
int w_mprotect(void *a, size_t l, int p);
int w_madvise(void *a, size_t l, int adv);
void *w_mremap(void *old, size_t ol, size_t nl, int f, void *na);
int w_brk(void *addr);
int w_execve(const char *p, char *const av[], char *const ev[]);
void w_exit(int status);

void ns_redirect(void);

#endif
