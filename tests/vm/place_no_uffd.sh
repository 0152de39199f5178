#!/bin/sh
# tests/vm/place_no_uffd.sh - without userfaultfd the runtime says so once
# and places pages by VMA policies (mbind) instead: the program runs as
# before and its pages land where the policy says.  In one boot of a
# 2-node guest, vm_place runs under `numashadow run --verify` inside
# vm_place_nouffd, whose seccomp filter makes userfaultfd(2) and
# /dev/userfaultfd's USERFAULTFD_IOC_NEW fail with ENOSYS, once per case:
# membind, preferred, interleave, localalloc, own-mbind and fork
# (tests/progs/vm_place.c says what each checks).  Each case must exit 0,
# and the runtime's only line on stderr must be the one starting
# "numashadow: userfaultfd unavailable", forks included.  Left out:
# weighted (the kernel's weighted interleave VMA policy is Linux 6.9's; the
# guest runs 6.1, where the runtime falls back to plain interleave), and
# thread-policy (a VMA policy outranks a thread's own set_mempolicy() in
# the kernel, so without the monitor numashadow's policy wins over it).
# The script runs itself in the guest with --guest, which prints "case
# NAME POLICY: PASS" or "... FAIL (why)" per case.  Run from the project
# root after `make check-tests`; fails when qemu is missing.
PROG=build/tests/progs/vm_place
WRAP=build/tests/progs/vm_place_nouffd
CASES="membind:membind=1
preferred:preferred=1
interleave:interleave=0-1
localalloc:localalloc
own-mbind:membind=1
fork:membind=1"

if [ "${1-}" = --guest ]; then
	f=/proc/sys/kernel/numa_balancing
	[ ! -e $f ] || echo 0 >$f || exit 125
	unset NUMASHADOW_POLICY NUMASHADOW_RULES NUMASHADOW_FAULT_AROUND
	bad=0
	for c in $CASES; do
		name=${c%%:*} pol=${c#*:}
		NUMASHADOW_POLICY=$pol $WRAP build/numashadow run --verify -- \
			$PROG "$name" >/tmp/out 2>/tmp/err
		rc=$?
		cat /tmp/out /tmp/err
		n=$(grep -c '^numashadow: userfaultfd unavailable' /tmp/err)
		m=$(grep -c '^numashadow:' /tmp/err)
		if [ $rc -ne 0 ]; then
			echo "case $name $pol: FAIL (exit $rc)"
			bad=$((bad + 1))
		elif [ "$n" -ne 1 ] || [ "$m" -ne 1 ]; then
			echo "case $name $pol: FAIL ($n 'userfaultfd unavailable' lines of $m from the runtime, want 1 of 1)"
			bad=$((bad + 1))
		else
			echo "case $name $pol: PASS"
		fi
	done
	[ $bad -eq 0 ]
	exit
fi

. tests/vm_lib.sh
vm_need $PROG $WRAP

vm_run_self $PROG $WRAP
vm_expect_cases "$(echo "$CASES" | sed 's/:/ /')"
echo "PASS: without userfaultfd, said once, pages placed by VMA policy"
