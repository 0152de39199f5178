#!/bin/sh
# tests/vm/demo.sh - the demo, in one 2-node guest, twice:
#   env      NUMASHADOW_MIGRATE_AFTER=0.5:1 NUMASHADOW_REPORT=1 set on the
#            host (they reach the guest), `numashadow run --verify --
#            workload 16 8` (8 s: on a loaded host the guest's move of
#            16 MiB took 2.4 s, and the move is meant to happen while the
#            workload sweeps; one that ends first waits for it:
#            migrate_at_exit.sh);
#   options  the README's `numashadow run --verify --report --migrate-after
#            0.5:1 -- workload 32 4` (what `make demo` runs).
# Half a second in, every page of the workload moves to node 1 while it
# keeps sweeping its buffer.  Each run must exit 0 (verify included) and
# print "checksum ok"; its migrate-after line must report pages moved to
# node 1 with at most LEFT_MAX left on node 0; its exit report must show
# node 1 holding at least the workload's buffer.  Automatic NUMA balancing
# is switched off in the guest first.  Run from the project root after
# `make check-tests`; fails when qemu is missing.
PROG=build/tests/progs/workload
LEFT_MAX=16	# pages that may stay on node 0 (busy at the time, the kernel's)

. tests/vm_lib.sh
vm_need $PROG

# The files the guest needs are named with --file: a sh -c script is not
# searched for them.  Each run's output follows a "== NAME" line.
out=$(NUMASHADOW_MIGRATE_AFTER=0.5:1 NUMASHADOW_REPORT=1 \
	build/numashadow vm --nodes 2 --file build/numashadow --file $PROG -- \
	/bin/sh -c 'echo 0 > /proc/sys/kernel/numa_balancing
		echo "== env"
		build/numashadow run --verify -- "$0" 16 8 || exit
		unset NUMASHADOW_MIGRATE_AFTER NUMASHADOW_REPORT
		echo "== options"
		exec build/numashadow run --verify --report --migrate-after 0.5:1 \
			-- "$0" 32 4' $PROG 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "exit status $rc"

# check NAME MIB: the assertions on one run's output.
check() {
	run=$(echo "$out" | sed -n "/^== $1\$/,/^== /p")
	pages=$(($2 * 256))	# the workload's buffer in 4 KiB pages
	echo "$run" | grep -q "^workload: $2 MiB, [0-9]* sweeps, checksum ok$" ||
		fail "$1: no \"checksum ok\" from the workload"
	# numashadow: migrate-after: pid P moved N pages to node 1 in T ms;
	#   before: node 0: A, node 1: B; after: node 0: C, node 1: D
	line=$(echo "$run" | grep -m1 "migrate-after: pid [0-9]* moved")
	[ -n "$line" ] || fail "$1: no migrate-after line"
	moved=$(echo "$line" | sed -n 's/.* moved \([0-9]*\) pages to node 1 .*/\1/p')
	left=$(echo "$line" | sed -n 's/.*; after: node 0: \([0-9]*\), node 1: [0-9]*$/\1/p')
	[ -n "$moved" ] && [ -n "$left" ] || fail "$1: migrate-after line not understood: $line"
	[ "$moved" -gt 0 ] || fail "$1: migrate-after moved no page"
	[ "$left" -le $LEFT_MAX ] || fail "$1: migrate-after left $left pages on node 0"
	# numashadow: report: pid P at exit: pages by node: node 0: X, node 1: Y
	line=$(echo "$run" | grep -m1 "report: pid [0-9]* at exit: pages by node:")
	[ -n "$line" ] || fail "$1: no exit report"
	on1=$(echo "$line" | sed -n 's/.*pages by node: node 0: [0-9]*, node 1: \([0-9]*\)$/\1/p')
	[ -n "$on1" ] || fail "$1: exit report not understood: $line"
	[ "$on1" -ge $pages ] ||
		fail "$1: node 1 holds $on1 pages at exit, fewer than the workload's $pages"
	echo "$1: $moved pages moved to node 1, $left left on node 0, $on1 on node 1 at exit"
}
check env 16
check options 32
echo "PASS: the demo, by environment and by options"
