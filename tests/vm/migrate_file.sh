#!/bin/sh
# tests/vm/migrate_file.sh - page-cache pages of a file in /tmp mapped
# MAP_SHARED by a parent and its child (three mappings) move to node 1 for
# both, and each process's shadow and verify agree with the kernel
# (tests/progs/vm_migrate_file.c says what is checked).  Runs as root in a
# 2-node guest with automatic NUMA balancing off.  Run from the project
# root after `make check-tests`; fails when qemu is missing.
PROG=build/tests/progs/vm_migrate_file

. tests/vm_lib.sh
vm_need $PROG

vm_run_verified 2 $PROG
echo "$out" | grep -q "^vm_migrate_file: PASS" ||
	fail "the program did not report its checks done"
echo "PASS: shared file pages moved for both processes"
