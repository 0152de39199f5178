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
 *
 * Exit status: the command's own when we exec it; 2 for usage errors;
 * 1 when migrate, stat, trace or report fails (a one-line message says why);
 * 125 when numashadow cannot do its own job (missing library or helper,
 * a --trace file it cannot create);
 * 126 when the command is found but cannot run, 127 when it is not found,
 * as env(1) does.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "parse.h"
#include "trace.h"

#ifndef NS_VERSION
#define NS_VERSION "unknown"
#endif
#ifndef NS_PREFIX
#define NS_PREFIX "/usr/local"
#endif

#define EXIT_USAGE	2
#define EXIT_SELF	125	/* numashadow itself failed, as env(1) */
#define EXIT_CANNOT_RUN	126
#define EXIT_NOT_FOUND	127

#define LIB_NAME	"libnumashadow.so"
#define SUN_PATH_SIZE	sizeof(((struct sockaddr_un *)0)->sun_path)
#define VM_HELPER	"numashadow-vm"

struct subcommand {
	const char *name;	/* as typed after "numashadow" */
	const char *synopsis;	/* arguments, for the usage lines */
	const char *summary;	/* one line: what it does */
	const char *options;	/* option lines for `numashadow help NAME` */
	int (*main)(int argc, char **argv);	/* argv[0] is the name; returns the exit status */
};

static int cmd_run(int argc, char **argv);
static int cmd_vm(int argc, char **argv);
static int cmd_migrate(int argc, char **argv);
static int cmd_stat(int argc, char **argv);
static int cmd_trace(int argc, char **argv);
static int cmd_report(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct subcommand subcommands[] = {
	{
		"run", "[OPTIONS] [--] CMD [ARGS...]",
		"run CMD with libnumashadow.so preloaded",
		"  --verify[=LEVEL]    check the shadow against the kernel: sets\n"
		"                      NUMASHADOW_VERIFY to LEVEL 0, 1 or 2 (default 1)\n"
		"  --log FILE          write diagnostics to FILE (NUMASHADOW_LOG)\n"
		"  --migrate-after SECONDS:NODE\n"
		"                      after SECONDS (e.g. 0.5), move every page of the\n"
		"                      program to NODE (NUMASHADOW_MIGRATE_AFTER)\n"
		"  --report[=json]     at exit, report pages by node and migrations\n"
		"                      (with json: one JSON object a process)\n"
		"                      (NUMASHADOW_REPORT=1)\n"
		"  --balance[=MIBPS]   move pages to the node whose threads write them,\n"
		"                      at most MIBPS MiB/s (default 64) (NUMASHADOW_BALANCE)\n"
		"  --next-touch-at SECONDS\n"
		"                      from then on, each page's next write moves it\n"
		"                      to the writer's node (NUMASHADOW_NEXT_TOUCH_AT)\n"
		"  --ctl               serve a control socket, for 'numashadow migrate'\n"
		"                      and 'numashadow stat' (NUMASHADOW_CTL=1)\n"
		"  --no-ctl            no control socket (NUMASHADOW_CTL=0)\n"
		"  --trace FILE        record mmap, faults, migrations... of the program\n"
		"                      and its children into FILE, emptied first\n"
		"                      (NUMASHADOW_TRACE); read it with 'numashadow trace'\n"
		"First-touch placement (NUMASHADOW_POLICY, one of):\n"
		"  --localalloc        on the node of the thread that touches first\n"
		"  --membind=NODES     on NODES (numactl lists: 0-3,5 or all)\n"
		"  --preferred=NODE    on NODE while it has memory\n"
		"  --interleave=NODES  page by page over NODES\n"
		"  --weighted-interleave=NODE:W,...\n"
		"                      W pages per turn on each NODE\n"
		"  --rule RULE         per region, first match wins (NUMASHADOW_RULES):\n"
		"                      size>=SIZE:POLICY, size<SIZE:POLICY or\n"
		"                      site=OBJECT:FUNCTION:POLICY (SIZE like 64M)\n"
		"  --fault-around=N    pages filled per fault, 1 to 512 (default: adaptive)\n",
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

/* Usage errors are one line: what is wrong and where to read more. */
static int usage_error(const char *cmd, const char *fmt, ...)
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
static int value_error(const char *cmd, const char *opt, const char *accepts,
		       const char *got)
{
	if (!got)
		return usage_error(cmd, "%s: expected %s", opt, accepts);
	return usage_error(cmd, "%s: expected %s, got '%s'", opt, accepts, got);
}

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
		   "\nEnvironment (read by the runtime): NUMASHADOW_VERIFY, NUMASHADOW_LOG,\n"
		   "NUMASHADOW_REPORT, NUMASHADOW_CTL, NUMASHADOW_POLICY, NUMASHADOW_RULES,\n"
		   "NUMASHADOW_FAULT_AROUND, NUMASHADOW_MIGRATE_AFTER, NUMASHADOW_NEXT_TOUCH_AT,\n"
		   "NUMASHADOW_BALANCE, NUMASHADOW_TRACE; for vm: NUMASHADOW_VM_ACCEL.\n"
		   "See numashadow(1).\n");
}

/* Usage of one subcommand on stdout: 0, or a usage error if unknown. */
static int subcommand_help(const char *name)
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

/*
 * Option parsing shared by the subcommands: "--name VALUE" and
 * "--name=VALUE".  Returns 1 and sets *val when arg is option name (taking
 * the next argument as needed), 0 when arg is another option, -1 when the
 * value is missing.
 */
static int option_match(const char *name, int argc, char **argv, int *i,
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
static int number_parse(const char *s, long min, long max, long *out)
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
static int help_asked(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* Whether argv[*i] ends the options of a command that runs CMD: "--"
 * (stepped over) or the first word not starting with '-'. */
static int options_end(char **argv, int *i)
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
static int option_checked(const char *cmd, const char *name, const char *accepts,
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
static int option_number(const char *cmd, const char *name, long min, long max,
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

static int cmd_run(int argc, char **argv)
{
	char lib[PATH_MAX], dirs[2 * PATH_MAX + 8], log[PATH_MAX], trace[PATH_MAX];
	const char *verify = NULL, *logarg = NULL, *after = NULL, *val;
	const char *tracearg = NULL;
	const char *policy = NULL, *nextat = NULL;
	char balance[16] = "";
	char *rules = NULL, fa[16];
	long fault_around = 0;
	const char *ctl = NULL;	/* NUMASHADOW_CTL: "1", "0" or unset */
	int i, m, err, report = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (options_end(argv, &i))
			break;
		if (help_asked(a))
			return subcommand_help("run");
		if (strcmp(a, "--verify") == 0) {
			verify = "1";
			continue;
		}
		if (strncmp(a, "--verify=", 9) == 0) {
			verify = a + 9;
			if (strcmp(verify, "0") && strcmp(verify, "1") &&
			    strcmp(verify, "2"))
				return value_error("run", "--verify",
						   "level 0, 1 or 2", verify);
			continue;
		}
		if ((m = option_checked("run", "--log", "a file name", NULL,
					argc, argv, &i, &logarg)) ||
		    (m = option_checked("run", "--trace", "a file name", NULL,
					argc, argv, &i, &tracearg)) ||
		    (m = option_checked("run", "--migrate-after",
					"SECONDS:NODE such as 0.5:1",
					migrate_after_valid, argc, argv, &i, &after)) ||
		    (m = option_checked("run", "--next-touch-at",
					"SECONDS such as 1.5", seconds_valid,
					argc, argv, &i, &nextat)) ||
		    (m = option_number("run", "--fault-around", 1, 512,
				       "pages from 1 to 512", argc, argv, &i,
				       &fault_around))) {
			if (m < 0)
				return EXIT_USAGE;
			continue;
		}
		if (strcmp(a, "--balance") == 0 || strncmp(a, "--balance=", 10) == 0) {
			long rate = 64;
			if (a[9] == '=' && number_parse(a + 10, 1, 100000, &rate))
				return value_error("run", "--balance", "MiB/s from 1 to 100000",
						   a + 10);
			snprintf(balance, sizeof(balance), "%ld", rate);
			continue;
		}
		if (strcmp(a, "--report") == 0 || strncmp(a, "--report=", 9) == 0) {
			if (a[8] && strcmp(a + 9, "json"))
				return value_error("run", "--report", "json", a + 9);
			report = a[8] ? 2 : 1;
			continue;
		}
		if (strcmp(a, "--ctl") == 0 || strcmp(a, "--no-ctl") == 0) {
			const char *v = a[2] == 'c' ? "1" : "0";
			if (ctl && strcmp(ctl, v))
				return usage_error("run", "--ctl and --no-ctl exclude each other");
			ctl = v;
			continue;
		}
		/* Placement: the runtime parses and refuses bad values with a
		 * line naming the setting; here only the shape is checked. */
		if (strcmp(a, "--localalloc") == 0) {
			policy = "localalloc";
			continue;
		}
		static const char *const pol_opts[] = { "--membind=", "--preferred=",
			"--interleave=", "--weighted-interleave=" };
		int matched = 0;
		for (size_t k = 0; k < sizeof(pol_opts) / sizeof(*pol_opts); k++)
			if (strncmp(a, pol_opts[k], strlen(pol_opts[k])) == 0) {
				if (!a[strlen(pol_opts[k])])
					return value_error("run", pol_opts[k], "a node list", NULL);
				policy = a + 2;	/* "membind=..." as the runtime reads it */
				matched = 1;
			}
		if (matched)
			continue;
		m = option_checked("run", "--rule", "a rule such as size>=64M:interleave=all",
				   NULL, argc, argv, &i, &val);
		if (m < 0)
			return EXIT_USAGE;
		if (m > 0) {
			if (rules_add(&rules, val))
				return EXIT_SELF;
			continue;
		}
		return usage_error("run", "unknown option '%s'", a);
	}
	if (i >= argc)
		return usage_error("run", "no command given");

	if (helper_find(LIB_NAME, "lib", R_OK, lib, dirs, sizeof(dirs))) {
		fprintf(stderr, "numashadow: cannot find " LIB_NAME
			" (looked in %s)\n", dirs);
		return EXIT_SELF;
	}
	if (tracearg) {
		/* Absolute, because the program may change directory. */
		err = path_absolute(tracearg, trace, sizeof(trace));
		if (!err)
			err = trace_file_reset(trace);
		if (err) {
			fprintf(stderr, "numashadow: run: --trace %s: %s\n", tracearg,
				err == -EINVAL ? "not a regular file" : strerror(-err));
			return EXIT_SELF;
		}
	}
	snprintf(fa, sizeof(fa), "%ld", fault_around);
	const char *const env[][2] = {
		{ "NUMASHADOW_VERIFY", verify },
		{ "NUMASHADOW_MIGRATE_AFTER", after },
		{ "NUMASHADOW_BALANCE", balance[0] ? balance : NULL },
		{ "NUMASHADOW_NEXT_TOUCH_AT", nextat },
		{ "NUMASHADOW_REPORT", !report ? NULL : report == 2 ? "json" : "1" },
		{ "NUMASHADOW_CTL", ctl },
		{ "NUMASHADOW_TRACE", tracearg ? trace : NULL },
		{ "NUMASHADOW_POLICY", policy },
		{ "NUMASHADOW_RULES", rules },
		{ "NUMASHADOW_FAULT_AROUND", fault_around ? fa : NULL },
	};
	err = preload_set(lib);
	for (size_t k = 0; !err && k < sizeof(env) / sizeof(env[0]); k++)
		err = env_set(env[k][0], env[k][1]);
	free(rules);
	if (!err && logarg) {
		/* Absolute, because the program may change directory. */
		err = path_absolute(logarg, log, sizeof(log));
		if (!err)
			err = env_set("NUMASHADOW_LOG", log);
	}
	if (err) {
		fprintf(stderr, "numashadow: run: %s\n", strerror(-err));
		return EXIT_SELF;
	}
	return command_exec(argv + i);
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

static int cmd_vm(int argc, char **argv)
{
	char script[PATH_MAX], self[PATH_MAX], dirs[2 * PATH_MAX + 8];
	char nodes_s[16], mem_s[16], cpus_s[16], timeout_s[16];
	long nodes = 2, mem = 1024, cpus = 0, timeout = 600;
	const char *val, *memonly = NULL, *distance = NULL;
	char **files, **nv;
	int nfiles = 0, i, m, k;

	files = calloc(argc + 1, sizeof(*files));
	if (!files)
		return EXIT_SELF;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (options_end(argv, &i))
			break;
		if (help_asked(a))
			return subcommand_help("vm");
		/* The helper checks --memory-only against --nodes, and the
		 * distances. */
		if ((m = option_number("vm", "--nodes", 2, 8, "2 to 8",
				       argc, argv, &i, &nodes)) ||
		    (m = option_checked("vm", "--memory-only",
					"the last nodes, as 2, 2,3 or 2-3", any_value,
					argc, argv, &i, &memonly)) ||
		    (m = option_checked("vm", "--distance",
					"A-B:V[,A-B:V]..., V from 11 to 254", any_value,
					argc, argv, &i, &distance)) ||
		    (m = option_number("vm", "--mem", 256, 65536, "MiB from 256 to 65536",
				       argc, argv, &i, &mem)) ||
		    (m = option_number("vm", "--cpus", 1, 64, "1 to 64",
				       argc, argv, &i, &cpus)) ||
		    (m = option_number("vm", "--timeout", 1, 86400,
				       "seconds from 1 to 86400", argc, argv, &i,
				       &timeout))) {
			if (m < 0)
				return EXIT_USAGE;
			continue;
		}
		m = option_checked("vm", "--file", "an existing file or directory",
				   file_exists, argc, argv, &i, &val);
		if (m < 0)
			return EXIT_USAGE;
		if (m > 0) {
			files[nfiles++] = (char *)val;
			continue;
		}
		return usage_error("vm", "unknown option '%s'", a);
	}
	if (i >= argc)
		return usage_error("vm", "no command given");
	if (!cpus)
		cpus = nodes;

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

	nv = calloc(18 + 2 * nfiles + (argc - i) + 1, sizeof(*nv));
	if (!nv)
		return EXIT_SELF;
	snprintf(nodes_s, sizeof(nodes_s), "%ld", nodes);
	snprintf(mem_s, sizeof(mem_s), "%ld", mem);
	snprintf(cpus_s, sizeof(cpus_s), "%ld", cpus);
	snprintf(timeout_s, sizeof(timeout_s), "%ld", timeout);
	k = 0;
	nv[k++] = script;
	nv[k++] = "--nodes";	nv[k++] = nodes_s;
	nv[k++] = "--mem";	nv[k++] = mem_s;
	nv[k++] = "--cpus";	nv[k++] = cpus_s;
	nv[k++] = "--timeout";	nv[k++] = timeout_s;
	if (memonly) {
		nv[k++] = "--memory-only";
		nv[k++] = (char *)memonly;
	}
	if (distance) {
		nv[k++] = "--distance";
		nv[k++] = (char *)distance;
	}
	if (self[0]) {
		nv[k++] = "--numashadow";
		nv[k++] = self;
	}
	for (m = 0; m < nfiles; m++) {
		nv[k++] = "--file";
		nv[k++] = files[m];
	}
	nv[k++] = "--";
	while (i < argc)
		nv[k++] = argv[i++];
	nv[k] = NULL;
	execv(script, nv);
	fprintf(stderr, "numashadow: cannot run %s: %s\n", script,
		strerror(errno));
	return EXIT_SELF;
}

int main(int argc, char **argv)
{
	const struct subcommand *sc;
	const char *a;

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

/* ---- migrate, stat: requests to a running program's control socket ---- */

/*
 * What the commands trust (docs/security.md).  The socket lives where the
 * runtime puts it (runtime/ctl.c): $XDG_RUNTIME_DIR/numashadow/PID.sock,
 * else /tmp/numashadow-EUID/PID.sock.  /tmp is anyone's, so another user
 * may have made that directory first and listen in it.  Before connecting
 * we check the directory: a directory (not a symlink: lstat), owned by our
 * effective uid, not writable by group or others; we then hold it open
 * and connect relative to it, so it cannot be swapped after the check.
 * After connecting, the peer (SO_PEERCRED: whoever called listen()) must
 * have our effective uid.  Root is not accepted as a peer: a program of
 * ours never listens as root, and a root-owned socket in our directory
 * would be someone else's.
 */

/* The socket of pid, as the runtime names it: dir (for messages and
 * checks) and name inside it.  Returns 0, or 1 after one line: a path too
 * long for a socket address, which the runtime could not have bound. */
static int ctl_path(const char *cmd, long pid, char *dir, size_t dirsize,
		    char *name, size_t namesize)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	size_t len;
	int n;

	if (xdg && *xdg)
		n = snprintf(dir, dirsize, "%s/numashadow", xdg);
	else
		n = snprintf(dir, dirsize, "/tmp/numashadow-%ld", (long)geteuid());
	len = (size_t)n + 1 + (size_t)snprintf(name, namesize, "%ld.sock", pid);
	/* dir/name and its NUL must fit in sun_path: never cut it short. */
	if (len >= SUN_PATH_SIZE || (size_t)n >= dirsize) {
		fprintf(stderr, "numashadow: %s: XDG_RUNTIME_DIR is too long: the "
			"socket path would be %zu bytes, a socket address holds %zu\n",
			cmd, len, SUN_PATH_SIZE - 1);
		return 1;
	}
	return 0;
}

/* Opens dir, the directory of our sockets, after checking that only we
 * can change what is in it.  Returns the descriptor; -ENOENT when there
 * is no such directory (no socket either); -EPERM after one line saying
 * why it is not trusted, or another -errno after one line. */
static int ctl_dir_open(const char *cmd, const char *dir)
{
	uid_t euid = geteuid();
	struct stat st, fst;
	const char *why = NULL;
	int fd;

	if (lstat(dir, &st)) {
		int err = errno;
		if (err == ENOENT)
			return -ENOENT;
		fprintf(stderr, "numashadow: %s: %s: %s\n", cmd, dir, strerror(err));
		return -err;
	}
	if (S_ISLNK(st.st_mode))
		why = "is a symbolic link";
	else if (!S_ISDIR(st.st_mode))
		why = "is not a directory";
	if (why) {
		fprintf(stderr, "numashadow: %s: %s %s; refusing to look for a "
			"control socket there\n", cmd, dir, why);
		return -EPERM;
	}
	if (st.st_uid != euid) {
		fprintf(stderr, "numashadow: %s: %s is owned by uid %ld, not by you "
			"(uid %ld); refusing to look for a control socket there\n",
			cmd, dir, (long)st.st_uid, (long)euid);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		fprintf(stderr, "numashadow: %s: %s is writable by %s (mode %04o); "
			"refusing to look for a control socket there\n", cmd, dir,
			st.st_mode & S_IWOTH ? "others" : "its group",
			(unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	/* O_PATH: no read permission needed; O_NOFOLLOW: a symlink put there
	 * since the lstat is not followed.  The same inode as checked. */
	fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &fst) || fst.st_dev != st.st_dev ||
	    fst.st_ino != st.st_ino) {
		fprintf(stderr, "numashadow: %s: %s changed while being checked; "
			"refusing to look for a control socket there\n", cmd, dir);
		if (fd >= 0)
			close(fd);
		return -EPERM;
	}
	return fd;
}

/* A socket connected to name in the current directory, the checked
 * socket directory dir (for messages), served by our effective uid and,
 * when pid is not 0, by pid itself.  Returns the descriptor; -ENOENT when
 * nobody listens there (no socket, or one a dead process left); -1 after
 * one line saying why not. */
static int ctl_connect_name(const char *cmd, const char *dir, const char *name,
			    long pid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, err;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "numashadow: %s: socket: %s\n", cmd, strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		close(fd);
		if (err == ENOENT || err == ECONNREFUSED)
			return -ENOENT;
		fprintf(stderr, "numashadow: %s: %s/%s: %s\n", cmd, dir, name,
			strerror(err));
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		fprintf(stderr, "numashadow: %s: %s/%s: SO_PEERCRED: %s\n", cmd, dir,
			name, strerror(errno));
		close(fd);
		return -1;
	}
	if (cred.uid != geteuid()) {
		fprintf(stderr, "numashadow: %s: %s/%s is served by uid %ld (pid %ld), "
			"not by you (uid %ld); refusing to talk to it\n", cmd, dir, name,
			(long)cred.uid, (long)cred.pid, (long)geteuid());
		close(fd);
		return -1;
	}
	/* --all names the process by the file name: it must be the one
	 * that listens, or the line would describe another process. */
	if (pid && cred.pid != (pid_t)pid) {
		fprintf(stderr, "numashadow: %s: %s/%s is served by pid %ld, not "
			"by pid %ld; skipped\n", cmd, dir, name, (long)cred.pid, pid);
		close(fd);
		return -1;
	}
	return fd;
}

/* A socket connected to pid's control socket.  Returns the descriptor,
 * or -1 after one line saying why not; with quiet_gone, -ENOENT and no
 * line when there is no socket. */
static int ctl_connect_q(const char *cmd, long pid, int quiet_gone)
{
	char dir[SUN_PATH_SIZE], name[32];
	int dfd, fd;

	if (ctl_path(cmd, pid, dir, sizeof(dir), name, sizeof(name)))
		return -1;
	dfd = ctl_dir_open(cmd, dir);
	if (dfd == -ENOENT)
		goto no_socket;
	if (dfd < 0)
		return -1;
	/* Connect by a name relative to the directory we checked: we are a
	 * short-lived command, nothing else depends on our working directory. */
	if (fchdir(dfd)) {
		fprintf(stderr, "numashadow: %s: %s: %s\n", cmd, dir, strerror(errno));
		close(dfd);
		return -1;
	}
	close(dfd);
	fd = ctl_connect_name(cmd, dir, name, 0);
	if (fd == -ENOENT)
		goto no_socket;
	return fd;

no_socket:
	if (quiet_gone)
		return -ENOENT;
	fprintf(stderr, "numashadow: pid %ld has no control socket (start it "
		"with 'numashadow run --ctl')\n", pid);
	return -1;
}

static int ctl_connect(const char *cmd, long pid)
{
	return ctl_connect_q(cmd, pid, 0);
}

/* Sends one request to pid's control socket and copies the answer to
 * stdout; returns 0, or 1 after saying why (no process, no control
 * socket, one we do not trust, or the runtime's "error: ..."). */
static int ctl_request(const char *cmd, long pid, const char *req)
{
	char buf[4096], last[512] = "";
	size_t lastlen = 0;
	ssize_t n;
	int fd, ok = 0;

	if (kill((pid_t)pid, 0) && errno == ESRCH) {
		fprintf(stderr, "numashadow: %s: no process %ld\n", cmd, pid);
		return 1;
	}
	fd = ctl_connect(cmd, pid);
	if (fd < 0)
		return 1;
	/* One line, one send; a peer gone already is an error, not SIGPIPE. */
	n = snprintf(buf, sizeof(buf), "%s\n", req);
	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n) {
		fprintf(stderr, "numashadow: %s: %s\n", cmd, strerror(errno ? errno : EIO));
		close(fd);
		return 1;
	}
	/* Pass the answer through, remembering its last line. */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t k = 0; k < n; k++) {
			if (buf[k] == '\n') {
				last[lastlen] = '\0';
				ok = strcmp(last, "ok") == 0;
				if (!ok && strncmp(last, "error: ", 7) == 0)
					fprintf(stderr, "numashadow: %s: %s\n",
						cmd, last + 7);
				else if (!ok)
					printf("%s\n", last);
				lastlen = 0;
			} else if (lastlen < sizeof(last) - 1) {
				last[lastlen++] = buf[k];
			}
		}
	}
	close(fd);
	return ok ? 0 : 1;
}

/* --pid PID, shared by migrate and stat: option_number()'s answer. */
static int pid_option(const char *cmd, int argc, char **argv, int *i, long *pid)
{
	return option_number(cmd, "--pid", 1, 4194304, "a process id", argc, argv, i,
			     pid);
}

/* A whole node list for --from or --to: 0, or -EINVAL. */
static int nodes_parse(const char *s, uint64_t *mask)
{
	return parse_nodelist(&s, mask) < 0 || *s ? -EINVAL : 0;
}

static int nodes_valid(const char *s)
{
	uint64_t mask;

	return nodes_parse(s, &mask) == 0;
}

/* START-END, hexadecimal, START < END. */
static int range_valid(const char *s)
{
	uint64_t lo = 0, hi = 0;

	return parse_hex64(&s, &lo) == 0 && *s++ == '-' && parse_hex64(&s, &hi) == 0 &&
	       !*s && hi > lo;
}

static int cmd_migrate(int argc, char **argv)
{
	const char *range = NULL, *from = NULL, *to = NULL;
	long pid = 0, node = -1;
	int i, m, sync = 0, all = 0;
	uint64_t from_mask = 0, to_mask = 0;
	char req[128];

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (help_asked(a))
			return subcommand_help("migrate");
		/* --to is a list only with --from, which may come later. */
		if ((m = pid_option("migrate", argc, argv, &i, &pid)) ||
		    (m = option_checked("migrate", "--to",
					"a node number 0 to 63 (with --from, a node list like 0,2 or 0-1)",
					nodes_valid, argc, argv, &i, &to)) ||
		    (m = option_checked("migrate", "--from",
					"a node list like 0,2 or 0-1, nodes 0 to 63",
					nodes_valid, argc, argv, &i, &from)) ||
		    (m = option_checked("migrate", "--range",
					"START-END in hexadecimal, START < END",
					range_valid, argc, argv, &i, &range))) {
			if (m < 0)
				return EXIT_USAGE;
		} else if (strcmp(a, "--all") == 0) {
			all = 1;
		} else if (strcmp(a, "--sync") == 0) {
			sync = 1;
		} else {
			return usage_error("migrate", "unknown argument '%s'", a);
		}
	}
	if (!pid)
		return usage_error("migrate", "--pid is required");
	if (!to)
		return usage_error("migrate", "--to is required");
	if (range && all)
		return usage_error("migrate", "--range and --all exclude each other");
	if (from) {
		if (range)
			return usage_error("migrate", "--from and --range exclude each other");
		nodes_parse(from, &from_mask);
		nodes_parse(to, &to_mask);
		if (__builtin_popcountll(from_mask) != __builtin_popcountll(to_mask))
			return usage_error("migrate", "--from %s and --to %s must name as many nodes (%d and %d)",
					   from, to, __builtin_popcountll(from_mask),
					   __builtin_popcountll(to_mask));
		/* Masks, not the lists: any lists fit the request line. */
		snprintf(req, sizeof(req), "migrate-nodes %#llx %#llx%s",
			 (unsigned long long)from_mask, (unsigned long long)to_mask,
			 sync ? " sync" : "");
		return ctl_request("migrate", pid, req);
	}
	if (number_parse(to, 0, 63, &node))
		return value_error("migrate", "--to", "a node number 0 to 63 (a list needs --from)",
				   to);
	snprintf(req, sizeof(req), "migrate %ld %s%s", node, range ? range : "all",
		 sync ? " sync" : "");
	return ctl_request("migrate", pid, req);
}

/* ---- stat --json, --interval, --all: the stat answer read back ---- */

/*
 * The runtime answers "stat" in text (runtime/ctl.c, docs/migration.md);
 * these read that text back.  Lines are known by how they start; a line
 * of another shape is skipped, so that a runtime which says more does not
 * break the JSON, but a known line that does not parse is an error.
 */

#define STAT_NODES	64	/* nodes 0 to 63, as the runtime */
#define STAT_ANSWER_MAX	(1 << 20)	/* the runtime's buffer is 256 KiB */

/* An answer split into lines, "ok" dropped. */
struct stat_answer {
	char *buf;
	char **line;
	size_t n;
};

/* Set by SIGINT during --interval: the end, not an error. */
static volatile sig_atomic_t stat_stop;

/* What --interval and --all show of one answer. */
struct stat_sum {
	uint64_t online;		/* nodes with a "node N:" line */
	uint64_t pages[STAT_NODES];
	uint64_t total;
	uint64_t moved;			/* the migration counter */
};

static void stat_answer_free(struct stat_answer *a)
{
	free(a->buf);
	free(a->line);
	a->buf = NULL;
	a->line = NULL;
}

/*
 * Sends "stat" on fd and reads the whole answer into *a.  Returns 0 when
 * it ends with "ok"; 2 when the process is going away (it answered that
 * it is exiting, or closed without a byte), after one line unless quiet;
 * otherwise 1 after one line.
 */
static int stat_fetch_fd(const char *cmd, int fd, long pid, int quiet,
			 struct stat_answer *a)
{
	size_t len = 0, cap = 65536, k;
	char *buf = malloc(cap), *p, *err = NULL;
	ssize_t n;
	int gone;

	memset(a, 0, sizeof(*a));
	errno = 0;
	if (!buf || send(fd, "stat\n", 5, MSG_NOSIGNAL) != 5) {
		/* A peer that hung up is going away too. */
		gone = buf && (errno == EPIPE || errno == ECONNRESET);
		if (!quiet || !gone)
			fprintf(stderr, "numashadow: %s: pid %ld: %s\n", cmd, pid,
				strerror(!buf ? ENOMEM : errno ? errno : EIO));
		free(buf);
		close(fd);
		return gone ? 2 : 1;
	}
	for (;;) {
		if (len + 1 == cap) {
			char *nb = cap >= STAT_ANSWER_MAX ? NULL : realloc(buf, 2 * cap);
			if (!nb)
				break;	/* longer than any answer: cut it here */
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR && !stat_stop)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	a->buf = buf;
	a->line = calloc(len + 1, sizeof(*a->line));	/* a line per byte at most */
	if (!a->line) {
		fprintf(stderr, "numashadow: %s: %s\n", cmd, strerror(ENOMEM));
		stat_answer_free(a);
		return 1;
	}
	/* Whole lines only: a last one without its newline was cut. */
	for (p = buf; (k = strcspn(p, "\n")), p[k] == '\n'; p += k + 1) {
		p[k] = '\0';
		if (strcmp(p, "ok") == 0)
			return 0;
		if (strncmp(p, "error: ", 7) == 0) {
			err = p + 7;
			break;
		}
		a->line[a->n++] = p;
	}
	gone = len == 0 || (err && !strcmp(err, "the process is exiting"));
	if (stat_stop || (quiet && gone))
		;	/* interrupted on purpose, or gone: nothing to say */
	else if (!err)
		fprintf(stderr, "numashadow: %s: pid %ld: the answer ends without "
			"'ok' (cut short)\n", cmd, pid);
	else
		fprintf(stderr, "numashadow: %s: pid %ld: %s\n", cmd, pid, err);
	stat_answer_free(a);
	return gone ? 2 : 1;
}

/* The stat answer of pid; 0, or 1 after one line.  With quiet_gone,
 * 2 and no line when the process is gone or going: no process, no
 * socket (removed at exit), or an answer saying so. */
static int stat_fetch(const char *cmd, long pid, int quiet_gone,
		      struct stat_answer *a)
{
	int fd;

	if (kill((pid_t)pid, 0) && errno == ESRCH) {
		if (quiet_gone)
			return 2;
		fprintf(stderr, "numashadow: %s: no process %ld\n", cmd, pid);
		return 1;
	}
	fd = ctl_connect_q(cmd, pid, quiet_gone);
	if (fd == -ENOENT)
		return 2;
	if (fd < 0)
		return 1;
	fd = stat_fetch_fd(cmd, fd, pid, quiet_gone, a);
	return fd == 2 && !quiet_gone ? 1 : fd;
}

/* A decimal number at *s, then the exact text lit; 0 or -EINVAL. */
static int scan_u64(const char **s, const char *lit, uint64_t *v)
{
	size_t n = strlen(lit);

	if (parse_u64(s, UINT64_MAX, v) || strncmp(*s, lit, n))
		return -EINVAL;
	*s += n;
	return 0;
}

/* "node N: M pages" into *node, *pages; 0 or -EINVAL. */
static int stat_node_line(const char *s, uint64_t *node, uint64_t *pages)
{
	s += 5;
	if (scan_u64(&s, ": ", node) || *node >= STAT_NODES ||
	    scan_u64(&s, " pages", pages) || *s)
		return -EINVAL;
	return 0;
}

/* One line the parser could not read: the answer's shape changed. */
static int stat_bad_line(const char *cmd, const char *line)
{
	fprintf(stderr, "numashadow: %s: cannot read the answer's line '%.200s'\n",
		cmd, line);
	return 1;
}

/* Pages per node and the moved counter of an answer; 0, or 1 after one
 * line. */
static int stat_summarize(const char *cmd, const struct stat_answer *a,
			  struct stat_sum *sum)
{
	uint64_t node, pages;

	memset(sum, 0, sizeof(*sum));
	for (size_t i = 0; i < a->n; i++) {
		const char *s = a->line[i];

		if (strncmp(s, "node ", 5) == 0) {
			if (stat_node_line(s, &node, &pages))
				return stat_bad_line(cmd, s);
			sum->online |= 1ULL << node;
			sum->pages[node] = pages;
			sum->total += pages;
		} else if (strncmp(s, "migrations:", 11) == 0) {
			const char *m = strstr(s, " moved ");
			if (!m)
				return stat_bad_line(cmd, s);
			m += 7;
			if (parse_u64(&m, UINT64_MAX, &sum->moved))
				return stat_bad_line(cmd, s);
		}
	}
	if (!sum->online) {
		fprintf(stderr, "numashadow: %s: the answer has no 'node N: M pages' line\n",
			cmd);
		return 1;
	}
	return 0;
}

/* s as a JSON string. */
static void json_str(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The pages per node of sum as a JSON object {"N":PAGES,...}. */
static void json_sum_nodes(FILE *f, const struct stat_sum *sum)
{
	const char *sep = "";

	fputc('{', f);
	for (int n = 0; n < STAT_NODES; n++)
		if (sum->online >> n & 1) {
			fprintf(f, "%s\"%d\":%" PRIu64, sep, n, sum->pages[n]);
			sep = ",";
		}
	fputc('}', f);
}

/* " nodeN=COUNT" pairs at s as a JSON object {"N":COUNT,...}; 0 or
 * -EINVAL. */
static int json_node_pairs(FILE *f, const char *s)
{
	uint64_t node, pages;
	const char *sep = "";

	fputc('{', f);
	while (*s) {
		if (strncmp(s, " node", 5))
			return -EINVAL;
		s += 5;
		if (scan_u64(&s, "=", &node) || parse_u64(&s, UINT64_MAX, &pages))
			return -EINVAL;
		fprintf(f, "%s\"%" PRIu64 "\":%" PRIu64, sep, node, pages);
		sep = ",";
	}
	fputc('}', f);
	return 0;
}

/* "START-END PERMS KIND nodeN=COUNT..." as a JSON object; 0 or -EINVAL. */
static int json_mapping(FILE *f, const char *s)
{
	uint64_t lo, hi;
	size_t pl, kl;

	if (parse_hex64(&s, &lo) || *s++ != '-' || parse_hex64(&s, &hi) ||
	    *s++ != ' ')
		return -EINVAL;
	pl = strcspn(s, " ");
	if (!s[pl] || !pl)
		return -EINVAL;
	kl = strcspn(s + pl + 1, " ");
	fprintf(f, "{\"start\":\"0x%" PRIx64 "\",\"end\":\"0x%" PRIx64 "\",\"perms\":", lo, hi);
	json_str(f, s, pl);
	fprintf(f, ",\"kind\":");
	json_str(f, s + pl + 1, kl);
	fprintf(f, ",\"nodes\":");
	if (json_node_pairs(f, s + pl + 1 + kl))
		return -EINVAL;
	fputc('}', f);
	return 0;
}

/* "shared ADDR node N: pid P at A, pid P at A" as a JSON object; 0 or
 * -EINVAL.  The runtime cuts a long list of mappers short. */
static int json_shared(FILE *f, const char *s)
{
	uint64_t addr, node, pid, at;
	const char *sep = "";
	int64_t snode;

	s += 7;
	if (parse_hex64(&s, &addr) || strncmp(s, " node ", 6))
		return -EINVAL;
	s += 6;
	/* The node may be -1, not known. */
	snode = *s == '-' ? (s++, -1) : 1;
	if (scan_u64(&s, ":", &node))
		return -EINVAL;
	fprintf(f, "{\"addr\":\"0x%" PRIx64 "\",\"node\":%" PRId64 ",\"mappers\":[", addr,
	       snode * (int64_t)node);
	while (*s == ' ') {
		s++;
		if (strncmp(s, "pid ", 4))
			return -EINVAL;
		s += 4;
		if (scan_u64(&s, " at ", &pid) || parse_hex64(&s, &at))
			return -EINVAL;
		fprintf(f, "%s{\"pid\":%" PRIu64 ",\"addr\":\"0x%" PRIx64 "\"}", sep, pid, at);
		sep = ",";
		if (*s == ',')
			s++;
	}
	if (*s)
		return -EINVAL;
	fprintf(f, "]}");
	return 0;
}

/* "migrations: KEY N KEY N ..." as a JSON object, '-' in keys as '_';
 * 0 or -EINVAL. */
static int json_counters(FILE *f, const char *s)
{
	const char *sep = "";
	uint64_t v;

	s += 11;
	fputc('{', f);
	while (*s == ' ') {
		size_t kl = strcspn(++s, " ");
		if (!kl || s[kl] != ' ')
			return -EINVAL;
		fputc(*sep ? ',' : '"', f);
		if (*sep)
			fputc('"', f);
		for (size_t i = 0; i < kl; i++) {
			if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
				return -EINVAL;
			fputc(s[i] == '-' ? '_' : s[i], f);
		}
		s += kl + 1;
		if (parse_u64(&s, UINT64_MAX, &v))
			return -EINVAL;
		fprintf(f, "\":%" PRIu64, v);
		sep = ",";
	}
	fputc('}', f);
	return *s ? -EINVAL : 0;
}

/* The answer's lines starting with prefix, each made an object by one, as
 * a JSON array.  Returns 0, or 1 after one line for a line that does not
 * parse. */
static int json_array(FILE *f, const char *cmd, const struct stat_answer *a,
		      const char *prefix, int (*one)(FILE *, const char *))
{
	const char *sep = "";

	fputc('[', f);
	for (size_t i = 0; i < a->n; i++)
		if (strncmp(a->line[i], prefix, strlen(prefix)) == 0) {
			fputs(sep, f);
			if (one(f, a->line[i]))
				return stat_bad_line(cmd, a->line[i]);
			sep = ",";
		}
	fputc(']', f);
	return 0;
}

/*
 * The answer as one JSON object on one line (keys: docs/migration.md),
 * into f.  Each section is a pass over the lines: the text groups them
 * the same way, and a missing section is an empty one.  Returns 0, or 1
 * after one line.
 */
static int stat_json_write(FILE *f, const char *cmd, long pid,
			   const struct stat_answer *a, const struct stat_sum *sum)
{
	uint64_t shared = 0, mappings = 0, node, pages;
	const char *sep;
	int has_counters = 0;

	for (size_t i = 0; i < a->n; i++) {
		const char *s = a->line[i];
		if (strncmp(s, "shared pages: ", 14) == 0) {
			s += 14;
			if (scan_u64(&s, ", with ", &shared) ||
			    scan_u64(&s, " mappings in the family", &mappings) || *s)
				return stat_bad_line(cmd, a->line[i]);
		}
	}
	fprintf(f, "{\"pid\":%ld,\"nodes\":{", pid);
	sep = "";
	for (size_t i = 0; i < a->n; i++)
		if (strncmp(a->line[i], "node ", 5) == 0 &&
		    stat_node_line(a->line[i], &node, &pages) == 0) {
			fprintf(f, "%s\"%" PRIu64 "\":%" PRIu64, sep, node, pages);
			sep = ",";
		}
	fprintf(f, "},\"pages\":%" PRIu64 ",\"shared_pages\":%" PRIu64
	       ",\"shared_mappings\":%" PRIu64 ",\"migrations\":", sum->total, shared,
	       mappings);
	for (size_t i = 0; i < a->n; i++)
		if (strncmp(a->line[i], "migrations:", 11) == 0) {
			if (json_counters(f, a->line[i]))
				return stat_bad_line(cmd, a->line[i]);
			has_counters = 1;
			break;
		}
	if (!has_counters)
		fprintf(f, "{}");
	fprintf(f, ",\"mappings\":");
	if (json_array(f, cmd, a, "0x", json_mapping))
		return 1;
	fprintf(f, ",\"shared\":");
	if (json_array(f, cmd, a, "shared 0x", json_shared))
		return 1;
	fprintf(f, "}\n");
	return 0;
}

/* The object on stdout only when it is whole: a script gets all of it
 * or nothing.  Returns 0, or 1 after one line. */
static int stat_json(const char *cmd, long pid, const struct stat_answer *a,
		     const struct stat_sum *sum)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f) {
		fprintf(stderr, "numashadow: %s: %s\n", cmd, strerror(errno));
		return 1;
	}
	err = stat_json_write(f, cmd, pid, a, sum);
	if (fclose(f) && !err) {
		fprintf(stderr, "numashadow: %s: %s\n", cmd, strerror(ENOMEM));
		err = 1;
	}
	if (!err)
		fwrite(buf, 1, len, stdout);
	free(buf);
	return err;
}

static void stat_on_sigint(int sig)
{
	(void)sig;
	stat_stop = 1;
}

static double mono_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * One line per interval, as vmstat: seconds since the first line, pages
 * per node (the nodes of the first answer), their total, and the change
 * of the total and of the moved counter per second since the line before
 * ("-" on the first).  Until SIGINT (exit 0), count lines, or the process
 * ends (exit 0 after one line on stderr).
 */
static int stat_interval(long pid, double interval, long count, int json)
{
	struct sigaction sa = { .sa_handler = stat_on_sigint };
	struct stat_answer a;
	struct stat_sum sum, prev;
	double t0 = 0, tprev = 0, t, next;
	long lines = 0;
	uint64_t nodes = 0;
	int err;

	/* No SA_RESTART: the signal ends the sleep or the read at once. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	next = mono_now();
	while (!stat_stop && (!count || lines < count)) {
		/* After the first line, the process going away is the end
		 * of the view, not an error. */
		err = stat_fetch("stat", pid, lines > 0, &a);
		if (err) {
			if (stat_stop)
				break;
			if (err == 2) {
				fprintf(stderr, "numashadow: stat: pid %ld has ended\n", pid);
				return 0;
			}
			return 1;
		}
		t = mono_now();
		if (stat_summarize("stat", &a, &sum)) {
			stat_answer_free(&a);
			return 1;
		}
		stat_answer_free(&a);
		if (json) {
			if (!lines)
				t0 = t;
			printf("{\"time\":%.3f,\"pid\":%ld,\"nodes\":", t - t0, pid);
			json_sum_nodes(stdout, &sum);
			printf(",\"pages\":%" PRIu64 ",\"moved\":%" PRIu64, sum.total,
			       sum.moved);
			if (lines && t > tprev)
				printf(",\"pages_per_s\":%.1f,\"moved_per_s\":%.1f}\n",
				       ((double)sum.total - (double)prev.total) / (t - tprev),
				       sum.moved >= prev.moved ?
				       (double)(sum.moved - prev.moved) / (t - tprev) : 0.0);
			else
				printf(",\"pages_per_s\":null,\"moved_per_s\":null}\n");
		} else if (!lines) {
			nodes = sum.online;
			t0 = t;
			printf("%9s", "time");
			for (int n = 0; n < STAT_NODES; n++)
				if (nodes >> n & 1) {
					char label[16];
					snprintf(label, sizeof(label), "node%d", n);
					printf(" %11s", label);
				}
			printf(" %11s %10s %10s\n", "total", "pages/s", "moved/s");
		}
		if (!json) {
			printf("%9.3f", t - t0);
			for (int n = 0; n < STAT_NODES; n++)
				if (nodes >> n & 1)
					printf(" %11" PRIu64, sum.pages[n]);
			printf(" %11" PRIu64, sum.total);
		}
		if (json)
			;
		else if (lines && t > tprev)
			printf(" %10.1f %10.1f\n",
			       ((double)sum.total - (double)prev.total) / (t - tprev),
			       /* A counter that went back (it never should): none. */
			       sum.moved >= prev.moved ?
			       (double)(sum.moved - prev.moved) / (t - tprev) : 0.0);
		else
			printf(" %10s %10s\n", "-", "-");
		prev = sum;
		tprev = t;
		lines++;
		if (count && lines >= count)
			break;
		/* On a grid from the start: a slow answer does not drift it. */
		next += interval;
		t = mono_now();
		if (next > t) {
			struct timespec ts = { (time_t)(next - t),
				(long)((next - t - (double)(time_t)(next - t)) * 1e9) };
			nanosleep(&ts, NULL);
		} else {
			next = t;
		}
	}
	return 0;
}

/* One process of --all. */
struct stat_proc {
	long pid;
	char comm[20];
	struct stat_sum sum;
};

static int stat_proc_cmp(const void *x, const void *y)
{
	const struct stat_proc *a = x, *b = y;

	return (a->pid > b->pid) - (a->pid < b->pid);
}

/* /proc/PID/comm, printable ASCII (spaces kept): the name is the
 * program's to choose. */
static void comm_read(long pid, char *buf, size_t size)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, (int)size, f))
		snprintf(buf, size, "?");
	if (f)
		fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

/*
 * Every process of ours with a control socket in our socket directory
 * (checked as for --pid), one line each: pid, command, pages per node
 * (the nodes any answered for), total.  A socket file is taken only when
 * it is a socket (not a symbolic link) owned by us and writable by no
 * one else; the process must exist, listen on it and be its SO_PEERCRED
 * pid.  Stale sockets of dead processes are skipped quietly.
 */
static int stat_all(int json)
{
	char dir[SUN_PATH_SIZE], name[32];
	struct stat_proc *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t nodes = 0;
	struct dirent *de;
	DIR *d;
	int dfd;

	if (ctl_path("stat", 1, dir, sizeof(dir), name, sizeof(name)))
		return 1;
	dfd = ctl_dir_open("stat", dir);
	if (dfd < 0 && dfd != -ENOENT)
		return 1;
	if (dfd >= 0) {
		/* O_PATH cannot be read: list it by a descriptor of its own,
		 * reached through the checked one. */
		int lfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (lfd < 0 || fchdir(dfd) || !(d = fdopendir(lfd))) {
			fprintf(stderr, "numashadow: stat: %s: %s\n", dir, strerror(errno));
			if (lfd >= 0)
				close(lfd);
			close(dfd);
			return 1;
		}
		while ((de = readdir(d))) {
			const char *p = de->d_name;
			uint64_t pid;
			struct stat st;
			struct stat_answer a;
			int fd;

			if (parse_u64(&p, 4194304, &pid) || strcmp(p, ".sock") || !pid)
				continue;
			if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
			    !S_ISSOCK(st.st_mode))
				continue;
			if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
				fprintf(stderr, "numashadow: stat: %s/%s is not yours alone "
					"(uid %ld, mode %04o); skipped\n", dir, de->d_name,
					(long)st.st_uid, (unsigned)(st.st_mode & 07777));
				continue;
			}
			if (kill((pid_t)pid, 0) && errno == ESRCH)
				continue;	/* a dead process's socket */
			fd = ctl_connect_name("stat", dir, de->d_name, (long)pid);
			if (fd < 0)
				continue;	/* stale, or said why */
			if (stat_fetch_fd("stat", fd, (long)pid, 1, &a))
				continue;
			if (n == cap) {
				struct stat_proc *nv = realloc(v, (cap = cap ? 2 * cap : 16) *
								  sizeof(*v));
				if (!nv) {
					stat_answer_free(&a);
					break;
				}
				v = nv;
			}
			v[n].pid = (long)pid;
			if (stat_summarize("stat", &a, &v[n].sum) == 0) {
				comm_read((long)pid, v[n].comm, sizeof(v[n].comm));
				nodes |= v[n].sum.online;
				n++;
			}
			stat_answer_free(&a);
		}
		closedir(d);
		close(dfd);
	}
	qsort(v, n, sizeof(*v), stat_proc_cmp);
	if (json) {
		for (size_t i = 0; i < n; i++) {
			printf("{\"pid\":%ld,\"command\":", v[i].pid);
			json_str(stdout, v[i].comm, strlen(v[i].comm));
			printf(",\"nodes\":");
			json_sum_nodes(stdout, &v[i].sum);
			printf(",\"pages\":%" PRIu64 "}\n", v[i].sum.total);
		}
		free(v);
		return 0;
	}
	printf("%8s %-16s", "pid", "command");
	for (int k = 0; k < STAT_NODES; k++)
		if (nodes >> k & 1) {
			char label[16];
			snprintf(label, sizeof(label), "node%d", k);
			printf(" %11s", label);
		}
	printf(" %11s\n", "total");
	for (size_t i = 0; i < n; i++) {
		printf("%8ld %-16s", v[i].pid, v[i].comm);
		for (int k = 0; k < STAT_NODES; k++)
			if (nodes >> k & 1)
				printf(" %11" PRIu64, v[i].sum.pages[k]);
		printf(" %11" PRIu64 "\n", v[i].sum.total);
	}
	free(v);
	return 0;
}

/* err, or 1 when what went to stdout did not all get there (a full
 * disk, a closed pipe): a script must not take a cut answer as whole. */
static int stat_out_check(int err)
{
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "numashadow: stat: standard output: %s\n",
			strerror(errno ? errno : EIO));
		return 1;
	}
	return err;
}

/* SECONDS for --interval: 0.001 to 86400 (a day), into *ns. */
static int interval_parse(const char *s, uint64_t *ns)
{
	return parse_seconds(&s, ns) || *s || *ns < 1000000 ||
	       *ns > 86400000000000ULL ? -EINVAL : 0;
}

static int interval_valid(const char *s)
{
	uint64_t ns;

	return interval_parse(s, &ns) == 0;
}

static int cmd_stat(int argc, char **argv)
{
	const char *interval_s = NULL;
	long pid = 0, count = 0;
	int i, m, json = 0, all = 0;
	uint64_t interval_ns = 0;

	for (i = 1; i < argc; i++) {
		if (help_asked(argv[i]))
			return subcommand_help("stat");
		if ((m = pid_option("stat", argc, argv, &i, &pid))) {
			if (m < 0)
				return EXIT_USAGE;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--all") == 0) {
			all = 1;
		} else if ((m = option_checked("stat", "--interval",
					       "seconds from 0.001 to 86400, such as 0.5",
					       interval_valid, argc, argv, &i, &interval_s)) ||
			   (m = option_number("stat", "--count", 1, 1000000000,
					      "a number of lines from 1", argc, argv, &i,
					      &count))) {
			if (m < 0)
				return EXIT_USAGE;
		} else {
			return usage_error("stat", "unknown argument '%s'", argv[i]);
		}
	}
	if (interval_s)
		interval_parse(interval_s, &interval_ns);
	if (all) {
		if (pid)
			return usage_error("stat", "--all and --pid exclude each other");
		if (interval_s || count)
			return usage_error("stat", "--all takes no --interval or --count");
		return stat_out_check(stat_all(json));
	}
	if (!pid)
		return usage_error("stat", "--pid (or --all) is required");
	if (count && !interval_s)
		return usage_error("stat", "--count needs --interval");
	if (interval_s)
		return stat_out_check(stat_interval(pid, (double)interval_ns / 1e9,
						    count, json));
	if (json) {
		struct stat_answer a;
		struct stat_sum sum;
		int err;

		if (stat_fetch("stat", pid, 0, &a))
			return 1;
		err = stat_summarize("stat", &a, &sum);
		if (!err)
			err = stat_json("stat", pid, &a, &sum);
		stat_answer_free(&a);
		return stat_out_check(err);
	}
	return ctl_request("stat", pid, "stat");
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

static int cmd_trace(int argc, char **argv)
{
	struct trace_opts o = { .out = TRACE_TEXT };
	const char *file = NULL;
	int status = file_command_parse("trace", argc, argv, trace_option, &o, &file);

	if (status >= 0)
		return status;
	if (o.modes > 1)
		return usage_error("trace", "--summary, --csv and --svg exclude each other");
	if (o.json && (o.out == TRACE_CSV || o.out == TRACE_SVG))
		return usage_error("trace", "--json goes with the records or --summary, not --csv or --svg");
	if (!file)
		return usage_error("trace", "no trace file given");
	if (o.json)
		o.out = o.out == TRACE_SUMMARY ? TRACE_SUMMARY_JSON : TRACE_JSON;
	return trace_show(file, o.out, o.svg);
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

static int cmd_report(int argc, char **argv)
{
	struct report_opts o = { .format = REPORT_TEXT };
	const char *file = NULL;
	int status = file_command_parse("report", argc, argv, report_option, &o, &file);

	if (status >= 0)
		return status;
	if (!file)
		return usage_error("report", "no trace file given");
	return trace_report(file, o.format, o.out);
}
