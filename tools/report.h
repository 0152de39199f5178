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
 * fell in a mapping, kept for the HTML heatmap; a *site* is a distinct
 * stack an allocation's mapping was made from, named by SITE and FRAME
 * records, its frames' objects by OBJECT and BYTES records, all keyed by
 * (pid, image, id) - an exec'd image numbers afresh - and looked up in
 * the parent for a fork child (tools/report_sites.c).
 */
#ifndef NS_TOOLS_REPORT_H
#define NS_TOOLS_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "numashadow_trace.h"

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
	uint32_t image;		/* EXEC records seen: 0 the first image, 1 after an exec */
	uint32_t parent_image;	/* the parent's image when this one's START was read */
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
#define RP_SHARES	16	/* (reporter, relative) counts kept a mapping */
#define RP_TOP_PAGES	5	/* ping-pong pages listed */
#define RP_PARENTS	8	/* fork generations looked up for a mapping */
#define RP_BUCKETS	100	/* the run in hundredths, for the charts */
#ifndef RP_MAX_SITES
#define RP_MAX_SITES	16384u	/* sites kept, and as many objects */
#endif
#ifndef RP_MAX_LAT
#define RP_MAX_LAT	(1u << 20)	/* migration durations kept: 8 MiB */
#endif
#define RP_TOP_SITES	10	/* sites listed */
#ifndef RP_MAX_SHARED
#define RP_MAX_SHARED	16384u	/* SHARED records kept: 640 KiB */
#endif
#define RP_FAIL_CLASSES	6	/* EACCES ENOENT ENOMEM EFAULT EBUSY other */

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
	uint32_t site;		/* index + 1 into rp.sites of its first FAULT's, 0 none */
	/* SHARED records: pages of it that a process (the reporter) said at
	 * its exit it shared, with any relative (peer 0) or with one. */
	struct rp_share {
		int32_t reporter, peer;
		uint64_t pages;
	} sh[RP_SHARES];
	uint32_t nsh, sh_cut;
	uint64_t shared;	/* the most a reporter said (rp_sum()) */
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

/* An object (ELF file) frames ran in, from OBJECT and BYTES records. */
struct rp_obj {
	int32_t pid;
	uint32_t image, id;	/* the key, with pid */
	uint64_t bias;		/* load address - ELF address */
	uint32_t bidlen, plen;	/* build id and path bytes */
	uint8_t *bytes;		/* the build id then the path, NUL-ended */
	uint64_t got[(NS_TRACE_BUILD_ID + NS_TRACE_PATH) / 16 / 64 + 1];	/* 16-byte chunks had */
	uint32_t have;		/* chunks had */
	/* tools/report_sites.c, once the whole trace is read: */
	const char *status;	/* NULL: the file is this object; else why not */
	void *sym;		/* its symbols, when read */
};

/* One frame of a site, and what symbolizing it found. */
struct rp_frame {
	uint64_t ip, off;	/* return address, offset in its object */
	int32_t obj;		/* object id, -1: none; 0: no FRAME record */
	uint32_t objx;		/* index + 1 into rp.objs, 0: not found */
	char *func;		/* function, NULL: not found */
	char *line;		/* "file:line", NULL: no debug info */
};

/* A call site: defined by its SITE and FRAME records, or only named by
 * FAULT records (then def points at the definition, in a parent). */
struct rp_site {
	int32_t pid;
	uint32_t image, id;	/* the key, with pid */
	int32_t nframes;	/* from SITE; -1: no SITE record seen */
	struct rp_frame fr[NS_TRACE_DEPTH];
	uint64_t placed[TR_NODES + 1];	/* FAULT pages naming it, by node */
	uint64_t placed_total, migrated;
	uint32_t def;		/* index + 1 of its definition, 0: none found */
	int name;		/* the frame that names it (outside libc and us) */
};

/* Sites or objects by (pid, image, id): open addressing. */
struct rp_key {
	int32_t pid;
	uint32_t image, id;
	uint32_t idx;		/* index + 1 into the entries, 0: a free slot */
};

struct rp_keys {
	struct rp_key *slot;
	size_t n, nslots;	/* nslots: a power of two, more than twice n */
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
	struct rp_site *sites;
	size_t nsites, sites_skipped;
	struct rp_keys site_keys;
	struct rp_obj *objs;
	size_t nobjs, objs_skipped;
	struct rp_keys obj_keys;
	uint64_t un_site_placed;	/* FAULT pages with no site */
	uint64_t *lat;		/* MIGRATE_END durations, ns */
	size_t nlat, lat_cap;
	uint64_t lat_skipped;	/* past RP_MAX_LAT */
	uint64_t lat_calls;	/* MIGRATE_END records */
	uint64_t fail[RP_FAIL_CLASSES];	/* MIGRATE_FAIL pages, by class */
	uint64_t fail_pages;	/* what MIGRATE_END records say failed */
	uint64_t calls_failed;	/* move_pages(2) itself failed */
	/* SHARED records, counted once every mapping is known: a child's
	 * exit may come first in the file, before its parent's mmaps. */
	struct ns_trace_rec *shared;
	size_t nshared, shared_skipped;
};

/* What every output prints, worked out once from an rp (rp_sum()). */
struct rp_sum {
	const char *path;	/* the trace file, as given */
	struct tr_proc fam;	/* the family's counts */
	struct tr_pages pg;	/* the family's pages by node */
	uint64_t span;		/* run time, ns */
	uint64_t placed, moved;	/* pages placed at first touch; moved, all reasons */
	size_t top[3][RP_TOP], ntop[3];	/* [0] by pages placed, [1] migrated, [2] shared */
	const struct rp_page *ptop[RP_TOP_PAGES];
	size_t npt;
	uint64_t pp_pages, pp_returns;	/* ping-pong */
	int maps_cut;		/* a mapping cap was hit */
	size_t stop[2][RP_TOP_SITES], nstop[2];	/* sites: [0] placed, [1] migrated */
	size_t ndefs;		/* sites defined */
	uint64_t lat[4];	/* p50, p90, p99, max, ns (nlat > 0) */
};

/* tools/trace.c */

/* The process pid, or NULL: a lookup that adds nothing. */
struct tr_proc *proc_find(struct tr_procs *ps, int32_t pid);

/* "0:64 1:3 kernel:2", or "-" for none, into buf (NODES_BUF is enough);
 * nodes in show appear even with no pages. */
void nodes_format(char *buf, size_t size, const uint64_t *pages, int n, uint64_t show);
/* Keeps top[0, k) the indices of the k (at most n, n <= RP_TOP_MAX)
 * largest values seen, largest first, ties the earlier first; val[] holds
 * their values.  Returns the new k. */
#define RP_TOP_MAX	16
_Static_assert(RP_TOP <= RP_TOP_MAX && RP_TOP_SITES <= RP_TOP_MAX, "top lists fit RP_TOP_MAX");
size_t top_insert(size_t *top, uint64_t *val, size_t k, size_t n, size_t i, uint64_t v);
#define NODES_BUF ((TR_NODES + 1) * 32)
/* Calls fn once for each mapper of a shared mapping (the processes that
 * said they shared it, and their relatives), with the most pages of it
 * it was said to share; first: the first call. */
void rp_mappers(const struct rp_mstat *ms, void (*fn)(int32_t pid, uint64_t pages,
						      int first, void *arg), void *arg);
/* When page events went past the pages followed, says so between pre and
 * post: the text and HTML reports say it alike. */
void rp_pages_cap(FILE *f, const struct rp *rp, const char *pre, const char *post);

/* tools/report_sites.c */

/* Counts the records of sites, objects and migration outcomes, and the
 * site of a FAULT (ms: its mapping's pages, or NULL); 0 or -ENOMEM. */
int rs_count(struct rp *rp, const struct ns_trace_rec *r, struct rp_mstat *ms);
/* Once the whole trace is read: definitions found, symbols read, the top
 * sites and latency percentiles into s. */
void rs_finish(struct rp *rp, struct rp_sum *s);
void rs_free(struct rp *rp);
/* The site's name: "function (object+0xoff, file:line)" or why not. */
void rs_site_name(char *buf, size_t size, const struct rp *rp, const struct rp_site *d);
/* The text and JSON sections: failed moves, latency, call sites. */
void rs_text_failed(FILE *f, const struct rp *rp);
void rs_text_latency(FILE *f, const struct rp *rp, const struct rp_sum *s);
void rs_text_sites(FILE *f, const struct rp *rp, const struct rp_sum *s);
void rs_json_failed(FILE *f, const struct rp *rp);
void rs_json_latency(FILE *f, const struct rp *rp, const struct rp_sum *s);
void rs_json_sites(FILE *f, const struct rp *rp, const struct rp_sum *s);
/* ns as "12.3 us", or "4.567 ms" from 1 ms (truncated, not rounded). */
void rs_us(char *buf, size_t size, uint64_t ns);
/* The error class's name: "EACCES", ..., "other". */
const char *rs_fail_name(int cls);
/* JSON string of s (bytes >= 0x7f as \u00XX: always valid). */
void json_string(FILE *f, const char *s);

/* tools/report_html.c */

/* The report as one self-contained HTML page (inline SVG charts, no
 * script, no link out) into f. */
void rp_write_html(FILE *f, const struct rp *rp, const struct rp_sum *s);

#endif
