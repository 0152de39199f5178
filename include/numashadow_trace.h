/* SPDX-License-Identifier: MIT */
/*
 * numashadow_trace.h - the trace file format (docs/trace.md).
 *
 * A trace file is a header followed by fixed-size records, little-endian,
 * appended by every process of a family (O_APPEND, whole records only).
 * Each process numbers its records (seq: from 1, a fork child going on from
 * its parent's count, an exec'd image from 1 again).  Records dropped by a
 * full buffer take no number: an NS_TR_LOST record says how many; records
 * a failed write dropped leave a gap.  One process's records are in seq
 * order; the processes' runs of records interleave.
 */
#ifndef NUMASHADOW_TRACE_H
#define NUMASHADOW_TRACE_H

#include <stdint.h>

#define NS_TRACE_MAGIC "NSTRACE"	/* 8 bytes with its NUL */
#define NS_TRACE_VERSION 2

struct ns_trace_header {
	char magic[8];
	uint32_t version;
	uint32_t rec_size;	/* sizeof(struct ns_trace_rec) */
};

enum ns_trace_type {
	NS_TR_START = 1,	/* process start: aux = parent pid (0 for the first) */
	NS_TR_MMAP,		/* addr, len, aux = prot | flags << 8 (MAP_*) */
	NS_TR_MUNMAP,		/* addr, len */
	NS_TR_MPROTECT,		/* addr, len, aux = prot */
	NS_TR_MREMAP,		/* addr = old, len = new length, aux = flags;
				 * a NS_TR_MREMAP_TO follows when it moved */
	NS_TR_MREMAP_TO,	/* addr = new address, len = new length */
	NS_TR_MADVISE,		/* addr, len, aux = advice */
	NS_TR_BRK,		/* addr = new break */
	NS_TR_FORK,		/* aux = child pid */
	NS_TR_EXEC,		/* the image is replaced (records of the new one follow) */
	NS_TR_EXIT,		/* the process's last record */
	NS_TR_FAULT,		/* first touch filled: addr, len, node (-1: the
				 * kernel chose), tid = faulting thread,
				 * aux = site of the mapping (0: unknown) */
	NS_TR_COW,		/* first write after fork: addr (one page), tid */
	NS_TR_MIGRATE,		/* engine call: addr, len, node = target,
				 * aux = pages moved */
	NS_TR_NEXT_TOUCH,	/* page moved on next touch: addr, node, tid */
	NS_TR_BALANCE,		/* page moved by the balancer: addr, node */
	NS_TR_LOST,		/* aux = records dropped before this one */
	NS_TR_OBJECT,		/* an object code runs in: aux = object id (from
				 * 1, per process), addr = its load bias,
				 * len = bytes of its path, node = bytes of
				 * its GNU build id (0: none) */
	NS_TR_BYTES,		/* 16 bytes of an object's build id then path:
				 * aux = object id, node = which 16 (from 0),
				 * addr and len the bytes, in memory order */
	NS_TR_SITE,		/* an allocation call site, named the first time
				 * a mapping is made from it: aux = site id
				 * (from 1), node = its frames */
	NS_TR_FRAME,		/* one frame of a site: aux = site id, node =
				 * frame (0: the innermost), addr = return
				 * address, len = its offset in the object
				 * (address - load bias), tid = object id
				 * (-1: none known) */
	NS_TR_MIGRATE_END,	/* right after a MIGRATE: addr = its duration,
				 * ns; len = pages that failed; aux = pages
				 * already on the target; node = the errno
				 * move_pages(2) itself failed with, 0 none */
	NS_TR_MIGRATE_FAIL,	/* pages of that call that failed, one class:
				 * node = NS_TR_E* (an errno), aux = pages */
	NS_TR_SHARED,		/* at a process's exit, a run of its pages
				 * that relatives map too: addr = the first,
				 * len = pages; aux = 0: shared with some
				 * relative, else the pid of the relative
				 * that maps the whole run */
	NS_TR_NTYPES
};

/* NS_TR_MIGRATE_FAIL's classes: move_pages(2)'s per-page errors. */
#define NS_TR_EACCES	13	/* mapped by another process (no CAP_SYS_NICE) */
#define NS_TR_ENOENT	2	/* not present: gone before it could move */
#define NS_TR_ENOMEM	12	/* the target node is full */
#define NS_TR_EFAULT	14	/* not a movable page (the zero page) */
#define NS_TR_EBUSY	16	/* busy (-EBUSY, -EAGAIN) after every pass */
#define NS_TR_EOTHER	(-1)	/* any other error */

#define NS_TRACE_DEPTH	8	/* frames a site record gives at most */
#define NS_TRACE_BUILD_ID 32	/* bytes of a build id kept at most */
#define NS_TRACE_PATH	4095	/* bytes of an object's path at most */

struct ns_trace_rec {
	uint64_t seq;		/* increasing per process */
	uint64_t time;		/* CLOCK_MONOTONIC, ns */
	uint64_t addr;
	uint64_t len;		/* bytes */
	int32_t pid, tid;
	uint16_t type;		/* enum ns_trace_type */
	int16_t node;		/* -1 when none */
	uint32_t aux;		/* by type, above */
};

#endif
