/* SPDX-License-Identifier: MIT */
/*
 * trace.c - `numashadow trace`: a trace file (include/numashadow_trace.h,
 * docs/trace.md) as text, a table per process, CSV or an SVG plot.
 *
 * The file is read in file order with pread(2), a chunk at a time, never
 * mapped: memory does not grow with the file, and a file cut short while
 * we read it ends the reading with a message instead of SIGBUS (docs/
 * security.md).  Only the whole records the file held when it was opened
 * are read.  The processes of a family append runs of records to one
 * file, so different pids' records interleave and a fork child's run may
 * land before its parent's earlier one: times are relative to the
 * earliest record in the file, which need not be the first, so the text,
 * CSV and SVG outputs read the file twice (once for the times).  Each pid
 * numbers its records one by one; a gap is records the runtime claimed
 * but never wrote, and counts as lost with those an NS_TR_LOST record
 * reports (dropped before they took a number).  After exec a pid numbers
 * afresh from its new START record.
 *
 * Every record is checked as it is read (a pid the kernel could give, a
 * known type): a file that fails is corrupted, and says so in one line.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "numashadow_trace.h"
#include "trace.h"
#include "markup.h"
#include "report.h"

#define SVG_BUCKETS	100	/* the run in hundredths */
/* The fuzzer's build (tests/fuzz) sets TR_CHUNK and TR_MAX_PROCS small,
 * so that small inputs cross chunks and reach the cap. */
#ifndef TR_CHUNK
#define TR_CHUNK	1024	/* records per read(2): 48 KiB */
#endif
#define TR_PID_MAX	4194304	/* the kernel's PID_MAX_LIMIT */
#ifndef TR_MAX_PROCS
#define TR_MAX_PROCS	(1u << 20)	/* processes --summary keeps */
#endif

struct tr_file {
	const char *path;	/* as given, for messages */
	int fd;			/* -1 when not open */
	uint64_t n;		/* whole records when opened: all we read */
	uint64_t t0, t1;	/* earliest and latest time, ns (tr_times) */
	int timed;		/* t0 and t1 are known: records must lie inside */
	uint64_t next;		/* index of the record after buf's last */
	size_t have, pos;	/* records in buf; the next one to hand out */
	struct ns_trace_rec buf[TR_CHUNK];	/* records next - have .. next - 1 */
};

static const char *const type_names[NS_TR_NTYPES] = {
	[NS_TR_START]		= "start",
	[NS_TR_MMAP]		= "mmap",
	[NS_TR_MUNMAP]		= "munmap",
	[NS_TR_MPROTECT]	= "mprotect",
	[NS_TR_MREMAP]		= "mremap",
	[NS_TR_MREMAP_TO]	= "mremap_to",
	[NS_TR_MADVISE]		= "madvise",
	[NS_TR_BRK]		= "brk",
	[NS_TR_FORK]		= "fork",
	[NS_TR_EXEC]		= "exec",
	[NS_TR_EXIT]		= "exit",
	[NS_TR_FAULT]		= "fault",
	[NS_TR_COW]		= "cow",
	[NS_TR_MIGRATE]		= "migrate",
	[NS_TR_NEXT_TOUCH]	= "next_touch",
	[NS_TR_BALANCE]		= "balance",
	[NS_TR_LOST]		= "lost",
	[NS_TR_OBJECT]		= "object",
	[NS_TR_BYTES]		= "bytes",
	[NS_TR_SITE]		= "site",
	[NS_TR_FRAME]		= "frame",
	[NS_TR_MIGRATE_END]	= "migrate_end",
	[NS_TR_MIGRATE_FAIL]	= "migrate_fail",
	[NS_TR_SHARED]		= "shared",
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

/* The command messages name: "trace", or "report" (trace_report). */
static const char *tr_cmd = "trace";

static int file_error(const char *path, const char *why)
{
	fprintf(stderr, "numashadow: %s: %s: %s\n", tr_cmd, path, why);
	return 1;
}

/* ---- the file ---- */

/* Opens path, a regular file, and checks its header; returns 0, or 1
 * after saying why. */
/* The file read last ended inside a record: its reader exits 1 after
 * showing the whole records (a run killed mid-write leaves one). */
static int tr_cut;

static int tr_file_open(struct tr_file *tf, const char *path)
{
	struct ns_trace_header h;
	struct stat st;
	uint64_t size, tail;
	char why[128];
	ssize_t got;

	tr_cut = 0;
	memset(tf, 0, offsetof(struct tr_file, buf));
	tf->path = path;
	tf->fd = -1;
	/* Look before opening: opening a FIFO blocks, a device may act. */
	if (stat(path, &st))
		return file_error(path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return file_error(path, "not a regular file");
	/* O_NONBLOCK: whatever was put there since the stat must not block
	 * us either; fstat says what we opened. */
	tf->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (tf->fd < 0)
		return file_error(path, strerror(errno));
	if (fstat(tf->fd, &st))
		return file_error(path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return file_error(path, "not a regular file");
	size = (uint64_t)st.st_size;
	if (size < sizeof(h))
		return file_error(path, size ? "not a numashadow trace (too short for a header)"
				  : "empty: no trace header (did the program run under numashadow?)");
	do
		got = pread(tf->fd, &h, sizeof(h), 0);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return file_error(path, strerror(errno));
	if ((size_t)got < sizeof(h))
		return file_error(path, "truncated while being read: the header is cut short");
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
	tf->n = (size - sizeof(h)) / sizeof(struct ns_trace_rec);
	tail = (size - sizeof(h)) % sizeof(struct ns_trace_rec);
	tr_cut = tail != 0;
	if (tail)
		fprintf(stderr, "numashadow: %s: %s: the last record is "
			"truncated (%" PRIu64 " of %zu bytes); the whole records are shown, "
			"exit status 1\n", tr_cmd, path, tail, sizeof(struct ns_trace_rec));
	return 0;
}

static void tr_file_close(struct tr_file *tf)
{
	if (tf->fd >= 0)
		close(tf->fd);
	tf->fd = -1;
}

/* Back to the first record, for another pass. */
static void tr_rewind(struct tr_file *tf)
{
	tf->next = 0;
	tf->have = tf->pos = 0;
}

/* What is wrong with record r, or NULL: the checks every pass makes. */
static const char *rec_invalid(const struct tr_file *tf, const struct ns_trace_rec *r,
			       char *why, size_t size)
{
	if (r->pid <= 0 || r->pid > TR_PID_MAX)
		snprintf(why, size, "pid %d is not a process id", r->pid);
	else if (!r->type || r->type >= NS_TR_NTYPES)
		snprintf(why, size, "type %u is not a record type", r->type);
	else if (tf->timed && (r->time < tf->t0 || r->time > tf->t1))
		snprintf(why, size, "time %" PRIu64 " is outside what the first "
			 "reading found", r->time);
	else
		return NULL;
	return why;
}

/* Fills buf with the next chunk; returns the records read (0 at the
 * end), or -1 after saying why. */
static int tr_fill(struct tr_file *tf)
{
	uint64_t want = tf->n - tf->next;
	size_t bytes, got = 0;
	off_t off = (off_t)(sizeof(struct ns_trace_header) +
			    tf->next * sizeof(struct ns_trace_rec));
	char why[160];
	ssize_t r;

	if (want > TR_CHUNK)
		want = TR_CHUNK;
	bytes = (size_t)want * sizeof(struct ns_trace_rec);
	while (got < bytes) {
		r = pread(tf->fd, (char *)tf->buf + got, bytes - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			file_error(tf->path, strerror(errno));
			return -1;
		}
		if (r == 0) {
			/* Cut short since we opened it: say so rather than
			 * pass off what is left as the whole trace. */
			snprintf(why, sizeof(why), "truncated while being read: it held "
				 "%" PRIu64 " records, it ends after %" PRIu64, tf->n,
				 tf->next + got / sizeof(struct ns_trace_rec));
			file_error(tf->path, why);
			return -1;
		}
		got += (size_t)r;
	}
	tf->next += want;
	tf->have = (size_t)want;
	tf->pos = 0;
	return (int)want;
}

/* The next record, checked, into *r (valid until the next call); returns
 * 1, 0 at the end, or -1 after saying why (read error, the file cut
 * short or changed while read, a corrupted record). */
static int tr_next(struct tr_file *tf, const struct ns_trace_rec **r)
{
	char why[128], line[224];
	const char *bad;
	uint64_t i;

	if (tf->pos == tf->have) {
		int got = tr_fill(tf);
		if (got <= 0)
			return got;
	}
	*r = &tf->buf[tf->pos++];
	bad = rec_invalid(tf, *r, why, sizeof(why));
	if (!bad)
		return 1;
	i = tf->next - tf->have + tf->pos - 1;
	snprintf(line, sizeof(line), "record %" PRIu64 " (at byte %" PRIu64 "): %s%s", i + 1,
		 (uint64_t)sizeof(struct ns_trace_header) + i * sizeof(struct ns_trace_rec),
		 bad, tf->timed ? "; the file changed while being read"
				: "; the file is corrupted");
	file_error(tf->path, line);
	return -1;
}

/* The first pass: the earliest and latest times, every record checked.
 * Returns 0, or 1 after saying why; the next pass starts at the first
 * record and finds each one's time within [t0, t1]. */
static int tr_times(struct tr_file *tf)
{
	const struct ns_trace_rec *r;
	uint64_t i = 0;
	int got;

	while ((got = tr_next(tf, &r)) > 0) {
		if (i == 0 || r->time < tf->t0)
			tf->t0 = r->time;
		if (i == 0 || r->time > tf->t1)
			tf->t1 = r->time;
		i++;
	}
	if (got < 0)
		return 1;
	tr_rewind(tf);
	tf->timed = 1;
	return 0;
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

/* An MMAP record's aux: the prot bits in the low byte, the flags above. */
static void mmap_aux_print(FILE *f, uint32_t aux)
{
	fputs(" prot ", f);
	prot_print(f, aux & 0xff);
	/* The sharing type is a value, not bits. */
	switch (aux >> 8 & 3) {
	case 1: fputs(" flags shared", f); break;
	case 2: fputs(" flags private", f); break;
	case 3: fputs(" flags shared_validate", f); break;
	default: fputs(" flags", f); break;
	}
	if (aux >> 8 & ~3u) {
		fputc(aux >> 8 & 3 ? '|' : ' ', f);
		bits_print(f, aux >> 8 & ~3u, map_flags, ARRAY_LEN(map_flags));
	}
}

static void advice_print(FILE *f, uint32_t advice)
{
	const char *name = NULL;

	for (size_t i = 0; i < ARRAY_LEN(advice_names); i++)
		if (advice_names[i].bit == advice)
			name = advice_names[i].name;
	if (name)
		fprintf(f, " %s", name);
	else
		fprintf(f, " advice %u", advice);
}

/* The details of a record of the calls that change the mappings;
 * returns 0 for any other type. */
static int rec_map_text(FILE *f, const struct ns_trace_rec *r)
{
	switch (r->type) {
	case NS_TR_MMAP:
		range_print(f, r);
		mmap_aux_print(f, r->aux);
		return 1;
	case NS_TR_MUNMAP:
	case NS_TR_MREMAP_TO:
		range_print(f, r);
		return 1;
	case NS_TR_MPROTECT:
		range_print(f, r);
		fputs(" prot ", f);
		prot_print(f, r->aux);
		return 1;
	case NS_TR_MREMAP:
		fprintf(f, " 0x%" PRIx64 " to %" PRIu64 " bytes flags ", r->addr, r->len);
		bits_print(f, r->aux, mremap_flags, ARRAY_LEN(mremap_flags));
		return 1;
	case NS_TR_MADVISE:
		range_print(f, r);
		advice_print(f, r->aux);
		return 1;
	case NS_TR_BRK:
		fprintf(f, " 0x%" PRIx64, r->addr);
		return 1;
	}
	return 0;
}

/* The details of a record of where pages went: placed, copied, moved,
 * shared; returns 0 for any other type. */
static int rec_page_text(FILE *f, const struct ns_trace_rec *r)
{
	switch (r->type) {
	case NS_TR_FAULT:
		range_print(f, r);
		fprintf(f, " %" PRIu64 " pages ", r->len >> TR_PAGE_SHIFT);
		if (r->node >= 0)
			fprintf(f, "node %d", r->node);
		else
			fputs("kernel's choice", f);
		if (r->aux)
			fprintf(f, " site %u", r->aux);
		return 1;
	case NS_TR_COW:
		fprintf(f, " 0x%" PRIx64, r->addr);
		return 1;
	case NS_TR_MIGRATE:
		range_print(f, r);
		fprintf(f, " to node %d, %u pages moved", r->node, r->aux);
		return 1;
	case NS_TR_NEXT_TOUCH:
	case NS_TR_BALANCE:
		fprintf(f, " 0x%" PRIx64 " to node %d", r->addr, r->node);
		return 1;
	case NS_TR_MIGRATE_END:
		fprintf(f, " took %" PRIu64 " ns, %" PRIu64 " pages failed, %u already there",
			r->addr, r->len, r->aux);
		if (r->node)
			fprintf(f, ", move_pages failed: errno %d", r->node);
		return 1;
	case NS_TR_MIGRATE_FAIL:
		fprintf(f, " %u pages: %s", r->aux, rs_fail_name(r->node));
		return 1;
	case NS_TR_SHARED:
		if (r->aux)
			fprintf(f, " mapping 0x%" PRIx64 ": %" PRIu64 " pages with pid %u",
				r->addr, r->len, r->aux);
		else
			fprintf(f, " mapping 0x%" PRIx64 ": %" PRIu64 " pages in all",
				r->addr, r->len);
		return 1;
	}
	return 0;
}

/* The details of a record of the process's life and of the trace itself
 * (lost records, objects and call sites); returns 0 for any other type. */
static int rec_proc_text(FILE *f, const struct ns_trace_rec *r)
{
	switch (r->type) {
	case NS_TR_START:
		if (r->aux)
			fprintf(f, " parent %u", r->aux);
		return 1;
	case NS_TR_FORK:
		fprintf(f, " child %u", r->aux);
		return 1;
	case NS_TR_EXEC:
	case NS_TR_EXIT:
		return 1;
	case NS_TR_LOST:
		fprintf(f, " %u records dropped (the buffer was full)", r->aux);
		return 1;
	case NS_TR_OBJECT:
		fprintf(f, " %u load bias 0x%" PRIx64 ", %d bytes of build id and %" PRIu64
			" of path follow", r->aux, r->addr, r->node, r->len);
		return 1;
	case NS_TR_BYTES:
		fprintf(f, " of object %u, 16 from byte %d", r->aux, r->node * 16);
		return 1;
	case NS_TR_SITE:
		fprintf(f, " %u, %d frames follow", r->aux, r->node);
		return 1;
	case NS_TR_FRAME:
		fprintf(f, " %d of site %u: 0x%" PRIx64 ", object %d +0x%" PRIx64, r->node,
			r->aux, r->addr, r->tid, r->len);
		return 1;
	}
	return 0;
}

static void rec_text(FILE *f, const struct ns_trace_rec *r, uint64_t t0)
{
	uint64_t dt = r->time - t0;
	char tb[16];

	fprintf(f, "%" PRIu64 ".%06" PRIu64 "  pid %d tid %d  %s", dt / 1000000000,
		dt % 1000000000 / 1000, r->pid, r->tid, type_name(r->type, tb));
	if (!rec_map_text(f, r) && !rec_page_text(f, r) && !rec_proc_text(f, r))
		fprintf(f, " addr 0x%" PRIx64 " len %" PRIu64 " node %d aux %u",
			r->addr, r->len, r->node, r->aux);
	fputc('\n', f);
}

static int show_text(struct tr_file *tf)
{
	const struct ns_trace_rec *r;
	int got;

	while ((got = tr_next(tf, &r)) > 0)
		rec_text(stdout, r, tf->t0);
	return got < 0;
}

static int show_csv(struct tr_file *tf)
{
	const struct ns_trace_rec *r;
	char tb[16];
	int got;

	puts("time_ns,pid,tid,type,addr,len,node,aux");
	while ((got = tr_next(tf, &r)) > 0) {
		printf("%" PRIu64 ",%d,%d,%s,0x%" PRIx64 ",%" PRIu64 ",%d,%u\n",
		       r->time - tf->t0, r->pid, r->tid, type_name(r->type, tb),
		       r->addr, r->len, r->node, r->aux);
	}
	return got < 0;
}

/* One record as a JSON object on one line: the CSV's fields, the record
 * number, and addr as a string (a 64-bit number is not exact in every
 * JSON reader). */
static int show_json(struct tr_file *tf)
{
	const struct ns_trace_rec *r;
	char tb[16];
	int got;

	while ((got = tr_next(tf, &r)) > 0) {
		printf("{\"time_ns\":%" PRIu64 ",\"pid\":%d,\"tid\":%d,\"seq\":%" PRIu64
		       ",\"type\":\"%s\",\"addr\":\"0x%" PRIx64 "\",\"len\":%" PRIu64
		       ",\"node\":%d,\"aux\":%u}\n", r->time - tf->t0, r->pid, r->tid,
		       r->seq, type_name(r->type, tb), r->addr, r->len, r->node, r->aux);
	}
	return got < 0;
}

/* ---- per process ---- */

static size_t pid_hash(int32_t pid, size_t nslots)
{
	return ((uint32_t)pid * 2654435761u) & (nslots - 1);
}

/* The record of pid, made on its first use; NULL when out of memory or
 * when TR_MAX_PROCS are kept already (*full set). */
static struct tr_proc *proc_get(struct tr_procs *ps, int32_t pid, int *full)
{
	size_t h;

	if (ps->nslots) {
		for (h = pid_hash(pid, ps->nslots); ps->slot[h];
		     h = (h + 1) & (ps->nslots - 1))
			if (ps->v[ps->slot[h] - 1].pid == pid)
				return &ps->v[ps->slot[h] - 1];
	}
	if (ps->n == TR_MAX_PROCS) {
		*full = 1;
		return NULL;
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

static void procs_free(struct tr_procs *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		free(ps->v[i].nodes);
	free(ps->v);
	free(ps->slot);
}

/* Adds pages placed on and moved to node (or TR_KERNEL) to p's list.
 * Returns 0 or -ENOMEM. */
static int proc_node_add(struct tr_proc *p, int node, uint64_t placed, uint64_t moved)
{
	struct tr_node_pages *np;
	uint32_t i;

	for (i = 0; i < p->nnodes && p->nodes[i].node != node; i++)
		;
	if (i == p->nnodes) {
		/* At most TR_NODES + 1 entries: growing by one is cheap. */
		np = realloc(p->nodes, (i + 1) * sizeof(*np));
		if (!np)
			return -ENOMEM;
		p->nodes = np;
		p->nodes[i] = (struct tr_node_pages){ .node = node };
		p->nnodes++;
	}
	p->nodes[i].placed += placed;
	p->nodes[i].moved += moved;
	return 0;
}

/* The count a record of type adds one to, or NULL: those that only count. */
static uint64_t *proc_counter(struct tr_proc *p, uint32_t type)
{
	switch (type) {
	case NS_TR_MMAP:	return &p->mmaps;
	case NS_TR_MUNMAP:	return &p->munmaps;
	case NS_TR_COW:		return &p->cows;
	case NS_TR_NEXT_TOUCH:	return &p->next_touch;
	case NS_TR_BALANCE:	return &p->balance;
	}
	return NULL;
}

/* Counts record r into p; returns 0 or -ENOMEM. */
static int proc_count(struct tr_proc *p, const struct ns_trace_rec *r)
{
	uint64_t *count = proc_counter(p, r->type);

	/* A new image numbers from 1 again; the child of fork goes on from
	 * its parent's count. */
	if (r->type == NS_TR_START)
		p->last_seq = 0;
	/* The new image's records (even those before its START) follow. */
	if (r->type == NS_TR_EXEC)
		p->image++;
	if (p->last_seq && r->seq > p->last_seq + 1)
		p->lost += r->seq - p->last_seq - 1;
	p->last_seq = r->seq;
	p->recs++;
	if (count)
		(*count)++;
	switch (r->type) {
	case NS_TR_START:
		if (p->parent <= 0)
			p->parent = r->aux;
		break;
	case NS_TR_FAULT:
		return proc_node_add(p, r->node >= 0 && r->node < TR_NODES ? r->node
					: TR_KERNEL, r->len >> TR_PAGE_SHIFT, 0);
	case NS_TR_MIGRATE:
		if (r->node >= 0 && r->node < TR_NODES) {
			p->targets |= 1ULL << r->node;
			return proc_node_add(p, r->node, 0, r->aux);
		}
		break;
	case NS_TR_LOST:
		p->lost += r->aux;
		break;
	}
	return 0;
}

/* Counts r into its process's record in ps, made on its first use.
 * Returns 0, or 1 after saying why not: out of memory, or more than
 * TR_MAX_PROCS processes (who keeps at most that many, and a note). */
static int procs_count(struct tr_procs *ps, const struct ns_trace_rec *r,
		       const char *path, const char *who, const char *note)
{
	char buf[160];
	int full = 0;
	struct tr_proc *p = proc_get(ps, r->pid, &full);

	if (!p && full) {
		snprintf(buf, sizeof(buf), "more than %u processes; %s keeps at most %u%s",
			 TR_MAX_PROCS, who, TR_MAX_PROCS, note);
		return file_error(path, buf);
	}
	if (!p || proc_count(p, r))
		return file_error(path, strerror(ENOMEM));
	return 0;
}

/* Adds p's pages by node to pages. */
static void proc_pages_add(struct tr_pages *pages, const struct tr_proc *p)
{
	for (uint32_t i = 0; i < p->nnodes; i++) {
		pages->placed[p->nodes[i].node] += p->nodes[i].placed;
		if (p->nodes[i].node < TR_NODES)
			pages->moved[p->nodes[i].node] += p->nodes[i].moved;
	}
}

/* Adds p's counts to sum's (its pages: proc_pages_add). */
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
}

/* "0:64 1:3 kernel:2", or "-" for none, into buf (big enough: 65
 * entries); nodes in show appear even with no pages. */
void nodes_format(char *buf, size_t size, const uint64_t *pages, int n,
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

/* One row: p's counts, and its pages by node from pages. */
static void proc_row(const struct tr_proc *p, const struct tr_pages *pages,
		     const char *pid, int wp, int wm)
{
	char parent[24], placed[NODES_BUF], moved[NODES_BUF];

	if (p->parent > 0)
		snprintf(parent, sizeof(parent), "%" PRId64, p->parent);
	else
		snprintf(parent, sizeof(parent), "%s", p->parent < 0 ? "?" : "-");
	nodes_format(placed, sizeof(placed), pages->placed, TR_NODES + 1, 0);
	nodes_format(moved, sizeof(moved), pages->moved, TR_NODES, p->targets);
	printf("%-8s %8s %8" PRIu64 " %6" PRIu64 " %7" PRIu64 "  %-*s %6" PRIu64
	       "  %-*s %10" PRIu64 " %8" PRIu64 " %6" PRIu64 "\n",
	       pid, parent, p->recs, p->mmaps, p->munmaps, wp, placed, p->cows,
	       wm, moved, p->next_touch, p->balance, p->lost);
}

/* {"0":64,"kernel":2}: pages by node, nodes in show even with none. */
static void nodes_json(const uint64_t *pages, int n, uint64_t show)
{
	const char *sep = "";

	putchar('{');
	for (int i = 0; i < n; i++) {
		if (!pages[i] && (i >= TR_NODES || !(show >> i & 1)))
			continue;
		if (i == TR_KERNEL)
			printf("%s\"kernel\":%" PRIu64, sep, pages[i]);
		else
			printf("%s\"%d\":%" PRIu64, sep, i, pages[i]);
		sep = ",";
	}
	putchar('}');
}

/* One row of --summary --json: a process, or the family's total. */
static void proc_json(const struct tr_proc *p, const struct tr_pages *pages, int family)
{
	if (family)
		printf("{\"family\":true");
	else if (p->parent >= 0)
		printf("{\"pid\":%d,\"parent\":%" PRId64, p->pid, p->parent);
	else
		printf("{\"pid\":%d,\"parent\":null", p->pid);
	printf(",\"records\":%" PRIu64 ",\"mmaps\":%" PRIu64 ",\"munmaps\":%" PRIu64
	       ",\"placed\":", p->recs, p->mmaps, p->munmaps);
	nodes_json(pages->placed, TR_NODES + 1, 0);
	printf(",\"cow\":%" PRIu64 ",\"migrated\":", p->cows);
	nodes_json(pages->moved, TR_NODES, p->targets);
	printf(",\"next_touch\":%" PRIu64 ",\"balance\":%" PRIu64 ",\"lost\":%" PRIu64
	       "}\n", p->next_touch, p->balance, p->lost);
}

/* The --summary table: a row per process of ps, then the family's, sum
 * (its pages sum_pages); pages is room for a process's. */
static void summary_table(const struct tr_procs *ps, struct tr_proc *sum,
			  const struct tr_pages *sum_pages, struct tr_pages *pages)
{
	char buf[NODES_BUF], pid[16];
	int wp = (int)strlen("placed"), wm = (int)strlen("migrated");

	/* The node lists are as wide as the widest, the family's. */
	nodes_format(buf, sizeof(buf), sum_pages->placed, TR_NODES + 1, 0);
	if ((int)strlen(buf) > wp)
		wp = (int)strlen(buf);
	nodes_format(buf, sizeof(buf), sum_pages->moved, TR_NODES, sum->targets);
	if ((int)strlen(buf) > wm)
		wm = (int)strlen(buf);

	printf("%-8s %8s %8s %6s %7s  %-*s %6s  %-*s %10s %8s %6s\n", "pid",
	       "parent", "records", "mmaps", "munmaps", wp, "placed", "cow", wm,
	       "migrated", "next-touch", "balance", "lost");
	for (size_t i = 0; i < ps->n; i++) {
		memset(pages, 0, sizeof(*pages));
		proc_pages_add(pages, &ps->v[i]);
		snprintf(pid, sizeof(pid), "%d", ps->v[i].pid);
		proc_row(&ps->v[i], pages, pid, wp, wm);
	}
	sum->parent = 0;
	proc_row(sum, sum_pages, "family", wp, wm);
	puts("placed: pages first touched, node:pages (kernel: the kernel chose); "
	     "migrated: pages moved by migrations, target node:pages");
}

/* --summary, from the processes of ps: a table, or JSON lines. */
static void summary_print(const struct tr_procs *ps, struct tr_pages *sum_pages,
			  struct tr_pages *pages, int json)
{
	struct tr_proc sum = { 0 };

	for (size_t i = 0; i < ps->n; i++) {
		proc_add(&sum, &ps->v[i]);
		proc_pages_add(sum_pages, &ps->v[i]);
	}
	if (!json) {
		summary_table(ps, &sum, sum_pages, pages);
		return;
	}
	for (size_t i = 0; i < ps->n; i++) {
		memset(pages, 0, sizeof(*pages));
		proc_pages_add(pages, &ps->v[i]);
		proc_json(&ps->v[i], pages, 0);
	}
	proc_json(&sum, sum_pages, 1);
}

static int show_summary(struct tr_file *tf, int json)
{
	struct tr_procs ps = { 0 };
	struct tr_pages *sum_pages = calloc(1, sizeof(*sum_pages));
	struct tr_pages *pages = malloc(sizeof(*pages));
	const struct ns_trace_rec *r;
	int got = 0, err = 0;

	if (!sum_pages || !pages)
		err = file_error(tf->path, strerror(ENOMEM));
	while (!err && (got = tr_next(tf, &r)) > 0)
		err = procs_count(&ps, r, tf->path, "--summary", " (--csv has every record)");
	if (!err && got < 0)
		err = 1;
	if (!err)
		summary_print(&ps, sum_pages, pages, json);
	free(pages);
	free(sum_pages);
	procs_free(&ps);
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

/* The most pages any series of d has in one bucket. */
static uint64_t svg_max(const struct svg_data *d)
{
	uint64_t max = 0;

	for (int n = 0; n <= TR_KERNEL; n++)
		for (int i = 0; i < SVG_BUCKETS; i++) {
			if (d->placed[n].v[i] > max)
				max = d->placed[n].v[i];
			if (n < TR_NODES && d->moved[n].v[i] > max)
				max = d->moved[n].v[i];
		}
	return max;
}

/* Axes, gridlines, ticks and their labels, for a plot of pw by ph at
 * x0, y0: gridlines step pages apart, span seconds across. */
static void svg_axes(FILE *f, double x0, double y0, double pw, double ph,
		     uint64_t step, double span)
{
	int k;

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
}

/* One line per node and kind of d, the same colour for a node, in the
 * plot at x0, y0 (pw by ph, ymax pages high); a legend at its right. */
static void svg_lines(FILE *f, const struct svg_data *d, double x0, double y0,
		      double pw, double ph, uint64_t ymax)
{
	static const char *const colors[] = { "#1f77b4", "#d62728", "#2ca02c",
		"#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2" };
	const char *dashed = " stroke-dasharray=\"6,3\"";
	double ly = y0 + 10;

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
}

static void svg_write(FILE *f, const struct tr_file *tf, const struct svg_data *d)
{
	const double W = 860, H = 420, x0 = 70, y0 = 40, pw = 560, ph = 310;
	/* Five gridlines at whole numbers of pages. */
	uint64_t step = markup_step(svg_max(d));

	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
		W, H, W, H);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"14\">Pages placed and moved: ", x0);
	markup_text(f, tf->path, 0);	/* the file name, in the title */
	fputs("</text>\n", f);
	svg_axes(f, x0, y0, pw, ph, step, (double)(tf->t1 - tf->t0) / 1e9);
	svg_lines(f, d, x0, y0, pw, ph, 5 * step);
	fputs("</svg>\n", f);
}

static int show_svg(struct tr_file *tf, const char *out)
{
	struct svg_data *d = calloc(1, sizeof(*d));
	double span = (double)(tf->t1 - tf->t0) + 1;
	const struct ns_trace_rec *r;
	FILE *f;
	int got, err = 0;

	if (!d)
		return file_error(out, strerror(ENOMEM));
	/* Each time is within [t0, t1] (tr_next checks): b from 0 to 100. */
	while ((got = tr_next(tf, &r)) > 0) {
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
	if (got < 0) {
		err = 1;
		goto out_free;
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
	struct tr_file *tf = malloc(sizeof(*tf));	/* its buffer: 48 KiB */
	int err;

	if (!tf)
		return file_error(path, strerror(ENOMEM));
	err = tr_file_open(tf, path);
	/* Times are relative to the earliest record: a pass to find it. */
	if (!err && out != TRACE_SUMMARY && out != TRACE_SUMMARY_JSON)
		err = tr_times(tf);
	if (!err) {
		switch (out) {
		case TRACE_TEXT:
			err = show_text(tf);
			break;
		case TRACE_CSV:
			err = show_csv(tf);
			break;
		case TRACE_SUMMARY:
		case TRACE_SUMMARY_JSON:
			err = show_summary(tf, out == TRACE_SUMMARY_JSON);
			break;
		case TRACE_JSON:
			err = show_json(tf);
			break;
		case TRACE_SVG:
			err = show_svg(tf, svg_path);
			break;
		}
	}
	tr_file_close(tf);
	free(tf);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "numashadow: trace: standard output: %s\n", strerror(errno));
		err = 1;
	}
	return err ? err : tr_cut;
}

/* ---- report: one run's numbers (numashadow report) ---- */

/* What is counted, and its caps: tools/report.h; call sites, objects
 * and migration outcomes: tools/report_sites.c. */
/* The first map of pid not starting below addr. */
static size_t rp_map_lower(const struct rp *rp, int32_t pid, uint64_t addr)
{
	size_t lo = 0, hi = rp->nmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct rp_map *m = &rp->maps[mid];
		if (m->pid < pid || (m->pid == pid && m->start < addr))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Takes [s, e) out of pid's live mappings: a mapping wholly inside goes,
 * one cut keeps its head (a middle cut loses the tail's attribution),
 * one starting inside keeps its tail. */
static void rp_unmap(struct rp *rp, int32_t pid, uint64_t s, uint64_t e)
{
	size_t i = rp_map_lower(rp, pid, s);

	if (i > 0 && rp->maps[i - 1].pid == pid && rp->maps[i - 1].end > s)
		rp->maps[i - 1].end = s;	/* begins before s: keep the head */
	while (i < rp->nmaps && rp->maps[i].pid == pid && rp->maps[i].start < e) {
		if (rp->maps[i].end > e) {
			rp->maps[i].start = e;	/* still before the next one */
			break;
		}
		memmove(&rp->maps[i], &rp->maps[i + 1],
			(rp->nmaps - i - 1) * sizeof(rp->maps[0]));
		rp->nmaps--;
	}
}

static int rp_map_add(struct rp *rp, int32_t pid, uint64_t s, uint64_t len)
{
	uint64_t e = s + len < s ? UINT64_MAX : s + len;
	size_t i;

	if (!len)
		return 0;
	rp_unmap(rp, pid, s, e);
	if (rp->nmaps == RP_MAX_MAPS) {
		rp->maps_skipped++;
		return 0;
	}
	if (!rp->maps) {
		rp->maps = malloc(RP_MAX_MAPS * sizeof(rp->maps[0]));
		if (!rp->maps)
			return -ENOMEM;
	}
	i = rp_map_lower(rp, pid, s);
	memmove(&rp->maps[i + 1], &rp->maps[i], (rp->nmaps - i) * sizeof(rp->maps[0]));
	rp->maps[i] = (struct rp_map){ .pid = pid, .start = s, .end = e,
				       .addr = s, .len = len };
	rp->nmaps++;
	return 0;
}

/* The process pid, or NULL: a lookup that adds nothing. */
struct tr_proc *proc_find(struct tr_procs *ps, int32_t pid)
{
	if (!ps->nslots)
		return NULL;
	for (size_t h = pid_hash(pid, ps->nslots); ps->slot[h]; h = (h + 1) & (ps->nslots - 1))
		if (ps->v[ps->slot[h] - 1].pid == pid)
			return &ps->v[ps->slot[h] - 1];
	return NULL;
}

/* The pages of the mapping holding addr in pid, or in the parent it was
 * forked from (a child's mappings are inherited, not recorded); NULL when
 * none does, or no slot is left (counted). */
static struct rp_mstat *rp_stat_of(struct rp *rp, int32_t pid, uint64_t addr)
{
	for (int gen = 0; gen < RP_PARENTS && pid > 0; gen++) {
		size_t i = rp_map_lower(rp, pid, addr + 1);
		struct tr_proc *p;

		if (i > 0 && rp->maps[i - 1].pid == pid && rp->maps[i - 1].end > addr) {
			struct rp_map *m = &rp->maps[i - 1];
			if (!m->stat) {
				if (rp->nstats == RP_MAX_MAPS) {
					rp->stats_skipped++;
					return NULL;
				}
				if (!rp->stats) {
					rp->stats = calloc(RP_MAX_MAPS, sizeof(rp->stats[0]));
					if (!rp->stats)
						return NULL;
				}
				rp->stats[rp->nstats] = (struct rp_mstat){ .pid = m->pid,
					.addr = m->addr, .len = m->len };
				m->stat = (uint32_t)++rp->nstats;
			}
			return &rp->stats[m->stat - 1];
		}
		p = proc_find(&rp->ps, pid);
		if (!p || p->parent <= 0 || p->parent > TR_PID_MAX)
			break;
		pid = (int32_t)p->parent;
	}
	return NULL;
}

static size_t page_hash(int32_t pid, uint64_t addr, size_t nslots)
{
	uint64_t h = (addr >> TR_PAGE_SHIFT) * 0x9e3779b97f4a7c15ull ^ (uint64_t)pid;

	return (size_t)(h ^ h >> 29) & (nslots - 1);
}

/* The page of pid at addr (page-aligned), made on first use; NULL when
 * RP_MAX_PAGES are followed already (counted) or out of memory. */
static struct rp_page *rp_page(struct rp *rp, int32_t pid, uint64_t addr)
{
	size_t h;

	addr &= ~(((uint64_t)1 << TR_PAGE_SHIFT) - 1);
	if (!addr)
		addr = 1;	/* page 0 is a valid address; 0 marks free slots */
	if (rp->nslots)
		for (h = page_hash(pid, addr, rp->nslots); rp->pages[h].addr;
		     h = (h + 1) & (rp->nslots - 1))
			if (rp->pages[h].addr == addr && rp->pages[h].pid == pid)
				return &rp->pages[h];
	if (rp->npages == RP_MAX_PAGES) {
		rp->pages_skipped++;
		return NULL;
	}
	if (2 * (rp->npages + 1) > rp->nslots) {
		size_t nslots = rp->nslots ? 2 * rp->nslots : 1024;
		struct rp_page *v = calloc(nslots, sizeof(*v));
		if (!v)
			return NULL;
		for (size_t i = 0; i < rp->nslots; i++) {
			if (!rp->pages[i].addr)
				continue;
			for (h = page_hash(rp->pages[i].pid, rp->pages[i].addr, nslots);
			     v[h].addr; h = (h + 1) & (nslots - 1))
				;
			v[h] = rp->pages[i];
		}
		free(rp->pages);
		rp->pages = v;
		rp->nslots = nslots;
	}
	for (h = page_hash(pid, addr, rp->nslots); rp->pages[h].addr;
	     h = (h + 1) & (rp->nslots - 1))
		;
	rp->pages[h] = (struct rp_page){ .addr = addr, .pid = pid, .node = -1 };
	rp->npages++;
	return &rp->pages[h];
}

/* A page moved to node: a return when it had left node before. */
static void rp_page_move(struct rp *rp, int32_t pid, uint64_t addr, int node)
{
	struct rp_page *pg = rp_page(rp, pid, addr);

	if (!pg || pg->node == node)
		return;
	if (pg->node >= 0)
		pg->left |= 1ULL << pg->node;
	if (pg->left >> node & 1)
		pg->returns++;
	pg->node = (int16_t)node;
}

static void rp_move_add(struct rp_move *mv, int node, uint64_t pages)
{
	mv->pages += pages;
	mv->pages_to[node] += pages;
	mv->calls_to[node]++;
	mv->calls++;
}

/* The bucket of time t: 0 to RP_BUCKETS - 1 (t within [t0, t1]). */
static int rp_bucket(const struct rp *rp, uint64_t t)
{
	double span = (double)(rp->t1 - rp->t0) + 1;
	int b = (int)((double)(t - rp->t0) / span * RP_BUCKETS);

	return b < 0 ? 0 : b >= RP_BUCKETS ? RP_BUCKETS - 1 : b;
}

/* For the charts: pages placed on (moved 0) or moved to node (moved 1)
 * at r's time, and, when ms holds r's range, a heatmap event. */
static void rp_chart(struct rp *rp, const struct ns_trace_rec *r, const struct rp_mstat *ms,
		     int node, int moved, uint64_t pages)
{
	int b;

	if (!rp->tl)
		return;
	b = rp_bucket(rp, r->time);
	if (moved)
		rp->tl->moved[node][b] += pages;
	else
		rp->tl->placed[node][b] += pages;
	if (!ms || !rp->ev)
		return;
	if (rp->nev == RP_MAX_EVENTS) {
		rp->ev_skipped++;
		return;
	}
	uint64_t off = r->addr - ms->addr;
	uint64_t len = r->type == NS_TR_FAULT || r->type == NS_TR_MIGRATE ? r->len
									  : 1ull << TR_PAGE_SHIFT;
	if (off >= ms->len)
		return;
	if (len > ms->len - off)
		len = ms->len - off;
	rp->ev[rp->nev++] = (struct rp_event){ .stat = (uint32_t)(ms - rp->stats),
		.bucket = (uint8_t)b, .moved = (uint8_t)moved, .node = (int16_t)node,
		.off = off, .len = len };
}

/* reporter said pages of ms were shared with peer (0: with someone). */
static void rp_share_add(struct rp_mstat *ms, int32_t reporter, int32_t peer, uint64_t pages)
{
	for (uint32_t i = 0; i < ms->nsh; i++)
		if (ms->sh[i].reporter == reporter && ms->sh[i].peer == peer) {
			ms->sh[i].pages += pages;
			return;
		}
	if (ms->nsh < RP_SHARES)
		ms->sh[ms->nsh++] = (struct rp_share){ reporter, peer, pages };
	else
		ms->sh_cut++;
}

/* Is anc pid itself or one of its parents (RP_PARENTS generations)? */
static int rp_related(struct rp *rp, int32_t pid, int32_t anc)
{
	for (int gen = 0; gen < RP_PARENTS && pid > 0; gen++) {
		struct tr_proc *p;
		if (pid == anc)
			return 1;
		p = proc_find(&rp->ps, pid);
		if (!p || p->parent <= 0 || p->parent > TR_PID_MAX)
			return 0;
		pid = (int32_t)p->parent;
	}
	return 0;
}

/* A SHARED run of r->len pages from r->addr: each mapping it covers gets
 * its part (the kernel merges neighbouring mappings into one VMA). */
static void rp_shared(struct rp *rp, const struct ns_trace_rec *r)
{
	uint64_t a = r->addr, n = r->len > (1ull << 40) ? 1ull << 40 : r->len;
	uint64_t end = a + (n << TR_PAGE_SHIFT);

	while (a < end && a >= r->addr) {
		struct rp_mstat *ms = rp_stat_of(rp, r->pid, a);
		/* Unmapped since: the pages it had, by the same family line. */
		for (size_t i = 0; !ms && i < rp->nstats; i++) {
			struct rp_mstat *m = &rp->stats[i];
			if (a - m->addr < m->len && rp_related(rp, r->pid, m->pid))
				ms = m;
		}
		/* A run is one VMA's: past its recorded mappings, the rest is
		 * outside any (a hostile length ends here too). */
		if (!ms)
			break;
		uint64_t stop = ms->addr + ms->len;
		if (stop > end || stop <= a)
			stop = end;
		rp_share_add(ms, r->pid, (int32_t)r->aux, (stop - a) >> TR_PAGE_SHIFT);
		a = stop;
	}
}

/* The pages of ms its mapper pid was said to share: as reporter, with
 * anyone; as a relative, the most any reporter said. */
static uint64_t rp_mapper_pages(const struct rp_mstat *ms, int32_t pid)
{
	uint64_t most = 0;

	for (uint32_t i = 0; i < ms->nsh; i++) {
		const struct rp_share *x = &ms->sh[i];
		if ((x->peer == 0 && x->reporter == pid) || x->peer == pid)
			most = x->pages > most ? x->pages : most;
	}
	return most;
}

void rp_mappers(const struct rp_mstat *ms, void (*fn)(int32_t pid, uint64_t pages,
							     int first, void *arg), void *arg)
{
	int first = 1;

	for (uint32_t i = 0; i < ms->nsh; i++) {
		for (int side = 0; side < 2; side++) {
			int32_t pid = side ? ms->sh[i].peer : ms->sh[i].reporter;
			uint32_t j = 0;
			if (!pid)
				continue;
			for (; j < i; j++)	/* said before? */
				if (ms->sh[j].reporter == pid || ms->sh[j].peer == pid)
					break;
			if (j < i || (side && ms->sh[i].reporter == pid))
				continue;
			fn(pid, rp_mapper_pages(ms, pid), first, arg);
			first = 0;
		}
	}
}

/* A FAULT record on node (-1: the kernel chose); returns 0 or -ENOMEM. */
static int rp_fault(struct rp *rp, const struct ns_trace_rec *r, int node)
{
	uint64_t pages = r->len >> TR_PAGE_SHIFT;
	struct rp_mstat *ms = rp_stat_of(rp, r->pid, r->addr);

	if (ms) {
		ms->placed[node >= 0 ? node : TR_KERNEL] += pages;
		ms->placed_total += pages;
	} else {
		rp->un_placed += pages;
	}
	rp_chart(rp, r, ms, node >= 0 ? node : TR_KERNEL, 0, pages);
	if (rs_count(rp, r, ms))
		return -ENOMEM;
	/* A fresh page: what it left before is forgotten.  No more
	 * than the runtime fills at once, in a hostile file. */
	for (uint64_t i = 0; i < pages && i < RP_FAULT_PAGES; i++) {
		struct rp_page *pg = rp_page(rp, r->pid,
					     r->addr + (i << TR_PAGE_SHIFT));
		if (pg) {
			pg->node = (int16_t)node;
			pg->left = 0;
		}
	}
	return 0;
}

/* A MIGRATE record to node. */
static void rp_migrate(struct rp *rp, const struct ns_trace_rec *r, int node)
{
	struct rp_mstat *ms;

	rp_move_add(&rp->migrate, node, r->aux);
	rp->migrate.range_pages += r->len >> TR_PAGE_SHIFT;
	rp->migrate.none += !r->aux;
	/* Which pages moved is not recorded: a range inside one
	 * mapping counts there, others outside any. */
	ms = rp_stat_of(rp, r->pid, r->addr);
	if (ms && r->len && r->len <= ms->len - (r->addr - ms->addr))
		ms->migrated += r->aux;
	else {
		rp->un_migrated += r->aux;
		ms = NULL;
	}
	if (r->aux)
		rp_chart(rp, r, ms, node, 1, r->aux);
}

/* A NEXT_TOUCH or BALANCE record: one page moved to node. */
static void rp_page_moved(struct rp *rp, const struct ns_trace_rec *r, int node)
{
	struct rp_mstat *ms;

	rp_move_add(r->type == NS_TR_BALANCE ? &rp->balance : &rp->next_touch, node, 1);
	ms = rp_stat_of(rp, r->pid, r->addr);
	if (ms)
		ms->migrated++;
	else
		rp->un_migrated++;
	rp_chart(rp, r, ms, node, 1, 1);
	rp_page_move(rp, r->pid, r->addr, node);
}

/* A SHARED record, kept for rp_sum; returns 0 or -ENOMEM. */
static int rp_shared_keep(struct rp *rp, const struct ns_trace_rec *r)
{
	if (rp->nshared == RP_MAX_SHARED) {
		rp->shared_skipped++;
		return 0;
	}
	if (!rp->shared && !(rp->shared = malloc(RP_MAX_SHARED * sizeof(*r))))
		return -ENOMEM;
	rp->shared[rp->nshared++] = *r;
	return 0;
}

/* Counts record r; returns 0 or -ENOMEM. */
static int rp_count(struct rp *rp, const struct ns_trace_rec *r)
{
	int node = r->node >= 0 && r->node < TR_NODES ? r->node : -1;

	rp->recs++;
	switch (r->type) {
	case NS_TR_MMAP:
	case NS_TR_MREMAP_TO:
		return rp_map_add(rp, r->pid, r->addr, r->len);
	case NS_TR_MUNMAP:
		if (r->len)
			rp_unmap(rp, r->pid, r->addr, r->addr + r->len < r->addr ?
				 UINT64_MAX : r->addr + r->len);
		return 0;
	case NS_TR_FAULT:
		return rp_fault(rp, r, node);
	case NS_TR_MIGRATE:
		if (node >= 0)
			rp_migrate(rp, r, node);
		return 0;
	case NS_TR_NEXT_TOUCH:
	case NS_TR_BALANCE:
		if (node >= 0)
			rp_page_moved(rp, r, node);
		return 0;
	case NS_TR_SHARED:
		return rp_shared_keep(rp, r);
	case NS_TR_LOST:
		rp->lost_recs++;
		rp->lost_said += r->aux;
		return 0;
	case NS_TR_START:
		if (r->aux) {	/* a fork child: its sites are the parent's */
			struct tr_proc *c = proc_find(&rp->ps, r->pid);
			struct tr_proc *p = proc_find(&rp->ps, (int32_t)r->aux);
			if (c && p)
				c->parent_image = p->image;
		}
		return 0;
	case NS_TR_OBJECT:
	case NS_TR_BYTES:
	case NS_TR_SITE:
	case NS_TR_FRAME:
	case NS_TR_MIGRATE_END:
	case NS_TR_MIGRATE_FAIL:
		return rs_count(rp, r, NULL);
	}
	return 0;
}

static void rp_free(struct rp *rp)
{
	procs_free(&rp->ps);
	free(rp->maps);
	free(rp->stats);
	free(rp->pages);
	free(rp->tl);
	free(rp->ev);
	free(rp->shared);
	rs_free(rp);
}

size_t top_insert(size_t *top, uint64_t *val, size_t k, size_t n, size_t i, uint64_t v)
{
	size_t j;

	for (j = k; j > 0 && val[j - 1] < v; j--)
		if (j < n) {
			top[j] = top[j - 1];
			val[j] = val[j - 1];
		}
	if (j < n) {
		top[j] = i;
		val[j] = v;
		if (k < n)
			k++;
	}
	return k;
}

/* Indices of the n largest by key (ties: the earlier first), into top;
 * returns how many (those with key 0 are left out). */
static size_t rp_top_maps(const struct rp *rp, int key, size_t *top, size_t n)
{
	uint64_t val[RP_TOP_MAX];
	size_t k = 0;

	for (size_t i = 0; i < rp->nstats; i++) {
		const struct rp_mstat *s = &rp->stats[i];
		uint64_t v = key == 2 ? s->shared : key ? s->migrated : s->placed_total;

		if (v)
			k = top_insert(top, val, k, n, i, v);
	}
	return k;
}

static size_t rp_top_pages(const struct rp *rp, const struct rp_page **top, size_t n,
			   uint64_t *npages, uint64_t *returns)
{
	size_t k = 0;

	*npages = *returns = 0;
	for (size_t i = 0; i < rp->nslots; i++) {
		const struct rp_page *pg = &rp->pages[i];
		size_t j;

		if (!pg->addr || !pg->returns)
			continue;
		++*npages;
		*returns += pg->returns;
		for (j = k; j > 0 && top[j - 1]->returns < pg->returns; j--)
			if (j < n)
				top[j] = top[j - 1];
		if (j < n) {
			top[j] = pg;
			if (k < n)
				k++;
		}
	}
	return k;
}

static void nodes_fprint(FILE *f, const uint64_t *pages, int n, uint64_t show)
{
	char buf[NODES_BUF];

	nodes_format(buf, sizeof(buf), pages, n, show);
	fputs(buf, f);
}

static void nodes_fjson(FILE *f, const uint64_t *pages, int n)
{
	const char *sep = "";

	fputc('{', f);
	for (int i = 0; i < n; i++) {
		if (!pages[i])
			continue;
		if (i == TR_KERNEL)
			fprintf(f, "%s\"kernel\":%" PRIu64, sep, pages[i]);
		else
			fprintf(f, "%s\"%d\":%" PRIu64, sep, i, pages[i]);
		sep = ",";
	}
	fputc('}', f);
}

void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);	/* bytes as Latin-1: always valid */
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static uint64_t sum_nodes(const uint64_t *v, int n)
{
	uint64_t s = 0;

	for (int i = 0; i < n; i++)
		s += v[i];
	return s;
}

static void rp_move_text(FILE *f, const char *what, const struct rp_move *mv)
{
	fprintf(f, "  %-11s %" PRIu64 " pages moved, by target node: ", what, mv->pages);
	nodes_fprint(f, mv->pages_to, TR_NODES, 0);
	fputc('\n', f);
}

static void rp_move_json(FILE *f, const char *what, const struct rp_move *mv)
{
	fprintf(f, "\"%s\":{\"pages_moved\":%" PRIu64 ",\"by_node\":", what, mv->pages);
	nodes_fjson(f, mv->pages_to, TR_NODES);
	fputc('}', f);
}

static void rp_mstat_text(FILE *f, const struct rp_mstat *s)
{
	fprintf(f, "  pid %d 0x%" PRIx64 "-0x%" PRIx64 " (%" PRIu64 " bytes): %" PRIu64
		" placed (", s->pid, s->addr, s->addr + s->len, s->len, s->placed_total);
	nodes_fprint(f, s->placed, TR_NODES + 1, 0);
	fprintf(f, "), %" PRIu64 " migrated\n", s->migrated);
}

static void mapper_text(int32_t pid, uint64_t pages, int first, void *f)
{
	fprintf(f, "%s pid %d (%" PRIu64 ")", first ? "" : ",", pid, pages);
}

static void mapper_json(int32_t pid, uint64_t pages, int first, void *f)
{
	fprintf(f, "%s{\"pid\":%d,\"pages\":%" PRIu64 "}", first ? "" : ",", pid, pages);
}

static void rp_shared_text(FILE *f, const struct rp_mstat *s)
{
	fprintf(f, "  pid %d 0x%" PRIx64 "-0x%" PRIx64 " (%" PRIu64 " bytes): %" PRIu64
		" pages shared; mappers:", s->pid, s->addr, s->addr + s->len, s->len, s->shared);
	rp_mappers(s, mapper_text, f);
	if (s->sh_cut)
		fprintf(f, " (%u more counts not kept)", s->sh_cut);
	fputc('\n', f);
}

static void rp_shared_json(FILE *f, const struct rp_mstat *s)
{
	fprintf(f, "{\"pid\":%d,\"addr\":\"0x%" PRIx64 "\",\"len\":%" PRIu64
		",\"shared\":%" PRIu64 ",\"mappers\":[", s->pid, s->addr, s->len, s->shared);
	rp_mappers(s, mapper_json, f);
	fprintf(f, "],\"counts_not_kept\":%u}", s->sh_cut);
}

static void rp_mstat_json(FILE *f, const struct rp_mstat *s)
{
	fprintf(f, "{\"pid\":%d,\"addr\":\"0x%" PRIx64 "\",\"len\":%" PRIu64 ",\"placed\":",
		s->pid, s->addr, s->len);
	nodes_fjson(f, s->placed, TR_NODES + 1);
	fprintf(f, ",\"placed_total\":%" PRIu64 ",\"migrated\":%" PRIu64 "}",
		s->placed_total, s->migrated);
}

/* What every output prints, from rp (and each mapping's shared pages). */
static void rp_sum(struct rp_sum *s, const char *path, struct rp *rp)
{
	memset(s, 0, sizeof(*s));
	s->path = path;
	for (size_t i = 0; i < rp->ps.n; i++) {
		proc_add(&s->fam, &rp->ps.v[i]);
		proc_pages_add(&s->pg, &rp->ps.v[i]);
	}
	s->span = rp->recs ? rp->t1 - rp->t0 : 0;
	s->placed = sum_nodes(s->pg.placed, TR_NODES + 1);
	s->moved = rp->migrate.pages + rp->next_touch.pages + rp->balance.pages;
	s->ntop[0] = rp_top_maps(rp, 0, s->top[0], RP_TOP);
	s->ntop[1] = rp_top_maps(rp, 1, s->top[1], RP_TOP);
	for (size_t i = 0; i < rp->nshared; i++)
		rp_shared(rp, &rp->shared[i]);
	for (size_t i = 0; i < rp->nstats; i++) {
		struct rp_mstat *m = &rp->stats[i];
		for (uint32_t k = 0; k < m->nsh; k++)
			if (!m->sh[k].peer && m->sh[k].pages > m->shared)
				m->shared = m->sh[k].pages;
	}
	s->ntop[2] = rp_top_maps(rp, 2, s->top[2], RP_TOP);
	s->npt = rp_top_pages(rp, s->ptop, RP_TOP_PAGES, &s->pp_pages, &s->pp_returns);
	s->maps_cut = rp->maps_skipped || rp->stats_skipped;
	rs_finish(rp, s);
}

/* The JSON report's mappings, top by each measure, and ping-pong pages. */
static void rp_json_maps(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	const struct rp_page *const *ptop = s->ptop;

	fprintf(f, ",\"mappings\":{\"grouped_by\":\"mmap\",\"cap\":%u,\"cap_hit\":%s,"
		"\"unattributed_placed\":%" PRIu64 ",\"unattributed_migrated\":%" PRIu64
		",\"top_placed\":[", RP_MAX_MAPS, s->maps_cut ? "true" : "false",
		rp->un_placed, rp->un_migrated);
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < s->ntop[k]; i++) {
			if (i)
				fputc(',', f);
			rp_mstat_json(f, &rp->stats[s->top[k][i]]);
		}
		fputs(k ? "]" : "],\"top_migrated\":[", f);
	}
	fputs(",\"top_shared\":[", f);
	for (size_t i = 0; i < s->ntop[2]; i++) {
		if (i)
			fputc(',', f);
		rp_shared_json(f, &rp->stats[s->top[2][i]]);
	}
	fputs("]}", f);
	fprintf(f, ",\"ping_pong\":{\"pages\":%" PRIu64 ",\"returns\":%" PRIu64
		",\"pages_followed\":%zu,\"cap\":%u,\"cap_hit\":%s,\"top\":[", s->pp_pages,
		s->pp_returns, rp->npages, RP_MAX_PAGES, rp->pages_skipped ? "true" : "false");
	for (size_t i = 0; i < s->npt; i++)
		fprintf(f, "%s{\"pid\":%d,\"addr\":\"0x%" PRIx64 "\",\"returns\":%u,"
			"\"node\":%d}", i ? "," : "", ptop[i]->pid, ptop[i]->addr,
			ptop[i]->returns, ptop[i]->node);
}

static void rp_write_json(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	uint64_t moved = s->moved;

	fputs("{\"file\":", f);
	json_string(f, s->path);
	fprintf(f, ",\"records\":%" PRIu64 ",\"processes\":%zu,\"run_time_ns\":%" PRIu64
		",\"placed\":", rp->recs, rp->ps.n, s->span);
	nodes_fjson(f, s->pg.placed, TR_NODES + 1);
	fprintf(f, ",\"placed_total\":%" PRIu64 ",\"migrations\":{\"migrate\":"
		"{\"calls\":%" PRIu64 ",\"calls_moved_none\":%" PRIu64
		",\"range_pages\":%" PRIu64 ",\"pages_moved\":%" PRIu64 ",\"by_node\":",
		s->placed, rp->migrate.calls, rp->migrate.none, rp->migrate.range_pages,
		rp->migrate.pages);
	nodes_fjson(f, rp->migrate.pages_to, TR_NODES);
	fputs(",\"calls_by_node\":", f);
	nodes_fjson(f, rp->migrate.calls_to, TR_NODES);
	fputs("},", f);
	rp_move_json(f, "next_touch", &rp->next_touch);
	fputc(',', f);
	rp_move_json(f, "balance", &rp->balance);
	fputs(",\"failed\":", f);
	rs_json_failed(f, rp);
	fprintf(f, "},\"pages_moved\":%" PRIu64 ",\"bytes_moved\":%" PRIu64
		",\"latency_ns\":", moved, moved << TR_PAGE_SHIFT);
	rs_json_latency(f, rp, s);
	fprintf(f, ",\"lost\":{\"total\":%" PRIu64 ",\"lost_records\":%" PRIu64
		",\"in_lost_records\":%" PRIu64 ",\"in_seq_gaps\":%" PRIu64
		"},\"call_sites\":", s->fam.lost, rp->lost_recs, rp->lost_said,
		s->fam.lost - rp->lost_said);
	rs_json_sites(f, rp, s);
	rp_json_maps(f, rp, s);
	fputs("]}}\n", f);
}

void rp_pages_cap(FILE *f, const struct rp *rp, const char *pre, const char *post)
{
	if (rp->pages_skipped)
		fprintf(f, "%scap hit: %u pages followed, %" PRIu64 " page events past it not%s",
			pre, RP_MAX_PAGES, rp->pages_skipped, post);
}

/* The text report's mappings, top by each measure, and ping-pong pages. */
static void rp_text_maps(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	const struct rp_page *const *ptop = s->ptop;

	for (int k = 0; k < 2; k++) {
		fprintf(f, "top mappings by pages %s:\n", k ? "migrated" : "placed");
		for (size_t i = 0; i < s->ntop[k]; i++)
			rp_mstat_text(f, &rp->stats[s->top[k][i]]);
		if (!s->ntop[k])
			fputs("  none\n", f);
	}
	fprintf(f, "  outside recorded mappings: %" PRIu64 " placed, %" PRIu64 " migrated\n",
		rp->un_placed, rp->un_migrated);
	fputs("top mappings by pages shared (mapped by more than one process of the family, "
	      "as each said at its exit):\n", f);
	for (size_t i = 0; i < s->ntop[2]; i++)
		rp_shared_text(f, &rp->stats[s->top[2][i]]);
	if (!s->ntop[2])
		fputs("  none\n", f);
	if (s->maps_cut)
		fprintf(f, "  cap hit: mappings beyond %u not followed (their pages "
			"counted as outside)\n", RP_MAX_MAPS);
	fprintf(f, "ping-pong pages (moved back to a node they left; next-touch and "
		"balance moves, migrate records do not say which pages): %" PRIu64
		" pages, %" PRIu64 " returns\n", s->pp_pages, s->pp_returns);
	for (size_t i = 0; i < s->npt; i++)
		fprintf(f, "  pid %d 0x%" PRIx64 ": %u returns, now on node %d\n",
			ptop[i]->pid, ptop[i]->addr, ptop[i]->returns, ptop[i]->node);
	rp_pages_cap(f, rp, "  ", "\n");
}

static void rp_write_text(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	uint64_t span = s->span, moved = s->moved;

	fprintf(f, "trace: %s\n", s->path);
	fprintf(f, "run time: %" PRIu64 ".%06" PRIu64 " s (earliest to latest record), "
		"%zu processes, %" PRIu64 " records\n", span / 1000000000,
		span % 1000000000 / 1000, rp->ps.n, rp->recs);
	fputs("pages placed: ", f);
	nodes_fprint(f, s->pg.placed, TR_NODES + 1, 0);
	fprintf(f, " (total %" PRIu64 "; first touch, node:pages, kernel: the kernel chose)\n",
		s->placed);
	fputs("migrations, by reason:\n", f);
	fprintf(f, "  %-11s %" PRIu64 " calls (%" PRIu64 " moved nothing), %" PRIu64
		" pages in their ranges, %" PRIu64 " pages moved, by target node: ",
		"migrate", rp->migrate.calls, rp->migrate.none, rp->migrate.range_pages,
		rp->migrate.pages);
	nodes_fprint(f, rp->migrate.pages_to, TR_NODES, 0);
	fputc('\n', f);
	rp_move_text(f, "next-touch", &rp->next_touch);
	rp_move_text(f, "balance", &rp->balance);
	rs_text_failed(f, rp);
	fprintf(f, "pages moved: %" PRIu64 " (%" PRIu64 " bytes)\n", moved,
		moved << TR_PAGE_SHIFT);
	rs_text_latency(f, rp, s);
	fprintf(f, "lost records: %" PRIu64 " (%" PRIu64 " said by %" PRIu64
		" lost records, %" PRIu64 " gaps in record numbers)\n", s->fam.lost,
		rp->lost_said, rp->lost_recs, s->fam.lost - rp->lost_said);
	rs_text_sites(f, rp, s);
	rp_text_maps(f, rp, s);
}

/* Opens out for writing: created 0666 less the umask, or a regular file
 * emptied; never a FIFO, device or symbolic link.  Returns the stream or
 * NULL after saying why. */
static FILE *rp_out_open(const char *out)
{
	struct stat st;
	FILE *f;
	int fd;

	if (lstat(out, &st) == 0 && !S_ISREG(st.st_mode)) {
		fprintf(stderr, "numashadow: report: -o %s: not a regular file; "
			"refusing to overwrite it\n", out);
		return NULL;
	}
	/* O_NONBLOCK and no O_TRUNC: whatever appeared since the lstat is
	 * looked at before it is emptied. */
	fd = open(out, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
		  0666);
	if (fd < 0) {
		fprintf(stderr, "numashadow: report: -o %s: %s\n", out,
			errno == ELOOP ? "not a regular file; refusing to overwrite it"
				       : strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		fprintf(stderr, "numashadow: report: -o %s: not a regular file; "
			"refusing to overwrite it\n", out);
		close(fd);
		return NULL;
	}
	if (ftruncate(fd, 0)) {
		fprintf(stderr, "numashadow: report: -o %s: %s\n", out, strerror(errno));
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f) {
		fprintf(stderr, "numashadow: report: -o %s: %s\n", out, strerror(errno));
		close(fd);
	}
	return f;
}

/* Counts each record of tf into rp; returns 0, or 1 after saying why not. */
static int rp_read(struct rp *rp, struct tr_file *tf, const char *path)
{
	const struct ns_trace_rec *r;
	int got, err = 0;

	while (!err && (got = tr_next(tf, &r)) != 0) {
		if (got < 0)
			return 1;
		err = procs_count(&rp->ps, r, path, "the report", "");
		if (!err && rp_count(rp, r))
			err = file_error(path, strerror(ENOMEM));
	}
	return err;
}

/* Writes the report of rp, summed into sum, to out (NULL: standard
 * output) as format; returns 0, or 1 after saying why not. */
static int rp_output(struct rp *rp, struct rp_sum *sum, const char *path,
		     enum report_format format, const char *out)
{
	FILE *f = stdout;

	if (out && !(f = rp_out_open(out)))
		return 1;
	rp_sum(sum, path, rp);
	if (format == REPORT_HTML)
		rp_write_html(f, rp, sum);
	else if (format == REPORT_JSON)
		rp_write_json(f, rp, sum);
	else
		rp_write_text(f, rp, sum);
	if (f != stdout && (ferror(f) | fclose(f))) {	/* both, always */
		fprintf(stderr, "numashadow: report: -o %s: %s\n", out,
			strerror(errno ? errno : EIO));
		return 1;
	}
	return 0;
}

int trace_report(const char *path, enum report_format format, const char *out)
{
	struct rp_sum *sum = malloc(sizeof(*sum));
	struct tr_file *tf = malloc(sizeof(*tf));
	struct rp rp;
	int err;

	memset(&rp, 0, sizeof(rp));
	tr_cmd = "report";
	if (tf)
		tf->fd = -1;
	err = !tf || !sum;
	/* The charts' data only for the page that draws them. */
	if (!err && format == REPORT_HTML) {
		rp.tl = calloc(1, sizeof(*rp.tl));
		rp.ev = malloc(RP_MAX_EVENTS * sizeof(*rp.ev));
		err = !rp.tl || !rp.ev;
	}
	if (err)
		file_error(path, strerror(ENOMEM));
	else
		err = tr_file_open(tf, path) || tr_times(tf);
	rp.t0 = tf && !err ? tf->t0 : 0;
	rp.t1 = tf && !err ? tf->t1 : 0;
	if (!err)
		err = rp_read(&rp, tf, path);
	/* Nothing is written, and OUT not touched, unless the whole file read. */
	if (!err)
		err = rp_output(&rp, sum, path, format, out);
	if (tf)
		tr_file_close(tf);
	free(tf);
	free(sum);
	rp_free(&rp);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "numashadow: report: standard output: %s\n", strerror(errno));
		err = 1;
	}
	tr_cmd = "trace";
	return err ? err : tr_cut;
}
