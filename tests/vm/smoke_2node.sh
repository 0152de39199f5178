#!/bin/sh
# tests/vm/smoke_2node.sh - `numashadow vm --nodes 2` boots a guest whose
# kernel sees exactly two NUMA nodes, each with memory and a CPU; arguments
# reach the command unchanged; the command's exit status (3 here) comes back
# to the host.  The script runs itself in the guest with --guest.
# Run from the project root after `make`; fails when qemu is missing.
# NODES (default 2) sets the node count; smoke_4node.sh sets it to 4.
NODES=${NODES:-2}

if [ "${1-}" = --guest ]; then
	n=0
	for d in /sys/devices/system/node/node[0-9]*; do
		[ -d "$d" ] || continue
		n=$((n + 1))
		echo "node ${d##*/node} cpus=$(cat "$d/cpulist")" \
		     "memkb=$(awk '/MemTotal/ { print $4 }' "$d/meminfo")"
	done
	echo "nodes=$n"
	echo "arg=[$2]"
	exit 3
fi

. tests/vm_lib.sh
vm_need

out=$(build/numashadow vm --nodes $NODES -- /bin/sh "$0" --guest "a b'c")
rc=$?
echo "$out"
[ $rc -eq 3 ] || fail "exit status $rc, expected the guest command's 3"
echo "$out" | grep -qx "nodes=$NODES" || fail "guest does not see $NODES nodes"
i=0
while [ $i -lt $NODES ]; do
	echo "$out" | grep -Eqx "node $i cpus=[0-9][-0-9,]* memkb=[1-9][0-9]*" ||
		fail "node $i lacks a CPU or memory"
	i=$((i + 1))
done
echo "$out" | grep -qxF "arg=[a b'c]" || fail "argument changed on its way"
echo "PASS: $NODES nodes, status 3 propagated"
