#!/bin/sh
# tests/vm/migrate_basic_4node.sh - numashadow_migrate() moves a process's
# private pages from node 0 to node 3 and back in a 4-node guest, and the
# kernel, numashadow_page_node() and verify mode agree after every step
# (tests/progs/vm_migrate_basic.c says what is checked): a smoke run of
# migrate_basic.sh on the other topology.  Automatic NUMA balancing is
# switched off in the guest first, so only our migrations move pages.  Run
# from the project root after `make check-tests`; skips only when qemu is
# missing.
NODES=4 TARGET=3
PROG=build/tests/progs/vm_migrate_basic

. tests/vm_lib.sh
vm_need $PROG

# The guest runs the command with the same paths; the files it needs are
# named with --file because a sh -c script is not searched for them.
out=$(build/numashadow vm --nodes $NODES --file build/numashadow --file $PROG -- \
	/bin/sh -c 'f=/proc/sys/kernel/numa_balancing
		[ ! -e $f ] || echo 0 >$f || exit 125
		exec build/numashadow run --verify -- "$0" "$1"' $PROG $TARGET 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "exit status $rc"
echo "$out" | grep -q "^vm_migrate_basic: PASS (2048 pages, node 0 <-> $TARGET)" ||
	fail "the program did not report its checks done"
echo "PASS: pages moved 0 -> $TARGET -> 0 in a $NODES-node guest"
