/* SPDX-License-Identifier: MIT */
/*
 * numashadow.h - the small public API of libnumashadow.so.
 *
 * A program may call these when it runs under the preload.  When it may run
 * without it, look them up with dlsym(RTLD_DEFAULT, "numashadow_verify") etc.
 * Every function returns >= 0 on success or a negative errno value; none of
 * them sets errno.  -ENOSYS means the runtime is not active in this process.
 */
#ifndef NUMASHADOW_H
#define NUMASHADOW_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NUMASHADOW_VERSION "0.1.0"

/* One process mapping a page, as the reverse map finds it. */
struct numashadow_mapper {
	pid_t pid;	/* process of the family that maps the page */
	void *addr;	/* where the page is mapped in that process */
};

/* NUMA node of the page holding addr: >= 0; -ENOENT when no page is present
 * there, -EFAULT when addr is not mapped. */
int numashadow_page_node(const void *addr);

/* Every (process, address) of the family that maps the page holding addr,
 * found through the reverse map.  Fills at most max entries of out and
 * returns how many mappers there are (which may exceed max). */
int numashadow_page_mappers(const void *addr, struct numashadow_mapper *out,
			    int max);

/* Check the shadow tables against the kernel now (VMAs, pages, reverse map).
 * Returns 0, or the number of differences found (each printed to stderr as
 * "numashadow: verify: ..."). */
int numashadow_verify(void);

#ifdef __cplusplus
}
#endif

#endif /* NUMASHADOW_H */
