/* SPDX-License-Identifier: MIT */
/*
 * report.h - `numashadow report`: what tools/trace.c counts while it reads
 * a trace (struct rp), shared with the writers that print it: text and
 * JSON in tools/trace.c, HTML in tools/report_html.c.
 *
 * Glossary: a *mapping* is an MMAP or MREMAP_TO record's range in its
 * process (rp_map while it lives, rp_mstat for its pages, kept after it
 * is gone); a *bucket* is one hundredth of the run, from the earliest
 * record's time to the latest's; an *event* is a FAULT or a move that
 * fell in a mapping, kept for the HTML heatmap.
 */
#ifndef NS_TOOLS_REPORT_H
#define NS_TOOLS_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TR_PAGE_SHIFT	12	/* the runtime tracks 4 KiB pages */
#define TR_NODES	64	/* nodes 0 to 63, as the runtime */
#define TR_KERNEL	TR_NODES	/* placed[] slot: the kernel chose */

/* A process's pages on one node (or TR_KERNEL): few nodes per process,
 * so a short list rather than a slot per possible node. */
struct tr_node_pages {
	int32_t node;		/* 0 to TR_NODES - 1, or TR_KERNEL */
	uint64_t placed;	/* pages first touched there */
	uint64_t moved;		/* pages migrated there */
};

/* One process: about 100 bytes, so that --summary's memory follows the
 * number of processes, not the size of the file. */
struct tr_proc {
	int32_t pid;
	uint32_t nnodes;	/* entries in nodes */
	struct tr_node_pages *nodes;	/* in order of first use; NULL: none */
	int64_t parent;		/* from START: 0 none, -1 no START seen */
	uint64_t last_seq;	/* 0: numbering (re)starts */
	uint64_t recs, mmaps, munmaps, cows, next_touch, balance, lost;
	uint64_t targets;	/* nodes a migration aimed at, moved or not */
};

/* Pages by node, spread out for printing one row. */
struct tr_pages {
	uint64_t placed[TR_NODES + 1];	/* by node; [TR_KERNEL] */
	uint64_t moved[TR_NODES];	/* by target node */
};

/* Processes in order of their first record, found by pid through an
 * open-addressing table of indices + 1. */
struct tr_procs {
	struct tr_proc *v;
	size_t n, cap;
	uint32_t *slot;
	size_t nslots;		/* a power of two, more than twice n */
};

/* ---- report: one run's numbers ---- */

/*
 * Pages are grouped by the mapping they fell in.  Memory is bounded: at
 * most RP_MAX_MAPS live mappings and as many with pages, at most
 * RP_MAX_PAGES pages followed for ping-pong, RP_MAX_EVENTS heatmap
 * events; the output says when a cap was hit.  The fuzzer's build sets
 * them small (Makefile).
 */
#ifndef RP_MAX_MAPS
#define RP_MAX_MAPS	8192u	/* sorted insertion: O(n) each, keep n modest */
#endif
#ifndef RP_MAX_PAGES
#define RP_MAX_PAGES	(1u << 18)	/* 1 GiB of 4 KiB pages, 8 MiB of table */
#endif
#ifndef RP_MAX_EVENTS
#define RP_MAX_EVENTS	(1u << 17)	/* heatmap events: 4 MiB */
#endif
#define RP_FAULT_PAGES	512	/* the runtime fills at most 512 pages a fault */
#define RP_TOP		10	/* mappings listed */
#define RP_TOP_PAGES	5	/* ping-pong pages listed */
#define RP_PARENTS	8	/* fork generations looked up for a mapping */
#define RP_BUCKETS	100	/* the run in hundredths, for the charts */

/* A live mapping: [start, end) of pid, what is left of it. */
struct rp_map {
	int32_t pid;
	uint32_t stat;		/* index + 1 into rp.stats, 0: no pages yet */
	uint64_t start, end;
	uint64_t addr, len;	/* as recorded when made */
};

/* The pages of one mapping, kept after it is gone. */
struct rp_mstat {
	int32_t pid;
	uint64_t addr, len;
	uint64_t placed[TR_NODES + 1];	/* [TR_KERNEL]: the kernel chose */
	uint64_t placed_total, migrated;
};

/* A page's node, and the nodes it left, for ping-pong. */
struct rp_page {
	uint64_t addr;		/* page address; 0: a free slot */
	uint64_t left;		/* bit n: the page has left node n */
	int32_t pid;
	int16_t node;		/* -1: unknown */
	uint16_t pad;
	uint32_t returns;	/* moves back to a node it had left */
};

struct rp_move {
	uint64_t calls, none, range_pages, pages;	/* migrate: calls moving nothing */
	uint64_t calls_to[TR_NODES], pages_to[TR_NODES];
};

/* Pages placed and moved per node in each bucket of the run. */
struct rp_timeline {
	uint64_t placed[TR_NODES + 1][RP_BUCKETS];	/* [TR_KERNEL]: kernel's choice */
	uint64_t moved[TR_NODES][RP_BUCKETS];		/* by target node */
};

/* A FAULT or a move inside a mapping, for the heatmap. */
struct rp_event {
	uint32_t stat;		/* index into rp.stats */
	uint8_t bucket;		/* 0 to RP_BUCKETS - 1 */
	uint8_t moved;		/* 0: a first touch, 1: a move */
	int16_t node;		/* 0 to TR_NODES - 1, or TR_KERNEL */
	uint64_t off, len;	/* bytes from the mapping's start, clipped to it */
};

struct rp {
	struct tr_procs ps;
	uint64_t t0, t1;	/* earliest and latest record, ns */
	struct rp_map *maps;	/* by pid, then start; never overlapping */
	size_t nmaps, maps_skipped;
	struct rp_mstat *stats;
	size_t nstats, stats_skipped;
	struct rp_page *pages;
	size_t npages, nslots;
	uint64_t pages_skipped;
	struct rp_move migrate, next_touch, balance;
	uint64_t lost_recs, lost_said;	/* LOST records, what they say */
	uint64_t un_placed, un_migrated;	/* outside any recorded mapping */
	uint64_t recs;
	struct rp_timeline *tl;	/* NULL: not kept (text and JSON) */
	struct rp_event *ev;	/* NULL: not kept */
	size_t nev, ev_skipped;
};

/* What every output prints, worked out once from an rp (rp_sum()). */
struct rp_sum {
	const char *path;	/* the trace file, as given */
	struct tr_proc fam;	/* the family's counts */
	struct tr_pages pg;	/* the family's pages by node */
	uint64_t span;		/* run time, ns */
	uint64_t placed, moved;	/* pages placed at first touch; moved, all reasons */
	size_t top[2][RP_TOP], ntop[2];	/* [0] by pages placed, [1] migrated */
	const struct rp_page *ptop[RP_TOP_PAGES];
	size_t npt;
	uint64_t pp_pages, pp_returns;	/* ping-pong */
	int maps_cut;		/* a mapping cap was hit */
};

/* tools/trace.c */

/* "0:64 1:3 kernel:2", or "-" for none, into buf (NODES_BUF is enough);
 * nodes in show appear even with no pages. */
void nodes_format(char *buf, size_t size, const uint64_t *pages, int n, uint64_t show);
#define NODES_BUF ((TR_NODES + 1) * 32)

/* tools/report_html.c */

/* The report as one self-contained HTML page (inline SVG charts, no
 * script, no link out) into f. */
void rp_write_html(FILE *f, const struct rp *rp, const struct rp_sum *s);

#endif
