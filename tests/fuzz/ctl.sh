#!/bin/sh
# fuzz ctl: the control protocol's requests (ctl_answer(), runtime/ctl.c)
# under ASan and UBSan, for a bounded time (lib.sh).  A request is at most
# 255 bytes, as the socket reads it.  -rss_limit_mb=0: no libFuzzer
# thread, so the process is single-threaded as the harness's shadow says
# and a migration does not start the userfaultfd monitor.  Run from the
# project root.
. tests/fuzz/lib.sh
fuzz_run ctl -max_len=256 -dict=tests/fuzz/ctl.dict -rss_limit_mb=0
