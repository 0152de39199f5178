#!/bin/sh
# ctl_migrate: in a 2-node guest, `numashadow migrate --pid P --to 1`
# moves a running program's pages for real, and `numashadow stat --pid P`
# then shows them on node 1 with the migration counted; a range move and
# the way back to node 0 work too.  The program (the workload) keeps
# writing all along and must end with its checksum right.
PROG=build/tests/progs/workload
. tests/vm_lib.sh
vm_need $PROG
build/numashadow vm --nodes 2 --file build/numashadow --file $PROG -- /bin/sh -c '
	NS=build/numashadow
	echo 0 > /proc/sys/kernel/numa_balancing
	$NS run --ctl --verify -- "$0" 16 8 > /tmp/out 2>&1 &
	pid=$!
	i=0
	# Wait until the workload has first-touched its whole buffer.
	until $NS stat --pid $pid > /tmp/stat0 2>&1 &&
	      [ "$(sed -n "s/^node 0: \([0-9]*\) pages$/\1/p" /tmp/stat0)" -ge 4096 ]; do
		i=$((i + 1)); [ $i -lt 300 ] || { cat /tmp/stat0; echo "FAIL: the workload never filled its buffer"; exit 1; }
		sleep 0.1
	done
	$NS migrate --pid $pid --to 1 --sync || { echo "FAIL: migrate to 1"; exit 1; }
	$NS stat --pid $pid > /tmp/stat1 || { echo "FAIL: stat"; exit 1; }
	cat /tmp/stat1 | tail -4
	n1=$(sed -n "s/^node 1: \([0-9]*\) pages$/\1/p" /tmp/stat1)
	[ "${n1:-0}" -ge 4096 ] || { echo "FAIL: only ${n1:-0} pages on node 1"; exit 1; }
	grep -Eq "^migrations: calls [1-9][0-9]* moved [1-9]" /tmp/stat1 ||
		{ echo "FAIL: migration not counted"; exit 1; }
	# The buffer is the mapping with the most pages: move it back alone.
	range=$(grep " rw-p anon " /tmp/stat1 |
		sed -n "s/^\([^ ]*\) .*node1=\([0-9]*\).*/\2 \1/p" | sort -n | tail -1 | cut -d" " -f2)
	[ -n "$range" ] || { echo "FAIL: no anonymous mapping on node 1 in stat"; exit 1; }
	$NS migrate --pid $pid --to 0 --range "$range" --sync || { echo "FAIL: range move to 0"; exit 1; }
	$NS stat --pid $pid > /tmp/stat2
	grep -E "^node [01]:" /tmp/stat2
	n0=$(sed -n "s/^node 0: \([0-9]*\) pages$/\1/p" /tmp/stat2)
	[ "${n0:-0}" -ge 4096 ] || { echo "FAIL: range $range: only ${n0:-0} pages back on node 0"; exit 1; }
	wait $pid || { cat /tmp/out; echo "FAIL: the workload failed"; exit 1; }
	cat /tmp/out
	grep -q "checksum ok" /tmp/out || { echo "FAIL: checksum"; exit 1; }
	echo "ctl_migrate: PASS"' $PROG
