#!/bin/sh
# tests/run.sh - run tests, each with a time limit, and print one summary line.
#
# Usage: tests/run.sh [-t SECONDS] TEST...
# A TEST is an executable; it exits 0 (pass), 77 (skip) or anything else
# (fail).  A skipping test prints its reason on a line starting "SKIP:".
# Output of each test goes to build/test-logs/NAME.log; failures show its tail.
# The last line is "N passed, N failed, N skipped".
limit=${NS_TEST_TIMEOUT:-300}
if [ "$1" = "-t" ]; then limit=$2; shift 2; fi
logdir=${NS_TEST_LOGS:-build/test-logs}
mkdir -p "$logdir"
pass=0 fail=0 skip=0 failed="" skipped="" timedout=""
for t in "$@"; do
	name=$(echo "$t" | sed 's|^build/tests/||; s|^tests/||; s|/|-|g')
	log="$logdir/$name.log"
	timeout -k 10 "$limit" "$t" >"$log" 2>&1 </dev/null
	rc=$?
	case $rc in
	0)	pass=$((pass + 1)); echo "PASS $name" ;;
	77)	skip=$((skip + 1))
		why=$(grep -m1 '^SKIP:' "$log" | sed 's/^SKIP: *//')
		skipped="$skipped $name"
		echo "SKIP $name: ${why:-no reason given}" ;;
	124|137) fail=$((fail + 1)); timedout="$timedout $name"
		echo "FAIL $name: timed out after ${limit}s (log: $log)"
		tail -n 20 "$log" | sed 's/^/    /' ;;
	*)	fail=$((fail + 1)); failed="$failed $name"
		echo "FAIL $name: exit $rc (log: $log)"
		tail -n 20 "$log" | sed 's/^/    /' ;;
	esac
done
[ -n "$failed" ] && echo "failed:$failed"
[ -n "$timedout" ] && echo "timed out:$timedout"
[ -n "$skipped" ] && echo "skipped:$skipped"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
