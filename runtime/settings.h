/* SPDX-License-Identifier: MIT */
/*
 * settings.h - every setting the runtime reads (NUMASHADOW_*): its
 * variable, what it accepts, its numeric range where it has one, and
 * `numashadow run`'s options for it with their help lines.  The runtime
 * names what a refused setting accepts from here (runtime/options.c); the
 * CLI prints `run`'s options and the environment list from here and checks
 * the same ranges (tools/numashadow.c).  One table, so the two never
 * disagree.  Data only: any layer, and the tools, may include it.
 */
#ifndef NS_SETTINGS_H
#define NS_SETTINGS_H

#include <stddef.h>

/* In the order `numashadow run --help` lists them. */
enum ns_setting_id {
	NS_SET_VERIFY, NS_SET_LOG, NS_SET_MIGRATE_AFTER, NS_SET_REPORT,
	NS_SET_BALANCE, NS_SET_NEXT_TOUCH_AT, NS_SET_CTL, NS_SET_TRACE,
	NS_SET_POLICY, NS_SET_RULES, NS_SET_FAULT_AROUND, NS_SET_MONITOR_FROM,
	NS_SET_CORRUPT, NR_NS_SETTINGS
};

struct ns_setting {
	const char *env;	/* the variable */
	const char *accepted;	/* what it accepts: a refusal's line says it */
	long min, max;		/* a number's range (max 0: not a number) */
	const char *options;	/* `numashadow run`'s help lines for it;
				 * NULL: no option (the test build's alone) */
};

static const struct ns_setting ns_settings[NR_NS_SETTINGS] = {
	[NS_SET_VERIFY] = { "NUMASHADOW_VERIFY", "0, 1 or 2", 0, 2,
		"  --verify[=LEVEL]    check the shadow against the kernel: sets\n"
		"                      NUMASHADOW_VERIFY to LEVEL 0, 1 or 2 (default 1)\n" },
	[NS_SET_LOG] = { "NUMASHADOW_LOG", "a writable file path", 0, 0,
		"  --log FILE          write diagnostics to FILE (NUMASHADOW_LOG)\n" },
	[NS_SET_MIGRATE_AFTER] = { "NUMASHADOW_MIGRATE_AFTER",
		"SECONDS:NODE, e.g. 0.5:1, SECONDS at most a century, NODE an online node", 0, 0,
		"  --migrate-after SECONDS:NODE\n"
		"                      after SECONDS (e.g. 0.5), move every page of the\n"
		"                      program to NODE (NUMASHADOW_MIGRATE_AFTER)\n" },
	[NS_SET_REPORT] = { "NUMASHADOW_REPORT", "0, 1 or json", 0, 0,
		"  --report[=json]     at exit, report pages by node and migrations\n"
		"                      (with json: one JSON object a process)\n"
		"                      (NUMASHADOW_REPORT=1)\n" },
	[NS_SET_BALANCE] = { "NUMASHADOW_BALANCE", "a rate limit in MiB/s, 1 to 100000", 1, 100000,
		"  --balance[=MIBPS]   move pages to the node whose threads write them,\n"
		"                      at most MIBPS MiB/s (default 64) (NUMASHADOW_BALANCE)\n" },
	[NS_SET_NEXT_TOUCH_AT] = { "NUMASHADOW_NEXT_TOUCH_AT",
		"SECONDS, e.g. 1.5, at most a century", 0, 0,
		"  --next-touch-at SECONDS\n"
		"                      from then on, each page's next write moves it\n"
		"                      to the writer's node (NUMASHADOW_NEXT_TOUCH_AT)\n" },
	[NS_SET_CTL] = { "NUMASHADOW_CTL", "0 or 1", 0, 1,
		"  --ctl               serve a control socket, for 'numashadow migrate'\n"
		"                      and 'numashadow stat' (NUMASHADOW_CTL=1)\n"
		"  --no-ctl            no control socket (NUMASHADOW_CTL=0)\n" },
	[NS_SET_TRACE] = { "NUMASHADOW_TRACE", "a writable regular file path", 0, 0,
		"  --trace FILE        record mmap, faults, migrations... of the program\n"
		"                      and its children into FILE, emptied first\n"
		"                      (NUMASHADOW_TRACE); read it with 'numashadow trace'\n" },
	[NS_SET_POLICY] = { "NUMASHADOW_POLICY",
		"localalloc, membind=NODES, preferred=NODE, interleave=NODES, "
		"weighted-interleave=NODE:WEIGHT,...; NODES like 0-3,5 or all, online nodes only", 0, 0,
		"First-touch placement (NUMASHADOW_POLICY, one of):\n"
		"  --localalloc        on the node of the thread that touches first\n"
		"  --membind=NODES     on NODES (numactl lists: 0-3,5 or all)\n"
		"  --preferred=NODE    on NODE while it has memory\n"
		"  --interleave=NODES  page by page over NODES\n"
		"  --weighted-interleave=NODE:W,...\n"
		"                      W pages per turn on each NODE\n" },
	[NS_SET_RULES] = { "NUMASHADOW_RULES",
		"RULE;RULE... with RULE size>=SIZE:POLICY, size<SIZE:POLICY or "
		"site=OBJECT:FUNCTION:POLICY, SIZE like 64M, at most 131072G", 0, 0,
		"  --rule RULE         per region, first match wins (NUMASHADOW_RULES):\n"
		"                      size>=SIZE:POLICY, size<SIZE:POLICY or\n"
		"                      site=OBJECT:FUNCTION:POLICY (SIZE like 64M)\n" },
	[NS_SET_FAULT_AROUND] = { "NUMASHADOW_FAULT_AROUND", "pages per fault, 1 to 512", 1, 512,
		"  --fault-around=N    pages filled per fault, 1 to 512 (default: adaptive)\n"
		"                      (NUMASHADOW_FAULT_AROUND)\n" },
	[NS_SET_MONITOR_FROM] = { "NUMASHADOW_MONITOR_FROM",
		"a size like 2M (K, M or G), at most 131072G; 0: every region", 0, 0,
		"  --monitor-from=SIZE regions of SIZE or more placed by the monitor,\n"
		"                      smaller ones by the kernel (default 2M; 0: all)\n"
		"                      (NUMASHADOW_MONITOR_FROM)\n" },
	[NS_SET_CORRUPT] = { "NUMASHADOW_TEST_CORRUPT",	/* the test build's alone */
		"vma-prot, vma-bounds, page-node, page-ghost, mapper", 0, 0, NULL },
};

#endif
