/* SPDX-License-Identifier: MIT */
/*
 * trace.c - `numashadow trace`: a trace file (include/numashadow_trace.h,
 * docs/trace.md) as text, a table per process, CSV or an SVG plot.
 *
 * The file is mapped read-only and read in file order.  The processes of
 * a family append runs of records to one file, so different pids'
 * records interleave and a fork child's run may land before its parent's
 * earlier one: times are relative to the earliest record in the file,
 * which need not be the first.  Each pid numbers its records one by one;
 * a gap is records the runtime claimed but never wrote, and counts as
 * lost with those an NS_TR_LOST record reports (dropped before they took
 * a number).  After exec a pid numbers afresh from its new START record.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "numashadow_trace.h"
#include "trace.h"

#define TR_PAGE_SHIFT	12	/* the runtime tracks 4 KiB pages */
#define TR_NODES	64	/* nodes 0 to 63, as the runtime */
#define TR_KERNEL	TR_NODES	/* placed[] slot: the kernel chose */
#define SVG_BUCKETS	100	/* the run in hundredths */

struct tr_file {
	const char *path;	/* as given, for messages */
	void *map;		/* the whole file, read-only */
	size_t size;
	const struct ns_trace_rec *rec;	/* after the header */
	size_t n;		/* whole records */
	uint64_t t0, t1;	/* earliest and latest time, ns */
};

struct tr_proc {
	int32_t pid;
	int64_t parent;		/* from START: 0 none, -1 no START seen */
	uint64_t last_seq;	/* 0: numbering (re)starts */
	uint64_t recs, mmaps, munmaps, cows, next_touch, balance, lost;
	uint64_t placed[TR_NODES + 1];	/* pages by node; [TR_KERNEL] */
	uint64_t moved[TR_NODES];	/* pages migrated, by target node */
	uint64_t targets;	/* nodes a migration aimed at, moved or not */
};

/* Processes in order of their first record, found by pid through an
 * open-addressing table of indices + 1. */
struct tr_procs {
	struct tr_proc *v;
	size_t n, cap;
	uint32_t *slot;
	size_t nslots;		/* a power of two, more than twice n */
};

static const char *const type_names[NS_TR_NTYPES] = {
	[NS_TR_START] = "start",	[NS_TR_MMAP] = "mmap",
	[NS_TR_MUNMAP] = "munmap",	[NS_TR_MPROTECT] = "mprotect",
	[NS_TR_MREMAP] = "mremap",	[NS_TR_MREMAP_TO] = "mremap_to",
	[NS_TR_MADVISE] = "madvise",	[NS_TR_BRK] = "brk",
	[NS_TR_FORK] = "fork",		[NS_TR_EXEC] = "exec",
	[NS_TR_EXIT] = "exit",		[NS_TR_FAULT] = "fault",
	[NS_TR_COW] = "cow",		[NS_TR_MIGRATE] = "migrate",
	[NS_TR_NEXT_TOUCH] = "next_touch", [NS_TR_BALANCE] = "balance",
	[NS_TR_LOST] = "lost",
};

struct bit_name {
	uint32_t bit;
	const char *name;
};

/* The kernel's values (uapi mman headers); libc may lack the newer ones.
 * MMAP records keep flags below bit 24 only. */
static const struct bit_name map_flags[] = {
	{ 0x10, "fixed" }, { 0x20, "anonymous" }, { 0x100, "growsdown" },
	{ 0x800, "denywrite" }, { 0x1000, "executable" }, { 0x2000, "locked" },
	{ 0x4000, "noreserve" }, { 0x8000, "populate" }, { 0x10000, "nonblock" },
	{ 0x20000, "stack" }, { 0x40000, "hugetlb" }, { 0x80000, "sync" },
	{ 0x100000, "fixed_noreplace" },
};

static const struct bit_name mremap_flags[] = {
	{ 1, "maymove" }, { 2, "fixed" }, { 4, "dontunmap" },
};

static const struct bit_name advice_names[] = {
	{ 0, "normal" }, { 1, "random" }, { 2, "sequential" }, { 3, "willneed" },
	{ 4, "dontneed" }, { 8, "free" }, { 9, "remove" }, { 10, "dontfork" },
	{ 11, "dofork" }, { 12, "mergeable" }, { 13, "unmergeable" },
	{ 14, "hugepage" }, { 15, "nohugepage" }, { 16, "dontdump" },
	{ 17, "dodump" }, { 18, "wipeonfork" }, { 19, "keeponfork" },
	{ 20, "cold" }, { 21, "pageout" }, { 22, "populate_read" },
	{ 23, "populate_write" }, { 24, "dontneed_locked" }, { 25, "collapse" },
	{ 100, "hwpoison" }, { 101, "soft_offline" },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int file_error(const char *path, const char *why)
{
	fprintf(stderr, "numashadow: trace: %s: %s\n", path, why);
	return 1;
}

/* ---- the file ---- */

/* Maps path and checks its header; returns 0, or 1 after saying why. */
static int tr_file_open(struct tr_file *tf, const char *path)
{
	struct ns_trace_header h;
	struct stat st;
	size_t tail;
	char why[128];
	int fd;

	memset(tf, 0, sizeof(*tf));
	tf->path = path;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return file_error(path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return file_error(path, "not a regular file");
	}
	if ((size_t)st.st_size < sizeof(h)) {
		close(fd);
		return file_error(path, st.st_size ? "not a numashadow trace (too short for a header)"
					: "empty: no trace header (did the program run under numashadow?)");
	}
	tf->size = (size_t)st.st_size;
	tf->map = mmap(NULL, tf->size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (tf->map == MAP_FAILED) {
		tf->map = NULL;
		return file_error(path, strerror(errno));
	}
	memcpy(&h, tf->map, sizeof(h));
	if (memcmp(h.magic, NS_TRACE_MAGIC, sizeof(h.magic)))
		return file_error(path, "not a numashadow trace (bad magic)");
	if (h.version != NS_TRACE_VERSION) {
		snprintf(why, sizeof(why), "trace format version %u; this numashadow reads %d",
			 h.version, NS_TRACE_VERSION);
		return file_error(path, why);
	}
	if (h.rec_size != sizeof(struct ns_trace_rec)) {
		snprintf(why, sizeof(why), "records of %u bytes; this numashadow reads %zu",
			 h.rec_size, sizeof(struct ns_trace_rec));
		return file_error(path, why);
	}
	/* Page-aligned map, 16-byte header: the records are aligned. */
	tf->rec = (const struct ns_trace_rec *)((const char *)tf->map + sizeof(h));
	tf->n = (tf->size - sizeof(h)) / sizeof(struct ns_trace_rec);
	tail = (tf->size - sizeof(h)) % sizeof(struct ns_trace_rec);
	if (tail)
		fprintf(stderr, "numashadow: trace: %s: warning: the last record is "
			"truncated (%zu of %zu bytes); ignored\n", path, tail,
			sizeof(struct ns_trace_rec));
	for (size_t i = 0; i < tf->n; i++) {
		uint64_t t = tf->rec[i].time;
		if (i == 0 || t < tf->t0)
			tf->t0 = t;
		if (i == 0 || t > tf->t1)
			tf->t1 = t;
	}
	return 0;
}

static void tr_file_close(struct tr_file *tf)
{
	if (tf->map)
		munmap(tf->map, tf->size);
}

static const char *type_name(unsigned type, char buf[16])
{
	if (type < NS_TR_NTYPES && type_names[type])
		return type_names[type];
	snprintf(buf, 16, "type%u", type);
	return buf;
}

/* ---- one line per record ---- */

/* The names of the bits set in v, joined with '|', unknown bits in hex. */
static void bits_print(FILE *f, uint32_t v, const struct bit_name *t, size_t n)
{
	const char *sep = "";

	for (size_t i = 0; i < n; i++)
		if (v & t[i].bit) {
			fprintf(f, "%s%s", sep, t[i].name);
			sep = "|";
			v &= ~t[i].bit;
		}
	if (v)
		fprintf(f, "%s%#x", sep, v);
	else if (!*sep)
		fputs("none", f);
}

static void prot_print(FILE *f, uint32_t prot)
{
	fprintf(f, "%c%c%c", prot & 1 ? 'r' : '-', prot & 2 ? 'w' : '-',
		prot & 4 ? 'x' : '-');
	if (prot & 0x01000000)
		fputs("|growsdown", f);
	if (prot & 0x02000000)
		fputs("|growsup", f);
}

static void range_print(FILE *f, const struct ns_trace_rec *r)
{
	fprintf(f, " 0x%" PRIx64 "-0x%" PRIx64 " (%" PRIu64 " bytes)", r->addr,
		r->addr + r->len, r->len);
}

static void rec_text(FILE *f, const struct ns_trace_rec *r, uint64_t t0)
{
	uint64_t dt = r->time - t0;
	uint64_t pages = r->len >> TR_PAGE_SHIFT;
	char tb[16];

	fprintf(f, "%" PRIu64 ".%06" PRIu64 "  pid %d tid %d  %s", dt / 1000000000,
		dt % 1000000000 / 1000, r->pid, r->tid, type_name(r->type, tb));
	switch (r->type) {
	case NS_TR_START:
		if (r->aux)
			fprintf(f, " parent %u", r->aux);
		break;
	case NS_TR_MMAP:
		range_print(f, r);
		fputs(" prot ", f);
		prot_print(f, r->aux & 0xff);
		/* The sharing type is a value, not bits. */
		switch (r->aux >> 8 & 3) {
		case 1: fputs(" flags shared", f); break;
		case 2: fputs(" flags private", f); break;
		case 3: fputs(" flags shared_validate", f); break;
		default: fputs(" flags", f); break;
		}
		if (r->aux >> 8 & ~3u) {
			fputc(r->aux >> 8 & 3 ? '|' : ' ', f);
			bits_print(f, r->aux >> 8 & ~3u, map_flags, ARRAY_LEN(map_flags));
		}
		break;
	case NS_TR_MUNMAP:
	case NS_TR_MREMAP_TO:
		range_print(f, r);
		break;
	case NS_TR_MPROTECT:
		range_print(f, r);
		fputs(" prot ", f);
		prot_print(f, r->aux);
		break;
	case NS_TR_MREMAP:
		fprintf(f, " 0x%" PRIx64 " to %" PRIu64 " bytes flags ", r->addr, r->len);
		bits_print(f, r->aux, mremap_flags, ARRAY_LEN(mremap_flags));
		break;
	case NS_TR_MADVISE: {
		const char *name = NULL;
		range_print(f, r);
		for (size_t i = 0; i < ARRAY_LEN(advice_names); i++)
			if (advice_names[i].bit == r->aux)
				name = advice_names[i].name;
		if (name)
			fprintf(f, " %s", name);
		else
			fprintf(f, " advice %u", r->aux);
		break;
	}
	case NS_TR_BRK:
		fprintf(f, " 0x%" PRIx64, r->addr);
		break;
	case NS_TR_FORK:
		fprintf(f, " child %u", r->aux);
		break;
	case NS_TR_FAULT:
		range_print(f, r);
		fprintf(f, " %" PRIu64 " pages ", pages);
		if (r->node >= 0)
			fprintf(f, "node %d", r->node);
		else
			fputs("kernel's choice", f);
		break;
	case NS_TR_COW:
		fprintf(f, " 0x%" PRIx64, r->addr);
		break;
	case NS_TR_MIGRATE:
		range_print(f, r);
		fprintf(f, " to node %d, %u pages moved", r->node, r->aux);
		break;
	case NS_TR_NEXT_TOUCH:
	case NS_TR_BALANCE:
		fprintf(f, " 0x%" PRIx64 " to node %d", r->addr, r->node);
		break;
	case NS_TR_LOST:
		fprintf(f, " %u records dropped (the buffer was full)", r->aux);
		break;
	case NS_TR_EXEC:
	case NS_TR_EXIT:
		break;
	default:
		fprintf(f, " addr 0x%" PRIx64 " len %" PRIu64 " node %d aux %u",
			r->addr, r->len, r->node, r->aux);
		break;
	}
	fputc('\n', f);
}

static void show_text(const struct tr_file *tf)
{
	for (size_t i = 0; i < tf->n; i++)
		rec_text(stdout, &tf->rec[i], tf->t0);
}

static void show_csv(const struct tr_file *tf)
{
	char tb[16];

	puts("time_ns,pid,tid,type,addr,len,node,aux");
	for (size_t i = 0; i < tf->n; i++) {
		const struct ns_trace_rec *r = &tf->rec[i];
		printf("%" PRIu64 ",%d,%d,%s,0x%" PRIx64 ",%" PRIu64 ",%d,%u\n",
		       r->time - tf->t0, r->pid, r->tid, type_name(r->type, tb),
		       r->addr, r->len, r->node, r->aux);
	}
}

/* ---- per process ---- */

static size_t pid_hash(int32_t pid, size_t nslots)
{
	return ((uint32_t)pid * 2654435761u) & (nslots - 1);
}

/* The record of pid, made on its first use; NULL when out of memory. */
static struct tr_proc *proc_get(struct tr_procs *ps, int32_t pid)
{
	size_t h;

	if (ps->nslots) {
		for (h = pid_hash(pid, ps->nslots); ps->slot[h];
		     h = (h + 1) & (ps->nslots - 1))
			if (ps->v[ps->slot[h] - 1].pid == pid)
				return &ps->v[ps->slot[h] - 1];
	}
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 16;
		struct tr_proc *v = realloc(ps->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		ps->v = v;
		ps->cap = cap;
	}
	if (2 * (ps->n + 1) >= ps->nslots) {
		size_t nslots = ps->nslots ? 2 * ps->nslots : 64;
		uint32_t *slot = calloc(nslots, sizeof(*slot));
		if (!slot)
			return NULL;
		for (size_t i = 0; i < ps->n; i++) {
			for (h = pid_hash(ps->v[i].pid, nslots); slot[h];
			     h = (h + 1) & (nslots - 1))
				;
			slot[h] = (uint32_t)i + 1;
		}
		free(ps->slot);
		ps->slot = slot;
		ps->nslots = nslots;
	}
	for (h = pid_hash(pid, ps->nslots); ps->slot[h]; h = (h + 1) & (ps->nslots - 1))
		;
	ps->slot[h] = (uint32_t)ps->n + 1;
	memset(&ps->v[ps->n], 0, sizeof(ps->v[0]));
	ps->v[ps->n].pid = pid;
	ps->v[ps->n].parent = -1;
	return &ps->v[ps->n++];
}

static void proc_count(struct tr_proc *p, const struct ns_trace_rec *r)
{
	/* A new image numbers from 1 again; the child of fork goes on from
	 * its parent's count. */
	if (r->type == NS_TR_START)
		p->last_seq = 0;
	if (p->last_seq && r->seq > p->last_seq + 1)
		p->lost += r->seq - p->last_seq - 1;
	p->last_seq = r->seq;
	p->recs++;
	switch (r->type) {
	case NS_TR_START:
		if (p->parent <= 0)
			p->parent = r->aux;
		break;
	case NS_TR_MMAP:
		p->mmaps++;
		break;
	case NS_TR_MUNMAP:
		p->munmaps++;
		break;
	case NS_TR_FAULT:
		p->placed[r->node >= 0 && r->node < TR_NODES ? r->node : TR_KERNEL] +=
			r->len >> TR_PAGE_SHIFT;
		break;
	case NS_TR_COW:
		p->cows++;
		break;
	case NS_TR_MIGRATE:
		if (r->node >= 0 && r->node < TR_NODES) {
			p->moved[r->node] += r->aux;
			p->targets |= 1ULL << r->node;
		}
		break;
	case NS_TR_NEXT_TOUCH:
		p->next_touch++;
		break;
	case NS_TR_BALANCE:
		p->balance++;
		break;
	case NS_TR_LOST:
		p->lost += r->aux;
		break;
	}
}

static void proc_add(struct tr_proc *sum, const struct tr_proc *p)
{
	sum->recs += p->recs;
	sum->mmaps += p->mmaps;
	sum->munmaps += p->munmaps;
	sum->cows += p->cows;
	sum->next_touch += p->next_touch;
	sum->balance += p->balance;
	sum->lost += p->lost;
	sum->targets |= p->targets;
	for (int i = 0; i <= TR_KERNEL; i++)
		sum->placed[i] += p->placed[i];
	for (int i = 0; i < TR_NODES; i++)
		sum->moved[i] += p->moved[i];
}

/* "0:64 1:3 kernel:2", or "-" for none, into buf (big enough: 65
 * entries); nodes in show appear even with no pages. */
static void nodes_format(char *buf, size_t size, const uint64_t *pages, int n,
			 uint64_t show)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && off < size; i++) {
		if (!pages[i] && (i >= TR_NODES || !(show >> i & 1)))
			continue;
		if (i == TR_KERNEL)
			off += (size_t)snprintf(buf + off, size - off, "%skernel:%" PRIu64,
						off ? " " : "", pages[i]);
		else
			off += (size_t)snprintf(buf + off, size - off, "%s%d:%" PRIu64,
						off ? " " : "", i, pages[i]);
	}
	if (!off)
		snprintf(buf, size, "-");
}

#define NODES_BUF ((TR_NODES + 1) * 32)

static void proc_row(const struct tr_proc *p, const char *pid, int wp, int wm)
{
	char parent[24], placed[NODES_BUF], moved[NODES_BUF];

	if (p->parent > 0)
		snprintf(parent, sizeof(parent), "%" PRId64, p->parent);
	else
		snprintf(parent, sizeof(parent), "%s", p->parent < 0 ? "?" : "-");
	nodes_format(placed, sizeof(placed), p->placed, TR_NODES + 1, 0);
	nodes_format(moved, sizeof(moved), p->moved, TR_NODES, p->targets);
	printf("%-8s %8s %8" PRIu64 " %6" PRIu64 " %7" PRIu64 "  %-*s %6" PRIu64
	       "  %-*s %10" PRIu64 " %8" PRIu64 " %6" PRIu64 "\n",
	       pid, parent, p->recs, p->mmaps, p->munmaps, wp, placed, p->cows,
	       wm, moved, p->next_touch, p->balance, p->lost);
}

static int show_summary(const struct tr_file *tf)
{
	struct tr_procs ps = { 0 };
	struct tr_proc *sum;
	char buf[NODES_BUF], pid[16];
	int wp = (int)strlen("placed"), wm = (int)strlen("migrated");
	int err = 0;

	for (size_t i = 0; i < tf->n; i++) {
		struct tr_proc *p = proc_get(&ps, tf->rec[i].pid);
		if (!p) {
			err = file_error(tf->path, strerror(ENOMEM));
			goto out_free;
		}
		proc_count(p, &tf->rec[i]);
	}
	sum = calloc(1, sizeof(*sum));
	if (!sum) {
		err = file_error(tf->path, strerror(ENOMEM));
		goto out_free;
	}
	for (size_t i = 0; i < ps.n; i++)
		proc_add(sum, &ps.v[i]);
	/* The node lists are as wide as the widest, the family's. */
	nodes_format(buf, sizeof(buf), sum->placed, TR_NODES + 1, 0);
	if ((int)strlen(buf) > wp)
		wp = (int)strlen(buf);
	nodes_format(buf, sizeof(buf), sum->moved, TR_NODES, sum->targets);
	if ((int)strlen(buf) > wm)
		wm = (int)strlen(buf);

	printf("%-8s %8s %8s %6s %7s  %-*s %6s  %-*s %10s %8s %6s\n", "pid",
	       "parent", "records", "mmaps", "munmaps", wp, "placed", "cow", wm,
	       "migrated", "next-touch", "balance", "lost");
	for (size_t i = 0; i < ps.n; i++) {
		snprintf(pid, sizeof(pid), "%d", ps.v[i].pid);
		proc_row(&ps.v[i], pid, wp, wm);
	}
	sum->parent = 0;
	proc_row(sum, "family", wp, wm);
	puts("placed: pages first touched, node:pages (kernel: the kernel chose); "
	     "migrated: pages moved by migrations, target node:pages");
	free(sum);
out_free:
	free(ps.v);
	free(ps.slot);
	return err;
}

/* ---- SVG ---- */

struct svg_series {
	uint64_t v[SVG_BUCKETS];
	uint64_t total;
};

struct svg_data {
	struct svg_series placed[TR_NODES + 1];	/* [TR_KERNEL]: kernel's choice */
	struct svg_series moved[TR_NODES];
};

/* XML text of s: the file name goes into the title. */
static void xml_print(FILE *f, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			/* Control characters are not allowed in XML 1.0. */
			fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
		}
}

/* The smallest 1, 2 or 5 times a power of ten that is >= v (v >= 1). */
static uint64_t nice_step(uint64_t v)
{
	uint64_t p = 1;

	while (p * 10 < v)
		p *= 10;
	return v <= p ? p : v <= 2 * p ? 2 * p : v <= 5 * p ? 5 * p : 10 * p;
}

static void svg_series_draw(FILE *f, const struct svg_series *s, double x0,
			    double y0, double pw, double ph, uint64_t ymax,
			    const char *color, const char *dash)
{
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s points=\"",
		color, dash);
	for (int i = 0; i < SVG_BUCKETS; i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "", x0 + (i + 0.5) * pw / SVG_BUCKETS,
			y0 + ph - (double)s->v[i] * ph / (double)ymax);
	fputs("\"/>\n", f);
}

static void svg_write(FILE *f, const struct tr_file *tf, const struct svg_data *d)
{
	static const char *const colors[] = { "#1f77b4", "#d62728", "#2ca02c",
		"#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2" };
	const double W = 860, H = 420, x0 = 70, y0 = 40, pw = 560, ph = 310;
	const char *dashed = " stroke-dasharray=\"6,3\"";
	double span = (double)(tf->t1 - tf->t0) / 1e9, ly = y0 + 10;
	uint64_t max = 0, step, ymax;
	int k;

	for (int n = 0; n <= TR_KERNEL; n++)
		for (int i = 0; i < SVG_BUCKETS; i++) {
			if (d->placed[n].v[i] > max)
				max = d->placed[n].v[i];
			if (n < TR_NODES && d->moved[n].v[i] > max)
				max = d->moved[n].v[i];
		}
	/* Five gridlines at whole numbers of pages. */
	step = nice_step(max / 5 + (max % 5 != 0));
	ymax = 5 * step;

	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
		W, H, W, H);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"14\">Pages placed and moved: ", x0);
	xml_print(f, tf->path);
	fputs("</text>\n", f);

	/* Axes, gridlines and ticks. */
	for (k = 0; k <= 5; k++) {
		double y = y0 + ph - k * ph / 5;
		fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" "
			"stroke=\"%s\"/>\n", x0, y, x0 + pw, y, k ? "#e0e0e0" : "black");
		fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%" PRIu64
			"</text>\n", x0 - 6, y + 4, (uint64_t)k * step);
	}
	for (k = 0; k <= 5; k++) {
		double x = x0 + k * pw / 5;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" "
			"stroke=\"black\"/>\n", x, y0 + ph, x, y0 + ph + 5);
		fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.3g</text>\n",
			x, y0 + ph + 18, span * k / 5);
	}
	fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
		x0, y0, x0, y0 + ph);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">seconds since "
		"the first record (pages summed over each 1/%d of the run, %.3g s)</text>\n",
		x0 + pw / 2, y0 + ph + 38, SVG_BUCKETS, span / SVG_BUCKETS);
	fprintf(f, "<text transform=\"translate(18,%.0f) rotate(-90)\" "
		"text-anchor=\"middle\">pages</text>\n", y0 + ph / 2);

	/* One line per node and kind, the same colour for a node; a legend. */
	for (int n = 0; n <= TR_KERNEL; n++) {
		const char *color = n == TR_KERNEL ? "#7f7f7f" : colors[n % ARRAY_LEN(colors)];
		for (int moved = 0; moved < 2; moved++) {
			const struct svg_series *s = moved ? (n < TR_NODES ? &d->moved[n] : NULL)
							   : &d->placed[n];
			if (!s || !s->total)
				continue;
			svg_series_draw(f, s, x0, y0, pw, ph, ymax, color, moved ? dashed : "");
			fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
				"stroke=\"%s\" stroke-width=\"1.5\"%s/>\n", x0 + pw + 15, ly,
				x0 + pw + 40, ly, color, moved ? dashed : "");
			fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">", x0 + pw + 46, ly + 4);
			if (n == TR_KERNEL)
				fprintf(f, "placed, kernel's choice");
			else
				fprintf(f, "%s node %d", moved ? "moved to" : "placed on", n);
			fprintf(f, " (%" PRIu64 ")</text>\n", s->total);
			ly += 18;
		}
	}
	if (ly == y0 + 10)
		fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">no pages placed or moved</text>\n",
			x0 + pw + 15, ly + 4);
	fputs("</svg>\n", f);
}

static int show_svg(const struct tr_file *tf, const char *out)
{
	struct svg_data *d = calloc(1, sizeof(*d));
	double span = (double)(tf->t1 - tf->t0) + 1;
	FILE *f;
	int err = 0;

	if (!d)
		return file_error(out, strerror(ENOMEM));
	for (size_t i = 0; i < tf->n; i++) {
		const struct ns_trace_rec *r = &tf->rec[i];
		struct svg_series *s = NULL;
		uint64_t pages = 0;
		int b = (int)((double)(r->time - tf->t0) / span * SVG_BUCKETS);

		if (b >= SVG_BUCKETS)
			b = SVG_BUCKETS - 1;
		switch (r->type) {
		case NS_TR_FAULT:
			s = &d->placed[r->node >= 0 && r->node < TR_NODES ? r->node : TR_KERNEL];
			pages = r->len >> TR_PAGE_SHIFT;
			break;
		case NS_TR_MIGRATE:
		case NS_TR_NEXT_TOUCH:
		case NS_TR_BALANCE:
			if (r->node >= 0 && r->node < TR_NODES)
				s = &d->moved[r->node];
			pages = r->type == NS_TR_MIGRATE ? r->aux : 1;
			break;
		}
		if (s) {
			s->v[b] += pages;
			s->total += pages;
		}
	}
	f = fopen(out, "w");
	if (!f) {
		err = file_error(out, strerror(errno));
		goto out_free;
	}
	svg_write(f, tf, d);
	if (ferror(f) | fclose(f))	/* both, always */
		err = file_error(out, strerror(errno ? errno : EIO));
out_free:
	free(d);
	return err;
}

int trace_show(const char *path, enum trace_out out, const char *svg_path)
{
	struct tr_file tf;
	int err = tr_file_open(&tf, path);

	if (!err) {
		switch (out) {
		case TRACE_TEXT:
			show_text(&tf);
			break;
		case TRACE_CSV:
			show_csv(&tf);
			break;
		case TRACE_SUMMARY:
			err = show_summary(&tf);
			break;
		case TRACE_SVG:
			err = show_svg(&tf, svg_path);
			break;
		}
	}
	tr_file_close(&tf);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "numashadow: trace: standard output: %s\n", strerror(errno));
		err = 1;
	}
	return err;
}
