/* SPDX-License-Identifier: MIT */
/*
 * numashadow - the command.
 *
 *   numashadow run [OPTIONS] [--] CMD [ARGS...]
 *   numashadow migrate --pid PID --to NODE [--range START-END | --all] [--sync]
 *   numashadow migrate --pid PID --from NODES --to NODES [--sync]
 *   numashadow stat --pid PID [--json] [--interval SECONDS [--count N]]
 *   numashadow stat --all [--json]
 *   numashadow trace [--summary | --csv | --svg OUT.svg] [--json] FILE
 *   numashadow report [--format text|json|html] [-o OUT] FILE
 *   numashadow vm [--nodes N] [--memory-only NODES] [--distance A-B:V,...]
 *                 [--mem MIB] [--cpus N] [--file PATH]...
 *                 [--timeout SECONDS] [--] CMD [ARGS...]
 *
 * Every subcommand is one entry of subcommands[] (name, synopsis, summary,
 * option help, handler), so adding one is one entry and one function.
 * Here: run, vm, trace and report's words (the files are read by
 * tools/trace.c); migrate and stat, the control socket's clients, are
 * tools/ctl_client.c; the option parsing they all share, tools/cli.c.
 *
 * Exit status: the command's own when we exec it; 2 for usage errors;
 * 1 when migrate, stat, trace or report fails (a one-line message says why);
 * 125 when numashadow cannot do its own job (missing library or helper,
 * a --trace file it cannot create);
 * 126 when the command is found but cannot run, 127 when it is not found,
 * as env(1) does.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "parse.h"
#include "settings.h"
#include "trace.h"

#ifndef NS_VERSION
#define NS_VERSION "unknown"
#endif
#ifndef NS_PREFIX
#define NS_PREFIX "/usr/local"
#endif

#define LIB_NAME	"libnumashadow.so"
#define VM_HELPER	"numashadow-vm"

struct subcommand {
	const char *name;	/* as typed after "numashadow" */
	const char *synopsis;	/* arguments, for the usage lines */
	const char *summary;	/* one line: what it does */
	const char *options;	/* option lines for `numashadow help NAME` */
	int (*main)(int argc, char **argv);	/* argv[0] is the name; returns the exit status */
};

/* `run`'s options: every setting's lines, in settings.h's order. */
static char run_options[4096];

static void run_options_fill(void)
{
	size_t n = 0;

	for (int k = 0; k < NR_NS_SETTINGS; k++)
		if (ns_settings[k].options)
			n += (size_t)snprintf(run_options + n, sizeof(run_options) - n, "%s",
					      ns_settings[k].options);
}

static int cmd_run(int argc, char **argv);
static int cmd_vm(int argc, char **argv);
static int cmd_trace(int argc, char **argv);
static int cmd_report(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct subcommand subcommands[] = {
	{
		"run", "[OPTIONS] [--] CMD [ARGS...]",
		"run CMD with libnumashadow.so preloaded",
		run_options,	/* settings.h's, filled in by main() */
		cmd_run,
	},
	{
		"migrate", "--pid PID [--from NODES] --to NODE|NODES [--range START-END | --all] [--sync]",
		"move a running program's pages to another node",
		"  --pid PID           the process (it must run under numashadow)\n"
		"  --to NODE           the target node\n"
		"  --range START-END   only pages in [START, END), hexadecimal\n"
		"  --all               every page of the program (the default)\n"
		"  --from NODES        only pages on these nodes, each to the matching\n"
		"                      node of --to NODES, as migrate_pages(2): the\n"
		"                      i-th node of each list, in ascending order;\n"
		"                      lists like 0,2 or 0-1, nodes 0 to 63, both\n"
		"                      naming as many nodes (not with --range)\n"
		"  --sync              wait for pages another migration holds\n",
		cmd_migrate,
	},
	{
		"stat", "--pid PID [--json] [--interval SECONDS [--count N]] | --all [--json]",
		"show a running program's pages by node and its migrations",
		"  --pid PID           the process (it must run under numashadow)\n"
		"  --json              the same as one JSON object (keys: numashadow(1));\n"
		"                      with --interval or --all, one object per line\n"
		"  --interval SECONDS  one line per interval, as vmstat: seconds since\n"
		"                      the first, pages per node, total, and the change\n"
		"                      per second of the total and of pages migrated;\n"
		"                      until Ctrl-C (exit 0) or the process ends\n"
		"  --count N           stop after N lines (with --interval)\n"
		"  --all               every process of yours with a control socket:\n"
		"                      pid, command, pages per node, total\n",
		cmd_stat,
	},
	{
		"trace", "[--summary | --csv | --svg OUT.svg] [--json] FILE",
		"show a trace file written by run --trace",
		"  (none)              one line per record, in file order, time in\n"
		"                      seconds since the earliest record\n"
		"  --summary           per process: records, mmaps, munmaps, pages\n"
		"                      placed by node, COW breaks, pages migrated by\n"
		"                      node, next-touch and balance moves, lost records;\n"
		"                      then the family's total\n"
		"  --csv               time_ns,pid,tid,type,addr,len,node,aux rows\n"
		"  --svg OUT.svg       plot pages placed and moved per node over time\n"
		"                      into OUT.svg\n"
		"  --json              the records, or with --summary the rows, as one\n"
		"                      JSON object per line (keys: docs/trace.md)\n",
		cmd_trace,
	},
	{
		"report", "[--format text|json|html] [-o OUT] FILE",
		"summarize a trace file: placements, migrations, call sites",
		"  (none)              run time, pages placed per node, migrations\n"
		"                      by reason and target, failed moves by error,\n"
		"                      bytes moved, latency percentiles, lost\n"
		"                      records, top call sites (symbolized here) and\n"
		"                      mappings by pages placed and migrated,\n"
		"                      ping-pong pages (docs/report.md)\n"
		"  --format FORMAT     text (the default), json: one JSON object\n"
		"                      (keys: docs/report.md), or html: one\n"
		"                      self-contained page with charts (inline SVG:\n"
		"                      pages per node over time, a time x address\n"
		"                      heatmap, bars per mapping and call site, a\n"
		"                      latency histogram) and the tables\n"
		"  -o OUT              write to OUT instead of standard output\n"
		"                      (a regular file, created or emptied)\n",
		cmd_report,
	},
	{
		"vm", "[OPTIONS] [--] CMD [ARGS...]",
		"boot a QEMU guest with NUMA nodes and run CMD inside",
		"  --nodes N           NUMA nodes in the guest, 2 to 8 (default 2)\n"
		"  --memory-only NODES the last nodes get memory and no CPUs\n"
		"                      (as CXL memory appears): 2, 2,3 or 2-3\n"
		"  --distance A-B:V,...  node distances, 11 to 254 (both ways\n"
		"                      unless B-A:W is given too; default 20)\n"
		"  --mem MIB           guest memory in MiB, split evenly over the\n"
		"                      nodes, 256 to 65536 (default 1024)\n"
		"  --cpus N            virtual CPUs, 1 to 64, spread over the nodes\n"
		"                      (default: one per node)\n"
		"  --file PATH         also copy PATH into the guest (repeatable)\n"
		"  --timeout SECONDS   stop the guest after SECONDS, 1 to 86400,\n"
		"                      and exit 124 (default 600)\n",
		cmd_vm,
	},
	{
		"help", "[COMMAND]",
		"show this help, or one command's",
		NULL,
		cmd_help,
	},
};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static const struct subcommand *subcommand_find(const char *name)
{
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		if (strcmp(subcommands[i].name, name) == 0)
			return &subcommands[i];
	return NULL;
}

static void usage_print(FILE *f)
{
	fprintf(f, "Usage: numashadow COMMAND [OPTIONS] [--] [ARGS...]\n"
		   "       numashadow --help | --version\n\nCommands:\n");
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", subcommands[i].name,
			subcommands[i].summary);
	fprintf(f, "\nOptions of each command:\n");
	for (size_t i = 0; i < N_SUBCOMMANDS; i++) {
		const struct subcommand *sc = &subcommands[i];
		fprintf(f, "\n  numashadow %s %s\n", sc->name, sc->synopsis);
		if (sc->options)
			fputs(sc->options, f);
	}
	fprintf(f, "\nGlobal options:\n"
		   "  -h, --help     show this help\n"
		   "  -V, --version  show the version\n"
		   "\nEnvironment (read by the runtime):");
	for (int k = 0, col = 34, first = 1; k < NR_NS_SETTINGS; k++) {
		if (!ns_settings[k].options)
			continue;	/* the test build's alone */
		int len = (int)strlen(ns_settings[k].env);
		if (!first)
			col += fprintf(f, ",");
		first = 0;
		if (col + 1 + len > 77) {
			fputc('\n', f);
			col = 0;
		} else {
			col += fprintf(f, " ");
		}
		col += fprintf(f, "%s", ns_settings[k].env);
	}
	fprintf(f, ";\nfor vm: NUMASHADOW_VM_ACCEL.\n"
		   "See numashadow(1).\n");
}

int subcommand_help(const char *name)
{
	const struct subcommand *sc = subcommand_find(name);

	if (!sc)
		return usage_error(NULL, "unknown command '%s'", name);
	printf("Usage: numashadow %s %s\n%c%s.\n\nOptions:\n%s", sc->name,
	       sc->synopsis, toupper((unsigned char)sc->summary[0]),
	       sc->summary + 1, sc->options ? sc->options : "");
	printf("  -h, --help          show this help\n");
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		usage_print(stdout);
		return 0;
	}
	if (argc > 2)
		return usage_error("help", "too many arguments");
	return subcommand_help(argv[1]);
}

/* Our own executable, symlinks resolved: helpers are looked for beside it
 * so that a build tree works uninstalled.  Returns 0 or -ENOENT. */
static int self_path(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);

	if (n <= 0 || (size_t)n >= size - 1)
		return -ENOENT;
	buf[n] = '\0';
	return 0;
}

/* The directory of our own executable.  Returns 0 or -ENOENT. */
static int self_dir(char *buf, size_t size)
{
	char *slash;
	int err = self_path(buf, size);

	if (err)
		return err;
	slash = strrchr(buf, '/');
	if (!slash)
		return -ENOENT;
	if (slash == buf)
		slash[1] = '\0';	/* the root directory */
	else
		*slash = '\0';
	return 0;
}

/* dir/name into out (PATH_MAX); 0, or -ENAMETOOLONG. */
static int path_join(char *out, const char *dir, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Finds NAME next to our executable, else as PREFIX/SUBDIR/NAME.  Fills
 * out (PATH_MAX) and returns 0, or returns -ENOENT after filling dirs with
 * the directories looked in.
 */
static int helper_find(const char *name, const char *subdir, int mode,
		       char *out, char *dirs, size_t dirs_size)
{
	char here[PATH_MAX], there[PATH_MAX];

	if (self_dir(here, sizeof(here)) == 0) {
		if (path_join(out, here, name) == 0 && access(out, mode) == 0)
			return 0;
	} else {
		snprintf(here, sizeof(here), "/proc/self/exe (unreadable)");
	}
	if (path_join(there, NS_PREFIX, subdir) == 0 &&
	    path_join(out, there, name) == 0 && access(out, mode) == 0)
		return 0;
	snprintf(dirs, dirs_size, "%s, %s", here, there);
	return -ENOENT;
}

/* A path made absolute against the current directory, without resolving
 * symlinks: the file may not exist yet.  Returns 0 or -errno. */
static int path_absolute(const char *path, char *out, size_t size)
{
	char cwd[PATH_MAX];

	if (path[0] == '/') {
		if ((size_t)snprintf(out, size, "%s", path) >= size)
			return -ENAMETOOLONG;
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if ((size_t)snprintf(out, size, "%s/%s", cwd, path) >= size)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * LD_PRELOAD with lib first, keeping every other entry in order.  ld.so
 * splits the list on spaces and colons; an entry equal to lib is dropped
 * so the runtime is named once.  Returns 0 or -ENOMEM.
 */
static int preload_set(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	size_t cap = strlen(lib) + (old ? strlen(old) : 0) + 2;
	char *list = malloc(cap), *copy, *tok, *save;
	int err = 0;

	if (!list)
		return -ENOMEM;
	strcpy(list, lib);
	if (old && *old) {
		copy = strdup(old);
		if (!copy) {
			free(list);
			return -ENOMEM;
		}
		for (tok = strtok_r(copy, " :", &save); tok;
		     tok = strtok_r(NULL, " :", &save)) {
			if (strcmp(tok, lib) == 0)
				continue;
			strcat(list, ":");
			strcat(list, tok);
		}
		free(copy);
	}
	if (setenv("LD_PRELOAD", list, 1))
		err = -errno;
	free(list);
	return err;
}

/* execvp, and on failure the status env(1) would give. */
static int command_exec(char **argv)
{
	int err;

	execvp(argv[0], argv);
	err = errno;
	fprintf(stderr, "numashadow: %s: %s\n", argv[0], strerror(err));
	return err == ENOENT || err == ENOTDIR ? EXIT_NOT_FOUND
					       : EXIT_CANNOT_RUN;
}

/* SECONDS, a decimal number. */
static int seconds_valid(const char *v)
{
	uint64_t ns;

	return parse_seconds(&v, &ns) == 0 && !*v;
}

/* SECONDS:NODE, SECONDS a decimal number; the runtime checks the node is
 * online. */
static int migrate_after_valid(const char *v)
{
	uint64_t ns, node;

	return parse_seconds(&v, &ns) == 0 && *v++ == ':' &&
	       parse_u64(&v, 63, &node) == 0 && !*v;
}

/*
 * Creates path fresh (0600, less the umask; O_EXCL), or empties the
 * regular file already there: the runtime only appends, and a family's
 * first process writes the header into an empty file, so each run starts
 * a new trace.  Never through a symbolic link.  Returns 0, -EINVAL when
 * path is not a regular file (the runtime would refuse it), or -errno.
 */
static int trace_file_reset(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
			return -EINVAL;
		/* O_NONBLOCK: a FIFO put there since the lstat must not
		 * block us. */
		fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	}
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	close(fd);
	return 0;
}

/* Adds rule to the ';'-separated list *rules; 0 or -ENOMEM. */
static int rules_add(char **rules, const char *rule)
{
	size_t have = *rules ? strlen(*rules) : 0;
	char *n = realloc(*rules, have + strlen(rule) + 2);

	if (!n)
		return -ENOMEM;
	if (have)
		n[have++] = ';';
	strcpy(n + have, rule);
	*rules = n;
	return 0;
}

/* setenv(name, value), or nothing when value is NULL; 0 or -errno. */
static int env_set(const char *name, const char *value)
{
	return value && setenv(name, value, 1) ? -errno : 0;
}

/*
 * The options of run or vm, up to CMD [ARGS...] ("--", or the first word
 * not an option, ends them).  option() takes one option of the command
 * into opts: 1, 0 when it is not one, or minus the exit status to stop
 * with (a line said why).  Returns -1 when the command goes on, CMD at
 * argv[*at], or its exit status now (help shown, or an error).
 */
static int command_parse(const char *cmd, int argc, char **argv,
			 int (*option)(void *opts, int argc, char **argv, int *i),
			 void *opts, int *at)
{
	int i, m;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (options_end(argv, &i))
			break;
		if (help_asked(a))
			return subcommand_help(cmd);
		m = option(opts, argc, argv, &i);
		if (m < 0)
			return -m;
		if (!m)
			return usage_error(cmd, "unknown option '%s'", a);
	}
	if (i >= argc)
		return usage_error(cmd, "no command given");
	*at = i;
	return -1;
}

/* What run's options say, for the runtime's environment. */
struct run_opts {
	const char *verify, *log, *trace, *after, *nextat, *policy, *monitor_from;
	const char *ctl;	/* NUMASHADOW_CTL: "1", "0" or unset */
	char balance[16];	/* "": no --balance */
	char *rules;		/* the --rule values, ';'-separated; malloc'd */
	long fault_around;
	int report;		/* 1: --report, 2: --report=json */
};

/* run's options but placement: 1, 0 when argv[*i] is none of them, or
 * minus the exit status. */
static int run_setting_option(struct run_opts *o, int argc, char **argv, int *i)
{
	const struct ns_setting *fa_set = &ns_settings[NS_SET_FAULT_AROUND];
	const char *a = argv[*i];
	int m;

	if (strcmp(a, "--verify") == 0) {
		o->verify = "1";
		return 1;
	}
	if (strncmp(a, "--verify=", 9) == 0) {
		o->verify = a + 9;
		if (strcmp(o->verify, "0") && strcmp(o->verify, "1") &&
		    strcmp(o->verify, "2"))
			return -value_error("run", "--verify", "level 0, 1 or 2", o->verify);
		return 1;
	}
	if ((m = option_checked("run", "--log", "a file name", NULL,
				argc, argv, i, &o->log)) ||
	    (m = option_checked("run", "--trace", "a file name", NULL,
				argc, argv, i, &o->trace)) ||
	    (m = option_checked("run", "--migrate-after",
				"SECONDS:NODE such as 0.5:1",
				migrate_after_valid, argc, argv, i, &o->after)) ||
	    (m = option_checked("run", "--next-touch-at",
				"SECONDS such as 1.5", seconds_valid,
				argc, argv, i, &o->nextat)) ||
	    (m = option_number("run", "--fault-around", fa_set->min, fa_set->max,
			       fa_set->accepted, argc, argv, i, &o->fault_around)) ||
	    (m = option_checked("run", "--monitor-from", "a size such as 2M or 0",
				NULL, argc, argv, i, &o->monitor_from)))
		return m < 0 ? -EXIT_USAGE : 1;
	if (strcmp(a, "--balance") == 0 || strncmp(a, "--balance=", 10) == 0) {
		const struct ns_setting *b = &ns_settings[NS_SET_BALANCE];
		long rate = 64;
		if (a[9] == '=' && number_parse(a + 10, b->min, b->max, &rate))
			return -value_error("run", "--balance", b->accepted, a + 10);
		snprintf(o->balance, sizeof(o->balance), "%ld", rate);
		return 1;
	}
	if (strcmp(a, "--report") == 0 || strncmp(a, "--report=", 9) == 0) {
		if (a[8] && strcmp(a + 9, "json"))
			return -value_error("run", "--report", "json", a + 9);
		o->report = a[8] ? 2 : 1;
		return 1;
	}
	if (strcmp(a, "--ctl") == 0 || strcmp(a, "--no-ctl") == 0) {
		const char *v = a[2] == 'c' ? "1" : "0";
		if (o->ctl && strcmp(o->ctl, v))
			return -usage_error("run", "--ctl and --no-ctl exclude each other");
		o->ctl = v;
		return 1;
	}
	return 0;
}

/* run's placement options: 1, 0 when argv[*i] is none of them, or minus
 * the exit status.  The runtime parses and refuses bad values with a line
 * naming the setting; here only the shape is checked. */
static int run_policy_option(struct run_opts *o, int argc, char **argv, int *i)
{
	static const char *const pol_opts[] = { "--membind=", "--preferred=",
		"--interleave=", "--weighted-interleave=" };
	const char *a = argv[*i], *val;
	int m, matched = 0;

	if (strcmp(a, "--localalloc") == 0) {
		o->policy = "localalloc";
		return 1;
	}
	for (size_t k = 0; k < sizeof(pol_opts) / sizeof(*pol_opts); k++)
		if (strncmp(a, pol_opts[k], strlen(pol_opts[k])) == 0) {
			if (!a[strlen(pol_opts[k])])
				return -value_error("run", pol_opts[k], "a node list", NULL);
			o->policy = a + 2;	/* "membind=..." as the runtime reads it */
			matched = 1;
		}
	if (matched)
		return 1;
	m = option_checked("run", "--rule", "a rule such as size>=64M:interleave=all",
			   NULL, argc, argv, i, &val);
	if (m < 0)
		return -EXIT_USAGE;
	if (m > 0 && rules_add(&o->rules, val))
		return -EXIT_SELF;
	return m;
}

static int run_option(void *opts, int argc, char **argv, int *i)
{
	int m = run_setting_option(opts, argc, argv, i);

	return m ? m : run_policy_option(opts, argc, argv, i);
}

/* Sets the runtime's environment as o says, and runs cmd with the
 * library preloaded; returns only on failure, with the exit status. */
static int run_exec(struct run_opts *o, char **cmd)
{
	char lib[PATH_MAX], dirs[2 * PATH_MAX + 8], log[PATH_MAX], trace[PATH_MAX];
	char fa[16];
	int err;

	if (helper_find(LIB_NAME, "lib", R_OK, lib, dirs, sizeof(dirs))) {
		fprintf(stderr, "numashadow: cannot find " LIB_NAME
			" (looked in %s)\n", dirs);
		return EXIT_SELF;
	}
	if (o->trace) {
		/* Absolute, because the program may change directory. */
		err = path_absolute(o->trace, trace, sizeof(trace));
		if (!err)
			err = trace_file_reset(trace);
		if (err) {
			fprintf(stderr, "numashadow: run: --trace %s: %s\n", o->trace,
				err == -EINVAL ? "not a regular file" : strerror(-err));
			return EXIT_SELF;
		}
	}
	snprintf(fa, sizeof(fa), "%ld", o->fault_around);
	const char *const env[][2] = {
		{ ns_settings[NS_SET_VERIFY].env, o->verify },
		{ ns_settings[NS_SET_MIGRATE_AFTER].env, o->after },
		{ ns_settings[NS_SET_BALANCE].env, o->balance[0] ? o->balance : NULL },
		{ ns_settings[NS_SET_NEXT_TOUCH_AT].env, o->nextat },
		{ ns_settings[NS_SET_REPORT].env,
		  !o->report ? NULL : o->report == 2 ? "json" : "1" },
		{ ns_settings[NS_SET_CTL].env, o->ctl },
		{ ns_settings[NS_SET_TRACE].env, o->trace ? trace : NULL },
		{ ns_settings[NS_SET_POLICY].env, o->policy },
		{ ns_settings[NS_SET_RULES].env, o->rules },
		{ ns_settings[NS_SET_FAULT_AROUND].env, o->fault_around ? fa : NULL },
		{ ns_settings[NS_SET_MONITOR_FROM].env, o->monitor_from },
	};
	err = preload_set(lib);
	for (size_t k = 0; !err && k < sizeof(env) / sizeof(env[0]); k++)
		err = env_set(env[k][0], env[k][1]);
	free(o->rules);
	if (!err && o->log) {
		/* Absolute, because the program may change directory. */
		err = path_absolute(o->log, log, sizeof(log));
		if (!err)
			err = env_set(ns_settings[NS_SET_LOG].env, log);
	}
	if (err) {
		fprintf(stderr, "numashadow: run: %s\n", strerror(-err));
		return EXIT_SELF;
	}
	return command_exec(cmd);
}

static int cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	int at, status = command_parse("run", argc, argv, run_option, &o, &at);

	if (status >= 0)
		return status;
	return run_exec(&o, argv + at);
}

/* For options whose value the helper checks. */
static int any_value(const char *v)
{
	(void)v;
	return 1;
}

/* For --file: it must be there to be copied. */
static int file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* What vm's options say, for the helper. */
struct vm_opts {
	long nodes, mem, cpus, timeout;
	const char *memonly, *distance;
	char **files;		/* the --file values, in order */
	int nfiles;
};

static int vm_option(void *opts, int argc, char **argv, int *i)
{
	struct vm_opts *o = opts;
	const char *val;
	int m;

	/* The helper checks --memory-only against --nodes, and the
	 * distances. */
	if ((m = option_number("vm", "--nodes", 2, 8, "2 to 8",
			       argc, argv, i, &o->nodes)) ||
	    (m = option_checked("vm", "--memory-only",
				"the last nodes, as 2, 2,3 or 2-3", any_value,
				argc, argv, i, &o->memonly)) ||
	    (m = option_checked("vm", "--distance",
				"A-B:V[,A-B:V]..., V from 11 to 254", any_value,
				argc, argv, i, &o->distance)) ||
	    (m = option_number("vm", "--mem", 256, 65536, "MiB from 256 to 65536",
			       argc, argv, i, &o->mem)) ||
	    (m = option_number("vm", "--cpus", 1, 64, "1 to 64",
			       argc, argv, i, &o->cpus)) ||
	    (m = option_number("vm", "--timeout", 1, 86400,
			       "seconds from 1 to 86400", argc, argv, i,
			       &o->timeout)))
		return m < 0 ? -EXIT_USAGE : 1;
	m = option_checked("vm", "--file", "an existing file or directory",
			   file_exists, argc, argv, i, &val);
	if (m > 0)
		o->files[o->nfiles++] = (char *)val;
	return m < 0 ? -EXIT_USAGE : m;
}

/* Runs the helper script with o's options, this binary (self; "": not
 * known) and the n words of cmd; returns only on failure, EXIT_SELF. */
static int vm_exec(const struct vm_opts *o, char *script, char *self, char **cmd, int n)
{
	char num[4][16];
	const long v[4] = { o->nodes, o->mem, o->cpus, o->timeout };
	/* Options without a value are left out. */
	const char *const opt[][2] = {
		{ "--nodes", num[0] }, { "--mem", num[1] },
		{ "--cpus", num[2] }, { "--timeout", num[3] },
		{ "--memory-only", o->memonly }, { "--distance", o->distance },
		{ "--numashadow", self[0] ? self : NULL },
	};
	char **nv = calloc(18 + 2 * o->nfiles + n + 1, sizeof(*nv));
	int k = 0;

	if (!nv)
		return EXIT_SELF;
	for (int j = 0; j < 4; j++)
		snprintf(num[j], sizeof(num[j]), "%ld", v[j]);
	nv[k++] = script;
	for (size_t j = 0; j < sizeof(opt) / sizeof(opt[0]); j++)
		if (opt[j][1]) {
			nv[k++] = (char *)opt[j][0];
			nv[k++] = (char *)opt[j][1];
		}
	for (int j = 0; j < o->nfiles; j++) {
		nv[k++] = "--file";
		nv[k++] = o->files[j];
	}
	nv[k++] = "--";
	for (int j = 0; j < n; j++)
		nv[k++] = cmd[j];
	nv[k] = NULL;
	execv(script, nv);
	fprintf(stderr, "numashadow: cannot run %s: %s\n", script,
		strerror(errno));
	return EXIT_SELF;
}

static int cmd_vm(int argc, char **argv)
{
	char script[PATH_MAX], self[PATH_MAX], dirs[2 * PATH_MAX + 8];
	struct vm_opts o = { .nodes = 2, .mem = 1024, .cpus = 0, .timeout = 600 };
	int at, status;

	o.files = calloc(argc + 1, sizeof(*o.files));
	if (!o.files)
		return EXIT_SELF;
	status = command_parse("vm", argc, argv, vm_option, &o, &at);
	if (status >= 0)
		return status;
	if (!o.cpus)
		o.cpus = o.nodes;

	if (helper_find(VM_HELPER, "lib/numashadow", X_OK, script, dirs,
			sizeof(dirs))) {
		fprintf(stderr, "numashadow: cannot find " VM_HELPER
			" (looked in %s)\n", dirs);
		return EXIT_SELF;
	}
	/* The helper packs this binary and the library next to it when the
	 * command may need them; tell it which ones we are. */
	if (self_path(self, sizeof(self)))
		self[0] = '\0';
	return vm_exec(&o, script, self, argv + at, argc - at);
}

int main(int argc, char **argv)
{
	const struct subcommand *sc;
	const char *a;

	run_options_fill();
	if (argc < 2) {
		usage_print(stderr);
		return EXIT_USAGE;
	}
	a = argv[1];
	if (help_asked(a)) {
		usage_print(stdout);
		return 0;
	}
	if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
		printf("numashadow " NS_VERSION "\n");
		return 0;
	}
	if (a[0] == '-')
		return usage_error(NULL, "unknown option '%s'", a);
	sc = subcommand_find(a);
	if (!sc)
		return usage_error(NULL, "unknown command '%s'", a);
	return sc->main(argc - 1, argv + 1);
}

/* ---- trace, report: a trace file read back (tools/trace.c) ---- */

/*
 * The words of trace or report: one trace file into *file and options,
 * in any order ("--" ends the options).  option() takes one option of
 * the command into opts: 1, 0 when it is not one, or -1 after a usage
 * error line.  Returns -1 when the command goes on, or its exit status
 * now (help shown, or a usage error).
 */
static int file_command_parse(const char *cmd, int argc, char **argv,
			      int (*option)(void *opts, int argc, char **argv, int *i),
			      void *opts, const char **file)
{
	int options = 1, m;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (options && strcmp(a, "--") == 0) {
			options = 0;
		} else if (options && a[0] == '-' && a[1]) {
			if (help_asked(a))
				return subcommand_help(cmd);
			m = option(opts, argc, argv, &i);
			if (m < 0)
				return EXIT_USAGE;
			if (!m)
				return usage_error(cmd, "unknown option '%s'", a);
		} else if (*file) {
			return usage_error(cmd, "one trace file only, got '%s' too", a);
		} else {
			*file = a;
		}
	}
	return -1;
}

/* trace or report: how its words are taken, and what it does with them. */
struct file_command {
	const char *name;
	/* Takes option argv[*i] into opts: 1, 0 when it is not one of the
	 * command's, or -1 after a usage error line. */
	int (*option)(void *opts, int argc, char **argv, int *i);
	/* The options taken together, before the file is asked for: -1 when
	 * they go, or the exit status after a usage error line.  NULL: any. */
	int (*check)(void *opts);
	/* Reads file as opts say; returns the exit status. */
	int (*run)(void *opts, const char *file);
};

static int file_command(const struct file_command *fc, void *opts, int argc, char **argv)
{
	const char *file = NULL;
	int status = file_command_parse(fc->name, argc, argv, fc->option, opts, &file);

	if (status < 0 && fc->check)
		status = fc->check(opts);
	if (status >= 0)
		return status;
	if (!file)
		return usage_error(fc->name, "no trace file given");
	return fc->run(opts, file);
}

struct trace_opts {
	enum trace_out out;
	const char *svg;	/* with TRACE_SVG */
	int modes;		/* of --summary, --csv and --svg: at most one */
	int json;
};

static int trace_option(void *opts, int argc, char **argv, int *i)
{
	struct trace_opts *o = opts;
	const char *a = argv[*i];
	int m;

	if (strcmp(a, "--json") == 0) {
		o->json = 1;
		return 1;
	}
	if (strcmp(a, "--summary") == 0 || strcmp(a, "--csv") == 0) {
		o->out = a[2] == 's' ? TRACE_SUMMARY : TRACE_CSV;
		o->modes++;
		return 1;
	}
	m = option_checked("trace", "--svg", "an output file name", NULL, argc, argv,
			   i, &o->svg);
	if (m > 0) {
		o->out = TRACE_SVG;
		o->modes++;
	}
	return m;
}

static int trace_check(void *opts)
{
	struct trace_opts *o = opts;

	if (o->modes > 1)
		return usage_error("trace", "--summary, --csv and --svg exclude each other");
	if (o->json && (o->out == TRACE_CSV || o->out == TRACE_SVG))
		return usage_error("trace", "--json goes with the records or --summary, not --csv or --svg");
	return -1;
}

static int trace_run(void *opts, const char *file)
{
	struct trace_opts *o = opts;

	if (o->json)
		o->out = o->out == TRACE_SUMMARY ? TRACE_SUMMARY_JSON : TRACE_JSON;
	return trace_show(file, o->out, o->svg);
}

static int cmd_trace(int argc, char **argv)
{
	static const struct file_command fc = { "trace", trace_option, trace_check,
						trace_run };
	struct trace_opts o = { .out = TRACE_TEXT };

	return file_command(&fc, &o, argc, argv);
}

struct report_opts {
	enum report_format format;
	const char *out;	/* -o; NULL: stdout */
};

static const char *const report_formats[] = {
	[REPORT_TEXT] = "text", [REPORT_JSON] = "json", [REPORT_HTML] = "html" };

/* The format named s, or -1. */
static int report_format_find(const char *s)
{
	for (size_t k = 0; k < sizeof(report_formats) / sizeof(report_formats[0]); k++)
		if (strcmp(s, report_formats[k]) == 0)
			return (int)k;
	return -1;
}

static int report_format_valid(const char *s)
{
	return report_format_find(s) >= 0;
}

static int report_option(void *opts, int argc, char **argv, int *i)
{
	struct report_opts *o = opts;
	const char *val;
	int m = option_checked("report", "--format", "text, json or html",
			       report_format_valid, argc, argv, i, &val);

	if (m > 0)
		o->format = (enum report_format)report_format_find(val);
	if (m)
		return m;
	return option_checked("report", "-o", "an output file name", NULL, argc, argv,
			      i, &o->out);
}

static int report_run(void *opts, const char *file)
{
	struct report_opts *o = opts;

	return trace_report(file, o->format, o->out);
}

static int cmd_report(int argc, char **argv)
{
	static const struct file_command fc = { "report", report_option, NULL, report_run };
	struct report_opts o = { .format = REPORT_TEXT };

	return file_command(&fc, &o, argc, argv);
}
