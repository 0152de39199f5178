#!/bin/sh
# tests/vm/migrate_writer.sh - a buffer migrated back and forth between
# nodes 0 and 1 while a thread keeps writing every word loses no write and
# ends where the last migration put it, with the shadow in agreement
# (tests/progs/vm_migrate_writer.c says what is checked).  Runs in a 2-node
# guest with automatic NUMA balancing off.  Run from the project root after
# `make check-tests`; fails when qemu is missing.
PROG=build/tests/progs/vm_migrate_writer

. tests/vm_lib.sh
vm_need $PROG

vm_run_verified 2 $PROG
echo "$out" | grep -q "^vm_migrate_writer: PASS" ||
	fail "the program did not report its checks done"
echo "PASS: no write lost across migrations"
