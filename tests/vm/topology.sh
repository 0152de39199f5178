#!/bin/sh
# tests/vm/topology.sh - numashadow vm --memory-only and --distance (passed
# on to numashadow-vm, which checks them): a 3-node guest whose node 2
# has memory and no CPUs (as CXL memory appears) and distances 0-1:21
# (both ways), 0-2:30 and 2-0:32 (asymmetric), 1-2 not given (20).  In
# the guest, /sys must show node 2 with memory and an empty cpulist and
# exactly that distance matrix; then tests/progs/vm_topology.c,
# under `numashadow run --verify` with automatic NUMA balancing off, moves
# pages touched on node 0 to node 2 and on to node 1, checked page by page
# against move_pages(2), numashadow_page_node() and verify.  On the host,
# bad values are one line naming the option, status 2, before any boot.
# Run from the project root after `make check-tests`; fails when qemu is
# missing.
PROG=build/tests/progs/vm_topology
DIST=0-1:21,0-2:30,2-0:32

if [ "${1-}" = --guest ]; then
	s=/sys/devices/system/node
	check() {	# check NAME GOT WANT
		if [ "$2" = "$3" ]; then echo "case $1: PASS"
		else echo "case $1: FAIL: got '$2', want '$3'"; fi
	}
	check "online nodes" "$(cat $s/online)" 0-2
	check "has_cpu" "$(cat $s/has_cpu)" 0-1
	check "has_memory" "$(cat $s/has_memory)" 0-2
	for n in 0 1 2; do
		echo "node$n cpus=[$(cat $s/node$n/cpulist)]" \
		     "distance=[$(cat $s/node$n/distance)]" \
		     "$(awk '/MemTotal/ { print $4 $5 }' $s/node$n/meminfo)"
	done
	c0=$(cat $s/node0/cpulist) c1=$(cat $s/node1/cpulist)
	check "node 0 and 1 have CPUs" "$([ -n "$c0" ] && [ -n "$c1" ] && echo yes)" yes
	check "node 2 has no CPUs" "[$(cat $s/node2/cpulist)]" "[]"
	kb=$(awk '/MemTotal/ { print $4 }' $s/node2/meminfo)
	check "node 2 has memory" "$([ "${kb:-0}" -gt 102400 ] && echo yes)" yes
	check "distance row 0" "$(cat $s/node0/distance)" "10 21 30"
	check "distance row 1" "$(cat $s/node1/distance)" "21 10 20"
	check "distance row 2" "$(cat $s/node2/distance)" "32 20 10"
	f=/proc/sys/kernel/numa_balancing
	[ ! -e $f ] || echo 0 >$f || exit 125
	build/numashadow run --verify -- $PROG 2 && echo "case migration: PASS"
	exit 0
fi

. tests/vm_lib.sh
vm_need build/numashadow-vm $PROG

# Bad values: one line naming the option and the accepted form, status 2.
bad() {	# bad OPTION VALUE WANT...
	o=$1 v=$2
	shift 2
	msg=$(build/numashadow vm --nodes 3 "$o" "$v" -- /bin/true 2>&1)
	rc=$?
	[ $rc -eq 2 ] || fail "$o '$v': status $rc, expected 2 ($msg)"
	[ "$(echo "$msg" | wc -l)" -eq 1 ] || fail "$o '$v': not one line: $msg"
	for w in "$o" "$@"; do
		echo "$msg" | grep -qF -- "$w" || fail "$o '$v': '$msg' lacks '$w'"
	done
	echo "refused: $msg"
}
bad --memory-only 3 "N, N,M or N-M" "'3'"
bad --memory-only 0 "nodes 1 to 2"
bad --memory-only 1 "the last nodes" "as 2," "'1'"
bad --memory-only 1, "N-M"
bad --memory-only 2-1 "N-M"
bad --memory-only x "N-M"
bad --distance 0-1:10 "A-B:V" "11 to 254" "'0-1:10'"
bad --distance 0-1:255 "11 to 254"
bad --distance 0-3:20 "nodes below 3"
bad --distance 1-1:20 "A not B"
bad --distance 0-1 "A-B:V"
bad --distance 0-1:20,0-1:30 "0-1 given twice"
bad --nodes 9 "2 to 8"
build/numashadow-vm --help | grep -q -- "--memory-only NODES" ||
	fail "--help does not describe --memory-only"
build/numashadow-vm --help | grep -q -- "--distance A-B:V" ||
	fail "--help does not describe --distance"

out=$(build/numashadow vm --nodes 3 --memory-only 2 --distance $DIST \
	--file build/numashadow --file $PROG -- /bin/sh "$0" --guest 2>&1)
rc=$?
echo "$out"
vm_expect_cases "online nodes
has_cpu
has_memory
node 0 and 1 have CPUs
node 2 has no CPUs
node 2 has memory
distance row 0
distance row 1
distance row 2
migration"
echo "$out" | grep -q "^vm_topology: PASS (2048 pages, node 0 -> 2 (memory only) -> 1)" ||
	fail "the program did not report its checks done"
echo "PASS: node 2 memory-only, distances $DIST, pages moved 0 -> 2 -> 1"
