/* SPDX-License-Identifier: MIT */
/*
 * report_html.c - `numashadow report --format html`: the report as one
 * self-contained HTML page.  Everything is inline: the style sheet, the
 * charts (SVG), no script, no font, no link out, so the page reads the
 * same from a mail attachment as from a web server.  The numbers are the
 * ones tools/trace.c counted for the text and JSON reports (struct rp,
 * struct rp_sum in tools/report.h); this file only draws them.
 *
 * Each chart is an <svg> with an id (chart-timeline, chart-heatmap,
 * chart-mappings, chart-sites, chart-latency) whose data marks carry the
 * class "mark"; a chart with nothing to draw says why in its place.  Call
 * site names come from tools/report_sites.c, symbolized once for all.
 * tests/integration/report_html.sh renders the page in a browser and
 * counts them.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "markup.h"
#include "report.h"

#define HM_MAPS		8	/* mappings in the heatmap, the busiest */
#define HM_ROWS		16	/* address rows per mapping */
#define BAR_ROWS	10	/* mappings in the bar chart */

static const char *const node_colors[] = { "#1f77b4", "#d62728", "#2ca02c",
	"#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2" };
#define KERNEL_COLOR	"#7f7f7f"

static const char *node_color(int node)
{
	return node == TR_KERNEL ? KERNEL_COLOR
				 : node_colors[node % (int)(sizeof(node_colors) / sizeof(node_colors[0]))];
}

static void node_name(char *buf, size_t size, int node)
{
	if (node == TR_KERNEL)
		snprintf(buf, size, "kernel's choice");
	else
		snprintf(buf, size, "node %d", node);
}

/* A chart's frame: <figure><h2>title</h2><svg id=...>. */
static void chart_open(FILE *f, const char *id, const char *title, int w, int h)
{
	fprintf(f, "<figure><h2>%s</h2>\n<svg id=\"%s\" class=\"chart\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\">\n"
		"<rect class=\"bg\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
		title, id, w, h, w, h, w, h);
}

static void chart_close(FILE *f, const char *caption)
{
	fprintf(f, "</svg>\n<figcaption>%s</figcaption></figure>\n", caption);
}

/* Said in the chart's place when there is nothing to draw. */
static void chart_empty(FILE *f, int x, int y, const char *why)
{
	fprintf(f, "<text class=\"empty\" x=\"%d\" y=\"%d\">%s</text>\n", x, y, why);
}

/* Horizontal gridlines and their labels for 0 to ymax, five steps. */
static void y_axis(FILE *f, double x0, double y0, double pw, double ph, uint64_t step,
		   const char *unit)
{
	for (int k = 0; k <= 5; k++) {
		double y = y0 + ph - k * ph / 5;
		fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
			x0, y, x0 + pw, y, k ? "#e4e4e4" : "#000");
		fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%" PRIu64 "</text>\n",
			x0 - 6, y + 4, (uint64_t)k * step);
	}
	fprintf(f, "<text transform=\"translate(16,%.0f) rotate(-90)\" "
		"text-anchor=\"middle\">%s</text>\n", y0 + ph / 2, unit);
}

/* Ticks under the time axis: seconds since the first record. */
static void t_axis(FILE *f, double x0, double y0, double pw, double ph, uint64_t span)
{
	for (int k = 0; k <= 5; k++) {
		double x = x0 + k * pw / 5;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#000\"/>\n",
			x, y0 + ph, x, y0 + ph + 5);
		fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.3g</text>\n",
			x, y0 + ph + 18, (double)span / 1e9 * k / 5);
	}
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">seconds since the "
		"first record</text>\n", x0 + pw / 2, y0 + ph + 36);
}

/* ---- pages per node over time ---- */

/* The largest running total of tl, placed or moved: it sets the scale. */
static uint64_t tl_max(const struct rp_timeline *tl)
{
	uint64_t max = 0;

	for (int n = 0; n <= TR_KERNEL; n++) {
		uint64_t a = 0, b = 0;
		for (int i = 0; i < RP_BUCKETS; i++) {
			a += tl->placed[n][i];
			b += n < TR_NODES ? tl->moved[n][i] : 0;
		}
		if (a > max)
			max = a;
		if (b > max)
			max = b;
	}
	return max;
}

static void chart_timeline(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	const double W = 900, x0 = 70, y0 = 20, pw = 600, ph = 260;
	const struct rp_timeline *tl = rp->tl;
	uint64_t step, cum;
	double ly = y0 + 8, width = 5;
	char name[32];

	chart_open(f, "chart-timeline", "Pages per node over time", (int)W, 340);
	step = markup_step(tl_max(tl));
	y_axis(f, x0, y0, pw, ph, step, "pages (running total)");
	t_axis(f, x0, y0, pw, ph, s->span);
	for (int n = 0; n <= TR_KERNEL; n++)
		for (int moved = 0; moved < 2; moved++) {
			const uint64_t *v = moved ? (n < TR_NODES ? tl->moved[n] : NULL) : tl->placed[n];
			uint64_t total = 0;

			for (int i = 0; v && i < RP_BUCKETS; i++)
				total += v[i];
			if (!total)
				continue;
			/* Each line narrower than the one before: equal ones
			 * (nodes interleaved evenly) stay visible. */
			fprintf(f, "<polyline class=\"mark\" fill=\"none\" stroke=\"%s\" "
				"stroke-width=\"%.1f\"%s points=\"%.1f,%.1f", node_color(n),
				width, moved ? " stroke-dasharray=\"6,3\"" : "", x0, y0 + ph);
			width = width > 2.5 ? width - 1.5 : 1.5;
			cum = 0;
			for (int i = 0; i < RP_BUCKETS; i++) {
				cum += v[i];
				fprintf(f, " %.1f,%.1f", x0 + (i + 1) * pw / RP_BUCKETS,
					y0 + ph - (double)cum * ph / (double)(5 * step));
			}
			fputs("\"/>\n", f);
			node_name(name, sizeof(name), n);
			fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" "
				"stroke-width=\"2\"%s/><text x=\"%.0f\" y=\"%.0f\">%s %s: %" PRIu64
				"</text>\n", x0 + pw + 15, ly, x0 + pw + 40, ly, node_color(n),
				moved ? " stroke-dasharray=\"6,3\"" : "", x0 + pw + 46, ly + 4,
				moved ? "moved to" : "placed on", name, total);
			ly += 18;
		}
	if (ly == y0 + 8)
		chart_empty(f, (int)(x0 + 20), (int)(y0 + ph / 2),
			    "no pages placed or moved: first touches are recorded under a "
			    "placement policy (run --interleave=all, --localalloc, ...)");
	chart_close(f, "Solid: pages placed at first touch on each node (FAULT records), "
		    "dashed: pages moved to each node (migrate, next-touch and balance), "
		    "running totals over the run in hundredths.");
}

/* ---- time x address heatmap ---- */

struct hm_cell {
	int16_t node;		/* -1: nothing happened here */
	uint8_t moved;		/* the last event was a move */
};

/* The busiest mappings (pages placed + moved), into top; how many. */
static size_t hm_pick(const struct rp *rp, size_t *top)
{
	uint64_t val[HM_MAPS];
	size_t k = 0;

	for (size_t i = 0; i < rp->nstats; i++) {
		uint64_t v = rp->stats[i].placed_total + rp->stats[i].migrated;

		if (v)
			k = top_insert(top, val, k, HM_MAPS, i, v);
	}
	return k;
}

/* The cells of the k mappings of top, each taking the node of the last
 * event in it (events are in time order). */
static void hm_fill(const struct rp *rp, const size_t *top, size_t k,
		    struct hm_cell cell[HM_MAPS][HM_ROWS][RP_BUCKETS])
{
	for (size_t i = 0; i < rp->nev; i++) {
		const struct rp_event *e = &rp->ev[i];
		size_t b;

		for (b = 0; b < k && top[b] != e->stat; b++)
			;
		if (b == k)
			continue;
		uint64_t len = rp->stats[e->stat].len;
		size_t r0 = (size_t)((double)e->off / (double)len * HM_ROWS);
		size_t r1 = (size_t)((double)(e->off + e->len - 1) / (double)len * HM_ROWS);
		for (size_t r = r0; r <= r1 && r < HM_ROWS; r++)
			cell[b][r][e->bucket] = (struct hm_cell){ e->node, e->moved };
	}
}

/* To the left of the band at by: mapping m's pid, size and address, and
 * the function it was mapped from. */
static void hm_labels(FILE *f, const struct rp *rp, const struct rp_mstat *m,
		      double x0, double by)
{
	fprintf(f, "<text class=\"label\" x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">"
		"pid %d, %" PRIu64 " KiB</text>\n<text class=\"label\" x=\"%.0f\" y=\"%.1f\" "
		"text-anchor=\"end\">0x%" PRIx64 "</text>\n", x0 - 8, by + 12, m->pid,
		m->len >> 10, x0 - 8, by + 25, m->addr);
	if (m->site) {
		const struct rp_site *d = &rp->sites[rp->sites[m->site - 1].def - 1];
		const struct rp_frame *fr = &d->fr[d->name];
		fprintf(f, "<text class=\"label\" x=\"%.0f\" y=\"%.1f\" "
			"text-anchor=\"end\">", x0 - 8, by + 38);
		markup_text(f, d->nframes > 0 && fr->func ? fr->func : "?", 1);
		fputs("()</text>\n", f);
	}
}

/* A band's cells, cw by ch from x0, by: runs of equal cells along a row,
 * one rect each.  The nodes drawn go into *seen, the kernel's choice
 * into *kernel, for the legend. */
static void hm_cells(FILE *f, struct hm_cell cell[HM_ROWS][RP_BUCKETS], double x0,
		     double by, double cw, double ch, uint64_t *seen, int *kernel)
{
	for (int r = 0; r < HM_ROWS; r++)
		for (int c = 0; c < RP_BUCKETS;) {
			struct hm_cell v = cell[r][c];
			int e = c + 1;

			while (e < RP_BUCKETS && cell[r][e].node == v.node &&
			       cell[r][e].moved == v.moved)
				e++;
			if (v.node >= 0) {
				fprintf(f, "<rect class=\"mark\" x=\"%.1f\" y=\"%.1f\" "
					"width=\"%.1f\" height=\"%.1f\" fill=\"%s\"%s/>\n",
					x0 + c * cw, by + r * ch, (e - c) * cw, ch,
					node_color(v.node), v.moved ? " stroke=\"#000\" "
					"stroke-width=\"0.8\"" : " fill-opacity=\"0.55\"");
				if (v.node == TR_KERNEL)
					*kernel = 1;
				else
					*seen |= 1ull << v.node;
			}
			c = e;
		}
}

/* The legend, right of the plot at x0, y0 (pw wide): a swatch per node
 * drawn. */
static void hm_legend(FILE *f, double x0, double y0, double pw, uint64_t seen,
		      int kernel)
{
	for (int n = 0, i = 0; n <= TR_KERNEL; n++) {
		char name[32];

		if (n == TR_KERNEL ? !kernel : !(seen >> n & 1))
			continue;
		node_name(name, sizeof(name), n);
		fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
			"<text x=\"%.0f\" y=\"%.0f\">%s</text>\n", x0 + pw + 12, y0 + i * 18,
			node_color(n), x0 + pw + 30, y0 + i * 18 + 10, name);
		i++;
	}
}

static void chart_heatmap(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	const double W = 900, x0 = 190, y0 = 20, pw = 600;
	size_t top[HM_MAPS], k = hm_pick(rp, top);
	double band = k > 4 ? 48 : 72, ph = k ? band * (double)k : 120;
	double cw = pw / RP_BUCKETS, ch = (band - 6) / HM_ROWS;
	static struct hm_cell cell[HM_MAPS][HM_ROWS][RP_BUCKETS];
	uint64_t seen = 0;	/* nodes drawn, for the legend */
	int kernel = 0;

	chart_open(f, "chart-heatmap", "First touches and moves: time &#215; address",
		   (int)W, (int)(ph + 100));
	memset(cell, 0xff, sizeof(cell));
	hm_fill(rp, top, k, cell);
	t_axis(f, x0, y0, pw, ph, s->span);
	for (size_t b = 0; b < k; b++) {
		double by = y0 + (double)b * band;

		fprintf(f, "<rect x=\"%.0f\" y=\"%.1f\" width=\"%.0f\" height=\"%.1f\" "
			"fill=\"#f6f6f6\" stroke=\"#ccc\"/>\n", x0, by, pw, band - 6);
		hm_labels(f, rp, &rp->stats[top[b]], x0, by);
		hm_cells(f, cell[b], x0, by, cw, ch, &seen, &kernel);
	}
	if (!k)
		chart_empty(f, (int)x0 + 20, (int)(y0 + 60),
			    "no first touch or move fell in a recorded mapping");
	hm_legend(f, x0, y0, pw, seen, kernel);
	if (rp->ev_skipped)
		fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">cap hit: %" PRIu64 " events past the "
			"first %u not drawn</text>\n", x0, ph + y0 + 56, (uint64_t)rp->ev_skipped,
			RP_MAX_EVENTS);
	chart_close(f, "The busiest mappings (by pages placed and moved), one band each, "
		    "addresses from the mapping's start downwards; time to the right. A cell "
		    "takes the node of the last event in it: pale, a first touch placed "
		    "there (FAULT); outlined, pages moved there (migrate, next-touch, "
		    "balance).");
}

/* ---- per-mapping bars ---- */

/* One row of a bar chart: a mapping's or a call site's pages. */
struct bar {
	const uint64_t *placed;		/* by node, [TR_KERNEL] too */
	uint64_t total, migrated;
};

/* The scale of a bar chart of n rows of height row: five steps across
 * pw, the last reaching the longest bar, placed or migrated.  Returns the
 * step, in pages. */
static uint64_t bar_grid(FILE *f, double x0, double y0, double pw, double row,
			 const struct bar *b, size_t n)
{
	uint64_t max = 0, step;

	for (size_t i = 0; i < n; i++) {
		if (b[i].total > max)
			max = b[i].total;
		if (b[i].migrated > max)
			max = b[i].migrated;
	}
	step = markup_step(max);
	for (int k = 0; n && k <= 5; k++) {
		double x = x0 + k * pw / 5;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#e4e4e4\"/>"
			"<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%" PRIu64 "</text>\n",
			x, y0 - 4, x, y0 + (double)n * row, x, y0 + (double)n * row + 14,
			(uint64_t)k * step);
	}
	return step;
}

/* One row at top yb: a bar of pages placed coloured by node, under it a
 * dark bar of pages migrated, the two counts to the right. */
static void bar_row(FILE *f, double x0, double yb, double pw, uint64_t step,
		    const struct bar *b)
{
	const uint64_t *placed = b->placed;
	uint64_t migrated = b->migrated, total = b->total;
	double x = x0;

	for (int nd = 0; nd <= TR_KERNEL; nd++) {
		double w = (double)placed[nd] * pw / (double)(5 * step);
		char name[32];

		if (!placed[nd])
			continue;
		node_name(name, sizeof(name), nd);
		fprintf(f, "<rect class=\"mark\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"14\" fill=\"%s\"><title>%s: %" PRIu64 " pages placed"
			"</title></rect>\n", x, yb, w, node_color(nd), name, placed[nd]);
		x += w;
	}
	if (migrated)
		fprintf(f, "<rect class=\"mark\" x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"7\" fill=\"#444\"><title>%" PRIu64 " pages migrated"
			"</title></rect>\n", x0, yb + 16,
			(double)migrated * pw / (double)(5 * step), migrated);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%" PRIu64 " placed, %" PRIu64
		" migrated</text>\n", x0 + pw + 8, yb + 12, total, migrated);
}

/* What sets one bar chart apart from another: its layout and words, and
 * the label of row i (top y) at x0. */
struct bar_chart {
	const char *id, *title;
	double x0, row;		/* the bars' left edge; a row's height */
	double bar_dy, foot;	/* the bar below its row's top; room below */
	void (*label)(FILE *f, const struct rp *rp, const struct rp_sum *s,
		      size_t i, double x0, double y);
	const char *empty, *caption;
};

/* Bar chart c of the n rows of b. */
static void bar_chart(FILE *f, const struct rp *rp, const struct rp_sum *s,
		      const struct bar_chart *c, const struct bar *b, size_t n)
{
	const double W = 900, x0 = c->x0, y0 = 24, pw = 560, row = c->row;
	uint64_t step;

	chart_open(f, c->id, c->title, (int)W,
		   (int)(y0 + (n ? (double)n * row : 60) + c->foot));
	step = bar_grid(f, x0, y0, pw, row, b, n);
	for (size_t i = 0; i < n; i++) {
		double y = y0 + (double)i * row;

		c->label(f, rp, s, i, x0, y);
		bar_row(f, x0, y + c->bar_dy, pw, step, &b[i]);
	}
	if (!n)
		chart_empty(f, (int)x0, (int)y0 + 20, c->empty);
	chart_close(f, c->caption);
}

static void mapping_label(FILE *f, const struct rp *rp, const struct rp_sum *s,
			  size_t i, double x0, double y)
{
	const struct rp_mstat *m = &rp->stats[s->top[0][i]];

	fprintf(f, "<text class=\"label\" x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">"
		"pid %d 0x%" PRIx64 "</text>\n", x0 - 8, y + 14, m->pid, m->addr);
}

static void chart_mappings(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	static const struct bar_chart c = {
		"chart-mappings", "Pages per mapping", 190, 30, 2, 40, mapping_label,
		"no pages placed in a recorded mapping",
		"The mappings with the most pages placed: a bar of pages placed, "
		"coloured by node, and under it a dark bar of pages migrated."
	};
	size_t n = s->ntop[0] < BAR_ROWS ? s->ntop[0] : BAR_ROWS;
	struct bar b[BAR_ROWS] = { { 0 } };

	for (size_t i = 0; i < n; i++) {
		const struct rp_mstat *m = &rp->stats[s->top[0][i]];
		b[i] = (struct bar){ m->placed, m->placed_total, m->migrated };
	}
	bar_chart(f, rp, s, &c, b, n);
}

/* ---- per-call-site bars ---- */

static void site_label(FILE *f, const struct rp *rp, const struct rp_sum *s,
		       size_t i, double x0, double y)
{
	const struct rp_site *d = &rp->sites[s->stop[0][i]];
	char name[512];

	rs_site_name(name, sizeof(name), rp, d);
	fprintf(f, "<text class=\"label\" x=\"%.0f\" y=\"%.1f\">", x0, y + 10);
	markup_text(f, name, 1);
	fprintf(f, ", pid %d</text>\n", d->pid);
}

static void chart_sites(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	static const struct bar_chart c = {
		"chart-sites", "Pages per allocation call site", 20, 44, 15, 30, site_label,
		"no pages placed at a known call site "
		"(sites are recorded for mappings a placement policy places)",
		"The call sites (distinct stacks of the mmap calls) whose mappings "
		"had the most pages placed, each named by its first frame outside the "
		"runtime, libc and ld.so: pages placed, coloured by node, and a dark bar "
		"of pages migrated in those mappings."
	};
	size_t n = s->nstop[0];
	struct bar b[RP_TOP_SITES] = { { 0 } };

	for (size_t i = 0; i < n; i++) {
		const struct rp_site *d = &rp->sites[s->stop[0][i]];
		b[i] = (struct bar){ d->placed, d->placed_total, d->migrated };
	}
	bar_chart(f, rp, s, &c, b, n);
}

/* ---- migration latency ---- */

#define LAT_BUCKETS	40	/* powers of two of nanoseconds: 1 ns to 550 s */

static void chart_latency(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	const double W = 900, x0 = 70, y0 = 20, pw = 600, ph = 200;
	uint64_t count[LAT_BUCKETS] = { 0 }, max = 0, step;
	int lo = LAT_BUCKETS, hi = 0;

	chart_open(f, "chart-latency", "Migration latency", (int)W, rp->nlat ? 290 : 60);
	if (!rp->nlat) {
		chart_empty(f, 20, 34, "no migrate calls: no durations (next-touch and "
			    "balance moves are single pages, not timed)");
		chart_close(f, "");
		return;
	}
	for (size_t i = 0; i < rp->nlat; i++) {
		int b = 0;
		while (b < LAT_BUCKETS - 1 && rp->lat[i] >> (b + 1))
			b++;
		count[b]++;
		lo = b < lo ? b : lo;
		hi = b > hi ? b : hi;
	}
	for (int b = lo; b <= hi; b++)
		max = count[b] > max ? count[b] : max;
	/* At least eight buckets wide, so that one bar is not the width. */
	while (hi - lo < 7)
		lo > 0 ? lo-- : hi++;
	step = markup_step(max);
	y_axis(f, x0, y0, pw, ph, step, "migrate calls");
	double bw = pw / (hi - lo + 1);
	for (int b = lo; b <= hi; b++) {
		double x = x0 + (b - lo) * bw, h = (double)count[b] * ph / (double)(5 * step);
		uint64_t ns = 1ull << b;

		if (count[b])
			fprintf(f, "<rect class=\"mark\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				"height=\"%.1f\" fill=\"#1f77b4\"><title>%" PRIu64 " calls</title>"
				"</rect>\n", x + 1, y0 + ph - h, bw - 2, h, count[b]);
		if (hi - lo < 12 || (b - lo) % 2 == 0)
			fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%" PRIu64
				"%s</text>\n", x, y0 + ph + 16, ns >= 1000000000 ? ns / 1000000000 :
				ns >= 1000000 ? ns / 1000000 : ns >= 1000 ? ns / 1000 : ns,
				ns >= 1000000000 ? " s" : ns >= 1000000 ? " ms" : ns >= 1000 ? " us" : " ns");
	}
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">duration of a migrate "
		"call (bars: from that power of two to the next)</text>\n", x0 + pw / 2, y0 + ph + 34);
	for (int i = 0; i < 4; i++) {
		static const char *const name[4] = { "p50", "p90", "p99", "max" };
		char us[32];

		rs_us(us, sizeof(us), s->lat[i]);
		fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">%s %s</text>\n", x0 + pw + 20,
			y0 + 10 + 18 * i, name[i], us);
	}
	chart_close(f, "How long each migrate call took, from collecting its pages to "
		    "settling their nodes (MIGRATE_END records), counted in power-of-two "
		    "buckets.");
}

/* ---- the tables ---- */

static void td_nodes(FILE *f, const uint64_t *pages, int n)
{
	char buf[NODES_BUF];

	nodes_format(buf, sizeof(buf), pages, n, 0);
	fprintf(f, "<td>%s</td>", buf);
}

static void table_failed(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	static const int cls[RP_FAIL_CLASSES] = { NS_TR_EACCES, NS_TR_ENOENT, NS_TR_ENOMEM,
		NS_TR_EFAULT, NS_TR_EBUSY, NS_TR_EOTHER };

	fputs("<h2>Failed moves and latency</h2>\n<table id=\"failed\">\n<tr><th>error</th>"
	      "<th>pages</th></tr>\n", f);
	for (int i = 0; i < RP_FAIL_CLASSES; i++)
		fprintf(f, "<tr><td>%s</td><td>%" PRIu64 "</td></tr>\n", rs_fail_name(cls[i]),
			rp->fail[i]);
	fprintf(f, "<tr><td>move_pages itself failed (calls)</td><td>%" PRIu64 "</td></tr>\n"
		"</table>\n<table id=\"latency\">\n<tr><th>migrate calls</th><th>p50</th>"
		"<th>p90</th><th>p99</th><th>max</th></tr>\n<tr><td>%" PRIu64 "</td>",
		rp->calls_failed, rp->lat_calls);
	for (int i = 0; i < 4; i++) {
		char us[32];

		rs_us(us, sizeof(us), s->lat[i]);
		fprintf(f, "<td>%s</td>", rp->nlat ? us : "-");
	}
	fputs("</tr>\n</table>\n", f);
}

/* The head of a table of the top whats by pages placed (k 0) or migrated
 * (k 1): its id is id-placed or id-migrated, its first columns ths; the
 * columns of top_pages follow. */
static void top_head(FILE *f, const char *what, const char *id, const char *ths, int k)
{
	const char *by = k ? "migrated" : "placed";

	fprintf(f, "<h2>Top %s by pages %s</h2>\n<table id=\"%s-%s\">\n<tr>%s"
		"<th>placed</th><th>by node</th><th>migrated</th></tr>\n", what, by, id,
		by, ths);
}

/* The end of a top table's row: pages placed, by node, and migrated. */
static void top_pages(FILE *f, uint64_t total, const uint64_t *placed, uint64_t migrated)
{
	fprintf(f, "<td>%" PRIu64 "</td>", total);
	td_nodes(f, placed, TR_NODES + 1);
	fprintf(f, "<td>%" PRIu64 "</td></tr>\n", migrated);
}

/* The end of a table of n rows and cols columns: with no rows, one saying
 * none. */
static void table_end(FILE *f, size_t n, int cols)
{
	if (!n)
		fprintf(f, "<tr><td colspan=\"%d\">none</td></tr>\n", cols);
	fputs("</table>\n", f);
}

static void table_sites(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	char name[512];

	for (int k = 0; k < 2; k++) {
		top_head(f, "call sites", "sites", "<th>site</th><th>pid</th>", k);
		for (size_t i = 0; i < s->nstop[k]; i++) {
			const struct rp_site *d = &rp->sites[s->stop[k][i]];
			rs_site_name(name, sizeof(name), rp, d);
			fputs("<tr><td>", f);
			markup_text(f, name, 1);
			fprintf(f, "</td><td>%d</td>", d->pid);
			top_pages(f, d->placed_total, d->placed, d->migrated);
		}
		table_end(f, s->nstop[k], 5);
	}
	fprintf(f, "<p>%zu call sites named; pages placed at no known site: %" PRIu64 "</p>\n",
		s->ndefs, rp->un_site_placed);
}

static void table_summary(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	const struct { const char *name; const struct rp_move *mv; } why[] = {
		{ "next-touch", &rp->next_touch }, { "balance", &rp->balance } };

	fputs("<h2>Summary</h2>\n<table id=\"summary\">\n", f);
	fprintf(f, "<tr><th>run time</th><td>%" PRIu64 ".%06" PRIu64 " s (earliest to latest "
		"record)</td></tr>\n<tr><th>processes</th><td>%zu</td></tr>\n"
		"<tr><th>records</th><td>%" PRIu64 "</td></tr>\n<tr><th>pages placed</th>",
		s->span / 1000000000, s->span % 1000000000 / 1000, rp->ps.n, rp->recs);
	td_nodes(f, s->pg.placed, TR_NODES + 1);
	fprintf(f, "</tr>\n<tr><th>pages placed, total</th><td>%" PRIu64 "</td></tr>\n"
		"<tr><th>pages moved</th><td>%" PRIu64 " (%" PRIu64 " bytes)</td></tr>\n"
		"<tr><th>lost records</th><td>%" PRIu64 " (%" PRIu64 " said by %" PRIu64
		" lost records, %" PRIu64 " gaps in record numbers)</td></tr>\n</table>\n",
		s->placed, s->moved, s->moved << TR_PAGE_SHIFT, s->fam.lost, rp->lost_said,
		rp->lost_recs, s->fam.lost - rp->lost_said);

	fputs("<h2>Migrations by reason</h2>\n<table id=\"migrations\">\n<tr><th>reason</th>"
	      "<th>calls</th><th>moved nothing</th><th>pages in ranges</th>"
	      "<th>pages moved</th><th>by target node</th></tr>\n", f);
	fprintf(f, "<tr><td>migrate</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
		"</td><td>%" PRIu64 "</td>", rp->migrate.calls, rp->migrate.none,
		rp->migrate.range_pages, rp->migrate.pages);
	td_nodes(f, rp->migrate.pages_to, TR_NODES);
	fputs("</tr>\n", f);
	for (size_t i = 0; i < sizeof(why) / sizeof(why[0]); i++) {
		fprintf(f, "<tr><td>%s</td><td></td><td></td><td></td><td>%" PRIu64 "</td>",
			why[i].name, why[i].mv->pages);
		td_nodes(f, why[i].mv->pages_to, TR_NODES);
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
	table_failed(f, rp, s);
}

static void mapper_cell(int32_t pid, uint64_t pages, int first, void *f)
{
	fprintf(f, "%s%d (%" PRIu64 ")", first ? "" : ", ", pid, pages);
}

static void table_mappings(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	for (int k = 0; k < 2; k++) {
		top_head(f, "mappings", "top", "<th>pid</th><th>mapping</th><th>bytes</th>", k);
		for (size_t i = 0; i < s->ntop[k]; i++) {
			const struct rp_mstat *m = &rp->stats[s->top[k][i]];
			fprintf(f, "<tr><td>%d</td><td>0x%" PRIx64 "-0x%" PRIx64 "</td><td>%" PRIu64
				"</td>", m->pid, m->addr, m->addr + m->len, m->len);
			top_pages(f, m->placed_total, m->placed, m->migrated);
		}
		table_end(f, s->ntop[k], 6);
	}
	fprintf(f, "<p>outside recorded mappings: %" PRIu64 " placed, %" PRIu64 " migrated%s</p>\n",
		rp->un_placed, rp->un_migrated, s->maps_cut ? "; cap hit: mappings beyond the "
		"cap not followed (their pages counted as outside)" : "");
	fputs("<h2>Top mappings by pages shared</h2>\n<p>Pages mapped by more than one "
	      "process of the family, as each process said at its exit.</p>\n"
	      "<table id=\"top-shared\">\n<tr><th>pid</th><th>mapping</th><th>bytes</th>"
	      "<th>shared</th><th>mappers (pages)</th></tr>\n", f);
	for (size_t i = 0; i < s->ntop[2]; i++) {
		const struct rp_mstat *m = &rp->stats[s->top[2][i]];
		fprintf(f, "<tr><td>%d</td><td>0x%" PRIx64 "-0x%" PRIx64 "</td><td>%" PRIu64
			"</td><td>%" PRIu64 "</td><td>", m->pid, m->addr, m->addr + m->len,
			m->len, m->shared);
		rp_mappers(m, mapper_cell, f);
		fputs("</td></tr>\n", f);
	}
	table_end(f, s->ntop[2], 5);
}

static void table_pingpong(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	fprintf(f, "<h2>Ping-pong pages</h2>\n<p>Pages moved back to a node they had left "
		"(next-touch and balance moves; migrate records do not say which pages): %"
		PRIu64 " pages, %" PRIu64 " returns.</p>\n<table id=\"ping-pong\">\n"
		"<tr><th>pid</th><th>page</th><th>returns</th><th>now on node</th></tr>\n",
		s->pp_pages, s->pp_returns);
	for (size_t i = 0; i < s->npt; i++)
		fprintf(f, "<tr><td>%d</td><td>0x%" PRIx64 "</td><td>%u</td><td>%d</td></tr>\n",
			s->ptop[i]->pid, s->ptop[i]->addr, s->ptop[i]->returns, s->ptop[i]->node);
	table_end(f, s->npt, 4);
	rp_pages_cap(f, rp, "<p>", "</p>\n");
}

void rp_write_html(FILE *f, const struct rp *rp, const struct rp_sum *s)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<title>numashadow report: ", f);
	markup_text(f, s->path, 1);
	fputs("</title>\n<style>\n"
	      "body { font-family: sans-serif; font-size: 14px; margin: 16px 24px; "
	      "color: #222; background: #fff; max-width: 960px; }\n"
	      "h1 { font-size: 20px; } h2 { font-size: 16px; margin: 18px 0 6px; }\n"
	      "figure { margin: 0 0 12px; } figcaption { font-size: 12px; color: #555; "
	      "max-width: 900px; }\n"
	      "svg.chart { font-size: 11px; display: block; border: 1px solid #ddd; }\n"
	      "svg text.empty { font-size: 13px; fill: #555; }\n"
	      "table { border-collapse: collapse; margin-bottom: 8px; }\n"
	      "th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: left; "
	      "font-size: 13px; }\nth { background: #f0f0f0; }\n"
	      "</style>\n</head>\n<body>\n<h1>numashadow report: ", f);
	markup_text(f, s->path, 1);
	fputs("</h1>\n", f);
	chart_timeline(f, rp, s);
	chart_heatmap(f, rp, s);
	chart_mappings(f, rp, s);
	chart_sites(f, rp, s);
	chart_latency(f, rp, s);
	table_summary(f, rp, s);
	table_sites(f, rp, s);
	table_mappings(f, rp, s);
	table_pingpong(f, rp, s);
	fputs("</body>\n</html>\n", f);
}
