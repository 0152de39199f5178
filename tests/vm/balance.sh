#!/bin/sh
# balance: in a 2-node guest, `numashadow run --balance` moves pages to the
# node of the thread that writes them and keeps them there in a steady
# phase (tests/progs/vm_balance.c); the runtime's report must show
# balancing moves.
PROG=build/tests/progs/vm_balance
. tests/vm_lib.sh
vm_need $PROG
out=$(build/numashadow vm --nodes 2 --file build/numashadow --file $PROG -- /bin/sh -c '
	echo 0 > /proc/sys/kernel/numa_balancing
	exec build/numashadow run --verify --report --balance=256 -- "$0"' $PROG 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
echo "$out" | grep -q "^vm_balance: PASS" || { echo "FAIL: no PASS line"; exit 1; }
moves=$(echo "$out" | sed -n 's/.*balance: [0-9]* samples, \([0-9]*\) moves.*/\1/p' | head -1)
[ -n "$moves" ] && [ "$moves" -gt 0 ] || { echo "FAIL: the report shows no balancing moves"; exit 1; }
echo "balance: $moves moves"
