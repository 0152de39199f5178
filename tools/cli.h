/* SPDX-License-Identifier: MIT */
/*
 * cli.h - the command's parts: exit statuses, the subcommands' handlers,
 * and the parsing they share.
 *
 * Exit status: 2 for usage errors; 125 when numashadow cannot do its own
 * job; 126 and 127 when the command run cannot run or is not found, as
 * env(1) does.
 */
#ifndef NS_TOOLS_CLI_H
#define NS_TOOLS_CLI_H

#define EXIT_USAGE	2
#define EXIT_SELF	125	/* numashadow itself failed, as env(1) */
#define EXIT_CANNOT_RUN	126
#define EXIT_NOT_FOUND	127

/* tools/numashadow.c */

/* Usage of one subcommand on stdout: 0, or a usage error if unknown. */
int subcommand_help(const char *name);

/* tools/cli.c */

/* "numashadow: CMD: what is wrong (see 'numashadow help CMD')" on stderr
 * (cmd NULL: none); returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A bad option value: the option, what it accepts, what it got (NULL:
 * none given); returns EXIT_USAGE. */
int value_error(const char *cmd, const char *opt, const char *accepts,
		const char *got);
/* -h or --help. */
int help_asked(const char *arg);
/* Whether argv[*i] ends the options of a command that runs CMD: "--"
 * (stepped over) or the first word not starting with '-'. */
int options_end(char **argv, int *i);
/* Parses a whole decimal number in [min, max]; returns 0 or -EINVAL. */
int number_parse(const char *s, long min, long max, long *out);
/* Returns 1 and sets *val when argv[*i] is option name, "--name VALUE"
 * (*i stepped to the value) or "--name=VALUE"; 0 when it is another
 * option, -1 when the value is missing. */
int option_match(const char *name, int argc, char **argv, int *i, const char **val);
/* option_match(), checked: 1 and *val set when the value is one valid()
 * accepts (valid NULL: any but ""), 0 when argv[*i] is another option,
 * -1 after a usage error line naming what it accepts. */
int option_checked(const char *cmd, const char *name, const char *accepts,
		   int (*valid)(const char *), int argc, char **argv, int *i,
		   const char **val);
/* option_match() of a whole number in [min, max], into *out: 1, 0 when
 * argv[*i] is another option, or -1 after a usage error line. */
int option_number(const char *cmd, const char *name, long min, long max,
		  const char *accepts, int argc, char **argv, int *i, long *out);

/* tools/ctl_client.c: the subcommands; each returns the exit status. */

int cmd_migrate(int argc, char **argv);
int cmd_stat(int argc, char **argv);

#endif
