#!/bin/sh
# tests/vm/place_fork.sh - placement goes on in children after fork: with
# NUMASHADOW_POLICY=membind=1, a region the child maps after the fork, and
# a region mapped before the fork but first touched after it (by the child,
# the parent and a grandchild alike), land on node 1; writes after the fork
# in parent and child keep their contents, and numashadow_verify() finds
# nothing in any of the processes (`vm_place fork`; tests/progs/vm_place.c
# says what is checked); the runtime prints no "numashadow:" line.  Runs
# in a 2-node guest under `numashadow run --verify`.  Run from the project
# root after `make check-tests`; fails when qemu is missing.
PROG=build/tests/progs/vm_place

. tests/vm_lib.sh
vm_need $PROG

unset NUMASHADOW_RULES NUMASHADOW_FAULT_AROUND
export NUMASHADOW_POLICY=membind=1
vm_run_verified 2 $PROG fork
echo "$out" | grep -q "^vm_place fork: PASS" ||
	fail "the program did not report its checks done"
# A monitor that gave up placing says so, and its pages may land right by
# chance.
! echo "$out" | grep -q "^numashadow:" || fail "the runtime complained"
echo "PASS: first touches after fork placed by policy in parent, child and grandchild"
