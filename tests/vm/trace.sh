#!/bin/sh
# tests/vm/trace.sh - the trace tells what the kernel saw, in a 2-node guest.
# build/tests/progs/vm_trace runs under `numashadow run --verify --trace
# --interleave=0-1`: it first touches a 64-page region, asks move_pages
# where each page went, moves the region to node 1 with numashadow_migrate()
# and checks with move_pages that every page is there.  Then, from
# `numashadow trace --csv` of that run: the FAULT records inside the region
# add up, node by node, to exactly the pages the kernel put on each node
# (32 and 32: interleaving alternates), and one MIGRATE record covers the
# region, names node 1 and counts the pages the call moved.  Run from the
# project root after `make check-tests`; fails when qemu is missing.
PROG=build/tests/progs/vm_trace

. tests/vm_lib.sh
vm_need $PROG

out=$(build/numashadow vm --nodes 2 --file build/numashadow --file $PROG -- \
	/bin/sh -c 'f=/proc/sys/kernel/numa_balancing
		[ ! -e $f ] || echo 0 >$f || exit 125
		build/numashadow run --verify --trace /tmp/t.tr --interleave=0-1 -- "$0" || exit $?
		echo "-- csv"
		build/numashadow trace --csv /tmp/t.tr' $PROG 2>&1)
rc=$?
[ $rc -eq 0 ] || { echo "$out"; fail "exit status $rc"; }
echo "$out" | grep -v "^[0-9]*,"	# all but the CSV rows

set -- $(echo "$out" | grep "^placed ")
[ $# -eq 6 ] || fail "no 'placed' line"
pid=$2 addr=$3 len=$4 n0=$5 n1=$6
[ "$n0" -eq 32 ] && [ "$n1" -eq 32 ] || fail "interleave=0-1 put $n0 and $n1 pages on nodes 0 and 1"
set -- $(echo "$out" | grep "^moved ")
[ $# -eq 6 ] || fail "no 'moved' line"
moved=$6

lo=$((addr)) hi=$((addr + len))
f0=0 f1=0 mig=0
rows=$(echo "$out" | sed -n '/^-- csv$/,$p' | grep "^[0-9]*,$pid,")
[ -n "$rows" ] || fail "no records of pid $pid in the trace"
for r in $rows; do
	IFS=, read -r t p tid type a l node aux <<-EOF
	$r
	EOF
	case $type in
	fault)
		[ $((a)) -ge $lo ] && [ $((a + l)) -le $hi ] || continue
		[ "$node" = 0 ] && f0=$((f0 + l / 4096))
		[ "$node" = 1 ] && f1=$((f1 + l / 4096))
		[ "$node" = 0 ] || [ "$node" = 1 ] || fail "a fill in the region on node $node: $r"
		;;
	migrate)
		[ $((a)) -eq $lo ] && [ "$l" = "$len" ] || continue
		[ "$node" = 1 ] || fail "the region's MIGRATE record names node $node: $r"
		[ "$aux" = "$moved" ] || fail "the MIGRATE record counts $aux pages moved; the call moved $moved: $r"
		mig=$((mig + 1))
		;;
	esac
done
[ $f0 -eq $n0 ] && [ $f1 -eq $n1 ] ||
	fail "FAULT records place $f0 and $f1 pages on nodes 0 and 1; the kernel has $n0 and $n1"
[ $mig -eq 1 ] || fail "$mig MIGRATE records of the region, want 1"
echo "PASS: trace: fills $f0/$f1 by node as the kernel placed them, one migration of $moved pages to node 1"
