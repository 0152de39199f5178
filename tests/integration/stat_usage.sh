#!/bin/sh
# stat_usage: options of `numashadow stat` that do not go together, or a
# value out of range, are a usage error: one line naming the option,
# status 2, nothing on stdout (--count without --interval, an --interval
# of 0 or not a number, a --count of 0, --all with --pid or --interval,
# neither --pid nor --all).  The pid is this shell's, a live process
# with no socket: an answer could only be an error of status 1.  Run from
# the project root.
. tests/int_lib.sh
need

# PATTERN its one line matches|arguments of numashadow
rows=0
while IFS='|' read -r pat args; do
	expect_fail 2 "$args" "$pat" "$NS" $args
	rows=$((rows + 1))
done <<TABLE
--count needs --interval|stat --pid $$ --count 3
--interval: expected seconds .*, got '0'|stat --pid $$ --interval 0
--interval: expected seconds .*, got 'x'|stat --pid $$ --interval x
--count: expected a number of lines from 1, got '0'|stat --pid $$ --interval 1 --count 0
--all and --pid exclude each other|stat --all --pid $$
--all takes no --interval|stat --all --interval 1
--pid (or --all) is required|stat
TABLE
[ $rows -eq 7 ] || fail "ran $rows of the 7 usage errors"

[ "$fails" -eq 0 ] && echo "stat_usage: ok"
finish
