#!/bin/sh
# report_refused: a file that is not a trace this numashadow reads is
# refused in one line, status 1, nothing on stdout: garbage, a file cut
# inside its header, a record of no known type, format version 1 (before
# call sites; by `trace` too), a FIFO (which would never end), a file
# that does not exist.  A trace whose last record is cut gives one line
# saying so, status 1, and the same report as the whole trace.  Run from
# the project root.
. tests/report_lib.sh
made_trace "$tmp/k.tr"

head -c 4096 /dev/urandom >"$tmp/garbage"
# The first 10 bytes of any trace of this format: its magic and half its
# version.
head -c 10 "$tmp/k.tr" >"$tmp/cut"
cp "$tmp/k.tr" "$tmp/bad.tr"
printf '\377\377' | dd of="$tmp/bad.tr" bs=1 seek=$((16 + 48 * 3 + 40)) conv=notrunc 2>/dev/null
printf 'NSTRACE\0\1\0\0\0\60\0\0\0' >"$tmp/v1.tr"
tail -c +17 "$tmp/k.tr" >>"$tmp/v1.tr"
mkfifo "$tmp/fifo"

# LABEL|PATTERN its one line matches|arguments of numashadow
rows=0
while IFS='|' read -r label pat args; do
	expect_fail 1 "$label" "$pat" "$NS" $args
	rows=$((rows + 1))
done <<TABLE
report of garbage|^numashadow: report: $tmp/garbage: not a numashadow trace|report $tmp/garbage
report of a cut header|^numashadow: report: $tmp/cut: |report $tmp/cut
report of a corrupted record|record 4 .*not a record type|report --format json $tmp/bad.tr
report of version 1|^numashadow: report: $tmp/v1.tr: trace format version 1; this numashadow reads 2|report --format html $tmp/v1.tr
trace of version 1|^numashadow: trace: $tmp/v1.tr: trace format version 1; this numashadow reads 2|trace --summary $tmp/v1.tr
report of a FIFO|not a regular file|report $tmp/fifo
report of no file|^numashadow: report: $tmp/none: |report $tmp/none
TABLE
[ $rows -eq 7 ] || fail "ran $rows of the 7 refusals"

# A truncated last record: one line, the same report, status 1.
"$NS" report --format json "$tmp/k.tr" >"$tmp/k.json" 2>"$tmp/err" ||
	fail "report of the made trace: $(cat "$tmp/err")"
cp "$tmp/k.tr" "$tmp/part.tr"
head -c 20 "$tmp/k.tr" | tail -c 4 >>"$tmp/part.tr"
"$NS" report --format json "$tmp/part.tr" >"$tmp/o" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "report of a cut record: exit $rc, want 1"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "^numashadow: report: .*truncated" "$tmp/err" ||
	fail "report of a cut record: not one line: $(cat "$tmp/err")"
sed 's/part\.tr/k.tr/' "$tmp/o" | cmp -s - "$tmp/k.json" || fail "report of a cut record: not the same report"

[ $fails -eq 0 ] && echo "report_refused: ok"
finish
