/* SPDX-License-Identifier: MIT */
/*
 * parse.h - the one parser for every number the runtime and the command
 * accept (settings, the control protocol, command options).  Nothing
 * wraps: a value past its bound is refused (-ERANGE), as is a string with
 * no digits (-EINVAL).  Each function advances *s past what it read and
 * leaves what follows to the caller.  No libc, no errno: the runtime uses
 * these before it is up and in any thread.
 */
#ifndef NS_PARSE_H
#define NS_PARSE_H

#include <errno.h>
#include <stdint.h>

/* Decimal digits at *s, at most max, into *out; 0 or -errno. */
static inline int parse_u64(const char **s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;

	for (; **s >= '0' && **s <= '9'; (*s)++, digits++) {
		uint64_t d = (uint64_t)(**s - '0');
		if (v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (!digits)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Hexadecimal digits at *s (an optional 0x first), at most 16 of them
 * with no leading part lost, into *out; 0 or -errno. */
static inline int parse_hex64(const char **s, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;

	if ((*s)[0] == '0' && ((*s)[1] == 'x' || (*s)[1] == 'X'))
		*s += 2;
	for (;; (*s)++, digits++) {
		char c = **s;
		uint64_t d;
		if (c >= '0' && c <= '9')
			d = (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (uint64_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (uint64_t)(c - 'A' + 10);
		else
			break;
		if (v >> 60)
			return -ERANGE;
		v = v << 4 | d;
	}
	if (!digits)
		return -EINVAL;
	*out = v;
	return 0;
}

#define PARSE_MAX_NODE 63	/* node masks are one uint64_t */

/* A node list like 0,2 or 0-1,3 at *s into the mask *out: each node at
 * most PARSE_MAX_NODE, a range's first no greater than its last, no empty
 * element; stops at the first character that continues none.  0 or
 * -errno (-EINVAL also for a range backwards). */
static inline int parse_nodelist(const char **s, uint64_t *out)
{
	uint64_t mask = 0, a, b;
	int r;

	for (;;) {
		if ((r = parse_u64(s, PARSE_MAX_NODE, &a)) < 0)
			return r;
		b = a;
		if (**s == '-') {
			(*s)++;
			if ((r = parse_u64(s, PARSE_MAX_NODE, &b)) < 0)
				return r;
			if (b < a)
				return -EINVAL;
		}
		for (; a <= b; a++)
			mask |= 1ULL << a;
		if (**s != ',')
			break;
		(*s)++;
	}
	*out = mask;
	return 0;
}

#define PARSE_MAX_SECONDS (100ULL * 365 * 24 * 3600)	/* a century */

/* SECONDS like 2, 0.25 or .5 at *s, at most a century, in nanoseconds
 * (digits past the ninth decimal ignored); 0 or -errno. */
static inline int parse_seconds(const char **s, uint64_t *ns)
{
	uint64_t whole = 0, frac = 0, scale = 1000000000ULL;
	int digits = 0, r;

	if (**s >= '0' && **s <= '9') {
		if ((r = parse_u64(s, PARSE_MAX_SECONDS, &whole)) < 0)
			return r;
		digits++;
	}
	if (**s == '.')
		for ((*s)++; **s >= '0' && **s <= '9'; (*s)++, digits++)
			if (scale > 1)
				frac += (uint64_t)(**s - '0') * (scale /= 10);
	if (!digits)
		return -EINVAL;
	*ns = whole * 1000000000ULL + frac;
	return 0;
}

/* SIZE: decimal bytes with an optional K, M or G (either case; powers of
 * 1024), at most 2^47 bytes.  0 or -EINVAL/-ERANGE. */
static inline int parse_size(const char **s, uint64_t *out)
{
	uint64_t v;
	unsigned shift = 0;
	const char *unit;
	int r;

	/* The digits first, then their unit: the bound depends on it. */
	for (unit = *s; *unit >= '0' && *unit <= '9'; unit++)
		;
	switch (*unit) {
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	}
	if ((r = parse_u64(s, (1ULL << 47) >> shift, &v)) < 0)
		return r;
	if (shift)
		(*s)++;
	*out = v << shift;
	return 0;
}

#endif
