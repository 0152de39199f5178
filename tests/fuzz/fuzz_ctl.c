/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ctl.c - libFuzzer harness for the control protocol: one request
 * line into ctl_answer() (runtime/ctl.c), as ctl_serve_sync() hands it
 * over after reading the socket.
 *
 * The runtime objects are linked directly, as the unit tests link them
 * (tests/unit/unit.h).  The set-up is the least that makes ctl_answer()
 * serve instead of answering "the process is exiting": a fresh arena, a
 * process record for ourselves as ns_rt.self, ns_rt.pid and ns_rt.ready.
 * The shadow holds one real mapping of ours (FUZZ_PAGES pages, touched)
 * at FUZZ_ADDR, where the seeds (tests/fuzz/seeds/ctl) name it, so `stat`
 * finds pages through /proc/self/pagemap and `migrate` moves them for
 * real with move_pages(2); a range outside it gets "nothing is mapped".
 * What is not set up: the service loop, the socket and its peer check, a
 * trace file; ctl_answer() needs none of them.  tests/fuzz/ctl.sh runs it
 * with no libFuzzer thread (-rss_limit_mb=0): with one program thread a
 * migration does not start the userfaultfd monitor to hold pages.
 *
 * Each answer is checked as the command (tools/ctl_client.c) reads it:
 * not empty, within the answer buffer, whole lines, and either a last
 * line "ok" or a first line "error: ...", never both.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"

size_t ctl_answer(char *req, const char **ans);	/* runtime/ctl.c */

#define FUZZ_PAGES 16
#define FUZZ_ADDR 0x200000000000ULL	/* far from the heap, libraries, stacks */
#define REQ_MAX 255	/* ctl_serve_sync(): char req[256], NUL-terminated */
#define ANS_MAX (256 * 1024)	/* ctl.c's out_buf */

static void die(const char *what)
{
	fprintf(stderr, "fuzz_ctl: %s\n", what);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t len = FUZZ_PAGES * NS_PAGE_SIZE;
	char *mem;

	(void)argc;
	(void)argv;
	if (arena_create() < 0)
		die("arena_create failed");
	ns_rt.pid = getpid();
	ns_rt.self = proc_new(ns_rt.pid, 0);
	if (!ns_rt.self)
		die("proc_new failed");
	mem = mmap((void *)FUZZ_ADDR, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (mem == MAP_FAILED)
		mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap failed");
	memset(mem, 0x5a, len);
	if (vma_map(ns_rt.self, (uint64_t)mem, (uint64_t)mem + len,
		    PROT_READ | PROT_WRITE, 0, 0, (uint64_t)mem >> NS_PAGE_SHIFT))
		die("vma_map failed");
	ns_rt.ready = 1;
	return 0;
}

static int starts(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && !memcmp(s, prefix, k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char req[REQ_MAX + 1];
	const char *ans;
	size_t n = size < REQ_MAX ? size : REQ_MAX, len;
	int ok;

	memcpy(req, data, n);
	req[n] = 0;
	len = ctl_answer(req, &ans);
	if (!len || len > ANS_MAX || ans[len - 1] != '\n')
		die("answer empty, too long or not whole lines");
	/* The command takes a last line "ok" for success: an error must not
	 * end so, and an answer that does not must say why. */
	ok = len == 3 ? starts(ans, len, "ok\n")
		      : len > 3 && starts(ans + len - 4, 4, "\nok\n");
	if (starts(ans, len, "error: ") == ok)
		die("answer must either end with a line 'ok' or start with 'error: '");
	return 0;
}
