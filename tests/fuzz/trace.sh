#!/bin/sh
# fuzz trace: `numashadow trace` (tools/trace.c) on mutated trace files, in
# every output mode, under ASan and UBSan, for a bounded time (lib.sh).
# -close_fd_mask=3: the outputs and the one-line refusals are not shown;
# sanitizer reports are.  Run from the project root.
. tests/fuzz/lib.sh
fuzz_run trace -max_len=4096 -close_fd_mask=3
