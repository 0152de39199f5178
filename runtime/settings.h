/* SPDX-License-Identifier: MIT */
/*
 * settings.h - every setting the runtime reads (NUMASHADOW_*): its
 * variable, what it accepts, its numeric range where it has one, and
 * `numashadow run`'s options for it with their help lines.  The runtime
 * names what a refused setting accepts from here (runtime/options.c); the
 * CLI prints `run`'s options and the environment list from here and checks
 * the same ranges (tools/numashadow.c).  One table, so the two never
 * disagree.  The rows are settings.def's.  Data only: any layer, and the
 * tools, may include it.
 */
#ifndef NS_SETTINGS_H
#define NS_SETTINGS_H

#include <stddef.h>

/* NS_SET_VERIFY ..., in settings.def's order. */
enum ns_setting_id {
#define NS_SETTING(id, ...) NS_SET_##id,
#include "settings.def"
#undef NS_SETTING
	NR_NS_SETTINGS
};

struct ns_setting {
	const char *env;	/* the variable */
	const char *accepted;	/* what it accepts: a refusal's line says it */
	long min, max;		/* a number's range (max 0: not a number) */
	const char *options;	/* `numashadow run`'s help lines for it;
				 * NULL: no option (the test build's alone) */
};

static const struct ns_setting ns_settings[NR_NS_SETTINGS] = {
#define NS_SETTING(id, env, accepted, min, max, options) \
	[NS_SET_##id] = { env, accepted, min, max, options },
#include "settings.def"
#undef NS_SETTING
};

#endif
