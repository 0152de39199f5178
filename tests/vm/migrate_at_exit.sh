#!/bin/sh
# tests/vm/migrate_at_exit.sh - a program that ends while its
# --migrate-after migration runs still gets the migration whole and its
# line.  `workload 32 T` first-touches 32 MiB on node 0 (well within the
# first second) and sweeps it for T seconds; with --migrate-after 1:1 the
# move (about 0.3-1.5 s in the guest) is mostly still under way when the
# workload ends, for T from 1.1 to 1.4.  The exit waits for it
# (docs/migration.md, "The timed policy and the exit report"): each run
# must print its migrate-after line, with at most LEFT_MAX pages left on
# node 0, before the exit report, whose pages by node must show node 1
# holding the buffer.  Before the exit waited, most runs here ended with
# pages half moved and no line.  Run from the project
# root after `make check-tests`; fails when qemu is missing.
PROG=build/tests/progs/workload
PAGES=8192	# the workload's 32 MiB in 4 KiB pages
# Pages that may be on node 0 after the move: busy at the time, the
# kernel's, and those the exit touches first while the move runs (the
# workload runs on CPU 0, so they come on node 0; 26 in one run).
LEFT_MAX=64

. tests/vm_lib.sh
vm_need $PROG

out=$(build/numashadow vm --nodes 2 --file build/numashadow --file $PROG -- \
	/bin/sh -c 'echo 0 > /proc/sys/kernel/numa_balancing
		for t in 1.1 1.2 1.3 1.4; do
			echo "== $t"
			build/numashadow run --report --migrate-after 1:1 \
				-- "$0" 32 $t 2>&1 || exit
		done' $PROG 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "exit status $rc"

for t in 1.1 1.2 1.3 1.4; do
	run=$(echo "$out" | sed -n "/^== $t\$/,/^== /p")
	echo "$run" | grep -q "^workload: 32 MiB, [0-9]* sweeps, checksum ok$" ||
		fail "$t s: no \"checksum ok\" from the workload"
	# The migrate-after line, then the exit report's pages by node.
	lines=$(echo "$run" | grep -E "migrate-after: pid [0-9]+ moved|report: pid [0-9]+ at exit: pages by node:")
	first=$(echo "$lines" | sed -n 1p)
	second=$(echo "$lines" | sed -n 2p)
	echo "$first" | grep -q "migrate-after: pid [0-9]* moved" ||
		fail "$t s: no migrate-after line before the exit report: $lines"
	left=$(echo "$first" | sed -n 's/.*; after: node 0: \([0-9]*\), node 1: [0-9]*$/\1/p')
	[ -n "$left" ] && [ "$left" -le $LEFT_MAX ] ||
		fail "$t s: migrate-after left ${left:-?} pages on node 0: $first"
	on1=$(echo "$second" | sed -n 's/.*pages by node: node 0: [0-9]*, node 1: \([0-9]*\)$/\1/p')
	[ -n "$on1" ] || fail "$t s: no exit report after the migrate-after line: $lines"
	[ "$on1" -ge $PAGES ] ||
		fail "$t s: node 1 holds $on1 pages at exit, fewer than the workload's $PAGES"
	echo "$t s: $(echo "$first" | sed 's/.*moved/moved/')"
done
echo "PASS: a program that ends during its timed migration waits for it and says it"
