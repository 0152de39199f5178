#!/bin/sh
# tests/vm/migrate_basic.sh - numashadow_migrate() moves a process's private
# pages from node 0 to node 1 and back in a 2-node guest, and the kernel,
# numashadow_page_node() and verify mode agree after every step
# (tests/progs/vm_migrate_basic.c says what is checked).  Automatic NUMA
# balancing is switched off in the guest first, so only our migrations move
# pages.  Run from the project root after `make check-tests`; fails when
# qemu is missing.
NODES=${NODES:-2} TARGET=${TARGET:-1}	# migrate_basic_4node.sh: 4 and 3
PROG=build/tests/progs/vm_migrate_basic

. tests/vm_lib.sh
vm_need $PROG

vm_run_verified $NODES $PROG $TARGET
echo "$out" | grep -q "^vm_migrate_basic: PASS (2048 pages, node 0 <-> $TARGET)" ||
	fail "the program did not report its checks done"
echo "PASS: pages moved 0 -> $TARGET -> 0 in a $NODES-node guest"
