#!/bin/sh
# report_latency: migration latency percentiles and failed pages by error,
# worked out by hand.  A trace made here (sites_trace in
# tests/report_lib.sh) has ten migrate calls taking 1 to 10 us, one whose
# move_pages itself failed, and pages that failed to move: 3 EACCES, 2
# EBUSY, 1 of an errno no class names.  The JSON report has 10 calls and
# 10 samples, p50 5000, p90 9000, p99 10000 and max 10000 ns, 6 pages
# failed (EACCES 3, EBUSY 2, other 1) in 1 failed call; the text report's
# failed and latency lines say the same.  Run from the project root.
. tests/report_lib.sh
sites_trace "$tmp/v.tr"

"$NS" report --format json "$tmp/v.tr" >"$tmp/v.json" 2>"$tmp/err" || fail "report of the sites trace: $(cat "$tmp/err")"
got=$(python3 -c '
import json, sys
j = json.load(sys.stdin)
l, f = j["latency_ns"], j["migrations"]["failed"]
print(l["calls"], l["samples"], l["p50"], l["p90"], l["p99"], l["max"], f)' <"$tmp/v.json" 2>&1)
want="10 10 5000 9000 10000 10000 {'pages': 6, 'by_error': {'EACCES': 3, 'EBUSY': 2, 'other': 1}, 'calls_failed': 1}"
[ "$got" = "$want" ] || fail "report of the sites trace: '$got', want '$want'"

"$NS" report "$tmp/v.tr" >"$tmp/v.txt" 2>"$tmp/err" || fail "report (text) of the sites trace: $(cat "$tmp/err")"
has_lines "report (text) of the sites trace" "$tmp/v.txt" \
	"  failed:     6 pages, by error: EACCES:3 EBUSY:2 other:1; move_pages itself failed in 1 calls" \
	"migration latency: 10 migrate calls, p50 5.0 us, p90 9.0 us, p99 10.0 us, max 10.0 us"

[ $fails -eq 0 ] && echo "report_latency: ok"
finish
