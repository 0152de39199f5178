/* SPDX-License-Identifier: MIT */
/*
 * report.c - the exit report (NUMASHADOW_REPORT): pages by node, first
 * touches, balancing and migrations, as text lines or one JSON line in
 * the log, and the tally of first touches by thread it prints.
 *
 * Locking: takes the family lock to learn pages; the tally is written by
 * the hooks under that lock (report_touch()) and read at exit under it.
 */
#include "internal.h"
#include "sys.h"

/* A tally of the largest few keys: pages by thread or by call site. */
struct tally {
	uint32_t key, n;
};

static void tally_add(struct tally tab[8], uint32_t key, uint32_t n)
{
	int k = 0, least = 0;

	for (; k < 8 && tab[k].key != key; k++)
		if (tab[k].n < tab[least].n)
			least = k;
	if (k == 8) {
		k = least;	/* keep the larger ones, roughly */
		if (tab[k].n > 1)
			return;
		tab[k].key = key;
		tab[k].n = 0;
	}
	tab[k].n += n;
}

static struct tally touches[8];	/* first touches by thread */

void report_touch(int tid, uint64_t pages)
{
	tally_add(touches, (uint32_t)tid, (uint32_t)pages);
}

int report_fmt_nodes(char *buf, size_t n, const uint64_t counts[64])
{
	int len = 0;

	for (int i = 0; i < 64; i++)
		if (numa_node_online(i))
			len += ns_fmt(buf + len, n - (size_t)len, "%snode %d: %lu",
				      len ? ", " : "", i, (unsigned long)counts[i]);
	return len;
}

/* Pages by node of this process, learned fresh from the kernel. */
void report_pages_by_node(uint64_t counts[64])
{
	ns_lock();
	page_sync(ns_rt.self);
	page_count_by_node(ns_rt.self, counts);
	ns_unlock();
}

/* First touches by thread and pages by call site, the largest few. */
static void report_touches(void)
{
	struct tally site[8] = { { 0, 0 } }, *tid = touches;
	char line[512];
	int len;

	ns_lock();
	for (uint32_t t = pte_first(ns_rt.self); t; t = pte_next(t)) {
		uint32_t v = vma_find(ns_rt.self, pte_vpn(t) << NS_PAGE_SHIFT);
		if (v && vma_of(v)->site)
			tally_add(site, vma_of(v)->site, 1);
	}
	len = 0;
	for (int k = 0; k < 8; k++)
		if (tid[k].n)
			len += ns_fmt(line + len, sizeof(line) - (size_t)len, "%sthread %u: %u",
				      len ? ", " : "", tid[k].key, tid[k].n);
	if (len)
		ns_log("report: pid %d first touches by thread: %s", (int)ns_rt.pid, line);
	len = 0;
	for (int k = 0; k < 8; k++)
		if (site[k].n) {
			struct ns_site_rec *r = site_of(site[k].key);
			const char *b = __builtin_strrchr(r->object, '/');
			len += ns_fmt(line + len, sizeof(line) - (size_t)len, "%s%s:%s: %u",
				      len ? ", " : "", b ? b + 1 : r->object,
				      r->function[0] ? r->function : "?", site[k].n);
		}
	if (len)
		ns_log("report: pid %d pages by call site: %s", (int)ns_rt.pid, line);
	ns_unlock();
}

/* Appends "KEY":{"N":COUNT,...} of the online nodes to buf at *len. */
static void json_nodes(char *buf, size_t n, int *len, const char *key,
		       const uint64_t counts[64])
{
	int first = 1;

	*len += ns_fmt(buf + *len, n - (size_t)*len, "\"%s\":{", key);
	for (int i = 0; i < 64; i++)
		if (numa_node_online(i)) {
			*len += ns_fmt(buf + *len, n - (size_t)*len, "%s\"%d\":%lu",
				       first ? "" : ",", i, (unsigned long)counts[i]);
			first = 0;
		}
	*len += ns_fmt(buf + *len, n - (size_t)*len, "}");
}

/* The monitor's counters, whenever a placement policy is set: zero in a
 * process that has no monitor (a fork child whose regions the kernel
 * places, docs/placement.md), so the report's keys do not come and go. */
static bool fault_stats(struct ns_fault_stats *f)
{
	__builtin_memset(f, 0, sizeof(*f));
	if (uffd_active()) {
		/* The monitor counts a fill after the kernel woke the thread
		 * it served, which may be the one exiting now. */
		uffd_quiesce();
		uffd_stats(f);
		return true;
	}
	return policy_any();
}

/* NUMASHADOW_REPORT=json: the same as report(), as one JSON object on one
 * line after "numashadow: report: " (keys: docs/migration.md). */
void report_json(const char *when)
{
	static char buf[8192] NS_BIG;	/* at exit, once: not on the stack */
	struct ns_mig_counters c = proc_of(ns_rt.self)->mig;
	uint64_t counts[64];
	int len = ns_fmt(buf, sizeof(buf), "numashadow: report: {\"pid\":%d,\"when\":\"%s\",",
			 (int)ns_rt.pid, when);

	report_pages_by_node(counts);
	json_nodes(buf, sizeof(buf), &len, "pages_by_node", counts);
	struct ns_fault_stats f;
	if (fault_stats(&f)) {
		len += ns_fmt(buf + len, sizeof(buf) - (size_t)len,
			      ",\"first_touch\":{\"faults\":%lu,\"pages\":%lu,",
			      (unsigned long)f.faults, (unsigned long)f.pages);
		json_nodes(buf, sizeof(buf), &len, "pages_by_node", f.by_node);
		len += ns_fmt(buf + len, sizeof(buf) - (size_t)len,
			      ",\"fallbacks\":%lu,\"already_served\":%lu,\"sleeps\":%lu,\"errors\":%lu,\"waited\":%lu,\"next_touch\":%lu,\"cow_breaks\":%lu}",
			      (unsigned long)f.fallbacks, (unsigned long)f.wakes,
			      (unsigned long)f.sleeps, (unsigned long)f.errors,
			      (unsigned long)f.waited, (unsigned long)f.next_touch,
			      (unsigned long)f.cow);
	}
	if (balance_active()) {
		struct ns_balance_stats b;
		balance_stats(&b);
		len += ns_fmt(buf + len, sizeof(buf) - (size_t)len,
			      ",\"balance\":{\"samples\":%lu,\"moves\":%lu,\"pingpong_avoided\":%lu,\"over_budget\":%lu}",
			      (unsigned long)b.samples, (unsigned long)b.moves,
			      (unsigned long)b.pingpong, (unsigned long)b.budget);
	}
	len += ns_fmt(buf + len, sizeof(buf) - (size_t)len,
		      ",\"migrations\":{\"calls\":%lu,\"moved\":%lu,\"already\":%lu,\"shared\":%lu,\"not_present\":%lu,\"nomem\":%lu,\"not_movable\":%lu,\"busy\":%lu,\"other\":%lu,\"passes\":%lu}}\n",
		      (unsigned long)c.calls, (unsigned long)c.moved,
		      (unsigned long)c.already, (unsigned long)c.shared,
		      (unsigned long)c.not_present, (unsigned long)c.nomem,
		      (unsigned long)c.fault, (unsigned long)c.busy,
		      (unsigned long)c.other, (unsigned long)c.passes);
	if (len < (int)sizeof(buf) - 1)	/* whole, or not at all */
		ns_log_write(buf, len);
}

void report_text(const char *when)
{
	uint64_t counts[64];
	char nodes[512];
	struct ns_mig_counters c = proc_of(ns_rt.self)->mig;

	report_pages_by_node(counts);
	report_fmt_nodes(nodes, sizeof(nodes), counts);
	ns_log("report: pid %d %s: pages by node: %s", (int)ns_rt.pid, when, nodes);
	struct ns_fault_stats f;
	if (fault_stats(&f)) {
		report_fmt_nodes(nodes, sizeof(nodes), f.by_node);
		ns_log("report: pid %d first touches: %lu faults, %lu pages placed (%s), %lu on another node for want of room, %lu already served, %lu monitor sleeps, %lu errors; %lu writes waited for pages in flight; %lu pages moved on next touch; %lu COW breaks seen",
		       (int)ns_rt.pid, (unsigned long)f.faults, (unsigned long)f.pages,
		       nodes, (unsigned long)f.fallbacks, (unsigned long)f.wakes,
		       (unsigned long)f.sleeps, (unsigned long)f.errors,
		       (unsigned long)f.waited, (unsigned long)f.next_touch,
		       (unsigned long)f.cow);
	}
	report_touches();
	if (balance_active()) {
		struct ns_balance_stats b;
		balance_stats(&b);
		ns_log("report: pid %d balance: %lu samples, %lu moves, %lu ping-pongs avoided, %lu moves over budget",
		       (int)ns_rt.pid, (unsigned long)b.samples, (unsigned long)b.moves,
		       (unsigned long)b.pingpong, (unsigned long)b.budget);
	}
	ns_log("report: pid %d migrations: %lu calls, %lu pages moved, %lu already there, failed: %lu shared (needs CAP_SYS_NICE), %lu not present, %lu no memory, %lu not movable, %lu busy, %lu other; %lu passes",
	       (int)ns_rt.pid, (unsigned long)c.calls, (unsigned long)c.moved,
	       (unsigned long)c.already, (unsigned long)c.shared,
	       (unsigned long)c.not_present, (unsigned long)c.nomem,
	       (unsigned long)c.fault, (unsigned long)c.busy,
	       (unsigned long)c.other, (unsigned long)c.passes);
}
