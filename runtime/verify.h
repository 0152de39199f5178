/* SPDX-License-Identifier: MIT */
/*
 * verify.h - what the checker (verify.c), the page learner (learn.c: the
 * pagemap scan; sync.c: one page) and the runtime's own memory (own.c)
 * share among themselves alone: the scans' scratch, the pages a check saw,
 * the reports and the scan.  Included by no other file.  Everything here
 * is used with the family lock held: the scratch is one buffer, written
 * only under it.
 */
#ifndef NS_VERIFY_H
#define NS_VERIFY_H
#include "internal.h"

#define MAX_KVMA 65536
#define CHUNK 4096
#define MAX_KIN 16		/* relatives of one page remembered */

struct fix {
	uint64_t start, end;
	int k;			/* kernel VMA to copy, -1: unmap */
};

/* What the root-only checks need of each present anonymous page. */
struct seen {
	uint64_t pfn;
	uint64_t vpn;
	uint32_t proc, page;
};
#define MAX_SEEN (1 << 20)

/* ---- own.c: the runtime's own memory ---- */

/* Everything the scans write, in one place: the runtime touches these pages
 * while it reads pagemap, so they are left out of page tracking (like the
 * arena) instead of racing the scan that would learn them. */
struct ns_scratch {
	char maps[8 << 20];
	struct ns_kvma kvma[MAX_KVMA];
	uint32_t svma[MAX_KVMA];
	struct fix fixes[4096];
	uint64_t pm[CHUNK];
	uint64_t pm_after[CHUNK];	/* the chunk again, after its node query */
	void *addrs[CHUNK];
	uint32_t pages_q[CHUNK];
	int status[CHUNK];
	struct seen seen[MAX_SEEN];
} __attribute__((aligned(4096)));
extern struct ns_scratch ns_scr;	/* defined in own.c */
/* Is addr the scratch's or a buffer ns_exclude() left out (the same
 * address in every member)? */
bool own_is_scratch(uint64_t addr);

/* ---- verify.c: the checks and their reports ---- */

extern int verify_nseen;	/* ns_scr.seen[0, verify_nseen): the look's pages */
/* Says one difference (unless the look is quiet); returns 1 if it counts. */
int verify_report(pid_t pid, uint64_t a, uint64_t b, const char *what);
/* Says where the shadow has page pg mapped (a slow walk, for reports). */
void verify_report_ptes(uint32_t pg);

/* ---- learn.c: the pagemap scan ---- */

/* Learns (and with check, verifies) one proc's pages in [lo, hi); returns
 * the differences. */
int learn_range(uint32_t proc, bool check, uint64_t lo, uint64_t hi);

/* ---- sync.c: one present page ---- */

/* Learns one present page from its pagemap entry e; returns the
 * descriptor now mapped there, or 0. */
uint32_t sync_page(uint32_t vma, uint64_t vpn, uint64_t e);

#endif
