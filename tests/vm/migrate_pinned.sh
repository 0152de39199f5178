#!/bin/sh
# tests/vm/migrate_pinned.sh - when the kernel cannot move one page of a
# range (a pipe holds it after vmsplice), numashadow_migrate() still reports
# the pages that moved, counts the pinned one as failed, and the shadow
# agrees with the kernel on every page (tests/progs/vm_migrate_pinned.c
# says what is checked).  Runs in a 2-node guest with automatic NUMA
# balancing off.  Run from the project root after `make check-tests`;
# fails when qemu is missing.
PROG=build/tests/progs/vm_migrate_pinned

. tests/vm_lib.sh
vm_need $PROG

vm_run_verified 2 $PROG
echo "$out" | grep -q "^vm_migrate_pinned: PASS" ||
	fail "the program did not report its checks done"
echo "PASS: a pinned page fails alone and the shadow stays true"
