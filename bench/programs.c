/* SPDX-License-Identifier: MIT */
/*
 * programs: what the preload costs real programs from Debian packages, as
 * the ratio of a workload's wall time under LD_PRELOAD=libnumashadow.so to
 * the same workload run plainly, in the same invocation.
 *
 * Cases (each a workload of real processes, timed from the driver's fork
 * to its wait):
 *   fork_loop        this program re-exec'd: 10,000 x fork + _exit + waitpid
 *   sh_true          /bin/sh -c 'while ...' starting /bin/true 200 times
 *   py_subprocess    python3: subprocess.run(["/bin/true"]) 50 times
 *   py_threads_fork  python3: 4 threads allocating while a fork()ed
 *                    multiprocessing pool of 3 maps 16 tasks
 *   make_j2          make -B -j2 of a generated project of 20 .c files + main
 *   git              git init, add, commit, gc, clone --no-local (5 commands)
 *   sqlite           sqlite3 CLI, PRAGMA mmap_size: inserts + queries on a
 *                    generated database of 50,000 rows
 *   fork_1g          this program re-exec'd: writes 1 GiB, forks once, waits
 *
 * Every child gets the caller's environment without LD_PRELOAD and every
 * NUMASHADOW_* variable, with PATH=/usr/bin:/bin (and, for git, a fixed
 * identity and no user or system config); the preloaded side adds only
 * LD_PRELOAD=<canonical path of build/libnumashadow.so>.  Each case: one
 * untimed warm-up pair, then REPS pairs whose order alternates (plain
 * first in even pairs, preloaded first in odd ones).  Reported: the
 * median wall time of each side and the median of the per-pair ratios.
 *
 * No ratio without the runtime: the driver first runs itself preloaded
 * (--probe: the library in /proc/self/maps, dlsym(RTLD_DEFAULT,
 * "numashadow_page_node") found, and it answers for a written page), and
 * before and after each case runs that case's program preloaded so that it
 * prints its own /proc/PID/maps, which must map both the program and the
 * library.  A case whose program is missing is skipped with a note.
 *
 * Then "the shadow's bytes per resident page", with one mapper and with
 * two: a preloaded child writes 64 MiB (shadow1: and no more), forks once
 * (shadow), both call numashadow_verify() (with no setting the
 * runtime learns nothing until asked; a check learns every page), and
 * while its child is alive it reads its own smaps:
 * the Rss of the arena mapping (the memfd named "numashadow-arena") over
 * the resident pages of everything else it maps.
 *
 * Times are reported, never judged: exit 0, or 1 when it cannot measure
 * (library missing or not loaded, a child failed).
 *
 *   programs [--reps N] [--case NAME]...    drive (default: every case, N=7)
 *   programs --child fork_loop COUNT | fork_1g MIB | shadow MIB | shadow1 MIB
 *   programs --probe
 */
#include <ftw.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "bench.h"

#define WHO		"programs"
#define DEFAULT_REPS	7
#define MAX_REPS	101
#define RUN_TIMEOUT	600	/* s per run; the slowest takes a few s */
#define SHADOW_MIB	"64"
#define SHADOW_REPS	3
#define FORK_LOOP_N	"10000"
#define FORK_BIG_MIB	"1024"
/* How the arena's memfd shows in maps ("/memfd:numashadow-arena (deleted)",
 * runtime/arena.c); the library's own mappings also contain "numashadow". */
#define ARENA_NAME	"/memfd:numashadow"

static long pg;

/* snprintf that cuts silently: paths and notes here are short. */
__attribute__((format(printf, 3, 4)))
static void fmt(char *buf, size_t n, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, n, f, ap);
	va_end(ap);
}

/* ---- the children ---- */

/* fork + _exit + waitpid, count times. */
static int child_fork_loop(long count)
{
	for (long i = 0; i < count; i++) {
		int st;
		pid_t p = fork();
		if (p < 0)
			return perror("fork_loop: fork"), 1;
		if (p == 0)
			_exit(0);
		if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			return fprintf(stderr, "fork_loop: child %ld failed\n", i), 1;
	}
	return 0;
}

/* mib MiB of private anonymous memory, every 4 KiB page written (no huge
 * pages, so both sides have the same number of pages); NULL on failure. */
static char *written(long mib)
{
	size_t len = (size_t)mib << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_NOHUGEPAGE);
	for (size_t off = 0; off < len; off += (size_t)pg)
		p[off] = (char)(off / (size_t)pg) | 1;
	return p;
}

/* Writes mib MiB, forks once; the child checks a page and exits. */
static int child_fork_big(long mib)
{
	char *p = written(mib);
	int st;

	if (!p)
		return perror("fork_1g: mmap"), 1;
	pid_t c = fork();
	if (c < 0)
		return perror("fork_1g: fork"), 1;
	if (c == 0)
		_exit(p[(size_t)pg * 7] == (7 | 1) ? 0 : 1);
	if (waitpid(c, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return fprintf(stderr, "fork_1g: child failed\n"), 1;
	return 0;
}

/* Writes mib MiB, forks once (mappers 2; 1: no fork), and while the child
 * lives prints, from its own smaps: "arena_kb=A resident_kb=R buffer_kb=B alloc_kb=F".  A is the
 * Rss of the arena mapping, R the Rss of every other mapping, B the
 * buffer's Rss, F the blocks the arena's memfd has allocated (stat of
 * /proc/self/map_files/..., -1 if unreadable).  Refuses (exit 2) when
 * the runtime is not loaded here. */
static int child_shadow(long mib, int mappers, const char *lib)
{
	char *p, buf[1];
	int up[2], down[2], st;

	if (!bench_self_loaded(lib, "numashadow_page_node")) {
		fprintf(stderr, "shadow: %s is not loaded in this process\n", lib);
		return 2;
	}
	/* With no setting the runtime learns nothing until asked: both
	 * processes ask (a whole check learns every page), so the arena
	 * holds what a shadow of both costs. */
	int (*verify)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "numashadow_verify");
	if (!verify)
		return fprintf(stderr, "shadow: no numashadow_verify\n"), 1;
	if (!(p = written(mib)))
		return perror("shadow: mmap"), 1;
	if (pipe(up) || pipe(down))
		return perror("shadow: pipe"), 1;
	pid_t c = mappers > 1 ? fork() : 1;	/* 1: no child */
	if (c < 0)
		return perror("shadow: fork"), 1;
	if (c == 0) {
		close(up[0]);
		close(down[1]);
		/* Ready once its pages are learned.  Then wait for EOF. */
		if (verify() != 0 || write(up[1], "r", 1) != 1)
			_exit(1);
		while (read(down[0], buf, 1) > 0)
			;
		_exit(p[pg] == (1 | 1) ? 0 : 1);
	}
	close(up[1]);
	close(down[0]);
	if (c > 1 && read(up[0], buf, 1) != 1)
		return fprintf(stderr, "shadow: child did not start\n"), 1;
	if (verify() != 0)
		return fprintf(stderr, "shadow: numashadow_verify() found differences\n"), 1;

	char *smaps = bench_read_file("/proc/self/smaps");
	if (!smaps)
		return perror("shadow: /proc/self/smaps"), 1;
	long arena = bench_smaps_rss_kb(smaps, ARENA_NAME, 0);
	long rest = bench_smaps_rss_kb(smaps, ARENA_NAME, 1);
	char range[64];
	fmt(range, sizeof(range), "%lx-", (unsigned long)p);
	long buffer = -1, alloc = -1;
	/* The buffer's own Rss; and the arena's range for map_files. */
	for (char *l = smaps; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l) {
		if (!strncmp(l, range, strlen(range))) {
			char *rss = strstr(l, "\nRss:");
			if (rss)
				buffer = strtol(rss + 5, NULL, 10);
		}
		char *eol = strchr(l, '\n');
		char *name = strstr(l, ARENA_NAME);
		if (name && (!eol || name < eol)) {
			char path[128];
			unsigned long a, b;
			struct stat sb;
			if (sscanf(l, "%lx-%lx", &a, &b) == 2) {
				fmt(path, sizeof(path), "/proc/self/map_files/%lx-%lx", a, b);
				if (!stat(path, &sb))
					alloc = (long)(sb.st_blocks / 2);
			}
		}
	}
	free(smaps);
	close(down[1]);
	if (c > 1 && (waitpid(c, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)))
		return fprintf(stderr, "shadow: child failed\n"), 1;
	if (arena < 0 || rest <= 0)
		return fprintf(stderr, "shadow: no arena mapping in smaps\n"), 1;
	printf("arena_kb=%ld resident_kb=%ld buffer_kb=%ld alloc_kb=%ld\n", arena,
	       rest, buffer, alloc);
	return 0;
}

/* --probe: this process's maps, then "numashadow_page_node: N" when
 * dlsym finds it (N: its answer for a page just written). */
static int probe(void)
{
	char *maps = bench_read_file("/proc/self/maps");
	static volatile char page[1 << 13];
	int (*node)(const void *) =
		(int (*)(const void *))dlsym(RTLD_DEFAULT, "numashadow_page_node");

	if (!maps)
		return 1;
	fputs(maps, stdout);
	free(maps);
	page[4096] = 1;
	if (node)
		printf("numashadow_page_node: %d\n", node((const void *)&page[4096]));
	return 0;
}

/* ---- the cases ---- */

struct pcase {
	const char *name;
	const char *prog;	/* must exist (NULL: this program) */
	const char *what;	/* for the table */
	int (*setup)(const char *dir);	/* untimed, once, plainly */
	int (*reset)(const char *dir);	/* untimed, before every run */
	const char *const *cmds[6];	/* run in turn, timed together */
	const char *in;		/* stdin, relative to dir (NULL: /dev/null) */
	const char *const *probe;	/* prints the program's maps, preloaded */
	const char *const *env;	/* extra variables for both sides */
	int probe_dlsym;	/* the probe prints "numashadow_page_node: N" */
};

/* "@SELF" in an argv stands for this program. */
#define SELF "@SELF"

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	fmt(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		fprintf(stderr, WHO ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int rm_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path) && errno != ENOENT ? -1 : 0;
}

/* rm -rf dir/name */
static int rm_rf(const char *dir, const char *name)
{
	char path[PATH_MAX];
	fmt(path, sizeof(path), "%s/%s", dir, name);
	if (access(path, F_OK))
		return 0;
	return nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS) ? -1 : 0;
}

#define MAKE_FILES 20

static int setup_make(const char *dir)
{
	char name[32], text[2048], objs[MAKE_FILES * 8 + 16] = "";

	for (int i = 0; i < MAKE_FILES; i++) {
		fmt(name, sizeof(name), "f%02d.c", i);
		fmt(text, sizeof(text),
			 "#include <string.h>\n"
			 "struct rec%d { int k; char v[24]; };\n"
			 "static int cmp(const void *a, const void *b)\n"
			 "{ return ((const struct rec%d *)a)->k - ((const struct rec%d *)b)->k; }\n"
			 "int f%02d(int n)\n{\n\tstruct rec%d r[64];\n\tint s = 0;\n"
			 "\tfor (int i = 0; i < 64; i++) { r[i].k = (i * %d + n) %% 97;"
			 " memset(r[i].v, i, sizeof(r[i].v)); }\n"
			 "\tfor (int i = 0; i < 64; i++) s += cmp(&r[i], &r[(i + 1) %% 64]) + r[i].v[3];\n"
			 "\treturn s;\n}\n", i, i, i, i, i, 31 + i);
		if (write_file(dir, name, text))
			return -1;
		fmt(name, sizeof(name), " f%02d.o", i);
		strcat(objs, name);
	}
	char main_c[4096] = "#include <stdio.h>\n";
	for (int i = 0; i < MAKE_FILES; i++) {
		fmt(text, sizeof(text), "int f%02d(int);\n", i);
		strcat(main_c, text);
	}
	strcat(main_c, "int main(void)\n{\n\tint s = 0;\n");
	for (int i = 0; i < MAKE_FILES; i++) {
		fmt(text, sizeof(text), "\ts += f%02d(%d);\n", i, i);
		strcat(main_c, text);
	}
	strcat(main_c, "\tprintf(\"%d\\n\", s);\n\treturn 0;\n}\n");
	if (write_file(dir, "main.c", main_c))
		return -1;
	fmt(text, sizeof(text),
		 "CC = /usr/bin/gcc\nCFLAGS = -O1 -g\nOBJS =%s main.o\n"
		 "prog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n"
		 "%%.o: %%.c\n\t$(CC) $(CFLAGS) -c $< -o $@\n", objs);
	if (write_file(dir, "Makefile", text))
		return -1;
	return write_file(dir, "probe.mk", "probe:\n\t@cat /proc/$$PPID/maps\n");
}

#define GIT_FILES 100

static int setup_git(const char *dir)
{
	char path[PATH_MAX], name[64], text[4096];

	fmt(path, sizeof(path), "%s/work", dir);
	if (mkdir(path, 0755) && errno != EEXIST)
		return perror(path), -1;
	for (int i = 0; i < GIT_FILES; i++) {
		int n = 0;
		fmt(name, sizeof(name), "work/file%03d.txt", i);
		for (int l = 0; l < 40 && n < (int)sizeof(text) - 80; l++)
			n += snprintf(text + n, sizeof(text) - (size_t)n,
				      "file %d line %d: %08x %08x\n", i, l,
				      (unsigned)(i * 2654435761u + (unsigned)l),
				      (unsigned)(l * 40503u ^ (unsigned)i));
		if (write_file(dir, name, text))
			return -1;
	}
	return 0;
}

static int reset_git(const char *dir)
{
	return rm_rf(dir, "work/.git") || rm_rf(dir, "clone") ? -1 : 0;
}

#define SQL_ROWS "50000"

static int setup_sqlite(const char *dir)
{
	/* The base database, made plainly, once; every run works on a copy. */
	if (write_file(dir, "make.sql",
		       "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);\n"
		       "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
		       " WHERE x < " SQL_ROWS ")\n"
		       "INSERT INTO t(k, v) SELECT (x * 7919) % 1000,"
		       " printf('%032x%032x', x * 2654435761, x * 40503) FROM c;\n"
		       "CREATE INDEX t_k ON t(k);\n") ||
	    write_file(dir, "run.sql",
		       "PRAGMA mmap_size = 268435456;\n"
		       "BEGIN;\n"
		       "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
		       " WHERE x < 20000)\n"
		       "INSERT INTO t(k, v) SELECT (x * 104729) % 1000,"
		       " printf('%032x', x * 2246822519) FROM c;\n"
		       "COMMIT;\n"
		       "SELECT count(*), sum(length(v)) FROM t;\n"
		       "SELECT k, count(*) FROM t GROUP BY k ORDER BY 2 DESC, 1 LIMIT 5;\n"
		       "SELECT sum(id) FROM t WHERE k BETWEEN 100 AND 200;\n"
		       "SELECT count(*) FROM t WHERE v LIKE '%abc%';\n"
		       "SELECT max(length(v)), min(id) FROM t WHERE k = 7;\n"
		       "SELECT count(*) FROM t a JOIN t b ON a.id = b.id + 1 WHERE a.k < 50;\n"
		       "UPDATE t SET v = upper(v) WHERE k % 10 = 3;\n"
		       "SELECT count(*) FROM t WHERE v GLOB '*ABC*';\n"))
		return -1;
	char db[PATH_MAX], sql[PATH_MAX];
	fmt(db, sizeof(db), "%s/base.db", dir);
	fmt(sql, sizeof(sql), "%s/make.sql", dir);
	char *argv[] = { "/usr/bin/sqlite3", db, NULL };
	char **env = bench_env(NULL);
	uint64_t ns;
	int st = env ? bench_run_timed(WHO, argv, env, dir, sql, -1, RUN_TIMEOUT, &ns) : -1;
	free(env);
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, WHO ": sqlite: could not make the base database\n");
		return -1;
	}
	return 0;
}

static int reset_sqlite(const char *dir)
{
	char from[PATH_MAX], to[PATH_MAX], buf[1 << 16];
	ssize_t n;

	fmt(from, sizeof(from), "%s/base.db", dir);
	fmt(to, sizeof(to), "%s/run.db", dir);
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int err = in < 0 || out < 0;
	while (!err && (n = read(in, buf, sizeof(buf))) > 0)
		err = write(out, buf, (size_t)n) != n;
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out))
		err = 1;
	if (err)
		fprintf(stderr, WHO ": sqlite: copy of base.db: %s\n", strerror(errno));
	return err ? -1 : 0;
}

#define A(...) (const char *const[]){ __VA_ARGS__, NULL }

static const char py_threads_fork[] =
	"import threading, multiprocessing as mp\n"
	"def work(seed):\n"
	"    acc = 0\n"
	"    for i in range(40):\n"
	"        blob = bytearray(256 * 1024)  # above malloc's mmap threshold\n"
	"        blob[::4096] = b'x' * len(blob[::4096])\n"
	"        d = {j: str(j * seed) for j in range(3000)}\n"
	"        acc += len(d) + blob.count(b'x')\n"
	"    return acc\n"
	"res = []\n"
	"ts = [threading.Thread(target=lambda k=k: res.append(work(k))) for k in range(4)]\n"
	"for t in ts: t.start()\n"
	"with mp.get_context('fork').Pool(3) as pool:\n"
	"    out = pool.map(work, range(16))\n"
	"for t in ts: t.join()\n"
	"assert len(res) == 4 and len(out) == 16\n";

static const char *const git_env[] = {
	"GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@localhost",
	"GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@localhost",
	"GIT_AUTHOR_DATE=2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2024-01-01T00:00:00Z",
	"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
	"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=init.defaultBranch",
	"GIT_CONFIG_VALUE_0=main", NULL
};

static const struct pcase cases[] = {
	{ "fork_loop", NULL, "10000 x fork+_exit+waitpid", NULL, NULL,
	  { A(SELF, "--child", "fork_loop", FORK_LOOP_N) }, NULL,
	  A(SELF, "--probe"), NULL, 1 },
	{ "sh_true", "/bin/sh", "sh -c loop: /bin/true x200", NULL, NULL,
	  { A("/bin/sh", "-c",
	      "i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i + 1)); done") },
	  NULL, A("/bin/sh", "-c", "cat /proc/$$/maps"), NULL, 0 },
	{ "py_subprocess", "/usr/bin/python3", "subprocess.run(true) x50", NULL, NULL,
	  { A("/usr/bin/python3", "-c",
	      "import subprocess\n"
	      "for _ in range(50):\n"
	      "    subprocess.run(['/bin/true'], check=True)\n") },
	  NULL, A("/usr/bin/python3", "-c",
		  "import ctypes, sys\n"
		  "sys.stdout.write(open('/proc/self/maps').read())\n"
		  "f = ctypes.CDLL(None).numashadow_page_node\n"
		  "f.restype, f.argtypes = ctypes.c_int, [ctypes.c_void_p]\n"
		  "b = ctypes.create_string_buffer(b'x' * 8192)\n"
		  "print('numashadow_page_node:', f(ctypes.addressof(b) + 4096))\n"),
	  NULL, 1 },
	{ "py_threads_fork", "/usr/bin/python3", "4 threads + fork pool of 3",
	  NULL, NULL, { A("/usr/bin/python3", "-c", py_threads_fork) }, NULL,
	  A("/usr/bin/python3", "-c",
	    "import sys; sys.stdout.write(open('/proc/self/maps').read())"), NULL, 0 },
	{ "make_j2", "/usr/bin/make", "make -B -j2, 21 .c files", setup_make, NULL,
	  { A("/usr/bin/make", "-s", "-B", "-j2") }, NULL,
	  A("/usr/bin/make", "-s", "-f", "probe.mk"), NULL, 0 },
	{ "git", "/usr/bin/git", "init, add, commit, gc, clone", setup_git, reset_git,
	  { A("/usr/bin/git", "init", "-q", "work"),
	    A("/usr/bin/git", "-C", "work", "add", "-A"),
	    A("/usr/bin/git", "-C", "work", "commit", "-q", "-m", "bench"),
	    A("/usr/bin/git", "-C", "work", "gc", "-q"),
	    A("/usr/bin/git", "clone", "-q", "--no-local", "work", "clone") },
	  NULL, A("/usr/bin/git", "-c", "alias.nsprobe=!cat /proc/$PPID/maps", "nsprobe"),
	  git_env, 0 },
	{ "sqlite", "/usr/bin/sqlite3", "mmap_size, 20k inserts, queries",
	  setup_sqlite, reset_sqlite, { A("/usr/bin/sqlite3", "run.db") }, "run.sql",
	  A("/usr/bin/sqlite3", ":memory:", ".shell cat /proc/$PPID/maps"), NULL, 0 },
	{ "fork_1g", NULL, "write 1 GiB, fork once, wait", NULL, NULL,
	  { A(SELF, "--child", "fork_1g", FORK_BIG_MIB) }, NULL,
	  A(SELF, "--probe"), NULL, 1 },
};
#define NR_CASES (sizeof(cases) / sizeof(*cases))

/* ---- the driver ---- */

static char self[PATH_MAX], lib[PATH_MAX], tmpdir[PATH_MAX];

/* argv with "@SELF" replaced; in a static array. */
static char *const *fill(const char *const *argv)
{
	static char *out[16];
	int i;

	for (i = 0; argv[i] && i < 15; i++)
		out[i] = !strcmp(argv[i], SELF) ? self : (char *)argv[i];
	out[i] = NULL;
	return out;
}

/* The environment of one side: the caller's, less LD_PRELOAD, every
 * NUMASHADOW_* and PATH, plus PATH=/usr/bin:/bin, the case's extra and,
 * with preload, LD_PRELOAD=lib. */
static char *settings[8];	/* --setting: NUMASHADOW_* for the preloaded side */
static int nsettings;
static char setting_tag[256];	/* "+" and the settings, for the JSON case names */

static char **side_env(const struct pcase *c, int preload)
{
	static char ld[PATH_MAX + 16];
	char *extra[40];
	int n = 0;

	fmt(ld, sizeof(ld), "LD_PRELOAD=%s", lib);
	extra[n++] = "PATH=/usr/bin:/bin";
	for (int i = 0; c && c->env && c->env[i] && n < 30; i++)
		extra[n++] = (char *)c->env[i];
	if (preload) {
		extra[n++] = ld;
		for (int i = 0; i < nsettings; i++)
			extra[n++] = settings[i];
	}
	extra[n] = NULL;
	char **env = bench_env(extra);
	if (!env)
		return NULL;
	/* Drop the caller's PATH; ours comes later in the array. */
	size_t k = 0;
	for (size_t i = 0; env[i]; i++)
		if (strncmp(env[i], "PATH=", 5) || env[i] == extra[0])
			env[k++] = env[i];
	env[k] = NULL;
	return env;
}

/* Runs the probe of c (preloaded) in dir; 1 when its output maps both
 * the program and the library (and, for --probe, the runtime answered),
 * else 0 with the reason in why. */
static int probe_case(const struct pcase *c, const char *dir, char **env,
		      char *why, size_t n)
{
	static char out[1 << 20];
	char prog[PATH_MAX];
	char *const *argv = fill(c->probe);

	if (!realpath(argv[0], prog)) {
		fmt(why, n, "%s: %s", argv[0], strerror(errno));
		return 0;
	}
	pid_t pid;
	int fds[2], st;
	if (pipe(fds))
		return fmt(why, n, "pipe: %s", strerror(errno)), 0;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(fds[1], STDOUT_FILENO);
		dup2(null, STDIN_FILENO);
		dup2(null, STDERR_FILENO);
		close(fds[0]);
		close(fds[1]);
		if (chdir(dir))
			_exit(126);
		alarm(60);
		execve(argv[0], argv, env);
		_exit(127);
	}
	close(fds[1]);
	size_t got = 0;
	ssize_t r;
	while (got < sizeof(out) - 1 &&
	       ((r = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0 ||
		(r < 0 && errno == EINTR)))
		if (r > 0)
			got += (size_t)r;
	out[got] = 0;
	close(fds[0]);
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fmt(why, n, "probe `%s ...` failed", argv[0]);
		return 0;
	}
	if (!bench_maps_has(out, prog)) {
		fmt(why, n, "probe printed no maps of %s", prog);
		return 0;
	}
	if (!bench_maps_has(out, lib)) {
		fmt(why, n, "%s is not loaded in %s", lib, prog);
		return 0;
	}
	/* Probes that print "numashadow_page_node: N" looked the symbol up
	 * with dlsym(RTLD_DEFAULT) and asked it about a written page. */
	char *dl = strstr(out, "numashadow_page_node: ");
	if (c->probe_dlsym && !dl) {
		fmt(why, n, "dlsym(numashadow_page_node) failed in %s", prog);
		return 0;
	}
	if (c->probe_dlsym && atoi(dl + 22) < 0) {
		fmt(why, n, "numashadow_page_node() = %d in %s: runtime not active",
			 atoi(dl + 22), prog);
		return 0;
	}
	return 1;
}

/* What the runtime said on a preloaded side's stderr: lines starting
 * "numashadow:", counted; the first kept. */
struct said {
	long lines;
	char first[256];
};

static void scan_stderr(int fd, struct said *s)
{
	char line[4096];
	FILE *f;
	int dup_fd = dup(fd);

	if (dup_fd < 0 || lseek(dup_fd, 0, SEEK_SET) < 0 || !(f = fdopen(dup_fd, "r"))) {
		if (dup_fd >= 0)
			close(dup_fd);
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "numashadow:", 11)) {
			if (!s->lines++) {
				line[strcspn(line, "\n")] = 0;
				fmt(s->first, sizeof(s->first), "%s", line);
			}
		}
	fclose(f);
}

/* The last lines of a failed run's stderr, to stderr. */
static void show_stderr(int fd)
{
	char buf[2048];
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);
	if (n > 0) {
		buf[n] = 0;
		fprintf(stderr, "%s%s", buf, buf[n - 1] == '\n' ? "" : "\n");
	}
}

/* One timed run of c: reset, then every command in turn.  0 with *ns, or
 * -1 after saying why. */
static int run_case(const struct pcase *c, const char *dir, char **env, int errfd,
		    int preload, struct said *said, double *ms)
{
	char in[PATH_MAX];
	uint64_t total = 0, ns;

	if (c->reset && c->reset(dir))
		return -1;
	if (ftruncate(errfd, 0) || lseek(errfd, 0, SEEK_SET) < 0)
		return perror(WHO ": stderr file"), -1;
	if (c->in)
		fmt(in, sizeof(in), "%s/%s", dir, c->in);
	for (int i = 0; i < 6 && c->cmds[i]; i++) {
		char *const *argv = fill(c->cmds[i]);
		int st = bench_run_timed(WHO, argv, env, dir, c->in ? in : NULL, errfd,
					 RUN_TIMEOUT, &ns);
		if (st < 0)
			return -1;
		total += ns;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, WHO ": %s%s: `%s` failed (%s %d); its stderr ends:\n",
				c->name, preload ? " (preloaded)" : "", argv[0],
				WIFEXITED(st) ? "exit" : "signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			show_stderr(errfd);
			return -1;
		}
	}
	if (preload)
		scan_stderr(errfd, said);
	*ms = (double)total / 1e6;
	return 0;
}

struct result {
	enum { ST_NONE, ST_SKIP, ST_OK, ST_FAIL, ST_NOTLOADED } state;
	char note[512];
	double plain, preload, ratio, rmin, rmax;
	struct said said;
};

static int measure(const struct pcase *c, int reps, struct result *res)
{
	char dir[PATH_MAX], why[512];
	double t[2][MAX_REPS], r[MAX_REPS];

	if (c->prog && access(c->prog, X_OK)) {
		res->state = ST_SKIP;
		fmt(res->note, sizeof(res->note), "skipped: %s: %s", c->prog,
			 strerror(errno));
		return 0;
	}
	fmt(dir, sizeof(dir), "%s/%s", tmpdir, c->name);
	if (mkdir(dir, 0755))
		return perror(dir), -1;
	char **env[2] = { side_env(c, 0), side_env(c, 1) };
	if (!env[0] || !env[1])
		return perror(WHO), -1;
	if (c->setup && c->setup(dir))
		return -1;
	if (!probe_case(c, dir, env[1], why, sizeof(why))) {
		res->state = ST_NOTLOADED;
		fmt(res->note, sizeof(res->note), "no ratio: %s", why);
		return -1;
	}
	char errpath[PATH_MAX];
	fmt(errpath, sizeof(errpath), "%s/stderr", tmpdir);
	int errfd = open(errpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (errfd < 0)
		return perror(errpath), -1;
	struct said scratch = { 0 };
	double ms;
	int err = 0;
	fprintf(stderr, WHO ": %s:", c->name);
	/* Warm-up pair: page cache, the dynamic linker's caches. */
	err = run_case(c, dir, env[0], errfd, 0, &scratch, &ms) ||
	      run_case(c, dir, env[1], errfd, 1, &scratch, &ms);
	for (int rep = 0; rep < reps && !err; rep++) {
		for (int k = 0; k < 2 && !err; k++) {
			int side = (k + rep) % 2;
			err = run_case(c, dir, env[side], errfd, side, &res->said,
				       &t[side][rep]);
		}
		if (!err) {
			r[rep] = t[1][rep] / t[0][rep];
			fprintf(stderr, " %.2f", r[rep]);
		}
	}
	fprintf(stderr, "\n");
	close(errfd);
	free(env[0]);
	free(env[1]);
	if (err) {
		res->state = ST_FAIL;
		fmt(res->note, sizeof(res->note), "failed: a run did not complete");
		return -1;
	}
	if (!probe_case(c, dir, env[1] = side_env(c, 1), why, sizeof(why))) {
		free(env[1]);
		res->state = ST_NOTLOADED;
		fmt(res->note, sizeof(res->note), "no ratio: after the runs, %s", why);
		return -1;
	}
	free(env[1]);
	res->plain = bench_median(t[0], reps);
	res->preload = bench_median(t[1], reps);
	res->ratio = bench_median(r, reps);	/* sorts r */
	res->rmin = r[0];
	res->rmax = r[reps - 1];
	res->state = ST_OK;
	rm_rf(tmpdir, c->name);
	return 0;
}

/* The shadow's bytes per resident page: SHADOW_REPS preloaded runs of
 * --child shadow; medians.  0, or -1 after saying why. */
static int shadow_bytes(int mappers, double *per_page, double *alloc_per_page,
			long *pages, long *arena_kb, long *alloc_kb)
{
	char *argv[] = { self, "--child", mappers > 1 ? "shadow" : "shadow1",
			 SHADOW_MIB, NULL };
	double v[SHADOW_REPS], a[SHADOW_REPS], p[SHADOW_REPS], ak[SHADOW_REPS],
		fk[SHADOW_REPS];
	char out[256];
	char **env = side_env(NULL, 1);
	int have_alloc = 1;

	if (!env)
		return perror(WHO), -1;
	for (int i = 0; i < SHADOW_REPS; i++) {
		long arena, rest, buffer, alloc;
		int st = bench_run(WHO, argv, env, RUN_TIMEOUT, out, sizeof(out));
		if (st < 0)
			return free(env), -1;
		if (!WIFEXITED(st) || WEXITSTATUS(st) ||
		    sscanf(out, "arena_kb=%ld resident_kb=%ld buffer_kb=%ld alloc_kb=%ld",
			   &arena, &rest, &buffer, &alloc) != 4) {
			fprintf(stderr, WHO ": shadow: child failed (%s %d)%s\n",
				WIFEXITED(st) ? "exit" : "signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
				WIFEXITED(st) && WEXITSTATUS(st) == 2 ?
				": the runtime is not loaded" : "");
			free(env);
			return -1;
		}
		long npages = rest * 1024 / pg;
		v[i] = (double)arena * 1024 / (double)npages;
		a[i] = (double)alloc * 1024 / (double)npages;
		p[i] = (double)npages;
		ak[i] = (double)arena;
		fk[i] = (double)alloc;
		if (alloc < 0)
			have_alloc = 0;
	}
	free(env);
	*per_page = bench_median(v, SHADOW_REPS);
	*alloc_per_page = have_alloc ? bench_median(a, SHADOW_REPS) : -1;
	*pages = (long)bench_median(p, SHADOW_REPS);
	*arena_kb = (long)bench_median(ak, SHADOW_REPS);
	*alloc_kb = have_alloc ? (long)bench_median(fk, SHADOW_REPS) : -1;
	return 0;
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--reps N] [--case NAME]... [--setting NUMASHADOW_X=V]...\n"
		"       %s --child fork_loop COUNT | fork_1g MIB | shadow MIB | shadow1 MIB\n"
		"       %s --probe\ncases:", argv0, argv0, argv0);
	for (size_t i = 0; i < NR_CASES; i++)
		fprintf(stderr, " %s", cases[i].name);
	fprintf(stderr, " shadow\n");
}

int main(int argc, char **argv)
{
	struct result res[NR_CASES];
	int reps = DEFAULT_REPS, picked = 0, want[NR_CASES + 1] = { 0 }, failed = 0;

	pg = sysconf(_SC_PAGESIZE);
	if (argc == 4 && !strcmp(argv[1], "--child")) {
		long n = strtol(argv[3], NULL, 10);
		if (n <= 0)
			return usage(argv[0]), 1;
		if (!strcmp(argv[2], "fork_loop"))
			return child_fork_loop(n);
		if (!strcmp(argv[2], "fork_1g"))
			return child_fork_big(n);
		if (!strcmp(argv[2], "shadow"))
			return bench_lib_path(WHO, lib) ? 2 : child_shadow(n, 2, lib);
		if (!strcmp(argv[2], "shadow1"))
			return bench_lib_path(WHO, lib) ? 2 : child_shadow(n, 1, lib);
		return usage(argv[0]), 1;
	}
	if (argc == 2 && !strcmp(argv[1], "--probe"))
		return probe();
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
			if (reps < 1 || reps > MAX_REPS)
				return usage(argv[0]), 1;
		} else if (!strcmp(argv[i], "--case") && i + 1 < argc) {
			size_t k;
			i++;
			for (k = 0; k < NR_CASES; k++)
				if (!strcmp(argv[i], cases[k].name))
					break;
			if (k == NR_CASES && strcmp(argv[i], "shadow"))
				return usage(argv[0]), 1;
			want[k] = 1;
			picked = 1;
		} else if (!strcmp(argv[i], "--setting") && i + 1 < argc &&
			   !strncmp(argv[i + 1], "NUMASHADOW_", 11) && strchr(argv[i + 1], '=') &&
			   nsettings < 8) {
			settings[nsettings++] = argv[++i];
			size_t l = strlen(setting_tag);
			snprintf(setting_tag + l, sizeof(setting_tag) - l, "+%s", argv[i]);
		} else {
			return usage(argv[0]), 1;
		}
	}
	if (bench_need_lib(WHO) || bench_lib_path(WHO, lib) ||
	    bench_self(WHO, self, sizeof(self)))
		return 1;

	/* No ratio at all unless the runtime loads and answers in a child. */
	char why[512];
	const struct pcase self_probe = { .name = "probe", .probe = A(SELF, "--probe"),
					   .probe_dlsym = 1 };
	char **penv = side_env(NULL, 1);
	if (!penv || !probe_case(&self_probe, "/", penv, why, sizeof(why))) {
		fprintf(stderr, WHO ": cannot measure: %s\n", penv ? why : strerror(errno));
		return 1;
	}
	free(penv);

	fmt(tmpdir, sizeof(tmpdir), "/tmp/numashadow-bench-programs.XXXXXX");
	if (!mkdtemp(tmpdir))
		return perror(WHO ": mkdtemp"), 1;
	fprintf(stderr, WHO ": %d pairs per case; per-pair ratios as they come:\n", reps);
	memset(res, 0, sizeof(res));
	for (size_t i = 0; i < NR_CASES; i++) {
		if (picked && !want[i])
			continue;
		if (measure(&cases[i], reps, &res[i]) && res[i].state != ST_SKIP) {
			failed = 1;
			if (res[i].state == ST_NONE) {
				res[i].state = ST_FAIL;
				fmt(res[i].note, sizeof(res[i].note), "failed: setup");
			}
		}
	}

	/* [0]: one mapper, [1]: two. */
	double spp[2] = { 0 }, app[2] = { 0 };
	long pages[2] = { 0 }, arena_kb[2] = { 0 }, alloc_kb[2] = { 0 };
	int shadow_ok = 0;
	if (!picked || want[NR_CASES]) {
		shadow_ok = !shadow_bytes(1, &spp[0], &app[0], &pages[0], &arena_kb[0],
					  &alloc_kb[0]) &&
			    !shadow_bytes(2, &spp[1], &app[1], &pages[1], &arena_kb[1],
					  &alloc_kb[1]);
		if (!shadow_ok)
			failed = 1;
	}
	rm_rf(tmpdir, "");

	for (size_t i = 0; i < NR_CASES; i++)
		if (res[i].state == ST_OK) {
			char name[320];
			snprintf(name, sizeof(name), "%s%s", cases[i].name, setting_tag);
			bench_json(WHO, name, res[i].preload, 1, "ms", res[i].plain,
				   res[i].ratio);
		}
	if (shadow_ok) {
		bench_json(WHO, "shadow_bytes_per_page_1mapper", spp[0], 1, "B/page",
			   (double)pg, spp[0] / (double)pg);
		bench_json(WHO, "shadow_bytes_per_page", spp[1], 1, "B/page", (double)pg,
			   spp[1] / (double)pg);
	}

	printf("\n%-16s %-32s %10s %10s %7s %13s\n", "case", "workload", "plain ms",
	       "preload ms", "ratio", "pair ratios");
	for (size_t i = 0; i < NR_CASES; i++) {
		const struct result *r = &res[i];
		if (r->state == ST_NONE)
			continue;
		if (r->state == ST_OK)
			printf("%-16s %-32s %10.1f %10.1f %7.2f %6.2f-%-6.2f\n", cases[i].name,
			       cases[i].what, r->plain, r->preload, r->ratio, r->rmin, r->rmax);
		else
			printf("%-16s %-32s %10s %10s %7s %13s\n", cases[i].name,
			       cases[i].what, "-", "-", "-", "-");
	}
	printf("(%d alternating pairs per case after one warm-up pair; ms are medians"
	       " of each side, ratio the median of the per-pair ratios)\n", reps);
	if (nsettings)
		printf("preloaded side with%s\n", setting_tag);
	for (size_t i = 0; i < NR_CASES; i++) {
		const struct result *r = &res[i];
		if (r->state != ST_NONE && r->state != ST_OK)
			printf("%s: %s\n", cases[i].name, r->note);
		if (r->said.lines)
			printf("%s: the runtime wrote %ld line%s to stderr in the preloaded"
			       " runs; the first: %s\n", cases[i].name, r->said.lines,
			       r->said.lines == 1 ? "" : "s", r->said.first);
	}
	for (int m = 0; shadow_ok && m < 2; m++) {
		printf("%sshadow bytes per resident page, %s: %.1f (arena Rss %ld kB over"
		       " %ld resident pages; %s MiB written%s; median of %d)\n",
		       m ? "" : "\n", m ? "two mappers" : "one mapper", spp[m],
		       arena_kb[m], pages[m], SHADOW_MIB,
		       m ? ", forked once, child alive" : "", SHADOW_REPS);
		if (alloc_kb[m] >= 0)
			printf("  arena memfd allocated: %ld kB, %.1f B per resident page\n",
			       alloc_kb[m], app[m]);
	}
	if (!shadow_ok && (!picked || want[NR_CASES]))
		printf("\nshadow bytes per resident page: not measured (see stderr)\n");
	return failed;
}
