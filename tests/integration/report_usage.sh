#!/bin/sh
# report_usage: `numashadow report` given a command line it cannot follow
# says why in one line naming the option (a --format not text, json or
# html, or none; -o without a file; no trace file; an unknown option),
# status 2, nothing on stdout.  `report --help` names --format.  Run from
# the project root.
. tests/report_lib.sh
made_trace "$tmp/k.tr"	# a trace it could read: only the options are wrong

# LABEL|PATTERN its one line matches|arguments of numashadow
rows=0
while IFS='|' read -r label pat args; do
	expect_fail 2 "$label" "$pat" "$NS" $args
	rows=$((rows + 1))
done <<TABLE
report --format xml|--format: expected text, json or html, got 'xml'|report --format xml $tmp/k.tr
report --format|--format: expected text, json or html|report $tmp/k.tr --format
report -o|-o: expected an output file name|report $tmp/k.tr -o
report, no file|no trace file given|report
report --bogus|unknown option '--bogus'|report --bogus $tmp/k.tr
TABLE
[ $rows -eq 5 ] || fail "ran $rows of the 5 usage errors"

"$NS" report --help >"$tmp/o" 2>&1 || fail "report --help: exit $?"
grep -q -- "--format" "$tmp/o" || fail "report --help: no --format: $(cat "$tmp/o")"

[ $fails -eq 0 ] && echo "report_usage: ok"
finish
