/* SPDX-License-Identifier: MIT */
/*
 * own.c - the runtime's own memory, which page tracking leaves alone: its
 * library data and bss and its threads' stacks (ns_own_add), the buffers
 * it writes while it scans (ns_exclude), and the scans' scratch itself
 * (ns_scr).  Fixed tables, no allocation.  Callers hold the family lock,
 * or run before the runtime has threads.
 */
#include "internal.h"
#include "sys.h"
#include "verify.h"

struct ns_scratch ns_scr NS_BIG;

/* Other runtime buffers that are written while the shadow is learned. */
static struct { uint64_t start, end; } excluded[8];

void ns_exclude(const void *start, size_t len)
{
	for (int i = 0; i < 8; i++)
		if (!excluded[i].end || excluded[i].start == ((uint64_t)start & ~(NS_PAGE_SIZE - 1))) {
			excluded[i].start = (uint64_t)start & ~(NS_PAGE_SIZE - 1);
			excluded[i].end = NS_PAGE_ALIGN((uint64_t)start + len);
			return;
		}
}

/* The runtime's own writable memory (library data and bss). */
static struct { uint64_t start, end; } own[8];

void ns_own_del(uint64_t start, uint64_t end)
{
	for (int i = 0; i < 8; i++)
		if (own[i].start == start && own[i].end == end)
			own[i].start = own[i].end = 0;
}

void ns_own_add(uint64_t start, uint64_t end)
{
	for (int i = 0; i < 8; i++)
		if (!own[i].end || (own[i].start == start && own[i].end == end)) {
			own[i].start = start;
			own[i].end = end;
			return;
		}
}

bool ns_own_overlaps(uint64_t start, uint64_t end)
{
	for (int i = 0; i < 8; i++)
		if (start < own[i].end && end > own[i].start)
			return true;
	for (int i = 0; i < 8 && excluded[i].end; i++)
		if (start < excluded[i].end && end > excluded[i].start)
			return true;
	return start < (uint64_t)(&ns_scr + 1) && end > (uint64_t)&ns_scr;
}

bool own_is_scratch(uint64_t addr)
{
	if (addr >= (uint64_t)&ns_scr && addr < (uint64_t)(&ns_scr + 1))
		return true;
	for (int i = 0; i < 8 && excluded[i].end; i++)
		if (addr >= excluded[i].start && addr < excluded[i].end)
			return true;
	return false;
}
