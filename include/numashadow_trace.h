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
#define NS_TRACE_VERSION 1

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
				 * kernel chose), tid = faulting thread */
	NS_TR_COW,		/* first write after fork: addr (one page), tid */
	NS_TR_MIGRATE,		/* engine call: addr, len, node = target,
				 * aux = pages moved */
	NS_TR_NEXT_TOUCH,	/* page moved on next touch: addr, node, tid */
	NS_TR_BALANCE,		/* page moved by the balancer: addr, node */
	NS_TR_LOST,		/* aux = records dropped before this one */
	NS_TR_NTYPES
};

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
