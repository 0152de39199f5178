/* SPDX-License-Identifier: MIT */
/*
 * fuzz_trace.c - libFuzzer harness for `numashadow trace` (tools/trace.c):
 * each input is a whole trace file, read in every output mode and by
 * `numashadow report` (trace_report(): text, JSON and HTML).
 *
 * The input goes into a memfd, and trace_show() reads it by the name
 * /proc/self/fd/N, as it reads any file: stat, open, pread.  Text and CSV
 * go to stdout and the SVG to /dev/null; run with -close_fd_mask=3 to
 * silence stdout and the one line per refused file on stderr (sanitizer
 * reports still show).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "trace.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		fd = memfd_create("fuzz-trace", MFD_CLOEXEC);
		if (fd < 0) {
			perror("fuzz_trace: memfd_create");
			abort();
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
		perror("fuzz_trace: writing the memfd");
		abort();
	}
	trace_show(path, TRACE_SUMMARY, NULL);
	trace_show(path, TRACE_TEXT, NULL);
	trace_show(path, TRACE_CSV, NULL);
	trace_show(path, TRACE_SVG, "/dev/null");
	trace_show(path, TRACE_JSON, NULL);
	trace_show(path, TRACE_SUMMARY_JSON, NULL);
	trace_report(path, REPORT_TEXT, NULL);
	trace_report(path, REPORT_JSON, NULL);
	trace_report(path, REPORT_HTML, NULL);
	return 0;
}
