/* SPDX-License-Identifier: MIT */
/*
 * runtime.h - what the preload boundary (interpose/) calls.
 *
 * Each ns_<call> performs the syscall itself (raw, never through libc) and
 * returns the kernel's answer: a value >= 0 or -errno.  Setting errno is the
 * caller's job.
 */
#ifndef NS_RUNTIME_H
#define NS_RUNTIME_H

#include <sys/types.h>

/* Starts the runtime.  redirect() points libc's and ld.so's own entry
 * points at the hooks; it is called before anything is learned, at once
 * when a setting needs the shadow, else when a dormant process wakes
 * (only while it has one thread: the writes are not atomic). */
int ns_init(void (*redirect)(void));
void ns_exit(void);
/* exit_group(2) once no thread of ours is inside the family lock. */
void ns_exit_group(int status) __attribute__((noreturn));
/* own: the program's own call (the exported symbol, syscall()), never one
 * libc makes inside malloc or stdio. */
long ns_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, bool own);
long ns_munmap(void *addr, size_t len);
long ns_mprotect(void *addr, size_t len, int prot);
long ns_madvise(void *addr, size_t len, int advice);
long ns_mremap(void *old, size_t oldlen, size_t newlen, int flags, void *new);
long ns_brk(void *addr);
long ns_execve(const char *path, char *const argv[], char *const envp[]);
/* fork through real_fork (libc's), keeping the family's shadow. */
pid_t ns_fork(pid_t (*real_fork)(void));
void ns_atfork_child(void);
/* An address-space change the runtime cannot see is starting (+1) or has
 * ended (-1): ld.so's mappings in dlopen, shmat. */
void ns_escape(int delta);
/* glibc-internal calls cannot be seen: reconcile at every hook. */
void ns_reconcile_always(void);
/* set_mempolicy(2), remembered for the fault handler. */
long ns_set_mempolicy(int mode, const unsigned long *mask, unsigned long maxnode);
long ns_mbind(void *addr, unsigned long len, int mode, const unsigned long *mask,
	      unsigned long maxnode, unsigned flags);
/* The calling thread's own policy, which the kernel gave it at its
 * creation (its creator's) or at exec: remembered the same way. */
void ns_thread_policy_inherited(void);
/* Whether thread policies are worth remembering now (placement is on). */
int ns_tracks_thread_policies(void);

#endif
