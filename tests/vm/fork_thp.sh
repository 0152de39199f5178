#!/bin/sh
# tests/vm/fork_thp.sh - after fork, a write by the parent to one 4 KiB page
# of a transparent huge page leaves the reverse map and verify true in both
# processes (tests/progs/vm_fork_thp.c says what is checked).  It runs in
# the guest because the Debian guest kernel (6.1, root) forms huge pages and
# lets the program read /proc/kpageflags.  Run from the project root after
# `make check-tests`; fails when qemu is missing.
PROG=build/tests/progs/vm_fork_thp

. tests/vm_lib.sh
vm_need $PROG

vm_run_verified 2 $PROG
echo "$out" | grep -q "^vm_fork_thp: PASS" ||
	fail "the program did not report its checks done"
echo "PASS: a huge page split by a write after fork stays true in the shadow"
