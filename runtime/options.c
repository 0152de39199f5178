/* SPDX-License-Identifier: MIT */
/*
 * options.c - the settings (NUMASHADOW_*), read once into ns_opt (core.h);
 * the variables, what each accepts and the ranges are settings.h's table,
 * which the CLI shares.  A setting that does
 * not parse is refused with what it accepts; a bad placement setting turns
 * placement off, any other the runtime.
 *
 * Locking: none.  ns_init() reads the settings before the hooks are ready
 * and before the runtime has a thread of its own; ns_opt is read-only
 * from then on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include "core.h"
#include "internal.h"
#include "parse.h"
#include "settings.h"
#include "sys.h"

struct ns_options ns_opt = {
	.monitor_from = 2 << 20,
	.migrate_after_node = -1,
	.next_touch_ns = -1,
};

/* "SECONDS:NODE"; returns 0 or -EINVAL. */
static int parse_migrate_after(const char *v)
{
	uint64_t ns, node;

	if (parse_seconds(&v, &ns) < 0 || *v++ != ':' || parse_u64(&v, 63, &node) < 0 ||
	    *v || !numa_node_online((int)node))
		return -EINVAL;
	ns_opt.migrate_after_ns = ns;
	ns_opt.migrate_after_node = (int)node;
	return 0;
}

static int bad_option(int o, const char *val)
{
	ns_log("%s=%s: not accepted (accepted: %s); running without numashadow",
	       ns_settings[o].env, val, ns_settings[o].accepted);
	return -EINVAL;
}

/* The files the runtime writes: its log and the trace. */
static int read_outputs(void)
{
	const char *v;

	v = getenv(ns_settings[NS_SET_LOG].env);
	if (v && *v) {
		/* Created 0600 (less the umask); an existing file keeps its
		 * mode and owner; never through a symbolic link. */
		long fd = sys_open_mode(v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
					0600);
		if (fd < 0)
			return bad_option(NS_SET_LOG, v);
		ns_log_set_fd((int)sys_fd_hide(fd));
	}
	v = getenv(ns_settings[NS_SET_TRACE].env);
	if (v && *v && trace_open(v) < 0)
		return bad_option(NS_SET_TRACE, v);
	return 0;
}

/* The checks of the shadow against the kernel, and the test corruption
 * (test build only). */
static int read_checks(void)
{
	const char *v;

	v = getenv(ns_settings[NS_SET_VERIFY].env);
	if (v && *v) {
		if ((v[0] < '0' || v[0] > '2') || v[1])
			return bad_option(NS_SET_VERIFY, v);
		ns_rt.verify = v[0] - '0';
	}
	/* Only the test build carries the corruption (corrupt.c); the
	 * shipped library leaves the variable unread, like any unknown one. */
	v = corrupt_kind ? getenv(ns_settings[NS_SET_CORRUPT].env) : NULL;
	if (v && *v && !(ns_opt.corrupt_kind = corrupt_kind(v)))
		return bad_option(NS_SET_CORRUPT, v);
	return 0;
}

/* The policies that move pages: timed migration, next-touch, balancing. */
static int read_movers(void)
{
	const char *v;

	v = getenv(ns_settings[NS_SET_MIGRATE_AFTER].env);
	if (v && *v && parse_migrate_after(v) < 0)
		return bad_option(NS_SET_MIGRATE_AFTER, v);
	v = getenv(ns_settings[NS_SET_NEXT_TOUCH_AT].env);
	if (v && *v) {
		const char *p = v;
		uint64_t ns;
		if (parse_seconds(&p, &ns) < 0 || *p)
			return bad_option(NS_SET_NEXT_TOUCH_AT, v);
		ns_opt.next_touch_ns = (int64_t)ns;
	}
	v = getenv(ns_settings[NS_SET_BALANCE].env);
	if (v && *v) {
		uint64_t r;
		const char *p = v;
		const struct ns_setting *b = &ns_settings[NS_SET_BALANCE];
		if (parse_u64(&p, (uint64_t)b->max, &r) < 0 || *p || r < (uint64_t)b->min)
			return bad_option(NS_SET_BALANCE, v);
		ns_opt.balance_mibps = (unsigned)r;
	}
	return 0;
}

/* A placement setting that does not parse is refused whole: the program
 * runs with the shadow but without numashadow's placement. */
static void read_placement(void)
{
	const char *v;

	static const int placement_opts[] = { NS_SET_POLICY, NS_SET_RULES, NS_SET_FAULT_AROUND,
					      NS_SET_MONITOR_FROM };
	for (unsigned k = 0; k < sizeof(placement_opts) / sizeof(*placement_opts); k++) {
		int o = placement_opts[k];
		v = getenv(ns_settings[o].env);
		if (!v || !*v)
			continue;
		const char *e = v;
		int bad = o == NS_SET_POLICY ? policy_parse_default(v) < 0
			: o == NS_SET_RULES ? policy_parse_rules(v) < 0
			: o == NS_SET_MONITOR_FROM ? parse_size(&e, &ns_opt.monitor_from) < 0 || *e
			: uffd_set_window(v) < 0;
		if (bad) {
			ns_log("%s=%s: not accepted (accepted: %s); running without numashadow's placement",
			       ns_settings[o].env, v, ns_settings[o].accepted);
			__builtin_memset(&ns_pol, 0, sizeof(ns_pol));
			break;
		}
	}
	ns_opt.site_rules = policy_has_site_rules();
}

int options_read(void)
{
	const char *v;
	int r;

	/* No descriptor of our own for stderr: we write to fd 2 while it is
	 * the file it was at start-up (ns_log). */
	ns_log_set_fd(2);
	/* Secure execution (setuid, setgid, file capabilities): the
	 * environment is the caller's, not the program's owner's; like glibc
	 * with its tunables, take no path, policy or setting from it. */
	if (getauxval(AT_SECURE))
		return 0;
	if ((r = read_outputs()) < 0 || (r = read_checks()) < 0 || (r = read_movers()) < 0)
		return r;
	v = getenv(ns_settings[NS_SET_REPORT].env);
	if (v && *v) {
		if (!__builtin_strcmp(v, "json"))
			ns_opt.report_at_exit = 2;
		else if ((v[0] != '0' && v[0] != '1') || v[1])
			return bad_option(NS_SET_REPORT, v);
		else
			ns_opt.report_at_exit = v[0] == '1';
	}
	read_placement();
	v = getenv(ns_settings[NS_SET_CTL].env);
	if (v && *v) {
		if ((v[0] != '0' && v[0] != '1') || v[1])
			return bad_option(NS_SET_CTL, v);
		ns_opt.ctl_on = v[0] == '1';
	}
	return 0;
}
