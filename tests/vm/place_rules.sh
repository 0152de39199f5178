#!/bin/sh
# tests/vm/place_rules.sh - NUMASHADOW_RULES place regions by size and by
# call site, first match first, NUMASHADOW_POLICY the rest, in one boot of
# a 2-node guest (tests/progs/vm_place_rules.c says what each case checks):
#   size   size>=8M:membind=1 over membind=0: 16 MiB and 8 MiB on node 1,
#          8 MiB - 4 KiB and 1 MiB on node 0;
#   site   site=vm_place_rules:alloc_here:membind=1 over membind=0: what
#          alloc_here() maps on node 1, what other functions map on node 0;
#   order  size<2M:membind=0 before the site rule, over interleave=0-1.
# The site rules need alloc_here in the program's dynamic symbol table
# (tests/progs linked with -rdynamic); the program says so when it is not.
# Each case must exit 0 and leave no "numashadow:" line on stderr.  The
# script runs itself in the guest with --guest, which prints "case NAME:
# PASS" or "case NAME: FAIL (why)" per case.  Run from the project root
# after `make check-tests`; fails when qemu is missing.
PROG=build/tests/progs/vm_place_rules
SITE=site=vm_place_rules:alloc_here:membind=1

if [ "${1-}" = --guest ]; then
	f=/proc/sys/kernel/numa_balancing
	[ ! -e $f ] || echo 0 >$f || exit 125
	unset NUMASHADOW_FAULT_AROUND
	bad=0
	run_case() {	# NAME POLICY RULES
		NUMASHADOW_POLICY=$2 NUMASHADOW_RULES=$3 \
			build/numashadow run --verify -- $PROG "$1" >/tmp/out 2>/tmp/err
		rc=$?
		cat /tmp/out /tmp/err
		n=$(grep -c '^numashadow:' /tmp/err)
		if [ $rc -ne 0 ]; then
			echo "case $1: FAIL (exit $rc)"
			bad=$((bad + 1))
		elif [ "$n" -ne 0 ]; then
			echo "case $1: FAIL (the runtime complained: $n lines)"
			bad=$((bad + 1))
		else
			echo "case $1: PASS"
		fi
	}
	run_case size membind=0 'size>=8M:membind=1'
	run_case site membind=0 "$SITE"
	run_case order interleave=0-1 "size<2M:membind=0;$SITE"
	[ $bad -eq 0 ]
	exit
fi

. tests/vm_lib.sh
vm_need $PROG

vm_run_self $PROG
vm_expect_cases "size
site
order"
echo "PASS: rules placed regions by size and by call site, first match first"
