#!/bin/sh
# report_output: `numashadow report -o OUT` writes the report to OUT, not
# stdout: the text report of a real run (build/tests/progs/trace_prog)
# as on stdout, mode 0666 less the umask (640 under umask 027); over an
# old, longer file, the JSON report exactly (the old file emptied first).
# OUT a symbolic link or a FIFO is refused in one line, status 1, the
# link's target untouched; a trace that is refused leaves OUT as it was.
# Run from the project root.
. tests/report_lib.sh
traced_run
"$NS" report --format json "$tmp/t.tr" >"$tmp/json" 2>"$tmp/err" ||
	fail "report --format json: $(cat "$tmp/err")"

# The text as on stdout, mode 0666 less the umask; an old file emptied.
(umask 027 && "$NS" report -o "$tmp/r.txt" "$tmp/t.tr") >"$tmp/o" 2>"$tmp/err" ||
	fail "report -o: exit $?: $(cat "$tmp/err")"
[ -s "$tmp/o" ] && fail "report -o: wrote to stdout"
cmp -s "$tmp/r.txt" "$tmp/txt" || fail "report -o: not the text report"
[ "$(stat -c %a "$tmp/r.txt")" = 640 ] || fail "report -o: mode $(stat -c %a "$tmp/r.txt"), want 640"
head -c 100000 /dev/zero >"$tmp/r.json"
"$NS" report --format=json -o "$tmp/r.json" "$tmp/t.tr" 2>"$tmp/err" || fail "report -o over a file: $(cat "$tmp/err")"
cmp -s "$tmp/r.json" "$tmp/json" || fail "report -o over a file: not the JSON report"

# Refused: OUT not a regular file, or the trace; OUT left as it was.
ln -s "$tmp/r.json" "$tmp/link"
expect_fail 1 "report -o LINK" "^numashadow: report: -o $tmp/link: not a regular file" \
	"$NS" report -o "$tmp/link" "$tmp/t.tr"
cmp -s "$tmp/r.json" "$tmp/json" || fail "report -o LINK: the link's target changed"
mkfifo "$tmp/fifo"
expect_fail 1 "report -o FIFO" "^numashadow: report: -o $tmp/fifo: not a regular file" \
	"$NS" report -o "$tmp/fifo" "$tmp/t.tr"
head -c 4096 /dev/urandom >"$tmp/garbage"
expect_fail 1 "report -o, a garbage trace" "not a numashadow trace" \
	"$NS" report -o "$tmp/r.json" "$tmp/garbage"
cmp -s "$tmp/r.json" "$tmp/json" || fail "report -o of a refused trace: OUT changed"

[ $fails -eq 0 ] && echo "report_output: ok"
finish
