/* SPDX-License-Identifier: MIT */
/*
 * cli.c - what every subcommand of numashadow parses its words with:
 * one-line usage errors, and options as "--name VALUE" or "--name=VALUE",
 * checked where they are read (tools/cli.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* Usage errors are one line: what is wrong and where to read more. */
int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("numashadow: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'numashadow help%s%s')\n",
		cmd ? " " : "", cmd ? cmd : "");
	return EXIT_USAGE;
}

/* A bad option value: the option, what it accepts, what it got. */
int value_error(const char *cmd, const char *opt, const char *accepts,
		       const char *got)
{
	if (!got)
		return usage_error(cmd, "%s: expected %s", opt, accepts);
	return usage_error(cmd, "%s: expected %s, got '%s'", opt, accepts, got);
}

/*
 * Option parsing shared by the subcommands: "--name VALUE" and
 * "--name=VALUE".  Returns 1 and sets *val when arg is option name (taking
 * the next argument as needed), 0 when arg is another option, -1 when the
 * value is missing.
 */
int option_match(const char *name, int argc, char **argv, int *i,
			const char **val)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '=') {
		*val = arg + n + 1;
		return 1;
	}
	if (arg[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

/* Parses a whole decimal number in [min, max]; returns 0 or -EINVAL. */
int number_parse(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* -h or --help. */
int help_asked(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* Whether argv[*i] ends the options of a command that runs CMD: "--"
 * (stepped over) or the first word not starting with '-'. */
int options_end(char **argv, int *i)
{
	if (strcmp(argv[*i], "--") == 0) {
		++*i;
		return 1;
	}
	return argv[*i][0] != '-';
}

/*
 * "--name VALUE" as option_match, checked: 1 and *val set when arg is
 * option name with a value valid() accepts (NULL: any but ""), 0 when arg
 * is another option, -1 after a usage error line naming what it accepts
 * (and the value got, when valid() refused one).
 */
int option_checked(const char *cmd, const char *name, const char *accepts,
			  int (*valid)(const char *), int argc, char **argv,
			  int *i, const char **val)
{
	const char *v;
	int m = option_match(name, argc, argv, i, &v);

	if (m < 0 || (m > 0 && !valid && !*v)) {
		value_error(cmd, name, accepts, NULL);
		return -1;
	}
	if (m > 0 && valid && !valid(v)) {
		value_error(cmd, name, accepts, v);
		return -1;
	}
	if (m > 0)
		*val = v;
	return m;
}

/* "--name N" as option_match, N a whole number in [min, max] into *out:
 * 1, 0 when arg is another option, or -1 after a usage error line. */
int option_number(const char *cmd, const char *name, long min, long max,
			 const char *accepts, int argc, char **argv, int *i,
			 long *out)
{
	const char *v;
	int m = option_match(name, argc, argv, i, &v);

	if (m < 0 || (m > 0 && number_parse(v, min, max, out))) {
		value_error(cmd, name, accepts, m < 0 ? NULL : v);
		return -1;
	}
	return m;
}
