/* SPDX-License-Identifier: MIT */
/*
 * trace.h - `numashadow trace`: reading a trace file (tools/trace.c).
 */
#ifndef NS_TOOLS_TRACE_H
#define NS_TOOLS_TRACE_H

enum trace_out {
	TRACE_TEXT,		/* one line per record */
	TRACE_SUMMARY,		/* one line per process, and the family's */
	TRACE_CSV,		/* one row per record, for other tools */
	TRACE_SVG,		/* pages placed and moved over time */
	TRACE_JSON,		/* one JSON object per record (JSON Lines) */
	TRACE_SUMMARY_JSON,	/* one JSON object per process, and the family's */
};

/* Shows the trace file at path on stdout (TRACE_SVG: into svg_path).
 * Returns the exit status: 0, or 1 after one line on stderr. */
int trace_show(const char *path, enum trace_out out, const char *svg_path);

enum report_format {
	REPORT_TEXT,		/* lines for people */
	REPORT_JSON,		/* one JSON object (keys: docs/report.md) */
	REPORT_HTML,		/* one self-contained page with charts */
};

/* `numashadow report`: the run's numbers from the trace file at path, as
 * text, one JSON object or an HTML page, on stdout or into out (NULL: stdout; created
 * 0666 less the umask, or a regular file emptied, and only once the whole
 * file has been read).  Returns the exit status: 0, or 1 after one line on
 * stderr. */
int trace_report(const char *path, enum report_format format, const char *out);

#endif
