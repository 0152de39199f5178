/* SPDX-License-Identifier: MIT */
/*
 * markup.c - text escaped for XML and HTML, and chart axis steps, for the
 * SVG and HTML outputs (tools/markup.h).
 */
#include "markup.h"

void markup_text(FILE *f, const char *s, int html)
{
	for (; *s; s++)
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'':
			fputs(html ? "&#39;" : "'", f);
			break;
		default:
			/* Control characters are not allowed in XML 1.0, and
			 * have no place in the page. */
			fputc((unsigned char)*s < 0x20 || (html && *s == 0x7f) ? '?' : *s, f);
		}
}

uint64_t markup_step(uint64_t max)
{
	uint64_t v = max / 5 + (max % 5 != 0), p = 1;

	while (p * 10 < v)
		p *= 10;
	return v <= p ? p : v <= 2 * p ? 2 * p : v <= 5 * p ? 5 * p : 10 * p;
}
