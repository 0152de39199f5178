/* SPDX-License-Identifier: MIT */
/*
 * markup.h - what the SVG of `numashadow trace --svg` (tools/trace.c) and
 * the HTML page of `numashadow report` (tools/report_html.c) write the
 * same way: text escaped for XML, and the steps of a chart's axis.
 */
#ifndef NS_TOOLS_MARKUP_H
#define NS_TOOLS_MARKUP_H

#include <stdint.h>
#include <stdio.h>

/* s as XML text, also right inside an attribute's double quotes; control
 * characters as '?'.  With html, also inside single quotes, and DEL as
 * '?' too: the page holds names from the trace. */
void markup_text(FILE *f, const char *s, int html);

/* The step of an axis of five steps that reaches max: the smallest 1, 2
 * or 5 times a power of ten that is >= max / 5, at least 1. */
uint64_t markup_step(uint64_t max);

#endif
