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

#include <stddef.h>
#include <stdint.h>
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

/* numashadow_migrate() flags. */
#define NUMASHADOW_MIGRATE_SYNC   0x1	/* wait for pages another migration
					 * holds, instead of skipping them */
#define NUMASHADOW_MIGRATE_SHARED 0x2	/* also move pages other processes
					 * map (needs CAP_SYS_NICE; without it
					 * they are counted as shared) */

/* Moves the present pages of [addr, addr + len) to node, with the kernel's
 * move_pages(2), keeping the shadow true for every process that maps them.
 * Returns the number of pages moved, or -errno (-EINVAL: bad node, range
 * or flags). */
long numashadow_migrate(void *addr, size_t len, int node, unsigned flags);

/* migrate_pages(2) for this process: moves every present page on a node
 * of the mask from (bit n: node n) to the matching node of to - the i-th
 * node of from to the i-th node of to, in ascending order - keeping the
 * shadow true for every process that maps them.  A node of from whose
 * match is itself keeps its pages; no page moves twice (from 0,1 to 1,2
 * moves node 1's pages to 2 before node 0's to 1).  Flags as for
 * numashadow_migrate().  Returns the number of pages moved, or -errno
 * (-EINVAL: an empty mask, masks naming different numbers of nodes, a node
 * that is not online, or bad flags). */
long numashadow_migrate_nodes(uint64_t from, uint64_t to, unsigned flags);

/* What this process's migrations did, by outcome. */
struct numashadow_migrate_stats {
	unsigned long calls;		/* engine runs: one per numashadow_migrate()
					 * call or contiguous range a policy moves */
	unsigned long moved;		/* pages moved to their target */
	unsigned long already;		/* pages already on the target */
	unsigned long failed_shared;	/* mapped by others, no CAP_SYS_NICE */
	unsigned long failed_not_present; /* gone before they could move */
	unsigned long failed_nomem;	/* target node full */
	unsigned long failed_fault;	/* not movable (e.g. the zero page) */
	unsigned long failed_busy;	/* still busy after every pass */
	unsigned long failed_other;	/* any other reason */
	unsigned long passes;		/* move_pages(2) passes made */
};

/* Fills *out; returns 0 or -errno. */
int numashadow_migrate_stats(struct numashadow_migrate_stats *out);

/* Next-touch: the next write to each present page of the range's
 * anonymous memory (stacks excepted) moves the page to the node of the
 * thread that writes it.  Reads are not seen.  Returns 0, or -errno
 * (-EOPNOTSUPP without userfaultfd write-protect). */
int numashadow_next_touch(void *addr, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* NUMASHADOW_H */
