/* SPDX-License-Identifier: MIT */
/*
 * quiet: the runtime never writes to the program's standard output.  The
 * helper program chatty (whose output is fixed: it allocates, maps, forks a
 * printing child and runs threads) runs with stdout on a pipe, first with
 * neither LD_PRELOAD nor any NUMASHADOW_ setting, then preloaded as this
 * test is (verify level 1), preloaded at verify level 2, and through
 * `numashadow run` without --verify.  Every preloaded run must produce the
 * same bytes on stdout and the same exit status, including a non-zero one,
 * and must say on stderr that the runtime was active.  With each kind of
 * NUMASHADOW_TEST_CORRUPT (preloading the test build of the library,
 * build/test/, which alone honours it) the run fails, but every line of its
 * stdout must still be one the program prints (a line of the plain run, or
 * chatty's report of its child's status), never one of the runtime's.
 */
#include <fcntl.h>
#include <sys/wait.h>
#include "helpers.h"

#define CHATTY	NS_BUILD_DIR "/tests/progs/chatty"

struct run {
	char out[1 << 16];	/* stdout */
	size_t nout;
	char err[1 << 16];	/* stderr */
	int status;		/* wait status */
};

extern char **environ;

/* environ without LD_PRELOAD and NUMASHADOW_*, plus extra (NULL-ended). */
static char **env_plain(const char *const *extra)
{
	int n = 0, k = 0;
	while (environ[n])
		n++;
	char **e = calloc(n + 8, sizeof(*e));
	t_assert(e);
	for (int i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) &&
		    strncmp(environ[i], "NUMASHADOW_", 11))
			e[k++] = environ[i];
	for (; extra && *extra; extra++)
		e[k++] = (char *)*extra;
	return e;
}

/* This process's own environment, with extra settings overriding. */
static char **env_with(const char *const *extra)
{
	int n = 0, k = 0;
	while (environ[n])
		n++;
	char **e = calloc(n + 8, sizeof(*e));
	t_assert(e);
	for (int i = 0; i < n; i++) {
		int overridden = 0;
		for (const char *const *x = extra; x && *x; x++) {
			size_t len = strchr(*x, '=') - *x + 1;
			overridden |= !strncmp(environ[i], *x, len);
		}
		if (!overridden)
			e[k++] = environ[i];
	}
	for (; extra && *extra; extra++)
		e[k++] = (char *)*extra;
	return e;
}

static void run(char *const argv[], char **envp, struct run *r)
{
	int out[2];
	FILE *err = tmpfile();
	t_assert(err && pipe(out) == 0);
	pid_t pid = fork();
	t_assert(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(fileno(err), 2);
		close(out[0]);
		close(out[1]);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(out[1]);
	r->nout = 0;
	ssize_t n;
	while ((n = read(out[0], r->out + r->nout, sizeof(r->out) - 1 - r->nout)) > 0)
		r->nout += n;
	close(out[0]);
	r->out[r->nout] = 0;
	t_assert(waitpid(pid, &r->status, 0) == pid);
	size_t ne = pread(fileno(err), r->err, sizeof(r->err) - 1, 0);
	r->err[ne == (size_t)-1 ? 0 : ne] = 0;
	fclose(err);
}

static int exit_code(const struct run *r)
{
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128 + WTERMSIG(r->status);
}

static void same_as(const char *what, const struct run *plain, const struct run *r)
{
	if (r->nout != plain->nout || memcmp(r->out, plain->out, plain->nout))
		t_fail("%s: stdout differs from the plain run:\n--- plain\n%s--- %s\n%s",
		       what, plain->out, what, r->out);
	if (exit_code(r) != exit_code(plain))
		t_fail("%s: exit %d, plain run %d; stderr:\n%s", what, exit_code(r),
		       exit_code(plain), r->err);
	if (!strstr(r->err, "chatty: runtime active"))
		t_fail("%s: the runtime was not active; stderr:\n%s", what, r->err);
}

/* Every stdout line of r is one the program prints: a line of the plain
 * run, or its report of how its child ended, which a failing verify in the
 * child changes. */
static int own_lines(const struct run *r, const struct run *plain)
{
	for (const char *l = r->out; *l; ) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l + 1) : strlen(l);
		int found = !strncmp(l, "child exited ", 13);
		for (const char *p = plain->out; !found && *p; ) {
			const char *pn = strchr(p, '\n');
			size_t plen = pn ? (size_t)(pn - p + 1) : strlen(p);
			found = plen == len && !memcmp(p, l, len);
			p += plen;
		}
		if (!found)
			return 0;
		l += len;
	}
	return 1;
}

int main(int argc, char **argv)
{
	(void)argc;
	ns_test_preload(argv);
	static struct run plain, r;
	const char *bin = getenv("NUMASHADOW_BIN");
	if (!bin)
		bin = NS_BUILD_DIR "/numashadow";
	if (!getenv("LD_PRELOAD"))
		t_fail("preloaded, but LD_PRELOAD is not set");

	for (int pass = 0; pass < 2; pass++) {
		/* Twice: once exiting 0, once exiting 3. */
		char *status = pass ? "3" : "0";
		char *const chatty[] = { CHATTY, status, NULL };
		char *const via_cli[] = { (char *)bin, "run", "--", CHATTY, status, NULL };

		run(chatty, env_plain(NULL), &plain);
		if (exit_code(&plain) != atoi(status) || !plain.nout)
			t_fail("plain run: exit %d, %zu bytes; stderr:\n%s", exit_code(&plain),
			       plain.nout, plain.err);
		if (!strstr(plain.err, "chatty: runtime absent"))
			t_fail("plain run: the runtime is loaded; stderr:\n%s", plain.err);

		const char *v1[] = { "NUMASHADOW_VERIFY=1", NULL };
		run(chatty, env_with(v1), &r);
		same_as("preloaded, verify 1", &plain, &r);

		const char *v2[] = { "NUMASHADOW_VERIFY=2", NULL };
		run(chatty, env_with(v2), &r);
		same_as("preloaded, verify 2", &plain, &r);

		run(via_cli, env_plain(NULL), &r);
		same_as("numashadow run", &plain, &r);
	}

	/* A failing verify still writes only to stderr. */
	static const char *kinds[] = { "vma-prot", "vma-bounds", "page-ghost", "mapper" };
	char *const chatty[] = { CHATTY, NULL };
	int fails = 0;
	run(chatty, env_plain(NULL), &plain);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		char corrupt[64];
		snprintf(corrupt, sizeof(corrupt), "NUMASHADOW_TEST_CORRUPT=%s", kinds[k]);
		const char *set[] = { "LD_PRELOAD=" NS_BUILD_DIR "/test/libnumashadow.so",
				      "NUMASHADOW_VERIFY=1", corrupt, NULL };
		run(chatty, env_with(set), &r);
		const char *why = !own_lines(&r, &plain) ?
				  "stdout has a line the program does not print" :
				  strstr(r.out, "numashadow") ? "the runtime wrote to stdout" :
				  !strstr(r.err, "numashadow: verify:") ? "no verify line on stderr" :
				  NULL;
		if (why) {
			fprintf(stderr, "FAIL %s: %s\n--- stdout\n%s--- stderr\n%s\n", corrupt, why,
				r.out, r.err);
			fails++;
		}
	}
	return fails ? T_FAIL : T_PASS;
}
