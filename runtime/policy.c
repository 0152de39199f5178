/* SPDX-License-Identifier: MIT */
/*
 * policy.c - first-touch placement policies, numactl style, and the rules
 * that pick one per region.
 *
 *   localalloc                  the faulting thread's node
 *   membind=NODES               the faulting thread's node if in NODES,
 *                               else the first of NODES
 *   preferred=NODE              NODE (the kernel falls back when full)
 *   interleave=NODES            page by page: NODES[vpn % n], as the
 *                               kernel's interleave_nid() for anonymous
 *                               memory
 *   weighted-interleave=N:W,... runs of W pages per node, in order
 *
 * NODES is a numactl list: "0-3,5" or "all".  Rules ("size>=64M:POLICY",
 * "size<1M:POLICY", "site=libfoo.so:bar:POLICY") pick a policy per region
 * at mmap time; the first that matches wins; the default policy covers
 * the rest.  Everything here is parsed once at start-up; a setting that
 * does not parse is refused whole.
 */
#include <errno.h>
#include "internal.h"
#include "parse.h"

struct ns_policies ns_pol;

static bool prefix(const char **s, const char *p)
{
	size_t n = __builtin_strlen(p);

	if (__builtin_strncmp(*s, p, n))
		return false;
	*s += n;
	return true;
}

/* A node number or weight: anything past 4095 is no node and no weight
 * (parse.h refuses it rather than wrap it onto one). */
static int parse_num(const char **s, unsigned *out)
{
	uint64_t v = 0;
	int r = parse_u64(s, 4095, &v);

	*out = (unsigned)v;
	return r;
}

/* "all" or "0-3,5" into a mask of online nodes; -EINVAL if a node is not
 * online or the list is malformed. */
static int parse_nodes(const char **s, uint64_t *mask)
{
	*mask = 0;
	if (prefix(s, "all")) {
		*mask = numa_online();
		return 0;
	}
	do {
		unsigned a, b;
		if (parse_num(s, &a) < 0)
			return -EINVAL;
		b = a;
		if (**s == '-') {
			(*s)++;
			if (parse_num(s, &b) < 0 || b < a)
				return -EINVAL;
		}
		for (unsigned n = a; n <= b; n++) {
			if (!numa_node_online((int)n))
				return -EINVAL;
			*mask |= 1ULL << n;
		}
	} while (**s == ',' && (*s)++);
	return *mask ? 0 : -EINVAL;
}

static void set_nodes(struct ns_policy *p, uint64_t mask)
{
	p->nnodes = 0;
	for (int n = 0; n < 64; n++)
		if (mask >> n & 1) {
			p->nodes[p->nnodes] = (uint8_t)n;
			p->weight[p->nnodes++] = 1;
		}
}

/* NODE:WEIGHT,... of weighted-interleave.  Returns 0 or -EINVAL. */
static int parse_weights(const char **s, struct ns_policy *p)
{
	unsigned node, w;

	do {
		if (parse_num(s, &node) < 0 || !numa_node_online((int)node) ||
		    *(*s)++ != ':' || parse_num(s, &w) < 0 || !w || w > 255 ||
		    p->nnodes == 64)
			return -EINVAL;
		p->nodes[p->nnodes] = (uint8_t)node;
		p->weight[p->nnodes++] = (uint8_t)w;
	} while (**s == ',' && (*s)++);
	return 0;
}

/* One policy, up to the end of s or a ';'.  Returns 0 or -EINVAL. */
static int parse_policy(const char **s, struct ns_policy *p)
{
	/* The modes of a node list (preferred: of one node). */
	static const struct { const char *name; int mode; } listed[] = {
		{ "membind=", POL_BIND }, { "preferred=", POL_PREFERRED },
		{ "interleave=", POL_INTERLEAVE },
	};
	uint64_t mask;
	unsigned node;
	size_t k = 0;

	*p = (struct ns_policy){ 0 };
	if (prefix(s, "localalloc")) {
		p->mode = POL_LOCAL;
	} else if (prefix(s, "weighted-interleave=")) {
		p->mode = POL_WEIGHTED;
		if (parse_weights(s, p) < 0)
			return -EINVAL;
	} else {
		while (k < 3 && !prefix(s, listed[k].name))
			k++;
		if (k == 3)
			return -EINVAL;
		p->mode = listed[k].mode;
		if (p->mode == POL_PREFERRED) {
			if (parse_num(s, &node) < 0 || !numa_node_online((int)node))
				return -EINVAL;
			mask = 1ULL << node;
		} else if (parse_nodes(s, &mask) < 0) {
			return -EINVAL;
		}
		set_nodes(p, mask);
	}
	for (int i = 0; i < p->nnodes; i++)
		p->total += p->weight[i];
	return **s == 0 || **s == ';' ? 0 : -EINVAL;
}

/* NUMASHADOW_POLICY: one policy.  Returns 0 or -EINVAL. */
int policy_parse_default(const char *s)
{
	struct ns_policy p;

	if (parse_policy(&s, &p) < 0 || *s)
		return -EINVAL;
	ns_pol.def = p;
	return 0;
}

/* SIZE like 4096, 64K, 2M or 1G, at most 2^47 bytes (an address
 * space); 0 or -errno. */
/* NUMASHADOW_RULES: rules separated by ';'.  Returns 0 or -EINVAL. */
int policy_parse_rules(const char *s)
{
	while (*s) {
		struct ns_rule r = { 0 };

		if (ns_pol.nrules == NS_MAX_RULES)
			return -EINVAL;
		if (prefix(&s, "size>=")) {
			r.kind = RULE_SIZE_GE;
			if (parse_size(&s, &r.size) < 0)
				return -EINVAL;
		} else if (prefix(&s, "size<")) {
			r.kind = RULE_SIZE_LT;
			if (parse_size(&s, &r.size) < 0)
				return -EINVAL;
		} else if (prefix(&s, "site=")) {
			/* OBJECT:FUNCTION, each without ':' */
			size_t n = 0;
			r.kind = RULE_SITE;
			while (*s && *s != ':' && n < sizeof(r.object) - 1)
				r.object[n++] = *s++;
			if (*s++ != ':' || !n)
				return -EINVAL;
			n = 0;
			while (*s && *s != ':' && n < sizeof(r.function) - 1)
				r.function[n++] = *s++;
			if (!n)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
		if (*s++ != ':' || parse_policy(&s, &r.policy) < 0)
			return -EINVAL;
		ns_pol.rule[ns_pol.nrules++] = r;
		if (*s == ';')
			s++;
	}
	return 0;
}

bool policy_any(void)
{
	return ns_pol.def.mode != POL_NONE || ns_pol.nrules;
}

/* Is mode the default policy's or a rule's? */
bool policy_uses(int mode)
{
	if (ns_pol.def.mode == mode)
		return true;
	for (int i = 0; i < ns_pol.nrules; i++)
		if (ns_pol.rule[i].policy.mode == mode)
			return true;
	return false;
}

bool policy_has_site_rules(void)
{
	for (int i = 0; i < ns_pol.nrules; i++)
		if (ns_pol.rule[i].kind == RULE_SITE)
			return true;
	return false;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = __builtin_strlen(s), b = __builtin_strlen(tail);

	return a >= b && !__builtin_strcmp(s + a - b, tail) &&
	       (a == b || s[a - b - 1] == '/');
}

/* The policy for a new region of len bytes, allocated from the call stack
 * whose frames resolve to (object, function) pairs in sites; returns an
 * index: 0 for the default, i + 1 for rule i. */
int policy_pick(uint64_t len, const struct ns_site *sites, int nsites)
{
	for (int i = 0; i < ns_pol.nrules; i++) {
		const struct ns_rule *r = &ns_pol.rule[i];
		switch (r->kind) {
		case RULE_SIZE_GE:
			if (len >= r->size)
				return i + 1;
			break;
		case RULE_SIZE_LT:
			if (len < r->size)
				return i + 1;
			break;
		case RULE_SITE:
			for (int k = 0; k < nsites; k++)
				if (sites[k].object && sites[k].function &&
				    ends_with(sites[k].object, r->object) &&
				    !__builtin_strcmp(sites[k].function, r->function))
					return i + 1;
			break;
		}
	}
	return 0;
}

const struct ns_policy *policy_get(int idx)
{
	return idx ? &ns_pol.rule[idx - 1].policy : &ns_pol.def;
}

/* The node a page at vpn should start on; thread_node is the faulting
 * thread's node (-1 unknown).  -1: no preference (the kernel decides). */
int policy_node(const struct ns_policy *p, uint64_t vpn, int thread_node)
{
	switch (p->mode) {
	case POL_LOCAL:
		return thread_node;
	case POL_BIND:
		for (int i = 0; i < p->nnodes; i++)
			if (p->nodes[i] == thread_node)
				return thread_node;
		return p->nodes[0];
	case POL_PREFERRED:
		return p->nodes[0];
	case POL_INTERLEAVE:
		return p->nodes[vpn % p->nnodes];
	case POL_WEIGHTED: {
		uint64_t pos = vpn % p->total;
		for (int i = 0; i < p->nnodes; i++) {
			if (pos < p->weight[i])
				return p->nodes[i];
			pos -= p->weight[i];
		}
		return p->nodes[0];
	}
	default:
		return -1;
	}
}
