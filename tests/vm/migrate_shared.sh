#!/bin/sh
# tests/vm/migrate_shared.sh - anonymous pages shared after fork move for
# all their mappers when the caller has CAP_SYS_NICE, and are reported as
# failed_shared (and stay, with the shadow saying so) when it has not
# (tests/progs/vm_migrate_shared.c says what is checked).  Runs as root in
# a 2-node guest with automatic NUMA balancing off.  Run from the project
# root after `make check-tests`; fails when qemu is missing.
PROG=build/tests/progs/vm_migrate_shared

. tests/vm_lib.sh
vm_need $PROG

vm_run_verified 2 $PROG
echo "$out" | grep -q "^root: 1024 pages shared by 3 processes moved to node 1" ||
	fail "the part with CAP_SYS_NICE did not report"
echo "$out" | grep -q "^no cap: 256 shared pages stayed on node 0 as failed_shared" ||
	fail "the part without CAP_SYS_NICE did not report"
echo "$out" | grep -q "^vm_migrate_shared: PASS" ||
	fail "the program did not report its checks done"
echo "PASS: shared pages move with CAP_SYS_NICE, are refused without"
