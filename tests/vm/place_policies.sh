#!/bin/sh
# tests/vm/place_policies.sh - first touches land where NUMASHADOW_POLICY
# says, for each policy, in one boot of a 2-node guest: interleave=0-1
# (page by page, by vpn % 2), weighted-interleave=0:3,1:1 (vpn % 4 < 3 on
# node 0, totals 3:1), membind=1, preferred=1 (all on node 1), localalloc
# (two threads pinned to CPUs of nodes 0 and 1, each page on its writer's
# node, written together and in turns), and under membind=1 the program's own mbind() and a thread's own
# set_mempolicy() (raw syscall and libnuma), a policy a thread inherits
# from its creator and one kept across exec winning over numashadow's
# policy, and a process under nothing but a policy waiting for a region
# the monitor places (dormant).  tests/progs/vm_place.c says what each case
# checks; every case but dormant runs under `numashadow run --verify`, each
# must exit 0 and must leave no
# "numashadow:" line on stderr (a monitor that gave up placing says so
# there, and its pages may still land right by chance).  The script runs
# itself in the guest with --guest, which prints "case NAME POLICY: PASS"
# or "... FAIL (why)" per case.  Run from the project root after `make check-tests`;
# fails when qemu is missing.
PROG=build/tests/progs/vm_place
CASES="interleave:interleave=0-1
small:interleave=0-1
weighted:weighted-interleave=0:3,1:1
membind:membind=1
preferred:preferred=1
localalloc:localalloc
localalloc-turns:localalloc
own-mbind:membind=1
thread-policy:membind=1
exec-policy:membind=1
dormant:interleave=0-1"

if [ "${1-}" = --guest ]; then
	f=/proc/sys/kernel/numa_balancing
	[ ! -e $f ] || echo 0 >$f || exit 125
	# Only the policy each case names may apply.
	unset NUMASHADOW_POLICY NUMASHADOW_RULES NUMASHADOW_FAULT_AROUND
	bad=0
	for c in $CASES; do
		name=${c%%:*} pol=${c#*:}
		# dormant: nothing but the policy, so the runtime waits.
		verify=--verify
		[ "$name" != dormant ] || verify=
		NUMASHADOW_POLICY=$pol build/numashadow run $verify -- $PROG "$name" \
			>/tmp/out 2>/tmp/err
		rc=$?
		cat /tmp/out /tmp/err
		n=$(grep -c '^numashadow:' /tmp/err)
		if [ $rc -ne 0 ]; then
			echo "case $name $pol: FAIL (exit $rc)"
			bad=$((bad + 1))
		elif [ "$n" -ne 0 ]; then
			echo "case $name $pol: FAIL (the runtime complained: $n lines)"
			bad=$((bad + 1))
		else
			echo "case $name $pol: PASS"
		fi
	done
	[ $bad -eq 0 ]
	exit
fi

. tests/vm_lib.sh
vm_need $PROG

vm_run_self $PROG
vm_expect_cases "$(echo "$CASES" | sed 's/:/ /')"
echo "PASS: every policy placed every page where it says"
